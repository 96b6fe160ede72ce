"""The security scenario: every protection of the role, attacked with real clients in the containers.

The proxy serves wss://api.example.test (and a redirect on port 80) in front of a backend that logs every request
and would grant any Upgrade (--naive-upgrade). /api/ allows the Origins https://app.example.test and
https://*.apps.example.test (and clients without Origin), with limit_conn 3; /device/ allows only the app's Origin
and refuses clients without one.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    PROJECT,
    ansible_playbook,
    backend_log,
    etc_nginx_state,
    failed_task,
    host_named,
    state_diff,
    wsclient,
)

testinfra_hosts = ["ansible://proxies"]

PROXY = "wsproxy-security-bookworm"
CA = "/etc/ssl/wsproxy/ca.pem"
WS = "wss://api.example.test/api/frontend-audio"
DEVICE = "wss://api.example.test/device/frontend-audio"
APP = "https://app.example.test"
SCENARIO = yaml.safe_load((Path(__file__).resolve().parents[1] / "molecule.yml").read_text())
GROUP_VARS = SCENARIO["provisioner"]["inventory"]["group_vars"]["proxies"]
DEFAULTS = yaml.safe_load((PROJECT / "roles" / "websocket_proxy" / "defaults" / "main.yml").read_text())
# Mozilla intermediate: the TLS 1.2 list the role writes, and the TLS 1.3 suites OpenSSL offers by default.
TLS12_CIPHERS = set(DEFAULTS["websocket_proxy_tls_ciphers"].split(":"))
TLS13_CIPHERS = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}


@pytest.fixture(scope="module")
def backend():
    return host_named("wsproxy-security-backend")


def ws(host: Any, url: str, *args: str) -> dict[str, Any]:
    return wsclient(host, url, "--cafile", CA, *args)


def unique(url: str) -> str:
    """A sub-path the backend treats as its WebSocket endpoint, which no other request uses."""
    return f"{url}/{uuid.uuid4().hex}"


def paths_seen(backend: Any) -> set[str]:
    return {entry["path"] for entry in backend_log(backend)}


# --------------------------------------------------------------------------- Origin allowlist


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example.net",
        "https://app.example.test.evil.net",  # the allowed name as a prefix of the attacker's
        "http://app.example.test",  # another scheme
        "https://app.example.test:8443",  # another port
        "https://apps.example.test",  # the wildcard's own domain is not a subdomain of itself
        "null",  # sandboxed iframes, file: pages
    ],
)
def test_a_foreign_origin_gets_403_and_the_backend_sees_nothing(host, backend, origin):
    url = unique(WS)
    result = ws(host, url, "--origin", origin, "--expect-status", "403")
    assert result["status"] == 403 and result["upgraded"] is False, result
    time.sleep(0.2)
    assert url.removeprefix("wss://api.example.test") not in paths_seen(backend), "the refused handshake got through"


@pytest.mark.parametrize("origin", [APP, "https://team.apps.example.test", "https://a.b.apps.example.test"])
def test_an_allowed_origin_gets_101_exact_and_wildcard(host, origin):
    result = ws(host, WS, "--origin", origin, "--text", "allowed")
    assert result["status"] == 101 and result["text_echo"] is True, result


def test_the_no_origin_policy_is_per_location(host, backend):
    # /api/: allow_missing_origin true (the default), for clients that are not browsers
    assert ws(host, WS, "--text", "no-origin")["status"] == 101
    # /device/: allow_missing_origin false
    url = unique(DEVICE)
    refused = ws(host, url, "--expect-status", "403")
    assert refused["status"] == 403, refused
    time.sleep(0.2)
    assert not any(path.endswith(url.rsplit("/", 1)[1]) for path in paths_seen(backend))
    assert ws(host, DEVICE, "--origin", APP, "--text", "device")["status"] == 101


def test_plain_requests_are_not_origin_checked(host):
    # CORS for plain requests is the application's: nginx passes them whatever their Origin.
    result = ws(host, "https://api.example.test/api/headers", "--http", "--origin", "https://evil.example.net")
    assert result["status"] == 200, result
    assert result["body"]["headers"]["origin"] == "https://evil.example.net"


# --------------------------------------------------------------------------- h2c smuggling


def test_an_h2c_upgrade_gets_no_101_and_no_tunnel(host, backend):
    # Control: the backend does switch protocols for h2c when asked directly...
    direct = wsclient(host, "ws://calls-backend:5006/api/frontend-audio", "--header", "Upgrade: h2c",
                      "--expect-status", "101")
    assert direct["status"] == 101, direct
    # ... through nginx, from an allowed Origin or none, the Upgrade never reaches it.
    for extra in ([], ["--origin", APP]):
        url = unique(WS)
        through = ws(host, url, "--header", "Upgrade: h2c", "--expect-status", "200,426", *extra)
        assert through["status"] != 101, through
        time.sleep(0.2)
        path = url.removeprefix("wss://api.example.test")
        seen = [entry for entry in backend_log(backend) if entry["path"] == path]
        assert seen, "the request should reach the backend as a plain request"
        assert all(entry["outcome"] != "naive-upgrade" and not entry["headers"]["upgrade"] for entry in seen), seen


# --------------------------------------------------------------------------- TLS


def s_client(host: Any, *args: str) -> tuple[int, str]:
    command = ("echo | timeout 10 openssl s_client -connect 127.0.0.1:443 -servername api.example.test "
               f"-CAfile {CA} {' '.join(shlex.quote(a) for a in args)}")
    result = host.run(f"bash -c {shlex.quote(command)} 2>&1")
    return result.rc, result.stdout


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_tls_1_0_and_1_1_are_refused_by_the_server(host, version):
    # Control: this client does speak the old version (SECLEVEL=0 lifts OpenSSL 3's own ban) with a server that
    # allows it, so nginx's refusal below is the server's, not the client's.
    server = ("timeout 15 openssl s_server -accept 127.0.0.1:4433 -cert /etc/ssl/wsproxy/server.pem "
              f"-key /etc/ssl/wsproxy/server.key {version} -cipher DEFAULT@SECLEVEL=0 -naccept 1 -quiet")
    host.run(f"setsid nohup bash -c {shlex.quote(server)} </dev/null >/dev/null 2>&1 &")
    time.sleep(1)
    control = host.run(f"bash -c 'echo | timeout 10 openssl s_client -connect 127.0.0.1:4433 {version} "
                       f"-cipher DEFAULT@SECLEVEL=0 2>&1'")
    negotiated = re.search(r"Protocol\s*: (\S+)", control.stdout)
    assert negotiated and negotiated[1] == {"-tls1": "TLSv1", "-tls1_1": "TLSv1.1"}[version], control.stdout[-2000:]
    assert control.rc == 0 and "Cipher is (NONE)" not in control.stdout, control.stdout[-2000:]
    # nginx: the server answers with a protocol_version alert
    rc, output = s_client(host, version, "-cipher", "DEFAULT@SECLEVEL=0")
    assert rc != 0, output[-2000:]
    assert "alert protocol version" in output, output[-2000:]
    assert "no protocols available" not in output


@pytest.mark.parametrize(("version", "profile"), [("-tls1_2", TLS12_CIPHERS), ("-tls1_3", TLS13_CIPHERS)])
def test_tls_1_2_and_1_3_succeed_with_a_cipher_of_the_profile(host, version, profile):
    rc, output = s_client(host, version)
    assert rc == 0, output[-2000:]
    assert "Verify return code: 0 (ok)" in output
    # "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384": what the handshake negotiated
    negotiated = re.search(r"New, (\S+), Cipher is (\S+)", output)
    assert negotiated, output[-2000:]
    protocol, cipher = negotiated[1], negotiated[2]
    assert protocol == {"-tls1_2": "TLSv1.2", "-tls1_3": "TLSv1.3"}[version]
    assert cipher in profile, f"{cipher} negotiated, not in the profile {sorted(profile)}"


def test_a_tls_1_2_cipher_outside_the_profile_is_refused(host):
    # CBC with SHA-1: OpenSSL's DEFAULT offers it, Mozilla intermediate does not.
    rc, output = s_client(host, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA")
    assert rc != 0 and "alert handshake failure" in output, output[-2000:]


def test_plain_http_is_redirected_and_https_answers_carry_hsts(host):
    redirect = wsclient(host, "http://api.example.test/api/headers?x=1", "--http", "--expect-status", "301")
    assert redirect["status"] == 301 and redirect["headers"]["location"] == "https://api.example.test/api/headers?x=1"
    assert "strict-transport-security" not in redirect["headers"]
    answer = ws(host, "https://api.example.test/api/headers", "--http")
    assert answer["headers"]["strict-transport-security"] == "max-age=63072000", answer
    # "always": the refusals carry it too, and no answer names nginx's version
    refused = ws(host, WS, "--origin", "https://evil.example.net", "--expect-status", "403")
    assert refused["headers"]["strict-transport-security"] == "max-age=63072000", refused
    assert refused["headers"]["server"] == "nginx" and "nginx/" not in json.dumps(refused["body"])


def access_log_line(host: Any, path: str) -> str:
    """nginx's access log line for a request to path (written when the request ends: a WebSocket, at its close)."""
    for _attempt in range(20):
        lines = [line for line in host.file("/var/log/nginx/access.log").content_string.splitlines() if path in line]
        if lines:
            return lines[-1]
        time.sleep(0.1)
    raise AssertionError(f"no access log line for {path}")


