"""Tests against a real nginx: import path for nginx_helpers and the run's counts."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))  # for nginx_helpers

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
