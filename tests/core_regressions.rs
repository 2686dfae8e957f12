// SPDX-License-Identifier: MIT
//! Regression tests for defects of the shared demuxer core
//! (`plugin/src/common/demux.rs`, `plugin/src/common/streams.rs`), seen through
//! pavsdemux and saysdemux: locks held across `add_pad`, sparse streams that
//! stall preroll, multi-camera seeks, one seek acted on once per sink, seeks
//! validated after flushing, PAVS blocks lost after shortened padding,
//! flushing seeks racing pad creation, and hostile capture times.
//!
//! Every wait is bounded: each scenario runs in its own thread with a
//! deadline, and a pipeline that is stuck is leaked (never set to NULL from
//! the test thread, which could hang too) so that the suite always ends.

mod support;

use gst::prelude::*;
use gstcctv::formats::pavs::writer::{CameraFrame as Frame, camera_frames};
use gstcctv::formats::says::writer::{
    AudioCodec, HeaderSpec, PictureChunks, SaysWriter, test_jpeg,
};
use gstcctv::formats::says::{MetaEntry, MetaValue};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Run, init};

// ---- bounded execution -------------------------------------------------------

/// Runs `f` in its own thread and waits at most `secs` seconds for it. A
/// timeout fails the test (the stuck thread is abandoned); a panic in `f` is
/// passed on.
fn with_deadline<T: Send + 'static>(
    secs: u64,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(what.chars().take(15).collect())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => {
            let _ = handle.join();
            v
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
            "{what}: no result within {secs} s: deadlock or stall (the stuck pipeline is leaked)"
        ),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it ends"),
        },
    }
}

/// Owns a pipeline: sets it to NULL when the scenario ends normally, leaks it
/// when the scenario panics (its streaming thread may be stuck, and setting
/// NULL would then hang as well).
struct Guard(Option<gst::Pipeline>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            if std::thread::panicking() {
                std::mem::forget(p);
            } else {
                let _ = p.set_state(gst::State::Null);
            }
        }
    }
}

impl std::ops::Deref for Guard {
    type Target = gst::Pipeline;
    fn deref(&self) -> &gst::Pipeline {
        self.0.as_ref().unwrap()
    }
}

type PadHook = dyn Fn(&gst::Element, &gst::Pad) + Send + Sync + 'static;
type PipelineAction = Arc<dyn Fn(&gst::Pipeline) + Send + Sync>;

/// `src ! <element> name=demux`; every pad the demuxer adds goes through
/// `hook` (from the pad-added handler, i.e. on the streaming thread), then
/// gets its own `branch` (e.g. "queue ! fakesink").
fn build(src: &str, element: &str, branch: &str, hook: Arc<PadHook>) -> (Guard, gst::Element) {
    init();
    let pipeline = gst::parse::launch(&format!("{src} ! {element} name=demux"))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let demux = pipeline.by_name("demux").unwrap();
    let weak = pipeline.downgrade();
    let branch = branch.to_string();
    demux.connect_pad_added(move |demux, pad| {
        hook(demux, pad);
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let Ok(bin) = gst::parse::bin_from_description(&branch, true) else {
            return;
        };
        let _ = pipeline.add(&bin);
        let _ = bin.sync_state_with_parent();
        if let Some(sink) = bin.static_pad("sink") {
            let _ = pad.link(&sink);
        }
    });
    (Guard(Some(pipeline)), demux)
}

fn filesrc(path: &Path) -> String {
    format!("filesrc location=\"{}\"", path.display())
}

fn no_hook() -> Arc<PadHook> {
    Arc::new(|_, _| {})
}

/// Waits for one of `types` (an ERROR fails the test unless asked for);
/// `None` after `secs`. Warnings seen on the way are collected.
fn wait_bus(
    bus: &gst::Bus,
    types: &[gst::MessageType],
    secs: u64,
    warnings: &mut Vec<String>,
) -> Option<gst::Message> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let msg = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64))?;
        if types.contains(&msg.type_()) {
            return Some(msg);
        }
        match msg.view() {
            gst::MessageView::Error(e) => {
                panic!("error on the bus: {} ({:?})", e.error(), e.debug())
            }
            gst::MessageView::Warning(w) => warnings.push(w.error().to_string()),
            _ => {}
        }
    }
}

/// PAUSED and prerolled within `secs`, else a clear failure.
fn preroll(p: &Guard, secs: u64, what: &str) {
    let _ = p.set_state(gst::State::Paused);
    let bus = p.bus().unwrap();
    if wait_bus(&bus, &[gst::MessageType::AsyncDone], secs, &mut Vec::new()).is_none() {
        panic!("{what}: did not preroll (reach PAUSED) within {secs} s");
    }
}

/// PLAYING until EOS within `secs`; returns the warnings.
fn play_to_eos(p: &Guard, secs: u64, what: &str) -> Vec<String> {
    let _ = p.set_state(gst::State::Playing);
    let bus = p.bus().unwrap();
    let mut warnings = Vec::new();
    if wait_bus(&bus, &[gst::MessageType::Eos], secs, &mut warnings).is_none() {
        panic!("{what}: no EOS within {secs} s");
    }
    warnings
}

/// Waits for the state change after a seek, bounded.
fn settle(p: &Guard, secs: u64, what: &str) {
    let (res, cur, _) = p.state(gst::ClockTime::from_seconds(secs));
    match res {
        Ok(gst::StateChangeSuccess::Success) | Ok(gst::StateChangeSuccess::NoPreroll) => {}
        other => panic!("{what}: state did not settle within {secs} s: {other:?} (in {cur:?})"),
    }
}

/// `support::run_pipeline` (every pad to an appsink through an unbounded
/// queue) under a deadline.
fn run_bounded(secs: u64, what: &str, description: String, seek: Option<PipelineAction>) -> Run {
    with_deadline(secs, what, move || match seek {
        Some(f) => support::run_pipeline(&description, "", None, Some(&|p| f(p))),
        None => support::run_pipeline(&description, "", None, None),
    })
}

