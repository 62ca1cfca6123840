#!/bin/bash
# End to end: a virtual machine's real PXE firmware boots a real Linux kernel from pxed.
#
# QEMU (software emulation, TCG) with an e1000 NIC whose option ROM is iPXE (package ipxe-qemu)
# boots from the network through a tap device on a bridge inside a network namespace made here.
# pxed, in the same namespace, is the only DHCP and TFTP server on that bridge. Chain, every byte
# served by pxed:
#   iPXE ROM  --DHCP (user class "iPXE", option 175)-->  pxed answers file=boot.ipxe (boot.ipxe)
#   iPXE ROM  --TFTP boot.ipxe-->  script: echo a marker, kernel + initrd over TFTP, boot
#   Linux (Debian's linux-image-amd64, console=ttyS0)  --> "Linux version ..." on the serial log
#   /init of a tiny initrd built here (static busybox)  --> a marker, then power off (QEMU exits)
#
# Boots (all with the same MAC 52:54:00:98:00:42, reserved to 10.98.0.42):
#   1. default TFTP (options negotiated): full boot to the initrd's marker and power-off
#   2. pxed restarted on the same lease file: the same VM boots again and gets the same address
#   3. tftp.rfc1350: true (no TFTP options at all: blksize=512 windowsize=1); stops once the
#      kernel prints "Linux version" (to keep CI time down)
# Boot 1 is also captured with tcpdump (DHCP and TFTP requests only) and decoded: the ROM's
# DISCOVER/REQUEST carry user class "iPXE" (raw, option 77) and option 175, pxed's OFFER/ACK name
# boot.ipxe. boot.bios and boot.default are undionly.kpxe, so a misclassified ROM would show.
# An IPv6 router advertisement is sent on br0 during the boots (vm/ra.py): it only cuts
# iPXE's 15 s IPv6 autoconfiguration wait (E2E_RA=0 to see the boots without it).
# Checks: one PASS/FAIL line each, then "N passed, M failed"; exit 1 if any failed. At the end the
# boot times, boot 1's serial log lines, pxed log lines and DHCP packets are printed as evidence.
#
# Network rule: everything happens in namespace pxd-e2e-PID (bridge br0 10.98.0.1/24 + tap0);
# nothing touches the host's interfaces. Cleanup (QEMU, pxed, namespace with its bridge and tap,
# temp dir) runs on any exit; a watchdog bounds the whole script (E2E_MAX_SECONDS, default 480).
#
# The kernel (linux-image-amd64's dependency) and busybox-static are fetched once with
# `apt-get download` into $E2E_CACHE (default /var/cache/pxed-e2e) and only their needed files
# are kept there (vmlinuz, busybox); nothing is installed and nothing is added to the repository.
# The VM plumbing (cache, initrd, bridge, boot loop, packet decoder) is vm/vm.sh, shared with
# e2e-uefi-boot.sh.
#
# Environment: BIN (pxed binary directory, default $REPO/.build/debug), REPO (repository root),
# E2E_CACHE, E2E_MAX_SECONDS, E2E_BOOT_SECONDS (per boot, default 180), KEEP=1 keeps the temp dir.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vm/vm.sh"
PXED=$BIN/pxed
MAX_SECONDS=${E2E_MAX_SECONDS:-480}
BOOT_SECONDS=${E2E_BOOT_SECONDS:-180}
lib_init e2e-pxe-boot "$MAX_SECONDS" pxed

NS=pxd-e2e-$$
SRV=10.98.0.1
MAC=52:54:00:98:00:42
VMIP=10.98.0.42
IPXE_MARK=PXED-E2E-IPXE
INIT_MARK=PXED-E2E-INIT

# ---------------------------------------------------------------------------------------------
# Prerequisites

[ "$(id -u)" -eq 0 ] || { fail setup "needs root (network namespaces, tap)"; finish; }
need qemu-system-x86_64 ip timeout apt-get apt-cache dpkg-deb busybox gzip tcpdump python3 || finish
[ -f /usr/lib/ipxe/undionly.kpxe ] || { fail setup "/usr/lib/ipxe/undionly.kpxe missing (package ipxe)"; finish; }
[ -c /dev/net/tun ] || { fail setup "/dev/net/tun missing"; finish; }

t0=$(date +%s)
vm_kernel amd64 || { fail setup "kernel"; finish; }
vm_busybox amd64 || { fail setup "busybox-static"; finish; }
echo "kernel: $(basename "$VM_KERNEL") ($(stat -c %s "$VM_KERNEL") bytes), fetch/cache check $(( $(date +%s) - t0 )) s"

