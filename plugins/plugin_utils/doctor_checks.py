# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What nginx -T says about one planned location: small checks, each returning its issues.

:func:`analyse` first follows the location's URI through nginx (:func:`route`): the server block nginx picks
for 127.0.0.1:port and the vhost's name, the location that serves the URI (nginx's own selection rules,
``locations.match_location``), and its proxy_pass. When the URI never reaches a proxying location, that is
the finding and nothing more is checked. Otherwise each of :data:`LOCATION_CHECKS` looks at the location that
serves it, in the order their issues are reported:

* the map: a variable of the WebSocket headers (or ``$connection_upgrade``) defined twice, nginx silently
  using the last one (broken when that one gives the wrong value, a warning otherwise);
* the location: no ``proxy_http_version 1.1``, no Upgrade or no Connection header with ``upgrade``;
* nginx to the backend: an upstream or a proxy_pass that differs from the inventory (warnings);
* Socket.IO's path spread over several servers without a sticky method (a warning: its long-polling requests
  of one session must reach one server);
* a read timeout shorter than the streams need (a warning).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils._doctor import BROKEN, WARN, Issue, where
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_nginx import (
    NginxConfig,
    Resolver,
    last_directive,
    locations_of,
    proxy_headers,
    server_for,
    upstream_servers,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import duration_ms
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import describe, match_location
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.nginx_dump import Directive, Server

#: nginx's defaults for the directives the doctor reads, when no level sets them.
NGINX_DEFAULT_READ_TIMEOUT = "60s"
NGINX_DEFAULT_HTTP_VERSION = "1.0"
#: The variable the seed and the role use for the Connection header: checked even where no location uses it.
CONNECTION_MAP = "connection_upgrade"

HEADERS_FIX = (
    "proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade"
)


@dataclass
class Analysis:
    """The issues found for one location, in order, and what the verdict quotes."""

    issues: list[Issue] = field(default_factory=list)
    served_by: str | None = None
    proxy_pass: str | None = None
    proxy_pass_where: str | None = None
    note: str | None = None

    def first(self, severity: str) -> Issue | None:
        return next((issue for issue in self.issues if issue.severity == severity), None)


@dataclass(frozen=True)
class Served:
    """The location that serves the planned URI, when it proxies: what the location checks read."""

    config: NginxConfig
    entry: Mapping[str, Any]  # the plan's row
    server: Server  # the server block nginx picks
    directive: Directive  # the location block
    shown: str  # the location as written: '~ ^/api/'
    kind: str  # how match_location picked it: 'prefix', 'regex', ...
    own: bool  # it is the planned location itself
    blocks: list[Sequence[Directive]]  # location, server, http: where inherited settings come from
    proxy_pass: Directive
    problems: list[str]  # what keeps it from forwarding a WebSocket handshake; empty when it would
    used: list[str]  # the map variables its Upgrade and Connection headers go through
    min_read_ms: int
    min_read: str  # doctor_min_read_timeout as given


@dataclass
class Route:
    """Where nginx sends the URI: the issues on the way, and the location it reaches if that proxies."""

    issues: list[Issue] = field(default_factory=list)
    served_by: str | None = None
    note: str | None = None
    served: Served | None = None


# --------------------------------------------------------------------------- the route to the location


def _nothing_listens(port: int) -> Issue:
    return Issue(
        BROKEN,
        "nginx server",
        f"nothing listens on port {port}",
        f"no server block in nginx -T listens on port {port}: the vhost file is not enabled "
        f"(sites-enabled link missing?) or its listen directive changed",
    )


def _default_server(server: Server, host: str, port: int) -> Issue:
    return Issue(
        BROKEN,
        "nginx server",
        f"no server block for {host} on port {port}",
        f"no server block has server_name {host} on port {port}, so nginx answers with the default "
        f"server of that port ({server.file}:{server.line}, server_name {' '.join(server.server_names)})",
    )


def _no_location(server: Server, uri: str) -> Issue:
    return Issue(
        BROKEN,
        "location order",
        f"no location serves {uri}",
        f"no location of the server block at {server.file}:{server.line} matches {uri}: nginx answers 404",
    )


def _redirected(uri: str, shown: str, directive: Directive) -> Issue:
    return Issue(
        BROKEN,
        "location order",
        f"{uri} is redirected by location '{shown}'",
        f"location '{shown}' ({where(directive)}) answers {uri} with a 301 to {uri}/, and a WebSocket "
        f"client does not follow redirects: probe (and connect to) a path inside the location",
    )


def _not_proxying(uri: str, shown: str, directive: Directive, own: bool) -> Issue:
    return Issue(
        BROKEN,
        "location order" if not own else "nginx location",
        f"{uri} is served by location '{shown}', which does not proxy",
        f"location '{shown}' ({where(directive)}) serves {uri} but has no proxy_pass: nginx answers it "
        f"itself (404 or a file)",
    )


def location_problems(blocks: list[Sequence[Directive]], resolver: Resolver) -> list[str]:
    """What keeps a location from forwarding a WebSocket handshake, in words; empty when it would."""
    missing = []
    version = last_directive(blocks, "proxy_http_version")
    value = version.args[0] if version and version.args else NGINX_DEFAULT_HTTP_VERSION
    if value != "1.1":
        missing.append(f"proxy_http_version is {value}, WebSocket needs 1.1")
    headers = {d.args[0].lower(): d for d in proxy_headers(blocks)}
    for name, token in (("upgrade", "websocket"), ("connection", "upgrade")):
        directive = headers.get(name)
        shown = name.capitalize()
        if directive is None:
            missing.append(f"no proxy_set_header {shown} (nginx drops the client's {shown}: it is hop-by-hop)")
            continue
        resolved = resolver.value(directive.args[1])
        if resolved is not None and token not in resolved.lower():
            missing.append(
                f"proxy_set_header {shown} {directive.args[1]} ({where(directive)}) gives {resolved!r} to a "
                f"WebSocket handshake, not {token!r}"
            )
    return missing


def route(config: NginxConfig, entry: Mapping[str, Any], min_read_ms: int, min_read: str) -> Route:
    """Follow the planned URI to the server block and the location nginx picks; stop where it goes astray."""
    host, port, uri = entry["server_name"], int(entry["port"]), entry["uri"]
    server, how = server_for(config, host, port)
    if server is None:
        return Route([_nothing_listens(port)])
    issues = [_default_server(server, host, port)] if how == "default" else []
    try:
        found = match_location(locations_of(server), uri, f"server {server.file}:{server.line}")
    except ConfigError as exc:
        return Route(issues, note=f"cannot tell which location serves {uri}: {exc}")
    if found is None:
        return Route([*issues, _no_location(server, uri)])
    directive: Directive = found.location["directive"]
    shown = describe(found.location)
    served_by = f"location '{shown}' ({where(directive)})"
    own = (found.location["modifier"], found.location["path"]) == (entry["modifier"], entry["path"])
    if found.kind == "redirect":
        return Route([*issues, _redirected(uri, shown, directive)], served_by)
    proxy_pass = last_directive([directive.block or ()], "proxy_pass")
    if proxy_pass is None:
        return Route([*issues, _not_proxying(uri, shown, directive, own)], served_by)
    blocks: list[Sequence[Directive]] = [directive.block or (), server.directives, config.http]
    resolver = Resolver(config.maps)
    problems = location_problems(blocks, resolver)
    served = Served(
        config=config,
        entry=entry,
        server=server,
        directive=directive,
        shown=shown,
        kind=found.kind,
        own=own,
        blocks=blocks,
        proxy_pass=proxy_pass,
        problems=problems,
        used=resolver.used,
        min_read_ms=min_read_ms,
        min_read=min_read,
    )
    return Route(issues, served_by, served=served)


# --------------------------------------------------------------------------- checks of the serving location


def duplicate_maps(served: Served) -> list[Issue]:
    """A variable the headers go through (or $connection_upgrade) defined by several maps: nginx uses the last."""
    maps = served.config.maps
    issues = []
    for variable in dict.fromkeys([*served.used, CONNECTION_MAP]):
        definitions = maps.get(variable, [])
        if len(definitions) < 2:
            continue
        places = ", ".join(where(d) for d in definitions)
        value = Resolver(maps).variable(variable, 0)
        wrong = variable in served.used and any(f"${variable}" in problem for problem in served.problems)
        gives = "" if value is None else f"which gives {value!r} to a WebSocket handshake"
        if wrong:
            outcome = gives or "which gives the wrong value"
        else:
            outcome = f"{gives} (right, for now)" if gives else "which happens to be right, for now"
        times = "twice" if len(definitions) == 2 else f"{len(definitions)} times"
        issues.append(
            Issue(
                BROKEN if wrong else WARN,
                "map",
                f"map ${variable} defined {times}",
                f"${variable} is defined {times} ({places}); nginx accepts that without a word "
                f"and uses the last one ({where(definitions[-1])}), {outcome}. Keep one definition (the role's is "
                f"conf.d/websocket_proxy_map.conf) and remove the others",
            )
        )
    return issues


def upgrade_headers(served: Served) -> list[Issue]:
    """The location that serves the URI does not forward the upgrade: the planned one, or one shadowing it."""
    if not served.problems:
        return []
    problems = "; ".join(served.problems)
    if served.own:
        return [
            Issue(
                BROKEN,
                "nginx location",
                "nginx does not forward Upgrade/Connection",
                f"location '{served.shown}' ({where(served.directive)}): {problems}. The backend gets a plain "
                f"request. Fix: {HEADERS_FIX}",
            )
        ]
    uri = served.entry["uri"]
    kind = "a regex location, tried before any prefix location" if served.kind == "regex" else "a location"
    return [
        Issue(
            BROKEN,
            "location order",
            f"{uri} is served by location '{served.shown}', not WebSocket-capable",
            f"{uri} is served by location '{served.shown}' ({where(served.directive)}), {kind}, instead of location "
            f"'{served.entry['location']}'; it is not WebSocket-capable: {problems}. Make it not match the "
            f"WebSocket endpoints, or give it the WebSocket headers",
        )
    ]


def _proxy_pass(served: Served) -> str:
    return served.proxy_pass.args[0] if served.proxy_pass.args else ""


def upstream_differs(served: Served) -> list[Issue]:
    """The upstream the planned location proxies to sends to other servers than the inventory says."""
    upstream = upstream_servers(served.config, _proxy_pass(served))
    if upstream is None or not served.own:
        return []
    block, servers_now = upstream
    backends = served.entry.get("backends") or []
    if sorted(s.lower() for s in servers_now) == sorted(str(b).lower() for b in backends):
        return []
    now, planned = ", ".join(servers_now) or "no server", ", ".join(backends)
    return [
        Issue(
            WARN,
            "backend via nginx",
            f"upstream {block.args[0]} sends to {now}, the inventory says {planned}",
            f"upstream {block.args[0]} ({where(block)}) sends to {now}, but websocket_proxy_vhosts says {planned}: "
            f"the file was edited by hand, or the role has not run since the inventory changed",
        )
    ]


def proxy_pass_differs(served: Served) -> list[Issue]:
    """The planned location's proxy_pass is not the one the inventory gives."""
    planned, now = served.entry.get("proxy_pass"), _proxy_pass(served)
    if not (planned and now and now.rstrip("/") != str(planned).rstrip("/") and served.own):
        return []
    return [
        Issue(
            WARN,
            "backend via nginx",
            f"proxy_pass {now}, the inventory says {planned}",
            f"proxy_pass is {now} ({where(served.proxy_pass)}), but websocket_proxy_vhosts says "
            f"{planned}: the file was edited by hand, or the role has not run since the inventory changed",
        )
    ]


#: Where Socket.IO's clients connect unless the app sets another ``path``; and the methods that keep a client on
#: one server (nginx's own, and the commercial ``sticky``).
SOCKET_IO_PATH = "/socket.io/"
STICKY_DIRECTIVES = ("ip_hash", "hash", "sticky")


def _serves_socket_io(served: Served) -> bool:
    """The location serves Socket.IO: its path or the probed URI names it, or it is where /socket.io/ goes."""
    if "socket.io" in served.entry["uri"] or "socket.io" in str(served.entry["path"]):
        return True
    try:
        found = match_location(locations_of(served.server), SOCKET_IO_PATH, "server")
    except ConfigError:
        return False
    return found is not None and found.location["directive"] is served.directive


def socket_io_without_stickiness(served: Served) -> list[Issue]:
    """Several servers behind Socket.IO's path, spread without a sticky method."""
    upstream = upstream_servers(served.config, _proxy_pass(served))
    if upstream is None:
        return []
    block, _servers = upstream
    primaries = [d for d in block.block or () if d.name == "server" and not {"backup", "down"} & set(d.args[1:])]
    if len(primaries) < 2 or any(d.name in STICKY_DIRECTIVES for d in block.block or ()):
        return []
    if not _serves_socket_io(served):
        return []
    method = next((d.name for d in block.block or () if d.name == "least_conn"), "round robin")
    return [
        Issue(
            WARN,
            "backend via nginx",
            f"Socket.IO over {len(primaries)} servers by {method}, not sticky",
            f"location '{served.shown}' ({where(served.directive)}) serves Socket.IO's path and spreads it over "
            f"{len(primaries)} servers of upstream {block.args[0]} ({where(block)}) by {method}: a Socket.IO "
            f"client starts with HTTP long-polling, and its next request reaching another server gets "
            f"'400 Session ID unknown' (its upgrade fails the same way). Make it sticky: balance: ip_hash, or "
            f"balance: hash with hash_key: '$remote_addr'",
        )
    ]


def read_timeout(served: Served) -> list[Issue]:
    """proxy_read_timeout shorter than doctor_min_read_timeout: nginx closes quiet WebSockets that soon."""
    if served.problems:
        return []  # a read timeout matters once the location forwards WebSockets at all
    timeout = last_directive(served.blocks, "proxy_read_timeout")
    value = timeout.args[0] if timeout and timeout.args else NGINX_DEFAULT_READ_TIMEOUT
    shown = where(timeout) if timeout else "nginx's default"
    try:
        read_ms = duration_ms(value, "proxy_read_timeout")
    except ConfigError:
        return []
    if read_ms >= served.min_read_ms:
        return []
    return [
        Issue(
            WARN,
            "timeout",
            f"proxy_read_timeout {value} < {served.min_read}",
            f"proxy_read_timeout is {value} ({shown}), shorter than {served.min_read} (doctor_min_read_timeout): "
            f"nginx closes a WebSocket on which the backend sends nothing for {value}. The seed uses 86400 "
            f"(24h); the role's websocket_proxy_read_timeout sets it",
        )
    ]


#: The checks of the location that serves the URI, in the order their issues are reported.
LOCATION_CHECKS: tuple[Callable[[Served], list[Issue]], ...] = (
    duplicate_maps,
    upgrade_headers,
    upstream_differs,
    proxy_pass_differs,
    socket_io_without_stickiness,
    read_timeout,
)


def analyse(config: NginxConfig, entry: Mapping[str, Any], min_read_ms: int, min_read: str) -> Analysis:
    """What nginx -T says about one planned location: the route to it, then every location check."""
    if config.dump is None:
        return Analysis()
    found = route(config, entry, min_read_ms, min_read)
    result = Analysis(issues=found.issues, served_by=found.served_by, note=found.note)
    served = found.served
    if served is None:
        return result
    result.proxy_pass, result.proxy_pass_where = _proxy_pass(served), where(served.proxy_pass)
    for check in LOCATION_CHECKS:
        result.issues += check(served)
    if not served.problems and not served.own:
        result.note = (
            f"served by location '{served.shown}' ({where(served.directive)}), not '{entry['location']}'; "
            f"it is WebSocket-capable"
        )
    return result
