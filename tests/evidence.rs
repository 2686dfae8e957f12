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
