"""Failure modes: every refused run leaves nginx exactly as it was, and still serving.

Each case records the state of the proxy (every path under /etc/nginx with its checksum or link
target, nginx's master PID and worker PIDs), runs site.yml from the controller with a change that
must be refused, checks that the run failed with a message that names the cause, and then that the
state is identical (not one file changed, nginx not even reloaded) and that a WebSocket through the
old configuration still echoes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import (
    ansible_playbook,
    etc_nginx_state,
    failure_messages,
    host_named,
    play_recap,
    state_diff,
    wsclient,
)

PROXY = "wsproxy-failure-bookworm"
WS_URL = "ws://api.example.test/api/frontend-audio"
TLS = {"certificate": "/etc/ssl/wsproxy/server.pem", "certificate_key": "/etc/ssl/wsproxy/server.key"}
BROKEN_VHOST = "/etc/nginx/sites-enabled/broken.conf"
FOREIGN_MAP = "/etc/nginx/conf.d/other.conf"
V = "websocket_proxy_vhosts"


def loc(**overrides: Any) -> dict[str, Any]:
    """The converge's location (/api/ to calls-backend:5006), with overrides."""
    return {"path": "/api/", "backend": "calls-backend:5006", **overrides}


def vhost(**overrides: Any) -> dict[str, Any]:
    """The converge's vhost (api-calls, ws on port 80), with overrides."""
    return {"name": "api-calls", "server_name": "api.example.test", "listen": 80, "locations": [loc()], **overrides}


def tls_vhost(**tls: Any) -> dict[str, Any]:
    """A second vhost, wss on 443 (another name, so no server-name clash), with overrides of its tls keys."""
    return vhost(name="secure", server_name="secure.example.test", listen=443, tls={**TLS, **tls})


def vhosts(*items: Any) -> dict[str, Any]:
    return {V: list(items)}


# failure_messages() reads the JSON result format: every run of this module uses it (molecule/conftest.py).
pytestmark = pytest.mark.usefixtures("json_results")


@pytest.fixture(scope="module")
def proxy():
    return host_named(PROXY)


@pytest.fixture(scope="module")
def converged(proxy):
    """The state the converge left: every case must end with exactly this (outside its own files)."""
    return etc_nginx_state(proxy)


def assert_echoes(proxy: Any) -> None:
    result = wsclient(proxy, WS_URL, "--text", "x")
    assert result["status"] == 101, result
    assert result["text_echo"] is True, result


def refused(proxy: Any, extra_vars: dict[str, Any], *expected: str, before: dict[str, Any] | None = None) -> str:
    """Run site.yml with extra_vars; assert it failed with every expected fragment in the proxy's failure
    message and that it changed nothing and reloaded nothing (the state is still ``before``, read now
    when not given); return the message."""
    before = before or etc_nginx_state(proxy)
    run = ansible_playbook("site.yml", "-l", PROXY, "-e", json.dumps(extra_vars))
    output = run.stdout[-4000:] + run.stderr[-2000:]
    assert run.returncode != 0, f"the run succeeded: {output}"
    message = " | ".join(failure_messages(run).get(PROXY, []))
    assert message, f"no failure message for {PROXY}: {output}"
    print(f"{PROXY} refused {json.dumps(extra_vars)}: {message}")  # shown with pytest -rP, and on failure
    for fragment in expected:
        assert fragment in message, f"{fragment!r} is not in the failure message: {message}"
    assert play_recap(run.stdout)[PROXY]["failed"] == 1, output
    after = etc_nginx_state(proxy)
    assert after == before, "the refused run changed the proxy:\n" + "\n".join(state_diff(before, after))
    assert_echoes(proxy)
    return message


def test_the_good_configuration_serves_websockets(proxy, converged):
    assert proxy.run("nginx -t").rc == 0
    assert converged["/etc/nginx/sites-enabled/api-calls.conf"] == "-> /etc/nginx/sites-available/api-calls.conf"
    assert converged["nginx worker PIDs"], "nginx has no workers"
    assert_echoes(proxy)


# ---------------------------------------------------------------- 1. nginx -t refuses the rendered configuration


def test_unresolvable_backend_is_rolled_back(proxy, converged):
    # Valid input, but nginx -t cannot resolve the upstream (without a resolver, names are resolved when
    # nginx loads its configuration). The change touches two files the role owns (nginx.conf through
    # worker_shutdown_timeout, and the existing vhost): both go back.
    message = refused(
        proxy,
        {
            **vhosts(vhost(locations=[loc(backend="nope.invalid:5006")])),
            "websocket_proxy_resolver": [],
            "websocket_proxy_worker_shutdown_timeout": "5m",
        },
        "host not found in upstream",
        "nope.invalid",
        "/etc/nginx/sites-enabled/api-calls.conf",
        "rolled back",
        "nginx was not reloaded",
        "the restored configuration passes nginx -t",
    )
    assert "2 files restored" in message, message
    assert etc_nginx_state(proxy) == converged


