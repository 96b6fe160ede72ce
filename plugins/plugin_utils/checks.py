# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks every normaliser shares for one value of the inventory: its type, its keys, its range.

Each raises :class:`ConfigError` naming the field (``where``) and the value, before anything on a host changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError


def mapping(value: object, where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {value!r} is not {what}")
    return value


def sequence(value: object, where: str, what: str) -> Sequence[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigError(f"{where}: {value!r} is not {what}")
    return value


def check_keys(value: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in value:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} (accepted keys: {', '.join(allowed)})")


def boolean(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {value!r} is not a boolean (true or false)")
    return value


def int_between(value: object, where: str, high: int, accepted: str) -> int:
    """An integer 0-high; digit strings count (Ansible may template an int into one)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ConfigError(f"{where}: {value!r} is not {accepted}")
    return value
