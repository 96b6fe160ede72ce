"""nginx_snapshot: saved then restored leaves every path byte for byte, link for link, as it was."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.wsproxy.nginx.plugins.modules import nginx_snapshot as snap

MODULE = Path(snap.__file__)


def tree(root: Path) -> dict[str, str]:
    """Every path under root with what it is: a file's sha256 and mode, a link's target."""
    result = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            result[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            result[rel] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {oct(path.stat().st_mode & 0o7777)}"
    return result


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    root = tmp_path / "nginx"
    (root / "sites-available").mkdir(parents=True)
    (root / "sites-enabled").mkdir()
    (root / "conf.d").mkdir()
    (root / "sites-available" / "api.conf").write_text("server { listen 80; }\n")
    (root / "sites-enabled" / "api.conf").symlink_to(root / "sites-available" / "api.conf")
    (root / "sites-enabled" / "default").write_text("server { listen 80 default_server; }\n")
    (root / "sites-enabled" / "default").chmod(0o640)
    return root


def paths(etc: Path) -> list[str]:
    return [str(etc / p) for p in ("conf.d/websocket_proxy_map.conf", "sites-available/api.conf",
                                   "sites-enabled/api.conf", "sites-enabled/default", "sites-enabled/new.conf")]


def test_restore_undoes_writes_new_files_new_links_and_removals(etc, tmp_path):
    before = tree(etc)
    snap.save(paths(etc), str(tmp_path / "snap"))
    # what a run might do: write a new map, rewrite a vhost, relink, remove the default site, add a link
    (etc / "conf.d" / "websocket_proxy_map.conf").write_text("map $a $b { }\n")
    (etc / "sites-available" / "api.conf").write_text("server { listen 81; }\n")
    (etc / "sites-enabled" / "api.conf").unlink()
    (etc / "sites-enabled" / "api.conf").symlink_to("/elsewhere")
    (etc / "sites-enabled" / "default").unlink()
    (etc / "sites-enabled" / "new.conf").symlink_to(etc / "sites-available" / "api.conf")
    assert tree(etc) != before

    _entries, changed = snap.restore(str(tmp_path / "snap"))

    assert tree(etc) == before
    assert len(changed) == 5


def test_restore_of_an_unchanged_tree_changes_nothing(etc, tmp_path):
    snap.save(paths(etc), str(tmp_path / "snap"))
    _entries, changed = snap.restore(str(tmp_path / "snap"))
    assert changed == []


def test_a_directory_in_the_way_is_refused(etc, tmp_path):
    (etc / "odd").mkdir()
    with pytest.raises(ValueError, match="neither a regular file nor a symbolic link"):
        snap.save([str(etc / "odd")], str(tmp_path / "snap"))


def run_module(args: dict) -> dict:
    """Run the module as Ansible would: a separate Python process reading its arguments."""
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": args})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, str(MODULE)], input=payload, capture_output=True, text=True,
                         env=env, check=False)
    return json.loads(out.stdout)


def test_module_saves_without_a_change_and_restores_with_one(etc, tmp_path):
    snapdir = str(tmp_path / "snap")
    saved = run_module({"paths": paths(etc), "dir": snapdir, "state": "saved"})
    assert saved["changed"] is False and len(saved["entries"]) == 5
    (etc / "sites-available" / "api.conf").write_text("broken {\n")
    restored = run_module({"dir": snapdir, "state": "restored"})
    assert restored["changed"] is True
    assert restored["restored"] == [str(etc / "sites-available" / "api.conf")]
    assert (etc / "sites-available" / "api.conf").read_text() == "server { listen 80; }\n"


def test_module_names_relative_paths(tmp_path):
    result = run_module({"paths": ["etc/nginx/x.conf"], "dir": str(tmp_path / "s"), "state": "saved"})
    assert result.get("failed") and "etc/nginx/x.conf" in result["msg"]
