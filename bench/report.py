"""results.json -> results.md (tables) and PNG plots, for bench/bench.py. Needs matplotlib (bench/requirements.txt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

SEED_COLOR = "#c0504d"  # the baseline, red
ROLE_COLOR = "#2e75b6"  # the role, blue
HAPROXY_COLOR = "#ed7d31"  # a peer, orange
CADDY_COLOR = "#7030a0"  # a peer, purple
DIRECT_COLOR = "#7f7f7f"
TARGET_STYLE = {"color": "#2ca02c", "linestyle": "--", "linewidth": 1.5}  # green: targets only, never a system


class System(NamedTuple):
    name: str  # in plots, headings and prose
    column: str  # its column in the summary table
    color: str


# Every proxy a run may measure, in the order of every table and plot: the baseline, the role, the peers.
SYSTEMS: dict[str, System] = {
    "seed": System("seed config", "Seed config", SEED_COLOR),
    "role": System("role", "Role", ROLE_COLOR),
    "haproxy": System("HAProxy", "HAProxy", HAPROXY_COLOR),
    "caddy": System("Caddy", "Caddy", CADDY_COLOR),
}
PROGRAMS = {"nginx": "nginx", "haproxy": "HAProxy", "caddy": "Caddy"}


# --------------------------------------------------------------------------- helpers


def ok(measurements: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = measurements.get(name)
    return value if value and value.get("status") == "ok" else None


def num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def verdict(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "-"}[met]


def system(label: str) -> System:
    return SYSTEMS.get(label) or System(label, label, "#595959")


def systems_of(section: dict[str, Any]) -> list[str]:
    """The systems a measurement covers, in its order (older results.json files have no "systems": seed, role)."""
    listed = section.get("systems") or [label for label in SYSTEMS if label in section]
    return [label for label in listed if label in section]


def run_systems(results: dict[str, Any]) -> list[str]:
    """Every system the run measured, in the order of the measurements that list them: the summary's columns."""
    m = results["measurements"]
    labels: list[str] = []
    for name in ("capacity", "handshakes", "storm", "http"):
        section = ok(m, name)
        if section:
            labels += [label for label in systems_of(section) if label not in labels]
    rtt = ok(m, "rtt")
    if rtt:
        labels += [label for label in path_systems(rtt) if label not in labels]
    return labels or ["seed", "role"]


def path_systems(rtt: dict[str, Any]) -> list[str]:
    """The systems with a round-trip path ("<label> ws", "<label> wss"), in SYSTEMS' order, then the others."""
    found = [name.rpartition(" ")[0] for name in rtt["paths"] if name.rpartition(" ")[0] not in ("", "direct")]
    return [label for label in SYSTEMS if label in found] + list(dict.fromkeys(f for f in found if f not in SYSTEMS))


def program(side: dict[str, Any]) -> str:
    """The program of a ramp: "nginx" (seed, role; older files say nothing), "haproxy", "caddy"."""
    return side.get("program") or "nginx"


def error_log(side: dict[str, Any]) -> dict[str, Any]:
    """The proxy's log during the ramp (older files: "nginx_error_log")."""
    return side.get("error_log") or side.get("nginx_error_log") or {"counts": {}, "samples": []}


def diagnosis(results: dict[str, Any], label: str) -> tuple[str, str]:
    """diagnose() of one system's ramp, with its nginx settings or its peer's."""
    side = results["measurements"]["capacity"][label]
    return diagnose(side, (results.get("nginx") or {}).get(label), (results.get("peers") or {}).get(label))


def diagnose(side: dict[str, Any], settings: dict[str, Any] | None,
             peer: dict[str, Any] | None = None) -> tuple[str, str]:
    """(short, long) reason why a ramp stopped, from what the run recorded."""
    if not side.get("first_error_at"):
        return "target reached", "reached the target with no error"
    nginx = program(side) == "nginx"
    name = PROGRAMS.get(program(side), program(side))
    log = error_log(side).get("counts", {})
    last = side["steps"][-1]
    client = {**last["open_errors"]["counts"], **last["echo_errors"]["counts"]}
    if any("ephemeral" in kind for kind in log):
        return ("out of ephemeral ports to the backend",
                f"{name} ran out of local ports towards the one backend address (connect() failed, 99: Cannot "
                "assign requested address): one source/destination address pair holds about 28,000 "
                "connections (ip_local_port_range). Several backend addresses, or proxy_bind over several "
                "local addresses, lift it.")
    limit = worker_connections_reached(side, settings) if nginx else peer_limit_reached(side, peer or {})
    if limit:
        return limit
    if last.get("listen_overflows"):
        return ("accept queue overflowed",
                f"the kernel dropped {last['listen_overflows']:,} connection attempts because {name}'s accept "
                f"queue (listen backlog) was full: {name} did not accept as fast as clients arrived.")
    where = "nginx's error log" if nginx else f"{name}'s log"
    if any("timeout" in kind for kind in client):
        return "handshakes timed out", f"handshakes timed out without a sign of why in {where}."
    return "errors", f"client-side errors: {client}; {'nginx error log' if nginx else where}: {log or 'nothing'}"


def worker_connections_reached(side: dict[str, Any], settings: dict[str, Any] | None) -> tuple[str, str] | None:
    connections = None
    if settings and str(settings.get("worker_connections") or "").isdigit():
        connections = int(settings["worker_connections"])
    if not connections or max(side["steps"][-1]["worker_fds"] or [0]) < 0.9 * connections:
        return None
    return (f"worker_connections {connections} reached",
            f"a worker reached worker_connections ({connections}; each WebSocket takes two, the client's and "
            "the backend's). nginx then closes accepted connections that have not sent a request yet "
            "(\"worker_connections are not enough, reusing connections\", logged at warn, which an error_log "
            "without a level does not show): the clients see the connection closed before any answer.")


def peer_limit_reached(side: dict[str, Any], peer: dict[str, Any]) -> tuple[str, str] | None:
    """A peer (HAProxy, Caddy; one process) against its maxconn or its open-file limit."""
    name = PROGRAMS.get(program(side), program(side))
    limit = side.get("open_files_limit") or peer.get("open_files_limit")
    fds = max(side["steps"][-1]["worker_fds"] or [0])
    too_many = error_log(side).get("counts", {}).get("too many open files", 0)
    files = (f"open-file limit {limit:,} per process (about {limit // 2:,} WebSockets: two descriptors each)"
             if limit else "too many open files")
    why = (f"this machine's open-file limit per process (ulimit -Hn, {limit:,}) caps a single-process proxy: each "
           f"WebSocket takes two descriptors, the client's and the backend's, so one process holds about "
           f"{limit // 2:,}. Running several instances of {name}, each a process with a limit of its own, would "
           "lift it." if limit else "the open-file limit was not recorded.")
    maxconn = peer.get("maxconn")
    if program(side) == "haproxy" and maxconn and side["max_held"] >= 0.95 * maxconn:
        text = (f"HAProxy reached maxconn ({maxconn:,}; it held at most {side['max_held']:,}): it accepts no "
                "connection beyond maxconn and leaves the others queued, so their clients time out waiting for the "
                "handshake.")
        if limit and 2 * maxconn >= 0.9 * limit:
            text += f" maxconn is sized to fit the open-file limit: {why}"
        return f"maxconn {maxconn:,} reached", text
    if (limit and fds >= 0.9 * limit) or too_many:
        seen = f"its busiest process had {fds:,} descriptors open" + (
            f"; its log says \"too many open files\" {too_many:,} times" if too_many else "")
        return files, f"{name} reached its open-file limit ({seen}): {why}"
    return None


