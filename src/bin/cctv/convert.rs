// SPDX-License-Identifier: MIT
//! `cctv convert`: one pipeline per input (and per run with `--gaps split`):
//! our demuxer/source, then per camera queue → mux (video stream-copied,
//! audio to AAC for MP4, a subtitle track with the capture time) → a
//! temporary file renamed when complete.

use crate::case;
use crate::evidence::{self, ExportFacts};
use crate::files::{self, FileId, Part};
use crate::inputs::{self, Kind, Recording};
use crate::naming::{Ticket, Turns};
use crate::out::{self, errln};
use crate::plan::{self, Settle};
use crate::progress::{Job, Progress};
use crate::readback;
use crate::scan::{self, Depth, Scan};
use crate::times::{human_duration, parse_wall_in};
use crate::{ConvertArgs, Gaps, OutFormat, mp4time};
use anyhow::{Context, Result, anyhow, bail};
use gst::prelude::*;
use gstcctv::engine::{Codec, StreamInfo, StreamKind};
use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Set by Ctrl-C / SIGTERM: running jobs stop and remove their temporary
/// files, so an interrupted run leaves nothing under a final name.
pub(crate) static INTERRUPTED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The longest file name (bytes) most file systems take.
pub(crate) const NAME_MAX: usize = 255;

/// Gaps in capture time longer than this are compacted (the elements'
/// `max-gap`, the engine's one default) or split at.
const MAX_GAP_NS: u64 = gstcctv::engine::timeline::DEFAULT_MAX_GAP_NS;

/// What one input produced.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) frames: u64,
    pub(crate) duration_ns: u64,
    pub(crate) damage: Vec<String>,
    pub(crate) notes: Vec<String>,
}

