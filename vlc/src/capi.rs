// SPDX-License-Identifier: MIT
//! The engine behind a small C ABI, for front ends written in C (the VLC
//! module in `vlc/`). The crate's only unsafe code lives here.
//!
//! - Opaque handles: [`cctv_open`] (a byte-stream recording read through a
//!   `read_at` callback) or [`cctv_open_rf1`] (an rf1 path), freed by
//!   [`cctv_close`].
//! - [`cctv_stream_count`] / [`cctv_stream_get`]: the streams found so far
//!   (more may appear while playing: front ends compare the count after
//!   every packet); a stream pointer stays valid until close.
//! - Subtitle streams carry the elements' cues (capture time, speed,
//!   position), each with the duration to the next cue of its stream.
//! - [`cctv_next`]: the next packet (stream index, PTS/DTS in µs, key flag,
//!   bytes valid until the next call on the handle).
//! - [`cctv_seek`], [`cctv_duration`], [`cctv_meta_count`] /
//!   [`cctv_meta_get`], [`cctv_probe`].
//!
//! Every entry point catches panics (`catch_unwind`): nothing unwinds into
//! C, a panicking handle reports errors from then on. Strings and buffers
//! handed out are owned by the handle.
#![allow(unsafe_code)]

use crate::engine::formats::pavs::{Pavs, PavsOptions};
use crate::engine::formats::rf1::Rf1Engine;
use crate::engine::formats::says::{Says, SaysOptions};
use crate::engine::probe::{self, Certainty};
use crate::engine::{
    ByteDemux, ByteSource, Chunk, Codec, EngineError, Format, Packet, SharedBytes, Source,
    SourceError, SourceEvent, StreamId, StreamInfo, StreamKind, Tags,
};
use std::collections::VecDeque;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

/// Reads up to `len` bytes at `offset` into `buf`: the number read (fewer
/// only at the end), or a negative value on error. For an input that cannot
/// seek, offsets are always sequential.
pub type CctvReadFn =
    Option<unsafe extern "C" fn(opaque: *mut c_void, offset: u64, buf: *mut u8, len: usize) -> i64>;

pub const CCTV_KIND_VIDEO: c_int = 0;
pub const CCTV_KIND_AUDIO: c_int = 1;
pub const CCTV_KIND_TEXT: c_int = 2;

/// Gaps in capture time longer than this are compacted to one frame
/// duration: the engine's default for every front end (10 s; VLC's input
/// clock also takes a jump of more than a minute for a broken stream, and
/// a player should not sit hours on one picture).
const MAX_GAP_NS: u64 = crate::engine::timeline::DEFAULT_MAX_GAP_NS;

/// Probe results of [`cctv_probe`].
pub const CCTV_PROBE_NONE: c_int = 0;
pub const CCTV_PROBE_PAVS_LIKELY: c_int = 1;
pub const CCTV_PROBE_PAVS: c_int = 2;
pub const CCTV_PROBE_SAYS: c_int = 3;

/// Bytes [`cctv_probe`] wants to see (fewer are fine for short inputs).
#[unsafe(no_mangle)]
pub static CCTV_PROBE_WINDOW: usize = probe::PAVS_PROBE_WINDOW;

/// One stream as the front end presents it.
#[repr(C)]
pub struct CctvStream {
    pub kind: c_int,
    /// VLC-style fourcc: `h264`, `hevc`, `mlaw`, `Opus`, `jpeg`, `subt`.
    pub fourcc: [c_char; 4],
    pub width: u32,
    pub height: u32,
    pub sar_num: u32,
    pub sar_den: u32,
    pub fps_num: u32,
    pub fps_den: u32,
    pub rate: u32,
    pub channels: u32,
    /// Stable name (`video_9`, `audio_0`, a track name).
    pub name: *const c_char,
    /// Human-readable description (camera name).
    pub description: *const c_char,
    /// Codec configuration (H.264: Annex-B SPS/PPS), may be null.
    pub extra: *const u8,
    pub extra_len: usize,
}

/// One packet. `data` stays valid until the next call on the handle.
#[repr(C)]
pub struct CctvPacket {
    /// Index into the stream list.
    pub stream: u32,
    pub key: c_int,
    pub discont: c_int,
    /// µs from the start of the recording; -1 when unknown.
    pub pts_us: i64,
    pub dts_us: i64,
    pub duration_us: i64,
    pub data: *const u8,
    pub len: usize,
}

/// `read_at` callback of the C side as a [`ByteSource`].
struct CallbackSource {
    read: unsafe extern "C" fn(*mut c_void, u64, *mut u8, usize) -> i64,
    opaque: *mut c_void,
    size: Option<u64>,
}

