#!/usr/bin/env bash
# Set-up plus the whole test suite (unit and integration tests; examples are
# built too). Tests that need ../shared/samples skip with a message when it is
# absent. Ends with one summary line: "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --examples
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --lib --tests 2>&1 | tee "$log" || status=$?
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $passed passed, $failed failed"
exit $status
