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
    )?;
    gst::TypeFind::register(
        Some(plugin),
        "cctv_pavs_typefind",
        gst::Rank::PRIMARY,
        Some("psf"),
        Some(&gst::Caps::new_empty_simple(SINK_CAPS_NAME)),
        typefind,
    )
}

/// A file that starts with a validating block header is certainly PAVS; one
/// whose first valid block comes after some damage is as certainly PAVS
/// when the next block follows it, else likely.
fn typefind(tf: &mut gst::TypeFind) {
    use crate::formats::pavs;
    let caps = gst::Caps::new_empty_simple(SINK_CAPS_NAME);
    if tf.peek(0, pavs::PROBE_LEN as u32).is_some_and(pavs::probe) {
        tf.suggest(gst::TypeFindProbability::Maximum, &caps);
        return;
    }
    // Not every caller knows the length: try smaller windows when a peek
    // past the end fails.
    let mut scan = tf.length().map_or(64 * 1024, |len| len.min(64 * 1024)) as u32;
    while scan >= pavs::PROBE_LEN as u32 && tf.peek(0, scan).is_none() {
        scan /= 2;
    }
    let Some(data) = tf.peek(0, scan) else {
        return;
    };
    let mut at = 0;
    while let Some(m) = pavs::find_magic(data, at) {
        if let Some(Ok(header)) = data.get(m..).map(pavs::parse_header) {
            let next = data.get(m + header.block_len..).is_some_and(pavs::probe);
            let probability = if next {
                gst::TypeFindProbability::Maximum
            } else {
                gst::TypeFindProbability::Likely
            };
            tf.suggest(probability, &caps);
            return;
        }
        at = m + 1;
    }
}
