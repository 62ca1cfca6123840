#!/bin/bash
# End to end, proxy DHCP: pxed beside a link's own DHCP server, handing out no addresses, only
# boot information (port 67) and boot files through its PXE boot server (port 4011).
#
# One bridge (br0) in namespace pxd-prx-PID with pxed at 10.96.0.1 (proxy DHCP + TFTP) and the
# VM's tap; a second namespace, the "site" (10.96.0.2 on a port of the same bridge), runs the
# link's DHCP server with a plain pool and no PXE options; a third holds crafted clients.
#   1. bios-dnsmasq  dnsmasq (--dhcp-range only) gives the address. The iPXE ROM (e1000, SeaBIOS)
#                    takes pxed's proxy offer (boot.ipxe) -> kernel + initrd -> marker.
#   2. uefi-kea      Kea 2.2 (kea-dhcp4, raw sockets, a plain pool) gives the address. OVMF's own
#                    PXE client (virtio-net, romfile=) takes pxed's proxy offer (no option 43),
#                    asks pxed's boot server on 4011 for its file (snponly.efi) -> iPXE, which
#                    takes pxed's proxy offer for boot.ipxe -> kernel + initrd -> marker.
#   3. crafted       (no site server running) a non-PXE DISCOVER gets nothing; REQUESTs on 67
#                    for another server get nothing; 4011 requests with a valid, a 16-byte and no
#                    option 97 get an ACK from port 4011 (97 only when valid); a truncated 4011
#                    packet is counted (malformed), logged, and pxed answers the next one.
#   4. reload        HUP to pool mode (a plain client gets an address), HUP back to proxy
#                    (a plain client gets nothing again, a PXE client a proxy offer); same PID.
# Each boot prints its console lines and pxed's lines as evidence; DHCP packets (67/68 and 4011)
# are captured on br0 and decoded.
# Cached downloads and cleanup as in e2e-pxe-boot.sh (vm/vm.sh). E2E_PROXY_PATHS picks paths
# (default "bios-dnsmasq uefi-kea crafted reload"); E2E_MAX_SECONDS (default 600).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm/vm.sh"
PXED=$BIN/pxed
MAX_SECONDS=${E2E_MAX_SECONDS:-600}
BOOT_SECONDS=${E2E_BOOT_SECONDS:-200}
PATHS=${E2E_PROXY_PATHS:-bios-dnsmasq uefi-kea crafted reload}
lib_init e2e-proxy-boot "$MAX_SECONDS" pxed

NS=pxd-prx-$$
SITE=pxd-site-$$
CLI=pxd-pcl-$$
SRV=10.96.0.1
SITE_IP=10.96.0.2
CLI_IP=10.96.0.160
BIOS_MAC=52:54:00:96:00:51
UEFI_MAC=52:54:00:96:00:52
IPXE_MARK=PXED-PROXY-IPXE
INIT_MARK=PXED-PROXY-INIT
OVMF=/usr/share/OVMF
CRAFT="$(dirname "$0")/dhcp/dhcpcraft.py"
EXPECT="$(dirname "$0")/dhcp/expect.py"
wants() { [[ " $PATHS " == *" $1 "* ]]; }

[ "$(id -u)" -eq 0 ] || { fail setup "needs root (network namespaces, tap)"; finish; }
need qemu-system-x86_64 ip timeout dnsmasq kea-dhcp4 busybox gzip tcpdump python3 || finish
for f in /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi $OVMF/OVMF_CODE_4M.fd $OVMF/OVMF_VARS_4M.fd; do
    [ -f "$f" ] || { fail setup "$f missing (scripts/install-deps.sh)"; finish; }
done
vm_kernel amd64 && vm_busybox amd64 || { fail setup "kernel or busybox download"; finish; }

