"""ACME against a real ACME server: Pebble issues acme-calls (api.acme.test, calls.acme.test) through certbot's
webroot authenticator, Pebble validating HTTP-01 over the proxy's port 80 for real.

The tests run in the order written, each from where the one before left the hosts; the ones that stop Pebble come
last (Pebble forgets its root and accounts when it stops, so `molecule verify` does not run twice on one converge).
Every certificate is read from nginx itself (a handshake with SNI) and verified against Pebble's root, fetched from
Pebble's management interface: no trust store has it.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import (
    NGINX_MASTER,
    NGINX_WORKERS,
    ansible_playbook,
    docker,
    etc_nginx_state,
    failure_messages,
    host_named,
    nginx_pids,
    nginx_processes,
    play_recap,
    state_diff,
    wait_for,
    wsclient,
)

testinfra_hosts = ["ansible://proxies"]
pytestmark = pytest.mark.usefixtures("json_results")

PROXY = "wsproxy-acme-bookworm"
BACKEND = "wsproxy-acme-backend"
PEBBLE = "wsproxy-acme-pebble"
NAMES = ["api.acme.test", "calls.acme.test"]
LINEAGE = "acme-calls"
# What certbot trusts for Pebble's HTTPS (websocket_proxy_acme_ca_bundle), and Pebble's issuing root, saved here.
PEBBLE_HTTPS_CA = "/etc/ssl/wsproxy/ca.pem"
PEBBLE_ROOT = "/tmp/pebble-root.pem"
SERVED_CERT = "python3 /opt/acme/served_cert.py"
# nginx's directive -> the file of certbot's live folder it must read (directly, or through links).
SERVED_FILES = {"ssl_certificate": "fullchain.pem", "ssl_certificate_key": "privkey.pem"}
DEPLOY_HOOK = "/etc/letsencrypt/renewal-hooks/deploy/wsproxy-nginx"
# An operator renewing by hand: certbot takes the CA bundle from REQUESTS_CA_BUNDLE only, and without a terminal
# `certbot renew` first sleeps up to 8 minutes unless told not to.
RENEW = (
    f"REQUESTS_CA_BUNDLE={PEBBLE_HTTPS_CA} certbot renew --cert-name {LINEAGE} --force-renewal "
    "--no-random-sleep-on-renew"
)
HOLD_CLIENT = "python3 /opt/live-reload/hold_until.py"
HOLD_RESULT = "/tmp/acme-hold.json"
HOLD_RELEASE = "/tmp/acme-hold.release"
HELD = 20
ACME_CALLS = {
    "name": LINEAGE,
    "server_name": NAMES,
    "tls": {"acme": True},
    "redirect_http": True,
    "locations": [{"path": "/api/", "backend": "calls-backend:5006"}],
}
# A second ACME vhost: no container answers to extra.acme.test, so Pebble cannot validate it.
EXTRA = {
    "name": "acme-extra",
    "server_name": "extra.acme.test",
    "tls": {"acme": True},
    "locations": [{"path": "/api/", "backend": "calls-backend:5006"}],
}


def run_ok(host: Any, command: str) -> str:
    result = host.run(command)
    assert result.rc == 0, f"{command!r}: rc={result.rc} stdout={result.stdout!r} stderr={result.stderr!r}"
    return result.stdout


def served(host: Any, name: str) -> dict[str, Any]:
    """What nginx serves for this SNI name: serial, issuer, names, key, and whether it verifies with Pebble's root."""
    return json.loads(run_ok(host, f"{SERVED_CERT} {name} --root {PEBBLE_ROOT}"))


def served_serials(host: Any) -> set[str]:
    return {served(host, name)["serial"] for name in NAMES}


def archived_certificates(host: Any) -> list[str]:
    return sorted(run_ok(host, f"ls /etc/letsencrypt/archive/{LINEAGE}").split())


def files_only(state: dict[str, Any]) -> dict[str, Any]:
    return {path: value for path, value in state.items() if path not in (NGINX_MASTER, NGINX_WORKERS)}


def assert_echoes(host: Any, name: str) -> None:
    result = wsclient(
        host, f"wss://{name}/api/frontend-audio", "--cafile", PEBBLE_ROOT, "--text", "hi", "--binary", "640"
    )
    assert (result["status"], result["text_echo"], result["binary_echo"]) == (101, True, True), result


