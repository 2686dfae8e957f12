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

/// Something wrong in the index. Playback stops before the access unit in
/// which it occurs; every complete access unit before it stays usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The payload of `entry` ends beyond the packet data (file cut short).
    DataBeyondPacketFile {
        entry: usize,
        end: u64,
        packets_len: u64,
    },
    /// `entry` (== entry count for the sentinel) starts before its predecessor.
    DecreasingOffset {
        entry: usize,
        offset: u64,
        previous: u64,
    },
    DecreasingPts {
        entry: usize,
        pts_ticks: u32,
        previous: u32,
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
            Self::DecreasingOffset {
                entry,
                offset,
                previous,
            } => {
                write!(
                    f,
                    "index entry {entry} has offset {offset}, before the previous {previous}"
                )
            }
            Self::DecreasingPts {
                entry,
                pts_ticks,
                previous,
            } => {
                write!(
                    f,
                    "index entry {entry} has PTS {pts_ticks} ticks, before the previous {previous}"
                )
            }
        }
    }
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
}

impl Track {
    /// Opens a track and reads each NALU's type from the packet file.
    pub fn open(name: &str, index_path: &Path, packets_path: &Path) -> Result<Self, Rf1Error> {
        let index = Index::open(index_path)?;
        let packets = File::open(packets_path).map_err(io_error(packets_path))?;
        let packets_file_len = packets.metadata().map_err(io_error(packets_path))?.len();
        let mut track = Track::from_index(name, index, packets_file_len);
        track
            .probe_nal_types(packets)
            .map_err(io_error(packets_path))?;
        Ok(track)
    }

    /// Builds the model from flags alone (no NAL types yet).
    pub fn from_index(name: &str, index: Index, packets_file_len: u64) -> Self {
        let packets_len = packets_file_len.min(u64::from(index.sentinel.offset));
        let (usable, problem) = usable_prefix(&index, packets_len);
        let entry_end = |i: usize| index.entries.get(i + 1).unwrap_or(&index.sentinel).offset;
        let nalus = index.entries[..usable]
            .iter()
            .enumerate()
            .map(|(i, e)| Nalu {
                pts_ticks: e.pts_ticks,
                offset: e.offset.into(),
                len: u64::from(entry_end(i) - e.offset),
                flags: e.flags,
                nal_type: None,
            })
            .collect();
        let mut track = Track {
            name: name.to_owned(),
            header: index.header,
            index_entry_count: index.entries.len(),
            packets_len,
            nalus,
            access_units: Vec::new(),
            problems: problem.into_iter().collect(),
            key_aus: Vec::new(),
            parameter_set_aus: Vec::new(),
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
        self.access_units = self
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
                };
                *first_nalu += run.len();
                Some(au)
            })
            .collect();
        let indices_where = |pred: fn(&AccessUnit) -> bool| {
            (0..self.access_units.len())
                .filter(|&i| pred(&self.access_units[i]))
                .collect()
        };
        self.key_aus = indices_where(|au| au.key);
        self.parameter_set_aus = indices_where(|au| au.has_parameter_sets);
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
            let in_this_au: Vec<usize> = self.access_units[source_au]
                .nalu_range()
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

    /// Appends the Annex-B bytes of the given NALUs to `out`.
    pub fn read_nalus(
        &self,
        packets: &mut (impl Read + Seek),
        nalus: impl IntoIterator<Item = usize>,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        for piece in nalus.into_iter().map(|n| self.nalu_piece(n)) {
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
        let pieces: Vec<PayloadPiece> = nalus.map(|n| self.nalu_piece(n)).collect();
        let extra: usize = pieces
            .iter()
            .map(|p| (p.range.end - p.range.start) as usize + 4 * p.prepend_start_code as usize)
            .sum();
        out.reserve_exact(extra);
        let contiguous = pieces
            .windows(2)
            .all(|w| w[0].range.end == w[1].range.start);
        if contiguous && pieces.iter().all(|p| !p.prepend_start_code) && !pieces.is_empty() {
            let range = pieces[0].range.start..pieces[pieces.len() - 1].range.end;
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
        self.read_nalus(packets, self.access_units[au].nalu_range(), &mut out)?;
        Ok(out)
    }
}

/// How many leading entries form complete, valid access units, and the
/// problem that stopped the walk, if any.
fn usable_prefix(index: &Index, packets_len: u64) -> (usize, Option<Problem>) {
    let entries = &index.entries;
    let with_sentinel = entries.iter().chain([&index.sentinel]);
    let mut previous: Option<&IndexEntry> = None;
    for (i, entry) in with_sentinel.enumerate() {
        let is_sentinel = i == entries.len();
        let problem = match previous {
            Some(prev) if entry.offset < prev.offset => Some(Problem::DecreasingOffset {
                entry: i,
                offset: entry.offset.into(),
                previous: prev.offset.into(),
            }),
            Some(prev) if !is_sentinel && entry.pts_ticks < prev.pts_ticks => {
                // The entries before form complete AUs: a PTS change closes an AU.
                let problem = Problem::DecreasingPts {
                    entry: i,
                    pts_ticks: entry.pts_ticks,
                    previous: prev.pts_ticks,
                };
                return (i, Some(problem));
            }
            Some(_) if u64::from(entry.offset) > packets_len => {
                Some(Problem::DataBeyondPacketFile {
                    entry: i - 1,
                    end: entry.offset.into(),
                    packets_len,
                })
            }
            _ => None,
        };
        if let Some(problem) = problem {
            // Entry i-1's payload is unusable: drop its whole (incomplete) access unit.
            let broken = i - 1;
            let au_start = entries[..broken]
                .iter()
                .rposition(|e| e.pts_ticks != entries[broken].pts_ticks)
                .map_or(0, |p| p + 1);
            return (au_start, Some(problem));
        }
        previous = Some(entry);
    }
    (entries.len(), None)
}

/// The first byte after an optional 3- or 4-byte start code.
fn nal_header(payload: &[u8]) -> Option<u8> {
    let bare = payload
        .strip_prefix(&[0, 0, 0, 1])
        .or_else(|| payload.strip_prefix(&[0, 0, 1]))
        .unwrap_or(payload);
    bare.first().copied()
}
