# Sourced by dev/run.sh: `load_dev_env FILE` exports FILE's NAME=value lines, except
# those whose NAME the caller's environment already has: what the caller set wins
# (`GXRTC_ENV=production make run` runs in production mode).
load_dev_env() {
  local name value
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    name=${BASH_REMATCH[1]}
    value=${BASH_REMATCH[2]}
    [[ -n ${!name+set} ]] || export "$name=$value"
  done <"$1"
}
