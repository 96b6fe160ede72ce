# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter websocket_snippets: snippet mode's locations validated and normalised (logic in plugin_utils.snippets)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.snippets import websocket_snippets as _websocket_snippets

DOCUMENTATION = r"""
name: websocket_snippets
short_description: Validate websocket_proxy_snippets (snippet mode, for hand-written server blocks) for the templates
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Snippet mode is for hosts whose server blocks are written by hand. Each snippet becomes a file of location blocks
    that the user's own server block includes (C(include snippets/websocket_proxy_<name>.conf;)), and upstream blocks
    that go into the http context (conf.d), because nginx refuses C(upstream) inside C(server).
  - "Input, per snippet: V(name) (required; a file stem: letters, digits, V(.), V(_), V(-), starting with a letter or
    digit; unique, letter case ignored) and V(locations) (required; a non-empty list with exactly the schema of a
    vhost's locations in P(wsproxy.nginx.websocket_vhosts#filter): V(path), V(backend) (a backend or a list of
    them), V(websocket), V(websocket_endpoints), V(read_timeout), V(send_timeout), V(connect_timeout))."
  - The locations are checked, expanded, routed (direct, upstream with keepalive, or dynamic) and proven to send every
    WebSocket URI to a WebSocket location exactly as P(wsproxy.nginx.websocket_vhosts#filter) does it. The check
    covers the snippet's own locations only; a location of the hand-written server block can still capture a URI.
  - "Differences from vhosts: upstream names are V(wsproxy_snippet_<name>_<n>) (the name with every character
    outside V([A-Za-z0-9_]) replaced by V(_)); there is no server-level resolver (the server block is not the role's),
    so a dynamic location carries V(resolver) and V(resolver_valid) itself, to be written inside the location
    (C(resolver) is valid there). A literal C(proxy_pass) to the same host and port in the hand-written config
    (C(location /api/ { proxy_pass http://calls-backend:5006; })) makes nginx use that statically resolved address
    for the dynamic location too, so the name is never re-resolved: give the hand-written location the same
    variable form, or an IP address."
  - "Output, per snippet: V(name), V(locations) (the same dicts as a vhost's locations, with V(resolver) (list) and
    V(resolver_valid) set on dynamic locations and V(None) on the others), V(upstreams) (the same dicts as a vhost's),
    V(websocket_uris) and V(source) (the variable path of the snippet); with O(layout), V(files): V(conf), the
    snippet's file, V(<snippet_dir>/websocket_proxy_<name>.conf)."
positional: _input, defaults, name, layout
options:
  _input:
    description: websocket_proxy_snippets.
    type: list
    elements: dict
    required: true
  defaults:
    description: The role-wide settings, exactly as for P(wsproxy.nginx.websocket_vhosts#filter) (V(read_timeout),
      V(send_timeout), V(connect_timeout) required; any other key left out takes the role's default, from
      roles/websocket_proxy/defaults/main.yml).
      Errors about them name C(websocket_proxy_read_timeout) and so on (the O(name) without its C(snippets) suffix).
    type: dict
    required: true
  name:
    description: The variable path named in error messages.
    type: str
    default: websocket_proxy_snippets
  layout:
    description: The OS layout, exactly as for P(wsproxy.nginx.websocket_vhosts#filter). Given, every snippet gets
      V(files); left out, none.
    type: dict
"""

EXAMPLES = r"""
- name: Validate and normalise websocket_proxy_snippets
  ansible.builtin.set_fact:
    __websocket_proxy_snippets: >-
      {{ websocket_proxy_snippets | wsproxy.nginx.websocket_snippets({
           'read_timeout': websocket_proxy_read_timeout,
           'send_timeout': websocket_proxy_send_timeout,
           'connect_timeout': websocket_proxy_connect_timeout,
           'upstream_keepalive': websocket_proxy_upstream_keepalive,
           'resolver': websocket_proxy_resolver,
           'resolver_valid': websocket_proxy_resolver_valid}) }}

# The next task sets normalised to:
# [{'name': 'api-calls',
#   'locations': [{'modifier': '', 'path': '/api/frontend-audio', 'proxy_pass': 'http://wsproxy_snippet_api_calls_1',
#                  'websocket': True, 'read_timeout': '1d', 'send_timeout': '1d', 'connect_timeout': '1m',
#                  'source': 'websocket_proxy_snippets[0].locations[0]', 'upstream': 'wsproxy_snippet_api_calls_1',
#                  'dynamic': False, 'proxy_pass_variable': None, 'resolver': None, 'resolver_valid': None},
#                 {'modifier': '', 'path': '/events/', 'proxy_pass': '$wsproxy_backend', 'websocket': True, ...,
#                  'upstream': None, 'dynamic': True, 'proxy_pass_variable': 'http://events:5007',
#                  'resolver': ['127.0.0.11'], 'resolver_valid': '10s'}],
#   'upstreams': [{'name': 'wsproxy_snippet_api_calls_1', 'servers': ['127.0.0.1:5006'], 'keepalive': 32,
#                  'source': 'websocket_proxy_snippets[0].locations[0].backend'}],
#   'websocket_uris': ['/api/frontend-audio', '/events/'], 'source': 'websocket_proxy_snippets[0]'}]
- name: Two snippet locations, one of them a Docker service name re-resolved at run time
  ansible.builtin.set_fact:
    normalised: >-
      {{ [{'name': 'api-calls',
           'locations': [{'path': '/api/frontend-audio', 'backend': '127.0.0.1:5006'},
                         {'path': '/events/', 'backend': 'events:5007'}]}]
         | wsproxy.nginx.websocket_snippets({'read_timeout': '24h', 'send_timeout': '24h', 'connect_timeout': '60s',
                                             'upstream_keepalive': 32, 'resolver': ['127.0.0.11']}) }}
"""

RETURN = r"""
_value:
  description: One normalised dict per snippet, in input order (keys in the description).
  type: list
  elements: dict
"""


@filter_errors
def websocket_snippets(snippets, defaults, name="websocket_proxy_snippets", layout=None):
    """The filter: argument check, then plugin_utils.snippets.websocket_snippets."""
    if not isinstance(name, str):
        raise AnsibleFilterError(f"websocket_snippets: name must be a string, got {name!r}")
    return _websocket_snippets(snippets, defaults, name=name, layout=layout)


class FilterModule:
    """wsproxy.nginx.websocket_snippets"""

    def filters(self):
        return {"websocket_snippets": websocket_snippets}
