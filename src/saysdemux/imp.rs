// SPDX-License-Identifier: MIT
//! Element glue for `saysdemux`: the SAYS driver for the shared demux core.
//!
//! Streams (keys): video of camera N (`N`, pad `video_N`), audio whose chunk
//! id starts with digit N (`100 + N`, pad `audio_N`), the per-frame
//! telemetry of camera N (`200 + N`, pad `meta_N`, one compact JSON object
//! per video chunk) and JPEG snapshots (`300`, pad `image_0`, sparse).
//!
//! Time: running time = chunk timestamp − base, where base is the smallest
//! chunk timestamp seen during discovery, so every stream keeps the exact
//! spacing of the chunk clock. Per stream the running time never decreases
//! (a chunk stamped earlier than its predecessor gets the predecessor's
//! time). Snapshots have no timestamp: they get the time of the chunk
//! before them.

use crate::common::h264::{Codec, annexb_nal_units};
use crate::common::legacy_demux::{DemuxCore, DemuxElement, Driver, Output, Parsed, UnitBytes};
use crate::common::streams::{StreamKey, StreamSpec, unix_time_caps};
use crate::formats::says::{
    self, ChunkContext, ChunkKind, ChunkParse, FileHeader, MetaEntry, MetaValue, Telemetry,
};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::LazyLock;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "saysdemux",
        gst::DebugColorFlags::empty(),
        Some("Rosco SAYS demuxer"),
    )
});

const AUDIO_KEY_BASE: StreamKey = 100;
const META_KEY_BASE: StreamKey = 200;
const IMAGE_KEY: StreamKey = 300;

/// Chunk timestamps in this range (µs) are taken for Unix time.
const UNIX_US_MIN: u64 = 946_684_800_000_000; // 2000-01-01
const UNIX_US_MAX: u64 = 4_102_444_800_000_000; // 2100-01-01

/// A GPS fix from per-frame metadata.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fix {
    lat: f64,
    lon: f64,
    alt: Option<f64>,
    heading: Option<f64>,
    speed_kmh: Option<f64>,
}

/// Per-frame metadata of a video chunk.
#[derive(Debug, Clone)]
pub struct FrameMeta {
    json: String,
    unix_ms: Option<i64>,
    fix: Option<Fix>,
    /// The list stopped early (unknown type, bad length).
    incomplete: bool,
}

/// One SAYS chunk, as the core sees it.
#[derive(Debug)]
pub struct SaysUnit {
    kind: ChunkKind,
    camera: u8,
    timestamp_us: Option<u64>,
    payload: Range<usize>,
    /// Video: the substream digit says key AND the first picture is an IDR.
    key: bool,
    meta: Option<Box<FrameMeta>>,
    /// Audio duration from the payload (mu-law length, Opus TOC).
    duration_ns: Option<u64>,
    /// Opus: channels from the TOC stereo flag.
    opus_channels: Option<i32>,
}

impl SaysUnit {
    fn stream(&self) -> StreamKey {
        match self.kind {
            ChunkKind::VideoKey | ChunkKind::VideoDelta => StreamKey::from(self.camera),
            ChunkKind::AudioMulaw | ChunkKind::AudioOpus => {
                AUDIO_KEY_BASE + StreamKey::from(self.camera)
            }
            ChunkKind::Jpeg => IMAGE_KEY,
        }
    }
}

/// Timeline state: the base and what each stream last got.
#[derive(Debug, Clone, Default)]
pub struct SaysTimeline {
    base_us: u64,
    /// Last running time per stream (ns), for the never-decreasing clamp.
    last: BTreeMap<StreamKey, u64>,
    /// Running time and Unix time (ns) of the last timed chunk, for snapshots.
    last_chunk_ns: Option<u64>,
    last_chunk_unix_ns: Option<u64>,
}

/// What is known about the streams from the units seen.
#[derive(Debug, Clone, Default)]
struct StreamInfo {
    opus_channels: Option<i32>,
    first_fix: Option<Fix>,
}

pub struct SaysDriver {
    header: Option<FileHeader>,
    ctx: ChunkContext,
    timeline: SaysTimeline,
    streams: BTreeMap<StreamKey, StreamInfo>,
    first_fix: Option<Fix>,
    /// Streams whose next buffer must carry DISCONT.
    pending_discont: BTreeSet<StreamKey>,
    chunks: u64,
    incomplete_meta: u64,
}

