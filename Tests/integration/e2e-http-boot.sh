#!/bin/bash
# End to end over HTTP: pxed's HTTP engine serves the big files of a network boot.
#   1. ipxe-http   the iPXE ROM (BIOS, e1000) is told boot.ipxe as an http:// URL on pxed (the
#                  boot table's `ipxe` entry); the script loads the Debian kernel and initrd over
#                  HTTP from pxed -> the initrd's marker.
#      ipxe-tftp   the same machine and files, script and kernel over TFTP, to "Linux version":
#                  the kernel download time over TFTP is printed next to the HTTP one.
#   2. uefi-http   OVMF's own UEFI HTTP Boot client (PXE turned off with OVMF's fw_cfg knobs
#                  opt/org.tianocore/IPv4PXESupport and IPv6PXESupport, so the HTTPv4 boot
#                  option runs): DHCP with option 60 HTTPClient, pxed answers a URL in 67/file,
#                  the firmware downloads snponly.efi over HTTP (application/efi) and runs it ->
#                  iPXE -> boot.ipxe over HTTP -> kernel + initrd over HTTP -> marker.
# Namespace pxd-http-PID, bridge br0 10.95.0.1/24; downloads cached as in the other e2e scripts
# (vm/vm.sh). E2E_HTTP_PATHS picks paths (default "ipxe-http ipxe-tftp uefi-http").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm/vm.sh"
PXED=$BIN/pxed
MAX_SECONDS=${E2E_MAX_SECONDS:-600}
BOOT_SECONDS=${E2E_BOOT_SECONDS:-200}
PATHS=${E2E_HTTP_PATHS:-ipxe-http ipxe-tftp uefi-http}
lib_init e2e-http-boot "$MAX_SECONDS" pxed

NS=pxd-http-$$
SRV=10.95.0.1
BIOS_MAC=52:54:00:95:00:61
UEFI_MAC=52:54:00:95:00:62
IPXE_MARK=PXED-HTTP-IPXE
INIT_MARK=PXED-HTTP-INIT
OVMF=/usr/share/OVMF
wants() { [[ " $PATHS " == *" $1 "* ]]; }

[ "$(id -u)" -eq 0 ] || { fail setup "needs root (network namespaces, tap)"; finish; }
need qemu-system-x86_64 ip timeout busybox gzip tcpdump python3 || finish
for f in /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi $OVMF/OVMF_CODE_4M.fd $OVMF/OVMF_VARS_4M.fd; do
    [ -f "$f" ] || { fail setup "$f missing (scripts/install-deps.sh)"; finish; }
done
vm_kernel amd64 && vm_busybox amd64 || { fail setup "kernel or busybox download"; finish; }

ROOT=$TMP/root
mkdir -p "$ROOT"
cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/snponly.efi "$ROOT/"
cp "$VM_KERNEL" "$ROOT/vmlinuz"
vm_initrd "$VM_BUSYBOX" "$INIT_MARK" "$ROOT/initrd.img" || { fail setup "initrd"; finish; }
# ${next-server} is pxed (siaddr). initrd= for iPXE's EFI build (see e2e-uefi-boot.sh).
cat >"$ROOT/boot.ipxe" <<EOF
#!ipxe
echo $IPXE_MARK script over http: ip \${net0/ip} platform \${platform}
kernel http://\${next-server}/vmlinuz initrd=initrd.img console=ttyS0,115200 panic=-1 || goto failed
initrd http://\${next-server}/initrd.img || goto failed
boot || goto failed
:failed
echo $IPXE_MARK-FAILED
EOF
cat >"$ROOT/boot-tftp.ipxe" <<EOF
#!ipxe
echo $IPXE_MARK script over tftp: ip \${net0/ip} platform \${platform}
kernel tftp://\${next-server}/vmlinuz console=ttyS0,115200 panic=-1 || goto failed
initrd tftp://\${next-server}/initrd.img || goto failed
boot || goto failed
:failed
echo $IPXE_MARK-FAILED
EOF

ns_add "$NS" && vm_bridge "$NS" $SRV/24 || { fail setup "bridge in $NS"; finish; }
spawn "$TMP/ra.out" ip netns exec "$NS" python3 "$VM_DIR/ra.py" br0 "$MAX_SECONDS"

