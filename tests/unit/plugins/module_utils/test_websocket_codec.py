"""Tests for plugins/module_utils/websocket_codec.py: frames, messages, close payloads, the handshake.

The expectations are written out here from RFC 6455, independently of the codec (the `websockets` package and
the real servers check the codec end to end in tests/unit/support and tests/unit/plugins/modules).
"""

from __future__ import annotations

import ast
import asyncio
import base64
import hashlib
import os
import struct
from pathlib import Path

import pytest
from ansible_collections.wsproxy.nginx.plugins.module_utils import websocket_codec as codec
from ansible_collections.wsproxy.nginx.plugins.module_utils.websocket_codec import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    ConnectionClosed,
    FrameParser,
    HandshakeError,
    MessageReader,
    ProtocolError,
)

SIZES = [0, 1, 125, 126, 65535, 65536, 100_003]


def length_field(size: int) -> int:
    return size if size < 126 else 126 if size < 65536 else 127


def parse_all(data: bytes, *, masked: bool, piece: int | None = None) -> list[tuple[int, bytes]]:
    """Everything a MessageReader makes of data, fed whole or in pieces of ``piece`` bytes."""
    reader = MessageReader(masked=masked)
    out = []
    for start in range(0, len(data), piece or max(len(data), 1)):
        reader.feed(data[start : start + (piece or len(data))])
        while (message := reader.next_message()) is not None:
            out.append(message)
    return out


# --------------------------------------------------------------------------- keys and masks


def test_accept_key_of_the_rfc_example() -> None:
    # RFC 6455 section 1.3
    assert codec.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_new_keys_are_fresh_valid_keys() -> None:
    keys = {codec.new_key() for _index in range(20)}
    assert len(keys) == 20 and all(codec.valid_key(key) for key in keys)
    for bad in ("c2hvcnQ=", "not base64!", "", "é"):
        assert not codec.valid_key(bad), bad


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, *SIZES])
def test_mask_is_the_rfc_xor_and_its_own_inverse(size: int) -> None:
    payload, key = os.urandom(size), os.urandom(4)
    masked = codec.apply_mask(payload, key)
    assert masked == bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert codec.apply_mask(masked, key) == payload


# --------------------------------------------------------------------------- frames


@pytest.mark.parametrize("size", SIZES)
def test_unmasked_frames_round_trip_with_the_shortest_length(size: int) -> None:
    payload = os.urandom(size)
    frame = codec.encode_frame(OP_BINARY, payload, mask=False)
    assert frame[0] == 0x80 | OP_BINARY
    assert frame[1] == length_field(size)  # no mask bit
    extended = struct.pack("!H", size) if frame[1] == 126 else struct.pack("!Q", size) if frame[1] == 127 else b""
    assert frame == bytes(frame[:2]) + extended + payload
    assert parse_all(frame, masked=False) == [(OP_BINARY, payload)]


@pytest.mark.parametrize("size", SIZES)
def test_masked_frames_round_trip(size: int) -> None:
    payload, key = os.urandom(size), b"\x01\x02\x03\x04"
    frame = codec.encode_frame(OP_BINARY, payload, key=key)
    assert frame[1] == 0x80 | length_field(size)
    head = 2 + {126: 2, 127: 8}.get(length_field(size), 0)
    assert frame[head : head + 4] == key
    assert frame[head + 4 :] == bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert parse_all(frame, masked=True) == [(OP_BINARY, payload)]
    other = codec.encode_frame(OP_BINARY, payload)  # a fresh random key each time
    assert parse_all(other, masked=True) == [(OP_BINARY, payload)]


def test_frames_fed_a_byte_at_a_time() -> None:
    frames = [codec.encode_frame(OP_TEXT, b"one"), codec.encode_frame(OP_BINARY, os.urandom(70_000))]
    whole = parse_all(b"".join(frames), masked=True)
    assert parse_all(b"".join(frames), masked=True, piece=1) == whole
    assert parse_all(b"".join(frames), masked=True, piece=4096) == whole
    assert [opcode for opcode, _payload in whole] == [OP_TEXT, OP_BINARY]


def test_frame_parser_gives_fin_opcode_and_unmasked_payload() -> None:
    parser = FrameParser(masked=True)
    parser.feed(codec.encode_frame(OP_TEXT, b"he", fin=False) + codec.encode_frame(OP_CONTINUATION, b"llo"))
    assert parser.next_frame() == codec.Frame(False, OP_TEXT, b"he")
    assert parser.next_frame() == codec.Frame(True, OP_CONTINUATION, b"llo")
    assert parser.next_frame() is None
    parser.feed(b"\x81")
    assert parser.next_frame() is None and parser.take_buffer() == b"\x81"