fn push_bounded(secs: u64, what: &str, element: &'static str, bytes: Vec<u8>) -> Run {
    with_deadline(secs, what, move || {
        support::demux_bytes_push(element, &bytes, "")
    })
}

fn temp_file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn samples(dir: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/samples")
        .join(dir);
    assert!(
        path.is_dir(),
        "needs ../shared/samples ({} not found)",
        path.display()
    );
    path
}

// ---- GLib criticals ------------------------------------------------------------

static CRITICALS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Starts counting CRITICAL messages of the GStreamer log domain (once per
/// process; every test shares the list).
fn watch_criticals() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gst::glib::log_set_handler(
            Some("GStreamer"),
            gst::glib::LogLevels::LEVEL_CRITICAL,
            false,
            false,
            |domain, _, message| {
                eprintln!("{domain:?}-CRITICAL: {message}");
                CRITICALS.lock().unwrap().push(message.to_string());
            },
        );
    });
}

/// Criticals about segments (what a seek validated too late gives), so that
/// unrelated tests running in parallel do not count.
fn segment_criticals() -> Vec<String> {
    CRITICALS
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains("segment") || m.contains("start <= stop"))
        .cloned()
        .collect()
}

// ---- generated PAVS files ------------------------------------------------------

const T0: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;
const PW: u16 = 64;
const PH: u16 = 48;

/// A decodable .psf (see [`camera_frames`]): the file, each block's
/// payload and each block's offset.
fn write_psf(frames: &[Frame]) -> (Vec<u8>, Vec<Vec<u8>>, Vec<usize>) {
    let blocks = camera_frames(frames, PW, PH).unwrap();
    (blocks.bytes, blocks.payloads, blocks.offsets)
}

/// `cameras` channels (1, 2, ...) interleaved, one frame each every 500 ms;
/// channel c has key frames where `(i + phase[c]) % gop == 0` (and on its
/// first frame), so cameras have key frames at different times.
fn multicam_psf(n: usize, gop: usize, phases: &[usize]) -> Vec<Frame> {
    let mut frames = Vec::new();
    for i in 0..n {
        for (c, phase) in phases.iter().enumerate() {
            frames.push(Frame {
                channel: c as u8 + 1,
                key: i == 0 || (i + phase) % gop == 0,
                capture_time_ns: T0 + i as u64 * 500 * MS + c as u64 * 10 * MS,
            });
        }
    }
    frames
}

/// Block offsets from the block headers (length at 0x3C).
fn pavs_block_offsets(file: &[u8]) -> Vec<usize> {
    let mut at = 0;
    let mut offsets = Vec::new();
    while at + 0x40 <= file.len() && &file[at..at + 4] == b"PAVS" {
        offsets.push(at);
        at += u32::from_le_bytes(file[at + 0x3C..at + 0x40].try_into().unwrap()) as usize;
    }
    offsets
}

/// Drops the SPS+PPS the demuxer puts in front of key frames.
fn strip_parameter_sets(data: &[u8]) -> &[u8] {
    let mut at = 0;
    while data[at..].starts_with(&[0, 0, 0, 1])
        && matches!(data.get(at + 4), Some(b) if b & 0x1f == 7 || b & 0x1f == 8)
    {
        match data[at + 4..].windows(4).position(|w| w == [0, 0, 0, 1]) {
            Some(next) => at += 4 + next,
            None => break,
        }
    }
    &data[at..]
}

// ---- generated SAYS files ------------------------------------------------------

const SW: u32 = 64;
const SH: u32 = 48;
const BASE_US: u64 = 1_700_000_000_000_000;

struct Nvr {
    /// Video phases: camera c has a key frame where `(f + phase) % gop == 0`
    /// (and on its first frame).
    phases: Vec<u32>,
    gop: u32,
    frames: u32,
    frame_us: u64,
    /// Audio streams `audio_0..audio_n` (mu-law, one chunk every 5 frames).
    audio: u8,
    /// Cameras below this carry per-frame telemetry (`meta_N` pads).
    telemetry_cameras: u8,
    jpeg_after_first_frame: bool,
}

impl Default for Nvr {
    fn default() -> Self {
        Self {
            phases: vec![0],
            gop: 10,
            frames: 100,
            frame_us: 100_000,
            audio: 1,
            telemetry_cameras: 1,
            jpeg_after_first_frame: false,
        }
    }
}

fn write_nvr(g: &Nvr) -> Vec<u8> {
    let header = HeaderSpec::recorder("20231114_221320_221330.nvr", "v1.6.5", []);
    let mut w = SaysWriter::new(Vec::new(), &header).unwrap();
    let mut pictures = PictureChunks::new(SW as u16, SH as u16).unwrap();
    for f in 0..g.frames {
        let t = BASE_US + u64::from(f) * g.frame_us;
        if f % 5 == 0 {
            for a in 0..g.audio {
                let payload: Vec<u8> = (0..(g.frame_us * 5 / 125) as u32)
                    .map(|k| (k * 13 + f + u32::from(a)) as u8)
                    .collect();
                let ts = t.saturating_sub(20_000) + u64::from(a) * 1_000;
                w.write_audio(a, AudioCodec::Mulaw, ts, &payload, false)
                    .unwrap();
            }
        }
        for (cam, phase) in g.phases.iter().enumerate() {
            let ts = t + cam as u64 * 3_000;
            let key = f == 0 || (f + phase) % g.gop == 0;
            let meta = if (cam as u8) < g.telemetry_cameras {
                vec![
                    MetaEntry::new("ts", MetaValue::I64((ts / 1000) as i64)),
                    MetaEntry::new("speed", MetaValue::F64(36.0 + f64::from(f))),
                ]
            } else {
                Vec::new()
            };
            pictures
                .write(&mut w, cam as u8, key, ts, &meta, f + cam as u32 * 1000)
                .unwrap();
        }
        if f == 0 && g.jpeg_after_first_frame {
            w.write_jpeg(&test_jpeg(37, 11)).unwrap();
        }
    }
    w.into_inner()
}

