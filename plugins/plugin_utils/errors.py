# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception the plugin_utils raise, and the one wrapper that turns it into AnsibleFilterError."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError


class ConfigError(ValueError):
    """A user value that would make a wrong or unsafe nginx config.

    The message is complete on its own: where (the variable path), what (the bad value, with ``!r``)
    and what would be accepted.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def filter_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for every filter of the collection: a ConfigError becomes AnsibleFilterError, message unchanged.

    Not ``orig_exc=exc``: ansible-core before 2.19 appends the original exception's message to the error's own,
    so every message would be said twice. The cause stays chained (``from exc``) for tracebacks.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            raise AnsibleFilterError(exc.message) from exc

    return wrapper
