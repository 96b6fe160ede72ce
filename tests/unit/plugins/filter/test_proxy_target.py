"""proxy_target: backend forms into proxy_pass values; the structured value; refusals and messages."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.proxy_target import FilterModule
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import parse_proxy_target, proxy_target

FILTER = FilterModule().filters()["proxy_target"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("localhost:5006", "http://localhost:5006"),
        ("calls-backend:5006", "http://calls-backend:5006"),
        ("v25_dash_calls_backend:5006", "http://v25_dash_calls_backend:5006"),
        ("127.0.0.1:5006", "http://127.0.0.1:5006"),
        ("[::1]:5006", "http://[::1]:5006"),
        ("[2001:DB8:0:0:0:0:0:1]:80", "http://[2001:db8::1]:80"),
        ("localhost:5006/base/", "http://localhost:5006/base/"),
        ("http://calls-backend:5006", "http://calls-backend:5006"),
        ("HTTP://calls-backend:5006", "http://calls-backend:5006"),
        ("http://calls-backend", "http://calls-backend"),
        ("https://10.0.0.5:8443/base/", "https://10.0.0.5:8443/base/"),
        ("https://10.0.0.5/", "https://10.0.0.5/"),
        ("ws://calls-backend:5006", "http://calls-backend:5006"),
        ("wss://calls-backend", "https://calls-backend"),
        ("http://b:1/a%20b/~x.y_z-!*+,=:@/", "http://b:1/a%20b/~x.y_z-!*+,=:@/"),
        ("unix:/run/app.sock", "http://unix:/run/app.sock"),
        ("unix:/run/app.sock:/base/", "http://unix:/run/app.sock:/base/"),
        ("http://unix:/run/app.sock:", "http://unix:/run/app.sock"),
        ("http://unix:/run/app.sock", "http://unix:/run/app.sock"),
        ("https://unix:/run/app.sock:/x", "https://unix:/run/app.sock:/x"),
        ("localhost:65535", "http://localhost:65535"),
        ("localhost:1", "http://localhost:1"),
    ],
)
def test_accepted(value: str, expected: str) -> None:
    assert proxy_target(value) == expected
    assert FILTER(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("localhost", "has no port; without a scheme give host:port"),
        ("localhost:0", "has an invalid port '0'"),
        ("localhost:65536", "has an invalid port '65536'"),
        ("localhost:http", "has an invalid port 'http'"),
        ("localhost:", "has an invalid port ''"),
        ("ftp://b:21", "has the scheme 'ftp'; only http, https, ws and wss are supported"),
        ("grpc://b:21", "has the scheme 'grpc'"),
        ("::1:5006", "IPv6 address without brackets"),
        ("[::1:5006", "has an invalid IPv6 address"),
        ("[fe80::1%eth0]:80", "has an invalid IPv6 address"),
        ("[1.2.3.4]:80", "has an invalid IPv6 address"),
        ("999.1.1.1:80", "has an invalid IPv4 address"),
        ("10.0.0:80", "has an invalid IPv4 address"),
        ("-bad-:80", "has an invalid host '-bad-'"),
        ("a..b:80", "has an invalid host 'a..b'"),
        ("unix:80", "has an invalid unix socket path"),
        ("http://unix:80", "has an invalid unix socket path"),
        ("http://unix", "uses 'unix' as a host name"),
        ("unix:/run/", "has an invalid unix socket path"),
        ("unix:relative.sock", "has an invalid unix socket path"),
        ("unix:/run/app.sock:base", "has an invalid URI part 'base'"),
        ("unix:/" + "a" * 107, "longer than 107 characters"),
        ("http://user@b:80", "has user information"),
        ("http://b:80/x?y=1", "has a query string"),
        ("http://b:80/a b", "is not a valid backend"),
        ("http://b:80/x;return 200", "is not a valid backend"),
        ("http://b:80/$uri", "is not a valid backend"),
        ("http://b:80/{x}", "is not a valid backend"),
        ("http://b:80/x'y", "is not a valid backend"),
        ('http://b:80/x"y', "is not a valid backend"),
        ("http://b:80/x#y", "is not a valid backend"),
        ("http://b:80/x\\y", "is not a valid backend"),
        ("http://b:80/é", "is not a valid backend"),
        ("http://b:80/a%zz", "has an invalid URI part"),
        ("http://b:80/a%", "has an invalid URI part"),
        ("http://b:80/a<b", "has an invalid URI part"),
        ("http://:80", "has no host"),
        ("/run/app.sock", "is not a valid backend"),
        ("b:80://x", "is not a valid backend"),
        ("", "is empty"),
    ],
)
def test_rejected(value: str, reason: str) -> None:
    where = "websocket_proxy_vhosts[0].locations[1].backend"
    with pytest.raises(ConfigError) as caught:
        proxy_target(value, name=where)
    message = str(caught.value)
    assert message.startswith(f"{where}: {value!r} ")
    assert reason in message
    assert "host:port, scheme://host[:port][/path]" in message  # what would be accepted
    with pytest.raises(AnsibleFilterError) as filtered:
        FILTER(value, name=where)
    assert str(filtered.value) == message
    assert isinstance(filtered.value.__cause__, ConfigError)


@pytest.mark.parametrize("value", [None, 5006, True, ["localhost:5006"], {"host": "b"}])
def test_rejects_non_strings(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^backend: .* is not a string"):
        proxy_target(value)


@pytest.mark.parametrize(
    "value",
    ["http://b:5006/", "http://b:5006/base", "localhost:5006/", "unix:/run/app.sock:/", "https://unix:/s.sock:/x/"],
)
def test_allow_uri_false_refuses_any_uri_part(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        proxy_target(value, name="websocket_proxy_vhosts[0].locations[0].backend", allow_uri=False)
    message = str(caught.value)
    assert message.startswith(f"websocket_proxy_vhosts[0].locations[0].backend: {value!r} has a URI part")
    assert "cannot have URI part in location given by regular expression" in message
    assert "give the backend without a path" in message
    with pytest.raises(AnsibleFilterError, match="has a URI part"):
        FILTER(value, allow_uri=False)


@pytest.mark.parametrize(
    "value", ["http://b:5006", "localhost:5006", "unix:/run/app.sock", "http://unix:/run/app.sock:", "wss://b"]
)
def test_allow_uri_false_accepts_no_uri(value: str) -> None:
    assert proxy_target(value, allow_uri=False) == proxy_target(value)
    assert FILTER(value, allow_uri=False) == proxy_target(value)


def test_structured_value() -> None:
    assert parse_proxy_target("https://10.0.0.5:8443/base/").to_dict() == {
        "scheme": "https",
        "host": "10.0.0.5",
        "port": 8443,
        "explicit_port": True,
        "uri": "/base/",
        "unix_path": None,
        "address": "10.0.0.5:8443",
        "proxy_pass": "https://10.0.0.5:8443/base/",
    }
    default_port = parse_proxy_target("wss://calls-backend")
    assert (default_port.scheme, default_port.port, default_port.explicit_port) == ("https", 443, False)
    assert default_port.address == "calls-backend:443"
    assert default_port.proxy_pass == "https://calls-backend"
    ipv6 = parse_proxy_target("[::1]:5006")
    assert (ipv6.host, ipv6.address) == ("::1", "[::1]:5006")
    unix = parse_proxy_target("unix:/run/app.sock:/base/")
    assert (unix.host, unix.port, unix.unix_path, unix.uri) == (None, None, "/run/app.sock", "/base/")
    assert unix.address == "unix:/run/app.sock"


def test_filter_checks_its_arguments() -> None:
    with pytest.raises(AnsibleFilterError, match="name must be a string"):
        FILTER("localhost:5006", name=None)
    with pytest.raises(AnsibleFilterError, match="allow_uri must be a boolean"):
        FILTER("localhost:5006", allow_uri="no")
