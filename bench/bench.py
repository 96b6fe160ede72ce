#!/usr/bin/env python3
"""The wsproxy.nginx benchmark suite: each figure beside its baseline, measured in one run on this machine.

Run it through bench/run.sh (which prepares the host, the virtualenv and cleans up):

    bench/run.sh [--smoke] [--only capacity,handshakes,storm,rtt,http,converge] [--systems seed,role,...]

Layout of a run (see bench/README.md):

* a "lab" container with loopback only (``--network none``) owns the network namespace; the backends
  (tests/support/ws_backend.py) and the load generator (bench/loadgen.py) run in it;
* three containers join that namespace: ``seed`` (Debian's nginx.conf plus the seed's map and location,
  written by hand from the seed: the baseline), ``role`` (configured by ``ansible-playbook site.yml``
  with the role and bench/tuned-vars.yml) and ``peers`` (HAProxy and Caddy from Debian's packages, with
  bench/peers/haproxy.cfg and bench/peers/Caddyfile: the proxies a team would pick instead);
* the converge figure uses one fresh container per vhost count, also loopback only.

Every container is started with ``--rm`` and a bounded ``sleep`` as its command, so it disappears by itself
even if this process is killed; every wait below has a timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import hashlib
import itertools
import json
import math
import os
import platform
import queue
import re
import shutil
import statistics
import string
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SUPPORT = ROOT / "tests" / "support"
CODEC = ROOT / "plugins" / "module_utils"  # the WebSocket codec of ws_backend.py and loadgen.py
# The checkout whose site.yml and role are measured: this one, or another (BENCH_CHECKOUT=/path), for
# example a `git archive` of an older commit to compare.
CHECKOUT = Path(os.environ.get("BENCH_CHECKOUT") or ROOT).resolve()
BASE_IMAGE = "wsproxy-test:bookworm"
IMAGE = "wsproxy-bench:bookworm"
NOFILE = "nofile=20000:20000"
BACKEND_PORT = 5006
SEED_PORT = 8081
ROLE_PORT = 8080
ROLE_TLS_PORT = 8443
# The same TLS server with an RSA 2048 certificate instead of ECDSA P-256 (handshakes per second only).
ROLE_RSA_PORT = 8446
# The peers: the proxies a team would pick instead, from Debian's packages, in container "peers" (bench/peers/).
PEERS = {
    "haproxy": {"port": 8082, "tls_port": 8444, "rsa_port": 8447, "config": "haproxy.cfg"},
    "caddy": {"port": 8083, "tls_port": 8445, "rsa_port": 8448, "config": "Caddyfile"},
}
PEER_PACKAGES = "nginx haproxy caddy"
HOST_HEADER = "bench.test"
WS_PATH = "/api/frontend-audio"
MEASUREMENTS = ("capacity", "handshakes", "storm", "rtt", "http", "converge")
SYSTEM_LABELS = ("seed", "role", *PEERS)
HANDSHAKES_IN_FLIGHT = 250
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # /proc/PID/stat counts CPU time in these
# The systems of this run (--systems): all four unless narrowed, for a quicker look at one proxy.
ACTIVE_SYSTEMS: tuple[str, ...] = SYSTEM_LABELS

# The targets. Reported beside the figures, never asserted.
TARGETS = {
    "held_websockets": 250000,
    "kib_per_websocket": 8.0,
    "rtt_p50_ratio": 1.3,
    "rtt_p99_ratio": 1.5,
    # The role's added round trip (p50 through the proxy less direct) within this much of the best peer's.
    "rtt_added_vs_best_peer": 1.10,
    "storm_websockets": 20000,
    "storm_seconds": 10.0,
    "backend_connections_per_10k": 100,
    "idempotent_100_vhosts_s": 15.0,
}

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "target": 250000,
        "steps": [250, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 9000, 10000, 15000, 20000, 30000, 50000,
                  75000, 100000, 150000, 200000, 250000],
        # Memory per WebSocket over wss: every TLS proxy holds this many (within every single process's limit).
        "wss_memory": 9000,
        "handshake_seconds": 8.0,
        "storm": 20000,
        "storm_seconds": 90.0,
        "rtt_samples": 10000,
        "rtt_warmup": 500,
        "rtt_round_size": 50,
        "http_requests": 10000,
        # Every worker (32 for 250,000) opens its first connection to every backend address (24) during the
        # warm-up, not while the backend counts: 500 left 621 of them in the measured 10,000 requests.
        "http_warmup": 3000,
        "http_concurrency": 32,
        "http_rounds": 3,
        "vhost_counts": [1, 10, 100],
        "lifetime_s": 3600,
        "out": BENCH / "results",
    },
    "smoke": {
        "target": 400,
        "steps": [100, 200, 400],
        "wss_memory": 200,
        "handshake_seconds": 2.0,
        "storm": 300,
        "storm_seconds": 30.0,
        "rtt_samples": 300,
        "rtt_warmup": 30,
        "rtt_round_size": 50,
        "http_requests": 300,
        "http_warmup": 30,
        "http_concurrency": 8,
        "http_rounds": 1,
        # One converge and its re-run (a fresh container installs nginx first): enough to prove the measurement runs.
        "vhost_counts": [2],
        "lifetime_s": 900,
        "out": BENCH / "results" / "smoke",
    },
}


class BenchError(Exception):
    """A measurement could not run (as opposed to a figure that misses its target)."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- processes


def run(cmd: list[str], *, timeout: float, check: bool = True, input: str | None = None,
        cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input, cwd=cwd, env=env,
                                check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(cmd[:6])} ...: no answer within {timeout:g} s") from exc
    if check and result.returncode != 0:
        raise BenchError(
            f"{' '.join(cmd[:8])} ... exited {result.returncode}: {(result.stderr or result.stdout).strip()[-2000:]}"
        )
    return result


def docker(*args: str, timeout: float = 60, check: bool = True, input: str | None = None) -> str:
    return run(["docker", *args], timeout=timeout, check=check, input=input).stdout


def sh(container: str, script: str, timeout: float = 60, check: bool = True) -> str:
    return docker("exec", container, "sh", "-c", script, timeout=timeout, check=check)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


# --------------------------------------------------------------------------- the image with nginx


def ensure_image(rebuild: bool) -> str:
    """wsproxy-bench:bookworm = wsproxy-test:bookworm + Debian's nginx, haproxy and caddy packages (not started,
    not configured).

    The role still configures nginx in every run (websocket_proxy_install_nginx: false only skips the apt
    steps, which would need a network the bench containers do not have).
    """
    base_id = docker("image", "inspect", "-f", "{{.Id}}", BASE_IMAGE).strip()
    wanted = f"{base_id} {PEER_PACKAGES}"
    lock_path = ROOT / ".cache" / "bench-image.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once build it once
        current = docker("image", "inspect", "-f", '{{index .Config.Labels "wsproxy.bench.base"}}', IMAGE,
                         check=False).strip()
        if current == wanted and not rebuild:
            return docker("image", "inspect", "-f", "{{.Id}}", IMAGE).strip()
        log(f"building {IMAGE} from {BASE_IMAGE} + Debian's {PEER_PACKAGES} packages")
        builder = f"wsproxy-bench-build-{os.getpid()}"
        docker("run", "-d", "--rm", "--name", builder, BASE_IMAGE, "sleep", "900")
        try:
            sh(builder, "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d"
               " && export DEBIAN_FRONTEND=noninteractive && apt-get update -qq"
               f" && apt-get install -y -qq --no-install-recommends {PEER_PACKAGES} >/dev/null"
               " && rm -f /usr/sbin/policy-rc.d && apt-get clean && nginx -v && haproxy -v && caddy version",
               timeout=600)
            docker("commit", "--change", 'CMD ["sleep", "infinity"]', "--change",
                   f'LABEL wsproxy.bench.base="{wanted}"', builder, IMAGE, timeout=300)
        finally:
            docker("rm", "-f", builder, check=False)
    return docker("image", "inspect", "-f", "{{.Id}}", IMAGE).strip()


