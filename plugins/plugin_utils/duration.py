# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durations as users write them, into nginx's time syntax for millisecond directives.

nginx parses times with ``ngx_parse_time``: components ``<digits><unit>`` with units
``y M w d h m s ms``, largest first, optionally separated by spaces. Directives that hold
milliseconds (``proxy_read_timeout``, ``proxy_send_timeout``, ``proxy_connect_timeout``) refuse
``y`` and ``M``, so this module refuses them too. The result is always one token without spaces
(``"1d 2h"`` unquoted would be two arguments to nginx).
"""

from __future__ import annotations

import math
import re

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError

UNITS_MS: dict[str, int] = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
_ORDER = list(UNITS_MS)

#: The largest timeout nginx accepts on every platform: on 32-bit builds ngx_parse_time works in
#: a signed 32-bit integer of milliseconds and refuses anything above it.
MAX_MS = 2**31 - 1

ACCEPTED = (
    "seconds as a number like 86400 or 0.5, or nginx time units largest first like "
    "'90s', '1h30m', '24h', '500ms', '1d 2h'; units: w d h m s ms"
)

_COMPONENT = r"[0-9]+(?:ms|[wdhms])"
_UNITS_RE = re.compile(rf"{_COMPONENT}(?: *{_COMPONENT})*")
_WITH_MY_RE = re.compile(r"[0-9]+(?:ms|[yMwdhms])(?: *[0-9]+(?:ms|[yMwdhms]))*")
_COMPONENT_RE = re.compile(r"([0-9]+)(ms|[wdhms])")
_SECONDS_RE = re.compile(r"[0-9]+(?:\.[0-9]{1,3})?")
_MAX_LEN = 64


def format_ms(total_ms: int) -> str:
    """Canonical nginx time string: largest exact units, no spaces (0 -> '0s')."""
    if total_ms == 0:
        return "0s"
    parts = []
    rest = total_ms
    for unit in _ORDER:
        count, rest = divmod(rest, UNITS_MS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _parse_string(value: str, name: str) -> int:
    if len(value) > _MAX_LEN:
        raise ConfigError(f"{name}: {value!r} is too long to be a duration ({ACCEPTED})")
    if _SECONDS_RE.fullmatch(value):
        whole, _point, frac = value.partition(".")
        return int(whole) * 1000 + int(frac.ljust(3, "0") or 0)
    if _WITH_MY_RE.fullmatch(value) and re.search("[My]", value):
        unit = "M (months)" if "M" in value else "y (years)"
        raise ConfigError(
            f"{name}: {value!r} uses the unit {unit}, which nginx refuses in timeouts such as "
            f"proxy_read_timeout ({ACCEPTED})"
        )
    if value.startswith("-"):
        raise ConfigError(f"{name}: {value!r} is negative ({ACCEPTED})")
    if not _UNITS_RE.fullmatch(value):
        raise ConfigError(f"{name}: {value!r} is not a duration ({ACCEPTED})")
    total = 0
    previous = -1
    for number, unit in _COMPONENT_RE.findall(value):
        rank = _ORDER.index(unit)
        if rank <= previous:
            raise ConfigError(
                f"{name}: {value!r} is not a duration: each unit may appear once, largest first, "
                f"as nginx requires ({ACCEPTED})"
            )
        previous = rank
        total += int(number) * UNITS_MS[unit]
    return total


def duration_ms(value: object, name: str = "value") -> int:
    """Parse a user duration into milliseconds (no range checks)."""
    if isinstance(value, bool) or value is None:
        raise ConfigError(f"{name}: {value!r} is not a duration ({ACCEPTED})")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{name}: {value!r} is negative ({ACCEPTED})")
        return value * 1000
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{name}: {value!r} is not a duration ({ACCEPTED})")
        if value < 0:
            raise ConfigError(f"{name}: {value!r} is negative ({ACCEPTED})")
        ms = round(value * 1000)
        if abs(ms - value * 1000) > 1e-6 * max(1.0, value * 1000):
            raise ConfigError(
                f"{name}: {value!r} is not a whole number of milliseconds, the finest unit nginx has ({ACCEPTED})"
            )
        return ms
    if isinstance(value, str):
        return _parse_string(value, name)
    raise ConfigError(f"{name}: {value!r} is not a duration ({ACCEPTED})")


def nginx_duration(value: object, name: str = "value", allow_zero: bool = False) -> str:
    """Validate a duration and return it as a canonical nginx time string (e.g. 5400 -> '1h30m')."""
    total = duration_ms(value, name)
    if total == 0 and not allow_zero:
        raise ConfigError(
            f"{name}: {value!r} is zero, which is not allowed here; give a positive duration ({ACCEPTED})"
        )
    if total > MAX_MS:
        raise ConfigError(
            f"{name}: {value!r} is longer than {format_ms(MAX_MS)} ({MAX_MS} ms), the largest timeout "
            f"nginx accepts on every platform"
        )
    return format_ms(total)
