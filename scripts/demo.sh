#!/usr/bin/env bash
# make demo: the main job, end to end, on this machine.
#  1. a backend container reachable as the Docker service calls-backend:5006 (tests/support/ws_backend.py)
#  2. a bare Debian 12 container "wsproxy-demo" (no nginx yet), ports 80/443 published on 127.0.0.1:8080/8443
#  3. a throw-away CA and certificate for api.example.test
#  4. ansible-playbook site.yml (the role installs nginx and configures it)
#  5. real WebSocket handshakes through nginx, ws:// and wss://, with echoed text and a 640-byte audio frame
# scripts/demo.sh --clean removes the containers and the network.
set -euo pipefail
cd "$(dirname "$0")/.."

network=wsproxy-demo
backend=wsproxy-demo-backend
proxy=wsproxy-demo
work=.cache/demo
http_port=${WSPROXY_DEMO_HTTP_PORT:-8080}
https_port=${WSPROXY_DEMO_HTTPS_PORT:-8443}

clean() {
  docker rm -f "$proxy" "$backend" >/dev/null 2>&1 || true
  docker network rm "$network" >/dev/null 2>&1 || true
}
if [ "${1:-}" = "--clean" ]; then clean; echo "demo removed"; exit 0; fi

step() { printf '\n==> %s\n' "$*"; }

step "Fresh containers: $backend (alias calls-backend) and $proxy"
clean
docker network create "$network" >/dev/null
docker run -d --name "$backend" --network "$network" --network-alias calls-backend \
  -v "$PWD/tests/support:/opt/wsproxy:ro" -v "$PWD/plugins/module_utils:/opt/wsproxy-codec:ro" wsproxy-test:bookworm \
  python3 /opt/wsproxy/ws_backend.py --host 0.0.0.0 --port 5006 >/dev/null
docker run -d --name "$proxy" --hostname "$proxy" --network "$network" \
  -p "127.0.0.1:${http_port}:80" -p "127.0.0.1:${https_port}:443" wsproxy-test:bookworm >/dev/null

step "A throw-away CA and a certificate for api.example.test"
mkdir -p "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=wsproxy demo CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=api.example.test" -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:api.example.test,DNS:localhost,IP:127.0.0.1\n' > "$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -days 2 -extfile "$work/san.ext" -out "$work/server.pem" 2>/dev/null
docker exec "$proxy" mkdir -p /etc/ssl/wsproxy
# ca.pem too: the doctor (playbooks/doctor.yml -e doctor_ca_file=/etc/ssl/wsproxy/ca.pem) checks nginx's certificate with it.
for f in server.pem server.key ca.pem; do docker cp -q "$work/$f" "$proxy:/etc/ssl/wsproxy/$f"; done

step "ansible-playbook -i demo/inventory.yml site.yml"
ansible-playbook -i demo/inventory.yml site.yml

# The client prints one JSON object; show the part a person reads, keep the whole in .cache/demo/*.json.
client() {
  local out="$work/last.json"
  python3 tests/support/wsclient.py "$@" > "$out" || { cat "$out"; return 1; }
  python3 - "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if "body" in r and r.get("upgraded") is None:
    seen = r["body"]["headers"]
    print(f"  {r['status']} {r['reason']}; the backend saw Host={seen.get('host')} "
          f"X-Forwarded-For={seen.get('x-forwarded-for')} X-Forwarded-Proto={seen.get('x-forwarded-proto')} "
          f"Connection={seen.get('connection', '(none)')}")
else:
    print(f"  {r['status']} {r['reason']} (server: {r['headers'].get('server')}); "
          f"text echo: {'ok' if r['text_echo'] else 'FAILED'}; 640-byte binary echo: {'ok' if r['binary_echo'] else 'FAILED'}; "
          f"handshake {r['handshake_ms']:.1f} ms, round trip {r['rtt_ms']:.2f} ms")
PY
}
step "WebSocket through nginx: ws://api.example.test/api/frontend-audio (127.0.0.1:${http_port})"
client "ws://127.0.0.1:${http_port}/api/frontend-audio" --host-header api.example.test --text "bonjour" --binary 640
step "WebSocket through nginx over TLS: wss://api.example.test/api/call-events (127.0.0.1:${https_port})"
client "wss://127.0.0.1:${https_port}/api/call-events" --host-header api.example.test --cafile "$work/ca.pem" --text "bonjour" --binary 640
step "A plain request through /api/: what the backend received"
client --http "http://127.0.0.1:${http_port}/api/headers" --host-header api.example.test

printf '\nDemo OK: nginx in %s forwards WebSocket upgrades on /api/ to calls-backend:5006.\n' "$proxy"
printf 'Look around: docker exec -it %s nginx -T | less; remove it all: make demo-clean\n' "$proxy"
