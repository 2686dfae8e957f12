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
        Ok(archive)
    }

    pub fn from_segments(mut segments: Vec<ArchiveSegment>) -> Self {
        for segment in &mut segments {
            segment.tracks.sort_by(|a, b| a.name.cmp(&b.name));
        }
        segments.sort_by_key(ArchiveSegment::start_ns);
        let origin_ns = segments.first().map_or(0, ArchiveSegment::start_ns);
        Archive {
            segments,
            origin_ns,
            skipped: Vec::new(),
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
