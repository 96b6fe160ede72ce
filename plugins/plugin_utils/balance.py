# Copyright: wsproxy.nginx contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a location spreads its requests over several backends (replicas): the balancing method and the servers.

A location's ``balance`` picks nginx's method, written first in the ``upstream {}`` block (nginx warns "load
balancing method redefined" and ignores ``keepalive`` before it otherwise)::

    round_robin   (default) no directive: weighted round robin
    least_conn    least_conn;                        the server with the fewest open connections (WebSockets)
    ip_hash       ip_hash;                           sticky by client address (IPv4: its first three octets)
    hash          hash <hash_key> consistent;        sticky by one variable, ketama (consistent) hashing

Sticky methods are what Socket.IO, SignalR and other stacks that start with HTTP long-polling need: every request
of a session must reach the replica that holds it. ``hash_key`` is one variable of an allowlist (client address,
request URI, a cookie, a query argument, a request header); nginx would accept any text, but a key that mixes
variables or is constant sends every client to one replica.

Each backend of a list is the plain string of :mod:`proxy_target`, or a mapping with ``address`` and nginx's
upstream ``server`` parameters: ``weight``, ``max_fails``, ``fail_timeout``, ``backup``. Combinations nginx
refuses are refused here, with the reason: ``backup`` with ``ip_hash`` or ``hash`` (nginx: balancing method does
not support parameter "backup"), and a list of backup servers only (nginx: no servers in upstream).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.checks import boolean, check_keys, int_between, mapping
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.duration import nginx_duration
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.proxy_target import ProxyTarget, parse_proxy_target

BALANCE_KEYS = ("balance", "hash_key")
METHODS = ("round_robin", "least_conn", "ip_hash", "hash")
DEFAULT_METHOD = "round_robin"
#: Methods that send every request of one client (or key) to the same server.
STICKY = ("ip_hash", "hash")

HASH_KEY_EXACT = ("$remote_addr", "$binary_remote_addr", "$request_uri")
HASH_KEY_PREFIXES = ("$cookie_", "$arg_", "$http_")
_HASH_KEY_NAME_RE = re.compile(r"[A-Za-z0-9_]+")
HASH_KEY_ACCEPTED = (
    "one of $remote_addr, $binary_remote_addr, $request_uri, or $cookie_<name>, $arg_<name>, $http_<name> "
    "(name of letters, digits and '_'; a header as $http_x_session for X-Session)"
)

SERVER_KEYS = ("address", "weight", "max_fails", "fail_timeout", "backup")
WEIGHT_MAX = 10_000
WEIGHT_ACCEPTED = f"an integer 1-{WEIGHT_MAX}, this server's share of the requests against the others' weights"
MAX_FAILS_MAX = 10_000
MAX_FAILS_ACCEPTED = (
    f"an integer 0-{MAX_FAILS_MAX}, failed attempts within fail_timeout before nginx skips the server for "
    f"fail_timeout; 0 never skips it"
)


@dataclass(frozen=True)
class Server:
    """One backend of a list: where it is, and its ``server`` parameters (None: nginx's default)."""

    target: ProxyTarget
    weight: int | None = None
    max_fails: int | None = None
    fail_timeout: str | None = None
    backup: bool = False

    @property
    def parameters(self) -> str:
        """What follows the address on the ``server`` line: 'weight=3 max_fails=2 fail_timeout=5s backup'."""
        values = (("weight", self.weight), ("max_fails", self.max_fails), ("fail_timeout", self.fail_timeout))
        parts = [f"{key}={value}" for key, value in values if value is not None]
        return " ".join(parts + (["backup"] if self.backup else []))

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.target.address,
            "weight": self.weight,
            "max_fails": self.max_fails,
            "fail_timeout": self.fail_timeout,
            "backup": self.backup,
            "parameters": self.parameters,
        }


def websocket_servers(servers: list[Server]) -> list[Server]:
    """The servers of a WebSocket location's list, with ``max_fails=0`` where the user set neither ``max_fails``
    nor ``fail_timeout``.

    nginx marks a server live again only when a connection it was given after its ``fail_timeout`` ends, and an
    upgraded connection (a WebSocket) ends when its client leaves. So after a replica (or every replica, at a
    deploy) was refused once, nginx gives it one new WebSocket per ``fail_timeout`` until one of those closes:
    measured with 12 replicas restarted under 300 WebSockets, 24 were back after 21 s, and the rest got 502
    (bench/, the reconnect storm). With ``max_fails=0`` a dead replica is never marked: a handshake it refuses goes
    to the next one at once (``proxy_next_upstream error``), and a replica that is back takes its share at once.
    A single server is never marked anyway, and plain locations keep nginx's default (their requests end soon).
    """
    if len(servers) < 2:
        return servers
    return [replace(s, max_fails=0) if s.max_fails is None and s.fail_timeout is None else s for s in servers]


