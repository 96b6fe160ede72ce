#!/usr/bin/env bash
# Builds the container images every test, Molecule scenario, demo and benchmark uses:
# wsproxy-test:<suite> for Debian 12 (bookworm, nginx 1.22) and Debian 13 (trixie, nginx 1.26), and
# wsproxy-node:bookworm, the same plus Debian's nodejs, for the third-party Node applications (Socket.IO, ws)
# of molecule/replicas, and wsproxy-pebble:bookworm, the same plus Debian's pebble (Let's Encrypt's ACME test
# server), the ACME server of molecule/acme; and for molecule/container (the role's container mode):
# wsproxy-nginx:bookworm, Debian's nginx laid out as the official nginx image is (nginx.conf including only
# /etc/nginx/conf.d/*.conf in http, no sites-enabled, `nginx -g 'daemon off;'`, user nginx) and without Python,
# and wsproxy-dockerhost:bookworm, the test image plus Debian's docker CLI (docker.io) and docker-compose, the
# Docker host Ansible talks to (it drives this machine's engine through its socket). There is no container
# registry here, so images come from Debian's packages: mmdebstrap a minimal root file system, then `docker
# import` it. nginx is deliberately NOT in the test images: the role installs it (wsproxy-nginx plays a container
# the role cannot install anything into).
#
# Each image carries the label wsproxy.recipe: a hash of what defines that image (the build functions below, as
# bash prints them, and its package list). An image is rebuilt when its recipe changed, or with --force;
# otherwise the image that exists is kept, so adding a flavour or editing a comment rebuilds nothing else.
#
#   tests/images/build.sh [--force] [SUITE | IMAGE ...]
#   (default: bookworm trixie wsproxy-node:bookworm wsproxy-pebble:bookworm wsproxy-nginx:bookworm
#    wsproxy-dockerhost:bookworm; a SUITE means wsproxy-test:SUITE)
set -euo pipefail

force=false
if [ "${1:-}" = "--force" ]; then force=true; shift; fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(bookworm trixie wsproxy-node:bookworm wsproxy-pebble:bookworm
                                      wsproxy-nginx:bookworm wsproxy-dockerhost:bookworm)

# What Ansible, the tests' client/backend (tests/support, stdlib only), an independent WebSocket client (Debian's python3-websockets) and the checks need.
packages=python3,python3-apt,python3-websockets,procps,ca-certificates,openssl,iproute2
# wsproxy-node: the same, plus Node.js from Debian (the apps and clients come from npm, mounted from .cache/npm-apps).
node_packages=$packages,nodejs
# wsproxy-pebble: the same, plus Pebble from Debian (one static binary; its configuration and TLS certificate come
# from the scenario, since the package ships neither a usable config nor Pebble's test certificates).
pebble_packages=$packages,pebble
# wsproxy-dockerhost: the same, plus the docker CLI and Compose (1.29 on Debian 12) that drive this machine's engine.
dockerhost_packages=$packages,docker.io,docker-compose
# wsproxy-nginx: nginx alone (getent, nproc and sh come with every Debian system); no Python.
nginx_packages=nginx

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

