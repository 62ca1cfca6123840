#!/bin/bash
# Crash safety of leases: DHCP load (many distinct clients through a relay, in namespaces made
# here), pxed killed with SIGKILL at random moments and restarted, KILLS times. After every
# restart: each address a client got an ACK for is still leased to that client, no address went
# to two clients, and the journal replays (a torn last record is skipped with a warning).
. "$(dirname "$0")/lib.sh"
lib_init lease-crash 420 pxed
KILLS=${KILLS:-20}
ns_pair lc 10.81.0.1/16 10.81.0.2/16 || { fail setup "namespace pair"; finish; }
cat > "$TMP/pxed.yaml" <<YAML
lease-file: $TMP/leases
interfaces:
  $SIF:
    address: 10.81.0.1
    dhcp: {subnet: 10.81.0.0/16, range: 10.81.1.0-10.81.250.255, lease-time: 86400}
YAML
verify() {
  "$BIN/pxed" leases --lease-file "$TMP/leases" > "$TMP/table" 2> "$TMP/warn" || return 1
  python3 - "$TMP/acks" "$TMP/table" <<'PY'
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
: > "$TMP/acks"
ok=0
for k in $(seq 1 "$KILLS"); do
  start_pxed "$TMP/log" "$TMP/pxed.yaml" "$SRV" || { fail "restart $k" "pxed did not start"; break; }
  spawn "$TMP/load.$k" ip netns exec "$CLI" python3 "$(dirname "$0")/tools/dhcp_load.py" --server 10.81.0.1 --giaddr 10.81.0.2 \
    --count 20000 --seconds 2.5 --mac-base $((k * 1000)) --acks "$TMP/acks" --timeout 0.5 --drain 0
  LOAD=$SPAWNED
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.2, 1.2), 2))')"
  stop "$PXED_PID" KILL
  wait "$LOAD"
  if verify > "$TMP/verify.$k" 2>&1; then ok=$((ok + 1)); else fail "kill $k" "$(head -3 "$TMP/verify.$k")"; fi
done
check "all $KILLS SIGKILLs lost no ACKed lease ($(tail -1 "$TMP/verify.$KILLS" 2>/dev/null))" test "$ok" -eq "$KILLS"
if start_pxed "$TMP/log" "$TMP/pxed.yaml" "$SRV"; then check "journal replays after the last kill" verify
else fail "journal replays after the last kill" "pxed did not start"; fi
interrupted=$(grep -l "unfinished [1-9]" "$TMP"/load.* 2>/dev/null | wc -l)
check "the kills landed mid-load ($interrupted of $KILLS runs had exchanges in flight)" test "$interrupted" -ge $(( (KILLS + 1) / 2 ))
check "no ACK ever went out for two clients, and load ran ($(wc -l < "$TMP/acks") ACKs in all)" test "$(wc -l < "$TMP/acks")" -gt 100
grep -i "warning" "$TMP/log" | head -3
finish
