// SPDX-License-Identifier: MIT
//! `saysdemux`: Rosco dashcam recordings (`.nvr`, "SAYS" chunks) to H.264
//! per camera, mu-law or Opus audio, JPEG snapshots and per-frame telemetry
//! as JSON, all on the recording's one clock.

use gst::glib;
use gst::prelude::*;

mod imp;

/// Caps the typefinder gives `.nvr` content and the sink pad accepts.
pub const SINK_CAPS_NAME: &str = "application/x-says";

glib::wrapper! {
    pub struct SaysDemux(ObjectSubclass<imp::SaysDemux>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "saysdemux",
        gst::Rank::PRIMARY,
        SaysDemux::static_type(),
    )
}
