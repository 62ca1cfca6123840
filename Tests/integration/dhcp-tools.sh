#!/bin/bash
# pxed serving DHCP on two interfaces at once (each answers from its own subnet, the ingress
# interface known from the socket bound to it), and the standalone tools pdhcpd and pbootpd,
# each with real or crafted clients in network namespaces made here.
. "$(dirname "$0")/lib.sh"
lib_init dhcp-tools 180 pxed pdhcpd pbootpd
S=pxd-dts-$$; C1=pxd-dc1-$$; C2=pxd-dc2-$$
A0=dta0-$$; A1=dta1-$$; B0=dtb0-$$; B1=dtb1-$$
for n in "$S" "$C1" "$C2"; do ns_add "$n" && ns_etc "$n" || { fail setup "namespace $n"; finish; }; done
ns_veth "$S" "$A0" "$C1" "$A1" && ns_veth "$S" "$B0" "$C2" "$B1" || { fail setup "veth pairs"; finish; }
ip -n "$S" addr add 10.91.1.1/24 dev "$A0"; ip -n "$S" addr add 10.91.2.1/24 dev "$B0"
ip -n "$C1" link set "$A1" address 02:91:00:00:01:01; ip -n "$C2" link set "$B1" address 02:91:00:00:02:01
cat > "$TMP/script" <<'SH'
#!/bin/sh
[ "$1" = bound ] && echo "ip=$ip siaddr=$siaddr boot_file=$boot_file serverid=$serverid" > "$OUT"
exit 0
SH
chmod +x "$TMP/script"
lease() { # NS IFACE OUT [udhcpc args]: one lease attempt; prints the bound line
  local ns=$1 ifc=$2 out=$3; shift 3; rm -f "$out"
  OUT=$out ip netns exec "$ns" timeout 15 udhcpc -i "$ifc" -f -q -n -t 3 -T 1 -s "$TMP/script" "$@" > /dev/null 2>&1
  cat "$out" 2>/dev/null
}

cat > "$TMP/pxed.yaml" <<YAML
lease-file: $TMP/leases
control-socket: $TMP/control.sock
interfaces:
  $A0:
    dhcp: {subnet: 10.91.1.0/24, range: 10.91.1.100-10.91.1.199, router: 10.91.1.1}
  $B0:
    dhcp: {subnet: 10.91.2.0/24, range: 10.91.2.100-10.91.2.199, router: 10.91.2.1}
boot: {default: pxelinux.0}
YAML
start_pxed "$TMP/log" "$TMP/pxed.yaml" "$S" || { fail setup "pxed did not start: $(tail -n 5 "$TMP/log")"; finish; }
r1=$(lease "$C1" "$A1" "$TMP/o1"); r2=$(lease "$C2" "$B1" "$TMP/o2")
check "interface one answers from its own pool ($r1)" bash -c "echo '$r1' | grep -q 'ip=10.91.1.1[0-9][0-9] .*serverid=10.91.1.1'"
check "interface two answers from its own pool ($r2)" bash -c "echo '$r2' | grep -q 'ip=10.91.2.1[0-9][0-9] .*serverid=10.91.2.1'"
"$BIN/pxed" leases --lease-file "$TMP/leases" > "$TMP/table"
check "both leases recorded" bash -c "grep -q '02:91:00:00:01:01  10.91.1.' '$TMP/table' && grep -q '02:91:00:00:02:01  10.91.2.' '$TMP/table'"
stop "$PXED_PID"

# pdhcpd: PXE-only by default, boot file and next-server from the command line.
spawn "$TMP/pd.log" ip netns exec "$S" "$BIN/pdhcpd" --lease-file "$TMP/pd-leases" "$A0" pxelinux.0
PID=$SPAWNED
sleep 1
r=$(lease "$C1" "$A1" "$TMP/o3" -V PXEClient:Arch:00000:UNDI:002001)
check "pdhcpd leases to a PXE client with its boot file ($r)" bash -c "echo '$r' | grep -q 'ip=10.91.1.[0-9]* siaddr=10.91.1.1 boot_file=pxelinux.0'"
r=$(lease "$C2" "$B1" "$TMP/o4")
check "pdhcpd is bound to its interface: the other link gets nothing" test -z "$r"
ip -n "$C1" link set "$A1" address 02:91:00:00:01:02
r=$(lease "$C1" "$A1" "$TMP/o5")
check "pdhcpd ignores a plain (non-PXE) client by default" test -z "$r"
stop "$PID"

