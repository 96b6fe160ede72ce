"""Open tests/browser/audio.html in headless Chromium and report what the browser saw, as one JSON object.

The page is served over http from 127.0.0.1 by this script; it opens a WebSocket (``--url``), streams 640-byte
binary frames (20 ms of 16 kHz 16-bit audio) and checks every echo. Chromium is driven over the DevTools
protocol, so the report holds both the page's verdict and the handshake as Chromium's network stack saw it
(status 101, response headers).

    python3 tests/browser/run_browser.py --url wss://api.example.test:18443/api/frontend-audio \\
        --resolve api.example.test=127.0.0.1 --trust-cert server.pem

``--resolve`` maps the name to an address inside Chromium only (``--host-resolver-rules``), so the URL keeps the
real name: Chromium sends it as SNI and in the Host header. ``--trust-cert`` makes Chromium accept that server
certificate (``--ignore-certificate-errors-spki-list`` with the SHA-256 of its public key): nothing else is
trusted beyond the system's roots. Exit status 0 when the handshake answered 101 and every echo matched.
Needs Debian's chromium, ``websockets`` and ``cryptography`` (requirements.txt; ansible-core brings cryptography).
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from websockets.sync.client import connect

HERE = Path(__file__).resolve().parent
PAGE = "audio.html"
# Flags for headless Chromium as root on a machine with no network but the loopback: no sandbox (root),
# no GPU, no QUIC, and none of the background traffic to Google's services (refused here, and slow).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


def spki_sha256(cert_pem: Path) -> str:
    """base64 of the SHA-256 of a certificate's SubjectPublicKeyInfo, as --ignore-certificate-errors-spki-list wants."""
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def serve_page() -> tuple[http.server.ThreadingHTTPServer, int]:
    """Serve tests/browser/ on an ephemeral 127.0.0.1 port, in a daemon thread."""
    handler = functools.partial(QuietHandler, directory=str(HERE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


class DevTools:
    """A minimal DevTools protocol client over the browser's WebSocket: commands, and every event kept."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)


def start_chromium(chromium: str, profile: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start Chromium; return the process and the browser's DevTools WebSocket URL."""
    with open(profile / "chromium.log", "wb") as log:  # Chromium keeps its own copy of the descriptor
        proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, "about:blank"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}: {chromium_log(profile)}")
        if active.exists():
            lines = active.read_text().split()
            if len(lines) >= 2:
                return proc, f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"chromium did not open its DevTools port in 30 s: {chromium_log(profile)}")


def chromium_log(profile: Path) -> str:
    try:
        return (profile / "chromium.log").read_text(errors="replace")[-2000:]
    except OSError:
        return ""


def run(args: argparse.Namespace) -> dict[str, Any]:
    chromium = shutil.which(args.chromium) or args.chromium
    extra = []
    if args.resolve:
        rules = ", ".join(f"MAP {name} {address}" for name, address in (r.split("=", 1) for r in args.resolve))
        extra.append(f"--host-resolver-rules={rules}")
    if args.trust_cert:
        extra.append(f"--ignore-certificate-errors-spki-list={spki_sha256(Path(args.trust_cert))}")

    server, port = serve_page()
    profile = Path(tempfile.mkdtemp(prefix="wsproxy-chromium-"))
    proc = None
    report: dict[str, Any] = {"page": None, "chromium": None, "handshake": None, "result": None, "errors": []}
    try:
        proc, browser_ws = start_chromium(chromium, profile, extra)
        with connect(browser_ws, max_size=None, open_timeout=10) as ws:
            cdp = DevTools(ws)
            report["chromium"] = cdp.call("Browser.getVersion").get("product")
            target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            cdp.call("Network.enable", session=session)
            cdp.call("Runtime.enable", session=session)
            page = f"http://127.0.0.1:{port}/{PAGE}?" + urlencode({"url": args.url, "frames": args.frames})
            report["page"] = page
            cdp.call("Page.navigate", {"url": page}, session=session)
            # The page resolves window.wsproxyDone when every echo is back, or on error, or at its own timeout.
            deadline = time.monotonic() + args.timeout
            result = None
            while result is None and time.monotonic() < deadline:
                try:
                    value = cdp.call("Runtime.evaluate", {
                        "expression": "window.wsproxyDone", "awaitPromise": True, "returnByValue": True,
                    }, session=session, timeout=max(1.0, deadline - time.monotonic())).get("result", {})
                except RuntimeError:  # evaluated while the page was being replaced: ask again
                    value = {}
                result = value.get("value")
                if result is None:
                    time.sleep(0.2)  # the page has not run its script yet
            report["result"] = result
            cdp.call("Runtime.evaluate", {"expression": "1"}, session=session)  # collect trailing events
        report["handshake"] = handshake(cdp.events, args.url)
        report["errors"] = [describe(e) for e in cdp.events if e["method"] in (
            "Runtime.exceptionThrown", "Network.webSocketFrameError", "Network.loadingFailed")]
    except Exception as exc:  # reported in the JSON, with Chromium's own log
        report["errors"].append(f"{type(exc).__name__}: {exc}")
        report["chromium_log"] = chromium_log(profile)
    finally:
        server.shutdown()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
    report["ok"] = bool(
        report["handshake"] and report["handshake"]["status"] == 101
        and report["result"] and report["result"].get("ok")
    )
    return report


def handshake(events: list[dict[str, Any]], url: str) -> dict[str, Any] | None:
    """The request and response of the page's WebSocket handshake, from Chromium's Network events."""
    created = [e["params"]["requestId"] for e in events
               if e["method"] == "Network.webSocketCreated" and e["params"]["url"] == url]
    if not created:
        return None
    found: dict[str, Any] = {"url": url, "status": None}
    for event in events:
        params = event["params"]
        if params.get("requestId") != created[0]:
            continue
        if event["method"] == "Network.webSocketWillSendHandshakeRequest":
            found["request_headers"] = params["request"]["headers"]
        elif event["method"] == "Network.webSocketHandshakeResponseReceived":
            response = params["response"]
            found["status"] = response["status"]
            found["status_text"] = response["statusText"]
            found["headers"] = {k.lower(): v for k, v in response["headers"].items()}
    return found


def describe(event: dict[str, Any]) -> str:
    params = event["params"]
    if event["method"] == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        return f"page exception: {details.get('exception', {}).get('description') or details.get('text')}"
    return f"{event['method']}: {params.get('errorMessage') or params.get('errorText')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--url", required=True, help="ws:// or wss:// URL the page opens")
    parser.add_argument("--frames", type=int, default=50, help="640-byte frames to stream, one per 20 ms (default 50)")
    parser.add_argument("--resolve", action="append", default=[], metavar="NAME=ADDRESS",
                        help="resolve NAME to ADDRESS inside Chromium (repeatable)")
    parser.add_argument("--trust-cert", metavar="PEM", help="accept this server certificate (its public key)")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "chromium"), help="browser binary")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for the whole page run (default 60)")
    args = parser.parse_args(argv)
    report = run(args)
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