# --------------------------------------------------------------------------- Markdown


def summary_rows(results: dict[str, Any], labels: list[str]) -> list[list[str]]:
    """One row per figure: a cell per system (labels), then the target (the role's) and whether the role met it."""
    targets = results["targets"]
    m = results["measurements"]
    rows: list[list[str]] = []

    def cells(section: dict[str, Any], cell: Any) -> list[str]:
        return [cell(label, section[label]) if label in section else "-" for label in labels]

    capacity = ok(m, "capacity")
    if capacity:
        role = capacity.get("role")
        goal = capacity["target"]
        note = "" if goal == targets["held_websockets"] else f" (this run; issue: {targets['held_websockets']:,})"
        rows.append([
            "Concurrent WebSockets held, echo-verified",
            *cells(capacity, lambda label, side: f"{side['max_held']:,} ({side['errors']:,} errors{stop(side)}: "
                                                 f"{diagnosis(results, label)[0]})"),
            f"≥ {goal:,}, 0 errors{note}",
            verdict(role["max_held"] >= goal and role["errors"] == 0) if role else "-",
        ])
        kib = role["kib_per_websocket"] if role else None
        rows.append([
            "Proxy memory per held WebSocket (ws)",
            *cells(capacity, lambda _label, side: "-" if side["kib_per_websocket"] is None
                   else f"{side['kib_per_websocket']:,.1f} KiB"),
            f"≤ {targets['kib_per_websocket']:g} KiB",
            verdict(None if kib is None else kib <= targets["kib_per_websocket"]),
        ])
        rows += memory_rows(capacity, labels)
    handshakes = ok(m, "handshakes")
    if handshakes:
        rows += handshake_rows(handshakes, labels)
    storm = ok(m, "storm")
    if storm:
        rows.append(storm_row(storm, targets, labels))
    rtt = ok(m, "rtt")
    if rtt:
        rows += rtt_summary_rows(rtt, targets, labels)
    http = ok(m, "http")
    if http:
        role = http.get("role")
        rows.append([
            "Backend connections per 10,000 plain /api/ requests",
            *cells(http, lambda _label, side: num(side["backend_connections_per_10k"])),
            f"≤ {targets['backend_connections_per_10k']}",
            verdict(role["backend_connections_per_10k"] <= targets["backend_connections_per_10k"]) if role else "-",
        ])
        rows.append([
            "Plain /api/ requests per second",
            *cells(http, lambda _label, side: num(side["requests_per_s"])),
            "-",
            "-",
        ])
    converge = ok(m, "converge")
    if converge:
        for run in converge["runs"]:
            n = run["vhosts"]
            target = f"≤ {targets['idempotent_100_vhosts_s']:g} s re-run" if n == 100 else "-"
            met = None
            if n == 100:
                met = run["rerun"]["seconds"] <= targets["idempotent_100_vhosts_s"] and run["idempotent"]
            times = (f"{run['first']['seconds']:.1f} s / {run['rerun']['seconds']:.1f} s "
                     f"(changed={run['rerun']['changed']})")
            rows.append([
                f"Converge {n} vhost{'s' if n > 1 else ''}: first run / idempotent re-run",
                *(times if label == "role" else "-" for label in labels),
                target,
                verdict(met),
            ])
    return rows


def at_step(side: dict[str, Any], requested: int) -> dict[str, Any] | None:
    return next((step for step in side["steps"] if step["requested"] == requested and not step["errors"]), None)


def memory_rows(capacity: dict[str, Any], labels: list[str]) -> list[list[str]]:
    """Memory per WebSocket like for like: every proxy at the same count, over ws (a step of the ramp) and wss."""
    size = capacity.get("wss_target")
    wss = capacity.get("wss") or {}
    if not size:
        return []
    rows = []
    ws_cells = []
    for label in labels:
        step = at_step(capacity[label], size) if label in capacity else None
        ws_cells.append(f"{step['kib_per_websocket']:,.1f} KiB" if step else "-")
    if any(cell != "-" for cell in ws_cells):
        rows.append([f"Proxy memory per held WebSocket, ws, at {size:,} each (like for like)", *ws_cells, "-", "-"])
    if wss:
        def wss_cell(label: str) -> str:
            side = wss.get(label)
            if not side or side["kib_per_websocket"] is None:
                return "-"
            short = "" if side["max_held"] >= size else f" ({side['max_held']:,} held)"
            return f"{side['kib_per_websocket']:,.1f} KiB{short}"

        rows.append([
            f"Proxy memory per held WebSocket, wss, at {size:,} each",
            *(wss_cell(label) for label in labels),
            "-",
            "-",
        ])
    return rows


HANDSHAKE_KINDS = ("ws", "wss ECDSA", "wss RSA")
HANDSHAKE_NAMES = {"ws": "ws", "wss ECDSA": "wss, ECDSA P-256 certificate", "wss RSA": "wss, RSA 2048 certificate"}


def handshake_rows(handshakes: dict[str, Any], labels: list[str]) -> list[list[str]]:
    """New WebSockets per second through each proxy, with the proxy's CPU per handshake; the role against the
    best peer (the target: ahead of both)."""
    rows = []
    for kind in HANDSHAKE_KINDS:
        runs = {label: handshakes[label][kind] for label in labels if kind in handshakes.get(label, {})}
        if not runs:
            continue
        peers = [run["per_second"] for label, run in runs.items() if label not in ("seed", "role")]
        role = runs.get("role")
        met = None if not role or not peers else role["per_second"] > max(peers)
        rows.append([
            f"New WebSockets per second, {HANDSHAKE_NAMES[kind]} (proxy CPU per handshake)",
            *(f"{runs[label]['per_second']:,.0f}/s ({num(runs[label]['proxy_cpu_us_per_handshake'])} µs)"
              if label in runs else "-" for label in labels),
            "ahead of both peers",
            verdict(met),
        ])
    return rows


def storm_met(side: dict[str, Any], targets: dict[str, Any]) -> bool:
    return (side.get("size", 0) >= targets["storm_websockets"] and side.get("lost_clients") == 0
            and side.get("all_back_s") is not None and side["all_back_s"] <= targets["storm_seconds"])


def storm_cell(side: dict[str, Any]) -> str:
    if "error" in side:
        return f"{side['size']:,}: {side['error']}"
    back = "not all back" if side.get("all_back_s") is None else f"all back in {side['all_back_s']:.1f} s"
    return (f"{side['size']:,}: {back}, {side['lost_clients']:,} lost, {side['failed_attempts']:,} failed "
            "attempts")


def storm_row(storm: dict[str, Any], targets: dict[str, Any], labels: list[str]) -> list[str]:
    role = storm.get("role")
    return [
        "Reconnect storm: WebSockets dropped at once (backends killed and restarted), seconds until all are back "
        "and echoing",
        *(storm_cell(storm[label]) if label in storm else "-" for label in labels),
        f"{targets['storm_websockets']:,} back in ≤ {targets['storm_seconds']:g} s, 0 lost",
        verdict(storm_met(role, targets)) if role else "-",
    ]


