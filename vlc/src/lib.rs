// SPDX-License-Identifier: MIT
#![deny(unsafe_code)]

//! The static library the VLC demux module (`cctv.c`) links: the engine
//! behind a C ABI ([`capi`]), with neither GStreamer nor GLib.

// `capi` names the engine as `crate::engine::…` (its tests also
// `crate::formats`, `crate::h264` for the writers), as when it lived in the
// crate of the engine.
use cctv_engine::engine;
#[cfg(test)]
use cctv_engine::{formats, h264};

// The C ABI: the workspace's only unsafe code.
pub mod capi;
