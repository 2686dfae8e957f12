// SPDX-License-Identifier: MIT
//! The playback model of one track: NALUs grouped into access units, with
//! validation, key-frame seeking and payload assembly.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use super::{
    Codec, Index, IndexEntry, IndexHeader, Rf1Error, START_CODE, flags, io_error, ns_since,
    ticks_to_ns,
};

/// One usable index entry with its payload location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nalu {
    pub pts_ticks: u32,
    pub offset: u64,
    pub len: u64,
    pub flags: u16,
    /// NAL unit type read from the payload, when probed (see [`Track::probe_nal_types`]).
    pub nal_type: Option<u8>,
}

impl Nalu {
    pub fn byte_range(&self) -> Range<u64> {
        self.offset..self.offset + self.len
    }

    /// Bare NAL units (no ANNEXB flag) need a start code for a byte-stream.
    pub fn needs_start_code(&self) -> bool {
        self.flags & flags::ANNEXB == 0
    }

    /// Flag or NAL type: the flags are written by the recorder and may be wrong.
    pub fn is_key(&self, codec: Codec) -> bool {
        self.flags & flags::KEY != 0 || self.nal_type.is_some_and(|t| codec.is_key_nal_type(t))
    }

    pub fn is_parameter_set(&self, codec: Codec) -> bool {
        self.flags & flags::ESSENTIAL_META != 0
            || self.nal_type.is_some_and(|t| codec.is_parameter_set(t))
    }
}

/// A run of NALUs sharing one PTS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    pub pts_ticks: u32,
    pub first_nalu: usize,
    pub nalu_count: usize,
    /// Contiguous range in the packet file (start codes to add not included).
    pub byte_range: Range<u64>,
    pub key: bool,
    pub has_parameter_sets: bool,
    /// NALUs of runs without a picture right before this access unit
    /// (parameter sets or SEI on a PTS of their own): not played, but their
    /// parameter sets count for [`Track::parameter_sets_for`].
    pub lead: Range<usize>,
}

impl AccessUnit {
    pub fn nalu_range(&self) -> Range<usize> {
        self.first_nalu..self.first_nalu + self.nalu_count
    }
}

/// A byte range to copy from the packet file, optionally after a start code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadPiece {
    pub range: Range<u64>,
    pub prepend_start_code: bool,
}

/// Something wrong in the index. The entry concerned is skipped; every
/// access unit whose bytes are still known (from the neighbouring entries or
/// from the Annex-B start codes) stays usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The payload of `entry` ends beyond the packet data (file cut short):
    /// its access unit is lost.
    DataBeyondPacketFile {
        entry: usize,
        end: u64,
        packets_len: u64,
    },
    /// `entry` starts beyond the packet data: skipped.
    StartsBeyondPacketFile {
        entry: usize,
        offset: u64,
        packets_len: u64,
    },
    /// `entry` (== entry count for the sentinel) starts before its
    /// predecessor (or after its successor): skipped.
    DecreasingOffset {
        entry: usize,
        offset: u64,
        previous: u64,
    },
    /// `entry` goes back in time (or jumps past its successor): skipped.
    DecreasingPts {
        entry: usize,
        pts_ticks: u32,
        previous: u32,
    },
    /// The end of `entry` is unknown (its successor was skipped) and could
    /// not be recovered from start codes: its access unit is lost.
    UnknownEnd { entry: usize },
    /// The index ends before its count (and sentinel): `entries` were read.
    IndexCut { entries: usize },
    /// `access_units` access units from PTS `pts_ticks` on lie at or after
    /// the start of the track's next segment (bogus times of a damaged
    /// index): dropped, so that the next segment keeps its real times.
    PastNextSegment { access_units: usize, pts_ticks: u32 },
    /// `last`: the track ends with `entries` NAL units at PTS `pts_ticks`
    /// but no picture (e.g. the parameter sets of a frame still being
    /// written). Else `entries` runs of NAL units (the first at
    /// `pts_ticks`) without a picture that are not parameter sets or SEI
    /// either (damaged bytes). Not played.
    NoPicture {
        entries: usize,
        pts_ticks: u32,
        last: bool,
    },
    /// The last picture of a never-closed index has `slices` slices where
    /// every picture before it has `expected`: unfinished, not played.
    UnfinishedPicture {
        slices: usize,
        expected: usize,
        pts_ticks: u32,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DataBeyondPacketFile {
                entry,
                end,
                packets_len,
            } => write!(
                f,
                "index entry {entry} ends at byte {end} but the packet file has only {packets_len} bytes"
            ),
            Self::StartsBeyondPacketFile {
                entry,
                offset,
                packets_len,
            } => write!(
                f,
                "index entry {entry} starts at byte {offset} but the packet file has only {packets_len} bytes"
            ),
            Self::DecreasingOffset {
                entry,
                offset,
                previous,
            } => {
                write!(
                    f,
                    "index entry {entry} has offset {offset}, out of order after {previous}"
                )
            }
            Self::DecreasingPts {
                entry,
                pts_ticks,
                previous,
            } => {
                write!(
                    f,
                    "index entry {entry} has PTS {pts_ticks} ticks, out of order after {previous}"
                )
            }
            Self::UnknownEnd { entry } => {
                write!(f, "the end of index entry {entry} is unknown")
            }
            Self::IndexCut { entries } => {
                write!(f, "index cut short after {entries} complete entries")
            }
            Self::PastNextSegment {
                access_units,
                pts_ticks,
            } => write!(
                f,
                "{access_units} access unit(s) from PTS {pts_ticks} ticks on lie past the start of the next segment"
            ),
            Self::NoPicture {
                entries,
                pts_ticks,
                last: true,
            } => write!(
                f,
                "the last access unit (PTS {pts_ticks} ticks, {entries} NAL unit(s)) has no picture (unfinished: still being written?): not played"
            ),
            Self::UnfinishedPicture {
                slices,
                expected,
                pts_ticks,
            } => write!(
                f,
                "the last picture (PTS {pts_ticks} ticks) has {slices} of the {expected} slices of every picture before it (unfinished: still being written?): not played"
            ),
            Self::NoPicture {
                entries,
                pts_ticks,
                last: false,
            } => write!(
                f,
                "{entries} access unit(s) from PTS {pts_ticks} ticks on have no picture but unknown NAL units (damaged): not played"
            ),
        }
    }
}

