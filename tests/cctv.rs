// SPDX-License-Identifier: MIT
//! The `cctv` command, run as a program on generated recordings and (where
//! present) the shared samples; outputs checked with ffprobe.

mod support;

use gstcctv::formats::pavs::writer::{Gap, Recording};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const CCTV: &str = env!("CARGO_BIN_EXE_cctv");
/// Every command is bounded.
const LIMIT: Duration = Duration::from_secs(120);

/// Runs a program to completion within [`LIMIT`] (killed after it).
fn run(program: &str, args: &[&str]) -> Output {
    support::run_bounded(program, args, LIMIT)
}

fn cctv(args: &[&str]) -> Output {
    run(CCTV, args)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// What ffprobe reads: per stream (codec_type, frames), and the format tags.
struct Probe {
    streams: Vec<(String, u64)>,
    duration: f64,
    creation_time: Option<String>,
}

impl Probe {
    fn frames(&self, kind: &str) -> Option<u64> {
        self.streams.iter().find(|s| s.0 == kind).map(|s| s.1)
    }
}

fn ffprobe(path: &Path) -> Probe {
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_type,nb_read_frames:format=duration:format_tags=creation_time",
            "-of",
            "json",
            s(path),
        ],
    );
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    let streams = v["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|st| {
            (
                st["codec_type"].as_str().unwrap_or("").to_string(),
                st["nb_read_frames"]
                    .as_str()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
            )
        })
        .collect();
    Probe {
        streams,
        duration: v["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0.0),
        creation_time: v["format"]["tags"]["creation_time"]
            .as_str()
            .map(String::from),
    }
}

/// 2021-09-01 07:00:01.454448 UTC.
const START_NS: u64 = 1_630_479_601_454_448_000;

/// A `.psf` of `n` blocks 0.5 s apart on channel 9 (key every other
/// block), with a one-hour gap before block `gap_at` when given.
fn write_psf(path: &Path, n: u64, gap_at: Option<u64>) {
    Recording {
        start_ns: START_NS,
        frames: n,
        first_sequence: 1000,
        gap: gap_at.map(|before_frame| Gap {
            before_frame,
            ns: 3600 * 1_000_000_000,
        }),
        ..Recording::default()
    }
    .write_file(path)
    .expect("write");
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    support::outputs_in(dir)
}

#[test]
fn psf_gives_one_mp4_with_every_frame_a_text_track_and_the_creation_time() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("alley.psf");
    write_psf(&psf, 40, Some(20));
    let out_dir = dir.path().join("out");
    let out = cctv(&["convert", s(&psf), "-o", s(&out_dir)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        files_in(&out_dir),
        vec![out_dir.join("alley.mp4")],
        "only the final file"
    );
    let p = ffprobe(&out_dir.join("alley.mp4"));
    assert_eq!(p.frames("video"), Some(40));
    assert!(
        p.frames("subtitle").is_some_and(|n| n >= 20),
        "{:?}",
        p.streams
    );
    assert_eq!(
        p.creation_time.as_deref(),
        Some("2021-09-01T07:00:01.000000Z")
    );
    // Default --gaps compact: the hour shrank to one frame.
    assert!(p.duration < 30.0, "duration {}", p.duration);
    // The summary names the file and the frames.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 file(s) written") && err.contains("40 video frames"),
        "{err}"
    );
}

