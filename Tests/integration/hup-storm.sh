#!/bin/bash
# SIGHUP storm: RELOADS reloads in a tight loop while DHCP clients take leases and TFTP clients
# download files. Pass: no lease lost, no exchange failed, no transfer failed, pxed still up.
. "$(dirname "$0")/lib.sh"
lib_init hup-storm 300 pxed ptftp
RELOADS=${RELOADS:-100}
ns_pair hu 10.83.0.1/16 10.83.0.2/16 || { fail setup "namespace pair"; finish; }
mkdir -p "$TMP/root"; head -c 2097152 /dev/urandom > "$TMP/root/f.bin"; WANT=$(sha "$TMP/root/f.bin")
write_config() { # a host count that changes with every reload, so each one applies a real change
cat > "$TMP/pxed.yaml.new" <<YAML
lease-file: $TMP/leases
control-socket: $TMP/control.sock
tftp: {root: $TMP/root}
interfaces:
  $SIF:
    address: 10.83.0.1
    tftp: true
    dhcp: {subnet: 10.83.0.0/16, range: 10.83.1.0-10.83.250.255, lease-time: 86400}
hosts:
$(for i in $(seq 1 $(( $1 % 7 + 1 ))); do printf '  - {mac: "52:54:00:83:00:%02x", ip: 10.83.0.%d}\n' "$i" $((i + 10)); done)
YAML
mv "$TMP/pxed.yaml.new" "$TMP/pxed.yaml"   # atomic, as an admin's editor or config tool would
}
write_config 0
start_pxed "$TMP/log" "$TMP/pxed.yaml" "$SRV" || { fail setup "pxed did not start: $(tail -n 5 "$TMP/log")"; finish; }
PID=$PXED_PID
spawn "$TMP/dhcp" ip netns exec "$CLI" python3 "$(dirname "$0")/tools/dhcp_load.py" --server 10.83.0.1 --giaddr 10.83.0.2 \
  --count 1500 --seconds 20 --window 8 --acks "$TMP/acks" --timeout 1
LOAD=$SPAWNED
downloads() { # six downloads in a row; writes "OK BAD"
  local ok=0 bad=0 i
  for i in $(seq 1 6); do
    if ip netns exec "$CLI" timeout 60 "$BIN/ptftp" -w 8 10.83.0.1 -c get -f f.bin "$TMP/got.$i" >/dev/null 2>&1 && [ "$(sha "$TMP/got.$i")" = "$WANT" ]
    then ok=$((ok+1)); else bad=$((bad+1)); fi
  done; echo "$ok $bad" > "$TMP/tftp"
}
spawn "$TMP/downloads.log" downloads
DL=$SPAWNED
for r in $(seq 1 "$RELOADS"); do write_config "$r"; kill -HUP "$PID"; sleep 0.02; done
wait "$LOAD"; wait "$DL"
sleep 1
applied=$(count_log "$TMP/log" "reload applied"); rejected=$(count_log "$TMP/log" "reload rejected")
check "pxed alive after $RELOADS SIGHUPs" alive "$PID"
check "reloads applied ($applied applied, $rejected rejected; signals sent while one runs may coalesce)" test "$applied" -ge 1 -a "$rejected" -eq 0
check "every DHCP exchange completed ($(cat "$TMP/dhcp"))" grep -q "failed 0 unfinished 0" "$TMP/dhcp"
read -r ok bad < "$TMP/tftp"
check "every TFTP transfer completed intact ($ok ok, $bad failed)" test "$bad" -eq 0 -a "$ok" -eq 6
"$BIN/pxed" leases --lease-file "$TMP/leases" > "$TMP/table"
check "every ACKed lease is in the lease file" python3 -c "
import sys
acks=[l.split() for l in open('$TMP/acks') if l.strip()]
rows={l.split()[1]: l.split()[0] for l in open('$TMP/table').readlines()[1:] if l.strip()}
missing=[a for a in acks if rows.get(a[1]) != a[0]]
print(len(acks), 'acks,', len(missing), 'missing'); sys.exit(1 if missing else 0)"
finish
