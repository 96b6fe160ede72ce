"""A fleet of three proxies: site.yml rolls out one host at a time and stops at the first refusal.

The first host of the rollout gets a change that nginx -t refuses there (its backend does not
resolve) while the same change is fine on the others: the run must fail, the first host must be
rolled back, and the other two must never be touched (not one checksum, not even a reload) and keep
serving WebSockets. A change that is valid everywhere then reaches every host, one at a time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import (
    NGINX_MASTER,
    NGINX_WORKERS,
    ansible_playbook,
    docker,
    etc_nginx_state,
    failure_messages,
    host_named,
    play_recap,
    state_diff,
    uncoloured,
    wsclient,
)

# The platforms' order in molecule.yml, so the inventory order, so the order site.yml (serial 1) runs them.
FLEET = ["wsproxy-fleet-1", "wsproxy-fleet-2", "wsproxy-fleet-3"]
FIRST, REST = FLEET[0], FLEET[1:]
BREAK_FIRST_HOST = Path(__file__).resolve().parent.parent / "break-first-host.yml"
VHOST = "/etc/nginx/sites-available/api-calls.conf"
PLAY = "PLAY [WebSocket-aware nginx reverse proxies]"


# failure_messages() reads the JSON result format: every run of this module uses it (molecule/conftest.py).
pytestmark = pytest.mark.usefixtures("json_results")


@pytest.fixture(scope="module")
def fleet():
    return {name: host_named(name) for name in FLEET}


def assert_echoes(host) -> None:
    result = wsclient(host, "ws://api.example.test/api/frontend-audio", "--text", "x")
    assert result["status"] == 101, (host.backend.get_hostname(), result)
    assert result["text_echo"] is True, (host.backend.get_hostname(), result)


def batches(output: str) -> list[list[str]]:
    """For each batch of the play (serial prints the play header once per batch), the fleet hosts
    that had a task result in it, in order of first appearance."""
    result = []
    for chunk in uncoloured(output).split(PLAY)[1:]:
        seen: list[str] = []
        for host in re.findall(r"^(?:ok|changed|fatal|failed|skipping): \[([^\]]+)\]", chunk, re.MULTILINE):
            if host in FLEET and host not in seen:
                seen.append(host)
        result.append(seen)
    return result


def test_every_host_serves_the_converged_configuration(fleet):
    for name, host in fleet.items():
        assert host.run("nginx -t").rc == 0, name
        assert "proxy_read_timeout 1d;" in host.file(VHOST).content_string, name
        assert_echoes(host)


def test_a_change_refused_on_the_first_host_stops_the_rollout(fleet):
    before = {name: etc_nginx_state(host) for name, host in fleet.items()}

    run = ansible_playbook("site.yml", "-e", f"@{BREAK_FIRST_HOST}")
    output = run.stdout[-6000:] + run.stderr[-3000:]

    assert run.returncode != 0, f"the rollout succeeded: {output}"
    message = " | ".join(failure_messages(run).get(FIRST, []))
    for fragment in ("host not found in upstream", "nope.invalid", "rolled back", "nginx was not reloaded"):
        assert fragment in message, f"{fragment!r} is not in {FIRST}'s failure message: {message}"
    # Only the first batch ran: the others do not appear in the recap (or did nothing at all).
    recap = play_recap(run.stdout)
    assert recap[FIRST]["failed"] == 1, recap
    for name in REST:
        assert name not in recap or recap[name]["ok"] == 0, f"{name} was run: {recap}"
        assert f"[{name}]" not in uncoloured(run.stdout), f"{name} has task results: {output}"
    assert batches(run.stdout) == [[FIRST]], batches(run.stdout)

    for name, host in fleet.items():
        after = etc_nginx_state(host)
        assert after == before[name], f"{name} changed:\n" + "\n".join(state_diff(before[name], after))
        assert "proxy_read_timeout 1d;" in host.file(VHOST).content_string, name
        assert_echoes(host)


def test_a_good_change_rolls_out_to_every_host_one_at_a_time(fleet):
    before = {name: etc_nginx_state(host) for name, host in fleet.items()}

    run = ansible_playbook("site.yml", "-e", json.dumps({"websocket_proxy_read_timeout": "2h"}))
    output = run.stdout[-6000:] + run.stderr[-3000:]

    assert run.returncode == 0, output
    assert batches(run.stdout) == [[name] for name in FLEET], batches(run.stdout)
    recap = play_recap(run.stdout)
    for name, host in fleet.items():
        assert recap[name]["failed"] == 0 and recap[name]["changed"] >= 1, recap
        after = etc_nginx_state(host)
        changed = [line.split(":")[0] for line in state_diff(before[name], after)]
        assert changed == [VHOST, NGINX_WORKERS], f"{name}: {changed}"
        assert "proxy_read_timeout 2h;" in host.file(VHOST).content_string, name
        # Reloaded (new workers), never restarted (same master).
        assert after[NGINX_MASTER] == before[name][NGINX_MASTER], name
        assert after[NGINX_WORKERS] != before[name][NGINX_WORKERS], name
        assert_echoes(host)


def test_an_unreachable_host_stops_a_rollout_in_batches_of_two(fleet, monkeypatch):
    """max_fail_percentage counts failed hosts, not unreachable ones; site.yml's last task makes up for it."""
    before = {name: etc_nginx_state(host) for name, host in fleet.items()}
    # Every docker exec into a paused container fails. Without pipelining that fails the connection's first
    # step (its temporary folder), which Ansible reports UNREACHABLE; with it, a module failure (FAILED).
    monkeypatch.setenv("ANSIBLE_PIPELINING", "false")
    docker("pause", FIRST)
    try:
        run = ansible_playbook("site.yml", "-e", "wsproxy_serial=2",
                               "-e", json.dumps({"websocket_proxy_read_timeout": "3h"}))
    finally:
        docker("unpause", FIRST)
    output = run.stdout[-6000:] + run.stderr[-3000:]

    assert run.returncode != 0, f"the rollout succeeded: {output}"
    recap = play_recap(run.stdout)
    assert recap[FIRST]["unreachable"] == 1, recap
    second, third = REST
    # The second host shared the first batch: it got the change, then stopped the rollout.
    assert "proxy_read_timeout 3h;" in fleet[second].file(VHOST).content_string
    message = " | ".join(failure_messages(run).get(second, []))
    assert f"Stopping the rollout before the next batch: {FIRST} failed or became unreachable" in message, message
    # The third host, in the next batch, was never touched.
    # (The unreachable host's "fatal: ... UNREACHABLE!" goes to stderr: the recap above placed it in this batch.)
    assert batches(run.stdout) == [[second]], batches(run.stdout)
    assert third not in recap or recap[third]["ok"] == 0, recap
    after = etc_nginx_state(fleet[third])
    assert after == before[third], f"{third} changed:\n" + "\n".join(state_diff(before[third], after))
    for host in fleet.values():
        assert_echoes(host)
