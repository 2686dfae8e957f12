// SPDX-License-Identifier: MIT
//! A case camera plays as one seekable stream (issue 18.5): `cctvsrc`, and
//! `cctv:///folder?camera=N` URIs in playbin, playbin3, gst-play and the
//! discoverer.

mod support;

use gst::prelude::*;
use gstcctv::formats::pavs::writer::Recording;
use std::path::{Path, PathBuf};
use support::*;

/// 2021-09-01 07:00:00 UTC.
const T0: u64 = 1_630_479_600_000_000_000;
const S: u64 = 1_000_000_000;

fn psf(dir: &Path, name: &str, channel: u8, camera: &str, start: u64, frames: u64) -> PathBuf {
    let path = dir.join(name);
    Recording {
        channel,
        camera_name: camera,
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

/// Two cameras, two consecutive files each (names out of time order), a
/// copy of one file in a subfolder.
fn case(dir: &Path) -> PathBuf {
    let root = dir.join("backup");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    psf(&root, "b.psf", 9, "ALLEY", T0, 40);
    psf(&root, "a.psf", 9, "ALLEY", T0 + 20 * S, 40);
    psf(&root, "door1.psf", 3, "DOOR", T0, 20);
    psf(&root, "door2.psf", 3, "DOOR", T0 + 10 * S, 20);
    std::fs::copy(root.join("a.psf"), root.join("sub/copy.psf")).unwrap();
    root
}

/// A video buffer's (pts, capture time).
fn frame_of(sample: &gst::Sample) -> (u64, u64) {
    let buffer = sample.buffer().unwrap();
    let wall = buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .next()
        .map(|m| m.timestamp().nseconds())
        .unwrap_or(0);
    (buffer.pts().unwrap().nseconds(), wall)
}

/// Every video buffer (pts, capture time) `cctvsrc` gives for `camera`,
/// after a seek to `seek` if any.
fn video_of(location: &Path, camera: &str, seek: Option<u64>) -> Vec<(u64, u64)> {
    init();
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("cctvsrc")
        .property("location", location.to_str().unwrap())
        .property("camera", camera)
        .build()
        .unwrap();
    let queue = gst::ElementFactory::make("queue")
        .property("max-size-time", 0u64)
        .build()
        .unwrap();
    let sink = gst_app::AppSink::builder().sync(false).build();
    pipeline
        .add_many([&src, &queue, sink.upcast_ref()])
        .unwrap();
    queue.link(&sink).unwrap();
    // The camera's video pad (its number is the camera's).
    let queue_sink = queue.static_pad("sink").unwrap();
    src.connect_pad_added(move |_, pad| {
        if pad.name().starts_with("video_") {
            pad.link(&queue_sink).unwrap();
        }
    });
    pipeline.set_state(gst::State::Paused).unwrap();
    let bus = pipeline.bus().unwrap();
    if let Some(target) = seek {
        let msg = bus
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(20),
                &[gst::MessageType::AsyncDone, gst::MessageType::Error],
            )
            .expect("preroll");
        assert_eq!(msg.type_(), gst::MessageType::AsyncDone, "{msg:?}");
        pipeline
            .seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                gst::ClockTime::from_nseconds(target),
            )
            .unwrap();
    }
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(20)) {
        out.push(frame_of(&sample));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    out
}

#[test]
fn a_case_camera_plays_its_files_as_one_stream() {
    let dir = tempfile::tempdir().unwrap();
    let root = case(dir.path());
    let frames = video_of(&root, "9", None);
    assert_eq!(frames.len(), 80, "every frame of both files, the copy once");
    // Capture order, rising times, the second file right after the first.
    assert!(
        frames
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1)
    );
    assert_eq!(frames[0], (0, T0));
    assert_eq!(frames[40], (20 * S, T0 + 20 * S));
    // By name, the other camera.
    let door = video_of(&root, "DOOR", None);
    assert_eq!(door.len(), 40);
    assert_eq!(door[20].1, T0 + 10 * S);
}

#[test]
fn a_case_camera_seeks_across_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = case(dir.path());
    // 27.3 s: in the second file; its key frame at 25 s (gop 10 at 2 fps).
    let frames = video_of(&root, "9", Some(27_300_000_000));
    assert_eq!(frames[0], (25 * S, T0 + 25 * S));
    assert_eq!(frames.len(), 30);
}

#[test]
fn an_unknown_camera_is_a_clear_error() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let root = case(dir.path());
    let pipeline = gst::parse::launch(&format!(
        "cctvsrc location=\"{}\" camera=7 ! fakesink",
        root.display()
    ))
    .unwrap();
    let _ = pipeline.set_state(gst::State::Paused);
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(20), &[gst::MessageType::Error])
        .expect("an error");
    let gst::MessageView::Error(e) = msg.view() else {
        unreachable!()
    };
    let text = e.error().to_string();
    assert!(text.contains("No camera \"7\""), "{text}");
    assert!(text.contains("ALLEY") && text.contains("DOOR"), "{text}");
    pipeline.set_state(gst::State::Null).unwrap();
}

