"""results.json -> results.md (tables) and PNG plots, for bench/bench.py. Needs matplotlib (bench/requirements.txt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SEED_COLOR = "#c0504d"  # the baseline, red
ROLE_COLOR = "#2e75b6"  # the role, blue
DIRECT_COLOR = "#7f7f7f"
TARGET_STYLE = {"color": "#2ca02c", "linestyle": "--", "linewidth": 1.5}


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


def diagnose(side: dict[str, Any], settings: dict[str, Any] | None) -> tuple[str, str]:
    """(short, long) reason why a ramp stopped, from what the run recorded."""
    if not side.get("first_error_at"):
        return "target reached", "reached the target with no error"
    log = side.get("nginx_error_log", {}).get("counts", {})
    last = side["steps"][-1]
    client = {**last["open_errors"]["counts"], **last["echo_errors"]["counts"]}
    connections = None
    if settings and str(settings.get("worker_connections") or "").isdigit():
        connections = int(settings["worker_connections"])
    if any("ephemeral" in kind for kind in log):
        return ("out of ephemeral ports to the backend",
                "nginx ran out of local ports towards the one backend address (connect() failed, 99: Cannot "
                "assign requested address): one source/destination address pair holds about 28,000 "
                "connections (ip_local_port_range). Several backend addresses, or proxy_bind over several "
                "local addresses, lift it.")
    if connections and max(last["worker_fds"] or [0]) >= 0.9 * connections:
        return (f"worker_connections {connections} reached",
                f"a worker reached worker_connections ({connections}; each WebSocket takes two, the client's and "
                "the backend's). nginx then closes accepted connections that have not sent a request yet "
                "(\"worker_connections are not enough, reusing connections\", logged at warn, which an error_log "
                "without a level does not show): the clients see the connection closed before any answer.")
    if last.get("listen_overflows"):
        return ("accept queue overflowed",
                f"the kernel dropped {last['listen_overflows']:,} connection attempts because nginx's accept "
                "queue (listen backlog) was full: nginx did not accept as fast as clients arrived.")
    if any("timeout" in kind for kind in client):
        return "handshakes timed out", "handshakes timed out without a sign of why in nginx's error log."
    return "errors", f"client-side errors: {client}; nginx error log: {log or 'nothing'}"


# --------------------------------------------------------------------------- Markdown


def summary_rows(results: dict[str, Any]) -> list[list[str]]:
    targets = results["targets"]
    m = results["measurements"]
    rows: list[list[str]] = []
    capacity = ok(m, "capacity")
    if capacity:
        seed, role = capacity["seed"], capacity["role"]
        goal = capacity["target"]
        note = "" if goal == targets["held_websockets"] else f" (this run; issue: {targets['held_websockets']:,})"
        nginx = results.get("nginx", {})
        rows.append([
            "Concurrent WebSockets held, echo-verified",
            f"{seed['max_held']:,} ({seed['errors']:,} errors{stop(seed)}: "
            f"{diagnose(seed, nginx.get('seed'))[0]})",
            f"{role['max_held']:,} ({role['errors']:,} errors{stop(role)}: "
            f"{diagnose(role, nginx.get('role'))[0]})",
            f"≥ {goal:,}, 0 errors{note}",
            verdict(role["max_held"] >= goal and role["errors"] == 0),
        ])
        rows.append([
            "nginx memory per held WebSocket (ws)",
            f"{num(seed['kib_per_websocket'], 1)} KiB",
            f"{num(role['kib_per_websocket'], 1)} KiB",
            f"≤ {targets['kib_per_websocket']:g} KiB",
            verdict(None if role["kib_per_websocket"] is None
                    else role["kib_per_websocket"] <= targets["kib_per_websocket"]),
        ])
    rtt = ok(m, "rtt")
    if rtt:
        rows += rtt_summary_rows(rtt, targets)
    http = ok(m, "http")
    if http:
        seed, role = http["seed"], http["role"]
        rows.append([
            "Backend connections per 10,000 plain /api/ requests",
            num(seed["backend_connections_per_10k"]),
            num(role["backend_connections_per_10k"]),
            f"≤ {targets['backend_connections_per_10k']}",
            verdict(role["backend_connections_per_10k"] <= targets["backend_connections_per_10k"]),
        ])
        rows.append([
            "Plain /api/ requests per second",
            num(seed["requests_per_s"]),
            num(role["requests_per_s"]),
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
            rows.append([
                f"Converge {n} vhost{'s' if n > 1 else ''}: first run / idempotent re-run",
                "-",
                f"{run['first']['seconds']:.1f} s / {run['rerun']['seconds']:.1f} s "
                f"(changed={run['rerun']['changed']})",
                target,
                verdict(met),
            ])
    return rows


def rtt_met(path: dict[str, Any], key: str, limit: float) -> bool:
    return path[key + "_ratio"] <= limit


def rtt_summary_rows(rtt: dict[str, Any], targets: dict[str, Any]) -> list[list[str]]:
    """p50 and p99 through the role's nginx against direct (the targets), each path's verdict said plainly;
    then wss through nginx against direct wss (like for like, no target)."""
    paths = rtt["paths"]
    direct, ws, wss = paths["direct"], paths["role ws"], paths["role wss"]
    seed = paths.get("seed ws")
    rows = []
    for key, limit in (("p50", targets["rtt_p50_ratio"]), ("p99", targets["rtt_p99_ratio"])):
        verdicts = ", ".join(f"{label} {verdict(rtt_met(path, key, limit))}"
                             for label, path in (("ws", ws), ("wss", wss)))
        rows.append([
            f"Round trip of a 640-byte frame, {key}",
            f"direct {direct[key + '_us']:.0f} µs"
            + (f"; seed ws {seed[key + '_us']:.0f} µs ({seed[key + '_ratio']:.2f}x)" if seed else ""),
            f"ws {ws[key + '_us']:.0f} µs ({ws[key + '_ratio']:.2f}x), "
            f"wss {wss[key + '_us']:.0f} µs ({wss[key + '_ratio']:.2f}x)",
            f"≤ {limit:g}x direct",
            verdicts,
        ])
    like = wss.get("vs_direct_wss")
    if like and "direct wss" in paths:
        dwss = paths["direct wss"]
        rows.append([
            "Round trip, wss through nginx vs direct wss (like for like)",
            f"direct wss p50 {dwss['p50_us']:.0f} µs, p99 {dwss['p99_us']:.0f} µs",
            f"wss p50 {like['p50_ratio']:.2f}x, p99 {like['p99_ratio']:.2f}x",
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
            path = paths[label]
            verdicts.append(f"{label} {key} {path[key + '_ratio']:.2f}x direct: target ≤ {limit:g}x "
                            + ("met" if rtt_met(path, key, limit) else "**not met**"))
    parts += ["Targets: " + "; ".join(verdicts) + ".", ""]
    like = paths["role wss"].get("vs_direct_wss")
    if like and "direct wss" in paths:
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


def markdown(results: dict[str, Any], plots: list[str]) -> str:
    m = results["measurements"]
    machine = results["machine"]
    dirty = " + uncommitted changes to the role or plugins" if machine["role_uncommitted_changes"] else ""
    parts = [
        f"# Benchmark results ({results['profile']} run)",
        "",
        f"{results['started']}, {machine['cpus']} CPUs, {machine['memory_gib']} GiB, kernel {machine['kernel']}, "
        f"nginx {machine.get('nginx', '?')}, open-file hard limit {machine['open_files_hard_limit']:,}, "
        f"commit {machine['git_commit']}{dirty}"
        f" (role tree {machine['role_tree_sha256']}), {results.get('elapsed_s', 0):.0f} s. "
        "Generated by bench/run.sh; bench/README.md explains each figure.",
        "",
        load_note(results),
        "",
        *([provenance_note(results), ""] if provenance_note(results) else []),
        table(["Figure", "Baseline (seed config)", "Role", "Target", "Met"], summary_rows(results)),
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

    capacity = ok(m, "capacity")
    if capacity:
        parts += ["## 1. Concurrent WebSockets", "",
                  f"{capacity['seed']['client_processes']} client processes, {capacity['backend_processes']} backend "
                  "processes; every held WebSocket echoes a fresh payload at every step.", ""]
        for label in ("seed", "role"):
            side = capacity[label]
            rows = [[f"{s['requested']:,}", f"{s['held']:,}", f"{s['errors']:,}", f"{s['nginx_rss_kib'] / 1024:.1f}",
                     num(s["kib_per_websocket"], 1), " ".join(str(f) for f in s["worker_fds"]),
                     str(s.get("listen_overflows", "-")), f"{s['step_s']:.1f}"]
                    for s in side["steps"]]
            idle = side["idle_rss_kib"] / 1024
            parts += [f"### {label}: max {side['max_held']:,} held (nginx idle RSS {idle:.1f} MiB)", "",
                      f"Why it stopped: {diagnose(side, (results.get('nginx') or {}).get(label))[1]}", "",
                      table(["Requested", "Held", "Errors", "nginx RSS MiB", "KiB/WebSocket", "fds per worker",
                             "Listen overflows", "Step s"], rows), ""]
            errors = {**side["steps"][-1]["open_errors"]["counts"], **side["steps"][-1]["echo_errors"]["counts"]}
            if errors:
                parts += [f"Client-side errors at the last step: {errors}", ""]
            if side["nginx_error_log"]["counts"]:
                parts += [f"nginx error.log during the ramp: {side['nginx_error_log']['counts']}", ""]
                parts += ["```", *side["nginx_error_log"]["samples"], "```", ""]

    rtt = ok(m, "rtt")
    if rtt:
        parts += rtt_details(rtt, results["targets"])

    http = ok(m, "http")
    if http:
        rows = []
        for label in ("seed", "role"):
            for index, r in enumerate(http[label]["runs"], 1):
                rows.append([label, str(index), f"{r['ok']:,}", f"{r['backend_requests']:,}",
                             f"{r['backend_connections_opened']:,}", f"{r['backend_connections_per_10k']:,.0f}",
                             f"{r['requests_per_s']:,.0f}", f"{r['latency_p50_ms']:.2f}", f"{r['latency_p99_ms']:.2f}",
                             str(r["errors"]["total"])])
        parts += ["## 3. Plain requests through /api/", "",
                  f"{http['requests']:,} GETs per run over {http['concurrency']} keep-alive client connections, "
                  "after a warm-up; backend counters reset just before. The summary takes the median round.", "",
                  table(["Config", "Round", "200 OK", "Reached backend", "Backend connections", "per 10k",
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

    return "\n".join(textwrap.wrap(f"({text})", width))


def bar_labels(ax: Any, bars: Any, fmt: str) -> None:
    for rect in bars:
        height = rect.get_height()
        ax.annotate(fmt.format(height), (rect.get_x() + rect.get_width() / 2, height), ha="center", va="bottom",
                    fontsize=9, xytext=(0, 2), textcoords="offset points")


def plot_capacity(ax_held: Any, ax_mem: Any | None, capacity: dict[str, Any], targets: dict[str, Any],
                  nginx: dict[str, Any] | None = None) -> None:
    seed, role = capacity["seed"], capacity["role"]
    nginx = nginx or {}
    names = [f"seed config\n{fill(diagnose(seed, nginx.get('seed'))[0])}",
             f"role\n{fill(diagnose(role, nginx.get('role'))[0])}"]
    bars = ax_held.bar(names, [max(seed["max_held"], 1), max(role["max_held"], 1)], color=[SEED_COLOR, ROLE_COLOR])
    bar_labels(ax_held, bars, "{:,.0f}")
    ax_held.axhline(capacity["target"], label=f"target {capacity['target']:,}", **TARGET_STYLE)
    ax_held.set_yscale("log")
    ax_held.set_ylim(top=capacity["target"] * 4)
    ax_held.set_title("Concurrent WebSockets held\n(echo-verified, more is better)")
    ax_held.legend(loc="upper left", fontsize=8)
    if ax_mem is not None:
        values = [seed["kib_per_websocket"] or 0, role["kib_per_websocket"] or 0]
        bars = ax_mem.bar(["seed config", "role"], values, color=[SEED_COLOR, ROLE_COLOR])
        for rect, side in zip(bars, (seed, role), strict=False):  # inside the bar: the target line runs near the top
            ax_mem.annotate(f"{rect.get_height():.1f} KiB\nat {side['max_held']:,}",
                            (rect.get_x() + rect.get_width() / 2, rect.get_height() / 2), ha="center", va="center",
                            color="white", fontsize=10, fontweight="bold")
        ax_mem.axhline(targets["kib_per_websocket"], label=f"target ≤ {targets['kib_per_websocket']:g} KiB",
                       **TARGET_STYLE)
        ax_mem.set_ylim(0, max([*values, targets["kib_per_websocket"]]) * 1.3)
        ax_mem.set_title("nginx RSS per held WebSocket, KiB\n(less is better)")
        ax_mem.legend(loc="upper left", fontsize=8)


def plot_ramp(ax: Any, capacity: dict[str, Any]) -> None:
    """nginx's memory against WebSockets held, one point per step: the slope is the cost of a connection,
    the end of a line is where that config stopped (x: the step that had errors)."""
    for label, color in (("seed", SEED_COLOR), ("role", ROLE_COLOR)):
        side = capacity[label]
        steps = side["steps"]
        held = [0] + [s["held"] for s in steps]
        rss = [side["idle_rss_kib"] / 1024] + [s["nginx_rss_kib"] / 1024 for s in steps]
        ax.plot(held, rss, "o-", color=color, markersize=3,
                label=f"{'seed config' if label == 'seed' else 'role'}: max {side['max_held']:,}")
        failed = [s for s in steps if s["errors"]]
        if failed:
            x, y = failed[0]["held"], failed[0]["nginx_rss_kib"] / 1024
            ax.plot([x], [y], "x", color="black", markersize=11, markeredgewidth=2.5)
            ax.annotate(f"{'seed' if label == 'seed' else 'role'} stops at {side['max_held']:,}", (x, y),
                        xytext=(8, -4 if label == "seed" else 4), textcoords="offset points", fontsize=9,
                        color=color, fontweight="bold", va="bottom" if label == "seed" else "top")
    ax.axvline(capacity["target"], label=f"target {capacity['target']:,}", **TARGET_STYLE)
    ax.plot([], [], "x", color="black", markersize=9, markeredgewidth=2, label="step with errors: stop")
    ax.set_xlim(0, capacity["target"] * 1.08)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("WebSockets held (echo-verified)")
    ax.set_ylabel("nginx RSS, master + workers (MiB)")
    ax.set_title("Ramp: nginx memory vs WebSockets held")
    ax.legend(fontsize=8, loc="upper left")


RTT_ORDER = ("direct", "direct wss", "seed ws", "role ws", "role wss")
DIRECT_TLS_COLOR = "#b7b7b7"


def rtt_names(rtt: dict[str, Any]) -> list[str]:
    """Paths in reading order: the baseline first, then through nginx."""
    return [n for n in RTT_ORDER if n in rtt["paths"]] + [n for n in rtt["paths"] if n not in RTT_ORDER]


def rtt_color(name: str) -> str:
    if name.startswith("direct"):
        return DIRECT_COLOR if name == "direct" else DIRECT_TLS_COLOR
    return SEED_COLOR if name.startswith("seed") else ROLE_COLOR


def plot_rtt(ax: Any, rtt: dict[str, Any], targets: dict[str, Any], key: str) -> None:
    """One percentile (p50 or p99) of every path in µs, with the target drawn at its multiple of direct."""
    names = rtt_names(rtt)
    paths = rtt["paths"]
    values = [paths[n][f"{key}_us"] for n in names]
    bars = ax.bar(names, values, color=[rtt_color(n) for n in names])
    for rect, name in zip(bars, names, strict=False):
        ratio = paths[name][f"{key}_ratio"]
        label = f"{rect.get_height():,.0f} µs" + ("" if name == "direct" else f"\n{ratio:.2f}x direct")
        like = paths[name].get("vs_direct_wss")
        if like:
            label += f"\n{like[key + '_ratio']:.2f}x direct wss"
        ax.annotate(label, (rect.get_x() + rect.get_width() / 2, rect.get_height()), ha="center", va="bottom",
                    fontsize=9, xytext=(0, 2), textcoords="offset points")
    limit = targets[f"rtt_{key}_ratio"]
    ax.axhline(paths["direct"][f"{key}_us"] * limit, label=f"target: {limit:g}x direct", **TARGET_STYLE)
    ax.set_ylabel("µs")
    ax.set_ylim(0, max([*values, paths["direct"][f"{key}_us"] * limit]) * 1.3)
    ax.set_title(f"{key} round trip, 640-byte frame (less is better)")
    ax.legend(fontsize=8, loc="upper left")


def plot_rtt_ratios(ax: Any, rtt: dict[str, Any], targets: dict[str, Any]) -> None:
    """p50 and p99 through nginx divided by direct: the quantity the targets bound, on one scale."""
    names = [n for n in rtt_names(rtt) if n != "direct"]
    paths = rtt["paths"]
    x = range(len(names))
    width = 0.38
    colors = [rtt_color(n) for n in names]
    p50 = ax.bar([i - width / 2 for i in x], [paths[n]["p50_ratio"] for n in names], width, color=colors,
                 label="p50 (solid)")
    p99 = ax.bar([i + width / 2 for i in x], [paths[n]["p99_ratio"] for n in names], width, color=colors,
                 alpha=0.45, hatch="//", label="p99 (hatched)")
    bar_labels(ax, p50, "{:.2f}x")
    bar_labels(ax, p99, "{:.2f}x")
    ax.axhline(1.0, color=DIRECT_COLOR, linewidth=1, label="direct = 1")
    ax.axhline(targets["rtt_p50_ratio"], label=f"p50 target {targets['rtt_p50_ratio']:g}x", **TARGET_STYLE)
    ax.axhline(targets["rtt_p99_ratio"], label=f"p99 target {targets['rtt_p99_ratio']:g}x",
               color=TARGET_STYLE["color"], linestyle=":", linewidth=1.5)
    ax.set_xticks(list(x), names)
    top = max([paths[n]["p50_ratio"] for n in names] + [paths[n]["p99_ratio"] for n in names] + [1.5])
    ax.set_ylim(0, top * 1.35)
    ax.set_title(f"Round trip through nginx / direct (direct p50 {paths['direct']['p50_us']:.0f} µs)\n"
                 "640-byte frame (less is better)")
    ax.legend(fontsize=8, loc="upper left", ncol=2)


def plot_http(ax_conn: Any, ax_rps: Any | None, http: dict[str, Any], targets: dict[str, Any]) -> None:
    seed, role = http["seed"], http["role"]
    values = [max(seed["backend_connections_per_10k"], 1), max(role["backend_connections_per_10k"], 1)]
    bars = ax_conn.bar(["seed config", "role"], values, color=[SEED_COLOR, ROLE_COLOR])
    bar_labels(ax_conn, bars, "{:,.0f}")
    ax_conn.axhline(targets["backend_connections_per_10k"],
                    label=f"target ≤ {targets['backend_connections_per_10k']}", **TARGET_STYLE)
    ax_conn.set_yscale("log")
    ax_conn.set_ylim(0.5, 10000 * 5)
    ax_conn.set_title("Backend connections opened\nper 10,000 plain requests (less is better)")
    ax_conn.legend(fontsize=8, loc="upper right")
    if ax_rps is not None:
        bars = ax_rps.bar(["seed config", "role"], [seed["requests_per_s"], role["requests_per_s"]],
                          color=[SEED_COLOR, ROLE_COLOR])
        bar_labels(ax_rps, bars, "{:,.0f}")
        ax_rps.set_ylim(0, max(seed["requests_per_s"], role["requests_per_s"]) * 1.25)
        ax_rps.set_title("Plain /api/ requests per second\n(more is better)")


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


def write_plots(results: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "axes.axisbelow": True})
    m, targets = results["measurements"], results["targets"]
    written: list[str] = []
    title = (f"wsproxy.nginx benchmark ({results['profile']} run), {results['machine']['cpus']} CPUs, "
             f"nginx {results['machine'].get('nginx', '?')}: seed config vs the role")

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name)
        plt.close(fig)
        written.append(name)

    capacity, rtt, http, converge = (ok(m, n) for n in ("capacity", "rtt", "http", "converge"))
    if capacity:
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
        plot_ramp(axes[0], capacity)
        plot_capacity(axes[1], axes[2], capacity, targets, results.get("nginx"))
        fig.suptitle("1. Concurrent proxied WebSockets", fontweight="bold")
        save(fig, "capacity.png")
    if rtt:
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
        plot_rtt(axes[0], rtt, targets, "p50")
        plot_rtt(axes[1], rtt, targets, "p99")
        fig.suptitle(f"2. Latency: {rtt['samples']:,} round trips per path, direct to the backend vs through nginx",
                     fontweight="bold")
        save(fig, "rtt.png")
    if http:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
        plot_http(axes[0], axes[1], http, targets)
        fig.suptitle("3. Plain requests through /api/", fontweight="bold")
        save(fig, "http.png")
    if converge:
        fig, ax = plt.subplots(figsize=(8, 4.8))
        plot_converge(ax, converge, targets)
        fig.suptitle("4. Converge time", fontweight="bold")
        save(fig, "converge.png")
    panels = [p for p in (capacity, rtt, http, converge) if p]
    if panels:
        fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
        flat = list(axes.flat)
        if capacity:
            plot_capacity(flat[0], None, capacity, targets, results.get("nginx"))
        if rtt:
            plot_rtt_ratios(flat[1], rtt, targets)
        if http:
            plot_http(flat[2], None, http, targets)
        if converge:
            plot_converge(flat[3], converge, targets)
        for ax, present in zip(flat, (capacity, rtt, http, converge), strict=False):
            if not present:
                ax.axis("off")
                ax.text(0.5, 0.5, "not measured in this run", ha="center", va="center", color="#888888")
        fig.suptitle(title, fontweight="bold")
        save(fig, "summary.png")
    return written


def write_all(results: dict[str, Any], out: Path) -> None:
    for stale in ("summary.png", "capacity.png", "rtt.png", "http.png", "converge.png"):
        (out / stale).unlink(missing_ok=True)
    plots = write_plots(results, out)
    (out / "results.md").write_text(markdown(results, plots) + "\n")