// ---- 1. lock held across add_pad (pad-added handler queries) ------------------

#[derive(Default, Debug)]
struct PadAddedQueries {
    pads: Vec<String>,
    /// (pad, answered) for DURATION on the pad, and how long it took.
    duration: Vec<(String, bool, Duration)>,
    position: Vec<(String, bool)>,
}

/// Plays `path` with a pad-added handler that queries POSITION and/or
/// DURATION on the new pad and on the element; must reach EOS.
fn pad_added_queries(
    element: &'static str,
    path: PathBuf,
    position: bool,
    duration: bool,
) -> PadAddedQueries {
    with_deadline(30, &format!("{element} pad-added queries"), move || {
        let seen = Arc::new(Mutex::new(PadAddedQueries::default()));
        let seen2 = seen.clone();
        let hook: Arc<PadHook> = Arc::new(move |demux, pad| {
            let name = pad.name().to_string();
            let mut answers = Vec::new();
            if position {
                let a = pad.query_position::<gst::ClockTime>().is_some();
                let b = demux.query_position::<gst::ClockTime>().is_some();
                answers.push((a, b));
            }
            let mut d = None;
            if duration {
                let t = Instant::now();
                let answered = pad.query_duration::<gst::ClockTime>().is_some();
                let _ = demux.query_duration::<gst::ClockTime>();
                d = Some((answered, t.elapsed() / 2));
            }
            let mut s = seen2.lock().unwrap();
            s.pads.push(name.clone());
            for (a, b) in answers {
                s.position.push((name.clone(), a && b));
            }
            if let Some((answered, took)) = d {
                s.duration.push((name, answered, took));
            }
        });
        let (p, _demux) = build(
            &filesrc(&path),
            element,
            "queue ! fakesink sync=false",
            hook,
        );
        play_to_eos(
            &p,
            20,
            &format!(
                "{element}: pad-added handler querying position/duration (deadlock: lock held \
                 across add_pad?)"
            ),
        );
        drop(p);
        std::mem::take(&mut *seen.lock().unwrap())
    })
}

fn small_psf() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (file, _, _) = write_psf(&multicam_psf(20, 4, &[0, 2]));
    let path = temp_file(&dir, "small.psf", &file);
    (dir, path)
}

fn small_nvr() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = write_nvr(&Nvr {
        phases: vec![0, 5],
        frames: 40,
        ..Default::default()
    });
    let path = temp_file(&dir, "small.nvr", &bytes);
    (dir, path)
}

#[test]
fn lock_across_add_pad_pad_added_position_and_duration_query_pavsdemux() {
    let (_dir, path) = small_psf();
    let seen = pad_added_queries("pavsdemux", path, true, true);
    // Two cameras, each with its subtitle pad.
    assert_eq!(seen.pads.len(), 4, "{seen:?}");
    assert!(seen.position.iter().all(|p| p.1), "{seen:?}");
}

#[test]
fn lock_across_add_pad_pad_added_position_and_duration_query_saysdemux() {
    let (_dir, path) = small_nvr();
    let seen = pad_added_queries("saysdemux", path, true, true);
    assert!(seen.pads.len() >= 3, "{seen:?}");
    assert!(seen.position.iter().all(|p| p.1), "{seen:?}");
}

/// A DURATION query from pad-added must read a stored value, not wait for
/// the streaming thread's lock (which it holds while adding pads).
fn check_duration_query_does_not_wait(seen: &PadAddedQueries) {
    assert!(!seen.duration.is_empty(), "{seen:?}");
    for (pad, _, took) in &seen.duration {
        assert!(
            *took < Duration::from_millis(25),
            "DURATION query from pad-added on {pad} blocked for {took:?} (waiting for the \
             streaming thread's lock): {seen:?}"
        );
    }
}

#[test]
fn lock_across_add_pad_pad_added_duration_query_does_not_wait_pavsdemux() {
    let (_dir, path) = small_psf();
    let seen = pad_added_queries("pavsdemux", path, false, true);
    check_duration_query_does_not_wait(&seen);
}

#[test]
fn lock_across_add_pad_pad_added_duration_query_does_not_wait_saysdemux() {
    let (_dir, path) = small_nvr();
    let seen = pad_added_queries("saysdemux", path, false, true);
    check_duration_query_does_not_wait(&seen);
}

/// After preroll (pull mode) DURATION answers; the demuxer posts
/// DURATION_CHANGED before EOS.
fn duration_after_preroll_and_message(
    element: &'static str,
    path: PathBuf,
    last_pts: gst::ClockTime,
) -> (Option<gst::ClockTime>, bool) {
    with_deadline(30, &format!("{element} duration"), move || {
        let (p, demux) = build(
            &filesrc(&path),
            element,
            "queue ! fakesink sync=false",
            no_hook(),
        );
        // The message may come while prerolling: watch from the start.
        let changed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let changed = changed.clone();
            let demux = demux.clone();
            p.bus().unwrap().set_sync_handler(move |_, msg| {
                if msg.type_() == gst::MessageType::DurationChanged
                    && msg.src() == Some(demux.upcast_ref())
                {
                    changed.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                gst::BusSyncReply::Pass
            });
        }
        preroll(&p, 15, element);
        let d = p.query_duration::<gst::ClockTime>();
        let _ = p.set_state(gst::State::Playing);
        let bus = p.bus().unwrap();
        wait_bus(&bus, &[gst::MessageType::Eos], 20, &mut Vec::new())
            .unwrap_or_else(|| panic!("{element}: no EOS within 20 s"));
        let changed = changed.load(std::sync::atomic::Ordering::SeqCst);
        if let Some(d) = d {
            assert!(
                d > last_pts,
                "{element}: duration {d} <= last pts {last_pts}"
            );
        }
        (d, changed)
    })
}

