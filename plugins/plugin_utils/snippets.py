# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""websocket_proxy_snippets: snippet mode, for hosts whose server blocks are hand-written.

Each snippet becomes a file of location blocks that the user's own server block includes
(``include snippets/websocket_proxy_<name>.conf;``), plus upstream blocks that the role writes
into the http context (conf.d), because nginx refuses ``upstream`` inside ``server``.

The locations take the schema of a vhost's locations and are normalised, checked and routed
exactly as for vhosts, by :mod:`_normalise`. Two differences, both because the server block is not ours:

* no server-level ``resolver``: a dynamic location (see :mod:`_normalise`) carries the resolver
  itself (``resolver`` is valid in location context), so it works whether or not the user's
  server block has one;
* upstream names are ``wsproxy_snippet_<name>_<n>``; a vhost's never start that way. The map variables of
  ``allowed_origins`` are ``$wsproxy_origin_forbidden_snippet_<name>_<n>`` and, since a snippet has no file in
  the http context of its own, the role writes their maps into conf.d/websocket_proxy_map.conf.

The routing check covers the snippet's own locations only: a location of the user's server
block could still capture a WebSocket URI (nginx refuses an exact duplicate, so ``nginx -t``
catches the case of the same location written twice).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils._normalise import (
    Defaults,
    Layout,
    assign_origin_maps,
    assign_upstreams,
    check_bases,
    check_keys,
    declared,
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

SNIPPET_KEYS = ("name", "locations", "state")


def _snippet(value: object, where: str, settings: Defaults) -> tuple[dict[str, Any], str]:
    snippet = mapping(value, where, "a dict with name and locations")
    check_keys(snippet, SNIPPET_KEYS, where)
    if "name" not in snippet:
        raise ConfigError(
            f"{where}.name: missing (a file stem, e.g. 'api-calls': the role writes "
            f"snippets/websocket_proxy_<name>.conf)"
        )
    name = validate_token(snippet["name"], "name", f"{where}.name")
    if "locations" not in snippet:
        raise ConfigError(f"{where}.locations: missing (a non-empty list of locations)")
    locations, uris = normalise_locations(snippet["locations"], f"{where}.locations", settings, snippet=True)
    base = upstream_base("wsproxy_snippet_", name)
    upstreams = assign_upstreams(locations, base, settings.upstream_keepalive)
    origin_maps = assign_origin_maps(locations, base)
    problems = routing_problems(locations, [(uri, True) for uri in uris], f"{where}.locations")
    if problems:
        raise ConfigError("; ".join(problems))
    return {
        "name": name,
        "locations": locations,
        "upstreams": upstreams,
        "websocket_uris": uris,
        "source": where,
        "origin_maps": origin_maps,
    }, base


def snippet_files(snippet: dict[str, Any], layout: Layout) -> dict[str, Any]:
    """The file a normalised snippet owns on this OS layout: ``conf``, ``<snippet_dir>/websocket_proxy_<name>.conf``
    (the path a hand-written server block includes)."""
    conf = f"{layout.snippet_dir}/websocket_proxy_{snippet['name']}.conf"
    return {"conf": conf, "owned": [{"path": conf, "name": f"snippet {snippet['name']}"}]}


def websocket_snippets(
    snippets: object, defaults: object, name: str = "websocket_proxy_snippets", layout: object = None
) -> list[dict[str, Any]]:
    """Validate and normalise the role's snippets; see the filter's documentation for both schemas. With ``layout``
    (the OS layout, see :func:`_normalise.parse_layout`), each snippet also has ``files`` (:func:`snippet_files`)."""
    settings = parse_defaults(defaults, name)
    where_files = parse_layout(layout, name)
    items = sequence(snippets, name, "a list of snippets")
    result: list[dict[str, Any]] = []
    bases: dict[str, str] = {}
    names: dict[str, str] = {}
    for index, item in enumerate(items):
        where = f"{name}[{index}]"
        if not declared(item, where):
            continue
        snippet, bases[where] = _snippet(item, where, settings)
        key = snippet["name"].lower()
        if key in names:
            raise ConfigError(
                f"{where}.name: {snippet['name']!r} is already the name of {names[key]}; each snippet needs its "
                f"own file name"
            )
        names[key] = where
        result.append(snippet)
    check_bases(result, bases, "snippets")
    if where_files is not None:
        for snippet in result:
            snippet["files"] = snippet_files(snippet, where_files)
    return result
