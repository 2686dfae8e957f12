// SPDX-License-Identifier: MIT
//! Benchmarks `rf1src` on a generated multi-segment archive.
//!
//! ```text
//! cargo run --release --example rf1_bench -- [segments=24] [frames-per-segment=300] [runs=5] [size=320]
//! ```
//!
//! Writes a 10 fps H.264 archive (`segments` segments of
//! `frames-per-segment` frames, GOP 30, `size`x`size*3/4` pictures) into a
//! temporary directory with the crate's rf1 writer, remuxes it once to MP4,
//! then prints (median of `runs`):
//! - demux throughput: `rf1src ! fakesink` vs `filesrc ! qtdemux ! fakesink`
//!   over the same frames, and their ratio;
//! - key-unit seek latency near the end of the archive: time from a
//!   flushing KEY_UNIT seek to the first buffer at an appsink, for both.

use gst::prelude::*;
use gstcctv::formats::rf1::writer::Archive;
use std::path::Path;
use std::time::{Duration, Instant};

const START_MS: u64 = 1_700_000_000_000;
const GOP: usize = 30;

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let (segments, per_segment, runs, width) =
        (arg(1, 24), arg(2, 300), arg(3, 5).max(1), arg(4, 320));
    let (width, height) = ((width / 16).max(1) * 16, (width * 3 / 4 / 16).max(1) * 16);
    gst::init().unwrap();
    gstcctv::plugin_register_static().unwrap();
    let dir = std::env::temp_dir().join(format!("rf1-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let camera = dir.join("camera");
    std::fs::create_dir_all(&camera).unwrap();

    let t = Instant::now();
    let bytes = write_archive(&camera, segments, per_segment, width, height);
    let frames = segments * per_segment;
    println!(
        "archive: {segments} segments x {per_segment} frames = {frames} frames ({:.1} s), \
         {width}x{height}, {:.1} MB, written in {:.2?}",
        frames as f64 / 10.0,
        bytes as f64 / 1e6,
        t.elapsed()
    );
    let mp4 = dir.join("archive.mp4");
    let t = Instant::now();
    run_to_eos(&format!(
        "rf1src location=\"{}\" ! h264parse ! mp4mux ! filesink location=\"{}\"",
        camera.display(),
        mp4.display()
    ));
    println!("mp4 made once in {:.2?}", t.elapsed());

    let rf1_desc = format!("rf1src location=\"{}\"", camera.display());
    let mp4_desc = format!("filesrc location=\"{}\" ! qtdemux", mp4.display());
    let rf1 = median((0..runs).map(|_| timed(&format!("{rf1_desc} ! fakesink sync=false"))));
    let qt = median((0..runs).map(|_| timed(&format!("{mp4_desc} ! fakesink sync=false"))));
    let fps = |d: Duration| frames as f64 / d.as_secs_f64();
    println!(
        "throughput: rf1src {:.2?} ({:.0} frames/s, {:.0} MB/s), qtdemux {:.2?} ({:.0} frames/s); rf1src/qtdemux speed ratio {:.2}",
        rf1,
        fps(rf1),
        bytes as f64 / 1e6 / rf1.as_secs_f64(),
        qt,
        fps(qt),
        qt.as_secs_f64() / rf1.as_secs_f64()
    );

    // The read floor: every file of the archive read in 1 MiB pieces (what
    // reading the bytes costs; rf1src reads one access unit at a time).
    let floor = median((0..runs).map(|_| read_floor(&camera)));
    println!(
        "floor (every index and packet file read in 1 MiB pieces): {floor:.2?} ({:.0} MB/s); rf1src {:.1}x the floor",
        bytes as f64 / 1e6 / floor.as_secs_f64(),
        rf1.as_secs_f64() / floor.as_secs_f64()
    );

    let target = gst::ClockTime::from_mseconds((frames as u64).saturating_sub(45) * 100);
    let rf1_seek = median((0..runs).map(|_| seek_latency(&rf1_desc, target)));
    let qt_seek = median((0..runs).map(|_| seek_latency(&mp4_desc, target)));
    println!(
        "key-unit seek to {target}: rf1src {rf1_seek:.2?}, qtdemux {qt_seek:.2?} (to first buffer at appsink)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn write_archive(
    dir: &Path,
    segments: usize,
    per_segment: usize,
    width: usize,
    height: usize,
) -> u64 {
    Archive {
        start_ms: START_MS,
        segments,
        frames_per_segment: per_segment,
        gop: GOP,
        width: width as u16,
        height: height as u16,
        annexb: true,
        parameter_sets_once: false,
    }
    .write(dir)
    .expect("write the archive")
}

fn read_floor(dir: &Path) -> Duration {
    use std::io::Read;
    let t = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    for entry in std::fs::read_dir(dir).unwrap() {
        let mut file = std::fs::File::open(entry.unwrap().path()).unwrap();
        while file.read(&mut buf).unwrap() > 0 {}
    }
    t.elapsed()
}

fn pipeline(desc: &str) -> gst::Pipeline {
    gst::parse::launch(desc)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap()
}

fn wait(pipeline: &gst::Pipeline, what: gst::MessageType) {
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(300),
            &[what, gst::MessageType::Error],
        )
        .expect("timeout");
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("{} ({:?})", e.error(), e.debug());
    }
}

fn run_to_eos(desc: &str) {
    let p = pipeline(desc);
    p.set_state(gst::State::Playing).unwrap();
    wait(&p, gst::MessageType::Eos);
    p.set_state(gst::State::Null).unwrap();
}

fn timed(desc: &str) -> Duration {
    let p = pipeline(desc);
    let t = Instant::now();
    p.set_state(gst::State::Playing).unwrap();
    wait(&p, gst::MessageType::Eos);
    let d = t.elapsed();
    p.set_state(gst::State::Null).unwrap();
    d
}

/// Prerolls `source ! appsink`, then times a flushing KEY_UNIT seek to the
/// new preroll buffer.
fn seek_latency(source: &str, target: gst::ClockTime) -> Duration {
    let p = pipeline(&format!("{source} ! appsink name=sink sync=false"));
    let sink = p
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    p.set_state(gst::State::Paused).unwrap();
    wait(&p, gst::MessageType::AsyncDone);
    let _ = sink.try_pull_preroll(gst::ClockTime::from_seconds(10));
    let t = Instant::now();
    p.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, target)
        .unwrap();
    let sample = sink
        .try_pull_preroll(gst::ClockTime::from_seconds(10))
        .expect("a buffer after the seek");
    let d = t.elapsed();
    let pts = sample.buffer().and_then(|b| b.pts());
    assert!(pts.is_some_and(|p| p <= target), "landed at {pts:?}");
    p.set_state(gst::State::Null).unwrap();
    d
}

fn median(values: impl Iterator<Item = Duration>) -> Duration {
    let mut v: Vec<Duration> = values.collect();
    v.sort();
    v[v.len() / 2]
}
