// SPDX-License-Identifier: MIT
//! saysdemux: every intact chunk of the shared samples on the right pad,
//! bit-exact and on the chunk clock (pull and push), generated files for
//! cameras, audio flavours, snapshots, telemetry, damage, typefinding and
//! seeking, and real pipelines (MP4, Matroska, GPX/CSV).

mod support;

#[allow(dead_code)]
#[path = "../examples/says_gpx.rs"]
mod says_gpx;

use gst::prelude::*;
use gstcctv::formats::says::writer::{
    AudioCodec, Gps, HeaderSpec, PictureChunks, SaysWriter, Telemetry, camera_entry, test_jpeg,
};
use gstcctv::formats::says::{MetaEntry, MetaValue};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::*;

/// Between the demuxer and each appsink: one streaming thread feeds every
/// pad, so sinks need queues to preroll together.
const Q: &str = "queue max-size-time=0 max-size-buffers=0 max-size-bytes=0";

const SAMPLES: [&str; 7] = [
    "basic",
    "garbage",
    "old_firmware",
    "opus",
    "truncated",
    "two_cameras",
    "with_jpeg",
];

fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// Index metadata (`[{type, name, value}]`) as the JSON object we emit.
fn index_meta_to_json(list: &Value) -> Value {
    let mut map = serde_json::Map::new();
    for e in list.as_array().unwrap() {
        let value = if e["type"].as_u64() == Some(4) {
            index_meta_to_json(&e["value"])
        } else {
            e["value"].clone()
        };
        map.insert(e["name"].as_str().unwrap().to_string(), value);
    }
    Value::Object(map)
}

/// What the element should give for one intact chunk.
struct Expected {
    pad: String,
    sha1: String,
    pts_ns: u64,
    key: Option<bool>,
    unix_ns: Option<u64>,
    meta: Option<Value>,
}

fn expected_for(bytes: &[u8], index: &Value) -> Vec<Expected> {
    expected_without(bytes, index, &[])
}

/// [`expected_for`] with the chunks of these indexes damaged as well.
fn expected_without(bytes: &[u8], index: &Value, also_damaged: &[u64]) -> Vec<Expected> {
    let chunks = index["chunks"].as_array().unwrap();
    let damaged = index["damage"]["in_chunk"].as_u64();
    let is_damaged = |c: &Value| {
        c["index"]
            .as_u64()
            .is_some_and(|i| Some(i) == damaged || also_damaged.contains(&i))
    };
    let base = chunks
        .iter()
        .filter(|c| !is_damaged(c))
        .filter_map(|c| c["timestamp"].as_u64())
        .min()
        .unwrap();
    let mut out = Vec::new();
    let mut last_pts = 0;
    let mut last_unix = None;
    for c in chunks {
        if is_damaged(c) {
            continue;
        }
        match c["kind"].as_str().unwrap() {
            "video" => {
                let ts = c["timestamp"].as_u64().unwrap();
                let meta = index_meta_to_json(&c["metadata"]);
                let unix = meta["ts"].as_u64().map(|ms| ms * 1_000_000);
                last_pts = (ts - base) * 1000;
                last_unix = unix;
                out.push(Expected {
                    pad: format!("video_{}", c["camera"]),
                    sha1: c["media_sha1"].as_str().unwrap().into(),
                    pts_ns: last_pts,
                    key: c["key"].as_bool(),
                    unix_ns: unix,
                    meta: Some(meta),
                });
            }
            "audio" => {
                let ts = c["timestamp"].as_u64().unwrap();
                let digit = &c["id"].as_str().unwrap()[..1];
                last_pts = (ts - base) * 1000;
                last_unix = Some(ts * 1000);
                out.push(Expected {
                    pad: format!("audio_{digit}"),
                    sha1: c["media_sha1"].as_str().unwrap().into(),
                    pts_ns: last_pts,
                    key: None,
                    unix_ns: last_unix,
                    meta: None,
                });
            }
            "image" => {
                let at = c["offset"].as_u64().unwrap() as usize;
                let len = c["jpeg_length"].as_u64().unwrap() as usize;
                out.push(Expected {
                    pad: "image_0".into(),
                    sha1: sha1_hex(&bytes[at..at + len]),
                    pts_ns: last_pts,
                    key: None,
                    unix_ns: last_unix,
                    meta: None,
                });
            }
            _ => {}
        }
    }
    out
}

