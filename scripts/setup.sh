#!/usr/bin/env bash
# Installs the Debian 12 packages this crate needs to build and test
# (GStreamer 1.22 development files, stock plugins incl. gstreamer1.0-x for
# textoverlay, which players use to show subtitles, tools, ffmpeg; meson and
# ninja for the system-wide install the README describes; VLC 3 plugin
# headers, cvlc, its base plugins, its video outputs (without them `vlc
# recording.psf` plays with no picture on a desktop) and a C compiler for
# the VLC module; chromium and chromedriver for the browser tests of
# `cctv serve`).
# Skips apt when everything is already there.
set -euo pipefail
packages=(
  pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-libav gstreamer1.0-plugins-base-apps
  gstreamer1.0-x
  ffmpeg time
  gcc libc6-dev meson ninja-build libvlccore-dev vlc-bin vlc-plugin-base
  vlc-plugin-video-output
  chromium chromium-driver
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
