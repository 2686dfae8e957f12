// SPDX-License-Identifier: MIT
//! Seeking: where to resume for a running time, from the index of what was
//! read or by bisection on predicted unit times in the unread part; every
//! stream with key units restarts at its own key unit at or before the
//! target.

use super::{Demuxer, Event, Phase, Plan, Probe};
use crate::engine::bytes::{ByteSource, Chunk};
use crate::engine::demuxer::SeekOutcome;
use crate::engine::error::EngineError;
use crate::engine::format::Format;
use crate::engine::index::KeyEntry;

/// Below this many bytes a bisection stops and scans forward.
const BISECT_MIN_SPAN: u64 = 512 * 1024;
/// How far a bisection probe looks for a valid unit.
const PROBE_SCAN_LIMIT: u64 = 4 << 20;
/// First step back when a stream has no key unit in the window found by
/// bisection (doubles each time).
const BACKOFF_START: u64 = 1 << 20;
impl<F: Format, C: Chunk> Demuxer<F, C> {
    // ---- seeking -----------------------------------------------------------

    /// Restarts output at running time `target` (ns): every stream with key
    /// units restarts at its own key unit at or before the target; output
    /// ends before `stop`. Pull input only.
    pub fn seek<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        target: u64,
        stop: Option<u64>,
    ) -> Result<SeekOutcome, EngineError> {
        if !self.input.is_pull() {
            return Err(EngineError::NotSeekable);
        }
        if self.phase == Phase::Header && !self.read_header(src)? {
            return Err(EngineError::NotSeekable);
        }
        // A seek before the streams are known: discover them first so that
        // the timeline exists. Stream events are kept for the front end.
        while self.discovery.is_some() && self.phase != Phase::Ended {
            self.step(src)?;
        }
        self.outbox.retain(|e| !matches!(e, Event::Packet(_)));
        let beyond_index = self.index.end.last().is_none_or(|last| last < target);
        let mut plan = None;
        if beyond_index && !self.index.complete {
            plan = self.bisect(src, target)?;
            if plan.is_none() {
                self.scan_index_to(src, target)?;
            }
        }
        let plan = match plan {
            Some(p) => p,
            None => self.index_plan(src, target)?,
        };
        let end = self.exact_duration().or(self.predicted_duration.end());
        let past_end = crate::engine::source::is_past_end(target, end);
        self.offset = plan.offset;
        self.format.set_timeline(plan.timeline);
        self.at_frontier = plan.known && plan.offset <= self.index.frontier;
        self.last_content_end = None;
        self.stop = stop;
        self.phase = if past_end { Phase::Ended } else { Phase::Units };
        self.awaiting_key = self.keyed.clone();
        self.mark_discont();
        Ok(SeekOutcome {
            key_pts: plan.key_pts,
            offset: plan.offset,
            past_end,
        })
    }

    /// Where to resume for `target` from what the index knows.
    fn index_plan<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        target: u64,
    ) -> Result<Plan<F::Timeline>, EngineError> {
        let keys = self.index.keys_at_or_before(target);
        let start = self.index.snapshot_before(0).map_or(0, |(o, _)| *o);
        let (offset, key_pts) = match keys.iter().min_by_key(|k| k.offset) {
            Some(first) => (first.offset, keys.iter().map(|k| k.pts).min()),
            None => (start, None),
        };
        let timeline = self.timeline_at(src, offset)?;
        Ok(Plan {
            offset,
            timeline,
            key_pts,
            known: true,
        })
    }

    /// The timeline sequential reading has right before the unit at
    /// `offset` (inside the indexed region): the snapshot before it, then
    /// the units in between replayed.
    fn timeline_at<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        offset: u64,
    ) -> Result<F::Timeline, EngineError> {
        let saved = self.format.timeline();
        let Some((mut at, timeline)) = self
            .index
            .snapshot_before(offset)
            .cloned()
            .or_else(|| Some((offset, self.initial_timeline.clone()?)))
        else {
            return Ok(saved);
        };
        self.format.set_timeline(timeline);
        let mut floor = None;
        while at < offset {
            let Some(w) = self.walk(src, at, floor, Some(offset))? else {
                break;
            };
            self.format.assign_time(&w.unit);
            floor = Some(w.content_end);
            at = w.offset + w.len as u64;
        }
        let result = self.format.timeline();
        self.format.set_timeline(saved);
        Ok(result)
    }

    /// Extends the index by reading forward from its frontier until a key
    /// unit after `target` (or the end) is known.
    fn scan_index_to<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        target: u64,
    ) -> Result<(), EngineError> {
        let saved = self.format.timeline();
        let Some((mut at, timeline)) = self.index.last_snapshot().cloned() else {
            return Ok(());
        };
        self.format.set_timeline(timeline);
        let mut floor = None;
        let mut reached_end = true;
        while let Some(w) = self.walk(src, at, floor, None)? {
            let indexing = w.offset >= self.index.frontier;
            let timed = self.time_and_index(&w.unit, w.offset, w.len, indexing);
            floor = Some(w.content_end);
            at = w.offset + w.len as u64;
            // A key entry after the target: the plan has what it needs.
            if indexing
                && let Some(t) = timed
                && t.key
                && t.stream.is_some()
                && t.stamp.is_some_and(|s| s.pts > target)
            {
                reached_end = false;
                break;
            }
        }
        if reached_end {
            self.index.complete = true;
        }
        self.format.set_timeline(saved);
        Ok(())
    }

    /// Bisects the unread part of the input on predicted running time, then
    /// finds each keyed stream's key unit at or before `target`. `None`
    /// when times there are not monotonic (the caller scans instead).
    fn bisect<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        target: u64,
    ) -> Result<Option<Plan<F::Timeline>>, EngineError> {
        let Some(size) = self.input.size() else {
            return Ok(None);
        };
        let Some((base_offset, base)) = self.index.last_snapshot().cloned() else {
            return Ok(None);
        };
        let (mut lo, mut hi) = (base_offset, size);
        // Probes in offset order must give non-decreasing predicted times.
        let mut probes: Vec<(u64, u64)> = Vec::new();
        while hi.saturating_sub(lo) > BISECT_MIN_SPAN {
            let mid = lo + (hi - lo) / 2;
            let limit = Some(hi.min(mid.saturating_add(PROBE_SCAN_LIMIT)));
            let (w, pts) = match self.probe_timed(src, mid, limit, &base)? {
                Probe::Timed(w, pts, _) => (w, pts),
                Probe::End => {
                    hi = mid;
                    continue;
                }
                Probe::Unpredictable => return Ok(None),
            };
            let pos = probes.partition_point(|&(o, _)| o < w.offset);
            let ordered = (pos == 0 || probes[pos - 1].1 <= pts)
                && probes.get(pos).is_none_or(|p| pts <= p.1);
            if !ordered {
                return Ok(None);
            }
            probes.insert(pos, (w.offset, pts));
            if pts <= target {
                lo = w.offset;
            } else {
                hi = mid;
            }
        }
        // From `lo`, find each keyed stream's last key unit at or before the
        // target; step back while a stream has none in the window.
        let mut from = lo;
        loop {
            let Some(found) = self.keys_in_window(src, from, target, &base)? else {
                return Ok(None);
            };
            let missing = self
                .keyed
                .iter()
                .any(|s| !found.iter().any(|(k, _)| k.stream == *s));
            if (!missing && !found.is_empty()) || from <= base_offset {
                let Some((first, timeline)) = found
                    .iter()
                    .min_by_key(|(k, _)| k.offset)
                    .map(|(k, t)| (*k, t.clone()))
                else {
                    return Ok(None);
                };
                return Ok(Some(Plan {
                    offset: first.offset,
                    timeline,
                    key_pts: found.iter().map(|(k, _)| k.pts).min(),
                    known: false,
                }));
            }
            let back = lo.saturating_sub(from).max(BACKOFF_START / 2) * 2;
            from = lo.saturating_sub(back).max(base_offset);
        }
    }

    /// Each stream's last key unit at or before `target`, scanning from
    /// `from` until a unit after the target; with the timeline to restore
    /// right before it. `None`: not predictable.
    #[allow(clippy::type_complexity)]
    fn keys_in_window<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        from: u64,
        target: u64,
        base: &F::Timeline,
    ) -> Result<Option<Vec<(KeyEntry, F::Timeline)>>, EngineError> {
        let mut found: Vec<(KeyEntry, F::Timeline)> = Vec::new();
        let mut at = from;
        let mut last_pts = None;
        loop {
            let (w, pts, before) = match self.probe_timed(src, at, None, base)? {
                Probe::Timed(w, pts, before) => (w, pts, before),
                Probe::End => break,
                Probe::Unpredictable => return Ok(None),
            };
            if last_pts.is_some_and(|l| pts < l) {
                return Ok(None);
            }
            last_pts = Some(pts);
            if pts > target {
                break;
            }
            at = w.offset + w.len as u64;
            if self.format.is_seek_point(&w.unit)
                && let Some(stream) = self.format.stream_of(&w.unit)
            {
                let entry = KeyEntry {
                    offset: w.offset,
                    pts,
                    stream,
                };
                if !self.keyed.contains(&stream) {
                    self.keyed.push(stream);
                }
                match found.iter_mut().find(|(k, _)| k.stream == stream) {
                    Some(slot) => *slot = (entry, before),
                    None => found.push((entry, before)),
                }
            }
        }
        Ok(Some(found))
    }
}
