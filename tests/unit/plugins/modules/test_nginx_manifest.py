"""nginx_manifest: the role's record of what it wrote and of the originals it replaced, kept and given back.

The module runs for real (a separate Python process reading ANSIBLE_MODULE_ARGS) against files in tmp_path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ansible_collections.wsproxy.nginx.plugins.modules import nginx_manifest

MODULE = Path(nginx_manifest.__file__)


def run_module(args: dict, check_mode: bool = False) -> dict:
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check_mode}})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, str(MODULE)], input=payload, capture_output=True, text=True, env=env, check=False
    )
    return json.loads(out.stdout)


def test_read_without_a_manifest_is_empty_and_changes_nothing(tmp_path: Path) -> None:
    result = run_module({"dir": str(tmp_path / "state")})
    assert (result["changed"], result["owned"], result["originals"]) == (False, [], [])
    assert not (tmp_path / "state").exists()


def test_present_records_owned_paths_and_keeps_each_original_once(tmp_path: Path) -> None:
    state, conf, site = tmp_path / "state", tmp_path / "nginx.conf", tmp_path / "default"
    conf.write_text("distribution's nginx.conf\n")
    os.chmod(conf, 0o640)
    site.symlink_to("/etc/nginx/sites-available/default")
    owned = [{"path": "/etc/nginx/sites-available/a.conf", "name": "vhost a"}, {"path": "/etc/nginx/conf.d/map.conf"}]
    args = {"dir": str(state), "state": "present", "owned": owned, "originals": [str(conf), str(site)]}
    checked = run_module(args, check_mode=True)  # check mode reports the change ...
    assert checked["changed"] is True
    assert [(o["path"], o["kind"]) for o in checked["originals"]] == [(str(conf), "file"), (str(site), "link")]
    assert not state.exists()  # ... and writes nothing
    first = run_module(args)
    assert first["changed"]
    assert first["owned"] == [
        {"path": "/etc/nginx/sites-available/a.conf", "name": "vhost a"},
        {"path": "/etc/nginx/conf.d/map.conf", "name": "websocket_proxy"},
    ]
    assert [(o["path"], o["kind"]) for o in first["originals"]] == [(str(conf), "file"), (str(site), "link")]
    # The role replaces them; a later run keeps the first originals, not what is there now.
    conf.write_text("the role's nginx.conf\n")
    site.unlink()
    assert not run_module(args)["changed"]
    restored = run_module({"dir": str(state), "state": "restored"})
    assert restored["restored"] == [str(conf), str(site)]
    assert conf.read_text() == "distribution's nginx.conf\n" and oct(conf.stat().st_mode & 0o777) == "0o640"
    assert os.readlink(site) == "/etc/nginx/sites-available/default"
    assert run_module({"dir": str(state), "state": "absent"})["changed"]
    assert run_module({"dir": str(state)})["owned"] == []
    assert not run_module({"dir": str(state), "state": "absent"})["changed"]


def test_an_original_that_did_not_exist_is_removed_when_given_back(tmp_path: Path) -> None:
    state, dropin = tmp_path / "state", tmp_path / "limits.conf"
    run_module({"dir": str(state), "state": "present", "originals": [str(dropin)]})
    dropin.write_text("[Service]\nLimitNOFILE=65536\n")
    assert run_module({"dir": str(state), "state": "restored"})["restored"] == [str(dropin)]
    assert not dropin.exists()


def test_relative_paths_are_refused(tmp_path: Path) -> None:
    result = run_module({"dir": str(tmp_path), "state": "present", "owned": [{"path": "sites-available/a.conf"}]})
    assert result["failed"] and "are not absolute paths" in result["msg"]
