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
//! Usage: pavs_bench [BLOCKS] [DIR]

use gst::prelude::*;
use gstcctv::common::h264::{BaselineParams, SyntheticEncoder, test_picture};
use gstcctv::formats::pavs::writer::{BlockSpec, write_block};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const RUNS: usize = 5;

fn generate_psf(path: &Path, blocks: u64) -> std::io::Result<u64> {
    let (width, height) = (176u16, 144u16);
    let mut encoder = SyntheticEncoder::new(BaselineParams::for_size(176, 144).unwrap());
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let start_ns: u64 = 1_700_000_000_000_000_000;
    let mut bytes = 0;
    for i in 0..blocks {
        let key = i % 7 == 0;
        let payload = if key {
            let (y, u, v) = test_picture(width.into(), height.into(), (i % 64) as u32);
            encoder.key_frame(&y, &u, &v)
        } else {
            encoder.skip_frame()
        };
        let spec = BlockSpec {
            channel: 1,
            camera_name: "BENCH".into(),
            width,
            height,
            key,
            capture_time_ns: start_ns + i * 40_000_000,
            sequence: i as u32,
        };
        bytes += write_block(&mut out, &spec, &payload)? as u64;
    }
    out.flush()?;
    Ok(bytes)
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

/// Child: demux `file` with `demuxer` into fakesink; print seconds and RSS.
fn child_demux(demuxer: &str, file: &str) {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{file}\" ! {demuxer} ! fakesink sync=false"
    ))
    .unwrap();
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
    let psf = dir.join(format!("bench-{blocks}.psf"));
    let mp4 = dir.join(format!("bench-{blocks}.mp4"));
    if !psf.exists() {
        let t = Instant::now();
        let bytes = generate_psf(&psf, blocks).unwrap();
        println!(
            "generated {} ({} MB, {blocks} blocks) in {:.1} s",
            psf.display(),
            bytes >> 20,
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
    let (psf_s, mp4_s) = (
        psf.to_string_lossy().to_string(),
        mp4.to_string_lossy().to_string(),
    );
    let (mut pavs, mut qt, mut pavs_rss, mut qt_rss) = (vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
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
    println!("  ratio pavsdemux/qtdemux: {:.2}", p / q);
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
