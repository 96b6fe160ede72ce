"""Helpers shared by every Molecule scenario's testinfra tests.

Containers of a scenario all mount tests/support at /opt/wsproxy, so the same stdlib
WebSocket client (wsclient.py) runs inside any of them; the backend platform runs
ws_backend.py and logs one JSON line per request to /tmp/backend.log.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
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
        raise AssertionError(
            f"{cmd!r} on {host.backend.get_hostname()} printed no JSON: "
            f"rc={result.rc} stdout={result.stdout!r} stderr={result.stderr!r}"
        ) from exc


def wait_for(check: Any, seconds: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something true (which is returned), failing after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(interval)


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


# --------------------------------------------------------------------------- failure and fleet scenarios

NGINX_MASTER = "nginx master PID"
NGINX_WORKERS = "nginx worker PIDs"

# Run inside the containers: molecule/shared/etc_nginx_state.py (prepare playbooks run it too).
_ETC_NGINX_STATE = (PROJECT / "molecule" / "shared" / "etc_nginx_state.py").read_text()


def etc_nginx_state(host: Any) -> dict[str, Any]:
    """Everything that says whether a run changed nginx: every path under /etc/nginx with its sha256
    (and mode, owner) or its symlink target ('-> target'), plus nginx's master PID and worker PIDs
    (a reload replaces the workers, a restart the master too)."""
    result = host.run(f"python3 -c {shlex.quote(_ETC_NGINX_STATE)}")
    assert result.rc == 0, f"reading /etc/nginx failed: {result.stderr}"
    state: dict[str, Any] = json.loads(result.stdout)
    master, workers = nginx_pids(host)
    state[NGINX_MASTER] = master
    state[NGINX_WORKERS] = workers
    return state


def state_diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two etc_nginx_state() results, one line per path, for assertion messages."""
    lines = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            lines.append(f"{key}: {before.get(key, '<absent>')} -> {after.get(key, '<absent>')}")
    return lines


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def uncoloured(output: str) -> str:
    """ansible-playbook output without its ANSI colours (Molecule sets ANSIBLE_FORCE_COLOR)."""
    return _ANSI.sub("", output)


_RESULT_LINE = re.compile(r"^(?:fatal|failed): \[(?P<host>[^\]]+)\][^{]*?=> (?P<result>\{.*\})\s*$")


def failure_messages(run: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    """The msg of every failed task result in an ansible-playbook output, by host. Needs the JSON
    result format (ANSIBLE_CALLBACK_RESULT_FORMAT=json, Molecule's ansible.cfg default). Failures go
    to stderr with display_failed_stderr (Molecule's ansible.cfg), else to stdout: both are read, with
    colours (Molecule sets ANSIBLE_FORCE_COLOR) taken out."""
    messages: dict[str, list[str]] = {}
    for line in uncoloured(run.stdout + "\n" + run.stderr).splitlines():
        match = _RESULT_LINE.match(line)
        if not match:
            continue
        try:
            result = json.loads(match["result"])
        except json.JSONDecodeError:
            continue
        found = [result.get("msg", "")] + [
            item.get("msg", "") for item in result.get("results", []) if isinstance(item, dict) and item.get("failed")
        ]
        messages.setdefault(match["host"], []).extend(str(message) for message in found if message)
    return messages


_RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")


def play_recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of an ansible-playbook output: {host: {'ok': n, 'changed': n, 'failed': n, ...}}.
    A host the play never ran on is absent."""
    _before, _sep, recap = uncoloured(output).rpartition("PLAY RECAP")
    result = {}
    for line in recap.splitlines()[1:]:
        match = _RECAP_LINE.match(line.strip())
        if match:
            result[match["host"]] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match["counts"])}
        elif result and line.strip():
            break
    return result


# --------------------------------------------------------------------------- security scenario (molecule/security)


def failed_task(output: str) -> str:
    """The name of the task an ansible-playbook run failed in ('' if none): the last TASK header before the
    first 'fatal:' line (the injection tests check that it is a preflight validation)."""
    task = ""
    for line in uncoloured(output).splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK [") :].rsplit("]", 1)[0]
        elif line.startswith("fatal:"):
            return task
    return ""


# --------------------------------------------------------------------------- live-reload and brownfield scenarios


def nginx_processes(host: Any) -> dict[str, str]:
    """nginx's children by PID, with their titles: 'nginx: worker process' serves the loaded configuration;
    after a reload, 'nginx: worker process is shutting down' is an old worker finishing its open connections."""
    master = host.file("/run/nginx.pid").content_string.strip()
    listing = host.run(f"ps -o pid=,args= --ppid {master}").stdout
    return dict(line.strip().split(None, 1) for line in listing.splitlines() if line.strip())


def established_to(host: Any, port: int) -> int:
    """How many established TCP connections the container holds to remote port `port` (nginx to its backend).
    (Which process holds them, ss -p cannot say here: reading another user's /proc/PID/fd needs CAP_SYS_PTRACE.)"""
    return len(host.run(f"ss -Htn state established '( dport = :{port} )'").stdout.splitlines())


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The docker CLI on the controller, for tests that change the scenario's containers themselves."""
    run = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)
    if check and run.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed (rc={run.returncode}): {run.stderr.strip()}")
    return run


@pytest.fixture(scope="module")
def json_results():
    """Runs of ansible_playbook() in a module that uses this print JSON results without colour,
    which failure_messages() reads."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANSIBLE_CALLBACK_RESULT_FORMAT", "json")
        patch.setenv("ANSIBLE_NOCOLOR", "1")
        patch.setenv("ANSIBLE_FORCE_COLOR", "0")
        yield


# --------------------------------------------------------------------------- replicas scenario (molecule/replicas)

NODE_APPS = "/opt/apps"


def node_app(host: Any, script: str, *args: str) -> dict[str, Any]:
    """Run one of tests/apps' Node clients (mounted at /opt/apps, its npm packages at /opt/node_modules) inside a
    container and return the JSON summary it prints. The clients bound their own run time."""
    cmd = f"cd {NODE_APPS} && node {script} {' '.join(shlex.quote(a) for a in args)}"
    result = host.run(cmd)
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        raise AssertionError(
            f"{cmd!r} on {host.backend.get_hostname()} printed no JSON: "
            f"rc={result.rc} stdout={result.stdout[-2000:]!r} "
            f"stderr={result.stderr[-2000:]!r}"
        ) from exc
