// SPDX-License-Identifier: MIT
//! Rosco SAYS (`.nvr`) for the engine: H.264 per camera, mu-law or Opus
//! audio, JPEG snapshots and per-frame telemetry as JSON, all on the
//! recording's one chunk clock.
//!
//! Streams: video of camera N ([`StreamKind::Video`] N, `video_N`), audio
//! whose chunk id starts with digit N ([`StreamKind::Audio`] N, `audio_N`),
//! the per-frame telemetry of camera N ([`StreamKind::Data`] N, `meta_N`,
//! one compact JSON object per video chunk, only with
//! [`SaysOptions::telemetry`] and only while the front end wants the
//! stream), JPEG snapshots ([`StreamKind::Image`] 0, `image_0`, sparse)
//! and, with [`SaysOptions::subtitles`], the on-screen text of camera N
//! ([`StreamKind::Subtitle`] N, `subtitle_N`: capture time in the
//! recorder's time zone, speed and GPS position, cues as
//! [`subtitle::CueGate`] picks them).
//!
//! Whatever the options, a video packet whose chunk has a metadata list
//! carries its typed values ([`Packet::telemetry`]): parsed once, read by
//! the cues and by tools without a JSON round trip.
//!
//! Time: running time = chunk timestamp − base, where base is the smallest
//! chunk timestamp seen during discovery that another one lies near (a
//! lone time off the recording's clock is damage, not the base: it gets
//! 0), so every stream keeps the exact spacing of the chunk clock. Per
//! stream the running time never decreases (a chunk stamped earlier than
//! its predecessor gets the predecessor's time). Snapshots have no timestamp: they get the time of the chunk
//! before them. A chunk whose time is beyond what the engine can represent
//! is damage (the engine drops it) and leaves the timeline untouched.

use crate::engine::bytes::Chunk;
use crate::engine::demuxer::MAX_RUNNING_TIME;
use crate::engine::error::HeaderError;
use crate::engine::format::{
    Codec, Format, Packet, PacketSink, Parsed, Stamp, StreamId, StreamInfo, StreamKind, Tags,
    UnitData,
};
use crate::engine::subtitle;
use crate::engine::telemetry::Telemetry;
use crate::engine::timeline::DEFAULT_MAX_GAP_NS;
use crate::engine::zone::Zone;
use crate::formats::says::{
    self, ChunkContext, ChunkKind, ChunkParse, FileHeader, MetaEntry, MetaValue,
};
use crate::h264::{Codec as NalCodec, annexb_nal_units};
use std::ops::Range;

/// Chunk timestamps in this range (µs) are taken for Unix time.
const UNIX_US_MIN: u64 = 946_684_800_000_000; // 2000-01-01
const UNIX_US_MAX: u64 = 4_102_444_800_000_000; // 2100-01-01

/// Which streams besides video, audio and snapshots a SAYS input yields.
#[derive(Debug, Clone, PartialEq)]
pub struct SaysOptions {
    /// Per-frame telemetry as JSON (`meta_N`), for applications.
    pub telemetry: bool,
    /// Subtitle cues per camera (`subtitle_N`), for players and muxers.
    pub subtitles: bool,
    /// The zone cue times are shown in (default: the recorder's, from the
    /// file header).
    /// How far the recorder's clock was ahead of true time (ns): cues
    /// show the corrected time.
    pub clock_offset_ns: i64,
    pub timezone: Option<Zone>,
    /// A forward jump of the chunk clock longer than this (ns) is compacted
    /// to one frame of running time; `None` keeps real time.
    pub max_gap: Option<u64>,
}

impl Default for SaysOptions {
    /// What a player wants: subtitles, no telemetry JSON (no player
    /// decodes it).
    fn default() -> Self {
        Self {
            telemetry: false,
            subtitles: true,
            timezone: None,
            clock_offset_ns: 0,
            max_gap: Some(DEFAULT_MAX_GAP_NS),
        }
    }
}

/// The schema name of the telemetry JSON.
pub const TELEMETRY_SCHEMA: &str = "says-telemetry";

/// Per-frame metadata of a video chunk.
#[derive(Debug, Clone)]
struct FrameMeta {
    /// The whole list, kept only with [`SaysOptions::telemetry`]: the
    /// `meta_N` JSON is made from it, and only for a stream someone wants.
    entries: Option<Vec<MetaEntry>>,
    unix_ms: Option<i64>,
    /// What the video packet carries (and its cue shows).
    telemetry: Telemetry,
    /// The list stopped early (unknown type, bad length).
    incomplete: bool,
}

/// One SAYS chunk, as the engine sees it.
#[derive(Debug)]
pub struct SaysUnit {
    kind: ChunkKind,
    camera: u8,
    timestamp_us: Option<u64>,
    /// Media bytes relative to the chunk start.
    payload: Range<usize>,
    /// Video: the substream digit says key AND the first picture is an IDR.
    key: bool,
    meta: Option<Box<FrameMeta>>,
    /// Audio duration from the payload (mu-law length, Opus TOC).
    duration_ns: Option<u64>,
    /// Opus: channels from the TOC stereo flag.
    opus_channels: Option<u32>,
    /// Key video: the in-band SPS and PPS (Annex-B), for a decoder config.
    parameter_sets: Option<std::sync::Arc<[u8]>>,
}

