#!/usr/bin/python
# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record, on the host, of every file and link the role wrote, and of what it replaced."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nginx_manifest
short_description: Record the files the role owns on a host, and what it found before it first replaced a file
version_added: 0.1.0
description:
  - Keeps C(<dir>/manifest.json), the list of every file and link the role wrote (O(owned)), and, under
    C(<dir>/originals/), each file of O(originals) as it was before the role first changed it (its content, mode
    and owner; a link's target; or that it did not exist).
  - The role wsproxy.nginx.websocket_proxy reads it to remove what it wrote and no longer declares (a vhost
    dropped or renamed), never a file it did not write; and, with C(websocket_proxy_state=absent), to give the
    host back as it was.
  - Python standard library only; runs on the managed host.
options:
  dir:
    description: Where the manifest and the originals are kept.
    type: path
    default: /var/lib/wsproxy-nginx
  state:
    description:
      - V(read) returns the manifest and changes nothing (also in check mode).
      - V(present) makes the manifest list exactly O(owned), and keeps each path of O(originals) that is not kept yet.
      - V(restored) puts every kept original back (files written back, links made again, paths that did not
        exist removed).
      - V(absent) removes the manifest and the originals.
    type: str
    choices: [read, present, restored, absent]
    default: read
  owned:
    description: With O(state=present), every file and link the role owns now, with what it belongs to.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      name:
        description: What the path belongs to (C(vhost api-calls), C(snippet api), C(websocket_proxy)).
        type: str
        default: websocket_proxy
  originals:
    description: With O(state=present), paths the role replaces or removes; each is kept the first time only.
    type: list
    elements: path
    default: []
attributes:
  check_mode:
    support: full
    description: Reports what would change; writes, restores and removes nothing.
  diff_mode:
    support: none
    description: Returns no diff; the manifest is the role's own bookkeeping.
author:
  - wsproxy.nginx contributors (@wsproxy)
"""

EXAMPLES = r"""
- name: Read what the role wrote on this host
  wsproxy.nginx.nginx_manifest:
  register: manifest

- name: Record what the role owns now, and keep nginx.conf as it was before the role first replaced it
  wsproxy.nginx.nginx_manifest:
    state: present
    owned:
      - {path: /etc/nginx/conf.d/websocket_proxy_map.conf}
      - {path: /etc/nginx/sites-available/api-calls.conf, name: vhost api-calls}
    originals: [/etc/nginx/nginx.conf]
"""

RETURN = r"""
owned:
  description: The files and links the manifest lists (after the change, with O(state=present)).
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/etc/nginx/sites-available/api-calls.conf", "name": "vhost api-calls"}]
originals:
  description: The kept originals, C({path, kind}), kind being V(file), V(link) or V(missing).
  returned: always
  type: list
  elements: dict
restored:
  description: The paths that were put back.
  returned: when state is restored
  type: list
  elements: str
"""

import json
import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wsproxy.nginx.plugins.module_utils.file_state import kind, put_back_all, record

MANIFEST = "manifest.json"
ORIGINALS = "originals"


def _load(directory: str) -> dict:
    try:
        with open(os.path.join(directory, MANIFEST), encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {"owned": [], "originals": []}
    return {"owned": data.get("owned", []), "originals": data.get("originals", [])}


def _store(directory: str, data: dict) -> None:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".manifest.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, os.path.join(directory, MANIFEST))


def _shown(data: dict) -> dict:
    return {"owned": data["owned"],
            "originals": [{"path": entry["path"], "kind": entry["kind"]} for entry in data["originals"]]}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dir": {"type": "path", "default": "/var/lib/wsproxy-nginx"},
            "state": {"type": "str", "choices": ["read", "present", "restored", "absent"], "default": "read"},
            "owned": {
                "type": "list", "elements": "dict", "default": [],
                "options": {"path": {"type": "path", "required": True},
                            "name": {"type": "str", "default": "websocket_proxy"}},
            },
            "originals": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    directory, state = module.params["dir"], module.params["state"]
    try:
        data = _load(directory)
        if state == "read":
            module.exit_json(changed=False, **_shown(data))
        if state == "absent":
            manifest, originals_dir = os.path.join(directory, MANIFEST), os.path.join(directory, ORIGINALS)
            existed = os.path.exists(manifest) or os.path.exists(originals_dir)
            if existed and not module.check_mode:
                if os.path.exists(manifest):
                    os.unlink(manifest)
                shutil.rmtree(originals_dir, ignore_errors=True)
            module.exit_json(changed=existed, owned=[], originals=[])
        if state == "restored":
            restored = [] if module.check_mode else put_back_all(data["originals"])
            module.exit_json(changed=bool(restored), restored=restored, **_shown(data))

        paths = [item["path"] for item in module.params["owned"] + [{"path": p} for p in module.params["originals"]]]
        relative = [path for path in paths if not os.path.isabs(path)]
        if relative:
            module.fail_json(msg=f"nginx_manifest: {relative!r} are not absolute paths")
        owned, seen = [], set()
        for item in module.params["owned"]:
            if item["path"] not in seen:
                seen.add(item["path"])
                owned.append({"path": item["path"], "name": item["name"]})
        kept = {entry["path"] for entry in data["originals"]}
        new_originals = [path for path in dict.fromkeys(module.params["originals"]) if path not in kept]
        changed = owned != data["owned"] or bool(new_originals)
        if changed and not module.check_mode:
            originals_dir = os.path.join(directory, ORIGINALS)
            os.makedirs(originals_dir, mode=0o700, exist_ok=True)
            for path in new_originals:
                copy = os.path.join(originals_dir, f"{len(data['originals'])}.data")
                data["originals"].append(record(path, copy))
            data["owned"] = owned
            _store(directory, data)
        elif changed:  # check mode: what would be kept, without keeping it
            would_keep = [{"path": path, "kind": kind(path)} for path in new_originals]
            data = {"owned": owned, "originals": data["originals"] + would_keep}
        module.exit_json(changed=changed, **_shown(data))
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"nginx_manifest ({state}): {exc}")


if __name__ == "__main__":
    main()
