// SPDX-License-Identifier: MIT
//! `cctv convert` end to end under damage, and its read-back.
//!
//! The mutation study: files of every format from the crate's writers,
//! damaged at random (seeded: the seed is printed, and one run replays
//! with `CCTV_CONVERT_MUTATION_SEED=<seed> CCTV_CONVERT_MUTATION_RUNS=1`),
//! converted by the real `cctv` binary under a deadline, every output read
//! back by ffprobe (independent of the read-back inside convert, which uses
//! GStreamer's demuxers). Each run is classified:
//! - hang: convert did not end within the deadline;
//! - panic: exit 101 or a panic message;
//! - unreadable: exit 0 but an output ffprobe cannot read, or whose video
//!   packets are not the frames convert reported;
//! - silent loss: exit 0, no damage reported, fewer video frames out than
//!   `cctv info` (the engine) counts in the input;
//! - source touched, or a temporary left behind.
//!
//! None of these may happen. Also counted, not failed: reported loss (a
//! damage message, still fewer frames than the engine counts), refusals
//! (convert exits 1 on an input the engine reads frames from), runs where
//! `cctv info` itself fails.
//! `CCTV_CONVERT_MUTATION_RUNS` (default 30), `CCTV_CONVERT_TIMEOUT_S`
//! (default 20).

#[path = "support/hostile.rs"]
mod hostile;

use gstcctv::formats::pavs::writer::{BlockSpec, write_block};
use hostile::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CCTV: &str = env!("CARGO_BIN_EXE_cctv");

