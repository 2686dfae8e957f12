#!/usr/bin/env bash
# Set-up plus the whole test suite (unit and integration tests; examples are
# built too). Tests that need ../shared/samples are #[ignore]d: they run
# (--include-ignored) when that directory exists, and are reported as
# skipped otherwise; in CI (CI=true) the samples are required. Ends with one
# summary line: "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --lib --bins --examples
# The plugin, the command and the VLC module through meson (option vlc), as
# the README's install builds them (for the install test below);
# tests/vlc.rs builds its own copy of the module with scripts/build-vlc.sh.
target="${CARGO_TARGET_DIR:-target}"
if [ -f "$target/meson/build.ninja" ]; then
  meson configure "$target/meson" -Dvlc=enabled >/dev/null
else
  meson setup "$target/meson" -Dvlc=enabled >/dev/null
fi
ninja -C "$target/meson" >/dev/null
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
root=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$root"' EXIT
status=0

# The README's install (meson setup, compile, install), staged into a
# scratch root (DESTDIR) instead of /: the plugin must land in the directory
# the system's GStreamer loads plugins from (that of its own coreelements)
# and the VLC module beside VLC's own demuxers, so that players find them
# with no GST_PLUGIN_PATH or VLC_PLUGIN_PATH. GStreamer is then pointed at
# the staged copy of that directory alone and must load every element.
install_test() {
  DESTDIR="$root" meson install -C "$target/meson" --no-rebuild >/dev/null || return 1
  local core gstdir plugin vlcdir module e
  core=$(env -u GST_PLUGIN_PATH -u GST_PLUGIN_SYSTEM_PATH gst-inspect-1.0 coreelements |
    sed -n 's/^ *Filename *//p')
  gstdir=$(dirname "$core")
  # Where it went, as a path on this system (/lib may be a link to /usr/lib).
  plugin=$(cd "$root" && find . -name libgstcctv.so | sed 's/^\.//' | head -1)
  if [ -z "$plugin" ] || [ "$(readlink -f "$(dirname "$plugin")")" != "$(readlink -f "$gstdir")" ]; then
    echo "install test: libgstcctv.so went to '$plugin', not to $gstdir, where GStreamer loads plugins from" >&2
    return 1
  fi
  for e in pavsdemux saysdemux rf1src rf1demux rf1urisrc; do
    if ! env -u GST_PLUGIN_PATH GST_PLUGIN_SYSTEM_PATH="$root$(dirname "$plugin")" \
      GST_REGISTRY="$root/registry.bin" gst-inspect-1.0 "$e" >/dev/null; then
      echo "install test: gst-inspect-1.0 $e finds no element in the installed plugin" >&2
      return 1
    fi
  done
  vlcdir=$(dirname "$(dpkg -L vlc-plugin-base | grep '/demux/libmp4_plugin\.so$')")
  module=$(cd "$root" && find . -name libcctv_plugin.so | sed 's/^\.//' | head -1)
  if [ -z "$module" ] || [ "$(readlink -f "$(dirname "$module")")" != "$(readlink -f "$vlcdir")" ]; then
    echo "install test: libcctv_plugin.so went to '$module', not to $vlcdir, beside VLC's demuxers" >&2
    return 1
  fi
  [ -x "$root$(meson introspect --buildoptions "$target/meson" |
    python3 -c 'import json,sys; o={x["name"]:x["value"] for x in json.load(sys.stdin)}; print(o["prefix"]+"/"+o["bindir"])')/cctv" ] || {
    echo "install test: no cctv command in <prefix>/<bindir>" >&2
    return 1
  }
}
install_result="ok. 1 passed; 0 failed; 0 ignored"
if ! install_test; then
  install_result="FAILED. 0 passed; 1 failed; 0 ignored"
  status=1
fi
echo "install test (DESTDIR meson install): $install_result"
echo "test result: $install_result" >>"$log"
# Every crate of the workspace: the engine's, the C ABI's (built without
# GStreamer, as the VLC module is) and the command's unit tests, and the
# integration tests in tests/.
cargo test --workspace --no-fail-fast --lib --tests -- "${extra[@]}" 2>&1 | tee -a "$log" || status=$?
# The browser tests of `cctv serve` (tests/serve.rs, named page_*) are
# #[ignore]d (skipped where chromium is missing); setup.sh installs
# chromium, so run them here too when the sample run above did not.
if [ ${#extra[@]} -eq 0 ] && [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  cargo test --no-fail-fast --test serve -- --ignored page_ 2>&1 | tee -a "$log" || status=$?
fi
passed=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
skipped=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ ignored' | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
