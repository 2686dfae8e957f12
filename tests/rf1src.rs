// SPDX-License-Identifier: MIT
//! `rf1src` against the reference corpus (`shared/samples/rf1`) and against
//! archives written with the crate's own rf1 writer (bare NALUs, damage,
//! seeking, decoding, MP4 remux).

mod support;

use std::fs;
use std::path::Path;

use gst::prelude::*;
use gstcctv::formats::rf1::ticks_to_ns;
use gstcctv::formats::rf1::writer::Archive;
use gstcctv::h264::{START_CODE, test_picture};
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{Out, Run, run_pipeline};

const MS: u64 = 1_000_000;

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn int(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn case_json(samples: &Path, case: &str) -> Value {
    serde_json::from_slice(&fs::read(samples.join(case).join("case.json")).unwrap()).unwrap()
}

fn play(location: &Path, extra: &str, tail: &str) -> Run {
    run_pipeline(
        &format!(
            "rf1src name=demux location=\"{}\" {extra}",
            location.display()
        ),
        tail,
        None,
        None,
    )
}

fn play_seek(location: &Path, tail: &str, seek: impl Fn(&gst::Pipeline)) -> Run {
    run_pipeline(
        &format!("rf1src name=demux location=\"{}\"", location.display()),
        tail,
        None,
        Some(&seek),
    )
}

fn concat(outs: &[Out]) -> Vec<u8> {
    outs.iter().flat_map(|o| o.data.iter().copied()).collect()
}

/// Checks one track's buffers against its case.json entry; `origin_us` is
/// the earliest time base of the tracks played together.
fn check_track(what: &str, expected: &Value, outs: &[Out], origin_us: u64, discont_first: bool) {
    let frames = expected["frames"].as_array().unwrap();
    assert_eq!(outs.len(), frames.len(), "{what}: frame count");
    assert_eq!(
        sha256_hex(&concat(outs)),
        expected["payload_sha256"].as_str().unwrap(),
        "{what}: payload"
    );
    let timebase_us = int(&expected["timebase_us"]);
    let offset_ns = (timebase_us - origin_us) * 1000;
    for (i, (out, frame)) in outs.iter().zip(frames).enumerate() {
        let f = frame.as_array().unwrap();
        let pts = offset_ns + int(&f[0]);
        assert_eq!(out.pts.map(|p| p.nseconds()), Some(pts), "{what} #{i}: pts");
        assert_eq!(out.dts, out.pts, "{what} #{i}: dts");
        assert_eq!(!out.is_delta(), int(&f[1]) == 1, "{what} #{i}: key flag");
        assert_eq!(out.data.len() as u64, int(&f[2]), "{what} #{i}: size");
        assert_eq!(out.memories, 1, "{what} #{i}: one memory");
        assert_eq!(
            out.unix_ns,
            Some(timebase_us * 1000 + ticks_to_ns(int(&f[4]))),
            "{what} #{i}: wall clock"
        );
        assert_eq!(
            out.flags.contains(gst::BufferFlags::DISCONT),
            i == 0 && discont_first,
            "{what} #{i}: discont"
        );
        if let Some(next) = frames.get(i + 1) {
            let d = int(&next[0]) - int(&f[0]);
            assert_eq!(out.duration.map(|d| d.nseconds()), Some(d), "{what} #{i}");
        }
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn every_single_segment_case_matches_the_reference() {
    let samples = support::shared_samples("rf1");
    for case in [
        "h264_basic",
        "h264_dirty",
        "h265_basic",
        "two_tracks",
        "long_gop_limits",
        "empty_track",
    ] {
        let json = case_json(&samples, case);
        let file = &json["files"][0];
        let base = samples.join(case).join(file["base"].as_str().unwrap());
        let tracks = file["tracks"].as_array().unwrap();
        let tail = if tracks.len() > 1 { "queue" } else { "" };
        let run = play(&base, "", tail);
        assert!(run.errors.is_empty(), "{case}: {:?}", run.errors);
        assert!(run.warnings.is_empty(), "{case}: {:?}", run.warnings);
        let origin_us = tracks.iter().map(|t| int(&t["timebase_us"])).min().unwrap();
        assert_eq!(run.pads.len(), tracks.len(), "{case}: pads");
        for t in tracks {
            let name = t["name"].as_str().unwrap();
            let what = format!("{case}/{name}");
            let outs = &run.pads[name];
            check_track(&what, t, outs, origin_us, true);
            if outs.is_empty() {
                continue;
            }
            let caps = &run.caps[name];
            let s = caps.structure(0).unwrap();
            let codec = t["codec"].as_str().unwrap();
            assert_eq!(
                s.name(),
                if codec == "h264" {
                    "video/x-h264"
                } else {
                    "video/x-h265"
                }
            );
            assert_eq!(s.get::<&str>("stream-format").unwrap(), "byte-stream");
            assert_eq!(s.get::<&str>("alignment").unwrap(), "au");
            assert_eq!(s.get::<i32>("width").unwrap() as u64, int(&t["width"]));
            assert_eq!(s.get::<i32>("height").unwrap() as u64, int(&t["height"]));
            let tags = &run.tags[name];
            let dt = tags
                .iter()
                .find_map(|t| t.get::<gst::tags::DateTime>())
                .unwrap_or_else(|| panic!("{what}: no date-time tag"));
            let dt = dt.get().to_g_date_time().unwrap();
            assert_eq!(
                dt.to_unix() as u64 * 1_000_000 + dt.microsecond() as u64,
                int(&t["timebase_us"]),
                "{what}: date-time tag"
            );
        }
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn dirty_plays_like_basic_and_two_tracks_keep_their_offset() {
    let samples = support::shared_samples("rf1");
    let basic = play(&samples.join("h264_basic/1712815946731"), "", "");
    let dirty = play(&samples.join("h264_dirty/1712815946731"), "", "");
    let (a, b) = (basic.only(), dirty.only());
    assert_eq!(a.len(), 300);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!((&x.data, x.pts, x.flags), (&y.data, y.pts, y.flags));
    }
    let two = play(&samples.join("two_tracks/1712815946731"), "", "queue");
    assert_eq!(
        two.pads["lowres"][0].pts,
        Some(gst::ClockTime::from_mseconds(500))
    );
    assert_eq!(two.pads["video"][0].pts, Some(gst::ClockTime::ZERO));
    // Track selection and a track file as location.
    let only = play(
        &samples.join("two_tracks/1712815946731_video.rf1i"),
        "tracks=lowres",
        "",
    );
    assert_eq!(only.pads.keys().collect::<Vec<_>>(), ["lowres"]);
    assert_eq!(only.only().len(), 100);
    assert_eq!(only.only()[0].pts, Some(gst::ClockTime::ZERO));
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn archive_dir_plays_as_one_continuous_stream() {
    let samples = support::shared_samples("rf1");
    let json = case_json(&samples, "archive_dir");
    let run = play(&samples.join("archive_dir/camera-0001"), "", "");
    assert!(run.errors.is_empty() && run.warnings.is_empty(), "{run:?}");
    let outs = run.only();
    assert_eq!(outs.len(), 600);
    for w in outs.windows(2) {
        let step = w[1].pts.unwrap() - w[0].pts.unwrap();
        assert!(
            step >= gst::ClockTime::from_mseconds(99) && step <= gst::ClockTime::from_mseconds(101),
            "step {step}"
        );
    }
    let origin_us = int(&json["files"][0]["tracks"][0]["timebase_us"]);
    for (i, file) in json["files"].as_array().unwrap().iter().enumerate() {
        let t = &file["tracks"][0];
        check_track(
            &format!("archive_dir/{i}"),
            t,
            &outs[i * 200..(i + 1) * 200],
            origin_us,
            i == 0,
        );
    }
    assert_eq!(
        outs[599].pts,
        Some(gst::ClockTime::from_nseconds(59_899_902_343))
    );
    // Exactly one segment event: segment joins are seamless.
    assert_eq!(run.segments["video"].len(), 1);
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn archive_dir_remuxes_to_mp4() {
    let samples = support::shared_samples("rf1");
    support::init();
    let dir = TempDir::new("mp4");
    let mp4 = dir.path().join("out.mp4");
    let pipeline = gst::parse::launch(&format!(
        "rf1src location=\"{}\" ! h264parse ! mp4mux ! filesink location=\"{}\"",
        samples.join("archive_dir/camera-0001").display(),
        mp4.display()
    ))
    .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("EOS");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    pipeline.set_state(gst::State::Null).unwrap();
    let run = support::demux_file("qtdemux", &mp4, "");
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let outs = run.only();
    assert_eq!(outs.len(), 600);
    let last = outs.last().unwrap();
    let end = last.pts.unwrap() + last.duration.unwrap();
    assert!(
        end >= gst::ClockTime::from_mseconds(59_900)
            && end <= gst::ClockTime::from_mseconds(60_100),
        "end {end}"
    );
}

// ------------------------------------------------------------ generated archives

/// A fresh temporary directory, removed when dropped (even if the test fails).
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new(name: &str) -> Self {
        TempDir(
            tempfile::Builder::new()
                .prefix(&format!("rf1src-test-{name}-"))
                .tempdir()
                .unwrap(),
        )
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

const START_MS: u64 = 1_700_000_000_000;
const W: usize = 32;

/// How to write a synthetic archive.
#[derive(Clone, Copy)]
struct Spec {
    segments: usize,
    frames_per_segment: usize,
    gop: usize,
    /// NALUs stored without start codes (no ANNEXB flag).
    bare: bool,
    /// SPS/PPS only in the very first access unit.
    parameter_sets_once: bool,
}

/// The key-frame seed of frame `i`: decoded pictures equal
/// `test_picture(W, W, seed)`.
fn seed_of(spec: &Spec, frame: usize) -> u32 {
    (frame - frame % spec.gop) as u32
}

/// Writes a 10 fps decodable H.264 archive into `dir`, one segment per
/// `frames_per_segment` frames, with contiguous segment time bases.
fn write_archive(dir: &Path, spec: Spec) {
    Archive {
        start_ms: START_MS,
        segments: spec.segments,
        frames_per_segment: spec.frames_per_segment,
        gop: spec.gop,
        width: W as u16,
        height: W as u16,
        annexb: !spec.bare,
        parameter_sets_once: spec.parameter_sets_once,
    }
    .write(dir)
    .unwrap();
}

fn expected_picture(spec: &Spec, frame: usize) -> Vec<u8> {
    let (y, u, v) = test_picture(W, W, seed_of(spec, frame));
    [y, u, v].concat()
}

fn seek(
    pipeline: &gst::Pipeline,
    flags: gst::SeekFlags,
    start: gst::ClockTime,
    stop: Option<gst::ClockTime>,
) {
    let stop_type = if stop.is_some() {
        gst::SeekType::Set
    } else {
        gst::SeekType::None
    };
    pipeline
        .seek(
            1.0,
            gst::SeekFlags::FLUSH | flags,
            gst::SeekType::Set,
            start,
            stop_type,
            stop.or(gst::ClockTime::NONE),
        )
        .unwrap();
}

/// Times are exact at 10 fps only up to the tick rounding: compare in ms.
fn ms(t: Option<gst::ClockTime>) -> u64 {
    (t.unwrap().nseconds() + MS / 2) / MS
}

#[test]
fn bare_nalus_get_start_codes_and_decode() {
    let dir = TempDir::new("bare");
    let spec = Spec {
        segments: 2,
        frames_per_segment: 20,
        gop: 10,
        bare: true,
        parameter_sets_once: true,
    };
    write_archive(dir.path(), spec);
    let raw = play(dir.path(), "", "");
    assert!(raw.errors.is_empty() && raw.warnings.is_empty(), "{raw:?}");
    let outs = raw.only();
    assert_eq!(outs.len(), 40);
    for (i, out) in outs.iter().enumerate() {
        assert!(out.data.starts_with(&START_CODE), "#{i}");
        let key = i % spec.gop == 0;
        assert_eq!(!out.is_delta(), key, "#{i}");
        if key {
            // SPS + PPS in front of every key frame, though stored only once.
            let types: Vec<u8> = gstcctv::h264::annexb_nal_units(&out.data)
                .map(|n| n[0] & 0x1f)
                .collect();
            assert_eq!(types, [7, 8, 5], "#{i}");
        }
        assert_eq!(ms(out.pts), i as u64 * 100, "#{i}");
    }
    let decoded = play(dir.path(), "", "h264parse ! avdec_h264");
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    let pictures = decoded.only();
    assert_eq!(pictures.len(), 40);
    for (i, p) in pictures.iter().enumerate() {
        assert!(p.data == expected_picture(&spec, i), "picture {i}");
    }
}

#[test]
fn truncated_packet_file_gives_complete_frames_and_one_warning() {
    let dir = TempDir::new("cut");
    let spec = Spec {
        segments: 1,
        frames_per_segment: 30,
        gop: 10,
        bare: false,
        parameter_sets_once: false,
    };
    write_archive(dir.path(), spec);
    let full = play(dir.path(), "", "");
    let sizes: Vec<usize> = full.only().iter().map(|o| o.data.len()).collect();
    // Cut inside frame 20 (a key frame).
    let cut: usize = sizes[..20].iter().sum::<usize>() + 5;
    let packets = dir.path().join(format!("{START_MS}_video.rf1p"));
    fs::OpenOptions::new()
        .write(true)
        .open(&packets)
        .unwrap()
        .set_len(cut as u64)
        .unwrap();
    let run = play(dir.path(), "", "");
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(run.warnings.len(), 1, "{:?}", run.warnings);
    let outs = run.only();
    assert_eq!(outs.len(), 20);
    assert_eq!(concat(outs), concat(&full.only()[..20]));
}

#[test]
fn bad_magic_is_an_error() {
    let dir = TempDir::new("magic");
    let spec = Spec {
        segments: 1,
        frames_per_segment: 10,
        gop: 10,
        bare: false,
        parameter_sets_once: false,
    };
    write_archive(dir.path(), spec);
    let index = dir.path().join(format!("{START_MS}_video.rf1i"));
    let mut bytes = fs::read(&index).unwrap();
    bytes[..4].copy_from_slice(b"RIFF");
    fs::write(&index, bytes).unwrap();
    support::init();
    let pipeline = gst::parse::launch(&format!(
        "rf1src location=\"{}\" ! fakesink",
        dir.path().display()
    ))
    .unwrap();
    assert!(pipeline.set_state(gst::State::Playing).is_err());
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Error])
        .expect("an error message");
    let gst::MessageView::Error(err) = msg.view() else {
        unreachable!()
    };
    let text = format!("{} {:?}", err.error(), err.debug());
    assert!(text.contains("not an rf1 video index"), "{text}");
    pipeline.set_state(gst::State::Null).unwrap();
}

fn seek_spec() -> Spec {
    Spec {
        segments: 3,
        frames_per_segment: 30,
        gop: 10,
        bare: false,
        parameter_sets_once: true,
    }
}

#[test]
fn muxers_take_the_output_without_a_parser() {
    let dir = TempDir::new("avc");
    let spec = seek_spec();
    write_archive(dir.path(), spec);
    let mp4 =
        support::mux_mp4_without_parser(&format!("rf1src location=\"{}\"", dir.path().display()));
    let direct = play(dir.path(), "", "");
    let run = support::demux_file("qtdemux", &mp4, "");
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let (muxed, direct) = (run.only(), direct.only());
    let total = spec.segments * spec.frames_per_segment;
    assert_eq!((muxed.len(), direct.len()), (total, total));
    // Every frame bit-exact, apart from the parameter sets that moved from
    // in front of key frames into the decoder config.
    let strip = |annexb: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        for nal in gstcctv::h264::annexb_nal_units(annexb) {
            if !matches!(nal[0] & 0x1f, 7 | 8) {
                out.extend_from_slice(&[0, 0, 0, 1]);
                out.extend_from_slice(nal);
            }
        }
        out
    };
    for (m, d) in muxed.iter().zip(direct) {
        assert_eq!(strip(&support::avc_to_annexb(&m.data)), strip(&d.data));
    }
    let decoded = support::demux_file("qtdemux", &mp4, "h264parse ! avdec_h264");
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    assert_eq!(decoded.only().len(), total);
}

#[test]
fn key_unit_seek_lands_exactly_on_the_key_frame() {
    let dir = TempDir::new("keyseek");
    let spec = seek_spec();
    write_archive(dir.path(), spec);
    let reference = play(dir.path(), "", "");
    let key_pts = reference.only()[20].pts.unwrap();
    for target in [key_pts, key_pts + gst::ClockTime::from_mseconds(50)] {
        let run = play_seek(dir.path(), "", |p| {
            seek(p, gst::SeekFlags::KEY_UNIT, target, None)
        });
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        let outs = run.only();
        assert_eq!(outs.len(), 70, "target {target}");
        assert_eq!(outs[0].pts, Some(key_pts));
        assert!(!outs[0].is_delta());
        assert!(outs[0].flags.contains(gst::BufferFlags::DISCONT));
        let segment = run.segments["video"].last().unwrap();
        let segment = segment.downcast_ref::<gst::ClockTime>().unwrap();
        assert_eq!(segment.start(), Some(key_pts));
        assert_eq!(segment.time(), Some(key_pts));
    }
}

#[test]
fn accurate_seek_with_stop_starts_at_the_key_frame_before() {
    let dir = TempDir::new("accurate");
    let spec = seek_spec();
    write_archive(dir.path(), spec);
    let start = gst::ClockTime::from_mseconds(2_350);
    let stop = gst::ClockTime::from_mseconds(3_500);
    let run = play_seek(dir.path(), "", |p| {
        seek(p, gst::SeekFlags::ACCURATE, start, Some(stop))
    });
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    // The sink drops what ends before the segment start: the frames from
    // the key frame at 2.0 s up to 2.3 s are sent but not rendered.
    let outs = run.only();
    assert_eq!(ms(outs[0].pts), 2_300);
    assert!(ms(outs.last().unwrap().pts) < 3_500);
    assert_eq!(outs.len(), 12); // 2.3 .. 3.4 s
    let segment = run.segments["video"].last().unwrap();
    let segment = segment.downcast_ref::<gst::ClockTime>().unwrap();
    assert_eq!((segment.start(), segment.stop()), (Some(start), Some(stop)));
    // Decoded pictures are right, so decoding started at the key frame.
    let decoded = play_seek(dir.path(), "h264parse ! avdec_h264", |p| {
        seek(p, gst::SeekFlags::ACCURATE, start, Some(stop))
    });
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    let pictures = decoded.only();
    assert_eq!(ms(pictures[0].pts), 2_400);
    assert_eq!(pictures.len(), 11);
    for p in pictures {
        let frame = (ms(p.pts) / 100) as usize;
        assert!(p.data == expected_picture(&spec, frame), "frame {frame}");
    }
}

#[test]
fn seek_across_a_segment_boundary_and_decode() {
    let dir = TempDir::new("segments");
    let spec = seek_spec();
    write_archive(dir.path(), spec);
    // Segment 2 starts at 3.0 s; its key frames carry no SPS/PPS (only the
    // very first AU of the archive does): they are looked up in segment 1.
    let target = gst::ClockTime::from_mseconds(4_250);
    let run = play_seek(dir.path(), "h264parse ! avdec_h264", |p| {
        seek(p, gst::SeekFlags::KEY_UNIT, target, None)
    });
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let pictures = run.only();
    assert_eq!(ms(pictures[0].pts), 4_000);
    assert_eq!(pictures.len(), 50); // 4.0 .. 8.9 s, through segment 3
    for (i, p) in pictures.iter().enumerate() {
        let frame = (ms(p.pts) / 100) as usize;
        assert_eq!(frame, 40 + i);
        assert!(p.data == expected_picture(&spec, frame), "frame {frame}");
    }
    // Queries on the element.
    support::init();
    let pipeline = gst::parse::launch(&format!(
        "rf1src location=\"{}\" ! fakesink",
        dir.path().display()
    ))
    .unwrap();
    pipeline.set_state(gst::State::Paused).unwrap();
    let _ = pipeline.state(gst::ClockTime::from_seconds(5));
    // The last frame (8.9 s) plus its duration.
    assert_eq!(ms(pipeline.query_duration::<gst::ClockTime>()), 9_000);
    let mut q = gst::query::Seeking::new(gst::Format::Time);
    assert!(pipeline.query(&mut q));
    assert!(q.result().0);
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn empty_and_missing_locations() {
    let dir = TempDir::new("missing");
    support::init();
    let pipeline = gst::parse::launch(&format!(
        "rf1src location=\"{}\" ! fakesink",
        dir.path().join("nothing").display()
    ))
    .unwrap();
    assert!(pipeline.set_state(gst::State::Paused).is_err());
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn uri_handler() {
    support::init();
    let dir = TempDir::new("uri");
    write_archive(
        dir.path(),
        Spec {
            segments: 1,
            frames_per_segment: 5,
            gop: 5,
            bare: false,
            parameter_sets_once: false,
        },
    );
    let uri = format!("rf1://{}", dir.path().display());
    // rf1:// goes to rf1urisrc (rf1src with a queue per pad, for playbin).
    let bin = gst::Element::make_from_uri(gst::URIType::Src, &uri, None).unwrap();
    assert_eq!(bin.factory().unwrap().name(), "rf1urisrc");
    assert_eq!(
        bin.dynamic_cast_ref::<gst::URIHandler>()
            .unwrap()
            .uri()
            .unwrap()
            .as_str(),
        uri
    );
    let src = gst::ElementFactory::make("rf1src").build().unwrap();
    src.dynamic_cast_ref::<gst::URIHandler>()
        .unwrap()
        .set_uri(&uri)
        .unwrap();
    assert_eq!(
        src.property::<Option<String>>("location").as_deref(),
        Some(dir.path().to_str().unwrap())
    );
    let handler = src.dynamic_cast_ref::<gst::URIHandler>().unwrap();
    handler
        .set_uri(&format!("file://{}", dir.path().display()))
        .unwrap();
    assert_eq!(handler.uri().unwrap().as_str(), uri);
    assert!(handler.set_uri("http://example.com/x").is_err());
}

// ------------------------------------------------------------ hardening

/// Runs `f` on its own thread; a hang or a panic fails the test instead of
/// blocking the suite.
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("{what}: timed out (hang)"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// A copy of a shared sample directory (e.g. "h264_basic") to mutate.
fn copy_sample(samples: &Path, case: &str) -> TempDir {
    let dir = TempDir::new(case);
    copy_dir(&samples.join(case), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
            let mut perms = fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            fs::set_permissions(&target, perms).unwrap();
        }
    }
}

/// Overwrites index entry `entry` (0-based, after the 32-byte header).
fn set_entry(index: &Path, entry: usize, value: u64) {
    let mut bytes = fs::read(index).unwrap();
    let at = 32 + 8 * entry;
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    fs::write(index, bytes).unwrap();
}

fn entry_at(index: &Path, entry: usize) -> u64 {
    let bytes = fs::read(index).unwrap();
    let at = 32 + 8 * entry;
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

const BASIC: &str = "1712815946731";

/// Plays `location` on a separate thread, failing after `secs`.
fn play_within(secs: u64, location: &Path, extra: &str) -> Run {
    let (location, extra) = (location.to_owned(), extra.to_owned());
    within(secs, "play", move || play(&location, &extra, ""))
}

#[test]
fn hostile_time_base_keeps_frames_and_drops_the_wall_clock() {
    let dir = TempDir::new("timebase");
    write_archive(
        dir.path(),
        Spec {
            segments: 1,
            frames_per_segment: 10,
            gop: 5,
            bare: false,
            parameter_sets_once: false,
        },
    );
    let reference = play(dir.path(), "", "");
    let index = dir.path().join(format!("{START_MS}_video.rf1i"));
    let pristine = fs::read(&index).unwrap();
    for timebase_us in [
        u64::MAX,
        u64::MAX / 1000,
        u64::MAX / 1000 - 1_000_000,
        1 << 62,
    ] {
        let mut bytes = pristine.clone();
        bytes[16..24].copy_from_slice(&timebase_us.to_le_bytes());
        fs::write(&index, bytes).unwrap();
        let run = play_within(20, dir.path(), "");
        assert!(run.errors.is_empty(), "{timebase_us}: {:?}", run.errors);
        let outs = run.only();
        assert_eq!(outs.len(), 10, "{timebase_us}");
        for (i, (out, want)) in outs.iter().zip(reference.only()).enumerate() {
            assert_eq!(out.data, want.data, "{timebase_us} #{i}");
            assert_eq!(ms(out.pts), i as u64 * 100, "{timebase_us} #{i}");
            // Representable as a GstClockTime: kept; beyond: dropped.
            let wall_clock = timebase_us
                .checked_mul(1000)
                .and_then(|ns| ns.checked_add(ticks_to_ns(u64::from(i as u32 * 409))));
            if wall_clock.is_none() {
                assert_eq!(out.unix_ns, None, "{timebase_us} #{i}: no wall clock");
            }
        }
        if timebase_us.checked_mul(1000).is_none() {
            let has_date = run.tags["video"]
                .iter()
                .any(|t| t.get::<gst::tags::DateTime>().is_some());
            assert!(!has_date, "{timebase_us}: no date-time tag");
        }
    }
    // A sane track next to an absurd one: both play, the sane one keeps its wall clock.
    let mut bytes = pristine.clone();
    bytes[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    fs::write(dir.path().join(format!("{START_MS}_absurd.rf1i")), bytes).unwrap();
    fs::write(&index, &pristine).unwrap();
    fs::copy(
        dir.path().join(format!("{START_MS}_video.rf1p")),
        dir.path().join(format!("{START_MS}_absurd.rf1p")),
    )
    .unwrap();
    let (location, tail) = (dir.path().to_owned(), "queue");
    let run = within(20, "two tracks", move || play(&location, "", tail));
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(run.pads["video"].len(), 10);
    assert_eq!(run.pads["absurd"].len(), 10);
    assert!(run.pads["video"][0].unix_ns.is_some());
    assert!(run.pads["absurd"].iter().all(|o| o.unix_ns.is_none()));
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn pad_added_handler_may_query_position_and_duration() {
    let samples = support::shared_samples("rf1");
    support::init();
    let location = samples.join("two_tracks").join(BASIC);
    let answers = within(20, "pad-added queries", move || {
        let pipeline = gst::Pipeline::new();
        let src = gst::ElementFactory::make("rf1src")
            .property("location", location.to_str().unwrap())
            .build()
            .unwrap();
        pipeline.add(&src).unwrap();
        let answers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let answers2 = answers.clone();
        let weak = pipeline.downgrade();
        src.connect_pad_added(move |src, pad| {
            let duration = src.query_duration::<gst::ClockTime>();
            let position = src.query_position::<gst::ClockTime>();
            let pad_duration = pad.query_duration::<gst::ClockTime>();
            answers2
                .lock()
                .unwrap()
                .push((duration, position, pad_duration));
            let pipeline = weak.upgrade().unwrap();
            let sink =
                gst::parse::bin_from_description("queue ! fakesink sync=false", true).unwrap();
            pipeline.add(&sink).unwrap();
            sink.sync_state_with_parent().unwrap();
            pad.link(&sink.static_pad("sink").unwrap()).unwrap();
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        let msg = pipeline.bus().unwrap().timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(
            matches!(
                msg.as_ref().map(|m| m.view()),
                Some(gst::MessageView::Eos(_))
            ),
            "{msg:?}"
        );
        answers.lock().unwrap().clone()
    });
    assert_eq!(answers.len(), 2);
    // lowres: 99 frames at 5 fps after +500 ms, the last at tick 81100 and
    // 819 ticks after the one before it; video ends at 19.9 s. The
    // duration is the end of the last frame.
    let expected = gst::ClockTime::from_nseconds(500_000_000 + ticks_to_ns(81100 + 819));
    for (duration, position, pad_duration) in answers {
        assert_eq!(duration, Some(expected));
        assert_eq!(pad_duration, Some(expected));
        assert!(position.is_some());
    }
}

/// Counts buffers per rf1src pad through `queue max-size-buffers=2` branches.
fn small_queue_pipeline(location: &Path) -> (gst::Pipeline, gst::Element) {
    support::init();
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("rf1src")
        .name("demux")
        .property("location", location.to_str().unwrap())
        .build()
        .unwrap();
    pipeline.add(&src).unwrap();
    let weak = pipeline.downgrade();
    src.connect_pad_added(move |_, pad| {
        let pipeline = weak.upgrade().unwrap();
        let sink = gst::parse::bin_from_description(
            &format!(
                "queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 ! \
                 fakesink sync=false name=sink_{}",
                pad.name()
            ),
            true,
        )
        .unwrap();
        pipeline.add(&sink).unwrap();
        sink.sync_state_with_parent().unwrap();
        pad.link(&sink.static_pad("sink").unwrap()).unwrap();
    });
    (pipeline, src)
}

fn wait_for(
    pipeline: &gst::Pipeline,
    secs: u64,
    types: &[gst::MessageType],
) -> Option<gst::Message> {
    pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(secs), types)
}

/// Buffers leaving each src pad of `src`, counted by probes.
fn count_buffers(src: &gst::Element) -> std::sync::Arc<std::sync::Mutex<Vec<(String, u64)>>> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    src.connect_pad_added(move |_, pad| {
        let seen = seen2.clone();
        let name = pad.name().to_string();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(gst::PadProbeData::Buffer(b)) = &info.data {
                let pts = b.pts().map_or(u64::MAX, |p| p.nseconds());
                seen.lock().unwrap().push((name.clone(), pts));
            }
            gst::PadProbeReturn::Ok
        });
    });
    seen
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn two_tracks_play_through_small_queues_and_key_unit_seek() {
    let samples = support::shared_samples("rf1");
    let location = samples.join("two_tracks").join(BASIC);
    within(30, "two tracks, small queues", move || {
        let (pipeline, src) = small_queue_pipeline(&location);
        let seen = count_buffers(&src);
        pipeline.set_state(gst::State::Paused).unwrap();
        let msg = wait_for(
            &pipeline,
            5,
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        );
        assert!(
            matches!(
                msg.as_ref().map(|m| m.view()),
                Some(gst::MessageView::AsyncDone(_))
            ),
            "preroll: {msg:?}"
        );
        pipeline.set_state(gst::State::Playing).unwrap();
        let msg = wait_for(
            &pipeline,
            10,
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        assert!(
            matches!(
                msg.as_ref().map(|m| m.view()),
                Some(gst::MessageView::Eos(_))
            ),
            "EOS: {msg:?}"
        );
        {
            let seen = seen.lock().unwrap();
            let count = |n: &str| seen.iter().filter(|(name, _)| name == n).count();
            assert_eq!((count("video"), count("lowres")), (200, 100));
            // Interleaved by time: never pushed far ahead of the other pad
            // (each pad holds its latest buffer until the next one, so up
            // to two lowres frame durations).
            let mut last = 0;
            for (name, pts) in seen.iter() {
                assert!(*pts + 500_000_000 >= last, "{name} {pts} after {last}");
                last = last.max(*pts);
            }
            drop(seen);
        }
        seen.lock().unwrap().clear();
        // Key-unit seek while playing, through the same small queues.
        pipeline.set_state(gst::State::Paused).unwrap();
        let _ = pipeline.state(gst::ClockTime::from_seconds(5));
        pipeline.bus().unwrap().set_flushing(true);
        pipeline.bus().unwrap().set_flushing(false);
        assert!(
            pipeline
                .seek_simple(
                    gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                    gst::ClockTime::from_seconds(10),
                )
                .is_ok()
        );
        pipeline.set_state(gst::State::Playing).unwrap();
        let msg = wait_for(
            &pipeline,
            10,
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        assert!(
            matches!(
                msg.as_ref().map(|m| m.view()),
                Some(gst::MessageView::Eos(_))
            ),
            "EOS after seek: {msg:?}"
        );
        let seen = seen.lock().unwrap().clone();
        pipeline.set_state(gst::State::Null).unwrap();
        let count = |n: &str| seen.iter().filter(|(name, _)| name == n).count();
        // video: key frame at 10.0 s; lowres: key frame at 8.5 s (every 2 s from 0.5 s), up to 20.3 s.
        assert_eq!((count("video"), count("lowres")), (100, 60));
    });
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn discoverer_finds_both_tracks() {
    let samples = support::shared_samples("rf1");
    let tool = "gst-discoverer-1.0";
    if std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("{tool} is not installed (scripts/setup.sh installs it)");
    }
    // The cdylib sits next to the test binary (target/<profile>/deps).
    let plugin_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    if !plugin_dir.join("libgstcctv.so").exists() {
        panic!("no libgstcctv.so in {}", plugin_dir.display());
    }
    let registry = TempDir::new("registry");
    let uri = format!("rf1://{}", samples.join("two_tracks").join(BASIC).display());
    let output = std::process::Command::new("timeout")
        .args(["30", tool, "-t", "10", &uri])
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .env("GST_REGISTRY", registry.path().join("registry.bin"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(!text.contains("timed out"), "{text}");
    assert_eq!(text.matches("video #").count(), 2, "{text}");
    // The end of lowres's last frame (20.2998 s + its 819-tick step).
    assert!(text.contains("Duration: 0:00:20.49"), "{text}");
    assert!(!text.contains("Missing plugins"), "{text}");
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn bad_index_entries_lose_only_their_own_access_unit() {
    let samples = support::shared_samples("rf1");
    let reference = play(&samples.join("h264_basic").join(BASIC), "", "");
    let dir = copy_sample(&samples, "h264_basic");
    let index = dir.path().join(format!("{BASIC}_video.rf1i"));
    // Entry 50 (the only NALU of frame 45) and entry 66 (the PPS of key frame
    // 60) point far outside the packet file; PTS and flags stay intact.
    for entry in [50, 66] {
        let value = entry_at(&index, entry);
        set_entry(&index, entry, value | (((1 << 30) - 1) << 12));
    }
    let run = play_within(20, dir.path(), "");
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(run.warnings.len(), 1, "{:?}", run.warnings);
    let outs = run.only();
    let expected: Vec<&Out> = reference
        .only()
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 45)
        .map(|(_, o)| o)
        .collect();
    assert_eq!(outs.len(), expected.len());
    for (i, (out, want)) in outs.iter().zip(expected).enumerate() {
        assert_eq!((&out.data, out.pts), (&want.data, want.pts), "#{i}");
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn entry_with_a_gigabyte_length_plays_every_intact_access_unit() {
    let samples = support::shared_samples("rf1");
    let reference = play(&samples.join("h264_basic").join(BASIC), "", "");
    let dir = copy_sample(&samples, "h264_basic");
    let index = dir.path().join(format!("{BASIC}_video.rf1i"));
    // PTS 0, offset 2^30 - 1, flags 4: entry 100 is frame 91's only NALU.
    set_entry(&index, 100, (((1 << 30) - 1) << 12) | 4);
    let run = play_within(20, dir.path(), "");
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(run.warnings.len(), 1, "{:?}", run.warnings);
    let outs = run.only();
    let expected: Vec<&Out> = reference
        .only()
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 91)
        .map(|(_, o)| o)
        .collect();
    assert_eq!(outs.len(), 299);
    for (i, (out, want)) in outs.iter().zip(expected).enumerate() {
        assert_eq!((&out.data, out.pts), (&want.data, want.pts), "#{i}");
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn a_bad_middle_segment_is_skipped_with_a_warning() {
    let samples = support::shared_samples("rf1");
    let reference = play(&samples.join("archive_dir/camera-0001"), "", "");
    let reference = reference.only();
    assert_eq!(reference.len(), 600);
    let middle = "1712815966731_video";
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 4] = [
        ("bad magic", |i| {
            let mut b = fs::read(i).unwrap();
            b[..4].copy_from_slice(b"RIFF");
            fs::write(i, b).unwrap();
        }),
        ("empty index", |i| fs::write(i, b"").unwrap()),
        ("short index", |i| {
            let b = fs::read(i).unwrap();
            fs::write(i, &b[..20]).unwrap();
        }),
        ("missing packets", |i| {
            fs::remove_file(i.with_extension("rf1p")).unwrap()
        }),
    ];
    for (what, damage) in damages {
        let dir = copy_sample(&samples, "archive_dir");
        let camera = dir.path().join("camera-0001");
        damage(&camera.join(format!("{middle}.rf1i")));
        let run = play_within(20, &camera, "");
        assert!(run.errors.is_empty(), "{what}: {:?}", run.errors);
        assert_eq!(run.warnings.len(), 1, "{what}: {:?}", run.warnings);
        let outs = run.only();
        assert_eq!(outs.len(), 400, "{what}");
        for (i, (out, want)) in outs
            .iter()
            .zip(reference[..200].iter().chain(&reference[400..]))
            .enumerate()
        {
            // The real 20 s gap stays in the timestamps.
            assert_eq!((&out.data, out.pts), (&want.data, want.pts), "{what} #{i}");
        }
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn index_without_sentinel_or_cut_mid_entry_keeps_its_entries() {
    let samples = support::shared_samples("rf1");
    let reference = play(&samples.join("h264_basic").join(BASIC), "", "");
    let reference = reference.only();
    // Without the sentinel: every frame; cut inside entry 320 (the last
    // frame): every frame before it.
    for (cut, frames) in [(8, 300), (11, 299)] {
        let dir = copy_sample(&samples, "h264_basic");
        let index = dir.path().join(format!("{BASIC}_video.rf1i"));
        let bytes = fs::read(&index).unwrap();
        fs::write(&index, &bytes[..bytes.len() - cut]).unwrap();
        let run = play_within(20, dir.path(), "");
        assert!(run.errors.is_empty(), "cut {cut}: {:?}", run.errors);
        assert_eq!(run.warnings.len(), 1, "cut {cut}: {:?}", run.warnings);
        let outs = run.only();
        assert_eq!(outs.len(), frames, "cut {cut}");
        for (i, (out, want)) in outs.iter().zip(reference).enumerate() {
            assert_eq!(
                (&out.data, out.pts),
                (&want.data, want.pts),
                "cut {cut} #{i}"
            );
        }
    }
}

/// A prerolled `rf1src ! fakesink` on a 9 s generated archive.
fn prerolled(dir: &Path) -> (gst::Pipeline, gst::Element) {
    support::init();
    let pipeline = gst::parse::launch(&format!(
        "rf1src name=demux location=\"{}\" ! fakesink name=sink sync=false",
        dir.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    pipeline.set_state(gst::State::Paused).unwrap();
    let msg = wait_for(
        &pipeline,
        5,
        &[gst::MessageType::AsyncDone, gst::MessageType::Error],
    );
    assert!(
        matches!(
            msg.as_ref().map(|m| m.view()),
            Some(gst::MessageView::AsyncDone(_))
        ),
        "{msg:?}"
    );
    let sink = pipeline.by_name("sink").unwrap();
    (pipeline, sink)
}

#[test]
fn seek_past_the_end_ends_promptly() {
    let dir = TempDir::new("past-end");
    write_archive(dir.path(), seek_spec());
    let location = dir.path().to_owned();
    within(30, "seek past the end", move || {
        let end = gst::ClockTime::from_mseconds(8_900);
        for (flags, start) in [
            (
                gst::SeekFlags::SEGMENT,
                end + gst::ClockTime::from_seconds(5),
            ),
            (
                gst::SeekFlags::SEGMENT,
                end + gst::ClockTime::from_mseconds(1),
            ),
            (
                gst::SeekFlags::empty(),
                end + gst::ClockTime::from_seconds(5),
            ),
            (
                gst::SeekFlags::KEY_UNIT,
                end + gst::ClockTime::from_seconds(5),
            ),
        ] {
            let (pipeline, _) = prerolled(&location);
            assert!(
                pipeline
                    .seek(
                        1.0,
                        gst::SeekFlags::FLUSH | flags,
                        gst::SeekType::Set,
                        start,
                        gst::SeekType::None,
                        gst::ClockTime::NONE,
                    )
                    .is_ok()
            );
            let want = if flags.contains(gst::SeekFlags::SEGMENT) {
                gst::MessageType::SegmentDone
            } else {
                gst::MessageType::Eos
            };
            // The flushing seek lost the preroll: it must be regained (not ASYNC forever).
            let (prerolled, _, _) = pipeline.state(gst::ClockTime::from_seconds(2));
            pipeline.set_state(gst::State::Playing).unwrap();
            let msg = wait_for(&pipeline, 5, &[want, gst::MessageType::Error]);
            pipeline.set_state(gst::State::Null).unwrap();
            let msg = msg.unwrap_or_else(|| panic!("{flags:?} {start}: no {want:?}"));
            assert_eq!(msg.type_(), want, "{flags:?} {start}: {msg:?}");
            assert_eq!(
                prerolled,
                Ok(gst::StateChangeSuccess::Success),
                "{flags:?} {start}: preroll after the seek"
            );
        }
    });
}

/// Records what reaches a sink pad: "flush-start", "flush-stop", "segment", "buffer".
fn record_flow(pad: &gst::Pad) -> std::sync::Arc<std::sync::Mutex<Vec<&'static str>>> {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    pad.add_probe(
        gst::PadProbeType::BUFFER
            | gst::PadProbeType::EVENT_DOWNSTREAM
            | gst::PadProbeType::EVENT_FLUSH,
        move |_, info| {
            let what = match &info.data {
                Some(gst::PadProbeData::Buffer(_)) => Some("buffer"),
                Some(gst::PadProbeData::Event(e)) => match e.type_() {
                    gst::EventType::FlushStart => Some("flush-start"),
                    gst::EventType::FlushStop => Some("flush-stop"),
                    gst::EventType::Segment => Some("segment"),
                    _ => None,
                },
                _ => None,
            };
            if let Some(what) = what {
                seen2.lock().unwrap().push(what);
            }
            gst::PadProbeReturn::Ok
        },
    );
    seen
}

#[test]
fn invalid_seek_is_refused_before_any_flush() {
    let dir = TempDir::new("invalid-seek");
    write_archive(dir.path(), seek_spec());
    let location = dir.path().to_owned();
    within(30, "invalid seek", move || {
        let (pipeline, sink) = prerolled(&location);
        let seen = record_flow(&sink.static_pad("sink").unwrap());
        let seek = |start: u64, stop: Option<u64>| {
            let stop_type = if stop.is_some() {
                gst::SeekType::Set
            } else {
                gst::SeekType::None
            };
            pipeline.send_event(gst::event::Seek::new(
                1.0,
                gst::SeekFlags::FLUSH,
                gst::SeekType::Set,
                gst::ClockTime::from_seconds(start),
                stop_type,
                stop.map(gst::ClockTime::from_seconds),
            ))
        };
        assert!(seek(1, Some(5)));
        let _ = pipeline.state(gst::ClockTime::from_seconds(5));
        seen.lock().unwrap().clear();
        // 7 s is after the stop (5 s) this seek would inherit.
        assert!(!seek(7, None), "invalid seek accepted");
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(
            !seen.lock().unwrap().contains(&"flush-start"),
            "{:?}",
            seen.lock().unwrap()
        );
        seen.lock().unwrap().clear();
        assert!(seek(2, None));
        pipeline.set_state(gst::State::Playing).unwrap();
        let msg = wait_for(
            &pipeline,
            5,
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        pipeline.set_state(gst::State::Null).unwrap();
        assert_eq!(msg.map(|m| m.type_()), Some(gst::MessageType::Eos));
        let seen = seen.lock().unwrap().clone();
        let after_flush = seen.iter().rposition(|w| *w == "flush-stop").unwrap();
        let rest = &seen[after_flush + 1..];
        assert_eq!(rest.first(), Some(&"segment"), "{seen:?}");
        // 2 .. 4.9 s (the stop of 5 s is inherited).
        assert_eq!(
            rest.iter().filter(|w| **w == "buffer").count(),
            30,
            "{seen:?}"
        );
    });
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn one_pipeline_seek_flushes_each_pad_once() {
    let samples = support::shared_samples("rf1");
    let location = samples.join("two_tracks").join(BASIC);
    within(30, "seek once", move || {
        support::init();
        let pipeline = gst::parse::launch(&format!(
            "rf1src name=demux location=\"{}\" \
             demux.video ! queue ! fakesink name=v sync=false \
             demux.lowres ! queue ! fakesink name=l sync=false",
            location.display()
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        pipeline.set_state(gst::State::Paused).unwrap();
        let msg = wait_for(
            &pipeline,
            5,
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        );
        assert_eq!(msg.map(|m| m.type_()), Some(gst::MessageType::AsyncDone));
        let flows: Vec<_> = ["v", "l"]
            .iter()
            .map(|n| record_flow(&pipeline.by_name(n).unwrap().static_pad("sink").unwrap()))
            .collect();
        pipeline
            .seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                gst::ClockTime::from_seconds(15),
            )
            .unwrap();
        let _ = pipeline.state(gst::ClockTime::from_seconds(5));
        pipeline.set_state(gst::State::Playing).unwrap();
        let msg = wait_for(
            &pipeline,
            10,
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        pipeline.set_state(gst::State::Null).unwrap();
        assert_eq!(msg.map(|m| m.type_()), Some(gst::MessageType::Eos));
        for flow in flows {
            let seen = flow.lock().unwrap();
            let flushes = seen.iter().filter(|w| **w == "flush-start").count();
            assert_eq!(flushes, 1, "{seen:?}");
        }
    });
}

#[test]
fn segment_seek_delivers_its_last_frame_and_one_segment() {
    let dir = TempDir::new("segment-seek");
    write_archive(dir.path(), seek_spec());
    let location = dir.path().to_owned();
    within(30, "segment seek", move || {
        let (pipeline, sink) = prerolled(&location);
        let seen = record_flow(&sink.static_pad("sink").unwrap());
        seek(
            &pipeline,
            gst::SeekFlags::SEGMENT,
            gst::ClockTime::from_seconds(2),
            Some(gst::ClockTime::from_mseconds(3_500)),
        );
        let _ = pipeline.state(gst::ClockTime::from_seconds(5));
        pipeline.set_state(gst::State::Playing).unwrap();
        let msg = wait_for(
            &pipeline,
            5,
            &[gst::MessageType::SegmentDone, gst::MessageType::Error],
        );
        pipeline.set_state(gst::State::Null).unwrap();
        assert_eq!(msg.map(|m| m.type_()), Some(gst::MessageType::SegmentDone));
        let seen = seen.lock().unwrap().clone();
        let after_flush = seen.iter().rposition(|w| *w == "flush-stop").unwrap();
        let rest = &seen[after_flush + 1..];
        // 2.0 .. 3.4 s: the frame held back for its duration is not lost.
        assert_eq!(
            rest.iter().filter(|w| **w == "buffer").count(),
            15,
            "{seen:?}"
        );
        assert_eq!(
            rest.iter().filter(|w| **w == "segment").count(),
            1,
            "{seen:?}"
        );
    });
}
