#!/bin/bash
# Storm: legitimate TFTP downloads and DHCP leases while a flood of malformed, truncated,
# oversized and semantically wrong TFTP/DHCP packets and abandoned RRQs hits pxed. All inside
# network namespaces made here. Pass: pxed never exits, every legitimate transfer and lease
# completes, max-sessions holds, peak RSS under RSS_LIMIT_MB, file descriptors back to baseline.
REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${BIN:-$REPO/.build/release}
SECONDS_FLOOD=${SECONDS_FLOOD:-30}
ABANDONED=${ABANDONED:-10000}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-128}
MAX_SESSIONS=${MAX_SESSIONS:-200}
. "$REPO/Tests/integration/lib.sh"
lib_init storm $((SECONDS_FLOOD * 3 + 240)) pxed ptftp
ns_pair st 10.82.0.1/16 10.82.0.2/16 || { fail setup "namespace pair"; finish; }
ip -n "$CLI" addr add 10.82.0.3/16 dev "$CIF"   # the flood's own relay address
mkdir -p "$TMP/root"; head -c 1048576 /dev/urandom > "$TMP/root/big.bin"; WANT=$(sha "$TMP/root/big.bin")
cat > "$TMP/pxed.yaml" <<YAML
lease-file: $TMP/leases
control-socket: $TMP/control.sock
tftp: {root: $TMP/root, timeout: 1, retries: 3, max-sessions: $MAX_SESSIONS}
interfaces:
  $SIF:
    address: 10.82.0.1
    tftp: true
    dhcp: {subnet: 10.82.0.0/16, range: 10.82.1.0-10.82.250.255, lease-time: 86400}
YAML
start_pxed "$TMP/log" "$TMP/pxed.yaml" "$SRV" || { fail setup "pxed did not start: $(tail -n 5 "$TMP/log")"; finish; }
PID=$PXED_PID
sleep 0.5
FD0=$(ls /proc/$PID/fd | wc -l)
echo "baseline: $FD0 file descriptors, RSS $(awk '/VmRSS/ {print $2/1024}' /proc/$PID/status) MiB"
spawn "$TMP/flood" ip netns exec "$CLI" python3 "$REPO/Tests/integration/tools/flood.py" --server 10.82.0.1 --giaddr 10.82.0.3 \
  --seconds "$SECONDS_FLOOD" --abandoned "$ABANDONED" --rate "${FLOOD_RATE:-5000}"
FLOOD=$SPAWNED
# Legitimate work alongside: downloads with ptftp and leases through a relay.
spawn "$TMP/dhcp" ip netns exec "$CLI" python3 "$REPO/Tests/integration/tools/dhcp_load.py" --server 10.82.0.1 --giaddr 10.82.0.2 \
  --count 2000 --seconds "$SECONDS_FLOOD" --window 8 --mac-base 500000 --acks "$TMP/acks" --timeout 1
DHCPLOAD=$SPAWNED
dl_ok=0; dl_bad=0; end=$((SECONDS + SECONDS_FLOOD))
while [ $SECONDS -lt $end ]; do
  if ip netns exec "$CLI" timeout 60 "$BIN/ptftp" --retries 10 10.82.0.1 -c get -f big.bin "$TMP/got" > /dev/null 2>&1 \
     && [ "$(sha "$TMP/got")" = "$WANT" ]; then dl_ok=$((dl_ok + 1)); else dl_bad=$((dl_bad + 1)); fi
  alive "$PID" || break
done
wait $FLOOD; wait $DHCPLOAD
cat "$TMP/flood"; echo "dhcp legit: $(cat "$TMP/dhcp")"
check "pxed never exited during the storm" alive "$PID"
check "every legitimate download completed intact ($dl_ok ok, $dl_bad failed)" test "$dl_bad" -eq 0 -a "$dl_ok" -gt 0
check "every legitimate lease completed ($(cat "$TMP/dhcp"))" grep -q "failed 0 unfinished 0" "$TMP/dhcp"
kill -USR1 "$PID"; sleep 0.3
grep "status:" "$TMP/log" | tail -3
maxactive=$(grep -o "active=[0-9]*" "$TMP/log" | cut -d= -f2 | sort -n | tail -1)
check "max-sessions held (status active=${maxactive:-0} <= $MAX_SESSIONS)" test "${maxactive:-0}" -le "$MAX_SESSIONS"
HWM=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$PID/status)
check "peak RSS ${HWM} MiB under ${RSS_LIMIT_MB} MiB" test "$HWM" -lt "$RSS_LIMIT_MB"
# Abandoned sessions time out (timeout 1 s, 3 retries with back-off: about 11 s).
for i in $(seq 1 40); do [ "$(ls /proc/$PID/fd | wc -l)" -le "$FD0" ] && break; sleep 0.5; done
FD1=$(ls /proc/$PID/fd | wc -l)
check "file descriptors back to baseline ($FD0 -> $FD1)" test "$FD1" -le "$FD0"
grep -cE "outcome=timed-out|outcome=failed\(closed by server\)" "$TMP/log" | sed 's/^/abandoned sessions ended: /'
finish