def converge_with_extra(host: Any) -> tuple[Any, str]:
    """site.yml with acme-calls and acme-extra; the run and its failure messages for the proxy."""
    run = ansible_playbook("site.yml", "-l", PROXY, "-e", json.dumps({"websocket_proxy_vhosts": [ACME_CALLS, EXTRA]}))
    return run, " | ".join(failure_messages(run).get(PROXY, []))


def assert_first_issuance_failed_cleanly(host: Any, run: Any, message: str, before: dict[str, Any]) -> None:
    assert run.returncode != 0, run.stdout[-4000:]
    assert play_recap(run.stdout).get(PROXY, {}).get("failed") == 1, run.stdout[-3000:]
    assert "acme-extra" in message and "extra.acme.test" in message, message
    after = etc_nginx_state(host)
    assert files_only(after) == files_only(before), state_diff(files_only(before), files_only(after))
    assert after[NGINX_MASTER] == before[NGINX_MASTER], "nginx was restarted"
    assert not host.file("/etc/letsencrypt/live/acme-extra").exists
    assert "extra.acme.test" not in host.run("nginx -T").stdout
    print(f"after the failed first issuance: workers {before[NGINX_WORKERS]} -> {after[NGINX_WORKERS]}")


@pytest.fixture(scope="module")
def pebble_root(host: Any) -> str:
    """Pebble's issuing root (new every time Pebble starts), fetched over its management interface's HTTPS."""
    run_ok(
        host,
        f"{SERVED_CERT} --fetch-root https://pebble:15000/roots/0 --cafile {PEBBLE_HTTPS_CA} --out {PEBBLE_ROOT}",
    )
    return PEBBLE_ROOT


@pytest.fixture(scope="module")
def pebble_stopped(host: Any) -> Iterator[None]:
    """Pebble's container stopped (its name no longer resolves) for the rest of the module; started again after."""
    docker("stop", "-t", "5", PEBBLE)
    yield
    docker("start", PEBBLE)
    pebble = host_named(PEBBLE)
    wait_for(lambda: pebble.socket("tcp://0.0.0.0:14000").is_listening, 30, "Pebble to listen again")


@pytest.mark.usefixtures("pebble_root")
def test_nginx_serves_a_certificate_from_pebble_for_both_names_with_a_p256_key(host: Any) -> None:
    certificates = {name: served(host, name) for name in NAMES}
    for name, cert in certificates.items():
        print(f"{name}: serial {cert['serial']}, issuer {cert['issuer']}, not after {cert['not_after']}")
        assert cert["verified"] is True, cert
        assert cert["issuer"].startswith("CN = Pebble Intermediate CA"), cert
        assert cert["names"] == sorted(NAMES), cert
        assert (cert["key_algorithm"], cert["curve"]) == ("id-ecPublicKey", "prime256v1"), cert
    # One certificate (lineage acme-calls) for both names, and it is certbot's current one.
    assert len({cert["serial"] for cert in certificates.values()}) == 1, certificates
    lineage = run_ok(host, f"openssl x509 -in /etc/letsencrypt/live/{LINEAGE}/cert.pem -noout -serial")
    assert lineage.strip() == f"serial={certificates[NAMES[0]]['serial']}"
    # nginx reads certbot's live files (so a renewal needs only a reload), whatever path the role gives them.
    dump = host.run("nginx -T").stdout
    for directive, live in SERVED_FILES.items():
        paths = re.findall(rf"^\s*{directive} (\S+);", dump, re.MULTILINE)
        assert len(paths) == 1, (directive, paths)
        print(f"{directive} {paths[0]}")
        real = run_ok(host, f"realpath -e {paths[0]} /etc/letsencrypt/live/{LINEAGE}/{live}").split()
        assert real[0] == real[1], (directive, paths[0], real)


def test_the_second_converge_did_not_ask_for_another_certificate(host: Any) -> None:
    # Molecule's idempotence step ran site.yml again (changed=0): certbot has still one certificate in its archive.
    assert archived_certificates(host) == ["cert1.pem", "chain1.pem", "fullchain1.pem", "privkey1.pem"], (
        "the idempotence run re-issued"
    )


@pytest.mark.usefixtures("pebble_root")
@pytest.mark.parametrize("name", NAMES)
def test_wss_echoes_through_nginx_verified_against_pebbles_root(host: Any, name: str) -> None:
    assert_echoes(host, name)


