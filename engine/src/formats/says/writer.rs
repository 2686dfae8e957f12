// SPDX-License-Identifier: MIT
//! Streaming writer for SAYS `.nvr` files, for tests and benchmarks. It
//! writes each chunk straight to the sink (only per-frame metadata is
//! encoded in memory), so files of any size take constant memory. It takes
//! already encoded media; it does not encode anything itself.

use crate::h264::SyntheticCameras;
use std::io::{self, Write};

use super::{
    AUDIO_HEADER_LEN, FILE_HEADER_LEN, HEADER_META_OFFSET, HEADER_NAME_LEN, HEADER_UNKNOWN_LEN,
    MAGIC, MAX_CHUNK_LEN, MAX_FRAME_META_LEN, MetaEntry, MetaValue, PADDING_ALIGN,
    VIDEO_HEADER_LEN,
};

/// What goes into the 64 KiB file header.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeaderSpec {
    pub unknown: [u8; HEADER_UNKNOWN_LEN],
    /// At most 127 bytes (the field keeps a terminating NUL).
    pub file_name: String,
    pub metadata: Vec<MetaEntry>,
}

impl HeaderSpec {
    /// The header of a recorder of firmware `app_version` (the first
    /// metadata entry, `appVersion`), then `more` entries.
    pub fn recorder(
        file_name: impl Into<String>,
        app_version: &str,
        more: impl IntoIterator<Item = MetaEntry>,
    ) -> Self {
        let mut metadata = vec![MetaEntry::new(
            "appVersion",
            MetaValue::Str(app_version.into()),
        )];
        metadata.extend(more);
        Self {
            file_name: file_name.into(),
            metadata,
            ..Self::default()
        }
    }
}

/// The header entry describing camera `index` (`camera<index>`: name,
/// picture size, frame rate), which saysdemux takes the picture size and
/// the stream title from.
pub fn camera_entry(index: u8, name: &str, width: i32, height: i32, fps: i8) -> MetaEntry {
    MetaEntry::new(
        format!("camera{index}"),
        MetaValue::Nested(vec![
            MetaEntry::new("name", MetaValue::Str(name.into())),
            MetaEntry::new("width", MetaValue::I32(width)),
            MetaEntry::new("height", MetaValue::I32(height)),
            MetaEntry::new("fps", MetaValue::I8(fps)),
        ]),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    Mulaw,
    Opus,
}

/// Writes a SAYS file to any [`Write`]; [`Self::position`] is the offset of
/// the next chunk. Each chunk takes a few `write_all` calls: wrap files in a
/// `BufWriter`.
pub struct SaysWriter<W: Write> {
    sink: W,
    position: u64,
}

fn invalid_input(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_owned())
}

/// Encode entries in the on-disk format (no leading list length).
pub fn encode_metadata(entries: &[MetaEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, entries);
    out
}

