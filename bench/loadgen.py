#!/usr/bin/env python3
"""Lean load generator for the wsproxy.nginx benchmarks (bench/): Python standard library only.

It runs inside the benchmark's network namespace (a container with loopback only) next to the
backends (tests/support/ws_backend.py) and the nginx under test. Every subcommand prints JSON and is
bounded in count and time; every wait has a timeout.

    loadgen.py ramp  --dest 127.0.0.1:8080 [--dest ...] --workers N --host-header H --path P
        Holds WebSockets across several worker processes (each under the per-process open-file limit).
        Reads commands from stdin, one JSON object a line, and answers each with one JSON line:
          {"op": "grow", "total": N}  open connections until N are held in total, then echo-verify
                                      every held connection (new and old); failures are dropped
          {"op": "storm", "seconds": S}
                                      arm a reconnect storm (answers {"armed": N} at once): every held
                                      connection that closes (its backend restarted) reconnects at once, and
                                      again after each failure, until it is back and echoes; a second line
                                      answers when all are back or S seconds have passed
          {"op": "close"}             close everything and exit
        With --tls (and --cafile), the connections are wss (TLS first, then the handshake).
    loadgen.py rtt   --target NAME=URL [...] --samples N --warmup N --size 640 --round-size 50
        Round trips of binary frames over one connection per target, interleaved across targets in a random
        order, in short rounds; pooled percentiles, per-round ratios to the baseline, the client's CPU time.
    loadgen.py http  --url URL --requests N --concurrency C
        Plain HTTP/1.1 keep-alive GETs; requests per second, statuses, client connections used.
    loadgen.py get   --url URL
        One plain GET (for the backend's /api/_stats), body printed as JSON.
    loadgen.py handshakes --url ws[s]://... --seconds S --workers N --concurrency C
        New WebSockets per second: every loop opens a connection (and a full TLS handshake for wss: asyncio
        never resumes a session), waits for a valid 101, sends a close frame and closes, then starts again.

The WebSocket protocol is the collection's codec, plugins/module_utils/websocket_codec.py: from the checkout
this file is in, else from /opt/wsproxy-codec (where bench.py mounts plugins/module_utils).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import socket
import ssl
import struct
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CODEC_DIRS = (Path(__file__).resolve().parents[1] / "plugins" / "module_utils", Path("/opt/wsproxy-codec"))
sys.path[:0] = [str(path) for path in CODEC_DIRS if (path / "websocket_codec.py").is_file()][:1]
from websocket_codec import (  # noqa: E402  (found through CODEC_DIRS)
    CLOSE_NORMAL,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    MessageReader,
    WebSocketError,
    build_request,
    check_upgrade,
    close_payload,
    encode_frame,
    handshake_headers,
    new_key,
    parse_response_head,
)

USER_AGENT = "wsproxy-bench"
MAX_HEAD = 64 * 1024
MAX_SAMPLES = 5  # error messages kept per kind
MAX_CONNECTIONS_PER_WORKER = 18000  # stays under a 20000 open-file limit with room for the rest


# --------------------------------------------------------------------------- small helpers


def raise_nofile() -> int:
    """Lift the soft open-file limit to the hard one; returns the limit in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def handshake_request(path: str, host_header: str, key: str) -> bytes:
    return build_request("GET", path, handshake_headers(host_header, key, user_agent=USER_AGENT))


def check_handshake(head: bytes, key: str) -> str | None:
    """None if the response head is a valid 101 for our key, else what is wrong (short, groupable)."""
    try:
        status, _reason, headers = parse_response_head(head)
    except WebSocketError:
        return "malformed status line"
    return check_upgrade(status, headers, key)


def parse_hostport(value: str) -> tuple[str, int]:
    host, _colon, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


