// SPDX-License-Identifier: MIT
//! Cases, not files (#18): `cctv convert` of a folder writes one output per
//! camera, its files joined in capture order (every frame of every file
//! once, bit-exact, rising times, the audio of every file), duplicates used
//! once, windows across file boundaries exact per camera; `--per-file`
//! keeps one output per input; every output passes `cctv verify`.

mod support;

use gstcctv::formats::pavs::writer::Recording;
use gstcctv::formats::says::writer::{
    AudioCodec, HeaderSpec, PictureChunks, SaysWriter, camera_entry,
};
use gstcctv::formats::says::{MetaEntry, MetaValue};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CCTV: &str = env!("CARGO_BIN_EXE_cctv");
const LIMIT: Duration = Duration::from_secs(180);
/// 2021-09-01 07:00:00 UTC.
const T0: u64 = 1_630_479_600_000_000_000;
const S: u64 = 1_000_000_000;

fn run(program: &str, args: &[&str]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let deadline = Instant::now() + LIMIT;
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).ok();
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).ok();
        v
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{program} {args:?} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t1.join().expect("stdout thread"),
        stderr: t2.join().expect("stderr thread"),
    }
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

/// A `.psf` of one camera, frames every 0.5 s, a key frame every 10.
fn psf(dir: &Path, name: &str, channel: u8, camera: &str, start: u64, frames: u64) -> PathBuf {
    let path = dir.join(name);
    Recording::backup_camera(channel, camera, start, frames)
        .write_file(&path)
        .unwrap();
    path
}

/// A dashcam `.nvr` (device serial `serial`): two cameras, 10 frames a
/// second each (a key frame every 10, SPS/PPS in it), mu-law audio on
/// stream 0 every 0.1 s, for `seconds` from `start_us`.
fn nvr(path: &Path, serial: &str, start_us: u64, seconds: u64, seed: u32) {
    nvr_with(path, serial, start_us, seconds, seed, true)
}

/// [`nvr`], with or without its audio.
fn nvr_with(path: &Path, serial: &str, start_us: u64, seconds: u64, seed: u32, audio: bool) {
    let header = HeaderSpec::recorder(
        path.file_name().unwrap().to_string_lossy(),
        "v1.6.5",
        [
            MetaEntry::new("serial", MetaValue::Str(serial.into())),
            MetaEntry::new("startTime", MetaValue::I64((start_us / 1000) as i64)),
            camera_entry(0, "Road", 176, 144, 10),
            camera_entry(1, "Cabin", 176, 144, 10),
        ],
    );
    let file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut w = SaysWriter::new(file, &header).expect("header");
    let mut pictures = PictureChunks::new(176, 144).expect("size");
    for f in 0..(seconds * 10) as u32 {
        let ts = start_us + u64::from(f) * 100_000;
        // 800 samples of 8 kHz mu-law: 0.1 s.
        let samples: Vec<u8> = (0..800u32)
            .map(|n| ((n * 7 + f * 13 + seed) % 251) as u8 | 1)
            .collect();
        if audio {
            w.write_audio(0, AudioCodec::Mulaw, ts, &samples, false)
                .expect("audio");
        }
        for cam in 0..2u8 {
            let key = f % 10 == 0;
            let meta = vec![MetaEntry::new(
                "ts",
                MetaValue::I64(((ts + u64::from(cam)) / 1000) as i64),
            )];
            let picture = f + seed + u32::from(cam) * 1000;
            pictures
                .write(&mut w, cam, key, ts + u64::from(cam), &meta, picture)
                .expect("video");
        }
    }
    w.flush().expect("flush");
}

/// The media files in `dir` (not the evidence beside them), sorted.
fn outputs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".mp4") || n.ends_with(".mkv"))
        .collect();
    v.sort();
    v
}

/// One row of a frame table.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    recorded: String,
    pts: f64,
    source: usize,
    offset: u64,
    digest: String,
}

/// The video rows of `NAME.frames.tsv` beside `mp4`, and the manifest's
/// input paths (what `source` indexes).
fn table(mp4: &Path) -> (Vec<Row>, Vec<String>) {
    let tsv = std::fs::read_to_string(mp4.with_extension("frames.tsv")).unwrap();
    let mut lines = tsv.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (c_rec, c_pts, c_src, c_off, c_dig, c_stream) = (
        col("recorded_time"),
        col("pts_s"),
        col("source"),
        col("offset"),
        col("slice_sha256"),
        col("stream"),
    );
    let rows = lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f[c_stream].starts_with("video"))
        .map(|f| Row {
            recorded: f[c_rec].to_string(),
            pts: f[c_pts].parse().unwrap(),
            source: f[c_src].parse().unwrap(),
            offset: f[c_off].parse().unwrap(),
            digest: f[c_dig].to_string(),
        })
        .collect();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(mp4.with_extension("manifest.json")).unwrap())
            .unwrap();
    let inputs = manifest["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap().to_string())
        .collect();
    (rows, inputs)
}

/// Per stream kind: packet times (s) as ffprobe reads them.
fn packets(path: &Path) -> BTreeMap<String, Vec<f64>> {
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "packet=codec_type,pts_time",
            "-of",
            "json",
            s(path),
        ],
    );
    assert!(out.status.success(), "ffprobe {}", path.display());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut m: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for p in v["packets"].as_array().unwrap() {
        m.entry(p["codec_type"].as_str().unwrap().to_string())
            .or_default()
            .push(p["pts_time"].as_str().unwrap().parse().unwrap());
    }
    m
}

fn rising(times: &[f64]) -> bool {
    times.windows(2).all(|w| w[1] > w[0])
}

fn verify(dir: &Path) {
    let manifests: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".manifest.json"))
        .collect();
    assert!(!manifests.is_empty());
    let mut args = vec!["verify"];
    args.extend(manifests.iter().map(|p| s(p)));
    ok(&cctv(&args));
}

/// The VMax backup of the issue: three consecutive files of camera 9 named
/// out of time order, a copy of one of them, and a file of camera 3.
struct Backup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// Camera 9's files in capture order.
    alley: [PathBuf; 3],
    door: PathBuf,
}

