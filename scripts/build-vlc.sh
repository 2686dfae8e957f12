#!/usr/bin/env bash
# Builds the VLC demux module libcctv_plugin.so without meson: the engine's
# C ABI as a static library (the crate cctv-vlc in vlc/, no GStreamer), linked
# with the C shim vlc/cctv.c against VLC's plugin headers. The tests use
# this; `meson setup -Dvlc=enabled` does the same and installs the module.
#   scripts/build-vlc.sh [OUT_DIR]    (default: target/vlc/module)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}/vlc"
out="${1:-$target/module}"
mkdir -p "$out"
cargo build --release -p cctv-vlc --target-dir "$target" --quiet
cc -shared -fPIC -O2 -Wall -Wextra -Wno-unused-parameter -std=gnu11 \
  -DMODULE_STRING='"cctv"' -Ivlc vlc/cctv.c \
  $(pkg-config --cflags vlc-plugin) \
  "$target/release/libcctv_vlc.a" \
  $(pkg-config --libs vlc-plugin) -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc \
  -Wl,--gc-sections -Wl,-z,defs -Wl,--version-script=vlc/module.map \
  -o "$out/libcctv_plugin.so"
echo "$out/libcctv_plugin.so"
