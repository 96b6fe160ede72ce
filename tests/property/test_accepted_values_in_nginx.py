"""Everything a validator accepts is one nginx token that real nginx accepts where it is used.

Per kind, hypothesis generates candidates and the validator decides; every accepted value is
then rendered, in one batch, into

* the directive it is meant for (server_name, location, add_header, root, include, location ~,
  proxy_read_timeout and friends, proxy_pass), and
* an echo probe: ``location = /echo/N { set $v VALUE; return 200 "[$v]"; }``.

One `nginx -t` per batch must pass, then one nginx serves the batch and every value is checked
through HTTP: the echo probe must return exactly ``[VALUE]`` and the directive must behave as
that single value (the server answers for that name, the location for that path, the header
carries that value...). A value that split into two tokens, ended its directive early (``;``),
opened or closed a block, or was rewritten by nginx's tokenizer (escapes) fails one of them.
"""

from __future__ import annotations

from pathlib import Path

import wsproxy_strategies as strat
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import duration_ms, nginx_duration
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import parse_proxy_target
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import server_names_hash_bucket_size, validate_token
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.ws_regex import ws_path_regex
from hypothesis import given, settings
from nginx_helpers import Client, assert_nginx_accepts, free_port, running_nginx


def collect(strategy, accept, cases, max_examples: int) -> list:
    """Run hypothesis over ``strategy``; return the distinct accepted results of ``accept``."""
    accepted: dict[object, None] = {}

    @settings(strat.PROPERTY, max_examples=max_examples)
    @given(strategy)
    def run(candidate) -> None:
        cases.add()
        try:
            result = accept(candidate)
        except ConfigError:
            return
        accepted[result] = None

    run()
    return list(accepted)


def token(kind: str):
    def accept(value: str) -> str:
        result = validate_token(value, kind)
        assert result is value
        return value

    return accept


def echo_locations(values: list[str], prefix: str = "echo") -> str:
    return "\n".join(
        f'        location = /{prefix}/{i} {{ set $v {value}; return 200 "[$v]"; }}' for i, value in enumerate(values)
    )


def check_echo(client: Client, values: list[str], prefix: str = "echo") -> None:
    for i, value in enumerate(values):
        status, _headers, body = client.get(f"/{prefix}/{i}", host="probe.invalid")
        assert (status, body.decode()) == (200, f"[{value}]"), f"echo probe for {value!r}"


def probe_server(port: int, values: list[str], extra: str = "") -> str:
    return f"""
    server {{
        listen 127.0.0.1:{port} default_server;
        server_name probe.invalid;
{echo_locations(values)}
{extra}
        location / {{ return 404 "none"; }}
    }}
"""


def test_server_names(tmp_path: Path, cases) -> None:
    values = collect(strat.server_name, token("server_name"), cases, 500)
    assert len(values) >= 200, f"only {len(values)} accepted server names"
    # nginx compares names case-insensitively and keeps the first of two equal ones (with a warning).
    seen: set[str] = set()
    distinct = [v for v in values if not (v.lower() in seen or seen.add(v.lower()))]
    port = free_port()
    # Names longer than 46 characters need a bigger bucket than the default 64 once several servers
    # share a port: the size server_names_hash_bucket_size() computes must be enough.
    bucket = f"    server_names_hash_bucket_size {server_names_hash_bucket_size(values)};\n"
    servers = "\n".join(
        f'    server {{ listen 127.0.0.1:{port}; server_name {v}; location = /sn {{ return 200 "sn-{i}"; }} }}'
        for i, v in enumerate(distinct)
    )
    with running_nginx(tmp_path, bucket + probe_server(port, values) + servers, port), Client(port) as client:
        check_echo(client, values)
        exact = [v for v in distinct if not v.startswith(("*", ".")) and not v.endswith(".*")]
        shadowed = {v.lower().lstrip(".") for v in distinct if v.startswith(".")}
        checked = 0
        for v in exact:
            if v.lower() in shadowed:
                continue  # '.example.com' also claims 'example.com'
            status, _headers, body = client.get("/sn", host=v)
            assert (status, body.decode()) == (200, f"sn-{distinct.index(v)}"), f"server_name {v!r}"
            checked += 1
        assert checked >= 100