fn backup() -> Backup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("backup");
    std::fs::create_dir(&root).unwrap();
    let a = psf(&root, "c.psf", 9, "ALLEY", T0, 120);
    let b = psf(&root, "a.psf", 9, "ALLEY", T0 + 60 * S, 120);
    let c = psf(&root, "b.psf", 9, "ALLEY", T0 + 120 * S, 120);
    std::fs::copy(&b, root.join("copy-of-a.psf")).unwrap();
    let door = psf(&root, "door.psf", 3, "DOOR", T0 + 30 * S, 60);
    Backup {
        root,
        alley: [a, b, c],
        door,
        _dir: dir,
    }
}

#[test]
fn a_backup_folder_gives_one_output_per_camera_joined_in_capture_order() {
    let b = backup();
    let out = b.root.parent().unwrap().join("out");
    let err = ok(&cctv(&["convert", s(&b.root), "-o", s(&out)]));
    // Two cameras, two outputs; the copy used once and said so.
    assert_eq!(outputs(&out), ["c_cam9.mp4", "door.mp4"], "{err}");
    assert!(
        err.contains("copy-of-a.psf") && err.contains("used once"),
        "{err}"
    );
    let joined = out.join("c_cam9.mp4");
    let (rows, inputs) = table(&joined);
    let want: Vec<String> = b.alley.iter().map(|p| s(p).to_string()).collect();
    assert_eq!(inputs, want, "inputs in capture order");
    // Every frame of every file once, in capture order, from its file.
    assert_eq!(rows.len(), 360);
    for (k, r) in rows.iter().enumerate() {
        assert_eq!(r.source, k / 120, "frame {k}");
    }
    assert!(rows.windows(2).all(|w| w[1].recorded > w[0].recorded));
    assert!(rows.windows(2).all(|w| w[1].pts > w[0].pts));
    // Bit-exact: the same slices as each file converted on its own.
    let single = b.root.parent().unwrap().join("single");
    ok(&cctv(&[
        "convert",
        "-q",
        "--per-file",
        s(&b.root),
        "-o",
        s(&single),
    ]));
    let mut expected = Vec::new();
    for f in &b.alley {
        let stem = f.file_stem().unwrap().to_str().unwrap();
        let (r, _) = table(&single.join(format!("{stem}.mp4")));
        assert_eq!(r.len(), 120);
        expected.extend(r.into_iter().map(|r| (r.offset, r.digest)));
    }
    let got: Vec<(u64, String)> = rows.iter().map(|r| (r.offset, r.digest.clone())).collect();
    assert_eq!(got, expected);
    // The file read independently: 360 frames at rising times, 0.5 s apart
    // across the joins (the files follow each other).
    let p = packets(&joined);
    let v = &p["video"];
    assert_eq!(v.len(), 360);
    assert!(rising(v));
    assert!(
        (v[120] - v[119] - 0.5).abs() < 1e-3,
        "{} {}",
        v[119],
        v[120]
    );
    assert!((v[359] - 179.5).abs() < 1e-3, "{}", v[359]);
    let (door_rows, door_inputs) = table(&out.join("door.mp4"));
    assert_eq!(door_rows.len(), 60);
    assert_eq!(door_inputs, [s(&b.door).to_string()]);
    verify(&out);
}

#[test]
fn per_file_keeps_one_output_per_input() {
    let b = backup();
    let out = b.root.parent().unwrap().join("out");
    ok(&cctv(&[
        "convert",
        "-q",
        "--per-file",
        s(&b.root),
        "-o",
        s(&out),
    ]));
    assert_eq!(
        outputs(&out),
        ["a.mp4", "b.mp4", "c.mp4", "copy-of-a.mp4", "door.mp4"]
    );
    for n in ["a", "b", "c", "copy-of-a"] {
        assert_eq!(table(&out.join(format!("{n}.mp4"))).0.len(), 120, "{n}");
    }
    // One file converts as it always did, case or not.
    let one = b.root.parent().unwrap().join("one");
    ok(&cctv(&["convert", "-q", s(&b.alley[0]), "-o", s(&one)]));
    assert_eq!(outputs(&one), ["c.mp4"]);
}

#[test]
fn a_window_across_a_file_boundary_is_exact_for_every_camera() {
    // Two cameras x four consecutive 60 s files each.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("case");
    std::fs::create_dir(&root).unwrap();
    for k in 0..4u64 {
        psf(
            &root,
            &format!("alley{k}.psf"),
            9,
            "ALLEY",
            T0 + k * 60 * S,
            120,
        );
        psf(
            &root,
            &format!("door{k}.psf"),
            3,
            "DOOR",
            T0 + k * 60 * S,
            120,
        );
    }
    let all = dir.path().join("all");
    ok(&cctv(&["convert", "-q", s(&root), "-o", s(&all)]));
    assert_eq!(outputs(&all), ["alley0_cam9.mp4", "door0_cam3.mp4"]);
    for o in outputs(&all) {
        assert_eq!(table(&all.join(&o)).0.len(), 480, "{o}");
    }
    // 07:00:52.2 .. 07:01:07: from the key frame at 07:00:50 (every 5 s)
    // in the first file to the last frame before 07:01:07 in the second.
    let w = dir.path().join("window");
    ok(&cctv(&[
        "convert",
        "-q",
        s(&root),
        "--from",
        "2021-09-01T07:00:52.2Z",
        "--to",
        "2021-09-01T07:01:07Z",
        "-o",
        s(&w),
    ]));
    assert_eq!(outputs(&w), ["alley0_cam9.mp4", "door0_cam3.mp4"]);
    for (o, first) in [("alley0_cam9.mp4", "alley0"), ("door0_cam3.mp4", "door0")] {
        let (rows, inputs) = table(&w.join(o));
        // Only the two files the window touches are inputs.
        assert_eq!(
            inputs,
            [
                s(&root.join(format!("{first}.psf"))).to_string(),
                s(&root.join(format!("{}1.psf", &first[..first.len() - 1]))).to_string()
            ]
        );
        assert_eq!(rows.len(), 34, "{o}");
        assert_eq!(rows[0].recorded, "2021-09-01T07:00:50.000000Z");
        assert_eq!(rows[19].recorded, "2021-09-01T07:00:59.500000Z");
        assert_eq!(rows[20].recorded, "2021-09-01T07:01:00.000000Z");
        assert_eq!(rows[33].recorded, "2021-09-01T07:01:06.500000Z");
        assert_eq!((rows[19].source, rows[20].source), (0, 1));
        let v = &packets(&w.join(o))["video"];
        assert_eq!(v.len(), 34);
        assert!(rising(v), "{v:?}");
        assert!((v[20] - v[19] - 0.5).abs() < 1e-3, "{v:?}");
    }
    verify(&w);
    // A camera by name; a window no camera covers is an error.
    let named = dir.path().join("named");
    ok(&cctv(&[
        "convert",
        "-q",
        "--camera",
        "door",
        s(&root),
        "--from",
        "2021-09-01T07:03:55Z",
        "-o",
        s(&named),
    ]));
    // Inside one file: that file, converted as on its own.
    assert_eq!(outputs(&named), ["door3.mp4"]);
    assert_eq!(table(&named.join("door3.mp4")).0.len(), 10);
    let none = cctv(&[
        "convert",
        s(&root),
        "--from",
        "2021-09-01T08:00:00Z",
        "--to",
        "2021-09-01T08:01:00Z",
        "-o",
        s(&dir.path().join("none")),
    ]);
    assert!(!none.status.success());
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(
        err.contains("no camera has frames between --from and --to"),
        "{err}"
    );
}

