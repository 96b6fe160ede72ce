#!/usr/bin/env python3
"""WebSocket and HTTP test client for the wsproxy.nginx tests (inside containers and on the host).

Python standard library only (3.9+). The WebSocket protocol itself is the collection's codec,
plugins/module_utils/websocket_codec.py: found in the checkout this file is in, else in /opt/wsproxy-codec
(where the test containers mount plugins/module_utils beside tests/support at /opt/wsproxy).

Library use::

    conn = connect("wss://api.example.com/api/frontend-audio", origin="https://app.example.com", cafile="ca.pem")
    conn.status, conn.headers          # 101, {"upgrade": "websocket", ...}
    conn.send_text("hello"); conn.recv()  # (OP_TEXT, b"hello")
    conn.ping(); conn.close()
    status, headers, body = http_get("http://nginx/api/headers")

Command line (one JSON object on stdout; exit 0 when everything asked for succeeded, 1 otherwise)::

    wsclient.py ws://nginx/api/frontend-audio --text hello --binary 640 --idle 70
    wsclient.py ws://nginx/api/frontend-audio --header 'Upgrade: h2c' --expect-status 400,426
    wsclient.py --http https://nginx/api/headers --cafile ca.pem --host-header api.example.com
    wsclient.py --hold 200 --hold-seconds 30 ws://nginx/api/call-events
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CODEC_DIRS = (Path(__file__).resolve().parents[2] / "plugins" / "module_utils", Path("/opt/wsproxy-codec"))
sys.path[:0] = [str(path) for path in CODEC_DIRS if (path / "websocket_codec.py").is_file()][:1]
import websocket_codec as codec  # noqa: E402  (found through CODEC_DIRS)
from websocket_codec import (  # noqa: E402
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    ConnectionClosed,
    HeadersLike,
    MessageReader,
    WebSocketError,
    check_upgrade,
    close_code,
    close_payload,
    encode_frame,
    header_tokens,
    merge_headers,
    new_key,
    parse_response_head,
    read_message,
    read_message_async,
)

OP_CONTINUATION = codec.OP_CONTINUATION  # with the opcodes above, for the tests: from wsclient import OP_...
USER_AGENT = "wsproxy-wsclient/1"
MAX_HEAD = 64 * 1024
MAX_BODY = 8 * 1024 * 1024
MAX_MESSAGE = 64 * 1024 * 1024
MAX_HOLD = 10000
MAX_HOLD_SECONDS = 3600.0
MAX_IDLE_SECONDS = 3600.0

# headers (HeadersLike): a mapping or a list of (name, value); a header given here replaces the client's own
# header of that name (e.g. {"Upgrade": "h2c"}), and an empty value removes it.


# --------------------------------------------------------------------------- shared primitives


@dataclass
class Target:
    url: str
    secure: bool
    host: str  # to connect to
    port: int
    resource: str  # path?query
    host_header: str

    @property
    def sni(self) -> str:
        """TLS server name: the Host header without its port (and without brackets for IPv6)."""
        if self.host_header.startswith("["):
            return self.host_header[1:].partition("]")[0]
        return self.host_header.partition(":")[0]


def parse_url(url: str, host_header: str | None = None) -> Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss", "http", "https") or not parts.hostname:
        raise ValueError(f"unsupported URL {url!r}: expected ws://, wss://, http:// or https://HOST/...")
    secure = scheme in ("wss", "https")
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    netloc = parts.netloc.rpartition("@")[2]
    return Target(url, secure, parts.hostname, port, resource, host_header or netloc)


def build_request(method: str, target: Target, headers: Iterable[tuple[str, str]]) -> bytes:
    return codec.build_request(method, target.resource, headers)


def handshake_headers(
    target: Target, key: str, origin: str | None, subprotocols: Sequence[str] | None, headers: HeadersLike
) -> list[tuple[str, str]]:
    return codec.handshake_headers(
        target.host_header, key, origin=origin, subprotocols=subprotocols, user_agent=USER_AGENT, extra=headers
    )


def make_ssl_context(cafile: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])  # WebSocket needs HTTP/1.1 even where nginx offers h2
    return context


# --------------------------------------------------------------------------- blocking client


class _Stream:
    """A socket with a read buffer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionClosed("connection closed by peer")
        self.buffer += chunk

    def read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def recv(self) -> bytes:
        """What is buffered, else what arrives next."""
        if not self.buffer:
            self._fill()
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def read_until(self, separator: bytes, limit: int = MAX_HEAD) -> bytes:
        while True:
            index = self.buffer.find(separator)
            if index >= 0:
                return self.read_exact(index + len(separator))
            if len(self.buffer) > limit:
                raise WebSocketError(f"no {separator!r} within {limit} bytes")
            self._fill()

    def read_to_end(self, limit: int = MAX_BODY) -> bytes:
        try:
            while len(self.buffer) <= limit:
                self._fill()
        except (ConnectionClosed, ConnectionResetError, ssl.SSLEOFError):
            pass  # the end of the body
        data = bytes(self.buffer[:limit])
        self.buffer.clear()
        return data


