// SPDX-License-Identifier: MIT
//! Evidence beside every export, and `cctv verify`.
//!
//! An export is a stream copy, so it can prove itself: the coded slices of
//! every video frame of the output are the source's, byte for byte. The
//! proof is made by reading the written output back with a stock demuxer
//! (qtdemux / matroskademux, not the export path), hashing each frame's
//! slices ([`SliceDigest`]), and finding that sequence of hashes in the
//! source, read again by the engine, where each frame's place in the input
//! is known ([`Packet::origin`]). Beside `NAME.EXT` go:
//!
//! - `NAME.frames.tsv`: one row per video frame (stream, index, recorded
//!   and corrected capture time, output PTS, source file, offset, size,
//!   slice SHA-256);
//! - `NAME.manifest.json`: tool, command, inputs and outputs with SHA-256,
//!   the table's hash, streams, what the export added or transcoded, gaps,
//!   damage, anything dropped;
//! - `NAME.report.html`: the same facts for a person.
//!
//! `cctv verify MANIFEST…` re-hashes, re-reads each output and recomputes
//! every frame's hash, and (inputs present) re-reads the sources.
//! `docs/evidence.md` shows how to do the same without this program.

use crate::inputs::{Kind, Recording};
use crate::scan::{self, Depth};
use crate::times::rfc3339_utc;
use anyhow::{Context, Result, anyhow, bail};
use gst::prelude::*;
use gstcctv::engine::evidence::{SliceDigest, hex};
use gstcctv::engine::{Codec, StreamInfo};
use gstcctv::h264;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The columns of `NAME.frames.tsv`, in order.
pub const FRAME_COLUMNS: [&str; 10] = [
    "stream",
    "index",
    "recorded_time",
    "time",
    "pts_s",
    "source",
    "offset",
    "size",
    "key",
    "slice_sha256",
];

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex(&hasher.finalize())))
}

/// The video codec of a stream, for slice hashing.
fn video_codec(info: &StreamInfo) -> Option<h264::Codec> {
    match info.codec {
        Codec::H264 { .. } => Some(h264::Codec::H264),
        Codec::H265 => Some(h264::Codec::H265),
        _ => None,
    }
}

/// One video frame of a source, as the engine reads it.
#[derive(Clone, Debug)]
pub struct SourceFrame {
    pub digest: String,
    pub wall_ns: Option<u64>,
    pub key: bool,
    /// The file it was read from.
    pub file: Option<PathBuf>,
    pub offset: u64,
    pub size: u64,
}

/// Every frame of the video stream `name` of a recording, in order, read
/// with the gap policy the export used (`max_gap`, as the element's
/// `max-gap`): the same frames the element gave.
pub fn source_frames(
    rec: &Recording,
    name: &str,
    max_gap: Option<u64>,
) -> Result<Vec<SourceFrame>> {
    let mut frames = Vec::new();
    let mut codec_error = None;
    scan::scan_played(rec, Depth::Full, max_gap, |info, p| {
        if info.name != name {
            return;
        }
        let Some(codec) = video_codec(info) else {
            codec_error = Some(format!("{name} is not H.264/H.265 video"));
            return;
        };
        let mut digest = SliceDigest::new();
        digest.annexb(codec, &p.to_vec());
        let (file, offset, size) = match &p.origin {
            Some(o) => (o.file.as_deref().map(Path::to_path_buf), o.offset, o.len),
            None => (None, 0, 0),
        };
        let file = Some(file.unwrap_or_else(|| rec.path.clone()));
        frames.push(SourceFrame {
            digest: digest.hex(),
            wall_ns: p.wallclock_ns,
            key: p.key,
            file,
            offset,
            size,
        });
    })?;
    if let Some(e) = codec_error {
        bail!(e);
    }
    Ok(frames)
}

/// One video frame of a written output, as a stock demuxer reads it back.
#[derive(Clone, Debug)]
pub struct OutputFrame {
    pub pts_ns: Option<u64>,
    pub digest: String,
}