#[test]
fn a_camera_partly_in_the_window_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("case");
    std::fs::create_dir(&root).unwrap();
    for k in 0..2u64 {
        psf(
            &root,
            &format!("alley{k}.psf"),
            9,
            "ALLEY",
            T0 + k * 60 * S,
            120,
        );
    }
    // Camera 3 stops at 07:01:00; the window goes on to 07:01:30.
    psf(&root, "door.psf", 3, "DOOR", T0, 120);
    let w = dir.path().join("w");
    ok(&cctv(&[
        "convert",
        "-q",
        s(&root),
        "--from",
        "2021-09-01T07:00:50Z",
        "--to",
        "2021-09-01T07:01:30Z",
        "-o",
        s(&w),
    ]));
    assert_eq!(outputs(&w), ["alley0_cam9.mp4", "door.mp4"]);
    assert_eq!(table(&w.join("alley0_cam9.mp4")).0.len(), 80);
    assert_eq!(table(&w.join("door.mp4")).0.len(), 20);
}

#[test]
fn four_dashcam_files_of_two_cameras_give_two_outputs_with_all_the_audio() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("dashcam");
    std::fs::create_dir(&root).unwrap();
    // Four consecutive 8 s files.
    let t0 = 1_700_000_000_000_000u64;
    for k in 0..4u64 {
        nvr(
            &root.join(format!("2023111{k}.nvr")),
            "SN-4711",
            t0 + k * 8_000_000,
            8,
            k as u32,
        );
    }
    let out = dir.path().join("out");
    ok(&cctv(&["convert", "-q", s(&root), "-o", s(&out)]));
    assert_eq!(
        outputs(&out),
        ["20231110_cam0.mp4", "20231110_cam1.mp4"],
        "one output per camera"
    );
    for o in outputs(&out) {
        let f = out.join(&o);
        let (rows, inputs) = table(&f);
        assert_eq!(inputs.len(), 4);
        assert_eq!(rows.len(), 320, "{o}");
        for (k, r) in rows.iter().enumerate() {
            assert_eq!(r.source, k / 80, "{o} frame {k}");
        }
        let p = packets(&f);
        assert_eq!(p["video"].len(), 320);
        assert!(rising(&p["video"]));
        // AAC of every file's sound: 32 s (± one AAC frame per join).
        let a = &p["audio"];
        assert!(rising(a));
        let span = a.last().unwrap() - a[0];
        assert!((span - 32.0).abs() < 0.6, "audio spans {span} s");
    }
    verify(&out);
}

#[test]
fn info_of_a_folder_shows_the_cameras_of_the_case() {
    let b = backup();
    let out = cctv(&["info", s(&b.root)]);
    let text = ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("case: 2 camera(s)"), "{stdout}{text}");
    assert!(stdout.contains("ALLEY [09]"), "{stdout}");
    assert!(stdout.contains("3 file(s)"), "{stdout}");
    assert!(stdout.contains("copy-of-a.psf"), "{stdout}");
    let json = cctv(&["info", "--json", "--case", s(&b.root)]);
    ok(&json);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    let cams = v["cameras"].as_array().unwrap();
    assert_eq!(cams.len(), 2);
    let alley = cams.iter().find(|c| c["name"] == "ALLEY [09]").unwrap();
    assert_eq!(alley["id"], "pavs-alley-09-video_9");
    assert_eq!(alley["frames"], 360);
    assert_eq!(alley["files"].as_array().unwrap().len(), 3);
    assert_eq!(alley["duplicates"].as_array().unwrap().len(), 1);
    assert_eq!(alley["first_time"], "2021-09-01T07:00:00.000000Z");
    assert_eq!(alley["last_time"], "2021-09-01T07:02:59.500000Z");
    assert_eq!(v["files"].as_array().unwrap().len(), 5);
    // Without --case: the per-file array as before.
    let plain = cctv(&["info", "--json", s(&b.root)]);
    let v: Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
}

