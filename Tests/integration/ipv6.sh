#!/bin/bash
# IPv6: pxed's TFTP and HTTP on an interface's IPv6 address (address6: auto finds it), its
# DHCPv6 engine (RFC 8415) with netboot URLs (RFC 5970), against real peers in two namespaces:
# curl (HTTP and TFTP over IPv6), tftp-hpa (tftp -6), ptftp, ISC dhclient -6 (address, then a
# RENEW), dhcpcd (after radvd's RA with the M flag), and crafted DHCPv6 datagrams (truncated and
# mis-sized options, unknown types, relay nesting) that are counted and never fatal.
# Namespaces pxd-v6s-PID / pxd-v6c-PID, veth with fd00:96::1/64 (server) and 10.94.0.1/24.
. "$(dirname "$0")/lib.sh"
lib_init ipv6 240 pxed ptftp
need curl tftp dhclient python3 radvd || finish
SRV6=fd00:96::1

ns_pair v6 10.94.0.1/24 || { fail setup "namespaces"; finish; }
ns_etc "$CLI"
for ns in "$SRV" "$CLI"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        "net.ipv6.conf.$([ "$ns" = "$SRV" ] && echo "$SIF" || echo "$CIF").accept_dad=0" >/dev/null
done
ip -n "$SRV" -6 addr add $SRV6/64 dev "$SIF" nodad || { fail setup "server IPv6 address"; finish; }
ip -n "$CLI" link set "$CIF" address 52:54:00:96:06:01
ip -n "$CLI" link set "$CIF" down && ip -n "$CLI" link set "$CIF" up
ip -n "$CLI" -6 addr add fd00:96::9/64 dev "$CIF" nodad
for _ in $(seq 50); do ip -n "$CLI" -6 addr show dev "$CIF" | grep -q "fe80.*scope link" && ! ip -n "$CLI" -6 addr show dev "$CIF" | grep -q tentative && break; sleep 0.1; done

ROOT=$TMP/root
mkdir -p "$ROOT"
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$ROOT/big.bin"
echo secret >"$TMP/secret.txt"
CFG=$TMP/pxed.yaml
cat >"$CFG" <<EOF
log-level: debug
lease-file: $TMP/leases
control-socket: $TMP/control.sock
tftp: {root: $ROOT, port: 69}
http: {port: 80}
interfaces:
  $SIF:
    address: 10.94.0.1
    tftp: true
    http: true
    dhcp6:
      prefix: fd00:96::/64
      range: fd00:96::100-fd00:96::1ff
      dns: [$SRV6]
      lease-time: 120
      preferred-time: 60
      boot-params: ["console=ttyS0", "ip=dhcp6"]
boot:
  uefi-x64: snponly.efi
EOF
check "pxed check accepts dhcp6 and IPv6" "$BIN/pxed" check -c "$CFG"
LOG=$TMP/pxed.log
start_pxed "$LOG" "$CFG" "$SRV" || { fail setup "pxed did not start: $(tail -3 "$LOG" | tr '\n' '|')"; finish; }
check_why "TFTP and HTTP also serve the interface's IPv6 address (address6: auto)" "$(grep -E 'serving' "$LOG" | tr '\n' '|')" \
    eval 'grep -q "tftp $SIF ipv6: serving $ROOT on \[$SRV6\]:69" "$LOG" && grep -q "http $SIF ipv6: serving $ROOT on http://\[$SRV6\]:80/" "$LOG"'
check_why "DHCPv6 listens" "$(grep -i dhcpv6 "$LOG" | head -2 | tr '\n' '|')" wait_log "$LOG" "DHCPv6 listening" 5

# --- TFTP and HTTP over IPv6 --------------------------------------------------------------------
c() { ip netns exec "$CLI" "$@"; }
c curl -sS -g -o "$TMP/h.bin" "http://[$SRV6]/big.bin"
check "curl over HTTP/IPv6: byte-identical" same_file "$ROOT/big.bin" "$TMP/h.bin"
c curl -sS -g -o "$TMP/t.bin" "tftp://[$SRV6]/big.bin"
check "curl over TFTP/IPv6: byte-identical" same_file "$ROOT/big.bin" "$TMP/t.bin"
(cd "$TMP" && c timeout 30 tftp -6 $SRV6 -m binary -c get big.bin hpa.bin >/dev/null 2>&1)
check "tftp-hpa (tftp -6): byte-identical" same_file "$ROOT/big.bin" "$TMP/hpa.bin"
c "$BIN/ptftp" -w 16 $SRV6 69 -c get -f big.bin "$TMP/p.bin" >"$TMP/ptftp.out" 2>&1
check_why "ptftp with an IPv6 literal, windowsize 16: byte-identical" "$(tail -2 "$TMP/ptftp.out" | tr '\n' '|')" \
    same_file "$ROOT/big.bin" "$TMP/p.bin"