impl SaysDriver {
    fn new() -> Self {
        Self {
            header: None,
            ctx: ChunkContext::default(),
            timeline: SaysTimeline::default(),
            streams: BTreeMap::new(),
            first_fix: None,
            pending_discont: BTreeSet::new(),
            chunks: 0,
            incomplete_meta: 0,
        }
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
        tag_text(name, self.header_get(name)?.as_str()?)
    }

    /// Recording start (header `startTime`, Unix ms) in the recorder's
    /// time zone (`timeZone`, minutes) when given.
    fn start_datetime(&self) -> Option<gst::DateTime> {
        let ms = self.header_get("startTime")?.as_i64()?;
        let utc = glib::DateTime::from_unix_utc(ms.div_euclid(1000))
            .ok()?
            .add(glib::TimeSpan::from_milliseconds(ms.rem_euclid(1000)))
            .ok()?;
        let local = self
            .header_get("timeZone")
            .and_then(MetaValue::as_i64)
            .filter(|m| m.abs() <= 16 * 60)
            .and_then(|minutes| {
                let sign = if minutes < 0 { '-' } else { '+' };
                let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
                let tz = glib::TimeZone::new(Some(&format!("{sign}{h:02}:{m:02}")));
                utc.to_timezone(&tz).ok()
            })
            .unwrap_or(utc);
        gst::DateTime::from_g_date_time(local).into()
    }

    /// Tags every stream carries.
    fn common_tags(&self, tags: &mut gst::TagListRef) {
        tags.add::<gst::tags::ContainerFormat>(&"Rosco SAYS", gst::TagMergeMode::Replace);
        tags.add::<gst::tags::DeviceManufacturer>(&"Rosco", gst::TagMergeMode::Replace);
        if let Some(model) = self.header_str("model") {
            tags.add::<gst::tags::DeviceModel>(&model, gst::TagMergeMode::Replace);
        }
        if let Some(dt) = self.start_datetime() {
            tags.add::<gst::tags::DateTime>(&dt, gst::TagMergeMode::Replace);
        }
        if let Some(version) = self.header_str("appVersion") {
            let encoder = format!("Rosco firmware {version}");
            tags.add::<gst::tags::Encoder>(&encoder.as_str(), gst::TagMergeMode::Replace);
            tags.add::<gst::tags::ApplicationName>(&version, gst::TagMergeMode::Replace);
        }
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

    fn mark_discont_all(&mut self) {
        self.pending_discont = self.streams.keys().copied().collect();
        self.pending_discont.insert(IMAGE_KEY);
    }

    fn take_discont(&mut self, key: StreamKey) -> bool {
        self.pending_discont.remove(&key)
    }

    fn unix_ns_of_chunk(ts_us: u64) -> Option<u64> {
        (UNIX_US_MIN..UNIX_US_MAX)
            .contains(&ts_us)
            .then(|| ts_us * 1000)
    }

    /// Wall-clock time of a timed chunk (ns): its `ts` metadata when that is
    /// a representable time, else the chunk time when it looks like Unix time.
    fn unix_ns_of(unit: &SaysUnit, ts_us: u64) -> Option<u64> {
        unit.meta
            .as_ref()
            .and_then(|m| m.unix_ms)
            .and_then(unix_ns_of_ms)
            .or_else(|| Self::unix_ns_of_chunk(ts_us))
    }
}

/// A header string as tag text: GLib strings end at a NUL, so the text is
/// cut at the first one (logged); `None` when nothing is left.
fn tag_text<'a>(what: &str, text: &'a str) -> Option<&'a str> {
    let cut = match text.split_once('\0') {
        Some((before, after)) => {
            if !after.trim_end_matches('\0').is_empty() {
                gst::debug!(
                    CAT,
                    "Header {} {:?} contains a NUL byte: tag text cut there",
                    what,
                    text
                );
            }
            before
        }
        None => text,
    };
    Some(cut).filter(|s| !s.is_empty())
}

