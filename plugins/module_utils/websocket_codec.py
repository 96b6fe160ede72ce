# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The WebSocket protocol (RFC 6455), written once: frames, messages, close payloads and the opening handshake.

Python standard library only (3.9+), and no I/O of its own, so every side of the project speaks through it:
the module websocket_probe (Ansible ships this file to the managed host with it), and as a plain file
(``import websocket_codec``) the test client and backend in tests/support and the load generator in bench.

Reading is incremental. A :class:`MessageReader` is fed the bytes as they arrive, in pieces of any size, and
hands out whole messages (fragments joined) and control frames, refusing what RFC 6455 forbids with a
:class:`ProtocolError` that carries the close code to answer. :func:`read_message` drives it from a blocking
socket, :func:`read_message_async` from an asyncio stream, and an ``asyncio.Protocol`` feeds it from
``data_received``::

    reader = MessageReader(masked=False)          # a client reads the server's unmasked frames
    reader.feed(leftover_after_the_handshake)
    opcode, payload = read_message(reader, lambda: sock.recv(65536))
    sock.sendall(encode_frame(OP_TEXT, b"hello"))  # a client masks; a server passes mask=False
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple, Union

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
DATA_OPCODES = frozenset({OP_TEXT, OP_BINARY})
CONTROL_OPCODES = frozenset({OP_CLOSE, OP_PING, OP_PONG})
MAX_CONTROL_PAYLOAD = 125
DEFAULT_MAX_SIZE = 16 * 1024 * 1024  # one frame, and one message with its fragments joined

# Close codes (RFC 6455 section 7.4.1).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_NO_STATUS = 1005  # never sent: what an empty close frame means
CLOSE_INVALID_DATA = 1007
CLOSE_TOO_BIG = 1009
# The codes a peer may send; 3000-4999 are the applications' and libraries' own.
VALID_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})
MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2

# Request headers given by the caller: a mapping or a list of (name, value); see merge_headers.
HeadersLike = Union[Mapping[str, object], Sequence[tuple[str, object]], None]


class WebSocketError(Exception):
    """Handshake or protocol failure."""


class ConnectionClosed(WebSocketError):
    """The peer closed the WebSocket (close frame or end of stream)."""


class HandshakeError(WebSocketError):
    """The answer to the opening handshake is not HTTP; ``line`` is the status line that came."""

    def __init__(self, message: str, line: str = "") -> None:
        super().__init__(message)
        self.line = line


class ProtocolError(WebSocketError):
    """The peer broke RFC 6455: close the WebSocket with ``code``."""

    def __init__(self, message: str, code: int = CLOSE_PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- keys and masks


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode("ascii")).digest()).decode("ascii")