pub fn run(args: &ConvertArgs) -> bool {
    // batch (plan.rs): the share of a batch engine's task, read first.
    let shard = match plan::shard_of(args.shard.as_deref(), args.shard_count, |v| {
        std::env::var(v).ok()
    }) {
        Ok(s) => s,
        Err(e) => {
            errln!("cctv: {e}");
            plan::usage();
            return false;
        }
    };
    let (recordings, failures) = inputs::expand(&args.inputs);
    let mut ok = failures.is_empty();
    for f in &failures {
        errln!("cctv: {}: {}", out::path(&f.name), f.reason);
        plan::failed_text(&f.name, &f.reason);
    }
    // `--from 07:09:50`: on the day of the recordings.
    let args = match case::with_times_of_day(&recordings, args) {
        Ok(a) => a,
        Err(e) => {
            errln!("cctv: {}", out::escape(&format!("{e:#}")));
            plan::usage();
            return false;
        }
    };
    let args: &ConvertArgs = &args;
    let zone = match crate::zone_arg(args.tz.as_deref()) {
        Ok(zone) => zone,
        Err(e) => {
            errln!("cctv: {e}");
            plan::usage();
            return false;
        }
    };
    if let Some(t) = &args.clock_offset
        && let Err(e) = evidence::parse_clock_offset(t)
    {
        errln!("cctv: --clock-offset: {e}");
        plan::usage();
        return false;
    }
    let mut bounds = [None, None];
    for ((name, text), bound) in [("--from", &args.from), ("--to", &args.to)]
        .into_iter()
        .zip(&mut bounds)
    {
        if let Some(t) = text {
            match parse_wall_in(t, zone.as_ref(), Some(0)) {
                Ok(ns) => *bound = Some(ns),
                Err(e) => {
                    errln!("cctv: {name}: {e}");
                    plan::usage();
                    return false;
                }
            }
        }
    }
    // Both read in the same zone here: their order is the same in any.
    if let ([Some(from), Some(to)], Some(f), Some(t)) = (bounds, &args.from, &args.to)
        && from >= to
    {
        errln!("cctv: --from {f:?} is not before --to {t:?}: the window is empty (swapped?)");
        plan::usage();
        return false;
    }
    if recordings.is_empty() {
        return false;
    }
    // Every file the inputs read: no output may replace one of them.
    let sources: HashSet<FileId> = recordings.iter().flat_map(inputs::file_ids).collect();
    // batch (plan.rs): this task's share only; an empty share is no error.
    if shard.is_some()
        && let Some((a, b)) = plan::name_clash(&recordings)
    {
        errln!(
            "cctv: {} and {} would share output names: shards cannot name them apart (convert them unsharded, or rename one)",
            out::path(&a),
            out::path(&b)
        );
        plan::failed_text(&b, "output names clash across shards");
        return false;
    }
    if let Err(e) = std::fs::create_dir_all(&args.outdir) {
        errln!(
            "cctv: {}: cannot create output directory: {e}",
            out::path(&args.outdir)
        );
        plan::failed(&args.outdir, &anyhow::Error::from(e));
        return false;
    }
    // Parts a killed run left here (ours by name, no longer locked).
    let stale = files::remove_stale_parts(&args.outdir);
    if !stale.is_empty() && !args.quiet {
        errln!(
            "cctv: removed {} temporary file(s) of an interrupted run from {}: {}",
            stale.len(),
            out::path(&args.outdir),
            stale
                .iter()
                .map(|n| out::os(n))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // What to write: per camera of the case, or per input (--per-file).
    let (works, case_notes) = match case::works(&recordings, args) {
        Ok(w) => w,
        Err(e) => {
            errln!("cctv: {}", out::escape(&format!("{e:#}")));
            return false;
        }
    };
    if !args.quiet {
        for n in &case_notes {
            errln!("cctv: {}", out::escape(n));
        }
    }
    // batch (plan.rs): this task's share of the work items (a camera of the
    // case, or an input with --per-file); an empty share is no error.
    let all = works.len();
    let works = plan::in_shard(works, shard);
    plan::log_start(shard, all, works.len());
    if works.is_empty() {
        return ok;
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, works.len());
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    let progress = Progress::new(args.quiet || args.log_json);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Outcome>)>> = Mutex::new(Vec::new());
    let turns = Turns::new();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(work) = works.get(i) else { break };
                    // Taken (dropped) even when interrupted: later inputs
                    // wait for this one's turn to name their outputs.
                    let ticket = turns.ticket(i);
                    if INTERRUPTED.load(Ordering::SeqCst) {
                        break;
                    }
                    let r = case::run_work(work, args, &progress, &ticket, &sources);
                    drop(ticket);
                    let input = work.label();
                    // batch (plan.rs): classified failures, written outputs.
                    match &r {
                        Err(e) => {
                            plan::failed(work.path(), e);
                        }
                        Ok(o) => plan::written(work.path(), &o.files),
                    }
                    match &r {
                        Err(e) => progress.println(&format!(
                            "cctv: {input}: {}",
                            out::escape(&format!("{e:#}"))
                        )),
                        Ok(o) if !args.quiet || !o.notes.is_empty() || !o.damage.is_empty() => {
                            if !args.quiet && !o.files.is_empty() {
                                // One line: the input as given, its outputs.
                                let outs: Vec<String> =
                                    o.files.iter().map(|f| out::path(f)).collect();
                                progress.println(&format!("cctv: {input} -> {}", outs.join(", ")));
                            }
                            for n in &o.notes {
                                progress.println(&format!("cctv: {input}: {}", out::escape(n)));
                            }
                            for d in &o.damage {
                                progress.println(&format!(
                                    "cctv: {input}: damaged, every intact frame converted: {}",
                                    out::escape(d)
                                ));
                            }
                        }
                        Ok(_) => {}
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
    if INTERRUPTED.load(Ordering::SeqCst) {
        plan::interrupted();
    }
    ok &= failed == 0 && !INTERRUPTED.load(Ordering::SeqCst);
    if !args.quiet {
        let mut line = format!(
            "cctv: {} of {} {} converted: {} file(s) written, {} video frames, {} of video",
            works.len() - failed,
            works.len(),
            if works.iter().all(case::Work::per_file) {
                "input(s)"
            } else {
                "camera/input job(s)"
            },
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
        // batch (plan.rs): reruns say what was complete already.
        line.push_str(&plan::skipped_note());
        errln!("{line}");
    }
    ok
}

/// One camera of a recording: the pads that feed its output.
#[derive(Clone, Debug)]
pub(crate) struct Camera {
    pub(crate) number: u32,
    pub(crate) video: StreamInfo,
    pub(crate) audio: Option<StreamInfo>,
}

/// What one conversion reads: a recording as its own source element
/// reads it, or one camera's files joined in capture order (the engine's
/// camera timeline, through `cctvsrc`: the pauses between files follow
/// `--gaps` as within one).
#[derive(Clone, Copy)]
pub(crate) enum Reading<'a> {
    One(&'a Recording),
    Joined { recs: &'a [Recording], camera: u32 },
}

impl Reading<'_> {
    /// The recordings read, in order.
    pub(crate) fn recs(&self) -> &[Recording] {
        match self {
            Reading::One(rec) => std::slice::from_ref(*rec),
            Reading::Joined { recs, .. } => recs,
        }
    }
}

/// One camera's part of a window, in running time (ns): from its key
/// frame at or before the first wanted frame (audio and cues from the same
/// instant) to the end of the last wanted frame (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u64,
    pub(crate) stop: u64,
}

impl Span {
    /// Keeps a stream's part of the span (a pad probe on it): its segment
    /// starts at the span's start (so that its file starts there whatever
    /// other cameras were read from an earlier key frame), buffers before
    /// the start or at/after the stop are dropped (`Drop`), a cue that
    /// straddles the start is clipped to it, an audio packet that straddles
    /// it goes to the decoder (`audio_decoded`), which clips it to the
    /// segment.
    pub(crate) fn clip(
        self,
        kind: StreamKind,
        audio_decoded: bool,
        info: &mut gst::PadProbeInfo,
    ) -> gst::PadProbeReturn {
        match &mut info.data {
            Some(gst::PadProbeData::Event(event)) => {
                if let gst::EventView::Segment(seg) = event.view()
                    && let Some(seg) = seg.segment().downcast_ref::<gst::ClockTime>()
                {
                    let early = seg.start().is_none_or(|s| s.nseconds() < self.start);
                    if !early {
                        return gst::PadProbeReturn::Ok;
                    }
                    let mut seg = seg.clone();
                    let start = gst::ClockTime::from_nseconds(self.start);
                    seg.set_start(start);
                    seg.set_time(start);
                    seg.set_position(start);
                    let seqnum = event.seqnum();
                    *event = gst::event::Segment::builder(&seg).seqnum(seqnum).build();
                }
            }
            Some(gst::PadProbeData::Buffer(buffer)) => {
                let Some(pts) = buffer.pts().map(|t| t.nseconds()) else {
                    return gst::PadProbeReturn::Ok;
                };
                if pts >= self.stop {
                    return gst::PadProbeReturn::Drop;
                }
                if pts < self.start {
                    let end = buffer.duration().map(|d| pts + d.nseconds());
                    let straddles = end.is_some_and(|e| e > self.start);
                    if kind == StreamKind::Audio && straddles && audio_decoded {
                        return gst::PadProbeReturn::Ok;
                    }
                    if kind != StreamKind::Subtitle || !straddles {
                        return gst::PadProbeReturn::Drop;
                    }
                    // The cue showing at the span's start.
                    let b = buffer.make_mut();
                    b.set_pts(gst::ClockTime::from_nseconds(self.start));
                    b.set_dts(gst::ClockTime::from_nseconds(self.start));
                    if let Some(end) = end {
                        b.set_duration(gst::ClockTime::from_nseconds(end - self.start));
                    }
                }
            }
            _ => {}
        }
        gst::PadProbeReturn::Ok
    }
}

/// What one output run converts: everything (`spans` empty), or per
/// camera its [`Span`]; the demuxer seeks to cover them all.
#[derive(Clone, Debug, Default)]
pub(crate) struct Window {
    spans: Vec<(u32, Span)>,
}

impl Window {
    fn whole(&self) -> bool {
        self.spans.is_empty()
    }

    pub(crate) fn span_of(&self, camera: u32) -> Option<Span> {
        self.spans
            .iter()
            .find(|(c, _)| *c == camera)
            .map(|(_, s)| *s)
    }

    /// The seek that covers every span: (start, stop).
    fn seek(&self) -> Option<(u64, u64)> {
        let start = self.spans.iter().map(|(_, s)| s.start).min()?;
        let stop = self.spans.iter().map(|(_, s)| s.stop).max()?;
        Some((start, stop))
    }
}

pub(crate) fn cameras_of(rec: &Recording, scan: &Scan, wanted: &[String]) -> Result<Vec<Camera>> {
    let infos: Vec<&StreamInfo> = scan.streams.iter().map(|s| &s.info).collect();
    let mut cameras: Vec<Camera> = Vec::new();
    if rec.kind == Kind::Rf1 {
        // One camera: the track a track file names, else the main
        // (largest) track. A track whose codec or picture size changes,
        // or whose segments overlap, is several streams (titled with the
        // track's name): one output each.
        let videos = || infos.iter().filter(|i| i.id.kind == StreamKind::Video);
        let main = match &rec.track {
            Some(track) => videos().find(|i| i.name == *track).ok_or_else(|| {
                let all: Vec<&str> = videos().map(|i| i.name.as_str()).collect();
                anyhow!("no video track {track:?} (tracks: {})", all.join(", "))
            })?,
            None => videos()
                .max_by_key(|i| {
                    (
                        u64::from(i.width.unwrap_or(0)) * u64::from(i.height.unwrap_or(0)),
                        std::cmp::Reverse(i.id.number),
                    )
                })
                .ok_or_else(|| anyhow!("no video track"))?,
        };
        for v in videos().filter(|i| i.tags.title == main.tags.title) {
            cameras.push(Camera {
                number: v.id.number,
                video: (*v).clone(),
                audio: None,
            });
        }
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
            });
        }
    }
    if cameras.is_empty() {
        bail!("no video stream");
    }
    if !wanted.is_empty() {
        let all: Vec<String> = cameras.iter().map(|c| c.number.to_string()).collect();
        cameras.retain(|c| wanted.iter().any(|w| camera_is(c, w)));
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

/// Whether `--camera WHAT` names this camera: its number, or its name (the
/// stream's title, `ALLEY [09]` or `ALLEY`), case-insensitively.
pub(crate) fn camera_is(c: &Camera, what: &str) -> bool {
    let w = what.trim();
    if let Ok(n) = w.parse::<u32>() {
        return n == c.number;
    }
    c.video.tags.title.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case(w)
            || t.split(" [")
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(w))
    })
}

