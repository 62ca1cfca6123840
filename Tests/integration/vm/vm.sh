# shellcheck shell=bash
# Helpers for the scripts that boot virtual machines from pxed (Tests/integration/e2e-*.sh):
# Debian files fetched once into a cache, a tiny initrd, a bridge with a tap in a namespace, and
# one boot bounded in time with the moments its console showed given lines. Load lib.sh first
# (this uses $TMP, spawn, stop, alive).
#
#   vm_fetch PKG MEMBER DEST [ARCH]   DEST from file MEMBER of Debian package PKG (for ARCH,
#                                     default the host's), fetched with apt-get download unless
#                                     DEST is cached; only that member is unpacked
#   vm_kernel ARCH                    Debian's current kernel for ARCH (linux-image-ARCH's
#                                     dependency; signed on amd64 and arm64) into the cache; path in $VM_KERNEL
#   vm_busybox ARCH                   busybox-static for ARCH into the cache; path in $VM_BUSYBOX
#   vm_initrd BUSYBOX MARKER DEST     a gzip'd cpio: static busybox and an /init that prints
#                                     "MARKER userspace up: kernel <release>, cmdline: ..." on the
#                                     console and powers the machine off
#   vm_bridge NS CIDR                 bridge br0 with CIDR and tap0 in it, in namespace NS
#   vm_port NS IFACE PEER_NS          a veth from br0 in NS to IFACE in PEER_NS (a second "machine")
#   vm_boot NAME SECONDS STOP FAIL CMD...
#                                     runs CMD (the QEMU command line, writing its serial console
#                                     to $TMP/NAME.serial) until it exits, STOP (ERE) shows on the
#                                     console, FAIL (ERE) shows, or SECONDS pass. Sets BOOT_TIME,
#                                     BOOT_END, and VM_AT[LABEL] (seconds after start, or -) for
#                                     each "LABEL=ERE" in VM_MARKS
#   vm_console FILE [ERE]             the console log without escape codes and CRs (lines
#                                     matching ERE only)
# The cache is $E2E_CACHE (default /var/cache/pxed-e2e). Packages of a foreign architecture
# (arm64) are fetched through package lists kept under the cache, so the host's dpkg
# architectures and apt lists are never changed.

VM_CACHE=${E2E_CACHE:-/var/cache/pxed-e2e}
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_HOST_ARCH=$(dpkg --print-architecture)
declare -A VM_AT=()
VM_MARKS=()
mkdir -p "$VM_CACHE"

# _vm_apt ARCH CMD ARGS...: apt-get or apt-cache for ARCH.
_vm_apt() {
    local arch=$1 tool=$2 d
    shift 2
    if [ "$arch" = "$VM_HOST_ARCH" ]; then
        "$tool" -o APT::Sandbox::User=root "$@"
        return
    fi
    d=$VM_CACHE/apt-$arch
    mkdir -p "$d/lists/partial" "$d/archives/partial"
    "$tool" -o APT::Sandbox::User=root -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" \
        -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d" -o Dir::Cache::pkgcache= \
        -o Dir::Cache::srcpkgcache= "$@"
}

