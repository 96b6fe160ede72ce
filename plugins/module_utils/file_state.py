# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A path's state kept on disk and put back exactly: a regular file (content, mode, owner), a symbolic link
(its target) or nothing. Used by the nginx_snapshot module (a run's transaction) and the nginx_manifest
module (what the role found before it first changed a file). Python standard library only (3.9+)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile


def kind(path: str) -> str:
    """'missing', 'link' or 'file': what ``path`` is now (anything else is refused)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    if stat.S_ISLNK(info.st_mode):
        return "link"
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} is neither a regular file nor a symbolic link")
    return "file"


def record(path: str, copy: str) -> dict:
    """What ``path`` is now; a regular file's bytes are copied to ``copy``."""
    found = kind(path)
    if found == "missing":
        return {"path": path, "kind": "missing"}
    if found == "link":
        return {"path": path, "kind": "link", "target": os.readlink(path)}
    info = os.lstat(path)
    shutil.copyfile(path, copy)
    return {"path": path, "kind": "file", "copy": copy, "mode": stat.S_IMODE(info.st_mode),
            "uid": info.st_uid, "gid": info.st_gid}


def same_file(path: str, entry: dict) -> bool:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) != entry["mode"]:
        return False
    if (info.st_uid, info.st_gid) != (entry["uid"], entry["gid"]):
        return False
    with open(path, "rb") as now, open(entry["copy"], "rb") as then:
        return now.read() == then.read()


def remove(path: str) -> None:
    """Remove a file or a link; never a directory."""
    if os.path.isdir(path) and not os.path.islink(path):
        raise ValueError(f"{path} is now a directory; not removing it")
    os.unlink(path)


def put_back(entry: dict) -> bool:
    """Make ``entry['path']`` what the entry recorded; True when something had to change."""
    path = entry["path"]
    if entry["kind"] == "missing":
        if os.path.lexists(path):
            remove(path)
            return True
        return False
    if entry["kind"] == "link":
        if os.path.islink(path) and os.readlink(path) == entry["target"]:
            return False
        if os.path.lexists(path):
            remove(path)
        os.symlink(entry["target"], path)
        return True
    if same_file(path, entry):
        return False
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".wsproxy-restore-")
    try:
        with os.fdopen(fd, "wb") as out, open(entry["copy"], "rb") as src:
            shutil.copyfileobj(src, out)
        os.chown(tmp, entry["uid"], entry["gid"])
        os.chmod(tmp, entry["mode"])
        if os.path.lexists(path) and (os.path.islink(path) or not os.path.isfile(path)):
            remove(path)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def put_back_all(entries: list) -> list:
    """Every entry put back: files and links first, removals last (a link may point at a file put back before
    it). The paths that changed."""
    ordered = [e for e in entries if e["kind"] != "missing"] + [e for e in entries if e["kind"] == "missing"]
    return [entry["path"] for entry in ordered if put_back(entry)]
