// SPDX-License-Identifier: MIT
//! `rf1src`: plays Cyclops NVR "rf1" recordings (a segment, a track file or a
//! whole camera directory) as H.264/H.265 byte-stream, one pad per track.
//!
//! URIs: the URI handler registers the scheme `rf1` (`rf1:///abs/path`, so
//! `playbin`, `uridecodebin` and `gst-discoverer-1.0` pick this element).
//! `gst_uri_handler_set_uri` also accepts `file:///abs/path`, but `file` is
//! not registered: `filesrc` keeps plain file URIs and nothing is hijacked.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Rf1Src(ObjectSubclass<imp::Rf1Src>) @extends gst::Element, gst::Object, @implements gst::URIHandler;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "rf1src",
        gst::Rank::NONE,
        Rf1Src::static_type(),
    )
}
