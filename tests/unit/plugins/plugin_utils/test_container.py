"""Container mode: websocket_proxy_container checked and completed (container_mode), host paths as nginx names them
in the container (container_paths), what docker inspect says of the container (container_facts), and the backend
names nginx must resolve there (backend_hosts)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.backend_hosts import FilterModule as HostsFilters
from ansible_collections.wsproxy.nginx.plugins.filter.container_addresses import FilterModule as AddressesFilters
from ansible_collections.wsproxy.nginx.plugins.filter.container_facts import FilterModule as FactsFilters
from ansible_collections.wsproxy.nginx.plugins.filter.container_mode import FilterModule as ModeFilters
from ansible_collections.wsproxy.nginx.plugins.filter.container_paths import FilterModule as PathsFilters
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.container import (
    backend_hosts,
    container_addresses,
    container_facts,
    container_mode,
    container_paths,
)
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts

DEFAULTS = {
    "read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s", "upstream_keepalive": 32,
    "resolver": ["127.0.0.11"], "resolver_valid": "10s", "client_max_body_size": "1m", "limit_conn": 0,
    "handshake_rate": 0, "handshake_burst": 10, "hsts_max_age": 0, "frame_size": "",
}  # fmt: skip
CONF_D_MOUNT = {"name": "calls-nginx", "config_dir": "/srv/calls/conf.d"}


# ------------------------------------------------------------------------------------------------ container_mode


@pytest.mark.parametrize("empty", [None, "", {}])
def test_no_container_is_host_mode(empty):
    assert container_mode(empty) == {}


def test_conf_d_mount_adds_files_to_conf_d_and_leaves_nginx_conf_to_the_image():
    mode = container_mode(CONF_D_MOUNT)
    assert mode["mount"] == "/etc/nginx/conf.d"
    assert mode["exec"] == ["docker", "exec", "calls-nginx"]
    assert mode["conf_d"] == "/srv/calls/conf.d"
    assert mode["nginx_conf"] == ""  # the image's: the role does not own it
    # Snippets in a folder of their own: conf.d/*.conf must not include location blocks in the http context.
    assert mode["snippet_dir"] == "/srv/calls/conf.d/snippets"
    assert mode["snippet_include"] == "conf.d/snippets"
    assert mode["state_dir"] == "/var/lib/wsproxy-nginx/containers/calls-nginx"
    assert mode["resolver"] == ["127.0.0.11"]


def test_etc_nginx_mount_lets_the_role_own_nginx_conf():
    mode = container_mode({"name": "calls-nginx", "config_dir": "/srv/calls/nginx", "mount": "/etc/nginx"})
    assert mode["conf_d"] == "/srv/calls/nginx/conf.d"
    assert mode["nginx_conf"] == "/srv/calls/nginx/nginx.conf"
    assert mode["snippet_dir"] == "/srv/calls/nginx/snippets"
    assert mode["http_includes"] == ["/etc/nginx/conf.d/*.conf"]


@pytest.mark.parametrize(("value", "field", "shown"), [
    ("calls-nginx", "websocket_proxy_container", "'calls-nginx' is not a dict"),
    ({"config_dir": "/srv/calls/conf.d"}, "websocket_proxy_container.name", "None"),
    ({**CONF_D_MOUNT, "name": "-nginx"}, "websocket_proxy_container.name", "'-nginx'"),
    ({**CONF_D_MOUNT, "name": "nginx; rm -rf /"}, "websocket_proxy_container.name", "'nginx; rm -rf /'"),
    ({"name": "calls-nginx"}, "websocket_proxy_container.config_dir", "None"),
    ({**CONF_D_MOUNT, "config_dir": "conf.d"}, "websocket_proxy_container.config_dir", "'conf.d'"),
    ({**CONF_D_MOUNT, "config_dir": "/srv/calls/"}, "websocket_proxy_container.config_dir", "'/srv/calls/'"),
    ({**CONF_D_MOUNT, "config_dir": "/srv/../etc"}, "websocket_proxy_container.config_dir", "'/srv/../etc'"),
    ({**CONF_D_MOUNT, "config_dir": "/"}, "websocket_proxy_container.config_dir", "'/'"),
    ({**CONF_D_MOUNT, "config_dir": "/srv/a b"}, "websocket_proxy_container.config_dir", "'/srv/a b'"),
    ({**CONF_D_MOUNT, "mount": "/etc/nginx/sites-enabled"}, "websocket_proxy_container.mount", "sites-enabled"),
    ({**CONF_D_MOUNT, "network": "calls"}, "websocket_proxy_container", "network"),
])  # fmt: skip
def test_bad_values_are_named(value, field, shown):
    with pytest.raises(ConfigError) as caught:
        container_mode(value)
    assert caught.value.message.startswith(f"{field}:"), caught.value.message
    assert shown in caught.value.message


def test_the_filter_turns_errors_into_filter_errors():
    with pytest.raises(AnsibleFilterError, match=r"websocket_proxy_container\.name"):
        ModeFilters().filters()["container_mode"]({"name": "", "config_dir": "/srv"})


# ------------------------------------------------------------------------------------------------ container_paths


def test_host_paths_under_config_dir_are_named_as_in_the_container():
    mode = container_mode(CONF_D_MOUNT)
    paths = ["/srv/calls/conf.d/websocket_proxy_map.conf", "/srv/calls/conf.d.old/x.conf",
             "/var/lib/wsproxy-nginx/containers/calls-nginx/manifest.json"]
    assert container_paths(paths, mode) == [
        "/etc/nginx/conf.d/websocket_proxy_map.conf",
        "/srv/calls/conf.d.old/x.conf",  # a sibling folder with the same prefix is not config_dir
        "/var/lib/wsproxy-nginx/containers/calls-nginx/manifest.json",
    ]
    etc = container_mode({"name": "n", "config_dir": "/srv/nginx", "mount": "/etc/nginx"})
    assert PathsFilters().filters()["container_paths"](["/srv/nginx/nginx.conf"], etc) == ["/etc/nginx/nginx.conf"]


def test_host_mode_paths_are_unchanged():
    assert container_paths(["/etc/nginx/conf.d/a.conf"], {}) == ["/etc/nginx/conf.d/a.conf"]


# ------------------------------------------------------------------------------------------------ container_facts


def inspect(running: bool = True, **host_config: Any) -> str:
    return json.dumps([{
        "State": {"Running": running, "Status": "running" if running else "exited"},
        "HostConfig": {"NanoCpus": 0, "CpuQuota": 0, "CpuPeriod": 0, **host_config},
        "Mounts": [{"Type": "bind", "Source": "/srv/calls/conf.d", "Destination": "/etc/nginx/conf.d"},
                   {"Type": "bind", "Source": "/srv/calls/tls", "Destination": "/etc/nginx/tls"}],
        "NetworkSettings": {"Networks": {"calls_default": {}, "calls_front": {}}},
    }])  # fmt: skip


def test_facts_of_a_running_container():
    facts = container_facts(inspect(), "8\n16000\n", container_mode(CONF_D_MOUNT))
    assert facts["running"] is True
    assert facts["mounted"] == "/srv/calls/conf.d"
    assert facts["networks"] == ["calls_default", "calls_front"]
    assert (facts["cpus"], facts["nofile"]) == (8, 16000)
    assert "ulimits: {nofile:" in facts["hint"] and "cpus:" in facts["hint"]


@pytest.mark.parametrize(("host_config", "cpus"), [
    ({"NanoCpus": 1_500_000_000}, 2),  # Compose cpus: 1.5 -> 2 workers' worth
    ({"CpuQuota": 100_000, "CpuPeriod": 100_000}, 1),  # docker run --cpu-quota
    ({"NanoCpus": 16_000_000_000}, 8),  # a quota above the CPUs it sees changes nothing
])  # fmt: skip
def test_a_cpu_quota_bounds_the_cpus(host_config, cpus):
    assert container_facts(inspect(**host_config), "8\n1024\n", container_mode(CONF_D_MOUNT))["cpus"] == cpus


def test_unlimited_open_files_count_as_a_large_limit():
    assert container_facts(inspect(), "2\nunlimited\n", container_mode(CONF_D_MOUNT))["nofile"] == 1048576


def test_a_stopped_container_and_an_unreadable_probe_are_reported_as_such():
    facts = container_facts(inspect(running=False), "", container_mode(CONF_D_MOUNT))
    assert (facts["running"], facts["status"], facts["cpus"], facts["nofile"]) == (False, "exited", None, None)


def test_a_missing_container_is_named():
    with pytest.raises(AnsibleFilterError, match=r"websocket_proxy_container\.name: no container 'calls-nginx'"):
        FactsFilters().filters()["container_facts"]("[]", "", container_mode(CONF_D_MOUNT))


def test_a_container_that_mounts_another_folder_is_seen():
    other = container_mode({"name": "calls-nginx", "config_dir": "/srv/other"})
    assert container_facts(inspect(), "2\n1024\n", other)["mounted"] == "/srv/calls/conf.d"


# ------------------------------------------------------------------------------------------------ backend_hosts


def test_every_backend_name_once_with_where_it_is_named_and_no_addresses():
    vhosts = websocket_vhosts([
        {"server_name": "a.example.com", "locations": [
            {"path": "/api/", "backend": "v25-dash-calls-backend:5006"},  # resolver: a variable
            {"path": "/b/", "backend": ["calls-1:5006", "10.0.0.7:5006", "[::1]:5006"]},  # an upstream
            {"path": "/c/", "backend": "unix:/run/calls.sock"},
            {"path": "/d/", "backend": "https://v25-dash-calls-backend:5006"},
        ]},
    ], DEFAULTS)  # fmt: skip
    static = websocket_vhosts(
        [{"server_name": "s.example.com", "locations": [{"backend": "http://static-backend:80"}]}],
        {**DEFAULTS, "resolver": [], "upstream_keepalive": 0},
    )
    assert HostsFilters().filters()["backend_hosts"](vhosts + static) == [
        {"host": "v25-dash-calls-backend", "source": "websocket_proxy_vhosts[0].locations[0]"},
        {"host": "calls-1", "source": "websocket_proxy_vhosts[0].locations[1]"},
        {"host": "static-backend", "source": "websocket_proxy_vhosts[0].locations[0]"},
    ]
    assert backend_hosts([]) == []


# ------------------------------------------------------------------------------------------------ container_addresses

ROLE_VARS = Path(__file__).resolve().parents[4] / "roles" / "websocket_proxy" / "vars" / "main.yml"


def resolve_script() -> str:
    """The sh script of the role's resolve command (__websocket_proxy_resolve_in_container), as the role runs it."""
    text = ROLE_VARS.read_text()
    block = text[text.index("__websocket_proxy_resolve_in_container:") :]
    return re.search(r"\['sh', '-c', '([^']+)', 'sh'\]", block)[1]


def test_the_roles_resolve_command_read_by_container_addresses():
    """The script run for real (sh and getent, as inside a Debian-based nginx image): a name that resolves, one
    that does not, in the order asked."""
    names = ["localhost", "no-such-backend.invalid"]
    out = subprocess.run(["sh", "-c", resolve_script(), "sh", *names], capture_output=True, text=True, check=True)
    addresses = AddressesFilters().filters()["container_addresses"](out.stdout, names)
    assert list(addresses) == names
    assert addresses["localhost"] in ("127.0.0.1", "::1"), out.stdout
    assert addresses["no-such-backend.invalid"] is None, out.stdout


def test_container_addresses_reads_each_line_and_leaves_none_for_the_rest():
    out = "calls 172.18.0.3\ngone -\n"
    assert container_addresses(out, ["calls", "gone", "unasked"]) == {"calls": "172.18.0.3", "gone": None,
                                                                      "unasked": None}
    assert container_addresses("", []) == {}
    with pytest.raises(AnsibleFilterError, match="hosts must be a list of names"):
        AddressesFilters().filters()["container_addresses"](out, "calls")