/// `ts` metadata (Unix ms) in ns; `None` when negative or too large.
fn unix_ns_of_ms(ms: i64) -> Option<u64> {
    u64::try_from(ms)
        .ok()?
        .checked_mul(1_000_000)
        .filter(|&ns| ns <= gst::ClockTime::MAX.nseconds())
}

/// A clock time from nanoseconds computed from file values; `None` for
/// `u64::MAX`, which is GST_CLOCK_TIME_NONE.
fn clock_time(ns: u64) -> Option<gst::ClockTime> {
    (ns <= gst::ClockTime::MAX.nseconds()).then(|| gst::ClockTime::from_nseconds(ns))
}

fn frame_meta(entries_bytes: &[u8]) -> FrameMeta {
    let list = says::parse_metadata(entries_bytes);
    for unknown in &list.unknown {
        gst::log!(
            CAT,
            "Frame metadata entry {:?} of unknown type {:#04x} stepped over ({} bytes)",
            unknown.name,
            unknown.type_code,
            unknown.value_len
        );
    }
    let telemetry = Telemetry::from_metadata(&list.entries);
    let gps = says::find(&list.entries, "gps").and_then(MetaValue::as_nested);
    let gps_f64 = |name: &str| {
        gps.and_then(|g| says::find(g, name))
            .and_then(MetaValue::as_f64)
            .filter(|v| v.is_finite())
    };
    let fix = match (telemetry.latitude, telemetry.longitude) {
        (Some(lat), Some(lon)) if gps.is_some() => Some(Fix {
            lat,
            lon,
            alt: gps_f64("alt"),
            heading: gps_f64("heading"),
            speed_kmh: telemetry.speed,
        }),
        _ => None,
    };
    FrameMeta {
        json: says::metadata_to_json(&list.entries),
        unix_ms: telemetry.unix_ms,
        fix,
        incomplete: list.issue.is_some(),
    }
}

/// Whether a key-labelled access unit really starts with an IDR picture:
/// the first slice NAL decides.
fn first_picture_is_idr(annexb: &[u8]) -> bool {
    annexb_nal_units(annexb)
        .filter_map(|nal| Codec::H264.nal_type(nal))
        .find(|t| (1..=5).contains(t))
        == Some(5)
}

