#!/bin/bash
# Two pxed servers sharing their DHCPv4 leases in PostgreSQL (issue 19). Everything lives in
# namespaces made here: a link namespace with a bridge (and the throwaway PostgreSQL cluster on
# 10.90.0.254), one namespace per server, one for the clients (busybox udhcpc on their own veths,
# and tools/dhcp_load.py as a relay agent that forwards every message to both servers).
#   1. udhcpc clients each get one address; the database agrees with them.
#   2. load through both servers: every client one address, no address twice, the database
#      holds every ACKed lease for the client that got it, both servers served.
#   3. the race, forced: an 8-address relay pool and 16 clients, 8 sent to each server alone,
#      at once: at most 8 ACKs, no address twice, the losers NAKed ("claim lost").
#   4. kill -9 one server under load: the other keeps granting new leases and renewing the
#      killed one's clients at their addresses; the killed one restarts and serves the same leases.
#   5. PostgreSQL stopped for 10 s under load: known clients keep their addresses (for what is
#      left of their leases), new clients get nothing (logged, counted), then are served once it
#      is back; nothing ACKed is missing from the database afterwards.
#   6. a reload moves a server from the database to its journal and back.
# TFTP is served by A throughout; a download during the outage must not wait for the database.
. "$(dirname "$0")/lib.sh"
lib_init lease-shared 420 pxed
need udhcpc python3 ip timeout || finish
LOAD_TOOL=$(dirname "$0")/tools/dhcp_load.py
PORT=15433
LNK=pxsh-l-$$ SA=pxsh-a-$$ SB=pxsh-b-$$ CL=pxsh-c-$$
ns_add $LNK && ns_add $SA && ns_add $SB && ns_add $CL || { fail setup "namespaces"; finish; }
ip -n $LNK link add br0 type bridge && ip -n $LNK link set br0 up && ip -n $LNK addr add 10.90.0.254/16 dev br0 || { fail setup "bridge"; finish; }
# plug NS IFNAME: a veth from the bridge into NS.
plug() { ns_veth "$1" "$2" $LNK "l$2" && ip -n $LNK link set "l$2" master br0; }
plug $SA a0 && plug $SB b0 && plug $CL c0 || { fail setup "veths"; finish; }
ip -n $SA addr add 10.90.0.1/16 dev a0 && ip -n $SB addr add 10.90.0.2/16 dev b0
ip -n $CL addr add 10.90.0.100/16 dev c0 && ip -n $CL addr add 10.91.0.1/16 dev c0 && ip -n $CL addr add 10.91.0.2/16 dev c0
# Replies to the relay subnet's giaddrs go back through the clients' namespace.
ip -n $SA route add 10.91.0.0/16 via 10.90.0.100 && ip -n $SB route add 10.91.0.0/16 via 10.90.0.100
for i in 1 2 3 4; do
  plug $CL u$i && ip -n $CL link set u$i address 02:00:00:90:00:0$i
done

# --- the database ---------------------------------------------------------------------------------
pg_cluster $PORT 10.90.0.254 $LNK || finish
check "role and database" pgc_role_db pxed pxed-pw
printf 'pxed-pw\n' > "$TMP/db-password"; chmod 600 "$TMP/db-password"
# server NAME IFNAME ADDRESS: its configuration file.
server_config() {
  cat > "$TMP/$1.yaml" <<YAML
control-socket: $TMP/$1.sock
lease-store:
  backend: postgresql
  url: postgresql://pxed@10.90.0.254:$PORT/pxed
  password-file: $TMP/db-password
  connect-timeout: 2
interfaces:
  $2:
    address: $3
    tftp: {root: $TMP/tftp}
    dhcp:
      subnet: 10.90.0.0/16
      range: 10.90.1.0-10.90.40.255
      lease-time: 3600
      relay-subnets:
        - {subnet: 10.91.0.0/16, range: 10.91.1.1-10.91.1.8, lease-time: 3600}
YAML
}
mkdir -p "$TMP/tftp" && head -c 3000000 /dev/urandom > "$TMP/tftp/kernel"
server_config a a0 10.90.0.1
server_config b b0 10.90.0.2
out=$(ip netns exec $SA "$BIN/pxed" db init -c "$TMP/a.yaml" 2>&1)
check_why "pxed db init over the bridge" "$out" grep -q "schema created" <<<"$out"
start_pxed "$TMP/a.log" "$TMP/a.yaml" $SA || { fail "server A starts" "$(tail -3 "$TMP/a.log")"; finish; }
A_PID=$PXED_PID
start_pxed "$TMP/b.log" "$TMP/b.yaml" $SB || { fail "server B starts" "$(tail -3 "$TMP/b.log")"; finish; }
B_PID=$PXED_PID
pass "two servers started on one database"

