// SPDX-License-Identifier: MIT
//! `rf1urisrc`: the `rf1://` URI source that playbin, uridecodebin and
//! gst-discoverer get (`rf1:///nvr/camera-0001`, `rf1:///…/<base>?tracks=…`).
//!
//! It offers the recording as one stream of caps `application/x-rf1-index`
//! and no bytes, as `filesrc` offers a `.rf1i` file: decodebin plugs
//! rf1demux, which asks upstream for the URI and plays the tracks, and
//! decodebin orders, queues (multiqueue) and selects them as for any
//! demuxer. (Exposing rf1src's pads from the source instead gave each its
//! own decodebin in uridecodebin: playbin showed whichever decoded first,
//! and a queue per pad turned the unshown track's NOT_LINKED into an
//! error.) Rank PRIMARY for the `rf1` protocol (rf1src itself has rank
//! NONE).

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct Rf1UriSrc(ObjectSubclass<imp::Rf1UriSrc>) @extends gst_base::BaseSrc, gst::Element, gst::Object, @implements gst::URIHandler;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "rf1urisrc",
        gst::Rank::PRIMARY,
        Rf1UriSrc::static_type(),
    )
}