def parse_server(value: object, where: str, allow_uri: bool) -> Server:
    """A backend string, or a mapping with ``address`` and the server parameters."""
    if not isinstance(value, Mapping):
        return Server(parse_proxy_target(value, where, allow_uri))
    item = mapping(value, where, "a backend")
    check_keys(item, SERVER_KEYS, where)
    if "address" not in item:
        raise ConfigError(f"{where}.address: missing (the backend, e.g. 'calls-1:5006')")
    target = parse_proxy_target(item["address"], f"{where}.address", allow_uri)
    weight = item.get("weight")
    if weight is not None:
        weight = int_between(weight, f"{where}.weight", WEIGHT_MAX, WEIGHT_ACCEPTED)
        if weight == 0:
            raise ConfigError(f"{where}.weight: 0 is not {WEIGHT_ACCEPTED} (nginx refuses weight=0)")
    max_fails = item.get("max_fails")
    if max_fails is not None:
        max_fails = int_between(max_fails, f"{where}.max_fails", MAX_FAILS_MAX, MAX_FAILS_ACCEPTED)
    fail_timeout = item.get("fail_timeout")
    if fail_timeout is not None:
        fail_timeout = nginx_duration(fail_timeout, f"{where}.fail_timeout", allow_zero=True)
    backup = boolean(item.get("backup", False), f"{where}.backup")
    return Server(target, weight, max_fails, fail_timeout, backup)


def parse_balance(location: Mapping[str, Any], where: str) -> tuple[str, str | None]:
    """The location's ``balance`` and ``hash_key``: (method, key), the key only for ``hash``."""
    method = location.get("balance", DEFAULT_METHOD)
    if method is None:
        method = DEFAULT_METHOD
    if method not in METHODS:
        raise ConfigError(f"{where}.balance: {method!r} is not one of {', '.join(METHODS)}")
    key = location.get("hash_key")
    if method != "hash":
        if key not in (None, ""):
            raise ConfigError(
                f"{where}.hash_key: {key!r} is set, but {where}.balance is {method!r}; hash_key is the key of "
                f"balance: hash. Set balance: hash, or remove hash_key"
            )
        return method, None
    if key in (None, ""):
        raise ConfigError(
            f"{where}.hash_key: missing; balance: hash needs the variable to hash on ({HASH_KEY_ACCEPTED}), "
            f"e.g. '$remote_addr' for one replica per client address"
        )
    if not isinstance(key, str) or not (
        key in HASH_KEY_EXACT
        or any(
            key.startswith(prefix) and _HASH_KEY_NAME_RE.fullmatch(key[len(prefix) :]) for prefix in HASH_KEY_PREFIXES
        )
    ):
        raise ConfigError(f"{where}.hash_key: {key!r} is not {HASH_KEY_ACCEPTED}")
    return method, key


def check_servers(method: str, servers: Sequence[Server], where: str) -> None:
    """Refuse what nginx would refuse about these servers under this method, naming the server and the reason."""
    for index, server in enumerate(servers):
        if server.backup and method in STICKY:
            raise ConfigError(
                f"{where}[{index}].backup: true, but the location's balance is {method!r}; {method} picks the "
                f"server from the client's key, so it has no backup servers (nginx: balancing method does not "
                f'support parameter "backup"). Remove backup, or use balance: round_robin or least_conn'
            )
    if servers and all(server.backup for server in servers):
        shown = [server.target.address for server in servers]
        raise ConfigError(
            f"{where}: {shown!r} are all backup servers; nginx needs at least one that is not (no servers in "
            f"upstream). Set backup: false on the primary one"
        )


def balance_directive(method: str, key: str | None) -> str | None:
    """The upstream block's first directive for the method, or None for round robin."""
    if method == "hash":
        return f"hash {key} consistent"
    if method == DEFAULT_METHOD:
        return None
    return method
