#!/bin/bash
# Observability: pxed's Prometheus endpoint read back through a real Prometheus (Debian's
# `prometheus`, scraping every second on loopback inside the server namespace), `promtool check
# metrics` on the exposition, `pxed status --json` against the traffic this script made, the
# control socket refusing a non-root user, and reload counters. Traffic: N relayed DORAs
# (tools/dhcp_load.py), M TFTP and H HTTP downloads of a file of known size, one TFTP transfer
# held open (its client stops ACKing) so status shows it in flight.
. "$(dirname "$0")/lib.sh"
lib_init metrics 300 pxed
need prometheus promtool curl python3 setpriv || finish
N=24 M=3 H=2
ns_pair mt 10.83.0.1/16 10.83.0.2/16 || { fail setup "namespace pair"; finish; }
ROOT=$TMP/root
mkdir -p "$ROOT"
SIZE=$((700 * 1024 + 13))
head -c "$SIZE" /dev/urandom > "$ROOT/kernel"
CFG=$TMP/pxed.yaml
write_config() { # EXTRA-TOP-LEVEL-LINE
cat > "$CFG" <<YAML
lease-file: $TMP/leases
control-socket: $TMP/run/control.sock
metrics: {listen: "127.0.0.1:9167"}
tftp: {root: $ROOT, timeout: 1, retries: 3}
http: {port: 8080}
interfaces:
  $SIF:
    address: 10.83.0.1
    address6: off
    tftp: true
    http: true
    dhcp: {subnet: 10.83.0.0/16, range: 10.83.1.0-10.83.1.255, lease-time: 3600}
$1
YAML
}
write_config ""
LOG=$TMP/pxed.log
start_pxed "$LOG" "$CFG" "$SRV" || { fail setup "pxed did not start: $(tail -3 "$LOG" | tr '\n' '|')"; finish; }
check_why "the metrics listener is up" "$(grep -i metrics "$LOG" | head -2 | tr '\n' '|')" \
    wait_log "$LOG" "metrics: serving Prometheus metrics on http://127.0.0.1:9167/metrics" 5
s() { ip netns exec "$SRV" "$@"; }
c() { ip netns exec "$CLI" "$@"; }

# --- Prometheus, scraping pxed ------------------------------------------------------------------
cat > "$TMP/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: pxed
    static_configs: [{targets: ["127.0.0.1:9167"]}]
YAML
spawn "$TMP/prometheus.log" ip netns exec "$SRV" prometheus --config.file="$TMP/prometheus.yml" \
    --storage.tsdb.path="$TMP/tsdb" --web.listen-address=127.0.0.1:9090 --log.level=warn
PROM=$SPAWNED
query() { # PROMQL -> the value, or nothing
    s curl -sS -G --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query 2>/dev/null |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null
}
prom_equals() { # PROMQL WANT SECONDS: Prometheus returns WANT within SECONDS (it scrapes every second)
    local i
    for ((i = 0; i < $3 * 4; i++)); do
        [ "$(query "$1")" = "$2" ] && return 0
        sleep 0.25
    done
    return 1
}
check_why "Prometheus scrapes pxed (up == 1)" "up=$(query 'up{job="pxed"}'); $(tail -2 "$TMP/prometheus.log" | tr '\n' '|')" \
    prom_equals 'up{job="pxed"}' 1 30

# --- traffic ------------------------------------------------------------------------------------
c python3 "$(dirname "$0")/tools/dhcp_load.py" --server 10.83.0.1 --giaddr 10.83.0.2 --count "$N" --seconds 10 \
    --acks "$TMP/acks" --timeout 1 > "$TMP/load.out" 2>&1
ACKS=$(wc -l < "$TMP/acks")
check_why "the relay load got $N ACKs" "$(cat "$TMP/load.out")" test "$ACKS" -eq "$N"
mkdir -p "$TMP/dl"
for i in $(seq "$M"); do c curl -sS -o "$TMP/dl/t$i" "tftp://10.83.0.1/kernel"; done
for i in $(seq "$H"); do c curl -sS -o "$TMP/dl/h$i" "http://10.83.0.1:8080/kernel"; done
c curl -sS -o /dev/null "http://10.83.0.1:8080/missing" 2>/dev/null
check "the $((M + H)) downloads are byte-identical" bash -c "[ \$(ls $TMP/dl | wc -l) -eq $((M + H)) ] && for f in $TMP/dl/*; do cmp -s $ROOT/kernel \$f || exit 1; done"

I="interface=\"$SIF\""
check_why "Prometheus: $N ACKs (pxed_dhcp_acks_total)" "got $(query "pxed_dhcp_acks_total{$I}")" \
    prom_equals "pxed_dhcp_acks_total{$I}" "$N" 15
check_why "Prometheus: $N DISCOVERs and $N REQUESTs received" \
    "discover=$(query "pxed_dhcp_packets_received_total{$I,type=\"discover\"}") request=$(query "pxed_dhcp_packets_received_total{$I,type=\"request\"}")" \
    eval "prom_equals 'pxed_dhcp_packets_received_total{$I,type=\"discover\"}' $N 5 && prom_equals 'pxed_dhcp_packets_received_total{$I,type=\"request\"}' $N 5"