impl CallbackSource {
    fn read_into(&mut self, offset: u64, len: usize) -> Result<Vec<u8>, SourceError> {
        let mut buf = vec![0u8; len];
        // SAFETY: `buf` is a live, writable allocation of `len` bytes for the
        // whole call; the C side promises to write at most `len` bytes and
        // only during the call, and `opaque` is what it gave us at open.
        let n = unsafe { (self.read)(self.opaque, offset, buf.as_mut_ptr(), len) };
        if n < 0 {
            return Err(SourceError::Io("the read callback failed".into()));
        }
        buf.truncate(usize::try_from(n).unwrap_or(0).min(len));
        Ok(buf)
    }
}

impl ByteSource for CallbackSource {
    type Chunk = SharedBytes;
    fn size(&self) -> Option<u64> {
        self.size
    }
    fn read_at(&mut self, offset: u64, len: usize) -> Result<SharedBytes, SourceError> {
        if self.size.is_some_and(|s| offset >= s) {
            return Ok(SharedBytes::default());
        }
        self.read_into(offset, len).map(SharedBytes::from_vec)
    }
}

/// What a handle plays: any [`Source`], and for a byte stream read in
/// push mode (the C side cannot seek) the reader that feeds it.
struct Input {
    source: Box<dyn Source<Chunk = SharedBytes>>,
    /// Push input: the C side's reader and the next offset to read.
    feed: Option<(CallbackSource, u64)>,
}

/// What [`cctv_next`] yields, source-independent.
enum Step {
    Streams(Vec<StreamInfo>),
    Packet(Packet<SharedBytes>),
    Eos,
}

impl Input {
    /// A byte-stream recording: pull input when the C side can seek, else
    /// push input read sequentially.
    fn bytes<F: Format + 'static>(format: F, src: CallbackSource, seekable: bool) -> Self {
        if seekable {
            Self {
                source: Box::new(ByteDemux::pull(format, src)),
                feed: None,
            }
        } else {
            Self {
                source: Box::new(ByteDemux::<F, CallbackSource>::push(format)),
                feed: Some((src, 0)),
            }
        }
    }

    /// The next event, feeding push input as it asks.
    fn next(&mut self) -> Result<SourceEvent<SharedBytes>, EngineError> {
        loop {
            let event = self.source.next()?;
            let (SourceEvent::NeedData, Some((src, at))) = (&event, self.feed.as_mut()) else {
                return Ok(event);
            };
            let chunk = src.read_into(*at, crate::engine::bytes::READ_CHUNK)?;
            if chunk.is_empty() {
                self.source.push_eos();
            } else {
                *at += chunk.len() as u64;
                self.source.push_data(SharedBytes::from_vec(chunk));
            }
        }
    }

    fn step(&mut self) -> Result<Step, String> {
        loop {
            return match self.next().map_err(|e| e.to_string())? {
                SourceEvent::StreamsFound(infos) => Ok(Step::Streams(infos)),
                SourceEvent::NewStream(info) => Ok(Step::Streams(vec![info])),
                SourceEvent::Packet(p) => Ok(Step::Packet(p)),
                // Read through `global_tags`; VLC ends its ES at the end.
                SourceEvent::Tags(_) | SourceEvent::StreamEnd(_) => continue,
                SourceEvent::NeedData | SourceEvent::End => Ok(Step::Eos),
            };
        }
    }
}

/// A stream as handed to C, with the strings it points to.
struct OutStream {
    id: StreamId,
    c: CctvStream,
    _name: CString,
    _description: CString,
    _extra: Option<std::sync::Arc<[u8]>>,
    /// Subtitle cues: the sequence number of the queued cue that waits
    /// for the next one of this stream (its duration).
    open_cue: Option<u64>,
    /// Pictures (streams timed by their next packet: no duration, not
    /// sparse): the last PTS and the last step, for the end of the last
    /// picture, which the last cue lasts to (as in the elements).
    sparse: bool,
    last_pts: Option<u64>,
    last_len: Option<u64>,
}

impl OutStream {
    fn is_text(&self) -> bool {
        self.c.kind == CCTV_KIND_TEXT
    }

    /// Notes a packet of a non-text stream.
    fn note(&mut self, pts: Option<u64>, duration: Option<u64>) {
        let Some(pts) = pts else { return };
        if self.sparse || duration.is_some() {
            return;
        }
        let step = self
            .last_pts
            .and_then(|l| pts.checked_sub(l))
            .filter(|&d| d > 0);
        self.last_len = step.or(self.last_len);
        self.last_pts = Some(pts);
    }

