# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter doctor_verdict: name the broken hop of each WebSocket location (logic in plugin_utils.doctor_verdict)."""

from __future__ import annotations

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_verdict import doctor_verdict as _doctor_verdict
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: doctor_verdict
short_description: Name the broken hop of each WebSocket location from the doctor's probes and nginx -T
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Used by the role C(wsproxy.nginx.websocket_doctor) (the playbook C(wsproxy.nginx.doctor)), after the
    probes of P(wsproxy.nginx.doctor_plan#filter) ran. For each planned location it walks from the backend
    towards the client and names the first hop that is broken.
  - "V(backend): the direct probe failed: down (refused, timeout), not resolvable, or not speaking WebSocket
    at that path."
  - "V(nginx config): C(nginx -T) fails, for example because the C(map $http_upgrade $connection_upgrade) is
    missing: the running nginx still has its old configuration, but the next reload will fail."
  - "V(TLS): the probe through nginx failed its TLS handshake (certificate not trusted, wrong name, expired,
    no TLS on the port)."
  - "V(nginx server), V(location order): in the configuration C(nginx -T) prints, no server block has the
    vhost's name on its port, or the URI is served (by nginx's own selection rules, as
    P(wsproxy.nginx.location_match#filter) applies them) by another location that is not WebSocket-capable
    (a regex location written before it, ...)."
  - "V(nginx location): the location that serves the URI lacks C(proxy_http_version 1.1), the C(Upgrade) header or
    a C(Connection) header that gives V(upgrade) (maps are evaluated for C(Upgrade: websocket))."
  - "V(map): a variable of those headers (or C($connection_upgrade)) is defined by several maps; nginx silently
    uses the last one. Broken when the last one gives the wrong value, a warning otherwise."
  - "V(origin): 403 through nginx: the Origin the probe sent (see P(wsproxy.nginx.doctor_plan#filter)) was
    refused by an allowlist. A 429 (limit_conn, handshake_rate) is an V(nginx location) problem."
  - "V(backend via nginx): 502 (nginx cannot reach the backend; where C(proxy_pass) differs from the inventory it
    says so) or 504 (too slow)."
  - "Warnings (V(timeout)): a C(proxy_read_timeout) shorter than O(options.min_read_timeout); a proxy_pass that
    differs from the inventory while it works."
  - "The files on disk are judged, not what the running nginx loaded: a problem C(nginx -T) shows while the probe
    through nginx works is reported as broken, not loaded yet."
positional: _input, results, nginx_t, options
options:
  _input:
    description: The plan, the output of P(wsproxy.nginx.doctor_plan#filter).
    type: dict
    required: true
  results:
    description: "The registered result of M(wsproxy.nginx.websocket_probe) run with the plan's probes
      (C(probes: plan.probes | map(attribute='args'))) and C(failed_when: false), or its V(results) list, in the
      plan's order. When the module could not run at all, its failure counts for every probe."
    type: raw
    required: true
  nginx_t:
    description: The registered result of C(nginx -T) (V(rc), V(stdout), V(stderr)), or its stdout.
    type: raw
    required: true
  options:
    description: The same dict as for P(wsproxy.nginx.doctor_plan#filter); V(min_read_timeout) (default V(1h)) is
      read here.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Decide
  ansible.builtin.set_fact:
    report: "{{ plan | wsproxy.nginx.doctor_verdict(probes, nginx_t) }}"

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ report.table }}"
"""

RETURN = r"""
_value:
  description: The report.
  type: dict
  contains:
    rows:
      description: One per planned location; V(location), V(direct), V(nginx) and V(verdict) are the table's
        columns; V(status) is V(ok), V(warn) or V(broken); V(hop) names the broken hop; V(details) say why, and
        what to change; V(served_by) the location nginx picks; V(direct_results) and V(nginx_result) the probes'
        problems and diagnoses.
      type: list
      elements: dict
    table:
      description: "The rows as an aligned text table: location | backend direct | through nginx | verdict."
      type: str
    details:
      description: Every row's details, each prefixed with its location.
      type: list
      elements: str
    summary:
      description: How many locations are ok, warned about, broken.
      type: str
    broken:
      description: The number of broken locations.
      type: int
    warnings:
      description: The number of locations with warnings only.
      type: int
    ok:
      description: No location is broken.
      type: bool
    nginx_config_error:
      description: What C(nginx -T) said when it failed, else V(null).
      type: str
    map_definitions:
      description: Every variable defined by a C(map) in the http context, with the places (file:line).
      type: dict
"""


@filter_errors
def doctor_verdict(plan, results, nginx_t, options=None):
    """The filter: plugin_utils.doctor_verdict.doctor_verdict, errors as AnsibleFilterError."""
    return _doctor_verdict(plan, results, nginx_t, options)


class FilterModule:
    """wsproxy.nginx.doctor_verdict"""

    def filters(self):
        return {"doctor_verdict": doctor_verdict}
