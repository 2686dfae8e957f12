// SPDX-License-Identifier: MIT
//! Writes rf1 tracks byte-identical to the Cyclops reference writer after a
//! clean close, and can leave them the way a crash does (count 0 in the
//! header, zero-filled preallocated tails).

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::h264::{BaselineParams, START_CODE, SyntheticEncoder};

use super::{
    Codec, INDEX_ENTRY_SIZE, INDEX_HEADER_SIZE, IndexEntry, IndexHeader, MAX_OFFSET, MAX_PTS_TICKS,
    flags, ns_to_ticks,
};

/// The reference preallocates room for 65535 entries plus the sentinel.
const PREALLOCATED_INDEX_SIZE: u64 = (INDEX_HEADER_SIZE + INDEX_ENTRY_SIZE * 65536) as u64;
const SMALL_PACKETS_CHUNK: u64 = 16 << 20;
const LARGE_PACKETS_CHUNK: u64 = 64 << 20;
/// Average NALU size from which the reference grows the packet file in large chunks.
const LARGE_NALU_AVERAGE: u64 = 5000;
const MAX_ENTRIES: usize = u16::MAX as usize;

/// One NALU to write: payload bytes (stored unchanged) and entry flags.
pub type NaluData<'a> = (&'a [u8], u16);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pts {
    Ticks(u32),
    /// Converted with floor(ns * 4096 / 1e9), like the reference.
    Ns(u64),
}

