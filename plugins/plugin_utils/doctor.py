# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's logic: what to probe for each WebSocket location, and which hop is broken.

The playbook wsproxy.nginx.doctor stays thin; everything it decides is here:

* :func:`doctor_plan` turns the role's normalised vhosts (the output of ``websocket_vhosts``) into one
  row per WebSocket location, each with the probes to run on the proxy host: the backend directly
  (each server of an upstream), and the same URI through nginx on 127.0.0.1 with the vhost's name as
  Host and TLS server name.
* :func:`doctor_verdict` reads the probe results (``websocket_probe``) and ``nginx -T``, and names the
  first broken hop of each location, walking from the backend towards the client:

  1. the backend: down, not resolvable, or not speaking WebSocket at that path (probed directly);
  2. nginx's configuration on disk: ``nginx -t`` fails (a map that is missing, ...), so the next reload fails;
  3. TLS between the client and nginx: certificate unknown, wrong name, handshake failure;
  4. routing in nginx: no server block for the name, or the URI served by a location that is not
     WebSocket-capable (nginx's own selection rules, ``locations.match_location``, on the locations
     parsed from ``nginx -T``);
  5. the location: no ``proxy_http_version 1.1``, no Upgrade or no Connection header with ``upgrade``;
  6. the map: ``$connection_upgrade`` defined twice (nginx silently uses the last one), or giving the
     wrong value to a WebSocket handshake;
  7. nginx to the backend: 502 (and where proxy_pass differs from the inventory), 504.

  Warnings do not break anything today: a read timeout shorter than the streams need, a duplicate map
  that happens to agree, a proxy_pass that differs from the inventory while it works.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import duration_ms
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import describe, match_location
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.nginx_dump import (
    Directive,
    Dump,
    Server,
    parse_dump,
    parse_location,
    servers,
    walk,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.pcre import compile_pcre
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import ProxyTarget, parse_proxy_target

OK, WARN, BROKEN = "ok", "warn", "broken"
DIRECT, NGINX = "direct", "nginx"

OPTION_DEFAULTS: dict[str, Any] = {
    "endpoint": "frontend-audio",
    "probe_uris": {},
    "ca_file": None,
    "validate_certs": True,
    "timeout": 5,
    "echo": True,
    "origin": None,
    "payload_size": 640,
    "min_read_timeout": "1h",
}
#: nginx's defaults for the directives the doctor reads, when no level sets them.
NGINX_DEFAULT_READ_TIMEOUT = "60s"
NGINX_DEFAULT_HTTP_VERSION = "1.0"
#: The variable the seed and the role use for the Connection header: checked even where no location uses it.
CONNECTION_MAP = "connection_upgrade"
MAX_VARIABLE_DEPTH = 8

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_UNKNOWN_VARIABLE = re.compile(r'unknown "(\w+)" variable')
_EMERG = re.compile(r"\[(?:emerg|alert|crit)\]\s*(?:\d+#\d+:\s*)?(.*)")

_NETWORK_DOWN = ("refused", "timeout", "unreachable", "reset", "not_http")
_SHORT = {
    "refused": "refused",
    "dns": "DNS failure",
    "timeout": "timeout",
    "unreachable": "unreachable",
    "reset": "reset",
    "not_http": "not HTTP",
    "tls_unknown_ca": "TLS: unknown CA",
    "tls_name_mismatch": "TLS: wrong name",
    "tls_expired": "TLS: expired",
    "tls_verify": "TLS: cert refused",
    "tls_handshake": "TLS: handshake failed",
    "tls_on_plain_port": "TLS: plain port",
    "plain_to_tls": "ws:// to a TLS port",
    "bad_accept": "101, bad Accept",
    "not_websocket": "101, not websocket",
    "echo_timeout": "101, no echo",
    "echo_mismatch": "101, wrong echo",
    "closed": "101, closed",
    "protocol": "101, bad frames",
}
_TLS_SUMMARY = {
    "tls_unknown_ca": "certificate not trusted",
    "tls_name_mismatch": "certificate does not match the server name",
    "tls_expired": "certificate expired or not yet valid",
    "tls_verify": "certificate refused",
    "tls_handshake": "TLS handshake failed",
    "tls_on_plain_port": "the port does not speak TLS",
    "plain_to_tls": "the port speaks TLS, the vhost says plain",
}

HEADERS_FIX = (
    "proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade"
)


# --------------------------------------------------------------------------- options


def _options(options: object) -> dict[str, Any]:
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ConfigError(f"doctor options: {options!r} is not a dict")
    unknown = sorted(set(options) - set(OPTION_DEFAULTS))
    if unknown:
        raise ConfigError(f"doctor options: unknown keys {unknown!r} (accepted: {', '.join(OPTION_DEFAULTS)})")
    result = {**OPTION_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    endpoint = result["endpoint"]
    if not isinstance(endpoint, str) or any(c in endpoint for c in " ?#\t\n"):
        raise ConfigError(f"doctor_endpoint: {endpoint!r} is not a path segment such as 'frontend-audio' (or '')")
    probe_uris = result["probe_uris"]
    if isinstance(probe_uris, str):
        try:
            probe_uris = result["probe_uris"] = json.loads(probe_uris) if probe_uris.strip() else {}
        except ValueError:
            pass
    if not isinstance(probe_uris, Mapping):
        raise ConfigError(f"doctor_probe_uris: {probe_uris!r} is not a dict of location path -> URI")
    for key, uri in probe_uris.items():
        if not isinstance(uri, str) or not uri.startswith("/") or any(c in uri for c in " #\t\n"):
            raise ConfigError(f"doctor_probe_uris[{key!r}]: {uri!r} is not a URI path starting with '/'")
    for key in ("validate_certs", "echo"):
        if not isinstance(result[key], bool):
            raise ConfigError(f"doctor_{key}: {result[key]!r} is not a boolean")
    # -e name=value gives strings: read numbers as numbers (probe_uris took a JSON object above).
    for key, kind in (("timeout", float), ("payload_size", int)):
        if isinstance(result[key], str) and re.fullmatch(
            r"[0-9]+(\.[0-9]+)?" if kind is float else "[0-9]+", result[key]
        ):
            result[key] = kind(result[key])
    if result["ca_file"] == "":
        result["ca_file"] = None
    timeout = result["timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 300:
        raise ConfigError(f"doctor_timeout: {timeout!r} is not a number of seconds from 0 (excluded) to 300")
    size = result["payload_size"]
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= 1024 * 1024:
        raise ConfigError(f"doctor_payload_size: {size!r} is not a number of bytes from 0 (a text frame) to 1048576")
    result["min_read_timeout_ms"] = duration_ms(result["min_read_timeout"], "doctor_min_read_timeout")
    return result


# --------------------------------------------------------------------------- the plan


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
                return [parse_proxy_target(server, where, allow_uri=False) for server in item.get("servers", [])]
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
    opts = _options(options)
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


# --------------------------------------------------------------------------- nginx -T


@dataclass
class NginxConfig:
    """What nginx -T says: the error when it failed, else the parsed tree."""

    error: str | None = None
    missing_variable: str | None = None
    dump: Dump | None = None
    http: tuple[Directive, ...] = ()
    servers: list[Server] = field(default_factory=list)
    maps: dict[str, list[Directive]] = field(default_factory=dict)


def _nginx_error(stderr: str) -> str:
    lines = [m.group(1).strip() for m in map(_EMERG.search, stderr.splitlines()) if m]
    if lines:
        return "; ".join(lines)
    text = " ".join(line.strip() for line in stderr.splitlines() if line.strip())
    return text or "nginx -T failed without a message"


def read_nginx(dump: object) -> NginxConfig:
    """The registered result of ``nginx -T`` (rc, stdout, stderr), or its stdout alone."""
    if isinstance(dump, str):
        dump = {"rc": 0, "stdout": dump, "stderr": ""}
    if not isinstance(dump, Mapping):
        raise ConfigError(f"doctor_verdict: the nginx -T result {dump!r} is not a registered command result")
    if dump.get("skipped"):
        return NginxConfig(error="nginx -T did not run")
    rc = dump.get("rc")
    stderr = str(dump.get("stderr") or dump.get("msg") or "")
    if rc != 0:
        error = _nginx_error(stderr)
        missing = _UNKNOWN_VARIABLE.search(stderr)
        return NginxConfig(error=error, missing_variable=missing.group(1) if missing else None)
    try:
        parsed = parse_dump(str(dump.get("stdout") or ""))
    except ConfigError as exc:
        return NginxConfig(error=f"cannot read the nginx -T output: {exc}")
    http: tuple[Directive, ...] = ()
    for directive in parsed.tree:
        if directive.name == "http" and directive.block is not None:
            http = directive.block
    maps: dict[str, list[Directive]] = {}
    for directive in walk(parsed.tree):
        if (
            directive.name == "map"
            and directive.context == ("http",)
            and directive.block is not None
            and len(directive.args) == 2
            and directive.args[1].startswith("$")
        ):
            maps.setdefault(directive.args[1][1:].lower(), []).append(directive)
    return NginxConfig(dump=parsed, http=http, servers=servers(parsed), maps=maps)


def _where(directive: Directive) -> str:
    return f"{directive.file}:{directive.line}"


def _last(blocks: Sequence[Sequence[Directive]], name: str) -> Directive | None:
    """The directive nginx uses for an inherited one-value directive: the last in the innermost level that has it."""
    for block in blocks:
        found = [d for d in block if d.name == name]
        if found:
            return found[-1]
    return None


def _proxy_headers(blocks: Sequence[Sequence[Directive]]) -> list[Directive]:
    """proxy_set_header is inherited as a whole: the innermost level with any of them has all of them."""
    for block in blocks:
        found = [d for d in block if d.name == "proxy_set_header" and len(d.args) == 2]
        if found:
            return found
    return []


class _Resolver:
    """What a header value becomes for a WebSocket handshake (``Upgrade: websocket``), through the maps.

    ``value`` returns the string, or None when it depends on something the doctor cannot know.
    ``used`` collects the map variables the answer came through."""

    def __init__(self, maps: Mapping[str, list[Directive]]) -> None:
        self.maps = maps
        self.used: list[str] = []

    def value(self, text: str, depth: int = 0) -> str | None:
        if depth > MAX_VARIABLE_DEPTH:
            return None
        unknown = False

        def substitute(match: re.Match[str]) -> str:
            nonlocal unknown
            name = (match.group(1) or match.group(2)).lower()
            result = self.variable(name, depth + 1)
            if result is None:
                unknown = True
                return ""
            return result

        out = _VARIABLE.sub(substitute, text)
        return None if unknown else out

    def variable(self, name: str, depth: int) -> str | None:
        if name == "http_upgrade":
            return "websocket"
        definitions = self.maps.get(name)
        if not definitions:
            return None
        if name not in self.used:
            self.used.append(name)
        source = self.value(definitions[-1].args[0], depth)
        if source is None:
            return None
        return self._evaluate(definitions[-1], source, depth)

    def _evaluate(self, directive: Directive, source: str, depth: int) -> str | None:
        default = ""
        regexes: list[tuple[str, bool, str]] = []
        for entry in directive.block or ():
            if entry.name in ("hostnames", "volatile") and not entry.args:
                continue
            if len(entry.args) != 1:
                continue
            key, value = entry.name, entry.args[0]
            if key == "default":
                default = value
            elif key.startswith("~*"):
                regexes.append((key[2:], True, value))
            elif key.startswith("~"):
                regexes.append((key[1:], False, value))
            elif (key[1:] if key.startswith("\\") else key).lower() == source.lower():
                return self.value(value, depth)  # strings match ignoring case, before any regex
        for pattern, caseless, value in regexes:
            try:
                if compile_pcre(pattern, caseless).search(source.encode("utf-8")):
                    return self.value(value, depth)
            except ConfigError:
                return None
        return self.value(default, depth)


# --------------------------------------------------------------------------- one location in nginx -T


@dataclass
class Issue:
    severity: str  # WARN or BROKEN
    hop: str
    summary: str
    detail: str


@dataclass
class Analysis:
    issues: list[Issue] = field(default_factory=list)
    served_by: str | None = None
    proxy_pass: str | None = None
    proxy_pass_where: str | None = None
    note: str | None = None

    def first(self, severity: str) -> Issue | None:
        return next((issue for issue in self.issues if issue.severity == severity), None)


def _name_matches(name: str, host: str) -> int:
    """0 no match, 3 exact, 2 wildcard, 1 regex (nginx's order: exact, wildcards, regexes)."""
    name, host = name.lower(), host.lower()
    if name == host:
        return 3
    if name.startswith("."):
        return 2 if host == name[1:] or host.endswith(name) else 0
    if "*" in name:
        return 2 if fnmatchcase(host, name) else 0
    if name.startswith("~"):
        try:
            return 1 if re.search(name[1:], host) else 0
        except re.error:
            return 0
    return 0


def _server_for(config: NginxConfig, host: str, port: int) -> tuple[Server | None, str]:
    """The server block nginx picks for a connection to 127.0.0.1:port with this Host, and how it was picked."""
    candidates = [
        server
        for server in config.servers
        if any(listen.port == port and listen.address in ("*", "127.0.0.1") for listen in server.listen)
    ]
    if not candidates:
        return None, "none"
    best, best_rank = None, 0
    for server in candidates:
        rank = max((_name_matches(name, host) for name in server.server_names), default=0)
        if rank > best_rank:
            best, best_rank = server, rank
    if best is not None:
        return best, "name"
    for server in candidates:
        if any(listen.port == port and listen.default_server for listen in server.listen):
            return server, "default"
    return candidates[0], "default"


def _upstream_servers(config: NginxConfig, proxy_pass: str | None) -> tuple[Directive, list[str]] | None:
    """The upstream block a proxy_pass names (http://NAME[/uri]) and its servers, or None."""
    if not proxy_pass or "$" in proxy_pass or "://" not in proxy_pass:
        return None
    name = proxy_pass.split("://", 1)[1].split("/", 1)[0]
    if name.startswith("unix:"):
        return None
    for directive in walk(config.dump.tree if config.dump else ()):
        if directive.name == "upstream" and directive.context == ("http",) and directive.args[:1] == (name,):
            return directive, [d.args[0] for d in directive.block or () if d.name == "server" and d.args]
    return None


def _locations_of(server: Server) -> list[dict[str, Any]]:
    result = []
    for directive in server.directives:
        if directive.name != "location" or directive.block is None:
            continue
        modifier, path = parse_location(directive.args)
        if path.startswith("@"):
            continue
        passes = any(d.name.endswith("_pass") for d in directive.block)
        result.append({"modifier": modifier, "path": path, "proxy_pass": passes, "directive": directive})
    return result


def _location_problems(blocks: list[Sequence[Directive]], resolver: _Resolver) -> list[str]:
    """What keeps a location from forwarding a WebSocket handshake, in words; empty when it would."""
    missing = []
    version = _last(blocks, "proxy_http_version")
    value = version.args[0] if version and version.args else NGINX_DEFAULT_HTTP_VERSION
    if value != "1.1":
        missing.append(f"proxy_http_version is {value}, WebSocket needs 1.1")
    headers = {d.args[0].lower(): d for d in _proxy_headers(blocks)}
    for name, token in (("upgrade", "websocket"), ("connection", "upgrade")):
        directive = headers.get(name)
        shown = name.capitalize()
        if directive is None:
            missing.append(f"no proxy_set_header {shown} (nginx drops the client's {shown}: it is hop-by-hop)")
            continue
        resolved = resolver.value(directive.args[1])
        if resolved is not None and token not in resolved.lower():
            missing.append(
                f"proxy_set_header {shown} {directive.args[1]} ({_where(directive)}) gives {resolved!r} to a "
                f"WebSocket handshake, not {token!r}"
            )
    return missing


def analyse(config: NginxConfig, entry: Mapping[str, Any], min_read_ms: int, min_read: str) -> Analysis:
    """What nginx -T says about one planned location."""
    result = Analysis()
    if config.dump is None:
        return result
    host, port, uri = entry["server_name"], int(entry["port"]), entry["uri"]
    server, how = _server_for(config, host, port)
    if server is None:
        result.issues.append(
            Issue(
                BROKEN,
                "nginx server",
                f"nothing listens on port {port}",
                f"no server block in nginx -T listens on port {port}: the vhost file is not enabled "
                f"(sites-enabled link missing?) or its listen directive changed",
            )
        )
        return result
    if how == "default":
        result.issues.append(
            Issue(
                BROKEN,
                "nginx server",
                f"no server block for {host} on port {port}",
                f"no server block has server_name {host} on port {port}, so nginx answers with the default "
                f"server of that port ({server.file}:{server.line}, server_name {' '.join(server.server_names)})",
            )
        )
    locations = _locations_of(server)
    try:
        found = match_location(locations, uri, f"server {server.file}:{server.line}")
    except ConfigError as exc:
        result.note = f"cannot tell which location serves {uri}: {exc}"
        return result
    if found is None:
        result.issues.append(
            Issue(
                BROKEN,
                "location order",
                f"no location serves {uri}",
                f"no location of the server block at {server.file}:{server.line} matches {uri}: nginx answers 404",
            )
        )
        return result
    directive: Directive = found.location["directive"]
    shown = describe(found.location)
    result.served_by = f"location '{shown}' ({_where(directive)})"
    blocks: list[Sequence[Directive]] = [directive.block or (), server.directives, config.http]
    own = (found.location["modifier"], found.location["path"]) == (entry["modifier"], entry["path"])

    if found.kind == "redirect":
        result.issues.append(
            Issue(
                BROKEN,
                "location order",
                f"{uri} is redirected by location '{shown}'",
                f"location '{shown}' ({_where(directive)}) answers {uri} with a 301 to {uri}/, and a WebSocket "
                f"client does not follow redirects: probe (and connect to) a path inside the location",
            )
        )
        return result
    proxy_pass = _last([directive.block or ()], "proxy_pass")
    if proxy_pass is None:
        result.issues.append(
            Issue(
                BROKEN,
                "location order" if not own else "nginx location",
                f"{uri} is served by location '{shown}', which does not proxy",
                f"location '{shown}' ({_where(directive)}) serves {uri} but has no proxy_pass: nginx answers it "
                f"itself (404 or a file)",
            )
        )
        return result
    result.proxy_pass, result.proxy_pass_where = proxy_pass.args[0] if proxy_pass.args else "", _where(proxy_pass)

    resolver = _Resolver(config.maps)
    problems = _location_problems(blocks, resolver)
    variables = list(dict.fromkeys([*resolver.used, CONNECTION_MAP]))
    for variable in variables:
        definitions = config.maps.get(variable, [])
        if len(definitions) < 2:
            continue
        places = ", ".join(_where(d) for d in definitions)
        last = definitions[-1]
        value = _Resolver(config.maps).variable(variable, 0)
        wrong = variable in resolver.used and any(f"${variable}" in problem for problem in problems)
        gives = "" if value is None else f"which gives {value!r} to a WebSocket handshake"
        if wrong:
            outcome = gives or "which gives the wrong value"
        else:
            outcome = f"{gives} (right, for now)" if gives else "which happens to be right, for now"
        times = "twice" if len(definitions) == 2 else f"{len(definitions)} times"
        result.issues.append(
            Issue(
                BROKEN if wrong else WARN,
                "map",
                f"map ${variable} defined {times}",
                f"${variable} is defined {times} ({places}); nginx accepts that without a word "
                f"and uses the last one ({_where(last)}), {outcome}. Keep one definition (the role's is "
                f"conf.d/websocket_proxy_map.conf) and remove the others",
            )
        )
    if problems:
        if own:
            result.issues.append(
                Issue(
                    BROKEN,
                    "nginx location",
                    "nginx does not forward Upgrade/Connection",
                    f"location '{shown}' ({_where(directive)}): "
                    + "; ".join(problems)
                    + f". The backend gets a plain request. Fix: {HEADERS_FIX}",
                )
            )
        else:
            kind = "a regex location, tried before any prefix location" if found.kind == "regex" else "a location"
            result.issues.append(
                Issue(
                    BROKEN,
                    "location order",
                    f"{uri} is served by location '{shown}', not WebSocket-capable",
                    f"{uri} is served by location '{shown}' ({_where(directive)}), {kind}, instead of location "
                    f"'{entry['location']}'; it is not WebSocket-capable: "
                    + "; ".join(problems)
                    + ". Make it not match the WebSocket endpoints, or give it the WebSocket headers",
                )
            )
    elif not own:
        result.note = (
            f"served by location '{shown}' ({_where(directive)}), not '{entry['location']}'; it is WebSocket-capable"
        )

    planned = entry.get("proxy_pass")
    upstream = _upstream_servers(config, result.proxy_pass)
    if upstream is not None and own:
        block, servers_now = upstream
        planned_servers = [str(b).lower() for b in entry.get("backends") or []]
        if sorted(s.lower() for s in servers_now) != sorted(planned_servers):
            result.issues.append(
                Issue(
                    WARN,
                    "backend via nginx",
                    f"upstream {block.args[0]} sends to {', '.join(servers_now) or 'no server'}, "
                    f"the inventory says {', '.join(entry.get('backends') or [])}",
                    f"upstream {block.args[0]} ({_where(block)}) sends to {', '.join(servers_now) or 'no server'}, "
                    f"but websocket_proxy_vhosts says {', '.join(entry.get('backends') or [])}: the file was edited "
                    f"by hand, or the role has not run since the inventory changed",
                )
            )
    if planned and result.proxy_pass and result.proxy_pass.rstrip("/") != str(planned).rstrip("/") and own:
        result.issues.append(
            Issue(
                WARN,
                "backend via nginx",
                f"proxy_pass {result.proxy_pass}, the inventory says {planned}",
                f"proxy_pass is {result.proxy_pass} ({result.proxy_pass_where}), but websocket_proxy_vhosts says "
                f"{planned}: the file was edited by hand, or the role has not run since the inventory changed",
            )
        )

    if problems:
        return result  # a read timeout matters once the location forwards WebSockets at all
    timeout = _last(blocks, "proxy_read_timeout")
    value = timeout.args[0] if timeout and timeout.args else NGINX_DEFAULT_READ_TIMEOUT
    where = _where(timeout) if timeout else "nginx's default"
    try:
        read_ms = duration_ms(value, "proxy_read_timeout")
    except ConfigError:
        read_ms = None
    if read_ms is not None and read_ms < min_read_ms:
        result.issues.append(
            Issue(
                WARN,
                "timeout",
                f"proxy_read_timeout {value} < {min_read}",
                f"proxy_read_timeout is {value} ({where}), shorter than {min_read} (doctor_min_read_timeout): "
                f"nginx closes a WebSocket on which the backend sends nothing for {value}. The seed uses 86400 "
                f"(24h); the role's websocket_proxy_read_timeout sets it",
            )
        )
    return result


# --------------------------------------------------------------------------- the verdict


def _problem(result: Mapping[str, Any]) -> str | None:
    if "problem" in result:
        return result["problem"]
    if result.get("skipped"):
        return "skipped"
    return "error" if result.get("failed") or result.get("msg") else None


def _diagnosis(result: Mapping[str, Any]) -> str:
    return str(result.get("diagnosis") or result.get("msg") or "no result").strip()


def cell(result: Mapping[str, Any] | None) -> str:
    """A probe result in a few words, for the table."""
    if not result:
        return "not run"
    problem = _problem(result)
    status = result.get("status")
    if problem is None:
        rtt = result.get("rtt_ms")
        return f"{status}, echo {rtt:g} ms" if rtt is not None else f"{status} ok"
    if problem.startswith("status_") and status is not None:
        return f"{status} {result.get('reason') or ''}".strip()
    return _SHORT.get(problem, problem)


def _backend_verdict(entry: Mapping[str, Any], failed: list[tuple[str, Mapping[str, Any]]]) -> Issue:
    address, result = failed[0]
    problem = _problem(result) or "error"
    diagnosis = _diagnosis(result)
    several = f" ({len(failed)} of {len(entry['backends'])} servers)" if len(entry["backends"]) > 1 else ""
    if problem in _NETWORK_DOWN:
        summary = f"{address} down ({cell(result)}){several}"
    elif problem == "dns":
        summary = f"{address}: the name does not resolve{several}"
    elif problem.startswith("tls"):
        summary = f"{address}: {cell(result)}{several}"
    else:
        path = urlsplit(str(result.get("url", ""))).path or entry["uri"]
        summary = f"{address} does not speak WebSocket at {path} ({cell(result)}){several}"
        if problem.startswith("status_"):
            # Sent straight to the backend, so no proxy dropped anything: the backend itself refused.
            diagnosis = (
                f"a WebSocket handshake sent straight to {address} got {cell(result)}, not 101: {path} is not a "
                f"WebSocket endpoint of this backend (check the backend's routes, or probe another path with "
                f"-e doctor_endpoint=... or doctor_probe_uris). The backend's answer: {diagnosis}"
            )
    return Issue(BROKEN, "backend", summary, f"directly from the proxy host: {diagnosis}")


def _nginx_probe_verdict(entry: Mapping[str, Any], result: Mapping[str, Any], analysis: Analysis) -> Issue:
    problem = _problem(result) or "error"
    diagnosis = _diagnosis(result)
    if problem in _TLS_SUMMARY:
        hint = ""
        if problem == "tls_unknown_ca":
            hint = (
                " If the certificate is signed by a private CA, run the doctor with -e doctor_ca_file=<CA PEM on "
                "the proxy> (or -e doctor_validate_certs=false to skip the check); browsers refuse it too."
            )
        return Issue(BROKEN, "TLS", _TLS_SUMMARY[problem], f"through nginx: {diagnosis}{hint}")
    if problem in ("refused", "unreachable", "timeout") and result.get("status") is None:
        return Issue(
            BROKEN,
            "nginx",
            f"nginx does not answer on 127.0.0.1:{entry['port']}",
            f"through nginx: {diagnosis} Is nginx running, and does the vhost listen on port {entry['port']}?",
        )
    broken = analysis.first(BROKEN)
    if broken is not None:
        return Issue(BROKEN, broken.hop, broken.summary, f"{broken.detail}. Through nginx: {diagnosis}")
    if problem == "status_502":
        detail = f"through nginx: {diagnosis}"
        summary = "nginx cannot reach the backend (502)"
        differs = next((i for i in analysis.issues if i.hop == "backend via nginx"), None)
        if differs is not None:
            detail += f" {differs.detail}."
            summary += f": {differs.summary}"
        elif analysis.proxy_pass:
            detail += f" The location proxies to {analysis.proxy_pass} ({analysis.proxy_pass_where})."
        return Issue(BROKEN, "backend via nginx", summary, detail)
    if problem == "status_403":
        sent = f"the Origin {entry['origin']}" if entry.get("origin") else "a handshake without Origin"
        return Issue(
            BROKEN,
            "origin",
            f"403: {sent} was refused",
            f"through nginx: {diagnosis} The probe sent {sent}; an allowed_origins list in the location (or a rule "
            f"of the backend) refused it. Give -e doctor_origin=<an origin the browsers' pages have> to probe as "
            f"they do, or add that origin to the allowlist",
        )
    if problem == "status_429":
        return Issue(
            BROKEN,
            "nginx location",
            "429: a handshake limit refused the probe",
            f"through nginx: {diagnosis} limit_conn or limit_req (handshake_rate) refused it: the limit is lower "
            f"than a few handshakes from one client",
        )
    if problem == "status_504":
        return Issue(
            BROKEN, "backend via nginx", "the backend answers nginx too slowly (504)", f"through nginx: {diagnosis}"
        )
    if problem in ("status_400", "status_426"):
        return Issue(
            BROKEN, "nginx location", "the backend did not get the upgrade through nginx", f"through nginx: {diagnosis}"
        )
    return Issue(BROKEN, "nginx", f"through nginx: {cell(result)}", f"through nginx: {diagnosis}")


def _row(
    entry: Mapping[str, Any],
    direct: list[tuple[str, Mapping[str, Any]]],
    through: Mapping[str, Any] | None,
    config: NginxConfig,
    analysis: Analysis,
) -> dict[str, Any]:
    failed_direct = [(address, result) for address, result in direct if _problem(result) is not None]
    through = through or {}
    issue: Issue | None = None
    # A probe that ran always says what its problem was (None when there was none); one without that key never
    # ran (bad doctor options, the module could not start): it says nothing about the hops.
    not_run = [result for _address, result in direct if "problem" not in result]
    if "problem" not in through:
        not_run.append(through)
    if not_run:
        issue = Issue(
            BROKEN,
            "doctor",
            f"the probes did not run: {_diagnosis(not_run[0])}",
            f"the probe task failed before it could probe anything: {_diagnosis(not_run[0])}. Fix the doctor's "
            f"options (doctor_ca_file is a path on the proxy host) and run it again",
        )
    elif failed_direct:
        issue = _backend_verdict(entry, failed_direct)
        issue.detail += f" Through nginx: {_diagnosis(through)}"
    elif config.error is not None:
        if config.missing_variable:
            summary = f"map ${config.missing_variable} missing"
            detail = (
                f"nginx -t fails: {config.error}. The map $http_upgrade ${config.missing_variable} is not in "
                f"the http context (the role writes it to conf.d/websocket_proxy_map.conf)"
            )
        else:
            summary = "nginx -t fails"
            detail = f"nginx -t fails: {config.error}"
        state = (
            "WebSocket through the running nginx still works"
            if _problem(through) is None
            else f"through nginx: {_diagnosis(through)}"
        )
        issue = Issue(
            BROKEN,
            "nginx config",
            summary,
            f"{detail}. The running nginx keeps its old configuration, but the next reload or restart "
            f"will fail ({state})",
        )
    elif _problem(through) is not None:
        issue = _nginx_probe_verdict(entry, through, analysis)
    else:
        broken = analysis.first(BROKEN)
        if broken is not None:
            issue = Issue(
                BROKEN,
                broken.hop,
                f"{broken.summary} (on disk, not loaded yet)",
                f"{broken.detail}. WebSocket through the running nginx still works: nginx has not been "
                f"reloaded since the files changed, and will break at the next reload",
            )
    others = [i for i in analysis.issues if issue is None or i.detail not in issue.detail]
    warnings = [i for i in others if i.severity == WARN]
    if issue is not None:
        status, verdict = BROKEN, f"BROKEN {issue.hop}: {issue.summary}"
        details = [issue.detail] + [f"also: {other.detail}" for other in others]
    elif warnings:
        status = WARN
        verdict = "warn " + "; ".join(f"{w.hop}: {w.summary}" for w in warnings)
        details = [w.detail for w in warnings]
    else:
        status, verdict, details = OK, "ok", []
    if analysis.note:
        details.append(analysis.note)
    return {
        "location": entry["label"],
        "vhost": entry["vhost"],
        "port": entry["port"],
        "uri": entry["uri"],
        "source": entry["source"],
        "direct": "; ".join(cell(result) for _address, result in direct) or "not run",
        "nginx": cell(through),
        "verdict": verdict,
        "status": status,
        "hop": issue.hop if issue else (warnings[0].hop if warnings else None),
        "details": details,
        "served_by": analysis.served_by,
        "direct_results": [
            {"backend": address, "problem": _problem(result), "diagnosis": _diagnosis(result)}
            for address, result in direct
        ],
        "nginx_result": {"problem": _problem(through), "diagnosis": _diagnosis(through)},
    }


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as an aligned text table: location | backend direct | through nginx | verdict."""
    head = ("location", "backend direct", "through nginx", "verdict")
    lines = [head] + [(r["location"], r["direct"], r["nginx"], r["verdict"]) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    out = []
    for number, line in enumerate(lines):
        out.append(" | ".join([*(line[i].ljust(widths[i]) for i in range(3)), line[3]]).rstrip())
        if number == 0:
            out.append("-+-".join("-" * w for w in [*widths, max(len(line[3]) for line in lines)]))
    return "\n".join(out)


def doctor_verdict(plan: object, results: object, dump: object, options: object = None) -> dict[str, Any]:
    """The verdict per planned location from the probe results (in the plan's probe order) and nginx -T."""
    opts = _options(options)
    if (
        not isinstance(plan, Mapping)
        or not isinstance(plan.get("locations"), list)
        or not isinstance(plan.get("probes"), list)
    ):
        raise ConfigError(f"doctor_verdict: {plan!r} is not a plan (the output of doctor_plan)")
    if isinstance(results, Mapping):
        # The registered result of the probe task: its results, or (the module could not run at all) that one
        # failure for every probe.
        results = results["results"] if "results" in results else [results] * len(plan["probes"])
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise ConfigError(f"doctor_verdict: the probe results {results!r} are not a list (register the probe loop)")
    if len(results) != len(plan["probes"]):
        raise ConfigError(
            f"doctor_verdict: {len(results)} probe results for {len(plan['probes'])} planned probes; pass the "
            f"registered results of the loop over the plan's probes"
        )
    config = read_nginx(dump)
    by_location: dict[int, dict[str, Any]] = {entry["id"]: {"direct": [], "nginx": None} for entry in plan["locations"]}
    for probe, result in zip(plan["probes"], results, strict=False):
        if not isinstance(result, Mapping):
            raise ConfigError(f"doctor_verdict: probe result {result!r} is not a dict")
        slot = by_location[probe["location"]]
        if probe["hop"] == DIRECT:
            slot["direct"].append((probe.get("backend", "?"), result))
        else:
            slot["nginx"] = result
    rows = []
    for entry in plan["locations"]:
        analysis = analyse(config, entry, opts["min_read_timeout_ms"], str(opts["min_read_timeout"]))
        slot = by_location[entry["id"]]
        rows.append(_row(entry, slot["direct"], slot["nginx"], config, analysis))
    details = [f"{row['location']}: {detail}" for row in rows for detail in row["details"]]
    broken = sum(row["status"] == BROKEN for row in rows)
    warnings = sum(row["status"] == WARN for row in rows)
    summary = (
        f"{len(rows)} WebSocket location(s): {len(rows) - broken - warnings} ok, {warnings} warning(s), {broken} broken"
    )
    return {
        "rows": rows,
        "table": table(rows),
        "details": details,
        "summary": summary,
        "broken": broken,
        "warnings": warnings,
        "ok": broken == 0,
        "nginx_config_error": config.error,
        "map_definitions": {
            name: [_where(d) for d in definitions] for name, definitions in sorted(config.maps.items())
        },
    }
