#!/usr/bin/env bash
# Set-up, build, and the main job on a built-in sample: generate a VMax .psf
# with the crate's own writer (decodable pictures, a one-hour recording gap),
# convert it with `cctv convert`, show `cctv info` of the recording and
# what ffprobe reads from the MP4 that came out, and verify the export
# against its manifest (`cctv verify`).
set -euo pipefail
cd "$(dirname "$0")/.."
# Rust first: without it nothing below can work, and apt cannot give a
# recent enough one.
need="1.92"
have="$(rustc --version 2>/dev/null | awk '{print $2}' || true)"
if ! command -v cargo >/dev/null 2>&1 || [ -z "$have" ] ||
    [ "$(printf '%s\n%s\n' "$need" "${have%%-*}" | sort -V | head -n1)" != "$need" ]; then
    echo "demo.sh: Rust >= $need is needed (found: ${have:-none})." >&2
    echo "  Install it with rustup: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh" >&2
    echo "  (or 'rustup update' if rustup is installed), then run this again." >&2
    exit 1
fi
scripts/setup.sh
cargo build --release --lib --bin cctv --example psf_sample
target="${CARGO_TARGET_DIR:-target}"
out="${1:-target/demo}"
mkdir -p "$out"
"$target/release/examples/psf_sample" "$out/sample.psf"
cctv="$target/release/cctv"
echo
echo "\$ cctv convert --force $out/sample.psf -o $out"
"$cctv" convert --force "$out/sample.psf" -o "$out"
echo
echo "\$ cctv info $out/sample.psf"
"$cctv" info "$out/sample.psf"
echo
echo "The MP4 as ffprobe sees it (video stream-copied, capture time as a subtitle track, the recording's start as creation time):"
ffprobe -v error -count_frames -show_entries stream=codec_type,codec_name,width,height,nb_read_frames:format=duration:format_tags=creation_time,title -of default=noprint_wrappers=1 "$out/sample.mp4"
ffmpeg -v error -i "$out/sample.mp4" -map 0:v -f null - && echo "ffmpeg decoded every frame without an error"
echo
echo "\$ cctv verify $out/sample.manifest.json   # hashes, every frame of the output against the source"
"$cctv" verify "$out/sample.manifest.json"