# --------------------------------------------------------------------------- TLS material


def make_tls(directory: Path) -> None:
    """A throw-away CA and two certificates for bench.test (like scripts/demo.sh): ECDSA P-256 (server.pem, the
    one every TLS port serves) and RSA 2048 (server-rsa.pem, for the handshakes-per-second comparison)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert, ext = (
        directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem", "san.ext")
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(["openssl", "req", "-x509", *ec, "-days", "2", "-subj", "/CN=wsproxy bench CA", "-keyout", str(ca_key),
         "-out", str(ca)], timeout=60)
    run(["openssl", "req", *ec, "-subj", f"/CN={HOST_HEADER}", "-keyout", str(key), "-out", str(csr)], timeout=60)
    ext.write_text(f"subjectAltName=DNS:{HOST_HEADER},IP:127.0.0.1\n")
    run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
         "-days", "2", "-extfile", str(ext), "-out", str(cert)], timeout=60)
    rsa_key, rsa_csr, rsa_cert = (directory / n for n in ("server-rsa.key", "server-rsa.csr", "server-rsa.pem"))
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={HOST_HEADER}", "-keyout", str(rsa_key),
         "-out", str(rsa_csr)], timeout=60)
    run(["openssl", "x509", "-req", "-in", str(rsa_csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
         "-days", "2", "-extfile", str(ext), "-out", str(rsa_cert)], timeout=60)
    for stem in ("server", "server-rsa"):  # HAProxy wants the certificate and its key in one file
        (directory / f"{stem}-with-key.pem").write_text(
            (directory / f"{stem}.pem").read_text() + (directory / f"{stem}.key").read_text())
    for path in directory.iterdir():
        path.chmod(0o644)  # read by the lab container's client and copied into nginx's container


# --------------------------------------------------------------------------- role inventory

SNAPSHOT_ITEMS = ("ansible.cfg", "site.yml", "galaxy.yml", "meta", "plugins", "roles")


def snapshot_checkout(source: Path, target: Path) -> Path:
    """A copy of what ansible-playbook site.yml reads, taken once: others may edit the role during a run,
    and every playbook of one run must see the same role."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in SNAPSHOT_ITEMS:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.exists():
            shutil.copy2(path, target / name)
    link = target / "collections" / "ansible_collections" / "wsproxy" / "nginx"
    link.parent.mkdir(parents=True)
    link.symlink_to("../../..")
    return target


def role_accepts_backend_list() -> bool:
    """Does the role's argument spec accept a list for a location's backend (several upstream servers)?"""
    spec = yaml.safe_load((CHECKOUT / "roles/websocket_proxy/meta/argument_specs.yml").read_text())
    try:
        backend = spec["argument_specs"]["main"]["options"]["websocket_proxy_vhosts"]["options"]["locations"][
            "options"]["backend"]
    except (KeyError, TypeError):
        return False
    return backend.get("type") in ("list", "raw") or "elements" in backend


def tuned_vars(target: int) -> tuple[dict[str, Any], Any]:
    """The role variables of bench/tuned-vars.yml, "{{ bench_target }}" resolved, and the backend value."""
    knobs = yaml.safe_load((BENCH / "tuned-vars.yml").read_text()) or {}
    mode = knobs.pop("bench_backend_addresses", "auto")
    mode = os.environ.get("BENCH_BACKEND_ADDRESSES") or mode  # one run with another value, the file unchanged
    count = int(knobs.pop("bench_backend_addresses_count", 4))
    for name, value in list(knobs.items()):
        if isinstance(value, str) and value.replace(" ", "") == "{{bench_target}}":
            knobs[name] = target
    if str(mode) == "auto":
        mode = count if role_accepts_backend_list() else 1
    mode = int(mode)
    if mode <= 1:
        backend: Any = f"127.0.0.1:{BACKEND_PORT}"
    else:
        backend = [f"127.0.1.{i}:{BACKEND_PORT}" for i in range(1, mode + 1)]
    return knobs, backend


def write_inventory(path: Path, host: str, knobs: dict[str, Any], vhosts: list[dict[str, Any]]) -> None:
    inventory = {
        "proxies": {
            "hosts": {host: {"ansible_connection": "community.docker.docker"}},
            "vars": {
                # nginx is in the image already; the apt steps would need a network (the containers have none).
                "websocket_proxy_install_nginx": False,
                "websocket_proxy_remove_default_site": True,
                **knobs,
                "websocket_proxy_vhosts": vhosts,
            },
        }
    }
    path.write_text("---\n# Generated by bench/bench.py for one run; see bench/tuned-vars.yml.\n"
                    + yaml.safe_dump(inventory, sort_keys=False))


def ansible_playbook(inventory: Path, log_path: Path, timeout: float) -> dict[str, Any]:
    """Run site.yml (the role) against the inventory; time it, read the play recap and the slowest tasks."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(CHECKOUT / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0",
               # The per-task times at the end of the log say where a slow converge spends its time.
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="8")
    started = time.monotonic()
    result = run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "site.yml"],
                 timeout=timeout, check=False, cwd=CHECKOUT, env=env)
    elapsed = time.monotonic() - started
    log_path.write_text(result.stdout + "\n--- stderr ---\n" + result.stderr)
    recap = re.search(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", result.stdout)
    if result.returncode != 0 or not recap:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise BenchError(f"ansible-playbook site.yml failed (exit {result.returncode}, log {log_path}):\n{tail}")
    ok, changed, unreachable, failed = (int(x) for x in recap.groups())
    slowest = [{"task": m.group(1).strip(), "seconds": float(m.group(2))}
               for m in re.finditer(r"^(.+?) -{3,} (\d+\.\d+)s$", result.stdout, re.MULTILINE)]
    return {"seconds": round(elapsed, 2), "ok": ok, "changed": changed, "failed": failed, "unreachable": unreachable,
            "slowest_tasks": slowest[:8], "load_average": load_average()}


def load_average() -> float:
    """The machine's 1-minute load average: other work on a shared machine inflates every timing."""
    return float(Path("/proc/loadavg").read_text().split()[0])


# --------------------------------------------------------------------------- nginx observation


def _processes(container: str, pids: str) -> list[dict[str, Any]]:
    """pid, RSS (KiB, VmRSS from /proc), open descriptors and command line of each pid that `pids` prints."""
    script = (
        f'for p in {pids}; do '
        'echo "$p $(awk \'/^VmRSS/{print $2}\' /proc/$p/status) $(ls /proc/$p/fd | wc -l) '
        '$(tr "\\0" " " < /proc/$p/cmdline)"; done'
    )
    processes = []
    for line in sh(container, script, timeout=30, check=False).splitlines():
        fields = line.split()
        if len(fields) < 4 or not fields[1].isdigit():  # the process left while it was read (a reload)
            continue
        pid, rss, fds, *cmd = fields
        processes.append({"pid": int(pid), "rss_kib": int(rss), "fds": int(fds), "cmd": " ".join(cmd)})
    return processes


def nginx_processes(container: str) -> list[dict[str, Any]]:
    """Master and workers: pid, role, RSS and open descriptors."""
    return _processes(container, '$(cat /run/nginx.pid) $(pgrep -P "$(cat /run/nginx.pid)")')


def peer_processes(container: str, program: str) -> list[dict[str, Any]]:
    """Every process of a peer (HAProxy, Caddy) in its container."""
    return _processes(container, f"$(pgrep -x {program})")


