// SPDX-License-Identifier: MIT
//! `rf1urisrc`: the `rf1://` URI source that playbin, uridecodebin and
//! gst-discoverer get (`rf1:///nvr/camera-0001`, `rf1:///…/<base>?tracks=…`).
//!
//! It is an `rf1src` with a `multiqueue` behind its pads: uridecodebin puts
//! no queue after a source, and with one streaming thread for several pads
//! a subtitle cue that waits in playbin's subtitle overlay for its picture
//! would block the thread that has to deliver that picture. A multiqueue,
//! not a queue per pad: a track the player does not show returns
//! NOT_LINKED, which a queue turns into a pipeline error. Rank PRIMARY
//! for the `rf1` protocol (rf1src itself has rank NONE).

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Rf1UriSrc(ObjectSubclass<imp::Rf1UriSrc>) @extends gst::Bin, gst::Element, gst::Object, @implements gst::URIHandler;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "rf1urisrc",
        gst::Rank::PRIMARY,
        Rf1UriSrc::static_type(),
    )
}
