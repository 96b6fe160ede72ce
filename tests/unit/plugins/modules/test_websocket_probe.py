"""websocket_probe against real servers: tests/support/ws_backend.py, and a real nginx configured both
right and wrong in front of it. The module runs as Ansible runs it (a separate Python process reading
ANSIBLE_MODULE_ARGS); a few odd servers (a wrong Sec-WebSocket-Accept, an echo that differs, a Unix
socket) are small threads here. Everything listens on 127.0.0.1 (or a Unix socket in tmp_path)."""

from __future__ import annotations

import ast
import base64
import datetime
import hashlib
import ipaddress
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import ansible
import pytest
from ansible_collections.wsproxy.nginx.plugins.module_utils import websocket_codec as codec
from ansible_collections.wsproxy.nginx.plugins.modules import websocket_probe as wsp
from nginx_helpers import free_port, running_nginx

REPO = Path(__file__).resolve().parents[4]

MODULE = Path(wsp.__file__)
BACKEND = REPO / "tests" / "support" / "ws_backend.py"
NAME = "api.example.test"
SHIPPED: list[Path] = []  # set by shipped_module_utils


@pytest.fixture(scope="module", autouse=True)
def shipped_module_utils(tmp_path_factory) -> None:
    """What AnsiballZ ships of this collection with the module: plugins/module_utils, nothing else."""
    root = tmp_path_factory.mktemp("ansiballz")
    (root / "ansible_collections" / "wsproxy" / "nginx" / "plugins").mkdir(parents=True)
    (root / "ansible_collections" / "wsproxy" / "nginx" / "plugins" / "module_utils").symlink_to(
        REPO / "plugins" / "module_utils"
    )
    SHIPPED[:] = [root]


def run_module(args: dict, python: str = sys.executable) -> dict:
    """Run the module as Ansible would: a separate Python process reading its arguments."""
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": args})
    # Only what Ansible ships with a module (ansible.module_utils and the collection's module_utils), never this
    # interpreter's own stdlib path.
    shipped = [str(Path(ansible.__file__).resolve().parents[1]), *map(str, SHIPPED)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(shipped)}
    out = subprocess.run([python, str(MODULE)], input=payload, capture_output=True, text=True, env=env,
                         timeout=60, check=False)
    assert out.stdout.strip(), f"the module printed nothing: {out.stderr}"
    return json.loads(out.stdout)


def failed(args: dict, problem: str, *words: str) -> dict:
    """Run the module, assert that it failed with this problem code and these words in its diagnosis."""
    result = run_module(args)
    assert result.get("failed") is True, result
    assert result["problem"] == problem, result
    assert result["msg"].endswith(result["diagnosis"]), result
    for word in words:
        assert word in result["diagnosis"], (word, result["diagnosis"])
    return result


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def backend() -> Iterator[int]:
    """tests/support/ws_backend.py: WebSocket echo on /api/frontend-audio (and its siblings), 426 without upgrade."""
    process = subprocess.Popen(
        [sys.executable, str(BACKEND), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on "), line
        yield int(line.rsplit(":", 1)[1])
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


@pytest.fixture(scope="module")
def silent() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel does, from the backlog) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> dict[str, Path]:
    """A throw-away CA and a server certificate for api.example.test, localhost and 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("probe test CA")).issuer_name(name("probe test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName(NAME), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder().subject_name(name(NAME)).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


WS_HEADERS = """
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;"""


@pytest.fixture(scope="module")
def nginx(tmp_path_factory, backend, silent, tls) -> Iterator[dict[str, int]]:
    """Real nginx in front of the backend: /api/ right, and locations that are wrong in one way each."""
    prefix = tmp_path_factory.mktemp("nginx")
    port, tls_port, dead = free_port(), free_port(), free_port()
    http = f"""
    map $http_upgrade $connection_upgrade {{
        default "";
        "~*^websocket$" upgrade;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name {NAME};
        location /api/ {{
            proxy_pass http://127.0.0.1:{backend};{WS_HEADERS}
        }}
        # the seed's bug: /api/ proxied without the WebSocket headers
        location /noupgrade/ {{
            proxy_pass http://127.0.0.1:{backend}/api/;
            proxy_http_version 1.1;
        }}
        location /dead/ {{
            proxy_pass http://127.0.0.1:{dead}/api/;{WS_HEADERS}
        }}
        location /slow/ {{
            proxy_pass http://127.0.0.1:{silent}/api/;{WS_HEADERS}
            proxy_read_timeout 1s;
        }}
        location /origin/ {{
            if ($http_origin != "https://app.example.test") {{
                return 403;
            }}
            proxy_pass http://127.0.0.1:{backend}/api/;{WS_HEADERS}
        }}
        location /static/ {{
            return 404;
        }}
    }}
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        server_name {NAME};
        ssl_certificate {tls["cert"]};
        ssl_certificate_key {tls["key"]};
        location /api/ {{
            proxy_pass http://127.0.0.1:{backend};{WS_HEADERS}
        }}
    }}
    """
    with running_nginx(prefix, http, port):
        yield {"port": port, "tls_port": tls_port, "dead": dead}


@contextmanager
def fake_server(handler: Callable[[socket.socket], None], family: int = socket.AF_INET,
                address: str = "127.0.0.1") -> Iterator[str | int]:
    """One thread serving each connection with handler; yields the port (or the Unix socket path)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((address, 0) if family == socket.AF_INET else address)
    sock.listen(8)
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _address = sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    handler(conn)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1] if family == socket.AF_INET else address
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


