"""The doctor names the broken hop.

The converge left a healthy proxy (wsproxy-doctor-bookworm): vhost api-calls (ws://, port 80) and
api-calls-tls (wss://, port 443), both /api/ -> calls-backend:5006. Each test breaks one hop on purpose,
in the containers directly (stop the backend process, edit a vhost file and reload, add a map to
conf.d, ...), runs playbooks/doctor.yml from the controller as an operator would, checks that the
verdict of each location names that hop, and puts everything back (the whole /etc/nginx, then a reload).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import ansible_playbook

PROXY = "wsproxy-doctor-bookworm"
BACKEND = "wsproxy-doctor-backend"
WS = "api-calls:80 /api/"
WSS = "api-calls-tls:443 /api/"
VHOST = "/etc/nginx/sites-available/api-calls.conf"
CA = "/etc/ssl/wsproxy/ca.pem"
BACKUP = "/tmp/doctor-test-nginx.bak"


def sh(container: str, script: str) -> str:
    """Run a shell script in a container (docker exec: fast, and no Ansible between the test and the break)."""
    run = subprocess.run(
        ["docker", "exec", container, "sh", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, f"{container}: {script!r} failed ({run.returncode}): {run.stdout}{run.stderr}"
    return run.stdout


def workers() -> set[str]:
    return set(sh(PROXY, 'pgrep -P "$(cat /run/nginx.pid)" || true').split())


def reload() -> None:
    """nginx -t, a graceful reload, and a wait until only new workers serve (at most 10 s)."""
    old = workers()
    sh(PROXY, "nginx -t -q && nginx -s reload 2>/dev/null")
    for _attempt in range(100):
        now = workers()
        if now and not now & old:
            return
        time.sleep(0.1)
    raise AssertionError(f"nginx did not replace its workers {sorted(old)} within 10 s")


@contextmanager
def broken(script: str, *, reload_after: bool = True) -> Iterator[None]:
    """Break the proxy with ``script`` (then reload, unless the break is a file nginx has not loaded yet),
    and afterwards put the whole /etc/nginx back and reload."""
    sh(PROXY, f"rm -rf {BACKUP} && cp -a /etc/nginx {BACKUP}")
    try:
        sh(PROXY, script)
        if reload_after:
            reload()
        yield
    finally:
        sh(PROXY, f"rm -rf /etc/nginx && cp -a {BACKUP} /etc/nginx && rm -rf {BACKUP}")
        reload()


@pytest.fixture(scope="module", autouse=True)
def json_output():
    """The report is read from the json stdout callback (the fact websocket_doctor_report of the verdict task)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANSIBLE_STDOUT_CALLBACK", "ansible.builtin.json")
        patch.setenv("ANSIBLE_NOCOLOR", "1")
        yield


def doctor(*extra: str, ca: bool = True, expect_rc: int = 0) -> dict[str, Any]:
    """Run the doctor from the controller; return its report (and print its table for the log)."""
    args = ["playbooks/doctor.yml", *(["-e", f"doctor_ca_file={CA}"] if ca else []), *extra]
    run = ansible_playbook(*args)
    assert run.returncode == expect_rc, f"rc {run.returncode}:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    # The json callback prints one document; other callbacks (Molecule enables profile_tasks) may print around it.
    text = "\n" + run.stdout
    output, _end = json.JSONDecoder().raw_decode(text[text.index("\n{") + 1 :])
    facts = [
        result["ansible_facts"]["websocket_doctor_report"]
        for play in output["plays"]
        for task in play["tasks"]
        for host, result in task["hosts"].items()
        if host == PROXY and "websocket_doctor_report" in result.get("ansible_facts", {})
    ]
    assert facts, f"no doctor_report in the output:\n{run.stdout[-4000:]}"
    report = facts[-1]
    report["_run"] = run
    print(report["table"], *report["details"], sep="\n")
    return report


def row(report: dict[str, Any], location: str) -> dict[str, Any]:
    found = [r for r in report["rows"] if r["location"] == location]
    assert len(found) == 1, [r["location"] for r in report["rows"]]
    return found[0]


def assert_ok(report: dict[str, Any], location: str) -> None:
    found = row(report, location)
    assert found["status"] == "ok" and found["verdict"] == "ok", found


def assert_broken(report: dict[str, Any], location: str, hop: str, *words: str) -> dict[str, Any]:
    """The location is broken at ``hop``, and the verdict line and details say ``words``."""
    found = row(report, location)
    assert found["status"] == "broken", found
    assert found["hop"] == hop, found
    assert found["verdict"].startswith(f"BROKEN {hop}: "), found
    text = found["verdict"] + " " + " ".join(found["details"])
    for word in words:
        assert word in text, (word, found)
    return found


def test_a_healthy_proxy_is_ok_everywhere(tmp_path: Path):
    report = doctor("-e", f"doctor_report_dir={tmp_path}", "-e", "doctor_fail=true")
    assert report["broken"] == 0 and report["warnings"] == 0, report["table"]
    assert_ok(report, WS)
    assert_ok(report, WSS)
    assert row(report, WS)["served_by"].startswith("location '/api/' (/etc/nginx/sites-enabled/api-calls.conf:")
    assert row(report, WS)["direct"].startswith("101, echo") and row(report, WSS)["nginx"].startswith("101, echo")
    written = json.loads((tmp_path / f"{PROXY}.json").read_text())
    assert written["table"] == report["table"]
    assert set(written["map_definitions"]) >= {"connection_upgrade", "wsproxy_upgrade"}


