// SPDX-License-Identifier: MIT
//! Helpers shared by the integration tests: plugin registration, running a
//! pipeline into one appsink per source pad, reading the shared samples.
#![allow(dead_code)]

use gst::prelude::*;
use gst_video::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstcctv::plugin_register_static().expect("register plugin");
    });
}

/// `../shared/samples/<dir>` beside the checkout. Tests that need it are
/// `#[ignore]`d, so that without the samples they are reported as skipped;
/// `scripts/test.sh` runs them (`--include-ignored`) where the samples
/// exist, and there a missing directory is a failure, not a pass.
pub fn shared_samples(dir: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/samples")
        .join(dir);
    assert!(
        path.is_dir(),
        "needs {} (run the sample tests only where ../shared/samples exists)",
        path.display()
    );
    path
}

/// The directory of the built plugin: `cargo test` puts the cdylib beside
/// the test binary (target/<profile>/deps); `cargo build` one level up.
pub fn plugin_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    let dir = if deps.join("libgstcctv.so").exists() {
        deps
    } else {
        deps.parent().unwrap().to_path_buf()
    };
    assert!(
        dir.join("libgstcctv.so").exists(),
        "no libgstcctv.so in {} (scripts/test.sh builds it)",
        dir.display()
    );
    dir
}

/// One buffer as it left the element.
#[derive(Debug, Clone)]
pub struct Out {
    pub data: Vec<u8>,
    pub pts: Option<gst::ClockTime>,
    pub dts: Option<gst::ClockTime>,
    pub duration: Option<gst::ClockTime>,
    pub flags: gst::BufferFlags,
    /// `timestamp/x-unix` reference timestamp, ns.
    pub unix_ns: Option<u64>,
    pub memories: usize,
}

impl Out {
    pub fn is_delta(&self) -> bool {
        self.flags.contains(gst::BufferFlags::DELTA_UNIT)
    }
}

/// What came out of a pipeline run.
#[derive(Debug, Default)]
pub struct Run {
    /// Buffers per pad name, in order (subtitle pads are in `subtitles`).
    pub pads: BTreeMap<String, Vec<Out>>,
    /// Cues of the `subtitle_*` pads, kept apart so that tests about the
    /// media pads see only those.
    pub subtitles: BTreeMap<String, Vec<Out>>,
    pub caps: BTreeMap<String, gst::Caps>,
    pub segments: BTreeMap<String, Vec<gst::Segment>>,
    pub tags: BTreeMap<String, Vec<gst::TagList>>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

impl Run {
    pub fn only(&self) -> &Vec<Out> {
        assert_eq!(self.pads.len(), 1, "pads: {:?}", self.pads.keys());
        self.pads.values().next().unwrap()
    }
}

pub fn out_of(buffer: &gst::BufferRef) -> Out {
    let unix_ns = buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|m| {
            m.reference()
                .structure(0)
                .is_some_and(|s| s.name() == "timestamp/x-unix")
        })
        .map(|m| m.timestamp().nseconds());
    Out {
        data: buffer.map_readable().unwrap().to_vec(),
        pts: buffer.pts(),
        dts: buffer.dts(),
        duration: buffer.duration(),
        flags: buffer.flags(),
        unix_ns,
        memories: buffer.n_memory(),
    }
}

