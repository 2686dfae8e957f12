// SPDX-License-Identifier: MIT
//! Read-back of every output before it is called written.
//!
//! A muxer reporting EOS only says that it pushed its last byte; GStreamer
//! 1.22's buffered `filesink` was found writing something else (buffer
//! lists whose memories cross the 1024-iovec boundary come out corrupted,
//! gstreamer-notes 20), and a conversion that exits 0 with an unreadable
//! file is the worst outcome. So [`Watch`] records, on each muxer input
//! pad, what went into the muxer (per stream: buffers, and for video a hash
//! of every frame's bytes), and [`Watch::check`] reads the finished file
//! with an independent reader (`qtdemux`/`matroskademux` in pull mode) and
//! compares: the file must parse to EOS, video must come back frame for
//! frame with the same bytes in the same order, audio and subtitles with
//! the same number of samples.
//!
//! Video is compared byte for byte because the container copies the
//! access units untouched (we stream-copy): a changed byte is a writer
//! fault, not a transformation. Audio is re-encoded (MP4) and subtitles
//! are made by us, so their count is what is checked.

use anyhow::{Result, anyhow, bail};
use gst::prelude::*;
use std::hash::Hasher;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the reader may go without producing a buffer before the
/// read-back is declared stuck (a reader that hangs must not hang convert).
const STALL: Duration = Duration::from_secs(30);

/// Test hook, documented in docs/fuzzing.md: `CCTV_FAULT_INJECT=truncate`
/// cuts every finished output in half, `flip` flips a byte in the middle,
/// just before the read-back, to prove that a writer fault is caught and
/// reported (the real fault, filesink's, cannot be produced on demand once
/// its cause is avoided).
const FAULT_ENV: &str = "CCTV_FAULT_INJECT";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Video,
    Audio,
    Subtitle,
}

impl Kind {
    fn of_pad(name: &str) -> Option<Kind> {
        if name.starts_with("video") {
            Some(Kind::Video)
        } else if name.starts_with("audio") {
            Some(Kind::Audio)
        } else if name.starts_with("subtitle") || name.starts_with("text") {
            Some(Kind::Subtitle)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Video => "video",
            Kind::Audio => "audio",
            Kind::Subtitle => "subtitle",
        }
    }
}

/// What one stream carried: buffers, and per video frame a hash of its
/// bytes (8 bytes a frame, a tiny fraction of the frame itself).
#[derive(Debug)]
struct Stream {
    kind: Kind,
    pad: String,
    buffers: u64,
    hashes: Vec<u64>,
    /// The first buffer without a byte: a frame no reader counts (ffprobe
    /// skips it, mp4mux drops it).
    first_empty: Option<u64>,
}

impl Stream {
    fn new(kind: Kind, pad: String) -> Self {
        Self {
            kind,
            pad,
            buffers: 0,
            hashes: Vec::new(),
            first_empty: None,
        }
    }

    fn add(&mut self, hash: Option<u64>, empty: bool) {
        if empty && self.first_empty.is_none() {
            self.first_empty = Some(self.buffers);
        }
        self.buffers += 1;
        self.hashes.extend(hash);
    }
}

/// A hash of a buffer's bytes, memory by memory: no copy for buffers made
/// of many memories (a length prefix and a NAL each), and the same value as
/// for the one-memory sample the reader gives back (the hasher is a byte
/// stream). Not a proof against tampering (that is the evidence manifest's
/// SHA-256), a check that the writer kept the bytes.
fn frame_hash(buffer: &gst::BufferRef) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    let mut len = 0u64;
    for mem in buffer.iter_memories() {
        if let Ok(map) = mem.map_readable() {
            h.write(map.as_slice());
            len += map.size() as u64;
        }
    }
    h.write_u64(len);
    h.finish()
}

type Streams = Arc<Mutex<Vec<Stream>>>;

