// SPDX-License-Identifier: MIT
//! Telemetry of a Rosco `.nvr` recording to a GPX track (and optionally CSV),
//! read from `saysdemux`'s `meta_N` pad (one JSON object per video frame).
//!
//! Usage: `cargo run --example says_gpx -- INPUT.nvr OUTPUT.gpx [OUTPUT.csv] [--camera N]`

use gst::prelude::*;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One telemetry sample: running time and the frame's JSON.
struct Sample {
    pts_ns: Option<u64>,
    json: Value,
}

fn collect(input: &Path, camera: u32) -> Result<Vec<Sample>, String> {
    gst::init().map_err(|e| e.to_string())?;
    let _ = gstcctv::plugin_register_static();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! saysdemux telemetry=true name=d",
        input.display()
    ))
    .map_err(|e| e.to_string())?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "not a pipeline")?;
    let demux = pipeline.by_name("d").ok_or("no demuxer")?;
    let samples = Arc::new(Mutex::new(Vec::new()));
    let wanted = format!("meta_{camera}");
    {
        let samples = samples.clone();
        let weak = pipeline.downgrade();
        demux.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else {
                return;
            };
            let sink: gst::Element = if pad.name() == wanted {
                let samples = samples.clone();
                // No preroll wait: one streaming thread feeds every pad.
                gst_app::AppSink::builder()
                    .sync(false)
                    .async_(false)
                    .callbacks(
                        gst_app::AppSinkCallbacks::builder()
                            .new_sample(move |sink| {
                                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                                let map =
                                    buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                                if let Ok(json) = serde_json::from_slice::<Value>(&map) {
                                    samples.lock().unwrap().push(Sample {
                                        pts_ns: buffer.pts().map(|t| t.nseconds()),
                                        json,
                                    });
                                }
                                Ok(gst::FlowSuccess::Ok)
                            })
                            .build(),
                    )
                    .build()
                    .upcast()
            } else {
                gst::ElementFactory::make("fakesink")
                    .property("sync", false)
                    .property("async", false)
                    .build()
                    .unwrap()
            };
            pipeline.add(&sink).unwrap();
            sink.sync_state_with_parent().unwrap();
            let _ = pad.link(&sink.static_pad("sink").unwrap());
        });
    }
    let bus = pipeline.bus().ok_or("no bus")?;
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
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    Ok(samples)
}

fn iso8601_ms(unix_ms: i64) -> Option<String> {
    let dt = gst::glib::DateTime::from_unix_utc(unix_ms.div_euclid(1000)).ok()?;
    let text = dt.format("%Y-%m-%dT%H:%M:%S").ok()?;
    Some(format!("{text}.{:03}Z", unix_ms.rem_euclid(1000)))
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64().filter(|f| f.is_finite())
}

/// Writes the GPX track (points with a valid fix) and, if asked, a CSV of
/// every sample. Returns the number of track points.
pub fn convert(input: &Path, gpx: &Path, csv: Option<&Path>) -> Result<usize, String> {
    convert_camera(input, gpx, csv, 0)
}

pub fn convert_camera(
    input: &Path,
    gpx: &Path,
    csv: Option<&Path>,
    camera: u32,
) -> Result<usize, String> {
    let samples = collect(input, camera)?;
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <gpx version=\"1.1\" creator=\"gst-cctv says_gpx\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n\
         <trk><name>",
    );
    out.push_str(&input.file_name().unwrap_or_default().to_string_lossy());
    out.push_str("</name><trkseg>\n");
    let mut table = String::from("pts_ns,unix_ms,lat,lon,alt,heading,speed,valid\n");
    let mut points = 0;
    for s in &samples {
        let gps = &s.json["gps"];
        let valid = gps["valid"].as_i64().is_none_or(|v| v != 0);
        let (lat, lon) = (num(&gps["lat"]), num(&gps["lon"]));
        let unix_ms = s.json["ts"].as_i64();
        let opt = |v: Option<f64>| v.map(|f| f.to_string()).unwrap_or_default();
        let _ = writeln!(
            table,
            "{},{},{},{},{},{},{},{}",
            s.pts_ns.map(|p| p.to_string()).unwrap_or_default(),
            unix_ms.map(|m| m.to_string()).unwrap_or_default(),
            opt(lat),
            opt(lon),
            opt(num(&gps["alt"])),
            opt(num(&gps["heading"])),
            opt(num(&s.json["speed"])),
            u8::from(valid)
        );
        let (Some(lat), Some(lon), true) = (lat, lon, valid) else {
            continue;
        };
        points += 1;
        let _ = write!(out, "<trkpt lat=\"{lat}\" lon=\"{lon}\">");
        if let Some(alt) = num(&gps["alt"]) {
            let _ = write!(out, "<ele>{alt}</ele>");
        }
        if let Some(t) = unix_ms.and_then(iso8601_ms) {
            let _ = write!(out, "<time>{t}</time>");
        }
        out.push_str("</trkpt>\n");
    }
    out.push_str("</trkseg></trk>\n</gpx>\n");
    std::fs::write(gpx, out).map_err(|e| e.to_string())?;
    if let Some(csv) = csv {
        std::fs::write(csv, table).map_err(|e| e.to_string())?;
    }
    Ok(points)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut camera = 0;
    if let Some(i) = args.iter().position(|a| a == "--camera") {
        camera = args
            .get(i + 1)
            .and_then(|c| c.parse().ok())
            .expect("--camera N");
        args.drain(i..i + 2);
    }
    let (Some(input), Some(gpx)) = (args.first(), args.get(1)) else {
        eprintln!("usage: says_gpx INPUT.nvr OUTPUT.gpx [OUTPUT.csv] [--camera N]");
        std::process::exit(2);
    };
    let csv = args.get(2).map(Path::new);
    match convert_camera(Path::new(input), Path::new(gpx), csv, camera) {
        Ok(n) => println!("{n} track points written to {gpx}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