fn check_run_against(name: &str, mode: &str, run: &Run, expected: &[Expected], damaged: bool) {
    assert!(run.errors.is_empty(), "{name} {mode}: {:?}", run.errors);
    assert_eq!(
        run.warnings.len(),
        usize::from(damaged),
        "{name} {mode}: {:?}",
        run.warnings
    );
    let mut per_pad: BTreeMap<&str, Vec<&Expected>> = BTreeMap::new();
    for e in expected {
        per_pad.entry(&e.pad).or_default().push(e);
    }
    let mut want_pads: Vec<String> = per_pad.keys().map(|s| s.to_string()).collect();
    for pad in per_pad.keys() {
        if let Some(n) = pad.strip_prefix("video_") {
            want_pads.push(format!("meta_{n}"));
        }
    }
    want_pads.sort();
    assert_eq!(
        run.pads.keys().cloned().collect::<Vec<_>>(),
        want_pads,
        "{name} {mode}"
    );
    for (pad, want) in &per_pad {
        let got = &run.pads[*pad];
        assert_eq!(got.len(), want.len(), "{name} {mode} {pad}");
        for (i, (o, e)) in got.iter().zip(want).enumerate() {
            let what = format!("{name} {mode} {pad} #{i}");
            assert_eq!(sha1_hex(&o.data), e.sha1, "{what}: payload");
            assert_eq!(o.pts.map(|t| t.nseconds()), Some(e.pts_ns), "{what}: pts");
            assert_eq!(o.dts, o.pts, "{what}: dts");
            assert_eq!(o.unix_ns, e.unix_ns, "{what}: unix time");
            if let Some(key) = e.key {
                assert_eq!(!o.is_delta(), key, "{what}: key");
            }
            if pad.starts_with("audio_") {
                assert!(o.duration.is_some(), "{what}: duration");
            }
        }
        if let Some(n) = pad.strip_prefix("video_") {
            let metas = &run.pads[&format!("meta_{n}")];
            assert_eq!(metas.len(), want.len(), "{name} {mode} meta_{n}");
            for (m, e) in metas.iter().zip(want) {
                let v: Value = serde_json::from_slice(&m.data).unwrap();
                assert_eq!(Some(&v), e.meta.as_ref(), "{name} {mode} meta_{n}");
                assert_eq!(m.pts.map(|t| t.nseconds()), Some(e.pts_ns));
            }
        }
    }
    let caps = |pad: &str| run.caps[pad].structure(0).unwrap().to_owned();
    for pad in run.pads.keys() {
        let s = caps(pad);
        if pad.starts_with("video_") {
            assert_eq!(s.name(), "video/x-h264");
            assert_eq!(s.get::<&str>("stream-format").unwrap(), "byte-stream");
            assert_eq!(s.get::<&str>("alignment").unwrap(), "au");
        } else if pad.starts_with("audio_") {
            assert!(["audio/x-mulaw", "audio/x-opus"].contains(&s.name().as_str()));
        } else if pad.starts_with("image_") {
            assert_eq!(s.name(), "image/jpeg");
        } else {
            assert_eq!(s.name(), "application/x-json");
        }
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn samples_every_intact_chunk_bit_exact_on_one_clock_pull_and_push() {
    let dir = shared_samples("says");
    for name in SAMPLES {
        let path = dir.join(format!("{name}.nvr"));
        let bytes = std::fs::read(&path).unwrap();
        let index: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.index.json"))).unwrap(),
        )
        .unwrap();
        let expected = expected_for(&bytes, &index);
        let damaged = !index["damage"].is_null()
            || index["chunks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["kind"] == "garbage");
        let pull = demux_file("saysdemux telemetry=true", &path, Q);
        check_run_against(name, "pull", &pull, &expected, damaged);
        let push = demux_bytes_push("saysdemux telemetry=true", &bytes, Q);
        check_run_against(name, "push", &push, &expected, damaged);
        if name == "opus" {
            let s = pull.caps["audio_1"].structure(0).unwrap().to_owned();
            assert_eq!(s.get::<i32>("rate").unwrap(), 48000);
            assert_eq!(s.get::<i32>("channels").unwrap(), 1);
            assert_eq!(s.get::<i32>("channel-mapping-family").unwrap(), 0);
            // 20 ms packets: the TOC gives the duration.
            assert_eq!(
                pull.pads["audio_1"][0].duration,
                Some(gst::ClockTime::from_mseconds(20))
            );
        }
        if name == "basic" {
            let s = pull.caps["audio_0"].structure(0).unwrap().to_owned();
            assert_eq!(s.name(), "audio/x-mulaw");
            assert_eq!(s.get::<i32>("rate").unwrap(), 8000);
            // 8000 bytes of mu-law per second.
            let first_audio = index["chunks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["kind"] == "audio")
                .unwrap();
            let samples = first_audio["channel_length"].as_u64().unwrap();
            assert_eq!(
                pull.pads["audio_0"][0].duration,
                Some(gst::ClockTime::from_nseconds(samples * 125_000))
            );
            let v = pull.caps["video_0"].structure(0).unwrap().to_owned();
            assert_eq!(v.get::<i32>("width").unwrap(), 640);
            assert_eq!(v.get::<i32>("height").unwrap(), 360);
            let tags = &pull.tags["video_0"];
            let model = tags
                .iter()
                .find_map(|t| t.get::<gst::tags::DeviceModel>())
                .unwrap();
            assert_eq!(model.get(), "DV440");
            assert!(
                tags.iter()
                    .any(|t| t.get::<gst::tags::DateTime>().is_some())
            );
        }
    }
}

// ---- generated files ------------------------------------------------------

const W: u32 = 64;
const H: u32 = 48;
const BASE_US: u64 = 1_700_000_000_000_000;

struct Gen {
    header_meta: Vec<MetaEntry>,
    cameras: u8,
    frames: u32,
    frame_us: u64,
    gop: u32,
    audio: Option<(AudioCodec, bool)>,
    jpeg_after_frame: Option<u32>,
    telemetry: bool,
    base_us: u64,
    /// Hostile values written into chunks (by write order).
    hostile: Vec<(usize, Hostile)>,
}

/// A value a damaged or hostile recorder may write.
#[derive(Debug, Clone, Copy)]
enum Hostile {
    /// The chunk timestamp (µs) written instead of the real one; a chunk
    /// whose time is not representable is damage.
    ChunkTime(u64),
    /// The per-frame `ts` (ms) written instead of the real one.
    MetaTs(i64),
}

impl Default for Gen {
    fn default() -> Self {
        Self {
            header_meta: vec![MetaEntry::new(
                "appVersion",
                MetaValue::Str("v1.6.5".into()),
            )],
            cameras: 1,
            frames: 20,
            frame_us: 100_000,
            gop: 10,
            audio: Some((AudioCodec::Mulaw, false)),
            jpeg_after_frame: None,
            telemetry: true,
            base_us: BASE_US,
            hostile: Vec::new(),
        }
    }
}

fn opus_packet(i: u32, stereo: bool) -> Vec<u8> {
    // CELT-only fullband 20 ms (config 31), one frame.
    let toc = (31 << 3) | if stereo { 4 } else { 0 };
    let mut p = vec![toc];
    p.extend((0..30u32).map(|k| (k * 7 + i) as u8));
    p
}

/// One chunk written by [`generate`], for expectations.
#[derive(Debug, Clone)]
struct GenChunk {
    pad: String,
    payload: Vec<u8>,
    ts_us: Option<u64>,
    key: bool,
    telemetry: Option<Value>,
    /// Byte span of the chunk in the file.
    offset: u64,
    len: u64,
    /// Written with a hostile time: damage, not output.
    damaged: bool,
}

fn telemetry_for(frame: u32, ts_us: u64) -> Vec<MetaEntry> {
    Telemetry {
        ts_us,
        speed: 36.0 + f64::from(frame),
        voltage: None,
        gps: Some(Gps {
            lat: 40.5 + f64::from(frame) * 1e-4,
            lon: -73.25,
            alt: Some(30.5),
        }),
        gsensor: None,
        frame: Some(frame as i32),
    }
    .entries()
}

fn generate(g: &Gen) -> (Vec<u8>, Vec<GenChunk>) {
    let header = HeaderSpec {
        file_name: "20231114_221320_221330.nvr".into(),
        metadata: g.header_meta.clone(),
        ..Default::default()
    };
    let mut w = SaysWriter::new(Vec::new(), &header).unwrap();
    let mut pictures = PictureChunks::new(W as u16, H as u16).unwrap();
    let mut chunks: Vec<GenChunk> = Vec::new();
    let hostile = |i: usize| g.hostile.iter().find(|(k, _)| *k == i).map(|(_, h)| *h);
    let chunk_time = |i: usize, ts: u64| match hostile(i) {
        Some(Hostile::ChunkTime(t)) => (t, true),
        _ => (ts, false),
    };
    let audio_every = 5;
    for f in 0..g.frames {
        let t = g.base_us + u64::from(f) * g.frame_us;
        if let Some((codec, doubled)) = g.audio
            && f % audio_every == 0
        {
            // Audio a little before the frame (it starts the file).
            let ts = t.saturating_sub(20_000);
            let payload: Vec<u8> = match codec {
                // Continuous audio: one chunk covers the next `audio_every` frames.
                AudioCodec::Mulaw => (0..(g.frame_us * u64::from(audio_every) / 125) as u32)
                    .map(|k| (k * 13 + f) as u8)
                    .collect(),
                AudioCodec::Opus => opus_packet(f, false),
            };
            let offset = w.position();
            let (written_ts, damaged) = chunk_time(chunks.len(), ts);
            w.write_audio(0, codec, written_ts, &payload, doubled)
                .unwrap();
            chunks.push(GenChunk {
                pad: "audio_0".into(),
                payload,
                ts_us: Some(ts),
                key: false,
                telemetry: None,
                offset,
                len: w.position() - offset,
                damaged,
            });
        }
        for cam in 0..g.cameras {
            let ts = t + u64::from(cam) * 3_000;
            let key = f % g.gop == 0;
            let meta_ts = match hostile(chunks.len()) {
                Some(Hostile::MetaTs(ms)) => ms,
                _ => (ts / 1000) as i64,
            };
            let mut meta = if g.telemetry {
                telemetry_for(f, ts)
            } else {
                Vec::new()
            };
            if let Some(e) = meta.iter_mut().find(|e| e.name == "ts") {
                e.value = MetaValue::I64(meta_ts);
            }
            let offset = w.position();
            let (written_ts, damaged) = chunk_time(chunks.len(), ts);
            let media = pictures
                .write(
                    &mut w,
                    cam,
                    key,
                    written_ts,
                    &meta,
                    f + u32::from(cam) * 1000,
                )
                .unwrap();
            chunks.push(GenChunk {
                pad: format!("video_{cam}"),
                payload: media,
                ts_us: Some(ts),
                key,
                telemetry: g.telemetry.then(|| {
                    json!({"ts": meta_ts, "speed": 36.0 + f64::from(f),
                        "gps": {"valid": 1, "lat": 40.5 + f64::from(f) * 1e-4, "lon": -73.25, "alt": 30.5},
                        "frame": f})
                }),
                offset,
                len: w.position() - offset,
                damaged,
            });
        }
        if g.jpeg_after_frame == Some(f) {
            let j = test_jpeg(37, f as u8 + 3);
            let offset = w.position();
            w.write_jpeg(&j).unwrap();
            chunks.push(GenChunk {
                pad: "image_0".into(),
                payload: j,
                ts_us: None,
                key: false,
                telemetry: None,
                offset,
                len: w.position() - offset,
                damaged: false,
            });
        }
    }
    (w.into_inner(), chunks)
}

/// A file in its own temporary directory, removed when dropped. Derefs to
/// its path.
struct TempInput {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl std::ops::Deref for TempInput {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

fn temp_file(name: &str, bytes: &[u8]) -> TempInput {
    let dir = tempfile::Builder::new()
        .prefix("saysdemux-test-")
        .tempdir()
        .unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    TempInput { _dir: dir, path }
}

/// Checks a run against the generated chunks: per pad, bit-exact, in order,
/// running time = chunk time − smallest chunk time, snapshots at the time
/// of the chunk before them.
fn check_generated(what: &str, run: &Run, chunks: &[GenChunk]) {
    assert!(run.errors.is_empty(), "{what}: {:?}", run.errors);
    let chunks: Vec<&GenChunk> = chunks.iter().filter(|c| !c.damaged).collect();
    let base = chunks.iter().filter_map(|c| c.ts_us).min().unwrap();
    let mut per_pad: BTreeMap<String, Vec<(&GenChunk, u64)>> = BTreeMap::new();
    let mut last = 0;
    for c in chunks {
        let pts = c.ts_us.map_or(last, |ts| (ts - base) * 1000);
        last = pts;
        per_pad.entry(c.pad.clone()).or_default().push((c, pts));
    }
    for (pad, want) in &per_pad {
        let got = run
            .pads
            .get(pad)
            .unwrap_or_else(|| panic!("{what}: no {pad}"));
        assert_eq!(got.len(), want.len(), "{what} {pad}");
        for (i, (o, (c, pts))) in got.iter().zip(want).enumerate() {
            assert!(o.data == c.payload, "{what} {pad} #{i}: payload");
            assert_eq!(
                o.pts,
                Some(gst::ClockTime::from_nseconds(*pts)),
                "{what} {pad} #{i}"
            );
            if let Some(n) = pad.strip_prefix("video_") {
                assert_eq!(!o.is_delta(), c.key, "{what} {pad} #{i}: key");
                if let Some(t) = &c.telemetry {
                    let m = &run.pads[&format!("meta_{n}")][i];
                    let v: Value = serde_json::from_slice(&m.data).unwrap();
                    assert_eq!(&v, t, "{what} meta_{n} #{i}");
                    assert_eq!(m.pts, o.pts);
                    // `ts` (ms) when it is a representable time, else the chunk time.
                    let unix = t["ts"]
                        .as_u64()
                        .and_then(|ms| ms.checked_mul(1_000_000))
                        .unwrap_or(c.ts_us.unwrap() * 1000);
                    assert_eq!(o.unix_ns, Some(unix), "{what} {pad} #{i}: unix time");
                }
            }
        }
    }
}

#[test]
fn two_cameras_mulaw_single_and_doubled_pull_and_push() {
    for (doubled, version) in [
        (false, Some("v1.6.5")),
        (true, Some("v1.0.0")),
        (true, None),
    ] {
        let g = Gen {
            header_meta: version
                .map(|v| vec![MetaEntry::new("appVersion", MetaValue::Str(v.into()))])
                .unwrap_or_default(),
            cameras: 2,
            audio: Some((AudioCodec::Mulaw, doubled)),
            ..Default::default()
        };
        let (bytes, chunks) = generate(&g);
        let path = temp_file(&format!("two-{doubled}-{version:?}.nvr"), &bytes);
        let what = format!("doubled={doubled} version={version:?}");
        for run in [
            demux_file("saysdemux telemetry=true", &path, Q),
            demux_bytes_push("saysdemux telemetry=true", &bytes, Q),
        ] {
            assert_eq!(
                run.pads.keys().cloned().collect::<Vec<_>>(),
                ["audio_0", "meta_0", "meta_1", "video_0", "video_1"],
                "{what}"
            );
            assert!(run.warnings.is_empty(), "{what}: {:?}", run.warnings);
            check_generated(&what, &run, &chunks);
            // 4000 bytes of mu-law: 500 ms.
            assert_eq!(
                run.pads["audio_0"][0].duration,
                Some(gst::ClockTime::from_mseconds(500))
            );
            assert_eq!(
                run.pads["audio_0"][0].unix_ns,
                Some((BASE_US - 20_000) * 1000)
            );
        }
    }
}

#[test]
fn opus_caps_and_durations() {
    let g = Gen {
        audio: Some((AudioCodec::Opus, false)),
        ..Default::default()
    };
    let (bytes, chunks) = generate(&g);
    let run = demux_bytes_push("saysdemux telemetry=true", &bytes, Q);
    check_generated("opus", &run, &chunks);
    let s = run.caps["audio_0"].structure(0).unwrap().to_owned();
    assert_eq!(s.name(), "audio/x-opus");
    assert_eq!(s.get::<i32>("rate").unwrap(), 48000);
    assert_eq!(s.get::<i32>("channels").unwrap(), 1);
    assert_eq!(s.get::<i32>("channel-mapping-family").unwrap(), 0);
    assert!(
        run.pads["audio_0"]
            .iter()
            .all(|o| o.duration == Some(gst::ClockTime::from_mseconds(20)))
    );
}

#[test]
fn jpeg_snapshot_is_exact_and_timed_by_the_chunk_before() {
    let g = Gen {
        cameras: 2,
        jpeg_after_frame: Some(7),
        ..Default::default()
    };
    let (bytes, chunks) = generate(&g);
    let path = temp_file("jpeg.nvr", &bytes);
    for run in [
        demux_file("saysdemux telemetry=true", &path, Q),
        demux_bytes_push("saysdemux telemetry=true", &bytes, Q),
    ] {
        check_generated("jpeg", &run, &chunks);
        assert_eq!(run.pads["image_0"].len(), 1);
        assert_eq!(
            run.caps["image_0"].structure(0).unwrap().name(),
            "image/jpeg"
        );
    }
}

#[test]
fn telemetry_json_and_header_tags() {
    init();
    let g = Gen {
        header_meta: vec![
            MetaEntry::new("appVersion", MetaValue::Str("v1.8.0".into())),
            MetaEntry::new("model", MetaValue::Str("DV440".into())),
            MetaEntry::new("startTime", MetaValue::I64((BASE_US / 1000) as i64)),
            MetaEntry::new("timeZone", MetaValue::I32Alt(-240)),
            camera_entry(0, "Road", W as i32, H as i32, 10),
        ],
        ..Default::default()
    };
    let (bytes, chunks) = generate(&g);
    let path = temp_file("telemetry.nvr", &bytes);
    let run = demux_file("saysdemux telemetry=true", &path, Q);
    check_generated("telemetry", &run, &chunks);
    let meta0: Value = serde_json::from_slice(&run.pads["meta_0"][3].data).unwrap();
    assert_eq!(meta0["gps"]["lat"], json!(40.5003));
    assert_eq!(meta0["frame"], json!(3));
    let v = run.caps["video_0"].structure(0).unwrap().to_owned();
    assert_eq!(v.get::<i32>("width").unwrap(), W as i32);
    assert_eq!(
        v.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(10, 1)
    );
    let title = run.tags["video_0"]
        .iter()
        .find_map(|t| t.get::<gst::tags::Title>())
        .unwrap();
    assert_eq!(title.get(), "Road");

    // The global tag message carries the header JSON and the first fix.
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! saysdemux ! fakesink",
        path.display()
    ))
    .unwrap();
    // Unlinked pads are fine: the tags are posted before any push.
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut header_json = None;
    let mut lat = None;
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(10)) {
        match msg.view() {
            gst::MessageView::Tag(t) => {
                let tags = t.tags();
                for c in tags.iter_tag::<gst::tags::ExtendedComment>() {
                    if let Some(j) = c.get().strip_prefix("says-header=") {
                        header_json = Some(serde_json::from_str::<Value>(j).unwrap());
                    }
                }
                if let Some(l) = tags.get::<gst::tags::GeoLocationLatitude>() {
                    lat = Some(l.get());
                }
            }
            gst::MessageView::Eos(_) | gst::MessageView::Error(_) => break,
            _ => {}
        }
        if header_json.is_some() {
            break;
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let header_json = header_json.expect("says-header extended comment");
    assert_eq!(header_json["fileName"], json!("20231114_221320_221330.nvr"));
    assert_eq!(header_json["camera0"]["name"], json!("Road"));
    assert_eq!(header_json["timeZone"], json!(-240));
    assert_eq!(lat, Some(40.5));
}

/// Telemetry JSON is made only for a `meta_N` pad someone linked: with
/// two cameras and only `meta_0` linked, `meta_1` is given no buffer once
/// its pad exists (it was given one per frame, formatted and refused as
/// not linked). What discovery read before the pads existed (at most
/// 2048 units) was made up front.
#[test]
fn telemetry_json_goes_only_to_linked_meta_pads() {
    init();
    const FRAMES: usize = 1500;
    let g = Gen {
        cameras: 2,
        frames: FRAMES as u32,
        ..Default::default()
    };
    let (bytes, _) = generate(&g);
    let path = temp_file("two_meta.nvr", &bytes);
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! saysdemux name=d telemetry=true \
         d.video_0 ! fakesink sync=false async=false d.meta_0 ! fakesink sync=false async=false",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let demux = pipeline.by_name("d").unwrap();
    let counts: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>> =
        Default::default();
    let c = counts.clone();
    demux.connect_pad_added(move |_, pad| {
        let name = pad.name().to_string();
        if !name.starts_with("meta_") {
            return;
        }
        c.lock().unwrap().insert(name.clone(), 0);
        let c = c.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            *c.lock().unwrap().get_mut(&name).unwrap() += 1;
            gst::PadProbeReturn::Ok
        });
    });
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(20)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("{}", e.error()),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let counts = counts.lock().unwrap().clone();
    assert_eq!(counts["meta_0"], FRAMES, "{counts:?}");
    assert!(counts["meta_1"] <= 2048 / 2, "{counts:?}");
}

fn tail_variant(what: &str, bytes: &[u8], chunks: &[GenChunk], warnings: usize) {
    let path = temp_file(&format!("{what}.nvr"), bytes);
    for (mode, run) in [
        ("pull", demux_file("saysdemux telemetry=true", &path, Q)),
        (
            "push",
            demux_bytes_push("saysdemux telemetry=true", bytes, Q),
        ),
    ] {
        let what = format!("{what} {mode}");
        check_generated(&what, &run, chunks);
        assert_eq!(run.warnings.len(), warnings, "{what}: {:?}", run.warnings);
    }
}

#[test]
fn damage_truncation_garbage_zero_tail_stray_bytes() {
    let g = Gen {
        cameras: 2,
        ..Default::default()
    };
    let (bytes, chunks) = generate(&g);
    // Truncated inside the last chunk (a video chunk).
    let last = chunks.last().unwrap();
    let mut cut = bytes.clone();
    cut.truncate(bytes.len() - last.payload.len().next_multiple_of(8) / 2 - 4);
    tail_variant("truncated", &cut, &chunks[..chunks.len() - 1], 1);
    // Zero padding at the end: not damage.
    let mut zeros = bytes.clone();
    zeros.extend(std::iter::repeat_n(0u8, 70_000));
    tail_variant("zero-tail", &zeros, &chunks, 0);
    // 1-3 stray bytes at the end: every chunk kept, one warning.
    let mut stray = bytes.clone();
    stray.extend_from_slice(&[0x31, 0x7f, 0x02]);
    tail_variant("stray", &stray, &chunks, 1);
    // Garbage between chunks: regenerate with garbage after some chunks.
    let header = HeaderSpec::recorder("g.nvr", "v1.6.5", []);
    let mut w = SaysWriter::new(Vec::new(), &header).unwrap();
    let mut gchunks = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        if c.pad.starts_with("video_") {
            let cam = c.pad[6..].parse::<u8>().unwrap();
            let meta = telemetry_for(0, c.ts_us.unwrap());
            w.write_video(cam, c.key, c.ts_us.unwrap(), &meta, &c.payload)
                .unwrap();
            let mut c = c.clone();
            c.telemetry = None;
            gchunks.push(c);
        } else {
            w.write_audio(0, AudioCodec::Mulaw, c.ts_us.unwrap(), &c.payload, false)
                .unwrap();
            gchunks.push(c.clone());
        }
        if i == 10 || i == 30 {
            let junk: Vec<u8> = (0..333u32).map(|k| (k * 97 + 5) as u8).collect();
            w.write_raw(&junk).unwrap();
        }
    }
    tail_variant("garbage", &w.into_inner(), &gchunks, 1);
}

#[test]
fn not_says_is_a_clear_error() {
    let mut junk = vec![0x42u8; 200_000];
    junk[..4].copy_from_slice(b"RIFF");
    let path = temp_file("junk.nvr", &junk);
    for run in [
        demux_file("saysdemux telemetry=true", &path, Q),
        demux_bytes_push("saysdemux telemetry=true", &junk, Q),
    ] {
        assert!(run.pads.is_empty());
        assert_eq!(run.errors.len(), 1, "{:?}", run.errors);
        assert!(
            run.errors[0].contains("Not a Rosco SAYS"),
            "{:?}",
            run.errors
        );
    }
    // A valid header with no chunk at all.
    let (bytes, _) = generate(&Gen::default());
    let header_only = &bytes[..65536];
    let run = demux_bytes_push("saysdemux telemetry=true", header_only, Q);
    assert_eq!(run.errors.len(), 1, "{:?}", run.errors);
}

#[test]
fn typefinding_picks_saysdemux() {
    init();
    let (bytes, _) = generate(&Gen::default());
    let caps = gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, &bytes[..4096])
        .unwrap()
        .0;
    assert_eq!(caps.structure(0).unwrap().name(), "application/x-says");
    // The typefind element finds the caps saysdemux accepts.
    let path = temp_file("typefind.nvr", &bytes);
    let run = run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! typefind ! saysdemux telemetry=true name=demux",
            path.display()
        ),
        Q,
        None,
        None,
    );
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let mut junk = bytes.clone();
    junk[..4].copy_from_slice(b"SAYX");
    let r = gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, &junk[..4096]);
    assert!(
        r.map(|(c, _)| c.structure(0).unwrap().name() != "application/x-says")
            .unwrap_or(true)
    );
}

