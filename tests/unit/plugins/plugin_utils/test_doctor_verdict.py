"""doctor_verdict: the broken hop of each location, from the probe results and nginx -T.

Most cases build an nginx -T output the way nginx prints it (the main file, then every included file after
'# configuration file <path>:'), with server blocks as the role writes them, broken in one way each. The
last ones take the output of the real `nginx -T` on such trees, so the parse and the error text are nginx's.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.doctor_verdict import FilterModule
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_plan import doctor_plan
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_verdict import doctor_verdict
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts
from nginx_helpers import ROLE_MAPS, free_port, nginx_binary

#: Where the role's map file defines $connection_upgrade.
MAP_LINE = next(n for n, text in enumerate(ROLE_MAPS.splitlines(), 1) if text.endswith("$connection_upgrade {"))

verdict_filter = FilterModule().filters()["doctor_verdict"]
# upstream_keepalive 0: the hand-written nginx -T fixtures below proxy straight to the backend, no upstream block.
DEFAULTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s", "upstream_keepalive": 0}
NAME = "api.example.test"
BACKEND = "http://127.0.0.1:5006"
ENABLED = "/etc/nginx/sites-enabled"

WS_HEADERS = """\
        proxy_http_version 1.1;
        proxy_set_header Upgrade $wsproxy_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $host;
