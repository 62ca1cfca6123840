#!/bin/bash
# Benchmark: DHCP DORA exchanges per second with many distinct clients, pxed against dnsmasq and
# kea-dhcp4, measured with Kea's perfdhcp acting as a relay agent. Not a test: it prints tables.
#
# Everything runs in two network namespaces made here (server and client, a veth pair on
# 10.79.0.0/16); no DHCP packet reaches the host's interfaces. Each server is started alone on
# port 67 in the server namespace, once per offered rate, with an empty lease file:
#   pxed     release build, /16 pool, lease journal (fdatasync before every ACK, group commit)
#   dnsmasq  --no-ping, its own lease file, --dhcp-range over the /16
#   kea      kea-dhcp4, memfile lease database with persist: true, UDP sockets (the traffic is
#            relayed unicast; Kea's raw-socket default would hide its queue overflows from the
#            counters below)
#   pxed_pg  pxed with its leases in PostgreSQL (lease-store: postgresql), one server
#   pxed_pg2 two pxed servers on one database, each on its own veth pair; two perfdhcp runs at
#            half the rate each (their own giaddr, server and MAC base), figures summed
#   kea_pg   kea-dhcp4 with its PostgreSQL lease backend (kea-admin db-init pgsql)
#   The *_pg servers share one throwaway cluster (scripts/pg-cluster.sh) inside the server
#   namespace on 127.0.0.1, fsync on, default synchronous_commit; tables emptied before each step.
#   With PG_CPU_CAP=N each *_pg server process is held to N % of one core (a cgroup v1 CPU quota):
#   on a 2-core machine perfdhcp, PostgreSQL and two servers share the same cores, so only a cap
#   shows what a second server adds when each server's own CPU is the limit (as with one server
#   per machine).
# perfdhcp: -R CLIENTS distinct MACs, -r RATE DORA/s offered, -p PERIOD seconds, giaddr 10.79.0.2,
# -g single. Its default on a multi-core machine, a receive thread handing packets to the main
# thread, is the slower load generator here: its own socket overflowed at 10,000-12,000 DORA/s where
# single mode held 14,000-16,000 (issue 20's notes); both servers gain from the change.
# The load generator is on CPU 1 and the server (all its threads) on CPU 0 (PIN=1, the default,
# not for the *_pg rows, which need both cores for PostgreSQL): otherwise the scheduler sometimes
# puts perfdhcp behind a server thread for longer than its receive queue lasts (the default
# rmem, 212,992 bytes, about 7 ms of replies at 12,000 DORA/s), as if a relay on another machine
# stalled; both servers are pinned alike.
# The lease files live under a mktemp directory in TMPDIR (default /tmp); the header prints its
# filesystem type, since an fdatasync on tmpfs costs nothing.
#
# Environment:
#   BIN       directory holding the pxed binary (default $REPO/.build/release)
#   SERVERS   which servers, in order (default "pxed dnsmasq kea pxed_pg pxed_pg2 kea_pg");
#             "pxed_metrics" is pxed with
#             metrics on (metrics.listen on the server namespace's loopback) and scraped every
#             second during the step, to weigh what the metrics cost against "pxed"
#   RATES     offered rates, DORA/s (default "1000 2000 4000 6000 7000 8000 10000 12000 14000 16000 18000")
#   PG_RATES  the same for the *_pg servers (default "250 500 1000 2000 4000 8000")
#   PERIOD    seconds per step (default 10); CLIENTS distinct clients (default 5000)
#   STOP_AT   skip a server's higher rates once REQUEST-ACK drops exceed this percent (default 30)
#   PIN=0     no CPU pinning; PERFDHCP_THREADS=multi perfdhcp's default thread mode
#   RELAYS    relay agents (perfdhcp processes, each its own giaddr) sharing the load (default 1)
#   CHART_DIR where the chart goes (default bench/charts: dhcp.png, DORA loss against offered
#             rate per server, drawn by bench/chart.sh with gnuplot); CHART_DIR= draws none
#   FSYNC_CHECK=0 skips the strace check that pxed fdatasyncs a lease before its ACK is sent
# Bounded: every perfdhcp and strace run is under `timeout`; each server is stopped after its step
# (SIGTERM, SIGKILL after 5 s); namespaces, the cluster and files go in an EXIT trap. About 4
# minutes, 8 with the PostgreSQL rows.
set -u
REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${BIN:-$REPO/.build/release}
SERVERS=${SERVERS:-"pxed dnsmasq kea pxed_pg pxed_pg2 kea_pg"}
RATES=${RATES:-"1000 2000 4000 6000 7000 8000 10000 12000 14000 16000 18000"}
PG_RATES=${PG_RATES:-"250 500 1000 2000 4000 8000"}
PG_CPU_CAP=${PG_CPU_CAP:-0}
PERIOD=${PERIOD:-10}
CLIENTS=${CLIENTS:-5000}
STOP_AT=${STOP_AT:-30}
RELAYS=${RELAYS:-1}
PIN=${PIN:-1}
PERFDHCP_THREADS=${PERFDHCP_THREADS:-single}
CLIENT_CPU=
[ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && CLIENT_CPU="taskset -c 1"
FSYNC_CHECK=${FSYNC_CHECK:-1}
CHART_DIR=${CHART_DIR-$REPO/bench/charts}

S=pxd-bs-$$
C=pxd-bc-$$
VS=pbs$$
VC=pbc$$
SRV=10.79.0.1
CLI=10.79.0.2
# The second server of pxed_pg2, on a second veth pair (host routes keep each pair's traffic on it).
VS2=pbs2$$
VC2=pbc2$$
SRV2=10.79.0.3
CLI2=10.79.0.4
PG_PORT=15434
W=$(mktemp -d "${TMPDIR:-/tmp}/pxed-dhcp-bench.XXXXXX")
SPID=
SPID2=
# relay_address N: the giaddr of relay agent N (the first is the veth's own address).
relay_address() { [ "$1" = 1 ] && echo $CLI || echo "10.79.0.$((8 + $1))"; }

stop_one() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
stop_server() {
  stop_one "$SPID"; stop_one "$SPID2"
  SPID= SPID2=
}
# cap PID NAME: hold PID (all its threads) to PG_CPU_CAP % of one core, in a cgroup of ours.

cap() {
  [ "$PG_CPU_CAP" -gt 0 ] 2>/dev/null || return 0
  local g=/sys/fs/cgroup/cpu/pxed-bench-$$-$2
  [ -d "$g" ] || mkdir "$g" || return 1
  echo 100000 > "$g/cpu.cfs_period_us" && echo $((PG_CPU_CAP * 1000)) > "$g/cpu.cfs_quota_us" && echo "$1" > "$g/cgroup.procs"
}
. "$REPO/scripts/pg-cluster.sh"
cleanup() {
  stop_server
  # The cgroups are made in run_step's subshell: find them by name.
  for g in /sys/fs/cgroup/cpu/pxed-bench-$$-*; do [ -d "$g" ] && rmdir "$g" 2>/dev/null; done
  pgc_stop
  ip netns del "$C" 2>/dev/null
  ip netns del "$S" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in perfdhcp dnsmasq kea-dhcp4 python3; do
  command -v $tool >/dev/null || { echo "missing $tool (scripts/install-deps.sh installs it)"; exit 1; }
done
[ -x "$BIN/pxed" ] || { echo "no $BIN/pxed: swift build -c release --product pxed (or set BIN)"; exit 1; }

ip netns add "$S" && ip netns add "$C" || exit 1
ip -n "$S" link set lo up; ip -n "$C" link set lo up
ip link add "$VS" netns "$S" type veth peer name "$VC" netns "$C" || exit 1
ip -n "$S" addr add $SRV/16 dev "$VS"; ip -n "$S" link set "$VS" up
ip -n "$C" addr add $CLI/16 dev "$VC"; ip -n "$C" link set "$VC" up
for i in $(seq 2 "$RELAYS"); do ip -n "$C" addr add "$(relay_address "$i")/16" dev "$VC"; done
USES_PG=0
[[ " $SERVERS " == *_pg* ]] && USES_PG=1
if [ $USES_PG = 1 ]; then
  ip link add "$VS2" netns "$S" type veth peer name "$VC2" netns "$C" || exit 1
  ip -n "$S" addr add $SRV2/16 dev "$VS2"; ip -n "$S" link set "$VS2" up
  ip -n "$C" addr add $CLI2/16 dev "$VC2"; ip -n "$C" link set "$VC2" up
  ip -n "$S" route add $CLI2/32 dev "$VS2" src $SRV2
  ip -n "$C" route add $SRV2/32 dev "$VC2" src $CLI2
  pgc_init "$W/pg" $PG_PORT 127.0.0.1 "$S" && pgc_start || { echo "PostgreSQL cluster did not start"; exit 1; }
  pgc_role_db pxed pxed-pw && pgc_role_db kea kea-pw || { echo "PostgreSQL roles"; exit 1; }
  printf 'pxed-pw\n' > "$W/pxed-db-password"
fi

# --- servers ----------------------------------------------------------------------------------
# start_SERVER DIR: start in the server namespace with a fresh database in DIR; sets SPID.
start_pxed() {
  pxed_config "$1" > "$1/pxed.yaml"
  ip netns exec "$S" "$BIN/pxed" -c "$1/pxed.yaml" > "$1/server.log" 2>&1 &
  SPID=$!
}
# pxed_config DIR [IFNAME ADDRESS [STORE]]: STORE "pg" keeps the leases in the bench's cluster.
pxed_config() {
  local ifname=${2:-$VS} address=${3:-$SRV}
  cat <<EOF
# Per-lease log lines off (as for dnsmasq --quiet-dhcp and Kea at WARN).
log-level: warning
control-socket: $1/control-$ifname.sock
interfaces:
  $ifname:
    address: $address
    tftp: false
    dhcp:
      subnet: 10.79.0.0/16
      range: 10.79.1.0-10.79.255.254
      router: $address
      lease-time: 3600
EOF
  if [ "${4:-}" = pg ]; then
    echo "lease-store: {backend: postgresql, url: \"postgresql://pxed@127.0.0.1:$PG_PORT/pxed\", password-file: $W/pxed-db-password}"
  else
    echo "lease-file: $1/leases"
  fi
}
# Leases in PostgreSQL: one server, or two on one database (each on its own veth pair).
start_pxed_pg() {
  pgc_sql pxed "TRUNCATE pxed_leases4" >/dev/null 2>&1
  pxed_config "$1" "$VS" $SRV pg > "$1/pxed.yaml"
  ip netns exec "$S" "$BIN/pxed" -c "$1/pxed.yaml" > "$1/server.log" 2>&1 &
  SPID=$!
  cap $SPID first
}
start_pxed_pg2() {
  start_pxed_pg "$1"
  pxed_config "$1" "$VS2" $SRV2 pg > "$1/pxed2.yaml"
  ip netns exec "$S" "$BIN/pxed" -c "$1/pxed2.yaml" > "$1/server2.log" 2>&1 &
  SPID2=$!
  cap $SPID2 second
}
# pxed with metrics on, and a scraper (one GET /metrics a second, as Prometheus would) that ends
# with the server.
start_pxed_metrics() {
  { pxed_config "$1"; echo "metrics: {listen: \"127.0.0.1:9167\"}"; } > "$1/pxed.yaml"
  ip netns exec "$S" "$BIN/pxed" -c "$1/pxed.yaml" > "$1/server.log" 2>&1 &
  SPID=$!
  local server=$SPID
  ( while kill -0 "$server" 2>/dev/null; do
      ip netns exec "$S" curl -s -o /dev/null --max-time 2 http://127.0.0.1:9167/metrics
      sleep 1
    done ) > /dev/null 2>&1 &
}
start_dnsmasq() {
  ip netns exec "$S" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --interface="$VS" \
    --bind-interfaces --dhcp-range=10.79.1.0,10.79.255.254,255.255.0.0,1h --dhcp-option=3,$SRV \
    --dhcp-leasefile="$1/dnsmasq.leases" --dhcp-lease-max=200000 --no-ping --quiet-dhcp \
    --pid-file="$1/dnsmasq.pid" --user=root --group=root --log-facility="$1/server.log" \
    > "$1/server.out" 2>&1 &
  SPID=$!
}
# kea_with DIR LEASE-DATABASE-JSON: kea-dhcp4 on the first veth with that lease database.
kea_with() {
  cat > "$1/kea.json" <<EOF
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "$VS" ], "dhcp-socket-type": "udp" },
    "lease-database": $2,
    "valid-lifetime": 3600,
    "subnet4": [ { "id": 1, "subnet": "10.79.0.0/16",
                   "pools": [ { "pool": "10.79.1.0 - 10.79.255.254" } ],
                   "option-data": [ { "name": "routers", "data": "$SRV" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "WARN",
                   "output_options": [ { "output": "$1/server.log" } ] } ] } }
EOF
  KEA_PIDFILE_DIR="$1" KEA_LOCKFILE_DIR="$1" ip netns exec "$S" kea-dhcp4 -c "$1/kea.json" > "$1/server.out" 2>&1 &
  SPID=$!
}
start_kea() {
  kea_with "$1" "{ \"type\": \"memfile\", \"persist\": true, \"name\": \"$1/kea-leases4.csv\", \"lfc-interval\": 0 }"
}
start_kea_pg() {
  pgc_sql kea "TRUNCATE lease4" >/dev/null 2>&1
  kea_with "$1" "{ \"type\": \"postgresql\", \"name\": \"kea\", \"host\": \"127.0.0.1\", \"port\": $PG_PORT, \"user\": \"kea\", \"password\": \"kea-pw\" }"
  cap $SPID first
}

