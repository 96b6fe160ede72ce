"""plugin_utils._normalise, what the two normalisers share: the promises they build on.

- Upstream names from different vhost (or snippet) names never collide in nginx's case-insensitive upstream
  namespace unless the names differ only in characters that become '_' (which websocket_vhosts refuses), and a
  vhost's upstream never starts like a snippet's.
- A resolver address is one nginx token that the resolver directive reads as an address, never a parameter.
- The URI part read back from a proxy_pass value is the one the backend was given.
- A default the caller leaves out is the role's own (defaults/main.yml), never a second value.
- The OS layout is checked before any path is made from it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.wsproxy.nginx.plugins.plugin_utils._normalise import (
    OPTIONAL_DEFAULT_KEYS,
    ROLE_DEFAULTS_FILE,
    Layout,
    assign_upstreams,
    is_resolver_address,
    parse_defaults,
    parse_layout,
    role_defaults,
    upstream_base,
    uri_part,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import parse_proxy_target
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import NGINX_SYNTAX, is_name
from hypothesis import given, settings
from hypothesis import strategies as st
from normalised import server

PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=400)
plain = st.text(st.sampled_from("abAB12._-"), min_size=1, max_size=8).filter(is_name)
# Prefixes that meet the snippet rule (wsproxy_snippet_ vs wsproxy_vhost_) often, so the property is tested there.
names = plain | st.builds(
    str.__add__, st.sampled_from(["snippet.", "Snippet_", "vhost_snippet-", "vhost.", "snippet"]), plain
)
numbers = st.integers(1, 120)

KINDS = st.sampled_from(["wsproxy_", "wsproxy_snippet_"])  # vhosts, snippets


def mapped(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


@PROPERTY
@given(names, names, numbers, numbers, KINDS, KINDS)
def test_upstream_names_are_distinct(a: str, b: str, n: int, m: int, kind_a: str, kind_b: str) -> None:
    base_a, base_b = upstream_base(kind_a, a), upstream_base(kind_b, b)
    for base, kind in ((base_a, kind_a), (base_b, kind_b)):
        assert re.fullmatch(r"wsproxy_[A-Za-z0-9_]+", base)
        assert base.lower().startswith("wsproxy_snippet_") == (kind == "wsproxy_snippet_")
    if base_a.lower() == base_b.lower():
        # Only two vhosts (or two snippets) whose names map to the same characters: the normalisers refuse that.
        assert kind_a == kind_b and mapped(a) == mapped(b)
    else:
        # The number after the last '_' has no '_', so a name splits back into its base and number.
        assert f"{base_a}_{n}".lower() != f"{base_b}_{m}".lower()


def test_a_vhost_base_never_starts_like_a_snippet() -> None:
    assert upstream_base("wsproxy_", "snippet.x") == "wsproxy_vhost_snippet_x"
    assert upstream_base("wsproxy_", "SNIPPET-x") == "wsproxy_vhost_SNIPPET_x"
    assert upstream_base("wsproxy_", "snippetx") == "wsproxy_snippetx"
    assert upstream_base("wsproxy_snippet_", "snippet.x") == "wsproxy_snippet_snippet_x"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("127.0.0.11", True),
        ("127.0.0.11:53", True),
        ("[::1]", True),
        ("[::ffff:10.0.0.1]:53", True),
        ("dns.example.com", True),
        ("dns_internal", True),
        ("-dns", False),
        ("256.0.0.1", False),
        ("127.0.0.11:053000", False),
        ("[::1]:", False),
        ("[]", False),
        ("valid=10s", False),
        ("ipv4=off", False),
        ("status_zone=z", False),
        ("dns.example.com.", False),
    ],
)
def test_resolver_addresses(value: str, ok: bool) -> None:
    assert is_resolver_address(value) is ok


@PROPERTY
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("\t\n\x00é"), max_size=30))
def test_resolver_addresses_are_one_plain_token(value: str) -> None:
    if is_resolver_address(value):
        assert not set(value) & NGINX_SYNTAX
        assert "=" not in value and value.isascii() and value


@pytest.mark.parametrize(
    "backend",
    [
        "b:1",
        "b:1/",
        "b:1/base/x",
        "http://b",
        "https://b/x/",
        "http://[::1]:5/a:b/",
        "unix:/run/a.sock",
        "unix:/run/a.sock:/base/",
        "http://unix:/run/a.sock:",
        "http://unix:/run/a.sock:/x",
    ],
)
def test_uri_part(backend: str) -> None:
    target = parse_proxy_target(backend)
    assert uri_part(target.proxy_pass) == target.uri


def test_assign_upstreams_numbers_in_order_of_first_use() -> None:
    b, c = server("b:1"), server("c:1")
    weighted = server("b:1", "weight=3", weight=3)
    locations = [
        {"source": "s[0]", "proxy_pass": "http://b:1/x/", "_servers": [b], "_balance": None},
        {"source": "s[1]", "proxy_pass": "http://c:1", "_servers": None, "_balance": None},
        {"source": "s[2]", "proxy_pass": "http://c:1", "_servers": [c, b], "_balance": None},
        {"source": "s[3]", "proxy_pass": "http://b:1", "_servers": [server("B:1")], "_balance": None},
        # The same servers with another method, or other parameters, are another upstream.
        {"source": "s[4]", "proxy_pass": "http://c:1", "_servers": [c, b], "_balance": "ip_hash"},
        {"source": "s[5]", "proxy_pass": "http://c:1", "_servers": [c, weighted], "_balance": None},
        {"source": "s[6]", "proxy_pass": "http://b:1", "_servers": [b, c], "_balance": "ip_hash"},
    ]
    upstreams = assign_upstreams(locations, "wsproxy_t", 8)
    one = {"balance": None, "zone": None, "keepalive": 8}
    assert upstreams == [
        {"name": "wsproxy_t_1", **one, "servers": [b], "source": "s[0].backend"},
        {"name": "wsproxy_t_2", **one, "zone": "wsproxy_t_2", "servers": [c, b], "source": "s[2].backend"},
        {
            "name": "wsproxy_t_3",
            **one,
            "balance": "ip_hash",
            "zone": "wsproxy_t_3",
            "servers": [c, b],
            "source": "s[4].backend",
        },
        {"name": "wsproxy_t_4", **one, "zone": "wsproxy_t_4", "servers": [c, weighted], "source": "s[5].backend"},
    ]
    assert [(loc["proxy_pass"], loc["upstream"]) for loc in locations] == [
        ("http://wsproxy_t_1/x/", "wsproxy_t_1"),
        ("http://c:1", None),
        ("http://wsproxy_t_2", "wsproxy_t_2"),
        ("http://wsproxy_t_1", "wsproxy_t_1"),
        ("http://wsproxy_t_3", "wsproxy_t_3"),
        ("http://wsproxy_t_4", "wsproxy_t_4"),
        ("http://wsproxy_t_3", "wsproxy_t_3"),
    ]
    assert all("_servers" not in loc and "_balance" not in loc for loc in locations)


# --------------------------------------------------------------------------- one home per default

ROLE = Path(__file__).resolve().parents[4] / "roles" / "websocket_proxy"
TIMEOUTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s"}


def test_the_defaults_file_is_the_roles() -> None:
    assert Path(ROLE_DEFAULTS_FILE).resolve() == ROLE / "defaults" / "main.yml"


def test_left_out_defaults_are_the_roles_own() -> None:
    role = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert role_defaults() == {key: role[f"websocket_proxy_{key}"] for key in OPTIONAL_DEFAULT_KEYS}
    settings = parse_defaults(TIMEOUTS, "websocket_proxy_vhosts")
    assert settings.upstream_keepalive == role["websocket_proxy_upstream_keepalive"] == 32
    assert settings.resolver == tuple(role["websocket_proxy_resolver"])
    assert settings.resolver_valid == role["websocket_proxy_resolver_valid"]
    assert settings.client_max_body_size == role["websocket_proxy_client_max_body_size"]
    assert settings.limit_conn == role["websocket_proxy_limit_conn"]
    assert settings.handshake_rate == role["websocket_proxy_handshake_rate"]
    assert settings.handshake_burst == role["websocket_proxy_handshake_burst"]
    assert settings.hsts_max_age == role["websocket_proxy_hsts_max_age"]


def test_given_defaults_win_over_the_roles() -> None:
    settings = parse_defaults({**TIMEOUTS, "upstream_keepalive": 0, "handshake_burst": 3}, "websocket_proxy_vhosts")
    assert (settings.upstream_keepalive, settings.handshake_burst) == (0, 3)


# --------------------------------------------------------------------------- the OS layout

DEBIAN = {
    "vhost_dir": "/etc/nginx/sites-available",
    "vhost_enabled_dir": "/etc/nginx/sites-enabled",
    "vhost_prefix": "",
    "snippet_dir": "/etc/nginx/snippets",
}
REDHAT = {
    "vhost_dir": "/etc/nginx/conf.d",
    "vhost_enabled_dir": "",
    "vhost_prefix": "vhost-",
    "snippet_dir": "/etc/nginx/snippets",
}


def test_layouts_of_the_two_families() -> None:
    assert parse_layout(DEBIAN, "v") == Layout(
        "/etc/nginx/sites-available", "/etc/nginx/sites-enabled", "", "/etc/nginx/snippets"
    )
    assert parse_layout(REDHAT, "v") == Layout("/etc/nginx/conf.d", None, "vhost-", "/etc/nginx/snippets")
    assert parse_layout(None, "v") is None


@pytest.mark.parametrize("family", ["Debian", "RedHat"])
def test_the_roles_layouts_parse(family: str) -> None:
    values = yaml.safe_load((ROLE / "vars" / f"{family}.yml").read_text())
    parse_layout({key: values[f"__websocket_proxy_{key}"] for key in DEBIAN}, "v")


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("/etc/nginx", "v layout: '/etc/nginx' is not a dict with vhost_dir"),
        ({**DEBIAN, "extra": 1}, "v layout: unknown key 'extra'"),
        ({k: v for k, v in DEBIAN.items() if k != "snippet_dir"}, "v layout.snippet_dir: missing"),
        ({**DEBIAN, "vhost_dir": "etc/nginx"}, "v layout.vhost_dir: 'etc/nginx' is not"),
        ({**DEBIAN, "snippet_dir": "/etc/nginx/x; y"}, "v layout.snippet_dir: "),
        ({**DEBIAN, "vhost_prefix": "a/b"}, "v layout.vhost_prefix: 'a/b' is not"),
    ],
)
def test_bad_layouts_are_refused(layout: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_layout(layout, "v")
    assert str(caught.value).startswith(message)
