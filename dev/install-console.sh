#!/usr/bin/env bash
# The moderation console (console/): its npm packages exactly as console/package-lock.json pins them
# (`npm ci`, again whenever the lock changes), then a build into console/dist/ whenever a source is
# newer than the last build. Needs Node.js and npm (dev/install-web-clients.sh installs them as root).
set -euo pipefail
cd "$(dirname "$0")/../console"

if ! command -v npm >/dev/null 2>&1; then
  echo "the console needs Node.js and npm to build (Debian/Ubuntu: sudo apt-get install nodejs npm); /console says so until then" >&2
  exit 0
fi
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
built=dist/index.html
if [[ ! -f $built ]] || [[ -n $(find index.html package-lock.json tsconfig.json vite.config.ts src ../schema.graphql -newer "$built" -print -quit) ]]; then
  npm run --silent build >/dev/null
fi
