"""Socket.IO 4 behind two replicas: sticky balancing works, round robin does not.

A Socket.IO session starts with HTTP long-polling (a handshake GET that creates the session id on one replica,
then POSTs and GETs that carry it) and only then upgrades to a WebSocket: every request of a session must reach
the replica that created it, or that replica's peer answers 400 {"code":1,"message":"Session ID unknown"}.
The official socket.io-client (tests/apps/socketio_clients.js, default transports) runs CLIENTS clients from
SOURCES loopback addresses on the proxy (127.0.N.1, distinct in the third octet, which is what ip_hash keys on).

Through `balance: ip_hash` (vhost sticky, :8001) and `balance: hash` with `hash_key: $remote_addr` (vhost hashed,
:8002, `hash $remote_addr consistent`), every client must connect, reach the WebSocket transport, get every
`echo` acknowledged and see no error at all, and the clients must be spread over both replicas. Through the
control (vhost roundrobin, :8003, the default round robin over the same replicas) clients must fail, with
Socket.IO's own "Session ID unknown".
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from conftest import node_app

testinfra_hosts = ["ansible://proxies"]

CLIENTS = 24
SOURCES = 12  # two clients per address: clients of one address must land on the same replica
EVENTS = 3
REPLICAS = {"app-1", "app-2"}
STICKY = {"ip_hash": 8001, "hash $remote_addr consistent": 8002}
ROUND_ROBIN = 8003
SESSION_UNKNOWN = '{"code":1,"message":"Session ID unknown"}'


def run_clients(host: Any, port: int, timeout: int) -> dict[str, Any]:
    return node_app(host, "socketio_clients.js", "--url", f"http://127.0.0.1:{port}", "--clients", str(CLIENTS),
                    "--addresses", str(SOURCES), "--events", str(EVENTS), "--timeout", str(timeout))


def brief(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if key != "results"}


@pytest.mark.parametrize("balance", STICKY)
def test_sticky_balancing_keeps_every_socketio_session_on_one_replica(host, balance):
    summary = run_clients(host, STICKY[balance], timeout=20)
    print(f"{balance}: {brief(summary)}")
    results = summary["results"]
    assert summary["clients"] == CLIENTS and summary["sources"] == SOURCES >= 8, brief(summary)
    # Every client: connected, upgraded from polling to the WebSocket transport, every event acknowledged, no
    # error of any kind on the way (no 400, no failed upgrade probe, no reconnection).
    failed = [r for r in results if not (r["connected"] and r["upgraded"] and r["transport"] == "websocket")]
    assert not failed, failed
    assert all(r["events_acked"] == EVENTS for r in results), [r for r in results if r["events_acked"] != EVENTS]
    assert all(not r["errors"] for r in results), [r for r in results if r["errors"]]
    # One replica per session: the one that said hello answered every ack, and no reconnection found another.
    for r in results:
        assert r["replicas_seen"] == [r["replica"]] and set(r["ack_replicas"]) == {r["replica"]}, r
    # The replicas saw each client's own address (X-Forwarded-For), the key nginx balanced on.
    assert all(r["seen_as"] == r["source"] for r in results), [(r["source"], r["seen_as"]) for r in results]
    # Spread over both replicas, and every address always on the same one.
    assert set(summary["replicas"]) == REPLICAS, summary["replicas"]
    by_source = defaultdict(set)
    for r in results:
        by_source[r["source"]].add(r["replica"])
    assert all(len(replicas) == 1 for replicas in by_source.values()), dict(by_source)


def test_round_robin_breaks_socketio_sessions(host):
    """The control: the same clients through round robin. Whenever a session's next request goes to the other
    replica, it answers 400 "Session ID unknown" (polling) or refuses the upgrade probe."""
    summary = run_clients(host, ROUND_ROBIN, timeout=10)
    print(f"round_robin: {brief(summary)}")
    results = summary["results"]
    succeeded = [r for r in results if r["connected"] and r["transport"] == "websocket"
                 and r["events_acked"] == EVENTS and not r["errors"]]
    assert len(succeeded) < CLIENTS, "every client worked through round robin: the control proves nothing"
    assert summary["failed"] == CLIENTS - len(succeeded) >= 1, brief(summary)
    session_unknown = [r for r in results if any(SESSION_UNKNOWN in error for error in r["errors"])]
    assert session_unknown, summary["errors"]
    # Both replicas took part (the sessions broke between them, not because one was down).
    assert set(summary["replicas"]) <= REPLICAS and len(summary["replicas"]) == 2, summary["replicas"]
    print(f"round_robin: {summary['failed']} of {CLIENTS} clients failed, {len(session_unknown)} saw "
          f"400 {SESSION_UNKNOWN}; {summary['websocket']} ended on the WebSocket transport")