def new_key() -> str:
    """A fresh Sec-WebSocket-Key: the base64 encoding of 16 random bytes."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def valid_key(key: str) -> bool:
    """A Sec-WebSocket-Key is the base64 encoding of 16 bytes."""
    try:
        return len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (binascii.Error, UnicodeEncodeError):
        return False


def apply_mask(data: bytes, key: bytes) -> bytes:
    """XOR data with the 4-byte masking key (masking and unmasking are the same operation)."""
    if not data:
        return b""
    size = len(data)
    stream = (bytes(key) * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")


# --------------------------------------------------------------------------- frames


def encode_frame(
    opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, key: bytes | None = None
) -> bytes:
    """One frame with the shortest length encoding (RFC 6455 section 5.2).

    A client masks every frame (the default), with ``key`` or a fresh random one; a server sends
    ``mask=False``. ``fin=False`` starts or continues a fragmented message (then OP_CONTINUATION frames).
    """
    first = (0x80 if fin else 0) | (opcode & 0x0F)
    mask_bit = 0x80 if mask else 0
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", first, mask_bit | size)
    elif size < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, size)
    if not mask:
        return header + bytes(payload)
    key = os.urandom(4) if key is None else bytes(key)
    if len(key) != 4:
        raise ValueError(f"key: a masking key is 4 bytes, not {len(key)}")
    return header + key + apply_mask(payload, key)


class Frame(NamedTuple):
    fin: bool
    opcode: int
    payload: bytes  # unmasked


class FrameParser:
    """Frames out of a byte stream fed in pieces of any size.

    ``masked`` is what the peer must send: True where a server reads a client's frames, False where a client
    reads a server's. A frame that breaks RFC 6455 raises ProtocolError as soon as its header shows it.
    """

    def __init__(self, *, masked: bool, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.masked = masked
        self.max_size = max_size
        self.peer = "client" if masked else "server"
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def take_buffer(self) -> bytes:
        """The bytes fed but not parsed yet (for a connection that stops speaking WebSocket)."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more bytes are fed."""
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        opcode, length = first & 0x0F, second & 0x7F
        offset = 2 + (2 if length == 126 else 8 if length == 127 else 0)
        if len(buffer) < offset:
            return None
        if length == 126:
            (length,) = struct.unpack_from("!H", buffer, 2)
        elif length == 127:
            (length,) = struct.unpack_from("!Q", buffer, 2)
        self._check(first, second, opcode, length)
        key = bytes(buffer[offset : offset + 4]) if second & 0x80 else b""
        start = offset + len(key)
        if len(buffer) < start + length:
            return None
        payload = bytes(buffer[start : start + length])
        del buffer[: start + length]
        return Frame(bool(first & 0x80), opcode, apply_mask(payload, key) if key else payload)

    def _check(self, first: int, second: int, opcode: int, length: int) -> None:
        if first & 0x70:
            raise ProtocolError(f"the {self.peer} set reserved bits without a negotiated extension")
        if bool(second & 0x80) != self.masked:
            kind = "an unmasked" if self.masked else "a masked"
            raise ProtocolError(f"the {self.peer} sent {kind} frame, which RFC 6455 forbids")
        if opcode in CONTROL_OPCODES:
            if not first & 0x80 or length > MAX_CONTROL_PAYLOAD:
                raise ProtocolError(f"the {self.peer} sent a control frame that is fragmented or over 125 bytes")
        elif opcode not in DATA_OPCODES and opcode != OP_CONTINUATION:
            raise ProtocolError(f"the {self.peer} sent the reserved opcode {opcode:#x}")
        if length > self.max_size:
            raise ProtocolError(
                f"the {self.peer} sent a frame of {length} bytes, more than the {self.max_size} read here",
                CLOSE_TOO_BIG,
            )


