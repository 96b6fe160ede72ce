# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""websocket_proxy_vhosts as the user writes it, into exactly what the role's templates read.

Every string is validated by the functions of this package, every combination nginx would
refuse or silently resolve in a surprising way is refused, and finally nginx's own location
selection proves that every WebSocket endpoint URI reaches a WebSocket-capable location.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import nginx_duration
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import describe, routing_problems
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import proxy_target
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import validate_token
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.ws_regex import (
    endpoint_uris,
    validate_endpoints,
    ws_path_regex,
)

VHOST_KEYS = ("server_name", "name", "listen", "default_server", "tls", "locations")
TLS_KEYS = ("certificate", "certificate_key", "http2")
LOCATION_KEYS = (
    "path",
    "backend",
    "websocket",
    "websocket_endpoints",
    "read_timeout",
    "send_timeout",
    "connect_timeout",
)
TIMEOUT_KEYS = ("read_timeout", "send_timeout", "connect_timeout")
DEFAULT_PATH = "/api/"
PORT_ACCEPTED = "an integer 1-65535 or a list of them"


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


def _defaults(defaults: object, name: str) -> dict[str, str]:
    """Validate the role-wide timeouts. Errors name the role variable they come from:
    'websocket_proxy_read_timeout' when ``name`` is 'websocket_proxy_vhosts'."""
    prefix = name[: -len("vhosts")] if name.endswith("_vhosts") else f"{name} defaults."
    values = _mapping(defaults, f"{prefix}*", f"a dict with {', '.join(TIMEOUT_KEYS)}")
    _keys(values, TIMEOUT_KEYS, f"{prefix}*")
    result = {}
    for key in TIMEOUT_KEYS:
        if key not in values:
            raise ConfigError(f"{prefix}{key}: missing (a duration is required)")
        result[key] = nginx_duration(values[key], f"{prefix}{key}")
    return result


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
    result["source"] = where
    return result


def _locations(value: object, where: str, timeouts: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
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
            raise ConfigError(f"{source}.backend: missing (e.g. 'localhost:5006' or 'http://calls-backend:5006')")
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
            key: nginx_duration(location[key], f"{source}.{key}") if key in location else timeouts[key]
            for key in TIMEOUT_KEYS
        }
        entries = []
        prefix_websocket = websocket
        if endpoints:
            entries.append(
                {
                    "modifier": "~",
                    "path": ws_path_regex(endpoints, path, f"{source}.websocket_endpoints"),
                    "proxy_pass": proxy_target(backend, f"{source}.backend", allow_uri=False),
                    "websocket": True,
                }
            )
            uris.extend(endpoint_uris(endpoints, path))
            prefix_websocket = False  # the regex serves the endpoints; the prefix is plain
        elif websocket:
            uris.append(path)
        proxy_pass = proxy_target(backend, f"{source}.backend")
        entries.append({"modifier": "", "path": path, "proxy_pass": proxy_pass, "websocket": prefix_websocket})
        for entry in entries:
            entry.update(times)
            entry["source"] = source
            key = (entry["modifier"], entry["path"])
            if key in seen:
                raise ConfigError(
                    f"{source}: location {describe(entry)!r} is already defined by {seen[key]} "
                    f"(each location may appear once in a vhost)"
                )
            seen[key] = source
            result.append(entry)
    return result, uris


def _vhost(value: object, where: str, timeouts: Mapping[str, str]) -> dict[str, Any]:
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
    for server_name, label in zip(names_list, shown):
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
    locations, uris = _locations(vhost["locations"], f"{where}.locations", timeouts)
    problems = routing_problems(locations, [(uri, True) for uri in uris], f"{where}.locations")
    if problems:
        raise ConfigError("; ".join(problems))

    return {
        "name": name,
        "server_names": server_names,
        "listen": [{"port": port, "ssl": tls is not None, "default_server": default_server} for port in ports],
        "tls": tls,
        "locations": locations,
        "websocket_uris": uris,
        "source": where,
    }


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
        for listen in vhost["listen"]:
            port = listen["port"]
            for server_name in vhost["server_names"]:
                key = (server_name.lower(), port)
                if key in served:
                    raise ConfigError(
                        f"{where}.server_name: {server_name!r} on port {port} is already served by {served[key]}; "
                        f"nginx would ignore one of them (conflicting server name)"
                    )
                served[key] = where
            if listen["default_server"]:
                if port in defaults:
                    raise ConfigError(
                        f"{where}.default_server: port {port} already has a default server, {defaults[port]}; "
                        f"nginx refuses a duplicate default server"
                    )
                defaults[port] = where
            http2 = bool(vhost["tls"] and vhost["tls"]["http2"])
            if port in tls_by_port:
                other_ssl, other_http2, other = tls_by_port[port]
                if other_ssl != listen["ssl"]:
                    raise ConfigError(
                        f"{where}.listen: port {port} is {'TLS' if listen['ssl'] else 'plain HTTP'} here but "
                        f"{'TLS' if other_ssl else 'plain HTTP'} in {other}; nginx applies 'ssl' to every server "
                        f"on a port, so one of them would not work as written"
                    )
                if listen["ssl"] and other_http2 != http2:
                    raise ConfigError(
                        f"{where}.tls.http2: {http2!r} differs from {other} on port {port}; nginx before 1.25.1 "
                        f"enables http2 for every server on a port, so give both the same value"
                    )
            else:
                tls_by_port[port] = (listen["ssl"], http2, where)


def websocket_vhosts(vhosts: object, defaults: object, name: str = "websocket_proxy_vhosts") -> list[dict[str, Any]]:
    """Validate and normalise the role's vhosts; see the filter's documentation for both schemas."""
    timeouts = _defaults(defaults, name)
    items = _list(vhosts, name, "a list of vhosts")
    result = [_vhost(item, f"{name}[{index}]", timeouts) for index, item in enumerate(items)]
    _across(result)
    return result