def rtt_met(path: dict[str, Any], key: str, limit: float) -> bool:
    return path[key + "_ratio"] <= limit


def like_for_like(paths: dict[str, Any], name: str) -> dict[str, float] | None:
    """A wss path through a proxy against direct wss (TLS on both sides of both): its p50 and p99 ratios."""
    if not name.endswith(" wss") or name == "direct wss" or name not in paths or "direct wss" not in paths:
        return None
    recorded = paths[name].get("vs_direct_wss")
    if recorded:
        return recorded
    path, dwss = paths[name], paths["direct wss"]
    return {"p50_ratio": round(path["p50_us"] / dwss["p50_us"], 2),
            "p99_ratio": round(path["p99_us"] / dwss["p99_us"], 2)}


def rtt_summary_rows(rtt: dict[str, Any], targets: dict[str, Any], labels: list[str]) -> list[list[str]]:
    """p50 and p99 through each proxy against direct (the role's are judged against the targets, each path's
    verdict said plainly); then wss through each proxy against direct wss (like for like, no target)."""
    paths = rtt["paths"]
    direct = paths["direct"]
    role = [(kind, paths[f"role {kind}"]) for kind in ("ws", "wss") if f"role {kind}" in paths]
    rows = []
    for key, limit in (("p50", targets["rtt_p50_ratio"]), ("p99", targets["rtt_p99_ratio"])):

        def cell(label: str, key: str = key) -> str:
            return ", ".join(f"{kind} {p[key + '_us']:.0f} µs ({p[key + '_ratio']:.2f}x)" for kind in ("ws", "wss")
                             if (p := paths.get(f"{label} {kind}"))) or "-"

        rows.append([
            f"Round trip of a 640-byte frame, {key} (direct {direct[key + '_us']:.0f} µs)",
            *(cell(label) for label in labels),
            f"≤ {limit:g}x direct",
            ", ".join(f"{kind} {verdict(rtt_met(path, key, limit))}" for kind, path in role) or "-",
        ])
    factor = targets.get("rtt_added_vs_best_peer")
    direct_p50 = paths["direct"]["p50_us"]
    for kind in ("ws", "wss"):
        peers = [(paths[f"{label} {kind}"]["p50_us"] - direct_p50, label) for label in labels
                 if label not in ("seed", "role") and f"{label} {kind}" in paths]
        role_path = paths.get(f"role {kind}")
        if factor and peers and role_path:
            best = min(peers)[0]
            role_added = role_path["p50_us"] - direct_p50
            rows.append([
                f"Round trip added over direct, p50, {kind} (µs the proxy adds)",
                *(f"{paths[f'{label} {kind}']['p50_us'] - direct_p50:+.0f} µs" if f"{label} {kind}" in paths else "-"
                  for label in labels),
                f"within {round((factor - 1) * 100):d} % of the best peer",
                verdict(role_added <= best * factor),
            ])
    likes = {label: like_for_like(paths, f"{label} wss") for label in labels}
    if any(likes.values()):
        dwss = paths["direct wss"]
        rows.append([
            f"Round trip, wss through the proxy vs direct wss (direct wss p50 {dwss['p50_us']:.0f} µs, "
            f"p99 {dwss['p99_us']:.0f} µs): like for like",
            *(f"wss p50 {like['p50_ratio']:.2f}x, p99 {like['p99_ratio']:.2f}x" if like else "-"
              for like in likes.values()),
            "- (the targets are against direct ws)",
            "-",
        ])
    return rows


def rtt_details(rtt: dict[str, Any], targets: dict[str, Any]) -> list[str]:
    """Section 2 of results.md: every path, the per-round ratios, the client's CPU, the load, the verdicts."""
    paths = rtt["paths"]

    def rounds(p: dict[str, Any], key: str) -> str:
        spread = (p.get("round_ratios") or {}).get(key)
        return f"{spread['median']:.2f}x ({spread['p10']:.2f}-{spread['p90']:.2f})" if spread else "-"

    def transport(p: dict[str, Any]) -> str:
        return f" ({p['tls']}, {p['cipher']})" if p.get("cipher") else f" ({p['tls']})" if p.get("tls") else ""

    rows = [[name, p["url"] + transport(p), f"{p['count']:,}", f"{p['p50_us']:.0f}", f"{p['p90_us']:.0f}",
             f"{p['p99_us']:.0f}", f"{p['p50_us'] - paths['direct']['p50_us']:+.0f}", f"{p['p50_ratio']:.2f}x",
             f"{p['p99_ratio']:.2f}x", rounds(p, "p50"),
             rounds(p, "p90"), num(p.get("client_cpu_p50_us"), 1)]
            for name, p in ((n, paths[n]) for n in rtt_names(rtt))]
    if rtt.get("round_size"):
        how = (f"{rtt['samples']:,} samples per path after {rtt['warmup']} warm-up round trips, one connection per "
               "path, one backend process. Each iteration sends one frame on every path in a fresh random order; "
               f"{rtt['round_size']} iterations make a round ({rtt.get('rounds', 0)} rounds, "
               f"{rtt.get('seconds', 0):.1f} s). The pooled percentiles over all samples are judged against the "
               "targets; a round's ratio is that round's p50 (p90) divided by direct's in the same round, shown as "
               "the median over the rounds with the 10th-90th percentile range: when the median agrees with the "
               "pooled ratio, the machine's drift did not move the figure.")
    else:  # results.json of an older run
        how = (f"{rtt['samples']} samples per path after {rtt['warmup']} warm-up round trips, interleaved across "
               "paths, one connection each, one backend process.")
    parts = ["## 2. Round trips of 640-byte binary frames", "", how, "",
             table(["Path", "URL", "Samples", "p50 µs", "p90 µs", "p99 µs", "p50 - direct µs", "p50 / direct",
                    "p99 / direct",
                    "per-round p50 / direct", "per-round p90 / direct", "client CPU µs"], rows), ""]
    load = rtt.get("load_average")
    if isinstance(load, dict):
        parts += [f"Load average (1 min) while measuring: {load['min']:.1f} to {load['max']:.1f} "
                  f"({load['samples']} readings).", ""]
    verdicts = []
    for key, limit in (("p50", targets["rtt_p50_ratio"]), ("p99", targets["rtt_p99_ratio"])):
        for label in ("role ws", "role wss"):
            path = paths.get(label)
            if path:
                verdicts.append(f"{label} {key} {path[key + '_ratio']:.2f}x direct: target ≤ {limit:g}x "
                                + ("met" if rtt_met(path, key, limit) else "**not met**"))
    if verdicts:
        parts += ["Targets: " + "; ".join(verdicts) + ".", ""]
    added = added_note(rtt)
    if added:
        parts += [added, ""]
    like = like_for_like(paths, "role wss")
    if like and "role ws" in paths:
        dwss, ws, direct = paths["direct wss"], paths["role ws"], paths["direct"]
        parts += [
            f"Like for like: wss through nginx is {like['p50_ratio']:.2f}x (p50) and {like['p99_ratio']:.2f}x (p99) "
            "direct wss (the same backend with TLS of its own, ws_backend.py --tls-cert), where ws through nginx is "
            f"{ws['p50_ratio']:.2f}x and {ws['p99_ratio']:.2f}x direct ws. TLS alone, without nginx, makes direct wss "
            f"{dwss['p50_ratio']:.2f}x direct (p50). The client's CPU per round trip (the load generator's own "
            f"time, TLS included) is {num(direct.get('client_cpu_p50_us'), 1)} µs over ws and "
            f"{num(paths['role wss'].get('client_cpu_p50_us'), 1)} µs over wss through nginx: that difference is "
            "on the clock of every wss round trip and is not nginx's.", ""]
    return parts


