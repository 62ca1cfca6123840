#!/bin/bash
# Boot storm: N machines power on at once. Each does a full DORA through a relay address
# (giaddr, unicast: nothing is broadcast), downloads the boot file it was given (a 1 MiB
# "loader") and then a "kernel" (kernel + initrd in one file) over TFTP with blksize 1468 and no
# window, as firmware does; against pxed, also both files over HTTP afterwards in a second row.
# The load generator is `pxestorm` (Sources/pxestorm, this repository), run in a client namespace;
# each server runs alone in the server namespace, once per N:
#   pxed          DHCP + TFTP (+ HTTP) in one process, release build, leases fdatasynced
#   dnsmasq       DHCP + TFTP in one process (--enable-tftp, --tftp-max raised to N)
#   kea+tftpd-hpa kea-dhcp4 (memfile, persist) with next-server/boot-file-name, and in.tftpd -L
# Reported per run: time until the last machine finished, the median machine, failures (must be
# 0), DHCP and TFTP retransmits seen by the clients, the servers' CPU seconds (user + system,
# children included: tftpd-hpa forks one per transfer) and peak RSS (VmHWM; for kea+tftpd-hpa the
# sum of both daemons' main processes).
#
# Usage: bench/bootstorm.sh [N ...]      default N: 50 200 1000
# Environment: BIN (default $REPO/.build-release/release), SERVERS (default "pxed dnsmasq kea"),
#   LOADER_KIB (default 1024), KERNEL_MIB (default 16; KERNEL_MIB_1000 for N >= 1000, default 4,
#   so a run fits a few minutes on 2 cores), HTTP=0 skips pxed's HTTP row, JSON_DIR=DIR keeps
#   each run's pxestorm JSON (with every machine's finish time) there; CHART_DIR (default
#   bench/charts) gets bootstorm.png, machines booted against seconds for the largest N, one line
#   per server (bench/chart.sh, gnuplot; CHART_DIR= draws none).
# Bounded: each storm runs under `timeout`; servers are stopped after each run; namespaces and
# files go in an EXIT trap.
set -u
REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${BIN:-$REPO/.build-release/release}
SERVERS=${SERVERS:-"pxed dnsmasq kea"}
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(50 200 1000)
LOADER_KIB=${LOADER_KIB:-1024}
KERNEL_MIB=${KERNEL_MIB:-16}
KERNEL_MIB_1000=${KERNEL_MIB_1000:-4}
HTTP=${HTTP:-1}
CHART_DIR=${CHART_DIR-$REPO/bench/charts}
S=pxd-bss-$$ C=pxd-bsc-$$ VS=bs$$s VC=bs$$c
SRV=10.90.0.1 REL=10.90.0.2
W=$(mktemp -d "${TMPDIR:-/tmp}/pxed-bootstorm.XXXXXX")
PIDS=()
stop_servers() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  PIDS=()
}
cleanup() {
  stop_servers; rmdir "$CG" 2>/dev/null; ip netns del "$C" 2>/dev/null; ip netns del "$S" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for t in dnsmasq kea-dhcp4 in.tftpd python3; do command -v $t >/dev/null || { echo "bootstorm: $t is not installed" >&2; exit 1; }; done
for b in pxed pxestorm; do
  [ -x "$BIN/$b" ] || { echo "bootstorm: $BIN/$b missing (swift build -c release --scratch-path .build-release --product $b)" >&2; exit 1; }
done

ip netns add "$S" && ip netns add "$C" || exit 1
ip -n "$S" link set lo up; ip -n "$C" link set lo up
ip link add "$VS" netns "$S" type veth peer name "$VC" netns "$C"
ip -n "$S" addr add $SRV/16 dev "$VS"; ip -n "$S" link set "$VS" up
ip -n "$C" addr add $REL/16 dev "$VC"; ip -n "$C" link set "$VC" up
for _ in $(seq 50); do ip netns exec "$C" ping -c1 -W1 $SRV >/dev/null 2>&1 && break; sleep 0.1; done

ROOT=$W/root
mkdir -p "$ROOT"
make_files() { # KERNEL-MIB
  head -c $((LOADER_KIB * 1024)) /dev/urandom > "$ROOT/loader"
  head -c $(($1 * 1024 * 1024)) /dev/urandom > "$ROOT/kernel"
}

start_pxed() { # DIR N
  cat > "$1/pxed.yaml" <<EOF
log-level: warning
lease-file: $1/leases
control-socket: $1/control.sock
tftp: {root: $ROOT, max-sessions: $(( $2 * 2 > 500 ? $2 * 2 : 500 ))}
http: {port: 8080}
interfaces:
  $VS:
    address: $SRV
    tftp: true
    http: true
    dhcp: {subnet: 10.90.0.0/16, range: 10.90.1.0-10.90.250.255, lease-time: 3600}
boot:
  bios: loader
EOF
  ip netns exec "$S" "$BIN/pxed" -c "$1/pxed.yaml" > "$1/server.log" 2>&1 &
  PIDS+=($!)
}
start_dnsmasq() { # DIR N
  ip netns exec "$S" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --interface="$VS" --bind-interfaces \
    --dhcp-range=10.90.1.0,10.90.250.255,255.255.0.0,1h --dhcp-boot=loader --enable-tftp --tftp-root="$ROOT" \
    --tftp-max=$(( $2 * 2 > 50 ? $2 * 2 : 50 )) --dhcp-leasefile="$1/dnsmasq.leases" --dhcp-lease-max=200000 --no-ping \
    --quiet-dhcp --quiet-tftp --user=root --group=root --log-facility="$1/server.log" > "$1/server.out" 2>&1 &
  PIDS+=($!)
}
start_kea() { # DIR N
  cat > "$1/kea4.json" <<EOF
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "$VS" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$1/kea-leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "subnet4": [ { "id": 1, "subnet": "10.90.0.0/16", "pools": [ { "pool": "10.90.1.0 - 10.90.250.255" } ],
                   "next-server": "$SRV", "boot-file-name": "loader" } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "WARN", "output_options": [ { "output": "$1/server.log" } ] } ] } }
