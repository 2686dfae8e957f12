// SPDX-License-Identifier: MIT
//! Cyclops NVR "rf1" recordings: index/packet file parsing, the access-unit
//! model used for playback and seeking, location resolution and a writer.
//!
//! A track is `<base>_<name>.rf1i` (32-byte header + one u64 entry per NALU +
//! a sentinel) and `<base>_<name>.rf1p` (concatenated NALU payloads).
//! See `docs/rf1.md` for the layout, crash recovery, damage rules and the
//! facts observed on the reference corpus.

mod archive;
mod location;
mod track;
/// Writes the format: for tests, fuzz seeds and examples (feature
/// `writers`), not shipped in the plugin.
#[cfg(any(test, feature = "writers"))]
pub mod writer;

pub use archive::{Archive, ArchivePosition, ArchiveSegment};
pub use location::{Segment, TrackFiles, resolve_location};
pub use track::{AccessUnit, Nalu, PayloadPiece, Problem, Track, summarize_problems};

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub const INDEX_MAGIC: [u8; 4] = *b"rf1v";
/// Audio index magic: defined by the format, never written by Cyclops.
pub const AUDIO_INDEX_MAGIC: [u8; 4] = *b"rf1a";
pub const INDEX_HEADER_SIZE: usize = 32;
pub const INDEX_ENTRY_SIZE: usize = 8;
/// Largest number of entries (real + sentinel) we ever read from an index.
/// The u16 count allows 65535 real entries + 1 sentinel; one more entry of
/// slack covers writers that might fill a whole preallocated index.
pub const MAX_INDEX_ENTRIES: usize = 65537;
pub const MAX_INDEX_FILE_SIZE: u64 =
    (INDEX_HEADER_SIZE + INDEX_ENTRY_SIZE * MAX_INDEX_ENTRIES) as u64;
pub const TICKS_PER_SECOND: u64 = 4096;
pub const MAX_PTS_TICKS: u32 = (1 << 22) - 1;
pub const MAX_OFFSET: u64 = (1 << 30) - 1;
/// Start code prepended to payloads stored without the ANNEXB flag.
pub use crate::h264::START_CODE;

/// Per-entry flag bits (12-bit field).
pub mod flags {
    pub const KEY: u16 = 1;
    /// SPS/PPS/VPS.
    pub const ESSENTIAL_META: u16 = 2;
    /// Payload already begins with a start code.
    pub const ANNEXB: u16 = 4;
}

#[derive(Debug)]
pub enum Rf1Error {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// The index ends before the header or before the entries its count claims.
    ShortIndex {
        len: u64,
        needed: u64,
    },
    BadMagic([u8; 4]),
    AudioNotSupported,
    UnknownCodec([u8; 4]),
    /// The location names nothing that exists.
    NotFound(PathBuf),
    /// An index without its packet file (or the reverse).
    MissingCompanion(PathBuf),
    /// The location exists but holds no (matching) rf1 track.
    NoTracks {
        location: PathBuf,
        track_filter: Option<String>,
    },
}

impl fmt::Display for Rf1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } if path.as_os_str().is_empty() => {
                write!(f, "rf1 read error: {source}")
            }
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::ShortIndex { len, needed } => {
                write!(f, "rf1 index too short: {len} bytes, needs {needed}")
            }
            Self::BadMagic(m) => write!(f, "not an rf1 video index (magic {})", show4(m)),
            Self::AudioNotSupported => f.write_str("rf1 audio index (rf1a) is not supported"),
            Self::UnknownCodec(c) => write!(f, "unknown rf1 codec {}", show4(c)),
            Self::NotFound(p) => write!(
                f,
                "{}: no such rf1 segment, track or directory",
                p.display()
            ),
            Self::MissingCompanion(p) => {
                write!(f, "{}: missing (companion track file)", p.display())
            }
            Self::NoTracks {
                location,
                track_filter: None,
            } => {
                write!(f, "{}: no rf1 tracks found", location.display())
            }
            Self::NoTracks {
                location,
                track_filter: Some(name),
            } => {
                write!(f, "{}: no rf1 track named {name:?}", location.display())
            }
        }
    }
}