/// Reads an MP4/Matroska file back with GStreamer's own demuxers and hashes
/// the slices of every video frame: one list per video track, in track
/// order. Fails when the file cannot be read to its end.
pub fn output_frames(path: &Path) -> Result<Vec<Vec<OutputFrame>>> {
    use std::sync::{Arc, Mutex};
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("filesrc")
        .property("location", path)
        .build()?;
    // The demuxer by content: stock ones, not the export path.
    let mut head = [0u8; 12];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let factory = if &head[4..8] == b"ftyp" {
        "qtdemux"
    } else if head[..4] == [0x1a, 0x45, 0xdf, 0xa3] {
        "matroskademux"
    } else {
        bail!("{}: neither MP4 nor Matroska", path.display());
    };
    let demux = gst::ElementFactory::make(factory).build()?;
    pipeline.add_many([&src, &demux])?;
    src.link(&demux)?;
    type Tracks = Arc<Mutex<Vec<(String, Vec<OutputFrame>)>>>;
    let tracks: Tracks = Arc::new(Mutex::new(Vec::new()));
    let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let pipe_weak = pipeline.downgrade();
    let (tr, fail) = (tracks.clone(), failure.clone());
    demux.connect_pad_added(move |_, pad| {
        let Some(pipeline) = pipe_weak.upgrade() else {
            return;
        };
        let caps = pad.current_caps().or_else(|| Some(pad.query_caps(None)));
        let s = caps
            .as_ref()
            .and_then(|c| c.structure(0).map(|s| s.to_owned()));
        let codec = s.as_ref().and_then(|s| match s.name().as_str() {
            "video/x-h264" => Some(h264::Codec::H264),
            "video/x-h265" => Some(h264::Codec::H265),
            _ => None,
        });
        // async=false: one streaming thread feeds every sink, so a sink
        // waiting for the others to preroll would block them all.
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .property("async", false)
            .property("signal-handoffs", codec.is_some())
            .build();
        let Ok(sink) = sink else { return };
        let _ = pipeline.add(&sink);
        if let Some(codec) = codec {
            let s = s.expect("caps");
            // Length-prefixed (avc/hvc1): the prefix size is in codec_data;
            // byte-stream: start codes.
            let prefix = match s.get::<gst::Buffer>("codec_data").ok() {
                Some(cd) => {
                    let map = cd.map_readable().ok();
                    let b = map.as_ref().map(|m| m.as_slice()).unwrap_or(&[]);
                    match codec {
                        h264::Codec::H264 => b.get(4).map(|v| usize::from(v & 3) + 1),
                        h264::Codec::H265 => b.get(21).map(|v| usize::from(v & 3) + 1),
                    }
                }
                None => None,
            };
            let track = {
                let mut t = tr.lock().unwrap_or_else(|e| e.into_inner());
                t.push((pad.name().to_string(), Vec::new()));
                t.len() - 1
            };
            let (tr, fail) = (tr.clone(), fail.clone());
            sink.connect("handoff", false, move |values| {
                let buffer = values[1].get::<gst::Buffer>().ok()?;
                let map = buffer.map_readable().ok()?;
                let mut digest = SliceDigest::new();
                let ok = match prefix {
                    Some(n) => digest.length_prefixed(codec, map.as_slice(), n),
                    None => {
                        digest.annexb(codec, map.as_slice());
                        true
                    }
                };
                if !ok {
                    *fail.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some("a frame's NAL lengths run past its end".into());
                }
                tr.lock().unwrap_or_else(|e| e.into_inner())[track]
                    .1
                    .push(OutputFrame {
                        pts_ns: buffer.pts().map(|t| t.nseconds()),
                        digest: digest.hex(),
                    });
                None
            });
        }
        let _ = sink.sync_state_with_parent();
        if let Some(sp) = sink.static_pad("sink") {
            let _ = pad.link(&sp);
        }
    });
    let bus = pipeline.bus().ok_or_else(|| anyhow!("no bus"))?;
    let result = (|| -> Result<()> {
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| anyhow!("{}: cannot be read", path.display()))?;
        // Bounded: a file that neither ends nor errors in this time is not
        // readable as written.
        let msg = bus
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(600),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            )
            .ok_or_else(|| anyhow!("{}: reading it back did not end", path.display()))?;
        if let gst::MessageView::Error(e) = msg.view() {
            bail!("{}: cannot be read back: {}", path.display(), e.error());
        }
        Ok(())
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    if let Some(f) = failure.lock().unwrap_or_else(|e| e.into_inner()).take() {
        bail!("{}: {f}", path.display());
    }
    let tracks = std::mem::take(&mut *tracks.lock().unwrap_or_else(|e| e.into_inner()));
    let mut tracks: Vec<_> = tracks;
    // Track order as the file has them (pad names video_0, video_1, …).
    tracks.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(tracks.into_iter().map(|(_, f)| f).collect())
}

/// Where the output's frames are in the source: the start of the run of
/// source frames whose slice hashes equal the output's, in order. `None`
/// when the output does not carry the source's pictures.
pub fn locate(source: &[SourceFrame], output: &[OutputFrame]) -> Option<usize> {
    let first = output.first()?;
    (0..source.len()).find(|&i| {
        source[i].digest == first.digest
            && source.len() - i >= output.len()
            && source[i..i + output.len()]
                .iter()
                .zip(output)
                .all(|(s, o)| s.digest == o.digest)
    })
}

/// What an export did, for the manifest and report.
pub struct ExportFacts<'a> {
    /// The recordings the output was made from, in order (several when
    /// files are joined).
    pub recs: &'a [Recording],
    pub video: &'a StreamInfo,
    pub audio: Option<&'a StreamInfo>,
    pub mp4: bool,
    pub subtitles: bool,
    pub compacted_gaps: bool,
    pub embedded_time: bool,
    /// The gap policy the source was read with (the element's `max-gap`).
    pub max_gap: Option<u64>,
    pub damage: &'a [String],
    /// Recorder clock minus true time (ns).
    pub clock_offset_ns: i64,
}

