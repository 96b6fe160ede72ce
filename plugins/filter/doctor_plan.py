# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter doctor_plan: the probes the doctor runs for each WebSocket location (logic in plugin_utils.doctor_plan)."""

from __future__ import annotations

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_plan import doctor_plan as _doctor_plan
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: doctor_plan
short_description: Plan the doctor's probes, one row per WebSocket location
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Used by the role C(wsproxy.nginx.websocket_doctor) (the playbook C(wsproxy.nginx.doctor)). For every location
    of O(_input) that forwards WebSockets it picks a URI to probe and plans two probes run on the proxy host with
    M(wsproxy.nginx.websocket_probe), the backend directly (every server of an upstream) and the same URI through
    nginx.
  - "The URI: O(options.probe_uris) by the location's path as written in C(websocket_proxy_vhosts); else, for
    the seed's alternative layout (C(websocket_endpoints)), the first endpoint the regex location serves; else the
    location's path followed by O(options.endpoint) (C(/api/) and V(frontend-audio) give C(/api/frontend-audio))."
  - "Directly: V(ws://) (V(wss://) for an https backend, certificate not checked, as nginx does not check it by
    default) to the backend's host and port, or its Unix socket; a URI part of the backend replaces the location
    prefix, as nginx does; Host is the vhost's name, as nginx's C(proxy_set_header Host $host) sends it."
  - "Through nginx: V(ws://127.0.0.1:PORT) (V(wss://) for a TLS vhost) on the vhost's first listen port, with the
    vhost's first plain server name as Host and TLS server name, checked with O(options.ca_file) unless
    O(options.validate_certs) is false."
positional: _input, options
options:
  _input:
    description: The normalised vhosts, the output of P(wsproxy.nginx.websocket_vhosts#filter).
    type: list
    elements: dict
    required: true
  options:
    description: The doctor's settings; keys left out or V(null) take their defaults.
    type: dict
    default: {}
    suboptions:
      endpoint:
        description: Path segment appended to a prefix WebSocket location to make the URI probed (V('') probes the
          path itself).
        type: str
        default: frontend-audio
      probe_uris:
        description: 'A URI to probe per location path, as written in C(websocket_proxy_vhosts)
          (V({"/api/": "/api/call-events"})).'
        type: dict
        default: {}
      ca_file:
        description: CA file on the proxy host to check nginx's certificate with (V(null) is the system's store).
        type: path
      validate_certs:
        description: Check nginx's certificate.
        type: bool
        default: true
      timeout:
        description: Seconds for each probe.
        type: float
        default: 5
      echo:
        description: Send a frame and expect it back; V(false) for backends that do not echo.
        type: bool
        default: true
      origin:
        description: Origin header to send. Left out, a location with C(allowed_origins) is probed with the
          first of them (a wildcard V(https://*.example.com) as V(https://doctor.example.com)), others without one.
        type: str
      payload_size:
        description: Bytes of the binary frame echoed (640 is 20 ms of 16 kHz 16-bit audio); V(0) sends text.
        type: int
        default: 640
      min_read_timeout:
        description: Read by P(wsproxy.nginx.doctor_verdict#filter); accepted here so both take one dict.
        type: str
        default: 1h
"""

EXAMPLES = r"""
- name: Plan the probes
  ansible.builtin.set_fact:
    plan: "{{ normalised_vhosts | wsproxy.nginx.doctor_plan({'ca_file': '/etc/ssl/wsproxy/ca.pem'}) }}"

- name: Run them, all in one module run
  wsproxy.nginx.websocket_probe:
    probes: "{{ plan.probes | map(attribute='args') }}"
  register: probes
  failed_when: false
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    locations:
      description: One dict per WebSocket location (V(id), V(vhost), V(label), V(server_name), V(port), V(tls),
        V(modifier), V(path), V(location), V(uri), V(proxy_pass), V(backends), V(origin), V(source)).
      type: list
      elements: dict
    probes:
      description: The probes, in the order P(wsproxy.nginx.doctor_verdict#filter) expects their results. Each
        has V(args), the parameters of one probe of M(wsproxy.nginx.websocket_probe) (V(url), V(unix_socket),
        V(host_header), V(server_name), V(validate_certs), V(ca_file), V(origin), V(timeout), V(echo),
        V(payload_size); V(null) where the module's default applies), and V(location) (its row), V(hop)
        (V(direct) or V(nginx)), V(label), V(backend) (direct probes).
      type: list
      elements: dict
"""


@filter_errors
def doctor_plan(vhosts, options=None):
    """The filter: plugin_utils.doctor_plan.doctor_plan, errors as AnsibleFilterError."""
    return _doctor_plan(vhosts, options)


class FilterModule:
    """wsproxy.nginx.doctor_plan"""

    def filters(self):
        return {"doctor_plan": doctor_plan}
