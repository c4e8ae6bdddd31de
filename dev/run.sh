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
redis_answers() {  # a RESP PING over bash's own /dev/tcp, so no redis-cli is needed
  local reply
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf '*1\r\n$4\r\nPING\r\n' >&3
  read -r -t 1 reply <&3 || true
  exec 3<&- 3>&-
  [[ $reply == +PONG* ]]
}
# Several workers are several instances: they share events, leases and limits through Redis
# (docs/workers.md). Without a Redis of yours, one of our own on loopback, stopped with the rest.
if [[ ${GXRTC_WORKERS:-1} -gt 1 && -z "${GXRTC_REDIS_URL:-}" ]]; then
  redis_bin=$(dev/install-redis.sh)
  redis_port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$state/redis"
  "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --protected-mode yes --save "" --appendonly no \
    --dir "$state/redis" --daemonize no --logfile "" >"$state/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    redis_answers "$redis_port" && break
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "redis-server exited:" >&2; tail -20 "$state/redis.log" >&2; exit 1; }
    sleep 0.1
  done
  redis_answers "$redis_port" || { echo "redis-server did not answer on port $redis_port" >&2; exit 1; }
  export GXRTC_REDIS_URL="redis://127.0.0.1:$redis_port/0"
  echo "GXRTC_WORKERS=$GXRTC_WORKERS and no GXRTC_REDIS_URL: started a local redis-server for the workers at $GXRTC_REDIS_URL (log: $state/redis.log)" >&2
fi
cat <<EOF2
GXRTC API on http://127.0.0.1:$port  (REST /api/v1, GraphiQL /graphql, health /healthz /readyz)
admin key: $GXRTC_ADMIN_KEY
  curl -H "Authorization: Bearer $GXRTC_ADMIN_KEY" -XPOST http://127.0.0.1:$port/api/v1/room/ -d "room=thehome"
  (in GraphiQL, add the header {"Authorization": "Bearer $GXRTC_ADMIN_KEY"})
EOF2
PORT=$port .venv/bin/python -m graphql_api &
pids+=($!)
wait -n "${pids[@]}"
