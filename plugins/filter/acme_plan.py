# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter acme_plan: the ACME certificates certbot has yet to get (logic in plugin_utils.acme)."""

from __future__ import annotations

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.acme import acme_plan as _acme_plan
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: acme_plan
short_description: The ACME certificates to get, from each ACME vhost's current certificate
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Reads the results of a loop of C(openssl x509 -noout -ext subjectAltName -in <certificate>) over the ACME
    vhosts (as websocket_vhosts normalised them) and returns which of them need a certificate.
  - C(pending) lists the vhosts without a certificate yet (their TLS server waits for it), C(issue) those and the
    vhosts whose certificate does not cover exactly their server names.
positional: _input
options:
  _input:
    description: The C(results) of the registered loop, each with C(item) (the vhost), C(rc) and C(stdout).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
# {'pending': ['api-calls'], 'issue': ['api-calls', 'events']}
plan: "{{ acme_current.results | wsproxy.nginx.acme_plan }}"
"""

RETURN = r"""
_value:
  description: C(pending) and C(issue), lists of vhost names.
  type: dict
"""


class FilterModule:
    def filters(self):
        return {"acme_plan": filter_errors(_acme_plan)}
