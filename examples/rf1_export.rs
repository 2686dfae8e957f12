// SPDX-License-Identifier: MIT
//! Exports a time window of an rf1 recording to MP4.
//!
//! ```text
//! cargo run --example rf1_export -- <location> <start-s> <stop-s> <output.mp4> [track]
//! ```
//!
//! `location` is anything `rf1src` takes (segment base, track file, camera
//! directory); `track` defaults to `video`. The window is a flushing
//! KEY_UNIT seek with a stop position, so the file starts on the key frame at
//! or before `start` (every frame decodable, no black lead-in) and ends
//! before `stop`.

use gst::prelude::*;
use gstcctv::formats::rf1::{Archive, Codec};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!(
            "usage: {} <location> <start-s> <stop-s> <output.mp4> [track]",
            args[0]
        );
        return ExitCode::from(2);
    }
    let (start, stop) = match (args[2].parse::<f64>(), args[3].parse::<f64>()) {
        (Ok(a), Ok(b)) if a >= 0.0 && b > a => (a, b),
        _ => {
            eprintln!("start and stop must be seconds with 0 <= start < stop");
            return ExitCode::from(2);
        }
    };
    let track = args.get(5).map_or("video", String::as_str);
    match export(&args[1], start, stop, &args[4], track) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("export failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn export(location: &str, start: f64, stop: f64, output: &str, track: &str) -> Result<(), String> {
    gst::init().map_err(|e| e.to_string())?;
    gstcctv::plugin_register_static().map_err(|e| e.to_string())?;
    // The parser for the track's codec (mp4mux needs parsed AVC/HVC).
    let archive = Archive::open(Path::new(location), Some(track)).map_err(|e| e.to_string())?;
    let parser = match archive.segments[0].tracks[0].codec() {
        Codec::H264 => "h264parse",
        Codec::H265 => "h265parse",
    };
    let pipeline = gst::parse::launch(&format!(
        "rf1src name=src location={} tracks={} ! {parser} ! mp4mux ! filesink location={}",
        quote(location),
        quote(track),
        quote(output)
    ))
    .map_err(|e| e.to_string())?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline".to_string())?;
    let bus = pipeline.bus().unwrap();
    let result = (|| {
        // Seek the source itself before it starts (in READY): a muxer
        // cannot take a flushing seek once it has written data.
        pipeline
            .set_state(gst::State::Ready)
            .map_err(|e| e.to_string())?;
        let src = pipeline.by_name("src").ok_or("no rf1src")?;
        let to_time = |s: f64| gst::ClockTime::from_nseconds((s * 1e9).round() as u64);
        let seek = gst::event::Seek::new(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
            gst::SeekType::Set,
            to_time(start),
            gst::SeekType::Set,
            to_time(stop),
        );
        if !src.send_event(seek) {
            return Err("seek refused".into());
        }
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| pop_error(&bus).unwrap_or_else(|| "cannot start".into()))?;
        wait(&bus, gst::MessageType::Eos)
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    eprintln!("wrote {output} ({start} s .. {stop} s of {location})");
    Ok(())
}

fn pop_error(bus: &gst::Bus) -> Option<String> {
    let msg = bus.pop_filtered(&[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(e) => Some(format!("{} ({:?})", e.error(), e.debug())),
        _ => None,
    }
}

fn wait(bus: &gst::Bus, what: gst::MessageType) -> Result<(), String> {
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(120)) {
        match msg.view() {
            gst::MessageView::Error(e) => {
                return Err(format!("{} ({:?})", e.error(), e.debug()));
            }
            gst::MessageView::Warning(w) => eprintln!("warning: {}", w.error()),
            _ if msg.type_() == what => return Ok(()),
            _ => {}
        }
    }
    Err(format!("timed out waiting for {what:?}"))
}