# The official nginx image's layout, made from Debian's nginx package: its nginx.conf (user nginx, one include of
# conf.d/*.conf inside http), a conf.d/default.conf like its own, no sites-available or sites-enabled.
official_layout() {
  local dir=$1/official
  mkdir -p "$dir/etc/nginx/conf.d"
  cat > "$dir/etc/nginx/nginx.conf" <<'NGINX'
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;


events {
    worker_connections  1024;
}


http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    #tcp_nopush     on;

    keepalive_timeout  65;

    #gzip  on;

    include /etc/nginx/conf.d/*.conf;
}
NGINX
  cat > "$dir/etc/nginx/conf.d/default.conf" <<'NGINX'
server {
    listen       80;
    listen  [::]:80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }
}
NGINX
  chmod 0644 "$dir/etc/nginx/nginx.conf" "$dir/etc/nginx/conf.d/default.conf"
  tar -C "$dir" --owner=0 --group=0 --numeric-owner -cf "$1/official.tar" etc/nginx/nginx.conf etc/nginx/conf.d/default.conf
  echo "$1/official.tar"
}

# build IMAGE SUITE PACKAGES RECIPE: a minimal Debian SUITE with PACKAGES, imported as IMAGE.
build() {
  local image=$1 suite=$2 include=$3 recipe=$4 tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "image $image: building from Debian $suite packages"
  mmdebstrap --quiet --variant=minbase --include="$include" \
    --customize-hook="tar-in $(overlay "$tmp") /" \
    "$suite" "$tmp/rootfs.tar"
  docker import --change 'CMD ["sleep", "infinity"]' --change "LABEL wsproxy.recipe=$recipe" \
    "$tmp/rootfs.tar" "$image" >/dev/null
  rm -rf "$tmp"
  trap - EXIT
  echo "image $image: built"
}

# build_official IMAGE SUITE PACKAGES RECIPE: as build, laid out as the official nginx image and started as it is
# (nginx in the foreground).
build_official() {
  local image=$1 suite=$2 include=$3 recipe=$4 tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "image $image: building from Debian $suite packages"
  # The hooks in single quotes are run by mmdebstrap, which gives them the root file system as $1.
  # shellcheck disable=SC2016
  mmdebstrap --quiet --variant=minbase --include="$include" \
    --customize-hook="tar-in $(overlay "$tmp") /" \
    --customize-hook='rm -rf "$1"/etc/nginx/sites-available "$1"/etc/nginx/sites-enabled "$1"/var/www/html' \
    --customize-hook='chroot "$1" useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nginx' \
    --customize-hook='mkdir -p "$1"/usr/share/nginx/html && echo wsproxy-nginx > "$1"/usr/share/nginx/html/index.html' \
    --customize-hook="tar-in $(official_layout "$tmp") /" \
    "$suite" "$tmp/rootfs.tar"
  docker import --change 'CMD ["nginx", "-g", "daemon off;"]' \
    --change "LABEL wsproxy.recipe=$recipe" "$tmp/rootfs.tar" "$image" >/dev/null
  rm -rf "$tmp"
  trap - EXIT
  echo "image $image: built"
}

for target in "${targets[@]}"; do
  case $target in
    wsproxy-node:*) image=$target suite=${target#*:} include=$node_packages ;;
    wsproxy-pebble:*) image=$target suite=${target#*:} include=$pebble_packages ;;
    wsproxy-dockerhost:*) image=$target suite=${target#*:} include=$dockerhost_packages ;;
    wsproxy-nginx:*) image=$target suite=${target#*:} include=$nginx_packages ;;
    wsproxy-test:*) image=$target suite=${target#*:} include=$packages ;;
    *:*) echo "$0: unknown image $target (wsproxy-test, -node, -pebble, -nginx or -dockerhost:SUITE)" >&2; exit 2 ;;
    *) image=wsproxy-test:$target suite=$target include=$packages ;;
  esac
  builder=build
  [[ $image != wsproxy-nginx:* ]] || builder=build_official
  if [ $builder = build ]; then
    recipe=$({ declare -f overlay build; echo "$include"; } | sha256sum | cut -c1-16)
  else
    recipe=$({ declare -f overlay official_layout build_official; echo "$include"; } | sha256sum | cut -c1-16)
  fi
  if ! $force; then
    built=$(docker image inspect -f '{{ index .Config.Labels "wsproxy.recipe" }}' "$image" 2>/dev/null || true)
    if [ "$built" = "$recipe" ]; then
      echo "image $image: present"
      continue
    fi
    [ -z "$built" ] || [ "$built" = "<no value>" ] || echo "image $image: built by another recipe ($built, now $recipe)"
  fi
  $builder "$image" "$suite" "$include" "$recipe"
done
