#!/bin/bash
# The first ten minutes, checked: scripts/demo.sh --ci boots its VM from pxed to the summary line
# and leaves nothing behind; --tftp-only --ci serves its file; the benchmarks' charts are valid
# PNG images (bench/chart.sh's three kinds, and bench/dhcp.sh's chart after a short run).
#
# The demo runs with BIN set (this suite's debug build), so it builds nothing; its packages are
# already installed by scripts/install-deps.sh, so it installs nothing. --uefi (OVMF) runs too
# (about 20 s; DEMO_UEFI=0 skips it). Offline is played by apt-get and apt-cache that fail and an
# empty cache: the demo must say so and fall back to the TFTP demo. Network rule: the demo and the bench make their own
# namespaces (checked gone afterwards); the TFTP demo uses 127.0.0.1:6969.
. "$(dirname "$0")/lib.sh"
lib_init demo-charts 900 pxed ptftp
need qemu-system-x86_64 gnuplot perfdhcp python3 || finish
PNG="python3 $(dirname "$0")/tools/png_check.py"

# --- scripts/demo.sh --ci -------------------------------------------------------------------
demo_run() { # NAME ARGS...: the demo's output in $TMP/NAME.out, its exit status in DEMO_RC
    local name=$1
    shift
    BIN=$BIN timeout 700 bash "$REPO/scripts/demo.sh" "$@" > "$TMP/$name.out" 2>&1
    DEMO_RC=$?
}
summary() { grep -m1 '^demo: summary:' "$TMP/$1.out"; }
ns_left() { ip netns list | grep -c '^pxd-demo-'; }
tmp_left() { ls -d /tmp/pxed-demo.* 2>/dev/null | wc -l; }

before_tmp=$(tmp_left)
t0=$(date +%s)
demo_run bios --ci
echo "demo --ci: $(($(date +%s) - t0)) s, exit $DEMO_RC"
check_why "demo --ci exits 0" "exit $DEMO_RC: $(tail -3 "$TMP/bios.out" | tr '\n' '|')" [ "$DEMO_RC" = 0 ]
check_why "demo --ci: the summary names the reserved address, the files and the boot time" "$(summary bios)" \
    eval 'summary bios | grep -qE "leased 10\.99\.0\.42 from pxed .*vmlinuz \([0-9]+ bytes\).*initrd\.img \([0-9]+ bytes\).*ran the initrd [0-9.]+ s after power-on"'
check_why "demo --ci: the VM's console streamed (prefixed 'vm   |'), kernel and initrd marker in it" \
    "$(grep -c '^vm   |' "$TMP/bios.out") console lines" \
    eval 'grep -q "^vm   | .*Linux version" "$TMP/bios.out" && grep -q "^vm   | PXED-DEMO userspace up" "$TMP/bios.out"'
check_why "demo --ci: pxed's log streamed (prefixed 'pxed |'), its ACK and TFTP lines in it" \
    "$(grep -c '^pxed |' "$TMP/bios.out") pxed lines" \
    eval 'grep -qE "^pxed \| .*ack .*ip=10\.99\.0\.42" "$TMP/bios.out" && grep -qE "^pxed \| .*RRQ \"vmlinuz\"" "$TMP/bios.out"'
check_why "demo --ci: it said what it was doing (packages, binaries, kernel, namespace, boot)" \
    "$(grep '^demo:' "$TMP/bios.out" | cut -c1-60 | tr '\n' '|')" \
    eval 'grep -q "^demo: Debian packages\|^demo: installing" "$TMP/bios.out" && grep -q "^demo: using the binaries" "$TMP/bios.out" &&
          grep -q "^demo: fetching Debian" "$TMP/bios.out" && grep -q "^demo: making network namespace" "$TMP/bios.out" &&
          grep -q "^demo: booting the VM" "$TMP/bios.out"'
check_why "demo --ci: removed its namespace, processes and temp dir" "$(ns_left) pxd-demo-* namespaces, $(tmp_left) temp dirs (were $before_tmp)" \
    eval '[ "$(ns_left)" = 0 ] && [ "$(tmp_left)" -le "$before_tmp" ] && grep -q "^demo: removed:" "$TMP/bios.out" && ! pgrep -f "pxed-demo\.[A-Za-z0-9]+/pxed.yaml" > /dev/null'

