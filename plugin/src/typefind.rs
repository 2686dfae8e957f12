// SPDX-License-Identifier: MIT
//! GStreamer typefinders for the formats, on the engine's probes: files are
//! found by content, whatever their name.

use crate::engine::probe::{self, Certainty};
use gst::glib;

fn probability(certainty: Certainty) -> gst::TypeFindProbability {
    match certainty {
        Certainty::Certain => gst::TypeFindProbability::Maximum,
        Certainty::Likely => gst::TypeFindProbability::Likely,
    }
}

/// The first `want` bytes, or as many as the caller can give: not every
/// caller knows the length, so smaller windows are tried when a peek past
/// the end fails.
fn peek_up_to(tf: &mut gst::TypeFind, want: usize, least: usize) -> Option<Vec<u8>> {
    let mut scan = tf.length().map_or(want as u64, |len| len.min(want as u64)) as u32;
    while scan as usize >= least {
        if let Some(data) = tf.peek(0, scan) {
            return Some(data.to_vec());
        }
        scan /= 2;
    }
    None
}

fn pavs(tf: &mut gst::TypeFind) {
    let caps = gst::Caps::new_empty_simple(crate::pavsdemux::SINK_CAPS_NAME);
    let least = crate::formats::pavs::PROBE_LEN;
    if let Some(head) = tf.peek(0, least as u32)
        && probe::pavs(head) == Some(Certainty::Certain)
    {
        tf.suggest(gst::TypeFindProbability::Maximum, &caps);
        return;
    }
    let Some(data) = peek_up_to(tf, probe::PAVS_PROBE_WINDOW, least) else {
        return;
    };
    if let Some(c) = probe::pavs(&data) {
        tf.suggest(probability(c), &caps);
    }
}

fn says(tf: &mut gst::TypeFind) {
    let len = crate::formats::says::PROBE_LEN as u32;
    if let Some(c) = tf.peek(0, len).and_then(probe::says) {
        tf.suggest(
            probability(c),
            &gst::Caps::new_empty_simple(crate::saysdemux::SINK_CAPS_NAME),
        );
    }
}

fn rf1_index(tf: &mut gst::TypeFind) {
    let len = probe::RF1_INDEX_PROBE_LEN as u32;
    if let Some(c) = tf.peek(0, len).and_then(probe::rf1_index) {
        tf.suggest(
            probability(c),
            &gst::Caps::new_empty_simple(crate::rf1demux::SINK_CAPS_NAME),
        );
    }
}

/// SECONDARY: below the stock typefinders (PRIMARY), which therefore run
/// first and keep what they find; a probe that is certain still wins, as it
/// suggests MAXIMUM, but one that only finds a format likely does not outvote
/// a stock finder's equal guess (typefinding keeps the first of equal
/// suggestions, and at equal rank ours would come first by name).
const RANK: gst::Rank = gst::Rank::SECONDARY;

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::TypeFind::register(
        Some(plugin),
        "cctv_rf1_index_typefind",
        RANK,
        Some("rf1i"),
        Some(&gst::Caps::new_empty_simple(
            crate::rf1demux::SINK_CAPS_NAME,
        )),
        rf1_index,
    )?;
    gst::TypeFind::register(
        Some(plugin),
        "cctv_pavs_typefind",
        RANK,
        Some("psf"),
        Some(&gst::Caps::new_empty_simple(
            crate::pavsdemux::SINK_CAPS_NAME,
        )),
        pavs,
    )?;
    gst::TypeFind::register(
        Some(plugin),
        "cctv_says_typefind",
        RANK,
        Some("nvr"),
        Some(&gst::Caps::new_empty_simple(
            crate::saysdemux::SINK_CAPS_NAME,
        )),
        says,
    )
}
