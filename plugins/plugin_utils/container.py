# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container mode: nginx runs in a container (the official image's layout) beside its backends on a Docker network,
and the role runs against the Docker host.

The role writes its files into the host folder the container mounts (at ``/etc/nginx/conf.d``, or at ``/etc/nginx``
when the user lets the role own ``nginx.conf`` too), and runs ``nginx -t``, ``nginx -T`` and the graceful reload
inside the running container (``docker exec``). Paths the role writes are Docker host paths; nginx names the same
files by their path inside the container, so :func:`container_paths` maps one to the other. What the role cannot
change (the container's CPUs, its open-file limit, the networks it is on) it reads: :func:`container_facts`.
"""

from __future__ import annotations

import ipaddress
import json
import math
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError

NAME = "websocket_proxy_container"
#: Where the official image's nginx reads its configuration, and which of those folders the host folder may be.
CONF_D = "/etc/nginx/conf.d"
ETC_NGINX = "/etc/nginx"
MOUNTS = (CONF_D, ETC_NGINX)
KEYS = ("name", "config_dir", "mount")
#: The role's state (its manifest, the originals it replaced) for each container, on the Docker host.
STATE_ROOT = "/var/lib/wsproxy-nginx/containers"
#: Docker's own rule for container names.
CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}")
#: A folder path the role writes into: absolute, plain characters only.
FOLDER = re.compile(r"/[A-Za-z0-9._+@/-]*")
#: Docker's embedded DNS server, which every container on a user-defined network asks.
DOCKER_DNS = "127.0.0.11"
#: The Compose settings that raise what the container gives nginx, named in the run summary.
COMPOSE_HINT = (
    "raise them in the Compose file: ulimits: {nofile: {soft: N, hard: N}} for the open-file limit, "
    "cpus: (or cpuset:) for the CPUs"
)


def container_mode(value: object, name: str = NAME) -> dict[str, Any]:
    """The container-mode settings checked and completed, or ``{}`` when ``value`` is empty (nginx on the host).

    ``value`` is ``{name: <container>, config_dir: <host folder>, mount: /etc/nginx/conf.d | /etc/nginx}``.
    The result has what the role's layout (vars/container.yml) reads: the host paths of ``conf.d``, the snippets
    folder and ``nginx.conf`` (empty when only conf.d is mounted: then nginx.conf is the image's, not the role's),
    the state folder on the Docker host, and ``exec``, the command prefix that runs a command in the container.
    """
    if value in (None, "", {}):
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{name}: {value!r} is not a dict; expected {{name: <nginx container>, config_dir: <host folder>, "
            f"mount: {CONF_D} or {ETC_NGINX}}}"
        )
    unknown = sorted(str(key) for key in value if key not in KEYS)
    if unknown:
        raise ConfigError(f"{name}: unknown key(s) {', '.join(unknown)}; accepted: {', '.join(KEYS)}")
    container = value.get("name")
    if not isinstance(container, str) or not CONTAINER_NAME.fullmatch(container):
        raise ConfigError(
            f"{name}.name: {container!r} is not a Docker container name (letters, digits, '_', '.', '-', "
            "starting with a letter or digit)"
        )
    folder = value.get("config_dir")
    if (
        not isinstance(folder, str)
        or not FOLDER.fullmatch(folder)
        or posixpath.normpath(folder) != folder
        or folder == "/"
    ):
        raise ConfigError(
            f"{name}.config_dir: {folder!r} is not the absolute path of a folder on the Docker host "
            "(normalised, no trailing '/', letters, digits and . _ + @ - only), e.g. /srv/calls/nginx/conf.d"
        )
    mount = value.get("mount", CONF_D)
    if mount not in MOUNTS:
        raise ConfigError(
            f"{name}.mount: {mount!r} is not where the container mounts config_dir; accepted: {CONF_D} (the "
            f"role adds its files to conf.d) or {ETC_NGINX} (the role may own nginx.conf too)"
        )
    conf_d = folder if mount == CONF_D else f"{folder}/conf.d"
    return {
        "name": container,
        "config_dir": folder,
        "mount": mount,
        "exec": ["docker", "exec", container],
        "conf_d": conf_d,
        # Under conf.d, in a folder of its own: conf.d/*.conf (the http context) does not include it.
        "snippet_dir": f"{conf_d}/snippets" if mount == CONF_D else f"{folder}/snippets",
        "snippet_include": "conf.d/snippets" if mount == CONF_D else "snippets",
        "nginx_conf": "" if mount == CONF_D else f"{folder}/nginx.conf",
        "http_includes": [f"{CONF_D}/*.conf"],
        "state_dir": f"{STATE_ROOT}/{container}",
        "resolver": [DOCKER_DNS],
    }


def container_paths(paths: Sequence[object], container: Mapping[str, Any]) -> list[str]:
    """Docker host paths as nginx names them inside the container: those under ``config_dir`` move to ``mount``,
    the others (the role's state folder) are not nginx's and stay as they are. Without a container, unchanged."""
    result = []
    for path in paths:
        text = str(path)
        if container:
            folder, mount = container["config_dir"], container["mount"]
            if text == folder or text.startswith(folder + "/"):
                text = mount + text[len(folder) :]
        result.append(text)
    return result


def _positive(text: str) -> int | None:
    text = text.strip()
    if text == "unlimited":
        return 1048576
    return int(text) if text.isdigit() and int(text) > 0 else None


def container_facts(inspect: object, probe: object, container: Mapping[str, Any], name: str = NAME) -> dict[str, Any]:
    """What the role reads of the nginx container and cannot change: from ``docker inspect`` (its stdout) and the
    stdout of ``sh -c 'nproc; ulimit -Hn'`` run inside it.

    Returns ``running``, ``pid`` (of its main process, on the Docker host), ``mounted`` (the host folder the
    container mounts at ``mount``), ``networks`` (the names of the networks it is on), ``cpus`` (what ``nproc``
    sees, bounded by a CPU quota: Compose's ``cpus:``), ``nofile`` (the open-file hard limit nginx's master starts with:
    Compose's ``ulimits: nofile``) and ``hint``, which Compose settings raise them.
    """
    container_name = container.get("name", "?")
    try:
        described = json.loads(str(inspect)) if inspect else []
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{name}.name: docker inspect {container_name} printed no JSON: {str(inspect)[:200]!r}"
        ) from exc
    if not isinstance(described, list) or not described or not isinstance(described[0], Mapping):
        raise ConfigError(
            f"{name}.name: no container {container_name!r} on the Docker host (docker inspect found none); start "
            "it first (docker-compose up -d): the role configures a running nginx container, it never creates one"
        )
    info = described[0]
    state = info.get("State") or {}
    host_config = info.get("HostConfig") or {}
    networks = sorted((info.get("NetworkSettings") or {}).get("Networks") or {})
    lines = str(probe or "").split()
    cpus = _positive(lines[0]) if len(lines) > 0 else None
    nofile = _positive(lines[1]) if len(lines) > 1 else None
    quota = host_config.get("NanoCpus") or 0
    if not quota and (host_config.get("CpuQuota") or 0) > 0 and (host_config.get("CpuPeriod") or 0) > 0:
        quota = host_config["CpuQuota"] * 1_000_000_000 // host_config["CpuPeriod"]
    if cpus is not None and quota:
        cpus = max(1, min(cpus, math.ceil(quota / 1_000_000_000)))
    mounts = [mount for mount in info.get("Mounts") or [] if isinstance(mount, Mapping)]
    mounted = [str(mount.get("Source", "")) for mount in mounts if mount.get("Destination") == container.get("mount")]
    return {
        "running": bool(state.get("Running")),
        # The process ID of the container's main process (nginx's master) on the Docker host; 0 when not running.
        "pid": int(state.get("Pid") or 0),
        # The host folder the container mounts where config_dir should be ('' when it mounts nothing there).
        "mounted": mounted[0] if mounted else "",
        "status": str(state.get("Status", "unknown")),
        "networks": networks,
        "cpus": cpus,
        "nofile": nofile,
        "hint": COMPOSE_HINT,
    }


_SCHEME = re.compile(r"^(?:https?://)?(?P<hostport>[^/]+)")
_PORT = re.compile(r"^(?P<host>.*?)(?::\d+)?$")


def _host(address: str) -> str | None:
    """The DNS name in a backend address (``http://calls:5006/x``, ``calls:5006``); None for an IP address, a
    UNIX socket or a variable."""
    if address.startswith(("unix:", "$")) or "$" in address:
        return None
    match = _SCHEME.match(address)
    if not match:
        return None
    hostport = match["hostport"]
    if hostport.startswith("["):  # [IPv6]:port
        return None
    host = _PORT.match(hostport)["host"]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host or None
    return None


def backend_hosts(
    vhosts: Sequence[Mapping[str, Any]], snippets: Sequence[Mapping[str, Any]] = ()
) -> list[dict[str, str]]:
    """Every backend DNS name the role's vhosts and snippets proxy to, once, with the first variable path that
    names it (``[{'host': 'v25-dash-calls-backend', 'source': 'websocket_proxy_vhosts[0].locations[0]'}]``).
    IP addresses and UNIX sockets need no resolution and are left out. Reads the normalised vhosts and snippets:
    a location's ``proxy_pass_variable`` (a backend looked up again by the resolver), its literal ``proxy_pass``,
    and the servers of the upstream blocks."""
    seen: dict[str, str] = {}
    for item in list(vhosts) + list(snippets):
        upstreams = {upstream["name"]: upstream for upstream in item.get("upstreams") or []}
        for location in item.get("locations") or []:
            addresses: list[str] = []
            upstream = upstreams.get(location.get("upstream") or "")
            if upstream:
                addresses = [server["address"] for server in upstream.get("servers") or []]
            elif location.get("proxy_pass_variable"):
                addresses = [location["proxy_pass_variable"]]
            elif location.get("proxy_pass"):
                addresses = [location["proxy_pass"]]
            for address in addresses:
                host = _host(str(address))
                if host and host not in seen:
                    seen[host] = str(location.get("source", item.get("source", "")))
    return [{"host": host, "source": source} for host, source in seen.items()]


def container_addresses(stdout: object, hosts: Sequence[object]) -> dict[str, str | None]:
    """The address of each host name inside the nginx container: ``{name: address}``, None for a name the
    container cannot resolve (or that the output leaves out). ``stdout`` is what the role's resolve command
    (``__websocket_proxy_resolve_in_container``, ``getent hosts`` run inside the container) prints: one line per
    name, the name and its first address there, or ``-``."""
    found: dict[str, str | None] = {}
    for line in str(stdout or "").splitlines():
        name, _sep, address = line.strip().partition(" ")
        address = address.strip()
        if name:
            found[name] = None if address in ("", "-") else address
    return {str(host): found.get(str(host)) for host in hosts}