# wait_ready: a DHCP server is ready when one perfdhcp exchange completes (at most 10 s); the
# second server too when there is one.
wait_ready() {
  wait_ready_at "$SPID" "$VC" $SRV || return 1
  [ -z "$SPID2" ] || wait_ready_at "$SPID2" $CLI2 $SRV2
}
wait_ready_at() {
  local pid=$1 from=$2 server=$3
  for _ in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || return 1
    if ip netns exec "$C" timeout 5 perfdhcp -4 -l "$from" -R 1 -r 5 -p 1 -W 300000 -b mac=00:0c:ff:ff:ff:ff $server 2>/dev/null \
       | awk '/DISCOVER-OFFER/{f=1} f && /received packets: [1-9]/{ok=1} END{exit !ok}'; then
      return 0
    fi
    sleep 0.5
  done
  return 1
}

# --- one step ---------------------------------------------------------------------------------
# UDP datagrams dropped because a socket's receive queue was full, in namespace $1 (absolute count).
rcvbuf_errors() { ip netns exec "$1" nstat -asz UdpRcvbufErrors 2>/dev/null | awk '/UdpRcvbufErrors/{print $2; f=1} END{if(!f) print 0}'; }

# The servers' user + system CPU ticks so far (SPID is the server itself: `ip netns exec` execs it).
cpu_ticks() { cat "/proc/$SPID/stat" ${SPID2:+"/proc/$SPID2/stat"} 2>/dev/null | awk '{t += $14 + $15} END {print t + 0}'; }