impl Pts {
    pub fn ticks(self) -> u64 {
        match self {
            Pts::Ticks(ticks) => ticks.into(),
            Pts::Ns(ns) => ns_to_ticks(ns),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterOptions {
    /// Grow the files in large zero-filled steps as the reference does; only
    /// visible on disk if the writer is abandoned instead of closed.
    pub preallocate: bool,
}

#[derive(Debug)]
pub struct TrackWriter {
    index: File,
    packets: File,
    index_path: PathBuf,
    packets_path: PathBuf,
    header: IndexHeader,
    entry_count: usize,
    packets_len: u64,
    packets_allocated: u64,
    options: WriterOptions,
}

impl TrackWriter {
    /// Creates `<base>_<track_name>.rf1i` and `.rf1p`, replacing existing files.
    pub fn create(
        base: &Path,
        track_name: &str,
        codec: Codec,
        timebase_us: u64,
        (width, height): (u16, u16),
        options: WriterOptions,
    ) -> io::Result<Self> {
        let track_path = |ext: &str| {
            let mut name = base.file_name().unwrap_or_default().to_owned();
            name.push(format!("_{track_name}.{ext}"));
            base.with_file_name(name)
        };
        let (index_path, packets_path) = (track_path("rf1i"), track_path("rf1p"));
        let open = |path: &Path| {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
        };
        let header = IndexHeader {
            codec,
            flags: 0,
            codec_flags: 0,
            timebase_us,
            count: 0,
            width,
            height,
        };
        let mut writer = TrackWriter {
            index: open(&index_path)?,
            packets: open(&packets_path)?,
            index_path,
            packets_path,
            header,
            entry_count: 0,
            packets_len: 0,
            packets_allocated: 0,
            options,
        };
        // Header with count 0 and an all-zero sentinel: a valid empty (or crashed) track.
        let mut initial = header.to_bytes().to_vec();
        initial.extend_from_slice(&[0; INDEX_ENTRY_SIZE]);
        writer.index.write_all(&initial)?;
        Ok(writer)
    }

    pub fn index_path(&self) -> &Path {
        &self.index_path
    }

    pub fn packets_path(&self) -> &Path {
        &self.packets_path
    }

    pub fn entry_count(&self) -> usize {
        self.entry_count
    }

    pub fn packets_len(&self) -> u64 {
        self.packets_len
    }

    /// Whether the access unit fits the format limits (65535 entries, 22-bit
    /// PTS, 30-bit offsets): when not, start a new segment.
    pub fn can_write(&self, pts: Pts, nalus: &[NaluData]) -> bool {
        self.check(pts, nalus).is_ok()
    }

    fn check(&self, pts: Pts, nalus: &[NaluData]) -> io::Result<u32> {
        let invalid = |what: String| Err(io::Error::new(io::ErrorKind::InvalidInput, what));
        let ticks = pts.ticks();
        let added_bytes: u64 = nalus.iter().map(|(payload, _)| payload.len() as u64).sum();
        if ticks > u64::from(MAX_PTS_TICKS) {
            return invalid(format!(
                "rf1 PTS {ticks} ticks exceeds the 22-bit maximum {MAX_PTS_TICKS}"
            ));
        }
        if self.entry_count + nalus.len() > MAX_ENTRIES {
            return invalid(format!("rf1 track full: {MAX_ENTRIES} entries at most"));
        }
        if self.packets_len + added_bytes > MAX_OFFSET {
            return invalid(format!("rf1 packet file would exceed {MAX_OFFSET} bytes"));
        }
        if let Some((_, flags)) = nalus.iter().find(|(_, flags)| *flags > 0xfff) {
            return invalid(format!("rf1 flags {flags:#x} do not fit 12 bits"));
        }
        Ok(ticks as u32)
    }

    /// Appends the NALUs of one access unit (all with `pts`) and updates the
    /// on-disk index and sentinel, so the files are readable after a crash.
    /// PTS order is not enforced, so tests can write hostile files.
    pub fn write_access_unit(&mut self, pts: Pts, nalus: &[NaluData]) -> io::Result<()> {
        let pts_ticks = self.check(pts, nalus)?;
        let added_bytes: u64 = nalus.iter().map(|(payload, _)| payload.len() as u64).sum();
        if self.options.preallocate {
            self.preallocate(nalus.len(), added_bytes)?;
        }
        let mut entry_bytes = Vec::with_capacity((nalus.len() + 1) * INDEX_ENTRY_SIZE);
        self.packets.seek(SeekFrom::Start(self.packets_len))?;
        for &(payload, flags) in nalus {
            let entry = IndexEntry {
                pts_ticks,
                offset: self.packets_len as u32,
                flags,
            };
            entry_bytes.extend_from_slice(&entry.encode().to_le_bytes());
            self.packets.write_all(payload)?;
            self.packets_len += payload.len() as u64;
        }
        let sentinel = IndexEntry {
            pts_ticks: 0,
            offset: self.packets_len as u32,
            flags: 0,
        };
        entry_bytes.extend_from_slice(&sentinel.encode().to_le_bytes());
        self.index
            .seek(SeekFrom::Start(self.entry_offset(self.entry_count)))?;
        self.index.write_all(&entry_bytes)?;
        self.entry_count += nalus.len();
        Ok(())
    }

    pub fn write_nalu(&mut self, pts: Pts, payload: &[u8], flags: u16) -> io::Result<()> {
        self.write_access_unit(pts, &[(payload, flags)])
    }

    fn entry_offset(&self, entry: usize) -> u64 {
        (INDEX_HEADER_SIZE + entry * INDEX_ENTRY_SIZE) as u64
    }

    /// Mirrors the reference's posix_fallocate: the whole index on the first
    /// write, the packet file in 16 MiB (64 MiB for large NALUs) steps.
    fn preallocate(&mut self, added_entries: usize, added_bytes: u64) -> io::Result<()> {
        if self.entry_count == 0 {
            self.index.set_len(PREALLOCATED_INDEX_SIZE)?;
        }
        let needed = self.packets_len + added_bytes;
        if needed > self.packets_allocated {
            let average = needed / (self.entry_count + added_entries).max(1) as u64;
            let chunk = if average >= LARGE_NALU_AVERAGE {
                LARGE_PACKETS_CHUNK
            } else {
                SMALL_PACKETS_CHUNK
            };
            self.packets_allocated = needed.div_ceil(chunk) * chunk;
            self.packets.set_len(self.packets_allocated)?;
        }
        Ok(())
    }

    /// Writes the final count and trims both files to their logical size.
    pub fn close(mut self) -> io::Result<()> {
        self.header.count = self.entry_count as u16;
        self.index.seek(SeekFrom::Start(0))?;
        self.index.write_all(&self.header.to_bytes())?;
        self.index
            .set_len(self.entry_offset(self.entry_count + 1))?;
        self.packets.set_len(self.packets_len)
    }

    /// Leaves the files as a crash would: header count 0, preallocated zero
    /// tails if preallocation is on. Readers recover via the sentinel.
    pub fn abandon(self) {}
}

/// Writes one segment `dir/<start_ms>` of track `video` for timing tests:
/// `frames` access units at 10 fps, a key frame every 10, each one tiny
/// Annex-B NAL unit (not decodable).
pub fn write_timing_segment(dir: &Path, start_ms: u64, frames: u64) -> io::Result<()> {
    let mut w = TrackWriter::create(
        &dir.join(start_ms.to_string()),
        "video",
        crate::h264::Codec::H264,
        start_ms * 1000,
        (32, 16),
        WriterOptions::default(),
    )?;
    for k in 0..frames {
        let (nal, key): (&[u8], u16) = if k % 10 == 0 {
            (&[0, 0, 1, 0x65, 1, 2], super::flags::KEY)
        } else {
            (&[0, 0, 1, 0x41, 1], 0)
        };
        w.write_nalu(Pts::Ns(k * 100_000_000), nal, key | super::flags::ANNEXB)?;
    }
    w.close()
}

/// Access units of decodable synthetic H.264 pictures as Cyclops recorders
/// store them: a key frame as SPS and PPS (`ESSENTIAL_META`) and the IDR
/// (`KEY`), a delta frame as a skip picture; the building block of every
/// generated rf1 track.
pub struct PictureUnits {
    encoder: SyntheticEncoder,
    sps: Vec<u8>,
    pps: Vec<u8>,
    annexb: bool,
}

impl PictureUnits {
    /// For pictures of `width` x `height` (whole macroblocks); `annexb`
    /// false stores NAL units without start codes (no `ANNEXB` flag).
    pub fn new(width: u16, height: u16, annexb: bool) -> io::Result<Self> {
        let params = BaselineParams::for_size(width.into(), height.into())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "picture size"))?;
        let mut units = Self {
            encoder: SyntheticEncoder::new(params),
            sps: Vec::new(),
            pps: Vec::new(),
            annexb,
        };
        units.sps = units.stored(params.sps(None));
        units.pps = units.stored(params.pps());
        Ok(units)
    }

    fn stored(&self, nal: Vec<u8>) -> Vec<u8> {
        if self.annexb {
            nal
        } else {
            nal[START_CODE.len()..].to_vec()
        }
    }

    fn flag(&self) -> u16 {
        if self.annexb { flags::ANNEXB } else { 0 }
    }

    /// Writes one frame at `pts`: a key frame showing
    /// [`test_picture`](crate::h264::test_picture)`(seed)` behind the
    /// parameter sets, or a skip frame.
    pub fn write(
        &mut self,
        track: &mut TrackWriter,
        pts: Pts,
        key: bool,
        seed: u32,
    ) -> io::Result<()> {
        self.write_with(track, pts, key, seed, key, &[])
    }

    /// [`Self::write`] with the parameter sets in front only when
    /// `parameter_sets` (a key frame without them, or a delta frame with
    /// them) and `extra` NAL units (SEI, stored as given) before the picture.
    pub fn write_with(
        &mut self,
        track: &mut TrackWriter,
        pts: Pts,
        key: bool,
        seed: u32,
        parameter_sets: bool,
        extra: &[Vec<u8>],
    ) -> io::Result<()> {
        let flag = self.flag();
        let picture = self.encoder.test_frame(key, seed);
        let picture = self.stored(picture);
        let mut nalus: Vec<NaluData> = Vec::with_capacity(3 + extra.len());
        if parameter_sets {
            nalus.push((&self.sps, flags::ESSENTIAL_META | flag));
            nalus.push((&self.pps, flags::ESSENTIAL_META | flag));
        }
        nalus.extend(extra.iter().map(|nal| (&nal[..], flag)));
        let key_flag = if key { flags::KEY } else { 0 };
        nalus.push((&picture, key_flag | flag));
        track.write_access_unit(pts, &nalus)
    }
}

/// A generated camera folder: `segments` tracks named `<start_ms>_video`
/// with contiguous time bases, `frames_per_segment` decodable pictures each
/// at 10 fps, frame `i` of the archive a key frame showing picture `i`
/// when `i % gop == 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Archive {
    pub start_ms: u64,
    pub segments: usize,
    pub frames_per_segment: usize,
    pub gop: usize,
    pub width: u16,
    pub height: u16,
    /// NAL units with start codes (`ANNEXB`), else bare.
    pub annexb: bool,
    /// SPS and PPS in the very first access unit only, else on every key
    /// frame.
    pub parameter_sets_once: bool,
}

