#!/usr/bin/env bash
# One line of the compatibility matrix (noxfile.py, session compat), after its unit tests: the collection as a
# user gets it, driven by the ansible-core of the virtualenv on PATH (nox puts the session's first).
#
#   1. ansible-galaxy collection build, and the tarball installed into a collections path of its own
#   2. a bare wsproxy-test:bookworm container (no nginx) and a backend container as calls-backend:5006
#   3. site.yml from the installed collection: a ws:// vhost and a wss:// one (a throw-away CA)
#   4. site.yml again: it must report changed=0
#   5. WebSocket handshakes through the nginx it configured: ws:// and wss://, text and 640-byte echo
#   6. the doctor (wsproxy.nginx.doctor, from the installed collection; its websocket_probe module runs with the
#      module_utils the tarball ships): every location ok
# and, before the containers, ansible-doc on the installed roles, a module and a filter.
#
# The last line printed is the summary. Needs Docker and the test image (make images).
# community.docker (its docker connection reaches the containers) comes from .venv's ansible package
# (requirements.txt): a test dependency of ours, not the role's; it supports ansible-core 2.15 and newer.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
ROOT=$PWD

IMAGE=wsproxy-test:bookworm
CORE=$(ansible --version | sed -n '1s/.*core \([0-9.]*\).*/\1/p')
[ -n "$CORE" ] || { echo "compat: no ansible-core on PATH" >&2; exit 2; }
RUN_ID=wsproxy-compat-${CORE//./-}-$$
WORK=$(mktemp -d "/tmp/$RUN_ID.XXXXXX")
cleanup() {
  docker rm -f "$RUN_ID-target" "$RUN_ID-backend" >/dev/null 2>&1 || true
  docker network rm "$RUN_ID" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
step() { printf '\n== compat %s: %s\n' "$CORE" "$*"; }
fail() { echo "compat $CORE: FAILED: $*"; exit 1; }

step "ansible-galaxy collection build, install into a collections path of its own"
src=$WORK/src/ansible_collections/wsproxy/nginx
mkdir -p "$src"
# Tracked files and new ones not yet added (never ignored ones, never the collections/ link to the root).
git ls-files -z --cached --others --exclude-standard | grep -z -v -E '^collections/' \
  | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$src"
ansible-galaxy collection build "$src" --output-path "$WORK/dist" >/dev/null
tarball=$(ls "$WORK"/dist/wsproxy-nginx-*.tar.gz)
# community.docker alone beside it (a link into .venv's ansible package); nothing else on the path: not the
# checkout, not ~/.ansible/collections, not the other collections of the ansible package.
mkdir -p "$WORK/deps/ansible_collections/community"
ln -s "$("$ROOT/.venv/bin/python" -c 'import ansible_collections.community.docker as m; print(m.__path__[0])')" \
  "$WORK/deps/ansible_collections/community/docker"
export ANSIBLE_COLLECTIONS_PATH="$WORK/collections:$WORK/deps"
export ANSIBLE_CONFIG=$WORK/ansible.cfg ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1
printf '[defaults]\ninterpreter_python = auto_silent\nretry_files_enabled = false\n[connection]\npipelining = true\n' > "$ANSIBLE_CONFIG"
ansible-galaxy collection install "$tarball" -p "$WORK/collections" >/dev/null
ansible-galaxy collection list wsproxy.nginx -p "$WORK/collections" 2>&1 | grep -E '^wsproxy\.nginx ' \
  || fail "ansible-galaxy does not list wsproxy.nginx in $WORK/collections"

step "ansible-doc from the installed copy"
for doc in "role wsproxy.nginx.websocket_proxy websocket_proxy_vhosts" "role wsproxy.nginx.websocket_doctor websocket_doctor_ca_file" \
  "module wsproxy.nginx.websocket_probe probes" "filter wsproxy.nginx.websocket_vhosts layout"; do
  read -r kind name expected <<< "$doc"
  out=$(ansible-doc -t "$kind" "$name" 2>&1) || fail "ansible-doc -t $kind $name: $(tail -n 3 <<< "$out")"
  grep -q "$expected" <<< "$out" || fail "ansible-doc -t $kind $name does not document $expected"
  echo "ansible-doc -t $kind $name: $(wc -l <<< "$out") lines, documents $expected"
done

step "a bare $IMAGE target and a backend"
docker image inspect "$IMAGE" >/dev/null 2>&1 || tests/images/build.sh bookworm
target=$RUN_ID-target
backend=$RUN_ID-backend
docker network create "$RUN_ID" >/dev/null
docker run -d --name "$backend" --network "$RUN_ID" --network-alias calls-backend \
  -v "$ROOT/tests/support:/opt/wsproxy:ro" -v "$ROOT/plugins/module_utils:/opt/wsproxy-codec:ro" "$IMAGE" python3 /opt/wsproxy/ws_backend.py --host 0.0.0.0 --port 5006 >/dev/null
docker run -d --name "$target" --network "$RUN_ID" -v "$ROOT/tests/support:/opt/wsproxy:ro" -v "$ROOT/plugins/module_utils:/opt/wsproxy-codec:ro" "$IMAGE" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=wsproxy compat CA" \
  -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=api.example.test" \
  -keyout "$WORK/server.key" -out "$WORK/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:api.example.test\n' > "$WORK/san.ext"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 2 \
  -extfile "$WORK/san.ext" -out "$WORK/server.pem" 2>/dev/null
docker exec "$target" mkdir -p /etc/ssl/wsproxy
for f in server.pem server.key ca.pem; do docker cp -q "$WORK/$f" "$target:/etc/ssl/wsproxy/$f"; done

cat > "$WORK/inventory.yml" <<YAML
---
proxies:
  hosts:
    $target:
      ansible_connection: community.docker.docker
  vars:
    websocket_proxy_remove_default_site: true
    websocket_proxy_vhosts:
      - name: api-calls
        server_name: api.example.test
        listen: 80
        locations:
          - path: /api/
            backend: calls-backend:5006
      - name: api-calls-tls
        server_name: api.example.test
        listen: 443
        tls:
          certificate: /etc/ssl/wsproxy/server.pem
          certificate_key: /etc/ssl/wsproxy/server.key
        locations:
          - path: /api/
            backend: calls-backend:5006
YAML
cp site.yml "$WORK/site.yml"

# recap HOST LOG: "ok=N changed=N failed=N" of the host's PLAY RECAP line.
recap() { grep -E "^$target +:" "$1" | tail -n1 | grep -oE '(ok|changed|unreachable|failed)=[0-9]+' | tr '\n' ' '; }

step "site.yml from the installed collection"
(cd "$WORK" && ansible-playbook -i inventory.yml site.yml) > "$WORK/first.log" 2>&1 \
  || { grep -E -A12 '^(fatal|ERROR)' "$WORK/first.log" | head -60; fail "the first run of site.yml failed ($(recap "$WORK/first.log"))"; }
first=$(recap "$WORK/first.log")
first=${first% }
grep -q ' failed=0' <<< " $first" || fail "the first run of site.yml failed ($first)"

step "site.yml again: nothing may change"
(cd "$WORK" && ansible-playbook -i inventory.yml site.yml) > "$WORK/second.log" 2>&1 \
  || { tail -n 40 "$WORK/second.log"; fail "the second run of site.yml failed"; }
second=$(recap "$WORK/second.log")
second=${second% }
grep -q ' changed=0 ' <<< " $second " || { grep -B2 -A8 '^changed:' "$WORK/second.log" | head -60; fail "the second run changed something ($second)"; }

step "WebSocket handshakes through nginx"
handshake() {
  local result
  result=$(docker exec "$target" python3 /opt/wsproxy/wsclient.py "$@" --host-header api.example.test \
    --text compat --binary 640) || true
  echo "$result"
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
sys.exit(0 if r["status"] == 101 and r["text_echo"] and r["binary_echo"] else 1)' "$result" 2>/dev/null
}
handshake ws://127.0.0.1/api/frontend-audio || fail "no ws:// handshake and echo through nginx"
handshake wss://127.0.0.1/api/call-events --cafile /etc/ssl/wsproxy/ca.pem || fail "no wss:// handshake and echo through nginx"

step "the doctor from the installed collection"
(cd "$WORK" && ansible-playbook -i inventory.yml wsproxy.nginx.doctor -e doctor_ca_file=/etc/ssl/wsproxy/ca.pem \
  -e doctor_fail=true -e doctor_report_dir="$WORK/doctor") > "$WORK/doctor.log" 2>&1 \
  || { tail -n 40 "$WORK/doctor.log"; fail "the doctor failed or found a broken location"; }
doctor=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(len(r["rows"]), "locations,", r["broken"], "broken")
sys.exit(0 if r["rows"] and r["broken"] == 0 else 1)' "$WORK/doctor/$target.json") || fail "doctor: $doctor"

echo "compat $CORE: ok: collection built and installed; site.yml on $IMAGE ($first); second run ($second);" \
  "ws:// and wss:// 101 with text and 640-byte echo; doctor: $doctor"