/// A real recording cut in two at a key frame (the second part with the
/// `.nvr` file header, as a recorder starts each file) joins back into the
/// whole: the same frames, bit-exact and in order, as the whole file
/// converted on its own, with the audio of both parts.
#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn real_samples_cut_in_two_join_back_into_the_whole() {
    let samples = support::shared_samples("");
    let dir = tempfile::tempdir().unwrap();
    // .psf: blocks back to back; cut at the 9th block (a key frame).
    let expected: Value =
        serde_json::from_slice(&std::fs::read(samples.join("pavs/expected.json")).unwrap())
            .unwrap();
    let blocks = expected["video1"]["blocks"].as_array().unwrap();
    let cut = blocks.iter().skip(8).find(|b| b["key"] == true).unwrap()["offset"]
        .as_u64()
        .unwrap() as usize;
    let psf = std::fs::read(samples.join("pavs/video1.psf")).unwrap();
    // .nvr: the 64 KiB header, then chunks; cut at the key video chunk
    // nearest the middle.
    let index: Value =
        serde_json::from_slice(&std::fs::read(samples.join("says/basic.index.json")).unwrap())
            .unwrap();
    let chunks = index["chunks"].as_array().unwrap();
    let ncut = chunks
        .iter()
        .skip(chunks.len() / 2)
        .find(|c| c["kind"] == "video" && c["key"] == true)
        .unwrap()["offset"]
        .as_u64()
        .unwrap() as usize;
    let nvr = std::fs::read(samples.join("says/basic.nvr")).unwrap();
    for (name, whole, head, tail, ext) in [
        (
            "video1",
            &psf,
            psf[..cut].to_vec(),
            psf[cut..].to_vec(),
            "psf",
        ),
        (
            "basic",
            &nvr,
            nvr[..ncut].to_vec(),
            [&nvr[..65536], &nvr[ncut..]].concat(),
            "nvr",
        ),
    ] {
        let case = dir.path().join(format!("{name}-case"));
        std::fs::create_dir(&case).unwrap();
        // Named against their time order: the catalog orders them.
        std::fs::write(case.join(format!("z_first.{ext}")), &head).unwrap();
        std::fs::write(case.join(format!("a_second.{ext}")), &tail).unwrap();
        let one = dir.path().join(format!("{name}.{ext}"));
        std::fs::write(&one, whole).unwrap();
        let joined = dir.path().join(format!("{name}-joined"));
        let single = dir.path().join(format!("{name}-single"));
        ok(&cctv(&["convert", "-q", s(&case), "-o", s(&joined)]));
        ok(&cctv(&["convert", "-q", s(&one), "-o", s(&single)]));
        let outs = outputs(&joined);
        assert_eq!(outs.len(), 1, "{name}: {outs:?}");
        assert!(outs[0].starts_with("z_first_cam"), "{name}: {outs:?}");
        let (rows, inputs) = table(&joined.join(&outs[0]));
        assert_eq!(inputs.len(), 2, "{name}");
        let (whole_rows, _) = table(&single.join(&outputs(&single)[0]));
        let digests = |r: &[Row]| r.iter().map(|r| r.digest.clone()).collect::<Vec<_>>();
        assert_eq!(digests(&rows), digests(&whole_rows), "{name}: frames");
        let recorded = |r: &[Row]| r.iter().map(|r| r.recorded.clone()).collect::<Vec<_>>();
        assert_eq!(recorded(&rows), recorded(&whole_rows), "{name}: times");
        assert!(rows.windows(2).all(|w| w[1].source >= w[0].source));
        assert!(rows.iter().any(|r| r.source == 1), "{name}");
        let p = packets(&joined.join(&outs[0]));
        assert!(rising(&p["video"]), "{name}");
        if ext == "nvr" {
            // The sound of both parts: as long as the whole's, within an
            // AAC frame at the join.
            let q = packets(&single.join(&outputs(&single)[0]));
            let span = |a: &[f64]| a.last().unwrap() - a[0];
            assert!(
                (span(&p["audio"]) - span(&q["audio"])).abs() < 0.15,
                "{} vs {}",
                span(&p["audio"]),
                span(&q["audio"])
            );
        }
        verify(&joined);
    }
}

/// Two recordings of one camera that overlap (a long export and a short
/// one inside it): a window after the short one's end is in the long one
/// only, which starts first. Picking files by their starts alone took the
/// short one (the last to start before the window) and found nothing.
#[test]
fn a_window_inside_a_long_recording_that_another_overlaps_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("case");
    std::fs::create_dir(&root).unwrap();
    // 07:00:00 .. 07:01:00, and 07:00:10 .. 07:00:20.
    psf(&root, "long.psf", 9, "ALLEY", T0, 120);
    psf(&root, "short.psf", 9, "ALLEY", T0 + 10 * S, 20);
    let w = dir.path().join("w");
    ok(&cctv(&[
        "convert",
        "-q",
        s(&root),
        "--from",
        "2021-09-01T07:00:40Z",
        "--to",
        "2021-09-01T07:00:45Z",
        "-o",
        s(&w),
    ]));
    assert_eq!(outputs(&w), ["long.mp4"]);
    // 07:00:40 .. 07:00:44.5, two frames a second.
    assert_eq!(table(&w.join("long.mp4")).0.len(), 10);
}

