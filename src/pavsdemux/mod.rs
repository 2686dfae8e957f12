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
/// whose first valid block comes after some damage is likely PAVS.
fn typefind(tf: &mut gst::TypeFind) {
    use crate::formats::pavs;
    let caps = gst::Caps::new_empty_simple(SINK_CAPS_NAME);
    if tf.peek(0, pavs::PROBE_LEN as u32).is_some_and(pavs::probe) {
        tf.suggest(gst::TypeFindProbability::Maximum, &caps);
        return;
    }
    const SCAN: usize = 64 * 1024;
    let Some(data) = tf.peek(0, SCAN as u32) else {
        return;
    };
    let mut at = 0;
    while let Some(m) = pavs::find_magic(data, at) {
        if data.get(m..).is_some_and(pavs::probe) {
            tf.suggest(gst::TypeFindProbability::Likely, &caps);
            return;
        }
        at = m + 1;
    }
}
