#!/usr/bin/env bash
# Set-up, build, and the main job on a built-in sample: generate a VMax .psf
# with the crate's own writer, convert it to MP4 with gst-launch-1.0 and the
# built plugin, and show what came out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --lib --examples
target="${CARGO_TARGET_DIR:-target}"
out="${1:-target/demo}"
mkdir -p "$out"
"$target/release/examples/psf_sample" "$out/sample.psf"
export GST_PLUGIN_PATH="$(cd "$target/release" && pwd)${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
echo
echo "\$ gst-launch-1.0 filesrc location=$out/sample.psf ! pavsdemux ! h264parse ! mp4mux ! filesink location=$out/sample.mp4"
gst-launch-1.0 -q filesrc location="$out/sample.psf" ! pavsdemux ! h264parse ! mp4mux ! filesink location="$out/sample.mp4"
echo
echo "What came out of pavsdemux:"
"$target/release/examples/psf_info" "$out/sample.psf"
echo
echo "The MP4 as ffprobe sees it:"
ffprobe -v error -count_frames -show_entries stream=codec_name,width,height,sample_aspect_ratio,nb_read_frames:format=duration -of default=noprint_wrappers=1 "$out/sample.mp4"
ffmpeg -v error -i "$out/sample.mp4" -f null - && echo "ffmpeg decoded every frame without an error"
