// SPDX-License-Identifier: MIT
//! VMax PAVS (`.psf`) for the engine: one H.264 stream per camera channel,
//! parameter sets made up from the picture size in front of every key
//! frame, per-channel timelines on one origin.

use crate::engine::bytes::Chunk;
use crate::engine::format::{
    Codec, Format, Packet, PacketSink, Parsed, Part, Stamp, StreamId, StreamInfo, StreamKind, Tags,
    UnitData,
};
use crate::engine::subtitle;
use crate::engine::timeline::{DEFAULT_MAX_GAP_NS, GAP_NS, Timeline};
use crate::engine::zone::Zone;
use crate::formats::pavs::{self, BlockHeader, BlockParse};
use crate::h264::{BaselineParams, Vui, VuiHints, analog_pixel_aspect_ratio};
use std::sync::Arc;

/// Options of the PAVS format.
#[derive(Debug, Clone)]
pub struct PavsOptions {
    /// Compact forward gaps in capture time longer than this (ns); `None`
    /// keeps real time. Default: [`DEFAULT_MAX_GAP_NS`] (10 s), the one
    /// default of every front end.
    pub max_gap: Option<u64>,
    /// Put pixel aspect, full range and BT.601 colours in the generated
    /// SPS's VUI.
    pub display_hints: bool,
    /// A subtitle stream per camera (`subtitle_<channel>`) with the capture
    /// time, one cue per frame.
    pub subtitles: bool,
    /// The zone cue times are shown in (default: UTC, as the file stores).
    /// How far the recorder's clock was ahead of true time (ns): cues
    /// show the corrected time.
    pub clock_offset_ns: i64,
    pub timezone: Option<Zone>,
}

impl Default for PavsOptions {
    fn default() -> Self {
        Self {
            max_gap: Some(DEFAULT_MAX_GAP_NS),
            display_hints: true,
            subtitles: true,
            timezone: None,
            clock_offset_ns: 0,
        }
    }
}

/// What is known about one camera channel.
struct Channel {
    id: u8,
    camera_name: String,
    width: u16,
    height: u16,
    first_capture_ns: u64,
    /// Typical spacing of frames (median of the first forward steps).
    frame_interval_ns: Option<u64>,
    /// SPS + PPS for the current picture size, shared by every key frame.
    parameter_sets: Option<Arc<[u8]>>,
    parameter_sets_size: (u16, u16),
}

/// Per-channel timelines sharing one origin, so that cameras stay in sync.
/// A small vector: cloned into seek-index snapshots.
#[derive(Clone, Debug)]
pub struct Timelines {
    origin: u64,
    max_gap: Option<u64>,
    lines: Vec<(u8, Timeline)>,
}

impl Timelines {
    fn line(&mut self, channel: u8) -> &mut Timeline {
        let i = match self.lines.iter().position(|(c, _)| *c == channel) {
            Some(i) => i,
            None => {
                self.lines
                    .push((channel, Timeline::starting_at(self.origin, self.max_gap)));
                self.lines.len() - 1
            }
        };
        &mut self.lines[i].1
    }
}

pub struct Pavs {
    options: PavsOptions,
    channels: Vec<Channel>,
    timelines: Timelines,
    blocks: u64,
    /// Per channel: which frames get a capture-time cue.
    cue_gates: subtitle::CueGates,
}

impl Pavs {
    pub fn new(options: PavsOptions) -> Self {
        Self {
            channels: Vec::new(),
            timelines: Timelines {
                origin: 0,
                max_gap: options.max_gap.filter(|&g| g > 0),
                lines: Vec::new(),
            },
            options,
            blocks: 0,
            cue_gates: subtitle::CueGates::default(),
        }
    }

    fn channel(&self, id: u8) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    fn parameter_sets_for(&self, width: u16, height: u16) -> Option<Arc<[u8]>> {
        let params = BaselineParams::for_size(width.into(), height.into())?;
        let (par_n, par_d) = analog_pixel_aspect_ratio(width.into(), height.into());
        // Always declare that nothing is reordered (decoders output each
        // picture at once); pixel aspect and colours only with display hints.
        let vui = Vui {
            hints: self.options.display_hints.then_some(VuiHints {
                sample_aspect: (par_n as u16, par_d as u16),
                full_range: true,
            }),
            no_reordering: true,
        };
        let mut bytes = params.sps(Some(vui));
        bytes.extend_from_slice(&params.pps());
        Some(Arc::from(bytes))
    }

