// SPDX-License-Identifier: MIT
//! `cctv convert`: one pipeline per input (and per run with `--gaps split`):
//! our demuxer/source, then per camera queue → mux (video stream-copied,
//! audio to AAC for MP4, a subtitle track with the capture time) → a
//! temporary file renamed when complete.

use crate::inputs::{self, Kind, Recording};
use crate::progress::{Job, Progress};
use crate::scan::{self, Depth, Scan};
use crate::telemetry::{Sample, parse_sample};
use crate::times::{human_duration, parse_wall};
use crate::{ConvertArgs, Gaps, OutFormat, mp4time};
use anyhow::{Context, Result, anyhow, bail};
use gst::prelude::*;
use gstcctv::engine::{Codec, StreamInfo, StreamKind};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Set by Ctrl-C / SIGTERM: running jobs stop and remove their temporary
/// files, so an interrupted run leaves nothing under a final name.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Gaps longer than this are compacted (or split at).
const MAX_GAP_NS: u64 = 10_000_000_000;

/// What one input produced.
#[derive(Default)]
struct Outcome {
    files: Vec<PathBuf>,
    frames: u64,
    duration_ns: u64,
    damage: Vec<String>,
}

pub fn run(args: &ConvertArgs) -> bool {
    let (recordings, failures) = inputs::expand(&args.inputs);
    let mut ok = failures.is_empty();
    for f in &failures {
        eprintln!("cctv: {}: {}", f.name.display(), f.reason);
    }
    for (name, text) in [("--from", &args.from), ("--to", &args.to)] {
        if let Some(t) = text
            && let Err(e) = parse_wall(t, Some(0))
        {
            eprintln!("cctv: {name}: {e}");
            return false;
        }
    }
    if recordings.is_empty() {
        return false;
    }
    if let Err(e) = std::fs::create_dir_all(&args.outdir) {
        eprintln!(
            "cctv: {}: cannot create output directory: {e}",
            args.outdir.display()
        );
        return false;
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, recordings.len());
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    let progress = Progress::new(args.quiet);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Outcome>)>> = Mutex::new(Vec::new());
    let taken: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(rec) = recordings.get(i) else { break };
                    if INTERRUPTED.load(Ordering::SeqCst) {
                        break;
                    }
                    let r = convert_one(rec, args, &progress, &taken);
                    match &r {
                        Err(e) => progress.println(&format!("cctv: {}: {e:#}", rec.path.display())),
                        Ok(o) => {
                            for d in &o.damage {
                                progress.println(&format!(
                                    "cctv: {}: damaged, every intact frame converted; skipped: {d}",
                                    rec.path.display()
                                ));
                            }
                        }
                    }
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, r));
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut total = Outcome::default();
    let mut failed = 0;
    for (_, r) in results {
        match r {
            Ok(o) => {
                total.files.extend(o.files);
                total.frames += o.frames;
                total.duration_ns += o.duration_ns;
                total.damage.extend(o.damage);
            }
            Err(_) => failed += 1,
        }
    }
    ok &= failed == 0 && !INTERRUPTED.load(Ordering::SeqCst);
    if !args.quiet {
        let mut line = format!(
            "cctv: {} of {} input(s) converted: {} file(s) written, {} video frames, {} of video",
            recordings.len() - failed,
            recordings.len(),
            total.files.len(),
            total.frames,
            human_duration(total.duration_ns as f64 / 1e9),
        );
        if !total.damage.is_empty() {
            line.push_str(&format!(
                "; damage recovered in {} input(s)",
                total.damage.len()
            ));
        }
        if failed + failures.len() > 0 {
            line.push_str(&format!("; {} failed", failed + failures.len()));
        }
        eprintln!("{line}");
        for f in &total.files {
            eprintln!("  {}", f.display());
        }
    }
    ok
}

/// One camera of a recording: the pads that feed its output.
#[derive(Clone, Debug)]
struct Camera {
    number: u32,
    video: StreamInfo,
    audio: Option<StreamInfo>,
    meta: Option<String>,
}

