"""Large frames and long fragmented messages through the role's fitted tunnel buffers, in a real nginx.

A WebSocket location with ``frame_size: 640`` (the seed's audio frames) streams each direction of its tunnels
through a 1k ``proxy_buffer_size`` (plugins/plugin_utils/buffers.py). The server and the client are the
third-party ``websockets`` library (requirements.txt), without compression so that every byte crosses nginx:
a 1 MiB frame echoes intact, and a message of 4,096 fragments goes through and back fragment by fragment (the
server streams each fragment back as it arrives, never assembling the message).

The control shows that the small buffer is in force, since the buffer also holds a backend's response header:
through the same location a plain answer with a 1.5 KiB header gets 502 (nginx: upstream sent too big header)
while a 700-byte one passes, and through a location without a hint (nginx's default buffer) the 1.5 KiB one
passes too.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from nginx_helpers import free_port, running_nginx
from websockets.http11 import Request, Response
from websockets.sync.client import connect
from websockets.sync.server import ServerConnection, serve

REPO = Path(__file__).resolve().parents[2]
RENDER = REPO / "tests" / "unit" / "role" / "render.yml"
MIB = 1024 * 1024
FRAGMENTS = 4096


def _echo(connection: ServerConnection) -> None:
    """Echo every message; on /api/stream fragment by fragment, as each fragment arrives."""
    assert connection.request is not None
    if connection.request.path.startswith("/api/stream"):
        while True:
            connection.send(connection.recv_streaming())
    for message in connection:
        connection.send(message)


def _plain(connection: ServerConnection, request: Request) -> Response | None:
    """A plain GET (no Upgrade) is answered 200 with an X-Pad header of the size its query asks for."""
    if "upgrade" in request.headers.get("Connection", "").lower():
        return None
    size = int(request.path.rpartition("pad=")[2] or 0)
    response = connection.respond(200, "plain\n")
    response.headers["X-Pad"] = "p" * size
    return response


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[int]:
    prefix = tmp_path_factory.mktemp("frames")
    with serve(_echo, "127.0.0.1", 0, compression=None, max_size=None, process_request=_plain) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        backend = f"127.0.0.1:{server.socket.getsockname()[1]}"
        port = free_port()
        role_vars = {
            "out": str(prefix / "out"), "os_family": "Debian", "nginx_version": "1.22.1",
            "websocket_proxy_manage_nginx_conf": False,
            "websocket_proxy_vhosts": [
                {"name": "frames", "server_name": "127.0.0.1", "listen": port, "locations": [
                    {"path": "/api/", "backend": backend, "frame_size": 640},
                    {"path": "/wide/", "backend": backend},
                ]},
            ],
        }
        run = subprocess.run(["ansible-playbook", str(RENDER), "-e", json.dumps(role_vars)], cwd=REPO,
                             capture_output=True, text=True, timeout=300, check=False)
        assert run.returncode == 0, run.stdout[-3000:]
        out = prefix / "out" / "etc" / "nginx"
        vhost = (out / "sites-available" / "frames.conf").read_text()
        assert vhost.count("proxy_buffer_size 1k;") == 1, vhost  # /api/ only; /wide/ keeps nginx's default
        http = f"    include {out}/conf.d/*.conf;\n    include {out}/sites-enabled/*;\n"
        with running_nginx(prefix, http, port):
            yield port
        server.shutdown()


def test_a_1_mib_frame_echoes_intact(proxy: int) -> None:
    payload = os.urandom(MIB)
    with connect(f"ws://127.0.0.1:{proxy}/api/audio", compression=None, max_size=None, open_timeout=5) as ws:
        ws.send(payload)
        assert ws.recv(timeout=30) == payload


def test_a_message_of_4096_fragments_goes_through_fragment_by_fragment(proxy: int) -> None:
    fragments = [os.urandom(640) for _fragment in range(FRAGMENTS)]
    with connect(f"ws://127.0.0.1:{proxy}/api/stream", compression=None, max_size=None, open_timeout=5) as ws:
        ws.send(iter(fragments))
        received = list(ws.recv_streaming())
    # websockets ends a message sent from an iterable with an empty final frame (FIN), and the echo does the same.
    data = [fragment for fragment in received if fragment]
    assert len(data) == FRAGMENTS
    assert data == fragments


def _plain_get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.parametrize(("path", "status"), [
    ("/api/plain?pad=700", 200),  # fits in the 1k buffer
    ("/api/plain?pad=1500", 502),  # the control: the 1k buffer is in force
    ("/wide/plain?pad=1500", 200),  # nginx's default buffer (one page) where no hint is given
])
def test_the_fitted_buffer_bounds_a_plain_response_header(proxy: int, path: str, status: int) -> None:
    assert _plain_get(proxy, path) == status
