"""Property tests: shared settings, the per-test case counter and the run's total."""

from __future__ import annotations

import pytest

#: The issue asks for at least this many generated cases over the whole property run.
MIN_TOTAL_CASES = 2000


class Cases:
    """Counts the examples hypothesis ran in one test and records them on the test report."""

    def __init__(self, node: pytest.Item) -> None:
        self.node = node
        self.count = 0

    def add(self, n: int = 1) -> None:
        self.count += n

    def record(self) -> None:
        self.node.user_properties.append(("hypothesis_cases", self.count))


@pytest.fixture
def cases(request: pytest.FixtureRequest):
    counter = Cases(request.node)
    yield counter
    counter.record()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    total = 0
    tests = 0
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "teardown":
                continue
            for key, value in getattr(report, "user_properties", []):
                if key == "hypothesis_cases":
                    total += value
                    tests += 1
    if tests:
        verdict = "ok" if total >= MIN_TOTAL_CASES else f"BELOW the {MIN_TOTAL_CASES} the issue asks for"
        terminalreporter.write_line(f"property tests: {total} generated cases in {tests} tests ({verdict})")
