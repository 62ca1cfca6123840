#!/bin/bash
# DHCP/BOOTP engines of the pxed daemon against real clients, in two network namespaces made
# here (server and client, joined by a veth pair on 10.77.0.0/24). Nothing touches the host's
# interfaces: every DHCP packet stays on the veth. Needs root, busybox udhcpc, ISC dhclient and
# python3.
#
# Checks (one PASS/FAIL line each, then "N passed, M failed"):
#   1. busybox udhcpc: a pool address; with a reservation, the reserved address, siaddr, boot file;
#      renew (unicast) and release
#   2. ISC dhclient: a pool address and a reserved address (with its boot file)
#   3. leases survive a pxed restart (SIGTERM, and SIGKILL right after the ACK): same address
#      back, `pxed leases` lists it, another client asking for it is offered something else
#   4. crafted PXE DISCOVERs: boot file by option 93 / option 60 Arch / user class iPXE; siaddr,
#      options 54, 60, 43 (discovery control 8), 97 echo, 66/67 when asked; >= 300 bytes
#   5. BOOTP with and without the RFC 1048 cookie: reserved MAC answered (300 bytes), unknown not
#   6. relay: giaddr + option 82, unicast from port 67 -> answer unicast to giaddr:67 from the
#      relay pool, option 82 echoed; unknown giaddr ignored; (also INFORM and a NAK)
#   7. REQUEST naming another server (option 54) ignored; with our id, ACKed; DECLINE quarantines
#   8. SIGHUP adding a reservation changes the next OFFER; a broken file is rejected and DHCP
#      keeps answering; a new lease-file takes the next ACK
#   9. pxe-only: plain udhcpc gets nothing, udhcpc with a PXEClient vendor class and a listed
#      host still get addresses
#
# Environment: BIN (pxed binary directory, default $REPO/.build/debug), REPO (repository root).
. "$(dirname "$0")/lib.sh"
lib_init dhcp-namespaces 300 pxed
HERE=$(cd "$(dirname "$0")" && pwd)
CRAFT="$HERE/dhcp/dhcpcraft.py"
EXPECT="$HERE/dhcp/expect.py"
PXED="$BIN/pxed"

[ "$(id -u)" -eq 0 ] || { fail setup "needs root (network namespaces)"; finish; }
need udhcpc dhclient python3 ip timeout || finish

# Server namespace $SRV and client namespace $CLI joined by veths $SIF (10.77.0.1/24) and $CIF.
ns_pair dn 10.77.0.1/24 || { fail setup "namespace pair"; finish; }
SIP=10.77.0.1
ns_etc "$CLI"
CFG=$TMP/pxed.yaml
LOG=$TMP/pxed.log
LEASES=$TMP/leases
# dhclient daemonizes once it has a lease: its PID is only in its pid file. run_dhclient stops it;
# this catches one left by an interrupted run.
on_exit 'for pf in "$TMP"/*.pid; do [ -f "$pf" ] && kill -KILL "$(cat "$pf")" 2>/dev/null; done'
# The relay test's second subnet sits behind the client namespace.
ip -n "$SRV" route add 10.78.0.0/24 via 10.77.0.2 dev "$SIF"

# ---------------------------------------------------------------------------------------------
# Configuration

PXE_ONLY=false
EXTRA_HOSTS=""
write_config() {
  cat > "$CFG" <<EOF
log-level: debug
lease-file: $LEASES
control-socket: $TMP/control.sock
interfaces:
  $SIF:
    address: $SIP
    tftp: false
    bootp: true
    dhcp:
      subnet: 10.77.0.0/24
      range: 10.77.0.100-10.77.0.199
      router: $SIP
      dns: [$SIP]
      domain: lab.test
      lease-time: 600
      pxe-only: $PXE_ONLY
      relay-subnets:
        - subnet: 10.78.0.0/24
          range: 10.78.0.100-10.78.0.199
          router: 10.78.0.1
          lease-time: 900
boot:
  bios: bios/undionly.kpxe
  uefi-x64: uefi/ipxe.efi
  uefi-arm64: arm/ipxe.efi
  ipxe: http://$SIP/boot.ipxe
  default: default.0
hosts:
  - mac: 02:00:00:00:01:01
    ip: 10.77.0.10
    hostname: udhcpc-host
    boot: hosts/udhcpc.efi
  - mac: 02:00:00:00:02:01
    ip: 10.77.0.11
    hostname: dhclient-host
    boot: hosts/dhclient.efi
  - mac: 02:00:00:00:05:01
    ip: 10.77.0.50
    hostname: bootp-host
    boot: hosts/bootp.0
  - mac: 02:00:00:00:0d:01
    ip: 10.77.0.60
    hostname: identity-host
$EXTRA_HOSTS
EOF
}

