# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""websocket_proxy_vhosts as the user writes it, into exactly what the role's templates read.

Every string is validated by the functions of this package, every combination nginx would
refuse or silently resolve in a surprising way is refused, and finally nginx's own location
selection proves that every WebSocket endpoint URI reaches a WebSocket-capable location.

How a location reaches its backend (decided by :func:`_route`, in this order):

* dynamic: ``resolver`` is set and the backend is one DNS name (not an IP address, not a unix
  socket, not ``localhost``). proxy_pass is written with a variable (``set $wsproxy_backend
  "http://calls-backend:5006"; proxy_pass $wsproxy_backend;``), so nginx resolves the name at run
  time with the resolver and re-resolves it when the answer is older than ``resolver_valid``: a
  recreated container with a new address is found without a reload. A URI part is refused: with
  a variable, nginx replaces the whole request URI by it. nginx looks the name up among the
  http context's upstreams first, and a literal ``proxy_pass http://calls-backend:5006`` anywhere
  in that context (a hand-written vhost) makes one, statically resolved: then the resolver is
  never asked. Nothing the normalisers write makes one while a resolver is set.
* upstream: the backend is a list (several servers), or ``upstream_keepalive`` > 0 and the
  backend is a unix socket or http with an explicit port. proxy_pass names an ``upstream {}``
  block (``http://wsproxy_api_calls_1``) that holds ``keepalive N`` (none when N is 0), so plain
  requests reuse backend connections. Locations of one vhost with the same servers share one
  block. A list is never dynamic: nginx resolves its names once, when it loads the config.
* direct: anything else (https, ``upstream_keepalive`` 0, or a backend given with a scheme and
  no port, which may name an ``upstream {}`` block of the user's own): proxy_pass as written.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import duration_ms, nginx_duration
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import describe, routing_problems
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import ProxyTarget, parse_proxy_target
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import (
    Origin,
    nginx_size,
    parse_origin,
    syntax_hint,
    validate_token,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.ws_regex import (
    endpoint_uris,
    validate_endpoints,
    ws_path_regex,
)

VHOST_KEYS = (
    "server_name",
    "name",
    "listen",
    "default_server",
    "tls",
    "locations",
    "hsts_max_age",
    "hsts_include_subdomains",
    "redirect_http",
)
TLS_KEYS = ("certificate", "certificate_key", "http2", "chain")
#: Keys that guard the WebSocket handshake; only WebSocket locations take them.
HANDSHAKE_KEYS = ("allowed_origins", "allow_missing_origin", "limit_conn", "handshake_rate", "handshake_burst")
LOCATION_KEYS = (
    "path",
    "backend",
    "websocket",
    "websocket_endpoints",
    "read_timeout",
    "send_timeout",
    "connect_timeout",
    *HANDSHAKE_KEYS,
    "client_max_body_size",
)
TIMEOUT_KEYS = ("read_timeout", "send_timeout", "connect_timeout")
SECURITY_DEFAULT_KEYS = ("client_max_body_size", "limit_conn", "handshake_rate", "handshake_burst", "hsts_max_age")
OPTIONAL_DEFAULT_KEYS = ("upstream_keepalive", "resolver", "resolver_valid", *SECURITY_DEFAULT_KEYS)
DEFAULT_KEYS = TIMEOUT_KEYS + OPTIONAL_DEFAULT_KEYS
DEFAULT_PATH = "/api/"
PORT_ACCEPTED = "an integer 1-65535 or a list of them"

#: upstream_keepalive when the defaults leave it out: 0, the behaviour before the key existed
#: (the role passes websocket_proxy_upstream_keepalive, whose default is 32).
UPSTREAM_KEEPALIVE_ABSENT = 0
#: nginx sets aside about 150 bytes per keepalive slot in every upstream block, in every worker,
#: whether the slot is ever used or not ('keepalive 2147483647' fails with a 326 GB malloc).
UPSTREAM_KEEPALIVE_MAX = 10_000
KEEPALIVE_ACCEPTED = f"an integer 0-{UPSTREAM_KEEPALIVE_MAX}, idle connections kept per nginx worker; 0 turns it off"
RESOLVER_VALID_ABSENT = "10s"
#: The security settings when the defaults leave them out: nginx's own body limit, no limits, no HSTS.
CLIENT_MAX_BODY_SIZE_ABSENT = "1m"
LIMIT_CONN_ABSENT = 0
HANDSHAKE_RATE_ABSENT = 0
HANDSHAKE_BURST_ABSENT = 10
HSTS_MAX_AGE_ABSENT = 0
#: nginx refuses a connection limit above 65535.
LIMIT_CONN_MAX = 65535
LIMIT_CONN_ACCEPTED = f"an integer 0-{LIMIT_CONN_MAX}, WebSockets open at once per client address; 0 turns it off"
HANDSHAKE_RATE_MAX = 1_000_000
HANDSHAKE_RATE_ACCEPTED = (
    f"an integer 0-{HANDSHAKE_RATE_MAX}, WebSocket handshakes per minute per client address; 0 turns it off"
)
HANDSHAKE_BURST_MAX = 100_000
HANDSHAKE_BURST_ACCEPTED = (
    f"an integer 0-{HANDSHAKE_BURST_MAX}, handshakes a client may make at once beyond handshake_rate"
)
HSTS_MAX_AGE_MAX = 1_000_000_000
HSTS_MAX_AGE_ACCEPTED = (
    f"an integer 0-{HSTS_MAX_AGE_MAX}, seconds browsers keep to https only (63072000 is two years); 0 sends no HSTS"
)
#: The http-context names the role's templates give the limits (websocket_map.conf.j2 defines them).
LIMIT_CONN_ZONE = "wsproxy_ws_conn"
LIMIT_REQ_ZONE = "wsproxy_handshakes_{rate}pm"
#: Each location with allowed_origins reads its verdict from a map variable named after the vhost (or snippet).
ORIGIN_VARIABLE = "wsproxy_origin_forbidden_{base}_{n}"
#: The plain-HTTP port a TLS vhost's redirect_http server listens on.
REDIRECT_PORT = 80
RESOLVER_ACCEPTED = (
    "an IPv4 address, a bracketed IPv6 address or a host name, each optionally with :port, "
    "e.g. '127.0.0.11' (Docker's embedded DNS), '10.0.0.2:53' or '[::1]'"
)

#: The nginx variable a dynamic location sets and proxies to.
BACKEND_VARIABLE = "$wsproxy_backend"

_RESOLVER_LABEL_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_UPSTREAM_UNSAFE_RE = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class Defaults:
    """The role-wide settings, validated. ``prefix`` turns a key into the role variable that errors name."""

    timeouts: Mapping[str, str]
    upstream_keepalive: int
    resolver: tuple[str, ...]
    resolver_valid: str
    prefix: str
    client_max_body_size: str = CLIENT_MAX_BODY_SIZE_ABSENT
    limit_conn: int = LIMIT_CONN_ABSENT
    handshake_rate: int = HANDSHAKE_RATE_ABSENT
    handshake_burst: int = HANDSHAKE_BURST_ABSENT
    hsts_max_age: int = HSTS_MAX_AGE_ABSENT


def _mapping(value: object, where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {value!r} is not {what}")
    return value


def _list(value: object, where: str, what: str) -> Sequence[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigError(f"{where}: {value!r} is not {what}")
    return value


def _keys(value: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in value:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} (accepted keys: {', '.join(allowed)})")


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {value!r} is not a boolean (true or false)")
    return value


def _port(value: object, where: str, shown: object) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{where}: {shown!r} is not a port ({PORT_ACCEPTED})")
    return value


def _ports(value: object, where: str) -> list[int]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return [_port(value, where, value)]
    if not value:
        raise ConfigError(f"{where}: {value!r} is an empty list ({PORT_ACCEPTED})")
    ports: list[int] = []
    for item in value:
        port = _port(item, where, value)
        if port in ports:
            raise ConfigError(f"{where}: port {port} is listed twice in {value!r}")
        ports.append(port)
    return ports


def default_vhost_name(server_name: str) -> str:
    """A file stem from a server name: '*.example.com' -> 'wildcard.example.com', '_' -> 'default'."""
    if server_name == "_":
        return "default"
    if server_name.startswith("["):
        return "ipv6-" + server_name.strip("[]").replace(":", "-")
    name = server_name
    if name.startswith("*."):
        name = "wildcard." + name[2:]
    elif name.endswith(".*"):
        name = name[:-2] + ".wildcard"
    return name.lstrip(".")


def _defaults_prefix(name: str) -> str:
    """'websocket_proxy_vhosts' -> 'websocket_proxy_' (so errors name the role variable), else 'name defaults.'."""
    for suffix in ("vhosts", "snippets"):
        if name.endswith(f"_{suffix}"):
            return name[: -len(suffix)]
    return f"{name} defaults."


def _keepalive(value: object, where: str) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UPSTREAM_KEEPALIVE_MAX:
        raise ConfigError(
            f"{where}: {value!r} is not a number of upstream keepalive connections ({KEEPALIVE_ACCEPTED})"
        )
    return value


def _int_between(value: object, where: str, high: int, accepted: str) -> int:
    """An integer 0-high; digit strings count (Ansible may template an int into one)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ConfigError(f"{where}: {value!r} is not {accepted}")
    return value


def is_resolver_address(value: str) -> bool:
    """IPv4[:port], [IPv6][:port] or host.name[:port]: one token nginx's resolver directive takes as an address
    (never a parameter such as valid=, which holds '=')."""
    host, port = value, ""
    if value.startswith("["):
        close = value.find("]")
        if close < 0:
            return False
        host, rest = value[: close + 1], value[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                return False
            port = rest[1:]
            if not port:
                return False
        inner = host[1:-1]
        if not re.fullmatch(r"[0-9A-Fa-f:.]+", inner):
            return False
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            return False
    else:
        host, colon, port = value.partition(":")
        if colon and not port:
            return False
        if len(host) > 253:
            return False
        labels = host.split(".")
        if not all(_RESOLVER_LABEL_RE.fullmatch(label) for label in labels):
            return False
        if all(label.isdigit() for label in labels):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                return False
    if port:
        return port.isascii() and port.isdigit() and len(port) <= 5 and 1 <= int(port) <= 65535
    return True


def _resolver(value: object, where: str) -> tuple[str, ...]:
    items = _list(value, where, f"a list of resolver addresses ({RESOLVER_ACCEPTED})")
    result: list[str] = []
    for index, item in enumerate(items):
        label = f"{where}[{index}]"
        if not isinstance(item, str):
            raise ConfigError(f"{label}: {item!r} is not a string ({RESOLVER_ACCEPTED})")
        if not is_resolver_address(item):
            raise ConfigError(f"{label}: {item!r} is not a resolver address ({RESOLVER_ACCEPTED}){syntax_hint(item)}")
        if item.lower() in (r.lower() for r in result):
            raise ConfigError(f"{label}: {item!r} is listed twice")
        result.append(item)
    return tuple(result)


def _resolver_valid(value: object, where: str) -> str:
    valid = nginx_duration(value, where)
    if duration_ms(value, where) % 1000:
        raise ConfigError(
            f"{where}: {value!r} is not a whole number of seconds, which the resolver's valid= parameter "
            f"requires (nginx refuses 'ms' there); e.g. '10s', '1m' or 30"
        )
    return valid


def parse_defaults(defaults: object, name: str) -> Defaults:
    """Validate the role-wide settings. Errors name the role variable they come from:
    'websocket_proxy_read_timeout' when ``name`` is 'websocket_proxy_vhosts' or 'websocket_proxy_snippets'."""
    prefix = _defaults_prefix(name)
    values = _mapping(
        defaults,
        f"{prefix}*",
        f"a dict with {', '.join(TIMEOUT_KEYS)} and optionally {', '.join(OPTIONAL_DEFAULT_KEYS)}",
    )
    _keys(values, DEFAULT_KEYS, f"{prefix}*")
    timeouts = {}
    for key in TIMEOUT_KEYS:
        if key not in values:
            raise ConfigError(f"{prefix}{key}: missing (a duration is required)")
        timeouts[key] = nginx_duration(values[key], f"{prefix}{key}")
    return Defaults(
        timeouts=timeouts,
        upstream_keepalive=_keepalive(
            values.get("upstream_keepalive", UPSTREAM_KEEPALIVE_ABSENT), f"{prefix}upstream_keepalive"
        ),
        resolver=_resolver(values.get("resolver", []), f"{prefix}resolver"),
        resolver_valid=_resolver_valid(values.get("resolver_valid", RESOLVER_VALID_ABSENT), f"{prefix}resolver_valid"),
        prefix=prefix,
        client_max_body_size=nginx_size(
            values.get("client_max_body_size", CLIENT_MAX_BODY_SIZE_ABSENT), f"{prefix}client_max_body_size"
        ),
        limit_conn=_int_between(
            values.get("limit_conn", LIMIT_CONN_ABSENT), f"{prefix}limit_conn", LIMIT_CONN_MAX, LIMIT_CONN_ACCEPTED
        ),
        handshake_rate=_int_between(
            values.get("handshake_rate", HANDSHAKE_RATE_ABSENT),
            f"{prefix}handshake_rate",
            HANDSHAKE_RATE_MAX,
            HANDSHAKE_RATE_ACCEPTED,
        ),
        handshake_burst=_int_between(
            values.get("handshake_burst", HANDSHAKE_BURST_ABSENT),
            f"{prefix}handshake_burst",
            HANDSHAKE_BURST_MAX,
            HANDSHAKE_BURST_ACCEPTED,
        ),
        hsts_max_age=_int_between(
            values.get("hsts_max_age", HSTS_MAX_AGE_ABSENT),
            f"{prefix}hsts_max_age",
            HSTS_MAX_AGE_MAX,
            HSTS_MAX_AGE_ACCEPTED,
        ),
    )


def _tls(value: object, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    tls = _mapping(value, where, "a dict with certificate, certificate_key and optionally http2")
    _keys(tls, TLS_KEYS, where)
    result: dict[str, Any] = {}
    for key in ("certificate", "certificate_key"):
        if key not in tls:
            raise ConfigError(f"{where}.{key}: missing (an absolute file path is required)")
        result[key] = validate_token(tls[key], "file_path", f"{where}.{key}")
    result["http2"] = _bool(tls.get("http2", True), f"{where}.http2")
    # The CA chain (intermediates and root) for OCSP stapling: nginx fetches the CA's signed OCSP answer for the
    # certificate and hands it to clients, and checks it against this chain (ssl_trusted_certificate).
    chain = tls.get("chain")
    result["chain"] = validate_token(chain, "file_path", f"{where}.chain") if chain is not None else None
    result["stapling"] = chain is not None
    result["source"] = where
    return result


BACKEND_EXAMPLES = "e.g. 'localhost:5006', 'http://calls-backend:5006' or ['calls-1:5006', 'calls-2:5006']"


def _server_key(address: str) -> str:
    """Host names compare without letter case (as DNS does); socket paths are file names and keep it."""
    return address if address.startswith("unix:") else address.lower()


def _backends(value: object, where: str, allow_uri: bool) -> tuple[list[ProxyTarget], bool]:
    """A backend or a non-empty list of them (the servers of one upstream): the parsed targets, and
    whether a list was given."""
    if isinstance(value, str):
        return [parse_proxy_target(value, where, allow_uri)], False
    if isinstance(value, bytes) or not isinstance(value, Sequence):
        raise ConfigError(f"{where}: {value!r} is not a backend or a non-empty list of backends ({BACKEND_EXAMPLES})")
    if not value:
        raise ConfigError(f"{where}: the list is empty (give a backend or a non-empty list of backends)")
    targets: list[ProxyTarget] = []
    for index, item in enumerate(value):
        label = f"{where}[{index}]"
        target = parse_proxy_target(item, label, allow_uri)
        if targets:
            first = targets[0]
            if target.scheme != first.scheme:
                raise ConfigError(
                    f"{label}: {item!r} is {target.scheme} but {where}[0] {value[0]!r} is {first.scheme}; "
                    f"the servers of one upstream share one proxy_pass, so give them all the same scheme"
                )
            if target.uri != first.uri:
                raise ConfigError(
                    f"{label}: {item!r} has the URI part {target.uri or 'none'!r} but {where}[0] {value[0]!r} has "
                    f"{first.uri or 'none'!r}; the servers of one upstream share one proxy_pass, so give them all "
                    f"the same URI part (or none)"
                )
        for other, seen in enumerate(targets):
            if _server_key(seen.address) == _server_key(target.address):
                raise ConfigError(
                    f"{label}: {item!r} is listed twice (the same server as {where}[{other}] {value[other]!r})"
                )
        targets.append(target)
    if targets[0].scheme == "https":
        raise ConfigError(
            f"{where}: {list(value)!r} is a list of https backends; a list becomes an nginx upstream block, and "
            f"an https upstream needs proxy_ssl_name (and proxy_ssl_server_name) to send and check the backend's "
            f"own server name instead of the upstream's, which this role does not write; give a single https "
            f"backend instead"
        )
    return targets, True


def _is_dns_name(target: ProxyTarget) -> bool:
    """A host name that DNS answers for: not a unix socket, not an IP address, not localhost (nginx's
    resolver asks DNS only, never /etc/hosts, and localhost names always mean this machine)."""
    if target.unix_path is not None or target.host is None:
        return False
    try:
        ipaddress.ip_address(target.host)
        return False
    except ValueError:
        pass
    host = target.host.lower().rstrip(".")
    return host != "localhost" and not host.endswith(".localhost")


def _route(
    targets: list[ProxyTarget], is_list: bool, raw: object, where: str, path: str, settings: Defaults, snippet: bool
) -> dict[str, Any]:
    """How the location reaches its backend (see the module docstring). ``_servers`` is set for an
    upstream; :func:`assign_upstreams` turns it into the upstream's name."""
    first = targets[0]
    route: dict[str, Any] = {
        "proxy_pass": first.proxy_pass,
        "dynamic": False,
        "proxy_pass_variable": None,
        "resolver": None,
        "resolver_valid": None,
        "_servers": None,
    }
    if settings.resolver and not is_list and _is_dns_name(first):
        if first.uri:
            raise ConfigError(
                f"{where}: {raw!r} has a URI part {first.uri!r}, but with {settings.prefix}resolver "
                f"set the host {first.host!r} is resolved at run time, so proxy_pass is written with a variable, "
                f"and then nginx replaces the whole request URI by the URI part (every request under {path} would "
                f"reach the backend as exactly {first.uri!r}); remove the URI part (the backend then sees the "
                f"request URI unchanged) or leave {settings.prefix}resolver empty"
            )
        route.update(proxy_pass=BACKEND_VARIABLE, dynamic=True, proxy_pass_variable=first.proxy_pass)
        if snippet:  # the user's server block owns the server-level resolver; a location may have its own
            route.update(resolver=list(settings.resolver), resolver_valid=settings.resolver_valid)
        return route
    keepalive_ok = first.scheme == "http" and (first.unix_path is not None or first.explicit_port)
    if is_list or (settings.upstream_keepalive > 0 and keepalive_ok):
        route["_servers"] = [target.address for target in targets]
    return route


#: What a plain (non-WebSocket) location carries: no Origin check, no limits.
NO_GUARD: dict[str, Any] = {
    "allowed_origins": [],
    "allow_missing_origin": True,
    "origin_variable": None,
    "limit_conn": 0,
    "handshake_rate": 0,
    "handshake_burst": 0,
    "limit_req_zone": None,
}


def _origins(value: object, where: str) -> list[Origin]:
    items = _list(value, where, "a list of origins ('https://app.example.com', 'https://*.example.com', ...)")
    result: list[Origin] = []
    for index, item in enumerate(items):
        origin = parse_origin(item, f"{where}[{index}]")
        if origin in result:
            raise ConfigError(
                f"{where}[{index}]: {item!r} is listed twice (as {str(origin)!r}: origins compare without letter "
                f"case and without the scheme's default port, as browsers send them)"
            )
        result.append(origin)
    return result


def _is_off(key: str, value: object) -> bool:
    """Whether a handshake key's value leaves the handshake unguarded (so a plain location may carry it)."""
    if value is None:
        return True
    if key == "allow_missing_origin":
        return value is True
    if key == "allowed_origins":
        return isinstance(value, list) and not value
    return isinstance(value, int) and not isinstance(value, bool) and value == 0


def _handshake_guard(location: Mapping[str, Any], source: str, settings: Defaults, websocket: bool) -> dict[str, Any]:
    """allowed_origins, allow_missing_origin and the per-client limits of a WebSocket location (its WebSocket
    entry, with websocket_endpoints). A plain location refuses them: it never sees a handshake, and CORS for plain
    requests is the application's."""
    # Values that mean "off" are accepted anywhere (as an argument spec's defaults would give them).
    explicit = [key for key in HANDSHAKE_KEYS if not _is_off(key, location.get(key))]
    if not websocket:
        if explicit:
            key = explicit[0]
            raise ConfigError(
                f"{source}.{key}: {location[key]!r} is set, but {source}.websocket is false; {key} guards WebSocket "
                f"handshakes, which a plain location never forwards (CORS for plain requests is the application's). "
                f"Remove {key} or set websocket: true"
            )
        return dict(NO_GUARD)
    raw_origins = location.get("allowed_origins")
    origins = _origins(raw_origins, f"{source}.allowed_origins") if raw_origins not in (None, []) else []
    allow_missing = _bool(location.get("allow_missing_origin", True), f"{source}.allow_missing_origin")
    if not allow_missing and not origins:
        raise ConfigError(
            f"{source}.allow_missing_origin: false is set without {source}.allowed_origins; without an allowlist "
            f"every Origin (and none) is accepted, so give allowed_origins too or remove allow_missing_origin"
        )
    limit_conn = (
        _int_between(location["limit_conn"], f"{source}.limit_conn", LIMIT_CONN_MAX, LIMIT_CONN_ACCEPTED)
        if "limit_conn" in location
        else settings.limit_conn
    )
    rate = (
        _int_between(
            location["handshake_rate"], f"{source}.handshake_rate", HANDSHAKE_RATE_MAX, HANDSHAKE_RATE_ACCEPTED
        )
        if "handshake_rate" in location
        else settings.handshake_rate
    )
    burst = (
        _int_between(
            location["handshake_burst"], f"{source}.handshake_burst", HANDSHAKE_BURST_MAX, HANDSHAKE_BURST_ACCEPTED
        )
        if "handshake_burst" in location
        else settings.handshake_burst
    )
    if location.get("handshake_burst") and not rate:
        raise ConfigError(
            f"{source}.handshake_burst: {location['handshake_burst']!r} is set, but the handshake rate is not limited "
            f"({source}.handshake_rate and {settings.prefix}handshake_rate are 0); set handshake_rate too or remove "
            f"handshake_burst"
        )
    return {
        "allowed_origins": [str(origin) for origin in origins],
        "allow_missing_origin": allow_missing,
        "origin_variable": None,  # named by assign_origin_maps
        "limit_conn": limit_conn,
        "handshake_rate": rate,
        "handshake_burst": burst if rate else 0,
        "limit_req_zone": LIMIT_REQ_ZONE.format(rate=rate) if rate else None,
    }


def normalise_locations(
    value: object, where: str, settings: Defaults, snippet: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """The locations of one vhost (or snippet, which gets its resolver per dynamic location) in the order to
    write them, and the WebSocket URIs they must serve. Locations keep a ``_servers`` key for assign_upstreams."""
    items = _list(value, where, "a list of locations")
    if not items:
        raise ConfigError(f"{where}: the list is empty; give at least one location with a backend")
    result: list[dict[str, Any]] = []
    uris: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for index, item in enumerate(items):
        source = f"{where}[{index}]"
        location = _mapping(item, source, "a dict with path, backend, ...")
        _keys(location, LOCATION_KEYS, source)
        path = validate_token(location.get("path", DEFAULT_PATH), "location_path", f"{source}.path")
        if "backend" not in location:
            raise ConfigError(f"{source}.backend: missing ({BACKEND_EXAMPLES})")
        backend = location["backend"]
        websocket = _bool(location.get("websocket", True), f"{source}.websocket")
        endpoints_raw = location.get("websocket_endpoints")
        endpoints: list[str] = []
        if endpoints_raw is not None and endpoints_raw != []:  # None and [] both mean "no endpoints"
            endpoints = validate_endpoints(endpoints_raw, f"{source}.websocket_endpoints")
        if endpoints and not websocket:
            raise ConfigError(
                f"{source}.websocket_endpoints: {list(endpoints)!r} lists WebSocket endpoints, but "
                f"{source}.websocket is false; remove one of them"
            )
        times = {
            key: nginx_duration(location[key], f"{source}.{key}") if key in location else settings.timeouts[key]
            for key in TIMEOUT_KEYS
        }
        guard = _handshake_guard(location, source, settings, websocket)
        body_size = (
            nginx_size(location["client_max_body_size"], f"{source}.client_max_body_size")
            if "client_max_body_size" in location
            else settings.client_max_body_size
        )
        entries: list[tuple[dict[str, Any], dict[str, Any]]] = []
        prefix_websocket = websocket
        if endpoints:
            regex = ws_path_regex(endpoints, path, f"{source}.websocket_endpoints")
            targets, is_list = _backends(backend, f"{source}.backend", allow_uri=False)
            route = _route(targets, is_list, backend, f"{source}.backend", regex, settings, snippet)
            entries.append(({"modifier": "~", "path": regex, "websocket": True}, route))
            uris.extend(endpoint_uris(endpoints, path))
            prefix_websocket = False  # the regex serves the endpoints; the prefix is plain
        elif websocket:
            uris.append(path)
        targets, is_list = _backends(backend, f"{source}.backend", allow_uri=True)
        route = _route(targets, is_list, backend, f"{source}.backend", path, settings, snippet)
        entries.append(({"modifier": "", "path": path, "websocket": prefix_websocket}, route))
        for head, entry_route in entries:
            # Keys in the order the template reads them; assign_upstreams fills in "upstream" from "_servers".
            entry = {
                "modifier": head["modifier"],
                "path": head["path"],
                "proxy_pass": entry_route.pop("proxy_pass"),
                "websocket": head["websocket"],
                **times,
                "source": source,
                "upstream": None,
                **entry_route,
                "client_max_body_size": body_size,
                **(guard if head["websocket"] else NO_GUARD),
            }
            key = (entry["modifier"], entry["path"])
            if key in seen:
                raise ConfigError(
                    f"{source}: location {describe(entry)!r} is already defined by {seen[key]} "
                    f"(each location may appear once in a {'snippet' if snippet else 'vhost'})"
                )
            seen[key] = source
            result.append(entry)
    return result, uris


def upstream_base(prefix: str, name: str) -> str:
    """``prefix`` + the name with every character outside [A-Za-z0-9_] replaced by '_': plain identifiers
    that read as the role's own in nginx's logs, never as a backend's DNS name.

    A vhost whose name would start the base with 'wsproxy_snippet_' gets 'wsproxy_vhost_' instead, so
    vhost and snippet upstreams (made by two filters, living in one nginx namespace) never meet.
    """
    safe = _UPSTREAM_UNSAFE_RE.sub("_", name)
    if prefix == "wsproxy_" and safe.lower().startswith("snippet_"):
        prefix = "wsproxy_vhost_"
    return f"{prefix}{safe}"


def assign_upstreams(locations: list[dict[str, Any]], base: str, keepalive: int) -> list[dict[str, Any]]:
    """Name one upstream per distinct server list (``base_1``, ``base_2``, ... in order of first use), point
    each location's proxy_pass at it, and return the upstreams. Removes the locations' ``_servers``."""
    upstreams: list[dict[str, Any]] = []
    by_servers: dict[tuple[str, ...], dict[str, Any]] = {}
    for location in locations:
        servers = location.pop("_servers")
        if servers is None:
            location["upstream"] = None
            continue
        key = tuple(sorted(_server_key(server) for server in servers))
        upstream = by_servers.get(key)
        if upstream is None:
            upstream = {
                "name": f"{base}_{len(upstreams) + 1}",
                "servers": list(servers),
                "keepalive": keepalive,
                "source": f"{location['source']}.backend",
            }
            by_servers[key] = upstream
            upstreams.append(upstream)
        # The URI part is the same for every server of the list: take it from the direct proxy_pass.
        uri = _uri_part(location["proxy_pass"])
        location["proxy_pass"] = f"http://{upstream['name']}{uri}"
        location["upstream"] = upstream["name"]
    return upstreams


def assign_origin_maps(locations: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    """Name the map variable of each location with allowed_origins (``wsproxy_origin_forbidden_<base>_<n>``, n from 1
    in the order of the locations, base as for upstreams without its 'wsproxy_'), and return the maps the http
    context needs: one per such location, ``exact`` origins as map keys, wildcard ``patterns`` as regexes.

    The variable is unique across every vhost and snippet: vhost and snippet bases never meet (see upstream_base),
    two equal bases are refused by check_bases, and the trailing _<n> holds no '_'."""
    maps: list[dict[str, Any]] = []
    suffix = base[len("wsproxy_") :]
    for location in locations:
        if not location["allowed_origins"]:
            continue
        origins = [parse_origin(text) for text in location["allowed_origins"]]
        variable = ORIGIN_VARIABLE.format(base=suffix, n=len(maps) + 1)
        location["origin_variable"] = variable
        maps.append(
            {
                "variable": variable,
                "exact": [str(origin) for origin in origins if not origin.wildcard],
                "patterns": [origin.regex() for origin in origins if origin.wildcard],
                "allow_missing": location["allow_missing_origin"],
                "source": location["source"],
            }
        )
    return maps


def _uri_part(proxy_pass: str) -> str:
    """The URI part of a proxy_pass value this module wrote: after 'scheme://host[:port]' or the socket's ':'."""
    rest = proxy_pass.split("://", 1)[1]
    if rest.startswith("unix:"):
        colon, uri = rest[5:].partition(":")[1:]
        return uri if colon else ""
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else ""


def check_bases(items: list[dict[str, Any]], base_of: Mapping[str, str], what: str) -> None:
    """Two vhosts (or snippets) whose names differ only in characters that become '_', or in letter case, have one
    base (``base_of``, by source). Refuse two such that both have upstreams: they would write the same upstream
    names, which nginx refuses (duplicate upstream; it compares them without letter case). Then two such that both
    have origin maps: they would define the same map variables, and nginx silently keeps the last map of a name."""
    for key in ("upstreams", "origin_maps"):
        seen: dict[str, dict[str, Any]] = {}
        for item in items:
            if not item[key]:
                continue
            base = base_of[item["source"]]
            other = seen.setdefault(base.lower(), item)
            if other is item:
                continue
            if key == "upstreams":
                names, subject = f"upstream names {base}_<n>", "upstream names"
            else:
                variables = ORIGIN_VARIABLE.format(base=base[len("wsproxy_") :], n="<n>")
                names, subject = f"map variables ${variables} (allowed_origins)", "they"
            raise ConfigError(
                f"{item['source']}.name: {item['name']!r} gives the nginx {names}, as {other['name']!r} "
                f"({other['source']}) does ({subject} keep only letters, digits and '_', other characters become "
                f"'_', and nginx ignores letter case there); set name on one of the two {what} so that they differ "
                f"in a letter or digit"
            )


def _vhost(value: object, where: str, settings: Defaults) -> tuple[dict[str, Any], str]:
    vhost = _mapping(value, where, "a dict with server_name, locations, ...")
    _keys(vhost, VHOST_KEYS, where)

    if "server_name" not in vhost:
        raise ConfigError(f"{where}.server_name: missing (a server name or a non-empty list of them)")
    raw_names = vhost["server_name"]
    if isinstance(raw_names, str):
        names_list: Sequence[Any] = [raw_names]
        shown = [f"{where}.server_name"]
    else:
        names_list = _list(raw_names, f"{where}.server_name", "a server name or a non-empty list of them")
        if not names_list:
            raise ConfigError(f"{where}.server_name: the list is empty (give at least one server name)")
        shown = [f"{where}.server_name[{i}]" for i in range(len(names_list))]
    server_names: list[str] = []
    for server_name, label in zip(names_list, shown, strict=False):
        validate_token(server_name, "server_name", label)
        if server_name.lower() in (n.lower() for n in server_names):
            raise ConfigError(f"{label}: {server_name!r} is listed twice")
        server_names.append(server_name)

    if "name" in vhost:
        name = validate_token(vhost["name"], "name", f"{where}.name")
    else:
        derived = default_vhost_name(server_names[0])
        try:
            name = validate_token(derived, "name", f"{where}.name")
        except ConfigError:
            raise ConfigError(
                f"{where}.name: the name {derived!r} derived from server name {server_names[0]!r} is not a "
                f"valid file name; set name explicitly"
            ) from None

    tls = _tls(vhost.get("tls"), f"{where}.tls")
    ports = _ports(vhost["listen"], f"{where}.listen") if "listen" in vhost else [443 if tls else 80]
    default_server = _bool(vhost.get("default_server", False), f"{where}.default_server")

    if "locations" not in vhost:
        raise ConfigError(f"{where}.locations: missing (a non-empty list of locations)")
    locations, uris = normalise_locations(vhost["locations"], f"{where}.locations", settings)
    base = upstream_base("wsproxy_", name)
    upstreams = assign_upstreams(locations, base, settings.upstream_keepalive)
    origin_maps = assign_origin_maps(locations, base)
    problems = routing_problems(locations, [(uri, True) for uri in uris], f"{where}.locations")
    if problems:
        raise ConfigError("; ".join(problems))
    hsts = _hsts(vhost, where, settings, tls is not None)
    redirect = _redirect(vhost, where, tls is not None, ports)

    return {
        "name": name,
        "server_names": server_names,
        "listen": [{"port": port, "ssl": tls is not None, "default_server": default_server} for port in ports],
        "tls": tls,
        "locations": locations,
        "websocket_uris": uris,
        "upstreams": upstreams,
        "resolver": list(settings.resolver) or None,
        "resolver_valid": settings.resolver_valid,
        "source": where,
        "origin_maps": origin_maps,
        "hsts": hsts,
        "redirect": redirect,
    }, base


def _hsts(vhost: Mapping[str, Any], where: str, settings: Defaults, tls: bool) -> str | None:
    """The Strict-Transport-Security value of a TLS vhost, or None. The role-wide hsts_max_age applies to TLS
    vhosts only; on a plain vhost an explicit hsts_max_age is refused (browsers ignore HSTS over http)."""
    for key in ("hsts_max_age", "hsts_include_subdomains"):
        if vhost.get(key) not in (None, 0, False) and not tls:
            raise ConfigError(
                f"{where}.{key}: {vhost[key]!r} is set on a vhost without tls; browsers ignore HSTS received over "
                f"plain http. Give the vhost tls or remove {key}"
            )
    max_age = (
        _int_between(vhost["hsts_max_age"], f"{where}.hsts_max_age", HSTS_MAX_AGE_MAX, HSTS_MAX_AGE_ACCEPTED)
        if "hsts_max_age" in vhost
        else settings.hsts_max_age
    )
    subdomains = _bool(vhost.get("hsts_include_subdomains", False), f"{where}.hsts_include_subdomains")
    if subdomains and not max_age:
        raise ConfigError(
            f"{where}.hsts_include_subdomains: true, but no HSTS is sent ({where}.hsts_max_age and "
            f"{settings.prefix}hsts_max_age are 0); set hsts_max_age too"
        )
    if not tls or not max_age:
        return None
    return f"max-age={max_age}" + ("; includeSubDomains" if subdomains else "")


def _redirect(vhost: Mapping[str, Any], where: str, tls: bool, ports: list[int]) -> dict[str, Any] | None:
    """A port-80 server that sends every plain-HTTP request to the same URL over https (301), or None."""
    if not _bool(vhost.get("redirect_http", False), f"{where}.redirect_http"):
        return None
    if not tls:
        raise ConfigError(
            f"{where}.redirect_http: true on a vhost without tls; there is no https to redirect to. Give the vhost "
            f"tls or remove redirect_http"
        )
    if REDIRECT_PORT in ports:
        raise ConfigError(
            f"{where}.redirect_http: true, but {where}.listen {ports!r} already serves TLS on port {REDIRECT_PORT}, "
            f"where the redirect server would listen; remove port {REDIRECT_PORT} from listen or redirect_http"
        )
    port = ports[0]
    # $host is the request's Host (lower case, without port), and this server answers only for the vhost's names.
    target = "https://$host" + ("" if port == 443 else f":{port}") + "$request_uri"
    return {"port": REDIRECT_PORT, "location": target, "source": f"{where}.redirect_http"}


def _across(vhosts: list[dict[str, Any]]) -> None:
    """Checks between vhosts: file names, (server name, port), default servers, TLS per port."""
    names: dict[str, str] = {}
    served: dict[tuple[str, int], str] = {}
    defaults: dict[int, str] = {}
    tls_by_port: dict[int, tuple[bool, bool, str]] = {}
    for vhost in vhosts:
        where = vhost["source"]
        if vhost["name"].lower() in names:
            raise ConfigError(
                f"{where}.name: {vhost['name']!r} is already the name of {names[vhost['name'].lower()]}; "
                f"each vhost needs its own file name (set name explicitly)"
            )
        names[vhost["name"].lower()] = where
        # A TLS vhost's redirect_http server listens on port 80 with the same names: it clashes like a listen.
        listens = [(listen, f"{where}.server_name", f"{where}.listen", where) for listen in vhost["listen"]]
        redirect = vhost.get("redirect")
        if redirect:
            plain = {"port": redirect["port"], "ssl": False, "default_server": False}
            shown = f"{redirect['source']} (its port-{redirect['port']} redirect server)"
            listens.append((plain, redirect["source"], redirect["source"], shown))
        for listen, name_label, listen_label, shown in listens:
            port = listen["port"]
            for server_name in vhost["server_names"]:
                key = (server_name.lower(), port)
                if key in served:
                    raise ConfigError(
                        f"{name_label}: {server_name!r} on port {port} is already served by {served[key]}; "
                        f"nginx would ignore one of them (conflicting server name)"
                    )
                served[key] = shown
            if listen["default_server"]:
                if port in defaults:
                    raise ConfigError(
                        f"{where}.default_server: port {port} already has a default server, {defaults[port]}; "
                        f"nginx refuses a duplicate default server"
                    )
                defaults[port] = where
            http2 = bool(vhost["tls"] and vhost["tls"]["http2"]) and listen["ssl"]
            if port in tls_by_port:
                other_ssl, other_http2, other = tls_by_port[port]
                if other_ssl != listen["ssl"]:
                    raise ConfigError(
                        f"{listen_label}: port {port} is {'TLS' if listen['ssl'] else 'plain HTTP'} here but "
                        f"{'TLS' if other_ssl else 'plain HTTP'} in {other}; nginx applies 'ssl' to every server "
                        f"on a port, so one of them would not work as written"
                    )
                if listen["ssl"] and other_http2 != http2:
                    raise ConfigError(
                        f"{where}.tls.http2: {http2!r} differs from {other} on port {port}; nginx before 1.25.1 "
                        f"enables http2 for every server on a port, so give both the same value"
                    )
            else:
                tls_by_port[port] = (listen["ssl"], http2, shown)


def websocket_vhosts(vhosts: object, defaults: object, name: str = "websocket_proxy_vhosts") -> list[dict[str, Any]]:
    """Validate and normalise the role's vhosts; see the filter's documentation for both schemas."""
    settings = parse_defaults(defaults, name)
    items = _list(vhosts, name, "a list of vhosts")
    result = []
    bases = {}
    for index, item in enumerate(items):
        vhost, bases[f"{name}[{index}]"] = _vhost(item, f"{name}[{index}]", settings)
        result.append(vhost)
    _across(result)
    check_bases(result, bases, "vhosts")
    return result