# perfdhcp_bg OUT LOCAL SERVER CLIENTS RATE MAC-BASE: one relay agent's run, in the background.
PERF_PIDS=()
# The run's last line is "perfdhcp CPU ticks: N", its user + system time, read by the shell that
# waited for it (cutime + cstime), to show how close the load generator was to its own limit.
perfdhcp_bg() {
  ip netns exec "$C" timeout $((PERIOD + 30)) bash -c '"$@"; rc=$?; read -r -a st < /proc/$$/stat
    echo "perfdhcp CPU ticks: $((st[15] + st[16]))"; exit $rc' perfdhcp \
    $CLIENT_CPU perfdhcp -4 -g "$PERFDHCP_THREADS" -l "$2" -R "$4" -r "$5" -p "$PERIOD" \
    -W 1000000 -b "mac=$6" "$3" > "$1" 2>&1 &
  PERF_PIDS+=($!)
}

# run_step SERVER RATE -> "rate achieved offer_drop ack_drop dora_loss srv_ovf cli_ovf cpu_us_per_ack
# client_cpu_percent".
run_step() {
  local server=$1 rate=$2 dir=$W/$1-$2
  mkdir -p "$dir"
  "start_$server" "$dir"
  if ! wait_ready; then
    stop_server
    echo "$rate - - - - - - - -"
    echo "  $server did not start: $(tail -3 "$dir"/server.* 2>/dev/null | tr '\n' ' ')" >&2
    return
  fi
  local s0 c0 s1 c1 t0 t1
  if [ -n "$CLIENT_CPU" ] && [[ $server != *_pg* ]]; then
    local p
    for p in $SPID $SPID2; do taskset -a -p -c 0 "$p" > /dev/null; done
  fi
  s0=$(rcvbuf_errors "$S"); c0=$(rcvbuf_errors "$C"); t0=$(cpu_ticks)
  if [ -n "$SPID2" ]; then
    # Two servers: half the clients and half the rate through each, at the same time.
    perfdhcp_bg "$dir/perfdhcp.out" "$VC" $SRV $((CLIENTS / 2)) $((rate / 2)) 00:0c:01:00:00:00
    perfdhcp_bg "$dir/perfdhcp2.out" $CLI2 $SRV2 $((CLIENTS / 2)) $((rate / 2)) 00:0c:02:00:00:00
  else
    # RELAYS relay agents (one perfdhcp each, its own giaddr and MAC base) share clients and rate.
    local i
    for i in $(seq 1 "$RELAYS"); do
      perfdhcp_bg "$dir/perfdhcp$i.out" "$(relay_address "$i")" $SRV $((CLIENTS / RELAYS)) $((rate / RELAYS)) "00:0c:0$i:00:00:00"
    done
  fi
  wait "${PERF_PIDS[@]}"
  PERF_PIDS=()
  s1=$(rcvbuf_errors "$S"); c1=$(rcvbuf_errors "$C"); t1=$(cpu_ticks)
  stop_server
  PERIOD_S=$((PERIOD + 1)) python3 - "$rate" $((s1 - s0)) $((c1 - c0)) $((t1 - t0)) "$(getconf CLK_TCK)" "$dir"/perfdhcp*.out <<'PY'
import os, re, sys
rate, sovf, covf = sys.argv[1], sys.argv[2], sys.argv[3]
cpu_s = int(sys.argv[4]) / int(sys.argv[5])
def block(text, name):
    m = re.search(r"\*\*\*Statistics for: " + name + r"\*\*\*(.*?)(?:\*\*\*|\Z)", text, re.S)
    if not m:
        return None
    b = m.group(1)
    get = lambda k: float(re.search(k + r": ([0-9.]+)", b).group(1))
    return get("sent packets"), get("received packets"), get("drops")
# One perfdhcp run per server: counts are summed, ratios computed from the sums.
do, ra, got = [0, 0, 0], [0, 0, 0], 0.0
complete = True
for path in sys.argv[6:]:
    text = open(path).read()
    d, r, m = block(text, "DISCOVER-OFFER"), block(text, "REQUEST-ACK"), re.search(r"Rate: ([0-9.]+)", text)
    if not (d and r and m):
        complete = False
        break
    do = [a + b for a, b in zip(do, d)]
    ra = [a + b for a, b in zip(ra, r)]
    got += float(m.group(1))
if not complete:
    print(rate, "- - - -", sovf, covf, "- -")
else:
    ratio = lambda x: 100.0 * x[2] / x[0] if x[0] else 100.0
    loss = 100.0 * (1 - ra[1] / do[0]) if do[0] else 100.0
    per_ack = f"{cpu_s * 1e6 / ra[1]:.0f}" if ra[1] else "-"
    # perfdhcp's CPU as a percentage of one core over the step (each run's PERIOD plus its 1 s wait).
    ticks = [int(m) for p in sys.argv[6:] for m in re.findall(r"perfdhcp CPU ticks: (\d+)", open(p).read())]
    span = len(ticks) * float(os.environ["PERIOD_S"]) * int(sys.argv[5])
    cli = f"{100.0 * sum(ticks) / span:.0f}" if ticks else "-"
    print(rate, f"{got:.0f}", f"{ratio(do):.2f}", f"{ratio(ra):.2f}", f"{loss:.2f}", sovf, covf, per_ack, cli)
PY
}

