#!/bin/bash
# Crash safety of leases: DHCP load (many distinct clients through a relay, in namespaces made
# here), pxed killed with SIGKILL at random moments and restarted, KILLS times. After every
# restart: each address a client got an ACK for is still leased to that client, no address went
# to two clients, and the journal replays (a torn last record is skipped with a warning).
# The same for DHCPv6 (KILLS6 times, default 10): REPLYs to relayed SOLICIT/REQUEST exchanges
# (tools/dhcp6_load.py) checked against the DHCPv6 records of the same lease file.
. "$(dirname "$0")/lib.sh"
lib_init lease-crash 480 pxed
KILLS=${KILLS:-20}
ns_pair lc 10.81.0.1/16 10.81.0.2/16 || { fail setup "namespace pair"; finish; }
cat > "$TMP/pxed.yaml" <<YAML
lease-file: $TMP/leases
control-socket: $TMP/control.sock
interfaces:
  $SIF:
    address: 10.81.0.1
    dhcp: {subnet: 10.81.0.0/16, range: 10.81.1.0-10.81.250.255, lease-time: 86400}
    dhcp6: {prefix: "fd00:81::/64", range: "fd00:81::1:0-fd00:81::ff:ffff", lease-time: 86400, preferred-time: 43200}
YAML
for ns in "$SRV" "$CLI"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 >/dev/null; done
ip -n "$SRV" -6 addr add fd00:81::1/64 dev "$SIF" nodad
ip -n "$CLI" -6 addr add fd00:81::2/64 dev "$CIF" nodad
verify() {
  "$BIN/pxed" leases --lease-file "$TMP/leases" > "$TMP/table" 2> "$TMP/warn" || return 1
  python3 - "$TMP/acks" "$TMP/table" <<'PY'
import sys
acks = [l.split() for l in open(sys.argv[1]) if l.strip()]
# The DHCPv4 table ends at the first blank line (the DHCPv6 table follows it).
text = open(sys.argv[2]).read().split("\n\n")[0]
rows = [l.split() for l in text.splitlines()[1:] if l.strip()]
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

# --- DHCPv6 ---------------------------------------------------------------------------------------
KILLS6=${KILLS6:-10}
verify6() {
  python3 - "$TMP/acks6" "$TMP/leases" <<'PY'
import sys
acks = [l.split() for l in open(sys.argv[1]) if l.strip()]
# DHCPv6 records share the lease file with DHCPv4: "6 ADDR STATE EXPIRY DUID IAID *CRC".
latest = {}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) == 7 and f[0] == "6":
        latest[f[1]] = (f[4], f[2])
byaddr, bad = {}, 0
for duid, addr in acks:
    if byaddr.setdefault(addr, duid) != duid:
        print("address %s replied to %s and %s" % (addr, byaddr[addr], duid)); bad += 1
for duid, addr in acks:
    if latest.get(addr) != (duid, "active"):
        print("REPLY %s -> %s but the journal says %s" % (duid, addr, latest.get(addr))); bad += 1
print("%d REPLYs checked, %d addresses in the journal" % (len(acks), len(latest)))
sys.exit(1 if bad else 0)
PY
}
stop "$PXED_PID"
: > "$TMP/acks6"
ok6=0
for k in $(seq 1 "$KILLS6"); do
  start_pxed "$TMP/log" "$TMP/pxed.yaml" "$SRV" || { fail "v6 restart $k" "pxed did not start"; break; }
  wait_log "$TMP/log" "DHCPv6 listening" 5 "$((KILLS + 1 + k))" >/dev/null
  spawn "$TMP/load6.$k" ip netns exec "$CLI" python3 "$(dirname "$0")/tools/dhcp6_load.py" --server fd00:81::1 \
    --link fd00:81:: --count 20000 --seconds 2.5 --base $((k * 100000)) --acks "$TMP/acks6" --timeout 0.5
  LOAD=$SPAWNED
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.3, 1.2), 2))')"
  stop "$PXED_PID" KILL
  wait "$LOAD"
  if verify6 > "$TMP/verify6.$k" 2>&1; then ok6=$((ok6 + 1)); else fail "v6 kill $k" "$(head -3 "$TMP/verify6.$k")"; fi
done
check "all $KILLS6 SIGKILLs under DHCPv6 load lost no replied lease ($(tail -1 "$TMP/verify6.$KILLS6" 2>/dev/null))" test "$ok6" -eq "$KILLS6"
check "DHCPv6 load ran ($(wc -l < "$TMP/acks6") REPLYs in all)" test "$(wc -l < "$TMP/acks6")" -gt 100
interrupted6=$(grep -l "unfinished [1-9]" "$TMP"/load6.* 2>/dev/null | wc -l)
check "the DHCPv6 kills landed mid-load ($interrupted6 of $KILLS6 runs had exchanges in flight)" test "$interrupted6" -ge $(( (KILLS6 + 1) / 2 ))
grep -i "warning" "$TMP/log" | head -3
finish
