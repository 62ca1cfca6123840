#!/bin/bash
# Replays the committed fuzz corpora through the fuzz targets built normally (no sanitizer):
# every input that ever mattered must still be handled without a trap or a broken invariant.
. "$(dirname "$0")/lib.sh"
lib_init fuzz-replay 850
for target in FuzzTFTP FuzzDHCP FuzzDHCPv6 FuzzConfig; do
  if [ ! -x "$BIN/$target" ]; then (cd "$REPO" && swift build --product "$target" >/dev/null 2>&1); fi
  out=$("$BIN/$target" "$REPO/fuzz/corpus/$target" 2>&1); rc=$?
  check "$target replays its corpus ($out)" test $rc -eq 0
done
finish