check_why "over IPv6 the block size is capped 20 bytes lower (1448: fits a 1500-byte MTU)" \
    "$(grep 'RRQ "big.bin" client=\[fd00:96::9\]' "$LOG" | grep -v 'blksize=512' | tail -1)" \
    eval 'grep "RRQ \"big.bin\" client=\[fd00:96::9\]" "$LOG" | grep -q "blksize=1448 windowsize=16"'
c "$BIN/ptftp" "[$SRV6]" -c get -f big.bin "$TMP/p2.bin" >"$TMP/ptftp2.out" 2>&1
check_why "ptftp with a bracketed IPv6 literal: byte-identical" "$(tail -2 "$TMP/ptftp2.out" | tr '\n' '|')" \
    same_file "$ROOT/big.bin" "$TMP/p2.bin"
check_why "the TFTP log writes IPv6 clients as [addr]:port" "$(grep 'RRQ "big.bin"' "$LOG" | head -1)" \
    grep -qE 'RRQ "big.bin" client=\[fd00:96::9\]:[0-9]+ .*outcome=completed' "$LOG"
code=$(c curl -sS -g -o /dev/null -w '%{http_code}' --path-as-is "http://[$SRV6]/../secret.txt")
check_why "HTTP/IPv6: a path out of the root is refused" "got $code" eval '[ "$code" = 403 ] || [ "$code" = 404 ] || [ "$code" = 400 ]'
check "TFTP/IPv6: a path out of the root is refused" bash -c "! ip netns exec $CLI curl -sS -g -o /dev/null 'tftp://[$SRV6]/../secret.txt' 2>/dev/null"

# --- DHCPv6: dhclient -6 ------------------------------------------------------------------------
spawn "$TMP/dhclient.out" ip netns exec "$CLI" timeout 45 dhclient -6 -d -v -lf "$TMP/dhclient6.leases" \
    -pf "$TMP/dhclient6.pid" -sf /bin/true "$CIF"
DHC=$SPAWNED
check_why "dhclient -6 got an address from the range" "$(grep -iE 'reply|bound|iaaddr' "$TMP/dhclient.out" | tail -3 | tr '\n' '|')" \
    wait_log "$TMP/dhclient6.leases" "iaaddr fd00:96::1[0-9a-f][0-9a-f]" 15
check_why "pxed logged the REPLY with the address" "$(grep 'dhcp6 reply' "$LOG" | head -1)" \
    wait_log "$LOG" "dhcp6 reply to request .*ip6=fd00:96::1" 5
check_why "the lease is durable in the lease file, beside the DHCPv4 records" "$(tail -2 "$TMP/leases" 2>/dev/null | tr '\n' '|')" \
    grep -qE "^6 fd00:96::1[0-9a-f]+ active [0-9]+ 0001[0-9a-f]+ [0-9]+ \*[0-9a-f]{8}$" "$TMP/leases"
check_why "pxed leases shows it in its DHCPv6 table" "$("$BIN/pxed" leases --lease-file "$TMP/leases" 2>&1 | tail -3 | tr '\n' '|')" \
    bash -c "'$BIN/pxed' leases --lease-file '$TMP/leases' | grep -qE '^0001[0-9a-f]+ +[0-9]+ +fd00:96::1[0-9a-f]+ .* active$'"
check_why "dhclient renewed at T1 (30 s) and pxed extended the lease" "$(grep -i renew "$TMP/dhclient.out" "$LOG" | tail -2 | tr '\n' '|')" \
    wait_log "$LOG" "dhcp6 reply to renew .*ip6=fd00:96::1" 40
stop "$DHC" TERM 3

# --- dhcpcd after a router advertisement with the M flag ----------------------------------------
cat >"$TMP/radvd.conf" <<EOF
interface $SIF {
    AdvSendAdvert on;
    AdvManagedFlag on;
    AdvOtherConfigFlag on;
    MinRtrAdvInterval 3;
    MaxRtrAdvInterval 4;
    prefix fd00:96::/64 { AdvAutonomous off; AdvOnLink on; };
};
EOF
spawn "$TMP/radvd.out" ip netns exec "$SRV" radvd -n -C "$TMP/radvd.conf" -p "$TMP/radvd.pid" -m stderr
if command -v dhcpcd >/dev/null; then
    ip -n "$CLI" link set "$CIF" address 52:54:00:96:06:02
    cat >"$TMP/dhcpcd.conf" <<EOF
