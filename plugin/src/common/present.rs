// SPDX-License-Identifier: MIT
//! How the engine's stream descriptions, tags and packets look in
//! GStreamer: caps, tag lists, stream flags, and buffers made of
//! sub-buffers of what was read.

use crate::engine::{Codec, Packet, Part, StreamInfo, StreamKind, Tags};
use std::sync::Arc;

use super::streams::unix_time_caps;

/// Pad template name of a stream kind (the pad is named after the stream).
pub fn template_name(kind: StreamKind) -> &'static str {
    match kind {
        StreamKind::Video => "video_%u",
        StreamKind::Audio => "audio_%u",
        StreamKind::Image => "image_%u",
        StreamKind::Data => "meta_%u",
        StreamKind::Subtitle => "subtitle_%u",
    }
}

/// Why streaming stopped, for people: what a flow return means.
pub fn flow_error_text(err: gst::FlowError) -> &'static str {
    match err {
        gst::FlowError::NotLinked => "no element is linked to the output",
        gst::FlowError::NotNegotiated => {
            "the element after it does not accept the stream's format (caps not negotiated)"
        }
        gst::FlowError::Error => "an element after it failed",
        gst::FlowError::NotSupported => "an element after it does not support the operation",
        gst::FlowError::Flushing => "playback was stopped",
        gst::FlowError::Eos => "the end was reached",
        _ => "an element after it stopped the stream",
    }
}

/// The file (or URI) an element reads, as upstream reports it (URI query
/// on `sinkpad`'s peer): for messages that name the file.
pub fn upstream_file(sinkpad: &gst::Pad) -> Option<String> {
    use gst::prelude::*;
    let mut query = gst::query::Uri::new();
    if !sinkpad.peer_query(&mut query) {
        return None;
    }
    let uri = query.uri()?.to_string();
    Some(match gst::glib::filename_from_uri(&uri) {
        Ok((path, _)) => path.display().to_string(),
        Err(_) => uri,
    })
}

/// `"<file>: "` when the file is known, else nothing.
pub fn file_prefix(sinkpad: &gst::Pad) -> String {
    upstream_file(sinkpad).map_or_else(String::new, |f| format!("{f}: "))
}

/// Caps of subtitle cues.
pub fn text_caps() -> gst::Caps {
    // The marker field makes players render the cues with
    // `cctvcueoverlay` (see src/cueoverlay); muxers and other consumers of
    // `text/x-raw, format=utf8` take the caps as they are.
    gst::Caps::builder("text/x-raw")
        .field("format", "utf8")
        .field(crate::cueoverlay::CUE_FIELD, true)
        .build()
}

/// The `subtitle_%u` source pad template.
pub fn subtitle_pad_template() -> gst::PadTemplate {
    gst::PadTemplate::new(
        template_name(StreamKind::Subtitle),
        gst::PadDirection::Src,
        gst::PadPresence::Sometimes,
        &text_caps(),
    )
    .expect("subtitle pad template")
}

/// The last part of a stream's stream-id. decodebin (and so playbin, which
/// shows the first video it exposes, and the discoverer's listing) orders
/// decoded streams of one media type by stream-id, as strings:
/// - snapshots decode to video too, so their id must sort after every
///   camera's (`video_000` < `video_snapshots_000`);
/// - camera numbers are zero-padded to three digits (PAVS channels are one
///   byte, SAYS cameras two digits), so that camera 9 (`video_009`) comes
///   before camera 10 (`video_010`): as `video_9` and `video_10` players
///   showed camera 10 first.
///
/// Everything else is named like its pad (whose name keeps the file's
/// number: `video_9`).
pub fn stream_id_name(info: &StreamInfo) -> String {
    let name = match info.id.kind {
        StreamKind::Image => format!("video_snapshots_{}", info.id.number),
        _ => info.name.clone(),
    };
    match name.rsplit_once('_') {
        Some((head, number))
            if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{head}_{number:0>3}")
        }
        _ => name,
    }
}