def test_location_paths(tmp_path: Path, cases) -> None:
    values = collect(strat.location_path, token("location_path"), cases, 400)
    assert len(values) >= 200, f"only {len(values)} accepted location paths"
    port = free_port()
    locations = "\n".join(f'        location {v} {{ return 200 "lp-{i}"; }}' for i, v in enumerate(values))
    server = f"    server {{ listen 127.0.0.1:{port}; server_name lp.test;\n{locations}\n    }}"
    with running_nginx(tmp_path, probe_server(port, values) + server, port), Client(port) as client:
        check_echo(client, values)
        for i, v in enumerate(values):
            # The longest prefix of the URI v is the location v itself.
            status, _headers, body = client.get(v, host="lp.test")
            assert (status, body.decode()) == (200, f"lp-{i}"), f"location {v!r}"


def test_header_values(tmp_path: Path, cases) -> None:
    values = collect(strat.header_value, token("header_value"), cases, 300)
    assert len(values) >= 150, f"only {len(values)} accepted header values"
    port = free_port()
    extra = "\n".join(
        f"        location = /hv/{i} {{ add_header X-Probe {v} always; return 204; }}" for i, v in enumerate(values)
    )
    with running_nginx(tmp_path, probe_server(port, values, extra), port), Client(port) as client:
        check_echo(client, values)
        for i, v in enumerate(values):
            status, headers, _body = client.get(f"/hv/{i}", host="probe.invalid")
            assert (status, headers.get("x-probe")) == (204, v), f"add_header X-Probe {v!r}"


def test_file_paths(tmp_path: Path, cases) -> None:
    values = collect(strat.file_path, token("file_path"), cases, 250)
    assert len(values) >= 100, f"only {len(values)} accepted file paths"
    port = free_port()
    # ssl_certificate would need the files to exist; root takes any path and reports it back.
    extra = "\n".join(
        f'        location = /fp/{i} {{ root {v}; return 200 "[$document_root]"; }}' for i, v in enumerate(values)
    )
    with running_nginx(tmp_path, probe_server(port, values, extra), port), Client(port) as client:
        check_echo(client, values)
        for i, v in enumerate(values):
            status, _headers, body = client.get(f"/fp/{i}", host="probe.invalid")
            assert (status, body.decode()) == (200, f"[{v}]"), f"root {v!r}"


def test_names_as_included_file_names(tmp_path: Path, cases) -> None:
    values = collect(strat.name, token("name"), cases, 250)
    assert len(values) >= 100, f"only {len(values)} accepted names"
    port = free_port()
    sites = tmp_path / "sites"
    sites.mkdir()
    includes = []
    for i, v in enumerate(values):
        # The role writes one file per vhost named <name>.conf; nginx includes it by that name.
        (sites / f"{v}.conf").write_text(f'location = /nm/{i} {{ return 200 "nm-{i}"; }}\n')
        includes.append(f"        include {sites}/{v}.conf;")
    with running_nginx(tmp_path, probe_server(port, values, "\n".join(includes)), port), Client(port) as client:
        check_echo(client, values)
        for i, v in enumerate(values):
            status, _headers, body = client.get(f"/nm/{i}", host="probe.invalid")
            assert (status, body.decode()) == (200, f"nm-{i}"), f"include {v}.conf"


