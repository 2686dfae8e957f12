// SPDX-License-Identifier: MIT
//! Turning a user-supplied location into segments and track files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Rf1Error, io_error};

const INDEX_EXTENSION: &str = "rf1i";
const PACKETS_EXTENSION: &str = "rf1p";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFiles {
    pub name: String,
    pub index_path: PathBuf,
    pub packets_path: PathBuf,
}

/// One recording segment: `<base>_<track>.rf1i/.rf1p` files sharing a base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// `dir/<base>` (no track name, no extension).
    pub base: PathBuf,
    /// The base name as a number: segment start in Unix milliseconds.
    pub start_ms: Option<u64>,
    /// Sorted by name.
    pub tracks: Vec<TrackFiles>,
}

/// Resolves `location` into segments sorted by start time:
/// - a directory: every numerically named segment in it (camera directory);
/// - a track file `dir/<base>_<track>.rf1i` or `.rf1p`: its whole segment
///   (like the reference `Open`, but split at the first `_` of the file name,
///   so directory names may contain `_`);
/// - a segment base path `dir/<base>`.
///
/// `track_filter` keeps only tracks with that name.
pub fn resolve_location(
    location: &Path,
    track_filter: Option<&str>,
) -> Result<Vec<Segment>, Rf1Error> {
    let not_found = || Rf1Error::NotFound(location.to_owned());
    let segments = if location.is_dir() {
        scan_segments(location, None)?
            .into_iter()
            .filter(|segment| segment.start_ms.is_some())
            .collect()
    } else {
        let file_name = location
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(not_found)?;
        let dir = location
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let is_track_file = Path::new(file_name)
            .extension()
            .is_some_and(|ext| ext == INDEX_EXTENSION || ext == PACKETS_EXTENSION);
        let base_name = if is_track_file {
            if !location.is_file() {
                return Err(not_found());
            }
            file_name.split_once('_').ok_or_else(not_found)?.0
        } else {
            file_name
        };
        if !dir.is_dir() {
            return Err(not_found());
        }
        scan_segments(dir, Some(base_name))?
    };
    let mut segments: Vec<Segment> = segments
        .into_iter()
        .filter_map(|mut segment| {
            segment
                .tracks
                .retain(|t| track_filter.is_none_or(|name| t.name == name));
            (!segment.tracks.is_empty()).then_some(segment)
        })
        .collect();
    if segments.is_empty() {
        return Err(Rf1Error::NoTracks {
            location: location.to_owned(),
            track_filter: track_filter.map(Into::into),
        });
    }
    segments.sort_by(|a, b| (a.start_ms, &a.base).cmp(&(b.start_ms, &b.base)));
    // A missing packet file is reported when the segment is opened
    // (`Archive::open`), so one broken segment does not hide the others.
    Ok(segments)
}

/// Groups the `*.rf1i` files of `dir` by base name (the file name up to its first `_`).
fn scan_segments(dir: &Path, only_base: Option<&str>) -> Result<Vec<Segment>, Rf1Error> {
    let mut by_base: BTreeMap<String, Vec<TrackFiles>> = BTreeMap::new();
    for dir_entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let index_path = dir_entry.map_err(io_error(dir))?.path();
        let Some(stem) = index_path
            .extension()
            .filter(|ext| *ext == INDEX_EXTENSION)
            .and(index_path.file_stem())
            .and_then(|s| s.to_str())
        else {
            continue;
        };
        let Some((base, name)) = stem.split_once('_') else {
            continue;
        };
        if only_base.is_some_and(|wanted| wanted != base) {
            continue;
        }
        let (base, name) = (base.to_owned(), name.to_owned());
        let track = TrackFiles {
            name,
            packets_path: index_path.with_extension(PACKETS_EXTENSION),
            index_path,
        };
        by_base.entry(base).or_default().push(track);
    }
    Ok(by_base
        .into_iter()
        .map(|(base, mut tracks)| {
            tracks.sort_by(|a, b| a.name.cmp(&b.name));
            Segment {
                start_ms: parse_start_ms(&base),
                base: dir.join(base),
                tracks,
            }
        })
        .collect())
}

fn parse_start_ms(base: &str) -> Option<u64> {
    base.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| base.parse().ok())
        .flatten()
}
