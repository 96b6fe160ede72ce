# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception the plugin_utils raise; filters turn it into AnsibleFilterError."""

from __future__ import annotations


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
