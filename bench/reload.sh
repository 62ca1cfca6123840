#!/bin/bash
# Benchmark: time from SIGHUP to the new configuration serving, with 10,000 reservations, while a
# download loop runs alongside and must see no failure. Runs inside a network namespace of its
# own (DHCP listens there, never on the host). Bounded: ROUNDS reloads, a few seconds each.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$REPO/.build/release}
HOSTS=${HOSTS:-10000}
ROUNDS=${ROUNDS:-10}
NS=pxd-rl-$$
T=$(mktemp -d)
PID=
cleanup() { [ -n "${KEEPLOG:-}" ] && cp "$T/log" "$KEEPLOG"; [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; ip netns del "$NS" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
[ -x "$BIN/pxed" ] || { echo "build first: swift build -c release --product pxed (or set BIN)"; exit 1; }
ip netns add "$NS"; ip -n "$NS" link set lo up; ip -n "$NS" addr add 10.77.0.1/16 dev lo
mkdir -p "$T/r0" "$T/r1"
echo 0 > "$T/r0/marker.txt"; echo 1 > "$T/r1/marker.txt"
head -c 1048576 /dev/urandom > "$T/r0/load.bin"; cp "$T/r0/load.bin" "$T/r1/load.bin"
write_config() { # root, hosts offset
  python3 - "$T/pxed.yaml" "$1" "$HOSTS" "$2" "$T/leases" <<'PY'
import sys
path, root, n, off, leases = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
lines = [f"lease-file: {leases}", f"control-socket: {leases}.sock", "tftp:", f"  root: {root}", "  port: 17569", "interfaces:", "  lo:",
         "    address: 10.77.0.1", "    tftp: true", "    dhcp:", "      subnet: 10.77.0.0/16",
         "      range: 10.77.200.1-10.77.250.254", "      port: 17567", "hosts:"]
for i in range(n):
    ip = 2 + i
    mac = (i + off) & 0xFFFFFF
    lines.append(f"  - {{mac: '52:54:{(mac>>16)&255:02x}:{(mac>>8)&255:02x}:{mac&255:02x}:{(off//256)&255:02x}', ip: 10.77.{ip>>8}.{ip&255}, hostname: h{i}}}")
open(path, "w").write("\n".join(lines) + "\n")
PY
}
write_config "$T/r0" 0
ip netns exec "$NS" "$BIN/pxed" -c "$T/pxed.yaml" > "$T/log" 2>&1 &
PID=$!
for i in $(seq 1 200); do grep -q "pxed started" "$T/log" && break; sleep 0.05; done
grep -q "pxed started" "$T/log" || { echo "pxed did not start"; cat "$T/log"; exit 1; }
echo "pxed with $HOSTS reservations; $ROUNDS reloads; download loop alongside"
ip netns exec "$NS" python3 - "$PID" "$T" "$ROUNDS" "$HOSTS" <<'PY'
import os, signal, socket, struct, sys, time, subprocess
pid, T, rounds, hosts = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
SERVER = ("10.77.0.1", 17569)

def tftp_get(name, blksize=1468, timeout=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(timeout)
    s.sendto(b"\0\1" + name.encode() + b"\0octet\0blksize\0" + str(blksize).encode() + b"\0", SERVER)
    out, expect, peer = bytearray(), 1, None
    while True:
        d, a = s.recvfrom(65536)
        op = struct.unpack("!H", d[:2])[0]
        if op == 6: s.sendto(b"\0\4\0\0", a); peer = a; continue
        if op == 5: raise RuntimeError(d[4:].rstrip(b"\0").decode())
        blk = struct.unpack("!H", d[2:4])[0]
        if blk == expect & 0xFFFF: out += d[4:]; expect += 1
        s.sendto(struct.pack("!HH", 4, blk), a)
        if len(d) - 4 < blksize: return bytes(out)

# The download loop runs in a process of its own: as a thread it would share Python's GIL with
# the probe below, and the probe's figures would include waits for the GIL, not only for pxed.
import json, multiprocessing
want = open(T + "/r0/load.bin", "rb").read()
stop = multiprocessing.Event()
def loop():
    ok, bad = 0, []
    while not stop.is_set():
        try:
            if tftp_get("load.bin") == want: ok += 1
            else: bad.append("corrupt")
        except Exception as e: bad.append(str(e))
    json.dump({"ok": ok, "bad": bad}, open(T + "/loop.json", "w"))
th = multiprocessing.Process(target=loop); th.start()
times = []
for r in range(1, rounds + 1):
    root = T + ("/r1" if r % 2 else "/r0")
    subprocess.run(["bash", "-c", f"sed -i 's#^  root: .*#  root: {root}#' {T}/pxed.yaml"], check=True)
    expect = b"1\n" if r % 2 else b"0\n"
    t0 = time.monotonic(); os.kill(pid, signal.SIGHUP)
    while True:
        try:
            if tftp_get("marker.txt", timeout=0.2) == expect: break
        except Exception: pass
        if time.monotonic() - t0 > 10: raise SystemExit("reload did not take effect in 10 s")
    times.append((time.monotonic() - t0) * 1000)
    time.sleep(0.3)
stop.set(); th.join()
result = json.load(open(T + "/loop.json"))
ok, bad = result["ok"], result["bad"]
times.sort()
median = times[len(times)//2]
print(f"HUP -> new config serving ({hosts} reservations): median {median:.1f} ms, max {times[-1]:.1f} ms over {rounds} reloads")
print(f"target: median under 50 ms: {'met' if median < 50 else 'NOT met'}")
print(f"download loop alongside: {ok} x 1 MiB completed, {len(bad)} failed {bad[:3]}")
sys.exit(1 if bad else 0)
PY
rc=$?
grep -c "reload applied" "$T/log" | sed 's/^/reloads applied per log: /'
echo "peak RSS of pxed: $(grep VmHWM /proc/$PID/status | awk '{print $2/1024 " MiB"}')"
exit $rc
