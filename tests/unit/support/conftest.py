"""Fixtures for the tests of tests/support: real ws_backend processes on loopback, and servers built on
the independent `websockets` package (plain and TLS)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support_harness import BackendProcess, launch_backend, openssl, websockets_echo_handler


@pytest.fixture
def start_backend(tmp_path: Path) -> Iterator[Callable[..., BackendProcess]]:
    """Factory: start_backend('--naive-upgrade', name='b2') -> BackendProcess, stopped after the test."""
    started: list[BackendProcess] = []

    def start(*extra: str, name: str = "test-backend", port: int = 0) -> BackendProcess:
        backend = launch_backend(tmp_path, *extra, name=name, port=port)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.stop()


@pytest.fixture
def backend(start_backend: Callable[..., BackendProcess]) -> BackendProcess:
    """A fresh backend with the default options (its own counters and log)."""
    return start_backend()


@pytest.fixture(scope="module")
def shared_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    """One backend for the tests that do not read counters or the log."""
    backend = launch_backend(tmp_path_factory.mktemp("shared-backend"), name="shared")
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def naive_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    backend = launch_backend(tmp_path_factory.mktemp("naive-backend"), "--naive-upgrade", name="naive")
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def websockets_server() -> Iterator[str]:
    """An echo server from the `websockets` package (an independent RFC 6455 implementation)."""
    from websockets.sync.server import serve

    def process_request(connection: Any, request: Any) -> Any:
        if request.path == "/forbidden":
            return connection.respond(403, "no entry\n")
        return None

    with serve(
        websockets_echo_handler,
        "127.0.0.1",
        0,
        select_subprotocol=lambda connection, offered: "chat" if "chat" in offered else None,
        process_request=process_request,
        compression=None,
        ping_interval=None,
        max_size=None,
    ) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throw-away CA and a server certificate for api.example.test (strict enough for Python 3.13)."""
    directory = tmp_path_factory.mktemp("tls")
    ca_key, ca, key, csr, cert, ext = (directory / n for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem", "ext"))
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=wsclient test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    openssl("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=api.example.test")
    ext.write_text(
        "subjectAltName=DNS:api.example.test\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    return {"ca": ca, "cert": cert, "key": key}


@pytest.fixture(scope="module")
def tls_server(tls_files: dict[str, Path]) -> Iterator[tuple[str, list[str | None]]]:
    """A `websockets` echo server behind TLS; yields its base URL (by IP) and the SNI names it saw."""
    if not hasattr(ssl, "HAS_SNI") or not ssl.HAS_SNI:
        pytest.skip("no SNI support")
    from websockets.sync.server import serve

    seen: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files["cert"], tls_files["key"])
    context.sni_callback = lambda sock, name, ctx: seen.append(name)
    with serve(websockets_echo_handler, "127.0.0.1", 0, ssl=context, compression=None, ping_interval=None) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"wss://127.0.0.1:{server.socket.getsockname()[1]}", seen
        server.shutdown()
        thread.join(5)