# ---------------------------------------------------------------------------------------------
# pxed lifecycle

start() { start_pxed "$LOG" "$CFG" "$SRV"; }

# reload_pxed: SIGHUP, then wait for "reload applied" or "reload rejected"; prints which.
reload_pxed() {
  local a r
  a=$(count_log "$LOG" "reload applied"); r=$(count_log "$LOG" "reload rejected:.*error\(s\)")
  kill -HUP "$PXED_PID"
  for _ in $(seq 1 100); do
    if [ "$(count_log "$LOG" "reload applied")" -gt "$a" ]; then echo applied; return 0; fi
    if [ "$(count_log "$LOG" "reload rejected:.*error\(s\)")" -gt "$r" ]; then echo rejected; return 0; fi
    sleep 0.1
  done
  echo timeout
}

# ---------------------------------------------------------------------------------------------
# Clients

set_mac() { ip -n "$CLI" link set "$CIF" address "$1"; }

# udhcpc's script only records what it was given.
UDHCPC_SCRIPT=$TMP/udhcpc-script
cat > "$UDHCPC_SCRIPT" <<'EOF'
#!/bin/sh
case "$1" in
  bound|renew)
    echo "ip=$ip siaddr=$siaddr boot_file=$boot_file serverid=$serverid subnet=$subnet router=$router" > "$UDHCPC_OUT"
    echo "$1 $ip" >> "$UDHCPC_OUT.events"
    # Renewals are unicast from the leased address, so that test needs it on the interface.
    [ "${UDHCPC_ADDR:-0}" = 1 ] && ip addr replace "$ip/$mask" dev "$interface" ;;
  deconfig)
    echo "deconfig" >> "$UDHCPC_OUT.events"
    [ "${UDHCPC_ADDR:-0}" = 1 ] && ip addr flush dev "$interface" ;;
esac
exit 0
EOF
chmod +x "$UDHCPC_SCRIPT"

