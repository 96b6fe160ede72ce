"""Upstreams, keepalive and dynamic backends against real nginx.

The normalisers' output (websocket_vhosts, websocket_snippets) is written the way the role's templates write it
(``render_vhost``, ``render_snippet``: upstream blocks in the http context, ``resolver`` in the server block or in
a snippet's location, ``set $wsproxy_backend`` for a dynamic location) and nginx is the judge:

- upstream keepalive: 200 sequential requests through nginx open a handful of backend connections, through a
  plain location and through a WebSocket location alike; without keepalive they open one each;
- a dynamic backend: nginx loads a config whose backend name does not resolve (while the static form fails
  ``nginx -t``), and follows a DNS change of the name without a reload;
- snippet mode: the location file included in a hand-written server block, the upstreams in the http context;
- replicas: weights split requests 3:1, ip_hash and hash keep each client address on one server and use both,
  a dead server is skipped (failover), a backup serves only when the primary is dead, and a request that
  reached a server that then failed is retried elsewhere only when it is idempotent (GET, not POST).
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jinja2
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.snippets import websocket_snippets
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts
from nginx_helpers import ROLE_MAPS, Client, assert_nginx_accepts, assert_nginx_refuses, free_port, running_nginx

SUPPORT = Path(__file__).resolve().parents[1] / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

import wsclient  # noqa: E402  (tests/support is put on the path just above)

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parents[2] / "roles/websocket_proxy/templates"),
    keep_trailing_newline=True,
)
DEFAULTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s"}
REQUESTS = 200

# The role's maps, indented as the rest of the http block here.
MAPS = textwrap.indent(ROLE_MAPS, "    ")


def render_upstreams(upstreams: list[dict[str, Any]]) -> str:
    """The upstream blocks of the http context, by the role's own template (upstreams.conf.j2 is plain Jinja)."""
    return textwrap.indent(_TEMPLATES.get_template("upstreams.conf.j2").render(upstreams=upstreams), "    ")


def render_location(location: dict[str, Any]) -> str:
    """A location as templates/location.conf.j2 writes it, reduced to what upstreams and resolvers touch."""
    modifier = f"{location['modifier']} " if location["modifier"] else ""
    lines = [f"        location {modifier}{location['path']} {{"]
    if location["resolver"]:
        lines.append(f"            resolver {' '.join(location['resolver'])} valid={location['resolver_valid']};")
    if location["proxy_pass_variable"]:
        lines.append(f'            set $wsproxy_backend "{location["proxy_pass_variable"]}";')
    lines.append(f"            proxy_pass {location['proxy_pass']};")
    lines.append("            proxy_http_version 1.1;")
    if location["failover"]:
        lines.append("            proxy_next_upstream error timeout;")
    if location["websocket"]:
        lines.append("            proxy_set_header Upgrade $wsproxy_upgrade;")
        lines.append("            proxy_set_header Connection $connection_upgrade;")
    else:
        lines.append('            proxy_set_header Connection "";')
    lines.append("            proxy_set_header Host $host;")
    lines.append(f"            proxy_connect_timeout {location['connect_timeout']};")
    lines.append("        }")
    return "\n".join(lines) + "\n"