/// Caps of a stream.
pub fn caps(info: &StreamInfo) -> gst::Caps {
    let mut caps = match &info.codec {
        Codec::H264 { profile, level } => {
            let mut b = gst::Caps::builder("video/x-h264")
                .field("stream-format", "byte-stream")
                .field("alignment", "au");
            if let Some(p) = profile {
                b = b.field("profile", *p);
            }
            if let Some(l) = level {
                b = b.field("level", *l);
            }
            b.build()
        }
        Codec::H265 => gst::Caps::builder("video/x-h265")
            .field("stream-format", "byte-stream")
            .field("alignment", "au")
            .build(),
        Codec::Mulaw { rate, channels } => gst::Caps::builder("audio/x-mulaw")
            .field("rate", i32::try_from(*rate).unwrap_or(8000))
            .field("channels", i32::try_from(*channels).unwrap_or(1))
            .build(),
        Codec::Opus { rate, channels } => gst::Caps::builder("audio/x-opus")
            .field("rate", i32::try_from(*rate).unwrap_or(48000))
            .field("channels", i32::try_from(*channels).unwrap_or(1))
            .field("channel-mapping-family", 0i32)
            .build(),
        Codec::Jpeg => gst::Caps::new_empty_simple("image/jpeg"),
        Codec::Json { schema } => gst::Caps::builder("application/x-json")
            .field("format", *schema)
            .build(),
        Codec::Text => text_caps(),
    };
    let caps_mut = caps.make_mut();
    let Some(s) = caps_mut.structure_mut(0) else {
        return caps;
    };
    if let (Some(w), Some(h)) = (info.width, info.height)
        && let (Ok(w), Ok(h)) = (i32::try_from(w), i32::try_from(h))
        && w > 0
        && h > 0
    {
        s.set("width", w);
        s.set("height", h);
    }
    if let Some((n, d)) = info.pixel_aspect
        && let (Ok(n), Ok(d)) = (i32::try_from(n), i32::try_from(d))
        && n > 0
        && d > 0
    {
        s.set("pixel-aspect-ratio", gst::Fraction::new(n, d));
    }
    if let Some((n, d)) = info.framerate
        && let (Ok(n), Ok(d)) = (i32::try_from(n), i32::try_from(d))
        && d > 0
    {
        s.set("framerate", gst::Fraction::new(n, d));
    }
    caps
}

/// A tag string: GStreamer strings cannot hold NUL bytes, so text stops
/// at the first one.
fn tag_text(text: &str) -> &str {
    text.split('\0').next().unwrap_or_default()
}

/// A date-time from µs since the Unix epoch, in the time zone `offset_min`
/// minutes east of UTC when given (and plausible), else in UTC.
fn start_date_time(unix_us: i64, offset_min: Option<i32>) -> Option<gst::DateTime> {
    let local = offset_min
        .filter(|m| m.abs() <= 16 * 60)
        .and_then(|minutes| {
            let utc = gst::glib::DateTime::from_unix_utc(unix_us.div_euclid(1_000_000))
                .ok()?
                .add(gst::glib::TimeSpan::from_microseconds(
                    unix_us.rem_euclid(1_000_000),
                ))
                .ok()?;
            let sign = if minutes < 0 { '-' } else { '+' };
            let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
            let tz = gst::glib::TimeZone::new(Some(&format!("{sign}{h:02}:{m:02}")));
            utc.to_timezone(&tz).ok()
        });
    match local {
        Some(dt) => Some(gst::DateTime::from_g_date_time(dt)),
        None => gst::DateTime::from_unix_epoch_utc_usecs(unix_us).ok(),
    }
}