# run_udhcpc MAC OUTFILE [udhcpc args...]: one lease attempt (3 DISCOVERs, 1 s apart).
run_udhcpc() {
  local mac=$1 out=$2; shift 2
  set_mac "$mac"
  rm -f "$out"
  UDHCPC_OUT=$out ip netns exec "$CLI" timeout 15 udhcpc -i "$CIF" -f -q -n -t 3 -T 1 -s "$UDHCPC_SCRIPT" "$@" \
    > "$out.log" 2>&1
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" "$2" 2>/dev/null; }

# run_dhclient MAC NAME: one dhclient run (-1), lease in $TMP/NAME.leases; the daemon is stopped after.
run_dhclient() {
  local mac=$1 name=$2 pf=$TMP/$2.pid
  set_mac "$mac"
  rm -f "$TMP/$name.leases" "$pf"
  ip netns exec "$CLI" timeout 30 dhclient -4 -1 -lf "$TMP/$name.leases" -pf "$pf" -sf /bin/true "$CIF" \
    > "$TMP/$name.log" 2>&1
  local rc=$?
  if [ -f "$pf" ]; then
    local pid; pid=$(cat "$pf")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$pf"
  fi
  return $rc
}
dhclient_value() { sed -n "s/^ *$1 \"\{0,1\}\([^\";]*\)\"\{0,1\};/\1/p" "$2" | tail -1; }

# craft OUT ARGS...: one crafted request from the client namespace; replies (JSON) in OUT.
craft() {
  local out=$1; shift
  ip netns exec "$CLI" timeout 15 python3 "$CRAFT" --iface "$CIF" "$@" > "$out" 2> "$out.err"
}
# expect NAME OUT EXPECTATIONS...: PASS/FAIL from expect.py.
expect() {
  local name=$1 out=$2; shift 2
  local why
  if why=$(python3 "$EXPECT" "$out" "$@"); then pass "$name"; else fail "$name" "$(echo "$why" | paste -sd';' -)"; fi
}
UUID=004c4c4544003510528030b4c04f4d4a32   # option 97: type 0 + a 16-byte GUID

lease_row() { "$PXED" leases -c "$CFG" 2>/dev/null | grep -i "^$1 " ; }

# fnv1a_pick MAC: the address the pool scan starts from for this MAC (10.77.0.100 + hash % 100).
fnv1a_pick() {
  python3 -c '
import sys
h = 0x811C9DC5
for b in bytes(int(x, 16) for x in sys.argv[1].split(":")):
    h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
print("10.77.0.%d" % (100 + h % 100))' "$1"
}

# ---------------------------------------------------------------------------------------------
write_config
if ! "$PXED" check -c "$CFG" > "$TMP/check.out" 2>&1; then
  fail config "pxed check: $(cat "$TMP/check.out")"; finish
fi
start || { fail start "pxed did not start: $(tail -5 "$LOG")"; finish; }

# --- 1. busybox udhcpc ------------------------------------------------------------------------
if run_udhcpc 02:00:00:00:01:02 "$TMP/u1"; then
  ip=$(field ip "$TMP/u1"); sid=$(field serverid "$TMP/u1")
  if [[ "$ip" =~ ^10\.77\.0\.1[0-9][0-9]$ ]] && [ "$sid" = $SIP ] && [ "$(field router "$TMP/u1")" = $SIP ]; then
    pass "udhcpc pool address ($ip)"
  else fail "udhcpc pool address" "$(cat "$TMP/u1")"; fi
else fail "udhcpc pool address" "no lease: $(tail -3 "$TMP/u1.log" | paste -sd';' -)"; fi

if run_udhcpc 02:00:00:00:01:01 "$TMP/u2"; then
  if [ "$(field ip "$TMP/u2")" = 10.77.0.10 ] && [ "$(field siaddr "$TMP/u2")" = $SIP ] \
     && [ "$(field boot_file "$TMP/u2")" = hosts/udhcpc.efi ]; then
    pass "udhcpc reserved address, siaddr and boot file"
  else fail "udhcpc reserved address, siaddr and boot file" "$(cat "$TMP/u2")"; fi
else fail "udhcpc reserved address, siaddr and boot file" "no lease: $(tail -3 "$TMP/u2.log" | paste -sd';' -)"; fi

# Renew (SIGUSR1: unicast REQUEST from the leased address) and release (SIGUSR2: DHCPRELEASE).
set_mac 02:00:00:00:01:03
rm -f "$TMP/rn" "$TMP/rn.events"
# `env` and `ip netns exec` exec udhcpc, so the spawned PID is udhcpc itself.
spawn "$TMP/rn.log" env UDHCPC_OUT="$TMP/rn" UDHCPC_ADDR=1 ip netns exec "$CLI" udhcpc -i "$CIF" -f -t 3 -T 1 -s "$UDHCPC_SCRIPT"
UPID=$SPAWNED
if wait_log "$TMP/rn.events" "^bound"; then
  rip=$(field ip "$TMP/rn")
  kill -USR1 "$UPID"
  if wait_log "$TMP/rn.events" "^renew $rip" && grep -q "sending renew to server" "$TMP/rn.log"; then
    pass "udhcpc renew (unicast REQUEST from $rip) ACKed"
  else fail "udhcpc renew" "$(tail -3 "$TMP/rn.log" | paste -sd';' -)"; fi
  kill -USR2 "$UPID"
  released=no
  for _ in $(seq 1 50); do
    lease_row 02:00:00:00:01:03 | grep -q " $rip .*released" && { released=yes; break; }
    sleep 0.1
  done
  [ $released = yes ] && pass "udhcpc release: pxed leases shows $rip released" \
    || fail "udhcpc release" "row: '$(lease_row 02:00:00:00:01:03)' log: $(tail -2 "$TMP/rn.log" | paste -sd';' -)"
else
  fail "udhcpc renew" "no lease: $(tail -3 "$TMP/rn.log" | paste -sd';' -)"
fi
stop "$UPID"
ip -n "$CLI" addr flush dev "$CIF"

# --- 2. ISC dhclient --------------------------------------------------------------------------
if run_dhclient 02:00:00:00:02:02 d1; then
  ip=$(dhclient_value fixed-address "$TMP/d1.leases")
  sid=$(dhclient_value "option dhcp-server-identifier" "$TMP/d1.leases")
  if [[ "$ip" =~ ^10\.77\.0\.1[0-9][0-9]$ ]] && [ "$sid" = $SIP ]; then pass "dhclient pool address ($ip)"
  else fail "dhclient pool address" "fixed-address=$ip server=$sid"; fi
else fail "dhclient pool address" "dhclient failed: $(tail -3 "$TMP/d1.log" | paste -sd';' -)"; fi

if run_dhclient 02:00:00:00:02:01 d2; then
  ip=$(dhclient_value fixed-address "$TMP/d2.leases"); file=$(dhclient_value filename "$TMP/d2.leases")
  if [ "$ip" = 10.77.0.11 ] && [ "$file" = hosts/dhclient.efi ]; then pass "dhclient reserved address and boot file"
  else fail "dhclient reserved address and boot file" "fixed-address=$ip filename=$file"; fi
else fail "dhclient reserved address and boot file" "dhclient failed: $(tail -3 "$TMP/d2.log" | paste -sd';' -)"; fi

# --- 3. Leases survive restarts ---------------------------------------------------------------
# Each client first asks for an address (option 50) that is NOT where the pool scan would start
# for its MAC, so getting it back after a restart proves the lease was read from the file.
restart_check() {  # restart_check SIGNAL MAC ADDRESS
  local sig=$1 mac=$2 want=$3 name="lease survives SIG$1 restart"
  if [ "$(fnv1a_pick "$mac")" = "$want" ]; then fail "$name" "test bug: $want is $mac's scan start"; return; fi
  if ! run_udhcpc "$mac" "$TMP/r-$sig-1" -r "$want" || [ "$(field ip "$TMP/r-$sig-1")" != "$want" ]; then
    fail "$name" "first lease: $(cat "$TMP/r-$sig-1" 2>/dev/null) $(tail -2 "$TMP/r-$sig-1.log" | paste -sd';' -)"; return
  fi
  stop "$PXED_PID" "$sig" 10   # for KILL: right after the ACK, nothing gets a chance to flush
  if ! start; then fail "$name" "pxed did not restart: $(tail -3 "$LOG" | paste -sd';' -)"; return; fi
  if ! run_udhcpc "$mac" "$TMP/r-$sig-2"; then fail "$name" "no lease after restart"; return; fi
  local got; got=$(field ip "$TMP/r-$sig-2")
  [ "$got" = "$want" ] && pass "$name (same address $got)" || fail "$name" "had $want, got $got"
  local row; row=$(lease_row "$mac")
  if echo "$row" | grep -q " $want .*active"; then pass "pxed leases lists $mac $want after SIG$sig"
  else fail "pxed leases lists $mac $want after SIG$sig" "row: '$row'"; fi
  # Another client asking for that address must be offered something else.
  craft "$TMP/r-$sig-3" --mac 02:00:00:00:03:ff --requested "$want" --broadcast-flag --first
  expect "restored lease blocks another client after SIG$sig" "$TMP/r-$sig-3" type=offer "yiaddr!=$want"
}
restart_check TERM 02:00:00:00:03:01 10.77.0.190
restart_check KILL 02:00:00:00:03:02 10.77.0.191

# --- 4. Crafted PXE DISCOVERs -----------------------------------------------------------------
craft "$TMP/p7" --mac 02:00:00:00:04:07 --arch 7 --vendor PXEClient:Arch:00007:UNDI:003016 --uuid "$UUID" \
  --nii --prl 1,3,43,54,60,66,67,97 --broadcast-flag --first
expect "PXE arch 7 -> uefi-x64, 66/67, 54, 60, 43, 97 echoed" "$TMP/p7" type=offer file=uefi/ipxe.efi \
  siaddr=$SIP yiaddr~10.77.0.100-10.77.0.199 opt:54=0a4d0001 opt:60=s:PXEClient opt:43~060108 \
  "opt:97=$UUID" opt:67=s:uefi/ipxe.efi opt:66=s:$SIP minlen=300 ip_dst=255.255.255.255 udp_dport=68

craft "$TMP/p0" --mac 02:00:00:00:04:00 --arch 0 --vendor PXEClient:Arch:00000:UNDI:002001 --first
expect "PXE arch 0 -> bios, no 97/67 unless sent/asked, unicast to yiaddr" "$TMP/p0" type=offer \
  file=bios/undionly.kpxe siaddr=$SIP opt:54=0a4d0001 opt:60=s:PXEClient opt:43~060108 '!opt:97' '!opt:67' \
  minlen=300 eth_dst=02:00:00:00:04:00 udp_dport=68
# Without the broadcast flag the OFFER goes to yiaddr at chaddr (ARP entry added by pxed).
if [ -s "$TMP/p0" ] && python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); sys.exit(d["ip_dst"]!=d["yiaddr"])' "$TMP/p0"; then
  pass "OFFER without broadcast flag unicast to yiaddr"