def added_note(rtt: dict[str, Any]) -> str:
    """The microseconds the role's nginx adds to direct's p50, against the best peer's, over ws and over wss."""
    paths = rtt["paths"]
    direct = paths["direct"]["p50_us"]
    peers = [label for label in path_systems(rtt) if label not in ("seed", "role")]
    said = []
    for kind in ("ws", "wss"):
        role = paths.get(f"role {kind}")
        added = sorted((paths[f"{label} {kind}"]["p50_us"] - direct, label) for label in peers
                       if f"{label} {kind}" in paths)
        if role and added:
            best, label = added[0]
            said.append(f"over {kind} the role's nginx adds {role['p50_us'] - direct:+.0f} µs, the best peer "
                        f"({system(label).name}) {best:+.0f} µs")
    return (f"Added to direct's p50 ({direct:.0f} µs): " + "; ".join(said) + ".") if said else ""


def stop(side: dict[str, Any]) -> str:
    return f", first at {side['first_error_at']:,}" if side.get("first_error_at") else ""


def provenance_note(results: dict[str, Any]) -> str:
    """With --only, results.json keeps the other figures of earlier runs: say which run gave which figure."""
    runs: dict[tuple[str, str, str], list[str]] = {}
    for name, value in results["measurements"].items():
        run = value.get("run")
        if run:
            key = (run["started"], run["git_commit"] + (" + uncommitted" if run["role_uncommitted_changes"] else ""),
                   run["role_tree_sha256"])
            runs.setdefault(key, []).append(name)
    if len(runs) < 2:
        return ""
    return "Figures from more than one run: " + "; ".join(
        f"{', '.join(names)}: {started} (commit {commit}, role tree {tree})"
        for (started, commit, tree), names in sorted(runs.items())) + "."


def load_note(results: dict[str, Any]) -> str:
    """The machine's load average around each measurement, and a warning when other work shared the CPUs."""
    machine = results["machine"]
    cpus = machine["cpus"] or 1
    loads = {name: value["load_average"] for name, value in results["measurements"].items()
             if value.get("status") == "ok" and "load_average" in value}
    if not loads:
        return ""
    text = "Load average (1 min) before/after each measurement: " + ", ".join(
        f"{name} {a:.1f}/{b:.1f}" for name, (a, b) in loads.items()) + f", on {cpus} CPUs."
    first_before = next(iter(loads.values()))[0]
    if first_before > cpus:
        text += (" **Other work shared the machine during this run**: round trips, requests per second and "
                 "converge times are slower than on an idle machine; each figure's baseline was measured in the "
                 "same conditions, so the comparisons hold, the absolute times do not.")
    elif any(max(pair) > cpus for pair in loads.values()):
        text += (f" The machine was idle when the run started (load {first_before:.1f}); the higher figures "
                 "after it are the benchmark's own work, mostly the tail of its capacity ramp (the load average "
                 "is a one-minute mean), which each figure's baseline shared.")
    return text


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _column in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def peers_table(results: dict[str, Any]) -> list[str]:
    """The peers' programs as the run found them (results["peers"]), when the run had peers."""
    peers = results.get("peers")
    if not peers:
        return []
    rows = [[system(label).name, str(peer.get("version", "-")), num(peer.get("processes")), num(peer.get("threads")),
             num(peer.get("open_files_limit")), num(peer.get("maxconn")),
             f"`{peer['config']}`" if peer.get("config") else "-"] for label, peer in peers.items()]
    return ["## Peers under test", "",
            "The proxies a team would pick instead, from Debian's packages, in front of the same backend addresses as "
            "the role's nginx; the open-file limit is that of the process holding the connections.", "",
            table(["Peer", "Version", "Processes", "Threads", "Open-file limit", "maxconn", "Config"], rows), ""]


def capacity_details(results: dict[str, Any], capacity: dict[str, Any]) -> list[str]:
    """Section 1 of results.md: every system's ramp, step by step, and why it stopped."""
    labels = systems_of(capacity)
    first = capacity[labels[0]] if labels else {}
    parts = ["## 1. Concurrent WebSockets", "",
             f"{first.get('client_processes', '?')} client processes, {capacity['backend_processes']} backend "
             "processes; every held WebSocket echoes a fresh payload at every step.", ""]
    for label in labels:
        side = capacity[label]
        name = PROGRAMS.get(program(side), program(side))
        holders = "worker" if program(side) == "nginx" else "process"
        rows = [[f"{s['requested']:,}", f"{s['held']:,}", f"{s['errors']:,}", f"{s['nginx_rss_kib'] / 1024:.1f}",
                 num(s["kib_per_websocket"], 1), " ".join(str(f) for f in s["worker_fds"]),
                 str(s.get("listen_overflows", "-")), f"{s['step_s']:.1f}"]
                for s in side["steps"]]
        idle = side["idle_rss_kib"] / 1024
        whose = "" if system(label).name == name else f"{name} "
        limit = f", open-file limit {side['open_files_limit']:,}" if side.get("open_files_limit") else ""
        parts += [f"### {system(label).name}: max {side['max_held']:,} held ({whose}idle RSS {idle:.1f} MiB{limit})",
                  "", f"Why it stopped: {diagnosis(results, label)[1]}", "",
                  table(["Requested", "Held", "Errors", "RSS MiB", "KiB/WebSocket", f"fds per {holders}",
                         "Listen overflows", "Step s"], rows), ""]
        errors = {**side["steps"][-1]["open_errors"]["counts"], **side["steps"][-1]["echo_errors"]["counts"]}
        if errors:
            parts += [f"Client-side errors at the last step: {errors}", ""]
        log = error_log(side)
        if log.get("counts"):
            parts += [f"{'nginx error.log' if name == 'nginx' else name + ' log'} during the ramp: {log['counts']}",
                      "", "```", *log.get("samples", []), "```", ""]
    wss = capacity.get("wss") or {}
    if wss:
        rows = [[system(label).name, f"{side['max_held']:,}", f"{side['errors']:,}",
                 f"{side['idle_rss_kib'] / 1024:.1f}", f"{side['rss_at_max_kib'] / 1024:.1f}",
                 num(side["kib_per_websocket"], 1),
                 num((at_step(capacity[label], capacity["wss_target"]) or {}).get("kib_per_websocket"), 1)
                 if label in capacity else "-"]
                for label, side in wss.items()]
        parts += [f"### Over wss: {capacity['wss_target']:,} WebSockets through each TLS proxy", "",
                  "The same count through every proxy that serves TLS (within each one's single-process limits), so "
                  "memory compares like for like; the ws column is the same count from the ramp above.", "",
                  table(["System", "Held", "Errors", "Idle RSS MiB", "RSS MiB", "KiB/WebSocket wss",
                         "KiB/WebSocket ws"], rows), ""]
    return parts


