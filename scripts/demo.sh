#!/usr/bin/env bash
# Set-up, build, and the main job on a built-in case: generate a small VMax
# backup folder with the crate's own writer (camera 9 in two consecutive
# files and a copy, camera 3 in one; decodable pictures), show the case with
# `cctv info`, convert it with `cctv convert` (one file per camera, joined),
# show what ffprobe reads from each MP4, and verify every export against its
# manifest (`cctv verify`).
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
cargo build --release --bin cctv --example case_sample
target="${CARGO_TARGET_DIR:-target}"
out="${1:-target/demo}"
rm -rf "$out/backup" "$out/export"
mkdir -p "$out"
"$target/release/examples/case_sample" "$out/backup"
cctv="$target/release/cctv"
echo
echo "\$ cctv info $out/backup"
"$cctv" info "$out/backup"
echo
echo "\$ cctv convert $out/backup -o $out/export   # one file per camera, its files joined"
"$cctv" convert "$out/backup" -o "$out/export"
for mp4 in "$out"/export/*.mp4; do
  echo
  echo "$mp4 as ffprobe sees it (video stream-copied, capture time as a subtitle track, the first frame's time as creation time):"
  ffprobe -v error -count_frames -show_entries stream=codec_type,codec_name,width,height,nb_read_frames:format=duration:format_tags=creation_time,title -of default=noprint_wrappers=1 "$mp4"
  ffmpeg -v error -i "$mp4" -map 0:v -f null - && echo "ffmpeg decoded every frame without an error"
done
echo
echo "\$ cctv verify $out/export/*.manifest.json   # hashes, every frame of each output against the sources"
"$cctv" verify "$out"/export/*.manifest.json