/// A video frame as the engine times it: running time, capture time, key.
#[derive(Clone, Copy, Debug)]
struct Frame {
    pts: u64,
    wall: Option<u64>,
    key: bool,
}

/// The windows to convert: `--from/--to` mapped to running time through
/// the engine's capture time per frame (with the same gap compaction as
/// the element), and cut into continuous runs for `--gaps split`. Each
/// camera's part is computed from its own frames only, so that it is the
/// same whatever other cameras are converted.
pub(crate) fn plan(
    reading: Reading<'_>,
    args: &ConvertArgs,
    cams: &[Camera],
    offset: Option<i32>,
) -> Result<Vec<Window>> {
    if args.from.is_none() && args.to.is_none() && args.gaps != Gaps::Split {
        return Ok(vec![Window::default()]);
    }
    let zone = crate::zone_arg(args.tz.as_deref()).map_err(anyhow::Error::msg)?;
    // Given in true time: the recorder's clock is `--clock-offset` ahead.
    let clock = clock_offset_ns(args);
    let from = args
        .from
        .as_deref()
        .map(|t| parse_wall_in(t, zone.as_ref(), offset).map(|ns| evidence::recorded_of(ns, clock)))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|t| parse_wall_in(t, zone.as_ref(), offset).map(|ns| evidence::recorded_of(ns, clock)))
        .transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        bail!("--from is not before --to in this recording's time zone");
    }
    let ids: Vec<_> = cams.iter().map(|c| c.video.id).collect();
    let mut frames: Vec<Vec<Frame>> = vec![Vec::new(); cams.len()];
    let on_packet = |info: &StreamInfo, p: &gstcctv::engine::Packet<_>| {
        let Some(i) = ids.iter().position(|id| *id == info.id) else {
            return;
        };
        if let Some(pts) = p.pts {
            frames[i].push(Frame {
                pts,
                wall: p.wallclock_ns,
                key: p.key,
            });
        }
    };
    // In the running time of what the pipeline reads: one file, or the
    // camera's timeline over the same files.
    match reading {
        Reading::One(rec) => scan::scan_played(rec, Depth::Full, source_max_gap(args), on_packet),
        Reading::Joined { recs, camera } => {
            scan::scan_camera(recs, camera, source_max_gap(args), on_packet)
        }
    }?;
    for f in &mut frames {
        f.sort_by_key(|f| f.pts);
    }
    let wanted = |f: &Frame| match f.wall {
        Some(w) => from.is_none_or(|t| w >= t) && to.is_none_or(|t| w < t),
        None => from.is_none() && to.is_none(),
    };
    let mut runs: Vec<(u64, u64)> = Vec::new();
    // Every wanted frame of every camera: (running time, capture time).
    let mut all: Vec<(u64, Option<u64>)> = frames
        .iter()
        .flat_map(|f| f.iter().filter(|f| wanted(f)).map(|f| (f.pts, f.wall)))
        .collect();
    all.sort_unstable();
    let (Some(&(first, _)), Some(&(last, _))) = (all.first(), all.last()) else {
        bail!("no frames between --from and --to");
    };
    if args.gaps == Gaps::Split {
        // Runs are cut where capture time jumps by more than MAX_GAP_NS
        // (running time has the gap compacted, as the element plays it).
        // A run may start only where every camera's next frame is a key
        // frame: frames after a gap that need a picture from before it
        // stay with the run before (its gap compacted), and the cut moves
        // to the next key frame, so that no frame is lost or doubled.
        let starts_clean = |t: u64| {
            frames.iter().all(|f| {
                let next = f.partition_point(|f| f.pts < t);
                f.get(next).is_none_or(|f| f.key)
            })
        };
        let mut run_start = first;
        let (mut prev, mut prev_wall) = all[0];
        let mut pending = false;
        for &(t, wall) in &all[1..] {
            let jump = matches!((prev_wall, wall), (Some(a), Some(b)) if b > a + MAX_GAP_NS);
            pending |= jump || t > prev + MAX_GAP_NS;
            if pending && t > prev && starts_clean(t) {
                runs.push((run_start, prev));
                run_start = t;
                pending = false;
            }
            prev = t;
            prev_wall = wall.or(prev_wall);
        }
        runs.push((run_start, prev));
        if runs.len() == 1 && from.is_none() && to.is_none() {
            return Ok(vec![Window::default()]);
        }
    } else {
        runs.push((first, last));
    }
    let windows = runs
        .into_iter()
        .enumerate()
        .map(|(k, (a, b))| Window {
            spans: cams
                .iter()
                .zip(&frames)
                .filter_map(|(cam, frames)| {
                    // A later run of --gaps split starts at its own key
                    // frame, not at one before the gap.
                    let floor = if k == 0 { 0 } else { a };
                    let frames = &frames[frames.partition_point(|f| f.pts < floor)..];
                    span(frames, |f| wanted(f) && f.pts >= a && f.pts <= b).map(|s| (cam.number, s))
                })
                .collect(),
        })
        .collect();
    Ok(windows)
}

