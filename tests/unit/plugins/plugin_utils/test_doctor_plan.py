"""doctor_plan: which URI each WebSocket location is probed at, and the two probes (direct, through nginx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.wsproxy.nginx.plugins.filter.doctor_plan import FilterModule
from ansible_collections.wsproxy.nginx.plugins.plugin_utils._doctor import OPTION_DEFAULTS
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_plan import doctor_plan, host_for
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.errors import ConfigError
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.vhosts import websocket_vhosts

plan_filter = FilterModule().filters()["doctor_plan"]
ROLE = Path(__file__).resolve().parents[4] / "roles" / "websocket_doctor"
DEFAULTS = {"read_timeout": "24h", "send_timeout": "24h", "connect_timeout": "60s"}
TLS = {"certificate": "/etc/ssl/wsproxy/server.pem", "certificate_key": "/etc/ssl/wsproxy/server.key"}


def plan(vhosts: list[dict[str, Any]], options: dict[str, Any] | None = None, **defaults: Any) -> dict[str, Any]:
    return doctor_plan(websocket_vhosts(vhosts, {**DEFAULTS, **defaults}), options)


def probes(result: dict[str, Any], hop: str) -> list[dict[str, Any]]:
    """The module arguments of the probes of one hop, with the probe's backend (direct probes) for the tests."""
    return [{**probe["args"], "backend": probe.get("backend")} for probe in result["probes"] if probe["hop"] == hop]


def test_the_seeds_case_over_ws_and_wss():
    result = plan(
        [
            {
                "name": "api-calls",
                "server_name": "api.example.test",
                "listen": 80,
                "locations": [{"path": "/api/", "backend": "calls-backend:5006"}],
            },
            {
                "name": "api-calls-tls",
                "server_name": "api.example.test",
                "tls": TLS,
                "locations": [{"path": "/api/", "backend": "http://calls-backend:5006"}],
            },
        ],
        {"ca_file": "/etc/ssl/wsproxy/ca.pem"},
    )
    assert [entry["label"] for entry in result["locations"]] == ["api-calls:80 /api/", "api-calls-tls:443 /api/"]
    assert [entry["uri"] for entry in result["locations"]] == ["/api/frontend-audio"] * 2
    direct, nginx = probes(result, "direct"), probes(result, "nginx")
    assert [p["url"] for p in direct] == ["ws://calls-backend:5006/api/frontend-audio"] * 2
    assert all(p["host_header"] == "api.example.test" and p["validate_certs"] for p in direct)
    assert [p["url"] for p in nginx] == [
        "ws://127.0.0.1:80/api/frontend-audio",
        "wss://127.0.0.1:443/api/frontend-audio",
    ]
    assert nginx[1]["server_name"] == "api.example.test" and nginx[1]["ca_file"] == "/etc/ssl/wsproxy/ca.pem"
    assert all(p["args"]["payload_size"] == 640 and p["args"]["timeout"] == 5 for p in result["probes"])
    # the playbook loops over the probes in this order: each location's direct probes, then through nginx
    assert [(p["location"], p["hop"]) for p in result["probes"]] == [
        (0, "direct"),
        (0, "nginx"),
        (1, "direct"),
        (1, "nginx"),
    ]


def test_endpoints_layout_probes_the_regex_location_only():
    result = plan(
        [
            {
                "server_name": "events.example.test",
                "listen": 80,
                "locations": [
                    {
                        "path": "/api/",
                        "backend": "calls-backend:5006",
                        "websocket_endpoints": ["call-events", "frontend-audio"],
                    },
                ],
            }
        ]
    )
    assert len(result["locations"]) == 1
    entry = result["locations"][0]
    assert entry["modifier"] == "~" and entry["uri"] == "/api/call-events"
    assert entry["label"].startswith("events.example.test:80 ~ ^/api/")


def test_uri_part_replaces_the_prefix_on_the_direct_probe():
    result = plan(
        [
            {
                "server_name": "a.example.test",
                "locations": [
                    {"path": "/ws/", "backend": "http://127.0.0.1:7000/base/"},
                ],
            }
        ]
    )
    assert probes(result, "direct")[0]["url"] == "ws://127.0.0.1:7000/base/frontend-audio"
    assert probes(result, "nginx")[0]["url"] == "ws://127.0.0.1:80/ws/frontend-audio"


def test_every_server_of_an_upstream_is_probed():
    result = plan(
        [
            {
                "server_name": "a.example.test",
                "locations": [
                    {"path": "/api/", "backend": ["calls-1:5006", "calls-2:5006"]},
                ],
            }
        ],
        upstream_keepalive=32,
    )
    assert result["locations"][0]["backends"] == ["calls-1:5006", "calls-2:5006"]
    assert [p["url"] for p in probes(result, "direct")] == [
        "ws://calls-1:5006/api/frontend-audio",
        "ws://calls-2:5006/api/frontend-audio",
    ]
    assert [p["backend"] for p in probes(result, "direct")] == ["calls-1:5006", "calls-2:5006"]


