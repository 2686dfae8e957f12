// SPDX-License-Identifier: MIT
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]
#![deny(unsafe_code)]

//! GStreamer plugin for proprietary CCTV and dashcam recordings.

use gst::glib;

pub mod common;
pub mod engine;
pub mod formats;
pub mod pavsdemux;
pub mod rf1src;
pub mod saysdemux;
mod typefind;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    pavsdemux::register(plugin)?;
    rf1src::register(plugin)?;
    saysdemux::register(plugin)?;
    typefind::register(plugin)?;
    Ok(())
}

gst::plugin_define!(
    cctv,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