#[test]
fn lock_across_add_pad_duration_answers_after_preroll_pavsdemux() {
    let (_dir, path) = small_psf();
    let (d, _) = duration_after_preroll_and_message(
        "pavsdemux",
        path,
        gst::ClockTime::from_mseconds(19 * 500),
    );
    assert!(d.is_some(), "pavsdemux: no DURATION after preroll");
}

#[test]
fn lock_across_add_pad_duration_answers_after_preroll_saysdemux() {
    let (_dir, path) = small_nvr();
    let (d, _) =
        duration_after_preroll_and_message("saysdemux", path, gst::ClockTime::from_mseconds(3900));
    assert!(d.is_some(), "saysdemux: no DURATION after preroll");
}

#[test]
fn lock_across_add_pad_duration_changed_posted_before_eos_pavsdemux() {
    let (_dir, path) = small_psf();
    let (_, changed) = duration_after_preroll_and_message(
        "pavsdemux",
        path,
        gst::ClockTime::from_mseconds(19 * 500),
    );
    assert!(
        changed,
        "pavsdemux posted no DURATION_CHANGED message before EOS"
    );
}

#[test]
fn lock_across_add_pad_duration_changed_posted_before_eos_saysdemux() {
    let (_dir, path) = small_nvr();
    let (_, changed) =
        duration_after_preroll_and_message("saysdemux", path, gst::ClockTime::from_mseconds(3900));
    assert!(
        changed,
        "saysdemux posted no DURATION_CHANGED message before EOS"
    );
}

// ---- 2. sparse streams stall preroll ---------------------------------------------

/// 20 s of video + audio + telemetry, one JPEG snapshot at the start.
fn sparse_nvr() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = write_nvr(&Nvr {
        frames: 200,
        jpeg_after_first_frame: true,
        ..Default::default()
    });
    let path = temp_file(&dir, "sparse.nvr", &bytes);
    (dir, path)
}

fn sparse_preroll(branch: &'static str) {
    let (_dir, path) = sparse_nvr();
    with_deadline(30, "sparse preroll", move || {
        let pads = Arc::new(Mutex::new(Vec::new()));
        let pads2 = pads.clone();
        let hook: Arc<PadHook> = Arc::new(move |_, pad| {
            pads2.lock().unwrap().push(pad.name().to_string());
        });
        let (p, _) = build(&filesrc(&path), "saysdemux", branch, hook);
        let _ = p.set_state(gst::State::Paused);
        let bus = p.bus().unwrap();
        if wait_bus(&bus, &[gst::MessageType::AsyncDone], 15, &mut Vec::new()).is_none() {
            panic!(
                "saysdemux with `{branch}` per pad did not preroll within 15 s (pads {:?}): \
                 the sparse image_0 pad starves preroll",
                pads.lock().unwrap()
            );
        }
        assert!(pads.lock().unwrap().iter().any(|p| p == "image_0"));
    });
}

#[test]
fn sparse_stream_does_not_stall_preroll_default_queue() {
    sparse_preroll("queue ! fakesink sync=false");
}

#[test]
fn sparse_stream_does_not_stall_preroll_queue_max_size_buffers_1() {
    sparse_preroll("queue max-size-buffers=1 ! fakesink sync=false");
}

#[derive(Default, Debug)]
struct SparseSeen {
    flags: Option<gst::StreamFlags>,
    gaps: Vec<(gst::ClockTime, Option<gst::ClockTime>)>,
    buffers: Vec<Option<gst::ClockTime>>,
}

#[test]
fn sparse_stream_is_flagged_and_gets_gap_events_while_others_advance() {
    let (_dir, path) = sparse_nvr();
    let seen = with_deadline(30, "sparse gaps", move || {
        let seen = Arc::new(Mutex::new(SparseSeen::default()));
        let seen2 = seen.clone();
        let hook: Arc<PadHook> = Arc::new(move |_, pad| {
            if pad.name() != "image_0" {
                return;
            }
            seen2.lock().unwrap().flags = pad
                .sticky_event::<gst::event::StreamStart>(0)
                .map(|e| e.stream_flags());
            let seen3 = seen2.clone();
            pad.add_probe(
                gst::PadProbeType::EVENT_DOWNSTREAM | gst::PadProbeType::BUFFER,
                move |_, info| {
                    let mut s = seen3.lock().unwrap();
                    match &info.data {
                        Some(gst::PadProbeData::Buffer(b)) => s.buffers.push(b.pts()),
                        Some(gst::PadProbeData::Event(e)) => {
                            if let gst::EventView::Gap(g) = e.view() {
                                s.gaps.push(g.get());
                            }
                            if let gst::EventView::StreamStart(st) = e.view() {
                                s.flags = Some(st.stream_flags());
                            }
                        }
                        _ => {}
                    }
                    gst::PadProbeReturn::Ok
                },
            );
        });
        // Unbounded queues: this one is about the events, not preroll.
        let (p, _) = build(
            &filesrc(&path),
            "saysdemux",
            "queue max-size-buffers=0 max-size-time=0 max-size-bytes=0 ! fakesink sync=false",
            hook,
        );
        play_to_eos(&p, 20, "saysdemux sparse");
        drop(p);
        std::mem::take(&mut *seen.lock().unwrap())
    });
    let flags = seen.flags.expect("image_0 pad with a stream-start");
    assert!(
        flags.contains(gst::StreamFlags::SPARSE),
        "image_0 stream-start flags {flags:?}"
    );
    assert_eq!(seen.buffers.len(), 1, "{seen:?}");
    // The other streams run for 20 s after the snapshot: the sparse pad is
    // kept up with GAP events.
    let furthest = seen
        .gaps
        .iter()
        .map(|g| g.0 + g.1.unwrap_or_default())
        .max();
    assert!(
        furthest.is_some_and(|t| t >= gst::ClockTime::from_seconds(10)),
        "no GAP events on the sparse image_0 pad while the other streams advanced 20 s: {seen:?}"
    );
}

// ---- 3. multi-camera seek: every camera starts on its own key frame ---------------

