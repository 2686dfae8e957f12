// SPDX-License-Identifier: MIT
//! What a container format supplies to the engine ([`Format`]), and what
//! the engine hands to front ends: stream descriptions and packets.

use super::bytes::Chunk;
use super::error::HeaderError;
use std::ops::Range;
use std::sync::Arc;

/// What a format found at the start of some bytes.
#[derive(Debug)]
pub enum Parsed<U> {
    /// A valid unit of `len` bytes.
    Unit(U, usize),
    /// Known filler (e.g. zero padding) of this many bytes: skip silently.
    Skip(usize),
    /// This many bytes from here are needed to decide (at most the format's
    /// maximum unit length).
    NeedMore(usize),
    /// Not a unit: resynchronise.
    Invalid,
}

/// The running time a unit gets, and whether it breaks continuity (a jump
/// the timeline decided on: the unit's packets are flagged discontinuous).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Running time (ns).
    pub pts: u64,
    pub discont: bool,
}

impl Stamp {
    /// A running time that continues what came before.
    pub const fn at(pts: u64) -> Self {
        Self {
            pts,
            discont: false,
        }
    }
}

/// The kind of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamKind {
    Video,
    Audio,
    /// Still pictures at irregular times (snapshots): a sparse stream.
    Image,
    /// Structured per-frame data (telemetry).
    Data,
    /// On-screen text (capture time, speed, position), a cue per second
    /// of the video stream with the same number.
    Subtitle,
}

/// Identifies a stream of one input: its kind and the number the file gives
/// it (camera channel, stream digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub kind: StreamKind,
    pub number: u32,
}

impl StreamId {
    pub const fn new(kind: StreamKind, number: u32) -> Self {
        Self { kind, number }
    }
}

/// Codec facts of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Codec {
    /// Annex-B access units.
    H264 {
        /// Profile and level when the format fixes them (e.g. "baseline", "3").
        profile: Option<&'static str>,
        level: Option<&'static str>,
    },
    H265,
    /// G.711 mu-law.
    Mulaw {
        rate: u32,
        channels: u32,
    },
    /// One Opus packet per packet, mapping family 0.
    Opus {
        rate: u32,
        channels: u32,
    },
    Jpeg,
    /// One JSON object per packet; `schema` names its fields.
    Json {
        schema: &'static str,
    },
    /// UTF-8 text, one subtitle cue per packet (no NUL, no markup).
    Text,
}

/// Descriptive metadata (of a stream or of the whole input).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tags {
    pub title: Option<String>,
    pub comment: Option<String>,
    pub container_format: Option<&'static str>,
    pub video_codec: Option<&'static str>,
    pub audio_codec: Option<&'static str>,
    pub subtitle_codec: Option<&'static str>,
    /// Start of the recording, µs since the Unix epoch (UTC).
    pub start_unix_us: Option<i64>,
    /// Offset of the recorder's local time from UTC (minutes): the start
    /// is presented in that time zone. `None`: UTC.
    pub start_utc_offset_min: Option<i32>,
    pub device_manufacturer: Option<String>,
    pub device_model: Option<String>,
    /// The recorder's own identity (serial number, else vehicle name),
    /// where the file records one: what tells two dashcams apart.
    pub device_serial: Option<String>,
    pub encoder: Option<String>,
    pub application: Option<String>,
    /// Latitude, longitude (degrees), elevation (m).
    pub location: Option<(f64, f64, Option<f64>)>,
    /// Heading (degrees) and speed (m/s) at the start.
    pub heading: Option<f64>,
    pub speed_mps: Option<f64>,
    /// `key=value` comments (e.g. the whole file header as JSON).
    pub extended: Vec<String>,
}

/// Everything a front end needs to present one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    pub id: StreamId,
    /// Stable, file-derived name (GStreamer pad name), e.g. `video_9`.
    pub name: String,
    pub codec: Codec,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub pixel_aspect: Option<(u32, u32)>,
    /// Nominal frame rate (timestamps come from the file).
    pub framerate: Option<(u32, u32)>,
    /// Sparse streams (snapshots) have long stretches with no packet.
    pub sparse: bool,
    /// H.264/H.265: the parameter sets (Annex-B) when known up front, so
    /// front ends can offer length-prefixed output with a decoder config.
    pub codec_config: Option<Arc<[u8]>>,
    pub tags: Tags,
}

/// The bytes of one unit: a range of a chunk that was read. Payloads are
/// cut out of it without copying.
pub struct UnitData<C> {
    pub chunk: C,
    pub range: Range<usize>,
}

