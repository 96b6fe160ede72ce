# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nginx -T as the doctor reads it: the error when it failed, else the parsed tree (nginx_dump), and the
questions the checks ask of it.

The parsing is nginx_dump's (the role's own reader of nginx -T); this module adds what only the doctor needs:
the http context's maps by variable and what they give a WebSocket handshake (:class:`Resolver`), the server
block nginx picks for 127.0.0.1:port and a Host (:func:`server_for`), a server's locations as
``locations.match_location`` takes them, the upstream a proxy_pass names, and the directive an inherited
setting comes from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
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

MAX_VARIABLE_DEPTH = 8

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_UNKNOWN_VARIABLE = re.compile(r'unknown "(\w+)" variable')
_EMERG = re.compile(r"\[(?:emerg|alert|crit)\]\s*(?:\d+#\d+:\s*)?(.*)")


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
    # The maps themselves, not nginx_dump.map_definitions' places: the Resolver evaluates their blocks, and only
    # map (not geo or split_clients) can give a header its value from $http_upgrade.
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


def last_directive(blocks: Sequence[Sequence[Directive]], name: str) -> Directive | None:
    """The directive nginx uses for an inherited one-value directive: the last in the innermost level that has it."""
    for block in blocks:
        found = [d for d in block if d.name == name]
        if found:
            return found[-1]
    return None


def proxy_headers(blocks: Sequence[Sequence[Directive]]) -> list[Directive]:
    """proxy_set_header is inherited as a whole: the innermost level with any of them has all of them."""
    for block in blocks:
        found = [d for d in block if d.name == "proxy_set_header" and len(d.args) == 2]
        if found:
            return found
    return []


#: The request variables of a browser's WebSocket handshake (Firefox's Connection header), as maps read them.
HANDSHAKE = {
    "http_upgrade": "websocket",
    "http_connection": "keep-alive, Upgrade",
    "request_method": "GET",
    "server_protocol": "HTTP/1.1",
}


class Resolver:
    """What a header value becomes for a WebSocket handshake (:data:`HANDSHAKE`), through the maps.

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
        if name in HANDSHAKE:
            return HANDSHAKE[name]
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


def server_for(config: NginxConfig, host: str, port: int) -> tuple[Server | None, str]:
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


def upstream_servers(config: NginxConfig, proxy_pass: str | None) -> tuple[Directive, list[str]] | None:
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


def locations_of(server: Server) -> list[dict[str, Any]]:
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