/// Opus packet duration from its TOC byte (RFC 6716 §3.1), ns, and channels.
fn opus_toc(packet: &[u8]) -> (Option<u64>, Option<i32>) {
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

impl Driver for SaysDriver {
    type Unit = SaysUnit;
    type Timeline = SaysTimeline;

    fn format_name(&self) -> &'static str {
        "Rosco SAYS (.nvr)"
    }

    fn file_header_len(&self) -> usize {
        says::FILE_HEADER_LEN
    }

    fn parse_file_header(&mut self, data: &[u8]) -> Result<(), String> {
        if !says::probe(data) {
            return Err("no SAYS magic or implausible header".into());
        }
        let header = says::parse_file_header(data).map_err(|e| e.to_string())?;
        if let Some(issue) = header.metadata.issue {
            gst::warning!(CAT, "Header metadata incomplete: {:?}", issue);
        }
        for unknown in &header.metadata.unknown {
            gst::debug!(
                CAT,
                "Header entry {:?} of unknown type {:#04x} at metadata byte {} \
                 stepped over ({} value bytes)",
                unknown.name,
                unknown.type_code,
                unknown.offset,
                unknown.value_len
            );
        }
        self.ctx = ChunkContext::from_header(&header);
        gst::debug!(
            CAT,
            "SAYS header: {} app {:?} audio {:?}",
            header.file_name,
            header.app_version_text,
            self.ctx.audio_copies
        );
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
                Some(bytes) => Some(Box::new(frame_meta(bytes))),
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
            },
            chunk.len,
        )
    }

    fn find_resync(&self, data: &[u8]) -> Option<usize> {
        says::find_resync(data.get(1..)?).map(|k| k + 1)
    }

    fn is_seek_point(&self, unit: &SaysUnit) -> bool {
        unit.key
    }

    fn is_untimed(&self, unit: &SaysUnit) -> bool {
        unit.timestamp_us.is_none()
    }

    fn stream_of(&mut self, unit: &SaysUnit) -> Option<StreamKey> {
        let key = unit.stream();
        let info = self.streams.entry(key).or_default();
        if info.opus_channels.is_none() {
            info.opus_channels = unit.opus_channels;
        }
        if let Some(fix) = unit.meta.as_ref().and_then(|m| m.fix) {
            info.first_fix.get_or_insert(fix);
            self.first_fix.get_or_insert(fix);
        }
        Some(key)
    }

    fn streams_of(&mut self, unit: &SaysUnit) -> Vec<StreamKey> {
        let mut keys: Vec<StreamKey> = self.stream_of(unit).into_iter().collect();
        if unit.meta.is_some() {
            let key = META_KEY_BASE + StreamKey::from(unit.camera);
            self.streams.entry(key).or_default();
            keys.push(key);
        }
        keys
    }

    fn stream_spec(&self, key: StreamKey) -> Option<StreamSpec> {
        let info = self.streams.get(&key)?;
        let mut tags = gst::TagList::new();
        let mut flags = gst::StreamFlags::empty();
        let tags_mut = tags.make_mut();
        self.common_tags(tags_mut);
        let (template, pad_name, caps) = match key {
            0..=9 => {
                let camera = format!("camera{key}");
                let mut caps = gst::Caps::builder("video/x-h264")
                    .field("stream-format", "byte-stream")
                    .field("alignment", "au");
                let dim = |name: &str| {
                    self.header_nested(&camera, name)
                        .and_then(MetaValue::as_i64)
                        .filter(|v| (16..=16384).contains(v))
                        .map(|v| v as i32)
                };
                if let (Some(w), Some(h)) = (dim("width"), dim("height")) {
                    caps = caps.field("width", w).field("height", h);
                }
                if let Some(fps) = self
                    .header_nested(&camera, "fps")
                    .and_then(MetaValue::as_i64)
                    .filter(|v| (1..=240).contains(v))
                {
                    caps = caps.field("framerate", gst::Fraction::new(fps as i32, 1));
                }
                tags_mut.add::<gst::tags::VideoCodec>(&"H.264", gst::TagMergeMode::Replace);
                if let Some(name) = self
                    .header_nested(&camera, "name")
                    .and_then(MetaValue::as_str)
                    .and_then(|s| tag_text("camera name", s))
                {
                    tags_mut.add::<gst::tags::Title>(&name, gst::TagMergeMode::Replace);
                }
                ("video_%u", format!("video_{key}"), caps.build())
            }
            100..=109 => {
                let n = key - AUDIO_KEY_BASE;
                let header_channels = self
                    .header_nested("audio", "channels")
                    .and_then(MetaValue::as_i64)
                    .filter(|c| (1..=2).contains(c))
                    .map(|c| c as i32);
                let opus = info.opus_channels.is_some()
                    || self
                        .header_nested("audio", "codec")
                        .and_then(MetaValue::as_str)
                        .is_some_and(|c| c.to_ascii_lowercase().contains("opus"));
                let caps = if opus {
                    tags_mut.add::<gst::tags::AudioCodec>(&"Opus", gst::TagMergeMode::Replace);
                    gst::Caps::builder("audio/x-opus")
                        .field("rate", 48000i32)
                        .field(
                            "channels",
                            info.opus_channels.or(header_channels).unwrap_or(1),
                        )
                        .field("channel-mapping-family", 0i32)
                        .build()
                } else {
                    tags_mut
                        .add::<gst::tags::AudioCodec>(&"G.711 mu-law", gst::TagMergeMode::Replace);
                    gst::Caps::builder("audio/x-mulaw")
                        .field("rate", 8000i32)
                        .field("channels", 1i32)
                        .build()
                };
                ("audio_%u", format!("audio_{n}"), caps)
            }
            200..=209 => {
                let n = key - META_KEY_BASE;
                let caps = gst::Caps::builder("application/x-json")
                    .field("format", "says-telemetry")
                    .build();
                ("meta_%u", format!("meta_{n}"), caps)
            }
            IMAGE_KEY => {
                flags |= gst::StreamFlags::SPARSE;
                (
                    "image_%u",
                    "image_0".to_string(),
                    gst::Caps::new_empty_simple("image/jpeg"),
                )
            }
            _ => return None,
        };
        Some(StreamSpec {
            key,
            template,
            pad_name,
            caps,
            tags,
            flags,
        })
    }

    fn start_timeline(&mut self, first_units: &[&SaysUnit]) {
        let base = first_units
            .iter()
            .filter_map(|u| u.timestamp_us)
            .min()
            .unwrap_or(0);
        self.timeline = SaysTimeline {
            base_us: base,
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

    fn assign_time(&mut self, unit: &SaysUnit) -> Option<gst::ClockTime> {
        let key = unit.stream();
        let t = &mut self.timeline;
        // The parser rejects chunk times beyond MAX_TIMESTAMP_US; saturating
        // at the largest clock time keeps this total regardless.
        let raw = match unit.timestamp_us {
            Some(ts) => ts
                .saturating_sub(t.base_us)
                .saturating_mul(1000)
                .min(gst::ClockTime::MAX.nseconds()),
            None => t.last_chunk_ns.unwrap_or(0),
        };
        let pts = t.last.get(&key).map_or(raw, |&last| raw.max(last));
        t.last.insert(key, pts);
        if let Some(ts) = unit.timestamp_us {
            t.last_chunk_ns = Some(pts);
            t.last_chunk_unix_ns = Self::unix_ns_of(unit, ts);
        }
        clock_time(pts)
    }

    fn predict(
        &self,
        after: &SaysTimeline,
        unit: &SaysUnit,
    ) -> Option<(gst::ClockTime, SaysTimeline)> {
        let ts = unit.timestamp_us?;
        let since = ts.checked_sub(after.base_us)?;
        let before = SaysTimeline {
            base_us: after.base_us,
            ..Default::default()
        };
        Some((clock_time(since.checked_mul(1000)?)?, before))
    }

    fn output(
        &mut self,
        unit: SaysUnit,
        pts: Option<gst::ClockTime>,
        data: &UnitBytes,
        discont: bool,
        out: &mut Vec<Output>,
    ) {
        self.chunks += 1;
        if discont {
            self.mark_discont_all();
        }
        let key = unit.stream();
        let Some(mut buffer) = data.sub(unit.payload.clone()) else {
            return;
        };
        let unix_ns = match unit.timestamp_us {
            Some(ts) => Self::unix_ns_of(&unit, ts),
            None => self.timeline.last_chunk_unix_ns,
        };
        let stamp = |buffer: &mut gst::BufferRef, flags: gst::BufferFlags| {
            buffer.set_pts(pts);
            buffer.set_dts(pts);
            buffer.set_flags(flags);
            if let Some(time) = unix_ns.and_then(clock_time) {
                gst::ReferenceTimestampMeta::add(
                    buffer,
                    unix_time_caps(),
                    time,
                    gst::ClockTime::NONE,
                );
            }
        };
        {
            let mut flags = gst::BufferFlags::empty();
            if unit.kind.is_video() && !unit.key {
                flags |= gst::BufferFlags::DELTA_UNIT;
            }
            if self.take_discont(key) {
                flags |= gst::BufferFlags::DISCONT;
            }
            let buffer = buffer.make_mut();
            stamp(buffer, flags);
            if let Some(d) = unit.duration_ns.and_then(clock_time) {
                buffer.set_duration(d);
            }
        }
        out.push(Output {
            stream: key,
            buffer,
        });
        if let Some(meta) = unit.meta {
            if meta.incomplete {
                self.incomplete_meta += 1;
            }
            let meta_key = META_KEY_BASE + StreamKey::from(unit.camera);
            let mut buffer = gst::Buffer::from_slice(meta.json.into_bytes());
            let mut flags = gst::BufferFlags::empty();
            if self.take_discont(meta_key) {
                flags |= gst::BufferFlags::DISCONT;
            }
            stamp(buffer.make_mut(), flags);
            out.push(Output {
                stream: meta_key,
                buffer,
            });
        }
    }

    fn global_tags(&self) -> Option<gst::TagList> {
        let mut tags = gst::TagList::new();
        {
            let tags = tags.make_mut();
            self.common_tags(tags);
            let header = self.header.as_ref()?;
            let mut comment = format!("Rosco SAYS recording {}", header.file_name);
            for (key, label) in [("vehicle", "vehicle"), ("serial", "serial")] {
                if let Some(v) = self.header_str(key) {
                    comment.push_str(&format!(", {label} {v}"));
                }
            }
            tags.add::<gst::tags::Comment>(&comment.as_str(), gst::TagMergeMode::Replace);
            if let Some(json) = self.header_json() {
                let ext = format!("says-header={json}");
                tags.add::<gst::tags::ExtendedComment>(&ext.as_str(), gst::TagMergeMode::Append);
            }
            if let Some(fix) = self.first_fix {
                tags.add::<gst::tags::GeoLocationLatitude>(&fix.lat, gst::TagMergeMode::Replace);
                tags.add::<gst::tags::GeoLocationLongitude>(&fix.lon, gst::TagMergeMode::Replace);
                if let Some(alt) = fix.alt {
                    tags.add::<gst::tags::GeoLocationElevation>(&alt, gst::TagMergeMode::Replace);
                }
                if let Some(h) = fix.heading {
                    tags.add::<gst::tags::GeoLocationMovementDirection>(
                        &h,
                        gst::TagMergeMode::Replace,
                    );
                }
                if let Some(kmh) = fix.speed_kmh {
                    tags.add::<gst::tags::GeoLocationMovementSpeed>(
                        &(kmh / 3.6),
                        gst::TagMergeMode::Replace,
                    );
                }
            }
        }
        Some(tags)
    }

    fn summary(&self) -> Option<String> {
        Some(format!(
            "{} chunks in {} stream(s), {} with incomplete metadata",
            self.chunks,
            self.streams.len(),
            self.incomplete_meta
        ))
    }
}

pub struct SaysDemux {
    core: DemuxCore<SaysDriver>,
}

impl DemuxElement for SaysDemux {
    type Driver = SaysDriver;

    fn core(&self) -> &DemuxCore<SaysDriver> {
        &self.core
    }

    fn new_driver(&self) -> SaysDriver {
        SaysDriver::new()
    }
}

#[glib::object_subclass]
impl ObjectSubclass for SaysDemux {
    const NAME: &'static str = "GstSaysDemux";
    type Type = super::SaysDemux;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        Self {
            core: DemuxCore::new::<Self>(&templ),
        }
    }
}