    fn end(&self) -> Option<u64> {
        Some(self.last_pts? + self.last_len?)
    }
}

/// The handle behind the C ABI's opaque pointer.
pub struct CctvHandle {
    input: Input,
    /// Boxed: [`cctv_stream_get`] hands out pointers into these that stay
    /// valid until close, also when later streams grow the vector (inline
    /// elements moved on reallocation: C kept dangling pointers).
    #[allow(clippy::vec_box)]
    streams: Vec<Box<OutStream>>,
    /// Packets read ahead (while discovering streams at open).
    pending: VecDeque<Packet<SharedBytes>>,
    /// Packets read and waiting to go out, in order. A cue goes out only
    /// once the next cue of its stream gives its duration, and what was
    /// read after it waits behind it: a cue held alone went out after up
    /// to a cue period of the other streams' packets (audio, other
    /// cameras), behind VLC's clock.
    queue: VecDeque<Queued>,
    /// Payload bytes in `queue` (bounded: [`MAX_QUEUE_BYTES`]).
    queue_bytes: usize,
    /// Sequence number of the next queued packet.
    queue_seq: u64,
    /// Latest PTS read.
    read_pts: Option<u64>,
    /// The last packet's bytes.
    out: Vec<u8>,
    meta: Vec<(CString, CString)>,
    failed: bool,
    ended: bool,
}

/// A packet waiting in [`CctvHandle::queue`].
struct Queued {
    seq: u64,
    index: usize,
    packet: Packet<SharedBytes>,
    duration: Option<u64>,
    /// A cue still waiting for its duration.
    open: bool,
}

/// What may wait behind an open cue before it goes out anyway (lasting up
/// to the latest packet read): a cue stream whose camera stopped, or a
/// very long gap, must not make the handle read the whole file ahead.
const MAX_QUEUE_BYTES: usize = 64 << 20;
const MAX_QUEUE_NS: u64 = 60_000_000_000;

fn cstring(s: &str) -> CString {
    CString::new(s.split('\0').next().unwrap_or("")).unwrap_or_default()
}

fn fourcc(s: &[u8; 4]) -> [c_char; 4] {
    s.map(|b| b as c_char)
}

fn ns_to_us(ns: Option<u64>) -> i64 {
    ns.map_or(-1, |ns| i64::try_from(ns / 1000).unwrap_or(i64::MAX))
}

