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
