#!/bin/bash
# Crash safety of leases: DHCP load (many distinct clients through a relay, in namespaces made
# here), pxed killed with SIGKILL at random moments and restarted, KILLS times. After every
# restart: each address a client got an ACK for is still leased to that client, no address went
# to two clients, and the journal replays (a torn last record is skipped with a warning).
set -u
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$REPO/.build/debug}
KILLS=${KILLS:-20}
. "$(dirname "$0")/common.sh"
T=$(mktemp -d); PID=; SRV=; CLI=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; wait 2>/dev/null; ns_pair_remove; rm -rf "$T"; }
trap cleanup EXIT
ns_pair lc 10.81.0
cat > "$T/pxed.yaml" <<YAML
lease-file: $T/leases
interfaces:
  $SIF:
    address: 10.81.0.1
    dhcp: {subnet: 10.81.0.0/16, range: 10.81.1.0-10.81.250.255, lease-time: 86400}
YAML
start() {
  ip netns exec "$SRV" "$BIN/pxed" -c "$T/pxed.yaml" >> "$T/log" 2>&1 &
  PID=$!
  for i in $(seq 1 100); do [ "$(grep -c 'pxed started' "$T/log")" -ge "$1" ] && return 0; sleep 0.05; done
  return 1
}
verify() {
  "$BIN/pxed" leases --lease-file "$T/leases" > "$T/table" 2> "$T/warn" || return 1
  python3 - "$T/acks" "$T/table" <<'PY'
import sys
acks = [l.split() for l in open(sys.argv[1]) if l.strip()]
rows = [l.split() for l in open(sys.argv[2]).readlines()[1:] if l.strip()]
leased = {r[1]: r[0] for r in rows if r[-1] == "active"}
byip = {}
bad = 0
for mac, ip in acks:
    if byip.setdefault(ip, mac) != mac:
        print("address %s ACKed to %s and %s" % (ip, byip[ip], mac)); bad += 1
latest = {}
for mac, ip in acks: latest[mac] = ip
for mac, ip in latest.items():
    if leased.get(ip) != mac:
        print("ACKed %s -> %s but lease file says %s" % (mac, ip, leased.get(ip))); bad += 1
print("%d ACKs checked, %d leases in file" % (len(latest), len(leased)))
sys.exit(1 if bad else 0)
PY
}
: > "$T/acks"; : > "$T/log"
ok=0
for k in $(seq 1 "$KILLS"); do
  start "$k" || { fail "restart $k" "pxed did not start"; break; }
  ip netns exec "$CLI" python3 "$(dirname "$0")/tools/dhcp_load.py" --server 10.81.0.1 --giaddr 10.81.0.2 \
    --count 20000 --seconds 2.5 --mac-base $((k * 1000)) --acks "$T/acks" --timeout 0.5 --drain 0 > "$T/load.$k" 2>&1 &
  LOAD=$!
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.2, 1.2), 2))')"
  kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
  wait "$LOAD"
  if verify > "$T/verify.$k" 2>&1; then ok=$((ok + 1)); else fail "kill $k" "$(cat "$T/verify.$k" | head -3)"; fi
done
check "all $KILLS SIGKILLs lost no ACKed lease ($(tail -1 "$T/verify.$KILLS" 2>/dev/null))" test "$ok" -eq "$KILLS"
start $((KILLS + 1)) && check "journal replays after the last kill" verify
interrupted=$(grep -l "unfinished [1-9]" "$T"/load.* 2>/dev/null | wc -l)
check "the kills landed mid-load ($interrupted of $KILLS runs had exchanges in flight)" test "$interrupted" -ge $(( (KILLS + 1) / 2 ))
check "no ACK ever went out for two clients, and load ran ($(wc -l < "$T/acks") ACKs in all)" test "$(wc -l < "$T/acks")" -gt 100
grep -i "warning" "$T/log" | head -3
summary