#[test]
fn key_unit_seek_lands_on_a_video_key_chunk() {
    // Long enough that discovery and the index do not cover the target:
    // the core bisects.
    let g = Gen {
        frames: 3000,
        frame_us: 40_000,
        gop: 25,
        ..Default::default()
    };
    let (bytes, chunks) = generate(&g);
    let path = temp_file("seek.nvr", &bytes);
    let base = chunks.iter().filter_map(|c| c.ts_us).min().unwrap();
    let target = gst::ClockTime::from_mseconds(90_500);
    let seek = |p: &gst::Pipeline| {
        p.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, target)
            .unwrap();
    };
    let run = run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! saysdemux telemetry=true name=demux",
            path.display()
        ),
        "queue",
        None,
        Some(&seek),
    );
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let video = &run.pads["video_0"];
    let first = &video[0];
    assert!(!first.is_delta());
    assert!(first.flags.contains(gst::BufferFlags::DISCONT));
    // Key frames are every 25 frames of 40 ms: 1 s apart; the last before
    // 90.5 s after the base (the audio starts 20 ms earlier).
    let key = chunks
        .iter()
        .filter(|c| c.pad == "video_0" && c.key)
        .map(|c| (c.ts_us.unwrap() - base) * 1000)
        .filter(|&t| t <= target.nseconds())
        .max()
        .unwrap();
    assert_eq!(first.pts.unwrap().nseconds(), key);
    let want: Vec<&GenChunk> = chunks
        .iter()
        .filter(|c| c.pad == "video_0" && (c.ts_us.unwrap() - base) * 1000 >= key)
        .collect();
    assert_eq!(video.len(), want.len());
    for (o, c) in video.iter().zip(want) {
        assert!(o.data == c.payload);
        assert_eq!(o.pts.unwrap().nseconds(), (c.ts_us.unwrap() - base) * 1000);
    }
    let seg = run.segments["video_0"].last().unwrap().clone();
    let seg = seg.downcast::<gst::ClockTime>().unwrap();
    assert_eq!(seg.start().unwrap().nseconds(), key);
}