impl std::error::Error for Rf1Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn show4(bytes: &[u8; 4]) -> String {
    bytes.escape_ascii().to_string()
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> Rf1Error + '_ {
    move |source| Rf1Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// The codec of a track: the crate-wide [`crate::h264::Codec`]
/// (NAL-type helpers live there).
pub use crate::h264::Codec;

/// The codec field of the index header.
pub fn codec_fourcc(codec: Codec) -> [u8; 4] {
    match codec {
        Codec::H264 => *b"h264",
        Codec::H265 => *b"h265",
    }
}

/// The 32-byte index header (little-endian on disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHeader {
    pub codec: Codec,
    pub flags: u32,
    pub codec_flags: u32,
    /// Microseconds since the Unix epoch (UTC); all PTS are relative to it.
    pub timebase_us: u64,
    /// Entries excluding the sentinel; 0 also means "never closed" (see [`Index`]).
    pub count: u16,
    pub width: u16,
    pub height: u16,
}

impl IndexHeader {
    pub fn parse(bytes: &[u8]) -> Result<Self, Rf1Error> {
        let header: &[u8; INDEX_HEADER_SIZE] = bytes
            .get(..INDEX_HEADER_SIZE)
            .and_then(|h| h.try_into().ok())
            .ok_or(Rf1Error::ShortIndex {
                len: bytes.len() as u64,
                needed: INDEX_HEADER_SIZE as u64,
            })?;
        let field4 = |at: usize| -> [u8; 4] { header[at..at + 4].try_into().unwrap() };
        let u16_at = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]);
        match field4(0) {
            INDEX_MAGIC => {}
            AUDIO_INDEX_MAGIC => return Err(Rf1Error::AudioNotSupported),
            other => return Err(Rf1Error::BadMagic(other)),
        }
        let codec = match &field4(4) {
            b"h264" => Codec::H264,
            b"h265" => Codec::H265,
            other => return Err(Rf1Error::UnknownCodec(*other)),
        };
        Ok(IndexHeader {
            codec,
            flags: u32::from_le_bytes(field4(8)),
            codec_flags: u32::from_le_bytes(field4(12)),
            timebase_us: u64::from_le_bytes(header[16..24].try_into().unwrap()),
            count: u16_at(24),
            width: u16_at(26),
            height: u16_at(28),
        })
    }

    pub fn to_bytes(&self) -> [u8; INDEX_HEADER_SIZE] {
        let mut out = [0u8; INDEX_HEADER_SIZE];
        out[0..4].copy_from_slice(&INDEX_MAGIC);
        out[4..8].copy_from_slice(&codec_fourcc(self.codec));
        out[8..12].copy_from_slice(&self.flags.to_le_bytes());
        out[12..16].copy_from_slice(&self.codec_flags.to_le_bytes());
        out[16..24].copy_from_slice(&self.timebase_us.to_le_bytes());
        out[24..26].copy_from_slice(&self.count.to_le_bytes());
        out[26..28].copy_from_slice(&self.width.to_le_bytes());
        out[28..30].copy_from_slice(&self.height.to_le_bytes());
        out
    }

    /// Saturates: a hostile header may hold any u64.
    pub fn timebase_ns(&self) -> u64 {
        self.timebase_us.saturating_mul(1000)
    }
}

/// One decoded u64 index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexEntry {
    /// 22 bits, 1/4096 s relative to the track time base.
    pub pts_ticks: u32,
    /// 30 bits, byte offset in the packet file.
    pub offset: u32,
    /// 12 bits, see [`flags`].
    pub flags: u16,
}

impl IndexEntry {
    pub fn decode(raw: u64) -> Self {
        IndexEntry {
            pts_ticks: (raw >> 42) as u32,
            offset: ((raw >> 12) & MAX_OFFSET) as u32,
            flags: (raw & 0xfff) as u16,
        }
    }

    /// Packs the fields; out-of-range values are masked (the writer checks them first).
    pub fn encode(&self) -> u64 {
        (u64::from(self.pts_ticks & MAX_PTS_TICKS) << 42)
            | ((u64::from(self.offset) & MAX_OFFSET) << 12)
            | u64::from(self.flags & 0xfff)
    }

    pub fn has_flag(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

/// A parsed index: real entries plus the sentinel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub header: IndexHeader,
    pub entries: Vec<IndexEntry>,
    /// Offset = logical end of the packet data. All-zero for an empty track.
    pub sentinel: IndexEntry,
    /// True when the count was 0 and entries were recovered by scanning
    /// (an unclosed recording; also how an empty, closed track looks).
    pub recovered: bool,
    /// True when the file ends before the entries its count claims (or
    /// before the sentinel), or, with count 0, when the entries run into the
    /// end of the file and the last one is no sentinel: `entries` holds the complete ones that are
    /// there and `sentinel` is a stand-in whose offset ([`MAX_OFFSET`]) lets
    /// the packet file's size bound the last entry.
    pub truncated: bool,
}

impl Index {
    pub fn open(path: &Path) -> Result<Self, Rf1Error> {
        let file = std::fs::File::open(path).map_err(io_error(path))?;
        Self::read_from(io::BufReader::new(file)).map_err(|e| match e {
            Rf1Error::Io { source, .. } => Rf1Error::Io {
                path: path.to_owned(),
                source,
            },
            other => other,
        })
    }

