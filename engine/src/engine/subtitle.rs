// SPDX-License-Identifier: MIT
//! On-screen text for recordings: the capture date-time (and, for dashcams,
//! speed and position) as a subtitle cue per second of capture time, the
//! way the vendors' players show it over the picture. Every front end gets
//! the same cues: they are packets of a [`StreamKind::Subtitle`] stream with
//! [`Codec::Text`], timed like the frame they belong to.

use super::format::{Codec, Packet, Part, StreamId, StreamInfo, StreamKind, Tags};

/// The subtitle stream that goes with video stream `video` (same number).
pub const fn stream_for(video: StreamId) -> StreamId {
    StreamId::new(StreamKind::Subtitle, video.number)
}

/// Description of a subtitle stream: `name` is its pad name, `title` says
/// what it shows (e.g. "Capture time, camera 9").
pub fn stream_info(id: StreamId, name: String, title: String, mut tags: Tags) -> StreamInfo {
    tags.title = Some(title);
    tags.video_codec = None;
    tags.audio_codec = None;
    tags.subtitle_codec = Some("UTF-8 text");
    StreamInfo {
        id,
        name,
        codec: Codec::Text,
        width: None,
        height: None,
        pixel_aspect: None,
        framerate: None,
        sparse: false,
        codec_config: None,
        tags,
    }
}

/// A cue packet: `text` shown from `pts` until the next cue (no duration:
/// front ends give it the time to the next one). Formats put a frame's cue
/// (and its stream) before the frame's own packet (and stream): a player's
/// overlay then has the text before the picture, up to the last frame.
pub fn cue<C>(
    stream: StreamId,
    pts: Option<u64>,
    wallclock_ns: Option<u64>,
    text: String,
) -> Packet<C> {
    Packet {
        stream,
        pts,
        dts: pts,
        duration: None,
        key: true,
        discont: false,
        wallclock_ns,
        parts: vec![Part::Owned(text.into_bytes())],
        origin: None,
        telemetry: None,
    }
}

/// Decides which frames get a cue: the first one, the first after a
/// discontinuity (start, seek, damage), the first of every other second of
/// capture time, and the first [`CUE_REFRESH_NS`] of running time after the
/// last cue; a cue lasts until the next one.
///
/// One cue per frame was too many for players: playbin's overlay takes at
/// most one late cue per picture, so with pictures decoded faster than
/// real time the cues fell behind, and at the end the overlay kept waiting
/// for a picture to consume them while the sink waited for the text to end
/// (gst-play stalled in 6 of 8 runs of two_cameras.nvr). The refresh keeps
/// the subtitle stream close to its pictures (cues are held until the next
/// one, and a muxer holds one more), so that a muxer fed through default
/// queues (1 s) always has the cue it waits for.
///
/// The refresh never comes on the frame right after a cue (a new second,
/// a discontinuity or time going back always get one): playbin's overlay (textoverlay with `wait-text=false`,
/// as subtitleoverlay sets it) lets a picture go on without text when the
/// next cue is not there yet, and pops at most one cue per picture. With a
/// cue per frame (a 2 fps `.psf`: every frame was 250 ms after the last
/// cue) every race the text thread lost put it one cue further behind for
/// good, and at the end the overlay still held an old cue while the next
/// one waited behind it and streamsynchronizer held the video's EOS until
/// the text's: the player never ended (gst-play with sync=false: video2.psf
/// 4 of 20 runs). With at least two frames per cue (2 fps: the second
/// changes every other frame) the text catches up; at 1 fps every frame is
/// a new second and still gets its cue.
#[derive(Debug, Clone, Default)]
pub struct CueGate {
    last_second: Option<u64>,
    last_pts: Option<u64>,
    /// Frames seen since the last cue.
    frames_since: u32,
}

/// Running time after which a frame gets a cue even in the same second.
pub const CUE_REFRESH_NS: u64 = 250_000_000;

/// Frames from one cue to a refresh, at least (see [`CueGate`]).
pub const MIN_FRAMES_PER_CUE: u32 = 2;

impl CueGate {
    /// Whether the frame captured at `wallclock_ns`, at running time `pts`,
    /// gets a cue.
    pub fn due(&mut self, wallclock_ns: Option<u64>, pts: Option<u64>, discont: bool) -> bool {
        // Frames without a wall clock count as one "second" of their own.
        let second = wallclock_ns.map_or(u64::MAX, |ns| ns / 1_000_000_000);
        let back = matches!((self.last_pts, pts), (Some(last), Some(now)) if now < last);
        let stale = match (self.last_pts, pts) {
            (Some(last), Some(now)) => now.saturating_sub(last) >= CUE_REFRESH_NS,
            _ => true,
        };
        self.frames_since = self.frames_since.saturating_add(1);
        let spaced = self.frames_since >= MIN_FRAMES_PER_CUE || self.last_pts.is_none();
        let due = discont || back || self.last_second != Some(second) || (spaced && stale);
        if due {
            self.last_second = Some(second);
            self.last_pts = pts;
            self.frames_since = 0;
        }
        due
    }

