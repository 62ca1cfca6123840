#!/bin/bash
# The whole test suite: unit tests (swift test), then the integration scripts that run pxed's
# tools against real peers on loopback and in network namespaces made by the scripts.
set -u
cd "$(dirname "$0")/.."
REPO=$(pwd)
bash scripts/install-deps.sh || { echo "dependency install failed"; exit 1; }
build_start=$(date +%s)
swift build --build-tests 2>&1 | grep -E "error|warning: unre|Compiling|Build complete" | grep -v "^\[" | tail -5
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build failed"; exit 1; }
echo "=== build (debug, with tests): $(( $(date +%s) - build_start )) s"

unit_rc=0
swift test --skip-build 2>&1 | tee /tmp/pxed-unit.log | grep -E "✘|Test run with|error:" | tail -40
unit_rc=${PIPESTATUS[0]}

passed=0; failed=0; failures=()
for script in Tests/integration/*.sh; do
  [ "$(basename "$script")" = lib.sh ] && continue
  [ -n "${ONLY:-}" ] && [[ "$script" != *"$ONLY"* ]] && continue
  echo "=== $script"
  start=$(date +%s)
  if BIN="$REPO/.build/debug" REPO="$REPO" timeout 900 bash "$script"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failures+=("$script")
  fi
  echo "=== $script: $(( $(date +%s) - start )) s"
done
[ ${#failures[@]} -gt 0 ] && printf 'failed script: %s\n' "${failures[@]}"
[ "$unit_rc" -ne 0 ] && echo "unit tests failed (see above)"
echo "integration: $passed passed, $failed failed"
[ "$unit_rc" -eq 0 ] && [ "$failed" -eq 0 ]