def render_vhost(vhost: dict[str, Any], port: int) -> str:
    server = [
        f"    server {{\n        listen 127.0.0.1:{port};\n        server_name {' '.join(vhost['server_names'])};\n"
    ]
    if vhost["resolver"]:
        server.append(f"        resolver {' '.join(vhost['resolver'])} valid={vhost['resolver_valid']};\n")
    server.extend(render_location(location) for location in vhost["locations"])
    server.append("    }\n")
    return render_upstreams(vhost["upstreams"]) + "".join(server)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # persistent connections
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def setup(self) -> None:
        super().setup()
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.connections += 1  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def do_GET(self) -> None:
        body = self.server.answer or self.path.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def backend(host: str = "127.0.0.1", port: int = 0, answer: bytes = b"ok") -> Iterator[ThreadingHTTPServer]:
    """A stdlib HTTP/1.1 backend that counts the TCP connections it accepts (``server.connections``) and answers
    ``answer`` (or, when it is empty, the request URI it received)."""
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    server.connections = 0  # type: ignore[attr-defined]
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    server.answer = answer  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_upstream_keepalive_reuses_backend_connections(tmp_path: Path) -> None:
    with backend() as kept, backend() as kept_ws, backend() as unkept:
        a, b, c = (s.server_address[1] for s in (kept, kept_ws, unkept))
        [with_keepalive] = websocket_vhosts(
            [
                {
                    "server_name": "keep.test",
                    "locations": [
                        {"path": "/plain/", "backend": f"127.0.0.1:{a}", "websocket": False},
                        {"path": "/ws/", "backend": f"127.0.0.1:{b}"},
                    ],
                }
            ],
            {**DEFAULTS, "upstream_keepalive": 32},
        )
        # Without keepalive: the same backend form proxied directly (as before upstream_keepalive existed) and
        # a list backend, whose upstream block then has no keepalive line.
        [without] = websocket_vhosts(
            [
                {
                    "server_name": "nokeep.test",
                    "locations": [
                        {"path": "/plain/", "backend": f"127.0.0.1:{c}", "websocket": False},
                        {"path": "/list/", "backend": [f"127.0.0.1:{c}"], "websocket": False},
                    ],
                }
            ],
            {**DEFAULTS, "upstream_keepalive": 0},
        )
        assert [u["keepalive"] for u in with_keepalive["upstreams"]] == [32, 32]
        assert [loc["upstream"] for loc in without["locations"]] == [None, "wsproxy_nokeep_test_1"]
        assert without["upstreams"][0]["keepalive"] == 0
        port = free_port()
        http = MAPS + render_vhost(with_keepalive, port) + render_vhost(without, port)
        with running_nginx(tmp_path, http, port), Client(port) as client:
            counts = {}
            for host, path, server in [
                ("keep.test", "/plain/x", kept),
                ("keep.test", "/ws/x", kept_ws),  # a plain request through a WebSocket location
                ("nokeep.test", "/plain/x", unkept),
                ("nokeep.test", "/list/x", unkept),
            ]:
                before = server.connections
                for _request in range(REQUESTS):
                    status, _headers, body = client.get(path, host=host)
                    assert (status, body) == (200, b"ok")
                counts[f"{host}{path}"] = server.connections - before
        assert counts["keep.test/plain/x"] <= 10, counts
        assert counts["keep.test/ws/x"] <= 10, counts
        assert counts["nokeep.test/plain/x"] >= REQUESTS * 0.9, counts
        assert counts["nokeep.test/list/x"] >= REQUESTS * 0.9, counts


def test_dynamic_backend_is_not_resolved_when_nginx_loads(tmp_path: Path) -> None:
    vhosts = [
        {"server_name": "dyn.test", "locations": [{"backend": "nope.invalid:5006", "websocket_endpoints": ["x"]}]}
    ]
    [dynamic] = websocket_vhosts(vhosts, {**DEFAULTS, "upstream_keepalive": 32, "resolver": ["127.0.0.1:1"]})
    assert [loc["dynamic"] for loc in dynamic["locations"]] == [True, True]
    assert dynamic["upstreams"] == []
    assert_nginx_accepts(tmp_path, MAPS + render_vhost(dynamic, free_port()))
    # The same backend without a resolver: nginx resolves the name when it loads the config, and fails.
    [static] = websocket_vhosts(vhosts, {**DEFAULTS, "upstream_keepalive": 32})
    assert_nginx_refuses(tmp_path, MAPS + render_vhost(static, free_port()), 'host not found in upstream "nope.invalid')
    [direct] = websocket_vhosts(vhosts, DEFAULTS)
    assert_nginx_refuses(tmp_path, MAPS + render_vhost(direct, free_port()), 'host not found in upstream "nope.invalid')


