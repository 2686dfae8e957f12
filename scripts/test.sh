#!/usr/bin/env bash
# Set-up plus the whole test suite. Tests that need ../shared/samples skip
# with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --all-targets