def nginx_rss_kib(container: str) -> int:
    return sum(p["rss_kib"] for p in nginx_processes(container))


def nginx_settings(container: str) -> dict[str, Any]:
    """What nginx actually runs with, from nginx -T (the whole dump is kept in raw/)."""
    dump = sh(container, "nginx -T 2>/dev/null", timeout=30)

    def first(pattern: str) -> str | None:
        match = re.search(pattern, dump, re.MULTILINE)
        return match.group(1) if match else None

    master_limits = sh(container, "grep 'Max open files' /proc/$(cat /run/nginx.pid)/limits", timeout=30).split()
    return {
        "worker_processes": first(r"^\s*worker_processes\s+([^;]+);"),
        "worker_connections": first(r"^\s*worker_connections\s+([^;]+);"),
        "worker_rlimit_nofile": first(r"^\s*worker_rlimit_nofile\s+([^;]+);"),
        "upstream_keepalive": first(r"^\s*keepalive\s+(\d+);"),
        "upstream_servers": len(re.findall(r"^\s*server\s+\S+:\d+[^;]*;", dump, re.MULTILINE)),
        "master_open_files_limit": master_limits[3] if len(master_limits) > 4 else None,
        "workers_running": len(nginx_processes(container)) - 1,
        "_dump": dump,
    }


NGINX_ERROR_LOG = "/var/log/nginx/error.log"


def error_log_size(container: str, path: str = NGINX_ERROR_LOG) -> int:
    return int(sh(container, f"stat -c %s {path} 2>/dev/null || echo 0", timeout=30).strip() or 0)


ERROR_KINDS = (
    # nginx frees slots by closing accepted connections that have not sent a request yet; logged at warn,
    # which an error_log without a level (Debian's) does not show.
    ("worker_connections are not enough, reusing connections", r"reusing connections"),
    ("worker_connections are not enough", r"worker_connections are not enough"),
    ("too many open files", r"(?i)too many open files"),
    ("cannot assign requested address (ephemeral ports)", r"Cannot assign requested address"),
    ("upstream connect refused", r"Connection refused"),
    ("upstream timed out", r"timed out"),
    ("connection reset", r"reset by peer"),
)


def error_log_summary(container: str, offset: int, path: str = NGINX_ERROR_LOG) -> dict[str, Any]:
    text = sh(container, f"tail -c +{offset + 1} {path} 2>/dev/null | tail -n 200000", timeout=60)
    counts: dict[str, int] = {}
    samples: list[str] = []
    for line in text.splitlines():
        if "[notice]" in line or "[info]" in line:
            continue
        kind = next((name for name, pattern in ERROR_KINDS if re.search(pattern, line)), "other")
        counts[kind] = counts.get(kind, 0) + 1
        if kind not in {s.split(": ", 1)[0] for s in samples} and len(samples) < 8:
            samples.append(f"{kind}: {line[:300]}")
    return {"counts": counts, "samples": samples}


def tcp_counters(container: str) -> dict[str, int]:
    """The network namespace's TCP counters that explain failed handshakes, and its socket states."""
    text = sh(container, "cat /proc/net/netstat; echo; ss -s", timeout=30)
    counters: dict[str, int] = {}
    lines = text.splitlines()
    for header, values in itertools.pairwise(lines):
        if header.startswith("TcpExt:") and values.startswith("TcpExt:") and header != values:
            pairs = zip(header.split()[1:], values.split()[1:], strict=False)
            counters.update({k: int(v) for k, v in pairs if v.isdigit()})
            break
    wanted = {name: counters.get(name, 0) for name in ("ListenOverflows", "ListenDrops", "TCPTimeWaitOverflow")}
    match = re.search(r"estab (\d+), closed \d+, orphaned \d+, timewait (\d+)", text)
    if match:
        wanted["established"], wanted["time_wait"] = int(match.group(1)), int(match.group(2))
    return wanted


# --------------------------------------------------------------------------- the lab


@dataclass(frozen=True)
class System:
    """One proxy under test: its container, its ports, its program and the log that explains its errors."""

    label: str  # seed, role, haproxy, caddy
    container: str
    port: int
    tls_port: int | None = None
    program: str = "nginx"
    log_path: str = NGINX_ERROR_LOG
    rsa_port: int | None = None  # the TLS server again, with an RSA 2048 certificate

    def cpu_ticks(self) -> int:
        """User and system CPU time of every process of the proxy so far, in clock ticks (/proc/PID/stat)."""
        pids = " ".join(str(p["pid"]) for p in self.processes())
        out = sh(self.container, f"for p in {pids}; do cut -d' ' -f14,15 /proc/$p/stat; done", timeout=30)
        return sum(int(value) for line in out.splitlines() for value in line.split())

    def processes(self) -> list[dict[str, Any]]:
        if self.program == "nginx":
            return nginx_processes(self.container)
        return peer_processes(self.container, self.program)

    def connection_holders(self) -> list[dict[str, Any]]:
        """The processes that hold the proxied connections: nginx's workers, every process of a peer."""
        processes = self.processes()
        return processes[1:] if self.program == "nginx" else processes

    def open_files_limit(self) -> int:
        pid = self.connection_holders()[0]["pid"]
        return int(sh(self.container, f"awk '/^Max open files/ {{print $4}}' /proc/{pid}/limits", timeout=30))