fn lock(s: &Streams) -> std::sync::MutexGuard<'_, Vec<Stream>> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts (and for video hashes) what a pad passes, buffer lists
/// included. The hashing is done before the lock is taken: the other
/// streams of the same muxer record through it.
fn count_on(pad: &gst::Pad, kind: Kind, streams: &Streams, index: usize) {
    let streams = streams.clone();
    // The stop of the pad's segment (NO_STOP: none), kept as segments
    // pass: a buffer that starts at or past it is clipped by the muxer (an
    // audio encoder's last, padded frame after a window's end), not
    // written, so not counted.
    const NO_STOP: u64 = u64::MAX;
    let stop = std::sync::atomic::AtomicU64::new(NO_STOP);
    pad.add_probe(
        gst::PadProbeType::BUFFER
            | gst::PadProbeType::BUFFER_LIST
            | gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            use std::sync::atomic::Ordering::Relaxed;
            if let Some(gst::PadProbeData::Event(e)) = &info.data {
                if let gst::EventView::Segment(seg) = e.view() {
                    let at = seg
                        .segment()
                        .downcast_ref::<gst::ClockTime>()
                        .and_then(|s| s.stop())
                        .map_or(NO_STOP, |s| s.nseconds());
                    stop.store(at, Relaxed);
                }
                return gst::PadProbeReturn::Ok;
            }
            let stop = stop.load(Relaxed);
            let past_stop = |b: &gst::BufferRef| b.pts().is_some_and(|p| p.nseconds() >= stop);
            let hash =
                |b: &gst::BufferRef| ((kind == Kind::Video).then(|| frame_hash(b)), b.size() == 0);
            let hashes: Vec<(Option<u64>, bool)> = match &info.data {
                Some(gst::PadProbeData::Buffer(b)) if !past_stop(b) => vec![hash(b)],
                Some(gst::PadProbeData::BufferList(l)) => {
                    l.iter().filter(|b| !past_stop(b)).map(hash).collect()
                }
                _ => Vec::new(),
            };
            if let Some(st) = lock(&streams).get_mut(index) {
                for (h, empty) in hashes {
                    st.add(h, empty);
                }
            }
            gst::PadProbeReturn::Ok
        },
    );
}

/// What went into one muxer (one output file).
pub struct Watch {
    reader: &'static str,
    pushed: Streams,
}

impl Watch {
    /// Watches every sink pad `mux` has now (call it once its pads are
    /// requested and linked).
    pub fn on(mux: &gst::Element) -> Watch {
        let reader = match mux.factory().map(|f| f.name()) {
            Some(n) if n == "matroskamux" => "matroskademux",
            _ => "qtdemux",
        };
        let pushed: Streams = Arc::default();
        for pad in mux.sink_pads() {
            let name = pad.name().to_string();
            let Some(kind) = Kind::of_pad(&name) else {
                continue;
            };
            let index = {
                let mut s = lock(&pushed);
                s.push(Stream::new(kind, name));
                s.len() - 1
            };
            count_on(&pad, kind, &pushed, index);
        }
        Watch { reader, pushed }
    }

    /// No video frame went into the muxer: the file it made is no output.
    pub fn is_empty(&self) -> bool {
        lock(&self.pushed)
            .iter()
            .all(|s| s.kind != Kind::Video || s.buffers == 0)
    }

    /// Reads `path` back and compares it with what was pushed.
    /// `interrupted` is polled so that Ctrl-C stops a long read-back.
    /// Ok: the video is whole; the strings are audio or subtitle samples
    /// that did not read back (to be reported).
    pub fn check(&self, path: &Path, interrupted: &dyn Fn() -> bool) -> Result<Vec<String>> {
        if self.is_empty() {
            // A muxer makes a file even of nothing, one that no player
            // opens: that is no output.
            bail!("no video frame to write");
        }
        inject_fault(path);
        let reader = self.reader;
        let read = read(path, reader, interrupted)
            .map_err(|e| anyhow!("it does not read back ({reader}): {e:#}"))?;
        let pushed = lock(&self.pushed);
        compare(&pushed, &read).map_err(|e| anyhow!("read back ({reader}): {e:#}"))
    }
}