def read_request(conn: socket.socket) -> dict[str, str]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    headers = {}
    for line in data.decode("latin-1").split("\r\n")[1:]:
        name, _colon, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + codec.WS_GUID).encode()).digest()).decode()


def upgrade(conn: socket.socket, accept: str | None = None) -> None:
    key = read_request(conn).get("sec-websocket-key", "")
    conn.sendall(
        f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept or accept_for(key)}\r\n\r\n".encode()
    )


def read_frame(conn: socket.socket) -> tuple[int, bytes]:
    first, second = conn.recv(2, socket.MSG_WAITALL)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", conn.recv(2, socket.MSG_WAITALL))
    elif size == 127:
        (size,) = struct.unpack("!Q", conn.recv(8, socket.MSG_WAITALL))
    key = conn.recv(4, socket.MSG_WAITALL)
    payload = conn.recv(size, socket.MSG_WAITALL) if size else b""
    return first & 0x0F, codec.apply_mask(payload, key)


def server_frame(opcode: int, payload: bytes) -> bytes:
    return struct.pack("!BB", 0x80 | opcode, len(payload)) + payload


def echo_server(conn: socket.socket) -> None:
    upgrade(conn)
    while True:
        opcode, payload = read_frame(conn)
        conn.sendall(server_frame(opcode, payload))
        if opcode == wsp.OP_CLOSE:
            return


# --------------------------------------------------------------------------- the backend directly


def test_echo_text_returns_status_headers_and_times(backend):
    result = run_module({"url": f"ws://127.0.0.1:{backend}/api/frontend-audio", "host_header": NAME})
    assert result.get("failed") is not True, result
    assert result["changed"] is False
    assert (result["status"], result["reason"]) == (101, "Switching Protocols")
    assert result["headers"]["upgrade"] == "websocket"
    assert result["upgraded"] is True and result["echo_matched"] is True
    assert result["problem"] is None
    assert 0 < result["connect_ms"] <= result["handshake_ms"]
    assert result["rtt_ms"] > 0


def test_echo_binary_audio_frame(backend):
    result = run_module({"url": f"ws://127.0.0.1:{backend}/api/frontend-audio", "payload_size": 640})
    assert result["echo_matched"] is True, result
    assert "640-byte binary frame echoed" in result["diagnosis"]


def test_large_binary_frame_uses_the_64_bit_length(backend):
    result = run_module({"url": f"ws://127.0.0.1:{backend}/api/call-events", "payload_size": 70000})
    assert result["echo_matched"] is True, result


def test_runs_in_check_mode(backend):
    result = run_module({"url": f"ws://127.0.0.1:{backend}/api/frontend-audio", "_ansible_check_mode": True})
    assert result["echo_matched"] is True and result["changed"] is False, result


def test_plain_path_of_the_backend_is_not_a_websocket(backend):
    result = failed({"url": f"ws://127.0.0.1:{backend}/api/orders"}, "status_200",
                    "200 OK instead of 101", "does not speak WebSocket")
    assert result["status"] == 200 and result["upgraded"] is False


