"""Shared helpers for the tests of tests/support (imported by conftest.py and the test module).

A module of its own, not conftest.py: ``from conftest import ...`` picks whichever conftest pytest
imported last, which is not always this directory's.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORT = Path(__file__).resolve().parents[2] / "support"
BACKEND = SUPPORT / "ws_backend.py"
CLIENT = SUPPORT / "wsclient.py"
# The interpreter for the scripts run as subprocesses: set WS_SUPPORT_PYTHON=/path/to/python3.9 (or 3.13)
# to check the scripts under the Pythons of the Debian 12 and 13 containers.
PYTHON = os.environ.get("WS_SUPPORT_PYTHON", sys.executable)

if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))  # so the tests can `import ws_backend, wsclient`


@dataclass
class BackendProcess:
    """A running ws_backend.py subprocess."""

    process: subprocess.Popen[str]
    port: int
    log: Path
    stderr: Path
    name: str

    def url(self, path: str, scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def stats(self, reset: bool = False) -> dict[str, Any]:
        suffix = "?reset=1" if reset else ""
        with urllib.request.urlopen(self.url(f"/api/_stats{suffix}", "http"), timeout=5) as response:
            return json.loads(response.read())

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode


def launch_backend(directory: Path, *extra: str, name: str = "test-backend", port: int = 0) -> BackendProcess:
    """Start ws_backend.py on 127.0.0.1 and wait for its `listening on` line."""
    index = len(list(directory.glob("backend-*.log")))
    log, stderr = directory / f"backend-{index}.log", directory / f"backend-{index}.err"
    command = [PYTHON, str(BACKEND), "--host", "127.0.0.1", "--port", str(port), "--log", str(log)]
    with stderr.open("w") as err:
        process = subprocess.Popen([*command, "--name", name, *extra], stdout=subprocess.PIPE, stderr=err, text=True)
    assert process.stdout is not None
    ready, _writable, _errors = select.select([process.stdout], [], [], 10)
    line = process.stdout.readline() if ready else ""
    match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
    if not match:
        process.kill()
        process.wait()
        raise RuntimeError(f"ws_backend did not start: {line!r} {stderr.read_text()}")
    return BackendProcess(process, int(match.group(1)), log, stderr, name)


def websockets_echo_handler(ws: Any) -> None:
    """Echo server logic for the independent `websockets` server; 'fragment me' gets a 3-frame answer."""
    for message in ws:
        if message == "fragment me":
            ws.send(["frag", "ment", "ed"])
        else:
            ws.send(message)


def run_cli(*args: str, timeout: float = 30) -> tuple[int, dict[str, Any]]:
    result = subprocess.run([PYTHON, str(CLIENT), *args], capture_output=True, text=True, timeout=timeout, check=False)
    lines = result.stdout.splitlines()
    assert len(lines) == 1, (result.stdout, result.stderr)
    return result.returncode, json.loads(lines[0])


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)
