// SPDX-License-Identifier: MIT
//! VMax DVR backup blocks (`.psf`, "PAVS"). See `docs/pavs.md` for the layout,
//! the validation rules and the evidence behind every field.
//!
//! A file is a plain sequence of blocks, one H.264 frame each: a 0x240-byte
//! header, the payload, then padding (stale bytes, not zeros) up to a multiple
//! of 512. There is no file header and no index.

/// Writes the format: for tests, fuzz seeds and examples (feature
/// `writers`), not shipped in the plugin.
#[cfg(any(test, feature = "writers"))]
pub mod writer;

use std::ops::Range;

pub const MAGIC: [u8; 4] = *b"PAVS";
/// Size of the block header; the payload follows it.
pub const HEADER_LEN: usize = 0x240;
/// Blocks are padded to multiples of this.
pub const BLOCK_ALIGN: usize = 512;
/// Bytes needed to validate a header: the header plus the payload's Annex-B
/// start code and NAL header byte.
pub const PROBE_LEN: usize = HEADER_LEN + 5;
/// Largest block this parser accepts. Real blocks are a few KiB (a 704x240
/// key frame is ~8 KiB); a 4K intra frame stays well below this. Anything
/// larger is taken as a corrupt length, never allocated.
pub const MAX_BLOCK_LEN: usize = 16 << 20;

// Some fields are only written (by the writer), never read.
#[cfg_attr(not(any(test, feature = "writers")), allow(dead_code))]
mod offsets {
    pub const VERSION: usize = 0x04;
    pub const CHANNEL: usize = 0x05;
    pub const SEQUENCE: usize = 0x10;
    pub const PACKED_TIME: usize = 0x2C;
    pub const BLOCK_LEN: usize = 0x3C;
    pub const PAYLOAD_LEN: usize = 0x48;
    pub const WIDTH: usize = 0x50;
    pub const HEIGHT: usize = 0x52;
    pub const FRAME_TYPE: usize = 0x58;
    pub const CAMERA_NAME: usize = 0x5C;
    pub const CAMERA_NAME_LEN: usize = 20;
    pub const PAYLOAD_LEN_U16: usize = 0x200;
    pub const FRAME_TYPE_BITS: usize = 0x202;
    pub const HEIGHT_MBS: usize = 0x204;
    pub const WIDTH_MBS: usize = 0x205;
    pub const UNIX_SECONDS: usize = 0x214;
    pub const MICROSECONDS: usize = 0x218;
    pub const CHECKSUM: usize = 0x220;
    pub const PAYLOAD_LEN_COPY: usize = 0x228;
}

/// The packed date-time at 0x2C is rounded to 10 ms; allow a little more.
const PACKED_TIME_TOLERANCE_MS: i64 = 20;

/// The fields of a block header that this crate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockHeader {
    /// Camera / channel number; the stream id.
    pub channel: u8,
    /// DVR-wide record sequence (informational).
    pub sequence: u32,
    /// Whole block length including header and padding; the next block
    /// starts this many bytes after this one.
    pub block_len: usize,
    pub payload_len: usize,
    pub width: u16,
    pub height: u16,
    /// Key frame (IDR) as opposed to delta (P) frame.
    pub key: bool,
    /// Camera name as the DVR shows it.
    pub camera_name: String,
    /// Capture time, Unix seconds (UTC).
    pub unix_seconds: u32,
    /// Microseconds within `unix_seconds`.
    pub microseconds: u32,
    /// Sum of the payload as big-endian u32 words.
    pub checksum: u32,
}

impl BlockHeader {
    /// Capture time in nanoseconds since the Unix epoch (UTC).
    pub fn capture_time_ns(&self) -> u64 {
        u64::from(self.unix_seconds) * 1_000_000_000 + u64::from(self.microseconds) * 1_000
    }

    /// Where the payload sits relative to the block start.
    pub fn payload_range(&self) -> Range<usize> {
        HEADER_LEN..HEADER_LEN + self.payload_len
    }
}

