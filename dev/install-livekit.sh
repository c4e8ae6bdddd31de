#!/usr/bin/env bash
# Prints the path of a livekit-server binary, building the pinned release once
# into a cache outside the repo when there is none.
#
# Order: $LIVEKIT_SERVER_BIN, then a livekit-server on PATH, then the cache
# ($GXRTC_CACHE_DIR, default ~/.cache/gxrtc), then `go install` into the cache.
# v1.13.5 is the newest tag whose go.mod has no replace directives, which
# `go install module@version` refuses.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(tr -d '[:space:]' < "$here/livekit-version")

if [[ -n "${LIVEKIT_SERVER_BIN:-}" ]]; then
  [[ -x "$LIVEKIT_SERVER_BIN" ]] || { echo "LIVEKIT_SERVER_BIN=$LIVEKIT_SERVER_BIN is not executable" >&2; exit 1; }
  echo "$LIVEKIT_SERVER_BIN"; exit 0
fi
if command -v livekit-server >/dev/null 2>&1; then
  command -v livekit-server; exit 0
fi

cache=${GXRTC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gxrtc}/livekit-$version
bin=$cache/livekit-server
if [[ -x "$bin" ]]; then
  echo "$bin"; exit 0
fi

command -v go >/dev/null 2>&1 || { echo "go is needed to build livekit-server $version and is not on PATH" >&2; exit 1; }
mkdir -p "$cache"
echo "building livekit-server $version into $cache (first time only, a few minutes)" >&2
start=$(date +%s)
GOBIN="$cache" GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
  go install "github.com/livekit/livekit-server/cmd/server@$version" >&2
mv "$cache/server" "$bin"
echo "built livekit-server $version in $(( $(date +%s) - start ))s" >&2
echo "$bin"
