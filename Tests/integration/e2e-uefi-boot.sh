#!/bin/bash
# End to end with UEFI firmware: virtual machines whose own firmware PXE client (not an iPXE ROM)
# boots from pxed, on x86-64 with and without Secure Boot and on ARM64. One pxed, one TFTP root,
# as a site would run it; every byte each machine loads comes from pxed.
#
# Paths (E2E_UEFI_PATHS, default "uefi-pxe secure-boot arm64"):
#   uefi-pxe     OVMF (ovmf: OVMF_CODE_4M.fd + a copy of OVMF_VARS_4M.fd), virtio-net with
#                romfile= so OVMF's own PXE client runs (arch 7) -> snponly.efi (package ipxe) ->
#                iPXE -> boot.ipxe -> Debian kernel + initrd -> the initrd's marker, power-off.
#                MAC 52:54:00:97:00:42, reserved at 10.97.0.42.
#   secure-boot  OVMF_CODE_4M.ms.fd + OVMF_VARS_4M.ms.fd (Microsoft keys enrolled, Secure Boot on)
#                -> shimx64.efi.signed (shim-signed) -> grubx64.efi (grubnetx64.efi.signed from
#                grub-efi-amd64-signed) -> /grub/grub.cfg over TFTP -> Debian's signed kernel,
#                locked down ("secureboot: Secure boot enabled") -> initrd marker.
#                MAC 52:54:00:97:00:43: no reserved address, a host entry names shimx64.efi.
#   arm64        qemu-system-aarch64 -machine virt -cpu cortex-a57 with qemu-efi-aarch64 (AAVMF),
#                arch 11 -> grubnetaa64.efi (Debian's signed GRUB arm64 network image, from
#                grub-efi-arm64-signed:arm64) -> the same grub.cfg -> Debian's arm64 kernel ->
#                an arm64 initrd's marker. MAC 52:54:00:97:00:44.
#   uefi-pxe6    OVMF's IPv6 PXE client (its IPv4 PXE turned off with the fw_cfg knob
#                opt/org.tianocore/IPv4PXESupport=no), radvd's RA with the M flag on the bridge:
#                DHCPv6 from pxed gives the address and the boot file URL (option 59,
#                tftp://[fd00:97::1]/snponly.efi), the firmware fetches it over TFTP/IPv6 and runs
#                it -> iPXE's banner; iPXE then boots on over IPv4 to the initrd's marker.
# Identity (issue 13): before and after the uefi-pxe and secure-boot boots, busybox udhcpc plays
# the machine's operating system: same MAC (a veth on the bridge, down while the VM runs), option
# 61 = a DUID-style identifier (0xff...), as systemd-networkd sends. The reserved machine must get
# 10.97.0.42 from the firmware even though its OS holds the lease under another identifier, and
# the unreserved one must get the address its OS held; afterwards the OS gets that address again.
# One lease row per machine.
# Also checked: UEFI firmware's tsize probe (ERROR 8 after the OACK) is logged as size-probe at
# info, never at notice; what each firmware negotiated is printed for the README.
#
# Cached downloads (E2E_CACHE, default /var/cache/pxed-e2e, see vm/vm.sh): Debian's amd64 and
# arm64 kernels, busybox-static for both, grub-efi-arm64-signed. Nothing is installed on the host.
# Network rule: everything runs in namespaces made here (bridge br0 10.97.0.1/24 with tap0, and
# a second namespace for udhcpc); cleanup runs on any exit; a watchdog bounds the script
# (E2E_MAX_SECONDS, default 720; E2E_BOOT_SECONDS per boot, default 240). KEEP=1 keeps $TMP.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm/vm.sh"
PXED=$BIN/pxed
MAX_SECONDS=${E2E_MAX_SECONDS:-720}
BOOT_SECONDS=${E2E_BOOT_SECONDS:-240}
PATHS=${E2E_UEFI_PATHS:-uefi-pxe secure-boot arm64 uefi-pxe6}
lib_init e2e-uefi-boot "$MAX_SECONDS" pxed

