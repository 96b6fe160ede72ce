#!/usr/bin/env python3
"""Application backend for the wsproxy.nginx tests and benchmarks: WebSocket echo plus HTTP introspection.

It plays the part of the real backend behind nginx (the seed's ``calls-backend:5006``):

    python3 ws_backend.py --host 0.0.0.0 --port 5006 [--ws-paths /api/frontend-audio,/api/call-events,...]
                          [--log FILE] [--naive-upgrade] [--name ID] [--reuse-port]

* WebSocket (RFC 6455) on the ws-paths (each path and its sub-paths, any query string): a valid
  handshake gets ``101`` (the first offered subprotocol, if any, is selected) and every text or binary
  message is echoed back unchanged (fragments are reassembled, pings answered, close handshake done).
  A bad handshake gets ``400``; a GET without ``Upgrade: websocket`` gets ``426 Upgrade Required``.
* ``--naive-upgrade``: any *other* ``Upgrade:`` value sent with ``Connection: upgrade`` (``h2c``, ...)
  is answered ``101 Switching Protocols`` and the connection then echoes raw bytes, like a naive
  h2c-capable server. If such a request ever arrives through nginx, nginx forwarded an upgrade it
  should have dropped; every such event is counted, logged and reported on stderr.
* Plain HTTP/1.1 with persistent connections. Any other path answers ``200`` with a JSON description of
  the request (``method``, ``path``, ``headers``, ``peer``, ``backend``, ...). Control paths, matched on
  their last path segment so they work under any prefix:
  ``GET /api/_stats`` (counters; ``?reset=1`` resets the totals after reading them),
  ``POST /api/_stats/reset``, ``GET /api/delay?seconds=N`` (answers after N seconds, at most 30).
  Counters: ``connections_opened`` (TCP connections accepted), ``http_requests`` (request heads received,
  upgrades and refusals included), ``websocket_sessions``, ``naive_upgrades``, ``rejected`` (totals, reset
  by a reset) and the gauges ``connections_open`` and ``websocket_open``.
  Requests to ``_stats`` are not counted, not logged, and a connection whose first request is a
  ``_stats`` request is not counted either, so a test reads exactly the traffic it caused.
* ``--log FILE``: one JSON line per request or upgrade, flushed at once.
* ``--tls-cert PEM --tls-key PEM``: TLS of its own (the benchmark's "direct wss" baseline).

Python standard library only (3.9+), one asyncio process, on the collection's WebSocket codec
(plugins/module_utils/websocket_codec.py, from the checkout this file is in, else /opt/wsproxy-codec);
``--reuse-port`` lets several processes share one port. Prints ``listening on HOST:PORT`` when ready and
exits 0 on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import ssl
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

CODEC_DIRS = (Path(__file__).resolve().parents[2] / "plugins" / "module_utils", Path("/opt/wsproxy-codec"))
sys.path[:0] = [str(path) for path in CODEC_DIRS if (path / "websocket_codec.py").is_file()][:1]
from websocket_codec import (  # noqa: E402  (found through CODEC_DIRS)
    CLOSE_GOING_AWAY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    MessageReader,
    ProtocolError,
    accept_key,
    close_payload,
    encode_frame,
    header_tokens,
    parse_close,
    read_message_async,
    valid_key,
)

DEFAULT_WS_PATHS = ("/api/frontend-audio", "/api/call-events", "/api/audio-stream")
MAX_HEAD = 64 * 1024  # request line + headers
MAX_BODY = 1024 * 1024  # plain HTTP request bodies
MAX_MESSAGE = 16 * 1024 * 1024  # one reassembled WebSocket message
MAX_DELAY = 30.0
LOGGED_HEADERS = ("host", "x-real-ip", "x-forwarded-for", "x-forwarded-proto", "upgrade", "connection", "origin")

REASONS = {
    101: "Switching Protocols",
    200: "OK",
    400: "Bad Request",
    405: "Method Not Allowed",
    413: "Content Too Large",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    505: "HTTP Version Not Supported",
}

# What happens on a connection after a request was answered.
KEEP_ALIVE, CLOSE, WEBSOCKET = "keep-alive", "close", "websocket"


# --------------------------------------------------------------------------- HTTP primitives


class BadRequest(Exception):
    """The request cannot be served: answer this status and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]  # lower-case names; repeated fields joined with ", "
    path: str
    query: dict[str, list[str]]
    body: bytes = b""

    def tokens(self, name: str) -> set[str]:
        """The comma-separated tokens of a header, lower-cased (for Connection, Upgrade, ...)."""
        return header_tokens(self.headers, name)

    @property
    def keep_alive(self) -> bool:
        connection = self.tokens("connection")
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