def open_socket(
    target: Target, *, timeout: float, cafile: str | None, insecure: bool, server_hostname: str | None = None
) -> socket.socket:
    sock = socket.create_connection((target.host, target.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not target.secure:
        return sock
    try:
        return make_ssl_context(cafile, insecure).wrap_socket(sock, server_hostname=server_hostname or target.sni)
    except BaseException:
        sock.close()
        raise


def read_body(stream: _Stream, status: int, headers: Mapping[str, str], method: str = "GET") -> bytes:
    """The body of a response whose head was read: by Content-Length, chunked, or up to the close."""
    if method == "HEAD" or status in (101, 204, 304) or 100 <= status < 200:
        return b""
    if "chunked" in header_tokens(headers, "transfer-encoding"):
        chunks: list[bytes] = []
        while True:
            size = int(stream.read_until(b"\r\n").split(b";")[0].strip(), 16)
            if size == 0:
                while stream.read_until(b"\r\n") != b"\r\n":  # trailer fields
                    pass
                return b"".join(chunks)
            chunks.append(stream.read_exact(size))
            stream.read_exact(2)
    if "content-length" in headers:
        return stream.read_exact(min(int(headers["content-length"]), MAX_BODY))
    return stream.read_to_end()


class Connection:
    """A client WebSocket (or the refused attempt at one: check ``upgraded`` and ``status``)."""

    def __init__(
        self,
        sock: socket.socket,
        stream: _Stream,
        *,
        url: str,
        status: int,
        reason: str,
        headers: dict[str, str],
        upgraded: bool,
        body: bytes,
        handshake_seconds: float,
    ) -> None:
        self.sock = sock
        self._stream = stream
        self.url = url
        self.status = status
        self.reason = reason
        self.headers = headers
        self.upgraded = upgraded
        self.body = body  # response body when the server refused the upgrade
        self.handshake_seconds = handshake_seconds
        self.subprotocol = headers.get("sec-websocket-protocol") if upgraded else None
        self.close_code: int | None = None  # the peer's close code, once known
        self.closed = not upgraded
        self._queue: deque[tuple[int, bytes]] = deque()
        self._messages = MessageReader(masked=False, max_size=MAX_MESSAGE)
        self._close_sent = False
        if not upgraded and status != 101:
            sock.close()  # a 101 to another protocol (h2c, ...) keeps .sock open for raw bytes

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Connection {self.url} status={self.status} upgraded={self.upgraded} closed={self.closed}>"

    # sending ---------------------------------------------------------------

    def send_frame(self, opcode: int, payload: bytes, *, fin: bool = True) -> None:
        """Send one frame as is (for fragmentation and protocol tests)."""
        if self.closed or self._close_sent:
            raise ConnectionClosed("connection is closed")
        self.sock.sendall(encode_frame(opcode, payload, fin=fin))

    def send_text(self, text: str) -> None:
        self.send_frame(OP_TEXT, text.encode("utf-8"))

    def send_binary(self, data: bytes) -> None:
        self.send_frame(OP_BINARY, bytes(data))

    # receiving -------------------------------------------------------------

    def _next_event(self) -> tuple[int, bytes]:
        """Next message, pong or close frame; pings are answered here."""
        if self.closed:
            raise ConnectionClosed(f"connection is closed (code {self.close_code})")
        while True:
            try:
                opcode, payload = read_message(self._messages, self._stream.recv)
            except ConnectionClosed:
                self.closed = True
                self.sock.close()
                raise
            if opcode == OP_PING:
                if not self._close_sent:
                    self.sock.sendall(encode_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                self.close_code = close_code(payload)
                if not self._close_sent:
                    self._close_sent = True
                    self.sock.sendall(encode_frame(OP_CLOSE, payload[:2]))
                self.closed = True
                self.sock.close()
                return opcode, payload
            else:
                return opcode, payload

    def recv(self, timeout: float | None = None) -> tuple[int, bytes]:
        """The next message as (OP_TEXT or OP_BINARY, payload), or (OP_CLOSE, payload) once the peer closes.

        Fragmented messages come back whole; pings are answered, unsolicited pongs skipped.
        """
        if self._queue:
            return self._queue.popleft()
        previous = self.sock.gettimeout()
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            while True:
                opcode, payload = self._next_event()
                if opcode != OP_PONG:
                    return opcode, payload
        finally:
            if timeout is not None and not self.closed:
                self.sock.settimeout(previous)

    def ping(self, payload: bytes = b"") -> float:
        """Send a ping and wait for its pong; returns the round trip in seconds."""
        payload = payload or os.urandom(4)
        started = time.perf_counter()
        self.send_frame(OP_PING, payload)
        while True:
            opcode, data = self._next_event()
            if opcode == OP_PONG and data == payload:
                return time.perf_counter() - started
            if opcode == OP_CLOSE:
                raise ConnectionClosed(f"closed by peer (code {self.close_code}) before the pong")
            if opcode in (OP_TEXT, OP_BINARY):
                self._queue.append((opcode, data))

    def close(self, code: int = 1000, reason: str = "", timeout: float = 5.0) -> int | None:
        """Close handshake: send a close frame, wait for the peer's; returns the peer's close code."""
        if self.closed:
            self.sock.close()
            return self.close_code
        try:
            if not self._close_sent:
                self._close_sent = True
                self.sock.sendall(encode_frame(OP_CLOSE, close_payload(code, reason)))
            self.sock.settimeout(timeout)
            while not self.closed:
                self._next_event()
        except (OSError, WebSocketError):
            pass
        finally:
            self.closed = True
            self.sock.close()
        return self.close_code


def connect(
    url: str,
    *,
    origin: str | None = None,
    headers: HeadersLike = None,
    cafile: str | None = None,
    insecure: bool = False,
    timeout: float = 10.0,
    subprotocols: Sequence[str] | None = None,
    host_header: str | None = None,
    server_hostname: str | None = None,
) -> Connection:
    """Open a WebSocket. A refused handshake is not an exception: the Connection has ``upgraded=False``.

    host_header replaces the Host header and, unless server_hostname is given, the TLS SNI name.
    Raises OSError / ssl.SSLError for network and TLS failures, WebSocketError for a malformed answer or
    a 101 that does not complete the WebSocket handshake the client asked for.
    """
    target = parse_url(url, host_header)
    key = new_key()
    request_headers = handshake_headers(target, key, origin, subprotocols, headers)
    started = time.perf_counter()
    sock = open_socket(target, timeout=timeout, cafile=cafile, insecure=insecure, server_hostname=server_hostname)
    stream = _Stream(sock)
    try:
        sock.sendall(build_request("GET", target, request_headers))
        status, reason, response_headers = parse_response_head(stream.read_until(b"\r\n\r\n"))
        elapsed = time.perf_counter() - started
        problem = check_upgrade(status, response_headers, key)
        body = b""
        if status == 101:
            asked_websocket = any(n.lower() == "upgrade" and v.lower() == "websocket" for n, v in request_headers)
            if problem and asked_websocket:
                raise WebSocketError(f"invalid WebSocket handshake: {problem}")
        else:
            try:
                framed = "content-length" in response_headers or "chunked" in header_tokens(
                    response_headers, "transfer-encoding"
                )
                if framed or "close" in header_tokens(response_headers, "connection"):
                    body = read_body(stream, status, response_headers)
            except (OSError, WebSocketError, ValueError):
                pass  # the body of a refused handshake is only informative
    except BaseException:
        sock.close()
        raise
    return Connection(
        sock,
        stream,
        url=url,
        status=status,
        reason=reason,
        headers=response_headers,
        upgraded=problem is None,
        body=body,
        handshake_seconds=elapsed,
    )


def http_request(
    method: str,
    url: str,
    *,
    headers: HeadersLike = None,
    body: bytes | None = None,
    cafile: str | None = None,
    insecure: bool = False,
    timeout: float = 10.0,
    host_header: str | None = None,
    server_hostname: str | None = None,
) -> tuple[int, str, dict[str, str], bytes]:
    """One request on a fresh connection: (status, reason, headers, body)."""
    target = parse_url(url, host_header)
    own = [("Host", target.host_header), ("User-Agent", USER_AGENT), ("Accept", "*/*"), ("Connection", "close")]
    if body is not None:
        own.append(("Content-Length", str(len(body))))
    sock = open_socket(target, timeout=timeout, cafile=cafile, insecure=insecure, server_hostname=server_hostname)
    with sock:
        sock.sendall(build_request(method, target, merge_headers(own, headers)) + (body or b""))
        stream = _Stream(sock)
        status, reason, response_headers = parse_response_head(stream.read_until(b"\r\n\r\n"))
        return status, reason, response_headers, read_body(stream, status, response_headers, method)


def http_get(
    url: str,
    headers: HeadersLike = None,
    cafile: str | None = None,
    insecure: bool = False,
    timeout: float = 10.0,
    host_header: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """GET on a fresh connection: (status, headers with lower-case names, body)."""
    status, _reason, response_headers, body = http_request(
        "GET", url, headers=headers, cafile=cafile, insecure=insecure, timeout=timeout, host_header=host_header
    )
    return status, response_headers, body


# --------------------------------------------------------------------------- asyncio client (--hold)


class AsyncConnection:
    """Minimal asyncio WebSocket client: enough to hold many connections open and echo on each."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.messages = MessageReader(masked=False, max_size=MAX_MESSAGE)

    @classmethod
    async def open(
        cls,
        target: Target,
        *,
        origin: str | None,
        headers: HeadersLike,
        ssl_context: ssl.SSLContext | None,
        server_hostname: str | None,
    ) -> AsyncConnection:
        reader, writer = await asyncio.open_connection(
            target.host,
            target.port,
            ssl=ssl_context,
            server_hostname=(server_hostname or target.sni) if ssl_context else None,
            limit=MAX_HEAD,
        )
        key = new_key()
        try:
            writer.write(build_request("GET", target, handshake_headers(target, key, origin, None, headers)))
            status, _reason, response_headers = parse_response_head(await reader.readuntil(b"\r\n\r\n"))
            problem = check_upgrade(status, response_headers, key)
            if problem:
                raise WebSocketError(problem)
        except BaseException:
            writer.close()
            raise
        return cls(reader, writer)

    async def send(self, opcode: int, payload: bytes) -> None:
        self.writer.write(encode_frame(opcode, payload))
        await self.writer.drain()

    async def recv(self) -> tuple[int, bytes]:
        """Next data message (pings answered, pongs skipped); ConnectionClosed on a close frame."""
        while True:
            opcode, payload = await read_message_async(self.messages, self.reader)
            if opcode == OP_PING:
                await self.send(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                raise ConnectionClosed(f"closed by peer: {payload[:2].hex() or 'no code'}")
            elif opcode != OP_PONG:
                return opcode, payload

    async def echo(self, text: str, timeout: float) -> bool:
        await asyncio.wait_for(self.send(OP_TEXT, text.encode("utf-8")), timeout)
        return await asyncio.wait_for(self.recv(), timeout) == (OP_TEXT, text.encode("utf-8"))

    async def close(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.send(OP_CLOSE, close_payload(1000)), timeout)
            await asyncio.wait_for(self.recv(), timeout)
        except (ConnectionClosed, OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, WebSocketError):
            pass
        finally:
            self.writer.close()


async def hold(
    url: str,
    count: int,
    seconds: float,
    *,
    origin: str | None = None,
    headers: HeadersLike = None,
    cafile: str | None = None,
    insecure: bool = False,
    timeout: float = 10.0,
    host_header: str | None = None,
    server_hostname: str | None = None,
    concurrency: int = 100,
    wait: Callable[[], Awaitable[object]] | None = None,
) -> dict[str, Any]:
    """Open ``count`` WebSockets, echo on each, keep them open ``seconds``, echo on each again.

    With ``wait``, they are kept open until ``await wait()`` returns instead (it bounds the time itself).
    """
    count = max(0, min(count, MAX_HOLD))
    seconds = max(0.0, min(seconds, MAX_HOLD_SECONDS))
    target = parse_url(url, host_header)
    context = make_ssl_context(cafile, insecure) if target.secure else None
    gate = asyncio.Semaphore(concurrency)  # handshakes in flight at once
    result: dict[str, Any] = {"opened": 0, "echoed_before": 0, "echoed_after": 0, "errors": 0}
    samples: list[str] = []
    connections: list[AsyncConnection | None] = [None] * count

    def failed(index: int, stage: str, exc: BaseException) -> None:
        connections[index] = None
        result["errors"] += 1
        message = f"{stage}: {type(exc).__name__}: {exc}"
        if len(samples) < 5 and message not in samples:
            samples.append(message)

    async def open_one(index: int) -> None:
        async with gate:
            try:
                conn = await asyncio.wait_for(
                    AsyncConnection.open(
                        target, origin=origin, headers=headers, ssl_context=context, server_hostname=server_hostname
                    ),
                    timeout,
                )
            except (OSError, WebSocketError, asyncio.TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
                failed(index, "open", exc)
                return
            connections[index] = conn
            result["opened"] += 1
        await echo_one(index, "before")

    async def echo_one(index: int, phase: str) -> None:
        conn = connections[index]
        if conn is None:
            return
        try:
            if not await conn.echo(f"hold-{index}-{phase}", timeout):
                raise WebSocketError("echo differs")
            result[f"echoed_{phase}"] += 1
        except (OSError, WebSocketError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            conn.writer.close()
            failed(index, f"echo {phase}", exc)

    started = time.perf_counter()
    await asyncio.gather(*(open_one(i) for i in range(count)))
    opened_at = time.perf_counter()
    await (wait() if wait is not None else asyncio.sleep(seconds))
    await asyncio.gather(*(echo_one(i, "after") for i in range(count)))
    await asyncio.gather(*(conn.close(timeout) for conn in connections if conn is not None))
    return {
        "url": url,
        "requested": count,
        **result,
        "hold_seconds": seconds,
        "open_ms": round((opened_at - started) * 1000, 3),
        "elapsed_s": round(time.perf_counter() - started, 3),
        "error_samples": samples,
        "error": samples[0] if samples else None,
    }


# --------------------------------------------------------------------------- command line


def parse_header_option(value: str) -> tuple[str, str]:
    name, sep, content = value.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {value!r}")
    return name.strip(), content.strip()


def parse_statuses(value: str) -> set[int]:
    try:
        return {int(part) for part in value.split(",") if part.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a status or a comma-separated list, got {value!r}") from None


def decode_body(body: bytes) -> Any:
    """JSON when it parses as JSON, else text."""
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text[:4000]


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_websocket(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    expected: set[int] = args.expect_status or {101}
    text = args.text
    if text is None and args.binary is None and args.idle is not None:
        text = "hello"  # --idle needs a first echo
    report: dict[str, Any] = {
        "url": args.url,
        "status": None,
        "reason": None,
        "headers": {},
        "upgraded": False,
        "text_echo": None,
        "binary_echo": None,
        "handshake_ms": None,
        "rtt_ms": None,
        "idle_seconds": args.idle,
        "idle_survived": None,
        "close_code": None,
        "body": None,
        "error": None,
    }
    try:
        conn = connect(
            args.url,
            origin=args.origin,
            headers=args.header,
            cafile=args.cafile,
            insecure=args.insecure,
            timeout=args.timeout,
            subprotocols=args.subprotocol,
            host_header=args.host_header,
            server_hostname=args.sni,
        )
    except (OSError, WebSocketError, ValueError) as exc:
        report["error"] = error_text(exc)
        return report, False
    with conn:
        report.update(
            status=conn.status,
            reason=conn.reason,
            headers=conn.headers,
            upgraded=conn.upgraded,
            handshake_ms=round(conn.handshake_seconds * 1000, 3),
        )
        if conn.status != 101:
            report["body"] = decode_body(conn.body)
        if conn.status not in expected:
            report["error"] = f"unexpected status {conn.status} (expected {'/'.join(map(str, sorted(expected)))})"
            return report, False
        if conn.upgraded:
            probes: list[tuple[str, int, bytes]] = []
            if text is not None:
                probes.append(("text_echo", OP_TEXT, text.encode("utf-8")))
            if args.binary is not None:
                probes.append(("binary_echo", OP_BINARY, os.urandom(args.binary)))
            try:
                run_probes(conn, probes, args.idle, report)
            except (OSError, WebSocketError) as exc:
                report["error"] = error_text(exc)
            report["close_code"] = conn.close()
    checks = [report[key] for key in ("text_echo", "binary_echo", "idle_survived") if report[key] is not None]
    if report["error"] is None and not all(checks):
        report["error"] = "echo check failed"
    return report, report["error"] is None


def run_probes(
    conn: Connection, probes: list[tuple[str, int, bytes]], idle: float | None, report: dict[str, Any]
) -> None:
    """Echo each probe (recording the first round trip), then optionally idle and echo the first one again."""
    for key, opcode, payload in probes:
        report[key] = False
        started = time.perf_counter()
        conn.send_frame(opcode, payload)
        echoed = conn.recv() == (opcode, payload)
        if report["rtt_ms"] is None:
            report["rtt_ms"] = round((time.perf_counter() - started) * 1000, 3)
        report[key] = echoed
    if idle is not None and probes:
        report["idle_survived"] = False
        time.sleep(idle)
        _key, opcode, payload = probes[0]
        conn.send_frame(opcode, payload)
        report["idle_survived"] = conn.recv() == (opcode, payload)


def run_http(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    report: dict[str, Any] = {
        "url": args.url,
        "status": None,
        "reason": None,
        "headers": {},
        "body": None,
        "error": None,
    }
    headers = list(args.header or [])
    if args.origin:
        headers.append(("Origin", args.origin))
    try:
        status, reason, response_headers, body = http_request(
            args.method,
            args.url,
            headers=headers,
            cafile=args.cafile,
            insecure=args.insecure,
            timeout=args.timeout,
            host_header=args.host_header,
            server_hostname=args.sni,
        )
        report.update(status=status, reason=reason, headers=response_headers, body=decode_body(body))
    except (OSError, WebSocketError, ValueError) as exc:
        report["error"] = error_text(exc)
        return report, False
    ok = status in args.expect_status if args.expect_status else 200 <= status < 400
    if not ok:
        report["error"] = f"unexpected status {status}"
    return report, ok


def run_hold(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    try:
        report = asyncio.run(
            hold(
                args.url,
                args.hold,
                args.hold_seconds,
                origin=args.origin,
                headers=args.header,
                cafile=args.cafile,
                insecure=args.insecure,
                timeout=args.timeout,
                host_header=args.host_header,
                server_hostname=args.sni,
            )
        )
    except (OSError, ValueError) as exc:
        return {
            "url": args.url,
            "requested": args.hold,
            "opened": 0,
            "echoed_before": 0,
            "echoed_after": 0,
            "errors": args.hold,
            "error": error_text(exc),
        }, False
    return report, report["errors"] == 0 and report["echoed_after"] == report["requested"]


def bounded_float(limit: float) -> Any:
    def parse(value: str) -> float:
        number = float(value)
        if not 0 <= number <= limit:
            raise argparse.ArgumentTypeError(f"must be between 0 and {limit:g}")
        return number

    return parse


def bounded_int(limit: int) -> Any:
    def parse(value: str) -> int:
        number = int(value)
        if not 0 <= number <= limit:
            raise argparse.ArgumentTypeError(f"must be between 0 and {limit}")
        return number

    return parse


def parse_args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="WebSocket / HTTP test client: prints one JSON object, exits 0 on success, 1 otherwise.",
    )
    parser.add_argument("url", help="ws://, wss://, http:// or https:// URL")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--http", action="store_true", help="plain HTTP request instead of a WebSocket")
    mode.add_argument("--hold", type=bounded_int(MAX_HOLD), metavar="N", help="hold N WebSockets open concurrently")
    parser.add_argument(
        "--hold-seconds",
        type=bounded_float(MAX_HOLD_SECONDS),
        default=5.0,
        metavar="S",
        help="with --hold: how long to keep them open (default 5)",
    )
    parser.add_argument("--text", help="send this text message and check the echo")
    parser.add_argument(
        "--binary",
        type=bounded_int(MAX_MESSAGE),
        metavar="N",
        help="send N random bytes as a binary message and check the echo",
    )
    parser.add_argument(
        "--idle",
        type=bounded_float(MAX_IDLE_SECONDS),
        metavar="S",
        help="after the first echo stay idle S seconds (no pings), then check one more echo",
    )
    parser.add_argument("--origin", help="Origin header")
    parser.add_argument(
        "--header",
        action="append",
        type=parse_header_option,
        metavar="'NAME: VALUE'",
        help="extra header; replaces the client's own header of that name, empty value drops it",
    )
    parser.add_argument("--subprotocol", action="append", metavar="NAME", help="offer this Sec-WebSocket-Protocol")
    parser.add_argument("--host-header", metavar="HOST", help="Host header (and TLS SNI name) instead of the URL's")
    parser.add_argument("--sni", metavar="NAME", help="TLS server name, when it must differ from the Host header")
    parser.add_argument("--cafile", help="CA bundle (PEM) to verify the server certificate")
    parser.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds for each network step (default 10)")
    parser.add_argument("--method", default="GET", help="with --http: request method (default GET)")
    parser.add_argument(
        "--expect-status",
        type=parse_statuses,
        metavar="CODE[,CODE...]",
        help="status(es) that count as success (default: 101 with a valid WebSocket handshake; "
        "with --http: any 2xx or 3xx)",
    )
    return parser.parse_args(None if argv is None else list(argv))


def main(argv: Iterable[str] | None = None) -> int:
    args = parse_args(argv)
    if args.http:
        report, ok = run_http(args)
    elif args.hold is not None:
        report, ok = run_hold(args)
    else:
        report, ok = run_websocket(args)
    print(json.dumps(report, sort_keys=False), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
