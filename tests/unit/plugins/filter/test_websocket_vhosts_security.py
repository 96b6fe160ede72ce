"""websocket_vhosts and websocket_snippets: allowed_origins, per-client limits, body sizes, HSTS, the HTTP to
HTTPS redirect and OCSP stapling, and every attack through their fields."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.websocket_snippets import FilterModule as SnippetFilters
from ansible_collections.wsproxy.nginx.plugins.filter.websocket_vhosts import FilterModule as VhostFilters
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.snippets import websocket_snippets
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts

VHOSTS = VhostFilters().filters()["websocket_vhosts"]
SNIPPETS = SnippetFilters().filters()["websocket_snippets"]
DEFAULTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s"}
V = "websocket_proxy_vhosts"
S = "websocket_proxy_snippets"
TLS = {"certificate": "/etc/ssl/api.pem", "certificate_key": "/etc/ssl/api.key"}


def loc(**extra: Any) -> dict[str, Any]:
    return {"path": "/api/", "backend": "localhost:5006", **extra}


def vhost(*locations: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "api-calls", "server_name": "api.example.com", "locations": list(locations) or [loc()], **extra}


def one(*locations: dict[str, Any], defaults: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    [result] = websocket_vhosts([vhost(*locations, **extra)], {**DEFAULTS, **(defaults or {})})
    return result


# --------------------------------------------------------------------------- allowed_origins


def test_allowed_origins_make_one_map_per_location_named_after_the_vhost() -> None:
    result = one(
        loc(allowed_origins=["https://App.Example.com:443", "https://*.example.com", "http://localhost:3000"]),
        loc(path="/plain/", websocket=False),
        loc(path="/strict/", allowed_origins=["https://app.example.com"], allow_missing_origin=False),
    )
    api, plain, strict = result["locations"]
    assert api["allowed_origins"] == ["https://app.example.com", "https://*.example.com", "http://localhost:3000"]
    assert (api["origin_variable"], api["allow_missing_origin"]) == ("wsproxy_origin_forbidden_api_calls_1", True)
    assert (plain["origin_variable"], plain["allowed_origins"]) == (None, [])
    assert strict["origin_variable"] == "wsproxy_origin_forbidden_api_calls_2"
    assert strict["allow_missing_origin"] is False
    assert result["origin_maps"] == [
        {
            "variable": "wsproxy_origin_forbidden_api_calls_1",
            "exact": ["https://app.example.com", "http://localhost:3000"],
            "patterns": [r"https://[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.example\.com"],
            "allow_missing": True,
            "source": f"{V}[0].locations[0]",
        },
        {
            "variable": "wsproxy_origin_forbidden_api_calls_2",
            "exact": ["https://app.example.com"],
            "patterns": [],
            "allow_missing": False,
            "source": f"{V}[0].locations[2]",
        },
    ]


def test_with_endpoints_only_the_websocket_regex_location_checks_the_origin() -> None:
    result = one(loc(websocket_endpoints=["audio"], allowed_origins=["https://app.example.com"], limit_conn=3))
    regex, prefix = result["locations"]
    assert (regex["modifier"], regex["origin_variable"], regex["limit_conn"]) == (
        "~",
        "wsproxy_origin_forbidden_api_calls_1",
        3,
    )
    assert (prefix["websocket"], prefix["origin_variable"], prefix["limit_conn"]) == (False, None, 0)
    assert len(result["origin_maps"]) == 1


def test_map_variables_are_unique_across_vhosts_and_snippets() -> None:
    origins = {"allowed_origins": ["https://app.example.com"]}
    vhosts = websocket_vhosts(
        [vhost(loc(**origins)), vhost(loc(**origins), name="events", server_name="events.example.com"),
         vhost(loc(**origins), name="snippet_api", server_name="s.example.com")],
        DEFAULTS,
    )
    snippets = websocket_snippets([{"name": "api", "locations": [loc(**origins)]}], DEFAULTS)
    names = [m["variable"] for item in vhosts + snippets for m in item["origin_maps"]]
    assert names == [
        "wsproxy_origin_forbidden_api_calls_1",
        "wsproxy_origin_forbidden_events_1",
        "wsproxy_origin_forbidden_vhost_snippet_api_1",  # never meets the snippet's
        "wsproxy_origin_forbidden_snippet_api_1",
    ]
    assert snippets[0]["locations"][0]["origin_variable"] == "wsproxy_origin_forbidden_snippet_api_1"


def test_two_vhosts_whose_names_give_the_same_variables_are_refused() -> None:
    origins = {"allowed_origins": ["https://app.example.com"]}
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts(
            [vhost(loc(**origins), name="api.x", server_name="a.example.com"),
             vhost(loc(**origins), name="API-x", server_name="b.example.com")],
            {**DEFAULTS, "upstream_keepalive": 0},
        )
    assert str(caught.value).startswith(
        f"{V}[1].name: 'API-x' gives the nginx map variables $wsproxy_origin_forbidden_API_x_<n> (allowed_origins), "
        f"as 'api.x' ({V}[0]) does"
    )
    # one of them without allowed_origins: no map variable, nothing to clash
    websocket_vhosts(
        [vhost(loc(**origins), name="api.x", server_name="a.example.com"),
         vhost(loc(), name="api-x", server_name="b.example.com")],
        {**DEFAULTS, "upstream_keepalive": 0},
    )


def test_no_allowed_origins_means_no_check() -> None:
    for location in (loc(), loc(allowed_origins=[]), loc(allowed_origins=None)):
        result = one(location)
        assert result["origin_maps"] == [] and result["locations"][0]["origin_variable"] is None


# --------------------------------------------------------------------------- limits and body sizes


def test_limits_default_off_and_the_role_wide_values_apply_to_websocket_locations_only() -> None:
    assert {k: one()["locations"][0][k] for k in ("limit_conn", "handshake_rate", "limit_req_zone")} == {
        "limit_conn": 0,
        "handshake_rate": 0,
        "limit_req_zone": None,
    }
    result = one(
        loc(),
        loc(path="/plain/", websocket=False),
        loc(path="/own/", limit_conn=0, handshake_rate=600, handshake_burst=0, client_max_body_size="16K"),
        defaults={"limit_conn": "20", "handshake_rate": 120, "handshake_burst": 30, "client_max_body_size": "2m"},
    )
    api, plain, own = result["locations"]
    assert (api["limit_conn"], api["handshake_rate"], api["handshake_burst"], api["limit_req_zone"]) == (
        20,
        120,
        30,
        "wsproxy_handshakes_120pm",
    )
    assert (plain["limit_conn"], plain["handshake_rate"], plain["limit_req_zone"]) == (0, 0, None)
    assert (own["limit_conn"], own["handshake_rate"], own["handshake_burst"], own["limit_req_zone"]) == (
        0,
        600,
        0,
        "wsproxy_handshakes_600pm",
    )
    assert [x["client_max_body_size"] for x in (api, plain, own)] == ["2m", "2m", "16k"]


def test_snippet_locations_take_the_same_keys() -> None:
    [snippet] = SNIPPETS(
        [{"name": "api", "locations": [loc(allowed_origins=["https://*.example.com"], limit_conn=2)]}], DEFAULTS
    )
    assert snippet["locations"][0]["limit_conn"] == 2
    assert snippet["origin_maps"][0]["variable"] == "wsproxy_origin_forbidden_snippet_api_1"


# --------------------------------------------------------------------------- HSTS, redirect, OCSP stapling


def test_tls_vhost_with_hsts_redirect_and_stapling() -> None:
    result = one(
        tls={**TLS, "chain": "/etc/ssl/chain.pem"},
        hsts_max_age=63072000,
        hsts_include_subdomains=True,
        redirect_http=True,
    )
    assert result["hsts"] == "max-age=63072000; includeSubDomains"
    assert result["redirect"] == {
        "port": 80,
        "location": "https://$host$request_uri",
        "acme": False,
        "source": f"{V}[0].redirect_http",
    }
    assert (result["tls"]["chain"], result["tls"]["stapling"]) == ("/etc/ssl/chain.pem", True)


def test_role_wide_hsts_applies_to_tls_vhosts_and_a_vhost_may_turn_it_off() -> None:
    vhosts = websocket_vhosts(
        [vhost(tls=TLS), vhost(name="b", server_name="b.example.com"),
         vhost(name="c", server_name="c.example.com", tls=TLS, hsts_max_age=0)],
        {**DEFAULTS, "hsts_max_age": 31536000},
    )
    assert [v["hsts"] for v in vhosts] == ["max-age=31536000", None, None]


def test_redirect_from_port_80_to_another_tls_port_keeps_it() -> None:
    assert one(tls=TLS, listen=[8443, 9443], redirect_http=True)["redirect"]["location"] == (
        "https://$host:8443$request_uri"
    )


def test_the_redirect_server_takes_port_80_for_the_vhosts_names() -> None:
    tls_vhost = vhost(tls=TLS, redirect_http=True, server_name=["api.example.com", "*.api.example.com"])
    plain = vhost(name="plain", server_name="API.example.com", listen=80)
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts([tls_vhost, plain], DEFAULTS)
    assert str(caught.value) == (
        f"{V}[1].server_name: 'API.example.com' on port 80 is already served by {V}[0].redirect_http (its port-80 "
        f"redirect server); nginx would ignore one of them (conflicting server name)"
    )
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts([plain, tls_vhost], DEFAULTS)
    assert str(caught.value).startswith(
        f"{V}[1].redirect_http: 'api.example.com' on port 80 is already served by {V}[0]; "
    )
    other = vhost(name="other", server_name="*.api.example.com", tls=TLS, listen=8443, redirect_http=True)
    with pytest.raises(ConfigError, match=r"redirect_http: '\*\.api\.example\.com' on port 80 is already served"):
        websocket_vhosts([tls_vhost, other], DEFAULTS)
    # a TLS vhost on port 80 makes port 80 TLS, where the redirect needs plain HTTP
    tls_on_80 = vhost(name="tls80", server_name="x.example.com", tls=TLS, listen=80)
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts([tls_vhost, tls_on_80], DEFAULTS)
    assert str(caught.value).startswith(f"{V}[1].listen: port 80 is TLS here but plain HTTP in {V}[0].redirect_http")
    # other names on port 80 are fine
    websocket_vhosts([tls_vhost, vhost(name="plain", server_name="www.example.com", listen=80)], DEFAULTS)


# --------------------------------------------------------------------------- refusals: every field, every attack

INJECTIONS = [
    'x" 0; } server { listen 81; return 200 pwned; #',
    "x; return 200 pwned",
    "x\n    autoindex on",
    "x}",
    "x {",
    "x#",
    "$http_cookie",
    "x\\",
    "x'",
    "x y",
    "x\x00",
    "x\u2028",
]

LOC = f"{V}[0].locations[0]"


@pytest.mark.parametrize("attack", INJECTIONS)
@pytest.mark.parametrize(
    ("where", "build"),
    [
        (f"{LOC}.allowed_origins[1]", lambda a: [vhost(loc(allowed_origins=["https://ok.example.com", f"https://{a}"]))]),
        (f"{LOC}.client_max_body_size", lambda a: [vhost(loc(client_max_body_size=f"1{a}"))]),
        (f"{LOC}.limit_conn", lambda a: [vhost(loc(limit_conn=f"1{a}"))]),
        (f"{LOC}.handshake_rate", lambda a: [vhost(loc(handshake_rate=f"1{a}"))]),
        (f"{LOC}.handshake_burst", lambda a: [vhost(loc(handshake_rate=60, handshake_burst=f"1{a}"))]),
        (f"{V}[0].hsts_max_age", lambda a: [vhost(tls=TLS, hsts_max_age=f"1{a}")]),
        (f"{V}[0].tls.chain", lambda a: [vhost(tls={**TLS, "chain": f"/etc/ssl/chain.pem{a}"})]),
        (f"{V}[0].redirect_http", lambda a: [vhost(tls=TLS, redirect_http=a)]),
        (f"{V}[0].hsts_include_subdomains", lambda a: [vhost(tls=TLS, hsts_max_age=1, hsts_include_subdomains=a)]),
        (
            f"{LOC}.allow_missing_origin",
            lambda a: [vhost(loc(allowed_origins=["https://a.b.c"], allow_missing_origin=a))],
        ),
    ],
)
def test_an_injection_through_any_new_vhost_field_is_refused_naming_the_field(where: str, build, attack: str) -> None:
    vhosts = build(attack)
    before = copy.deepcopy(vhosts)
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts(vhosts, DEFAULTS)
    assert str(caught.value).startswith(f"{where}: ")
    assert repr(attack)[1:-1] in str(caught.value) or attack in str(caught.value)
    with pytest.raises(AnsibleFilterError):
        VHOSTS(vhosts, DEFAULTS)
    assert vhosts == before


@pytest.mark.parametrize("attack", INJECTIONS)
@pytest.mark.parametrize(
    "key", ["client_max_body_size", "limit_conn", "handshake_rate", "handshake_burst", "hsts_max_age"]
)
def test_an_injection_through_any_new_role_variable_is_refused_naming_it(key: str, attack: str) -> None:
    for run, name in ((websocket_vhosts, V), (websocket_snippets, S)):
        with pytest.raises(ConfigError) as caught:
            run([], {**DEFAULTS, key: f"1{attack}"}, name=name)
        assert str(caught.value).startswith(f"websocket_proxy_{key}: ")


@pytest.mark.parametrize("attack", INJECTIONS)
def test_an_injection_through_a_snippets_origin_is_refused(attack: str) -> None:
    snippets = [{"name": "api", "locations": [loc(allowed_origins=[f"https://a.example.com{attack}"])]}]
    with pytest.raises(ConfigError, match=rf"^{S}\[0\]\.locations\[0\]\.allowed_origins\[0\]: "):
        websocket_snippets(snippets, DEFAULTS)


BAD: list[tuple[Any, str]] = [
    (
        [vhost(loc(allowed_origins="https://app.example.com"))],
        f"{LOC}.allowed_origins: 'https://app.example.com' is not a list of origins",
    ),
    ([vhost(loc(allowed_origins=[5]))], f"{LOC}.allowed_origins[0]: 5 is not a string (an origin"),
    (
        [vhost(loc(allowed_origins=["https://a.example.com", "HTTPS://A.example.com:443"]))],
        f"{LOC}.allowed_origins[1]: 'HTTPS://A.example.com:443' is listed twice (as 'https://a.example.com'",
    ),
    (
        [vhost(loc(allowed_origins=["https://*.com"]))],
        f"{LOC}.allowed_origins[0]: 'https://*.com' is a wildcard over a top-level domain",
    ),
    ([vhost(loc(allowed_origins=["null"]))], f"{LOC}.allowed_origins[0]: 'null' is not an origin"),
    (
        [vhost(loc(allowed_origins=["https://app.example.com/"]))],
        f"{LOC}.allowed_origins[0]: 'https://app.example.com/' is not an origin",
    ),
    (
        [vhost(loc(allowed_origins=["https://a.example.com"], allow_missing_origin="no"))],
        f"{LOC}.allow_missing_origin: 'no' is not a boolean",
    ),
    (
        [vhost(loc(allow_missing_origin=False))],
        f"{LOC}.allow_missing_origin: false is set without {LOC}.allowed_origins",
    ),
    (
        [vhost(loc(websocket=False, allowed_origins=["https://a.example.com"]))],
        f"{LOC}.allowed_origins: ['https://a.example.com'] is set, but {LOC}.websocket is false",
    ),
    ([vhost(loc(websocket=False, limit_conn=5))], f"{LOC}.limit_conn: 5 is set, but {LOC}.websocket is false"),
    ([vhost(loc(websocket=False, handshake_rate=5))], f"{LOC}.handshake_rate: 5 is set, but {LOC}.websocket is false"),
    (
        [vhost(loc(websocket=False, allow_missing_origin=False))],
        f"{LOC}.allow_missing_origin: False is set, but {LOC}.websocket is false",
    ),
    ([vhost(loc(limit_conn=-1))], f"{LOC}.limit_conn: -1 is not an integer 0-65535"),
    ([vhost(loc(limit_conn=65536))], f"{LOC}.limit_conn: 65536 is not an integer 0-65535"),
    ([vhost(loc(limit_conn=True))], f"{LOC}.limit_conn: True is not an integer 0-65535"),
    ([vhost(loc(limit_conn=1.5))], f"{LOC}.limit_conn: 1.5 is not an integer 0-65535"),
    ([vhost(loc(handshake_rate="10r/s"))], f"{LOC}.handshake_rate: '10r/s' is not an integer 0-1000000"),
    ([vhost(loc(handshake_rate=1_000_001))], f"{LOC}.handshake_rate: 1000001 is not an integer 0-1000000"),
    ([vhost(loc(handshake_rate=60, handshake_burst=-1))], f"{LOC}.handshake_burst: -1 is not an integer 0-100000"),
    (
        [vhost(loc(handshake_burst=5))],
        f"{LOC}.handshake_burst: 5 is set, but the handshake rate is not limited",
    ),
    ([vhost(loc(client_max_body_size="1t"))], f"{LOC}.client_max_body_size: '1t' is not a size"),
    ([vhost(loc(client_max_body_size=-1))], f"{LOC}.client_max_body_size: -1 is not a size"),
    ([vhost(hsts_max_age=300)], f"{V}[0].hsts_max_age: 300 is set on a vhost without tls"),
    ([vhost(hsts_include_subdomains=True)], f"{V}[0].hsts_include_subdomains: True is set on a vhost without tls"),
    ([vhost(tls=TLS, hsts_max_age=-5)], f"{V}[0].hsts_max_age: -5 is not an integer 0-1000000000"),
    (
        [vhost(tls=TLS, hsts_include_subdomains=True)],
        f"{V}[0].hsts_include_subdomains: true, but no HSTS is sent",
    ),
    ([vhost(tls=TLS, hsts_include_subdomains="yes", hsts_max_age=5)], f"{V}[0].hsts_include_subdomains: 'yes' is not"),
    ([vhost(redirect_http=True)], f"{V}[0].redirect_http: true on a vhost without tls"),
    ([vhost(tls=TLS, redirect_http="yes")], f"{V}[0].redirect_http: 'yes' is not a boolean"),
    (
        [vhost(tls=TLS, listen=[443, 80], redirect_http=True)],
        f"{V}[0].redirect_http: true, but {V}[0].listen [443, 80] already serves TLS on port 80",
    ),
    ([vhost(tls={**TLS, "chain": "chain.pem"})], f"{V}[0].tls.chain: 'chain.pem' is not a valid file path"),
    ([vhost(tls={**TLS, "chain": 5})], f"{V}[0].tls.chain: 5 is not a string"),
    (
        [vhost(tls={**TLS, "ocsp": True})],
        f"{V}[0].tls: unknown key 'ocsp' (accepted keys: certificate, certificate_key, http2, chain, acme)",
    ),
    (
        [vhost(hsts=True)],
        f"{V}[0]: unknown key 'hsts' (accepted keys: server_name, name, listen, default_server, tls, locations, "
        f"hsts_max_age, hsts_include_subdomains, redirect_http, state)",
    ),
]


@pytest.mark.parametrize(("vhosts", "message"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_rejected(vhosts: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts(vhosts, DEFAULTS)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"limit_conn": 70000}, "websocket_proxy_limit_conn: 70000 is not an integer 0-65535"),
        ({"handshake_rate": "fast"}, "websocket_proxy_handshake_rate: 'fast' is not an integer 0-1000000"),
        ({"handshake_burst": None}, "websocket_proxy_handshake_burst: None is not an integer 0-100000"),
        ({"hsts_max_age": "2y"}, "websocket_proxy_hsts_max_age: '2y' is not an integer 0-1000000000"),
        ({"client_max_body_size": "1 m"}, "websocket_proxy_client_max_body_size: '1 m' is not a size"),
    ],
)
def test_rejected_role_wide_values(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        websocket_vhosts([vhost()], {**DEFAULTS, **extra})
    assert str(caught.value).startswith(message)


def test_argument_spec_style_defaults_on_a_plain_location_are_accepted() -> None:
    # what an argument spec's defaults would put there means "off"
    result = one(loc(websocket=False, allowed_origins=[], allow_missing_origin=True, limit_conn=0, handshake_rate=0))
    assert result["locations"][0]["origin_variable"] is None
    assert one(hsts_max_age=0, hsts_include_subdomains=False, redirect_http=False)["hsts"] is None