// ---- pipelines -------------------------------------------------------------

fn run_to_eos(description: &str) {
    init();
    let pipeline = gst::parse::launch(description).unwrap();
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                pipeline.set_state(gst::State::Null).unwrap();
                panic!("{description}: {} {:?}", e.error(), e.debug());
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
}

fn pipeline_input() -> (TempInput, Vec<GenChunk>) {
    // With the frame rate in the header, h264parse gives the last frame a
    // duration and mp4mux keeps it.
    let camera = |name: &str| {
        MetaEntry::new(
            name,
            MetaValue::Nested(vec![
                MetaEntry::new("width", MetaValue::I32(W as i32)),
                MetaEntry::new("height", MetaValue::I32(H as i32)),
                MetaEntry::new("fps", MetaValue::I8(10)),
            ]),
        )
    };
    let g = Gen {
        header_meta: vec![
            MetaEntry::new("appVersion", MetaValue::Str("v1.6.5".into())),
            camera("camera0"),
            camera("camera1"),
        ],
        cameras: 2,
        frames: 50,
        ..Default::default()
    };
    let (bytes, chunks) = generate(&g);
    (temp_file("pipeline.nvr", &bytes), chunks)
}

#[test]
fn pipeline_to_mp4_with_aac() {
    init();
    assert!(
        gst::ElementFactory::find("avenc_aac").is_some(),
        "avenc_aac missing (scripts/setup.sh installs gstreamer1.0-libav)"
    );
    let (input, chunks) = pipeline_input();
    let out = input.with_file_name("out.mp4");
    run_to_eos(&format!(
        "filesrc location=\"{}\" ! saysdemux telemetry=true name=d \
         d.video_0 ! queue ! h264parse ! mp4mux name=m ! filesink location=\"{}\" \
         d.audio_0 ! queue ! mulawdec ! audioconvert ! audioresample ! avenc_aac ! aacparse ! m.audio_%u",
        input.display(),
        out.display()
    ));
    let run = run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! qtdemux name=demux",
            out.display()
        ),
        Q,
        None,
        None,
    );
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let video = run
        .pads
        .iter()
        .find(|(k, _)| k.starts_with("video"))
        .unwrap()
        .1;
    let n_video = chunks.iter().filter(|c| c.pad == "video_0").count();
    assert_eq!(video.len(), n_video);
    let audio_caps = run
        .caps
        .iter()
        .find(|(k, _)| k.starts_with("audio"))
        .unwrap()
        .1;
    assert_eq!(audio_caps.structure(0).unwrap().name(), "audio/mpeg");
    assert!(
        !run.pads
            .iter()
            .find(|(k, _)| k.starts_with("audio"))
            .unwrap()
            .1
            .is_empty()
    );
    // gst-discoverer sees both streams.
    if let Ok(o) = std::process::Command::new("gst-discoverer-1.0")
        .arg(&out)
        .output()
    {
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("H.264"), "{text}");
        assert!(text.contains("AAC"), "{text}");
    }
}

