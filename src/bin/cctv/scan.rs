// SPDX-License-Identifier: MIT
//! One pass of the engine over a recording (no GStreamer): what `info`,
//! `telemetry` and the planning of `convert` (wall-clock windows, runs)
//! need. Format knowledge stays in the engine.

use crate::inputs::{Kind, Recording};
use anyhow::{Context, Result, bail};
use gstcctv::engine::camera_timeline::{CaseOptions, open_camera};
use gstcctv::engine::catalog::FormatKind;
use gstcctv::engine::formats::pavs::{Pavs, PavsOptions};
use gstcctv::engine::formats::rf1::Rf1Engine;
use gstcctv::engine::formats::says::{Says, SaysOptions};
use gstcctv::engine::{
    ByteDemux, DamageReport, EngineError, FileSource, Packet, SharedBytes, Source, SourceEvent,
    StreamInfo, Tags,
};
use std::path::Path;

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

#[derive(Clone, Debug)]
pub struct Scan {
    pub streams: Vec<StreamStat>,
    pub damage: DamageReport,
    pub tags: Option<Tags>,
}

impl Scan {
    /// The recorder's UTC offset in minutes, where the format records it.
    pub fn utc_offset_min(&self) -> Option<i32> {
        gstcctv::engine::catalog::utc_offset_of(
            self.tags.as_ref(),
            self.streams.iter().map(|s| &s.info),
        )
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
    on_packet: impl FnMut(&StreamInfo, &Packet<SharedBytes>),
) -> Result<Scan> {
    scan_source(open(rec, max_gap, telemetry)?, depth, on_packet)
}

/// The frames of camera `camera` of `recs` (one camera's files, as `cctv
/// convert` joins them) with the running time its camera timeline gives
/// with `max-gap` (`max_gap`): the timeline `cctvsrc` plays and exports.
pub fn scan_camera(
    recs: &[Recording],
    camera: u32,
    max_gap: Option<u64>,
    on_packet: impl FnMut(&StreamInfo, &Packet<SharedBytes>),
) -> Result<Scan> {
    let files: Vec<(std::path::PathBuf, FormatKind)> = recs
        .iter()
        .map(|r| {
            let kind = match r.kind {
                Kind::Says => FormatKind::Says,
                Kind::Pavs => FormatKind::Pavs,
                Kind::Rf1 => bail!("{}: rf1 is not joined", r.path.display()),
            };
            Ok((r.path.clone(), kind))
        })
        .collect::<Result<_>>()?;
    let options = CaseOptions {
        camera: Some(camera.to_string()),
        // Nothing here shows them.
        subtitles: false,
        max_gap,
        ..CaseOptions::default()
    };
    let place = recs.first().map_or(Path::new(""), |r| r.path.as_path());
    let opened = open_camera(place, &files, &options, |f| f).map_err(|e| anyhow::anyhow!("{e}"))?;
    scan_source(Box::new(opened.timeline), Depth::Full, on_packet)
}

/// Reads `source` (to its end, or its stream list with `StreamsOnly`).
fn scan_source(
    mut source: Box<dyn Source<Chunk = SharedBytes>>,
    depth: Depth,
    mut on_packet: impl FnMut(&StreamInfo, &Packet<SharedBytes>),
) -> Result<Scan> {
    let mut streams: Vec<StreamStat> = Vec::new();
    loop {
        let event = match source.next() {
            Ok(e) => e,
            Err(e @ EngineError::NotThisFormat { .. }) => bail!("{e}"),
            Err(e) => bail!("read error: {e}"),
        };
        match event {
            SourceEvent::StreamsFound(infos) => {
                streams.extend(infos.into_iter().map(stat));
                if depth == Depth::StreamsOnly {
                    break;
                }
            }
            SourceEvent::NewStream(info) => streams.push(stat(info)),
            SourceEvent::Packet(p) => {
                if let Some(i) = account(&mut streams, &p) {
                    on_packet(&streams[i].info, &p);
                }
            }
            SourceEvent::Tags(_) | SourceEvent::StreamEnd(_) => {}
            SourceEvent::NeedData | SourceEvent::End => break,
        }
    }
    Ok(Scan {
        streams,
        damage: source.take_report(),
        tags: source.global_tags(),
    })
}

/// The recording as the engine's source, read as the elements play it
/// (`max_gap`), without cues (nothing here shows them); SAYS telemetry
/// streams (`meta_N`) when `telemetry` (info).
fn open(
    rec: &Recording,
    max_gap: Option<u64>,
    telemetry: bool,
) -> Result<Box<dyn Source<Chunk = SharedBytes>>> {
    if rec.kind == Kind::Rf1 {
        let mut engine: Rf1Engine<SharedBytes> =
            Rf1Engine::open(&rec.path, &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
        engine.set_max_gap(max_gap);
        return Ok(Box::new(engine));
    }
    let src = FileSource::open(&rec.path).context("cannot open")?;
    Ok(match rec.kind {
        Kind::Says => Box::new(ByteDemux::pull(
            Says::with_options(SaysOptions {
                telemetry,
                subtitles: false,
                timezone: None,
                clock_offset_ns: 0,
                max_gap,
            }),
            src,
        )),
        _ => Box::new(ByteDemux::pull(
            Pavs::new(PavsOptions {
                subtitles: false,
                max_gap,
                ..PavsOptions::default()
            }),
            src,
        )),
    })
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