class Errors:
    """Failures counted by kind, with a few sample messages each."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.samples: dict[str, list[str]] = {}

    def add(self, kind: str, message: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        samples = self.samples.setdefault(kind, [])
        if len(samples) < MAX_SAMPLES and message not in samples:
            samples.append(message)

    def merge(self, other: dict[str, Any]) -> None:
        for kind, count in other.get("counts", {}).items():
            self.counts[kind] = self.counts.get(kind, 0) + count
        for kind, samples in other.get("samples", {}).items():
            mine = self.samples.setdefault(kind, [])
            for message in samples:
                if len(mine) < MAX_SAMPLES and message not in mine:
                    mine.append(message)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "counts": dict(self.counts), "samples": dict(self.samples)}


def describe(exc: BaseException) -> tuple[str, str]:
    """(kind, message) for an exception raised while opening or using a connection."""
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout", "timed out"
    if isinstance(exc, HandshakeRefused):
        return f"handshake: {exc}", str(exc)
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"socket: {os.strerror(exc.errno)}", f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ConnectionError) or isinstance(exc, EOFError):
        return "closed by peer", f"{type(exc).__name__}: {exc}"
    return type(exc).__name__, f"{type(exc).__name__}: {exc}"


class HandshakeRefused(Exception):
    """The server answered the upgrade with something other than a valid 101."""


# --------------------------------------------------------------------------- ramp: many held WebSockets


class HeldSocket(asyncio.Protocol):
    """One client WebSocket as a bare asyncio protocol: a handshake, then echo round trips on demand."""

    __slots__ = ("buffer", "closed", "key", "messages", "on_lost", "request", "transport", "upgraded", "waiter")

    def __init__(self, request: bytes, key: str, waiter: asyncio.Future[Any]) -> None:
        self.request = request
        self.key = key
        self.waiter: asyncio.Future[Any] | None = waiter
        self.buffer = bytearray()  # the handshake answer
        self.messages = MessageReader(masked=False)
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.closed = False
        self.on_lost: Any = None  # called once when the connection ends (a reconnect storm sets it)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)
        self.request = b""

    def _resolve(self, value: Any = None, error: BaseException | None = None) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            if error is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(value)

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self._fail(HandshakeRefused("response head too large"))
                return
            problem = check_handshake(bytes(self.buffer[:end]), self.key)
            data = bytes(self.buffer[end + 4 :])
            self.buffer = bytearray()
            if problem:
                self._fail(HandshakeRefused(problem))
                return
            self.upgraded = True
            self._resolve(True)
        self.messages.feed(data)
        try:
            while (message := self.messages.next_message()) is not None:
                opcode, payload = message
                if opcode == OP_PING:
                    self.send(OP_PONG, payload)
                elif opcode == OP_CLOSE:
                    self._fail(ConnectionResetError("close frame from the server"))
                    return
                elif opcode != OP_PONG:
                    self._resolve(payload)
        except WebSocketError as exc:
            self._fail(HandshakeRefused(f"protocol: {exc}"))

    def _fail(self, error: BaseException) -> None:
        self._resolve(error=error)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._resolve(error=exc or ConnectionResetError("connection closed"))
        if self.on_lost is not None:
            self.on_lost()

    def send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(encode_frame(opcode, payload))

    async def echo(self, payload: bytes, timeout: float) -> None:
        if self.closed:
            raise ConnectionResetError("connection closed")
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self.send(OP_BINARY, payload)
        echoed = await asyncio.wait_for(self.waiter, timeout)
        if echoed != payload:
            raise HandshakeRefused("echo differs")

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()


class Holder:
    """One worker process's share of the held WebSockets."""

    def __init__(self, dest: tuple[str, int], host_header: str, path: str, timeout: float, concurrency: int,
                 context: ssl.SSLContext | None = None) -> None:
        self.dest = dest
        self.context = context  # TLS (wss) when set
        self.host_header = host_header
        self.path = path
        self.timeout = timeout
        self.concurrency = concurrency
        self.held: list[HeldSocket] = []
        self.round = 0

    async def open_one(self, gate: asyncio.Semaphore, errors: Errors, opened: list[HeldSocket]) -> None:
        async with gate:
            loop = asyncio.get_running_loop()
            key = new_key()
            waiter: asyncio.Future[Any] = loop.create_future()
            request = handshake_request(self.path, self.host_header, key)
            protocol: HeldSocket | None = None
            try:

                async def connect() -> None:
                    nonlocal protocol
                    _transport, protocol = await loop.create_connection(
                        lambda: HeldSocket(request, key, waiter), self.dest[0], self.dest[1], ssl=self.context,
                        server_hostname=self.host_header if self.context else None,
                    )
                    await waiter

                await asyncio.wait_for(connect(), self.timeout)
            except (TimeoutError, OSError, HandshakeRefused, EOFError) as exc:
                if protocol is not None:
                    protocol.close()
                errors.add(*describe(exc))
                return
            opened.append(protocol)  # type: ignore[arg-type]

    async def grow(self, target: int) -> dict[str, Any]:
        target = max(0, min(target, MAX_CONNECTIONS_PER_WORKER))
        open_errors, echo_errors = Errors(), Errors()
        gate = asyncio.Semaphore(self.concurrency)
        opened: list[HeldSocket] = []
        started = time.monotonic()
        missing = max(0, target - len(self.held))
        await asyncio.gather(*(self.open_one(gate, open_errors, opened) for _socket in range(missing)))
        self.held.extend(opened)
        open_s = time.monotonic() - started

        # Every held connection must echo its own payload, the old ones included: a connection nginx
        # dropped while the step opened new ones is found here.
        self.round += 1
        verify_started = time.monotonic()
        survivors: list[HeldSocket] = []
        echo_gate = asyncio.Semaphore(self.concurrency * 5)  # echoes are cheaper than handshakes

        async def verify(index: int, conn: HeldSocket) -> None:
            async with echo_gate:
                try:
                    await conn.echo(struct.pack("!IIQ", index, self.round, random.getrandbits(64)), self.timeout)
                except (TimeoutError, OSError, HandshakeRefused, EOFError) as exc:
                    conn.close()
                    echo_errors.add(*describe(exc))
                    return
                survivors.append(conn)

        await asyncio.gather(*(verify(i, c) for i, c in enumerate(self.held)))
        self.held = survivors
        return {
            "held": len(self.held),
            "opened": len(opened),
            "open_errors": open_errors.as_dict(),
            "echo_errors": echo_errors.as_dict(),
            "open_s": round(open_s, 3),
            "verify_s": round(time.monotonic() - verify_started, 3),
        }

    def arm_storm(self) -> list[asyncio.Future[float]]:
        """One future per held connection, set to the moment (time.monotonic) the connection ends."""
        loop = asyncio.get_running_loop()
        lost: list[asyncio.Future[float]] = []
        for conn in self.held:
            future: asyncio.Future[float] = loop.create_future()

            def mark(future: asyncio.Future[float] = future) -> None:
                if not future.done():
                    future.set_result(time.monotonic())

            conn.on_lost = mark
            if conn.closed:
                mark()
            lost.append(future)
        return lost

    async def storm(self, lost: list[asyncio.Future[float]], seconds: float) -> dict[str, Any]:
        """Every connection whose future fires reconnects at once, and again after each failure (no backoff),
        until it is back and echoes, within ``seconds``. Times are time.monotonic(), the same clock in every
        process of the machine, so the coordinator can take the first loss and the last return over workers."""
        deadline = time.monotonic() + seconds
        gate = asyncio.Semaphore(self.concurrency)
        errors = Errors()
        lost_at: list[float] = []
        back_at: list[float] = []
        attempts = 0
        kept: list[HeldSocket] = []
        back: list[HeldSocket] = []

        async def one(index: int, conn: HeldSocket, future: asyncio.Future[float]) -> None:
            nonlocal attempts
            try:
                lost_at.append(await asyncio.wait_for(future, max(0.1, deadline - time.monotonic())))
            except TimeoutError:
                kept.append(conn)  # never dropped: still held (verified by the next grow)
                return
            while time.monotonic() < deadline:
                attempts += 1
                opened: list[HeldSocket] = []
                await self.open_one(gate, errors, opened)
                if not opened:
                    continue
                try:
                    await opened[0].echo(struct.pack("!IIQ", index, 0, random.getrandbits(64)), self.timeout)
                except (TimeoutError, OSError, HandshakeRefused, EOFError) as exc:
                    opened[0].close()
                    errors.add(*describe(exc))
                    continue
                back_at.append(time.monotonic())
                back.append(opened[0])
                return

        await asyncio.gather(*(one(i, c, f) for i, (c, f) in enumerate(zip(self.held, lost, strict=True))))
        for conn in kept + back:
            conn.on_lost = None
        self.held = kept + back
        return {
            "held": len(self.held),
            "dropped": len(lost_at),
            "back": len(back_at),
            "never_dropped": len(kept),
            "attempts": attempts,
            "first_lost": min(lost_at) if lost_at else None,
            "last_back": max(back_at) if back_at else None,
            "errors": errors.as_dict(),
        }

    async def close_all(self) -> dict[str, Any]:
        count = len(self.held)
        for conn in self.held:
            conn.close()
        self.held = []
        await asyncio.sleep(0.2)  # let the transports flush their FINs
        return {"closed": count}


