# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter location_match: which location nginx picks for a URI (logic in plugin_utils.locations)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import location_match as _location_match

DOCUMENTATION = r"""
name: location_match
short_description: Pick the location nginx would use for a URI in one server block
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - O(_input) is a list of dicts with V(modifier) (V('') for a plain prefix, V(=), V(^~), V(~), V(~*); missing means
    V('')) and V(path) (a prefix, or a regex for V(~) and V(~*)), in the order they appear in the server block.
    Other keys are kept and ignored, except V(proxy_pass) and V(auto_redirect) (below).
  - "nginx's algorithm for a server without nested locations: an V(=) location equal to the URI wins at once;
    otherwise the longest matching prefix among V('') and V(^~) locations is remembered (V(=) locations are not
    prefixes) and wins at once if it is V(^~); otherwise the regex locations are tried in file order, V(~)
    case-sensitive and V(~*) case-insensitive, and the first match wins; otherwise the remembered prefix wins;
    otherwise nothing does (the result is V(None)). The order of prefix locations in the file does not matter;
    the order of regex locations does."
  - "One more nginx rule: a prefix or exact location whose path ends with V(/) and that proxies (it has a true
    V(proxy_pass) key, like every entry P(wsproxy.nginx.websocket_vhosts#filter) returns, or V(auto_redirect: true))
    answers a request for its path without that V(/) with a 301 redirect to it, before regexes are tried;
    C(/api) is redirected by C(location /api/ { proxy_pass ...; }). That location is returned."
  - Prefix comparisons are case-sensitive, as nginx on Linux. The URI is compared as nginx sees it after
    normalisation (decoded, without arguments, no dot segments, merged slashes).
  - 'Regexes are PCRE, translated to Python: literals, classes (with POSIX names), the usual escapes
    (V(\\d \\w \\s \\b \\A \\z \\Z \\xhh \\Q...\\E)), groups (capturing, V((?:\)), named, lookaround, atomic), inline
    flags C(i m s), greedy, lazy and possessive quantifiers and single-digit back references. Anything else
    (V(\\p), V(\\K), recursion, conditionals, ...) is refused with an error rather than guessed.'
  - A differential test checks this filter against real nginx on generated location sets.
positional: _input, uri, name
options:
  _input:
    description: The locations of one server block, in file order.
    type: list
    elements: dict
    required: true
  uri:
    description: The request path, starting with V(/).
    type: str
    required: true
  name:
    description: The variable path named in error messages.
    type: str
    default: locations
"""

EXAMPLES = r"""
# {'modifier': '~', 'path': '^/api/(?:frontend-audio)(?:/|$)'}: regexes beat a plain prefix
served_by: >-
  {{ [{'modifier': '', 'path': '/api/'}, {'modifier': '~', 'path': '^/api/(?:frontend-audio)(?:/|$)'}]
     | wsproxy.nginx.location_match('/api/frontend-audio') }}

# {'modifier': '^~', 'path': '/static/'}: ^~ stops the regex search
static: >-
  {{ [{'modifier': '^~', 'path': '/static/'}, {'modifier': '~*', 'path': '\\.png$'}]
     | wsproxy.nginx.location_match('/static/logo.PNG') }}
"""

RETURN = r"""
_value:
  description: The matching location dict (the same object as in the list), or V(None) when no location matches.
  type: dict
"""


@filter_errors
def location_match(locations, uri, name="locations"):
    """The filter: argument check, then plugin_utils.locations.location_match."""
    if not isinstance(name, str):
        raise AnsibleFilterError(f"location_match: name must be a string, got {name!r}")
    return _location_match(locations, uri, name=name)


class FilterModule:
    """wsproxy.nginx.location_match"""

    def filters(self):
        return {"location_match": location_match}
