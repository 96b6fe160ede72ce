# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The configuration nginx runs (``nginx -T``) as a tree, and what in it would clash with the role's files.

``nginx -T`` prints the main file, then every file it included, once each and in the order nginx
opened them, each after a line ``# configuration file <path>:``. An included file is not printed where
its ``include`` is, so the tree is rebuilt here: every file is tokenised as nginx's ngx_conf_read_token
does, and every ``include`` is replaced by the directives of the printed files its pattern matches
(a relative pattern is relative to the main file's directory, as nginx's conf prefix is). Each directive
then knows its context (``('http', 'server')``...) and the file and line it comes from.

nginx accepts some clashes without a word: two ``map``s of one variable (the last one wins), and the
same server name on the same address and port (a warning, then one server is ignored). Others fail
``nginx -t``: a second default server on an address and port, a duplicate location. ``nginx_conflicts``
finds all of them before the role writes anything, ignoring the files the role is about to replace.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import describe

HEADER = re.compile(r"^# configuration file (/.*):(?:\n|\Z)", re.MULTILINE)
# ngx_conf_include treats a name with one of these as a glob (ngx_conf_file.c: strpbrk(name, "*?[")).
GLOB_CHARS = frozenset("*?[")
# ngx_conf_read_token: the escapes nginx resolves in a token; any other backslash is kept as written.
ESCAPES = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}
# A server without listen listens on *:80 (nginx started as root, as the service is).
DEFAULT_PORT = 80
# Directives with a block that define the variable named by their last argument, in the http context.
VARIABLE_BLOCKS = {"map": (2,), "geo": (1, 2), "split_clients": (2,)}
MODES = ("fail", "adopt")
INCLUSIVE = ("", "^~")  # prefix locations: nginx refuses two of them with the same path, modifier or not
REGEX = ("~", "~*")


class Token(NamedTuple):
    """One token: a word (quotes removed, escapes resolved) or one of ``;``, ``{``, ``}``."""

    value: str
    line: int
    kind: str  # "word", ";", "{" or "}"


@dataclass(frozen=True)
class Directive:
    """A directive where nginx reads it: ``block`` is None for one ending with ``;``."""

    name: str
    args: tuple[str, ...]
    file: str
    line: int
    context: tuple[str, ...] = ()
    block: tuple[Directive, ...] | None = None

    def text(self) -> str:
        """The directive as one line, without its block: 'map $http_upgrade $connection_upgrade'."""
        return " ".join((self.name, *self.args))


@dataclass(frozen=True)
class ConfigFile:
    """One file as nginx -T printed it; ``directives`` are its own, with ``include`` not resolved."""

    path: str
    text: str
    directives: tuple[Directive, ...]


@dataclass(frozen=True)
class Include:
    """An ``include`` directive, the pattern nginx opened and the printed files it matched."""

    file: str
    line: int
    pattern: str
    matched: tuple[str, ...]
    context: tuple[str, ...]


@dataclass(frozen=True)
class Dump:
    """A parsed nginx -T: the files in print order, and the main file's tree with every include spliced in."""

    files: tuple[ConfigFile, ...]
    tree: tuple[Directive, ...]
    includes: tuple[Include, ...]


class Definition(NamedTuple):
    """A variable defined by a map, geo or split_clients block in the http context."""

    variable: str  # without the '$', as written
    file: str
    line: int
    statement: str  # 'map $http_upgrade $connection_upgrade'


@dataclass(frozen=True)
class Listen:
    """A listen directive, normalised: '80', '*:80' and '0.0.0.0:80' are all address '*' port 80."""

    address: str  # '*' (every IPv4 address), '[::]' (every IPv6 address), '127.0.0.1', '[::1]', 'unix:/path', a name
    port: int | None  # None for a unix socket
    ssl: bool = False
    default_server: bool = False
    file: str = ""
    line: int = 0
    text: str = ""  # as written: 'listen 0.0.0.0:80 default_server'

    @property
    def family(self) -> str:
        if self.address.startswith("unix:"):
            return "unix"
        return "ipv6" if self.address.startswith("[") else "ipv4"

    @property
    def wildcard(self) -> bool:
        return self.address in ("*", "[::]")

    @property
    def socket(self) -> str:
        return self.address if self.port is None else f"{self.address}:{self.port}"

    def same_socket(self, other: Listen) -> bool:
        """Both are served by one listening socket, so nginx sees their server names side by side."""
        return (self.address, self.port) == (other.address, other.port)

    def overlaps(self, other: Listen) -> bool:
        """A connection to one of them can reach the other's address: same family and port, and the same
        address or one of them on every address (nginx then picks by the connection's local address)."""
        if self.family != other.family or self.port != other.port:
            return False
        return self.address == other.address or (self.family != "unix" and (self.wildcard or other.wildcard))