#[test]
fn pipeline_to_matroska_keeping_mulaw() {
    let (input, chunks) = pipeline_input();
    let out = input.with_file_name("out.mkv");
    run_to_eos(&format!(
        "filesrc location=\"{}\" ! saysdemux telemetry=true name=d \
         d.video_0 ! queue ! h264parse ! matroskamux name=m ! filesink location=\"{}\" \
         d.audio_0 ! queue ! m.audio_%u",
        input.display(),
        out.display()
    ));
    let run = run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! matroskademux name=demux",
            out.display()
        ),
        Q,
        None,
        None,
    );
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let (apad, audio) = run
        .pads
        .iter()
        .find(|(k, _)| k.starts_with("audio"))
        .unwrap();
    assert_eq!(run.caps[apad].structure(0).unwrap().name(), "audio/x-mulaw");
    let want: Vec<u8> = chunks
        .iter()
        .filter(|c| c.pad == "audio_0")
        .flat_map(|c| c.payload.clone())
        .collect();
    let got: Vec<u8> = audio.iter().flat_map(|o| o.data.clone()).collect();
    assert_eq!(got, want, "mu-law bytes survive Matroska");
    let video = run
        .pads
        .iter()
        .find(|(k, _)| k.starts_with("video"))
        .unwrap()
        .1;
    assert_eq!(
        video.len(),
        chunks.iter().filter(|c| c.pad == "video_0").count()
    );
}

