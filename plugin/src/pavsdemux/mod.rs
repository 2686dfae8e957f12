// SPDX-License-Identifier: MIT
//! `pavsdemux`: VMax DVR backups (`.psf`) to H.264 byte-stream, one pad per
//! camera channel.

use gst::glib;
use gst::prelude::*;

mod imp;

/// Caps the typefinder gives `.psf` content and the sink pad accepts.
pub const SINK_CAPS_NAME: &str = "video/x-pavs";

glib::wrapper! {
    pub struct PavsDemux(ObjectSubclass<imp::PavsDemux>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "pavsdemux",
        gst::Rank::PRIMARY,
        PavsDemux::static_type(),
    )
}