# --- fsync before ACK (pxed) ------------------------------------------------------------------
# A few DORAs of one client under strace: between each OFFER and the ACK that follows it, the
# journal write and its fdatasync must have completed.
fsync_check() {
  local dir=$W/fsync
  mkdir -p "$dir"
  start_pxed "$dir"
  if ! wait_ready; then stop_server; echo "  pxed did not start"; return; fi
  timeout 30 strace -f -tt -s 300 -xx -e trace=write,fdatasync,sendmsg,sendmmsg -p "$SPID" \
    -o "$dir/strace" 2>/dev/null &
  local tpid=$!
  sleep 1
  ip netns exec "$C" timeout 10 perfdhcp -4 -l "$VC" -R 1 -r 2 -p 3 -W 500000 $SRV > "$dir/perfdhcp.out" 2>&1
  sleep 0.5
  kill -INT $tpid 2>/dev/null; wait $tpid 2>/dev/null
  stop_server
  python3 - "$dir/strace" <<'PY'
import re, sys
events = []
for l in open(sys.argv[1]):
    if "fdatasync" in l:
        if "<unfinished" in l:
            continue                  # counted when it completes ("resumed")
        events.append("fdatasync")
    elif "write(" in l:
        m = re.search(r'write\(\d+, "((?:\\x[0-9a-f]{2})+)', l)
        if m and bytes.fromhex(m.group(1).replace("\\x", "")).startswith(b"1 10.79."):
            events.append("journal-write")
    elif "sendmsg" in l or "sendmmsg" in l:
        m = re.search(r'iov_base="((?:\\x[0-9a-f]{2})+)', l)
        data = bytes.fromhex(m.group(1).replace("\\x", "")) if m else b""
        kind = {2: "OFFER", 5: "ACK"}.get(data[242] if len(data) > 242 and data[240:242] == b"\x35\x01" else 0, "send")
        events.append(kind)
acks = [i for i, e in enumerate(events) if e == "ACK"]
ok = bool(acks)
for i in acks:
    j = i - 1
    while j >= 0 and events[j] not in ("OFFER", "ACK"):
        j -= 1
    between = events[j + 1:i]
    ok = ok and "journal-write" in between and "fdatasync" in between
first = acks[0] if acks else len(events)
print("  syscalls, first exchange:", " -> ".join(events[:first + 1]))
print(f"  {len(acks)} ACKs traced; fsync before every ACK:", "confirmed" if ok else "NOT confirmed")
PY
}

