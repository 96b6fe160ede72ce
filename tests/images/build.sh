#!/usr/bin/env bash
# Builds the container images every test, Molecule scenario, demo and benchmark uses:
# wsproxy-test:<suite> for Debian 12 (bookworm, nginx 1.22) and Debian 13 (trixie, nginx 1.26).
# There is no container registry here, so images come from Debian's packages: mmdebstrap a
# minimal root file system, then `docker import` it. nginx is deliberately NOT in the image: the role installs it.
#
# An image is rebuilt when this script changed since it was built (its sha256 is the image's label
# wsproxy.recipe), or with --force; otherwise the image that exists is kept.
#
#   tests/images/build.sh [--force] [SUITE ...]      (default: bookworm trixie)
set -euo pipefail

force=false
if [ "${1:-}" = "--force" ]; then force=true; shift; fi
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie)
recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)

# What Ansible, the tests' client/backend (tests/support, stdlib only), an independent WebSocket client (Debian's python3-websockets) and the checks need.
packages=python3,python3-apt,python3-websockets,procps,ca-certificates,openssl,iproute2

# Files laid over the root file system (tar-in keeps their modification times):
# - /var/lib/apt/periodic/update-success-stamp, dated 1970. mmdebstrap empties /var/lib/apt/lists and
#   leaves the folder freshly modified, which apt's cache_valid_time would read as "updated just now".
#   Say what is true: the last successful update is long ago (apt's cache_valid_time reads this stamp
#   first), so the role's first cache refresh runs as on a real stale host.
# - /etc/apt/apt.conf.d/15update-stamp: every successful update touches that stamp, as on a full Debian
#   install (update-notifier-common ships the same hook), so a second run within cache_valid_time does
#   not refresh the cache again. Without it the stamp stays in 1970 and every run refreshes.
overlay() {
  local dir=$1/overlay
  mkdir -p "$dir/etc/apt/apt.conf.d" "$dir/var/lib/apt/periodic"
  cat > "$dir/etc/apt/apt.conf.d/15update-stamp" <<'APT'
APT::Update::Post-Invoke-Success {"touch /var/lib/apt/periodic/update-success-stamp 2>/dev/null || true";};
APT
  chmod 0644 "$dir/etc/apt/apt.conf.d/15update-stamp"
  : > "$dir/var/lib/apt/periodic/update-success-stamp"
  touch -d @0 "$dir/var/lib/apt/periodic/update-success-stamp"
  # Only the two files: no directory entries, so nothing else of the root file system changes.
  tar -C "$dir" --owner=0 --group=0 --numeric-owner -cf "$1/overlay.tar" \
    etc/apt/apt.conf.d/15update-stamp var/lib/apt/periodic/update-success-stamp
  echo "$1/overlay.tar"
}

for suite in "${suites[@]}"; do
  image="wsproxy-test:${suite}"
  if ! $force; then
    built=$(docker image inspect -f '{{ index .Config.Labels "wsproxy.recipe" }}' "$image" 2>/dev/null || true)
    if [ "$built" = "$recipe" ]; then
      echo "image $image: present"
      continue
    fi
    [ -z "$built" ] || [ "$built" = "<no value>" ] || echo "image $image: built by another version of $0"
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "image $image: building from Debian $suite packages"
  mmdebstrap --quiet --variant=minbase --include="$packages" \
    --customize-hook="tar-in $(overlay "$tmp") /" \
    "$suite" "$tmp/rootfs.tar"
  docker import --change 'CMD ["sleep", "infinity"]' --change "LABEL wsproxy.recipe=$recipe" \
    "$tmp/rootfs.tar" "$image" >/dev/null
  rm -rf "$tmp"
  trap - EXIT
  echo "image $image: built"
done