/// A camera's span over the frames `wanted`: from the key frame at or
/// before the first of them (else the first key frame after it: the
/// element starts a camera at a key frame) to the end of the last.
fn span(frames: &[Frame], wanted: impl Fn(&Frame) -> bool) -> Option<Span> {
    let first = frames.iter().position(&wanted)?;
    let last = frames.iter().rposition(&wanted)?;
    let start = frames[..=first]
        .iter()
        .rev()
        .find(|f| f.key)
        .or_else(|| frames[first..=last].iter().find(|f| f.key))
        .unwrap_or(&frames[first])
        .pts;
    Some(Span {
        start,
        stop: frames[last].pts + 1,
    })
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
            let mut base = rec.stem.as_bytes().to_vec();
            base.push(b'_');
            std::fs::read_dir(dir)
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.file_name().as_bytes().starts_with(&base))
                        .map(|e| walk(&e.path()))
                        .sum()
                })
                .unwrap_or(0)
        }
        _ => rec.path.metadata().map_or(0, |m| m.len()),
    }
}

pub(crate) fn convert_one(
    rec: &Recording,
    args: &ConvertArgs,
    wanted: &[String],
    progress: &Progress,
    ticket: &Ticket<'_>,
    sources: &HashSet<FileId>,
) -> Result<Outcome> {
    let discovery = scan::scan(rec, Depth::StreamsOnly, |_, _| {})?;
    let cams = cameras_of(rec, &discovery, wanted)?;
    let offset = discovery.utc_offset_min();
    let windows = plan(Reading::One(rec), args, &cams, offset)?;
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
    // Output names, checked before anything is written, given in input
    // order (not in the order the jobs get here).
    let mut plans = Vec::new();
    let mut notes = Vec::new();
    // batch (plan.rs): a complete output is one made from this recording.
    let own: HashSet<FileId> = inputs::file_ids(rec).into_iter().collect();
    ticket.with_namer(|namer| -> Result<()> {
        for (k, w) in windows.iter().enumerate() {
            let mut outs = Vec::new();
            let mut kept = Vec::new();
            // A camera with no frame in this window gets no file.
            let (in_window, outside): (Vec<Camera>, Vec<Camera>) = cams
                .iter()
                .cloned()
                .partition(|c| w.whole() || w.span_of(c.number).is_some());
            if windows.len() == 1 {
                for c in outside {
                    notes.push(format!(
                        "camera {}: no video frames{}, not written",
                        c.number,
                        window_note(args)
                    ));
                }
            }
            for c in &in_window {
                let mut name = rec.stem.clone();
                if several {
                    name.push(format!("_cam{}", c.number));
                }
                if rec.kind == Kind::Rf1 && c.video.name != cams[0].video.name {
                    // Further streams of the track: named after their pad.
                    name.push(format!("_{}", c.video.name));
                }
                if windows.len() > 1 {
                    name.push(format!("_part{:03}", k + 1));
                }
                let file = namer.claim(&name, ext);
                let path = args.outdir.join(&file);
                if file.len() > NAME_MAX {
                    bail!("{}: output name too long", out::path(&path));
                }
                if files::id_of(&path).is_some_and(|id| sources.contains(&id)) {
                    bail!(
                        "{} is an input of this run: refusing to replace it (choose another output directory)",
                        out::path(&path)
                    );
                }
                // batch (plan.rs): complete outputs are skipped, our own
                // partial ones redone, anyone else's kept unless --force.
                match plan::settle(&path, args.force, &own) {
                    Settle::Write => {}
                    Settle::Skip => continue,
                    Settle::Refuse => {
                        bail!("{} exists (use --force to overwrite)", out::path(&path))
                    }
                }
                outs.push(path);
                kept.push(c.clone());
            }
            if !kept.is_empty() {
                plans.push((w.clone(), kept, outs));
            }
        }
        Ok(())
    })?;
    let mut outcome = Outcome {
        notes,
        ..Outcome::default()
    };
    let total_bytes = input_bytes(rec);
    for (w, cams, outs) in plans {
        let label = outs
            .first()
            .and_then(|p| p.file_name())
            .map(out::os)
            .unwrap_or_default();
        let mut job = progress.job(&label, total_bytes);
        let r = run_pipeline(Reading::One(rec), args, &cams, &w, &outs, &mut job);
        job.finish();
        let r = r?;
        outcome.files.extend(r.written);
        outcome.notes.extend(r.notes);
        outcome.frames += r.frames;
        outcome.duration_ns += r.duration_ns;
        outcome.damage.extend(r.damage);
    }
    Ok(outcome)
}

/// What the streaming threads count for progress and the summary.
#[derive(Default)]
pub(crate) struct Shared {
    /// Per camera: its first frame's capture time (once it has one).
    pub(crate) first_wall: HashMap<u32, Option<u64>>,
    pub(crate) frames: u64,
    pub(crate) bytes: u64,
    pub(crate) first_pts: Option<u64>,
    pub(crate) last_end: u64,
}

pub(crate) struct RunResult {
    /// The files written (cameras with frames).
    pub(crate) written: Vec<PathBuf>,
    /// Per camera with at least one frame: its first frame's capture time.
    first_wall: HashMap<u32, Option<u64>>,
    /// What the user should know (a camera without frames).
    pub(crate) notes: Vec<String>,
    pub(crate) frames: u64,
    pub(crate) duration_ns: u64,
    pub(crate) damage: Vec<String>,
    /// What went into each camera's muxer, in the order of the cameras.
    watches: Vec<readback::Watch>,
}

pub(crate) fn make(factory: &str) -> Result<gst::Element> {
    gst::ElementFactory::make(factory).build().map_err(|_| {
        anyhow!(
            "GStreamer element {factory} is missing (install gstreamer1.0-plugins-good/-bad/-libav)"
        )
    })
}

