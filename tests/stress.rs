// SPDX-License-Identifier: MIT
//! Stress: (a) many pipelines at once, (b) rapid PAUSED/seek/NULL cycles
//! on each element, (c) random flushing seeks fired back to back while a
//! 6-pad `.nvr` streams. Every iteration is bounded (a deadlock fails),
//! and no GLib CRITICAL or "data flow before segment" warning may appear.
//! `CCTV_STRESS` scales the iteration counts (default 1).

#[path = "support/hostile.rs"]
mod hostile;

use gst::prelude::*;
use hostile::*;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn scale() -> usize {
    env_scale("CCTV_STRESS", 1).max(1)
}

/// Runs `f` in a `cctv-run` thread; a result later than `timeout` is a
/// deadlock.
fn bounded<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    f: impl FnOnce(&Stage) -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let stage = Stage::default();
    let stage2 = stage.clone();
    std::thread::Builder::new()
        .name("cctv-run-stress".into())
        .spawn(move || {
            let _ = tx.send(f(&stage2));
        })
        .unwrap();
    rx.recv_timeout(timeout).unwrap_or_else(|_| {
        panic!(
            "{what}: deadlock (no result within {timeout:?}) at: {}",
            stage.0.lock().unwrap()
        )
    })
}

/// Where a bounded job is, for the deadlock report.
#[derive(Clone, Default)]
struct Stage(std::sync::Arc<std::sync::Mutex<String>>);

impl Stage {
    fn set(&self, text: impl Into<String>) {
        *self.0.lock().unwrap() = text.into();
    }
}

fn assert_quiet(what: &str, criticals_before: usize, segment_before: usize) {
    self_check();
    let (c, s) = (
        criticals() - criticals_before,
        segment_warnings() - segment_before,
    );
    assert!(
        c == 0 && s == 0,
        "{what}: {c} GLib CRITICALs, {s} data-before-segment warnings: {:#?}",
        notes()
    );
}

struct Files {
    _dir: tempfile::TempDir,
    psf: PathBuf,
    nvr: PathBuf,
    rf1_dir: PathBuf,
    psf_bytes: Vec<u8>,
    nvr_bytes: Vec<u8>,
    /// Units per file: the exact frame counts every run must give.
    psf_units: usize,
    nvr_units: usize,
    rf1_units: usize,
}

fn files(frames: usize) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let p = psf(11, 2, frames, PavsTime::Regular);
    let n = nvr(12, 2, frames, false);
    let (r, segs) = rf1(13, 3, frames / 3 + 1, true);
    let rf1_dir = dir.path().join("camera-0001");
    std::fs::create_dir(&rf1_dir).unwrap();
    write_rf1(&rf1_dir, &r, &segs);
    let psf_path = dir.path().join("a.psf");
    let nvr_path = dir.path().join("a.nvr");
    std::fs::write(&psf_path, &p.files[0]).unwrap();
    std::fs::write(&nvr_path, &n.files[0]).unwrap();
    // Telemetry: one meta buffer per video frame on top of the units.
    let nvr_meta = n
        .units
        .iter()
        .filter(|u| u.pad.starts_with("video"))
        .count();
    Files {
        psf: psf_path,
        nvr: nvr_path,
        rf1_dir,
        psf_bytes: p.files[0].clone(),
        nvr_bytes: n.files[0].clone(),
        psf_units: p.units.len(),
        nvr_units: n.units.len() + nvr_meta,
        rf1_units: r.units.len(),
        _dir: dir,
    }
}

/// A named pipeline run and the frame count it must give.
type Job<'a> = (&'a str, Box<dyn Fn() -> Outcome + 'a>, usize);