/// A window over a folder finds every file that holds frames in it, even
/// one whose clock runs backwards (the VMax sample video2.psf: 16:58 down
/// to 07:00, so it starts after the window and ends inside it): the
/// folder's export of the window has the same frames as each file's.
#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn a_window_over_a_folder_finds_a_file_whose_clock_runs_backwards() {
    let pavs = support::shared_samples("pavs");
    let dir = tempfile::tempdir().unwrap();
    let window = [
        "--from",
        "2021-09-01T07:00:00Z",
        "--to",
        "2021-09-01T07:00:10Z",
    ];
    let folder = dir.path().join("folder");
    let mut args = vec!["convert", "-q", s(&pavs), "-o", s(&folder)];
    args.extend_from_slice(&window);
    ok(&cctv(&args));
    let each = dir.path().join("each");
    for f in ["video1.psf", "video2.psf", "video3.psf"] {
        let input = pavs.join(f);
        let mut args = vec!["convert", "-q", s(&input), "-o", s(&each)];
        args.extend_from_slice(&window);
        ok(&cctv(&args));
    }
    let names = outputs(&each);
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(outputs(&folder), names);
    for n in &names {
        let digests = |d: &Path| {
            table(&d.join(n))
                .0
                .iter()
                .map(|r| (r.recorded.clone(), r.digest.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(digests(&folder), digests(&each), "{n}");
    }
}

/// Many short files (shorter than the muxer's queues) join without
/// stalling while only a few are open at a time: every frame and the
/// sound of every file.
#[test]
fn many_short_files_join_with_only_a_few_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("short");
    std::fs::create_dir(&root).unwrap();
    let t0 = 1_700_000_000_000_000u64;
    for k in 0..24u64 {
        nvr(
            &root.join(format!("d{k:02}.nvr")),
            "SN-9",
            t0 + k * 1_000_000,
            1,
            k as u32,
        );
    }
    for k in 0..30u64 {
        psf(&root, &format!("p{k:02}.psf"), 5, "GATE", T0 + k * 2 * S, 4);
    }
    let out = dir.path().join("out");
    ok(&cctv(&["convert", "-q", s(&root), "-o", s(&out)]));
    assert_eq!(
        outputs(&out),
        ["d00_cam0.mp4", "d00_cam1.mp4", "p00_cam5.mp4"]
    );
    assert_eq!(table(&out.join("p00_cam5.mp4")).0.len(), 120);
    for o in ["d00_cam0.mp4", "d00_cam1.mp4"] {
        let (rows, inputs) = table(&out.join(o));
        assert_eq!((rows.len(), inputs.len()), (240, 24), "{o}");
        let p = packets(&out.join(o));
        assert!(rising(&p["video"]) && rising(&p["audio"]));
        let span = p["audio"].last().unwrap() - p["audio"][0];
        assert!((span - 24.0).abs() < 0.6, "audio spans {span} s");
    }
    verify(&out);
}

/// The video times of camera `camera` of `dir` as the engine's camera
/// timeline plays it (what `cctvsrc` and the VLC module give), from 0.
fn played(dir: &Path, camera: &str, max_gap: Option<u64>) -> Vec<f64> {
    use gstcctv::engine::camera_timeline::{CaseOptions, open_case};
    use gstcctv::engine::{Source, SourceEvent, StreamKind};
    let options = CaseOptions {
        camera: Some(camera.into()),
        max_gap,
        ..CaseOptions::default()
    };
    let mut opened = open_case(dir, &options, |f| f).unwrap();
    let mut video = Vec::new();
    let mut times = Vec::new();
    loop {
        match opened.timeline.next().unwrap() {
            SourceEvent::StreamsFound(infos) => video.extend(
                infos
                    .iter()
                    .filter(|i| i.id.kind == StreamKind::Video)
                    .map(|i| i.id),
            ),
            SourceEvent::Packet(p) if video.contains(&p.stream) => {
                times.push(p.pts.unwrap() as f64 / 1e9);
            }
            SourceEvent::End => break,
            _ => {}
        }
    }
    let first = times[0];
    times.iter().map(|t| t - first).collect()
}

/// The gaps policy applies between files as within one (#18.2): a joined
/// export keeps a pause of 3 s between two files (up to the 10 s of
/// `--gaps compact`), compacts one of 15 s (the next file right after the
/// last frame), keeps it with `--gaps keep`; the same times as the
/// camera's timeline plays, the frames bit-exact; a window across the
/// pause is exact from the key frame at or before --from.
#[test]
fn pauses_between_files_follow_the_gaps_policy_as_playback_does() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("case");
    std::fs::create_dir(&root).unwrap();
    // 60 s each: 07:00:00, then 3 s after the first ends (07:01:03), then
    // 15 s after the second ends (07:02:18).
    let files = [
        psf(&root, "a.psf", 9, "ALLEY", T0, 120),
        psf(&root, "b.psf", 9, "ALLEY", T0 + 63 * S, 120),
        psf(&root, "c.psf", 9, "ALLEY", T0 + 138 * S, 120),
    ];
    for (gaps, second, third, max_gap) in [
        ("compact", 63.0, 123.0, Some(10 * S)),
        ("keep", 63.0, 138.0, None),
    ] {
        let out = dir.path().join(gaps);
        ok(&cctv(&[
            "convert",
            "-q",
            "--gaps",
            gaps,
            s(&root),
            "-o",
            s(&out),
        ]));
        assert_eq!(outputs(&out), ["a_cam9.mp4"], "{gaps}");
        let mp4 = out.join("a_cam9.mp4");
        let v = &packets(&mp4)["video"];
        assert_eq!(v.len(), 360, "{gaps}");
        assert!(rising(v), "{gaps}");
        let at = |k: usize| v[k] - v[0];
        assert!((at(119) - 59.5).abs() < 1e-3, "{gaps}: {}", at(119));
        assert!((at(120) - second).abs() < 1e-3, "{gaps}: {}", at(120));
        assert!((at(240) - third).abs() < 1e-3, "{gaps}: {}", at(240));
        // As the camera's timeline plays it.
        let p = played(&root, "9", max_gap);
        assert_eq!(p.len(), 360);
        for (k, (a, b)) in v.iter().map(|t| t - v[0]).zip(&p).enumerate() {
            assert!((a - b).abs() < 1e-3, "{gaps}: frame {k}: {a} vs {b}");
        }
        // Bit-exact, every file's frames once, from its file.
        let (rows, inputs) = table(&mp4);
        assert_eq!(
            inputs,
            files.iter().map(|f| s(f).to_string()).collect::<Vec<_>>()
        );
        assert_eq!(rows.len(), 360);
        for (k, r) in rows.iter().enumerate() {
            assert_eq!(r.source, k / 120, "frame {k}");
            assert!(
                (r.pts - rows[0].pts - at(k)).abs() < 1e-3,
                "{gaps}: table pts {k}"
            );
        }
        verify(&out);
    }
    // 07:00:57.2 .. 07:01:10: from the key frame at 07:00:55 in the first
    // file, across the 3 s pause, to 07:01:09.5 in the second.
    let w = dir.path().join("window");
    ok(&cctv(&[
        "convert",
        "-q",
        s(&root),
        "--from",
        "2021-09-01T07:00:57.2Z",
        "--to",
        "2021-09-01T07:01:10Z",
        "-o",
        s(&w),
    ]));
    assert_eq!(outputs(&w), ["a_cam9.mp4"]);
    let (rows, inputs) = table(&w.join("a_cam9.mp4"));
    assert_eq!(inputs.len(), 2);
    assert_eq!(rows.len(), 24);
    assert_eq!(rows[0].recorded, "2021-09-01T07:00:55.000000Z");
    assert_eq!(rows[9].recorded, "2021-09-01T07:00:59.500000Z");
    assert_eq!(rows[10].recorded, "2021-09-01T07:01:03.000000Z");
    assert_eq!(rows[23].recorded, "2021-09-01T07:01:09.500000Z");
    let v = &packets(&w.join("a_cam9.mp4"))["video"];
    assert_eq!(v.len(), 24);
    assert!((v[10] - v[0] - 8.0).abs() < 1e-3, "{v:?}");
    verify(&w);
}

