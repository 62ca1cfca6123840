#!/usr/bin/env bash
# TFTP under packet loss: every transfer goes through Tests/integration/lossy-relay.py, which drops
# a fixed fraction of the datagrams in BOTH directions (RRQ/WRQ, OACK, DATA, ACK, ERROR alike) with
# a fixed seed per case. Each case has its own relay; all cases run at once against one ptftpd
# (--timeout 1 --retries 10), and every file must arrive intact (sha256).
#
# Why two tiers: TFTP timeouts are whole seconds (RFC 2349, minimum 1 s), so in lockstep every lost
# DATA or ACK costs about a second. At 10% loss each way about 19% of blocks are lost once, so a
# 2 MiB lockstep transfer (1429 blocks of 1468) would need 4-5 minutes. The heavy tier (10%) uses
# files sized to finish in about half a minute; the bulk tier moves 2 and 5 MiB at 1-3% loss.
# atftp 0.8 is only in the bulk tier: with a window it re-ACKs a resent window only once, so two
# lost ACKs in a row stall it whatever the server does (seen at 10% against ptftpd).
#
# Usage: Tests/integration/tftp-loss.sh        Ports: 17200 (ptftpd), 17201-17230 (relays).

set -u
. "$(dirname "$0")/lib.sh"
lib_init tftp-loss 180 ptftpd ptftp

P_SRV=17200
RELAY=$REPO/Tests/integration/lossy-relay.py
port_free $P_SRV || { fail setup "UDP port $P_SRV is already in use"; finish; }
need python3 curl atftp || finish

ROOT=$TMP/root
L=$TMP/local
mkdir -p "$ROOT" "$L"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$L/5m.bin"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$L/2m.bin"
head -c $((1024 * 1024)) /dev/urandom >"$L/1m.bin"
head -c $((128 * 1024)) /dev/urandom >"$L/128k.bin"
head -c $((32 * 1024)) /dev/urandom >"$L/32k.bin"

#      name              drop  seed kind  size  client
CASES="heavy-ptftp-lockstep   0.10 101 get  128k ptftp
heavy-ptftp-w16        0.10 102 get  1m   ptftp -w 16
heavy-curl-512         0.10 103 get  32k  curl
heavy-ptftp-put        0.10 104 put  128k ptftp
heavy-ptftp-put-w16    0.10 105 put  1m   ptftp -w 16
bulk-ptftp-w16-5m      0.03 201 get  5m   ptftp -w 16
bulk-ptftp-lockstep-2m 0.01 202 get  2m   ptftp
bulk-atftp-w8-2m       0.01 203 get  2m   atftp
bulk-curl-1468-2m      0.01 204 get  2m   curl --tftp-blksize 1468
bulk-ptftp-put-2m      0.01 205 put  2m   ptftp
bulk-ptftp-put-w16-5m  0.03 206 put  5m   ptftp -w 16"

# Downloads get a file of their own (a hard link) so each server log line names its case.
while read -r name drop seed kind size client; do
    [ "$kind" = get ] && ln "$L/$size.bin" "$ROOT/$name.bin"
done <<<"$CASES"

start_ptftpd $P_SRV "$ROOT" "$TMP/server.log" --upload --timeout 1 --retries 10 || finish
PID_SRV=$SPAWNED
RELAY_PIDS=()

# The relays: one per case, each with its own port and seed.
i=0
while read -r name drop seed kind size client; do
    i=$((i + 1))
    port=$((P_SRV + i))
    port_free $port || { fail setup "UDP port $port is already in use"; finish; }
    spawn "$TMP/relay.$name.log" python3 "$RELAY" --listen "$HOST:$port" --server "$HOST:$P_SRV" \
        --drop "$drop" --seed "$seed" --seconds 150
    RELAY_PIDS+=("$SPAWNED")
done <<<"$CASES"
i=0
while read -r name _; do
    i=$((i + 1))
    wait_udp $((P_SRV + i)) 10 || { fail setup "relay for $name did not start"; finish; }
done <<<"$CASES"