impl ObjectImpl for SaysDemux {
    fn constructed(&self) {
        self.parent_constructed();
        self.obj()
            .add_pad(&self.core.sinkpad)
            .expect("add sink pad");
    }
}

impl GstObjectImpl for SaysDemux {}

impl ElementImpl for SaysDemux {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Rosco SAYS demuxer",
                "Codec/Demuxer",
                "Demuxes Rosco dashcam recordings (.nvr, SAYS) into H.264 per camera, mu-law or \
                 Opus audio, JPEG snapshots and per-frame telemetry JSON, on one clock, with \
                 resynchronisation over damage",
                "gst-cctv developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink = crate::common::legacy_demux::sink_pad_template(super::SINK_CAPS_NAME);
            let video = crate::common::legacy_demux::h264_src_pad_template("video_%u");
            let mut audio_caps = gst::Caps::builder("audio/x-mulaw")
                .field("rate", 8000i32)
                .field("channels", 1i32)
                .build();
            audio_caps.merge(
                gst::Caps::builder("audio/x-opus")
                    .field("rate", 48000i32)
                    .field("channels", gst::IntRange::new(1i32, 2))
                    .field("channel-mapping-family", 0i32)
                    .build(),
            );
            let audio = gst::PadTemplate::new(
                "audio_%u",
                gst::PadDirection::Src,
                gst::PadPresence::Sometimes,
                &audio_caps,
            )
            .unwrap();
            let meta = gst::PadTemplate::new(
                "meta_%u",
                gst::PadDirection::Src,
                gst::PadPresence::Sometimes,
                &gst::Caps::builder("application/x-json")
                    .field("format", "says-telemetry")
                    .build(),
            )
            .unwrap();
            let image = gst::PadTemplate::new(
                "image_%u",
                gst::PadDirection::Src,
                gst::PadPresence::Sometimes,
                &gst::Caps::new_empty_simple("image/jpeg"),
            )
            .unwrap();
            vec![sink, video, audio, meta, image]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        gst::trace!(CAT, imp = self, "Changing state {:?}", transition);
        let ret = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            self.core.reset(self.obj().upcast_ref());
        }
        Ok(ret)
    }
}
