"""nginx_dump: the stdout of `nginx -T` into a tree that knows each directive's context, file and line.

The dumps are made by the real nginx from small config trees (a Debian-like layout under a temp dir),
so the tests hold the parser to what nginx actually prints, in the order it prints it; where the parser
claims to tokenise as nginx does, a running nginx returns the parsed strings as response bodies.
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
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.nginx_dump import (
    Definition,
    map_definitions,
    nginx_error_file,
    parse_config,
    parse_dump,
    parse_listen,
    parse_location,
    servers,
    tokenize,
    walk,
)

NGINX = os.environ.get("WSPROXY_TEST_NGINX", "/usr/sbin/nginx")

MAIN = """\
# Debian-like main file.
worker_processes 1;
pid {root}/run/nginx.pid;
error_log {root}/log/error.log;
include {etc}/modules-enabled/*.conf;

events {{
    worker_connections 64;
}}

http {{
    access_log off;
    include mime.types;
    default_type application/octet-stream;
    include conf.d/*.conf;
    include sites-enabled/*;
}}
"""

DEBIAN = {
    "mime.types": "types {\n    text/html html;\n    application/json json;\n}\n",
    "conf.d/upstream.conf": "upstream app {\n    server 127.0.0.1:9000;\n    keepalive 8;\n}\n",
    "conf.d/websocket.conf": (
        "# Written by hand, long ago.\nmap $http_upgrade $connection_upgrade {\n"
        "    default upgrade;\n    ''      close;\n}\n"
    ),
    # Never matched by conf.d/*.conf (glob skips dot files): a location there would break the http context.
    "conf.d/.hidden.conf": "location /hidden {\n    return 204;\n}\n",
    "snippets/health.conf": 'location = /healthz {\n    return 200 "ok; {not a block} # not a comment";\n}\n',
    "sites-available/default": """\
server {
    listen 80 default_server;
    listen [::]:80 default_server;
    root /var/www/html;
    server_name _;
    include snippets/health.conf;
    location / {
        try_files $uri $uri/ =404;
    }
}
""",
    "sites-enabled/app": """\
# app.example.com { not a block; "not a string
server {
    listen 0.0.0.0:80;
    server_name app.example.com www.app.example.com;  # trailing comment ; {
    add_header X-Note "a;b{c}#d" always;
    add_header X-Single 'it\\'s' always;
    include conf.d/.hidden.conf;
    include snippets/health.conf;
    location /api/ {
        proxy_pass http://app;
        location ~ \\.json$ {
            proxy_pass http://app;
        }
    }
    location ^~ /static/ { root /srv; }
    location =/exact { return 204; }
}
""",
    "sites-enabled/other": "server {\n    listen 8080;\n    server_name app.example.com;\n    return 204;\n}\n",
}


def nginx() -> str:
    if not os.access(NGINX, os.X_OK):
        pytest.fail(f"nginx is required and was not found at {NGINX} (set WSPROXY_TEST_NGINX)", pytrace=False)
    return NGINX


class Layout:
    """A config tree under ``root``: etc/nginx/nginx.conf and its includes; nginx runs with prefix ``root``."""

    def __init__(self, root: Path, main: str = MAIN) -> None:
        self.root = root
        self.etc = root / "etc" / "nginx"
        for sub in ("run", "log", "etc/nginx/modules-enabled", "etc/nginx/conf.d", "etc/nginx/sites-enabled"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.conf = self.write("nginx.conf", main.format(root=root, etc=self.etc))
        self.write("mime.types", DEBIAN["mime.types"])

    def write(self, name: str, text: str) -> str:
        path = self.etc / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return str(path)

    def link(self, name: str, target: str) -> str:
        path = self.etc / name
        path.symlink_to(self.etc / target)
        return str(path)

    def path(self, name: str) -> str:
        return str(self.etc / name)

    def run(self, flag: str) -> subprocess.CompletedProcess[str]:
        command = [nginx(), flag, "-p", f"{self.root}/", "-e", str(self.root / "log" / "error.log"), "-c", self.conf]
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)

    def dump(self) -> str:
        result = self.run("-T")
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture
def debian(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path)
    for name, text in DEBIAN.items():
        if name not in ("mime.types", "sites-available/default"):
            layout.write(name, text)
    layout.write("sites-available/default", DEBIAN["sites-available/default"])
    layout.link("sites-enabled/default", "sites-available/default")
    return layout


# --- what nginx -T prints, and the tree rebuilt from it ------------------------------------------------


def test_files_come_in_the_order_nginx_opened_them_each_once(debian):
    dump = parse_dump(debian.dump())
    assert [config.path for config in dump.files] == [
        debian.conf,
        debian.path("mime.types"),
        debian.path("conf.d/upstream.conf"),
        debian.path("conf.d/websocket.conf"),
        debian.path("sites-enabled/app"),
        debian.path("conf.d/.hidden.conf"),
        debian.path("snippets/health.conf"),  # included by app and default, printed once
        debian.path("sites-enabled/default"),  # the link's name, as the glob found it
        debian.path("sites-enabled/other"),
    ]
    assert dump.files[4].text == DEBIAN["sites-enabled/app"]


def test_relative_includes_are_relative_to_the_main_files_directory_not_the_prefix(debian):
    dump = parse_dump(debian.dump())
    patterns = {include.pattern: include.matched for include in dump.includes}
    assert patterns[debian.path("mime.types")] == (debian.path("mime.types"),)
    assert patterns[debian.path("conf.d/*.conf")] == (
        debian.path("conf.d/upstream.conf"),
        debian.path("conf.d/websocket.conf"),
    )
    assert patterns[str(debian.etc / "modules-enabled/*.conf")] == ()


def test_included_files_take_the_context_of_their_include(debian):
    dump = parse_dump(debian.dump())
    by_file: dict[str, set[tuple[str, ...]]] = {}
    for directive in walk(dump.tree):
        by_file.setdefault(directive.file, set()).add(directive.context[:2])
    assert by_file[debian.path("mime.types")] == {("http",), ("http", "types")}
    assert by_file[debian.path("conf.d/upstream.conf")] == {("http",), ("http", "upstream")}
    assert by_file[debian.path("sites-enabled/app")] >= {("http",), ("http", "server")}
    # Included into two servers, never into http itself.
    assert by_file[debian.path("snippets/health.conf")] == {("http", "server")}
    # conf.d/*.conf does not match .hidden.conf; nginx agrees, or its location in http would fail nginx -t.
    assert by_file[debian.path("conf.d/.hidden.conf")] == {("http", "server")}
    assert by_file[debian.conf] == {(), ("events",), ("http",)}


def test_servers_names_listens_and_locations(debian):
    app, default, other = servers(parse_dump(debian.dump()))

    assert app.server_names == ("app.example.com", "www.app.example.com")
    assert (app.file, app.line) == (debian.path("sites-enabled/app"), 2)
    assert [(listen.socket, listen.default_server) for listen in app.listen] == [("*:80", False)]
    assert [(loc.modifier, loc.path, Path(loc.file).name, loc.line) for loc in app.locations] == [
        ("", "/hidden", ".hidden.conf", 1),
        ("=", "/healthz", "health.conf", 1),
        ("", "/api/", "app", 9),
        ("^~", "/static/", "app", 15),
        ("=", "/exact", "app", 16),
    ]
    nested = app.locations[2].locations
    assert [(loc.modifier, loc.path, loc.line) for loc in nested] == [("~", r"\.json$", 11)]

    assert default.server_names == ("_",)
    assert [(listen.socket, listen.family, listen.default_server) for listen in default.listen] == [
        ("*:80", "ipv4", True),
        ("[::]:80", "ipv6", True),
    ]
    assert [loc.describe() for loc in default.locations] == ["= /healthz", "/"]
    assert [listen.socket for listen in other.listen] == ["*:8080"]


def test_quotes_comments_and_escapes_in_the_tree(debian):
    dump = parse_dump(debian.dump())
    headers = [d.args for d in walk(dump.tree) if d.name == "add_header"]
    assert headers == [("X-Note", "a;b{c}#d", "always"), ("X-Single", "it's", "always")]
    returns = [d.args for d in walk(dump.tree) if d.name == "return" and d.file.endswith("health.conf")]
    assert returns == [("200", "ok; {not a block} # not a comment")] * 2


def test_map_definitions_in_the_http_context(debian):
    definitions = map_definitions(parse_dump(debian.dump()))
    assert definitions == [
        Definition(
            "connection_upgrade", debian.path("conf.d/websocket.conf"), 2, "map $http_upgrade $connection_upgrade"
        )
    ]
    variable, _file, line, _statement = definitions[0]
    assert (variable, line) == ("connection_upgrade", 2)


def test_geo_and_split_clients_define_variables_too(tmp_path):
    layout = Layout(tmp_path)
    layout.write(
        "conf.d/vars.conf",
        'geo $geo_one { default 0; }\ngeo $remote_addr $Geo_Two { default 0; }\nsplit_clients "${remote_addr}" $half '
        "{ 50% a; * b; }\n",
    )
    definitions = map_definitions(parse_dump(layout.dump()))
    assert [(d.variable, d.line, d.statement.split()[0]) for d in definitions] == [
        ("geo_one", 1, "geo"),
        ("Geo_Two", 2, "geo"),
        ("half", 3, "split_clients"),
    ]


def test_ansible_strips_the_trailing_newlines_of_stdout_and_nothing_changes(debian):
    text = debian.dump()
    assert parse_dump(text.rstrip("\n")).tree == parse_dump(text).tree


def test_lines_that_look_like_headers_stay_in_their_file(tmp_path):
    """A header is one only where nginx could have printed it: a path some include matches, outside quotes."""
    layout = Layout(tmp_path)
    header = f"# configuration file {layout.path('conf.d/inside-a-string.conf')}:"
    site = layout.write(
        "sites-enabled/tricky",
        f'server {{\n    listen 8082;\n# configuration file /nowhere/fake.conf:\n    return 200 "\n{header}\n";\n}}\n',
    )
    dump = parse_dump(layout.dump())
    assert [config.path for config in dump.files] == [layout.conf, layout.path("mime.types"), site]
    ((_code, body),) = [d.args for d in walk(dump.tree) if d.name == "return"]
    assert body == f"\n{header}\n"


def test_line_numbers_match_the_ones_nginx_reports(tmp_path):
    """After multi-line strings, escaped newlines and comments, nginx names the same line as the parser."""
    layout = Layout(tmp_path)
    text = (
        'server {\n    listen 8081;\n    add_header X-A "one\ntwo\n" always;  # "\n'
        "    add_header X-B 'three\\\nfour' always;\n    # } ;\n    bogus_directive on;\n}\n"
    )
    site = layout.write("sites-enabled/broken", text)
    result = layout.run("-t")
    assert result.returncode != 0
    reported = nginx_error_file(result.stderr)
    assert reported == (site, 9), result.stderr
    (server,) = parse_config(text, site)
    bogus = next(d for d in server.block if d.name == "bogus_directive")
    assert (bogus.file, bogus.line) == reported


# --- the tokeniser against a running nginx -----------------------------------------------------------

TRICKY = {
    "/1": '"semi;colon {brace} #hash"',
    "/2": "'single \"double\" \\' escaped'",
    "/3": "a#b",
    "/4": '"tab\\there\\nnewline \\\\ backslash \\x kept"',
    "/5": '"multi\nline"',
    "/6": "escaped\\ space",
    "/7": '"}"',
    "/8": "'quote\"s'",
    "/9": "\\\\",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_parsed_strings_are_the_ones_nginx_serves(tmp_path):
    port = _free_port()
    main = MAIN.replace("worker_processes 1;", "worker_processes 1;\nmaster_process off;\ndaemon off;")
    layout = Layout(tmp_path, main)
    locations = "".join(f"    location = {uri} {{ return 200 {body}; }}\n" for uri, body in TRICKY.items())
    layout.write("sites-enabled/tricky", f"server {{\n    listen 127.0.0.1:{port};\n{locations}}}\n")
    parsed = {}
    for server in servers(parse_dump(layout.dump())):
        for location in (d for d in server.directives if d.name == "location"):
            (returned,) = (d for d in location.block if d.name == "return")
            parsed[parse_location(location.args)[1]] = returned.args[1]
    assert set(parsed) == set(TRICKY)
    command = [nginx(), "-p", f"{tmp_path}/", "-e", str(tmp_path / "log" / "error.log"), "-c", layout.conf]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        served = {}
        deadline = time.monotonic() + 10
        for uri in TRICKY:
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", uri)
                    served[uri] = conn.getresponse().read().decode()
                    conn.close()
                    break
                except ConnectionRefusedError:
                    assert process.poll() is None and time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(timeout=10)
        process.stderr.close()
    assert served == parsed
    # Spot checks of what that means.
    assert parsed["/3"] == "a#b" and parsed["/6"] == "escaped\\ space"
    assert parsed["/4"] == "tab\there\nnewline \\ backslash \\x kept"


# --- units ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a b;", ["a", "b", ";"]),
        ("a#b c; # comment ; {", ["a#b", "c", ";"]),
        ('a "x y";', ["a", "x y", ";"]),
        ("a 'x\\'y';", ["a", "x'y", ";"]),
        ('a "";', ["a", "", ";"]),
        ("a b{c d;}", ["a", "b", "{", "c", "d", ";", "}"]),
        ("set $x ${a}b;", ["set", "$x", "${a}b", ";"]),
        ("a ${a}{b};", ["a", "${a}", "{", "b}", ";"]),
        ("a b\\;c;", ["a", "b\\;c", ";"]),
        ("a b}c;", ["a", "b}c", ";"]),
        ("a\r\nb;", ["a", "b", ";"]),
    ],
)
def test_tokenize(text, words):
    assert [token.value for token in tokenize(text)] == words


def test_empty_string_word_is_not_a_semicolon():
    assert [(t.value, t.kind) for t in tokenize('a "";')] == [("a", "word"), ("", "word"), (";", ";")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("server {\n  listen 80;\n", 'f:1: the block opened here is never closed (no "}")'),
        ("listen 80;\n}\n", 'f:2: unexpected "}"'),
        ("a {\n  b c }\n", 'f:2: unexpected "}"'),
        ("a b", 'f:1: "a" is not ended by ";" or "{"'),
        (";", 'f:1: unexpected ";"'),
        ('a "b;\n', 'f:1: a quoted string (") is never closed'),
    ],
)
def test_broken_text_is_refused_with_file_and_line(text, message):
    with pytest.raises(ConfigError) as info:
        parse_config(text, "f")
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("args", "socket", "family", "ssl", "default"),
    [
        (["80"], "*:80", "ipv4", False, False),
        (["*:80"], "*:80", "ipv4", False, False),
        (["0.0.0.0:80"], "*:80", "ipv4", False, False),
        (["*"], "*:80", "ipv4", False, False),
        (["127.0.0.1"], "127.0.0.1:80", "ipv4", False, False),
        (["127.0.0.1:8443", "ssl", "http2", "default_server"], "127.0.0.1:8443", "ipv4", True, True),
        (["[::]:80", "ipv6only=on"], "[::]:80", "ipv6", False, False),
        (["[0:0::0]", "default"], "[::]:80", "ipv6", False, True),
        (["[::1]:443", "ssl"], "[::1]:443", "ipv6", True, False),
        (["Localhost:81"], "localhost:81", "ipv4", False, False),
        (["unix:/run/nginx.sock"], "unix:/run/nginx.sock", "unix", False, False),
    ],
)
def test_parse_listen(args, socket, family, ssl, default):
    listen = parse_listen(args)
    assert (listen.socket, listen.family, listen.ssl, listen.default_server) == (socket, family, ssl, default)


@pytest.mark.parametrize("bad", [["[::"], ["1.2.3.4:http"], ["[::]x"], []])
def test_parse_listen_refuses(bad):
    with pytest.raises(ConfigError, match=r"f:3: listen"):
        parse_listen(bad, "f", 3)


def test_wildcard_and_specific_addresses_overlap_families_do_not():
    wildcard, local, six = parse_listen(["80"]), parse_listen(["127.0.0.1:80"]), parse_listen(["[::]:80"])
    assert wildcard.overlaps(local) and local.overlaps(wildcard) and not wildcard.same_socket(local)
    assert not wildcard.overlaps(six) and not local.overlaps(parse_listen(["127.0.0.2:80"]))
    assert wildcard.same_socket(parse_listen(["0.0.0.0:80"]))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["/api/"], ("", "/api/")),
        (["=", "/x"], ("=", "/x")),
        (["=/x"], ("=", "/x")),
        (["^~", "/x"], ("^~", "/x")),
        (["~", "^/a$"], ("~", "^/a$")),
        (["~^/a$"], ("~", "^/a$")),
        (["~*\\.PNG$"], ("~*", "\\.PNG$")),
        (["@fallback"], ("", "@fallback")),
    ],
)
def test_parse_location(args, expected):
    assert parse_location(args) == expected


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            'nginx: [emerg] unknown directive "foo" in /etc/nginx/sites-enabled/broken:3\n',
            ("/etc/nginx/sites-enabled/broken", 3),
        ),
        (
            'nginx: [warn] conflicting server name "a" on 0.0.0.0:80, ignored\n'
            'nginx: [emerg] host not found in upstream "x in /y:1" in /etc/nginx/conf.d/my site.conf:12\n'
            "nginx: configuration file /etc/nginx/nginx.conf test failed\n",
            ("/etc/nginx/conf.d/my site.conf", 12),
        ),
        ('nginx: [warn] the "http2_push" directive is obsolete in /etc/nginx/a.conf:7\n', ("/etc/nginx/a.conf", 7)),
        ('nginx: [emerg] cannot load certificate "/x.pem": BIO_new_file() failed\n', None),
        ("", None),
        (None, None),
    ],
)
def test_nginx_error_file(stderr, expected):
    assert nginx_error_file(stderr) == expected


def test_text_that_is_not_a_dump_is_refused():
    with pytest.raises(ConfigError, match=r"holds no '# configuration file <path>:' line"):
        parse_dump('nginx: [emerg] unknown directive "foo" in /etc/nginx/nginx.conf:1\n')
    with pytest.raises(ConfigError, match="must be a string"):
        parse_dump(None)


def test_an_include_loop_is_refused():
    text = (
        "# configuration file /e/nginx.conf:\ninclude a.conf;\n\n# configuration file /e/a.conf:\ninclude /e/a.conf;\n"
    )
    with pytest.raises(ConfigError, match=r"/e/a.conf:1: include /e/a.conf includes /e/a.conf inside itself"):
        parse_dump(text)


def test_a_header_no_include_matches_is_a_comment_of_the_file_before():
    text = "# configuration file /e/nginx.conf:\nevents {}\n\n# configuration file /e/x.conf:\nserver {}\n"
    dump = parse_dump(text)
    assert [config.path for config in dump.files] == ["/e/nginx.conf"]
    assert [d.name for d in dump.tree] == ["events", "server"]
