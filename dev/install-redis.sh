#!/usr/bin/env bash
# Prints the path of a redis-server binary, installing Debian's package once when there is none.
#
# Only the binary matters: tests start their own throwaway servers on free loopback ports
# (tests/harness/redis_server.py), and the service reaches whatever GXRTC_REDIS_URL names. So when this
# script installs the package it also stops and disables the system service Debian starts on
# port 6379, which nothing here uses.
#
# Order: $REDIS_SERVER_BIN, then a redis-server on PATH (or in /usr/bin, /usr/sbin), then, as root
# with apt-get, `apt-get install -y redis-server` (after `apt-get update` if the lists lack it).
set -euo pipefail

if [[ -n "${REDIS_SERVER_BIN:-}" ]]; then
  [[ -x "$REDIS_SERVER_BIN" ]] || { echo "REDIS_SERVER_BIN=$REDIS_SERVER_BIN is not executable" >&2; exit 1; }
  echo "$REDIS_SERVER_BIN"; exit 0
fi

find_binary() {
  command -v redis-server 2>/dev/null && return 0
  local candidate
  for candidate in /usr/bin/redis-server /usr/sbin/redis-server /usr/local/bin/redis-server; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return 0; }
  done
  return 1
}

if bin=$(find_binary); then
  echo "$bin"; exit 0
fi

if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "redis-server is not installed, and this script can install it only as root with apt-get." >&2
  echo "Install it yourself (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)," >&2
  echo "or point REDIS_SERVER_BIN at a redis-server binary." >&2
  exit 1
fi

echo "installing redis-server with apt-get (first time only)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends redis-server >&2; then
  # A fresh image often has no package lists at all.
  echo "apt-get install failed; running apt-get update and trying once more" >&2
  apt-get update >&2
  apt-get install -y --no-install-recommends redis-server >&2
fi

# Debian starts a system redis-server on 127.0.0.1:6379 and enables it at boot. Tests never use
# it; stop it and keep it from coming back. (In containers policy-rc.d usually kept it from starting.)
# `systemctl disable` works without a running systemd too (it edits the unit links and the SysV ones).
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable redis-server >/dev/null 2>&1 || true
  if [[ -d /run/systemd/system ]]; then systemctl stop redis-server >/dev/null 2>&1 || true; fi
elif command -v update-rc.d >/dev/null 2>&1; then
  update-rc.d redis-server disable >/dev/null 2>&1 || true
fi
if [[ ! -d /run/systemd/system ]] && command -v service >/dev/null 2>&1; then
  service redis-server stop >/dev/null 2>&1 || true
fi
echo "installed redis-server; its system service is stopped and disabled (tests start their own)" >&2

bin=$(find_binary) || { echo "apt-get installed redis-server, but no redis-server binary is to be found" >&2; exit 1; }
echo "$bin"