fn tool(args: &[&str]) -> String {
    let out = std::process::Command::new("timeout")
        .arg("60")
        .args(args)
        .env("GST_PLUGIN_PATH", plugin_dir())
        .output()
        .expect("GStreamer tools (scripts/setup.sh installs them)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn players_open_case_uris() {
    let dir = tempfile::tempdir().unwrap();
    let root = case(dir.path());
    let uri = format!(
        "{}?camera=9",
        gst::glib::filename_to_uri(&root, None)
            .unwrap()
            .replacen("file://", "cctv://", 1)
    );
    let text = tool(&["gst-discoverer-1.0", &uri]);
    assert!(text.contains("Duration: 0:00:40.0"), "{text}");
    assert!(text.contains("video #"), "{text}");
    assert!(!text.contains("rror"), "{text}");
    for player in ["playbin", "playbin3"] {
        let text = tool(&[
            "gst-launch-1.0",
            player,
            &format!("uri={uri}"),
            "video-sink=fakesink sync=false",
            "audio-sink=fakesink",
        ]);
        assert!(text.contains("Got EOS"), "{player}: {text}");
        assert!(!text.contains("ERROR"), "{player}: {text}");
    }
    let text = tool(&[
        "gst-play-1.0",
        "--videosink=fakesink sync=false",
        "--audiosink=fakesink",
        &uri,
    ]);
    assert!(text.contains("Reached end of play list"), "{text}");
    assert!(!text.contains("CRITICAL"), "{text}");
}

/// Every video buffer (pts, capture time) of `description`'s appsink
/// `sink`, or the error the pipeline posted.
fn launched(description: &str) -> Result<Vec<(u64, u64)>, String> {
    init();
    let pipeline = gst::parse::launch(description)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    let _ = pipeline.set_state(gst::State::Playing);
    let bus = pipeline.bus().unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut error = None;
    // Until the end, an error, or the deadline (a failing source posts an
    // error and never ends the sink).
    while !sink.is_eos() && std::time::Instant::now() < deadline {
        if let Some(m) = bus.pop_filtered(&[gst::MessageType::Error])
            && let gst::MessageView::Error(e) = m.view()
        {
            error = Some(e.error().to_string());
            break;
        }
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        out.push(frame_of(&sample));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    match error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// `files` plays the camera over the recordings given and only those
/// (what `cctv convert` gives it for a window), in capture order whatever
/// the order given; a file that is no recording is a clear error.
#[test]
fn files_play_the_camera_over_those_recordings_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = case(dir.path());
    let q = |name: &str| format!("\"{}\"", root.join(name).display());
    // The second ALLEY file and both DOOR files, given out of time order.
    let given = format!("<{},{},{}>", q("door2.psf"), q("a.psf"), q("door1.psf"));
    let frames = launched(&format!(
        "cctvsrc files={given} camera=ALLEY name=s s.video_9 ! appsink name=sink sync=false"
    ))
    .unwrap();
    assert_eq!(frames.len(), 40, "a.psf only");
    assert_eq!(frames[0], (0, T0 + 20 * S));
    let door = launched(&format!(
        "cctvsrc files={given} camera=3 name=s s.video_3 ! appsink name=sink sync=false"
    ))
    .unwrap();
    assert_eq!(door.len(), 40, "both DOOR files");
    assert_eq!(door[20], (10 * S, T0 + 10 * S));
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a recording").unwrap();
    let err = launched(&format!(
        "cctvsrc files=<\"{}\"> name=s s.video_9 ! appsink name=sink sync=false",
        text.display()
    ))
    .unwrap_err();
    assert!(
        err.contains("notes.txt is not a .psf or .nvr recording"),
        "{err}"
    );
}

/// An NVR export (a directory per camera, rf1) beside `.psf` files: its
/// cameras play through `cctv://` in the same players, by their ids.
#[test]
fn players_open_an_rf1_camera_of_an_export_by_uri() {
    let dir = tempfile::tempdir().unwrap();
    let root = case(dir.path());
    let cam = root.join("nvr/camera-0007");
    std::fs::create_dir_all(&cam).unwrap();
    // Two segments of 5 s, decodable pictures.
    gstcctv::formats::rf1::writer::Archive {
        start_ms: 1_630_479_600_000,
        segments: 2,
        frames_per_segment: 50,
        gop: 10,
        width: 176,
        height: 144,
        annexb: true,
        parameter_sets_once: false,
    }
    .write(&cam)
    .unwrap();
    let uri = format!(
        "{}?camera=rf1-camera-0007-video",
        gst::glib::filename_to_uri(&root, None)
            .unwrap()
            .replacen("file://", "cctv://", 1)
    );
    let text = tool(&["gst-discoverer-1.0", &uri]);
    assert!(text.contains("Duration: 0:00:09.9"), "{text}");
    assert!(text.contains("video #"), "{text}");
    assert!(!text.contains("rror"), "{text}");
    let text = tool(&[
        "gst-launch-1.0",
        "playbin",
        &format!("uri={uri}"),
        "video-sink=fakesink sync=false",
        "audio-sink=fakesink",
    ]);
    assert!(text.contains("Got EOS"), "{text}");
    assert!(!text.contains("ERROR"), "{text}");
}