def ramp_worker(pipe: Any, dest: tuple[str, int], options: dict[str, Any]) -> None:
    """Worker process: obey grow/close commands from the coordinator until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides when we stop
    signal.alarm(int(options["max_seconds"]) + 30)  # and if it never does, the alarm does
    raise_nofile()

    context = None
    if options["tls"]:
        context = ssl.create_default_context(cafile=options["cafile"])
        context.set_alpn_protocols(["http/1.1"])

    async def main() -> None:
        loop = asyncio.get_running_loop()
        holder = Holder(dest, options["host_header"], options["path"], options["timeout"], options["concurrency"],
                        context)
        while True:
            try:
                command = await loop.run_in_executor(None, pipe.recv)
            except (EOFError, OSError):
                return
            if command.get("op") == "grow":
                pipe.send(await holder.grow(int(command["count"])))
            elif command.get("op") == "storm":
                lost = holder.arm_storm()
                pipe.send({"armed": len(lost)})
                pipe.send(await holder.storm(lost, float(command["seconds"])))
            else:
                pipe.send(await holder.close_all())
                return

    asyncio.run(main())


def run_ramp(args: argparse.Namespace) -> int:
    """Coordinator: a line protocol on stdin/stdout, the work spread over worker processes."""
    signal.alarm(int(args.max_seconds) + 10)
    options = {
        "host_header": args.host_header,
        "path": args.path,
        "timeout": args.timeout,
        "concurrency": args.concurrency,
        "max_seconds": args.max_seconds,
        "tls": args.tls,
        "cafile": args.cafile,
    }
    context = multiprocessing.get_context("fork")
    workers = []
    for index in range(args.workers):
        parent, child = context.Pipe()
        dest = args.dest[index % len(args.dest)]
        process = context.Process(target=ramp_worker, args=(child, dest, options), daemon=True)
        process.start()
        workers.append((parent, process, dest))
    emit({"ready": True, "workers": args.workers, "dests": [f"{h}:{p}" for h, p in args.dest]})
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            if command.get("op") == "grow":
                total = int(command["total"])
                started = time.monotonic()
                for index, (pipe, _process, _dest) in enumerate(workers):
                    share = total // len(workers) + (1 if index < total % len(workers) else 0)
                    pipe.send({"op": "grow", "count": share})
                answers = [collect(pipe, args.step_seconds) for pipe, _process, _dest in workers]
                open_errors, echo_errors = Errors(), Errors()
                for answer in answers:
                    open_errors.merge(answer.get("open_errors", {}))
                    echo_errors.merge(answer.get("echo_errors", {}))
                emit(
                    {
                        "total": total,
                        "held": sum(a.get("held", 0) for a in answers),
                        "opened": sum(a.get("opened", 0) for a in answers),
                        "open_errors": open_errors.as_dict(),
                        "echo_errors": echo_errors.as_dict(),
                        "errors": open_errors.total + echo_errors.total,
                        "open_s": max(a.get("open_s", 0.0) for a in answers),
                        "verify_s": max(a.get("verify_s", 0.0) for a in answers),
                        "step_s": round(time.monotonic() - started, 3),
                        "per_worker_held": [a.get("held", 0) for a in answers],
                    }
                )
            elif command.get("op") == "storm":
                seconds = float(command["seconds"])
                for pipe, _process, _dest in workers:
                    pipe.send({"op": "storm", "seconds": seconds})
                emit({"armed": sum(collect(pipe, 60).get("armed", 0) for pipe, _process, _dest in workers)})
                parts = [collect(pipe, seconds + 60) for pipe, _process, _dest in workers]
                errors = Errors()
                for part in parts:
                    errors.merge(part["errors"])
                firsts = [p["first_lost"] for p in parts if p["first_lost"] is not None]
                lasts = [p["last_back"] for p in parts if p["last_back"] is not None]
                dropped, back = sum(p["dropped"] for p in parts), sum(p["back"] for p in parts)
                emit({
                    "held": sum(p["held"] for p in parts),
                    "dropped": dropped,
                    "back": back,
                    "lost_clients": dropped - back,
                    "never_dropped": sum(p["never_dropped"] for p in parts),
                    "attempts": sum(p["attempts"] for p in parts),
                    "failed_attempts": errors.total,
                    "errors": errors.as_dict(),
                    "all_back_s": round(max(lasts) - min(firsts), 3) if firsts and lasts and dropped == back
                    else None,
                    "last_back_s": round(max(lasts) - min(firsts), 3) if firsts and lasts else None,
                    "drop_spread_s": round(max(firsts) - min(firsts), 3) if firsts else None,
                })
            else:
                break
    finally:
        closed = 0
        for pipe, _process, _dest in workers:
            try:
                pipe.send({"op": "close"})
                closed += collect(pipe, 30).get("closed", 0)
            except (OSError, EOFError, TimeoutError):
                pass
        for _pipe, process, _dest in workers:
            process.join(10)
            if process.is_alive():
                process.kill()
        emit({"closed": closed})
    return 0


def collect(pipe: Any, timeout: float) -> dict[str, Any]:
    if not pipe.poll(timeout):
        raise TimeoutError(f"a worker did not answer within {timeout:g} s")
    return pipe.recv()


def emit(value: dict[str, Any]) -> None:
    print(json.dumps(value, sort_keys=True), flush=True)


# --------------------------------------------------------------------------- rtt: frame round trips


class BlockingWebSocket:
    """A blocking client WebSocket for latency samples: no event loop between the clock and the socket."""

    def __init__(self, url: str, host_header: str | None, cafile: str | None, timeout: float) -> None:
        parts = urlsplit(url)
        secure = parts.scheme == "wss"
        host, port = parts.hostname or "127.0.0.1", parts.port or (443 if secure else 80)
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        header = host_header or parts.netloc
        if secure:
            context = ssl.create_default_context(cafile=cafile)
            context.set_alpn_protocols(["http/1.1"])
            sock = context.wrap_socket(sock, server_hostname=header.partition(":")[0])
        self.sock = sock
        self.tls = sock.version() if secure else None  # type: ignore[union-attr]
        self.cipher = sock.cipher()[0] if secure else None  # type: ignore[union-attr]
        key = new_key()
        sock.sendall(handshake_request(parts.path or "/", header, key))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise HandshakeRefused("closed during the handshake")
            head += chunk
            if len(head) > MAX_HEAD:
                raise HandshakeRefused("response head too large")
        head, _blank, rest = head.partition(b"\r\n\r\n")
        if rest:
            raise HandshakeRefused("unexpected data after the handshake")
        problem = check_handshake(head, key)
        if problem:
            raise HandshakeRefused(problem)

    def round_trip(self, frame: bytes, expected: bytes, buffer: memoryview) -> int:
        """Send one prepared frame, read its echo (exactly len(expected) bytes); nanoseconds."""
        size = len(expected)
        started = time.perf_counter_ns()
        self.sock.sendall(frame)
        got = 0
        while got < size:
            count = self.sock.recv_into(buffer[got:size], size - got)
            if not count:
                raise ConnectionResetError("closed during a round trip")
            got += count
        elapsed = time.perf_counter_ns() - started
        if buffer[:size] != expected:
            raise HandshakeRefused("echo differs")
        return elapsed

    def close(self) -> None:
        try:
            self.sock.sendall(encode_frame(OP_CLOSE, close_payload(CLOSE_NORMAL)))
        except OSError:
            pass
        self.sock.close()


def percentile(sorted_values: list[int] | list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return 0
    rank = max(1, min(len(sorted_values), int(fraction * len(sorted_values) + 0.999999)))
    return sorted_values[rank - 1]


def spread(values: list[float]) -> dict[str, float]:
    """Median, 10th and 90th percentile, min and max of per-round ratios."""
    ordered = sorted(values)
    return {key: round(percentile(ordered, fraction), 3)
            for key, fraction in (("min", 0.0), ("p10", 0.10), ("median", 0.50), ("p90", 0.90), ("max", 1.0))}


def read_load_average() -> float:
    try:
        with open("/proc/loadavg") as handle:
            return float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0


def run_rtt(args: argparse.Namespace) -> int:
    """Round trips on one connection per target, interleaved frame by frame in short rounds.

    Every iteration sends one frame on every path, in a fresh random order (a fixed order would always put
    the same path right after the same other path, whose tail work on the shared backend or CPUs would then
    weigh on it alone). ``--round-size`` iterations make a round: within a round all paths saw the same
    moment of the machine, so each round's p50 (and p90) divided by the baseline's of the same round is a
    ratio with the machine's drift taken out; the spread of those ratios over the rounds says how steady it
    was. The pooled p50/p90/p99 over all samples are what the targets are judged on.
    """
    signal.alarm(int(args.max_seconds))
    targets: list[tuple[str, BlockingWebSocket]] = []
    report: dict[str, Any] = {"size": args.size, "samples": args.samples, "warmup": args.warmup,
                              "round_size": args.round_size, "order": "random per iteration", "paths": {}}
    ok = True
    for name, url in args.target:
        try:
            targets.append((name, BlockingWebSocket(url, args.host_header, args.cafile, args.timeout)))
        except (OSError, HandshakeRefused, ssl.SSLError) as exc:
            report["paths"][name] = {"url": url, "error": f"{type(exc).__name__}: {exc}"}
            ok = False
    names = [name for name, _conn in targets]
    baseline = args.baseline if args.baseline in names else (names[0] if names else "")
    samples: dict[str, list[int]] = {name: [] for name in names}
    cpu: dict[str, list[int]] = {name: [] for name in names}  # the client's CPU time per round trip
    rounds: list[dict[str, list[int]]] = []
    loads: list[float] = [read_load_average()]
    buffer = memoryview(bytearray(args.size + 16))
    deadline = time.monotonic() + args.max_seconds * 0.9
    rng = random.Random(6455)
    round_size = max(1, args.round_size)
    current: dict[str, list[int]] = {name: [] for name in names}
    started = time.monotonic()
    try:
        for index in range(args.warmup + args.samples):
            if time.monotonic() > deadline:
                report["truncated"] = True
                break
            order = targets[:]
            rng.shuffle(order)
            for name, conn in order:
                payload = rng.randbytes(args.size)
                frame, expected = encode_frame(OP_BINARY, payload), encode_frame(OP_BINARY, payload, mask=False)
                cpu_started = time.thread_time_ns()
                elapsed = conn.round_trip(frame, expected, buffer)
                cpu_used = time.thread_time_ns() - cpu_started
                if index >= args.warmup:
                    samples[name].append(elapsed)
                    cpu[name].append(cpu_used)
                    current[name].append(elapsed)
            if index >= args.warmup and (index - args.warmup + 1) % round_size == 0:
                rounds.append(current)
                current = {name: [] for name in names}
                if len(rounds) % 10 == 0:
                    loads.append(read_load_average())
    except (OSError, HandshakeRefused) as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
        ok = False
    report["seconds"] = round(time.monotonic() - started, 1)
    loads.append(read_load_average())
    report["load_average"] = {"min": min(loads), "max": max(loads), "mean": round(sum(loads) / len(loads), 2),
                              "samples": len(loads)}
    report["rounds"] = len(rounds)
    report["baseline"] = baseline
    for name, conn in targets:
        conn.close()
        values = sorted(samples[name])
        url = dict(args.target)[name]
        if not values:
            report["paths"][name] = {"url": url, "error": report.get("error", "no samples")}
            ok = False
            continue
        cpu_values = sorted(cpu[name])
        report["paths"][name] = {
            "url": url,
            "tls": conn.tls,
            "cipher": conn.cipher,
            "count": len(values),
            "p50_us": round(percentile(values, 0.50) / 1000, 1),
            "p90_us": round(percentile(values, 0.90) / 1000, 1),
            "p99_us": round(percentile(values, 0.99) / 1000, 1),
            "min_us": round(values[0] / 1000, 1),
            "max_us": round(values[-1] / 1000, 1),
            "mean_us": round(sum(values) / len(values) / 1000, 1),
            "client_cpu_p50_us": round(percentile(cpu_values, 0.50) / 1000, 1),
        }
    if baseline and report["paths"].get(baseline, {}).get("count"):
        for name in names:
            if name == baseline or not report["paths"][name].get("count"):
                continue
            ratios: dict[str, list[float]] = {"p50": [], "p90": []}
            for block in rounds:
                base, mine = sorted(block[baseline]), sorted(block[name])
                for key, fraction in (("p50", 0.50), ("p90", 0.90)):
                    ratios[key].append(percentile(mine, fraction) / percentile(base, fraction))
            if rounds:
                report["paths"][name]["round_ratios"] = {key: spread(value) for key, value in ratios.items()}
    emit(report)
    return 0 if ok else 1


# --------------------------------------------------------------------------- http: plain requests


class HttpClient(asyncio.Protocol):
    """A keep-alive HTTP/1.1 client connection that reads one response at a time."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[Any] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._try_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionResetError("connection closed"))

    def _try_complete(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        status, _reason, headers = parse_response_head(bytes(self.buffer[:end]))
        body_start = end + 4
        if "chunked" in headers.get("transfer-encoding", "").lower():
            position = body_start
            while True:
                line_end = self.buffer.find(b"\r\n", position)
                if line_end < 0:
                    return
                size = int(bytes(self.buffer[position:line_end]).split(b";")[0], 16)
                if len(self.buffer) < line_end + 2 + size + 2:
                    return
                position = line_end + 2 + size + 2
                if size == 0:
                    break
            total = position
        else:
            total = body_start + int(headers.get("content-length", "0"))
            if len(self.buffer) < total:
                return
        del self.buffer[:total]
        self.waiter.set_result((status, headers.get("connection", "").lower() == "close"))


async def http_load(args: argparse.Namespace) -> dict[str, Any]:
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    header = args.host_header or parts.netloc
    loop = asyncio.get_running_loop()
    remaining = args.requests
    statuses: dict[str, int] = {}
    errors = Errors()
    connections = 0
    latencies: list[int] = []

    async def one_client(client: int) -> None:
        nonlocal remaining, connections
        protocol: HttpClient | None = None
        attempts = 0
        while remaining > 0 and attempts < args.requests * 2:
            attempts += 1
            if protocol is None or protocol.closed:
                try:
                    _transport, protocol = await asyncio.wait_for(
                        loop.create_connection(HttpClient, host, port), args.timeout
                    )
                except (TimeoutError, OSError) as exc:
                    errors.add(*describe(exc))
                    protocol = None
                    await asyncio.sleep(0.01)
                    continue
                connections += 1
            remaining -= 1
            request = (
                f"GET {parts.path or '/'}?client={client}&n={remaining} HTTP/1.1\r\nHost: {header}\r\n"
                f"User-Agent: wsproxy-bench\r\nAccept: */*\r\n\r\n"
            ).encode("latin-1")
            protocol.waiter = loop.create_future()
            started = time.perf_counter_ns()
            protocol.transport.write(request)  # type: ignore[union-attr]
            try:
                status, close = await asyncio.wait_for(protocol.waiter, args.timeout)
            except (TimeoutError, OSError, ValueError) as exc:
                errors.add(*describe(exc))
                protocol.transport.abort()  # type: ignore[union-attr]
                protocol = None
                continue
            latencies.append(time.perf_counter_ns() - started)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status != 200:
                errors.add(f"HTTP {status}", f"HTTP {status}")
            if close:
                protocol.transport.close()  # type: ignore[union-attr]
                protocol = None
        if protocol is not None:
            protocol.transport.close()  # type: ignore[union-attr]

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(one_client(i) for i in range(args.concurrency))), args.max_seconds)
    elapsed = time.monotonic() - started
    latencies.sort()
    ok = statuses.get("200", 0)
    return {
        "url": args.url,
        "requests": args.requests,
        "ok": ok,
        "statuses": statuses,
        "errors": errors.as_dict(),
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(ok / elapsed, 1) if elapsed > 0 else 0.0,
        "client_connections": connections,
        "concurrency": args.concurrency,
        "latency_p50_ms": round(percentile(latencies, 0.5) / 1e6, 3),
        "latency_p99_ms": round(percentile(latencies, 0.99) / 1e6, 3),
    }