def test_endpoint_regexes(tmp_path: Path, cases) -> None:
    lists = collect(strat.endpoints.map(tuple), lambda e: (e, ws_path_regex(list(e), "/p/")), cases, 300)
    assert len(lists) >= 150, f"only {len(lists)} accepted endpoint lists"
    port = free_port()
    regexes = []
    for i, (names, _regex) in enumerate(lists):
        # One prefix per case, so no case's regex can answer for another.
        regexes.append(f'        location ~ {ws_path_regex(list(names), f"/ep{i}/")} {{ return 200 "ep-{i}"; }}')
    server = f"""    server {{ listen 127.0.0.1:{port}; server_name ep.test;
{chr(10).join(regexes)}
        location / {{ return 404 "none"; }}
    }}"""
    # The regexes hold '$', so they cannot go through the `set` echo probe; their names can, and the
    # requests below show that each regex is the one token nginx compiled.
    names_seen = list(dict.fromkeys(n for names, _regex in lists for n in names))
    with running_nginx(tmp_path, probe_server(port, names_seen) + server, port), Client(port) as client:
        check_echo(client, names_seen)
        for i, (names, _regex) in enumerate(lists):
            for e in names:
                for suffix in (e, e + "/", e + "/x", e + "x", "x/" + e, e.upper()):
                    expected = any(suffix == n or suffix.startswith(n + "/") for n in names)
                    status, _headers, body = client.get(f"/ep{i}/{suffix}", host="ep.test")
                    got = body.decode() == f"ep-{i}"
                    assert got is expected, f"/ep{i}/{suffix} against {names!r}: {status} {body!r}"


def test_durations(tmp_path: Path, cases) -> None:
    def accept(value: object) -> str:
        out = nginx_duration(value)
        assert duration_ms(out) == duration_ms(value)  # canonical form, same duration
        assert " " not in out
        return out

    values = collect(strat.duration, accept, cases, 700)
    assert len(values) >= 200, f"only {len(values)} accepted durations"
    port = free_port()
    extra = "\n".join(
        f"        location = /du/{i} {{ proxy_read_timeout {v}; proxy_send_timeout {v}; proxy_connect_timeout {v}; "
        f"proxy_pass http://127.0.0.1:9; }}"
        for i, v in enumerate(values)
    )
    with running_nginx(tmp_path, probe_server(port, values, extra), port), Client(port) as client:
        check_echo(client, values)


def test_proxy_targets(tmp_path: Path, cases) -> None:
    def accept(value: str) -> str:
        target = parse_proxy_target(value)
        again = parse_proxy_target(target.proxy_pass)
        assert again == target  # the output means exactly what the input meant
        return target.proxy_pass

    values = collect(strat.backend, accept, cases, 400)
    assert len(values) >= 200, f"only {len(values)} accepted backends"
    port = free_port()
    upstreams: dict[str, str] = {}
    lines = []
    for i, v in enumerate(values):
        target = parse_proxy_target(v)
        host = target.host or ""
        if target.unix_path is None and ":" not in host and host != "localhost" and not host.replace(".", "").isdigit():
            # A DNS name: nginx resolves it at start-up, and the test host has no DNS. Check the name as an
            # upstream name (no port), and the rest of the value with localhost; the echo probe checks it whole.
            upstreams.setdefault(host.lower(), host)
            lines.append(f"        location /pt/{i}/a/ {{ proxy_pass {target.scheme}://{host}{target.uri}; }}")
            local = f"{target.scheme}://localhost{f':{target.port}' if target.explicit_port else ''}{target.uri}"
            lines.append(f"        location /pt/{i}/b/ {{ proxy_pass {local}; }}")
        else:
            lines.append(f"        location /pt/{i}/ {{ proxy_pass {v}; }}")
    upstream_blocks = "\n".join(f"    upstream {h} {{ server 127.0.0.1:9; }}" for h in upstreams.values())
    http = upstream_blocks + probe_server(port, values, "\n".join(lines))
    assert_nginx_accepts(tmp_path, http)
    with running_nginx(tmp_path, http, port), Client(port) as client:
        check_echo(client, values)