def test_expect_status_426_for_a_plain_request(backend):
    result = run_module({
        "url": f"ws://127.0.0.1:{backend}/api/frontend-audio",
        "headers": {"Upgrade": "", "Connection": ""},
        "expect_status": 426,
    })
    assert result.get("failed") is not True, result
    assert result["status"] == 426 and result["echo_matched"] is None


def test_expect_status_other_than_the_answer_fails(backend):
    failed({"url": f"ws://127.0.0.1:{backend}/api/frontend-audio", "expect_status": 426}, "status_101",
           "expected 426, got the upgrade was accepted")


def test_refused():
    port = free_port()
    result = failed({"url": f"ws://127.0.0.1:{port}/api/x"}, "refused", "nothing listens", "wrong port")
    assert result["status"] is None


def test_no_answer_is_a_timeout(silent):
    failed({"url": f"ws://127.0.0.1:{silent}/api/x", "timeout": 1}, "timeout", "sent no HTTP answer within 1s")


def test_dns_failure_is_named():
    target = wsp.Target({"url": "ws://calls-backend:5006/api/x"})
    error = wsp.diagnose_network(socket.gaierror(-2, "Name or service not known"), target, "connect", 5)
    assert error.problem == "dns"
    assert "'calls-backend' does not resolve" in error.diagnosis


def test_resolve_names_the_address_and_keeps_the_name_in_host(backend):
    """resolve (as curl --resolve): a name no resolver knows is reached at the address given; Host keeps the name."""
    result = run_module({"url": f"ws://calls.invalid:{backend}/api/frontend-audio",
                         "resolve": {"calls.invalid": "127.0.0.1"}})
    assert result["status"] == 101 and result["echo_matched"] is True, result
    many = run_module({"probes": [{"url": f"ws://calls.invalid:{backend}/api/frontend-audio"}],
                       "resolve": {"calls.invalid": "127.0.0.1"}})
    assert many["results"][0]["echo_matched"] is True, many


@pytest.mark.parametrize("address", [None, ""])
def test_a_name_resolve_maps_to_nothing_fails_as_dns(backend, address):
    failed({"url": f"ws://calls.invalid:{backend}/api/frontend-audio", "resolve": {"calls.invalid": address}},
           "dns", "'calls.invalid' does not resolve where nginx runs", "not while its container is stopped")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="a network namespace needs root")