fn check_multicam_seek(
    what: &str,
    (run, firsts): &(Run, Firsts),
    video_pads: &[&str],
    target: gst::ClockTime,
    accurate: bool,
) {
    assert!(run.errors.is_empty(), "{what}: {:?}", run.errors);
    for pad in video_pads {
        let (pts, delta) =
            firsts.get(*pad).copied().flatten().unwrap_or_else(|| {
                panic!("{what}: nothing left {pad} after the seek ({firsts:?})")
            });
        assert!(
            !delta,
            "{what}: first buffer on {pad} after the seek is a delta frame (pts {pts:?}): \
             the camera does not start at its own key frame"
        );
        assert!(
            pts.is_some_and(|t| t <= target),
            "{what}: {pad} restarts at {pts:?}, after the target"
        );
        if accurate {
            let seg = run.segments[*pad].last().unwrap().clone();
            let seg = seg.downcast::<gst::ClockTime>().unwrap();
            assert_eq!(seg.start(), Some(target), "{what}: {pad} segment start");
        }
    }
}

/// First buffer (pts, delta) leaving each demuxer source pad after the last
/// FLUSH_STOP: what the demuxer sent, before any sink clips it (an ACCURATE
/// seek's key frames lie before the segment start, so sinks drop them).
type Firsts = BTreeMap<String, Option<(Option<gst::ClockTime>, bool)>>;
type FirstAfterFlush = Arc<Mutex<Firsts>>;

fn probe_first_after_flush(pipeline: &gst::Pipeline, firsts: FirstAfterFlush) {
    let demux = pipeline.by_name("demux").expect("element named demux");
    demux.connect_pad_added(move |_, pad| {
        let name = pad.name().to_string();
        let firsts = firsts.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_FLUSH,
            move |_, info| {
                let mut f = firsts.lock().unwrap();
                match &info.data {
                    Some(gst::PadProbeData::Event(e)) if e.type_() == gst::EventType::FlushStop => {
                        f.insert(name.clone(), None);
                    }
                    Some(gst::PadProbeData::Buffer(b)) => {
                        let slot = f.entry(name.clone()).or_insert(None);
                        if slot.is_none() {
                            *slot =
                                Some((b.pts(), b.flags().contains(gst::BufferFlags::DELTA_UNIT)));
                        }
                    }
                    _ => {}
                }
                gst::PadProbeReturn::Ok
            },
        );
    });
}

fn run_seek_probed(
    secs: u64,
    what: &str,
    description: String,
    seek: PipelineAction,
) -> (Run, Firsts) {
    with_deadline(secs, what, move || {
        let firsts: FirstAfterFlush = Arc::default();
        let f2 = firsts.clone();
        let run = support::run_pipeline(
            &description,
            "",
            Some(&move |p: &gst::Pipeline| probe_first_after_flush(p, f2.clone())),
            Some(&|p| seek(p)),
        );
        let firsts = std::mem::take(&mut *firsts.lock().unwrap());
        (run, firsts)
    })
}