def test_why_a_dynamic_backend_may_not_have_a_uri_part(tmp_path: Path) -> None:
    """With a variable, nginx passes the request URI unchanged when the value has no URI part, but replaces the
    whole request URI when it has one; a literal proxy_pass replaces only the location prefix. So the normaliser
    refuses a URI part on a dynamic backend (the variable form is written by hand here, IP literal, no resolver)."""
    with backend(answer=b"") as app:
        target = f"http://127.0.0.1:{app.server_address[1]}"
        port = free_port()
        http = (
            f"    server {{\n        listen 127.0.0.1:{port};\n"
            f'        location /plain/ {{ set $b "{target}"; proxy_pass $b; }}\n'
            f'        location /uri/ {{ set $b "{target}/base/"; proxy_pass $b; }}\n'
            f"        location /literal/ {{ proxy_pass {target}/base/; }}\n    }}\n"
        )
        with running_nginx(tmp_path, http, port), Client(port) as client:
            assert client.get("/plain/a/b?q=1")[2] == b"/plain/a/b?q=1"
            assert client.get("/uri/a/b?q=1")[2] == b"/base/"  # the whole request URI is gone
            assert client.get("/literal/a/b?q=1")[2] == b"/base/a/b?q=1"


class _DNS:
    """A one-name DNS server on 127.0.0.1 (UDP): A queries for ``name`` get ``address``, anything else none."""

    def __init__(self, name: str, address: str) -> None:
        self.name = name.lower()
        self.address = address
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                query, peer = self.sock.recvfrom(512)
            except OSError:
                continue
            self.sock.sendto(self._answer(query), peer)

    def _answer(self, query: bytes) -> bytes:
        labels, offset = [], 12
        while query[offset]:
            labels.append(query[offset + 1 : offset + 1 + query[offset]].decode())
            offset += 1 + query[offset]
        qtype = struct.unpack("!H", query[offset + 1 : offset + 3])[0]
        question = query[12 : offset + 5]
        found = ".".join(labels).lower() == self.name
        answers = b""
        if found and qtype == 1:  # A
            self.queries += 1
            answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(self.address)
        flags = 0x8180 if found else 0x8183  # response, recursion desired and available; NXDOMAIN if not ours
        header = struct.pack("!HHHHHH", struct.unpack("!H", query[:2])[0], flags, 1, 1 if answers else 0, 0, 0)
        return header + question + answers

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def test_dynamic_backend_follows_a_dns_change_without_reload(tmp_path: Path) -> None:
    """The issue's Docker case: the backend container is recreated with a new address; nginx finds it within
    resolver_valid, with no reload. 127.0.0.2 and 127.0.0.3 play the old and the new container."""
    port = free_port()
    backend_port = free_port()
    dns = _DNS("calls-backend.test", "127.0.0.2")
    try:
        with backend("127.0.0.2", backend_port, b"old") as old, backend("127.0.0.3", backend_port, b"new") as new:
            [vhost] = websocket_vhosts(
                [{"server_name": "dyn.test", "locations": [{"backend": f"calls-backend.test:{backend_port}"}]}],
                {**DEFAULTS, "upstream_keepalive": 32, "resolver": [f"127.0.0.1:{dns.port}"], "resolver_valid": 1},
            )
            assert vhost["locations"][0]["proxy_pass_variable"] == f"http://calls-backend.test:{backend_port}"
            with running_nginx(tmp_path, MAPS + render_vhost(vhost, port), port), Client(port) as client:
                assert client.get("/api/x", host="dyn.test")[2] == b"old"
                dns.address = "127.0.0.3"  # the container is recreated elsewhere
                deadline = time.monotonic() + 5
                bodies = []
                while time.monotonic() < deadline:
                    bodies.append(client.get("/api/x", host="dyn.test")[2])
                    if bodies[-1] == b"new":
                        break
                    time.sleep(0.1)
                assert bodies[-1] == b"new", f"nginx kept the old address: {bodies}"
                assert old.connections >= 1 and new.connections >= 1
                assert dns.queries >= 2
    finally:
        dns.close()