ROOT=$TMP/tftp
mkdir -p "$ROOT"
cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi "$ROOT/"
cp "$VM_KERNEL" "$ROOT/vmlinuz"
vm_initrd "$VM_BUSYBOX" "$INIT_MARK" "$ROOT/initrd.img" || { fail setup "initrd"; finish; }
# initrd= on the command line: iPXE's EFI build hands the initrd to the kernel by that name
# (the BIOS kernel ignores it). Behind a proxy, iPXE's \${next-server} is the site server's siaddr
# (dnsmasq puts its own address there): the boot server is \${proxydhcp/next-server}.
# Echo lines stay under 80 columns (SeaBIOS's serial mirror cuts the rest).
cat >"$ROOT/boot.ipxe" <<EOF
#!ipxe
set srv \${proxydhcp/next-server}
isset \${srv} || set srv \${next-server}
echo $IPXE_MARK script running: ip \${net0/ip} platform \${platform}
echo $IPXE_MARK boot server \${srv}, site next-server \${next-server}
kernel tftp://\${srv}/vmlinuz initrd=initrd.img console=ttyS0,115200 panic=-1 || goto failed
initrd tftp://\${srv}/initrd.img || goto failed
boot || goto failed
:failed
echo $IPXE_MARK-FAILED
EOF

ns_add "$NS" && vm_bridge "$NS" $SRV/24 || { fail setup "bridge in $NS"; finish; }
ns_add "$SITE" && vm_port "$NS" site0 "$SITE" && ip -n "$SITE" addr add $SITE_IP/24 dev site0 ||
    { fail setup "site namespace"; finish; }
ns_add "$CLI" && ns_etc "$CLI" && vm_port "$NS" cli0 "$CLI" && ip -n "$CLI" link set cli0 address 02:96:00:00:00:01 &&
    ip -n "$CLI" addr add $CLI_IP/24 dev cli0 || { fail setup "client namespace"; finish; }

CFG=$TMP/pxed.yaml
write_config() { # proxy|pool
    local dhcp="{proxy: true}"
    [ "$1" = pool ] && dhcp="{subnet: 10.96.0.0/24, range: 10.96.0.200-10.96.0.210, pxe-only: false}"
    cat >"$CFG" <<EOF
log-level: debug
lease-file: $TMP/leases
control-socket: $TMP/control.sock
tftp:
  root: $ROOT
  port: 69
interfaces:
  br0:
    address: $SRV
    tftp: true
    dhcp: $dhcp
boot:
  bios: undionly.kpxe
  uefi-x64: snponly.efi
  ipxe: boot.ipxe
  default: undionly.kpxe
EOF
}
write_config proxy
check "pxed check accepts dhcp: {proxy: true}" "$PXED" check -c "$CFG"
LOG=$TMP/pxed.log
start_pxed "$LOG" "$CFG" "$NS" || { fail setup "pxed did not start: $(tail -3 "$LOG" | tr '\n' '|')"; finish; }
PXED_MAIN=$PXED_PID
check_why "pxed listens on 67 and its boot server on 4011" "$(grep 'DHCP listening' "$LOG" | tail -1)" \
    grep -q "DHCP listening .*proxy=boot server on .*:4011" "$LOG"
spawn "$TMP/ra.out" ip netns exec "$NS" python3 "$VM_DIR/ra.py" br0 "$MAX_SECONDS"
spawn "$TMP/tcpdump.out" ip netns exec "$NS" timeout "$MAX_SECONDS" tcpdump -i br0 -n -U -s 1500 \
    -w "$TMP/dhcp.pcap" 'udp port 67 or udp port 68 or udp port 4011'
for _ in $(seq 50); do grep -q "listening on" "$TMP/tcpdump.out" && break; sleep 0.1; done

since() { tail -n +"$(($1 + 1))" "$LOG"; }
mac_re() { echo "$1" | sed 's/:/[:-]/g'; }
rrq_ok() { # LOGPART FILE
    local l
    l=$(grep -E "RRQ \"$2\"" "$1" | grep -v size-probe | tail -1)
    [ -n "$l" ] && echo "$l" | grep -q "bytes=$(stat -c %s "$ROOT/$2") " && echo "$l" | grep -q "outcome=completed"
}
FAILURES="$IPXE_MARK-FAILED|Kernel panic|PXE-E|No bootable"
VM_MARKS=("iPXE script=$IPXE_MARK script running" "Linux=Linux version" "init=$INIT_MARK")
TIMES=()

# ---------------------------------------------------------------------------------------------
# 1. BIOS iPXE ROM, dnsmasq hands out the address