/// What a bounded child process did.
struct Ran {
    /// None: killed at the deadline.
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `program` with `args`, killed after `limit`. `env` is added; the
/// fault hook is always removed unless given.
fn run(program: &str, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Ran {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_remove("CCTV_FAULT_INJECT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    // Drained on threads so that a full pipe cannot stall the child.
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
    let deadline = Instant::now() + limit;
    let code = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s.code().unwrap_or(-1));
        }
        if Instant::now() > deadline {
            // Our own child, by its handle.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ran {
        code,
        stdout: String::from_utf8_lossy(&t1.join().expect("stdout thread")).into_owned(),
        stderr: String::from_utf8_lossy(&t2.join().expect("stderr thread")).into_owned(),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn limit() -> Duration {
    Duration::from_secs(env_scale("CCTV_CONVERT_TIMEOUT_S", 20) as u64)
}

/// Video packets per output file as ffprobe reads them; Err: ffprobe
/// cannot read the file.
fn ffprobe_video_packets(path: &Path) -> Result<u64, String> {
    let r = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_packets",
            "-show_entries",
            "stream=codec_type,nb_read_packets",
            "-of",
            "json",
            s(path),
        ],
        &[],
        Duration::from_secs(60),
    );
    if r.code != Some(0) {
        return Err(format!("ffprobe exit {:?}: {}", r.code, r.stderr.trim()));
    }
    let v: Value = serde_json::from_str(&r.stdout).map_err(|e| e.to_string())?;
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let video: Vec<u64> = streams
        .iter()
        .filter(|st| st["codec_type"] == "video")
        .map(|st| {
            st["nb_read_packets"]
                .as_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    if video.is_empty() {
        return Err("no video stream".into());
    }
    Ok(video.iter().sum())
}

/// The engine's view (`cctv info --json`): video frames of the input.
struct Engine {
    video_frames: u64,
    damage: String,
}

fn engine(input: &Path) -> Result<Engine, String> {
    let r = run(CCTV, &["info", "--json", s(input)], &[], limit());
    let Some(code) = r.code else {
        return Err("info hung".into());
    };
    if code != 0 {
        return Err(format!("info exit {code}: {}", r.stderr.trim()));
    }
    let v: Value = serde_json::from_str(&r.stdout).map_err(|e| e.to_string())?;
    let file = &v[0];
    let video_frames = file["streams"]
        .as_array()
        .map(|st| {
            st.iter()
                .filter(|s| s["kind"] == "video")
                .map(|s| s["frames"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    Ok(Engine {
        video_frames,
        damage: file["damage"]["description"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    })
}

/// The number in convert's closing line "... N video frames ...".
fn reported_frames(stderr: &str) -> Option<u64> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains("input(s) converted"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.windows(2).position(|w| w[1] == "video")?;
    words[at].parse().ok()
}

// ---- inputs ------------------------------------------------------------------

/// One damaged input, written into a directory.
struct Input {
    /// What to convert (a file, an rf1 segment base or directory).
    location: PathBuf,
    /// Every file of the input, to check that none was touched.
    files: Vec<PathBuf>,
    what: String,
}

/// A `.nvr` like [`hostile::nvr`] (audio on stream 0, telemetry, a JPEG
/// every 7 frames) whose key frames carry SPS and PPS as real recorders
/// write them: without them the stream has no caps a muxer accepts, and
/// every conversion would stop at the first step.
fn nvr_h264(seed: u64, cameras: u8, frames: usize, doubled: bool) -> Generated {
    use gstcctv::formats::says::writer::{
        AudioCodec, HeaderSpec, SaysWriter, Telemetry, camera_entry, jpeg_with_scan,
    };
    use gstcctv::formats::says::{FILE_HEADER_LEN, MetaEntry, MetaValue};
    let mut rng = XorShift::new(seed);
    let version = if doubled { "v1.5.2" } else { "v1.6.5" };
    // The picture size of each camera, as recorders write it (saysdemux
    // takes it from here, not from the SPS).
    let cameras_meta =
        (0..cameras).map(|cam| camera_entry(cam, &format!("CAM {cam}"), 352, 240, 15));
    let header = HeaderSpec::recorder(
        "20231114_221320_221330.nvr",
        version,
        std::iter::once(MetaEntry::new(
            "deviceModel",
            MetaValue::Str("DV-XC4".into()),
        ))
        .chain(cameras_meta),
    );
    // Real parameter sets (the picture size comes from the SPS).
    let params = gstcctv::h264::BaselineParams::for_size(352, 240).unwrap();
    let (sps, pps) = (params.sps(None), params.pps());
    let mut w = SaysWriter::new(Vec::new(), &header).unwrap();
    let mut g = Generated::default();
    let base = 1_700_000_000_000_000u64;
    for f in 0..frames {
        let t = base + f as u64 * 66_000;
        if f % 3 == 0 {
            let len = rng.range(40..400);
            let payload = rng.bytes(len);
            let start = w.position() as usize;
            w.write_audio(
                0,
                AudioCodec::Mulaw,
                t.saturating_sub(4_000),
                &payload,
                doubled,
            )
            .unwrap();
            g.length_fields
                .extend([(0, start + 4, 2), (0, start + 6, 2)]);
            g.time_fields.push((0, start + 8, 8));
        }
        for cam in 0..cameras {
            let key = f % 6 == 0;
            let mut media = Vec::new();
            if key {
                media.extend_from_slice(&sps);
                media.extend_from_slice(&pps);
            }
            media.extend_from_slice(&[0, 0, 0, 1, if key { 0x65 } else { 0x41 }]);
            let len = rng.range(30..1200);
            media.extend(rng.nonzero_bytes(len));
            let ts = t + u64::from(cam) * 1_000;
            let meta = Telemetry::at(ts, 20.0 + f as f64, 40.5 + f as f64 * 1e-4, -73.25).entries();
            let start = w.position() as usize;
            w.write_video(cam, key, ts, &meta, &media).unwrap();
            let end = w.position() as usize;
            g.length_fields
                .extend([(0, start + 8, 4), (0, start + 24, 4), (0, start + 12, 2)]);
            g.time_fields
                .extend([(0, start + 16, 8), (0, start + 32, 8)]);
            g.units.push(Unit {
                pad: format!("video_{cam}"),
                data: media,
                deps: vec![(0, start..end)],
            });
        }
        if f % 7 == 3 {
            w.write_jpeg(&jpeg_with_scan(rng.nonzero_bytes(60)))
                .unwrap();
        }
    }
    let bytes = w.into_inner();
    g.damageable = FILE_HEADER_LEN..bytes.len();
    g.files = vec![bytes];
    g
}

/// Adds `gap_us` to every time field of `g` (file `file`) at or after byte
/// `from`: chunk times are µs, the telemetry `ts` is ms.
fn shift_times(data: &mut [u8], g: &Generated, file: usize, from: usize, gap_us: u64) {
    for &(f, at, width) in &g.time_fields {
        if f != file || at < from || width != 8 || at + 8 > data.len() {
            continue;
        }
        let old = u64::from_le_bytes(data[at..at + 8].try_into().unwrap());
        let add = if old >= 100_000_000_000_000 {
            gap_us
        } else {
            gap_us / 1000
        };
        data[at..at + 8].copy_from_slice(&old.wrapping_add(add).to_le_bytes());
    }
}

/// Gaps as recordings have them: a few seconds, a minute, hours, and the
/// absurd (2^40 µs, about 12.7 days).
fn gap_us(rng: &mut XorShift) -> u64 {
    [5_000_000, 60_000_000, 3_600_000_000, 1 << 40][rng.below(4)]
}

/// 1-3 damages anywhere: bit flips, overwritten, zeroed or deleted runs,
/// cuts, duplicated spans, inserted garbage, hostile length and time
/// fields (the mix of tests/mutation.rs).
fn mutate(rng: &mut XorShift, g: &Generated, file: usize) -> (Vec<u8>, Vec<String>) {
    let mut data = g.files[file].clone();
    let mut what = Vec::new();
    let fields =
        |list: &[Field]| -> Vec<Field> { list.iter().filter(|f| f.0 == file).copied().collect() };
    let (lengths, times) = (fields(&g.length_fields), fields(&g.time_fields));
    let count = 1 + rng.below(3);
    let mut kinds: Vec<usize> = (0..count).map(|_| rng.below(9)).collect();
    // Field damages use the pristine offsets: first.
    kinds.sort_by_key(|&k| k > 1);
    for kind in kinds {
        let len = data.len().max(1);
        match kind {
            0 if !lengths.is_empty() => {
                let (_, at, width) = lengths[rng.below(lengths.len())];
                let value = [0u64, 1, 0x7fff_ffff, 0xffff_ffff][rng.below(4)];
                data[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
                what.push(format!("length@{at}={value:#x}"));
            }
            1 if !times.is_empty() => {
                let (_, at, width) = times[rng.below(times.len())];
                let value = match rng.below(3) {
                    0 => rng.below(3) as u64,
                    1 => u64::MAX - rng.below(3) as u64,
                    _ => i64::MAX as u64 - rng.below(3) as u64,
                };
                data[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
                what.push(format!("time@{at}={value:#x}"));
            }
            0..=2 => {
                let flips = 1 + rng.below(16);
                for _ in 0..flips {
                    let at = rng.below(len);
                    if let Some(b) = data.get_mut(at) {
                        *b ^= 1 << rng.below(8);
                    }
                }
                what.push(format!("{flips} bit flips"));
            }
            3 => {
                let at = rng.below(len);
                let n = rng.range(1..256).min(data.len().saturating_sub(at));
                let garbage = rng.bytes(n);
                data[at..at + n].copy_from_slice(&garbage);
                what.push(format!("overwrite {at}+{n}"));
            }
            4 => {
                let at = rng.below(len);
                let n = rng.range(1..512).min(data.len().saturating_sub(at));
                data[at..at + n].fill(0);
                what.push(format!("zero {at}+{n}"));
            }
            5 => {
                let at = rng.below(len);
                if rng.chance(50) {
                    data.truncate(at);
                    what.push(format!("cut at {at}"));
                } else {
                    let n = rng.range(1..2048).min(data.len().saturating_sub(at));
                    data.drain(at..at + n);
                    what.push(format!("delete {at}+{n}"));
                }
            }
            6 => {
                let at = rng.below(len);
                let n = rng.range(1..4096).min(data.len().saturating_sub(at));
                let span = data[at..at + n].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, span);
                what.push(format!("duplicate {at}+{n} to {to}"));
            }
            _ => {
                let at = rng.below(data.len() + 1);
                let n = rng.range(1..300);
                let garbage = rng.bytes(n);
                data.splice(at..at, garbage);
                what.push(format!("insert {n} at {at}"));
            }
        }
    }
    (data, what)
}

/// One damage (tests/data_loss.rs's kinds) or several (mutate), or a gap
/// in capture time, to one file of `g`.
fn damage(rng: &mut XorShift, g: &Generated, file: usize, what: &mut String) -> Vec<u8> {
    let has_times = g.time_fields.iter().any(|f| f.0 == file && f.2 == 8);
    match rng.below(if has_times { 3 } else { 2 }) {
        0 => {
            let within = if file == 0 {
                g.damageable.clone()
            } else {
                0..g.files[file].len()
            };
            let within = if within.is_empty() {
                0..g.files[file].len()
            } else {
                within
            };
            let (bytes, d) = damage_once(rng, g, file, within, false);
            what.push_str(&format!(" once {} {:?}", d.kind, d.range));
            bytes
        }
        1 => {
            let (bytes, w) = mutate(rng, g, file);
            what.push_str(&format!(" {w:?}"));
            bytes
        }
        _ => {
            let mut bytes = g.files[file].clone();
            let from = rng.below(bytes.len());
            let gap = gap_us(rng);
            shift_times(&mut bytes, g, file, from, gap);
            // And sometimes damage on top.
            if rng.chance(30) {
                let mut g2 = g.clone();
                g2.files[file] = bytes;
                let (b, w) = mutate(rng, &g2, file);
                bytes = b;
                what.push_str(&format!(" {w:?}"));
            }
            what.push_str(&format!(" gap +{gap} us from byte {from}"));
            bytes
        }
    }
}

/// A generated, damaged input of one of the formats, in `dir`.
fn input(rng: &mut XorShift, seed: u64, dir: &Path) -> Input {
    match rng.below(3) {
        0 => {
            let path = dir.join("cam.psf");
            let cameras = 1 + rng.below(2) as u8;
            let mut what = format!("psf {cameras} camera(s)");
            let bytes = if rng.chance(30) {
                let gap = gap_us(rng) * 1000;
                let at = rng.range(1..14);
                what.push_str(&format!(" gap +{gap} ns at frame {at}"));
                psf(seed, cameras, 14, PavsTime::JumpAt { at, ns: gap }).files[0].clone()
            } else {
                let time = [
                    PavsTime::Regular,
                    PavsTime::NearZero,
                    PavsTime::NearMax,
                    PavsTime::Backwards,
                ][rng.below(4)];
                what.push_str(&format!(" {time:?}"));
                let g = psf(seed, cameras, 14, time);
                damage(rng, &g, 0, &mut what)
            };
            std::fs::write(&path, bytes).unwrap();
            Input {
                location: path.clone(),
                files: vec![path],
                what,
            }
        }
        1 => {
            let path = dir.join("dash.nvr");
            let cameras = 1 + rng.below(2) as u8;
            let doubled = rng.chance(30);
            let mut what = format!("nvr {cameras} camera(s) doubled {doubled}");
            let g = nvr_h264(seed, cameras, 16, doubled);
            let bytes = damage(rng, &g, 0, &mut what);
            std::fs::write(&path, bytes).unwrap();
            Input {
                location: path.clone(),
                files: vec![path],
                what,
            }
        }
        _ => {
            let segments = [1, 1, 3][rng.below(3)];
            let close = rng.chance(70);
            let (g, mut segs) = rf1(seed, segments, 10, close);
            let mut what = format!("rf1 {segments} segment(s) closed {close}");
            let mut files = g.files.clone();
            if segments > 1 && rng.chance(40) {
                // A gap between segments: later ones start later (name
                // and header time base).
                let gap = gap_us(rng);
                let from = 1 + rng.below(segments - 1);
                for seg in &mut segs[from..] {
                    seg.start_ms += gap / 1000;
                    let index = &mut files[seg.index_file];
                    let base = u64::from_le_bytes(index[16..24].try_into().unwrap());
                    index[16..24].copy_from_slice(&(base + gap).to_le_bytes());
                }
                what.push_str(&format!(" gap +{gap} us before segment {from}"));
            }
            if rng.chance(85) {
                let file = rng.below(files.len());
                what.push_str(&format!(" file {file}"));
                let mut g2 = g.clone();
                g2.files = files.clone();
                files[file] = damage(rng, &g2, file, &mut what);
            }
            let mut paths = Vec::new();
            for seg in &segs {
                for (i, ext) in ["rf1i", "rf1p"].iter().enumerate() {
                    let p = dir.join(format!("{}_video.{ext}", seg.start_ms));
                    std::fs::write(&p, &files[seg.index_file + i]).unwrap();
                    paths.push(p);
                }
            }
            let location = if segments > 1 {
                dir.to_owned()
            } else {
                dir.join(segs[0].start_ms.to_string())
            };
            Input {
                location,
                files: paths,
                what,
            }
        }
    }
}

// ---- the study -------------------------------------------------------------------

#[derive(Default)]
struct Study {
    runs: usize,
    /// Class -> run descriptions (seed first).
    classes: BTreeMap<&'static str, Vec<String>>,
    frames_in: u64,
    frames_out: u64,
}

/// The classes that fail the study.
const BAD: [&str; 6] = [
    "hang",
    "panic",
    "unreadable output, exit 0",
    "silent loss",
    "source touched",
    "temporary left behind",
];

impl Study {
    fn add(&mut self, class: &'static str, text: String) {
        self.classes.entry(class).or_default().push(text);
    }
}

/// One run: returns nothing, records its classes in `study`.
fn one_run(seed: u64, study: &mut Study) {
    let mut rng = XorShift::new(seed);
    let work = tempfile::tempdir().unwrap();
    let root = work.path().to_owned();
    // CCTV_CONVERT_MUTATION_KEEP keeps a reproducer's input and outputs.
    let _work = if std::env::var_os("CCTV_CONVERT_MUTATION_KEEP").is_some() {
        println!("seed {seed}: kept in {}", work.keep().display());
        None
    } else {
        Some(work)
    };
    let in_dir = root.join("in");
    let out_dir = root.join("out");
    std::fs::create_dir_all(&in_dir).unwrap();
    let input = input(&mut rng, seed, &in_dir);
    let format = ["mp4", "mkv"][rng.below(2)];
    let mut args: Vec<String> = vec!["convert".into(), "--format".into(), format.into()];
    match rng.below(4) {
        0 => args.extend(["--gaps".into(), "split".into()]),
        1 => args.extend(["--gaps".into(), "keep".into()]),
        _ => {}
    }
    if rng.chance(20) {
        args.push("--no-subtitles".into());
    }
    args.extend([
        s(&input.location).to_string(),
        "-o".into(),
        s(&out_dir).into(),
    ]);
    let desc = format!("seed {seed}: {} {:?}", input.what, &args[1..args.len() - 3]);
    let before: Vec<Vec<u8>> = input
        .files
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    study.runs += 1;

    let engine = engine(&input.location);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let r = run(CCTV, &argv, &[], limit());
    let took = t0.elapsed();

    let after: Vec<Option<Vec<u8>>> = input.files.iter().map(|p| std::fs::read(p).ok()).collect();
    if before
        .iter()
        .zip(&after)
        .any(|(b, a)| a.as_ref() != Some(b))
    {
        study.add("source touched", desc.clone());
    }
    let last_line = |t: &str| {
        t.lines()
            .rev()
            .find(|l| {
                !l.trim().is_empty() && !l.contains("input(s) converted") && !l.starts_with("  ")
            })
            .unwrap_or("")
            .to_string()
    };
    let Some(code) = r.code else {
        study.add("hang", format!("{desc}: no end within {took:?}"));
        return;
    };
    if code == 101 || r.stderr.contains("panicked") {
        study.add("panic", format!("{desc}: {}", last_line(&r.stderr)));
        return;
    }
    let outputs: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let outputs = without_evidence(outputs);
    let (hidden, finals): (Vec<PathBuf>, Vec<PathBuf>) = outputs.into_iter().partition(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    });
    if !hidden.is_empty() {
        study.add("temporary left behind", format!("{desc}: {hidden:?}"));
    }
    let engine_frames = engine.as_ref().map_or(0, |e| e.video_frames);
    study.frames_in += engine_frames;
    if let Err(e) = &engine {
        study.add("info fails", format!("{desc}: {e}"));
    }
    if code != 0 {
        if engine_frames > 0 {
            study.add(
                "refused (exit 1, engine reads frames)",
                format!(
                    "{desc}: engine {engine_frames} frames; {}",
                    last_line(&r.stderr)
                ),
            );
        } else {
            study.add("refused (no frames)", desc);
        }
        return;
    }
    let mut out = 0;
    for f in &finals {
        match ffprobe_video_packets(f) {
            Ok(n) => out += n,
            Err(e) => {
                study.add(
                    "unreadable output, exit 0",
                    format!("{desc}: {}: {e}", f.display()),
                );
                return;
            }
        }
    }
    study.frames_out += out;
    if reported_frames(&r.stderr) != Some(out) {
        study.add(
            "unreadable output, exit 0",
            format!(
                "{desc}: convert reported {:?} video frames, ffprobe reads {out}",
                reported_frames(&r.stderr)
            ),
        );
        return;
    }
    let damaged = r.stderr.contains("damaged");
    if r.stderr.contains("(the video is whole)") {
        study.add(
            "audio/subtitle samples not read back (warned)",
            format!("{desc}: {}", last_line(&r.stderr)),
        );
    }
    if out < engine_frames {
        let text = format!(
            "{desc}: {out} of {engine_frames} frames out (engine damage: {:?})",
            engine.as_ref().map(|e| e.damage.as_str()).unwrap_or("")
        );
        if damaged {
            study.add("reported loss", text);
        } else {
            study.add("silent loss", text);
        }
    } else if out > engine_frames {
        study.add(
            "more frames than the engine counts",
            format!("{desc}: {out} out, engine {engine_frames}"),
        );
    } else {
        study.add("clean", String::new());
    }
}

#[test]
fn convert_survives_mutations() {
    let runs = env_scale("CCTV_CONVERT_MUTATION_RUNS", 30);
    let base = env_scale("CCTV_CONVERT_MUTATION_SEED", 0xc0de) as u64;
    println!(
        "convert mutation study: seeds {base}..{}",
        base + runs as u64
    );
    let mut study = Study::default();
    let t0 = Instant::now();
    for i in 0..runs {
        one_run(base + i as u64, &mut study);
    }
    println!(
        "convert mutation study: {} runs in {:.0?}, video frames: engine {}, out {}",
        study.runs,
        t0.elapsed(),
        study.frames_in,
        study.frames_out
    );
    for (class, list) in &study.classes {
        println!("  {class}: {}", list.len());
        if *class != "clean" {
            for t in list {
                println!("    {t}");
            }
        }
    }
    let bad: Vec<String> = BAD
        .iter()
        .filter_map(|c| study.classes.get(c).map(|l| format!("{c}: {}", l.len())))
        .collect();
    assert!(
        study.classes.contains_key("clean"),
        "no run converted cleanly"
    );
    assert!(bad.is_empty(), "convert mutation study: {}", bad.join(", "));
}

// ---- read-back ---------------------------------------------------------------

/// Undamaged generated inputs of every format, written into `dir`:
/// (location, video frames written).
fn pristine_inputs(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut list = Vec::new();
    for (name, g) in [
        ("one.psf", psf(1, 1, 14, PavsTime::Regular)),
        ("two.psf", psf(2, 2, 14, PavsTime::Regular)),
        ("one.nvr", nvr_h264(3, 1, 16, false)),
        ("two.nvr", nvr_h264(4, 2, 16, true)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, &g.files[0]).unwrap();
        list.push((
            path,
            g.units
                .iter()
                .filter(|u| u.pad.starts_with("video"))
                .count() as u64,
        ));
    }
    for (segments, close) in [(1, true), (1, false), (3, true)] {
        let sub = dir.join(format!("rf1_{segments}_{close}"));
        std::fs::create_dir_all(&sub).unwrap();
        let (g, segs) = rf1(5, segments, 10, close);
        let bases = write_rf1(&sub, &g, &segs);
        let location = if segments > 1 { sub } else { bases[0].clone() };
        list.push((location, g.units.len() as u64));
    }
    list
}

/// Converts `location` into a fresh `out` directory: the run, and the
/// files left there (final, hidden).
fn convert(
    location: &Path,
    out: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Ran, Vec<PathBuf>, Vec<PathBuf>) {
    let _ = std::fs::remove_dir_all(out);
    let mut args = vec!["convert"];
    args.extend_from_slice(extra);
    args.extend([s(location), "-o", s(out)]);
    let r = run(CCTV, &args, env, Duration::from_secs(120));
    let files: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let files = without_evidence(files);
    let (hidden, finals) = files.into_iter().partition(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    });
    (r, finals, hidden)
}

/// Every generated format converts whole, in both containers, and the
/// outputs read back (ffprobe) with every frame: the study's baseline,
/// and the read-back's false-alarm check.
#[test]
fn generated_inputs_convert_whole_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (location, frames) in pristine_inputs(dir.path()) {
        for format in ["mp4", "mkv"] {
            let (r, finals, hidden) = convert(&location, &out, &["--format", format], &[]);
            assert_eq!(r.code, Some(0), "{}: {}", location.display(), r.stderr);
            assert!(hidden.is_empty(), "{hidden:?}");
            let read: u64 = finals
                .iter()
                .map(|f| {
                    ffprobe_video_packets(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()))
                })
                .sum();
            assert_eq!(
                read,
                frames,
                "{} {format}: {}",
                location.display(),
                r.stderr
            );
            assert_eq!(reported_frames(&r.stderr), Some(frames), "{}", r.stderr);
        }
    }
}

/// A writer fault (the output changed after the muxer finished, as
/// GStreamer 1.22's filesink did to long_gop_limits) is caught: exit 1, a
/// message naming the input and the output, nothing left in the output
/// directory. Without the read-back, each of these exited 0.
#[test]
fn a_corrupted_output_is_not_called_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let inputs = pristine_inputs(dir.path());
    for (location, _) in [&inputs[1], &inputs[3], &inputs[6]] {
        for format in ["mp4", "mkv"] {
            for fault in ["truncate", "flip"] {
                let (r, finals, hidden) = convert(
                    location,
                    &out,
                    &["--format", format],
                    &[("CCTV_FAULT_INJECT", fault)],
                );
                let what = format!("{} {format} {fault}: {}", location.display(), r.stderr);
                assert_eq!(r.code, Some(1), "{what}");
                assert!(
                    finals.is_empty() && hidden.is_empty(),
                    "{what}: {finals:?} {hidden:?}"
                );
                let line = r
                    .stderr
                    .lines()
                    .find(|l| l.contains("not written"))
                    .unwrap_or_else(|| panic!("{what}"));
                assert!(
                    line.starts_with(&format!("cctv: {}: ", location.display())),
                    "{line}"
                );
                assert!(line.contains(&format!("{}/", out.display())), "{line}");
                assert!(
                    line.contains(&format!(".{format}: not written: ")),
                    "{line}"
                );
                assert!(line.contains("read back"), "{line}");
            }
        }
    }
}

/// Every shared sample converts and reads back (ffprobe: every frame the
/// engine counts in the converted track), in both containers. Two are
/// special: `empty_track` has no frame (an error, no file), and
/// `long_gop_limits` either converts whole or, while the filesink fault is
/// not avoided, fails the read-back (it used to exit 0 with an MP4 that
/// nothing opens).
#[test]
#[ignore = "needs ../shared/samples"]
fn every_sample_converts_and_reads_back() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/samples");
    assert!(root.is_dir(), "needs {}", root.display());
    let mut samples: Vec<PathBuf> = Vec::new();
    for sub in ["pavs", "says"] {
        for e in std::fs::read_dir(root.join(sub)).unwrap().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "psf" || x == "nvr") {
                samples.push(p);
            }
        }
    }
    for e in std::fs::read_dir(root.join("rf1")).unwrap().flatten() {
        if e.path().is_dir() {
            samples.push(e.path());
        }
    }
    samples.sort();
    assert!(samples.len() >= 15, "{samples:?}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for sample in &samples {
        let name = sample.file_name().unwrap().to_string_lossy().into_owned();
        for format in ["mp4", "mkv"] {
            let (r, finals, hidden) = convert(sample, &out, &["--format", format], &[]);
            let what = format!("{name} {format}: {}", r.stderr);
            assert!(hidden.is_empty(), "{what}: {hidden:?}");
            if name == "empty_track" {
                assert_eq!(r.code, Some(1), "{what}");
                assert!(
                    r.stderr.contains("no video frames: nothing written"),
                    "{what}"
                );
                assert!(finals.is_empty(), "{what}");
                continue;
            }
            if name == "long_gop_limits" && r.code == Some(1) {
                assert!(
                    r.stderr.contains("not written: ") && r.stderr.contains("read back ("),
                    "{what}"
                );
                assert!(finals.is_empty(), "{what}");
                println!(
                    "{name} {format}: not written (read-back): {}",
                    r.stderr.trim()
                );
                continue;
            }
            assert_eq!(r.code, Some(0), "{what}");
            let read: u64 = finals
                .iter()
                .map(|f| ffprobe_video_packets(f).unwrap_or_else(|e| panic!("{what}: {e}")))
                .sum();
            assert_eq!(reported_frames(&r.stderr), Some(read), "{what}");
            // The engine's count of the converted streams: every video
            // stream, except rf1 where the main (largest) track is converted.
            let info = run(
                CCTV,
                &["info", "--json", s(sample)],
                &[],
                Duration::from_secs(120),
            );
            let v: Value = serde_json::from_str(&info.stdout).unwrap();
            let video: Vec<&Value> = v[0]["streams"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["kind"] == "video")
                .collect();
            let expected: u64 = if sample.parent().unwrap().ends_with("rf1") {
                video
                    .iter()
                    .max_by_key(|s| {
                        s["width"].as_u64().unwrap_or(0) * s["height"].as_u64().unwrap_or(0)
                    })
                    .map_or(0, |s| s["frames"].as_u64().unwrap())
            } else {
                video.iter().map(|s| s["frames"].as_u64().unwrap()).sum()
            };
            assert_eq!(read, expected, "{what}");
        }
    }
}

/// A camera that gives no frame in the converted window gets no file (an
/// MP4 without samples is a file no player opens), and the other cameras
/// are still written: here camera 2 starts after `--to`.
#[test]
fn a_camera_without_frames_gets_no_file_and_the_others_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let psf = dir.path().join("two.psf");
    let mut bytes = Vec::new();
    let mut rng = XorShift::new(7);
    for f in 0..20usize {
        for cam in 0..2u8 {
            if cam == 1 && f < 10 {
                continue;
            }
            let key = f % 5 == 0;
            let mut payload = vec![0, 0, 0, 1, if key { 0x65 } else { 0x41 }];
            payload.extend(rng.nonzero_bytes(200));
            let spec = BlockSpec {
                channel: cam + 1,
                camera_name: format!("CAM {cam}"),
                width: 352,
                height: 240,
                key,
                capture_time_ns: 1_630_479_601_000_000_000 + f as u64 * 40_000_000,
                sequence: f as u32,
            };
            write_block(&mut bytes, &spec, &payload).unwrap();
        }
    }
    std::fs::write(&psf, bytes).unwrap();
    let out = dir.path().join("out");
    for format in ["mp4", "mkv"] {
        let (r, finals, hidden) = convert(
            &psf,
            &out,
            &["--format", format, "--to", "2021-09-01T07:00:01.200Z"],
            &[],
        );
        let what = format!("{format}: {}", r.stderr);
        assert_eq!(r.code, Some(0), "{what}");
        assert!(hidden.is_empty(), "{what}");
        assert_eq!(
            finals,
            vec![out.join(format!("two_cam1.{format}"))],
            "{what}"
        );
        assert_eq!(ffprobe_video_packets(&finals[0]), Ok(5), "{what}");
        assert!(
            r.stderr
                .contains("camera 2: no video frames between --from and --to, not written"),
            "{what}"
        );
    }
}