def test_resolved_at_run_time_unix_socket_and_https_backends():
    result = plan(
        [
            {
                "server_name": "a.example.test",
                "locations": [
                    {"path": "/dns/", "backend": "calls-backend:5006"},
                    {"path": "/sock/", "backend": "unix:/run/app.sock"},
                    {"path": "/tls/", "backend": "https://10.0.0.5:8443"},
                ],
            }
        ],
        resolver=["127.0.0.11"],
    )
    dns, sock, tls = probes(result, "direct")
    assert result["locations"][0]["proxy_pass"] == "$wsproxy_backend"
    assert dns["url"] == "ws://calls-backend:5006/dns/frontend-audio"
    assert (sock["url"], sock["unix_socket"]) == ("ws://localhost/sock/frontend-audio", "/run/app.sock")
    # nginx does not check a backend's certificate by default, so neither does the direct probe
    assert (tls["url"], tls["validate_certs"]) == ("wss://10.0.0.5:8443/tls/frontend-audio", False)


def test_plain_locations_are_not_probed_and_options_choose_the_uri():
    vhosts = [
        {
            "server_name": "a.example.test",
            "locations": [
                {"path": "/api/", "backend": "b:1"},
                {"path": "/static/", "backend": "b:1", "websocket": False},
            ],
        }
    ]
    assert [e["path"] for e in plan(vhosts)["locations"]] == ["/api/"]
    assert plan(vhosts, {"endpoint": ""})["locations"][0]["uri"] == "/api/"
    assert plan(vhosts, {"probe_uris": {"/api/": "/api/call-events?x=1"}})["locations"][0]["uri"] == (
        "/api/call-events?x=1"
    )
    # -e doctor_probe_uris='{"/api/": ...}' and -e doctor_timeout=2 arrive as strings
    assert plan(vhosts, {"probe_uris": '{"/api/": "/api/x"}'})["locations"][0]["uri"] == "/api/x"
    assert plan(vhosts, {"timeout": "2.5", "payload_size": "0"})["probes"][0]["args"]["timeout"] == 2.5
    assert plan(vhosts, {"payload_size": 0})["probes"][0]["args"]["payload_size"] is None  # a text frame


def test_origin_from_the_locations_allowlist_unless_given():
    vhosts = [
        {
            "server_name": "a.example.test",
            "locations": [
                {
                    "path": "/api/",
                    "backend": "b:1",
                    "allowed_origins": ["https://*.example.test", "https://app.example.test"],
                    "allow_missing_origin": False,
                },
                {"path": "/open/", "backend": "b:1"},
            ],
        }
    ]
    result = plan(vhosts)
    assert [entry["origin"] for entry in result["locations"]] == ["https://doctor.example.test", None]
    assert [p["args"]["origin"] for p in result["probes"]] == ["https://doctor.example.test"] * 2 + [None] * 2
    given = plan(vhosts, {"origin": "https://app.example.test"})
    assert {p["args"]["origin"] for p in given["probes"]} == {"https://app.example.test"}


def test_host_header_from_wildcards_and_catch_all():
    assert host_for(["*.example.test"]) == "doctor.example.test"
    assert host_for([".example.test"]) == "example.test"
    assert host_for(["example.*"]) == "example.test"
    assert host_for(["_"]) == "localhost"
    assert host_for(["*.example.test", "api.example.test"]) == "api.example.test"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"nope": 1}, "unknown keys ['nope']"),
        ({"endpoint": "a b"}, "doctor_endpoint: 'a b'"),
        ({"probe_uris": {"/api/": "x"}}, "doctor_probe_uris['/api/']: 'x'"),
        ({"timeout": 0}, "doctor_timeout: 0"),
        ({"timeout": "soon"}, "doctor_timeout: 'soon'"),
        ({"validate_certs": "yes"}, "doctor_validate_certs: 'yes'"),
        ({"payload_size": -1}, "doctor_payload_size: -1"),
        ({"min_read_timeout": "1 hour"}, "doctor_min_read_timeout: '1 hour'"),
    ],
)
def test_options_are_checked(options, message):
    vhosts = websocket_vhosts([{"server_name": "a.example.test", "locations": [{"backend": "b:1"}]}], DEFAULTS)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]").replace("?", r"\?")):
        doctor_plan(vhosts, options)
    with pytest.raises(AnsibleFilterError):
        plan_filter(vhosts, options)


def test_raw_vhosts_are_refused():
    with pytest.raises(AnsibleFilterError, match="not a normalised vhost"):
        plan_filter([{"server_name": "a", "locations": []}])


def test_the_roles_defaults_agree_with_its_argument_spec_and_the_filters_defaults():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(spec)
    assert all(spec[key].get("default") == value for key, value in defaults.items()), (defaults, spec)
    options = {key.removeprefix("websocket_doctor_"): value for key, value in defaults.items()}
    assert sorted(set(options) - set(OPTION_DEFAULTS)) == ["fail", "report_dir"]  # the role's own
    # ca_file and origin are empty in the role (the role passes them as None, unset): every other value is the filter's
    assert {key: options[key] for key in OPTION_DEFAULTS} == {**OPTION_DEFAULTS, "ca_file": "", "origin": ""}
