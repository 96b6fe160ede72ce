"""Every path under /etc/nginx as one JSON object: a file's sha256, mode and owner, a link's target, a folder's mode.
Run inside the containers (standard library only) by molecule/conftest.py's etc_nginx_state() and by prepare
playbooks (ansible.builtin.script)."""

import hashlib
import json
import os
import stat

state = {}
for root, dirs, files in os.walk("/etc/nginx"):
    for name in dirs + files:
        path = os.path.join(root, name)
        info = os.lstat(path)
        owner = f"{stat.S_IMODE(info.st_mode):04o} {info.st_uid}:{info.st_gid}"
        if stat.S_ISLNK(info.st_mode):
            state[path] = "-> " + os.readlink(path)
        elif stat.S_ISDIR(info.st_mode):
            state[path] = f"directory {owner}"
        else:
            with open(path, "rb") as handle:
                state[path] = f"{hashlib.sha256(handle.read()).hexdigest()} {owner}"
print(json.dumps(state, sort_keys=True))