def test_port_80_answers_the_challenge_and_sends_the_rest_to_https(host: Any) -> None:
    # The webroot certbot renews into, from its renewal configuration (what Pebble fetches at every renewal).
    renewal = host.file(f"/etc/letsencrypt/renewal/{LINEAGE}.conf").content_string
    webroots = set(re.findall(r"^\S+ = (/\S+)$", renewal.split("[[webroot_map]]", 1)[-1], re.MULTILINE))
    assert len(webroots) == 1, renewal
    webroot = webroots.pop()
    challenges = f"{webroot}/.well-known/acme-challenge"
    token = "wsproxy-acme-test-token"
    run_ok(host, f"mkdir -p {challenges} && echo proof > {challenges}/{token}")
    try:
        for name in NAMES:
            answer = wsclient(host, "--http", f"http://{name}/.well-known/acme-challenge/{token}")
            assert (answer["status"], answer["body"]) == (200, "proof\n"), answer
            moved = wsclient(host, "--http", f"http://{name}/api/headers?x=1")
            assert moved["status"] == 301 and moved["headers"]["location"] == f"https://{name}/api/headers?x=1", moved
    finally:
        host.run(f"rm -f {challenges}/{token}")


@pytest.mark.usefixtures("pebble_root")
def test_a_forced_renewal_reloads_nginx_gracefully_and_open_websockets_stay(host: Any) -> None:
    backend = host_named(BACKEND)
    before = served_serials(host)
    host.run(f"rm -f {HOLD_RESULT} {HOLD_RESULT}.tmp {HOLD_RELEASE}")
    hold = (
        f"{HOLD_CLIENT} wss://{NAMES[0]}/api/frontend-audio {HELD} {HOLD_RELEASE} --max-seconds 120 "
        f"--cafile {PEBBLE_ROOT} > {HOLD_RESULT}.tmp 2>&1; mv {HOLD_RESULT}.tmp {HOLD_RESULT}"
    )
    host.run(f"setsid nohup sh -c {shlex.quote(hold)} > /dev/null 2>&1 &")

    def open_at_backend() -> bool:
        stats = wsclient(backend, "--http", "http://127.0.0.1:5006/api/_stats")
        return stats["body"]["websocket_open"] >= HELD

    wait_for(open_at_backend, 30, f"{HELD} WebSockets open at the backend")
    master, workers = nginx_pids(host)

    renewal = host.run(RENEW)
    assert renewal.rc == 0, renewal.stdout + renewal.stderr

    after = served_serials(host)
    print(f"forced renewal: serial {before} -> {after}; nginx master {master}")
    assert len(after) == 1 and after != before, (before, after)
    assert all(served(host, name)["verified"] for name in NAMES)
    assert "cert2.pem" in archived_certificates(host)
    # The deploy hook reloaded nginx (new workers) without a restart (same master); the old workers still hold
    # the WebSockets opened before the renewal.
    assert nginx_pids(host)[0] == master, "nginx was restarted by the renewal"
    processes = nginx_processes(host)
    current = [pid for pid, title in processes.items() if title == "nginx: worker process"]
    draining = [pid for pid, title in processes.items() if title == "nginx: worker process is shutting down"]
    print(f"workers before {workers}, after {current}, shutting down {draining}")
    assert current and not set(current) & set(workers), (workers, processes)
    assert draining and set(draining) <= set(workers), (workers, processes)

    assert host.run(f"touch {HOLD_RELEASE}").rc == 0
    wait_for(lambda: host.file(HOLD_RESULT).exists, 60, "the held WebSockets to echo and close")
    held = json.loads(host.file(HOLD_RESULT).content_string)
    assert held["released"] is True, held
    assert (held["opened"], held["echoed_before"], held["echoed_after"], held["errors"]) == (HELD, HELD, HELD, 0), held


def cron_jobs(host: Any) -> list[tuple[str, dict[str, str], str]]:
    """(file, its variables, command) of every certbot renewal in /etc/cron.d that no Debian package owns."""
    jobs = []
    for path in run_ok(host, "ls -1 /etc/cron.d").split():
        path = f"/etc/cron.d/{path}"
        if host.run(f"dpkg -S {path}").rc == 0:
            continue
        variables: dict[str, str] = {}
        for line in host.file(path).content_string.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            variable = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", line)
            if variable:
                variables[variable[1]] = variable[2]
                continue
            fields = line.split(None, 6)
            if len(fields) == 7 and "certbot" in fields[6] and "renew" in fields[6]:
                jobs.append((path, variables.copy(), fields[6]))
    return jobs


