"""Container mode: nginx in a Compose project beside the seed's backend, configured from the Docker host.

The platform is the Docker host (the docker CLI and docker-compose on this machine's engine); prepare.yml laid out
the README's Compose project in /tmp/wsproxy-container/project (the same path on this machine) and ran
docker-compose up; converge ran the README's playbook (examples/container/playbook.yml) with
websocket_proxy_container. Each test says which proof of issue 17 it is.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from typing import Any

import pytest
from conftest import (
    INVENTORY,
    PROJECT,
    ansible_playbook,
    docker,
    failure_messages,
    host_named,
    play_recap,
    uncoloured,
    wait_for,
)

sys.path.insert(0, str(PROJECT / "collections"))
from ansible_collections.wsproxy.nginx.plugins.plugin_utils.capacity import nginx_capacity

DOCKER_HOST = "wsproxy-container-dockerhost"
NGINX = "wsproxy-container-nginx"
SERVICE = "v25-dash-calls-backend"
NETWORK = "wsproxy-container_default"
PROJECT_DIR = "/tmp/wsproxy-container/project"
CONF_D = f"{PROJECT_DIR}/conf.d"
SERVER_NAME = "api-calls.example.com"
CONVERGE = str(PROJECT / "molecule" / "container" / "converge.yml")
WSCLIENT = str(PROJECT / "tests" / "support" / "wsclient.py")
NOFILE = 4096  # prepare.yml's .env (NGINX_NOFILE), read by the README's docker-compose.yml
THE_VHOSTS = [
    {"name": "api-calls", "server_name": SERVER_NAME, "listen": 80,
     "locations": [{"path": "/api/", "backend": f"{SERVICE}:5006"}]},
    {"name": "api-calls-tls", "server_name": SERVER_NAME,
     "tls": {"certificate": "/etc/nginx/tls/api-calls.pem", "certificate_key": "/etc/nginx/tls/api-calls.key"},
     "locations": [{"path": "/api/", "backend": f"{SERVICE}:5006"}]},
]


@pytest.fixture(scope="module")
def dockerhost() -> Any:
    return host_named(DOCKER_HOST)


def compose(dockerhost: Any, *args: str) -> str:
    """docker-compose in the project folder, on the Docker host platform (as a user would run it there)."""
    result = dockerhost.run(f"cd {PROJECT_DIR} && docker-compose {' '.join(shlex.quote(a) for a in args)}")
    assert result.rc == 0, f"docker-compose {args}: {result.stderr}"
    return result.stdout


def client_in_network(*args: str) -> dict[str, Any]:
    """tests/support/wsclient.py in a throw-away container on the Compose network (the project's copy of it)."""
    run = docker(
        "run", "--rm", "--name", "wsproxy-container-client", "--network", NETWORK,
        "--volume", f"{PROJECT_DIR}/backend:/opt/wsproxy:ro",
        "--volume", f"{PROJECT_DIR}/backend/codec:/opt/wsproxy-codec:ro",
        "--volume", f"{PROJECT_DIR}/tls:/tls:ro",
        "wsproxy-test:bookworm", "python3", "/opt/wsproxy/wsclient.py", *args, check=False,
    )
    return json.loads(run.stdout or "{}")


def client_on_host(*args: str) -> dict[str, Any]:
    """wsclient.py on this machine, the engine's host, through the ports the Compose file publishes."""
    run = subprocess.run([sys.executable, WSCLIENT, *args], capture_output=True, text=True, timeout=60, check=False)
    return json.loads(run.stdout or "{}")


def handshake(url: str, *extra: str, on_host: bool = True) -> dict[str, Any]:
    args = [url, "--host-header", SERVER_NAME, "--text", "hello", "--binary", "640", "--timeout", "5", *extra]
    if url.startswith("wss"):
        args += ["--cafile", f"{PROJECT_DIR}/tls/api-calls.pem" if on_host else "/tls/api-calls.pem"]
    return client_on_host(*args) if on_host else client_in_network(*args)


def echoed(result: dict[str, Any]) -> bool:
    return result.get("status") == 101 and result.get("text_echo") is True and result.get("binary_echo") is True


def nginx_processes(container: str = NGINX) -> dict[str, Any]:
    """The nginx container's master PID (its PID 1), its worker PIDs (a reload replaces them), and when Docker
    started the container and how often it restarted it (a restart or a recreation changes those)."""
    children = "for s in /proc/[0-9]*/status; do grep -qs '^PPid:[[:space:]]*1$' $s && echo ${s%/status}; done; true"
    workers = docker("exec", container, "sh", "-c", children).stdout.split()
    master = docker("exec", container, "cat", "/var/run/nginx.pid").stdout.strip()
    state = json.loads(docker("inspect", container).stdout)[0]
    return {"master": master, "workers": sorted(workers), "id": state["Id"], "started": state["State"]["StartedAt"],
            "restarts": state["RestartCount"]}


def conf_d_state(dockerhost: Any) -> str:
    """Every file of the mounted folder with its sha256, as the Docker host sees it."""
    result = dockerhost.run(f"cd {CONF_D} && find . -type f -exec sha256sum {{}} + | sort -k2")
    assert result.rc == 0, result.stderr
    return result.stdout


def converge(*args: str) -> subprocess.CompletedProcess[str]:
    return ansible_playbook(CONVERGE, *args)


# --------------------------------------------------------------------------------------------- the layout


def test_compose_runs_nginx_without_python_beside_the_seeds_backend(dockerhost):
    """docker-compose up brought up nginx (the official image's layout, no Python) and v25-dash-calls-backend."""
    services = compose(dockerhost, "ps", "--services").split()
    assert sorted(services) == ["nginx", SERVICE]
    assert docker("exec", NGINX, "sh", "-c", "command -v python3", check=False).returncode != 0, "python3 in nginx"
    assert docker("exec", NGINX, "test", "-e", "/etc/nginx/sites-enabled", check=False).returncode != 0
    # The role's files are in the mounted folder, and nginx loads them from conf.d.
    files = dockerhost.run(f"ls {CONF_D}").stdout.split()
    assert sorted(files) == ["vhost-api-calls-tls.conf", "vhost-api-calls.conf", "websocket_proxy_map.conf"]
    dump = docker("exec", NGINX, "nginx", "-T").stdout
    for name in files:
        assert f"# configuration file /etc/nginx/conf.d/{name}:" in dump
    # Docker's embedded DNS by default, so a recreated backend is looked up again.
    assert "resolver 127.0.0.11 valid=10s;" in dump


# --------------------------------------------------------------------------------------------- 1. handshakes


@pytest.mark.parametrize("url", ["ws://wsproxy-container-nginx/api/frontend-audio",
                                 "wss://wsproxy-container-nginx/api/frontend-audio"])
def test_handshake_from_a_client_container_on_the_network(url):
    result = handshake(url, on_host=False)
    assert echoed(result), result
    assert result["headers"].get("server") == "nginx", result


@pytest.mark.parametrize("url", ["ws://127.0.0.1:28080/api/call-events", "wss://127.0.0.1:28443/api/audio-stream"])
def test_handshake_from_the_docker_host_through_the_published_ports(url):
    result = handshake(url)
    assert echoed(result), result
    assert result["headers"].get("server") == "nginx", result


# --------------------------------------------------------------------------------------------- 2. recreation


SEED = "wsproxy-container-seed"
SEED_DIR = f"{PROJECT_DIR}/seed"
# The control: the seed's own way, a literal proxy_pass that nginx resolves once, when it loads its configuration,
# in an nginx of its own on the same network. Not in the role's nginx: there, nginx would make it an implicit
# upstream named v25-dash-calls-backend:5006, and the role's proxy_pass through a variable, whose value names the
# same host and port, would use that upstream (its address fixed at load) instead of the resolver.
SEED_SERVER = f"""server {{
    listen 80;
    location /api/ {{
        proxy_pass http://{SERVICE}:5006;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_connect_timeout 3s;
    }}
}}
"""


def test_recreated_backend_is_reached_without_a_reload(dockerhost):
    def backend() -> tuple[str, str]:
        container = compose(dockerhost, "ps", "--quiet", SERVICE).strip()
        info = json.loads(docker("inspect", container).stdout)[0]
        return info["NetworkSettings"]["Networks"][NETWORK]["IPAddress"], info["Config"]["Hostname"]

    def seed_way() -> dict[str, Any]:
        return client_in_network(f"ws://{SEED}/api/frontend-audio", "--text", "hello", "--timeout", "5")

    dockerhost.run(f"mkdir -p {SEED_DIR} && printf %s {shlex.quote(SEED_SERVER)} > {SEED_DIR}/seed.conf")
    docker("run", "--detach", "--name", SEED, "--network", NETWORK, "--volume", f"{SEED_DIR}:/etc/nginx/conf.d:ro",
           "wsproxy-nginx:bookworm")
    try:
        old_ip, old_hostname = backend()
        first = handshake("ws://127.0.0.1:28080/api/frontend-audio")
        assert echoed(first) and first["headers"]["x-backend"] == f"{old_hostname}:5006", first
        assert wait_for(lambda: seed_way().get("status") == 101, 20, "the control nginx to answer")
        before = nginx_processes()

        compose(dockerhost, "rm", "--stop", "--force", SERVICE)
        # A placeholder takes the freed address, so the new backend cannot come back at the old one.
        docker("run", "--detach", "--name", "wsproxy-container-placeholder", "--network", NETWORK,
               "wsproxy-test:bookworm", "sleep", "infinity")
        compose(dockerhost, "up", "--detach", SERVICE)
        new_ip, new_hostname = backend()
        assert new_ip != old_ip, f"the recreated backend got its old address back ({old_ip})"
        # The new backend listens before the clock starts: what is timed is nginx finding it, not Python starting.
        listening = "import socket; socket.create_connection(('127.0.0.1', 5006), 1).close()"
        wait_for(lambda: dockerhost.run(f"cd {PROJECT_DIR} && docker-compose exec -T {SERVICE} python3 -c "
                                        f"{shlex.quote(listening)}").rc == 0, 60, "the new backend to listen")
        deadline = time.monotonic() + 25  # resolver_valid (10 s), and a busy machine's slack
        attempts = []
        while time.monotonic() < deadline:
            result = handshake("ws://127.0.0.1:28080/api/frontend-audio")
            attempts.append(result.get("status") or result.get("error"))
            if echoed(result) and result["headers"]["x-backend"] == f"{new_hostname}:5006":
                break
            time.sleep(0.5)
        else:
            errors = docker("exec", NGINX, "tail", "-n", "5", "/var/log/nginx/error.log", check=False).stdout
            raise AssertionError(f"no handshake reached the new backend at {new_ip} within 25 s: {attempts}; "
                                 f"nginx's error log ends with: {errors}")
        assert nginx_processes() == before, "nginx was reloaded or restarted to find the new backend"
        # The control still sends its handshakes to the old address, where nothing listens now.
        control = seed_way()
        assert control.get("status") != 101, control
    finally:
        docker("rm", "--force", "wsproxy-container-placeholder", SEED, check=False)
        dockerhost.run(f"rm -rf {SEED_DIR}")


# --------------------------------------------------------------------------------------------- 3. refusals


@pytest.mark.usefixtures("json_results")
def test_configuration_nginx_refuses_is_rolled_back_byte_for_byte(dockerhost):
    before_files, before_nginx = conf_d_state(dockerhost), nginx_processes()
    broken = {"name": "broken", "server_name": "broken.example.com", "listen": 8443,
              # A file that is there but is no certificate: preflight passes, nginx -t refuses.
              "tls": {"certificate": "/etc/nginx/mime.types", "certificate_key": "/etc/nginx/mime.types"},
              "locations": [{"path": "/api/", "backend": f"{SERVICE}:5006"}]}
    run = converge("-e", json.dumps({"websocket_proxy_vhosts": [*THE_VHOSTS, broken]}))
    assert run.returncode != 0
    message = " ".join(failure_messages(run).get(DOCKER_HOST, []))
    assert "refused and rolled back" in message and "cannot load certificate" in message, message
    assert conf_d_state(dockerhost) == before_files
    assert nginx_processes() == before_nginx
    assert echoed(handshake("wss://127.0.0.1:28443/api/frontend-audio"))


@pytest.mark.usefixtures("json_results")
def test_backend_name_the_container_cannot_resolve_is_refused_naming_its_networks(dockerhost):
    before_files, before_nginx = conf_d_state(dockerhost), nginx_processes()
    moved = [dict(THE_VHOSTS[0], locations=[{"path": "/api/", "backend": "calls-backend-elsewhere:5006"}])]
    run = converge("-e", json.dumps({"websocket_proxy_vhosts": moved}))
    assert run.returncode != 0
    message = " ".join(failure_messages(run).get(DOCKER_HOST, []))
    assert "websocket_proxy_vhosts[0].locations[0].backend" in message, message
    assert '"calls-backend-elsewhere" does not resolve inside the container' in message, message
    assert NETWORK in message, message
    assert conf_d_state(dockerhost) == before_files
    assert nginx_processes() == before_nginx


@pytest.mark.usefixtures("json_results")
def test_hand_written_file_in_the_mounted_folder_that_clashes_is_named(dockerhost):
    hand = f"{CONF_D}/hand.conf"
    dockerhost.run(f"printf 'map $http_upgrade $connection_upgrade {{ default upgrade; }}\\n' > {hand}")
    try:
        docker("exec", NGINX, "nginx", "-s", "reload")  # nginx loads it, as a user's reload would
        time.sleep(1)
        before_files, before_nginx = conf_d_state(dockerhost), nginx_processes()
        run = converge()
        assert run.returncode != 0
        message = " ".join(failure_messages(run).get(DOCKER_HOST, []))
        assert "/etc/nginx/conf.d/hand.conf:1" in message and "$connection_upgrade" in message, message
        assert conf_d_state(dockerhost) == before_files
        assert nginx_processes() == before_nginx
    finally:
        dockerhost.run(f"rm -f {hand}")
        docker("exec", NGINX, "nginx", "-s", "reload")


# --------------------------------------------------------------------------------------------- 4. idempotence


def test_second_converge_changes_nothing_and_keeps_the_nginx_master(dockerhost):
    time.sleep(2)  # old workers of the previous test's reload are gone
    before_files, before_nginx = conf_d_state(dockerhost), nginx_processes()
    run = converge()
    assert run.returncode == 0, run.stdout[-3000:]
    assert play_recap(run.stdout)[DOCKER_HOST]["changed"] == 0, run.stdout[-3000:]
    assert conf_d_state(dockerhost) == before_files
    # Not reloaded (same workers), not restarted (same master, same container start).
    assert nginx_processes() == before_nginx
    # The summary: the container's limits bound the plan, and the Compose setting that raises them.
    output = " ".join(uncoloured(run.stdout).split())
    cpus = int(docker("exec", NGINX, "nproc").stdout.strip())
    assert f"{cpus} CPUs and an open-file hard limit of {NOFILE} bound the plan" in output, output[-3000:]
    assert "ulimits: {nofile:" in output
    # The plan is made from the container's limit: at 4096 open files, 4096 WebSockets need a third worker, which
    # a plan from the Docker host's limit would not have. nginx.conf is the image's, so it is reported, not applied.
    plan = nginx_capacity(4096, cpus, NOFILE)
    assert plan != nginx_capacity(4096, cpus, 1048576)
    assert (f"planned (not applied: the role does not own nginx.conf) for {plan['websockets']} WebSockets: "
            f"{plan['worker_processes']} workers x {plan['worker_connections']} connections") in output, output[-3000:]
    assert "nginx: unchanged, not reloaded" in output


def test_check_mode_shows_a_change_and_changes_nothing(dockerhost):
    before_files, before_nginx = conf_d_state(dockerhost), nginx_processes()
    changed = [dict(THE_VHOSTS[0], locations=[{"path": "/api/", "backend": f"{SERVICE}:5006"},
                                              {"path": "/events/", "backend": f"{SERVICE}:5006"}]), THE_VHOSTS[1]]
    run = converge("--check", "--diff", "-e", json.dumps({"websocket_proxy_vhosts": changed}))
    assert run.returncode == 0, run.stdout[-3000:]
    assert play_recap(run.stdout)[DOCKER_HOST]["changed"] > 0
    assert "+    location /events/ {" in uncoloured(run.stdout)
    assert conf_d_state(dockerhost) == before_files
    assert nginx_processes() == before_nginx


# --------------------------------------------------------------------------------------------- 5. the doctor

DOCTOR = str(PROJECT / "examples" / "container" / "doctor.yml")
BACKEND_DIRECT = f"{SERVICE}:5006"


def doctor(tmp_path: Any, *extra: str) -> dict[str, Any]:
    """The README's doctor.yml against the Docker host; its report, written on this machine (report_dir)."""
    run = ansible_playbook(
        DOCTOR, "-e", f"websocket_doctor_ca_file={PROJECT_DIR}/tls/api-calls.pem",
        "-e", f"websocket_doctor_report_dir={tmp_path}", *extra,
    )
    report = json.loads((tmp_path / f"{DOCKER_HOST}.json").read_text())
    report["_run"] = run
    print(report["table"], *report["details"], sep="\n")
    return report


def address_in_nginx(name: str) -> str:
    """The address ``name`` resolves to inside the nginx container (what the doctor passes as resolve)."""
    return docker("exec", NGINX, "getent", "hosts", name).stdout.split()[0]


def probe_on_dockerhost(url: str, **options: Any) -> dict[str, Any]:
    """websocket_probe run ad hoc on the Docker host; its result (failed or not)."""
    args = json.dumps({"url": url, "host_header": SERVER_NAME, "timeout": 5, **options})
    run = subprocess.run(
        ["ansible", "-i", INVENTORY, DOCKER_HOST, "-m", "wsproxy.nginx.websocket_probe", "-a", args, "-o"],
        cwd=PROJECT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert "=>" in run.stdout, run.stdout + run.stderr
    return json.loads(run.stdout.split("=>", 1)[1])


def test_doctor_probes_nginx_and_the_backend_from_inside_the_nginx_container(tmp_path):
    """The doctor in container mode: nginx -T inside the container, the probes in its network, the backend at the
    address the container resolves it to. Control: from the Docker host's own network, 127.0.0.1 has no nginx;
    entering the container's network namespace (websocket_probe's network_namespace) is what reaches it."""
    report = doctor(tmp_path)
    assert report["_run"].returncode == 0, report["_run"].stdout[-3000:]
    assert report["summary"] == "2 WebSocket location(s): 2 ok, 0 warning(s), 0 broken", report["table"]
    assert report["nginx_config_error"] in (None, ""), report["nginx_config_error"]
    assert [row["port"] for row in report["rows"]] == [80, 443]
    for row in report["rows"]:
        assert row["status"] == "ok", row
        assert [item["backend"] for item in row["direct_results"]] == [BACKEND_DIRECT], row
        assert row["direct_results"][0]["problem"] is None and "echoed" in row["direct_results"][0]["diagnosis"]
        assert row["nginx_result"]["problem"] is None and "echoed" in row["nginx_result"]["diagnosis"], row
    # nginx -T as read inside the container: the role's map, at its path there.
    defined = report["map_definitions"]["connection_upgrade"]
    assert len(defined) == 1 and defined[0].startswith("/etc/nginx/conf.d/websocket_proxy_map.conf:"), report

    # Control: the same probes without the container's network fail on the Docker host.
    pid = docker("inspect", "--format", "{{.State.Pid}}", NGINX).stdout.strip()
    namespace = f"/proc/{pid}/ns/net"
    outside = probe_on_dockerhost("ws://127.0.0.1:80/api/frontend-audio")
    assert outside["problem"] == "refused", outside
    inside = probe_on_dockerhost("ws://127.0.0.1:80/api/frontend-audio", network_namespace=namespace)
    assert inside["status"] == 101 and inside["echo_matched"] is True, inside
    resolved = probe_on_dockerhost(f"ws://{BACKEND_DIRECT}/api/frontend-audio", network_namespace=namespace,
                                   resolve={SERVICE: address_in_nginx(SERVICE)})
    assert resolved["status"] == 101 and resolved["echo_matched"] is True, resolved


@pytest.mark.usefixtures("json_results")
def test_doctor_names_the_backend_hop_when_the_backend_container_is_stopped(dockerhost, tmp_path):
    """A stopped backend container leaves Docker's DNS: the doctor, asking as nginx does, names the backend hop (a
    DNS failure inside the container) for both locations, and nginx answers 502 through it."""
    compose(dockerhost, "stop", SERVICE)
    try:
        report = doctor(tmp_path, "-e", "websocket_doctor_fail=true")
        assert report["_run"].returncode != 0
        said = " ".join(failure_messages(report["_run"]).get(DOCKER_HOST, []))
        assert "2 WebSocket location(s) broken on wsproxy-container-dockerhost" in said, said
        assert report["broken"] == 2, report["table"]
        for row in report["rows"]:
            assert row["status"] == "broken" and row["hop"] == "backend", row
            assert row["direct_results"][0]["problem"] == "dns", row
            assert "does not resolve where nginx runs" in row["direct_results"][0]["diagnosis"], row
            assert row["nginx"] == "502 Bad Gateway", row
    finally:
        compose(dockerhost, "start", SERVICE)
    wait_for(lambda: echoed(handshake("ws://127.0.0.1:28080/api/frontend-audio")), 30, "the backend back")
    report = doctor(tmp_path)
    assert report["broken"] == 0, report["table"]


# --------------------------------------------------------------------------------------------- /etc/nginx mounted

ETC_NGINX = "wsproxy-container-etc"
ETC_DIR = "/tmp/wsproxy-container/etc-nginx"


def test_mounted_etc_nginx_gets_nginx_conf_sized_from_the_containers_limits(dockerhost):
    """mount: /etc/nginx. A second nginx container on the network mounts a host copy of the image's /etc/nginx
    (with nofile 4096): the role owns nginx.conf there, sized by the plan made from the container's limits, and
    websocket_proxy_state: absent gives the image's nginx.conf back byte for byte."""
    setup = dockerhost.run(
        f"set -e; rm -rf {ETC_DIR}; docker create --name {ETC_NGINX}-copy wsproxy-nginx:bookworm >/dev/null;"
        f" docker cp {ETC_NGINX}-copy:/etc/nginx {ETC_DIR}; docker rm {ETC_NGINX}-copy >/dev/null;"
        f" rm {ETC_DIR}/conf.d/default.conf; cp -r {PROJECT_DIR}/tls {ETC_DIR}/tls;"
        f" docker run --detach --name {ETC_NGINX} --network {NETWORK} --ulimit nofile={NOFILE}:{NOFILE}"
        f" --volume {ETC_DIR}:/etc/nginx wsproxy-nginx:bookworm >/dev/null"
    )
    assert setup.rc == 0, setup.stderr
    try:
        original = dockerhost.run(f"sha256sum {ETC_DIR}/nginx.conf").stdout
        started = nginx_processes(ETC_NGINX)["started"]
        container = {"name": ETC_NGINX, "config_dir": ETC_DIR, "mount": "/etc/nginx"}
        run = converge("-e", json.dumps({"websocket_proxy_container": container}))
        assert run.returncode == 0, run.stdout[-3000:]
        output = " ".join(uncoloured(run.stdout).split())
        plan = nginx_capacity(4096, int(docker("exec", ETC_NGINX, "nproc").stdout), NOFILE)
        assert f"sized for {plan['websockets']} WebSockets" in output and "carries the plan" in output, output[-3000:]
        conf = dockerhost.file(f"{ETC_DIR}/nginx.conf").content_string
        for directive in ("worker_processes", "worker_connections", "worker_rlimit_nofile"):
            assert f"{directive} {plan[directive]};" in conf, conf
        # nginx runs the plan: as many workers as it says, once the reload's old workers have left.
        deadline = time.monotonic() + 20
        while len(nginx_processes(ETC_NGINX)["workers"]) != plan["worker_processes"] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(nginx_processes(ETC_NGINX)["workers"]) == plan["worker_processes"]
        result = handshake(f"ws://{ETC_NGINX}/api/frontend-audio", on_host=False)
        assert echoed(result), result

        removal = {"websocket_proxy_container": container, "websocket_proxy_state": "absent"}
        removed = converge("-e", json.dumps(removal))
        assert removed.returncode == 0, removed.stdout[-3000:]
        assert dockerhost.run(f"sha256sum {ETC_DIR}/nginx.conf").stdout == original
        assert dockerhost.run(f"ls {ETC_DIR}/conf.d").stdout.split() == []
        assert nginx_processes(ETC_NGINX)["started"] == started
        assert docker("exec", ETC_NGINX, "nginx", "-t", check=False).returncode == 0
    finally:
        docker("rm", "--force", ETC_NGINX, check=False)
        dockerhost.run(f"rm -rf {ETC_DIR}")


# --------------------------------------------------------------------------------------------- lifecycle


def test_rename_and_drop_in_one_run(dockerhost):
    """Issue 10's lifecycle in this mode: api-calls renamed api-calls-v2 and api-calls-tls dropped in one run take
    their files out of the mounted folder, with a reload (same master). The removal below starts from here."""
    def vhost_files() -> list[str]:
        return sorted(name for name in dockerhost.run(f"ls {CONF_D}").stdout.split() if name.startswith("vhost-"))

    assert vhost_files() == ["vhost-api-calls-tls.conf", "vhost-api-calls.conf"]
    before = nginx_processes()
    renamed = converge("-e", json.dumps({"websocket_proxy_vhosts": [dict(THE_VHOSTS[0], name="api-calls-v2")]}))
    assert renamed.returncode == 0, renamed.stdout[-3000:]
    assert vhost_files() == ["vhost-api-calls-v2.conf"]
    assert nginx_processes()["master"] == before["master"]
    assert echoed(handshake("ws://127.0.0.1:28080/api/frontend-audio"))
    assert handshake("wss://127.0.0.1:28443/api/frontend-audio").get("status") != 101


def test_removal_takes_only_the_roles_files_and_nginx_keeps_running(dockerhost):
    """Last: websocket_proxy_state: absent empties the mounted folder of the role's files, keeps the user's."""
    hand = f"{CONF_D}/hand.conf"
    dockerhost.run(f"printf 'server {{ listen 8081; return 204; }}\\n' > {hand}")
    try:
        before_nginx = nginx_processes()
        run = converge("-e", "websocket_proxy_state=absent")
        assert run.returncode == 0, run.stdout[-3000:]
        assert dockerhost.run(f"ls {CONF_D}").stdout.split() == ["hand.conf"]
        after = nginx_processes()
        kept = ("master", "id", "started")
        assert [after[key] for key in kept] == [before_nginx[key] for key in kept]
        assert docker("exec", NGINX, "nginx", "-t", check=False).returncode == 0
        gone = client_on_host("ws://127.0.0.1:28080/api/frontend-audio", "--host-header", SERVER_NAME, "--timeout", "5")
        assert gone.get("status") != 101, gone
    finally:
        dockerhost.run(f"rm -f {hand}")
