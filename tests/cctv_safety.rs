// SPDX-License-Identifier: MIT
//! The `cctv` command against hostile surroundings (issue 15): folders with
//! symlink loops and FIFOs, planted links at temporary names, outputs that
//! would replace inputs, closed pipes, escape sequences and odd names,
//! interrupted runs, same-named inputs in parallel. Inputs are generated
//! with the crate's writers; sources are hashed before and after.

use gstcctv::formats::pavs::writer::Recording;
use gstcctv::formats::says::writer::{HeaderSpec, PictureChunks, SaysWriter, Telemetry};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

const CCTV: &str = env!("CARGO_BIN_EXE_cctv");

/// Waits for `child` at most `limit`; kills it and panics after.
fn wait_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cctv` with OS-string arguments, output collected, within `limit`.
fn cctv_within<S: AsRef<OsStr>>(args: &[S], limit: Duration) -> Output {
    let mut child = Command::new(CCTV)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cctv");
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
    let what = format!(
        "cctv {:?}",
        args.iter().map(AsRef::as_ref).collect::<Vec<_>>()
    );
    let status = wait_within(&mut child, limit, &what);
    Output {
        status,
        stdout: t1.join().expect("stdout thread"),
        stderr: t2.join().expect("stderr thread"),
    }
}

fn cctv<S: AsRef<OsStr>>(args: &[S]) -> Output {
    cctv_within(args, Duration::from_secs(120))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sha(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:x}", Sha256::digest(&bytes))
}

/// Video frames ffprobe counts in `path`.
fn video_frames(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(out.status.success(), "ffprobe {}", path.display());
    text(&out.stdout).trim().parse().expect("frame count")
}

/// 2021-09-01 07:00:01.454448 UTC.
const START_NS: u64 = 1_630_479_601_454_448_000;

/// A `.psf` of `n` blocks 0.5 s apart on channel 9, camera `name`.
fn write_psf_named(path: &Path, n: u64, name: &str) {
    Recording {
        camera_name: name,
        start_ns: START_NS,
        frames: n,
        first_sequence: 1000,
        ..Recording::default()
    }
    .write_file(path)
    .expect("write");
}

fn write_psf(path: &Path, n: u64) {
    write_psf_named(path, n, "ALLEY");
}

/// A one-camera `.nvr` of `n` frames 0.1 s apart with telemetry.
fn write_nvr(path: &Path, n: u32) {
    let header = HeaderSpec::recorder("20231114_221320_221330.nvr", "v1.6.5", []);
    let file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut w = SaysWriter::new(file, &header).expect("header");
    let mut pictures = PictureChunks::new(176, 144).expect("size");
    for f in 0..n {
        let ts = 1_700_000_000_000_000 + u64::from(f) * 100_000;
        let key = f % 10 == 0;
        let meta =
            Telemetry::at(ts, 36.0 + f64::from(f), 40.5 + f64::from(f) * 1e-4, -73.25).entries();
        pictures.write(&mut w, 0, key, ts, &meta, f).expect("video");
    }
    w.flush().expect("flush");
}

/// Every entry of `dir` (hidden ones too), sorted, but the evidence
/// files beside outputs (manifest, frame table, report: tests/cctv.rs
/// checks them).
fn names_in(dir: &Path) -> Vec<OsString> {
    use std::os::unix::ffi::OsStrExt;
    let mut v: Vec<OsString> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    v.sort();
    let sidecars = [".manifest.json", ".frames.tsv", ".report.html"];
    v.retain(|n| {
        !sidecars
            .iter()
            .any(|e| n.as_bytes().ends_with(e.as_bytes()))
    });
    v
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success());
}

// ---- 2: folders ------------------------------------------------------------

#[test]
fn folder_walk_visits_each_real_file_once_and_skips_fifos() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir_all(rec.join("sub")).unwrap();
    write_psf(&rec.join("a.psf"), 4);
    write_psf(&rec.join("sub/b.psf"), 6);
    // Two links to `.` (2^40 paths before ELOOP), a link to a file already
    // seen, a hard link, and a FIFO with a recording's name.
    std::os::unix::fs::symlink(".", rec.join("loop1")).unwrap();
    std::os::unix::fs::symlink(".", rec.join("sub/loop2")).unwrap();
    std::os::unix::fs::symlink("..", rec.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("../a.psf", rec.join("sub/a_again.psf")).unwrap();
    std::fs::hard_link(rec.join("a.psf"), rec.join("sub/a_hard.psf")).unwrap();
    mkfifo(&rec.join("sub/pipe.psf"));

    let out = cctv_within(
        &[OsStr::new("info"), OsStr::new("--json"), rec.as_os_str()],
        Duration::from_secs(30),
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let files: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["file"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files[0].ends_with("a.psf") && files[1].ends_with("sub/b.psf"),
        "{files:?}"
    );
    assert!(
        err.contains("pipe.psf") && err.contains("skipped") && err.contains("not a regular file"),
        "{err}"
    );

    let out_dir = dir.path().join("out");
    let out = cctv_within(
        &[
            OsStr::new("convert"),
            OsStr::new("-q"),
            rec.as_os_str(),
            OsStr::new("-o"),
            out_dir.as_os_str(),
        ],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(names_in(&out_dir), ["a.mp4", "b.mp4"]);
    assert_eq!(video_frames(&out_dir.join("a.mp4")), 4);
    assert_eq!(video_frames(&out_dir.join("b.mp4")), 6);

    // A FIFO named on the command line: refused, not opened and waited on.
    let out = cctv_within(
        &[OsStr::new("info"), rec.join("sub/pipe.psf").as_os_str()],
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not a regular file"),
        "{}",
        text(&out.stderr)
    );
}

// ---- 8: temporary files ----------------------------------------------------

#[test]
fn links_planted_at_predictable_temporary_names_do_not_truncate_their_target() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("a.psf");
    write_psf(&psf, 6);
    let before = sha(&psf);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // The old temporary name was `.a.mp4.part-<pid>`: plant links for the
    // process ids the next processes will get.
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1);
    for pid in last + 1..last + 400 {
        std::os::unix::fs::symlink(&psf, out_dir.join(format!(".a.mp4.part-{pid}"))).unwrap();
    }
    let out = cctv(&[
        OsStr::new("convert"),
        OsStr::new("-q"),
        psf.as_os_str(),
        OsStr::new("-o"),
        out_dir.as_os_str(),
    ]);
    assert_eq!(sha(&psf), before, "the source was written through a link");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(video_frames(&out_dir.join("a.mp4")), 6);
}

// ---- 9: an output that is an input ----------------------------------------

#[test]
fn convert_refuses_an_output_that_is_one_of_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    // A recording named like its own output.
    let rec = dir.path().join("rec.mp4");
    write_psf(&rec, 6);
    let before = sha(&rec);
    let out = cctv(&[
        OsStr::new("convert"),
        OsStr::new("-q"),
        OsStr::new("--force"),
        rec.as_os_str(),
        OsStr::new("-o"),
        dir.path().as_os_str(),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("rec.mp4") && err.contains("is an input"),
        "{err}"
    );
    assert_eq!(sha(&rec), before);
    assert_eq!(names_in(dir.path()), ["rec.mp4"], "nothing left behind");

    // The output name a hard link of the input.
    let psf = dir.path().join("b.psf");
    write_psf(&psf, 4);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::hard_link(&psf, out_dir.join("b.mp4")).unwrap();
    let before = sha(&psf);
    let out = cctv(&[
        OsStr::new("convert"),
        OsStr::new("-q"),
        OsStr::new("--force"),
        psf.as_os_str(),
        OsStr::new("-o"),
        out_dir.as_os_str(),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("b.mp4") && err.contains("is an input"),
        "{err}"
    );
    assert_eq!(sha(&psf), before);
}

#[test]
fn telemetry_refuses_to_write_over_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let nvr = dir.path().join("basic.nvr");
    write_nvr(&nvr, 20);
    let before = sha(&nvr);
    for flag in ["--csv", "--gpx", "--geojson"] {
        let out = cctv(&[
            OsStr::new("telemetry"),
            nvr.as_os_str(),
            OsStr::new(flag),
            nvr.as_os_str(),
        ]);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{flag}: {err}");
        assert!(err.contains("is the input"), "{flag}: {err}");
        assert_eq!(sha(&nvr), before, "{flag}");
    }
    // The same through a hard link.
    let link = dir.path().join("t.csv");
    std::fs::hard_link(&nvr, &link).unwrap();
    let out = cctv(&[
        OsStr::new("telemetry"),
        nvr.as_os_str(),
        OsStr::new("--csv"),
        link.as_os_str(),
    ]);
    assert!(!out.status.success());
    assert_eq!(sha(&nvr), before);
    // And a real export still works.
    let csv = dir.path().join("track.csv");
    let out = cctv(&[
        OsStr::new("telemetry"),
        nvr.as_os_str(),
        OsStr::new("--csv"),
        csv.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 21);
}

// ---- 10: nothing left behind ----------------------------------------------

#[test]
fn failed_final_rename_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("a.psf");
    write_psf(&psf, 6);
    let out_dir = dir.path().join("out");
    // The final name is a non-empty directory: the rename must fail.
    std::fs::create_dir_all(out_dir.join("a.mp4")).unwrap();
    std::fs::write(out_dir.join("a.mp4/keep"), b"x").unwrap();
    let out = cctv(&[
        OsStr::new("convert"),
        OsStr::new("-q"),
        OsStr::new("--force"),
        psf.as_os_str(),
        OsStr::new("-o"),
        out_dir.as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("a.mp4"), "{}", text(&out.stderr));
    assert_eq!(names_in(&out_dir), ["a.mp4"], "a temporary file was left");
}

#[test]
fn parts_of_a_killed_run_are_removed_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("big.psf");
    write_psf(&psf, 6000);
    let small = dir.path().join("small.psf");
    write_psf(&small, 4);
    let out_dir = dir.path().join("out");
    let mut child = Command::new(CCTV)
        .args([
            OsStr::new("convert"),
            OsStr::new("-q"),
            psf.as_os_str(),
            OsStr::new("-o"),
            out_dir.as_os_str(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // SIGKILL once the temporary file exists.
    let deadline = Instant::now() + Duration::from_secs(60);
    let hidden = |d: &Path| {
        names_in(d)
            .into_iter()
            .filter(|n| n.as_bytes().starts_with(b"."))
            .collect::<Vec<_>>()
    };
    while hidden(&out_dir).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        assert!(Instant::now() < deadline, "no temporary file appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let stale = hidden(&out_dir);
    assert!(!stale.is_empty());
    assert!(!out_dir.join("big.mp4").exists());
    // A temporary file of somebody else: never touched.
    std::fs::write(out_dir.join(".notes.part"), b"mine").unwrap();
    // The next run into the same directory cleans up and says so.
    let out = cctv(&[
        OsStr::new("convert"),
        small.as_os_str(),
        OsStr::new("-o"),
        out_dir.as_os_str(),
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("removed") && err.contains("interrupted"),
        "{err}"
    );
    assert_eq!(names_in(&out_dir), [".notes.part", "small.mp4"]);
}

// ---- 11: closed pipes ------------------------------------------------------

#[test]
fn closed_stdout_and_stderr_stop_output_not_work() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("a.psf");
    write_psf(&psf, 8);
    let nvr = dir.path().join("t.nvr");
    write_nvr(&nvr, 10);
    let out_dir = dir.path().join("out");
    let runs: [Vec<&OsStr>; 3] = [
        vec![
            OsStr::new("convert"),
            psf.as_os_str(),
            OsStr::new("-o"),
            out_dir.as_os_str(),
        ],
        vec![OsStr::new("info"), psf.as_os_str(), nvr.as_os_str()],
        vec![OsStr::new("telemetry"), nvr.as_os_str()],
    ];
    for args in runs {
        // Both pipes closed before the program writes anything
        // (`cctv … 2>&1 | head -c 0`).
        let mut child = Command::new(CCTV)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = wait_within(&mut child, Duration::from_secs(60), "cctv");
        assert_ne!(status.code(), Some(101), "{args:?}: panicked");
        if args[0] == "convert" {
            assert!(status.success(), "{args:?}: {status}");
        }
    }
    assert_eq!(names_in(&out_dir), ["a.mp4"]);
    assert_eq!(video_frames(&out_dir.join("a.mp4")), 8);
}

// ---- 13: escape sequences --------------------------------------------------

#[test]
fn info_text_escapes_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("evil\x1b[31mred\u{9b}2J.psf");
    write_psf_named(&psf, 4, "CAM\x1b]0;owned\x07\x1b[2J\r");
    let out = cctv(&[OsStr::new("info"), psf.as_os_str()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !stdout.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters: {stdout:?}"
    );
    assert!(stdout.contains("evil\\x1b[31mred\\u{9b}2J.psf"), "{stdout}");
    assert!(
        stdout.contains("CAM\\x1b]0;owned\\x07\\x1b[2J\\r"),
        "{stdout}"
    );
    // JSON keeps the exact text.
    let out = cctv(&[OsStr::new("info"), OsStr::new("--json"), psf.as_os_str()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["file"], psf.to_str().unwrap());
}

// ---- 14: long and non-UTF-8 names ------------------------------------------

#[test]
fn a_250_byte_name_converts() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("{}.psf", "n".repeat(246));
    assert_eq!(name.len(), 250);
    let psf = dir.path().join(&name);
    write_psf(&psf, 6);
    let out_dir = dir.path().join("out");
    let out = cctv(&[
        OsStr::new("convert"),
        OsStr::new("-q"),
        psf.as_os_str(),
        OsStr::new("-o"),
        out_dir.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mp4 = format!("{}.mp4", "n".repeat(246));
    assert_eq!(names_in(&out_dir), [mp4.as_str()]);
    assert_eq!(video_frames(&out_dir.join(&mp4)), 6);
}

#[test]
fn a_non_utf8_name_converts_that_file_and_keeps_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join(OsString::from_vec(b"caf\xe9.psf".to_vec()));
    write_psf(&raw, 6);
    // The lossy spelling of the same name: a different recording.
    let lossy = dir.path().join("caf\u{fffd}.psf");
    write_psf(&lossy, 10);
    let out_dir = dir.path().join("out");
    let out = cctv(&[
        OsStr::new("convert"),
        OsStr::new("-q"),
        raw.as_os_str(),
        OsStr::new("-o"),
        out_dir.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mp4 = OsString::from_vec(b"caf\xe9.mp4".to_vec());
    assert_eq!(names_in(&out_dir), std::slice::from_ref(&mp4));
    assert_eq!(
        video_frames(&out_dir.join(&mp4)),
        6,
        "the other file was converted"
    );
    // info names the file with its bytes escaped, not as the other file.
    let out = cctv(&[OsStr::new("info"), raw.as_os_str()]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("caf\\xe9.psf"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("6 frames"),
        "{}",
        text(&out.stdout)
    );
}

// ---- 16: many inputs -------------------------------------------------------

#[test]
fn same_named_inputs_get_names_in_input_order_whatever_the_timing() {
    let dir = tempfile::tempdir().unwrap();
    // The first input takes much longer to plan (a full scan for
    // --gaps split) than the second: before, the second took `a.mp4`.
    std::fs::create_dir_all(dir.path().join("1")).unwrap();
    std::fs::create_dir_all(dir.path().join("2")).unwrap();
    let first = dir.path().join("1/a.psf");
    let second = dir.path().join("2/a.psf");
    write_psf(&first, 3000);
    write_psf(&second, 4);
    let out_dir = dir.path().join("out");
    let out = cctv(&[
        OsStr::new("convert"),
        OsStr::new("-q"),
        OsStr::new("--jobs"),
        OsStr::new("2"),
        OsStr::new("--gaps"),
        OsStr::new("split"),
        first.as_os_str(),
        second.as_os_str(),
        OsStr::new("-o"),
        out_dir.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(names_in(&out_dir), ["a-2.mp4", "a.mp4"]);
    assert_eq!(video_frames(&out_dir.join("a.mp4")), 3000);
    assert_eq!(video_frames(&out_dir.join("a-2.mp4")), 4);
}

fn shared_samples(dir: &str) -> std::path::PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/samples")
        .join(dir);
    assert!(path.is_dir(), "needs {}", path.display());
    path
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_rf1_camera_directory_with_a_non_utf8_name_converts() {
    let src = shared_samples("rf1/archive_dir/camera-0001");
    let dir = tempfile::tempdir().unwrap();
    let cam = dir.path().join(OsString::from_vec(b"cam\xe9ra".to_vec()));
    std::fs::create_dir(&cam).unwrap();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        std::fs::copy(e.path(), cam.join(e.file_name())).unwrap();
    }
    let out_dir = dir.path().join("out");
    let out = cctv(&[
        OsStr::new("convert"),
        OsStr::new("-q"),
        cam.as_os_str(),
        OsStr::new("-o"),
        out_dir.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mp4 = OsString::from_vec(b"cam\xe9ra.mp4".to_vec());
    assert_eq!(names_in(&out_dir), std::slice::from_ref(&mp4));
    assert_eq!(video_frames(&out_dir.join(&mp4)), 600);
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn sample_resident_memory_stays_flat_over_many_conversions() {
    // 300 conversions of basic.nvr (video, mu-law to AAC, subtitles) in one
    // run, two at a time. Before, glibc's per-thread arenas fragmented:
    // (release build) 115 MB after 300, 80 to 180 MB after 1,200 (453 MB
    // reported); now about 70 MB, flat.
    let time = Path::new("/usr/bin/time");
    assert!(time.exists(), "needs GNU time (/usr/bin/time -v)");
    let basic = shared_samples("says").join("basic.nvr");
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    for i in 0..300 {
        std::fs::copy(&basic, inputs.join(format!("n{i:03}.nvr"))).unwrap();
    }
    let out_dir = dir.path().join("out");
    let mut child = Command::new(time)
        .arg("-v")
        .arg(CCTV)
        .args([
            OsStr::new("convert"),
            OsStr::new("-q"),
            // 300 copies of one file: a case would use it once.
            OsStr::new("--per-file"),
            OsStr::new("--jobs"),
            OsStr::new("2"),
        ])
        .args([inputs.as_os_str(), OsStr::new("-o"), out_dir.as_os_str()])
        .env_remove("MALLOC_ARENA_MAX")
        .env_remove("GLIBC_TUNABLES")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let status = wait_within(&mut child, Duration::from_secs(600), "300 conversions");
    let report = reader.join().unwrap();
    assert!(status.success(), "{report}");
    assert_eq!(names_in(&out_dir).len(), 300);
    let kb: u64 = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .expect("GNU time report");
    eprintln!("max RSS over 300 conversions: {kb} kB");
    assert!(kb < 100_000, "max RSS {kb} kB");
}
