// SPDX-License-Identifier: MIT
//! A camera of a case as one source (issue 18.2): its files in capture
//! order, read as one stream with the same packets as reading the files one
//! by one, each file's running time following the end of the one before,
//! DISCONT at each file's first packets, seeks by running time across files.

mod support;

use gstcctv::engine::camera_timeline::{CameraTimeline, TimelineFile};
use gstcctv::engine::catalog::{Catalog, FormatKind};
use gstcctv::engine::formats::pavs::{Pavs, PavsOptions};
use gstcctv::engine::{ByteDemux, FileSource, Source, SourceEvent, StreamKind};
use gstcctv::formats::pavs::writer::Recording;
use std::path::{Path, PathBuf};

/// 2021-09-01 07:00:00 UTC.
const T0: u64 = 1_630_479_600_000_000_000;
const S: u64 = 1_000_000_000;

fn psf(dir: &Path, name: &str, channel: u8, start: u64, frames: u64) -> PathBuf {
    let path = dir.join(name);
    Recording {
        channel,
        camera_name: "ALLEY",
        width: 176,
        height: 144,
        start_ns: start,
        step_ns: S / 2,
        frames,
        gop: 10,
        seed: (start / S) as u32 ^ u32::from(channel),
        ..Recording::default()
    }
    .write_file(&path)
    .unwrap();
    path
}

type Chunk = <FileSource as gstcctv::engine::ByteSource>::Chunk;

fn open(path: &Path) -> Box<dyn Source<Chunk = Chunk> + Send> {
    let options = PavsOptions {
        subtitles: false,
        ..PavsOptions::default()
    };
    Box::new(ByteDemux::pull(
        Pavs::new(options),
        FileSource::open(path).unwrap(),
    ))
}

/// (pts, key, discont, payload) of every packet, and the stream list.
type Seen = Vec<(Option<u64>, bool, bool, Vec<u8>)>;

fn drain(source: &mut dyn Source<Chunk = Chunk>) -> (Seen, usize) {
    let mut seen = Vec::new();
    let mut found = 0;
    loop {
        match source.next().unwrap() {
            SourceEvent::StreamsFound(infos) => {
                found += 1;
                assert!(infos.iter().all(|i| i.id.kind == StreamKind::Video));
            }
            SourceEvent::Packet(p) => {
                let bytes: Vec<u8> = p.parts.iter().flat_map(|x| x.bytes().to_vec()).collect();
                seen.push((p.pts, p.key, p.discont, bytes));
            }
            SourceEvent::End => return (seen, found),
            _ => {}
        }
    }
}

fn camera(dir: &Path, files: &[PathBuf]) -> CameraTimeline<Chunk> {
    let inputs: Vec<_> = files
        .iter()
        .map(|p| (p.clone(), FormatKind::Pavs))
        .collect();
    let catalog = Catalog::build(&inputs);
    assert!(catalog.skipped.is_empty(), "{:?}", catalog.skipped);
    let cam = &catalog.find("9")[0];
    let files: Vec<TimelineFile> = cam
        .spans
        .iter()
        .map(|s| TimelineFile {
            path: catalog.files[s.file].path.clone(),
            first_wall_ns: s.first_wall_ns,
            last_wall_ns: s.last_wall_ns,
        })
        .collect();
    let _ = dir;
    CameraTimeline::new(
        files,
        Box::new(|info| info.id.number == 9),
        Box::new(|path| {
            // As the front ends open files: an error, not a panic.
            let file = FileSource::open(path).map_err(|e| {
                gstcctv::engine::EngineError::Source(gstcctv::engine::SourceError::Io(
                    e.to_string(),
                ))
            })?;
            let options = PavsOptions {
                subtitles: false,
                ..PavsOptions::default()
            };
            Ok(Box::new(ByteDemux::pull(Pavs::new(options), file))
                as Box<dyn Source<Chunk = Chunk> + Send>)
        }),
    )
}

#[test]
fn a_camera_reads_as_its_files_one_after_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Named out of time order; the catalog orders them.
    let a = psf(d, "b.psf", 9, T0, 40);
    let b = psf(d, "c.psf", 9, T0 + 20 * S, 40);
    let c = psf(d, "a.psf", 9, T0 + 40 * S, 40);
    let mut timeline = camera(d, &[b.clone(), c.clone(), a.clone()]);
    let (joined, found) = drain(&mut timeline);
    assert_eq!(found, 1, "the streams are announced once");

    let mut expected = Vec::new();
    let mut base = 0u64;
    for (i, file) in [&a, &b, &c].into_iter().enumerate() {
        let mut one = open(file);
        let (packets, _) = drain(one.as_mut());
        let duration = one.duration().unwrap();
        for (n, (pts, key, discont, bytes)) in packets.into_iter().enumerate() {
            let discont = discont || (i > 0 && n == 0);
            expected.push((pts.map(|t| t + base), key, discont, bytes));
        }
        base += duration;
    }
    assert_eq!(joined.len(), 120);
    assert_eq!(joined.len(), expected.len());
    for (n, (got, want)) in joined.iter().zip(&expected).enumerate() {
        assert_eq!(got.0, want.0, "pts of packet {n}");
        assert_eq!(got.1, want.1, "key of packet {n}");
        assert_eq!(got.2, want.2, "discont of packet {n}");
        assert!(got.3 == want.3, "payload of packet {n}");
    }
    // Rising times across the joints.
    assert!(joined.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(timeline.duration(), Some(base));
}

