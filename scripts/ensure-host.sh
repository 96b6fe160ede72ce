#!/usr/bin/env bash
# Makes this machine able to run the tests, the demo and the benchmarks:
# Debian's docker.io, mmdebstrap and nginx (the host nginx judges rendered configs with nginx -t,
# it is never started as a service here), and a running Docker engine.
# Idempotent: installs only what is missing, starts dockerd only when it is not answering.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
[ -x /usr/sbin/nginx ] || need+=(nginx)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-host: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Do not let the package start the host's nginx on port 80.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

if ! docker info >/dev/null 2>&1; then
  echo "ensure-host: starting dockerd"
  mkdir -p /var/log
  # dockerd outlives this script: it must not inherit any descriptor but its own three (a caller's lock, such as
  # flock's, would otherwise be held for as long as dockerd runs).
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    exec nohup dockerd >/var/log/wsproxy-dockerd.log 2>&1 </dev/null
  ) &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "ensure-host: dockerd did not start, see /var/log/wsproxy-dockerd.log" >&2; exit 1; }
fi
echo "ensure-host: docker $(docker version --format '{{.Server.Version}}'), $(nginx -v 2>&1)"
