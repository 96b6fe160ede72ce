"""meta/argument_specs.yml and defaults/main.yml agree, and the spec rejects wrong types by name."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "websocket_proxy"


def spec_options() -> dict:
    return yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def test_defaults_and_argument_specs_agree_key_for_key_and_value_for_value():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    spec = spec_options()
    assert sorted(defaults) == sorted(spec)
    for key, value in defaults.items():
        assert spec[key].get("default") == value, key


def test_every_public_variable_is_prefixed_with_the_role_name():
    assert all(key.startswith("websocket_proxy_") for key in spec_options())


def run_role_check_mode(tmp_path: Path, role_vars: dict) -> subprocess.CompletedProcess[str]:
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role:\n        name: wsproxy.nginx.websocket_proxy\n"
    )
    # --check: even if validation let something through, nothing on this machine would change.
    return subprocess.run(["ansible-playbook", "--check", str(play), "-e", json.dumps(role_vars)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(("role_vars", "named"), [
    ({"websocket_proxy_vhosts": "api.example.com"}, "websocket_proxy_vhosts"),
    ({"websocket_proxy_install_nginx": "perhaps"}, "websocket_proxy_install_nginx"),
    ({"websocket_proxy_vhosts": [{"locations": [{"backend": "localhost:5006"}]}]}, "server_name"),
    ({"websocket_proxy_vhosts": [{"server_name": "a.example.com"}]}, "locations"),
    ({"websocket_proxy_vhosts": [{"server_name": "a.example.com", "locations": [{"path": "/api/"}]}]}, "backend"),
    ({"websocket_proxy_vhosts": [{"server_name": "a.example.com", "lokations": []}]}, "lokations"),
])
def test_argument_spec_rejects_wrong_types_and_missing_keys_by_name(tmp_path, role_vars, named):
    run = run_role_check_mode(tmp_path, role_vars)
    assert run.returncode != 0
    assert "Validating arguments against arg spec" in run.stdout
    assert named in run.stdout, run.stdout[-3000:]