/// The proof of one written output: its frames located in the source.
pub struct Proof {
    rows: Vec<Row>,
    inputs: Vec<PathBuf>,
    first_recorded_ns: Option<u64>,
    last_recorded_ns: Option<u64>,
}

struct Row {
    index: usize,
    recorded_ns: Option<u64>,
    pts_ns: Option<u64>,
    source: usize,
    offset: u64,
    size: u64,
    key: bool,
    digest: String,
}

/// Reads `written` back and finds its video frames in the source. An error
/// means the output cannot be called written: it is unreadable, or its
/// pictures are not the source's.
pub fn prove(written: &Path, facts: &ExportFacts) -> Result<Proof> {
    let tracks = output_frames(written)?;
    let [out] = tracks.as_slice() else {
        bail!(
            "{}: read back {} video tracks, expected 1",
            written.display(),
            tracks.len()
        );
    };
    let mut source = Vec::new();
    for rec in facts.recs {
        source.extend(source_frames(rec, &facts.video.name, facts.max_gap)?);
    }
    if out.is_empty() {
        bail!("{}: no video frames read back", written.display());
    }
    let start = locate(&source, out).ok_or_else(|| {
        anyhow!(
            "{}: the frames read back are not the source's ({} frames, no run of {} found in {})",
            written.display(),
            out.len(),
            facts.video.name,
            facts
                .recs
                .iter()
                .map(|r| r.path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let mut inputs: Vec<PathBuf> = Vec::new();
    let mut index_of = |file: &Option<PathBuf>| -> usize {
        let p = file.clone().unwrap_or_default();
        match inputs.iter().position(|q| *q == p) {
            Some(i) => i,
            None => {
                inputs.push(p);
                inputs.len() - 1
            }
        }
    };
    let rows: Vec<Row> = source[start..start + out.len()]
        .iter()
        .zip(out)
        .enumerate()
        .map(|(index, (s, o))| Row {
            index,
            recorded_ns: s.wall_ns,
            pts_ns: o.pts_ns,
            source: index_of(&s.file),
            offset: s.offset,
            size: s.size,
            key: s.key,
            digest: s.digest.clone(),
        })
        .collect();
    let walls = rows.iter().filter_map(|r| r.recorded_ns);
    let (first, last) = (walls.clone().min(), walls.max());
    Ok(Proof {
        rows,
        inputs,
        first_recorded_ns: first,
        last_recorded_ns: last,
    })
}

fn corrected(recorded: u64, offset_ns: i64) -> u64 {
    (i128::from(recorded) - i128::from(offset_ns)).clamp(0, i128::from(u64::MAX)) as u64
}

/// `NAME<suffix>` beside `output` (`NAME.EXT`). A name that would exceed
/// the file-system limit (255 bytes) is shortened, with a hash of the
/// whole stem so that it stays unique; the manifest names the files it
/// lists, so `verify` finds them.
fn side(output: &Path, suffix: &str) -> PathBuf {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let stem = output.file_stem().unwrap_or_default().as_bytes();
    let mut name = stem.to_vec();
    if name.len() + suffix.len() > 255 {
        let tag = format!("~{}", &hex(&Sha256::digest(stem))[..12]);
        name.truncate(255 - suffix.len() - tag.len());
        name.extend_from_slice(tag.as_bytes());
    }
    name.extend_from_slice(suffix.as_bytes());
    output.with_file_name(std::ffi::OsString::from_vec(name))
}

/// `NAME.manifest.json` beside `output`.
pub fn manifest_path(output: &Path) -> PathBuf {
    side(output, ".manifest.json")
}

fn name_of(p: &Path) -> &std::ffi::OsStr {
    p.file_name().unwrap_or_default()
}

/// A manifest's `path` for `p`: its text, and when the name is not UTF-8
/// (recorders write Latin-1 names) also its bytes, hex, as `path_bytes`,
/// so that `cctv verify` and reruns find the very file again.
pub fn path_fields(p: &std::ffi::OsStr) -> serde_json::Map<String, Value> {
    use std::os::unix::ffi::OsStrExt;
    let mut m = serde_json::Map::new();
    m.insert("path".into(), json!(p.to_string_lossy()));
    if p.to_str().is_none() {
        m.insert("path_bytes".into(), json!(hex(p.as_bytes())));
    }
    m
}

/// The path a manifest entry names ([`path_fields`]); `None`: none.
pub fn entry_path(entry: &Value) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    if let Some(h) = entry["path_bytes"].as_str()
        && h.len() % 2 == 0
        && let Some(bytes) = (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()
    {
        return Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)));
    }
    entry["path"].as_str().map(PathBuf::from)
}

/// `fields` with the path fields of `p` ([`path_fields`]) in front.
fn with_path(p: &std::ffi::OsStr, fields: Value) -> Value {
    let mut m = path_fields(p);
    if let Value::Object(rest) = fields {
        m.extend(rest);
    }
    Value::Object(m)
}

/// Writes the frame table, the manifest and the report beside `output`
/// (already in place). Each is written to a temporary name and renamed.
pub fn write(output: &Path, facts: &ExportFacts, proof: &Proof) -> Result<PathBuf> {
    let offset = facts.clock_offset_ns;
    let time = |ns: Option<u64>| ns.map(rfc3339_utc).unwrap_or_default();
    let mut tsv = FRAME_COLUMNS.join("\t");
    tsv.push('\n');
    for r in &proof.rows {
        let _ = writeln!(
            tsv,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            facts.video.name,
            r.index,
            time(r.recorded_ns),
            time(r.recorded_ns.map(|n| corrected(n, offset))),
            r.pts_ns
                .map(|p| format!("{:.6}", p as f64 / 1e9))
                .unwrap_or_default(),
            r.source,
            r.offset,
            r.size,
            u8::from(r.key),
            r.digest
        );
    }
    let frames_path = side(output, ".frames.tsv");
    write_atomically(&frames_path, tsv.as_bytes())?;
    let mut inputs = Vec::new();
    for p in &proof.inputs {
        let (size, sha) = sha256_file(p)?;
        inputs.push(with_path(
            p.as_os_str(),
            json!({"size": size, "sha256": sha}),
        ));
    }
    let (out_size, out_sha) = sha256_file(output)?;
    let frames_sha = hex(&Sha256::digest(tsv.as_bytes()));
    let mut added = vec![];
    if facts.recs.iter().any(|r| r.kind == Kind::Pavs) {
        added.push(json!({
            "what": "parameter sets",
            "detail": "SPS/PPS synthesized from the block's picture size before every key frame (.psf recordings carry none); slices untouched"
        }));
    }
    if facts.embedded_time {
        added.push(json!({
            "what": "time stamps",
            "detail": "each frame's corrected capture time as a MISB ST 0604 precision time stamp (SEI user_data_unregistered, UUID MISPmicrosectime) before its first slice (NIST IR 8161); slices untouched"
        }));
    }
    if facts.subtitles {
        added.push(json!({
            "what": "subtitle track",
            "detail": "a text track with the capture time (and speed/position for dashcams), made from the recording's own time stamps"
        }));
    }
    let mut transcoded = vec![];
    if let Some(a) = facts.audio
        && facts.mp4
    {
        transcoded.push(json!({
            "stream": a.name,
            "from": codec_name(&a.codec),
            "to": "AAC",
            "detail": "MP4 cannot carry the source's audio codec: the audio is re-encoded and is not evidence-exact"
        }));
    }
    let gaps = if facts.compacted_gaps {
        json!({"policy": "compact", "detail": "capture-time gaps longer than 10 s take one frame in the output timeline; recorded times are in the frame table"})
    } else {
        json!({"policy": "keep"})
    };
    let manifest = json!({
        "tool": {
            "name": "cctv",
            "version": env!("CARGO_PKG_VERSION"),
            "commit": env!("COMMIT_ID"),
        },
        "command": std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "created": rfc3339_utc(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        ),
        "inputs": inputs,
        "outputs": [with_path(name_of(output), json!({"size": out_size, "sha256": out_sha}))],
        "frames": with_path(name_of(&frames_path), json!({"size": tsv.len(), "sha256": frames_sha, "columns": FRAME_COLUMNS})),
        "streams": [{
            "id": facts.video.name,
            "kind": "video",
            "codec": codec_name(&facts.video.codec),
            "frames": proof.rows.len(),
            "first_recorded_time": time(proof.first_recorded_ns),
            "last_recorded_time": time(proof.last_recorded_ns),
            "first_time": time(proof.first_recorded_ns.map(|n| corrected(n, offset))),
            "last_time": time(proof.last_recorded_ns.map(|n| corrected(n, offset))),
        }],
        "clock_offset_s": offset as f64 / 1e9,
        "added": added,
        "transcoded": transcoded,
        "gaps": gaps,
        "damage": facts.damage,
        "dropped": [],
    });
    let mpath = manifest_path(output);
    let text = serde_json::to_string_pretty(&manifest)?;
    write_atomically(&mpath, text.as_bytes())?;
    write_atomically(
        &side(output, ".report.html"),
        report_html(&manifest).as_bytes(),
    )?;
    Ok(mpath)
}

fn codec_name(c: &Codec) -> &'static str {
    match c {
        Codec::H264 { .. } => "H.264",
        Codec::H265 => "H.265",
        Codec::Mulaw { .. } => "mu-law",
        Codec::Opus { .. } => "Opus",
        Codec::Jpeg => "JPEG",
        Codec::Json { .. } => "JSON",
        Codec::Text => "text",
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".cctv-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report: the manifest's facts for a person, printable.
pub fn report_html(m: &Value) -> String {
    let s = |v: &Value| esc(v.as_str().unwrap_or(&v.to_string()));
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Export report</title>\n<style>body{font:14px/1.4 sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #999;padding:.2em .5em;text-align:left;vertical-align:top}code{font-size:12px;word-break:break-all}@media print{body{margin:0}}</style></head><body>\n");
    let out = &m["outputs"][0];
    let _ = writeln!(h, "<h1>Export report: {}</h1>", s(&out["path"]));
    let _ = writeln!(
        h,
        "<p>Made by {} {} (commit <code>{}</code>) on {}.</p>",
        s(&m["tool"]["name"]),
        s(&m["tool"]["version"]),
        s(&m["tool"]["commit"]),
        s(&m["created"])
    );
    let cmd: Vec<String> = m["command"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "<h2>Command</h2><p><code>{}</code></p>",
        esc(&cmd.join(" "))
    );
    h.push_str(
        "<h2>Inputs</h2><table><tr><th>#</th><th>file</th><th>bytes</th><th>SHA-256</th></tr>\n",
    );
    for (i, inp) in m["inputs"].as_array().into_iter().flatten().enumerate() {
        let _ = writeln!(
            h,
            "<tr><td>{i}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            s(&inp["path"]),
            inp["size"],
            s(&inp["sha256"])
        );
    }
    h.push_str(
        "</table><h2>Outputs</h2><table><tr><th>file</th><th>bytes</th><th>SHA-256</th></tr>\n",
    );
    for o in m["outputs"].as_array().into_iter().flatten() {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            s(&o["path"]),
            o["size"],
            s(&o["sha256"])
        );
    }
    let _ = writeln!(
        h,
        "<tr><td>{} (frame table)</td><td></td><td><code>{}</code></td></tr></table>",
        s(&m["frames"]["path"]),
        s(&m["frames"]["sha256"])
    );
    h.push_str("<h2>Streams</h2><table><tr><th>stream</th><th>codec</th><th>frames</th><th>recorded time (recorder clock, UTC)</th><th>corrected time (UTC)</th></tr>\n");
    for st in m["streams"].as_array().into_iter().flatten() {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} – {}</td><td>{} – {}</td></tr>",
            s(&st["id"]),
            s(&st["codec"]),
            st["frames"],
            s(&st["first_recorded_time"]),
            s(&st["last_recorded_time"]),
            s(&st["first_time"]),
            s(&st["last_time"])
        );
    }
    let _ = writeln!(
        h,
        "</table><p>Clock offset (recorder minus true time): {} s.</p>",
        m["clock_offset_s"]
    );
    for (title, key) in [
        ("Added by the export", "added"),
        ("Transcoded", "transcoded"),
        ("Damage skipped in the source", "damage"),
        ("Dropped", "dropped"),
    ] {
        let items = m[key].as_array().cloned().unwrap_or_default();
        let _ = writeln!(h, "<h2>{title}</h2>");
        if items.is_empty() {
            h.push_str("<p>Nothing.</p>\n");
            continue;
        }
        h.push_str("<ul>\n");
        for it in items {
            let text = match &it {
                Value::String(t) => esc(t),
                Value::Object(o) => o
                    .iter()
                    .map(|(k, v)| format!("{}: {}", esc(k), s(v)))
                    .collect::<Vec<_>>()
                    .join("; "),
                v => esc(&v.to_string()),
            };
            let _ = writeln!(h, "<li>{text}</li>");
        }
        h.push_str("</ul>\n");
    }
    let _ = writeln!(h, "<h2>Gaps</h2><p>{}</p>", s(&m["gaps"]["detail"]));
    h.push_str("<h2>How to verify</h2><p>Run <code>cctv verify ");
    h.push_str(&esc(&side(
        Path::new(out["path"].as_str().unwrap_or("")),
        ".manifest.json",
    )
    .to_string_lossy()));
    h.push_str("</code> beside the files: it re-hashes the inputs and outputs, reads every output back with a stock demuxer and recomputes each frame's slice SHA-256, and re-reads the inputs. Without this program: the SHA-256 of each video frame's coded slice NAL units (H.264 types 1–5, H.265 types 0–31, without start codes or length prefixes, concatenated) equals the table's <code>slice_sha256</code>, in the output and at the table's offset in the input (see docs/evidence.md of gst-cctv).</p>\n</body></html>\n");
    h
}