def test_a_literal_proxy_pass_to_the_same_name_shadows_the_resolver(tmp_path: Path) -> None:
    """Documented limit: nginx looks a variable's host up among the http context's upstreams before asking the
    resolver, and a literal proxy_pass to the same host:port (a hand-written vhost) registers one, resolved when
    nginx loads. 'localhost' stands for the name (it resolves at load from /etc/hosts; the fake DNS says .3)."""
    backend_port = free_port()
    dns = _DNS("localhost", "127.0.0.3")
    try:
        with backend("127.0.0.1", backend_port, b"static"), backend("127.0.0.3", backend_port, b"dns"):
            for literal, expected in [("", b"dns"), (f"proxy_pass http://localhost:{backend_port};", b"static")]:
                port = free_port()
                http = (
                    f"    server {{\n        listen 127.0.0.1:{port};\n"
                    f"        resolver 127.0.0.1:{dns.port} valid=1s;\n"
                    f'        location /dyn/ {{ set $wsproxy_backend "http://localhost:{backend_port}"; '
                    f"proxy_pass $wsproxy_backend; }}\n"
                    f"        location /other/ {{ {literal or 'return 204;'} }}\n    }}\n"
                )
                with running_nginx(tmp_path, http, port), Client(port) as client:
                    assert client.get("/dyn/x")[2] == expected
    finally:
        dns.close()


def render_snippet(snippet: dict[str, Any]) -> str:
    return "".join(render_location(location) for location in snippet["locations"])


def test_snippet_in_a_hand_written_server(tmp_path: Path) -> None:
    with backend() as app:
        [snippet] = websocket_snippets(
            [
                {
                    "name": "api-calls",
                    "locations": [
                        {
                            "path": "/api/",
                            "backend": f"127.0.0.1:{app.server_address[1]}",
                            "websocket_endpoints": ["frontend-audio"],
                        },
                        {"path": "/events/", "backend": "nope.invalid:5007"},  # dynamic: resolver in the location
                    ],
                }
            ],
            {**DEFAULTS, "upstream_keepalive": 16, "resolver": ["127.0.0.1:1"], "resolver_valid": "1m"},
        )
        include = tmp_path / "snippets" / f"websocket_proxy_{snippet['name']}.conf"
        include.parent.mkdir(parents=True)
        include.write_text(render_snippet(snippet))
        port = free_port()
        # The user's own server block: its locations, and the one include line the README tells them to add.
        http = (
            MAPS
            + render_upstreams(snippet["upstreams"])
            + f"    server {{\n        listen 127.0.0.1:{port};\n        server_name brown.test;\n"
            f"        location /static/ {{ return 200 static; }}\n"
            f"        include {include};\n    }}\n"
        )
        with running_nginx(tmp_path, http, port), Client(port) as client:
            for _round in range(20):
                assert client.get("/api/frontend-audio", host="brown.test")[2] == b"ok"
                assert client.get("/api/other", host="brown.test")[2] == b"ok"
            assert client.get("/static/x", host="brown.test")[2] == b"static"
        assert app.connections <= 5  # one upstream, shared by the regex and the prefix location, kept alive


def test_resolver_forms_and_long_names_in_nginx(tmp_path: Path) -> None:
    vhosts = [
        {
            "server_name": f"v{i}.test",
            "name": name,
            "locations": [{"backend": "127.0.0.1:5006"}, {"path": "/d/", "backend": "dyn.test:5006"}],
        }
        for i, name in enumerate(["a" * 200, "snippet.x", "Upper.Case-name"])
    ]
    port = free_port()
    for resolver, valid in [
        (["127.0.0.1"], 90),
        (["127.0.0.1:5353", "[::1]", "[::1]:53"], "1w"),
        (["localhost"], "2d3h"),
    ]:
        result = websocket_vhosts(
            vhosts, {**DEFAULTS, "upstream_keepalive": 10000, "resolver": resolver, "resolver_valid": valid}
        )
        assert_nginx_accepts(tmp_path, MAPS + "".join(render_vhost(v, port) for v in result))


