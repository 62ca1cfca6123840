#!/bin/bash
# Installs the Debian packages pxed builds with (libyaml-dev) and the real peers its tests run
# against. Idempotent; skips apt entirely when everything is already there.
set -eu
PACKAGES=(
  libyaml-dev pkg-config               # build: the CYAML system library
  curl tftp-hpa atftp busybox udhcpc   # TFTP/DHCP clients used as peers
  tftpd-hpa isc-dhcp-client dnsmasq    # peer servers and clients
  kea-dhcp4-server kea-admin kea-common
  iproute2 procps psmisc python3 bridge-utils
  qemu-system-x86 ipxe-qemu ipxe       # a real PXE ROM for the end-to-end boot
  ovmf shim-signed grub-efi-amd64-signed   # e2e-uefi-boot.sh: UEFI firmware, the Secure Boot chain
  qemu-system-arm qemu-efi-aarch64     # e2e-uefi-boot.sh: ARM64 UEFI
  radvd dhcpcd-base kea-dhcp6-server   # ipv6.sh and the IPv6 PXE boot: RA with the M flag, DHCPv6 peers
  prometheus                           # metrics.sh: scrapes pxed, promtool checks the exposition
  postgresql                           # lease-db.sh, lease-shared.sh, bench/dhcp.sh: throwaway clusters
  dpkg-dev lintian systemd fakeroot    # packaging checks
  tcpdump                              # e2e-pxe-boot.sh: the ROM's DHCP packets
  gnuplot-nox                          # bench/chart.sh: the benchmarks draw PNG charts (demo-charts.sh checks them)
  man-db                               # package.sh: the man pages render
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The tests run their own Prometheus inside a namespace; the package's service (where systemd
# runs) would scrape and listen on the host for nothing.
# The same for PostgreSQL: lease-db.sh starts its own cluster in a temp dir.
for service in prometheus postgresql; do
  if [ -d /run/systemd/system ] && systemctl is-enabled "$service" >/dev/null 2>&1; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done
