"""location_match: nginx's selection rules, the auto-redirect rule, PCRE translation, routing_problems."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.location_match import FilterModule
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import (
    location_match,
    match_location,
    routing_problems,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.pcre import compile_pcre, pcre_to_python

FILTER = FilterModule().filters()["location_match"]


def loc(modifier: str, path: str, **extra: object) -> dict[str, object]:
    return {"modifier": modifier, "path": path, **extra}


def pick(locations: list[dict[str, object]], uri: str) -> int | None:
    found = location_match(locations, uri)
    assert FILTER(locations, uri) is found
    return None if found is None else next(i for i, item in enumerate(locations) if item is found)


def test_returns_the_same_object() -> None:
    locations = [loc("", "/")]
    assert location_match(locations, "/x") is locations[0]


def test_exact_wins_at_once() -> None:
    locations = [loc("~", "^/a"), loc("=", "/a"), loc("", "/a")]
    assert pick(locations, "/a") == 1
    assert pick(locations, "/ab") == 0  # '=' is not a prefix; the regex beats the plain prefix


def test_longest_prefix_whatever_the_order() -> None:
    locations = [loc("", "/"), loc("", "/api/v1/"), loc("", "/api/")]
    assert pick(locations, "/api/v1/x") == 1
    assert pick(locations, "/api/v2") == 2
    assert pick(locations, "/other") == 0


def test_regex_beats_plain_prefix_and_first_regex_wins() -> None:
    locations = [loc("", "/api/"), loc("~", "^/api/(?:frontend-audio)(?:/|$)"), loc("~", "^/api/")]
    assert pick(locations, "/api/frontend-audio") == 1
    assert pick(locations, "/api/other") == 2
    locations.reverse()
    assert pick(locations, "/api/frontend-audio") == 0


def test_caret_tilde_stops_the_regex_search() -> None:
    locations = [loc("^~", "/static/"), loc("~*", r"\.png$"), loc("", "/static/img/")]
    assert pick(locations, "/static/a.png") == 0
    # the longest prefix is the plain /static/img/, so regexes are tried again
    assert pick(locations, "/static/img/a.PNG") == 1
    assert pick(locations, "/static/img/a.txt") == 2


def test_caret_tilde_only_when_it_is_the_longest() -> None:
    locations = [loc("^~", "/a"), loc("", "/ab"), loc("~", "b")]
    assert pick(locations, "/abc") == 2
    assert pick(locations, "/ac") == 0


def test_case_sensitivity() -> None:
    locations = [loc("~", "^/API"), loc("~*", "^/Media"), loc("", "/api")]
    assert pick(locations, "/API") == 0
    assert pick(locations, "/api") == 2  # prefixes are case-sensitive
    assert pick(locations, "/MEDIA/x") == 1
    assert pick(locations, "/Api") is None


def test_no_match() -> None:
    assert pick([loc("", "/api/"), loc("=", "/x")], "/x/") is None
    assert pick([], "/") is None


def test_auto_redirect_for_proxied_locations() -> None:
    locations = [loc("", "/ap"), loc("", "/api/", proxy_pass="http://b"), loc("~", "^/api")]
    found = match_location(locations, "/api")
    assert found is not None and (found.index, found.kind) == (1, "redirect")
    assert pick(locations, "/api/") == 2
    # without proxy_pass there is no redirect: the regex wins
    assert pick([loc("", "/ap"), loc("", "/api/"), loc("~", "^/api")], "/api") == 2
    # an explicit flag overrides the proxy_pass inference
    assert pick([loc("", "/api/", proxy_pass="x", auto_redirect=False), loc("~", "^/api")], "/api") == 1
    assert pick([loc("", "/api/", auto_redirect=True), loc("~", "^/api")], "/api") == 0
    # a location equal to the URI is found first
    assert pick([loc("", "/api"), loc("", "/api/", proxy_pass="x"), loc("~", "^/api")], "/api") == 2
    assert pick([loc("=", "/api"), loc("", "/api/", proxy_pass="x")], "/api") == 0
    # exact and inclusive with the same name: the exact one redirects
    assert pick([loc("", "/api/", proxy_pass="x"), loc("=", "/api/", proxy_pass="y")], "/api") == 1


def test_auto_redirect_needs_a_trailing_slash() -> None:
    assert pick([loc("", "/apix", proxy_pass="x"), loc("~", "^/api")], "/api") == 1


def test_pcre_translation() -> None:
    assert pcre_to_python(r"^/(?<name>x)\z") == r"^/(?P<name>x)\Z"
    assert pcre_to_python(r"^/(?'n'x)") == r"^/(?P<n>x)"
    assert pcre_to_python(r"a\Z") == r"a(?=\n?\Z)"
    assert pcre_to_python(r"[[:alpha:][:digit:]_]") == r"[a-zA-Z0-9_]"
    assert pcre_to_python(r"a(?i)b|c") == "a(?i:b)|(?i:c)"
    assert pcre_to_python(r"(a(?i)b)c") == "(a(?i:b))c"
    assert pcre_to_python(r"\x41\x{42}\x4") == r"\x41\x42\x04"
    assert pcre_to_python(r"x{,3}") == r"x\{,3\}"
    assert pcre_to_python(r"x{2,3}+y*?") == "x{2,3}+y*?"
    assert pcre_to_python(r"\Qa.b\E") == r"a\.b"
    assert pcre_to_python("(?#comment)a") == "a"
    assert pcre_to_python(r"[a&&b]") == r"[a\&\&b]"


@pytest.mark.parametrize(
    ("pattern", "caseless", "subject", "matches"),
    [
        (r"\.php$", False, "/x.php", True),
        (r"\.php$", False, "/x.PHP", False),
        (r"\.php$", True, "/x.PHP", True),
        (r"^/a(?i)b", False, "/aB", True),
        (r"^/a(?i)b", False, "/AB", False),
        (r"^/\w+$", False, "/é", False),  # \w is ASCII in PCRE's non-UTF mode
        (r"^/.$", False, "/é", False),  # '.' is one byte; é is two
        (r"^/..$", False, "/é", True),
        (r"^/[[:digit:]]+\z", False, "/123", True),
        (r"^/(a)\1$", False, "/aa", True),
    ],
)
def test_pcre_semantics(pattern: str, caseless: bool, subject: str, matches: bool) -> None:
    assert bool(compile_pcre(pattern, caseless).search(subject.encode())) is matches


@pytest.mark.parametrize(
    "pattern",
    [r"\p{L}", r"a\K", r"(?R)", r"(?|a)", r"(?(1)a|b)", r"(*UTF)a", r"(?x) a", r"\x{100}", r"\12", r"[[:^alpha:]]"],
)
def test_unsupported_pcre_is_refused(pattern: str) -> None:
    with pytest.raises(ConfigError, match="is not supported by location_match"):
        pcre_to_python(pattern)
    with pytest.raises(AnsibleFilterError, match=re.escape(f"locations[0].path: regex {pattern!r}")):
        FILTER([loc("~", pattern)], "/")


@pytest.mark.parametrize(
    ("locations", "uri", "reason"),
    [
        ("/api/", "/", "locations: '/api/' is not a list of locations"),
        ([["/api/"]], "/", "locations[0]: ['/api/'] is not a dict"),
        ([loc("!", "/x")], "/", "locations[0].modifier: '!' is not one of"),
        ([{"modifier": ""}], "/", "locations[0].path: None is not a non-empty string"),
        ([loc("~", "(")], "/", "locations[0].path: regex '(': an unclosed group"),
        ([loc("~", "[a")], "/", "an unterminated character class"),
        ([loc("", "/a"), loc("", "/a")], "/", "locations[1]: duplicate location '/a' (also locations[0])"),
        ([loc("", "/a"), loc("^~", "/a")], "/", "duplicate location '^~ /a'"),
        ([loc("", "/")], "x", "uri: 'x' is not a URI path"),
        ([loc("", "/")], None, "uri: None is not a URI path"),
    ],
)
def test_rejected(locations: object, uri: object, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        location_match(locations, uri)
    assert reason in str(caught.value)
    with pytest.raises(AnsibleFilterError) as filtered:
        FILTER(locations, uri)
    assert str(filtered.value) == str(caught.value)


def test_exact_and_prefix_with_the_same_path_are_fine() -> None:
    assert pick([loc("", "/a"), loc("=", "/a")], "/a") == 1
    assert pick([loc("", "/a"), loc("=", "/a")], "/ab") == 0


def test_routing_problems() -> None:
    where = "websocket_proxy_vhosts[0].locations"
    locations = [
        loc("", "/api/", websocket=False, source=f"{where}[0]"),
        loc("~", "^/api/(?:frontend-audio)(?:/|$)", websocket=True, source=f"{where}[1]"),
        loc("~", "^/api/", websocket=False, source=f"{where}[2]"),
        loc("", "/ws/", websocket=True, proxy_pass="http://b"),
    ]
    checks = [("/api/frontend-audio", True), ("/api/call-events", True), ("/ws/x", True), ("/nothing", True)]
    assert routing_problems(locations, checks, where) == [
        f"{where}: /api/call-events is served by location '~ ^/api/' ({where}[2]), which is not WebSocket-capable",
        f"{where}: /nothing is not served by any location",
    ]
    assert routing_problems(locations, [("/ws", True)], where) == [
        f"{where}: /ws is redirected (301 to add the trailing '/') by location '/ws/' ({where}[3]), "
        f"which is not WebSocket-capable"
    ]
    assert routing_problems(locations, [("/ws/x", False)], where) == [
        f"{where}: /ws/x is served by location '/ws/' ({where}[3]), which is a WebSocket location, "
        f"but a plain one was expected"
    ]
    assert routing_problems(locations, [("/api/frontend-audio/x", True), ("/api/", False)], where) == []


def test_filter_checks_its_arguments() -> None:
    with pytest.raises(AnsibleFilterError, match="name must be a string"):
        FILTER([], "/", name=5)