class MessageReader:
    """Whole messages and control frames out of a byte stream fed in pieces of any size.

    ``next_message`` returns ``(OP_TEXT or OP_BINARY, message)`` with the fragments joined, or a control
    frame as ``(OP_PING, OP_PONG or OP_CLOSE, payload)`` as soon as it comes (also between the fragments of a
    message): answering pings and closes is the caller's part. A text message must be valid UTF-8.
    """

    def __init__(self, *, masked: bool, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.parser = FrameParser(masked=masked, max_size=max_size)
        self._opcode: int | None = None
        self._fragments: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        self.parser.feed(data)

    def next_message(self) -> tuple[int, bytes] | None:
        """The next message or control frame, or None until more bytes are fed."""
        peer = self.parser.peer
        while True:
            frame = self.parser.next_frame()
            if frame is None:
                return None
            if frame.opcode in CONTROL_OPCODES:
                return frame.opcode, frame.payload
            if frame.opcode == OP_CONTINUATION:
                if self._opcode is None:
                    raise ProtocolError(f"the {peer} sent a continuation frame without a message in progress")
            elif self._opcode is not None:
                raise ProtocolError(f"the {peer} began a new message before the previous one finished")
            else:
                self._opcode = frame.opcode
            self._size += len(frame.payload)
            if self._size > self.parser.max_size:
                raise ProtocolError(
                    f"the {peer} sent a message of more than {self.parser.max_size} bytes", CLOSE_TOO_BIG
                )
            self._fragments.append(frame.payload)
            if frame.fin:
                opcode, fragments = self._opcode, self._fragments
                self._opcode, self._fragments, self._size = None, [], 0
                message = fragments[0] if len(fragments) == 1 else b"".join(fragments)
                if opcode == OP_TEXT:
                    try:
                        message.decode("utf-8")
                    except UnicodeDecodeError:
                        raise ProtocolError(
                            f"the {peer} sent a text message that is not UTF-8", CLOSE_INVALID_DATA
                        ) from None
                return opcode, message


def read_message(reader: MessageReader, recv: Callable[[], bytes]) -> tuple[int, bytes]:
    """The next message or control frame, reading with ``recv`` (say ``lambda: sock.recv(65536)``) as needed.

    ``recv`` blocks until bytes come; an empty answer (the end of the stream) raises ConnectionClosed.
    """
    while True:
        message = reader.next_message()
        if message is not None:
            return message
        data = recv()
        if not data:
            raise ConnectionClosed("connection closed by peer")
        reader.feed(data)


async def read_message_async(
    reader: MessageReader, stream: asyncio.StreamReader, chunk: int = 262144
) -> tuple[int, bytes]:
    """As read_message, from an asyncio stream; the end of the stream raises asyncio.IncompleteReadError."""
    while True:
        message = reader.next_message()
        if message is not None:
            return message
        data = await stream.read(chunk)
        if not data:
            raise asyncio.IncompleteReadError(reader.parser.take_buffer(), None)
        reader.feed(data)


# --------------------------------------------------------------------------- close frames


def close_payload(code: int, reason: str = "") -> bytes:
    """The payload of a close frame: the code and a reason cut to fit 125 bytes (at a character boundary)."""
    data = reason.encode("utf-8")[:MAX_CLOSE_REASON].decode("utf-8", "ignore").encode("utf-8")
    return struct.pack("!H", code) + data


def parse_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a peer's close frame, CLOSE_NO_STATUS for an empty one; ProtocolError if malformed."""
    if not payload:
        return CLOSE_NO_STATUS, ""
    if len(payload) < 2:
        raise ProtocolError("a close frame with a 1-byte payload")
    (code,) = struct.unpack_from("!H", payload)
    if code not in VALID_CLOSE_CODES and not 3000 <= code <= 4999:
        raise ProtocolError(f"the close code {code} may not be sent")
    try:
        return code, payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("a close reason that is not UTF-8", CLOSE_INVALID_DATA) from None


def close_code(payload: bytes) -> int:
    """The code of a close frame as it came, CLOSE_NO_STATUS when it has none."""
    return struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else CLOSE_NO_STATUS


def describe_close(payload: bytes) -> str:
    """A close frame in words: 'close code 1008 (policy)', or 'no close code'."""
    if len(payload) < 2:
        return "no close code"
    reason = payload[2:].decode("utf-8", "replace")
    return f"close code {close_code(payload)}" + (f" ({reason})" if reason else "")


# --------------------------------------------------------------------------- the opening handshake


def merge_headers(defaults: Iterable[tuple[str, str]], overrides: HeadersLike) -> list[tuple[str, str]]:
    """Our own headers, minus those the caller names, plus the caller's (an empty or null value drops one)."""
    items = list(overrides.items()) if isinstance(overrides, Mapping) else list(overrides or [])
    replaced = {str(name).lower() for name, _value in items}
    kept = [(name, value) for name, value in defaults if name.lower() not in replaced]
    return kept + [(str(name), str(value)) for name, value in items if value is not None and str(value) != ""]


def handshake_headers(
    host: str,
    key: str,
    *,
    origin: str | None = None,
    subprotocols: Sequence[str] | None = None,
    user_agent: str | None = None,
    extra: HeadersLike = None,
) -> list[tuple[str, str]]:
    """The headers of a client's opening handshake (RFC 6455 section 4.1), ``extra`` merged in."""
    own = [
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    if origin:
        own.append(("Origin", origin))
    if subprotocols:
        own.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
    if user_agent:
        own.append(("User-Agent", user_agent))
    return merge_headers(own, extra)


def build_request(method: str, resource: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 request head: the request line, the headers and the blank line."""
    lines = [f"{method} {resource} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_response_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    """(status, reason, headers with lower-case names; a repeated header's values joined with ', ').

    ``head`` is the status line and the headers, with or without the blank line; HandshakeError when the
    status line is not HTTP.
    """
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise HandshakeError(f"malformed status line {lines[0][:100]!r}", lines[0])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


def header_tokens(headers: Mapping[str, str], name: str) -> set[str]:
    """The comma-separated tokens of a header, lower-cased (for Connection, Upgrade, ...)."""
    return {token.strip().lower() for token in headers.get(name, "").split(",") if token.strip()}


def check_upgrade(status: int, headers: Mapping[str, str], key: str) -> str | None:
    """None when the answer completes the WebSocket handshake for ``key``, else why not (short, groupable)."""
    if status != 101:
        return f"status {status}, not 101"
    if "websocket" not in header_tokens(headers, "upgrade"):
        return f"101 with Upgrade: {headers.get('upgrade')!r}, not websocket"
    if "upgrade" not in header_tokens(headers, "connection"):
        return f"101 with Connection: {headers.get('connection')!r}, no upgrade token"
    if headers.get("sec-websocket-accept") != accept_key(key):
        return "wrong Sec-WebSocket-Accept" if "sec-websocket-accept" in headers else "no Sec-WebSocket-Accept"
    return None