/// A time window of the running time (ns): start (KEY_UNIT seek) and
/// exclusive stop.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    start: Option<u64>,
    stop: Option<u64>,
}

fn cameras_of(rec: &Recording, scan: &Scan, wanted: &[u32]) -> Result<Vec<Camera>> {
    let infos: Vec<&StreamInfo> = scan.streams.iter().map(|s| &s.info).collect();
    let mut cameras: Vec<Camera> = Vec::new();
    if rec.kind == Kind::Rf1 {
        // One camera; its main (largest) track.
        let main = infos
            .iter()
            .filter(|i| i.id.kind == StreamKind::Video)
            .max_by_key(|i| {
                (
                    u64::from(i.width.unwrap_or(0)) * u64::from(i.height.unwrap_or(0)),
                    std::cmp::Reverse(i.id.number),
                )
            })
            .ok_or_else(|| anyhow!("no video track"))?;
        cameras.push(Camera {
            number: 0,
            video: (*main).clone(),
            audio: None,
            meta: None,
        });
    } else {
        // A camera without audio of its own shares the recording's only
        // audio stream (dashcams with one microphone).
        let audios: Vec<&&StreamInfo> = infos
            .iter()
            .filter(|i| i.id.kind == StreamKind::Audio)
            .collect();
        let only_audio = (audios.len() == 1).then(|| (*audios[0]).clone());
        for v in infos.iter().filter(|i| i.id.kind == StreamKind::Video) {
            let n = v.id.number;
            let with = |kind| infos.iter().find(|i| i.id.kind == kind && i.id.number == n);
            cameras.push(Camera {
                number: n,
                video: (*v).clone(),
                audio: with(StreamKind::Audio)
                    .map(|i| (*i).clone())
                    .or_else(|| only_audio.clone()),
                meta: with(StreamKind::Data).map(|i| i.name.clone()),
            });
        }
    }
    if cameras.is_empty() {
        bail!("no video stream");
    }
    if !wanted.is_empty() {
        let all: Vec<String> = cameras.iter().map(|c| c.number.to_string()).collect();
        cameras.retain(|c| wanted.contains(&c.number));
        if cameras.is_empty() {
            bail!(
                "no camera {:?} in this recording (cameras: {})",
                wanted,
                all.join(", ")
            );
        }
    }
    Ok(cameras)
}

/// The windows to convert: `--from/--to` mapped to running time through
/// the engine's wall clock per frame, and cut into continuous runs for
/// `--gaps split`.
fn plan(
    rec: &Recording,
    args: &ConvertArgs,
    cams: &[Camera],
    offset: Option<i32>,
) -> Result<Vec<Window>> {
    if args.from.is_none() && args.to.is_none() && args.gaps != Gaps::Split {
        return Ok(vec![Window::default()]);
    }
    let from = args
        .from
        .as_deref()
        .map(|t| parse_wall(t, offset))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|t| parse_wall(t, offset))
        .transpose()?;
    let ids: Vec<_> = cams.iter().map(|c| c.video.id).collect();
    let mut pts_in: Vec<u64> = Vec::new();
    scan::scan(rec, Depth::Full, |info, p| {
        if !ids.contains(&info.id) {
            return;
        }
        let (Some(pts), Some(wall)) = (p.pts, p.wallclock_ns) else {
            return;
        };
        if from.is_some_and(|f| wall < f) || to.is_some_and(|t| wall >= t) {
            return;
        }
        pts_in.push(pts);
    })?;
    if pts_in.is_empty() {
        bail!("no frames between --from and --to");
    }
    pts_in.sort_unstable();
    let windowed = from.is_some() || to.is_some();
    let first = pts_in[0];
    let last = pts_in[pts_in.len() - 1];
    if args.gaps != Gaps::Split {
        return Ok(vec![Window {
            start: from.map(|_| first),
            stop: to.map(|_| last + 1),
        }]);
    }
    let mut windows = Vec::new();
    let mut run_start = first;
    let mut prev = first;
    for &t in &pts_in[1..] {
        if t > prev + MAX_GAP_NS {
            windows.push(Window {
                start: Some(run_start),
                stop: Some(prev + 1),
            });
            run_start = t;
        }
        prev = t;
    }
    windows.push(Window {
        start: Some(run_start),
        stop: (windowed || !windows.is_empty()).then_some(prev + 1),
    });
    if windows.len() == 1 && !windowed {
        windows[0] = Window::default();
    }
    Ok(windows)
}

