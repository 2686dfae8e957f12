// SPDX-License-Identifier: MIT
//! `rf1demux`: opens a Cyclops rf1 recording from its index file (`.rf1i`)
//! in an ordinary `filesrc ! decodebin` pipeline, so that `gst-play-1.0
//! x_video.rf1i`, playbin and file managers play it like any file.
//!
//! An rf1 track is two files (index and packets) and a segment several
//! tracks, so the bytes upstream sends are not enough: the element asks
//! upstream for the file's URI (`GST_QUERY_URI`, answered by `filesrc`
//! and `giosrc`) and plays the whole segment with an internal `rf1src`,
//! whose pads it exposes as ghost pads. It reads nothing from upstream.

use gst::glib;
use gst::prelude::*;

mod imp;

/// Caps the rf1 index typefinder gives.
pub const SINK_CAPS_NAME: &str = "application/x-rf1-index";

glib::wrapper! {
    pub struct Rf1Demux(ObjectSubclass<imp::Rf1Demux>) @extends gst::Bin, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "rf1demux",
        gst::Rank::PRIMARY,
        Rf1Demux::static_type(),
    )
}
