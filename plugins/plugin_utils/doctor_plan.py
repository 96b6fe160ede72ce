# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's plan (filter doctor_plan): what to probe for each WebSocket location.

:func:`doctor_plan` turns the role's normalised vhosts (the output of ``websocket_vhosts``) into one row per
WebSocket location, each with the probes to run on the proxy host: the backend directly (each server of an
upstream), and the same URI through nginx on 127.0.0.1 with the vhost's name as Host and TLS server name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils._doctor import DIRECT, NGINX, read_options
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import describe, match_location
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import ProxyTarget, parse_proxy_target


def host_for(server_names: Sequence[str]) -> str:
    """A Host header a server block with these names answers: the first plain name, else one made from a wildcard."""
    for name in server_names:
        if name and name != "_" and not name.startswith(("~", ".", "*")) and not name.endswith("*"):
            return name
    first = server_names[0] if server_names else "_"
    if first.startswith("*."):
        return "doctor" + first[1:]
    if first.startswith("."):
        return first[1:]
    if first.endswith(".*"):
        return first[:-1] + "test"
    return "localhost"


def origin_for(allowed: Sequence[str]) -> str | None:
    """An Origin a location's allowlist (allowed_origins) accepts: its first entry, a wildcard made concrete."""
    if not allowed:
        return None
    first = str(allowed[0])
    return first.replace("://*.", "://doctor.", 1)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _uri_part(proxy_pass: str) -> str:
    """The URI part of a proxy_pass value (what replaces the location prefix), '' for none or a variable."""
    if "$" in proxy_pass:
        return ""
    try:
        return parse_proxy_target(proxy_pass, "proxy_pass", allow_uri=True).uri
    except ConfigError:
        return ""


def _backend_targets(vhost: Mapping[str, Any], location: Mapping[str, Any]) -> list[ProxyTarget]:
    """The servers nginx proxies this location to: the variable's target, the upstream's servers, or proxy_pass."""
    where = f"{location.get('source', vhost.get('source', 'vhost'))}.backend"
    if location.get("dynamic") and location.get("proxy_pass_variable"):
        return [parse_proxy_target(location["proxy_pass_variable"], where)]
    upstream = location.get("upstream")
    if upstream:
        for item in vhost.get("upstreams") or []:
            if item.get("name") == upstream:
                return [
                    parse_proxy_target(server["address"], where, allow_uri=False) for server in item.get("servers", [])
                ]
    return [parse_proxy_target(location["proxy_pass"], where)]


def _probe_uri(
    location: Mapping[str, Any], user_path: str, vhost: Mapping[str, Any], options: Mapping[str, Any]
) -> str:
    """doctor_probe_uris by the path as the user wrote it; else a WebSocket endpoint the location serves;
    else the path and doctor_endpoint."""
    overrides = options["probe_uris"]
    if user_path in overrides:
        return overrides[user_path]
    if location.get("modifier") in ("~", "~*"):
        own = [
            uri
            for uri in vhost.get("websocket_uris") or []
            if (found := match_location(vhost["locations"], uri)) is not None and found.location is location
        ]
        if own:
            return own[0]
    path = str(location["path"])
    endpoint = options["endpoint"]
    if not endpoint:
        return path
    return (path if path.endswith("/") else path + "/") + endpoint


def _direct_url(target: ProxyTarget, path: str) -> str:
    """ws:// (wss:// for https) to the backend itself; a Unix socket gets 'localhost' (the socket goes apart)."""
    secure = target.scheme == "https"
    if target.unix_path:
        where = "localhost"
    else:
        where = f"{_url_host(target.host or 'localhost')}:{target.port or (443 if secure else 80)}"
    return f"{'wss' if secure else 'ws'}://{where}{path}"


def _direct_path(uri: str, location: Mapping[str, Any]) -> str:
    """The path the backend sees for ``uri``: a URI part in proxy_pass replaces the location prefix."""
    part = _uri_part(str(location.get("proxy_pass", "")))
    path = str(location["path"])
    if part and (location.get("modifier") or "") in ("", "^~", "=") and uri.startswith(path):
        return part + uri[len(path) :]
    return uri


def doctor_plan(vhosts: object, options: object = None) -> dict[str, Any]:
    """One entry per WebSocket location of the normalised vhosts, and the probes to run for them."""
    opts = read_options(options)
    if isinstance(vhosts, (str, bytes)) or not isinstance(vhosts, Sequence):
        raise ConfigError(f"websocket_proxy_vhosts: {vhosts!r} is not a list of normalised vhosts (websocket_vhosts)")
    locations: list[dict[str, Any]] = []
    probes: list[dict[str, Any]] = []
    common = {"timeout": opts["timeout"], "echo": opts["echo"], "payload_size": opts["payload_size"] or None}
    for vhost in vhosts:
        if not isinstance(vhost, Mapping) or "locations" not in vhost or "listen" not in vhost:
            raise ConfigError(
                f"websocket_proxy_vhosts: {vhost!r} is not a normalised vhost (pass websocket_vhosts' output)"
            )
        host = host_for(vhost.get("server_names") or [])
        listen = vhost["listen"][0]
        port, tls = int(listen["port"]), bool(listen.get("ssl"))
        user_paths = {
            item.get("source"): item["path"] for item in vhost["locations"] if (item.get("modifier") or "") == ""
        }
        for location in vhost["locations"]:
            if not location.get("websocket"):
                continue
            index = len(locations)
            uri = _probe_uri(location, user_paths.get(location.get("source"), location["path"]), vhost, opts)
            targets = _backend_targets(vhost, location)
            origin = opts["origin"] or origin_for(location.get("allowed_origins") or [])
            entry = {
                "id": index,
                "vhost": vhost.get("name", host),
                "source": location.get("source", ""),
                "server_name": host,
                "port": port,
                "tls": tls,
                "modifier": location.get("modifier") or "",
                "path": location["path"],
                "location": describe(location),
                "uri": uri,
                "proxy_pass": location.get("proxy_pass"),
                "backends": [target.address for target in targets],
                "origin": origin,
                "label": f"{vhost.get('name', host)}:{port} {describe(location)}",
            }
            locations.append(entry)
            for target in targets:
                probes.append(
                    {
                        "location": index,
                        "hop": DIRECT,
                        "backend": target.address,
                        "label": f"{entry['label']}: backend {target.address}",
                        "args": {
                            "url": _direct_url(target, _direct_path(uri, location)),
                            "unix_socket": target.unix_path,
                            "host_header": host,
                            # nginx does not check a backend's certificate unless proxy_ssl_verify is on.
                            "validate_certs": target.scheme != "https",
                            "origin": origin,
                            **common,
                        },
                    }
                )
            probes.append(
                {
                    "location": index,
                    "hop": NGINX,
                    "label": f"{entry['label']}: through nginx",
                    "args": {
                        "url": f"{'wss' if tls else 'ws'}://127.0.0.1:{port}{uri}",
                        "host_header": host,
                        "server_name": host,
                        "validate_certs": opts["validate_certs"],
                        "ca_file": opts["ca_file"],
                        "origin": origin,
                        **common,
                    },
                }
            )
    return {"locations": locations, "probes": probes}