fn encode_into(out: &mut Vec<u8>, entries: &[MetaEntry]) {
    for entry in entries {
        out.push(entry.value.type_code());
        out.extend_from_slice(entry.name.as_bytes());
        out.push(0);
        match &entry.value {
            MetaValue::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
            MetaValue::Str(s) => {
                // Stored with a trailing NUL counted in the length, like firmware.
                out.extend_from_slice(&len_u32(s.len() + 1).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
            MetaValue::I32(v) | MetaValue::I32Alt(v) => out.extend_from_slice(&v.to_le_bytes()),
            MetaValue::I8(v) => out.extend_from_slice(&v.to_le_bytes()),
            MetaValue::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
            MetaValue::Nested(nested) => {
                // Nested length counts its own 4 bytes: patch it afterwards.
                let length_at = out.len();
                out.extend_from_slice(&[0; 4]);
                encode_into(out, nested);
                let length = len_u32(out.len() - length_at);
                out[length_at..length_at + 4].copy_from_slice(&length.to_le_bytes());
            }
        }
    }
}

/// Lengths here are bounded by the callers' checks or by memory; saturate
/// instead of wrapping so an absurd input is rejected later, not corrupted.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl<W: Write> SaysWriter<W> {
    /// Write the file header; chunks follow at [`FILE_HEADER_LEN`].
    pub fn new(mut sink: W, header: &HeaderSpec) -> io::Result<Self> {
        if header.file_name.len() >= HEADER_NAME_LEN || header.file_name.contains('\0') {
            return Err(invalid_input("SAYS file name too long or contains NUL"));
        }
        let metadata = encode_metadata(&header.metadata);
        if HEADER_META_OFFSET + metadata.len() > FILE_HEADER_LEN {
            return Err(invalid_input("SAYS header metadata does not fit in 64 KiB"));
        }
        let mut head = Vec::with_capacity(FILE_HEADER_LEN);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&header.unknown);
        head.extend_from_slice(header.file_name.as_bytes());
        head.resize(HEADER_META_OFFSET - 4, 0);
        // Header metadata length excludes its own 4 bytes (as in real files).
        head.extend_from_slice(&len_u32(metadata.len()).to_le_bytes());
        head.extend_from_slice(&metadata);
        head.resize(FILE_HEADER_LEN, 0);
        sink.write_all(&head)?;
        Ok(Self {
            sink,
            position: FILE_HEADER_LEN as u64,
        })
    }

    /// Byte offset of the next chunk.
    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn into_inner(self) -> W {
        self.sink
    }

    fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        for part in parts {
            self.sink.write_all(part)?;
            self.position += part.len() as u64;
        }
        Ok(())
    }

    /// A `dc` chunk: `media` is Annex-B (key frames with SPS/PPS), zero
    /// padded to a multiple of 8.
    pub fn write_video(
        &mut self,
        stream: u8,
        key_frame: bool,
        timestamp_us: u64,
        metadata: &[MetaEntry],
        media: &[u8],
    ) -> io::Result<()> {
        let id = stream_id(stream, if key_frame { b'0' } else { b'1' })?;
        let mut frame_meta = vec![0; 4];
        encode_into(&mut frame_meta, metadata);
        let meta_len = frame_meta.len();
        frame_meta[..4].copy_from_slice(&len_u32(meta_len).to_le_bytes());
        let padding = media.len().next_multiple_of(PADDING_ALIGN) - media.len();
        if meta_len > MAX_FRAME_META_LEN
            || VIDEO_HEADER_LEN + meta_len + media.len() + padding > MAX_CHUNK_LEN
        {
            return Err(invalid_input("SAYS video chunk too large"));
        }
        let mut header = [0u8; VIDEO_HEADER_LEN];
        header[..2].copy_from_slice(&id);
        header[2..4].copy_from_slice(b"dc");
        header[4..8].copy_from_slice(b"H264");
        header[8..12].copy_from_slice(&len_u32(media.len()).to_le_bytes());
        // Real files repeat the metadata length in the "small" u16 field.
        let small_len = u16::try_from(meta_len).unwrap_or(u16::MAX);
        header[12..14].copy_from_slice(&small_len.to_le_bytes());
        header[16..24].copy_from_slice(&timestamp_us.to_le_bytes());
        self.write_parts(&[&header, &frame_meta, media, &[0; PADDING_ALIGN][..padding]])
    }

    /// A `wb` chunk; `doubled` repeats the channel like firmware < v1.6.
    pub fn write_audio(
        &mut self,
        stream: u8,
        codec: AudioCodec,
        timestamp_us: u64,
        channel: &[u8],
        doubled: bool,
    ) -> io::Result<()> {
        let id = stream_id(
            stream,
            match codec {
                AudioCodec::Mulaw => b'7',
                AudioCodec::Opus => b'9',
            },
        )?;
        let channel_len = u16::try_from(channel.len())
            .map_err(|_| invalid_input("SAYS audio channel longer than 65535 bytes"))?;
        let mut header = [0u8; AUDIO_HEADER_LEN];
        header[..2].copy_from_slice(&id);
        header[2..4].copy_from_slice(b"wb");
        header[4..6].copy_from_slice(&channel_len.to_le_bytes());
        header[6..8].copy_from_slice(&channel_len.wrapping_add(8).to_le_bytes());
        header[8..16].copy_from_slice(&timestamp_us.to_le_bytes());
        let copy: &[u8] = if doubled { channel } else { &[] };
        self.write_parts(&[&header, channel, copy])
    }

    /// A raw JPEG snapshot (must be `FF D8 .. FF D9`), zero padded to a
    /// multiple of 8.
    pub fn write_jpeg(&mut self, jpeg: &[u8]) -> io::Result<()> {
        if !jpeg.starts_with(&[0xFF, 0xD8]) || !jpeg.ends_with(&[0xFF, 0xD9]) {
            return Err(invalid_input("not a complete JPEG"));
        }
        let padding = jpeg.len().next_multiple_of(PADDING_ALIGN) - jpeg.len();
        self.write_parts(&[jpeg, &[0; PADDING_ALIGN][..padding]])
    }

    /// Raw bytes (damage, stray tail bytes) for robustness tests.
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_parts(&[bytes])
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

/// A GPS fix in [`Telemetry`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Gps {
    pub lat: f64,
    pub lon: f64,
    pub alt: Option<f64>,
}

/// Per-frame telemetry for generated files, written as dashcams order it:
/// `ts` (ms), `speed`, `voltage`, `gps` {valid, lat, lon, alt},
/// `gsensor` {x, y, z}, `frame` (what is `None` is left out).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Telemetry {
    /// The frame's time, µs (stored as ms).
    pub ts_us: u64,
    pub speed: f64,
    pub voltage: Option<f64>,
    pub gps: Option<Gps>,
    pub gsensor: Option<[f64; 3]>,
    pub frame: Option<i32>,
}

impl Telemetry {
    /// The time, the speed and a GPS fix without altitude: what every
    /// dashcam records (add the rest with `..Telemetry::at(..)`).
    pub fn at(ts_us: u64, speed: f64, lat: f64, lon: f64) -> Self {
        Self {
            ts_us,
            speed,
            gps: Some(Gps {
                lat,
                lon,
                alt: None,
            }),
            ..Self::default()
        }
    }