vm_fetch() {
    local pkg=$1 member=$2 dest=$3 arch=${4:-$VM_HOST_ARCH} d deb
    [ -s "$dest" ] && return 0
    d=$(mktemp -d "$VM_CACHE/dl.XXXXXX") || return 1
    if ! (cd "$d" && _vm_apt_timeout 300 "$arch" apt-get download -q "$pkg" >/dev/null 2>&1); then
        _vm_apt_timeout 180 "$arch" apt-get update -qq >/dev/null 2>&1
        (cd "$d" && _vm_apt_timeout 300 "$arch" apt-get download -q "$pkg" >/dev/null 2>&1) ||
            { echo "apt-get download $pkg ($arch) failed"; rm -rf "$d"; return 1; }
    fi
    deb=$(ls "$d"/*.deb | head -1)
    mkdir -p "$d/x"
    # dpkg-deb --fsys-tarfile is what dpkg -x reads; only MEMBER is written, so a kernel
    # package's modules never reach the disk.
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$d/x" --wildcards "$member" ||
        { echo "unpacking $member from $deb failed"; rm -rf "$d"; return 1; }
    cp "$(ls "$d"/x/$member | head -1)" "$dest.tmp" && mv "$dest.tmp" "$dest"
    echo "cached $dest from $(basename "$deb")"
    rm -rf "$d"
}

# _vm_apt_timeout SECONDS ARCH TOOL ARGS...: _vm_apt bounded in time (timeout runs programs, not
# functions, so the function is handed to a child bash).
_vm_apt_timeout() {
    local secs=$1
    shift
    timeout "$secs" bash -c "$(declare -f _vm_apt); VM_CACHE='$VM_CACHE' VM_HOST_ARCH='$VM_HOST_ARCH';"' _vm_apt "$@"' _ "$@"
}

# _vm_kernel_package ARCH: linux-image-ARCH's versioned dependency, from the package lists.
_vm_kernel_package() {
    _vm_apt "$1" apt-cache depends "linux-image-$1" 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

vm_kernel() {
    local arch=$1 kpkg old
    kpkg=$(_vm_kernel_package "$arch")
    if [ -z "$kpkg" ]; then
        _vm_apt_timeout 180 "$arch" apt-get update -qq >/dev/null 2>&1
        kpkg=$(_vm_kernel_package "$arch")
    fi
    if [ -z "$kpkg" ]; then   # no package lists (offline?): the newest cached kernel will do
        kpkg=$(ls "$VM_CACHE"/vmlinuz-linux-image-*-"$arch" 2>/dev/null | sort -V | tail -1 | sed 's|.*/vmlinuz-||')
    fi
    [ -n "$kpkg" ] || { echo "cannot resolve linux-image-$arch and no cached kernel"; return 1; }
    VM_KERNEL=$VM_CACHE/vmlinuz-$kpkg
    vm_fetch "$kpkg" './boot/vmlinuz-*' "$VM_KERNEL" "$arch" || return 1
    for old in "$VM_CACHE"/vmlinuz-linux-image-*-"$arch"; do   # keep only the current one
        [ "$old" = "$VM_KERNEL" ] || rm -f "$old"
    done
}

vm_busybox() {
    VM_BUSYBOX=$VM_CACHE/busybox-static-$1
    vm_fetch busybox-static './bin/busybox' "$VM_BUSYBOX" "$1" && chmod +x "$VM_BUSYBOX"
}

vm_initrd() {
    local busybox=$1 marker=$2 dest=$3 ir
    ir=$(mktemp -d "$TMP/initrd.XXXXXX")
    mkdir -p "$ir/bin" "$ir/dev" "$ir/proc" "$ir/sys"
    cp "$busybox" "$ir/bin/busybox"
    ln -s busybox "$ir/bin/sh"
    mknod "$ir/dev/console" c 5 1 2>/dev/null
    cat >"$ir/init" <<INIT
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "$marker userspace up: kernel \$(/bin/busybox uname -r), cmdline: \$(/bin/busybox cat /proc/cmdline)" > /dev/console
/bin/busybox sync
/bin/busybox poweroff -f
echo o > /proc/sysrq-trigger
/bin/busybox reboot -f
INIT
    chmod +x "$ir/init"
    (cd "$ir" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -9) >"$dest"
}

vm_bridge() {
    ip -n "$1" link add br0 type bridge forward_delay 0 stp_state 0 &&
        ip -n "$1" addr add "$2" dev br0 &&
        ip -n "$1" tuntap add dev tap0 mode tap &&
        ip -n "$1" link set tap0 master br0 &&
        ip -n "$1" link set tap0 up &&
        ip -n "$1" link set br0 up
}

vm_port() {
    local port=p$2$$
    port=${port:0:15}
    ns_veth "$1" "$port" "$3" "$2" && ip -n "$1" link set "$port" master br0
}

vm_boot() {
    local name=$1 seconds=$2 stop=$3 failure=$4 serial=$TMP/$1.serial start el mark qpid
    shift 4
    : >"$serial"
    VM_AT=()
    # The spawned PID is timeout's; stop TERMs it and QEMU with it.
    spawn "$TMP/$name.qemu.out" timeout "$seconds" "$@" </dev/null
    qpid=$SPAWNED
    start=$(date +%s.%N)
    BOOT_END=running
    while :; do
        el=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        for mark in "${VM_MARKS[@]}"; do
            [ -z "${VM_AT[${mark%%=*}]:-}" ] && grep -aEq "${mark#*=}" "$serial" && VM_AT[${mark%%=*}]=$el
        done
        if ! alive "$qpid"; then
            wait "$qpid"
            BOOT_END="qemu exited (status $?)"
            qpid=
            break
        fi
        if [ -n "$stop" ] && grep -aEq "$stop" "$serial"; then BOOT_END="stopped at /$stop/"; break; fi
        if [ -n "$failure" ] && grep -aEq "$failure" "$serial"; then BOOT_END="failure on the console"; break; fi
        sleep 0.5
    done
    [ -z "$qpid" ] || stop "$qpid"
    BOOT_TIME=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    local seen=""
    for mark in "${VM_MARKS[@]}"; do seen+=" ${mark%%=*} at ${VM_AT[${mark%%=*}]:--} s,"; done
    echo "boot $name: $BOOT_END after $BOOT_TIME s (${seen# })"
}

vm_console() {
    sed -E 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\r//g; s/ {4,}/ /g' "$1" | grep -aE "${2:-.}"
}