    /// Reads only what is needed: the counted entries, or (count 0) up to the
    /// first all-zero entry, never more than [`MAX_INDEX_FILE_SIZE`] bytes.
    pub fn read_from(reader: impl Read) -> Result<Self, Rf1Error> {
        let mut reader = reader.take(MAX_INDEX_FILE_SIZE);
        let read_err = |source| Rf1Error::Io {
            path: PathBuf::new(),
            source,
        };
        let mut header_bytes = [0u8; INDEX_HEADER_SIZE];
        let got = read_up_to(&mut reader, &mut header_bytes).map_err(read_err)?;
        let header = IndexHeader::parse(&header_bytes[..got])?;

        let mut raw = Vec::new();
        // Count 0: whether the entries ran into the end of the file rather than a zero entry.
        let mut ran_out = false;
        let mut chunk = [0u8; 4096];
        let wanted = match header.count {
            0 => MAX_INDEX_ENTRIES,
            n => usize::from(n) + 1,
        };
        loop {
            // Read at most the remaining wanted entries, so a clean index is read exactly.
            let chunk_len = chunk.len().min((wanted - raw.len()) * INDEX_ENTRY_SIZE);
            let got = read_up_to(&mut reader, &mut chunk[..chunk_len]).map_err(read_err)?;
            raw.extend(
                chunk[..got - got % INDEX_ENTRY_SIZE]
                    .chunks_exact(INDEX_ENTRY_SIZE)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap())),
            );
            let done = got < chunk_len || raw.len() >= wanted;
            if header.count == 0 {
                if let Some(end) = first_unused_entry(&raw, done) {
                    ran_out = end == raw.len() && end > 0 && end < wanted && raw[end - 1] != 0;
                    raw.truncate(end);
                    break;
                }
            } else if done {
                break;
            }
        }
        let mut entries: Vec<IndexEntry> = raw.into_iter().map(IndexEntry::decode).collect();
        // A counted index cut short (no sentinel, or cut inside an entry), or
        // a crashed one (count 0, preallocated) whose entries run into the end
        // of the file and whose last entry is no sentinel (PTS 0, flags 0):
        // keep the complete entries; the packet file's size ends the last one.
        let truncated = if header.count > 0 {
            entries.len() < wanted
        } else {
            ran_out
                && entries
                    .last()
                    .is_some_and(|e| e.pts_ticks != 0 || e.flags != 0)
        };
        let sentinel = if truncated {
            IndexEntry {
                pts_ticks: 0,
                offset: MAX_OFFSET as u32,
                flags: 0,
            }
        } else {
            entries.pop().unwrap_or_default()
        };
        Ok(Index {
            header,
            entries,
            sentinel,
            recovered: header.count == 0,
            truncated,
        })
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, Rf1Error> {
        Self::read_from(bytes)
    }

    /// The raw on-disk entry bytes (entries + sentinel) of this index.
    pub fn entry_bytes(&self) -> Vec<u8> {
        self.entries
            .iter()
            .chain([&self.sentinel])
            .flat_map(|e| e.encode().to_le_bytes())
            .collect()
    }
}

/// Crash recovery: the number of in-use entries (including the sentinel), once
/// `raw` is long enough to tell. Entries end at the first all-zero u64, except
/// that entry 0 may be zero when entry 1 is not (PTS 0, offset 0, flags 0).
fn first_unused_entry(raw: &[u64], at_end_of_input: bool) -> Option<usize> {
    match raw {
        [] | [0] => at_end_of_input.then_some(0),
        [0, 0, ..] => Some(0),
        _ => match raw.iter().skip(1).position(|&e| e == 0) {
            Some(zero) => Some(zero + 1),
            None => at_end_of_input.then_some(raw.len()),
        },
    }
}

/// Like `read_exact` but returns how much was read before EOF.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// floor(ticks * 1e9 / 4096), as the reference reader decodes PTS.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    (u128::from(ticks) * 1_000_000_000 / u128::from(TICKS_PER_SECOND)) as u64
}

/// floor(ns * 4096 / 1e9), as the reference writer and ReadAtTime encode.
/// Note: `ns_to_ticks(ticks_to_ns(t))` is usually `t - 1`; use
/// [`last_ticks_at_or_before_ns`] to compare against decoded times.
pub fn ns_to_ticks(ns: u64) -> u64 {
    (u128::from(ns) * u128::from(TICKS_PER_SECOND) / 1_000_000_000) as u64
}