if wants bios-dnsmasq; then
    spawn "$TMP/dnsmasq.out" ip netns exec "$SITE" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 \
        --interface=site0 --bind-interfaces --dhcp-range=10.96.0.100,10.96.0.150,255.255.255.0,1h \
        --dhcp-option=3,$SITE_IP --dhcp-leasefile="$TMP/dnsmasq.leases" --no-ping --user=root --group=root \
        --pid-file="$TMP/dnsmasq.pid" --log-dhcp --log-facility="$TMP/dnsmasq.log"
    SITE_PID=$SPAWNED
    wait_log "$TMP/dnsmasq.log" "DHCP, IP range" 5 || sleep 1
    mark=$(wc -l <"$LOG")
    vm_boot bios-dnsmasq "$BOOT_SECONDS" "" "$FAILURES" ip netns exec "$NS" qemu-system-x86_64 -machine pc,accel=tcg \
        -m 256 -nographic -no-reboot -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
        -device e1000,netdev=n0,mac=$BIOS_MAC -boot n -serial "file:$TMP/bios-dnsmasq.serial" -monitor none -display none
    TIMES+=("bios-dnsmasq (iPXE ROM, address from dnsmasq, boot.ipxe from pxed's proxy offer, to power-off): $BOOT_TIME s")
    stop "$SITE_PID"
    part=$TMP/bios-dnsmasq.log
    since "$mark" >"$part"
    serial=$TMP/bios-dnsmasq.serial
    check_why "bios-dnsmasq: pxed sent a proxy offer (boot=ipxe file=boot.ipxe)" \
        "$(grep -E "proxy offer.*$(mac_re $BIOS_MAC)" "$part" | head -1)" \
        grep -qE "proxy offer .*boot=ipxe client=$(mac_re $BIOS_MAC) file=boot.ipxe" "$part"
    check_why "bios-dnsmasq: pxed handed out no address (no ack line)" "$(grep -E '^info: ack ' "$part" | head -1)" \
        eval '! grep -qE "^info: ack " "$part"'
    check_why "bios-dnsmasq: the VM's address came from dnsmasq's range (iPXE script marker)" \
        "$(vm_console "$serial" "$IPXE_MARK" | head -1)" \
        eval 'grep -aqE "$IPXE_MARK script running: ip 10\.96\.0\.1[0-5][0-9] platform pcbios" "$serial" &&
              grep -aq "$IPXE_MARK boot server $SRV," "$serial"'
    check_why "bios-dnsmasq: dnsmasq's lease file holds the VM" "$(cat "$TMP/dnsmasq.leases" 2>/dev/null)" \
        grep -qi "$BIOS_MAC" "$TMP/dnsmasq.leases"
    for f in boot.ipxe vmlinuz initrd.img; do
        check_why "bios-dnsmasq: pxed served $f" "$(grep "RRQ \"$f\"" "$part" | tail -1)" rrq_ok "$part" $f
    done
    check_why "bios-dnsmasq: the initrd's /init ran (marker)" "$BOOT_END" grep -aq "$INIT_MARK userspace up" "$serial"
fi

# ---------------------------------------------------------------------------------------------
# 2. OVMF's own PXE client, Kea hands out the address

if wants uefi-kea; then
    mkdir -p "$TMP/kea"
    cat >"$TMP/kea/kea.json" <<EOF
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "site0" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "$TMP/kea/leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "subnet4": [ { "id": 1, "subnet": "10.96.0.0/24", "pools": [ { "pool": "10.96.0.100 - 10.96.0.150" } ],
                   "option-data": [ { "name": "routers", "data": "$SITE_IP" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "INFO", "output_options": [ { "output": "$TMP/kea/kea.log" } ] } ] } }
