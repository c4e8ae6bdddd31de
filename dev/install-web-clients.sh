#!/usr/bin/env bash
# What the web client tests (tests/integration/test_web_clients.py) need: Node.js with npm, Debian's
# chromium (Playwright drives it; no browser is downloaded), and tests/web's npm packages, installed
# exactly as tests/web/package-lock.json pins them (`npm ci`, again whenever the lock changes).
#
# As root with apt-get, missing Debian packages are installed (after `apt-get update` if the lists
# lack them); elsewhere this says what to install and goes on: `make run` needs none of it, and the
# web client tests fail, naming what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "the web client tests need ${missing[*]}; this script installs them only as root with apt-get." >&2
    echo "Install them yourself (Debian/Ubuntu: sudo apt-get install ${missing[*]})." >&2
    command -v npm >/dev/null 2>&1 || exit 0
  fi
fi
if ((${#missing[@]})) && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get (first time only)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_install() { apt-get -o DPkg::Lock::Timeout=600 install -y "${missing[@]}" >&2; }
  if ! apt_install; then
    echo "apt-get install failed; running apt-get update and trying once more" >&2
    apt-get -o DPkg::Lock::Timeout=600 update >&2
    apt_install
  fi
fi

lock=tests/web/package-lock.json
installed=tests/web/node_modules/.package-lock.json
if [[ ! -f $installed || $lock -nt $installed ]]; then
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
