"""websocket_vhosts against real nginx: the normalised output, written the way the role's templates
write it, passes nginx -t, and every WebSocket URI reaches a WebSocket location in nginx too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts
from nginx_helpers import Client, free_port, running_nginx

# upstream_keepalive 0: this test renders the locations alone, without upstream blocks.
DEFAULTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s", "upstream_keepalive": 0}


def render(vhost: dict[str, Any], port: int) -> str:
    """A reduced vhost template: listen, server_name, and each location in the given order. Each location
    returns its source and kind instead of proxying (proxy_pass stays, so auto-redirects behave as deployed)."""
    lines = [f"    server {{\n        listen 127.0.0.1:{port};\n        server_name {' '.join(vhost['server_names'])};"]
    for n, location in enumerate(vhost["locations"]):
        modifier = f"{location['modifier']} " if location["modifier"] else ""
        kind = "ws" if location["websocket"] else "plain"
        lines.append(
            f"        location {modifier}{location['path']} {{\n"
            f"            add_header X-Loc {n}-{kind} always;\n"
            f'            return 200 "{n}-{kind}";\n'
            f"            proxy_pass {location['proxy_pass']};\n"
            f"            proxy_read_timeout {location['read_timeout']};\n"
            f"            proxy_send_timeout {location['send_timeout']};\n"
            f"            proxy_connect_timeout {location['connect_timeout']};\n"
            f"        }}"
        )
    lines.append("    }\n")
    return "\n".join(lines)


def test_normalised_vhosts_in_nginx(tmp_path: Path) -> None:
    vhosts = websocket_vhosts(
        [
            {
                "server_name": "api-calls.example.com",
                "name": "api-calls",
                "locations": [
                    {
                        "backend": "127.0.0.1:5006",
                        "websocket_endpoints": ["frontend-audio", "call-events", "audio-stream"],
                    },
                    {"path": "/events/", "backend": "http://127.0.0.1:5007/stream/", "read_timeout": 3600},
                    {"path": "/", "backend": "unix:/run/app.sock", "websocket": False},
                ],
            },
            {"server_name": ["*.example.org", "example.org"], "locations": [{"path": "/ws/", "backend": "[::1]:5006"}]},
        ],
        DEFAULTS,
    )
    port = free_port()
    http = "".join(render(v, port) for v in vhosts)
    with running_nginx(tmp_path, http, port), Client(port) as client:
        checked = 0
        for vhost in vhosts:
            host = vhost["server_names"][-1]
            for uri in vhost["websocket_uris"]:
                status, headers, _body = client.get(uri, host=host)
                assert status == 200 and headers["x-loc"].endswith("-ws"), (
                    f"{host}{uri}: {status} {headers.get('x-loc')}"
                )
                checked += 1
        assert checked == 5
        # The plain prefix of the alternative layout serves the rest of /api/, and /api is redirected.
        assert client.get("/api/users", host="api-calls.example.com")[1]["x-loc"] == "1-plain"
        assert client.get("/api/frontend-audiox", host="api-calls.example.com")[1]["x-loc"] == "1-plain"
        status, headers, _body = client.get("/events", host="api-calls.example.com")
        assert (status, headers["x-loc"]) == (301, "2-ws")
