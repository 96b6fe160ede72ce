# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backends as users write them, into a checked, safe ``proxy_pass`` value.

Accepted forms::

    host:port                     localhost:5006, calls-backend:5006, 127.0.0.1:5006, [::1]:5006
    host:port/uri                 localhost:5006/base/
    scheme://host[:port][/uri]    http://calls-backend:5006, https://10.0.0.5:8443/base/, ws://..., wss://...
    unix:/path[:/uri]             unix:/run/app.sock, unix:/run/app.sock:/base/
    scheme://unix:/path[:[/uri]]  http://unix:/run/app.sock:, https://unix:/run/app.sock:/base/

``ws``/``wss`` map to ``http``/``https`` (proxy_pass has no ws:// scheme; the upgrade is a header).
A port is required without a scheme; with a scheme it may be left out, and then proxy_pass is
written without one (nginx uses 80/443), which also lets the host name an ``upstream {}`` block.

The URI part: with ``location /api/ { proxy_pass http://b:5006/base/; }`` nginx replaces the
matched location prefix by the URI part, so ``/api/x`` reaches the backend as ``/base/x``;
without a URI part the request URI is passed unchanged (``/api/x``). In a regex location nginx
refuses any URI part, even a lone ``/``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import syntax_hint

SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
DEFAULT_PORTS = {"http": 80, "https": 443}

#: sun_path is 108 bytes on Linux, including the terminating NUL; nginx refuses longer paths.
UNIX_PATH_MAX = 107

ACCEPTED = (
    "host:port, scheme://host[:port][/path], unix:/path/to.sock or scheme://unix:/path/to.sock[:/path]; "
    "scheme http, https, ws or wss; host a DNS name, an IPv4 address or a bracketed IPv6 address; "
    "port 1-65535; path made of letters, digits, %XX and ._~!*+,=:@/-"
)

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_DNS_LABEL_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_URI_RE = re.compile(r"/(?:[A-Za-z0-9._~!*+,=:@/-]|%[0-9A-Fa-f]{2})*")
_SOCKET_RE = re.compile(r"/[A-Za-z0-9._~+,=@/-]*")
_PORT_RE = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True)
class ProxyTarget:
    """A parsed backend. ``host``/``port`` are None for a unix socket, ``unix_path`` otherwise."""

    scheme: str
    host: str | None
    port: int | None
    explicit_port: bool
    uri: str
    unix_path: str | None

    @property
    def address(self) -> str:
        """What an ``upstream {}`` block's ``server`` line takes: host:port, [v6]:port or unix:/path."""
        if self.unix_path is not None:
            return f"unix:{self.unix_path}"
        host = f"[{self.host}]" if self.host is not None and ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def proxy_pass(self) -> str:
        if self.unix_path is not None:
            return f"{self.scheme}://unix:{self.unix_path}" + (f":{self.uri}" if self.uri else "")
        host = f"[{self.host}]" if self.host is not None and ":" in self.host else self.host
        port = f":{self.port}" if self.explicit_port else ""
        return f"{self.scheme}://{host}{port}{self.uri}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "host": self.host,
            "port": self.port,
            "explicit_port": self.explicit_port,
            "uri": self.uri,
            "unix_path": self.unix_path,
            "address": self.address,
            "proxy_pass": self.proxy_pass,
        }


def _fail(name: str, value: str, why: str) -> ConfigError:
    return ConfigError(f"{name}: {value!r} {why} ({ACCEPTED}){syntax_hint(value)}")