#[test]
fn seeks_go_to_the_file_that_holds_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [
        psf(d, "1.psf", 9, T0, 40),
        psf(d, "2.psf", 9, T0 + 20 * S, 40),
        psf(d, "3.psf", 9, T0 + 40 * S, 40),
    ];
    let durations: Vec<u64> = files
        .iter()
        .map(|f| {
            let mut one = open(f);
            drain(one.as_mut());
            one.duration().unwrap()
        })
        .collect();
    let mut timeline = camera(d, &files);
    // 7.3 s into the second file: its key frame at 5 s (gop 10 at 2 fps).
    let target = durations[0] + 7_300_000_000;
    let outcome = timeline.seek(target, None).unwrap();
    assert!(!outcome.past_end);
    assert_eq!(outcome.key_pts, Some(durations[0] + 5 * S));
    let (after, _) = drain(&mut timeline);
    let first = &after[0];
    assert_eq!(first.0, Some(durations[0] + 5 * S));
    assert!(first.1, "restarts at a key frame");
    // The second file's frame at 5 s, then to the end of the third.
    let (second, _) = drain(open(&files[1]).as_mut());
    assert!(first.3 == second[10].3);
    assert_eq!(after.len(), 30 + 40);
    assert_eq!(
        after.last().unwrap().0,
        Some(durations[0] + durations[1] + 39 * S / 2)
    );

    // A window that ends in the third file.
    let stop = durations[0] + durations[1] + 3 * S;
    timeline.seek(durations[0] + S, Some(stop)).unwrap();
    let (window, _) = drain(&mut timeline);
    assert_eq!(window.first().unwrap().0, Some(durations[0]));
    assert!(window.iter().all(|p| p.0.unwrap() < stop));
    assert_eq!(window.last().unwrap().0, Some(stop - S / 2));

    // At or past the end: nothing follows.
    let end = durations.iter().sum::<u64>();
    assert!(timeline.seek(end, None).unwrap().past_end);
    assert!(matches!(timeline.next().unwrap(), SourceEvent::End));
    // And back to the start.
    timeline.seek(0, None).unwrap();
    assert_eq!(drain(&mut timeline).0.len(), 120);
}

/// The gaps policy between files as inside one: a pause up to `max-gap`
/// keeps its real length, a longer one is compacted; with no `max-gap`
/// every pause keeps its length.
#[test]
fn pauses_between_files_follow_the_gaps_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 20 s each: a 2.5 s pause (last frame at 19.5 s, next at 22 s), then
    // a 58.5 s pause (next at 100 s).
    let files = [
        psf(d, "1.psf", 9, T0, 40),
        psf(d, "2.psf", 9, T0 + 22 * S, 40),
        psf(d, "3.psf", 9, T0 + 100 * S, 40),
    ];
    let firsts = |timeline: &mut CameraTimeline<Chunk>| {
        let (packets, _) = drain(timeline);
        [packets[0].0, packets[40].0, packets[80].0].map(Option::unwrap)
    };
    // Default (10 s): the short pause kept, the long one compacted.
    let mut timeline = camera(d, &files);
    assert_eq!(firsts(&mut timeline), [0, 22 * S, 42 * S]);
    assert_eq!(timeline.duration(), Some(62 * S));
    // A seek into the kept pause plays from the next file's first frame.
    timeline.seek(21 * S, None).unwrap();
    let (after, _) = drain(&mut timeline);
    assert_eq!(after[0].0, Some(22 * S));
    assert_eq!(after.len(), 80);
    // Real time: every pause keeps its length.
    let mut real = camera(d, &files);
    real.set_max_gap(None);
    assert_eq!(firsts(&mut real), [0, 22 * S, 100 * S]);
    real.seek(100 * S + S, None).unwrap();
    assert_eq!(drain(&mut real).0[0].0, Some(100 * S));
}