def test_the_access_log_records_the_upgrade_status_and_the_session_duration(host):
    url = unique(WS)
    held = ws(host, url, "--origin", APP, "--text", "logged", "--idle", "1.5")
    assert held["status"] == 101, held
    line = access_log_line(host, url.removeprefix("wss://api.example.test"))
    assert '" 101 ' in line and "upgrade=websocket" in line, line
    session = float(re.search(r"session=([0-9.]+)s", line).group(1))
    assert 1.5 <= session < 30, line  # the whole stream, not the handshake
    refused = unique(WS)
    ws(host, refused, "--origin", "https://evil.example.net", "--expect-status", "403")
    line = access_log_line(host, refused.removeprefix("wss://api.example.test"))
    assert '" 403 ' in line and "upgrade=websocket" in line, line


def test_a_body_larger_than_client_max_body_size_gets_413(host):
    result = ws(host, "https://api.example.test/device/headers", "--http", "--method", "POST",
                "--header", "Content-Length: 5000", "--expect-status", "413")
    assert result["status"] == 413, result


# --------------------------------------------------------------------------- per-client limits


def test_limit_conn_refuses_the_fourth_websocket_of_one_address_with_429_while_another_address_connects(
    host, backend
):
    held = unique(WS)
    path = held.removeprefix("wss://api.example.test")
    host.run("rm -f /tmp/hold.json")
    host.run(f"setsid nohup python3 /opt/wsproxy/wsclient.py {held} --cafile {CA} --origin {APP} --hold 3 "
             f"--hold-seconds 12 > /tmp/hold.json 2>&1 &")
    deadline = time.monotonic() + 15
    while sum(entry["path"] == path for entry in backend_log(backend)) < 3 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert sum(entry["path"] == path for entry in backend_log(backend)) == 3, "the three WebSockets did not open"
    # the 4th from 127.0.0.1: refused with the documented status, never reaching the backend
    fourth = unique(WS)
    refused = ws(host, fourth, "--origin", APP, "--expect-status", "429")
    assert refused["status"] == 429, refused
    # another address (the backend container, over the Docker network) still connects
    other = wsclient(backend, f"wss://{PROXY}/api/frontend-audio", "--cafile", CA, "--host-header",
                     "api.example.test", "--origin", APP, "--text", "other-address")
    assert other["status"] == 101 and other["text_echo"] is True, other
    # plain requests of the same address are not counted
    assert ws(host, "https://api.example.test/api/headers", "--http")["status"] == 200
    # the three held WebSockets were never disturbed
    deadline = time.monotonic() + 30
    while not host.file("/tmp/hold.json").content_string.strip() and time.monotonic() < deadline:
        time.sleep(0.5)
    report = json.loads(host.file("/tmp/hold.json").content_string)
    assert (report["opened"], report["echoed_after"], report["errors"]) == (3, 3, 0), report
    assert fourth.removeprefix("wss://api.example.test") not in paths_seen(backend)


