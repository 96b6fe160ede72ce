"""Send one raw HTTP request and report, as JSON, what came back and whether a tunnel opened.

Run inside the proxy container by tests/test_protocol_edges.py (Python standard library only), so the request is
exactly the bytes the test wrote: no client library adds, fixes or refuses a header.

    python3 raw_http.py PORT REQUEST_BASE64 [--timeout 3]

After the response head, a 101 answer is read as a WebSocket: its first frame (the backend's greeting), then one
masked text frame is sent and its echo awaited. Any other answer is read to its end (Content-Length, chunked, or
the close of the connection), and then the same masked frame is sent anyway: through a tunnel it would come back
as a WebSocket frame; through plain HTTP, nginx either closes or answers it as a (bad) HTTP request.

Output: {"status", "reason", "version", "headers": {lower-case name: value}, "body", "complete",
"after": what the connection gave after the frame (text), "tunnel": a WebSocket frame came back, "echo": the
frame's payload came back in one, "greeting": the first frame of a 101}.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import sys
import time

PROBE = b"probe-after-response"


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A masked client frame (RFC 6455 5.2), payload under 126 bytes."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + masked


def read_frame(data: bytes) -> tuple[int, bytes, bytes] | None:
    """(opcode, payload, rest) of a complete unmasked server frame at the start of data, else None."""
    if len(data) < 2 or data[0] & 0x70 or data[1] & 0x80:
        return None
    length, offset = data[1] & 0x7F, 2
    if length == 126:
        if len(data) < 4:
            return None
        length, offset = struct.unpack("!H", data[2:4])[0], 4
    elif length == 127:
        return None
    if len(data) < offset + length:
        return None
    return data[0] & 0x0F, data[offset : offset + length], data[offset + length :]


class Conn:
    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        self.closed = False

    def more(self, deadline: float) -> bool:
        """Read what arrives until the deadline; False once the peer closed (or reset)."""
        if self.closed:
            return False
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return True
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buffer += chunk
        return True

    def read_until(self, marker: bytes, deadline: float) -> bytes | None:
        while marker not in self.buffer:
            if time.monotonic() >= deadline or not self.more(deadline):
                return None
        head, _marker, self.buffer = self.buffer.partition(marker)
        return head

    def read_exactly(self, size: int, deadline: float) -> bytes | None:
        while len(self.buffer) < size:
            if time.monotonic() >= deadline or not self.more(deadline):
                return None
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_frame(self, deadline: float) -> tuple[int, bytes] | None:
        while (parsed := read_frame(self.buffer)) is None:
            if time.monotonic() >= deadline or not self.more(deadline):
                return None
        opcode, payload, self.buffer = parsed
        return opcode, payload


def read_body(conn: Conn, headers: dict[str, str], deadline: float) -> tuple[bytes, bool]:
    """The body of a response and whether it was complete by its own framing (RFC 9112 6.3)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            size_line = conn.read_until(b"\r\n", deadline)
            if size_line is None:
                return body, False
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            chunk = conn.read_exactly(size + 2, deadline)
            if chunk is None:
                return body, False
            if size == 0:
                return body, True
            body += chunk[:-2]
    if "content-length" in headers:
        length = int(headers["content-length"])
        body = conn.read_exactly(length, deadline)
        return (body, True) if body is not None else (conn.buffer, False)
    # Neither: the body ends when the server closes the connection.
    while conn.more(deadline):
        if time.monotonic() >= deadline:
            return conn.buffer, False
    body, conn.buffer = conn.buffer, b""
    return body, True


def main() -> None:
    port, request = int(sys.argv[1]), base64.b64decode(sys.argv[2])
    timeout = float(sys.argv[sys.argv.index("--timeout") + 1]) if "--timeout" in sys.argv else 3.0
    conn = Conn(port, timeout)
    conn.sock.sendall(request)
    deadline = time.monotonic() + timeout
    head = conn.read_until(b"\r\n\r\n", deadline)
    if head is None:
        result = {"status": None, "received": conn.buffer.decode("latin-1"), "closed": conn.closed}
        print(json.dumps(result))
        return
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status, reason = [*status_line.split(" ", 2), ""][:3]
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _colon, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    result: dict[str, object] = {"status": int(status), "reason": reason, "version": version, "headers": headers}

    greeting = None
    if result["status"] == 101:
        first = conn.read_frame(time.monotonic() + timeout)
        greeting = first[1].decode("utf-8", "replace") if first else None
        result["body"], result["complete"] = "", True
    else:
        body, complete = read_body(conn, headers, time.monotonic() + timeout)
        result["body"], result["complete"] = body.decode("utf-8", "replace"), complete
    result["greeting"] = greeting

    # The frame a tunnel would echo. Through plain HTTP it is garbage: nginx closes, or answers 400.
    try:
        conn.sock.sendall(frame(PROBE))
    except OSError:
        conn.closed = True
    after_deadline = time.monotonic() + 1.5
    echoed = None
    if result["status"] == 101:
        echoed = conn.read_frame(after_deadline)
    else:
        while time.monotonic() < after_deadline and conn.more(after_deadline):
            pass
    after = conn.buffer
    tunnel = greeting is not None or echoed is not None or read_frame(after) is not None
    result["echo"] = bool(echoed and echoed[1] == PROBE) or (b"\x81" + bytes([len(PROBE)]) + PROBE) in after
    result["tunnel"] = tunnel or bool(result["echo"])
    result["after"] = after.decode("latin-1")
    result["closed"] = conn.closed
    conn.sock.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
