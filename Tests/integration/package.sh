#!/bin/bash
# The Debian package as an admin gets it: packaging/build-deb.sh builds it; its file list, control
# fields, lintian and `systemd-analyze verify` are checked; it is installed into this machine with
# dpkg -i, the installed programs run (config check, --help, a TFTP download from the installed
# daemon run with the unit's capability set, sd_notify messages), an admin edit to the conffile
# survives a reinstall and an upgrade, and remove/purge take away what they should.
# Everything installed is purged on exit, even after a failure.
. "$(dirname "$0")/lib.sh"
lib_init package 850   # just under Tests/run-all.sh's 900 s, so the summary and cleanup still run
VERSION=$(tr -d ' \n' < "$REPO/packaging/VERSION")
UPGRADE_VERSION=$VERSION+ci1
ARCH=$(dpkg --print-architecture)
# gzip packs in seconds; the release default (xz) takes minutes on 2 cores. Same contents.
export DEB_COMPRESS="-Zgzip -z1" DIST=$TMP/dist

# State this test may overwrite: keep a copy and put it back afterwards.
PRE_INSTALLED=$(dpkg-query -W -f='${Status}' pxed 2>/dev/null | grep -c "ok installed")
mkdir -p "$TMP/backup"
[ -e /etc/pxed.yaml ] && cp -a /etc/pxed.yaml "$TMP/backup/pxed.yaml"
[ -e /var/lib/pxed ] && cp -a /var/lib/pxed "$TMP/backup/varlib"
# On exit (after the daemons this script spawned are stopped): purge what was installed, put back
# what was there before.
restore() {
  if dpkg-query -W -f='${Status}' pxed 2>/dev/null | grep -q "installed\|config-files"; then
    dpkg --purge pxed > /dev/null 2>&1 || echo "cleanup: dpkg --purge pxed failed" >&2
  fi
  [ -e "$TMP/backup/pxed.yaml" ] && [ ! -e /etc/pxed.yaml ] && cp -a "$TMP/backup/pxed.yaml" /etc/pxed.yaml
  [ -e "$TMP/backup/varlib" ] && [ ! -e /var/lib/pxed ] && cp -a "$TMP/backup/varlib" /var/lib/pxed
  return 0
}
on_exit restore
if [ "$PRE_INSTALLED" -gt 0 ]; then
  echo "note: a pxed package was installed before this test; it is purged at the end"
fi

# --- Build ---------------------------------------------------------------------------------------
start=$SECONDS
if bash "$REPO/packaging/build-deb.sh" > "$TMP/build.log" 2>&1; then
  pass "build-deb.sh builds the package ($((SECONDS - start)) s)"
else
  fail "build-deb.sh" "$(tail -20 "$TMP/build.log")"; finish
fi
DEB=$DIST/pxed_${VERSION}_${ARCH}.deb
[ -f "$DEB" ] || { fail "package file" "no $DEB"; finish; }

# --- File list -----------------------------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { sub(/^\.\//, "/", $6); print $6 }' | sort > "$TMP/files"
cat > "$TMP/expected" <<EOF
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
if diff -u "$TMP/expected" "$TMP/files" > "$TMP/files.diff"; then pass "file list"; else fail "file list" "$(cat "$TMP/files.diff")"; fi

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
dpkg-deb -e "$DEB" "$TMP/control"
check "conffiles lists exactly /etc/pxed.yaml" test "$(cat "$TMP/control/conffiles")" = /etc/pxed.yaml
check "maintainer scripts present" test -x "$TMP/control/postinst" -a -x "$TMP/control/prerm" -a -x "$TMP/control/postrm"
# Every shared library the binaries load comes from a package that Depends names.
dpkg-deb -x "$DEB" "$TMP/root"
depnames=$(sed -e 's/ ([^)]*)//g' -e 's/ *[,|] */\n/g' <<< "$DEPENDS")
missing=
for lib in $(ldd "$TMP/root/usr/sbin/pxed" "$TMP/root/usr/bin/ptftp" | awk '/=>/ { print $3 } /ld-linux/ { print $1 }' | sort -u); do
  owner=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -1 | cut -d: -f1) || owner=
  [ -z "$owner" ] && owner=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1)
  grep -Fxq "$owner" <<< "$depnames" || missing+=" $lib($owner)"
