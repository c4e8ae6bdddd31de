#!/usr/bin/env bash
# Prints the path of a `postgres` server binary (initdb and pg_ctl beside it), installing Debian's package
# once when there is none.
#
# Only the binaries matter: tests make their own throwaway clusters on free loopback ports
# (tests/harness/postgres_server.py), and the service reaches whatever GXRTC_DATABASE_URL names. So when
# this script installs the package it also stops and disables the system cluster Debian creates, which
# nothing here uses.
#
# Order: $POSTGRES_BIN, then /usr/lib/postgresql/<newest>/bin/postgres (Debian's layout), then a postgres
# whose initdb is on PATH, then, as root with apt-get, `apt-get install -y postgresql` (after
# `apt-get update` if the lists lack it).
set -euo pipefail

if [[ -n "${POSTGRES_BIN:-}" ]]; then
  [[ -x "$POSTGRES_BIN" ]] || { echo "POSTGRES_BIN=$POSTGRES_BIN is not executable" >&2; exit 1; }
  echo "$POSTGRES_BIN"; exit 0
fi

find_binary() {
  local candidate dir
  # Debian installs each major version under its own directory, outside PATH; the newest wins.
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$candidate/postgres" && -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]] && {
      echo "$candidate/postgres"; return 0; }
  done
  if candidate=$(command -v initdb 2>/dev/null); then
    dir=$(dirname "$(readlink -f "$candidate")")
    [[ -x "$dir/postgres" && -x "$dir/pg_ctl" ]] && { echo "$dir/postgres"; return 0; }
  fi
  return 1
}

if bin=$(find_binary); then
  echo "$bin"; exit 0
fi

if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL's server is not installed, and this script can install it only as root with apt-get." >&2
  echo "Install it yourself (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql)," >&2
  echo "or point POSTGRES_BIN at a postgres binary with initdb and pg_ctl beside it." >&2
  exit 1
fi

echo "installing postgresql with apt-get (first time only)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends postgresql >&2; then
  # A fresh image often has no package lists at all.
  echo "apt-get install failed; running apt-get update and trying once more" >&2
  apt-get update >&2
  apt-get install -y --no-install-recommends postgresql >&2
fi

# Debian creates a cluster and starts it on port 5432, enabled at boot. Tests never use it; stop it and
# keep it from coming back. (In containers policy-rc.d usually kept it from starting.)
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable postgresql >/dev/null 2>&1 || true
  if [[ -d /run/systemd/system ]]; then systemctl stop postgresql >/dev/null 2>&1 || true; fi
elif command -v update-rc.d >/dev/null 2>&1; then
  update-rc.d postgresql disable >/dev/null 2>&1 || true
fi
if [[ ! -d /run/systemd/system ]] && command -v service >/dev/null 2>&1; then
  service postgresql stop >/dev/null 2>&1 || true
fi
echo "installed postgresql; its system cluster is stopped and disabled (tests make their own)" >&2

bin=$(find_binary) || { echo "apt-get installed postgresql, but no postgres binary is to be found" >&2; exit 1; }
echo "$bin"