@dataclass(frozen=True)
class Location:
    """A location: modifier ('', '=', '^~', '~', '~*'), path (a named location keeps its '@')."""

    modifier: str
    path: str
    file: str
    line: int
    locations: tuple[Location, ...] = ()

    def describe(self) -> str:
        return f"{self.modifier} {self.path}" if self.modifier else self.path


@dataclass(frozen=True)
class Server:
    """An http server block: its names, listens and top-level locations (nested ones inside them)."""

    server_names: tuple[str, ...]
    listen: tuple[Listen, ...]
    file: str
    line: int
    locations: tuple[Location, ...] = ()
    directives: tuple[Directive, ...] = field(default=(), repr=False)


# --- tokens and directives ----------------------------------------------------------------------


def _unescape(raw: str) -> str:
    out = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\" and index + 1 < len(raw) and raw[index + 1] in ESCAPES:
            out.append(ESCAPES[raw[index + 1]])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def tokenize(text: str, file: str = "-") -> list[Token]:
    """Tokens as ngx_conf_read_token reads them.

    Whitespace separates words; ``;``, ``{`` and ``}`` are tokens of their own. A ``#`` starts a comment
    (to the end of the line) only where a word could start: ``a#b`` is one word. A quote starts a quoted
    word only there too; inside it ``;``, ``{``, ``#`` and newlines are plain characters. A backslash takes
    the next character as it is; in the word, ``\\"``, ``\\'``, ``\\\\``, ``\\t``, ``\\r``, ``\\n`` are resolved
    and any other backslash is kept. ``${`` does not end a word (``${name}``).
    """
    tokens: list[Token] = []
    size = len(text)
    index = 0
    line = 1
    while index < size:
        char = text[index]
        if char in " \t\r\n":
            line += char == "\n"
            index += 1
        elif char == "#":
            end = text.find("\n", index)
            index = size if end < 0 else end
        elif char in ";{}":
            tokens.append(Token(char, line, char))
            index += 1
        elif char in "\"'":
            start, start_line = index + 1, line
            index += 1
            while True:
                if index >= size:
                    raise ConfigError(f"{file}:{start_line}: a quoted string ({char}) is never closed")
                current = text[index]
                if current == "\\":
                    line += text[index + 1 : index + 2] == "\n"
                    index += 2
                    continue
                line += current == "\n"
                if current == char:
                    break
                index += 1
            tokens.append(Token(_unescape(text[start:index]), start_line, "word"))
            index += 1
        else:
            start, start_line = index, line
            variable = False
            while index < size:
                current = text[index]
                if current == "{" and variable:
                    index += 1
                    continue
                variable = False
                if current == "\\":
                    line += text[index + 1 : index + 2] == "\n"
                    index += 2
                    continue
                if current == "$":
                    variable = True
                elif current in " \t\r\n;{":
                    break
                index += 1
            tokens.append(Token(_unescape(text[start : min(index, size)]), start_line, "word"))
    return tokens


def parse_config(text: str, file: str = "-") -> tuple[Directive, ...]:
    """One file's directives, nested as its braces say (``include`` is kept as a directive)."""
    tokens = tokenize(text, file)
    position = 0

    def block(opener: Token | None) -> tuple[Directive, ...]:
        nonlocal position
        directives: list[Directive] = []
        words: list[Token] = []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token.kind == "word":
                words.append(token)
                continue
            if token.kind == "}":
                if words or opener is None:
                    raise ConfigError(f'{file}:{token.line}: unexpected "}}"')
                return tuple(directives)
            if not words:
                raise ConfigError(f'{file}:{token.line}: unexpected "{token.kind}"')
            head, args = words[0], tuple(word.value for word in words[1:])
            words = []
            children = block(token) if token.kind == "{" else None
            directives.append(Directive(head.value, args, file, head.line, block=children))
        if words:
            raise ConfigError(f'{file}:{words[0].line}: "{words[0].value}" is not ended by ";" or "{{"')
        if opener is not None:
            raise ConfigError(f'{file}:{opener.line}: the block opened here is never closed (no "}}")')
        return tuple(directives)

    return block(None)