#[test]
fn telemetry_to_gpx_and_csv_via_the_example() {
    init();
    let (input, chunks) = pipeline_input();
    let gpx = input.with_file_name("out.gpx");
    let csv = input.with_file_name("out.csv");
    let points = says_gpx::convert(&input, &gpx, Some(&csv)).unwrap();
    let n = chunks.iter().filter(|c| c.pad == "video_0").count();
    assert_eq!(points, n);
    let gpx_text = std::fs::read_to_string(&gpx).unwrap();
    assert!(gpx_text.starts_with("<?xml"));
    assert_eq!(gpx_text.matches("<trkpt ").count(), n);
    assert!(gpx_text.contains("lat=\"40.5\" lon=\"-73.25\""));
    assert!(gpx_text.contains("<time>2023-11-14T22:13:20"));
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv_text.lines().count(), n + 1);
    assert!(csv_text.lines().next().unwrap().starts_with("pts_ns,"));
}

// ---- hostile values ---------------------------------------------------------

/// The one damage WARNING of a run: (regions, bytes, first offset).
fn damage_warning(what: &str, run: &Run) -> (u64, u64, Option<u64>) {
    assert_eq!(run.warnings.len(), 1, "{what}: {:?}", run.warnings);
    let w = &run.warnings[0];
    let number_before = |tail: &str| -> u64 {
        let end = w.find(tail).unwrap_or_else(|| panic!("{what}: {w}"));
        let digits: String = w[..end]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.chars().rev().collect::<String>().parse().unwrap()
    };
    let first = w.find("(first at byte ").map(|at| {
        w[at + 15..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .unwrap()
    });
    (
        number_before(" damaged region(s)"),
        number_before(" bytes in total"),
        first,
    )
}

/// Pull and push over a generated file whose damaged chunks are flagged:
/// every other chunk exact, one WARNING counting exactly the damaged bytes.
fn check_damaged_generated(what: &str, bytes: &[u8], chunks: &[GenChunk]) {
    let damaged: Vec<&GenChunk> = chunks.iter().filter(|c| c.damaged).collect();
    assert!(!damaged.is_empty());
    let path = temp_file("damaged.nvr", bytes);
    for (mode, run) in [
        ("pull", demux_file("saysdemux telemetry=true", &path, Q)),
        (
            "push",
            demux_bytes_push("saysdemux telemetry=true", bytes, Q),
        ),
    ] {
        let what = format!("{what} {mode}");
        check_generated(&what, &run, chunks);
        let (regions, skipped, first) = damage_warning(&what, &run);
        assert_eq!(regions, damaged.len() as u64, "{what}: {:?}", run.warnings);
        assert_eq!(
            skipped,
            damaged.iter().map(|c| c.len).sum::<u64>(),
            "{what}: {:?}",
            run.warnings
        );
        assert_eq!(first, Some(damaged[0].offset), "{what}");
    }
}

#[test]
fn impossible_chunk_times_are_damage_not_panics() {
    // Chunk 0 is audio, 1 the key frame, 2..=5 delta frames, 6 audio.
    for (what, hostile) in [
        ("video at NONE", vec![(3, Hostile::ChunkTime(u64::MAX))]),
        (
            "audio just past ClockTime::MAX",
            vec![(6, Hostile::ChunkTime(u64::MAX / 1000 + 1))],
        ),
        (
            "two",
            vec![
                (2, Hostile::ChunkTime(u64::MAX - 1)),
                (13, Hostile::ChunkTime(u64::MAX / 2)),
            ],
        ),
    ] {
        let g = Gen {
            hostile,
            ..Default::default()
        };
        let (bytes, chunks) = generate(&g);
        check_damaged_generated(what, &bytes, &chunks);
    }
}

#[test]
fn telemetry_ts_out_of_range_falls_back_to_the_chunk_time() {
    for ms in [i64::MAX, i64::MIN, u64::MAX as i64 / 1_000_000 + 1] {
        let g = Gen {
            hostile: vec![(2, Hostile::MetaTs(ms)), (4, Hostile::MetaTs(ms))],
            ..Default::default()
        };
        let (bytes, chunks) = generate(&g);
        let path = temp_file("meta-ts.nvr", &bytes);
        for (mode, run) in [
            ("pull", demux_file("saysdemux telemetry=true", &path, Q)),
            (
                "push",
                demux_bytes_push("saysdemux telemetry=true", &bytes, Q),
            ),
        ] {
            let what = format!("ts={ms} {mode}");
            check_generated(&what, &run, &chunks);
            assert!(run.warnings.is_empty(), "{what}: {:?}", run.warnings);
        }
    }
}

/// Tag messages posted on the bus while demuxing `path` into fakesinks.
fn bus_tags(path: &Path) -> Vec<gst::TagList> {
    init();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! saysdemux ! fakesink",
        path.display()
    ))
    .unwrap();
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut tags = Vec::new();
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(10)) {
        match msg.view() {
            gst::MessageView::Tag(t) => tags.push(t.tags()),
            gst::MessageView::Eos(_) | gst::MessageView::Error(_) => break,
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    tags
}

#[test]
fn header_strings_with_nul_bytes_make_truncated_tags() {
    let g = Gen {
        header_meta: vec![
            MetaEntry::new("appVersion", MetaValue::Str("v1.6.5\0junk".into())),
            MetaEntry::new("model", MetaValue::Str("DV440\0\u{1}x".into())),
            MetaEntry::new("serial", MetaValue::Str("\0hidden".into())),
            MetaEntry::new("vehicle", MetaValue::Str("BUS-1042\0".into())),
            MetaEntry::new(
                "camera0",
                MetaValue::Nested(vec![MetaEntry::new(
                    "name",
                    MetaValue::Str("Road\0Cam".into()),
                )]),
            ),
        ],
        ..Default::default()
    };
    let (bytes, chunks) = generate(&g);
    let path = temp_file("nul.nvr", &bytes);
    for (mode, run) in [
        ("pull", demux_file("saysdemux telemetry=true", &path, Q)),
        (
            "push",
            demux_bytes_push("saysdemux telemetry=true", &bytes, Q),
        ),
    ] {
        check_generated(mode, &run, &chunks);
        assert!(run.warnings.is_empty(), "{mode}: {:?}", run.warnings);
        let tags = &run.tags["video_0"];
        let get = |f: &dyn Fn(&gst::TagList) -> Option<String>| tags.iter().find_map(f);
        assert_eq!(
            get(&|t| t
                .get::<gst::tags::DeviceModel>()
                .map(|v| v.get().to_string())),
            Some("DV440".into()),
            "{mode}"
        );
        assert_eq!(
            get(&|t| t.get::<gst::tags::Title>().map(|v| v.get().to_string())),
            Some("Road".into()),
            "{mode}"
        );
        assert_eq!(
            get(&|t| t.get::<gst::tags::Encoder>().map(|v| v.get().to_string())),
            Some("Rosco firmware v1.6.5".into()),
            "{mode}"
        );
    }
    let tags = bus_tags(&path);
    let comment = tags
        .iter()
        .find_map(|t| t.get::<gst::tags::Comment>().map(|c| c.get().to_string()))
        .expect("global comment");
    // The serial is empty before its NUL: left out.
    assert_eq!(
        comment,
        "Rosco SAYS recording 20231114_221320_221330.nvr, vehicle BUS-1042"
    );
    let header_json = tags
        .iter()
        .flat_map(|t| {
            t.iter_tag::<gst::tags::ExtendedComment>()
                .map(|c| c.get().to_string())
                .collect::<Vec<_>>()
        })
        .find_map(|c| c.strip_prefix("says-header=").map(str::to_string))
        .expect("header JSON");
    // The JSON keeps the raw strings (NUL escaped).
    let v: Value = serde_json::from_str(&header_json).unwrap();
    assert_eq!(v["model"], json!("DV440\0\u{1}x"));
}

/// Replaces the header metadata of a generated file with raw entry bytes.
fn set_header_metadata(bytes: &mut [u8], meta: &[u8]) {
    bytes[164..168].copy_from_slice(&(meta.len() as u32).to_le_bytes());
    bytes[168..65536].fill(0);
    bytes[168..168 + meta.len()].copy_from_slice(meta);
}

#[test]
fn header_entries_of_unknown_type_keep_the_entries_after_them() {
    use gstcctv::formats::says::writer::encode_metadata;
    let camera0 = MetaEntry::new(
        "camera0",
        MetaValue::Nested(vec![
            MetaEntry::new("name", MetaValue::Str("Road".into())),
            MetaEntry::new("width", MetaValue::I32(W as i32)),
            MetaEntry::new("height", MetaValue::I32(H as i32)),
        ]),
    );
    let g = Gen::default();
    let (mut bytes, chunks) = generate(&g);
    let mut meta = encode_metadata(&[
        MetaEntry::new("appVersion", MetaValue::Str("v1.6.5".into())),
        MetaEntry::new("model", MetaValue::Str("DV440".into())),
        MetaEntry::new("startTime", MetaValue::I64((BASE_US / 1000) as i64)),
    ]);
    // An entry of a type nobody documented (8-byte value), then the time
    // zone with the public description's type number 10.
    meta.extend_from_slice(&[0x0b]);
    meta.extend_from_slice(b"odometer\0");
    meta.extend_from_slice(&123_456.5f64.to_le_bytes());
    meta.extend_from_slice(&[10]);
    meta.extend_from_slice(b"timeZone\0");
    meta.extend_from_slice(&(-240i32).to_le_bytes());
    meta.extend(encode_metadata(std::slice::from_ref(&camera0)));
    set_header_metadata(&mut bytes, &meta);
    let path = temp_file("unknown-type.nvr", &bytes);
    for (mode, run) in [
        ("pull", demux_file("saysdemux telemetry=true", &path, Q)),
        (
            "push",
            demux_bytes_push("saysdemux telemetry=true", &bytes, Q),
        ),
    ] {
        check_generated(mode, &run, &chunks);
        assert!(run.warnings.is_empty(), "{mode}: {:?}", run.warnings);
        let v = run.caps["video_0"].structure(0).unwrap().to_owned();
        assert_eq!(v.get::<i32>("width").ok(), Some(W as i32), "{mode}: {v}");
        assert_eq!(v.get::<i32>("height").ok(), Some(H as i32), "{mode}: {v}");
        let tags = &run.tags["video_0"];
        let title = tags.iter().find_map(|t| t.get::<gst::tags::Title>());
        assert_eq!(title.map(|t| t.get().to_string()), Some("Road".into()));
        let dt = tags
            .iter()
            .find_map(|t| t.get::<gst::tags::DateTime>())
            .unwrap()
            .get()
            .clone();
        // 2023-11-14 22:13:20 UTC in UTC-4.
        assert_eq!(dt.time_zone_offset(), Some(-4.0), "{mode}");
        assert_eq!((dt.hour(), dt.minute()), (Some(18), Some(13)), "{mode}");
    }
    let tags = bus_tags(&path);
    let header_json: Value = tags
        .iter()
        .flat_map(|t| {
            t.iter_tag::<gst::tags::ExtendedComment>()
                .map(|c| c.get().to_string())
                .collect::<Vec<_>>()
        })
        .find_map(|c| {
            c.strip_prefix("says-header=")
                .and_then(|j| serde_json::from_str(j).ok())
        })
        .expect("header JSON");
    assert_eq!(header_json["timeZone"], json!(-240));
    assert_eq!(header_json["camera0"]["width"], json!(W));
    assert!(header_json.get("odometer").is_none());
}

// ---- lengths that lie -------------------------------------------------------

/// A shared sample, mutated in memory, demuxed in pull mode (from a
/// temporary copy) and push mode: every untouched chunk bit-exact on its
/// pad and time, the damaged ones absent, one WARNING counting exactly the
/// damaged bytes from the first damaged chunk.
fn check_mutated_sample(
    what: &str,
    name: &str,
    mutate: &dyn Fn(&mut Vec<u8>, &[Value]),
    damaged: &[u64],
    damaged_bytes: u64,
) {
    let dir = shared_samples("says");
    let mut bytes = std::fs::read(dir.join(format!("{name}.nvr"))).unwrap();
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}.index.json"))).unwrap(),
    )
    .unwrap();
    let chunks = index["chunks"].as_array().unwrap();
    // Snapshot hashes come from the untouched file (offsets per the index).
    let expected = expected_without(&bytes, &index, damaged);
    mutate(&mut bytes, chunks);
    let first = chunks[damaged[0] as usize]["offset"].as_u64();
    let path = temp_file(&format!("{name}.nvr"), &bytes);
    for (mode, run) in [
        ("pull", demux_file("saysdemux telemetry=true", &path, Q)),
        (
            "push",
            demux_bytes_push("saysdemux telemetry=true", &bytes, Q),
        ),
    ] {
        let what = format!("{what} {mode}");
        check_run_against(&what, mode, &run, &expected, true);
        let (regions, skipped, first_at) = damage_warning(&what, &run);
        assert_eq!(
            (regions, skipped, first_at),
            (damaged.len() as u64, damaged_bytes, first),
            "{what}: {:?}",
            run.warnings
        );
    }
}