done
check "Depends covers every library ldd shows" test -z "$missing"
[ -n "$missing" ] && echo "  not covered:$missing"
check "binaries need no Swift toolchain libraries" bash -c '! ldd "$1" | grep -Eq "swift|not found"' _ "$TMP/root/usr/sbin/pxed"
check "shipped config configures no interface" bash -c '! grep -Eq "^(interfaces|hosts|boot):" "$1"' _ "$TMP/root/etc/pxed.yaml"

# --- lintian -------------------------------------------------------------------------------------
lintian "$DEB" > "$TMP/lintian" 2>&1
grep -E "^[EWX]:" "$TMP/lintian" | sed 's/^/  lintian: /'
if grep -q "^E:" "$TMP/lintian"; then fail "lintian: no errors" "$(grep -c '^E:' "$TMP/lintian") error(s)"; else pass "lintian: no errors ($(grep -c '^W:' "$TMP/lintian") warning(s))"; fi

# --- Install -------------------------------------------------------------------------------------
rm -f /etc/pxed.yaml; rm -rf /var/lib/pxed
if dpkg -i --force-confold "$DEB" > "$TMP/dpkg.log" 2>&1; then pass "dpkg -i"; else fail "dpkg -i" "$(tail -5 "$TMP/dpkg.log")"; finish; fi
check "package state is installed" test "$(dpkg-query -W -f='${Status}' pxed)" = "install ok installed"
for f in $(cat "$TMP/expected"); do [ -e "$f" ] || fail "installed file $f" "missing"; done
check "/srv/tftp and /var/lib/pxed exist" test -d /srv/tftp -a -d /var/lib/pxed
check "service enabled (multi-user.target.wants)" test -L /etc/systemd/system/multi-user.target.wants/pxed.service

# systemd-analyze verify exits 0 even on problems; any output is a failure. It also checks that
# ExecStart binaries and the Documentation man page exist, hence after the install.
out=$(cd / && systemd-analyze verify /lib/systemd/system/pxed.service 2>&1)
if [ -z "$out" ]; then pass "systemd-analyze verify: no output"; else fail "systemd-analyze verify" "$out"; fi

if /usr/sbin/pxed check -c /etc/pxed.yaml > "$TMP/check.out" 2>&1; then
  pass "installed pxed check -c /etc/pxed.yaml ($(cat "$TMP/check.out"))"
else
  fail "installed pxed check -c /etc/pxed.yaml" "$(cat "$TMP/check.out")"
fi
check "ptftp --help" bash -c '/usr/bin/ptftp --help | grep -q "TFTP client"'
check "pxed --help" bash -c '/usr/sbin/pxed --help | grep -q "PXE boot server"'
for t in ptftpd pdhcpd pbootpd; do check "$t --help" bash -c "/usr/sbin/$t --help > /dev/null"; done
check "man page installed (man -w pxed)" bash -c 'man -w 8 pxed | grep -q /usr/share/man/man8/pxed.8.gz'

# --- Smoke run: the installed daemon with the unit's capability set and a notify socket --------
PORT=17569
mkdir -p "$TMP/tftp"
head -c 300000 /dev/urandom > "$TMP/tftp/boot.bin"
cat > "$TMP/pxed.yaml" <<YAML
log-level: info
lease-file: $TMP/leases
control-socket: $TMP/control.sock
metrics: {listen: "127.0.0.1:17570"}
tftp:
  root: $TMP/tftp
  port: $PORT
interfaces:
  lo:
    address: 127.0.0.1
    tftp: true
