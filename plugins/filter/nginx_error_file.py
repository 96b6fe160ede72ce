# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter nginx_error_file: the file and line an nginx -t error names (logic in plugin_utils.nginx_dump)."""

from __future__ import annotations

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.nginx_dump import nginx_error_file as _nginx_error_file

DOCUMENTATION = r"""
name: nginx_error_file
short_description: The file and line that an nginx -t error message names
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Reads the standard error of C(nginx -t) or C(nginx -T) and returns C(file:line) of the most serious
    message (emerg, alert or crit before warnings), for example C(/etc/nginx/sites-enabled/broken.conf:3).
  - Returns an empty string when nginx names no file.
positional: _input
options:
  _input:
    description: The standard error of nginx -t.
    type: str
    required: true
"""

EXAMPLES = r"""
# '/etc/nginx/sites-enabled/broken.conf:3'
where: "{{ nginx_t.stderr | wsproxy.nginx.nginx_error_file }}"
"""

RETURN = r"""
_value:
  description: C(file:line), or an empty string.
  type: str
"""


def nginx_error_file(stderr):
    found = _nginx_error_file(stderr if isinstance(stderr, str) else "")
    return f"{found[0]}:{found[1]}" if found else ""


class FilterModule:
    def filters(self):
        return {"nginx_error_file": nginx_error_file}
