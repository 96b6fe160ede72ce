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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wsproxy.nginx.plugins.module_utils.file_state import put_back_all, record

MANIFEST = "manifest.json"


def save(paths: list[str], snapshot: str) -> list[dict]:
    shutil.rmtree(snapshot, ignore_errors=True)
    os.makedirs(snapshot, mode=0o700)
    entries = [record(path, os.path.join(snapshot, f"{index}.data")) for index, path in enumerate(paths)]
    with open(os.path.join(snapshot, MANIFEST), "w", encoding="utf-8") as handle:
        json.dump(entries, handle)
    return entries


def restore(snapshot: str) -> tuple[list[dict], list[str]]:
    with open(os.path.join(snapshot, MANIFEST), encoding="utf-8") as handle:
        entries = json.load(handle)
    return entries, put_back_all(entries)


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
