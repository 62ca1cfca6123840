#!/bin/bash
# The Debian package as an admin gets it: packaging/build-deb.sh builds it; its file list, control
# fields, lintian and `systemd-analyze verify` are checked; it is installed into this machine with
# dpkg -i, the installed programs run (config check, --help, a TFTP download from the installed
# daemon run with the unit's capability set, sd_notify messages), an admin edit to the conffile
# survives a reinstall and an upgrade, and remove/purge take away what they should.
# Everything installed is purged on exit, even after a failure.
set -u
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/common.sh"
T=$(mktemp -d)
PID=; NPID=
VERSION=$(tr -d ' \n' < "$REPO/packaging/VERSION")
UPGRADE_VERSION=$VERSION+ci1
ARCH=$(dpkg --print-architecture)
# gzip packs in seconds; the release default (xz) takes minutes on 2 cores. Same contents.
export DEB_COMPRESS="-Zgzip -z1" DIST=$T/dist

# State this test may overwrite: keep a copy and put it back afterwards.
PRE_INSTALLED=$(dpkg-query -W -f='${Status}' pxed 2>/dev/null | grep -c "ok installed")
mkdir -p "$T/backup"
[ -e /etc/pxed.yaml ] && cp -a /etc/pxed.yaml "$T/backup/pxed.yaml"
[ -e /var/lib/pxed ] && cp -a /var/lib/pxed "$T/backup/varlib"
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  [ -n "$NPID" ] && kill "$NPID" 2>/dev/null
  wait 2>/dev/null
  if dpkg-query -W -f='${Status}' pxed 2>/dev/null | grep -q "installed\|config-files"; then
    dpkg --purge pxed > /dev/null 2>&1 || echo "cleanup: dpkg --purge pxed failed" >&2
  fi
  [ -e "$T/backup/pxed.yaml" ] && [ ! -e /etc/pxed.yaml ] && cp -a "$T/backup/pxed.yaml" /etc/pxed.yaml
  [ -e "$T/backup/varlib" ] && [ ! -e /var/lib/pxed ] && cp -a "$T/backup/varlib" /var/lib/pxed
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
if [ "$PRE_INSTALLED" -gt 0 ]; then
  echo "note: a pxed package was installed before this test; it is purged at the end"
fi

# --- Build ---------------------------------------------------------------------------------------
start=$SECONDS
if bash "$REPO/packaging/build-deb.sh" > "$T/build.log" 2>&1; then
  pass "build-deb.sh builds the package ($((SECONDS - start)) s)"
else
  fail "build-deb.sh" "$(tail -20 "$T/build.log")"; summary; exit 1
fi
DEB=$DIST/pxed_${VERSION}_${ARCH}.deb
[ -f "$DEB" ] || { fail "package file" "no $DEB"; summary; exit 1; }

# --- File list -----------------------------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { sub(/^\.\//, "/", $6); print $6 }' | sort > "$T/files"
cat > "$T/expected" <<EOF
/etc/pxed.yaml
/lib/systemd/system/pxed.service
/usr/bin/ptftp
/usr/sbin/pbootpd
/usr/sbin/pdhcpd
/usr/sbin/ptftpd
/usr/sbin/pxed
/usr/share/doc/pxed/changelog.gz
/usr/share/doc/pxed/copyright
/usr/share/man/man1/ptftp.1.gz
/usr/share/man/man8/pbootpd.8.gz
/usr/share/man/man8/pdhcpd.8.gz
/usr/share/man/man8/ptftpd.8.gz
/usr/share/man/man8/pxed.8.gz
EOF
if diff -u "$T/expected" "$T/files" > "$T/files.diff"; then pass "file list"; else fail "file list" "$(cat "$T/files.diff")"; fi

