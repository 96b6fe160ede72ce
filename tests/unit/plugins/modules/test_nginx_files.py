"""nginx_files: writes only what differs, atomically; fixes modes and links; check mode writes nothing.

The module runs for real, as Ansible runs it (a separate Python process reading ANSIBLE_MODULE_ARGS),
against a real directory tree in tmp_path.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.wsproxy.nginx.plugins.modules import nginx_files

MODULE = Path(nginx_files.__file__)
ME = pwd.getpwuid(os.getuid()).pw_name

API = "server {\n    listen 80;\n    server_name api.example.test;\n}\n"
ADMIN = "server {\n    listen 8080;\n    server_name admin.example.test;\n}\n"


def run_module(args: dict, check_mode: bool = False, diff: bool = False) -> dict:
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check_mode, "_ansible_diff": diff}})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, str(MODULE)], input=payload, capture_output=True, text=True, env=env, check=False
    )
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"no JSON from the module: stdout={out.stdout!r} stderr={out.stderr!r}") from exc


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    root = tmp_path / "nginx"
    (root / "sites-available").mkdir(parents=True)
    (root / "sites-enabled").mkdir()
    return root


def site_args(etc: Path, api: str = API, admin: str = ADMIN, mode: object = "0644") -> dict:
    available, enabled = etc / "sites-available", etc / "sites-enabled"
    return {
        "files": [
            {"path": str(available / "api.conf"), "content": api, "mode": mode, "owner": ME},
            {"path": str(available / "admin.conf"), "content": admin, "mode": mode},
        ],
        "links": [
            {"path": str(enabled / "api.conf"), "src": str(available / "api.conf")},
            {"path": str(enabled / "admin.conf"), "src": str(available / "admin.conf")},
        ],
    }


def identity(path: Path) -> tuple[int, int]:
    info = path.lstat()
    return info.st_ino, info.st_mtime_ns


def test_first_run_writes_every_file_and_link(etc):
    result = run_module(site_args(etc))

    assert result["changed"] is True, result
    available, enabled = etc / "sites-available", etc / "sites-enabled"
    assert result["changed_files"] == [
        str(available / "api.conf"),
        str(available / "admin.conf"),
        str(enabled / "api.conf"),
        str(enabled / "admin.conf"),
    ]
    assert (available / "api.conf").read_text() == API
    assert (available / "admin.conf").read_text() == ADMIN
    for name in ("api.conf", "admin.conf"):
        assert (available / name).stat().st_mode & 0o7777 == 0o644
        assert (enabled / name).is_symlink()
        assert os.readlink(enabled / name) == str(available / name)
    assert (available / "api.conf").stat().st_uid == os.getuid()
    assert "diff" not in result


def test_second_run_changes_nothing_and_touches_nothing(etc):
    run_module(site_args(etc))
    paths = [p for d in ("sites-available", "sites-enabled") for p in sorted((etc / d).iterdir())]
    before = {p: identity(p) for p in paths}

    result = run_module(site_args(etc), diff=True)

    assert result["changed"] is False, result
    assert result["changed_files"] == []
    assert result["diff"] == []
    assert {p: identity(p) for p in paths} == before
    assert sorted(p for d in ("sites-available", "sites-enabled") for p in (etc / d).iterdir()) == paths


def test_a_changed_file_is_replaced_atomically_and_only_it(etc):
    run_module(site_args(etc))
    api, admin = etc / "sites-available" / "api.conf", etc / "sites-available" / "admin.conf"
    admin_before = identity(admin)
    api_inode = api.stat().st_ino
    with api.open() as reader:  # a reader that opened the old file (nginx reloading) keeps the whole old file
        new_api = API.replace("listen 80;", "listen 81;")
        result = run_module(site_args(etc, api=new_api))
        assert reader.read() == API

    assert result["changed"] is True
    assert result["changed_files"] == [str(api)]
    assert api.read_text() == new_api
    assert api.stat().st_ino != api_inode, "the file was rewritten in place, not renamed over"
    assert api.stat().st_mode & 0o7777 == 0o644
    assert identity(admin) == admin_before
    assert sorted(p.name for p in api.parent.iterdir()) == ["admin.conf", "api.conf"], "a temporary file was left"


def test_a_wrong_mode_is_fixed_without_rewriting_the_file(etc):
    run_module(site_args(etc))
    api = etc / "sites-available" / "api.conf"
    api.chmod(0o600)
    inode = api.stat().st_ino

    result = run_module(site_args(etc), diff=True)

    assert result["changed_files"] == [str(api)]
    assert api.stat().st_mode & 0o7777 == 0o644
    assert api.stat().st_ino == inode
    assert api.read_text() == API
    assert result["diff"] == [
        {
            "before": {"path": str(api), "mode": "0600", "owner": os.getuid(), "group": os.getgid()},
            "before_header": str(api),
            "after_header": str(api),
            "after": {"path": str(api), "mode": "0644", "owner": os.getuid(), "group": os.getgid()},
        }
    ]


def test_mode_may_be_the_number_yaml_reads_from_0640(etc):
    run_module(site_args(etc, mode=0o640))
    assert (etc / "sites-available" / "api.conf").stat().st_mode & 0o7777 == 0o640
    assert run_module(site_args(etc, mode="0640"))["changed"] is False


def test_check_mode_reports_the_change_and_its_diff_and_writes_nothing(etc):
    run_module(site_args(etc))
    api = etc / "sites-available" / "api.conf"
    (etc / "sites-enabled" / "admin.conf").unlink()
    args = site_args(etc, api=API.replace("listen 80;", "listen 81;"))
    args["files"].append({"path": str(etc / "sites-available" / "new.conf"), "content": "server { }\n"})
    before = {p: identity(p) for d in ("sites-available", "sites-enabled") for p in (etc / d).iterdir()}

    result = run_module(args, check_mode=True, diff=True)

    assert result["changed"] is True
    assert result["changed_files"] == [
        str(api),
        str(etc / "sites-available" / "new.conf"),
        str(etc / "sites-enabled" / "admin.conf"),
    ]
    assert {p: identity(p) for d in ("sites-available", "sites-enabled") for p in (etc / d).iterdir()} == before
    assert api.read_text() == API
    assert not (etc / "sites-available" / "new.conf").exists()
    assert not os.path.lexists(etc / "sites-enabled" / "admin.conf")

    content_diff, new_diff, link_diff = result["diff"]
    assert content_diff == {
        "before": API,
        "after": API.replace("listen 80;", "listen 81;"),
        "before_header": str(api),
        "after_header": str(api),
    }
    assert new_diff["before"] == "" and new_diff["after"] == "server { }\n"
    assert new_diff["before_header"].endswith("(absent)")
    assert link_diff["after"] == {
        "path": str(etc / "sites-enabled" / "admin.conf"),
        "src": str(etc / "sites-available" / "admin.conf"),
    }
    assert link_diff["before"]["src"] is None


def test_a_wrong_link_or_a_file_in_its_place_is_fixed(etc):
    run_module(site_args(etc))
    enabled = etc / "sites-enabled"
    (enabled / "api.conf").unlink()
    (enabled / "api.conf").symlink_to("/elsewhere.conf")
    (enabled / "admin.conf").unlink()
    (enabled / "admin.conf").write_text("a copy, not a link\n")

    result = run_module(site_args(etc))

    assert result["changed_files"] == [str(enabled / "api.conf"), str(enabled / "admin.conf")]
    for name in ("api.conf", "admin.conf"):
        assert os.readlink(enabled / name) == str(etc / "sites-available" / name)
    assert sorted(p.name for p in enabled.iterdir()) == ["admin.conf", "api.conf"]


def test_a_directory_in_the_way_is_refused(etc):
    (etc / "sites-enabled" / "api.conf").mkdir()
    result = run_module(site_args(etc))
    assert result.get("failed"), result
    assert "sites-enabled/api.conf is a directory" in result["msg"]
    # the files before it were written, and the run says so
    assert result["changed"] is True and str(etc / "sites-available" / "api.conf") in result["changed_files"]


def test_relative_paths_and_unknown_owners_are_named(etc):
    result = run_module({"files": [{"path": "etc/nginx/x.conf", "content": ""}]})
    assert result.get("failed") and "etc/nginx/x.conf" in result["msg"]

    result = run_module({"files": [{"path": str(etc / "x.conf"), "content": "", "owner": "no-such-user-wsproxy"}]})
    assert result.get("failed") and "no-such-user-wsproxy" in result["msg"]
    assert not (etc / "x.conf").exists()

    result = run_module({"files": [{"path": str(etc / "x.conf"), "content": "", "mode": "rw-r--r--"}]})
    assert result.get("failed") and "rw-r--r--" in result["msg"]


def named_args(etc: Path) -> dict:
    """site_args with each file and link named after what it belongs to; the last file has no name."""
    args = site_args(etc)
    for entry, name in zip(args["files"] + args["links"], ["api", "admin", "api", "admin"], strict=True):
        entry["name"] = name
    args["files"].append({"path": str(etc / "extra.conf"), "content": "# no name\n"})
    return args


def test_changed_names_are_the_names_of_what_changed_each_once_in_order(etc):
    result = run_module(named_args(etc))
    assert result["changed_names"] == ["api", "admin"]
    assert len(result["changed_files"]) == 5

    args = named_args(etc)
    args["files"][1]["content"] = ADMIN.replace("8080", "8081")
    (etc / "sites-enabled" / "api.conf").unlink()
    result = run_module(args, check_mode=True)
    # the admin file changed, then api's link: names in the order their entries are given (files, then links)
    assert result["changed_names"] == ["admin", "api"]
    assert result["changed_files"] == [
        str(etc / "sites-available" / "admin.conf"),
        str(etc / "sites-enabled" / "api.conf"),
    ]


def test_no_change_no_names_and_unnamed_entries_are_left_out(etc):
    run_module(named_args(etc))
    assert run_module(named_args(etc))["changed_names"] == []
    args = site_args(etc, api=API + "# new\n")
    result = run_module(args)
    assert result["changed_files"] == [str(etc / "sites-available" / "api.conf")]
    assert result["changed_names"] == []


def test_remove_takes_files_and_links_away_and_says_whose_they_were(etc: Path) -> None:
    assert run_module(site_args(etc))["changed"]
    available, enabled = etc / "sites-available", etc / "sites-enabled"
    remove = [
        {"path": str(enabled / "admin.conf"), "name": "vhost admin"},
        {"path": str(available / "admin.conf"), "name": "vhost admin"},
        {"path": str(available / "gone.conf"), "name": "vhost gone"},
    ]
    keep = {"files": site_args(etc)["files"][:1], "links": site_args(etc)["links"][:1]}
    checked = run_module({**keep, "remove": remove}, check_mode=True, diff=True)
    assert checked["changed"] and checked["removed_names"] == ["vhost admin"]
    assert [d["after_header"] for d in checked["diff"]] == [
        f"{enabled / 'admin.conf'} (removed)",
        f"{available / 'admin.conf'} (removed)",
    ]
    assert (available / "admin.conf").exists() and (enabled / "admin.conf").is_symlink()  # check mode: nothing
    done = run_module({**keep, "remove": remove})
    assert done["removed_files"] == [str(enabled / "admin.conf"), str(available / "admin.conf")]
    assert not os.path.lexists(enabled / "admin.conf") and not (available / "admin.conf").exists()
    assert (available / "api.conf").read_text() == API
    again = run_module({**keep, "remove": remove})
    assert not again["changed"] and again["removed_files"] == []


def test_remove_refuses_a_directory_and_a_path_it_also_writes(etc: Path) -> None:
    refused = run_module({"remove": [{"path": str(etc / "sites-enabled")}]})
    assert refused["failed"] and "is a directory; not removing it" in refused["msg"]
    api = site_args(etc)["files"][0]
    both = run_module({"files": [api], "remove": [{"path": api["path"]}]})
    assert both["failed"] and "is both written and removed" in both["msg"]
