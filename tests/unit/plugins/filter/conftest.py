"""Shared by the tests of websocket_vhosts and websocket_snippets, whose locations have one schema."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def no_security() -> dict[str, Any]:
    """What every location carries when no security or buffer key is set: nginx's body limit and buffer, no Origin
    check, no limits.

    Stated here rather than taken from plugin_utils.vhosts.NO_GUARD, so that the tests hold the normaliser to it."""
    return {
        "client_max_body_size": "1m",
        "proxy_buffer_size": None,
        "allowed_origins": [],
        "allow_missing_origin": True,
        "origin_variable": None,
        "limit_conn": 0,
        "handshake_rate": 0,
        "handshake_burst": 0,
        "limit_req_zone": None,
    }
