"""The compatibility matrix: every ansible-core that meta/runtime.yml claims, each in a virtualenv of its own.

    nox -s compat                 every line (make compat runs this, and make test runs make compat)
    nox -s "compat(2.16)"         one line
    nox -l                        the lines

For each line, from the pinned requirements in tests/compat/requirements-<line>.txt:
the unit tests (tests/unit, which also render the role's templates with that line's ansible-playbook and
have real nginx -t judge them), then tests/compat/converge.sh: the collection built and installed, site.yml
against a bare container, a second run that must change nothing, WebSocket handshakes through the result,
and the doctor. make test sets WSPROXY_UNIT_RAN_IN_VENV=1 (make unit has just run tests/unit in .venv): a line
with .venv's very ansible-core, Jinja2, MarkupSafe and PyYAML then skips its unit tests, which would run the
same code again. The full Molecule suite and the gates run on the newest line only (.venv, requirements.txt).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PINS = ROOT / "tests" / "compat"
# One line per pinned requirements file: adding tests/compat/requirements-2.20.txt adds a line to the matrix.
CORE_LINES = sorted(
    (path.stem.removeprefix("requirements-") for path in PINS.glob("requirements-*.txt")),
    key=lambda line: tuple(int(part) for part in line.split(".")),
)

# What decides how the collection runs: the same versions of these in a line and in .venv run the same code.
RUNTIME = ("ansible-core", "jinja2", "markupsafe", "pyyaml")


def _runtime(requirements: Path) -> dict[str, str]:
    """The pinned versions of RUNTIME in a requirements file."""
    lines = [line for line in requirements.read_text().splitlines() if "==" in line and not line.startswith("#")]
    pins = {name.strip().lower(): version.strip() for name, version in (line.split("==", 1) for line in lines)}
    return {name: pins[name] for name in RUNTIME if name in pins}


def _venv_runtime() -> dict[str, str]:
    """The installed versions of RUNTIME in .venv (make unit's)."""
    script = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    python = ROOT / ".venv" / "bin" / "python"
    if not python.exists():
        return {}
    out = subprocess.run([str(python), "-c", script, *RUNTIME], capture_output=True, text=True, check=False)
    return json.loads(out.stdout) if out.returncode == 0 else {}


nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["compat"]


@nox.session
@nox.parametrize("core", [nox.param(line, id=line) for line in CORE_LINES])
def compat(session: nox.Session, core: str) -> None:
    """Unit tests, build, install, converge, idempotence, handshakes and the doctor on one ansible-core line."""
    requirements = PINS / f"requirements-{core}.txt"
    session.install("--disable-pip-version-check", "--quiet", "-r", str(requirements))
    version = session.run("ansible", "--version", silent=True) or ""
    if not re.search(rf"core {re.escape(core)}\.\d+", version):
        session.error(f"{requirements.name} did not install ansible-core {core}: {version.splitlines()[:1]}")
    # The checkout is its own collection path (collections/ -> the root); nothing from ~/.ansible.
    env = {"ANSIBLE_COLLECTIONS_PATH": str(ROOT / "collections"), "ANSIBLE_FORCE_COLOR": "0"}
    if os.environ.get("WSPROXY_UNIT_RAN_IN_VENV") == "1" and _runtime(requirements) == _venv_runtime():
        # make test ran them in .venv a minute ago, on these very versions: the line adds nothing there.
        session.log(f"tests/unit: already run by make unit on the same runtime ({_runtime(requirements)})")
    else:
        session.run("pytest", "tests/unit", "-q", "-n", "2", "-p", "no:cacheprovider", env=env)
    session.run("bash", "tests/compat/converge.sh", external=True)