# run_case NAME PORT KIND SIZE CLIENT...: one transfer, bounded; writes rc and seconds.
run_case() {
    local name=$1 port=$2 kind=$3 size=$4
    shift 4
    local t0 rc
    t0=$EPOCHREALTIME
    case "$1 $kind" in
        "ptftp get") shift; timeout 120 "$BIN/ptftp" --retries 10 "$@" $HOST "$port" -c get "$name.bin" "$L/$name.out" ;;
        "ptftp put") shift; timeout 120 "$BIN/ptftp" --retries 10 "$@" $HOST "$port" -c put "$L/$size.bin" "$name.up" ;;
        "atftp get") timeout 120 atftp --option "blksize 1468" --option "windowsize 8" -g -r "$name.bin" -l "$L/$name.out" $HOST "$port" ;;
        # --connect-timeout 4 makes curl ask for (and use) a 1 s timeout instead of 6 s.
        "curl get") shift; timeout 120 curl -sS --connect-timeout 4 "$@" -o "$L/$name.out" "tftp://$HOST:$port/$name.bin" ;;
        *) echo "bad case"; false ;;
    esac >"$TMP/client.$name.log" 2>&1
    rc=$?
    echo "$rc $(python3 -c "print(f'{$EPOCHREALTIME - $t0:.1f}')")" >"$TMP/result.$name"
}

echo "# $(printf '%s\n' "$CASES" | wc -l) transfers through lossy relays, all at once"
JOBS=()
i=0
while read -r name drop seed kind size client; do
    i=$((i + 1))
    # shellcheck disable=SC2086 # client holds words on purpose
    spawn "$TMP/case.$name.out" run_case "$name" $((P_SRV + i)) "$kind" "$size" $client
    JOBS+=("$SPAWNED")
done <<<"$CASES"
for j in "${JOBS[@]}"; do wait "$j"; done

# Give the server a moment to log the transfers whose final ACK arrived. (When the final ACK
# was lost, the server keeps resending the last block until its retries run out: such a line
# shows as still-in-progress.)
sleep 1
while read -r name drop seed kind size client; do
    read -r rc secs <"$TMP/result.$name"
    if [ "$kind" = get ]; then got=$L/$name.out; ref=$ROOT/$name.bin; else got=$ROOT/$name.up; ref=$L/$size.bin; fi
    if [ "$rc" -ne 0 ]; then
        fail "$name" "client exit $rc after ${secs}s: $(tail -n 1 "$TMP/client.$name.log" | cut -c1-200)"
    elif why=$(same_file "$ref" "$got"); then
        pass "$name"
    else
        fail "$name" "$why"
    fi
    line=$(server_line "$TMP/server.log" "\"$name\\.(bin|up)\" .*outcome=")
    rtx=$(log_field "$line" retransmits)
    outcome=$(printf '%s' "$line" | sed -n 's/.*outcome=//p')
    echo "$name ${secs} ${rtx:-?} ${outcome:-still-in-progress}" >>"$TMP/table"
done <<<"$CASES"

# Stop the relays: they print their counters on exit.
for pid in "${RELAY_PIDS[@]}"; do stop "$pid"; done
echo "# per case: seconds, server retransmits (from its log), datagrams dropped by the relay"
printf '# %-24s %5s %8s %12s %8s %8s  %s\n' case drop seconds retransmits drop-c2s drop-s2c server-outcome
# relay_drops NAME: sets dc and ds to the datagrams the case's relay dropped each way.
relay_drops() {
    local counters
    counters=$(grep '^relay: c2s=' "$TMP/relay.$1.log" | tail -n 1)
    dc=$(log_field "$counters" c2s_dropped)
    ds=$(log_field "$counters" s2c_dropped)
}
while read -r name drop seed kind size client; do
    read -r _ secs rtx outcome < <(grep "^$name " "$TMP/table")
    relay_drops "$name"
    printf '# %-24s %5s %8.1f %12s %8s %8s  %s\n' "$name" "$drop" "$secs" "$rtx" "${dc:-?}" "${ds:-?}" "$outcome"
done <<<"$CASES"

# Losses really happened in both directions in every case.
while read -r name drop _; do
    relay_drops "$name"
    if [ "${dc:-0}" -gt 0 ] && [ "${ds:-0}" -gt 0 ]; then
        pass "$name-lost-both-ways"
    else
        fail "$name-lost-both-ways" "relay dropped c2s=${dc:-?} s2c=${ds:-?}"
    fi
done <<<"$CASES"
alive "$PID_SRV" && pass server-alive || fail server-alive "ptftpd is gone"
finish