/// Why bytes at some offset are not a valid block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    NoMagic,
    /// The three copies of the payload length disagree.
    PayloadLengthMismatch,
    /// The block length is not ceil512(header + payload), or is absurd.
    BlockLength,
    /// Frame type is not 0/1, or disagrees with its other copy or the NAL type.
    FrameType,
    /// Microseconds out of range, or the packed date-time disagrees.
    Time,
    /// Width or height of zero.
    PictureSize,
    /// The payload's word sum does not match the header.
    Checksum,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reject::NoMagic => "no PAVS magic",
            Reject::PayloadLengthMismatch => "payload length copies disagree",
            Reject::BlockLength => "implausible block length",
            Reject::FrameType => "inconsistent frame type",
            Reject::Time => "inconsistent capture time",
            Reject::PictureSize => "zero picture size",
            Reject::Checksum => "payload checksum mismatch",
        })
    }
}

/// Outcome of looking for a block at the start of some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockParse {
    /// A complete, validated block.
    Block(BlockHeader),
    /// The header is valid so far; this many bytes (from the block start) are
    /// needed to finish validation. Never more than [`MAX_BLOCK_LEN`].
    NeedMore(usize),
    Invalid(Reject),
}

fn u16_at(d: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([d[at], d[at + 1]])
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(d[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(d: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(d[at..at + 8].try_into().expect("8 bytes"))
}

/// `ceil512(HEADER_LEN + payload_len)`.
pub fn block_len_for_payload(payload_len: usize) -> usize {
    (HEADER_LEN + payload_len).div_ceil(BLOCK_ALIGN) * BLOCK_ALIGN
}

/// Validates the header of a block. `data` must hold at least [`PROBE_LEN`]
/// bytes. Everything but the checksum is checked.
pub fn parse_header(data: &[u8]) -> Result<BlockHeader, Reject> {
    use offsets::*;
    if data.len() < PROBE_LEN || data[..4] != MAGIC {
        return Err(Reject::NoMagic);
    }
    let payload_len = u32_at(data, PAYLOAD_LEN) as usize;
    if u32_at(data, PAYLOAD_LEN_COPY) as usize != payload_len
        || usize::from(u16_at(data, PAYLOAD_LEN_U16)) != payload_len & 0xffff
    {
        return Err(Reject::PayloadLengthMismatch);
    }
    let block_len = u32_at(data, BLOCK_LEN) as usize;
    if payload_len < 5
        || block_len > MAX_BLOCK_LEN
        || block_len != block_len_for_payload(payload_len)
    {
        return Err(Reject::BlockLength);
    }
    let key = match (
        data[FRAME_TYPE],
        data[FRAME_TYPE_BITS],
        data[HEADER_LEN + 4] & 0x1f,
    ) {
        (0, 0x20, 5) => true,
        (1, 0x60, 1) => false,
        _ => return Err(Reject::FrameType),
    };
    if data[HEADER_LEN..HEADER_LEN + 4] != [0, 0, 0, 1] {
        return Err(Reject::FrameType);
    }
    let unix_seconds = u32_at(data, UNIX_SECONDS);
    let microseconds = u32_at(data, MICROSECONDS);
    if microseconds >= 1_000_000 {
        return Err(Reject::Time);
    }
    let capture_ms = i64::from(unix_seconds) * 1000 + i64::from(microseconds / 1000);
    match packed_time_to_unix_ms(u64_at(data, PACKED_TIME)) {
        Some(packed_ms) if (packed_ms - capture_ms).abs() <= PACKED_TIME_TOLERANCE_MS => {}
        _ => return Err(Reject::Time),
    }
    let (width, height) = (u16_at(data, WIDTH), u16_at(data, HEIGHT));
    if width == 0 || height == 0 {
        return Err(Reject::PictureSize);
    }
    let name = &data[CAMERA_NAME..CAMERA_NAME + CAMERA_NAME_LEN];
    // Bytes after the NUL are stale junk from earlier, longer names.
    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    Ok(BlockHeader {
        channel: data[CHANNEL],
        sequence: u32_at(data, SEQUENCE),
        block_len,
        payload_len,
        width,
        height,
        key,
        camera_name: String::from_utf8_lossy(name).into_owned(),
        unix_seconds,
        microseconds,
        checksum: u32_at(data, CHECKSUM),
    })
}

/// Validates a whole block at the start of `data`.
pub fn parse_block(data: &[u8]) -> BlockParse {
    if data.len() < PROBE_LEN {
        if data.len() >= 4 && data[..4] != MAGIC {
            return BlockParse::Invalid(Reject::NoMagic);
        }
        return BlockParse::NeedMore(PROBE_LEN);
    }
    let header = match parse_header(data) {
        Ok(header) => header,
        Err(reject) => return BlockParse::Invalid(reject),
    };
    let Some(block) = data.get(..header.block_len) else {
        return BlockParse::NeedMore(header.block_len);
    };
    if payload_checksum(&block[header.payload_range()]) != header.checksum {
        return BlockParse::Invalid(Reject::Checksum);
    }
    BlockParse::Block(header)
}

/// Sum mod 2^32 of the payload read as big-endian u32 words, the last word
/// zero-padded.
pub fn payload_checksum(payload: &[u8]) -> u32 {
    let mut words = payload.chunks_exact(4);
    let mut sum = words.by_ref().fold(0u32, |sum, w| {
        sum.wrapping_add(u32::from_be_bytes(w.try_into().expect("4 bytes")))
    });
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 4];
        last[..rest.len()].copy_from_slice(rest);
        sum = sum.wrapping_add(u32::from_be_bytes(last));
    }
    sum
}

/// Offset of the next `PAVS` magic at or after `from`.
pub fn find_magic(data: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(window) = data.get(at..) {
        // 'P' is rare in H.264 payload compared with zeros; look for it first.
        let p = window.iter().position(|&b| b == b'P')?;
        let candidate = at + p;
        match data.get(candidate..candidate + 4) {
            Some(m) if m == MAGIC => return Some(candidate),
            Some(_) => at = candidate + 1,
            None => return None,
        }
    }
    None
}

/// Whether `data` (the start of a file or stream) looks like a PAVS file: a
/// validating block header at offset 0.
pub fn probe(data: &[u8]) -> bool {
    parse_header(data).is_ok()
}

/// Decodes the packed UTC date-time at 0x2C to Unix milliseconds: year bits
/// 63-52, month 51-48, day 47-43, hour 42-38, minute 37-32, second 31-26,
/// milliseconds 25-16.
pub fn packed_time_to_unix_ms(packed: u64) -> Option<i64> {
    let field = |shift: u32, bits: u32| ((packed >> shift) & ((1 << bits) - 1)) as i64;
    let (year, month, day) = (field(52, 12), field(48, 4), field(43, 5));
    let (hour, minute, second, ms) = (field(38, 5), field(32, 6), field(26, 6), field(16, 10));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 || ms > 999 {
        return None;
    }
    let days = crate::engine::zone::days_from_civil(year, month, day);
    Some((((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + ms)
}

/// Encodes Unix milliseconds as the packed date-time (with the constant low
/// 16 bits seen in real files).
pub fn unix_ms_to_packed_time(unix_ms: i64) -> u64 {
    let (days, ms_of_day) = (
        unix_ms.div_euclid(86_400_000),
        unix_ms.rem_euclid(86_400_000),
    );
    let (year, month, day) = crate::engine::zone::civil_from_days(days);
    let (hour, minute) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
    let (second, ms) = (ms_of_day / 1000 % 60, ms_of_day % 1000);
    ((year as u64) << 52)
        | ((month as u64) << 48)
        | ((day as u64) << 43)
        | ((hour as u64) << 38)
        | ((minute as u64) << 32)
        | ((second as u64) << 26)
        | ((ms as u64) << 16)
        | 0xE080
}

#[cfg(test)]
mod tests {
    use super::writer::{BlockSpec, write_block};
    use super::*;

    fn block(spec: &BlockSpec, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_block(&mut out, spec, payload).unwrap();
        out
    }

    fn spec() -> BlockSpec {
        BlockSpec {
            channel: 9,
            camera_name: "ALLEY".into(),
            width: 704,
            height: 240,
            key: true,
            capture_time_ns: 1_630_479_601_454_448_000,
            sequence: 42,
        }
    }

    #[test]
    fn round_trip() {
        let payload = [0, 0, 0, 1, 0x65, 1, 2, 3, 4, 5, 6];
        let data = block(&spec(), &payload);
        assert_eq!(data.len(), 1024);
        let BlockParse::Block(h) = parse_block(&data) else {
            panic!("not a block")
        };
        assert_eq!(h.channel, 9);
        assert_eq!(h.camera_name, "ALLEY");
        assert_eq!((h.width, h.height), (704, 240));
        assert!(h.key);
        assert_eq!(h.capture_time_ns(), 1_630_479_601_454_448_000);
        assert_eq!(&data[h.payload_range()], &payload);
        assert_eq!(h.sequence, 42);
    }

    #[test]
    fn packed_time_matches_calendar() {
        // 2021-09-01 07:00:01.450 UTC
        let ms = 1_630_479_601_450;
        let packed = unix_ms_to_packed_time(ms);
        assert_eq!(packed >> 52, 2021);
        assert_eq!((packed >> 48) & 15, 9);
        assert_eq!((packed >> 43) & 31, 1);
        assert_eq!((packed >> 38) & 31, 7);
        assert_eq!(packed_time_to_unix_ms(packed), Some(ms));
        for ms in [0i64, 951_782_400_000, 4_102_444_800_123] {
            assert_eq!(packed_time_to_unix_ms(unix_ms_to_packed_time(ms)), Some(ms));
        }
    }

    #[test]
    fn every_validation_rule_rejects() {
        let payload = [0, 0, 0, 1, 0x65, 9, 9, 9];
        let good = block(&spec(), &payload);
        let corrupt = |at: usize, value: u8| {
            let mut d = good.clone();
            d[at] = value;
            parse_block(&d)
        };
        use BlockParse::Invalid;
        assert_eq!(corrupt(0, b'X'), Invalid(Reject::NoMagic));
        assert_eq!(corrupt(0x48, 9), Invalid(Reject::PayloadLengthMismatch));
        assert_eq!(corrupt(0x229, 1), Invalid(Reject::PayloadLengthMismatch));
        assert_eq!(corrupt(0x3D, 6), Invalid(Reject::BlockLength));
        assert_eq!(corrupt(0x58, 1), Invalid(Reject::FrameType));
        assert_eq!(corrupt(0x202, 0x60), Invalid(Reject::FrameType));
        assert_eq!(corrupt(0x244, 0x41), Invalid(Reject::FrameType));
        assert_eq!(corrupt(0x21B, 0x10), Invalid(Reject::Time));
        assert_eq!(corrupt(0x214, 0x77), Invalid(Reject::Time));
        assert_eq!(corrupt(0x32, 0), Invalid(Reject::Time));
        let mut d = good.clone();
        d[0x50..0x52].fill(0);
        assert_eq!(parse_block(&d), Invalid(Reject::PictureSize));
        assert_eq!(corrupt(0x246, 8), Invalid(Reject::Checksum));
        assert_eq!(parse_block(&good[..600]), BlockParse::NeedMore(1024));
        assert_eq!(parse_block(&good[..10]), BlockParse::NeedMore(PROBE_LEN));
        // A hostile length is never asked for.
        let mut d = good.clone();
        for at in [0x48, 0x228] {
            d[at..at + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        }
        d[0x200..0x202].copy_from_slice(&0xfff0u16.to_le_bytes());
        d[0x3C..0x40].copy_from_slice(&(block_len_for_payload(0x7fff_fff0) as u32).to_le_bytes());
        assert_eq!(parse_block(&d), Invalid(Reject::BlockLength));
    }

    #[test]
    fn checksum_pads_last_word() {
        assert_eq!(payload_checksum(&[0, 0, 0, 1, 0x65]), 1 + 0x6500_0000);
        assert_eq!(payload_checksum(&[0xff; 8]), 0xffff_fffe);
    }

    #[test]
    fn magic_search() {
        let data = b"xxPAPAVSyyPAVS";
        assert_eq!(find_magic(data, 0), Some(4));
        assert_eq!(find_magic(data, 5), Some(10));
        assert_eq!(find_magic(data, 11), None);
        assert_eq!(find_magic(b"PAV", 0), None);
    }

    #[test]
    fn never_panics_on_truncation_or_noise() {
        let good = block(&spec(), &[0, 0, 0, 1, 0x65, 1, 2, 3]);
        for len in 0..good.len() {
            let _ = parse_block(&good[..len]);
        }
        let mut x = 12345u32;
        let mut noise = good.clone();
        for _ in 0..2000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let at = (x as usize >> 8) % noise.len();
            noise[at] = (x >> 3) as u8;
            let _ = parse_block(&noise);
        }
    }
}