# --- main -------------------------------------------------------------------------------------
echo "pxed DHCP benchmark: perfdhcp relay, $CLIENTS clients, ${PERIOD}s per step, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pxed: $BIN/pxed; $(dnsmasq -v | head -1 | cut -d' ' -f1-3); kea-dhcp4 $(kea-dhcp4 -v); lease files on $(stat -f -c %T "$W")"
echo "machine: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "perfdhcp -g $PERFDHCP_THREADS, $RELAYS relay agent(s); $([ -n "$CLIENT_CPU" ] && echo "perfdhcp on CPU 1, pxed/kea/dnsmasq on CPU 0" || echo "no CPU pinning"); receiving side default rmem $(cat /proc/sys/net/core/rmem_default) bytes"
if [ $USES_PG = 1 ]; then
  echo "PostgreSQL rows: each server held to $([ "$PG_CPU_CAP" -gt 0 ] && echo "$PG_CPU_CAP % of one core" || echo "no CPU cap") (PG_CPU_CAP)"
  echo "PostgreSQL $(pgc_sql postgres 'SHOW server_version'), fsync $(pgc_sql postgres 'SHOW fsync'), synchronous_commit $(pgc_sql postgres 'SHOW synchronous_commit'); data on $(stat -f -c %T "$W/pg")"
  pxed_config "$W" "$VS" $SRV pg > "$W/init.yaml"
  ip netns exec "$S" "$BIN/pxed" db init -c "$W/init.yaml" | sed 's/^/  pxed db init: /'
  ip netns exec "$S" env PGPASSWORD=kea-pw kea-admin db-init pgsql -u kea -p kea-pw -n kea -h 127.0.0.1 -P $PG_PORT > "$W/kea-admin.log" 2>&1 \
    && echo "  kea-admin db-init pgsql: done" || { echo "  kea-admin db-init pgsql failed: $(tail -2 "$W/kea-admin.log")"; }
