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

/// A whole recording for tests and examples: `frames` decodable pictures
/// of one camera, `step_ns` apart from `start_ns`, a key frame every `gop`
/// (I_PCM key frames and skip frames of the synthetic encoder).
pub struct Recording<'a> {
    pub channel: u8,
    pub camera_name: &'a str,
    pub width: u16,
    pub height: u16,
    pub start_ns: u64,
    pub step_ns: u64,
    pub frames: u64,
    pub gop: u64,
    /// Pictures differ by this seed (two recordings with the same seed and
    /// times are the same bytes).
    pub seed: u32,
}

impl Recording<'_> {
    /// Writes the recording to `out`, a block per frame.
    pub fn write<W: Write>(&self, out: &mut W) -> io::Result<()> {
        use crate::h264::{BaselineParams, SyntheticEncoder, test_picture};
        let params = BaselineParams::for_size(self.width.into(), self.height.into())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "picture size"))?;
        let mut encoder = SyntheticEncoder::new(params);
        for i in 0..self.frames {
            let key = i % self.gop.max(1) == 0;
            let payload = if key {
                let (y, u, v) = test_picture(
                    self.width.into(),
                    self.height.into(),
                    self.seed.wrapping_add(i as u32),
                );
                encoder.key_frame(&y, &u, &v)
            } else {
                encoder.skip_frame()
            };
            let spec = BlockSpec {
                channel: self.channel,
                camera_name: self.camera_name.into(),
                width: self.width,
                height: self.height,
                key,
                capture_time_ns: self.start_ns + i * self.step_ns,
                sequence: i as u32,
            };
            write_block(out, &spec, &payload)?;
        }
        Ok(())
    }

    /// Writes the recording to a new file at `path`.
    pub fn write_file(&self, path: &std::path::Path) -> io::Result<()> {
        let mut out = io::BufWriter::new(std::fs::File::create(path)?);
        self.write(&mut out)?;
        out.flush()
    }
}
