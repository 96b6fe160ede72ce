"""Snippet mode on a hand-written Debian site: the role adds its own files and nothing else, the operator
adds one include line, and the site's location /api/ becomes WebSocket-capable while everything else
answers as before.

The tests run in file order, because they follow the operator's story: what the role left after
converge (its three files, the hand-written site untouched, WebSockets still failing as in the seed),
then the operator's edit and reload, then the result, then the role run again on the edited host.
So they need a fresh converge (molecule test, or molecule destroy + converge before molecule verify).
"""

from __future__ import annotations

import json
import shlex

import pytest
from conftest import ansible_playbook, backend_log, host_named, nginx_pids, play_recap, wsclient

testinfra_hosts = ["ansible://proxies"]

PROXY = "wsproxy-brown-bookworm"
BACKEND = "wsproxy-brown-backend"
RECORD = "/root/wsproxy-brownfield"  # written by prepare.yml, before the role ran
LEGACY = "/etc/nginx/sites-available/legacy"
WS_URL = "ws://api.example.test/api/frontend-audio"
ROLE_FILES = {
    "/etc/nginx/snippets/websocket_proxy_api.conf",
    "/etc/nginx/conf.d/websocket_proxy_map.conf",
    "/etc/nginx/conf.d/websocket_proxy_snippet_upstreams.conf",
}
# The operator's edit, as README.md tells it: their own location /api/ gives way to the snippet.
LEGACY_API_LOCATION = """\
    location /api/ {
        proxy_pass http://calls-backend:5006;
    }
"""
INCLUDE_LINE = "    include snippets/websocket_proxy_api.conf;\n"
OTHER_LOCATIONS = [("static", "/static/app.js"), ("health", "/health")]


@pytest.fixture(scope="module")
def backend():
    return host_named(BACKEND)


def recorded_files(host) -> list[str]:
    return [line.split(None, 1)[1] for line in host.file(f"{RECORD}/files.sha256").content_string.splitlines()]


def current_files(host) -> list[str]:
    return host.run("find /etc/nginx -type f | sort").stdout.split()


def answers(result: dict) -> tuple:
    """What a client sees of a plain response: status, content type and body."""
    return result["status"], result["headers"].get("content-type"), result["body"]


# --------------------------------------------------------------------------- after converge, before the edit


def test_role_added_only_its_own_files(host):
    added = set(current_files(host)) - set(recorded_files(host))
    assert added == ROLE_FILES
    for path in ROLE_FILES:
        assert host.file(path).content_string.startswith("#\n# Ansible managed"), path
    snippet = host.file("/etc/nginx/snippets/websocket_proxy_api.conf").content_string
    assert "location /api/ {" in snippet and "proxy_set_header Upgrade $wsproxy_upgrade;" in snippet
    map_file = host.file("/etc/nginx/conf.d/websocket_proxy_map.conf").content_string
    assert "map $wsproxy_upgrade $connection_upgrade {" in map_file


def test_every_file_that_was_there_is_byte_for_byte_unchanged(host):
    # The hand-written site, Debian's nginx.conf, everything: the checksums recorded before the role ran.
    check = host.run(f"sha256sum --check --quiet {RECORD}/files.sha256")
    assert check.rc == 0, check.stdout + check.stderr
    assert LEGACY in recorded_files(host)
    links = host.run("find /etc/nginx -type l -printf '%p -> %l\\n' | sort").stdout
    assert links == host.file(f"{RECORD}/links.txt").content_string


def test_the_seeds_problem_before_the_include_no_websocket(host, backend):
    # The snippet exists but nothing includes it yet: the hand-written location still serves /api/ and
    # drops the upgrade (HTTP/1.0 to the backend, no Upgrade header), so the backend refuses with 426.
    before = len(backend_log(backend))
    result = wsclient(host, WS_URL, "--expect-status", "426")
    assert result["status"] == 426, result
    seen = backend_log(backend)[before:]
    assert seen and not seen[-1]["headers"].get("upgrade"), seen


# --------------------------------------------------------------------------- the operator's edit


@pytest.fixture(scope="module")
def edited(host):
    """The operator's one-line edit (README.md, snippet mode), then nginx -t and a reload."""
    text = host.file(LEGACY).content_string
    assert text.count(LEGACY_API_LOCATION) == 1, text
    new_text = text.replace(LEGACY_API_LOCATION, INCLUDE_LINE)
    write = host.run(f"printf %s {shlex.quote(new_text)} > {LEGACY}")
    assert write.rc == 0, write.stderr
    check = host.run("nginx -t")
    assert check.rc == 0, check.stderr
    master, _workers = nginx_pids(host)
    reload = host.run("service nginx reload")
    assert reload.rc == 0, reload.stdout + reload.stderr
    assert nginx_pids(host)[0] == master
    return host.file(LEGACY).sha256sum


def test_after_the_include_the_websocket_answers_101_and_echoes(host, edited):
    result = wsclient(host, WS_URL, "--text", "bonjour", "--binary", "640")
    assert result["status"] == 101, result
    assert result["text_echo"] is True and result["binary_echo"] is True, result


def test_plain_api_requests_still_work_with_the_right_headers(host, edited):
    result = wsclient(host, "--http", "http://api.example.test/api/headers")
    assert result["status"] == 200, result
    seen = result["body"]["headers"]
    assert seen["host"] == "api.example.test"
    assert seen["x-forwarded-for"] == "127.0.0.1" and seen["x-forwarded-proto"] == "http"
    assert "upgrade" not in seen and "upgrade" not in seen.get("connection", "").lower()


@pytest.mark.parametrize(("name", "path"), OTHER_LOCATIONS)
def test_the_other_locations_answer_exactly_as_before_the_role(host, edited, name, path):
    before = json.loads(host.file(f"{RECORD}/{name}.json").content_string)
    now = wsclient(host, "--http", f"http://api.example.test{path}")
    assert answers(now) == answers(before)
    assert before["status"] == 200


def test_running_the_role_again_changes_nothing_and_leaves_the_site_alone(host, edited):
    pids = nginx_pids(host)
    run = ansible_playbook("site.yml", "-l", PROXY)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    counts = play_recap(run.stdout).get(PROXY, {})
    assert counts.get("ok", 0) > 0 and counts.get("changed") == 0, run.stdout[-3000:]
    assert host.file(LEGACY).sha256sum == edited
    assert nginx_pids(host) == pids, "nginx was reloaded although nothing changed"
    result = wsclient(host, WS_URL, "--text", "still")
    assert result["status"] == 101 and result["text_echo"] is True, result
