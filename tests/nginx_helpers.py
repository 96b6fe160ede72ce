"""Real nginx for tests: config test (`nginx -t`) and a throw-away server in a temp prefix.

Used by tests/property and tests/nginx. Everything nginx writes (pid, logs, temp dirs) stays in the
prefix; servers listen on 127.0.0.1 only and run as one process (`master_process off`), stopped
by the fixture that started them. A missing nginx fails the test with a clear message: real nginx
is the judge of every claim about what nginx accepts, so these tests are never skipped.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NGINX = os.environ.get("WSPROXY_TEST_NGINX", "/usr/sbin/nginx")

_MAIN = """\
master_process off;
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/client_body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    # Batched property tests put thousands of server names in one config.
    server_names_hash_max_size 65536;

{http}
}}
"""

#: The role's WebSocket upgrade maps, read from templates/websocket_map.conf.j2 (its static part, before the first
#: Jinja block, without comments), for the http context: "Connection" is empty unless a WebSocket upgrade is asked for.
_MAP_TEMPLATE = Path(__file__).resolve().parents[1] / "roles/websocket_proxy/templates/websocket_map.conf.j2"
ROLE_MAPS = "".join(
    line + "\n"
    for line in _MAP_TEMPLATE.read_text(encoding="utf-8").split("{%", 1)[0].splitlines()
    if line.strip() and not line.lstrip().startswith(("#", "{{"))
)


def nginx_binary() -> str:
    """The nginx binary, or a test failure that says how to get one."""
    if os.path.isfile(NGINX) and os.access(NGINX, os.X_OK):
        return NGINX
    found = shutil.which("nginx")
    if found:
        return found
    pytest.fail(
        f"nginx is required for this test and was not found at {NGINX} or on PATH: install it "
        f"(`make` installs nginx; on Debian: apt-get install nginx-light) or set WSPROXY_TEST_NGINX",
        pytrace=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(prefix: Path, http: str) -> Path:
    """Write a complete nginx.conf around ``http`` (the body of the http block) into ``prefix``."""
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(_MAIN.format(prefix=prefix, http=http))
    return conf


def nginx_test(prefix: Path, http: str) -> subprocess.CompletedProcess[str]:
    """Run `nginx -t` on a config made of ``http``; return the completed process (stderr has the verdict)."""
    conf = write_config(prefix, http)
    return subprocess.run(
        [nginx_binary(), "-t", "-q", "-p", str(prefix), "-e", str(prefix / "logs" / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def config_error_context(prefix: Path, stderr: str) -> str:
    """The config line nginx complains about, to show next to its message."""
    match = re.search(r"in (\S+):(\d+)", stderr)
    if not match:
        return ""
    try:
        lines = Path(match.group(1)).read_text().splitlines()
        return f"\n  line {match.group(2)}: {lines[int(match.group(2)) - 1].strip()}"
    except (OSError, IndexError):
        return ""


def assert_nginx_accepts(prefix: Path, http: str) -> None:
    result = nginx_test(prefix, http)
    assert result.returncode == 0, f"nginx -t failed:\n{result.stderr}{config_error_context(prefix, result.stderr)}"


def assert_nginx_refuses(prefix: Path, http: str, message: str) -> str:
    result = nginx_test(prefix, http)
    assert result.returncode != 0, f"nginx -t accepted a config it should refuse ({message!r} expected)"
    assert message in result.stderr, f"nginx -t failed, but not with {message!r}:\n{result.stderr}"
    return result.stderr


def _wait_for_port(port: int, process: subprocess.Popen[str], prefix: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (prefix / "logs" / "error.log").read_text() if (prefix / "logs" / "error.log").exists() else ""
            raise AssertionError(
                f"nginx exited with {process.returncode}:\n{process.stderr.read() if process.stderr else ''}{log}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"nginx did not listen on 127.0.0.1:{port} within {timeout}s")


@contextmanager
def running_nginx(prefix: Path, http: str, port: int) -> Iterator[int]:
    """Start nginx with ``http`` (which must listen on 127.0.0.1:``port``), yield the port, stop it."""
    assert_nginx_accepts(prefix, http)
    conf = prefix / "nginx.conf"
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-e", str(prefix / "logs" / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_port(port, process, prefix)
        yield port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful stop
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


class Client:
    """Keep-alive HTTP/1.1 client for many small requests to one nginx."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def get(self, path: str, host: str = "localhost") -> tuple[int, dict[str, str], bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request("GET", path, headers={"Host": host})
                response = self.conn.getresponse()
                body = response.read()
                headers = {k.lower(): v for k, v in response.getheaders()}
                if headers.get("connection", "").lower() == "close":
                    self.close()
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                return response.status, headers, body
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