# --------------------------------------------------------------------------- injection through the inputs


def vhosts_with(change) -> list[dict[str, Any]]:
    """The scenario's vhosts with one field changed by ``change(vhosts)``."""
    vhosts = copy.deepcopy(GROUP_VARS["websocket_proxy_vhosts"])
    change(vhosts)
    return vhosts


def _set(path: list[Any], value: Any):
    def change(vhosts: list[dict[str, Any]]) -> None:
        item: Any = vhosts
        for key in path[:-1]:
            item = item[key]
        item[path[-1]] = value

    return change


# (extra vars, the variable path the refusal must name)
INJECTIONS = [
    ({"websocket_proxy_vhosts": vhosts_with(_set([0, "locations", 0, "allowed_origins", 0],
                                                 'https://app.example.test" 0; "~." 0; } map $x $y {'))},
     "websocket_proxy_vhosts[0].locations[0].allowed_origins[0]"),
    ({"websocket_proxy_vhosts": vhosts_with(_set([0, "locations", 1, "client_max_body_size"],
                                                 "4k; location /pwned { return 200 pwned; }"))},
     "websocket_proxy_vhosts[0].locations[1].client_max_body_size"),
    ({"websocket_proxy_vhosts": vhosts_with(_set([0, "tls", "chain"], "/etc/ssl/wsproxy/ca.pem;\nssl_stapling off"))},
     "websocket_proxy_vhosts[0].tls.chain"),
    ({"websocket_proxy_vhosts": vhosts_with(_set([0, "server_name"], "api.example.test; return 200 pwned"))},
     "websocket_proxy_vhosts[0].server_name"),
    ({"websocket_proxy_client_max_body_size": "0;\n    autoindex on"}, "websocket_proxy_client_max_body_size"),
    ({"websocket_proxy_tls_ciphers": "HIGH; ssl_protocols TLSv1"}, "websocket_proxy_tls_ciphers"),
]


