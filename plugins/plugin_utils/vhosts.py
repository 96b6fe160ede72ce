# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""websocket_proxy_vhosts as the user writes it, into exactly what the role's templates read.

Every string is validated by the functions of this package, every combination nginx would
refuse or silently resolve in a surprising way is refused, and finally nginx's own location
selection proves that every WebSocket endpoint URI reaches a WebSocket-capable location.

The locations, their routes to the backends (direct, upstream or dynamic), upstream blocks and
Origin maps are made as for snippets, by :mod:`_normalise`. Given the OS layout, each vhost also
carries the files it owns there (:func:`vhost_files`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils._normalise import (
    HSTS_MAX_AGE_ACCEPTED,
    HSTS_MAX_AGE_MAX,
    Defaults,
    Layout,
    assign_origin_maps,
    assign_upstreams,
    boolean,
    check_bases,
    check_keys,
    declared,
    int_between,
    mapping,
    normalise_locations,
    parse_defaults,
    parse_layout,
    sequence,
    upstream_base,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import routing_problems
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import validate_token

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
    "state",
)
TLS_KEYS = ("certificate", "certificate_key", "http2", "chain", "acme")
#: Where certbot keeps a lineage's current certificate and key (symlinks it moves at each renewal).
ACME_LIVE_DIR = "/etc/letsencrypt/live"

PORT_ACCEPTED = "an integer 1-65535 or a list of them"

REDIRECT_PORT = 80


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


def _tls(value: object, where: str, name: str, server_names: Sequence[str]) -> dict[str, Any] | None:
    if value is None:
        return None
    tls = mapping(value, where, "a dict with certificate, certificate_key and optionally http2, or with acme: true")
    check_keys(tls, TLS_KEYS, where)
    result: dict[str, Any] = {}
    acme = boolean(tls.get("acme", False), f"{where}.acme")
    if acme:
        result.update(_acme(tls, where, name, server_names))
    else:
        for key in ("certificate", "certificate_key"):
            if key not in tls:
                raise ConfigError(
                    f"{where}.{key}: missing (an absolute file path is required, or acme: true to get the "
                    f"certificate from an ACME CA such as Let's Encrypt)"
                )
            result[key] = validate_token(tls[key], "file_path", f"{where}.{key}")
        result["acme"] = None
    result["http2"] = boolean(tls.get("http2", True), f"{where}.http2")
    # The CA chain (intermediates and root) for OCSP stapling: nginx fetches the CA's signed OCSP answer for the
    # certificate and hands it to clients, and checks it against this chain (ssl_trusted_certificate).
    chain = tls.get("chain")
    result["chain"] = validate_token(chain, "file_path", f"{where}.chain") if chain is not None else None
    result["stapling"] = chain is not None
    result["source"] = where
    return result


def _acme(tls: Mapping[str, Any], where: str, name: str, server_names: Sequence[str]) -> dict[str, Any]:
    """An ACME vhost: certbot's lineage named after the vhost, for every server name (HTTP-01 proves each)."""
    for key in ("certificate", "certificate_key", "chain"):
        if key in tls:
            raise ConfigError(
                f"{where}.{key}: {tls[key]!r} is set, but {where}.acme is true; the ACME client gets and renews the "
                f"certificate (and its chain) itself. Remove {key}, or acme"
            )
    for index, server_name in enumerate(server_names):
        if server_name.startswith(("*", ".", "~")) or server_name.endswith("*") or server_name == "_":
            raise ConfigError(
                f"{where}.acme: true, but server name {server_name!r} (server_name[{index}]) is a wildcard, a "
                f"regex or the catch-all; the HTTP-01 challenge proves one exact name at a time, so an ACME "
                f"certificate cannot cover it. List the exact names, or give a certificate of your own"
            )
    live = f"{ACME_LIVE_DIR}/{name}"
    return {
        "certificate": f"{live}/fullchain.pem",
        "certificate_key": f"{live}/privkey.pem",
        "acme": {"cert_name": name, "domains": list(server_names)},
    }


def _vhost(value: object, where: str, settings: Defaults) -> tuple[dict[str, Any], str]:
    vhost = mapping(value, where, "a dict with server_name, locations, ...")
    check_keys(vhost, VHOST_KEYS, where)

    if "server_name" not in vhost:
        raise ConfigError(f"{where}.server_name: missing (a server name or a non-empty list of them)")
    raw_names = vhost["server_name"]
    if isinstance(raw_names, str):
        names_list: Sequence[Any] = [raw_names]
        shown = [f"{where}.server_name"]
    else:
        names_list = sequence(raw_names, f"{where}.server_name", "a server name or a non-empty list of them")
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

    tls = _tls(vhost.get("tls"), f"{where}.tls", name, server_names)
    ports = _ports(vhost["listen"], f"{where}.listen") if "listen" in vhost else [443 if tls else 80]
    default_server = boolean(vhost.get("default_server", False), f"{where}.default_server")

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
    redirect = _redirect(vhost, where, tls, ports)

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
        int_between(vhost["hsts_max_age"], f"{where}.hsts_max_age", HSTS_MAX_AGE_MAX, HSTS_MAX_AGE_ACCEPTED)
        if "hsts_max_age" in vhost
        else settings.hsts_max_age
    )
    subdomains = boolean(vhost.get("hsts_include_subdomains", False), f"{where}.hsts_include_subdomains")
    if subdomains and not max_age:
        raise ConfigError(
            f"{where}.hsts_include_subdomains: true, but no HSTS is sent ({where}.hsts_max_age and "
            f"{settings.prefix}hsts_max_age are 0); set hsts_max_age too"
        )
    if not tls or not max_age:
        return None
    return f"max-age={max_age}" + ("; includeSubDomains" if subdomains else "")


