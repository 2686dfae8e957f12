// SPDX-License-Identifier: MIT
//! Throughput and memory of `saysdemux` on a large generated `.nvr`.
//!
//! Usage: `cargo run --release --example says_bench -- [SIZE_MB] [--keep PATH]`
//! (default 512 MB). Writes the file with the streaming writer into a temp
//! directory (video chunks with synthetic Annex-B payloads, telemetry per
//! frame, mu-law audio), runs `filesrc ! saysdemux ! fakesink` (one fakesink
//! per pad) and prints MB/s and the peak RSS (VmHWM). Numbers only: nothing
//! is asserted.

use gst::prelude::*;
use gstcctv::formats::says::writer::{AudioCodec, HeaderSpec, SaysWriter, Telemetry};
use gstcctv::formats::says::{MetaEntry, MetaValue};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Annex-B-looking payload: start code, NAL header, filler without zeros.
fn payload(nal_header: u8, len: usize, seed: u32) -> Vec<u8> {
    let mut p = vec![0, 0, 0, 1, nal_header];
    p.extend((0..len.saturating_sub(5)).map(|i| ((i as u32).wrapping_mul(31) ^ seed) as u8 | 1));
    p
}

fn generate(path: &Path, target_bytes: u64) -> std::io::Result<(u64, u64)> {
    let header = HeaderSpec::recorder(
        "20240101_000000_010000.nvr",
        "v1.8.0",
        [MetaEntry::new("model", MetaValue::Str("BENCH".into()))],
    );
    let file = std::fs::File::create(path)?;
    let mut w = SaysWriter::new(BufWriter::with_capacity(1 << 20, file), &header)?;
    let key = payload(0x65, 96 * 1024, 7);
    let delta = payload(0x41, 24 * 1024, 9);
    let audio: Vec<u8> = (0..1024u32).map(|i| (i * 13) as u8).collect();
    let base_us: u64 = 1_704_067_200_000_000;
    let frame_us = 66_666;
    let mut chunks = 0u64;
    let mut frame = 0u64;
    while w.position() < target_bytes {
        let ts = base_us + frame * frame_us;
        if frame.is_multiple_of(2) {
            w.write_audio(0, AudioCodec::Mulaw, ts, &audio, false)?;
            chunks += 1;
        }
        let meta = Telemetry::at(ts, 50.0, 40.7, -73.8).entries();
        let is_key = frame.is_multiple_of(30);
        w.write_video(0, is_key, ts, &meta, if is_key { &key } else { &delta })?;
        chunks += 1;
        frame += 1;
    }
    w.flush()?;
    Ok((w.position(), chunks))
}

fn run(path: &Path) -> Result<(f64, u64), String> {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" blocksize=1048576 ! saysdemux name=d",
        path.display()
    ))
    .map_err(|e| e.to_string())?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline")?;
    let demux = pipeline.by_name("d").ok_or("no demuxer")?;
    let buffers = Arc::new(AtomicU64::new(0));
    {
        let weak = pipeline.downgrade();
        let buffers = buffers.clone();
        demux.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else {
                return;
            };
            let sink = gst::ElementFactory::make("fakesink")
                .property("sync", false)
                .property("async", false)
                .build()
                .unwrap();
            let buffers = buffers.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                buffers.fetch_add(1, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
            pipeline.add(&sink).unwrap();
            sink.sync_state_with_parent().unwrap();
            pad.link(&sink.static_pad("sink").unwrap()).unwrap();
        });
    }
    let bus = pipeline.bus().ok_or("no bus")?;
    let start = Instant::now();
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    let mut result = Ok(());
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                result = Err(format!("{} ({:?})", e.error(), e.debug()));
                break;
            }
            _ => {}
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = pipeline.set_state(gst::State::Null);
    result.map(|()| (elapsed, buffers.load(Ordering::Relaxed)))
}

/// The read floor: `filesrc blocksize=1048576 ! fakesink` on the same file
/// (what reading the bytes costs), seconds.
fn read_floor(path: &std::path::Path) -> Result<f64, String> {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" blocksize=1048576 ! fakesink sync=false",
        path.display()
    ))
    .map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let start = Instant::now();
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    let _ = bus.timed_pop_filtered(
        gst::ClockTime::NONE,
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let elapsed = start.elapsed().as_secs_f64();
    let _ = pipeline.set_state(gst::State::Null);
    Ok(elapsed)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let size_mb: u64 = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    let keep = args
        .iter()
        .position(|a| a == "--keep")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    gst::init().expect("gst init");
    gstcctv::plugin_register_static().expect("register plugin");

    let dir = std::env::temp_dir().join(format!("says-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = keep.clone().unwrap_or_else(|| dir.join("bench.nvr"));
    let t = Instant::now();
    let (bytes, chunks) = generate(&path, size_mb << 20).expect("write .nvr");
    let mb = bytes as f64 / (1 << 20) as f64;
    println!(
        "generated {} ({mb:.1} MB, {chunks} chunks) in {:.2} s",
        path.display(),
        t.elapsed().as_secs_f64()
    );
    let hwm_before = vm_hwm_kb();
    let floor = read_floor(&path);
    match run(&path) {
        Ok((secs, buffers)) => {
            println!(
                "demuxed {buffers} buffers in {secs:.2} s: {:.1} MB/s, {:.0} buffers/s",
                mb / secs,
                buffers as f64 / secs
            );
            if let Ok(f) = floor {
                println!(
                    "floor (filesrc blocksize=1048576 ! fakesink): {f:.3} s, {:.1} MB/s; saysdemux {:.1}x the floor",
                    mb / f,
                    secs / f
                );
            }
            println!(
                "peak RSS (VmHWM): {} kB (before demuxing: {} kB)",
                vm_hwm_kb().map_or("?".into(), |v| v.to_string()),
                hwm_before.map_or("?".into(), |v| v.to_string())
            );
        }
        Err(e) => eprintln!("error: {e}"),
    }
    if keep.is_none() {
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_dir(&dir);
}