# --- the dump -------------------------------------------------------------------------------------


def _glob_match(pattern: str, path: str) -> bool:
    """glob(3) as nginx calls it: component by component, ``*`` never crosses '/', nor matches a leading dot."""
    parts, names = pattern.split("/"), path.split("/")
    if len(parts) != len(names):
        return False
    for part, name in zip(parts, names, strict=False):
        if part == name:
            continue
        if name.startswith(".") and not part.startswith("."):
            return False
        if not fnmatchcase(name, part):
            return False
    return True


def _included(pattern: str, path: str) -> bool:
    """nginx opens ``path`` for an ``include`` of ``pattern`` (already made absolute)."""
    return _glob_match(pattern, path) if GLOB_CHARS.intersection(pattern) else pattern == path


def _include_patterns(text: str, conf_prefix: str) -> list[str] | None:
    """The absolute patterns of the include directives in ``text``; None when it does not tokenise."""
    try:
        tokens = tokenize(text)
    except ConfigError:
        return None
    patterns = []
    for index in range(len(tokens) - 2):
        name, arg, end = tokens[index : index + 3]
        if (name.value, name.kind, arg.kind, end.kind) == ("include", "word", "word", ";"):
            if index == 0 or tokens[index - 1].kind != "word":
                patterns.append(arg.value if arg.value.startswith("/") else conf_prefix + arg.value)
    return patterns


def _split(text: str) -> list[tuple[str, str]]:
    """(path, content) for each file nginx -T printed. nginx writes a newline after each file's content.

    A header line is only taken as one where nginx could have printed it: its path matches an include
    of the files before it, and it is not inside a quoted string. So a comment that looks like a header
    stays part of its file."""
    headers = list(HEADER.finditer(text))
    if not headers:
        raise ConfigError(
            "the nginx -T output holds no '# configuration file <path>:' line; pass the stdout of a successful "
            f"nginx -T (got {text[:80]!r})"
        )
    conf_prefix = posixpath.dirname(headers[0].group(1)) + "/"
    accepted = [headers[0]]
    patterns: list[str] = []
    for header in headers[1:]:
        found = _include_patterns(text[accepted[-1].end() : header.start()], conf_prefix)
        if found is not None and any(_included(pattern, header.group(1)) for pattern in (*patterns, *found)):
            patterns += found
            accepted.append(header)
    files = []
    for index, header in enumerate(accepted):
        end = accepted[index + 1].start() if index + 1 < len(accepted) else len(text)
        content = text[header.end() : end]
        files.append((header.group(1), content[:-1] if content.endswith("\n") else content))
    return files


def parse_dump(text: str) -> Dump:
    """Parse the stdout of ``nginx -T``: every printed file, and the main file's tree with includes spliced in."""
    if not isinstance(text, str):
        raise ConfigError(f"the nginx -T output must be a string, got {type(text).__name__}")
    files = tuple(ConfigFile(path, content, parse_config(content, path)) for path, content in _split(text))
    by_path: dict[str, ConfigFile] = {}
    for config in files:
        by_path.setdefault(config.path, config)
    main = files[0]
    conf_prefix = posixpath.dirname(main.path) + "/"
    includes: list[Include] = []

    def splice(
        directives: tuple[Directive, ...], context: tuple[str, ...], stack: tuple[str, ...]
    ) -> tuple[Directive, ...]:
        out: list[Directive] = []
        for directive in directives:
            if directive.name == "include" and directive.block is None and len(directive.args) == 1:
                name = directive.args[0]
                pattern = name if name.startswith("/") else conf_prefix + name
                matched = tuple(sorted(path for path in by_path if _included(pattern, path)))
                includes.append(Include(directive.file, directive.line, pattern, matched, context))
                for path in matched:
                    if path in stack:
                        raise ConfigError(
                            f"{directive.file}:{directive.line}: include {name} includes {path} inside itself"
                        )
                    out.extend(splice(by_path[path].directives, context, (*stack, path)))
                continue
            block = None
            if directive.block is not None:
                block = splice(directive.block, (*context, directive.name), stack)
            out.append(replace(directive, context=context, block=block))
        return tuple(out)

    tree = splice(main.directives, (), (main.path,))
    return Dump(files=files, tree=tree, includes=tuple(includes))


