"""nginx_conflicts: clashes between a host's nginx config (`nginx -T`) and the files the role is about to write.

Every claim is put to the real nginx: where the filter reports a clash, nginx warns, refuses the config or
(for what nginx accepts silently) serves the wrong thing; where it reports none, nginx is content.
The role's side is written into the tree as the role's templates write it (`listen <port>`, owned files),
and left out of the conflicts because those files are in owned_files.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.nginx_conflicts import FilterModule
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.nginx_dump import nginx_conflicts, nginx_error_file
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts
from nginx_helpers import ROLE_MAPS

conflicts_filter = FilterModule().filters()["nginx_conflicts"]

NGINX = os.environ.get("WSPROXY_TEST_NGINX", "/usr/sbin/nginx")
VARIABLES = ["connection_upgrade", "wsproxy_upgrade"]
TIMEOUTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s"}
NAME = "api-calls.example.com"

MAIN = """\
worker_processes 1;
{extra}pid {root}/run/nginx.pid;
error_log {root}/log/error.log;

events {{
    worker_connections 64;
}}

http {{
    access_log off;
    include conf.d/*.conf;
    include sites-enabled/*;
}}
"""

ROLE_MAP = "# Ansible managed\n" + ROLE_MAPS

FOREIGN_MAP = """\
# Someone's older attempt at WebSockets.

map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
}
"""


def nginx() -> str:
    if not os.access(NGINX, os.X_OK):
        pytest.fail(f"nginx is required and was not found at {NGINX} (set WSPROXY_TEST_NGINX)", pytrace=False)
    return NGINX


class Host:
    """A Debian-like /etc/nginx under a temp dir, with the role's files (owned) and foreign ones."""

    def __init__(self, root: Path, extra: str = "") -> None:
        self.root = root
        self.etc = root / "etc" / "nginx"
        for sub in ("run", "log", "etc/nginx/conf.d", "etc/nginx/sites-available", "etc/nginx/sites-enabled"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.conf = self.write("nginx.conf", MAIN.format(root=root, extra=extra))
        self.owned: list[str] = []

    def write(self, name: str, text: str) -> str:
        path = self.etc / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return str(path)

    def role_map(self) -> str:
        path = self.write("conf.d/websocket_proxy_map.conf", ROLE_MAP)
        self.owned.append(path)
        return path

    def role_vhost(self, name: str, body: str) -> None:
        """The role's vhost as the Debian layout has it: sites-available file, sites-enabled link; both owned."""
        target = self.write(f"sites-available/{name}.conf", body)
        link = self.etc / "sites-enabled" / f"{name}.conf"
        link.symlink_to(target)
        self.owned += [target, str(link)]

    def run(self, flag: str) -> subprocess.CompletedProcess[str]:
        command = [nginx(), flag, "-p", f"{self.root}/", "-e", str(self.root / "log" / "error.log"), "-c", self.conf]
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)

    def dump(self) -> tuple[str, str]:
        """(stdout, stderr) of a successful nginx -T."""
        result = self.run("-T")
        assert result.returncode == 0, result.stderr
        return result.stdout, result.stderr

    def path(self, name: str) -> str:
        return str(self.etc / name)


def vhosts(**extra):
    return websocket_vhosts(
        [{"server_name": NAME, "name": "api-calls", "locations": [{"backend": "localhost:5006"}], **extra}], TIMEOUTS
    )


def role_server(port: int = 80, default_server: bool = False, body: str = "return 200 role;") -> str:
    """What vhost.conf.j2 writes, reduced to what matters here."""
    flags = " default_server" if default_server else ""
    return f"server {{\n    listen {port}{flags};\n    server_name {NAME};\n    {body}\n}}\n"


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(host: Host, port: int, requests: list[tuple[str, str]]) -> list[str]:
    """Start nginx (one process, in the foreground), GET each (path, Host), stop it; the bodies."""
    command = [nginx(), "-p", f"{host.root}/", "-e", str(host.root / "log" / "error.log"), "-c", host.conf]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    bodies = []
    try:
        deadline = time.monotonic() + 10
        for path, name in requests:
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", path, headers={"Host": name})
                    bodies.append(conn.getresponse().read().decode())
                    conn.close()
                    break
                except ConnectionRefusedError:
                    assert process.poll() is None, process.stderr.read()
                    assert time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(timeout=10)
        process.stderr.close()
    return bodies


SERVING = "master_process off;\ndaemon off;\n"


# --- variables ---------------------------------------------------------------------------------------


def test_nginx_takes_a_second_map_of_the_same_variable_silently_and_the_last_one_wins(tmp_path):
    """Why the check exists: nginx -t passes without a word, and the role's map loses to a later file."""
    host = Host(tmp_path, extra=SERVING)
    port = free_port()
    host.role_map()  # conf.d/websocket_proxy_map.conf
    host.write("conf.d/zz-legacy.conf", FOREIGN_MAP)  # sorts after the role's map: wins
    host.write(
        "sites-enabled/probe", f"server {{\n    listen 127.0.0.1:{port};\n    return 200 $connection_upgrade;\n}}\n"
    )
    result = host.run("-t")
    assert result.returncode == 0
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr
    # No Upgrade header: the role's map says "" (keepalive-safe), the legacy one says "close".
    assert serve(host, port, [("/", "localhost")]) == ["close"]

    stdout, _stderr = host.dump()
    (conflict,) = nginx_conflicts(stdout, host.owned, VARIABLES, [])
    legacy = host.path("conf.d/zz-legacy.conf")
    assert conflict == {
        "kind": "variable",
        "file": legacy,
        "line": 3,
        "source": "$connection_upgrade",
        "message": f"$connection_upgrade is already defined by {legacy}:3 (map $http_upgrade $connection_upgrade); "
        "nginx would silently use the last one. Remove that map (or rename its variable) or let this role own it.",
    }


def test_every_foreign_definition_is_reported_geo_too_and_case_does_not_hide_one(host):
    host.role_map()
    host.write("conf.d/legacy.conf", FOREIGN_MAP)
    host.write("conf.d/geo.conf", "geo $remote_addr $WSPROXY_upgrade {\n    default websocket;\n}\n")
    stdout, _stderr = host.dump()
    found = nginx_conflicts(stdout, host.owned, ["$connection_upgrade", "wsproxy_upgrade"], [])
    assert [(c["source"], Path(c["file"]).name, c["line"]) for c in found] == [
        ("$connection_upgrade", "legacy.conf", 3),
        ("$wsproxy_upgrade", "geo.conf", 1),
    ]
    assert "(geo $remote_addr $WSPROXY_upgrade)" in found[1]["message"]
    assert "Remove that geo" in found[1]["message"]


def test_adopt_mode_takes_one_foreign_definition_but_not_two(host):
    host.write("conf.d/legacy.conf", FOREIGN_MAP)
    stdout, _stderr = host.dump()
    assert nginx_conflicts(stdout, [], ["connection_upgrade"], [], mode="adopt") == []

    host.write("conf.d/legacy2.conf", FOREIGN_MAP)
    stdout, _stderr = host.dump()
    found = nginx_conflicts(stdout, [], ["connection_upgrade"], [], mode="adopt")
    assert [Path(c["file"]).name for c in found] == ["legacy.conf", "legacy2.conf"]
    assert "defined 2 times outside this role" in found[0]["message"]
    assert len(nginx_conflicts(stdout, [], ["connection_upgrade"], [])) == 2


# --- the role's own files --------------------------------------------------------------------------------


def test_a_host_the_role_already_configured_has_no_conflicts(host):
    """The role's map, vhost file and sites-enabled link are all about to be replaced: none of them counts."""
    host.role_map()
    host.role_vhost("api-calls", role_server(default_server=True))
    stdout, _stderr = host.dump()
    assert nginx_conflicts(stdout, host.owned, VARIABLES, vhosts(default_server=True)) == []
    # The same dump, with nothing owned, is full of clashes: the exclusion is what makes it empty.
    kinds = [c["kind"] for c in nginx_conflicts(stdout, [], VARIABLES, vhosts(default_server=True))]
    assert kinds == ["variable", "variable", "default_server", "server"]


def test_owned_paths_are_compared_normalised(host):
    host.role_map()
    stdout, _stderr = host.dump()
    owned = [str(host.etc / "conf.d" / ".." / "conf.d" / "websocket_proxy_map.conf")]
    assert nginx_conflicts(stdout, owned, VARIABLES, []) == []


# --- server names ----------------------------------------------------------------------------------------

SAME_SOCKET = "same socket: nginx warns"
SHADOW = "an address of the port: nginx is silent"
NONE = "no clash: nginx is silent"


@pytest.mark.parametrize(
    ("listen", "server_name", "expected"),
    [
        ("80", NAME, SAME_SOCKET),
        ("*:80", NAME, SAME_SOCKET),
        ("0.0.0.0:80", NAME, SAME_SOCKET),
        (None, NAME, SAME_SOCKET),  # no listen at all: *:80
        ("80", "API-Calls.Example.COM", SAME_SOCKET),
        ("80", ".api-calls.example.com", SAME_SOCKET),
        ("80", f"www.example.org {NAME}", SAME_SOCKET),
        ("127.0.0.1:80", NAME, SHADOW),
        ("[::]:80", NAME, NONE),
        ("8080", NAME, NONE),
        ("80", "*.example.com", NONE),
        ("80", "~^api-calls\\.example\\.com$", NONE),
        ("80", "other.example.com", NONE),
    ],
)
def test_server_name_clashes_are_the_ones_nginx_sees(host, listen, server_name, expected):
    host.role_vhost("api-calls", role_server())
    listen_line = f"    listen {listen};\n" if listen else ""
    foreign = host.write("sites-enabled/legacy", f"server {{\n{listen_line}    server_name {server_name};\n}}\n")
    stdout, stderr = host.dump()

    found = nginx_conflicts(stdout, host.owned, VARIABLES, vhosts())
    warned = "conflicting server name" in stderr
    assert warned == (expected == SAME_SOCKET), stderr
    if expected == NONE:
        assert found == []
        return
    (conflict,) = found
    assert (conflict["kind"], conflict["file"], conflict["line"]) == ("server", foreign, 1)
    assert conflict["source"] == "websocket_proxy_vhosts[0].server_name"
    assert conflict["message"].startswith(
        f"websocket_proxy_vhosts[0].server_name: {NAME!r} on port 80 is already served by the server block at "
        f"{foreign}:1 "
    )
    if expected == SAME_SOCKET:
        assert 'nginx would warn "conflicting server name"' in conflict["message"]
    else:
        assert "requests arriving on 127.0.0.1:80 would reach that server block only" in conflict["message"]
    assert conflict["message"].endswith("or give this vhost another server name or port.")


def test_a_same_name_on_one_address_of_the_port_takes_that_addresss_requests(tmp_path):
    """The SHADOW case above, served: nginx says nothing, and the role's vhost never sees requests to 127.0.0.1."""
    host = Host(tmp_path, extra=SERVING)
    port = free_port()
    host.role_vhost("api-calls", role_server(port))
    legacy = f"server {{\n    listen 127.0.0.1:{port};\n    server_name {NAME};\n    return 200 legacy;\n}}\n"
    host.write("sites-enabled/legacy", legacy)
    stdout, stderr = host.dump()
    assert "[warn]" not in stderr
    assert serve(host, port, [("/", NAME)]) == ["legacy"]
    role = vhosts(listen=port)
    assert [c["kind"] for c in nginx_conflicts(stdout, host.owned, VARIABLES, role)] == ["server"]


def test_each_vhost_and_each_of_its_ports_is_checked(host):
    host.write("sites-enabled/legacy", "server {\n    listen 8443;\n    server_name b.example.com;\n}\n")
    stdout, _stderr = host.dump()
    role = websocket_vhosts(
        [
            {"server_name": "a.example.com", "locations": [{"backend": "a:1"}]},
            {
                "server_name": ["x.example.com", "B.example.com"],
                "listen": [8080, 8443],
                "locations": [{"backend": "b:1"}],
            },
        ],
        TIMEOUTS,
    )
    (conflict,) = nginx_conflicts(stdout, [], [], role)
    assert conflict["message"].startswith("websocket_proxy_vhosts[1].server_name: 'B.example.com' on port 8443 ")


def test_the_redirect_http_server_of_a_tls_vhost_clashes_on_its_plain_port(host):
    host.write("sites-enabled/legacy", f"server {{\n    listen 80;\n    server_name {NAME};\n}}\n")
    tls = {"certificate": "/etc/ssl/certs/api.pem", "certificate_key": "/etc/ssl/private/api.key"}
    # What the role writes for that vhost's redirect: a plain server on port 80 with the same names.
    host.role_vhost("api-calls", role_server(80, body="return 301 https://$host$request_uri;"))
    stdout, stderr = host.dump()
    assert f'conflicting server name "{NAME}" on 0.0.0.0:80, ignored' in stderr  # what nginx says of it
    (conflict,) = nginx_conflicts(stdout, host.owned, [], vhosts(tls=tls, redirect_http=True))
    assert conflict["kind"] == "server"
    assert conflict["message"].startswith(f"websocket_proxy_vhosts[0].server_name: {NAME!r} on port 80 ")
    assert conflict["file"] == host.path("sites-enabled/legacy")
    # Without redirect_http the vhost listens on 443 only, and the legacy server on 80 is no clash.
    assert nginx_conflicts(stdout, host.owned, [], vhosts(tls=tls)) == []


# --- default servers -------------------------------------------------------------------------------------

DEBIAN_DEFAULT = """\
server {
    listen 80 default_server;
    listen [::]:80 default_server;
    root /var/www/html;
    server_name _;
}
"""


def test_a_second_default_server_on_a_port_is_what_nginx_refuses(host):
    default = host.write("sites-enabled/default", DEBIAN_DEFAULT)
    stdout, _stderr = host.dump()
    (conflict,) = nginx_conflicts(stdout, host.owned, VARIABLES, vhosts(default_server=True))
    assert (conflict["kind"], conflict["file"], conflict["line"]) == ("default_server", default, 2)
    assert conflict["message"] == (
        "websocket_proxy_vhosts[0].default_server: port 80 already has a default server, the server block at "
        f'{default}:1 (listen 80 default_server at {default}:2); nginx -t would fail with "a duplicate default '
        'server". Remove default_server from that listen directive, or set '
        "websocket_proxy_vhosts[0].default_server: false."
    )
    # nginx agrees, once the role's vhost is there.
    host.role_vhost("api-calls", role_server(default_server=True))
    result = host.run("-t")
    assert result.returncode != 0
    assert "a duplicate default server for 0.0.0.0:80" in result.stderr
    # sites-enabled/api-calls.conf sorts first; nginx names the second default server.
    assert nginx_error_file(result.stderr) == (default, 2)
    # The role removes the Debian default site: it is then the role's, and nothing clashes.
    assert nginx_conflicts(stdout, [default], VARIABLES, vhosts(default_server=True)) == []


def test_default_servers_on_other_addresses_of_the_port_are_fine(host):
    host.write("sites-enabled/v6", "server {\n    listen [::]:80 default_server;\n}\n")
    host.write("sites-enabled/local", "server {\n    listen 127.0.0.1:80 default_server;\n}\n")
    stdout, _stderr = host.dump()
    assert nginx_conflicts(stdout, [], VARIABLES, vhosts(default_server=True)) == []
    host.role_vhost("api-calls", role_server(default_server=True))
    assert host.run("-t").returncode == 0


# --- snippet mode: locations ------------------------------------------------------------------------------

BROWNFIELD = """\
server {
    listen 80;
    server_name shop.example.com;
    location / {
        root /srv/shop;
    }
    location /api/ {
        proxy_pass http://127.0.0.1:9000;
    }
    location ^~ /ws/ {
        proxy_pass http://127.0.0.1:9001;
    }
    location ~ ^/socket$ {
        proxy_pass http://127.0.0.1:9002;
    }
    location = /x {
        return 204;
    }
    include snippets/websocket_proxy.conf;
}
"""


@pytest.mark.parametrize(
    ("modifier", "path", "nginx_says"),
    [
        ("", "/api/", "duplicate location"),
        ("^~", "/api/", "duplicate location"),
        ("", "/ws/", "duplicate location"),
        ("~", "^/socket$", "accepted"),  # accepted, and the first one wins: still a clash
        ("", "/x", None),  # an exact and a prefix location may share a path
        ("~*", "^/socket$", None),
        ("", "/api/ws/", None),
    ],
)
def test_snippet_locations_that_nginx_would_refuse_or_shadow(host, modifier, path, nginx_says):
    site = host.write("sites-enabled/shop", BROWNFIELD)
    snippet = host.write("snippets/websocket_proxy.conf", "# empty until the role writes it\n")
    host.owned.append(snippet)
    stdout, _stderr = host.dump()
    targets = [{"file": site, "locations": [{"modifier": modifier, "path": path, "source": "snippet.locations[0]"}]}]
    found = nginx_conflicts(stdout, host.owned, VARIABLES, [], snippet_targets=targets)

    # What nginx says once the snippet holds that location.
    host.write("snippets/websocket_proxy.conf", f"location {modifier} {path} {{\n    return 200 role;\n}}\n")
    result = host.run("-t")
    if nginx_says == "duplicate location":
        assert result.returncode != 0 and "duplicate location" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
    if nginx_says is None:
        assert found == []
        return
    (conflict,) = found
    assert (conflict["kind"], conflict["file"], conflict["source"]) == ("location", site, "snippet.locations[0]")
    if nginx_says == "duplicate location":
        assert 'nginx -t would fail with "duplicate location"' in conflict["message"]
    else:
        assert "the one written first wins" in conflict["message"]
    assert conflict["message"].startswith(f"snippet.locations[0]: location {(modifier + ' ' + path).strip()!r} is ")
    assert f"in the server block at {site}:1 that is to include this role's snippet" in conflict["message"]


def test_a_snippet_already_included_does_not_clash_with_itself(host):
    site = host.write("sites-enabled/shop", BROWNFIELD)
    snippet = host.write("snippets/websocket_proxy.conf", "location /calls/ {\n    return 200 role;\n}\n")
    stdout, _stderr = host.dump()
    targets = [{"file": site, "locations": [{"modifier": "", "path": "/calls/", "source": "s"}]}]
    assert nginx_conflicts(stdout, [snippet], [], [], snippet_targets=targets) == []
    assert [c["kind"] for c in nginx_conflicts(stdout, [], [], [], snippet_targets=targets)] == ["location"]


def test_a_snippet_target_nginx_does_not_load_is_reported(host):
    available = host.write(
        "sites-available/shop", BROWNFIELD.replace("    include snippets/websocket_proxy.conf;\n", "")
    )
    stdout, _stderr = host.dump()
    targets = [{"file": available, "locations": [], "source": "websocket_proxy_snippet_sites[0]"}]
    (conflict,) = conflicts_filter(stdout, [], [], [], "fail", targets)
    assert (conflict["kind"], conflict["file"], conflict["line"]) == ("snippet_target", available, None)
    assert conflict["message"].startswith(f"websocket_proxy_snippet_sites[0].file: {available} holds no server block")


# --- an already broken config -----------------------------------------------------------------------------


def test_a_broken_foreign_vhost_is_named_with_its_file_and_line(host):
    broken = host.write("sites-enabled/broken", "server {\n    listen 80;\n    proxy_pas http://x;\n}\n")
    result = host.run("-T")
    assert result.returncode != 0 and result.stdout == ""
    assert nginx_error_file(result.stderr) == (broken, 3)
    with pytest.raises(AnsibleFilterError, match="holds no '# configuration file <path>:' line"):
        conflicts_filter(result.stdout, [], VARIABLES, [])


# --- the filter's arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None, [], [], []), r"nginx_conflicts: the input must be the stdout of nginx -T \(a string\), got None"),
        (("x", [], [], [], "merge"), r"nginx_conflicts: mode must be one of fail, adopt, got 'merge'"),
        (("# configuration file /e/n.conf:\n", "/etc", [], []), r"nginx_conflicts: owned_files: '/etc' is not a list"),
        (("# configuration file /e/n.conf:\n", [], [1], []), r"nginx_conflicts: variables: 1 is not a string"),
        (("# configuration file /e/n.conf:\n", [], [], {"a": 1}), r"websocket_proxy_vhosts: .* is not a list"),
        (
            ("# configuration file /e/n.conf:\n", [], [], [{"server_names": ["a"], "listen": [{"port": 0}]}]),
            r"websocket_proxy_vhosts\[0\]\.listen\[0\]\.port: 0 is not a port",
        ),
        (
            ("# configuration file /e/n.conf:\n", [], [], [], "fail", [{"file": "shop", "locations": []}]),
            r"snippet_targets\[0\]\.file: 'shop' is not an absolute path",
        ),
        (
            ("# configuration file /e/n.conf:\n", [], [], [], "fail", [{"file": "/s", "locations": [{"path": "/"}]}]),
            None,
        ),
        (
            ("# configuration file /e/n.conf:\nserver {\n", [], [], []),
            r'/e/n.conf:1: the block opened here is never closed \(no "}"\)',
        ),
    ],
)
def test_bad_arguments_fail_with_a_message(args, message):
    if message is None:
        assert [c["kind"] for c in conflicts_filter(*args)] == ["snippet_target"]
        return
    with pytest.raises(AnsibleFilterError, match=message):
        conflicts_filter(*args)


# --- TLS and plain on one address:port ---------------------------------------------------------------------


def test_a_tls_vhost_on_a_port_a_foreign_server_serves_without_tls_is_refused(host):
    """ssl on a listen applies to the whole address:port: nginx -t fails and names the foreign file."""
    legacy = host.write(
        "sites-enabled/legacy", "server {\n    listen 8443 default_server;\n    server_name legacy.test;\n}\n"
    )
    stdout, _stderr = host.dump()
    tls = {"certificate": "/etc/ssl/certs/api.pem", "certificate_key": "/etc/ssl/private/api.key"}
    (conflict,) = nginx_conflicts(stdout, host.owned, VARIABLES, vhosts(tls=tls, listen=8443))
    assert (conflict["kind"], conflict["file"], conflict["line"]) == ("tls_port", legacy, 2)
    assert conflict["message"].startswith(
        "websocket_proxy_vhosts[0].listen: port 8443 would be served with TLS (tls) by this vhost, but the server "
        f"block at {legacy}:1 listens on the same address and port without TLS (listen 8443 default_server at "
        f"{legacy}:2)"
    )
    # nginx agrees, once the role's TLS server is there: its error names the foreign file, not the vhost.
    cert = host.write("api.pem", "")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=x", "-keyout", f"{cert}.key", "-out", cert],
                   capture_output=True, check=True)
    host.role_vhost("api-calls", role_server(8443, body=f"ssl_certificate {cert}; ssl_certificate_key {cert}.key;")
                    .replace("listen 8443;", "listen 8443 ssl;"))
    result = host.run("-t")
    assert result.returncode != 0
    assert 'no "ssl_certificate" is defined for the "listen ... ssl" directive' in result.stderr
    assert nginx_error_file(result.stderr) == (legacy, 1)


def test_tls_and_plain_on_different_addresses_or_ports_are_fine(host):
    host.write("sites-enabled/legacy", "server {\n    listen 127.0.0.1:8443;\n    listen 80;\n}\n")
    stdout, _stderr = host.dump()
    tls = {"certificate": "/etc/ssl/certs/api.pem", "certificate_key": "/etc/ssl/private/api.key"}
    assert nginx_conflicts(stdout, host.owned, VARIABLES, vhosts(tls=tls, listen=8443)) == []


def test_a_plain_vhost_on_a_foreign_tls_port_is_refused(host):
    stdout, _stderr = host.dump()
    # The foreign TLS server as nginx -T prints it (nginx itself would want a certificate for it).
    stdout += f"# configuration file {host.path('sites-enabled/tls')}:\nserver {{\n    listen 8443 ssl;\n}}\n"
    (conflict,) = nginx_conflicts(stdout, host.owned, VARIABLES, vhosts(listen=8443))
    assert conflict["kind"] == "tls_port"
    assert "would be served without TLS by this vhost" in conflict["message"]
    assert "listens on the same address and port with TLS (ssl)" in conflict["message"]
