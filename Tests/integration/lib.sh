# shellcheck shell=bash
# The one shell library of the integration scripts (Tests/integration/*.sh) and of the benchmarks
# that share their plumbing (bench/storm.sh, bench/tftp.sh).
#
# Use:   . "$(dirname "$0")/lib.sh"
#        lib_init NAME MAX_SECONDS [PROGRAM...]
# lib_init makes a private temp dir ($TMP), sets the traps and starts a watchdog that ends the
# script after MAX_SECONDS. Each PROGRAM (e.g. pxed, ptftp) must be executable in $BIN, else the
# script ends at once with "FAIL setup" (list only what the script runs).
#
# Variables: $REPO (repository), $BIN (binaries, default $REPO/.build/debug), $TMP, $HOST (127.0.0.1),
# $PASSED, $FAILED, $SPAWNED (the PID from the last spawn).
#
# Results. Each prints one line and counts it; each has exactly one meaning:
#   pass NAME                  a check passed: "PASS NAME"
#   fail NAME WHY              a check failed: "FAIL NAME: WHY"
#   check NAME CMD...          run CMD (its stdout and stderr captured, not shown): exit 0 is
#                              pass NAME, anything else is fail NAME "exit RC: <its last output
#                              line>". Returns CMD's exit status. CMD runs in a subshell, so it
#                              cannot set variables or spawn processes for the script.
#   check_why NAME WHY CMD...  the same, but a failure gives WHY (worked out by the caller) as the reason
#   tally_lines TEXT           TEXT holds PASS/FAIL lines made elsewhere (a python client, a
#                              background subshell): print it and count its PASS and FAIL lines
#   finish                     print "N passed, M failed" and exit: 0 when M is 0 and N > 0, else 1
# An interrupted script (SIGINT, SIGTERM, SIGHUP) or one over MAX_SECONDS gets one more FAIL, prints
# the same "N passed, M failed" line and exits non-zero (128+signal, or 124 for the watchdog).
#
# Processes (only PIDs this script spawned are ever signalled, always by PID):
#   spawn LOG CMD...           CMD in the background, stdout and stderr appended to LOG; PID in $SPAWNED
#   stop PID [SIG] [SECONDS]   send SIG (default TERM), wait up to SECONDS (default 3), then KILL it and
#                              what it started; returns its exit status
#   alive PID                  the process still runs
#   adopt PID                  a background job the caller started itself (e.g. a pipeline that must
#                              keep the script's own stdout): stopped like a spawned one
#   stop_spawned               stop everything spawned or adopted so far, newest first
#   watchdog_off               no time limit from here on (the watchdog is stopped)
#   start_pxed LOG CONFIG [NS] spawn $BIN/pxed -c CONFIG (in namespace NS) with LOG; true once LOG has
#                              one more "pxed started" line (within 10 s; false as soon as pxed exits).
#                              PID in $SPAWNED and $PXED_PID
#   start_ptftpd PORT ROOT LOG [OPTION...]  ptftpd on $HOST:PORT (fails the check ptftpd-start-PORT)
# Waiting and logs:
#   wait_udp PORT [SECONDS]    true once something listens on PORT/udp (default 10 s)
#   port_free PORT             nothing listens on PORT/udp
#   wait_log FILE ERE [SECONDS [COUNT]]  true once FILE has COUNT (default 1) lines matching ERE (10 s)
#   count_log FILE ERE         how many lines of FILE match ERE (0 for a missing file)
#   server_line LOG ERE, log_field LINE KEY   the last matching line of a ptftpd log; KEY=value in it
# Namespaces (all removed on exit, however the script ends):
#   ns_add NAME                a network namespace with lo up
#   ns_etc NAME                a private /etc/netns/NAME/resolv.conf (for DHCP clients that write it)
#   ns_veth NS_A IF_A NS_B IF_B  a veth pair, IF_A in NS_A and IF_B in NS_B, both up
#   ns_pair TAG SERVER_CIDR [CLIENT_CIDR]  namespaces $SRV (pxd-TAGs-PID) and $CLI (pxd-TAGc-PID) joined by
#                              veths $SIF (TAG0-PID, SERVER_CIDR) and $CIF (TAG1-PID, CLIENT_CIDR if given)
#   ns_pair_remove             remove the pair now
# Other:
#   on_exit CMD                run CMD (eval'd) on exit, after spawned processes are stopped, before the
#                              namespaces and temp dirs go; the last registered runs first
#   need CMD...                fail need-CMD for each program not installed; false if any is missing
#   sha FILE                   its sha256
#   same_file A B              A and B exist with the same sha256 (prints why not)
#   temp_dir PREFIX            another temp dir (path in $TEMP_DIR), removed on exit too
# KEEP_TMP=1 (or KEEP=1) keeps the temp dirs for a post-mortem.
#
# Network rule: the scripts talk to 127.0.0.1 or to addresses inside the namespaces they make.

