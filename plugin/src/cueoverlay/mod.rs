// SPDX-License-Identifier: MIT
//! `cctvcueoverlay`: the subtitle renderer players get for the elements'
//! capture-time cues. It is `textoverlay` with a pacer on the text input,
//! chosen by `subtitleoverlay` (playbin's, gst-play's, Totem's overlay) for
//! cue caps only ([`crate::common::present::text_caps`] carries the field
//! [`CUE_FIELD`]); other subtitles keep the stock renderers.
//!
//! Why: textoverlay (GStreamer 1.22) holds one text buffer and its text
//! input waits until a picture takes that buffer off. Only pictures do; a
//! picture takes off at most one late cue; neither a GAP nor the video's
//! EOS releases it. When pictures run ahead of the cues (no sync to the
//! clock, a decoder's burst of pictures at the end), late cues pile up on
//! the text input; after the last picture one is held and the next waits
//! forever, and streamsynchronizer holds the video's EOS until the text's:
//! the player never ends (`gst-play-1.0 --videosink="fakesink sync=false"`
//! stalled on `video3.psf` in a few runs of twenty). The pacer hands
//! textoverlay a cue only when its slot is free, drops cues no picture can
//! show any more (textoverlay would drop them unshown, one per picture),
//! and drops the rest once the pictures have ended, so the text reaches
//! its EOS.

use gst::glib;
use gst::prelude::*;

mod imp;
mod pacer;

/// The caps field that marks the elements' cue streams; `subtitleoverlay`
/// picks this renderer only for caps that have it.
pub const CUE_FIELD: &str = "cctv-cue";

glib::wrapper! {
    pub struct CueOverlay(ObjectSubclass<imp::CueOverlay>) @extends gst::Bin, gst::Element, gst::Object, @implements gst::ChildProxy;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    // Rank PRIMARY among subtitle renderers (subtitleoverlay needs at least
    // MARGINAL); it only accepts cue caps, so it outvotes no stock renderer.
    gst::Element::register(
        Some(plugin),
        "cctvcueoverlay",
        gst::Rank::PRIMARY,
        CueOverlay::static_type(),
    )
}
