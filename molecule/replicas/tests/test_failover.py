"""Passive failover: one replica's servers stop, new handshakes never fail, and it is used again once back.

Vhost failover (:8005): /api/ over app-1:5006 and app-2:5006, each max_fails 1 and fail_timeout 5s, with
`proxy_next_upstream error timeout`. WebSockets are opened first and held (ws_clients.js --hold), some on each
replica. Then app-1's servers stop (tests/apps/replica.js: the flag file; the container and its address stay, so
nginx's connections are refused). For 30 s new handshakes keep coming: none may fail (nginx retries a refused one
on app-2, and skips app-1 for 5 s after each failure). The held WebSockets on app-2 must still echo; those on
app-1 ended with it. Then app-1 starts again: through the role's default for WebSocket replicas (vhost api,
max_fails=0) new handshakes reach it at once; through the failover vhost (max_fails set) nginx gives it one
handshake once fail_timeout has passed, and takes it back only when that WebSocket has ended (see balance.py's
websocket_servers and tests/nginx/test_upstreams_nginx.py, which proves that mechanism without a race).
"""

from __future__ import annotations

import json
import re
import shlex
import time
from typing import Any

from conftest import host_named, node_app

testinfra_hosts = ["ansible://proxies"]

URL = "ws://127.0.0.1:8005/api/call-events"
DEFAULT_URL = "ws://api.example.test/api/call-events"  # the api vhost: app-1 weight 3, app-2 weight 1, max_fails=0
STOPPED, SURVIVOR = "app-1", "app-2"
STOPPED_CONTAINER = "wsproxy-replicas-app-1"
STOP_FLAG = "/tmp/replica.stopped"  # tests/apps/replica.js
FAIL_TIMEOUT = 5
DURATION = 30
MIN_HANDSHAKES = 200
HELD = 10
HOLD_READY = "/tmp/failover-hold.ready"
HOLD_RELEASE = "/tmp/failover-hold.release"
HOLD_RESULT = "/tmp/failover-hold.json"


def listening(host: Any, name: str, port: int) -> bool:
    """Whether name:port accepts a TCP connection, seen from the proxy."""
    probe = (f"import socket\ntry: socket.create_connection(({name!r}, {port}), 1).close()\n"
             "except OSError: raise SystemExit(1)")
    return host.run(f"python3 -c {shlex.quote(probe)}").rc == 0


def wait_for(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.2)


def access_log_length(host: Any) -> int:
    return int(host.run("wc -l < /var/log/nginx/access.log").stdout)


def access_log_lines(host: Any, after: int) -> list[str]:
    """nginx's access log, from line after + 1."""
    return host.run(f"tail -n +{after + 1} /var/log/nginx/access.log").stdout.splitlines()