YAML
spawn "$TMP/notify.log" python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
' "$TMP/notify.sock"
NPID=$SPAWNED
wait_log "$TMP/notify.log" listening 5 || fail "notify listener" "did not start"
# As pxed.service runs it: root with the unit's capability bounding set, no new privileges and
# its system call filter (tools/unit_sandbox.py applies them from the installed unit file).
SANDBOX=(python3 "$(dirname "$0")/tools/unit_sandbox.py" /lib/systemd/system/pxed.service)
spawn "$TMP/daemon.log" env NOTIFY_SOCKET="$TMP/notify.sock" "${SANDBOX[@]}" /usr/sbin/pxed -c "$TMP/pxed.yaml"
PID=$SPAWNED
check "installed daemon starts in the unit's sandbox" wait_log "$TMP/daemon.log" "pxed started"
check "sd_notify READY=1" wait_log "$TMP/notify.log" "READY=1" 5
if /usr/bin/ptftp 127.0.0.1 $PORT -c get boot.bin "$TMP/got.bin" > "$TMP/ptftp.log" 2>&1 \
    && [ "$(sha "$TMP/got.bin")" = "$(sha "$TMP/tftp/boot.bin")" ]; then
  pass "installed ptftp fetches a file from the installed pxed"
else
  fail "installed ptftp fetches a file from the installed pxed" "$(cat "$TMP/ptftp.log"; tail -5 "$TMP/daemon.log")"
fi
/usr/sbin/pxed status -c "$TMP/pxed.yaml" --json > "$TMP/status.json" 2>&1
check_why "installed pxed status reaches the sandboxed daemon's control socket" "$(head -c 300 "$TMP/status.json")" \
    python3 -c "import json,sys; s=json.load(open('$TMP/status.json')); sys.exit(0 if s['engines'][0]['counters']['completed'] == 1 else 1)"
check_why "the sandboxed daemon serves /metrics" "$(curl -sS http://127.0.0.1:17570/metrics 2>&1 | grep -m1 tftp_transfers_total)" \
    bash -c "curl -sS http://127.0.0.1:17570/metrics | grep -q '^pxed_tftp_transfers_total{interface=\"lo\",outcome=\"completed\"} 1$'"
kill -HUP "$PID"
check "SIGHUP: sd_notify RELOADING=1 with MONOTONIC_USEC" wait_log "$TMP/notify.log" "RELOADING=1 MONOTONIC_USEC=" 5
kill -TERM "$PID"
check "SIGTERM: sd_notify STOPPING=1" wait_log "$TMP/notify.log" "STOPPING=1" 10
wait "$PID"; rc=$?
check "daemon exits 0 on SIGTERM" test "$rc" -eq 0
stop "$NPID"

# DHCP and TFTP on their real ports (67, 69) on a veth pair in a private network namespace, same
# sandbox: binding low ports, SO_BINDTODEVICE and the ARP entry must work with only the unit's
# capabilities and system calls. udhcpc (busybox) gets a lease and fetches the boot file.
mkdir -p "$TMP/ns"
echo "pxe rom" > "$TMP/ns/undionly.kpxe"
cat > "$TMP/ns/pxed.yaml" <<YAML
lease-file: $TMP/ns/leases
control-socket: $TMP/ns/control.sock
tftp:
  root: $TMP/ns
interfaces:
  v0:
    tftp: true
    dhcp:
      subnet: 10.199.0.0/24
      range: 10.199.0.100-10.199.0.150
boot:
  default: undionly.kpxe
YAML
cat > "$TMP/ns/run.sh" <<SH
ip link set lo up
ip link add v0 type veth peer name v1 || exit 1
ip addr add 10.199.0.1/24 dev v0; ip link set v0 up; ip link set v1 up
${SANDBOX[*]} /usr/sbin/pxed -c $TMP/ns/pxed.yaml > $TMP/ns/daemon.log 2>&1 &
pid=\$!
for i in \$(seq 1 100); do grep -q "pxed started" $TMP/ns/daemon.log && break; sleep 0.05; done
udhcpc -i v1 -n -q -t 4 -T 1 -s /bin/true > $TMP/ns/udhcpc.log 2>&1 && echo LEASE_OK
# The unicast OFFER/ACK needs an ARP entry only CAP_NET_ADMIN may add (udhcpc leaves v1 unaddressed).
ip neigh show dev v0 | grep -q "^10\.199\.0\.1[0-9][0-9] lladdr" && echo ARP_OK
busybox tftp -g -r undionly.kpxe -l $TMP/ns/got 10.199.0.1 > /dev/null 2>&1 && echo TFTP_OK
kill -TERM \$pid; wait \$pid && echo EXIT_OK
SH
unshare -n bash "$TMP/ns/run.sh" > "$TMP/ns/result" 2>&1
check "sandboxed DHCP on port 67: udhcpc gets a lease" grep -q LEASE_OK "$TMP/ns/result"
check "sandboxed ARP entry for the client (CAP_NET_ADMIN)" grep -q ARP_OK "$TMP/ns/result"
check "sandboxed TFTP on port 69: boot file fetched" cmp -s "$TMP/ns/got" "$TMP/ns/undionly.kpxe"
check "sandboxed daemon exits 0 on SIGTERM" grep -q EXIT_OK "$TMP/ns/result"
check "lease journal written" grep -q "10.199.0." "$TMP/ns/leases"
grep -q LEASE_OK "$TMP/ns/result" || { cat "$TMP/ns/result" "$TMP/ns/daemon.log" "$TMP/ns/udhcpc.log" 2>/dev/null | tail -20; }

