"""README.md's variable tables are the ones scripts/readme_variables.py makes from the argument specs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("readme_variables", ROOT / "scripts" / "readme_variables.py")
assert _SPEC and _SPEC.loader
readme_variables = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(readme_variables)
README = (ROOT / "README.md").read_text()
ROLES = sorted(path.parents[1].name for path in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def test_the_readme_tables_are_generated_from_the_specs() -> None:
    assert readme_variables.render(README) == README, "run: python3 scripts/readme_variables.py"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_its_tables_in_the_readme(role: str) -> None:
    assert f"<!-- role-variables: {role} begin -->" in README
    options = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    for name in options["argument_specs"]["main"]["options"]:
        assert f"| `{name}` |" in README


def test_a_table_edited_by_hand_is_caught() -> None:
    row = "| `websocket_proxy_upstream_keepalive` | `32` |"
    edited = README.replace(row, row.replace("`32`", "`16`"))
    assert edited != README
    assert readme_variables.render(edited) != edited


def test_markup_and_defaults() -> None:
    assert readme_variables.markdown("C(a|b) and I(x), L(docs,https://e.test)") == "`a\\|b` and `x`, [docs](https://e.test)"
    assert readme_variables.default({"required": True}) == "required"
    assert readme_variables.default({"default": []}) == "`[]`"
    assert readme_variables.default({"type": "int"}) == ""
    assert readme_variables.default({"default": ""}) == '`""`'
