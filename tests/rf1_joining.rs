// SPDX-License-Identifier: MIT
//! How rf1 joins the segments of a camera directory, recorded whole: for
//! every multi-segment case (the corpus' `archive_dir` and generated ones
//! covering parameter sets carried across segments, pauses kept and
//! compacted, tracks with their own time bases, a track missing from a
//! segment, overlapping segments and codec changes as streams of their own,
//! an unreadable segment, an index running past the next segment, capture
//! time cues) the full event list of the source (streams, tags, every
//! packet's stream, pts, dts, duration, key, discont, wall clock, payload
//! hash and origin, stream ends), where every stream continues and last
//! was (`next_times`, `last_times`: rf1src's GAPs), its durations, damage
//! report and the results of seeks at and around every joint.
//!
//! The expectations are the listings of the code as it was when they were
//! recorded (`tests/expected/rf1_joining/<case>.txt`), so that any change
//! to rf1's joining (issue 18: rf1 camera directories as an instance of the
//! case timeline) shows up as a diff. `RF1_JOINING_BLESS=1` rewrites them:
//! only for a change that is meant, and reviewed in the diff.

mod support;

use gstcctv::engine::formats::rf1::Rf1Engine;
use gstcctv::engine::{SharedBytes, Source, SourceEvent};
use gstcctv::formats::rf1::flags;
use gstcctv::formats::rf1::writer::{Archive, Pts, TrackWriter, WriterOptions};
use gstcctv::h264::Codec;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

type Dyn = Box<dyn Source<Chunk = SharedBytes>>;

const START_MS: u64 = 1_700_000_000_000;
const MS: u64 = 1_000_000;

/// How a case is played.
#[derive(Clone, Copy)]
struct Play {
    max_gap: Option<u64>,
    subtitles: bool,
    /// Only this track (rf1src's `tracks`): time zero is its time base.
    track: Option<&'static str>,
}

const DEFAULT: Play = Play {
    max_gap: Some(gstcctv::engine::timeline::DEFAULT_MAX_GAP_NS),
    subtitles: false,
    track: None,
};

/// The source rf1 front ends play for `dir` (rf1src, the VLC module,
/// `cctv`): the one under test.
fn open(dir: &Path, play: Play) -> Dyn {
    let tracks: Vec<String> = play.track.iter().map(|t| (*t).to_owned()).collect();
    let mut engine = Rf1Engine::<SharedBytes>::open(dir, &tracks).unwrap();
    engine.set_max_gap(play.max_gap);
    engine.set_subtitles(play.subtitles);
    Box::new(engine)
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Paths without the temporary directory they were written to.
fn clean(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "<dir>")
}

/// One packet on one line; `dir` is left out of its origin. Also returns
/// its origin file (for the joints).
fn packet_line(p: &gstcctv::engine::Packet<SharedBytes>, dir: &Path) -> (String, Option<PathBuf>) {
    let origin = p.origin.as_ref().map(|o| {
        let file = o
            .file
            .as_ref()
            .map(|f| clean(&f.display().to_string(), dir))
            .unwrap_or_default();
        let file = file.strip_prefix("<dir>/").unwrap_or(&file).to_owned();
        format!("{file}@{}+{}", o.offset, o.len)
    });
    let time = |t: Option<u64>| t.map_or("-".to_owned(), |t| t.to_string());
    // dts and duration only where they say something (rf1: dts = pts, no
    // duration), to keep the listings short.
    let dts = if p.dts == p.pts {
        String::new()
    } else {
        format!(" dts={}", time(p.dts))
    };
    let duration = p.duration.map_or(String::new(), |d| format!(" dur={d}"));
    let line = format!(
        "P {:?}{} {}{dts}{duration}{}{} w={} {}B {} {}",
        p.stream.kind,
        p.stream.number,
        time(p.pts),
        if p.key { " K" } else { "" },
        if p.discont { " D" } else { "" },
        time(p.wallclock_ns),
        p.size(),
        sha(&p.to_vec()),
        origin.unwrap_or_else(|| "-".into()),
    );
    // The segment: the packet file's name up to its track.
    let file = p
        .origin
        .as_ref()
        .and_then(|o| o.file.as_ref())
        .and_then(|f| {
            f.file_name()?
                .to_str()?
                .split('_')
                .next()
                .map(PathBuf::from)
        });
    (line, file)
}

