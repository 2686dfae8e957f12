// SPDX-License-Identifier: MIT
//! One pass of the engine over a recording (no GStreamer): what `info`,
//! `telemetry` and the planning of `convert` (wall-clock windows, runs)
//! need. Format knowledge stays in the engine.

use crate::inputs::{Kind, Recording};
use anyhow::{Context, Result, bail};
use gstcctv::engine::formats::pavs::{Pavs, PavsOptions};
use gstcctv::engine::formats::rf1::Rf1Engine;
use gstcctv::engine::formats::says::{Says, SaysOptions};
use gstcctv::engine::{
    ByteSource, Demuxer, EngineError, Event, FileSource, Format, Packet, SharedBytes, StreamInfo,
    Tags,
};

/// Per stream: what was seen.
#[derive(Clone, Debug)]
pub struct StreamStat {
    pub info: StreamInfo,
    pub frames: u64,
    pub keys: u64,
    pub first_wall_ns: Option<u64>,
    pub last_wall_ns: Option<u64>,
    pub first_pts: Option<u64>,
    pub last_pts: Option<u64>,
    pub last_duration: Option<u64>,
}

impl StreamStat {
    /// From the first PTS to the end of the last packet, in seconds.
    pub fn duration_s(&self) -> f64 {
        match (self.first_pts, self.last_pts) {
            (Some(a), Some(b)) => {
                (b + self.last_duration.unwrap_or(0)).saturating_sub(a) as f64 / 1e9
            }
            _ => 0.0,
        }
    }
}

/// The damage found, in one form for every format.
#[derive(Clone, Debug, Default)]
pub struct DamageSummary {
    pub regions: u64,
    pub bytes: u64,
    /// One human line (empty: none).
    pub text: String,
    /// Every problem on its own line where `text` summarises (rf1: each
    /// bad index entry), for `info --json`; empty when `text` says it all.
    pub details: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Scan {
    pub streams: Vec<StreamStat>,
    pub damage: DamageSummary,
    pub tags: Option<Tags>,
}

impl Scan {
    /// The recorder's UTC offset in minutes, where the format records it.
    pub fn utc_offset_min(&self) -> Option<i32> {
        self.tags
            .as_ref()
            .and_then(|t| t.start_utc_offset_min)
            .or_else(|| {
                self.streams
                    .iter()
                    .find_map(|s| s.info.tags.start_utc_offset_min)
            })
    }
}

/// What a pass wants after discovery: everything, or only the stream list.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    StreamsOnly,
    Full,
}

/// Runs the engine over `rec`, calling `on_packet` for every packet.
pub fn scan(
    rec: &Recording,
    depth: Depth,
    on_packet: impl FnMut(&StreamInfo, &Packet<SharedBytes>),
) -> Result<Scan> {
    // As the elements play it by default (long gaps compacted): the same
    // frames (impossible times keep their frames), the same duration.
    scan_with(
        rec,
        depth,
        Some(gstcctv::engine::timeline::DEFAULT_MAX_GAP_NS),
        true,
        on_packet,
    )
}

/// Every frame of `rec` as the elements play it, without the telemetry
/// streams: what the recorder logged with a frame is typed on its video
/// packet (`Packet::telemetry`), no JSON is made.
pub fn scan_frames(
    rec: &Recording,
    on_packet: impl FnMut(&StreamInfo, &Packet<SharedBytes>),
) -> Result<Scan> {
    scan_played(
        rec,
        Depth::Full,
        Some(gstcctv::engine::timeline::DEFAULT_MAX_GAP_NS),
        on_packet,
    )
}

/// The frames with the running time the elements give with `max-gap`
/// (`max_gap`: gaps longer than this compacted), for planning windows in
/// the elements' timeline and proving exports; no telemetry streams (a
/// frame's telemetry is on its video packet).
pub fn scan_played(
    rec: &Recording,
    depth: Depth,
    max_gap: Option<u64>,
    on_packet: impl FnMut(&StreamInfo, &Packet<SharedBytes>),
) -> Result<Scan> {
    scan_with(rec, depth, max_gap, false, on_packet)
}

