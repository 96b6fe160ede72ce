"""200 WebSockets held open through nginx while the role changes the vhost and reloads nginx.

The role is run from the controller (site.yml, as an operator would) with a vhost that gains a plain
location /api/v2/. That is a graceful reload: nginx's master stays, new workers load the new config,
and the old workers keep the open WebSockets (worker_shutdown_timeout 10m is far longer than the hold)
until their clients close them. Every one of the 200 must still echo after the reload, and a new
connection must already see the new location.
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

from conftest import (
    ansible_playbook,
    backend_log,
    established_to,
    host_named,
    nginx_pids,
    nginx_processes,
    play_recap,
    uncoloured,
    wait_for,
    wsclient,
)

testinfra_hosts = ["ansible://proxies"]

PROXY = "wsproxy-live-bookworm"
BACKEND = "wsproxy-live-backend"
HELD = 200
# tests/support/wsclient.py --hold holds for a fixed time, but a role run takes from 30 s on a quiet machine
# to over 100 s on a busy one (measured here on 2 CPUs with a load average of 15; every run also refreshes
# the apt cache). hold_until.py (this scenario's, built on wsclient.py) holds until the test releases them.
HOLD_CLIENT = "python3 /opt/live-reload/hold_until.py"
HOLD_RESULT = "/tmp/wsproxy-hold.json"
HOLD_RELEASE = "/tmp/wsproxy-hold.release"
HOLD_URL = "ws://api.example.test/api/frontend-audio"
# The backend (molecule.yml) treats /api/v2/stream as a WebSocket path: through a WebSocket location it
# answers 101, through the plain location the change adds it gets no Upgrade header and answers 426.
NEW_PATH_WS = "ws://api.example.test/api/v2/stream"
CHANGED_VHOSTS = {
    "websocket_proxy_vhosts": [
        {
            "name": "api-calls",
            "server_name": "api.example.test",
            "listen": 80,
            "locations": [
                {"path": "/api/", "backend": "calls-backend:5006"},
                # the change: a plain HTTP API beside the WebSockets, never upgraded
                {"path": "/api/v2/", "backend": "calls-backend:5006", "websocket": False},
            ],
        }
    ]
}


def backend_stats(backend: Any) -> dict[str, Any]:
    result = wsclient(backend, "--http", "http://127.0.0.1:5006/api/_stats")
    assert result["status"] == 200, result
    return result["body"]


def test_reload_keeps_200_open_websockets_and_new_connections_get_the_new_config(host):
    backend = host_named(BACKEND)
    if "location /api/v2/ {" in host.run("nginx -T").stdout:
        # A repeated `molecule verify`: put the converge's vhost back first.
        restore = ansible_playbook("site.yml", "-l", PROXY)
        assert restore.returncode == 0, restore.stdout[-4000:] + restore.stderr[-4000:]

    # Before the change /api/v2/stream is served by the WebSocket location /api/.
    before_change = wsclient(host, NEW_PATH_WS, "--text", "before")
    assert before_change["status"] == 101 and before_change["text_echo"] is True, before_change

    host.run(f"rm -f {HOLD_RESULT} {HOLD_RESULT}.tmp {HOLD_RELEASE}")
    hold = (
        f"{HOLD_CLIENT} {HOLD_URL} {HELD} {HOLD_RELEASE} --max-seconds 300 > {HOLD_RESULT}.tmp 2>&1; "
        f"mv {HOLD_RESULT}.tmp {HOLD_RESULT}"
    )
    host.run(f"setsid nohup sh -c {shlex.quote(hold)} > /dev/null 2>&1 &")
    wait_for(lambda: backend_stats(backend)["websocket_open"] >= HELD, 30, f"{HELD} WebSockets open at the backend")
    hold_started = time.monotonic()

    master, old_workers = nginx_pids(host)
    assert established_to(host, 5006) >= HELD

    run = ansible_playbook("site.yml", "-l", PROXY, "-e", json.dumps(CHANGED_VHOSTS))
    run_seconds = time.monotonic() - hold_started
    print(f"role run with {HELD} WebSockets held: {run_seconds:.1f} s")

    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert play_recap(run.stdout).get(PROXY, {}).get("changed", 0) >= 1, run.stdout[-2000:]
    reloaded = "RUNNING HANDLER [wsproxy.nginx.websocket_proxy : Reload nginx]"
    assert reloaded in uncoloured(run.stdout), run.stdout[-4000:]
    assert not host.file(HOLD_RESULT).exists, host.file(HOLD_RESULT).content_string

    # A reload, not a restart: the same master, new workers for the new configuration, and old workers
    # still there, shutting down (a worker that has nothing open exits at once), with the 200 backend
    # connections still established.
    processes = nginx_processes(host)
    new_master, _workers = nginx_pids(host)
    assert new_master == master, "nginx was restarted: the master PID changed"
    current = [pid for pid, title in processes.items() if title == "nginx: worker process"]
    assert current and not set(current) & set(old_workers), (old_workers, processes)
    draining = [pid for pid, title in processes.items() if title == "nginx: worker process is shutting down"]
    assert draining and set(draining) <= set(old_workers), (old_workers, processes)
    assert established_to(host, 5006) >= HELD

    # New connections get the new configuration, while the 200 are still open.
    assert "location /api/v2/ {" in host.run("nginx -T").stdout
    seen_before = len(backend_log(backend))
    refused = wsclient(host, NEW_PATH_WS, "--expect-status", "426")
    assert refused["status"] == 426, refused
    plain = wsclient(host, "--http", "http://api.example.test/api/v2/headers")
    assert plain["status"] == 200 and plain["body"]["path"] == "/api/v2/headers", plain
    assert plain["body"]["headers"]["host"] == "api.example.test", plain
    upgrade_requests = [entry for entry in backend_log(backend)[seen_before:] if entry.get("path") == "/api/v2/stream"]
    assert upgrade_requests and not upgrade_requests[-1].get("headers", {}).get("upgrade"), upgrade_requests
    fresh = wsclient(host, HOLD_URL, "--text", "after-reload", "--binary", "640")
    assert fresh["status"] == 101 and fresh["text_echo"] and fresh["binary_echo"], fresh

    # Release the 200: every one of them echoes again, through the old workers, and none failed.
    assert host.run(f"touch {HOLD_RELEASE}").rc == 0
    wait_for(lambda: host.file(HOLD_RESULT).exists, 60, "the held WebSockets to echo and close")
    held = json.loads(host.file(HOLD_RESULT).content_string)
    assert held["released"] is True and held["held_seconds"] >= run_seconds, held
    assert held["opened"] == HELD and held["echoed_before"] == HELD, held
    assert held["echoed_after"] == HELD and held["errors"] == 0, held

    # Once their clients closed them, the old workers exit: nothing piles up.
    wait_for(
        lambda: not any("shutting down" in title for title in nginx_processes(host).values()),
        15,
        "the old workers to exit after their WebSockets closed",
    )
    assert nginx_pids(host)[0] == master
