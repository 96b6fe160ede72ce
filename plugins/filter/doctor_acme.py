# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter doctor_acme: each ACME vhost's certificate expiry and renewal hook (logic in plugin_utils.doctor_acme)."""

from __future__ import annotations

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_acme import doctor_acme as _doctor_acme
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: doctor_acme
short_description: The doctor's rows for ACME vhosts, certificate expiry and renewal hook
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Reads the results of a loop of C(openssl x509 -noout -enddate -serial -in <certificate>) over the ACME vhosts,
    the stat of certbot's deploy hook, and the time, and returns one row per vhost with its expiry, days left,
    serial, whether the hook is in place, a status (ok, warn within 14 days of expiry or without the hook, broken
    when missing or expired) and a line to show.
positional: _input
options:
  _input:
    description: The C(results) of the registered openssl loop, each with C(item) (the normalised vhost).
    type: list
    elements: dict
    required: true
  hook:
    description: The registered C(ansible.builtin.stat) result of the deploy hook.
    type: dict
    required: true
  now:
    description: The time, epoch seconds.
    type: float
    required: true
"""

EXAMPLES = r"""
acme: "{{ acme_certs.results | wsproxy.nginx.doctor_acme(hook_stat, now(utc=true).timestamp()) }}"
"""

RETURN = r"""
_value:
  description: One row per ACME vhost (vhost, certificate, names, expires, days_left, serial, renewal_hook,
    status, line).
  type: list
  elements: dict
"""


class FilterModule:
    def filters(self):
        return {"doctor_acme": filter_errors(_doctor_acme)}