set -u

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${BIN:-$REPO/.build/debug}
HOST=127.0.0.1

PASSED=0
FAILED=0
SPAWNED=
PXED_PID=
TMP=
_NAME=
_MAX=
_WATCHDOG=
_PIDS=()
_DIRS=()
_HOOKS=()
_NETNS=()
_ETCNS=()

# --- results ------------------------------------------------------------------------------------

pass() {
    echo "PASS $1"
    PASSED=$((PASSED + 1))
}

fail() {
    echo "FAIL $1: ${2:-}"
    FAILED=$((FAILED + 1))
}

_check() { # NAME WHY CMD...: an empty WHY means "exit RC: <last output line>"
    local _co _cr
    _co=$("${@:3}" 2>&1)
    _cr=$?
    if [ "$_cr" -eq 0 ]; then
        pass "$1"
    else
        fail "$1" "${2:-exit $_cr: $(printf '%s' "$_co" | tail -n 1 | cut -c1-200)}"
    fi
    return "$_cr"
}

check() {
    _check "$1" "" "${@:2}"
}

check_why() {
    _check "$1" "$2" "${@:3}"
}

tally_lines() {
    if [ -n "$1" ]; then printf '%s\n' "$1"; fi
    PASSED=$((PASSED + $(printf '%s\n' "$1" | grep -c '^PASS ')))
    FAILED=$((FAILED + $(printf '%s\n' "$1" | grep -c '^FAIL ')))
}

_summary() {
    echo "$PASSED passed, $FAILED failed"
}

