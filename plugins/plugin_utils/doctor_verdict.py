# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's verdict (filter doctor_verdict): which hop of each WebSocket location is broken.

:func:`doctor_verdict` reads the probe results (``websocket_probe``, in the plan's order) and ``nginx -T``
(doctor_nginx), has doctor_checks analyse each planned location, and names its first broken hop, walking from
the backend towards the client:

1. the backend: down, not resolvable, or not speaking WebSocket at that path (probed directly); when only some
   servers of an upstream are, and the handshake through nginx works (nginx fails over), a warning naming them;
2. nginx's configuration on disk: ``nginx -t`` fails (a map that is missing, ...), so the next reload fails;
3. TLS between the client and nginx: certificate unknown, wrong name, handshake failure;
4. routing in nginx: no server block for the name, or the URI served by a location that is not
   WebSocket-capable;
5. the location: no ``proxy_http_version 1.1``, no Upgrade or no Connection header with ``upgrade``;
6. the map: ``$connection_upgrade`` defined twice (nginx silently uses the last one), or giving the
   wrong value to a WebSocket handshake;
7. nginx to the backend: 502 (and where proxy_pass differs from the inventory), 504.

Warnings do not break anything today: a read timeout shorter than the streams need, a duplicate map
that happens to agree, a proxy_pass that differs from the inventory while it works. :func:`table` lays
the rows out as the playbook prints them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.wsproxy.nginx.plugins.plugin_utils._doctor import (
    BROKEN,
    DIRECT,
    OK,
    WARN,
    Issue,
    read_options,
    where,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_checks import Analysis, analyse
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_nginx import NginxConfig, read_nginx
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError

_NETWORK_DOWN = ("refused", "timeout", "unreachable", "reset", "not_http")
_SHORT = {
    "refused": "refused",
    "dns": "DNS failure",
    "timeout": "timeout",
    "unreachable": "unreachable",
    "reset": "reset",
    "not_http": "not HTTP",
    "tls_unknown_ca": "TLS: unknown CA",
    "tls_name_mismatch": "TLS: wrong name",
    "tls_expired": "TLS: expired",
    "tls_verify": "TLS: cert refused",
    "tls_handshake": "TLS: handshake failed",
    "tls_on_plain_port": "TLS: plain port",
    "plain_to_tls": "ws:// to a TLS port",
    "bad_accept": "101, bad Accept",
    "not_websocket": "101, not websocket",
    "echo_timeout": "101, no echo",
    "echo_mismatch": "101, wrong echo",
    "closed": "101, closed",
    "protocol": "101, bad frames",
}
_TLS_SUMMARY = {
    "tls_unknown_ca": "certificate not trusted",
    "tls_name_mismatch": "certificate does not match the server name",
    "tls_expired": "certificate expired or not yet valid",
    "tls_verify": "certificate refused",
    "tls_handshake": "TLS handshake failed",
    "tls_on_plain_port": "the port does not speak TLS",
    "plain_to_tls": "the port speaks TLS, the vhost says plain",
}


def _problem(result: Mapping[str, Any]) -> str | None:
    if "problem" in result:
        return result["problem"]
    if result.get("skipped"):
        return "skipped"
    return "error" if result.get("failed") or result.get("msg") else None


def _diagnosis(result: Mapping[str, Any]) -> str:
    return str(result.get("diagnosis") or result.get("msg") or "no result").strip()


def cell(result: Mapping[str, Any] | None) -> str:
    """A probe result in a few words, for the table."""
    if not result:
        return "not run"
    problem = _problem(result)
    status = result.get("status")
    if problem is None:
        rtt = result.get("rtt_ms")
        return f"{status}, echo {rtt:g} ms" if rtt is not None else f"{status} ok"
    if problem.startswith("status_") and status is not None:
        return f"{status} {result.get('reason') or ''}".strip()
    return _SHORT.get(problem, problem)


def _backend_verdict(entry: Mapping[str, Any], failed: list[tuple[str, Mapping[str, Any]]]) -> Issue:
    address, result = failed[0]
    problem = _problem(result) or "error"
    diagnosis = _diagnosis(result)
    several = f" ({len(failed)} of {len(entry['backends'])} servers)" if len(entry["backends"]) > 1 else ""
    if problem in _NETWORK_DOWN:
        summary = f"{address} down ({cell(result)}){several}"
    elif problem == "dns":
        summary = f"{address}: the name does not resolve{several}"
    elif problem.startswith("tls"):
        summary = f"{address}: {cell(result)}{several}"
    else:
        path = urlsplit(str(result.get("url", ""))).path or entry["uri"]
        summary = f"{address} does not speak WebSocket at {path} ({cell(result)}){several}"
        if problem.startswith("status_"):
            # Sent straight to the backend, so no proxy dropped anything: the backend itself refused.
            diagnosis = (
                f"a WebSocket handshake sent straight to {address} got {cell(result)}, not 101: {path} is not a "
                f"WebSocket endpoint of this backend (check the backend's routes, or probe another path with "
                f"-e doctor_endpoint=... or doctor_probe_uris). The backend's answer: {diagnosis}"
            )
    return Issue(BROKEN, "backend", summary, f"directly, from where nginx runs: {diagnosis}")


def _nginx_probe_verdict(entry: Mapping[str, Any], result: Mapping[str, Any], analysis: Analysis) -> Issue:
    problem = _problem(result) or "error"
    diagnosis = _diagnosis(result)
    if problem in _TLS_SUMMARY:
        hint = ""
        if problem == "tls_unknown_ca":
            hint = (
                " If the certificate is signed by a private CA, run the doctor with -e doctor_ca_file=<CA PEM on "
                "the proxy> (or -e doctor_validate_certs=false to skip the check); browsers refuse it too."
            )
        return Issue(BROKEN, "TLS", _TLS_SUMMARY[problem], f"through nginx: {diagnosis}{hint}")
    if problem in ("refused", "unreachable", "timeout") and result.get("status") is None:
        return Issue(
            BROKEN,
            "nginx",
            f"nginx does not answer on 127.0.0.1:{entry['port']}",
            f"through nginx: {diagnosis} Is nginx running, and does the vhost listen on port {entry['port']}?",
        )
    broken = analysis.first(BROKEN)
    if broken is not None:
        return Issue(BROKEN, broken.hop, broken.summary, f"{broken.detail}. Through nginx: {diagnosis}")
    if problem == "status_502":
        detail = f"through nginx: {diagnosis}"
        summary = "nginx cannot reach the backend (502)"
        differs = next((i for i in analysis.issues if i.hop == "backend via nginx"), None)
        if differs is not None:
            detail += f" {differs.detail}."
            summary += f": {differs.summary}"
        elif analysis.proxy_pass:
            detail += f" The location proxies to {analysis.proxy_pass} ({analysis.proxy_pass_where})."
        return Issue(BROKEN, "backend via nginx", summary, detail)
    if problem == "status_403":
        sent = f"the Origin {entry['origin']}" if entry.get("origin") else "a handshake without Origin"
        return Issue(
            BROKEN,
            "origin",
            f"403: {sent} was refused",
            f"through nginx: {diagnosis} The probe sent {sent}; an allowed_origins list in the location (or a rule "
            f"of the backend) refused it. Give -e doctor_origin=<an origin the browsers' pages have> to probe as "
            f"they do, or add that origin to the allowlist",
        )
    if problem == "status_429":
        return Issue(
            BROKEN,
            "nginx location",
            "429: a handshake limit refused the probe",
            f"through nginx: {diagnosis} limit_conn or limit_req (handshake_rate) refused it: the limit is lower "
            f"than a few handshakes from one client",
        )
    if problem == "status_504":
        return Issue(
            BROKEN, "backend via nginx", "the backend answers nginx too slowly (504)", f"through nginx: {diagnosis}"
        )
    if problem in ("status_400", "status_426"):
        return Issue(
            BROKEN, "nginx location", "the backend did not get the upgrade through nginx", f"through nginx: {diagnosis}"
        )
    return Issue(BROKEN, "nginx", f"through nginx: {cell(result)}", f"through nginx: {diagnosis}")


def _config_verdict(config: NginxConfig, through: Mapping[str, Any]) -> Issue:
    """nginx -T failed: the next reload will fail, whatever the running nginx still does."""
    if config.missing_variable:
        summary = f"map ${config.missing_variable} missing"
        detail = (
            f"nginx -t fails: {config.error}. The map $http_upgrade ${config.missing_variable} is not in "
            f"the http context (the role writes it to conf.d/websocket_proxy_map.conf)"
        )
    else:
        summary = "nginx -t fails"
        detail = f"nginx -t fails: {config.error}"
    state = (
        "WebSocket through the running nginx still works"
        if _problem(through) is None
        else f"through nginx: {_diagnosis(through)}"
    )
    return Issue(
        BROKEN,
        "nginx config",
        summary,
        f"{detail}. The running nginx keeps its old configuration, but the next reload or restart will fail ({state})",
    )


def _degraded(
    entry: Mapping[str, Any], failed: list[tuple[str, Mapping[str, Any]]], through: Mapping[str, Any]
) -> bool:
    """Some replicas of the location fail, but nginx fails over: the handshake through nginx works."""
    return len(failed) < len(entry["backends"]) and "problem" in through and _problem(through) is None


def _replicas_down(entry: Mapping[str, Any], failed: list[tuple[str, Mapping[str, Any]]]) -> Issue:
    names = ", ".join(f"{address} ({cell(result)})" for address, result in failed)
    alive = len(entry["backends"]) - len(failed)
    return Issue(
        WARN,
        "backend",
        f"{names} down; nginx fails over to the other {alive} of {len(entry['backends'])} servers",
        f"directly, from where nginx runs: {'; '.join(f'{a}: {_diagnosis(r)}' for a, r in failed)}. Through nginx "
        f"the handshake works: nginx tries the next server when one refuses or times out (and skips a failed "
        f"one for its fail_timeout where max_fails is set). WebSockets that were open on a dead server have "
        f"ended; their clients reconnect to the others",
    )


def _broken_hop(
    entry: Mapping[str, Any],
    direct: list[tuple[str, Mapping[str, Any]]],
    through: Mapping[str, Any],
    config: NginxConfig,
    analysis: Analysis,
) -> Issue | None:
    """The first broken hop, from the backend towards the client; None when none is."""
    # A probe that ran always says what its problem was (None when there was none); one without that key never
    # ran (bad doctor options, the module could not start): it says nothing about the hops.
    not_run = [result for _address, result in direct if "problem" not in result]
    if "problem" not in through:
        not_run.append(through)
    if not_run:
        return Issue(
            BROKEN,
            "doctor",
            f"the probes did not run: {_diagnosis(not_run[0])}",
            f"the probe task failed before it could probe anything: {_diagnosis(not_run[0])}. Fix the doctor's "
            f"options (doctor_ca_file is a path on the proxy host) and run it again",
        )
    failed_direct = [(address, result) for address, result in direct if _problem(result) is not None]
    if failed_direct and not _degraded(entry, failed_direct, through):
        issue = _backend_verdict(entry, failed_direct)
        issue.detail += f" Through nginx: {_diagnosis(through)}"
        return issue
    if config.error is not None:
        return _config_verdict(config, through)
    if _problem(through) is not None:
        return _nginx_probe_verdict(entry, through, analysis)
    broken = analysis.first(BROKEN)
    if broken is None:
        return None
    return Issue(
        BROKEN,
        broken.hop,
        f"{broken.summary} (on disk, not loaded yet)",
        f"{broken.detail}. WebSocket through the running nginx still works: nginx has not been "
        f"reloaded since the files changed, and will break at the next reload",
    )


def _row(
    entry: Mapping[str, Any],
    direct: list[tuple[str, Mapping[str, Any]]],
    through: Mapping[str, Any] | None,
    config: NginxConfig,
    analysis: Analysis,
) -> dict[str, Any]:
    through = through or {}
    issue = _broken_hop(entry, direct, through, config, analysis)
    others = [i for i in analysis.issues if issue is None or i.detail not in issue.detail]
    failed_direct = [(address, result) for address, result in direct if _problem(result) is not None]
    if issue is None and failed_direct:
        others.insert(0, _replicas_down(entry, failed_direct))
    warnings = [i for i in others if i.severity == WARN]
    if issue is not None:
        status, verdict = BROKEN, f"BROKEN {issue.hop}: {issue.summary}"
        details = [issue.detail] + [f"also: {other.detail}" for other in others]
    elif warnings:
        status = WARN
        verdict = "warn " + "; ".join(f"{w.hop}: {w.summary}" for w in warnings)
        details = [w.detail for w in warnings]
    else:
        status, verdict, details = OK, "ok", []
    if analysis.note:
        details.append(analysis.note)
    return {
        "location": entry["label"],
        "vhost": entry["vhost"],
        "port": entry["port"],
        "uri": entry["uri"],
        "source": entry["source"],
        "direct": "; ".join(cell(result) for _address, result in direct) or "not run",
        "nginx": cell(through),
        "verdict": verdict,
        "status": status,
        "hop": issue.hop if issue else (warnings[0].hop if warnings else None),
        "details": details,
        "served_by": analysis.served_by,
        "direct_results": [
            {"backend": address, "problem": _problem(result), "diagnosis": _diagnosis(result)}
            for address, result in direct
        ],
        "nginx_result": {"problem": _problem(through), "diagnosis": _diagnosis(through)},
    }


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as an aligned text table: location | backend direct | through nginx | verdict."""
    head = ("location", "backend direct", "through nginx", "verdict")
    lines = [head] + [(r["location"], r["direct"], r["nginx"], r["verdict"]) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    out = []
    for number, line in enumerate(lines):
        out.append(" | ".join([*(line[i].ljust(widths[i]) for i in range(3)), line[3]]).rstrip())
        if number == 0:
            out.append("-+-".join("-" * w for w in [*widths, max(len(line[3]) for line in lines)]))
    return "\n".join(out)


def doctor_verdict(plan: object, results: object, dump: object, options: object = None) -> dict[str, Any]:
    """The verdict per planned location from the probe results (in the plan's probe order) and nginx -T."""
    opts = read_options(options)
    if (
        not isinstance(plan, Mapping)
        or not isinstance(plan.get("locations"), list)
        or not isinstance(plan.get("probes"), list)
    ):
        raise ConfigError(f"doctor_verdict: {plan!r} is not a plan (the output of doctor_plan)")
    if isinstance(results, Mapping):
        # The registered result of the probe task: its results, or (the module could not run at all) that one
        # failure for every probe.
        results = results["results"] if "results" in results else [results] * len(plan["probes"])
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise ConfigError(f"doctor_verdict: the probe results {results!r} are not a list (register the probe loop)")
    if len(results) != len(plan["probes"]):
        raise ConfigError(
            f"doctor_verdict: {len(results)} probe results for {len(plan['probes'])} planned probes; pass the "
            f"registered results of the loop over the plan's probes"
        )
    config = read_nginx(dump)
    by_location: dict[int, dict[str, Any]] = {entry["id"]: {"direct": [], "nginx": None} for entry in plan["locations"]}
    for probe, result in zip(plan["probes"], results, strict=False):
        if not isinstance(result, Mapping):
            raise ConfigError(f"doctor_verdict: probe result {result!r} is not a dict")
        slot = by_location[probe["location"]]
        if probe["hop"] == DIRECT:
            slot["direct"].append((probe.get("backend", "?"), result))
        else:
            slot["nginx"] = result
    rows = []
    for entry in plan["locations"]:
        analysis = analyse(config, entry, opts["min_read_timeout_ms"], str(opts["min_read_timeout"]))
        slot = by_location[entry["id"]]
        rows.append(_row(entry, slot["direct"], slot["nginx"], config, analysis))
    details = [f"{row['location']}: {detail}" for row in rows for detail in row["details"]]
    broken = sum(row["status"] == BROKEN for row in rows)
    warnings = sum(row["status"] == WARN for row in rows)
    summary = (
        f"{len(rows)} WebSocket location(s): {len(rows) - broken - warnings} ok, {warnings} warning(s), {broken} broken"
    )
    return {
        "rows": rows,
        "table": table(rows),
        "details": details,
        "summary": summary,
        "broken": broken,
        "warnings": warnings,
        "ok": broken == 0,
        "nginx_config_error": config.error,
        "map_definitions": {name: [where(d) for d in definitions] for name, definitions in sorted(config.maps.items())},
    }
