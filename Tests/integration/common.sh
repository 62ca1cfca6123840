# Shared helpers for the integration scripts: counters, cleanup, waiting.
PASSED=0; FAILED=0
pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; FAILED=$((FAILED + 1)); }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
summary() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" -eq 0 ]; }
# wait_for_log FILE PATTERN [SECONDS]: true once PATTERN appears in FILE.
wait_for_log() {
  local i; for i in $(seq 1 $(( ${3:-10} * 20 ))); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
# ns_pair TAG NET: a server namespace pxd-TAGs-PID and a client namespace pxd-TAGc-PID joined by a
# veth pair (TAG0-PID in the server with NET.1/16, TAG1-PID in the client with NET.2/16). Sets
# SRV, CLI, SIF, CIF. Remove them with ns_pair_remove (call it from the script's EXIT trap).
ns_pair() {
  SRV=pxd-$1s-$$; CLI=pxd-$1c-$$; SIF=${1}0-$$; CIF=${1}1-$$
  ip netns add "$SRV"; ip netns add "$CLI"
  ip -n "$SRV" link set lo up; ip -n "$CLI" link set lo up
  ip link add "$SIF" netns "$SRV" type veth peer name "$CIF" netns "$CLI"
  ip -n "$SRV" addr add "$2.1/16" dev "$SIF"; ip -n "$SRV" link set "$SIF" up
  ip -n "$CLI" addr add "$2.2/16" dev "$CIF"; ip -n "$CLI" link set "$CIF" up
}
ns_pair_remove() { [ -n "${CLI:-}" ] && ip netns del "$CLI" 2>/dev/null; [ -n "${SRV:-}" ] && ip netns del "$SRV" 2>/dev/null; return 0; }