class Lab:
    """The containers of one run; removed at the end (and by their own bounded lifetime otherwise)."""

    def __init__(self, run_id: str, raw: Path, lifetime_s: int) -> None:
        self.prefix = f"wsproxy-bench-{run_id}"
        self.net = f"{self.prefix}-lab"
        self.seed = f"{self.prefix}-seed"
        self.role = f"{self.prefix}-role"
        self.peers = f"{self.prefix}-peers"
        self.raw = raw
        self.lifetime = str(int(lifetime_s))
        self.containers: list[str] = []
        self.backends: list[int] = []
        self.haproxy_instances = 1

    def start_container(self, name: str, image: str, *extra: str) -> None:
        docker("rm", "-f", name, check=False)
        docker("run", "-d", "--rm", "--name", name, "--label", "wsproxy.bench=1", "--ulimit", NOFILE, *extra,
               image, "sleep", self.lifetime)
        self.containers.append(name)

    def remove(self, name: str) -> None:
        docker("rm", "-f", name, check=False, timeout=120)
        if name in self.containers:
            self.containers.remove(name)

    def close(self) -> None:
        for name in reversed(list(self.containers)):  # the nginx containers first, the namespace owner last
            self.remove(name)

    # -- setup

    def systems(self) -> list[System]:
        """The proxies measured in this run (all four unless --systems), in the order of every table."""
        return [system for system in self.all_systems() if system.label in ACTIVE_SYSTEMS]

    def all_systems(self) -> list[System]:
        """The four proxies of the lab: the baseline, the role, the peers."""
        return [
            System("seed", self.seed, SEED_PORT),
            System("role", self.role, ROLE_PORT, ROLE_TLS_PORT, rsa_port=ROLE_RSA_PORT),
            *(System(name, self.peers, peer["port"], peer["tls_port"], name, f"/tmp/bench-{name}.log",
                     peer["rsa_port"])
              for name, peer in PEERS.items()),
        ]

    def system(self, label: str) -> System:
        return next(system for system in self.all_systems() if system.label == label)

    @property
    def has_peers(self) -> bool:
        return any(label in ACTIVE_SYSTEMS for label in PEERS)

    def up(self, *, seed: bool, role: bool, peers: bool) -> None:
        self.start_container(
            self.net, BASE_IMAGE, "--network", "none",
            "-v", f"{BENCH}:/bench:ro", "-v", f"{SUPPORT}:/opt/wsproxy:ro", "-v", f"{CODEC}:/opt/wsproxy-codec:ro",
            "-v", f"{self.raw / 'tls'}:/tls:ro",
        )
        if seed:
            self.start_container(self.seed, IMAGE, "--network", f"container:{self.net}")
        if role:
            self.start_container(self.role, IMAGE, "--network", f"container:{self.net}")
        if peers:
            self.start_container(self.peers, IMAGE, "--network", f"container:{self.net}")

    def configure_seed(self) -> dict[str, Any]:
        """The baseline, by hand: Debian's default nginx.conf untouched, the seed's map and location added."""
        seed = BENCH / "seed"
        docker("cp", str(seed / "websocket-map.conf"), f"{self.seed}:/etc/nginx/conf.d/seed-websocket-map.conf")
        docker("cp", str(seed / "api.conf"), f"{self.seed}:/etc/nginx/sites-enabled/seed-api.conf")
        sh(self.seed, "nginx -t 2>&1 && service nginx start >/dev/null", timeout=60)
        wait_for(lambda: sh(self.seed, "test -s /run/nginx.pid && kill -0 $(cat /run/nginx.pid) && echo up",
                            check=False).strip() == "up", 20, "the seed's nginx to start")
        settings = nginx_settings(self.seed)
        (self.raw / "nginx-T-seed.txt").write_text(settings.pop("_dump"))
        return settings

    def configure_role(self, knobs: dict[str, Any], backend: Any, timeout: float) -> dict[str, Any]:
        """The role's tuned config, written by the role: ansible-playbook site.yml against the container."""
        sh(self.role, "mkdir -p /etc/ssl/wsproxy-bench")
        for name in ("server.pem", "server.key", "server-rsa.pem", "server-rsa.key"):
            docker("cp", str(self.raw / "tls" / name), f"{self.role}:/etc/ssl/wsproxy-bench/{name}")
        location = {"path": "/api/", "backend": backend}
        vhosts = [
            {"name": "bench-ws", "server_name": HOST_HEADER, "listen": ROLE_PORT, "default_server": True,
             "locations": [location]},
            {"name": "bench-wss", "server_name": HOST_HEADER, "listen": ROLE_TLS_PORT, "default_server": True,
             "tls": {"certificate": "/etc/ssl/wsproxy-bench/server.pem",
                     "certificate_key": "/etc/ssl/wsproxy-bench/server.key"},
             "locations": [location]},
            {"name": "bench-wss-rsa", "server_name": HOST_HEADER, "listen": ROLE_RSA_PORT, "default_server": True,
             "tls": {"certificate": "/etc/ssl/wsproxy-bench/server-rsa.pem",
                     "certificate_key": "/etc/ssl/wsproxy-bench/server-rsa.key"},
             "locations": [location]},
        ]
        inventory = self.raw / "inventory-role.yml"
        write_inventory(inventory, self.role, knobs, vhosts)
        converge = ansible_playbook(inventory, self.raw / "ansible-role.log", timeout)
        wait_for(lambda: sh(self.role, "test -s /run/nginx.pid && kill -0 $(cat /run/nginx.pid) && echo up",
                            check=False).strip() == "up", 20, "the role's nginx to run")
        settings = nginx_settings(self.role)
        # After the role's reload, old workers may still be leaving: wait for the planned number (bounded).
        planned = settings.get("worker_processes")
        if planned and planned.isdigit():
            wait_for(lambda: len(nginx_processes(self.role)) - 1 == int(planned), 30, "old nginx workers to leave",
                     fail=False)
            settings["workers_running"] = len(nginx_processes(self.role)) - 1
        (self.raw / "nginx-T-role.txt").write_text(settings.pop("_dump"))
        return {"converge": converge, "settings": settings, "backend": backend, "knobs": knobs}

    def configure_peers(self, backend: Any, target: int) -> dict[str, Any]:
        """HAProxy and Caddy from bench/peers/, in front of the same backend addresses as the role's nginx.

        One process can hold about (open-file limit - 200) / 2 WebSockets. HAProxy 2.6 has threads but no longer
        several processes per instance; its documented way past one process's limits is several instances on
        the same ports (it binds with SO_REUSEPORT by default, and the kernel spreads connections over them), so
        the run starts as many as the target needs. Caddy listens without SO_REUSEPORT: one instance per port,
        so it stays one process, and the report says where that stops it.
        """
        servers = backend if isinstance(backend, list) else [backend]
        hard_limit = int(sh(self.peers, "ulimit -Hn").strip())
        # Two descriptors per proxied WebSocket; a few hundred for listeners, logs and backend keepalive.
        maxconn = min(target, (hard_limit - 200) // 2)
        # 10 % headroom: the kernel spreads connections over SO_REUSEPORT listeners by a hash, not evenly (with
        # exactly target / maxconn instances, 26 for 250,000, the busiest reached maxconn at 248,543).
        instances = math.ceil(target / (maxconn * 0.9))
        sh(self.peers, "mkdir -p /etc/haproxy/bench /etc/caddy/bench")
        tls = self.raw / "tls"
        for name in ("server-with-key.pem", "server-rsa-with-key.pem"):
            docker("cp", str(tls / name), f"{self.peers}:/etc/haproxy/bench/{name}")
        for name in ("server.pem", "server.key", "server-rsa.pem", "server-rsa.key"):
            docker("cp", str(tls / name), f"{self.peers}:/etc/caddy/bench/{name}")
        fields = {
            "haproxy": {"maxconn": maxconn,
                        "servers": "\n".join(f"    server r{i} {a}" for i, a in enumerate(servers, 1))},
            "caddy": {"upstreams": " ".join(servers)},
        }
        settings: dict[str, Any] = {}
        for name, peer in PEERS.items():
            template = string.Template((BENCH / "peers" / peer["config"]).read_text())
            config = template.substitute(port=peer["port"], tls_port=peer["tls_port"], rsa_port=peer["rsa_port"],
                                         **fields[name])
            written = self.raw / f"{name}-{peer['config']}"
            written.write_text(config)
            directory = "/etc/haproxy/bench" if name == "haproxy" else "/etc/caddy/bench"
            docker("cp", str(written), f"{self.peers}:{directory}/{peer['config']}")
        sh(self.peers, "haproxy -c -q -f /etc/haproxy/bench/haproxy.cfg", timeout=60)
        self.haproxy_instances = instances
        self.start_peer("haproxy")
        self.start_peer("caddy")
        versions = {"haproxy": sh(self.peers, "haproxy -v | head -n 1").split()[2],
                    "caddy": sh(self.peers, "caddy version").split()[0]}
        for name in PEERS:
            system = self.system(name)
            holders = system.connection_holders()
            threads = sh(self.peers, f"awk '/^Threads/ {{print $2}}' /proc/{holders[0]['pid']}/status").strip()
            settings[name] = {"version": versions[name], "processes": len(holders), "threads": int(threads),
                              "open_files_limit": system.open_files_limit(),
                              **({"maxconn": maxconn, "instances": instances} if name == "haproxy" else {}),
                              "config": f"bench/peers/{PEERS[name]['config']}"}
        return settings

    def start_peer(self, name: str) -> None:
        """Start HAProxy (its instances) or Caddy with the config configure_peers wrote; wait for its ports."""
        if name == "haproxy":
            sh(self.peers, f"for i in $(seq {self.haproxy_instances}); do haproxy -D -f /etc/haproxy/bench/haproxy.cfg"
               " -p /run/bench-haproxy-$i.pid >> /tmp/bench-haproxy.log 2>&1 || exit 1; done", timeout=120)
        else:
            docker("exec", "-d", self.peers, "sh", "-c", "exec caddy run --config /etc/caddy/bench/Caddyfile "
                   "--adapter caddyfile >> /tmp/bench-caddy.log 2>&1")
        peer = PEERS[name]
        ports = [str(peer[key]) for key in ("port", "tls_port", "rsa_port")]
        wait_for(lambda: all(f":{port} " in sh(self.peers, "ss -ltnH", check=False) for port in ports), 30,
                 f"{name} to listen on {', '.join(ports)}")

    def fresh(self, system: System) -> None:
        """New processes for the proxy, so that a ramp's memory figure starts from a heap no earlier ramp grew
        (an allocator keeps what it freed, and new connections would reuse it): nginx reloads (new workers; the
        old ones leave once their connections are gone), a peer is stopped and started again."""
        if system.program == "nginx":
            old = {p["pid"] for p in system.connection_holders()}
            sh(system.container, "nginx -s reload", timeout=60)
            wait_for(lambda: not old & {p["pid"] for p in system.connection_holders()}, 60,
                     f"{system.label}'s old nginx workers to leave")
            return
        pattern = "bench-haproxy-*.pid" if system.program == "haproxy" else None
        if pattern:
            sh(self.peers, f"kill $(cat /run/{pattern}) 2>/dev/null; rm -f /run/{pattern}; true", check=False)
        else:
            sh(self.peers, "pkill -x caddy; true", check=False)
        wait_for(lambda: not system.processes(), 30, f"{system.program} to stop")
        self.start_peer(system.label)

    # -- backends

    def start_backends(self, count: int) -> None:
        self.stop_backends()
        for index in range(count):
            docker("exec", "-d", self.net, "sh", "-c",
                   f"echo $$ > /tmp/bench-backend-{index}.pid; exec python3 /opt/wsproxy/ws_backend.py "
                   f"--host 0.0.0.0 --port {BACKEND_PORT} --reuse-port --name backend-{index} "
                   f"> /tmp/bench-backend-{index}.log 2>&1")
            self.backends.append(index)

        def ready() -> bool:
            out = sh(self.net, "cat /tmp/bench-backend-*.log 2>/dev/null | grep -c '^listening on' || true",
                     check=False)
            return out.strip().isdigit() and int(out.strip()) == count

        wait_for(ready, 30, f"{count} backend process(es) to listen")

    def stop_backends(self, kill: bool = False) -> None:
        """Stop the backends: SIGTERM, or SIGKILL (kill=True: every connection they hold drops at once)."""
        if not self.backends:
            return
        pids = " ".join(f"$(cat /tmp/bench-backend-{i}.pid)" for i in self.backends)
        sh(self.net, f"kill {'-KILL ' if kill else ''}{pids} 2>/dev/null; true", check=False)
        wait_for(lambda: sh(self.net, f"for p in {pids}; do kill -0 $p 2>/dev/null && echo alive; done; true",
                            check=False).strip() == "", 30, "the backends to exit", fail=False)
        sh(self.net, "rm -f /tmp/bench-backend-*.pid /tmp/bench-backend-*.log", check=False)
        self.backends = []

    def loadgen(self, *args: str, timeout: float) -> dict[str, Any]:
        out = docker("exec", self.net, "python3", "/bench/loadgen.py", *args, timeout=timeout, check=False)
        lines = json_lines(out)
        if not lines:
            raise BenchError(f"loadgen {args[0]} printed nothing: {out[-500:]}")
        return lines[-1]

    def backend_stats(self, reset: bool = False) -> dict[str, Any]:
        url = f"http://127.0.0.1:{BACKEND_PORT}/api/_stats" + ("?reset=1" if reset else "")
        answer = self.loadgen("get", "--url", url, timeout=30)
        if answer.get("status") != 200:
            raise BenchError(f"backend stats: {answer}")
        return answer["body"]


def wait_for(predicate: Any, seconds: float, what: str, fail: bool = True) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(BenchError):
            if predicate():
                return True
        time.sleep(0.25)
    if fail:
        raise BenchError(f"timed out after {seconds:g} s waiting for {what}")
    return False


# --------------------------------------------------------------------------- 1. capacity


class LineReader:
    """Lines from a child's stdout, with a timeout on each read."""

    def __init__(self, stream: Any) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.queue.put(line)
        self.queue.put(None)

    def json(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"the load generator did not answer within {timeout:g} s")
            try:
                line = self.queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise BenchError("the load generator exited")
            if line.strip().startswith("{"):
                return json.loads(line)


class Clients:
    """bench/loadgen.py ramp as a child process: WebSockets held through one proxy port, grown on demand.

    Its workers are spread over loopback addresses (one source/destination address pair each, under the
    per-process open-file limit): 10,000 WebSockets per client process at most.
    """

    def __init__(self, lab: Lab, port: int, target: int, *, tls: bool, step_timeout: float, lifetime: int) -> None:
        self.workers = max(2, math.ceil(target / 10000))
        self.dests = [f"127.0.0.{i}:{port}" for i in range(1, self.workers + 1)]
        self.step_timeout = step_timeout
        # Handshakes in flight, all client processes together: fewer than nginx's default listen backlog (511),
        # so a full accept queue means the proxy is not keeping up, not that the clients arrived all at once.
        concurrency = max(16, HANDSHAKES_IN_FLIGHT // self.workers)
        cmd = ["docker", "exec", "-i", lab.net, "python3", "/bench/loadgen.py", "ramp", "--workers",
               str(self.workers), "--concurrency", str(concurrency), "--timeout", "30", "--host-header", HOST_HEADER,
               "--path", WS_PATH, "--step-seconds", str(step_timeout), "--max-seconds", str(lifetime)]
        if tls:
            cmd += ["--tls", "--cafile", "/tls/ca.pem"]
        for dest in self.dests:
            cmd += ["--dest", dest]
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.reader = LineReader(self.process.stdout)
        try:
            self.reader.json(30)  # ready
        except BenchError:
            self.close()
            raise

    def send(self, command: dict[str, Any]) -> None:
        self.process.stdin.write(json.dumps(command) + "\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]

    def grow(self, total: int) -> dict[str, Any]:
        self.send({"op": "grow", "total": total})
        return self.reader.json(self.step_timeout + 60)

    def storm(self, seconds: float, restart: Any) -> dict[str, Any]:
        """Arm the storm, call restart() (which drops every connection), and wait until all are back."""
        self.send({"op": "storm", "seconds": seconds})
        armed = self.reader.json(90)
        restarted = restart()
        answer = self.reader.json(seconds + 120)
        return {**answer, "armed": armed.get("armed"), "restart": restarted}

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError, BenchError):
            self.send({"op": "close"})
            self.reader.json(90)
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # type: ignore[union-attr]
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def ramp(lab: Lab, system: System, profile: dict[str, Any], *, tls: bool = False) -> dict[str, Any]:
    """Hold ever more WebSockets through one proxy, echo-verifying all of them at each step.

    Over ws the steps of the profile up to its target; over wss (tls) one step, the profile's wss_memory: the
    same number through every TLS proxy, within each one's single-process limits, for memory like for like.
    """
    label = system.label
    port = system.tls_port if tls else system.port
    assert port is not None
    target = profile["wss_memory"] if tls else profile["target"]
    steps = [target] if tls else [total for total in profile["steps"] if total <= target]
    time.sleep(1.0)
    idle = system.processes()
    idle_rss = sum(p["rss_kib"] for p in idle)
    open_files_limit = system.open_files_limit()
    log_offset = error_log_size(system.container, system.log_path)
    step_timeout = 300.0 if target > 1000 else 60.0
    clients = Clients(lab, port, target, tls=tls, step_timeout=step_timeout, lifetime=profile["lifetime_s"] // 2)
    steps_done: list[dict[str, Any]] = []
    stop_reason = "target reached"
    try:
        for total in steps:
            before = tcp_counters(lab.net)
            answer = clients.grow(total)
            after = tcp_counters(lab.net)
            procs = system.processes()
            rss = sum(p["rss_kib"] for p in procs)
            held = answer["held"]
            step = {
                "requested": total,
                "held": held,
                "errors": answer["errors"],
                "open_errors": answer["open_errors"],
                "echo_errors": answer["echo_errors"],
                "open_s": answer["open_s"],
                "verify_s": answer["verify_s"],
                "step_s": answer["step_s"],
                "nginx_rss_kib": rss,
                "kib_per_websocket": round((rss - idle_rss) / held, 2) if held else None,
                "worker_fds": [p["fds"] for p in (procs[1:] if system.program == "nginx" else procs)],
                "client_held": answer["per_worker_held"],
                "listen_overflows": after["ListenOverflows"] - before["ListenOverflows"],
                "tcp_established": after.get("established"),
                "tcp_time_wait": after.get("time_wait"),
            }
            steps_done.append(step)
            log(f"  {label}{' wss' if tls else ''}: {held}/{total} held, {answer['errors']} errors, "
                f"{system.program} RSS {rss / 1024:.1f} MiB, fds {step['worker_fds']}, "
                f"listen overflows {step['listen_overflows']}, {answer['step_s']:.1f} s")
            if answer["errors"] or held < total:
                stop_reason = f"errors at {total}"
                break
    finally:
        clients.close()
    if not steps_done or steps_done[0]["held"] == 0:
        first = steps_done[0]["open_errors"] if steps_done else "no step ran"
        raise BenchError(f"{label}: not one WebSocket held ({first})")
    best = max(steps_done, key=lambda s: s["held"])
    # Let the proxy see every close before the next figure (bounded).
    wait_for(lambda: max(p["fds"] for p in system.connection_holders()) < 100, 60, f"{label} to drop the sockets",
             fail=False)
    return {
        "label": label,
        "program": system.program,
        "port": port,
        "tls": tls,
        "open_files_limit": open_files_limit,
        "client_processes": clients.workers,
        "client_dests": clients.dests,
        "max_held": best["held"],
        "max_held_at_step": best["requested"],
        "errors": sum(s["errors"] for s in steps_done),
        "first_error_at": next((s["requested"] for s in steps_done if s["errors"]), None),
        "stop_reason": stop_reason,
        "idle_rss_kib": idle_rss,
        "rss_at_max_kib": best["nginx_rss_kib"],
        "kib_per_websocket": best["kib_per_websocket"],
        "error_log": error_log_summary(system.container, log_offset, system.log_path),
        "steps": steps_done,
    }


def measure_capacity(lab: Lab, profile: dict[str, Any]) -> dict[str, Any]:
    backends = max(2, math.ceil(profile["target"] / 10000))
    lab.start_backends(backends)
    results: dict[str, Any] = {"target": profile["target"], "wss_target": profile["wss_memory"],
                               "backend_processes": backends, "systems": [system.label for system in lab.systems()],
                               "wss": {}}
    try:
        for system in lab.systems():
            log(f"capacity: {system.label}, ramp to {profile['target']} ({backends} backend processes)")
            lab.fresh(system)
            results[system.label] = ramp(lab, system, profile)
        for system in lab.systems():
            if system.tls_port:
                log(f"capacity: {system.label} over wss, {profile['wss_memory']} WebSockets")
                lab.fresh(system)
                results["wss"][system.label] = ramp(lab, system, profile, tls=True)
    finally:
        lab.stop_backends()
    return results


# --------------------------------------------------------------------------- handshakes per second


def measure_handshakes(lab: Lab, profile: dict[str, Any]) -> dict[str, Any]:
    """New WebSockets per second through each proxy: ws, and wss with an ECDSA P-256 and an RSA 2048 certificate.

    The load generator shares the machine's CPUs with the proxy, and a Python TLS client costs more CPU per
    handshake than any of the proxies: the proxy's own CPU time per handshake (from /proc) is the figure that
    compares the proxies when the clients are the bottleneck.
    """
    lab.start_backends(2)
    seconds = profile["handshake_seconds"]
    results: dict[str, Any] = {"seconds": seconds, "systems": [system.label for system in lab.systems()]}
    try:
        for system in lab.systems():
            kinds = {"ws": f"ws://127.0.0.1:{system.port}{WS_PATH}"}
            if system.tls_port:
                kinds["wss ECDSA"] = f"wss://127.0.0.1:{system.tls_port}{WS_PATH}"
            if system.rsa_port:
                kinds["wss RSA"] = f"wss://127.0.0.1:{system.rsa_port}{WS_PATH}"
            results[system.label] = {}
            for kind, url in kinds.items():
                ticks = system.cpu_ticks()
                report = lab.loadgen("handshakes", "--url", url, "--seconds", str(seconds), "--workers", "2",
                                     "--concurrency", "32", "--host-header", HOST_HEADER, "--cafile", "/tls/ca.pem",
                                     timeout=seconds + 120)
                proxy_cpu_s = (system.cpu_ticks() - ticks) / CLOCK_TICKS
                ok_count = report.get("ok", 0)
                report["proxy_cpu_s"] = round(proxy_cpu_s, 2)
                report["proxy_cpu_us_per_handshake"] = round(proxy_cpu_s * 1e6 / ok_count, 1) if ok_count else None
                results[system.label][kind] = report
                log(f"  handshakes {system.label} {kind}: {report.get('per_second')}/s, "
                    f"{report['errors']['total']} errors, proxy CPU {report['proxy_cpu_us_per_handshake']} µs each")
                if not ok_count:
                    raise BenchError(f"handshakes {system.label} {kind}: none succeeded: {report.get('errors')}")
    finally:
        lab.stop_backends()
    return results


# --------------------------------------------------------------------------- reconnect storm


def measure_storm(lab: Lab, profile: dict[str, Any], held: dict[str, int]) -> dict[str, Any]:
    """Every held WebSocket dropped at once (the backends are killed and started again), every client
    reconnecting at once and again after each failure: seconds until all are back and echoing.

    A proxy holds the profile's storm size, or 90 % of what it held in this run's capacity ramp when that was
    less (the seed's config; a single-process peer under its open-file limit).
    """
    backends = max(2, math.ceil(profile["storm"] / 10000))
    lab.start_backends(backends)
    results: dict[str, Any] = {"requested": profile["storm"], "seconds_bound": profile["storm_seconds"],
                               "backend_processes": backends, "systems": [system.label for system in lab.systems()]}

    def restart() -> dict[str, float]:
        started = time.monotonic()
        lab.stop_backends(kill=True)
        killed = time.monotonic()
        lab.start_backends(backends)
        return {"kill_s": round(killed - started, 3), "down_s": round(time.monotonic() - killed, 3)}

    try:
        for system in lab.systems():
            size = profile["storm"]
            if system.label in held and held[system.label] < size:
                size = max(100, held[system.label] * 9 // 10 // 100 * 100)
            log(f"storm: {system.label}, {size} WebSockets, backends restarted under them")
            clients = Clients(lab, system.port, size, tls=False, step_timeout=300.0,
                              lifetime=profile["lifetime_s"] // 2)
            try:
                grown = clients.grow(size)
                if grown["held"] < size:
                    results[system.label] = {"size": size, "held_before": grown["held"],
                                             "error": f"held {grown['held']} of {size} before the storm"}
                    log(f"  storm {system.label}: held only {grown['held']} of {size}; no storm")
                    continue
                answer = clients.storm(profile["storm_seconds"], restart)
                verified = clients.grow(size)  # every reconnected WebSocket echoes once more
            finally:
                clients.close()
            results[system.label] = {"size": size, "held_before": grown["held"], **answer,
                                     "held_after": verified["held"], "verify_errors": verified["errors"]}
            log(f"  storm {system.label}: {answer['back']}/{answer['dropped']} back in {answer['last_back_s']} s, "
                f"{answer['failed_attempts']} failed attempts, {answer['lost_clients']} lost; "
                f"{verified['held']} echo after")
            wait_for(lambda s=system: max(p["fds"] for p in s.connection_holders()) < 100, 60,
                     f"{system.label} to drop the sockets", fail=False)
    finally:
        lab.stop_backends()
    return results


# --------------------------------------------------------------------------- 2. round trips


DIRECT_TLS_PORT = 5443  # the backend with TLS of its own (ws_backend.py --tls-cert): the "direct wss" baseline


def start_tls_backend(lab: Lab) -> None:
    """ws_backend.py with Python's own TLS on DIRECT_TLS_PORT, in the lab (stopped by stop_tls_backend)."""
    docker("exec", "-d", lab.net, "sh", "-c",
           "echo $$ > /tmp/bench-tls-backend.pid; exec python3 /opt/wsproxy/ws_backend.py "
           "--tls-cert /tls/server.pem --tls-key /tls/server.key "
           f"--host 127.0.0.1 --port {DIRECT_TLS_PORT} --name backend-tls "
           "> /tmp/bench-tls-backend.log 2>&1")
    wait_for(lambda: "listening on" in sh(lab.net, "cat /tmp/bench-tls-backend.log 2>/dev/null; true", check=False),
             30, "the TLS backend to listen")


def stop_tls_backend(lab: Lab) -> None:
    sh(lab.net, "test -s /tmp/bench-tls-backend.pid && kill $(cat /tmp/bench-tls-backend.pid) 2>/dev/null;"
       " rm -f /tmp/bench-tls-backend.pid /tmp/bench-tls-backend.log; true", check=False)


def measure_rtt(lab: Lab, profile: dict[str, Any]) -> dict[str, Any]:
    lab.start_backends(1)
    try:
        start_tls_backend(lab)
        targets = {
            "direct": f"ws://127.0.0.1:{BACKEND_PORT}{WS_PATH}",
            "direct wss": f"wss://127.0.0.1:{DIRECT_TLS_PORT}{WS_PATH}",
        }
        for system in lab.systems():  # the seed's config has no TLS server
            targets[f"{system.label} ws"] = f"ws://127.0.0.1:{system.port}{WS_PATH}"
            if system.tls_port:
                targets[f"{system.label} wss"] = f"wss://127.0.0.1:{system.tls_port}{WS_PATH}"
        args = ["rtt", "--samples", str(profile["rtt_samples"]), "--warmup", str(profile["rtt_warmup"]),
                "--round-size", str(profile["rtt_round_size"]), "--baseline", "direct",
                "--size", "640", "--host-header", HOST_HEADER, "--cafile", "/tls/ca.pem", "--max-seconds", "240"]
        for name, url in targets.items():
            args += ["--target", f"{name}={url}"]
        log(f"rtt: {profile['rtt_samples']} round trips of 640-byte frames on each of {', '.join(targets)}, "
            f"interleaved in rounds of {profile['rtt_round_size']}")
        report = lab.loadgen(*args, timeout=300)
    finally:
        stop_tls_backend(lab)
        lab.stop_backends()
    failed = {name: path["error"] for name, path in report.get("paths", {}).items() if "error" in path}
    if failed or report.get("error"):
        raise BenchError(f"rtt: {failed or report.get('error')}")
    paths = report["paths"]
    direct = paths["direct"]
    for path in paths.values():
        path["p50_ratio"] = round(path["p50_us"] / direct["p50_us"], 2)
        path["p99_ratio"] = round(path["p99_us"] / direct["p99_us"], 2)
    # Like for like: wss through nginx against wss straight to the backend (TLS on both sides of both).
    like = paths["role wss"]
    like["vs_direct_wss"] = {"p50_ratio": round(like["p50_us"] / paths["direct wss"]["p50_us"], 2),
                             "p99_ratio": round(like["p99_us"] / paths["direct wss"]["p99_us"], 2)}
    return report


# --------------------------------------------------------------------------- 3. plain requests


def measure_http(lab: Lab, profile: dict[str, Any]) -> dict[str, Any]:
    lab.start_backends(1)  # one process, so its counters are the whole truth
    results: dict[str, Any] = {"requests": profile["http_requests"], "concurrency": profile["http_concurrency"],
                               "rounds": profile["http_rounds"]}
    try:
        runs: dict[str, list[dict[str, Any]]] = {system.label: [] for system in lab.systems()}
        results["systems"] = list(runs)
        for round_index in range(profile["http_rounds"]):
            for system in lab.systems():
                label = system.label
                url = f"http://127.0.0.1:{system.port}/api/bench"
                common = ["--url", url, "--host-header", HOST_HEADER, "--concurrency",
                          str(profile["http_concurrency"]), "--max-seconds", "240"]
                lab.loadgen("http", *common, "--requests", str(profile["http_warmup"]), timeout=300)
                lab.backend_stats(reset=True)
                report = lab.loadgen("http", *common, "--requests", str(profile["http_requests"]), timeout=300)
                stats = lab.backend_stats()
                if "error" in report or report.get("ok", 0) == 0:
                    raise BenchError(f"http {label}: {report.get('error') or report.get('errors')}")
                reached = max(1, stats["http_requests"])
                report["backend_connections_opened"] = stats["connections_opened"]
                report["backend_requests"] = stats["http_requests"]
                report["backend_connections_per_10k"] = round(stats["connections_opened"] * 10000 / reached, 1)
                runs[label].append(report)
                log(f"  http {label} round {round_index + 1}: {report['requests_per_s']:.0f} req/s, "
                    f"{stats['connections_opened']} backend connections for {stats['http_requests']} requests")
    finally:
        lab.stop_backends()
    for label, reports in runs.items():  # the median round: one slow moment of a shared machine does not count
        results[label] = {
            "requests_per_s": statistics.median(r["requests_per_s"] for r in reports),
            "backend_connections_per_10k": statistics.median(r["backend_connections_per_10k"] for r in reports),
            "errors": sum(r["errors"]["total"] for r in reports),
            "latency_p50_ms": statistics.median(r["latency_p50_ms"] for r in reports),
            "latency_p99_ms": statistics.median(r["latency_p99_ms"] for r in reports),
            "runs": reports,
        }
    return results


# --------------------------------------------------------------------------- 4. converge time


def measure_converge(run_id: str, raw: Path, profile: dict[str, Any], knobs: dict[str, Any],
                     backend: Any) -> dict[str, Any]:
    results: dict[str, Any] = {"vhost_counts": profile["vhost_counts"], "runs": []}
    lab = Lab(run_id, raw, 1800)
    try:
        for count in profile["vhost_counts"]:
            name = f"{lab.prefix}-converge-{count}"
            lab.start_container(name, IMAGE, "--network", "none")
            vhosts = [{"name": f"v{i:03d}", "server_name": f"v{i:03d}.{HOST_HEADER}", "listen": ROLE_PORT,
                       "locations": [{"path": "/api/", "backend": backend}]} for i in range(1, count + 1)]
            inventory = raw / f"inventory-converge-{count}.yml"
            write_inventory(inventory, name, knobs, vhosts)
            log(f"converge: {count} vhost(s), first run")
            first = ansible_playbook(inventory, raw / f"ansible-converge-{count}-first.log", 1500)
            log(f"converge: {count} vhost(s), first run {first['seconds']:.1f} s (changed={first['changed']}); "
                "re-run")
            again = ansible_playbook(inventory, raw / f"ansible-converge-{count}-rerun.log", 1500)
            log(f"converge: {count} vhost(s), re-run {again['seconds']:.1f} s (changed={again['changed']})")
            results["runs"].append({"vhosts": count, "first": first, "rerun": again,
                                    "idempotent": again["changed"] == 0})
            lab.remove(name)
    finally:
        lab.close()
    return results


# --------------------------------------------------------------------------- run

LAB_MEASURES = {"capacity": measure_capacity, "handshakes": measure_handshakes, "rtt": measure_rtt,
                "http": measure_http}


def machine_info(source: Path) -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()
    role_files = sorted(p for name in SNAPSHOT_ITEMS for p in [CHECKOUT / name, *(CHECKOUT / name).rglob("*")]
                        if p.is_file())
    digest = hashlib.sha256()
    for path in role_files:
        digest.update(str(path.relative_to(CHECKOUT)).encode() + b"\0" + path.read_bytes())
    commit = run(["git", "rev-parse", "--short", "HEAD"], timeout=10, check=False, cwd=source).stdout.strip()
    dirty = run(["git", "status", "--porcelain", *SNAPSHOT_ITEMS], timeout=10, check=False,
                cwd=source).stdout.strip()
    if source != ROOT:
        commit = f"{commit or '?'} (role from {source})"
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(int(meminfo[1]) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python_host": platform.python_version(),
        "open_files_hard_limit": int(run(["sh", "-c", "ulimit -Hn"], timeout=10).stdout.strip()),
        "docker": docker("version", "--format", "{{.Server.Version}}").strip(),
        "git_commit": commit,
        "role_uncommitted_changes": bool(dirty),
        "role_tree_sha256": digest.hexdigest()[:16],
        "ephemeral_port_range": Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split(),
        "load_average_at_start": load_average(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small and quick (make test)")
    parser.add_argument("--only", default=",".join(MEASUREMENTS),
                        help=f"comma-separated subset of {','.join(MEASUREMENTS)}")
    parser.add_argument("--systems", default=",".join(SYSTEM_LABELS),
                        help=f"comma-separated subset of {','.join(SYSTEM_LABELS)} (a quicker look at some)")
    parser.add_argument("--rebuild-image", action="store_true", help=f"rebuild {IMAGE}")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: rewrite results.md and the plots from results.json")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(MEASUREMENTS))
    if unknown:
        parser.error(f"--only: unknown measurement(s) {', '.join(unknown)}; choose from {', '.join(MEASUREMENTS)}")
    global ACTIVE_SYSTEMS
    ACTIVE_SYSTEMS = tuple(label for label in SYSTEM_LABELS if label in args.systems.split(","))
    if not ACTIVE_SYSTEMS:
        parser.error(f"--systems: choose from {', '.join(SYSTEM_LABELS)}")

    profile_name = "smoke" if args.smoke else "full"
    profile = PROFILES[profile_name]
    out: Path = profile["out"]
    if args.report_only:
        import report

        report.write_all(json.loads((out / "results.json").read_text()), out)
        log(f"rewrote {out / 'results.md'} and the plots")
        return 0
    raw = out / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir(parents=True)
    run_id = os.environ.get("BENCH_RUN_ID") or str(os.getpid())
    started = time.monotonic()

    global CHECKOUT
    source = CHECKOUT
    CHECKOUT = snapshot_checkout(source, raw / "checkout")
    results_path = out / "results.json"
    previous: dict[str, Any] = {}
    if results_path.exists() and set(only) != set(MEASUREMENTS):
        with contextlib.suppress(ValueError):
            previous = json.loads(results_path.read_text())
    results: dict[str, Any] = {
        "profile": profile_name,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(source),
        "targets": TARGETS,
        "measurements": dict(previous.get("measurements", {})) if previous.get("profile") == profile_name else {},
    }
    failures: list[str] = []
    machine = results["machine"]
    provenance = {"started": results["started"], "git_commit": machine["git_commit"],
                  "role_uncommitted_changes": machine["role_uncommitted_changes"],
                  "role_tree_sha256": machine["role_tree_sha256"]}

    image_id = ensure_image(args.rebuild_image)
    results["machine"]["nginx"] = docker("run", "--rm", "--network", "none", IMAGE, "sh", "-c",
                                         "nginx -v 2>&1").strip().split("/")[-1]
    results["machine"]["image"] = image_id[:19]
    knobs, backend = tuned_vars(profile["target"])
    results["role_vars"] = {**knobs, "backend": backend}

    lab_measurements = [m for m in only if m != "converge"]
    if lab_measurements:
        make_tls(raw / "tls")
        lab = Lab(run_id, raw, profile["lifetime_s"])
        try:
            log(f"lab: containers {lab.net} (loopback only), {lab.seed}, {lab.role}, {lab.peers}")
            lab.up(seed=True, role=True, peers=True)
            seed_settings = lab.configure_seed()
            log(f"seed nginx: {seed_settings}")
            log("role: ansible-playbook site.yml (bench/tuned-vars.yml, "
                f"max_websockets={knobs.get('websocket_proxy_max_websockets')}, backend={backend})")
            role_setup = lab.configure_role(knobs, backend, 900)
            log(f"role nginx: {role_setup['settings']} (converged in {role_setup['converge']['seconds']} s)")
            results["nginx"] = {"seed": seed_settings, "role": role_setup["settings"]}
            results["peers"] = lab.configure_peers(backend, profile["target"])
            log(f"peers: {results['peers']}")
            for name in MEASUREMENTS:
                if name not in lab_measurements:
                    continue
                try:
                    load_before = load_average()
                    if name == "storm":  # sized by what each proxy held in this run's capacity ramp, if any
                        capacity = results["measurements"].get("capacity") or {}
                        held = {label: side["max_held"] for label, side in capacity.items()
                                if isinstance(side, dict) and "max_held" in side}
                        measured = measure_storm(lab, profile, held if capacity.get("status") == "ok" else {})
                    else:
                        measured = LAB_MEASURES[name](lab, profile)
                    results["measurements"][name] = {"status": "ok", **measured, "run": provenance,
                                                     "load_average": [load_before, load_average()]}
                except BenchError as exc:
                    failures.append(f"{name}: {exc}")
                    results["measurements"][name] = {"status": "error", "error": str(exc)}
                    log(f"{name}: FAILED: {exc}")
        except BenchError as exc:
            for name in lab_measurements:
                failures.append(f"{name}: setup failed: {exc}")
                results["measurements"][name] = {"status": "error", "error": f"setup: {exc}"}
            log(f"setup FAILED: {exc}")
        finally:
            lab.close()

    if "converge" in only:
        try:
            load_before = load_average()
            measured = measure_converge(run_id, raw, profile, knobs, backend)
            results["measurements"]["converge"] = {"status": "ok", **measured, "run": provenance,
                                                   "load_average": [load_before, load_average()]}
        except BenchError as exc:
            failures.append(f"converge: {exc}")
            results["measurements"]["converge"] = {"status": "error", "error": str(exc)}
            log(f"converge: FAILED: {exc}")

    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["machine"]["load_average_at_end"] = load_average()
    out.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    try:
        import report

        report.write_all(results, out)
    except Exception:  # a broken plot must not hide the figures; it fails the run all the same
        failures.append("report: " + traceback.format_exc(limit=3))
    log(f"results: {results_path} ({results['elapsed_s']:.0f} s)")
    if failures:
        log("measurements that failed to run:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    sys.exit(main())
