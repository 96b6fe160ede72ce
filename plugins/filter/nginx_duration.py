# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter nginx_duration: a user duration into nginx's time syntax (logic in plugin_utils.duration)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import nginx_duration as _nginx_duration
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: nginx_duration
short_description: Turn a duration into a canonical nginx time string for timeouts
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Accepts seconds as an integer (V(86400)), a decimal number of seconds with at most 3 decimals
    (V(0.5)), a numeric string (V("86400")), or nginx time units largest first, joined or separated by spaces
    (V(24h), V(1d 2h), V(1d2h), V(90s), V(500ms), V(1h30m)); units are C(w d h m s ms).
  - Returns the canonical nginx time string with the largest exact units and no spaces
    (V(86400) -> V(1d), V(5400) -> V(1h30m), V(90) -> V(1m30s), V(0.5) -> V(500ms)), which is one token
    that nginx accepts in C(proxy_read_timeout), C(proxy_send_timeout) and C(proxy_connect_timeout).
  - Refuses negatives, booleans, zero (unless O(allow_zero)), units out of order or repeated, anything longer
    than 24d20h31m23s647ms (the largest timeout every nginx build accepts; 32-bit builds overflow above it), and
    garbage such as V(24 hours), V(1.5.h), an empty string or V(10; return).
  - nginx also knows C(M) (30 days) and C(y) (365 days), but refuses them in millisecond directives such as
    C(proxy_read_timeout); this filter refuses them with a message saying so.
positional: _input, name, allow_zero
options:
  _input:
    description: The duration.
    type: raw
    required: true
  name:
    description: The variable path named in error messages,
      for example V(websocket_proxy_vhosts[0].locations[1].read_timeout).
    type: str
    default: value
  allow_zero:
    description: Accept a zero duration (returned as V(0s)).
    type: bool
    default: false
"""

EXAMPLES = r"""
# '1d'
read_timeout: "{{ 86400 | wsproxy.nginx.nginx_duration }}"

# '1h30m'
idle: "{{ '90m' | wsproxy.nginx.nginx_duration(name='websocket_proxy_read_timeout') }}"

# '1d2h'
long: "{{ '1d 2h' | wsproxy.nginx.nginx_duration }}"

# '500ms'
short: "{{ 0.5 | wsproxy.nginx.nginx_duration }}"

# fails: websocket_proxy_read_timeout: '24 hours' is not a duration (...)
bad: "{{ '24 hours' | wsproxy.nginx.nginx_duration(name='websocket_proxy_read_timeout') }}"
"""

RETURN = r"""
_value:
  description: The canonical nginx time string, for example V(1d), V(1h30m), V(1m30s), V(500ms) (V(0s) for zero).
  type: str
"""


@filter_errors
def nginx_duration(value, name="value", allow_zero=False):
    """The filter: argument check, then plugin_utils.duration.nginx_duration."""
    if not isinstance(name, str):
        raise AnsibleFilterError(f"nginx_duration: name must be a string, got {name!r}")
    if not isinstance(allow_zero, bool):
        raise AnsibleFilterError(f"nginx_duration: allow_zero must be a boolean, got {allow_zero!r}")
    return _nginx_duration(value, name=name, allow_zero=allow_zero)


class FilterModule:
    """wsproxy.nginx.nginx_duration"""

    def filters(self):
        return {"nginx_duration": nginx_duration}
