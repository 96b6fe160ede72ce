#!/usr/bin/python
# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Save the files a run may change, and put them back exactly if nginx refuses the result."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nginx_snapshot
short_description: Save files before a change and restore them exactly if the change is refused
version_added: 0.1.0
description:
  - With O(state=saved), records every path of O(paths) as it is now (a regular file with its content,
    mode and owner; a symbolic link with its target; or missing) under O(dir). This is bookkeeping, so
    the task never reports a change.
  - With O(state=restored), puts every recorded path back as it was. It writes back files whose content
    or mode differ, recreates links, and removes paths that did not exist when the snapshot was taken.
  - The role wsproxy.nginx.websocket_proxy uses it around its writes, so that a configuration
    that C(nginx -t) refuses leaves every file byte for byte as it was.
  - Python standard library only; runs on the managed host.
options:
  paths:
    description: Absolute paths to save. Required with O(state=saved).
    type: list
    elements: path
    default: []
  dir:
    description: Where the snapshot is kept (one snapshot at a time; saving replaces the previous one).
    type: path
    default: /var/lib/wsproxy-nginx/snapshot
  state:
    description: V(saved) records the paths, V(restored) puts them back, V(absent) removes the snapshot.
    type: str
    choices: [saved, restored, absent]
    default: saved
attributes:
  check_mode:
    support: full
    description: Checks the paths (and that a snapshot exists to restore) but saves, restores and removes nothing.
  diff_mode:
    support: none
    description: Returns no diff; the files themselves are written by other tasks.
author:
  - wsproxy.nginx contributors (@wsproxy)
"""

EXAMPLES = r"""
- name: Save the files this run may change
  wsproxy.nginx.nginx_snapshot:
    paths:
      - /etc/nginx/conf.d/websocket_proxy_map.conf
      - /etc/nginx/sites-available/api.conf
      - /etc/nginx/sites-enabled/api.conf

- name: Put them back after nginx -t refused the new configuration
  wsproxy.nginx.nginx_snapshot:
    state: restored
"""

RETURN = r"""
entries:
  description: What was recorded (saved) or found in the snapshot (restored), one entry per path.
  returned: always
  type: list
  elements: dict
  sample:
    - {"path": "/etc/nginx/sites-enabled/api.conf", "kind": "link", "target": "/etc/nginx/sites-available/api.conf"}
restored:
  description: The paths that were changed back (written, relinked or removed).
  returned: when state is restored
  type: list
  elements: str
"""

import json
import os
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

MANIFEST = "manifest.json"


def _record(path: str, index: int, snapshot: str) -> dict:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return {"path": path, "kind": "missing"}
    if stat.S_ISLNK(info.st_mode):
        return {"path": path, "kind": "link", "target": os.readlink(path)}
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} is neither a regular file nor a symbolic link")
    copy = os.path.join(snapshot, f"{index}.data")
    shutil.copyfile(path, copy)
    return {"path": path, "kind": "file", "copy": copy, "mode": stat.S_IMODE(info.st_mode),
            "uid": info.st_uid, "gid": info.st_gid}


def save(paths: list[str], snapshot: str) -> list[dict]:
    shutil.rmtree(snapshot, ignore_errors=True)
    os.makedirs(snapshot, mode=0o700)
    entries = [_record(path, index, snapshot) for index, path in enumerate(paths)]
    with open(os.path.join(snapshot, MANIFEST), "w", encoding="utf-8") as handle:
        json.dump(entries, handle)
    return entries


def _same_file(path: str, entry: dict) -> bool:
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


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        raise ValueError(f"{path} is now a directory; not removing it")
    os.unlink(path)


def _restore_entry(entry: dict) -> bool:
    """Put one path back; True when something had to change."""
    path = entry["path"]
    if entry["kind"] == "missing":
        if os.path.lexists(path):
            _remove(path)
            return True
        return False
    if entry["kind"] == "link":
        if os.path.islink(path) and os.readlink(path) == entry["target"]:
            return False
        if os.path.lexists(path):
            _remove(path)
        os.symlink(entry["target"], path)
        return True
    if _same_file(path, entry):
        return False
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".wsproxy-restore-")
    try:
        with os.fdopen(fd, "wb") as out, open(entry["copy"], "rb") as src:
            shutil.copyfileobj(src, out)
        os.chown(tmp, entry["uid"], entry["gid"])
        os.chmod(tmp, entry["mode"])
        if os.path.lexists(path) and (os.path.islink(path) or not os.path.isfile(path)):
            _remove(path)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def restore(snapshot: str) -> tuple[list[dict], list[str]]:
    with open(os.path.join(snapshot, MANIFEST), encoding="utf-8") as handle:
        entries = json.load(handle)
    # Files and links first, removals last: a link may point at a file restored before it.
    ordered = [e for e in entries if e["kind"] != "missing"] + [e for e in entries if e["kind"] == "missing"]
    changed = [entry["path"] for entry in ordered if _restore_entry(entry)]
    return entries, changed


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "path", "default": []},
            "dir": {"type": "path", "default": "/var/lib/wsproxy-nginx/snapshot"},
            "state": {"type": "str", "choices": ["saved", "restored", "absent"], "default": "saved"},
        },
        supports_check_mode=True,
    )
    state, snapshot, paths = module.params["state"], module.params["dir"], module.params["paths"]
    try:
        if state == "saved":
            bad = [p for p in paths if not os.path.isabs(p)]
            if bad:
                module.fail_json(msg=f"paths: {bad!r} are not absolute paths")
            if module.check_mode:
                module.exit_json(changed=False, entries=[])
            module.exit_json(changed=False, entries=save(paths, snapshot))
        if state == "restored":
            if not os.path.exists(os.path.join(snapshot, MANIFEST)):
                module.fail_json(msg=f"dir: no snapshot in {snapshot!r} to restore")
            if module.check_mode:
                module.exit_json(changed=False, entries=[], restored=[])
            entries, changed = restore(snapshot)
            module.exit_json(changed=bool(changed), entries=entries, restored=changed)
        existed = os.path.exists(snapshot)
        if existed and not module.check_mode:
            shutil.rmtree(snapshot)
        module.exit_json(changed=existed, entries=[])
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"nginx_snapshot ({state}): {exc}")


if __name__ == "__main__":
    main()
