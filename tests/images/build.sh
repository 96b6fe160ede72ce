#!/usr/bin/env bash
# Builds the container images every test, Molecule scenario, demo and benchmark uses:
# wsproxy-test:<suite> for Debian 12 (bookworm, nginx 1.22) and Debian 13 (trixie, nginx 1.26).
# There is no container registry here, so images come from Debian's packages: mmdebstrap a
# minimal root file system, then `docker import` it. An image that already exists is kept.
# nginx is deliberately NOT in the image: the role installs it.
#
#   tests/images/build.sh [--force] [SUITE ...]      (default: bookworm trixie)
set -euo pipefail

force=false
if [ "${1:-}" = "--force" ]; then force=true; shift; fi
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie)

# What Ansible, the tests' client/backend (tests/support, stdlib only), an independent WebSocket client (Debian's python3-websockets) and the checks need.
packages=python3,python3-apt,python3-websockets,procps,ca-certificates,openssl,iproute2

for suite in "${suites[@]}"; do
  image="wsproxy-test:${suite}"
  if ! $force && docker image inspect "$image" >/dev/null 2>&1; then
    echo "image $image: present"
    continue
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "image $image: building from Debian $suite packages"
  # mmdebstrap empties /var/lib/apt/lists and leaves the folder freshly modified, which apt's
  # cache_valid_time reads as "updated just now". Say what is true: the last successful update is
  # long ago (apt reads this stamp first), so the role's cache refresh runs as on a real stale host.
  mmdebstrap --quiet --variant=minbase --include="$packages" \
    --customize-hook='mkdir -p "$1/var/lib/apt/periodic" && touch -d @0 "$1/var/lib/apt/periodic/update-success-stamp"' \
    "$suite" "$tmp/rootfs.tar"
  docker import --change 'CMD ["sleep", "infinity"]' "$tmp/rootfs.tar" "$image" >/dev/null
  rm -rf "$tmp"
  trap - EXIT
  echo "image $image: built"
done
