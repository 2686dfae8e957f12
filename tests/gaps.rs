// SPDX-License-Identifier: MIT
//! Gaps in capture time: a recording that jumps forward (5 s, 60 s, 2^40
//! µs) must never block a pipeline (`cctv convert`, the README's
//! gst-launch pipelines), and players get one default for long gaps.

mod support;

use gstcctv::formats::says::{self, ChunkContext, ChunkWalker, WalkItem};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CCTV: &str = env!("CARGO_BIN_EXE_cctv");
/// A run that takes longer than this is a hang (the samples convert in
/// well under a second).
const LIMIT: Duration = Duration::from_secs(40);

/// Runs a program within [`LIMIT`]; `None` when it had to be killed.
fn run_bounded(program: &str, args: &[&str], env: &[(&str, &str)]) -> Option<Output> {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
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
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (t1.join().unwrap(), t2.join().unwrap());
    status.map(|status| Output {
        status,
        stdout,
        stderr,
    })
}

/// `bytes` of a SAYS file with every chunk from the `from`-th on (and the
/// `ts` of its frame metadata) moved `shift_us` later: a recording gap.
fn says_with_gap(bytes: &[u8], from: usize, shift_us: u64) -> Vec<u8> {
    let header = says::parse_file_header(bytes).expect("a SAYS file");
    let ctx = ChunkContext::from_header(&header);
    let mut out = bytes.to_vec();
    let mut n = 0;
    for item in ChunkWalker::new(bytes, ctx) {
        let WalkItem::Chunk { offset, chunk } = item else {
            continue;
        };
        if chunk.timestamp_us.is_none() {
            continue;
        }
        n += 1;
        if n <= from {
            continue;
        }
        // The chunk clock: video at 16, audio at 8 (see the writer).
        let at = offset + if chunk.kind.is_video() { 16 } else { 8 };
        let ts = u64::from_le_bytes(out[at..at + 8].try_into().unwrap());
        out[at..at + 8].copy_from_slice(&(ts + shift_us).to_le_bytes());
        if let Some(meta) = chunk.metadata {
            // The frame's `ts` entry: type I64 (9), name, 8 bytes of ms.
            let meta = offset + meta.start..offset + meta.end;
            if let Some(i) = out[meta.clone()].windows(4).position(|w| w == b"\x09ts\0") {
                let v = meta.start + i + 4;
                let ms = i64::from_le_bytes(out[v..v + 8].try_into().unwrap());
                let ms = ms + i64::try_from(shift_us / 1000).unwrap();
                out[v..v + 8].copy_from_slice(&ms.to_le_bytes());
            }
        }
    }
    out
}

/// Chunks with a timestamp in a SAYS file.
fn timed_chunks(bytes: &[u8]) -> usize {
    let header = says::parse_file_header(bytes).unwrap();
    ChunkWalker::new(bytes, ChunkContext::from_header(&header))
        .filter(|i| matches!(i, WalkItem::Chunk { chunk, .. } if chunk.timestamp_us.is_some()))
        .count()
}