EOF
    spawn "$TMP/kea.out" env KEA_PIDFILE_DIR="$TMP/kea" KEA_LOCKFILE_DIR="$TMP/kea" ip netns exec "$SITE" \
        kea-dhcp4 -c "$TMP/kea/kea.json"
    SITE_PID=$SPAWNED
    for _ in $(seq 50); do grep -q "DHCP4_STARTED\|DHCPSRV_MEMFILE_DB" "$TMP/kea/kea.log" 2>/dev/null && break; sleep 0.1; done
    check_why "uefi-kea: kea-dhcp4 started" "$(tail -2 "$TMP/kea.out" "$TMP/kea/kea.log" 2>/dev/null | tr '\n' '|')" alive "$SITE_PID"
    mark=$(wc -l <"$LOG")
    cp $OVMF/OVMF_VARS_4M.fd "$TMP/uefi.vars.fd"
    vm_boot uefi-kea "$BOOT_SECONDS" "" "$FAILURES" ip netns exec "$NS" qemu-system-x86_64 -machine q35,accel=tcg -m 512 \
        -nographic -no-reboot \
        -drive if=pflash,format=raw,unit=0,readonly=on,file=$OVMF/OVMF_CODE_4M.fd \
        -drive if=pflash,format=raw,unit=1,file="$TMP/uefi.vars.fd" \
        -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=$UEFI_MAC,romfile= \
        -boot n -serial "file:$TMP/uefi-kea.serial" -monitor none -display none
    TIMES+=("uefi-kea (OVMF PXE, address from Kea, snponly.efi from pxed's boot server, iPXE, to power-off): $BOOT_TIME s")
    stop "$SITE_PID"
    part=$TMP/uefi-kea.log
    since "$mark" >"$part"
    serial=$TMP/uefi-kea.serial
    check_why "uefi-kea: pxed sent OVMF a proxy offer (arch uefi-x64)" \
        "$(grep -E "proxy offer.*$(mac_re $UEFI_MAC)" "$part" | head -1)" \
        grep -qE "proxy offer arch=uefi-x64 boot=uefi-x64 client=$(mac_re $UEFI_MAC) file=snponly.efi" "$part"
    check_why "uefi-kea: OVMF asked pxed's boot server (4011), which answered snponly.efi" \
        "$(grep -E "boot server ack" "$part" | head -1)" \
        grep -qE "boot server ack arch=uefi-x64 boot=uefi-x64 client=$(mac_re $UEFI_MAC) file=snponly.efi" "$part"
    check_why "uefi-kea: pxed served snponly.efi" "$(grep 'RRQ "snponly.efi"' "$part" | tail -1)" rrq_ok "$part" snponly.efi
    check_why "uefi-kea: iPXE then took pxed's proxy offer for boot.ipxe" \
        "$(grep -E "proxy offer.*boot=ipxe" "$part" | head -1)" \
        grep -qE "proxy offer .*boot=ipxe client=$(mac_re $UEFI_MAC) file=boot.ipxe" "$part"
    check_why "uefi-kea: pxed handed out no address (no ack line)" "$(grep -E '^info: ack ' "$part" | head -1)" \
        eval '! grep -qE "^info: ack " "$part"'
    check_why "uefi-kea: the address came from Kea's pool (iPXE script marker, platform efi)" \
        "$(vm_console "$serial" "$IPXE_MARK" | head -1)" \
        eval 'grep -aqE "$IPXE_MARK script running: ip 10\.96\.0\.1[0-5][0-9] platform efi" "$serial" &&
              grep -aq "$IPXE_MARK boot server $SRV," "$serial"'
    check_why "uefi-kea: Kea's lease file holds the VM" "$(tail -2 "$TMP/kea/leases4.csv" 2>/dev/null | tr '\n' '|')" \
        grep -qi "$UEFI_MAC" "$TMP/kea/leases4.csv"
    for f in boot.ipxe vmlinuz initrd.img; do
        check_why "uefi-kea: pxed served $f" "$(grep "RRQ \"$f\"" "$part" | tail -1)" rrq_ok "$part" $f
    done
    check_why "uefi-kea: the initrd's /init ran (marker)" "$BOOT_END" grep -aq "$INIT_MARK userspace up" "$serial"
fi

# ---------------------------------------------------------------------------------------------
# Packets of the boots: pxed's offers carry no address; OVMF's 4011 exchange.

python3 "$VM_DIR/dhcpopts.py" "$TMP/dhcp.pcap" >"$TMP/dhcp.txt" 2>&1
if wants bios-dnsmasq; then
    check_why "bios-dnsmasq: pxed's OFFER on the wire: yiaddr 0.0.0.0, file boot.ipxe, siaddr $SRV, 60 PXEClient" \
        "$(grep "^server.*mac=$BIOS_MAC" "$TMP/dhcp.txt" | head -3 | tr '\n' '|')" \
        grep -qE "^server .* OFFER yiaddr=0\.0\.0\.0 file=boot.ipxe siaddr=$SRV opt60=PXEClient mac=$BIOS_MAC via=67 from=$SRV:67" "$TMP/dhcp.txt"
    check_why "bios-dnsmasq: dnsmasq's OFFER carried the address and no boot file" \
        "$(grep "^server.*from=$SITE_IP.*" "$TMP/dhcp.txt" | grep "mac=$BIOS_MAC" | head -1)" \
        grep -qE "^server .* OFFER yiaddr=10\.96\.0\.1[0-5][0-9] file= .*mac=$BIOS_MAC via=67 from=$SITE_IP:67" "$TMP/dhcp.txt"