def _host(text: str, name: str, value: str) -> str:
    if text.startswith("["):
        inner = text[1:-1] if text.endswith("]") else ""
        if not inner or "%" in inner or not re.fullmatch(r"[0-9A-Fa-f:.]+", inner):
            raise _fail(name, value, f"has an invalid IPv6 address {text!r}")
        try:
            return ipaddress.IPv6Address(inner).compressed
        except ValueError:
            raise _fail(name, value, f"has an invalid IPv6 address {text!r}") from None
    if not text:
        raise _fail(name, value, "has no host")
    if ":" in text:
        raise _fail(name, value, "has an IPv6 address without brackets; write it as [addr]:port")
    if text.lower() == "unix":
        raise _fail(name, value, "uses 'unix' as a host name, which nginx reads as a unix socket")
    if len(text) > 253:
        raise _fail(name, value, f"has a host name longer than 253 characters {text[:20]!r}...")
    labels = text.split(".")
    if not all(_DNS_LABEL_RE.fullmatch(label) for label in labels):
        raise _fail(name, value, f"has an invalid host {text!r}")
    if all(label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise _fail(name, value, f"has an invalid IPv4 address {text!r}") from None
    return text


def _port(text: str, name: str, value: str) -> int:
    if not _PORT_RE.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise _fail(name, value, f"has an invalid port {text!r} (1-65535)")
    return int(text)


def _uri(text: str, name: str, value: str, allow_uri: bool) -> str:
    if not text:
        return ""
    if not _URI_RE.fullmatch(text):
        raise _fail(name, value, f"has an invalid URI part {text!r}")
    if not allow_uri:
        raise ConfigError(
            f"{name}: {value!r} has a URI part {text!r}, but this backend serves a regex location, where nginx "
            f'refuses one ("proxy_pass" cannot have URI part in location given by regular expression); '
            f"give the backend without a path, e.g. 'http://host:port'"
        )
    return text


def _unix(rest: str, scheme: str, name: str, value: str, allow_uri: bool) -> ProxyTarget:
    path, colon, uri = rest.partition(":")
    if not _SOCKET_RE.fullmatch(path) or path == "/" or path.endswith("/"):
        raise _fail(name, value, f"has an invalid unix socket path {path!r} (an absolute file path)")
    if len(path) > UNIX_PATH_MAX:
        raise _fail(name, value, f"has a unix socket path longer than {UNIX_PATH_MAX} characters")
    if colon and uri and not uri.startswith("/"):
        raise _fail(name, value, f"has an invalid URI part {uri!r} after the socket path")
    return ProxyTarget(scheme, None, None, False, _uri(uri, name, value, allow_uri), path)


def parse_proxy_target(value: object, name: str = "backend", allow_uri: bool = True) -> ProxyTarget:
    """Parse and check a backend; see the module docstring for the accepted forms."""
    if not isinstance(value, str):
        raise ConfigError(f"{name}: {value!r} is not a string ({ACCEPTED})")
    if not value:
        raise ConfigError(f"{name}: {value!r} is empty ({ACCEPTED})")
    if any(not c.isascii() or c in " \t\r\n\f\v;{}#\"'\\$" or ord(c) < 32 or c == "\x7f" for c in value):
        raise _fail(name, value, "is not a valid backend")

    match = _SCHEME_RE.match(value)
    if match:
        given = match.group(1)
        scheme = SCHEMES.get(given.lower())
        if scheme is None:
            raise _fail(name, value, f"has the scheme {given!r}; only http, https, ws and wss are supported")
        rest = value[match.end() :]
        if rest[:5].lower() == "unix:":
            return _unix(rest[5:], scheme, name, value, allow_uri)
        explicit_scheme = True
    else:
        if "://" in value or value.startswith("/"):
            raise _fail(name, value, "is not a valid backend")
        if value[:5].lower() == "unix:":
            return _unix(value[5:], "http", name, value, allow_uri)
        scheme = "http"
        rest = value
        explicit_scheme = False

    authority, slash, path = rest.partition("/")
    uri = slash + path
    if "@" in authority:
        raise _fail(name, value, "has user information ('user@'), which proxy_pass does not take")
    if "?" in rest:
        raise _fail(name, value, "has a query string, which this role does not pass to proxy_pass")
    if authority.startswith("["):
        close = authority.find("]")
        host_text = authority[: close + 1] if close >= 0 else authority
        after = authority[len(host_text) :]
        if after and not after.startswith(":"):
            raise _fail(name, value, f"has junk after the IPv6 address {after!r}")
        port_text = after[1:] if after else None
    else:
        if authority.count(":") > 1:
            raise _fail(name, value, "has an IPv6 address without brackets; write it as [addr]:port")
        host_text, colon, port_text_raw = authority.partition(":")
        port_text = port_text_raw if colon else None
    host = _host(host_text, name, value)
    if port_text is None:
        if not explicit_scheme:
            raise _fail(name, value, "has no port; without a scheme give host:port, e.g. 'localhost:5006'")
        port = DEFAULT_PORTS[scheme]
        explicit = False
    else:
        port = _port(port_text, name, value)
        explicit = True
    return ProxyTarget(scheme, host, port, explicit, _uri(uri, name, value, allow_uri), None)


def proxy_target(value: object, name: str = "backend", allow_uri: bool = True) -> str:
    """Return the safe ``proxy_pass`` value for a backend."""
    return parse_proxy_target(value, name, allow_uri).proxy_pass
