#!/usr/bin/env bash
# Prints the path of a prometheus binary (promtool lies next to it), installing Debian's package once
# when there is none.
#
# Only the binaries matter: tests start their own throwaway Prometheus on a free loopback port
# (tests/harness/prometheus_server.py) and check the alert rules with promtool. So when this script
# installs the package it also stops and disables the system service Debian starts on port 9090 (and
# the node exporter it recommends is not installed).
#
# Order: $PROMETHEUS_BIN, then a prometheus on PATH (or in /usr/bin, /usr/sbin), then, as root with
# apt-get, `apt-get install -y prometheus` (after `apt-get update` if the lists lack it).
set -euo pipefail

if [[ -n "${PROMETHEUS_BIN:-}" ]]; then
  [[ -x "$PROMETHEUS_BIN" ]] || { echo "PROMETHEUS_BIN=$PROMETHEUS_BIN is not executable" >&2; exit 1; }
  echo "$PROMETHEUS_BIN"; exit 0
fi

find_binary() {
  command -v prometheus 2>/dev/null && return 0
  local candidate
  for candidate in /usr/bin/prometheus /usr/sbin/prometheus /usr/local/bin/prometheus; do
    [[ -x "$candidate" ]] && { echo "$candidate"; return 0; }
  done
  return 1
}

if bin=$(find_binary); then
  echo "$bin"; exit 0
fi

if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "prometheus is not installed, and this script can install it only as root with apt-get." >&2
  echo "Install it yourself (Debian/Ubuntu: sudo apt-get install prometheus; macOS: brew install prometheus)," >&2
  echo "or point PROMETHEUS_BIN at a prometheus binary with promtool in the same directory." >&2
  exit 1
fi

echo "installing prometheus with apt-get (first time only)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends prometheus >&2; then
  # A fresh image often has no package lists at all.
  echo "apt-get install failed; running apt-get update and trying once more" >&2
  apt-get update >&2
  apt-get install -y --no-install-recommends prometheus >&2
fi

# Debian starts a system Prometheus on :9090 and enables it at boot. Tests never use it; stop it and
# keep it from coming back. `systemctl disable` works without a running systemd too.
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable prometheus >/dev/null 2>&1 || true
  if [[ -d /run/systemd/system ]]; then systemctl stop prometheus >/dev/null 2>&1 || true; fi
elif command -v update-rc.d >/dev/null 2>&1; then
  update-rc.d prometheus disable >/dev/null 2>&1 || true
fi
if [[ ! -d /run/systemd/system ]] && command -v service >/dev/null 2>&1; then
  service prometheus stop >/dev/null 2>&1 || true
fi
echo "installed prometheus; its system service is stopped and disabled (tests start their own)" >&2

bin=$(find_binary) || { echo "apt-get installed prometheus, but no prometheus binary is to be found" >&2; exit 1; }
echo "$bin"
