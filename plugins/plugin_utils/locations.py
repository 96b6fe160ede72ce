# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nginx's location selection for one server block without nested locations.

The rules (ngx_http_core_find_location):

1. ``location = /p`` whose path equals the URI wins at once.
2. Otherwise the longest matching prefix among ``location /p`` and ``location ^~ /p`` is
   remembered (``=`` locations are not prefixes). If it is a ``^~`` location, it wins.
3. Otherwise the regex locations (``~`` case-sensitive, ``~*`` case-insensitive) are tried in the
   order they appear in the file; the first that matches wins.
4. Otherwise the remembered longest prefix wins; with none, no location serves the URI.

One more rule that the usual summaries leave out: a prefix or exact location whose path ends in
``/`` and that holds ``proxy_pass`` (or fastcgi_pass, ...) is marked ``auto_redirect``; a request
for its path without that last ``/`` (``/api`` for ``location /api/``) is answered by that
location with a 301 to ``/api/``, before any regex is tried. Whether nginx notices such a
location comes from a walk of nginx's static location tree, so this module builds the same
tree nginx builds (ngx_http_init_static_location_trees, with ngx_filename_cmp's order where '/'
sorts lowest) and walks it the same way.

Prefix comparisons are case-sensitive byte comparisons (nginx on Linux); regexes are translated
by :mod:`pcre` and matched against the URI's UTF-8 bytes. The URI is taken as nginx sees it after
normalisation: decoded, without arguments, dot segments resolved and slashes merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.pcre import compile_pcre

MODIFIERS = ("", "=", "^~", "~", "~*")


@dataclass
class _Entry:
    name: bytes
    exact: int | None = None  # index into the locations list
    inclusive: int | None = None
    children: list[_Entry] = field(default_factory=list)


@dataclass
class _Node:
    name: bytes
    exact: int | None
    inclusive: int | None
    auto_redirect: bool
    left: _Node | None = None
    right: _Node | None = None
    tree: _Node | None = None


@dataclass(frozen=True)
class LocationMatch:
    """Which location serves a URI and why: kind is 'exact', 'prefix', 'regex' or 'redirect'."""

    location: Mapping[str, Any]
    index: int
    kind: str


def describe(location: Mapping[str, Any]) -> str:
    """``location`` as written after the directive: '~ ^/api/', '/api/', '= /x'."""
    modifier = location.get("modifier") or ""
    return f"{modifier} {location['path']}" if modifier else str(location["path"])


def _auto_redirect(location: Mapping[str, Any]) -> bool:
    if "auto_redirect" in location:
        flag = bool(location["auto_redirect"])
    else:
        flag = bool(location.get("proxy_pass"))
    return flag and str(location["path"]).endswith("/")


def _check(locations: object, name: str) -> list[Mapping[str, Any]]:
    if isinstance(locations, (str, bytes)) or not isinstance(locations, Sequence):
        raise ConfigError(f"{name}: {locations!r} is not a list of locations (dicts with 'modifier' and 'path')")
    result = []
    for index, location in enumerate(locations):
        where = f"{name}[{index}]"
        if not isinstance(location, Mapping):
            raise ConfigError(f"{where}: {location!r} is not a dict with 'modifier' and 'path'")
        modifier = location.get("modifier", "")
        if modifier is None:
            modifier = ""
        if modifier not in MODIFIERS:
            raise ConfigError(f"{where}.modifier: {modifier!r} is not one of {', '.join(map(repr, MODIFIERS))}")
        path = location.get("path")
        if not isinstance(path, str) or not path:
            raise ConfigError(f"{where}.path: {path!r} is not a non-empty string")
        if modifier in ("~", "~*"):
            try:
                compile_pcre(path, modifier == "~*")
            except ConfigError as exc:
                raise ConfigError(f"{where}.path: {exc}") from None
        result.append(location)
    return result


# ngx_filename_cmp makes '/' the lowest character: map it to 1 and shift 1-46 up by one.
_FILENAME_ORDER = bytes(1 if b == 0x2F else b + 1 if 1 <= b < 0x2F else b for b in range(256))


def _filename_key(name: bytes) -> bytes:
    return name.translate(_FILENAME_ORDER)


def _entries(locations: Sequence[Mapping[str, Any]], name: str) -> list[_Entry]:
    """Sort and join the static locations as ngx_http_init_locations/join_exact_locations do."""
    static = [
        (str(loc["path"]).encode("utf-8"), (loc.get("modifier") or "") == "=", index)
        for index, loc in enumerate(locations)
        if (loc.get("modifier") or "") in ("", "=", "^~")
    ]
    # ngx_queue_sort is a stable insertion sort with ngx_filename_cmp: a prefix sorts before its
    # extensions, '/' before any other character, and an exact location before the inclusive one
    # with the same name.
    static.sort(key=lambda item: (_filename_key(item[0]), not item[1]))
    entries: list[_Entry] = []
    for path, exact, index in static:
        if entries and entries[-1].name == path:
            last = entries[-1]
            if (exact and last.exact is not None) or (not exact and last.inclusive is not None):
                first = last.exact if exact else last.inclusive
                raise ConfigError(
                    f"{name}[{index}]: duplicate location {describe(locations[index])!r} "
                    f"(also {name}[{first}]); nginx refuses the config"
                )
            last.inclusive = index
            continue
        entries.append(_Entry(path, index if exact else None, None if exact else index))
    return _nest(entries)