def test_a_fragmented_message_is_reassembled_around_control_frames() -> None:
    data = b"".join(
        [
            codec.encode_frame(OP_TEXT, "hé".encode(), fin=False),
            codec.encode_frame(OP_PING, b"in-between"),  # control frames may come between fragments
            codec.encode_frame(OP_CONTINUATION, b"ll", fin=False),
            codec.encode_frame(OP_CONTINUATION, b"o"),
            codec.encode_frame(OP_BINARY, b"\x00", fin=False),
            codec.encode_frame(OP_CONTINUATION, b"\x01" * 70_000),
        ]
    )
    expected = [(OP_PING, b"in-between"), (OP_TEXT, "héllo".encode()), (OP_BINARY, b"\x00" + b"\x01" * 70_000)]
    assert parse_all(data, masked=True) == expected
    assert parse_all(data, masked=True, piece=7) == expected


def test_control_frames_come_as_they_are() -> None:
    data = b"".join(
        [
            codec.encode_frame(OP_PING, b"p", mask=False),
            codec.encode_frame(OP_PONG, b"", mask=False),
            codec.encode_frame(OP_CLOSE, codec.close_payload(1000, "bye"), mask=False),
        ]
    )
    assert parse_all(data, masked=False) == [(OP_PING, b"p"), (OP_PONG, b""), (OP_CLOSE, b"\x03\xe8bye")]


@pytest.mark.parametrize(
    ("data", "masked", "code", "words"),
    [
        pytest.param(codec.encode_frame(OP_TEXT, b"x", mask=False), True, 1002, "unmasked", id="client-unmasked"),
        pytest.param(codec.encode_frame(OP_TEXT, b"x"), False, 1002, "a masked frame", id="server-masked"),
        pytest.param(b"\xc1\x80abcd", True, 1002, "reserved bits", id="rsv1"),
        pytest.param(codec.encode_frame(0x3, b"x"), True, 1002, "reserved opcode 0x3", id="opcode-3"),
        pytest.param(codec.encode_frame(0xB, b"x"), True, 1002, "reserved opcode 0xb", id="opcode-b"),
        pytest.param(codec.encode_frame(OP_PING, b"x" * 126), True, 1002, "control frame", id="long-ping"),
        pytest.param(codec.encode_frame(OP_PING, b"x", fin=False), True, 1002, "control frame", id="fragmented-ping"),
        pytest.param(codec.encode_frame(OP_CONTINUATION, b"x"), True, 1002, "without a message", id="lone-continue"),
        pytest.param(
            codec.encode_frame(OP_TEXT, b"a", fin=False) + codec.encode_frame(OP_TEXT, b"b"),
            True, 1002, "before the previous one finished", id="interleaved",
        ),
        pytest.param(codec.encode_frame(OP_TEXT, b"\xff\xfe"), True, 1007, "not UTF-8", id="invalid-utf8"),
        pytest.param(b"\x82\x7f" + struct.pack("!Q", 2**40), False, 1009, "more than", id="huge-frame"),
    ],
)
def test_malformed_frames_are_refused_with_the_close_code(data: bytes, masked: bool, code: int, words: str) -> None:
    with pytest.raises(ProtocolError, match=words) as caught:
        parse_all(data, masked=masked)
    assert caught.value.code == code


def test_a_message_over_the_limit_is_refused_across_fragments() -> None:
    reader = MessageReader(masked=True, max_size=100)
    reader.feed(codec.encode_frame(OP_BINARY, b"x" * 60, fin=False) + codec.encode_frame(OP_CONTINUATION, b"y" * 60))
    with pytest.raises(ProtocolError) as caught:
        reader.next_message()
    assert caught.value.code == codec.CLOSE_TOO_BIG


def test_a_masking_key_is_four_bytes() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        codec.encode_frame(OP_TEXT, b"x", key=b"abc")


# --------------------------------------------------------------------------- reading from sockets and streams


def test_read_message_from_a_blocking_source() -> None:
    frame = codec.encode_frame(OP_TEXT, b"hello", mask=False)
    pieces = iter([frame[:1], frame[1:3], frame[3:] + frame[:2]])  # as recv() returns them: any split
    reader = MessageReader(masked=False)
    assert codec.read_message(reader, lambda: next(pieces)) == (OP_TEXT, b"hello")
    with pytest.raises(ConnectionClosed):  # recv() returned b"": the end of the stream
        codec.read_message(reader, lambda: b"")


def test_read_message_async_from_an_asyncio_stream() -> None:
    async def scenario() -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        stream = asyncio.StreamReader()
        stream.feed_data(codec.encode_frame(OP_PING, b"p") + codec.encode_frame(OP_BINARY, b"\x00" * 70_000)[:10])
        reader = MessageReader(masked=True)
        first = await codec.read_message_async(reader, stream)
        asyncio.get_running_loop().call_soon(stream.feed_data, codec.encode_frame(OP_BINARY, b"\x00" * 70_000)[10:])
        return first, await codec.read_message_async(reader, stream)

    async def at_the_end() -> None:
        stream = asyncio.StreamReader()
        stream.feed_data(b"\x81")
        stream.feed_eof()
        await codec.read_message_async(MessageReader(masked=True), stream)

    assert asyncio.run(scenario()) == ((OP_PING, b"p"), (OP_BINARY, b"\x00" * 70_000))
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        asyncio.run(at_the_end())
    assert caught.value.partial == b"\x81"


