"""Helpers for tests that read the normalisers' output (websocket_vhosts, websocket_snippets): an upstream's servers."""

from __future__ import annotations

from typing import Any


def server(address: str, parameters: str = "", **values: Any) -> dict[str, Any]:
    """A normalised upstream server: nginx's defaults unless ``values`` say otherwise."""
    base = {"address": address, "weight": None, "max_fails": None, "fail_timeout": None, "backup": False}
    return {**base, **values, "parameters": parameters}


def addresses(upstream: dict[str, Any]) -> list[str]:
    """The addresses of an upstream's servers, in order."""
    return [item["address"] for item in upstream["servers"]]