# rows: "mac ip state expiry" for every row.
rows() { DB=pxed psql_q "SELECT coalesce(mac, '-'), host(address), state, expiry FROM pxed_leases4" | tr '|' ' '; }
# verify ACKFILE...: every client's latest ACK is its active row in the database, no client holds
# two active rows, and no address was ACKed to two clients.
verify() {
  rows > "$TMP/rows" || { echo "psql failed"; return 1; }
  python3 - "$TMP/rows" "$@" <<'PY'
import sys, time
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
now = time.time()
active = {}
bymac = {}
for mac, ip, state, expiry in rows:
    if state == "active" and int(expiry) > now:
        active[ip] = mac
        bymac.setdefault(mac, []).append(ip)
bad = 0
for mac, ips in bymac.items():
    if len(ips) > 1: print("client %s holds %s" % (mac, ips)); bad += 1
latest, byip = {}, {}
for f in sys.argv[2:]:
    for line in open(f):
        p = line.split()
        if len(p) != 2: continue
        mac, ip = p
        latest[mac] = ip
for mac, ip in latest.items():
    if byip.setdefault(ip, mac) != mac: print("address %s ACKed to %s and %s" % (ip, byip[ip], mac)); bad += 1
    if active.get(ip) != mac: print("ACK %s -> %s, database says %s" % (mac, ip, active.get(ip))); bad += 1
print("%d clients checked against %d active rows" % (len(latest), len(active)))
sys.exit(1 if bad else 0)
PY
}
# load NAME SERVERS GIADDR MACBASE COUNT SECONDS [extra]: one dhcp_load.py run in the clients' namespace.
load() {
  local name=$1 servers=$2 giaddr=$3 base=$4 count=$5 secs=$6; shift 6
  ip netns exec $CL timeout $((secs + 20)) python3 "$LOAD_TOOL" --server "$servers" --giaddr "$giaddr" \
    --mac-base "$base" --count "$count" --seconds "$secs" --acks "$TMP/acks.$name" "$@" > "$TMP/load.$name" 2>&1
  touch "$TMP/acks.$name"
}
acked() { sed -n 's/^acked \([0-9]*\).*/\1/p' "$TMP/load.$1"; }
BOTH=10.90.0.1,10.90.0.2

# --- 1. udhcpc --------------------------------------------------------------------------------------
UDHCPC_SCRIPT=$TMP/udhcpc-script
cat > "$UDHCPC_SCRIPT" <<'EOF'
#!/bin/sh
case "$1" in
  bound|renew) echo "ip=$ip lease=$lease serverid=$serverid" > "$UDHCPC_OUT" ;;