/// Calendar date of µs since the epoch (UTC), `YYYY-MM-DD HH:MM:SS`.
fn date_text(us: i64, offset_min: Option<i32>) -> String {
    let c = crate::engine::zone::Civil::at(us.div_euclid(1_000_000), offset_min.unwrap_or(0));
    let zone = match offset_min {
        Some(o) if o != 0 => format!(" UTC{}", crate::engine::zone::offset_text(o)),
        _ => " UTC".into(),
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{zone}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

fn description(info: &StreamInfo) -> String {
    let t = &info.tags;
    match info.id.kind {
        StreamKind::Video => t.title.clone().unwrap_or_else(|| info.name.clone()),
        StreamKind::Audio => format!("audio {}", info.id.number),
        StreamKind::Image => format!("snapshots {}", info.id.number),
        StreamKind::Data => format!("telemetry {}", info.id.number),
        StreamKind::Subtitle => t.title.clone().unwrap_or_else(|| info.name.clone()),
    }
}

impl CctvHandle {
    fn new(input: Input) -> Self {
        Self {
            input,
            streams: Vec::new(),
            pending: Default::default(),
            queue: Default::default(),
            queue_bytes: 0,
            queue_seq: 0,
            read_pts: None,
            out: Vec::new(),
            meta: Vec::new(),
            failed: false,
            ended: false,
        }
    }

    fn add_stream(&mut self, info: StreamInfo) {
        if self.streams.iter().any(|s| s.id == info.id) {
            return;
        }
        let (kind, cc, rate, channels) = match &info.codec {
            Codec::H264 { .. } => (CCTV_KIND_VIDEO, b"h264", 0, 0),
            Codec::H265 => (CCTV_KIND_VIDEO, b"hevc", 0, 0),
            Codec::Jpeg => (CCTV_KIND_VIDEO, b"jpeg", 0, 0),
            Codec::Mulaw { rate, channels } => (CCTV_KIND_AUDIO, b"mlaw", *rate, *channels),
            Codec::Opus { rate, channels } => (CCTV_KIND_AUDIO, b"Opus", *rate, *channels),
            Codec::Json { .. } | Codec::Text => (CCTV_KIND_TEXT, b"subt", 0, 0),
        };
        let name = cstring(&info.name);
        let desc = cstring(&description(&info));
        let extra = info.codec_config.clone();
        let (sar_num, sar_den) = info.pixel_aspect.unwrap_or((0, 0));
        let (fps_num, fps_den) = info.framerate.unwrap_or((0, 0));
        let c = CctvStream {
            kind,
            fourcc: fourcc(cc),
            width: info.width.unwrap_or(0),
            height: info.height.unwrap_or(0),
            sar_num,
            sar_den,
            fps_num,
            fps_den,
            rate,
            channels,
            name: name.as_ptr(),
            description: desc.as_ptr(),
            extra: extra.as_ref().map_or(std::ptr::null(), |e| e.as_ptr()),
            extra_len: extra.as_ref().map_or(0, |e| e.len()),
        };
        self.streams.push(Box::new(OutStream {
            id: info.id,
            c,
            _name: name,
            _description: desc,
            _extra: extra,
            open_cue: None,
            sparse: info.sparse,
            last_pts: None,
            last_len: None,
        }));
        if self.meta.is_empty() {
            self.collect_meta(&info.tags);
        }
    }

    /// Input meta: the recording's date and device, from the global tags
    /// or else the first stream's.
    fn collect_meta(&mut self, stream_tags: &Tags) {
        let global = self.input.source.global_tags().unwrap_or_default();
        let pick = |f: fn(&Tags) -> Option<String>| f(&global).or_else(|| f(stream_tags));
        let mut meta = Vec::new();
        let start = global.start_unix_us.or(stream_tags.start_unix_us);
        let offset = global
            .start_utc_offset_min
            .or(stream_tags.start_utc_offset_min);
        if let Some(us) = start {
            meta.push(("date", date_text(us, offset)));
        }
        let device = [
            pick(|t| t.device_manufacturer.clone()),
            pick(|t| t.device_model.clone()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        if !device.is_empty() {
            meta.push(("device", device));
        }
        if let Some(c) = global.container_format.or(stream_tags.container_format) {
            meta.push(("format", c.to_string()));
        }
        if let Some(c) = global.comment.clone() {
            meta.push(("description", c));
        }
        if let Some(title) = pick(|t| t.title.clone()) {
            meta.push(("title", title));
        }
        self.meta = meta
            .into_iter()
            .map(|(k, v)| (cstring(k), cstring(&v)))
            .collect();
    }

    /// Reads until the streams are known (or the end): packets read on the
    /// way are kept for [`CctvHandle::next`].
    fn discover(&mut self) -> Result<(), String> {
        while self.streams.is_empty() {
            match self.input.step()? {
                Step::Streams(infos) => infos.into_iter().for_each(|i| self.add_stream(i)),
                Step::Packet(p) => self.pending.push_back(p),
                Step::Eos => break,
            }
        }
        Ok(())
    }

    fn next(&mut self, out: &mut CctvPacket) -> c_int {
        if self.failed {
            return -1;
        }
        loop {
            if self.queue.front().is_some_and(|q| !q.open) {
                let Some(q) = self.queue.pop_front() else {
                    continue;
                };
                self.queue_bytes -= q.packet.size();
                self.emit(q.index, &q.packet, q.duration, out);
                return 1;
            }
            if self.ended {
                if self.queue.is_empty() {
                    return 0;
                }
                self.close_cues_at_end();
                continue;
            }
            if self.queue_too_long() {
                self.close_front_cue();
                continue;
            }
            let packet = match self.pending.pop_front() {
                Some(p) => p,
                None => match self.input.step() {
                    Ok(Step::Streams(infos)) => {
                        infos.into_iter().for_each(|i| self.add_stream(i));
                        continue;
                    }
                    Ok(Step::Packet(p)) => p,
                    Ok(Step::Eos) => {
                        self.ended = true;
                        continue;
                    }
                    Err(_) => {
                        self.failed = true;
                        return -1;
                    }
                },
            };
            self.enqueue(packet);
        }
    }

    /// Queues a packet read; a cue closes the open cue of its stream (it
    /// lasts until this one, as the elements' cues do).
    fn enqueue(&mut self, packet: Packet<SharedBytes>) {
        let Some(index) = self.streams.iter().position(|s| s.id == packet.stream) else {
            return;
        };
        if packet.pts.is_some() {
            self.read_pts = self.read_pts.max(packet.pts);
        }
        let seq = self.queue_seq;
        self.queue_seq += 1;
        let s = &mut self.streams[index];
        let open = s.is_text() && packet.duration.is_none();
        if s.is_text() {
            if let Some(prev) = s.open_cue.take() {
                let pts = packet.pts;
                if let Some(q) = self.queue.iter_mut().rev().find(|q| q.seq == prev) {
                    q.duration = pts.zip(q.packet.pts).map(|(p, c)| p.saturating_sub(c));
                    q.open = false;
                }
            }
            if open {
                s.open_cue = Some(seq);
            }
        } else {
            s.note(packet.pts, packet.duration);
        }
        self.queue_bytes += packet.size();
        self.queue.push_back(Queued {
            seq,
            index,
            duration: packet.duration,
            packet,
            open,
        });
    }

    /// Whether the open cue at the front has too much waiting behind it.
    fn queue_too_long(&self) -> bool {
        let Some(front) = self.queue.front().filter(|q| q.open) else {
            return false;
        };
        let waited = self
            .read_pts
            .zip(front.packet.pts)
            .map_or(0, |(r, c)| r.saturating_sub(c));
        self.queue_bytes > MAX_QUEUE_BYTES || waited > MAX_QUEUE_NS
    }

    /// Lets the open cue at the front go, lasting to the latest packet
    /// read (its stream's next cue starts anew).
    fn close_front_cue(&mut self) {
        let read_pts = self.read_pts;
        let Some(front) = self.queue.front_mut() else {
            return;
        };
        front.open = false;
        front.duration = read_pts
            .zip(front.packet.pts)
            .map(|(r, c)| r.saturating_sub(c))
            .filter(|&d| d > 0);
        let (seq, index) = (front.seq, front.index);
        if self.streams[index].open_cue == Some(seq) {
            self.streams[index].open_cue = None;
        }
    }

    /// At the end: the open cues last to the end of the last picture.
    fn close_cues_at_end(&mut self) {
        let pictures_end = self
            .streams
            .iter()
            .filter(|s| !s.is_text())
            .filter_map(|s| s.end())
            .max();
        for q in self.queue.iter_mut().filter(|q| q.open) {
            q.open = false;
            q.duration = pictures_end
                .zip(q.packet.pts)
                .and_then(|(end, pts)| end.checked_sub(pts))
                .filter(|&d| d > 0);
        }
        for s in &mut self.streams {
            s.open_cue = None;
        }
    }

    /// Hands `packet` (of stream `index`) to C.
    fn emit(
        &mut self,
        index: usize,
        packet: &Packet<SharedBytes>,
        duration: Option<u64>,
        out: &mut CctvPacket,
    ) {
        self.out.clear();
        for part in &packet.parts {
            self.out.extend_from_slice(part.bytes());
        }
        *out = CctvPacket {
            stream: u32::try_from(index).unwrap_or(u32::MAX),
            key: c_int::from(packet.key),
            discont: c_int::from(packet.discont),
            pts_us: ns_to_us(packet.pts),
            dts_us: ns_to_us(packet.dts.or(packet.pts)),
            duration_us: ns_to_us(duration),
            data: self.out.as_ptr(),
            len: self.out.len(),
        };
    }

    /// After a seek: nothing queued or noted from before it.
    fn restart(&mut self) {
        self.pending.clear();
        self.queue.clear();
        self.queue_bytes = 0;
        self.read_pts = None;
        self.ended = false;
        for s in &mut self.streams {
            s.open_cue = None;
            s.last_pts = None;
            s.last_len = None;
        }
    }
}

/// Runs `f`, turning a panic into `fallback`.
fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// The handle behind `h`, if any.
///
/// # Safety
/// `h` is null or a pointer from [`cctv_open`]/[`cctv_open_rf1`] that was
/// not closed, used by one thread at a time.
unsafe fn handle<'a>(h: *mut CctvHandle) -> Option<&'a mut CctvHandle> {
    // SAFETY: per this function's contract, a non-null `h` is a live,
    // exclusively used Box<CctvHandle> allocation.
    unsafe { h.as_mut() }
}

/// What the first bytes of an input are: one of the `CCTV_PROBE_*` values.
///
/// # Safety
/// `data` points to `len` readable bytes (or `len` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_probe(data: *const u8, len: usize) -> c_int {
    if data.is_null() || len == 0 {
        return CCTV_PROBE_NONE;
    }
    // SAFETY: the caller gives `len` readable bytes at `data` (checked not
    // null above), alive for this call.
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    guard(CCTV_PROBE_NONE, || probe_bytes(bytes))
}

fn probe_bytes(bytes: &[u8]) -> c_int {
    if probe::says(bytes).is_some() {
        return CCTV_PROBE_SAYS;
    }
    match probe::pavs(bytes) {
        Some(Certainty::Certain) => CCTV_PROBE_PAVS,
        Some(Certainty::Likely) => CCTV_PROBE_PAVS_LIKELY,
        None => CCTV_PROBE_NONE,
    }
}

/// Opens a PAVS or SAYS recording (chosen by probing `peek`, the first
/// bytes) read through `read`. `size` < 0: unknown. `seekable` = 0: the
/// input is read once, in order (no seeking). Returns null when it is not
/// a recording or no stream was found.
///
/// # Safety
/// `peek` points to `peek_len` readable bytes; `read` is safe to call with
/// `opaque` until [`cctv_close`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_open(
    peek: *const u8,
    peek_len: usize,
    size: i64,
    seekable: c_int,
    read: CctvReadFn,
    opaque: *mut c_void,
) -> *mut CctvHandle {
    let Some(read) = read else {
        return std::ptr::null_mut();
    };
    // SAFETY: same contract as `cctv_probe`.
    let kind = unsafe { cctv_probe(peek, peek_len) };
    guard(std::ptr::null_mut(), || {
        let src = CallbackSource {
            read,
            opaque,
            size: u64::try_from(size).ok(),
        };
        let seekable = seekable != 0;
        // The elements' defaults: a subtitle stream per camera with the
        // capture time (and speed, position), no telemetry JSON (no
        // player reads it; shown as text it was unreadable).
        let input = match kind {
            CCTV_PROBE_SAYS => {
                Input::bytes(Says::with_options(SaysOptions::default()), src, seekable)
            }
            CCTV_PROBE_PAVS | CCTV_PROBE_PAVS_LIKELY => Input::bytes(
                Pavs::new(PavsOptions {
                    max_gap: Some(MAX_GAP_NS),
                    ..PavsOptions::default()
                }),
                src,
                seekable,
            ),
            _ => return std::ptr::null_mut(),
        };
        finish_open(input)
    })
}

fn finish_open(input: Input) -> *mut CctvHandle {
    let mut h = CctvHandle::new(input);
    if h.discover().is_err() || h.streams.is_empty() {
        return std::ptr::null_mut();
    }
    Box::into_raw(Box::new(h))
}

/// Opens an rf1 recording: a `.rf1i`/`.rf1p` track file (its segment), a
/// segment base or a camera directory. Null when it cannot be played.
///
/// # Safety
/// `path` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_open_rf1(path: *const c_char) -> *mut CctvHandle {
    if path.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: the caller gives a NUL-terminated string alive for the call.
    let path = unsafe { CStr::from_ptr(path) };
    guard(std::ptr::null_mut(), || {
        let Ok(path) = path.to_str() else {
            return std::ptr::null_mut();
        };
        match Rf1Engine::open(Path::new(path), &[]) {
            Ok(mut engine) => {
                // VLC has no end-of-play stall with text (rf1src's reason
                // to keep it off): the capture time as for the others.
                engine.set_subtitles(true);
                engine.set_max_gap(Some(MAX_GAP_NS));
                finish_open(Input {
                    source: Box::new(engine),
                    feed: None,
                })
            }
            Err(_) => std::ptr::null_mut(),
        }
    })
}

/// Opens a camera of a case: a folder of `.psf`/`.nvr` recordings
/// (searched recursively), its files in capture order as one stream.
/// `camera` is a number, name or id, or null for the case's first camera.
/// Null when it cannot be played.
///
/// # Safety
/// `path` is a NUL-terminated string; `camera` is null or one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_open_case(
    path: *const c_char,
    camera: *const c_char,
) -> *mut CctvHandle {
    if path.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: the caller gives NUL-terminated strings alive for the call.
    let path = unsafe { CStr::from_ptr(path) };
    let camera = (!camera.is_null()).then(|| unsafe { CStr::from_ptr(camera) });
    guard(std::ptr::null_mut(), || {
        let Ok(path) = path.to_str() else {
            return std::ptr::null_mut();
        };
        let options = crate::engine::camera_timeline::CaseOptions {
            camera: camera
                .and_then(|c| c.to_str().ok())
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from),
            ..Default::default()
        };
        match crate::engine::camera_timeline::open_case(Path::new(path), &options, |file| file) {
            Ok(opened) => finish_open(Input {
                source: Box::new(opened.timeline),
                feed: None,
            }),
            Err(_) => std::ptr::null_mut(),
        }
    })
}

