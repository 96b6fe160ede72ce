"""frame_size hints and the proxy_buffer_size they give WebSocket locations, directly and through the filters."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.buffers import frame_size, proxy_buffer_size
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.snippets import websocket_snippets
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts

DEFAULTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s"}
V = "websocket_proxy_vhosts"


@pytest.mark.parametrize(("value", "expected"), [
    ("", None), (None, None), (1, 1), (640, 640), ("640", 640), ("1k", 1024), ("16K", 16384), ("1m", 1048576),
    ("16m", 16 * 1048576),
])
def test_frame_size_reads_bytes_and_nginx_sizes(value: object, expected: int | None) -> None:
    assert frame_size(value, "f") == expected


@pytest.mark.parametrize("value", [0, "0", "17m", "1g", -5, "1.5k", "1 k", "big", True, 2.5, [640], {"k": 1}])
def test_frame_size_refuses_what_is_not_a_frame_size_naming_field_and_value(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        frame_size(value, "here.frame_size")
    assert str(caught.value).startswith(f"here.frame_size: {value!r} is not a frame size (")


@pytest.mark.parametrize(("hint", "websocket_only", "expected"), [
    (None, True, "1k"),  # a WebSocket-only location: the smallest buffer
    (None, False, None),  # plain requests too: nginx's default, its usual bound on response headers
    (1, False, "1k"), (640, True, "1k"), (1024, False, "1k"), (1025, False, "2k"), (16384, True, "16k"),
    (65536, False, "64k"), (1048576, True, "64k"),  # at most 64k: a larger frame passes a buffer at a time
])
def test_proxy_buffer_size(hint: int | None, websocket_only: bool, expected: str | None) -> None:
    assert proxy_buffer_size(hint, websocket_only) == expected


def buffers(locations: list[dict[str, Any]], **defaults: Any) -> list[tuple[str, str | None]]:
    vhost = {"name": "api", "server_name": "api.example.com", "locations": locations}
    [result] = websocket_vhosts([vhost], {**DEFAULTS, **defaults})
    return [(location["path"], location["proxy_buffer_size"]) for location in result["locations"]]


def test_a_location_hint_wins_over_the_role_wide_one_and_plain_locations_get_none() -> None:
    assert buffers(
        [{"path": "/api/", "backend": "b:1", "frame_size": "8k"}, {"path": "/ws/", "backend": "b:1"},
         {"path": "/plain/", "backend": "b:1", "websocket": False}],
        frame_size=640,
    ) == [("/api/", "8k"), ("/ws/", "1k"), ("/plain/", None)]


def test_without_hints_only_websocket_endpoints_get_the_small_buffer() -> None:
    assert buffers([{"path": "/api/", "backend": "b:1", "websocket_endpoints": ["call-events"]}]) == [
        ("^/api/(?:call-events)(?:/|$)", "1k"), ("/api/", None)]
    assert buffers([{"path": "/api/", "backend": "b:1"}]) == [("/api/", None)]


def test_an_empty_location_hint_falls_back_to_nginx_default() -> None:
    assert buffers([{"path": "/api/", "backend": "b:1", "frame_size": ""}], frame_size="4k") == [("/api/", None)]


@pytest.mark.parametrize(("locations", "defaults", "message"), [
    ([{"path": "/api/", "backend": "b:1", "frame_size": "1x"}], {},
     f"{V}[0].locations[0].frame_size: '1x' is not a frame size ("),
    ([{"path": "/api/", "backend": "b:1"}], {"frame_size": "20m"},
     "websocket_proxy_frame_size: '20m' is not a frame size ("),
    ([{"path": "/api/", "backend": "b:1", "websocket": False, "frame_size": 640}], {},
     f"{V}[0].locations[0].frame_size: 640 is set, but {V}[0].locations[0].websocket is false"),
])
def test_bad_hints_are_refused_naming_the_field(locations: list[dict[str, Any]], defaults: dict[str, Any],
                                                message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        buffers(locations, **defaults)
    assert str(caught.value).startswith(message)


def test_snippets_fit_their_buffers_too() -> None:
    snippet = {"name": "api", "locations": [{"path": "/api/", "backend": "b:1", "frame_size": 3000}]}
    [result] = websocket_snippets([snippet], DEFAULTS)
    assert [location["proxy_buffer_size"] for location in result["locations"]] == ["3k"]
