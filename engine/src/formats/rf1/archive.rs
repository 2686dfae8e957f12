// SPDX-License-Identifier: MIT
//! A camera directory as one timeline: segments in time order, every access
//! unit timed relative to the earliest time base of all tracks.

use std::path::Path;

use super::{
    Rf1Error, Segment, Track, first_ticks_at_or_after_ns, last_ticks_at_or_before_ns,
    resolve_location,
};

#[derive(Debug, Clone)]
pub struct ArchiveSegment {
    pub files: Segment,
    /// Same order as `files.tracks` (sorted by name).
    pub tracks: Vec<Track>,
}

impl ArchiveSegment {
    pub fn track(&self, name: &str) -> Option<&Track> {
        let found = self
            .tracks
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()?;
        Some(&self.tracks[found])
    }

    /// Earliest time base of the segment's tracks, ns since the epoch.
    pub fn start_ns(&self) -> u64 {
        self.tracks
            .iter()
            .map(Track::timebase_ns)
            .min()
            .unwrap_or(u64::MAX)
    }
}

/// An access unit of one named track in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivePosition {
    pub segment: usize,
    pub au: usize,
}

#[derive(Debug, Clone)]
pub struct Archive {
    /// Sorted by start time.
    pub segments: Vec<ArchiveSegment>,
    /// Earliest time base of all tracks (ns since the epoch): time zero.
    pub origin_ns: u64,
    /// Segments left out because they could not be opened, with the reason.
    pub skipped: Vec<String>,
    /// Start times (ns since the epoch, from their names) of the skipped
    /// segments: a gap they fall in is lost data, not a pause in recording.
    pub skipped_starts_ns: Vec<u64>,
}

impl Archive {
    /// Opens every segment `location` resolves to (see [`resolve_location`]).
    pub fn open(location: &Path, track_filter: Option<&str>) -> Result<Self, Rf1Error> {
        let names: Vec<String> = track_filter.into_iter().map(Into::into).collect();
        Self::open_tracks(location, (!names.is_empty()).then_some(&names[..]))
    }

    /// Like [`Archive::open`], keeping only the tracks named in `names`
    /// (all when `None`). The time origin is that of the kept tracks.
    pub fn open_tracks(location: &Path, names: Option<&[String]>) -> Result<Self, Rf1Error> {
        let mut segments = resolve_location(location, None)?;
        if let Some(names) = names {
            for segment in &mut segments {
                segment.tracks.retain(|t| names.contains(&t.name));
            }
            segments.retain(|s| !s.tracks.is_empty());
            if segments.is_empty() {
                return Err(Rf1Error::NoTracks {
                    location: location.to_owned(),
                    track_filter: Some(names.join(",")),
                });
            }
        }
        // One unreadable segment must not cost the others: it is skipped
        // (and reported). Only when nothing is playable is it an error.
        let mut opened = Vec::new();
        let mut skipped = Vec::new();
        let mut skipped_starts = Vec::new();
        let mut first_error = None;
        for files in segments {
            let tracks = files
                .tracks
                .iter()
                .map(|t| {
                    if !t.packets_path.is_file() {
                        return Err(Rf1Error::MissingCompanion(t.packets_path.clone()));
                    }
                    Track::open(&t.name, &t.index_path, &t.packets_path)
                })
                .collect::<Result<Vec<_>, _>>();
            match tracks {
                Ok(tracks) => opened.push(ArchiveSegment { files, tracks }),
                Err(e) => {
                    if let Some(ms) = files.start_ms {
                        skipped_starts.push(ms.saturating_mul(1_000_000));
                    }
                    skipped.push(format!("{}: segment skipped: {e}", files.base.display()));
                    first_error.get_or_insert(e);
                }
            }
        }
        if opened.is_empty()
            && let Some(e) = first_error
        {
            return Err(e);
        }
        let mut archive = Self::from_segments(opened);
        archive.skipped = skipped;
        archive.skipped_starts_ns = skipped_starts;
        Ok(archive)
    }

    pub fn from_segments(mut segments: Vec<ArchiveSegment>) -> Self {
        for segment in &mut segments {
            segment.tracks.sort_by(|a, b| a.name.cmp(&b.name));
        }
        segments.sort_by_key(ArchiveSegment::start_ns);
        // A segment ends where the next one of the same track starts: later
        // times come from a damaged index and would make every access unit
        // of the following segments look like it goes back in time.
        for s in 0..segments.len() {
            let (head, later) = segments.split_at_mut(s + 1);
            for track in &mut head[s].tracks {
                let next_start = later.iter().find_map(|segment| {
                    let next = segment.track(&track.name)?;
                    next.access_units.first()?;
                    next.au_time_since(0, 0)
                });
                if let Some(limit_ns) = next_start {
                    track.drop_access_units_from(limit_ns);
                }
            }
        }
        let origin_ns = segments.first().map_or(0, ArchiveSegment::start_ns);
        Archive {
            segments,
            origin_ns,
            skipped: Vec::new(),
            skipped_starts_ns: Vec::new(),
        }
    }