/// Plays `source` to its end: one line per event; the running times where
/// a packet comes from another segment than the one before it (the
/// joints).
fn play(source: &mut Dyn, dir: &Path, out: &mut Vec<String>) -> Vec<u64> {
    let mut joints = Vec::new();
    let mut last_file: Option<PathBuf> = None;
    loop {
        match source.next().unwrap() {
            SourceEvent::StreamsFound(infos) => {
                for info in infos {
                    out.push(stream_line("S", &info));
                }
                out.push(times_line(source.as_ref()));
            }
            SourceEvent::NewStream(info) => out.push(stream_line("N", &info)),
            SourceEvent::Tags(tags) => out.push(format!("T {tags:?}")),
            SourceEvent::Packet(p) => {
                let (line, file) = packet_line(&p, dir);
                if let Some(file) = file {
                    if last_file.as_ref().is_some_and(|f| *f != file)
                        && let Some(pts) = p.pts
                    {
                        joints.push(pts);
                    }
                    last_file = Some(file);
                }
                out.push(line);
            }
            SourceEvent::StreamEnd(id) => out.push(format!("E {:?}/{}", id.kind, id.number)),
            SourceEvent::NeedData => panic!("an rf1 archive asked for data"),
            SourceEvent::End => {
                out.push("END".into());
                out.push(times_line(source.as_ref()));
                return joints;
            }
        }
    }
}

/// Where every stream continues and last was (the adapter's GAPs).
fn times_line(source: &dyn Source<Chunk = SharedBytes>) -> String {
    let show = |times: Vec<(gstcctv::engine::StreamId, Option<u64>)>| {
        times
            .iter()
            .map(|(id, t)| format!("{:?}{}={t:?}", id.kind, id.number))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "W next [{}] last [{}]",
        show(source.next_times()),
        show(source.last_times())
    )
}

fn stream_line(what: &str, info: &gstcctv::engine::StreamInfo) -> String {
    let config = info.codec_config.as_deref().map(sha);
    let mut info = info.clone();
    info.codec_config = None;
    format!("{what} {info:?} config={config:?}")
}

fn report_lines(source: &mut Dyn, dir: &Path, out: &mut Vec<String>) {
    let report = source.take_report();
    out.push(format!(
        "R format={} units={} regions={} bytes={}",
        report.format, report.units, report.regions, report.bytes
    ));
    for p in &report.problems {
        out.push(format!("R problem {}", clean(p, dir)));
    }
    for d in &report.details {
        out.push(format!("R detail {}", clean(d, dir)));
    }
}

/// The whole listing of `dir` played as `play`.
fn listing(dir: &Path, play_as: Play) -> String {
    let mut source = open(dir, play_as);
    let mut out = Vec::new();
    out.push(format!(
        "D duration={:?} exact={:?}",
        source.duration(),
        source.exact_duration()
    ));
    let joints = play(&mut source, dir, &mut out);
    report_lines(&mut source, dir, &mut out);
    let duration = source.duration().unwrap_or(0);
    let mut targets = vec![
        0,
        duration / 4,
        duration / 2,
        duration.saturating_sub(1),
        duration,
        duration + 1,
    ];
    for &joint in &joints {
        targets.extend([joint.saturating_sub(1), joint, joint + 1]);
    }
    targets.sort_unstable();
    targets.dedup();
    let mut seeks: Vec<(u64, Option<u64>)> = targets.into_iter().map(|t| (t, None)).collect();
    seeks.push((duration / 4, Some(duration / 2)));
    if let Some(&joint) = joints.first() {
        seeks.push((joint.saturating_sub(1), Some(joint + 1)));
    }
    for (target, stop) in seeks {
        let outcome = source.seek(target, stop).unwrap();
        out.push(format!(
            "SEEK {target} stop={stop:?} key_pts={:?} past_end={}",
            outcome.key_pts, outcome.past_end
        ));
        out.push(format!("  {}", times_line(source.as_ref())));
        let mut after = Vec::new();
        play(&mut source, dir, &mut after);
        // The first and last events whole, the rest as a hash.
        let packets = after.iter().filter(|l| l.starts_with("P ")).count();
        let all = after.join("\n");
        out.push(format!(
            "  events={} packets={packets} sha={}",
            after.len(),
            sha(all.as_bytes())
        ));
        for line in after.iter().filter(|l| l.starts_with("P ")).take(2) {
            out.push(format!("  {line}"));
        }
        if let Some(line) = after.iter().rev().find(|l| l.starts_with("P ")) {
            out.push(format!("  last {line}"));
        }
        if let Some(line) = after.last() {
            out.push(format!("  {line}"));
        }
        report_lines(&mut source, dir, &mut out);
    }
    out.push(String::new());
    out.join("\n")
}

