#!/usr/bin/env bash
# `make cluster`: the reference deployment on this machine (docs/cluster.md). LiveKit, PostgreSQL, Redis,
# N instances of GXRTC API (N=${N:-3}) and nginx in front, all on 127.0.0.1, until Ctrl-C or SIGTERM,
# which stops everything this script started. An instance that dies is left dead (try it: nginx goes on
# without it); LiveKit, PostgreSQL, Redis or nginx dying ends the whole cluster.
#
# Ports: nginx on $PORT (8080), the instances on the N ports after it, LiveKit on
# $GXRTC_CLUSTER_LIVEKIT_PORT (dev/livekit.yaml's, 7880; its rtc ports stay dev/livekit.yaml's), PostgreSQL on $GXRTC_CLUSTER_POSTGRES_PORT (55432), Redis on $GXRTC_CLUSTER_REDIS_PORT (56379).
# Files: .cluster/ (PostgreSQL's data is kept between runs; logs are rewritten each run).
set -euo pipefail
cd "$(dirname "$0")/.."

n=${N:-3}
port=${PORT:-8080}
pg_port=${GXRTC_CLUSTER_POSTGRES_PORT:-55432}
redis_port=${GXRTC_CLUSTER_REDIS_PORT:-56379}
[[ $n =~ ^[1-9][0-9]?$ ]] || { echo "N=$n: the number of instances must be 1 to 99" >&2; exit 1; }
[[ $port =~ ^[0-9]+$ ]] && ((port + n < 65536)) || { echo "PORT=$port leaves no room for $n instances" >&2; exit 1; }
instance_ports=()
for ((i = 1; i <= n; i++)); do instance_ports+=($((port + i))); done

livekit_bin=$(dev/install-livekit.sh)
redis_bin=$(dev/install-redis.sh)
postgres_bin=$(dev/install-postgres.sh)
nginx_bin=$(dev/install-nginx.sh)
pg_bindir=$(dirname "$postgres_bin")
livekit_port=${GXRTC_CLUSTER_LIVEKIT_PORT:-$(awk '/^port:/ {print $2; exit}' dev/livekit.yaml)}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$livekit_port" "$port" "${instance_ports[@]}" "$pg_port" "$redis_port"; do
  if listening "$p"; then
    echo "something already listens on 127.0.0.1:$p; stop it first (make run, another make cluster?)," >&2
    echo "or move the cluster: PORT, GXRTC_CLUSTER_POSTGRES_PORT, GXRTC_CLUSTER_REDIS_PORT" >&2
    exit 1
  fi
done

dir=$PWD/.cluster
mkdir -p "$dir"
# PostgreSQL refuses to run as root, and nginx's workers drop to nobody: as root both run as nobody,
# which must be able to enter their directory (a clone under /root is not); else one under /tmp.
as_nobody=()
shared=$dir
if [[ $(id -u) == 0 ]]; then
  command -v setpriv >/dev/null 2>&1 || { echo "as root PostgreSQL runs as nobody, which needs setpriv" >&2; exit 1; }
  as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
  chmod 755 "$dir"
  if ! "${as_nobody[@]}" test -x "$dir"; then
    shared=${TMPDIR:-/tmp}/gxrtc-cluster-$(pwd | sha256sum | cut -c1-12)
    mkdir -p "$shared" && chmod 755 "$shared"
    echo "nobody cannot enter $dir; PostgreSQL's data and nginx's files are in $shared"
  fi
fi

