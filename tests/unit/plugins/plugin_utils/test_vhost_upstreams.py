"""plugin_utils.vhosts helpers for upstreams and resolvers: the promises the normalisers build on.

- Upstream names from different vhost (or snippet) names never collide in nginx's case-insensitive upstream
  namespace unless the names differ only in characters that become '_' (which websocket_vhosts refuses), and a
  vhost's upstream never starts like a snippet's.
- A resolver address is one nginx token that the resolver directive reads as an address, never a parameter.
- The URI part read back from a proxy_pass value is the one the backend was given.
"""

from __future__ import annotations

import re

import pytest
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import parse_proxy_target
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import NGINX_SYNTAX, is_name
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import (
    _uri_part,
    assign_upstreams,
    is_resolver_address,
    upstream_base,
)
from hypothesis import given, settings
from hypothesis import strategies as st

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
    assert _uri_part(target.proxy_pass) == target.uri


def test_assign_upstreams_numbers_in_order_of_first_use() -> None:
    locations = [
        {"source": "s[0]", "proxy_pass": "http://b:1/x/", "_servers": ["b:1"]},
        {"source": "s[1]", "proxy_pass": "http://c:1", "_servers": None},
        {"source": "s[2]", "proxy_pass": "http://c:1", "_servers": ["c:1", "b:1"]},
        {"source": "s[3]", "proxy_pass": "http://b:1", "_servers": ["B:1"]},
    ]
    upstreams = assign_upstreams(locations, "wsproxy_t", 8)
    assert upstreams == [
        {"name": "wsproxy_t_1", "servers": ["b:1"], "keepalive": 8, "source": "s[0].backend"},
        {"name": "wsproxy_t_2", "servers": ["c:1", "b:1"], "keepalive": 8, "source": "s[2].backend"},
    ]
    assert [(loc["proxy_pass"], loc["upstream"]) for loc in locations] == [
        ("http://wsproxy_t_1/x/", "wsproxy_t_1"),
        ("http://c:1", None),
        ("http://wsproxy_t_2", "wsproxy_t_2"),
        ("http://wsproxy_t_1", "wsproxy_t_1"),
    ]
    assert all("_servers" not in loc for loc in locations)