/// Tags as a GStreamer tag list.
pub fn tag_list(tags: &Tags) -> gst::TagList {
    let mut list = gst::TagList::new();
    {
        let l = list.make_mut();
        let replace = gst::TagMergeMode::Replace;
        if let Some(t) = &tags.title {
            l.add::<gst::tags::Title>(&tag_text(t), replace);
        }
        if let Some(t) = &tags.comment {
            l.add::<gst::tags::Comment>(&tag_text(t), replace);
        }
        if let Some(t) = tags.container_format {
            l.add::<gst::tags::ContainerFormat>(&t, replace);
        }
        if let Some(t) = tags.video_codec {
            l.add::<gst::tags::VideoCodec>(&t, replace);
        }
        if let Some(t) = tags.audio_codec {
            l.add::<gst::tags::AudioCodec>(&t, replace);
        }
        if let Some(t) = tags.subtitle_codec {
            l.add::<gst::tags::SubtitleCodec>(&t, replace);
        }
        if let Some(dt) = tags
            .start_unix_us
            .and_then(|us| start_date_time(us, tags.start_utc_offset_min))
        {
            l.add::<gst::tags::DateTime>(&dt, replace);
        }
        if let Some(t) = &tags.device_manufacturer {
            l.add::<gst::tags::DeviceManufacturer>(&tag_text(t), replace);
        }
        if let Some(t) = &tags.device_model {
            l.add::<gst::tags::DeviceModel>(&tag_text(t), replace);
        }
        if let Some(t) = &tags.encoder {
            l.add::<gst::tags::Encoder>(&tag_text(t), replace);
        }
        if let Some(t) = &tags.application {
            l.add::<gst::tags::ApplicationName>(&tag_text(t), replace);
        }
        if let Some((lat, lon, alt)) = tags.location {
            l.add::<gst::tags::GeoLocationLatitude>(&lat, replace);
            l.add::<gst::tags::GeoLocationLongitude>(&lon, replace);
            if let Some(alt) = alt {
                l.add::<gst::tags::GeoLocationElevation>(&alt, replace);
            }
        }
        if let Some(h) = tags.heading {
            l.add::<gst::tags::GeoLocationMovementDirection>(&h, replace);
        }
        if let Some(v) = tags.speed_mps {
            l.add::<gst::tags::GeoLocationMovementSpeed>(&v, replace);
        }
        for ext in &tags.extended {
            l.add::<gst::tags::ExtendedComment>(&tag_text(ext), gst::TagMergeMode::Append);
        }
    }
    list
}

/// Caps for length-prefixed H.264 (`stream-format=avc`) with a decoder
/// config built from the stream's parameter sets, for downstream elements
/// that take no byte-stream (muxers without a parser in front). `None`
/// when the parameter sets are not known up front.
pub fn avc_caps(info: &StreamInfo) -> Option<gst::Caps> {
    if !matches!(info.codec, Codec::H264 { .. }) {
        return None;
    }
    let config = crate::h264::avc_decoder_config(info.codec_config.as_deref()?)?;
    let mut caps = caps(info);
    let s = caps.make_mut().structure_mut(0)?;
    s.set("stream-format", "avc");
    s.set("codec_data", gst::Buffer::from_mut_slice(config));
    Some(caps)
}

/// Byte-stream is the default; a peer that takes only length-prefixed H.264
/// (a muxer with no parser in front) gets `stream-format=avc`. Called once
/// the pad is added and linked; `None` keeps the default caps.
pub fn negotiate_avc(pad: &gst::Pad, info: &StreamInfo) -> Option<gst::Caps> {
    use gst::prelude::*;
    let avc_caps = avc_caps(info)?;
    let peer = pad.peer()?.query_caps(None);
    if peer.can_intersect(&caps(info)) || !peer.can_intersect(&avc_caps) {
        return None;
    }
    Some(avc_caps)
}

/// Stream-start flags of a stream: sparse streams are SPARSE; snapshots
/// are also UNSELECT (never shown by default: a camera is).
pub fn stream_flags(info: &StreamInfo) -> gst::StreamFlags {
    let mut flags = gst::StreamFlags::empty();
    if info.sparse {
        flags |= gst::StreamFlags::SPARSE;
    }
    if info.id.kind == StreamKind::Image {
        flags |= gst::StreamFlags::UNSELECT;
    }
    flags
}

