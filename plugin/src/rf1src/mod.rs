// SPDX-License-Identifier: MIT
//! `rf1src`: plays Cyclops NVR "rf1" recordings (a segment, a track file or a
//! whole camera directory) as H.264/H.265 byte-stream, one pad per track.
//!
//! URIs: the handler takes `rf1:///abs/path` and `file:///abs/path`. The
//! element's rank is NONE, so `gst_element_make_from_uri` gives `file://`
//! to `filesrc` (PRIMARY) as before, while `rf1://` always finds this element
//! (`playbin`, `uridecodebin`, `gst-discoverer-1.0 rf1:///…`).

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