def test_backend_down():
    sh(BACKEND, "sh /opt/doctor/backend.sh stop")
    try:
        # doctor_fail=true: the table first, then the host fails, saying which locations are broken.
        report = doctor("-e", "doctor_fail=true", expect_rc=2)
    finally:
        sh(BACKEND, "sh /opt/doctor/backend.sh start")
    for location in (WS, WSS):
        found = assert_broken(
            report, location, "backend", "calls-backend:5006 down (refused)", "connection refused by calls-backend:5006"
        )
        assert found["nginx"] == "502 Bad Gateway", found
    assert "2 WebSocket location(s) broken on wsproxy-doctor-bookworm" in report["_run"].stdout


def test_backend_not_speaking_websocket_at_the_endpoint():
    report = doctor("-e", "doctor_endpoint=orders")
    for location in (WS, WSS):
        found = assert_broken(
            report, location, "backend", "calls-backend:5006 does not speak WebSocket at /api/orders (200 OK)"
        )
        assert found["direct"] == "200 OK", found


def test_tls_certificate_unknown_without_the_ca():
    report = doctor(ca=False)
    assert_ok(report, WS)
    found = assert_broken(report, WSS, "TLS", "certificate not trusted", "doctor_ca_file")
    assert found["nginx"] == "TLS: unknown CA" and found["direct"].startswith("101"), found


def test_location_without_upgrade_and_connection_headers():
    with broken(f"sed -i '/proxy_set_header Upgrade/d; /proxy_set_header Connection/d' {VHOST}"):
        report = doctor()
    found = assert_broken(
        report,
        WS,
        "nginx location",
        "nginx does not forward Upgrade/Connection",
        "no proxy_set_header Upgrade",
        "no proxy_set_header Connection",
    )
    assert found["nginx"] == "426 Upgrade Required", found
    assert_ok(report, WSS)


def test_connection_upgrade_map_defined_twice():
    legacy = "map $http_upgrade $connection_upgrade {\n    default close;\n}\n"
    with broken(f"printf '%s' '{legacy}' > /etc/nginx/conf.d/zz-legacy.conf"):
        report = doctor()
    for location in (WS, WSS):
        found = assert_broken(
            report,
            location,
            "map",
            "map $connection_upgrade defined twice",
            "/etc/nginx/conf.d/zz-legacy.conf:1",
            "gives 'close' to a WebSocket handshake",
        )
        assert found["nginx"] == "400 Bad Request", found


def test_map_file_missing_fails_the_next_reload():
    # Not reloaded (nginx -t would refuse it): the running nginx still works, the files on disk do not.
    with broken("rm /etc/nginx/conf.d/websocket_proxy_map.conf", reload_after=False):
        report = doctor()
    for location in (WS, WSS):
        found = assert_broken(
            report, location, "nginx config", "map $wsproxy_upgrade missing", "the next reload or restart will fail"
        )
        assert found["nginx"].startswith("101, echo"), found
    assert 'unknown "wsproxy_upgrade" variable' in report["nginx_config_error"]


def test_regex_location_before_the_websocket_one_shadows_it():
    regex = "    location ~ ^/api/frontend {\\n        proxy_pass http://calls-backend:5006;\\n    }\\n"
    with broken(
        f"sed -i 's|^    # websocket_proxy_vhosts\\[0\\]\\.locations\\[0\\]$|{regex}&|' {VHOST} && "
        f"grep -q 'location ~ ^/api/frontend' {VHOST}"
    ):
        report = doctor()
    found = assert_broken(
        report,
        WS,
        "location order",
        "/api/frontend-audio is served by location '~ ^/api/frontend', not WebSocket-capable",
        "a regex location, tried before any prefix location",
    )
    assert found["served_by"].startswith("location '~ ^/api/frontend'"), found
    assert_ok(report, WSS)


def test_short_read_timeout_is_a_warning_not_a_failure():
    with broken(f"sed -i 's/proxy_read_timeout 1d;/proxy_read_timeout 60s;/' {VHOST}"):
        report = doctor("-e", "doctor_fail=true")
    found = row(report, WS)
    assert found["status"] == "warn" and found["hop"] == "timeout", found
    assert found["verdict"] == "warn timeout: proxy_read_timeout 60s < 1h", found
    assert report["broken"] == 0
    assert_ok(report, WSS)


def test_upstream_pointed_at_a_dead_port():
    with broken(f"sed -i 's/server calls-backend:5006;/server calls-backend:5999;/' {VHOST}"):
        report = doctor()
    found = assert_broken(
        report, WS, "backend via nginx", "502", "calls-backend:5999", "websocket_proxy_vhosts says calls-backend:5006"
    )
    assert found["direct"].startswith("101, echo"), found
    assert_ok(report, WSS)
