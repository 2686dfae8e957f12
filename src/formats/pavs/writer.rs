// SPDX-License-Identifier: MIT
//! Writes PAVS blocks the way VMax DVRs do, for tests and benchmarks.

use super::{BLOCK_ALIGN, HEADER_LEN, MAX_BLOCK_LEN, block_len_for_payload, offsets};
use std::io::{self, Write};

/// What goes into one block's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSpec {
    pub channel: u8,
    /// At most 19 bytes are stored (NUL-terminated field of 20).
    pub camera_name: String,
    pub width: u16,
    pub height: u16,
    pub key: bool,
    /// Capture time, ns since the Unix epoch; stored with µs precision.
    pub capture_time_ns: u64,
    pub sequence: u32,
}

/// Writes one block (header, payload, padding) and returns its length.
/// `payload` must be one Annex-B NAL unit with a 4-byte start code. Padding
/// is filled with a non-zero pattern like the stale bytes of real files.
pub fn write_block<W: Write>(out: &mut W, spec: &BlockSpec, payload: &[u8]) -> io::Result<usize> {
    use offsets::*;
    let block_len = block_len_for_payload(payload.len());
    if block_len > MAX_BLOCK_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "payload too large",
        ));
    }
    let mut header = [0u8; HEADER_LEN];
    let put = |h: &mut [u8; HEADER_LEN], at: usize, bytes: &[u8]| {
        h[at..at + bytes.len()].copy_from_slice(bytes)
    };
    put(&mut header, 0, &super::MAGIC);
    header[VERSION] = 2;
    header[CHANNEL] = spec.channel;
    put(&mut header, SEQUENCE, &spec.sequence.to_le_bytes());
    let seconds = (spec.capture_time_ns / 1_000_000_000) as u32;
    let micros = (spec.capture_time_ns / 1000 % 1_000_000) as u32;
    // Real DVRs round the packed time to 10 ms.
    let unix_ms = i64::from(seconds) * 1000 + i64::from(micros / 10_000 * 10);
    put(
        &mut header,
        PACKED_TIME,
        &super::unix_ms_to_packed_time(unix_ms).to_le_bytes(),
    );
    put(&mut header, BLOCK_LEN, &(block_len as u32).to_le_bytes());
    let payload_len = payload.len() as u32;
    put(&mut header, PAYLOAD_LEN, &payload_len.to_le_bytes());
    put(&mut header, PAYLOAD_LEN_COPY, &payload_len.to_le_bytes());
    put(
        &mut header,
        PAYLOAD_LEN_U16,
        &(payload_len as u16).to_le_bytes(),
    );
    put(&mut header, WIDTH, &spec.width.to_le_bytes());
    put(&mut header, HEIGHT, &spec.height.to_le_bytes());
    header[HEIGHT_MBS] = (spec.height / 16) as u8;
    header[WIDTH_MBS] = (spec.width / 16) as u8;
    header[FRAME_TYPE] = if spec.key { 0 } else { 1 };
    header[FRAME_TYPE_BITS] = if spec.key { 0x20 } else { 0x60 };
    header[0x70] = 2;
    let name = spec.camera_name.as_bytes();
    let name = &name[..name.len().min(CAMERA_NAME_LEN - 1)];
    put(&mut header, CAMERA_NAME, name);
    put(&mut header, UNIX_SECONDS, &seconds.to_le_bytes());
    put(&mut header, MICROSECONDS, &micros.to_le_bytes());
    put(
        &mut header,
        CHECKSUM,
        &super::payload_checksum(payload).to_le_bytes(),
    );
    out.write_all(&header)?;
    out.write_all(payload)?;
    let padding = block_len - HEADER_LEN - payload.len();
    const STALE: [u8; BLOCK_ALIGN] = stale_pattern();
    out.write_all(&STALE[..padding])?;
    Ok(block_len)
}

const fn stale_pattern() -> [u8; BLOCK_ALIGN] {
    let mut p = [0u8; BLOCK_ALIGN];
    let mut i = 0;
    while i < BLOCK_ALIGN {
        p[i] = (i as u8).wrapping_mul(37).wrapping_add(0x5a);
        i += 1;
    }
    p
}