/// A file gone since the catalog is reported and skipped; the files after
/// it play; the same for a seek into it.
#[test]
fn a_file_gone_since_the_catalog_is_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let files = [
        psf(d, "1.psf", 9, T0, 40),
        psf(d, "2.psf", 9, T0 + 20 * S, 40),
        psf(d, "3.psf", 9, T0 + 40 * S, 40),
    ];
    let mut timeline = camera(d, &files);
    let mut seeking = camera(d, &files);
    std::fs::remove_file(&files[1]).unwrap();
    let (packets, found) = drain(&mut timeline);
    assert_eq!(found, 1);
    assert_eq!(packets.len(), 80, "the first and the third file");
    // The third file follows the first (the second lasts nothing).
    assert_eq!(packets[40].0, Some(20 * S));
    assert!(packets.windows(2).all(|w| w[0].0 < w[1].0));
    let report = timeline.take_report();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("2.psf") && p.contains("skipped")),
        "{report:?}"
    );
    // A seek past the first file: the second is found gone, the third
    // follows the first.
    seeking.seek(25 * S, None).unwrap();
    let (after, _) = drain(&mut seeking);
    assert_eq!(after[0].0, Some(25 * S));
    assert_eq!(after.len(), 30);
}

/// An NVR's export: a directory per camera (rf1), beside other recordings.
/// Each rf1 camera is a case camera like any other: the same packets as
/// its own reader gives.
#[test]
fn an_rf1_camera_directory_is_a_case_camera() {
    use gstcctv::engine::camera_timeline::{CaseOptions, open_case};
    use gstcctv::engine::formats::rf1::Rf1Engine;
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let (a, b) = (export.join("camera-a"), export.join("camera-b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let t0_ms = T0 / 1_000_000;
    support::rf1_segment(&a, t0_ms, 30);
    support::rf1_segment(&a, t0_ms + 10_000, 30);
    support::rf1_segment(&b, t0_ms, 20);
    psf(&export, "alley.psf", 9, T0, 20);
    let options = CaseOptions {
        camera: Some("rf1-camera-a-video".into()),
        subtitles: false,
        ..CaseOptions::default()
    };
    let mut opened = open_case(&export, &options, |f| f).unwrap();
    assert_eq!(opened.camera_id, "rf1-camera-a-video");
    let (got, found) = drain(&mut opened.timeline);
    assert_eq!(found, 1);
    let mut alone: Rf1Engine<Chunk> = Rf1Engine::open(&a, &[]).unwrap();
    alone.set_subtitles(false);
    let (want, _) = drain(&mut alone);
    assert_eq!(got.len(), 60);
    assert_eq!(got, want, "the rf1 reader's packets, unchanged");
    // The camera directory itself, and the VMax camera beside it.
    let mut own = open_case(
        &a,
        &CaseOptions {
            subtitles: false,
            ..CaseOptions::default()
        },
        |f| f,
    )
    .unwrap();
    assert_eq!(drain(&mut own.timeline).0, want);
    let nine = CaseOptions {
        camera: Some("9".into()),
        subtitles: false,
        ..CaseOptions::default()
    };
    assert_eq!(
        drain(&mut open_case(&export, &nine, |f| f).unwrap().timeline)
            .0
            .len(),
        20
    );
}

/// The same camera directory in two exports (two days copied off the
/// NVR): one camera, its directories joined in capture order like any
/// case camera's files, the pause between them kept (under max-gap).
#[test]
fn a_camera_directory_in_two_exports_is_one_timeline() {
    use gstcctv::engine::camera_timeline::{CaseOptions, open_case};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("case");
    let (day1, day2) = (root.join("day1/camera-a"), root.join("day2/camera-a"));
    std::fs::create_dir_all(&day1).unwrap();
    std::fs::create_dir_all(&day2).unwrap();
    let t0_ms = T0 / 1_000_000;
    // 3 s of frames, a 2 s pause, 3 s more.
    support::rf1_segment(&day2, t0_ms + 5_000, 30);
    support::rf1_segment(&day1, t0_ms, 30);
    let options = CaseOptions {
        camera: Some("rf1-camera-a-video".into()),
        subtitles: false,
        ..CaseOptions::default()
    };
    let mut opened = open_case(&root, &options, |f| f).unwrap();
    let (got, _) = drain(&mut opened.timeline);
    assert_eq!(got.len(), 60);
    let pts: Vec<u64> = got.iter().map(|g| g.0.unwrap()).collect();
    // Day 1 as its own reader gives it, then day 2 five seconds after day
    // 1's start (rf1 times are ticks of the recorder's clock: within a
    // millisecond of the writer's 100 ms steps).
    let mut alone: gstcctv::engine::formats::rf1::Rf1Engine<Chunk> =
        gstcctv::engine::formats::rf1::Rf1Engine::open(&day1, &[]).unwrap();
    alone.set_subtitles(false);
    let (first_day, _) = drain(&mut alone);
    assert_eq!(&got[..30], &first_day[..]);
    assert!(
        pts[30].abs_diff(5_000_000_000) < 1_000_000,
        "the 2 s pause kept: {}",
        pts[30]
    );
    assert!(got[30].2, "DISCONT where the second directory starts");
    assert!(pts.windows(2).all(|w| w[1] > w[0]));
}
