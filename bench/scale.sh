#!/bin/bash
# Scale of state: a /16 pool holding 60,000 active leases. Prints, for pxed (release build):
#   - start-up and reload (SIGHUP) time with those leases in the journal;
#   - DORA rate (perfdhcp as a relay, like bench/dhcp.sh) on a /24 pool (200 clients), an empty
#     /16 pool and the /16 pool with the 60,000 leases (5,000 new clients into the ~5,000 left),
#     with the server's CPU time per ACK, which does not depend on perfdhcp's own socket;
#   - a renew storm: the 60,000 clients each do a DORA again (tools/dhcp_load.py through the
#     relay; every ACK rewrites its lease record), then the journal's size: compaction must keep
#     it bounded (it rewrites the file once it holds twice the live records, and at least 10,000).
# Not a test: it prints tables. Namespaces and files go in an EXIT trap; every load is bounded.
# Environment: BIN (default $REPO/.build-release/release), LEASES (default 60000), RATES (default
# "1000 2000 4000 8000"), PERIOD (default 8), PARTS (default "state dora renew tftp": which
# sections to run), CONCURRENT (default 2000: TFTP clients in the tftp section).
set -u
REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${BIN:-$REPO/.build-release/release}
LEASES=${LEASES:-60000}
RATES=${RATES:-"1000 2000 4000 8000"}
PERIOD=${PERIOD:-8}
PARTS=${PARTS:-"state dora renew tftp"}
want() { [[ " $PARTS " == *" $1 "* ]]; }
S=pxd-scs-$$ C=pxd-scc-$$ VS=sc$$s VC=sc$$c
SRV=10.91.0.1 REL=10.91.0.2
W=$(mktemp -d "${TMPDIR:-/tmp}/pxed-scale.XXXXXX")
SPID=
stop_server() {
  [ -n "$SPID" ] || return 0
  kill -TERM "$SPID" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=
}
cleanup() { stop_server; ip netns del "$C" 2>/dev/null; ip netns del "$S" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for t in perfdhcp python3; do command -v $t >/dev/null || { echo "scale: $t is not installed" >&2; exit 1; }; done
[ -x "$BIN/pxed" ] || { echo "scale: $BIN/pxed missing (swift build -c release --scratch-path .build-release --product pxed)" >&2; exit 1; }
ip netns add "$S" && ip netns add "$C" || exit 1
ip -n "$S" link set lo up; ip -n "$C" link set lo up
ip link add "$VS" netns "$S" type veth peer name "$VC" netns "$C"
ip -n "$S" addr add $SRV/16 dev "$VS"; ip -n "$S" link set "$VS" up
ip -n "$C" addr add $REL/16 dev "$VC"; ip -n "$C" link set "$VC" up

# The journal: LEASES active leases for the MACs tools/dhcp_load.py uses (02:70:<32-bit n>), from
# 10.91.1.0 up, valid for a day.
make_journal() { # FILE COUNT
  python3 - "$1" "$2" <<'PY'
import sys, time, zlib
path, n = sys.argv[1], int(sys.argv[2])
exp = int(time.time()) + 86400
with open(path, "w") as f:
    f.write("# pxed lease journal, one record per line; the last record for an address wins\n")
    for i in range(n):
        a = 0x0A5B0100 + i
        ip = "%d.%d.%d.%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)
        mac = "02:70:%02x:%02x:%02x:%02x" % ((i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255)
        body = "1 %s active %d %s hw:%s -" % (ip, exp, mac, mac.replace(":", ""))
        f.write("%s *%08x\n" % (body, zlib.crc32(body.encode()) & 0xffffffff))
PY
}
write_config() { # DIR LEVEL SUBNET RANGE
  cat > "$1/pxed.yaml" <<EOF
log-level: $2
lease-file: $1/leases
control-socket: $1/control.sock
interfaces:
  $VS:
    address: $SRV
    dhcp: {subnet: $3, range: $4, lease-time: 86400}
EOF
}
start_pxed() { # DIR -> waits for "pxed started" (info) or for the DHCP port to answer
  ip netns exec "$S" "$BIN/pxed" -c "$1/pxed.yaml" > "$1/server.log" 2>&1 &
  SPID=$!
}
ms_since() { python3 -c "import time; print(f'{(time.time() - $1) * 1000:.0f}')"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SPID/stat" 2>/dev/null || echo 0; }
CLK=$(getconf CLK_TCK)

echo "# scale: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $LEASES leases; lease files on $(stat -f -c %T "$W")"

# --- start-up and reload with LEASES leases ----------------------------------------------------
if want state; then
D=$W/startup; mkdir -p "$D"
make_journal "$D/leases" "$LEASES"
write_config "$D" info 10.91.0.0/16 10.91.1.0-10.91.255.254
echo
echo "| with $LEASES leases in the journal ($(wc -l < "$D/leases") lines, $(( $(stat -c %s "$D/leases") / 1024 )) KiB) | run 1 | run 2 | run 3 | target |"
echo "|---|---|---|---|---|"
starts=() reloads=()
for i in 1 2 3; do
  t0=$(python3 -c 'import time; print(time.time())')
  start_pxed "$D"
  for _ in $(seq 400); do grep -q "pxed started" "$D/server.log" && break; sleep 0.01; done
  starts+=("$(ms_since "$t0") ms")
  before=$(grep -c "reload: file read" "$D/server.log")
  kill -HUP "$SPID"
  for _ in $(seq 400); do [ "$(grep -c "reload: file read" "$D/server.log")" -gt "$before" ] && break; sleep 0.01; done
  reloads+=("$(grep "reload: file read" "$D/server.log" | tail -1 | sed 's/.*validated in \([0-9.]*\) ms, applied in \([0-9.]*\) ms.*/\1 + \2 ms/')")
  stop_server
done
echo "| start-up (exec to \"pxed started\", journal replayed) | ${starts[0]} | ${starts[1]} | ${starts[2]} | < 1 s |"
echo "| reload (file read + validated, applied) | ${reloads[0]} | ${reloads[1]} | ${reloads[2]} | < 1 s |"
fi

# --- DORA rate: /24, empty /16, /16 with LEASES leases -----------------------------------------
if want dora; then
run_rates() { # LABEL DIR CLIENTS -> table rows
  local label=$1 dir=$2 clients=$3 rate t0 t1
  for rate in $RATES; do
    rm -rf "$dir/run"; mkdir -p "$dir/run"; cp "$dir/pxed.yaml" "$dir/run/"
    [ -f "$dir/leases.seed" ] && cp "$dir/leases.seed" "$dir/run/leases"
    sed -i "s|lease-file: .*|lease-file: $dir/run/leases|; s|control-socket: .*|control-socket: $dir/run/control.sock|" "$dir/run/pxed.yaml"
    start_pxed "$dir/run"
    for _ in $(seq 100); do
      ip netns exec "$C" timeout 5 perfdhcp -4 -l "$VC" -R 1 -r 5 -p 1 -W 300000 $SRV 2>/dev/null | grep -q "received packets: [1-9]" && break
      sleep 0.2
    done
    t0=$(cpu_ticks)
    ip netns exec "$C" timeout $((PERIOD + 30)) perfdhcp -4 -l "$VC" -R "$clients" -r "$rate" -p "$PERIOD" -W 1000000 $SRV \
      > "$dir/run/perfdhcp.out" 2>&1
    t1=$(cpu_ticks)
    stop_server
    python3 - "$dir/run/perfdhcp.out" "$label" "$rate" $((t1 - t0)) "$CLK" <<'PY'
import re, sys
text, label, rate, ticks, clk = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def block(name):
    m = re.search(r"\*\*\*Statistics for: " + name + r"\*\*\*(.*?)(?:\*\*\*|\Z)", text, re.S)
    if not m: return None
    get = lambda k: float(re.search(k + r": ([0-9.]+)", m.group(1)).group(1))
    return get("sent packets"), get("received packets"), get("drops ratio")
do, ra = block("DISCOVER-OFFER"), block("REQUEST-ACK")
r = re.search(r"Rate: ([0-9.]+)", text)
if not (do and ra and r): print(f"| {label} | {rate} | - | - | - | - |"); sys.exit()
loss = 100.0 * (1 - ra[1] / do[0]) if do[0] else 100.0
print(f"| {label} | {rate} | {float(r.group(1)):.0f} | {ra[2]:.2f} | {loss:.2f} | {ticks / clk * 1e6 / ra[1]:.0f} |" if ra[1] else f"| {label} | {rate} | 0 | - | - | - |")
PY
  done
}
echo
echo "| pool | offered/s | got/s | RA drop % | DORA loss % | server CPU µs per ACK |"
echo "|---|---|---|---|---|---|"
D24=$W/p24; mkdir -p "$D24"; write_config "$D24" warning 10.91.0.0/16 10.91.0.10-10.91.0.250
run_rates "/24-sized range (241 addresses), 200 clients" "$D24" 200
D16=$W/p16; mkdir -p "$D16"; write_config "$D16" warning 10.91.0.0/16 10.91.1.0-10.91.255.254
run_rates "/16, empty, 5,000 clients" "$D16" 5000
DF=$W/full; mkdir -p "$DF"; write_config "$DF" warning 10.91.0.0/16 10.91.1.0-10.91.255.254
make_journal "$DF/leases.seed" "$LEASES"
run_rates "/16 with $LEASES active leases, 5,000 new clients" "$DF" 5000
fi

# --- renew storm ------------------------------------------------------------------------------
if want renew; then
DR=$W/renew; mkdir -p "$DR"; write_config "$DR" warning 10.91.0.0/16 10.91.1.0-10.91.255.254
make_journal "$DR/leases" "$LEASES"
start_pxed "$DR"
for _ in $(seq 100); do
  ip netns exec "$C" timeout 5 perfdhcp -4 -l "$VC" -R 1 -r 5 -p 1 -W 300000 $SRV 2>/dev/null | grep -q "received packets: [1-9]" && break
  sleep 0.2
done
lines0=$(wc -l < "$DR/leases")
t0=$(python3 -c 'import time; print(time.time())')
ip netns exec "$C" timeout 300 python3 "$REPO/Tests/integration/tools/dhcp_load.py" --server $SRV --giaddr $REL \
  --count "$LEASES" --seconds 240 --window 64 --acks "$DR/acks" --timeout 1 > "$DR/load.out" 2>&1
secs=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
stop_server
same=$(python3 - "$DR/acks" <<'PY'
import sys
n = 0; same = 0
for line in open(sys.argv[1]):
    mac, ip = line.split(); n += 1
    i = int(mac.replace(":", "")[4:], 16); a = 0x0A5B0100 + i
    same += ip == "%d.%d.%d.%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)
print(f"{same} of {n}")
PY
)
echo
echo "| renew storm: $LEASES clients DORA again | result |"
echo "|---|---|"
echo "| exchanges | $(cat "$DR/load.out") in $secs s |"
echo "| clients that got their own address back | $same |"
echo "| journal lines before / after | $lines0 / $(wc -l < "$DR/leases") (live records: $LEASES) |"
echo "| journal size after | $(( $(stat -c %s "$DR/leases") / 1024 )) KiB |"
fi

# --- concurrent TFTP transfers ----------------------------------------------------------------
# CONCURRENT (default 2,000) transfers at once, max-sessions 5,000: each client fetches a 256 KiB
# file then a 1 MiB file (pxestorm --boot-file: no DHCP). Threads are sampled every 100 ms.
CONCURRENT=${CONCURRENT:-2000}
if want tftp && [ -x "$BIN/pxestorm" ] && [ "$CONCURRENT" -gt 0 ]; then
  DT=$W/tftp; mkdir -p "$DT/root"
  head -c $((256 * 1024)) /dev/urandom > "$DT/root/loader"
  head -c $((1024 * 1024)) /dev/urandom > "$DT/root/kernel"
  cat > "$DT/pxed.yaml" <<EOF
log-level: warning
lease-file: $DT/leases
control-socket: $DT/control.sock
tftp: {root: $DT/root, max-sessions: 5000}
interfaces:
  $VS: {address: $SRV, tftp: true}
EOF
  start_pxed "$DT"
  sleep 1
  ( peak=0; while kill -0 "$SPID" 2>/dev/null; do
      t=$(awk '/^Threads/ {print $2}' "/proc/$SPID/status" 2>/dev/null || echo 0)
      [ "${t:-0}" -gt "$peak" ] && peak=$t && echo "$peak" > "$DT/threads"
      sleep 0.1
    done ) &
  SAMPLER=$!
  t0=$(cpu_ticks)
  ip netns exec "$C" timeout 600 "$BIN/pxestorm" --machines "$CONCURRENT" --server $SRV --relay $REL --boot-file loader \
    --verify "$DT/root" > "$DT/storm.json" 2> "$DT/storm.err"
  t1=$(cpu_ticks)
  hwm=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$SPID/status")
  stop_server
  kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
  echo
  echo "| $CONCURRENT concurrent TFTP clients (256 KiB then 1 MiB each, blksize 1468, lockstep) | result |"
  echo "|---|---|"
  python3 - "$DT/storm.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    print("| storm | failed: %r |" % open(sys.argv[1]).read()[:200]); sys.exit()
print(f"| completed / failed | {r['ok']} / {r['failed']} {r['failure_reasons'] or ''} |")
print(f"| last client done, median | {r['last_s']:.1f} s, {r['median_s']:.1f} s |")
print(f"| TFTP retransmits (client side) | {r['tftp_retransmits']} |")
PY
  echo "| server CPU | $(python3 -c "print(f'{($t1 - $t0) / $CLK:.1f} s')") |"
  echo "| server peak RSS (VmHWM) | $hwm MiB |"
  echo "| server peak threads | $(cat "$DT/threads" 2>/dev/null || echo ?) |"
fi
