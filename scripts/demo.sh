#!/bin/bash
# pxed's first ten minutes: a virtual machine boots from it over the network.
#
#   bash scripts/demo.sh [--uefi] [--tftp-only] [--ci]
#
# The demo makes a private network namespace with a bridge, starts pxed on it from
# etc/pxed-demo-vm.yaml (DHCP with a reservation for the VM, TFTP, the boot table) and boots a
# QEMU virtual machine (software emulation) on that bridge: its iPXE ROM (or, with --uefi, OVMF's
# own PXE client, which pxed gives iPXE for UEFI) gets the VM's address and boot script from pxed,
# then a Debian kernel and a small initrd over TFTP; the initrd says hello and powers the VM off.
# The VM's console and pxed's log stream to the terminal; a summary closes the run, and everything
# the demo made (namespace, bridge, tap, processes, files) is removed. No packet leaves the
# namespace.
#
#   --uefi       boot the VM with OVMF (UEFI firmware) instead of SeaBIOS + iPXE ROM
#   --tftp-only  the light demo: pxed serves etc/demo-tftp over TFTP on 127.0.0.1:6969 (no VM, no
#                root needed beyond installing packages); Ctrl-C stops it
#   --ci         no terminal: nothing waits for input, the run is bounded (DEMO_MAX_SECONDS,
#                default 600), the exit status says whether the VM booted
# Environment: BIN=DIR uses the pxed (and ptftp) binaries in DIR instead of building them;
# E2E_CACHE is where the Debian kernel and busybox are cached (default /var/cache/pxed-e2e, shared
# with the end-to-end tests). If they cannot be fetched, the demo says so and runs --tftp-only.
#
# It installs only what the demo itself uses (DEMO_PACKAGES below), not the test suite's peers.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
UEFI=0 TFTP_ONLY=0 CI_MODE=0
for arg in "$@"; do
    case $arg in
        --uefi) UEFI=1 ;;
        --tftp-only) TFTP_ONLY=1 ;;
        --ci) CI_MODE=1 ;;
        -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "demo: unknown option '$arg' (options: --uefi, --tftp-only, --ci, --help)" >&2; exit 2 ;;
    esac
done
say() { echo "demo: $*"; }
T_START=$(date +%s)
elapsed() { echo $(($(date +%s) - T_START)); }

# --- packages: only the demo's own -------------------------------------------------------------
DEMO_PACKAGES=(libyaml-dev pkg-config iproute2)   # building pxed; ip netns
if [ $TFTP_ONLY = 0 ]; then
    DEMO_PACKAGES+=(qemu-system-x86 ipxe-qemu busybox)   # the VM, its iPXE ROM, the initrd's cpio
    [ $UEFI = 1 ] && DEMO_PACKAGES+=(ovmf ipxe)          # UEFI firmware; iPXE for UEFI (snponly.efi)
fi
install_packages() {
    local missing=() p
    for p in "${DEMO_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && { say "Debian packages: all there (${DEMO_PACKAGES[*]})"; return 0; }
    [ "$(id -u)" -eq 0 ] || { say "needs root to install: ${missing[*]}"; return 1; }
    say "installing ${#missing[@]} Debian packages the demo uses: ${missing[*]} (apt-get; a minute or two)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || return 1
    # One line per package as it is set up, so the wait shows progress.
    apt-get install -y -q --no-install-recommends "${missing[@]}" 2>&1 |
        grep --line-buffered -E '^(Setting up|E:)' | sed -u 's/^/  apt: /'
    [ "${PIPESTATUS[0]}" -eq 0 ]
}
install_packages || { say "package installation failed"; exit 1; }

# --- build ---------------------------------------------------------------------------------------
if [ -n "${BIN:-}" ]; then
    say "using the binaries in $BIN (BIN is set: no build)"
else
    command -v swift >/dev/null || { say "swift is not on the PATH (the Swift 6 toolchain builds pxed)"; exit 1; }
    say "building pxed and ptftp (swift build -c release; the first build takes 5-10 minutes on 2 cores, progress below)"
    (cd "$REPO" && swift build -c release --product pxed && swift build -c release --product ptftp) 2>&1 |
        grep --line-buffered -vE '^(warning|note):|^ *\^|^ *\||^$' | sed -u 's/^/  build: /'
    [ "${PIPESTATUS[0]}" -eq 0 ] || { say "the build failed (its output is above)"; exit 1; }
    BIN=$(cd "$REPO" && swift build -c release --show-bin-path)
fi
for b in pxed ptftp; do [ -x "$BIN/$b" ] || { say "$BIN/$b is missing"; exit 1; }; done
export BIN REPO

