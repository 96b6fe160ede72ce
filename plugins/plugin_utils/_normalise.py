# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the two normalisers (:mod:`vhosts` and :mod:`snippets`) share: the role-wide defaults, the locations and
how they reach their backends, upstream blocks, Origin maps, and the paths of the OS layout.

A private module: only the normalisers of this package import it.

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
* upstream: the backend is a list (several servers, each a string or a mapping with server parameters, see
  :mod:`balance`) or one such mapping, or ``upstream_keepalive`` > 0 and the backend is a unix socket or http
  with an explicit port. proxy_pass names an ``upstream {}`` block (``http://wsproxy_api_calls_1``) that holds
  the location's balancing method, its servers and ``keepalive N`` (none when N is 0), so plain requests reuse
  backend connections. Locations of one vhost with the same servers and method share one block. A list is never
  dynamic: nginx resolves its names once, when it loads the config. With several servers, nginx tries the next
  one when a server refuses the connection or times out (``failover``).
* direct: anything else (https, ``upstream_keepalive`` 0, or a backend given with a scheme and
  no port, which may name an ``upstream {}`` block of the user's own): proxy_pass as written.

Defaults have one home, the role's ``defaults/main.yml``: a key the caller's defaults leave out is read from there.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.balance import (
    BALANCE_KEYS,
    Server,
    balance_directive,
    check_servers,
    parse_balance,
    parse_server,
    websocket_servers,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.buffers import frame_size, proxy_buffer_size
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.checks import (
    boolean,
    check_keys,
    int_between,
    mapping,
    sequence,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import duration_ms, nginx_duration
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import describe
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import ProxyTarget
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

HANDSHAKE_KEYS = ("allowed_origins", "allow_missing_origin", "limit_conn", "handshake_rate", "handshake_burst")
LOCATION_KEYS = (
    "path",
    "backend",
    "websocket",
    "websocket_endpoints",
    "read_timeout",
    "send_timeout",
    "connect_timeout",
    *BALANCE_KEYS,
    *HANDSHAKE_KEYS,
    "client_max_body_size",
    "frame_size",
)
TIMEOUT_KEYS = ("read_timeout", "send_timeout", "connect_timeout")
SECURITY_DEFAULT_KEYS = ("client_max_body_size", "limit_conn", "handshake_rate", "handshake_burst", "hsts_max_age")
OPTIONAL_DEFAULT_KEYS = ("upstream_keepalive", "resolver", "resolver_valid", *SECURITY_DEFAULT_KEYS, "frame_size")
DEFAULT_KEYS = TIMEOUT_KEYS + OPTIONAL_DEFAULT_KEYS
DEFAULT_PATH = "/api/"

#: nginx sets aside about 150 bytes per keepalive slot in every upstream block, in every worker,
#: whether the slot is ever used or not ('keepalive 2147483647' fails with a 326 GB malloc).
UPSTREAM_KEEPALIVE_MAX = 10_000
KEEPALIVE_ACCEPTED = f"an integer 0-{UPSTREAM_KEEPALIVE_MAX}, idle connections kept per nginx worker; 0 turns it off"
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
    client_max_body_size: str
    limit_conn: int
    handshake_rate: int
    handshake_burst: int
    hsts_max_age: int
    frame_size: int | None


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
    items = sequence(value, where, f"a list of resolver addresses ({RESOLVER_ACCEPTED})")
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


#: The role's defaults, the one home of every default the normalisers fill in (inside the collection, beside
#: plugins/: roles/websocket_proxy/defaults/main.yml).
ROLE_DEFAULTS_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "roles",
    "websocket_proxy",
    "defaults",
    "main.yml",
)


@functools.lru_cache(maxsize=1)
def role_defaults() -> Mapping[str, Any]:
    """The optional defaults (OPTIONAL_DEFAULT_KEYS) as the role's defaults/main.yml sets them, read once:
    ``{'upstream_keepalive': 32, ...}`` from ``websocket_proxy_upstream_keepalive: 32``, ..."""
    with open(ROLE_DEFAULTS_FILE, encoding="utf-8") as handle:
        values = yaml.safe_load(handle)
    missing = [key for key in OPTIONAL_DEFAULT_KEYS if f"websocket_proxy_{key}" not in values]
    if missing:
        raise ConfigError(f"{ROLE_DEFAULTS_FILE}: no websocket_proxy_{missing[0]} (the normalisers' default for it)")
    return {key: values[f"websocket_proxy_{key}"] for key in OPTIONAL_DEFAULT_KEYS}


def parse_defaults(defaults: object, name: str) -> Defaults:
    """Validate the role-wide settings. Errors name the role variable they come from:
    'websocket_proxy_read_timeout' when ``name`` is 'websocket_proxy_vhosts' or 'websocket_proxy_snippets'.
    The timeouts are required; a key of OPTIONAL_DEFAULT_KEYS left out takes the role's default (role_defaults)."""
    prefix = _defaults_prefix(name)
    given = mapping(
        defaults,
        f"{prefix}*",
        f"a dict with {', '.join(TIMEOUT_KEYS)} and optionally {', '.join(OPTIONAL_DEFAULT_KEYS)}",
    )
    check_keys(given, DEFAULT_KEYS, f"{prefix}*")
    timeouts = {}
    for key in TIMEOUT_KEYS:
        if key not in given:
            raise ConfigError(f"{prefix}{key}: missing (a duration is required)")
        timeouts[key] = nginx_duration(given[key], f"{prefix}{key}")
    values = {**role_defaults(), **given}
    return Defaults(
        timeouts=timeouts,
        upstream_keepalive=_keepalive(values["upstream_keepalive"], f"{prefix}upstream_keepalive"),
        resolver=_resolver(values["resolver"], f"{prefix}resolver"),
        resolver_valid=_resolver_valid(values["resolver_valid"], f"{prefix}resolver_valid"),
        prefix=prefix,
        client_max_body_size=nginx_size(values["client_max_body_size"], f"{prefix}client_max_body_size"),
        limit_conn=int_between(values["limit_conn"], f"{prefix}limit_conn", LIMIT_CONN_MAX, LIMIT_CONN_ACCEPTED),
        handshake_rate=int_between(
            values["handshake_rate"], f"{prefix}handshake_rate", HANDSHAKE_RATE_MAX, HANDSHAKE_RATE_ACCEPTED
        ),
        handshake_burst=int_between(
            values["handshake_burst"], f"{prefix}handshake_burst", HANDSHAKE_BURST_MAX, HANDSHAKE_BURST_ACCEPTED
        ),
        hsts_max_age=int_between(
            values["hsts_max_age"], f"{prefix}hsts_max_age", HSTS_MAX_AGE_MAX, HSTS_MAX_AGE_ACCEPTED
        ),
        frame_size=frame_size(values["frame_size"], f"{prefix}frame_size"),
    )


#: The keys of the OS layout (vars/<os_family>.yml without its __websocket_proxy_ prefix) the normalisers read.
LAYOUT_KEYS = ("vhost_dir", "vhost_enabled_dir", "vhost_prefix", "snippet_dir")


@dataclass(frozen=True)
class Layout:
    """Where this OS family keeps the role's files: server blocks in ``vhost_dir`` (file names prefixed with
    ``vhost_prefix``), enabled by a link in ``vhost_enabled_dir`` (None: enabled by being there), snippets in
    ``snippet_dir``."""

    vhost_dir: str
    vhost_enabled_dir: str | None
    vhost_prefix: str
    snippet_dir: str


def parse_layout(layout: object, name: str) -> Layout | None:
    """The OS layout the role passes (``{'vhost_dir': '/etc/nginx/sites-available', ...}``), checked; None
    when there is none (then the normalisers return no paths)."""
    if layout is None:
        return None
    where = f"{name} layout"
    values = mapping(layout, where, f"a dict with {', '.join(LAYOUT_KEYS)} (the OS layout, vars/<os_family>.yml)")
    check_keys(values, LAYOUT_KEYS, where)
    for key in LAYOUT_KEYS:
        if key not in values:
            raise ConfigError(f"{where}.{key}: missing")
    dirs: dict[str, str | None] = {}
    for key in ("vhost_dir", "vhost_enabled_dir", "snippet_dir"):
        value = values[key]
        if key == "vhost_enabled_dir" and value in (None, ""):
            dirs[key] = None
            continue
        dirs[key] = validate_token(value, "file_path", f"{where}.{key}")
    prefix = values["vhost_prefix"] or ""
    if prefix:
        validate_token(prefix, "name", f"{where}.vhost_prefix")
    return Layout(
        vhost_dir=dirs["vhost_dir"],
        vhost_enabled_dir=dirs["vhost_enabled_dir"],
        vhost_prefix=prefix,
        snippet_dir=dirs["snippet_dir"],
    )


BACKEND_EXAMPLES = "e.g. 'localhost:5006', 'http://calls-backend:5006' or ['calls-1:5006', 'calls-2:5006']"


def _server_key(address: str) -> str:
    """Host names compare without letter case (as DNS does); socket paths are file names and keep it."""
    return address if address.startswith("unix:") else address.lower()


def _backends(value: object, where: str, allow_uri: bool) -> tuple[list[Server], bool]:
    """A backend or a non-empty list of them (the servers of one upstream, each a string or a mapping with
    ``address`` and server parameters): the parsed servers, and whether they make an upstream (a list, or a
    mapping: its parameters are upstream ``server`` parameters)."""
    if isinstance(value, str):
        return [parse_server(value, where, allow_uri)], False
    if isinstance(value, Mapping):
        return [parse_server(value, where, allow_uri)], True
    if isinstance(value, bytes) or not isinstance(value, Sequence):
        raise ConfigError(f"{where}: {value!r} is not a backend or a non-empty list of backends ({BACKEND_EXAMPLES})")
    if not value:
        raise ConfigError(f"{where}: the list is empty (give a backend or a non-empty list of backends)")
    servers: list[Server] = []
    for index, item in enumerate(value):
        label = f"{where}[{index}]"
        server = parse_server(item, label, allow_uri)
        target = server.target
        shown = _shown(item)
        if servers:
            first = servers[0].target
            if target.scheme != first.scheme:
                raise ConfigError(
                    f"{label}: {shown!r} is {target.scheme} but {where}[0] {_shown(value[0])!r} is {first.scheme}; "
                    f"the servers of one upstream share one proxy_pass, so give them all the same scheme"
                )
            if target.uri != first.uri:
                raise ConfigError(
                    f"{label}: {shown!r} has the URI part {target.uri or 'none'!r} but {where}[0] "
                    f"{_shown(value[0])!r} has {first.uri or 'none'!r}; the servers of one upstream share one "
                    f"proxy_pass, so give them all the same URI part (or none)"
                )
        for other, seen in enumerate(servers):
            if _server_key(seen.target.address) == _server_key(target.address):
                raise ConfigError(
                    f"{label}: {shown!r} is listed twice (the same server as {where}[{other}] {_shown(value[other])!r})"
                )
        servers.append(server)
    if servers[0].target.scheme == "https":
        raise ConfigError(
            f"{where}: {[_shown(item) for item in value]!r} is a list of https backends; a list becomes an nginx "
            f"upstream block, and an https upstream needs proxy_ssl_name (and proxy_ssl_server_name) to send and "
            f"check the backend's own server name instead of the upstream's, which this role does not write; give "
            f"a single https backend instead"
        )
    return servers, True


def _shown(item: object) -> object:
    """A backend as errors show it: the string, or a mapping's address."""
    return item.get("address", item) if isinstance(item, Mapping) else item


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
    servers: list[Server],
    is_list: bool,
    raw: object,
    where: str,
    path: str,
    settings: Defaults,
    snippet: bool,
    balance: str | None,
) -> dict[str, Any]:
    """How the location reaches its backend (see the module docstring). ``_servers`` and ``_balance`` are set
    for an upstream; :func:`assign_upstreams` turns them into the upstream's name."""
    first = servers[0].target
    route: dict[str, Any] = {
        "proxy_pass": first.proxy_pass,
        "dynamic": False,
        "proxy_pass_variable": None,
        "resolver": None,
        "resolver_valid": None,
        "failover": False,
        "_servers": None,
        "_balance": None,
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
        route["_servers"] = [server.to_dict() for server in servers]
        route["_balance"] = balance
        route["failover"] = len(servers) > 1
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
    items = sequence(value, where, "a list of origins ('https://app.example.com', 'https://*.example.com', ...)")
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
    allow_missing = boolean(location.get("allow_missing_origin", True), f"{source}.allow_missing_origin")
    if not allow_missing and not origins:
        raise ConfigError(
            f"{source}.allow_missing_origin: false is set without {source}.allowed_origins; without an allowlist "
            f"every Origin (and none) is accepted, so give allowed_origins too or remove allow_missing_origin"
        )
    limit_conn = (
        int_between(location["limit_conn"], f"{source}.limit_conn", LIMIT_CONN_MAX, LIMIT_CONN_ACCEPTED)
        if "limit_conn" in location
        else settings.limit_conn
    )
    rate = (
        int_between(location["handshake_rate"], f"{source}.handshake_rate", HANDSHAKE_RATE_MAX, HANDSHAKE_RATE_ACCEPTED)
        if "handshake_rate" in location
        else settings.handshake_rate
    )
    burst = (
        int_between(
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


def _frame_size(location: Mapping[str, Any], source: str, settings: Defaults, websocket: bool) -> int | None:
    """A WebSocket location's frame-size hint (its own, else the role-wide one); a plain location refuses one."""
    if "frame_size" not in location:
        return settings.frame_size
    hint = frame_size(location["frame_size"], f"{source}.frame_size")
    if hint is not None and not websocket:
        raise ConfigError(
            f"{source}.frame_size: {location['frame_size']!r} is set, but {source}.websocket is false; frame_size "
            "fits the buffers of WebSocket tunnels, which a plain location never opens. Remove frame_size or set "
            "websocket: true"
        )
    return hint


def normalise_locations(
    value: object, where: str, settings: Defaults, snippet: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """The locations of one vhost (or snippet, which gets its resolver per dynamic location) in the order to
    write them, and the WebSocket URIs they must serve. Locations keep a ``_servers`` key for assign_upstreams."""
    items = sequence(value, where, "a list of locations")
    if not items:
        raise ConfigError(f"{where}: the list is empty; give at least one location with a backend")
    result: list[dict[str, Any]] = []
    uris: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for index, item in enumerate(items):
        source = f"{where}[{index}]"
        location = mapping(item, source, "a dict with path, backend, ...")
        check_keys(location, LOCATION_KEYS, source)
        path = validate_token(location.get("path", DEFAULT_PATH), "location_path", f"{source}.path")
        if "backend" not in location:
            raise ConfigError(f"{source}.backend: missing ({BACKEND_EXAMPLES})")
        backend = location["backend"]
        websocket = boolean(location.get("websocket", True), f"{source}.websocket")
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
        hint = _frame_size(location, source, settings, websocket)
        method, hash_key = parse_balance(location, source)
        balance = balance_directive(method, hash_key)
        entries: list[tuple[dict[str, Any], dict[str, Any]]] = []
        prefix_websocket = websocket
        if endpoints:
            regex = ws_path_regex(endpoints, path, f"{source}.websocket_endpoints")
            servers, is_list = _backends(backend, f"{source}.backend", allow_uri=False)
            servers = websocket_servers(servers)
            route = _route(servers, is_list, backend, f"{source}.backend", regex, settings, snippet, balance)
            entries.append(({"modifier": "~", "path": regex, "websocket": True}, route))
            uris.extend(endpoint_uris(endpoints, path))
            prefix_websocket = False  # the regex serves the endpoints; the prefix is plain
        elif websocket:
            uris.append(path)
        servers, is_list = _backends(backend, f"{source}.backend", allow_uri=True)
        check_servers(method, servers, f"{source}.backend")
        if websocket:  # the prefix and the endpoints' regex share one upstream: the same servers for both
            servers = websocket_servers(servers)
        route = _route(servers, is_list, backend, f"{source}.backend", path, settings, snippet, balance)
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
                "balance": method,
                "hash_key": hash_key,
                "upstream": None,
                **entry_route,
                "client_max_body_size": body_size,
                "proxy_buffer_size": proxy_buffer_size(hint, head["modifier"] == "~") if head["websocket"] else None,
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
    """Name one upstream per distinct set of servers and balancing method (``base_1``, ``base_2``, ... in order of
    first use), point each location's proxy_pass at it, and return the upstreams. Removes the locations'
    ``_servers`` and ``_balance``.

    An upstream of several servers gets a shared memory ``zone``: the workers then share which servers failed
    (max_fails, fail_timeout) and, for least_conn, how many connections each server holds."""
    upstreams: list[dict[str, Any]] = []
    by_servers: dict[tuple[Any, ...], dict[str, Any]] = {}
    for location in locations:
        servers = location.pop("_servers")
        balance = location.pop("_balance")
        if servers is None:
            location["upstream"] = None
            continue
        key = (balance, *sorted((_server_key(server["address"]), server["parameters"]) for server in servers))
        upstream = by_servers.get(key)
        if upstream is None:
            name = f"{base}_{len(upstreams) + 1}"
            upstream = {
                "name": name,
                "balance": balance,
                "zone": name if len(servers) > 1 else None,
                "servers": list(servers),
                "keepalive": keepalive,
                "source": f"{location['source']}.backend",
            }
            by_servers[key] = upstream
            upstreams.append(upstream)
        # The URI part is the same for every server of the list: take it from the direct proxy_pass.
        uri = uri_part(location["proxy_pass"])
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


def uri_part(proxy_pass: str) -> str:
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


STATES = ("present", "absent")


def declared(value: object, where: str) -> bool:
    """Whether a vhost or snippet entry is declared (``state: present``, the default) rather than retired
    (``state: absent``: the role removes what it wrote for it and checks nothing else of the entry)."""
    if isinstance(value, Mapping) and "state" in value:
        state = value["state"]
        if state not in STATES:
            raise ConfigError(f"{where}.state: {state!r} is not one of {', '.join(STATES)}")
        return state == "present"
    return True
