"""The default scenario: the role on Debian 12 and 13 in front of calls-backend:5006.

Every handshake here is real: a WebSocket client inside a container speaks to nginx,
which speaks to the backend container over the Docker network.
"""

from __future__ import annotations

import json
import re
import shlex
import time

import pytest
from conftest import BACKEND_LOG, backend_log, host_named, hosts, nginx_pids, wsclient

testinfra_hosts = ["ansible://proxies"]

WS_ENDPOINTS = ["/api/frontend-audio", "/api/call-events", "/api/audio-stream"]
IDLE_SECONDS = 70  # longer than nginx's default 60 s proxy_read_timeout
IDLE_RESULT = "/tmp/wsproxy-idle.json"


@pytest.fixture(scope="module", autouse=True)
def idle_clients():
    """Start, once, an idle WebSocket on every proxy; test_idle_websocket_* collects them at the end."""
    for proxy in hosts("proxies"):
        proxy.run(f"rm -f {IDLE_RESULT}")
        proxy.run(
            f"setsid nohup python3 /opt/wsproxy/wsclient.py ws://api.example.test/api/audio-stream "
            f"--text before-idle --idle {IDLE_SECONDS} --timeout 20 > {IDLE_RESULT}.tmp 2>&1 "
            f"&& mv {IDLE_RESULT}.tmp {IDLE_RESULT} &"
        )
    return time.monotonic()


@pytest.fixture(scope="module")
def backend():
    return host_named("wsproxy-default-backend")


def test_nginx_is_installed_running_and_valid(host):
    assert host.package("nginx").is_installed
    assert host.file("/run/nginx.pid").exists
    check = host.run("nginx -t")
    assert check.rc == 0, check.stderr


def test_nginx_conf_is_sized_for_websockets_and_reloads_gracefully(host):
    conf = host.file("/etc/nginx/nginx.conf").content_string
    assert "worker_shutdown_timeout 10m;" in conf
    # "worker_connections are not enough, reusing connections" is a warn: the log must take warnings
    assert re.search(r"^error_log /var/log/nginx/error\.log warn;$", conf, re.MULTILINE), conf
    hard = int(host.run("sh -c 'ulimit -Hn'").stdout)

    def directive(name: str) -> int:
        """The value of a directive (comments may name it too: only a line that starts with it counts)."""
        (value,) = re.findall(rf"^\s*{name} (\d+);", conf, re.MULTILINE)
        return int(value)

    rlimit = directive("worker_rlimit_nofile")
    connections = directive("worker_connections")
    workers = directive("worker_processes")
    assert connections < rlimit <= hard
    # websocket_proxy_max_websockets (4096 by default) x 2 connections fit in the workers
    assert workers * connections >= 2 * 4096
    running = host.run(f"pgrep -c -P {nginx_pids(host)[0]}").stdout.strip()
    assert int(running) == workers


def test_map_is_defined_once_in_the_http_context(host):
    # map is only valid in the http context: nginx -t passing with it proves where it is.
    dump = host.run("nginx -T").stdout
    assert dump.count("map $wsproxy_upgrade $connection_upgrade {") == 1
    assert dump.count("$wsproxy_upgrade {") == 1
    assert dump.count("$wsproxy_connection_upgrade {") == 1
    map_file = host.file("/etc/nginx/conf.d/websocket_proxy_map.conf")
    assert map_file.is_file and map_file.mode == 0o644
    assert "# configuration file /etc/nginx/conf.d/websocket_proxy_map.conf:" in dump
    # keepalive-safe: plain requests get an empty Connection, never "close"
    assert "close;" not in map_file.content_string


def test_debian_layout_sites_available_and_enabled(host):
    for name in ("api-calls", "api-calls-tls", "events"):
        available = host.file(f"/etc/nginx/sites-available/{name}.conf")
        enabled = host.file(f"/etc/nginx/sites-enabled/{name}.conf")
        assert available.is_file
        assert enabled.is_symlink and enabled.linked_to == available.path
    assert not host.file("/etc/nginx/sites-enabled/default").exists


def test_websocket_location_carries_everything_the_seed_names(host):
    conf = host.file("/etc/nginx/sites-available/api-calls.conf").content_string
    assert "upstream wsproxy_api_calls_1 {\n    server calls-backend:5006;\n    keepalive 32;\n}" in conf
    for directive in (
        "location /api/ {",
        "proxy_pass http://wsproxy_api_calls_1;",
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $wsproxy_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_read_timeout 1d;",
        "proxy_send_timeout 1d;",
        "proxy_connect_timeout 1m;",
        "proxy_buffering off;",
    ):
        assert directive in conf, directive


@pytest.mark.parametrize("path", WS_ENDPOINTS)
def test_ws_handshake_echoes_text_and_binary(host, path):
    result = wsclient(host, f"ws://api.example.test{path}", "--text", "bonjour", "--binary", "640")
    assert result["status"] == 101, result
    assert result["text_echo"] is True and result["binary_echo"] is True, result


