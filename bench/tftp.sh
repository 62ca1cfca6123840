#!/usr/bin/env bash
# TFTP benchmark: ptftpd / ptftp (release builds) against tftpd-hpa and atftpd, on loopback.
# A benchmark, not a test: it prints a table and exits 0 whatever the ratios (non-zero only when it
# cannot set up). See bench/README.md for how to read it.
#
# Usage: bench/tftp.sh
#   REPS=5            repetitions per cell (the median is shown)
#   SIZE_MIB=64       size of the big file
#   PARALLEL=50       concurrent 1 MiB downloads in the parallel row
#   SKIP_BUILD=1      use the existing release binaries in .build-release
#   ATFTPD=/path      an atftpd binary (default: system one, else `apt-get download atftpd` + dpkg -x)
#   METRICS=0         skip the metrics-cost rows (pxed's TFTP engine with metrics off and on)
#   METRICS_ONLY=1    only the metrics-cost rows
#   CHART_DIR=DIR     where tftp.png goes (default bench/charts; bench/chart.sh, gnuplot);
#                     CHART_DIR= draws none
# Ports: 17301 (ptftpd), 17302 (tftpd-hpa), 17303 (atftpd), 17304/17305 (pxed without/with
# metrics, its /metrics on TCP 17306, scraped every second), UDP on 127.0.0.1 only.

set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-5}
SIZE_MIB=${SIZE_MIB:-64}
PARALLEL=${PARALLEL:-50}
SCRATCH=$REPO/.build-release
P_PT=17301
P_HPA=17302
P_AT=17303
P_PX=17304
P_PXM=17305
P_MET=17306
METRICS=${METRICS:-1}
CHART_DIR=${CHART_DIR-$REPO/bench/charts}

# --- release build ------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    for product in ptftpd ptftp pxed; do
        echo "# swift build -c release --product $product (a few minutes the first time)" >&2
        if ! timeout 1800 swift build -c release --scratch-path "$SCRATCH" --product "$product" >"/tmp/pxed-bench-build-$product.log" 2>&1; then
            echo "bench: release build of $product failed:" >&2
            tail -n 20 "/tmp/pxed-bench-build-$product.log" >&2
            exit 1
        fi
        rm -f "/tmp/pxed-bench-build-$product.log"
    done
fi
BIN=$(cd "$REPO" && swift build -c release --scratch-path "$SCRATCH" --show-bin-path 2>/dev/null)
export BIN
. "$REPO/Tests/integration/lib.sh"
lib_init tftp-bench 1800 ptftpd ptftp pxed

for c in curl atftp in.tftpd python3; do
    command -v "$c" >/dev/null || { echo "bench: $c is not installed" >&2; exit 1; }
done
for p in $P_PT $P_HPA $P_AT; do
    port_free $p || { echo "bench: UDP port $p is in use" >&2; exit 1; }
done

# --- atftpd (conflicts with tftpd-hpa as a package: unpack it instead) ----------------------
ATFTPD=${ATFTPD:-$(command -v atftpd || true)}
if [ -z "$ATFTPD" ]; then
    mkdir -p "$TMP/atftpd"
    # apt-get download needs the package lists; refresh them once if the first try fails.
    if ! (cd "$TMP/atftpd" && { timeout 120 apt-get download atftpd >/dev/null 2>&1 ||
        { timeout 300 apt-get update -qq >/dev/null 2>&1 && timeout 120 apt-get download atftpd >/dev/null 2>&1; }; } &&
        dpkg -x atftpd_*.deb x); then
        echo "bench: could not fetch atftpd (apt-get download atftpd)" >&2
        exit 1
    fi
    ATFTPD=$TMP/atftpd/x/usr/sbin/atftpd
fi

# --- data: in RAM when possible, so the disk does not enter the figures ---------------------
DATA=$TMP
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    temp_dir /dev/shm/pxed-bench && DATA=$TEMP_DIR
fi
ROOT=$DATA/root
OUT=$DATA/out
mkdir -p "$ROOT" "$OUT"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$ROOT/big.bin"
head -c $((1024 * 1024)) /dev/urandom >"$ROOT/one.bin"
BIG_SHA=$(sha256sum <"$ROOT/big.bin" | cut -d' ' -f1)
ONE_SHA=$(sha256sum <"$ROOT/one.bin" | cut -d' ' -f1)
BIG_BYTES=$(stat -c %s "$ROOT/big.bin")

# --- servers ------------------------------------------------------------------------------
spawn "$TMP/ptftpd.log" "$BIN/ptftpd" -p $P_PT -a $HOST lo "$ROOT"
PID_PT=$SPAWNED
spawn "$TMP/hpa.log" in.tftpd -L -u root -s "$ROOT" -a $HOST:$P_HPA
PID_HPA=$SPAWNED
spawn "$TMP/atftpd.log" "$ATFTPD" --daemon --no-fork --port $P_AT --bind-address $HOST \
    --user root --group root --logfile /dev/null "$ROOT"