pids=()
stop() {
  trap - INT TERM EXIT
  local i
  # The reverse of the start: nginx first, so no request reaches an instance that is stopping.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_for() {  # what, pid, log, command...: until the command succeeds, or the process exits (2 min at most)
  local what=$1 pid=$2 log=$3
  shift 3
  for _ in $(seq 1 1200); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { echo "$what exited:" >&2; tail -20 "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$what did not come up:" >&2; tail -20 "$log" >&2; exit 1
}

# LiveKit, as `make run` starts it, with its webhooks sent to nginx.
grep -q 'http://127.0.0.1:8080/webhooks/livekit' dev/livekit.yaml \
  || { echo "dev/livekit.yaml no longer names the webhook URL this script rewrites" >&2; exit 1; }
sed -e "s#http://127.0.0.1:8080/webhooks/livekit#http://127.0.0.1:$port/webhooks/livekit#" \
  -e "s/^port: .*/port: $livekit_port/" dev/livekit.yaml >"$dir/livekit.yaml"
"$livekit_bin" --dev --config "$dir/livekit.yaml" >"$dir/livekit.log" 2>&1 &
pids+=($!)
wait_for livekit-server "${pids[-1]}" "$dir/livekit.log" curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$livekit_port/"

# PostgreSQL: one cluster, kept between runs, trust authentication for 127.0.0.1 only.
pg=$shared/postgres
if [[ ! -f $pg/data/PG_VERSION ]]; then
  mkdir -p "$pg/data"
  [[ ${#as_nobody[@]} == 0 ]] || chown -R nobody:nogroup "$pg"
  (cd "$pg" && "${as_nobody[@]}" "$pg_bindir/initdb" -D "$pg/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null)
  echo "host all all 127.0.0.1/32 trust" >"$pg/data/pg_hba.conf"
fi
(cd "$pg" && exec "${as_nobody[@]}" "$pg_bindir/postgres" -D "$pg/data" -p "$pg_port" -c listen_addresses=127.0.0.1 \
  -c "unix_socket_directories=$pg" -c max_connections=200) >"$dir/postgres.log" 2>&1 &
pids+=($!)
wait_for postgres "${pids[-1]}" "$dir/postgres.log" "$pg_bindir/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -U postgres
psql=("$pg_bindir/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qtA)
[[ $("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'gxrtc'") == 1 ]] || "${psql[@]}" -c 'CREATE DATABASE gxrtc'

# Redis, for room events across the instances: nothing kept (a restart comes back empty).
mkdir -p "$dir/redis"
"$redis_bin" --port "$redis_port" --bind 127.0.0.1 --protected-mode yes --save "" --appendonly no \
  --dir "$dir/redis" --logfile "" >"$dir/redis.log" 2>&1 &
pids+=($!)
redis_ping() { (exec 3<>"/dev/tcp/127.0.0.1/$redis_port" && printf 'PING\r\n' >&3 && read -r -t 1 reply <&3 && [[ $reply == +PONG* ]]); }
wait_for redis-server "${pids[-1]}" "$dir/redis.log" redis_ping

# The instances' settings: dev/dev.env's LiveKit, production mode unless you say otherwise, and what
# you set wins. Every caller comes through nginx, the one proxy whose X-Forwarded-For counts.
# shellcheck source=dev/dev-env.sh
. dev/dev-env.sh
export GXRTC_ENV=${GXRTC_ENV:-production}
export LIVEKIT_URL=${LIVEKIT_URL:-http://127.0.0.1:$livekit_port}
load_dev_env dev/dev.env
if [[ -z "${GXRTC_ADMIN_KEY:-}" ]]; then
  GXRTC_ADMIN_KEY=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')
fi
export GXRTC_ADMIN_KEY
export GXRTC_DATABASE_URL=${GXRTC_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:$pg_port/gxrtc}
export GXRTC_REDIS_URL=${GXRTC_REDIS_URL:-redis://127.0.0.1:$redis_port/0}
export GXRTC_MAX_BODY_BYTES=${GXRTC_MAX_BODY_BYTES:-65536}
export FORWARDED_ALLOW_IPS=127.0.0.1
export GXRTC_HOST=127.0.0.1

# The store's schema, once, before any instance starts.
env -u PORT .venv/bin/python -m graphql_api migrate

for ((i = 0; i < n; i++)); do
  env -u PORT GXRTC_PORT="${instance_ports[i]}" GXRTC_STATE_DIR="$dir/instance-$((i + 1))" \
    .venv/bin/python -m graphql_api >"$dir/instance-$((i + 1)).log" 2>&1 &
  pids+=($!)
done
core=("${pids[@]:0:3}")
for ((i = 0; i < n; i++)); do
  wait_for "instance $((i + 1))" "${pids[3 + i]}" "$dir/instance-$((i + 1)).log" \
    curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:${instance_ports[i]}/readyz"
done

# nginx, from the template, rendered as for the instance-death test.
ngx=$shared/nginx
mkdir -p "$ngx"
[[ ${#as_nobody[@]} == 0 ]] || chmod 755 "$ngx"
dev/nginx/render.sh "$ngx" "127.0.0.1:$port" "$GXRTC_MAX_BODY_BYTES" "${instance_ports[@]}" >"$ngx/nginx.conf"
"$nginx_bin" -t -q -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log"
"$nginx_bin" -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" >"$dir/nginx.log" 2>&1 &
pids+=($!)
core+=($!)
wait_for nginx "${pids[-1]}" "$ngx/error.log" curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz"

cat <<EOF
GXRTC API cluster: nginx on http://127.0.0.1:$port in front of $n instances (${instance_ports[*]})
  REST /api/v1, GraphQL /graphql (and subscriptions), LiveKit's webhooks /webhooks/livekit
  LiveKit ws://127.0.0.1:$livekit_port, PostgreSQL 127.0.0.1:$pg_port (database gxrtc), Redis 127.0.0.1:$redis_port
admin key: $GXRTC_ADMIN_KEY
  curl -i -H "Authorization: Bearer $GXRTC_ADMIN_KEY" -XPOST http://127.0.0.1:$port/api/v1/room/ -d "room=thehome"
  (X-Gxrtc-Upstream names the instance that answered; kill one and watch nginx go on without it)
logs in $dir/ (nginx's access log: $ngx/access.log). Ctrl-C stops everything.
EOF
wait -n "${core[@]}"
echo "a part of the cluster exited; stopping the rest" >&2
exit 1
