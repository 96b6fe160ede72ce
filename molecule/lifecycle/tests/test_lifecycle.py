"""Day two (on Debian 13): drop, rename and retire vhosts and snippets, a removal nginx refuses, and the
uninstall, beside a hand-written site (hand.example.test on port 8081) and a hand-written conf.d file.

The tests run in the order written, each from where the one before left the hosts. After every run: nginx -T
shows exactly the declared servers, handshakes through the remaining vhosts answer 101 and echo, removed names
reach no backend, the hand-written files are byte-identical and serve, and a second run changes nothing and
does not reload nginx.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import (
    NGINX_MASTER,
    NGINX_WORKERS,
    ansible_playbook,
    etc_nginx_state,
    failure_messages,
    hosts,
    play_recap,
    state_diff,
    wsclient,
)

PROXIES = hosts("proxies")
HAND_FILES = ("/etc/nginx/sites-available/hand", "/etc/nginx/sites-enabled/hand", "/etc/nginx/conf.d/hand.conf")
BACKEND = "calls-backend:5006"
VHOST_A = {
    "name": "a",
    "server_name": "a.example.test",
    "listen": 80,
    "locations": [{"path": "/api/", "backend": BACKEND}],
}
VHOST_B = {
    "name": "b",
    "server_name": "b.example.test",
    "listen": 8082,
    "locations": [{"path": "/api/", "backend": BACKEND}],
}
SNIPPET = {"name": "extra", "locations": [{"path": "/extra/", "backend": BACKEND}]}
pytestmark = pytest.mark.usefixtures("json_results")


def converge(extra_vars: dict[str, Any]) -> dict[str, dict[str, int]]:
    """site.yml on both proxies with these variables over the scenario's; the recap, after asserting success."""
    run = ansible_playbook("site.yml", "-e", json.dumps(extra_vars))
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    return play_recap(run.stdout)


def converge_twice(extra_vars: dict[str, Any]) -> None:
    """A run that changes something, then a second one that changes nothing and does not reload nginx."""
    recap = converge(extra_vars)
    assert all(recap[host.backend.get_hostname()]["changed"] > 0 for host in PROXIES), recap
    before = {host.backend.get_hostname(): etc_nginx_state(host) for host in PROXIES}
    recap = converge(extra_vars)
    for host in PROXIES:
        name = host.backend.get_hostname()
        assert recap[name]["changed"] == 0, recap
        after = etc_nginx_state(host)
        assert after == before[name], state_diff(before[name], after)  # same files, same master and workers


def server_names(host: Any) -> set[str]:
    dump = host.run("nginx -T").stdout
    return set(re.findall(r"^\s*server_name\s+([^;]+);", dump, flags=re.MULTILINE)) - {"_"}


def handshake(host: Any, port: int, name: str) -> dict[str, Any]:
    return wsclient(
        host,
        f"ws://127.0.0.1:{port}/api/frontend-audio",
        "--host-header",
        name,
        "--text",
        "hi",
        "--binary",
        "640",
        "--timeout",
        "5",
    )


def assert_echoes(host: Any, port: int, name: str) -> None:
    result = handshake(host, port, name)
    assert (result["status"], result["text_echo"], result["binary_echo"]) == (101, True, True), result


def assert_hand_written_site_serves_unchanged(host: Any, before: dict[str, Any]) -> None:
    now = etc_nginx_state(host)
    for path in HAND_FILES:
        assert now[path] == before[path], path
    answer = wsclient(host, "--http", "http://127.0.0.1:8081/hand/", "--host-header", "hand.example.test")
    assert (answer["status"], answer["body"]) == (200, "hand ok\n"), answer


def first_state(host: Any) -> dict[str, Any]:
    return json.loads(host.file("/root/lifecycle-before.json").content_string)


def test_the_first_deploy_serves_a_b_and_the_hand_written_site() -> None:
    for host in PROXIES:
        assert server_names(host) == {"a.example.test", "b.example.test", "hand.example.test"}
        assert_echoes(host, 80, "a.example.test")
        assert_echoes(host, 8082, "b.example.test")
        assert host.file("/etc/nginx/snippets/websocket_proxy_extra.conf").exists
        assert_hand_written_site_serves_unchanged(host, first_state(host))


