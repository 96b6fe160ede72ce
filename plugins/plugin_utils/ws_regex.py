# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The regex location of the seed's "alternative" layout: named WebSocket endpoints under a prefix."""

from __future__ import annotations

from collections.abc import Sequence

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.tokens import ACCEPTED, validate_token

# Of the characters a location path or an endpoint may hold, these are PCRE metacharacters.
# The rest (letters, digits, _~!,=:@/-) are literals in PCRE outside a character class.
_REGEX_META = ".*+"


def regex_escape(text: str) -> str:
    """Escape a validated path or endpoint for PCRE. The only escapes produced are \\. \\* \\+,
    which nginx's tokenizer keeps as they are (it only rewrites \\" \\' \\\\ \\t \\r \\n)."""
    return "".join("\\" + c if c in _REGEX_META else c for c in text)


def endpoint_base(prefix: str) -> str:
    """'/api' and '/api/' both put endpoints at '/api/<endpoint>'."""
    return prefix if prefix.endswith("/") else prefix + "/"


def endpoint_uris(endpoints: Sequence[str], prefix: str) -> list[str]:
    base = endpoint_base(prefix)
    return [base + endpoint for endpoint in endpoints]


def validate_endpoints(endpoints: object, name: str) -> list[str]:
    if isinstance(endpoints, (str, bytes)) or not isinstance(endpoints, Sequence):
        raise ConfigError(f"{name}: {endpoints!r} is not a list of endpoint names ({ACCEPTED['endpoint']})")
    if not endpoints:
        raise ConfigError(f"{name}: the list is empty; give at least one endpoint name")
    seen: dict[str, int] = {}
    result = []
    for index, endpoint in enumerate(endpoints):
        validate_token(endpoint, "endpoint", f"{name}[{index}]")
        if endpoint in seen:
            raise ConfigError(f"{name}[{index}]: {endpoint!r} is already listed as {name}[{seen[endpoint]}]")
        seen[endpoint] = index
        result.append(endpoint)
    return result


def ws_path_regex(endpoints: object, prefix: object = "/api/", name: str = "websocket_endpoints") -> str:
    """``['frontend-audio', 'call-events']`` under ``/api/`` ->
    ``^/api/(?:frontend-audio|call-events)(?:/|$)``.

    Anchored at the start, each name escaped, and ended by ``/`` or the end of the URI, so
    ``/api/frontend-audio`` and ``/api/frontend-audio/x`` match but ``/api/frontend-audiox`` and
    ``/api/x/frontend-audio`` do not. One nginx token: usable unquoted after ``location ~``.
    """
    names = validate_endpoints(endpoints, name)
    path = validate_token(prefix, "location_path", f"{name} (prefix)")
    alternatives = "|".join(regex_escape(endpoint) for endpoint in names)
    return f"^{regex_escape(endpoint_base(path))}(?:{alternatives})(?:/|$)"