# ---------------------------------------------------------------------------------------------
# TFTP root: undionly.kpxe (boot.bios), boot.ipxe (boot.ipxe), vmlinuz, initrd.img

ROOT=$TMP/tftp
mkdir -p "$ROOT"
cp /usr/lib/ipxe/undionly.kpxe "$ROOT/"
cp "$VM_KERNEL" "$ROOT/vmlinuz"

# The iPXE script. ${next-server} is siaddr from pxed's reply; ${net0/ip} the address it gave.
# Keep echo lines under 80 columns: SeaBIOS's serial console mirror drops the rest of a line.
cat > "$ROOT/boot.ipxe" <<'EOF'
#!ipxe
echo PXED-E2E-IPXE script running: ip ${net0/ip} mac ${net0/mac}
echo PXED-E2E-IPXE next-server ${next-server} filename ${filename}
kernel tftp://${next-server}/vmlinuz console=ttyS0,115200 panic=-1 || goto failed
initrd tftp://${next-server}/initrd.img || goto failed
echo PXED-E2E-IPXE kernel and initrd loaded, booting
boot || goto failed
:failed
echo PXED-E2E-IPXE-FAILED
EOF

vm_initrd "$VM_BUSYBOX" "$INIT_MARK" "$ROOT/initrd.img" || { fail setup "building the initrd"; finish; }
echo "initrd.img: $(stat -c %s "$ROOT/initrd.img") bytes; vmlinuz: $(stat -c %s "$ROOT/vmlinuz") bytes"

# ---------------------------------------------------------------------------------------------
# Namespace: bridge br0 (server address) with tap0 enslaved; QEMU opens tap0 from inside.

# An IPv6 router advertisement on br0 (vm/ra.py) cuts iPXE's 15 s wait for IPv6 autoconfiguration.
ns_add "$NS" && vm_bridge "$NS" $SRV/24 || { fail setup "bridge/tap in $NS"; finish; }
if [ "${E2E_RA:-1}" != 0 ]; then
  spawn "$TMP/ra.out" ip netns exec "$NS" python3 "$VM_DIR/ra.py" br0 "$MAX_SECONDS"
fi

# ---------------------------------------------------------------------------------------------
# pxed

CFG=$TMP/pxed.yaml
LEASES=$TMP/leases
write_config() { # RFC1350(true|false)
  cat > "$CFG" <<EOF
log-level: debug
lease-file: $LEASES
control-socket: $TMP/control.sock
tftp:
  root: $ROOT
  port: 69
  rfc1350: $1
interfaces:
  br0:
    address: $SRV
    tftp: true
    bootp: false
    dhcp:
      subnet: 10.98.0.0/24
      range: 10.98.0.100-10.98.0.150
      router: $SRV
      lease-time: 600
      pxe-only: false
boot:
  bios: undionly.kpxe
  ipxe: boot.ipxe
  default: undionly.kpxe
hosts:
  - mac: $MAC
    ip: $VMIP
    hostname: e2e-vm
EOF
}

# start LOGFILE: pxed in the namespace, logging to LOGFILE.
start() {
  start_pxed "$1" "$CFG" "$NS" && return 0
  echo "pxed did not start:"; tail -5 "$1"
  return 1
}

# ---------------------------------------------------------------------------------------------
# One boot

# boot_vm NAME STOP-REGEX: boots the VM (console log $TMP/NAME.serial) until QEMU exits by itself,
# STOP-REGEX shows up on the console (then QEMU is stopped), a failure shows up, or BOOT_SECONDS
# pass. Sets BOOT_TIME, BOOT_END and VM_AT[iPXE|Linux|init].
VM_MARKS=("iPXE=$IPXE_MARK script running" "Linux=Linux version" "init=$INIT_MARK")
boot_vm() {
  vm_boot "$1" "$BOOT_SECONDS" "$2" "$IPXE_MARK-FAILED|No bootable device|Kernel panic" \
    ip netns exec "$NS" qemu-system-x86_64 -machine pc,accel=tcg -m 256 -nographic -no-reboot \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device e1000,netdev=n0,mac=$MAC \
    -boot n -serial "file:$TMP/$1.serial" -monitor none -display none
}