/// Frees a handle (null is fine).
///
/// # Safety
/// `h` is null or an open handle; it is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_close(h: *mut CctvHandle) {
    if h.is_null() {
        return;
    }
    // SAFETY: `h` came from Box::into_raw in `finish_open` and is given up
    // by the caller.
    let boxed = unsafe { Box::from_raw(h) };
    guard((), move || drop(boxed));
}

/// Number of streams known so far.
///
/// # Safety
/// See [`handle`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_stream_count(h: *mut CctvHandle) -> usize {
    // SAFETY: see `handle`.
    unsafe { handle(h) }.map_or(0, |h| h.streams.len())
}

/// Stream `index`, or null. Valid until [`cctv_close`].
///
/// # Safety
/// See [`handle`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_stream_get(h: *mut CctvHandle, index: usize) -> *const CctvStream {
    // SAFETY: see `handle`.
    unsafe { handle(h) }
        .and_then(|h| h.streams.get(index))
        .map_or(std::ptr::null(), |s| &s.c as *const CctvStream)
}

/// The next packet into `*out`: 1, 0 at the end, -1 on a fatal error.
///
/// # Safety
/// See [`handle`]; `out` points to a writable [`CctvPacket`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_next(h: *mut CctvHandle, out: *mut CctvPacket) -> c_int {
    // SAFETY: see `handle`.
    let Some(h) = (unsafe { handle(h) }) else {
        return -1;
    };
    // SAFETY: the caller gives a writable packet struct, alive for the call.
    let Some(out) = (unsafe { out.as_mut() }) else {
        return -1;
    };
    let r = guard(-1, || h.next(out));
    if r < 0 {
        // A panic leaves the handle in an unknown state: no more packets.
        h.failed = true;
    }
    r
}