#[test]
fn many_pipelines_at_once() {
    init();
    let (c0, s0) = (criticals(), segment_warnings());
    let f = std::sync::Arc::new(files(30));
    let threads = 8;
    let rounds = 2 * scale();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let f = f.clone();
            std::thread::Builder::new()
                .name(format!("stress-{t}"))
                .spawn(move || {
                    let mut runs = 0;
                    for round in 0..rounds {
                        let jobs: [Job; 5] = [
                            (
                                "pavs pull",
                                Box::new(|| run_demux("pavsdemux", &f.psf_bytes, Mode::Pull)),
                                f.psf_units,
                            ),
                            (
                                "pavs push",
                                Box::new(|| run_demux("pavsdemux", &f.psf_bytes, Mode::Push)),
                                f.psf_units,
                            ),
                            (
                                "says pull",
                                Box::new(|| run_demux("saysdemux", &f.nvr_bytes, Mode::Pull)),
                                f.nvr_units,
                            ),
                            (
                                "says push",
                                Box::new(|| run_demux("saysdemux", &f.nvr_bytes, Mode::Push)),
                                f.nvr_units,
                            ),
                            ("rf1 dir", Box::new(|| run_rf1src(&f.rf1_dir)), f.rf1_units),
                        ];
                        for k in 0..jobs.len() {
                            let (what, job, units) = &jobs[(k + t + round) % jobs.len()];
                            let o = job();
                            assert!(
                                o.clean() && o.eos && o.errors.is_empty(),
                                "thread {t} {what}: {o}"
                            );
                            assert_eq!(o.frames(), *units, "thread {t} {what}");
                            runs += 1;
                        }
                    }
                    runs
                })
                .unwrap()
        })
        .collect();
    let runs: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!("stress concurrent: {runs} pipelines in {threads} threads");
    assert_eq!(runs, threads * rounds * 5);
    assert_quiet("concurrent", c0, s0);
}

/// `src ! demux` (or rf1src alone) with a queue and a fakesink per pad.
fn seekable_pipeline(element: &str, location: &Path, sync: bool) -> gst::Pipeline {
    let pipeline = gst::Pipeline::new();
    let demux = if element == "rf1src" {
        let src = gst::ElementFactory::make("rf1src")
            .property("location", location.to_str().unwrap())
            .build()
            .unwrap();
        pipeline.add(&src).unwrap();
        src
    } else {
        let src = gst::ElementFactory::make("filesrc")
            .property("location", location.to_str().unwrap())
            .build()
            .unwrap();
        let demux = gst::ElementFactory::make(element).build().unwrap();
        pipeline.add_many([&src, &demux]).unwrap();
        src.link(&demux).unwrap();
        demux
    };
    let weak = pipeline.downgrade();
    demux.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let queue = gst::ElementFactory::make("queue").build().unwrap();
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", sync)
            .build()
            .unwrap();
        pipeline.add_many([&queue, &sink]).unwrap();
        queue.link(&sink).unwrap();
        sink.sync_state_with_parent().unwrap();
        queue.sync_state_with_parent().unwrap();
        let _ = pad.link(&queue.static_pad("sink").unwrap());
    });
    pipeline
}

/// Removes the queue+fakesink branches whose source pad went away (the
/// element removes its pads when it stops); left in place, their sinks
/// could never preroll again.
fn drop_orphan_branches(pipeline: &gst::Pipeline) {
    let orphans: Vec<gst::Element> = pipeline
        .iterate_elements()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            e.factory().is_some_and(|f| f.name() == "queue")
                && !e.static_pad("sink").unwrap().is_linked()
        })
        .collect();
    for queue in orphans {
        let sink = queue
            .static_pad("src")
            .unwrap()
            .peer()
            .and_then(|p| p.parent_element());
        for e in std::iter::once(queue).chain(sink) {
            e.set_state(gst::State::Null).unwrap();
            pipeline.remove(&e).unwrap();
        }
    }
}

