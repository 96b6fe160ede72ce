"""websocket_snippets: snippet mode's schema (locations as in vhosts), upstream names, the resolver carried by
dynamic locations, and every refusal."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.websocket_snippets import FilterModule
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.snippets import websocket_snippets
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts
from normalised import addresses, server

FILTER = FilterModule().filters()["websocket_snippets"]
# upstream_keepalive 0 stated here: a key left out takes the role's default (32, defaults/main.yml).
DEFAULTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s", "upstream_keepalive": 0}
KEEPALIVE = {**DEFAULTS, "upstream_keepalive": 32}
S = "websocket_proxy_snippets"


def snippet(**extra: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"name": "api-calls", "locations": [{"path": "/api/", "backend": "localhost:5006"}]}
    value.update(extra)
    return value


def test_seed_snippet(no_security: dict[str, Any]) -> None:
    assert websocket_snippets([snippet()], KEEPALIVE) == [
        {
            "name": "api-calls",
            "locations": [
                {
                    "modifier": "",
                    "path": "/api/",
                    "proxy_pass": "http://wsproxy_snippet_api_calls_1",
                    "websocket": True,
                    "read_timeout": "1d",
                    "send_timeout": "1d",
                    "connect_timeout": "1m",
                    "source": f"{S}[0].locations[0]",
                    "balance": "round_robin",
                    "hash_key": None,
                    "upstream": "wsproxy_snippet_api_calls_1",
                    "dynamic": False,
                    "proxy_pass_variable": None,
                    "resolver": None,
                    "resolver_valid": None,
                    "failover": False,
                    **no_security,
                }
            ],
            "upstreams": [
                {
                    "name": "wsproxy_snippet_api_calls_1",
                    "balance": None,
                    "zone": None,
                    "servers": [server("localhost:5006")],
                    "keepalive": 32,
                    "source": f"{S}[0].locations[0].backend",
                }
            ],
            "websocket_uris": ["/api/"],
            "source": f"{S}[0]",
            "origin_maps": [],
        }
    ]


def test_locations_are_normalised_as_in_a_vhost() -> None:
    locations = [
        {"backend": "127.0.0.1:5006", "websocket_endpoints": ["frontend-audio", "call-events"], "read_timeout": 60},
        {"path": "/pool/", "backend": ["b:1", "b:2"], "websocket": False},
        {"path": "/tls/", "backend": "https://10.0.0.5:8443/base/"},
    ]
    [ours] = FILTER([{"name": "api", "locations": copy.deepcopy(locations)}], KEEPALIVE)
    [vhost] = websocket_vhosts([{"server_name": "a.example.com", "name": "api", "locations": locations}], KEEPALIVE)
    renamed = [{**loc, "source": loc["source"].replace("websocket_proxy_vhosts", S)} for loc in vhost["locations"]]
    for loc in renamed:
        if loc["upstream"]:
            loc["upstream"] = loc["upstream"].replace("wsproxy_", "wsproxy_snippet_")
            loc["proxy_pass"] = loc["proxy_pass"].replace("wsproxy_", "wsproxy_snippet_")
    assert ours["locations"] == renamed
    assert ours["websocket_uris"] == vhost["websocket_uris"] == ["/api/frontend-audio", "/api/call-events", "/tls/"]
    assert [(u["name"], addresses(u)) for u in ours["upstreams"]] == [
        ("wsproxy_snippet_api_1", ["127.0.0.1:5006"]),
        ("wsproxy_snippet_api_2", ["b:1", "b:2"]),
    ]


def test_dynamic_locations_carry_the_resolver() -> None:
    value = snippet(
        name="brown.field",
        locations=[
            {"path": "/api/frontend-audio", "backend": "calls-backend:5006"},
            {"path": "/api/static/", "backend": "127.0.0.1:5006", "websocket": False},
        ],
    )
    defaults = {**KEEPALIVE, "resolver": ["127.0.0.11"], "resolver_valid": "30s"}
    [result] = websocket_snippets([value], defaults)
    dynamic, static = result["locations"]
    assert {k: dynamic[k] for k in ("proxy_pass", "upstream", "dynamic", "proxy_pass_variable", "resolver")} == {
        "proxy_pass": "$wsproxy_backend",
        "upstream": None,
        "dynamic": True,
        "proxy_pass_variable": "http://calls-backend:5006",
        "resolver": ["127.0.0.11"],
    }
    assert dynamic["resolver_valid"] == "30s"
    assert (static["dynamic"], static["resolver"], static["resolver_valid"]) == (False, None, None)
    assert static["proxy_pass"] == "http://wsproxy_snippet_brown_field_1"
    assert "resolver" not in result  # the user's server block is not the role's


def test_without_keepalive_nothing_changes() -> None:
    [result] = websocket_snippets([snippet()], DEFAULTS)
    assert result["upstreams"] == []
    assert result["locations"][0]["proxy_pass"] == "http://localhost:5006"


def test_snippet_and_vhost_upstreams_never_meet() -> None:
    vhost = {"server_name": "snippet.example.com", "name": "snippet.api", "locations": [{"backend": "b:1"}]}
    [v] = websocket_vhosts([vhost], KEEPALIVE)
    [s] = websocket_snippets([snippet(name="api")], KEEPALIVE)
    assert (v["upstreams"][0]["name"], s["upstreams"][0]["name"]) == (
        "wsproxy_vhost_snippet_api_1",
        "wsproxy_snippet_api_1",
    )


def test_empty_list_and_input_not_modified() -> None:
    assert websocket_snippets([], DEFAULTS) == []
    value = [snippet(locations=[{"backend": ["b:1", "b:2"], "websocket_endpoints": ["x"]}])]
    before = copy.deepcopy(value)
    websocket_snippets(value, KEEPALIVE)
    assert value == before


BAD: list[tuple[Any, dict[str, Any], str]] = [
    ("nope", DEFAULTS, f"{S}: 'nope' is not a list of snippets"),
    ([["x"]], DEFAULTS, f"{S}[0]: ['x'] is not a dict with name and locations"),
    (
        [snippet(server_name="a.example.com")],
        DEFAULTS,
        f"{S}[0]: unknown key 'server_name' (accepted keys: name, locations, state)",
    ),
    (
        [{"locations": [{"backend": "b:1"}]}],
        DEFAULTS,
        f"{S}[0].name: missing (a file stem, e.g. 'api-calls': the role writes snippets/websocket_proxy_<name>.conf)",
    ),
    ([snippet(name="../x")], DEFAULTS, f"{S}[0].name: '../x' is not a valid name ("),
    ([snippet(name="a b")], DEFAULTS, f"{S}[0].name: 'a b' is not a valid name ("),
    ([{"name": "a"}], DEFAULTS, f"{S}[0].locations: missing (a non-empty list of locations)"),
    ([snippet(locations=[])], DEFAULTS, f"{S}[0].locations: the list is empty"),
    ([snippet(locations=[{"path": "/x/"}])], DEFAULTS, f"{S}[0].locations[0].backend: missing (e.g. 'localhost:5006'"),
    (
        [snippet(locations=[{"backend": "b:1", "proxy_buffering": "off"}])],
        DEFAULTS,
        f"{S}[0].locations[0]: unknown key 'proxy_buffering'",
    ),
    (
        [snippet(locations=[{"backend": "b:1"}, {"backend": "b:2"}])],
        DEFAULTS,
        f"{S}[0].locations[1]: location '/api/' is already defined by {S}[0].locations[0] (each location may appear "
        f"once in a snippet)",
    ),
    (
        [
            snippet(
                locations=[
                    {"backend": "b:1", "websocket_endpoints": ["frontend-audio"]},
                    {"path": "/api/frontend-audio/", "backend": "b:2", "websocket": False},
                ]
            )
        ],
        DEFAULTS,
        f"{S}[0].locations: /api/frontend-audio is redirected (301 to add the trailing '/') by location "
        f"'/api/frontend-audio/' ({S}[0].locations[1]), which is not WebSocket-capable",
    ),
    ([snippet(), snippet(name="API-calls")], DEFAULTS, f"{S}[1].name: 'API-calls' is already the name of {S}[0]"),
    (
        [snippet(name="a.b"), snippet(name="a-b")],
        KEEPALIVE,
        f"{S}[1].name: 'a-b' gives the nginx upstream names wsproxy_snippet_a_b_<n>, as 'a.b' ({S}[0]) does "
        f"(upstream names keep only letters, digits and '_', other characters become '_', and nginx ignores letter "
        f"case there); set name on one of the two snippets so that they differ in a letter or digit",
    ),
    (
        [snippet(locations=[{"backend": ["https://a:1", "https://b:1"]}])],
        DEFAULTS,
        f"{S}[0].locations[0].backend: ['https://a:1', 'https://b:1'] is a list of https backends",
    ),
    (
        [snippet(locations=[{"backend": "calls-backend:5006/base/"}])],
        {**DEFAULTS, "resolver": ["127.0.0.11"]},
        f"{S}[0].locations[0].backend: 'calls-backend:5006/base/' has a URI part '/base/', but with "
        f"websocket_proxy_resolver set",
    ),
    (
        [snippet()],
        {"read_timeout": "1 day", "send_timeout": 1, "connect_timeout": 1},
        "websocket_proxy_read_timeout: '1 day' is not a duration",
    ),
    ([snippet()], {**DEFAULTS, "upstream_keepalive": -1}, "websocket_proxy_upstream_keepalive: -1 is not a number"),
    ([snippet()], {**DEFAULTS, "resolver": ["a b"]}, "websocket_proxy_resolver[0]: 'a b' is not a resolver address"),
    (
        [snippet()],
        {**DEFAULTS, "resolver_valid": "1s500ms"},
        "websocket_proxy_resolver_valid: '1s500ms' is not a whole",
    ),
]


@pytest.mark.parametrize(("snippets", "defaults", "message"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_rejected(snippets: Any, defaults: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        websocket_snippets(snippets, defaults)
    assert str(caught.value).startswith(message)
    with pytest.raises(AnsibleFilterError) as filtered:
        FILTER(snippets, defaults)
    assert str(filtered.value) == str(caught.value)
    assert isinstance(filtered.value.__cause__, ConfigError)


def test_defaults_error_with_another_name() -> None:
    with pytest.raises(ConfigError, match=r"^sn defaults\.connect_timeout: missing"):
        websocket_snippets([], {"read_timeout": 1, "send_timeout": 1}, name="sn")


def test_filter_checks_its_arguments() -> None:
    with pytest.raises(AnsibleFilterError, match="name must be a string"):
        FILTER([], DEFAULTS, name=5)


def test_files_on_a_layout() -> None:
    layout = {
        "vhost_dir": "/etc/nginx/conf.d",
        "vhost_enabled_dir": "",
        "vhost_prefix": "vhost-",
        "snippet_dir": "/etc/nginx/snippets",
    }
    [result] = FILTER([snippet()], DEFAULTS, layout=layout)
    conf = "/etc/nginx/snippets/websocket_proxy_api-calls.conf"
    assert result["files"] == {"conf": conf, "owned": [{"path": conf, "name": "snippet api-calls"}]}
    assert "files" not in websocket_snippets([snippet()], DEFAULTS)[0]


def test_a_retired_snippet_is_not_declared_and_nothing_else_of_it_is_checked() -> None:
    retired = {"name": "old", "state": "absent", "locations": "not even a list"}
    assert [s["name"] for s in FILTER([snippet(), retired], DEFAULTS)] == ["api-calls"]
    with pytest.raises(
        AnsibleFilterError, match=r"websocket_proxy_snippets\[0\]\.state: 'gone' is not one of present, absent"
    ):
        FILTER([{"name": "x", "state": "gone"}], DEFAULTS)
