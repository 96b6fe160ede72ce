# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter container_paths: Docker host paths as nginx names them inside its container (logic in
plugin_utils.container)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.container import container_paths as _container_paths
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: container_paths
short_description: Docker host paths as nginx names them inside its container
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - A path under the container's C(config_dir) becomes the same path under its C(mount); other paths are returned
    unchanged, and so is every path when the container is empty (nginx on the host).
positional: _input, container
options:
  _input:
    description: Absolute paths on the Docker host.
    type: list
    elements: str
    required: true
  container:
    description: The result of P(wsproxy.nginx.container_mode#filter).
    type: dict
    required: true
"""

EXAMPLES = r"""
# ['/etc/nginx/conf.d/websocket_proxy_map.conf']
paths: "{{ ['/srv/calls/conf.d/websocket_proxy_map.conf'] | wsproxy.nginx.container_paths(container) }}"
"""

RETURN = r"""
_value:
  description: The paths, in the same order.
  type: list
  elements: str
"""


@filter_errors
def container_paths(value, container):
    if not isinstance(value, list) or not isinstance(container, dict):
        raise AnsibleFilterError(f"container_paths: the input must be a list of paths, container a dict; got {value!r}")
    return _container_paths(value, container)


class FilterModule:
    def filters(self):
        return {"container_paths": container_paths}
