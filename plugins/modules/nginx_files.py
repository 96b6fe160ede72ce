#!/usr/bin/python
# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write many files and symbolic links in one task: only those that differ, each file replaced atomically."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nginx_files
short_description: Write many files and symbolic links in one task, only those that differ
version_added: 0.1.0
description:
  - Writes every file of O(files) whose content, mode or owner differ from what is on the host, then makes
    every link of O(links) point where it should. Files and links that are already right are not touched.
  - A file is written to a temporary file in its own directory, given its mode and owner, and renamed over
    the old one, so that a reader (nginx reloading) sees either the old content or the new, never half of it.
    A link is replaced the same way.
  - The role wsproxy.nginx.websocket_proxy renders its vhosts and snippets on the controller and writes them
    all with this module, in one task instead of one task per file.
  - Parent directories must exist. Python standard library only; runs on the managed host.
options:
  files:
    description: The files to write.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The whole content of the file (written as UTF-8).
        type: str
        required: true
      mode:
        description: Permissions, as an octal string (V("0644")) or the number it stands for.
        type: raw
        default: "0644"
      owner:
        description: User that should own the file (a name or a numeric id); left as it is when omitted.
        type: str
      group:
        description: Group that should own the file (a name or a numeric id); left as it is when omitted.
        type: str
      name:
        description: What the file belongs to, as the caller names it (a vhost, a snippet); returned in
          RV(changed_names) when the file changes.
        type: str
  links:
    description: Symbolic links to create or fix. They are handled after the files, so they may point at them.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description:
          - Absolute path of the link. A regular file or a wrong link there is replaced; a directory is refused.
        type: path
        required: true
      src:
        description: What the link points at (written into the link as given).
        type: str
        required: true
      name:
        description: What the link belongs to, as for a file's O(files[].name).
        type: str
  remove:
    description:
      - Files and links to remove, after the files and links above are written (the role's own files that it no
        longer declares, from its manifest). A path that is already gone is fine; a directory is refused.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file or link.
        type: path
        required: true
      name:
        description: What the path belonged to; returned in RV(removed_names) when it is removed.
        type: str
attributes:
  check_mode:
    support: full
    description: Reports which files and links would change, and their diff, without writing anything.
  diff_mode:
    support: full
    description: Returns one diff per changed file or link (content, or mode, owner and link target).
  platform:
    support: full
    platforms: posix
    description: Any POSIX host with Python.
author:
  - wsproxy.nginx contributors (@wsproxy)
"""

EXAMPLES = r"""
- name: Write two vhosts and enable one of them
  wsproxy.nginx.nginx_files:
    files:
      - path: /etc/nginx/sites-available/api.conf
        content: "{{ lookup('ansible.builtin.template', 'vhost.conf.j2', template_vars={'vhost': api}) }}"
        owner: root
        group: root
        mode: "0644"
        name: api
      - path: /etc/nginx/sites-available/admin.conf
        name: admin
        content: |
          server {
              listen 8080;
              return 204;
          }
    links:
      - path: /etc/nginx/sites-enabled/api.conf
        src: /etc/nginx/sites-available/api.conf
        name: api
  register: written
  notify: Reload nginx
"""

RETURN = r"""
changed_files:
  description: The files and links that were written or fixed (that would be, in check mode), in the order given.
  returned: always
  type: list
  elements: str
  sample: ["/etc/nginx/sites-available/api.conf", "/etc/nginx/sites-enabled/api.conf"]
changed_names:
  description: The O(files[].name) and O(links[].name) of the files and links that changed (would change, in check
    mode), each once, in the order first given; entries without a name are left out.
  returned: always
  type: list
  elements: str
  sample: ["api"]
removed_files:
  description: The paths of O(remove) that were removed (that would be, in check mode).
  returned: always
  type: list
  elements: str