/// The test hook (see [`FAULT_ENV`]).
fn inject_fault(path: &Path) {
    let Ok(fault) = std::env::var(FAULT_ENV) else {
        return;
    };
    let Ok(len) = std::fs::metadata(path).map(|m| m.len()) else {
        return;
    };
    match fault.as_str() {
        "truncate" => {
            if let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) {
                let _ = f.set_len(len / 2);
            }
        }
        "flip" => {
            use std::io::{Read, Seek, SeekFrom, Write};
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
            {
                let mut b = [0u8; 1];
                let at = len / 2;
                if f.seek(SeekFrom::Start(at)).is_ok() && f.read_exact(&mut b).is_ok() {
                    b[0] ^= 0x5a;
                    let _ = f.seek(SeekFrom::Start(at)).and_then(|_| f.write_all(&b));
                }
            }
        }
        _ => {}
    }
}

/// Every stream of `path` as `reader` gives it, in pad order.
fn read(path: &Path, reader: &str, interrupted: &dyn Fn() -> bool) -> Result<Vec<Stream>> {
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("filesrc")
        .property("location", path.to_string_lossy().to_string())
        .build()?;
    let demux = gst::ElementFactory::make(reader)
        .build()
        .map_err(|_| anyhow!("GStreamer element {reader} is missing"))?;
    pipeline.add_many([&src, &demux])?;
    src.link(&demux)?;
    let streams: Streams = Arc::default();
    {
        let streams = streams.clone();
        let weak = pipeline.downgrade();
        demux.connect_pad_added(move |_, pad| {
            let name = pad.name().to_string();
            let kind = Kind::of_pad(&name);
            if let Some(kind) = kind {
                let index = {
                    let mut s = lock(&streams);
                    s.push(Stream::new(kind, name));
                    s.len() - 1
                };
                count_on(pad, kind, &streams, index);
            }
            // Every pad is drained, counted or not: an unlinked pad would
            // make the reader stop with not-linked.
            let Some(p) = weak.upgrade() else { return };
            let Ok(sink) = gst::ElementFactory::make("fakesink")
                .property("sync", false)
                .property("async", false)
                .build()
            else {
                return;
            };
            let _ = p.add(&sink);
            let _ = sink.sync_state_with_parent();
            if let Some(s) = sink.static_pad("sink") {
                let _ = pad.link(&s);
            }
        });
    }
    let bus = pipeline.bus().ok_or_else(|| anyhow!("no bus"))?;
    let result = (|| -> Result<()> {
        if pipeline.set_state(gst::State::Playing).is_err() {
            let why = bus
                .timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])
                .and_then(|m| match m.view() {
                    gst::MessageView::Error(e) => Some(e.error().to_string()),
                    _ => None,
                });
            bail!("{}", why.unwrap_or_else(|| "cannot open it".into()));
        }
        let mut seen = 0u64;
        let mut progress_at = Instant::now();
        loop {
            let msg = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(200),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            );
            if let Some(msg) = msg {
                match msg.view() {
                    gst::MessageView::Eos(_) => return Ok(()),
                    gst::MessageView::Error(e) => bail!("{}", e.error()),
                    _ => {}
                }
            }
            if interrupted() {
                bail!("interrupted");
            }
            let now: u64 = lock(&streams).iter().map(|s| s.buffers).sum();
            if now != seen {
                seen = now;
                progress_at = Instant::now();
            } else if progress_at.elapsed() > STALL {
                bail!("the reader made no progress for {} s", STALL.as_secs());
            }
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    let streams = std::mem::take(&mut *lock(&streams));
    Ok(streams)
}

