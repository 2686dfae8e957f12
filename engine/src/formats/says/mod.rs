// SPDX-License-Identifier: MIT
//! Rosco dashcam "SAYS" `.nvr` recordings (DVXC4 firmware): parser.
//!
//! Layout: a 64 KiB file header (magic, file name, metadata), then chunks
//! back to back. Chunks start with a two-digit stream id `NS` (N = camera,
//! S = substream: 0 key, 1 delta, 7 mu-law, 9 Opus) and a type (`dc` video,
//! `wb` audio), except JPEG snapshots, which are raw `FF D8 .. FF D9` blobs.
//! See `docs/says.md` for the layout, the resync rules and what the sample
//! data showed beyond the public description.
//!
//! Everything here works on byte slices, never panics on arbitrary input and
//! never trusts a length before checking it against [`MAX_CHUNK_LEN`] and the
//! available data, so a streaming demuxer can use it on damaged files.

mod metadata;
/// Writes the format: for tests, fuzz seeds and examples (feature
/// `writers`), not shipped in the plugin.
#[cfg(any(test, feature = "writers"))]
pub mod writer;

pub use metadata::{
    MAX_META_DEPTH, MAX_META_ENTRIES, MAX_UNKNOWN_ENTRIES, MetaEntry, MetaIssue, MetaIssueKind,
    MetaList, MetaValue, Telemetry, UnknownEntry, find, metadata_to_json, parse_metadata,
    type_code,
};

use std::fmt;
use std::ops::Range;

pub const MAGIC: &[u8; 4] = b"SAYS";
pub const FILE_HEADER_LEN: usize = 65536;
/// Offsets inside the file header.
pub const HEADER_UNKNOWN_OFFSET: usize = 4;
pub const HEADER_UNKNOWN_LEN: usize = 32;
pub const HEADER_NAME_OFFSET: usize = 36;
pub const HEADER_NAME_LEN: usize = 128;
pub const HEADER_META_LEN_OFFSET: usize = 164;
pub const HEADER_META_OFFSET: usize = 168;
/// Bytes [`probe`] needs to decide.
pub const PROBE_LEN: usize = HEADER_META_OFFSET;

