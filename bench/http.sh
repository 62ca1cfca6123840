#!/usr/bin/env bash
# HTTP benchmark: pxed's HTTP engine against nginx serving the same file on loopback, with the
# same client (curl); and, for the same file, pxed's TFTP at windowsize 64 (ptftp) against its
# HTTP. A benchmark, not a test: it prints a table and exits 0 whatever the ratios.
#
# Usage: bench/http.sh
#   REPS=5          repetitions per cell (median shown)
#   SIZE_MIB=256    size of the file
#   PARALLEL=16     concurrent downloads in the parallel row
#   SKIP_BUILD=1    use the existing release binaries in .build-release
# Needs nginx (apt-get install nginx; the bench starts its own instance on 127.0.0.1:17481 with
# its own config and stops it). Ports: 17401 (pxed TFTP), 17480 (pxed HTTP), 17481 (nginx).
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-5}
SIZE_MIB=${SIZE_MIB:-256}
PARALLEL=${PARALLEL:-16}
SCRATCH=$REPO/.build-release
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    for product in pxed ptftp; do
        echo "# swift build -c release --product $product" >&2
        timeout 1800 swift build -c release --scratch-path "$SCRATCH" --product "$product" >/tmp/pxed-bench-http-build.log 2>&1 ||
            { tail -20 /tmp/pxed-bench-http-build.log >&2; exit 1; }
    done
fi
BIN=$(cd "$REPO" && swift build -c release --scratch-path "$SCRATCH" --show-bin-path 2>/dev/null)
export BIN
. "$REPO/Tests/integration/lib.sh"
lib_init http-bench 1800 pxed ptftp
for c in curl nginx python3; do
    command -v "$c" >/dev/null || { echo "bench: $c is not installed (apt-get install nginx curl)" >&2; exit 1; }
done

ROOT=$TMP/root
mkdir -p "$ROOT"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$ROOT/big.bin"
SIZE=$(stat -c %s "$ROOT/big.bin")

cat >"$TMP/pxed.yaml" <<EOF
log-level: info
lease-file: $TMP/leases
control-socket: $TMP/control.sock
tftp: {root: $ROOT, port: 17401, windowsize-max: 64}
http: {port: 17480}
interfaces:
  lo: {address: 127.0.0.1, tftp: true, http: true}
EOF
start_pxed "$TMP/pxed.log" "$TMP/pxed.yaml" || { echo "bench: pxed did not start" >&2; tail "$TMP/pxed.log" >&2; exit 1; }
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes auto;
user root;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server { listen 127.0.0.1:17481; root $ROOT; }
}
EOF
spawn "$TMP/nginx.out" nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx"
for _ in $(seq 50); do curl -sf -o /dev/null -r 0-0 http://127.0.0.1:17481/big.bin && break; sleep 0.1; done
for port in 17480 17481; do   # both must serve the whole file before anything is timed
    curl -sSf -o "$TMP/check.bin" "http://127.0.0.1:$port/big.bin" && cmp -s "$TMP/check.bin" "$ROOT/big.bin" ||
        { echo "bench: the server on port $port does not serve the file" >&2; cat "$TMP/nginx/error.log" >&2 2>/dev/null; exit 1; }
done
rm -f "$TMP/check.bin"

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
one() { # URL: MB/s of one download
    curl -sS -o /dev/null -w '%{speed_download}' "$1" | awk '{ printf "%.1f\n", $1 / 1e6 }'
}
parallel() { # URL: wall seconds for PARALLEL downloads at once
    local s e
    s=$(date +%s.%N)
    for _ in $(seq "$PARALLEL"); do curl -sS -o /dev/null "$1" & done
    wait
    e=$(date +%s.%N)
    awk -v a="$s" -v b="$e" 'BEGIN { printf "%.2f\n", b - a }'
}
tftp_ws64() {
    local s e
    s=$(date +%s.%N)
    "$BIN/ptftp" -b 1468 -w 64 127.0.0.1 17401 -c get -f big.bin "$TMP/tftp.out" >/dev/null 2>&1 || { echo 0; return; }
    e=$(date +%s.%N)
    awk -v a="$s" -v b="$e" -v n="$SIZE" 'BEGIN { printf "%.1f\n", n / (b - a) / 1e6 }'
}

echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the start"
echo "# file $SIZE_MIB MiB, $REPS repetitions per cell (median), curl $(curl --version | head -1 | cut -d' ' -f2), $(nginx -v 2>&1 | cut -d/ -f2)"
pxed_one=$(for _ in $(seq "$REPS"); do one http://127.0.0.1:17480/big.bin; done | median)
nginx_one=$(for _ in $(seq "$REPS"); do one http://127.0.0.1:17481/big.bin; done | median)
pxed_par=$(for _ in $(seq "$REPS"); do parallel http://127.0.0.1:17480/big.bin; done | median)
nginx_par=$(for _ in $(seq "$REPS"); do parallel http://127.0.0.1:17481/big.bin; done | median)
tftp=$(for _ in $(seq "$REPS"); do tftp_ws64; done | median)
rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$PXED_PID/status")
cmp -s "$ROOT/big.bin" "$TMP/tftp.out" || echo "# warning: the TFTP copy differs from the file"
echo
echo "| measurement | pxed | nginx | pxed/nginx | target |"
echo "|---|---|---|---|---|"
echo "| 1 download, $SIZE_MIB MiB (MB/s) | $pxed_one | $nginx_one | $(awk -v a="$pxed_one" -v b="$nginx_one" 'BEGIN { printf "%.2f", a / b }') | >= 0.9 |"
echo "| $PARALLEL parallel downloads (wall s, lower is better) | $pxed_par | $nginx_par | $(awk -v a="$pxed_par" -v b="$nginx_par" 'BEGIN { printf "%.2f", b / a }') | >= 0.9 |"
echo "| pxed peak RSS (MiB) | $rss | - | - | < 64 |"
echo
echo "| same file from pxed | MB/s |"
echo "|---|---|"
echo "| HTTP (curl) | $pxed_one |"
echo "| TFTP windowsize 64, blksize 1468 (ptftp) | $tftp |"
exit 0