def parse_head(head: bytes) -> Request:
    """Parse a request line and header fields (everything up to the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha():
        raise BadRequest(400, f"malformed request line {lines[0][:100]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise BadRequest(505, f"unsupported version {version[:20]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(400, f"malformed header line {line[:100]!r}")
        name, value = name.lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    url = urlsplit(target)  # origin-form "/p?q" and absolute-form "http://h/p?q" alike
    return Request(method, target, version, headers, url.path or "/", parse_qs(url.query))


async def read_body(reader: asyncio.StreamReader, request: Request) -> bytes:
    """Read a Content-Length or chunked request body (bounded)."""
    if "chunked" in request.tokens("transfer-encoding"):
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadRequest(400, "malformed chunk size") from None
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise BadRequest(413, "request body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = request.headers.get("content-length")
    if length is None:
        return b""
    if not length.isdigit():
        raise BadRequest(400, f"bad Content-Length {length[:20]!r}")
    if int(length) > MAX_BODY:
        raise BadRequest(413, "request body too large")
    return await reader.readexactly(int(length))


def http_response(
    status: int, body: bytes, *, headers: list[tuple[str, str]] | None = None, head_only: bool = False
) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body)


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, sort_keys=True) + "\n").encode("utf-8")


def format_peer(peername: Any) -> str:
    if not peername:
        return "unknown"
    host, port = peername[0], peername[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_delay(values: list[str] | None) -> float:
    """The ``seconds`` query value of /api/delay, clamped to [0, MAX_DELAY]; ValueError if not a number."""
    seconds = float((values or ["1"])[0])
    if math.isnan(seconds):
        raise ValueError("seconds is NaN")
    return min(max(seconds, 0.0), MAX_DELAY)


# --------------------------------------------------------------------------- the server


@dataclass
class Stats:
    connections_opened: int = 0  # total since start or reset
    connections_open: int = 0  # gauge
    http_requests: int = 0  # total: every request head received (upgrades and rejections included)
    websocket_sessions: int = 0  # total
    websocket_open: int = 0  # gauge
    naive_upgrades: int = 0  # total
    rejected: int = 0  # total: 400 / 405 / 426 / ... answers
    epoch: int = 0  # bumped on every reset
    since: float = field(default_factory=time.time)

    TOTALS = ("connections_opened", "http_requests", "websocket_sessions", "naive_upgrades", "rejected")

    def snapshot(self) -> dict[str, Any]:
        return {
            "connections_opened": self.connections_opened,
            "connections_open": self.connections_open,
            "http_requests": self.http_requests,
            "websocket_sessions": self.websocket_sessions,
            "websocket_open": self.websocket_open,
            "naive_upgrades": self.naive_upgrades,
            "rejected": self.rejected,
            "since": self.since,
        }

    def reset(self) -> None:
        for name in self.TOTALS:
            setattr(self, name, 0)
        self.epoch += 1
        self.since = time.time()


class Backend:
    """Connection handler for asyncio.start_server: one coroutine per TCP connection."""

    def __init__(
        self,
        *,
        name: str,
        ws_paths: tuple[str, ...],
        naive_upgrade: bool,
        log: IO[str] | None,
        keepalive_timeout: float | None,
    ) -> None:
        self.name = name
        self.ws_paths = ws_paths
        self.naive_upgrade = naive_upgrade
        self.log_file = log
        self.keepalive_timeout = keepalive_timeout
        self.stats = Stats()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.websockets: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------------ helpers

    def is_ws_path(self, path: str) -> bool:
        return any(path == ws or path.startswith(ws + "/") for ws in self.ws_paths)

    @staticmethod
    def control_name(path: str) -> str:
        """'_stats', '_stats/reset', 'delay' or '' for a path, whatever prefix it carries."""
        segments = path.rstrip("/").split("/")
        if segments[-1] == "reset" and len(segments) > 1 and segments[-2] == "_stats":
            return "_stats/reset"
        return segments[-1] if segments[-1] in ("_stats", "delay") else ""

    def log(self, request: Request | None, peer: str, outcome: str, status: int, **extra: Any) -> None:
        if self.log_file is None:
            return
        headers = request.headers if request else {}
        record = {
            "time": round(time.time(), 6),
            "backend": self.name,
            "peer": peer,
            "method": request.method if request else None,
            "path": request.path if request else None,
            "target": request.target if request else None,
            "status": status,
            "outcome": outcome,
            "headers": {name: headers.get(name) for name in LOGGED_HEADERS},
            **extra,
        }
        self.log_file.write(json.dumps(record, sort_keys=True) + "\n")
        self.log_file.flush()

    async def send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    # ------------------------------------------------------------------ connection

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        peer = format_peer(writer.get_extra_info("peername"))
        stats = self.stats
        stats.connections_opened += 1
        stats.connections_open += 1
        accepted_epoch, counted, first = stats.epoch, True, True
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.keepalive_timeout)
                except asyncio.LimitOverrunError:
                    await self.reject(writer, None, peer, 431, "request head too large", close=True)
                    return
                except (asyncio.IncompleteReadError, asyncio.TimeoutError):
                    return  # peer closed (or idled out) between requests
                request: Request | None = None
                try:
                    request = parse_head(head)
                    request.body = await read_body(reader, request)
                except BadRequest as exc:
                    await self.reject(writer, request, peer, exc.status, str(exc), close=True)
                    return
                control = self.control_name(request.path)
                if control.startswith("_stats"):
                    if first:  # a control connection: not part of the traffic under test
                        counted = False
                        stats.connections_open -= 1
                        if stats.epoch == accepted_epoch:
                            stats.connections_opened -= 1
                    first = False
                    await self.send(writer, self.stats_response(request, control))
                    if not request.keep_alive:
                        return
                    continue
                first = False
                stats.http_requests += 1
                action = await self.dispatch(request, control, reader, writer, peer)
                if action == WEBSOCKET:
                    del head, request  # a session can last hours: keep no per-request data alive
                    await self.websocket_session(reader, writer)
                if action != KEEP_ALIVE:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            if counted:
                stats.connections_open -= 1
            if task is not None:
                self.tasks.discard(task)
            writer.close()

    async def reject(
        self,
        writer: asyncio.StreamWriter,
        request: Request | None,
        peer: str,
        status: int,
        message: str,
        *,
        close: bool = False,
        extra: list[tuple[str, str]] | None = None,
    ) -> str:
        """Answer an error status with a JSON body; count and log it as "rejected"."""
        self.stats.rejected += 1
        self.log(request, peer, "rejected", status, error=message)
        keep_alive = request is not None and request.keep_alive and not close
        headers = [("Content-Type", "application/json"), ("X-Backend", self.name), *(extra or [])]
        headers.append(("Connection", "keep-alive" if keep_alive else "close"))
        body = json_bytes({"error": message, "status": status, "backend": self.name})
        await self.send(writer, http_response(status, body, headers=headers))
        return KEEP_ALIVE if keep_alive else CLOSE

    def json_response(self, request: Request, payload: dict[str, Any]) -> bytes:
        headers = [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("X-Backend", self.name),
            ("Connection", "keep-alive" if request.keep_alive else "close"),
        ]
        return http_response(200, json_bytes(payload), headers=headers, head_only=request.method == "HEAD")

    async def dispatch(
        self, request: Request, control: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> str:
        """Answer one request; returns what happens next on the connection: KEEP_ALIVE, CLOSE or WEBSOCKET."""
        upgrade = request.tokens("upgrade")
        connection_upgrade = "upgrade" in request.tokens("connection")
        ws_path = self.is_ws_path(request.path)

        if ws_path and "websocket" in upgrade:
            return WEBSOCKET if await self.websocket_handshake(request, writer, peer) else CLOSE
        if self.naive_upgrade and upgrade and connection_upgrade and "websocket" not in upgrade:
            await self.naive_tunnel(request, reader, writer, peer)
            return CLOSE
        if ws_path:
            if request.method != "GET":
                return await self.reject(writer, request, peer, 405, "WebSocket endpoint", extra=[("Allow", "GET")])
            message = "this endpoint needs a WebSocket upgrade"
            return await self.reject(writer, request, peer, 426, message, extra=[("Upgrade", "websocket")])

        if control == "delay":
            try:
                seconds = parse_delay(request.query.get("seconds"))
            except ValueError:
                return await self.reject(writer, request, peer, 400, "seconds must be a number")
            await asyncio.sleep(seconds)
            payload: dict[str, Any] = {"slept": seconds, "backend": self.name, "path": request.path}
        else:
            payload = {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "http_version": request.version,
                "headers": request.headers,
                "peer": peer,
                "backend": self.name,
                "body_length": len(request.body),
            }
        self.log(request, peer, "http", 200)
        await self.send(writer, self.json_response(request, payload))
        return KEEP_ALIVE if request.keep_alive else CLOSE

    def stats_response(self, request: Request, control: str) -> bytes:
        snapshot = {**self.stats.snapshot(), "backend": self.name, "pid": os.getpid()}
        reset = control == "_stats/reset" or request.query.get("reset", [""])[0].lower() in ("1", "true", "yes")
        if reset:
            self.stats.reset()
        snapshot["reset"] = reset
        return self.json_response(request, snapshot)

    # ------------------------------------------------------------------ upgrades

    async def websocket_handshake(self, request: Request, writer: asyncio.StreamWriter, peer: str) -> bool:
        """Answer a WebSocket handshake: 101 (True) or 400 (False)."""
        key = request.headers.get("sec-websocket-key", "")
        problem = ""
        if request.method != "GET" or request.version != "HTTP/1.1":
            problem = "a WebSocket handshake is an HTTP/1.1 GET"
        elif "upgrade" not in request.tokens("connection"):
            problem = "Connection header lacks the upgrade token"
        elif request.headers.get("sec-websocket-version") != "13":
            problem = "Sec-WebSocket-Version must be 13"
        elif not valid_key(key):
            problem = "Sec-WebSocket-Key must be base64 of 16 bytes"
        if problem:
            await self.reject(writer, request, peer, 400, problem, close=True, extra=[("Sec-WebSocket-Version", "13")])
            return False

        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {accept_key(key)}",
            f"X-Backend: {self.name}",
        ]
        offered = [p.strip() for p in request.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
        if offered:
            lines.append(f"Sec-WebSocket-Protocol: {offered[0]}")
        self.log(request, peer, "websocket", 101)
        await self.send(writer, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return True

    async def websocket_session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.websocket_sessions += 1
        self.stats.websocket_open += 1
        self.websockets.add(writer)
        try:
            await self.echo_messages(reader, writer)
        finally:
            self.stats.websocket_open -= 1
            self.websockets.discard(writer)

    async def echo_messages(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The WebSocket session: echo each complete message, answer pings, finish the close handshake."""
        messages = MessageReader(masked=True, max_size=MAX_MESSAGE)
        try:
            while True:
                opcode, payload = await read_message_async(messages, reader)
                if opcode == OP_PING:
                    await self.send(writer, encode_frame(OP_PONG, payload, mask=False))
                elif opcode == OP_CLOSE:
                    await self.send(writer, encode_frame(OP_CLOSE, self.close_reply(payload), mask=False))
                    return
                elif opcode != OP_PONG:
                    await self.send(writer, encode_frame(opcode, payload, mask=False))
        except ProtocolError as exc:
            writer.write(encode_frame(OP_CLOSE, close_payload(exc.code, str(exc)), mask=False))
            await writer.drain()

    @staticmethod
    def close_reply(payload: bytes) -> bytes:
        """Echo the peer's close code and reason; a malformed close frame gets 1002 (1007 for a bad reason)."""
        try:
            parse_close(payload)
        except ProtocolError as exc:
            return close_payload(exc.code)
        return payload

    async def naive_tunnel(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        """What a naive server does with any Upgrade: switch protocols and pipe bytes (here: echo them)."""
        value = request.headers.get("upgrade", "")
        self.stats.naive_upgrades += 1
        self.log(request, peer, "naive-upgrade", 101, upgrade_value=value)
        print(
            f"naive-upgrade: {request.method} {request.target} Upgrade: {value} from {peer}",
            file=sys.stderr,
            flush=True,
        )
        head = f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {value}\r\nConnection: Upgrade\r\nX-Backend: {self.name}"
        await self.send(writer, (head + "\r\n\r\n").encode("latin-1"))
        while True:
            data = await reader.read(65536)
            if not data:
                return
            await self.send(writer, data)

    # ------------------------------------------------------------------ shutdown

    async def shutdown(self, grace: float = 2.0) -> None:
        """Send 1001 Going Away to open WebSockets, then stop every connection task."""
        for writer in list(self.websockets):
            try:
                writer.write(encode_frame(OP_CLOSE, close_payload(CLOSE_GOING_AWAY), mask=False))
            except (ConnectionError, RuntimeError):
                pass
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)


