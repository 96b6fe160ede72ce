"""nginx_duration against real nginx: its outputs are accepted by the timeout directives, and what it
refuses for nginx's sake nginx refuses too."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import MAX_MS, format_ms, nginx_duration
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from nginx_helpers import assert_nginx_accepts, assert_nginx_refuses, free_port

DIRECTIVES = ("proxy_read_timeout", "proxy_send_timeout", "proxy_connect_timeout")


def location(value: str) -> str:
    settings = " ".join(f"{d} {value};" for d in DIRECTIVES)
    return (
        f"    server {{ listen 127.0.0.1:{free_port()}; location / {{ {settings} proxy_pass http://127.0.0.1:9; }} }}\n"
    )


def test_outputs_are_accepted(tmp_path: Path) -> None:
    inputs = [86400, 5400, 90, 0.5, "500ms", "1d 2h", "24h", "60s", 1, 604800, "1w1d1h1m1s1ms", MAX_MS / 1000]
    outputs = [nginx_duration(v) for v in inputs] + [nginx_duration(0, allow_zero=True)]
    assert outputs[:4] == ["1d", "1h30m", "1m30s", "500ms"]
    assert format_ms(MAX_MS) in outputs
    for value in outputs:
        assert_nginx_accepts(tmp_path, location(value))


@pytest.mark.parametrize(
    ("value", "nginx_says", "ours"),
    [
        ("1M", "invalid value", None),  # months: nginx has the unit, but not in millisecond directives
        ("1y", "invalid value", None),  # years: likewise
        ("30m1h", "invalid value", None),  # units must come largest first
        ("1h1h", "invalid value", None),
        ("1.5h", "invalid value", None),
        ("24 hours", "invalid number of arguments", None),
        ("1d 2h", "invalid number of arguments", "1d2h"),  # unquoted, a space makes two arguments: no spaces out
    ],
)
def test_nginx_refuses_what_the_filter_refuses_or_rewrites(
    tmp_path: Path, value: str, nginx_says: str, ours: str | None
) -> None:
    assert_nginx_refuses(tmp_path, location(value), nginx_says)
    if ours is None:
        with pytest.raises(ConfigError):
            nginx_duration(value)
    else:
        assert nginx_duration(value) == ours
        assert_nginx_accepts(tmp_path, location(ours))