/// The video and audio packet times (s) of a joined dashcam camera 0 of
/// `files` 4 s files (audio in those `with_audio` says), consecutive, and
/// what `cctv convert` said.
fn joined_dashcam(dir: &Path, case: &str, with_audio: &[bool]) -> (Vec<f64>, Vec<f64>, String) {
    let t0 = 1_700_000_000_000_000u64;
    let root = dir.join(case);
    std::fs::create_dir(&root).unwrap();
    for (k, audio) in with_audio.iter().enumerate() {
        nvr_with(
            &root.join(format!("d{k}.nvr")),
            "SN-5",
            t0 + k as u64 * 4_000_000,
            4,
            k as u32,
            *audio,
        );
    }
    let out = dir.join(format!("{case}-out"));
    let err = ok(&cctv(&[
        "convert",
        "--camera",
        "0",
        s(&root),
        "-o",
        s(&out),
    ]));
    assert_eq!(outputs(&out), ["d0_cam0.mp4"], "{case}: {err}");
    let mp4 = out.join("d0_cam0.mp4");
    let (rows, inputs) = table(&mp4);
    assert_eq!(
        (rows.len(), inputs.len()),
        (40 * with_audio.len(), with_audio.len()),
        "{case}"
    );
    verify(&out);
    let mut p = packets(&mp4);
    let v = p.remove("video").unwrap();
    assert_eq!(v.len(), 40 * with_audio.len(), "{case}");
    assert!(rising(&v), "{case}");
    (v, p.remove("audio").unwrap_or_default(), err)
}

/// The AAC frames of `audio` (s) that start in `[from, to)`, checked to
/// cover that stretch of sound (4 s of 8 kHz mu-law per file): the first
/// at `from` (the encoder starts a frame there: sound that resumes after a
/// pause is not glued to the frame before it), as many frames as the
/// sound lasts (and the encoder's priming and last partial frame: up to 2
/// more).
fn sound_at(case: &str, audio: &[f64], frame: f64, from: f64, to: f64) {
    let inside: Vec<f64> = audio
        .iter()
        .copied()
        .filter(|t| *t >= from - frame && *t < to)
        .collect();
    assert!(
        !inside.is_empty(),
        "{case}: no sound at {from} s: {audio:?}"
    );
    assert!(
        (inside[0] - from).abs() <= 0.002,
        "{case}: sound at {} s, not {from} s",
        inside[0]
    );
    let want = (to - from) / frame;
    assert!(
        inside.len() as f64 >= want - 0.5 && inside.len() as f64 <= want + 2.5,
        "{case}: {} AAC frames for {} s of sound ({want:.1} expected)",
        inside.len(),
        to - from
    );
}

/// The audio of every file of a joined camera is converted, at its place
/// against the pictures (#18: "the audio of every file"): sound that stops
/// after the first file; sound that starts in the third file only (the
/// camera's first file has none: the output still has the audio track,
/// its first sample at the third file's first picture); sound in the first
/// and third files, none in the second. None of them stalls the muxer.
#[test]
fn audio_in_only_some_files_of_a_camera_is_joined_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    for (case, with_audio) in [
        ("stops", [true, false, false]),
        ("starts", [false, false, true]),
        ("resumes", [true, false, true]),
    ] {
        let (v, a, err) = joined_dashcam(dir.path(), case, &with_audio);
        assert!(!err.contains("not converted"), "{case}: {err}");
        assert!(a.len() > 2, "{case}: no audio track");
        assert!(rising(&a), "{case}");
        // One AAC frame: the spacing of the encoder's packets.
        let frame = a.windows(2).map(|w| w[1] - w[0]).fold(f64::MAX, f64::min);
        assert!(
            frame > 0.01 && frame < 0.2,
            "{case}: AAC frames of {frame} s"
        );
        let mut sounded = 0;
        for (k, audio) in with_audio.iter().enumerate() {
            // The file's pictures: 40 from its start (0.1 s apart).
            let (from, to) = (v[40 * k], v[40 * k + 39] + 0.1);
            if *audio {
                sound_at(case, &a, frame, from, to);
                sounded += 1;
            } else {
                // No sound where the file has none (the AAC frame that
                // straddles its start aside).
                let stray: Vec<&f64> = a
                    .iter()
                    .filter(|t| **t >= from + frame && **t < to - frame)
                    .collect();
                assert!(stray.is_empty(), "{case}: sound in file {k}: {stray:?}");
            }
        }
        // Nothing else: every AAC frame is one of a file with sound.
        let total = sounded as f64 * 4.0 / frame;
        assert!(
            a.len() as f64 >= total - 0.5 && a.len() as f64 <= total + 2.5 * sounded as f64,
            "{case}: {} AAC frames for {sounded} files of sound",
            a.len()
        );
    }
    // MKV keeps the sound as it is (mu-law): every 0.1 s packet of the
    // third file, the first with its first picture.
    let mkv = dir.path().join("mkv");
    ok(&cctv(&[
        "convert",
        "-q",
        "--format",
        "mkv",
        "--camera",
        "0",
        s(&dir.path().join("starts")),
        "-o",
        s(&mkv),
    ]));
    assert_eq!(outputs(&mkv), ["d0_cam0.mkv"]);
    let p = packets(&mkv.join("d0_cam0.mkv"));
    let (v, a) = (&p["video"], &p["audio"]);
    assert_eq!((v.len(), a.len()), (120, 40), "mkv");
    assert!(
        (a[0] - v[80]).abs() < 0.002,
        "mkv: sound at {} s, not {} s",
        a[0],
        v[80]
    );
    assert!((a[39] - a[0] - 3.9).abs() < 0.002, "mkv: {a:?}");
    verify(&mkv);
    // A window from the middle of the second file: the files it needs are
    // the second (no sound) and the third; its sound still comes.
    let w = dir.path().join("window");
    ok(&cctv(&[
        "convert",
        "-q",
        "--camera",
        "0",
        s(&dir.path().join("starts")),
        "--from",
        "2023-11-14T22:13:26Z",
        "-o",
        s(&w),
    ]));
    assert_eq!(outputs(&w), ["d1_cam0.mp4"]);
    let p = packets(&w.join("d1_cam0.mp4"));
    let v = &p["video"];
    assert_eq!(v.len(), 60);
    let a = &p["audio"];
    let frame = a.windows(2).map(|w| w[1] - w[0]).fold(f64::MAX, f64::min);
    sound_at("window", a, frame, v[20], v[59] + 0.1);
    assert!(a[0] >= v[20] - frame, "window: sound at {} s", a[0]);
    verify(&w);
}

/// A dashcam folder of three consecutive 4 s files (serial `serial`)
/// whose sound starts in the third: its first two files have none.
fn late_sound_case(dir: &Path, serial: &str) {
    let t0 = 1_700_000_000_000_000u64;
    for k in 0..3u64 {
        nvr_with(
            &dir.join(format!("d{k}.nvr")),
            serial,
            t0 + k * 4_000_000,
            4,
            k as u32,
            k == 2,
        );
    }
}

