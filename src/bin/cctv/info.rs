// SPDX-License-Identifier: MIT
//! `cctv info`: per input the format, per stream kind, codec, size, frames,
//! wall-clock span and duration, and the damage found (one engine pass).

use crate::inputs::{self, Recording};
use crate::out::{self, errln, escape};
use crate::scan::{self, Depth, Scan, StreamStat};
use crate::times::{human_duration, rfc3339_in};
use gstcctv::engine::catalog::{Camera, Catalog, FormatKind};
use gstcctv::engine::zone::Zone;
use gstcctv::engine::{Codec, StreamKind};
use serde_json::{Value, json};
use std::fmt::Write as _;

pub fn kind_name(kind: StreamKind) -> &'static str {
    match kind {
        StreamKind::Video => "video",
        StreamKind::Audio => "audio",
        StreamKind::Image => "image",
        StreamKind::Data => "data",
        StreamKind::Subtitle => "subtitle",
    }
}

pub fn codec_name(codec: &Codec) -> String {
    match codec {
        Codec::H264 { .. } => "h264".into(),
        Codec::H265 => "h265".into(),
        Codec::Mulaw { .. } => "mulaw".into(),
        Codec::Opus { .. } => "opus".into(),
        Codec::Jpeg => "jpeg".into(),
        Codec::Json { schema } => format!("json ({schema})"),
        Codec::Text => "text".into(),
    }
}

/// Times are RFC 3339 in `zone` (`--tz`), else UTC.
pub fn run(
    args: &[std::path::PathBuf],
    as_json: bool,
    zone: Option<&Zone>,
    case: bool,
    per_file: bool,
) -> bool {
    let (recordings, failures) = inputs::expand(args);
    let mut ok = failures.is_empty();
    for f in &failures {
        errln!("cctv: {}: {}", out::path(&f.name), f.reason);
    }
    let mut objects = Vec::new();
    let mut scans: Vec<(std::path::PathBuf, Scan)> = Vec::new();
    for rec in &recordings {
        if out::stdout_gone() {
            // Nobody reads the report any more: stop quietly, not a success.
            return false;
        }
        match scan::scan(rec, Depth::Full, |_, _| {}) {
            Ok(scan) => {
                scans.push((rec.path.clone(), scan.clone()));
                if as_json {
                    objects.push(to_json(rec, &scan, zone));
                } else {
                    out::out_text(&text(rec, &scan, zone));
                }
            }
            Err(e) => {
                errln!(
                    "cctv: {}: {}",
                    out::path(&rec.path),
                    escape(&format!("{e:#}"))
                );
                ok = false;
            }
        }
    }
    // The case: cameras across the recordings (several .psf/.nvr).
    let joinable: Vec<(std::path::PathBuf, FormatKind)> = recordings
        .iter()
        .filter_map(|r| {
            let f = match r.kind {
                inputs::Kind::Pavs => FormatKind::Pavs,
                inputs::Kind::Says => FormatKind::Says,
                inputs::Kind::Rf1 => return None,
            };
            Some((r.path.clone(), f))
        })
        .collect();
    let show_case = !per_file && (case || joinable.len() >= 2);
    let catalog = show_case.then(|| Catalog::build(&joinable));
    if as_json {
        let files = Value::Array(objects);
        let v = match (&catalog, case) {
            (Some(cat), true) => json!({
                "cameras": case_json(cat, &scans, zone),
                "files": files,
            }),
            // Without --case: the array of files, as always.
            _ => files,
        };
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        ok &= out::out_text(&format!("{text}\n"));
    } else if let Some(cat) = &catalog {
        ok &= out::out_text(&case_text(cat, &scans, zone));
    }
    ok && !out::stdout_gone()
}

fn stream_json(s: &StreamStat, zone: Option<&Zone>) -> Value {
    let time = |ns: u64| rfc3339_in(ns, zone);
    json!({
        "id": s.info.name,
        "kind": kind_name(s.info.id.kind),
        "codec": codec_name(&s.info.codec),
        "width": s.info.width,
        "height": s.info.height,
        "frames": s.frames,
        "key_frames": s.keys,
        "first_time": s.first_wall_ns.map(time),
        "last_time": s.last_wall_ns.map(time),
        "duration_s": (s.duration_s() * 1e6).round() / 1e6,
        "title": s.info.tags.title,
    })
}

pub fn to_json(rec: &Recording, scan: &Scan, zone: Option<&Zone>) -> Value {
    json!({
        // Exact when UTF-8; otherwise the bytes that are not as `\xNN`
        // (never U+FFFD, the spelling of another file).
        "file": rec.path.to_str().map_or_else(|| out::path(&rec.path), str::to_string),
        "format": rec.kind.name(),
        "streams": scan.streams.iter().map(|s| stream_json(s, zone)).collect::<Vec<_>>(),
        "damage": {
            "regions": scan.damage.regions,
            "bytes": scan.damage.bytes,
            "description": scan.damage.any().then(|| scan.damage.describe()),
            "details": scan.damage.details,
        },
    })
}

/// The text report of one input; everything that comes from the file or
/// its name has its control characters escaped (JSON escapes by itself).
fn text(rec: &Recording, scan: &Scan, zone: Option<&Zone>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}: {}", out::path(&rec.path), rec.kind.name());
    for s in &scan.streams {
        let size = match (s.info.width, s.info.height) {
            (Some(w), Some(h)) => format!(" {w}x{h}"),
            _ => String::new(),
        };
        let span = match (s.first_wall_ns, s.last_wall_ns) {
            (Some(a), Some(b)) => format!(", {} .. {}", rfc3339_in(a, zone), rfc3339_in(b, zone)),
            _ => String::new(),
        };
        let title = s
            .info
            .tags
            .title
            .as_deref()
            .map(|t| format!(" \"{}\"", escape(t)))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  {} ({} {}{}){}: {} frames ({} key), {}{}",
            escape(&s.info.name),
            kind_name(s.info.id.kind),
            escape(&codec_name(&s.info.codec)),
            size,
            title,
            s.frames,
            s.keys,
            human_duration(s.duration_s()),
            span
        );
    }
    if !scan.damage.any() {
        o.push_str("  damage: none\n");
    } else {
        let _ = writeln!(
            o,
            "  damage: {} region(s), {} bytes skipped: {}",
            scan.damage.regions,
            scan.damage.bytes,
            escape(&scan.damage.describe())
        );
    }
    o
}