# --- Control fields ------------------------------------------------------------------------------
field() { dpkg-deb -f "$DEB" "$1"; }
check "Package is pxed" test "$(field Package)" = pxed
check "Version is $VERSION (packaging/VERSION)" test "$(field Version)" = "$VERSION"
check "Architecture is $ARCH" test "$(field Architecture)" = "$ARCH"
check "Maintainer is set" grep -Eq '^.+ <[^ @]+@[^ ]+>$' <<< "$(field Maintainer)"
check "Installed-Size is set" grep -Eq '^[0-9]+$' <<< "$(field Installed-Size)"
DEPENDS=$(field Depends)
check "Depends has versioned libc6 (dpkg-shlibdeps)" grep -Eq 'libc6 \(>= [0-9.]+\)' <<< "$DEPENDS"
check "Depends has libyaml-0-2" grep -q 'libyaml-0-2' <<< "$DEPENDS"
check "Depends names no Swift runtime" bash -c '! grep -qi swift <<< "$1"' _ "$DEPENDS"
dpkg-deb -e "$DEB" "$T/control"
check "conffiles lists exactly /etc/pxed.yaml" test "$(cat "$T/control/conffiles")" = /etc/pxed.yaml
check "maintainer scripts present" test -x "$T/control/postinst" -a -x "$T/control/prerm" -a -x "$T/control/postrm"
# Every shared library the binaries load comes from a package that Depends names.
dpkg-deb -x "$DEB" "$T/root"
depnames=$(sed -e 's/ ([^)]*)//g' -e 's/ *[,|] */\n/g' <<< "$DEPENDS")
missing=
for lib in $(ldd "$T/root/usr/sbin/pxed" "$T/root/usr/bin/ptftp" | awk '/=>/ { print $3 } /ld-linux/ { print $1 }' | sort -u); do
  owner=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -1 | cut -d: -f1) || owner=
  [ -z "$owner" ] && owner=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1)
  grep -Fxq "$owner" <<< "$depnames" || missing+=" $lib($owner)"
done
check "Depends covers every library ldd shows" test -z "$missing"
[ -n "$missing" ] && echo "  not covered:$missing"
check "binaries need no Swift toolchain libraries" bash -c '! ldd "$1" | grep -Eq "swift|not found"' _ "$T/root/usr/sbin/pxed"
check "shipped config configures no interface" bash -c '! grep -Eq "^(interfaces|hosts|boot):" "$1"' _ "$T/root/etc/pxed.yaml"

# --- lintian -------------------------------------------------------------------------------------
lintian "$DEB" > "$T/lintian" 2>&1
grep -E "^[EWX]:" "$T/lintian" | sed 's/^/  lintian: /'
if grep -q "^E:" "$T/lintian"; then fail "lintian: no errors" "$(grep -c '^E:' "$T/lintian") error(s)"; else pass "lintian: no errors ($(grep -c '^W:' "$T/lintian") warning(s))"; fi

# --- Install -------------------------------------------------------------------------------------
rm -f /etc/pxed.yaml; rm -rf /var/lib/pxed
if dpkg -i --force-confold "$DEB" > "$T/dpkg.log" 2>&1; then pass "dpkg -i"; else fail "dpkg -i" "$(tail -5 "$T/dpkg.log")"; summary; exit 1; fi
check "package state is installed" test "$(dpkg-query -W -f='${Status}' pxed)" = "install ok installed"
for f in $(cat "$T/expected"); do [ -e "$f" ] || fail "installed file $f"; done
check "/srv/tftp and /var/lib/pxed exist" test -d /srv/tftp -a -d /var/lib/pxed
check "service enabled (multi-user.target.wants)" test -L /etc/systemd/system/multi-user.target.wants/pxed.service

# systemd-analyze verify exits 0 even on problems; any output is a failure. It also checks that
# ExecStart binaries and the Documentation man page exist, hence after the install.
out=$(cd / && systemd-analyze verify /lib/systemd/system/pxed.service 2>&1)
if [ -z "$out" ]; then pass "systemd-analyze verify: no output"; else fail "systemd-analyze verify" "$out"; fi

if /usr/sbin/pxed check -c /etc/pxed.yaml > "$T/check.out" 2>&1; then
  pass "installed pxed check -c /etc/pxed.yaml ($(cat "$T/check.out"))"
else
  fail "installed pxed check -c /etc/pxed.yaml" "$(cat "$T/check.out")"
fi
check "ptftp --help" bash -c '/usr/bin/ptftp --help | grep -q "TFTP client"'
check "pxed --help" bash -c '/usr/sbin/pxed --help | grep -q "PXE boot server"'
for t in ptftpd pdhcpd pbootpd; do check "$t --help" bash -c "/usr/sbin/$t --help > /dev/null"; done
check "man page installed (man -w pxed)" bash -c 'man -w 8 pxed | grep -q /usr/share/man/man8/pxed.8.gz'

