"""The edges of the WebSocket opening handshake, through nginx to the Node `ws` server, with raw sockets.

Each request is written byte for byte here and sent by molecule/replicas/raw_http.py inside the proxy container
to nginx (the `api` vhost, /api/ over both replicas' ws servers), so no client library adds or fixes a header.

- RFC 6455 4.1/4.2.1: a valid handshake answers 101 with Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), and
  header names and the Upgrade/Connection values are case-insensitive; Connection is a list (Firefox sends
  "keep-alive, Upgrade").
- RFC 6455 4.1 and RFC 9110 7.8: only a GET in HTTP/1.1 whose Connection carries the "upgrade" option upgrades; a
  server MUST ignore Upgrade in an HTTP/1.0 request. nginx forwards Upgrade and Connection: upgrade only then, so
  the backend sees a plain request and answers 426 (tests/apps/ws_server.js on a WebSocket path without upgrade).
- Upgrade: h2c never opens a tunnel. A missing Sec-WebSocket-Key, or one that is not 16 bytes in base64, or a
  version the server does not speak, is refused by ws with 400, and for the version with the versions it speaks
  (Sec-WebSocket-Version: 13, 8), which must reach the client. (ws speaks 13 and hybi-08's 8, the same framing, so
  version 8 upgrades: nginx passes the version through.) HTTP/1.1 without Host: 400 from nginx itself.

Every refusal must be a complete HTTP response, and a WebSocket frame sent after it must not be echoed (no tunnel).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import pytest

testinfra_hosts = ["ansible://proxies"]

PORT = 80
HOST = "api.example.test"
PATH = "/api/call-events"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3


def key(size: int = 16) -> str:
    return base64.b64encode(os.urandom(size)).decode()


def accept(client_key: str) -> str:
    return base64.b64encode(hashlib.sha1((client_key + GUID).encode()).digest()).decode()


def request(headers: list[tuple[str, str]], method: str = "GET", version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {PATH} {version}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def handshake(client_key: str, *, connection: str = "Upgrade", upgrade: str = "websocket",
              ws_version: str = "13", names: str = "canonical") -> list[tuple[str, str]]:
    """The headers of a handshake; names='lower'/'upper' writes the header names in that case."""
    headers = [("Host", HOST), ("Upgrade", upgrade), ("Connection", connection),
               ("Sec-WebSocket-Key", client_key), ("Sec-WebSocket-Version", ws_version)]
    if names == "lower":
        headers = [(name.lower(), value) for name, value in headers]
    elif names == "upper":
        headers = [(name.upper(), value) for name, value in headers]
    return headers


def send(host: Any, raw: bytes) -> dict[str, Any]:
    run = host.run(f"python3 /opt/replicas/raw_http.py {PORT} {base64.b64encode(raw).decode()}")
    try:
        return json.loads(run.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"raw_http.py printed no JSON: rc={run.rc} {run.stdout!r} {run.stderr!r}") from exc


# name: (Connection, Upgrade, header-name case): all valid, all must upgrade
VALID = {
    "canonical": ("Upgrade", "websocket", "canonical"),
    "firefox keep-alive, Upgrade": ("keep-alive, Upgrade", "websocket", "canonical"),
    "lower-case names and values": ("upgrade", "websocket", "lower"),
    "upper-case names and values": ("UPGRADE", "WEBSOCKET", "upper"),
    "mixed case, no space in the list": ("keep-alive,upGrade", "WebSocket", "canonical"),
}


@pytest.mark.parametrize("case", VALID)
def test_valid_handshake_upgrades_with_the_right_accept(host, case):
    connection, upgrade, names = VALID[case]
    client_key = key()
    result = send(host, request(handshake(client_key, connection=connection, upgrade=upgrade, names=names)))
    assert result["status"] == 101, result
    assert result["headers"].get("sec-websocket-accept") == accept(client_key), result
    assert result["headers"].get("upgrade", "").lower() == "websocket", result
    assert "upgrade" in result["headers"].get("connection", "").lower(), result
    assert result["greeting"] in ("replica:app-1", "replica:app-2"), result
    assert result["tunnel"] and result["echo"], result


def test_version_8_reaches_ws_which_speaks_it(host):
    """nginx does not filter Sec-WebSocket-Version: ws 8 accepts 13 and hybi-08's 8 (the same framing)."""
    client_key = key()
    result = send(host, request(handshake(client_key, ws_version="8")))
    assert result["status"] == 101 and result["headers"].get("sec-websocket-accept") == accept(client_key), result
    assert result["echo"], result


def refusals() -> dict[str, tuple[bytes, Any]]:
    """name: (request, check of the status); every one must also end without a tunnel."""
    k = key()
    not_upgraded_by_nginx = (426,)  # the backend got a plain request: Upgrade was not forwarded
    return {
        "POST with the upgrade headers": (
            request([*handshake(k), ("Content-Length", "0")], method="POST"), not_upgraded_by_nginx),
        "HTTP/1.0 with the upgrade headers": (request(handshake(k), version="HTTP/1.0"), not_upgraded_by_nginx),
        "Upgrade without upgrade in Connection": (request(handshake(k, connection="keep-alive")),
                                                  not_upgraded_by_nginx),
        "Upgrade without Connection": (request([h for h in handshake(k) if h[0] != "Connection"]),
                                       not_upgraded_by_nginx),
        "Connection: upgrade-insecure (not the token)": (
            request(handshake(k, connection="keep-alive, upgrade-insecure")), not_upgraded_by_nginx),
        "Upgrade: h2c": (request([("Host", HOST), ("Upgrade", "h2c"), ("Connection", "Upgrade, HTTP2-Settings"),
                                  ("HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA")]), not_upgraded_by_nginx),
        "no Sec-WebSocket-Key": (request([h for h in handshake(k) if h[0] != "Sec-WebSocket-Key"]), (400,)),
        "a 15-byte key": (request(handshake(key(15))), (400,)),
        "a 17-byte key": (request(handshake(key(17))), (400,)),
        "a key that is not base64": (request(handshake("not base64 at all!!!!==")), (400,)),
        "Sec-WebSocket-Version 7": (request(handshake(k, ws_version="7")), (400, 426)),
        "Sec-WebSocket-Version 12": (request(handshake(k, ws_version="12")), (400, 426)),
        "no Host in HTTP/1.1": (request([h for h in handshake(k) if h[0] != "Host"]), (400,)),
    }


REFUSALS = list(refusals())


@pytest.mark.parametrize("case", REFUSALS)
def test_refused_handshake_opens_no_tunnel(host, case):
    raw, statuses = refusals()[case]
    result = send(host, raw)
    print(f"{case}: {result.get('status')} {result.get('reason')} {result.get('body', '')[:80]!r}")
    assert result["status"] != 101, result
    assert result["status"] in statuses, result
    # A complete HTTP response, and no WebSocket after it: the frame sent next was not echoed.
    assert result["complete"], result
    assert not result["tunnel"] and not result["echo"], result
    headers = result["headers"]
    if case.startswith("Sec-WebSocket-Version"):
        # RFC 6455 4.2.2: the versions the server speaks, from the backend, through nginx.
        assert headers.get("sec-websocket-version") == "13, 8", result
    if case == "no Host in HTTP/1.1":
        # nginx's own answer: the request never reached a replica.
        assert "x-replica" not in headers and "nginx" in result["body"], result
    if statuses == (426,):
        # The application's plain-request answer (its X-Replica), not ws's refusal of an upgrade.
        assert headers.get("x-replica") in ("app-1", "app-2"), result
