// SPDX-License-Identifier: MIT
//! Runs a `.psf` through `pavsdemux` and prints what came out per camera:
//! frames, key frames, duration, first and last wall-clock time, and any
//! warning the demuxer posted.
//!
//! Usage: psf_info FILE.psf

use gst::prelude::*;
use std::sync::{Arc, Mutex};

#[derive(Default, Debug)]
struct PadStats {
    frames: u64,
    key_frames: u64,
    first_pts: Option<gst::ClockTime>,
    end: Option<gst::ClockTime>,
    first_unix_ns: Option<u64>,
    last_unix_ns: Option<u64>,
}

fn utc(ns: Option<u64>) -> String {
    ns.and_then(|ns| gst::glib::DateTime::from_unix_utc((ns / 1_000_000_000) as i64).ok())
        .and_then(|dt| dt.format("%Y-%m-%d %H:%M:%S").ok())
        .map(|s| format!("{s}.{:06} UTC", ns.unwrap() / 1000 % 1_000_000))
        .unwrap_or_else(|| "-".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: psf_info FILE.psf")?;
    gst::init()?;
    gstcctv::plugin_register_static()?;
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{path}\" ! pavsdemux name=demux"
    ))?
    .downcast::<gst::Pipeline>()
    .unwrap();
    let stats: Arc<Mutex<Vec<(String, PadStats)>>> = Arc::default();
    let demux = pipeline.by_name("demux").unwrap();
    let (stats2, weak) = (stats.clone(), pipeline.downgrade());
    demux.connect_pad_added(move |_, pad| {
        let pipeline = weak.upgrade().unwrap();
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .build()
            .unwrap();
        let queue = gst::ElementFactory::make("queue").build().unwrap();
        pipeline.add_many([&queue, &sink]).unwrap();
        queue.link(&sink).unwrap();
        queue.sync_state_with_parent().unwrap();
        sink.sync_state_with_parent().unwrap();
        let index = {
            let mut s = stats2.lock().unwrap();
            s.push((pad.name().to_string(), PadStats::default()));
            s.len() - 1
        };
        let stats = stats2.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(buffer) = info.buffer() {
                let mut all = stats.lock().unwrap();
                let s = &mut all[index].1;
                s.frames += 1;
                if !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
                    s.key_frames += 1;
                }
                s.first_pts = s.first_pts.or(buffer.pts());
                if let Some(pts) = buffer.pts() {
                    s.end = Some(pts + buffer.duration().unwrap_or_default());
                }
                if let Some(meta) = buffer.meta::<gst::ReferenceTimestampMeta>() {
                    let ns = meta.timestamp().nseconds();
                    s.first_unix_ns = s.first_unix_ns.or(Some(ns));
                    s.last_unix_ns = Some(ns);
                }
            }
            gst::PadProbeReturn::Ok
        });
        pad.link(&queue.static_pad("sink").unwrap()).unwrap();
    });
    pipeline.set_state(gst::State::Playing)?;
    let bus = pipeline.bus().unwrap();
    let mut failed = false;
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Warning(w) => println!("warning: {}", w.error()),
            gst::MessageView::Error(e) => {
                println!("error: {}", e.error());
                failed = true;
                break;
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null)?;
    for (pad, s) in stats.lock().unwrap().iter() {
        let duration = s.end.zip(s.first_pts).map(|(e, f)| e - f);
        println!(
            "{pad}: {} frames ({} key), duration {}, wall clock {} .. {}",
            s.frames,
            s.key_frames,
            duration.map_or("-".to_string(), |d| d.to_string()),
            utc(s.first_unix_ns),
            utc(s.last_unix_ns)
        );
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
