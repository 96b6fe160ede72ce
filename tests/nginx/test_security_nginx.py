"""The role's security features in a real nginx on this host, with real WebSocket handshakes.

The role's own preflight and templates (tests/unit/role/render.yml) write the configuration once per module; one
nginx serves it in front of tests/support/ws_backend.py (which would grant any Upgrade, h2c included, and logs
every request it sees). Each test then attacks it: a handshake from a foreign Origin, one connection more than
limit_conn (and the same from a second client address, 127.0.0.2), handshakes faster than handshake_rate, a body
larger than client_max_body_size; requests that may or may not open a tunnel (RFC 6455 section 4, RFC 9110 section
7.8: method, version, Upgrade, Connection), and what every answer carries (HSTS, a Server header without version).
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nginx_helpers import free_port, running_nginx

REPO = Path(__file__).resolve().parents[2]
SUPPORT = REPO / "tests" / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

import wsclient  # noqa: E402  (tests/support is put on the path just above)

RENDER = REPO / "tests" / "unit" / "role" / "render.yml"
APP = "https://app.example.test"


@dataclass
class Stack:
    port: int  # plain vhost
    tls_port: int
    backend_log: Path
    cafile: str

    def url(self, path: str, scheme: str = "ws") -> str:
        port = self.tls_port if scheme in ("wss", "https") else self.port
        return f"{scheme}://127.0.0.1:{port}{path}"

    def seen(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.backend_log.read_text().splitlines() if line.strip()]


def _backend(directory: Path) -> tuple[subprocess.Popen[str], int, Path]:
    log = directory / "backend.log"
    log.touch()
    process = subprocess.Popen(
        [sys.executable, str(SUPPORT / "ws_backend.py"), "--host", "127.0.0.1", "--port", "0", "--log", str(log),
         "--naive-upgrade", "--ws-paths", "/api/ws,/strict/ws,/rate/ws"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    ready = select.select([process.stdout], [], [], 10)[0]
    match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", process.stdout.readline() if ready else "")
    if not match:
        process.kill()
        raise AssertionError("ws_backend.py did not start")
    return process, int(match.group(1)), log


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    prefix = tmp_path_factory.mktemp("security")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days",
         "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", prefix / "key.pem",
         "-out", prefix / "cert.pem"],
        check=True, capture_output=True,
    )
    backend, backend_port, log = _backend(prefix)
    port, tls_port = free_port(), free_port()
    target = f"127.0.0.1:{backend_port}"
    role_vars = {
        "out": str(prefix / "out"), "os_family": "Debian", "nginx_version": "1.22.1",
        "websocket_proxy_manage_nginx_conf": False,  # so the vhosts carry server_tokens off themselves
        "websocket_proxy_upstream_keepalive": 0,
        "websocket_proxy_vhosts": [
            {"name": "app", "server_name": "127.0.0.1", "listen": port, "locations": [
                {"path": "/api/", "backend": target, "limit_conn": 2,
                 "allowed_origins": [APP, "https://*.apps.example.test"]},
                {"path": "/strict/", "backend": target, "allowed_origins": [APP], "allow_missing_origin": False},
                {"path": "/rate/", "backend": target, "handshake_rate": 6, "handshake_burst": 1},
                {"path": "/small/", "backend": target, "websocket": False, "client_max_body_size": "1k"},
            ]},
            {"name": "tls", "server_name": "127.0.0.1", "listen": tls_port, "hsts_max_age": 600,
             "tls": {"certificate": str(prefix / "cert.pem"), "certificate_key": str(prefix / "key.pem")},
             "locations": [{"path": "/api/", "backend": target, "allowed_origins": [APP]}]},
        ],
    }
    run = subprocess.run(["ansible-playbook", str(RENDER), "-e", json.dumps(role_vars)], cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    out = prefix / "out" / "etc" / "nginx"
    http = f"    include {out}/conf.d/*.conf;\n    include {out}/sites-enabled/*;\n"
    try:
        with running_nginx(prefix, http, port):
            yield Stack(port, tls_port, log, str(prefix / "cert.pem"))
    finally:
        backend.terminate()
        backend.wait(10)


def handshake(stack: Stack, path: str, origin: str | None = None, scheme: str = "ws", **kw: Any) -> wsclient.Connection:
    return wsclient.connect(stack.url(path, scheme), origin=origin, cafile=stack.cafile, timeout=5, **kw)


def handshake_from(source: str, port: int, path: str, origin: str | None = APP) -> int:
    """A handshake from another client address (127.0.0.2 is loopback too): its status; the socket is closed."""
    target = wsclient.parse_url(f"ws://127.0.0.1:{port}{path}")
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as sock:
        sock.sendall(wsclient.build_request("GET", target, wsclient.handshake_headers(target, key, origin, None, None)))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return wsclient.parse_response_head(head.split(b"\r\n\r\n")[0] + b"\r\n\r\n")[0]


# --------------------------------------------------------------------------- Origin allowlist


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example.net",
        "https://app.example.test.evil.net",  # the allowed name as a prefix
        "https://evilapp.example.test",
        "http://app.example.test",  # same host, other scheme
        "https://app.example.test:8443",  # same host, other port
        "https://apps.example.test",  # the wildcard's own domain
        "https://x.apps.example.test.evil.net",
        "null",  # sandboxed iframes, file: pages
        "https://app.example.test|x",
    ],
)
def test_a_foreign_origin_gets_403_and_never_reaches_the_backend(stack: Stack, origin: str) -> None:
    path = f"/api/ws/foreign-{uuid.uuid4().hex}"
    conn = handshake(stack, path, origin)
    assert (conn.status, conn.upgraded) == (403, False), conn
    time.sleep(0.05)
    assert not [entry for entry in stack.seen() if entry["path"] == path], "the backend saw the refused handshake"


@pytest.mark.parametrize("origin", [APP, "HTTPS://APP.EXAMPLE.TEST", "https://x.apps.example.test",
                                    "https://a.b.apps.example.test"])
def test_an_allowed_origin_gets_101_and_echoes(stack: Stack, origin: str) -> None:
    with handshake(stack, "/api/ws/allowed", origin) as conn:
        assert conn.status == 101 and conn.upgraded, conn
        conn.send_text("hello")
        assert conn.recv() == (wsclient.OP_TEXT, b"hello")


def test_without_origin_the_location_policy_decides(stack: Stack) -> None:
    with handshake(stack, "/api/ws/no-origin") as conn:  # allow_missing_origin: true (the default)
        assert conn.status == 101, conn
    assert handshake(stack, "/strict/ws/no-origin").status == 403  # allow_missing_origin: false
    with handshake(stack, "/strict/ws/ok", APP) as conn:
        assert conn.status == 101, conn


def test_plain_requests_are_not_checked(stack: Stack) -> None:
    status = wsclient.http_get(stack.url("/api/plain", "http"), headers={"Origin": "https://evil.example.net"})[0]
    assert status == 200


def test_an_h2c_upgrade_from_an_allowed_origin_gets_no_tunnel(stack: Stack) -> None:
    path = f"/api/ws/h2c-{uuid.uuid4().hex}"
    conn = handshake(stack, path, APP, headers={"Upgrade": "h2c"})
    assert conn.status != 101, conn
    time.sleep(0.05)
    seen = [entry for entry in stack.seen() if entry["path"] == path]
    assert seen and all(entry["outcome"] != "naive-upgrade" and not entry["headers"]["upgrade"] for entry in seen)


# --------------------------------------------------------------------------- per-client limits


def test_limit_conn_refuses_one_more_websocket_per_client_address_with_429(stack: Stack) -> None:
    first, second = handshake(stack, "/api/ws/held-1", APP), handshake(stack, "/api/ws/held-2", APP)
    try:
        assert (first.status, second.status) == (101, 101)
        refused = handshake(stack, "/api/ws/held-3", APP)
        assert refused.status == 429, refused
        # another client address still gets in
        assert handshake_from("127.0.0.2", stack.port, "/api/ws/other-address") == 101
        # plain requests are not counted
        assert wsclient.http_get(stack.url("/api/plain", "http"))[0] == 200
    finally:
        first.close()
    deadline = time.monotonic() + 5
    while (status := handshake(stack, "/api/ws/held-again", APP)).status != 101 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status.status == 101, "a closed WebSocket should free its slot"
    status.close()
    second.close()


def test_handshake_rate_answers_429_beyond_the_burst_and_never_counts_plain_requests(stack: Stack) -> None:
    statuses = []
    for attempt in range(3):
        conn = handshake(stack, f"/rate/ws/x{attempt}")
        statuses.append(conn.status)
        conn.close()
    assert statuses == [101, 101, 429]  # 6 a minute, one more at once
    assert [wsclient.http_get(stack.url(f"/rate/plain{n}", "http"))[0] for n in range(5)] == [200] * 5


def test_a_body_larger_than_client_max_body_size_gets_413(stack: Stack) -> None:
    assert wsclient.http_request("POST", stack.url("/small/x", "http"), body=b"x" * 2048)[0] == 413
    assert wsclient.http_request("POST", stack.url("/small/x", "http"), body=b"x" * 512)[0] != 413


# --------------------------------------------------------------------------- what every answer carries


def test_hsts_is_sent_with_every_tls_answer_even_a_refusal(stack: Stack) -> None:
    status, headers = wsclient.http_get(stack.url("/api/plain", "https"), cafile=stack.cafile)[:2]
    assert status == 200 and headers["strict-transport-security"] == "max-age=600"
    refused = handshake(stack, "/api/ws/x", "https://evil.example.net", scheme="wss")
    assert refused.status == 403 and refused.headers["strict-transport-security"] == "max-age=600"
    assert "strict-transport-security" not in wsclient.http_get(stack.url("/api/x", "http"))[1]


def test_no_nginx_version_in_the_server_header_or_error_pages(stack: Stack) -> None:
    refused = handshake(stack, "/api/ws/x", "https://evil.example.net")
    assert refused.headers["server"] == "nginx"
    assert b"nginx/" not in refused.body


# --------------------------------------------------------------------------- which requests may open a tunnel

#: RFC 6455 section 4.1 and 4.2.1, RFC 9110 section 7.8: what a request must have for nginx to forward the upgrade.
#: (name, method, version, Upgrade, Connection, forwarded as an upgrade?). Sec-WebSocket-Key and -Version are the
#: backend's to check (it answers 400, or 426 with the version it speaks): nginx passes them either way.
HANDSHAKE_RULES = [
    ("valid", "GET", "HTTP/1.1", "websocket", "Upgrade", True),
    ("firefox-connection-list", "GET", "HTTP/1.1", "websocket", "keep-alive, Upgrade", True),
    ("letter-case", "GET", "HTTP/1.1", "WebSocket", "UPGRADE", True),
    ("token-with-tab", "GET", "HTTP/1.1", "websocket", "Upgrade\t, x", True),
    ("method-post", "POST", "HTTP/1.1", "websocket", "Upgrade", False),
    ("method-put", "PUT", "HTTP/1.1", "websocket", "Upgrade", False),
    ("http-1.0", "GET", "HTTP/1.0", "websocket", "Upgrade", False),
    ("no-connection-header", "GET", "HTTP/1.1", "websocket", None, False),
    ("connection-without-upgrade", "GET", "HTTP/1.1", "websocket", "keep-alive", False),
    ("upgrade-inside-a-word", "GET", "HTTP/1.1", "websocket", "upgrades", False),
    ("upgrade-in-the-upgrade-header", "GET", "HTTP/1.1", "websocket upgrade", None, False),
    ("h2c", "GET", "HTTP/1.1", "h2c", "Upgrade, HTTP2-Settings", False),
]


def _raw_exchange(port: int, head: bytes, then: bytes = b"") -> bytes:
    """Send a request head (and, after the answer, ``then``); everything nginx sends until it closes or 1 s passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        received = b""
        sock.settimeout(1)
        try:
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    return received
                received += chunk
            if then:
                sock.sendall(then)
            while chunk := sock.recv(4096):
                received += chunk
        except (TimeoutError, ConnectionResetError, BrokenPipeError):
            pass  # no tunnel: nginx answered and may have closed the connection (HTTP/1.0)
    return received