# --- the light demo: TFTP on loopback ----------------------------------------------------------
tftp_only() {
    if [ $CI_MODE = 0 ]; then
        say "pxed is serving etc/demo-tftp on 127.0.0.1:6969 (Ctrl-C stops it); try:"
        say "  $BIN/ptftp 127.0.0.1 6969 -c get README.txt /tmp/README.txt"
        # As a fallback from the VM demo the test library's watchdog is running: no time limit here.
        declare -F watchdog_off > /dev/null && watchdog_off
        "$BIN/pxed" -c "$REPO/etc/pxed-demo.yaml"
        exit $?
    fi
    # --ci: start it, fetch the file once, compare, stop.
    local dir log pid ok=0
    dir=$(mktemp -d /tmp/pxed-demo.XXXXXX) && log=$dir/pxed.log
    "$BIN/pxed" -c "$REPO/etc/pxed-demo.yaml" > "$log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q "pxed started" "$log" && break; sleep 0.1; done
    if timeout 20 "$BIN/ptftp" 127.0.0.1 6969 -c get README.txt "$dir/README.txt" > "$dir/ptftp.out" 2>&1 &&
        cmp -s "$dir/README.txt" "$REPO/etc/demo-tftp/README.txt"; then
        ok=1
    fi
    kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
    grep -v '^debug: ' "$log" | sed 's/^/pxed | /'
    if [ $ok = 1 ]; then
        say "summary: pxed served README.txt ($(stat -c %s "$REPO/etc/demo-tftp/README.txt") bytes) over TFTP on 127.0.0.1:6969 and ptftp got it intact; $(elapsed) s in all."
    else
        say "summary: the TFTP download failed: $(tail -1 "$dir/ptftp.out")"
    fi
    rm -rf "$dir"
    [ $ok = 1 ]
    exit $?
}
[ $TFTP_ONLY = 1 ] && tftp_only

# --- the VM demo ----------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || { say "the VM demo needs root (network namespaces, a tap device); --tftp-only does not"; exit 1; }
[ -c /dev/net/tun ] || { say "/dev/net/tun is missing: no tap device for the VM; running --tftp-only"; tftp_only; }
. "$REPO/Tests/integration/lib.sh"
. "$REPO/Tests/integration/vm/vm.sh"
MAX_SECONDS=${DEMO_MAX_SECONDS:-$([ $CI_MODE = 1 ] && echo 600 || echo 1800)}
lib_init demo "$MAX_SECONDS" pxed
# The test library's traps report "FAIL": the demo says it in its own words (cleanup still runs).
trap 'echo; say "interrupted; removing what the demo made"; exit 130' INT
trap 'say "terminated; removing what the demo made"; exit 143' TERM
trap 'say "ran more than $MAX_SECONDS s; stopping and removing what the demo made"; exit 124' ALRM

NS=pxd-demo-$$
SRV=10.99.0.1
MAC=52:54:00:99:00:42
MARK=PXED-DEMO
OVMF=/usr/share/OVMF

say "fetching Debian's kernel and busybox-static (apt-get download of two packages, cached in $VM_CACHE)"
if vm_kernel amd64 > "$TMP/fetch.out" 2>&1 && vm_busybox amd64 >> "$TMP/fetch.out" 2>&1; then
    sed 's/^/  /' "$TMP/fetch.out"
else
    sed 's/^/  /' "$TMP/fetch.out"
    say "could not get the kernel or busybox from Debian's archive (offline?); falling back to --tftp-only"
    tftp_only
fi

# The TFTP root beside a copy of the demo's YAML.
ROOT=$TMP/tftp
mkdir -p "$ROOT"
cp "$REPO/etc/pxed-demo-vm.yaml" "$TMP/pxed.yaml"
# The control socket must be an absolute path: the demo's own, so a pxed service is not disturbed.
echo "control-socket: $TMP/control.sock" >> "$TMP/pxed.yaml"
cp "$VM_KERNEL" "$ROOT/vmlinuz"
[ $UEFI = 1 ] && cp /usr/lib/ipxe/snponly.efi "$ROOT/"
vm_initrd "$VM_BUSYBOX" "$MARK" "$ROOT/initrd.img" || { say "building the initrd failed"; exit 1; }
# ${next-server} is pxed's address from its reply. Short echo lines: SeaBIOS's serial mirror cuts
# long ones. initrd=initrd.img: under UEFI, Debian's iPXE hands the initrd to the kernel's EFI stub
# by name, so the command line must say it (BIOS ignores it).
cat > "$ROOT/boot.ipxe" <<EOF
#!ipxe
echo $MARK: iPXE got \${net0/ip} from pxed, loading the kernel over TFTP
kernel tftp://\${next-server}/vmlinuz initrd=initrd.img console=ttyS0,115200 panic=-1 || goto failed
initrd tftp://\${next-server}/initrd.img || goto failed
boot || goto failed
:failed
echo $MARK-FAILED
EOF
say "TFTP root: vmlinuz ($(stat -c %s "$ROOT/vmlinuz") bytes, $(basename "$VM_KERNEL")), initrd.img ($(stat -c %s "$ROOT/initrd.img") bytes), boot.ipxe$([ $UEFI = 1 ] && echo ", snponly.efi")"