/// Builds `description` (which must contain an element named `demux`), links
/// every source pad it adds to an appsink (through `tail`, e.g. "" or
/// "h264parse ! avdec_h264"), runs to EOS or error, and collects everything.
/// `prepare` runs before the pipeline starts (e.g. an appsrc feeder);
/// `on_preroll` runs once paused (e.g. a seek).
pub fn run_pipeline(
    description: &str,
    tail: &str,
    prepare: Option<&dyn Fn(&gst::Pipeline)>,
    on_preroll: Option<&dyn Fn(&gst::Pipeline)>,
) -> Run {
    init();
    // A lone element (e.g. a source with sometimes pads) comes back bare.
    let pipeline = match gst::parse::launch(description)
        .unwrap()
        .downcast::<gst::Pipeline>()
    {
        Ok(pipeline) => pipeline,
        Err(element) => {
            let pipeline = gst::Pipeline::new();
            pipeline.add(&element).unwrap();
            pipeline
        }
    };
    let demux = pipeline.by_name("demux").expect("element named demux");
    let run = Arc::new(Mutex::new(Run::default()));
    let tail = tail.to_string();
    {
        let run = run.clone();
        let pipeline_weak = pipeline.downgrade();
        demux.connect_pad_added(move |_, pad| {
            let pipeline = pipeline_weak.upgrade().unwrap();
            let name = pad.name().to_string();
            // A queue per branch, as decodebin would have: with several pads
            // and one streaming thread, sinks must not block each other.
            let queue = "queue max-size-buffers=0 max-size-time=0 max-size-bytes=0";
            let subtitle = name == "subtitle" || name.starts_with("subtitle_");
            // The tail (parser, decoder) is for the media pads.
            let sink_desc = if tail.is_empty() || subtitle {
                format!("{queue} ! appsink name=sink sync=false")
            } else {
                format!("{queue} ! {tail} ! appsink name=sink sync=false")
            };
            let bin = gst::parse::bin_from_description(&sink_desc, true).unwrap();
            let appsink = bin
                .by_name("sink")
                .unwrap()
                .downcast::<gst_app::AppSink>()
                .unwrap();
            {
                let mut run = run.lock().unwrap();
                let map = if subtitle {
                    &mut run.subtitles
                } else {
                    &mut run.pads
                };
                map.entry(name.clone()).or_default();
            }
            let run2 = run.clone();
            let name2 = name.clone();
            appsink.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        let mut run = run2.lock().unwrap();
                        if let Some(caps) = sample.caps() {
                            run.caps.insert(name2.clone(), caps.to_owned());
                        }
                        if let Some(seg) = sample.segment() {
                            let segs = run.segments.entry(name2.clone()).or_default();
                            if segs.last() != Some(seg) {
                                segs.push(seg.clone());
                            }
                        }
                        let buffer = sample.buffer().unwrap();
                        let mut out = out_of(buffer);
                        if let Some(caps) = sample.caps()
                            && caps.structure(0).is_some_and(|s| s.name() == "video/x-raw")
                        {
                            out.data = i420_bytes(&caps.to_owned(), buffer);
                        }
                        let map = if subtitle {
                            &mut run.subtitles
                        } else {
                            &mut run.pads
                        };
                        map.get_mut(&name2).unwrap().push(out);
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
            let run3 = run.clone();
            let name3 = name.clone();
            pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
                if let Some(gst::PadProbeData::Event(ev)) = &info.data
                    && let gst::EventView::Tag(t) = ev.view()
                {
                    run3.lock()
                        .unwrap()
                        .tags
                        .entry(name3.clone())
                        .or_default()
                        .push(t.tag().to_owned());
                }
                gst::PadProbeReturn::Ok
            });
            pipeline.add(&bin).unwrap();
            bin.sync_state_with_parent().unwrap();
            pad.link(&bin.static_pad("sink").unwrap()).unwrap();
        });
    }
    let bus = pipeline.bus().unwrap();
    if let Some(f) = prepare {
        f(&pipeline);
    }
    if let Some(f) = on_preroll {
        let _ = pipeline.set_state(gst::State::Paused);
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(20),
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        );
        if let Some(msg) = msg
            && let gst::MessageView::Error(e) = msg.view()
        {
            run.lock().unwrap().errors.push(e.error().to_string());
            pipeline.set_state(gst::State::Null).unwrap();
            return Arc::try_unwrap(run).unwrap().into_inner().unwrap();
        }
        // Forget what was prerolled: only what follows the preparation counts.
        let mut guard = run.lock().unwrap();
        let r = &mut *guard;
        for v in r.pads.values_mut().chain(r.subtitles.values_mut()) {
            v.clear();
        }
        drop(guard);
        f(&pipeline);
    }
    // A failing state change (missing file, not our format) still leaves its
    // error on the bus, which is what tests look at.
    let _ = pipeline.set_state(gst::State::Playing);
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                run.lock().unwrap().errors.push(e.error().to_string());
                break;
            }
            gst::MessageView::Warning(w) => {
                run.lock().unwrap().warnings.push(w.error().to_string())
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    drop(pipeline);
    let mut guard = run.lock().unwrap();
    std::mem::take(&mut *guard)
}

/// Runs `element` (e.g. "pavsdemux") over a file in pull mode.
pub fn demux_file(element: &str, path: &std::path::Path, tail: &str) -> Run {
    run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! {element} name=demux",
            path.display()
        ),
        tail,
        None,
        None,
    )
}

/// Runs `element` over bytes in push mode, fed by an appsrc in chunks of
/// varying sizes (so that units straddle buffers).
pub fn demux_bytes_push(element: &str, bytes: &[u8], tail: &str) -> Run {
    let feed = |pipeline: &gst::Pipeline| {
        let src = pipeline
            .by_name("src")
            .unwrap()
            .downcast::<gst_app::AppSrc>()
            .unwrap();
        let mut at = 0;
        let mut size = 1000;
        while at < bytes.len() {
            let end = (at + size).min(bytes.len());
            src.push_buffer(gst::Buffer::from_slice(bytes[at..end].to_vec()))
                .unwrap();
            at = end;
            size = size * 7 % 9973 + 1;
        }
        src.end_of_stream().unwrap();
    };
    run_pipeline(
        &format!("appsrc name=src format=bytes max-bytes=0 ! {element} name=demux"),
        tail,
        Some(&feed),
        None,
    )
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    format!("{:x}", md5::Md5::digest(data))
}