# --------------------------------------------------------------------------- replicas: balance, failover


@contextmanager
def dropper() -> Iterator[tuple[int, list[str]]]:
    """A server that reads a request head and closes without answering: its port, and the methods it saw."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[str] = []

    def serve() -> None:
        while True:
            try:
                conn, _peer = listener.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head and (chunk := conn.recv(4096)):
                    head += chunk
                seen.append(head.split(b" ", 1)[0].decode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        listener.close()
        thread.join(timeout=5)


def _ask(port: int, path: str, method: str = "GET", source: str = "127.0.0.1") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request(method, path, body=b"" if method == "POST" else None, headers={"Host": "replicas.test"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_replicas_balance_fail_over_and_never_replay_a_post(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens: connection refused
    with backend(answer=b"one") as one, backend(answer=b"two") as two, dropper() as (drop, dropped):
        a, b = (f"127.0.0.1:{server.server_address[1]}" for server in (one, two))
        locations = [
            {"path": "/weights/", "backend": [{"address": a, "weight": 3}, b], "websocket": False},
            {"path": "/ip-hash/", "backend": [a, b], "balance": "ip_hash", "websocket": False},
            {"path": "/hash/", "backend": [a, b], "balance": "hash", "hash_key": "$remote_addr", "websocket": False},
            {"path": "/failover/", "backend": [f"127.0.0.1:{dead}", a], "websocket": False},
            {"path": "/backup/", "backend": [a, {"address": b, "backup": True}], "websocket": False},
            {"path": "/standby/", "backend": [f"127.0.0.1:{dead}", {"address": b, "backup": True}], "websocket": False},
            # max_fails 0: the dropping server is never skipped, so every other request meets it.
            {"path": "/replay/", "backend": [{"address": f"127.0.0.1:{drop}", "max_fails": 0}, b], "websocket": False},
        ]
        [vhost] = websocket_vhosts([{"server_name": "replicas.test", "locations": locations}], DEFAULTS)
        port = free_port()
        with running_nginx(tmp_path, MAPS + render_vhost(vhost, port), port):
            # Weighted round robin is exact in one worker: 3 of every 4 requests to the weight-3 server.
            answers = [_ask(port, "/weights/x")[1] for _request in range(400)]
            assert (answers.count(b"one"), answers.count(b"two")) == (300, 100)
            # Sticky: each client address always gets the same server, and the addresses use both. ip_hash
            # keys on the first three octets of an IPv4 address, so the clients differ in the third one.
            for path in ("/ip-hash/x", "/hash/x"):
                chosen = {}
                for third in range(1, 13):
                    source = f"127.0.{third}.1"
                    got = {_ask(port, path, source=source)[1] for _request in range(5)}
                    assert len(got) == 1, (path, source, got)
                    chosen[source] = got.pop()
                assert set(chosen.values()) == {b"one", b"two"}, (path, chosen)
            # A dead server is tried, fails (connection refused), and the request goes to the other one.
            assert {_ask(port, "/failover/x") for _request in range(20)} == {(200, b"one")}
            # A backup server gets nothing while the primary lives, and everything when it is dead.
            assert {_ask(port, "/backup/x") for _request in range(10)} == {(200, b"one")}
            assert {_ask(port, "/standby/x") for _request in range(10)} == {(200, b"two")}
            # A server that got the request and closed without answering: nginx sends a GET again to the next
            # server (idempotent, nothing reached the client yet), never a POST.
            gets = [_ask(port, "/replay/x") for _request in range(4)]
            assert gets == [(200, b"two")] * 4 and dropped.count("GET") >= 2, (gets, dropped)
            posts = [_ask(port, "/replay/x", method="POST") for _request in range(4)]
            failed = [status for status, _body in posts if status != 200]
            assert failed == [502] * dropped.count("POST") and len(failed) >= 1, (posts, dropped)
            assert len(failed) < len(posts)  # the others reached the live server


@contextmanager
def ws_backend(port: int) -> Iterator[None]:
    """tests/support/ws_backend.py on 127.0.0.1:``port`` (a fixed port: a replica restarted where it was)."""
    process = subprocess.Popen(
        [sys.executable, str(SUPPORT / "ws_backend.py"), "--host", "127.0.0.1", "--port", str(port),
         "--ws-paths", "/ws/audio,/marked/audio"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None and select.select([process.stdout], [], [], 10)[0], "no backend"
        assert process.stdout.readline().startswith("listening on"), "ws_backend.py did not start"
        yield
    finally:
        process.kill()
        process.wait(10)


def _held(port: int, path: str, count: int) -> list[wsclient.Connection]:
    """``count`` handshakes in a row, each kept open; the answers (upgraded or refused) in order."""
    return [wsclient.connect(f"ws://127.0.0.1:{port}{path}", timeout=5) for _attempt in range(count)]


def test_websocket_replicas_are_taken_back_at_once_after_a_restart(tmp_path: Path) -> None:
    """The role writes max_fails=0 for a WebSocket location's replicas (balance.websocket_servers). The control,
    nginx's own default (max_fails 1, here with fail_timeout 1s), shows why: once both replicas refused (a deploy
    restarts them), nginx takes each back only through one connection per fail_timeout, and marks it live only
    when that connection ends, which a held WebSocket does not."""
    a, b = free_port(), free_port()
    locations = [
        {"path": "/ws/", "backend": [f"127.0.0.1:{a}", f"127.0.0.1:{b}"]},
        {"path": "/marked/", "backend": [{"address": f"127.0.0.1:{a}", "max_fails": 1, "fail_timeout": "1s"},
                                         {"address": f"127.0.0.1:{b}", "max_fails": 1, "fail_timeout": "1s"}]},
    ]
    [vhost] = websocket_vhosts([{"server_name": "replicas.test", "locations": locations}], DEFAULTS)
    assert [[s["parameters"] for s in u["servers"]] for u in vhost["upstreams"]] == [
        ["max_fails=0", "max_fails=0"], ["max_fails=1 fail_timeout=1s", "max_fails=1 fail_timeout=1s"]]
    port = free_port()
    with running_nginx(tmp_path, MAPS + render_vhost(vhost, port), port):
        # Both replicas down (the deploy): a handshake through each location fails, and nginx has tried both.
        for path in ("/ws/audio", "/marked/audio"):
            refused = wsclient.connect(f"ws://127.0.0.1:{port}{path}", timeout=5)
            assert (refused.upgraded, refused.status) == (False, 502)
        with ws_backend(a), ws_backend(b):
            time.sleep(2.5)  # past the control's fail_timeout (nginx counts it in whole seconds)
            marked = _held(port, "/marked/audio", 10)
            fresh = _held(port, "/ws/audio", 10)
            try:
                # The role's default: every handshake goes to a replica that is back.
                assert [c.status for c in fresh] == [101] * 10
                # The control: one WebSocket per replica, then 502 ("no live upstreams") while those stay open.
                statuses = [c.status for c in marked]
                assert statuses.count(101) == 2 and statuses.count(502) == 8, statuses
                for conn in marked:
                    if conn.upgraded:
                        conn.close()
                time.sleep(0.3)
                # Once those have ended nginx marks the replicas live again: the mechanism, not a lockout.
                again = _held(port, "/marked/audio", 4)
                assert [c.status for c in again] == [101] * 4, [c.status for c in again]
                for conn in again:
                    conn.close()
            finally:
                for conn in fresh + marked:
                    with contextlib.suppress(OSError):
                        conn.sock.close()