/// One problem `verify` found.
#[derive(Debug)]
pub struct Problem {
    pub kind: &'static str,
    pub path: String,
    pub stream: Option<String>,
    pub frame: Option<usize>,
    pub detail: String,
}

impl Problem {
    fn new(kind: &'static str, path: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            path: path.into(),
            stream: None,
            frame: None,
            detail: detail.into(),
        }
    }
    fn to_json(&self) -> Value {
        json!({"kind": self.kind, "path": self.path, "stream": self.stream, "frame": self.frame, "detail": self.detail})
    }
}

struct TableRow {
    stream: String,
    index: usize,
    source: usize,
    offset: u64,
    size: u64,
    digest: String,
}

fn parse_table(text: &str) -> Result<Vec<TableRow>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| anyhow!("the frame table has no column {name}"))
    };
    let (cs, ci, cso, co, csz, cd) = (
        col("stream")?,
        col("index")?,
        col("source")?,
        col("offset")?,
        col("size")?,
        col("slice_sha256")?,
    );
    lines
        .enumerate()
        .map(|(n, line)| {
            let f: Vec<&str> = line.split('\t').collect();
            let get = |i: usize| {
                f.get(i)
                    .copied()
                    .ok_or_else(|| anyhow!("frame table line {}: too few columns", n + 2))
            };
            let num = |i: usize| -> Result<u64> {
                get(i)?
                    .parse()
                    .map_err(|_| anyhow!("frame table line {}: not a number", n + 2))
            };
            Ok(TableRow {
                stream: get(cs)?.to_string(),
                index: num(ci)? as usize,
                source: num(cso)? as usize,
                offset: num(co)?,
                size: num(csz)?,
                digest: get(cd)?.to_string(),
            })
        })
        .collect()
}