else fail "OFFER without broadcast flag unicast to yiaddr" "$(head -c 300 "$TMP/p0")"; fi

craft "$TMP/pi" --mac 02:00:00:00:04:01 --arch 0 --vendor PXEClient:Arch:00000:UNDI:002001 --user-class iPXE \
  --option 175=b10101 --prl 1,3,67,175 --broadcast-flag --first
expect "iPXE (raw user class) -> boot.ipxe" "$TMP/pi" type=offer file=http://$SIP/boot.ipxe \
  opt:67=s:http://$SIP/boot.ipxe siaddr=$SIP minlen=300

craft "$TMP/pj" --mac 02:00:00:00:04:02 --arch 7 --vendor PXEClient:Arch:00007:UNDI:003016 --user-class iPXE \
  --user-class-rfc3004 --broadcast-flag --first
expect "iPXE (RFC 3004 user class) -> boot.ipxe" "$TMP/pj" type=offer file=http://$SIP/boot.ipxe

craft "$TMP/pv" --mac 02:00:00:00:04:03 --vendor PXEClient:Arch:00007:UNDI:003016 --broadcast-flag --first
expect "option 60 Arch:00007 without 93 -> uefi-x64" "$TMP/pv" type=offer file=uefi/ipxe.efi opt:60=s:PXEClient \
  opt:43~060108 minlen=300

