# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Allowlist validators for user strings that land, unquoted, in an nginx config.

nginx splits a directive into tokens at whitespace and ``;``/``{``; a token starting with a
quote is a quoted string, ``#`` starts a comment, ``}`` closes a block, ``\\`` escapes and ``$``
starts a variable. A value made only of the characters below can therefore never be more than
one token, never end the directive early, and never open or close a block. Each kind narrows
the characters further to what makes sense where the value is used.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError

#: Characters nginx's tokenizer treats as syntax somewhere in a token, and the ASCII controls.
NGINX_SYNTAX = frozenset(" \t\r\n\f\v;{}#\"'\\$") | frozenset(chr(c) for c in range(32)) | {"\x7f"}

# Path characters: RFC 3986 unreserved and the sub-delims and ':' '@' that are inert in nginx
# tokens and in prefix locations. No '%' (nginx compares locations with the *decoded* URI, so a
# '%' in a location is almost always a mistake), no '?' or '#' (not part of a path), no '&', '(',
# ')' (inert to nginx, but shells and regexes mind them and no real path needs them here).
PATH_CHARS = "A-Za-z0-9._~!*+,=:@/-"
_PATH_RE = re.compile(rf"/[{PATH_CHARS}]*")
_FILE_PATH_RE = re.compile(r"/[A-Za-z0-9._~+,=:@/-]*")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ENDPOINT_SEGMENT_RE = re.compile(r"[A-Za-z0-9._~-]+")
# Printable ASCII except nginx syntax: " # $ ' ; \ { } (and space, which is not in 0x21-0x7e).
_HEADER_VALUE_RE = re.compile(r"[!%&()*+,\-./0-9:<=>?@A-Z\[\]^_`a-z|~]+")
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

NAME_MAX = 200
SERVER_NAME_MAX = 253

ACCEPTED: dict[str, str] = {
    "server_name": (
        "a host name of letters, digits, '-' and '.', optionally with a leading '*.' or '.' or a "
        "trailing '.*'; an IPv4 address; a bracketed IPv6 address; or '_'. Regular expression names "
        "('~...') are not supported"
    ),
    "location_path": (
        "a prefix path starting with '/', made of letters, digits and ._~!*+,=:@/- ; "
        "no '//' and no '.' or '..' segments (nginx normalises request URIs, so they never match)"
    ),
    "header_value": (
        "one or more printable ASCII characters other than space and the nginx syntax characters ; { } # \" ' \\ $"
    ),
    "file_path": "an absolute path of letters, digits and ._~+,=:@/- that does not end with '/'",
    "name": f"a letter or digit followed by letters, digits, '.', '_' or '-', at most {NAME_MAX} characters",
    "endpoint": (
        "one or more path segments of letters, digits and ._~- separated by single '/', "
        "without a leading or trailing '/' and without '.' or '..' segments"
    ),
}

KINDS = tuple(ACCEPTED)


def syntax_hint(value: str) -> str:
    """Name the first character that nginx would read as syntax, or that is not ASCII."""
    for index, char in enumerate(value):
        if char in NGINX_SYNTAX:
            return f"; {char!r} at position {index} is nginx syntax"
        if not char.isascii():
            return f"; {char!r} at position {index} is not ASCII"
    return ""


def _segments_ok(path: str) -> bool:
    segments = path.split("/")[1:]
    # '' segments come from '//' (or the trailing '/' of a prefix, which is fine).
    inner = segments[:-1]
    return "" not in inner and not any(s in (".", "..") for s in segments)


def is_server_name(value: str) -> bool:
    if value == "_":
        return True
    if value.startswith("[") and value.endswith("]"):
        inner = value[1:-1]
        if "%" in inner or not re.fullmatch(r"[0-9A-Fa-f:.]+", inner):
            return False
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            return False
        return True
    if len(value) > SERVER_NAME_MAX:
        return False
    host = value
    if host.startswith("*."):
        host = host[2:]
    elif host.endswith(".*"):
        host = host[:-2]
    elif host.startswith("."):
        host = host[1:]
    labels = host.split(".")
    if not all(_LABEL_RE.fullmatch(label) for label in labels):
        return False
    if all(label.isdigit() for label in labels) and host == value:
        # All digits: only a real IPv4 address, not '999.1' or '10.0.0'.
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
    return True


def is_location_path(value: str) -> bool:
    return bool(_PATH_RE.fullmatch(value)) and _segments_ok(value)


def is_header_value(value: str) -> bool:
    return bool(_HEADER_VALUE_RE.fullmatch(value))


def is_file_path(value: str) -> bool:
    return bool(_FILE_PATH_RE.fullmatch(value)) and len(value) > 1 and not value.endswith("/")


def is_name(value: str) -> bool:
    return len(value) <= NAME_MAX and bool(_NAME_RE.fullmatch(value))


def is_endpoint(value: str) -> bool:
    segments = value.split("/")
    return all(_ENDPOINT_SEGMENT_RE.fullmatch(s) and s not in (".", "..") for s in segments)


_CHECKS = {
    "server_name": is_server_name,
    "location_path": is_location_path,
    "header_value": is_header_value,
    "file_path": is_file_path,
    "name": is_name,
    "endpoint": is_endpoint,
}

_LABELS = {
    "server_name": "a valid server name",
    "location_path": "a valid location path",
    "header_value": "a valid header value",
    "file_path": "a valid file path",
    "name": "a valid name",
    "endpoint": "a valid WebSocket endpoint name",
}


def validate_token(value: object, kind: str, name: str = "value") -> str:
    """Return ``value`` unchanged if it is an acceptable ``kind`` token, else raise ConfigError."""
    if kind not in _CHECKS:
        raise ConfigError(f"{name}: unknown token kind {kind!r} (one of {', '.join(KINDS)})")
    if not isinstance(value, str):
        raise ConfigError(f"{name}: {value!r} is not a string ({ACCEPTED[kind]})")
    if not _CHECKS[kind](value):
        raise ConfigError(f"{name}: {value!r} is not {_LABELS[kind]} ({ACCEPTED[kind]}){syntax_hint(value)}")
    return value


def server_names_hash_bucket_size(server_names: object, name: str = "server_names") -> int:
    """The smallest ``server_names_hash_bucket_size`` that holds every name (64 at least).

    nginx hashes the names of the servers that share an address:port. Each hash element takes
    ``sizeof(void *) + align(len + 2, sizeof(void *))`` bytes and a bucket must hold one element
    plus a terminating pointer, so with the usual default of 64 (the CPU cache line) any name
    longer than 46 characters makes ``nginx -t`` fail with "could not build server_names_hash,
    you should increase server_names_hash_bucket_size: 64". The size is a multiple of 64 (nginx
    rounds it up to the cache line). Wildcard names are counted whole, which can only overestimate.
    """
    if isinstance(server_names, (str, bytes)) or not isinstance(server_names, (list, tuple)):
        raise ConfigError(f"{name}: {server_names!r} is not a list of server names")
    need = 64
    for index, server_name in enumerate(server_names):
        validate_token(server_name, "server_name", f"{name}[{index}]")
        element = 8 + (len(server_name) + 2 + 7) // 8 * 8
        need = max(need, element + 8)
    return (need + 63) // 64 * 64


# --------------------------------------------------------------------------- origins and sizes
# Not token kinds of validate_token: an origin is parsed into parts the templates write separately (an exact
# map key, or a regular expression), and a size is normalised.

#: nginx compares the Origin header as browsers serialise it (RFC 6454): lower-case scheme and host, and no
#: port when it is the scheme's default.
DEFAULT_PORTS = {"http": 80, "https": 443}
ORIGIN_ACCEPTED = (
    "an origin 'scheme://host' or 'scheme://host:port' with scheme http or https, a host name of letters, digits, "
    "'-' and '.' or an IPv4 address, and a port 1-65535; no path, no trailing '/', no user, no query. "
    "'scheme://*.example.com' allows every subdomain (at any depth) of a domain of at least two labels, "
    "but not example.com itself; e.g. 'https://app.example.com', 'https://*.example.com', 'http://localhost:3000'"
)
_ORIGIN_RE = re.compile(
    r"(?P<scheme>[A-Za-z]+)://(?P<wildcard>\*\.)?(?P<host>[A-Za-z0-9.-]{1,253})(?::(?P<port>[0-9]{1,5}))?"
)


@dataclass(frozen=True)
class Origin:
    """An allowed origin, normalised: lower case, the scheme's default port left out (``port`` None)."""

    scheme: str
    host: str  # without the '*.' of a wildcard
    port: int | None
    wildcard: bool

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{'*.' if self.wildcard else ''}{self.host}{port}"

    def regex(self) -> str:
        """A PCRE for the Origin header values a wildcard allows (used case-insensitively): one or more labels,
        then the domain, then the port if one was given. Only [a-z0-9.:/-] reach it, so it needs no quoting
        beyond the escaped dots."""
        port = f":{self.port}" if self.port is not None else ""
        domain = self.host.replace(".", "\\.")
        return f"{self.scheme}://[a-z0-9_-]+(?:\\.[a-z0-9_-]+)*\\.{domain}{port}"

    def allows(self, header: str) -> bool:
        """Whether a browser's Origin header value is allowed by this entry (nginx's map decides the same way;
        tests/nginx/test_origin_map_nginx.py proves it)."""
        if self.wildcard:
            return re.fullmatch(self.regex(), header, re.IGNORECASE | re.ASCII) is not None
        return header.lower() == str(self)


def parse_origin(value: object, name: str = "value") -> Origin:
    """An allowed origin for a WebSocket handshake, by allowlist (see ORIGIN_ACCEPTED)."""
    if not isinstance(value, str):
        raise ConfigError(f"{name}: {value!r} is not a string ({ORIGIN_ACCEPTED})")
    match = _ORIGIN_RE.fullmatch(value)
    problem = None
    if not match:
        problem = "is not an origin"
    else:
        scheme, host, port_text = match["scheme"].lower(), match["host"].lower(), match["port"]
        labels = host.split(".")
        ipv4 = all(label.isdigit() for label in labels)
        if scheme not in DEFAULT_PORTS:
            problem = f"has the scheme {match['scheme']!r}, not http or https (a WebSocket page's origin)"
        elif not all(_LABEL_RE.fullmatch(label) for label in labels):
            problem = "has no valid host name"
        elif ipv4 and not _is_ipv4(host):
            problem = "has no valid host name or IPv4 address"
        elif match["wildcard"] and (ipv4 or len(labels) < 2):
            problem = "is a wildcard over a top-level domain or an address, which would allow anyone's pages"
        elif port_text is not None and not 1 <= int(port_text) <= 65535:
            problem = f"has the port {port_text}, not 1-65535"
    if problem:
        raise ConfigError(f"{name}: {value!r} {problem} ({ORIGIN_ACCEPTED}){syntax_hint(value)}")
    port = int(port_text) if port_text is not None else None
    if port == DEFAULT_PORTS[scheme]:
        port = None  # browsers leave the default port out of Origin
    return Origin(scheme, host, port, bool(match["wildcard"]))


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


SIZE_ACCEPTED = (
    "a size nginx reads: bytes as an integer 0-999999999, or 1-9 digits with the unit k, m or g "
    "('1m', '512k', '2g'); 0 turns the check off"
)
_SIZE_RE = re.compile(r"([0-9]{1,9})([kKmMgG]?)")


def nginx_size(value: object, name: str = "value") -> str:
    """A size for directives such as client_max_body_size, normalised ('1M' -> '1m', 1024 -> '1024')."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"{name}: {value!r} is not a size ({SIZE_ACCEPTED})")
    text = str(value)
    match = _SIZE_RE.fullmatch(text)
    if not match:
        shown = syntax_hint(value) if isinstance(value, str) else ""
        raise ConfigError(f"{name}: {value!r} is not a size ({SIZE_ACCEPTED}){shown}")
    return f"{int(match[1])}{match[2].lower()}"