/// A read chunk: a mapped buffer of the input, shared by the sub-buffers
/// cut from it.
#[derive(Clone)]
pub struct GstChunk(pub Arc<gst::MappedBuffer<gst::buffer::Readable>>);

impl GstChunk {
    pub fn new(buffer: gst::Buffer) -> Option<Self> {
        Some(Self(Arc::new(buffer.into_mapped_buffer_readable().ok()?)))
    }
}

impl crate::engine::Chunk for GstChunk {
    fn bytes(&self) -> &[u8] {
        self.0.as_slice()
    }
    fn from_vec(bytes: Vec<u8>) -> Self {
        let buffer = gst::Buffer::from_mut_slice(bytes);
        Self(Arc::new(
            buffer
                .into_mapped_buffer_readable()
                .unwrap_or_else(|_| unreachable_mapping()),
        ))
    }
}

/// Mapping a fresh system-memory buffer for reading cannot fail; should it
/// ever, an empty buffer stands in.
fn unreachable_mapping() -> gst::MappedBuffer<gst::buffer::Readable> {
    gst::Buffer::new()
        .into_mapped_buffer_readable()
        .expect("an empty buffer maps")
}

/// Turns packets into buffers: payload parts become sub-buffers of the
/// read chunks (no copy); bytes the format shares become one GStreamer
/// memory each, reused for every buffer.
#[derive(Default)]
pub struct BufferMaker {
    shared: Vec<(Arc<[u8]>, gst::Memory)>,
}

/// Largest running time handed to GStreamer (ClockTime::NONE is u64::MAX).
const MAX_CLOCK_NS: u64 = crate::engine::demuxer::MAX_RUNNING_TIME;

pub fn clock_time(ns: u64) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(ns.min(MAX_CLOCK_NS))
}

impl BufferMaker {
    fn shared_memory(&mut self, bytes: &Arc<[u8]>) -> gst::Memory {
        if let Some((_, mem)) = self.shared.iter().find(|(b, _)| Arc::ptr_eq(b, bytes)) {
            return mem.clone();
        }
        let mem = gst::Memory::from_slice(ArcBytes(bytes.clone()));
        if self.shared.len() >= 32 {
            self.shared.remove(0);
        }
        self.shared.push((bytes.clone(), mem.clone()));
        mem
    }

    /// The buffer of a packet, always **one memory** (one contiguous access
    /// unit): GStreamer 1.22's buffered `filesink` corrupts its output when
    /// one buffer's memories cross the 1024-iovec boundary of a `writev`
    /// (a muxer passes our buffers on as they are), and several memories per
    /// buffer buy nothing downstream. A payload that is one range of a read
    /// chunk (or one shared/owned allocation) goes out without a copy;
    /// payloads made of several parts (start codes or parameter sets in front
    /// of what was read) are copied into one allocation.
    ///
    /// `avc`: length-prefixed NAL units instead of Annex-B, copied into one
    /// memory (the 4-byte lengths cannot be put in front of the read bytes
    /// in place); made-up parameter sets are left out, they are in
    /// `codec_data`.
    pub fn buffer(&mut self, packet: Packet<GstChunk>, avc: bool) -> Option<gst::Buffer> {
        let memory = if avc {
            Some(gst::Memory::from_mut_slice(avc_bytes(&packet.parts)?))
        } else {
            self.byte_stream_memory(&packet.parts)?
        };
        let mut buffer = gst::Buffer::new();
        {
            let b = buffer.get_mut()?;
            if let Some(memory) = memory {
                b.append_memory(memory);
            }
            b.set_pts(packet.pts.map(clock_time));
            b.set_dts(packet.dts.map(clock_time));
            b.set_duration(packet.duration.map(clock_time));
            let mut flags = gst::BufferFlags::empty();
            if !packet.key {
                flags |= gst::BufferFlags::DELTA_UNIT;
            }
            if packet.discont {
                flags |= gst::BufferFlags::DISCONT;
            }
            b.set_flags(flags);
            if let Some(wall) = packet.wallclock_ns.filter(|&w| w <= MAX_CLOCK_NS) {
                gst::ReferenceTimestampMeta::add(
                    b,
                    unix_time_caps(),
                    gst::ClockTime::from_nseconds(wall),
                    gst::ClockTime::NONE,
                );
            }
        }
        Some(buffer)
    }