CFG=$TMP/pxed.yaml
write_config() { # IPXE-ENTRY
    cat >"$CFG" <<EOF
log-level: debug
lease-file: $TMP/leases
control-socket: $TMP/control.sock
tftp: {root: $ROOT, port: 69}
http: {port: 80}
interfaces:
  br0:
    address: $SRV
    tftp: true
    http: true
    dhcp: {subnet: 10.95.0.0/24, range: 10.95.0.100-10.95.0.150, router: $SRV}
boot:
  bios: undionly.kpxe
  uefi-x64: snponly.efi
  ipxe: $1
EOF
}
write_config "http://$SRV/boot.ipxe"
check "pxed check accepts the config" "$PXED" check -c "$CFG"
LOG=$TMP/pxed.log
start_pxed "$LOG" "$CFG" "$NS" || { fail setup "pxed did not start: $(tail -3 "$LOG" | tr '\n' '|')"; finish; }
spawn "$TMP/tcpdump.out" ip netns exec "$NS" timeout "$MAX_SECONDS" tcpdump -i br0 -n -U -s 1500 \
    -w "$TMP/dhcp.pcap" 'udp port 67 or udp port 68'
for _ in $(seq 50); do grep -q "listening on" "$TMP/tcpdump.out" && break; sleep 0.1; done

since() { tail -n +"$(($1 + 1))" "$LOG"; }
mac_re() { echo "$1" | sed 's/:/[:-]/g'; }
get_ok() { # LOGPART PATH: a 200 GET of the whole file
    grep -E "^info: GET \"/$2\" .*status=200 bytes=$(stat -c %s "$ROOT/$2") " "$1" | grep -q .
}
secs_of() { grep -oE 'duration=[0-9.]+' <<<"$1" | head -1 | cut -d= -f2; }
FAILURES="$IPXE_MARK-FAILED|Kernel panic|No bootable|Access Denied"
VM_MARKS=("iPXE script=$IPXE_MARK script" "Linux=Linux version" "init=$INIT_MARK")
TIMES=()
bios_boot() { # NAME STOP
    vm_boot "$1" "$BOOT_SECONDS" "$2" "$FAILURES" ip netns exec "$NS" qemu-system-x86_64 -machine pc,accel=tcg -m 256 \
        -nographic -no-reboot -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
        -device e1000,netdev=n0,mac=$BIOS_MAC -boot n -serial "file:$TMP/$1.serial" -monitor none -display none
}

if wants ipxe-http; then
    mark=$(wc -l <"$LOG")
    bios_boot ipxe-http ""
    TIMES+=("ipxe-http (iPXE ROM, script + kernel + initrd over HTTP, to power-off): $BOOT_TIME s")
    part=$TMP/ipxe-http.log
    since "$mark" >"$part"
    serial=$TMP/ipxe-http.serial
    check_why "ipxe-http: iPXE was told boot.ipxe as a URL on pxed" "$(grep -E "ack .*boot=ipxe" "$part" | head -1)" \
        grep -qE "ack .*boot=ipxe client=$(mac_re $BIOS_MAC) file=http://$SRV/boot.ipxe" "$part"
    for f in boot.ipxe vmlinuz initrd.img; do
        check_why "ipxe-http: pxed served $f over HTTP (200, whole file)" "$(grep "GET \"/$f\"" "$part" | tail -1)" get_ok "$part" $f
    done
    check_why "ipxe-http: no kernel over TFTP" "$(grep 'RRQ "vmlinuz"' "$part" | head -1)" eval '! grep -q "RRQ \"vmlinuz\"" "$part"'
    check_why "ipxe-http: the script ran" "$(vm_console "$serial" "$IPXE_MARK" | head -1)" \
        grep -aq "$IPXE_MARK script over http: ip 10.95.0.1" "$serial"
    check_why "ipxe-http: the initrd's /init ran (marker)" "$BOOT_END" grep -aq "$INIT_MARK userspace up" "$serial"
    HTTP_KERNEL=$(secs_of "$(grep 'GET "/vmlinuz"' "$part" | tail -1)")
fi

