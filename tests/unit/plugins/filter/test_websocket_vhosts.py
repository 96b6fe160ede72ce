"""websocket_vhosts: the normalised schema, defaults, expansion of endpoints, and every refusal."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.websocket_vhosts import FilterModule
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import default_vhost_name, websocket_vhosts

FILTER = FilterModule().filters()["websocket_vhosts"]
DEFAULTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s"}
V = "websocket_proxy_vhosts"


def seed(**extra: Any) -> dict[str, Any]:
    vhost: dict[str, Any] = {
        "server_name": "api-calls.example.com",
        "name": "api-calls",
        "locations": [{"path": "/api/", "backend": "localhost:5006"}],
    }
    vhost.update(extra)
    return vhost


def test_seed_layout() -> None:
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
                }
            ],
            "websocket_uris": ["/api/"],
            "source": f"{V}[0]",
        }
    ]


def test_alternative_layout_with_tls() -> None:
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
        "http2": True,
        "source": f"{V}[0].tls",
    }
    common = {"read_timeout": "1h", "send_timeout": "1d", "connect_timeout": "1m", "source": f"{V}[0].locations[0]"}
    assert result["locations"] == [
        {
            "modifier": "~",
            "path": "^/api/(?:frontend-audio|call-events|audio-stream)(?:/|$)",
            "proxy_pass": "http://calls-backend:5006",
            "websocket": True,
            **common,
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
    result = websocket_vhosts(vhosts, {"read_timeout": 60, "send_timeout": "2m", "connect_timeout": "5s"})
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
        f"websocket_endpoints, read_timeout, send_timeout, connect_timeout)",
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
    assert isinstance(filtered.value.orig_exc, ConfigError)


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