@pytest.mark.usefixtures("pebble_root")
def test_renewal_is_in_place_without_ansible_and_renews_as_cron_runs_it(host: Any) -> None:
    hook = host.file(DEPLOY_HOOK)
    assert hook.is_file and hook.user == "root" and hook.mode & 0o111 == 0o111, DEPLOY_HOOK
    assert hook.mode & 0o022 == 0, oct(hook.mode)
    code = "\n".join(line for line in hook.content_string.splitlines() if not line.lstrip().startswith("#"))
    assert "nginx -t" in code and "reload" in code and code.index("nginx -t") < code.index("reload"), code
    assert "restart" not in code, code
    # No systemd here: cron runs the renewals, and it is running.
    assert not host.file("/run/systemd/system").exists
    assert host.run("pgrep -x cron").rc == 0, "cron is not running"
    jobs = cron_jobs(host)
    assert jobs, host.run("grep -r certbot /etc/cron.d").stdout
    path, variables, command = jobs[0]
    # A file cron reads: root's, not writable by others, a name run-parts accepts.
    cron_file = host.file(path)
    assert cron_file.user == "root" and cron_file.mode & 0o022 == 0, (path, cron_file.user, oct(cron_file.mode))
    assert re.fullmatch(r"[A-Za-z0-9_-]+", path.rsplit("/", 1)[1]), path
    print(f"{path}: {command}")

    # Run the job as cron would: its file's variables, /etc/environment (pam_env), nothing of this shell; forced,
    # without its random sleep, so that it renews now.
    environment = {"HOME": "/root", "LOGNAME": "root", "USER": "root", "SHELL": "/bin/sh", **variables}
    pam_env = host.file("/etc/environment")
    if pam_env.exists:
        for line in pam_env.content_string.splitlines():
            found = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=\"?([^\"]*)\"?\s*$", line)
            if found:
                environment.setdefault(found[1], found[2])
    before = served_serials(host)
    master, _workers = nginx_pids(host)
    assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in environment.items())
    job = f"{command} --force-renewal --no-random-sleep-on-renew"
    result = host.run(f"env -i {assignments} /bin/sh -c {shlex.quote(job)}")
    assert result.rc == 0, f"the cron job failed: {result.stdout} {result.stderr}"
    after = served_serials(host)
    print(f"renewal as cron runs it: serial {before} -> {after}")
    assert after != before and all(served(host, name)["verified"] for name in NAMES), (before, after)
    assert nginx_pids(host)[0] == master


@pytest.mark.usefixtures("pebble_root")
def test_a_first_issuance_pebble_refuses_fails_the_run_and_leaves_nginx_as_it_was(host: Any) -> None:
    serials = served_serials(host)
    before = etc_nginx_state(host)
    run, message = converge_with_extra(host)
    print(f"failure message: {message}")
    assert_first_issuance_failed_cleanly(host, run, message, before)
    # Pebble's own answer (its HTTP-01 validation could not resolve the name), not just "certbot failed".
    assert "could not resolve" in message or "NXDOMAIN" in message, message
    assert served_serials(host) == serials
    assert_echoes(host, NAMES[0])


@pytest.mark.usefixtures("pebble_root", "pebble_stopped")
def test_with_pebble_stopped_a_renewal_fails_and_the_old_certificate_keeps_serving(host: Any) -> None:
    serials = served_serials(host)
    archive = archived_certificates(host)
    before = etc_nginx_state(host)
    renewal = host.run(RENEW)
    output = renewal.stdout + renewal.stderr
    print(f"renewal with Pebble stopped: rc={renewal.rc}, serving {serials}, master {before[NGINX_MASTER]}")
    assert renewal.rc != 0, output
    assert f"Failed to renew certificate {LINEAGE}" in output and "pebble" in output, output
    assert served_serials(host) == serials
    assert archived_certificates(host) == archive
    after = etc_nginx_state(host)
    assert after == before, state_diff(before, after)  # same files, same master and workers: no reload
    assert_echoes(host, NAMES[1])


@pytest.mark.usefixtures("pebble_root", "pebble_stopped")
def test_with_pebble_stopped_a_first_issuance_fails_the_run_and_leaves_nginx_as_it_was(host: Any) -> None:
    serials = served_serials(host)
    before = etc_nginx_state(host)
    run, message = converge_with_extra(host)
    print(f"failure message: {message}")
    assert_first_issuance_failed_cleanly(host, run, message, before)
    # certbot's own error: the ACME server's name does not resolve any more.
    assert "pebble" in message and ("Name or service not known" in message or "NewConnectionError" in message), message
    assert served_serials(host) == serials
    assert_echoes(host, NAMES[0])
