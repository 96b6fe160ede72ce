"""--check --diff: shows the change nginx would get, changes nothing, reloads nothing."""

from __future__ import annotations

from conftest import ansible_playbook, host_named, nginx_pids

PROXY = "wsproxy-default-bookworm"
VHOST = "/etc/nginx/sites-available/api-calls.conf"


def test_check_mode_shows_the_diff_and_changes_nothing():
    host = host_named(PROXY)
    before_conf = host.file(VHOST).sha256sum
    before_pids = nginx_pids(host)

    run = ansible_playbook("site.yml", "--check", "--diff", "-l", PROXY,
                           "-e", '{"websocket_proxy_read_timeout": "2h"}')

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "-        proxy_read_timeout 1d;" in run.stdout, run.stdout[-3000:]
    assert "+        proxy_read_timeout 2h;" in run.stdout, run.stdout[-3000:]
    assert host.file(VHOST).sha256sum == before_conf
    assert nginx_pids(host) == before_pids, "check mode reloaded nginx"