# --- Conffile: an admin edit survives a reinstall and an upgrade ----------------------------------
sed -i 's/^log-level: info$/log-level: debug/' /etc/pxed.yaml
echo "# admin edit $$" >> /etc/pxed.yaml
edited=$(sha /etc/pxed.yaml)
echo "fake lease" > /var/lib/pxed/leases
if dpkg -i --force-confold "$DEB" > "$TMP/dpkg2.log" 2>&1 && [ "$(sha /etc/pxed.yaml)" = "$edited" ]; then
  pass "admin edit to /etc/pxed.yaml survives a reinstall"
else
  fail "admin edit to /etc/pxed.yaml survives a reinstall" "$(tail -5 "$TMP/dpkg2.log")"
fi
if bash "$REPO/packaging/build-deb.sh" "$UPGRADE_VERSION" > "$TMP/build2.log" 2>&1 \
    && dpkg -i --force-confold "$DIST/pxed_${UPGRADE_VERSION}_${ARCH}.deb" > "$TMP/dpkg3.log" 2>&1; then
  check "upgrade to $UPGRADE_VERSION installed" test "$(dpkg-query -W -f='${Version}' pxed)" = "$UPGRADE_VERSION"
  check "admin edit survives the upgrade" test "$(sha /etc/pxed.yaml)" = "$edited"
  check "leases survive the upgrade" test -f /var/lib/pxed/leases
else
  fail "upgrade to $UPGRADE_VERSION" "$(tail -5 "$TMP/build2.log" "$TMP/dpkg3.log" 2>/dev/null)"
fi
check "edited config still passes pxed check" bash -c '/usr/sbin/pxed check -c /etc/pxed.yaml > /dev/null'

# --- Remove, then purge --------------------------------------------------------------------------
if dpkg -r pxed > "$TMP/dpkg4.log" 2>&1; then pass "dpkg -r"; else fail "dpkg -r" "$(tail -5 "$TMP/dpkg4.log")"; fi
gone=1; for f in /usr/sbin/pxed /usr/sbin/ptftpd /usr/sbin/pdhcpd /usr/sbin/pbootpd /usr/bin/ptftp \
  /lib/systemd/system/pxed.service /usr/share/man/man8/pxed.8.gz; do [ -e "$f" ] && gone=0 && echo "  still there: $f"; done
check "remove takes the programs and the unit" test $gone -eq 1
check "remove keeps /etc/pxed.yaml and the leases" test -f /etc/pxed.yaml -a -f /var/lib/pxed/leases
if dpkg --purge pxed > "$TMP/dpkg5.log" 2>&1; then pass "dpkg --purge"; else fail "dpkg --purge" "$(tail -5 "$TMP/dpkg5.log")"; fi
check "purge removes /etc/pxed.yaml" test ! -e /etc/pxed.yaml
check "purge removes /var/lib/pxed (leases)" test ! -e /var/lib/pxed
check "purge removes the enablement symlink" test ! -e /etc/systemd/system/multi-user.target.wants/pxed.service -a ! -L /etc/systemd/system/multi-user.target.wants/pxed.service
check "purge keeps /srv/tftp (admin data)" test -d /srv/tftp
check "dpkg no longer knows pxed" bash -c '! dpkg-query -W pxed > /dev/null 2>&1'
finish
