#!/usr/bin/env bash
# Prints nginx's config for the reference deployment: dev/nginx/gxrtc.conf.template with its placeholders
# filled in. Used by dev/cluster.sh and by the instance-death test's harness (tests/harness/nginx_server.py),
# so both run the same nginx.
#
# usage: render.sh DIR LISTEN MAX_BODY_BYTES INSTANCE_PORT...
#   DIR     nginx's own directory (pid, logs, temp files); LISTEN: 127.0.0.1:PORT
# The template's line naming an instance (SERVER) is repeated once per instance; as root the workers run
# as nobody, as Debian's do.
set -euo pipefail
(($# >= 4)) || { echo "usage: $0 DIR LISTEN MAX_BODY_BYTES INSTANCE_PORT..." >&2; exit 2; }
dir=$1 listen=$2 max_body=$3
shift 3
user=""
[[ $(id -u) != 0 ]] || user="user nobody nogroup;"
while IFS= read -r line || [[ -n $line ]]; do
  line=${line//@DIR@/$dir}
  line=${line//@USER@/$user}
  line=${line//@LISTEN@/$listen}
  line=${line//@MAX_BODY@/$max_body}
  if [[ $line == *@SERVER@* ]]; then
    for port in "$@"; do printf '%s\n' "${line//@SERVER@/127.0.0.1:$port}"; done
  else
    printf '%s\n' "$line"
  fi
done <"$(dirname "$0")/gxrtc.conf.template"
