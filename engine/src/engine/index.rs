// SPDX-License-Identifier: MIT
//! The seek index: every key unit read in file order from the start, as
//! compact fixed-size entries, plus a sparse set of timeline snapshots.
//!
//! Resuming at a key unit needs the timeline state sequential playback had
//! there. Saving it with every entry made memory grow with the file (a
//! multi-camera timeline is a heap structure); instead one snapshot is kept
//! per [`SNAPSHOT_SPACING`] bytes and the units between a snapshot and the
//! resume point are replayed (parsed and timed, not output).

use super::format::StreamId;

/// File bytes between timeline snapshots: bounds the replay on a seek.
pub const SNAPSHOT_SPACING: u64 = 1 << 20;

/// One key unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEntry {
    pub offset: u64,
    pub pts: u64,
    pub stream: StreamId,
}

/// The end of the latest unit seen: its PTS plus the last step between
/// units (the best guess of its duration).
#[derive(Default, Debug, Clone)]
pub struct EndTracker {
    /// Per stream (`None`: units of no known stream): last PTS, last
    /// positive step, and the duration of the last unit when the format
    /// knows it.
    streams: Vec<StreamEnd>,
}

/// (stream, last PTS, last positive step, duration of the last unit).
type StreamEnd = (Option<StreamId>, u64, Option<u64>, Option<u64>);

impl EndTracker {
    /// A unit of unknown stream and duration.
    pub fn note(&mut self, pts: u64) {
        self.note_unit(None, pts, None);
    }

    /// A unit of `stream` at `pts`, lasting `duration` when known.
    pub fn note_unit(&mut self, stream: Option<StreamId>, pts: u64, duration: Option<u64>) {
        match self.streams.iter_mut().find(|s| s.0 == stream) {
            Some((_, last, step, dur)) => {
                if pts > *last {
                    *step = Some(pts - *last);
                }
                if pts >= *last {
                    *dur = duration;
                }
                *last = (*last).max(pts);
            }
            None => self.streams.push((stream, pts, None, duration)),
        }
    }

    pub fn last(&self) -> Option<u64> {
        self.streams.iter().map(|s| s.1).max()
    }

    /// The end of the last frame of any stream: its PTS plus its duration,
    /// or plus the stream's last step when the duration is not known.
    pub fn end(&self) -> Option<u64> {
        self.streams
            .iter()
            .map(|&(_, last, step, dur)| last.saturating_add(dur.or(step).unwrap_or_default()))
            .max()
    }
}

pub struct SeekIndex<T> {
    entries: Vec<KeyEntry>,
    /// (offset, timeline right before the unit at offset), ascending.
    snapshots: Vec<(u64, T)>,
    /// Everything before this offset has been indexed.
    pub frontier: u64,
    /// The index covers the whole input.
    pub complete: bool,
    pub end: EndTracker,
}

impl<T: Clone> SeekIndex<T> {
    pub fn new(start: u64) -> Self {
        Self {
            entries: Vec::new(),
            snapshots: Vec::new(),
            frontier: start,
            complete: false,
            end: EndTracker::default(),
        }
    }

    /// Forgets everything; indexing restarts at `start`.
    pub fn clear(&mut self, start: u64) {
        *self = Self::new(start);
    }

    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    pub fn last(&self) -> Option<&KeyEntry> {
        self.entries.last()
    }

    /// Whether a snapshot is due at `offset` (the first one, then one per
    /// [`SNAPSHOT_SPACING`] bytes).
    pub fn wants_snapshot(&self, offset: u64) -> bool {
        self.snapshots
            .last()
            .is_none_or(|(o, _)| offset >= o.saturating_add(SNAPSHOT_SPACING))
    }

    pub fn add_snapshot(&mut self, offset: u64, timeline: T) {
        if self.snapshots.last().is_none_or(|(o, _)| offset > *o) {
            self.snapshots.push((offset, timeline));
        }
    }

    pub fn push(&mut self, entry: KeyEntry) {
        if self.entries.last().is_none_or(|e| entry.offset > e.offset) {
            self.entries.push(entry);
        }
    }

