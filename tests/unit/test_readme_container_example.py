"""The README's Compose example is the one the Molecule scenario `container` runs: each file of examples/container
is in the README verbatim, and the scenario's prepare, converge and doctor test use those files, not copies of their
own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "container"
SCENARIO = REPO / "molecule" / "container"


def fenced_blocks(text: str) -> list[str]:
    """The content of every fenced code block of a Markdown text."""
    blocks, current = [], None
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append("".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


@pytest.mark.parametrize(
    "name", ["docker-compose.yml", "group_vars/docker_hosts.yml", "playbook.yml", "inventory.yml", "doctor.yml"]
)
def test_readme_shows_each_example_file_verbatim(name):
    assert (EXAMPLES / name).read_text() in fenced_blocks((REPO / "README.md").read_text())


def test_the_scenario_runs_the_example_files():
    converge = yaml.safe_load((SCENARIO / "converge.yml").read_text())
    playbook = "../../examples/container/playbook.yml"
    assert converge == [{"name": "Converge", "ansible.builtin.import_playbook": playbook}]
    # The doctor's test runs the example's doctor.yml, which reads the same group_vars.
    tests = (SCENARIO / "tests" / "test_container.py").read_text()
    assert 'DOCTOR = str(PROJECT / "examples" / "container" / "doctor.yml")' in tests
    prepare = yaml.safe_load((SCENARIO / "prepare.yml").read_text())
    copies = [task for play in prepare for task in play.get("tasks", []) if "ansible.builtin.copy" in task]
    sources = [item for task in copies for item in task.get("loop", []) if isinstance(item, str)]
    assert "{{ examples }}/docker-compose.yml" in sources
    assert any(play.get("vars", {}).get("examples", "").endswith("/examples/container") for play in prepare)
    # The override changes images, names and the backend's command only: ports, mounts and ulimits are the example's.
    override = yaml.safe_load((SCENARIO / "docker-compose.override.yml").read_text())
    assert set(override["services"]["nginx"]) == {"image", "container_name", "restart"}
