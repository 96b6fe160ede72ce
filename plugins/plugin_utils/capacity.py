# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""From one intent, how many WebSockets a proxy must hold, to nginx's process and connection limits.

Every proxied WebSocket costs nginx two connections (client side and backend side), and so two file
descriptors, in one worker. A worker can hold at most as many descriptors as its open-file limit,
which cannot exceed the hard limit the master starts with (``ulimit -Hn``) unless the master may raise
it (CAP_SYS_RESOURCE, or a systemd LimitNOFILE). So the target is reached by giving each worker as
many connections as its limit allows and, when one worker is not enough, by running more workers.
Workers share connections unevenly (no reuseport), so the plan keeps headroom for the busiest one.
"""

from __future__ import annotations

import math
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError

CONNECTIONS_PER_WEBSOCKET = 2
# Descriptors a worker needs besides connections: listening sockets, log files, the channel to the master...
RESERVED_FDS = 128
# How much more than its share the busiest worker may get.
SKEW = 1.25
# More workers than this only add context switches on any machine we would run a proxy on.
MAX_WORKERS = 64
MIN_CONNECTIONS = 1024


def _positive_int(value: object, where: str, what: str) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: {value!r} is not {what}")
    return value


def nginx_capacity(
    max_websockets: object,
    cpus: object,
    fd_hard_limit: object,
    raisable: bool = False,
    name: str = "websocket_proxy_max_websockets",
) -> dict[str, Any]:
    """Plan worker_processes, worker_connections and worker_rlimit_nofile for ``max_websockets``.

    ``fd_hard_limit`` is the open-file hard limit nginx's master starts with; ``raisable`` says the role
    can lift it (a systemd LimitNOFILE drop-in), in which case each worker gets what the plan asks for.
    """
    target = _positive_int(max_websockets, name, "a number of WebSockets (a positive integer)")
    cpu_count = _positive_int(cpus, "ansible_facts['processor_vcpus']", "a number of CPUs")
    hard = _positive_int(fd_hard_limit, "the open-file hard limit (ulimit -Hn)", "a positive integer")

    connections_needed = math.ceil(target * CONNECTIONS_PER_WEBSOCKET * SKEW)
    per_worker_wanted = math.ceil(connections_needed / cpu_count)
    if raisable:
        workers = cpu_count
        per_worker = max(per_worker_wanted, MIN_CONNECTIONS)
    else:
        usable = hard - RESERVED_FDS
        if usable < 1:
            raise ConfigError(f"the open-file hard limit {hard} leaves no descriptors for connections")
        workers = max(cpu_count, math.ceil(connections_needed / usable))
        per_worker = min(usable, max(math.ceil(connections_needed / workers), MIN_CONNECTIONS))
    warnings = []
    if workers > MAX_WORKERS:
        reachable = MAX_WORKERS * per_worker // (CONNECTIONS_PER_WEBSOCKET * SKEW)
        warnings.append(
            f"{name}: {target} WebSockets need {workers} workers under an open-file hard limit of {hard}; "
            f"capped at {MAX_WORKERS} workers, which hold about {int(reachable)}. Raise the limit "
            f"(LimitNOFILE, or the container's --ulimit nofile) to reach the target."
        )
        workers = MAX_WORKERS
    held = int(workers * per_worker // (CONNECTIONS_PER_WEBSOCKET * SKEW))
    rlimit = per_worker + RESERVED_FDS
    return {
        "worker_processes": workers,
        "worker_connections": per_worker,
        "worker_rlimit_nofile": rlimit if raisable else min(rlimit, hard),
        "limit_nofile": rlimit,
        "websockets": held,
        "warnings": warnings,
    }