esac
exit 0
EOF
chmod +x "$UDHCPC_SCRIPT"
run_udhcpc() { # IFNAME OUTFILE
  rm -f "$2"
  UDHCPC_OUT=$2 ip netns exec $CL timeout 15 udhcpc -i "$1" -f -q -n -t 4 -T 1 -s "$UDHCPC_SCRIPT" > "$2.log" 2>&1
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" "$2" 2>/dev/null; }
: > "$TMP/acks.udhcpc"
for i in 1 2 3 4; do
  if run_udhcpc u$i "$TMP/u$i"; then
    echo "02:00:00:90:00:0$i $(field ip "$TMP/u$i")" >> "$TMP/acks.udhcpc"
  fi
done
check_why "udhcpc: four clients, four addresses" "$(cat "$TMP/acks.udhcpc" | paste -sd';' -)" \
  bash -c "[ \$(awk '{print \$2}' '$TMP/acks.udhcpc' | sort -u | grep -c .) = 4 ]"
check_why "udhcpc: the database agrees with the clients" "$(verify "$TMP/acks.udhcpc" 2>&1 | tail -3)" verify "$TMP/acks.udhcpc"

# --- 2. load through both servers -------------------------------------------------------------------
load two $BOTH 10.90.0.100 0 600 15 --window 16 --restart-on-nak 3
check_why "load through both servers: all 600 clients ACKed ($(cat "$TMP/load.two"))" "$(cat "$TMP/load.two")" \
  [ "$(acked two)" = 600 ]
check_why "every ACKed lease is in the database, for its client; nobody holds two" "$(verify "$TMP/acks.two" 2>&1 | tail -3)" \
  verify "$TMP/acks.two" "$TMP/acks.udhcpc"
na=$(count_log "$TMP/a.log" " ack ") nb=$(count_log "$TMP/b.log" " ack ")
check_why "both servers granted leases (A $na, B $nb ACKs)" "A $na B $nb" [ "$na" -gt 0 ] && [ "$nb" -gt 0 ]

# --- 3. the race, forced ------------------------------------------------------------------------------
load raceA 10.90.0.1 10.91.0.1 10000 8 5 --window 8 &
RA=$!
load raceB 10.90.0.2 10.91.0.2 20000 8 5 --window 8 &
RB=$!
wait $RA; wait $RB
total=$(( $(acked raceA) + $(acked raceB) ))
naks=$(( $(sed -n 's/.* naks \([0-9]*\)/\1/p' "$TMP/load.raceA") + $(sed -n 's/.* naks \([0-9]*\)/\1/p' "$TMP/load.raceB") ))
lost=$(( $(count_log "$TMP/a.log" "claim lost") + $(count_log "$TMP/b.log" "claim lost") ))
check_why "race: 16 clients, 8 addresses: $total ACKs, no address twice" "$(cat "$TMP/acks.raceA" "$TMP/acks.raceB" | paste -sd';' -)" \
  bash -c "[ $total -le 8 ] && [ $total -ge 4 ] && [ \$(cat '$TMP/acks.raceA' '$TMP/acks.raceB' | awk '{print \$2}' | sort | uniq -d | grep -c .) = 0 ]"
check_why "race: the losing claims were NAKed ($naks NAKs, $lost 'claim lost' lines)" "$(grep -h 'claim lost' "$TMP/a.log" "$TMP/b.log" | head -2)" \
  bash -c "[ $naks -ge 1 ] && [ $lost -ge 1 ]"
check_why "race: the database holds each winner's address for it" "$(verify "$TMP/acks.raceA" "$TMP/acks.raceB" 2>&1 | tail -3)" \
  verify "$TMP/acks.raceA" "$TMP/acks.raceB"

# --- 4. kill -9 one server under load ------------------------------------------------------------------
spawn "$TMP/kill-load.out" ip netns exec $CL python3 "$LOAD_TOOL" --server $BOTH --giaddr 10.90.0.100 \
  --mac-base 30000 --count 400 --seconds 8 --window 8 --restart-on-nak 3 --acks "$TMP/acks.kill"
KL=$SPAWNED
sleep 2
stop "$A_PID" KILL
wait "$KL"
touch "$TMP/acks.kill"
after=$(sed -n 's/^acked \([0-9]*\).*/\1/p' "$TMP/kill-load.out")
check_why "A killed under load: the load went on through B ($(cat "$TMP/kill-load.out"))" "$(cat "$TMP/kill-load.out")" \
  bash -c "[ ${after:-0} -ge 300 ]"
# The 600 clients of step 2 (half of them A's) come back to B alone: same addresses.
load renewB 10.90.0.2 10.90.0.100 0 600 15 --window 16
check_why "with A dead, B serves all 600 earlier clients at their addresses ($(cat "$TMP/load.renewB"))" \
  "$(cat "$TMP/load.renewB"); $(diff <(sort "$TMP/acks.two") <(sort "$TMP/acks.renewB") | head -3)" \
  bash -c "[ $(acked renewB) = 600 ] && diff -q <(sort '$TMP/acks.two') <(sort '$TMP/acks.renewB') >/dev/null"
start_pxed "$TMP/a.log" "$TMP/a.yaml" $SA || fail "A restarts" "$(tail -3 "$TMP/a.log")"
A_PID=$PXED_PID
load renewA 10.90.0.1 10.90.0.100 0 600 15 --window 16
check_why "A restarted serves the same 600 leases ($(cat "$TMP/load.renewA"))" \
  "$(cat "$TMP/load.renewA"); $(diff <(sort "$TMP/acks.two") <(sort "$TMP/acks.renewA") | head -3)" \
  bash -c "[ $(acked renewA) = 600 ] && diff -q <(sort '$TMP/acks.two') <(sort '$TMP/acks.renewA') >/dev/null"
check_why "after the kill: every ACK in the database, nobody holds two" "$(verify "$TMP"/acks.* 2>&1 | tail -3)" verify "$TMP/acks.udhcpc" "$TMP/acks.two" "$TMP/acks.kill" "$TMP/acks.renewB" "$TMP/acks.renewA"

# --- 5. PostgreSQL stopped for 10 s under load ------------------------------------------------------------
# Known clients (step 2's) and new ones keep coming from a background load across the outage.
spawn "$TMP/outage-load.out" ip netns exec $CL python3 "$LOAD_TOOL" --server $BOTH --giaddr 10.90.0.100 \
  --mac-base 50000 --count 100000 --seconds 24 --window 4 --timeout 0.5 --restart-on-nak 3 --acks "$TMP/acks.outage"
OL=$SPAWNED
sleep 2
t0=$(date +%s)
check "PostgreSQL stopped" pgc_stop fast
sleep 1
load known 10.90.0.1 10.90.0.100 0 200 6 --window 8
check_why "database down: known clients keep their addresses ($(cat "$TMP/load.known"))" \
  "$(cat "$TMP/load.known"); $(diff <(sort "$TMP/acks.known") <(grep -F -f <(cut -d' ' -f1 "$TMP/acks.known") "$TMP/acks.two" | sort) | head -3)" \
  bash -c "[ $(acked known) = 200 ] && diff -q <(sort '$TMP/acks.known') <(grep -F -f <(cut -d' ' -f1 '$TMP/acks.known') '$TMP/acks.two' | sort) >/dev/null"
run_udhcpc u1 "$TMP/u1-outage"
lease=$(field lease "$TMP/u1-outage")
check_why "database down: udhcpc keeps its address, for what is left of its lease (${lease:-none} s < 3600)" \
  "$(cat "$TMP/u1-outage" "$TMP/u1-outage.log" 2>/dev/null | tail -3)" \
  bash -c "[ '$(field ip "$TMP/u1-outage")' = '$(field ip "$TMP/u1")' ] && [ -n '$lease' ] && [ '$lease' -lt 3600 ]"
load new 10.90.0.1,10.90.0.2 10.90.0.100 40000 20 3 --window 20 --timeout 0.5
check_why "database down: new clients get nothing ($(cat "$TMP/load.new"))" "$(cat "$TMP/load.new")" [ "$(acked new)" = 0 ]
check_why "database down: logged by both servers" "$(grep -h 'lease store unavailable' "$TMP/a.log" "$TMP/b.log" | head -2)" \
  bash -c "grep -q 'lease store unavailable' '$TMP/a.log' && grep -q 'lease store unavailable' '$TMP/b.log'"
status=$(ip netns exec $SA "$BIN/pxed" status -c "$TMP/a.yaml" 2>&1)
check_why "database down: counted (pxed status shows requests ignored and persist errors)" "$status" \
  bash -c "grep -Eq 'ignored=[1-9]' <<<'$status' && grep -Eq 'persist-errors=[1-9]' <<<'$status'"
kill -0 "$A_PID" && kill -0 "$B_PID" && pass "database down: both servers still running" || fail "database down: both servers still running" "a crash"
ip netns exec $CL timeout 20 curl -sS -o "$TMP/kernel.got" tftp://10.90.0.1/kernel 2>"$TMP/curl.err"
check_why "database down: TFTP is not held up (3 MB from A)" "$(cat "$TMP/curl.err")" cmp -s "$TMP/tftp/kernel" "$TMP/kernel.got"
check_why "database down: pxed status counts the leases A knows" "$(grep '^leases' <<<"$status")" \
  bash -c "grep -Eq '^leases: [1-9][0-9]* active' <<<'$status'"
sleep $(( 10 - ($(date +%s) - t0) > 0 ? 10 - ($(date +%s) - t0) : 0 ))
check "PostgreSQL back after $(( $(date +%s) - t0 )) s" pgc_start
wait_log "$TMP/a.log" "lease store available again" 30; wait_log "$TMP/b.log" "lease store available again" 30
check_why "both servers find the database again" "$(grep -h 'available again' "$TMP/a.log" "$TMP/b.log")" \
  bash -c "grep -q 'available again' '$TMP/a.log' && grep -q 'available again' '$TMP/b.log'"
load new2 $BOTH 10.90.0.100 40000 20 6 --window 20 --restart-on-nak 3
check_why "database back: the new clients are served ($(cat "$TMP/load.new2"))" "$(cat "$TMP/load.new2")" [ "$(acked new2)" = 20 ]
wait "$OL"
touch "$TMP/acks.outage"
check_why "the load across the outage ran ($(cat "$TMP/outage-load.out"))" "$(cat "$TMP/outage-load.out")" \
  bash -c "[ \$(wc -l < '$TMP/acks.outage') -ge 20 ]"
check_why "nothing ACKed is missing from the database; nobody holds two addresses" "$(verify "$TMP"/acks.* 2>&1 | tail -4)" \
  verify "$TMP/acks.udhcpc" "$TMP/acks.two" "$TMP/acks.raceA" "$TMP/acks.raceB" "$TMP/acks.kill" "$TMP/acks.renewB" \
    "$TMP/acks.renewA" "$TMP/acks.outage" "$TMP/acks.new2"

# --- 6. a reload changes the backend ---------------------------------------------------------------------
# rows_for MAC: how many database rows the client has.
rows_for() { DB=pxed psql_q "SELECT count(*) FROM pxed_leases4 WHERE mac = '$1'"; }
cp "$TMP/b.yaml" "$TMP/b-db.yaml"
sed -i "/^lease-store:/,/connect-timeout/d" "$TMP/b.yaml"
sed -i "1i lease-file: $TMP/b-journal" "$TMP/b.yaml"
kill -HUP "$B_PID"
wait_log "$TMP/b.log" "reload applied" 10
load toJournal 10.90.0.2 10.90.0.100 60000 5 4 --window 5
journal=$("$BIN/pxed" leases --lease-file "$TMP/b-journal" 2>&1)
check_why "reload to the journal: B's new leases go to its file, not the database ($(cat "$TMP/load.toJournal"))" \
  "$(grep -i reload "$TMP/b.log" | tail -2); $journal" \
  bash -c "[ $(acked toJournal) = 5 ] && [ \$(grep -c '02:70:00:00:ea:6' <<<'$journal') = 5 ] && [ '$(rows_for 02:70:00:00:ea:60)' = 0 ]"
cp "$TMP/b-db.yaml" "$TMP/b.yaml"
kill -HUP "$B_PID"
wait_log "$TMP/b.log" "reload applied" 10 2
load toDatabase 10.90.0.2 10.90.0.100 61000 5 4 --window 5
check_why "reload back to the database: B's new leases are rows again ($(cat "$TMP/load.toDatabase"))" \
  "$(grep -i reload "$TMP/b.log" | tail -2)" \
  bash -c "[ $(acked toDatabase) = 5 ] && [ '$(rows_for 02:70:00:00:ee:48)' = 1 ]"
finish