if [ "${DEMO_UEFI:-1}" = 1 ]; then
    t0=$(date +%s)
    demo_run uefi --ci --uefi
    echo "demo --ci --uefi: $(($(date +%s) - t0)) s, exit $DEMO_RC"
    check_why "demo --ci --uefi: OVMF booted the VM to the summary" "$(summary uefi || tail -3 "$TMP/uefi.out")" \
        eval '[ "$DEMO_RC" = 0 ] && summary uefi | grep -q "OVMF (UEFI).*leased 10\.99\.0\.42.*snponly\.efi"'
fi

# Offline: the kernel cannot be fetched.
mkdir -p "$TMP/offline-bin" "$TMP/empty-cache"
printf '#!/bin/sh\necho "offline (demo-charts.sh)" >&2\nexit 100\n' > "$TMP/offline-bin/apt-get"
cp "$TMP/offline-bin/apt-get" "$TMP/offline-bin/apt-cache"
chmod +x "$TMP/offline-bin/"*
PATH=$TMP/offline-bin:$PATH E2E_CACHE=$TMP/empty-cache demo_run offline --ci
check_why "demo --ci offline: says the kernel could not be fetched and falls back to the TFTP demo" \
    "exit $DEMO_RC: $(grep '^demo:' "$TMP/offline.out" | tail -3 | tr '\n' '|')" \
    eval '[ "$DEMO_RC" = 0 ] && grep -q "^demo: could not get the kernel.*falling back to --tftp-only" "$TMP/offline.out" &&
          summary offline | grep -q "served README.txt" && [ "$(ns_left)" = 0 ]'

demo_run tftp --ci --tftp-only
check_why "demo --ci --tftp-only: README.txt served on 127.0.0.1:6969 and fetched intact" "$(summary tftp || tail -2 "$TMP/tftp.out")" \
    eval '[ "$DEMO_RC" = 0 ] && summary tftp | grep -q "served README.txt"'
check_why "demo rejects an unknown option with a clear message and exit 2" "$(bash "$REPO/scripts/demo.sh" --bogus 2>&1)" \
    eval 'out=$(bash "$REPO/scripts/demo.sh" --bogus 2>&1); [ $? = 2 ] && echo "$out" | grep -q "unknown option .--bogus."'

# --- charts ----------------------------------------------------------------------------------
CH=$TMP/charts
mkdir -p "$CH"
printf 'a\t1000\t0\na\t2000\t0.5\nb\t1000\t0\nb\t2000\t7.25\n' | bash "$REPO/bench/chart.sh" lines "$CH/lines.png" "t" "x" "y" > /dev/null
printf 'a\t0\t0\na\t0.5\t1\na\t1.25\t2\nb with space\t0\t0\nb with space\t2\t2\n' | bash "$REPO/bench/chart.sh" steps "$CH/steps.png" "t" "x" "y" > /dev/null
printf "curl, blksize 512\tptftpd\t80.5\ncurl, blksize 512\tatftpd\tfail\nrow 2\tptftpd\t12\nrow 2\tatftpd\t9\n" |
    bash "$REPO/bench/chart.sh" bars "$CH/bars.png" "it's a title" "x" "y" > /dev/null
for k in lines steps bars; do
    check_why "bench/chart.sh $k draws a valid PNG" "$($PNG "$CH/$k.png" 2>&1)" $PNG "$CH/$k.png"
done
check_why "bench/chart.sh with no data writes no file and says so" "" \
    eval 'out=$(bash "$REPO/bench/chart.sh" lines "$CH/empty.png" t x y < /dev/null); echo "$out" | grep -q "no data" && [ ! -e "$CH/empty.png" ]'
# A short bench/dhcp.sh run (pxed only, two rates, 2 s each) draws its chart.
BIN=$BIN CHART_DIR=$CH/dhcp SERVERS=pxed RATES="200 400" PERIOD=2 CLIENTS=200 FSYNC_CHECK=0 \
    timeout 180 bash "$REPO/bench/dhcp.sh" > "$TMP/bench.out" 2>&1
check_why "bench/dhcp.sh (short run) writes dhcp.png, a valid PNG" "$(grep -E 'chart|pxed ' "$TMP/bench.out" | tail -3 | tr '\n' '|')" \
    eval 'grep -q "^chart: $CH/dhcp/dhcp.png" "$TMP/bench.out" && $PNG "$CH/dhcp/dhcp.png"'
finish
