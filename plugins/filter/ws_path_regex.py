# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ws_path_regex: WebSocket endpoint names into an anchored location regex (logic in plugin_utils)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.ws_regex import ws_path_regex as _ws_path_regex

DOCUMENTATION = r"""
name: ws_path_regex
short_description: Build the anchored, escaped regex location for named WebSocket endpoints
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - 'For the seed''s alternative layout, a regex location for the WebSocket endpoints written before the plain
    prefix location: V([frontend-audio, call-events]) under V(/api/) gives
    V(^/api/(?:frontend-audio|call-events\)(?:/|$\)).'
  - The regex is anchored at the start, every endpoint name and the prefix are escaped (V(.) becomes V(\\.)), and a
    name must be followed by V(/) or the end of the URI, so V(/api/frontend-audio) and V(/api/frontend-audio/x) match
    while V(/api/frontend-audiox) and V(/api/x/frontend-audio) do not.
  - The result is one nginx token, usable unquoted after C(location ~). A prefix without a trailing V(/) is treated as
    if it had one (V(/api) and V(/api/) both give V(^/api/...)).
  - Endpoint names are checked like P(wsproxy.nginx.nginx_token#filter) kind V(endpoint); duplicates and an empty
    list are refused.
positional: _input, prefix, name
options:
  _input:
    description: The endpoint names.
    type: list
    elements: str
    required: true
  prefix:
    description: The location path the endpoints live under.
    type: str
    default: /api/
  name:
    description: The variable path named in error messages.
    type: str
    default: websocket_endpoints
"""

EXAMPLES = r"""
# '^/api/(?:frontend-audio|call-events|audio-stream)(?:/|$)'
regex: "{{ ['frontend-audio', 'call-events', 'audio-stream'] | wsproxy.nginx.ws_path_regex }}"

# '^/ws/v2/(?:events)(?:/|$)'
v2: "{{ ['events'] | wsproxy.nginx.ws_path_regex(prefix='/ws/v2') }}"
"""

RETURN = r"""
_value:
  description: A PCRE that nginx compiles, for use as C(location ~ <value>).
  type: str
"""


@filter_errors
def ws_path_regex(endpoints, prefix="/api/", name="websocket_endpoints"):
    """The filter: argument check, then plugin_utils.ws_regex.ws_path_regex."""
    if not isinstance(name, str):
        raise AnsibleFilterError(f"ws_path_regex: name must be a string, got {name!r}")
    return _ws_path_regex(endpoints, prefix=prefix, name=name)


class FilterModule:
    """wsproxy.nginx.ws_path_regex"""

    def filters(self):
        return {"ws_path_regex": ws_path_regex}
