# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter container_mode: websocket_proxy_container checked and completed (logic in plugin_utils.container)."""

from __future__ import annotations

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.container import container_mode as _container_mode
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: container_mode
short_description: The container-mode settings (nginx in a Docker container), checked and completed
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Checks I(websocket_proxy_container) (C({name, config_dir, mount})) and returns what the role's container layout
    reads. An empty value returns an empty dict (nginx runs on the host).
  - C(config_dir) is the folder on the Docker host that the container mounts at C(mount) (C(/etc/nginx/conf.d), or
    C(/etc/nginx) when the role may own C(nginx.conf)).
positional: _input, name
options:
  _input:
    description: The value of I(websocket_proxy_container).
    type: dict
    required: true
  name:
    description: The variable path named in error messages.
    type: str
    default: websocket_proxy_container
"""

EXAMPLES = r"""
# {name: calls-nginx, config_dir: /srv/calls/nginx/conf.d, mount: /etc/nginx/conf.d,
#  exec: [docker, exec, calls-nginx], conf_d: /srv/calls/nginx/conf.d, nginx_conf: '', ...}
container: "{{ {'name': 'calls-nginx', 'config_dir': '/srv/calls/nginx/conf.d'} | wsproxy.nginx.container_mode }}"
"""

RETURN = r"""
_value:
  description: Empty without a container; else the checked settings and the paths of the container layout.
  type: dict
  contains:
    name: {description: The container's name., type: str}
    config_dir: {description: The folder on the Docker host., type: str}
    mount: {description: Where the container mounts it., type: str}
    exec: {description: "The command prefix that runs a command inside the container (C(docker exec <name>)).",
           type: list, elements: str}
    conf_d: {description: The Docker host path of the container's conf.d., type: str}
    snippet_dir: {description: The Docker host path of the role's snippets., type: str}
    snippet_include: {description: The snippets folder as an include names it inside the container., type: str}
    nginx_conf: {description: "The Docker host path of nginx.conf, empty when only conf.d is mounted.", type: str}
    http_includes: {description: What nginx.conf includes in the http context., type: list, elements: str}
    state_dir: {description: The role's manifest folder for this container on the Docker host., type: str}
    resolver: {description: "Docker's embedded DNS (C(127.0.0.11)), the default resolver in this mode.",
               type: list, elements: str}
"""


@filter_errors
def container_mode(value, name="websocket_proxy_container"):
    return _container_mode(value, name)


class FilterModule:
    def filters(self):
        return {"container_mode": container_mode}
