# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter nginx_conflicts: what in nginx -T would clash with the role's files (logic in plugin_utils.nginx_dump)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.nginx_dump import MODES
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.nginx_dump import nginx_conflicts as _nginx_conflicts

DOCUMENTATION = r"""
name: nginx_conflicts
short_description: Find what in the running nginx configuration would clash with the files this role writes
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Reads the stdout of C(nginx -T) taken before the role changes anything. Every file nginx printed is tokenised
    as nginx does (quotes, backslash escapes, comments) and every C(include) is resolved against the files nginx
    printed (patterns matched as the C library's glob matches them, relative paths from the main file's
    directory), so each directive is known with its context, file and line.
  - What the files in O(owned_files) hold now is ignored, since the role is about to replace or remove them.
  - "V(variable): a C(map), C(geo) or C(split_clients) in the http context defines one of O(variables). nginx
    accepts two definitions of one variable without a word, and the last one included wins."
  - "V(server): a server block has one of a vhost's server names on the same port (on the same address: nginx
    warns C(conflicting server name) and ignores one; one on every address and one on a single address: requests
    to that address reach only the single-address one, silently). Regex server names never clash."
  - "V(default_server): a vhost is V(default_server) on a port where a server block already is, on the same
    address; C(nginx -t) would fail with C(a duplicate default server)."
  - "V(location): in snippet mode, a server block of a file in O(snippet_targets) already has one of the snippet's
    locations. Two prefix locations (V(^~) or none) or two exact ones with the same path fail C(nginx -t) with
    C(duplicate location); two identical regex locations are accepted and the first one wins."
  - "V(snippet_target): a file in O(snippet_targets) has no server block in the configuration nginx loads."
positional: _input, owned_files, variables, vhosts, mode, snippet_targets
options:
  _input:
    description: The stdout of C(nginx -T) (the whole configuration nginx would load now).
    type: str
    required: true
  owned_files:
    description: Absolute paths of every file the role writes or removes (sites-enabled links included).
    type: list
    elements: str
    required: true
  variables:
    description: The variables the role's map file defines, with or without V($).
    type: list
    elements: str
    required: true
  vhosts:
    description: The role's normalised vhosts (P(wsproxy.nginx.websocket_vhosts#filter)); only V(server_names),
      V(listen) (V(port), V(default_server)) and V(source) are read.
    type: list
    elements: dict
    required: true
  mode:
    description:
      - V(fail) reports every conflict.
      - V(adopt) does not report a variable defined exactly once outside the role (the role uses that definition
        instead of its own); a variable defined twice or more outside the role is still reported.
    type: str
    default: fail
    choices: [fail, adopt]
  snippet_targets:
    description: Snippet mode. Each item is a dict with V(file) (an absolute path nginx loads) and V(locations)
      (dicts with V(modifier), V(path) and V(source)), meaning those locations will be included into every server
      block of that file; V(source) (optional) names the item in messages.
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
- name: Refuse definitions elsewhere that would clash with the role's
  ansible.builtin.assert:
    that: __websocket_proxy_conflicts | length == 0
    fail_msg: "{{ __websocket_proxy_conflicts | map(attribute='message') | join(' | ') }}"
  vars:
    __websocket_proxy_conflicts: >-
      {{ __websocket_proxy_dump.stdout | wsproxy.nginx.nginx_conflicts(__websocket_proxy_owned_files,
           ['connection_upgrade', 'wsproxy_upgrade'], __websocket_proxy_vhosts) }}

# [{'kind': 'variable', 'file': '/etc/nginx/conf.d/websocket.conf', 'line': 3, 'source': '$connection_upgrade',
#   'message': '$connection_upgrade is already defined by /etc/nginx/conf.d/websocket.conf:3
#               (map $http_upgrade $connection_upgrade); nginx would silently use the last one. ...'}]
"""

RETURN = r"""
_value:
  description: One dict per conflict, empty when there is none.
  type: list
  elements: dict
  contains:
    kind: {description: "V(variable), V(server), V(default_server), V(location) or V(snippet_target).", type: str}
    message: {description: "What clashes, with the role variable path and the other file:line, and what to do.",
              type: str}
    file: {description: The file of the other definition., type: str}
    line: {description: Its line (none for V(snippet_target))., type: int}
    source: {description: "The role's side: a variable path (V(websocket_proxy_vhosts[0].server_name)) or
              V($connection_upgrade).", type: str}
"""


@filter_errors
def nginx_conflicts(value, owned_files, variables, vhosts, mode="fail", snippet_targets=None):
    """The filter: argument check, then plugin_utils.nginx_dump.nginx_conflicts."""
    if not isinstance(value, str):
        raise AnsibleFilterError(f"nginx_conflicts: the input must be the stdout of nginx -T (a string), got {value!r}")
    if mode not in MODES:
        raise AnsibleFilterError(f"nginx_conflicts: mode must be one of {', '.join(MODES)}, got {mode!r}")
    return _nginx_conflicts(value, owned_files, variables, vhosts, mode, snippet_targets)


class FilterModule:
    """wsproxy.nginx.nginx_conflicts"""

    def filters(self):
        return {"nginx_conflicts": nginx_conflicts}