# Log checks. pxed log lines: "ack client=MAC ip=IP" (DHCP), "RRQ \"FILE\" client=... bytes=N ...
# blksize=B windowsize=W ... outcome=..." (TFTP).
mac_re=$(echo "$MAC" | sed 's/:/[:-]/g')
log_has() { grep -Eq -- "$2" "$1"; }
rrq_line() { grep -E "RRQ \"$2\"" "$1" | tail -1; }
rrq_ok() { # LOG FILE: a completed RRQ of FILE with the whole file's bytes
  local l size
  l=$(rrq_line "$1" "$2"); size=$(stat -c %s "$ROOT/$2")
  [ -n "$l" ] && echo "$l" | grep -q "bytes=$size " && echo "$l" | grep -Eq "outcome=(ok|complete|done)"
}
lease_shows() { "$PXED" leases -c "$CFG" 2>&1 | grep -i "$MAC" | grep -q "$VMIP"; }

check_boot() { # NAME LOG FULL(yes|no)
  local name=$1 log=$2 full=$3 serial=$TMP/$1.serial
  check_why "$name: DHCP offer and ack for $MAC with $VMIP" "$(grep -Ei "$mac_re" "$log" | grep -Ei 'offer|ack' | tail -2 | tr '\n' ' ')" \
    eval 'log_has "$log" "offer.*$mac_re.*$VMIP|offer.*$VMIP.*$mac_re" && log_has "$log" "ack.*($mac_re.*$VMIP|$VMIP.*$mac_re)"'
  check_why "$name: iPXE ran boot.ipxe (echo markers on serial): ip $VMIP, file boot.ipxe" "$(grep "$IPXE_MARK" "$serial" | head -2 | tr -d "\r" | tr "\n" "|")" \
    eval 'grep -q "$IPXE_MARK script running: ip $VMIP mac $MAC" "$serial" &&
          grep -q "$IPXE_MARK next-server $SRV filename boot.ipxe" "$serial"'
  check_why "$name: pxed served boot.ipxe over TFTP" "$(rrq_line "$log" boot.ipxe)" rrq_ok "$log" boot.ipxe
  check_why "$name: pxed served vmlinuz over TFTP" "$(rrq_line "$log" vmlinuz)" rrq_ok "$log" vmlinuz
  check_why "$name: pxed served initrd.img over TFTP" "$(rrq_line "$log" initrd.img)" rrq_ok "$log" initrd.img
  check_why "$name: kernel printed 'Linux version' on ttyS0" "not in the serial log" grep -q "Linux version" "$serial"
  if [ "$full" = yes ]; then
    check_why "$name: initrd's /init ran (marker on serial)" "not in the serial log" grep -q "$INIT_MARK userspace up" "$serial"
    check_why "$name: the VM powered itself off" "$BOOT_END" [ "${BOOT_END#qemu exited (status 0)}" != "$BOOT_END" ]
  fi
  check_why "$name: pxed leases shows $MAC with $VMIP" "$("$PXED" leases -c "$CFG" 2>&1 | tail -3 | tr '\n' '|')" lease_shows
}

TIMES=()

# ---------------------------------------------------------------------------------------------
# Boot 1: default TFTP options, all the way to /init and power-off.

write_config false
check "pxed check accepts the e2e config" "$PXED" check -c "$CFG"
start "$TMP/pxed-1.log" || { fail boot1 "pxed did not start"; finish; }
# The DHCP packets and TFTP requests of boot 1 (transfers run on other ports, so this stays small).
spawn "$TMP/tcpdump.out" ip netns exec "$NS" timeout "$BOOT_SECONDS" tcpdump -i br0 -n -U -s 1500 -w "$TMP/boot1.pcap" \
  'udp port 67 or udp port 68 or udp port 69'
DUMPPID=$SPAWNED
for _ in $(seq 50); do grep -q "listening on" "$TMP/tcpdump.out" && break; sleep 0.1; done
boot_vm boot1 ""
stop "$DUMPPID"
TIMES+=("boot 1 (negotiated options, to power-off): $BOOT_TIME s")
check_boot boot1 "$TMP/pxed-1.log" yes
check_why "boot1: TFTP used negotiated options (kernel at blksize > 512)" "$(rrq_line "$TMP/pxed-1.log" vmlinuz)" \
  eval 'rrq_line "$TMP/pxed-1.log" vmlinuz | grep -Eq "blksize=(1[0-9]{3}|[6-9][0-9]{2})"'
check_why "boot1: iPXE was told boot.ipxe, never undionly.kpxe (boot.bios/default)" \
  "$(rrq_line "$TMP/pxed-1.log" undionly.kpxe)" eval '! grep -q "RRQ \"undionly.kpxe\"" "$TMP/pxed-1.log"'
