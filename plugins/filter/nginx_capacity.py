# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter nginx_capacity: how many WebSockets to hold, into nginx's worker limits (logic in plugin_utils.capacity)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.capacity import nginx_capacity as _nginx_capacity
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import filter_errors

DOCUMENTATION = r"""
name: nginx_capacity
short_description: Plan nginx's workers and connection limits for a number of concurrent WebSockets
version_added: 0.1.0
author: wsproxy.nginx contributors (@wsproxy)
description:
  - Each proxied WebSocket holds two connections in one nginx worker (client and backend side), so two file
    descriptors. A worker cannot hold more descriptors than the open-file hard limit the master starts with,
    unless that limit can be raised (a systemd C(LimitNOFILE) drop-in).
  - When it can be raised, every CPU runs one worker with as many connections as its share needs (plus 25 percent
    for uneven sharing between workers).
  - When it cannot (containers and sandboxes, where C(ulimit -Hn) is fixed), each worker gets all the descriptors
    the limit allows and the target is reached with more workers. Beyond 64 workers the plan is capped and a
    warning says how many WebSockets the capped plan holds.
positional: _input, cpus, fd_hard_limit, raisable, name
options:
  _input:
    description: How many concurrent WebSockets the proxy must hold.
    type: int
    required: true
  cpus:
    description: CPUs of the host (V(ansible_facts['processor_vcpus'])).
    type: int
    required: true
  fd_hard_limit:
    description: The open-file hard limit nginx's master starts with.
    type: int
    required: true
  raisable:
    description: The role can raise the limit for nginx (systemd LimitNOFILE drop-in).
    type: bool
    default: false
  name:
    description: The variable path named in error messages.
    type: str
    default: websocket_proxy_max_websockets
"""

EXAMPLES = r"""
# 50,000 WebSockets on 2 CPUs in a container whose hard limit is 20000:
# {worker_processes: 7, worker_connections: 17858, worker_rlimit_nofile: 17986, ...}
plan: "{{ 50000 | wsproxy.nginx.nginx_capacity(2, 20000) }}"
"""

RETURN = r"""
_value:
  description: The plan.
  type: dict
  contains:
    worker_processes: {description: Number of workers., type: int}
    worker_connections: {description: Connections per worker (events context)., type: int}
    worker_rlimit_nofile: {description: Open-file limit each worker sets for itself., type: int}
    limit_nofile: {description: The LimitNOFILE a systemd drop-in should give nginx., type: int}
    websockets: {description: How many WebSockets the plan holds., type: int}
    warnings: {description: Why the target is out of reach, if it is., type: list, elements: str}
"""


@filter_errors
def nginx_capacity(value, cpus, fd_hard_limit, raisable=False, name="websocket_proxy_max_websockets"):
    if not isinstance(raisable, bool):
        raise AnsibleFilterError(f"nginx_capacity: raisable must be a boolean, got {raisable!r}")
    return _nginx_capacity(value, cpus, fd_hard_limit, raisable, name)


class FilterModule:
    def filters(self):
        return {"nginx_capacity": nginx_capacity}
