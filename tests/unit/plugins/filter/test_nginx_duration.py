"""nginx_duration: accepted inputs, canonical output, rejected inputs and their messages."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.nginx_duration import FilterModule
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import (
    MAX_MS,
    duration_ms,
    format_ms,
    nginx_duration,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError

FILTER = FilterModule().filters()["nginx_duration"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (86400, "1d"),
        (5400, "1h30m"),
        (90, "1m30s"),
        (60, "1m"),
        (1, "1s"),
        (604800, "1w"),
        (694861, "1w1d1h1m1s"),
        (0.5, "500ms"),
        (1.25, "1s250ms"),
        ("500ms", "500ms"),
        ("86400", "1d"),
        ("0.5", "500ms"),
        ("0.001", "1ms"),
        ("24h", "1d"),
        ("1d 2h", "1d2h"),
        ("1d2h", "1d2h"),
        ("1d   2h", "1d2h"),
        ("90s", "1m30s"),
        ("90m", "1h30m"),
        ("1h30m", "1h30m"),
        ("60s", "1m"),
        ("1m500ms", "1m500ms"),
        ("1500ms", "1s500ms"),
        ("2w", "2w"),
        ("007s", "7s"),
        (MAX_MS // 1000, "3w3d20h31m23s"),
        ("24d20h31m23s647ms", "3w3d20h31m23s647ms"),
    ],
)
def test_accepted(value: object, expected: str) -> None:
    assert nginx_duration(value) == expected
    assert FILTER(value) == expected


def test_zero_only_when_allowed() -> None:
    assert nginx_duration(0, allow_zero=True) == "0s"
    assert nginx_duration("0s", allow_zero=True) == "0s"
    assert FILTER("0ms", allow_zero=True) == "0s"
    with pytest.raises(ConfigError, match=r"^t: 0 is zero, which is not allowed here"):
        nginx_duration(0, name="t")
    with pytest.raises(AnsibleFilterError, match=r"^t: '0s' is zero"):
        FILTER("0s", name="t")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-1, "is negative"),
        (-0.5, "is negative"),
        ("-5s", "is negative"),
        (True, "is not a duration"),
        (False, "is not a duration"),
        (None, "is not a duration"),
        ("", "is not a duration"),
        ("24 hours", "is not a duration"),
        ("1.5.h", "is not a duration"),
        ("1.5h", "is not a duration"),
        ("10; return", "is not a duration"),
        ("10s;", "is not a duration"),
        ("1h\n", "is not a duration"),
        (" 1h", "is not a duration"),
        ("1h ", "is not a duration"),
        ("1 h", "is not a duration"),
        ("h", "is not a duration"),
        ("1d 2", "is not a duration"),
        ("0x10", "is not a duration"),
        ("１０s", "is not a duration"),  # noqa: RUF001 - full-width digits must not pass as digits
        ("30m1h", "largest first"),
        ("1h1h", "largest first"),
        ("1M", "uses the unit M (months)"),
        ("1y", "uses the unit y (years)"),
        ("1y 2d", "uses the unit y (years)"),
        ([1], "is not a duration"),
        ({"s": 1}, "is not a duration"),
        (float("nan"), "is not a duration"),
        (float("inf"), "is not a duration"),
        (0.0005, "not a whole number of milliseconds"),
        (MAX_MS // 1000 + 1, "is longer than 3w3d20h31m23s647ms (2147483647 ms)"),
        ("25d", "is longer than 3w3d20h31m23s647ms (2147483647 ms)"),
        ("9" * 80, "is too long to be a duration"),
    ],
)
def test_rejected(value: object, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        nginx_duration(value, name="websocket_proxy_vhosts[0].locations[1].read_timeout")
    message = str(caught.value)
    assert message.startswith(f"websocket_proxy_vhosts[0].locations[1].read_timeout: {value!r} ")
    assert reason in message
    with pytest.raises(AnsibleFilterError) as filtered:
        FILTER(value, name="websocket_proxy_read_timeout")
    assert str(filtered.value).startswith(f"websocket_proxy_read_timeout: {value!r} ")
    # the cause is chained, not passed as orig_exc (which ansible-core < 2.19 appends to the message)
    assert isinstance(filtered.value.__cause__, ConfigError)


def test_error_says_what_is_accepted() -> None:
    with pytest.raises(ConfigError, match=r"units: w d h m s ms"):
        nginx_duration("forever")


def test_filter_checks_its_arguments() -> None:
    with pytest.raises(AnsibleFilterError, match="name must be a string"):
        FILTER("1h", name=3)
    with pytest.raises(AnsibleFilterError, match="allow_zero must be a boolean"):
        FILTER("1h", allow_zero="yes")


@pytest.mark.parametrize("ms", [0, 1, 999, 1000, 59_999, 60_000, 3_600_001, 86_400_000, 694_861_001, MAX_MS])
def test_format_round_trips(ms: int) -> None:
    assert duration_ms(format_ms(ms)) == ms