/// Capture times running backwards give subtitle cues that mp4mux stores
/// but qtdemux does not all give back. The pictures are whole: the output
/// is kept, exit 0, and the shortfall is said (it used to be silent).
#[test]
fn subtitle_cues_that_do_not_read_back_are_a_warning_not_a_lost_video() {
    let dir = tempfile::tempdir().unwrap();
    let g = psf(0x0b, 2, 14, PavsTime::Backwards);
    let path = dir.path().join("back.psf");
    std::fs::write(&path, &g.files[0]).unwrap();
    let out = dir.path().join("out");
    let (r, finals, hidden) = convert(&path, &out, &["--format", "mp4"], &[]);
    let what = r.stderr.clone();
    assert_eq!(r.code, Some(0), "{what}");
    assert!(hidden.is_empty(), "{what}");
    let read: u64 = finals
        .iter()
        .map(|f| ffprobe_video_packets(f).unwrap())
        .sum();
    assert_eq!(read, 28, "{what}");
    // The elements' own cues now read back whole here; a shortfall, where
    // one happens, is only ever a warning about the subtitles.
    for warning in r.stderr.lines().filter(|l| l.contains("warning:")) {
        assert!(
            warning.contains("subtitle") && warning.ends_with("(the video is whole)"),
            "{warning}"
        );
    }
}