    /// The last snapshot at or before `offset`.
    pub fn snapshot_before(&self, offset: u64) -> Option<&(u64, T)> {
        let i = self.snapshots.partition_point(|(o, _)| *o <= offset);
        i.checked_sub(1).map(|i| &self.snapshots[i])
    }

    pub fn last_snapshot(&self) -> Option<&(u64, T)> {
        self.snapshots.last()
    }

    /// For each stream, its last key entry at or before `target`, looking
    /// back no further than needed. Streams whose first key is after
    /// `target` are not included.
    pub fn keys_at_or_before(&self, target: u64) -> Vec<KeyEntry> {
        let end = self.entries.partition_point(|e| e.pts <= target);
        let mut streams: Vec<StreamId> = Vec::new();
        for e in &self.entries {
            if !streams.contains(&e.stream) {
                streams.push(e.stream);
            }
        }
        let mut found: Vec<KeyEntry> = Vec::new();
        for e in self.entries[..end].iter().rev() {
            if !found.iter().any(|f| f.stream == e.stream) {
                found.push(*e);
                if found.len() == streams.len() {
                    break;
                }
            }
        }
        // pts are not monotonic across streams everywhere: entries after
        // `end` can still be at or before the target.
        for e in &self.entries[end..] {
            if e.pts <= target {
                match found.iter_mut().find(|f| f.stream == e.stream) {
                    Some(f) => *f = *e,
                    None => found.push(*e),
                }
            }
        }
        found
    }

    /// Approximate heap bytes used (for benchmarks).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<KeyEntry>()
            + self.snapshots.capacity() * std::mem::size_of::<(u64, T)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::format::StreamKind;

    fn e(offset: u64, pts: u64, cam: u32) -> KeyEntry {
        KeyEntry {
            offset,
            pts,
            stream: StreamId::new(StreamKind::Video, cam),
        }
    }

    #[test]
    fn keys_per_stream_at_or_before() {
        let mut idx: SeekIndex<()> = SeekIndex::new(0);
        for (o, p, c) in [
            (0, 0, 1),
            (10, 5, 2),
            (20, 100, 1),
            (30, 150, 2),
            (40, 200, 1),
        ] {
            idx.push(e(o, p, c));
        }
        let mut keys = idx.keys_at_or_before(160);
        keys.sort_by_key(|k| k.offset);
        assert_eq!(keys, vec![e(20, 100, 1), e(30, 150, 2)]);
        let keys = idx.keys_at_or_before(7);
        assert_eq!(keys.len(), 2);
        assert!(
            idx.keys_at_or_before(0)
                .iter()
                .all(|k| k.stream.number == 1)
        );
    }

    #[test]
    fn snapshots_are_sparse() {
        let mut idx: SeekIndex<u32> = SeekIndex::new(0);
        let mut n = 0;
        for i in 0..1000u64 {
            let off = i * 10_000;
            if idx.wants_snapshot(off) {
                idx.add_snapshot(off, i as u32);
                n += 1;
            }
        }
        // 10 MB of units: one snapshot per MiB.
        assert!((9..=11).contains(&n), "{n}");
        assert_eq!(idx.snapshot_before(1_500_000).unwrap().0, 1_050_000);
        assert!(idx.snapshot_before(0).is_some());
    }

    #[test]
    fn end_tracker_ends_with_the_stream_that_ends_last() {
        let video = Some(StreamId::new(crate::engine::StreamKind::Video, 0));
        let audio = Some(StreamId::new(crate::engine::StreamKind::Audio, 0));
        let mut t = EndTracker::default();
        t.note_unit(video, 0, None);
        t.note_unit(audio, 5, Some(20));
        t.note_unit(video, 100, None);
        t.note_unit(audio, 105, Some(20));
        // Audio's last step (100) is not its duration (20).
        assert_eq!(t.end(), Some(200));
        t.note_unit(audio, 250, Some(20));
        assert_eq!(t.end(), Some(270));
    }

    #[test]
    fn end_tracker_adds_the_last_step() {
        let mut t = EndTracker::default();
        t.note(0);
        t.note(40);
        t.note(30);
        assert_eq!(t.end(), Some(80));
    }
}