fn start_unix_ns(scan: &Scan) -> Option<u64> {
    let from_tags = |t: &gstcctv::engine::Tags| {
        t.start_unix_us
            .and_then(|us| u64::try_from(us).ok())
            .map(|us| us * 1000)
    };
    scan.tags
        .as_ref()
        .and_then(from_tags)
        .or_else(|| scan.streams.iter().find_map(|s| from_tags(&s.info.tags)))
        .or_else(|| scan.streams.iter().filter_map(|s| s.first_wall_ns).min())
}

fn input_bytes(rec: &Recording) -> u64 {
    fn walk(p: &Path) -> u64 {
        if p.is_dir() {
            std::fs::read_dir(p)
                .map(|d| d.flatten().map(|e| walk(&e.path())).sum())
                .unwrap_or(0)
        } else if p.extension().is_some_and(|e| e == "rf1p") {
            p.metadata().map_or(0, |m| m.len())
        } else {
            0
        }
    }
    match rec.kind {
        Kind::Rf1 if rec.path.is_dir() => walk(&rec.path),
        Kind::Rf1 => {
            let dir = rec.path.parent().unwrap_or(Path::new("."));
            let base = rec.stem.clone() + "_";
            std::fs::read_dir(dir)
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.file_name().to_string_lossy().starts_with(&base))
                        .map(|e| walk(&e.path()))
                        .sum()
                })
                .unwrap_or(0)
        }
        _ => rec.path.metadata().map_or(0, |m| m.len()),
    }
}

fn convert_one(
    rec: &Recording,
    args: &ConvertArgs,
    progress: &Progress,
    taken: &Mutex<Vec<PathBuf>>,
) -> Result<Outcome> {
    let discovery = scan::scan(rec, Depth::StreamsOnly, |_, _| {})?;
    let cams = cameras_of(rec, &discovery, &args.cameras)?;
    let offset = discovery.utc_offset_min();
    let windows = plan(rec, args, &cams, offset)?;
    let several = discovery
        .streams
        .iter()
        .filter(|s| s.info.id.kind == StreamKind::Video)
        .count()
        > 1
        && rec.kind != Kind::Rf1;
    let ext = match args.format {
        OutFormat::Mp4 => "mp4",
        OutFormat::Mkv => "mkv",
    };
    // Output names, checked before anything is written.
    let mut plans = Vec::new();
    {
        let mut taken = taken.lock().unwrap_or_else(|e| e.into_inner());
        for (k, w) in windows.iter().enumerate() {
            let mut outs = Vec::new();
            for c in &cams {
                let mut name = rec.stem.clone();
                if several {
                    name.push_str(&format!("_cam{}", c.number));
                }
                if windows.len() > 1 {
                    name.push_str(&format!("_part{:03}", k + 1));
                }
                let mut path = args.outdir.join(format!("{name}.{ext}"));
                let mut n = 2;
                while taken.contains(&path) {
                    path = args.outdir.join(format!("{name}-{n}.{ext}"));
                    n += 1;
                }
                if path.exists() && !args.force {
                    bail!("{} exists (use --force to overwrite)", path.display());
                }
                taken.push(path.clone());
                outs.push(path);
            }
            plans.push((*w, outs));
        }
    }
    let start = start_unix_ns(&discovery);
    let mut outcome = Outcome::default();
    let total_bytes = input_bytes(rec);
    for (w, outs) in plans {
        let label = outs
            .first()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut job = progress.job(&label, total_bytes);
        let r = run_pipeline(rec, args, &cams, w, &outs, offset, start, &mut job);
        job.finish();
        let r = r?;
        outcome.files.extend(outs);
        outcome.frames += r.frames;
        outcome.duration_ns += r.duration_ns;
        outcome.damage.extend(r.damage);
    }
    Ok(outcome)
}