fi
if [ "$FSYNC_CHECK" = 1 ] && command -v strace >/dev/null && [[ " $SERVERS " == *" pxed "* ]]; then
  echo "pxed fsync check (strace):"
  fsync_check
fi
declare -A ZERO FIVE ZERO_E2E FIVE_E2E HELD_Z HELD_F HELD_ZE HELD_FE
echo
echo "got/s: perfdhcp's 4-way exchange rate; DO/RA drop%: its DISCOVER-OFFER and REQUEST-ACK drops"
echo "ratios; DORA loss%: 1 - ACKs received / DISCOVERs sent; srv/cli ovf: UDP datagrams the kernel"
echo "dropped because the server's / perfdhcp's socket receive queue was full; CPU µs/ACK: the"
echo "server's user+system CPU time during the step per ACK perfdhcp received (10 ms ticks: coarse);"
echo "cli CPU%: perfdhcp's own CPU time over the step in % of one core (mean of the perfdhcp runs); it polls"
echo "select() without sleeping once busy, so 100 means it was never idle (from about 12,000/s here), not overloaded."
printf '%-12s %8s %7s %9s %9s %10s %8s %8s %11s %8s\n' server offered "got/s" "DO drop%" "RA drop%" "DORA loss%" "srv ovf" "cli ovf" "CPU µs/ACK" "cli CPU%"
for server in $SERVERS; do
  ZERO[$server]=-; FIVE[$server]=-; ZERO_E2E[$server]=-; FIVE_E2E[$server]=-
  rates=$RATES
  [[ $server == *_pg* ]] && rates=$PG_RATES
  for rate in $rates; do
    read -r r got dod rad loss sovf covf cpu clicpu < <(run_step "$server" "$rate")
    printf '%-12s %8s %7s %9s %9s %10s %8s %8s %11s %8s\n' "$server" "$r" "$got" "$dod" "$rad" "$loss" "$sovf" "$covf" "$cpu" "$clicpu"
    [ "$loss" = - ] || printf '%s\t%s\t%s\n' "$server" "$r" "$loss" >> "$W/chart.tsv"
    [ "$rad" = - ] && break
    # A rate counts only if every lower rate held too (a clean step above a lossy one is luck).
    [ "${HELD_Z[$server]:-1}" = 1 ] && { awk -v x="$rad" 'BEGIN{exit !(x == 0)}' && ZERO[$server]=$rate || HELD_Z[$server]=0; }
    [ "${HELD_F[$server]:-1}" = 1 ] && { awk -v x="$rad" 'BEGIN{exit !(x <= 5)}' && FIVE[$server]=$rate || HELD_F[$server]=0; }
    [ "${HELD_ZE[$server]:-1}" = 1 ] && { awk -v x="$loss" 'BEGIN{exit !(x == 0)}' && ZERO_E2E[$server]=$rate || HELD_ZE[$server]=0; }
    [ "${HELD_FE[$server]:-1}" = 1 ] && { awk -v x="$loss" 'BEGIN{exit !(x <= 5)}' && FIVE_E2E[$server]=$rate || HELD_FE[$server]=0; }
    awk -v x="$rad" -v s="$STOP_AT" 'BEGIN{exit !(x > s)}' && break
  done
