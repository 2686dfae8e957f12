#!/usr/bin/env bash
# Set-up plus the whole test suite (unit and integration tests; examples are
# built too). Tests that need ../shared/samples are #[ignore]d: they run
# (--include-ignored) when that directory exists, and are reported as
# skipped otherwise; in CI (CI=true) the samples are required. Ends with one
# summary line: "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --lib --bins --examples
# The VLC module through meson (option vlc), as an install would build it;
# tests/vlc.rs builds its own copy with scripts/build-vlc.sh.
target="${CARGO_TARGET_DIR:-target}"
if [ -f "$target/meson/build.ninja" ]; then
  meson configure "$target/meson" -Dvlc=enabled >/dev/null
else
  meson setup "$target/meson" -Dvlc=enabled >/dev/null
fi
ninja -C "$target/meson" libcctv_plugin.so >/dev/null
samples="$(pwd)/../shared/samples"
extra=()
if [ -d "$samples" ]; then
  extra=(--include-ignored)
elif [ "${CI:-}" = "true" ]; then
  echo "CI needs the samples in $samples" >&2
  exit 1
else
  echo "NOTE: $samples not found: the sample tests are skipped (reported as ignored)"
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --no-fail-fast --lib --tests -- "${extra[@]}" 2>&1 | tee "$log" || status=$?
# The browser tests of `cctv serve` (tests/serve.rs, named page_*) are
# #[ignore]d (skipped where chromium is missing); setup.sh installs
# chromium, so run them here too when the sample run above did not.
if [ ${#extra[@]} -eq 0 ] && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  cargo test --no-fail-fast --test serve -- --ignored page_ 2>&1 | tee -a "$log" || status=$?
fi
# The C ABI's unit tests, built without GStreamer as the VLC module is.
cargo test --lib --no-default-features --features capi --target-dir "$target/vlc" capi:: 2>&1 | tee -a "$log" || status=$?
passed=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
skipped=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ ignored' | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