def test_file_that_is_not_a_certificate_is_rolled_back(proxy, converged):
    # /etc/hostname exists and is a regular file, so preflight lets it through; nginx -t cannot read a
    # PEM certificate from it. The run created a vhost file and its symlink: both must be gone again.
    refused(
        proxy,
        vhosts(vhost(), tls_vhost(certificate="/etc/hostname")),
        'cannot load certificate "/etc/hostname"',
        "PEM",
        "rolled back",
        "the restored configuration passes nginx -t",
    )
    assert not proxy.file("/etc/nginx/sites-available/secure.conf").exists
    assert not proxy.file("/etc/nginx/sites-enabled/secure.conf").exists
    assert etc_nginx_state(proxy) == converged


# ---------------------------------------------------------------- 2. an existing broken foreign vhost


def test_broken_foreign_vhost_is_named_and_nothing_changes(proxy, converged):
    try:
        written = proxy.run(
            f"printf 'server {{\\n    listen 80;\\n    server_name broken.example.test;\\n"
            f"    location / {{ return 200 }}\\n}}\\n' > {BROKEN_VHOST}"
        )
        assert written.rc == 0, written.stderr
        check = proxy.run("nginx -t")
        assert check.rc != 0 and BROKEN_VHOST in check.stderr, check.stderr
        # A change the role would otherwise make (and reload for): it must not be made on top of a broken tree.
        refused(
            proxy,
            {"websocket_proxy_read_timeout": "2h"},
            BROKEN_VHOST,
            "nothing was changed",
            "nginx was not reloaded",
        )
        assert "proxy_read_timeout 1d;" in proxy.file("/etc/nginx/sites-available/api-calls.conf").content_string
    finally:
        proxy.run(f"rm -f {BROKEN_VHOST}")
    assert etc_nginx_state(proxy) == converged
    assert proxy.run("nginx -t").rc == 0


# ---------------------------------------------------------------- 3. a foreign $connection_upgrade map


def test_foreign_connection_upgrade_map_is_named_and_nothing_changes(proxy, converged):
    try:
        written = proxy.run(
            f"printf 'map $http_upgrade $connection_upgrade {{\\n    default close;\\n    websocket upgrade;\\n}}\\n'"
            f" > {FOREIGN_MAP}"
        )
        assert written.rc == 0, written.stderr
        # nginx itself sees no problem: two maps of one variable pass nginx -t, and the last one included wins.
        check = proxy.run("nginx -t")
        assert check.rc == 0, check.stderr
        dump = proxy.run("nginx -T").stdout
        assert dump.count(" $connection_upgrade {") == 2, dump
        refused(
            proxy,
            {"websocket_proxy_read_timeout": "2h"},
            FOREIGN_MAP,
            "connection_upgrade",
            "Nothing was changed",
        )
    finally:
        proxy.run(f"rm -f {FOREIGN_MAP}")
    assert etc_nginx_state(proxy) == converged


# ---------------------------------------------------------------- 4. bad input, refused before any change