/// Compares `dir`'s listing with the recorded one (or records it).
fn check(case: &str, dir: &Path, play_as: Play) {
    let got = listing(dir, play_as);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected/rf1_joining")
        .join(format!("{case}.txt"));
    if std::env::var_os("RF1_JOINING_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (RF1_JOINING_BLESS=1 records it)", path.display()));
    if got != want {
        let first = got
            .lines()
            .zip(want.lines())
            .position(|(g, w)| g != w)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        let actual = std::env::temp_dir().join(format!("rf1_joining-{case}.txt"));
        std::fs::write(&actual, &got).unwrap();
        panic!(
            "{case}: the listing differs from {} from line {} on:\n  got:  {}\n  want: {}\n(whole listing: {})",
            path.display(),
            first + 1,
            got.lines().nth(first).unwrap_or("<end>"),
            want.lines().nth(first).unwrap_or("<end>"),
            actual.display()
        );
    }
}

/// Tiny Annex-B access units at `fps`, a key frame every `gop`, for
/// `frames` frames from `first_frame` of the track's own count.
#[allow(clippy::too_many_arguments)]
fn timing_track(
    dir: &Path,
    base_ms: u64,
    name: &str,
    codec: Codec,
    timebase_ms: u64,
    size: (u16, u16),
    frames: u64,
    frame_ns: u64,
    gop: u64,
) {
    let mut w = TrackWriter::create(
        &dir.join(base_ms.to_string()),
        name,
        codec,
        timebase_ms * 1000,
        size,
        WriterOptions::default(),
    )
    .unwrap();
    for k in 0..frames {
        let key = k % gop == 0;
        let nal: Vec<u8> = match (codec, key) {
            (Codec::H264, true) => vec![0, 0, 1, 0x65, k as u8, 1],
            (Codec::H264, false) => vec![0, 0, 1, 0x41, k as u8],
            (Codec::H265, true) => vec![0, 0, 1, 0x26, 1, k as u8],
            (Codec::H265, false) => vec![0, 0, 1, 0x02, 1, k as u8],
        };
        let flag = if key { flags::KEY } else { 0 };
        w.write_nalu(Pts::Ns(k * frame_ns), &nal, flag | flags::ANNEXB)
            .unwrap();
    }
    w.close().unwrap();
}

fn video(dir: &Path, start_ms: u64, frames: u64) {
    timing_track(
        dir,
        start_ms,
        "video",
        Codec::H264,
        start_ms,
        (32, 16),
        frames,
        100 * MS,
        10,
    );
}

/// The corpus' camera directory: three contiguous 20 s segments.
#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn archive_dir_sample() {
    let dir = support::shared_samples("rf1/archive_dir/camera-0001");
    check("archive_dir", &dir, DEFAULT);
    check(
        "archive_dir_subtitles",
        &dir,
        Play {
            subtitles: true,
            ..DEFAULT
        },
    );
}

/// Decodable pictures, parameter sets only in the very first access unit:
/// later segments' key frames get them from an earlier segment.
#[test]
fn parameter_sets_carried_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    Archive {
        start_ms: START_MS,
        segments: 3,
        frames_per_segment: 25,
        gop: 10,
        width: 32,
        height: 16,
        annexb: false,
        parameter_sets_once: true,
    }
    .write(dir.path())
    .unwrap();
    check("parameter_sets_once", dir.path(), DEFAULT);
}

