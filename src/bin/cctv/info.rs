// SPDX-License-Identifier: MIT
//! `cctv info`: per input the format, per stream kind, codec, size, frames,
//! wall-clock span and duration, and the damage found (one engine pass).

use crate::inputs::{self, Recording};
use crate::out::{self, errln, escape};
use crate::scan::{self, Depth, Scan, StreamStat};
use crate::times::{human_duration, rfc3339_in};
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
pub fn run(args: &[std::path::PathBuf], as_json: bool, zone: Option<&Zone>) -> bool {
    let (recordings, failures) = inputs::expand(args);
    let mut ok = failures.is_empty();
    for f in &failures {
        errln!("cctv: {}: {}", out::path(&f.name), f.reason);
    }
    let mut objects = Vec::new();
    for rec in &recordings {
        if out::stdout_gone() {
            // Nobody reads the report any more: stop quietly, not a success.
            return false;
        }
        match scan::scan(rec, Depth::Full, |_, _| {}) {
            Ok(scan) => {
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
    if as_json {
        let text = serde_json::to_string_pretty(&Value::Array(objects)).unwrap_or_default();
        ok &= out::out_text(&format!("{text}\n"));
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
            "description": (!scan.damage.text.is_empty()).then_some(&scan.damage.text),
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
    if scan.damage.text.is_empty() {
        o.push_str("  damage: none\n");
    } else {
        let _ = writeln!(
            o,
            "  damage: {} region(s), {} bytes skipped: {}",
            scan.damage.regions,
            scan.damage.bytes,
            escape(&scan.damage.text)
        );
    }
    o
}
