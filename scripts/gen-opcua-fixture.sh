#!/bin/sh
# Regenerate fixtures/opcua-session.pcap: a node-opcua server and client (scripts/opcua-lab/, pinned there so the
# large SDK stays out of Weir's own dependencies) in two network namespaces joined by a veth pair, recorded with
# tcpdump. As root, needs iproute2 and tcpdump (scripts/install-deps.sh):
#
#   sh scripts/gen-opcua-fixture.sh [fixtures/opcua-session.pcap]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "${1:-$here/../fixtures/opcua-session.pcap}")
lab="$here/opcua-lab"
[ -d "$lab/node_modules/node-opcua" ] || (cd "$lab" && npm ci --no-audit --no-fund)
tag="wopc$$"
srv="$tag-s" cli="$tag-c"
work=$(mktemp -d)
cleanup() {
  [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null || true
  [ -n "${dpid:-}" ] && kill "$dpid" 2>/dev/null || true
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$srv"
ip netns add "$cli"
ip -n "$srv" link add eth0 type veth peer name eth0 netns "$cli"
ip -n "$srv" addr add 10.84.0.10/24 dev eth0
ip -n "$cli" addr add 10.84.0.20/24 dev eth0
for ns in "$srv" "$cli"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
done
ip netns exec "$srv" tcpdump -i eth0 -s 0 -U -w "$work/cap.pcap" tcp port 4840 2>/dev/null &
dpid=$!
(cd "$lab" && ip netns exec "$srv" node server.mjs 4840 "$work/pki-server" >"$work/server.log" 2>&1) &
spid=$!
for _ in $(seq 1 100); do grep -q ready "$work/server.log" 2>/dev/null && break; sleep 0.2; done
grep -q ready "$work/server.log" || { cat "$work/server.log"; exit 1; }
(cd "$lab" && ip netns exec "$cli" node client.mjs opc.tcp://10.84.0.10:4840 "$work/pki-client")
sleep 1
kill "$dpid"
wait "$dpid" 2>/dev/null || true
dpid=
cp "$work/cap.pcap" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