/// The subtitle text for a frame: capture time (in the recorder's zone when
/// known) and, for dashcams, speed and position. The one place that makes
/// cue text: to switch to the engine's subtitle stream once it exists.
fn cue_text(wall_ns: u64, utc_offset_min: Option<i32>, telemetry: Option<&Sample>) -> String {
    // The engine's text, as the elements show it.
    gstcctv::engine::subtitle::frame_text(
        Some(wall_ns),
        utc_offset_min,
        telemetry.and_then(|t| t.speed_kmh),
        telemetry.and_then(|t| t.fix),
    )
}

/// Running-time compaction of gaps, shared by all streams of one input:
/// a jump of more than 10 s past everything seen so far becomes one frame.
#[derive(Default)]
struct Compactor {
    /// (first original PTS after the gap, total shift from there on).
    shifts: Vec<(u64, u64)>,
    max_pts: Option<u64>,
    step: u64,
}

impl Compactor {
    fn map(&mut self, pts: u64, duration: Option<u64>) -> u64 {
        if let Some(m) = self.max_pts {
            if pts > m + MAX_GAP_NS {
                let frame = duration
                    .filter(|d| *d > 0 && *d < MAX_GAP_NS)
                    .unwrap_or(self.step.max(1_000_000));
                let total = self.shifts.last().map_or(0, |s| s.1) + (pts - m - frame);
                self.shifts.push((pts, total));
            } else if pts > m {
                self.step = pts - m;
            }
        }
        self.max_pts = Some(self.max_pts.map_or(pts, |m| m.max(pts)));
        let shift = self
            .shifts
            .iter()
            .rev()
            .find(|s| s.0 <= pts)
            .map_or(0, |s| s.1);
        pts - shift
    }
}

/// Per camera state on the streaming thread.
struct CueState {
    pad: gst::Pad,
    started: bool,
    last_second: Option<u64>,
    telemetry: Option<Sample>,
}

#[derive(Default)]
struct Shared {
    compact: Option<Compactor>,
    cues: HashMap<u32, CueState>,
    frames: u64,
    bytes: u64,
    first_pts: Option<u64>,
    last_end: u64,
}

struct RunResult {
    frames: u64,
    duration_ns: u64,
    damage: Vec<String>,
}

fn make(factory: &str) -> Result<gst::Element> {
    gst::ElementFactory::make(factory).build().map_err(|_| {
        anyhow!(
            "GStreamer element {factory} is missing (install gstreamer1.0-plugins-good/-bad/-libav)"
        )
    })
}

fn wall_of(buffer: &gst::BufferRef) -> Option<u64> {
    // The elements put one `timestamp/x-unix` reference timestamp on each
    // buffer; compare the caps by name (no caps built per buffer).
    buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|m| {
            m.reference()
                .structure(0)
                .is_some_and(|s| s.name() == "timestamp/x-unix")
        })
        .map(|m| m.timestamp().nseconds())
}

#[allow(clippy::too_many_arguments)]
fn run_pipeline(
    rec: &Recording,
    args: &ConvertArgs,
    cams: &[Camera],
    window: Window,
    outs: &[PathBuf],
    utc_offset: Option<i32>,
    start_ns: Option<u64>,
    job: &mut Job,
) -> Result<RunResult> {
    let temps: Vec<PathBuf> = outs
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            p.with_file_name(format!(".{name}.part-{}", std::process::id()))
        })
        .collect();
    let cleanup = |temps: &[PathBuf]| {
        for t in temps {
            let _ = std::fs::remove_file(t);
        }
    };
    for t in &temps {
        std::fs::File::create(t).with_context(|| format!("cannot write {}", t.display()))?;
    }
    let result = build_and_run(rec, args, cams, window, &temps, utc_offset, start_ns, job);
    match result {
        Ok(r) => {
            for (t, o) in temps.iter().zip(outs) {
                if args.format == OutFormat::Mp4
                    && let Some(s) = start_ns
                {
                    mp4time::set_creation_time(t, s / 1_000_000_000)
                        .with_context(|| format!("cannot finish {}", t.display()))?;
                }
                std::fs::rename(t, o).with_context(|| format!("cannot write {}", o.display()))?;
            }
            Ok(r)
        }
        Err(e) => {
            cleanup(&temps);
            Err(e)
        }
    }
}

