#!/bin/bash
# Benchmark: DHCPv6 4-message exchanges (SOLICIT, ADVERTISE, REQUEST, REPLY) per second with many
# distinct clients, pxed against kea-dhcp6 (memfile, persist: true), measured with Kea's perfdhcp
# -6 from a client namespace over a veth (multicast to ff02::1:2, as real clients do). Not a test:
# it prints a table. Each server runs alone in the server namespace, once per offered rate, with
# an empty lease file. pxed fdatasyncs each lease record before its REPLY.
# Environment: BIN (pxed, default $REPO/.build/release), RATES (default "250 500 1000 2000 4000"),
#   PERIOD (seconds per step, default 10), CLIENTS (default 5000), SERVERS (default "pxed kea").
# Bounded: perfdhcp runs under timeout; servers are stopped after each step; namespaces go in an
# EXIT trap.
set -u
REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${BIN:-$REPO/.build/release}
RATES=${RATES:-"250 500 1000 2000 4000"}
PERIOD=${PERIOD:-10}
CLIENTS=${CLIENTS:-5000}
SERVERS=${SERVERS:-"pxed kea"}
S=pxd-b6s-$$
C=pxd-b6c-$$
VS=p6s$$
VC=p6c$$
W=$(mktemp -d "${TMPDIR:-/tmp}/pxed-dhcp6-bench.XXXXXX")
SPID=
stop_server() {
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=
}
cleanup() { stop_server; ip netns del "$C" 2>/dev/null; ip netns del "$S" 2>/dev/null; if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for t in perfdhcp kea-dhcp6 python3; do command -v $t >/dev/null || { echo "bench: $t is not installed"; exit 1; }; done
[ -x "$BIN/pxed" ] || { echo "bench: $BIN/pxed missing (swift build -c release --product pxed)"; exit 1; }

ip netns add "$S" && ip netns add "$C" || exit 1
ip -n "$S" link set lo up; ip -n "$C" link set lo up
# DAD off before the veth exists, so its link-local address is usable at once.
for ns in "$S" "$C"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 >/dev/null; done
ip link add "$VS" netns "$S" type veth peer name "$VC" netns "$C"
ip -n "$S" link set "$VS" up; ip -n "$C" link set "$VC" up
ip -n "$S" -6 addr add fd00:79::1/64 dev "$VS" nodad
sleep 1

start_pxed() {
    cat >"$1/pxed.yaml" <<EOF
log-level: warning
lease-file: $1/leases
control-socket: $1/control.sock
interfaces:
  $VS:
    address6: off
    dhcp6: {prefix: "fd00:79::/64", range: "fd00:79::1:0-fd00:79::ffff:ffff", lease-time: 3600, preferred-time: 3000}
EOF
    ip netns exec "$S" "$BIN/pxed" -c "$1/pxed.yaml" >"$1/server.log" 2>&1 &
    SPID=$!
}
start_kea() {
    cat >"$1/kea6.json" <<EOF
{ "Dhcp6": {
    "interfaces-config": { "interfaces": [ "$VS" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "$1/kea-leases6.csv", "lfc-interval": 0 },
    "preferred-lifetime": 3000, "valid-lifetime": 3600,
    "server-id": { "type": "LL", "persist": false },
    "subnet6": [ { "id": 1, "subnet": "fd00:79::/64", "interface": "$VS",
                   "pools": [ { "pool": "fd00:79::1:0 - fd00:79::ffff:ffff" } ] } ],
    "loggers": [ { "name": "kea-dhcp6", "severity": "WARN", "output_options": [ { "output": "$1/server.log" } ] } ] } }
EOF
    KEA_PIDFILE_DIR="$1" KEA_LOCKFILE_DIR="$1" ip netns exec "$S" kea-dhcp6 -c "$1/kea6.json" >"$1/server.out" 2>&1 &
    SPID=$!
}
wait_ready() {
    for _ in $(seq 20); do
        kill -0 "$SPID" 2>/dev/null || return 1
        ip netns exec "$C" timeout 5 perfdhcp -6 -l "$VC" -R 1 -r 5 -p 1 -W 300000 2>/dev/null |
            awk '/SOLICIT-ADVERTISE/{f=1} f && /received packets: [1-9]/{ok=1} END{exit !ok}' && return 0
        sleep 0.5
    done
    return 1
}
# UDP datagrams dropped because a socket's receive queue was full, in namespace $1.
rcvbuf_errors() { ip netns exec "$1" nstat -asz Udp6RcvbufErrors 2>/dev/null | awk '/Udp6RcvbufErrors/{print $2; f=1} END{if(!f) print 0}'; }
run_step() { # SERVER RATE -> "rate got sa_drop rr_drop srv_ovf cli_ovf"
    local dir=$W/$1-$2 s0 c0
    mkdir -p "$dir"
    "start_$1" "$dir"
    wait_ready || { stop_server; echo "$2 - - - - -"; return; }
    s0=$(rcvbuf_errors "$S"); c0=$(rcvbuf_errors "$C")
    ip netns exec "$C" timeout $((PERIOD + 30)) perfdhcp -6 -l "$VC" -R "$CLIENTS" -r "$2" -p "$PERIOD" -W 1000000 >"$dir/p.out" 2>&1
    echo "$(( $(rcvbuf_errors "$S") - s0 )) $(( $(rcvbuf_errors "$C") - c0 ))" > "$dir/ovf"
    stop_server
    python3 - "$dir/p.out" "$2" "$dir/ovf" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def block(n):
    m = re.search(r"\*\*\*Statistics for: " + n + r"\*\*\*(.*?)(?:\*\*\*|\Z)", t, re.S)
    return float(re.search(r"drops ratio: ([0-9.]+)", m.group(1)).group(1)) if m else None
r = re.search(r"Rate: ([0-9.]+)", t)
sa, rr = block("SOLICIT-ADVERTISE"), block("REQUEST-REPLY")
print(sys.argv[2], f"{float(r.group(1)):.0f}" if r else "-", sa if sa is not None else "-", rr if rr is not None else "-",
      open(sys.argv[3]).read().strip())
PY
}
echo "# DHCPv6 bench: perfdhcp -6, $CLIENTS clients, ${PERIOD}s per step; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); kea-dhcp6 $(kea-dhcp6 -v)"
echo "| server | offered/s | exchanges/s | SOLICIT-ADVERTISE drop % | REQUEST-REPLY drop % | server queue overflows | client queue overflows |"
echo "|---|---|---|---|---|---|---|"
for server in $SERVERS; do
    for rate in $RATES; do
        read -r r got sa rr so co <<<"$(run_step "$server" "$rate")"
        echo "| $server | $r | $got | $sa | $rr | $so | $co |"
    done
done
