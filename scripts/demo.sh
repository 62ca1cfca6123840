#!/bin/bash
# Sets up and runs pxed on a configuration that works out of the box: TFTP on 127.0.0.1:6969
# serving etc/demo-tftp (no DHCP, nothing leaves loopback). Ctrl-C stops it.
set -eu
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product pxed
swift build -c release --product ptftp
echo "pxed is serving etc/demo-tftp on 127.0.0.1:6969; try:  .build/release/ptftp 127.0.0.1 6969 -c get README.txt /tmp/README.txt"
exec .build/release/pxed -c etc/pxed-demo.yaml
