// SPDX-License-Identifier: MIT
//! Probing with random access: finding units the way sequential reading
//! finds them (for seeking and duration) without producing output, and the
//! duration.

use super::{Demuxer, MAX_RUNNING_TIME, Prediction, Probe, RESYNC_WINDOW, Resync, Walked};
use crate::engine::bytes::{ByteSource, Chunk};
use crate::engine::error::EngineError;
use crate::engine::format::{Format, Parsed, StreamId};
use crate::engine::index::EndTracker;
use std::collections::BTreeMap;

impl<F: Format, C: Chunk> Demuxer<F, C> {
    // ---- probing (pull input) ----------------------------------------------

    /// The next valid unit at or after `at` (before `limit`), found the way
    /// sequential reading finds it: `floor` is the content end of the unit
    /// before `at`, where resync searches first.
    pub(super) fn walk<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        mut at: u64,
        mut floor: Option<u64>,
        limit: Option<u64>,
    ) -> Result<Option<Walked<F::Unit>>, EngineError> {
        loop {
            if limit.is_some_and(|l| at >= l) || self.input.size().is_some_and(|s| at >= s) {
                return Ok(None);
            }
            let Some((parsed, view)) = self.parse_at(src, at)? else {
                return Ok(None);
            };
            match parsed {
                Parsed::Unit(unit, len) => {
                    let content = self.format.content_len(&unit, len).clamp(1, len);
                    return Ok(Some(Walked {
                        offset: at,
                        unit,
                        len,
                        content_end: at + content as u64,
                    }));
                }
                Parsed::Skip(len) => at += len.clamp(1, view.range.len().max(1)) as u64,
                Parsed::Invalid => {
                    if view.range.is_empty() {
                        return Ok(None);
                    }
                    let from = match floor.take() {
                        Some(end) if end <= at => end - 1,
                        _ => at,
                    };
                    match self.scan_resync(src, from, limit)? {
                        Resync::Found(next) => at = next,
                        Resync::End(_) | Resync::NeedData(_) => return Ok(None),
                    }
                }
                Parsed::NeedMore(_) => unreachable!("parse_at resolves NeedMore"),
            }
        }
    }

    /// The next timed unit at or after `at`, with its predicted time after
    /// `base`.
    pub(super) fn probe_timed<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        at: u64,
        limit: Option<u64>,
        base: &F::Timeline,
    ) -> Result<Probe<F::Unit, F::Timeline>, EngineError> {
        let mut at = at;
        loop {
            let Some(w) = self.walk(src, at, None, limit)? else {
                return Ok(Probe::End);
            };
            if self.format.is_untimed(&w.unit) {
                at = w.offset + w.len as u64;
                continue;
            }
            return Ok(match self.format.predict(base, &w.unit) {
                Some((pts, before)) => Probe::Timed(w, pts, before),
                None => Probe::Unpredictable,
            });
        }
    }

    // ---- duration ----------------------------------------------------------

    /// The running time at which the last unit ends: exact once the whole
    /// input was indexed, else predicted from the last units of the input
    /// (pull input, after discovery). Reads the input's tail once.
    pub fn duration<S: ByteSource<Chunk = C>>(&mut self, src: &mut S) -> Option<u64> {
        if self.discovery.is_some() || !self.input.is_pull() {
            return None;
        }
        if self.index.complete {
            return self.index.end.end();
        }
        // Only a real prediction is kept (seeks judge "past the end" on
        // it); when the tail cannot be predicted (e.g. a gap that may be
        // compacted lies between the index and the tail), the end of what
        // was read so far is a lower bound, not a prediction.
        if self.predicted_duration == Prediction::NotYet {
            self.predicted_duration = match self.predict_end(src) {
                Ok(Some(end)) => Prediction::End(end),
                Ok(None) | Err(_) => Prediction::Unknown,
            };
        }
        self.predicted_duration.end().or(self.index.end.end())
    }

    /// The exact duration, once the input has been read to its end.
    pub fn exact_duration(&self) -> Option<u64> {
        self.index.complete.then(|| self.index.end.end()).flatten()
    }

    /// The earliest and latest capture time of each stream's units in the
    /// input's tail (pull input): the last 64 KiB, widened until a timed
    /// unit is found. What the catalog needs of a file's end, without a
    /// seek; a clock that runs backwards shows as an earliest time before
    /// the head's.
    pub fn tail_capture_times<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
    ) -> Result<BTreeMap<StreamId, (u64, u64)>, EngineError> {
        let mut found: BTreeMap<StreamId, (u64, u64)> = BTreeMap::new();
        let Some(size) = self.input.size() else {
            return Ok(found);
        };
        let floor = self.format.file_header_len() as u64;
        let mut back = RESYNC_WINDOW as u64;
        loop {
            let from = size.saturating_sub(back).max(floor);
            let mut at = from;
            while let Some(w) = self.walk(src, at, None, Some(size))? {
                if let (Some(id), Some(t)) = (
                    self.format.stream_of(&w.unit),
                    self.format.capture_time_ns(&w.unit),
                ) {
                    let e = found.entry(id).or_insert((t, t));
                    *e = (e.0.min(t), e.1.max(t));
                }
                at = w.offset + w.len as u64;
            }
            if !found.is_empty() || from <= floor {
                return Ok(found);
            }
            back = back.saturating_mul(4);
        }
    }

    pub(super) fn predict_end<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
    ) -> Result<Option<u64>, EngineError> {
        let Some(size) = self.input.size() else {
            return Ok(None);
        };
        let Some((base_offset, base)) = self.index.last_snapshot().cloned() else {
            return Ok(None);
        };
        let mut back = (self.format.max_unit_len() as u64)
            .min(1 << 20)
            .max(RESYNC_WINDOW as u64);
        loop {
            let from = size.saturating_sub(back).max(base_offset);
            let mut at = from;
            let mut end = EndTracker::default();
            // Whether a timed unit after the last predicted one could not
            // be predicted: then the end is unknown (e.g. a gap that the
            // timeline compacts lies before it), not the last prediction.
            let mut tail_unknown = false;
            while let Some(w) = self.walk(src, at, None, Some(size))? {
                if !self.format.is_untimed(&w.unit) {
                    match self.format.predict(&base, &w.unit) {
                        Some((pts, _)) if pts <= MAX_RUNNING_TIME => {
                            end.note_unit(
                                self.format.timing_stream(&w.unit),
                                pts,
                                self.format.unit_duration(&w.unit),
                            );
                            tail_unknown = false;
                        }
                        _ => tail_unknown = end.last().is_some() || tail_unknown,
                    }
                }
                at = w.offset + w.len as u64;
            }
            if tail_unknown {
                return Ok(None);
            }
            if end.last().is_some() || from <= base_offset {
                return Ok(end.end());
            }
            back = back.saturating_mul(4);
        }
    }
}
