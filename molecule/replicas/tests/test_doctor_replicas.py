"""The doctor on replicas: it probes every replica of a location directly, names a dead one while nginx fails over to
the other, and warns where Socket.IO's path is spread over both replicas without stickiness (vhost roundrobin).

Run from the controller as an operator would (playbooks/doctor.yml, the json callback). Socket.IO answers a plain
WebSocket only on its own URI, and neither app echoes a frame first thing, so the doctor probes the handshake only.
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

import pytest
from conftest import ansible_playbook, host_named

testinfra_hosts = ["ansible://proxies"]

PROXY = "wsproxy-replicas-bookworm"
STOP_FLAG = "/tmp/replica.stopped"  # tests/apps/replica.js
OPTIONS = json.dumps(
    {"doctor_echo": False, "doctor_probe_uris": {"/socket.io/": "/socket.io/?EIO=4&transport=websocket"}}
)


@pytest.fixture(scope="module", autouse=True)
def json_output():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANSIBLE_STDOUT_CALLBACK", "ansible.builtin.json")
        patch.setenv("ANSIBLE_NOCOLOR", "1")
        yield


def listening(host: Any, name: str, port: int) -> bool:
    probe = f"import socket; socket.create_connection(({name!r}, {port}), 1).close()"
    return host.run(f"python3 -c {shlex.quote(probe)}").rc == 0


def doctor() -> dict[str, Any]:
    run = ansible_playbook("playbooks/doctor.yml", "-e", OPTIONS)
    assert run.returncode == 0, f"rc {run.returncode}:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    text = "\n" + run.stdout
    output, _end = json.JSONDecoder().raw_decode(text[text.index("\n{") + 1 :])
    [report] = [
        result["ansible_facts"]["websocket_doctor_report"]
        for play in output["plays"]
        for task in play["tasks"]
        for host, result in task["hosts"].items()
        if host == PROXY and "websocket_doctor_report" in result.get("ansible_facts", {})
    ][-1:]
    print(report["table"], *report["details"], sep="\n")
    return {row["location"]: row for row in report["rows"]}


def test_socket_io_without_stickiness_is_a_warning_and_sticky_ones_are_ok(host):
    rows = doctor()
    for sticky in ("sticky:8001 /socket.io/", "hashed:8002 /socket.io/"):
        assert rows[sticky]["status"] == "ok", rows[sticky]
    control = rows["roundrobin:8003 /socket.io/"]
    assert control["status"] == "warn", control
    assert "Socket.IO over 2 servers by round robin, not sticky" in control["verdict"], control
    assert "400 Session ID unknown" in " ".join(control["details"]), control


def test_a_dead_replica_is_named_while_nginx_fails_over(host):
    replica = host_named("wsproxy-replicas-app-1")
    assert replica.run(f"touch {STOP_FLAG}").rc == 0
    try:
        deadline = time.monotonic() + 15
        while listening(host, "app-1", 5006):
            assert time.monotonic() < deadline, "app-1:5006 still accepts connections"
            time.sleep(0.2)
        rows = doctor()
    finally:
        replica.run(f"rm -f {STOP_FLAG}")
    failover = rows["failover:8005 /api/"]
    assert failover["status"] == "warn", failover
    assert failover["verdict"] == (
        "warn backend: app-1:5006 (refused) down; nginx fails over to the other 1 of 2 servers"
    ), failover
    assert failover["nginx"].startswith("101"), failover
    assert [entry["backend"] for entry in failover["direct_results"] if entry["problem"]] == ["app-1:5006"]
    # For the tests after this one: nginx must use app-1 again on the sticky vhosts, where the doctor's probes through
    # nginx made it skip app-1. Past its fail_timeout (nginx's default, 10 s) nginx tries app-1 with one request, and
    # takes it back only once that request has completed; until then the other replica gets app-1's clients, and
    # their Socket.IO sessions break (measured: 11 of 24 clients got "Session ID unknown" when the sticky test ran
    # 11 s after app-1 was back, its first request being a long-poll). So: wait, then a quick request (Socket.IO's
    # handshake, answered at once) from every client address of the sticky test.
    deadline = time.monotonic() + 30
    for port in (5006, 3000):
        while not listening(host, "app-1", port):
            assert time.monotonic() < deadline, f"app-1:{port} did not come back"
            time.sleep(0.2)
    time.sleep(11)
    handshakes = (
        "import http.client\n"
        "for port in (8001, 8002, 8003):\n"
        "    for third in range(1, 13):\n"
        "        c = http.client.HTTPConnection('127.0.0.1', port, timeout=5, source_address=(f'127.0.{third}.1', 0))\n"
        "        c.request('GET', '/socket.io/?EIO=4&transport=polling')\n"
        "        assert c.getresponse().status == 200\n"
        "        c.close()\n"
    )
    assert host.run(f"python3 -c {shlex.quote(handshakes)}").rc == 0
