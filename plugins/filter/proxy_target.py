# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter proxy_target: a backend as users write it, into a safe proxy_pass value (logic in plugin_utils)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import proxy_target as _proxy_target

DOCUMENTATION = r"""
name: proxy_target
short_description: Turn a backend into a checked, safe proxy_pass value
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - "Accepted forms: V(host:port) (V(localhost:5006), V(calls-backend:5006), V(127.0.0.1:5006), V([::1]:5006)),
    V(host:port/path), V(scheme://host[:port][/path]) (V(http://calls-backend:5006), V(https://10.0.0.5:8443/base/)),
    V(unix:/path/to.sock[:/path]) and V(scheme://unix:/path/to.sock[:[/path]]) (V(http://unix:/run/app.sock:))."
  - The scheme is V(http) or V(https); V(ws) and V(wss) are accepted and written as V(http) and V(https), because
    proxy_pass has no ws scheme (the upgrade is carried by headers).
  - The host is a DNS name (letters, digits, V(-), V(_)), an IPv4 address or a bracketed IPv6 address (written
    compressed). The port (1-65535) is required without a scheme; with a scheme it may be left out, and the result
    then has no port either (nginx uses 80 or 443), so the host can also name an C(upstream {}) block.
  - "The URI part (path) changes how nginx builds the backend request. With
    C(location /api/ { proxy_pass http://b:5006/base/; }) nginx replaces the matched location prefix by the URI part:
    a request for C(/api/x) reaches the backend as C(/base/x). Without a URI part (C(proxy_pass http://b:5006;))
    the request URI is passed unchanged: C(/api/x) stays C(/api/x). A lone trailing V(/) is a URI part too:
    C(proxy_pass http://b:5006/;) turns C(/api/x) into C(/x)."
  - In a location given by a regular expression nginx refuses any URI part ("proxy_pass" cannot have URI part in
    location given by regular expression); O(allow_uri=false) refuses one here, with that reason.
  - The path may hold letters, digits, V(%XX) escapes and V(._~!*+,=:@/-); query strings, user information and
    anything nginx reads as syntax (whitespace, V(;), V({), V(}), V(#), quotes, backslash, V($)) are refused.
positional: _input, name, allow_uri
options:
  _input:
    description: The backend as the user wrote it.
    type: str
    required: true
  name:
    description: The variable path named in error messages,
      for example V(websocket_proxy_vhosts[0].locations[1].backend).
    type: str
    default: backend
  allow_uri:
    description: Accept a URI part. Set to V(false) for a regex location.
    type: bool
    default: true
"""

EXAMPLES = r"""
# 'http://localhost:5006'
a: "{{ 'localhost:5006' | wsproxy.nginx.proxy_target }}"

# 'https://10.0.0.5:8443/base/'  (location /api/ then sends /api/x as /base/x)
b: "{{ 'https://10.0.0.5:8443/base/' | wsproxy.nginx.proxy_target }}"

# 'http://calls-backend:5006'
c: "{{ 'ws://calls-backend:5006' | wsproxy.nginx.proxy_target }}"

# 'http://unix:/run/app.sock'
d: "{{ 'unix:/run/app.sock' | wsproxy.nginx.proxy_target }}"

# fails: a regex location cannot take a URI part
e: >-
  {{ 'http://b:5006/'
     | wsproxy.nginx.proxy_target(name='websocket_proxy_vhosts[0].locations[0].backend', allow_uri=false) }}
"""

RETURN = r"""
_value:
  description: The proxy_pass value, for example V(http://localhost:5006), V(https://10.0.0.5:8443/base/),
    V(http://[::1]:5006) or V(http://unix:/run/app.sock).
  type: str
"""


@filter_errors
def proxy_target(value, name="backend", allow_uri=True):
    """The filter: argument check, then plugin_utils.proxy_target.proxy_target."""
    if not isinstance(name, str):
        raise AnsibleFilterError(f"proxy_target: name must be a string, got {name!r}")
    if not isinstance(allow_uri, bool):
        raise AnsibleFilterError(f"proxy_target: allow_uri must be a boolean, got {allow_uri!r}")
    return _proxy_target(value, name=name, allow_uri=allow_uri)


class FilterModule:
    """wsproxy.nginx.proxy_target"""

    def filters(self):
        return {"proxy_target": proxy_target}