/// The largest tick count whose decoded time (`ticks_to_ns`) is ≤ `ns`.
/// Seeking with this never misses a frame whose reported time equals `ns`.
pub fn last_ticks_at_or_before_ns(ns: u64) -> u64 {
    ((u128::from(ns) + 1) * u128::from(TICKS_PER_SECOND)).div_ceil(1_000_000_000) as u64 - 1
}

/// The smallest tick count whose decoded time is ≥ `ns`.
pub fn first_ticks_at_or_after_ns(ns: u64) -> u64 {
    (u128::from(ns) * u128::from(TICKS_PER_SECOND)).div_ceil(1_000_000_000) as u64
}

/// Absolute time (ns since the Unix epoch) of a PTS, when it is a valid
/// `GstClockTime` (below `u64::MAX`); `None` for an absurd time base.
pub fn wall_clock_ns(timebase_us: u64, ticks: u64) -> Option<u64> {
    timebase_us
        .checked_mul(1000)?
        .checked_add(ticks_to_ns(ticks))
        .filter(|&ns| ns < u64::MAX)
}

/// Absolute time (ns since the Unix epoch) of a PTS, saturating.
pub fn absolute_ns(timebase_us: u64, ticks: u64) -> u64 {
    timebase_us
        .saturating_mul(1000)
        .saturating_add(ticks_to_ns(ticks))
}

