// SPDX-License-Identifier: MIT
//! The presentation properties every source element shares (pavsdemux,
//! saysdemux, rf1src): `timezone` (the zone capture times are shown in, in
//! the subtitle cues), `clock-offset` and `max-gap`. The policies behind
//! them are the engine's (`engine::subtitle`, `engine::timeline`).

use crate::engine::zone::Zone;
use gst::glib;
use gst::prelude::*;

/// The property's description.
pub fn pspec() -> glib::ParamSpec {
    glib::ParamSpecString::builder("timezone")
        .nick("Time zone")
        .blurb(
            "Show capture times in this zone in the subtitle cues: an IANA name (e.g. \
             America/Los_Angeles, daylight saving time followed) or an offset (+HH:MM, -HH:MM, UTC). \
             Default: the zone the recording states (.nvr), else UTC. Timestamps and tags \
             stay UTC.",
        )
        .mutable_ready()
        .build()
}

/// The zone named by a property value (`None`/empty: the default). An
/// invalid name is a warning on stderr, as for any invalid GObject property
/// value, and keeps the current setting (`Err`).
pub fn parse(element: &str, value: &glib::Value) -> Result<Option<Zone>, ()> {
    let text: Option<String> = value.get().expect("type checked upstream");
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(name) => Zone::parse(name).map(Some).map_err(|e| {
            glib::g_warning!("gstcctv", "{element}: timezone: {e}");
        }),
    }
}

/// The property value for `zone`.
pub fn value(zone: Option<&Zone>) -> glib::Value {
    zone.map(|z| z.name().to_string()).to_value()
}

/// The `clock-offset` property (ns) the same elements share: how far the
/// recorder's clock was ahead of true time; cues show the corrected time.
pub fn clock_offset_pspec() -> glib::ParamSpec {
    glib::ParamSpecInt64::builder("clock-offset")
        .nick("Clock offset")
        .blurb(
            "How far the recorder's clock was ahead of true time, in ns (negative: behind): \
             the subtitle cues show the corrected time. Timestamps and the wall-clock meta \
             stay the recorder's.",
        )
        .default_value(0)
        .mutable_ready()
        .build()
}

/// The `max-gap` property (ns) of every demuxer and source: gap
/// compaction, one policy for every format (the engine's timeline);
/// `cctv convert --gaps` and the VLC module use the same value.
pub fn max_gap_pspec() -> glib::ParamSpec {
    glib::ParamSpecUInt64::builder("max-gap")
        .nick("Maximum gap")
        .blurb(
            "Gaps in the recording's time longer than this many nanoseconds are compacted to \
             one frame in the output timeline, so that players do not sit on one picture for \
             hours (0 = keep real time, gaps included). A gap where a segment could not be \
             read keeps its length. Wall-clock metadata and the subtitles always keep the \
             real time.",
        )
        .default_value(crate::engine::timeline::DEFAULT_MAX_GAP_NS)
        .mutable_ready()
        .build()
}

/// A `max-gap` value as the engine's option (0: keep real time).
pub fn max_gap(value: &glib::Value) -> Option<u64> {
    let ns: u64 = value.get().expect("type checked upstream");
    (ns > 0).then_some(ns)
}

/// The presentation settings every source element has (pavsdemux,
/// saysdemux, rf1src, cctvsrc), as the engine's options take them.
#[derive(Debug, Clone)]
pub struct Presentation {
    /// Capture-time cues (`subtitles`).
    pub subtitles: bool,
    /// The zone cue times are shown in (`timezone`; `None`: the
    /// recording's, else UTC).
    pub timezone: Option<Zone>,
    /// Recorder clock minus true time, ns (`clock-offset`).
    pub clock_offset_ns: i64,
    /// Gaps longer than this are compacted (`max-gap`; `None`: real time).
    pub max_gap: Option<u64>,
}

impl Default for Presentation {
    fn default() -> Self {
        Self {
            subtitles: true,
            timezone: None,
            clock_offset_ns: 0,
            max_gap: Some(crate::engine::timeline::DEFAULT_MAX_GAP_NS),
        }
    }
}

/// The shared properties: `subtitles` (what its pads carry: `subtitles`;
/// on by default where `subtitles_default`), `timezone`, `clock-offset`,
/// `max-gap`.
pub fn presentation_pspecs(subtitles: &str, subtitles_default: bool) -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecBoolean::builder("subtitles")
            .nick("Subtitles")
            .blurb(subtitles)
            .default_value(subtitles_default)
            .mutable_ready()
            .build(),
        pspec(),
        clock_offset_pspec(),
        max_gap_pspec(),
    ]
}

impl Presentation {
    /// Sets the shared property `name` of `element`; false when `name` is
    /// not one of them.
    pub fn set(&mut self, element: &str, name: &str, value: &glib::Value) -> bool {
        match name {
            "subtitles" => self.subtitles = value.get().expect("type checked upstream"),
            "timezone" => {
                if let Ok(zone) = parse(element, value) {
                    self.timezone = zone;
                }
            }
            "clock-offset" => self.clock_offset_ns = value.get().expect("type checked upstream"),
            "max-gap" => self.max_gap = max_gap(value),
            _ => return false,
        }
        true
    }

    /// The value of the shared property `name`, if it is one of them.
    pub fn get(&self, name: &str) -> Option<glib::Value> {
        Some(match name {
            "subtitles" => self.subtitles.to_value(),
            "timezone" => value(self.timezone.as_ref()),
            "clock-offset" => self.clock_offset_ns.to_value(),
            "max-gap" => self.max_gap.unwrap_or(0).to_value(),
            _ => return None,
        })
    }
}
