"""parse_origin and nginx_size: the allowlists for allowed_origins and client_max_body_size."""

from __future__ import annotations

import pytest
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import Origin, nginx_size, parse_origin

W = "websocket_proxy_vhosts[0].locations[0].allowed_origins[0]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://app.example.com", Origin("https", "app.example.com", None, False)),
        ("HTTPS://App.Example.COM", Origin("https", "app.example.com", None, False)),
        ("https://app.example.com:443", Origin("https", "app.example.com", None, False)),  # browsers drop it
        ("http://app.example.com:80", Origin("http", "app.example.com", None, False)),
        ("http://app.example.com:443", Origin("http", "app.example.com", 443, False)),
        ("https://app.example.com:8443", Origin("https", "app.example.com", 8443, False)),
        ("http://localhost:3000", Origin("http", "localhost", 3000, False)),
        ("http://10.0.0.1:8080", Origin("http", "10.0.0.1", 8080, False)),
        ("https://*.example.com", Origin("https", "example.com", None, True)),
        ("https://*.apps.example.co.uk:8443", Origin("https", "apps.example.co.uk", 8443, True)),
        ("https://xn--bcher-kva.example", Origin("https", "xn--bcher-kva.example", None, False)),
    ],
)
def test_accepted_origins_are_normalised_as_browsers_send_them(value: str, expected: Origin) -> None:
    assert parse_origin(value, W) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        # injection: everything nginx would read as syntax, in a map key or anywhere
        ('https://a.example.com" 0; } server { listen 81; #', "is not an origin"),
        ("https://a.example.com;", "is not an origin"),
        ("https://a.example.com 0", "is not an origin"),
        ("https://a.example.com\n", "is not an origin"),
        ("https://a.example.com}", "is not an origin"),
        ("https://a.example.com#", "is not an origin"),
        ("https://$host", "is not an origin"),
        ("https://a.example.com\\", "is not an origin"),
        ("https://a.example.com'", "is not an origin"),
        ("https://a.example.com|x", "is not an origin"),
        ("https://a.(example).com", "is not an origin"),
        ("~^https://.*$", "is not an origin"),
        # regex characters a wildcard could smuggle
        ("https://*.example.com.*", "is not an origin"),
        ("https://a*.example.com", "is not an origin"),
        ("https://*.*.example.com", "is not an origin"),
        ("https://*", "is not an origin"),
        ("*", "is not an origin"),
        # not an origin at all
        ("https://a.example.com/", "is not an origin"),
        ("https://a.example.com/app", "is not an origin"),
        ("https://a.example.com?x=1", "is not an origin"),
        ("https://user@a.example.com", "is not an origin"),
        ("a.example.com", "is not an origin"),
        ("//a.example.com", "is not an origin"),
        ("null", "is not an origin"),
        ("", "is not an origin"),
        ("https://[::1]", "is not an origin"),
        ("https://é.example.com", "is not an origin"),
        # wrong parts
        ("ftp://a.example.com", "has the scheme 'ftp', not http or https"),
        ("wss://a.example.com", "has the scheme 'wss', not http or https"),
        ("https://a..example.com", "has no valid host name"),
        ("https://-a.example.com", "has no valid host name"),
        ("https://a.example.com.", "has no valid host name"),
        ("https://999.0.0.1", "has no valid host name or IPv4 address"),
        ("https://a.example.com:0", "has the port 0, not 1-65535"),
        ("https://a.example.com:65536", "has the port 65536, not 1-65535"),
        ("https://a.example.com:123456", "is not an origin"),
        # wildcards that would allow anyone's pages
        ("https://*.com", "is a wildcard over a top-level domain or an address"),
        ("https://*.10.0.0.1", "is a wildcard over a top-level domain or an address"),
    ],
)
def test_rejected_origins_name_the_variable_the_value_and_what_is_accepted(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_origin(value, W)
    message = str(caught.value)
    assert message.startswith(f"{W}: {value!r} {problem}")
    assert "(an origin 'scheme://host' or 'scheme://host:port' with scheme http or https" in message


def test_syntax_characters_are_named() -> None:
    with pytest.raises(ConfigError, match=r"';' at position 21 is nginx syntax$"):
        parse_origin("https://a.example.com;", W)


@pytest.mark.parametrize("value", [None, 1, True, ["https://a.example.com"], {"origin": "x"}, b"https://a.b.c"])
def test_origins_must_be_strings(value: object) -> None:
    with pytest.raises(ConfigError, match=rf"^{W.replace('[', '.').replace(']', '.')}: .* is not a string \(an origin"):
        parse_origin(value, W)


@pytest.mark.parametrize(
    ("allowed", "header", "verdict"),
    [
        ("https://app.example.com", "https://app.example.com", True),
        ("https://app.example.com", "HTTPS://APP.EXAMPLE.COM", True),
        ("https://app.example.com", "http://app.example.com", False),
        ("https://app.example.com", "https://app.example.com:443", False),  # browsers never send a default port
        ("https://app.example.com", "https://app.example.com.evil.net", False),
        ("https://app.example.com", "https://evil-app.example.com", False),
        ("https://app.example.com", "null", False),
        ("https://*.example.com", "https://a.example.com", True),
        ("https://*.example.com", "https://a.b.example.com", True),
        ("https://*.example.com", "https://example.com", False),
        ("https://*.example.com", "https://evilexample.com", False),
        ("https://*.example.com", "https://a.example.com.evil.net", False),
        ("https://*.example.com", "https://a.example.com:8443", False),
        ("https://*.example.com", "http://a.example.com", False),
        ("https://*.example.com:8443", "https://a.example.com:8443", True),
        ("https://*.example.com:8443", "https://a.example.com", False),
    ],
)
def test_what_an_allowed_origin_allows(allowed: str, header: str, verdict: bool) -> None:
    assert parse_origin(allowed).allows(header) is verdict


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1m", "1m"), ("1M", "1m"), ("512k", "512k"), ("2G", "2g"), (0, "0"), ("0", "0"), (1024, "1024"),
     ("007m", "7m"), (999_999_999, "999999999")],
)
def test_sizes(value: object, expected: str) -> None:
    assert nginx_size(value, "websocket_proxy_client_max_body_size") == expected


@pytest.mark.parametrize(
    "value",
    ["1m; return 200 x", "1m;", "1 m", "1mb", "1t", "-1", "1.5m", "", "m", "1m\n", "0\n    autoindex on", "$size",
     "1m}", "1000000000", 1_000_000_000, -1, True, None, 1.5, ["1m"]],
)
def test_rejected_sizes(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        nginx_size(value, "websocket_proxy_client_max_body_size")
    assert str(caught.value).startswith(f"websocket_proxy_client_max_body_size: {value!r} is not a size (a size nginx")