impl Archive {
    /// Writes the tracks into `dir` and closes them; returns the bytes of
    /// their packet files.
    pub fn write(&self, dir: &Path) -> io::Result<u64> {
        let mut pictures = PictureUnits::new(self.width, self.height, self.annexb)?;
        let mut frame = 0;
        let mut bytes = 0;
        for s in 0..self.segments {
            let start_ms = self.start_ms + (s * self.frames_per_segment) as u64 * 100;
            let mut track = TrackWriter::create(
                &dir.join(start_ms.to_string()),
                "video",
                Codec::H264,
                start_ms * 1000,
                (self.width, self.height),
                WriterOptions::default(),
            )?;
            for k in 0..self.frames_per_segment {
                let pts = Pts::Ns(k as u64 * 100_000_000);
                let key = frame % self.gop.max(1) == 0;
                let parameter_sets = key && (frame == 0 || !self.parameter_sets_once);
                pictures.write_with(&mut track, pts, key, frame as u32, parameter_sets, &[])?;
                frame += 1;
            }
            bytes += track.packets_len();
            track.close()?;
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::rf1::{Index, Track};

    fn track(dir: &Path, start_ms: u64) -> Track {
        let index = std::fs::read(dir.join(format!("{start_ms}_video.rf1i"))).unwrap();
        let packets = std::fs::read(dir.join(format!("{start_ms}_video.rf1p"))).unwrap();
        Track::from_index("video", Index::parse(&index).unwrap(), packets.len() as u64)
    }

    #[test]
    fn an_archive_is_contiguous_segments_with_key_frames_every_gop() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive {
            start_ms: 1_700_000_000_000,
            segments: 2,
            frames_per_segment: 5,
            gop: 3,
            width: 32,
            height: 16,
            annexb: false,
            parameter_sets_once: true,
        };
        let bytes = archive.write(dir.path()).unwrap();
        let first = track(dir.path(), 1_700_000_000_000);
        let second = track(dir.path(), 1_700_000_000_500);
        assert_eq!(first.packets_len + second.packets_len, bytes);
        assert_eq!(second.header.timebase_us, 1_700_000_000_500_000);
        let keys: Vec<bool> = [&first, &second]
            .iter()
            .flat_map(|t| t.access_units.iter().map(|au| au.key))
            .collect();
        assert_eq!(keys, (0..10).map(|i| i % 3 == 0).collect::<Vec<_>>());
        // SPS, PPS and the IDR in the first unit only; bare NAL units.
        assert_eq!(first.access_units[0].nalu_count, 3);
        assert_eq!(second.access_units[1].nalu_count, 1);
        assert!(first.nalus.iter().all(|n| n.flags & flags::ANNEXB == 0));
    }
}