# --------------------------------------------------------------------------- command line


def raise_fd_limit() -> None:
    """Tens of thousands of sockets need as many file descriptors: lift the soft limit to the hard one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5006, help="port to bind, 0 for any free port (default 5006)")
    parser.add_argument(
        "--ws-paths", default=",".join(DEFAULT_WS_PATHS), help="comma-separated WebSocket paths (default %(default)s)"
    )
    parser.add_argument("--log", metavar="FILE", help="append one JSON line per request/upgrade to FILE")
    parser.add_argument(
        "--naive-upgrade",
        action="store_true",
        help="answer 101 to any non-websocket Upgrade (h2c, ...) and echo raw bytes",
    )
    parser.add_argument("--name", default=None, help="backend id reported in responses (default HOSTNAME:PORT)")
    parser.add_argument("--reuse-port", action="store_true", help="set SO_REUSEPORT (several processes, one port)")
    parser.add_argument("--backlog", type=int, default=4096, help="listen backlog (default 4096)")
    parser.add_argument("--tls-cert", metavar="PEM", help="serve TLS (wss://, https://) with this certificate")
    parser.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    parser.add_argument(
        "--keepalive-timeout",
        type=float,
        default=300.0,
        help="close an idle HTTP connection after this many seconds, 0 = never (default 300)",
    )
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return args


async def serve(args: argparse.Namespace) -> None:
    ws_paths = tuple(p.strip() for p in args.ws_paths.split(",") if p.strip())
    log = open(args.log, "a", encoding="utf-8") if args.log else None  # closed on shutdown
    backend = Backend(
        name=args.name or "",
        ws_paths=ws_paths,
        naive_upgrade=args.naive_upgrade,
        log=log,
        keepalive_timeout=args.keepalive_timeout or None,
    )
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        tls.set_alpn_protocols(["http/1.1"])
    server = await asyncio.start_server(
        backend.handle,
        args.host,
        args.port,
        backlog=args.backlog,
        reuse_port=args.reuse_port or None,
        limit=MAX_HEAD,
        ssl=tls,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    port = server.sockets[0].getsockname()[1]
    if not backend.name:
        backend.name = f"{os.uname().nodename}:{port}"
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"listening on {host}:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        await backend.shutdown()
        if log is not None:
            log.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