/// Pauses between segments: 5 s (kept), 62 s (compacted by default, kept
/// in real time), with the capture-time cues.
#[test]
fn pauses_between_segments() {
    let dir = tempfile::tempdir().unwrap();
    video(dir.path(), START_MS, 20);
    video(dir.path(), START_MS + 7_000, 20);
    video(dir.path(), START_MS + 71_000, 20);
    check("pauses", dir.path(), DEFAULT);
    check(
        "pauses_real_time",
        dir.path(),
        Play {
            max_gap: None,
            ..DEFAULT
        },
    );
    check(
        "pauses_subtitles",
        dir.path(),
        Play {
            subtitles: true,
            ..DEFAULT
        },
    );
}

/// Two tracks with their own time bases and rates in every segment (the
/// second 50 ms later, at 5 fps, smaller), one segment without the second,
/// a 30 s pause before the last; also the second alone (a segment without
/// it, and time zero at its own time base).
#[test]
fn tracks_with_their_own_time_bases() {
    let dir = tempfile::tempdir().unwrap();
    let lowres = |base: u64, frames| {
        timing_track(
            dir.path(),
            base,
            "lowres",
            Codec::H264,
            base + 50,
            (16, 8),
            frames,
            200 * MS,
            5,
        );
    };
    video(dir.path(), START_MS, 20);
    lowres(START_MS, 10);
    video(dir.path(), START_MS + 2_000, 20);
    video(dir.path(), START_MS + 4_000, 20);
    lowres(START_MS + 4_000, 10);
    video(dir.path(), START_MS + 36_000, 20);
    lowres(START_MS + 36_000, 10);
    check("two_tracks", dir.path(), DEFAULT);
    check(
        "two_tracks_real_time",
        dir.path(),
        Play {
            max_gap: None,
            subtitles: true,
            track: None,
        },
    );
    check(
        "two_tracks_lowres_only",
        dir.path(),
        Play {
            track: Some("lowres"),
            ..DEFAULT
        },
    );
}

/// A track whose first segment starts later than the other's (it is
/// announced at once, its packets come when they are due), and a segment
/// whose time base is later than its name.
#[test]
fn a_track_that_starts_in_a_later_segment() {
    let dir = tempfile::tempdir().unwrap();
    video(dir.path(), START_MS, 20);
    video(dir.path(), START_MS + 2_000, 20);
    timing_track(
        dir.path(),
        START_MS + 2_000,
        "aux",
        Codec::H264,
        START_MS + 2_300,
        (64, 32),
        15,
        100 * MS,
        5,
    );
    check("late_track", dir.path(), DEFAULT);
}

/// Overlapping segments (two recordings of the same time) and a codec
/// change: streams of their own.
#[test]
fn overlaps_and_codec_changes() {
    let dir = tempfile::tempdir().unwrap();
    let seg = |name_ms: u64, timebase_ms: u64, codec| {
        timing_track(
            dir.path(),
            name_ms,
            "video",
            codec,
            timebase_ms,
            (32, 16),
            10,
            100 * MS,
            3,
        );
    };
    seg(START_MS, START_MS, Codec::H264);
    seg(START_MS + 1, START_MS + 500, Codec::H264);
    seg(START_MS + 5_000, START_MS + 5_000, Codec::H265);
    seg(START_MS + 8_000, START_MS + 8_000, Codec::H264);
    check("lanes", dir.path(), DEFAULT);
}

/// An unreadable middle segment: the 15 s pause it falls in is lost data
/// and keeps its length (not compacted); reported.
#[test]
fn an_unreadable_segment() {
    let dir = tempfile::tempdir().unwrap();
    for s in 0..3 {
        video(dir.path(), START_MS + s * 20_000, 50);
    }
    std::fs::write(
        dir.path().join(format!("{}_video.rf1i", START_MS + 20_000)),
        b"",
    )
    .unwrap();
    check("lost_segment", dir.path(), DEFAULT);
}

/// A segment whose index runs past the next segment's start (a damaged
/// index): it ends where the next begins.
#[test]
fn an_index_running_into_the_next_segment() {
    let dir = tempfile::tempdir().unwrap();
    video(dir.path(), START_MS, 30);
    video(dir.path(), START_MS + 2_000, 20);
    check("runs_into_next", dir.path(), DEFAULT);
}
