// SPDX-License-Identifier: MIT
//! Writes PAVS blocks the way VMax DVRs do, for tests and benchmarks.

use super::{BLOCK_ALIGN, HEADER_LEN, MAX_BLOCK_LEN, block_len_for_payload, offsets};
use crate::h264::SyntheticCameras;
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

/// Blocks of decodable synthetic pictures, an encoder per
/// channel (each camera's stream is decodable on its own however the
/// cameras interleave): the building block of every generated `.psf`.
pub struct PictureBlocks(SyntheticCameras);

impl PictureBlocks {
    /// For pictures of `width` x `height` (whole macroblocks).
    pub fn new(width: u16, height: u16) -> io::Result<Self> {
        SyntheticCameras::for_size(width, height).map(Self)
    }

    /// Writes one block described by `spec` (its size must be this one's):
    /// a key frame showing [`test_picture`](crate::h264::test_picture)`(seed)`
    /// or a skip frame. Returns the payload (one NAL unit, as stored).
    pub fn write<W: Write>(
        &mut self,
        out: &mut W,
        spec: &BlockSpec,
        seed: u32,
    ) -> io::Result<Vec<u8>> {
        let payload = self.0.camera(spec.channel).test_frame(spec.key, seed);
        write_block(out, spec, &payload)?;
        Ok(payload)
    }
}

/// One picture of [`camera_frames`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CameraFrame {
    pub channel: u8,
    pub key: bool,
    pub capture_time_ns: u64,
}

impl CameraFrame {
    /// Camera 1 alone, `frames` pictures 0.5 s apart from 2023-11-14
    /// 22:13:20 UTC, a key frame every `gop`.
    pub fn one_camera(frames: usize, gop: usize) -> Vec<CameraFrame> {
        (0..frames)
            .map(|i| CameraFrame {
                channel: 1,
                key: i % gop == 0,
                capture_time_ns: 1_700_000_000_000_000_000 + i as u64 * 500_000_000,
            })
            .collect()
    }
}

/// A generated file and where its blocks are.
#[derive(Debug, Clone, Default)]
pub struct Blocks {
    pub bytes: Vec<u8>,
    /// Each block's payload (one NAL unit), in file order.
    pub payloads: Vec<Vec<u8>>,
    /// Each block's offset in `bytes`.
    pub offsets: Vec<usize>,
}

/// A multi-camera `.psf` in memory, a block per frame in the given order:
/// block `i` is camera "CAM<channel>", sequence `24 * i` (DVRs count in
/// steps of 24), picture seed `i`, `width` x `height`.
pub fn camera_frames(frames: &[CameraFrame], width: u16, height: u16) -> io::Result<Blocks> {
    let mut pictures = PictureBlocks::new(width, height)?;
    let mut blocks = Blocks::default();
    for (i, frame) in frames.iter().enumerate() {
        let spec = BlockSpec {
            channel: frame.channel,
            camera_name: format!("CAM{}", frame.channel),
            width,
            height,
            key: frame.key,
            capture_time_ns: frame.capture_time_ns,
            sequence: i as u32 * 24,
        };
        blocks.offsets.push(blocks.bytes.len());
        let payload = pictures.write(&mut blocks.bytes, &spec, i as u32)?;
        blocks.payloads.push(payload);
    }
    Ok(blocks)
}

/// A jump in capture time inside a [`Recording`] (a DVR that stopped
/// recording for a while).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The first frame after the gap.
    pub before_frame: u64,
    pub ns: u64,
}

/// A whole recording for tests and examples: `frames` decodable pictures
/// of one camera, `step_ns` apart from `start_ns`, a key frame every `gop`
/// (I_PCM key frames and skip frames of the synthetic encoder). The default
/// is camera 9 "ALLEY" at 176x144 from 2021-09-01 07:00:01.454448 UTC, 2 fps,
/// a key frame every other frame, as in the shared samples.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// times are the same bytes): frame `i` shows picture `seed + i`.
    pub seed: u32,
    /// Frame `i` has sequence number `first_sequence + i * sequence_step`.
    pub first_sequence: u32,
    pub sequence_step: u32,
    pub gap: Option<Gap>,
}

impl Default for Recording<'_> {
    fn default() -> Self {
        Self {
            channel: 9,
            camera_name: "ALLEY",
            width: 176,
            height: 144,
            start_ns: 1_630_479_601_454_448_000,
            step_ns: 500_000_000,
            frames: 0,
            gop: 2,
            seed: 0,
            first_sequence: 0,
            sequence_step: 1,
            gap: None,
        }
    }
}