def handshake_details(handshakes: dict[str, Any]) -> list[str]:
    rows = []
    for label in systems_of(handshakes):
        for kind, run in handshakes[label].items():
            rows.append([system(label).name, HANDSHAKE_NAMES.get(kind, kind), f"{run['ok']:,}",
                         f"{run['per_second']:,.0f}", num(run.get("p50_ms"), 2), num(run.get("p99_ms"), 2),
                         f"{run['errors']['total']:,}", num(run.get("proxy_cpu_s"), 2),
                         num(run.get("proxy_cpu_us_per_handshake")), num(run.get("client_cpu_s"), 1)])
    first = next((run for label in systems_of(handshakes) for run in handshakes[label].values()), {})
    return ["## 5. New WebSockets per second", "",
            f"For {handshakes['seconds']:g} s per line, {first.get('workers', '?')} client processes keep "
            f"{first.get('concurrency', '?')} handshakes each in flight: connect (with a full TLS handshake for wss, "
            "no session resumption), a valid 101, a close frame, again. The clients share the 2 CPUs with the proxy "
            "and a Python TLS client costs more CPU per handshake than any proxy does, so the rate is bounded by "
            "the clients as much as by the proxy: the proxy's own CPU time per handshake (all its processes, from "
            "/proc) compares the proxies where the rate cannot.", "",
            table(["System", "Kind", "Handshakes", "per s", "p50 ms", "p99 ms", "Errors", "Proxy CPU s",
                   "Proxy CPU µs each", "Client CPU s"], rows), ""]


def storm_details(storm: dict[str, Any], targets: dict[str, Any]) -> list[str]:
    rows = []
    for label in systems_of(storm):
        side = storm[label]
        if "error" in side:
            rows.append([system(label).name, f"{side['size']:,}", side["error"], *["-"] * 8])
            continue
        kinds = ", ".join(f"{kind} {count:,}" for kind, count in side["errors"]["counts"].items()) or "none"
        rows.append([system(label).name, f"{side['size']:,}", f"{side['dropped']:,}", f"{side['back']:,}",
                     f"{side['lost_clients']:,}", num(side.get("all_back_s"), 2), f"{side['attempts']:,}",
                     kinds, f"{side['restart']['down_s']:.2f}", f"{side['held_after']:,}",
                     verdict(storm_met(side, targets)) if label == "role" else "-"])
    return ["## 6. Reconnect storm", "",
            f"Each proxy holds {storm['requested']:,} echo-verified WebSockets (or 90 % of what it held in the "
            "capacity ramp, when that was less), over ws, to "
            f"{storm['backend_processes']} backend processes. The backends are killed (SIGKILL: every WebSocket "
            "drops at once) and started again; every client reconnects the moment its WebSocket drops, and again "
            "after each failure, with no backoff, until its new WebSocket is up and echoes. Seconds run from the "
            "first drop to the last WebSocket back; the failed attempts on the way are counted by kind; the "
            f"bound is {storm['seconds_bound']:g} s. \"Backends down\" is the time from the kill until every "
            "backend listens again.", "",
            table(["System", "WebSockets", "Dropped", "Back", "Lost", "All back s", "Attempts",
                   "Failed attempts", "Backends down s", "Echo after", "Target met"], rows), ""]


def peer_versions(results: dict[str, Any]) -> str:
    return "".join(f", {system(label).name} {peer.get('version', '?')}"
                   for label, peer in (results.get("peers") or {}).items())


def markdown(results: dict[str, Any], plots: list[str]) -> str:
    m = results["measurements"]
    machine = results["machine"]
    labels = run_systems(results)
    dirty = " + uncommitted changes to the role or plugins" if machine["role_uncommitted_changes"] else ""
    parts = [
        f"# Benchmark results ({results['profile']} run)",
        "",
        f"{results['started']}, {machine['cpus']} CPUs, {machine['memory_gib']} GiB, kernel {machine['kernel']}, "
        f"nginx {machine.get('nginx', '?')}{peer_versions(results)}, open-file hard limit "
        f"{machine['open_files_hard_limit']:,}, commit {machine['git_commit']}{dirty}"
        f" (role tree {machine['role_tree_sha256']}), {results.get('elapsed_s', 0):.0f} s. "
        "Generated by bench/run.sh; bench/README.md explains each figure.",
        "",
        load_note(results),
        "",
        *([provenance_note(results), ""] if provenance_note(results) else []),
        table(["Figure", *(system(label).column for label in labels), "Target (role)", "Met"],
              summary_rows(results, labels)),
        "",
    ]
    if results["profile"] == "smoke":
        parts += ["A smoke run checks that every measurement works. At its sizes (hundreds of WebSockets, hundreds "
                  "of requests) fixed costs dominate memory per WebSocket and connections per 10,000 requests, "
                  "and 300 samples make a shaky p99: the full run (make bench) gives the figures.", ""]
    failed = {name: value["error"] for name, value in m.items() if value.get("status") == "error"}
    if failed:
        parts += ["**Measurements that failed to run:**", ""]
        parts += [f"- {name}: `{error.splitlines()[0][:300]}`" for name, error in failed.items()]
        parts.append("")
    parts += [f"![{Path(p).stem}]({p})" for p in plots]
    parts.append("")

    nginx = results.get("nginx")
    if nginx:
        keys = ["worker_processes", "worker_connections", "worker_rlimit_nofile", "master_open_files_limit",
                "upstream_keepalive", "upstream_servers", "workers_running"]
        parts += ["## nginx under test", "",
                  table(["Setting", "Seed (Debian's nginx.conf)", "Role"],
                        [[k, str(nginx["seed"].get(k) or "-"), str(nginx["role"].get(k) or "-")] for k in keys]),
                  "", f"Role variables of the tuned run: `{results.get('role_vars')}`", ""]
    parts += peers_table(results)

    capacity = ok(m, "capacity")
    if capacity:
        parts += capacity_details(results, capacity)

    rtt = ok(m, "rtt")
    if rtt:
        parts += rtt_details(rtt, results["targets"])

    handshakes = ok(m, "handshakes")
    if handshakes:
        parts += handshake_details(handshakes)
    storm = ok(m, "storm")
    if storm:
        parts += storm_details(storm, results["targets"])

    http = ok(m, "http")
    if http:
        rows = []
        for label in systems_of(http):
            for index, r in enumerate(http[label]["runs"], 1):
                rows.append([system(label).name, str(index), f"{r['ok']:,}", f"{r['backend_requests']:,}",
                             f"{r['backend_connections_opened']:,}", f"{r['backend_connections_per_10k']:,.0f}",
                             f"{r['requests_per_s']:,.0f}", f"{r['latency_p50_ms']:.2f}", f"{r['latency_p99_ms']:.2f}",
                             str(r["errors"]["total"])])
        parts += ["## 3. Plain requests through /api/", "",
                  f"{http['requests']:,} GETs per run over {http['concurrency']} keep-alive client connections, "
                  "after a warm-up; backend counters reset just before. The summary takes the median round.", "",
                  table(["System", "Round", "200 OK", "Reached backend", "Backend connections", "per 10k",
                         "req/s", "p50 ms", "p99 ms", "Errors"], rows), ""]

    converge = ok(m, "converge")
    if converge:
        rows = [[str(r["vhosts"]), f"{r['first']['seconds']:.1f}", str(r["first"]["changed"]),
                 f"{r['rerun']['seconds']:.1f}", str(r["rerun"]["changed"])] for r in converge["runs"]]
        parts += ["## 4. Converge time", "",
                  "ansible-playbook site.yml against a fresh container (nginx installed, not configured).", "",
                  table(["Vhosts", "First run s", "changed", "Re-run s", "changed"], rows), ""]
        biggest = converge["runs"][-1]
        for phase in ("first", "rerun"):
            slowest = biggest[phase].get("slowest_tasks") or []
            if slowest:
                parts += [f"Slowest tasks, {biggest['vhosts']} vhosts, {'first run' if phase == 'first' else 're-run'}"
                          " (ansible.posix.profile_tasks):", "",
                          table(["Task", "s"], [[t["task"], f"{t['seconds']:.1f}"] for t in slowest[:6]]), ""]
    return "\n".join(parts)