check_why "Prometheus: $N OFFERs and $N ACKs sent" \
    "offer=$(query "pxed_dhcp_packets_sent_total{$I,type=\"offer\"}") ack=$(query "pxed_dhcp_packets_sent_total{$I,type=\"ack\"}")" \
    eval "prom_equals 'pxed_dhcp_packets_sent_total{$I,type=\"offer\"}' $N 5 && prom_equals 'pxed_dhcp_packets_sent_total{$I,type=\"ack\"}' $N 5"
check_why "Prometheus: the pool gauge says $N assigned of 256, $((256 - N)) free" \
    "assigned=$(query "pxed_dhcp_pool_assigned{$I}") free=$(query "pxed_dhcp_pool_free{$I}") size=$(query "pxed_dhcp_pool_size{$I}")" \
    eval "prom_equals 'pxed_dhcp_pool_assigned{$I,pool=\"10.83.0.0/16\"}' $N 5 && prom_equals 'pxed_dhcp_pool_free{$I}' $((256 - N)) 5 && prom_equals 'pxed_dhcp_pool_size{$I}' 256 5"
check_why "Prometheus: every commit timed (fsync histogram count == commits, > 0)" \
    "commits=$(query pxed_lease_commits_total) count=$(query pxed_lease_fsync_duration_seconds_count) records=$(query pxed_lease_records_committed_total)" \
    eval '[ "$(query pxed_lease_commits_total)" = "$(query pxed_lease_fsync_duration_seconds_count)" ] && [ "$(query pxed_lease_commits_total)" -gt 0 ] && prom_equals pxed_lease_records_committed_total '"$N"' 5'
check_why "Prometheus: $M TFTP transfers completed, $((M * SIZE)) bytes sent" \
    "completed=$(query "pxed_tftp_transfers_total{$I,outcome=\"completed\"}") bytes=$(query "pxed_tftp_bytes_total{$I,direction=\"sent\"}")" \
    eval "prom_equals 'pxed_tftp_transfers_total{$I,outcome=\"completed\"}' $M 5 && prom_equals 'pxed_tftp_bytes_total{$I,direction=\"sent\"}' $((M * SIZE)) 5"
check_why "Prometheus: TFTP duration histogram counted $M" "$(query "pxed_tftp_transfer_duration_seconds_count{$I}")" \
    prom_equals "pxed_tftp_transfer_duration_seconds_count{$I}" "$M" 5
check_why "Prometheus: $H HTTP transfers, $((H * SIZE)) bytes, one 404" \
    "completed=$(query "pxed_http_transfers_total{$I,outcome=\"completed\"}") bytes=$(query "pxed_http_bytes_sent_total{$I}") 404=$(query "pxed_http_requests_total{$I,code=\"404\"}")" \
    eval "prom_equals 'pxed_http_transfers_total{$I,outcome=\"completed\"}' $H 5 && prom_equals 'pxed_http_bytes_sent_total{$I}' $((H * SIZE)) 5 && prom_equals 'pxed_http_requests_total{$I,code=\"404\"}' 1 5"
check_why "Prometheus: process figures (RSS > 1 MiB, open fds > 5)" \
    "rss=$(query process_resident_memory_bytes) fds=$(query process_open_fds)" \
    python3 -c "import sys; sys.exit(0 if float('$(query process_resident_memory_bytes)' or 0) > 1<<20 and float('$(query process_open_fds)' or 0) > 5 else 1)"

s curl -sS http://127.0.0.1:9167/metrics > "$TMP/exposition.txt"
check_why "promtool check metrics passes on the exposition" "$(promtool check metrics < "$TMP/exposition.txt" 2>&1 | head -3 | tr '\n' '|')" \
    bash -c "promtool check metrics < '$TMP/exposition.txt'"

# --- pxed status --------------------------------------------------------------------------------
# One TFTP transfer held open: the client reads two blocks, then stops ACKing.
cat > "$TMP/stall.py" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(b"\x00\x01kernel\x00octet\x00", (sys.argv[1], 69))
for block in (1, 2):
    data, peer = s.recvfrom(2048)
    s.sendto(struct.pack("!HH", 4, block), peer)
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
PY
spawn "$TMP/stall.out" ip netns exec "$CLI" python3 "$TMP/stall.py" 10.83.0.1 6
STALL=$SPAWNED
wait_log "$TMP/stall.out" holding 5 >/dev/null
"$BIN/pxed" status -c "$CFG" --json > "$TMP/status.json" 2> "$TMP/status.err"
cat > "$TMP/status_check.py" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); n, m, size = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
dhcp = [e for e in s["engines"] if e["kind"] == "dhcp"][0]["counters"]
tftp = [e for e in s["engines"] if e["kind"] == "tftp"][0]["counters"]
pool = s["pools"][0]
t = [x for x in s["transfers"] if x["protocol"] == "tftp"]
problems = []
if dhcp["acks"] != n: problems.append("acks %s" % dhcp["acks"])
if s["leases"]["active"] != n: problems.append("leases %s" % s["leases"])
if pool["assigned"] != n or pool["size"] != 256: problems.append("pool %s" % pool)
if tftp["completed"] != m: problems.append("tftp %s" % tftp)
if len(t) != 1 or t[0]["file"] != "kernel" or t[0]["size"] != size or not (1024 <= t[0]["bytes"] < size) \
        or not t[0]["client"].startswith("10.83.0.2:"):
    problems.append("transfers %s" % s["transfers"])