/// Restarts at `time_us` (µs from the start): every video stream at its own
/// key frame at or before it. Returns the earliest key frame time used (µs,
/// 0 from the start), or -1 when the input cannot seek.
///
/// # Safety
/// See [`handle`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_seek(h: *mut CctvHandle, time_us: i64) -> i64 {
    // SAFETY: see `handle`.
    let Some(h) = (unsafe { handle(h) }) else {
        return -1;
    };
    guard(-1, || {
        if h.failed || !h.input.source.can_seek() {
            return -1;
        }
        let target = u64::try_from(time_us.max(0))
            .unwrap_or(0)
            .saturating_mul(1000);
        match h.input.source.seek(target, None) {
            Ok(outcome) => {
                h.restart();
                ns_to_us(Some(outcome.key_pts.unwrap_or(0)))
            }
            Err(_) => -1,
        }
    })
}

/// Whether [`cctv_seek`] works (1) or not (0).
///
/// # Safety
/// See [`handle`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_can_seek(h: *mut CctvHandle) -> c_int {
    // SAFETY: see `handle`.
    unsafe { handle(h) }.map_or(0, |h| c_int::from(h.input.source.can_seek()))
}

/// Duration in µs (exact once read to the end, else predicted), -1 unknown.
///
/// # Safety
/// See [`handle`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_duration(h: *mut CctvHandle) -> i64 {
    // SAFETY: see `handle`.
    let Some(h) = (unsafe { handle(h) }) else {
        return -1;
    };
    guard(-1, || {
        if h.failed {
            return -1;
        }
        // Rounded up: a seek to the length VLC shows is at or past the
        // end (the one past-end rule), not a fraction of a µs before it.
        ns_to_us(h.input.source.duration().map(|ns| ns.div_ceil(1000) * 1000))
    })
}