impl Problem {
    /// What kind of problem, for summaries (plural).
    fn kind(&self) -> &'static str {
        match self {
            Self::DataBeyondPacketFile { .. } => "index entries ending beyond the packet data",
            Self::StartsBeyondPacketFile { .. } => "index entries starting beyond the packet data",
            Self::DecreasingOffset { .. } => "index entries with an out-of-order offset",
            Self::DecreasingPts { .. } => "index entries with an out-of-order PTS",
            Self::UnknownEnd { .. } => "index entries whose end is unknown",
            Self::IndexCut { .. } => "index cut short",
            Self::PastNextSegment { .. } => "access units past the next segment's start",
            Self::NoPicture { .. } => "unfinished access units",
            Self::UnfinishedPicture { .. } => "unfinished pictures",
        }
    }
}

/// The largest step between two access units of a track that still counts
/// as one continuous recording (when deciding whether access units past the
/// next segment's start overlap it or come from a damaged index).
pub const MAX_CONTINUOUS_STEP_NS: u64 = 10_000_000_000;

/// How many problems of one kind a summary spells out.
const SUMMARY_FIRST: usize = 3;

/// `problems` in a few words: per kind, every problem when there are at most
/// [`SUMMARY_FIRST`], else the count and the first few. A damaged index can
/// have thousands of bad entries, and one line per recording must stay
/// readable; `truncated` tells whether some were left out (the full list
/// is for machine-readable reports).
pub fn summarize_problems(problems: &[Problem]) -> (String, bool) {
    let mut kinds: Vec<(&'static str, Vec<&Problem>)> = Vec::new();
    for p in problems {
        match kinds.iter_mut().find(|(k, _)| *k == p.kind()) {
            Some((_, list)) => list.push(p),
            None => kinds.push((p.kind(), vec![p])),
        }
    }
    let mut truncated = false;
    let parts: Vec<String> = kinds
        .iter()
        .map(|(kind, list)| {
            let shown: Vec<String> = list
                .iter()
                .take(SUMMARY_FIRST)
                .map(ToString::to_string)
                .collect();
            if list.len() <= SUMMARY_FIRST {
                shown.join("; ")
            } else {
                truncated = true;
                format!("{} {kind}, first: {}, …", list.len(), shown.join("; "))
            }
        })
        .collect();
    (parts.join("; "), truncated)
}

#[derive(Debug, Clone)]
pub struct Track {
    pub name: String,
    pub header: IndexHeader,
    /// Entries the index holds (excluding the sentinel), usable or not.
    pub index_entry_count: usize,
    /// min(packet file size, sentinel offset).
    pub packets_len: u64,
    /// The usable entries: those of complete, valid access units.
    pub nalus: Vec<Nalu>,
    pub access_units: Vec<AccessUnit>,
    /// Empty for a sound track; otherwise why `nalus` stops early.
    pub problems: Vec<Problem>,
    key_aus: Vec<usize>,
    parameter_set_aus: Vec<usize>,
    /// The index was never closed (count 0: a recording still being
    /// written, or a crash): its last access unit may be unfinished.
    unclosed: bool,
}

impl Track {
    /// Opens a track and reads each NALU's type from the packet file. The
    /// end of a NALU whose successor entry is unusable is recovered from the
    /// Annex-B start codes in the packet file.
    pub fn open(name: &str, index_path: &Path, packets_path: &Path) -> Result<Self, Rf1Error> {
        let index = Index::open(index_path)?;
        let packets = File::open(packets_path).map_err(io_error(packets_path))?;
        let packets_file_len = packets.metadata().map_err(io_error(packets_path))?.len();
        let mut scan_error = None;
        let mut track = {
            let mut find_end = |start: u64, bound: u64, bound_is_end: bool| match find_nalu_end(
                &packets,
                start,
                bound,
                bound_is_end,
            ) {
                Ok(end) => end,
                Err(e) => {
                    scan_error.get_or_insert(e);
                    None
                }
            };
            Track::build(name, index, packets_file_len, &mut find_end)
        };
        if let Some(e) = scan_error {
            return Err(io_error(packets_path)(e));
        }
        track
            .probe_nal_types(packets)
            .map_err(io_error(packets_path))?;
        Ok(track)
    }

    /// Builds the model from flags alone (no NAL types yet, and no start
    /// code scan: a NALU whose end is unknown loses its access unit).
    pub fn from_index(name: &str, index: Index, packets_file_len: u64) -> Self {
        Track::build(name, index, packets_file_len, &mut |_, _, _| None)
    }

    /// `find_end(start, bound, bound_is_end)`: the end of the Annex-B NALU at
    /// `start`, at most `bound` (which is a real end when `bound_is_end`).
    fn build(
        name: &str,
        index: Index,
        packets_file_len: u64,
        find_end: &mut dyn FnMut(u64, u64, bool) -> Option<u64>,
    ) -> Self {
        // A sentinel before the last entry that fits in the file is damaged:
        // it must not cut the packet data short (the entries are checked
        // against the file's size instead, and the last one ends at a start code).
        let sentinel = u64::from(index.sentinel.offset);
        let last_fitting = index
            .entries
            .iter()
            .map(|e| u64::from(e.offset))
            .filter(|&offset| offset <= packets_file_len)
            .max()
            .unwrap_or(0);
        let packets_len = if sentinel >= last_fitting {
            packets_file_len.min(sentinel)
        } else {
            packets_file_len
        };
        let (nalus, problems) = usable_nalus(&index, packets_file_len, packets_len, find_end);
        let mut track = Track {
            name: name.to_owned(),
            header: index.header,
            index_entry_count: index.entries.len(),
            packets_len,
            nalus,
            access_units: Vec::new(),
            problems,
            key_aus: Vec::new(),
            parameter_set_aus: Vec::new(),
            unclosed: index.recovered,
        };
        track.derive_access_units();
        track
    }

    /// Reads the NAL header of every usable NALU so key frames and parameter
    /// sets are recognised even when the flags are wrong.
    pub fn probe_nal_types(&mut self, packets: impl Read + Seek) -> io::Result<()> {
        let mut reader = BufReader::with_capacity(4096, packets);
        let mut position = reader.seek(SeekFrom::Start(0))?;
        for nalu in &mut self.nalus {
            // Relative seeks keep the buffer when NALUs are small and close together.
            reader.seek_relative(nalu.offset as i64 - position as i64)?;
            let mut head = [0u8; 5];
            let head = &mut head[..nalu.len.min(5) as usize];
            reader.read_exact(head)?;
            position = nalu.offset + head.len() as u64;
            nalu.nal_type = nal_header(head).and_then(|h| self.header.codec.nal_type(&[h]));
        }
        self.derive_access_units();
        Ok(())
    }

    fn derive_access_units(&mut self) {
        let codec = self.header.codec;
        let runs: Vec<AccessUnit> = self
            .nalus
            .chunk_by(|a, b| a.pts_ticks == b.pts_ticks)
            .scan(0, |first_nalu, run| {
                let au = AccessUnit {
                    pts_ticks: run[0].pts_ticks,
                    first_nalu: *first_nalu,
                    nalu_count: run.len(),
                    byte_range: run[0].offset..run[run.len() - 1].byte_range().end,
                    key: run.iter().any(|n| n.is_key(codec)),
                    has_parameter_sets: run.iter().any(|n| n.is_parameter_set(codec)),
                    lead: *first_nalu..*first_nalu,
                };
                *first_nalu += run.len();
                Some(au)
            })
            .collect();
        // A run without a picture (parameter sets or SEI on a PTS of their
        // own) is no frame: it is not played, and its parameter sets count
        // for the next picture (`lead`). Trailing ones are what a recording
        // still being written has so far (the picture is not written yet):
        // dropped and reported, like a run holding other NAL types (damage).
        let mut access_units: Vec<AccessUnit> = Vec::with_capacity(runs.len());
        let mut lead: Option<Range<usize>> = None;
        let mut damaged: Option<(usize, u32)> = None;
        for au in runs {
            if self.has_picture(&au) {
                access_units.push(AccessUnit {
                    lead: lead.take().unwrap_or(au.first_nalu..au.first_nalu),
                    ..au
                });
                continue;
            }
            let range = au.nalu_range();
            if !self.nalus[range.clone()]
                .iter()
                .all(|n| n.nal_type.is_some_and(|t| is_side_info(codec, t)))
            {
                damaged = Some(damaged.map_or((1, au.pts_ticks), |(n, pts)| (n + 1, pts)));
            }
            lead = Some(lead.map_or(range.clone(), |l| l.start..range.end));
        }
        if let Some((access_units, pts_ticks)) = damaged
            && !self
                .problems
                .iter()
                .any(|p| matches!(p, Problem::NoPicture { last: false, .. }))
        {
            self.problems.push(Problem::NoPicture {
                entries: access_units,
                pts_ticks,
                last: false,
            });
        }
        if let Some(unfinished) = lead {
            let pts_ticks = self.nalus[unfinished.start].pts_ticks;
            self.problems.push(Problem::NoPicture {
                entries: unfinished.len(),
                pts_ticks,
                last: true,
            });
            self.nalus.truncate(unfinished.start);
        }
        self.access_units = access_units;
        self.drop_unfinished_picture();
        self.key_aus = (0..self.access_units.len())
            .filter(|&i| self.access_units[i].key)
            .collect();
        self.parameter_set_aus = (0..self.access_units.len())
            .filter(|&i| {
                let au = &self.access_units[i];
                au.has_parameter_sets
                    || self.nalus[au.lead.clone()]
                        .iter()
                        .any(|n| n.is_parameter_set(codec))
            })
            .collect();
    }

    /// An index never closed whose last picture has fewer slices than every
    /// one of the (up to 30) pictures before it, which all have the same
    /// number (two or more): the recorder had not written the rest of that
    /// picture yet. Dropped and reported (`UnfinishedPicture`).
    fn drop_unfinished_picture(&mut self) {
        const LOOK_BACK: usize = 30;
        if !self.unclosed || self.access_units.len() < 3 {
            return;
        }
        let vcl = match self.header.codec {
            Codec::H264 => 1..=5,
            Codec::H265 => 0..=31,
        };
        let slices = |au: &AccessUnit| -> Option<usize> {
            let nalus = &self.nalus[au.nalu_range()];
            let types: Option<Vec<u8>> = nalus.iter().map(|n| n.nal_type).collect();
            Some(types?.iter().filter(|&&t| vcl.contains(&t)).count())
        };
        let Some((last, before)) = self.access_units.split_last() else {
            return;
        };
        let before = &before[before.len().saturating_sub(LOOK_BACK)..];
        let (Some(got), Some(expected)) = (slices(last), before.first().and_then(slices)) else {
            return;
        };
        if expected < 2 || got >= expected || !before.iter().all(|au| slices(au) == Some(expected))
        {
            return;
        }
        self.problems.push(Problem::UnfinishedPicture {
            slices: got,
            expected,
            pts_ticks: last.pts_ticks,
        });
        let cut = last.lead.start.min(last.first_nalu);
        self.nalus.truncate(cut);
        self.access_units.pop();
    }

    /// Whether an access unit holds a picture (a slice). Unknown NAL types
    /// (not probed yet) count as pictures.
    fn has_picture(&self, au: &AccessUnit) -> bool {
        let vcl = match self.header.codec {
            Codec::H264 => 1..=5,
            Codec::H265 => 0..=31,
        };
        self.nalus[au.nalu_range()]
            .iter()
            .any(|n| n.nal_type.is_none_or(|t| vcl.contains(&t)))
    }

    pub fn codec(&self) -> Codec {
        self.header.codec
    }

    pub fn timebase_ns(&self) -> u64 {
        self.header.timebase_ns()
    }

    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn keyframe_count(&self) -> usize {
        self.key_aus.len()
    }

    /// Decoded PTS of the last usable entry, like the reference `Duration()`.
    pub fn duration_ns(&self) -> u64 {
        self.nalus
            .last()
            .map_or(0, |n| ticks_to_ns(n.pts_ticks.into()))
    }

    /// PTS of an access unit relative to the track time base.
    pub fn au_pts_ns(&self, au: usize) -> u64 {
        ticks_to_ns(self.access_units[au].pts_ticks.into())
    }

    /// Time of an access unit relative to an absolute origin (ns since the
    /// epoch), exact for every AU; `None` if it lies before the origin.
    pub fn au_time_since(&self, au: usize, origin_ns: u64) -> Option<u64> {
        ns_since(
            origin_ns,
            self.header.timebase_us,
            self.access_units[au].pts_ticks.into(),
        )
    }

    /// Drops the access units at or after `limit_ns` (ns since the epoch),
    /// the start of the track's next segment, when they jump there: such
    /// times come from a damaged index (reported as `PastNextSegment`).
    /// Access units that reach past it without a jump (more than
    /// [`MAX_CONTINUOUS_STEP_NS`]), or a track that starts there already,
    /// are a recording overlapping the next one: kept (the two become
    /// separate streams).
    pub fn drop_access_units_from(&mut self, limit_ns: u64) {
        let time = |au: &AccessUnit| ns_since(0, self.header.timebase_us, au.pts_ticks.into());
        let first = self
            .access_units
            .partition_point(|au| time(au) < Some(limit_ns));
        let (Some(before), Some(au)) = (
            first.checked_sub(1).and_then(|i| self.access_units.get(i)),
            self.access_units.get(first),
        ) else {
            return;
        };
        let step = time(au)
            .zip(time(before))
            .map(|(at, before)| at.saturating_sub(before));
        if step.is_some_and(|step| step <= MAX_CONTINUOUS_STEP_NS) {
            return;
        }
        self.problems.push(Problem::PastNextSegment {
            access_units: self.access_units.len() - first,
            pts_ticks: au.pts_ticks,
        });
        // With the NAL units of runs without a picture in front of it.
        self.nalus.truncate(au.lead.start.min(au.first_nalu));
        self.derive_access_units();
    }

    /// The last key access unit with PTS ≤ `ticks` (a key frame exactly at
    /// `ticks` is returned itself).
    pub fn key_unit_at_or_before(&self, ticks: u64) -> Option<usize> {
        let after = self
            .key_aus
            .partition_point(|&au| u64::from(self.access_units[au].pts_ticks) <= ticks);
        after.checked_sub(1).map(|i| self.key_aus[i])
    }

    /// The first access unit with PTS ≥ `ticks`.
    pub fn first_au_at_or_after(&self, ticks: u64) -> Option<usize> {
        let first = self
            .access_units
            .partition_point(|au| u64::from(au.pts_ticks) < ticks);
        (first < self.access_units.len()).then_some(first)
    }

    /// NALU indices of the parameter sets in effect at `au`: for each kind
    /// (NAL type) the most recent access unit at or before `au` carrying it.
    /// All instances within that access unit are kept (several PPS ids).
    pub fn parameter_sets_for(&self, au: usize) -> Vec<usize> {
        let codec = self.header.codec;
        let kinds_needed = match codec {
            Codec::H264 => 2,
            Codec::H265 => 3,
        };
        let candidates = self.parameter_set_aus.partition_point(|&i| i <= au);
        let mut seen_kinds: Vec<Option<u8>> = Vec::new();
        let mut found = Vec::new();
        for &source_au in self.parameter_set_aus[..candidates].iter().rev() {
            let au = &self.access_units[source_au];
            let in_this_au: Vec<usize> = au
                .lead
                .clone()
                .chain(au.nalu_range())
                .filter(|&n| {
                    self.nalus[n].is_parameter_set(codec)
                        && !seen_kinds.contains(&self.nalus[n].nal_type)
                })
                .collect();
            seen_kinds.extend(in_this_au.iter().map(|&n| self.nalus[n].nal_type));
            found.extend(in_this_au);
            // Without NAL types the kinds cannot be told apart: one AU's set is all we can trust.
            if seen_kinds.contains(&None) || seen_kinds.iter().flatten().count() >= kinds_needed {
                break;
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    pub fn nalu_piece(&self, nalu: usize) -> PayloadPiece {
        let nalu = &self.nalus[nalu];
        PayloadPiece {
            range: nalu.byte_range(),
            prepend_start_code: nalu.needs_start_code(),
        }
    }

    /// What to read from the packet file for `au`, in order.
    pub fn au_pieces(&self, au: usize) -> Vec<PayloadPiece> {
        self.access_units[au]
            .nalu_range()
            .map(|n| self.nalu_piece(n))
            .collect()
    }

    /// The piece of NALU `nalu`, checked to lie inside the packet data: the
    /// check every read does before allocating anything.
    pub fn checked_piece(&self, nalu: usize) -> io::Result<PayloadPiece> {
        let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
        let n = self
            .nalus
            .get(nalu)
            .ok_or_else(|| invalid(format!("no NALU {nalu}")))?;
        let end = n
            .offset
            .checked_add(n.len)
            .filter(|&end| end <= self.packets_len)
            .ok_or_else(|| {
                invalid(format!(
                    "NALU {nalu} ({} + {} bytes) lies outside the {} bytes of packet data",
                    n.offset, n.len, self.packets_len
                ))
            })?;
        Ok(PayloadPiece {
            range: n.offset..end,
            prepend_start_code: n.needs_start_code(),
        })
    }

    /// Appends the Annex-B bytes of the given NALUs to `out`.
    pub fn read_nalus(
        &self,
        packets: &mut (impl Read + Seek),
        nalus: impl IntoIterator<Item = usize>,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        let pieces = nalus
            .into_iter()
            .map(|n| self.checked_piece(n))
            .collect::<io::Result<Vec<_>>>()?;
        for piece in pieces {
            if piece.prepend_start_code {
                out.extend_from_slice(&START_CODE);
            }
            let start = out.len();
            out.resize(start + (piece.range.end - piece.range.start) as usize, 0);
            packets.seek(SeekFrom::Start(piece.range.start))?;
            packets.read_exact(&mut out[start..])?;
        }
        Ok(())
    }

    /// Appends the Annex-B bytes of the given NALUs to `out` with positioned
    /// reads (no seeking, no intermediate buffer). A whole Annex-B access
    /// unit is one read.
    #[cfg(unix)]
    pub fn read_nalus_at(
        &self,
        packets: &File,
        nalus: std::ops::Range<usize>,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let pieces = nalus
            .map(|n| self.checked_piece(n))
            .collect::<io::Result<Vec<_>>>()?;
        let extra: usize = pieces
            .iter()
            .map(|p| (p.range.end - p.range.start) as usize + 4 * p.prepend_start_code as usize)
            .sum();
        out.reserve_exact(extra);
        let contiguous = pieces
            .windows(2)
            .all(|w| w[0].range.end == w[1].range.start);
        if let (true, true, Some(first), Some(last)) = (
            contiguous,
            pieces.iter().all(|p| !p.prepend_start_code),
            pieces.first(),
            pieces.last(),
        ) {
            let range = first.range.start..last.range.end;
            let start = out.len();
            out.resize(start + (range.end - range.start) as usize, 0);
            return packets.read_exact_at(&mut out[start..], range.start);
        }
        for piece in pieces {
            if piece.prepend_start_code {
                out.extend_from_slice(&START_CODE);
            }
            let start = out.len();
            out.resize(start + (piece.range.end - piece.range.start) as usize, 0);
            packets.read_exact_at(&mut out[start..], piece.range.start)?;
        }
        Ok(())
    }

    /// The Annex-B bytes of one access unit.
    pub fn read_access_unit(
        &self,
        packets: &mut (impl Read + Seek),
        au: usize,
    ) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let nalus = self
            .access_units
            .get(au)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no such access unit"))?
            .nalu_range();
        self.read_nalus(packets, nalus, &mut out)?;
        Ok(out)
    }
}

/// The usable NALUs of `index`, every one inside `packets_len`, and what was
/// wrong. An entry that starts outside the packet data or out of order
/// (offset or PTS) is skipped; its neighbours keep going. A NALU whose
/// successor was skipped ends at the next usable entry when both belong to
/// the same access unit (the skipped bytes stay inside it, payloads being
/// contiguous) or when the skipped entries claim its PTS, else at the next
/// start code (`find_end`). An access unit
/// with a NALU whose end stays unknown is dropped.
fn usable_nalus(
    index: &Index,
    packets_file_len: u64,
    packets_len: u64,
    find_end: &mut dyn FnMut(u64, u64, bool) -> Option<u64>,
) -> (Vec<Nalu>, Vec<Problem>) {
    let entries = &index.entries;
    let mut problems = Vec::new();
    if index.truncated {
        problems.push(Problem::IndexCut {
            entries: entries.len(),
        });
    }
    // 1. Which entries can be trusted.
    let fits = |e: &IndexEntry| u64::from(e.offset) <= packets_len;
    // The successors tell which of two disagreeing entries is the odd one:
    // the direct successor when it fits in the packet data, else the next
    // two entries that fit, when both agree (entries beyond the data, e.g.
    // random bytes, would leave a bogus entry before them unchallenged, and
    // one more random entry that happens to fit must not outvote it).
    let mut next_fitting = vec![None; entries.len()];
    for i in (0..entries.len().saturating_sub(1)).rev() {
        next_fitting[i] = if fits(&entries[i + 1]) {
            Some(i + 1)
        } else {
            next_fitting[i + 1]
        };
    }
    let mut kept: Vec<usize> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let offset = u64::from(entry.offset);
        let (lower_offset, lower_pts) = kept
            .last()
            .map_or((0, 0), |&k| (entries[k].offset, entries[k].pts_ticks));
        let first = next_fitting[i];
        let second = first.and_then(|j| next_fitting[j]);
        let judged_odd = |odd: &dyn Fn(&IndexEntry) -> bool| match (first, second) {
            (Some(j), _) if j == i + 1 => odd(&entries[j]),
            (Some(j), Some(k)) => odd(&entries[j]) && odd(&entries[k]),
            _ => false,
        };
        let problem = if offset > packets_len {
            Some(Problem::StartsBeyondPacketFile {
                entry: i,
                offset,
                packets_len,
            })
        } else if entry.offset < lower_offset
            || judged_odd(&|n| n.offset < entry.offset && n.offset >= lower_offset)
        {
            Some(Problem::DecreasingOffset {
                entry: i,
                offset,
                previous: lower_offset.into(),
            })
        } else if entry.pts_ticks < lower_pts
            || judged_odd(&|n| n.pts_ticks < entry.pts_ticks && n.pts_ticks >= lower_pts)
        {
            Some(Problem::DecreasingPts {
                entry: i,
                pts_ticks: entry.pts_ticks,
                previous: lower_pts,
            })
        } else {
            None
        };
        match problem {
            Some(p) => problems.push(p),
            None => kept.push(i),
        }
    }
    // 2. Where each kept NALU ends.
    let sentinel_offset = u64::from(index.sentinel.offset);
    // The packet data's end is a real NALU end unless the file was cut.
    let tail_is_end = index.truncated || sentinel_offset <= packets_file_len;
    let mut nalus = Vec::with_capacity(kept.len());
    let mut lost_pts: Vec<u32> = Vec::new();
    for (k, &i) in kept.iter().enumerate() {
        let entry = &entries[i];
        let offset = u64::from(entry.offset);
        let next = kept.get(k + 1).map(|&j| (j, &entries[j]));
        // Skipped entries that still claim this NALU's PTS, Annex-B all of
        // them (only the offset of an entry was damaged, e.g. a slice's):
        // their bytes lie between this NALU and the next kept one, payloads
        // being contiguous, and belong to this access unit.
        let same_unit_between = |j: usize| {
            entry.has_flag(flags::ANNEXB)
                && entries[i + 1..j]
                    .iter()
                    .all(|e| e.pts_ticks == entry.pts_ticks && e.has_flag(flags::ANNEXB))
        };
        if let Some((j, n)) = next
            && j > i + 1
            && n.pts_ticks != entry.pts_ticks
            && same_unit_between(j)
            && offset <= u64::from(n.offset)
            && u64::from(n.offset) <= packets_len
        {
            // Recovered: one NALU per start code up to the next kept entry
            // (so their NAL types are probed: the slice of a picture whose
            // entry was damaged still makes it a picture).
            let bound = u64::from(n.offset);
            let mut skipped_flags = entries[i + 1..j].iter().map(|e| e.flags);
            let (mut start, mut flags_now) = (offset, entry.flags);
            for _ in 0..(j - i + 16) {
                let end = find_end(start, bound, false).filter(|&e| e > start && e < bound);
                nalus.push(Nalu {
                    pts_ticks: entry.pts_ticks,
                    offset: start,
                    len: end.unwrap_or(bound) - start,
                    flags: flags_now,
                    nal_type: None,
                });
                let Some(end) = end else { break };
                start = end;
                flags_now = skipped_flags.next().unwrap_or(flags::ANNEXB);
            }
            if let Some(last) = nalus.last_mut() {
                // The iteration bound reached: the rest is the last NALU's.
                last.len = bound - last.offset;
            }
            continue;
        }
        let end = match next {
            Some((j, n)) if j == i + 1 || n.pts_ticks == entry.pts_ticks => {
                Some(u64::from(n.offset))
            }
            Some((_, n)) => annexb_end(entry, offset, n.offset.into(), true, find_end),
            None if i + 1 == entries.len() && !index.truncated => {
                if sentinel_offset > packets_file_len {
                    problems.push(Problem::DataBeyondPacketFile {
                        entry: i,
                        end: sentinel_offset,
                        packets_len: packets_file_len,
                    });
                    None
                } else if sentinel_offset < offset {
                    problems.push(Problem::DecreasingOffset {
                        entry: entries.len(),
                        offset: sentinel_offset,
                        previous: offset,
                    });
                    annexb_end(entry, offset, packets_len, true, find_end)
                } else {
                    Some(sentinel_offset)
                }
            }
            None => annexb_end(entry, offset, packets_len, tail_is_end, find_end),
        };
        // Belt and braces: never a range outside the packet data.
        match end.filter(|&end| end >= offset && end <= packets_len) {
            Some(end) => nalus.push(Nalu {
                pts_ticks: entry.pts_ticks,
                offset,
                len: end - offset,
                flags: entry.flags,
                nal_type: None,
            }),
            None => {
                if !matches!(problems.last(), Some(Problem::DataBeyondPacketFile { .. })) {
                    problems.push(Problem::UnknownEnd { entry: i });
                }
                lost_pts.push(entry.pts_ticks);
            }
        }
    }
    // 3. Drop the access units that lost a NALU.
    if !lost_pts.is_empty() {
        nalus.retain(|n| !lost_pts.contains(&n.pts_ticks));
    }
    (nalus, problems)
}

/// The end of an Annex-B NALU from the next start code (bare NALUs cannot
/// be delimited).
fn annexb_end(
    entry: &IndexEntry,
    offset: u64,
    bound: u64,
    bound_is_end: bool,
    find_end: &mut dyn FnMut(u64, u64, bool) -> Option<u64>,
) -> Option<u64> {
    if !entry.has_flag(flags::ANNEXB) || bound < offset {
        return None;
    }
    find_end(offset, bound, bound_is_end)
}

/// Scans `packets` from the Annex-B NALU at `start` for the next start code
/// before `bound`. A 4-byte start code's leading zero belongs to the next
/// NALU (as the corpus stores them). Without a start code the NALU ends at
/// `bound` if that is a real end (trailing zero bytes, e.g. preallocation,
/// excluded), else its end is unknown.
pub(crate) fn find_nalu_end(
    packets: &File,
    start: u64,
    bound: u64,
    bound_is_end: bool,
) -> io::Result<Option<u64>> {
    use std::os::unix::fs::FileExt;
    // Skip the NALU's own start code (at most 4 bytes) and header byte.
    let mut at = start + 4;
    let mut chunk = vec![0u8; 64 * 1024];
    // The last two bytes of the previous chunk, to find codes across chunks.
    let mut carry: Vec<u8> = Vec::new();
    let mut last_nonzero = None;
    while at < bound {
        let want = chunk.len().min((bound - at) as usize);
        let got = packets.read_at(&mut chunk[..want], at)?;
        if got == 0 {
            break;
        }
        let base = at - carry.len() as u64;
        let window: Vec<u8> = carry.iter().chain(&chunk[..got]).copied().collect();
        if let Some(p) = window.windows(3).position(|w| w == [0, 0, 1]) {
            let code = base + p as u64;
            let end = if p > 0 && window[p - 1] == 0 && code > start + 4 {
                code - 1
            } else {
                code
            };
            return Ok(Some(end));
        }
        if let Some(p) = window.iter().rposition(|&b| b != 0) {
            last_nonzero = Some(base + p as u64);
        }
        carry = window[window.len().saturating_sub(2)..].to_vec();
        at += got as u64;
    }
    Ok(bound_is_end.then(|| {
        last_nonzero
            .map_or(bound.min(start + 4), |p| p + 1)
            .min(bound)
    }))
}

/// NAL types that travel with pictures without being one: parameter
/// sets, SEI, access unit delimiters, end of sequence/stream, filler.
fn is_side_info(codec: Codec, nal_type: u8) -> bool {
    match codec {
        Codec::H264 => matches!(nal_type, 6..=13 | 15),
        Codec::H265 => matches!(nal_type, 32..=40),
    }
}

/// The first byte after an optional 3- or 4-byte start code.
fn nal_header(payload: &[u8]) -> Option<u8> {
    let bare = payload
        .strip_prefix(&[0, 0, 0, 1])
        .or_else(|| payload.strip_prefix(&[0, 0, 1]))
        .unwrap_or(payload);
    bare.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::rf1::{Codec, IndexHeader};

    fn index(entries: &[(u32, u32, u16)], sentinel: u32) -> Index {
        let entry = |&(pts_ticks, offset, flags): &(u32, u32, u16)| IndexEntry {
            pts_ticks,
            offset,
            flags,
        };
        Index {
            header: IndexHeader {
                codec: Codec::H264,
                flags: 0,
                codec_flags: 0,
                timebase_us: 0,
                count: entries.len() as u16,
                width: 0,
                height: 0,
            },
            entries: entries.iter().map(entry).collect(),
            sentinel: entry(&(0, sentinel, 0)),
            recovered: false,
            truncated: false,
        }
    }

    #[test]
    fn every_nalu_range_lies_inside_the_packet_data() {
        // h264_basic's entry 100 turned into PTS 0, offset 2^30 - 1: the
        // entry before it must not get a length of almost 1 GiB.
        let hostile = (1 << 30) - 1;
        let index = index(&[(0, 0, 6), (0, 10, 5), (0, hostile, 4), (409, 30, 4)], 40);
        let track = Track::from_index("video", index, 40);
        assert!(track.nalus.iter().all(|n| n.byte_range().end <= 40));
        // The skipped entry claims the key AU's PTS: its bytes are those
        // between the IDR and the next kept entry (payloads are contiguous),
        // so the key AU ends there, not at the hostile offset.
        assert_eq!(track.access_units.len(), 2);
        assert_eq!(track.nalus[1].byte_range(), 10..30);
        assert_eq!(track.nalus.last().unwrap().byte_range(), 30..40);
        assert!(matches!(
            track.problems[..],
            [Problem::StartsBeyondPacketFile { entry: 2, .. }]
        ));
        // Skipped entries of another PTS (or bare ones) do not stretch it:
        // without a start code scan that AU's end is unknown, and it is
        // dropped.
        let index =
            super::tests::index(&[(0, 0, 6), (0, 10, 5), (5, hostile, 4), (409, 30, 4)], 40);
        let track = Track::from_index("video", index, 40);
        assert_eq!(track.access_units.len(), 1);
        assert!(matches!(
            track.problems[..],
            [
                Problem::StartsBeyondPacketFile { entry: 2, .. },
                Problem::UnknownEnd { entry: 1 }
            ]
        ));
        // The first entry's own offset is checked too.
        let index2 = super::tests::index(&[(0, 1000, 4), (409, 5, 4)], 10);
        let track2 = Track::from_index("video", index2, 10);
        assert_eq!(track2.nalus.len(), 1);
        assert_eq!(track2.nalus[0].byte_range(), 5..10);
    }

    #[cfg(unix)]
    #[test]
    fn reads_check_the_range_before_allocating() {
        let track = Track::from_index("video", index(&[(0, 0, 4)], 8), 8);
        let mut hostile = track.clone();
        hostile.nalus[0].len = (1 << 30) - 1;
        assert!(hostile.checked_piece(0).is_err());
        assert!(hostile.checked_piece(5).is_err());
        let file = tempfile::tempfile().unwrap();
        file.set_len(8).unwrap();
        let mut out = Vec::new();
        let err = hostile.read_nalus_at(&file, 0..1, &mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(out.capacity() < 1024, "allocated {}", out.capacity());
        let mut reader = std::io::Cursor::new(vec![0u8; 8]);
        assert!(hostile.read_nalus(&mut reader, [0], &mut out).is_err());
        assert!(out.capacity() < 1024);
        track.read_nalus_at(&file, 0..1, &mut out).unwrap();
        assert_eq!(out.len(), 8);
    }

    #[test]
    fn nalu_ends_are_found_from_start_codes() {
        use std::io::Write;
        let mut file = tempfile::tempfile().unwrap();
        let data = [
            &[0, 0, 1, 0x65, 1, 2, 3][..],
            &[0, 0, 0, 1, 0x41, 9],
            &[0, 0, 1, 0x41, 7, 0, 0],
        ]
        .concat();
        file.write_all(&data).unwrap();
        assert_eq!(find_nalu_end(&file, 0, 19, false).unwrap(), Some(7));
        assert_eq!(find_nalu_end(&file, 7, 19, false).unwrap(), Some(13));
        assert_eq!(find_nalu_end(&file, 13, 19, false).unwrap(), None);
        // A real end: trailing zeros (preallocation) are not part of the NALU.
        assert_eq!(find_nalu_end(&file, 13, 19, true).unwrap(), Some(18));
    }

    /// Writes `<dir>/1_video.rf1i` (count 0, `entries` as given, nothing
    /// after them) and `<dir>/1_video.rf1p` and opens the track.
    fn open_crashed(dir: &Path, entries: &[(u32, u32, u16)], packets: &[u8]) -> Track {
        let header = IndexHeader {
            codec: Codec::H264,
            flags: 0,
            codec_flags: 0,
            timebase_us: 1_000_000,
            count: 0,
            width: 0,
            height: 0,
        };
        let mut bytes = header.to_bytes().to_vec();
        for &(pts_ticks, offset, flags) in entries {
            let e = IndexEntry {
                pts_ticks,
                offset,
                flags,
            };
            bytes.extend(e.encode().to_le_bytes());
        }
        let (index, packets_path) = (dir.join("1_video.rf1i"), dir.join("1_video.rf1p"));
        std::fs::write(&index, bytes).unwrap();
        std::fs::write(&packets_path, packets).unwrap();
        Track::open("video", &index, &packets_path).unwrap()
    }

    #[test]
    fn crashed_index_cut_after_an_entry_keeps_that_entry() {
        // data_loss rf1-index-crashed trial 11: a crashed (count 0) index lost
        // everything from the last entry's end on, sentinel and zero tail
        // included. The last entry is a real NALU, not the sentinel: the
        // packet data (zero-filled preallocation) ends it.
        let dir = tempfile::tempdir().unwrap();
        let packets = [
            &[0, 0, 1, 0x67, 1][..],
            &[0, 0, 1, 0x68, 2],
            &[0, 0, 1, 0x65, 3, 4],
            &[0, 0, 1, 0x41, 5, 6],
            &[0; 16],
        ]
        .concat();
        let entries = [(0, 0, 6), (0, 5, 6), (0, 10, 5), (409, 16, 4)];
        let track = open_crashed(dir.path(), &entries, &packets);
        assert_eq!(track.access_units.len(), 2);
        // The same with random bytes after the cut (as in that trial): a
        // single later entry that happens to fit does not outvote the last
        // real one.
        let mut with_random = entries.to_vec();
        with_random.extend([(11552, 4_195_225, 2048), (15088, 11, 1024)]);
        let random = open_crashed(dir.path(), &with_random, &packets);
        assert_eq!(random.access_units[..2], track.access_units[..]);
        assert_eq!(track.access_units[0].byte_range, 0..16);
        assert_eq!(track.access_units[1].byte_range, 16..22);
        assert_eq!(track.problems, [Problem::IndexCut { entries: 4 }]);
        // A crashed index that ends with its sentinel still reads as sound.
        let mut with_sentinel = entries.to_vec();
        with_sentinel.push((0, 22, 0));
        let track = open_crashed(dir.path(), &with_sentinel, &packets);
        assert_eq!(track.access_units.len(), 2);
        assert_eq!(track.access_units[1].byte_range, 16..22);
        assert!(track.is_sound(), "{:?}", track.problems);
    }

    #[test]
    fn fuzz_reproducers_stay_inside_the_packet_data() {
        // The fuzzer's findings (`[u32 LE index length][index][packets]`):
        // an entry failing on its PTS must not leave the entry before it
        // (or entry 0) reaching past the packet data.
        let cases: [&[u8]; 3] = [
            include_bytes!(
                "../../../../fuzz/artifacts/rf1_index/crash-844e1eba4152542af6699534ede7ada83f933d06"
            ),
            include_bytes!(
                "../../../../fuzz/artifacts/rf1_index/crash-380375837519eba797c88555557ff1574ce67af4"
            ),
            include_bytes!(
                "../../../../fuzz/artifacts/rf1src_files/crash-d6164d9152de6352adb10db5b2c81198deea143c"
            ),
        ];
        // The finding itself: entry 1 goes back in time *and* starts beyond
        // the data; entry 0 (beyond the data too) and entry 1 are skipped,
        // nothing is stretched to their offsets.
        let index = index(&[(409, 1000, 4), (0, 900, 4), (818, 10, 4)], 20);
        let track = Track::from_index("video", index, 20);
        assert_eq!(track.nalus.len(), 1);
        assert_eq!(track.nalus[0].byte_range(), 10..20);
        let index = super::tests::index(&[(409, 0, 4), (0, 900, 4), (818, 10, 4)], 20);
        let track = Track::from_index("video", index, 20);
        assert!(track.nalus.iter().all(|n| n.byte_range().end <= 20));
        assert_eq!(track.nalus.last().unwrap().byte_range(), 10..20);
        let dir = tempfile::tempdir().unwrap();
        for data in cases {
            let len = u32::from_le_bytes(data[..4].try_into().unwrap()) as usize;
            let (index_bytes, packets) = data[4..].split_at(len.min(data.len() - 4));
            let Ok(index) = Index::parse(index_bytes) else {
                continue;
            };
            let from_index = Track::from_index("video", index, packets.len() as u64);
            let (index_path, packets_path) = (
                dir.path().join("1_video.rf1i"),
                dir.path().join("1_video.rf1p"),
            );
            std::fs::write(&index_path, index_bytes).unwrap();
            std::fs::write(&packets_path, packets).unwrap();
            let opened = Track::open("video", &index_path, &packets_path).unwrap();
            for track in [from_index, opened] {
                assert!(track.packets_len <= packets.len() as u64);
                for n in 0..track.nalus.len() {
                    assert!(track.nalus[n].byte_range().end <= track.packets_len);
                    track.checked_piece(n).unwrap();
                }
                let mut cursor = std::io::Cursor::new(packets);
                for au in 0..track.access_units.len() {
                    track.read_access_unit(&mut cursor, au).unwrap();
                }
            }
        }
    }

    #[test]
    fn a_damaged_sentinel_does_not_cut_the_packet_data() {
        // data_loss rf1-index (200 trials) trial 119: the sentinel's offset
        // overwritten with a small value capped the packet data before every
        // entry, and the whole track was lost.
        let track = Track::from_index("video", index(&[(0, 0, 5), (409, 10, 4)], 3), 20);
        assert_eq!(track.packets_len, 20);
        assert_eq!(track.access_units.len(), 1);
        assert_eq!(track.nalus[0].byte_range(), 0..10);
        assert!(matches!(
            track.problems[..],
            [
                Problem::DecreasingOffset { entry: 2, .. },
                Problem::UnknownEnd { entry: 1 }
            ]
        ));
    }

    #[test]
    fn a_bogus_pts_before_unfitting_entries_is_challenged() {
        // data_loss rf1-index (200 trials) trial 105: an overwrite gave
        // entry 1 a huge PTS (offset intact) and entries 2-3 random offsets
        // beyond the data. With only entry 2 as judge, entry 1 was kept and
        // every later entry looked like it went back in time.
        let hostile = (1 << 30) - 1;
        let entries = [
            (0, 0, 5),
            (4_000_000, 10, 4),
            (123, hostile, 4),
            (77, hostile - 5, 4),
            (818, 30, 4),
            (1227, 40, 4),
        ];
        let track = Track::from_index("video", index(&entries, 50), 50);
        let pts: Vec<u32> = track.access_units.iter().map(|au| au.pts_ticks).collect();
        // (AU 0 ends where the skipped entry 1 starts: only a start code
        // scan, which `from_index` does not do, could recover it.)
        assert_eq!(pts, [818, 1227]);
        assert!(matches!(
            track.problems[..2],
            [
                Problem::DecreasingPts { entry: 1, .. },
                Problem::StartsBeyondPacketFile { entry: 2, .. }
            ]
        ));
    }
}
