// SPDX-License-Identifier: MIT
//! Benchmark: pavsdemux against qtdemux on the same frames.
//!
//! Generates a large `.psf` (default 100 000 blocks, ~600 MB: 176x144 I_PCM key
//! frames every 7 blocks, skip frames between) and, once, the same frames as
//! MP4 (through pavsdemux ! h264parse ! mp4mux). Then runs each demuxer into a
//! fakesink in a child process several times, alternating, and prints the
//! median wall time, the ratio, the peak RSS of each, and the latency from a
//! key-unit seek near the end of the file to the first buffer.
//!
//! It also reads the file with `filesrc blocksize=1048576 ! fakesink` (the
//! floor: what reading the bytes costs), and repeats the peak-RSS
//! measurement on a file of a tenth of the blocks, to show that memory does
//! not grow with the file.
//!
//! Usage: pavs_bench [BLOCKS] [DIR]

use gst::prelude::*;
use gstcctv::formats::pavs::writer::Recording;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const RUNS: usize = 5;

fn generate_psf(path: &Path, blocks: u64) -> std::io::Result<u64> {
    Recording {
        channel: 1,
        camera_name: "BENCH",
        start_ns: 1_700_000_000_000_000_000,
        step_ns: 40_000_000,
        frames: blocks,
        gop: 7,
        ..Recording::default()
    }
    .write_file(path)
}

fn run_to_eos(pipeline: &gst::Element) {
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{}", e.error()),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Child: demux `file` with `demuxer` into fakesink (`floor`: no demuxer,
/// 1 MiB reads); print seconds and RSS.
fn child_demux(demuxer: &str, file: &str) {
    let description = if demuxer == "floor" {
        format!("filesrc location=\"{file}\" blocksize=1048576 ! fakesink sync=false")
    } else {
        format!("filesrc location=\"{file}\" ! {demuxer} ! fakesink sync=false")
    };
    let pipeline = gst::parse::launch(&description).unwrap();
    let start = Instant::now();
    run_to_eos(&pipeline);
    println!("{} {}", start.elapsed().as_secs_f64(), peak_rss_kib());
}

/// Child: preroll, then time a flushing key-unit seek to 90% of the
/// duration until the first buffer reaches the sink.
fn child_seek(demuxer: &str, file: &str) {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{file}\" ! {demuxer} ! appsink name=sink sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Paused).unwrap();
    pipeline.state(gst::ClockTime::NONE).0.unwrap();
    let _ = sink.pull_preroll();
    let duration = pipeline.query_duration::<gst::ClockTime>().unwrap();
    let target = duration.mul_div_floor(9, 10).unwrap();
    let start = Instant::now();
    pipeline
        .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, target)
        .unwrap();
    let sample = sink.pull_preroll().unwrap();
    let elapsed = start.elapsed();
    let pts = sample.buffer().unwrap().pts().unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    println!("{} {}", elapsed.as_secs_f64() * 1000.0, pts.seconds_f64());
}

