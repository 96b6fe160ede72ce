# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's view of ACME vhosts (filter doctor_acme): each certificate's expiry, and the renewal hook.

The doctor role reads each ACME vhost's certificate with ``openssl x509 -noout -enddate -serial -in <certificate>``
(a loop, one result per vhost) and whether the deploy hook that reloads nginx after a renewal is in place;
:func:`doctor_acme` turns that into one row per vhost: ok, a warning (expiring within :data:`WARN_DAYS` days, or
no hook: renewals would not reach nginx), or broken (no certificate, or an expired one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils._doctor import BROKEN, OK, WARN
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError

#: certbot renews 30 days before expiry; with two weeks left, renewals have been failing for two weeks.
WARN_DAYS = 14
_NOT_AFTER_RE = re.compile(r"^notAfter=(.+)$", re.MULTILINE)
_SERIAL_RE = re.compile(r"^serial=([0-9A-Fa-f]+)$", re.MULTILINE)


def _expiry(stdout: str) -> datetime | None:
    found = _NOT_AFTER_RE.search(stdout)
    if not found:
        return None
    try:
        return datetime.strptime(found.group(1).strip(), "%b %d %H:%M:%S %Y %Z").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def doctor_acme(results: object, hook: object, now: object) -> list[dict[str, Any]]:
    """One row per ACME vhost from the openssl loop's results, the hook's stat and the time (epoch seconds)."""
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise ConfigError(f"doctor_acme: {results!r} is not the list of a loop's results")
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise ConfigError(f"doctor_acme: {now!r} is not a time in epoch seconds")
    hook_stat = hook.get("stat", {}) if isinstance(hook, Mapping) else {}
    hooked = bool(hook_stat.get("exists") and hook_stat.get("executable"))
    hook_path = hook_stat.get("path") or "the deploy hook"
    moment = datetime.fromtimestamp(now, timezone.utc)
    rows = []
    for result in results:
        if not isinstance(result, Mapping) or result.get("skipped"):
            continue
        vhost = result.get("item") or {}
        name, tls = vhost.get("name"), vhost.get("tls") or {}
        stdout = str(result.get("stdout", ""))
        expires = _expiry(stdout) if result.get("rc") == 0 else None
        serial = _SERIAL_RE.search(stdout)
        row: dict[str, Any] = {
            "vhost": name,
            "certificate": tls.get("certificate"),
            "names": (tls.get("acme") or {}).get("domains", []),
            "expires": expires.strftime("%Y-%m-%d %H:%M UTC") if expires else None,
            "days_left": (expires - moment).days if expires else None,
            "serial": serial.group(1) if serial else None,
            "renewal_hook": hooked,
        }
        hook_text = (
            "renewal hook in place" if hooked else f"no renewal hook ({hook_path}): renewals do not reload nginx"
        )
        if expires is None:
            row["status"] = BROKEN
            row["line"] = f"acme {name}: no certificate at {tls.get('certificate')} (the role has not got it yet)"
        elif expires <= moment:
            row["status"] = BROKEN
            row["line"] = f"acme {name}: certificate EXPIRED {row['expires']}; {hook_text}"
        else:
            expiring = row["days_left"] < WARN_DAYS
            row["status"] = WARN if expiring or not hooked else OK
            soon = " (renewals are failing: certbot renews 30 days before)" if expiring else ""
            row["line"] = (
                f"acme {name}: certificate expires {row['expires']} ({row['days_left']} days){soon}; {hook_text}"
            )
        rows.append(row)
    return rows