def test_wss_handshake_echoes_with_a_verified_certificate(host):
    result = wsclient(host, "wss://api.example.test/api/frontend-audio", "--cafile", "/etc/ssl/wsproxy/ca.pem",
                      "--text", "bonjour", "--binary", "640")
    assert result["status"] == 101, result
    assert result["text_echo"] is True and result["binary_echo"] is True, result


def test_tls_vhost_offers_http2(host):
    alpn = host.run("openssl s_client -connect 127.0.0.1:443 -servername api.example.test -alpn h2 "
                    "-CAfile /etc/ssl/wsproxy/ca.pem </dev/null 2>&1 | grep -aE 'ALPN protocol|Verify return code'")
    assert "ALPN protocol: h2" in alpn.stdout, alpn.stdout[-2000:]
    assert "Verify return code: 0 (ok)" in alpn.stdout


def test_handshake_from_another_container_over_the_docker_network(host, backend):
    proxy_name = host.backend.get_hostname()
    result = wsclient(backend, f"ws://{proxy_name}/api/call-events", "--host-header", "api.example.test",
                      "--text", "from-the-network")
    assert result["status"] == 101 and result["text_echo"] is True, result


@pytest.mark.parametrize(("url", "proto"), [("http://api.example.test/api/headers", "http"),
                                            ("https://api.example.test/api/headers", "https")])
def test_plain_request_forwards_host_and_client_headers(host, url, proto):
    result = wsclient(host, "--http", url, "--cafile", "/etc/ssl/wsproxy/ca.pem")
    assert result["status"] == 200, result
    seen = result["body"]["headers"]
    assert seen["host"] == "api.example.test"
    assert seen["x-forwarded-proto"] == proto
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-real-ip"] == "127.0.0.1"
    assert "upgrade" not in seen
    assert "upgrade" not in seen.get("connection", "").lower()


def test_other_upgrade_values_get_no_tunnel(host, backend):
    # Control: the backend (--naive-upgrade) does switch protocols for h2c when asked directly...
    direct = wsclient(host, "ws://calls-backend:5006/api/frontend-audio", "--header", "Upgrade: h2c",
                      "--expect-status", "101")
    assert direct["status"] == 101, direct
    before = len(backend_log(backend))
    # ... but through nginx the h2c upgrade never reaches it: no 101, a plain request upstream.
    through = wsclient(host, "ws://api.example.test/api/frontend-audio", "--header", "Upgrade: h2c",
                       "--expect-status", "426")
    assert through["status"] != 101, through
    seen = backend_log(backend)[before:]
    assert seen, f"the request did not reach the backend ({BACKEND_LOG})"
    assert all(entry.get("outcome") != "naive-upgrade" for entry in seen), seen
    assert all(not entry.get("headers", {}).get("upgrade") for entry in seen), seen


def test_regex_layout_upgrades_only_the_named_endpoints(host, backend):
    for path in WS_ENDPOINTS:
        result = wsclient(host, f"ws://events.example.test{path}", "--text", "x")
        assert result["status"] == 101, (path, result)
    conf = host.file("/etc/nginx/sites-available/events.conf").content_string
    assert conf.index("location ~ ") < conf.index("location /api/ {")
    before = len(backend_log(backend))
    plain = wsclient(host, "ws://events.example.test/api/headers", "--expect-status", "200")
    assert plain["status"] == 200, plain
    seen = backend_log(backend)[before:]
    assert seen and not seen[-1].get("headers", {}).get("upgrade"), seen


def test_independent_client_python3_websockets(host):
    # Debian's python3-websockets, not our client, as a second opinion.
    script = (
        "import asyncio, websockets\n"
        "async def main():\n"
        "    async with websockets.connect('ws://api.example.test/api/frontend-audio') as ws:\n"
        "        await ws.send(b'\\x00\\x01' * 320)\n"
        "        print(len(await ws.recv()))\n"
        "asyncio.run(main())\n"
    )
    result = host.run(f"python3 -c {shlex.quote(script)}")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "640"


def test_idempotent_converge_did_not_reload(host):
    lines = host.file("/tmp/wsproxy-pids.log").content_string.strip().splitlines()
    assert len(lines) >= 2, lines
    assert lines[-1] == lines[-2], f"nginx master/workers changed during the idempotence run: {lines}"
    master, _workers = nginx_pids(host)
    assert lines[-1].split()[0] == master, "nginx was restarted"


def test_idle_websocket_outlives_the_default_read_timeout(host, idle_clients):
    deadline = idle_clients + IDLE_SECONDS + 60
    while not host.file(IDLE_RESULT).exists and time.monotonic() < deadline:
        time.sleep(2)
    result = json.loads(host.file(IDLE_RESULT).content_string)
    assert result["idle_seconds"] >= IDLE_SECONDS, result
    assert result["idle_survived"] is True, result