def walk(directives: Sequence[Directive]) -> Iterator[Directive]:
    """Every directive of a tree, depth first, in file order."""
    for directive in directives:
        yield directive
        if directive.block:
            yield from walk(directive.block)


def map_definitions(dump: Dump) -> list[Definition]:
    """Every variable a map, geo or split_clients block defines in the http context, in nginx's order."""
    result = []
    for directive in walk(dump.tree):
        counts = VARIABLE_BLOCKS.get(directive.name)
        if directive.context != ("http",) or directive.block is None or not counts:
            continue
        if len(directive.args) in counts and directive.args[-1].startswith("$"):
            result.append(Definition(directive.args[-1][1:], directive.file, directive.line, directive.text()))
    return result


def parse_listen(args: Sequence[str], file: str = "", line: int = 0) -> Listen:
    """A listen directive's arguments, normalised (ngx_parse_url with port 80 by default)."""
    if not args:
        raise ConfigError(f"{file}:{line}: listen without an address")
    address, flags = args[0], set(args[1:])
    port: int | None = DEFAULT_PORT
    try:
        if address.startswith("unix:"):
            host, port = address, None
        elif address.startswith("["):
            end = address.index("]")
            host = "[" + ipaddress.IPv6Address(address[1:end]).compressed + "]"
            rest = address[end + 1 :]
            if rest and not rest.startswith(":"):
                raise ValueError(address)
            if rest:
                port = int(rest[1:])
        elif address.isdigit():
            host, port = "*", int(address)
        else:
            host, _colon, tail = address.rpartition(":") if ":" in address else (address, "", "")
            if tail:
                port = int(tail)
            if host in ("*", "0.0.0.0"):
                host = "*"
            else:
                try:
                    host = str(ipaddress.IPv4Address(host))
                except ValueError:
                    host = host.lower()  # a host name: nginx resolves it; kept as a specific address
    except ValueError:
        raise ConfigError(f"{file}:{line}: listen {address!r} is not an address and port nginx accepts") from None
    return Listen(
        address=host,
        port=port,
        ssl="ssl" in flags,
        default_server=bool(flags & {"default_server", "default"}),
        file=file,
        line=line,
        text=" ".join(("listen", *args)),
    )


def parse_location(args: Sequence[str]) -> tuple[str, str]:
    """(modifier, path) from a location's arguments, as ngx_http_core_location reads them: '=/x' is '= /x'."""
    if len(args) == 2:
        return args[0], args[1]
    if len(args) == 1:
        name = args[0]
        if name.startswith("~*"):
            return "~*", name[2:]
        if name.startswith(("=", "~")):
            return name[0], name[1:]
        return "", name
    return "", " ".join(args)


def _location(directive: Directive) -> Location:
    modifier, path = parse_location(directive.args)
    children = tuple(
        _location(child) for child in directive.block or () if child.name == "location" and child.block is not None
    )
    return Location(modifier, path, directive.file, directive.line, children)


def _server(directive: Directive) -> Server:
    block = directive.block or ()
    names = tuple(arg for child in block if child.name == "server_name" for arg in child.args) or ("",)
    listens = tuple(parse_listen(child.args, child.file, child.line) for child in block if child.name == "listen")
    if not listens:
        listens = (Listen("*", DEFAULT_PORT, file=directive.file, line=directive.line, text="(no listen: *:80)"),)
    locations = tuple(_location(child) for child in block if child.name == "location" and child.block is not None)
    return Server(names, listens, directive.file, directive.line, locations, block)


def servers(dump: Dump) -> list[Server]:
    """Every http server block, in nginx's order (server blocks of upstream and stream are not these)."""
    return [
        _server(directive)
        for directive in walk(dump.tree)
        if directive.name == "server" and directive.context == ("http",) and directive.block is not None
    ]


# --- nginx -t errors ------------------------------------------------------------------------------

_ERROR_AT = re.compile(r"^.* in (/.+):(\d+)\s*$")
_SERIOUS = re.compile(r"\[(emerg|alert|crit)\]")


