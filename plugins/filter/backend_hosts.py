# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter backend_hosts: the backend names nginx must resolve (logic in plugin_utils.container)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.container import backend_hosts as _backend_hosts
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: backend_hosts
short_description: Every backend DNS name the normalised vhosts and snippets proxy to
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Reads the output of P(wsproxy.nginx.websocket_vhosts#filter) (and of P(wsproxy.nginx.websocket_snippets#filter))
    and returns each backend host name once, with the variable path of the first location that names it.
  - IP addresses and UNIX sockets are left out (nothing to resolve).
positional: _input, snippets
options:
  _input:
    description: The normalised vhosts.
    type: list
    elements: dict
    required: true
  snippets:
    description: The normalised snippets.
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
# [{host: v25-dash-calls-backend, source: 'websocket_proxy_vhosts[0].locations[0]'}]
hosts: "{{ __websocket_proxy_vhosts | wsproxy.nginx.backend_hosts(__websocket_proxy_snippets) }}"
"""

RETURN = r"""
_value:
  description: One dict per name.
  type: list
  elements: dict
  contains:
    host: {description: The name., type: str}
    source: {description: The variable path of the first location that names it., type: str}
"""


@filter_errors
def backend_hosts(value, snippets=None):
    if not isinstance(value, list) or not isinstance(snippets or [], list):
        raise AnsibleFilterError("backend_hosts: the input and snippets must be lists of normalised vhosts/snippets")
    return _backend_hosts(value, snippets or [])


class FilterModule:
    def filters(self):
        return {"backend_hosts": backend_hosts}