pub(crate) fn wall_of(buffer: &gst::BufferRef) -> Option<u64> {
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

pub(crate) fn run_pipeline(
    reading: Reading<'_>,
    args: &ConvertArgs,
    cams: &[Camera],
    window: &Window,
    outs: &[PathBuf],
    job: &mut Job,
) -> Result<RunResult> {
    // Temporary files: created exclusively in the output directory under
    // random names (a link planted there is never followed), removed on
    // every failure (dropped), renamed over the outputs when complete.
    let parts: Vec<Part> = outs
        .iter()
        .map(|o| {
            let dir = o.parent().unwrap_or(Path::new("."));
            Part::new_in(dir)
                .with_context(|| format!("cannot write a temporary file in {}", out::path(dir)))
        })
        .collect::<Result<_>>()?;
    // GStreamer opens the files already open here (by /proc/self/fd), not
    // names: a name that is not UTF-8 cannot be misspelt into another file.
    let temps: Vec<PathBuf> = parts
        .iter()
        .map(|p| files::gst_location(p.file(), p.path()))
        .collect::<Result<_>>()?;
    // The inputs, held open while GStreamer reads them (by descriptor).
    let mut held = Vec::new();
    let mut fed: Vec<Recording> = Vec::new();
    for rec in reading.recs() {
        let (file, f) = feed(rec)?;
        held.extend(file);
        fed.push(f);
    }
    // GStreamer's messages name the location it was given: say which file
    // that is instead (the caller prefixes the input's name), and name the
    // output, never the temporary file. Longest names first: a descriptor
    // path is a prefix of a longer one's (`fd/1`, `fd/12`).
    let mut named: Vec<(String, &Recording)> = fed
        .iter()
        .zip(reading.recs())
        .filter(|(f, rec)| f.path != rec.path)
        .map(|(f, rec)| (f.path.to_string_lossy().into_owned(), rec))
        .collect();
    named.sort_by_key(|(fd, _)| std::cmp::Reverse(fd.len()));
    let one = matches!(reading, Reading::One(_));
    let unfd = |text: String| -> String {
        let mut text = text;
        for (fd, rec) in &named {
            text = match text.strip_prefix(&format!("{fd}: ")) {
                Some(rest) if one => rest.to_string(),
                _ => text.replace(fd.as_str(), &out::path(&rec.path)),
            };
        }
        for (t, o) in temps.iter().zip(outs) {
            text = text.replace(&*t.to_string_lossy(), &out::path(o));
        }
        text
    };
    let fed_reading = match reading {
        Reading::One(_) => Reading::One(&fed[0]),
        Reading::Joined { camera, .. } => Reading::Joined { recs: &fed, camera },
    };
    let mut r = build_and_run(fed_reading, args, cams, window, &temps, job)
        .map_err(|e| anyhow!("{}", unfd(format!("{e:#}"))))?;
    r.damage = r.damage.into_iter().map(unfd).collect();
    // A file without a picture is no video: nothing is written.
    if r.frames == 0 {
        bail!("no video frames{}: nothing written", window_note(args));
    }
    let clock = clock_offset_ns(args);
    let watches = std::mem::take(&mut r.watches);
    for ((((part, temp), o), cam), watch) in parts
        .into_iter()
        .zip(&temps)
        .zip(outs)
        .zip(cams)
        .zip(&watches)
    {
        let Some(first_wall) = r.first_wall.get(&cam.number).copied() else {
            r.notes.push(format!(
                "camera {}: no video frames{}, {} not written",
                cam.number,
                window_note(args),
                out::path(o)
            ));
            continue;
        };
        if args.format == OutFormat::Mp4
            && let Some(s) = first_wall
        {
            let s = evidence::corrected_of(s, clock);
            let file = part.file().try_clone()?;
            mp4time::set_creation_time(file, s / 1_000_000_000)
                .with_context(|| format!("cannot finish {}", out::path(o)))?;
        }
        // Read back before calling it written: a writer bug must never
        // pass as a success. First what went into the muxer, stream by
        // stream; then the pictures against the source (the proof).
        let partial = watch
            .check(temp, &|| INTERRUPTED.load(Ordering::SeqCst))
            .map_err(|e| anyhow!("{}", unfd(format!("{e:#}"))))
            .with_context(|| format!("{}: not written", out::path(o)))?;
        for p in partial {
            errln!(
                "cctv: {}: warning: {} (the video is whole)",
                out::path(o),
                out::escape(&p)
            );
        }
        let facts = ExportFacts {
            recs: reading.recs(),
            video: &cam.video,
            audio: cam.audio.as_ref(),
            mp4: args.format == OutFormat::Mp4,
            subtitles: !args.no_subtitles,
            compacted_gaps: args.gaps == Gaps::Compact,
            embedded_time: args.embed_time,
            max_gap: source_max_gap(args),
            damage: &r.damage,
            clock_offset_ns: clock,
        };
        let proof = evidence::prove(temp, &facts)
            .map_err(|e| anyhow!("{}", unfd(format!("{e:#}"))))
            .with_context(|| format!("{} not written", out::path(o)))?;
        part.persist(o, plan::may_replace(o, args.force))
            .with_context(|| format!("cannot write {}", out::path(o)))?;
        // batch (plan.rs): an output without its evidence is not written
        // (a rerun would take it for someone else's file and refuse it).
        if let Err(e) = evidence::write(o, &facts, &proof) {
            let _ = std::fs::remove_file(o);
            return Err(e);
        }
        r.written.push(o.clone());
    }
    drop(held);
    Ok(r)
}

/// `rec` as GStreamer is given it, and the file held open for it: a
/// `.psf`/`.nvr` by an open descriptor (/proc/self/fd, not its name: a
/// name that is not UTF-8 cannot be misspelt into another file); an rf1
/// location (text for rf1src) by its directory's descriptor when not
/// UTF-8.
fn feed(rec: &Recording) -> Result<(Option<std::fs::File>, Recording)> {
    let mut fed = rec.clone();
    if rec.kind != Kind::Rf1 {
        let source = files::open_regular(&rec.path)
            .with_context(|| format!("cannot read {}", out::path(&rec.path)))?;
        fed.path = files::gst_location(&source, &rec.path)?;
        return Ok((Some(source), fed));
    }
    if rec.path.to_str().is_some() {
        return Ok((None, fed));
    }
    // rf1src takes its location as text: name the directory by an open
    // descriptor, and the segment (our own ASCII names) in it.
    let (dir, rest) = if rec.path.is_dir() {
        (rec.path.as_path(), None)
    } else {
        let dir = rec.path.parent().filter(|p| !p.as_os_str().is_empty());
        (dir.unwrap_or(Path::new(".")), rec.path.file_name())
    };
    let source =
        std::fs::File::open(dir).with_context(|| format!("cannot read {}", out::path(dir)))?;
    let mut at = files::gst_location(&source, dir)?;
    if let Some(r) = rest {
        at.push(r);
    }
    if at.to_str().is_none() {
        bail!("rf1 segment names must be UTF-8 (rf1src takes its location as text)");
    }
    fed.path = at;
    Ok((Some(source), fed))
}

/// How much each mp4mux input may queue (GstAggregator `latency`).
pub(crate) const MUX_QUEUE_NS: u64 = 1_000_000_000;

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

/// The AAC encoder keeps the last partial frame of sound until more comes:
/// sound that resumes after a pause (a joined file without sound between
/// two with) was glued to it, its first 96 ms stamped 4 s early, before
/// the pause. At the first GAP after sound the segment goes to the encoder
/// again: it finishes the segment (drains), and the sound after the pause
/// starts a frame of its own at its own time.
fn drain_at_pauses(encoder: &gst::Element) {
    let Some(pad) = encoder.static_pad("sink") else {
        return;
    };
    let sounding = std::sync::atomic::AtomicBool::new(false);
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
        move |pad, info| {
            match &info.data {
                Some(gst::PadProbeData::Buffer(_)) => sounding.store(true, Ordering::Relaxed),
                Some(gst::PadProbeData::Event(e))
                    if e.type_() == gst::EventType::Gap
                        && sounding.swap(false, Ordering::Relaxed) =>
                {
                    // In the streaming thread (its stream lock is
                    // recursive): the segment it has, unchanged.
                    if let Some(segment) = pad.sticky_event::<gst::event::Segment>(0) {
                        let _ = pad.send_event(segment);
                    }
                }
                _ => {}
            }
            gst::PadProbeReturn::Ok
        },
    );
}

