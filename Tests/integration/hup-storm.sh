#!/bin/bash
# SIGHUP storm: RELOADS reloads in a tight loop while DHCP clients take leases and TFTP clients
# download files. Pass: no lease lost, no exchange failed, no transfer failed, pxed still up.
set -u
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$REPO/.build/debug}
RELOADS=${RELOADS:-100}
. "$(dirname "$0")/common.sh"
T=$(mktemp -d); PID=; SRV=; CLI=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; ns_pair_remove; rm -rf "$T"; }
trap cleanup EXIT
ns_pair hu 10.83.0
mkdir -p "$T/root"; head -c 2097152 /dev/urandom > "$T/root/f.bin"; WANT=$(sha "$T/root/f.bin")
write_config() { # a host count that changes with every reload, so each one applies a real change
cat > "$T/pxed.yaml.new" <<YAML
lease-file: $T/leases
tftp: {root: $T/root}
interfaces:
  $SIF:
    address: 10.83.0.1
    tftp: true
    dhcp: {subnet: 10.83.0.0/16, range: 10.83.1.0-10.83.250.255, lease-time: 86400}
hosts:
$(for i in $(seq 1 $(( $1 % 7 + 1 ))); do printf '  - {mac: "52:54:00:83:00:%02x", ip: 10.83.0.%d}\n' "$i" $((i + 10)); done)
YAML
mv "$T/pxed.yaml.new" "$T/pxed.yaml"   # atomic, as an admin's editor or config tool would
}
write_config 0
ip netns exec "$SRV" "$BIN/pxed" -c "$T/pxed.yaml" > "$T/log" 2>&1 &
PID=$!
wait_for_log "$T/log" "pxed started" 10 || { cat "$T/log"; exit 1; }
ip netns exec "$CLI" python3 "$(dirname "$0")/tools/dhcp_load.py" --server 10.83.0.1 --giaddr 10.83.0.2 \
  --count 1500 --seconds 20 --window 8 --acks "$T/acks" --timeout 1 > "$T/dhcp" 2>&1 &
LOAD=$!
( ok=0; bad=0
  for i in $(seq 1 6); do
    if ip netns exec "$CLI" timeout 60 "$BIN/ptftp" -w 8 10.83.0.1 -c get -f f.bin "$T/got.$i" >/dev/null 2>&1 && [ "$(sha "$T/got.$i")" = "$WANT" ]
    then ok=$((ok+1)); else bad=$((bad+1)); fi
  done; echo "$ok $bad" > "$T/tftp" ) &
DL=$!
for r in $(seq 1 "$RELOADS"); do write_config "$r"; kill -HUP "$PID"; sleep 0.02; done
wait "$LOAD"; wait "$DL"
sleep 1
applied=$(grep -c "reload applied" "$T/log"); rejected=$(grep -c "reload rejected" "$T/log")
check "pxed alive after $RELOADS SIGHUPs" kill -0 "$PID"
check "reloads applied ($applied applied, $rejected rejected; signals sent while one runs may coalesce)" test "$applied" -ge 1 -a "$rejected" -eq 0
check "every DHCP exchange completed ($(cat "$T/dhcp"))" grep -q "failed 0 unfinished 0" "$T/dhcp"
read ok bad < "$T/tftp"
check "every TFTP transfer completed intact ($ok ok, $bad failed)" test "$bad" -eq 0 -a "$ok" -eq 6
"$BIN/pxed" leases --lease-file "$T/leases" > "$T/table"
check "every ACKed lease is in the lease file" python3 -c "
import sys
acks=[l.split() for l in open('$T/acks') if l.strip()]
rows={l.split()[1]: l.split()[0] for l in open('$T/table').readlines()[1:] if l.strip()}
missing=[a for a in acks if rows.get(a[1]) != a[0]]
print(len(acks), 'acks,', len(missing), 'missing'); sys.exit(1 if missing else 0)"
summary
