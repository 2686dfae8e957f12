// SPDX-License-Identifier: MIT
//! What a recorder logged with a frame (a dashcam's speed, GPS fix,
//! supply voltage and g-sensor), as typed values on the frame's packet
//! ([`crate::engine::Packet::telemetry`]).
//!
//! Front ends read these values directly (cues, `cctv telemetry`, the
//! track of `cctv serve`); only a GStreamer `meta_N` pad that someone
//! linked gets them as JSON (the format's full metadata list): formatting
//! JSON for every frame and parsing it back was a round trip per frame.

/// One frame's sensor values; `None` where the recording has none (or an
/// invalid or non-finite value).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Telemetry {
    /// Speed in km/h.
    pub speed_kmh: Option<f64>,
    /// A valid GPS fix: latitude and longitude in degrees.
    pub fix: Option<(f64, f64)>,
    /// Altitude of the fix, metres.
    pub altitude_m: Option<f64>,
    /// Heading of the fix, degrees.
    pub heading_deg: Option<f64>,
    /// Supply voltage, volts.
    pub voltage: Option<f64>,
    /// Acceleration (x, y, z), in g.
    pub acceleration_g: Option<(f64, f64, f64)>,
}