/// The index entry of the first chunk of `kind` at or after chunk `from`
/// that is followed by a chunk of kind `next`.
fn pick<'a>(chunks: &'a [Value], from: usize, kind: &str, next: &str) -> &'a Value {
    chunks[from..]
        .windows(2)
        .find(|w| w[0]["kind"] == kind && w[1]["kind"] == next)
        .map(|w| &w[0])
        .unwrap()
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn sample_audio_length_pair_of_65535_is_one_damaged_chunk() {
    let dir = shared_samples("says");
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("basic.index.json")).unwrap())
            .unwrap();
    let chunks = index["chunks"].as_array().unwrap();
    for (from, next) in [(100, "video"), (150, "audio"), (3, "audio")] {
        let target = pick(chunks, from, "audio", next);
        let i = target["index"].as_u64().unwrap();
        let size = target["size"].as_u64().unwrap();
        let mutate = move |bytes: &mut Vec<u8>, chunks: &[Value]| {
            let at = chunks[i as usize]["offset"].as_u64().unwrap() as usize;
            bytes[at + 4..at + 6].copy_from_slice(&65535u16.to_le_bytes());
            // 65535 + 8 in the u16 "length + 8" field (wraps to 7).
            bytes[at + 6..at + 8].copy_from_slice(&65535u16.wrapping_add(8).to_le_bytes());
        };
        check_mutated_sample(
            &format!("basic audio #{i} 65535"),
            "basic",
            &mutate,
            &[i],
            size,
        );
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn sample_video_chunk_missing_one_media_byte_is_damage_and_the_next_chunk_is_kept() {
    let dir = shared_samples("says");
    for (name, from, next) in [
        ("basic", 10, "audio"),
        ("two_cameras", 60, "video"),
        ("two_cameras", 40, "audio"),
        ("with_jpeg", 0, "image"),
    ] {
        let index: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.index.json"))).unwrap(),
        )
        .unwrap();
        let chunks = index["chunks"].as_array().unwrap();
        let target = pick(chunks, from, "video", next);
        let i = target["index"].as_u64().unwrap();
        let size = target["size"].as_u64().unwrap();
        let mutate = move |bytes: &mut Vec<u8>, chunks: &[Value]| {
            let c = &chunks[i as usize];
            let at = c["offset"].as_u64().unwrap() as usize;
            // Media starts after the 24-byte header and the metadata.
            let meta_len = u32::from_le_bytes(bytes[at + 24..at + 28].try_into().unwrap());
            let media = at + 24 + meta_len as usize;
            let media_len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            bytes.remove(media + media_len as usize / 2);
        };
        check_mutated_sample(
            &format!("{name} video #{i} -1 byte"),
            name,
            &mutate,
            &[i],
            size - 1,
        );
    }
}

