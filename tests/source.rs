// SPDX-License-Identifier: MIT
//! The one source contract (`engine::Source`) that every front end drives:
//! PAVS and SAYS byte streams and rf1 archives alike. One past-end rule
//! for seeks, one damage report, and gap compaction (`max-gap`) for rf1 as
//! for the byte streams.

mod support;

use gstcctv::engine::formats::pavs::{Pavs, PavsOptions};
use gstcctv::engine::formats::rf1::Rf1Engine;
use gstcctv::engine::formats::says::{Says, SaysOptions};
use gstcctv::engine::{ByteDemux, MemorySource, SharedBytes, Source, SourceEvent, StreamKind};
use gstcctv::formats::pavs::writer::{BlockSpec, write_block};
use gstcctv::formats::says::writer::{HeaderSpec, SaysWriter};
use gstcctv::h264::{BaselineParams, SyntheticEncoder, test_picture};
use std::path::Path;
use support::rf1_segment;

type Dyn = Box<dyn Source<Chunk = SharedBytes>>;

const START_MS: u64 = 1_700_000_000_000;
const MS: u64 = 1_000_000;

/// Every packet until the end: (stream kind, pts, wall clock).
fn drain(source: &mut Dyn) -> Vec<(StreamKind, u64, Option<u64>)> {
    let mut out = Vec::new();
    loop {
        match source.next().unwrap() {
            SourceEvent::Packet(p) => out.push((p.stream.kind, p.pts.unwrap(), p.wallclock_ns)),
            SourceEvent::End => return out,
            SourceEvent::NeedData => panic!("pull input asked for data"),
            _ => {}
        }
    }
}

/// 40 decodable frames at 10 fps, a key frame every 10.
fn pavs() -> Dyn {
    let params = BaselineParams::for_size(64, 48).unwrap();
    let mut enc = SyntheticEncoder::new(params);
    let mut file = Vec::new();
    for i in 0..40u64 {
        let key = i % 10 == 0;
        let payload = if key {
            let (y, u, v) = test_picture(64, 48, i as u32);
            enc.key_frame(&y, &u, &v)
        } else {
            enc.skip_frame()
        };
        let spec = BlockSpec {
            channel: 1,
            camera_name: "CAM1".into(),
            width: 64,
            height: 48,
            key,
            capture_time_ns: START_MS * MS + i * 100 * MS,
            sequence: i as u32,
        };
        write_block(&mut file, &spec, &payload).unwrap();
    }
    let options = PavsOptions {
        subtitles: false,
        ..PavsOptions::default()
    };
    Box::new(ByteDemux::pull(Pavs::new(options), MemorySource::new(file)))
}

/// 40 video chunks at 10 fps, a key frame every 10, no audio.
fn says() -> Dyn {
    let header = HeaderSpec {
        file_name: "20231114_221320_221330.nvr".into(),
        ..Default::default()
    };
    let mut w = SaysWriter::new(Vec::new(), &header).unwrap();
    let params = BaselineParams::for_size(64, 48).unwrap();
    let mut enc = SyntheticEncoder::new(params);
    for f in 0..40u32 {
        let key = f % 10 == 0;
        let media = if key {
            let (y, u, v) = test_picture(64, 48, f);
            let mut m = params.sps(None);
            m.extend_from_slice(&params.pps());
            m.extend_from_slice(&enc.key_frame(&y, &u, &v));
            m
        } else {
            enc.skip_frame()
        };
        let ts = START_MS * 1000 + u64::from(f) * 100_000;
        w.write_video(0, key, ts, &[], &media).unwrap();
    }
    let options = SaysOptions {
        subtitles: false,
        ..SaysOptions::default()
    };
    Box::new(ByteDemux::pull(
        Says::with_options(options),
        MemorySource::new(w.into_inner()),
    ))
}

fn rf1(dir: &Path, max_gap: Option<u64>) -> Dyn {
    let mut engine = Rf1Engine::<SharedBytes>::open(dir, &[]).unwrap();
    engine.set_max_gap(max_gap);
    Box::new(engine)
}

/// Every source: a seek at or past the duration (the end of the last
/// frame) plays nothing; one just before it plays the last GOP. rf1 used
/// its own rule before (`target > duration`, and with KEY_UNIT, as the VLC
/// ABI asked, the last GOP even past the end).
#[test]
fn every_source_has_one_past_end_rule() {
    let dir = tempfile::tempdir().unwrap();
    rf1_segment(dir.path(), START_MS, 40);
    for (name, mut source) in [
        ("pavs", pavs()),
        ("says", says()),
        ("rf1", rf1(dir.path(), None)),
    ] {
        assert!(source.can_seek(), "{name}");
        let all = drain(&mut source);
        assert_eq!(all.len(), 40, "{name}");
        let duration = source.duration().unwrap();
        // The last frame (3.9 s) plus its step.
        let last = all.last().unwrap().1;
        assert!(duration > last, "{name}: {duration} after {last}");
        for target in [duration, duration + 1, duration + 1_000 * MS] {
            let outcome = source.seek(target, None).unwrap();
            assert!(outcome.past_end, "{name}: {target}");
            assert!(drain(&mut source).is_empty(), "{name}: {target}");
        }
        let outcome = source.seek(duration - 1, None).unwrap();
        assert!(!outcome.past_end, "{name}");
        let tail = drain(&mut source);
        assert_eq!(tail.len(), 10, "{name}: the last GOP");
        assert_eq!(tail, all[30..], "{name}");
        // From the start: everything again.
        source.seek(0, None).unwrap();
        assert_eq!(drain(&mut source), all, "{name}");
    }
}