def _nest(entries: list[_Entry]) -> list[_Entry]:
    """ngx_http_create_locations_list: put the locations starting with an inclusive one's name
    into that one's list, recursively."""
    result = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        j = i + 1
        if entry.inclusive is not None:
            while j < len(entries) and entries[j].name.startswith(entry.name):
                j += 1
            entry.children = _nest(entries[i + 1 : j])
        result.append(entry)
        i = j
    return result


def _tree(entries: list[_Entry], prefix: int, locations: Sequence[Mapping[str, Any]]) -> _Node | None:
    """ngx_http_create_locations_tree: the middle element (ngx_queue_middle) is the root."""
    if not entries:
        return None
    middle = len(entries) // 2
    entry = entries[middle]
    redirect = any(index is not None and _auto_redirect(locations[index]) for index in (entry.exact, entry.inclusive))
    node = _Node(entry.name[prefix:], entry.exact, entry.inclusive, redirect)
    node.left = _tree(entries[:middle], prefix, locations)
    node.right = _tree(entries[middle + 1 :], prefix, locations)
    node.tree = _tree(entry.children, len(entry.name), locations)
    return node


def _find_static(node: _Node | None, uri: bytes) -> tuple[str, int | None]:
    """ngx_http_core_find_static_location: ('exact'|'redirect'|'prefix'|'none', index)."""
    result: tuple[str, int | None] = ("none", None)
    while node is not None:
        n = min(len(uri), len(node.name))
        head = uri[:n]
        other = node.name[:n]
        if head != other:
            node = node.left if _filename_key(head) < _filename_key(other) else node.right
            continue
        if len(uri) > len(node.name):
            if node.inclusive is not None:
                result = ("prefix", node.inclusive)
                uri = uri[n:]
                node = node.tree
                continue
            node = node.right
            continue
        if len(uri) == len(node.name):
            if node.exact is not None:
                return ("exact", node.exact)
            return ("prefix", node.inclusive)
        if len(uri) + 1 == len(node.name) and node.auto_redirect:
            result = ("redirect", node.exact if node.exact is not None else node.inclusive)
        node = node.left
    return result


def match_location(locations: object, uri: object, name: str = "locations") -> LocationMatch | None:
    """The location nginx picks for ``uri``, with its index and the rule that picked it."""
    checked = _check(locations, name)
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise ConfigError(f"uri: {uri!r} is not a URI path (a string starting with '/')")
    raw = uri.encode("utf-8")
    root = _tree(_entries(checked, name), 0, checked)
    kind, index = _find_static(root, raw)
    if kind in ("exact", "redirect"):
        if index is None:  # every node of the tree holds an exact or an inclusive location
            raise RuntimeError(f"match_location: internal error, a {kind} match without a location for {uri!r}")
        return LocationMatch(checked[index], index, kind)
    noregex = kind == "prefix" and index is not None and (checked[index].get("modifier") or "") == "^~"
    if not noregex:
        for regex_index, location in enumerate(checked):
            modifier = location.get("modifier") or ""
            if modifier in ("~", "~*") and compile_pcre(str(location["path"]), modifier == "~*").search(raw):
                return LocationMatch(location, regex_index, "regex")
    if kind == "prefix" and index is not None:
        return LocationMatch(checked[index], index, "prefix")
    return None


def location_match(locations: object, uri: object, name: str = "locations") -> Mapping[str, Any] | None:
    """The location dict (the same object from ``locations``) nginx picks for ``uri``, or None."""
    found = match_location(locations, uri, name)
    return found.location if found else None


def routing_problems(locations: object, checks: Iterable[tuple[str, bool]], name: str = "locations") -> list[str]:
    """For each (uri, websocket expected) check, report a URI that no location serves or that is
    served by a location whose ``websocket`` flag differs from the expectation. Empty when all is well.

    A location's ``source`` key, when present, names it in the message; else ``name[index]``.
    """
    problems = []
    for uri, expect_websocket in checks:
        found = match_location(locations, uri, name)
        if found is None:
            problems.append(f"{name}: {uri} is not served by any location")
            continue
        location = found.location
        source = location.get("source") or f"{name}[{found.index}]"
        how = "redirected (301 to add the trailing '/') by" if found.kind == "redirect" else "served by"
        is_websocket = bool(location.get("websocket")) and found.kind != "redirect"
        if is_websocket == expect_websocket:
            continue
        if expect_websocket:
            problems.append(
                f"{name}: {uri} is {how} location {describe(location)!r} ({source}), which is not WebSocket-capable"
            )
        else:
            problems.append(
                f"{name}: {uri} is {how} location {describe(location)!r} ({source}), which is a WebSocket "
                f"location, but a plain one was expected"
            )
    return problems
