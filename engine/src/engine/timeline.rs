// SPDX-License-Identifier: MIT
//! Turns capture times that may run backwards, repeat, or jump by hours into
//! a zero-based running time that never decreases (pure Rust, nanoseconds).
//!
//! Policy (documented in `docs/pavs.md`, "Running time"):
//! - Running time is capture time minus the first capture time, as long as
//!   capture time moves forward: real time is kept, including long gaps
//!   (they are flagged as discontinuities). With `max_gap` set, a forward
//!   jump longer than that is compacted to one frame duration.
//! - A frame whose capture time is not after the latest one seen (a repeat
//!   or a backward jump) gets the previous running time plus one frame
//!   duration. If the next frame continues from it (a whole scene recorded
//!   earlier), the timeline is re-based there so that the scene keeps its
//!   own frame spacing; if it returns to the old line (a single stuck
//!   timestamp) the old line continues.
//! - The frame duration is the last forward step seen between two normally
//!   placed frames (40 ms until one is seen).

pub use super::format::Stamp;

/// A forward jump longer than this is a gap: flagged as a discontinuity.
pub const GAP_NS: u64 = 10_000_000_000;

/// The default of every front end's `max-gap`: a forward jump in capture
/// time longer than this is compacted to one frame duration of running
/// time (players and conversions would otherwise sit on one picture for
/// hours; the wall-clock time of every frame, and so the cues, stay true).
pub const DEFAULT_MAX_GAP_NS: u64 = GAP_NS;

/// How far (ns of running time) any output of a front end may lag behind
/// the newest data it emits on another output. Aggregators (mp4mux,
/// matroskamux) and sinks waiting for preroll wait for every linked input
/// before they take anything later, so across a gap in capture time (or
/// while a camera, the audio, the subtitles or the snapshots are silent)
/// the GStreamer elements advance every pad lagging further than this: its
/// held buffer goes out lasting up to the new time, or it gets a GAP event
/// up to it. Without that, one queue fills while the muxer waits for a pad
/// that gets nothing, and the single streaming thread blocks for good.
pub const MAX_PAD_LAG_NS: u64 = 500_000_000;

/// A stream with a slow rhythm (1-2 fps, a cue per frame) lags by its own
/// spacing all the time: it may lag twice its spacing, up to this.
pub const MAX_PAD_LAG_LIMIT_NS: u64 = 2_000_000_000;

/// The time a queue between an element and a muxer that holds
/// `mux_latency_ns` itself must hold so that it never blocks the streaming
/// thread: what a pad may lag ([`MAX_PAD_LAG_LIMIT_NS`]), the longest
/// buffer that may still be held on a pad (as long again), the muxer's own
/// latency, and as much again as margin.
pub const fn queue_ns_for(mux_latency_ns: u64) -> u64 {
    (2 * MAX_PAD_LAG_LIMIT_NS + mux_latency_ns) * 2
}
const DEFAULT_FRAME_NS: u64 = 40_000_000;

/// Timeline state; cheap to clone (saved in seek indexes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// Compact forward jumps longer than this (None: keep real time).
    max_gap: Option<u64>,
    /// running = capture + offset on the current line.
    offset: i128,
    /// Highest capture time on the current line.
    high_water: u64,
    prev_capture: u64,
    prev_pts: u64,
    frame_ns: u64,
    /// The previous frame was placed off the line (repeat / backwards).
    off_line: bool,
    started: bool,
    /// Capture time of running time zero (default: the first frame).
    origin: Option<u64>,
}

impl Timeline {
    pub fn new(max_gap: Option<u64>) -> Self {
        Self {
            max_gap: max_gap.filter(|&g| g > 0),
            offset: 0,
            high_water: 0,
            prev_capture: 0,
            prev_pts: 0,
            frame_ns: DEFAULT_FRAME_NS,
            off_line: false,
            started: false,
            origin: None,
        }
    }

    /// A timeline whose first frame is placed at its capture time minus
    /// `origin` (so that several lines share one zero).
    pub fn starting_at(origin: u64, max_gap: Option<u64>) -> Self {
        let mut t = Self::new(max_gap);
        t.origin = Some(origin);
        t
    }

    /// Estimated duration of one frame.
    pub fn frame_duration(&self) -> u64 {
        self.frame_ns
    }

    fn on_line(&self, capture: u64) -> u64 {
        (i128::from(capture) + self.offset).clamp(0, i128::from(u64::MAX)) as u64
    }

    fn rebase(&mut self, capture: u64, pts: u64) {
        self.offset = i128::from(pts) - i128::from(capture);
        self.high_water = capture;
    }