/// Every source starts with its streams, then the recording's tags.
#[test]
fn every_source_announces_streams_then_tags() {
    let dir = tempfile::tempdir().unwrap();
    rf1_segment(dir.path(), START_MS, 10);
    for (name, mut source) in [
        ("pavs", pavs()),
        ("says", says()),
        ("rf1", rf1(dir.path(), None)),
    ] {
        let SourceEvent::StreamsFound(infos) = source.next().unwrap() else {
            panic!("{name}: streams first");
        };
        assert!(
            infos.iter().any(|i| i.id.kind == StreamKind::Video),
            "{name}"
        );
        if let SourceEvent::Tags(tags) = source.next().unwrap() {
            assert_eq!(Some(tags), source.global_tags(), "{name}");
        } else {
            // Only a format without whole-input tags goes on with packets.
            assert!(source.global_tags().is_none(), "{name}");
        }
        assert!(!source.take_report().any(), "{name}");
    }
}

/// rf1 gap compaction, as for PAVS and SAYS: 2 s, a 60 s pause in
/// recording, 2 s. By default (and with max-gap 10 s) the second segment
/// follows one frame step after the first; with `None` or a limit above
/// the gap, real time. The wall clock stays true; seeks map back.
#[test]
fn rf1_compacts_long_gaps_by_default() {
    let dir = tempfile::tempdir().unwrap();
    rf1_segment(dir.path(), START_MS, 20);
    let second_ms = START_MS + 62_000;
    rf1_segment(dir.path(), second_ms, 20);
    let default = {
        let mut e = Rf1Engine::<SharedBytes>::open(dir.path(), &[]).unwrap();
        let d = e.duration_ns();
        let pts: Vec<_> = std::iter::from_fn(|| e.next_packet().unwrap()).collect();
        (d, pts)
    };
    // Compacted: frames 0..1.9 s, then one frame step later the second
    // segment with its own spacing; the end is that of its last frame.
    let times: Vec<u64> = default.1.iter().map(|p| p.pts.unwrap()).collect();
    let step = times[19] - times[18];
    assert!(step.abs_diff(100 * MS) < MS, "{step}");
    assert_eq!(times[20], times[19] + step);
    for i in 0..20 {
        assert_eq!(times[20 + i] - times[20], times[i], "#{i}");
    }
    assert_eq!(default.0, times[39] + (times[39] - times[38]));
    assert!(default.0.abs_diff(4_000 * MS) < MS, "{}", default.0);
    assert_eq!(default.1[20].wallclock_ns, Some(second_ms * MS));

    for max_gap in [None, Some(100_000 * MS)] {
        let mut source = rf1(dir.path(), max_gap);
        let all = drain(&mut source);
        assert_eq!(all[20].1, 62_000 * MS, "{max_gap:?}: real time");
        assert_eq!(all[20].2, Some(second_ms * MS));
        let duration = source.duration().unwrap();
        assert!(duration.abs_diff(64_000 * MS) < MS, "{duration}");
    }

    // Seeks in the compacted timeline: 2.5 s restarts at the second
    // segment's key frame (2.0 s); 1.95 s (inside the compacted step) at the
    // first segment's last key frame (1.0 s).
    let mut source = rf1(dir.path(), Some(10_000 * MS));
    assert_eq!(source.duration(), Some(default.0));
    let outcome = source.seek(2_500 * MS, None).unwrap();
    assert_eq!(outcome.key_pts, Some(times[20]));
    let after = drain(&mut source);
    assert_eq!(after.len(), 20);
    assert_eq!(after[0].2, Some(second_ms * MS));
    let outcome = source.seek(times[19] + step / 2, None).unwrap();
    assert_eq!(outcome.key_pts, Some(times[10]));
    assert_eq!(drain(&mut source).len(), 30);
}

/// A gap where a segment could not be read is lost data, not a pause in
/// recording: it keeps its length, so what follows has the times of the
/// intact recording (and rf1src's output matches it frame for frame).
#[test]
fn rf1_gap_of_an_unreadable_segment_keeps_its_length() {
    let dir = tempfile::tempdir().unwrap();
    for s in 0..3 {
        rf1_segment(dir.path(), START_MS + s * 20_000, 200);
    }
    std::fs::write(
        dir.path().join(format!("{}_video.rf1i", START_MS + 20_000)),
        b"",
    )
    .unwrap();
    let mut source = rf1(dir.path(), Some(10_000 * MS));
    let all = drain(&mut source);
    assert_eq!(all.len(), 400);
    assert_eq!(all[200].1, 40_000 * MS);
    let report = source.take_report();
    assert!(report.any() && report.describe().contains("segment skipped"));
    assert_eq!(report.format, "Cyclops rf1");
    assert_eq!(report.units, 400);
}