if wants ipxe-tftp; then
    stop "$PXED_PID"
    write_config boot-tftp.ipxe
    start_pxed "$LOG" "$CFG" "$NS" || { fail ipxe-tftp "pxed did not restart"; finish; }
    mark=$(wc -l <"$LOG")
    bios_boot ipxe-tftp "Linux version"
    TIMES+=("ipxe-tftp (the same over TFTP, to 'Linux version'): $BOOT_TIME s")
    part=$TMP/ipxe-tftp.log
    since "$mark" >"$part"
    check_why "ipxe-tftp: the kernel came over TFTP" "$(grep 'RRQ "vmlinuz"' "$part" | tail -1)" \
        grep -q "RRQ \"vmlinuz\" .*outcome=completed" "$part"
    TFTP_KERNEL=$(secs_of "$(grep 'RRQ "vmlinuz"' "$part" | tail -1)")
    stop "$PXED_PID"
    write_config "http://$SRV/boot.ipxe"
    start_pxed "$LOG" "$CFG" "$NS" || { fail ipxe-tftp "pxed did not restart"; finish; }
fi

if wants uefi-http; then
    mark=$(wc -l <"$LOG")
    cp $OVMF/OVMF_VARS_4M.fd "$TMP/uefi.vars.fd"
    vm_boot uefi-http "$BOOT_SECONDS" "" "$FAILURES" ip netns exec "$NS" qemu-system-x86_64 -machine q35,accel=tcg -m 512 \
        -nographic -no-reboot \
        -drive if=pflash,format=raw,unit=0,readonly=on,file=$OVMF/OVMF_CODE_4M.fd \
        -drive if=pflash,format=raw,unit=1,file="$TMP/uefi.vars.fd" \
        -fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=no \
        -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=no \
        -fw_cfg name=opt/org.tianocore/IPv6Support,string=no \
        -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=$UEFI_MAC,romfile= \
        -boot n -serial "file:$TMP/uefi-http.serial" -monitor none -display none
    TIMES+=("uefi-http (OVMF HTTP Boot -> snponly.efi over HTTP -> iPXE -> kernel over HTTP, to power-off): $BOOT_TIME s")
    part=$TMP/uefi-http.log
    since "$mark" >"$part"
    serial=$TMP/uefi-http.serial
    check_why "uefi-http: the firmware's DHCP said HTTPClient (arch 16) and got a URL" \
        "$(grep -E "ack .*client=$(mac_re $UEFI_MAC)" "$part" | head -1)" \
        grep -qE "ack arch=uefi-x64-http boot=uefi-x64-http client=$(mac_re $UEFI_MAC) file=http://$SRV/snponly.efi" "$part"
    check_why "uefi-http: the firmware downloaded snponly.efi over HTTP" "$(grep 'GET "/snponly.efi"' "$part" | tail -1)" \
        get_ok "$part" snponly.efi
    for f in boot.ipxe vmlinuz initrd.img; do
        check_why "uefi-http: pxed served $f over HTTP" "$(grep "GET \"/$f\"" "$part" | tail -1)" get_ok "$part" $f
    done
    check_why "uefi-http: boot.ipxe ran in iPXE (EFI)" "$(vm_console "$serial" "$IPXE_MARK" | head -1)" \
        grep -aq "$IPXE_MARK script over http: ip 10.95.0.1[0-9]* platform efi" "$serial"
    check_why "uefi-http: the initrd's /init ran (marker)" "$BOOT_END" grep -aq "$INIT_MARK userspace up" "$serial"
    python3 "$VM_DIR/dhcpopts.py" "$TMP/dhcp.pcap" >"$TMP/dhcp.txt" 2>&1
    check_why "uefi-http: on the wire, OFFER with 60 HTTPClient and the URL in file" \
        "$(grep "^server.*mac=$UEFI_MAC" "$TMP/dhcp.txt" | head -1)" \
        grep -qE "^server .* OFFER .*file=http://$SRV/snponly.efi .*opt60=HTTPClient mac=$UEFI_MAC" "$TMP/dhcp.txt"
fi

echo "--- times"
printf '%s\n' "${TIMES[@]}"
[ -n "${HTTP_KERNEL:-}" ] && echo "kernel download ($(stat -c %s "$ROOT/vmlinuz") bytes) by the iPXE ROM: HTTP ${HTTP_KERNEL} s, TFTP ${TFTP_KERNEL:--} s (pxed's log, same VM, same run)"
for p in ipxe-http ipxe-tftp uefi-http; do
    [ -f "$TMP/$p.serial" ] || continue
    echo "--- $p: console"
    vm_console "$TMP/$p.serial" "HTTP|PXE|URI|$IPXE_MARK|$INIT_MARK|Linux version|iPXE 1|http://" | cut -c1-180 | head -14
    echo "--- $p: pxed"
    grep -E "ack|GET|RRQ" "$TMP/$p.log" | cut -c1-220 | head -12
done
finish
