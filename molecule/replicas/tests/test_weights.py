"""Weights: app-1:5006 weight 3, app-2:5006 weight 1 (vhost api). At least 1,000 WebSocket handshakes through
nginx, each echoing once, must split within 5 percentage points of 75/25 (nginx's smooth weighted round robin,
shared by the workers through the upstream's zone)."""

from __future__ import annotations

from conftest import node_app

testinfra_hosts = ["ansible://proxies"]

HANDSHAKES = 1000
URL = "ws://api.example.test/api/audio-stream"


def test_handshakes_split_three_to_one(host):
    summary = node_app(host, "ws_clients.js", "--url", URL, "--count", str(HANDSHAKES), "--concurrency", "4")
    assert summary["attempts"] == HANDSHAKES and summary["succeeded"] == HANDSHAKES, summary
    share = summary["replicas"].get("app-1", 0) / HANDSHAKES
    print(f"{HANDSHAKES} handshakes in {summary['seconds']} s: {summary['replicas']}, app-1 {share:.1%}")
    assert set(summary["replicas"]) == {"app-1", "app-2"}, summary
    assert abs(share - 0.75) <= 0.05, summary["replicas"]
