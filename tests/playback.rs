// SPDX-License-Identifier: MIT
//! Playback in ordinary GStreamer applications (issue 9): decoder latency,
//! subtitle tracks, the default stream, no missing plugins, rf1 by file name.

mod support;

use gst::prelude::*;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::*;

/// Runs a pipeline to EOS (bounded), returning the error text if any.
fn run_to_eos(pipeline: &gst::Element) -> Option<String> {
    let bus = pipeline.bus().unwrap();
    let _ = pipeline.set_state(gst::State::Playing);
    let mut error = Some("timed out".to_string());
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
        match msg.view() {
            gst::MessageView::Eos(_) => {
                error = None;
                break;
            }
            gst::MessageView::Error(e) => {
                error = Some(format!("{} ({:?})", e.error(), e.debug()));
                break;
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    error
}

/// For each decoded picture, how many frames had entered avdec_h264 when it
/// came out.
fn decoder_input_counts(file: &Path) -> Vec<usize> {
    init();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! pavsdemux ! h264parse ! avdec_h264 name=dec ! fakesink sync=false",
        file.display()
    ))
    .unwrap();
    let bin = pipeline.clone().downcast::<gst::Bin>().unwrap();
    let dec = bin.by_name("dec").unwrap();
    let fed = Arc::new(AtomicUsize::new(0));
    let counts = Arc::new(Mutex::new(Vec::new()));
    let fed2 = fed.clone();
    dec.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            fed2.fetch_add(1, Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
    let counts2 = counts.clone();
    dec.static_pad("src")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counts2.lock().unwrap().push(fed.load(Ordering::SeqCst));
            gst::PadProbeReturn::Ok
        });
    assert_eq!(run_to_eos(&pipeline), None, "{}", file.display());
    let counts = counts.lock().unwrap().clone();
    counts
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn pavs_pictures_come_out_of_avdec_h264_at_once() {
    let dir = shared_samples("pavs");
    for name in ["video1", "video2", "video3"] {
        let counts = decoder_input_counts(&dir.join(format!("{name}.psf")));
        assert!(!counts.is_empty(), "{name}: no picture");
        assert!(
            counts[0] <= 2,
            "{name}: first picture after {} input frames",
            counts[0]
        );
        // Every later picture too follows its frame without a growing delay.
        for (i, &c) in counts.iter().enumerate() {
            assert!(c <= i + 2, "{name}: picture {i} after {c} input frames");
        }
    }
}

/// The stream id of the video playbin (`element`: "playbin" or "playbin3")
/// selects by default, once prerolled: playbin's `current-video` input,
/// playbin3's STREAMS_SELECTED message.
fn default_video_stream(element: &str, file: &Path) -> String {
    init();
    let playbin = gst::ElementFactory::make(element)
        .property(
            "uri",
            gst::glib::filename_to_uri(file, None).unwrap().as_str(),
        )
        .build()
        .unwrap();
    for prop in ["video-sink", "audio-sink", "text-sink"] {
        playbin.set_property(prop, gst::ElementFactory::make("fakesink").build().unwrap());
    }
    let bus = playbin.bus().unwrap();
    playbin.set_state(gst::State::Paused).unwrap();
    let mut selected = None;
    let mut prerolled = false;
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::StreamsSelected(s) => {
                selected = s
                    .streams()
                    .into_iter()
                    .find(|st| st.stream_type().contains(gst::StreamType::VIDEO))
                    .and_then(|st| st.stream_id())
                    .map(|id| id.to_string());
            }
            gst::MessageView::AsyncDone(_) => {
                prerolled = true;
                break;
            }
            gst::MessageView::Error(e) => panic!("{element} {}: {}", file.display(), e.error()),
            _ => {}
        }
    }
    assert!(prerolled, "{element} {}: no preroll", file.display());
    if element == "playbin" {
        let current = playbin.property::<i32>("current-video");
        let pad = playbin.emit_by_name::<Option<gst::Pad>>("get-video-pad", &[&current]);
        selected = pad.and_then(|p| p.stream_id()).map(|id| id.to_string());
    }
    playbin.set_state(gst::State::Null).unwrap();
    selected.unwrap_or_default()
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn playbin_shows_camera_0_of_an_nvr_with_snapshots() {
    let file = shared_samples("says").join("with_jpeg.nvr");
    for element in ["playbin", "playbin3"] {
        let id = default_video_stream(element, &file);
        assert!(id.ends_with("/video_0"), "{element} shows {id}");
    }
}
