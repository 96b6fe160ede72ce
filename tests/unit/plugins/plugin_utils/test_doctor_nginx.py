"""doctor_nginx: nginx -T as the doctor reads it (the error when it failed, the maps and what they give)."""

from __future__ import annotations

from ansible_collections.wsproxy.nginx.plugins.plugin_utils.doctor_nginx import Resolver, read_nginx, server_for
from nginx_helpers import ROLE_MAPS


def nginx_t(conf_d: dict[str, str] | None = None, sites: dict[str, str] | None = None) -> dict:
    """A registered nginx -T result: the main file, then conf.d/*.conf and sites-enabled/* as nginx prints them."""
    main = "events {}\nhttp {\n    include /etc/nginx/conf.d/*.conf;\n    include /etc/nginx/sites-enabled/*;\n}\n"
    files = [("/etc/nginx/nginx.conf", main)]
    files += sorted(
        (f"/etc/nginx/conf.d/{name}", text) for name, text in {"map.conf": ROLE_MAPS, **(conf_d or {})}.items()
    )
    files += sorted((f"/etc/nginx/sites-enabled/{name}", text) for name, text in (sites or {}).items())
    stdout = "".join(f"# configuration file {path}:\n{text}\n" for path, text in files)
    return {"rc": 0, "stdout": stdout, "stderr": ""}


def test_map_evaluation():
    maps = read_nginx(
        nginx_t(
            conf_d={
                "more.conf": (
                    "map $http_upgrade $exact { default no; WebSocket yes; }\n"
                    "map $http_upgrade $first_regex { default no; ~^web first; ~socket second; }\n"
                    "map $exact $chained { default none; yes $http_upgrade; }\n"
                    "map $host $unknowable { default x; }\n"
                    "map $http_upgrade $empty { }\n"
                )
            }
        )
    ).maps
    resolve = Resolver(maps).value
    assert resolve("$exact") == "yes"  # strings match ignoring case
    assert resolve("$first_regex") == "first"  # regexes in order, the first that matches
    assert resolve("$chained") == "websocket"
    assert resolve("$unknowable") is None  # depends on the request's Host
    assert resolve("$empty") == ""
    assert resolve("keep-alive, ${connection_upgrade}") == "keep-alive, upgrade"


def test_only_maps_of_the_http_context_by_variable_in_nginx_order():
    geo = "geo $connection_upgrade { default upgrade; }\n"
    config = read_nginx(nginx_t(conf_d={"zz.conf": "map $http_upgrade $Connection_Upgrade { default x; }\n" + geo}))
    places = [(d.file, d.line) for d in config.maps["connection_upgrade"]]
    # geo defines the variable too, but gives it nothing from $http_upgrade: only maps are evaluated
    line = next(n for n, text in enumerate(ROLE_MAPS.splitlines(), 1) if text.endswith("$connection_upgrade {"))
    assert places == [("/etc/nginx/conf.d/map.conf", line), ("/etc/nginx/conf.d/zz.conf", 1)]
    assert Resolver(config.maps).value("$connection_upgrade") == "x"  # the last one wins


def test_a_failed_nginx_t_gives_its_error_and_the_missing_variable():
    stderr = (
        'nginx: [emerg] unknown "connection_upgrade" variable\n'
        "nginx: configuration file /etc/nginx/nginx.conf test failed\n"
    )
    config = read_nginx({"rc": 1, "stdout": "", "stderr": stderr})
    assert (config.error, config.missing_variable, config.dump) == (
        'unknown "connection_upgrade" variable',
        "connection_upgrade",
        None,
    )
    assert read_nginx({"skipped": True}).error == "nginx -T did not run"
    assert read_nginx("not a dump").error.startswith("cannot read the nginx -T output")


def test_server_for_picks_by_name_then_the_default_server():
    sites = {
        "a.conf": "server { listen 80; server_name a.example.test; }\n",
        "b.conf": "server { listen 80 default_server; server_name *.example.test; }\n",
    }
    config = read_nginx(nginx_t(sites=sites))
    assert server_for(config, "a.example.test", 80)[0].file.endswith("a.conf")
    assert server_for(config, "x.example.test", 80) == (config.servers[1], "name")  # a wildcard matches
    assert server_for(config, "elsewhere.test", 80) == (config.servers[1], "default")
    assert server_for(config, "a.example.test", 8080) == (None, "none")