fi
if wants uefi-kea; then
    check_why "uefi-kea: pxed's OFFER to OVMF: yiaddr 0.0.0.0, siaddr $SRV, no option 43" \
        "$(grep "^server .* OFFER.*mac=$UEFI_MAC.*from=$SRV" "$TMP/dhcp.txt" | head -1)" \
        grep -qE "^server .* OFFER yiaddr=0\.0\.0\.0 file=snponly.efi siaddr=$SRV opt60=PXEClient mac=$UEFI_MAC via=67 from=$SRV:67 opt43=-" "$TMP/dhcp.txt"
    check_why "uefi-kea: OVMF's REQUEST to 4011 and pxed's ACK from port 4011" \
        "$(grep "via=4011" "$TMP/dhcp.txt" | grep "mac=$UEFI_MAC" | head -2 | tr '\n' '|')" \
        eval 'grep -qE "^client .* REQUEST .*mac=$UEFI_MAC .*via=4011" "$TMP/dhcp.txt" &&
              grep -qE "^server .* ACK yiaddr=0\.0\.0\.0 file=snponly.efi siaddr=$SRV opt60=PXEClient mac=$UEFI_MAC via=4011 from=$SRV:4011" "$TMP/dhcp.txt"'
fi

# ---------------------------------------------------------------------------------------------
# 3. Crafted clients (no site server now: only pxed could answer)