/// How much each mp4mux input may queue (GstAggregator `latency`).
const MUX_QUEUE_NS: u64 = 1_000_000_000;

/// A queue in front of a muxer input. The elements keep every linked pad
/// within `MAX_PAD_LAG_NS` of the others (GAP events across recording
/// gaps, see `engine::timeline`), so a queue never needs more than
/// `queue_ns_for(MUX_QUEUE_NS)` of data. That is bounded in buffers, not
/// in time: a queue's time level counts a gap in running time as if it
/// were data, so a time limit blocks the streaming thread at the first
/// gap longer than itself (the muxer still waits for data from before the
/// gap on another pad). The buffer bound: that much time at 250 buffers/s
/// (video up to 120 fps plus audio packets), bytes unbounded (a buffer
/// count already bounds memory by the largest frames).
fn mux_queue() -> Result<gst::Element> {
    const RATE: u64 = 250;
    let time_ns = gstcctv::engine::timeline::queue_ns_for(MUX_QUEUE_NS);
    let buffers = u32::try_from(time_ns * RATE / 1_000_000_000).unwrap_or(u32::MAX);
    let q = make("queue")?;
    q.set_property("max-size-buffers", buffers);
    q.set_property("max-size-bytes", 0u32);
    q.set_property("max-size-time", 0u64);
    Ok(q)
}