/// Pops bus messages until one of `types` (or an ERROR, returned as Err)
/// within `timeout` overall, however many other messages arrive.
fn wait_for(
    bus: &gst::Bus,
    types: &[gst::MessageType],
    timeout: Duration,
) -> Result<Option<gst::Message>, String> {
    let deadline = Instant::now() + timeout;
    let mut other = std::collections::BTreeMap::<String, usize>::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            if other.values().sum::<usize>() > 1000 {
                return Err(format!("bus flooded while waiting: {other:?}"));
            }
            return Ok(None);
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Error(e) => {
                return Err(format!("{} {:?}", e.error(), e.debug()));
            }
            _ if types.contains(&msg.type_()) => return Ok(Some(msg)),
            _ => *other.entry(format!("{:?}", msg.type_())).or_default() += 1,
        }
    }
}

#[test]
fn rapid_paused_seek_null_cycles() {
    init();
    let (c0, s0) = (criticals(), segment_warnings());
    let f = files(40);
    let cycles = 15 * scale();
    let mut total = 0;
    for (element, location) in [
        ("pavsdemux", f.psf.clone()),
        ("saysdemux", f.nvr.clone()),
        ("rf1src", f.rf1_dir.clone()),
    ] {
        let done = bounded(element, Duration::from_secs(90), move |stage| {
            let mut rng = XorShift::new(element.len() as u64 * 77);
            let pipeline = seekable_pipeline(element, &location, false);
            let bus = pipeline.bus().unwrap();
            let mut cycles_done = 0;
            for cycle in 0..cycles {
                stage.set(format!("cycle {cycle}: to PAUSED"));
                let _ = pipeline.set_state(gst::State::Paused);
                if rng.chance(70) {
                    stage.set(format!("cycle {cycle}: waiting for preroll"));
                    let r = wait_for(
                        &bus,
                        &[gst::MessageType::AsyncDone],
                        Duration::from_secs(10),
                    );
                    assert!(r.is_ok(), "{element} cycle {cycle}: {r:?}");
                }
                let flags = if rng.chance(50) {
                    gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT
                } else {
                    gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE
                };
                let at = gst::ClockTime::from_mseconds(rng.below(5000) as u64);
                stage.set(format!("cycle {cycle}: seek {flags:?} to {at}"));
                let _ = pipeline.seek_simple(flags, at);
                if rng.chance(50) {
                    stage.set(format!("cycle {cycle}: to PLAYING"));
                    let _ = pipeline.set_state(gst::State::Playing);
                    std::thread::sleep(Duration::from_millis(rng.below(15) as u64));
                }
                if rng.chance(30) {
                    stage.set(format!("cycle {cycle}: plain seek to 0"));
                    let _ = pipeline.seek_simple(gst::SeekFlags::FLUSH, gst::ClockTime::ZERO);
                }
                let to = if rng.chance(50) {
                    gst::State::Null
                } else {
                    gst::State::Ready
                };
                stage.set(format!("cycle {cycle}: to {to:?}"));
                pipeline.set_state(to).expect("state change down");
                drop_orphan_branches(&pipeline);
                while let Some(msg) = bus.pop() {
                    if let gst::MessageView::Error(e) = msg.view() {
                        panic!("{element} cycle {cycle}: {} {:?}", e.error(), e.debug());
                    }
                }
                cycles_done += 1;
            }
            // Still alive: a last full run to EOS.
            stage.set("final run to EOS");
            pipeline.set_state(gst::State::Playing).unwrap();
            let end = wait_for(&bus, &[gst::MessageType::Eos], Duration::from_secs(20));
            assert!(
                matches!(end, Ok(Some(_))),
                "{element} after cycles: {end:?}"
            );
            pipeline.set_state(gst::State::Null).unwrap();
            cycles_done
        });
        total += done;
    }
    println!("stress cycles: {total} PAUSED/seek/NULL cycles on 3 elements");
    assert_eq!(total, 3 * cycles);
    assert_quiet("cycles", c0, s0);
}

