# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter acme_failures: what certbot said for each vhost it got no certificate for (logic in plugin_utils.acme)."""

from __future__ import annotations

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.acme import acme_failures as _acme_failures
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: acme_failures
short_description: One line per ACME vhost that certbot got no certificate for, with the CA's answer
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Reads the results of a loop of C(certbot certonly) over ACME vhosts (as websocket_vhosts normalised them) and
    returns, for each run that failed, the vhost's name, its server names and certbot's error lines (C(Detail),
    C(Type), C(Domain), C(Hint), ...), or its whole output when it has none of them.
positional: _input
options:
  _input:
    description: The C(results) of the registered loop, each with C(item) (the vhost), C(rc), C(stderr), C(stdout).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
# ['vhost calls (api.example.test): Certbot failed to authenticate some domains ... Detail: ... Connection refused']
msg: "{{ certbot_runs.results | wsproxy.nginx.acme_failures | join('; ') }}"
"""

RETURN = r"""
_value:
  description: One line per failed run.
  type: list
  elements: str
"""


class FilterModule:
    def filters(self):
        return {"acme_failures": filter_errors(_acme_failures)}