/// Verifies one manifest; the problems found (none: everything holds).
pub fn verify_manifest(manifest: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mp = manifest.to_string_lossy().into_owned();
    let m: Value = match std::fs::read(manifest)
        .map_err(anyhow::Error::from)
        .and_then(|b| serde_json::from_slice(&b).map_err(anyhow::Error::from))
    {
        Ok(m) => m,
        Err(e) => {
            problems.push(Problem::new("manifest", mp, format!("cannot read: {e}")));
            return problems;
        }
    };
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let check_file =
        |entry: &Value, base: Option<&Path>, kind: &'static str| -> Result<PathBuf, Problem> {
            let named = entry_path(entry).unwrap_or_default();
            let name = named.to_string_lossy();
            let path = match base {
                Some(b) => b.join(&named),
                None => named.clone(),
            };
            match sha256_file(&path) {
                Ok((size, sha)) => {
                    if Some(size) != entry["size"].as_u64()
                        || Some(sha.as_str()) != entry["sha256"].as_str()
                    {
                        Err(Problem::new(
                            kind,
                            name,
                            "SHA-256 or size differs from the manifest",
                        ))
                    } else {
                        Ok(path)
                    }
                }
                Err(e) => Err(Problem::new(kind, name, format!("{e:#}"))),
            }
        };
    // Inputs: re-hashed when present (a manifest names them as given).
    // Inputs present are also re-read below, changed or not: which frame.
    let mut present_inputs: HashMap<usize, PathBuf> = HashMap::new();
    for (i, inp) in m["inputs"].as_array().into_iter().flatten().enumerate() {
        let path = entry_path(inp).unwrap_or_default();
        if !path.exists() {
            continue;
        }
        if let Err(p) = check_file(inp, None, "input") {
            problems.push(p);
        }
        present_inputs.insert(i, path);
    }
    let table = match check_file(&m["frames"], Some(dir), "manifest")
        .map_err(|p| vec![p])
        .and_then(|p| {
            std::fs::read_to_string(&p)
                .map_err(anyhow::Error::from)
                .and_then(|t| parse_table(&t))
                .map_err(|e| {
                    vec![Problem::new(
                        "manifest",
                        p.to_string_lossy(),
                        format!("{e:#}"),
                    )]
                })
        }) {
        Ok(t) => t,
        Err(mut ps) => {
            problems.append(&mut ps);
            return problems;
        }
    };
    for out in m["outputs"].as_array().into_iter().flatten() {
        let named = entry_path(out).unwrap_or_default();
        let name = named.to_string_lossy().into_owned();
        if let Err(p) = check_file(out, Some(dir), "output") {
            problems.push(p);
        }
        // Re-read independently, whatever the hash says: which frame changed.
        let tracks = match output_frames(&dir.join(&named)) {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem::new("output", &name, format!("{e:#}")));
                continue;
            }
        };
        let mut streams: Vec<&str> = Vec::new();
        for r in &table {
            if !streams.contains(&r.stream.as_str()) {
                streams.push(&r.stream);
            }
        }
        if tracks.len() != streams.len() {
            problems.push(Problem::new(
                "output",
                &name,
                format!(
                    "{} video tracks, the table has {}",
                    tracks.len(),
                    streams.len()
                ),
            ));
        }
        for (stream, frames) in streams.iter().zip(&tracks) {
            let rows: Vec<&TableRow> = table.iter().filter(|r| r.stream == *stream).collect();
            if rows.len() != frames.len() {
                problems.push(Problem {
                    stream: Some(stream.to_string()),
                    ..Problem::new(
                        "output",
                        &name,
                        format!(
                            "{} frames read back, the table has {}",
                            frames.len(),
                            rows.len()
                        ),
                    )
                });
            }
            for (r, f) in rows.iter().zip(frames) {
                if r.digest != f.digest {
                    problems.push(Problem {
                        stream: Some(stream.to_string()),
                        frame: Some(r.index),
                        ..Problem::new("frame", &name, "the frame's slices differ from the table")
                    });
                }
            }
        }
    }
    // Sources: every row's range must still hold the same slices.
    if !present_inputs.is_empty() {
        check_sources(&m, &table, &present_inputs, &mut problems);
    }
    problems
}

