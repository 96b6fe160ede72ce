"""What the collection claims about ansible-core is what the compatibility matrix runs (noxfile.py).

The matrix has one line per tests/compat/requirements-<line>.txt. meta/runtime.yml, the README's Requirements,
the tool chain (requirements.txt) and the execution environment must say the same, so that a claim can only
grow with a line of the matrix that proves it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PINS = ROOT / "tests" / "compat"


def _lines() -> list[tuple[int, int]]:
    stems = [path.stem.removeprefix("requirements-") for path in PINS.glob("requirements-*.txt")]
    return sorted(tuple(int(part) for part in stem.split(".")) for stem in stems)


def _core_pin(path: Path) -> str:
    pins = re.findall(r"^ansible-core==(\S+)$", path.read_text(), flags=re.MULTILINE)
    assert len(pins) == 1, f"{path.name}: one ansible-core pin expected, found {pins}"
    return pins[0]


def test_the_matrix_has_consecutive_lines_from_2_16() -> None:
    lines = _lines()
    assert lines[0] == (2, 16)
    assert lines == [(2, minor) for minor in range(16, lines[-1][1] + 1)], lines


def test_each_line_pins_a_release_of_its_own_line() -> None:
    for major, minor in _lines():
        pin = _core_pin(PINS / f"requirements-{major}.{minor}.txt")
        assert re.fullmatch(rf"{major}\.{minor}\.\d+", pin), pin


def test_requires_ansible_is_exactly_the_matrix() -> None:
    lines = _lines()
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    first, last = lines[0], lines[-1]
    assert runtime["requires_ansible"] == f">={first[0]}.{first[1]}.0,<{last[0]}.{last[1] + 1}.0"


def test_the_readme_names_every_line_and_the_release_it_was_proven_on() -> None:
    readme = (ROOT / "README.md").read_text()
    requirements = readme[readme.index("## Requirements") :].split("\n## ", 1)[0]
    names = [f"{major}.{minor}" for major, minor in _lines()]
    assert f"ansible-core {', '.join(names[:-1])} or {names[-1]}" in requirements
    releases = [_core_pin(PINS / f"requirements-{name}.txt") for name in names]
    assert f"({', '.join(releases)})" in requirements
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert f'`requires_ansible: "{runtime["requires_ansible"]}"`' in requirements


def test_the_tool_chain_and_the_execution_environment_use_the_newest_line() -> None:
    major, minor = _lines()[-1]
    newest = _core_pin(PINS / f"requirements-{major}.{minor}.txt")
    assert _core_pin(ROOT / "requirements.txt") == newest
    ee = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    assert ee["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core=={newest}"