#[test]
fn gaps_keep_and_split() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("g.psf");
    write_psf(&psf, 40, Some(20));
    let keep = dir.path().join("keep");
    let out = cctv(&["convert", "--gaps", "keep", "-q", s(&psf), "-o", s(&keep)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = ffprobe(&keep.join("g.mp4"));
    assert_eq!(p.frames("video"), Some(40));
    assert!(p.duration > 3600.0, "real time kept: {}", p.duration);

    let split = dir.path().join("split");
    let out = cctv(&[
        "convert",
        "--gaps",
        "split",
        "-q",
        "--format",
        "mkv",
        s(&psf),
        "-o",
        s(&split),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = files_in(&split);
    assert_eq!(
        files,
        vec![split.join("g_part001.mkv"), split.join("g_part002.mkv")]
    );
    for f in &files {
        let p = ffprobe(f);
        assert_eq!(p.frames("video"), Some(20), "{}", f.display());
        assert!(p.duration < 15.0);
    }
}

#[test]
fn damaged_file_converts_every_intact_frame_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("d.psf");
    write_psf(&psf, 30, None);
    let mut bytes = std::fs::read(&psf).unwrap();
    // Break the 11th block's payload (each block starts with "PAVS", the
    // payload at 0x240 is checksummed).
    let starts: Vec<usize> = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| w == b"PAVS")
        .map(|(i, _)| i)
        .collect();
    bytes[starts[10] + 0x250..starts[10] + 0x260].fill(0x55);
    std::fs::write(&psf, &bytes).unwrap();
    let out_dir = dir.path().join("out");
    let out = cctv(&["convert", "-q", s(&psf), "-o", s(&out_dir)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let info = cctv(&["info", s(&psf)]);
    assert!(
        err.contains("d.psf") && err.contains("damaged"),
        "{err} / {}",
        String::from_utf8_lossy(&info.stdout)
    );
    assert_eq!(ffprobe(&out_dir.join("d.mp4")).frames("video"), Some(29));
}

#[test]
fn bad_inputs_fail_with_one_line_each_and_others_still_convert() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.psf");
    write_psf(&good, 6, None);
    let junk = dir.path().join("junk.psf");
    std::fs::write(&junk, vec![0x11u8; 5000]).unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = dir.path().join("missing.psf");
    let out_dir = dir.path().join("out");
    let out = cctv(&[
        "convert",
        "-q",
        s(&missing),
        s(&empty),
        s(&junk),
        s(&good),
        "-o",
        s(&out_dir),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].contains("missing.psf") && lines[0].contains("no such file"),
        "{err}"
    );
    assert!(
        lines[1].contains("empty") && lines[1].contains("no recordings"),
        "{err}"
    );
    assert!(
        lines[2].contains("junk.psf") && lines[2].contains("not a known recording"),
        "{err}"
    );
    assert_eq!(files_in(&out_dir), vec![out_dir.join("good.mp4")]);

    // A complete output (its manifest matches) is skipped by a rerun; a
    // file that is not ours (no manifest names it) is not overwritten
    // without --force.
    let out = cctv(&["convert", "-q", s(&good), "-o", s(&out_dir)]);
    assert!(out.status.success());
    std::fs::remove_file(out_dir.join("good.manifest.json")).unwrap();
    let out = cctv(&["convert", "-q", s(&good), "-o", s(&out_dir)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let out = cctv(&["convert", "-q", "--force", s(&good), "-o", s(&out_dir)]);
    assert!(out.status.success());

    // An output directory that cannot be created: one line, nothing left.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let out = cctv(&["convert", "-q", s(&good), "-o", s(&blocker.join("sub"))]);
    // A path that cannot be a directory: no retry helps (exit 1, not 75).
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("sub"), "{err}");
}

#[test]
fn jobs_2_over_a_directory_converts_everything() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir_all(inputs.join("nested")).unwrap();
    for (i, name) in ["a.psf", "b.psf", "nested/c.psf"].iter().enumerate() {
        write_psf(&inputs.join(name), 8 + 2 * i as u64, None);
    }
    std::fs::write(inputs.join("notes.txt"), b"not a recording").unwrap();
    let out_dir = dir.path().join("out");
    let out = cctv(&["convert", "--jobs", "2", s(&inputs), "-o", s(&out_dir)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = files_in(&out_dir);
    assert_eq!(files.len(), 3, "{files:?}");
    for (f, n) in files.iter().zip([8, 10, 12]) {
        assert_eq!(ffprobe(f).frames("video"), Some(n), "{}", f.display());
    }
}

#[test]
fn info_json_of_a_generated_file() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("i.psf");
    write_psf(&psf, 10, None);
    let out = cctv(&["info", "--json", s(&psf)]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let o = &v[0];
    assert_eq!(o["format"], "pavs");
    assert_eq!(o["file"], s(&psf));
    let st = &o["streams"][0];
    assert_eq!(st["id"], "video_9");
    assert_eq!(st["kind"], "video");
    assert_eq!(st["codec"], "h264");
    assert_eq!(st["width"], 176);
    assert_eq!(st["frames"], 10);
    assert_eq!(st["first_time"], "2021-09-01T07:00:01.454448Z");
    assert_eq!(st["last_time"], "2021-09-01T07:00:05.954448Z");
    assert_eq!(o["damage"]["regions"], 0);
}

// ---- the shared samples ----------------------------------------------------

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_psf_gives_every_frame_text_and_creation_time() {
    let samples = support::shared_samples("pavs");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(samples.join("expected.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for name in ["video1", "video2", "video3"] {
        let out = cctv(&[
            "convert",
            "-q",
            s(&samples.join(format!("{name}.psf"))),
            "-o",
            s(dir.path()),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let p = ffprobe(&dir.path().join(format!("{name}.mp4")));
        let blocks = expected[name]["blocks"].as_array().unwrap();
        assert_eq!(p.frames("video"), Some(blocks.len() as u64), "{name}");
        assert!(p.frames("subtitle").is_some_and(|n| n > 0), "{name}");
        let first = blocks[0]["pts_unix_ns"].as_u64().unwrap();
        let created = chrono::DateTime::from_timestamp((first / 1_000_000_000) as i64, 0).unwrap();
        assert_eq!(
            p.creation_time.as_deref(),
            Some(
                created
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                    .as_str()
            ),
            "{name}"
        );
    }
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_two_camera_nvr_gives_two_mp4s_with_video_and_audio() {
    let samples = support::shared_samples("says");
    let dir = tempfile::tempdir().unwrap();
    let out = cctv(&[
        "convert",
        "-q",
        s(&samples.join("two_cameras.nvr")),
        "-o",
        s(dir.path()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index: Value =
        serde_json::from_slice(&std::fs::read(samples.join("two_cameras.index.json")).unwrap())
            .unwrap();
    for cam in [0, 1] {
        let frames = index["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "video" && c["camera"] == cam)
            .count() as u64;
        let p = ffprobe(&dir.path().join(format!("two_cameras_cam{cam}.mp4")));
        assert_eq!(p.frames("video"), Some(frames), "camera {cam}");
        assert!(
            p.frames("audio").is_some_and(|n| n > 0),
            "camera {cam}: {:?}",
            p.streams
        );
        assert!(p.frames("subtitle").is_some_and(|n| n > 0), "camera {cam}");
    }
    assert_eq!(files_in(dir.path()).len(), 2);
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_rf1_camera_dir_window_is_exact_from_the_key_frame() {
    // 600 frames at 10 fps from 06:12:26.731 UTC, an IDR every 20 frames
    // (case.json). 06:12:40 is 13.269 s in: the key frame at or before it
    // is frame 120 (12.0 s); 06:13:05 is 38.269 s in: the last frame
    // before it is frame 382. Frames 120..=382: 263.
    let cam = support::shared_samples("rf1/archive_dir/camera-0001");
    let dir = tempfile::tempdir().unwrap();
    // The local form is read in this machine's zone (rf1 records none):
    // run it in UTC.
    let out = run(
        "env",
        &[
            "TZ=UTC",
            CCTV,
            "convert",
            "-q",
            "--force",
            s(&cam),
            "--from",
            "2024-04-11T06:12:40Z",
            "--to",
            "2024-04-11 06:13:05",
            "-o",
            s(dir.path()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mp4 = dir.path().join("camera-0001.mp4");
    assert_eq!(ffprobe(&mp4).frames("video"), Some(263));
    let first = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v",
            "-read_intervals",
            "%+#1",
            "-show_entries",
            "frame=pict_type",
            "-of",
            "csv=p=0",
            s(&mp4),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&first.stdout).trim(), "I");
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_info_json_matches_the_ground_truth() {
    let pavs = support::shared_samples("pavs");
    let says = support::shared_samples("says");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(pavs.join("expected.json")).unwrap()).unwrap();
    let out = cctv(&[
        "info",
        "--json",
        s(&pavs.join("video1.psf")),
        s(&says.join("two_cameras.nvr")),
        s(&says.join("truncated.nvr")),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let blocks = expected["video1"]["blocks"].as_array().unwrap();
    let st = &v[0]["streams"][0];
    assert_eq!(v[0]["format"], "pavs");
    assert_eq!(st["id"], "video_9");
    assert_eq!(st["frames"], blocks.len());
    assert_eq!(st["width"], blocks[0]["width"]);
    let t = |ns: u64| {
        chrono::DateTime::from_timestamp((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    };
    assert_eq!(
        st["first_time"],
        t(blocks[0]["pts_unix_ns"].as_u64().unwrap())
    );
    assert_eq!(
        st["last_time"],
        t(blocks.last().unwrap()["pts_unix_ns"].as_u64().unwrap())
    );
    for (i, name) in [(1, "two_cameras"), (2, "truncated")] {
        let index: Value = serde_json::from_slice(
            &std::fs::read(says.join(format!("{name}.index.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(v[i]["format"], "says");
        let chunks = index["chunks"].as_array().unwrap();
        for cam in [0u64, 1] {
            // Complete chunks only (a truncated last one is damage).
            let size = index["size"].as_u64().unwrap();
            let frames = chunks
                .iter()
                .filter(|c| c["kind"] == "video" && c["camera"] == cam)
                .filter(|c| c["offset"].as_u64().unwrap() + c["size"].as_u64().unwrap() <= size)
                .count();
            if frames == 0 {
                continue;
            }
            let st = v[i]["streams"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == format!("video_{cam}"))
                .unwrap_or_else(|| panic!("{name}: no video_{cam}"));
            assert_eq!(st["frames"], frames, "{name} camera {cam}");
        }
        let damaged = !index["damage"].is_null();
        assert_eq!(
            v[i]["damage"]["regions"].as_u64().unwrap() > 0,
            damaged,
            "{name}"
        );
    }
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_damaged_nvr_converts_with_exit_0_and_telemetry_exports() {
    let says = support::shared_samples("says");
    let dir = tempfile::tempdir().unwrap();
    let out = cctv(&["convert", s(&says.join("garbage.nvr")), "-o", s(dir.path())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"));
    assert!(
        ffprobe(&dir.path().join("garbage.mp4"))
            .frames("video")
            .is_some_and(|n| n > 0)
    );
    let gpx = dir.path().join("t.gpx");
    let csv = dir.path().join("t.csv");
    let geo = dir.path().join("t.geojson");
    let out = cctv(&[
        "telemetry",
        s(&says.join("basic.nvr")),
        "--gpx",
        s(&gpx),
        "--csv",
        s(&csv),
        "--geojson",
        s(&geo),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&gpx).unwrap().contains("<trkpt"));
    assert!(std::fs::read_to_string(&csv).unwrap().lines().count() > 10);
    let g: Value = serde_json::from_str(&std::fs::read_to_string(&geo).unwrap()).unwrap();
    assert_eq!(g["type"], "FeatureCollection");
}

#[test]
fn psf_window_starts_at_the_key_frame_at_or_before_from() {
    // Blocks every 0.5 s from 07:00:01.454448, key on even blocks.
    // --from 07:00:06.6 → block 11 is the first in the window; the key
    // frame at or before it is block 10. --to 07:00:11.454448 → blocks
    // before it end with 19. Blocks 10..=19.
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("w.psf");
    write_psf(&psf, 40, None);
    let out = cctv(&[
        "convert",
        "-q",
        s(&psf),
        "--from",
        "2021-09-01T07:00:06.6Z",
        "--to",
        "2021-09-01T07:00:11.454448Z",
        "-o",
        s(dir.path()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = ffprobe(&dir.path().join("w.mp4"));
    assert_eq!(p.frames("video"), Some(10));
    let out = cctv(&[
        "convert",
        "-q",
        s(&psf),
        "--from",
        "2030-01-01T00:00:00Z",
        "-o",
        s(&dir.path().join("x")),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no frames between"));
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_nvr_camera_choice_and_local_time_in_the_recorders_zone() {
    // two_cameras.nvr: recorded at UTC-4 (header), 14:03:27 .. 14:03:35 UTC.
    // "10:03:30" local is 14:03:30 UTC: about half the frames.
    let says = support::shared_samples("says");
    let dir = tempfile::tempdir().unwrap();
    let out = cctv(&[
        "convert",
        "-q",
        "--camera",
        "1",
        "--from",
        "2021-04-16 10:03:30",
        s(&says.join("two_cameras.nvr")),
        "-o",
        s(dir.path()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        files_in(dir.path()),
        vec![dir.path().join("two_cameras_cam1.mp4")]
    );
    let frames = ffprobe(&dir.path().join("two_cameras_cam1.mp4"))
        .frames("video")
        .unwrap();
    assert!((50..=80).contains(&frames), "{frames} frames");
    let out = cctv(&[
        "convert",
        "-q",
        "--camera",
        "7",
        s(&says.join("two_cameras.nvr")),
        "-o",
        s(dir.path()),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no camera"));
}