fn seek_flags() -> [(gst::SeekFlags, bool, &'static str); 2] {
    [
        (
            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
            false,
            "KEY_UNIT",
        ),
        (
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            true,
            "ACCURATE",
        ),
    ]
}

fn seek_closure(flags: gst::SeekFlags, target: gst::ClockTime) -> PipelineAction {
    Arc::new(move |p: &gst::Pipeline| {
        p.seek_simple(flags, target).unwrap();
        let _ = p.state(gst::ClockTime::from_seconds(10));
    })
}

fn multicam_seek_pavs(frames: usize, target_ms: u64) {
    let dir = tempfile::tempdir().unwrap();
    // Camera 1 has key frames at 0, 3, 6 s...; camera 2 at 1.5, 4.5, 7.5 s...
    let (file, _, _) = write_psf(&multicam_psf(frames, 6, &[0, 3]));
    let path = temp_file(&dir, "multicam.psf", &file);
    let target = gst::ClockTime::from_mseconds(target_ms);
    for (flags, accurate, name) in seek_flags() {
        let what = format!("pavsdemux {frames} frames, {name} seek to {target}");
        let run = run_seek_probed(
            60,
            &what,
            format!("{} ! pavsdemux name=demux", filesrc(&path)),
            seek_closure(flags, target),
        );
        check_multicam_seek(&what, &run, &["video_1", "video_2"], target, accurate);
    }
}

#[test]
fn multicamera_seek_starts_every_camera_on_a_key_frame_pavsdemux() {
    // Camera 1's last key frame before 14.2 s is at 12 s, camera 2's at 13.5 s.
    multicam_seek_pavs(60, 14_200);
}

#[test]
fn multicamera_seek_starts_every_camera_on_a_key_frame_pavsdemux_bisected() {
    // Too long for discovery: the seek target is in the unread part.
    multicam_seek_pavs(3000, 1000 * 500 + 200);
}

fn multicam_seek_says(frames: u32, target_ms: u64) {
    let dir = tempfile::tempdir().unwrap();
    // Camera 0 has key frames every 1 s from 0, camera 1 from 0.5 s.
    let bytes = write_nvr(&Nvr {
        phases: vec![0, 5],
        frames,
        ..Default::default()
    });
    let path = temp_file(&dir, "multicam.nvr", &bytes);
    let target = gst::ClockTime::from_mseconds(target_ms);
    for (flags, accurate, name) in seek_flags() {
        let what = format!("saysdemux {frames} frames, {name} seek to {target}");
        let run = run_seek_probed(
            60,
            &what,
            format!("{} ! saysdemux name=demux", filesrc(&path)),
            seek_closure(flags, target),
        );
        check_multicam_seek(&what, &run, &["video_0", "video_1"], target, accurate);
    }
}

#[test]
fn multicamera_seek_starts_every_camera_on_a_key_frame_saysdemux() {
    multicam_seek_says(100, 5_230);
}

#[test]
fn multicamera_seek_starts_every_camera_on_a_key_frame_saysdemux_bisected() {
    multicam_seek_says(3000, 150_230);
}

// ---- 4. one seek, one action ---------------------------------------------------

#[derive(Default, Debug, Clone)]
struct PadEvents {
    flush_starts: usize,
    /// Segments carrying the seek's seqnum.
    seek_segments: usize,
}

fn one_seek_counts(element: &'static str, path: PathBuf) -> BTreeMap<String, PadEvents> {
    with_deadline(40, &format!("{element} one seek"), move || {
        let counts: Arc<Mutex<BTreeMap<String, PadEvents>>> = Arc::default();
        let seqnum: Arc<Mutex<Option<gst::Seqnum>>> = Arc::default();
        let (counts2, seqnum2) = (counts.clone(), seqnum.clone());
        let hook: Arc<PadHook> = Arc::new(move |_, pad| {
            let name = pad.name().to_string();
            counts2.lock().unwrap().entry(name.clone()).or_default();
            let (counts3, seqnum3) = (counts2.clone(), seqnum2.clone());
            pad.add_probe(
                gst::PadProbeType::EVENT_DOWNSTREAM | gst::PadProbeType::EVENT_FLUSH,
                move |_, info| {
                    if let Some(gst::PadProbeData::Event(e)) = &info.data {
                        let armed = *seqnum3.lock().unwrap();
                        if let Some(seqnum) = armed {
                            let mut c = counts3.lock().unwrap();
                            let c = c.get_mut(&name).unwrap();
                            match e.view() {
                                gst::EventView::FlushStart(_) => c.flush_starts += 1,
                                gst::EventView::Segment(_) if e.seqnum() == seqnum => {
                                    c.seek_segments += 1
                                }
                                _ => {}
                            }
                        }
                    }
                    gst::PadProbeReturn::Ok
                },
            );
        });
        let (p, _) = build(
            &filesrc(&path),
            element,
            "queue ! fakesink sync=false",
            hook,
        );
        preroll(&p, 15, element);
        let seek = gst::event::Seek::new(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
            gst::SeekType::Set,
            gst::ClockTime::from_seconds(2),
            gst::SeekType::None,
            gst::ClockTime::NONE,
        );
        *seqnum.lock().unwrap() = Some(seek.seqnum());
        assert!(p.send_event(seek), "{element}: seek refused");
        settle(&p, 15, element);
        // Let every pad's first buffer (and its segment) through.
        std::thread::sleep(Duration::from_millis(200));
        counts.lock().unwrap().clone()
    })
}

fn check_one_seek(element: &str, counts: &BTreeMap<String, PadEvents>, pads: usize) {
    assert_eq!(counts.len(), pads, "{element}: {counts:?}");
    for (pad, c) in counts {
        assert_eq!(
            c.flush_starts, 1,
            "{element}: one pipeline seek gave {} FLUSH_START on {pad} (acted on once per \
             sink): {counts:?}",
            c.flush_starts
        );
        assert_eq!(
            c.seek_segments, 1,
            "{element}: one pipeline seek gave {} segments on {pad}: {counts:?}",
            c.seek_segments
        );
    }
}

#[test]
fn one_seek_runs_once_not_once_per_sink_saysdemux() {
    // video_0, subtitle_0, audio_0
    let dir = tempfile::tempdir().unwrap();
    let bytes = write_nvr(&Nvr::default());
    let path = temp_file(&dir, "three.nvr", &bytes);
    let counts = one_seek_counts("saysdemux", path);
    check_one_seek("saysdemux", &counts, 3);
}

#[test]
fn one_seek_runs_once_not_once_per_sink_pavsdemux() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _, _) = write_psf(&multicam_psf(20, 4, &[0, 1, 2]));
    let path = temp_file(&dir, "three.psf", &file);
    let counts = one_seek_counts("pavsdemux", path);
    // Three cameras and their subtitle pads: each flushed and segmented once.
    check_one_seek("pavsdemux", &counts, 6);
}

// ---- 5. seeks are validated before flushing ----------------------------------------

#[derive(Default, Debug)]
struct FlowCheck {
    flush_starts: usize,
    needs_segment: bool,
    buffers: usize,
    /// Buffers seen after a FLUSH_STOP and before the next SEGMENT.
    unsegmented: usize,
    last_pts: Option<gst::ClockTime>,
}