/// What reaches `sink`: per buffer (pts, duration) in ns.
fn collected(sink: &gst_app::AppSink) -> std::sync::Arc<std::sync::Mutex<Vec<(u64, u64)>>> {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(b) = sample.buffer()
                    && let Some(pts) = b.pts()
                {
                    let d = b.duration().map_or(0, |d| d.nseconds());
                    g.lock().unwrap().push((pts.nseconds(), d));
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    got
}

/// Plays `pipeline` to its end (60 s at most: a stall fails).
fn play_to_end(pipeline: &gst::Element) {
    use gst::prelude::*;
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("playback stalled");
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(msg.type_(), gst::MessageType::Eos, "{msg:?}");
}

/// `cctvsrc` plays a camera whose sound starts in its third file with that
/// sound: an audio pad from the start (before its first packet it is kept
/// going with GAPs, so a sink waiting for every pad does not stall), every
/// 0.1 s packet of the third file, the first at that file's first picture.
#[test]
fn a_camera_whose_sound_starts_in_a_later_file_plays_it() {
    use gst::prelude::*;
    support::init();
    let dir = tempfile::tempdir().unwrap();
    late_sound_case(dir.path(), "SN-6");
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("cctvsrc")
        .property("location", s(dir.path()))
        .property("camera", "0")
        .build()
        .unwrap();
    pipeline.add(&src).unwrap();
    // Small queues, as a player has: the video branch cannot run far
    // ahead of an audio pad that has no data yet.
    let mut sinks = Vec::new();
    for kind in ["video", "audio"] {
        let queue = gst::ElementFactory::make("queue")
            .property("max-size-buffers", 20u32)
            .property("max-size-time", 0u64)
            .property("max-size-bytes", 0u32)
            .build()
            .unwrap();
        let sink = gst_app::AppSink::builder().sync(false).build();
        pipeline.add_many([&queue, sink.upcast_ref()]).unwrap();
        queue.link(&sink).unwrap();
        sinks.push((kind, queue.static_pad("sink").unwrap(), sink));
    }
    let pads: Vec<(&str, gst::Pad)> = sinks.iter().map(|(k, p, _)| (*k, p.clone())).collect();
    src.connect_pad_added(move |_, pad| {
        let name = pad.name();
        if let Some((_, sink)) = pads.iter().find(|(k, _)| name.starts_with(k)) {
            pad.link(sink).unwrap();
        }
    });
    let times: Vec<_> = sinks.iter().map(|(_, _, sink)| collected(sink)).collect();
    play_to_end(pipeline.upcast_ref());
    let pts = |k: usize| -> Vec<u64> { times[k].lock().unwrap().iter().map(|t| t.0).collect() };
    let (video, audio) = (pts(0), pts(1));
    assert_eq!(video.len(), 120);
    assert_eq!(audio.len(), 40, "every 0.1 s packet of the third file");
    assert!(audio.windows(2).all(|w| w[1] > w[0]));
    let third = video[80];
    assert!(
        audio[0].abs_diff(third) < 1_000_000,
        "sound at {} ns, the third file at {third} ns",
        audio[0]
    );
}

/// A window across a pause between two dashcam files (`.nvr`, with cues
/// and sound) is exact: from the key frame at or before --from, the pause
/// kept, to the last frame before --to; the same times as the camera's
/// timeline plays.
#[test]
fn a_window_across_a_pause_between_dashcam_files_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("dashcam");
    std::fs::create_dir(&root).unwrap();
    // 2023-11-14T22:13:20Z; the second file 2 s after the first ends.
    let t0 = 1_700_000_000_000_000u64;
    nvr(&root.join("d0.nvr"), "SN-7", t0, 8, 0);
    nvr(&root.join("d1.nvr"), "SN-7", t0 + 10_000_000, 8, 1);
    let all = played(&root, "0", Some(10 * S));
    assert_eq!(all.len(), 160);
    assert!((all[80] - 10.0).abs() < 1e-3, "{}", all[80]);
    let w = dir.path().join("w");
    ok(&cctv(&[
        "convert",
        "-q",
        "--camera",
        "0",
        s(&root),
        "--from",
        "2023-11-14T22:13:25.3Z",
        "--to",
        "2023-11-14T22:13:32Z",
        "-o",
        s(&w),
    ]));
    assert_eq!(outputs(&w), ["d0_cam0.mp4"]);
    let mp4 = w.join("d0_cam0.mp4");
    let (rows, _) = table(&mp4);
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[0].recorded, "2023-11-14T22:13:25.000000Z");
    assert_eq!(rows[29].recorded, "2023-11-14T22:13:27.900000Z");
    assert_eq!(rows[30].recorded, "2023-11-14T22:13:30.000000Z");
    assert_eq!(rows[49].recorded, "2023-11-14T22:13:31.900000Z");
    let p = packets(&mp4);
    let v = &p["video"];
    assert_eq!(v.len(), 50);
    for (k, t) in v.iter().enumerate() {
        let want = all[50 + k] - all[50];
        assert!(
            (t - v[0] - want).abs() < 1e-3,
            "frame {k}: {} vs {want}",
            t - v[0]
        );
    }
    assert!((v[30] - v[0] - 5.0).abs() < 1e-3, "{v:?}");
    // The sound of both parts of the window, the pause between them.
    let a = &p["audio"];
    assert!(rising(a));
    assert!((a.last().unwrap() - a[0] - 6.9).abs() < 0.3, "{a:?}");
    verify(&w);
}

/// A dashcam camera without a microphone of its own plays with its file's
/// only audio stream, as `cctv convert` exports it (one policy for
/// playback and export).
#[test]
fn a_camera_without_audio_plays_with_its_files_only_audio() {
    use gstcctv::engine::camera_timeline::{CaseOptions, open_case};
    use gstcctv::engine::{Source, SourceEvent, StreamKind};
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_700_000_000_000_000u64;
    for k in 0..2u64 {
        nvr(
            &dir.path().join(format!("d{k}.nvr")),
            "SN-3",
            t0 + k * 4_000_000,
            4,
            k as u32,
        );
    }
    for camera in ["0", "1"] {
        let options = CaseOptions {
            camera: Some(camera.into()),
            ..CaseOptions::default()
        };
        let mut opened = open_case(dir.path(), &options, |f| f).unwrap();
        let mut audio = None;
        let mut packets = 0;
        loop {
            match opened.timeline.next().unwrap() {
                SourceEvent::StreamsFound(infos) => {
                    audio = infos
                        .iter()
                        .find(|i| i.id.kind == StreamKind::Audio)
                        .map(|i| i.id);
                }
                SourceEvent::Packet(p) if Some(p.stream) == audio => packets += 1,
                SourceEvent::End => break,
                _ => {}
            }
        }
        assert!(audio.is_some(), "camera {camera}: no audio");
        // 0.1 s packets for 8 s: both files' sound.
        assert_eq!(packets, 80, "camera {camera}");
    }
}