craft "$TMP/p9" --mac 02:00:00:00:04:09 --arch 9 --vendor PXEClient:Arch:00009:UNDI:003016 --broadcast-flag --first
expect "arch 9 (EFI BC) treated as x86-64" "$TMP/p9" type=offer file=uefi/ipxe.efi

craft "$TMP/pa" --mac 02:00:00:00:04:0b --arch 11 --vendor PXEClient:Arch:00011:UNDI:003016 --broadcast-flag --first
expect "arch 11 -> uefi-arm64" "$TMP/pa" type=offer file=arm/ipxe.efi

craft "$TMP/pn" --mac 02:00:00:00:04:0c --broadcast-flag --prl 1,3,6,15,66,67 --first
expect "plain DHCP client: no PXE boot data" "$TMP/pn" type=offer file= siaddr=0.0.0.0 '!opt:60' '!opt:43' \
  '!opt:67' opt:1=ffffff00 opt:3=0a4d0001 opt:6=0a4d0001 opt:15=s:lab.test opt:51=00000258 minlen=300

# Full PXE DORA: the ACK carries the same boot data.
off=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["yiaddr"])' "$TMP/p7" 2>/dev/null)
craft "$TMP/p7a" --type request --mac 02:00:00:00:04:07 --arch 7 --vendor PXEClient:Arch:00007:UNDI:003016 \
  --uuid "$UUID" --requested "${off:-0.0.0.0}" --server-id $SIP --prl 1,3,66,67 --broadcast-flag --first
expect "PXE REQUEST -> ACK with boot data" "$TMP/p7a" type=ack "yiaddr=${off:-?}" file=uefi/ipxe.efi \
  opt:67=s:uefi/ipxe.efi opt:60=s:PXEClient "opt:97=$UUID" siaddr=$SIP minlen=300

craft "$TMP/px" --mac 02:00:00:00:04:2a --arch 42 --vendor PXEClient:Arch:00042:UNDI:003016 --broadcast-flag --first
expect "unknown architecture 42 -> boot.default" "$TMP/px" type=offer file=default.0 opt:60=s:PXEClient
check_why "unknown architecture 42 is logged at notice with its code" "$(grep -i "02:00:00:00:04:2a" "$LOG" | head -2 | tr '\n' '|')" \
  wait_log "$LOG" "^notice: client architecture not in the boot table: sent boot.default arch=42 client=02:00:00:00:04:2a file=default.0" 3