#[allow(clippy::too_many_arguments)]
fn build_and_run(
    reading: Reading<'_>,
    args: &ConvertArgs,
    cams: &[Camera],
    window: &Window,
    temps: &[PathBuf],
    job: &mut Job,
) -> Result<RunResult> {
    let pipeline = gst::Pipeline::new();
    let rec = &reading.recs()[0];
    let (filesrc, demux) = match (reading, rec.kind) {
        (Reading::Joined { recs, camera }, _) => {
            // The camera's timeline over exactly these files.
            let files = gst::Array::new(recs.iter().map(|r| r.path.to_string_lossy().into_owned()));
            let src = gst::ElementFactory::make("cctvsrc")
                .property("files", files)
                .property("camera", camera.to_string())
                .build()?;
            pipeline.add(&src)?;
            (None, src)
        }
        (_, Kind::Rf1) => {
            let src = gst::ElementFactory::make("rf1src")
                .property("location", rec.path.to_string_lossy().to_string())
                // The track's name (its further streams' pads are named
                // `<track>-2`…; the title is the track).
                .property(
                    "tracks",
                    cams[0]
                        .video
                        .tags
                        .title
                        .clone()
                        .unwrap_or_else(|| cams[0].video.name.clone()),
                )
                .build()?;
            pipeline.add(&src)?;
            (None, src)
        }
        (_, Kind::Pavs | Kind::Says) => {
            let src = gst::ElementFactory::make("filesrc")
                .property("location", rec.path.to_string_lossy().to_string())
                .build()?;
            let demux = make(if rec.kind == Kind::Pavs {
                "pavsdemux"
            } else {
                "saysdemux"
            })?;
            pipeline.add_many([&src, &demux])?;
            src.link(&demux)?;
            (Some(src), demux)
        }
    };
    configure_source(&demux, args);
    let shared = Arc::new(Mutex::new(Shared::default()));
    // pad name -> (sinks to link to, camera, kind); several sinks: a tee
    let mut targets: HashMap<String, (Vec<gst::Pad>, u32, StreamKind)> = HashMap::new();
    let mut add_target = |name: &str, sink: Option<gst::Pad>, cam: u32, kind: StreamKind| {
        let entry = targets
            .entry(name.to_string())
            .or_insert((Vec::new(), cam, kind));
        entry.0.extend(sink);
    };
    let mut watches = Vec::new();
    for (cam, temp) in cams.iter().zip(temps) {
        let mux = add_output(&pipeline, args, &cam.video, temp)?;
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
        let branch = Branch {
            shared: shared.clone(),
            camera: cam.number,
            span: window.span_of(cam.number),
            mux: mux.downgrade(),
            audio_decoded: args.format == OutFormat::Mp4,
            clock_offset_ns: clock_offset_ns(args),
            embed_time: match cam.video.codec {
                Codec::H264 { .. } if args.embed_time => Some(gstcctv::h264::Codec::H264),
                Codec::H265 if args.embed_time => Some(gstcctv::h264::Codec::H265),
                _ => None,
            },
        };
        branch.watch(&q, StreamKind::Video);
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
                // A joined camera's files without sound are pauses in it.
                // (One recording's sound is left as it was.)
                if matches!(reading, Reading::Joined { .. })
                    && let Some(encoder) = chain.last()
                {
                    drain_at_pauses(encoder);
                }
            }
            gst::Element::link_many(chain.iter())?;
            branch.watch(&q, StreamKind::Audio);
            chain
                .last()
                .ok_or_else(|| anyhow!("empty chain"))?
                .link_pads(None, &mux, Some("audio_%u"))?;
            add_target(&a.name, q.static_pad("sink"), cam.number, StreamKind::Audio);
        }
        if !args.no_subtitles {
            // The element's own cues (capture time, and speed and GPS where
            // the recording has them), each lasting until the next.
            let q = mux_queue()?;
            pipeline.add(&q)?;
            q.link_pads(None, &mux, Some("subtitle_%u"))?;
            branch.watch(&q, StreamKind::Subtitle);
            let pad = match rec.kind {
                Kind::Rf1 => "subtitle".to_string(),
                Kind::Pavs | Kind::Says => format!("subtitle_{}", cam.number),
            };
            add_target(&pad, q.static_pad("sink"), cam.number, StreamKind::Subtitle);
        }
        watches.push(readback::Watch::on(&mux));
    }
    let _ = add_target;
    let pipe_weak = pipeline.downgrade();
    demux.connect_pad_added(move |_, pad| {
        let name = pad.name().to_string();
        let target = targets.get(&name).cloned();
        let Some((sinks, _, _)) = target else {
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
        let linked = match sinks.as_slice() {
            [] => Ok(()),
            [sink] => pad.link(sink).map(|_| ()).map_err(|e| format!("{e:?}")),
            many => tee_to(&pipe_weak, pad, many),
        };
        if let Err(e) = linked {
            errln!("cctv: cannot link {name}: {e}");
        }
    });
    let bus = pipeline.bus().ok_or_else(|| anyhow!("no bus"))?;
    let result = (|| -> Result<Vec<String>> {
        pipeline
            .set_state(gst::State::Ready)
            .map_err(|_| anyhow!("cannot start the pipeline"))?;
        if let Some((start, stop)) = window.seek() {
            // Every camera restarts at its own key frame at or before
            // `start` (the earliest span's key frame); each branch then
            // keeps its camera's span (branch_probe).
            let ct = |ns: u64| gst::ClockTime::from_nseconds(ns);
            let seek = gst::event::Seek::new(
                1.0,
                gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
                gst::SeekType::Set,
                ct(start),
                gst::SeekType::Set,
                ct(stop),
            );
            if !demux.send_event(seek) {
                bail!("cannot seek to the requested window");
            }
        }
        start_playing(&pipeline, &bus)?;
        let own = demux.clone().upcast::<gst::Object>();
        run_bus(
            &bus,
            200,
            || {
                let bytes = filesrc
                    .as_ref()
                    .and_then(|s| s.query_position::<gst::format::Bytes>())
                    .map(|b| *b);
                let s = sh_lock(&shared);
                // filesrc in pull mode may not track its position: the
                // media bytes passed are the floor.
                job.update(bytes.unwrap_or(0).max(s.bytes), s.frames);
                Ok(())
            },
            |src| *src == own,
        )
    })();
    let _ = pipeline.set_state(gst::State::Null);
    let warnings = result?;
    let s = sh_lock(&shared);
    let notes = Vec::new();
    Ok(RunResult {
        written: Vec::new(),
        first_wall: s.first_wall.clone(),
        notes,
        frames: s.frames,
        duration_ns: s.last_end.saturating_sub(s.first_pts.unwrap_or(0)),
        damage: warnings,
        watches,
    })
}

