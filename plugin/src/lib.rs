// SPDX-License-Identifier: MIT
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]
#![deny(unsafe_code)]

//! GStreamer plugin for proprietary CCTV and dashcam recordings.

#[cfg(feature = "gstreamer")]
use gst::glib;

// The GStreamer side: private to the plugin.
#[cfg(feature = "gstreamer")]
mod common;
#[cfg(feature = "gstreamer")]
mod pavsdemux;
#[cfg(feature = "gstreamer")]
mod rf1demux;
#[cfg(feature = "gstreamer")]
mod rf1src;
#[cfg(feature = "gstreamer")]
mod rf1urisrc;
#[cfg(feature = "gstreamer")]
mod saysdemux;

// The C ABI for the VLC module: the crate's only unsafe code.
#[cfg(feature = "capi")]
pub mod capi;

// GStreamer-free: what other front ends (tools, tests, fuzzers) build on.
pub mod engine;
pub mod formats;
pub mod h264;
#[cfg(feature = "gstreamer")]
mod typefind;

#[cfg(feature = "gstreamer")]
fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    pavsdemux::register(plugin)?;
    rf1src::register(plugin)?;
    rf1demux::register(plugin)?;
    rf1urisrc::register(plugin)?;
    saysdemux::register(plugin)?;
    typefind::register(plugin)?;
    Ok(())
}

#[cfg(feature = "gstreamer")]
gst::plugin_define!(
    cctv,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    // source module, binary package, origin (no public URL yet: the
    // project's name rather than a placeholder address)
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    "gst-cctv",
    env!("BUILD_REL_DATE")
);