impl<'a> Recording<'a> {
    /// One camera of a generated DVR backup: 176x144 at 2 fps, a key frame
    /// every 10, pictures seeded by the start second and the channel (so
    /// that files of different cameras or times differ).
    pub fn backup_camera(channel: u8, camera_name: &'a str, start_ns: u64, frames: u64) -> Self {
        Self {
            channel,
            camera_name,
            start_ns,
            frames,
            gop: 10,
            seed: (start_ns / 1_000_000_000) as u32 ^ u32::from(channel),
            ..Self::default()
        }
    }

    /// Writes the recording to `out`, a block per frame; returns the bytes
    /// written.
    pub fn write<W: Write>(&self, out: &mut W) -> io::Result<u64> {
        let mut pictures = PictureBlocks::new(self.width, self.height)?;
        let mut written = 0;
        for i in 0..self.frames {
            let gap = self
                .gap
                .filter(|gap| i >= gap.before_frame)
                .map_or(0, |gap| gap.ns);
            let spec = BlockSpec {
                channel: self.channel,
                camera_name: self.camera_name.into(),
                width: self.width,
                height: self.height,
                key: i % self.gop.max(1) == 0,
                capture_time_ns: self.start_ns + i * self.step_ns + gap,
                sequence: self
                    .first_sequence
                    .wrapping_add((i as u32).wrapping_mul(self.sequence_step)),
            };
            let payload = pictures.write(out, &spec, self.seed.wrapping_add(i as u32))?;
            written += block_len_for_payload(payload.len()) as u64;
        }
        Ok(written)
    }

    /// Writes the recording to a new file at `path`; returns its length.
    pub fn write_file(&self, path: &std::path::Path) -> io::Result<u64> {
        let mut out = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        let written = self.write(&mut out)?;
        out.flush()?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::pavs::{BlockParse, parse_block};

    fn blocks(bytes: &[u8]) -> Vec<(usize, super::super::BlockHeader)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let BlockParse::Block(header) = parse_block(&bytes[at..]) else {
                panic!("no block at {at}");
            };
            let len = header.block_len;
            out.push((at, header));
            at += len;
        }
        out
    }

    #[test]
    fn a_recording_has_the_times_keys_and_sequence_numbers_it_describes() {
        let recording = Recording {
            frames: 6,
            gop: 3,
            first_sequence: 1000,
            sequence_step: 24,
            gap: Some(Gap {
                before_frame: 4,
                ns: 3_600_000_000_000,
            }),
            ..Recording::default()
        };
        let mut bytes = Vec::new();
        let written = recording.write(&mut bytes).unwrap();
        assert_eq!(written, bytes.len() as u64);
        let found = blocks(&bytes);
        assert_eq!(found.len(), 6);
        for (i, (_, header)) in found.iter().enumerate() {
            let i = i as u64;
            let gap = if i >= 4 { 3_600_000_000_000 } else { 0 };
            assert_eq!(
                header.capture_time_ns(),
                recording.start_ns + i * 500_000_000 + gap
            );
            assert_eq!(header.key, i.is_multiple_of(3), "{i}");
            assert_eq!(header.sequence, 1000 + 24 * i as u32);
            assert_eq!((header.channel, header.camera_name.as_str()), (9, "ALLEY"));
            assert_eq!((header.width, header.height), (176, 144));
        }
    }

    #[test]
    fn interleaved_cameras_each_have_their_own_encoder() {
        // Each camera's first skip frame follows its own key frame: with one
        // encoder for both, camera 2's would carry frame_num 2, not 1.
        let frame = |channel, key| CameraFrame {
            channel,
            key,
            capture_time_ns: 1_700_000_000_000_000_000,
        };
        let frames = [
            frame(1, true),
            frame(2, true),
            frame(1, false),
            frame(2, false),
        ];
        let written = camera_frames(&frames, 32, 32).unwrap();
        assert_eq!(written.payloads[2], written.payloads[3]);
        let found = blocks(&written.bytes);
        assert_eq!(found.len(), 4);
        for (i, (at, header)) in found.iter().enumerate() {
            assert_eq!(written.offsets[i], *at);
            let payload = &written.bytes[at + header.payload_range().start..][..header.payload_len];
            assert_eq!(payload, &written.payloads[i][..]);
            assert_eq!(header.camera_name, format!("CAM{}", frames[i].channel));
            assert_eq!(header.sequence, 24 * i as u32);
        }
    }
}