# --- Smoke run: the installed daemon with the unit's capability set and a notify socket --------
PORT=17569
mkdir -p "$T/tftp"
head -c 300000 /dev/urandom > "$T/tftp/boot.bin"
cat > "$T/pxed.yaml" <<YAML
log-level: info
lease-file: $T/leases
tftp:
  root: $T/tftp
  port: $PORT
interfaces:
  lo:
    address: 127.0.0.1
    tftp: true
YAML
python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
' "$T/notify.sock" > "$T/notify.log" 2>&1 &
NPID=$!
wait_for_log "$T/notify.log" listening 5 || fail "notify listener"
# As pxed.service runs it: root with the unit's capability bounding set, no new privileges and
# its system call filter (tools/unit_sandbox.py applies them from the installed unit file).
SANDBOX=(python3 "$(dirname "$0")/tools/unit_sandbox.py" /lib/systemd/system/pxed.service)
NOTIFY_SOCKET=$T/notify.sock "${SANDBOX[@]}" /usr/sbin/pxed -c "$T/pxed.yaml" > "$T/daemon.log" 2>&1 &
PID=$!
check "installed daemon starts in the unit's sandbox" wait_for_log "$T/daemon.log" "pxed started"
check "sd_notify READY=1" wait_for_log "$T/notify.log" "READY=1" 5
if /usr/bin/ptftp 127.0.0.1 $PORT -c get boot.bin "$T/got.bin" > "$T/ptftp.log" 2>&1 \
    && [ "$(sha "$T/got.bin")" = "$(sha "$T/tftp/boot.bin")" ]; then
  pass "installed ptftp fetches a file from the installed pxed"
else
  fail "installed ptftp fetches a file from the installed pxed" "$(cat "$T/ptftp.log"; tail -5 "$T/daemon.log")"
fi
kill -HUP "$PID"
check "SIGHUP: sd_notify RELOADING=1 with MONOTONIC_USEC" wait_for_log "$T/notify.log" "RELOADING=1 MONOTONIC_USEC=" 5
kill -TERM "$PID"
check "SIGTERM: sd_notify STOPPING=1" wait_for_log "$T/notify.log" "STOPPING=1" 10
wait "$PID"; rc=$?; PID=
check "daemon exits 0 on SIGTERM" test "$rc" -eq 0
kill "$NPID" 2>/dev/null; wait "$NPID" 2>/dev/null; NPID=

# DHCP and TFTP on their real ports (67, 69) on a veth pair in a private network namespace, same
# sandbox: binding low ports, SO_BINDTODEVICE and the ARP entry must work with only the unit's
# capabilities and system calls. udhcpc (busybox) gets a lease and fetches the boot file.
mkdir -p "$T/ns"
echo "pxe rom" > "$T/ns/undionly.kpxe"
cat > "$T/ns/pxed.yaml" <<YAML
lease-file: $T/ns/leases
tftp:
  root: $T/ns
interfaces:
  v0:
    tftp: true
    dhcp:
      subnet: 10.199.0.0/24
      range: 10.199.0.100-10.199.0.150
boot:
  default: undionly.kpxe
