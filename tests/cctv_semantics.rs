// SPDX-License-Identifier: MIT
//! What `cctv` outputs mean: the subtitle cues of a conversion (the
//! elements' own, lasting until the next), time zones, windows, spans,
//! track files, empty inputs and messages. Run as a program on generated
//! recordings and (where present) the shared samples; outputs read back
//! with ffprobe/ffmpeg.

#[path = "support/hostile.rs"]
mod hostile;
mod support;

use gst::prelude::*;

use gstcctv::formats::pavs::writer::{Gap, Recording};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const CCTV: &str = env!("CARGO_BIN_EXE_cctv");
/// Every command is bounded.
const LIMIT: Duration = Duration::from_secs(120);

/// Runs a program to completion within [`LIMIT`], in `cwd` when given,
/// with extra environment variables.
fn run_in(program: &str, args: &[&str], cwd: Option<&Path>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    support::output_within(&mut cmd, LIMIT)
}

fn run(program: &str, args: &[&str]) -> Output {
    run_in(program, args, None, &[])
}

fn cctv(args: &[&str]) -> Output {
    run(CCTV, args)
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// One packet of a stream as ffprobe reads it.
#[derive(Debug, Clone)]
struct Pkt {
    pts: f64,
    duration: f64,
    size: u64,
    key: bool,
}

/// The packets of the first stream of `kind` ("v", "a", "s").
fn packets(path: &Path, kind: &str) -> Vec<Pkt> {
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            &format!("{kind}:0"),
            "-show_entries",
            "packet=pts_time,duration_time,size,flags",
            "-of",
            "json",
            s(path),
        ],
    );
    ok(&out);
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    let num = |x: &Value| x.as_str().and_then(|t| t.parse().ok()).unwrap_or(f64::NAN);
    v["packets"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| Pkt {
                    pts: num(&p["pts_time"]),
                    duration: num(&p["duration_time"]),
                    size: p["size"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0),
                    key: p["flags"].as_str().is_some_and(|f| f.starts_with('K')),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The subtitle cues of the first text track as SRT text.
fn srt(path: &Path) -> String {
    let out = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            s(path),
            "-map",
            "0:s:0",
            "-f",
            "srt",
            "-",
        ],
    );
    ok(&out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text lines of the cues (SRT without numbers and times).
fn cue_texts(srt: &str) -> Vec<String> {
    srt.split("\n\n")
        .filter_map(|block| {
            let lines: Vec<&str> = block.lines().collect();
            (lines.len() >= 3).then(|| strip_tags(&lines[2..].join("\n")))
        })
        .collect()
}

/// Text without markup (ffmpeg wraps MP4 text in `<font …>`).
fn strip_tags(text: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn format_tag(path: &Path, tag: &str) -> Option<String> {
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            &format!("format_tags={tag}"),
            "-of",
            "json",
            s(path),
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v["format"]["tags"][tag].as_str().map(String::from)
}

/// 2021-09-01 07:00:01.454448 UTC.
const START_NS: u64 = 1_630_479_601_454_448_000;

/// A `.psf` of `n` blocks 0.5 s apart (2 fps) on channel 9, a key frame
/// every `gop` blocks.
fn write_psf(path: &Path, n: u64, gop: u64) {
    write_psf_with_gap(path, n, gop, None)
}

/// [`write_psf`] with a one-hour gap before block `gap_at`.
fn write_psf_with_gap(path: &Path, n: u64, gop: u64, gap_at: Option<u64>) {
    Recording {
        start_ns: START_NS,
        frames: n,
        gop,
        first_sequence: 1000,
        gap: gap_at.map(|before_frame| Gap {
            before_frame,
            ns: 3_600_000_000_000,
        }),
        ..Recording::default()
    }
    .write_file(path)
    .expect("write");
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    support::outputs_in(dir)
}

/// Cues follow each other with no gap, from the first picture to the end
/// of the last: no empty sample that lasts (mp4mux writes a zero-length
/// empty sample between any two text samples of a sparse track; those
/// show nothing for no time).
fn assert_cues_cover(path: &Path) {
    let video = packets(path, "v");
    let all = packets(path, "s");
    for c in &all {
        // An empty tx3g sample is 2 bytes (the text length).
        let lasts = c.duration.is_finite() && c.duration > 0.0;
        assert!(
            c.size > 2 || !lasts,
            "{}: empty cue {c:?} in {all:?}",
            path.display()
        );
    }
    let cues: Vec<&Pkt> = all.iter().filter(|c| c.size > 2).collect();
    assert!(!cues.is_empty(), "{}: no cues", path.display());
    for w in cues.windows(2) {
        let end = w[0].pts + w[0].duration;
        assert!(
            (end - w[1].pts).abs() < 0.002,
            "{}: cue {:?} ends at {end}, the next starts at {}",
            path.display(),
            w[0],
            w[1].pts
        );
    }
    let first_video = video.iter().map(|p| p.pts).fold(f64::INFINITY, f64::min);
    let video_end = video.iter().map(|p| p.pts + p.duration).fold(0.0, f64::max);
    // Against the video, within the rounding of mp4mux's millisecond
    // text timescale (it adds up rounded durations).
    assert!((cues[0].pts - first_video).abs() < 0.02, "{cues:?}");
    let last = cues.last().unwrap();
    assert!(
        (last.pts + last.duration - video_end).abs() < 0.02,
        "last cue {last:?}, video ends at {video_end}"
    );
}

// ---- cues: the elements' own (issue 16 item 8, issue 17 item 3) ------------

#[test]
fn a_2_fps_psf_has_a_cue_at_every_moment() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("slow.psf");
    write_psf(&psf, 20, 2);
    let out = dir.path().join("out");
    ok(&cctv(&["convert", "-q", s(&psf), "-o", s(&out)]));
    let mp4 = out.join("slow.mp4");
    assert_cues_cover(&mp4);
    let texts = cue_texts(&srt(&mp4));
    assert_eq!(texts[0], "2021-09-01 07:00:01 UTC", "{texts:?}");
    assert_eq!(texts.last().unwrap(), "2021-09-01 07:00:10 UTC");
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_nvr_conversion_cues_have_speed_and_gps_in_mp4_and_mkv() {
    let says = support::shared_samples("says");
    let dir = tempfile::tempdir().unwrap();
    for format in ["mp4", "mkv"] {
        let o = dir.path().join(format);
        ok(&cctv(&[
            "convert",
            "-q",
            "--format",
            format,
            s(&says.join("basic.nvr")),
            "-o",
            s(&o),
        ]));
        let file = o.join(format!("basic.{format}"));
        let texts = cue_texts(&srt(&file));
        assert!(texts.len() >= 8, "{texts:?}");
        for t in &texts {
            assert!(
                t.starts_with("2021-04-16 10:03:")
                    && t.contains(" km/h  GPS ")
                    && t.ends_with(" W"),
                "{format}: {t:?}"
            );
        }
        if format == "mp4" {
            assert_cues_cover(&file);
        }
    }
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_rf1_and_psf_conversions_have_capture_time_cues() {
    let rf1 = support::shared_samples("rf1/h264_basic");
    let pavs = support::shared_samples("pavs");
    let dir = tempfile::tempdir().unwrap();
    ok(&cctv(&["convert", "-q", s(&rf1), "-o", s(dir.path())]));
    let mp4 = dir.path().join("h264_basic.mp4");
    assert_cues_cover(&mp4);
    let texts = cue_texts(&srt(&mp4));
    assert_eq!(texts[0], "2024-04-11 06:12:26 UTC", "{texts:?}");
    ok(&cctv(&[
        "convert",
        "-q",
        s(&pavs.join("video3.psf")),
        "-o",
        s(dir.path()),
    ]));
    let mp4 = dir.path().join("video3.mp4");
    assert_cues_cover(&mp4);
    assert!(cue_texts(&srt(&mp4))[0].starts_with("2021-"));
}

/// A generated rf1 camera converts with the engine's capture-time cues,
/// each lasting until the next, from the first picture to the end of the
/// last (as for .psf and .nvr; no sample needed).
#[test]
fn rf1_conversion_has_capture_time_cues() {
    let dir = tempfile::tempdir().unwrap();
    let cam = dir.path().join("camera-0001");
    std::fs::create_dir(&cam).unwrap();
    // One segment from 2023-11-14 22:13:20 UTC, 30 frames at 10 fps.
    let (g, segments) = hostile::rf1(7, 1, 30, true);
    hostile::write_rf1(&cam, &g, &segments);
    let out = dir.path().join("out");
    ok(&cctv(&["convert", "-q", s(&cam), "-o", s(&out)]));
    let mp4 = files_in(&out)
        .into_iter()
        .find(|f| f.extension().is_some_and(|e| e == "mp4"))
        .unwrap();
    assert_cues_cover(&mp4);
    let texts = cue_texts(&srt(&mp4));
    assert_eq!(texts[0], "2023-11-14 22:13:20 UTC", "{texts:?}");
    assert_eq!(
        texts.last().unwrap(),
        "2023-11-14 22:13:22 UTC",
        "{texts:?}"
    );
}

// ---- windows (issue 16 item 11) ---------------------------------------------

/// The capture times (µs) of camera `cam`'s video chunks and key flags,
/// from a sample's ground truth.
fn nvr_frames(index: &Path, cam: u64) -> Vec<(u64, bool)> {
    let v: Value = serde_json::from_slice(&std::fs::read(index).unwrap()).unwrap();
    v["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "video" && c["camera"] == cam)
        .map(|c| (c["timestamp"].as_u64().unwrap(), c["key"] == true))
        .collect()
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_nvr_window_per_camera_is_the_same_whatever_else_is_selected() {
    let says = support::shared_samples("says");
    let nvr = says.join("two_cameras.nvr");
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = ("2021-04-16T14:03:30.5Z", "2021-04-16T14:03:33.5Z");
    let (from_us, to_us) = (1_618_581_810_500_000u64, 1_618_581_813_500_000u64);
    let both = dir.path().join("both");
    let one = dir.path().join("one");
    ok(&cctv(&[
        "convert",
        "-q",
        s(&nvr),
        "--from",
        from,
        "--to",
        to,
        "-o",
        s(&both),
    ]));
    ok(&cctv(&[
        "convert",
        "-q",
        "--camera",
        "1",
        s(&nvr),
        "--from",
        from,
        "--to",
        to,
        "-o",
        s(&one),
    ]));
    let sig = |p: &Path| -> Vec<(String, u64, bool)> {
        packets(p, "v")
            .iter()
            .map(|k| (format!("{:.6}", k.pts), k.size, k.key))
            .collect()
    };
    let cam1 = one.join("two_cameras_cam1.mp4");
    assert_eq!(sig(&both.join("two_cameras_cam1.mp4")), sig(&cam1));
    for cam in [0u64, 1] {
        let file = both.join(format!("two_cameras_cam{cam}.mp4"));
        let frames = nvr_frames(&says.join("two_cameras.index.json"), cam);
        // From the key frame at or before --from to the last frame before --to.
        let key = frames
            .iter()
            .filter(|(t, k)| *k && *t <= from_us)
            .map(|(t, _)| *t)
            .max()
            .unwrap();
        let expected = frames
            .iter()
            .filter(|(t, _)| *t >= key && *t < to_us)
            .count();
        let video = packets(&file, "v");
        assert_eq!(video.len(), expected, "camera {cam}");
        assert!(video[0].key, "camera {cam} starts at a key frame");
        // Audio starts with the picture (AAC: within a frame, 21 ms).
        let audio = packets(&file, "a");
        assert!(
            (audio[0].pts - video[0].pts).abs() < 0.03,
            "camera {cam}: video from {}, audio from {}",
            video[0].pts,
            audio[0].pts
        );
        // Created when its first frame was captured.
        let created = chrono::DateTime::from_timestamp((key / 1_000_000) as i64, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        assert_eq!(
            format_tag(&file, "creation_time").as_deref(),
            Some(created.as_str()),
            "camera {cam}"
        );
    }
}

#[test]
fn a_window_file_is_created_at_its_first_frame_and_keeps_every_cue() {
    // Key frames every 4 blocks (2 s): --from 07:00:06.6 is block 10.3;
    // the key frame before it is block 8 (07:00:05.454448).
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("w.psf");
    write_psf(&psf, 40, 4);
    for format in ["mp4", "mkv"] {
        let o = dir.path().join(format);
        ok(&cctv(&[
            "convert",
            "-q",
            "--format",
            format,
            s(&psf),
            "--from",
            "2021-09-01T07:00:06.6Z",
            "--to",
            "2021-09-01T07:00:11.454448Z",
            "-o",
            s(&o),
        ]));
        let file = o.join(format!("w.{format}"));
        assert_eq!(packets(&file, "v").len(), 12, "{format}: blocks 8..=19");
        assert_eq!(
            format_tag(&file, "creation_time").as_deref(),
            Some("2021-09-01T07:00:05.000000Z"),
            "{format}"
        );
        let texts = cue_texts(&srt(&file));
        assert_eq!(texts[0], "2021-09-01 07:00:05 UTC", "{format}: {texts:?}");
    }
}

#[test]
fn a_window_after_a_compacted_gap_is_found() {
    // 20 blocks, then an hour, then 20 more (block 20 at 08:00:11.454):
    // --from 08:00:14.6 is after block 26 (08:00:14.454, a key frame), so
    // the file holds blocks 26..=39.
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("g.psf");
    write_psf_with_gap(&psf, 40, 2, Some(20));
    ok(&cctv(&[
        "convert",
        "-q",
        s(&psf),
        "--from",
        "2021-09-01T08:00:14.6Z",
        "-o",
        s(dir.path()),
    ]));
    let file = dir.path().join("g.mp4");
    assert_eq!(packets(&file, "v").len(), 14, "blocks 26..=39");
    assert_eq!(cue_texts(&srt(&file))[0], "2021-09-01 08:00:14 UTC");
}

// ---- empty inputs (issue 16 item 10) ----------------------------------------

#[test]
fn a_window_without_frames_writes_nothing_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("w.psf");
    write_psf(&psf, 10, 2);
    let o = dir.path().join("out");
    let out = cctv(&[
        "convert",
        s(&psf),
        "--from",
        "2030-01-01T00:00:00Z",
        "-o",
        s(&o),
    ]);
    assert!(!out.status.success());
    assert!(files_in(&o).is_empty());
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_rf1_empty_track_writes_nothing_and_says_so() {
    let rf1 = support::shared_samples("rf1/empty_track");
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("out");
    let out = cctv(&["convert", s(&rf1), "-o", s(&o)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("no video frames"), "{err}");
    assert!(files_in(&o).is_empty(), "{:?}", files_in(&o));
}

// ---- the damage account (issue 16 item 14) ----------------------------------

/// `cctv info`'s damage line for `path`.
fn damage_line(path: &Path) -> String {
    let out = cctv(&["info", s(path)]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.trim_start().starts_with("damage:"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_last_unit_is_cut_short_only_when_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("d.psf");
    write_psf(&psf, 30, 2);
    let good = std::fs::read(&psf).unwrap();
    let starts: Vec<usize> = good
        .windows(4)
        .enumerate()
        .filter(|(_, w)| w == b"PAVS")
        .map(|(i, _)| i)
        .collect();
    // Garbage in the middle of block 10 (its header claims more than
    // what follows before block 11): the end is intact.
    let mut mid = good.clone();
    mid[starts[10] + 0x30..starts[10] + 0x60].fill(0x55);
    std::fs::write(&psf, &mid).unwrap();
    let line = damage_line(&psf);
    assert!(line.contains("damaged region"), "{line}");
    assert!(!line.contains("cut short"), "{line}");
    // A block cut in the middle of the payload checksummed, in the middle.
    let mut payload = good.clone();
    payload[starts[10] + 0x250..starts[10] + 0x260].fill(0x55);
    std::fs::write(&psf, &payload).unwrap();
    let line = damage_line(&psf);
    assert!(!line.contains("cut short"), "{line}");
    // The file ends inside the last block: cut short.
    std::fs::write(&psf, &good[..starts[29] + 0x100]).unwrap();
    let line = damage_line(&psf);
    assert!(line.contains("the last unit is cut short"), "{line}");
    // The file ends right after a whole block: no damage at all.
    std::fs::write(&psf, &good[..starts[29]]).unwrap();
    assert_eq!(damage_line(&psf).trim(), "damage: none");
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_garbage_nvr_is_not_cut_short_and_truncated_nvr_is() {
    let says = support::shared_samples("says");
    let line = damage_line(&says.join("garbage.nvr"));
    assert!(line.contains("damaged region"), "{line}");
    assert!(!line.contains("cut short"), "{line}");
    let line = damage_line(&says.join("truncated.nvr"));
    assert!(line.contains("the last unit is cut short"), "{line}");
    // A chunk in the middle of basic.nvr whose length runs past the end
    // (and one absurdly long): damage, the end is intact.
    let nvr = std::fs::read(says.join("basic.nvr")).unwrap();
    let index: Value =
        serde_json::from_slice(&std::fs::read(says.join("basic.index.json")).unwrap()).unwrap();
    let at = index["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "video")
        .nth(60)
        .unwrap()["offset"]
        .as_u64()
        .unwrap() as usize;
    let tmp = tempfile::tempdir().unwrap();
    let hostile = tmp.path().join("hostile_length.nvr");
    for len in [(nvr.len() - at + 100) as u32, 0x7fff_ffff] {
        let mut bytes = nvr.clone();
        bytes[at + 8..at + 12].copy_from_slice(&len.to_le_bytes());
        std::fs::write(&hostile, &bytes).unwrap();
        let line = damage_line(&hostile);
        assert!(line.contains("damaged region"), "{len}: {line}");
        assert!(!line.contains("cut short"), "{len}: {line}");
    }
    // video2.psf damaged in the middle (a block's header, a block's
    // payload), and cut inside its last block.
    let good = std::fs::read(support::shared_samples("pavs").join("video2.psf")).unwrap();
    let mid = good
        .windows(4)
        .enumerate()
        .skip(good.len() / 2)
        .find(|(_, w)| *w == b"PAVS")
        .map(|(i, _)| i)
        .unwrap();
    let last = good.windows(4).rposition(|w| w == b"PAVS").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("v.psf");
    for range in [mid + 0x30..mid + 0x60, mid + 0x250..mid + 0x260] {
        let mut bytes = good.clone();
        bytes[range.clone()].fill(0x55);
        std::fs::write(&psf, &bytes).unwrap();
        let line = damage_line(&psf);
        assert!(line.contains("damaged region"), "{range:?}: {line}");
        assert!(!line.contains("cut short"), "{range:?}: {line}");
    }
    std::fs::write(&psf, &good[..last + 0x300]).unwrap();
    let line = damage_line(&psf);
    assert!(line.contains("the last unit is cut short"), "{line}");
}

// ---- info spans (issue 16 item 12) -------------------------------------------

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_info_span_is_earliest_to_latest_capture_time() {
    // video2.psf's blocks are not in time order (16:58:39 first, 07:00:01
    // later in the file).
    let pavs = support::shared_samples("pavs");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(pavs.join("expected.json")).unwrap()).unwrap();
    let times: Vec<u64> = expected["video2"]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["pts_unix_ns"].as_u64().unwrap())
        .collect();
    let t = |ns: u64| {
        chrono::DateTime::from_timestamp((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    };
    let out = cctv(&["info", "--json", s(&pavs.join("video2.psf"))]);
    ok(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let st = &v[0]["streams"][0];
    assert_eq!(st["first_time"], t(*times.iter().min().unwrap()));
    assert_eq!(st["last_time"], t(*times.iter().max().unwrap()));
    let out = cctv(&["info", s(&pavs.join("video2.psf"))]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("video_9")).unwrap();
    let span = line.rsplit(", ").next().unwrap();
    let (a, b) = span.split_once(" .. ").unwrap();
    assert!(a < b, "{line}");
}

// ---- track files (issue 16 item 13) ------------------------------------------

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_rf1_track_file_converts_its_own_track() {
    let two = support::shared_samples("rf1/two_tracks");
    let dir = tempfile::tempdir().unwrap();
    let size = |p: &Path| {
        let out = run(
            "ffprobe",
            &[
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height",
                "-of",
                "csv=p=0",
                s(p),
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    for (file, wh) in [
        ("1712815946731_lowres.rf1i", "320,180"),
        ("1712815946731_video.rf1p", "640,360"),
    ] {
        let o = dir.path().join(file);
        ok(&cctv(&["convert", "-q", s(&two.join(file)), "-o", s(&o)]));
        let files = files_in(&o);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(size(&files[0]), wh, "{file}");
    }
}

// ---- messages (issue 16 item 15) --------------------------------------------

#[test]
fn messages_name_input_and_output_as_given() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    write_psf(&dir.path().join("in/a.psf"), 10, 2);
    let out = run_in(
        CCTV,
        &["convert", "in/a.psf", "-o", "out"],
        Some(dir.path()),
        &[],
    );
    let err = ok(&out);
    assert!(
        err.lines().any(|l| l == "cctv: in/a.psf -> out/a.mp4"),
        "{err}"
    );
    let abs = dir.path().to_str().unwrap();
    assert!(!err.contains(abs) && !err.contains(".part"), "{err}");
    // Damage: named once, as given.
    let mut bytes = std::fs::read(dir.path().join("in/a.psf")).unwrap();
    // Block 4's (a key frame) checksummed payload.
    let block = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PAVS")
        .map(|(i, _)| i)
        .nth(4)
        .unwrap();
    bytes[block + 0x250..block + 0x260].fill(0x55);
    std::fs::write(dir.path().join("in/b.psf"), &bytes).unwrap();
    let out = run_in(
        CCTV,
        &["convert", "-q", "in/b.psf", "-o", "out"],
        Some(dir.path()),
        &[],
    );
    let err = ok(&out);
    assert!(err.starts_with("cctv: in/b.psf: damaged"), "{err}");
    assert!(
        !err.contains(abs) && err.matches("b.psf").count() == 1,
        "{err}"
    );
}

#[test]
fn a_write_error_names_the_output_not_the_temporary_file() {
    // A file size limit (with SIGXFSZ ignored, writes fail with EFBIG).
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    write_psf(&dir.path().join("in/a.psf"), 200, 2);
    let script = format!("trap '' XFSZ; ulimit -f 8; exec {CCTV} convert -q in/a.psf -o out");
    let out = run_in("bash", &["-c", &script], Some(dir.path()), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(
        err.lines().next(),
        Some("cctv: in/a.psf: cannot write out/a.mp4: File too large"),
        "{err}"
    );
    assert!(files_in(&dir.path().join("out")).is_empty());
}

#[test]
fn reversed_from_and_to_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("a.psf");
    write_psf(&psf, 10, 2);
    let o = dir.path().join("out");
    let out = cctv(&[
        "convert",
        s(&psf),
        "--from",
        "2021-09-01T07:00:05Z",
        "--to",
        "2021-09-01T07:00:02Z",
        "-o",
        s(&o),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--from") && err.contains("is not before --to"),
        "{err}"
    );
    assert!(files_in(&o).is_empty());
}

#[test]
fn demo_without_a_recent_rust_says_what_is_needed() {
    // Two PATHs, each with only the tools the check uses: one with an
    // old Rust (fake rustc/cargo), one with none. (Never the machine's own
    // PATH: with a recent Rust the script would go on to install things.)
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    let none = dir.path().join("none");
    for bin in [&old, &none] {
        std::fs::create_dir(bin).unwrap();
        for tool in ["dirname", "awk", "sort", "head"] {
            let found = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| Path::new(d).join(tool))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("no {tool}"));
            std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
        }
    }
    for (name, text) in [
        ("rustc", "rustc 1.80.0 (abc 2024-07-21)"),
        ("cargo", "cargo 1.80.0"),
    ] {
        let p = old.join(name);
        std::fs::write(&p, format!("#!/bin/sh\necho '{text}'\n")).unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).unwrap();
    }
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo.sh");
    for (path, found) in [(&old, "found: 1.80.0"), (&none, "found: none")] {
        let path = path.to_str().unwrap();
        let out = run_in("/bin/bash", &[demo], Some(dir.path()), &[("PATH", path)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{path}: {err}");
        assert!(
            err.contains("Rust >= 1.92") && err.contains("rustup") && err.contains(found),
            "{path}: {err}"
        );
    }
}

// ---- time zones (issue 16 item 9) --------------------------------------------

#[test]
fn tz_applies_to_cues_window_and_info() {
    // 07:00:01 UTC on 2021-09-01 is 00:00:01 PDT (UTC-7, daylight saving).
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("z.psf");
    write_psf(&psf, 40, 2);
    let la = "America/Los_Angeles";
    let o = dir.path().join("la");
    ok(&cctv(&[
        "convert",
        "-q",
        "--tz",
        la,
        s(&psf),
        "--from",
        "2021-09-01 00:00:06.6",
        "--to",
        "2021-09-01 00:00:11.454448",
        "-o",
        s(&o),
    ]));
    let file = o.join("z.mp4");
    // The same window as 07:00:06.6Z .. 07:00:11.454448Z: blocks 10..=19.
    assert_eq!(packets(&file, "v").len(), 10);
    let texts = cue_texts(&srt(&file));
    assert_eq!(texts[0], "2021-09-01 00:00:06 -07:00", "{texts:?}");
    // A fixed offset, and the file stays UTC in its metadata.
    let o = dir.path().join("fixed");
    ok(&cctv(&[
        "convert",
        "-q",
        "--tz",
        "+05:30",
        s(&psf),
        "-o",
        s(&o),
    ]));
    let file = o.join("z.mp4");
    assert_eq!(cue_texts(&srt(&file))[0], "2021-09-01 12:30:01 +05:30");
    assert_eq!(
        format_tag(&file, "creation_time").as_deref(),
        Some("2021-09-01T07:00:01.000000Z")
    );
    // info: the span in the zone, text and JSON.
    let out = cctv(&["info", "--tz", la, s(&psf)]);
    let text = ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("2021-09-01T00:00:01.454448-07:00 .. 2021-09-01T00:00:20.954448-07:00"),
        "{stdout}{text}"
    );
    let out = cctv(&["info", "--json", "--tz", la, s(&psf)]);
    ok(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v[0]["streams"][0]["first_time"],
        "2021-09-01T00:00:01.454448-07:00"
    );
    // An unknown zone: an error before anything is written.
    let o = dir.path().join("bad");
    let out = cctv(&["convert", "--tz", "Mars/Olympus", s(&psf), "-o", s(&o)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("unknown time zone"),
        "{err}"
    );
    assert!(!o.exists());
}

#[test]
fn elements_show_cues_in_their_timezone_property() {
    support::init();
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("z.psf");
    write_psf(&psf, 4, 2);
    let cue = |element: &str| {
        let run = support::demux_file(element, &psf, "");
        let cues = run
            .subtitles
            .values()
            .next()
            .expect("a subtitle pad")
            .clone();
        String::from_utf8(cues[0].data.clone()).unwrap()
    };
    assert_eq!(cue("pavsdemux"), "2021-09-01 07:00:01 UTC");
    assert_eq!(
        cue("pavsdemux timezone=America/New_York"),
        "2021-09-01 03:00:01 -04:00"
    );
    assert_eq!(
        cue("pavsdemux timezone=-03:00"),
        "2021-09-01 04:00:01 -03:00"
    );
    let demux = gst::ElementFactory::make("saysdemux").build().unwrap();
    demux.set_property("timezone", "Europe/Paris");
    assert_eq!(
        demux.property::<Option<String>>("timezone").as_deref(),
        Some("Europe/Paris")
    );
    let src = gst::ElementFactory::make("rf1src").build().unwrap();
    src.set_property("timezone", "+02:00");
    assert_eq!(
        src.property::<Option<String>>("timezone").as_deref(),
        Some("+02:00")
    );
    // An unknown zone is refused (a warning) and the setting kept.
    src.set_property("timezone", "Mars/Olympus");
    assert_eq!(
        src.property::<Option<String>>("timezone").as_deref(),
        Some("+02:00")
    );
    src.set_property("timezone", None::<&str>);
    assert_eq!(src.property::<Option<String>>("timezone"), None);
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_nvr_and_rf1_cues_follow_tz() {
    let says = support::shared_samples("says");
    let rf1 = support::shared_samples("rf1/archive_dir/camera-0001");
    let dir = tempfile::tempdir().unwrap();
    // basic.nvr states UTC-4; --tz wins.
    ok(&cctv(&[
        "convert",
        "-q",
        "--tz",
        "UTC",
        s(&says.join("basic.nvr")),
        "-o",
        s(dir.path()),
    ]));
    let t = cue_texts(&srt(&dir.path().join("basic.mp4")));
    assert!(t[0].starts_with("2021-04-16 14:03:26 UTC  "), "{t:?}");
    // rf1 (no zone of its own): the README's window, in +02:00.
    let o = dir.path().join("rf1");
    ok(&cctv(&[
        "convert",
        "-q",
        "--tz",
        "+02:00",
        s(&rf1),
        "--from",
        "2024-04-11 08:12:40",
        "--to",
        "2024-04-11 08:13:05",
        "-o",
        s(&o),
    ]));
    // From the key frame at or before 06:12:40 UTC (frame 120, 06:12:38.731).
    let file = o.join("camera-0001.mp4");
    let t = cue_texts(&srt(&file));
    assert_eq!(t[0], "2024-04-11 08:12:38 +02:00", "{t:?}");
    assert_eq!(packets(&file, "v").len(), 263);
}

#[test]
fn split_runs_start_at_their_own_key_frame() {
    // Blocks 0..=20, an hour, blocks 21..=39 (key frames on even blocks):
    // the second run starts with a P frame, which needs block 20: it stays
    // with the first run (its gap compacted) and the second file starts at
    // block 22, not at block 20 an hour before; no frame is lost or doubled.
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("s.psf");
    write_psf_with_gap(&psf, 40, 2, Some(21));
    let o = dir.path().join("out");
    ok(&cctv(&[
        "convert",
        "-q",
        "--gaps",
        "split",
        s(&psf),
        "-o",
        s(&o),
    ]));
    let parts = files_in(&o);
    assert_eq!(parts.len(), 2, "{parts:?}");
    let first = packets(&parts[0], "v");
    assert_eq!(first.len(), 22);
    let first_end = first.iter().map(|p| p.pts + p.duration).fold(0.0, f64::max);
    assert!(first_end < 15.0, "first part lasts {first_end} s");
    let second = packets(&parts[1], "v");
    assert_eq!(second.len(), 18);
    let end = second
        .iter()
        .map(|p| p.pts + p.duration)
        .fold(0.0, f64::max);
    assert!(end < 15.0, "second part lasts {end} s");
}
