"""websocket_vhosts: the normalised schema, defaults, expansion of endpoints, upstreams, dynamic backends,
and every refusal."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.websocket_vhosts import FilterModule
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import default_vhost_name, websocket_vhosts
from normalised import addresses, server

FILTER = FilterModule().filters()["websocket_vhosts"]
# upstream_keepalive 0 stated here: a key left out takes the role's default (32, defaults/main.yml), and most of these
# tests are about locations that proxy straight to their backend.
DEFAULTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s", "upstream_keepalive": 0}
V = "websocket_proxy_vhosts"


def seed(**extra: Any) -> dict[str, Any]:
    vhost: dict[str, Any] = {
        "server_name": "api-calls.example.com",
        "name": "api-calls",
        "locations": [{"path": "/api/", "backend": "localhost:5006"}],
    }
    vhost.update(extra)
    return vhost


def test_seed_layout(no_security: dict[str, Any]) -> None:
    assert websocket_vhosts([seed()], DEFAULTS) == [
        {
            "name": "api-calls",
            "server_names": ["api-calls.example.com"],
            "listen": [{"port": 80, "ssl": False, "default_server": False}],
            "tls": None,
            "locations": [
                {
                    "modifier": "",
                    "path": "/api/",
                    "proxy_pass": "http://localhost:5006",
                    "websocket": True,
                    "read_timeout": "1d",
                    "send_timeout": "1d",
                    "connect_timeout": "1m",
                    "source": f"{V}[0].locations[0]",
                    "balance": "round_robin",
                    "hash_key": None,
                    "upstream": None,
                    "dynamic": False,
                    "proxy_pass_variable": None,
                    "resolver": None,
                    "resolver_valid": None,
                    "failover": False,
                    **no_security,
                }
            ],
            "websocket_uris": ["/api/"],
            "upstreams": [],
            "resolver": None,
            "resolver_valid": "10s",
            "source": f"{V}[0]",
            "origin_maps": [],
            "hsts": None,
            "redirect": None,
        }
    ]


def test_alternative_layout_with_tls(no_security: dict[str, Any]) -> None:
    vhost = seed(
        tls={"certificate": "/etc/ssl/certs/api.pem", "certificate_key": "/etc/ssl/private/api.key"},
        locations=[
            {
                "backend": "http://calls-backend:5006",
                "websocket_endpoints": ["frontend-audio", "call-events", "audio-stream"],
                "read_timeout": 3600,
            }
        ],
    )
    [result] = FILTER([vhost], DEFAULTS)
    assert result["listen"] == [{"port": 443, "ssl": True, "default_server": False}]
    assert result["tls"] == {
        "certificate": "/etc/ssl/certs/api.pem",
        "certificate_key": "/etc/ssl/private/api.key",
        "acme": None,
        "http2": True,
        "chain": None,
        "stapling": False,
        "source": f"{V}[0].tls",
    }
    common = {
        "read_timeout": "1h",
        "send_timeout": "1d",
        "connect_timeout": "1m",
        "source": f"{V}[0].locations[0]",
        "balance": "round_robin",
        "hash_key": None,
        "upstream": None,
        "dynamic": False,
        "proxy_pass_variable": None,
        "resolver": None,
        "resolver_valid": None,
        "failover": False,
        **no_security,
    }
    assert result["locations"] == [
        {
            "modifier": "~",
            "path": "^/api/(?:frontend-audio|call-events|audio-stream)(?:/|$)",
            "proxy_pass": "http://calls-backend:5006",
            "websocket": True,
            **common,
            # The WebSocket-only location's tunnels stream through 1k buffers (plugin_utils/buffers.py).
            "proxy_buffer_size": "1k",
        },
        {"modifier": "", "path": "/api/", "proxy_pass": "http://calls-backend:5006", "websocket": False, **common},
    ]
    assert result["websocket_uris"] == ["/api/frontend-audio", "/api/call-events", "/api/audio-stream"]


def test_defaults_and_lists() -> None:
    vhosts = [
        {
            "server_name": ["*.example.com", "example.com"],
            "listen": [80, 8080],
            "default_server": True,
            "locations": [{"backend": "b:1", "websocket": False}, {"path": "/ws/", "backend": "b:2"}],
        },
        {"server_name": "_", "locations": [{"backend": "unix:/run/app.sock", "websocket_endpoints": []}]},
        {"server_name": "example.*", "listen": "8081", "locations": [{"backend": "b:1"}]},
        {"server_name": "[::1]", "locations": [{"path": "/", "backend": "b:1"}], "listen": 8082},
    ]
    result = websocket_vhosts(
        vhosts, {"read_timeout": 60, "send_timeout": "2m", "connect_timeout": "5s", "upstream_keepalive": 0}
    )
    assert [v["name"] for v in result] == ["wildcard.example.com", "default", "example.wildcard", "ipv6---1"]
    assert result[0]["listen"] == [
        {"port": 80, "ssl": False, "default_server": True},
        {"port": 8080, "ssl": False, "default_server": True},
    ]
    assert result[0]["locations"][0]["path"] == "/api/"
    assert result[0]["locations"][0]["websocket"] is False
    assert result[0]["locations"][1]["read_timeout"] == "1m"
    assert result[0]["websocket_uris"] == ["/ws/"]
    assert result[1]["locations"][0]["proxy_pass"] == "http://unix:/run/app.sock"
    assert result[1]["websocket_uris"] == ["/api/"]
    assert result[2]["listen"][0]["port"] == 8081


@pytest.mark.parametrize(
    ("server_name", "expected"),
    [("_", "default"), ("*.example.com", "wildcard.example.com"), ("example.*", "example.wildcard"), (".a.b", "a.b")],
)
def test_default_vhost_name(server_name: str, expected: str) -> None:
    assert default_vhost_name(server_name) == expected


def test_input_is_not_modified() -> None:
    vhosts = [seed(locations=[{"backend": "b:1", "websocket_endpoints": ["x"]}])]
    before = copy.deepcopy(vhosts)
    websocket_vhosts(vhosts, DEFAULTS)
    assert vhosts == before


def test_a_longer_plain_prefix_does_not_capture_an_endpoint() -> None:
    # nginx tries regexes after finding the longest prefix, so the endpoint regex still wins
    vhost = seed(
        locations=[
            {"backend": "b:1", "websocket_endpoints": ["frontend-audio"]},
            {"path": "/api/frontend-audio", "backend": "b:2", "websocket": False},
        ]
    )
    assert websocket_vhosts([vhost], DEFAULTS)[0]["websocket_uris"] == ["/api/frontend-audio"]


def test_empty_list() -> None:
    assert websocket_vhosts([], DEFAULTS) == []


BAD: list[tuple[Any, str]] = [
    ("nope", f"{V}: 'nope' is not a list of vhosts"),
    (["x"], f"{V}[0]: 'x' is not a dict with server_name, locations"),
    ([seed(ports=[80])], f"{V}[0]: unknown key 'ports' (accepted keys: server_name, name, listen, default_server, tls"),
    ([{"locations": [{"backend": "b:1"}]}], f"{V}[0].server_name: missing"),
    ([seed(server_name=[])], f"{V}[0].server_name: the list is empty"),
    ([seed(server_name=5)], f"{V}[0].server_name: 5 is not a server name or a non-empty list of them"),
    (
        [seed(server_name="a.example.com; return 200 x")],
        f"{V}[0].server_name: 'a.example.com; return 200 x' is not a valid server name (",
    ),
    ([seed(server_name=["a.b", "A.B"])], f"{V}[0].server_name[1]: 'A.B' is listed twice"),
    ([seed(server_name=["a.b", "~x"])], f"{V}[0].server_name[1]: '~x' is not a valid server name"),
    ([seed(name="../etc")], f"{V}[0].name: '../etc' is not a valid name"),
    (
        [
            {"server_name": "[::1]", "locations": [{"backend": "b:1"}]},
            {"server_name": "[::1]", "listen": 81, "locations": [{"backend": "b:1"}]},
        ],
        f"{V}[1].name: 'ipv6---1' is already the name of {V}[0]",
    ),
    ([seed(listen="eighty")], f"{V}[0].listen: 'eighty' is not a port (an integer 1-65535 or a list of them)"),
    ([seed(listen=0)], f"{V}[0].listen: 0 is not a port"),
    ([seed(listen=True)], f"{V}[0].listen: True is not a port"),
    ([seed(listen=[80, 70000])], f"{V}[0].listen: [80, 70000] is not a port"),
    ([seed(listen=[])], f"{V}[0].listen: [] is an empty list"),
    ([seed(listen=[80, 80])], f"{V}[0].listen: port 80 is listed twice"),
    ([seed(default_server="yes")], f"{V}[0].default_server: 'yes' is not a boolean"),
    ([seed(tls="on")], f"{V}[0].tls: 'on' is not a dict with certificate, certificate_key"),
    ([seed(tls={"certificate": "/a"})], f"{V}[0].tls.certificate_key: missing"),
    (
        [seed(tls={"certificate": "a.pem", "certificate_key": "/k"})],
        f"{V}[0].tls.certificate: 'a.pem' is not a valid file",
    ),
    (
        [seed(tls={"certificate": "/c", "certificate_key": "/k", "http2": "no"})],
        f"{V}[0].tls.http2: 'no' is not a boolean",
    ),
    ([seed(tls={"certificate": "/c", "certificate_key": "/k", "key": "/x"})], f"{V}[0].tls: unknown key 'key'"),
    ([seed(locations=None)], f"{V}[0].locations: None is not a list of locations"),
    ([seed(locations=[])], f"{V}[0].locations: the list is empty"),
    ([{"server_name": "a"}], f"{V}[0].locations: missing"),
    ([seed(locations=["/api/"])], f"{V}[0].locations[0]: '/api/' is not a dict"),
    ([seed(locations=[{"path": "/api/"}])], f"{V}[0].locations[0].backend: missing"),
    (
        [seed(locations=[{"backend": "b:1", "proxy_buffering": "off"}])],
        f"{V}[0].locations[0]: unknown key 'proxy_buffering' (accepted keys: path, backend, websocket, "
        f"websocket_endpoints, read_timeout, send_timeout, connect_timeout, balance, hash_key, allowed_origins, "
        f"allow_missing_origin, limit_conn, handshake_rate, handshake_burst, client_max_body_size, frame_size)",
    ),
    (
        [seed(locations=[{"backend": "b:1", "path": "api"}])],
        f"{V}[0].locations[0].path: 'api' is not a valid location path",
    ),
    ([seed(locations=[{"backend": "b:1;"}])], f"{V}[0].locations[0].backend: 'b:1;' is not a valid backend"),
    (
        [seed(locations=[{"backend": "b:1", "websocket": "true"}])],
        f"{V}[0].locations[0].websocket: 'true' is not a boolean",
    ),
    (
        [seed(locations=[{"backend": "b:1", "read_timeout": "24 hours"}])],
        f"{V}[0].locations[0].read_timeout: '24 hours'",
    ),
    ([seed(locations=[{"backend": "b:1", "connect_timeout": 0}])], f"{V}[0].locations[0].connect_timeout: 0 is zero"),
    (
        [seed(locations=[{"backend": "b:1", "websocket_endpoints": ["a b"]}])],
        f"{V}[0].locations[0].websocket_endpoints[0]: 'a b' is not a valid WebSocket endpoint name",
    ),
    (
        [seed(locations=[{"backend": "b:1", "websocket_endpoints": "x"}])],
        f"{V}[0].locations[0].websocket_endpoints: 'x' is not a list of endpoint names",
    ),
    (
        [seed(locations=[{"backend": "b:1", "websocket": False, "websocket_endpoints": ["x"]}])],
        f"{V}[0].locations[0].websocket_endpoints: ['x'] lists WebSocket endpoints, but {V}[0].locations[0].websocket "
        f"is false",
    ),
    (
        [seed(locations=[{"backend": "http://b:1/base/", "websocket_endpoints": ["x"]}])],
        f"{V}[0].locations[0].backend: 'http://b:1/base/' has a URI part '/base/', but this backend serves a regex "
        f"location",
    ),
    (
        [seed(locations=[{"backend": "b:1"}, {"backend": "b:2", "websocket": False}])],
        f"{V}[0].locations[1]: location '/api/' is already defined by {V}[0].locations[0]",
    ),
    (
        [
            seed(
                locations=[
                    {"backend": "b:1", "websocket_endpoints": ["x"]},
                    {"path": "/api", "backend": "b:1", "websocket_endpoints": ["x"]},
                ]
            )
        ],
        f"{V}[0].locations[1]: location '~ ^/api/(?:x)(?:/|$)' is already defined by {V}[0].locations[0]",
    ),
    (
        [
            seed(
                locations=[
                    {"backend": "b:1", "websocket_endpoints": ["frontend-audio"]},
                    {"path": "/api/frontend-audio/", "backend": "b:2", "websocket": False},
                ]
            )
        ],
        f"{V}[0].locations: /api/frontend-audio is redirected (301 to add the trailing '/') by location "
        f"'/api/frontend-audio/' ({V}[0].locations[1]), which is not WebSocket-capable",
    ),
    (
        [seed(), seed(name="other")],
        f"{V}[1].server_name: 'api-calls.example.com' on port 80 is already served by {V}[0]; nginx would ignore",
    ),
    ([seed(), seed()], f"{V}[1].name: 'api-calls' is already the name of {V}[0]"),
    (
        [seed(default_server=True), seed(name="b", server_name="b.example.com", default_server=True)],
        f"{V}[1].default_server: port 80 already has a default server, {V}[0]",
    ),
    (
        [
            seed(listen=443),
            seed(name="b", server_name="b.example.com", tls={"certificate": "/c", "certificate_key": "/k"}),
        ],
        f"{V}[1].listen: port 443 is TLS here but plain HTTP in {V}[0]",
    ),
    (
        [
            seed(tls={"certificate": "/c", "certificate_key": "/k"}),
            seed(
                name="b",
                server_name="b.example.com",
                tls={"certificate": "/c", "certificate_key": "/k", "http2": False},
            ),
        ],
        f"{V}[1].tls.http2: False differs from {V}[0] on port 443",
    ),
]


@pytest.mark.parametrize(("vhosts", "message"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_rejected(vhosts: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts(vhosts, DEFAULTS)
    assert str(caught.value).startswith(message)
    with pytest.raises(AnsibleFilterError) as filtered:
        FILTER(vhosts, DEFAULTS)
    assert str(filtered.value) == str(caught.value)
    assert isinstance(filtered.value.__cause__, ConfigError)


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        (None, "websocket_proxy_*: None is not a dict with read_timeout, send_timeout, connect_timeout"),
        ({"read_timeout": "24h", "send_timeout": "24h"}, "websocket_proxy_connect_timeout: missing"),
        ({**DEFAULTS, "idle": 1}, "websocket_proxy_*: unknown key 'idle'"),
        ({**DEFAULTS, "read_timeout": "1 day"}, "websocket_proxy_read_timeout: '1 day' is not a duration"),
        ({**DEFAULTS, "send_timeout": 0}, "websocket_proxy_send_timeout: 0 is zero"),
    ],
)
def test_rejected_defaults(defaults: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts([seed()], defaults)
    assert str(caught.value).startswith(message)


def test_defaults_error_with_another_name() -> None:
    with pytest.raises(ConfigError, match=r"^vh defaults\.read_timeout: missing"):
        websocket_vhosts([], {"send_timeout": 1, "connect_timeout": 1}, name="vh")


def test_filter_checks_its_arguments() -> None:
    with pytest.raises(AnsibleFilterError, match="name must be a string"):
        FILTER([], DEFAULTS, name=None)


# --- upstreams (keepalive, list backends), resolver and dynamic backends ---------------------------------------

KEEPALIVE = {**DEFAULTS, "upstream_keepalive": 32}


def location(vhost: dict[str, Any], index: int) -> dict[str, Any]:
    return vhost["locations"][index]


def test_keepalive_puts_the_seed_behind_an_upstream() -> None:
    [vhost] = websocket_vhosts([seed()], KEEPALIVE)
    assert vhost["upstreams"] == [
        {
            "name": "wsproxy_api_calls_1",
            "balance": None,
            "zone": None,
            "servers": [server("localhost:5006")],
            "keepalive": 32,
            "source": f"{V}[0].locations[0].backend",
        }
    ]
    assert location(vhost, 0)["proxy_pass"] == "http://wsproxy_api_calls_1"
    assert location(vhost, 0)["upstream"] == "wsproxy_api_calls_1"
    assert location(vhost, 0)["dynamic"] is False
    assert vhost["resolver"] is None
    assert vhost["resolver_valid"] == "10s"


def test_locations_with_the_same_servers_share_one_upstream() -> None:
    vhost = seed(
        name="api-calls.example.com",
        locations=[
            {"backend": "127.0.0.1:5006", "websocket_endpoints": ["frontend-audio"]},
            {"path": "/events/", "backend": "http://127.0.0.1:5006/stream/"},
            {"path": "/pool/", "backend": ["b:2", "B:1"]},
            {"path": "/pool2/", "backend": ["ws://b:1", "b:2"]},
            {"path": "/sock/", "backend": "unix:/run/app.sock:/base/"},
            {"path": "/v6/", "backend": "[::1]:5006"},
        ],
    )
    [result] = FILTER([vhost], KEEPALIVE)
    base = "wsproxy_api_calls_example_com"
    assert [(u["name"], addresses(u), u["source"]) for u in result["upstreams"]] == [
        (f"{base}_1", ["127.0.0.1:5006"], f"{V}[0].locations[0].backend"),
        (f"{base}_2", ["b:2", "B:1"], f"{V}[0].locations[2].backend"),
        (f"{base}_3", ["unix:/run/app.sock"], f"{V}[0].locations[4].backend"),
        (f"{base}_4", ["[::1]:5006"], f"{V}[0].locations[5].backend"),
    ]
    assert [(loc["path"], loc["proxy_pass"], loc["upstream"]) for loc in result["locations"]] == [
        ("^/api/(?:frontend-audio)(?:/|$)", f"http://{base}_1", f"{base}_1"),
        ("/api/", f"http://{base}_1", f"{base}_1"),
        ("/events/", f"http://{base}_1/stream/", f"{base}_1"),  # the URI part stays on proxy_pass
        ("/pool/", f"http://{base}_2", f"{base}_2"),
        ("/pool2/", f"http://{base}_2", f"{base}_2"),  # the same servers in another order and case
        ("/sock/", f"http://{base}_3/base/", f"{base}_3"),
        ("/v6/", f"http://{base}_4", f"{base}_4"),
    ]


def test_websocket_replicas_get_max_fails_0_unless_the_user_sets_failure_parameters() -> None:
    """nginx marks a failed server live again only when a connection given to it afterwards ends; a WebSocket ends
    when its client leaves, so a WebSocket location's replicas are never marked (max_fails=0) by default. Plain
    locations, single servers and servers with max_fails or fail_timeout keep what nginx or the user says."""
    vhost = seed(
        name="app",
        locations=[
            {"path": "/ws/", "backend": ["a:1", {"address": "b:1", "max_fails": 2},
                                         {"address": "c:1", "fail_timeout": "5s"}]},
            {"path": "/plain/", "backend": ["a:1", "b:1"], "websocket": False},
            {"path": "/one/", "backend": ["a:1"]},
            {"path": "/api/", "backend": ["a:1", "b:1"], "websocket_endpoints": ["audio"]},
        ],
    )
    [result] = FILTER([vhost], KEEPALIVE)
    parameters = {u["name"]: [s["parameters"] for s in u["servers"]] for u in result["upstreams"]}
    upstream = {loc["path"]: loc["upstream"] for loc in result["locations"]}
    assert parameters[upstream["/ws/"]] == ["max_fails=0", "max_fails=2", "fail_timeout=5s"]
    assert parameters[upstream["/plain/"]] == ["", ""]
    assert parameters[upstream["/one/"]] == [""]
    # The endpoints' regex (WebSocket) and the plain prefix beside it share one upstream, never marked.
    assert upstream["^/api/(?:audio)(?:/|$)"] == upstream["/api/"]
    assert parameters[upstream["/api/"]] == ["max_fails=0", "max_fails=0"]


def test_direct_backends_stay_as_written() -> None:
    vhost = seed(
        locations=[
            {"path": "/tls/", "backend": "https://10.0.0.5:8443"},  # an https upstream would need proxy_ssl_name
            {"path": "/named/", "backend": "http://my-upstream"},  # no port: may name the user's own upstream block
            {"path": "/wss/", "backend": "wss://calls-backend"},
        ]
    )
    [result] = websocket_vhosts([vhost], {**KEEPALIVE, "upstream_keepalive": "64"})
    assert result["upstreams"] == []
    assert [(loc["proxy_pass"], loc["upstream"]) for loc in result["locations"]] == [
        ("https://10.0.0.5:8443", None),
        ("http://my-upstream", None),
        ("https://calls-backend", None),
    ]


def test_keepalive_zero_writes_upstreams_for_lists_only() -> None:
    vhost = seed(locations=[{"backend": ["b:1", "c:1"]}, {"path": "/one/", "backend": "b:1"}])
    [result] = websocket_vhosts([vhost], {**DEFAULTS, "upstream_keepalive": 0})
    assert result["upstreams"] == [
        {
            "name": "wsproxy_api_calls_1",
            "balance": None,
            "zone": "wsproxy_api_calls_1",
            "servers": [server("b:1", "max_fails=0", max_fails=0), server("c:1", "max_fails=0", max_fails=0)],
            "keepalive": 0,
            "source": f"{V}[0].locations[0].backend",
        }
    ]
    assert location(result, 1)["proxy_pass"] == "http://b:1"
    assert location(result, 1)["upstream"] is None


def test_a_list_of_one_is_an_upstream_and_scheme_without_port_is_port_80() -> None:
    [result] = websocket_vhosts([seed(locations=[{"backend": ["http://b"]}])], DEFAULTS)
    assert addresses(result["upstreams"][0]) == ["b:80"]
    assert location(result, 0)["proxy_pass"] == "http://wsproxy_api_calls_1"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("api-calls", "wsproxy_api_calls_1"),
        ("api_calls.example.com", "wsproxy_api_calls_example_com_1"),
        ("API.Example", "wsproxy_API_Example_1"),
        # would start like a snippet's upstream (wsproxy_snippet_...): vhosts give way
        ("snippet.example.com", "wsproxy_vhost_snippet_example_com_1"),
        ("Snippet_x", "wsproxy_vhost_Snippet_x_1"),
        ("snippets", "wsproxy_snippets_1"),
    ],
)
def test_upstream_names(name: str, expected: str) -> None:
    [result] = websocket_vhosts([seed(name=name)], KEEPALIVE)
    assert result["upstreams"][0]["name"] == expected


def test_names_that_differ_only_in_mapped_characters_are_fine_without_upstreams() -> None:
    vhosts = [seed(name="api.x"), seed(name="api-x", server_name="b.example.com")]
    assert [v["upstreams"] for v in websocket_vhosts(vhosts, DEFAULTS)] == [[], []]
    # one of them with upstreams is fine too
    vhosts[1]["locations"] = [{"backend": ["b:1", "b:2"]}]
    assert [len(v["upstreams"]) for v in websocket_vhosts(vhosts, DEFAULTS)] == [0, 1]


def test_resolver_makes_dns_names_dynamic() -> None:
    vhost = seed(
        locations=[
            {"backend": "calls-backend:5006", "websocket_endpoints": ["frontend-audio"]},
            {"path": "/https/", "backend": "wss://calls-backend:8443"},
            {"path": "/noport/", "backend": "http://calls-backend"},
            {"path": "/ip/", "backend": "10.0.0.5:5006"},
            {"path": "/v6/", "backend": "[fd00::5]:5006"},
            {"path": "/local/", "backend": "localhost:5006"},
            {"path": "/local2/", "backend": "app.localhost:5006"},
            {"path": "/sock/", "backend": "unix:/run/app.sock"},
            {"path": "/list/", "backend": ["calls-1:5006", "calls-2:5006"]},
        ]
    )
    defaults = {**KEEPALIVE, "resolver": ["127.0.0.11", "[::1]:53", "dns.example.com"], "resolver_valid": 90}
    [result] = websocket_vhosts([vhost], defaults)
    assert result["resolver"] == ["127.0.0.11", "[::1]:53", "dns.example.com"]
    assert result["resolver_valid"] == "1m30s"
    dynamic = [
        (loc["path"], loc["proxy_pass"], loc["proxy_pass_variable"]) for loc in result["locations"] if loc["dynamic"]
    ]
    assert dynamic == [
        ("^/api/(?:frontend-audio)(?:/|$)", "$wsproxy_backend", "http://calls-backend:5006"),
        ("/api/", "$wsproxy_backend", "http://calls-backend:5006"),
        ("/https/", "$wsproxy_backend", "https://calls-backend:8443"),
        ("/noport/", "$wsproxy_backend", "http://calls-backend"),
    ]
    for loc in result["locations"]:
        assert loc["resolver"] is None and loc["resolver_valid"] is None  # the vhost's server block has it
        if loc["dynamic"]:
            assert loc["upstream"] is None
        else:
            assert loc["proxy_pass_variable"] is None
            assert loc["upstream"] is not None  # IP, localhost, unix socket, list: a static upstream
    assert [addresses(u) for u in result["upstreams"]] == [
        ["10.0.0.5:5006"],
        ["[fd00::5]:5006"],
        ["localhost:5006"],
        ["app.localhost:5006"],
        ["unix:/run/app.sock"],
        ["calls-1:5006", "calls-2:5006"],
    ]


def test_resolver_without_keepalive() -> None:
    vhost = seed(locations=[{"backend": "calls-backend:5006"}, {"path": "/ip/", "backend": "127.0.0.1:1"}])
    [result] = websocket_vhosts([vhost], {**DEFAULTS, "resolver": ["127.0.0.11"]})
    assert location(result, 0)["dynamic"] is True
    assert (location(result, 1)["dynamic"], location(result, 1)["proxy_pass"]) == (False, "http://127.0.0.1:1")
    assert result["upstreams"] == []


@pytest.mark.parametrize(
    "address", ["127.0.0.11", "10.0.0.2:53", "[::1]", "[2001:db8::1]:5353", "dns.example.com", "dns_1:53", "localhost"]
)
def test_resolver_addresses_accepted(address: str) -> None:
    [result] = websocket_vhosts([seed()], {**DEFAULTS, "resolver": [address]})
    assert result["resolver"] == [address]


def test_empty_resolver_is_none() -> None:
    [result] = websocket_vhosts([seed()], {**DEFAULTS, "resolver": [], "resolver_valid": "1m"})
    assert (result["resolver"], result["resolver_valid"]) == (None, "1m")


L0 = f"{V}[0].locations[0]"
BAD_UPSTREAMS: list[tuple[Any, dict[str, Any], str]] = [
    (
        [seed(locations=[{"backend": []}])],
        DEFAULTS,
        f"{L0}.backend: the list is empty (give a backend or a non-empty list of backends)",
    ),
    (
        [seed(locations=[{"backend": 5006}])],
        DEFAULTS,
        f"{L0}.backend: 5006 is not a backend or a non-empty list of backends (e.g. 'localhost:5006'",
    ),
    (
        [seed(locations=[{"backend": {"host": "b"}}])],
        DEFAULTS,
        f"{L0}.backend: unknown key 'host' (accepted keys: address, weight, max_fails, fail_timeout, backup)",
    ),
    ([seed(locations=[{"backend": ["b:1", {"weight": 2}]}])], DEFAULTS, f"{L0}.backend[1].address: missing"),
    (
        [seed(locations=[{"backend": ["b:1", {"address": "c:1", "weight": 0}]}])],
        DEFAULTS,
        f"{L0}.backend[1].weight: 0 is not an integer 1-10000",
    ),
    (
        [seed(locations=[{"backend": ["b:1", {"address": "c:1", "weight": "3; x"}]}])],
        DEFAULTS,
        f"{L0}.backend[1].weight: '3; x' is not an integer 1-10000",
    ),
    (
        [seed(locations=[{"backend": [{"address": "b:1", "max_fails": -1}, "c:1"]}])],
        DEFAULTS,
        f"{L0}.backend[0].max_fails: -1 is not an integer 0-10000",
    ),
    (
        [seed(locations=[{"backend": [{"address": "b:1", "fail_timeout": "5 s"}, "c:1"]}])],
        DEFAULTS,
        f"{L0}.backend[0].fail_timeout: '5 s' is not",
    ),
    (
        [seed(locations=[{"backend": [{"address": "b:1", "backup": "yes"}, "c:1"]}])],
        DEFAULTS,
        f"{L0}.backend[0].backup: 'yes' is not a boolean",
    ),
    (
        [seed(locations=[{"backend": [{"address": "b:1", "backup": True}]}])],
        DEFAULTS,
        f"{L0}.backend: ['b:1'] are all backup servers; nginx needs at least one that is not (no servers in upstream)",
    ),
    (
        [seed(locations=[{"backend": ["b:1", {"address": "c:1", "backup": True}], "balance": "ip_hash"}])],
        DEFAULTS,
        f"{L0}.backend[1].backup: true, but the location's balance is 'ip_hash'; ip_hash picks the server from the "
        f'client\'s key, so it has no backup servers (nginx: balancing method does not support parameter "backup")',
    ),
    (
        [
            seed(
                locations=[
                    {
                        "backend": ["b:1", {"address": "c:1", "backup": True}],
                        "balance": "hash",
                        "hash_key": "$remote_addr",
                    }
                ]
            )
        ],
        DEFAULTS,
        f"{L0}.backend[1].backup: true, but the location's balance is 'hash'",
    ),
    (
        [seed(locations=[{"backend": ["b:1", "c:1"], "balance": "sticky"}])],
        DEFAULTS,
        f"{L0}.balance: 'sticky' is not one of round_robin, least_conn, ip_hash, hash",
    ),
    (
        [seed(locations=[{"backend": ["b:1", "c:1"], "balance": "hash"}])],
        DEFAULTS,
        f"{L0}.hash_key: missing; balance: hash needs the variable to hash on",
    ),
    (
        [seed(locations=[{"backend": ["b:1", "c:1"], "hash_key": "$remote_addr"}])],
        DEFAULTS,
        f"{L0}.hash_key: '$remote_addr' is set, but {L0}.balance is 'round_robin'",
    ),
    *(
        (
            [seed(locations=[{"backend": ["b:1", "c:1"], "balance": "hash", "hash_key": key}])],
            DEFAULTS,
            f"{L0}.hash_key: {key!r} is not one of $remote_addr, $binary_remote_addr, $request_uri, or $cookie_<name>",
        )
        for key in (
            "$host",
            "remote_addr",
            "$remote_addr$request_uri",
            "$cookie_",
            "$http_x-session",
            "$arg_sid consistent",
            "$cookie_a;b",
            7,
        )
    ),
    ([seed(locations=[{"backend": ["b:1", 2]}])], DEFAULTS, f"{L0}.backend[1]: 2 is not a string ("),
    ([seed(locations=[{"backend": ["b:1", "c:1;"]}])], DEFAULTS, f"{L0}.backend[1]: 'c:1;' is not a valid backend"),
    (
        [seed(locations=[{"backend": ["b:1/x/", "c:1/y/"]}])],
        DEFAULTS,
        f"{L0}.backend[1]: 'c:1/y/' has the URI part '/y/' but {L0}.backend[0] 'b:1/x/' has '/x/'; the servers of "
        f"one upstream share one proxy_pass, so give them all the same URI part (or none)",
    ),
    (
        [seed(locations=[{"backend": ["b:1", "c:1/"]}])],
        DEFAULTS,
        f"{L0}.backend[1]: 'c:1/' has the URI part '/' but {L0}.backend[0] 'b:1' has 'none'",
    ),
    (
        [seed(locations=[{"backend": ["b:1", "https://c:1"]}])],
        DEFAULTS,
        f"{L0}.backend[1]: 'https://c:1' is https but {L0}.backend[0] 'b:1' is http; the servers of one upstream "
        f"share one proxy_pass, so give them all the same scheme",
    ),
    (
        [seed(locations=[{"backend": ["https://b:1", "wss://c:1"]}])],
        DEFAULTS,
        f"{L0}.backend: ['https://b:1', 'wss://c:1'] is a list of https backends; a list becomes an nginx upstream "
        f"block, and an https upstream needs proxy_ssl_name",
    ),
    (
        [seed(locations=[{"backend": ["b:1", "c:1", "http://B:1"]}])],
        DEFAULTS,
        f"{L0}.backend[2]: 'http://B:1' is listed twice (the same server as {L0}.backend[0] 'b:1')",
    ),
    (
        [seed(locations=[{"backend": ["unix:/run/a.sock", "http://unix:/run/a.sock:"]}])],
        DEFAULTS,
        f"{L0}.backend[1]: 'http://unix:/run/a.sock:' is listed twice",
    ),
    (
        [seed(locations=[{"backend": ["b:1", "c:1/x/"], "websocket_endpoints": ["x"]}])],
        DEFAULTS,
        f"{L0}.backend[1]: 'c:1/x/' has a URI part '/x/', but this backend serves a regex location",
    ),
    (
        [seed(locations=[{"backend": "http://calls-backend:5006/base/"}])],
        {**DEFAULTS, "resolver": ["127.0.0.11"]},
        f"{L0}.backend: 'http://calls-backend:5006/base/' has a URI part '/base/', but with websocket_proxy_resolver "
        f"set the host 'calls-backend' is resolved at run time, so proxy_pass is written with a variable, and then "
        f"nginx replaces the whole request URI by the URI part (every request under /api/ would reach the backend "
        f"as exactly '/base/'); remove the URI part (the backend then sees the request URI unchanged) or leave "
        f"websocket_proxy_resolver empty",
    ),
    (
        [seed(name="api.x"), seed(name="api-x", server_name="b.example.com")],
        KEEPALIVE,
        f"{V}[1].name: 'api-x' gives the nginx upstream names wsproxy_api_x_<n>, as 'api.x' ({V}[0]) does "
        f"(upstream names keep only letters, digits and '_', other characters become '_', and nginx ignores letter "
        f"case there); set name on one of the two vhosts so that they differ in a letter or digit",
    ),
    (
        [seed(name="Api_X"), seed(name="api-x", server_name="b.example.com")],
        KEEPALIVE,
        f"{V}[1].name: 'api-x' gives the nginx upstream names wsproxy_api_x_<n>, as 'Api_X' ({V}[0]) does",
    ),
    (
        [seed(name="snippet.a"), seed(name="vhost_snippet-a", server_name="b.example.com")],
        KEEPALIVE,
        f"{V}[1].name: 'vhost_snippet-a' gives the nginx upstream names wsproxy_vhost_snippet_a_<n>, as 'snippet.a'",
    ),
]


@pytest.mark.parametrize(
    ("vhosts", "defaults", "message"), BAD_UPSTREAMS, ids=[str(i) for i in range(len(BAD_UPSTREAMS))]
)
def test_rejected_backends_and_upstreams(vhosts: Any, defaults: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts(vhosts, defaults)
    assert str(caught.value).startswith(message)
    with pytest.raises(AnsibleFilterError) as filtered:
        FILTER(vhosts, defaults)
    assert str(filtered.value) == str(caught.value)


RA = "(an IPv4 address, a bracketed IPv6 address or a host name, each optionally with :port"
KA = "(an integer 0-10000, idle connections kept per nginx worker; 0 turns it off)"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"upstream_keepalive": -1},
            f"websocket_proxy_upstream_keepalive: -1 is not a number of upstream keepalive connections {KA}",
        ),
        ({"upstream_keepalive": 10001}, "websocket_proxy_upstream_keepalive: 10001 is not a number"),
        ({"upstream_keepalive": True}, "websocket_proxy_upstream_keepalive: True is not a number"),
        ({"upstream_keepalive": 1.5}, "websocket_proxy_upstream_keepalive: 1.5 is not a number"),
        ({"upstream_keepalive": "32;"}, "websocket_proxy_upstream_keepalive: '32;' is not a number"),
        ({"upstream_keepalive": None}, "websocket_proxy_upstream_keepalive: None is not a number"),
        (
            {"resolver": "127.0.0.11"},
            f"websocket_proxy_resolver: '127.0.0.11' is not a list of resolver addresses {RA}",
        ),
        ({"resolver": None}, "websocket_proxy_resolver: None is not a list of resolver addresses"),
        ({"resolver": [53]}, f"websocket_proxy_resolver[0]: 53 is not a string {RA}"),
        (
            {"resolver": ["127.0.0.11", "127.0.0.1 valid=1s"]},
            f"websocket_proxy_resolver[1]: '127.0.0.1 valid=1s' is not a resolver address {RA}, e.g. '127.0.0.11' "
            f"(Docker's embedded DNS), '10.0.0.2:53' or '[::1]'); ' ' at position 9 is nginx syntax",
        ),
        ({"resolver": ["valid=1s"]}, "websocket_proxy_resolver[0]: 'valid=1s' is not a resolver address"),
        ({"resolver": ["ipv6=off"]}, "websocket_proxy_resolver[0]: 'ipv6=off' is not a resolver address"),
        ({"resolver": ["::1"]}, "websocket_proxy_resolver[0]: '::1' is not a resolver address"),
        ({"resolver": ["[::1"]}, "websocket_proxy_resolver[0]: '[::1' is not a resolver address"),
        ({"resolver": ["[::1]53"]}, "websocket_proxy_resolver[0]: '[::1]53' is not a resolver address"),
        ({"resolver": ["[::1]:"]}, "websocket_proxy_resolver[0]: '[::1]:' is not a resolver address"),
        ({"resolver": ["[fe80::1%eth0]"]}, "websocket_proxy_resolver[0]: '[fe80::1%eth0]' is not a resolver address"),
        ({"resolver": ["[not:v6]"]}, "websocket_proxy_resolver[0]: '[not:v6]' is not a resolver address"),
        ({"resolver": ["1.2.3"]}, "websocket_proxy_resolver[0]: '1.2.3' is not a resolver address"),
        ({"resolver": ["10.0.0.1:0"]}, "websocket_proxy_resolver[0]: '10.0.0.1:0' is not a resolver address"),
        ({"resolver": ["10.0.0.1:65536"]}, "websocket_proxy_resolver[0]: '10.0.0.1:65536' is not a resolver address"),
        ({"resolver": ["10.0.0.1:"]}, "websocket_proxy_resolver[0]: '10.0.0.1:' is not a resolver address"),
        ({"resolver": ["a..b"]}, "websocket_proxy_resolver[0]: 'a..b' is not a resolver address"),
        ({"resolver": ["dns;"]}, "websocket_proxy_resolver[0]: 'dns;' is not a resolver address"),
        ({"resolver": [""]}, "websocket_proxy_resolver[0]: '' is not a resolver address"),
        ({"resolver": ["Dns.x", "dns.X"]}, "websocket_proxy_resolver[1]: 'dns.X' is listed twice"),
        (
            {"resolver_valid": "500ms"},
            "websocket_proxy_resolver_valid: '500ms' is not a whole number of seconds, which the resolver's valid= "
            "parameter requires (nginx refuses 'ms' there)",
        ),
        ({"resolver_valid": 1.5}, "websocket_proxy_resolver_valid: 1.5 is not a whole number of seconds"),
        ({"resolver_valid": 0}, "websocket_proxy_resolver_valid: 0 is zero"),
        ({"resolver_valid": "10 s"}, "websocket_proxy_resolver_valid: '10 s' is not a duration"),
        (
            {"resolver_timeout": "5s"},
            "websocket_proxy_*: unknown key 'resolver_timeout' (accepted keys: read_timeout, "
            "send_timeout, connect_timeout, upstream_keepalive, resolver, resolver_valid, client_max_body_size, "
            "limit_conn, handshake_rate, handshake_burst, hsts_max_age, frame_size)",
        ),
    ],
)
def test_rejected_new_defaults(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts([seed()], {**DEFAULTS, **extra})
    assert str(caught.value).startswith(message)


def test_new_defaults_errors_with_another_name() -> None:
    with pytest.raises(ConfigError, match=r"^vh defaults\.resolver\[0\]: 'x y' is not a resolver address"):
        websocket_vhosts([], {**DEFAULTS, "resolver": ["x y"]}, name="vh")


def test_defaults_type_message_lists_the_optional_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts([], [])
    assert str(caught.value) == (
        "websocket_proxy_*: [] is not a dict with read_timeout, send_timeout, connect_timeout and optionally "
        "upstream_keepalive, resolver, resolver_valid, client_max_body_size, limit_conn, handshake_rate, "
        "handshake_burst, hsts_max_age, frame_size"
    )


def test_socket_paths_keep_their_letter_case() -> None:
    [result] = websocket_vhosts([seed(locations=[{"backend": ["unix:/run/A.sock", "unix:/run/a.sock"]}])], DEFAULTS)
    assert addresses(result["upstreams"][0]) == ["unix:/run/A.sock", "unix:/run/a.sock"]
    vhost = seed(locations=[{"backend": "unix:/run/A.sock"}, {"path": "/b/", "backend": "unix:/run/a.sock"}])
    [result] = websocket_vhosts([vhost], KEEPALIVE)
    assert [addresses(u) for u in result["upstreams"]] == [["unix:/run/A.sock"], ["unix:/run/a.sock"]]


# --- the files a vhost owns on the OS layout --------------------------------------------------------------------

DEBIAN = {
    "vhost_dir": "/etc/nginx/sites-available",
    "vhost_enabled_dir": "/etc/nginx/sites-enabled",
    "vhost_prefix": "",
    "snippet_dir": "/etc/nginx/snippets",
}
REDHAT = {**DEBIAN, "vhost_dir": "/etc/nginx/conf.d", "vhost_enabled_dir": "", "vhost_prefix": "vhost-"}


def test_without_a_layout_no_files() -> None:
    assert "files" not in websocket_vhosts([seed()], DEFAULTS)[0]


def test_files_on_the_debian_and_redhat_layouts() -> None:
    tls = {"certificate": "/etc/ssl/a.pem", "certificate_key": "/etc/ssl/a.key", "chain": "/etc/ssl/ca.pem"}
    vhosts = [seed(), seed(server_name="b.example.com", name="b", tls=tls)]
    plain, secure = FILTER(vhosts, DEFAULTS, layout=DEBIAN)
    assert plain["files"] == {
        "conf": "/etc/nginx/sites-available/api-calls.conf",
        "link": {
            "path": "/etc/nginx/sites-enabled/api-calls.conf",
            "src": "/etc/nginx/sites-available/api-calls.conf",
            "name": f"{V}[0]",
        },
        "tls": [],
        "owned": [
            {"path": "/etc/nginx/sites-available/api-calls.conf", "name": "vhost api-calls"},
            {"path": "/etc/nginx/sites-enabled/api-calls.conf", "name": "vhost api-calls"},
        ],
    }
    assert secure["files"]["tls"] == [
        {
            "path": "/etc/ssl/a.pem",
            "missing": f'{V}[1].tls.certificate: "/etc/ssl/a.pem" does not exist or is a folder',
        },
        {
            "path": "/etc/ssl/a.key",
            "missing": f'{V}[1].tls.certificate_key: "/etc/ssl/a.key" does not exist or is a folder',
        },
        {"path": "/etc/ssl/ca.pem", "missing": f'{V}[1].tls.chain: "/etc/ssl/ca.pem" does not exist or is a folder'},
    ]
    [redhat] = websocket_vhosts([seed()], DEFAULTS, layout=REDHAT)
    conf = "/etc/nginx/conf.d/vhost-api-calls.conf"
    assert redhat["files"] == {
        "conf": conf,
        "link": None,
        "tls": [],
        "owned": [{"path": conf, "name": "vhost api-calls"}],
    }
    # the rest of the vhost is as without a layout
    assert {k: v for k, v in plain.items() if k != "files"} == websocket_vhosts([seed()], DEFAULTS)[0]


def test_a_bad_layout_is_named() -> None:
    with pytest.raises(AnsibleFilterError, match=r"^websocket_proxy_vhosts layout.vhost_dir: missing"):
        FILTER([seed()], DEFAULTS, layout={k: v for k, v in DEBIAN.items() if k != "vhost_dir"})


def test_a_retired_vhost_is_not_declared_and_nothing_else_of_it_is_checked() -> None:
    retired = {"server_name": "old.example.com", "state": "absent"}
    assert [v["name"] for v in FILTER([seed(), retired], DEFAULTS)] == ["api-calls"]
    assert [v["name"] for v in FILTER([seed(state="present")], DEFAULTS)] == ["api-calls"]
    with pytest.raises(
        AnsibleFilterError, match=r"websocket_proxy_vhosts\[0\]\.state: 'off' is not one of present, absent"
    ):
        FILTER([seed(state="off")], DEFAULTS)


# --- ACME vhosts ------------------------------------------------------------------------------------------------


def test_an_acme_vhost_gets_certbots_paths_and_a_challenge_server() -> None:
    vhost = seed(name="calls", server_name=["api.example.test", "calls.example.test"], tls={"acme": True})
    [result] = websocket_vhosts([vhost], DEFAULTS)
    assert result["tls"]["certificate"] == "/etc/letsencrypt/live/calls/fullchain.pem"
    assert result["tls"]["certificate_key"] == "/etc/letsencrypt/live/calls/privkey.pem"
    assert result["tls"]["acme"] == {"cert_name": "calls", "domains": ["api.example.test", "calls.example.test"]}
    # Without redirect_http the port-80 server answers the challenge and 404 for the rest; with it, a 301.
    assert result["redirect"] == {"port": 80, "location": None, "acme": True, "source": f"{V}[0].tls.acme"}
    [redirected] = websocket_vhosts([{**vhost, "redirect_http": True}], DEFAULTS)
    assert redirected["redirect"]["location"] == "https://$host$request_uri" and redirected["redirect"]["acme"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"server_name": ["a.example.test", "*.example.test"]}, "server name '*.example.test' (server_name[1]) is a"),
        ({"server_name": "_"}, "server name '_' (server_name[0]) is a wildcard, a regex or the catch-all"),
        ({"tls": {"acme": True, "chain": "/etc/ssl/chain.pem"}}, ".tls.chain: '/etc/ssl/chain.pem' is set, but"),
        ({"listen": [443, 80]}, ".tls.acme: true, but websocket_proxy_vhosts[0].listen [443, 80] already serves TLS"),
    ],
)
def test_acme_vhosts_refused(extra: dict[str, Any], message: str) -> None:
    vhost = {**seed(tls={"acme": True}), **extra}
    with pytest.raises(ConfigError, match=re.escape(message)):
        websocket_vhosts([vhost], DEFAULTS)
