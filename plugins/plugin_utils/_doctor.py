# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the doctor's modules share: the statuses and hops, the options, an issue, where a directive is.

Private to the doctor (doctor_plan, doctor_nginx, doctor_checks, doctor_verdict): none of them imports
another one's internals, they import these.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import duration_ms
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.nginx_dump import Directive

OK, WARN, BROKEN = "ok", "warn", "broken"
DIRECT, NGINX = "direct", "nginx"

#: The options of doctor_plan and doctor_verdict (one dict for both) and their defaults; the role
#: websocket_doctor's defaults/main.yml gives the same values (a unit test holds them together).
OPTION_DEFAULTS: dict[str, Any] = {
    "endpoint": "frontend-audio",
    "probe_uris": {},
    "ca_file": None,
    "validate_certs": True,
    "timeout": 5,
    "echo": True,
    "origin": None,
    "payload_size": 640,
    "min_read_timeout": "1h",
}


@dataclass
class Issue:
    """One finding about a hop: broken, or a warning."""

    severity: str  # WARN or BROKEN
    hop: str
    summary: str
    detail: str


def where(directive: Directive) -> str:
    """file:line of a directive, as nginx names places."""
    return f"{directive.file}:{directive.line}"


def read_options(options: object) -> dict[str, Any]:
    """The doctor's options checked, defaults filled in (None is unset), and min_read_timeout_ms added."""
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise ConfigError(f"doctor options: {options!r} is not a dict")
    unknown = sorted(set(options) - set(OPTION_DEFAULTS))
    if unknown:
        raise ConfigError(f"doctor options: unknown keys {unknown!r} (accepted: {', '.join(OPTION_DEFAULTS)})")
    result = {**OPTION_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    endpoint = result["endpoint"]
    if not isinstance(endpoint, str) or any(c in endpoint for c in " ?#\t\n"):
        raise ConfigError(f"doctor_endpoint: {endpoint!r} is not a path segment such as 'frontend-audio' (or '')")
    probe_uris = result["probe_uris"]
    if isinstance(probe_uris, str):
        try:
            probe_uris = result["probe_uris"] = json.loads(probe_uris) if probe_uris.strip() else {}
        except ValueError:
            pass
    if not isinstance(probe_uris, Mapping):
        raise ConfigError(f"doctor_probe_uris: {probe_uris!r} is not a dict of location path -> URI")
    for key, uri in probe_uris.items():
        if not isinstance(uri, str) or not uri.startswith("/") or any(c in uri for c in " #\t\n"):
            raise ConfigError(f"doctor_probe_uris[{key!r}]: {uri!r} is not a URI path starting with '/'")
    for key in ("validate_certs", "echo"):
        if not isinstance(result[key], bool):
            raise ConfigError(f"doctor_{key}: {result[key]!r} is not a boolean")
    # -e name=value gives strings: read numbers as numbers (probe_uris took a JSON object above).
    for key, kind in (("timeout", float), ("payload_size", int)):
        if isinstance(result[key], str) and re.fullmatch(
            r"[0-9]+(\.[0-9]+)?" if kind is float else "[0-9]+", result[key]
        ):
            result[key] = kind(result[key])
    if result["ca_file"] == "":
        result["ca_file"] = None
    timeout = result["timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 300:
        raise ConfigError(f"doctor_timeout: {timeout!r} is not a number of seconds from 0 (excluded) to 300")
    size = result["payload_size"]
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= 1024 * 1024:
        raise ConfigError(f"doctor_payload_size: {size!r} is not a number of bytes from 0 (a text frame) to 1048576")
    result["min_read_timeout_ms"] = duration_ms(result["min_read_timeout"], "doctor_min_read_timeout")
    return result
