#!/bin/bash
# Builds dist/pxed_<version>_<arch>.deb: a release build with the Swift standard library linked
# statically (the package runs on a Debian 12 machine with no Swift installed), stripped, staged
# with the systemd unit, the shipped configuration, man pages and docs, and packed by dpkg-deb.
#
#   packaging/build-deb.sh [VERSION]     VERSION defaults to the content of packaging/VERSION
#
# Needs: swift, libyaml-dev, dpkg-dev (dpkg-shlibdeps), python3, binutils (strip).
# Environment: SCRATCH (default .build-static), DIST (default dist), DEB_COMPRESS (dpkg-deb
# compression options, default "-Zxz": about 25 MB; "-Zzstd -z9" packs in seconds, for tests).
set -euo pipefail
umask 022
cd "$(dirname "$0")/.."
REPO=$(pwd)
PKG=$REPO/packaging
VERSION=${1:-$(tr -d ' \n' < "$PKG/VERSION")}
SCRATCH=${SCRATCH:-$REPO/.build-static}
DIST=${DIST:-$REPO/dist}
ARCH=$(dpkg --print-architecture)
DEB_COMPRESS=${DEB_COMPRESS:--Zxz}
# -z now: full RELRO (a read-only GOT once loaded), as dpkg-buildflags' hardening=+bindnow.
SWIFT_FLAGS=(-c release --static-swift-stdlib --scratch-path "$SCRATCH" -Xlinker -z -Xlinker now)
SBIN_TOOLS=(pxed ptftpd pdhcpd pbootpd)
BIN_TOOLS=(ptftp)

if ! [[ $VERSION =~ ^[0-9][A-Za-z0-9.+~-]*$ ]]; then
  echo "build-deb: '$VERSION' is not a valid Debian version" >&2; exit 1
fi
say() { printf '[build-deb %3ss] %s\n' "$SECONDS" "$*"; }

# --- 1. Static release build of all five products ---------------------------------------------
say "swift build -c release --static-swift-stdlib (scratch $SCRATCH)"
BUILDLOG=$(mktemp)
if ! swift build "${SWIFT_FLAGS[@]}" > "$BUILDLOG" 2>&1; then
  grep -v "^\[[0-9]*/[0-9]*\] " "$BUILDLOG" | tail -40 >&2
  rm -f "$BUILDLOG"; echo "build-deb: swift build failed" >&2; exit 1
fi
grep -E "^(Build complete|.*error:)" "$BUILDLOG" || true
rm -f "$BUILDLOG"
OUT=$(swift build "${SWIFT_FLAGS[@]}" --show-bin-path)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/pxed
mkdir -p "$STAGE/DEBIAN" "$STAGE/usr/sbin" "$STAGE/usr/bin" "$STAGE/etc" \
  "$STAGE/lib/systemd/system" "$STAGE/usr/share/doc/pxed" "$STAGE/usr/share/man/man1" "$STAGE/usr/share/man/man8"

# --- 2. Binaries, stripped like dh_strip does ---------------------------------------------------
say "strip and stage"
for t in "${SBIN_TOOLS[@]}"; do install -m 0755 "$OUT/$t" "$STAGE/usr/sbin/$t"; done
for t in "${BIN_TOOLS[@]}"; do install -m 0755 "$OUT/$t" "$STAGE/usr/bin/$t"; done
for f in "$STAGE"/usr/sbin/* "$STAGE"/usr/bin/*; do
  strip --remove-section=.comment --remove-section=.note "$f" &
done
wait
# A stripped binary that does not run would make a useless package.
"$STAGE/usr/sbin/pxed" --help > /dev/null

# --- 3. Configuration: the example, with every interface (and the hosts and boot table that
#        refer to them) commented out, so an install serves nothing until the admin edits it. ---
{
  cat <<'EOF'
# As installed by the pxed package, no interface is configured: the service runs and serves
# nothing (no socket is opened). To start serving:
#   1. uncomment and adapt "interfaces:" (and "boot:", "hosts:") below;
#   2. pxed check -c /etc/pxed.yaml
#   3. systemctl reload pxed
#
EOF
  awk '
    /^interfaces:/ { off = 1 }
    off && $0 !~ /^[[:space:]]*(#|$)/ { print "#" $0; next }
    { print }
  ' "$REPO/etc/pxed.yaml"
} > "$STAGE/etc/pxed.yaml"
chmod 0644 "$STAGE/etc/pxed.yaml"
if grep -Eq '^(interfaces|hosts|boot):' "$STAGE/etc/pxed.yaml"; then
  echo "build-deb: the shipped configuration still configures interfaces" >&2; exit 1
fi
# Check it here too (with a TFTP root that exists on this machine).
sed 's#^  root: /srv/tftp$#  root: /#' "$STAGE/etc/pxed.yaml" > "$WORK/check.yaml"
"$STAGE/usr/sbin/pxed" check -c "$WORK/check.yaml" > /dev/null \
  || { echo "build-deb: the shipped configuration does not pass pxed check" >&2; exit 1; }
# Uncommenting the example lines ("#key" / "#  key" from "#interfaces:" on) gives back a valid
# full configuration.
sed -e '/^#interfaces:/,$s/^#\([^ ]\|  \)/\1/' "$WORK/check.yaml" > "$WORK/uncommented.yaml"
"$STAGE/usr/sbin/pxed" check -c "$WORK/uncommented.yaml" > /dev/null \
  || { echo "build-deb: the commented-out example in the shipped configuration is not valid" >&2; exit 1; }

install -m 0644 "$PKG/pxed.service" "$STAGE/lib/systemd/system/pxed.service"

# --- 4. Documentation: changelog (current version on top), copyright, man pages ---------------
say "docs and man pages"
CHANGELOG=$WORK/changelog
top=$(sed -n '1s/^pxed (\([^)]*\)).*/\1/p' "$PKG/deb/changelog")
if [ "$top" != "$VERSION" ]; then
  # A build of a version the changelog does not name yet (a snapshot, a test upgrade).
  maint=$(sed -n 's/^Maintainer: //p' "$PKG/deb/control.in")
  printf 'pxed (%s) unstable; urgency=medium\n\n  * Build of %s from the source tree.\n\n -- %s  %s\n\n' \
    "$VERSION" "$VERSION" "$maint" "$(date -R)" > "$CHANGELOG"