/// Number of input meta entries (`date`, `device`, `title`, `format`,
/// `description`).
///
/// # Safety
/// See [`handle`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_meta_count(h: *mut CctvHandle) -> usize {
    // SAFETY: see `handle`.
    unsafe { handle(h) }.map_or(0, |h| h.meta.len())
}

/// Meta entry `index`: 1 with `*key`/`*value` set (valid until
/// [`cctv_close`]), 0 when there is none.
///
/// # Safety
/// See [`handle`]; `key` and `value` point to writable pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cctv_meta_get(
    h: *mut CctvHandle,
    index: usize,
    key: *mut *const c_char,
    value: *mut *const c_char,
) -> c_int {
    // SAFETY: see `handle`.
    let Some((k, v)) = (unsafe { handle(h) }).and_then(|h| h.meta.get(index)) else {
        return 0;
    };
    if key.is_null() || value.is_null() {
        return 0;
    }
    // SAFETY: both were checked not null; the caller gives writable
    // pointer slots, alive for the call.
    unsafe {
        *key = k.as_ptr();
        *value = v.as_ptr();
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date_text(0, None), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            date_text(1_630_479_601_454_448, None),
            "2021-09-01 07:00:01 UTC"
        );
        assert_eq!(
            date_text(1_700_000_000_000_000, Some(-240)),
            "2023-11-14 18:13:20 UTC-04:00"
        );
    }

    #[test]
    fn an_rf1_segment_offers_its_main_track_first() {
        // VLC plays the first video stream: the camera's `video`, not the
        // `lowres` copy whose name sorts first.
        use crate::formats::rf1::flags;
        use crate::formats::rf1::writer::{NaluData, Pts, TrackWriter};
        use crate::h264::Codec;
        let dir = std::env::temp_dir().join(format!("gst-cctv-capi-rf1-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("1700000000000");
        for (name, size) in [("lowres", (320, 180)), ("video", (640, 360))] {
            let mut w = TrackWriter::create(
                &base,
                name,
                Codec::H264,
                1_700_000_000_000_000,
                size,
                Default::default(),
            )
            .unwrap();
            let (sps, pps, idr) = (vec![0x67, 1, 2], vec![0x68, 3], vec![0x65, 4]);
            let nalus: Vec<NaluData> = vec![
                (&sps, flags::ESSENTIAL_META),
                (&pps, flags::ESSENTIAL_META),
                (&idr, flags::KEY),
            ];
            w.write_access_unit(Pts::Ns(0), &nalus).unwrap();
            w.close().unwrap();
        }
        let path = CString::new(base.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path; the handle is closed below.
        let h = unsafe { cctv_open_rf1(path.as_ptr()) };
        assert!(!h.is_null());
        let names: Vec<String> = (0..unsafe { cctv_stream_count(h) })
            .map(|i| {
                // SAFETY: an index below the count of an open handle; the
                // name is a NUL-terminated string owned by the handle.
                let s = unsafe { &*cctv_stream_get(h, i) };
                unsafe { CStr::from_ptr(s.name) }
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        // SAFETY: opened above, not used afterwards.
        unsafe { cctv_close(h) };
        let _ = std::fs::remove_dir_all(&dir);
        // Then the capture-time cue stream the module shows as subtitles.
        assert_eq!(names, ["video", "lowres", "subtitle"]);
    }

    #[test]
    fn an_rf1_pause_in_recording_is_compacted_and_past_the_end_plays_nothing() {
        // 2 s, a 60 s pause, 2 s: VLC shows 4 s (as the elements), and a
        // seek to the end plays nothing (one rule for every source).
        use crate::formats::rf1::writer::write_timing_segment;
        let dir = std::env::temp_dir().join(format!("gst-cctv-capi-gap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for start_ms in [1_700_000_000_000u64, 1_700_000_062_000] {
            write_timing_segment(&dir, start_ms, 20).unwrap();
        }
        let path = CString::new(dir.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path; the handle is closed below.
        let h = unsafe { cctv_open_rf1(path.as_ptr()) };
        assert!(!h.is_null());
        // SAFETY: an open handle, closed below.
        let duration_us = unsafe { cctv_duration(h) };
        let mut packet = CctvPacket {
            stream: 0,
            key: 0,
            discont: 0,
            pts_us: 0,
            dts_us: 0,
            duration_us: 0,
            data: std::ptr::null(),
            len: 0,
        };
        let mut pictures = Vec::new();
        // SAFETY: an open handle and a writable packet.
        while unsafe { cctv_next(h, &mut packet) } == 1 {
            if packet.stream == 0 {
                pictures.push(packet.pts_us);
            }
        }
        // SAFETY: as above.
        let key_us = unsafe { cctv_seek(h, duration_us) };
        // SAFETY: as above.
        let after_end = unsafe { cctv_next(h, &mut packet) };
        // SAFETY: opened above, not used afterwards.
        unsafe { cctv_close(h) };
        let _ = std::fs::remove_dir_all(&dir);
        assert!(duration_us.abs_diff(4_000_000) < 1_000, "{duration_us}");
        assert_eq!(pictures.len(), 40);
        // The second segment one frame step after the first (µs rounding).
        let step = pictures[19] - pictures[18];
        assert!(
            (pictures[20] - pictures[19]).abs_diff(step) <= 1,
            "{pictures:?}"
        );
        assert!(key_us >= 0);
        assert_eq!(after_end, 0, "nothing at or past the end");
    }

    #[test]
    fn random_bytes_are_not_probed() {
        let junk: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(probe_bytes(&junk), CCTV_PROBE_NONE);
    }
}