    /// Places the next frame, in file order.
    pub fn next(&mut self, capture: u64) -> Stamp {
        if !self.started {
            let pts = capture.saturating_sub(self.origin.unwrap_or(capture));
            self.started = true;
            self.rebase(capture, pts);
            self.prev_capture = capture;
            self.prev_pts = pts;
            return Stamp {
                pts,
                discont: false,
            };
        }
        let mut discont = false;
        let pts;
        if capture > self.high_water {
            let step = capture - self.high_water;
            let on_line = self.on_line(capture);
            if self.max_gap.is_some_and(|g| step > g) {
                pts = self.prev_pts.saturating_add(self.frame_ns);
                self.rebase(capture, pts);
                discont = true;
            } else if on_line > self.prev_pts {
                pts = on_line;
                if !self.off_line && step <= GAP_NS {
                    self.frame_ns = step;
                }
                discont = step > GAP_NS;
                self.high_water = capture;
            } else {
                pts = self.prev_pts.saturating_add(self.frame_ns);
                self.rebase(capture, pts);
            }
            self.off_line = false;
        } else {
            let local_step = capture.saturating_sub(self.prev_capture);
            if self.off_line && local_step > 0 && local_step <= GAP_NS {
                // The frames after a backward jump run on: a new line.
                pts = self.prev_pts.saturating_add(local_step);
                self.rebase(capture, pts);
                self.off_line = false;
            } else {
                pts = self.prev_pts.saturating_add(self.frame_ns);
                discont = capture < self.high_water;
                self.off_line = true;
            }
        }
        self.prev_capture = capture;
        self.prev_pts = pts;
        Stamp { pts, discont }
    }

    /// The running time a frame captured at `capture` gets if it directly
    /// follows this state, when that is the same as sequential playback would
    /// give it had every frame in between moved forward in time. `None` when
    /// it cannot be predicted (backwards, or a gap that would be compacted).
    pub fn predict(&self, capture: u64) -> Option<u64> {
        if !self.started {
            return Some(capture.saturating_sub(self.origin.unwrap_or(capture)));
        }
        let step = capture.checked_sub(self.high_water)?;
        if self.max_gap.is_some_and(|g| step > g) {
            return None;
        }
        let pts = self.on_line(capture);
        (pts >= self.prev_pts).then_some(pts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn run(max_gap: Option<u64>, captures: &[u64]) -> Vec<(u64, bool)> {
        let mut t = Timeline::new(max_gap);
        captures
            .iter()
            .map(|&c| {
                let s = t.next(c);
                (s.pts, s.discont)
            })
            .collect()
    }

    fn pts(stamps: &[(u64, bool)]) -> Vec<u64> {
        stamps.iter().map(|s| s.0).collect()
    }

    #[test]
    fn forward_time_is_kept() {
        let t0 = 1_630_479_601 * S;
        let out = run(
            None,
            &[t0, t0 + 500 * MS, t0 + 1000 * MS, t0 + 3 * 3600 * S],
        );
        assert_eq!(pts(&out), vec![0, 500 * MS, 1000 * MS, 3 * 3600 * S]);
        assert_eq!(
            out.iter().map(|s| s.1).collect::<Vec<_>>(),
            vec![false, false, false, true]
        );
    }

    #[test]
    fn gaps_are_compacted_on_request() {
        let t0 = 100 * S;
        let out = run(
            Some(60 * S),
            &[t0, t0 + 500 * MS, t0 + 7200 * S, t0 + 7200 * S + 500 * MS],
        );
        assert_eq!(pts(&out), vec![0, 500 * MS, 1000 * MS, 1500 * MS]);
        assert!(out[2].1);
    }

    #[test]
    fn backwards_scenes_keep_their_spacing() {
        // video2.psf: pairs that each run forward, scenes running backwards.
        let caps = [19_682, 20_182, 18_683, 19_183, 17_682, 18_182];
        let out = run(None, &caps.map(|ms| ms * MS));
        assert_eq!(
            pts(&out),
            vec![0, 500 * MS, 1000 * MS, 1500 * MS, 2000 * MS, 2500 * MS]
        );
        assert!(out[2].1 && out[4].1);
        assert!(!out[3].1);
    }

    #[test]
    fn stuck_key_frame_time_returns_to_the_line() {
        // video3.psf: key frames repeat the first time, delta frames advance.
        let t0 = 1_000 * S;
        let caps = [t0, t0 + 500 * MS, t0, t0 + 1500 * MS, t0, t0 + 2500 * MS];
        let out = run(None, &caps);
        assert_eq!(
            pts(&out),
            vec![0, 500 * MS, 1000 * MS, 1500 * MS, 2000 * MS, 2500 * MS]
        );
    }

    #[test]
    fn repeated_time_advances_by_a_frame() {
        let out = run(
            None,
            &[5 * S, 5 * S + 40 * MS, 5 * S + 40 * MS, 5 * S + 120 * MS],
        );
        assert_eq!(pts(&out), vec![0, 40 * MS, 80 * MS, 120 * MS]);
        assert!(!out[2].1);
    }

    #[test]
    fn never_decreases() {
        let mut x = 7u64;
        let mut t = Timeline::new(None);
        let mut last = 0;
        for _ in 0..10_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let s = t.next((x >> 20) % (100 * S));
            assert!(s.pts >= last);
            last = s.pts;
        }
    }

    #[test]
    fn prediction_matches_sequential_placement() {
        let mut t = Timeline::new(None);
        t.next(10 * S);
        t.next(10 * S + 500 * MS);
        let snapshot = t.clone();
        assert_eq!(snapshot.predict(50 * S), Some(40 * S));
        assert_eq!(t.next(50 * S).pts, 40 * S);
        assert_eq!(snapshot.predict(9 * S), None);
        assert_eq!(Timeline::new(Some(S)).predict(3), Some(0));
    }
}