/// `../shared/samples/says/<name>` with a gap of `shift_us` from its middle
/// chunk on, written to `dir`.
fn sample_with_gap(dir: &Path, name: &str, shift_us: u64) -> PathBuf {
    let bytes = std::fs::read(support::shared_samples("says").join(name)).unwrap();
    let middle = timed_chunks(&bytes) / 2;
    let path = dir.join(format!("gap{shift_us}_{name}"));
    std::fs::write(&path, says_with_gap(&bytes, middle, shift_us)).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `cctv convert` with `extra` options: must end, exit 0.
fn convert_ends(input: &Path, extra: &[&str]) -> Result<(), String> {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "convert",
        "--quiet",
        "--force",
        s(input),
        "-o",
        s(out.path()),
    ];
    args.extend_from_slice(extra);
    match run_bounded(CCTV, &args, &[]) {
        None => Err(format!("cctv {args:?} hangs")),
        Some(o) if !o.status.success() => Err(format!(
            "cctv {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
        Some(_) => Ok(()),
    }
}

#[test]
#[ignore = "needs ../shared/samples"]
fn cctv_convert_ends_across_a_recording_gap() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for shift in [5_000_000u64, 60_000_000] {
        let input = sample_with_gap(dir.path(), "basic.nvr", shift);
        for format in ["mp4", "mkv"] {
            for gaps in ["compact", "split", "keep"] {
                if let Err(e) = convert_ends(&input, &["--format", format, "--gaps", gaps]) {
                    failures.push(e);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The shell commands of the README's `sh` blocks (continuation lines
/// joined) that run `element` into a muxer.
fn readme_mux_commands(element: &str) -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut commands = Vec::new();
    let (mut in_sh, mut pending) = (false, String::new());
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        let line = line.split(" # ").next().unwrap_or("").trim();
        if !in_sh || line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
        .into_iter()
        .filter(|c| {
            c.starts_with("gst-launch-1.0") && c.contains(element) && c.contains("mux name=m")
        })
        .collect()
}

/// The README's saysdemux pipelines (to MP4 with audio and the text track,
/// to Matroska with the audio) on `basic.nvr` with a recording gap.
#[test]
#[ignore = "needs ../shared/samples"]
fn readme_pipelines_end_across_a_recording_gap() {
    let commands = readme_mux_commands("saysdemux");
    assert!(commands.len() >= 2, "{commands:?}");
    let mut failures = Vec::new();
    for shift in [5_000_000u64, 60_000_000] {
        // The gap file under the README's name.
        let dir = tempfile::tempdir().unwrap();
        let gap = sample_with_gap(dir.path(), "basic.nvr", shift);
        std::fs::rename(&gap, dir.path().join("basic.nvr")).unwrap();
        for command in commands.iter().filter(|c| c.contains("location=basic.nvr")) {
            let out = run_bounded_in(dir.path(), command);
            match out {
                None => failures.push(format!("gap {shift} µs: hangs: {command}")),
                Some(o) if !o.status.success() => failures.push(format!(
                    "gap {shift} µs: {command}: {}",
                    String::from_utf8_lossy(&o.stderr)
                )),
                Some(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A shell command in `dir` with the plugin, within [`LIMIT`].
fn run_bounded_in(dir: &Path, command: &str) -> Option<Output> {
    let plugins = support::plugin_dir();
    let registry = dir.join("registry.bin");
    let script = format!("cd {} && exec {command}", s(dir));
    run_bounded(
        "sh",
        &["-c", &script],
        &[
            ("GST_PLUGIN_PATH", plugins.to_str().unwrap()),
            ("GST_REGISTRY", registry.to_str().unwrap()),
        ],
    )
}

/// `bytes` of a SAYS file without camera `camera`'s video chunks from
/// chunk `from` to chunk `to` (timed chunks, counted from 1): that camera
/// is silent for a while, the others and the audio go on.
fn says_with_silent_camera(bytes: &[u8], camera: u8, from: usize, to: usize) -> Vec<u8> {
    let header = says::parse_file_header(bytes).unwrap();
    let ctx = ChunkContext::from_header(&header);
    let mut out = bytes[..says::FILE_HEADER_LEN].to_vec();
    let mut n = 0;
    for item in ChunkWalker::new(bytes, ctx) {
        let (offset, len) = match &item {
            WalkItem::Chunk { offset, chunk } => {
                if chunk.timestamp_us.is_some() {
                    n += 1;
                }
                let silent = chunk.kind.is_video()
                    && chunk.stream == Some(camera)
                    && (from..=to).contains(&n);
                if silent {
                    continue;
                }
                (*offset, chunk.len)
            }
            WalkItem::Skipped { offset, len } => (*offset, *len),
        };
        out.extend_from_slice(&bytes[offset..offset + len]);
    }
    out
}

/// Camera 1 of `two_cameras.nvr` silent for most of the recording while
/// camera 0 and the audio go on: camera 1's conversion (which takes the
/// recording's only audio) must still get to the end in real time.
/// (GStreamer 1.22's muxers do not move on for GAP events alone with
/// queues of a few buffers: mp4mux with AAC and matroskamux still waited
/// for the silent pad's next buffer in gst-launch runs, so conversions size
/// their queues in buffers, see `cctv convert`.)
#[test]
#[ignore = "needs ../shared/samples"]
fn a_silent_camera_does_not_block_its_conversion() {
    let bytes = std::fs::read(support::shared_samples("says").join("two_cameras.nvr")).unwrap();
    let chunks = timed_chunks(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("silent.nvr");
    std::fs::write(
        &input,
        says_with_silent_camera(&bytes, 1, chunks / 8, chunks * 7 / 8),
    )
    .unwrap();
    for format in ["mp4", "mkv"] {
        if let Err(e) = convert_ends(&input, &["--format", format, "--gaps", "keep"]) {
            panic!("{e}");
        }
    }
}

/// Writes the generated files for manual runs: `CCTV_GAPS_DIR=dir cargo
/// test --test gaps -- --ignored write_gap_files`.
#[test]
#[ignore = "a tool, not a test"]
fn write_gap_files() {
    let Ok(dir) = std::env::var("CCTV_GAPS_DIR") else {
        return;
    };
    for shift in [5_000_000u64, 60_000_000] {
        sample_with_gap(Path::new(&dir), "basic.nvr", shift);
    }
    let bytes = std::fs::read(support::shared_samples("says").join("two_cameras.nvr")).unwrap();
    let chunks = timed_chunks(&bytes);
    std::fs::write(
        Path::new(&dir).join("silent.nvr"),
        says_with_silent_camera(&bytes, 1, chunks / 8, chunks * 7 / 8),
    )
    .unwrap();
}

/// The duration playbin reports for `file` once prerolled (as Totem shows
/// it), with `max_gap` set on pavsdemux when given.
fn playbin_duration(file: &Path, max_gap: Option<u64>) -> gst::ClockTime {
    use gst::prelude::*;
    support::init();
    let fakesink = || gst::ElementFactory::make("fakesink").build().unwrap();
    let playbin = gst::ElementFactory::make("playbin")
        .property("uri", format!("file://{}", s(file)))
        .property("video-sink", fakesink())
        .property("audio-sink", fakesink())
        .build()
        .unwrap();
    if let Some(ns) = max_gap {
        playbin.connect("element-setup", false, move |args| {
            let element = args[1].get::<gst::Element>().unwrap();
            if element.factory().is_some_and(|f| f.name() == "pavsdemux") {
                element.set_property("max-gap", ns);
            }
            None
        });
    }
    playbin.set_state(gst::State::Paused).unwrap();
    let bus = playbin.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(20),
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        )
        .expect("prerolled within 20 s");
    assert_eq!(msg.type_(), gst::MessageType::AsyncDone, "{msg:?}");
    let duration = playbin
        .query_duration::<gst::ClockTime>()
        .expect("a duration");
    playbin.set_state(gst::State::Null).unwrap();
    duration
}

/// video1.psf holds 9 s of pictures across a 10-hour gap: players show a
/// video of seconds by default (gaps over 10 s compacted to one frame, as
/// VLC does), and `max-gap=0` keeps real time.
#[test]
#[ignore = "needs ../shared/samples"]
fn players_show_seconds_not_hours_across_a_long_gap() {
    let file = support::shared_samples("pavs").join("video1.psf");
    let compact = playbin_duration(&file, None);
    assert!(
        compact > gst::ClockTime::from_seconds(1) && compact < gst::ClockTime::from_seconds(60),
        "default duration {compact}"
    );
    let real = playbin_duration(&file, Some(0));
    assert!(
        real > gst::ClockTime::from_seconds(3600),
        "max-gap=0: {real}"
    );
}

/// The end of the latest buffer saysdemux puts out for `file`, with
/// `props` on the element.
fn says_end(file: &Path, props: &str) -> gst::ClockTime {
    let run = support::run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! saysdemux name=demux {props}",
            s(file)
        ),
        "",
        None,
        None,
    );
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    run.pads
        .values()
        .flatten()
        .filter_map(|o| Some(o.pts? + o.duration.unwrap_or_default()))
        .max()
        .expect("buffers")
}

/// basic.nvr (8 s) with a 60 s gap: saysdemux compacts it by default (as
/// pavsdemux and VLC do) and keeps real time with max-gap=0; the capture
/// time on the buffers stays true either way.
#[test]
#[ignore = "needs ../shared/samples"]
fn saysdemux_compacts_long_gaps_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample_with_gap(dir.path(), "basic.nvr", 60_000_000);
    let compact = says_end(&input, "");
    assert!(
        compact < gst::ClockTime::from_seconds(10),
        "default: {compact}"
    );
    let real = says_end(&input, "max-gap=0");
    assert!(real > gst::ClockTime::from_seconds(60), "max-gap=0: {real}");
    // A 5 s gap is below the limit: real time.
    let input = sample_with_gap(dir.path(), "basic.nvr", 5_000_000);
    let kept = says_end(&input, "");
    assert!(kept > gst::ClockTime::from_seconds(12), "5 s gap: {kept}");
}

/// An rf1 camera directory: two segments of 2 s at 10 fps with a 60 s
/// pause in recording between them.
fn rf1_with_gap(dir: &Path) {
    for start_ms in [1_700_000_000_000u64, 1_700_000_062_000] {
        support::rf1_segment(dir, start_ms, 20);
    }
}

/// The end of the latest buffer rf1src puts out for `dir` with `props`,
/// and the wall clock of its first buffer after the gap (the 21st).
fn rf1_end(dir: &Path, props: &str) -> (gst::ClockTime, Option<u64>) {
    let run = support::run_pipeline(
        &format!("rf1src name=demux location=\"{}\" {props}", s(dir)),
        "",
        None,
        None,
    );
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let outs = run.only();
    assert_eq!(outs.len(), 40);
    let end = outs
        .iter()
        .filter_map(|o| Some(o.pts? + o.duration.unwrap_or_default()))
        .max()
        .expect("buffers");
    (end, outs[20].unix_ns)
}

/// rf1src compacts a 60 s pause by default (as pavsdemux, saysdemux and
/// VLC do: max-gap 10 s) and keeps real time with max-gap=0 or a limit
/// above the gap; the capture time on the buffers stays true either way.
#[test]
fn rf1src_compacts_long_gaps_by_default() {
    let dir = tempfile::tempdir().unwrap();
    rf1_with_gap(dir.path());
    let after_gap = Some(1_700_000_062_000u64 * 1_000_000);
    let (compact, wall) = rf1_end(dir.path(), "");
    // 2 s, one frame step, 2 s (rf1 ticks are finer than 1 ms).
    let near = |t: gst::ClockTime, ms: u64| t.mseconds().abs_diff(ms) <= 1;
    assert!(near(compact, 4_000), "default: {compact}");
    assert_eq!(wall, after_gap);
    for props in ["max-gap=0", "max-gap=100000000000"] {
        let (real, wall) = rf1_end(dir.path(), props);
        assert!(near(real, 64_000), "{props}: {real}");
        assert_eq!(wall, after_gap, "{props}");
    }
}