fi
cat "$PKG/deb/changelog" >> "$CHANGELOG"
# Native versions (no Debian revision) ship changelog.gz, others changelog.Debian.gz.
case $VERSION in *-*) clname=changelog.Debian.gz ;; *) clname=changelog.gz ;; esac
gzip -9n < "$CHANGELOG" > "$STAGE/usr/share/doc/pxed/$clname"
install -m 0644 "$PKG/deb/copyright" "$STAGE/usr/share/doc/pxed/copyright"

clog_date=$(sed -n '0,/^ -- /s/^ -- .*>  //p' "$CHANGELOG")
MANDATE=$(date -u -d "$clog_date" +%Y-%m-%d)
all_pages=("pxed 8" "ptftpd 8" "pdhcpd 8" "pbootpd 8" "ptftp 1")
manpage() { # name section
  local name=$1 sec=$2 dir=$WORK/help-$1 extra=$WORK/extra-$1 subs=()
  mkdir -p "$dir"
  COLUMNS=100 "$OUT/$name" --help > "$dir/main"
  if [ "$name" = pxed ]; then
    # The default subcommand carries the daemon's options; check, leases and status have their own.
    for s in serve check leases status; do COLUMNS=100 "$OUT/pxed" "$s" --help > "$dir/$s"; subs+=("$s=$dir/$s"); done
    cp "$PKG/man/pxed.8.extra" "$extra"
  else
    { echo ".SH SEE ALSO"
      local first=1 p
      for p in "${all_pages[@]}"; do
        set -- $p
        [ "$1" = "$name" ] && continue
        [ $first = 1 ] || echo ","
        printf '.BR %s (%s)' "$1" "$2"; first=0
      done
      echo; } > "$extra"
  fi
  python3 "$PKG/help2roff.py" --name "$name" --section "$sec" --version "$VERSION" --date "$MANDATE" \
    --extra "$extra" "$dir/main" "${subs[@]}" | gzip -9n > "$STAGE/usr/share/man/man$sec/$name.$sec.gz"
}
for p in "${all_pages[@]}"; do manpage $p; done

# --- 5. Control files ------------------------------------------------------------------------
say "dpkg-shlibdeps"
mkdir -p "$WORK/src/debian"
printf 'Source: pxed\n\nPackage: pxed\nArchitecture: any\n' > "$WORK/src/debian/control"
shlib=$(cd "$WORK/src" && dpkg-shlibdeps -O "$STAGE"/usr/sbin/* "$STAGE"/usr/bin/* 2> "$WORK/shlibdeps.log") \
  || { cat "$WORK/shlibdeps.log" >&2; exit 1; }
DEPENDS=${shlib#shlibs:Depends=}
[ -n "$DEPENDS" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

INSTALLED_SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@DEPENDS@/$DEPENDS/" \
    -e "s/@INSTALLED_SIZE@/$INSTALLED_SIZE/" "$PKG/deb/control.in" > "$STAGE/DEBIAN/control"
echo /etc/pxed.yaml > "$STAGE/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "$PKG/deb/$s" "$STAGE/DEBIAN/$s"; done
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
  > "$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/md5sums" "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/conffiles"

# --- 6. Pack ---------------------------------------------------------------------------------
mkdir -p "$DIST"
DEB=$DIST/pxed_${VERSION}_${ARCH}.deb
say "dpkg-deb --build"
# shellcheck disable=SC2086 # DEB_COMPRESS is a list of options
dpkg-deb $DEB_COMPRESS --build --root-owner-group "$STAGE" "$DEB" > /dev/null
say "built $DEB ($(du -h "$DEB" | cut -f1); Depends: $DEPENDS)"