removed_names:
  description: The O(remove[].name) of the removed paths, each once, in the order first given.
  returned: always
  type: list
  elements: str
  sample: ["vhost old-api"]
diff:
  description: One entry per changed or removed path, as C(--diff) shows it.
  returned: when diff mode is on
  type: list
  elements: dict
  sample:
    - before: "server { listen 80; }\n"
      after: "server { listen 8080; }\n"
      before_header: /etc/nginx/sites-available/api.conf
      after_header: /etc/nginx/sites-available/api.conf
"""

import grp
import os
import pwd
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule


def _mode(value: object, path: str) -> int:
    """An octal string ("0644") or the number it stands for (YAML's 0644 is 420)."""
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    else:
        try:
            mode = int(str(value), 8)
        except ValueError:
            raise ValueError(f"{path}: mode {value!r} is not an octal number such as '0644'") from None
    if not 0 <= mode <= 0o7777:
        raise ValueError(f"{path}: mode {value!r} is out of range")
    return mode


def _id(name: str | None, lookup, kind: str, path: str) -> int:
    """A user or group name (or numeric id) as a number; -1 (leave it) when not given."""
    if name is None:
        return -1
    if name.isdigit():
        return int(name)
    try:
        return lookup(name)[2]
    except KeyError:
        raise ValueError(f"{path}: {kind} {name!r} does not exist on this host") from None


def _file_change(spec: dict) -> dict | None:
    """What must change for one file: None when it is right, else what is there now and what it should be."""
    path = spec["path"]
    content = spec["content"].encode("utf-8")
    mode = _mode(spec["mode"], path)
    uid = _id(spec["owner"], pwd.getpwnam, "owner", path)
    gid = _id(spec["group"], grp.getgrnam, "group", path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{path} is a directory")
    old = None
    if info is not None and stat.S_ISREG(info.st_mode):
        with open(path, "rb") as handle:
            old = handle.read()
        if (old == content and stat.S_IMODE(info.st_mode) == mode
                and uid in (-1, info.st_uid) and gid in (-1, info.st_gid)):
            return None
    return {"path": path, "content": content, "mode": mode, "uid": uid, "gid": gid, "info": info, "old": old}


def _write(module: AnsibleModule, change: dict) -> None:
    """Write to a temporary file beside the target, set its mode and owner, then rename it over the target.
    When only the mode or owner differ, fix those and leave the content alone."""
    path = change["path"]
    if change["old"] == change["content"]:
        os.chmod(path, change["mode"])
        os.chown(path, change["uid"], change["gid"])
        return
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(change["content"])
        os.chmod(tmp, change["mode"])
        os.chown(tmp, change["uid"], change["gid"])
        try:
            module.atomic_move(tmp, path)
        except Exception as exc:  # ansible-core 2.17+ raises a bare Exception when the rename fails
            raise OSError(f"{path}: {exc}") from exc
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    # atomic_move gives the new file the old one's mode and owner, or, when it creates the file, the
    # umask's mode and the caller's owner: set them again (a no-op when they were already right).
    os.chmod(path, change["mode"])
    os.chown(path, change["uid"], change["gid"])


def _file_diff(change: dict) -> dict:
    info, path = change["info"], change["path"]
    if change["old"] is not None and change["old"] == change["content"]:
        # Only the mode or owner differ: show those.
        return {"before": {"path": path, "mode": f"{stat.S_IMODE(info.st_mode):04o}",
                           "owner": info.st_uid, "group": info.st_gid},
                "after": {"path": path, "mode": f"{change['mode']:04o}",
                          "owner": info.st_uid if change["uid"] == -1 else change["uid"],
                          "group": info.st_gid if change["gid"] == -1 else change["gid"]},
                "before_header": path, "after_header": path}
    before = "" if change["old"] is None else change["old"].decode("utf-8", errors="replace")
    return {"before": before, "after": change["content"].decode("utf-8"),
            "before_header": path if info is not None else f"{path} (absent)", "after_header": path}


def _link_change(spec: dict) -> dict | None:
    path, src = spec["path"], spec["src"]
    if os.path.islink(path):
        old = os.readlink(path)
        if old == src:
            return None
    elif os.path.isdir(path):
        raise ValueError(f"{path} is a directory, not a link")
    else:
        old = "(a regular file)" if os.path.lexists(path) else None
    return {"path": path, "src": src, "old": old}


def _link(change: dict) -> None:
    """Make a new link beside the old path, then rename it over the old one."""
    path = change["path"]
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.link")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(change["src"], tmp)
    try:
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _removal(spec: dict, written: set) -> dict | None:
    """What removing one path means: None when it is already gone, else its diff (content or link target)."""
    path = spec["path"]
    if path in written:
        raise ValueError(f"{path} is both written and removed")
    if not os.path.lexists(path):
        return None
    if os.path.islink(path):
        before = {"path": path, "src": os.readlink(path)}
    elif os.path.isdir(path):
        raise ValueError(f"{path} is a directory; not removing it")
    else:
        with open(path, "rb") as handle:
            before = handle.read().decode("utf-8", errors="replace")
    after = {"path": path, "src": None} if isinstance(before, dict) else ""
    return {"path": path, "diff": {"before": before, "after": after, "before_header": path,
                                   "after_header": f"{path} (removed)"}}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {
                "type": "list", "elements": "dict", "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "content": {"type": "str", "required": True},
                    "mode": {"type": "raw", "default": "0644"},
                    "owner": {"type": "str"},
                    "group": {"type": "str"},
                    "name": {"type": "str"},
                },
            },
            "links": {
                "type": "list", "elements": "dict", "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "src": {"type": "str", "required": True},
                    "name": {"type": "str"},
                },
            },
            "remove": {
                "type": "list", "elements": "dict", "default": [],
                "options": {"path": {"type": "path", "required": True}, "name": {"type": "str"}},
            },
        },
        supports_check_mode=True,
    )
    files, links, removals = module.params["files"], module.params["links"], module.params["remove"]
    relative = [item["path"] for item in files + links + removals if not os.path.isabs(item["path"])]
    if relative:
        module.fail_json(msg=f"nginx_files: {relative!r} are not absolute paths")

    changed_files: list[str] = []
    changed_names: list[str] = []
    removed_files: list[str] = []
    removed_names: list[str] = []
    diffs: list[dict] = []

    def changed(spec: dict, path: str) -> None:
        changed_files.append(path)
        if spec.get("name") is not None and spec["name"] not in changed_names:
            changed_names.append(spec["name"])

    try:
        for spec in files:
            change = _file_change(spec)
            if change is None:
                continue
            if not module.check_mode:
                _write(module, change)
            changed(spec, change["path"])
            diffs.append(_file_diff(change))
        for spec in links:
            change = _link_change(spec)
            if change is None:
                continue
            if not module.check_mode:
                _link(change)
            changed(spec, change["path"])
            diffs.append({"before": {"path": change["path"], "src": change["old"]},
                          "after": {"path": change["path"], "src": change["src"]},
                          "before_header": change["path"], "after_header": change["path"]})
        written = {item["path"] for item in files + links}
        for spec in removals:
            change = _removal(spec, written)
            if change is None:
                continue
            if not module.check_mode:
                os.unlink(change["path"])
            removed_files.append(change["path"])
            if spec.get("name") is not None and spec["name"] not in removed_names:
                removed_names.append(spec["name"])
            diffs.append(change["diff"])
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"nginx_files: {exc}", changed=bool(changed_files or removed_files),
                         changed_files=changed_files, changed_names=changed_names, removed_files=removed_files,
                         removed_names=removed_names)

    result = {"changed": bool(changed_files or removed_files), "changed_files": changed_files,
              "changed_names": changed_names, "removed_files": removed_files, "removed_names": removed_names}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