    /// The next frame gets a cue (after a seek or a flush).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// A [`CueGate`] per subtitle stream, made on first use.
#[derive(Debug, Clone, Default)]
pub struct CueGates(Vec<(StreamId, CueGate)>);

impl CueGates {
    /// [`CueGate::due`] for the cue stream `stream`.
    pub fn due(
        &mut self,
        stream: StreamId,
        wallclock_ns: Option<u64>,
        pts: Option<u64>,
        discont: bool,
    ) -> bool {
        let i = match self.0.iter().position(|(s, _)| *s == stream) {
            Some(i) => i,
            None => {
                self.0.push((stream, CueGate::default()));
                self.0.len() - 1
            }
        };
        self.0[i].1.due(wallclock_ns, pts, discont)
    }
}

/// The capture time as people read it on a recorder's screen, to the
/// second: `2021-09-01 07:00:01 UTC`, or in the recorder's time zone when
/// the file gives one (`offset_min` east of UTC): `2021-04-16 10:03:27 -04:00`.
/// The true time of a capture time by a recorder clock `clock_offset_ns`
/// ahead (negative: behind) of it: what cues show when a clock offset is
/// set (evidence exports); the packets keep the recorder's time.
pub fn corrected_ns(unix_ns: u64, clock_offset_ns: i64) -> u64 {
    (i128::from(unix_ns) - i128::from(clock_offset_ns)).clamp(0, i128::from(u64::MAX)) as u64
}

pub fn capture_time(unix_ns: u64, offset_min: Option<i32>) -> String {
    let offset_min = offset_min.filter(|m| m.abs() <= 16 * 60);
    // u64 ns since 1970 end in 2554: whole seconds fit an i64.
    let local = super::zone::Civil::at((unix_ns / 1_000_000_000) as i64, offset_min.unwrap_or(0));
    let (y, mo, d) = (local.year, local.month, local.day);
    let (h, mi, s) = (local.hour, local.minute, local.second);
    let zone = match offset_min {
        None | Some(0) => "UTC".to_string(),
        Some(m) => super::zone::offset_text(m),
    };
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} {zone}")
}

/// The offset (minutes east of UTC) a capture time at `unix_ns` is shown
/// with: the zone the user asked for, else the recording's own
/// (`file_offset_min`), else none (UTC).
pub fn shown_offset(
    unix_ns: u64,
    zone: Option<&super::zone::Zone>,
    file_offset_min: Option<i32>,
) -> Option<i32> {
    zone.map(|z| z.offset_min_at(unix_ns)).or(file_offset_min)
}

/// The cue of a frame captured at `wallclock_ns` (by the recorder's
/// clock, `clock_offset_ns` ahead of true time): the corrected capture
/// time in `zone` (else the recording's `file_offset_min`, else UTC), then
/// what the recorder logged with the frame (speed, position). The one
/// cue text of every format and front end.
pub fn cue_text(
    wallclock_ns: Option<u64>,
    zone: Option<&super::zone::Zone>,
    clock_offset_ns: i64,
    file_offset_min: Option<i32>,
    telemetry: Option<&super::telemetry::Telemetry>,
) -> String {
    let shown = wallclock_ns.map(|ns| corrected_ns(ns, clock_offset_ns));
    let offset = shown.and_then(|ns| shown_offset(ns, zone, file_offset_min));
    frame_text(
        shown,
        offset,
        telemetry.and_then(|t| t.speed_kmh),
        telemetry.and_then(|t| t.fix),
    )
}

/// The on-screen text of one frame: capture time (in the recorder's zone
/// when known), then speed and position where the recording has them.
pub fn frame_text(
    wallclock_ns: Option<u64>,
    utc_offset_min: Option<i32>,
    speed_kmh: Option<f64>,
    fix: Option<(f64, f64)>,
) -> String {
    let mut items = Vec::new();
    if let Some(ns) = wallclock_ns {
        items.push(capture_time(ns, utc_offset_min));
    }
    if let Some(text) = speed_kmh.and_then(speed) {
        items.push(text);
    }
    if let Some(text) = fix.and_then(|(lat, lon)| position(lat, lon)) {
        items.push(text);
    }
    items.join("  ")
}

/// Speed in km/h as shown on a dashcam overlay: `42 km/h`.
pub fn speed(kmh: f64) -> Option<String> {
    (kmh.is_finite() && kmh >= 0.0).then(|| format!("{kmh:.0} km/h"))
}