def nginx_error_file(stderr: str) -> tuple[str, int] | None:
    """The file and line an ``nginx -t`` error names ('... in /etc/nginx/sites-enabled/broken:3'), or None.

    An emerg, alert or crit line wins over a warning; within one, the last ' in <file>:<line>' is nginx's
    (a quoted value before it may itself contain ' in ')."""
    if not isinstance(stderr, str):
        return None
    lines = stderr.splitlines()
    for candidates in ([line for line in lines if _SERIOUS.search(line)], lines):
        for line in candidates:
            match = _ERROR_AT.match(line)
            if match:
                return match.group(1), int(match.group(2))
    return None


# --- conflicts with the role's files --------------------------------------------------------------


def _names(name: str) -> set[str]:
    """What a server_name matches as nginx hashes it: '.example.com' is 'example.com' and '*.example.com'."""
    lowered = name.lower()
    if lowered.startswith("~"):
        return set()  # regular expressions are tried in order; nginx never calls them conflicting
    if lowered.startswith("."):
        return {lowered[1:], "*" + lowered}
    return {lowered}


def _strings(value: object, where: str) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigError(f"{where}: {value!r} is not a list of strings")
    for item in value:
        if not isinstance(item, str):
            raise ConfigError(f"{where}: {item!r} is not a string")
    return list(value)