/// Re-reads the inputs with the engine and checks each table row against
/// the frame found at its offset.
fn check_sources(
    m: &Value,
    table: &[TableRow],
    present: &HashMap<usize, PathBuf>,
    problems: &mut Vec<Problem>,
) {
    let inputs: Vec<PathBuf> = m["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| entry_path(i).unwrap_or_default())
        .collect();
    // The recordings the inputs belong to: files, or (rf1) the segment a
    // packet file is part of; each read once.
    let mut recs: Vec<Recording> = Vec::new();
    for (i, path) in inputs.iter().enumerate() {
        if !present.contains_key(&i) {
            continue;
        }
        let (found, _) = crate::inputs::expand(std::slice::from_ref(path));
        if found.is_empty() {
            problems.push(Problem::new(
                "input",
                path.to_string_lossy(),
                "no longer a recording",
            ));
        }
        for r in found {
            if !recs.iter().any(|q| q.path == r.path) {
                recs.push(r);
            }
        }
    }
    let mut by_place: HashMap<(usize, u64, u64), String> = HashMap::new();
    let streams: Vec<&str> = {
        let mut s: Vec<&str> = Vec::new();
        for r in table {
            if !s.contains(&r.stream.as_str()) {
                s.push(&r.stream);
            }
        }
        s
    };
    for rec in &recs {
        for stream in &streams {
            // Long gaps compacted (the default): it keeps every frame a
            // real-time reading keeps, and those whose times are impossible.
            match source_frames(
                rec,
                stream,
                Some(gstcctv::engine::timeline::DEFAULT_MAX_GAP_NS),
            ) {
                Ok(frames) => {
                    for f in frames {
                        let file = f.file.clone().unwrap_or_else(|| rec.path.clone());
                        if let Some(i) = inputs.iter().position(|p| same_file(p, &file)) {
                            by_place.insert((i, f.offset, f.size), f.digest);
                        }
                    }
                }
                Err(e) => problems.push(Problem::new(
                    "input",
                    rec.path.to_string_lossy(),
                    format!("{e:#}"),
                )),
            }
        }
    }
    for r in table {
        if !present.contains_key(&r.source) {
            continue;
        }
        if by_place.get(&(r.source, r.offset, r.size)) != Some(&r.digest) {
            problems.push(Problem {
                stream: Some(r.stream.clone()),
                frame: Some(r.index),
                ..Problem::new(
                    "input",
                    inputs[r.source].to_string_lossy(),
                    format!(
                        "no frame with these slices at offset {} ({} bytes)",
                        r.offset, r.size
                    ),
                )
            });
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => a == b,
    }
}

/// `cctv verify`: exit status true when every manifest holds.
pub fn run_verify(manifests: &[PathBuf], as_json: bool) -> bool {
    let mut all = Vec::new();
    for m in manifests {
        let problems = verify_manifest(m);
        if !as_json {
            if problems.is_empty() {
                println!("{}: OK", m.display());
            }
            for p in &problems {
                let mut line = format!("{}: {} {}", m.display(), p.kind, p.path);
                if let Some(s) = &p.stream {
                    let _ = write!(line, " {s}");
                }
                if let Some(f) = p.frame {
                    let _ = write!(line, " frame {f}");
                }
                let _ = write!(line, ": {}", p.detail);
                println!("{line}");
            }
        }
        all.extend(problems);
    }
    if as_json {
        let v = json!({"ok": all.is_empty(), "problems": all.iter().map(Problem::to_json).collect::<Vec<_>>()});
        println!("{v}");
    }
    all.is_empty()
}

/// `--clock-offset`: how far the recorder's clock was ahead of true time
/// (negative: behind), as seconds (`+120`, `-90.5`) or `[+-]HH:MM:SS[.f]`
/// / `[+-]MM:SS`. Nanoseconds.
pub fn parse_clock_offset(text: &str) -> Result<i64> {
    let t = text.trim();
    let (sign, body) = match t.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, t.strip_prefix('+').unwrap_or(t)),
    };
    let bad = || {
        anyhow!("cannot read clock offset {text:?} (use seconds like +120 or -90.5, or +HH:MM:SS)")
    };
    let parts: Vec<&str> = body.split(':').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let mut seconds = 0.0f64;
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let v: f64 = if last {
            p.parse().map_err(|_| bad())?
        } else {
            f64::from(p.parse::<u32>().map_err(|_| bad())?)
        };
        if !v.is_finite() || v < 0.0 || (i > 0 && v >= 60.0) {
            return Err(bad());
        }
        seconds = seconds * 60.0 + v;
    }
    // A century of offset is not a clock error.
    if seconds > 3.2e9 {
        return Err(bad());
    }
    Ok((sign * seconds * 1e9).round() as i64)
}

