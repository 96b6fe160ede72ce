"""The seed's backend, as a Node `ws` server: WebSocket routing by path, through nginx, to both replicas.

tests/apps/ws_server.js routes upgrades by pathname in the http server's 'upgrade' handler: the three seed paths
go to ws's WebSocketServer.handleUpgrade, any other path has its socket destroyed. Through the `api` vhost
(/api/ over app-1:5006 and app-2:5006), each seed path must give 101 and echo, with Node's `ws` client and with
wscat (the CLI scripts/ensure-clients.sh installed); an unknown path must not give a WebSocket.
"""

from __future__ import annotations

import shlex

import pytest
from conftest import node_app

testinfra_hosts = ["ansible://proxies"]

SEED_PATHS = ["/api/frontend-audio", "/api/call-events", "/api/audio-stream"]
BASE = "ws://api.example.test"
WSCAT = "/opt/wscat/node_modules/.bin/wscat"
HANDSHAKES = 8  # per path: weighted 3:1, so both replicas answer


def wscat(host, path: str, message: str):
    # wscat quits when its stdin ends: keep stdin open (the sleep) while -x sends and -w waits for the echo.
    return host.run(f"sleep 2 | {WSCAT} -c {shlex.quote(BASE + path)} -x {shlex.quote(message)} -w 1")


@pytest.mark.parametrize("path", SEED_PATHS)
def test_seed_path_upgrades_and_echoes_with_node_ws(host, path):
    summary = node_app(host, "ws_clients.js", "--url", BASE + path, "--count", str(HANDSHAKES), "--concurrency", "1")
    print(f"{path}: {summary}")
    assert summary["attempts"] == HANDSHAKES and summary["succeeded"] == HANDSHAKES, summary
    assert set(summary["replicas"]) == {"app-1", "app-2"}, summary


@pytest.mark.parametrize("path", SEED_PATHS)
def test_seed_path_upgrades_and_echoes_with_wscat(host, path):
    message = f"wscat says hello on {path}"
    run = wscat(host, path, message)
    assert run.rc == 0, run.stderr
    lines = run.stdout.splitlines()
    # What wscat printed: the replica's greeting, then the echo of what it sent.
    assert len(lines) == 2 and lines[0] in ("replica:app-1", "replica:app-2") and lines[1] == message, lines


def test_unknown_path_gets_no_websocket(host):
    # Each destroyed socket is an error of its server to nginx. The role writes max_fails=0 for a WebSocket
    # location's replicas, so neither is skipped afterwards; with max_fails set they would be, for their
    # fail_timeout (a request meanwhile gets 502 "no live upstreams"). This test module still runs last (by name).
    summary = node_app(host, "ws_clients.js", "--url", BASE + "/api/other", "--count", "4", "--concurrency", "1")
    print(f"/api/other: {summary}")
    # The server destroys the socket without an answer: nginx says 502 (after trying the other replica too).
    assert summary["succeeded"] == 0 and summary["errors"] == {"status 502": 4}, summary
    run = wscat(host, "/api/other", "hello")
    assert run.rc != 0 and "Unexpected server response: 502" in run.stderr, (run.rc, run.stdout, run.stderr)