def _mapping(value: object, where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {value!r} is not {what}")
    return value


def _role_locations(value: object, where: str) -> list[dict[str, str]]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigError(f"{where}: {value!r} is not a list of locations")
    result = []
    for index, item in enumerate(value):
        location = _mapping(item, f"{where}[{index}]", "a dict with modifier, path and source")
        if not isinstance(location.get("path"), str):
            raise ConfigError(f"{where}[{index}].path: {location.get('path')!r} is not a location path")
        modifier = location.get("modifier") or ""
        if modifier not in (*INCLUSIVE, "=", *REGEX):
            raise ConfigError(f"{where}[{index}].modifier: {modifier!r} is not one of '', '=', '^~', '~', '~*'")
        result.append({"modifier": modifier, "path": location["path"], "source": location.get("source") or where})
    return result


def _role_listens(vhost: Mapping[str, Any], where: str) -> list[Listen]:
    items = vhost.get("listen")
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not items:
        raise ConfigError(f"{where}.listen: {items!r} is not a non-empty list of {{port, ssl, default_server}}")
    result = []
    for index, item in enumerate(items):
        listen = _mapping(item, f"{where}.listen[{index}]", "a dict with port, ssl and default_server")
        port = listen.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigError(f"{where}.listen[{index}].port: {port!r} is not a port (1-65535)")
        # The role writes 'listen <port>': every IPv4 address. An explicit address may say otherwise.
        address = parse_listen([f"{listen.get('address', '*')}:{port}"]).address
        result.append(
            Listen(address, port, bool(listen.get("ssl")), bool(listen.get("default_server")), text=f"port {port}")
        )
    # A TLS vhost's redirect_http server listens on plain HTTP with the same server names: it clashes like a listen.
    redirect = vhost.get("redirect")
    if redirect:
        port = redirect.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigError(f"{where}.redirect.port: {port!r} is not a port (1-65535)")
        result.append(Listen("*", port, False, False, text=f"port {port} (its redirect_http server)"))
    return result


def _conflict(kind: str, message: str, file: str | None, line: int | None, source: str) -> dict[str, Any]:
    return {"kind": kind, "message": message, "file": file, "line": line, "source": source}


def _variable_conflicts(definitions: list[Definition], variables: list[str], mode: str) -> list[dict[str, Any]]:
    conflicts = []
    for variable in variables:
        found = [item for item in definitions if item.variable.lower() == variable.lower()]
        if mode == "adopt" and len(found) == 1:
            continue  # the role uses that one definition instead of writing its own
        for item in found:
            where = f"{item.file}:{item.line}"
            if mode == "adopt":
                others = ", ".join(f"{other.file}:{other.line}" for other in found)
                message = (
                    f"${variable} is defined {len(found)} times outside this role ({others}); nginx silently "
                    f"uses the last one, so there is no one definition to adopt. Keep one of them."
                )
            else:
                message = (
                    f"${variable} is already defined by {where} ({item.statement}); nginx would silently use "
                    f"the last one. Remove that {item.statement.split()[0]} (or rename its variable) or let "
                    f"this role own it."
                )
            conflicts.append(_conflict("variable", message, item.file, item.line, f"${variable}"))
    return conflicts


def _server_conflicts(foreign: list[Server], vhosts: Sequence[Any], name: str) -> list[dict[str, Any]]:
    conflicts = []
    for index, raw in enumerate(vhosts):
        vhost = _mapping(raw, f"{name}[{index}]", "a normalised vhost (the output of websocket_vhosts)")
        where = vhost.get("source") or f"{name}[{index}]"
        names = _strings(vhost.get("server_names"), f"{where}.server_names")
        for own in _role_listens(vhost, where):
            for server in foreign:
                shown = f"the server block at {server.file}:{server.line}"
                for listen in server.listen:
                    if own.default_server and listen.default_server and own.same_socket(listen):
                        conflicts.append(
                            _conflict(
                                "default_server",
                                f"{where}.default_server: port {own.port} already has a default server, {shown} "
                                f"({listen.text} at {listen.file}:{listen.line}); nginx -t would fail with "
                                f'"a duplicate default server". Remove default_server from that listen '
                                f"directive, or set {where}.default_server: false.",
                                listen.file,
                                listen.line,
                                f"{where}.default_server",
                            )
                        )
                    if own.same_socket(listen) and own.ssl != listen.ssl and own.port is not None:
                        conflicts.append(_tls_mix(where, own, listen, shown))
                clash = _name_clash(names, own, server)
                if clash:
                    own_name, their_name, listen = clash
                    if own.same_socket(listen):
                        why = (
                            'nginx would warn "conflicting server name" and silently ignore one of the two'
                            " server blocks"
                        )
                    else:
                        specific = listen if own.wildcard else own
                        winner = "that server block" if specific is listen else "this vhost"
                        why = (
                            f"requests arriving on {specific.socket} would reach {winner} only, and nginx says nothing"
                        )
                    conflicts.append(
                        _conflict(
                            "server",
                            f"{where}.server_name: {own_name!r} on port {own.port} is already served by {shown} "
                            f"(server_name {their_name}; {listen.text}); {why}. Remove that server block or its "
                            f"server_name {their_name}, or give this vhost another server name or port.",
                            server.file,
                            server.line,
                            f"{where}.server_name",
                        )
                    )
    return conflicts


def _tls_mix(where: str, own: Listen, listen: Listen, shown: str) -> dict[str, Any]:
    """One address:port that would be TLS for one server and plain for the other. ``ssl`` on a listen applies to
    the whole address:port: every server there speaks TLS, and when the port's default server (the first, or the
    default_server) has no certificate, nginx -t fails with 'no "ssl_certificate" is defined for the "listen ...
    ssl" directive', naming that server's file: the foreign one when this vhost is the TLS one."""
    theirs, ours = ("without TLS", "with TLS (tls)") if own.ssl else ("with TLS (ssl)", "without TLS")
    return _conflict(
        "tls_port",
        f"{where}.listen: port {own.port} would be served {ours} by this vhost, but {shown} listens on the same "
        f"address and port {theirs} ({listen.text} at {listen.file}:{listen.line}); ssl on a listen applies to "
        f"the whole address:port, so both would speak TLS, and nginx -t fails (no \"ssl_certificate\" is defined "
        f"for the \"listen ... ssl\" directive, in that port's default server) when the default server has no "
        f"certificate. Give this vhost another port, or move that server to another port (or serve it with TLS).",
        listen.file,
        listen.line,
        f"{where}.listen",
    )


def _name_clash(names: list[str], own: Listen, server: Server) -> tuple[str, str, Listen] | None:
    """The first (role name, their name, their listen) nginx would see twice on one address, if any."""
    for listen in server.listen:
        if not own.overlaps(listen):
            continue
        for own_name in names:
            for their_name in server.server_names:
                if _names(own_name) & _names(their_name):
                    return own_name, their_name, listen
    return None


def _location_conflicts(
    foreign: list[Server], targets: Sequence[Any], owned: set[str], name: str
) -> list[dict[str, Any]]:
    conflicts = []
    for index, raw in enumerate(targets):
        target = _mapping(raw, f"{name}[{index}]", "a dict with file and locations")
        file = target.get("file")
        if not isinstance(file, str) or not file.startswith("/"):
            raise ConfigError(f"{name}[{index}].file: {file!r} is not an absolute path")
        where = target.get("source") or f"{name}[{index}]"
        locations = _role_locations(target.get("locations"), f"{where}.locations")
        blocks = [server for server in foreign if posixpath.normpath(server.file) == posixpath.normpath(file)]
        if not blocks:
            conflicts.append(
                _conflict(
                    "snippet_target",
                    f"{where}.file: {file} holds no server block nginx loads (nginx -T did not print it, or it "
                    f"has none), so the snippet would never be used there. Enable that site, or remove it from "
                    f"the list.",
                    file,
                    None,
                    f"{where}.file",
                )
            )
        for server in blocks:
            theirs = [loc for loc in server.locations if posixpath.normpath(loc.file) not in owned]
            for location in locations:
                for their in theirs:
                    why = _duplicate_location(location, their)
                    if why:
                        conflicts.append(
                            _conflict(
                                "location",
                                f"{location['source']}: location {describe(location)!r} is already defined "
                                f"as location {their.describe()!r} at {their.file}:{their.line}, in the server "
                                f"block at {server.file}:{server.line} that is to include this role's snippet; "
                                f"{why}. Remove or rename that location, or give this location another path.",
                                their.file,
                                their.line,
                                location["source"],
                            )
                        )
    return conflicts


def _duplicate_location(location: Mapping[str, str], their: Location) -> str | None:
    """Why nginx cannot have both locations in one server block, or None (ngx_http_join_exact_locations)."""
    if location["path"] != their.path or their.path.startswith("@"):
        return None
    ours = location["modifier"]
    if (ours == "=" and their.modifier == "=") or (ours in INCLUSIVE and their.modifier in INCLUSIVE):
        return 'nginx -t would fail with "duplicate location"'
    if ours in REGEX and ours == their.modifier:
        return (
            "nginx accepts both without a word and the one written first wins, so the other would never serve a request"
        )
    return None


def nginx_conflicts(
    dump_text: str,
    owned_files: Sequence[str],
    variables: Sequence[str],
    vhosts: Sequence[Mapping[str, Any]],
    mode: str = "fail",
    snippet_targets: Sequence[Mapping[str, Any]] | None = None,
    name: str = "websocket_proxy_vhosts",
) -> list[dict[str, Any]]:
    """What in the running configuration (``nginx -T`` stdout) would clash with what the role is about to write.

    ``owned_files`` are the files the role writes or removes: what they hold now is about to be replaced and
    is ignored. ``variables`` are the variables the role's map file defines; ``vhosts`` the normalised vhosts
    (websocket_vhosts); ``snippet_targets`` a list of ``{file, locations}``: the role's locations will be
    included into every server block of that file. With ``mode='adopt'`` a variable defined exactly once
    elsewhere is not a conflict (the role uses it instead of its own); defined twice or more, it still is.

    Returns a list of dicts ``{kind, message, file, line, source}``: kind is 'variable', 'server',
    'default_server', 'tls_port' (a port TLS for one side and plain for the other), 'location' or
    'snippet_target'; file and line say where the other definition is.
    """
    if mode not in MODES:
        raise ConfigError(f"nginx_conflicts: mode {mode!r} is not one of {', '.join(MODES)}")
    owned = {posixpath.normpath(path) for path in _strings(owned_files, "nginx_conflicts: owned_files")}
    wanted = [variable.removeprefix("$") for variable in _strings(variables, "nginx_conflicts: variables")]
    if isinstance(vhosts, (str, bytes)) or not isinstance(vhosts, Sequence):
        raise ConfigError(f"{name}: {vhosts!r} is not a list of normalised vhosts")
    targets = [] if snippet_targets is None else snippet_targets
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence):
        raise ConfigError(f"nginx_conflicts: snippet_targets {targets!r} is not a list of {{file, locations}}")

    dump = parse_dump(dump_text)
    definitions = [item for item in map_definitions(dump) if posixpath.normpath(item.file) not in owned]
    foreign = [server for server in servers(dump) if posixpath.normpath(server.file) not in owned]
    return (
        _variable_conflicts(definitions, wanted, mode)
        + _server_conflicts(foreign, vhosts, name)
        + _location_conflicts(foreign, targets, owned, "snippet_targets")
    )
