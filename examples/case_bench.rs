// SPDX-License-Identifier: MIT
//! Benchmark (prints numbers, not a timed test) for cases (#18):
//!
//! 1. catalog time per file on a 200-file folder (one camera, 10-minute
//!    `.psf` files back to back: 33 h 20 min);
//! 2. a 20 s window exported from the 200-file folder against the same
//!    window from the one file that holds it (`cctv convert --from --to`,
//!    the whole command each time; the goal is at most 3x);
//! 3. joined-export throughput (`cctv convert` of a folder of FILES files
//!    into one MP4) against `gst-launch-1.0 filesrc ! qtdemux ! mp4mux !
//!    filesink` on the same frames (that MP4 remuxed).
//!
//! Usage: case_bench [DIR] (default: a temporary directory). The `cctv`
//! binary is `$CCTV`, else target/release/cctv.

use gstcctv::engine::catalog::{Catalog, FormatKind};
use gstcctv::formats::pavs::writer::Recording;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// 2021-09-01 07:00:00 UTC.
const T0: u64 = 1_630_479_600_000_000_000;
const S: u64 = 1_000_000_000;
const FILES: u64 = 200;
/// 10 minutes at 2 frames a second.
const FRAMES: u64 = 1200;
const RUNS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn cctv() -> PathBuf {
    std::env::var_os("CCTV").map_or_else(|| PathBuf::from("target/release/cctv"), PathBuf::from)
}

/// Runs a command, returns its wall time (s); panics when it fails.
fn timed(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let out = cmd.output().expect("run");
    let dt = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dt
}

fn fresh(dir: &Path) -> &Path {
    let _ = std::fs::remove_dir_all(dir);
    dir
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = std::env::args()
        .nth(1)
        .map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    let folder = base.join("backup");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let t = Instant::now();
    let mut bytes = 0;
    for k in 0..FILES {
        let path = folder.join(format!("ch09_{k:03}.psf"));
        if !path.exists() {
            Recording {
                channel: 9,
                camera_name: "ALLEY",
                width: 176,
                height: 144,
                start_ns: T0 + k * FRAMES * S / 2,
                step_ns: S / 2,
                frames: FRAMES,
                gop: 40,
                seed: k as u32,
                ..Recording::default()
            }
            .write_file(&path)
            .expect("write");
        }
        bytes += path.metadata().expect("size").len();
    }
    println!(
        "folder: {FILES} files x {FRAMES} frames (10 min each, {:.1} h), {:.1} MB, generated in {:.1} s",
        (FILES * FRAMES / 2) as f64 / 3600.0,
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // 1. The catalog.
    let list: Vec<(PathBuf, FormatKind)> = (0..FILES)
        .map(|k| (folder.join(format!("ch09_{k:03}.psf")), FormatKind::Pavs))
        .collect();
    let mut times = Vec::new();
    let mut read = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let cat = Catalog::build(&list);
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(cat.cameras.len(), 1);
        assert_eq!(cat.cameras[0].spans.len(), FILES as usize);
        read = cat.files.iter().map(|f| f.bytes_read).sum::<u64>();
    }
    let cat_s = median(times);
    println!(
        "catalog: {:.2} ms per file ({:.2} s for {FILES}), {:.0} KB read per file (of {:.0} KB)",
        cat_s * 1e3 / FILES as f64,
        cat_s,
        read as f64 / FILES as f64 / 1e3,
        bytes as f64 / FILES as f64 / 1e3
    );

    let mut times = Vec::new();
    let mut read = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let cat = Catalog::build_ends(&list);
        times.push(t.elapsed().as_secs_f64());
        read = cat.files.iter().map(|f| f.bytes_read).sum::<u64>();
    }
    let starts_s = median(times);
    println!(
        "ends only (a window's first pass): {:.2} ms per file ({:.2} s for {FILES}), {:.0} KB read per file",
        starts_s * 1e3 / FILES as f64,
        starts_s,
        read as f64 / FILES as f64 / 1e3
    );

    // 2. A 20 s window inside file 120.
    let k = 120;
    let start = T0 + k * FRAMES * S / 2 + 300 * S;
    let at = |ns: u64| {
        chrono::DateTime::from_timestamp((ns / S) as i64, (ns % S) as u32)
            .expect("time")
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    };
    let (from, to) = (at(start), at(start + 20 * S));
    let one = folder.join(format!("ch09_{k:03}.psf"));
    let out = base.join("out");
    let window = |input: &Path| {
        let mut c = Command::new(cctv());
        c.args([
            "convert", "-q", "--force", "--from", &from, "--to", &to, "-o",
        ])
        .arg(fresh(&out))
        .arg(input);
        c
    };
    let (mut case_t, mut file_t) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        case_t.push(timed(&mut window(&folder)));
        file_t.push(timed(&mut window(&one)));
    }
    let (c, f) = (median(case_t), median(file_t));
    println!(
        "20 s window: {:.3} s from the {FILES}-file folder, {:.3} s from its one file: {:.2}x (goal <= 3x)",
        c,
        f,
        c / f
    );

    // 3. Joined export against qtdemux ! mp4mux on the same frames.
    let joined_files = 20u64;
    let small = base.join("joined");
    std::fs::create_dir_all(&small).expect("mkdir");
    for k in 0..joined_files {
        let name = format!("ch09_{k:03}.psf");
        let to = small.join(&name);
        if !to.exists() {
            std::fs::copy(folder.join(&name), &to).expect("copy");
        }
    }
    let frames = joined_files * FRAMES;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mp4 = out.join("ch09_000_cam9.mp4");
    let remux = base.join("remux.mp4");
    for _ in 0..RUNS {
        let mut c = Command::new(cctv());
        c.args(["convert", "-q", "--force", "--no-subtitles", "-o"])
            .arg(fresh(&out))
            .arg(&small);
        ours.push(timed(&mut c));
        assert!(mp4.exists(), "{}", mp4.display());
        let mut g = Command::new("gst-launch-1.0");
        g.args(["-q", "filesrc"])
            .arg(format!("location={}", mp4.display()))
            .args(["!", "qtdemux", "!", "mp4mux", "!", "filesink"])
            .arg(format!("location={}", remux.display()));
        theirs.push(timed(&mut g));
    }
    let (o, t) = (median(ours), median(theirs));
    println!(
        "joined export of {joined_files} files ({frames} frames): cctv convert {:.2} s ({:.0} frames/s, read-back proof and evidence included); qtdemux ! mp4mux {:.2} s ({:.0} frames/s)",
        o,
        frames as f64 / o,
        t,
        frames as f64 / t
    );
}