def run_http(args: argparse.Namespace) -> int:
    raise_nofile()
    try:
        report = asyncio.run(http_load(args))
    except TimeoutError:
        emit({"url": args.url, "error": f"did not finish within {args.max_seconds:g} s"})
        return 1
    emit(report)
    return 0 if report["ok"] > 0 else 1


# --------------------------------------------------------------------------- handshakes: new WebSockets per second


class OneHandshake(asyncio.Protocol):
    """Open, upgrade, close: ``done`` gets None for a valid 101, else what was wrong with the answer."""

    def __init__(self, request: bytes, key: str, done: asyncio.Future[str | None]) -> None:
        self.request, self.key, self.done = request, key, done
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                self._finish("response head too large")
            return
        problem = check_handshake(bytes(self.buffer[:end]), self.key)
        if problem is None and self.transport is not None:
            self.transport.write(encode_frame(OP_CLOSE, close_payload(CLOSE_NORMAL)))
        self._finish(problem)

    def _finish(self, problem: str | None) -> None:
        if not self.done.done():
            self.done.set_result(problem)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionResetError("closed before the 101"))


async def open_upgrade_close(request: bytes, key: str, dest: tuple[str, int], context: ssl.SSLContext | None,
                             server_hostname: str | None, opened: list[asyncio.BaseTransport]) -> str | None:
    """One connection through OneHandshake; its transport goes into ``opened`` (for an abort on timeout)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str | None] = loop.create_future()
    transport, _protocol = await loop.create_connection(
        lambda: OneHandshake(request, key, done), dest[0], dest[1], ssl=context, server_hostname=server_hostname
    )
    opened.append(transport)
    return await done


def handshake_worker(pipe: Any, url: str, options: dict[str, Any]) -> None:
    """Worker process: ``concurrency`` loops of open, upgrade, close until the deadline; counts sent back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.alarm(int(options["seconds"] + options["timeout"]) + 30)
    raise_nofile()
    parts = urlsplit(url)
    host, port, tls = parts.hostname or "127.0.0.1", parts.port or 80, parts.scheme == "wss"
    context = ssl.create_default_context(cafile=options["cafile"]) if tls else None
    server_hostname = options["host_header"] if tls else None

    async def main() -> dict[str, Any]:
        errors, latencies = Errors(), []
        deadline = time.monotonic() + options["seconds"]

        async def one_loop() -> None:
            while time.monotonic() < deadline:
                key = new_key()
                request = handshake_request(parts.path or "/", options["host_header"], key)
                started = time.perf_counter_ns()
                opened: list[asyncio.BaseTransport] = []
                try:
                    problem = await asyncio.wait_for(
                        open_upgrade_close(request, key, (host, port), context, server_hostname, opened),
                        options["timeout"],
                    )
                except (TimeoutError, OSError, EOFError) as exc:
                    for transport in opened:
                        transport.abort()
                    errors.add(*describe(exc))
                    continue
                if problem:
                    errors.add(f"handshake: {problem}", problem)
                    continue
                latencies.append(time.perf_counter_ns() - started)

        started = time.monotonic()
        await asyncio.gather(*(one_loop() for _loop in range(options["concurrency"])))
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.2)  # let the last transports flush their close frames and FINs
        cpu = time.process_time()
        return {"ok": len(latencies), "elapsed_s": elapsed, "errors": errors.as_dict(), "latencies_ns": latencies,
                "cpu_s": cpu}

    pipe.send(asyncio.run(main()))
    pipe.close()


