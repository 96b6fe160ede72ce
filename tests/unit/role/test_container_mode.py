"""Container mode through the role itself (ansible-playbook --check on this machine): a bad
websocket_proxy_container, a folder that is not there, and a container that is not there each fail in preflight
with a message naming the field and the value; so does the doctor, before any probe."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
VHOSTS = [{"server_name": "api-calls.example.com", "locations": [{"backend": "v25-dash-calls-backend:5006"}]}]


def run_role(tmp_path: Path, role: str, role_vars: dict) -> subprocess.CompletedProcess[str]:
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.include_role:\n        name: wsproxy.nginx.{role}\n"
    )
    # --check: even if a check let something through, nothing on this machine would change.
    return subprocess.run(["ansible-playbook", "--check", str(play), "-e", json.dumps(role_vars)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(("container", "expected"), [
    ({"name": "calls nginx", "config_dir": "/srv"},
     ["websocket_proxy_container.name: 'calls nginx' is not a Docker container name"]),
    ({"name": "calls-nginx", "config_dir": "srv/calls"}, ["websocket_proxy_container.config_dir: 'srv/calls' is not"]),
    # The argument spec's choices catch this one first.
    ({"name": "calls-nginx", "config_dir": "/srv", "mount": "/etc/nginx/sites-enabled"},
     ["websocket_proxy_container", "mount", "/etc/nginx/sites-enabled"]),
    ({"name": "calls-nginx", "config_dir": "/nonexistent/wsproxy-conf.d"},
     ['websocket_proxy_container.config_dir: \\"/nonexistent/wsproxy-conf.d\\" is not a folder']),
    ({"name": "wsproxy-container-absent", "config_dir": "/tmp"},
     ['websocket_proxy_container.name: no container \\"wsproxy-container-absent\\"']),
])  # fmt: skip
def test_bad_container_mode_fails_in_preflight_naming_the_field(tmp_path, container, expected):
    run = run_role(tmp_path, "websocket_proxy", {"websocket_proxy_container": container,
                                                 "websocket_proxy_vhosts": VHOSTS})
    assert run.returncode != 0
    for text in expected:
        assert text in run.stdout + run.stderr, (run.stdout + run.stderr)[-3000:]
    assert "Write the configuration as one transaction" not in run.stdout


@pytest.mark.parametrize(("container", "expected"), [
    ({"name": "calls nginx", "config_dir": "/srv"}, "websocket_proxy_container.name: 'calls nginx' is not a Docker"),
    ({"name": "wsproxy-container-absent", "config_dir": "/srv/calls/conf.d"},
     "websocket_proxy_container.name: no container 'wsproxy-container-absent' on the Docker host"),
])  # fmt: skip
def test_the_doctor_in_container_mode_names_a_bad_or_missing_container(tmp_path, container, expected):
    """The doctor reads websocket_proxy_container as the role does; with no such container there is nothing to
    probe, and it says so by name instead of probing the Docker host's own network."""
    run = run_role(tmp_path, "websocket_doctor", {"websocket_proxy_container": container,
                                                  "websocket_proxy_vhosts": VHOSTS})
    assert run.returncode != 0
    assert expected in run.stdout + run.stderr, (run.stdout + run.stderr)[-3000:]
    assert "Probe each WebSocket location" not in run.stdout