/// Upper bound for one chunk (a 4K key frame is a few MB). Anything larger
/// is treated as corruption, and [`ChunkParse::NeedMore`] never asks more.
pub const MAX_CHUNK_LEN: usize = 16 << 20;
/// Upper bound for per-frame metadata (real files: 200 bytes).
pub const MAX_FRAME_META_LEN: usize = 64 << 10;
/// Fixed part of a video chunk: id, `dc`, `H264`, media length, small
/// metadata length, 2 unknown bytes, timestamp.
pub const VIDEO_HEADER_LEN: usize = 24;
/// Video fixed part plus the u32 metadata length.
const VIDEO_PREFIX_LEN: usize = VIDEO_HEADER_LEN + 4;
/// Audio chunk header: id, `wb`, u16 channel length, u16 length + 8, timestamp.
pub const AUDIO_HEADER_LEN: usize = 16;
/// Video media and JPEG snapshots are zero padded to a multiple of this.
pub const PADDING_ALIGN: usize = 8;
/// Largest chunk timestamp (µs) that is a time at all: its nanoseconds must
/// fit a GStreamer clock time (`u64::MAX` ns is "none"). A chunk stamped
/// later is damage ([`ChunkParse::Invalid`]).
pub const MAX_TIMESTAMP_US: u64 = (u64::MAX - 1) / 1000;
/// Enough bytes to tell whether a chunk header is plausible.
pub const HEADER_PEEK_LEN: usize = 8;
/// How much further a JPEG end-marker search asks for at a time.
const JPEG_READ_STEP: usize = 64 << 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No `SAYS` magic.
    BadMagic,
    /// The header needs `needed` bytes from the file start.
    Truncated { needed: usize },
    /// The header metadata length does not fit in the 64 KiB header.
    BadMetadataLength(u32),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadMagic => write!(f, "not a SAYS file (bad magic)"),
            Error::Truncated { needed } => {
                write!(f, "SAYS header truncated ({needed} bytes needed)")
            }
            Error::BadMetadataLength(len) => {
                write!(f, "SAYS header metadata length {len} too large")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Firmware version from the header's `appVersion` (e.g. `v1.6.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl AppVersion {
    /// First firmware that writes each audio channel once.
    pub const SINGLE_AUDIO_COPY_SINCE: AppVersion = AppVersion {
        major: 1,
        minor: 6,
        patch: 0,
    };

    /// Accepts `v1.6.5`, `V1.6`, `1.06.05-beta`: leading digits of up to three
    /// dot-separated parts; missing minor/patch are 0.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let mut parts = text.splitn(3, '.').map(|part| {
            let digits = part.len() - part.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            part[..digits].parse::<u32>().ok()
        });
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Self {
            major,
            minor,
            patch,
        })
    }

    pub fn writes_audio_twice(&self) -> bool {
        *self < Self::SINGLE_AUDIO_COPY_SINCE
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileHeader {
    /// Bytes 4..36. Samples: `04 00 01 00`, u32 start time (Unix s), zeros,
    /// `"DVXC4"`; kept raw, nothing relies on it.
    pub unknown: [u8; HEADER_UNKNOWN_LEN],
    /// E.g. `20210416_140327_140335.nvr` (date, start and end time).
    pub file_name: String,
    pub metadata: MetaList,
    /// `appVersion` as stored, if present.
    pub app_version_text: Option<String>,
    pub app_version: Option<AppVersion>,
}

impl FileHeader {
    /// Header metadata lookup (top level only).
    pub fn get(&self, name: &str) -> Option<&MetaValue> {
        find(&self.metadata.entries, name)
    }
}

/// Typefinder check: magic, a printable NUL-padded file name and a metadata
/// length that fits the header. Needs [`PROBE_LEN`] bytes.
pub fn probe(data: &[u8]) -> bool {
    let Some(head) = data.get(..PROBE_LEN) else {
        return false;
    };
    if &head[..4] != MAGIC {
        return false;
    }
    let name_field = &head[HEADER_NAME_OFFSET..HEADER_NAME_OFFSET + HEADER_NAME_LEN];
    let name_len = name_field
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(HEADER_NAME_LEN);
    let name_ok = name_field[..name_len]
        .iter()
        .all(|b| b.is_ascii_graphic() || *b == b' ')
        && name_field[name_len..].iter().all(|&b| b == 0);
    name_ok && header_metadata_len(head).is_ok()
}

fn header_metadata_len(data: &[u8]) -> Result<usize, Error> {
    let len = read_u32(data, HEADER_META_LEN_OFFSET).ok_or(Error::Truncated {
        needed: HEADER_META_OFFSET,
    })?;
    // The header metadata length does not count its own 4 bytes (see docs/says.md).
    match usize::try_from(len) {
        Ok(len) if len <= FILE_HEADER_LEN - HEADER_META_OFFSET => Ok(len),
        _ => Err(Error::BadMetadataLength(len)),
    }
}

/// Parse the file header from the start of the file. Needs 168 bytes plus
/// the metadata (at most [`FILE_HEADER_LEN`]); the chunks start at
/// [`FILE_HEADER_LEN`] regardless.
pub fn parse_file_header(data: &[u8]) -> Result<FileHeader, Error> {
    if data.len() < MAGIC.len() || &data[..4] != MAGIC {
        return Err(Error::BadMagic);
    }
    let meta_len = header_metadata_len(data)?;
    let meta_end = HEADER_META_OFFSET + meta_len;
    let meta_bytes = data
        .get(HEADER_META_OFFSET..meta_end)
        .ok_or(Error::Truncated { needed: meta_end })?;

    let mut unknown = [0u8; HEADER_UNKNOWN_LEN];
    unknown
        .copy_from_slice(&data[HEADER_UNKNOWN_OFFSET..HEADER_UNKNOWN_OFFSET + HEADER_UNKNOWN_LEN]);
    let name_field = &data[HEADER_NAME_OFFSET..HEADER_NAME_OFFSET + HEADER_NAME_LEN];
    let name_len = name_field
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(HEADER_NAME_LEN);
    let metadata = parse_metadata(meta_bytes);
    let app_version_text = find(&metadata.entries, "appVersion")
        .and_then(MetaValue::as_str)
        .map(str::to_owned);
    let app_version = app_version_text.as_deref().and_then(AppVersion::parse);
    Ok(FileHeader {
        unknown,
        file_name: String::from_utf8_lossy(&name_field[..name_len]).into_owned(),
        metadata,
        app_version_text,
        app_version,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChunkKind {
    VideoKey,
    VideoDelta,
    AudioMulaw,
    AudioOpus,
    Jpeg,
}

impl ChunkKind {
    pub fn is_video(self) -> bool {
        matches!(self, ChunkKind::VideoKey | ChunkKind::VideoDelta)
    }

    pub fn is_audio(self) -> bool {
        matches!(self, ChunkKind::AudioMulaw | ChunkKind::AudioOpus)
    }

    /// The substream digit of the stream id (`None` for JPEG).
    pub fn substream_digit(self) -> Option<u8> {
        match self {
            ChunkKind::VideoKey => Some(b'0'),
            ChunkKind::VideoDelta => Some(b'1'),
            ChunkKind::AudioMulaw => Some(b'7'),
            ChunkKind::AudioOpus => Some(b'9'),
            ChunkKind::Jpeg => None,
        }
    }

    fn from_id_and_type(substream: u8, chunk_type: &[u8]) -> Option<Self> {
        match (substream, chunk_type) {
            (b'0', b"dc") => Some(ChunkKind::VideoKey),
            (b'1', b"dc") => Some(ChunkKind::VideoDelta),
            (b'7', b"wb") => Some(ChunkKind::AudioMulaw),
            (b'9', b"wb") => Some(ChunkKind::AudioOpus),
            _ => None,
        }
    }
}

/// How many copies of each audio channel the firmware wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudioCopies {
    One,
    /// Firmware before v1.6.0 writes every channel twice.
    Two,
    /// `appVersion` missing or unparsable: decide per chunk from the data.
    /// A chunk is doubled when its second copy equals the first AND no
    /// plausible chunk header starts right after the first copy. A demuxer
    /// may switch to the detected [`Chunk::audio_copies`] once it is sure.
    #[default]
    Detect,
}

/// File-wide knowledge the chunk parser needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkContext {
    pub audio_copies: AudioCopies,
}

impl ChunkContext {
    pub fn from_header(header: &FileHeader) -> Self {
        let audio_copies = match header.app_version {
            Some(version) if version.writes_audio_twice() => AudioCopies::Two,
            Some(_) => AudioCopies::One,
            None => AudioCopies::Detect,
        };
        Self { audio_copies }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub kind: ChunkKind,
    /// Camera/stream number, the first digit of the id (`None` for JPEG).
    pub stream: Option<u8>,
    /// Chunk clock in µs (`None` for JPEG). Unix time in all samples, but may
    /// be a device counter on real units; all streams share it.
    pub timestamp_us: Option<u64>,
    /// Bytes consumed from the chunk start, padding included.
    pub len: usize,
    /// Media bytes relative to the chunk start: Annex-B without padding,
    /// one copy of an audio channel, or the exact JPEG.
    pub payload: Range<usize>,
    /// Per-frame metadata entries (after their u32 length) for video; feed
    /// to [`parse_metadata`].
    pub metadata: Option<Range<usize>>,
    /// Audio copies stored in this chunk (1 or 2); 1 for other kinds.
    pub audio_copies: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkParse {
    Chunk(Chunk),
    /// The chunk needs this many bytes from its start (≤ [`MAX_CHUNK_LEN`]).
    NeedMore(usize),
    /// Not a chunk here: resync with [`find_resync`] from the next byte.
    Invalid,
}

/// Parse the chunk starting at `data[0]`. `at_eof` says that `data` reaches
/// the end of the file: an incomplete chunk is then `Invalid` (except one
/// missing only its zero padding or second audio copy, which is accepted),
/// never `NeedMore`.
pub fn parse_chunk(data: &[u8], ctx: &ChunkContext, at_eof: bool) -> ChunkParse {
    let outcome = match data {
        [0xFF, 0xD8, 0xFF, ..] => parse_jpeg(data, at_eof),
        [digit, substream, type0, type1, ..] if digit.is_ascii_digit() => {
            match ChunkKind::from_id_and_type(*substream, &[*type0, *type1]) {
                Some(kind) if kind.is_video() => parse_video(data, kind, at_eof),
                Some(kind) => parse_audio(data, kind, ctx, at_eof),
                None => ChunkParse::Invalid,
            }
        }
        [first, ..] if !first.is_ascii_digit() && *first != 0xFF => ChunkParse::Invalid,
        [_, _, _, _, ..] => ChunkParse::Invalid,
        _ => ChunkParse::NeedMore(4),
    };
    match outcome {
        ChunkParse::NeedMore(_) if at_eof => ChunkParse::Invalid,
        outcome => outcome,
    }
}

fn parse_video(data: &[u8], kind: ChunkKind, at_eof: bool) -> ChunkParse {
    if data.len() < VIDEO_PREFIX_LEN {
        return ChunkParse::NeedMore(VIDEO_PREFIX_LEN);
    }
    if &data[4..8] != b"H264" {
        return ChunkParse::Invalid;
    }
    let (Some(media_len), Some(timestamp), Some(meta_len)) =
        (read_u32(data, 8), read_u64(data, 16), read_u32(data, 24))
    else {
        return ChunkParse::Invalid;
    };
    let (Ok(media_len), Ok(meta_len)) = (usize::try_from(media_len), usize::try_from(meta_len))
    else {
        return ChunkParse::Invalid;
    };
    // Bounded lengths keep the sums below from overflowing. A frame without
    // media is no frame (fuzz finding: it came out as an empty packet).
    if media_len == 0
        || media_len > MAX_CHUNK_LEN
        || !(4..=MAX_FRAME_META_LEN).contains(&meta_len)
        || timestamp > MAX_TIMESTAMP_US
    {
        return ChunkParse::Invalid;
    }
    let media_start = VIDEO_HEADER_LEN + meta_len;
    let media_end = media_start + media_len;
    let total = media_start + media_len.next_multiple_of(PADDING_ALIGN);
    if total > MAX_CHUNK_LEN {
        return ChunkParse::Invalid;
    }
    let len = if data.len() >= total {
        total
    } else if at_eof && data.len() >= media_end {
        data.len() // file ends inside the padding: the media is whole
    } else {
        return ChunkParse::NeedMore(total);
    };
    ChunkParse::Chunk(Chunk {
        kind,
        stream: Some(data[0] - b'0'),
        timestamp_us: Some(timestamp),
        len,
        payload: media_start..media_end,
        metadata: Some(VIDEO_PREFIX_LEN..media_start),
        audio_copies: 1,
    })
}

fn parse_audio(data: &[u8], kind: ChunkKind, ctx: &ChunkContext, at_eof: bool) -> ChunkParse {
    let (Some(channel_len), Some(channel_len_plus_8), Some(timestamp)) =
        (read_u16(data, 4), read_u16(data, 6), read_u64(data, 8))
    else {
        return ChunkParse::NeedMore(AUDIO_HEADER_LEN);
    };
    if channel_len_plus_8 != channel_len.wrapping_add(8) || timestamp > MAX_TIMESTAMP_US {
        return ChunkParse::Invalid;
    }
    let channel_len = usize::from(channel_len);
    let single_end = AUDIO_HEADER_LEN + channel_len;
    let double_end = single_end + channel_len;
    let copies = match ctx.audio_copies {
        AudioCopies::One => 1,
        AudioCopies::Two => 2,
        AudioCopies::Detect => match detect_audio_copies(data, single_end, double_end, at_eof) {
            Ok(copies) => copies,
            Err(need) => return ChunkParse::NeedMore(need),
        },
    };
    let full_len = if copies == 2 { double_end } else { single_end };
    let len = if data.len() >= full_len {
        full_len
    } else if at_eof && data.len() >= single_end {
        data.len() // file ends inside the redundant second copy
    } else {
        return ChunkParse::NeedMore(full_len);
    };
    ChunkParse::Chunk(Chunk {
        kind,
        stream: Some(data[0] - b'0'),
        timestamp_us: Some(timestamp),
        len,
        payload: AUDIO_HEADER_LEN..single_end,
        metadata: None,
        audio_copies: copies,
    })
}

/// The doubling rule of [`AudioCopies::Detect`]; `Err` = bytes needed.
fn detect_audio_copies(
    data: &[u8],
    single_end: usize,
    double_end: usize,
    at_eof: bool,
) -> Result<u8, usize> {
    let after_single = data.get(single_end..).unwrap_or_default();
    if after_single.len() < HEADER_PEEK_LEN && !at_eof {
        return Err(single_end + HEADER_PEEK_LEN);
    }
    if looks_like_chunk_start(after_single) {
        return Ok(1);
    }
    match data.get(single_end..double_end) {
        Some(second) => Ok(if data.get(AUDIO_HEADER_LEN..single_end) == Some(second) {
            2
        } else {
            1
        }),
        None if at_eof => Ok(1),
        None => Err(double_end),
    }
}

const JPEG_SOI: [u8; 3] = [0xFF, 0xD8, 0xFF];

/// JPEGs carry no length: walk the marker segments (skipping their lengths,
/// so an EXIF thumbnail's `FF D9` does not end the image) and scan entropy
/// coded data for the next marker, up to `FF D9`. Then skip the zero padding
/// up to a multiple of 8 from the JPEG start.
fn parse_jpeg(data: &[u8], at_eof: bool) -> ChunkParse {
    let limit = data.len().min(MAX_CHUNK_LEN);
    let need_more = || {
        if data.len() >= MAX_CHUNK_LEN {
            ChunkParse::Invalid
        } else {
            ChunkParse::NeedMore((data.len() + JPEG_READ_STEP).min(MAX_CHUNK_LEN))
        }
    };
    let mut pos = 2; // after SOI
    let jpeg_end = loop {
        // pos is at a marker: FF (fill FFs) code.
        let Some(&first) = data.get(pos) else {
            return need_more();
        };
        if first != 0xFF {
            return ChunkParse::Invalid;
        }
        let Some(code_offset) = data
            .get(pos..limit)
            .and_then(|rest| rest.iter().position(|&b| b != 0xFF))
        else {
            return need_more();
        };
        pos += code_offset;
        let Some(&code) = data.get(pos) else {
            return need_more();
        };
        pos += 1;
        match code {
            0xD9 => break pos,
            0x01 | 0xD0..=0xD7 => continue, // standalone markers
            0x00 | 0xD8 => return ChunkParse::Invalid,
            _ => {}
        }
        let Some(segment_len) = read_u16_be(data, pos) else {
            return need_more();
        };
        if segment_len < 2 {
            return ChunkParse::Invalid;
        }
        pos += usize::from(segment_len);
        if pos > MAX_CHUNK_LEN {
            return ChunkParse::Invalid;
        }
        if code == 0xDA {
            // Entropy-coded data: FF is followed by 00 (stuffing) or RSTn.
            match find_marker_after_scan(data.get(pos..limit).unwrap_or_default()) {
                Some(offset) => pos += offset,
                None => return need_more(),
            }
        }
    };
    let padded_end = jpeg_end.next_multiple_of(PADDING_ALIGN);
    let available_end = padded_end.min(data.len());
    if available_end < padded_end && !at_eof {
        return ChunkParse::NeedMore(padded_end);
    }
    let padding = data
        .get(jpeg_end..available_end)
        .unwrap_or_default()
        .iter()
        .take_while(|&&b| b == 0)
        .count();
    ChunkParse::Chunk(Chunk {
        kind: ChunkKind::Jpeg,
        stream: None,
        timestamp_us: None,
        len: jpeg_end + padding,
        payload: 0..jpeg_end,
        metadata: None,
        audio_copies: 1,
    })
}

/// Offset of the first real marker (an `FF` not followed by `00`, `FF` or
/// RSTn) in entropy-coded data.
fn find_marker_after_scan(scan: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let ff = from + scan.get(from..)?.iter().position(|&b| b == 0xFF)?;
        match *scan.get(ff + 1)? {
            0x00 | 0xFF | 0xD0..=0xD7 => from = ff + 1,
            _ => return Some(ff),
        }
    }
}

/// Whether `data` starts like a chunk: id digits plus known type (and the
/// `H264` tag / audio length relation when those bytes are present), or a
/// JPEG start. Needs at least 4 bytes (3 for JPEG).
pub fn looks_like_chunk_start(data: &[u8]) -> bool {
    if data.starts_with(&JPEG_SOI) {
        return true;
    }
    let Some(head) = data.get(..4) else {
        return false;
    };
    if !head[0].is_ascii_digit() {
        return false;
    }
    match ChunkKind::from_id_and_type(head[1], &head[2..]) {
        Some(kind) if kind.is_video() => data.get(4..8).is_none_or(|tag| tag == b"H264"),
        Some(_) => match (read_u16(data, 4), read_u16(data, 6)) {
            (Some(len), Some(len_plus_8)) => len_plus_8 == len.wrapping_add(8),
            _ => true,
        },
        None => false,
    }
}

/// How a full chunk header at some position looks (see [`check_chunk_header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderCheck {
    /// Every field of the header is sane: id and type, `H264` tag, lengths
    /// within bounds, a representable timestamp (`None` for JPEG).
    Valid {
        timestamp_us: Option<u64>,
    },
    /// The bytes present agree with a header but do not hold all of it.
    Incomplete,
    Invalid,
}

/// Bytes [`check_chunk_header`] needs to decide on any chunk kind.
pub const FULL_HEADER_LEN: usize = VIDEO_PREFIX_LEN;
/// JPEG starts [`check_chunk_header`] accepts: SOI then an APP0 `JFIF`,
/// APP1 `Exif` or DQT segment (needs this many bytes).
const JPEG_HEADER_LEN: usize = 12;
/// An embedded chunk header counts only if its time is this close to the
/// time of the chunk that seems to contain it (µs).
pub const NEIGHBOUR_TIME_US: u64 = 600_000_000;

/// Checks every field of a chunk header at `data[0]`, not only the id.
pub fn check_chunk_header(data: &[u8]) -> HeaderCheck {
    if data.starts_with(&JPEG_SOI) {
        return check_jpeg_header(data);
    }
    if !looks_like_chunk_start(data) {
        return HeaderCheck::Invalid;
    }
    let Some(kind) = data
        .get(..4)
        .and_then(|head| ChunkKind::from_id_and_type(head[1], &head[2..]))
    else {
        return HeaderCheck::Incomplete;
    };
    if kind.is_video() {
        let (Some(media_len), Some(timestamp), Some(meta_len)) =
            (read_u32(data, 8), read_u64(data, 16), read_u32(data, 24))
        else {
            return HeaderCheck::Incomplete;
        };
        let (Ok(media_len), Ok(meta_len)) = (usize::try_from(media_len), usize::try_from(meta_len))
        else {
            return HeaderCheck::Invalid;
        };
        let sane = (1..=MAX_CHUNK_LEN).contains(&media_len)
            && (4..=MAX_FRAME_META_LEN).contains(&meta_len)
            && VIDEO_HEADER_LEN + meta_len + media_len.next_multiple_of(PADDING_ALIGN)
                <= MAX_CHUNK_LEN
            && timestamp <= MAX_TIMESTAMP_US;
        return if sane {
            HeaderCheck::Valid {
                timestamp_us: Some(timestamp),
            }
        } else {
            HeaderCheck::Invalid
        };
    }
    // Audio: the length pair was checked by looks_like_chunk_start.
    match read_u64(data, 8) {
        Some(timestamp) if timestamp <= MAX_TIMESTAMP_US => HeaderCheck::Valid {
            timestamp_us: Some(timestamp),
        },
        Some(_) => HeaderCheck::Invalid,
        None => HeaderCheck::Incomplete,
    }
}

fn check_jpeg_header(data: &[u8]) -> HeaderCheck {
    const JFIF: &[u8] = b"\xFF\xD8\xFF\xE0";
    const EXIF: &[u8] = b"\xFF\xD8\xFF\xE1";
    const DQT: &[u8] = b"\xFF\xD8\xFF\xDB";
    let Some(head) = data.get(..JPEG_HEADER_LEN) else {
        let prefix_ok = [JFIF, EXIF, DQT]
            .iter()
            .any(|sig| sig.starts_with(&data[..data.len().min(4)]));
        return if prefix_ok {
            HeaderCheck::Incomplete
        } else {
            HeaderCheck::Invalid
        };
    };
    let valid = match &head[..4] {
        sig if sig == JFIF => &head[6..11] == b"JFIF\0",
        sig if sig == EXIF => &head[6..12] == b"Exif\0\0",
        // Quantisation tables of 65 (8-bit) bytes each plus the length.
        sig if sig == DQT => read_u16_be(head, 4).is_some_and(|len| len % 65 == 2),
        _ => false,
    };
    if valid {
        HeaderCheck::Valid { timestamp_us: None }
    } else {
        HeaderCheck::Invalid
    }
}

/// [`parse_chunk`] plus checks that the chunk's claimed extent is true, for
/// damaged files: a chunk whose length would swallow what follows, or whose
/// content does not parse as its kind, is [`ChunkParse::Invalid`] (resync
/// with [`find_resync`]), so that every intact chunk after it is kept.
///
/// - Video media must start with an Annex-B start code.
/// - What follows the chunk is looked at ([`FULL_HEADER_LEN`] bytes, asked
///   for with `NeedMore` unless `at_eof` or beyond [`MAX_CHUNK_LEN`]). A
///   valid chunk header there, or the end of the file, confirms the extent.
/// - Otherwise (garbage, zero padding, stray bytes after the chunk) the
///   chunk is damaged only if a valid header starts inside its claimed
///   extent: a timed one whose time lies within [`NEIGHBOUR_TIME_US`] of
///   the chunk's, or a JPEG start. An intact chunk followed by garbage is
///   kept. Audio taken for doubled (firmware < v1.6.0) whose second copy
///   is where the next chunk starts is one copy after all. JPEGs carry no
///   length and are not checked.
pub fn parse_chunk_checked(data: &[u8], ctx: &ChunkContext, at_eof: bool) -> ChunkParse {
    let chunk = match parse_chunk(data, ctx, at_eof) {
        ChunkParse::Chunk(chunk) => chunk,
        other => return other,
    };
    let Some(timestamp) = chunk.timestamp_us else {
        return ChunkParse::Chunk(chunk); // JPEG
    };
    if chunk.kind.is_video() {
        let media = data.get(chunk.payload.clone()).unwrap_or_default();
        if !media.is_empty() && !media.starts_with(&[0, 0, 1]) && !media.starts_with(&[0, 0, 0, 1])
        {
            return ChunkParse::Invalid;
        }
        if is_unwritten_tail(media) {
            return ChunkParse::Invalid;
        }
    }
    let end = chunk.len;
    let following = data.get(end..).unwrap_or_default();
    if following.len() < FULL_HEADER_LEN && !at_eof {
        let want = end + FULL_HEADER_LEN;
        if want <= MAX_CHUNK_LEN {
            return ChunkParse::NeedMore(want);
        }
    }
    // A mu-law chunk at the end of what was written (only zeros or the end
    // of the file after it) whose samples end in a zero run: the rest of a
    // chunk still being written. Mu-law 0x00 is the negative full-scale
    // sample (silence is 0xFF/0x7F), so a run of them is no real audio.
    // What follows is judged on exactly UNWRITTEN_LOOKAHEAD bytes (fewer
    // only at the end of the file), asked for: judged on whatever the
    // caller happened to hold, a pull window saw the data after the zeros
    // and kept the chunk while push pieces ending in the zeros dropped it.
    if chunk.kind == ChunkKind::AudioMulaw
        && data.get(chunk.payload.clone()).is_some_and(|p| {
            p.len() >= UNWRITTEN_AUDIO_ZEROS && p.ends_with(&[0; UNWRITTEN_AUDIO_ZEROS])
        })
    {
        let seen = following.get(..UNWRITTEN_LOOKAHEAD).unwrap_or(following);
        if seen.iter().all(|&b| b == 0) {
            if seen.len() < UNWRITTEN_LOOKAHEAD && !at_eof {
                return ChunkParse::NeedMore(end + UNWRITTEN_LOOKAHEAD);
            }
            return ChunkParse::Invalid;
        }
    }
    if following.is_empty() && at_eof {
        return ChunkParse::Chunk(chunk);
    }
    if matches!(check_chunk_header(following), HeaderCheck::Valid { .. }) {
        return ChunkParse::Chunk(chunk);
    }
    match embedded_header(data, end, timestamp) {
        // A chunk taken for doubled audio that the next chunk follows
        // after one copy: the firmware wrote it once after all.
        Some(at) if chunk.audio_copies == 2 && at == chunk.payload.end => {
            ChunkParse::Chunk(Chunk {
                len: at,
                audio_copies: 1,
                ..chunk
            })
        }
        Some(_) => ChunkParse::Invalid,
        None => ChunkParse::Chunk(chunk),
    }
}

/// Zero bytes at the end of a video chunk's media from which it counts as
/// not (yet) written: a recorder that preallocates writes the chunk header
/// and the first bytes of the picture while the rest is still zero. A NAL
/// unit never ends with a zero byte and encoders do not pad access units
/// with long zero runs (no sample has a single trailing zero).
pub const UNWRITTEN_ZEROS: usize = 16;

/// Zero bytes at the end of the last mu-law chunk from which it counts as
/// not (yet) written: 8 ms at negative full scale.
pub const UNWRITTEN_AUDIO_ZEROS: usize = 64;

/// Bytes after such a mu-law chunk that must all be zero (or end the file)
/// for it to count as the unwritten end of the recording: a preallocated
/// file's zero fill runs far longer; a chunk that real data follows within
/// this is kept.
pub const UNWRITTEN_LOOKAHEAD: usize = 64 << 10;

/// Whether `media` ends with [`UNWRITTEN_ZEROS`] or more zero bytes: the
/// picture was not completely written (a recording still being written, or
/// a crash), so it must not be played as a frame.
pub fn is_unwritten_tail(media: &[u8]) -> bool {
    media.len() >= UNWRITTEN_ZEROS
        && media[media.len() - UNWRITTEN_ZEROS..]
            .iter()
            .all(|&b| b == 0)
}

/// The first position in `1..end` where a valid chunk header starts that
/// belongs to the neighbourhood of a chunk stamped `timestamp`: a timed one
/// within [`NEIGHBOUR_TIME_US`], or a JPEG start.
fn embedded_header(data: &[u8], end: usize, timestamp: u64) -> Option<usize> {
    (1..end.min(data.len())).find(|&at| {
        let candidate = &data[at..];
        let plausible = candidate.get(2).is_some_and(|&b| b == b'd' || b == b'w')
            || candidate.starts_with(&JPEG_SOI);
        plausible
            && match check_chunk_header(candidate) {
                HeaderCheck::Valid {
                    timestamp_us: Some(t),
                } => t.abs_diff(timestamp) <= NEIGHBOUR_TIME_US,
                HeaderCheck::Valid { timestamp_us: None } => true,
                _ => false,
            }
    })
}

/// Bytes a streaming caller must keep at the end of a buffer searched with
/// [`find_resync`] without success: a header may start there.
pub const RESYNC_KEEP: usize = 3;

/// Next offset in `data` where a chunk may start: [`looks_like_chunk_start`]
/// holds and, as far as `data` reaches, [`check_chunk_header`] does not
/// reject the header (so the earliest plausible chunk, not the earliest id
/// look-alike, is found). Positions in the last [`RESYNC_KEEP`] bytes are
/// not examined.
pub fn find_resync(data: &[u8]) -> Option<usize> {
    // Every candidate has a type byte 'd', 'w' (at +2) or a JPEG's D8 (at +1),
    // so hop between those rare bytes instead of testing every position.
    let mut from = 0;
    while from + RESYNC_KEEP < data.len() {
        let offset = data[from..]
            .iter()
            .position(|&b| matches!(b, b'd' | b'w' | 0xD8))?;
        let hit = from + offset;
        let start = if data[hit] == 0xD8 {
            hit.checked_sub(1)
        } else {
            hit.checked_sub(2)
        };
        if let Some(start) = start
            && data.len() - start > RESYNC_KEEP
            && looks_like_chunk_start(&data[start..])
            && (data[start] == 0xFF || check_chunk_header(&data[start..]) != HeaderCheck::Invalid)
        {
            return Some(start);
        }
        from = hit + 1;
    }
    None
}

/// One step of a [`ChunkWalker`]: a chunk, or bytes skipped while resyncing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkItem {
    Chunk { offset: usize, chunk: Chunk },
    Skipped { offset: usize, len: usize },
}

/// Walks the chunks of a whole file held in memory, exactly like a demuxer:
/// parse with [`parse_chunk_checked`], on `Invalid` resync from the next
/// byte, stop at the end. Also the reference for streaming implementations.
pub struct ChunkWalker<'a> {
    data: &'a [u8],
    pos: usize,
    ctx: ChunkContext,
}

impl<'a> ChunkWalker<'a> {
    /// `data` is the whole file; walking starts after the 64 KiB header.
    pub fn new(data: &'a [u8], ctx: ChunkContext) -> Self {
        Self {
            data,
            pos: FILE_HEADER_LEN,
            ctx,
        }
    }
}

impl Iterator for ChunkWalker<'_> {
    type Item = WalkItem;

    fn next(&mut self) -> Option<WalkItem> {
        let rest = self.data.get(self.pos..).filter(|rest| !rest.is_empty())?;
        let offset = self.pos;
        if let ChunkParse::Chunk(chunk) = parse_chunk_checked(rest, &self.ctx, true) {
            self.pos += chunk.len;
            return Some(WalkItem::Chunk { offset, chunk });
        }
        // Never NeedMore with at_eof: this is Invalid. Skip to the next
        // candidate (or the end).
        let skipped = rest
            .get(1..)
            .and_then(find_resync)
            .map_or(rest.len(), |candidate| candidate + 1);
        self.pos += skipped;
        Some(WalkItem::Skipped {
            offset,
            len: skipped,
        })
    }
}

fn read_u16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        data.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn read_u16_be(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        data.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        data.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn read_u64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        data.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}