    /// The payload as one memory (`Some(None)`: no payload): zero-copy when
    /// it is one part (adjacent ranges of one read chunk count as one), else
    /// one copy of every part. `None`: a read range could not be cut.
    fn byte_stream_memory(&mut self, parts: &[Part<GstChunk>]) -> Option<Option<gst::Memory>> {
        Some(Some(match parts {
            [] => return Some(None),
            [Part::Shared(bytes)] => self.shared_memory(bytes),
            [Part::Owned(bytes)] => gst::Memory::from_slice(bytes.clone()),
            _ => {
                if let Some((chunk, range)) = one_read_range(parts) {
                    return Some(Some(read_memory(chunk, range)?));
                }
                let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.bytes().len()).sum());
                for part in parts {
                    bytes.extend_from_slice(part.bytes());
                }
                gst::Memory::from_mut_slice(bytes)
            }
        }))
    }
}

/// The range of the read chunk that `parts` cover, when they are ranges of
/// one chunk that follow each other without a hole.
fn one_read_range(parts: &[Part<GstChunk>]) -> Option<(&GstChunk, std::ops::Range<usize>)> {
    let mut out: Option<(&GstChunk, std::ops::Range<usize>)> = None;
    for part in parts {
        let Part::Read { chunk, range } = part else {
            return None;
        };
        out = match out {
            None => Some((chunk, range.clone())),
            Some((c, r)) if Arc::ptr_eq(&c.0, &chunk.0) && r.end == range.start => {
                Some((c, r.start..range.end))
            }
            Some(_) => return None,
        };
    }
    out
}

/// A range of a read chunk as one memory, sharing the chunk's bytes.
fn read_memory(chunk: &GstChunk, range: std::ops::Range<usize>) -> Option<gst::Memory> {
    let sub = chunk
        .0
        .buffer()
        .copy_region(gst::BufferCopyFlags::MEMORY, range)
        .ok()?;
    match sub.n_memory() {
        1 => Some(sub.peek_memory(0).to_owned()),
        // A read buffer made of several memories: one copy.
        _ => Some(gst::Memory::from_mut_slice(
            sub.map_readable().ok()?.as_slice().to_vec(),
        )),
    }
}

/// The NAL units of Annex-B `parts`, length-prefixed (4 bytes, big-endian)
/// in one allocation. Made-up parameter sets (`Shared`/`Owned` parts: PAVS)
/// are left out, they are in the decoder config; in-band ones of the read
/// bytes (SAYS) stay.
fn avc_bytes(parts: &[Part<GstChunk>]) -> Option<Vec<u8>> {
    use crate::h264::annexb_nal_ranges;
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.bytes().len() + 4).sum());
    for part in parts {
        let bytes = part.bytes();
        let made_up = !matches!(part, Part::Read { .. });
        for nal in annexb_nal_ranges(bytes) {
            let unit = &bytes[nal];
            if made_up && unit.first().is_some_and(|h| matches!(h & 0x1f, 7 | 8)) {
                continue;
            }
            out.extend_from_slice(&u32::try_from(unit.len()).ok()?.to_be_bytes());
            out.extend_from_slice(unit);
        }
    }
    Some(out)
}

/// Shared bytes as GStreamer memory without a copy.
struct ArcBytes(Arc<[u8]>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
