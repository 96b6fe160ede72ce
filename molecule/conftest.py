"""Helpers shared by every Molecule scenario's testinfra tests.

Containers of a scenario all mount tests/support at /opt/wsproxy, so the same stdlib
WebSocket client (wsclient.py) runs inside any of them; the backend platform runs
ws_backend.py and logs one JSON line per request to /tmp/backend.log.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import testinfra

PROJECT = Path(__file__).resolve().parent.parent
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")
WSCLIENT = "python3 /opt/wsproxy/wsclient.py"
BACKEND_LOG = "/tmp/backend.log"


def hosts(group: str) -> list[Any]:
    """The testinfra hosts of an inventory group of this scenario."""
    return testinfra.get_hosts([f"ansible://{group}"], ansible_inventory=INVENTORY)


def host_named(name: str) -> Any:
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)


def wsclient(host: Any, *args: str) -> dict[str, Any]:
    """Run tests/support/wsclient.py inside a container and return its JSON answer."""
    cmd = f"{WSCLIENT} {' '.join(shlex.quote(a) for a in args)}"
    result = host.run(cmd)
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"{cmd!r} on {host.backend.get_hostname()} printed no JSON: "
                             f"rc={result.rc} stdout={result.stdout!r} stderr={result.stderr!r}") from exc


def backend_log(backend: Any) -> list[dict[str, Any]]:
    """Every request the backend has seen so far, oldest first."""
    text = backend.run(f"cat {BACKEND_LOG}").stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def nginx_pids(host: Any) -> tuple[str, list[str]]:
    """The master PID and the sorted worker PIDs: a reload changes the workers, a restart both."""
    master = host.file("/run/nginx.pid").content_string.strip()
    workers = sorted(host.run(f"pgrep -P {master}").stdout.split())
    return master, workers


def ansible_playbook(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ansible-playbook from the controller against this scenario's inventory."""
    cmd = ["ansible-playbook", "-i", INVENTORY, *args]
    return subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, timeout=600, check=False)