/// `telemetry`: SAYS telemetry streams (`meta_N`, JSON) are listed and read.
fn scan_with(
    rec: &Recording,
    depth: Depth,
    max_gap: Option<u64>,
    telemetry: bool,
    mut on_packet: impl FnMut(&StreamInfo, &Packet<SharedBytes>),
) -> Result<Scan> {
    // rf1 keeps real time (no `max-gap` on rf1src yet).
    match rec.kind {
        Kind::Pavs => scan_demuxer(
            rec,
            // No cues: nothing here shows them.
            Pavs::new(PavsOptions {
                subtitles: false,
                max_gap,
                ..PavsOptions::default()
            }),
            depth,
            &mut on_packet,
        ),
        Kind::Says => scan_demuxer(
            rec,
            // Telemetry as data (info), no cues.
            Says::with_options(SaysOptions {
                telemetry,
                subtitles: false,
                timezone: None,
                clock_offset_ns: 0,
                max_gap,
            }),
            depth,
            &mut on_packet,
        ),
        Kind::Rf1 => scan_rf1(rec, depth, &mut on_packet),
    }
}

fn stat(info: StreamInfo) -> StreamStat {
    StreamStat {
        info,
        frames: 0,
        keys: 0,
        first_wall_ns: None,
        last_wall_ns: None,
        first_pts: None,
        last_pts: None,
        last_duration: None,
    }
}

fn account(streams: &mut [StreamStat], p: &Packet<SharedBytes>) -> Option<usize> {
    let i = streams.iter().position(|s| s.info.id == p.stream)?;
    let s = &mut streams[i];
    s.frames += 1;
    s.keys += u64::from(p.key);
    // The earliest and latest capture times: files are not always in
    // time order (a recorder's clock set back).
    if let Some(w) = p.wallclock_ns {
        s.first_wall_ns = Some(s.first_wall_ns.map_or(w, |f| f.min(w)));
        s.last_wall_ns = Some(s.last_wall_ns.map_or(w, |l| l.max(w)));
    }
    if let Some(t) = p.pts {
        s.first_pts = Some(s.first_pts.map_or(t, |f| f.min(t)));
        s.last_pts = Some(s.last_pts.map_or(t, |l| l.max(t)));
        s.last_duration = p.duration;
    }
    Some(i)
}

fn scan_demuxer<F: Format>(
    rec: &Recording,
    format: F,
    depth: Depth,
    on_packet: &mut dyn FnMut(&StreamInfo, &Packet<SharedBytes>),
) -> Result<Scan> {
    let mut src = FileSource::open(&rec.path).context("cannot open")?;
    let mut demux = Demuxer::new_pull(format, src.size());
    let mut streams: Vec<StreamStat> = Vec::new();
    loop {
        let event = match demux.next(&mut src) {
            Ok(e) => e,
            Err(e @ EngineError::NotThisFormat { .. }) => bail!("{e}"),
            Err(e) => bail!("read error: {e}"),
        };
        match event {
            Event::StreamsFound(infos) => {
                streams.extend(infos.into_iter().map(stat));
                if depth == Depth::StreamsOnly {
                    break;
                }
            }
            Event::NewStream(info) => streams.push(stat(info)),
            Event::Packet(p) => {
                if let Some(i) = account(&mut streams, &p) {
                    on_packet(&streams[i].info, &p);
                }
            }
            Event::NeedData | Event::Eos => break,
        }
    }
    let report = demux.report();
    let damage = DamageSummary {
        regions: report.damage.regions,
        bytes: report.damage.bytes,
        text: if report.damage.any() {
            report.damage.describe()
        } else {
            String::new()
        },
        details: Vec::new(),
    };
    Ok(Scan {
        streams,
        damage,
        tags: demux.global_tags(),
    })
}

fn scan_rf1(
    rec: &Recording,
    depth: Depth,
    on_packet: &mut dyn FnMut(&StreamInfo, &Packet<SharedBytes>),
) -> Result<Scan> {
    let mut engine: Rf1Engine<SharedBytes> =
        Rf1Engine::open(&rec.path, &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut streams: Vec<StreamStat> = engine.streams().into_iter().map(stat).collect();
    if depth == Depth::Full {
        while let Some(p) = engine.next_packet().map_err(|e| anyhow::anyhow!("{e}"))? {
            if let Some(i) = account(&mut streams, &p) {
                on_packet(&streams[i].info, &p);
            }
        }
    }
    let d = engine.damage();
    let damage = DamageSummary {
        regions: d.problems.len() as u64 + u64::from(d.skipped_backwards > 0),
        bytes: 0,
        text: if d.any() {
            d.describe().replace('\n', "; ")
        } else {
            String::new()
        },
        details: if d.any() {
            d.describe_all().lines().map(String::from).collect()
        } else {
            Vec::new()
        },
    };
    Ok(Scan {
        streams,
        damage,
        tags: Some(engine.tags()),
    })
}