@pytest.mark.parametrize(("name", "method", "version", "upgrade", "connection", "tunnel"), HANDSHAKE_RULES)
def test_only_a_handshake_the_rfcs_allow_is_forwarded_as_an_upgrade(
    stack: Stack, name: str, method: str, version: str, upgrade: str, connection: str | None, tunnel: bool
) -> None:
    """The backend (--naive-upgrade) would switch protocols for any Upgrade it gets: only nginx decides here."""
    path = f"/api/ws/rule-{name}-{uuid.uuid4().hex[:8]}"
    lines = [f"{method} {path} {version}", f"Host: 127.0.0.1:{stack.port}", f"Upgrade: {upgrade}"]
    if connection is not None:
        lines.append(f"Connection: {connection}")
    lines += [f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}", "Sec-WebSocket-Version: 13"]
    if method != "GET":
        lines.append("Content-Length: 0")
    # A masked text frame "ping": echoed only through a tunnel.
    frame = bytes([0x81, 0x84, 1, 2, 3, 4]) + bytes(b ^ m for b, m in zip(b"ping", b"\x01\x02\x03\x04", strict=True))
    answer = _raw_exchange(stack.port, ("\r\n".join(lines) + "\r\n\r\n").encode(), frame)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
    time.sleep(0.05)
    [seen] = [entry for entry in stack.seen() if entry["path"] == path]
    if tunnel:
        assert status == 101 and answer.endswith(b"\x81\x04ping"), answer
        assert (seen["headers"]["upgrade"], seen["headers"]["connection"]) == ("websocket", "upgrade"), seen
    else:
        assert status not in (None, 101) and b"ping" not in answer, answer
        # The backend got a plain request: no Upgrade, no Connection: upgrade.
        assert not seen["headers"]["upgrade"] and "upgrade" not in (seen["headers"]["connection"] or ""), seen
        assert seen["outcome"] != "naive-upgrade", seen


def test_without_a_host_header_nginx_answers_400_and_the_backend_sees_nothing(stack: Stack) -> None:
    """RFC 9110 7.2 and RFC 6455 4.1: an HTTP/1.1 request, a handshake included, must carry Host."""
    before = len(stack.seen())
    head = b"GET /api/ws/no-host HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    head += b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    assert _raw_exchange(stack.port, head).startswith(b"HTTP/1.1 400 ")
    time.sleep(0.05)
    assert len(stack.seen()) == before