/// The muxer (`--format`) and the filesink on `temp` of one output, in
/// `pipeline`, with the camera's title and comment as tags. Returns the
/// muxer, to link the streams to.
pub(crate) fn add_output(
    pipeline: &gst::Pipeline,
    args: &ConvertArgs,
    video: &StreamInfo,
    temp: &Path,
) -> Result<gst::Element> {
    let mux = match args.format {
        OutFormat::Mp4 => {
            let m = make("mp4mux")?;
            // Let each input pad queue up to a second: with the default (0)
            // the muxer thread and every upstream thread hand over one
            // buffer at a time, and those thread switches were most of a
            // conversion's time. Output is unchanged.
            m.set_property("latency", MUX_QUEUE_NS);
            m
        }
        // Its creation time is set from the first frame (branch_probe).
        OutFormat::Mkv => make("matroskamux")?,
    };
    // Not async: an output whose stream starts later (a second rf1 stream
    // after a codec change) has nothing to preroll with until then, and
    // the pipeline must not wait for it while the other outputs' queues
    // fill (deadlock).
    let sink = gst::ElementFactory::make("filesink")
        .property("location", temp.to_string_lossy().to_string())
        .property("async", false)
        .build()?;
    pipeline.add_many([&mux, &sink])?;
    mux.link(&sink)?;
    if let Some(setter) = mux.dynamic_cast_ref::<gst::TagSetter>() {
        let mut tags = gst::TagList::new();
        {
            let t = tags.make_mut();
            if let Some(title) = &video.tags.title {
                t.add::<gst::tags::Title>(&title.as_str(), gst::TagMergeMode::Replace);
            }
            if let Some(c) = &video.tags.comment {
                t.add::<gst::tags::Comment>(&c.as_str(), gst::TagMergeMode::Replace);
            }
        }
        setter.merge_tags(&tags, gst::TagMergeMode::Replace);
    }
    Ok(mux)
}

/// Runs a started conversion pipeline to its end: every `tick_ms` (and
/// after every message) `each` runs (progress, files to open or close);
/// Ctrl-C stops it; the first error fails it (a write error names the
/// file, as given to the filesink, and says why). Returns the damage
/// warnings of our demuxers (`ours`).
pub(crate) fn run_bus(
    bus: &gst::Bus,
    tick_ms: u64,
    mut each: impl FnMut() -> Result<()>,
    ours: impl Fn(&gst::Object) -> bool,
) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    loop {
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(tick_ms),
            &[
                gst::MessageType::Eos,
                gst::MessageType::Error,
                gst::MessageType::Warning,
            ],
        );
        each()?;
        if INTERRUPTED.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        let Some(msg) = msg else { continue };
        match msg.view() {
            gst::MessageView::Eos(_) => return Ok(warnings),
            gst::MessageView::Error(e) => {
                // A write error names the file (run_pipeline puts the
                // output's name for the temporary one) and the reason.
                if let Some(sink) = msg.src().and_then(|s| s.downcast_ref::<gst::Element>())
                    && sink.factory().is_some_and(|f| f.name() == "filesink")
                {
                    let location: String = sink.property("location");
                    let reason = plan::sink_error_reason(&e.error(), e.debug().as_deref());
                    bail!("cannot write {location}: {reason}");
                }
                bail!("{}", e.error());
            }
            gst::MessageView::Warning(w) if msg.src().is_some_and(&ours) => {
                warnings.push(damage_text(&w.error().to_string()));
            }
            _ => {}
        }
    }
}