def test_injections_fail_in_preflight_and_change_nothing_on_the_host(host, monkeypatch):
    monkeypatch.setenv("ANSIBLE_NOCOLOR", "1")
    monkeypatch.setenv("ANSIBLE_FORCE_COLOR", "0")
    before = etc_nginx_state(host)

    def attack(case: tuple[dict[str, Any], str]) -> tuple[str, Any]:
        extra, named = case
        run = ansible_playbook("molecule/security/converge.yml", "-e", json.dumps(extra))
        return named, run

    with ThreadPoolExecutor(max_workers=len(INJECTIONS)) as pool:
        runs = list(pool.map(attack, INJECTIONS))
    for named, run in runs:
        output = run.stdout + run.stderr
        assert run.returncode != 0, f"{named}: the run succeeded\n{output[-3000:]}"
        fatal = output[output.index("fatal:"):][:2000]
        assert named in fatal, f"the refusal does not name {named}:\n{fatal}"
        assert failed_task(output).startswith("wsproxy.nginx.websocket_proxy : Validate"), failed_task(output)
    after = etc_nginx_state(host)  # every file's sha256, mode and owner, every link, nginx's PIDs
    assert after == before, state_diff(before, after)
    # and nginx still serves the configuration it had
    assert ws(host, WS, "--origin", APP, "--text", "still-here")["status"] == 101
