# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME vhosts (``tls: {acme: true}``): which certificates certbot has yet to get, from what the host has now.

The role reads each ACME vhost's current certificate with ``openssl x509 -noout -ext subjectAltName`` (a loop,
one result per vhost); :func:`acme_plan` reads those results:

* ``pending``: vhosts without a certificate yet. Their TLS server cannot be written (nginx -t would fail on the
  missing file), so they are first written with their port-80 server only, which answers the HTTP-01 challenge;
  once certbot has the certificate, the whole vhost is written.
* ``issue``: those, and vhosts whose certificate does not cover exactly their server names (names added or
  removed): certbot gets a new one for the lineage while nginx keeps serving the old one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError

_DNS_NAME_RE = re.compile(r"DNS:([^,\s]+)")


def certificate_names(openssl_output: str) -> set[str]:
    """The DNS names of ``openssl x509 -noout -ext subjectAltName`` output, in lower case."""
    return {name.lower() for name in _DNS_NAME_RE.findall(openssl_output)}


def acme_plan(results: object) -> dict[str, list[str]]:
    """``{pending: [...], issue: [...]}``, vhost names, from the registered loop results (see the module doc)."""
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise ConfigError(f"acme_plan: {results!r} is not the list of a loop's results")
    pending: list[str] = []
    issue: list[str] = []
    for result in results:
        if not isinstance(result, Mapping) or result.get("skipped"):
            continue
        vhost: Mapping[str, Any] = result.get("item") or {}
        name, tls = vhost.get("name"), vhost.get("tls") or {}
        domains = (tls.get("acme") or {}).get("domains")
        if not name or domains is None:
            raise ConfigError(f"acme_plan: {result!r} is not the result of a normalised ACME vhost")
        if result.get("rc") != 0:
            pending.append(name)
            issue.append(name)
        elif certificate_names(str(result.get("stdout", ""))) != {domain.lower() for domain in domains}:
            issue.append(name)
    return {"pending": pending, "issue": issue}


#: The lines of certbot's output that say what the CA (or the network) answered.
_CERTBOT_ERROR_RE = re.compile(
    r"^\s*(?:Detail|Type|Domain|Hint|Error|An unexpected error|Timeout|Certbot failed|Failed|Could not).*$",
    re.MULTILINE,
)


def _error_lines(output: str) -> list[str]:
    """certbot's error lines, each with the line after it when it ends with ':' (where certbot puts the cause:
    'An unexpected error occurred:' then the exception)."""
    lines = [line.strip() for line in output.splitlines()]
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _CERTBOT_ERROR_RE.fullmatch(line) and line not in kept:
            kept.append(line)
            following = next((text for text in lines[index + 1 :] if text), "")
            if line.endswith(":") and following and following not in kept:
                kept.append(following)
    return kept


def acme_failures(results: object) -> list[str]:
    """One line per vhost whose certbot run failed: the vhost, its names and what certbot said (its error lines,
    else its whole output), from the registered loop over the vhosts to issue."""
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise ConfigError(f"acme_failures: {results!r} is not the list of a loop's results")
    lines = []
    for result in results:
        if not isinstance(result, Mapping) or result.get("skipped") or result.get("rc") == 0:
            continue
        vhost: Mapping[str, Any] = result.get("item") or {}
        domains = ((vhost.get("tls") or {}).get("acme") or {}).get("domains") or []
        output = str(result.get("stderr") or "") + "\n" + str(result.get("stdout") or "")
        said = " ".join(_error_lines(output)) or " ".join(output.split()) or str(result.get("msg") or "no output")
        lines.append(f"vhost {vhost.get('name')} ({', '.join(domains)}): {said}")
    return lines