"""


def location(
    path: str = "/api/",
    modifier: str = "",
    headers: str = WS_HEADERS,
    read: str = "1d",
    proxy_pass: str = "http://calls-backend:5006",
) -> str:
    head = f"{modifier} {path}" if modifier else path
    lines = [f"    location {head} {{", f"        proxy_pass {proxy_pass};" if proxy_pass else ""]
    lines += [headers.rstrip("\n"), f"        proxy_read_timeout {read};" if read else "", "    }"]
    return "\n".join(line for line in lines if line) + "\n"


def server(*locations: str, port: int = 80, name: str = NAME, extra: str = "") -> str:
    body = "".join(locations or (location(),))
    return f"server {{\n    listen {port};\n    server_name {name};\n{extra}{body}}}\n"


def nginx_t(vhosts: dict[str, str] | None = None, conf_d: dict[str, str] | None = None, http: str = "") -> dict:
    """A registered nginx -T result: main file, conf.d/*.conf, then sites-enabled/* (as nginx includes them)."""
    main = (
        "events {}\nhttp {\n" + http + "    include /etc/nginx/conf.d/*.conf;\n"
        "    include /etc/nginx/sites-enabled/*;\n}\n"
    )
    files = [("/etc/nginx/nginx.conf", main)]
    conf_d = {"websocket_proxy_map.conf": ROLE_MAPS, **(conf_d or {})}
    vhosts = {"api-calls.conf": server()} if vhosts is None else vhosts
    files += sorted((f"/etc/nginx/conf.d/{name}", content) for name, content in conf_d.items())
    files += sorted((f"{ENABLED}/{name}", content) for name, content in vhosts.items())
    stdout = "".join(f"# configuration file {path}:\n{text}\n" for path, text in files)
    return {"rc": 0, "stdout": stdout, "stderr": "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n"}


def make_plan(vhosts: list[dict[str, Any]] | None = None, options: dict | None = None, **defaults: Any) -> dict:
    vhosts = vhosts or [
        {
            "name": "api-calls",
            "server_name": NAME,
            "listen": 80,
            "locations": [{"path": "/api/", "backend": "calls-backend:5006"}],
        }
    ]
    return doctor_plan(websocket_vhosts(vhosts, {**DEFAULTS, **defaults}), options)


def ok(rtt: float = 1.5) -> dict[str, Any]:
    return {
        "changed": False,
        "failed": False,
        "problem": None,
        "status": 101,
        "reason": "Switching Protocols",
        "rtt_ms": rtt,
        "diagnosis": "WebSocket handshake in 2 ms, 640-byte binary frame echoed in 1.5 ms",
    }


def bad(problem: str, status: int | None = None, reason: str = "", diagnosis: str = "it failed") -> dict[str, Any]:
    # registered with failed_when: false, so failed is False even though the module failed
    return {
        "changed": False,
        "failed": False,
        "problem": problem,
        "status": status,
        "reason": reason,
        "diagnosis": diagnosis,
        "msg": f"ws://x: {diagnosis}",
    }


Result = Callable[[dict[str, Any]], dict[str, Any]]


def run(
    plan: dict,
    dump: Any,
    direct: Result | dict | None = None,
    nginx: Result | dict | None = None,
    options: dict | None = None,
) -> dict[str, Any]:
    """Verdict for results given per hop (a dict, or a function of the probe); both hops succeed by default."""

    def result(probe: dict[str, Any]) -> dict[str, Any]:
        chosen = (direct if probe["hop"] == "direct" else nginx) or ok()
        return chosen(probe) if callable(chosen) else chosen

    results = {"results": [{**result(p), "item": p} for p in plan["probes"]], "changed": False}
    return doctor_verdict(plan, results, dump, options)


def only(report: dict[str, Any]) -> dict[str, Any]:
    assert len(report["rows"]) == 1, report["table"]
    return report["rows"][0]


def text(row: dict[str, Any]) -> str:
    return row["verdict"] + "\n" + "\n".join(row["details"])


# --------------------------------------------------------------------------- healthy


def test_healthy_is_ok_and_the_table_has_the_four_columns():
    report = run(make_plan(), nginx_t(), direct=ok(0.4), nginx=ok(0.6))
    row = only(report)
    assert (row["status"], row["verdict"], row["hop"], row["details"]) == ("ok", "ok", None, [])
    assert row["served_by"] == f"location '/api/' ({ENABLED}/api-calls.conf:4)"
    assert report["table"].splitlines() == [
        "location           | backend direct   | through nginx    | verdict",
        "-------------------+------------------+------------------+--------",
        "api-calls:80 /api/ | 101, echo 0.4 ms | 101, echo 0.6 ms | ok",
    ]
    assert report["ok"] is True and report["summary"] == "1 WebSocket location(s): 1 ok, 0 warning(s), 0 broken"
    assert report["map_definitions"]["connection_upgrade"] == [f"/etc/nginx/conf.d/websocket_proxy_map.conf:{MAP_LINE}"]
    assert verdict_filter(make_plan(), [ok(), ok()], nginx_t()["stdout"])["ok"] is True  # a list, and stdout alone


def test_headers_inherited_from_the_server_block_count():
    # No proxy_set_header in the location: it inherits every one of the server's.
    vhost = server(
        location(headers="        proxy_http_version 1.1;\n"),
        extra="    proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection upgrade;\n",
    )
    assert only(run(make_plan(), nginx_t({"api-calls.conf": vhost})))["status"] == "ok"


def test_one_proxy_set_header_in_the_location_drops_every_inherited_one():
    vhost = server(
        location(headers="        proxy_http_version 1.1;\n        proxy_set_header Host $host;\n"),
        extra="    proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection upgrade;\n",
    )
    row = only(run(make_plan(), nginx_t({"api-calls.conf": vhost}), nginx=bad("status_426", 426, "Upgrade Required")))
    assert row["hop"] == "nginx location" and "no proxy_set_header Upgrade" in text(row)


# --------------------------------------------------------------------------- the backend


def test_backend_down():
    row = only(
        run(
            make_plan(),
            nginx_t(),
            direct=bad("refused", diagnosis="connection refused by calls-backend:5006"),
            nginx=bad("status_502", 502, "Bad Gateway"),
        )
    )
    assert row["verdict"] == "BROKEN backend: calls-backend:5006 down (refused)"
    assert (row["direct"], row["nginx"]) == ("refused", "502 Bad Gateway")
    assert "directly, from where nginx runs: connection refused by calls-backend:5006" in row["details"][0]


def test_backend_name_does_not_resolve():
    row = only(run(make_plan(), nginx_t(), direct=bad("dns"), nginx=bad("status_502", 502, "Bad Gateway")))
    assert row["verdict"] == "BROKEN backend: calls-backend:5006: the name does not resolve"


def test_backend_not_speaking_websocket():
    row = only(
        run(
            make_plan(options={"endpoint": "orders"}),
            nginx_t(),
            direct=lambda p: {**bad("status_200", 200, "OK"), "url": p["args"]["url"]},
        )
    )
    assert row["verdict"] == "BROKEN backend: calls-backend:5006 does not speak WebSocket at /api/orders (200 OK)"


def test_one_server_of_an_upstream_down():
    plan = make_plan(
        [
            {
                "name": "api-calls",
                "server_name": NAME,
                "listen": 80,
                "locations": [{"path": "/api/", "backend": ["calls-1:5006", "calls-2:5006"]}],
            }
        ],
        upstream_keepalive=32,
    )
    upstream = "upstream wsproxy_api_calls_1 {\n    server calls-1:5006;\n    server calls-2:5006;\n}\n"
    vhost = upstream + server(location(proxy_pass="http://wsproxy_api_calls_1"))
    row = only(
        run(
            plan,
            nginx_t({"api-calls.conf": vhost}),
            direct=lambda p: bad("refused") if p["backend"] == "calls-2:5006" else ok(),
        )
    )
    # nginx fails over, so the handshake through it works: a warning that names the dead server.
    assert row["verdict"] == "warn backend: calls-2:5006 (refused) down; nginx fails over to the other 1 of 2 servers"
    assert row["status"] == "warn" and row["direct"] == "101, echo 1.5 ms; refused"
    # When nginx cannot get through either, or every server is down, it is broken.
    row = only(
        run(
            plan,
            nginx_t({"api-calls.conf": vhost}),
            direct=lambda p: bad("refused") if p["backend"] == "calls-2:5006" else ok(),
            nginx=bad("status_502", 502, "Bad Gateway"),
        )
    )
    assert row["verdict"] == "BROKEN backend: calls-2:5006 down (refused) (1 of 2 servers)"
    row = only(run(plan, nginx_t({"api-calls.conf": vhost}), direct=lambda p: bad("refused")))
    assert row["verdict"] == "BROKEN backend: calls-1:5006 down (refused) (2 of 2 servers)"


# --------------------------------------------------------------------------- nginx's configuration


def test_map_missing_fails_nginx_t_while_the_old_config_still_serves():
    dump = {
        "rc": 1,
        "stdout": "",
        "stderr": (
            '2026/11/25 20:05:08 [emerg] 27173#27173: unknown "connection_upgrade" variable\n'
            "nginx: configuration file /etc/nginx/nginx.conf test failed\n"
        ),
    }
    row = only(run(make_plan(), dump))
    assert row["verdict"] == "BROKEN nginx config: map $connection_upgrade missing"
    assert "the next reload or restart will fail (WebSocket through the running nginx still works)" in text(row)


def test_other_nginx_t_failure():
    dump = {
        "rc": 1,
        "stdout": "",
        "stderr": (
            '2026/11/25 [emerg] 1#1: unexpected "}" in /etc/nginx/sites-enabled/x.conf:9\n'
            "nginx: configuration file /etc/nginx/nginx.conf test failed\n"
        ),
    }
    report = run(make_plan(), dump, nginx=bad("status_502", 502, "Bad Gateway", "502 Bad Gateway: nginx ..."))
    row = only(report)
    assert row["verdict"] == "BROKEN nginx config: nginx -t fails"
    assert report["nginx_config_error"] == 'unexpected "}" in /etc/nginx/sites-enabled/x.conf:9'
    assert "through nginx: 502 Bad Gateway" in text(row)


def test_location_without_upgrade_and_connection():
    vhost = server(location(headers="        proxy_http_version 1.1;\n        proxy_set_header Host $host;\n"))
    row = only(run(make_plan(), nginx_t({"api-calls.conf": vhost}), nginx=bad("status_426", 426, "Upgrade Required")))
    assert row["verdict"] == "BROKEN nginx location: nginx does not forward Upgrade/Connection"
    assert f"location '/api/' ({ENABLED}/api-calls.conf:4): no proxy_set_header Upgrade" in text(row)
    assert "no proxy_set_header Connection" in text(row)


def test_http_1_0_is_named():
    vhost = server(location(headers=WS_HEADERS.replace("        proxy_http_version 1.1;\n", "")))
    row = only(run(make_plan(), nginx_t({"api-calls.conf": vhost}), nginx=bad("status_400", 400, "Bad Request")))
    assert row["hop"] == "nginx location" and "proxy_http_version is 1.0, WebSocket needs 1.1" in text(row)


def test_regex_location_written_before_shadows_the_prefix():
    shadow = location("^/api/frontend", "~", headers="")
    vhost = server(shadow, location())
    row = only(run(make_plan(), nginx_t({"api-calls.conf": vhost}), nginx=bad("status_426", 426, "Upgrade Required")))
    assert row["verdict"] == (
        "BROKEN location order: /api/frontend-audio is served by location '~ ^/api/frontend', not WebSocket-capable"
    )
    assert row["served_by"] == f"location '~ ^/api/frontend' ({ENABLED}/api-calls.conf:4)"
    assert "a regex location, tried before any prefix location, instead of location '/api/'" in text(row)
    assert "proxy_read_timeout" not in text(row)  # no timeout advice for a location that is not WebSocket-capable


def test_a_longer_prefix_with_caret_tilde_shadows_too():
    vhost = server(location(), location("/api/front", "^~", headers="        proxy_http_version 1.1;\n"))
    row = only(run(make_plan(), nginx_t({"api-calls.conf": vhost}), nginx=bad("status_426", 426, "Upgrade Required")))
    assert row["hop"] == "location order" and "served by location '^~ /api/front'" in row["verdict"]


def test_a_websocket_capable_location_serving_instead_is_fine():
    vhost = server(location("^/api/frontend", "~"), location())
    row = only(run(make_plan(), nginx_t({"api-calls.conf": vhost})))
    assert row["status"] == "ok"
    assert row["details"] == [
        f"served by location '~ ^/api/frontend' ({ENABLED}/api-calls.conf:4), not '/api/'; it is WebSocket-capable"
    ]


def test_location_that_does_not_proxy_and_a_redirect():
    vhost = server(location(), location("/api/frontend-audio", "=", headers="        return 200;\n", proxy_pass=""))
    row = only(run(make_plan(), nginx_t({"api-calls.conf": vhost}), nginx=bad("status_200", 200, "OK")))
    assert row["verdict"] == (
        "BROKEN location order: /api/frontend-audio is served by location '= /api/frontend-audio', which does not proxy"
    )
    redirect = only(
        run(
            make_plan(options={"probe_uris": {"/api/": "/api"}}),
            nginx_t(),
            nginx=bad("status_301", 301, "Moved Permanently"),
        )
    )
    assert redirect["verdict"] == "BROKEN location order: /api is redirected by location '/api/'"


def test_no_server_block_for_the_name_or_the_port():
    other = server(name="other.example.test")
    row = only(run(make_plan(), nginx_t({"other.conf": other}), nginx=bad("status_404", 404, "Not Found")))
    assert row["verdict"] == f"BROKEN nginx server: no server block for {NAME} on port 80"
    assert f"default server of that port ({ENABLED}/other.conf:1" in text(row)
    nothing = only(run(make_plan(), nginx_t({"other.conf": server(port=8080)}), nginx=bad("refused")))
    assert nothing["verdict"] == "BROKEN nginx: nginx does not answer on 127.0.0.1:80"
    assert "no server block in nginx -T listens on port 80" in text(nothing)


def test_on_disk_broken_while_the_running_nginx_still_works():
    vhost = server(location(headers="        proxy_http_version 1.1;\n"))
    row = only(run(make_plan(), nginx_t({"api-calls.conf": vhost})))
    assert row["verdict"] == (
        "BROKEN nginx location: nginx does not forward Upgrade/Connection (on disk, not loaded yet)"
    )
    assert "will break at the next reload" in text(row)


# --------------------------------------------------------------------------- maps


def test_map_defined_twice_with_the_wrong_value_last():
    legacy = "map $http_upgrade $connection_upgrade {\n    default close;\n}\n"
    dump = nginx_t(conf_d={"zz-legacy.conf": legacy})
    row = only(run(make_plan(), dump, nginx=bad("status_400", 400, "Bad Request")))
    assert row["verdict"] == "BROKEN map: map $connection_upgrade defined twice"
    assert (
        f"$connection_upgrade is defined twice (/etc/nginx/conf.d/websocket_proxy_map.conf:{MAP_LINE}, "
        "/etc/nginx/conf.d/zz-legacy.conf:1); nginx accepts that without a word and uses the last one "
        "(/etc/nginx/conf.d/zz-legacy.conf:1), which gives 'close' to a WebSocket handshake"
    ) in row["details"][0]
    assert "gives 'close' to a WebSocket handshake, not 'upgrade'" in row["details"][1]


def test_map_defined_twice_but_agreeing_is_a_warning():
    seed = "map $http_upgrade $connection_upgrade {\n    default upgrade;\n    '' close;\n}\n"
    report = run(make_plan(), nginx_t(conf_d={"seed.conf": seed}))
    row = only(report)
    assert (row["status"], row["verdict"]) == ("warn", "warn map: map $connection_upgrade defined twice")
    assert "which gives 'upgrade' to a WebSocket handshake (right, for now)" in row["details"][0]
    assert report["broken"] == 0 and report["warnings"] == 1


# --------------------------------------------------------------------------- TLS, nginx to the backend, timeouts


def test_tls_problems_name_the_tls_hop():
    plan = make_plan(
        [
            {
                "name": "api-calls-tls",
                "server_name": NAME,
                "locations": [{"backend": "calls-backend:5006"}],
                "tls": {"certificate": "/c.pem", "certificate_key": "/k.pem"},
            }
        ]
    )
    dump = nginx_t({"tls.conf": server(port=443)})
    unknown = only(run(plan, dump, nginx=bad("tls_unknown_ca", diagnosis="TLS: the certificate ... is not trusted")))
    assert unknown["verdict"] == "BROKEN TLS: certificate not trusted" and unknown["nginx"] == "TLS: unknown CA"
    assert "-e doctor_ca_file=" in text(unknown)
    mismatch = only(run(plan, dump, nginx=bad("tls_name_mismatch")))
    assert mismatch["verdict"] == "BROKEN TLS: certificate does not match the server name"


def test_502_names_the_upstream_that_differs_from_the_inventory():
    plan = make_plan(upstream_keepalive=32)
    upstream = "upstream wsproxy_api_calls_1 {\n    server calls-backend:5999;\n    keepalive 32;\n}\n"
    vhost = upstream + server(location(proxy_pass="http://wsproxy_api_calls_1"))
    row = only(run(plan, nginx_t({"api-calls.conf": vhost}), nginx=bad("status_502", 502, "Bad Gateway")))
    assert row["verdict"] == (
        "BROKEN backend via nginx: nginx cannot reach the backend (502): upstream wsproxy_api_calls_1 sends to "
        "calls-backend:5999, the inventory says calls-backend:5006"
    )
    plain = only(run(make_plan(), nginx_t(), nginx=bad("status_502", 502, "Bad Gateway")))
    assert plain["verdict"] == "BROKEN backend via nginx: nginx cannot reach the backend (502)"
    assert "The location proxies to http://calls-backend:5006" in text(plain)
    slow = only(run(make_plan(), nginx_t(), nginx=bad("status_504", 504, "Gateway Time-out")))
    assert slow["verdict"] == "BROKEN backend via nginx: the backend answers nginx too slowly (504)"


def test_origin_refused_and_handshake_limits():
    refused = only(run(make_plan(), nginx_t(), nginx=bad("status_403", 403, "Forbidden")))
    assert refused["verdict"] == "BROKEN origin: 403: a handshake without Origin was refused"
    assert "-e doctor_origin=" in text(refused)
    limited = only(run(make_plan(), nginx_t(), nginx=bad("status_429", 429, "Too Many Requests")))
    assert limited["verdict"] == "BROKEN nginx location: 429: a handshake limit refused the probe"


def test_proxy_pass_edited_by_hand_but_working_is_a_warning():
    vhost = server(location(proxy_pass="http://127.0.0.1:5006"))
    row = only(run(make_plan(), nginx_t({"api-calls.conf": vhost})))
    assert row["status"] == "warn"
    assert (
        row["verdict"] == "warn backend via nginx: proxy_pass http://127.0.0.1:5006, the inventory says "
        "http://calls-backend:5006"
    )


def test_read_timeout_shorter_than_the_streams_need():
    short = only(run(make_plan(), nginx_t({"api-calls.conf": server(location(read="60s"))})))
    assert (short["status"], short["verdict"]) == ("warn", "warn timeout: proxy_read_timeout 60s < 1h")
    # inherited from the http context, or nginx's own default of 60s
    from_http = nginx_t({"a.conf": server(location(read=""))}, http="    proxy_read_timeout 2h;\n")
    inherited = only(run(make_plan(), from_http))
    assert inherited["status"] == "ok"
    default = only(run(make_plan(), nginx_t({"a.conf": server(location(read=""))})))
    assert "proxy_read_timeout is 60s (nginx's default)" in text(default)
    short_dump = nginx_t({"a.conf": server(location(read="60s"))})
    relaxed = only(run(make_plan(), short_dump, options={"min_read_timeout": "30s"}))
    assert relaxed["status"] == "ok"


def test_first_broken_hop_wins():
    # backend down and the location broken too: the backend is named first, it is the hop nearest the data
    vhost = server(location(headers=""))
    row = only(
        run(
            make_plan(),
            nginx_t({"api-calls.conf": vhost}),
            direct=bad("refused"),
            nginx=bad("status_502", 502, "Bad Gateway"),
        )
    )
    assert row["hop"] == "backend"
    assert any("nginx does not forward" in detail or "no proxy_set_header" in detail for detail in row["details"])


# --------------------------------------------------------------------------- arguments


def test_arguments_are_checked():
    plan = make_plan()
    with pytest.raises(ConfigError, match="1 probe results for 2 planned probes"):
        doctor_verdict(plan, [ok()], nginx_t())
    with pytest.raises(AnsibleFilterError, match="is not a plan"):
        verdict_filter({"locations": []}, [], nginx_t())
    with pytest.raises(AnsibleFilterError, match="not a registered command result"):
        verdict_filter(plan, [ok(), ok()], 42)


def test_a_probe_task_that_could_not_run_counts_for_every_probe():
    registered = {"failed": False, "msg": "probes[0].ca_file: '/x.pem' is not a file on this host"}
    report = doctor_verdict(make_plan(), registered, nginx_t())
    row = only(report)
    # Not the backend's fault: nothing was probed.
    assert (row["direct"], row["nginx"], row["hop"]) == ("error", "error", "doctor")
    assert row["verdict"] == (
        "BROKEN doctor: the probes did not run: probes[0].ca_file: '/x.pem' is not a file on this host"
    )


def test_a_module_crash_is_reported_not_hidden():
    crashed = {"failed": False, "msg": "MODULE FAILURE: python3 not found", "rc": 127}
    row = only(run(make_plan(), nginx_t(), nginx=crashed))
    assert row["nginx"] == "error" and row["hop"] == "doctor" and "MODULE FAILURE" in text(row)


# --------------------------------------------------------------------------- with the real nginx -T


def real_nginx_t(tmp_path: Path, http: str) -> dict[str, Any]:
    """The real `nginx -T` of a tree in tmp_path (main file + conf.d/*.conf + sites/*)."""
    for sub in ("conf.d", "sites", "logs"):
        (tmp_path / sub).mkdir(exist_ok=True)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\nevents {{}}\nhttp {{\n"
        f"    access_log off;\n{http}    include {tmp_path}/conf.d/*.conf;\n    include {tmp_path}/sites/*;\n}}\n"
    )
    out = subprocess.run(
        [nginx_binary(), "-T", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return {"rc": out.returncode, "stdout": out.stdout, "stderr": out.stderr}


def real_site(tmp_path: Path) -> dict:
    """The role's vhost to BACKEND on a free port, written into tmp_path/sites; its doctor plan."""
    port = free_port()
    (tmp_path / "sites").mkdir(exist_ok=True)
    # nginx resolves a proxy_pass host when it reads the config: an address keeps the test off DNS.
    (tmp_path / "sites" / "api-calls.conf").write_text(server(location(proxy_pass=BACKEND), port=port))
    vhost = {
        "name": "api-calls",
        "server_name": NAME,
        "listen": port,
        "locations": [{"path": "/api/", "backend": BACKEND}],
    }
    return make_plan([vhost])


def test_real_nginx_t_healthy_and_with_a_second_map(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "websocket_proxy_map.conf").write_text(ROLE_MAPS)
    plan = real_site(tmp_path)
    healthy = real_nginx_t(tmp_path, "")
    assert healthy["rc"] == 0, healthy["stderr"]
    assert only(run(plan, healthy))["status"] == "ok"
    (tmp_path / "conf.d" / "zz.conf").write_text("map $http_upgrade $connection_upgrade {\n    default close;\n}\n")
    twice = only(run(plan, real_nginx_t(tmp_path, ""), nginx=bad("status_400", 400, "Bad Request")))
    assert twice["verdict"] == "BROKEN map: map $connection_upgrade defined twice"
    assert f"uses the last one ({tmp_path}/conf.d/zz.conf:1)" in twice["details"][0]


def test_real_nginx_t_without_the_map(tmp_path):
    plan = real_site(tmp_path)
    dump = real_nginx_t(tmp_path, "")
    assert dump["rc"] != 0
    row = only(run(plan, dump))
    assert row["verdict"] == "BROKEN nginx config: map $wsproxy_upgrade missing"
