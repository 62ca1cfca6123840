#!/bin/bash
# A short run of bench/storm.sh for CI: debug binaries, 10 s of flood at about 800 garbage
# packets/s (a debug build handles far fewer than a release one) and 2,000 abandoned RRQs.
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
SECONDS_FLOOD=${SECONDS_FLOOD:-10} ABANDONED=${ABANDONED:-2000} FLOOD_RATE=${FLOOD_RATE:-800} BIN=${BIN:-$REPO/.build/debug} \
  exec bash "$REPO/bench/storm.sh"