/// Recorded (recorder clock) time for a corrected (true) time.
pub fn recorded_of(corrected_ns: u64, offset_ns: i64) -> u64 {
    (i128::from(corrected_ns) + i128::from(offset_ns)).clamp(0, i128::from(u64::MAX)) as u64
}

/// Corrected (true) time for a recorded one.
pub fn corrected_of(recorded_ns: u64, offset_ns: i64) -> u64 {
    corrected(recorded_ns, offset_ns)
}

/// `--embed-time`: each video frame gets its corrected capture time as a
/// MISB ST 0604 precision time stamp SEI in front of its first slice
/// (NIST IR 8161 Level 0). Slices are untouched, so the frame table's
/// hashes still hold. The frame is rewritten as one contiguous memory.
pub fn embed_time(
    pad: &gst::Pad,
    buffer: &mut gst::Buffer,
    codec: h264::Codec,
    wall_ns: Option<u64>,
    offset_ns: i64,
) {
    let Some(wall) = wall_ns else { return };
    let us = corrected(wall, offset_ns) / 1000;
    let sei = gstcctv::engine::evidence::precision_time_sei(
        codec,
        us,
        gstcctv::engine::evidence::TIME_STATUS_UNLOCKED,
    );
    let avc = pad
        .current_caps()
        .and_then(|c| {
            c.structure(0)
                .and_then(|s| s.get::<String>("stream-format").ok())
        })
        .is_some_and(|f| f == "avc" || f == "hvc1" || f == "hev1");
    let Ok(map) = buffer.map_readable() else {
        return;
    };
    let data = map.as_slice();
    let is_slice = |nal: &[u8]| {
        codec
            .nal_type(nal)
            .is_some_and(|t| gstcctv::engine::evidence::is_slice_nal_type(codec, t))
    };
    let (at, insert): (Option<usize>, Vec<u8>) = if avc {
        let mut at = None;
        let mut i = 0;
        while i + 4 <= data.len() {
            let len = u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]) as usize;
            let Some(nal) = data.get(i + 4..i + 4 + len) else {
                break;
            };
            if is_slice(nal) {
                at = Some(i);
                break;
            }
            i += 4 + len;
        }
        let nal = &sei[4..];
        let mut v = (nal.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(nal);
        (at, v)
    } else {
        // The start code in front of the first slice (3 or 4 bytes).
        let at = h264::annexb_nal_ranges(data)
            .find(|r| is_slice(&data[r.clone()]))
            .map(|r| {
                let sc = if r.start >= 4 && data[r.start - 4] == 0 {
                    4
                } else {
                    3
                };
                r.start - sc
            });
        (at, sei)
    };
    let Some(at) = at else { return };
    let mut out = Vec::with_capacity(data.len() + insert.len());
    out.extend_from_slice(&data[..at]);
    out.extend_from_slice(&insert);
    out.extend_from_slice(&data[at..]);
    drop(map);
    let b = buffer.make_mut();
    b.remove_all_memory();
    b.append_memory(gst::Memory::from_mut_slice(out));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_offsets() {
        let s = 1_000_000_000i64;
        assert_eq!(parse_clock_offset("+120").unwrap(), 120 * s);
        assert_eq!(parse_clock_offset("-90.5").unwrap(), -90 * s - s / 2);
        assert_eq!(parse_clock_offset("+00:02:00").unwrap(), 120 * s);
        assert_eq!(parse_clock_offset("-1:30").unwrap(), -90 * s);
        assert_eq!(parse_clock_offset("0").unwrap(), 0);
        for bad in [
            "",
            "+",
            "abc",
            "1:60",
            "1::2",
            "+-3",
            "nan",
            "inf",
            "1:2:3:4",
            "99999999999",
        ] {
            assert!(parse_clock_offset(bad).is_err(), "{bad}");
        }
        assert_eq!(recorded_of(100, 30), 130);
        assert_eq!(corrected_of(100, 30), 70);
        assert_eq!(corrected_of(10, 30), 0);
        assert_eq!(corrected_of(10, -30), 40);
    }

    #[test]
    fn located_runs_must_match_whole() {
        let f = |d: &str| SourceFrame {
            digest: d.into(),
            wall_ns: None,
            key: false,
            file: None,
            offset: 0,
            size: 0,
        };
        let o = |d: &str| OutputFrame {
            pts_ns: None,
            digest: d.into(),
        };
        let src = [f("a"), f("b"), f("a"), f("b"), f("c")];
        assert_eq!(locate(&src, &[o("a"), o("b"), o("c")]), Some(2));
        assert_eq!(locate(&src, &[o("b"), o("a")]), Some(1));
        assert_eq!(locate(&src, &[o("c"), o("a")]), None);
        assert_eq!(locate(&src, &[]), None);
    }
}