def run_handshakes(args: argparse.Namespace) -> int:
    """New WebSockets per second through one URL, over several processes; their latencies and errors."""
    options = {"seconds": args.seconds, "timeout": args.timeout, "concurrency": args.concurrency,
               "cafile": args.cafile, "host_header": args.host_header}
    context = multiprocessing.get_context("fork")
    workers = []
    for _worker in range(args.workers):
        parent, child = context.Pipe(duplex=False)
        process = context.Process(target=handshake_worker, args=(child, args.url, options), daemon=True)
        process.start()
        child.close()
        workers.append((process, parent))
    errors, latencies, ok, elapsed, cpu = Errors(), [], 0, 0.0, 0.0
    for process, pipe in workers:
        if pipe.poll(args.seconds + args.timeout + 30):
            part = pipe.recv()
            ok += part["ok"]
            elapsed = max(elapsed, part["elapsed_s"])
            cpu += part["cpu_s"]
            latencies += part["latencies_ns"]
            errors.merge(part["errors"])
        else:
            errors.add("worker", "a worker sent nothing before its deadline")
        process.join(10)
        if process.is_alive():
            process.kill()
    latencies.sort()
    emit({
        "url": args.url, "workers": args.workers, "concurrency": args.concurrency, "seconds": args.seconds,
        "ok": ok, "elapsed_s": round(elapsed, 3), "per_second": round(ok / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.50) / 1e6, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) / 1e6, 2) if latencies else None,
        "client_cpu_s": round(cpu, 2), "errors": errors.as_dict(),
    })
    return 0 if ok > 0 else 1