    /// The frame metadata entries.
    pub fn entries(&self) -> Vec<MetaEntry> {
        let mut entries = vec![
            MetaEntry::new("ts", MetaValue::I64((self.ts_us / 1000) as i64)),
            MetaEntry::new("speed", MetaValue::F64(self.speed)),
        ];
        if let Some(voltage) = self.voltage {
            entries.push(MetaEntry::new("voltage", MetaValue::F64(voltage)));
        }
        if let Some(gps) = self.gps {
            let mut fix = vec![
                MetaEntry::new("valid", MetaValue::I8(1)),
                MetaEntry::new("lat", MetaValue::F64(gps.lat)),
                MetaEntry::new("lon", MetaValue::F64(gps.lon)),
            ];
            if let Some(alt) = gps.alt {
                fix.push(MetaEntry::new("alt", MetaValue::F64(alt)));
            }
            entries.push(MetaEntry::new("gps", MetaValue::Nested(fix)));
        }
        if let Some([x, y, z]) = self.gsensor {
            entries.push(MetaEntry::new(
                "gsensor",
                MetaValue::Nested(vec![
                    MetaEntry::new("x", MetaValue::F64(x)),
                    MetaEntry::new("y", MetaValue::F64(y)),
                    MetaEntry::new("z", MetaValue::F64(z)),
                ]),
            ));
        }
        if let Some(frame) = self.frame {
            entries.push(MetaEntry::new("frame", MetaValue::I32Alt(frame)));
        }
        entries
    }
}

/// Video chunks of decodable synthetic pictures, an encoder per stream:
/// the building block of every generated `.nvr`.
pub struct PictureChunks(SyntheticCameras);

impl PictureChunks {
    /// For pictures of `width` x `height` (whole macroblocks).
    pub fn new(width: u16, height: u16) -> io::Result<Self> {
        SyntheticCameras::for_size(width, height).map(Self)
    }

    /// Writes a `dc` chunk on `stream`: a key frame showing
    /// [`test_picture`](crate::h264::test_picture)`(seed)` behind SPS and
    /// PPS, or a skip frame. Returns the media as stored.
    pub fn write<W: Write>(
        &mut self,
        writer: &mut SaysWriter<W>,
        stream: u8,
        key_frame: bool,
        timestamp_us: u64,
        metadata: &[MetaEntry],
        seed: u32,
    ) -> io::Result<Vec<u8>> {
        let media = self.0.camera(stream).test_access_unit(key_frame, seed);
        writer.write_video(stream, key_frame, timestamp_us, metadata, &media)?;
        Ok(media)
    }
}

/// A small well-formed JPEG snapshot (SOI, APP0, SOS, `scan_len` bytes of
/// entropy-coded data, EOI) that differs by `seed`.
pub fn test_jpeg(scan_len: u8, seed: u8) -> Vec<u8> {
    jpeg_with_scan((0..scan_len).map(|i| i.wrapping_mul(seed)))
}

/// A small well-formed JPEG snapshot around `scan`, each byte made odd and
/// below 0x80 so that no marker appears inside.
pub fn jpeg_with_scan(scan: impl IntoIterator<Item = u8>) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    j.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 0x3F, 0]);
    j.extend(scan.into_iter().map(|b| b & 0x7F | 1));
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

fn stream_id(stream: u8, substream: u8) -> io::Result<[u8; 2]> {
    if stream > 9 {
        return Err(invalid_input("SAYS stream number must be 0..=9"));
    }
    Ok([b'0' + stream, substream])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_entries_come_in_firmware_order_and_leave_out_what_is_none() {
        let names =
            |t: Telemetry| -> Vec<String> { t.entries().into_iter().map(|e| e.name).collect() };
        let full = Telemetry {
            voltage: Some(12.5),
            gsensor: Some([0.0, 0.0, 1.0]),
            frame: Some(3),
            ..Telemetry::at(1_700_000_000_123_456, 36.0, 40.5, -73.25)
        };
        assert_eq!(
            names(full),
            ["ts", "speed", "voltage", "gps", "gsensor", "frame"]
        );
        let usual = Telemetry::at(1_700_000_000_123_456, 36.0, 40.5, -73.25);
        let entries = usual.entries();
        assert_eq!(names(usual), ["ts", "speed", "gps"]);
        assert_eq!(entries[0].value, MetaValue::I64(1_700_000_000_123));
        let MetaValue::Nested(gps) = &entries[2].value else {
            panic!("gps is nested");
        };
        let gps: Vec<&str> = gps.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(gps, ["valid", "lat", "lon"]);
    }

    #[test]
    fn a_test_jpeg_is_whole_and_has_no_marker_in_its_scan() {
        let jpeg = jpeg_with_scan([0xFF, 0xD9, 0x00, 0x80]);
        SaysWriter::new(Vec::new(), &HeaderSpec::default())
            .unwrap()
            .write_jpeg(&jpeg)
            .unwrap();
        let scan = &jpeg[jpeg.len() - 6..jpeg.len() - 2];
        assert!(scan.iter().all(|&b| b != 0xFF && b & 1 == 1), "{scan:02x?}");
        assert_ne!(test_jpeg(37, 3), test_jpeg(37, 4));
    }
}