# --------------------------------------------------------------------------- close frames


def test_close_payloads() -> None:
    assert codec.close_payload(1000) == b"\x03\xe8"
    assert codec.close_payload(4001, "bye") == b"\x0f\xa1bye"
    long = codec.close_payload(1011, "é" * 100)  # cut to 125 bytes at a character boundary
    assert len(long) <= 125 and long[2:].decode("utf-8") == "é" * 61
    assert codec.parse_close(b"") == (codec.CLOSE_NO_STATUS, "")
    assert codec.parse_close(b"\x03\xe8done") == (1000, "done")
    assert codec.parse_close(struct.pack("!H", 4999)) == (4999, "")
    assert codec.close_code(b"") == codec.close_code(b"\x03") == 1005
    assert codec.close_code(struct.pack("!H", 999)) == 999
    assert codec.describe_close(struct.pack("!H", 1008) + b"policy") == "close code 1008 (policy)"
    assert codec.describe_close(b"\x03\xe8") == "close code 1000"
    assert codec.describe_close(b"") == "no close code"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x03", 1002),
        (struct.pack("!H", 999), 1002),
        (struct.pack("!H", 1005), 1002),  # reserved: never sent
        (struct.pack("!H", 1006), 1002),
        (struct.pack("!H", 5000), 1002),
        (struct.pack("!H", 1000) + b"\xff", 1007),
    ],
)
def test_malformed_close_payloads(payload: bytes, code: int) -> None:
    with pytest.raises(ProtocolError) as caught:
        codec.parse_close(payload)
    assert caught.value.code == code


# --------------------------------------------------------------------------- the opening handshake


def test_handshake_request() -> None:
    key = codec.new_key()
    headers = codec.handshake_headers(
        "api.example.test", key, origin="https://app.example.test", subprotocols=["a", "b"], user_agent="t/1",
        extra={"Upgrade": "h2c", "Sec-WebSocket-Version": "", "X-Number": 7, "X-None": None},
    )
    assert headers == [
        ("Host", "api.example.test"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Origin", "https://app.example.test"),
        ("Sec-WebSocket-Protocol", "a, b"),
        ("User-Agent", "t/1"),
        ("Upgrade", "h2c"),
        ("X-Number", "7"),
    ]
    request = codec.build_request("GET", "/api/x?y=1", codec.handshake_headers("h:8080", key))
    assert request == (
        f"GET /api/x?y=1 HTTP/1.1\r\nHost: h:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def test_response_head_parsed() -> None:
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    head = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n"
    )
    status, reason, headers = codec.parse_response_head(head)
    assert (status, reason) == (101, "Switching Protocols")
    assert headers["set-cookie"] == "a=1, b=2" and headers["upgrade"] == "websocket"
    assert codec.header_tokens(headers, "connection") == {"keep-alive", "upgrade"}
    assert codec.check_upgrade(status, headers, key) is None
    assert codec.parse_response_head(b"HTTP/1.1 426\r\n\r\n") == (426, "", {})


def test_check_upgrade_says_what_is_wrong() -> None:
    key = codec.new_key()
    good = {"upgrade": "websocket", "connection": "upgrade", "sec-websocket-accept": codec.accept_key(key)}
    assert codec.check_upgrade(101, good, key) is None
    assert codec.check_upgrade(426, good, key) == "status 426, not 101"
    assert "not websocket" in codec.check_upgrade(101, {**good, "upgrade": "h2c"}, key)
    assert "no upgrade token" in codec.check_upgrade(101, {**good, "connection": "close"}, key)
    assert codec.check_upgrade(101, {**good, "sec-websocket-accept": "d3Jvbmc="}, key) == "wrong Sec-WebSocket-Accept"
    del good["sec-websocket-accept"]
    assert codec.check_upgrade(101, good, key) == "no Sec-WebSocket-Accept"


@pytest.mark.parametrize("head", [b"SSH-2.0-OpenSSH_9.2\r\n", b"HTTP/1.1 abc\r\n\r\n", b"\x16\x03\x01", b""])
def test_a_head_that_is_not_http_is_refused(head: bytes) -> None:
    with pytest.raises(HandshakeError) as caught:
        codec.parse_response_head(head)
    assert caught.value.line == head.decode("latin-1").split("\r\n")[0]


def test_rfc_accept_computed_independently_agrees() -> None:
    key = codec.new_key()
    guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    assert codec.accept_key(key) == base64.b64encode(hashlib.sha1(key.encode() + guid).digest()).decode()


def test_source_is_python_3_9_syntax() -> None:
    ast.parse(Path(codec.__file__).read_text(), feature_version=(3, 9))
