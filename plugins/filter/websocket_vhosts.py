# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter websocket_vhosts: the role's vhosts validated and normalised (logic in plugin_utils.vhosts)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts as _websocket_vhosts

DOCUMENTATION = r"""
name: websocket_vhosts
short_description: Validate websocket_proxy_vhosts and normalise it into what the templates read
version_added: 0.1.0
author: wsproxy.nginx contributors
description:
  - Checks every field of every vhost with P(wsproxy.nginx.nginx_token#filter), P(wsproxy.nginx.nginx_duration#filter),
    P(wsproxy.nginx.proxy_target#filter) and P(wsproxy.nginx.ws_path_regex#filter), refuses unknown keys, wrong types,
    duplicate vhost names, the same server name on the same port in two vhosts, two default servers on one port,
    a port that is TLS in one vhost and plain in another (or differs in http2), duplicate locations and empty
    location lists.
  - "Input, per vhost: V(server_name) (a string or a non-empty list; required); V(name) (file stem; default derived
    from the first server name, V(*.) becoming V(wildcard.), V(.*) becoming V(.wildcard) and V(_) becoming
    V(default)); V(listen) (a port or a list of ports; default 443 with V(tls), else 80); V(default_server)
    (bool, default false); V(tls) (V(certificate) and V(certificate_key), absolute paths, required;
    V(http2) bool, default true); V(locations) (a non-empty list; required)."
  - "Input, per location: V(path) (prefix, default V(/api/)); V(backend) (required); V(websocket) (bool, default true);
    V(websocket_endpoints) (endpoint names, default none); V(read_timeout), V(send_timeout), V(connect_timeout)
    (default from O(defaults))."
  - "A location with V(websocket_endpoints) becomes two, in this order: a regex location (V(~), from
    P(wsproxy.nginx.ws_path_regex#filter), WebSocket, backend without URI part) and a plain prefix location at
    V(path) (not WebSocket). Without endpoints it is one prefix location, WebSocket or not as V(websocket) says."
  - "Last, for every vhost, nginx's location selection (P(wsproxy.nginx.location_match#filter)) must send every
    WebSocket URI (each endpoint under its path, or the path of a WebSocket prefix location) to a WebSocket location;
    otherwise the error names the URI and the location that would capture it."
  - "Output, per vhost: V(name), V(server_names) (list), V(listen) (list of dicts V(port), V(ssl), V(default_server)),
    V(tls) (V(certificate), V(certificate_key), V(http2), V(source); or V(None)), V(locations) (in the order to write
    them; dicts V(modifier), V(path), V(proxy_pass), V(websocket), V(read_timeout), V(send_timeout),
    V(connect_timeout), V(source)), V(websocket_uris) (list) and V(source) (the variable path of the vhost)."
positional: _input, defaults, name
options:
  _input:
    description: websocket_proxy_vhosts.
    type: list
    elements: dict
    required: true
  defaults:
    description: The role-wide timeouts, a dict with V(read_timeout), V(send_timeout) and V(connect_timeout).
      Errors about them name C(websocket_proxy_read_timeout) and so on (the O(name) without its C(vhosts) suffix).
    type: dict
    required: true
  name:
    description: The variable path named in error messages.
    type: str
    default: websocket_proxy_vhosts
"""

EXAMPLES = r"""
- name: Validate and normalise websocket_proxy_vhosts
  ansible.builtin.set_fact:
    __websocket_proxy_vhosts: >-
      {{ websocket_proxy_vhosts | wsproxy.nginx.websocket_vhosts({
           'read_timeout': websocket_proxy_read_timeout,
           'send_timeout': websocket_proxy_send_timeout,
           'connect_timeout': websocket_proxy_connect_timeout}) }}

# [{'name': 'api-calls', 'server_names': ['api-calls.example.com'],
#   'listen': [{'port': 80, 'ssl': False, 'default_server': False}], 'tls': None,
#   'locations': [{'modifier': '~', 'path': '^/api/(?:frontend-audio|call-events)(?:/|$)',
#                  'proxy_pass': 'http://localhost:5006', 'websocket': True, 'read_timeout': '1d',
#                  'send_timeout': '1d', 'connect_timeout': '1m', 'source': 'websocket_proxy_vhosts[0].locations[0]'},
#                 {'modifier': '', 'path': '/api/', 'proxy_pass': 'http://localhost:5006', 'websocket': False, ...}],
#   'websocket_uris': ['/api/frontend-audio', '/api/call-events'], 'source': 'websocket_proxy_vhosts[0]'}]
normalised: >-
  {{ [{'server_name': 'api-calls.example.com', 'name': 'api-calls',
       'locations': [{'backend': 'localhost:5006', 'websocket_endpoints': ['frontend-audio', 'call-events']}]}]
     | wsproxy.nginx.websocket_vhosts({'read_timeout': '24h', 'send_timeout': '24h', 'connect_timeout': '60s'}) }}
"""

RETURN = r"""
_value:
  description: One normalised dict per vhost, in input order (keys in the description).
  type: list
  elements: dict
"""


def websocket_vhosts(vhosts, defaults, name="websocket_proxy_vhosts"):
    """The filter: argument check, then plugin_utils.vhosts.websocket_vhosts."""
    if not isinstance(name, str):
        raise AnsibleFilterError(f"websocket_vhosts: name must be a string, got {name!r}")
    try:
        return _websocket_vhosts(vhosts, defaults, name=name)
    except ConfigError as exc:
        raise AnsibleFilterError(str(exc), orig_exc=exc) from exc


class FilterModule:
    """wsproxy.nginx.websocket_vhosts"""

    def filters(self):
        return {"websocket_vhosts": websocket_vhosts}