# --------------------------------------------------------------------------- plots


def fill(text: str, width: int = 24) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(f"({text})", width, break_long_words=False))


# Behind a label that a target line may cross: the line stays visible on either side, the figure readable.
LABEL_BOX = {"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}


def bar_labels(ax: Any, bars: Any, fmt: str, fontsize: float = 9, rotation: float = 0) -> None:
    for rect in bars:
        height = rect.get_height()
        ax.annotate(fmt.format(height), (rect.get_x() + rect.get_width() / 2, height), ha="center", va="bottom",
                    fontsize=fontsize, rotation=rotation, xytext=(0, 2), textcoords="offset points",
                    bbox=LABEL_BOX)


def system_bars(ax: Any, labels: list[str], values: list[float], ticks: list[str] | None = None) -> Any:
    """One bar per system, in its color, named under the bar (ticks: the names with more below them)."""
    bars = ax.bar(range(len(labels)), values, color=[system(label).color for label in labels], width=0.7)
    ax.set_xticks(range(len(labels)), ticks or [system(label).name for label in labels],
                  fontsize=8 if ticks and len(labels) > 2 else 9)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    return bars


def plot_capacity(ax_held: Any, ax_mem: Any | None, capacity: dict[str, Any], targets: dict[str, Any],
                  reasons: dict[str, str] | None = None) -> None:
    """WebSockets held by each system, named with why it stopped; and its memory per held WebSocket."""
    labels = systems_of(capacity)
    sides = [capacity[label] for label in labels]
    reasons = reasons or {label: diagnose(capacity[label], None)[0] for label in labels}
    width = 24 if len(labels) <= 2 else 18
    # Under a bar, a reason without its parenthesis ("open-file limit 20,000 per process"): results.md has it all.
    ticks = [f"{system(label).name}\n{fill(reasons[label].split(' (')[0], width)}" for label in labels]
    bars = system_bars(ax_held, labels, [max(side["max_held"], 1) for side in sides], ticks)
    bar_labels(ax_held, bars, "{:,.0f}")
    ax_held.axhline(capacity["target"], label=f"target {capacity['target']:,}", **TARGET_STYLE)
    ax_held.set_yscale("log")
    ax_held.set_ylim(top=capacity["target"] * 4)
    ax_held.set_title("Concurrent WebSockets held\n(echo-verified, more is better)")
    ax_held.legend(loc="upper left", fontsize=8)
    if ax_mem is not None:
        values = [side["kib_per_websocket"] or 0 for side in sides]
        bars = system_bars(ax_mem, labels, values)
        top = max([*values, targets["kib_per_websocket"]]) * 1.3
        for rect, side in zip(bars, sides, strict=False):
            text = "-" if side["kib_per_websocket"] is None else f"{rect.get_height():.1f} KiB\nat {side['max_held']:,}"
            x = rect.get_x() + rect.get_width() / 2
            if rect.get_height() >= 0.3 * top:  # inside the bar: the target line runs near the top
                ax_mem.annotate(text, (x, rect.get_height() / 2), ha="center", va="center", color="white",
                                fontsize=10 if len(labels) <= 2 else 9, fontweight="bold")
            else:  # a short bar: above it, where there is room
                ax_mem.annotate(text, (x, rect.get_height()), ha="center", va="bottom", xytext=(0, 3),
                                textcoords="offset points", fontsize=9, fontweight="bold")
        ax_mem.axhline(targets["kib_per_websocket"], label=f"target ≤ {targets['kib_per_websocket']:g} KiB",
                       **TARGET_STYLE)
        ax_mem.set_ylim(0, top)
        ax_mem.set_title("proxy RSS per held WebSocket, KiB\n(less is better)")
        ax_mem.legend(loc="upper left", fontsize=8)


def plot_ramp(ax: Any, capacity: dict[str, Any]) -> None:
    """Each proxy's memory against WebSockets held, one point per step: the slope is the cost of a connection,
    the end of a line is where that system stopped (x: the step that had errors)."""
    labels = systems_of(capacity)
    for index, label in enumerate(labels):
        side, color, name = capacity[label], system(label).color, system(label).name
        steps = side["steps"]
        held = [0] + [s["held"] for s in steps]
        rss = [side["idle_rss_kib"] / 1024] + [s["nginx_rss_kib"] / 1024 for s in steps]
        failed = [s for s in steps if s["errors"]]
        ends = f"stops at {side['max_held']:,}" if failed and len(labels) > 2 else f"max {side['max_held']:,}"
        ax.plot(held, rss, "o-", color=color, markersize=3, label=f"{name}: {ends}")
        if failed:
            x, y = failed[0]["held"], failed[0]["nginx_rss_kib"] / 1024
            ax.plot([x], [y], "X", color=color, markeredgecolor="black", markersize=11, markeredgewidth=1.2)
            if len(labels) <= 2:  # with more, stops crowd the bottom left: the legend names them instead
                above = index % 2 == 0
                ax.annotate(f"{'seed' if label == 'seed' else name} stops at {side['max_held']:,}", (x, y),
                            xytext=(8, -4 if above else 4), textcoords="offset points", fontsize=9,
                            color=color, fontweight="bold", va="bottom" if above else "top", bbox=LABEL_BOX)
    ax.axvline(capacity["target"], label=f"target {capacity['target']:,}", **TARGET_STYLE)
    ax.plot([], [], "X", color="white", markeredgecolor="black", markersize=9, markeredgewidth=1.2,
            label="step with errors: stop")
    ax.set_xlim(0, capacity["target"] * 1.08)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("WebSockets held (echo-verified)")
    ax.set_ylabel("proxy RSS, all its processes (MiB)")
    ax.set_title("Ramp: proxy memory vs WebSockets held")
    ax.legend(fontsize=8, loc="upper left")


# Reading order: the baseline, the seed's nginx, the role's, then the peers.
RTT_ORDER = ("direct", "direct wss", "seed ws", "role ws", "role wss", "haproxy ws", "haproxy wss", "caddy ws",
             "caddy wss")
DIRECT_TLS_COLOR = "#b7b7b7"


def rtt_names(rtt: dict[str, Any]) -> list[str]:
    """Paths in reading order: the baseline first, then through each proxy."""
    return [n for n in RTT_ORDER if n in rtt["paths"]] + [n for n in rtt["paths"] if n not in RTT_ORDER]


def rtt_color(name: str) -> str:
    if name.startswith("direct"):
        return DIRECT_COLOR if name == "direct" else DIRECT_TLS_COLOR
    return system(name.rpartition(" ")[0] or name).color


def plot_rtt(ax: Any, rtt: dict[str, Any], targets: dict[str, Any], key: str) -> None:
    """One percentile (p50 or p99) of every path in µs, with the target drawn at its multiple of direct."""
    names = rtt_names(rtt)
    paths = rtt["paths"]
    values = [paths[n][f"{key}_us"] for n in names]
    bars = ax.bar(names, values, color=[rtt_color(n) for n in names])
    for rect, name in zip(bars, names, strict=False):
        ratio = paths[name][f"{key}_ratio"]
        label = f"{rect.get_height():,.0f} µs" + ("" if name == "direct" else f"\n{ratio:.2f}x direct")
        like = like_for_like(paths, name)
        if like:
            label += f"\n{like[key + '_ratio']:.2f}x direct wss"
        ax.annotate(label, (rect.get_x() + rect.get_width() / 2, rect.get_height()), ha="center", va="bottom",
                    fontsize=9 if len(names) <= 5 else 8, xytext=(0, 2), textcoords="offset points", bbox=LABEL_BOX)
    limit = targets[f"rtt_{key}_ratio"]
    ax.axhline(paths["direct"][f"{key}_us"] * limit, label=f"target: {limit:g}x direct", **TARGET_STYLE)
    ax.set_ylabel("µs")
    ax.set_ylim(0, max([*values, paths["direct"][f"{key}_us"] * limit]) * 1.3)
    ax.set_title(f"{key} round trip, 640-byte frame (less is better)")
    ax.legend(fontsize=8, loc="upper left")


def plot_rtt_ratios(ax: Any, rtt: dict[str, Any], targets: dict[str, Any]) -> None:
    """p50 and p99 through each proxy divided by direct: the quantity the targets bound, on one scale."""
    names = [n for n in rtt_names(rtt) if n != "direct"]
    paths = rtt["paths"]
    many = len(names) > 4
    x = range(len(names))
    width = 0.38
    colors = [rtt_color(n) for n in names]
    p50 = ax.bar([i - width / 2 for i in x], [paths[n]["p50_ratio"] for n in names], width, color=colors,
                 label="p50 (solid)")
    p99 = ax.bar([i + width / 2 for i in x], [paths[n]["p99_ratio"] for n in names], width, color=colors,
                 alpha=0.45, hatch="//", label="p99 (hatched)")
    bar_labels(ax, p50, "{:.2f}x", fontsize=8 if many else 9, rotation=90 if many else 0)
    bar_labels(ax, p99, "{:.2f}x", fontsize=8 if many else 9, rotation=90 if many else 0)
    ax.axhline(1.0, color=DIRECT_COLOR, linewidth=1, label="direct = 1")
    ax.axhline(targets["rtt_p50_ratio"], label=f"p50 target {targets['rtt_p50_ratio']:g}x", **TARGET_STYLE)
    ax.axhline(targets["rtt_p99_ratio"], label=f"p99 target {targets['rtt_p99_ratio']:g}x",
               color=TARGET_STYLE["color"], linestyle=":", linewidth=1.5)
    ax.set_xticks(list(x), [n.replace(" ", "\n") for n in names] if many else names)
    top = max([paths[n]["p50_ratio"] for n in names] + [paths[n]["p99_ratio"] for n in names] + [1.5])
    ax.set_ylim(0, top * (1.5 if many else 1.35))
    ax.set_title(f"Round trip through the proxy / direct (direct p50 {paths['direct']['p50_us']:.0f} µs)\n"
                 "640-byte frame (less is better)")
    ax.legend(fontsize=8, loc="upper left", ncol=3 if many else 2)


def plot_http(ax_conn: Any, ax_rps: Any | None, http: dict[str, Any], targets: dict[str, Any]) -> None:
    labels = systems_of(http)
    sides = [http[label] for label in labels]
    bars = system_bars(ax_conn, labels, [max(side["backend_connections_per_10k"], 1) for side in sides])
    bar_labels(ax_conn, bars, "{:,.0f}")
    ax_conn.axhline(targets["backend_connections_per_10k"],
                    label=f"target ≤ {targets['backend_connections_per_10k']}", **TARGET_STYLE)
    ax_conn.set_yscale("log")
    ax_conn.set_ylim(0.5, 10000 * 5)
    ax_conn.set_title("Backend connections opened\nper 10,000 plain requests (less is better)")
    ax_conn.legend(fontsize=8, loc="upper right")
    if ax_rps is not None:
        bars = system_bars(ax_rps, labels, [side["requests_per_s"] for side in sides])
        bar_labels(ax_rps, bars, "{:,.0f}")
        ax_rps.set_ylim(0, max(side["requests_per_s"] for side in sides) * 1.25)
        ax_rps.set_title("Plain /api/ requests per second\n(more is better)")


def grouped_bars(ax: Any, labels: list[str], groups: list[str], values: dict[tuple[str, str], float],
                 fmt: str) -> None:
    """One group of bars per system (its color), one bar per group key (hatched after the first)."""
    width = 0.8 / max(1, len(groups))
    hatches = ["", "//", "..", "xx"]
    for index, group in enumerate(groups):
        xs = [i - 0.4 + width * (index + 0.5) for i, label in enumerate(labels) if (label, group) in values]
        ys = [values[(label, group)] for label in labels if (label, group) in values]
        colors = [system(label).color for label in labels if (label, group) in values]
        bars = ax.bar(xs, ys, width * 0.95, color=colors, hatch=hatches[index % len(hatches)], edgecolor="white",
                      alpha=1.0 if index == 0 else 0.7, label=group)
        bar_labels(ax, bars, fmt, fontsize=8, rotation=90 if len(labels) * len(groups) > 6 else 0)
    ax.set_xticks(range(len(labels)), [system(label).name for label in labels], fontsize=9)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    leg = ax.legend(fontsize=8, loc="upper left")
    for handle in leg.legend_handles:
        handle.set_facecolor("#bbbbbb")


def plot_memory(ax: Any, capacity: dict[str, Any], targets: dict[str, Any]) -> None:
    """KiB per held WebSocket at the same count through every proxy, over ws and over wss."""
    size = capacity.get("wss_target")
    labels = systems_of(capacity)
    values: dict[tuple[str, str], float] = {}
    for label in labels:
        step = at_step(capacity[label], size) if size else None
        if step and step["kib_per_websocket"] is not None:
            values[(label, "ws")] = step["kib_per_websocket"]
        wss = (capacity.get("wss") or {}).get(label)
        if wss and wss["kib_per_websocket"] is not None and wss["max_held"] >= (size or 0):
            values[(label, "wss")] = wss["kib_per_websocket"]
    grouped_bars(ax, labels, ["ws", "wss"], values, "{:.1f}")
    ax.axhline(targets["kib_per_websocket"], label=f"target ≤ {targets['kib_per_websocket']:g} KiB (ws)",
               **TARGET_STYLE)
    ax.set_ylim(0, max([*values.values(), targets["kib_per_websocket"]]) * 1.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"Proxy RSS per held WebSocket, KiB, {size:,} held by each\n(less is better)")


def plot_handshakes(ax: Any, handshakes: dict[str, Any]) -> None:
    labels = systems_of(handshakes)
    values = {(label, kind): run["per_second"] for label in labels for kind, run in handshakes[label].items()}
    grouped_bars(ax, labels, [k for k in HANDSHAKE_KINDS if any(key[1] == k for key in values)], values, "{:,.0f}")
    ax.set_ylim(0, max(values.values()) * 1.35)
    ax.set_title("New WebSockets per second\n(more is better)")


def plot_storm(ax: Any, storm: dict[str, Any], targets: dict[str, Any]) -> None:
    labels = [label for label in systems_of(storm) if storm[label].get("last_back_s") is not None]
    values = [storm[label]["last_back_s"] for label in labels]
    if not labels:
        ax.axis("off")
        return
    bars = system_bars(ax, labels, values, [f"{system(label).name}\n{storm[label]['size']:,} WebSockets"
                                            for label in labels])
    for rect, label in zip(bars, labels, strict=True):
        side = storm[label]
        text = f"{rect.get_height():.1f} s" + (f"\n{side['lost_clients']:,} lost" if side["lost_clients"] else "")
        ax.annotate(text, (rect.get_x() + rect.get_width() / 2, rect.get_height()), ha="center", va="bottom",
                    fontsize=9, xytext=(0, 2), textcoords="offset points", bbox=LABEL_BOX)
    ax.axhline(targets["storm_seconds"], label=f"target ≤ {targets['storm_seconds']:g} s "
               f"for {targets['storm_websockets']:,}", **TARGET_STYLE)
    ax.set_ylim(0, max([*values, targets["storm_seconds"]]) * 1.35)
    ax.set_ylabel("seconds")
    ax.set_title("Reconnect storm: all back and echoing\n(less is better)")
    ax.legend(fontsize=8, loc="upper left")


def plot_converge(ax: Any, converge: dict[str, Any], targets: dict[str, Any]) -> None:
    runs = converge["runs"]
    labels = [f"{r['vhosts']} vhost{'s' if r['vhosts'] > 1 else ''}" for r in runs]
    x = range(len(runs))
    width = 0.38
    first = ax.bar([i - width / 2 for i in x], [r["first"]["seconds"] for r in runs], width, color="#9dc3e6",
                   label="first run")
    again = ax.bar([i + width / 2 for i in x], [r["rerun"]["seconds"] for r in runs], width, color=ROLE_COLOR,
                   label="idempotent re-run")
    bar_labels(ax, first, "{:.0f} s")
    bar_labels(ax, again, "{:.0f} s")
    limit = targets["idempotent_100_vhosts_s"]
    hundred = [i for i, r in enumerate(runs) if r["vhosts"] == 100]
    if hundred:  # the target is about the re-run of 100 vhosts only: drawn over that group alone
        ax.hlines(limit, hundred[0] - 0.5, hundred[0] + 0.5, label=f"target: re-run of 100 vhosts ≤ {limit:g} s",
                  colors=TARGET_STYLE["color"], linestyles="--", linewidth=2)
    else:
        ax.plot([], [], " ", label=f"(target: re-run of 100 vhosts ≤ {limit:g} s; not in this run)")
    ax.set_xticks(list(x), labels)
    ax.set_ylabel("seconds")
    ax.set_ylim(0, max([r["first"]["seconds"] for r in runs] + [targets["idempotent_100_vhosts_s"]]) * 1.25)
    ax.set_title("ansible-playbook site.yml (less is better)")
    ax.legend(fontsize=8, loc="upper left")


def compared(labels: list[str]) -> str:
    """ "seed config vs the role", or with the peers "seed config, the role, HAProxy and Caddy"."""
    names = [f"the {system(label).name}" if label == "role" else system(label).name for label in labels]
    if len(names) <= 2:
        return " vs ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def write_plots(results: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "axes.axisbelow": True})
    m, targets = results["measurements"], results["targets"]
    written: list[str] = []
    title = (f"wsproxy.nginx benchmark ({results['profile']} run), {results['machine']['cpus']} CPUs, "
             f"nginx {results['machine'].get('nginx', '?')}: {compared(run_systems(results))}")

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name)
        plt.close(fig)
        written.append(name)

    capacity, rtt, http, converge, handshakes, storm = (
        ok(m, n) for n in ("capacity", "rtt", "http", "converge", "handshakes", "storm"))
    reasons = {label: diagnosis(results, label)[0] for label in systems_of(capacity)} if capacity else {}
    if capacity:
        many = len(systems_of(capacity)) > 2
        fig, axes = plt.subplots(1, 3, figsize=(17, 5.6) if many else (15, 4.8))
        plot_ramp(axes[0], capacity)
        plot_capacity(axes[1], axes[2], capacity, targets, reasons)
        fig.suptitle("1. Concurrent proxied WebSockets", fontweight="bold")
        save(fig, "capacity.png")
    if rtt:
        many = len(rtt["paths"]) > 5  # the peers' paths too: one percentile a row, for room under each bar
        fig, axes = plt.subplots(2, 1, figsize=(13, 9)) if many else plt.subplots(1, 2, figsize=(13, 4.8))
        plot_rtt(axes[0], rtt, targets, "p50")
        plot_rtt(axes[1], rtt, targets, "p99")
        through = "each proxy" if path_systems(rtt) != ["seed", "role"] else "nginx"
        fig.suptitle(f"2. Latency: {rtt['samples']:,} round trips per path, direct to the backend vs through "
                     f"{through}", fontweight="bold")
        save(fig, "rtt.png")
    if http:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5) if len(systems_of(http)) > 2 else (10, 4.5))
        plot_http(axes[0], axes[1], http, targets)
        fig.suptitle("3. Plain requests through /api/", fontweight="bold")
        save(fig, "http.png")
    if converge:
        fig, ax = plt.subplots(figsize=(8, 4.8))
        plot_converge(ax, converge, targets)
        fig.suptitle("4. Converge time", fontweight="bold")
        save(fig, "converge.png")
    if handshakes:
        fig, ax = plt.subplots(figsize=(10, 4.8))
        plot_handshakes(ax, handshakes)
        fig.suptitle("5. New WebSockets per second", fontweight="bold")
        save(fig, "handshakes.png")
    if storm:
        fig, ax = plt.subplots(figsize=(10, 4.8))
        plot_storm(ax, storm, targets)
        fig.suptitle("6. Reconnect storm", fontweight="bold")
        save(fig, "storm.png")
    memory = capacity if capacity and capacity.get("wss_target") else None
    panels = (capacity, memory, handshakes, storm, rtt, http)
    if any(panels):
        fig, axes = plt.subplots(2, 3, figsize=(21, 10.5))
        flat = list(axes.flat)
        if capacity:
            plot_capacity(flat[0], None, capacity, targets, reasons)
        if memory:
            plot_memory(flat[1], memory, targets)
        if handshakes:
            plot_handshakes(flat[2], handshakes)
        if storm:
            plot_storm(flat[3], storm, targets)
        if rtt:
            plot_rtt_ratios(flat[4], rtt, targets)
        if http:
            plot_http(flat[5], None, http, targets)
        for ax, present in zip(flat, panels, strict=False):
            if not present:
                ax.axis("off")
                ax.text(0.5, 0.5, "not measured in this run", ha="center", va="center", color="#888888")
        fig.suptitle(title, fontweight="bold")
        save(fig, "summary.png")
    return written


def write_all(results: dict[str, Any], out: Path) -> None:
    for stale in ("summary.png", "capacity.png", "rtt.png", "http.png", "converge.png", "handshakes.png",
                  "storm.png"):
        (out / stale).unlink(missing_ok=True)
    plots = write_plots(results, out)
    (out / "results.md").write_text(markdown(results, plots) + "\n")
