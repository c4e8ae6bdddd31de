#!/usr/bin/env bash
# A private network namespace for integration tests: livekit-server and the rtc
# clients run inside it, so WebRTC traffic can never leave the machine.
#
#   dev/netns.sh up             create the namespace (idempotent; needs root)
#   dev/netns.sh down           delete it
#   dev/netns.sh status         show its links, addresses and routes (exit 1 when absent)
#   dev/netns.sh exec CMD...    run CMD inside it, from the current directory
#
# Inside: `lo` up, plus a veth pair whose both ends stay in the namespace. One end
# carries $GXRTC_NETNS_ADDR (10.213.0.1/24). WebRTC stacks skip loopback when
# gathering ICE candidates, so they need a non-loopback address; a veth pair is
# used because this kernel has no dummy-link driver, and with both ends inside
# the namespace the link has carrier (libwebrtc ignores interfaces that are not
# running). There is no default route and no link to the host, so nothing in
# the namespace can reach any other machine.
#
# `exec` exports GXRTC_TEST_NETNS and GXRTC_TEST_NODE_IP so the test harness
# knows to advertise that address for ICE.
set -euo pipefail

ns=${GXRTC_NETNS:-gxrtc-test}
addr=${GXRTC_NETNS_ADDR:-10.213.0.1/24}
ip_only=${addr%/*}
# Both ends of the pair live inside the namespace, so these names never clash with host links.
link=gx0
peer=gx1

die() { echo "netns.sh: $*" >&2; exit 1; }

usage() {
  echo "usage: $0 up|down|status|exec CMD..." >&2
  exit 2
}

require_netns() {
  [[ $EUID -eq 0 ]] || die "must run as root to manage network namespaces (tests can run on host loopback instead)"
  command -v ip >/dev/null 2>&1 || die "the 'ip' command (iproute2) is not installed"
  ip netns list >/dev/null 2>&1 || die "'ip netns' is not available here"
}

ns_exists() { [[ -e /run/netns/$ns ]] || ip netns list 2>/dev/null | grep -qw -- "$ns"; }

in_ns() { ip netns exec "$ns" "$@"; }

cmd_up() {
  require_netns
  if ! ns_exists; then
    ip netns add "$ns" || die "could not create network namespace $ns"
  fi
  in_ns ip link set lo up
  if ! in_ns ip link show "$link" >/dev/null 2>&1; then
    # A half-created pair from an interrupted run would make `add` fail.
    in_ns ip link del "$peer" >/dev/null 2>&1 || true
    in_ns ip link add "$link" type veth peer name "$peer" \
      || die "could not create a veth pair in $ns (is the veth module available?)"
  fi
  # IPv6 link-local addresses would only add useless ICE candidates.
  in_ns sysctl -qw "net.ipv6.conf.$link.disable_ipv6=1" "net.ipv6.conf.$peer.disable_ipv6=1" 2>/dev/null || true
  in_ns ip addr replace "$addr" dev "$link"
  in_ns ip link set "$link" up
  in_ns ip link set "$peer" up
  # Wait briefly for carrier so the first test run already sees a running link.
  for _ in $(seq 50); do
    [[ $(in_ns cat "/sys/class/net/$link/operstate" 2>/dev/null) == up ]] && break
    sleep 0.1
  done
  if in_ns ip route show default | grep -q .; then
    die "namespace $ns has a default route; refusing to use it for tests"
  fi
  echo "netns $ns is up: lo + $link $addr (no default route)"
}

cmd_down() {
  require_netns
  if ns_exists; then
    ip netns del "$ns"
    echo "netns $ns deleted"
  else
    echo "netns $ns does not exist"
  fi
}

cmd_status() {
  require_netns
  if ! ns_exists; then
    echo "netns $ns does not exist"
    exit 1
  fi
  echo "netns $ns:"
  in_ns ip -brief addr
  echo "routes:"
  in_ns ip route
  echo "processes:"
  ip netns pids "$ns" | xargs -r ps -o pid=,args= -p || true
}

cmd_exec() {
  [[ $# -gt 0 ]] || usage
  require_netns
  ns_exists || die "netns $ns does not exist; run '$0 up' first"
  exec ip netns exec "$ns" env GXRTC_TEST_NETNS="$ns" GXRTC_TEST_NODE_IP="$ip_only" "$@"
}

[[ $# -gt 0 ]] || usage
sub=$1
shift
case $sub in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  exec) cmd_exec "$@" ;;
  *) usage ;;
esac
