// SPDX-License-Identifier: MIT
//! Evidence beside every export (manifest, frame table, report) and
//! `cctv verify`, on the real samples: the table matches the source's
//! slices, recomputed here from the source bytes without the engine; verify
//! passes clean exports and names the frame, output or input that changed;
//! sources are untouched.

mod support;

use serde_json::Value;
use sha2::Digest;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{run_bounded, sha256_file_hex, shared_samples};

const CCTV: &str = env!("CARGO_BIN_EXE_cctv");

fn cctv(args: &[&OsStr]) -> std::process::Output {
    run_bounded(CCTV, args, Duration::from_secs(300))
}

fn convert(input: &Path, out: &Path, extra: &[&str]) {
    let mut args: Vec<&OsStr> = vec![OsStr::new("convert"), input.as_os_str()];
    args.extend([OsStr::new("-o"), out.as_os_str(), OsStr::new("-q")]);
    args.extend(extra.iter().map(OsStr::new));
    let o = cctv(&args);
    assert!(
        o.status.success(),
        "convert {}: {}",
        input.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn verify(manifest: &Path) -> (bool, Value) {
    let o = cctv(&[
        OsStr::new("verify"),
        OsStr::new("--json"),
        manifest.as_os_str(),
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "verify --json: {e}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    assert_eq!(o.status.success(), v["ok"].as_bool().unwrap(), "{v}");
    (o.status.success(), v)
}

struct Row {
    stream: String,
    index: usize,
    source: usize,
    offset: usize,
    size: usize,
    sha: String,
}

fn table(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    for c in [
        "stream",
        "index",
        "recorded_time",
        "time",
        "pts_s",
        "source",
        "offset",
        "size",
        "slice_sha256",
    ] {
        assert!(header.contains(&c), "column {c} in {header:?}");
    }
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                stream: f[col("stream")].into(),
                index: f[col("index")].parse().unwrap(),
                source: f[col("source")].parse().unwrap(),
                offset: f[col("offset")].parse().unwrap(),
                size: f[col("size")].parse().unwrap(),
                sha: f[col("slice_sha256")].into(),
            }
        })
        .collect()
}

/// The slice hash of Annex-B bytes, written here from the definition
/// (H.264 NAL types 1-5 without start codes, concatenated), not with the
/// project's helper.
fn annexb_slice_sha(data: &[u8]) -> String {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut h = sha2::Sha256::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
        while end > s && data[end - 1] == 0 {
            end -= 1;
        }
        if (1..=5).contains(&(data[s] & 0x1f)) {
            h.update(&data[s..end]);
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn manifest(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn psf_export_proves_itself_and_verify_names_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    // A copy of the source, so that it can be tampered with below.
    let src = dir.path().join("video1.psf");
    std::fs::copy(shared_samples("pavs").join("video1.psf"), &src).unwrap();
    let before = sha256_file_hex(&src);
    let out = dir.path().join("out");
    convert(&src, &out, &[]);
    assert_eq!(sha256_file_hex(&src), before, "the source is untouched");
    let m = manifest(&out.join("video1.manifest.json"));
    assert_eq!(m["inputs"][0]["sha256"], before);
    assert_eq!(m["outputs"][0]["path"], "video1.mp4");
    assert_eq!(
        m["outputs"][0]["sha256"],
        sha256_file_hex(&out.join("video1.mp4"))
    );
    assert_eq!(m["streams"][0]["frames"], 18);
    assert!(
        m["added"].to_string().contains("SPS/PPS"),
        "synthesized parameter sets are disclosed: {}",
        m["added"]
    );
    assert!(
        std::fs::read_to_string(out.join("video1.report.html"))
            .unwrap()
            .contains(&before)
    );
    // The table: every block's payload, its slices hashed from the source.
    let rows = table(&out.join("video1.frames.tsv"));
    let bytes = std::fs::read(&src).unwrap();
    let expected: Value = serde_json::from_slice(
        &std::fs::read(shared_samples("pavs").join("expected.json")).unwrap(),
    )
    .unwrap();
    let blocks = expected["video1"]["blocks"].as_array().unwrap();
    assert_eq!(rows.len(), blocks.len());
    for (r, b) in rows.iter().zip(blocks) {
        assert_eq!(r.stream, "video_9");
        assert_eq!(r.source, 0);
        assert_eq!(r.offset as u64, b["payload_offset"].as_u64().unwrap());
        assert_eq!(r.size as u64, b["payload_len"].as_u64().unwrap());
        assert_eq!(
            r.sha,
            annexb_slice_sha(&bytes[r.offset..r.offset + r.size]),
            "frame {}",
            r.index
        );
    }
    assert_eq!(
        verify(&out.join("video1.manifest.json")),
        (true, serde_json::json!({"ok": true, "problems": []}))
    );

    // A changed byte inside frame 5's slice in the output.
    let tampered = dir.path().join("tampered");
    std::fs::create_dir(&tampered).unwrap();
    for e in std::fs::read_dir(&out).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), tampered.join(e.file_name())).unwrap();
    }
    let r5 = &rows[5];
    let slice = &bytes[r5.offset + 4..r5.offset + 64];
    let mp4_path = tampered.join("video1.mp4");
    let mut mp4 = std::fs::read(&mp4_path).unwrap();
    let at = mp4
        .windows(slice.len())
        .position(|w| w == slice)
        .expect("frame 5's slice in the MP4");
    mp4[at + 40] ^= 0xff;
    std::fs::write(&mp4_path, &mp4).unwrap();
    let (ok, v) = verify(&tampered.join("video1.manifest.json"));
    assert!(!ok);
    let problems = v["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["kind"] == "output" && p["path"] == "video1.mp4"),
        "{v}"
    );
    let frames: Vec<&Value> = problems.iter().filter(|p| p["kind"] == "frame").collect();
    assert_eq!(frames.len(), 1, "{v}");
    assert_eq!(
        (frames[0]["frame"].as_u64(), frames[0]["stream"].as_str()),
        (Some(5), Some("video_9"))
    );

    // A changed source: that input is named, at that frame.
    let mut b = bytes.clone();
    b[rows[7].offset + 30] ^= 0xff;
    std::fs::write(&src, &b).unwrap();
    let (ok, v) = verify(&out.join("video1.manifest.json"));
    assert!(!ok);
    let inputs: Vec<&Value> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "input")
        .collect();
    assert!(
        inputs.iter().any(|p| p["frame"].is_null()),
        "the file hash: {v}"
    );
    assert!(inputs.iter().any(|p| p["frame"] == 7), "the frame: {v}");
    assert!(
        inputs.iter().all(|p| p["path"] == src.to_str().unwrap()),
        "{v}"
    );
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn nvr_export_discloses_transcoded_audio_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let src = shared_samples("says").join("two_cameras.nvr");
    let before = sha256_file_hex(&src);
    let out = dir.path().join("out");
    convert(&src, &out, &[]);
    assert_eq!(sha256_file_hex(&src), before);
    let index: Value = serde_json::from_slice(
        &std::fs::read(shared_samples("says").join("two_cameras.index.json")).unwrap(),
    )
    .unwrap();
    for cam in ["cam0", "cam1"] {
        let mpath = out.join(format!("two_cameras_{cam}.manifest.json"));
        let m = manifest(&mpath);
        assert!(
            m["transcoded"].to_string().contains("AAC"),
            "{}",
            m["transcoded"]
        );
        let rows = table(&out.join(format!("two_cameras_{cam}.frames.tsv")));
        // Every row is a video chunk of the index: its media range.
        let digit = &cam[3..];
        let chunks: Vec<&Value> = index["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "video" && c["id"].as_str().unwrap().starts_with(digit))
            .collect();
        assert_eq!(rows.len(), chunks.len(), "{cam}");
        let bytes = std::fs::read(&src).unwrap();
        for r in &rows {
            assert_eq!(r.sha, annexb_slice_sha(&bytes[r.offset..r.offset + r.size]));
        }
        assert!(verify(&mpath).0);
    }
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn rf1_and_mkv_exports_verify() {
    let dir = tempfile::tempdir().unwrap();
    let src = shared_samples("rf1").join("h264_basic");
    let out: PathBuf = dir.path().join("out");
    convert(&src, &out, &["--format", "mkv"]);
    let mpath = out.join("h264_basic.manifest.json");
    let m = manifest(&mpath);
    assert_eq!(m["streams"][0]["frames"], 300);
    assert!(
        m["inputs"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("_video.rf1p")
    );
    assert!(m["transcoded"].as_array().unwrap().is_empty());
    assert!(verify(&mpath).0);
}

/// The MISB ST 0604 time stamps of each frame of an output: for H.264 as
/// `h264parse` attaches them (`GstVideoSEIUserDataUnregisteredMeta`); for
/// H.265 from the SEI NAL units themselves, since GStreamer 1.22's
/// `h265parse` parses user-data-unregistered SEI without attaching the meta.
fn embedded_times(path: &Path, parser: &str) -> Vec<Option<u64>> {
    use gst::prelude::*;
    support::init();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! qtdemux ! {parser} ! appsink name=sink sync=false",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut times = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let buffer = sample.buffer().unwrap();
        if parser == "h265parse" {
            let map = buffer.map_readable().unwrap();
            let mut data = map.as_slice();
            let mut found = None;
            while data.len() >= 4 {
                let len = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
                let nal = &data[4..4 + len];
                found = found.or(gstcctv::engine::evidence::parse_precision_time_sei(
                    gstcctv::h264::Codec::H265,
                    nal,
                )
                .map(|(_, us)| us));
                data = &data[4 + len..];
            }
            times.push(found);
            continue;
        }
        let t = buffer
            .iter_meta::<gst_video::video_meta::VideoSeiUserDataUnregisteredMeta>()
            .find(|m| &m.uuid() == b"MISPmicrosectime")
            .map(|m| {
                let d = m.data();
                assert_eq!(d.len(), 12);
                assert_eq!((d[3], d[6], d[9]), (0xff, 0xff, 0xff));
                u64::from_be_bytes([d[1], d[2], d[4], d[5], d[7], d[8], d[10], d[11]])
            });
        times.push(t);
    }
    pipeline.set_state(gst::State::Null).unwrap();
    times
}

fn rfc3339_us(text: &str) -> u64 {
    let t = chrono::DateTime::parse_from_rfc3339(text).unwrap();
    t.timestamp_micros() as u64
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn clock_offset_and_embedded_time_stamps_read_back_through_the_parsers() {
    for (sample, parser, recorded_first) in [
        (
            "pavs/video1.psf",
            "h264parse",
            "2021-09-01T07:00:01.454448Z",
        ),
        ("rf1/h265_basic", "h265parse", ""),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let src = shared_samples("").join(sample);
        let out = dir.path().join("out");
        // The recorder's clock ran 90.5 s ahead.
        convert(&src, &out, &["--embed-time", "--clock-offset", "+90.5"]);
        let manifest_path = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".manifest.json"))
            .unwrap();
        let m = manifest(&manifest_path);
        assert_eq!(m["clock_offset_s"], 90.5);
        assert!(m["added"].to_string().contains("MISPmicrosectime"));
        let stem = manifest_path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".manifest.json")
            .to_string();
        let text = std::fs::read_to_string(out.join(format!("{stem}.frames.tsv"))).unwrap();
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .map(|l| l.split('\t').collect())
            .collect();
        // recorded_time (col 2) stays the recorder's; time (col 3) is 90.5 s earlier.
        if !recorded_first.is_empty() {
            assert_eq!(rows[0][2], recorded_first);
        }
        for r in &rows {
            assert_eq!(rfc3339_us(r[2]) - rfc3339_us(r[3]), 90_500_000);
        }
        let times = embedded_times(&out.join(format!("{stem}.mp4")), parser);
        assert_eq!(times.len(), rows.len(), "{sample}: every frame read back");
        for (t, r) in times.iter().zip(&rows) {
            assert_eq!(*t, Some(rfc3339_us(r[3])), "{sample}: frame {}", r[1]);
        }
        // The cues show the corrected time too.
        let srt = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(out.join(format!("{stem}.mp4")))
            .args(["-map", "0:s:0", "-f", "srt", "-"])
            .output()
            .unwrap();
        let srt = String::from_utf8_lossy(&srt.stdout);
        let first_cue = srt.lines().nth(2).unwrap_or_default().to_string();
        let corrected = &rows[0][3];
        // `2021-09-01T06:58:30.954448Z` shows as `2021-09-01 06:58:30`.
        let shown = corrected[..19].replace('T', " ");
        assert!(
            first_cue.contains(&format!("{shown} UTC")),
            "{sample}: cue {first_cue:?}, corrected {corrected}"
        );
        // The slices are untouched: the export still proves itself.
        assert!(verify(&manifest_path).0, "{sample}");
    }
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn from_and_to_are_true_times_under_a_clock_offset() {
    // video1.psf's frames are 0.5 s apart from 07:00:01.454 (recorded).
    // With the recorder 60 s ahead, true 06:59:03..06:59:05 is recorded
    // 07:00:03..07:00:05: the key frame at or before 07:00:03 and every
    // frame before 07:00:05.
    let dir = tempfile::tempdir().unwrap();
    let src = shared_samples("pavs").join("video1.psf");
    let shifted = dir.path().join("shifted");
    convert(
        &src,
        &shifted,
        &[
            "--clock-offset",
            "+60",
            "--from",
            "2021-09-01T06:59:03Z",
            "--to",
            "2021-09-01T06:59:05Z",
        ],
    );
    let plain = dir.path().join("plain");
    convert(
        &src,
        &plain,
        &[
            "--from",
            "2021-09-01T07:00:03Z",
            "--to",
            "2021-09-01T07:00:05Z",
        ],
    );
    let recorded = |d: &Path| -> Vec<String> {
        std::fs::read_to_string(d.join("video1.frames.tsv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split('\t').nth(2).unwrap().to_string())
            .collect()
    };
    let a = recorded(&shifted);
    assert!(!a.is_empty());
    assert_eq!(a, recorded(&plain));
}

/// Recorders write Latin-1 names: a recording whose name is not UTF-8 is
/// converted, and its manifest names the very files (`path_bytes`), so
/// that `cctv verify` re-hashes them and a rerun finds the export
/// complete. (Verify could not find `caméra.frames.tsv` before.)
#[test]
fn an_export_of_a_recording_whose_name_is_not_utf8_verifies() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = OsStr::from_bytes(b"cam\xe9ra.psf");
    let input = dir.path().join(name);
    gstcctv::formats::pavs::writer::Recording::backup_camera(
        4,
        "LOBBY",
        1_630_479_600_000_000_000,
        40,
    )
    .write_file(&input)
    .unwrap();
    let out = dir.path().join("out");
    convert(&input, &out, &[]);
    let manifest = out.join(OsStr::from_bytes(b"cam\xe9ra.manifest.json"));
    assert!(
        manifest.is_file(),
        "{:?}",
        std::fs::read_dir(&out).unwrap().collect::<Vec<_>>()
    );
    let (ok, v) = verify(&manifest);
    assert!(ok, "{v}");
    let m: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(m["outputs"][0]["path_bytes"], hex(b"cam\xe9ra.mp4"));
    // A rerun finds it complete: nothing written again.
    let mp4 = out.join(OsStr::from_bytes(b"cam\xe9ra.mp4"));
    let before = std::fs::metadata(&mp4).unwrap().modified().unwrap();
    let o = cctv(&[
        OsStr::new("convert"),
        input.as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("complete"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::metadata(&mp4).unwrap().modified().unwrap(), before);
    // A changed output is found, by its real name.
    let mut bytes = std::fs::read(&mp4).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&mp4, &bytes).unwrap();
    let (ok, v) = verify(&manifest);
    assert!(!ok, "{v}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
