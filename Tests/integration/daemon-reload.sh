#!/bin/bash
# pxed as an admin runs it: a config file, downloads, SIGHUP with a changed root and a new host,
# SIGHUP with a broken file (rejected, old config keeps serving), a slow transfer that spans
# reloads and still completes intact, SIGUSR1 status, SIGTERM exit.
. "$(dirname "$0")/lib.sh"
lib_init daemon-reload 180 pxed ptftp
PORT=17469
mkdir -p "$TMP/a" "$TMP/b"
echo "root A" > "$TMP/a/which.txt"; echo "root B" > "$TMP/b/which.txt"
head -c 400000 /dev/urandom > "$TMP/a/slow.bin"
write_config() { # root, extra hosts
cat > "$TMP/pxed.yaml" <<YAML
log-level: info
lease-file: $TMP/leases
control-socket: $TMP/control.sock
tftp:
  root: $1
  port: $PORT
interfaces:
  lo:
    address: 127.0.0.1
    tftp: true
hosts:
$2
YAML
}
HOST1='  - {mac: "52:54:00:00:00:01", hostname: node01}'
HOST2='  - {mac: "52:54:00:00:00:02", hostname: node02, boot: node02/grubx64.efi}'
write_config "$TMP/a" "$HOST1"
check "pxed check accepts the file" "$BIN/pxed" check -c "$TMP/pxed.yaml"
if start_pxed "$TMP/log" "$TMP/pxed.yaml"; then pass "daemon starts"; else fail "daemon starts" "$(tail -n 3 "$TMP/log")"; fi
PID=$PXED_PID

get() { "$BIN/ptftp" 127.0.0.1 $PORT -c get -f "$1" "$TMP/out" > /dev/null && cat "$TMP/out"; }
check "serves root A" test "$(get which.txt)" = "root A"

# A slow lockstep transfer (about 5 ms per block, ~4 s) that must finish across two reloads.
spawn "$TMP/slow.sha" python3 "$(dirname "$0")/tools/tftp_probe.py" 127.0.0.1 $PORT slow.bin --delay 0.005
SLOW=$SPAWNED
sleep 0.5

write_config "$TMP/b" "$HOST1
$HOST2"
kill -HUP "$PID"
check "reload logged with its change" wait_log "$TMP/log" "reload applied: .*tftp root $TMP/a -> $TMP/b.*hosts 1 -> 2"
check "serves root B after HUP" test "$(get which.txt)" = "root B"

printf 'tftp:\n  root: %s\n  port: "not-a-port"\ninterfaces:\n  lo: {tftp: maybe}\n' "$TMP/b" > "$TMP/pxed.yaml"
kill -HUP "$PID"
check "broken file rejected with file:line:col" wait_log "$TMP/log" "reload rejected: $TMP/pxed.yaml:3:9: "
check "every error reported" wait_log "$TMP/log" "reload rejected: $TMP/pxed.yaml:5:14: "
check "old config still serving after rejected reload" test "$(get which.txt)" = "root B"
check "pxed check reports the broken file and exits 1" bash -c "! '$BIN/pxed' check -c '$TMP/pxed.yaml' 2>'$TMP/check.err' && grep -q ':3:9: ' '$TMP/check.err'"

wait "$SLOW"; slow_rc=$?
check "slow transfer started before the reloads completes intact" test $slow_rc -eq 0 -a "$(tail -1 "$TMP/slow.sha")" = "$(sha "$TMP/a/slow.bin")"

kill -USR1 "$PID"
check "SIGUSR1 logs engine status" wait_log "$TMP/log" "status: tftp lo: active=0"
stop "$PID" TERM 10; rc=$?
check "SIGTERM exits 0" test $rc -eq 0
check "daemon never logged a crash" bash -c "! grep -qiE 'fatal|crash|critical' '$TMP/log'"

# Start-up with a port already taken is a clear error naming it.
spawn "$TMP/blocker.log" python3 -c "import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.1',$PORT)); time.sleep(5)"
BLOCKER=$SPAWNED
sleep 0.3
write_config "$TMP/a" "$HOST1"
timeout 20 "$BIN/pxed" -c "$TMP/pxed.yaml" > "$TMP/log2" 2>&1; rc=$?
stop "$BLOCKER"
check "taken port is fatal at start-up, with the address named" bash -c "[ $rc -ne 0 ] && grep -q '127.0.0.1:$PORT' '$TMP/log2'"
[ "$FAILED" -gt 0 ] && { echo "--- pxed log"; cat "$TMP/log"; }
finish