# pdhcpd --proxy and pxed's one-call --proxy: proxy offers (no address) to PXE clients only.
CRAFT="$(dirname "$0")/dhcp/dhcpcraft.py"
proxy_offer() { # OUT: a PXE DISCOVER from C1; true when the reply is a proxy offer for pxelinux.0
  ip netns exec "$C1" timeout 10 python3 "$CRAFT" --iface "$A1" --mac 02:91:00:00:01:07 --arch 7 \
    --vendor PXEClient:Arch:00007:UNDI:003016 --broadcast-flag --first --timeout 3 > "$1" 2>&1
  python3 -c "import json,sys; d=json.loads(open(sys.argv[1]).readline()); sys.exit(0 if d['type']=='offer' and d['yiaddr']=='0.0.0.0' and d['file']=='pxelinux.0' and d['siaddr']=='10.91.1.1' else 1)" "$1"
}
check "pdhcpd refuses --proxy with --range (they do not go together)" \
  bash -c "'$BIN/pdhcpd' --proxy --range 10.91.1.100-10.91.1.110 $A0 pxelinux.0 2>&1 | grep -q 'does not apply with --proxy'"
spawn "$TMP/pdp.log" ip netns exec "$S" "$BIN/pdhcpd" --proxy "$A0" pxelinux.0
PID=$SPAWNED
wait_log "$TMP/pdp.log" "proxy DHCP on" 5
check "pdhcpd --proxy: a PXE client gets a proxy offer (yiaddr 0.0.0.0, siaddr, file)" proxy_offer "$TMP/pdp.json"
check "pdhcpd --proxy: a plain client gets nothing" ip netns exec "$C1" timeout 10 python3 "$CRAFT" --iface "$A1" \
  --mac 02:91:00:00:01:08 --broadcast-flag --timeout 2 --expect-none
stop "$PID"
mkdir -p "$TMP/root"
spawn "$TMP/pxp.log" ip netns exec "$S" "$BIN/pxed" "$A0" "$TMP/root" pxelinux.0 --proxy --tftp-port 6969 --lease-file "$TMP/pxp-leases"
PID=$SPAWNED
wait_log "$TMP/pxp.log" "pxed started" 5
check "pxed IFACE ROOT FILE --proxy: a PXE client gets a proxy offer" proxy_offer "$TMP/pxp.json"
stop "$PID"

# pbootpd: a static table; a BOOTP request (no option 53) for a listed MAC gets its address.
spawn "$TMP/pb.log" ip netns exec "$S" "$BIN/pbootpd" --host 02:91:00:00:01:09=10.91.1.50 "$A0" boot/x86.0
sleep 1
ip netns exec "$C1" python3 "$(dirname "$0")/dhcp/dhcpcraft.py" --iface "$A1" --mac 02:91:00:00:01:09 --type bootp --timeout 3 > "$TMP/bootp.json" 2>&1
check "pbootpd answers a listed MAC with its address and file ($(head -c 160 "$TMP/bootp.json"))" \
  python3 -c "import json,sys; d=json.loads(open('$TMP/bootp.json').readline()); sys.exit(0 if d.get('yiaddr')=='10.91.1.50' and d.get('file')=='boot/x86.0' else 1)"
check "pbootpd ignores an unlisted MAC" ip netns exec "$C1" python3 "$(dirname "$0")/dhcp/dhcpcraft.py" --iface "$A1" \
  --mac 02:91:00:00:01:0a --type bootp --timeout 2 --expect-none
finish