ipv6only
noipv6rs
ia_na 1
script /bin/true
EOF
    # dhcpcd keeps leases in /var/lib/dhcpcd/IFACE.lease6 whatever its config says; a stale one
    # from an earlier run with the same interface name (PIDs repeat) made it sit on pxed's
    # ADVERTISEs for half a minute once: start from none, and remove ours afterwards.
    rm -f "/var/lib/dhcpcd/$CIF.lease6"
    on_exit "rm -f /var/lib/dhcpcd/$CIF.lease6"
    renews=$(count_log "$LOG" "dhcp6 reply to renew ")
    spawn "$TMP/dhcpcd.out" ip netns exec "$CLI" timeout 90 dhcpcd -f "$TMP/dhcpcd.conf" -B -d "$CIF"
    DHCPCD=$SPAWNED
    check_why "dhcpcd got an address from pxed" "$(grep -iE 'addr|dhcp6|reply' "$TMP/dhcpcd.out" | tail -3 | tr '\n' '|')" \
        wait_log "$LOG" "dhcp6 reply to (request|solicit) .*ip6=fd00:96::1" 40 2
    # T1 is half the preferred lifetime (60 s): dhcpcd renews 30 s after its REPLY.
    check_why "dhcpcd renewed at T1 and pxed extended its lease" "$(grep -iE 'renew' "$TMP/dhcpcd.out" | tail -2 | tr '\n' '|')" \
        wait_log "$LOG" "dhcp6 reply to renew .*ip6=fd00:96::1" 45 $((renews + 1))
    stop "$DHCPCD" TERM 3
fi

# --- crafted datagrams ----------------------------------------------------------------------------
cat >"$TMP/craft6.py" <<'EOF'
import socket, struct, sys, time
iface = sys.argv[1]
idx = socket.if_nametoindex(iface)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, 25, iface.encode())
s.bind(("::", 546))
s.settimeout(2)
def opt(code, data): return struct.pack("!HH", code, len(data)) + data
duid = b"\x00\x03\x00\x01" + bytes([0x52, 0x54, 0, 0x96, 6, 3])
ia = opt(3, struct.pack("!III", 7, 0, 0))
# A UEFI x64 client (option 61 = 7) asking for the boot file URL and its parameters (ORO 59, 60).
good = b"\x01\x00\x00\x42" + opt(1, duid) + ia + opt(8, b"\x00\x00") + opt(61, b"\x00\x07") + opt(6, b"\x00\x3b\x00\x3c")
bad = [
    b"", b"\x01", b"\x01\x00\x00",                                   # truncated headers
    b"\x01\x00\x00\x01" + b"\x00\x01\x00\x20" + duid,                 # option longer than the packet
    b"\x01\x00\x00\x01" + b"\x00\x01\x00",                            # truncated option header
    b"\x01\x00\x00\x01" + opt(1, duid) + opt(3, b"\x00\x00\x00\x07"), # IA_NA of 4 bytes
    b"\x63\x00\x00\x01" + opt(1, duid),                               # unknown message type 99
    b"\x07\x00\x00\x01" + opt(1, duid),                               # a REPLY sent to the server
    b"\x0c\x00" + bytes(32),                                          # RELAY-FORW without a relayed message
]
nested = good
for _ in range(10):
    nested = b"\x0c\x00" + bytes(16) + socket.inet_pton(socket.AF_INET6, "fe80::1") + opt(9, nested)
bad.append(nested)                                                    # nested deeper than 8
for b in bad:
    s.sendto(b, ("ff02::1:2", 547, 0, idx))
time.sleep(0.3)
s.sendto(good, ("ff02::1:2", 547, 0, idx))
try:
    others = []
    while True:
        data, _ = s.recvfrom(4096)
        if data[1:4] == b"\x00\x00\x42": break
        others.append(data[:4].hex())
    if others: print("answers to broken datagrams:", others)
    opts, i = {}, 4
    while i + 4 <= len(data):
        code, n = struct.unpack("!HH", data[i:i + 4]); opts[code] = data[i + 4:i + 4 + n]; i += 4 + n
    params, p = [], opts.get(60, b"")
    while len(p) >= 2:
        n = struct.unpack("!H", p[:2])[0]; params.append(p[2:2 + n].decode()); p = p[2 + n:]
    print("reply type", data[0], "url", opts.get(59), "params", params)
    want_url = ("tftp://[%s]/snponly.efi" % sys.argv[2]).encode()
    sys.exit(0 if data[0] == 2 and opts.get(59) == want_url and params == ["console=ttyS0", "ip=dhcp6"] else 1)
except socket.timeout:
    print("no reply to the valid SOLICIT")
    sys.exit(1)
EOF
check_why "crafted DHCPv6: 10 broken datagrams, then a UEFI SOLICIT still gets an ADVERTISE with option 59 and 60" \
    "$(ip netns exec "$CLI" python3 "$TMP/craft6.py" "$CIF" "$SRV6" 2>&1 | tail -1)" \
    ip netns exec "$CLI" python3 "$TMP/craft6.py" "$CIF" "$SRV6"
kill -USR1 "$PXED_PID"
check_why "the broken datagrams were counted (SIGUSR1: dhcp6 ignored)" "$(grep 'status: dhcp6' "$LOG" | tail -1)" \
    wait_log "$LOG" "status: dhcp6 $SIF: .*ignored=([1-9][0-9]+|[89])" 5
check "pxed still runs" alive "$PXED_PID"
finish