if s["generation"] != 1 or s.get("last_reload") is not None: problems.append("reload %s %s" % (s["generation"], s.get("last_reload")))
print("; ".join(problems) or "%d acks, %d leases, pool %d/%d, in flight: %s %d of %d bytes"
      % (dhcp["acks"], s["leases"]["active"], pool["assigned"], pool["size"], t[0]["file"], t[0]["bytes"], t[0]["size"]))
sys.exit(1 if problems else 0)
PY
check_why "pxed status --json agrees with the traffic (acks, leases, pool, the transfer in flight)" \
    "$(python3 "$TMP/status_check.py" "$TMP/status.json" "$N" "$M" "$SIZE" 2>&1 | tail -2; cat "$TMP/status.err")" \
    python3 "$TMP/status_check.py" "$TMP/status.json" "$N" "$M" "$SIZE"
"$BIN/pxed" status -c "$CFG" > "$TMP/status.txt" 2>&1
sed 's/^/  | /' "$TMP/status.txt"
check_why "pxed status (text) lists the transfer with its progress" "$(cat "$TMP/status.txt" | tr '\n' '|')" \
    grep -qE "^tftp +10\.83\.0\.2:[0-9]+ +kernel +[0-9.]+ (B|KiB) / 700\.0 KiB" "$TMP/status.txt"
wait "$STALL"
check_why "the abandoned transfer timed out and was counted" "timed_out=$(query "pxed_tftp_transfers_total{$I,outcome=\"timed_out\"}") retransmits=$(query "pxed_tftp_retransmits_total{$I}")" \
    eval "prom_equals 'pxed_tftp_transfers_total{$I,outcome=\"timed_out\"}' 1 15 && [ \"\$(query 'pxed_tftp_retransmits_total{$I}')\" -ge 1 ]"

# --- the control socket is root-only ------------------------------------------------------------
check_why "the socket file is 0600 root" "$(stat -c '%a %U' "$TMP/run/control.sock")" test "$(stat -c '%a %U' "$TMP/run/control.sock")" = "600 root"
chmod 755 "$TMP" "$TMP/run"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN/pxed" status --socket "$TMP/run/control.sock" > "$TMP/nobody.out" 2>&1
rc=$?
check_why "a non-root user is refused by the file mode" "rc=$rc $(cat "$TMP/nobody.out")" \
    eval '[ $rc -ne 0 ] && grep -q "permission denied" "$TMP/nobody.out"'
# With the mode opened up, the daemon still refuses by the peer's credentials (SO_PEERCRED).
chmod 666 "$TMP/run/control.sock"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN/pxed" status --socket "$TMP/run/control.sock" > "$TMP/nobody2.out" 2>&1
rc=$?
check_why "the daemon refuses a non-root peer by its credentials" "rc=$rc $(cat "$TMP/nobody2.out")" \
    eval '[ $rc -ne 0 ] && grep -q "error: permission denied (the control socket is for root)" "$TMP/nobody2.out"'
chmod 600 "$TMP/run/control.sock"

# --- reloads ------------------------------------------------------------------------------------
write_config "bogus-key: 1"
kill -HUP "$PXED_PID"
check_why "a rejected reload is counted" "rejected=$(query 'pxed_config_reloads_total{result="rejected"}') success=$(query pxed_config_last_reload_success)" \
    eval "prom_equals 'pxed_config_reloads_total{result=\"rejected\"}' 1 10 && prom_equals pxed_config_last_reload_success 0 5"
write_config ""
kill -HUP "$PXED_PID"
check_why "an applied reload is counted, generation 2" "applied=$(query 'pxed_config_reloads_total{result="applied"}') generation=$(query pxed_config_generation)" \
    eval "prom_equals 'pxed_config_reloads_total{result=\"applied\"}' 1 10 && prom_equals pxed_config_generation 2 5 && prom_equals pxed_config_last_reload_success 1 5"
"$BIN/pxed" status -c "$CFG" --json > "$TMP/status2.json"
check_why "pxed status shows the last reload" "$(python3 -c "import json; s=json.load(open('$TMP/status2.json')); print(s['generation'], s['last_reload'])")" \
    python3 -c "import json,sys; s=json.load(open('$TMP/status2.json')); sys.exit(0 if s['generation'] == 2 and s['last_reload']['result'] == 'applied' else 1)"
check_why "counters survived the reload (ACKs still $N)" "$(query "pxed_dhcp_acks_total{$I}")" prom_equals "pxed_dhcp_acks_total{$I}" "$N" 5
check "pxed still runs" alive "$PXED_PID"
stop "$PROM"
finish
