#!/usr/bin/env bash
# Prints the path of an nginx binary, installing Debian's package once when there is none.
#
# Only the binary matters: `make cluster` (dev/cluster.sh) and the instance-death test
# (tests/harness/cluster.py) run their own nginx with a config made from dev/nginx/gxrtc.conf.template,
# on loopback ports of their own. So when this script installs the package it also stops and disables
# the system service Debian starts on port 80, which nothing here uses.
#
# Order: $NGINX_BIN, then an nginx on PATH (or in /usr/sbin, /usr/bin), then, as root with apt-get,
# `apt-get install -y nginx` (after `apt-get update` if the lists lack it).
set -euo pipefail

if [[ -n "${NGINX_BIN:-}" ]]; then
  [[ -x "$NGINX_BIN" ]] || { echo "NGINX_BIN=$NGINX_BIN is not executable" >&2; exit 1; }
  echo "$NGINX_BIN"; exit 0
fi

find_binary() {
  command -v nginx 2>/dev/null && return 0
  local candidate
  for candidate in /usr/sbin/nginx /usr/bin/nginx /usr/local/sbin/nginx /usr/local/bin/nginx; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return 0; }
  done
  return 1
}

if bin=$(find_binary); then
  echo "$bin"; exit 0
fi

if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "nginx is not installed, and this script can install it only as root with apt-get." >&2
  echo "Install it yourself (Debian/Ubuntu: sudo apt-get install nginx; macOS: brew install nginx)," >&2
  echo "or point NGINX_BIN at an nginx binary." >&2
  exit 1
fi

echo "installing nginx with apt-get (first time only)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends nginx >&2; then
  # A fresh image often has no package lists at all.
  echo "apt-get install failed; running apt-get update and trying once more" >&2
  apt-get update >&2
  apt-get install -y --no-install-recommends nginx >&2
fi

# Debian starts a system nginx on port 80 and enables it at boot. Nothing here uses it; stop it and
# keep it from coming back. (In containers policy-rc.d usually kept it from starting.)
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable nginx >/dev/null 2>&1 || true
  if [[ -d /run/systemd/system ]]; then systemctl stop nginx >/dev/null 2>&1 || true; fi
elif command -v update-rc.d >/dev/null 2>&1; then
  update-rc.d nginx disable >/dev/null 2>&1 || true
fi
if [[ ! -d /run/systemd/system ]] && command -v service >/dev/null 2>&1; then
  service nginx stop >/dev/null 2>&1 || true
fi
echo "installed nginx; its system service is stopped and disabled (make cluster and the tests run their own)" >&2

bin=$(find_binary) || { echo "apt-get installed nginx, but no nginx binary is to be found" >&2; exit 1; }
echo "$bin"