say "making network namespace $NS: bridge br0 $SRV/24 with tap0 for the VM"
ns_add "$NS" && vm_bridge "$NS" $SRV/24 || { say "could not make the namespace"; exit 1; }
# A router advertisement on br0 cuts iPXE's 15 s wait for IPv6 autoconfiguration (python3 only).
command -v python3 > /dev/null && spawn "$TMP/ra.out" ip netns exec "$NS" python3 "$VM_DIR/ra.py" br0 "$MAX_SECONDS"

"$BIN/pxed" check -c "$TMP/pxed.yaml" > "$TMP/check.out" 2>&1 || { say "pxed check: $(cat "$TMP/check.out")"; exit 1; }
LOG=$TMP/pxed.log
start_pxed "$LOG" "$TMP/pxed.yaml" "$NS" || { say "pxed did not start:"; tail -5 "$LOG"; exit 1; }
say "pxed is running in $NS (pid $PXED_PID) on etc/pxed-demo-vm.yaml; its log and the VM's console follow"
# The two streams, prefixed; escape codes and carriage returns taken out of the console. They
# share the demo's own stdout (not reopened: a file opened twice would be overwritten), and are
# registered with the test library so they are stopped with everything else.
SERIAL_NAME=vm
: > "$TMP/$SERIAL_NAME.serial"
(tail -n +1 -F "$LOG" 2>/dev/null | sed -u 's/^/pxed | /') &
adopt $!
(tail -n +1 -F "$TMP/$SERIAL_NAME.serial" 2>/dev/null |
    sed -u -E 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1b[()][A-Z0-9]//g; s/\r//g; /^[[:space:]]*$/d; s/^/vm   | /') &
adopt $!

if [ $UEFI = 1 ]; then
    for f in $OVMF/OVMF_CODE_4M.fd $OVMF/OVMF_VARS_4M.fd /usr/lib/ipxe/snponly.efi; do
        [ -f "$f" ] || { say "$f is missing (packages ovmf, ipxe)"; exit 1; }
    done
    cp $OVMF/OVMF_VARS_4M.fd "$TMP/vars.fd"
    FIRMWARE="OVMF (UEFI) with its own PXE client"
    QEMU=(qemu-system-x86_64 -machine q35,accel=tcg -m 512
        -drive if=pflash,format=raw,unit=0,readonly=on,file=$OVMF/OVMF_CODE_4M.fd
        -drive if=pflash,format=raw,unit=1,file="$TMP/vars.fd"
        -device virtio-net-pci,netdev=n0,mac=$MAC,romfile=)
else
    FIRMWARE="SeaBIOS with QEMU's iPXE ROM"
    QEMU=(qemu-system-x86_64 -machine pc,accel=tcg -m 256 -device e1000,netdev=n0,mac=$MAC)
fi
say "booting the VM ($FIRMWARE, MAC $MAC, software emulation: 10-60 s)"
VM_MARKS=("iPXE=$MARK: iPXE got" "Linux=Linux version" "init=$MARK userspace up")
vm_boot "$SERIAL_NAME" "$((MAX_SECONDS - $(elapsed) > 60 ? MAX_SECONDS - $(elapsed) - 30 : 30))" "" \
    "$MARK-FAILED|No bootable device|Kernel panic|PXE-E" \
    ip netns exec "$NS" "${QEMU[@]}" -nographic -no-reboot -boot n \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -serial "file:$TMP/$SERIAL_NAME.serial" -monitor none -display none > "$TMP/boot.out"
sleep 1   # let the streams catch up before the summary

# --- summary --------------------------------------------------------------------------------------
ack=$(grep -E "ack .*client=${MAC//:/[:-]}" "$LOG" | tail -1)
ip=$(echo "$ack" | grep -oE 'ip=[0-9.]+' | cut -d= -f2)
files=$(grep -E 'RRQ "' "$LOG" | grep -vE 'bytes=0 ' | sed -E 's/.*RRQ "([^"]+)".* bytes=([0-9]+).*/\1 (\2 bytes)/' | awk '!seen[$1]++' | paste -sd, - | sed 's/,/, /g')
booted=0
grep -q "$MARK userspace up" "$TMP/$SERIAL_NAME.serial" && booted=1
echo
if [ $booted = 1 ]; then
    say "summary: the VM ($FIRMWARE, MAC $MAC) leased ${ip:-?} from pxed (its reservation), was given its boot files by pxed's boot table and fetched them over TFTP: ${files:-none}. Its kernel ran the initrd ${VM_AT[init]} s after power-on (iPXE script at ${VM_AT[iPXE]:--} s, kernel at ${VM_AT[Linux]:--} s, in software emulation); the demo took $(elapsed) s in all."
else
    say "summary: the VM did not boot ($(sed -n 's/^boot [^:]*: //p' "$TMP/boot.out")); pxed leased: ${ip:-nothing}; files served: ${files:-none}. The console and pxed's log are above."
fi
# Take it all down now, so the last line can say so.
stop_spawned
ip netns del "$NS" 2>/dev/null
ip netns list 2>/dev/null | grep -q "^$NS\b" && say "namespace $NS is still there" ||
    say "removed: pxed and QEMU stopped, namespace $NS with its bridge and tap deleted, $TMP deleted on exit."
[ $booted = 1 ]