# --- 4b. One machine, one address: firmware, iPXE and OS identifiers (issue 13) ----------------
# dora TAG MAC ARGS...: DISCOVER then REQUEST of the offered address; prints the ACKed address.
dora() {
  local tag=$1 mac=$2 off; shift 2
  craft "$TMP/$tag.o" --mac "$mac" --broadcast-flag --first "$@"
  off=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["yiaddr"])' "$TMP/$tag.o" 2>/dev/null)
  craft "$TMP/$tag.a" --type request --mac "$mac" --requested "${off:-0.0.0.0}" --server-id $SIP --broadcast-flag --first "$@"
  python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); print(d["yiaddr"] if d["type"]=="ack" else "nak")' "$TMP/$tag.a" 2>/dev/null
}
RMAC=02:00:00:00:0d:01; UMAC=02:00:00:00:0d:02
FW=(--arch 7 --vendor PXEClient:Arch:00007:UNDI:003016)
os_r=$(dora id-os-r $RMAC --client-id ff00000001000100013030303030)
fw_r=$(dora id-fw-r $RMAC "${FW[@]}")
ipxe_r=$(dora id-ipxe-r $RMAC "${FW[@]}" --user-class iPXE --client-id 01${RMAC//:/})
os2_r=$(dora id-os2-r $RMAC --client-id ff00000001000100013030303030)
check_why "reserved MAC: OS (DUID) -> firmware (no 61) -> iPXE (01+MAC) -> OS all get 10.77.0.60" \
  "got $os_r / $fw_r / $ipxe_r / $os2_r" [ "$os_r $fw_r $ipxe_r $os2_r" = "10.77.0.60 10.77.0.60 10.77.0.60 10.77.0.60" ]
fw_u=$(dora id-fw-u $UMAC "${FW[@]}")
ipxe_u=$(dora id-ipxe-u $UMAC "${FW[@]}" --user-class iPXE --client-id 01${UMAC//:/})
os_u=$(dora id-os-u $UMAC --client-id ff00000001000100013131313131)
fw2_u=$(dora id-fw2-u $UMAC "${FW[@]}")
check_why "unreserved MAC: firmware -> iPXE -> OS (DUID) -> firmware again keep one pool address" \
  "got $fw_u / $ipxe_u / $os_u / $fw2_u" \
  eval '[[ "$fw_u" =~ ^10\.77\.0\.1[0-9][0-9]$ ]] && [ "$ipxe_u $os_u $fw2_u" = "$fw_u $fw_u $fw_u" ]'
check_why "one lease row each for the two machines" "$("$PXED" leases -c "$CFG" 2>/dev/null | grep -ciE "$RMAC|$UMAC") rows" \
  [ "$("$PXED" leases -c "$CFG" 2>/dev/null | grep -ciE "$RMAC|$UMAC")" -eq 2 ]

# --- 5. BOOTP ---------------------------------------------------------------------------------
craft "$TMP/b1" --type bootp --mac 02:00:00:00:05:01 --first
expect "BOOTP with cookie, reserved MAC" "$TMP/b1" type=bootp yiaddr=10.77.0.50 file=hosts/bootp.0 siaddr=$SIP \
  length=300 opt:1=ffffff00 opt:12=s:bootp-host '!opt:53'
craft "$TMP/b2" --type bootp --no-cookie --mac 02:00:00:00:05:01 --first
expect "BOOTP without cookie (RFC 951), reserved MAC" "$TMP/b2" type=bootp yiaddr=10.77.0.50 file=hosts/bootp.0 \
  siaddr=$SIP length=300
craft "$TMP/b3" --type bootp --mac 02:00:00:00:05:99 --timeout 2 --expect-none
[ $? -eq 0 ] && pass "BOOTP from unknown MAC ignored" || fail "BOOTP from unknown MAC ignored" "$(head -c 300 "$TMP/b3")"
craft "$TMP/b4" --type bootp --no-cookie --mac 02:00:00:00:05:98 --timeout 2 --expect-none
[ $? -eq 0 ] && pass "BOOTP (no cookie) from unknown MAC ignored" || fail "BOOTP (no cookie) from unknown MAC ignored" "$(head -c 300 "$TMP/b4")"

# --- 6. Relay ---------------------------------------------------------------------------------
ip -n "$CLI" addr add 10.77.0.2/24 dev "$CIF"
ip -n "$CLI" addr add 10.78.0.1/24 dev "$CIF"
O82=01066369726331310206726d742d3031      # circuit-id "circ11", remote-id "rmt-01"
craft "$TMP/rl" --mac 02:00:00:00:06:01 --giaddr 10.78.0.1 --hops 1 --server $SIP --opt82 $O82 --first
expect "relayed DISCOVER -> unicast OFFER to giaddr:67 from relay pool, 82 echoed" "$TMP/rl" type=offer \
  ip_dst=10.78.0.1 udp_dport=67 udp_sport=67 giaddr=10.78.0.1 hops=1 yiaddr~10.78.0.100-10.78.0.199 \
  opt:1=ffffff00 opt:3=0a4e0001 opt:51=00000384 opt:54=0a4d0001 "opt:82=$O82" minlen=300
roff=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["yiaddr"])' "$TMP/rl" 2>/dev/null)
craft "$TMP/rr" --type request --mac 02:00:00:00:06:01 --giaddr 10.78.0.1 --hops 1 --server $SIP --opt82 $O82 \
  --requested "${roff:-0.0.0.0}" --server-id $SIP --first
expect "relayed REQUEST -> ACK to giaddr:67" "$TMP/rr" type=ack "yiaddr=${roff:-?}" ip_dst=10.78.0.1 udp_dport=67 \
  "opt:82=$O82"
craft "$TMP/rx" --mac 02:00:00:00:06:02 --giaddr 10.79.0.1 --server $SIP --timeout 2 --expect-none
[ $? -eq 0 ] && pass "relay with giaddr in no pool ignored" || fail "relay with giaddr in no pool ignored" "$(head -c 300 "$TMP/rx")"
# INFORM from a configured client: ACK unicast to ciaddr, no lease time, no yiaddr.
craft "$TMP/in" --type inform --mac 02:00:00:00:06:03 --ciaddr 10.77.0.2 --prl 1,3,6 --first
expect "INFORM -> ACK unicast to ciaddr without a lease" "$TMP/in" type=ack yiaddr=0.0.0.0 ip_dst=10.77.0.2 \
  udp_dport=68 '!opt:51' opt:1=ffffff00 opt:54=0a4d0001
ip -n "$CLI" addr flush dev "$CIF"

# INIT-REBOOT for an address on another network: NAK, broadcast (RFC 2131 4.3.2).
craft "$TMP/nk" --type request --mac 02:00:00:00:06:04 --requested 10.99.0.5 --first
expect "INIT-REBOOT for a foreign address -> broadcast NAK" "$TMP/nk" type=nak ip_dst=255.255.255.255 \
  yiaddr=0.0.0.0 opt:54=0a4d0001

# --- 7. REQUEST for another server ------------------------------------------------------------
craft "$TMP/s1" --mac 02:00:00:00:07:01 --broadcast-flag --first
sel=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["yiaddr"])' "$TMP/s1" 2>/dev/null)
if [ -n "$sel" ]; then
  craft "$TMP/s2" --type request --mac 02:00:00:00:07:01 --requested "$sel" --server-id 10.77.0.99 \
    --broadcast-flag --timeout 2 --expect-none
  [ $? -eq 0 ] && pass "REQUEST with another server id ignored" \
    || fail "REQUEST with another server id ignored" "$(head -c 300 "$TMP/s2")"
  craft "$TMP/s3" --type request --mac 02:00:00:00:07:01 --requested "$sel" --server-id $SIP --broadcast-flag --first
  expect "same REQUEST with our server id ACKed" "$TMP/s3" type=ack "yiaddr=$sel"
  # The client finds the address in use (ARP) and declines it: quarantined, offered to nobody.
  craft "$TMP/s4" --type decline --mac 02:00:00:00:07:01 --requested "$sel" --server-id $SIP --timeout 1 --expect-none
  craft "$TMP/s5" --mac 02:00:00:00:07:02 --requested "$sel" --broadcast-flag --first
  if lease_row 02:00:00:00:07:01 | grep -q " $sel .*declined" && python3 "$EXPECT" "$TMP/s5" type=offer "yiaddr!=$sel" >/dev/null; then
    pass "DECLINE quarantines the address"
  else fail "DECLINE quarantines the address" "row '$(lease_row 02:00:00:00:07:01)' offer $(head -c 200 "$TMP/s5")"; fi
else
  fail "REQUEST with another server id ignored" "no OFFER to start from"
fi

# --- 8. SIGHUP --------------------------------------------------------------------------------
craft "$TMP/h1" --mac 02:00:00:00:08:01 --broadcast-flag --first
expect "before reload: pool OFFER" "$TMP/h1" type=offer yiaddr~10.77.0.100-10.77.0.199
EXTRA_HOSTS="  - mac: 02:00:00:00:08:01
    ip: 10.77.0.80
    boot: hosts/added.efi"
write_config
res=$(reload_pxed)
craft "$TMP/h2" --mac 02:00:00:00:08:01 --broadcast-flag --first
if [ "$res" = applied ]; then
  expect "HUP adding a reservation changes the next OFFER" "$TMP/h2" type=offer yiaddr=10.77.0.80 file=hosts/added.efi
else fail "HUP adding a reservation changes the next OFFER" "reload: $res"; fi

cp "$CFG" "$TMP/good.yaml"
printf 'interfaces:\n  %s:\n    dhcp:\n      subnet: 10.77.0.0/33\n    bogus-key: 1\n' "$SIF" >> "$CFG"
res=$(reload_pxed)
line=$(grep "reload rejected: .*pxed.yaml:[0-9]*:[0-9]*" "$LOG" | tail -1)
if [ "$res" = rejected ] && [ -n "$line" ]; then pass "HUP with a broken file rejected (${line#*reload rejected: })"
else fail "HUP with a broken file rejected" "reload: $res"; fi
craft "$TMP/h3" --mac 02:00:00:00:08:01 --broadcast-flag --first
expect "DHCP keeps serving the previous configuration after a rejected reload" "$TMP/h3" type=offer yiaddr=10.77.0.80
alive "$PXED_PID" && pass "pxed still running after rejected reload" || fail "pxed still running after rejected reload" "exited"
cp "$TMP/good.yaml" "$CFG"

# A reload that moves the lease file: the next ACK must land in the new file.
OLD_LEASES=$LEASES
LEASES=$TMP/moved/leases
write_config
res=$(reload_pxed)
craft "$TMP/m1" --mac 02:00:00:00:08:02 --broadcast-flag --first
moff=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["yiaddr"])' "$TMP/m1" 2>/dev/null)
craft "$TMP/m2" --type request --mac 02:00:00:00:08:02 --requested "${moff:-0.0.0.0}" --server-id $SIP --broadcast-flag --first
if [ "$res" = applied ] && python3 "$EXPECT" "$TMP/m2" type=ack >/dev/null && lease_row 02:00:00:00:08:02 | grep -q " $moff " \
   && ! grep -q " $moff active" "$OLD_LEASES"; then
  pass "HUP moving lease-file: next ACK recorded in the new file"
else
  fail "HUP moving lease-file: next ACK recorded in the new file" \
    "reload=$res ack=$(head -c 120 "$TMP/m2") row='$(lease_row 02:00:00:00:08:02)'"
fi

# --- 9. pxe-only ------------------------------------------------------------------------------
PXE_ONLY=true
write_config
res=$(reload_pxed)
[ "$res" = applied ] && pass "HUP to pxe-only: true applied" || fail "HUP to pxe-only: true applied" "reload: $res"
if run_udhcpc 02:00:00:00:09:01 "$TMP/x1"; then fail "pxe-only: plain udhcpc gets no answer" "got $(cat "$TMP/x1")"
else
  if grep -q "discover" "$TMP/x1.log" && grep -q "client=02:00:00:00:09:01 reason=not a network-boot client" "$LOG"; then
    pass "pxe-only: plain udhcpc gets no answer (logged: not a network-boot client)"
  else fail "pxe-only: plain udhcpc gets no answer" "udhcpc: $(tail -2 "$TMP/x1.log" | paste -sd';' -); log: $(grep 09:01 "$LOG" | tail -1)"; fi
fi
if run_udhcpc 02:00:00:00:09:02 "$TMP/x2" -V PXEClient:Arch:00000:UNDI:002001 \
   && [[ "$(field ip "$TMP/x2")" =~ ^10\.77\.0\.1[0-9][0-9]$ ]]; then
  pass "pxe-only: udhcpc with PXEClient vendor class gets $(field ip "$TMP/x2") file $(field boot_file "$TMP/x2")"
else fail "pxe-only: udhcpc with PXEClient vendor class gets an address" "$(cat "$TMP/x2" 2>/dev/null) $(tail -2 "$TMP/x2.log" | paste -sd';' -)"; fi
if run_udhcpc 02:00:00:00:01:01 "$TMP/x3" && [ "$(field ip "$TMP/x3")" = 10.77.0.10 ]; then
  pass "pxe-only: listed host without vendor class still served"
else fail "pxe-only: listed host without vendor class still served" "$(cat "$TMP/x3" 2>/dev/null)"; fi

# --- Wrap up ----------------------------------------------------------------------------------
stop "$PXED_PID" TERM 10
if grep -qE "critical|Fatal error|lease write failed" "$LOG"; then
  fail "pxed log clean" "$(grep -E "critical|Fatal error|lease write failed" "$LOG" | head -3 | paste -sd';' -)"
else pass "pxed log clean (no critical errors, no failed lease writes)"; fi
finish
