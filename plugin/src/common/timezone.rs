// SPDX-License-Identifier: MIT
//! The `timezone` property that pavsdemux, saysdemux and rf1src share: the
//! zone capture times are shown in, in the subtitle cues.

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