def test_a_removal_nginx_refuses_is_rolled_back_with_nginx_s_message() -> None:
    # The operator's site now includes the snippet: removing the snippet would break it.
    for host in PROXIES:
        host.run(
            "sed -i 's|^    location /hand/ {|    include snippets/websocket_proxy_extra.conf;\\n&|' "
            "/etc/nginx/sites-available/hand && nginx -t && nginx -s reload"
        )
    befores = {host.backend.get_hostname(): etc_nginx_state(host) for host in PROXIES}
    # Both proxies in one batch (site.yml's serial would stop at the first refusal, before the second host).
    retire = {"websocket_proxy_snippets": [{**SNIPPET, "state": "absent"}], "wsproxy_serial": 2}
    run = ansible_playbook("site.yml", "-e", json.dumps(retire))
    assert run.returncode != 0
    for host in PROXIES:
        name = host.backend.get_hostname()
        message = " | ".join(failure_messages(run).get(name, []))
        assert "/etc/nginx/sites-enabled/hand" in message and "websocket_proxy_extra.conf" in message, message
        assert "rolled back" in message, message
        after = etc_nginx_state(host)
        assert after == befores[name], state_diff(befores[name], after)
        assert_echoes(host, 80, "a.example.test")
    # The operator takes the include out again: the site is byte for byte what it was.
    for host in PROXIES:
        host.run(
            "sed -i '/include snippets\\/websocket_proxy_extra.conf;/d' /etc/nginx/sites-available/hand "
            "&& nginx -t && nginx -s reload"
        )
        assert_hand_written_site_serves_unchanged(host, first_state(host))


def test_rename_a_drop_b_and_retire_the_snippet_in_one_run() -> None:
    renamed = {**VHOST_A, "name": "a2"}
    change = {"websocket_proxy_vhosts": [renamed], "websocket_proxy_snippets": [{**SNIPPET, "state": "absent"}]}
    # --check --diff first: the removals are shown, named in the summary, and nothing changes.
    befores = {host.backend.get_hostname(): etc_nginx_state(host) for host in PROXIES}
    checked = ansible_playbook("site.yml", "--check", "--diff", "-e", json.dumps(change))
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert "/etc/nginx/sites-available/b.conf (removed)" in checked.stdout
    assert "removed (no longer declared): vhost a, vhost b, snippet extra" in checked.stdout
    for host in PROXIES:
        after = etc_nginx_state(host)
        assert after == befores[host.backend.get_hostname()], state_diff(befores[host.backend.get_hostname()], after)
    converge_twice(change)
    for host in PROXIES:
        assert server_names(host) == {"a.example.test", "hand.example.test"}
        assert not host.file("/etc/nginx/sites-available/a.conf").exists
        assert not host.file("/etc/nginx/sites-enabled/a.conf").exists
        assert host.file("/etc/nginx/sites-enabled/a2.conf").linked_to == "/etc/nginx/sites-available/a2.conf"
        assert not host.file("/etc/nginx/sites-available/b.conf").exists
        assert not host.file("/etc/nginx/snippets/websocket_proxy_extra.conf").exists
        assert_echoes(host, 80, "a.example.test")
        # b's name reaches no backend: nothing listens on its port any more.
        gone = handshake(host, 8082, "b.example.test")
        assert gone["status"] is None and "refused" in (gone["error"] or "").lower(), gone
        assert_hand_written_site_serves_unchanged(host, first_state(host))


def test_a_vhost_marked_absent_is_retired() -> None:
    converge_twice(
        {
            "websocket_proxy_vhosts": [
                {**VHOST_A, "name": "a2"},
                {**VHOST_B, "state": "absent"},
                {**VHOST_B, "name": "b2", "server_name": "b2.example.test"},
            ]
        }
    )
    converge_twice(
        {
            "websocket_proxy_vhosts": [
                {**VHOST_A, "name": "a2"},
                {"name": "b2", "server_name": "b2.example.test", "state": "absent"},
            ]
        }
    )
    for host in PROXIES:
        assert server_names(host) == {"a.example.test", "hand.example.test"}
        assert not host.file("/etc/nginx/sites-available/b2.conf").exists
        assert_echoes(host, 80, "a.example.test")


def test_uninstall_gives_etc_nginx_back_as_it_was_before_the_first_run() -> None:
    converge_twice({"websocket_proxy_state": "absent", "websocket_proxy_vhosts": [{**VHOST_A, "name": "a2"}]})
    for host in PROXIES:
        now = etc_nginx_state(host)
        before = first_state(host)
        paths_now = {k: v for k, v in now.items() if k not in (NGINX_MASTER, NGINX_WORKERS)}
        assert paths_now == before, state_diff(before, paths_now)
        assert host.service("nginx").is_running
        assert host.run("nginx -t").rc == 0
        assert_hand_written_site_serves_unchanged(host, before)
        assert not host.file("/var/lib/wsproxy-nginx/manifest.json").exists