/// Compares the streams pushed into the muxer with the streams read back,
/// kind by kind in pad order. A pushed stream that got no buffer may be
/// absent from the file (a muxer writes no empty track). Video must match
/// exactly (Err). Audio and subtitles are not the evidence and a missing
/// sample there must not cost the user the pictures: their mismatches are
/// returned as warnings, to be said, not hidden.
fn compare(pushed: &[Stream], read: &[Stream]) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    for kind in [Kind::Video, Kind::Audio, Kind::Subtitle] {
        let p: Vec<&Stream> = pushed
            .iter()
            .filter(|s| s.kind == kind && s.buffers > 0)
            .collect();
        let r: Vec<&Stream> = read
            .iter()
            .filter(|s| s.kind == kind && s.buffers > 0)
            .collect();
        let mut problems = Vec::new();
        if p.len() != r.len() {
            problems.push(format!(
                "{} {} stream(s) written, {} read back",
                p.len(),
                kind.name(),
                r.len()
            ));
        }
        for (p, r) in p.iter().zip(&r) {
            if kind == Kind::Video
                && let Some(i) = p.first_empty
            {
                // Stored as it came, but no reader counts it as a frame:
                // the file would not hold what convert reports.
                problems.push(format!(
                    "{} frame {i} (0-based) is empty (0 bytes): no player counts it",
                    p.pad
                ));
            } else if p.buffers != r.buffers {
                problems.push(format!(
                    "{} frames written to {}, {} read back from {}",
                    p.buffers, p.pad, r.buffers, r.pad
                ));
            } else if let Some(i) = p.hashes.iter().zip(&r.hashes).position(|(a, b)| a != b) {
                problems.push(format!(
                    "{} frame {i} (0-based) reads back with other bytes than were written",
                    p.pad
                ));
            }
        }
        match problems.first() {
            Some(first) if kind == Kind::Video => bail!("{first}"),
            _ => warnings.extend(problems),
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_hash_is_the_same_for_one_memory_and_many() {
        gst::init().unwrap();
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let one = gst::Buffer::from_slice(bytes.clone());
        let mut many = gst::Buffer::new();
        {
            let m = many.get_mut().unwrap();
            for chunk in bytes.chunks(3) {
                m.append_memory(gst::Memory::from_slice(chunk.to_vec()));
            }
        }
        assert_eq!(frame_hash(&one), frame_hash(&many));
        let mut other = bytes.clone();
        other[500] ^= 1;
        assert_ne!(
            frame_hash(&one),
            frame_hash(&gst::Buffer::from_slice(other))
        );
    }

    fn stream(kind: Kind, buffers: u64, hashes: Vec<u64>) -> Stream {
        Stream {
            kind,
            pad: format!("{}_0", kind.name()),
            buffers,
            hashes,
            first_empty: None,
        }
    }

    #[test]
    fn compare_names_what_differs() {
        let pushed = vec![
            stream(Kind::Video, 3, vec![1, 2, 3]),
            stream(Kind::Audio, 5, vec![]),
            stream(Kind::Subtitle, 0, vec![]),
        ];
        let same = vec![
            stream(Kind::Video, 3, vec![1, 2, 3]),
            stream(Kind::Audio, 5, vec![]),
        ];
        assert!(compare(&pushed, &same).unwrap().is_empty());
        let fewer = vec![stream(Kind::Video, 2, vec![1, 2])];
        let e = compare(&pushed, &fewer).unwrap_err().to_string();
        assert!(
            e.contains("3 frames written to video_0, 2 read back"),
            "{e}"
        );
        let changed = vec![
            stream(Kind::Video, 3, vec![1, 9, 3]),
            stream(Kind::Audio, 5, vec![]),
        ];
        let e = compare(&pushed, &changed).unwrap_err().to_string();
        assert!(e.contains("video_0 frame 1"), "{e}");
        let mut with_empty = vec![stream(Kind::Video, 3, vec![1, 2, 3])];
        with_empty[0].first_empty = Some(2);
        let e = compare(&with_empty, &same).unwrap_err().to_string();
        assert!(e.contains("video_0 frame 2 (0-based) is empty"), "{e}");
        let no_audio = vec![stream(Kind::Video, 3, vec![1, 2, 3])];
        let w = compare(&pushed, &no_audio).unwrap();
        assert_eq!(w, ["1 audio stream(s) written, 0 read back"]);
        let fewer_audio = vec![
            stream(Kind::Video, 3, vec![1, 2, 3]),
            stream(Kind::Audio, 4, vec![]),
        ];
        let w = compare(&pushed, &fewer_audio).unwrap();
        assert_eq!(w, ["5 frames written to audio_0, 4 read back from audio_0"]);
    }
}