#[test]
fn invalid_seek_is_refused_before_flushing() {
    init();
    watch_criticals();
    let dir = tempfile::tempdir().unwrap();
    let (file, _, _) = write_psf(&Frame::one_camera(40, 4)); // 20 s
    let path = temp_file(&dir, "invalid-seek.psf", &file);
    with_deadline(40, "invalid seek", move || {
        let check: Arc<Mutex<FlowCheck>> = Arc::default();
        let check2 = check.clone();
        let hook: Arc<PadHook> = Arc::new(move |_, pad| {
            let check3 = check2.clone();
            pad.add_probe(
                gst::PadProbeType::EVENT_DOWNSTREAM
                    | gst::PadProbeType::EVENT_FLUSH
                    | gst::PadProbeType::BUFFER,
                move |_, info| {
                    let mut c = check3.lock().unwrap();
                    match &info.data {
                        Some(gst::PadProbeData::Buffer(b)) => {
                            c.buffers += 1;
                            c.last_pts = b.pts();
                            if c.needs_segment {
                                c.unsegmented += 1;
                            }
                        }
                        Some(gst::PadProbeData::Event(e)) => match e.view() {
                            gst::EventView::FlushStart(_) => c.flush_starts += 1,
                            gst::EventView::FlushStop(_) => c.needs_segment = true,
                            gst::EventView::Segment(_) => c.needs_segment = false,
                            _ => {}
                        },
                        _ => {}
                    }
                    gst::PadProbeReturn::Ok
                },
            );
        });
        let (p, _) = build(
            &filesrc(&path),
            "pavsdemux",
            "queue ! fakesink sync=false",
            hook,
        );
        preroll(&p, 15, "pavsdemux");
        // 1. a valid seek with a stop at 10 s
        p.seek(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
            gst::SeekType::Set,
            Some(gst::ClockTime::from_seconds(2)),
            gst::SeekType::Set,
            Some(gst::ClockTime::from_seconds(10)),
        )
        .expect("first (valid) seek");
        settle(&p, 15, "after the first seek");
        std::thread::sleep(Duration::from_millis(100));
        let criticals_before = segment_criticals().len();
        check.lock().unwrap().flush_starts = 0;
        // 2. start 12 s > the stop of 10 s it keeps (stop type None)
        let refused = p
            .seek(
                1.0,
                gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                gst::SeekType::Set,
                Some(gst::ClockTime::from_seconds(12)),
                gst::SeekType::None,
                gst::ClockTime::NONE,
            )
            .is_err();
        let _ = p.state(gst::ClockTime::from_seconds(5));
        let flushes = check.lock().unwrap().flush_starts;
        let criticals: Vec<String> = segment_criticals().split_off(criticals_before);
        assert!(refused, "a seek with start 12 s > stop 10 s was accepted");
        assert_eq!(
            flushes, 0,
            "the invalid seek flushed downstream ({flushes} FLUSH_START) before failing"
        );
        assert!(
            criticals.is_empty(),
            "the invalid seek logged GStreamer CRITICALs: {criticals:?}"
        );
        // 3. a valid seek: playback goes on, every buffer after its segment
        p.seek(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
            gst::SeekType::Set,
            Some(gst::ClockTime::from_seconds(4)),
            gst::SeekType::Set,
            Some(gst::ClockTime::from_seconds(8)),
        )
        .expect("valid seek after the invalid one");
        settle(&p, 15, "after the valid seek");
        {
            let mut c = check.lock().unwrap();
            c.buffers = 0;
        }
        play_to_eos(&p, 20, "playback after the invalid seek");
        let c = check.lock().unwrap();
        assert_eq!(c.unsegmented, 0, "buffers without a segment: {c:?}");
        assert!(c.buffers > 0, "nothing played after the valid seek: {c:?}");
        assert!(
            c.last_pts
                .is_some_and(|t| t < gst::ClockTime::from_seconds(8)),
            "{c:?}"
        );
    });
}

// ---- 6. PAVS: the block after shortened padding is lost ---------------------------

fn delete_byte(file: &[u8], at: usize) -> Vec<u8> {
    let mut out = file.to_vec();
    out.remove(at);
    out
}

fn check_all_payloads(what: &str, run: &Run, want: &[&[u8]]) {
    assert!(run.errors.is_empty(), "{what}: {:?}", run.errors);
    let out = run.only();
    let got: Vec<&[u8]> = out.iter().map(|o| strip_parameter_sets(&o.data)).collect();
    let index_of = |p: &[u8]| want.iter().position(|q| *q == p);
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} of {} blocks came out (blocks {:?})",
        got.len(),
        want.len(),
        got.iter().map(|p| index_of(p)).collect::<Vec<_>>()
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(g == w, "{what}: block {i} payload differs");
    }
}

#[test]
fn pavs_block_after_shortened_padding_is_kept_generated_pull_and_push() {
    let dir = tempfile::tempdir().unwrap();
    // Key frames only: every payload is distinct.
    let (file, payloads, offsets) = write_psf(&Frame::one_camera(12, 1));
    let want: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
    for k in [0, 5, 10] {
        let payload_end = offsets[k] + 0x240 + payloads[k].len();
        let block_end = offsets[k + 1];
        assert!(payload_end + 2 < block_end, "block {k} has padding");
        // the last padding byte, then one in the middle of the padding
        for at in [block_end - 1, (payload_end + block_end) / 2] {
            let damaged = delete_byte(&file, at);
            let path = temp_file(&dir, &format!("short-{k}-{at}.psf"), &damaged);
            let what = format!("block {k} padding one byte short (byte {at} deleted)");
            let run = run_bounded(
                30,
                &what,
                format!("{} ! pavsdemux name=demux", filesrc(&path)),
                None,
            );
            check_all_payloads(&format!("pull, {what}"), &run, &want);
            let run = push_bounded(30, &what, "pavsdemux", damaged);
            check_all_payloads(&format!("push, {what}"), &run, &want);
        }
    }
}

