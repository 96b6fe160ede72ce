"""Tests against a real nginx: the run's counts (tests/conftest.py makes nginx_helpers importable)."""

from __future__ import annotations

#: user_properties keys the differential test records, summed over the run and printed at the end.
COUNTED = ("location_sets", "uris", "disagreements")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    totals = dict.fromkeys(COUNTED, 0)
    seen = False
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for key, value in getattr(report, "user_properties", []):
                if key in totals:
                    totals[key] += value
                    seen = True
    if seen:
        terminalreporter.write_line(
            "location_match vs nginx: {location_sets} location sets, {uris} URIs, {disagreements} disagreements".format(
                **totals
            )
        )