craft() { # OUT ARGS...
    local out=$1
    shift
    ip netns exec "$CLI" timeout 15 python3 "$CRAFT" --iface cli0 "$@" >"$out" 2>"$out.err"
}
expect() { # NAME OUT EXPECTATIONS...
    local name=$1 out=$2 why
    shift 2
    if why=$(python3 "$EXPECT" "$out" "$@"); then pass "$name"; else fail "$name" "$(echo "$why" | paste -sd';' -)"; fi
}
UUID=00$(printf '%032x' 0x5a5a)
PXE7=(--arch 7 --vendor PXEClient:Arch:00007:UNDI:003016)
if wants crafted; then
    check "crafted: a plain DISCOVER (no PXEClient) gets nothing from pxed" \
        craft "$TMP/c-plain" --mac 02:96:00:00:00:01 --broadcast-flag --timeout 2 --expect-none
    check "crafted: a PXE REQUEST naming the site's server gets nothing" \
        craft "$TMP/c-other" --type request --mac 02:96:00:00:00:01 "${PXE7[@]}" --requested 10.96.0.120 \
        --server-id $SITE_IP --broadcast-flag --timeout 2 --expect-none
    craft "$TMP/c-offer" --mac 02:96:00:00:00:01 "${PXE7[@]}" --uuid "$UUID" --broadcast-flag --first
    expect "crafted: a UEFI PXE DISCOVER gets a proxy offer (yiaddr 0, no 43, 97 echoed, broadcast)" "$TMP/c-offer" \
        type=offer yiaddr=0.0.0.0 siaddr=$SRV file=snponly.efi opt:60=s:PXEClient opt:54=0a600001 '!opt:43' \
        "opt:97=$UUID" '!opt:51' ip_dst=255.255.255.255 minlen=300
    for case in valid:$UUID short:$(printf '%032x' 7) none:; do
        name=${case%%:*} uuid=${case#*:}
        craft "$TMP/c-4011-$name" --type request --mac 02:96:00:00:00:01 "${PXE7[@]}" ${uuid:+--uuid "$uuid"} \
            --ciaddr $CLI_IP --to $SRV:4011 --from-port 4011 --first
        if [ "$name" = valid ]; then want97=("opt:97=$UUID"); else want97=('!opt:97'); fi
        expect "crafted: 4011 REQUEST ($name option 97) gets an ACK from port 4011 with the file" "$TMP/c-4011-$name" \
            type=ack yiaddr=0.0.0.0 ciaddr=$CLI_IP siaddr=$SRV file=snponly.efi opt:60=s:PXEClient \
            opt:54=0a600001 "${want97[@]}" udp_sport=4011 udp_dport=4011 ip_dst=$CLI_IP
    done
    craft "$TMP/c-4011-ipxe" --type request --mac 02:96:00:00:00:01 "${PXE7[@]}" --user-class iPXE \
        --ciaddr $CLI_IP --to $SRV:4011 --first
    expect "crafted: a 4011 REQUEST from port 68 is answered to port 68" "$TMP/c-4011-ipxe" \
        type=ack file=boot.ipxe udp_sport=4011 udp_dport=68
    malformed_before=$(grep -c "malformed datagram dropped.*port=boot server" "$LOG")
    check "crafted: a truncated 4011 packet (100 bytes) gets nothing" \
        craft "$TMP/c-trunc" --type request --mac 02:96:00:00:00:01 "${PXE7[@]}" --ciaddr $CLI_IP \
        --to $SRV:4011 --from-port 4011 --truncate 100 --timeout 2 --expect-none
    check_why "crafted: ... and is logged as malformed on the boot server port" "$(grep malformed "$LOG" | tail -1)" \
        wait_log "$LOG" "malformed datagram dropped.*port=boot server" 3 $((malformed_before + 1))
    kill -USR1 "$PXED_MAIN"
    check_why "crafted: ... and counted (SIGUSR1 status: malformed, proxy counters)" "$(grep 'status: dhcp' "$LOG" | tail -1)" \
        wait_log "$LOG" "status: dhcp br0: .*malformed=[1-9].*proxy-offers=[1-9][0-9]* proxy-acks=[1-9]" 5
    craft "$TMP/c-after" --type request --mac 02:96:00:00:00:01 "${PXE7[@]}" --ciaddr $CLI_IP --to $SRV:4011 \
        --from-port 4011 --first
    expect "crafted: pxed answers the next 4011 request" "$TMP/c-after" type=ack file=snponly.efi
    check "crafted: pxed still runs" alive "$PXED_MAIN"
fi

# ---------------------------------------------------------------------------------------------
# 4. Reload between modes

reload() { # wait for the next "reload applied"
    local before
    before=$(grep -c "reload applied" "$LOG")
    kill -HUP "$PXED_MAIN"
    wait_log "$LOG" "reload applied" 10 $((before + 1))
}
if wants reload; then
    write_config pool
    check "reload: HUP to pool mode applied" reload
    craft "$TMP/r-pool" --mac 02:96:00:00:00:01 --broadcast-flag --first
    expect "reload: in pool mode a plain client gets an address" "$TMP/r-pool" type=offer yiaddr~10.96.0.200-10.96.0.210
    write_config proxy
    check "reload: HUP back to proxy mode applied" reload
    check "reload: in proxy mode the plain client gets nothing again" \
        craft "$TMP/r-proxy-plain" --mac 02:96:00:00:00:01 --broadcast-flag --timeout 2 --expect-none
    craft "$TMP/r-proxy-pxe" --mac 02:96:00:00:00:01 "${PXE7[@]}" --broadcast-flag --first
    expect "reload: and a PXE client a proxy offer" "$TMP/r-proxy-pxe" type=offer yiaddr=0.0.0.0 file=snponly.efi
    check_why "reload: the same pxed process throughout" "pid $PXED_MAIN" alive "$PXED_MAIN"
fi

echo "--- times"
printf '%s\n' "${TIMES[@]}"
for p in bios-dnsmasq uefi-kea; do
    [ -f "$TMP/$p.serial" ] || continue
    echo "--- $p: console"
    vm_console "$TMP/$p.serial" "NBP|PXE|$IPXE_MARK|$INIT_MARK|Linux version|iPXE 1" | cut -c1-180 | head -12
    echo "--- $p: pxed"
    grep -E "proxy|boot server|RRQ" "$TMP/$p.log" | cut -c1-220 | head -12
done
echo "--- DHCP packets on br0 (67/68 and 4011)"
cut -c1-240 "$TMP/dhcp.txt" | head -40
finish