/// A damage done to one chunk of a generated file.
#[derive(Debug, Clone, Copy)]
enum Lie {
    /// Audio length pair set to 65535 / 65535 + 8.
    AudioLen65535,
    /// Video media length increased by this much.
    VideoMediaLonger(u32),
    /// The byte at this fraction (per mille) of the chunk's payload removed.
    DropPayloadByte(usize),
}

fn lie_about(bytes: &mut Vec<u8>, chunk: &mut GenChunk, lie: Lie) {
    let at = chunk.offset as usize;
    chunk.damaged = true;
    match lie {
        Lie::AudioLen65535 => {
            bytes[at + 4..at + 6].copy_from_slice(&65535u16.to_le_bytes());
            bytes[at + 6..at + 8].copy_from_slice(&65535u16.wrapping_add(8).to_le_bytes());
        }
        Lie::VideoMediaLonger(n) => {
            let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            bytes[at + 8..at + 12].copy_from_slice(&(len + n).to_le_bytes());
        }
        Lie::DropPayloadByte(per_mille) => {
            // The payload is the chunk's last bytes before any padding.
            let padding = if chunk.pad.starts_with("video_") {
                chunk.payload.len().next_multiple_of(8) - chunk.payload.len()
            } else {
                0
            };
            let payload_start = at + chunk.len as usize - padding - chunk.payload.len();
            bytes.remove(payload_start + chunk.payload.len() * per_mille / 1000);
            chunk.len -= 1;
        }
    }
}

#[test]
fn generated_lengths_that_lie_lose_only_their_own_chunk() {
    let g = Gen {
        cameras: 2,
        frames: 60,
        ..Default::default()
    };
    let (bytes, chunks) = generate(&g);
    let find = |from: usize, pad: &str, next: &str| {
        (from..chunks.len() - 1)
            .find(|&i| chunks[i].pad.starts_with(pad) && chunks[i + 1].pad.starts_with(next))
            .unwrap()
    };
    let cases = [
        (
            "audio 65535 before video",
            find(20, "audio", "video"),
            Lie::AudioLen65535,
        ),
        (
            "video +40 before video",
            find(20, "video", "video"),
            Lie::VideoMediaLonger(40),
        ),
        (
            "video +40 before audio",
            find(20, "video", "audio"),
            Lie::VideoMediaLonger(40),
        ),
        (
            "video +9 before audio",
            find(40, "video", "audio"),
            Lie::VideoMediaLonger(9),
        ),
        (
            "video -1 byte before video",
            find(30, "video", "video"),
            Lie::DropPayloadByte(500),
        ),
        (
            "video -1 byte before audio",
            find(30, "video", "audio"),
            Lie::DropPayloadByte(999),
        ),
        (
            "audio -1 byte before video",
            find(30, "audio", "video"),
            Lie::DropPayloadByte(10),
        ),
        (
            "key video -1 byte",
            find(1, "video", "video"),
            Lie::DropPayloadByte(700),
        ),
    ];
    for (what, i, lie) in cases {
        let mut bytes = bytes.clone();
        let mut chunks = chunks.clone();
        lie_about(&mut bytes, &mut chunks[i], lie);
        check_damaged_generated(&format!("{what} (#{i})"), &bytes, &chunks);
    }
}

#[test]
fn muxers_take_the_video_without_a_parser() {
    let (input, chunks) = pipeline_input();
    let mp4 = support::mux_mp4_without_parser(&format!(
        "filesrc location=\"{}\" ! saysdemux telemetry=true name=d d.video_1",
        input.path.display()
    ));
    let run = support::demux_file("qtdemux", &mp4, "");
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let out = run.only();
    let want: Vec<&GenChunk> = chunks.iter().filter(|c| c.pad == "video_1").collect();
    assert_eq!(out.len(), want.len());
    // Bit-exact apart from the in-band parameter sets, which are in the
    // decoder config now.
    let strip = |annexb: &[u8]| -> Vec<u8> {
        let mut v = Vec::new();
        for nal in gstcctv::h264::annexb_nal_units(annexb) {
            if !matches!(nal[0] & 0x1f, 7 | 8) {
                v.extend_from_slice(&[0, 0, 0, 1]);
                v.extend_from_slice(nal);
            }
        }
        v
    };
    for (o, c) in out.iter().zip(&want) {
        assert_eq!(strip(&support::avc_to_annexb(&o.data)), strip(&c.payload));
    }
    let decoded = support::demux_file("qtdemux", &mp4, "h264parse ! avdec_h264");
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    assert_eq!(decoded.only().len(), want.len());
}
