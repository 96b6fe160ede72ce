#!/usr/bin/env bash
# The wsproxy.nginx benchmark suite (make bench; make test runs it with --smoke).
#
#   bench/run.sh [--smoke] [--only capacity,rtt,http,converge] [--rebuild-image]
#
# Prepares what it needs (Docker engine and the test image via the project's scripts, the .venv with
# bench/requirements.txt, an image with Debian's nginx), then runs bench/bench.py, which writes
# bench/results/ (bench/results/smoke/ with --smoke): results.json, results.md and PNG plots.
# Exits non-zero when a measurement fails to run; figures that miss their targets are reported, not failed.
# Bounded: the whole run is killed after BENCH_TIMEOUT seconds (default 3600, 900 with --smoke), and every
# container it starts is removed at the end, or by itself when its bounded lifetime ends.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=false
for arg in "$@"; do [ "$arg" = "--smoke" ] && smoke=true; done
if $smoke; then limit=${BENCH_TIMEOUT:-900}; else limit=${BENCH_TIMEOUT:-3600}; fi

venv=.venv
if [ ! -x "$venv/bin/ansible-playbook" ]; then
  echo "bench: creating $venv from requirements.txt"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
fi
stamp="$venv/.bench-installed"
if [ ! -f "$stamp" ] || [ bench/requirements.txt -nt "$stamp" ]; then
  echo "bench: installing bench/requirements.txt into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
  touch "$stamp"
fi

scripts/ensure-host.sh >/dev/null
docker image inspect wsproxy-test:bookworm >/dev/null 2>&1 || tests/images/build.sh bookworm

# Every container of this run carries the label wsproxy.bench=1 and the name wsproxy-bench-<run id>-*;
# remove exactly those of this run, whatever way it ends.
export BENCH_RUN_ID=$$
bench_pid=""
cleanup() {
  status=$?
  [ -z "$bench_pid" ] || kill "$bench_pid" 2>/dev/null || true
  docker ps -aq --filter label=wsproxy.bench=1 --filter "name=^wsproxy-bench-${BENCH_RUN_ID}-" 2>/dev/null \
    | xargs -r docker rm -f >/dev/null 2>&1 || true
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export PATH="$PWD/$venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$PWD/collections"
timeout --kill-after=30 "$limit" "$venv/bin/python" bench/bench.py "$@" &
bench_pid=$!
wait "$bench_pid"