PID_AT=$SPAWNED
for p in $P_PT $P_HPA $P_AT; do
    wait_udp $p 10 || { echo "bench: no server on port $p" >&2; cat "$TMP"/*.log >&2; exit 1; }
done
# pxed's TFTP engine twice, metrics off and on; the one with metrics is scraped every second.
if [ "$METRICS" = 1 ]; then
    for m in off on; do
        port=$P_PX; [ $m = on ] && port=$P_PXM
        {
            echo "log-level: warning"
            echo "lease-file: $TMP/leases-$m"
            echo "control-socket: $TMP/control-$m.sock"
            [ $m = on ] && echo "metrics: {listen: \"$HOST:$P_MET\"}"
            echo "tftp: {root: $ROOT, port: $port}"
            echo "interfaces:"
            echo "  lo: {address: $HOST, address6: off, tftp: true}"
        } > "$TMP/pxed-$m.yaml"
        spawn "$TMP/pxed-$m.log" "$BIN/pxed" -c "$TMP/pxed-$m.yaml"
        [ $m = on ] && PID_PXM=$SPAWNED || PID_PX=$SPAWNED
        wait_udp $port 10 || { echo "bench: pxed (metrics $m) did not start" >&2; cat "$TMP/pxed-$m.log" >&2; exit 1; }
    done
    spawn "$TMP/scraper.log" bash -c "for i in \$(seq 3600); do curl -s -o /dev/null --max-time 2 http://$HOST:$P_MET/metrics; sleep 1; done"
    SCRAPER=$SPAWNED
fi

# --- measuring ----------------------------------------------------------------------------
# seconds CMD...: run CMD once (bounded), print elapsed seconds, or "fail".
seconds() {
    local t0=$EPOCHREALTIME rc
    timeout 120 "$@" >"$TMP/last.out" 2>&1
    rc=$?
    local t1=$EPOCHREALTIME
    if [ $rc -ne 0 ]; then
        echo fail
        return
    fi
    python3 -c "print(f'{$t1 - $t0:.4f}')"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# once CLIENT PORT: one download of big.bin; prints seconds, or "fail" (error or wrong bytes).
once() {
    local client=$1 port=$2 s
    rm -f "$OUT/big.out"
    case $client in
        curl512) s=$(seconds curl -sS -o "$OUT/big.out" "tftp://$HOST:$port/big.bin") ;;
        curl1468) s=$(seconds curl -sS --tftp-blksize 1468 -o "$OUT/big.out" "tftp://$HOST:$port/big.bin") ;;
        atftp16 | atftp64)
            s=$(seconds atftp --option "blksize 1468" --option "windowsize ${client#atftp}" \
                -g -r big.bin -l "$OUT/big.out" $HOST "$port") ;;
        ptftp16 | ptftp64)
            # --retries 2: a stalled window fails in ~7 s instead of ~31 s.
            s=$(seconds "$BIN/ptftp" --retries 2 -w "${client#ptftp}" $HOST "$port" -c get big.bin "$OUT/big.out") ;;
    esac
    if [ "$s" != fail ] && [ "$(sha256sum <"$OUT/big.out" 2>/dev/null | cut -d' ' -f1)" != "$BIG_SHA" ]; then
        echo "wrong bytes" >"$TMP/last.out"
        s=fail
    fi
    echo "$s"
}

# rounds RESULT FN KEY...: REPS rounds, each running `FN KEY` once for every KEY in turn (so a load
# spike hits all of them alike). FN prints seconds or "fail". Sets RESULT[KEY] to the median, or
# "fail" if any repetition failed (that key is not retried).
rounds() {
    local -n result=$1
    local fn=$2 r key s
    shift 2
    declare -A times=()
    for key in "$@"; do times[$key]=""; result[$key]=""; done
    for r in $(seq "$REPS"); do
        for key in "$@"; do
            [ "${result[$key]}" = fail ] && continue
            s=$($fn "$key")
            if [ "$s" = fail ]; then
                echo "# $key: repetition $r failed" >&2
                result[$key]=fail
            else
                times[$key]="${times[$key]} $s"
            fi
        done
    done
    for key in "$@"; do
        # shellcheck disable=SC2086 # the list of times is split on purpose
        [ "${result[$key]}" = fail ] || result[$key]=$(median ${times[$key]})
    done
}

# once_pair CLIENT:PORT: `once`, saying why when it fails.
once_pair() {
    local s
    s=$(once "${1%%:*}" "${1##*:}")
    [ "$s" = fail ] && echo "# ${1%%:*} -> port ${1##*:}: $(tail -n 1 "$TMP/last.out" | cut -c1-120)" >&2
    echo "$s"
}

# measure CLIENT:PORT...: sets MBPS[CLIENT:PORT] to the median MB/s (10^6 bytes/s), or "fail".
declare -A MBPS
measure() {
    local pair
    declare -A secs=()
    rounds secs once_pair "$@"
    for pair in "$@"; do
        case ${secs[$pair]} in
            fail) MBPS[$pair]=fail ;;
            *) MBPS[$pair]=$(python3 -c "print(f'{$BIG_BYTES / 1e6 / ${secs[$pair]}:.1f}')") ;;
        esac
    done
}

# parallel_once PORT: wall seconds for PARALLEL concurrent curl downloads of one.bin, or "fail".
parallel_once() {
    local port=$1 i t0 t1 bad=0 pids=()
    rm -f "$OUT"/one.*
    t0=$EPOCHREALTIME
    for i in $(seq "$PARALLEL"); do
        timeout 120 curl -sS -o "$OUT/one.$i" "tftp://$HOST:$port/one.bin" >/dev/null 2>&1 &
        pids+=("$!")
    done
    for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
    t1=$EPOCHREALTIME
    for i in $(seq "$PARALLEL"); do
        [ "$(sha256sum <"$OUT/one.$i" 2>/dev/null | cut -d' ' -f1)" = "$ONE_SHA" ] || bad=$((bad + 1))
    done
    if [ $bad -ne 0 ]; then
        echo "# parallel -> port $port: $bad failed downloads" >&2
        echo fail
    else
        python3 -c "print(f'{$t1 - $t0:.3f}')"
    fi
}

# parallel PORT...: sets WALL[PORT] to the median wall time over REPS interleaved rounds, or "fail".
declare -A WALL
parallel() { rounds WALL parallel_once "$@"; }

ratio() { # A B -> A/B with 2 decimals, or "fail"
    case "$1$2" in *fail*) echo fail ;; *) python3 -c "print(f'{$1 / $2:.2f}')" ;; esac
}
meets() { # VALUE OP TARGET -> yes/no (a failed transfer meets nothing)
    case "$1" in fail) echo "no (fail)" ;; *) python3 -c "print('yes' if $1 $2 $3 else 'no')" ;; esac
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# measuring: ${SIZE_MIB} MiB file, median of $REPS, servers ptftpd:$P_PT tftpd-hpa:$P_HPA atftpd:$P_AT" >&2
ROWS=()
PT_ROWS=()
row() { ROWS+=("$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$@")"); echo "# ${ROWS[-1]}" >&2; }

[ "${METRICS_ONLY:-0}" = 1 ] && MAIN_ROWS=0 || MAIN_ROWS=1
for c in curl512 curl1468; do
    [ $MAIN_ROWS = 1 ] || break
    measure $c:$P_PT $c:$P_HPA $c:$P_AT
    a=${MBPS[$c:$P_PT]}; h=${MBPS[$c:$P_HPA]}; t=${MBPS[$c:$P_AT]}
    r=$(ratio "$a" "$h")
    row "curl, blksize ${c#curl}, lockstep (MB/s)" "$a" "$h" "$t" "$r vs hpa, $(ratio "$a" "$t") vs atftpd" \
        "≥ 1.0 vs tftpd-hpa" "$(meets "$r" '>=' 1.0)"
done
for w in 16 64; do
    [ $MAIN_ROWS = 1 ] || break
    measure atftp$w:$P_PT atftp$w:$P_AT ptftp$w:$P_PT
    a=${MBPS[atftp$w:$P_PT]}; t=${MBPS[atftp$w:$P_AT]}
    r=$(ratio "$a" "$t")
    if [ $w = 64 ]; then tgt="≥ 1.0 vs atftpd"; m=$(meets "$r" '>=' 1.0); else tgt="-"; m="-"; fi
    row "atftp client, blksize 1468, windowsize $w (MB/s)" "$a" "n/a" "$t" "$r vs atftpd" "$tgt" "$m"
    a=${MBPS[ptftp$w:$P_PT]}
    r=$(ratio "$a" "$t")
    if [ $w = 64 ]; then tgt="≥ 1.5 vs atftp→atftpd"; m=$(meets "$r" '>=' 1.5); else tgt="-"; m="-"; fi
    PT_ROWS+=("ptftp→ptftpd vs atftp→atftpd, windowsize $w (MB/s)|$a|n/a|$t (atftp)|$r|$tgt|$m")
done
for x in "${PT_ROWS[@]}"; do IFS='|' read -r c1 c2 c3 c4 c5 c6 c7 <<<"$x"; row "$c1" "$c2" "$c3" "$c4" "$c5" "$c6" "$c7"; done
if [ $MAIN_ROWS = 1 ]; then
    parallel $P_PT $P_HPA $P_AT
    a=${WALL[$P_PT]}; h=${WALL[$P_HPA]}; t=${WALL[$P_AT]}
    r=$(ratio "$h" "$a")
    row "$PARALLEL parallel 1 MiB curl downloads, wall s (lower is better)" "$a" "$h" "$t" "$r× faster than hpa" \
        "faster than tftpd-hpa" "$(meets "$r" '>' 1.0)"
fi
hwm() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
a=$(hwm $PID_PT); h=$(hwm $PID_HPA); t=$(hwm $PID_AT)
[ $MAIN_ROWS = 1 ] && row "server peak RSS, VmHWM (MiB)" "$a" "$h (listener only)" "$t" "-" "ptftpd < 32 MiB" "$(meets "$a" '<' 32)"

# --- what metrics cost: pxed's TFTP engine, metrics off against on (scraped every second) ---
MROWS=()
if [ "$METRICS" = 1 ]; then
    mrow() { MROWS+=("$(printf '| %s | %s | %s | %s | %s |' "$@")"); echo "# ${MROWS[-1]}" >&2; }
    for c in curl1468 atftp64; do
        measure $c:$P_PX $c:$P_PXM
        off=${MBPS[$c:$P_PX]}; on=${MBPS[$c:$P_PXM]}
        mrow "$c (MB/s)" "$off" "$on" "$(ratio "$on" "$off")" "$(meets "$(ratio "$on" "$off")" '>=' 0.95)"
    done
    parallel $P_PX $P_PXM
    off=${WALL[$P_PX]}; on=${WALL[$P_PXM]}
    mrow "$PARALLEL parallel 1 MiB curl, wall s" "$off" "$on" "$(ratio "$off" "$on")" "$(meets "$(ratio "$off" "$on")" '>=' 0.95)"
    mrow "peak RSS, VmHWM (MiB)" "$(hwm $PID_PX)" "$(hwm $PID_PXM)" "-" "-"
    scrapes=$(curl -s "http://$HOST:$P_MET/metrics" | awk '/^pxed_tftp_transfers_total\{.*outcome="completed"/ {s += $2} END {print s + 0}')
    mrow "transfers the metrics counted (completed)" "-" "$scrapes" "-" "-"
    stop "$SCRAPER"
fi

echo
echo "TFTP benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) CPUs, $(uname -r), pxed $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null)$(cd "$REPO" && git diff --quiet HEAD -- Sources 2>/dev/null || echo '+dirty'), release build"
echo "${SIZE_MIB} MiB file on loopback, median of $REPS runs; MB/s = 10^6 bytes/s; \"fail\" = the transfer did not complete"
echo "load average at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg) (figures are only comparable on an idle machine)"
echo
echo "| measurement | ptftpd | tftpd-hpa | atftpd | ptftpd/peer | target | met |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
if [ ${#MROWS[@]} -gt 0 ]; then
    echo
    echo "What metrics cost (pxed's TFTP engine, median of $REPS; on = metrics.listen set and /metrics scraped every second; ratio on/off, ≥ 0.95 is within noise)"
    echo
    echo "| measurement | metrics off | metrics on | on/off | within noise |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${MROWS[@]}"
fi

# The chart: MB/s per server for each download row (the parallel row is wall time: left out).
if [ $MAIN_ROWS = 1 ] && [ -n "$CHART_DIR" ]; then
    mkdir -p "$CHART_DIR"
    {
        for c in curl512 curl1468; do
            for sp in "ptftpd $P_PT" "tftpd-hpa $P_HPA" "atftpd $P_AT"; do
                printf 'curl, blksize %s\t%s\t%s\n' "${c#curl}" "${sp% *}" "${MBPS[$c:${sp#* }]}"
            done
        done
        for w in 16 64; do
            printf 'atftp client, window %s\tptftpd\t%s\n' $w "${MBPS[atftp$w:$P_PT]}"
            printf 'atftp client, window %s\tatftpd\t%s\n' $w "${MBPS[atftp$w:$P_AT]}"
        done
        for w in 16 64; do
            printf 'own client, window %s\tptftpd\t%s\n' $w "${MBPS[ptftp$w:$P_PT]}"
            printf 'own client, window %s\tatftpd\t%s\n' $w "${MBPS[atftp$w:$P_AT]}"
        done
    } | bash "$REPO/bench/chart.sh" bars "$CHART_DIR/tftp.png" \
        "TFTP: ${SIZE_MIB} MiB download on loopback, median of $REPS" \
        "client and options (own client: ptftp to ptftpd, atftp to atftpd)" "MB/s"
fi
exit 0