#[allow(clippy::too_many_arguments)]
fn build_and_run(
    rec: &Recording,
    args: &ConvertArgs,
    cams: &[Camera],
    window: Window,
    temps: &[PathBuf],
    utc_offset: Option<i32>,
    start_ns: Option<u64>,
    job: &mut Job,
) -> Result<RunResult> {
    let pipeline = gst::Pipeline::new();
    let (filesrc, demux) = match rec.kind {
        Kind::Rf1 => {
            let src = gst::ElementFactory::make("rf1src")
                .property("location", rec.path.to_string_lossy().to_string())
                .property("tracks", cams[0].video.name.clone())
                .build()?;
            pipeline.add(&src)?;
            (None, src)
        }
        Kind::Pavs | Kind::Says => {
            let src = gst::ElementFactory::make("filesrc")
                .property("location", rec.path.to_string_lossy().to_string())
                .build()?;
            let demux = make(if rec.kind == Kind::Pavs {
                "pavsdemux"
            } else {
                "saysdemux"
            })?;
            if rec.kind == Kind::Pavs {
                // Real time, as the plan (scan) sees it: `--gaps` is
                // applied here, not by the element's default compaction.
                demux.set_property("max-gap", 0u64);
            }
            pipeline.add_many([&src, &demux])?;
            src.link(&demux)?;
            (Some(src), demux)
        }
    };
    let shared = Arc::new(Mutex::new(Shared {
        compact: (args.gaps == Gaps::Compact).then(Compactor::default),
        ..Shared::default()
    }));
    // pad name -> (sinks to link to, camera, kind); several sinks: a tee
    let mut targets: HashMap<String, (Vec<gst::Pad>, u32, StreamKind)> = HashMap::new();
    let mut add_target = |name: &str, sink: Option<gst::Pad>, cam: u32, kind: StreamKind| {
        let entry = targets
            .entry(name.to_string())
            .or_insert((Vec::new(), cam, kind));
        entry.0.extend(sink);
    };
    for (cam, temp) in cams.iter().zip(temps) {
        let mux = match args.format {
            OutFormat::Mp4 => {
                let m = make("mp4mux")?;
                // Let each input pad queue up to a second: with the
                // default (0) the muxer thread and every upstream thread
                // hand over one buffer at a time, and those thread switches
                // were most of a conversion's time. Output is unchanged.
                m.set_property("latency", MUX_QUEUE_NS);
                m
            }
            OutFormat::Mkv => {
                let m = make("matroskamux")?;
                if let Some(ns) = start_ns
                    && let Ok(dt) = gst::glib::DateTime::from_unix_utc(
                        i64::try_from(ns / 1_000_000_000).unwrap_or(0),
                    )
                {
                    m.set_property("creation-time", dt);
                }
                m
            }
        };
        let sink = gst::ElementFactory::make("filesink")
            .property("location", temp.to_string_lossy().to_string())
            .build()?;
        pipeline.add_many([&mux, &sink])?;
        mux.link(&sink)?;
        if let Some(setter) = mux.dynamic_cast_ref::<gst::TagSetter>() {
            let mut tags = gst::TagList::new();
            {
                let t = tags.make_mut();
                if let Some(title) = &cam.video.tags.title {
                    t.add::<gst::tags::Title>(&title.as_str(), gst::TagMergeMode::Replace);
                }
                if let Some(c) = &cam.video.tags.comment {
                    t.add::<gst::tags::Comment>(&c.as_str(), gst::TagMergeMode::Replace);
                }
                if let Some(ns) = start_ns
                    && let Ok(dt) = gst::DateTime::from_unix_epoch_utc_usecs(
                        i64::try_from(ns / 1000).unwrap_or(0),
                    )
                {
                    t.add::<gst::tags::DateTime>(&dt, gst::TagMergeMode::Replace);
                }
            }
            setter.merge_tags(&tags, gst::TagMergeMode::Replace);
        }
        // video: queue [→ h265parse] → mux
        let q = mux_queue()?;
        pipeline.add(&q)?;
        let mut last = q.clone();
        if matches!(cam.video.codec, Codec::H265) {
            let p = make("h265parse")?;
            pipeline.add(&p)?;
            last.link(&p)?;
            last = p;
        }
        last.link_pads(None, &mux, Some("video_%u"))?;
        add_target(
            &cam.video.name,
            q.static_pad("sink"),
            cam.number,
            StreamKind::Video,
        );
        if let Some(a) = &cam.audio {
            let q = mux_queue()?;
            pipeline.add(&q)?;
            let mut chain = vec![q.clone()];
            if args.format == OutFormat::Mp4 {
                let dec = match a.codec {
                    Codec::Opus { .. } => "opusdec",
                    _ => "mulawdec",
                };
                for f in [dec, "audioconvert", "audioresample", "avenc_aac"] {
                    let e = make(f)?;
                    pipeline.add(&e)?;
                    chain.push(e);
                }
            }
            gst::Element::link_many(chain.iter())?;
            chain
                .last()
                .ok_or_else(|| anyhow!("empty chain"))?
                .link_pads(None, &mux, Some("audio_%u"))?;
            add_target(&a.name, q.static_pad("sink"), cam.number, StreamKind::Audio);
        }
        if let Some(m) = &cam.meta {
            add_target(m, None, cam.number, StreamKind::Data);
        }
        if !args.no_subtitles {
            let q = mux_queue()?;
            pipeline.add(&q)?;
            q.link_pads(None, &mux, Some("subtitle_%u"))?;
            let pad = gst::Pad::builder(gst::PadDirection::Src)
                .name(format!("cue_{}", cam.number))
                .build();
            pad.set_active(true)?;
            pad.link(
                &q.static_pad("sink")
                    .ok_or_else(|| anyhow!("queue without sink"))?,
            )?;
            shared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .cues
                .insert(
                    cam.number,
                    CueState {
                        pad,
                        started: false,
                        last_second: None,
                        telemetry: None,
                    },
                );
        }
    }
    let _ = add_target;
    let sh = shared.clone();
    let pipe_weak = pipeline.downgrade();
    demux.connect_pad_added(move |_, pad| {
        let name = pad.name().to_string();
        let target = targets.get(&name).cloned();
        let Some((sinks, cam, kind)) = target else {
            // Not converted: a camera not asked for, snapshots, a second track.
            if let Some(p) = pipe_weak.upgrade()
                && let Ok(fake) = gst::ElementFactory::make("fakesink")
                    .property("sync", false)
                    .property("async", false)
                    .build()
            {
                let _ = p.add(&fake);
                let _ = fake.sync_state_with_parent();
                if let Some(s) = fake.static_pad("sink") {
                    let _ = pad.link(&s);
                }
            }
            return;
        };
        let sh = sh.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| probe(&sh, cam, kind, utc_offset, info),
        );
        let linked = match sinks.as_slice() {
            [] => Ok(()),
            [sink] => pad.link(sink).map(|_| ()).map_err(|e| format!("{e:?}")),
            many => tee_to(&pipe_weak, pad, many),
        };
        if let Err(e) = linked {
            eprintln!("cctv: cannot link {name}: {e}");
        }
    });
    let bus = pipeline.bus().ok_or_else(|| anyhow!("no bus"))?;
    let result = (|| -> Result<Vec<String>> {
        pipeline
            .set_state(gst::State::Ready)
            .map_err(|_| anyhow!("cannot start the pipeline"))?;
        if window.start.is_some() || window.stop.is_some() {
            let ct = |ns: u64| gst::ClockTime::from_nseconds(ns);
            let seek = gst::event::Seek::new(
                1.0,
                gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
                gst::SeekType::Set,
                ct(window.start.unwrap_or(0)),
                if window.stop.is_some() {
                    gst::SeekType::Set
                } else {
                    gst::SeekType::None
                },
                window.stop.map(ct),
            );
            if !demux.send_event(seek) {
                bail!("cannot seek to the requested window");
            }
        }
        if pipeline.set_state(gst::State::Playing).is_err() {
            let msg = bus
                .timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])
                .and_then(|m| match m.view() {
                    gst::MessageView::Error(e) => Some(e.error().to_string()),
                    _ => None,
                });
            bail!(
                "{}",
                msg.unwrap_or_else(|| "cannot start the pipeline".into())
            );
        }
        let mut warnings = Vec::new();
        loop {
            let msg = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(200),
                &[
                    gst::MessageType::Eos,
                    gst::MessageType::Error,
                    gst::MessageType::Warning,
                ],
            );
            let bytes = filesrc
                .as_ref()
                .and_then(|s| s.query_position::<gst::format::Bytes>())
                .map(|b| *b);
            {
                let s = sh_lock(&shared);
                // filesrc in pull mode may not track its position: the
                // media bytes passed are the floor.
                job.update(bytes.unwrap_or(0).max(s.bytes), s.frames);
            }
            if INTERRUPTED.load(Ordering::SeqCst) {
                bail!("interrupted");
            }
            let Some(msg) = msg else { continue };
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => {
                    bail!("{}", e.error());
                }
                gst::MessageView::Warning(w) => {
                    let own = msg
                        .src()
                        .is_some_and(|s| s == demux.upcast_ref::<gst::Object>());
                    if own {
                        warnings.push(w.error().to_string().replace('\n', "; "));
                    }
                }
                _ => {}
            }
        }
        Ok(warnings)
    })();
    let _ = pipeline.set_state(gst::State::Null);
    let warnings = result?;
    let s = sh_lock(&shared);
    Ok(RunResult {
        frames: s.frames,
        duration_ns: s.last_end.saturating_sub(s.first_pts.unwrap_or(0)),
        damage: warnings,
    })
}