    fn parameter_sets(&mut self, header: &BlockHeader) -> Option<Arc<[u8]>> {
        let size = (header.width, header.height);
        let channel = self.channel(header.channel)?;
        if channel.parameter_sets.is_none() || channel.parameter_sets_size != size {
            let fresh = self.parameter_sets_for(header.width, header.height);
            let channel = self.channels.iter_mut().find(|c| c.id == header.channel)?;
            channel.parameter_sets = fresh;
            channel.parameter_sets_size = size;
        }
        self.channel(header.channel)?.parameter_sets.clone()
    }
}

fn video(channel: u8) -> StreamId {
    StreamId::new(StreamKind::Video, channel.into())
}

impl Format for Pavs {
    type Unit = BlockHeader;
    type Timeline = Timelines;

    fn name(&self) -> &'static str {
        "PAVS (VMax .psf)"
    }

    fn max_unit_len(&self) -> usize {
        pavs::MAX_BLOCK_LEN
    }

    fn parse_unit(&self, data: &[u8], _at_eof: bool) -> Parsed<BlockHeader> {
        match pavs::parse_block(data) {
            BlockParse::Block(header) => {
                let len = header.block_len;
                Parsed::Unit(header, len)
            }
            BlockParse::NeedMore(n) => Parsed::NeedMore(n),
            BlockParse::Invalid(_) => Parsed::Invalid,
        }
    }

    fn content_len(&self, unit: &BlockHeader, len: usize) -> usize {
        unit.payload_range().end.min(len)
    }

    fn find_resync(&self, data: &[u8]) -> Option<usize> {
        pavs::find_magic(data, 1)
    }

    fn resync_margin(&self) -> usize {
        // find_magic finds a magic once its 4 bytes are there.
        pavs::MAGIC.len()
    }

    fn is_seek_point(&self, unit: &BlockHeader) -> bool {
        unit.key
    }

    fn capture_time_ns(&self, unit: &BlockHeader) -> Option<u64> {
        Some(unit.capture_time_ns())
    }

    fn stream_of(&self, unit: &BlockHeader) -> Option<StreamId> {
        Some(video(unit.channel))
    }

    fn note(&mut self, unit: &BlockHeader) {
        if self.channel(unit.channel).is_none() {
            self.channels.push(Channel {
                id: unit.channel,
                camera_name: unit.camera_name.clone(),
                width: unit.width,
                height: unit.height,
                first_capture_ns: unit.capture_time_ns(),
                frame_interval_ns: None,
                parameter_sets: None,
                parameter_sets_size: (0, 0),
            });
        }
    }

    fn timing_stream(&self, unit: &BlockHeader) -> Option<StreamId> {
        Some(video(unit.channel))
    }

    fn streams_of(&self, unit: &BlockHeader) -> Vec<StreamId> {
        let mut ids: Vec<StreamId> = self.stream_of(unit).into_iter().collect();
        if self.options.subtitles {
            ids.push(subtitle::stream_for(video(unit.channel)));
        }
        ids
    }

    fn stream_info(&self, id: StreamId) -> Option<StreamInfo> {
        let channel_id = u8::try_from(id.number).ok()?;
        let channel = self.channel(channel_id)?;
        if id.kind == StreamKind::Subtitle {
            return Some(subtitle::stream_info(
                id,
                format!("subtitle_{channel_id}"),
                format!(
                    "{} [{:02}]: capture time (UTC)",
                    channel.camera_name, channel_id
                ),
                Tags {
                    container_format: Some("VMax PAVS"),
                    start_unix_us: i64::try_from(channel.first_capture_ns / 1000).ok(),
                    ..Tags::default()
                },
            ));
        }
        if id.kind != StreamKind::Video {
            return None;
        }
        let par = analog_pixel_aspect_ratio(channel.width.into(), channel.height.into());
        Some(StreamInfo {
            id,
            name: format!("video_{channel_id}"),
            codec: Codec::H264 {
                profile: Some("baseline"),
                level: Some("3"),
            },
            width: Some(channel.width.into()),
            height: Some(channel.height.into()),
            pixel_aspect: Some(par),
            framerate: Some(nominal_framerate(channel.frame_interval_ns)),
            sparse: false,
            codec_config: self.parameter_sets_for(channel.width, channel.height),
            tags: Tags {
                title: Some(format!("{} [{:02}]", channel.camera_name, channel_id)),
                comment: Some(format!(
                    "VMax DVR camera \"{}\", channel {}",
                    channel.camera_name, channel_id
                )),
                container_format: Some("VMax PAVS"),
                video_codec: Some("H.264"),
                start_unix_us: i64::try_from(channel.first_capture_ns / 1000).ok(),
                ..Tags::default()
            },
        })
    }

    fn start_timeline(&mut self, first_units: &[&BlockHeader]) {
        // The earliest first frame of any channel is running time zero.
        let mut steps: Vec<(u8, u64, Vec<u64>)> = Vec::new();
        let mut origin: Option<u64> = None;
        for unit in first_units {
            let capture = unit.capture_time_ns();
            match steps.iter_mut().find(|(c, _, _)| *c == unit.channel) {
                Some((_, prev, list)) => {
                    if capture > *prev && capture - *prev <= GAP_NS {
                        list.push(capture - *prev);
                    }
                    *prev = capture;
                }
                None => {
                    origin = Some(origin.map_or(capture, |o| o.min(capture)));
                    steps.push((unit.channel, capture, Vec::new()));
                }
            }
        }
        for (channel_id, _, mut list) in steps {
            list.sort_unstable();
            if let Some(channel) = self.channels.iter_mut().find(|c| c.id == channel_id) {
                channel.frame_interval_ns = list.get(list.len() / 2).copied();
            }
        }
        self.timelines.origin = origin.unwrap_or(0);
        self.timelines.lines.clear();
    }

    fn timeline(&self) -> Timelines {
        self.timelines.clone()
    }

    fn set_timeline(&mut self, timeline: Timelines) {
        self.timelines = timeline;
    }

    fn assign_time(&mut self, unit: &BlockHeader) -> Option<Stamp> {
        Some(
            self.timelines
                .line(unit.channel)
                .next(unit.capture_time_ns()),
        )
    }

    fn predict(&self, after: &Timelines, unit: &BlockHeader) -> Option<(u64, Timelines)> {
        let mut after = after.clone();
        let pts = after.line(unit.channel).predict(unit.capture_time_ns())?;
        Some((pts, after))
    }

    fn packets<C: Chunk>(
        &mut self,
        unit: BlockHeader,
        pts: Option<u64>,
        data: &UnitData<C>,
        discont: bool,
        out: &mut PacketSink<'_, C>,
    ) {
        self.blocks += 1;
        let Some(payload) = data.part(unit.payload_range()) else {
            return;
        };
        let mut parts = Vec::with_capacity(2);
        if unit.key
            && let Some(ps) = self.parameter_sets(&unit)
        {
            parts.push(Part::Shared(ps));
        }
        parts.push(payload);
        let wallclock = unit.capture_time_ns();
        let cue_stream = subtitle::stream_for(video(unit.channel));
        if self.options.subtitles
            && out.wants(cue_stream)
            && self
                .cue_gates
                .due(cue_stream, Some(wallclock), pts, discont)
        {
            // The DVR stores UTC; the zone it showed is not in the file:
            // the user's, if given.
            let text = subtitle::cue_text(
                Some(wallclock),
                self.options.timezone.as_ref(),
                self.options.clock_offset_ns,
                None,
                None,
            );
            let mut cue = subtitle::cue(cue_stream, pts, Some(wallclock), text);
            cue.discont = discont;
            out.push(cue);
        }
        out.push(Packet {
            stream: video(unit.channel),
            pts,
            dts: pts,
            duration: None,
            key: unit.key,
            discont,
            wallclock_ns: Some(wallclock),
            parts,
            origin: None,
            telemetry: None,
        });
    }

    fn summary(&self) -> Option<String> {
        Some(format!(
            "{} blocks in {} channel(s)",
            self.blocks,
            self.channels.len()
        ))
    }
}