def run_get(args: argparse.Namespace) -> int:
    parts = urlsplit(args.url)
    deadline = time.monotonic() + args.timeout
    last = ""
    while time.monotonic() < deadline:  # bounded: retries until the server listens, or the timeout
        try:
            with socket.create_connection((parts.hostname, parts.port or 80), timeout=2) as sock:
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
                data = b""
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            head, _blank, body = data.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            emit({"status": status, "body": json.loads(body) if body.strip().startswith(b"{") else body.decode()})
            return 0 if status == 200 else 1
        except (OSError, ValueError, IndexError) as exc:
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
    emit({"error": last or "timed out"})
    return 1


# --------------------------------------------------------------------------- command line


def parse_target(value: str) -> tuple[str, str]:
    name, sep, url = value.partition("=")
    if not sep or not name or not url.startswith(("ws://", "wss://")):
        raise argparse.ArgumentTypeError(f"expected NAME=ws[s]://..., got {value!r}")
    return name, url


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    ramp = sub.add_parser("ramp", help="hold WebSockets over several processes, driven from stdin")
    ramp.add_argument("--dest", type=parse_hostport, action="append", required=True, help="HOST:PORT (repeat)")
    ramp.add_argument("--workers", type=int, default=2)
    ramp.add_argument("--host-header", default="bench.test")
    ramp.add_argument("--path", default="/api/frontend-audio")
    ramp.add_argument("--timeout", type=float, default=15.0, help="seconds per handshake or echo")
    ramp.add_argument("--concurrency", type=int, default=200, help="handshakes in flight per worker")
    ramp.add_argument("--step-seconds", type=float, default=300.0, help="bound on one grow step")
    ramp.add_argument("--max-seconds", type=float, default=1800.0, help="bound on the whole session")
    ramp.add_argument("--tls", action="store_true", help="wss: TLS to every --dest")
    ramp.add_argument("--cafile", help="the CA that signed the proxy's certificate (with --tls)")

    rtt = sub.add_parser("rtt", help="round trips of binary frames, interleaved across targets")
    rtt.add_argument("--target", type=parse_target, action="append", required=True)
    rtt.add_argument("--samples", type=int, default=5000)
    rtt.add_argument("--warmup", type=int, default=200)
    rtt.add_argument("--size", type=int, default=640)
    rtt.add_argument("--round-size", type=int, default=50, help="iterations (one frame on every path) per round")
    rtt.add_argument("--baseline", default="direct", help="the target the per-round ratios divide by")
    rtt.add_argument("--host-header", default="bench.test")
    rtt.add_argument("--cafile")
    rtt.add_argument("--timeout", type=float, default=10.0)
    rtt.add_argument("--max-seconds", type=float, default=300.0)

    http = sub.add_parser("http", help="plain keep-alive GET requests")
    http.add_argument("--url", required=True)
    http.add_argument("--host-header", default="bench.test")
    http.add_argument("--requests", type=int, default=10000)
    http.add_argument("--concurrency", type=int, default=32)
    http.add_argument("--timeout", type=float, default=10.0)
    http.add_argument("--max-seconds", type=float, default=300.0)

    shakes = sub.add_parser("handshakes", help="new WebSockets per second: open, upgrade, close, again")
    shakes.add_argument("--url", required=True)
    shakes.add_argument("--seconds", type=float, default=10.0)
    shakes.add_argument("--workers", type=int, default=2)
    shakes.add_argument("--concurrency", type=int, default=32, help="handshakes in flight per worker")
    shakes.add_argument("--host-header", default="bench.test")
    shakes.add_argument("--cafile")
    shakes.add_argument("--timeout", type=float, default=10.0)

    get = sub.add_parser("get", help="one GET, JSON body printed")
    get.add_argument("--url", required=True)
    get.add_argument("--timeout", type=float, default=10.0)

    args = parser.parse_args(argv)
    for name in ("workers", "samples", "warmup", "requests", "concurrency", "round_size"):
        value = getattr(args, name, None)
        if value is not None and not 0 <= value <= 1_000_000:
            parser.error(f"--{name} out of range: {value}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    handlers = {"ramp": run_ramp, "rtt": run_rtt, "http": run_http, "get": run_get, "handshakes": run_handshakes}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