/// Time of a PTS relative to `origin_ns` (absolute), computed from the
/// integers each time so no rounding accumulates; `None` if before the origin.
pub fn ns_since(origin_ns: u64, timebase_us: u64, ticks: u64) -> Option<u64> {
    // The time base saturates exactly as in `IndexHeader::timebase_ns`, so a
    // track whose absurd time base is the origin still starts at 0.
    let time = i128::from(timebase_us.saturating_mul(1000)) + i128::from(ticks_to_ns(ticks))
        - i128::from(origin_ns);
    u64::try_from(time).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_bytes(count: u16, entries: &[u64]) -> Vec<u8> {
        let header = IndexHeader {
            codec: Codec::H264,
            flags: 0,
            codec_flags: 0,
            timebase_us: 1_712_815_946_731_000,
            count,
            width: 320,
            height: 240,
        };
        let mut out = header.to_bytes().to_vec();
        out.extend(entries.iter().flat_map(|e| e.to_le_bytes()));
        out
    }

    #[test]
    fn header_round_trip_matches_reference_bytes() {
        let hex = "72663176683236340000000000000000f80d120acc15060041014001f0000000";
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let header = IndexHeader::parse(&bytes).unwrap();
        assert_eq!(
            (header.codec, header.count, header.width, header.height),
            (Codec::H264, 321, 320, 240)
        );
        assert_eq!(header.timebase_us, 1_712_815_946_731_000);
        assert_eq!(header.to_bytes().as_slice(), bytes.as_slice());
    }

    #[test]
    fn entry_decode_uses_all_bits() {
        let entry = IndexEntry::decode(0xfff7740105d37004);
        assert_eq!(
            entry,
            IndexEntry {
                pts_ticks: 4193757,
                offset: 1072439,
                flags: 4
            }
        );
        assert_eq!(entry.encode(), 0xfff7740105d37004);
    }

    #[test]
    fn header_errors_are_clear() {
        assert!(matches!(
            Index::parse(b"rf1v"),
            Err(Rf1Error::ShortIndex { len: 4, needed: 32 })
        ));
        let mut bytes = index_bytes(0, &[0]);
        bytes[..4].copy_from_slice(b"RIFF");
        let err = Index::parse(&bytes).unwrap_err();
        assert!(matches!(err, Rf1Error::BadMagic(_)));
        assert_eq!(err.to_string(), "not an rf1 video index (magic RIFF)");
        bytes[..4].copy_from_slice(b"rf1a");
        assert!(matches!(
            Index::parse(&bytes),
            Err(Rf1Error::AudioNotSupported)
        ));
        bytes[..8].copy_from_slice(b"rf1vav1\0");
        let err = Index::parse(&bytes).unwrap_err();
        assert_eq!(err.to_string(), "unknown rf1 codec av1\\x00");
    }

    #[test]
    fn truncated_counted_index_keeps_its_complete_entries() {
        let mut bytes = index_bytes(3, &[4, 0x1004]);
        bytes.extend_from_slice(&[0x04, 0x20, 0]); // half an entry
        let index = Index::parse(&bytes).unwrap();
        assert!(index.truncated);
        assert_eq!(index.entries.len(), 2);
        assert_eq!(u64::from(index.sentinel.offset), MAX_OFFSET);
        // Only the sentinel missing: every entry, still truncated.
        let index = Index::parse(&index_bytes(2, &[4, 0x1004])).unwrap();
        assert!(index.truncated);
        assert_eq!(index.entries.len(), 2);
        let index = Index::parse(&index_bytes(1, &[4, 0x1000])).unwrap();
        assert!(!index.truncated);
        assert_eq!((index.entries.len(), index.sentinel.offset), (1, 1));
    }

    #[test]
    fn wall_clock_is_none_for_absurd_time_bases() {
        assert_eq!(wall_clock_ns(1, 4096), Some(1_000_001_000));
        assert_eq!(wall_clock_ns(u64::MAX, 0), None);
        assert_eq!(
            wall_clock_ns(u64::MAX / 1000, u64::from(MAX_PTS_TICKS)),
            None
        );
        assert_eq!(ns_since(u64::MAX, u64::MAX, 4096), Some(1_000_000_000));
    }

    #[test]
    fn recovery_stops_at_first_zero_entry() {
        let e = |ticks: u64, off: u64, fl: u64| (ticks << 42) | (off << 12) | fl;
        let index = Index::parse(&index_bytes(
            0,
            &[e(0, 0, 6), e(0, 10, 5), e(0, 20, 0), 0, e(9, 9, 9)],
        ))
        .unwrap();
        assert_eq!(index.entries.len(), 2);
        assert_eq!(index.sentinel.offset, 20);
        // Entry 0 all zero is a real entry when entry 1 is not zero.
        let index = Index::parse(&index_bytes(0, &[0, e(1, 10, 4), e(0, 20, 0), 0])).unwrap();
        assert_eq!(index.entries.len(), 2);
        // Empty track: header count 0 and one zero sentinel.
        let index = Index::parse(&index_bytes(0, &[0])).unwrap();
        assert!(index.entries.is_empty());
        assert_eq!(index.sentinel, IndexEntry::default());
        let index = Index::parse(&index_bytes(0, &[0, 0, 0])).unwrap();
        assert!(index.entries.is_empty());
        // Trailing partial entry is ignored.
        let mut bytes = index_bytes(0, &[e(0, 0, 4), e(0, 7, 0)]);
        bytes.extend([1, 2, 3]);
        assert_eq!(Index::parse(&bytes).unwrap().entries.len(), 1);
    }

    #[test]
    fn recovery_reads_at_most_the_format_maximum() {
        // An endless stream of non-zero entries: the reader must stop by itself.
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let header = index_bytes(0, &[]);
                for b in buf.iter_mut() {
                    *b = header.get(self.0 as usize).copied().unwrap_or(0x44);
                    self.0 += 1;
                }
                Ok(buf.len())
            }
        }
        let index = Index::read_from(Endless(0)).unwrap();
        assert_eq!(index.entries.len(), MAX_INDEX_ENTRIES - 1);
    }

    #[test]
    fn time_conversions() {
        assert_eq!(ticks_to_ns(409), 99_853_515);
        assert_eq!(ns_to_ticks(99_853_515), 408);
        assert_eq!(ns_to_ticks(100_000_000), 409);
        for ticks in [
            0u64,
            1,
            409,
            4095,
            4096,
            49152,
            4_193_757,
            u64::from(MAX_PTS_TICKS),
        ] {
            let ns = ticks_to_ns(ticks);
            assert_eq!(last_ticks_at_or_before_ns(ns), ticks, "ticks {ticks}");
            assert_eq!(first_ticks_at_or_after_ns(ns), ticks, "ticks {ticks}");
            assert_eq!(
                last_ticks_at_or_before_ns(ns.saturating_sub(1)) + 1,
                ticks.max(1)
            );
        }
        assert_eq!(
            absolute_ns(1_712_815_946_731_000, 409),
            1_712_815_946_731_000_000 + 99_853_515
        );
        let origin = 1_712_815_946_731_000_000;
        assert_eq!(
            ns_since(origin, 1_712_815_947_231_000, 0),
            Some(500_000_000)
        );
        assert_eq!(
            ns_since(origin, 1_712_815_946_731_000, 409),
            Some(99_853_515)
        );
        assert_eq!(ns_since(origin + 1, 1_712_815_946_731_000, 0), None);
        assert_eq!(absolute_ns(u64::MAX, 1), u64::MAX);
        assert_eq!(ns_since(0, u64::MAX, 1), None);
    }
}
