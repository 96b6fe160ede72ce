"""Tests for tests/support/ws_backend.py and tests/support/wsclient.py.

The backend runs as a real subprocess on 127.0.0.1; the client is used as a library and as a CLI.
The `websockets` package checks both against an independent RFC 6455 implementation.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import ws_backend
import wsclient
from support_harness import CLIENT, PYTHON, BackendProcess, run_cli
from websockets.sync.client import connect as websockets_connect
from wsclient import OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT

WS_PATH = "/api/frontend-audio"


# --------------------------------------------------------------------------- helpers


def rfc_accept(key: str) -> str:
    """Sec-WebSocket-Accept computed here, independently of both scripts."""
    return base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def read_raw_frame(sock: socket.socket) -> tuple[bool, int, int, bytes]:
    """(fin, opcode, 7-bit length field, payload) of one unmasked server frame, parsed here."""

    def exact(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            assert chunk, "connection closed mid-frame"
            data += chunk
        return data

    first, second = exact(2)
    assert not second & 0x80, "server frames are never masked"
    length = second & 0x7F
    size = length
    if length == 126:
        (size,) = struct.unpack("!H", exact(2))
    elif length == 127:
        (size,) = struct.unpack("!Q", exact(8))
    return bool(first & 0x80), first & 0x0F, length, exact(size)


def raw_http(port: int, request: bytes, *, until_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
            if not until_close and b"\r\n\r\n" in data:
                return data


def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# --------------------------------------------------------------------------- pure functions


def test_parse_delay_bounds() -> None:
    assert ws_backend.parse_delay(["0.5"]) == 0.5
    assert ws_backend.parse_delay(["1000"]) == ws_backend.MAX_DELAY == 30
    assert ws_backend.parse_delay(["-3"]) == 0
    for bad in (["abc"], ["nan"]):
        with pytest.raises(ValueError):
            ws_backend.parse_delay(bad)


def test_client_header_override_replaces_and_drops() -> None:
    own = [("Host", "h"), ("Upgrade", "websocket"), ("Sec-WebSocket-Key", "k")]
    merged = wsclient.merge_headers(own, [("upgrade", "h2c"), ("Sec-WebSocket-Key", ""), ("X-A", "1")])
    assert merged == [("Host", "h"), ("upgrade", "h2c"), ("X-A", "1")]


def test_parse_url_host_header_and_sni() -> None:
    target = wsclient.parse_url("wss://nginx/api/x?a=1")
    assert (target.host, target.port, target.resource, target.host_header, target.sni) == (
        "nginx",
        443,
        "/api/x?a=1",
        "nginx",
        "nginx",
    )
    target = wsclient.parse_url("ws://[::1]:8080/", host_header="api.example.com:8443")
    assert (target.host, target.port, target.host_header, target.sni) == (
        "::1",
        8080,
        "api.example.com:8443",
        "api.example.com",
    )
    with pytest.raises(ValueError):
        wsclient.parse_url("ftp://x/")


# --------------------------------------------------------------------------- WebSocket echo


def test_handshake_answers_101_with_the_rfc_accept(shared_backend: BackendProcess) -> None:
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {WS_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    response = raw_http(shared_backend.port, request, until_close=False)
    head = response.split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 101 Switching Protocols\r\n")
    assert f"Sec-WebSocket-Accept: {rfc_accept(key)}" in head.split("\r\n")

    with wsclient.connect(shared_backend.url(WS_PATH)) as conn:
        assert (conn.status, conn.upgraded) == (101, True)
        assert conn.headers["upgrade"].lower() == "websocket"
        assert conn.headers["x-backend"] == "shared"


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 300_000])
def test_text_and_binary_echo_exactly(shared_backend: BackendProcess, size: int) -> None:
    text = ("é" * size)[: max(size // 2, 0)]  # multi-byte UTF-8
    data = os.urandom(size)
    with wsclient.connect(shared_backend.url(WS_PATH)) as conn:
        conn.send_binary(data)
        assert conn.recv() == (OP_BINARY, data)
        conn.send_text(text)
        assert conn.recv() == (OP_TEXT, text.encode())


def test_echo_uses_minimal_lengths_and_reassembles_fragments(shared_backend: BackendProcess) -> None:
    with wsclient.connect(shared_backend.url(WS_PATH)) as conn:
        conn.send_frame(OP_TEXT, b"he", fin=False)
        conn.send_frame(OP_PING, b"in-between")  # a control frame may interleave with fragments
        conn.send_frame(OP_CONTINUATION, b"ll", fin=False)
        conn.send_frame(OP_CONTINUATION, b"o", fin=True)
        assert read_raw_frame(conn.sock) == (True, OP_PONG, 10, b"in-between")
        assert read_raw_frame(conn.sock) == (True, OP_TEXT, 5, b"hello")  # one frame, unchanged message
        for size, field in ((125, 125), (126, 126), (65535, 126), (65536, 127)):
            payload = os.urandom(size)
            conn.send_binary(payload)
            assert read_raw_frame(conn.sock) == (True, OP_BINARY, field, payload)


def test_ping_pong_and_close_handshake(shared_backend: BackendProcess) -> None:
    conn = wsclient.connect(shared_backend.url(WS_PATH))
    assert conn.ping(b"are you there") >= 0
    conn.send_text("after ping")
    assert conn.recv() == (OP_TEXT, b"after ping")
    assert conn.close(4001, "bye") == 4001  # the backend echoes the close code
    assert conn.closed
    with wsclient.connect(shared_backend.url(WS_PATH)) as conn:
        conn.send_frame(OP_CLOSE, b"")
        assert conn.recv() == (OP_CLOSE, b"")
        assert conn.close_code == 1005


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param(wsclient.encode_frame(OP_TEXT, b"unmasked", mask=False), 1002, id="unmasked"),
        pytest.param(wsclient.encode_frame(OP_TEXT, b"\xff\xfe"), 1007, id="invalid-utf8"),
        pytest.param(wsclient.encode_frame(OP_CONTINUATION, b"x"), 1002, id="continuation-without-start"),
        pytest.param(wsclient.encode_frame(OP_PING, b"x" * 126), 1002, id="control-frame-too-long"),
        pytest.param(bytes([0x80 | 0x40 | OP_TEXT]) + wsclient.encode_frame(OP_TEXT, b"x")[1:], 1002, id="rsv1"),
        pytest.param(wsclient.encode_frame(0x3, b"x"), 1002, id="reserved-opcode"),
        pytest.param(wsclient.encode_frame(OP_CLOSE, struct.pack("!H", 999)), 1002, id="invalid-close-code"),
    ],
)
def test_protocol_errors_close_with_the_right_code(shared_backend: BackendProcess, frame: bytes, code: int) -> None:
    with wsclient.connect(shared_backend.url(WS_PATH)) as conn:
        conn.sock.sendall(frame)
        opcode, payload = conn.recv()
        assert opcode == OP_CLOSE
        assert struct.unpack("!H", payload[:2])[0] == code


def test_subprotocol_first_offer_is_selected(shared_backend: BackendProcess) -> None:
    with wsclient.connect(shared_backend.url("/api/call-events"), subprotocols=["audio.v2", "audio.v1"]) as conn:
        assert conn.subprotocol == "audio.v2"
    with wsclient.connect(shared_backend.url("/api/audio-stream/sub/path?token=1")) as conn:
        assert conn.upgraded and conn.subprotocol is None


# --------------------------------------------------------------------------- handshake refusals


def test_get_on_a_ws_path_without_upgrade_is_426(shared_backend: BackendProcess) -> None:
    status, headers, body = wsclient.http_get(shared_backend.url(WS_PATH, "http"))
    assert status == 426
    assert headers["upgrade"] == "websocket"
    assert json.loads(body)["status"] == 426


@pytest.mark.parametrize(
    "override",
    [
        {"Sec-WebSocket-Key": "c2hvcnQ="},  # base64 of 5 bytes, not 16
        {"Sec-WebSocket-Key": "not base64!"},
        {"Sec-WebSocket-Key": ""},  # missing
        {"Sec-WebSocket-Version": "8"},
        {"Sec-WebSocket-Version": ""},
        {"Connection": "keep-alive"},
    ],
)
def test_bad_handshakes_get_400(shared_backend: BackendProcess, override: dict[str, str]) -> None:
    conn = wsclient.connect(shared_backend.url(WS_PATH), headers=override)
    assert (conn.status, conn.upgraded) == (400, False)
    assert conn.headers["sec-websocket-version"] == "13"
    assert json.loads(conn.body)["status"] == 400


def test_without_naive_upgrade_h2c_is_never_switched(shared_backend: BackendProcess) -> None:
    h2c = {"Upgrade": "h2c", "Connection": "Upgrade, HTTP2-Settings", "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA"}
    conn = wsclient.connect(shared_backend.url(WS_PATH), headers=h2c)
    assert conn.status == 426
    status, _headers, body = wsclient.http_get(shared_backend.url("/api/headers", "http"), headers=h2c)
    assert status == 200
    assert json.loads(body)["headers"]["upgrade"] == "h2c"  # seen, served as plain HTTP


def test_naive_upgrade_switches_any_upgrade_and_tunnels_bytes(naive_backend: BackendProcess) -> None:
    before = naive_backend.stats(reset=True)
    assert before["reset"] is True
    for path in (WS_PATH, "/api/headers"):
        conn = wsclient.connect(naive_backend.url(path), headers={"Upgrade": "h2c"})
        assert (conn.status, conn.upgraded) == (101, False)
        assert conn.headers["upgrade"] == "h2c"
        conn.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nraw bytes")
        received = b""
        while len(received) < 27:
            received += conn.sock.recv(100)
        assert received == b"PRI * HTTP/2.0\r\n\r\nraw bytes"
        conn.close()
    # WebSocket still works, and an Upgrade without Connection: upgrade is plain HTTP
    with wsclient.connect(naive_backend.url(WS_PATH)) as conn:
        assert conn.upgraded
    status, _headers, _body = wsclient.http_get(naive_backend.url("/api/headers", "http"), headers={"Upgrade": "h2c"})
    assert status == 200
    assert wait_for(lambda: naive_backend.stats()["naive_upgrades"] == 2)
    events = [line for line in naive_backend.log_lines() if line["outcome"] == "naive-upgrade"]
    assert [e["upgrade_value"] for e in events[-2:]] == ["h2c", "h2c"]
    assert "naive-upgrade: GET /api/headers Upgrade: h2c" in naive_backend.stderr.read_text()


# --------------------------------------------------------------------------- plain HTTP


def test_headers_endpoint_describes_the_request(shared_backend: BackendProcess) -> None:
    status, headers, body = wsclient.http_get(
        shared_backend.url("/some/prefix/anything?x=1", "http"),
        headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7"},
    )
    assert status == 200
    assert headers["content-type"] == "application/json"
    data = json.loads(body)
    assert data["method"] == "GET"
    assert data["path"] == "/some/prefix/anything"
    assert data["query"] == {"x": ["1"]}
    assert data["backend"] == "shared"
    assert data["headers"]["x-forwarded-for"] == "203.0.113.7"
    assert data["headers"]["x-real-ip"] == "203.0.113.7"
    assert data["headers"]["host"] == f"127.0.0.1:{shared_backend.port}"
    assert data["peer"].startswith("127.0.0.1:")


def test_keep_alive_serves_many_requests_on_one_connection(backend: BackendProcess) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=5)
    for index in range(5):
        connection.request("GET", f"/api/headers?i={index}")
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["query"] == {"i": [str(index)]}
    connection.request("POST", "/api/upload", body=iter([b"abc", b"defg"]), encode_chunked=True)
    response = connection.getresponse()
    assert json.loads(response.read())["body_length"] == 7
    stats = backend.stats()
    assert stats["connections_opened"] == 1  # the _stats request itself is not counted
    assert stats["connections_open"] == 1
    assert stats["http_requests"] == 6
    connection.close()
    assert wait_for(lambda: backend.stats()["connections_open"] == 0)


def test_pipelined_requests_and_connection_close(shared_backend: BackendProcess) -> None:
    two = b"GET /api/a HTTP/1.1\r\nHost: x\r\n\r\nGET /api/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    response = raw_http(shared_backend.port, two)  # returns only because the backend closes after /api/b
    assert response.count(b"HTTP/1.1 200 OK") == 2
    assert b'"path": "/api/a"' in response and b'"path": "/api/b"' in response
    http10 = raw_http(shared_backend.port, b"GET /api/c HTTP/1.0\r\n\r\n")
    assert http10.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in http10


def test_malformed_requests_get_400(shared_backend: BackendProcess) -> None:
    assert raw_http(shared_backend.port, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw_http(shared_backend.port, b"GET / HTTP/1.1\r\nbad header\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw_http(shared_backend.port, b"GET / HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505 ")


def test_stats_counters_and_reset(backend: BackendProcess) -> None:
    conn = wsclient.connect(backend.url(WS_PATH))
    wsclient.http_get(backend.url("/api/headers", "http"))
    wsclient.http_get(backend.url(WS_PATH, "http"))  # 426
    stats = backend.stats()
    assert stats["websocket_open"] == 1
    assert stats["websocket_sessions"] == 1
    assert stats["connections_opened"] == 3
    assert stats["http_requests"] == 3
    assert stats["rejected"] == 1
    assert stats["naive_upgrades"] == 0
    assert stats["backend"] == "test-backend"
    conn.close()
    assert wait_for(lambda: backend.stats()["websocket_open"] == 0)

    status, _reason, _headers, body = wsclient.http_request("POST", backend.url("/api/_stats/reset", "http"))
    assert status == 200 and json.loads(body)["reset"] is True
    stats = backend.stats(reset=True)
    for total in ("connections_opened", "http_requests", "websocket_sessions", "naive_upgrades", "rejected"):
        assert stats[total] == 0, total
    assert stats["connections_open"] == 0


def test_delay_endpoint(shared_backend: BackendProcess) -> None:
    started = time.monotonic()
    status, _headers, body = wsclient.http_get(shared_backend.url("/api/delay?seconds=0.3", "http"))
    assert status == 200 and json.loads(body)["slept"] == 0.3
    assert time.monotonic() - started >= 0.3
    status, _headers, _body = wsclient.http_get(shared_backend.url("/api/delay?seconds=soon", "http"))
    assert status == 400


def test_log_records_every_request_with_its_outcome(backend: BackendProcess) -> None:
    forwarded = {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https", "X-Real-IP": "198.51.100.1"}
    wsclient.http_get(backend.url("/api/headers", "http"), headers=forwarded)
    with wsclient.connect(backend.url(WS_PATH), origin="https://app.example.com"):
        pass
    wsclient.http_get(backend.url(WS_PATH, "http"))
    wsclient.connect(backend.url(WS_PATH), headers={"Sec-WebSocket-Version": "7"})
    backend.stats()  # control requests are not logged
    lines = backend.log_lines()
    assert [(line["method"], line["path"], line["outcome"], line["status"]) for line in lines] == [
        ("GET", "/api/headers", "http", 200),
        ("GET", WS_PATH, "websocket", 101),
        ("GET", WS_PATH, "rejected", 426),
        ("GET", WS_PATH, "rejected", 400),
    ]
    assert set(lines[0]["headers"]) == {
        "host",
        "x-real-ip",
        "x-forwarded-for",
        "x-forwarded-proto",
        "upgrade",
        "connection",
        "origin",
    }
    assert lines[0]["headers"]["x-forwarded-for"] == "198.51.100.1"
    assert lines[0]["headers"]["x-forwarded-proto"] == "https"
    assert lines[0]["headers"]["origin"] is None
    assert lines[1]["headers"]["origin"] == "https://app.example.com"
    assert lines[1]["headers"]["upgrade"] == "websocket"
    assert all(isinstance(line["time"], float) and line["backend"] == "test-backend" for line in lines)


def test_sigterm_closes_websockets_and_exits_0(start_backend: Callable[..., BackendProcess]) -> None:
    backend = start_backend()
    conn = wsclient.connect(backend.url(WS_PATH))
    keep_alive = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=5)
    keep_alive.request("GET", "/api/headers")
    keep_alive.getresponse().read()
    started = time.monotonic()
    assert backend.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 3
    assert conn.recv(timeout=2) == (OP_CLOSE, struct.pack("!H", 1001))
    keep_alive.close()


def test_sigint_exits_0(start_backend: Callable[..., BackendProcess]) -> None:
    assert start_backend().stop(signal.SIGINT) == 0


def test_reuse_port_lets_two_processes_share_a_port(start_backend: Callable[..., BackendProcess]) -> None:
    first = start_backend("--reuse-port", name="one")
    second = start_backend("--reuse-port", name="two", port=first.port)
    assert second.port == first.port
    seen = set()
    for _attempt in range(40):
        seen.add(json.loads(wsclient.http_get(first.url("/api/headers", "http"))[2])["backend"])
        if len(seen) == 2:
            break
    assert seen == {"one", "two"}


# --------------------------------------------------------------------------- CLI

WS_KEYS = {
    "url",
    "status",
    "reason",
    "headers",
    "upgraded",
    "text_echo",
    "binary_echo",
    "handshake_ms",
    "rtt_ms",
    "idle_seconds",
    "idle_survived",
    "error",
}


def test_cli_echo_success(shared_backend: BackendProcess) -> None:
    code, report = run_cli(shared_backend.url(WS_PATH), "--text", "hello", "--binary", "640", "--origin", "https://a.b")
    assert code == 0, report
    assert WS_KEYS <= set(report)
    assert report["status"] == 101 and report["reason"] == "Switching Protocols"
    assert report["upgraded"] is True
    assert report["text_echo"] is True and report["binary_echo"] is True
    assert report["handshake_ms"] > 0 and report["rtt_ms"] > 0
    assert report["idle_seconds"] is None and report["idle_survived"] is None
    assert report["error"] is None
    assert report["headers"]["upgrade"] == "websocket"


def test_cli_idle_then_echo(shared_backend: BackendProcess) -> None:
    code, report = run_cli(shared_backend.url(WS_PATH), "--binary", "640", "--idle", "1")
    assert code == 0, report
    assert (report["idle_seconds"], report["idle_survived"], report["binary_echo"]) == (1.0, True, True)
    assert report["text_echo"] is None


def test_cli_expect_status_decides_success(shared_backend: BackendProcess) -> None:
    h2c = ("--header", "Upgrade: h2c")
    code, report = run_cli(shared_backend.url(WS_PATH), *h2c)
    assert code == 1
    assert report["status"] == 426 and report["upgraded"] is False
    assert "unexpected status 426" in report["error"]
    code, report = run_cli(shared_backend.url(WS_PATH), *h2c, "--expect-status", "400,426")
    assert code == 0 and report["error"] is None
    code, report = run_cli(shared_backend.url(WS_PATH), "--expect-status", "403", "--text", "x")
    assert code == 1 and report["status"] == 101
    # a WebSocket handshake on a plain path: the backend answers 200 with what it saw
    code, report = run_cli(shared_backend.url("/api/headers"), "--text", "x")
    assert code == 1 and report["status"] == 200 and report["text_echo"] is None
    assert report["body"]["headers"]["upgrade"] == "websocket"


def test_cli_connection_refused_is_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        code, report = run_cli(f"ws://127.0.0.1:{port}/api/frontend-audio", "--timeout", "2")
    assert code == 1
    assert report["status"] is None and "ConnectionRefusedError" in report["error"]


def test_cli_http_mode(shared_backend: BackendProcess) -> None:
    url = shared_backend.url("/api/headers", "http")
    code, report = run_cli("--http", url, "--header", "X-Real-IP: 192.0.2.9", "--host-header", "api.example.com")
    assert code == 0, report
    assert {"status", "headers", "body"} <= set(report)
    assert report["status"] == 200
    assert report["body"]["headers"]["x-real-ip"] == "192.0.2.9"
    assert report["body"]["headers"]["host"] == "api.example.com"
    code, report = run_cli("--http", shared_backend.url(WS_PATH, "http"))
    assert code == 1 and report["status"] == 426
    code, report = run_cli("--http", shared_backend.url(WS_PATH, "http"), "--expect-status", "426")
    assert code == 0


def test_cli_hold_keeps_connections_open(backend: BackendProcess) -> None:
    code, report = run_cli("--hold", "50", "--hold-seconds", "0.5", backend.url("/api/call-events"))
    assert code == 0, report
    assert (report["opened"], report["echoed_before"], report["echoed_after"], report["errors"]) == (50, 50, 50, 0)
    stats = backend.stats()
    assert stats["websocket_sessions"] == 50
    code, report = run_cli("--hold", "3", "--hold-seconds", "0", backend.url("/api/headers"))
    assert code == 1
    assert (report["opened"], report["errors"]) == (0, 3)


def test_cli_rejects_out_of_bounds_arguments(shared_backend: BackendProcess) -> None:
    result = subprocess.run(
        [PYTHON, str(CLIENT), "--hold", "100000", shared_backend.url(WS_PATH)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "between 0 and" in result.stderr


# --------------------------------------------------------------------------- cross-checks with `websockets`


def test_websockets_client_against_backend(backend: BackendProcess) -> None:
    with websockets_connect(
        backend.url(WS_PATH),
        origin="https://app.example.com",
        subprotocols=["chat"],
        proxy=None,
        max_size=None,
        # the default offers permessage-deflate: the backend must decline it and still work
    ) as ws:
        assert ws.subprotocol == "chat"
        ws.send("bonjour ☎")
        assert ws.recv() == "bonjour ☎"
        big = os.urandom(1_500_000)
        ws.send(big)
        assert ws.recv() == big
        ws.send(["frag", "mented"])  # a fragmented message comes back whole
        assert ws.recv() == "fragmented"
        ws.send([b"\x00", b"\x01\x02"])
        assert ws.recv() == b"\x00\x01\x02"
        assert ws.ping(b"ping!").wait(2)
        ws.close(4002, "done")
        assert ws.close_code == 4002
    assert "sec-websocket-extensions" not in ws.response.headers
    assert backend.log_lines()[-1]["headers"]["origin"] == "https://app.example.com"


def test_wsclient_against_websockets_server(websockets_server: str) -> None:
    with wsclient.connect(f"{websockets_server}/any", subprotocols=["chat"]) as conn:
        assert conn.upgraded and conn.subprotocol == "chat"
        for size in (0, 125, 126, 65536, 200_000):
            data = os.urandom(size)
            conn.send_binary(data)
            assert conn.recv() == (OP_BINARY, data)
        conn.send_text("fragment me")
        assert conn.recv() == (OP_TEXT, b"fragmented")  # three frames from the server, one message
        assert conn.ping(b"x") >= 0
        assert conn.close(1000) == 1000
    refused = wsclient.connect(f"{websockets_server}/forbidden")
    assert (refused.status, refused.upgraded) == (403, False)
    assert refused.body == b"no entry\n"


def test_cli_against_websockets_server(websockets_server: str) -> None:
    code, report = run_cli(f"{websockets_server}/x", "--text", "hello", "--binary", "65536")
    assert code == 0, report
    assert report["text_echo"] and report["binary_echo"]
    code, report = run_cli(f"{websockets_server}/forbidden", "--expect-status", "403")
    assert code == 0 and report["body"] == "no entry\n"
    code, report = run_cli("--hold", "20", "--hold-seconds", "0", f"{websockets_server}/x")
    assert code == 0 and report["echoed_after"] == 20


# --------------------------------------------------------------------------- TLS


def test_wss_verifies_the_certificate_with_sni(
    tls_server: tuple[str, list[str | None]], tls_files: dict[str, Path]
) -> None:
    url, seen = tls_server
    ca = str(tls_files["ca"])
    with wsclient.connect(f"{url}/echo", cafile=ca, host_header="api.example.test") as conn:
        assert conn.upgraded
        conn.send_text("over tls")
        assert conn.recv() == (OP_TEXT, b"over tls")
    assert seen[-1] == "api.example.test"
    with pytest.raises(ssl.SSLError):  # 127.0.0.1 is not in the certificate
        wsclient.connect(f"{url}/echo", cafile=ca)
    with pytest.raises(ssl.SSLError):  # unknown CA
        wsclient.connect(f"{url}/echo", host_header="api.example.test")
    with wsclient.connect(f"{url}/echo", insecure=True) as conn:
        assert conn.upgraded
    code, report = run_cli(f"{url}/echo", "--cafile", ca, "--host-header", "api.example.test", "--text", "t")
    assert code == 0 and report["text_echo"] is True
    code, report = run_cli(f"{url}/echo", "--cafile", ca, "--text", "t")
    assert code == 1 and "SSL" in report["error"]
    status, _headers, _body = wsclient.http_get(
        f"{url.replace('wss', 'https')}/", cafile=ca, host_header="api.example.test"
    )
    assert status == 426  # websockets answers plain HTTPS with 426: the TLS path of http_get works


def test_backend_serves_tls_of_its_own(
    start_backend: Callable[..., BackendProcess], tls_files: dict[str, Path]
) -> None:
    backend = start_backend("--tls-cert", str(tls_files["cert"]), "--tls-key", str(tls_files["key"]))
    ca = str(tls_files["ca"])
    url = backend.url("/api/frontend-audio", "wss")
    with wsclient.connect(url, cafile=ca, host_header="api.example.test") as conn:
        assert conn.upgraded
        conn.send_binary(b"\x01" * 640)
        assert conn.recv() == (OP_BINARY, b"\x01" * 640)
    with pytest.raises(ssl.SSLError):  # the certificate is checked: unknown CA
        wsclient.connect(backend.url("/api/frontend-audio", "wss"), host_header="api.example.test")
