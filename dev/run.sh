#!/usr/bin/env bash
# `make run`: a local LiveKit in dev mode plus GXRTC API, until Ctrl-C or SIGTERM,
# which stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8080}
livekit_bin=$(dev/install-livekit.sh)
state=.run
mkdir -p "$state"

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if curl -fsS -o /dev/null --max-time 1 http://127.0.0.1:7880/ 2>/dev/null; then
  echo "something already answers on 127.0.0.1:7880; stop it first (another make run?)" >&2
  exit 1
fi

echo "livekit-server $("$livekit_bin" --version | awk '{print $NF}') starting on ws://127.0.0.1:7880 (log: $state/livekit.log)"
"$livekit_bin" --dev --config dev/livekit.yaml >"$state/livekit.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null --max-time 1 http://127.0.0.1:7880/ 2>/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "livekit-server exited:" >&2; tail -20 "$state/livekit.log" >&2; exit 1; }
  sleep 0.1
done

# shellcheck source=dev/dev-env.sh
. dev/dev-env.sh
load_dev_env dev/dev.env
# Dev mode still authenticates: an admin key of your own, or a fresh one each run.
if [[ -z "${GXRTC_ADMIN_KEY:-}" ]]; then
  GXRTC_ADMIN_KEY=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')
fi
export GXRTC_ADMIN_KEY
cat <<EOF2
GXRTC API on http://127.0.0.1:$port  (REST /api/v1, GraphiQL /graphql, health /healthz /readyz)
admin key: $GXRTC_ADMIN_KEY
  curl -H "Authorization: Bearer $GXRTC_ADMIN_KEY" -XPOST http://127.0.0.1:$port/api/v1/room/ -d "room=thehome"
  (in GraphiQL, add the header {"Authorization": "Bearer $GXRTC_ADMIN_KEY"})
EOF2
PORT=$port .venv/bin/python -m graphql_api &
pids+=($!)
wait -n "${pids[@]}"