/// Study seed 50027: bit flips in an rf1 packet file make the engine emit
/// a 0-byte access unit. Matroska stored it, ffprobe skipped it, and
/// convert said "10 video frames" over a file that holds 9 (exit 0). Now
/// either every frame is real (when the engine stops emitting such units)
/// or the output is not written; never a count the file does not hold.
#[test]
fn a_file_never_holds_fewer_frames_than_convert_reports() {
    let seed = 50027;
    let dir = tempfile::tempdir().unwrap();
    let input = input(&mut XorShift::new(seed), seed, dir.path());
    let out = dir.path().join("out");
    let (r, finals, hidden) = convert(
        &input.location,
        &out,
        &["--format", "mkv", "--no-subtitles"],
        &[],
    );
    let what = format!("{}: {}", input.what, r.stderr);
    assert!(hidden.is_empty(), "{what}");
    match r.code {
        Some(0) => {
            let read: u64 = finals
                .iter()
                .map(|f| ffprobe_video_packets(f).unwrap())
                .sum();
            assert_eq!(reported_frames(&r.stderr), Some(read), "{what}");
        }
        Some(1) => {
            assert!(r.stderr.contains("not written: "), "{what}");
            assert!(finals.is_empty(), "{what}");
        }
        other => panic!("exit {other:?}: {what}"),
    }
}

/// The files of an output directory without the evidence beside each
/// output (manifest, frame table, report): the media and anything left.
fn without_evidence(mut files: Vec<PathBuf>) -> Vec<PathBuf> {
    files.retain(|p| {
        let n = p.to_string_lossy();
        ![".manifest.json", ".frames.tsv", ".report.html"]
            .iter()
            .any(|e| n.ends_with(e))
    });
    files.sort();
    files
}