impl<C: Chunk> UnitData<C> {
    pub fn bytes(&self) -> &[u8] {
        &self.chunk.bytes()[self.range.clone()]
    }
    pub fn len(&self) -> usize {
        self.range.len()
    }
    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }
    /// A part referring to `range` of the unit (relative to its start);
    /// `None` if it does not lie inside the unit.
    pub fn part(&self, range: Range<usize>) -> Option<Part<C>> {
        if range.start > range.end || range.end > self.range.len() {
            return None;
        }
        Some(Part::Read {
            chunk: self.chunk.clone(),
            range: self.range.start + range.start..self.range.start + range.end,
        })
    }
}

/// Where [`Format::packets`] puts its packets. Streams the front end
/// discarded (a subtitle pad linked to nothing, an ES nobody selected) are
/// dropped here, and formats ask [`PacketSink::wants`] before making what
/// costs (cue text per frame was a measurable share of pavsdemux's time).
pub struct PacketSink<'a, C> {
    packets: &'a mut Vec<Packet<C>>,
    discarded: &'a [StreamId],
}

impl<'a, C> PacketSink<'a, C> {
    pub fn new(packets: &'a mut Vec<Packet<C>>, discarded: &'a [StreamId]) -> Self {
        Self { packets, discarded }
    }

    /// Whether a packet of `stream` would be kept.
    pub fn wants(&self, stream: StreamId) -> bool {
        !self.discarded.contains(&stream)
    }

    pub fn push(&mut self, packet: Packet<C>) {
        if self.wants(packet.stream) {
            self.packets.push(packet);
        }
    }
}

/// One piece of a packet's payload.
#[derive(Clone)]
pub enum Part<C> {
    /// Bytes of the input, as read.
    Read { chunk: C, range: Range<usize> },
    /// Bytes the format made up and shares between packets (parameter
    /// sets, start codes). Front ends may cache one wrapper per allocation.
    Shared(Arc<[u8]>),
    /// Bytes made for this packet alone (telemetry JSON).
    Owned(Vec<u8>),
}

impl<C: Chunk> Part<C> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Part::Read { chunk, range } => &chunk.bytes()[range.clone()],
            Part::Shared(b) => b,
            Part::Owned(b) => b,
        }
    }
}

/// Where a packet's payload lies in what was read: the evidence trail of a
/// frame (an export's frame table names it, `verify` reads it again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file, for sources made of several files (an rf1 track's packet
    /// file); `None`: the input the source was opened on.
    pub file: Option<std::sync::Arc<std::path::Path>>,
    /// From the first to the last payload byte read from that file (made-up
    /// bytes such as synthesized parameter sets are not in it).
    pub offset: u64,
    pub len: u64,
}

/// One timestamped piece of one stream.
pub struct Packet<C> {
    pub stream: StreamId,
    /// Running time (ns from the start of the recording), never decreasing
    /// per stream. `None`: untimed.
    pub pts: Option<u64>,
    pub dts: Option<u64>,
    pub duration: Option<u64>,
    /// Decoding can start here.
    pub key: bool,
    /// Something was lost or skipped before this packet.
    pub discont: bool,
    /// Capture time, ns since the Unix epoch (UTC), when known.
    pub wallclock_ns: Option<u64>,
    pub parts: Vec<Part<C>>,
    /// Where the payload was read from; `None` for packets made up whole
    /// (cues, telemetry).
    pub origin: Option<Origin>,
    /// What the recorder logged with this frame (SAYS video: speed, GPS…),
    /// typed; `None` for other packets.
    pub telemetry: Option<Box<crate::engine::telemetry::Telemetry>>,
}

impl<C: Chunk> Packet<C> {
    pub fn size(&self) -> usize {
        self.parts.iter().map(|p| p.bytes().len()).sum()
    }
    /// The payload as one vector (copies: for tests and tools).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.size());
        for p in &self.parts {
            v.extend_from_slice(p.bytes());
        }
        v
    }
}