NS=pxd-uefi-$$
OSNS=pxd-ueos-$$
SRV=10.97.0.1
RESERVED_MAC=52:54:00:97:00:42
RESERVED_IP=10.97.0.42
SB_MAC=52:54:00:97:00:43
ARM_MAC=52:54:00:97:00:44
V6_MAC=52:54:00:97:00:46
SRV6=fd00:97::1
IPXE_MARK=PXED-UEFI-IPXE
GRUB_MARK=PXED-UEFI-GRUB
INIT_MARK=PXED-UEFI-INIT
OVMF=/usr/share/OVMF
AAVMF=/usr/share/AAVMF
wants() { [[ " $PATHS " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------
# Prerequisites

[ "$(id -u)" -eq 0 ] || { fail setup "needs root (network namespaces, tap)"; finish; }
need qemu-system-x86_64 ip timeout apt-get apt-cache dpkg-deb busybox gzip tcpdump python3 || finish
wants arm64 && { need qemu-system-aarch64 || finish; }
for f in /usr/lib/ipxe/snponly.efi /usr/lib/shim/shimx64.efi.signed \
    /usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed $OVMF/OVMF_CODE_4M.fd $OVMF/OVMF_VARS_4M.fd \
    $OVMF/OVMF_CODE_4M.ms.fd $OVMF/OVMF_VARS_4M.ms.fd; do
    [ -f "$f" ] || { fail setup "$f missing (scripts/install-deps.sh installs ipxe, ovmf, shim-signed, grub-efi-amd64-signed)"; finish; }
done
if wants arm64; then
    for f in $AAVMF/AAVMF_CODE.fd $AAVMF/AAVMF_VARS.fd; do
        [ -f "$f" ] || { fail setup "$f missing (package qemu-efi-aarch64)"; finish; }
    done
fi
[ -c /dev/net/tun ] || { fail setup "/dev/net/tun missing"; finish; }

t0=$(date +%s)
vm_kernel amd64 || { fail setup "amd64 kernel"; finish; }
KERNEL_AMD64=$VM_KERNEL
vm_busybox amd64 || { fail setup "busybox-static amd64"; finish; }
BUSYBOX_AMD64=$VM_BUSYBOX
if wants arm64; then
    vm_kernel arm64 || { fail setup "arm64 kernel"; finish; }
    KERNEL_ARM64=$VM_KERNEL
    vm_busybox arm64 || { fail setup "busybox-static arm64"; finish; }
    BUSYBOX_ARM64=$VM_BUSYBOX
    GRUB_ARM64=$VM_CACHE/grubnetaa64.efi.signed
    vm_fetch grub-efi-arm64-signed './usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed' "$GRUB_ARM64" arm64 ||
        { fail setup "grub-efi-arm64-signed"; finish; }
fi
echo "downloads (cache check) $(( $(date +%s) - t0 )) s: $(basename "$KERNEL_AMD64")${KERNEL_ARM64:+, $(basename "$KERNEL_ARM64")}"

# ---------------------------------------------------------------------------------------------
# TFTP root: what a site serving these three machine kinds holds.

ROOT=$TMP/tftp
mkdir -p "$ROOT/grub"
cp /usr/lib/ipxe/snponly.efi "$ROOT/"
cp /usr/lib/shim/shimx64.efi.signed "$ROOT/shimx64.efi"
cp /usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed "$ROOT/grubx64.efi"   # shim loads grubx64.efi beside itself
cp "$KERNEL_AMD64" "$ROOT/vmlinuz"
vm_initrd "$BUSYBOX_AMD64" "$INIT_MARK" "$ROOT/initrd.img" || { fail setup "amd64 initrd"; finish; }
if wants arm64; then
    cp "$GRUB_ARM64" "$ROOT/grubnetaa64.efi"
    cp "$KERNEL_ARM64" "$ROOT/vmlinuz-arm64"
    vm_initrd "$BUSYBOX_ARM64" "$INIT_MARK" "$ROOT/initrd-arm64.img" || { fail setup "arm64 initrd"; finish; }
fi
# iPXE's EFI build (Debian's is from 2022) hands the initrd to the kernel's EFI stub by name:
# the command line must say initrd=<name>.
cat >"$ROOT/boot.ipxe" <<EOF
#!ipxe
echo $IPXE_MARK script running: ip \${net0/ip} platform \${platform} arch \${buildarch}
kernel tftp://\${next-server}/vmlinuz initrd=initrd.img console=ttyS0,115200 panic=-1 || goto failed
initrd tftp://\${next-server}/initrd.img || goto failed
boot || goto failed
:failed
echo $IPXE_MARK-FAILED
EOF
# One grub.cfg for both GRUB builds (Debian's network images look for /grub/grub.cfg).
cat >"$ROOT/grub/grub.cfg" <<EOF
set timeout=0
echo "$GRUB_MARK grub.cfg running: cpu \$grub_cpu ip \$net_default_ip"
if [ "\$grub_cpu" = "arm64" ]; then
  linux /vmlinuz-arm64 console=ttyAMA0 panic=-1
  initrd /initrd-arm64.img
else
  linux /vmlinuz console=ttyS0,115200 panic=-1
  initrd /initrd.img
fi
boot
EOF

# ---------------------------------------------------------------------------------------------
# Namespaces: the server's bridge with the VM's tap, and the "operating system" namespace whose
# veth (os0) is a second port on the bridge.

ns_add "$NS" && vm_bridge "$NS" $SRV/24 || { fail setup "bridge/tap in $NS"; finish; }
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.br0.accept_dad=0 >/dev/null
ip -n "$NS" -6 addr add $SRV6/64 dev br0 nodad || { fail setup "IPv6 address on br0"; finish; }
if wants uefi-pxe6; then
    need radvd || finish
    cat >"$TMP/radvd.conf" <<EOF
interface br0 {
    AdvSendAdvert on;
    AdvManagedFlag on;
    AdvOtherConfigFlag on;
    MinRtrAdvInterval 3;
    MaxRtrAdvInterval 4;
    prefix fd00:97::/64 { AdvAutonomous off; AdvOnLink on; };
};
EOF
    spawn "$TMP/radvd.out" ip netns exec "$NS" radvd -n -C "$TMP/radvd.conf" -p "$TMP/radvd.pid" -m stderr
fi
ns_add "$OSNS" && ns_etc "$OSNS" && vm_port "$NS" os0 "$OSNS" || { fail setup "os namespace"; finish; }
ip -n "$OSNS" link set os0 down

CFG=$TMP/pxed.yaml
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
    dhcp:
      subnet: 10.97.0.0/24
      range: 10.97.0.100-10.97.0.150
      router: $SRV
      lease-time: 3600
      pxe-only: false
    dhcp6:
      prefix: fd00:97::/64
      range: fd00:97::100-fd00:97::1ff
boot:
  bios: undionly.kpxe
  uefi-x64: snponly.efi
  uefi-arm64: grubnetaa64.efi
  ipxe: boot.ipxe
  default: undionly.kpxe
hosts:
  - mac: $RESERVED_MAC
    ip: $RESERVED_IP
    hostname: uefi-reserved
  - mac: $SB_MAC
    boot: shimx64.efi
EOF
check "pxed check accepts the config" "$PXED" check -c "$CFG"
LOG=$TMP/pxed.log
start_pxed "$LOG" "$CFG" "$NS" || { fail setup "pxed did not start: $(tail -3 "$LOG" | tr '\n' '|')"; finish; }
spawn "$TMP/ra.out" ip netns exec "$NS" python3 "$VM_DIR/ra.py" br0 "$MAX_SECONDS"
spawn "$TMP/tcpdump.out" ip netns exec "$NS" timeout "$MAX_SECONDS" tcpdump -i br0 -n -U -s 1500 \
    -w "$TMP/dhcp.pcap" 'udp port 67 or udp port 68'
for _ in $(seq 50); do grep -q "listening on" "$TMP/tcpdump.out" && break; sleep 0.1; done

# ---------------------------------------------------------------------------------------------
# Helpers

# os_dhcp MAC: udhcpc on os0 with MAC and a DUID-style client identifier; prints the address
# it was given ("" if none). The port goes down again afterwards (no RELEASE: an OS that is
# switched off keeps its lease).
cat >"$TMP/udhcpc.sh" <<'EOF'
#!/bin/sh
[ "$1" = bound ] && echo "bound ip=$ip"
exit 0
EOF
chmod +x "$TMP/udhcpc.sh"
os_dhcp() {
    local mac=$1 duid
    duid=ff000000010001000130f4a2b1$(echo "$mac" | tr -d :)
    ip -n "$OSNS" link set os0 address "$mac" && ip -n "$OSNS" link set os0 up
    ip netns exec "$OSNS" timeout 30 busybox udhcpc -f -q -n -t 6 -T 2 -i os0 -s "$TMP/udhcpc.sh" \
        -x "0x3d:$duid" 2>/dev/null | sed -n 's/^bound ip=//p' | tail -1
    ip -n "$OSNS" link set os0 down
}

# since LINE: pxed's log after line LINE (a boot's own lines).
since() { tail -n +"$(($1 + 1))" "$LOG"; }
mac_re() { echo "$1" | sed 's/:/[:-]/g'; }
rrq() { grep -E "RRQ \"/?$2\"" "$1" | grep -v "outcome=size-probe" | tail -1; }
rrq_ok() { # LOGPART FILE: a completed RRQ with the whole file's bytes
    local l
    l=$(rrq "$1" "$2")
    [ -n "$l" ] && echo "$l" | grep -q "bytes=$(stat -c %s "$ROOT/$2") " && echo "$l" | grep -q "outcome=completed"
}
# acks_only LOGPART MAC IP: MAC was acked, and every ack for it named IP.
acks_only() {
    local acks
    acks=$(grep -E "info: ack .*client=$(mac_re "$2")" "$1")
    [ -n "$acks" ] && ! echo "$acks" | grep -vqE "ip=$3( |\$)"
}
lease_rows() { "$PXED" leases -c "$CFG" 2>&1 | grep -ci "$1"; }

ovmf_cmd() { # NAME CODE VARS MAC: QEMU for OVMF with its own PXE client on virtio-net
    cp "$3" "$TMP/$1.vars.fd"
    echo ip netns exec "$NS" qemu-system-x86_64 -machine q35,accel=tcg -m 512 -nographic -no-reboot \
        -drive if=pflash,format=raw,unit=0,readonly=on,file="$2" \
        -drive if=pflash,format=raw,unit=1,file="$TMP/$1.vars.fd" \
        -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
        -device virtio-net-pci,netdev=n0,mac="$4",romfile= \
        -boot n -serial file:"$TMP/$1.serial" -monitor none -display none
}

FAILURES="$IPXE_MARK-FAILED|Kernel panic|PXE-E|Access Denied|Security Violation|No bootable|error: "
TIMES=()
NEGOTIATED=()

# negotiated NAME LOGPART FILE: what the client asked for FILE (for the README's table).
negotiated() {
    local l probe=""
    l=$(rrq "$2" "$3")
    grep -qE "RRQ \"/?$3\".*size-probe" "$2" && probe=", after a tsize probe"
    NEGOTIATED+=("$1 $3: $(echo "$l" | grep -oE 'blksize=[0-9]+ windowsize=[0-9]+')$probe")
}

# ---------------------------------------------------------------------------------------------
# uefi-pxe

if wants uefi-pxe; then
    before_ip=$(os_dhcp $RESERVED_MAC)
    check_why "uefi-pxe: the OS (udhcpc, client id 0xff...) got the reservation first" "got '$before_ip'" \
        [ "$before_ip" = $RESERVED_IP ]
    mark=$(wc -l <"$LOG")
    VM_MARKS=("iPXE script=$IPXE_MARK script running" "Linux=Linux version" "init=$INIT_MARK")
    # shellcheck disable=SC2046
    vm_boot uefi-pxe "$BOOT_SECONDS" "" "$FAILURES" $(ovmf_cmd uefi-pxe $OVMF/OVMF_CODE_4M.fd $OVMF/OVMF_VARS_4M.fd $RESERVED_MAC)
    TIMES+=("uefi-pxe (OVMF PXE -> snponly.efi -> iPXE -> kernel -> initrd, power-off): $BOOT_TIME s (iPXE script ${VM_AT[iPXE script]:--} s, Linux ${VM_AT[Linux]:--} s, init ${VM_AT[init]:--} s)")
    part=$TMP/uefi-pxe.log
    since "$mark" >"$part"
    serial=$TMP/uefi-pxe.serial
    check_why "uefi-pxe: OVMF's PXE client (arch uefi-x64) was given snponly.efi at $RESERVED_IP" \
        "$(grep -E "ack .*client=$(mac_re $RESERVED_MAC)" "$part" | head -1)" \
        grep -qE "ack arch=uefi-x64 boot=uefi-x64 client=$(mac_re $RESERVED_MAC) file=snponly.efi ip=$RESERVED_IP" "$part"
    check_why "uefi-pxe: the firmware's tsize probe is logged as size-probe at info" \
        "$(grep -E 'RRQ "snponly.efi"' "$part" | head -1)" \
        grep -qE '^info: RRQ "snponly.efi" .*bytes=0 .*outcome=size-probe\(.*ERROR 8' "$part"
    check_why "uefi-pxe: pxed served snponly.efi (blksize 1468, windowsize 4)" "$(rrq "$part" snponly.efi)" \
        eval 'rrq_ok "$part" snponly.efi && rrq "$part" snponly.efi | grep -q "blksize=1468 windowsize=4"'
    check_why "uefi-pxe: iPXE then asked again and was given boot.ipxe at $RESERVED_IP" \
        "$(grep -E "ack .*boot=ipxe" "$part" | head -1)" \
        grep -qE "ack .*boot=ipxe client=$(mac_re $RESERVED_MAC) file=boot.ipxe ip=$RESERVED_IP" "$part"
    check_why "uefi-pxe: boot.ipxe ran in iPXE's EFI build with ip $RESERVED_IP" \
        "$(vm_console "$serial" "$IPXE_MARK" | head -1)" \
        grep -aq "$IPXE_MARK script running: ip $RESERVED_IP platform efi arch x86_64" "$serial"
    for f in boot.ipxe vmlinuz initrd.img; do
        check_why "uefi-pxe: pxed served $f" "$(rrq "$part" $f)" rrq_ok "$part" $f
    done
    check_why "uefi-pxe: the kernel printed 'Linux version'" "not on the console" grep -aq "Linux version" "$serial"
    check_why "uefi-pxe: the initrd's /init ran (marker)" "$BOOT_END" grep -aq "$INIT_MARK userspace up" "$serial"
    check_why "uefi-pxe: the VM powered itself off" "$BOOT_END" [ "${BOOT_END#qemu exited (status 0)}" != "$BOOT_END" ]
    check_why "uefi-pxe: no TFTP line at notice (nothing that looks like a failure)" \
        "$(grep -E '^notice: (RRQ|WRQ)' "$part" | head -1)" eval '! grep -qE "^notice: (RRQ|WRQ)" "$part"'
    check_why "uefi-pxe: every ack for the reserved MAC named $RESERVED_IP (one address per boot)" \
        "$(grep -E "ack .*client=$(mac_re $RESERVED_MAC)" "$part" | grep -oE 'ip=[0-9.]+' | tr '\n' ' ')" \
        acks_only "$part" $RESERVED_MAC $RESERVED_IP
    after_ip=$(os_dhcp $RESERVED_MAC)
    check_why "uefi-pxe: the OS (udhcpc) got $RESERVED_IP again after the firmware" "got '$after_ip'" \
        [ "$after_ip" = $RESERVED_IP ]
    check_why "uefi-pxe: one lease row for $RESERVED_MAC" "$(lease_rows $RESERVED_MAC) rows" [ "$(lease_rows $RESERVED_MAC)" -eq 1 ]
    negotiated "OVMF PXE" "$part" snponly.efi
    negotiated "iPXE (EFI)" "$part" vmlinuz
fi

# ---------------------------------------------------------------------------------------------
# secure-boot

if wants secure-boot; then
    os_ip=$(os_dhcp $SB_MAC)
    check_why "secure-boot: the OS (udhcpc, client id 0xff...) got a pool address first" "got '$os_ip'" \
        eval '[[ "$os_ip" =~ ^10\.97\.0\.1[0-5][0-9]$ ]]'
    mark=$(wc -l <"$LOG")
    VM_MARKS=("GRUB=$GRUB_MARK" "Linux=Linux version" "init=$INIT_MARK")
    # shellcheck disable=SC2046
    vm_boot secure-boot "$BOOT_SECONDS" "" "$FAILURES" $(ovmf_cmd secure-boot $OVMF/OVMF_CODE_4M.ms.fd $OVMF/OVMF_VARS_4M.ms.fd $SB_MAC)
    TIMES+=("secure-boot (OVMF SB -> shim -> GRUB -> signed kernel -> initrd, power-off): $BOOT_TIME s (grub.cfg ${VM_AT[GRUB]:--} s, Linux ${VM_AT[Linux]:--} s, init ${VM_AT[init]:--} s)")
    part=$TMP/secure-boot.log
    since "$mark" >"$part"
    serial=$TMP/secure-boot.serial
    check_why "secure-boot: the firmware got the address its OS held ($os_ip), file shimx64.efi (host entry)" \
        "$(grep -E "ack .*client=$(mac_re $SB_MAC)" "$part" | head -1)" \
        grep -qE "ack arch=uefi-x64 boot=host client=$(mac_re $SB_MAC) file=shimx64.efi ip=$os_ip\$" "$part"
    check_why "secure-boot: shim's tsize probe is logged as size-probe at info" \
        "$(grep -E 'RRQ "shimx64.efi"' "$part" | head -1)" \
        grep -qE '^info: RRQ "shimx64.efi" .*outcome=size-probe' "$part"
    for f in shimx64.efi grubx64.efi grub/grub.cfg vmlinuz initrd.img; do
        check_why "secure-boot: pxed served $f" "$(rrq "$part" $f)" rrq_ok "$part" $f
    done
    check_why "secure-boot: shim asked for its optional files (revocations, certificate), refused at info" \
        "$(grep -E 'revocations|shim_certificate' "$part" | head -3 | tr '\n' '|')" \
        eval 'grep -q "^info: refused RRQ \"revocations_sbat.efi\"" "$part" && grep -q "^info: refused RRQ \"shim_certificate_0.efi\"" "$part"'
    check_why "secure-boot: grub.cfg ran (marker) at ip $os_ip" "$(vm_console "$serial" "$GRUB_MARK" | head -1)" \
        grep -aq "$GRUB_MARK grub.cfg running: cpu x86_64 ip $os_ip" "$serial"
    check_why "secure-boot: the EFI stub and the kernel say Secure Boot is on" \
        "$(vm_console "$serial" "[Ss]ecure [Bb]oot" | head -3 | tr '\n' '|')" \
        eval 'grep -aq "secureboot: Secure boot enabled" "$serial" && grep -aq "Kernel is locked down from EFI Secure Boot" "$serial"'
    check_why "secure-boot: the initrd's /init ran (marker)" "$BOOT_END" grep -aq "$INIT_MARK userspace up" "$serial"
    check_why "secure-boot: no TFTP line at notice" "$(grep -E '^notice: (RRQ|WRQ)' "$part" | head -1)" \
        eval '! grep -qE "^notice: (RRQ|WRQ)" "$part"'
    after_ip=$(os_dhcp $SB_MAC)
    check_why "secure-boot: the OS got $os_ip again after the firmware" "got '$after_ip'" [ "$after_ip" = "$os_ip" ]
    check_why "secure-boot: one lease row for $SB_MAC" "$(lease_rows $SB_MAC) rows" [ "$(lease_rows $SB_MAC)" -eq 1 ]
    negotiated "OVMF PXE (Secure Boot)" "$part" shimx64.efi
    negotiated "shim" "$part" grubx64.efi
    negotiated "GRUB (x86_64)" "$part" vmlinuz
fi

# ---------------------------------------------------------------------------------------------
# arm64

if wants arm64; then
    mark=$(wc -l <"$LOG")
    cp $AAVMF/AAVMF_VARS.fd "$TMP/arm64.vars.fd"
    VM_MARKS=("GRUB=$GRUB_MARK" "Linux=Linux version" "init=$INIT_MARK")
    vm_boot arm64 "$BOOT_SECONDS" "" "$FAILURES" ip netns exec "$NS" qemu-system-aarch64 -machine virt -cpu cortex-a57 \
        -m 512 -nographic -no-reboot \
        -drive if=pflash,format=raw,unit=0,readonly=on,file=$AAVMF/AAVMF_CODE.fd \
        -drive if=pflash,format=raw,unit=1,file="$TMP/arm64.vars.fd" \
        -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=$ARM_MAC,romfile= \
        -serial file:"$TMP/arm64.serial" -monitor none -display none
    TIMES+=("arm64 (AAVMF PXE -> GRUB arm64 -> kernel -> initrd, power-off; TCG emulation): $BOOT_TIME s (grub.cfg ${VM_AT[GRUB]:--} s, Linux ${VM_AT[Linux]:--} s, init ${VM_AT[init]:--} s)")
    part=$TMP/arm64.log
    since "$mark" >"$part"
    serial=$TMP/arm64.serial
    check_why "arm64: the firmware (arch 11) was given grubnetaa64.efi" \
        "$(grep -E "ack .*client=$(mac_re $ARM_MAC)" "$part" | head -1)" \
        grep -qE "ack arch=uefi-arm64 boot=uefi-arm64 client=$(mac_re $ARM_MAC) file=grubnetaa64.efi ip=10\.97\.0\." "$part"
    for f in grubnetaa64.efi grub/grub.cfg vmlinuz-arm64 initrd-arm64.img; do
        check_why "arm64: pxed served $f" "$(rrq "$part" $f)" rrq_ok "$part" $f
    done
    check_why "arm64: grub.cfg ran in GRUB arm64 (marker)" "$(vm_console "$serial" "$GRUB_MARK" | head -1)" \
        grep -aq "$GRUB_MARK grub.cfg running: cpu arm64" "$serial"
    check_why "arm64: the arm64 kernel printed 'Linux version ...-arm64'" "not on the console" \
        grep -aqE "Linux version [^ ]+-arm64" "$serial"
    check_why "arm64: the initrd's /init ran (marker)" "$BOOT_END" grep -aqE "$INIT_MARK userspace up: kernel [^ ]*-arm64" "$serial"
    negotiated "AAVMF PXE (arm64)" "$part" grubnetaa64.efi
    negotiated "GRUB (arm64)" "$part" vmlinuz-arm64
fi

# ---------------------------------------------------------------------------------------------
# uefi-pxe6

if wants uefi-pxe6; then
    mark=$(wc -l <"$LOG")
    VM_MARKS=("iPXE=iPXE initialising devices" "iPXE script=$IPXE_MARK script running" "init=$INIT_MARK")
    # shellcheck disable=SC2046
    vm_boot uefi-pxe6 "$BOOT_SECONDS" "" "$FAILURES" $(ovmf_cmd uefi-pxe6 $OVMF/OVMF_CODE_4M.fd $OVMF/OVMF_VARS_4M.fd $V6_MAC) \
        -fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=no
    TIMES+=("uefi-pxe6 (OVMF IPv6 PXE -> DHCPv6 boot URL -> snponly.efi over TFTP/IPv6 -> iPXE, on to the initrd over IPv4): $BOOT_TIME s (iPXE banner ${VM_AT[iPXE]:--} s, init ${VM_AT[init]:--} s)")
    part=$TMP/uefi-pxe6.log
    since "$mark" >"$part"
    serial=$TMP/uefi-pxe6.serial
    check_why "uefi-pxe6: the firmware started PXE over IPv6" "$(vm_console "$serial" "PXE over IPv6" | head -1)" \
        grep -aq "Start PXE over IPv6" "$serial"
    check_why "uefi-pxe6: pxed's DHCPv6 replied with an address and the boot file URL" \
        "$(grep -E "dhcp6 reply" "$part" | head -1)" \
        grep -qE "dhcp6 reply to request .*ip6=fd00:97::1[0-9a-f]+ .*url=tftp://\[$SRV6\]/snponly.efi" "$part"
    check_why "uefi-pxe6: snponly.efi went over TFTP/IPv6 (client [fd00:97::...])" "$(grep 'RRQ "snponly.efi"' "$part" | tail -1)" \
        grep -qE "RRQ \"snponly.efi\" client=\[fd00:97::1[0-9a-f]+\]:[0-9]+ bytes=$(stat -c %s "$ROOT/snponly.efi") .*outcome=completed" "$part"
    check_why "uefi-pxe6: the loaded image (iPXE) printed its banner" "not on the console" grep -aq "iPXE initialising devices" "$serial"
    check_why "uefi-pxe6: and went on to the initrd's marker" "$BOOT_END" grep -aq "$INIT_MARK userspace up" "$serial"
    negotiated "OVMF PXE over IPv6" "$part" snponly.efi
fi

# ---------------------------------------------------------------------------------------------
# The DHCP packets: which firmware sent what.

python3 "$VM_DIR/dhcpopts.py" "$TMP/dhcp.pcap" >"$TMP/dhcp.txt" 2>&1
if wants uefi-pxe; then
    check_why "uefi-pxe: OVMF's DISCOVER says PXEClient:Arch:00007, option 93 = 7, no user class, no option 61" \
        "$(grep "^client.*DISCOVER.*mac=$RESERVED_MAC" "$TMP/dhcp.txt" | head -1)" \
        grep -qE "^client .* DISCOVER opt60=PXEClient:Arch:00007:UNDI:[0-9]+ opt77=- opt93=7 opt175=- mac=$RESERVED_MAC opt61=-" "$TMP/dhcp.txt"
    check_why "uefi-pxe: then iPXE's DISCOVER (user class iPXE, option 61 = 01+MAC)" \
        "$(grep "^client.*DISCOVER.*opt77=iPXE.*mac=$RESERVED_MAC" "$TMP/dhcp.txt" | head -1)" \
        grep -qE "^client .* DISCOVER .*opt77=iPXE .*mac=$RESERVED_MAC opt61=01$(echo $RESERVED_MAC | tr -d :)" "$TMP/dhcp.txt"
fi
if wants arm64; then
    check_why "arm64: AAVMF's DISCOVER says option 93 = 11" "$(grep "^client.*mac=$ARM_MAC" "$TMP/dhcp.txt" | head -1)" \
        grep -qE "^client .* DISCOVER opt60=PXEClient:Arch:00011:.* opt93=11 .*mac=$ARM_MAC" "$TMP/dhcp.txt"
fi

# ---------------------------------------------------------------------------------------------
# Evidence

echo "--- times"
printf '%s\n' "${TIMES[@]}"
echo "--- what each client negotiated over TFTP"
printf '%s\n' "${NEGOTIATED[@]}"
for p in $PATHS; do
    [ -f "$TMP/$p.serial" ] || continue
    echo "--- $p: console"
    vm_console "$TMP/$p.serial" "IPv6|Station|NBP|PXE|$IPXE_MARK|$GRUB_MARK|$INIT_MARK|Linux version|[Ss]ecure [Bb]oot|locked down|Welcome to GRUB|Fetching" |
        cut -c1-180 | head -16
    echo "--- $p: pxed"
    grep -E "ack|RRQ|dhcp6 reply" "$TMP/$p.log" | cut -c1-230 | head -20
done
echo "--- DHCP packets (tcpdump on br0)"
cut -c1-220 "$TMP/dhcp.txt"
echo "--- pxed leases"
"$PXED" leases -c "$CFG" 2>&1
finish