#[test]
fn random_flushing_seeks_on_a_six_pad_nvr() {
    init();
    let (c0, s0) = (criticals(), segment_warnings());
    let f = files(300);
    let iterations = 6 * scale();
    let mut seeks = 0;
    let mut accepted = 0;
    for iteration in 0..iterations {
        let nvr = f.nvr.clone();
        let (sent, ok) = bounded(
            &format!("seek iteration {iteration}"),
            Duration::from_secs(60),
            move |stage| {
                let mut rng = XorShift::new(0x5eec + iteration as u64);
                // Synchronised sinks: the file streams for its real
                // duration, so the seeks land while data flows.
                let pipeline = seekable_pipeline("saysdemux", &nvr, true);
                let bus = pipeline.bus().unwrap();
                pipeline.set_state(gst::State::Playing).unwrap();
                let r = wait_for(
                    &bus,
                    &[gst::MessageType::AsyncDone],
                    Duration::from_secs(10),
                );
                assert!(matches!(r, Ok(Some(_))), "preroll: {r:?}");
                let pads = pipeline
                    .iterate_sinks()
                    .into_iter()
                    .filter_map(Result::ok)
                    .count();
                assert_eq!(pads, 6, "video_0/1, meta_0/1, audio_0, image_0");
                let duration_ms = 300 * 66;
                let (mut sent, mut ok) = (0, 0);
                for _ in 0..25 {
                    let mut flags = gst::SeekFlags::FLUSH;
                    for extra in [
                        gst::SeekFlags::KEY_UNIT,
                        gst::SeekFlags::ACCURATE,
                        gst::SeekFlags::SNAP_BEFORE,
                        gst::SeekFlags::SEGMENT,
                    ] {
                        if rng.chance(35) {
                            flags |= extra;
                        }
                    }
                    let rate = [0.5, 1.0, 2.0, 4.0, -1.0][rng.below(5)];
                    let start = gst::ClockTime::from_mseconds(rng.below(duration_ms + 3000) as u64);
                    let stop = if rng.chance(30) {
                        Some(start + gst::ClockTime::from_mseconds(rng.below(3000) as u64))
                    } else {
                        None
                    };
                    let (st, sp) = if rate < 0.0 {
                        (gst::ClockTime::ZERO, Some(start))
                    } else {
                        (start, stop)
                    };
                    let event = gst::event::Seek::new(
                        rate,
                        flags,
                        gst::SeekType::Set,
                        st,
                        gst::SeekType::Set,
                        sp,
                    );
                    sent += 1;
                    stage.set(format!("seek {sent}: {event:?}"));
                    if pipeline.send_event(event) {
                        ok += 1;
                    }
                    if rng.chance(40) {
                        std::thread::sleep(Duration::from_millis(rng.below(8) as u64));
                    } else if rng.chance(20) {
                        std::thread::sleep(Duration::from_millis(rng.range(20..120) as u64));
                    }
                    while let Some(msg) = bus.pop() {
                        if let gst::MessageView::Error(e) = msg.view() {
                            panic!("seek: {} {:?}", e.error(), e.debug());
                        }
                    }
                }
                // Alive afterwards: a plain flushing seek plays to EOS.
                stage.set("final plain seek and run to EOS");
                pipeline
                    .seek_simple(
                        gst::SeekFlags::FLUSH,
                        gst::ClockTime::from_mseconds(duration_ms as u64 - 700),
                    )
                    .expect("plain flushing seek");
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    assert!(!left.is_zero(), "no EOS after the seeks");
                    match wait_for(&bus, &[gst::MessageType::Eos], left) {
                        Ok(Some(_)) => break,
                        Ok(None) => {}
                        Err(e) => panic!("after seeks: {e}"),
                    }
                }
                pipeline.set_state(gst::State::Null).unwrap();
                (sent, ok)
            },
        );
        seeks += sent;
        accepted += ok;
    }
    println!(
        "stress seeks: {iterations} iterations, {seeks} seeks sent while streaming, {accepted} accepted"
    );
    assert!(seeks > 0 && accepted > 0);
    assert_quiet("seeks", c0, s0);
}
