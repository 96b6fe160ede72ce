"""nginx_capacity: one intent (WebSockets to hold) into worker limits that respect the open-file limit."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.nginx_capacity import FilterModule
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.capacity import (
    CONNECTIONS_PER_WEBSOCKET,
    MAX_WORKERS,
    RESERVED_FDS,
    nginx_capacity,
)

capacity = FilterModule().filters()["nginx_capacity"]


@pytest.mark.parametrize("target", [1, 768, 4096, 20_000, 50_000, 100_000])
@pytest.mark.parametrize("cpus", [1, 2, 8])
@pytest.mark.parametrize("hard", [1024, 20_000, 1_048_576])
def test_a_fixed_limit_is_never_exceeded_and_the_target_is_held(target, cpus, hard):
    plan = nginx_capacity(target, cpus, hard)
    assert plan["worker_rlimit_nofile"] <= hard
    assert plan["worker_connections"] + RESERVED_FDS <= hard
    assert plan["worker_processes"] >= cpus
    total = plan["worker_processes"] * plan["worker_connections"]
    if not plan["warnings"]:
        assert total >= target * CONNECTIONS_PER_WEBSOCKET
        assert plan["websockets"] >= target
    else:
        assert plan["worker_processes"] == MAX_WORKERS


def test_the_sandbox_case_spreads_over_more_workers():
    # 50,000 WebSockets = 100,000 connections; one worker may hold at most 20,000 descriptors here.
    plan = nginx_capacity(50_000, 2, 20_000)
    assert plan["worker_processes"] == 7
    assert plan["worker_rlimit_nofile"] <= 20_000


def test_a_raisable_limit_keeps_one_worker_per_cpu():
    plan = nginx_capacity(50_000, 2, 1024, raisable=True)
    assert plan["worker_processes"] == 2
    assert plan["limit_nofile"] == plan["worker_rlimit_nofile"] > 50_000


def test_out_of_reach_warns_and_says_how_many_are_held():
    plan = nginx_capacity(1_000_000, 2, 4096)
    assert plan["worker_processes"] == MAX_WORKERS
    assert "websocket_proxy_max_websockets: 1000000 WebSockets need" in plan["warnings"][0]
    assert plan["websockets"] < 1_000_000


@pytest.mark.parametrize("bad", [0, -5, "many", 2.5, True, None])
def test_bad_targets_are_named(bad):
    with pytest.raises(AnsibleFilterError, match=r"websocket_proxy_max_websockets: .* is not a number of WebSockets"):
        capacity(bad, 2, 20_000)