fn child(args: &[String]) -> Vec<f64> {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The .psf of `blocks` blocks and the same frames as MP4 (made once).
fn prepare(dir: &Path, blocks: u64) -> (PathBuf, PathBuf) {
    let psf = dir.join(format!("bench-{blocks}.psf"));
    let mp4 = dir.join(format!("bench-{blocks}.mp4"));
    if !psf.exists() {
        let t = Instant::now();
        let bytes = generate_psf(&psf, blocks).unwrap();
        println!(
            "generated {} ({} MB, {blocks} blocks) in {:.1} s",
            psf.display(),
            bytes / 1_000_000,
            t.elapsed().as_secs_f64()
        );
    }
    if !mp4.exists() {
        let t = Instant::now();
        let p = gst::parse::launch(&format!(
            "filesrc location=\"{}\" ! pavsdemux ! h264parse ! mp4mux ! filesink location=\"{}\"",
            psf.display(),
            mp4.display()
        ))
        .unwrap();
        run_to_eos(&p);
        println!(
            "made the same frames as {} in {:.1} s",
            mp4.display(),
            t.elapsed().as_secs_f64()
        );
    }
    (psf, mp4)
}

/// Median peak RSS (MiB) of demuxing `file` with `demuxer`, over a few runs.
fn peak_mib(demuxer: &str, file: &Path) -> f64 {
    let runs: Vec<f64> = (0..3)
        .map(|_| {
            child(&[
                "demux".into(),
                demuxer.into(),
                file.to_string_lossy().into(),
            ])[1]
        })
        .collect();
    median(runs) / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    gst::init().unwrap();
    gstcctv::plugin_register_static().unwrap();
    match args.first().map(String::as_str) {
        Some("demux") => return child_demux(&args[1], &args[2]),
        Some("seek") => return child_seek(&args[1], &args[2]),
        _ => {}
    }
    let blocks: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = PathBuf::from(
        args.get(1)
            .cloned()
            .unwrap_or_else(|| "target/bench".into()),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let (psf, mp4) = prepare(&dir, blocks);
    let (psf_s, mp4_s) = (
        psf.to_string_lossy().to_string(),
        mp4.to_string_lossy().to_string(),
    );
    let (mut pavs, mut qt, mut pavs_rss, mut qt_rss) = (vec![], vec![], vec![], vec![]);
    let mut floor = vec![];
    for _ in 0..RUNS {
        floor.push(child(&["demux".into(), "floor".into(), psf_s.clone()])[0]);
        let r = child(&["demux".into(), "pavsdemux".into(), psf_s.clone()]);
        pavs.push(r[0]);
        pavs_rss.push(r[1]);
        let r = child(&["demux".into(), "qtdemux".into(), mp4_s.clone()]);
        qt.push(r[0]);
        qt_rss.push(r[1]);
    }
    let (p, q) = (median(pavs.clone()), median(qt.clone()));
    println!("demux to fakesink, {RUNS} alternating runs each:");
    println!(
        "  pavsdemux: median {p:.3} s  runs {pavs:.3?}  peak RSS {:.1} MiB",
        median(pavs_rss) / 1024.0
    );
    println!(
        "  qtdemux:   median {q:.3} s  runs {qt:.3?}  peak RSS {:.1} MiB",
        median(qt_rss) / 1024.0
    );
    let f = median(floor.clone());
    println!("  floor (filesrc blocksize=1048576 ! fakesink): median {f:.3} s  runs {floor:.3?}");
    println!("  ratio pavsdemux/qtdemux: {:.2}", p / q);
    println!(
        "  pavsdemux above the floor: {:.3} s ({:.1}x the floor)",
        p - f,
        p / f
    );
    let small_blocks = (blocks / 10).max(1);
    let (small_psf, small_mp4) = prepare(&dir, small_blocks);
    let (ps, qs) = (
        peak_mib("pavsdemux", &small_psf),
        peak_mib("qtdemux", &small_mp4),
    );
    let (pl, ql) = (peak_mib("pavsdemux", &psf), peak_mib("qtdemux", &mp4));
    println!("peak RSS, median of 3 runs ({small_blocks} and {blocks} blocks):");
    println!(
        "  pavsdemux: {ps:.1} MiB -> {pl:.1} MiB (grows {:.1} MiB)",
        pl - ps
    );
    println!(
        "  qtdemux:   {qs:.1} MiB -> {ql:.1} MiB (grows {:.1} MiB)",
        ql - qs
    );
    println!(
        "  pavsdemux - qtdemux on the large file: {:.1} MiB",
        pl - ql
    );
    let mut seeks = vec![];
    let mut qt_seeks = vec![];
    for _ in 0..RUNS {
        let r = child(&["seek".into(), "pavsdemux".into(), psf_s.clone()]);
        seeks.push(r[0]);
        qt_seeks.push(child(&["seek".into(), "qtdemux".into(), mp4_s.clone()])[0]);
    }
    println!("key-unit seek to 90% of a fresh (unread) file, to first buffer:");
    println!(
        "  pavsdemux: median {:.1} ms  runs {seeks:.1?}",
        median(seeks.clone())
    );
    println!(
        "  qtdemux:   median {:.1} ms  runs {qt_seeks:.1?}",
        median(qt_seeks.clone())
    );
}