def test_a_stopped_replica_loses_no_new_handshake_and_is_used_again_when_back(host):
    replica = host_named(STOPPED_CONTAINER)
    assert listening(host, STOPPED, 5006) and listening(host, SURVIVOR, 5006), "both replicas must be up first"
    host.run(f"rm -f {HOLD_READY} {HOLD_RELEASE} {HOLD_RESULT} {HOLD_RESULT}.tmp")
    hold = (f"cd /opt/apps && node ws_clients.js --url {URL} --hold {HELD} --ready-file {HOLD_READY} "
            f"--release-file {HOLD_RELEASE} --max-hold 120 > {HOLD_RESULT}.tmp 2>&1; "
            f"mv {HOLD_RESULT}.tmp {HOLD_RESULT}")
    host.run(f"setsid nohup sh -c {shlex.quote(hold)} > /dev/null 2>&1 &")
    try:
        wait_for(lambda: host.file(HOLD_READY).exists, 30, f"{HELD} WebSockets held")
        ready = json.loads(host.file(HOLD_READY).content_string)["held"]
        assert all(entry["echoed_before"] for entry in ready), ready
        on_survivor = [entry["n"] for entry in ready if entry["replica"] == SURVIVOR]
        on_stopped = [entry["n"] for entry in ready if entry["replica"] == STOPPED]
        assert on_survivor and on_stopped, ready

        # Stop app-1's servers: its port refuses from now on, its container and address stay.
        assert replica.run(f"touch {STOP_FLAG}").rc == 0
        wait_for(lambda: not listening(host, STOPPED, 5006), 10, f"{STOPPED}:5006 to refuse connections")
        logged_before = access_log_length(host)

        # A steady stream of new handshakes, two at a time, each client pausing 20 ms between its own.
        during = node_app(host, "ws_clients.js", "--url", URL, "--duration", str(DURATION), "--concurrency", "2",
                          "--interval", "20")
        # nginx tried app-1 again after each fail_timeout, was refused, and passed the handshake on to app-2:
        # those handshakes' log lines name two upstreams (the WebSocket's line is written when it closes).
        retried = [line for line in access_log_lines(host, logged_before)
                   if re.search(r"upstream=\S+, \S+ upstream_status=502, 101 ", line)]
        print(f"{STOPPED} stopped, {DURATION} s of new handshakes: {during['attempts']} attempts, "
              f"{during['succeeded']} succeeded, {during['failed']} failed, by replica {during['replicas']}; "
              f"{len(retried)} were refused by {STOPPED} and passed on to {SURVIVOR}")
        assert during["attempts"] >= MIN_HANDSHAKES, during
        assert during["failed"] == 0, during["failures"]
        assert during["replicas"] == {SURVIVOR: during["attempts"]}, during
        # Once at the stop, then once per fail_timeout (5 s: 6 or 7 in 30 s; nginx's default 10 s would give 3 or
        # 4, and workers that did not share the upstream's state through its zone about twice as many).
        assert 5 <= len(retried) <= 8, retried

        # The WebSockets held on app-2 through all of it still echo; those on app-1 ended with its server.
        assert host.run(f"touch {HOLD_RELEASE}").rc == 0
        wait_for(lambda: host.file(HOLD_RESULT).exists, 30, "the held WebSockets to echo")
        held = {entry["n"]: entry for entry in json.loads(host.file(HOLD_RESULT).content_string)["held"]}
        print(f"held: {len(on_survivor)} on {SURVIVOR}, {len(on_stopped)} on {STOPPED}; "
              f"after: {[(e['replica'], e['echoed_after'], e['closed']) for e in held.values()]}")
        assert all(held[n]["echoed_after"] and held[n]["closed"] is None for n in on_survivor), held
        assert all(not held[n]["echoed_after"] and held[n]["closed"] is not None for n in on_stopped), held

        # app-1 comes back. The role's default (max_fails=0) takes it back at once, by its weight (3 of 4).
        assert replica.run(f"rm -f {STOP_FLAG}").rc == 0
        wait_for(lambda: listening(host, STOPPED, 5006), 15, f"{STOPPED}:5006 to listen again")
        at_once = node_app(host, "ws_clients.js", "--url", DEFAULT_URL, "--count", "20", "--concurrency", "1")
        print(f"{STOPPED} back, through the default (max_fails=0), at once: {at_once['replicas']}")
        assert at_once["succeeded"] == 20, at_once
        assert at_once["replicas"].get(STOPPED, 0) >= 10, at_once
        # With max_fails set, nginx gives it a handshake once fail_timeout has passed (it marks it live again only
        # when that WebSocket has ended, so how many of the next ones follow is a race with that close).
        time.sleep(FAIL_TIMEOUT + 1)
        after = node_app(host, "ws_clients.js", "--url", URL, "--count", "20", "--concurrency", "1")
        print(f"{STOPPED} back, through max_fails 1, after fail_timeout: {after['replicas']}")
        assert after["succeeded"] == 20, after
        assert after["replicas"].get(STOPPED, 0) >= 1, after
    finally:
        replica.run(f"rm -f {STOP_FLAG}")
        host.run(f"touch {HOLD_RELEASE}")
        wait_for(lambda: listening(host, STOPPED, 5006), 15, f"{STOPPED}:5006 to listen again")