/// The tightly packed I420 planes of a decoded video buffer.
pub fn i420_bytes(sample_caps: &gst::Caps, buffer: &gst::BufferRef) -> Vec<u8> {
    let info = gst_video::VideoInfo::from_caps(sample_caps).unwrap();
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).unwrap();
    let mut out = Vec::new();
    for plane in 0..3u32 {
        let (w, h) = if plane == 0 {
            (info.width() as usize, info.height() as usize)
        } else {
            (
                info.width().div_ceil(2) as usize,
                info.height().div_ceil(2) as usize,
            )
        };
        let stride = frame.info().stride()[plane as usize] as usize;
        let data = frame.plane_data(plane).unwrap();
        for row in 0..h {
            out.extend_from_slice(&data[row * stride..row * stride + w]);
        }
    }
    out
}

/// Runs `head ! mp4mux ! filesink` with no parser in between (the element
/// must offer what mp4mux takes) and returns the MP4, removed on drop.
#[allow(dead_code)]
pub fn mux_mp4_without_parser(head: &str) -> tempfile::TempPath {
    init();
    let mp4 = tempfile::Builder::new()
        .suffix(".mp4")
        .tempfile()
        .unwrap()
        .into_temp_path();
    let pipeline = gst::parse::launch(&format!(
        "{head} ! mp4mux ! filesink location=\"{}\"",
        mp4.display()
    ))
    .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(30),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS or ERROR within 30 s");
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(msg.type_(), gst::MessageType::Eos, "{msg:?}");
    mp4
}

/// Length-prefixed (avc) access units back to Annex-B.
#[allow(dead_code)]
pub fn avc_to_annexb(data: &[u8]) -> Vec<u8> {
    let mut annexb = Vec::new();
    let mut at = 0;
    while at + 4 <= data.len() {
        let len = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        annexb.extend_from_slice(&[0, 0, 0, 1]);
        annexb.extend_from_slice(&data[at + 4..(at + 4 + len).min(data.len())]);
        at += 4 + len;
    }
    annexb
}

/// Runs a command to completion within `limit` (killed, and the test
/// failed, after it), stdin closed and both pipes drained on threads so
/// that a full pipe cannot stall the child.
pub fn output_within(
    cmd: &mut std::process::Command,
    limit: std::time::Duration,
) -> std::process::Output {
    let what = format!("{cmd:?}");
    output_within_or_kill(cmd, limit)
        .unwrap_or_else(|| panic!("{what} did not finish within {limit:?}"))
}

/// [`output_within`] that kills the child and gives `None` when `limit`
/// passes: for tests that count what did not end.
pub fn output_within_or_kill(
    cmd: &mut std::process::Command,
    limit: std::time::Duration,
) -> Option<std::process::Output> {
    use std::process::Stdio;
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let deadline = std::time::Instant::now() + limit;
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            r.read_to_end(&mut v).ok();
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (stdout, stderr) = (
        out.join().expect("stdout thread"),
        err.join().expect("stderr thread"),
    );
    status.map(|status| std::process::Output {
        status,
        stdout,
        stderr,
    })
}

/// [`output_within`] for a program and its arguments.
pub fn run_bounded<S: AsRef<std::ffi::OsStr>>(
    program: &str,
    args: &[S],
    limit: std::time::Duration,
) -> std::process::Output {
    output_within(std::process::Command::new(program).args(args), limit)
}

/// SHA-256 of a file, hex.
pub fn sha256_file_hex(path: &std::path::Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The media files in `dir`; every one has its evidence beside it
/// (manifest, frame table, report), and nothing else is there.
pub fn outputs_in(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    all.sort();
    let evidence = [".manifest.json", ".frames.tsv", ".report.html"];
    let media: Vec<PathBuf> = all
        .iter()
        .filter(|p| !evidence.iter().any(|e| p.to_string_lossy().ends_with(e)))
        .cloned()
        .collect();
    let mut expected = media.clone();
    for m in &media {
        let stem = m.file_stem().unwrap().to_str().unwrap();
        expected.extend(
            evidence
                .iter()
                .map(|e| m.with_file_name(format!("{stem}{e}"))),
        );
    }
    expected.sort();
    assert_eq!(all, expected, "each output with its evidence, nothing else");
    media
}

/// Writes one rf1 segment `dir/<start_ms>` of track `video`: `frames`
/// access units at 10 fps, a key frame every 10 (for timing).
pub fn rf1_segment(dir: &std::path::Path, start_ms: u64, frames: u64) {
    gstcctv::formats::rf1::writer::write_timing_segment(dir, start_ms, frames).unwrap();
}