#[test]
#[ignore = "needs ../shared/samples (run with --include-ignored)"]
fn pavs_block_after_shortened_padding_is_kept_video1_sample() {
    let dir = samples("pavs");
    let file = std::fs::read(dir.join("video1.psf")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let blocks = json["video1"]["blocks"].as_array().unwrap();
    let want: Vec<&[u8]> = blocks
        .iter()
        .map(|b| {
            let at = b["payload_offset"].as_u64().unwrap() as usize;
            let len = b["payload_len"].as_u64().unwrap() as usize;
            &file[at..at + len]
        })
        .collect();
    assert_eq!(want.len(), 18);
    let offsets = pavs_block_offsets(&file);
    assert_eq!(offsets.len(), 18);
    // Block 5: its last padding byte.
    let payload_end = offsets[5] + 0x240 + want[5].len();
    let at = offsets[6] - 1;
    assert!(payload_end <= at, "block 5 has padding");
    let damaged = delete_byte(&file, at);
    let tmp = tempfile::tempdir().unwrap();
    let path = temp_file(&tmp, "video1-short.psf", &damaged);
    let what = "video1.psf with block 5's padding one byte short";
    let run = run_bounded(
        30,
        what,
        format!("{} ! pavsdemux name=demux", filesrc(&path)),
        None,
    );
    check_all_payloads(&format!("pull, {what}"), &run, &want);
    let run = push_bounded(30, what, "pavsdemux", damaged);
    check_all_payloads(&format!("push, {what}"), &run, &want);
}

// ---- 7. flushing seeks while pads are being added ------------------------------------

#[test]
fn flushing_seeks_while_pads_are_added_do_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    // 2 cameras, 2 audio, a JPEG, telemetry: video_0/1, audio_0/1, image_0,
    // meta_0/1 (every video chunk has a metadata list, if only an empty one).
    // 150 s: more units than discovery reads, so pads appear mid-file.
    let bytes = write_nvr(&Nvr {
        phases: vec![0, 5],
        frames: 1500,
        audio: 2,
        telemetry_cameras: 1,
        jpeg_after_first_frame: true,
        ..Default::default()
    });
    let path = temp_file(&dir, "six.nvr", &bytes);
    // The pads this file gives.
    let run = run_bounded(
        30,
        "six pads",
        format!("{} ! saysdemux telemetry=true name=demux", filesrc(&path)),
        None,
    );
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(
        run.pads.keys().cloned().collect::<Vec<_>>(),
        [
            "audio_0", "audio_1", "image_0", "meta_0", "meta_1", "video_0", "video_1"
        ],
    );
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let started = Instant::now();
    let mut accepted = 0;
    for iteration in 0..50 {
        let path = path.clone();
        // (target ms, pause before it in µs)
        let seeks: Vec<(u64, u64)> = (0..16).map(|_| (next() % 150_000, next() % 1500)).collect();
        let what = format!("iteration {iteration}, seeks {seeks:?}");
        accepted += with_deadline(20, &what.clone(), move || {
            let (p, demux) = build(
                &filesrc(&path),
                "saysdemux",
                // Unbounded queues: a pad that gets no data after a seek (the
                // snapshot) then prerolls on EOS; this is about deadlocks.
                "queue max-size-buffers=0 max-size-time=0 max-size-bytes=0 ! fakesink sync=false",
                no_hook(),
            );
            let _ = p.set_state(gst::State::Paused);
            let mut accepted = 0;
            for (i, (t, pause)) in seeks.iter().enumerate() {
                std::thread::sleep(Duration::from_micros(*pause));
                let flags = if i % 2 == 0 {
                    gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT
                } else {
                    gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE
                };
                let t = gst::ClockTime::from_mseconds(*t);
                // Through the pipeline (reaches the pads linked so far) and
                // straight at the demuxer (even before its sinks exist).
                accepted += usize::from(p.seek_simple(flags, t).is_ok());
                accepted += usize::from(demux.send_event(gst::event::Seek::new(
                    1.0,
                    flags,
                    gst::SeekType::Set,
                    t,
                    gst::SeekType::None,
                    gst::ClockTime::NONE,
                )));
            }
            let (res, cur, _) = p.state(gst::ClockTime::from_seconds(15));
            assert!(
                res.is_ok() && cur == gst::State::Paused,
                "{what}: no stable PAUSED state within 15 s: {res:?} in {cur:?}"
            );
            p.set_state(gst::State::Null).unwrap();
            accepted
        });
    }
    eprintln!(
        "50 iterations in {:?}, {accepted} seeks accepted",
        started.elapsed()
    );
    assert!(accepted > 0, "no seek reached the demuxer");
}

// ---- 8. hostile capture times (PAVS) --------------------------------------------------

#[test]
fn pavs_hostile_capture_time_between_normal_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let hostile_at = 6;
    for (name, hostile_ns) in [
        (
            "year 2106 (u32 seconds max)",
            u64::from(u32::MAX) * 1_000_000_000 + 999_999_000,
        ),
        ("year 2100", 4_102_444_800 * 1_000_000_000),
        ("zero (1970)", 0),
    ] {
        // Key frames only: every payload is distinct.
        let mut frames = Frame::one_camera(12, 1);
        frames[hostile_at].capture_time_ns = hostile_ns;
        let (file, payloads, _) = write_psf(&frames);
        let path = temp_file(&dir, "hostile.psf", &file);
        let pull = run_bounded(
            30,
            name,
            format!("{} ! pavsdemux name=demux", filesrc(&path)),
            None,
        );
        let push = push_bounded(30, name, "pavsdemux", file.clone());
        for (mode, run) in [("pull", pull), ("push", push)] {
            let what = format!("{mode}, capture time {name} in block {hostile_at}");
            assert!(run.errors.is_empty(), "{what}: {:?}", run.errors);
            let out = run.only();
            let got: Vec<&[u8]> = out.iter().map(|o| strip_parameter_sets(&o.data)).collect();
            let which: Vec<usize> = got
                .iter()
                .map(|g| {
                    payloads
                        .iter()
                        .position(|p| p == g)
                        .unwrap_or_else(|| panic!("{what}: unknown payload"))
                })
                .collect();
            let others: Vec<usize> = which.iter().copied().filter(|&i| i != hostile_at).collect();
            assert_eq!(
                others,
                (0..12).filter(|&i| i != hostile_at).collect::<Vec<_>>(),
                "{what}: every other block, in order (got blocks {which:?} at {:?})",
                out.iter().map(|o| o.pts).collect::<Vec<_>>()
            );
            if which.len() == 11 {
                assert!(
                    !run.warnings.is_empty(),
                    "{what}: block skipped without a WARNING"
                );
            }
            // Sane times: never decreasing. A valid block far in the future
            // is a real forward jump as far as one block can tell (a gap in
            // recording looks the same), so the blocks after it follow it;
            // a block back in time is placed one frame on.
            let pts: Vec<gst::ClockTime> = out.iter().map(|o| o.pts.unwrap()).collect();
            assert!(pts.windows(2).all(|w| w[0] <= w[1]), "{what}: {pts:?}");
            let forward_jump = hostile_ns > 1_000_000_000_000_000_000;
            for (o, &i) in out.iter().zip(&which) {
                if i != hostile_at && (i < hostile_at || !forward_jump) {
                    let want = gst::ClockTime::from_mseconds(i as u64 * 500);
                    assert!(
                        o.pts.unwrap().nseconds().abs_diff(want.nseconds()) <= 1_000_000_000,
                        "{what}: block {i} at {:?}, want about {want}",
                        o.pts
                    );
                }
            }
        }
    }
}
