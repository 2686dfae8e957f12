// SPDX-License-Identifier: MIT
//! `cctv telemetry`: the dashcam track of a `.nvr` (the engine's per-frame
//! telemetry, typed on the video packets, of camera 0 or of the first
//! camera that has it) as GPX, CSV and GeoJSON.

use crate::files;
use crate::inputs::{self, Kind};
use crate::out::{self, errln};
use crate::scan;
use crate::times::rfc3339_utc;
use anyhow::{Context, Result, bail};
use gstcctv::engine::telemetry::Telemetry;
use gstcctv::engine::{Chunk, Packet, StreamKind};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

/// One telemetry sample: a frame's capture time and what was logged with it.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    pub time_ns: Option<u64>,
    pub t: Telemetry,
}

/// The sample of a video packet that carries the recorder's telemetry
/// (the engine's typed values: no JSON made or parsed).
pub fn sample_of<C: Chunk>(p: &Packet<C>) -> Option<Sample> {
    if p.stream.kind != StreamKind::Video {
        return None;
    }
    Some(Sample {
        time_ns: p.wallclock_ns,
        t: *p.telemetry.as_deref()?,
    })
}

pub fn run(
    input: &Path,
    gpx: Option<&Path>,
    csv: Option<&Path>,
    geojson: Option<&Path>,
) -> Result<()> {
    let (recs, failures) = inputs::expand(&[input.to_path_buf()]);
    if let Some(f) = failures.first() {
        bail!("{}", f.reason);
    }
    let Some(rec) = recs.into_iter().find(|r| r.kind == Kind::Says) else {
        bail!("no telemetry: not a Rosco .nvr recording");
    };
    // Checked before anything is read or written: an export named like the
    // recording (or a link to it) would replace the recording.
    let source = inputs::file_ids(&rec);
    for p in [gpx, csv, geojson].into_iter().flatten() {
        if files::id_of(p).is_some_and(|id| source.contains(&id)) {
            bail!(
                "{} is the input recording: choose another name for the export",
                out::path(p)
            );
        }
    }
    let mut camera = None;
    let mut samples = Vec::new();
    scan::scan_frames(&rec, |info, p| {
        if let Some(s) = sample_of(p)
            && *camera.get_or_insert(info.id.number) == info.id.number
        {
            samples.push(s);
        }
    })?;
    if samples.is_empty() {
        bail!("no telemetry in this recording");
    }
    let mut delivered = true;
    if gpx.is_none() && csv.is_none() && geojson.is_none() {
        delivered = out::out_text(&to_csv(&samples));
    }
    if let Some(p) = gpx {
        std::fs::write(p, to_gpx(&samples))
            .with_context(|| format!("cannot write {}", out::path(p)))?;
    }
    if let Some(p) = csv {
        std::fs::write(p, to_csv(&samples))
            .with_context(|| format!("cannot write {}", out::path(p)))?;
    }
    if let Some(p) = geojson {
        std::fs::write(p, to_geojson(&samples))
            .with_context(|| format!("cannot write {}", out::path(p)))?;
    }
    let fixes = samples.iter().filter(|s| s.t.fix.is_some()).count();
    errln!(
        "{}: {} samples, {} with a GPS fix",
        out::path(input),
        samples.len(),
        fixes
    );
    if !delivered {
        bail!("standard output is closed");
    }
    Ok(())
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

pub fn to_csv(samples: &[Sample]) -> String {
    let mut out = String::from("time,lat,lon,alt_m,speed_kmh,heading_deg,voltage_v,g_x,g_y,g_z\n");
    for s in samples {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            s.time_ns.map(rfc3339_utc).unwrap_or_default(),
            opt(s.t.fix.map(|f| f.0)),
            opt(s.t.fix.map(|f| f.1)),
            opt(s.t.altitude_m),
            opt(s.t.speed_kmh),
            opt(s.t.heading_deg),
            opt(s.t.voltage),
            opt(s.t.acceleration_g.map(|g| g.0)),
            opt(s.t.acceleration_g.map(|g| g.1)),
            opt(s.t.acceleration_g.map(|g| g.2)),
        );
    }
    out
}

pub fn to_gpx(samples: &[Sample]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gpx version=\"1.1\" creator=\"cctv\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n<trk><trkseg>\n",
    );
    for s in samples {
        let Some((lat, lon)) = s.t.fix else { continue };
        let _ = write!(out, "<trkpt lat=\"{lat}\" lon=\"{lon}\">");
        if let Some(a) = s.t.altitude_m {
            let _ = write!(out, "<ele>{a}</ele>");
        }
        if let Some(t) = s.time_ns {
            let _ = write!(out, "<time>{}</time>", rfc3339_utc(t));
        }
        out.push_str("</trkpt>\n");
    }
    out.push_str("</trkseg></trk>\n</gpx>\n");
    out
}

pub fn to_geojson(samples: &[Sample]) -> String {
    let line: Vec<Value> = samples
        .iter()
        .filter_map(|s| s.t.fix.map(|(lat, lon)| json!([lon, lat])))
        .collect();
    let mut features = vec![json!({
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": line},
        "properties": {"name": "track"},
    })];
    features.extend(samples.iter().filter_map(|s| {
        let (lat, lon) = s.t.fix?;
        Some(json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "time": s.time_ns.map(rfc3339_utc),
                "speed_kmh": s.t.speed_kmh,
                "heading": s.t.heading_deg,
                "voltage": s.t.voltage,
                "g": s.t.acceleration_g.map(|g| [g.0, g.1, g.2]),
            },
        }))
    }));
    serde_json::to_string_pretty(&json!({"type": "FeatureCollection", "features": features}))
        .unwrap_or_default()
}
