#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds and runs every cargo-fuzz target for N seconds each (default 30)
# and fails when any target finds something (crash, panic, hang, OOM).
#
#   scripts/fuzz.sh [seconds]
#   FUZZ_SANITIZER=none scripts/fuzz.sh 60     # without ASan (faster)
#   FUZZ_TARGETS="pavs_blocks rf1_index" scripts/fuzz.sh 600
#
# Seed corpora are generated with the crate's own writers (fuzz/examples/
# gen_seeds.rs) when fuzz/corpus is missing. Reproducers land in
# fuzz/artifacts/<target>/ (git-ignored). See docs/fuzzing.md.
set -euo pipefail

seconds=${1:-30}
sanitizer=${FUZZ_SANITIZER:-address}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
export RUSTC_BOOTSTRAP=1 # cargo-fuzz needs nightly flags; stable works this way
# GStreamer keeps its registry and types for the process lifetime by design:
# no leak report at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
# FUZZ_KEEP_GOING=1: do not stop at the first crash (libFuzzer fork mode),
# to collect several distinct findings in one run.
keep_going=()
if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
    keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

if [ ! -d corpus ]; then
    CARGO_TARGET_DIR="$root/target" cargo run --quiet --example gen_seeds -- "$root/fuzz/corpus"
fi

targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
for target in $targets; do
    cargo fuzz build --sanitizer "$sanitizer" "$target"
done

failed=()
summary=()
for target in $targets; do
    mkdir -p "corpus/$target" "artifacts/$target"
    log=$(mktemp)
    echo "== $target ($seconds s, sanitizer $sanitizer)"
    status=0
    artifacts_before=$(find "artifacts/$target" -type f | wc -l)
    cargo fuzz run --sanitizer "$sanitizer" "$target" -- \
        -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 \
        -detect_leaks=0 -print_final_stats=1 "${keep_going[@]}" >"$log" 2>&1 || status=$?
    new_artifacts=$(($(find "artifacts/$target" -type f | wc -l) - artifacts_before))
    if [ "$status" -eq 0 ] && [ "$new_artifacts" -gt 0 ]; then
        status=1 # fork mode: crashes were ignored but written
    fi
    # Executions: the final stats line, or in fork mode the last "#N:" status.
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1 || true)
    [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$log" | tr -d '#' | sort -n | tail -n 1 || true)
    corpus=$(find "corpus/$target" -type f | wc -l)
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written to|deadly signal|timeout' "$log" | head -n 12 || true
        # Replay the newest reproducers for their panic messages (fork mode
        # keeps the children's output out of the log).
        for crash in $(ls -t "artifacts/$target" | head -n 3); do
            "target/x86_64-unknown-linux-gnu/release/$target" "artifacts/$target/$crash" 2>&1 |
                grep -A1 'panicked at' | head -n 2 || true
        done
        summary+=("$target: ${runs:-?} runs, $new_artifacts new reproducer(s) (log $log)")
    else
        summary+=("$target: ${runs:-?} runs, corpus $corpus, no finding")
        rm -f "$log"
    fi
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "findings in: ${failed[*]} (reproducers in fuzz/artifacts/)"
    exit 1
fi