YAML
cat > "$T/ns/run.sh" <<SH
ip link set lo up
ip link add v0 type veth peer name v1 || exit 1
ip addr add 10.199.0.1/24 dev v0; ip link set v0 up; ip link set v1 up
${SANDBOX[*]} /usr/sbin/pxed -c $T/ns/pxed.yaml > $T/ns/daemon.log 2>&1 &
pid=\$!
for i in \$(seq 1 100); do grep -q "pxed started" $T/ns/daemon.log && break; sleep 0.05; done
udhcpc -i v1 -n -q -t 4 -T 1 -s /bin/true > $T/ns/udhcpc.log 2>&1 && echo LEASE_OK
# The unicast OFFER/ACK needs an ARP entry only CAP_NET_ADMIN may add (udhcpc leaves v1 unaddressed).
ip neigh show dev v0 | grep -q "^10\.199\.0\.1[0-9][0-9] lladdr" && echo ARP_OK
busybox tftp -g -r undionly.kpxe -l $T/ns/got 10.199.0.1 > /dev/null 2>&1 && echo TFTP_OK
kill -TERM \$pid; wait \$pid && echo EXIT_OK
SH
unshare -n bash "$T/ns/run.sh" > "$T/ns/result" 2>&1
check "sandboxed DHCP on port 67: udhcpc gets a lease" grep -q LEASE_OK "$T/ns/result"
check "sandboxed ARP entry for the client (CAP_NET_ADMIN)" grep -q ARP_OK "$T/ns/result"
check "sandboxed TFTP on port 69: boot file fetched" cmp -s "$T/ns/got" "$T/ns/undionly.kpxe"
check "sandboxed daemon exits 0 on SIGTERM" grep -q EXIT_OK "$T/ns/result"
check "lease journal written" grep -q "10.199.0." "$T/ns/leases"
grep -q LEASE_OK "$T/ns/result" || { cat "$T/ns/result" "$T/ns/daemon.log" "$T/ns/udhcpc.log" 2>/dev/null | tail -20; }

# --- Conffile: an admin edit survives a reinstall and an upgrade ----------------------------------
sed -i 's/^log-level: info$/log-level: debug/' /etc/pxed.yaml
echo "# admin edit $$" >> /etc/pxed.yaml
edited=$(sha /etc/pxed.yaml)
echo "fake lease" > /var/lib/pxed/leases
if dpkg -i --force-confold "$DEB" > "$T/dpkg2.log" 2>&1 && [ "$(sha /etc/pxed.yaml)" = "$edited" ]; then
  pass "admin edit to /etc/pxed.yaml survives a reinstall"
else
  fail "admin edit to /etc/pxed.yaml survives a reinstall" "$(tail -5 "$T/dpkg2.log")"
fi
if bash "$REPO/packaging/build-deb.sh" "$UPGRADE_VERSION" > "$T/build2.log" 2>&1 \
    && dpkg -i --force-confold "$DIST/pxed_${UPGRADE_VERSION}_${ARCH}.deb" > "$T/dpkg3.log" 2>&1; then
  check "upgrade to $UPGRADE_VERSION installed" test "$(dpkg-query -W -f='${Version}' pxed)" = "$UPGRADE_VERSION"
  check "admin edit survives the upgrade" test "$(sha /etc/pxed.yaml)" = "$edited"
  check "leases survive the upgrade" test -f /var/lib/pxed/leases
else
  fail "upgrade to $UPGRADE_VERSION" "$(tail -5 "$T/build2.log" "$T/dpkg3.log" 2>/dev/null)"
fi
check "edited config still passes pxed check" bash -c '/usr/sbin/pxed check -c /etc/pxed.yaml > /dev/null'

# --- Remove, then purge --------------------------------------------------------------------------
if dpkg -r pxed > "$T/dpkg4.log" 2>&1; then pass "dpkg -r"; else fail "dpkg -r" "$(tail -5 "$T/dpkg4.log")"; fi
gone=1; for f in /usr/sbin/pxed /usr/sbin/ptftpd /usr/sbin/pdhcpd /usr/sbin/pbootpd /usr/bin/ptftp \
  /lib/systemd/system/pxed.service /usr/share/man/man8/pxed.8.gz; do [ -e "$f" ] && gone=0 && echo "  still there: $f"; done
check "remove takes the programs and the unit" test $gone -eq 1
check "remove keeps /etc/pxed.yaml and the leases" test -f /etc/pxed.yaml -a -f /var/lib/pxed/leases
if dpkg --purge pxed > "$T/dpkg5.log" 2>&1; then pass "dpkg --purge"; else fail "dpkg --purge" "$(tail -5 "$T/dpkg5.log")"; fi
check "purge removes /etc/pxed.yaml" test ! -e /etc/pxed.yaml
check "purge removes /var/lib/pxed (leases)" test ! -e /var/lib/pxed
check "purge removes the enablement symlink" test ! -e /etc/systemd/system/multi-user.target.wants/pxed.service -a ! -L /etc/systemd/system/multi-user.target.wants/pxed.service
check "purge keeps /srv/tftp (admin data)" test -d /srv/tftp
check "dpkg no longer knows pxed" bash -c '! dpkg-query -W pxed > /dev/null 2>&1'
summary