def test_network_namespace_reaches_what_listens_on_its_loopback():
    """A backend on 127.0.0.1 of a network namespace of its own (unshare -n, as a container has) is reached with
    network_namespace=/proc/<pid>/ns/net; the control, without it, finds nothing there."""
    port = free_port()
    script = f"ip link set lo up && exec {sys.executable} {BACKEND} --host 127.0.0.1 --port {port}"
    process = subprocess.Popen(["unshare", "--net", "sh", "-c", script],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on "), (line, process.stderr.read() if process.stderr else "")
        url = f"ws://127.0.0.1:{port}/api/frontend-audio"
        inside = run_module({"url": url, "network_namespace": f"/proc/{process.pid}/ns/net"})
        assert inside["status"] == 101 and inside["echo_matched"] is True, inside
        failed({"url": url}, "refused")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_network_namespace_that_cannot_be_entered_is_named(tmp_path):
    result = run_module({"url": "ws://127.0.0.1/x", "network_namespace": str(tmp_path / "none")})
    assert result.get("failed") is True, result
    assert result["msg"].startswith(f"network_namespace: '{tmp_path / 'none'}': cannot enter it"), result
    assert "become: true" in result["msg"], result


def test_unix_socket(tmp_path):
    path = str(tmp_path / "app.sock")
    with fake_server(echo_server, socket.AF_UNIX, path):
        result = run_module({"url": "ws://localhost/api/frontend-audio", "unix_socket": path, "payload": "hi"})
    assert result["echo_matched"] is True, result
    missing = failed({"url": "ws://localhost/x", "unix_socket": str(tmp_path / "none.sock")}, "refused")
    assert "unix:" in missing["diagnosis"]


def test_101_without_a_valid_accept():
    with fake_server(lambda conn: upgrade(conn, accept="d3Jvbmc=")) as port:
        result = failed({"url": f"ws://127.0.0.1:{port}/x"}, "bad_accept", "without a valid Sec-WebSocket-Accept")
    assert result["upgraded"] is False


def test_echo_that_differs():
    def liar(conn: socket.socket) -> None:
        upgrade(conn)
        read_frame(conn)
        conn.sendall(server_frame(wsp.OP_TEXT, b"something else"))

    with fake_server(liar) as port:
        result = failed({"url": f"ws://127.0.0.1:{port}/x"}, "echo_mismatch", "does not echo")
    assert result["upgraded"] is True and result["echo_matched"] is False


def test_close_instead_of_echo_and_echo_false():
    def closer(conn: socket.socket) -> None:
        upgrade(conn)
        read_frame(conn)
        conn.sendall(server_frame(wsp.OP_CLOSE, struct.pack("!H", 1008) + b"policy"))

    with fake_server(closer) as port:
        failed({"url": f"ws://127.0.0.1:{port}/x"}, "closed", "close code 1008 (policy)")
        result = run_module({"url": f"ws://127.0.0.1:{port}/x", "echo": False})
    assert result.get("failed") is not True and result["echo_matched"] is None, result


def test_arguments_are_checked():
    for args, words in (
        ({"url": "http://127.0.0.1/x"}, "is not a ws:// or wss:// URL"),
        ({"url": "ws://127.0.0.1/x", "payload": "a", "payload_size": 3}, "mutually exclusive"),
        ({"url": "ws://127.0.0.1/x", "payload_size": 0}, "payload_size: 0"),
        ({"url": "ws://127.0.0.1/x", "timeout": 0}, "timeout: 0"),
        ({"url": "wss://127.0.0.1/x", "ca_file": "/nonexistent/ca.pem"}, "is not a file"),
    ):
        result = run_module(args)
        assert result.get("failed") is True and words in result["msg"], (args, result)


def test_many_probes_in_one_task_with_the_modules_options_as_defaults(backend, silent):
    dead = free_port()
    started = time.monotonic()
    result = run_module({
        "timeout": 1,
        "host_header": NAME,
        "probes": [
            {"url": f"ws://127.0.0.1:{backend}/api/frontend-audio", "payload_size": 640},
            {"url": f"ws://127.0.0.1:{dead}/api/frontend-audio"},
            {"url": f"ws://127.0.0.1:{silent}/a"},
            {"url": f"ws://127.0.0.1:{silent}/b"},
            {"url": f"ws://127.0.0.1:{silent}/c", "timeout": 2},
        ],
    })
    elapsed = time.monotonic() - started
    assert result["failed"] is True and result["changed"] is False
    assert [r["problem"] for r in result["results"]] == [None, "refused", "timeout", "timeout", "timeout"]
    assert result["results"][0]["echo_matched"] is True
    assert "within 1s" in result["results"][2]["diagnosis"] and "within 2s" in result["results"][4]["diagnosis"]
    assert result["msg"].startswith("4 of 5 probes failed. ws://127.0.0.1:")
    # concurrently: three 1 s timeouts and a 2 s one take about 2 s, not 5 (module start-up included)
    assert elapsed < 4.5, elapsed
    everything_fine = run_module({"probes": [{"url": f"ws://127.0.0.1:{backend}/api/call-events"}] * 2})
    assert everything_fine.get("failed") is not True, everything_fine
    assert everything_fine["msg"] == "2 probes succeeded" and "status" not in everything_fine


def test_probes_are_checked_one_by_one():
    for args, words in (
        ({"probes": [{"url": "ws://a/x"}, {"url": "http://b/x"}]}, "probes[1].url: 'http://b/x' is not a ws://"),
        ({"probes": [{"url": "ws://a/x", "payload": "a", "payload_size": 1}]}, "mutually exclusive"),
        ({"probes": [{"url": "ws://a/x", "nope": 1}]}, "nope"),
        ({"probes": [{"host_header": "a"}]}, "url"),
        ({"url": "ws://a/x", "probes": [{"url": "ws://a/x"}]}, "mutually exclusive"),
        ({}, "one of the following is required: url, probes"),
    ):
        result = run_module(args)
        assert result.get("failed") is True and words in result["msg"], (args, result)


# --------------------------------------------------------------------------- through real nginx


def test_through_nginx_configured_right(nginx):
    result = run_module({"url": f"ws://127.0.0.1:{nginx['port']}/api/frontend-audio", "host_header": NAME,
                         "payload_size": 640})
    assert result["echo_matched"] is True, result
    assert "nginx" in result["headers"].get("server", "")


def test_nginx_without_upgrade_headers_gives_426(nginx):
    result = failed({"url": f"ws://127.0.0.1:{nginx['port']}/noupgrade/frontend-audio", "host_header": NAME},
                    "status_426", "nginx is not forwarding Upgrade and Connection",
                    "proxy_set_header Upgrade $http_upgrade",
                    "The server said: 'this endpoint needs a WebSocket upgrade'")
    assert result["status"] == 426


def test_nginx_with_the_backend_down_gives_502(nginx):
    failed({"url": f"ws://127.0.0.1:{nginx['port']}/dead/frontend-audio", "host_header": NAME},
           "status_502", "nginx cannot reach the backend", "down", "wrong host or port")


def test_nginx_with_a_slow_backend_gives_504(nginx):
    failed({"url": f"ws://127.0.0.1:{nginx['port']}/slow/frontend-audio", "host_header": NAME},
           "status_504", "too slow")


def test_origin_allowlist(nginx):
    url = f"ws://127.0.0.1:{nginx['port']}/origin/frontend-audio"
    failed({"url": url, "host_header": NAME}, "status_403", "Origin allowlist")
    result = run_module({"url": url, "host_header": NAME, "origin": "https://app.example.test"})
    assert result["echo_matched"] is True, result


def test_404_and_the_trailing_slash_redirect(nginx):
    failed({"url": f"ws://127.0.0.1:{nginx['port']}/static/x", "host_header": NAME}, "status_404",
           "nothing at this path")
    result = failed({"url": f"ws://127.0.0.1:{nginx['port']}/api", "host_header": NAME}, "status_301",
                    "does not follow redirects")
    assert result["headers"]["location"].endswith("/api/")


def test_wss_with_the_ca(nginx, tls):
    result = run_module({"url": f"wss://127.0.0.1:{nginx['tls_port']}/api/frontend-audio", "host_header": NAME,
                         "ca_file": str(tls["ca"]), "payload_size": 640})
    assert result["echo_matched"] is True, result
    assert result["tls"]["version"].startswith("TLS") and result["tls_ms"] > 0


def test_wss_certificate_unknown(nginx):
    failed({"url": f"wss://127.0.0.1:{nginx['tls_port']}/api/frontend-audio", "host_header": NAME},
           "tls_unknown_ca", "not trusted", "ca_file")


def test_wss_name_mismatch(nginx, tls):
    failed({"url": f"wss://127.0.0.1:{nginx['tls_port']}/api/frontend-audio", "host_header": "other.example.test",
            "ca_file": str(tls["ca"])}, "tls_name_mismatch", "does not match the name 'other.example.test'")


def test_wss_without_validation(nginx):
    result = run_module({"url": f"wss://127.0.0.1:{nginx['tls_port']}/api/frontend-audio", "host_header": NAME,
                         "validate_certs": False})
    assert result["echo_matched"] is True, result


def test_wss_to_a_plain_port_and_ws_to_a_tls_port(nginx):
    failed({"url": f"wss://127.0.0.1:{nginx['port']}/api/frontend-audio", "host_header": NAME},
           "tls_on_plain_port", "does not speak TLS")
    failed({"url": f"ws://127.0.0.1:{nginx['tls_port']}/api/frontend-audio", "host_header": NAME},
           "plain_to_tls", "Use wss://")


# --------------------------------------------------------------------------- Python versions


def test_source_is_python_3_9_syntax():
    ast.parse(MODULE.read_text(), feature_version=(3, 9))


def _interpreters() -> list[str]:
    """Python 3.9 to 3.13 as found on this machine (PATH, then pyenv's versions), each checked to run."""
    found = []
    for version in ("3.9", "3.10", "3.11", "3.12", "3.13"):
        candidates = [shutil.which(f"python{version}")]
        candidates += sorted(Path(os.path.expanduser("~/.pyenv/versions")).glob(f"{version}.*/bin/python{version}"))
        for candidate in candidates:
            if candidate and "shims" not in str(candidate):
                check = subprocess.run([str(candidate), "-c", "import ssl"], capture_output=True, check=False)
                if check.returncode == 0:
                    found.append(str(candidate))
                    break
    return found


@pytest.mark.parametrize("python", _interpreters() or [sys.executable])
def test_runs_under_each_python_found(python, backend):
    result = run_module({"url": f"ws://127.0.0.1:{backend}/api/frontend-audio", "payload_size": 640}, python)
    assert result["echo_matched"] is True, (python, result)