/// Sets a conversion pipeline playing; if it refuses, the first error it
/// posted says why.
pub(crate) fn start_playing(pipeline: &gst::Pipeline, bus: &gst::Bus) -> Result<()> {
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
    Ok(())
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

pub(crate) fn sh_lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// One camera's output: what its branches keep and count.
#[derive(Clone)]
pub(crate) struct Branch {
    pub(crate) shared: Arc<Mutex<Shared>>,
    pub(crate) camera: u32,
    pub(crate) span: Option<Span>,
    pub(crate) mux: gst::glib::WeakRef<gst::Element>,
    /// Audio is decoded on this branch (MP4): a packet that straddles the
    /// span's start goes in whole and the decoder clips it to the segment,
    /// so that sound starts with the picture, not up to a packet later.
    pub(crate) audio_decoded: bool,
    /// `--clock-offset` (ns): the creation time is corrected.
    pub(crate) clock_offset_ns: i64,
    /// `--embed-time`: the video codec whose frames get a time stamp SEI.
    pub(crate) embed_time: Option<gstcctv::h264::Codec>,
}

impl Branch {
    /// Watches what enters `queue` (the branch of one stream of kind
    /// `kind`): see [`Branch::probe`].
    pub(crate) fn watch(&self, queue: &gst::Element, kind: StreamKind) {
        let Some(pad) = queue.static_pad("sink") else {
            return;
        };
        let me = self.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| me.probe(kind, info),
        );
        // After the span's probe (which may drop): what goes on gets its
        // time stamp.
        if let (StreamKind::Video, Some(codec)) = (kind, self.embed_time) {
            let clock = self.clock_offset_ns;
            pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                if let Some(gst::PadProbeData::Buffer(buffer)) = &mut info.data {
                    let wall = wall_of(buffer);
                    evidence::embed_time(pad, buffer, codec, wall, clock);
                }
                gst::PadProbeReturn::Ok
            });
        }
    }

    /// Keeps the camera's span ([`Span::clip`]), counts the video frames
    /// and notes the first one's capture time.
    fn probe(&self, kind: StreamKind, info: &mut gst::PadProbeInfo) -> gst::PadProbeReturn {
        if let Some(span) = self.span
            && span.clip(kind, self.audio_decoded, info) == gst::PadProbeReturn::Drop
        {
            return dropped(info);
        }
        match &mut info.data {
            Some(gst::PadProbeData::Buffer(buffer)) => {
                let pts = buffer.pts().map(|t| t.nseconds());
                let mut s = sh_lock(&self.shared);
                s.bytes += buffer.size() as u64;
                if kind != StreamKind::Video {
                    return gst::PadProbeReturn::Ok;
                }
                let wall = wall_of(buffer);
                let first = !s.first_wall.contains_key(&self.camera);
                if first {
                    s.first_wall.insert(self.camera, wall);
                }
                if let Some(pts) = pts {
                    let dur = buffer.duration().map_or(0, |d| d.nseconds());
                    s.frames += 1;
                    s.first_pts = Some(s.first_pts.map_or(pts, |f| f.min(pts)));
                    s.last_end = s.last_end.max(pts + dur.min(1_000_000_000));
                }
                drop(s);
                if first && let (Some(ns), Some(mux)) = (wall, self.mux.upgrade()) {
                    set_creation_time(&mux, evidence::corrected_of(ns, self.clock_offset_ns));
                }
                gst::PadProbeReturn::Ok
            }
            _ => gst::PadProbeReturn::Ok,
        }
    }
}

/// Drops the probe's data. Not `PadProbeReturn::Drop`: gstreamer-rs then
/// hands GStreamer a NULL item, which GStreamer 1.22 unrefs (a
/// `gst_mini_object_unref: assertion 'mini_object != NULL'` CRITICAL per
/// dropped buffer; fixed in 1.24.8). Taking the item and saying it was
/// handled is the same drop without it.
pub(crate) fn dropped(info: &mut gst::PadProbeInfo) -> gst::PadProbeReturn {
    info.data = None;
    gst::PadProbeReturn::Handled
}

/// The file's creation time and date tag: the first frame's capture time.
/// Set from the first video buffer, before it reaches the muxer (which
/// writes its header only once every input has data).
fn set_creation_time(mux: &gst::Element, unix_ns: u64) {
    let secs = i64::try_from(unix_ns / 1_000_000_000).unwrap_or(0);
    if mux.find_property("creation-time").is_some()
        && let Ok(dt) = gst::glib::DateTime::from_unix_utc(secs)
    {
        mux.set_property("creation-time", dt);
    }
    if let Some(setter) = mux.dynamic_cast_ref::<gst::TagSetter>()
        && let Ok(dt) =
            gst::DateTime::from_unix_epoch_utc_usecs(i64::try_from(unix_ns / 1000).unwrap_or(0))
    {
        let mut tags = gst::TagList::new();
        tags.make_mut()
            .add::<gst::tags::DateTime>(&dt, gst::TagMergeMode::Replace);
        setter.merge_tags(&tags, gst::TagMergeMode::Replace);
    }
}

/// `--clock-offset` in ns (validated in [`run`]).
pub(crate) fn clock_offset_ns(args: &ConvertArgs) -> i64 {
    args.clock_offset
        .as_deref()
        .and_then(|t| evidence::parse_clock_offset(t).ok())
        .unwrap_or(0)
}

/// `--gaps` as the elements' (and the planning scan's) `max-gap`.
pub(crate) fn source_max_gap(args: &ConvertArgs) -> Option<u64> {
    // Split compacts too: a run holds no gap longer than MAX_GAP_NS, but
    // for frames after a gap that cannot start a run (see `plan`).
    (args.gaps != Gaps::Keep).then_some(MAX_GAP_NS)
}

/// The element's presentation settings: subtitle cues on unless
/// `--no-subtitles`, the `--tz` zone, and `--gaps` as its `max-gap`.
pub(crate) fn configure_source(element: &gst::Element, args: &ConvertArgs) {
    if element.find_property("subtitles").is_some() {
        element.set_property("subtitles", !args.no_subtitles);
    }
    if let Some(tz) = &args.tz {
        element.set_property("timezone", tz);
    }
    // The cues show true time; the frame table keeps the recorder's.
    element.set_property("clock-offset", clock_offset_ns(args));
    let max_gap = source_max_gap(args).unwrap_or(0);
    // Every source element has `max-gap` (pavsdemux, saysdemux, rf1src).
    if element.find_property("max-gap").is_some() {
        element.set_property("max-gap", max_gap);
    }
}

/// " between --from and --to" when the user gave a window.
pub(crate) fn window_note(args: &ConvertArgs) -> &'static str {
    match (&args.from, &args.to) {
        (None, None) => "",
        _ => " between --from and --to",
    }
}

/// The element's damage warning without what the message line already
/// says: it names the file (as the element resolved it, often absolute)
/// and the format ("…/x.nvr: Damaged Rosco SAYS (.nvr) file: skipped …").
pub(crate) fn damage_text(warning: &str) -> String {
    let text = warning.replace('\n', "; ");
    let rest = text.find("Damaged ").map_or(text.as_str(), |i| &text[i..]);
    rest.split_once(": ").map_or(rest, |(_, r)| r).to_string()
}
