"""doctor_checks: the route to a planned location in nginx -T, then each check of the location serving it."""

from __future__ import annotations

from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_checks import (
    LOCATION_CHECKS,
    analyse,
    duplicate_maps,
    proxy_pass_differs,
    read_timeout,
    route,
    socket_io_without_stickiness,
    upgrade_headers,
    upstream_differs,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_nginx import read_nginx
from nginx_helpers import ROLE_MAPS

HOUR = 3_600_000
HEADERS = (
    "proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;"
)
ENTRY: dict[str, Any] = {
    "server_name": "api.example.test",
    "port": 80,
    "uri": "/api/frontend-audio",
    "modifier": "",
    "path": "/api/",
    "location": "/api/",
    "proxy_pass": "http://calls-backend:5006",
    "backends": ["calls-backend:5006"],
}


def config(locations: str, http: str = ""):
    """nginx -T of one server block for api.example.test:80 holding ``locations``, with the role's maps."""
    site = f"server {{\n    listen 80;\n    server_name api.example.test;\n{locations}}}\n"
    main = f"events {{}}\nhttp {{\n{ROLE_MAPS}{http}    include /etc/nginx/sites-enabled/*;\n}}\n"
    stdout = (
        f"# configuration file /etc/nginx/nginx.conf:\n{main}\n"
        f"# configuration file /etc/nginx/sites-enabled/api.conf:\n{site}\n"
    )
    return read_nginx({"rc": 0, "stdout": stdout, "stderr": ""})


def served(locations: str, http: str = "", entry: dict[str, Any] | None = None):
    found = route(config(locations, http), entry or ENTRY, HOUR, "1h")
    assert found.served is not None, found
    return found.served


GOOD = f"    location /api/ {{ proxy_pass http://calls-backend:5006; {HEADERS} proxy_read_timeout 1d; }}\n"


def test_the_checks_run_in_the_order_their_issues_are_reported():
    assert LOCATION_CHECKS == (
        duplicate_maps,
        upgrade_headers,
        upstream_differs,
        proxy_pass_differs,
        socket_io_without_stickiness,
        read_timeout,
    )
    assert all(check(served(GOOD)) == [] for check in LOCATION_CHECKS)
    assert analyse(config(GOOD), ENTRY, HOUR, "1h").issues == []


def test_the_route_stops_where_the_uri_goes_astray():
    redirect = route(config("    location /api/frontend-audio/ { proxy_pass http://x; }\n"), ENTRY, HOUR, "1h")
    assert [i.hop for i in redirect.issues] == ["location order"] and redirect.served is None
    assert redirect.served_by == "location '/api/frontend-audio/' (/etc/nginx/sites-enabled/api.conf:4)"
    static = route(config("    location /api/ { root /srv; }\n"), ENTRY, HOUR, "1h")
    assert [(i.hop, i.summary) for i in static.issues] == [
        ("nginx location", "/api/frontend-audio is served by location '/api/', which does not proxy")
    ]
    elsewhere = route(config(GOOD), {**ENTRY, "port": 8080}, HOUR, "1h")
    assert [i.summary for i in elsewhere.issues] == ["nothing listens on port 8080"]


def test_each_check_reads_the_location_that_serves_the_uri():
    plain = served("    location /api/ { proxy_pass http://calls-backend:5006; }\n")
    assert [i.summary for i in upgrade_headers(plain)] == ["nginx does not forward Upgrade/Connection"]
    assert read_timeout(plain) == []  # only once the location forwards WebSockets at all
    short = served(GOOD.replace("1d", "30s"))
    assert [(i.severity, i.summary) for i in read_timeout(short)] == [("warn", "proxy_read_timeout 30s < 1h")]
    moved = served(GOOD.replace("calls-backend:5006", "other:1"))
    assert [i.summary for i in proxy_pass_differs(moved)] == [
        "proxy_pass http://other:1, the inventory says http://calls-backend:5006"
    ]
    twice = served(GOOD, http="map $http_upgrade $connection_upgrade { default upgrade; }\n")
    assert [(i.severity, i.summary) for i in duplicate_maps(twice)] == [
        ("warn", "map $connection_upgrade defined twice")
    ]


def test_an_upstream_edited_by_hand_is_a_warning():
    upstream = "upstream calls { server calls-backend:5007; }\n"
    location = GOOD.replace("http://calls-backend:5006", "http://calls")
    entry = {**ENTRY, "proxy_pass": "http://calls"}
    issues = upstream_differs(served(location, http=upstream, entry=entry))
    assert [(i.severity, i.summary) for i in issues] == [
        ("warn", "upstream calls sends to calls-backend:5007, the inventory says calls-backend:5006")
    ]


def test_socket_io_over_several_servers_without_stickiness_is_a_warning():
    """Socket.IO starts with long-polling: every request of a session must reach the server that holds it."""
    entry = {**ENTRY, "uri": "/socket.io/", "path": "/socket.io/", "location": "/socket.io/"}
    entry["proxy_pass"], entry["backends"] = "http://app", ["a:3000", "b:3000"]
    where = f"    location /socket.io/ {{ proxy_pass http://app; {HEADERS} proxy_read_timeout 1d; }}\n"

    def issues(upstream: str, locations: str = where, probe: dict[str, Any] | None = None) -> list[str]:
        found = served(locations, f"upstream app {{ {upstream} }}\n", probe or entry)
        return [issue.summary for issue in socket_io_without_stickiness(found)]

    assert issues("server a:3000; server b:3000;") == ["Socket.IO over 2 servers by round robin, not sticky"]
    assert issues("least_conn; server a:3000; server b:3000;") == ["Socket.IO over 2 servers by least_conn, not sticky"]
    # Sticky, one primary (the other a backup or down), or not Socket.IO's path: nothing to say.
    assert issues("ip_hash; server a:3000; server b:3000;") == []
    assert issues("hash $remote_addr consistent; server a:3000; server b:3000;") == []
    assert issues("server a:3000; server b:3000 backup;") == []
    assert issues("server a:3000; server b:3000 down;") == []
    api = f"    location /api/ {{ proxy_pass http://app; {HEADERS} proxy_read_timeout 1d; }}\n"
    assert issues("server a:3000; server b:3000;", api, {**ENTRY, "proxy_pass": "http://app"}) == []
    # A location / serves /socket.io/ too, whatever URI the doctor probes.
    root = f"    location / {{ proxy_pass http://app; {HEADERS} proxy_read_timeout 1d; }}\n"
    probe = {**ENTRY, "uri": "/ws", "path": "/", "location": "/", "proxy_pass": "http://app"}
    assert issues("server a:3000; server b:3000;", root, probe) == [
        "Socket.IO over 2 servers by round robin, not sticky"
    ]