/// A position as shown on a dashcam overlay: `GPS 40.71280 N 74.00600 W`.
pub fn position(lat: f64, lon: f64) -> Option<String> {
    let ok = lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0;
    ok.then(|| {
        let ns = if lat < 0.0 { 'S' } else { 'N' };
        let ew = if lon < 0.0 { 'W' } else { 'E' };
        format!("GPS {:.5} {ns} {:.5} {ew}", lat.abs(), lon.abs())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cue_per_second_refreshed_and_after_every_discontinuity() {
        const S: u64 = 1_000_000_000;
        const MS: u64 = 1_000_000;
        let mut gate = CueGate::default();
        let t0 = 1_630_479_601 * S;
        // 10 fps from .0 s: a cue at 0, 300 (refresh), 600, 900 ms, then
        // the next second at 1000 ms.
        let due: Vec<u64> = (0..12)
            .filter(|i| gate.due(Some(t0 + i * 100 * MS), Some(i * 100 * MS), false))
            .collect();
        assert_eq!(due, [0, 3, 6, 9, 10]);
        // A discontinuity or time going back always gets one.
        assert!(gate.due(Some(t0 + 1_100 * MS), Some(1_100 * MS), true));
        assert!(gate.due(Some(t0 + 1_150 * MS), Some(1_000 * MS), false));
        gate.reset();
        assert!(gate.due(Some(t0 + 1_150 * MS), Some(1_000 * MS), false));
        // Without a wall clock: only the refresh.
        let mut gate = CueGate::default();
        assert!(gate.due(None, Some(0), false));
        assert!(!gate.due(None, Some(100 * MS), false));
        assert!(gate.due(None, Some(250 * MS), false));
        // 2 fps (a .psf): every frame is 500 ms after the last one, a cue
        // every other frame.
        let mut gate = CueGate::default();
        let due: Vec<u64> = (0..8)
            .filter(|i| {
                gate.due(
                    Some(t0 + 454 * MS + i * 500 * MS),
                    Some(i * 500 * MS),
                    false,
                )
            })
            .collect();
        assert_eq!(due, [0, 2, 4, 6]);
    }

    #[test]
    fn capture_times() {
        // video1.psf's first block.
        assert_eq!(
            capture_time(1_630_479_601_454_448_000, None),
            "2021-09-01 07:00:01 UTC"
        );
        // SAYS with_jpeg: startTime 1618581807000 ms, timeZone -240.
        assert_eq!(
            capture_time(1_618_581_807_000_000_000, Some(-240)),
            "2021-04-16 10:03:27 -04:00"
        );
        assert_eq!(capture_time(0, Some(330)), "1970-01-01 05:30:00 +05:30");
        assert_eq!(capture_time(0, Some(0)), "1970-01-01 00:00:00 UTC");
        // A zone asked for wins over the recording's; DST is followed.
        let la = super::super::zone::Zone::parse("America/Los_Angeles").unwrap();
        let t = 1_630_515_518_000_000_000;
        assert_eq!(
            capture_time(t, shown_offset(t, Some(&la), Some(-240))),
            "2021-09-01 09:58:38 -07:00"
        );
        assert_eq!(shown_offset(t, None, Some(-240)), Some(-240));
        assert_eq!(
            capture_time(951_782_400_000_000_000, None),
            "2000-02-29 00:00:00 UTC"
        );
        // An implausible zone is ignored.
        assert_eq!(capture_time(0, Some(5000)), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn one_cue_text_for_every_format() {
        use super::super::telemetry::Telemetry;
        // SAYS with_jpeg: 10:03:27 at -04:00, 35 km/h, a fix.
        let t = 1_618_581_807_000_000_000;
        let values = Telemetry {
            speed_kmh: Some(35.2),
            fix: Some((40.70255, -73.80136)),
            ..Telemetry::default()
        };
        assert_eq!(
            cue_text(Some(t), None, 0, Some(-240), Some(&values)),
            "2021-04-16 10:03:27 -04:00  35 km/h  GPS 40.70255 N 73.80136 W"
        );
        // A recorder clock 2 s ahead, shown in the zone asked for; no
        // telemetry (PAVS, rf1): the time alone.
        let utc = super::super::zone::Zone::parse("UTC").unwrap();
        assert_eq!(
            cue_text(
                Some(t + 2_000_000_000),
                Some(&utc),
                2_000_000_000,
                Some(-240),
                None
            ),
            "2021-04-16 14:03:27 UTC"
        );
        assert_eq!(
            cue_text(None, None, 0, None, Some(&values)),
            "35 km/h  GPS 40.70255 N 73.80136 W"
        );
    }

    #[test]
    fn speed_and_position() {
        assert_eq!(speed(41.6).as_deref(), Some("42 km/h"));
        assert_eq!(speed(f64::NAN), None);
        assert_eq!(
            position(40.7128, -74.006).as_deref(),
            Some("GPS 40.71280 N 74.00600 W")
        );
        assert_eq!(position(91.0, 0.0), None);
    }
}