/// What a camera of the case holds, from the catalog and the files' scans.
struct CameraFacts {
    frames: u64,
    key_frames: u64,
    files: Vec<std::path::PathBuf>,
    /// Per damaged file: (file, regions, bytes, description).
    damage: Vec<(std::path::PathBuf, u64, u64, String)>,
}

fn facts(cat: &Catalog, cam: &Camera, scans: &[(std::path::PathBuf, Scan)]) -> CameraFacts {
    let mut f = CameraFacts {
        frames: 0,
        key_frames: 0,
        files: Vec::new(),
        damage: Vec::new(),
    };
    for span in &cam.spans {
        let path = &cat.files[span.file].path;
        f.files.push(path.clone());
        let Some((_, scan)) = scans.iter().find(|(p, _)| p == path) else {
            continue;
        };
        if let Some(st) = scan.streams.iter().find(|s| s.info.name == cam.key.stream) {
            f.frames += st.frames;
            f.key_frames += st.keys;
        }
        if scan.damage.any() {
            f.damage.push((
                path.clone(),
                scan.damage.regions,
                scan.damage.bytes,
                scan.damage.describe(),
            ));
        }
    }
    f
}

fn case_json(cat: &Catalog, scans: &[(std::path::PathBuf, Scan)], zone: Option<&Zone>) -> Value {
    let time = |ns: u64| rfc3339_in(ns, zone);
    let path = |p: &std::path::Path| p.to_str().map_or_else(|| out::path(p), str::to_string);
    let cameras: Vec<Value> = cat
        .cameras
        .iter()
        .map(|cam| {
            let f = facts(cat, cam, scans);
            json!({
                "id": cam.key.id(),
                "name": cam.name,
                "format": cam.key.format.name(),
                "device": cam.key.device,
                "stream": cam.key.stream,
                "first_time": cam.first_wall_ns().map(time),
                "last_time": cam.last_wall_ns().map(time),
                "frames": f.frames,
                "key_frames": f.key_frames,
                "files": cam.spans.iter().map(|s| json!({
                    "file": path(&cat.files[s.file].path),
                    "first_time": time(s.first_wall_ns),
                    "last_time": time(s.last_wall_ns),
                })).collect::<Vec<_>>(),
                "gaps": cam.gaps.iter().map(|(a, b)| json!({
                    "from": time(*a),
                    "to": time(*b),
                    "duration_s": (b - a) as f64 / 1e9,
                })).collect::<Vec<_>>(),
                "overlaps": cam.overlaps.iter().map(|(a, b)| json!([
                    path(&cat.files[cam.spans[*a].file].path),
                    path(&cat.files[cam.spans[*b].file].path),
                ])).collect::<Vec<_>>(),
                "duplicates": cam.duplicates.iter().map(|(d, o)| json!({
                    "file": path(&cat.files[*d].path),
                    "same_as": path(&cat.files[*o].path),
                })).collect::<Vec<_>>(),
                "damage": f.damage.iter().map(|(p, r, b, t)| json!({
                    "file": path(p),
                    "regions": r,
                    "bytes": b,
                    "description": t,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Value::Array(cameras)
}

fn case_text(cat: &Catalog, scans: &[(std::path::PathBuf, Scan)], zone: Option<&Zone>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "case: {} camera(s)", cat.cameras.len());
    for cam in &cat.cameras {
        let f = facts(cat, cam, scans);
        let span = match (cam.first_wall_ns(), cam.last_wall_ns()) {
            (Some(a), Some(b)) => format!("{} .. {}", rfc3339_in(a, zone), rfc3339_in(b, zone)),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "  {} [{}]: {} frames ({} key) in {} file(s), {}",
            escape(&cam.name),
            escape(&cam.key.id()),
            f.frames,
            f.key_frames,
            f.files.len(),
            span
        );
        for p in &f.files {
            let _ = writeln!(o, "    {}", out::path(p));
        }
        for (a, b) in &cam.gaps {
            let _ = writeln!(
                o,
                "    gap: {} .. {} ({})",
                rfc3339_in(*a, zone),
                rfc3339_in(*b, zone),
                human_duration((b - a) as f64 / 1e9)
            );
        }
        for (a, b) in &cam.overlaps {
            let _ = writeln!(
                o,
                "    overlap: {} and {} record the same time",
                out::path(&cat.files[cam.spans[*a].file].path),
                out::path(&cat.files[cam.spans[*b].file].path)
            );
        }
        for (d, orig) in &cam.duplicates {
            let _ = writeln!(
                o,
                "    duplicate: {} is the same recording as {} (used once)",
                out::path(&cat.files[*d].path),
                out::path(&cat.files[*orig].path)
            );
        }
        for (p, r, b, t) in &f.damage {
            let _ = writeln!(
                o,
                "    damage: {}: {r} region(s), {b} bytes skipped: {}",
                out::path(p),
                escape(t)
            );
        }
    }
    for s in &cat.skipped {
        let _ = writeln!(
            o,
            "  not in the case: {}: {}",
            out::path(&s.path),
            escape(&s.reason)
        );
    }
    o
}