/// A frame rate from a typical frame interval: the nearest common rate when
/// within 2%, else the rate in thousandths. Downstream parsers need some
/// rate to give the last frame a duration; 0/1 (variable) when unknown.
pub fn nominal_framerate(interval_ns: Option<u64>) -> (u32, u32) {
    const COMMON: [(u32, u32); 18] = [
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 1),
        (6, 1),
        (15, 2),
        (8, 1),
        (10, 1),
        (12, 1),
        (25, 2),
        (15, 1),
        (20, 1),
        (24, 1),
        (25, 1),
        (30, 1),
        (50, 1),
        (60, 1),
    ];
    let Some(interval) = interval_ns.filter(|&i| i > 0) else {
        return (0, 1);
    };
    let fps = 1e9 / interval as f64;
    for (n, d) in COMMON {
        let rate = f64::from(n) / f64::from(d);
        if (fps - rate).abs() <= rate * 0.02 {
            return (n, d);
        }
    }
    (((fps * 1000.0).round() as u32).max(1), 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Demuxer, Event, MemorySource, NoSource, SharedBytes};
    use crate::formats::pavs::writer::{BlockSpec, write_block};

    const S: u64 = 1_000_000_000;
    const T0: u64 = 1_630_479_601_000_000_000;

    /// Video streams only: these tests are about the pictures.
    fn video_only() -> PavsOptions {
        PavsOptions {
            subtitles: false,
            ..PavsOptions::default()
        }
    }

    #[test]
    fn capture_time_cues_cover_every_frame_by_default() {
        let (bytes, blocks) = file(12, 2, 5);
        let size = bytes.len() as u64;
        let mut demux: Demuxer<Pavs, SharedBytes> =
            Demuxer::new_pull(Pavs::new(PavsOptions::default()), Some(size));
        let mut src = MemorySource::new(bytes);
        let mut streams = Vec::new();
        let mut last_cue = std::collections::HashMap::new();
        let (mut cues, mut videos) = (0, 0);
        loop {
            match demux.next(&mut src).unwrap() {
                Event::StreamsFound(s) => streams.extend(s),
                Event::Packet(p) if p.stream.kind == StreamKind::Video => {
                    // The cue shown with this picture came before it, is
                    // recent, and says the picture's capture time.
                    let (pts, text): (Option<u64>, String) =
                        last_cue.get(&p.stream.number).cloned().unwrap();
                    assert!(pts <= p.pts);
                    assert!(p.pts.unwrap() - pts.unwrap() < subtitle::CUE_REFRESH_NS);
                    assert_eq!(text, subtitle::capture_time(p.wallclock_ns.unwrap(), None));
                    videos += 1;
                }
                Event::Packet(p) => {
                    assert_eq!(p.stream.kind, StreamKind::Subtitle);
                    let text = String::from_utf8(p.to_vec()).unwrap();
                    assert_eq!(text, subtitle::capture_time(p.wallclock_ns.unwrap(), None));
                    last_cue.insert(p.stream.number, (p.pts, text));
                    cues += 1;
                }
                Event::Eos => break,
                _ => {}
            }
        }
        assert_eq!(videos, blocks.len());
        // 10 fps: a cue per second of capture time, refreshed every 250 ms.
        assert!(
            cues >= videos / 3 && cues < videos,
            "{cues} cues, {videos} frames"
        );
        let names: Vec<_> = streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["video_1", "subtitle_1", "video_2", "subtitle_2"]);
        assert_eq!(streams[1].codec, Codec::Text);
        assert_eq!(subtitle::capture_time(T0, None), "2021-09-01 07:00:01 UTC");
    }

    #[test]
    fn discarded_cues_are_not_made_and_come_back_discont() {
        // Longer than discovery (2048 units), which makes its packets at once.
        let (bytes, blocks) = file(1100, 2, 5);
        let size = bytes.len() as u64;
        let mut demux: Demuxer<Pavs, SharedBytes> =
            Demuxer::new_pull(Pavs::new(PavsOptions::default()), Some(size));
        let mut src = MemorySource::new(bytes);
        let cue_1 = subtitle::stream_for(video(1));
        demux.set_discarded(&[cue_1]);
        let (mut videos, mut cues_1, mut cues_2) = (0, Vec::new(), 0);
        loop {
            match demux.next(&mut src).unwrap() {
                Event::Packet(p) if p.stream.kind == StreamKind::Video => {
                    videos += 1;
                    // Half-way through, the front end wants the cues again.
                    if videos == blocks.len() / 2 {
                        demux.set_discarded(&[]);
                    }
                }
                Event::Packet(p) if p.stream == cue_1 => cues_1.push(p.discont),
                Event::Packet(_) => cues_2 += 1,
                Event::Eos => break,
                _ => {}
            }
        }
        assert_eq!(videos, blocks.len());
        assert!(cues_2 > 0);
        // Camera 1's cues only after they were wanted again; the first one
        // carries the discontinuity of the start.
        assert!(!cues_1.is_empty() && cues_1.len() < cues_2 / 2);
        assert!(cues_1[0]);
        assert!(cues_1[1..].iter().all(|d| !d));
    }

    /// Blocks of `cams` interleaved cameras at 10 fps, a key frame every
    /// `gop` frames with camera c's GOP shifted by c frames. Returns the
    /// file and each block's (offset, channel, key, payload).
    /// (offset, channel, key, payload) of a written block.
    type Written = (usize, u8, bool, Vec<u8>);

    fn file(frames: u64, cams: u8, gop: u64) -> (Vec<u8>, Vec<Written>) {
        file_where(frames, cams, gop, |_, _| true)
    }

    /// [`file`] with only the blocks of frame i of camera c for which
    /// `present(i, c)` holds.
    fn file_where(
        frames: u64,
        cams: u8,
        gop: u64,
        present: impl Fn(u64, u8) -> bool,
    ) -> (Vec<u8>, Vec<Written>) {
        let mut out = Vec::new();
        let mut blocks = Vec::new();
        for i in 0..frames {
            for c in (0..cams).filter(|&c| present(i, c)) {
                let key = (i + u64::from(c)) % gop == 0;
                let payload: Vec<u8> = [0, 0, 0, 1, if key { 0x65 } else { 0x41 }]
                    .into_iter()
                    .chain((0..(100 + (i % 7) * 50)).map(|b| (b as u8) ^ (i as u8) ^ c))
                    .collect();
                let spec = BlockSpec {
                    channel: c + 1,
                    camera_name: format!("CAM{c}"),
                    width: 352,
                    height: 240,
                    key,
                    capture_time_ns: T0 + i * S / 10 + u64::from(c) * 1000,
                    sequence: i as u32,
                };
                let at = out.len();
                write_block(&mut out, &spec, &payload).unwrap();
                blocks.push((at, c + 1, key, payload));
            }
        }
        (out, blocks)
    }

    fn demuxer_pull(bytes: Vec<u8>) -> (Demuxer<Pavs, SharedBytes>, MemorySource) {
        let size = bytes.len() as u64;
        (
            Demuxer::new_pull(Pavs::new(video_only()), Some(size)),
            MemorySource::new(bytes),
        )
    }

    /// (stream number, pts, key, payload without parameter sets)
    type Out = (u32, u64, bool, Vec<u8>);

    fn drain(
        demux: &mut Demuxer<Pavs, SharedBytes>,
        src: &mut MemorySource,
    ) -> (Vec<Out>, Vec<StreamInfo>) {
        let mut out = Vec::new();
        let mut streams = Vec::new();
        loop {
            match demux.next(src).unwrap() {
                Event::StreamsFound(s) => streams.extend(s),
                Event::NewStream(s) => streams.push(s),
                Event::Packet(p) => {
                    let payload = p.parts.last().unwrap().bytes().to_vec();
                    if p.key {
                        assert_eq!(p.parts.len(), 2, "parameter sets before a key frame");
                    }
                    out.push((p.stream.number, p.pts.unwrap(), p.key, payload));
                }
                Event::NeedData => panic!("pull input never needs data"),
                Event::Eos => return (out, streams),
            }
        }
    }

    #[test]
    fn every_block_bit_exact_pull_and_push() {
        let (bytes, blocks) = file(50, 2, 5);
        let (mut demux, mut src) = demuxer_pull(bytes.clone());
        let (pulled, streams) = drain(&mut demux, &mut src);
        assert_eq!(streams.len(), 2);
        assert_eq!(streams[0].name, "video_1");
        assert_eq!(pulled.len(), blocks.len());
        for (o, b) in pulled.iter().zip(&blocks) {
            assert_eq!((o.0, o.2, &o.3), (u32::from(b.1), b.2, &b.3));
        }
        // Push input in odd-sized pieces gives the same packets.
        let mut push: Demuxer<Pavs, SharedBytes> = Demuxer::new_push(Pavs::new(video_only()));
        let mut none = NoSource::default();
        let mut pushed = Vec::new();
        for piece in bytes.chunks(777) {
            push.push_data(SharedBytes::from_vec(piece.to_vec()));
            loop {
                match push.next(&mut none).unwrap() {
                    Event::NeedData => break,
                    Event::Packet(p) => pushed.push((p.stream.number, p.pts.unwrap())),
                    _ => {}
                }
            }
        }
        push.push_eos();
        loop {
            match push.next(&mut none).unwrap() {
                Event::Packet(p) => pushed.push((p.stream.number, p.pts.unwrap())),
                Event::Eos => break,
                Event::NeedData => panic!("data after EOS"),
                _ => {}
            }
        }
        let expected: Vec<_> = pulled.iter().map(|o| (o.0, o.1)).collect();
        assert_eq!(pushed, expected);
    }

    #[test]
    fn block_after_shortened_padding_is_kept() {
        let (mut bytes, blocks) = file(10, 1, 3);
        // Block 5's padding loses one byte: block 6 starts one byte early.
        let pad_at = blocks[5].0 + pavs::HEADER_LEN + blocks[5].3.len() + 3;
        bytes.remove(pad_at);
        let (mut demux, mut src) = demuxer_pull(bytes);
        let (out, _) = drain(&mut demux, &mut src);
        assert_eq!(out.len(), blocks.len(), "every intact block comes out");
        for (o, b) in out.iter().zip(&blocks) {
            assert_eq!(o.3, b.3);
        }
        let report = demux.report();
        assert_eq!(report.damage.regions, 1);
        assert_eq!(report.damage.bytes, 0);
    }

    #[test]
    fn garbage_is_skipped_and_counted() {
        let (mut bytes, blocks) = file(10, 1, 3);
        let at = blocks[4].0;
        bytes.splice(at..at, std::iter::repeat_n(0xA5u8, 1000));
        let (mut demux, mut src) = demuxer_pull(bytes);
        let (out, _) = drain(&mut demux, &mut src);
        assert_eq!(out.len(), blocks.len());
        assert_eq!(demux.report().damage.bytes, 1000);
        assert_eq!(demux.report().damage.first_offset, Some(at as u64));
    }

    #[test]
    fn a_magic_across_the_resync_window_end_is_found() {
        // The resync scan's first window ends where the first 256 KiB read
        // does. A block whose magic starts 1 to 5 bytes before that end is
        // found in the next window, which overlaps by the format's margin.
        for before_end in 1..=5 {
            let (mut bytes, blocks) = file(10, 1, 3);
            let at = blocks[5].0;
            let garbage = crate::engine::bytes::READ_CHUNK - before_end - at;
            bytes.splice(at..at, std::iter::repeat_n(0xA5u8, garbage));
            let (mut demux, mut src) = demuxer_pull(bytes);
            let (out, _) = drain(&mut demux, &mut src);
            assert_eq!(out.len(), blocks.len(), "{before_end} bytes before the end");
            assert_eq!(demux.report().damage.bytes, garbage as u64);
        }
    }

    #[test]
    fn not_pavs_is_an_error() {
        let (mut demux, mut src) = demuxer_pull(vec![0x55; 10_000]);
        let err = demux.next(&mut src).err().unwrap();
        assert!(err.to_string().contains("Not a PAVS"), "{err}");
    }

    fn seek_firsts(demux: &mut Demuxer<Pavs, SharedBytes>, src: &mut MemorySource) -> Vec<Out> {
        let mut firsts: Vec<Out> = Vec::new();
        loop {
            match demux.next(src).unwrap() {
                Event::Packet(p) if !firsts.iter().any(|f| f.0 == p.stream.number) => {
                    firsts.push((p.stream.number, p.pts.unwrap(), p.key, Vec::new()));
                }
                Event::Eos => return firsts,
                _ => {}
            }
        }
    }

    #[test]
    fn seek_restarts_every_camera_at_its_own_key_frame() {
        // Indexed region (read first) and unread region (bisection).
        for read_first in [true, false] {
            let (bytes, _) = file(3000, 3, 25);
            let (mut demux, mut src) = demuxer_pull(bytes);
            if read_first {
                drain(&mut demux, &mut src);
            } else {
                // Discovery only.
                while !demux.discovered() {
                    let _ = demux.next(&mut src).unwrap();
                }
            }
            let target = 200 * S + S / 20;
            let outcome = demux.seek(&mut src, target, None).unwrap();
            let firsts = seek_firsts(&mut demux, &mut src);
            assert_eq!(firsts.len(), 3, "read_first={read_first}");
            for f in &firsts {
                assert!(f.2, "camera {} starts on a key frame ({read_first})", f.0);
                assert!(f.1 <= target, "camera {} key at or before the target", f.0);
                assert!(target - f.1 < 25 * S / 10, "and not a GOP too early");
            }
            assert_eq!(outcome.key_pts, firsts.iter().map(|f| f.1).min());
        }
    }

    #[test]
    fn seek_gives_the_timestamps_of_sequential_playback() {
        let (bytes, _) = file(3000, 2, 10);
        let (mut demux, mut src) = demuxer_pull(bytes.clone());
        let (all, _) = drain(&mut demux, &mut src);
        for read_first in [true, false] {
            let (mut demux, mut src) = demuxer_pull(bytes.clone());
            if read_first {
                drain(&mut demux, &mut src);
            } else {
                while !demux.discovered() {
                    let _ = demux.next(&mut src).unwrap();
                }
            }
            demux.seek(&mut src, 150 * S, Some(160 * S)).unwrap();
            let (after, _) = drain(&mut demux, &mut src);
            assert!(!after.is_empty());
            let start = all
                .iter()
                .position(|o| o.1 == after[0].1 && o.0 == after[0].0)
                .unwrap();
            for (a, b) in after.iter().zip(&all[start..]) {
                assert_eq!((a.0, a.1, &a.3), (b.0, b.1, &b.3));
            }
            assert!(after.iter().all(|o| o.1 < 160 * S), "stop respected");
        }
    }

    #[test]
    fn seek_past_the_end_ends_at_once() {
        let (bytes, _) = file(100, 1, 10);
        let (mut demux, mut src) = demuxer_pull(bytes);
        drain(&mut demux, &mut src);
        let outcome = demux.seek(&mut src, 3600 * S, None).unwrap();
        assert!(outcome.past_end);
        assert!(matches!(demux.next(&mut src).unwrap(), Event::Eos));
    }

    #[test]
    fn seek_probes_note_nothing() {
        // Camera 1 throughout; camera 2 only from frame 2500 on, long after
        // discovery. A seek past its start reads the unread part without
        // output (to index it, or to bisect it): those probes see camera
        // 2's units, but only reading in sequence notes a stream.
        let (bytes, _) = file_where(3000, 2, 25, |i, c| c == 0 || i >= 2500);
        let (mut demux, mut src) = demuxer_pull(bytes);
        while !demux.discovered() {
            let _ = demux.next(&mut src).unwrap();
        }
        let channels = |d: &Demuxer<Pavs, SharedBytes>| d.format().channels.len();
        assert_eq!(channels(&demux), 1);
        let target = 280 * S + S / 20;
        demux.seek(&mut src, target, None).unwrap();
        assert_eq!(channels(&demux), 1, "a seek's probes noted a camera");
        // Camera 2 is described by its first unit read after the seek,
        // which is also its first packet (its key frame comes first).
        let (mut info, mut first) = (None, None);
        while first.is_none() {
            match demux.next(&mut src).unwrap() {
                Event::NewStream(i) if i.id == video(2) => info = Some(i),
                Event::Packet(p) if p.stream == video(2) => first = p.wallclock_ns,
                Event::Eos => break,
                _ => {}
            }
        }
        let first = first.expect("camera 2 after the seek");
        assert!(first <= T0 + target && T0 + target - first < 25 * S / 10);
        let start = info.expect("camera 2 announced").tags.start_unix_us;
        assert_eq!(start, i64::try_from(first / 1000).ok());
    }

    #[test]
    fn a_jump_in_capture_time_is_stamped_discont() {
        // The timeline decides a discontinuity when it assigns the time;
        // its packets (picture and cue) carry it.
        let mut bytes = Vec::new();
        let mut write = |i: u64, capture_time_ns: u64| {
            let spec = BlockSpec {
                channel: 1,
                camera_name: "CAM".into(),
                width: 352,
                height: 240,
                key: true,
                capture_time_ns,
                sequence: i as u32,
            };
            write_block(&mut bytes, &spec, &[0, 0, 0, 1, 0x65, i as u8]).unwrap();
        };
        for i in 0..10 {
            // 20 s after frame 4: a gap, compacted by default.
            let jump = if i >= 5 { 20 * S } else { 0 };
            write(i, T0 + i * S / 10 + jump);
        }
        let size = bytes.len() as u64;
        let mut demux: Demuxer<Pavs, SharedBytes> =
            Demuxer::new_pull(Pavs::new(PavsOptions::default()), Some(size));
        let mut src = MemorySource::new(bytes);
        let mut flags: Vec<(StreamKind, u64, bool)> = Vec::new();
        loop {
            match demux.next(&mut src).unwrap() {
                Event::Packet(p) => flags.push((p.stream.kind, p.pts.unwrap(), p.discont)),
                Event::Eos => break,
                _ => {}
            }
        }
        let video: Vec<_> = flags.iter().filter(|f| f.0 == StreamKind::Video).collect();
        let discont: Vec<bool> = video.iter().map(|f| f.2).collect();
        // The start, then the first frame after the jump.
        assert_eq!(
            discont,
            [
                true, false, false, false, false, true, false, false, false, false
            ]
        );
        // Compacted to one frame of running time.
        assert_eq!(video[5].1 - video[4].1, S / 10);
        let cue_after_jump = flags
            .iter()
            .find(|f| f.0 == StreamKind::Subtitle && f.1 == video[5].1)
            .expect("a cue with the first frame after the jump");
        assert!(cue_after_jump.2);
    }

    #[test]
    fn duration_is_predicted_then_exact() {
        let (bytes, _) = file(2000, 1, 10);
        let (mut demux, mut src) = demuxer_pull(bytes);
        while !demux.discovered() {
            let _ = demux.next(&mut src).unwrap();
        }
        assert_eq!(demux.duration(&mut src), Some(200 * S));
        drain(&mut demux, &mut src);
        assert_eq!(demux.exact_duration(), Some(200 * S));
    }

    #[test]
    fn index_memory_is_flat() {
        let (bytes, _) = file(20_000, 1, 7);
        let (mut demux, mut src) = demuxer_pull(bytes);
        drain(&mut demux, &mut src);
        // ~2900 key entries of 24 bytes plus a few snapshots.
        assert!(
            demux.index_heap_bytes() < 200_000,
            "{}",
            demux.index_heap_bytes()
        );
    }
}