done
echo
echo "Highest offered rate held, with every lower rate held too (DORA/s). 'RA' = perfdhcp's REQUEST-ACK drops ratio;"
echo "'DORA' = end to end, 1 - ACKs received / DISCOVERs sent (counts lost OFFERs too)."
printf '%-8s %10s %10s %12s %12s\n' server "0% RA" "<=5% RA" "0% DORA" "<=5% DORA"
for server in $SERVERS; do
  printf '%-8s %10s %10s %12s %12s\n' "$server" "${ZERO[$server]}" "${FIVE[$server]}" "${ZERO_E2E[$server]}" "${FIVE_E2E[$server]}"
done
# Ratios the issues set targets on, from the 0 % and <= 5 % DORA columns above.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
if [[ " $SERVERS " == *" pxed "* && " $SERVERS " == *" kea "* ]]; then
  echo "pxed / kea (journal, fsynced / memfile, not): $(ratio "${ZERO_E2E[pxed]}" "${ZERO_E2E[kea]}") at 0 % DORA loss, $(ratio "${FIVE_E2E[pxed]}" "${FIVE_E2E[kea]}") at <= 5 %"
fi
if [[ " $SERVERS " == *" pxed_pg "* && " $SERVERS " == *" kea_pg "* ]]; then
  echo "pxed_pg / kea_pg: $(ratio "${ZERO_E2E[pxed_pg]}" "${ZERO_E2E[kea_pg]}") at 0 % DORA loss, $(ratio "${FIVE_E2E[pxed_pg]}" "${FIVE_E2E[kea_pg]}") at <= 5 %"
fi
if [[ " $SERVERS " == *" pxed_pg "* && " $SERVERS " == *" pxed_pg2 "* ]]; then
  echo "pxed_pg2 / pxed_pg (two servers against one): $(ratio "${ZERO_E2E[pxed_pg2]}" "${ZERO_E2E[pxed_pg]}") at 0 %, $(ratio "${FIVE_E2E[pxed_pg2]}" "${FIVE_E2E[pxed_pg]}") at <= 5 %"
fi
if [ -n "$CHART_DIR" ] && [ -s "$W/chart.tsv" ]; then
  mkdir -p "$CHART_DIR"
  bash "$REPO/bench/chart.sh" lines "$CHART_DIR/dhcp.png" \
    "DHCP: DORA loss against offered rate" \
    "offered DORA/s (perfdhcp relay, $CLIENTS clients)" "DORA loss %" < "$W/chart.tsv"
fi
