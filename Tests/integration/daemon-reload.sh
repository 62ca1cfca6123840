#!/bin/bash
# pxed as an admin runs it: a config file, downloads, SIGHUP with a changed root and a new host,
# SIGHUP with a broken file (rejected, old config keeps serving), a slow transfer that spans
# reloads and still completes intact, SIGUSR1 status, SIGTERM exit.
set -u
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$REPO/.build/debug}
. "$(dirname "$0")/common.sh"
T=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
PORT=17469
mkdir -p "$T/a" "$T/b"
echo "root A" > "$T/a/which.txt"; echo "root B" > "$T/b/which.txt"
head -c 400000 /dev/urandom > "$T/a/slow.bin"
write_config() { # root, extra hosts
cat > "$T/pxed.yaml" <<YAML
log-level: info
lease-file: $T/leases
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
write_config "$T/a" "$HOST1"
check "pxed check accepts the file" "$BIN/pxed" check -c "$T/pxed.yaml"
"$BIN/pxed" -c "$T/pxed.yaml" > "$T/log" 2>&1 &
PID=$!
check "daemon starts" wait_for_log "$T/log" "pxed started"

get() { "$BIN/ptftp" 127.0.0.1 $PORT -c get -f "$1" "$T/out" > /dev/null && cat "$T/out"; }
check "serves root A" test "$(get which.txt)" = "root A"

# A slow lockstep transfer (about 5 ms per block, ~4 s) that must finish across two reloads.
python3 "$(dirname "$0")/tools/tftp_probe.py" 127.0.0.1 $PORT slow.bin --delay 0.005 > "$T/slow.sha" 2>&1 &
SLOW=$!
sleep 0.5

write_config "$T/b" "$HOST1
$HOST2"
kill -HUP "$PID"
check "reload logged with its change" wait_for_log "$T/log" "reload applied: .*tftp root $T/a -> $T/b.*hosts 1 -> 2"
check "serves root B after HUP" test "$(get which.txt)" = "root B"

printf 'tftp:\n  root: %s\n  port: "not-a-port"\ninterfaces:\n  lo: {tftp: maybe}\n' "$T/b" > "$T/pxed.yaml"
kill -HUP "$PID"
check "broken file rejected with file:line:col" wait_for_log "$T/log" "reload rejected: $T/pxed.yaml:3:9: "
check "every error reported" wait_for_log "$T/log" "reload rejected: $T/pxed.yaml:5:14: "
check "old config still serving after rejected reload" test "$(get which.txt)" = "root B"
check "pxed check reports the broken file and exits 1" bash -c "! '$BIN/pxed' check -c '$T/pxed.yaml' 2>'$T/check.err' && grep -q ':3:9: ' '$T/check.err'"

wait "$SLOW"; slow_rc=$?
check "slow transfer started before the reloads completes intact" test $slow_rc -eq 0 -a "$(tail -1 "$T/slow.sha")" = "$(sha "$T/a/slow.bin")"

kill -USR1 "$PID"
check "SIGUSR1 logs engine status" wait_for_log "$T/log" "status: tftp lo: active=0"
kill -TERM "$PID"; wait "$PID"; rc=$?; PID=
check "SIGTERM exits 0" test $rc -eq 0
check "daemon never logged a crash" bash -c "! grep -qiE 'fatal|crash|critical' '$T/log'"

# Start-up with a port already taken is a clear error naming it.
python3 -c "import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.1',$PORT)); time.sleep(5)" &
BLOCKER=$!
sleep 0.3
write_config "$T/a" "$HOST1"
"$BIN/pxed" -c "$T/pxed.yaml" > "$T/log2" 2>&1; rc=$?
kill $BLOCKER 2>/dev/null
check "taken port is fatal at start-up, with the address named" bash -c "[ $rc -ne 0 ] && grep -q '127.0.0.1:$PORT' '$T/log2'"
[ "$FAILED" -gt 0 ] && { echo "--- pxed log"; cat "$T/log"; }
summary