# (extra vars, the field the message must name, what it must say about it)
BAD_INPUT = [
    # injection attempts, one in every string field
    pytest.param(vhosts(vhost(server_name="a.example.com; return 200 x")),
                 f"{V}[0].server_name", "is not a valid server name", id="server_name-directive"),
    pytest.param(vhosts(vhost(name="../conf.d/evil")),
                 f"{V}[0].name", "is not a valid name", id="name-path-traversal"),
    pytest.param(vhosts(vhost(locations=[loc(path='/api/ { return 200 "x"; } location /x')])),
                 f"{V}[0].locations[0].path", "is not a valid location path", id="path-block"),
    pytest.param(vhosts(vhost(locations=[loc(backend="calls-backend:5006; return 200 x")])),
                 f"{V}[0].locations[0].backend", "is not a valid backend", id="backend-directive"),
    pytest.param(vhosts(vhost(locations=[loc(backend="http://$http_host:5006")])),
                 f"{V}[0].locations[0].backend", "is not a valid backend", id="backend-variable"),
    pytest.param(vhosts(vhost(), tls_vhost(certificate="/etc/ssl/wsproxy/server.pem; ssl_verify_client off")),
                 f"{V}[1].tls.certificate", "is not a valid file", id="certificate-directive"),
    pytest.param(vhosts(vhost(), tls_vhost(certificate_key="/etc/ssl/wsproxy/server.key\nssl_ciphers NULL")),
                 f"{V}[1].tls.certificate_key", "is not a valid file", id="certificate_key-newline"),
    pytest.param(vhosts(vhost(locations=[loc(websocket_endpoints=["frontend-audio", ".*|x"])])),
                 f"{V}[0].locations[0].websocket_endpoints[1]", "is not a valid WebSocket endpoint name",
                 id="endpoint-regex"),
    pytest.param({"websocket_proxy_read_timeout": "1h; return 200 x"},
                 "websocket_proxy_read_timeout", "is not a duration", id="read_timeout-directive"),
    # durations nginx would refuse or misread
    pytest.param(vhosts(vhost(locations=[loc(read_timeout="24 hours")])),
                 f"{V}[0].locations[0].read_timeout", "is not a duration", id="duration-words"),
    pytest.param({"websocket_proxy_read_timeout": "-5"},
                 "websocket_proxy_read_timeout", "is negative", id="duration-negative"),
    pytest.param(vhosts(vhost(locations=[loc(send_timeout=0)])),
                 f"{V}[0].locations[0].send_timeout", "is zero", id="duration-zero"),
    pytest.param(vhosts(vhost(locations=[loc(connect_timeout="1y")])),
                 f"{V}[0].locations[0].connect_timeout", "y (years)", id="duration-years"),
    pytest.param({"websocket_proxy_worker_shutdown_timeout": "10 minutes"},
                 "websocket_proxy_worker_shutdown_timeout", "is not a duration", id="worker_shutdown_timeout"),
    # wrong types
    pytest.param(vhosts(vhost(listen="eighty")), f"{V}[0].listen", "is not a port", id="listen-word"),
    pytest.param(vhosts(vhost(locations=[loc(websocket="yes")])),
                 f"{V}[0].locations[0].websocket", "is not a boolean", id="websocket-string"),
    pytest.param({V: "api.example.test"}, f"option '{V}'", "unable to convert to dict", id="vhosts-string"),
    pytest.param(vhosts(vhost(locations=[])), f"{V}[0].locations", "the list is empty", id="locations-empty"),
    pytest.param(vhosts(vhost(tls="on")), f"'tls' is of type str found in '{V}'", "unable to convert to dict",
                 id="tls-string"),
    # duplicates
    pytest.param(vhosts(vhost(), vhost(server_name="other.example.test")),
                 f"{V}[1].name", f"is already the name of {V}[0]", id="duplicate-vhost-name"),
    pytest.param(vhosts(vhost(), vhost(name="api-calls-again")),
                 f"{V}[1].server_name", f"on port 80 is already served by {V}[0]", id="duplicate-server_name-port"),
    pytest.param(vhosts(vhost(locations=[loc(), loc(backend="calls-backend:5007", websocket=False)])),
                 f"{V}[0].locations[1]", f"is already defined by {V}[0].locations[0]", id="duplicate-location"),
    pytest.param(vhosts(vhost(default_server=True),
                        vhost(name="other", server_name="other.example.test", default_server=True)),
                 f"{V}[1].default_server", "already has a default server", id="duplicate-default_server"),
    pytest.param(vhosts(vhost(listen=443), tls_vhost()),
                 f"{V}[1].listen", "port 443 is TLS here but plain HTTP", id="tls-and-plain-on-one-port"),
    # certificate files that are not there
    pytest.param(vhosts(vhost(), tls_vhost(certificate="/etc/ssl/wsproxy/missing.pem")),
                 f"{V}[1].tls.certificate", "does not exist", id="certificate-missing"),
    pytest.param(vhosts(vhost(), tls_vhost(certificate_key="/etc/ssl/wsproxy/missing.key")),
                 f"{V}[1].tls.certificate_key", "does not exist", id="certificate_key-missing"),
    # a WebSocket endpoint that another location would serve without the upgrade
    pytest.param(vhosts(vhost(locations=[loc(websocket_endpoints=["frontend-audio"]),
                                         loc(path="/api/frontend-audio/", websocket=False)])),
                 f"{V}[0].locations", "which is not WebSocket-capable", id="endpoint-shadowed"),
    # unknown keys, missing keys
    pytest.param(vhosts(vhost(locations=[loc(proxy_buffering="on")])),
                 f"{V}.locations.proxy_buffering", "Supported parameters include", id="unknown-location-key"),
    pytest.param(vhosts(vhost(locations=[{"path": "/api/"}])),
                 "missing required arguments: backend", f"found in {V} -> locations", id="backend-missing"),
    # capacity
    pytest.param({"websocket_proxy_max_websockets": "many"},
                 "websocket_proxy_max_websockets", "cannot be converted to an int", id="max_websockets-word"),
    pytest.param({"websocket_proxy_max_websockets": 0},
                 "websocket_proxy_max_websockets: 0", "is not a number of WebSockets", id="max_websockets-zero"),
]


@pytest.fixture()
def no_fact_gathering(monkeypatch):
    """The play skips its full fact gathering and the role gathers the minimal subset it needs itself
    (its own first task does when facts are missing): about a second less for each of these runs."""
    monkeypatch.setenv("ANSIBLE_GATHERING", "explicit")


@pytest.mark.parametrize(("extra_vars", "field", "why"), BAD_INPUT)
def test_bad_input_is_refused_before_any_change(proxy, converged, no_fact_gathering, extra_vars, field, why):
    refused(proxy, extra_vars, field, why, before=converged)
