// SPDX-License-Identifier: MIT
//! `cctvsrc`: one camera of a case (a folder of `.psf`/`.nvr` recordings)
//! as one seekable stream (issue 18.5): the engine's catalog finds the
//! camera's files, and its [`CameraTimeline`](crate::engine::camera_timeline)
//! reads them in capture order through the shared playback adapter.
//!
//! `files` (an array of recordings) instead of `location` plays the camera
//! over those files only: what `cctv convert` gives it for a joined export
//! (the files a window needs), so that the export has the timeline playback
//! has (one gaps policy between files).
//!
//! URIs: `cctv:///abs/path/to/backup?camera=9` (a number or a name, as
//! `cctv convert --camera` takes it); without `camera`, the case's first
//! camera. Players get such URIs through `rf1urisrc` and `rf1demux` (rank
//! PRIMARY; a source with several pads in uridecodebin got a decodebin per
//! pad and never prerolled); this element's rank is NONE.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct CaseSrc(ObjectSubclass<imp::CaseSrc>) @extends gst::Element, gst::Object, @implements gst::URIHandler;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "cctvsrc",
        gst::Rank::NONE,
        CaseSrc::static_type(),
    )
}
