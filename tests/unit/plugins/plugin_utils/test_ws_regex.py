"""ws_regex.ws_path_regex: anchored, escaped regexes; what they match (through location_match's PCRE); refusals."""

from __future__ import annotations

import pytest
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.pcre import compile_pcre
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.ws_regex import ws_path_regex

SEED = ["frontend-audio", "call-events", "audio-stream"]


def test_seed_endpoints() -> None:
    expected = "^/api/(?:frontend-audio|call-events|audio-stream)(?:/|$)"
    assert ws_path_regex(SEED) == expected
    assert ws_path_regex(SEED, "/api/") == expected
    assert ws_path_regex(SEED, "/api") == expected


@pytest.mark.parametrize(
    ("endpoints", "prefix", "expected"),
    [
        (["a.b"], "/api/", r"^/api/(?:a\.b)(?:/|$)"),
        (["v2/events"], "/ws/", "^/ws/(?:v2/events)(?:/|$)"),
        (["x"], "/", "^/(?:x)(?:/|$)"),
        (["x"], "/a.b+c*d/", r"^/a\.b\+c\*d/(?:x)(?:/|$)"),
        (["x~y_z-1"], "/p:q@r!s,t=u/", "^/p:q@r!s,t=u/(?:x~y_z-1)(?:/|$)"),
    ],
)
def test_escaping(endpoints: list[str], prefix: str, expected: str) -> None:
    assert ws_path_regex(endpoints, prefix) == expected


@pytest.mark.parametrize(
    ("uri", "matches"),
    [
        ("/api/frontend-audio", True),
        ("/api/frontend-audio/", True),
        ("/api/frontend-audio/x", True),
        ("/api/call-events", True),
        ("/api/audio-stream", True),
        ("/api/frontend-audiox", False),
        ("/api/x/frontend-audio", False),
        ("/api/", False),
        ("/api/frontend", False),
        ("/API/frontend-audio", False),
        ("/x/api/frontend-audio", False),
        ("/apix/frontend-audio", False),
    ],
)
def test_what_the_seed_regex_matches(uri: str, matches: bool) -> None:
    regex = compile_pcre(ws_path_regex(SEED), caseless=False)
    assert bool(regex.search(uri.encode())) is matches


def test_dot_is_literal() -> None:
    regex = compile_pcre(ws_path_regex(["a.b"]), caseless=False)
    assert regex.search(b"/api/a.b")
    assert not regex.search(b"/api/axb")


@pytest.mark.parametrize(
    ("endpoints", "reason"),
    [
        ([], "the list is empty"),
        ("frontend-audio", "is not a list of endpoint names"),
        (None, "is not a list of endpoint names"),
        (["a", "a"], "websocket_endpoints[1]: 'a' is already listed as websocket_endpoints[0]"),
        (["a|b"], "websocket_endpoints[0]: 'a|b' is not a valid WebSocket endpoint name"),
        (["(a)"], "is not a valid WebSocket endpoint name"),
        (["a$"], "is not a valid WebSocket endpoint name"),
        (["a b"], "is not a valid WebSocket endpoint name"),
        (["/a"], "is not a valid WebSocket endpoint name"),
        (["a/"], "is not a valid WebSocket endpoint name"),
        (["a", ".."], "websocket_endpoints[1]: '..' is not a valid WebSocket endpoint name"),
        ([1], "websocket_endpoints[0]: 1 is not a string"),
    ],
)
def test_rejected_endpoints(endpoints: object, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ws_path_regex(endpoints)
    assert reason in str(caught.value)
    assert str(caught.value).startswith("websocket_endpoints")


@pytest.mark.parametrize("prefix", ["api/", "/a b/", "/a;b/", "/a//b/", "", None, "/a(b)/"])
def test_rejected_prefix(prefix: object) -> None:
    with pytest.raises(ConfigError, match=r"^loc\.websocket_endpoints \(prefix\): .* is not"):
        ws_path_regex(["x"], prefix, "loc.websocket_endpoints")
