// SPDX-License-Identifier: MIT
#![deny(unsafe_code)]

//! The GStreamer-free engine of gst-cctv, which every front end drives: the
//! GStreamer elements (`gst-plugin-cctv`), the VLC library (`cctv-vlc`),
//! the `cctv` command, tests and fuzzers. See docs/engine.md.

pub mod engine;
pub mod formats;
pub mod h264;
