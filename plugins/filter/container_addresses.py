# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter container_addresses: backend names as the nginx container resolves them (logic in plugin_utils.container)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.container import container_addresses as _addresses
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: container_addresses
short_description: The address of each backend name inside the nginx container (none where it does not resolve)
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Reads what the role's resolve command printed inside the nginx container (C(getent hosts), one line per name,
    the name and its first address or C(-)) and returns a dict from each name asked for to its address.
  - A name the container cannot resolve, or one the output leaves out, maps to C(none).
positional: _input, hosts
options:
  _input:
    description: The stdout of the resolve command.
    type: str
    required: true
  hosts:
    description: The names asked for.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
# {v25-dash-calls-backend: 172.18.0.3, gone-backend: null}
addresses: "{{ resolved.stdout | wsproxy.nginx.container_addresses(['v25-dash-calls-backend', 'gone-backend']) }}"
"""

RETURN = r"""
_value:
  description: The address of each name inside the container, C(none) where it does not resolve.
  type: dict
"""


@filter_errors
def container_addresses(value, hosts):
    if isinstance(hosts, (str, bytes, dict)) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError(f"container_addresses: hosts must be a list of names, got {hosts!r}")
    return _addresses(value, list(hosts))


class FilterModule:
    def filters(self):
        return {"container_addresses": container_addresses}