finish() {
    _summary
    [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
    exit $?
}

# --- processes ----------------------------------------------------------------------------------

spawn() {
    local log=$1
    shift
    "$@" >>"$log" 2>&1 &
    SPAWNED=$!
    _PIDS+=("$SPAWNED")
}

alive() {
    kill -0 "$1" 2>/dev/null
}

adopt() {
    _PIDS+=("$1")
}

stop_spawned() {
    local i
    for ((i = ${#_PIDS[@]} - 1; i >= 0; i--)); do stop "${_PIDS[i]}"; done
    _PIDS=()
}

# _ours PID: a live child of this shell (never a PID the system gave to someone else since).
_ours() {
    local st state ppid
    { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
    read -r state ppid _ <<<"${st##*) }"
    [ "$state" != Z ] && { [ "$ppid" = "$$" ] || [ "$ppid" = "$BASHPID" ]; }
}

# _descendants PID: the PIDs of everything PID started (children, grandchildren, ...).
_descendants() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2; order[NR] = $1 }
        END {
            mark[root] = 1
            do {
                grew = 0
                for (i = 1; i <= NR; i++) { p = order[i]; if (!(p in mark) && (parent[p] in mark)) { mark[p] = 1; grew = 1 } }
            } while (grew)
            for (p in mark) if (p != root) print p
        }'
}

stop() {
    local pid=$1 sig=${2:-TERM} secs=${3:-3} kids i rc
    [ -n "$pid" ] || return 0
    if ! _ours "$pid"; then   # already gone (and reaped by bash): just collect its status
        wait "$pid" 2>/dev/null
        return $?
    fi
    kids=$(_descendants "$pid")
    kill -"$sig" "$pid" 2>/dev/null
    for ((i = 0; i < secs * 20; i++)); do
        _ours "$pid" || break
        sleep 0.05
    done
    _ours "$pid" && kill -KILL "$pid" 2>/dev/null
    for i in $kids; do kill -KILL "$i" 2>/dev/null; done
    wait "$pid" 2>/dev/null
    rc=$?
    return "$rc"
} 2>/dev/null   # no "Killed" job notices

start_pxed() {
    local log=$1 cfg=$2 ns=${3:-} before i
    before=$(count_log "$log" "pxed started")
    if [ -n "$ns" ]; then
        spawn "$log" ip netns exec "$ns" "$BIN/pxed" -c "$cfg"
    else
        spawn "$log" "$BIN/pxed" -c "$cfg"
    fi
    PXED_PID=$SPAWNED
    for ((i = 0; i < 200; i++)); do
        [ "$(count_log "$log" "pxed started")" -gt "$before" ] && return 0
        alive "$PXED_PID" || return 1
        sleep 0.05
    done
    return 1
}

start_ptftpd() {
    local port=$1 root=$2 log=$3
    shift 3
    spawn "$log" "$BIN/ptftpd" -v -p "$port" -a "$HOST" "$@" lo "$root"
    if ! wait_udp "$port" 15; then
        fail "ptftpd-start-$port" "ptftpd did not listen on $HOST:$port: $(tail -n 3 "$log" | tr '\n' ' ')"
        return 1
    fi
}

# --- waiting and logs ---------------------------------------------------------------------------

wait_udp() {
    local port=$1 secs=${2:-10} i
    for ((i = 0; i < secs * 20; i++)); do
        port_free "$port" || return 0
        sleep 0.05
    done
    return 1
}

port_free() {
    ! ss -Hlun "sport = :$1" 2>/dev/null | grep -q .
}

count_log() {
    local n
    n=$(grep -Ec -- "$2" "$1" 2>/dev/null)
    echo "${n:-0}"
}

wait_log() {
    local file=$1 re=$2 secs=${3:-10} want=${4:-1} i
    for ((i = 0; i < secs * 20; i++)); do
        [ "$(count_log "$file" "$re")" -ge "$want" ] && return 0
        sleep 0.05
    done
    return 1
}

server_line() {
    grep -E -- "$2" "$1" | tail -n 1
}

log_field() {
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# --- namespaces ---------------------------------------------------------------------------------

ns_add() {
    ip netns add "$1" || return 1
    _NETNS+=("$1")
    ip -n "$1" link set lo up
}

ns_etc() {
    mkdir -p "/etc/netns/$1" && _ETCNS+=("/etc/netns/$1") && : >"/etc/netns/$1/resolv.conf"
}

ns_veth() {
    ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" &&
        ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

ns_pair() {
    SRV=pxd-$1s-$$ CLI=pxd-$1c-$$ SIF=${1}0-$$ CIF=${1}1-$$
    ns_add "$SRV" && ns_add "$CLI" && ns_veth "$SRV" "$SIF" "$CLI" "$CIF" &&
        ip -n "$SRV" addr add "$2" dev "$SIF" || return 1
    [ -z "${3:-}" ] || ip -n "$CLI" addr add "$3" dev "$CIF"
}

_ns_del() {
    local n
    for n in "$@"; do ip netns del "$n" 2>/dev/null; done
    return 0
}

ns_pair_remove() {
    _ns_del "${CLI:-}" "${SRV:-}"
}

# --- PostgreSQL ---------------------------------------------------------------------------------

# pg_cluster PORT [ADDRESS [NS]]: scripts/pg-cluster.sh's throwaway cluster in $TMP/pg, checked,
# stopped on exit. Then its pgc_start/pgc_stop/pgc_role_db, and `psql_q SQL` (database $DB,
# default postgres).
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/pg-cluster.sh"
pg_cluster() {
    need runuser || return 1
    # Not through `check`: its subshell would lose the variables pgc_init sets.
    local out
    if out=$(pgc_init "$TMP/pg" "$1" "${2:-127.0.0.1}" "${3:-}" 2>&1) && pgc_init_vars "$TMP/pg" "$1" "${2:-127.0.0.1}" "${3:-}"; then
        pass "initdb"
    else
        fail "initdb" "$out"
        return 1
    fi
    on_exit pgc_stop
    check "postgres starts" pgc_start
}
psql_q() { pgc_sql "${DB:-postgres}" "$1"; }

# --- other --------------------------------------------------------------------------------------

on_exit() {
    _HOOKS+=("$1")
}

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

sha() {
    sha256sum <"$1" | cut -d' ' -f1
}

same_file() {
    [ -f "$1" ] || { echo "missing $1"; return 1; }
    [ -f "$2" ] || { echo "missing $2"; return 1; }
    if [ "$(sha "$1")" != "$(sha "$2")" ]; then
        echo "sha256 differs: $1 ($(stat -c %s "$1") bytes) vs $2 ($(stat -c %s "$2") bytes)"
        return 1
    fi
}

# temp_dir PREFIX: call it directly, not in $(...), so the cleanup list keeps the directory.
temp_dir() {
    TEMP_DIR=$(mktemp -d "$1.XXXXXX") || return 1
    _DIRS+=("$TEMP_DIR")
}

# --- init, abort and cleanup --------------------------------------------------------------------

_cleanup() {
    local rc=$? i d
    trap - EXIT
    trap '' INT TERM HUP ALRM   # a second Ctrl-C must not cut the cleanup short
    watchdog_off
    stop_spawned
    for ((i = ${#_HOOKS[@]} - 1; i >= 0; i--)); do eval "${_HOOKS[i]}"; done
    _ns_del "${_NETNS[@]}"
    for d in "${_ETCNS[@]}" "$TMP" "${_DIRS[@]}"; do
        [ -n "$d" ] && [ -d "$d" ] || continue
        if [ "${KEEP_TMP:-${KEEP:-0}}" = 1 ] && [ "${d#/etc/}" = "$d" ]; then
            echo "# kept $d" >&2
        else
            rm -rf "$d"
        fi
    done
    exit "$rc"
}

watchdog_off() {
    [ -n "$_WATCHDOG" ] || return 0
    kill -TERM "$_WATCHDOG" 2>/dev/null
    wait "$_WATCHDOG" 2>/dev/null
    _WATCHDOG=
}

_aborted() { # WHY EXIT-STATUS
    trap '' INT TERM HUP ALRM
    fail "$_NAME" "$1"
    _summary
    exit "$2"
}

lib_init() {
    _NAME=$1
    _MAX=${2:-300}
    shift 2
    TMP=$(mktemp -d "/tmp/pxed-$_NAME.XXXXXX") || { echo "FAIL setup: mktemp"; exit 1; }
    trap _cleanup EXIT
    trap '_aborted "interrupted (SIGINT)" 130' INT
    trap '_aborted "terminated (SIGTERM)" 143' TERM
    trap '_aborted "hung up (SIGHUP)" 129' HUP
    trap '_aborted "ran more than $_MAX s (watchdog)" 124' ALRM
    # The watchdog: a sleep, then SIGALRM to this script. Bash runs the trap only once its
    # foreground command is done, so a second later the watchdog TERMs this script's children
    # (that command among them). On cleanup it is TERMed and kills its own sleep.
    (
        trap 'kill "$s" 2>/dev/null; wait "$s" 2>/dev/null; exit 0' TERM
        sleep "$_MAX" &
        s=$!
        wait "$s"
        kill -ALRM $$ 2>/dev/null
        sleep 1 &
        s=$!
        wait "$s"
        for c in $(ps -o pid= --ppid $$); do [ "$c" = "$BASHPID" ] || kill -TERM "$c" 2>/dev/null; done
    ) &
    _WATCHDOG=$!
    local b
    for b in "$@"; do
        [ -x "$BIN/$b" ] || { fail setup "$BIN/$b is missing (swift build first)"; finish; }
    done
}