/// One source pad to several branches.
fn tee_to(
    pipeline: &gst::glib::WeakRef<gst::Pipeline>,
    pad: &gst::Pad,
    sinks: &[gst::Pad],
) -> Result<(), String> {
    let p = pipeline.upgrade().ok_or("no pipeline")?;
    let tee = gst::ElementFactory::make("tee")
        .build()
        .map_err(|e| e.to_string())?;
    p.add(&tee).map_err(|e| e.to_string())?;
    tee.sync_state_with_parent().map_err(|e| e.to_string())?;
    let sink = tee.static_pad("sink").ok_or("tee without sink")?;
    pad.link(&sink).map_err(|e| format!("{e:?}"))?;
    for s in sinks {
        let src = tee.request_pad_simple("src_%u").ok_or("tee without src")?;
        src.link(s).map_err(|e| format!("{e:?}"))?;
    }
    Ok(())
}

fn sh_lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

fn probe(
    shared: &Mutex<Shared>,
    cam: u32,
    kind: StreamKind,
    utc_offset: Option<i32>,
    info: &mut gst::PadProbeInfo,
) -> gst::PadProbeReturn {
    match &mut info.data {
        Some(gst::PadProbeData::Buffer(buffer)) => {
            let mut s = sh_lock(shared);
            if kind == StreamKind::Data {
                if let Some(c) = s.cues.get_mut(&cam)
                    && let Ok(map) = buffer.map_readable()
                {
                    c.telemetry = parse_sample(map.as_slice(), None);
                }
                return gst::PadProbeReturn::Drop;
            }
            let Some(pts) = buffer.pts() else {
                return gst::PadProbeReturn::Ok;
            };
            let dur = buffer.duration().map(|d| d.nseconds());
            let mapped = match s.compact.as_mut() {
                Some(c) => c.map(pts.nseconds(), dur),
                None => pts.nseconds(),
            };
            if mapped != pts.nseconds() {
                let b = buffer.make_mut();
                let m = gst::ClockTime::from_nseconds(mapped);
                b.set_pts(m);
                b.set_dts(m);
            }
            s.bytes += buffer.size() as u64;
            if kind != StreamKind::Video {
                return gst::PadProbeReturn::Ok;
            }
            s.frames += 1;
            s.first_pts = Some(s.first_pts.map_or(mapped, |f| f.min(mapped)));
            s.last_end = s.last_end.max(mapped + dur.unwrap_or(0).min(1_000_000_000));
            if let Some(c) = s.cues.get_mut(&cam)
                && let Some(wall) = wall_of(buffer)
            {
                let second = wall / 1_000_000_000;
                if c.last_second != Some(second) && c.started {
                    c.last_second = Some(second);
                    let text = cue_text(wall, utc_offset, c.telemetry.as_ref());
                    let mut cue = gst::Buffer::from_mut_slice(text.into_bytes());
                    {
                        let b = cue.get_mut().expect("new buffer");
                        b.set_pts(gst::ClockTime::from_nseconds(mapped));
                        b.set_duration(gst::ClockTime::from_nseconds(
                            1_000_000_000 - wall % 1_000_000_000,
                        ));
                    }
                    let pad = c.pad.clone();
                    drop(s);
                    let _ = pad.push(cue);
                }
            }
            gst::PadProbeReturn::Ok
        }
        Some(gst::PadProbeData::Event(event)) => {
            if kind != StreamKind::Video {
                return gst::PadProbeReturn::Ok;
            }
            let mut s = sh_lock(shared);
            let Some(c) = s.cues.get_mut(&cam) else {
                return gst::PadProbeReturn::Ok;
            };
            let pad = c.pad.clone();
            let forward: Vec<gst::Event> = match event.view() {
                gst::EventView::Segment(_) => {
                    let mut ev = Vec::new();
                    if !c.started {
                        c.started = true;
                        ev.push(
                            gst::event::StreamStart::builder(&format!("cctv-cue-{cam}")).build(),
                        );
                        ev.push(gst::event::Caps::new(
                            &gst::Caps::builder("text/x-raw")
                                .field("format", "utf8")
                                .build(),
                        ));
                    }
                    c.last_second = None;
                    ev.push(event.clone());
                    ev
                }
                gst::EventView::Eos(_) => vec![event.clone()],
                _ => Vec::new(),
            };
            drop(s);
            for e in forward {
                let _ = pad.push_event(e);
            }
            gst::PadProbeReturn::Ok
        }
        _ => gst::PadProbeReturn::Ok,
    }
}