/// `--from 07:00:50` alone: on the day of the recordings (in the zone
/// `--from/--to` are read in), the same export and plan as with the date;
/// over several days a time alone is taken on the one day a recording
/// holds it, a window over midnight ends on the next day, and a time that
/// several days hold is an error naming them.
#[test]
fn a_time_of_day_alone_is_on_the_day_of_the_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("case");
    std::fs::create_dir(&root).unwrap();
    psf(&root, "alley0.psf", 9, "ALLEY", T0, 120);
    psf(&root, "alley1.psf", 9, "ALLEY", T0 + 60 * S, 120);
    let convert = |out: &str, from: &str, to: &str| -> PathBuf {
        let o = dir.path().join(out);
        ok(&cctv(&[
            "convert",
            "-q",
            "--tz",
            "UTC",
            s(&root),
            "--from",
            from,
            "--to",
            to,
            "-o",
            s(&o),
        ]));
        o
    };
    let dated = convert("dated", "2021-09-01T07:00:50Z", "2021-09-01T07:01:30Z");
    let alone = convert("alone", "07:00:50", "07:01:30");
    assert_eq!(outputs(&alone), outputs(&dated));
    for n in outputs(&dated) {
        let rows = |d: &Path| {
            table(&d.join(&n))
                .0
                .iter()
                .map(|r| (r.recorded.clone(), r.digest.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(rows(&alone), rows(&dated), "{n}");
    }
    let plan = |from: &str, to: &str| {
        let o = cctv(&[
            "plan",
            "--json",
            "--tz",
            "UTC",
            s(&root),
            "--from",
            from,
            "--to",
            to,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    assert_eq!(
        plan("07:00:50", "07:01:30"),
        plan("2021-09-01 07:00:50", "2021-09-01 07:01:30")
    );

    // Across midnight: 23:59:30 .. 00:00:29.5 the next day.
    let night = dir.path().join("night");
    std::fs::create_dir(&night).unwrap();
    let midnight = T0 + 17 * 3600 * S; // 2021-09-02 00:00:00 UTC
    psf(&night, "n.psf", 9, "ALLEY", midnight - 30 * S, 120);
    let o = dir.path().join("over");
    ok(&cctv(&[
        "convert",
        "-q",
        "--tz",
        "UTC",
        s(&night),
        "--from",
        "23:59:50",
        "--to",
        "00:00:10",
        "-o",
        s(&o),
    ]));
    let rows = table(&o.join("n.mp4")).0;
    assert_eq!(rows.len(), 40, "20 s at 2 frames a second");
    assert!(
        rows[0].recorded.starts_with("2021-09-01T23:59:50"),
        "{}",
        rows[0].recorded
    );
    assert!(
        rows[39].recorded.starts_with("2021-09-02T00:00:09.5"),
        "{}",
        rows[39].recorded
    );

    // The same time on two days that both have recordings: which one?
    psf(&root, "next-day.psf", 9, "ALLEY", T0 + 24 * 3600 * S, 120);
    let o = cctv(&[
        "convert",
        "-q",
        "--tz",
        "UTC",
        s(&root),
        "--from",
        "07:00:50",
        "--to",
        "07:01:30",
        "-o",
        s(&dir.path().join("ambiguous")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("several days (2021-09-01, 2021-09-02)"),
        "{err}"
    );
}

/// playbin plays a dashcam folder (`cctv://…?camera=0`) whose sound starts
/// in its third file with that sound: 4 s of it, from the third file's
/// start (8 s), to the end. (playbin3 of 1.22 plays the sound too but
/// never reports the end of a dashcam folder of several files, with or
/// without late sound: not this test's subject.)
#[test]
fn players_play_sound_that_starts_in_a_later_file() {
    support::init();
    let dir = tempfile::tempdir().unwrap();
    late_sound_case(dir.path(), "SN-9");
    let uri = format!(
        "{}?camera=0",
        gst::glib::filename_to_uri(dir.path(), None)
            .unwrap()
            .replacen("file://", "cctv://", 1)
    );
    let sink = gst_app::AppSink::builder().sync(false).build();
    let got = collected(&sink);
    let video = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .build()
        .unwrap();
    let play = gst::ElementFactory::make("playbin")
        .property("uri", &uri)
        .property("audio-sink", &sink)
        .property("video-sink", &video)
        .build()
        .unwrap();
    play_to_end(&play);
    let got = got.lock().unwrap();
    let first = got.first().expect("sound").0;
    let total: u64 = got.iter().map(|(_, d)| d).sum();
    assert!(first.abs_diff(8 * S) < 2_000_000, "sound at {first} ns");
    assert!(total.abs_diff(4 * S) < 2_000_000, "{total} ns of sound");
}

/// A window cuts the sound too. The encoder's last, padded AAC frame
/// starts past the window's end and the muxer clips it: no loss to warn
/// about (it was "25 frames written to audio_0, 24 read back"). And the
/// branches drop what is outside the window without GStreamer 1.22's
/// CRITICAL for a probe's dropped item (one per dropped buffer).
#[test]
fn a_windowed_export_with_sound_is_quiet_and_whole() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("dash.nvr");
    nvr(&input, "SN-1", T0 / 1000, 8, 3);
    let out = dir.path().join("out");
    let o = cctv(&[
        "convert",
        s(&input),
        "--from",
        "2021-09-01T07:00:02.05Z",
        "--to",
        "2021-09-01T07:00:05.02Z",
        "-o",
        s(&out),
    ]);
    let err = ok(&o);
    assert!(!err.contains("warning"), "{err}");
    assert!(!err.contains("CRITICAL"), "{err}");
    // 10 frames a second from the key frame at 2.0 s to 5.0 s.
    for cam in ["dash_cam0.mp4", "dash_cam1.mp4"] {
        assert_eq!(table(&out.join(cam)).0.len(), 31, "{cam}");
    }
    verify(&out);
}