EOF
  KEA_PIDFILE_DIR="$1" KEA_LOCKFILE_DIR="$1" ip netns exec "$S" kea-dhcp4 -c "$1/kea4.json" > "$1/server.out" 2>&1 &
  PIDS+=($!)
  ip netns exec "$S" in.tftpd -L -u root -s "$ROOT" -a $SRV:69 > "$1/tftpd.out" 2>&1 &
  PIDS+=($!)
}
# Server CPU time in ns. With a cgroup v1 cpuacct hierarchy the servers go in a group of their own,
# so children count even when nobody reaps them (in.tftpd ignores SIGCHLD); otherwise the /proc
# figures of the servers (and their reaped children).
CG=/sys/fs/cgroup/cpuacct/pxed-bootstorm-$$
cg_enter() { # PID...
  mkdir -p "$CG" 2>/dev/null || return 0
  local p; for p in "$@"; do echo "$p" > "$CG/cgroup.procs" 2>/dev/null; done
}
cpu_ns() {
  if [ -r "$CG/cpuacct.usage" ]; then cat "$CG/cpuacct.usage"; return; fi
  local p t=0 clk; clk=$(getconf CLK_TCK)
  for p in "${PIDS[@]}"; do t=$((t + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo $((t * 1000000000 / clk))
}
peak_kib() { local p t=0; for p in "${PIDS[@]}"; do t=$((t + $(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo $t; }
ready() { # a DORA from one machine: the server answers
  for _ in $(seq 40); do
    ip netns exec "$C" timeout 20 "$BIN/pxestorm" --machines 1 --server $SRV --relay $REL --mac-base 900000 \
      > "$1/ready.json" 2>&1 && grep -q '"ok": 1' "$1/ready.json" && return 0
    sleep 0.25
  done
  return 1
}

echo "# boot storm: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $(dnsmasq -v | head -1 | cut -d' ' -f1-3); kea-dhcp4 $(kea-dhcp4 -v); tftpd-hpa $(dpkg-query -W -f='${Version}' tftpd-hpa 2>/dev/null)"
echo "| N | server | loader + kernel | last machine s | median s | failed | DHCP retx | TFTP retx | server CPU s | peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in "${SIZES[@]}"; do
  kmib=$KERNEL_MIB; [ "$n" -ge 1000 ] && kmib=$KERNEL_MIB_1000
  make_files "$kmib"
  rows=("$SERVERS")
  [[ " $SERVERS " == *" pxed "* ]] && [ "$HTTP" = 1 ] && rows=("$SERVERS pxed-http")
  for server in ${rows[0]}; do
    dir=$W/$server-$n
    mkdir -p "$dir"
    base=${server%-http}
    "start_$base" "$dir" "$n"
    if ! ready "$dir"; then
      echo "| $n | $server | - | did not start: $(tail -2 "$dir"/server.* 2>/dev/null | tr '\n' ' ' | cut -c1-80) |"
      stop_servers; continue
    fi
    http=(); [ "$server" = pxed-http ] && http=(--http-port 8080)
    cg_enter "${PIDS[@]}"
    t0=$(cpu_ns)
    ip netns exec "$C" timeout 900 "$BIN/pxestorm" --machines "$n" --server $SRV --relay $REL --verify "$ROOT" \
      --mac-base $((n * 10)) "${http[@]}" > "$dir/storm.json" 2> "$dir/storm.err"
    t1=$(cpu_ns); peak=$(peak_kib)
    stop_servers
    rmdir "$CG" 2>/dev/null
    python3 - "$dir/storm.json" "$n" "$server" "$LOADER_KIB" "$kmib" $((t1 - t0)) "$peak" <<'PY'
import json, sys
path, n, server, lkib, kmib, ns, peak = sys.argv[1:]
try:
    r = json.load(open(path))
except Exception as e:
    print(f"| {n} | {server} | - | storm failed: {open(path).read()[:80]!r} |"); sys.exit(0)
loader = f"{int(lkib) // 1024} MiB" if int(lkib) % 1024 == 0 else f"{lkib} KiB"
size = f"{loader} + {kmib} MiB" + (" (TFTP, then HTTP)" if server.endswith("-http") else "")
reasons = "; ".join(f"{k} ×{v}" for k, v in r["failure_reasons"].items())
print(f"| {n} | {server} | {size} | {r['last_s']:.1f} | {r['median_s']:.1f} | {r['failed']}{' (' + reasons + ')' if reasons else ''} | "
      f"{r['dhcp_retransmits']} | {r['tftp_retransmits']} | {int(ns) / 1e9:.1f} | {int(peak) / 1024:.1f} |")
PY
    [ -n "${JSON_DIR:-}" ] && cp "$dir/storm.json" "$JSON_DIR/bootstorm-$server-$n.json"
  done
done

# The chart: for the largest N, how many machines had finished after t seconds, per server.
if [ -n "$CHART_DIR" ]; then
  n=$(printf '%s\n' "${SIZES[@]}" | sort -n | tail -1)
  mkdir -p "$CHART_DIR"
  for server in $SERVERS $([ "$HTTP" = 1 ] && [[ " $SERVERS " == *" pxed "* ]] && echo pxed-http); do
    [ -s "$W/$server-$n/storm.json" ] || continue
    python3 - "$W/$server-$n/storm.json" "$server" <<'PY'
import json, sys
try:
    times = json.load(open(sys.argv[1]))["finish_times"]
except Exception:
    sys.exit(0)
print(f"{sys.argv[2]}\t0\t0")
for i, t in enumerate(times, 1):
    print(f"{sys.argv[2]}\t{t}\t{i}")
PY
  done | bash "$REPO/bench/chart.sh" steps "$CHART_DIR/bootstorm.png" \
    "Boot storm: $n machines power on at once" \
    "seconds since power-on" "machines booted (DHCP + loader + kernel)"
fi
