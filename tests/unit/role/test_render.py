"""The role's templates, rendered for representative inputs, judged by real nginx (nginx -t).

Each case runs tests/unit/role/render.yml (the role's own preflight, then its own templates)
into a temporary nginx prefix laid out like Debian or RedHat, then runs the host's nginx -t
on a main nginx.conf that includes the files the way the distribution's nginx.conf does.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = REPO / "tests" / "unit" / "role" / "render.yml"
NGINX = "/usr/sbin/nginx"
NGINX_VERSION = "1.22.1"  # Debian 12's, as on this host; 1.26's http2 syntax is proven on trixie by Molecule

INCLUDES = {
    "Debian": "include {p}/etc/nginx/conf.d/*.conf;\n    include {p}/etc/nginx/sites-enabled/*;",
    "RedHat": "include {p}/etc/nginx/conf.d/*.conf;",
}


def nginx_conf(prefix: Path, os_family: str) -> Path:
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"    access_log off;\n    client_body_temp_path {prefix}/tmp;\n"
        f"    {INCLUDES[os_family].format(p=prefix)}\n"
        "}\n"
    )
    return conf


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=api.example.test", "-keyout", d / "key.pem", "-out", d / "cert.pem"],
        check=True, capture_output=True,
    )
    return {"certificate": str(d / "cert.pem"), "certificate_key": str(d / "key.pem")}


def render(prefix: Path, os_family: str, role_vars: dict) -> subprocess.CompletedProcess[str]:
    extra = {"out": str(prefix), "os_family": os_family, "nginx_version": NGINX_VERSION, **role_vars}
    return subprocess.run(
        ["ansible-playbook", str(PLAYBOOK), "-e", json.dumps(extra)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )


def render_and_check(tmp_path: Path, os_family: str, role_vars: dict) -> dict[str, str]:
    run = render(tmp_path, os_family, role_vars)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(nginx_conf(tmp_path, os_family))],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    return {str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*.conf")
            if p.is_file() and p.name != "nginx.conf"}


SINGLE = {"websocket_proxy_vhosts": [
    {"server_name": "api-calls.example.com", "locations": [{"path": "/api/", "backend": "localhost:5006"}]},
]}


def test_single_vhost_is_the_seeds_fix(tmp_path):
    files = render_and_check(tmp_path, "Debian", SINGLE)
    vhost = files["etc/nginx/sites-available/api-calls.example.com.conf"]
    assert "listen 80;" in vhost
    assert "server_name api-calls.example.com;" in vhost
    # plain requests reuse backend connections: an upstream with keepalive (websocket_proxy_upstream_keepalive)
    assert "upstream wsproxy_api_calls_example_com_1 {\n    server localhost:5006;\n    keepalive 32;\n}" in vhost
    assert vhost.index("upstream wsproxy_") < vhost.index("server {")
    assert "proxy_pass http://wsproxy_api_calls_example_com_1;" in vhost
    assert "proxy_set_header Connection $connection_upgrade;" in vhost
    assert (tmp_path / "etc/nginx/sites-enabled/api-calls.example.com.conf").is_symlink()
    maps = files["etc/nginx/conf.d/websocket_proxy_map.conf"]
    # The seed's map, made strict: a tunnel only for GET, HTTP/1.1, Upgrade: websocket and Connection: upgrade.
    assert "map $wsproxy_upgrade $connection_upgrade" in maps
    assert 'map "$request_method:$server_protocol:$wsproxy_connection_upgrade:$http_upgrade" $wsproxy_upgrade' in maps


def test_tls_vhost_listens_ssl_with_http2(tmp_path, tls):
    files = render_and_check(tmp_path, "Debian", {"websocket_proxy_vhosts": [
        {"server_name": "api.example.test", "tls": tls, "locations": [{"backend": "http://127.0.0.1:5006"}]},
    ]})
    vhost = files["etc/nginx/sites-available/api.example.test.conf"]
    assert "listen 443 ssl http2;" in vhost
    assert f"ssl_certificate {tls['certificate']};" in vhost


def test_several_vhosts_with_own_timeouts(tmp_path, tls):
    files = render_and_check(tmp_path, "Debian", {
        "websocket_proxy_read_timeout": 3600,
        "websocket_proxy_vhosts": [
            {"name": "calls", "server_name": ["calls.example.com", "*.calls.example.com"], "listen": [80, 8080],
             "locations": [{"path": "/api/", "backend": "127.0.0.1:5006", "send_timeout": "1d 2h"},
                           {"path": "/admin/", "backend": "127.0.0.1:5007", "websocket": False}]},
            {"name": "events", "server_name": "events.example.com", "tls": tls,
             "locations": [{"path": "/ws/", "backend": "unix:/run/events.sock"}]},
        ]})
    calls = files["etc/nginx/sites-available/calls.conf"]
    assert "listen 8080;" in calls and "server_name calls.example.com *.calls.example.com;" in calls
    assert "proxy_read_timeout 1h;" in calls and "proxy_send_timeout 1d2h;" in calls
    admin = calls[calls.index("location /admin/"):]
    assert "proxy_buffering off" not in admin and 'proxy_set_header Connection "";' in admin
    events = files["etc/nginx/sites-available/events.conf"]
    assert "server unix:/run/events.sock;" in events and "proxy_pass http://wsproxy_events_1;" in events


def test_regex_layout_puts_the_endpoints_before_the_plain_prefix(tmp_path):
    files = render_and_check(tmp_path, "Debian", {"websocket_proxy_vhosts": [
        {"server_name": "api-calls.example.com", "locations": [
            {"path": "/api/", "backend": "localhost:5006",
             "websocket_endpoints": ["frontend-audio", "call-events", "audio-stream"]}]},
    ]})
    vhost = files["etc/nginx/sites-available/api-calls.example.com.conf"]
    regex = vhost.index("location ~ ^/api/")
    plain = vhost.index("location /api/ {")
    assert regex < plain
    assert "frontend-audio" in vhost[regex:plain] and "proxy_buffering off;" in vhost[regex:plain]
    assert "proxy_buffering off;" not in vhost[plain:]


def test_redhat_layout_uses_conf_d_without_symlinks(tmp_path):
    files = render_and_check(tmp_path, "RedHat", SINGLE)
    assert "etc/nginx/conf.d/vhost-api-calls.example.com.conf" in files
    assert "etc/nginx/conf.d/websocket_proxy_map.conf" in files
    assert not (tmp_path / "etc/nginx/sites-enabled").exists()


def test_bad_input_is_refused_before_anything_is_written(tmp_path):
    run = render(tmp_path, "Debian", {"websocket_proxy_vhosts": [
        {"server_name": "api.example.com; return 200 injected", "locations": [{"backend": "localhost:5006"}]},
    ]})
    assert run.returncode != 0
    assert "websocket_proxy_vhosts[0].server_name" in run.stdout
    assert not (tmp_path / "etc").exists()


def test_tls_profile_goes_into_the_server_when_nginx_conf_is_not_the_roles(tmp_path, tls):
    files = render_and_check(tmp_path, "Debian", {
        "websocket_proxy_manage_nginx_conf": False,
        "websocket_proxy_vhosts": [{"server_name": "api.example.test", "tls": tls,
                                    "locations": [{"backend": "127.0.0.1:5006"}]}]})
    vhost = files["etc/nginx/sites-available/api.example.test.conf"]
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in vhost
    assert "ssl_session_tickets off;" in vhost
    assert "ECDHE-ECDSA-AES128-GCM-SHA256:" in vhost


def test_an_injected_cipher_list_is_refused(tmp_path, tls):
    run = render(tmp_path, "Debian", {"websocket_proxy_tls_ciphers": "HIGH; include /etc/passwd",
                                      "websocket_proxy_vhosts": SINGLE["websocket_proxy_vhosts"]})
    assert run.returncode != 0
    assert "websocket_proxy_tls_ciphers" in run.stdout


def test_upstream_keepalive_zero_proxies_straight_to_the_backend(tmp_path):
    files = render_and_check(tmp_path, "Debian", {"websocket_proxy_upstream_keepalive": 0, **SINGLE})
    vhost = files["etc/nginx/sites-available/api-calls.example.com.conf"]
    assert "upstream" not in vhost
    assert "proxy_pass http://localhost:5006;" in vhost


def test_replicas_get_their_balance_server_parameters_and_failover(tmp_path):
    sticky = ["127.0.0.1:3000", {"address": "127.0.0.2:3000", "weight": 2, "max_fails": 3, "fail_timeout": "5s"}]
    standby = ["127.0.0.1:5006", {"address": "127.0.0.3:5006", "backup": True}]
    files = render_and_check(tmp_path, "Debian", {"websocket_proxy_vhosts": [
        {"name": "app", "server_name": "app.example.com", "locations": [
            {"path": "/socket.io/", "backend": sticky, "balance": "ip_hash"},
            {"path": "/rooms/", "backend": sticky, "balance": "hash", "hash_key": "$cookie_room"},
            {"path": "/api/", "backend": standby, "balance": "least_conn"},
            {"path": "/one/", "backend": "127.0.0.1:5006"},
        ]},
    ]})
    vhost = files["etc/nginx/sites-available/app.conf"]
    blocks = {block.split(" {", 1)[0]: block for block in vhost.split("\nupstream ")[1:]}
    assert "    ip_hash;\n" in blocks["wsproxy_app_1"]
    assert "server 127.0.0.2:3000 weight=2 max_fails=3 fail_timeout=5s;" in blocks["wsproxy_app_1"]
    assert "    hash $cookie_room consistent;\n" in blocks["wsproxy_app_2"]
    assert "    least_conn;\n" in blocks["wsproxy_app_3"]
    # WebSocket replicas are never marked failed unless the user sets max_fails or fail_timeout (balance.py).
    assert "server 127.0.0.1:3000 max_fails=0;" in blocks["wsproxy_app_1"]
    assert "server 127.0.0.3:5006 max_fails=0 backup;" in blocks["wsproxy_app_3"]
    # The balancing method first, keepalive last (nginx ignores a keepalive before it, with a warning).
    for name in ("wsproxy_app_1", "wsproxy_app_2", "wsproxy_app_3"):
        block = blocks[name]
        assert block.index(" ip_hash;" if name.endswith("1") else " hash " if name.endswith("2") else " least_conn;") \
            < block.index("zone ") < block.index("server ") < block.index("keepalive ")
    # Several servers: passive failover is written; the single backend has none to fail over to.
    assert vhost.count("proxy_next_upstream error timeout;") == 3
    assert "zone wsproxy_app_4" not in vhost and "upstream wsproxy_app_4 " in vhost


def test_several_backends_share_one_upstream(tmp_path):
    files = render_and_check(tmp_path, "Debian", {"websocket_proxy_vhosts": [
        {"name": "calls", "server_name": "calls.example.com", "locations": [
            {"path": "/api/", "backend": ["127.0.0.1:5006", "127.0.0.2:5006"],
             "websocket_endpoints": ["frontend-audio"]}]}]})
    vhost = files["etc/nginx/sites-available/calls.conf"]
    assert vhost.count("upstream wsproxy_calls_") == 1
    assert "server 127.0.0.1:5006 max_fails=0;" in vhost and "server 127.0.0.2:5006 max_fails=0;" in vhost
    assert vhost.count("proxy_pass http://wsproxy_calls_1;") == 2


def test_a_resolver_makes_named_backends_dynamic(tmp_path):
    # nope.invalid does not resolve: nginx -t still passes, since nothing is resolved at load.
    files = render_and_check(tmp_path, "Debian", {
        "websocket_proxy_resolver": ["127.0.0.11"], "websocket_proxy_resolver_valid": "5s",
        "websocket_proxy_vhosts": [{"name": "calls", "server_name": "calls.example.com",
                                    "locations": [{"backend": "nope.invalid:5006"}]}]})
    vhost = files["etc/nginx/sites-available/calls.conf"]
    assert "resolver 127.0.0.11 valid=5s;" in vhost
    assert 'set $wsproxy_backend "http://nope.invalid:5006";' in vhost
    assert "proxy_pass $wsproxy_backend;" in vhost


# --------------------------------------------------------------------------- security at the WebSocket edge

SECURE_LOCATIONS = [
    {"path": "/api/", "backend": "127.0.0.1:5006", "limit_conn": 4,
     "allowed_origins": ["https://app.example.com", "https://*.example.com", "http://localhost:3000"]},
    {"path": "/events/", "backend": "127.0.0.1:5007", "websocket_endpoints": ["audio", "calls"],
     "allowed_origins": ["https://app.example.com:8443"], "allow_missing_origin": False,
     "handshake_rate": 30, "handshake_burst": 5, "client_max_body_size": "16k"},
    {"path": "/upload/", "backend": "127.0.0.1:5008", "websocket": False, "client_max_body_size": "50m"},
]


def test_origin_allowlists_limits_and_body_sizes(tmp_path, tls):
    files = render_and_check(tmp_path, "Debian", {
        "websocket_proxy_handshake_rate": 600,
        "websocket_proxy_vhosts": [
            {"name": "app", "server_name": "api.example.test", "tls": tls, "locations": SECURE_LOCATIONS},
            {"name": "other", "server_name": "other.example.test",
             "locations": [{"backend": "127.0.0.1:5009", "allowed_origins": ["https://other.example.com"]}]},
        ]})
    vhost = files["etc/nginx/sites-available/app.conf"]
    # one map per guarded location, in the http context before the server block, named after the vhost
    first = vhost[vhost.index("map \"$wsproxy_upgrade|$http_origin\" $wsproxy_origin_forbidden_app_1 {"):]
    first = first[:first.index("}")]
    assert '"websocket|https://app.example.com"    0;' in first
    assert '"websocket|http://localhost:3000"    0;' in first
    assert r'"~*^websocket\|https://[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.example\.com$"    0;' in first
    assert '"websocket|"    0;' in first  # allow_missing_origin defaults to true
    assert r'"~^\|"      0;' in first and "default     1;" in first
    second = vhost[vhost.index("$wsproxy_origin_forbidden_app_2 {"):]
    assert '"websocket|https://app.example.com:8443"    0;' in second
    assert '"websocket|"    1;' in second[:second.index("}")]
    assert vhost.index("map ") < vhost.index("server {")
    api = vhost[vhost.index("location /api/ {"):vhost.index("location ~ ")]
    assert "if ($wsproxy_origin_forbidden_app_1) {\n            return 403;\n        }" in api
    assert "limit_conn wsproxy_ws_conn 4;\n        limit_conn_status 429;" in api
    assert "limit_req zone=wsproxy_handshakes_600pm burst=10 nodelay;\n        limit_req_status 429;" in api
    assert "client_max_body_size 1m;" in api
    # the check comes before anything else in the location
    assert api.index("if (") < api.index("limit_conn") < api.index("proxy_pass")
    regex = vhost[vhost.index("location ~ "):vhost.index("location /events/ {")]
    assert "if ($wsproxy_origin_forbidden_app_2)" in regex
    assert "limit_req zone=wsproxy_handshakes_30pm burst=5 nodelay;" in regex and "limit_conn" not in regex
    assert "client_max_body_size 16k;" in regex
    plain = vhost[vhost.index("location /events/ {"):vhost.index("location /upload/ {")]
    assert "if (" not in plain and "limit_" not in plain and "client_max_body_size 16k;" in plain
    upload = vhost[vhost.index("location /upload/ {"):]
    assert "limit_" not in upload and "client_max_body_size 50m;" in upload
    # names are unique across vhost files
    other = files["etc/nginx/sites-available/other.conf"]
    assert "$wsproxy_origin_forbidden_other_1 {" in other and "if ($wsproxy_origin_forbidden_other_1)" in other
    assert "wsproxy_origin_forbidden_app" not in other
    # the zones are defined once, in the http context, keyed on the client address of handshakes only
    zones = files["etc/nginx/conf.d/websocket_proxy_map.conf"]
    assert "map $wsproxy_upgrade $wsproxy_ws_client {" in zones
    assert "websocket           $binary_remote_addr;" in zones
    assert zones.count("limit_conn_zone $wsproxy_ws_client zone=wsproxy_ws_conn:10m;") == 1
    assert "limit_req_zone $wsproxy_ws_client zone=wsproxy_handshakes_30pm:10m rate=30r/m;" in zones
    assert "limit_req_zone $wsproxy_ws_client zone=wsproxy_handshakes_600pm:10m rate=600r/m;" in zones
    # nothing in a location sets add_header (it would drop the server's HSTS)
    assert "add_header" not in vhost


def test_no_limits_write_no_zones(tmp_path):
    files = render_and_check(tmp_path, "Debian", SINGLE)
    zones = files["etc/nginx/conf.d/websocket_proxy_map.conf"]
    assert "limit_" not in zones and "wsproxy_ws_client" not in zones
    vhost = files["etc/nginx/sites-available/api-calls.example.com.conf"]
    assert "if (" not in vhost and "limit_" not in vhost and "map " not in vhost
    assert "client_max_body_size 1m;" in vhost
    assert "server_tokens" not in vhost  # the role's nginx.conf has it in the http context


def test_hsts_redirect_and_ocsp_stapling(tmp_path, tls):
    files = render_and_check(tmp_path, "Debian", {
        "websocket_proxy_resolver": ["127.0.0.53"],
        "websocket_proxy_hsts_max_age": 31536000,
        "websocket_proxy_vhosts": [
            {"name": "app", "server_name": ["api.example.test", "*.api.example.test"], "redirect_http": True,
             "hsts_include_subdomains": True, "tls": {**tls, "chain": tls["certificate"]},
             "locations": [{"backend": "127.0.0.1:5006"}]},
            {"name": "alt", "server_name": "alt.example.test", "listen": 8443, "redirect_http": True,
             "hsts_max_age": 0, "tls": tls, "locations": [{"backend": "127.0.0.1:5006"}]},
            {"name": "plain", "server_name": "plain.example.test", "locations": [{"backend": "127.0.0.1:5006"}]},
        ]})
    app = files["etc/nginx/sites-available/app.conf"]
    main, redirect = app.split("# websocket_proxy_vhosts[0].redirect_http:", 1)
    assert 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;' in main
    assert "ssl_trusted_certificate " + tls["certificate"] + ";" in main
    assert "ssl_stapling on;\n    ssl_stapling_verify on;" in main
    assert "resolver 127.0.0.53 valid=10s;" in main
    assert ("server {\n    listen 80;\n    server_name api.example.test *.api.example.test;\n"
            "    return 301 https://$host$request_uri;\n}") in redirect
    assert "Strict-Transport-Security" not in redirect
    alt = files["etc/nginx/sites-available/alt.conf"]
    assert "return 301 https://$host:8443$request_uri;" in alt
    assert "Strict-Transport-Security" not in alt  # hsts_max_age 0 on the vhost wins over the role's
    assert "ssl_stapling" not in alt  # no chain, no stapling
    plain = files["etc/nginx/sites-available/plain.conf"]
    assert "Strict-Transport-Security" not in plain and "return 301" not in plain  # HSTS is for TLS vhosts


def test_server_tokens_off_in_every_server_when_nginx_conf_is_not_the_roles(tmp_path, tls):
    files = render_and_check(tmp_path, "Debian", {
        "websocket_proxy_manage_nginx_conf": False,
        "websocket_proxy_vhosts": [{"name": "app", "server_name": "api.example.test", "tls": tls,
                                    "redirect_http": True, "locations": [{"backend": "127.0.0.1:5006"}]}]})
    app = files["etc/nginx/sites-available/app.conf"]
    assert app.count("server {") == 2
    assert app.count("    server_tokens off;") == 2


def test_snippets_get_their_origin_maps_in_the_map_file(tmp_path):
    files = render_and_check(tmp_path, "Debian", {
        "websocket_proxy_snippets": [{"name": "api", "locations": [
            {"backend": "127.0.0.1:5006", "allowed_origins": ["https://app.example.com"], "limit_conn": 2}]}]})
    zones = files["etc/nginx/conf.d/websocket_proxy_map.conf"]
    assert "map \"$wsproxy_upgrade|$http_origin\" $wsproxy_origin_forbidden_snippet_api_1 {" in zones
    assert "limit_conn_zone $wsproxy_ws_client zone=wsproxy_ws_conn:10m;" in zones


@pytest.mark.parametrize(("role_vars", "named"), [
    ({"websocket_proxy_vhosts": [{"server_name": "a.example.test", "locations": [
        {"backend": "127.0.0.1:5006", "allowed_origins": ['https://a.example.com" 0; } server { listen 81; #']}]}]},
     "websocket_proxy_vhosts[0].locations[0].allowed_origins[0]"),
    ({"websocket_proxy_vhosts": [{"server_name": "a.example.test", "locations": [
        {"backend": "127.0.0.1:5006", "client_max_body_size": "1m; return 200 x"}]}]},
     "websocket_proxy_vhosts[0].locations[0].client_max_body_size"),
    ({"websocket_proxy_client_max_body_size": "0\n    autoindex on"}, "websocket_proxy_client_max_body_size"),
    ({"websocket_proxy_vhosts": [{"server_name": "a.example.test", "tls": {
        "certificate": "/c.pem", "certificate_key": "/k.pem", "chain": "/c.pem;\n    ssl_stapling_file /x"},
        "locations": [{"backend": "127.0.0.1:5006"}]}]},
     "websocket_proxy_vhosts[0].tls.chain"),
    ({"websocket_proxy_limit_conn": "1 zone=x"}, "websocket_proxy_limit_conn"),
])
def test_injection_through_the_security_variables_is_refused_before_anything_is_written(tmp_path, role_vars, named):
    run = render(tmp_path, "Debian", {**SINGLE, **role_vars} if "websocket_proxy_vhosts" not in role_vars
                 else role_vars)
    assert run.returncode != 0
    assert named in run.stdout, run.stdout[-3000:]
    assert not (tmp_path / "etc").exists()


def test_an_acme_vhost_without_its_certificate_is_written_with_its_challenge_server_only(tmp_path):
    """Before certbot has the certificate, nginx -t must pass: the TLS server waits, port 80 answers the challenge."""
    vhost = {"name": "calls", "server_name": ["api.example.test", "calls.example.test"], "redirect_http": True,
             "tls": {"acme": True}, "locations": [{"path": "/api/", "backend": "127.0.0.1:5006"}]}
    files = render_and_check(tmp_path, "Debian", {"websocket_proxy_vhosts": [vhost]})
    conf = files["etc/nginx/sites-available/calls.conf"]
    assert "certbot has no certificate for this vhost yet" in conf
    assert "ssl_certificate" not in conf and " ssl" not in conf
    assert "    listen 80;\n    server_name api.example.test calls.example.test;" in conf
    assert "location ^~ /.well-known/acme-challenge/ {\n        root /var/lib/wsproxy-nginx/acme-challenge;" in conf
    assert "location / {\n        return 301 https://$host$request_uri;" in conf


@pytest.mark.parametrize(
    ("tls", "server_name", "message"),
    [
        ({"acme": True}, "*.example.test", "is a wildcard, a regex or the catch-all; the HTTP-01 challenge proves one"),
        ({"acme": True, "certificate": "/etc/ssl/c.pem"}, "a.example.test", ".certificate: '/etc/ssl/c.pem' is set"),
        ({"acme": "yes"}, "a.example.test", ".tls.acme: 'yes' is not a boolean"),
    ],
)
def test_acme_input_is_refused_before_anything_is_written(tmp_path, tls, server_name, message):
    vhost = {"server_name": server_name, "tls": tls, "locations": [{"backend": "127.0.0.1:5006"}]}
    run = render(tmp_path, "Debian", {"websocket_proxy_vhosts": [vhost]})
    assert run.returncode != 0 and message in run.stdout, run.stdout[-3000:]
    assert not list(tmp_path.rglob("*.conf"))
