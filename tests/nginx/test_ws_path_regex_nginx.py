"""ws_path_regex against real nginx: it compiles unquoted after `location ~` and matches exactly the endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.locations import location_match
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.ws_regex import ws_path_regex
from nginx_helpers import Client, free_port, running_nginx

SEED = ["frontend-audio", "call-events", "audio-stream"]


@pytest.mark.parametrize(
    ("endpoints", "prefix", "requests"),
    [
        (
            SEED,
            "/api/",
            {
                "/api/frontend-audio": "ws",
                "/api/frontend-audio/": "ws",
                "/api/frontend-audio/x": "ws",
                "/api/call-events": "ws",
                "/api/audio-stream": "ws",
                "/api/frontend-audiox": "plain",
                "/api/x/frontend-audio": "plain",
                "/api/frontend": "plain",
                "/api/": "plain",
                "/API/frontend-audio": "none",
                "/x/api/frontend-audio": "none",
            },
        ),
        (
            ["a.b", "v2/events"],
            "/api",
            {"/api/a.b": "ws", "/api/axb": "plain", "/api/v2/events/1": "ws", "/api/v2": "plain"},
        ),
        (["x~y_z-1"], "/p.q+r/", {"/p.q+r/x~y_z-1": "ws", "/pxq+r/x~y_z-1": "none", "/p.qqr/x~y_z-1": "none"}),
    ],
)
def test_regex_in_nginx(tmp_path: Path, endpoints: list[str], prefix: str, requests: dict[str, str]) -> None:
    regex = ws_path_regex(endpoints, prefix)
    plain = prefix if prefix.endswith("/") else prefix + "/"
    # The seed's alternative layout as the role writes it: the regex first, unquoted, then the prefix.
    locations = [{"modifier": "~", "path": regex, "id": "ws"}, {"modifier": "", "path": plain, "id": "plain"}]
    port = free_port()
    http = f"""    server {{
        listen 127.0.0.1:{port};
        location ~ {regex} {{ return 200 "ws"; }}
        location {plain} {{ return 200 "plain"; }}
        location / {{ return 200 "none"; }}
    }}
"""
    with running_nginx(tmp_path, http, port), Client(port) as client:
        for uri, expected in requests.items():
            assert client.get(uri)[2].decode() == expected, uri
            found = location_match(locations, uri)
            assert (found["id"] if found else "none") == expected, f"location_match for {uri}"