def _redirect(
    vhost: Mapping[str, Any], where: str, tls: Mapping[str, Any] | None, ports: list[int]
) -> dict[str, Any] | None:
    """The port-80 server of a TLS vhost, or None: it sends every plain-HTTP request to the same URL over https
    (301, ``redirect_http``), and for an ACME vhost answers the HTTP-01 challenge (``acme``) first; an ACME vhost
    without redirect_http answers everything else with 404."""
    redirect = boolean(vhost.get("redirect_http", False), f"{where}.redirect_http")
    acme = bool(tls and tls["acme"])
    if not redirect and not acme:
        return None
    if tls is None:
        raise ConfigError(
            f"{where}.redirect_http: true on a vhost without tls; there is no https to redirect to. Give the vhost "
            f"tls or remove redirect_http"
        )
    if REDIRECT_PORT in ports:
        key = "redirect_http" if redirect else "tls.acme"
        why = "the redirect server" if redirect else "the ACME challenge server (HTTP-01 is always on port 80)"
        raise ConfigError(
            f"{where}.{key}: true, but {where}.listen {ports!r} already serves TLS on port {REDIRECT_PORT}, where "
            f"{why} would listen; remove port {REDIRECT_PORT} from listen"
        )
    port = ports[0]
    # $host is the request's Host (lower case, without port), and this server answers only for the vhost's names.
    target = "https://$host" + ("" if port == 443 else f":{port}") + "$request_uri"
    return {
        "port": REDIRECT_PORT,
        "location": target if redirect else None,
        "acme": acme,
        "source": f"{where}.redirect_http" if redirect else f"{where}.tls.acme",
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


#: The TLS files a vhost names, in the order preflight looks for them.
TLS_FILE_KEYS = ("certificate", "certificate_key", "chain")


def vhost_files(vhost: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
    """The files a normalised vhost owns on this OS layout: ``conf``, its server block
    (``<vhost_dir>/<vhost_prefix><name>.conf``); ``link``, what enables it (an nginx_files link,
    ``{path: <vhost_enabled_dir>/<name>.conf, src: conf, name: source}``), or None where being in vhost_dir
    enables it; ``tls``, every file its tls names (``{path, missing}``, missing being what preflight says
    when the host lacks it)."""
    conf = f"{layout.vhost_dir}/{layout.vhost_prefix}{vhost['name']}.conf"
    link = None
    if layout.vhost_enabled_dir is not None:
        link = {"path": f"{layout.vhost_enabled_dir}/{vhost['name']}.conf", "src": conf, "name": vhost["source"]}
    tls = vhost["tls"] or {}
    owner = f"vhost {vhost['name']}"
    return {
        "conf": conf,
        "link": link,
        # For the role's manifest: every path this vhost owns, and whose it is.
        "owned": [{"path": conf, "name": owner}] + ([{"path": link["path"], "name": owner}] if link else []),
        "tls": [
            {
                "path": tls[key],
                "missing": f"{tls['source']}.{key}: {json.dumps(tls[key])} does not exist or is a folder",
            }
            for key in TLS_FILE_KEYS
            if tls.get(key) and not tls.get("acme")
        ],
    }


def websocket_vhosts(
    vhosts: object, defaults: object, name: str = "websocket_proxy_vhosts", layout: object = None
) -> list[dict[str, Any]]:
    """Validate and normalise the role's vhosts; see the filter's documentation for both schemas. With ``layout``
    (the OS layout, see :func:`_normalise.parse_layout`), each vhost also has ``files`` (:func:`vhost_files`)."""
    settings = parse_defaults(defaults, name)
    where = parse_layout(layout, name)
    items = sequence(vhosts, name, "a list of vhosts")
    result = []
    bases = {}
    for index, item in enumerate(items):
        if not declared(item, f"{name}[{index}]"):
            continue
        vhost, bases[f"{name}[{index}]"] = _vhost(item, f"{name}[{index}]", settings)
        result.append(vhost)
    _across(result)
    check_bases(result, bases, "vhosts")
    if where is not None:
        for vhost in result:
            vhost["files"] = vhost_files(vhost, where)
    return result
