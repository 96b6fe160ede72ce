"""location_match against real nginx: generated location sets, generated URIs, zero disagreements.

A seeded generator builds location sets from a small vocabulary (so prefixes overlap, and '-' and
'.' sort next to '/'), with every modifier, regexes of the kinds the role writes and ordinary ones,
and proxy_pass in some prefix locations (nginx's auto-redirect). One nginx serves every set as its
own server (selected by Host); each location answers with its id in an X-Loc header (also on 301
redirects) and a body. Every URI is requested and nginx's answer must equal location_match's.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import location_match
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.ws_regex import regex_escape, ws_path_regex
from nginx_helpers import Client, free_port, running_nginx

SEED = 20240603
SETS = 60
SEGMENTS = ["a", "ab", "api", "b", "x", "a-b", "a.b", "v1", "API", "ws", "a_b", "a~b"]
ENDPOINTS = ["frontend-audio", "call-events", "audio-stream", "a", "ab", "x.y", "v1/events"]
URI_RE = re.compile(r"/[A-Za-z0-9._~!*+,=:@/-]*")


def valid_uri(uri: str) -> bool:
    segments = uri.split("/")[1:]
    return bool(URI_RE.fullmatch(uri)) and "//" not in uri and not any(s in (".", "..") for s in segments)


def random_path(rng: random.Random) -> str:
    segments = [rng.choice(SEGMENTS) for _segment in range(rng.randint(0, 3))]
    path = "/" + "/".join(segments)
    if segments and rng.random() < 0.5:
        path += "/"
    if segments and rng.random() < 0.15:
        path = path[:-1] or "/"  # a partial segment: '/ap', '/a-'
    return path


def random_regex(rng: random.Random) -> str:
    path = random_path(rng)
    segment = rng.choice(SEGMENTS)
    choices = [
        lambda: ws_path_regex(rng.sample(ENDPOINTS, rng.randint(1, 3)), path),
        lambda: "^" + regex_escape(path),
        lambda: regex_escape(segment) + "$",
        lambda: r"\.(?:b|y)$",
        lambda: f"^/{regex_escape(segment)}/[0-9a-z]+",
        lambda: f"/{regex_escape(segment)}(?:/|$)",
        lambda: "^/(?:a|api)/",
        lambda: "[A-Z]{2}",
        lambda: r"^/a\w*b",
        lambda: r"^/[^/]+/x$",
        lambda: "^/API",
        lambda: "v1",
    ]
    return rng.choice(choices)()


def random_set(rng: random.Random) -> list[dict[str, object]]:
    locations: list[dict[str, object]] = []
    static: set[tuple[bool, str]] = set()  # (exact?, path): nginx refuses duplicates
    for _location in range(rng.randint(3, 10)):
        modifier = rng.choices(["", "=", "^~", "~", "~*"], weights=[35, 15, 15, 25, 10])[0]
        if modifier in ("~", "~*"):
            location: dict[str, object] = {"modifier": modifier, "path": random_regex(rng)}
        else:
            path = random_path(rng)
            key = (modifier == "=", path)
            if key in static:
                continue
            static.add(key)
            location = {"modifier": modifier, "path": path}
            if rng.random() < 0.35:
                location["proxy_pass"] = "http://127.0.0.1:9"
        locations.append(location)
    return locations


def uris_for(rng: random.Random, locations: list[dict[str, object]]) -> list[str]:
    uris: list[str] = ["/", "/api/frontend-audio", "/API/x"]
    for location in locations:
        path = str(location["path"])
        if location["modifier"] in ("~", "~*"):
            literal = re.sub(r"\\(.)", r"\1", re.sub(r"\(\?:([^|)]*)[^)]*\)", r"\1", path)).strip("^$")
            candidates = [literal, literal + "x", literal + "/", literal.upper()]
        else:
            candidates = [path, path + "x", path + "/y", path.rstrip("/"), path[:-1], path.upper(), path + ".b"]
        uris.extend(candidates)
    for _uri in range(4):
        uris.append(random_path(rng) + rng.choice(["", "x", "/1", ".b", "/x"]))
    return list(dict.fromkeys(u for u in uris if u.startswith("/") and valid_uri(u)))


def render(index: int, locations: list[dict[str, object]], port: int) -> str:
    blocks = []
    for n, location in enumerate(locations):
        modifier = f"{location['modifier']} " if location["modifier"] else ""
        path = str(location["path"])
        if "{" in path:
            path = f'"{path}"'  # nginx needs a regex with '{' quoted (the role's regexes never have one)
        proxy = f" proxy_pass {location['proxy_pass']};" if "proxy_pass" in location else ""
        blocks.append(
            f'        location {modifier}{path} {{ add_header X-Loc L{n} always; return 200 "L{n}";{proxy} }}'
        )
    body = "\n".join(blocks)
    return f"    server {{\n        listen 127.0.0.1:{port};\n        server_name s{index}.test;\n{body}\n    }}\n"


def test_location_match_agrees_with_nginx(tmp_path: Path, record_property) -> None:
    rng = random.Random(SEED)
    port = free_port()
    sets = [random_set(rng) for _set in range(SETS)]
    uris = [uris_for(rng, locations) for locations in sets]
    http = f"    server {{ listen 127.0.0.1:{port} default_server; server_name _; return 444; }}\n"
    http += "".join(render(i, locations, port) for i, locations in enumerate(sets))

    disagreements = []
    kinds = {"regex": 0, "prefix": 0, "exact": 0, "redirect": 0, "none": 0}
    with running_nginx(tmp_path, http, port), Client(port) as client:
        for index, (locations, set_uris) in enumerate(zip(sets, uris, strict=False)):
            for uri in set_uris:
                status, headers, _body = client.get(uri, host=f"s{index}.test")
                answer = headers.get("x-loc")
                found = location_match(locations, uri)
                predicted = None if found is None else f"L{next(i for i, x in enumerate(locations) if x is found)}"
                if found is None:
                    kinds["none"] += 1
                elif status == 301:
                    kinds["redirect"] += 1
                else:
                    modifier = found["modifier"]
                    kinds["regex" if modifier in ("~", "~*") else "exact" if modifier == "=" else "prefix"] += 1
                if answer != predicted:
                    disagreements.append((index, uri, status, answer, predicted, locations))

    total_uris = sum(len(u) for u in uris)
    record_property("location_sets", len(sets))
    record_property("uris", total_uris)
    record_property("disagreements", len(disagreements))
    print(f"\n{len(sets)} location sets, {total_uris} URIs, {len(disagreements)} disagreements; served by {kinds}")
    assert len(sets) >= 50
    assert total_uris >= 500
    # Every rule was exercised, so agreement means something.
    assert all(kinds[k] >= 10 for k in kinds), kinds
    assert not disagreements, "\n".join(
        f"s{i}.test {uri}: nginx {status} {answer}, location_match {predicted}\n  {locations}"
        for i, uri, status, answer, predicted, locations in disagreements[:10]
    )


@pytest.mark.parametrize(
    ("locations", "checks"),
    [
        # The seed's alternative layout, regex before prefix.
        (
            [
                {"modifier": "~", "path": "^/api/(frontend-audio|call-events|audio-stream)"},
                {"modifier": "", "path": "/api/"},
            ],
            {"/api/frontend-audio": 0, "/api/frontend-audiox": 0, "/api/users": 1, "/api": None},
        ),
        # The seed's advice "specific blocks first" is only half true: prefix order does not matter...
        (
            [{"modifier": "", "path": "/api/"}, {"modifier": "", "path": "/api/frontend-audio"}],
            {"/api/frontend-audio": 1, "/api/x": 0},
        ),
        # ...regex order does, and a regex beats a longer plain prefix unless it is ^~.
        (
            [
                {"modifier": "~", "path": "^/api/"},
                {"modifier": "~", "path": "^/api/frontend-audio"},
                {"modifier": "", "path": "/api/frontend-audio"},
                {"modifier": "^~", "path": "/api/static/"},
            ],
            {"/api/frontend-audio": 0, "/api/static/x": 3, "/api/static": 0},
        ),
        # proxy_pass in /api/ redirects /api before any regex is tried.
        (
            [{"modifier": "~", "path": "^/api"}, {"modifier": "", "path": "/api/", "proxy_pass": "http://127.0.0.1:9"}],
            {"/api": 1, "/api/": 0, "/apix": 0},
        ),
        # nginx sorts '/' before every other character (ngx_filename_cmp); in plain byte order
        # '/api-x' and '/api.y' would sort first and the tree walk for /api would miss /api/.
        (
            [
                {"modifier": "", "path": "/api/", "proxy_pass": "http://127.0.0.1:9"},
                {"modifier": "", "path": "/api-x"},
                {"modifier": "", "path": "/api.y"},
                {"modifier": "~", "path": "^/api$"},
            ],
            {"/api": 0, "/api-x": 1, "/api.y/z": 2, "/api/": 0},
        ),
    ],
)
def test_hand_written_cases(tmp_path: Path, locations: list[dict[str, object]], checks: dict[str, int | None]) -> None:
    port = free_port()
    with running_nginx(tmp_path, render(0, locations, port), port), Client(port) as client:
        for uri, expected in checks.items():
            _status, headers, _body = client.get(uri, host="s0.test")
            answer = headers.get("x-loc")
            assert answer == (None if expected is None else f"L{expected}"), f"nginx for {uri}"
            found = location_match(locations, uri)
            assert found is (None if expected is None else locations[expected]), f"location_match for {uri}"