    /// Names of all tracks in any segment, sorted.
    pub fn track_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .segments
            .iter()
            .flat_map(|s| s.tracks.iter().map(|t| t.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Capture times (ns since the epoch) of the first and last access unit
    /// of `track`, from the index alone.
    pub fn wall_span_ns(&self, track: &str) -> Option<(u64, u64)> {
        let times = |s: &ArchiveSegment| {
            let t = s.track(track)?;
            let last_au = t.access_units.len().checked_sub(1)?;
            let first = t.au_time_since(0, 0)?;
            let last = t.au_time_since(last_au, 0)?;
            Some((first, last))
        };
        let first = self.segments.iter().find_map(times)?.0;
        let last = self.segments.iter().rev().find_map(times)?.1;
        Some((first, last.max(first)))
    }

    /// Time of an access unit in ns since `origin_ns`, exact (no drift).
    pub fn time_ns(&self, track: &str, position: ArchivePosition) -> Option<u64> {
        self.segments
            .get(position.segment)?
            .track(track)?
            .au_time_since(position.au, self.origin_ns)
    }

    /// Index of the last segment starting at or before `absolute_ns`.
    fn segment_at(&self, absolute_ns: u64) -> Option<usize> {
        self.segments
            .partition_point(|s| s.start_ns() <= absolute_ns)
            .checked_sub(1)
    }

    /// The last key access unit of `track` at or before `time_ns` (relative to
    /// `origin_ns`); a key frame exactly at `time_ns` is returned itself.
    pub fn key_unit_at_or_before(&self, track: &str, time_ns: u64) -> Option<ArchivePosition> {
        let absolute_ns = self.origin_ns.saturating_add(time_ns);
        // Usually the first segment tried; earlier ones only when it has no key frame yet.
        (0..=self.segment_at(absolute_ns)?)
            .rev()
            .find_map(|segment| {
                let track = self.segments[segment].track(track)?;
                let relative_ns = absolute_ns.checked_sub(track.timebase_ns())?;
                let au = track.key_unit_at_or_before(last_ticks_at_or_before_ns(relative_ns))?;
                Some(ArchivePosition { segment, au })
            })
    }

    /// The first access unit of `track` at or after `time_ns` (relative to `origin_ns`).
    pub fn first_au_at_or_after(&self, track: &str, time_ns: u64) -> Option<ArchivePosition> {
        let absolute_ns = self.origin_ns.saturating_add(time_ns);
        let start = self.segment_at(absolute_ns).unwrap_or(0);
        (start..self.segments.len()).find_map(|segment| {
            let track = self.segments[segment].track(track)?;
            let relative_ns = absolute_ns.saturating_sub(track.timebase_ns());
            let au = track.first_au_at_or_after(first_ticks_at_or_after_ns(relative_ns))?;
            Some(ArchivePosition { segment, au })
        })
    }

    /// The access unit of `track` following `position`, across segments.
    pub fn next_au(&self, track: &str, position: ArchivePosition) -> Option<ArchivePosition> {
        let in_same = self.segments.get(position.segment)?.track(track)?;
        if position.au + 1 < in_same.access_units.len() {
            return Some(ArchivePosition {
                au: position.au + 1,
                ..position
            });
        }
        (position.segment + 1..self.segments.len()).find_map(|segment| {
            let track = self.segments[segment].track(track)?;
            (!track.access_units.is_empty()).then_some(ArchivePosition { segment, au: 0 })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::rf1::{Codec, Index, IndexEntry, IndexHeader, Problem, Segment};

    /// A segment of one `video` track at `timebase_us`: one 10-byte NALU
    /// per PTS in `pts`.
    fn segment(timebase_us: u64, pts: &[u32]) -> ArchiveSegment {
        let entry = |(i, &pts_ticks): (usize, &u32)| IndexEntry {
            pts_ticks,
            offset: 10 * i as u32,
            flags: 5,
        };
        let index = Index {
            header: IndexHeader {
                codec: Codec::H264,
                flags: 0,
                codec_flags: 0,
                timebase_us,
                count: pts.len() as u16,
                width: 0,
                height: 0,
            },
            entries: pts.iter().enumerate().map(entry).collect(),
            sentinel: entry((pts.len(), &0)),
            recovered: false,
            truncated: false,
        };
        let len = 10 * pts.len() as u64;
        ArchiveSegment {
            files: Segment {
                base: timebase_us.to_string().into(),
                start_ms: Some(timebase_us / 1000),
                tracks: Vec::new(),
            },
            tracks: vec![Track::from_index("video", index, len)],
        }
    }

    #[test]
    fn bogus_times_of_a_broken_segment_stay_inside_it() {
        // data_loss rf1-directory trial 15: 24 bytes inserted into the
        // middle segment's index gave its last entries times far past the
        // next segment's start, and every access unit of that segment then
        // went "back in time" and was skipped.
        let archive = Archive::from_segments(vec![
            segment(0, &[0, 4096]),
            segment(2_000_000, &[0, 4096, 900 * 4096, 901 * 4096]),
            segment(4_000_000, &[0, 4096]),
        ]);
        let broken = &archive.segments[1].tracks[0];
        assert_eq!(broken.access_units.len(), 2);
        assert_eq!(
            broken.problems,
            [Problem::PastNextSegment {
                access_units: 2,
                pts_ticks: 900 * 4096
            }]
        );
        let last = &archive.segments[2].tracks[0];
        assert_eq!((last.access_units.len(), last.problems.len()), (2, 0));
        let times: Vec<u64> = (0..3)
            .flat_map(|segment| (0..2).map(move |au| ArchivePosition { segment, au }))
            .map(|p| archive.time_ns("video", p).unwrap() / 1_000_000_000)
            .collect();
        assert_eq!(times, [0, 1, 2, 3, 4, 5]);
        // Sound segments are left alone.
        let sound = Archive::from_segments(vec![segment(0, &[0, 4096]), segment(2_000_000, &[0])]);
        assert!(sound.segments.iter().all(|s| s.tracks[0].is_sound()));
    }
}
