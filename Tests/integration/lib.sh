# shellcheck shell=bash
# Shared helpers for the TFTP integration scripts (Tests/integration/tftp-*.sh).
#
# Source it, then call `lib_init NAME MAX_SECONDS`. It gives:
#   $REPO $BIN $TMP               repository, binaries (BIN=${BIN:-$REPO/.build/debug}), a private temp dir
#   pass NAME / fail NAME WHY     one line per check: "PASS NAME" / "FAIL NAME: WHY"
#   check NAME CMD...             pass when CMD exits 0, else fail with its last output line
#   spawn LOG CMD...              start a background process (stdout+stderr to LOG); its PID in $SPAWNED
#   stop PID                      TERM, then KILL after 3 s, for a PID we spawned
#   wait_udp PORT [SECONDS]       wait until something listens on 127.0.0.1:PORT/udp
#   same_file A B                 sha256 of A equals sha256 of B (prints why not)
#   temp_dir PREFIX               another temp dir in $TEMP_DIR, removed on exit too
#   finish                        prints "N passed, M failed" and exits 1 if any failed
# Everything spawned is stopped by PID on exit (normal, failure, Ctrl-C or the watchdog), and the
# temp dir is removed (KEEP_TMP=1 keeps it for a post-mortem).
#
# Network rule: everything here talks to 127.0.0.1 only.

set -u

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${BIN:-$REPO/.build/debug}
HOST=127.0.0.1

PASSED=0
FAILED=0
SPAWNED=
_PIDS=()
_DIRS=()
_WATCHDOG=
_NAME=
TMP=

pass() {
    echo "PASS $1"
    PASSED=$((PASSED + 1))
}

fail() {
    echo "FAIL $1: $2"
    FAILED=$((FAILED + 1))
}

# check NAME CMD... : run CMD (output captured), pass if it exits 0.
check() {
    local name=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ]; then
        pass "$name"
    else
        fail "$name" "exit $rc: $(printf '%s' "$out" | tail -n 1 | cut -c1-200)"
    fi
    return "$rc"
}

# same_file A B: both exist and have the same sha256.
same_file() {
    local a b
    [ -f "$1" ] || { echo "missing $1"; return 1; }
    [ -f "$2" ] || { echo "missing $2"; return 1; }
    a=$(sha256sum <"$1" | cut -d' ' -f1)
    b=$(sha256sum <"$2" | cut -d' ' -f1)
    if [ "$a" != "$b" ]; then
        echo "sha256 differs: $1 ($(stat -c %s "$1") bytes) vs $2 ($(stat -c %s "$2") bytes)"
        return 1
    fi
}

# spawn LOG CMD... : background CMD with output to LOG; remember its PID for cleanup.
spawn() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    SPAWNED=$!
    _PIDS+=("$SPAWNED")
}

# stop PID: TERM, wait up to 3 s, then KILL. Only for PIDs from spawn.
stop() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# alive PID: the process is still running.
alive() {
    kill -0 "$1" 2>/dev/null
}

# wait_udp PORT [SECONDS]: true once a UDP socket is bound to PORT on loopback.
wait_udp() {
    local port=$1 secs=${2:-10} i
    for i in $(seq $((secs * 10))); do
        if ss -Hlun "sport = :$port" 2>/dev/null | grep -q .; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# port_free PORT: nothing is bound to PORT/udp (a stale server from someone else would break us).
port_free() {
    ! ss -Hlun "sport = :$1" 2>/dev/null | grep -q .
}

# wait_log FILE REGEX [SECONDS]: true once FILE has a line matching REGEX.
wait_log() {
    local file=$1 re=$2 secs=${3:-10} i
    for i in $(seq $((secs * 10))); do
        grep -Eq -- "$re" "$file" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# need CMD...: fail (and return 1) for each missing peer program.
need() {
    local c ok=0
    for c in "$@"; do
        if ! command -v "$c" >/dev/null 2>&1 && [ ! -x "$c" ]; then
            fail "need-$(basename "$c")" "$c is not installed"
            ok=1
        fi
    done
    return "$ok"
}

# start_ptftpd PORT ROOT LOG [OPTIONS...]: ptftpd on 127.0.0.1:PORT; PID in $SPAWNED.
start_ptftpd() {
    local port=$1 root=$2 log=$3
    shift 3
    spawn "$log" "$BIN/ptftpd" -v -p "$port" -a "$HOST" "$@" lo "$root"
    if ! wait_udp "$port" 15; then
        fail "ptftpd-start-$port" "ptftpd did not listen on $HOST:$port: $(tail -n 3 "$log" | tr '\n' ' ')"
        return 1
    fi
}

# server_line LOG REGEX: the last transfer line in a server log matching REGEX.
server_line() {
    grep -E -- "$2" "$1" | tail -n 1
}

# log_field LINE KEY: the value of KEY=... in a ptftpd log line.
log_field() {
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# temp_dir PREFIX: another private temp dir (e.g. under /dev/shm), removed on exit like $TMP.
# The path is in $TEMP_DIR (call it directly, not in $(...), so the cleanup list keeps it).
temp_dir() {
    TEMP_DIR=$(mktemp -d "$1.XXXXXX") || return 1
    _DIRS+=("$TEMP_DIR")
}

_cleanup() {
    local rc=$? pid d
    trap - EXIT INT TERM
    if [ -n "$_WATCHDOG" ]; then
        kill -TERM "$_WATCHDOG" 2>/dev/null
        wait "$_WATCHDOG" 2>/dev/null
    fi
    for pid in "${_PIDS[@]}"; do
        stop "$pid"
    done
    for d in "$TMP" "${_DIRS[@]}"; do
        [ -n "$d" ] && [ -d "$d" ] || continue
        if [ "${KEEP_TMP:-0}" = 1 ]; then
            echo "# kept $d" >&2
        else
            rm -rf "$d"
        fi
    done
    exit "$rc"
}

_aborted() {
    fail "$_NAME" "interrupted or over its time limit"
    echo "$PASSED passed, $FAILED failed"
    exit 1
}

# lib_init NAME MAX_SECONDS: temp dir, traps, and a watchdog that ends the script after
# MAX_SECONDS (the cleanup trap still runs).
lib_init() {
    _NAME=$1
    local max=${2:-300}
    TMP=$(mktemp -d "/tmp/pxed-$_NAME.XXXXXX")
    trap _cleanup EXIT
    trap _aborted INT TERM
    # The watchdog: a sleep, then a TERM to this script. On cleanup it is TERMed and kills its
    # own sleep, so nothing is left behind.
    (
        trap 'kill "$s" 2>/dev/null; exit 0' TERM
        sleep "$max" &
        s=$!
        wait "$s"
        kill -TERM $$ 2>/dev/null
    ) &
    _WATCHDOG=$!
    local b
    for b in ptftpd ptftp; do
        if [ ! -x "$BIN/$b" ]; then
            echo "FAIL setup: $BIN/$b is missing (swift build first)"
            echo "0 passed, 1 failed"
            exit 1
        fi
    done
}

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}
