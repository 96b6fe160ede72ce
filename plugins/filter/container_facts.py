# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter container_facts: what the role reads of the nginx container (logic in plugin_utils.container)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.container import container_facts as _container_facts
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: container_facts
short_description: What the role reads of the nginx container and cannot change (networks, CPUs, open files)
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Reads the stdout of C(docker inspect <container>) and of C(sh -c 'nproc; ulimit -Hn') run inside the container.
  - Fails, naming I(websocket_proxy_container.name), when there is no such container.
positional: _input, probe, container
options:
  _input:
    description: The stdout of C(docker inspect <container>) (empty when there is none).
    type: str
    required: true
  probe:
    description: The stdout of C(sh -c 'nproc; ulimit -Hn') inside the container.
    type: str
    required: true
  container:
    description: The result of P(wsproxy.nginx.container_mode#filter).
    type: dict
    required: true
"""

EXAMPLES = r"""
# {running: true, status: running, networks: [calls_default], cpus: 2, nofile: 1048576, hint: '...'}
facts: "{{ inspect.stdout | wsproxy.nginx.container_facts(probe.stdout, container) }}"
"""

RETURN = r"""
_value:
  description: The container's facts.
  type: dict
  contains:
    running: {description: Whether it runs., type: bool}
    mounted: {description: "The host folder it mounts at C(mount), empty when none.", type: str}
    status: {description: "Docker's word for its state (running, exited, ...).", type: str}
    networks: {description: The networks it is on., type: list, elements: str}
    cpus: {description: "The CPUs nginx may use (nproc, bounded by a CPU quota); none when unread.", type: int}
    nofile: {description: The open-file hard limit nginx starts with; none when unread., type: int}
    hint: {description: The Compose settings that raise them., type: str}
"""


@filter_errors
def container_facts(value, probe, container):
    if not isinstance(container, dict):
        raise AnsibleFilterError(f"container_facts: container must be the result of container_mode, got {container!r}")
    return _container_facts(value, probe, container)


class FilterModule:
    def filters(self):
        return {"container_facts": container_facts}
