"""The backend container is recreated with a new address; nginx finds it without a reload.

The role was run with websocket_proxy_resolver: [127.0.0.11] (Docker's embedded DNS), so the vhost
proxies to calls-backend:5006 through a variable and nginx looks the name up again once its answer is
older than resolver_valid (10 s). The test removes the backend container, lets a placeholder container
take the addresses Docker hands out next, starts the backend again (same name, image, command, volume,
network alias), and then a new WebSocket through nginx must reach the new container within the TTL;
once the TTL has passed, every new connection must (each worker has its own resolver cache). nginx's
master and workers stay untouched throughout.

The contrast, side by side: a second nginx in the same container (its own config under /tmp, its own
PID file, port 8099) proxies to calls-backend:5006 the way the seed does, with a literal proxy_pass
resolved once at startup. It keeps sending requests to the old address after the TTL has passed.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from typing import Any

from conftest import backend_log, docker, host_named, nginx_pids, wsclient

testinfra_hosts = ["ansible://proxies"]

NETWORK = "wsproxy-live"
BACKEND = "wsproxy-live-backend"
PLACEHOLDER = "wsproxy-live-placeholder"
WS_URL = "ws://api.example.test/api/frontend-audio"
RESOLVER_VALID = 10  # websocket_proxy_resolver_valid, the role's default
FIND_WITHIN = RESOLVER_VALID + 15  # the TTL, plus a busy machine's slack
CONSECUTIVE = 10  # new connections after the TTL, enough to land on every worker

STATIC_PORT = 8099
STATIC_CONF = "/tmp/wsproxy-static/nginx.conf"
STATIC_NGINX = f"nginx -c {STATIC_CONF}"
STATIC_CONF_TEXT = f"""\
# The seed's way: a literal proxy_pass, so nginx resolves calls-backend once, when it starts.
pid /tmp/wsproxy-static/nginx.pid;
error_log /tmp/wsproxy-static/error.log;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log /tmp/wsproxy-static/access.log;
    server {{
        listen 127.0.0.1:{STATIC_PORT};
        location /api/ {{
            proxy_pass http://calls-backend:5006;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_connect_timeout 3s;
        }}
    }}
}}
"""


def address(container: str) -> str:
    info = json.loads(docker("inspect", container).stdout)[0]
    return info["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]


def attempt(host: Any, port: int = 80) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/api/frontend-audio"
    return wsclient(host, url, "--host-header", "api.example.test", "--text", "hello", "--timeout", "5")


def access_log_lines(host: Any) -> list[str]:
    return host.file("/var/log/nginx/access.log").content_string.splitlines()


def succeeded(result: dict[str, Any]) -> bool:
    return result.get("status") == 101 and result.get("text_echo") is True


def recreate_backend(info: dict[str, Any]) -> None:
    """Start the backend again as Molecule did (same name, hostname, image, command, bind mounts, labels and
    network alias), so that molecule destroy, which removes containers by name, still cleans it up."""
    binds = [arg for bind in info["HostConfig"]["Binds"] or [] for arg in ("--volume", bind)]
    labels = [arg for key, value in (info["Config"]["Labels"] or {}).items() for arg in ("--label", f"{key}={value}")]
    docker(
        "run", "--detach", "--name", BACKEND, "--hostname", info["Config"]["Hostname"],
        "--network", NETWORK, "--network-alias", "calls-backend", *binds, *labels,
        info["Config"]["Image"], *info["Config"]["Cmd"],
    )


def test_recreated_backend_is_found_within_the_ttl_without_a_reload(host):
    info = json.loads(docker("inspect", BACKEND).stdout)[0]
    old_ip = info["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]

    host.run("mkdir -p /tmp/wsproxy-static")
    host.run(f"printf %s {shlex.quote(STATIC_CONF_TEXT)} > {STATIC_CONF}")
    started = host.run(STATIC_NGINX)
    assert started.rc == 0, started.stderr
    try:
        # Both nginx answer before the change, and the role's nginx has just resolved the old address.
        assert succeeded(attempt(host, STATIC_PORT))
        assert succeeded(attempt(host))
        pids_before = nginx_pids(host)

        docker("rm", "--force", BACKEND)
        removed_at = time.monotonic()
        # Docker hands the freed address out again (the lowest free one): the placeholder takes it, so the
        # new backend cannot come back at the old address.
        docker("run", "--detach", "--name", PLACEHOLDER, "--network", NETWORK, "--label", "owner=molecule",
               info["Config"]["Image"], "sleep", "infinity")
        placeholder_ip = address(PLACEHOLDER)
        recreate_backend(info)
        back_at = time.monotonic()
        new_ip = address(BACKEND)
        assert new_ip != old_ip, f"the recreated backend got its old address back ({old_ip})"
        listening = docker("exec", BACKEND, "python3", "-c",
                           "import socket, time\n"
                           "for _ in range(100):\n"
                           "    try: socket.create_connection(('127.0.0.1', 5006), 1).close(); break\n"
                           "    except OSError: time.sleep(0.1)\n"
                           "else: raise SystemExit('backend not listening')\n")
        assert listening.returncode == 0, listening.stderr

        # New WebSockets through the role's nginx until one reaches the new backend.
        attempts: list[tuple[float, Any]] = []
        while time.monotonic() - removed_at < FIND_WITHIN:
            result = attempt(host)
            attempts.append((round(time.monotonic() - removed_at, 1), result.get("status") or result.get("error")))
            if succeeded(result):
                break
            time.sleep(0.5)
        assert succeeded(result), f"no WebSocket reached the new backend within {FIND_WITHIN} s: {attempts}"

        # Each worker keeps its own resolver cache, so a worker that still holds the old answer (or a negative
        # one, asked while the name was gone) may fail a connection until that answer is RESOLVER_VALID old.
        # Once that has passed since the backend came back, every new connection, whichever worker takes
        # it, reaches the new address.
        time.sleep(max(0.0, back_at + RESOLVER_VALID + 1 - time.monotonic()))
        logged_before = access_log_lines(host)
        after_ttl = [attempt(host) for _attempt in range(CONSECUTIVE)]
        assert all(succeeded(result) for result in after_ttl), after_ttl
        # The access log line of a WebSocket is written when it closes; its upstream= is the address used.
        deadline = time.monotonic() + 5
        while len(access_log_lines(host)) < len(logged_before) + CONSECUTIVE and time.monotonic() < deadline:
            time.sleep(0.2)
        upstreams = [re.search(r"upstream=(\S+)", line)[1] for line in access_log_lines(host)[len(logged_before) :]]
        assert upstreams == [f"{new_ip}:5006"] * CONSECUTIVE, upstreams
        sessions = [entry for entry in backend_log(host_named(BACKEND)) if entry.get("outcome") == "websocket"]
        assert len(sessions) >= CONSECUTIVE + 1, "the new backend did not log the WebSocket sessions"

        # nginx was neither reloaded nor restarted: the same master and the same workers.
        assert nginx_pids(host) == pids_before, "nginx was reloaded or restarted"

        # The contrast: the seed's static proxy_pass, past the TTL, still goes to the old address.
        static = attempt(host, STATIC_PORT)
        assert not succeeded(static), static
        assert static.get("status") in (502, 504), static
        static_log = host.run("tail -n 1 /tmp/wsproxy-static/error.log").stdout
        assert f'upstream: "http://{old_ip}:5006/api/frontend-audio"' in static_log, static_log
        print(f"old address {old_ip} (now the placeholder's: {placeholder_ip}), new {new_ip}; "
              f"attempts (seconds since removal, result): {attempts}; the static proxy_pass: {static_log.strip()}")
    finally:
        host.run(f"{STATIC_NGINX} -s stop")
        docker("rm", "--force", PLACEHOLDER, check=False)
