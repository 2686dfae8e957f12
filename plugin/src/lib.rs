// SPDX-License-Identifier: MIT
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]
#![deny(unsafe_code)]

//! GStreamer plugin for proprietary CCTV and dashcam recordings.

use gst::glib;

// The GStreamer side: private to the plugin.
mod casesrc;
mod common;
mod cueoverlay;
mod pavsdemux;
mod rf1demux;
mod rf1src;
mod rf1urisrc;
mod saysdemux;
mod typefind;

// The engine is the crate `cctv-engine`. Re-exported at the root so that
// the element code keeps naming it `crate::engine::…`, and the `cctv`
// command, tests and fuzzers, which register these elements anyway, reach
// the engine as `gstcctv::engine::…` through one dependency.
pub use cctv_engine::{engine, formats, h264};

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    pavsdemux::register(plugin)?;
    rf1src::register(plugin)?;
    rf1demux::register(plugin)?;
    rf1urisrc::register(plugin)?;
    saysdemux::register(plugin)?;
    typefind::register(plugin)?;
    cueoverlay::register(plugin)?;
    casesrc::register(plugin)?;
    Ok(())
}

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
