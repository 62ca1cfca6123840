#!/bin/bash
# A short bench/bootstorm.sh for CI: debug binaries, 20 machines, a 256 KiB loader and a 1 MiB
# kernel, against pxed (TFTP, then TFTP + HTTP) and dnsmasq. Every machine must boot: DORA
# through the relay, both files with the right bytes (pxestorm checks each download's digest).
. "$(dirname "$0")/lib.sh"
lib_init bootstorm-short 240 pxed pxestorm
need dnsmasq kea-dhcp4 in.tftpd || finish
mkdir -p "$TMP/json"
BIN=$BIN JSON_DIR=$TMP/json LOADER_KIB=256 KERNEL_MIB=1 SERVERS="pxed dnsmasq" \
  timeout 200 bash "$REPO/bench/bootstorm.sh" 20 > "$TMP/table" 2> "$TMP/err"
sed 's/^/  | /' "$TMP/table"
row_ok() { # SERVER: its row says 20 machines, 0 failed
  awk -F' *\\| *' -v s="$1" '$3 == s && $2 == 20 && $7 == "0" {ok = 1} END {exit !ok}' "$TMP/table"
}
for s in pxed pxed-http dnsmasq; do
  check_why "boot storm of 20 against $s: every machine booted" "$(grep "| $s |" "$TMP/table"; tail -2 "$TMP/err")" row_ok "$s"
done
check_why "pxestorm's JSON lists every machine's finish time" "$(head -c 300 "$TMP/json/bootstorm-pxed-20.json" 2>/dev/null)" \
  python3 -c "import json,sys; r=json.load(open('$TMP/json/bootstorm-pxed-20.json')); sys.exit(0 if r['ok'] == 20 and len(r['finish_times']) == 20 else 1)"
finish