/// The format-specific part of a demuxer: parsing units, streams, the
/// timeline, and turning units into packets. The engine does the rest.
pub trait Format: Send + 'static {
    type Unit: Send + 'static;
    /// Timeline state, saved at seek points so that playback can resume
    /// there with the timestamps sequential playback gives.
    type Timeline: Clone + Send + 'static;

    /// Human-readable format name for messages, e.g. "PAVS (VMax .psf)".
    fn name(&self) -> &'static str;
    /// Length of a fixed file header at offset 0 (0 if none).
    fn file_header_len(&self) -> usize {
        0
    }
    fn parse_file_header(&mut self, _data: &[u8]) -> Result<(), HeaderError> {
        Ok(())
    }
    /// Upper bound of any unit's length (and of any look-ahead): no read is
    /// ever larger.
    fn max_unit_len(&self) -> usize;
    fn parse_unit(&self, data: &[u8], at_eof: bool) -> Parsed<Self::Unit>;
    /// Bytes of `unit` that carry content (the rest of its `len` is
    /// padding). When the next unit is not where `len` says, resync
    /// searches from here, so a unit whose padding was cut short is found.
    fn content_len(&self, _unit: &Self::Unit, len: usize) -> usize {
        len
    }
    /// Offset (>= 1) of the next place in `data` where a unit may start;
    /// `data` starts at a rejected position.
    fn find_resync(&self, data: &[u8]) -> Option<usize>;
    /// Bytes the windows of the resync scan share: at least what
    /// [`Format::find_resync`] needs after a start to recognise it (a
    /// magic's length), so a start across one window's end is found in the
    /// next, whose first byte counts as rejected.
    fn resync_margin(&self) -> usize;
    /// Whether decoding of the unit's stream may start at this unit.
    fn is_seek_point(&self, unit: &Self::Unit) -> bool;

    /// The capture time (Unix ns) a unit carries by itself, without the
    /// timeline: what the catalog reads from a file's tail
    /// ([`Demuxer::tail_capture_times`](crate::engine::demuxer::Demuxer::tail_capture_times)).
    /// `None`: the unit has none.
    fn capture_time_ns(&self, _unit: &Self::Unit) -> Option<u64> {
        None
    }
    /// The stream a unit belongs to, if it produces output. Notes nothing:
    /// seek and duration probes ask it of units that are never output.
    fn stream_of(&self, unit: &Self::Unit) -> Option<StreamId>;
    /// Every stream a unit produces output on (e.g. video plus its cues).
    fn streams_of(&self, unit: &Self::Unit) -> Vec<StreamId> {
        self.stream_of(unit).into_iter().collect()
    }
    /// A unit read in sequence: each once, in file order, before it is
    /// timed (never a probe's). Formats note here what
    /// [`Format::stream_info`] and [`Format::global_tags`] need, so a
    /// stream is described by the units the front end gets.
    fn note(&mut self, _unit: &Self::Unit) {}
    /// Whether a unit carries no time of its own (it takes the time of the
    /// units before it). Bisection steps over such units.
    fn is_untimed(&self, _unit: &Self::Unit) -> bool {
        false
    }
    /// The stream whose timeline a unit continues, noting nothing (used
    /// for the duration: the end of the stream that ends last). `None`:
    /// all units count as one stream.
    fn timing_stream(&self, _unit: &Self::Unit) -> Option<StreamId> {
        None
    }
    /// How long a unit lasts (ns), when the format knows it (audio);
    /// otherwise the step to the stream's next unit is its duration.
    fn unit_duration(&self, _unit: &Self::Unit) -> Option<u64> {
        None
    }
    fn stream_info(&self, id: StreamId) -> Option<StreamInfo>;
    /// Called once the first units are known (discovery is over), before
    /// any of them gets a time.
    fn start_timeline(&mut self, first_units: &[&Self::Unit]);
    fn timeline(&self) -> Self::Timeline;
    fn set_timeline(&mut self, timeline: Self::Timeline);
    /// Gives `unit` its running time (ns), with whether the timeline broke
    /// continuity there, and advances the timeline. `None`: untimed.
    fn assign_time(&mut self, unit: &Self::Unit) -> Option<Stamp>;
    /// The running time `unit` would get if it directly followed `after`,
    /// and the timeline to restore right before it. `None` when that cannot
    /// be predicted (time went backwards).
    fn predict(&self, after: &Self::Timeline, unit: &Self::Unit) -> Option<(u64, Self::Timeline)>;
    /// Turns a unit into packets. `pts` is what [`Format::assign_time`]
    /// gave; `discont`: something was lost or skipped before the unit
    /// (damage, a seek, the start, or the timeline's own discontinuity).
    fn packets<C: Chunk>(
        &mut self,
        unit: Self::Unit,
        pts: Option<u64>,
        data: &UnitData<C>,
        discont: bool,
        out: &mut PacketSink<'_, C>,
    );
    /// Metadata of the whole input, known once the first units are.
    fn global_tags(&self) -> Option<Tags> {
        None
    }
    /// A one-line account for the debug log at the end.
    fn summary(&self) -> Option<String> {
        None
    }
}