/// The SPS and PPS NAL units of an access unit, with start codes.
fn parameter_sets_of(annexb: &[u8]) -> Option<std::sync::Arc<[u8]>> {
    let mut out = Vec::new();
    for nal in annexb_nal_units(annexb) {
        if nal.first().is_some_and(|h| matches!(h & 0x1f, 7 | 8)) {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
    }
    (!out.is_empty()).then(|| std::sync::Arc::from(out))
}

impl SaysUnit {
    fn stream(&self) -> StreamId {
        let camera = u32::from(self.camera);
        match self.kind {
            ChunkKind::VideoKey | ChunkKind::VideoDelta => StreamId::new(StreamKind::Video, camera),
            ChunkKind::AudioMulaw | ChunkKind::AudioOpus => {
                StreamId::new(StreamKind::Audio, camera)
            }
            ChunkKind::Jpeg => IMAGE,
        }
    }

    fn meta_stream(&self) -> StreamId {
        StreamId::new(StreamKind::Data, u32::from(self.camera))
    }

    /// Wall-clock time of a timed chunk (ns): its `ts` metadata when that is
    /// a representable time, else the chunk time when it looks like Unix
    /// time.
    fn unix_ns(&self, ts_us: u64) -> Option<u64> {
        self.meta
            .as_ref()
            .and_then(|m| m.unix_ms)
            .and_then(unix_ns_of_ms)
            .or_else(|| unix_ns_of_chunk(ts_us))
    }
}

/// The snapshot stream.
const IMAGE: StreamId = StreamId::new(StreamKind::Image, 0);

/// One frame of running time in place of a compacted gap, until a step
/// between chunks is known.
const DEFAULT_FRAME_NS: u64 = 40_000_000;
/// Steps between chunks longer than this are not a frame's.
const MAX_STEP_NS: u64 = 1_000_000_000;

/// Timeline state: the base and what each stream last got. A small vector:
/// cloned into seek-index snapshots.
#[derive(Debug, Clone, Default)]
pub struct SaysTimeline {
    base_us: u64,
    /// Gap compaction (see [`SaysOptions::max_gap`]): jumps longer than
    /// `max_gap` so far take `shift` off every later time; `high` is the
    /// latest uncompacted time seen, `step` the last forward step (ns).
    max_gap: Option<u64>,
    shift: u64,
    high: Option<u64>,
    step: Option<u64>,
    /// Last running time per stream (ns), for the never-decreasing clamp.
    last: Vec<(StreamId, u64)>,
    /// Running time and Unix time (ns) of the last timed chunk, for snapshots.
    last_chunk_ns: Option<u64>,
    last_chunk_unix_ns: Option<u64>,
}

impl SaysTimeline {
    /// The running time of a chunk at uncompacted time `raw` (ns): a jump
    /// past everything seen by more than `max_gap` becomes one frame step.
    fn compact(&mut self, raw: u64) -> u64 {
        let Some(gap) = self.max_gap else {
            return raw;
        };
        if let Some(high) = self.high {
            if raw > high.saturating_add(gap) {
                let frame = self.step.unwrap_or(DEFAULT_FRAME_NS);
                self.shift = self
                    .shift
                    .saturating_add(raw - high - frame.min(raw - high));
            } else if raw > high && raw - high <= MAX_STEP_NS {
                self.step = Some(raw - high);
            }
        }
        self.high = Some(self.high.map_or(raw, |h| h.max(raw)));
        raw.saturating_sub(self.shift)
    }

    fn last(&self, id: StreamId) -> Option<u64> {
        self.last.iter().find(|(s, _)| *s == id).map(|(_, t)| *t)
    }

    fn set_last(&mut self, id: StreamId, pts: u64) {
        match self.last.iter_mut().find(|(s, _)| *s == id) {
            Some(slot) => slot.1 = pts,
            None => self.last.push((id, pts)),
        }
    }
}

/// What is known about a stream from the units seen.
#[derive(Debug, Clone, Default)]
struct Notes {
    opus_channels: Option<u32>,
    /// The first key frame's SPS and PPS.
    codec_config: Option<std::sync::Arc<[u8]>>,
}

pub struct Says {
    options: SaysOptions,
    header: Option<FileHeader>,
    ctx: ChunkContext,
    timeline: SaysTimeline,
    streams: Vec<(StreamId, Notes)>,
    /// The first frame's telemetry that has a GPS fix (global tags).
    first_fix: Option<Telemetry>,
    /// Streams whose next packet is discontinuous.
    pending_discont: Vec<StreamId>,
    chunks: u64,
    incomplete_meta: u64,
    /// Header problems worth a line in the summary.
    header_notes: Vec<String>,
    /// Per subtitle stream: which frames get a cue.
    cue_gates: subtitle::CueGates,
}

impl Default for Says {
    fn default() -> Self {
        Self::new()
    }
}

impl Says {
    /// Every stream as data: telemetry JSON, no subtitles (tools and tests
    /// that read the telemetry).
    pub fn new() -> Self {
        Self::with_options(SaysOptions {
            telemetry: true,
            subtitles: false,
            timezone: None,
            clock_offset_ns: 0,
            max_gap: None,
        })
    }

    pub fn with_options(options: SaysOptions) -> Self {
        Self {
            options,
            header: None,
            ctx: ChunkContext::default(),
            timeline: SaysTimeline::default(),
            streams: Vec::new(),
            first_fix: None,
            pending_discont: Vec::new(),
            chunks: 0,
            incomplete_meta: 0,
            header_notes: Vec::new(),
            cue_gates: subtitle::CueGates::default(),
        }
    }

    /// The file header, once parsed.
    pub fn header(&self) -> Option<&FileHeader> {
        self.header.as_ref()
    }

    fn notes(&self, id: StreamId) -> Option<&Notes> {
        self.streams.iter().find(|(s, _)| *s == id).map(|(_, n)| n)
    }

    fn notes_mut(&mut self, id: StreamId) -> &mut Notes {
        let i = match self.streams.iter().position(|(s, _)| *s == id) {
            Some(i) => i,
            None => {
                self.streams.push((id, Notes::default()));
                self.streams.len() - 1
            }
        };
        &mut self.streams[i].1
    }

    fn header_get(&self, name: &str) -> Option<&MetaValue> {
        self.header.as_ref()?.get(name)
    }

    /// A value inside a nested header entry, e.g. `camera0.width`.
    fn header_nested(&self, entry: &str, name: &str) -> Option<&MetaValue> {
        says::find(self.header_get(entry)?.as_nested()?, name)
    }

    /// A header string fit for a tag (see [`tag_text`]).
    fn header_str(&self, name: &str) -> Option<&str> {
        tag_text(self.header_get(name)?.as_str()?)
    }

    /// The whole header as one JSON object: `fileName` plus every metadata
    /// entry (nested entries as nested objects).
    pub fn header_json(&self) -> Option<String> {
        let header = self.header.as_ref()?;
        let mut entries = vec![MetaEntry::new(
            "fileName",
            MetaValue::Str(header.file_name.clone()),
        )];
        entries.extend(header.metadata.entries.iter().cloned());
        Some(says::metadata_to_json(&entries))
    }

    /// The recorder's time zone (minutes east of UTC), when plausible.
    fn utc_offset_min(&self) -> Option<i32> {
        self.header_get("timeZone")
            .and_then(MetaValue::as_i64)
            .filter(|m| m.abs() <= 16 * 60)
            .and_then(|m| i32::try_from(m).ok())
    }

    /// The on-screen text of a video frame: capture time, speed, position.
    fn cue_text(&self, wallclock_ns: Option<u64>, meta: Option<&FrameMeta>) -> String {
        subtitle::cue_text(
            wallclock_ns,
            self.options.timezone.as_ref(),
            self.options.clock_offset_ns,
            self.utc_offset_min(),
            meta.map(|m| &m.telemetry),
        )
    }

    /// Tags every stream carries.
    fn common_tags(&self) -> Tags {
        let start_ms = self.header_get("startTime").and_then(MetaValue::as_i64);
        Tags {
            container_format: Some("Rosco SAYS"),
            device_manufacturer: Some("Rosco".into()),
            device_model: self.header_str("model").map(str::to_string),
            device_serial: self
                .header_str("serial")
                .or_else(|| self.header_str("vehicle"))
                .map(str::to_string),
            start_unix_us: start_ms.and_then(|ms| ms.checked_mul(1000)),
            // Recording start in the recorder's time zone (minutes).
            start_utc_offset_min: self.utc_offset_min(),
            encoder: self
                .header_str("appVersion")
                .map(|v| format!("Rosco firmware {v}")),
            application: self.header_str("appVersion").map(str::to_string),
            ..Tags::default()
        }
    }

    fn mark_discont_all(&mut self) {
        self.pending_discont = self.streams.iter().map(|(s, _)| *s).collect();
        if !self.pending_discont.contains(&IMAGE) {
            self.pending_discont.push(IMAGE);
        }
    }

    /// Whether this frame gets a cue on `sub` (see [`subtitle::CueGate`]):
    /// a pending discontinuity of the cue or its camera always does.
    fn cue_due(&mut self, sub: StreamId, wallclock_ns: Option<u64>, pts: Option<u64>) -> bool {
        let camera = StreamId::new(StreamKind::Video, sub.number);
        let discont = self.pending_discont.contains(&sub) || self.pending_discont.contains(&camera);
        self.cue_gates.due(sub, wallclock_ns, pts, discont)
    }

    fn take_discont(&mut self, id: StreamId) -> bool {
        match self.pending_discont.iter().position(|&s| s == id) {
            Some(i) => {
                self.pending_discont.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

/// The base of the running time: the smallest chunk time of discovery
/// that another one lies within [`says::NEIGHBOUR_TIME_US`] of (the
/// recording's clock); the smallest of all when none does. A chunk stamped
/// off that clock (damage that left its header sane, e.g. 11 384 µs among
/// Unix times) was the base, and every chunk on the clock then ran at its
/// Unix time (about 1.7e18 ns) instead of from about 0. Such a chunk gets
/// time 0 now. The chunks of a clock jump (a GPS fix) keep the earlier
/// side as the base: there are many of them on each side.
fn timeline_base(times: &mut [u64]) -> u64 {
    times.sort_unstable();
    let near = |pair: &[u64]| pair[1] - pair[0] <= says::NEIGHBOUR_TIME_US;
    times
        .windows(2)
        .find(|pair| near(pair))
        .map_or_else(|| times.first().copied().unwrap_or(0), |pair| pair[0])
}

/// A header string as tag text: tag strings end at a NUL, so the text is
/// cut at the first one; `None` when nothing is left.
fn tag_text(text: &str) -> Option<&str> {
    let cut = text.split('\0').next().unwrap_or_default();
    Some(cut).filter(|s| !s.is_empty())
}

fn unix_ns_of_chunk(ts_us: u64) -> Option<u64> {
    (UNIX_US_MIN..UNIX_US_MAX)
        .contains(&ts_us)
        .then(|| ts_us * 1000)
}

/// `ts` metadata (Unix ms) in ns; `None` when negative or beyond the times
/// the engine hands on.
fn unix_ns_of_ms(ms: i64) -> Option<u64> {
    u64::try_from(ms)
        .ok()?
        .checked_mul(1_000_000)
        .filter(|&ns| ns <= MAX_RUNNING_TIME)
}

/// A video chunk's metadata list: its typed values, and the list itself
/// when `keep_entries` (telemetry JSON wanted).
fn frame_meta(entries_bytes: &[u8], keep_entries: bool) -> FrameMeta {
    let list = says::parse_metadata(entries_bytes);
    let values = says::Telemetry::from_metadata(&list.entries);
    let finite = |v: Option<&MetaValue>| v.and_then(MetaValue::as_f64).filter(|v| v.is_finite());
    let gps = says::find(&list.entries, "gps").and_then(MetaValue::as_nested);
    let in_gps = |name: &str| finite(gps.and_then(|g| says::find(g, name)));
    let fix = match (values.latitude, values.longitude) {
        (Some(lat), Some(lon)) if gps.is_some() => Some((lat, lon)),
        _ => None,
    };
    let g = says::find(&list.entries, "gsensor").and_then(MetaValue::as_nested);
    let axis = |name: &str| finite(g.and_then(|g| says::find(g, name)));
    let telemetry = Telemetry {
        speed_kmh: values.speed,
        fix,
        altitude_m: in_gps("alt"),
        heading_deg: in_gps("heading"),
        voltage: finite(says::find(&list.entries, "voltage")),
        acceleration_g: match (axis("x"), axis("y"), axis("z")) {
            (Some(x), Some(y), Some(z)) => Some((x, y, z)),
            _ => None,
        },
    };
    FrameMeta {
        unix_ms: values.unix_ms,
        telemetry,
        incomplete: list.issue.is_some(),
        entries: keep_entries.then_some(list.entries),
    }
}

/// Whether a key-labelled access unit really starts with an IDR picture:
/// the first slice NAL decides.
fn first_picture_is_idr(annexb: &[u8]) -> bool {
    annexb_nal_units(annexb)
        .filter_map(|nal| NalCodec::H264.nal_type(nal))
        .find(|t| (1..=5).contains(t))
        == Some(5)
}

/// Opus packet duration from its TOC byte (RFC 6716 §3.1), ns, and channels.
fn opus_toc(packet: &[u8]) -> (Option<u64>, Option<u32>) {
    let Some(&toc) = packet.first() else {
        return (None, None);
    };
    let config = toc >> 3;
    let frame_us: u64 = match config {
        0..=11 => [10_000, 20_000, 40_000, 60_000][usize::from(config % 4)],
        12..=15 => [10_000, 20_000][usize::from(config % 2)],
        _ => [2_500, 5_000, 10_000, 20_000][usize::from(config % 4)],
    };
    let frames = match toc & 3 {
        0 => Some(1),
        1 | 2 => Some(2),
        _ => packet.get(1).map(|b| u64::from(b & 0x3f)),
    };
    let channels = if toc & 4 != 0 { 2 } else { 1 };
    (
        frames.filter(|&f| f > 0).map(|f| f * frame_us * 1000),
        Some(channels),
    )
}

impl Format for Says {
    type Unit = SaysUnit;
    type Timeline = SaysTimeline;

    fn name(&self) -> &'static str {
        "Rosco SAYS (.nvr)"
    }

    fn file_header_len(&self) -> usize {
        says::FILE_HEADER_LEN
    }

    fn parse_file_header(&mut self, data: &[u8]) -> Result<(), HeaderError> {
        const MAGIC: &str = "SAYS";
        if !says::probe(data) {
            return Err(HeaderError::Implausible { magic: MAGIC });
        }
        let header = says::parse_file_header(data).map_err(|e| match e {
            // The probe saw the magic: not reached.
            says::Error::BadMagic => HeaderError::Implausible { magic: MAGIC },
            says::Error::Truncated { needed } => HeaderError::Truncated {
                magic: MAGIC,
                needed,
            },
            says::Error::BadMetadataLength(len) => {
                HeaderError::MetadataTooLong { magic: MAGIC, len }
            }
        })?;
        if let Some(issue) = &header.metadata.issue {
            self.header_notes
                .push(format!("header metadata incomplete: {issue}"));
        }
        for unknown in &header.metadata.unknown {
            self.header_notes.push(format!(
                "header entry {:?} of unknown type {:#04x} stepped over",
                unknown.name, unknown.type_code
            ));
        }
        self.ctx = ChunkContext::from_header(&header);
        self.header = Some(header);
        Ok(())
    }

    fn max_unit_len(&self) -> usize {
        says::MAX_CHUNK_LEN
    }

    fn parse_unit(&self, data: &[u8], at_eof: bool) -> Parsed<SaysUnit> {
        if data.first() == Some(&0) {
            // Zero padding (pre-allocated files, filler after chunks): no
            // chunk starts with a zero byte.
            let zeros = data.iter().take_while(|&&b| b == 0).count();
            return Parsed::Skip(zeros);
        }
        let chunk = match says::parse_chunk_checked(data, &self.ctx, at_eof) {
            ChunkParse::Chunk(chunk) => chunk,
            ChunkParse::NeedMore(n) => return Parsed::NeedMore(n),
            ChunkParse::Invalid => return Parsed::Invalid,
        };
        // The parser keeps its ranges inside `data`; a range that is not is
        // damage all the same.
        let Some(payload) = data.get(chunk.payload.clone()) else {
            return Parsed::Invalid;
        };
        let key = chunk.kind == ChunkKind::VideoKey && first_picture_is_idr(payload);
        let meta = match &chunk.metadata {
            Some(range) => match data.get(range.clone()) {
                Some(bytes) => Some(Box::new(frame_meta(bytes, self.options.telemetry))),
                None => return Parsed::Invalid,
            },
            None => None,
        };
        let (duration_ns, opus_channels) = match chunk.kind {
            // 8 kHz mono G.711: one byte per sample.
            ChunkKind::AudioMulaw => ((payload.len() as u64).checked_mul(125_000), None),
            ChunkKind::AudioOpus => opus_toc(payload),
            _ => (None, None),
        };
        Parsed::Unit(
            SaysUnit {
                kind: chunk.kind,
                camera: chunk.stream.unwrap_or(0),
                timestamp_us: chunk.timestamp_us,
                payload: chunk.payload,
                key,
                meta,
                duration_ns,
                opus_channels,
                parameter_sets: if key {
                    parameter_sets_of(payload)
                } else {
                    None
                },
            },
            chunk.len,
        )
    }

    fn find_resync(&self, data: &[u8]) -> Option<usize> {
        says::find_resync(data.get(1..)?).map(|k| k + 1)
    }

    fn resync_margin(&self) -> usize {
        // says::find_resync leaves the last RESYNC_KEEP bytes unexamined,
        // and a window's first byte is skipped: RESYNC_KEEP + 1 would do.
        // 15 keeps the scan's windows where they always were, and so which
        // candidates are judged on the part of their header a window has.
        15
    }

    fn is_seek_point(&self, unit: &SaysUnit) -> bool {
        unit.key
    }

    fn is_untimed(&self, unit: &SaysUnit) -> bool {
        unit.timestamp_us.is_none()
    }

    fn timing_stream(&self, unit: &SaysUnit) -> Option<StreamId> {
        Some(unit.stream())
    }

    fn unit_duration(&self, unit: &SaysUnit) -> Option<u64> {
        unit.duration_ns
    }

    fn capture_time_ns(&self, unit: &SaysUnit) -> Option<u64> {
        unit.timestamp_us.and_then(|ts| unit.unix_ns(ts))
    }

    fn stream_of(&self, unit: &SaysUnit) -> Option<StreamId> {
        Some(unit.stream())
    }

    fn note(&mut self, unit: &SaysUnit) {
        let notes = self.notes_mut(unit.stream());
        if notes.opus_channels.is_none() {
            notes.opus_channels = unit.opus_channels;
        }
        if notes.codec_config.is_none() {
            notes.codec_config = unit.parameter_sets.clone();
        }
        if let Some(meta) = unit.meta.as_ref().filter(|m| m.telemetry.fix.is_some()) {
            self.first_fix.get_or_insert(meta.telemetry);
        }
        // The streams a unit adds besides its own exist once noted.
        for id in self.streams_of(unit).into_iter().skip(1) {
            self.notes_mut(id);
        }
    }

    fn streams_of(&self, unit: &SaysUnit) -> Vec<StreamId> {
        let mut ids = vec![unit.stream()];
        if self.options.subtitles && unit.kind.is_video() {
            ids.push(subtitle::stream_for(unit.stream()));
        }
        if self.options.telemetry && unit.meta.is_some() {
            ids.push(unit.meta_stream());
        }
        ids
    }

    fn stream_info(&self, id: StreamId) -> Option<StreamInfo> {
        let notes = self.notes(id)?;
        let mut tags = self.common_tags();
        let mut info = StreamInfo {
            id,
            name: String::new(),
            codec: Codec::Jpeg,
            width: None,
            height: None,
            pixel_aspect: None,
            framerate: None,
            sparse: false,
            codec_config: notes.codec_config.clone(),
            tags: Tags::default(),
        };
        match id.kind {
            StreamKind::Video => {
                let camera = format!("camera{}", id.number);
                let dim = |name: &str| {
                    self.header_nested(&camera, name)
                        .and_then(MetaValue::as_i64)
                        .filter(|v| (16..=16384).contains(v))
                        .and_then(|v| u32::try_from(v).ok())
                };
                if let (Some(w), Some(h)) = (dim("width"), dim("height")) {
                    info.width = Some(w);
                    info.height = Some(h);
                }
                info.framerate = self
                    .header_nested(&camera, "fps")
                    .and_then(MetaValue::as_i64)
                    .filter(|v| (1..=240).contains(v))
                    .and_then(|v| u32::try_from(v).ok())
                    .map(|fps| (fps, 1));
                info.codec = Codec::H264 {
                    profile: None,
                    level: None,
                };
                info.name = format!("video_{}", id.number);
                tags.video_codec = Some("H.264");
                tags.title = self
                    .header_nested(&camera, "name")
                    .and_then(MetaValue::as_str)
                    .and_then(tag_text)
                    .map(str::to_string);
            }
            StreamKind::Audio => {
                let header_channels = self
                    .header_nested("audio", "channels")
                    .and_then(MetaValue::as_i64)
                    .filter(|c| (1..=2).contains(c))
                    .and_then(|c| u32::try_from(c).ok());
                let opus = notes.opus_channels.is_some()
                    || self
                        .header_nested("audio", "codec")
                        .and_then(MetaValue::as_str)
                        .is_some_and(|c| c.to_ascii_lowercase().contains("opus"));
                if opus {
                    tags.audio_codec = Some("Opus");
                    info.codec = Codec::Opus {
                        rate: 48000,
                        channels: notes.opus_channels.or(header_channels).unwrap_or(1),
                    };
                } else {
                    tags.audio_codec = Some("G.711 mu-law");
                    info.codec = Codec::Mulaw {
                        rate: 8000,
                        channels: 1,
                    };
                }
                info.name = format!("audio_{}", id.number);
            }
            StreamKind::Data => {
                info.codec = Codec::Json {
                    schema: TELEMETRY_SCHEMA,
                };
                info.name = format!("meta_{}", id.number);
            }
            StreamKind::Image => {
                info.codec = Codec::Jpeg;
                info.sparse = true;
                info.name = format!("image_{}", id.number);
            }
            StreamKind::Subtitle => {
                let camera = self
                    .header_nested(&format!("camera{}", id.number), "name")
                    .and_then(MetaValue::as_str)
                    .and_then(tag_text)
                    .map_or_else(|| format!("camera {}", id.number), |n| n.to_string());
                return Some(subtitle::stream_info(
                    id,
                    format!("subtitle_{}", id.number),
                    format!("{camera}: capture time, speed, GPS"),
                    tags,
                ));
            }
        }
        info.tags = tags;
        Some(info)
    }

    fn start_timeline(&mut self, first_units: &[&SaysUnit]) {
        let mut times: Vec<u64> = first_units.iter().filter_map(|u| u.timestamp_us).collect();
        let base = timeline_base(&mut times);
        self.timeline = SaysTimeline {
            base_us: base,
            max_gap: self.options.max_gap.filter(|&g| g > 0),
            ..Default::default()
        };
        self.mark_discont_all();
    }

    fn timeline(&self) -> SaysTimeline {
        self.timeline.clone()
    }

    fn set_timeline(&mut self, timeline: SaysTimeline) {
        self.timeline = timeline;
        self.mark_discont_all();
    }

    fn assign_time(&mut self, unit: &SaysUnit) -> Option<Stamp> {
        let id = unit.stream();
        let t = &mut self.timeline;
        let raw = match unit.timestamp_us {
            Some(ts) => ts.saturating_sub(t.base_us).saturating_mul(1000),
            None => t.last_chunk_ns.unwrap_or(0),
        };
        if raw > MAX_RUNNING_TIME {
            // Damage: the engine drops the chunk; the timeline stays as it
            // was so that the chunks after it keep their times.
            return Some(Stamp::at(raw));
        }
        let raw = match unit.timestamp_us {
            Some(_) => t.compact(raw),
            None => raw,
        };
        let pts = t.last(id).map_or(raw, |last| raw.max(last));
        t.set_last(id, pts);
        if let Some(ts) = unit.timestamp_us {
            t.last_chunk_ns = Some(pts);
            t.last_chunk_unix_ns = unit.unix_ns(ts);
        }
        // The chunk clock's jumps are not flagged: streams keep its spacing
        // (a compacted gap shortens it, as a player would skip it).
        Some(Stamp::at(pts))
    }

    fn predict(&self, after: &SaysTimeline, unit: &SaysUnit) -> Option<(u64, SaysTimeline)> {
        let ts = unit.timestamp_us?;
        let raw = ts.checked_sub(after.base_us)?.checked_mul(1000)?;
        // Beyond the compaction limit from what `after` knows: a gap may
        // lie in between, which would move this unit; not predictable.
        if let (Some(gap), Some(high)) = (after.max_gap, after.high)
            && raw > high.saturating_add(gap)
        {
            return None;
        }
        let before = SaysTimeline {
            base_us: after.base_us,
            max_gap: after.max_gap,
            shift: after.shift,
            high: after.high,
            step: after.step,
            ..Default::default()
        };
        Some((raw.saturating_sub(after.shift), before))
    }

    fn packets<C: Chunk>(
        &mut self,
        unit: SaysUnit,
        pts: Option<u64>,
        data: &UnitData<C>,
        discont: bool,
        out: &mut PacketSink<'_, C>,
    ) {
        self.chunks += 1;
        if discont {
            self.mark_discont_all();
        }
        let id = unit.stream();
        let Some(payload) = data.part(unit.payload.clone()) else {
            return;
        };
        let wallclock_ns = match unit.timestamp_us {
            Some(ts) => unit.unix_ns(ts),
            None => self.timeline.last_chunk_unix_ns,
        };
        let sub = subtitle::stream_for(id);
        if self.options.subtitles
            && unit.kind.is_video()
            && out.wants(sub)
            && self.cue_due(sub, wallclock_ns, pts)
        {
            let mut cue = subtitle::cue(
                sub,
                pts,
                wallclock_ns,
                self.cue_text(wallclock_ns, unit.meta.as_deref()),
            );
            cue.discont = self.take_discont(sub);
            out.push(cue);
        }
        out.push(Packet {
            stream: id,
            pts,
            dts: pts,
            duration: unit.duration_ns,
            key: !unit.kind.is_video() || unit.key,
            discont: self.take_discont(id),
            wallclock_ns,
            parts: vec![payload],
            origin: None,
            telemetry: unit.meta.as_ref().map(|m| Box::new(m.telemetry)),
        });

        if unit.meta.as_ref().is_some_and(|m| m.incomplete) {
            self.incomplete_meta += 1;
        }
        // The JSON only for a telemetry stream someone takes (a linked
        // `meta_N` pad): the values are on the video packet anyway.
        let meta_id = unit.meta_stream();
        if let Some(entries) = unit.meta.and_then(|m| m.entries)
            && out.wants(meta_id)
        {
            out.push(Packet {
                stream: meta_id,
                pts,
                dts: pts,
                duration: None,
                key: true,
                discont: self.take_discont(meta_id),
                wallclock_ns,
                parts: vec![crate::engine::format::Part::Owned(
                    says::metadata_to_json(&entries).into_bytes(),
                )],
                origin: None,
                telemetry: None,
            });
        }
    }

    fn global_tags(&self) -> Option<Tags> {
        let header = self.header.as_ref()?;
        let mut tags = self.common_tags();
        let mut comment = format!("Rosco SAYS recording {}", header.file_name);
        for (key, label) in [("vehicle", "vehicle"), ("serial", "serial")] {
            if let Some(v) = self.header_str(key) {
                comment.push_str(&format!(", {label} {v}"));
            }
        }
        tags.comment = Some(comment);
        if let Some(json) = self.header_json() {
            tags.extended.push(format!("says-header={json}"));
        }
        if let Some(t) = self.first_fix
            && let Some((lat, lon)) = t.fix
        {
            tags.location = Some((lat, lon, t.altitude_m));
            tags.heading = t.heading_deg;
            tags.speed_mps = t.speed_kmh.map(|kmh| kmh / 3.6);
        }
        Some(tags)
    }

    fn summary(&self) -> Option<String> {
        let mut s = format!(
            "{} chunks in {} stream(s), {} with incomplete metadata",
            self.chunks,
            self.streams.len(),
            self.incomplete_meta
        );
        for note in &self.header_notes {
            s.push_str("; ");
            s.push_str(note);
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Demuxer, Event, MemorySource, NoSource, SharedBytes};
    use crate::formats::says::writer::{AudioCodec, HeaderSpec, SaysWriter, camera_entry};

    const S: u64 = 1_000_000_000;
    const BASE_US: u64 = 1_700_000_000_000_000;

    /// One chunk as written: offset, length, stream, key, payload, chunk
    /// time (µs).
    #[derive(Debug, Clone)]
    struct Written {
        offset: usize,
        len: usize,
        stream: StreamId,
        key: bool,
        payload: Vec<u8>,
        ts_us: Option<u64>,
    }

    /// Media bytes that hold no start code, chunk id or JPEG marker.
    fn filler(n: usize, seed: u64) -> impl Iterator<Item = u8> {
        (0..n as u64).map(move |i| 0x80 | ((i * 7 + seed * 13) % 0x70) as u8)
    }

    /// `cams` cameras at 10 fps with a key frame every `gop` frames (camera
    /// c's GOP shifted by 3c frames), telemetry on camera 0, doubled mu-law
    /// audio every 5 frames, one JPEG after frame 2. `time` may replace a
    /// chunk's time (by write order).
    fn file(
        frames: u64,
        cams: u8,
        gop: u64,
        time: &dyn Fn(usize, u64) -> u64,
    ) -> (Vec<u8>, Vec<Written>) {
        // Before v1.6.0: every audio channel written twice.
        let header = HeaderSpec::recorder(
            "20231114_221320_221330.nvr",
            "v1.5.2",
            [
                MetaEntry::new("model", MetaValue::Str("DV440".into())),
                MetaEntry::new("startTime", MetaValue::I64((BASE_US / 1000) as i64)),
                MetaEntry::new("timeZone", MetaValue::I32Alt(-240)),
                MetaEntry::new("vehicle", MetaValue::Str("BUS-7".into())),
                camera_entry(0, "Road", 640, 360, 10),
            ],
        );
        let mut w = SaysWriter::new(Vec::new(), &header).unwrap();
        let mut out = Vec::new();
        // The chunk just written, from `at`.
        let note = |out: &mut Vec<Written>, w: &SaysWriter<Vec<u8>>, at: u64, chunk: Written| {
            out.push(Written {
                offset: at as usize,
                len: (w.position() - at) as usize,
                ..chunk
            });
        };
        let chunk = |stream, key, payload, ts_us| Written {
            offset: 0,
            len: 0,
            stream,
            key,
            payload,
            ts_us,
        };
        for f in 0..frames {
            let t = BASE_US + f * 100_000;
            if f % 5 == 0 {
                let payload: Vec<u8> = filler(400, f).collect();
                let ts = time(out.len(), t.saturating_sub(20_000));
                let at = w.position();
                w.write_audio(0, AudioCodec::Mulaw, ts, &payload, true)
                    .unwrap();
                let c = chunk(StreamId::new(StreamKind::Audio, 0), true, payload, Some(ts));
                note(&mut out, &w, at, c);
            }
            for c in 0..cams {
                let key = f == 0 || (f + 3 * u64::from(c)) % gop == 0;
                let payload: Vec<u8> = [0, 0, 0, 1, if key { 0x65 } else { 0x41 }]
                    .into_iter()
                    .chain(filler(60 + (f % 7) as usize * 30, f ^ u64::from(c)))
                    .collect();
                let ts = time(out.len(), t + u64::from(c) * 3_000);
                let meta = if c == 0 {
                    vec![
                        MetaEntry::new("ts", MetaValue::I64((ts / 1000) as i64)),
                        MetaEntry::new(
                            "gps",
                            MetaValue::Nested(vec![
                                MetaEntry::new("lat", MetaValue::F64(40.5)),
                                MetaEntry::new("lon", MetaValue::F64(-74.25)),
                            ]),
                        ),
                        MetaEntry::new("frame", MetaValue::I32(f as i32)),
                    ]
                } else {
                    Vec::new()
                };
                let at = w.position();
                w.write_video(c, key, ts, &meta, &payload).unwrap();
                let video = StreamId::new(StreamKind::Video, c.into());
                note(&mut out, &w, at, chunk(video, key, payload, Some(ts)));
            }
            if f == 2 {
                let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
                jpeg.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
                // Start of scan, then entropy-coded data.
                jpeg.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 0x3F, 0]);
                jpeg.extend(filler(50, 3));
                jpeg.extend_from_slice(&[0xFF, 0xD9]);
                let at = w.position();
                w.write_jpeg(&jpeg).unwrap();
                note(&mut out, &w, at, chunk(IMAGE, true, jpeg, None));
            }
        }
        (w.into_inner(), out)
    }

    fn plain(frames: u64, cams: u8, gop: u64) -> (Vec<u8>, Vec<Written>) {
        file(frames, cams, gop, &|_, ts| ts)
    }

    /// (stream, pts, key, discont, wall clock, payload)
    type Out = (StreamId, u64, bool, bool, Option<u64>, Vec<u8>);

    fn out_of(p: &Packet<SharedBytes>) -> Out {
        (
            p.stream,
            p.pts.unwrap(),
            p.key,
            p.discont,
            p.wallclock_ns,
            p.to_vec(),
        )
    }

    fn pull(bytes: Vec<u8>) -> (Demuxer<Says, SharedBytes>, MemorySource) {
        let size = bytes.len() as u64;
        (
            Demuxer::new_pull(Says::new(), Some(size)),
            MemorySource::new(bytes),
        )
    }

    fn drain(
        demux: &mut Demuxer<Says, SharedBytes>,
        src: &mut MemorySource,
    ) -> (Vec<Out>, Vec<StreamInfo>) {
        let mut out = Vec::new();
        let mut streams = Vec::new();
        loop {
            match demux.next(src).unwrap() {
                Event::StreamsFound(s) => streams.extend(s),
                Event::NewStream(s) => streams.push(s),
                Event::Packet(p) => out.push(out_of(&p)),
                Event::NeedData => panic!("pull input never needs data"),
                Event::Eos => return (out, streams),
            }
        }
    }

    fn push_all(bytes: &[u8], piece: usize) -> Vec<Out> {
        push_with_damage(bytes, piece).0
    }

    /// [`push_all`] and the damage the engine reported.
    fn push_with_damage(bytes: &[u8], piece: usize) -> (Vec<Out>, crate::engine::Damage) {
        let mut demux: Demuxer<Says, SharedBytes> = Demuxer::new_push(Says::new());
        let mut none = NoSource::default();
        let mut out = Vec::new();
        let mut pieces = bytes.chunks(piece);
        loop {
            match demux.next(&mut none).unwrap() {
                Event::NeedData => match pieces.next() {
                    Some(p) => demux.push_data(SharedBytes::from_vec(p.to_vec())),
                    None => demux.push_eos(),
                },
                Event::Packet(p) => out.push(out_of(&p)),
                Event::Eos => return (out, demux.report().damage),
                _ => {}
            }
        }
    }

    /// The packets of the media streams (not telemetry).
    fn media(out: &[Out]) -> Vec<&Out> {
        out.iter()
            .filter(|o| o.0.kind != StreamKind::Data)
            .collect()
    }

    /// Every packet of a demuxer over `bytes` with `options`, discarding
    /// `discarded` from the first packet on.
    fn packets_with(
        bytes: Vec<u8>,
        options: SaysOptions,
        discarded: &[StreamId],
    ) -> Vec<Packet<SharedBytes>> {
        let size = bytes.len() as u64;
        let mut demux = Demuxer::new_pull(Says::with_options(options), Some(size));
        demux.set_discarded(discarded);
        let mut src = MemorySource::new(bytes);
        let mut out = Vec::new();
        loop {
            match demux.next(&mut src).unwrap() {
                Event::Packet(p) => out.push(p),
                Event::Eos => return out,
                _ => {}
            }
        }
    }

    #[test]
    fn telemetry_is_typed_on_the_video_packet_and_json_only_for_a_wanted_stream() {
        let (bytes, _) = plain(20, 2, 10);
        let video0 = StreamId::new(StreamKind::Video, 0);
        let meta0 = StreamId::new(StreamKind::Data, 0);
        // The elements' defaults (telemetry off): no meta stream, but every
        // video packet carries its frame's values, typed.
        let player = packets_with(bytes.clone(), SaysOptions::default(), &[]);
        assert!(player.iter().all(|p| p.stream.kind != StreamKind::Data));
        let typed: Vec<_> = player
            .iter()
            .filter(|p| p.stream == video0)
            .map(|p| p.telemetry.as_deref().copied())
            .collect();
        assert_eq!(typed.len(), 20);
        let want = Telemetry {
            fix: Some((40.5, -74.25)),
            ..Telemetry::default()
        };
        assert!(typed.iter().all(|t| *t == Some(want)), "{typed:?}");
        // Camera 1's chunks have an empty list: values, all unknown.
        let video1 = player
            .iter()
            .find(|p| p.stream.number == 1 && p.stream.kind == StreamKind::Video);
        assert_eq!(
            video1.unwrap().telemetry.as_deref(),
            Some(&Telemetry::default())
        );
        // Telemetry on but its stream discarded: no JSON packet at all.
        let options = SaysOptions {
            telemetry: true,
            ..SaysOptions::default()
        };
        let discarded = packets_with(bytes.clone(), options.clone(), &[meta0]);
        assert!(discarded.iter().all(|p| p.stream != meta0));
        let wanted = packets_with(bytes, options, &[]);
        let json: Vec<String> = wanted
            .iter()
            .filter(|p| p.stream == meta0)
            .map(|p| String::from_utf8(p.to_vec()).unwrap())
            .collect();
        assert_eq!(json.len(), 20);
        assert!(json[3].contains("\"frame\":3"), "{}", json[3]);
    }

    #[test]
    fn every_chunk_bit_exact_pull_and_push() {
        let (bytes, written) = plain(60, 2, 10);
        let (mut demux, mut src) = pull(bytes.clone());
        let (pulled, streams) = drain(&mut demux, &mut src);
        assert!(!demux.report().damage.any(), "{:?}", demux.report().damage);
        let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
        // Every video chunk has a metadata list (camera 1's are empty).
        for want in [
            "video_0", "video_1", "audio_0", "meta_0", "meta_1", "image_0",
        ] {
            assert!(names.contains(&want), "{names:?}");
        }
        let got = media(&pulled);
        assert_eq!(got.len(), written.len());
        for (o, w) in got.iter().zip(&written) {
            assert_eq!((o.0, &o.5), (w.stream, &w.payload), "chunk at {}", w.offset);
            // One clock: chunk time minus the smallest (the first audio).
            if let Some(ts) = w.ts_us {
                assert_eq!(o.1, (ts - (BASE_US - 20_000)) * 1000);
                assert_eq!(o.4, Some(ts * 1000), "wall clock per packet");
            }
            if w.stream.kind == StreamKind::Video {
                assert_eq!(o.2, w.key);
            } else {
                assert!(o.2, "audio and snapshots are never delta units");
            }
        }
        // Doubled mu-law: one copy, 8000 bytes per second.
        let audio = &written[0];
        assert_eq!(audio.payload.len(), 400);
        // The snapshot takes the time and wall clock of the chunk before it.
        let j = written.iter().position(|w| w.stream == IMAGE).unwrap();
        assert_eq!(got[j].1, got[j - 1].1);
        assert_eq!(got[j].4, got[j - 1].4);
        // Every stream's first packet is discontinuous.
        for s in &streams {
            let first = pulled.iter().find(|o| o.0 == s.id).unwrap();
            assert!(first.3, "{}", s.name);
        }
        // Telemetry: one JSON object per camera-0 frame, at its time.
        let meta: Vec<&Out> = pulled
            .iter()
            .filter(|o| o.0 == StreamId::new(StreamKind::Data, 0))
            .collect();
        assert_eq!(meta.len(), 60);
        let empty = pulled
            .iter()
            .find(|o| o.0 == StreamId::new(StreamKind::Data, 1))
            .unwrap();
        assert_eq!(empty.5, b"{}");
        let json = String::from_utf8(meta[3].5.clone()).unwrap();
        assert!(json.contains("\"frame\":3"), "{json}");
        assert!(json.contains("\"lat\":40.5"), "{json}");
        let frame3 = pulled
            .iter()
            .filter(|o| o.0 == StreamId::new(StreamKind::Video, 0))
            .nth(3)
            .unwrap();
        assert_eq!(meta[3].1, frame3.1);
        // Push input in odd-sized pieces gives the same packets.
        for piece in [777, 65_537] {
            assert_eq!(push_all(&bytes, piece), pulled, "pieces of {piece}");
        }
    }

    #[test]
    fn streams_and_tags() {
        let (bytes, _) = plain(20, 2, 10);
        let (mut demux, mut src) = pull(bytes);
        let (_, streams) = drain(&mut demux, &mut src);
        let info = |name: &str| streams.iter().find(|s| s.name == name).unwrap();
        let v0 = info("video_0");
        assert_eq!(
            (v0.width, v0.height, v0.framerate),
            (Some(640), Some(360), Some((10, 1)))
        );
        assert_eq!(v0.tags.title.as_deref(), Some("Road"));
        assert_eq!(v0.tags.device_model.as_deref(), Some("DV440"));
        assert_eq!(v0.tags.start_unix_us, Some(BASE_US as i64));
        assert_eq!(v0.tags.start_utc_offset_min, Some(-240));
        assert_eq!(v0.tags.encoder.as_deref(), Some("Rosco firmware v1.5.2"));
        assert_eq!(info("video_1").width, None, "no header entry for camera 1");
        assert_eq!(
            info("audio_0").codec,
            Codec::Mulaw {
                rate: 8000,
                channels: 1
            }
        );
        assert_eq!(
            info("meta_0").codec,
            Codec::Json {
                schema: "says-telemetry"
            }
        );
        let image = info("image_0");
        assert_eq!((image.codec.clone(), image.sparse), (Codec::Jpeg, true));
        let global = demux.global_tags().unwrap();
        assert_eq!(global.container_format, Some("Rosco SAYS"));
        assert_eq!(global.device_manufacturer.as_deref(), Some("Rosco"));
        assert_eq!(
            global.comment.as_deref(),
            Some("Rosco SAYS recording 20231114_221320_221330.nvr, vehicle BUS-7")
        );
        assert_eq!(global.location, Some((40.5, -74.25, None)));
        let header = global.extended[0].strip_prefix("says-header=").unwrap();
        assert!(header.contains("\"fileName\":\"20231114_221320_221330.nvr\""));
        assert!(header.contains("\"timeZone\":-240"));
    }

    #[test]
    fn a_lying_length_loses_only_its_own_chunk() {
        let (bytes, written) = plain(40, 2, 10);
        // A delta frame of camera 1 followed by video claims 40 more bytes.
        let i = (20..written.len() - 1)
            .find(|&i| {
                written[i].stream == StreamId::new(StreamKind::Video, 1)
                    && !written[i].key
                    && written[i + 1].stream.kind == StreamKind::Video
            })
            .unwrap();
        let at = written[i].offset;
        let mut bytes = bytes;
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        bytes[at + 8..at + 12].copy_from_slice(&(len + 40).to_le_bytes());
        let (mut demux, mut src) = pull(bytes.clone());
        let (pulled, _) = drain(&mut demux, &mut src);
        let kept: Vec<&Written> = written
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != i)
            .map(|(_, w)| w)
            .collect();
        let got = media(&pulled);
        assert_eq!(got.len(), kept.len());
        for (o, w) in got.iter().zip(&kept) {
            assert_eq!((o.0, &o.5), (w.stream, &w.payload));
        }
        let damage = demux.report().damage;
        assert_eq!(damage.regions, 1);
        assert_eq!(damage.bytes, written[i].len as u64);
        assert_eq!(damage.first_offset, Some(at as u64));
        // The packet after the hole is discontinuous.
        let next = got
            .iter()
            .position(|o| o.5 == written[i + 1].payload)
            .unwrap();
        assert!(got[next].3);
        assert_eq!(push_all(&bytes, 1000), pulled);
    }

    #[test]
    fn hostile_chunk_times_are_damage() {
        // Chunk 7 beyond what the parser accepts (skipped as damage, its
        // bytes counted), chunk 12 accepted by the parser but beyond any
        // running time (dropped, counted as a bad time).
        let time = |k: usize, ts: u64| match k {
            7 => u64::MAX,
            12 => says::MAX_TIMESTAMP_US,
            _ => ts,
        };
        let (bytes, written) = file(30, 1, 10, &time);
        let (mut demux, mut src) = pull(bytes.clone());
        let (pulled, _) = drain(&mut demux, &mut src);
        let got = media(&pulled);
        assert_eq!(got.len(), written.len() - 2);
        let kept = written
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != 7 && *k != 12);
        for (o, (_, w)) in got.iter().zip(kept) {
            assert_eq!((o.0, &o.5), (w.stream, &w.payload));
            // The chunks after the hostile times keep theirs.
            if let Some(ts) = w.ts_us {
                assert_eq!(o.1, (ts - (BASE_US - 20_000)) * 1000);
            }
        }
        let damage = demux.report().damage;
        assert_eq!(damage.regions, 1);
        assert_eq!(damage.bytes, written[7].len as u64);
        assert_eq!(damage.bad_times, 1);
        assert_eq!(push_all(&bytes, 4096), pulled);
    }

    #[test]
    fn a_zero_tailed_audio_chunk_that_data_follows_is_kept_whatever_the_pieces() {
        // A mu-law chunk whose samples end in a zero run, zero fill after
        // it, then more chunks: not the unwritten end of a recording (data
        // follows), so it is kept. The check once judged whatever bytes it
        // was handed: pull (a 256 KiB window) saw the chunks after the fill
        // and kept it, push pieces ending inside the fill dropped it and
        // skipped the fill as damage.
        let header = HeaderSpec::recorder(
            "20231114_221320_221330.nvr",
            "v1.6.5",
            [camera_entry(0, "Road", 640, 360, 10)],
        );
        let mut payloads = Vec::new();
        let part = |frames: std::ops::Range<u64>, payloads: &mut Vec<Vec<u8>>| {
            let mut w = SaysWriter::new(Vec::new(), &header).unwrap();
            for f in frames.clone() {
                let media: Vec<u8> = [0, 0, 0, 1, if f == 0 { 0x65 } else { 0x41 }]
                    .into_iter()
                    .chain(filler(80, f))
                    .collect();
                w.write_video(0, f == 0, BASE_US + f * 100_000, &[], &media)
                    .unwrap();
                payloads.push(media);
            }
            // Samples ending in 64 zero bytes (negative full scale).
            let audio: Vec<u8> = filler(36, 9).chain([0; 64]).collect();
            let ts = BASE_US + frames.end * 100_000;
            w.write_audio(0, AudioCodec::Mulaw, ts, &audio, false)
                .unwrap();
            payloads.push(audio);
            w.into_inner()
        };
        let mut bytes = part(0..5, &mut payloads);
        bytes.resize(bytes.len() + 3000, 0);
        let rest = part(5..10, &mut payloads);
        bytes.extend_from_slice(&rest[says::FILE_HEADER_LEN..]);
        // The last audio chunk: only the end of the file follows it.
        payloads.pop();
        let (mut demux, mut src) = pull(bytes.clone());
        let (pulled, _) = drain(&mut demux, &mut src);
        let got: Vec<&Vec<u8>> = media(&pulled).iter().map(|o| &o.5).collect();
        assert_eq!(got, payloads.iter().collect::<Vec<_>>());
        let damage = demux.report().damage;
        // The last audio chunk, as a recording still being written ends.
        assert_eq!((damage.regions, damage.bytes), (1, 116), "{damage:?}");
        for piece in [100, 777, 4096] {
            let (pushed, pushed_damage) = push_with_damage(&bytes, piece);
            assert_eq!(pushed_damage, damage, "pieces of {piece}");
            assert_eq!(pushed, pulled, "pieces of {piece}");
        }
    }

    #[test]
    fn an_off_clock_chunk_time_does_not_become_the_base() {
        // The first chunk (audio) stamped 11 384 µs, every other one on the
        // recording's Unix clock: the base was the smallest time of
        // discovery, that one, so every other chunk ran at about 1.7e18 ns
        // (fuzz: says_engine push-pull-disagree-df436355). A time no other
        // one of discovery lies near is off the clock: not the base.
        let time = |k: usize, ts: u64| if k == 0 { 11_384 } else { ts };
        let (bytes, written) = file(30, 1, 10, &time);
        let (mut demux, mut src) = pull(bytes.clone());
        let (pulled, _) = drain(&mut demux, &mut src);
        let got = media(&pulled);
        assert_eq!(got.len(), written.len());
        let base = written[1..].iter().filter_map(|w| w.ts_us).min().unwrap();
        assert_eq!(got[0].1, 0, "the off-clock chunk starts the stream");
        for (o, w) in got.iter().zip(&written).skip(1) {
            assert_eq!((o.0, &o.5), (w.stream, &w.payload));
            if let Some(ts) = w.ts_us {
                assert_eq!(o.1, (ts - base) * 1000, "chunk at {}", w.offset);
            }
        }
        assert_eq!(push_all(&bytes, 4096), pulled);
    }

    fn seek_firsts(demux: &mut Demuxer<Says, SharedBytes>, src: &mut MemorySource) -> Vec<Out> {
        let mut firsts: Vec<Out> = Vec::new();
        loop {
            match demux.next(src).unwrap() {
                Event::Packet(p) if !firsts.iter().any(|f| f.0 == p.stream) => {
                    firsts.push(out_of(&p));
                }
                Event::Eos => return firsts,
                _ => {}
            }
        }
    }

    #[test]
    fn key_seek_restarts_every_camera_at_its_own_key_frame() {
        // Indexed region (read first) and unread region (bisection).
        for read_first in [true, false] {
            let (bytes, _) = plain(3000, 3, 25);
            let (mut demux, mut src) = pull(bytes);
            if read_first {
                drain(&mut demux, &mut src);
            } else {
                while !demux.discovered() {
                    let _ = demux.next(&mut src).unwrap();
                }
            }
            let target = 200 * S + S / 20;
            let outcome = demux.seek(&mut src, target, None).unwrap();
            let firsts = seek_firsts(&mut demux, &mut src);
            let video: Vec<&Out> = firsts
                .iter()
                .filter(|f| f.0.kind == StreamKind::Video)
                .collect();
            assert_eq!(video.len(), 3, "read_first={read_first}");
            for f in &video {
                assert!(
                    f.2,
                    "camera {} starts on a key frame ({read_first})",
                    f.0.number
                );
                assert!(
                    f.1 <= target,
                    "camera {} key at or before the target",
                    f.0.number
                );
                assert!(target - f.1 < 25 * S / 10, "and not a GOP too early");
                assert!(f.3, "discontinuous after the seek");
            }
            assert_eq!(outcome.key_pts, video.iter().map(|f| f.1).min());
            // Telemetry restarts with its camera.
            let meta = firsts
                .iter()
                .find(|f| f.0 == StreamId::new(StreamKind::Data, 0))
                .unwrap();
            let cam0 = video.iter().find(|f| f.0.number == 0).unwrap();
            assert_eq!(meta.1, cam0.1);
        }
    }

    #[test]
    fn not_says_is_an_error() {
        let (mut demux, mut src) = pull(vec![0x55; 70_000]);
        let err = demux.next(&mut src).err().unwrap();
        assert!(err.to_string().contains("SAYS"), "{err}");
    }
}
