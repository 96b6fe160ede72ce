# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter nginx_token: allowlist validators for user strings in templates (logic in plugin_utils.tokens)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import KINDS, validate_token

DOCUMENTATION = r"""
name: nginx_token
short_description: Check that a user string is one safe nginx token of a given kind
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Returns the value unchanged when it is acceptable for O(kind), and fails otherwise. Validation is by allowlist,
    so nothing nginx reads as syntax (whitespace, V(;), V({), V(}), V(#), quotes, backslash, V($), control characters)
    and no non-ASCII character can pass; an accepted value is always exactly one nginx token.
  - "V(server_name): a host name of letters, digits, V(-) and V(.) (labels of at most 63 characters, 253 in all),
    optionally with a leading V(*.) or V(.) or a trailing V(.*); an IPv4 address; a bracketed IPv6 address
    (V([::1])); or V(_). Regular expression names (V(~...)) are not supported."
  - "V(location_path): a prefix path starting with V(/), made of letters, digits and V(._~!*+,=:@/-), with no V(//)
    and no V(.) or V(..) segments (nginx matches the normalised URI, so those could never match). No V(%):
    locations are compared with the decoded URI."
  - 'V(header_value): printable ASCII without space and without V(") V(#) V($) V('') V(;) V(\\) V({) V(}).'
  - "V(file_path): an absolute path of letters, digits and V(._~+,=:@/-) that does not end with V(/)."
  - "V(name): a file stem or identifier, a letter or digit followed by letters, digits, V(.), V(_) or V(-),
    at most 200 characters."
  - "V(endpoint): a WebSocket endpoint name under a prefix: segments of letters, digits and V(._~-) separated by
    single V(/) (V(frontend-audio), V(v2/events)), without a leading or trailing V(/) and without V(.) or V(..)
    segments."
positional: _input, kind, name
options:
  _input:
    description: The string to check.
    type: str
    required: true
  kind:
    description: What the string is.
    type: str
    required: true
    choices: [server_name, location_path, header_value, file_path, name, endpoint]
  name:
    description: The variable path named in error messages, for example V(websocket_proxy_vhosts[0].server_name).
    type: str
    default: value
"""

EXAMPLES = r"""
# 'api-calls.example.com'
server: "{{ 'api-calls.example.com' | wsproxy.nginx.nginx_token('server_name') }}"

# '/api/'
path: "{{ '/api/' | wsproxy.nginx.nginx_token('location_path', name='websocket_proxy_vhosts[0].locations[0].path') }}"

# fails: websocket_proxy_vhosts[0].server_name: 'a.example.com; return 200 x' is not a valid server name (...)
bad: >-
  {{ 'a.example.com; return 200 x'
     | wsproxy.nginx.nginx_token('server_name', name='websocket_proxy_vhosts[0].server_name') }}
"""

RETURN = r"""
_value:
  description: The input, unchanged.
  type: str
"""


@filter_errors
def nginx_token(value, kind, name="value"):
    """The filter: argument check, then plugin_utils.tokens.validate_token."""
    if kind not in KINDS:
        raise AnsibleFilterError(f"nginx_token: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not isinstance(name, str):
        raise AnsibleFilterError(f"nginx_token: name must be a string, got {name!r}")
    return validate_token(value, kind, name)


class FilterModule:
    """wsproxy.nginx.nginx_token"""

    def filters(self):
        return {"nginx_token": nginx_token}
