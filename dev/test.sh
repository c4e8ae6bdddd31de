#!/usr/bin/env bash
# Runs the whole suite. As root with `ip netns`, inside the namespace that
# dev/netns.sh makes (loopback plus a dummy link, no route out), so nothing a
# test starts can reach beyond this machine; elsewhere on the host's loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) == 0 ]] && command -v ip >/dev/null 2>&1 && dev/netns.sh up; then
  exec dev/netns.sh exec .venv/bin/pytest "$@"
fi
if [[ "${CI:-}" == "true" ]]; then
  echo "CI must run the suite inside the test network namespace, and it could not be made" >&2
  exit 1
fi
echo "no network namespace here: running on the host's loopback" >&2
exec .venv/bin/pytest "$@"
