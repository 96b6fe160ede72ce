"""nginx_token: the allowlists per kind, unchanged return values, and refusal messages."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.nginx_token import FilterModule
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import KINDS, validate_token

FILTER = FilterModule().filters()["nginx_token"]

ACCEPTED = {
    "server_name": [
        "api-calls.example.com",
        "API-Calls.Example.COM",
        "localhost",
        "*.example.com",
        "example.*",
        ".example.com",
        "_",
        "127.0.0.1",
        "[::1]",
        "[2001:db8::1]",
        "xn--bcher-kva.example",
        "a" * 63 + ".example.com",
        ".".join(["a" * 63] * 3) + "." + "b" * 61,  # 253 characters
        "1.example.com",
    ],
    "location_path": ["/", "/api/", "/api", "/api/v1/ws", "/a.b/c_d~e-f", "/x!*+,=:@", "/.well-known/", "/a..b/"],
    "header_value": ["upgrade", "https://app.example.com", "max-age=31536000", "a(b)c<d>e[f]g|h^i`j~k&l?m", "!"],
    "file_path": ["/etc/ssl/certs/api.pem", "/etc/ssl/private/api.key", "/a", "/a/b_c-d.e+f,g=h:i@j~k", "/x/../y"],
    "name": ["api-calls", "api-calls.example.com", "a", "0", "A.b_c-d", "a" * 200],
    "endpoint": ["frontend-audio", "call-events", "audio-stream", "v2/events", "a.b", "x~y_z-1", ".well-known"],
}

REJECTED = {
    "server_name": [
        "a.example.com; return 200 x",
        "a.example.com return",
        "~^(www\\.)?example\\.com$",
        "",
        "-a.example.com",
        "a-.example.com",
        "a..example.com",
        "a.example.com.",
        "www.*.example.com",
        "*.example.*",
        "*example.com",
        "a_b.example.com",
        "a" * 64 + ".example.com",
        ".".join(["a" * 63] * 4),  # 255 characters
        "999.1.1.1",
        "10.0.0",
        "[::1",
        "[fe80::1%eth0]",
        "[1.2.3.4]",
        "exämple.com",
        "a{b",
        "a}b",
        "a#b",
        "a$b",
        "a'b",
        'a"b',
        "a\\b",
        "a\tb",
        "a\nb",
    ],
    "location_path": [
        "api/",
        "",
        "/api/ { return 200 'x'; } location /x",
        "/a b",
        "/a;b",
        "/a{b",
        "/a}b",
        "/a#b",
        "/a$b",
        "/a'b",
        '/a"b',
        "/a\\b",
        "/a%20b",
        "/a?b",
        "/a//b",
        "//",
        "/./",
        "/a/../b",
        "/a/..",
        "/a/.",
        "/é",
        "~ ^/api",
        "= /api",
        "^~ /api",
        "@named",
        "/a\x00",
        "/a\x7f",
        "/a(b)",
    ],
    "header_value": ["", "a b", "a;b", "a{b", "a}b", "a#b", "$http_host", "a'b", 'a"b', "a\\b", "é", "a\r\nX-Evil: 1"],
    "file_path": ["", "/", "/etc/ssl/", "etc/ssl/a.pem", "/a b", "/a;b", "/a$b", "/a{b", "/a#b", "/a'b", "/é", "/a%b"],
    "name": ["", "-a", ".a", "_a", "a b", "a/b", "a;b", "a*b", "a" * 201, "é", "a:b"],
    "endpoint": ["", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "a b", "a;b", "a+b", "a*b", "a$", "a%20", "é"],
}


@pytest.mark.parametrize(("kind", "value"), [(k, v) for k, values in ACCEPTED.items() for v in values])
def test_accepted_unchanged(kind: str, value: str) -> None:
    assert validate_token(value, kind) is value
    assert FILTER(value, kind) == value


@pytest.mark.parametrize(("kind", "value"), [(k, v) for k, values in REJECTED.items() for v in values])
def test_rejected(kind: str, value: str) -> None:
    where = f"websocket_proxy_vhosts[0].{kind}"
    with pytest.raises(ConfigError) as caught:
        validate_token(value, kind, where)
    message = str(caught.value)
    assert message.startswith(f"{where}: {value!r} is not a valid ")
    with pytest.raises(AnsibleFilterError) as filtered:
        FILTER(value, kind, name=where)
    assert str(filtered.value) == message
    assert isinstance(filtered.value.__cause__, ConfigError)


def test_every_kind_has_cases() -> None:
    assert set(ACCEPTED) == set(KINDS) == set(REJECTED)


def test_server_name_message_names_the_syntax_character() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_token("a.example.com; return 200 x", "server_name", "websocket_proxy_vhosts[0].server_name")
    assert str(caught.value) == (
        "websocket_proxy_vhosts[0].server_name: 'a.example.com; return 200 x' is not a valid server name "
        "(a host name of letters, digits, '-' and '.', optionally with a leading '*.' or '.' or a trailing '.*'; "
        "an IPv4 address; a bracketed IPv6 address; or '_'. Regular expression names ('~...') are not supported)"
        "; ';' at position 13 is nginx syntax"
    )


def test_non_ascii_hint() -> None:
    with pytest.raises(ConfigError, match=r"'é' at position 2 is not ASCII"):
        validate_token("/aé", "location_path")


@pytest.mark.parametrize("value", [None, 1, True, ["a"], {"a": 1}, b"/api/"])
def test_non_strings(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^value: .* is not a string \("):
        validate_token(value, "location_path")


def test_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="unknown token kind 'regex'"):
        validate_token("x", "regex")
    with pytest.raises(AnsibleFilterError, match="kind must be one of server_name, location_path"):
        FILTER("x", "regex")
    with pytest.raises(AnsibleFilterError, match="name must be a string"):
        FILTER("x", "name", name=1)