python3 "$VM_DIR/dhcpopts.py" "$TMP/boot1.pcap" > "$TMP/boot1.dhcp.txt" 2>&1
check_why "boot1: every DHCP packet from the ROM carried user class iPXE (77) and option 175" \
  "$(tr '\n' '|' < "$TMP/boot1.dhcp.txt")" \
  eval 'grep -q "^client" "$TMP/boot1.dhcp.txt" && ! grep "^client" "$TMP/boot1.dhcp.txt" | grep -v "opt77=iPXE" | grep -q . &&
        ! grep "^client" "$TMP/boot1.dhcp.txt" | grep -v "opt175=" | grep -q .'
check_why "boot1: pxed's replies named file boot.ipxe, siaddr $SRV" "$(grep '^server' "$TMP/boot1.dhcp.txt" | tr '\n' '|')" \
  eval 'grep "^server" "$TMP/boot1.dhcp.txt" | grep -q "file=boot.ipxe siaddr=$SRV" &&
        ! grep "^server" "$TMP/boot1.dhcp.txt" | grep -vq "file=boot.ipxe siaddr=$SRV"'
stop "$PXED_PID"

# ---------------------------------------------------------------------------------------------
# Boot 2: pxed restarted on the same lease file; the same VM boots again.

lease_before=$("$PXED" leases -c "$CFG" 2>&1 | grep -i "$MAC")
start "$TMP/pxed-2.log" || { fail boot2 "pxed did not start"; finish; }
check_why "boot2: the lease survived the restart (pxed leases, before booting)" "$lease_before" \
  eval 'echo "$lease_before" | grep -q "$VMIP"'
boot_vm boot2 "Linux version"
TIMES+=("boot 2 (same MAC after a pxed restart, to 'Linux version'): $BOOT_TIME s")
check_boot boot2 "$TMP/pxed-2.log" no
check_why "boot2: one lease row for $MAC" "$("$PXED" leases -c "$CFG" 2>&1 | grep -ci "$MAC") rows" \
  eval '[ "$("$PXED" leases -c "$CFG" 2>&1 | grep -ci "$MAC")" -eq 1 ]'
stop "$PXED_PID"

# ---------------------------------------------------------------------------------------------
# Boot 3: tftp.rfc1350: true (no TFTP options); stops at "Linux version".

write_config true
start "$TMP/pxed-3.log" || { fail boot3 "pxed did not start"; finish; }
check_why "boot3: pxed says TFTP is RFC 1350 only" "$(grep -m1 'tftp br0' "$TMP/pxed-3.log")" \
  grep -q "RFC 1350 only" "$TMP/pxed-3.log"
boot_vm boot3 "Linux version"
TIMES+=("boot 3 (tftp.rfc1350: true, to 'Linux version'): $BOOT_TIME s")
check_boot boot3 "$TMP/pxed-3.log" no
check_why "boot3: every transfer ran at blksize=512 windowsize=1" "$(grep 'RRQ' "$TMP/pxed-3.log" | grep -v 'blksize=512 windowsize=1' | head -1)" \
  eval 'grep -q "RRQ" "$TMP/pxed-3.log" && ! grep "RRQ" "$TMP/pxed-3.log" | grep -vq "blksize=512 windowsize=1"'
stop "$PXED_PID"

# ---------------------------------------------------------------------------------------------
# Evidence: boot 1's serial lines and pxed lines.

echo "--- times"
printf '%s\n' "${TIMES[@]}"
echo "--- boot 1: serial log (iPXE and kernel lines)"
grep -aE "iPXE|$IPXE_MARK|$INIT_MARK|Linux version|Command line|tftp://|ok$|Unpacking initramfs|Run /init|reboot: Power" "$TMP/boot1.serial" |
  sed -E 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\r//g; s/ {4,}/ /g' | cut -c1-200 | head -30
echo "--- boot 1: pxed log (DHCP and TFTP)"
grep -E "pxed started|DHCP listening|tftp br0|offer|ack|RRQ" "$TMP/pxed-1.log" | cut -c1-300 | head -30
echo "--- boot 1: DHCP and TFTP requests on br0 (tcpdump, seconds since the first packet)"
tcpdump -r "$TMP/boot1.pcap" -n -ttttt 2>/dev/null | sed -E 's/^ *00:00://' | cut -c1-160 | head -20
echo "--- boot 1: DHCP options (decoded from the capture)"
cut -c1-200 "$TMP/boot1.dhcp.txt"
echo "--- boot 3 (rfc1350): pxed TFTP lines"
grep -E "RRQ" "$TMP/pxed-3.log" | cut -c1-300
echo "--- pxed leases"
"$PXED" leases -c "$CFG" 2>&1
finish
