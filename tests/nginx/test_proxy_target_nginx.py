"""proxy_target against real nginx: what the URI part does to the request path, for TCP and unix backends,
and why allow_uri=False exists (nginx refuses a URI part in a regex location)."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import proxy_target
from nginx_helpers import Client, assert_nginx_accepts, assert_nginx_refuses, free_port, running_nginx


class EchoPath(BaseHTTPRequestHandler):
    """Answers every GET with the request path the backend received."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


class UnixEchoServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class UnixEchoPath(EchoPath):
    def address_string(self) -> str:
        return "unix"


class V6EchoServer(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_uri_part_rewrites_the_path(tmp_path: Path) -> None:
    socket_path = tmp_path / "app.sock"
    tcp = ThreadingHTTPServer(("127.0.0.1", 0), EchoPath)
    unix = UnixEchoServer(str(socket_path), UnixEchoPath)
    b = tcp.server_address[1]
    # (location, backend as the user writes it, request, path the backend must see)
    cases = [
        ("/api/", f"localhost:{b}", "/api/x", "/api/x"),  # no URI part: passed unchanged
        ("/api/", f"localhost:{b}", "/api/frontend-audio?a=1", "/api/frontend-audio?a=1"),
        ("/base-api/", f"http://127.0.0.1:{b}/base/", "/base-api/x/y", "/base/x/y"),  # prefix replaced
        ("/slash/", f"http://127.0.0.1:{b}/", "/slash/x", "/x"),  # a lone '/' is a URI part too
        ("/ws/", f"ws://127.0.0.1:{b}", "/ws/events", "/ws/events"),  # ws:// written as http://
        ("/unix/", f"unix:{socket_path}", "/unix/x", "/unix/x"),
        ("/unix-base/", f"unix:{socket_path}:/base/", "/unix-base/x", "/base/x"),
        ("/unix-colon/", f"http://unix:{socket_path}:", "/unix-colon/x", "/unix-colon/x"),
    ]
    port = free_port()
    configured = {location: backend for location, backend, _uri, _expected in cases}
    locations = "\n".join(
        f"        location {location} {{ proxy_pass {proxy_target(backend)}; }}"
        for location, backend in configured.items()
    )
    regex = f"        location ~ ^/rx/ {{ proxy_pass {proxy_target(f'localhost:{b}', allow_uri=False)}; }}"
    http = f"    server {{\n        listen 127.0.0.1:{port};\n{locations}\n{regex}\n    }}\n"
    with serving(tcp), serving(unix), running_nginx(tmp_path, http, port), Client(port) as client:
        for location, backend, request, expected in cases:
            status, _headers, body = client.get(request)
            assert (status, body.decode()) == (200, expected), f"location {location} proxy_pass {proxy_target(backend)}"
        assert client.get("/rx/x")[2] == b"/rx/x"
        # proxy_pass in a location ending with '/' also redirects the path without it.
        status, headers, _body = client.get("/base-api")
        assert status == 301 and headers["location"].endswith("/base-api/")


def test_ipv6_backend(tmp_path: Path) -> None:
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback on this host (::1 cannot be bound); the IPv4 and unix backends are tested")
    v6 = V6EchoServer(("::1", 0), EchoPath)
    port = free_port()
    target = proxy_target(f"[::1]:{v6.server_address[1]}")
    http = f"    server {{ listen 127.0.0.1:{port}; location /v6/ {{ proxy_pass {target}; }} }}\n"
    with serving(v6), running_nginx(tmp_path, http, port), Client(port) as client:
        assert client.get("/v6/x")[2] == b"/v6/x"


@pytest.mark.parametrize(
    ("with_uri", "without_uri"),
    [
        ("http://127.0.0.1:9/", "http://127.0.0.1:9"),
        ("http://127.0.0.1:9/base/", "http://127.0.0.1:9"),
        ("unix:/run/app.sock:/x/", "unix:/run/app.sock"),
    ],
)
def test_regex_locations_refuse_a_uri_part(tmp_path: Path, with_uri: str, without_uri: str) -> None:
    # nginx itself refuses a URI part in a regex location...
    target = proxy_target(with_uri)
    http = f"    server {{ listen 127.0.0.1:{free_port()}; location ~ ^/api/ {{ proxy_pass {target}; }} }}\n"
    assert_nginx_refuses(tmp_path, http, '"proxy_pass" cannot have URI part in location given by regular expression')
    # ...so allow_uri=False refuses it before it reaches nginx...
    with pytest.raises(ConfigError, match="has a URI part"):
        proxy_target(with_uri, allow_uri=False)
    # ...and what allow_uri=False lets through, nginx takes.
    target = proxy_target(without_uri, allow_uri=False)
    http = f"    server {{ listen 127.0.0.1:{free_port()}; location ~ ^/api/ {{ proxy_pass {target}; }} }}\n"
    assert_nginx_accepts(tmp_path, http)
