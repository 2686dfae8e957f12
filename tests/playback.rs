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
    counts.lock().unwrap().clone()
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
    let uri = gst::glib::filename_to_uri(file, None).unwrap();
    default_video_stream_of_uri(element, &uri)
}

/// [`default_video_stream`] for any URI.
fn default_video_stream_of_uri(element: &str, uri: &str) -> String {
    init();
    let playbin = gst::ElementFactory::make(element)
        .property("uri", uri)
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
            gst::MessageView::Error(e) => panic!("{element} {uri}: {}", e.error()),
            _ => {}
        }
    }
    assert!(prerolled, "{element} {uri}: no preroll");
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
        // Stream ids zero-pad the camera number (`video_000`).
        assert!(id.ends_with("/video_000"), "{element} shows {id}");
    }
}

/// gst-discoverer-1.0 -v on `uri_or_path` with the built plugin (bounded).
fn discoverer(target: &str) -> String {
    let out = std::process::Command::new("timeout")
        .args(["60", "gst-discoverer-1.0", "-v", target])
        .env("GST_PLUGIN_PATH", plugin_dir())
        .output()
        .expect("gst-discoverer-1.0 (scripts/setup.sh installs it)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every sample: .psf, .nvr and each rf1 case's index files.
fn every_sample() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for (dir, ext) in [("pavs", "psf"), ("says", "nvr")] {
        for e in std::fs::read_dir(shared_samples(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == ext) {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Every rf1 index file of the samples (each case, each archive segment).
fn every_rf1_index() -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rf1i") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&shared_samples("rf1"), &mut files);
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    files
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn discoverer_reports_no_missing_plugin_for_any_sample() {
    for file in every_sample() {
        let out = discoverer(file.to_str().unwrap());
        assert!(
            out.contains("Done discovering"),
            "{}: {out}",
            file.display()
        );
        assert!(
            !out.contains("Missing plugins") && !out.contains("missing-plugins"),
            "{}: {out}",
            file.display()
        );
        assert!(out.contains("video #"), "{}: {out}", file.display());
        assert!(out.contains("subtitles #"), "{}: {out}", file.display());
    }
    // rf1 by index file name (rf1demux) and by URI (rf1src: a segment, a
    // camera directory, a track selection).
    let rf1 = shared_samples("rf1");
    let mut targets: Vec<String> = every_rf1_index()
        .iter()
        .map(|p| p.to_str().unwrap().to_owned())
        .collect();
    let uri = |p: &Path| format!("rf1://{}", p.display());
    targets.push(uri(&rf1.join("archive_dir/camera-0001")));
    targets.push(format!(
        "{}?tracks=lowres",
        uri(&rf1.join("two_tracks/1712815946731"))
    ));
    for target in targets {
        let out = discoverer(&target);
        assert!(out.contains("Done discovering"), "{target}: {out}");
        assert!(!out.contains("Missing plugins"), "{target}: {out}");
        assert!(!out.contains("rror"), "{target}: {out}");
        assert!(out.contains("video #"), "{target}: {out}");
    }
    let out = discoverer(&format!(
        "{}?tracks=lowres",
        uri(&rf1.join("two_tracks/1712815946731"))
    ));
    assert_eq!(out.matches("video #").count(), 1, "{out}");
    assert!(out.contains("Width: 320"), "{out}");
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn gst_play_plays_an_rf1_index_file_and_rf1_uris() {
    let rf1 = shared_samples("rf1");
    // (target, real time): gst-play-1.0 renders the subtitles with
    // textoverlay (gstreamer1.0-x, setup.sh); in real time, as players
    // run, every stream must reach its end (a cue waiting for a picture
    // that never comes stalled the player at the end).
    #[allow(clippy::useless_vec)]
    let targets: Vec<(std::path::PathBuf, bool)> = vec![
        (rf1.join("h264_basic/1712815946731_video.rf1i"), false),
        (rf1.join("h265_basic/1712815946731_video.rf1i"), false),
        (
            rf1.join("archive_dir/camera-0001/1712815946731_video.rf1i"),
            false,
        ),
        (
            format!(
                "rf1://{}?tracks=lowres",
                rf1.join("two_tracks/1712815946731").display()
            )
            .into(),
            true,
        ),
        (
            format!("rf1://{}", rf1.join("archive_dir/camera-0001").display()).into(),
            false,
        ),
        // Known issue: .psf and .nvr with the subtitles rendered by
        // playbin's overlay still stall at the very end now and then (far
        // less since cues come per second; README); not asserted here.
    ];
    for (index, real_time) in targets {
        let sink = if real_time {
            "--videosink=fakesink"
        } else {
            "--videosink=fakesink sync=false"
        };
        let out = std::process::Command::new("timeout")
            .args(["60", "gst-play-1.0", sink, "--audiosink=fakesink"])
            .arg(&index)
            .env("GST_PLUGIN_PATH", plugin_dir())
            .output()
            .expect("gst-play-1.0 (scripts/setup.sh installs it)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("Reached end of play list"),
            "{}: {text}",
            index.display()
        );
        assert!(!text.contains("ERROR"), "{}: {text}", index.display());
        // textoverlay (gstreamer1.0-x, setup.sh) renders the subtitles.
        assert!(
            !text.contains("missing a plug-in"),
            "{}: {text}",
            index.display()
        );
        assert!(
            !text.contains("Could not determine type"),
            "{}: {text}",
            index.display()
        );
    }
}

/// playbin and playbin3 on two_tracks (`video` 640x360, `lowres` 320x180),
/// by index file (rf1demux) and by rf1:// URI (rf1urisrc), preroll; playbin
/// shows the camera's main track, not its low-resolution copy (which came
/// first by name, or at random: each pad had a random stream-id prefix).
/// playbin3 also hung before preroll now and then (see
/// `rf1src_adds_its_pads_with_no_state_lock_held`); playbin3 picks the first
/// pad's stream, so the main track's pad comes first.
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn playbin_plays_an_rf1_index_uri() {
    let dir = shared_samples("rf1").join("two_tracks");
    for target in [
        gst::glib::filename_to_uri(dir.join("1712815946731_video.rf1i"), None)
            .unwrap()
            .to_string(),
        gst::glib::filename_to_uri(dir.join("1712815946731_lowres.rf1i"), None)
            .unwrap()
            .to_string(),
        format!("rf1://{}", dir.join("1712815946731").display()),
    ] {
        // `…/000_video`: rf1 stream ids start with the track's rank.
        let id = default_video_stream_of_uri("playbin", &target);
        assert!(id.ends_with("/000_video"), "playbin {target} shows {id}");
        let id = default_video_stream_of_uri("playbin3", &target);
        assert!(id.ends_with("/000_video"), "playbin3 {target} shows {id}");
    }
}

/// Runs `pipeline` to EOS and returns the cues of the first subtitle track
/// of the `.mp4` or `.mkv` it wrote, as (start, text), read back by ffprobe.
fn cues_of(container: &Path) -> Vec<(f64, String)> {
    let out = std::process::Command::new("timeout")
        .args([
            "60",
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "s:0",
            "-show_entries",
            "stream=codec_name:packet=pts_time:packet_tags",
            "-show_data",
            "-of",
            "json",
            "-show_packets",
        ])
        .arg(container)
        .output()
        .expect("ffprobe (scripts/setup.sh installs it)");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codec = json["streams"][0]["codec_name"]
        .as_str()
        .unwrap_or_default();
    assert!(
        matches!(codec, "mov_text" | "subrip" | "text"),
        "{}: subtitle codec {codec:?}",
        container.display()
    );
    json["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let t: f64 = p["pts_time"].as_str().unwrap().parse().unwrap();
            (t, hexdump_text(p["data"].as_str().unwrap_or_default()))
        })
        // mp4mux fills the time between cues with empty samples.
        .filter(|(_, text)| !text.is_empty())
        .collect()
}

/// The bytes of an ffprobe `-show_data` hexdump as text (mov_text samples
/// start with a 16-bit length, which is dropped).
fn hexdump_text(dump: &str) -> String {
    let mut bytes = Vec::new();
    for line in dump.lines() {
        // "00000000: 0017 3230 ...  ..text.."
        let Some((_, rest)) = line.split_once(": ") else {
            continue;
        };
        let hex: String = rest
            .chars()
            .take(40)
            .filter(|c| !c.is_whitespace())
            .collect();
        for i in (0..hex.len()).step_by(2) {
            bytes.push(u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
        }
    }
    if bytes.len() >= 2 && usize::from(u16::from_be_bytes([bytes[0], bytes[1]])) == bytes.len() - 2
    {
        bytes.drain(..2);
    }
    String::from_utf8(bytes).unwrap()
}

fn mux(pipeline: &str) {
    init();
    let p = gst::parse::launch(pipeline).unwrap();
    assert_eq!(run_to_eos(&p), None, "{pipeline}");
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn mp4_and_mkv_from_psf_keep_the_capture_time_track() {
    let (_, expected) = {
        let dir = shared_samples("pavs");
        let json = std::fs::read_to_string(dir.join("expected.json")).unwrap();
        (
            dir,
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
        )
    };
    let psf = shared_samples("pavs").join("video1.psf");
    let tmp = tempfile::tempdir().unwrap();
    for (mux_el, ext) in [("mp4mux", "mp4"), ("matroskamux", "mkv")] {
        let out = tmp.path().join(format!("v.{ext}"));
        mux(&format!(
            "filesrc location=\"{}\" ! pavsdemux name=d \
             d.video_9 ! queue ! h264parse ! {mux_el} name=m ! filesink location=\"{}\" \
             d.subtitle_9 ! queue ! m.subtitle_%u",
            psf.display(),
            out.display()
        ));
        let cues = cues_of(&out);
        let blocks = expected["video1"]["blocks"].as_array().unwrap();
        // A cue every other frame at 2 fps (never two in a row: see
        // engine::subtitle::CueGate), each the capture time of a frame, in
        // order.
        assert!(
            cues.len() * 2 >= blocks.len() && cues.len() < blocks.len(),
            "{ext}: {} cues for {} frames",
            cues.len(),
            blocks.len()
        );
        let times: Vec<String> = blocks
            .iter()
            .map(|b| {
                gstcctv::engine::subtitle::capture_time(b["pts_unix_ns"].as_u64().unwrap(), None)
            })
            .collect();
        let mut from = 0;
        for (i, (t, text)) in cues.iter().enumerate() {
            let at = times[from..]
                .iter()
                .position(|want| want == text)
                .unwrap_or_else(|| panic!("{ext} cue {i}: {text} is no frame's time (in order)"));
            from += at + 1;
            assert!(text.starts_with("2021-09-01 "), "{ext} cue {i}: {text}");
            if i == 0 {
                assert_eq!(*t, 0.0, "{ext}");
            }
        }
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn mp4_from_nvr_keeps_capture_time_speed_and_gps() {
    let nvr = shared_samples("says").join("with_jpeg.nvr");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cam0.mp4");
    mux(&format!(
        "filesrc location=\"{}\" ! saysdemux name=d \
         d.video_0 ! queue ! h264parse ! mp4mux name=m ! filesink location=\"{}\" \
         d.subtitle_0 ! queue ! m.subtitle_%u",
        nvr.display(),
        out.display()
    ));
    let cues = cues_of(&out);
    // 8 s of video: a cue per second of capture time, refreshed every 250 ms.
    assert!(cues.len() >= 30, "{} cues", cues.len());
    // startTime 1618581807000 ms = 2021-04-16 14:03:27 UTC; timeZone -240.
    assert!(
        cues[0].1.starts_with("2021-04-16 10:03:27 -04:00  "),
        "{}",
        cues[0].1
    );
    assert!(cues[0].1.contains(" km/h"), "{}", cues[0].1);
    assert!(cues[0].1.contains("GPS "), "{}", cues[0].1);
    // Cues follow the frames: times never go back.
    assert!(cues.windows(2).all(|w| w[0].0 <= w[1].0));
}

/// Plays `description` (its element named `demux`) to EOS and returns the
/// DURATION answered then and the latest end (PTS + duration) of any buffer.
fn duration_and_last_end(description: &str) -> (gst::ClockTime, gst::ClockTime) {
    init();
    let pipeline = gst::parse::launch(description)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap_or_else(|e| {
            let p = gst::Pipeline::new();
            p.add(&e).unwrap();
            p
        });
    let demux = pipeline.by_name("demux").unwrap();
    let end = Arc::new(Mutex::new(gst::ClockTime::ZERO));
    let weak = pipeline.downgrade();
    let end2 = end.clone();
    demux.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let sink = gst::parse::bin_from_description(
            "queue max-size-buffers=0 max-size-time=0 max-size-bytes=0 ! fakesink sync=false",
            true,
        )
        .unwrap();
        let end3 = end2.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer()
                && let (Some(pts), Some(d)) = (b.pts(), b.duration())
            {
                let mut end = end3.lock().unwrap();
                *end = (*end).max(pts + d);
            }
            gst::PadProbeReturn::Ok
        });
        pipeline.add(&sink).unwrap();
        sink.sync_state_with_parent().unwrap();
        pad.link(&sink.static_pad("sink").unwrap()).unwrap();
    });
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(60),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    assert!(
        matches!(
            msg.as_ref().map(|m| m.view()),
            Some(gst::MessageView::Eos(_))
        ),
        "{description}: {msg:?}"
    );
    let duration = demux
        .src_pads()
        .first()
        .and_then(|p| p.query_duration::<gst::ClockTime>())
        .unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    let end = *end.lock().unwrap();
    (duration, end)
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn duration_is_the_end_of_the_last_frame() {
    let mut pipelines: Vec<String> = every_sample()
        .iter()
        .map(|f| {
            let el = if f.extension().is_some_and(|e| e == "psf") {
                "pavsdemux"
            } else {
                "saysdemux"
            };
            format!("filesrc location=\"{}\" ! {el} name=demux", f.display())
        })
        .collect();
    let rf1 = shared_samples("rf1");
    for case in [
        "h264_basic",
        "h265_basic",
        "two_tracks",
        "archive_dir/camera-0001",
    ] {
        pipelines.push(format!(
            "rf1src name=demux location=\"{}\"",
            rf1.join(case).display()
        ));
    }
    for p in pipelines {
        let (duration, end) = duration_and_last_end(&p);
        assert_eq!(duration, end, "{p}");
    }
}

/// The first ERROR or WARNING message text of `pipeline` (bounded), with
/// pads of the element named `demux` linked by `link`.
fn first_message(
    pipeline: &str,
    link: impl Fn(&gst::Pipeline, &gst::Pad) + Send + Sync + 'static,
) -> String {
    init();
    let pipeline = gst::parse::launch(pipeline)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap_or_else(|e| {
            let p = gst::Pipeline::new();
            p.add(&e).unwrap();
            p
        });
    let demux = pipeline.by_name("demux").unwrap();
    let weak = pipeline.downgrade();
    demux.connect_pad_added(move |_, pad| {
        if let Some(p) = weak.upgrade() {
            link(&p, pad);
        }
    });
    let bus = pipeline.bus().unwrap();
    let _ = pipeline.set_state(gst::State::Playing);
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(30),
        &[gst::MessageType::Error, gst::MessageType::Warning],
    );
    pipeline.set_state(gst::State::Null).unwrap();
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Error(e)) => e.error().to_string(),
        Some(gst::MessageView::Warning(w)) => w.error().to_string(),
        _ => panic!("no message"),
    }
}

/// A message a person can read: no Rust debug formatting.
fn assert_readable(text: &str) {
    for debug in [
        "NotNegotiated",
        "NotLinked",
        "MetaIssue",
        "{ ",
        "Some(",
        "Err(",
    ] {
        assert!(!text.contains(debug), "{text}");
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn errors_name_the_file_and_say_what_is_wrong() {
    let psf = shared_samples("pavs").join("video1.psf");
    // Downstream refuses the caps.
    let text = first_message(
        &format!(
            "filesrc location=\"{}\" ! pavsdemux name=demux",
            psf.display()
        ),
        |p, pad| {
            let sink =
                gst::parse::bin_from_description("capsfilter caps=video/x-h265 ! fakesink", true)
                    .unwrap();
            p.add(&sink).unwrap();
            sink.sync_state_with_parent().unwrap();
            let _ = pad.link_full(
                &sink.static_pad("sink").unwrap(),
                gst::PadLinkCheck::empty(),
            );
        },
    );
    assert!(text.contains("/pavs/video1.psf: "), "{text}");
    assert!(text.contains("not negotiated"), "{text}");
    assert_readable(&text);
    // Not this format at all.
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.psf");
    std::fs::write(&junk, vec![0x5a; 100_000]).unwrap();
    let text = first_message(
        &format!(
            "filesrc location=\"{}\" ! pavsdemux name=demux",
            junk.display()
        ),
        |_, _| {},
    );
    assert!(text.contains("junk.psf: "), "{text}");
    assert!(text.contains("Not a PAVS"), "{text}");
    assert_readable(&text);
    // An rf1 index whose companion files are gone.
    let index = tmp.path().join("1712815946731_video.rf1i");
    std::fs::copy(
        shared_samples("rf1").join("h264_basic/1712815946731_video.rf1i"),
        &index,
    )
    .unwrap();
    let text = first_message(
        &format!("rf1src name=demux location=\"{}\"", index.display()),
        |_, _| {},
    );
    assert!(text.contains("1712815946731_video.rf1i"), "{text}");
    assert_readable(&text);
}

/// Runs a command line tool (gst-launch-1.0, gst-play-1.0) with the built
/// plugin, bounded by `seconds`; returns stdout and stderr together.
fn tool(seconds: u32, args: &[&str]) -> String {
    let out = std::process::Command::new("timeout")
        .arg(seconds.to_string())
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

/// An rf1:// URI with two tracks: the player shows one, the other one's
/// pad returns NOT_LINKED, which is no error while a pad is linked (flow
/// combining, as qtdemux does). It failed every run with "Internal data
/// stream error … not-linked" from a queue of rf1urisrc.
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn players_play_a_two_track_rf1_uri_to_the_end() {
    let base = shared_samples("rf1").join("two_tracks/1712815946731");
    // playbin3 showing `video` (which ends 0.5 s before `lowres`) never
    // reported the end while every track waited for the last one's EOS.
    let index = gst::glib::filename_to_uri(
        shared_samples("rf1").join("two_tracks/1712815946731_video.rf1i"),
        None,
    )
    .unwrap();
    for (element, uri) in [
        ("playbin", format!("uri=rf1://{}", base.display())),
        ("playbin3", format!("uri=rf1://{}", base.display())),
        ("playbin3", format!("uri={index}")),
    ] {
        let text = tool(
            60,
            &[
                "gst-launch-1.0",
                element,
                &uri,
                "video-sink=fakesink sync=false",
                "audio-sink=fakesink",
            ],
        );
        assert!(text.contains("Got EOS"), "{element} {uri}: {text}");
        assert!(!text.contains("ERROR"), "{element} {uri}: {text}");
    }
    let text = tool(
        60,
        &[
            "gst-play-1.0",
            "--videosink=fakesink sync=false",
            "--audiosink=fakesink",
            &format!("rf1://{}", base.display()),
        ],
    );
    assert!(text.contains("Reached end of play list"), "{text}");
    assert!(!text.contains("ERROR"), "{text}");
}

/// rf1src adds its pads (and signals no-more-pads) from its streaming
/// thread, with no state lock held. decodebin3 holds its input lock while
/// it sets parsebin's (so rf1demux's and rf1src's) state, and needs that
/// lock for the stream collection parsebin posts from no-more-pads: pads
/// added inside rf1src's state change deadlocked playbin3 on a two-track
/// .rf1i now and then (the flaky `playbin_plays_an_rf1_index_uri`). Here
/// another thread changes the element's state from its pad-added handler,
/// as decodebin3 does: it must not wait for the handler's thread.
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn rf1src_adds_its_pads_with_no_state_lock_held() {
    init();
    let base = shared_samples("rf1").join("two_tracks/1712815946731");
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("rf1src")
        .property("location", base.to_str().unwrap())
        .build()
        .unwrap();
    pipeline.add(&src).unwrap();
    let blocked = Arc::new(Mutex::new(Vec::new()));
    let blocked2 = blocked.clone();
    let bin = pipeline.clone();
    src.connect_pad_added(move |src, pad| {
        // A queue per pad: one streaming thread feeds every sink.
        let sink = gst::parse::bin_from_description("queue ! fakesink sync=false", true).unwrap();
        bin.add(&sink).unwrap();
        pad.link(&sink.static_pad("sink").unwrap()).unwrap();
        sink.sync_state_with_parent().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let other = src.clone();
        std::thread::spawn(move || {
            // Takes the element's state lock.
            let _ = other.set_state(gst::State::Paused);
            let _ = tx.send(());
        });
        let waited = rx.recv_timeout(std::time::Duration::from_secs(3)).is_err();
        blocked2
            .lock()
            .unwrap()
            .push((pad.name().to_string(), waited));
    });
    assert_eq!(run_to_eos(pipeline.upcast_ref()), None);
    let blocked = blocked.lock().unwrap().clone();
    assert_eq!(blocked.len(), 2, "{blocked:?}");
    assert!(blocked.iter().all(|(_, waited)| !waited), "{blocked:?}");
}

/// A .psf with cameras 10 and 9 (camera 10's blocks first), 64x48 I_PCM.
fn two_camera_psf() -> tempfile::TempPath {
    use gstcctv::formats::pavs::writer::{CameraFrame, camera_frames};
    let frames: Vec<CameraFrame> = (0..16u32)
        .map(|i| CameraFrame {
            channel: if i % 2 == 0 { 10 } else { 9 },
            key: (i / 2) % 4 == 0,
            capture_time_ns: 1_700_000_000_000_000_000 + u64::from(i / 2) * 500_000_000,
        })
        .collect();
    let file = camera_frames(&frames, 64, 48).unwrap().bytes;
    let mut out = tempfile::Builder::new()
        .prefix("gstcctv-test-")
        .suffix("-cameras-9-10.psf")
        .tempfile()
        .unwrap();
    std::io::Write::write_all(&mut out, &file).unwrap();
    out.into_temp_path()
}

/// The camera number at the end of a stream id (`…/video_9`, `…/video_009`).
fn camera_of(stream_id: &str) -> Option<u32> {
    let tail = stream_id.rsplit('/').next()?;
    tail.rsplit('_').next()?.parse().ok()
}

/// decodebin (so discoverer and playbin) orders streams by stream id, as
/// strings: camera 10's `video_10` came before camera 9's `video_9`, and
/// players showed camera 10. Stream ids sort by camera number; pad names
/// stay `video_9`, `video_10`.
#[test]
fn cameras_come_in_numeric_order_in_players_and_discoverer() {
    let file = two_camera_psf();
    for element in ["playbin", "playbin3"] {
        let id = default_video_stream(element, &file);
        assert_eq!(camera_of(&id), Some(9), "{element} shows {id}");
    }
    let out = discoverer(file.to_str().unwrap());
    let cameras: Vec<Option<u32>> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Stream ID: "))
        .filter(|id| id.contains("/video_"))
        .map(camera_of)
        .collect();
    assert_eq!(cameras, [Some(9), Some(10)], "{out}");
    let subtitles: Vec<Option<u32>> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Stream ID: "))
        .filter(|id| id.contains("/subtitle_"))
        .map(camera_of)
        .collect();
    assert_eq!(subtitles, [Some(9), Some(10)], "{out}");
    // The pads keep the camera's number as the file gives it.
    let pads = Arc::new(Mutex::new(Vec::new()));
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! pavsdemux name=d",
        file.display()
    ))
    .unwrap();
    let demux = pipeline
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("d")
        .unwrap();
    let bin = pipeline.clone().downcast::<gst::Bin>().unwrap();
    let pads2 = pads.clone();
    demux.connect_pad_added(move |_, pad| {
        pads2.lock().unwrap().push(pad.name().to_string());
        // A queue per pad: one streaming thread feeds every sink.
        let sink = gst::parse::bin_from_description("queue ! fakesink sync=false", true).unwrap();
        bin.add(&sink).unwrap();
        pad.link(&sink.static_pad("sink").unwrap()).unwrap();
        sink.sync_state_with_parent().unwrap();
    });
    assert_eq!(run_to_eos(&pipeline), None);
    let mut pads = pads.lock().unwrap().clone();
    pads.sort();
    assert_eq!(pads, ["subtitle_10", "subtitle_9", "video_10", "video_9"]);
}

/// Plays pictures that all reach the overlay before any cue does (what a
/// player that does not sync to the clock sees when the decoder's pictures
/// run ahead of the text thread), through streamsynchronizer as playsink
/// does, with `renderer` rendering the cues. Returns whether the pipeline
/// reported its end within 10 s.
fn cues_after_the_last_picture_end(renderer: &str, wait: gst::ClockTime) -> bool {
    init();
    let pipeline = gst::Pipeline::new();
    let video_caps: gst::Caps = "video/x-raw, format=I420, width=64, height=48, framerate=2/1"
        .parse()
        .unwrap();
    let vsrc = gst_app::AppSrc::builder()
        .caps(&video_caps)
        .format(gst::Format::Time)
        .build();
    // The elements' cue caps (with the field players pick the renderer by).
    let tsrc = gst_app::AppSrc::builder()
        .caps(
            &"text/x-raw, format=utf8, cctv-cue=(boolean)true"
                .parse()
                .unwrap(),
        )
        .format(gst::Format::Time)
        .build();
    let sync = gst::ElementFactory::make("streamsynchronizer")
        .build()
        .unwrap();
    let overlay = gst::ElementFactory::make(renderer).build().unwrap();
    if renderer == "textoverlay" {
        // As playbin's subtitleoverlay sets it up.
        overlay.set_property("wait-text", false);
    }
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .build()
        .unwrap();
    pipeline
        .add_many([vsrc.upcast_ref(), tsrc.upcast_ref(), &sync, &overlay, &sink])
        .unwrap();
    let vsync = sync.request_pad_simple("sink_%u").unwrap();
    let tsync = sync.request_pad_simple("sink_%u").unwrap();
    vsrc.static_pad("src").unwrap().link(&vsync).unwrap();
    tsrc.static_pad("src").unwrap().link(&tsync).unwrap();
    // One group for both streams, as a demuxer's streams have:
    // streamsynchronizer waits for a whole group to start.
    let group = gst::GroupId::next();
    for src in [&vsrc, &tsrc] {
        src.static_pad("src").unwrap().add_probe(
            gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                if let Some(gst::PadProbeData::Event(e)) = &info.data
                    && let gst::EventView::StreamStart(start) = e.view()
                {
                    let event = gst::event::StreamStart::builder(start.stream_id())
                        .group_id(group)
                        .build();
                    info.data = Some(gst::PadProbeData::Event(event));
                }
                gst::PadProbeReturn::Ok
            },
        );
    }
    let vout = sync.static_pad("src_0").unwrap();
    let tout = sync.static_pad("src_1").unwrap();
    vout.link(&overlay.static_pad("video_sink").unwrap())
        .unwrap();
    tout.link(&overlay.static_pad("text_sink").unwrap())
        .unwrap();
    overlay.link(&sink).unwrap();

    // The video's end: streamsynchronizer holds the EOS and sends an
    // open-ended GAP, which reaches the overlay.
    let (gap_tx, gap_rx) = std::sync::mpsc::channel();
    overlay.static_pad("video_sink").unwrap().add_probe(
        gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            if let Some(gst::PadProbeData::Event(e)) = &info.data
                && e.type_() == gst::EventType::Gap
            {
                let _ = gap_tx.send(());
            }
            gst::PadProbeReturn::Ok
        },
    );
    pipeline.set_state(gst::State::Playing).unwrap();
    let frame = gst::ClockTime::from_mseconds(500);
    let cue = |i: u64| {
        let mut buffer = gst::Buffer::from_slice(format!("2021-09-01 07:00:0{i} UTC"));
        let b = buffer.get_mut().unwrap();
        b.set_pts(frame * i);
        b.set_duration(frame);
        buffer
    };
    // The first cue starts the text stream (streamsynchronizer lets no
    // stream through before every stream has its segment).
    tsrc.push_buffer(cue(0)).unwrap();
    for i in 0..6u64 {
        let mut buffer = gst::Buffer::from_mut_slice(vec![128u8; 64 * 48 * 3 / 2]);
        let b = buffer.get_mut().unwrap();
        b.set_pts(frame * i);
        b.set_duration(frame);
        vsrc.push_buffer(buffer).unwrap();
    }
    vsrc.end_of_stream().unwrap();
    gap_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the video's end reaches the overlay");
    // Then a cue per picture, as for footage with a new second every frame.
    for i in 1..6u64 {
        // Into appsrc's queue: the push never waits for the overlay.
        tsrc.push_buffer(cue(i)).unwrap();
    }
    tsrc.end_of_stream().unwrap();
    let bus = pipeline.bus().unwrap();
    let ended = bus
        .timed_pop_filtered(wait, &[gst::MessageType::Eos, gst::MessageType::Error])
        .is_some_and(|m| m.type_() == gst::MessageType::Eos);
    pipeline.set_state(gst::State::Null).unwrap();
    ended
}

/// Issue 16.5, the end-of-play stall, at its cause: textoverlay holds a
/// cue no picture will take off, the next cue waits behind it, and
/// streamsynchronizer holds the video's EOS until the text's. The stock
/// renderer stalls every time; `cctvcueoverlay`, which players pick for
/// the elements' cues, ends.
#[test]
fn cues_that_come_after_the_last_picture_do_not_stall_the_end() {
    // The stock overlay's stall is a deadlock: 3 s show it.
    assert!(
        !cues_after_the_last_picture_end("textoverlay", gst::ClockTime::from_seconds(3)),
        "the stock overlay no longer stalls here: the test no longer shows the defect"
    );
    assert!(cues_after_the_last_picture_end(
        "cctvcueoverlay",
        gst::ClockTime::from_seconds(30)
    ));
}

/// playbin's subtitle overlay renders the elements' cues with
/// `cctvcueoverlay` (by the caps' `cctv-cue` field) and other subtitles
/// with the stock renderer.
#[test]
fn players_render_the_cues_with_the_cue_overlay() {
    init();
    let cue_caps: gst::Caps = "text/x-raw, format=utf8, cctv-cue=(boolean)true"
        .parse()
        .unwrap();
    let srt_caps: gst::Caps = "text/x-raw, format=pango-markup".parse().unwrap();
    let ours = gst::ElementFactory::find("cctvcueoverlay").expect("registered");
    let accepts = |f: &gst::ElementFactory, caps: &gst::Caps| {
        f.static_pad_templates()
            .iter()
            .any(|t| t.name_template() == "text_sink" && caps.is_subset(&t.caps()))
    };
    assert!(accepts(&ours, &cue_caps));
    assert!(!accepts(&ours, &srt_caps));
    assert!(ours.rank() >= gst::Rank::MARGINAL);
    assert!(
        ours.metadata(gst::ELEMENT_METADATA_KLASS)
            .unwrap()
            .contains("Overlay/Subtitle")
    );
}

/// Issue 16.5: gst-play-1.0 without sync to the clock reaches the end of
/// every sample, twenty times each, with the subtitles on (gst-play shows
/// them). Before `cctvcueoverlay`, `video3.psf` stalled at the end in 2 to
/// 3 runs of 30, `video2.psf` in 2 of 30 (six players at a time on a
/// loaded machine); the files run two at a time here.
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn gst_play_reaches_the_end_of_every_sample_twenty_times() {
    let pavs = shared_samples("pavs");
    let says = shared_samples("says");
    let rf1 = shared_samples("rf1");
    let mut targets: Vec<String> = Vec::new();
    for name in ["video1", "video2", "video3"] {
        targets.push(pavs.join(format!("{name}.psf")).display().to_string());
    }
    for name in [
        "basic",
        "garbage",
        "old_firmware",
        "opus",
        "truncated",
        "two_cameras",
        "with_jpeg",
    ] {
        targets.push(says.join(format!("{name}.nvr")).display().to_string());
    }
    for index in [
        "h264_basic/1712815946731_video.rf1i",
        "h265_basic/1712815946731_video.rf1i",
        "two_tracks/1712815946731_video.rf1i",
    ] {
        targets.push(rf1.join(index).display().to_string());
    }
    let failures = Arc::new(Mutex::new(Vec::new()));
    let queue = Arc::new(Mutex::new(targets));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let queue = queue.clone();
            let failures = failures.clone();
            std::thread::spawn(move || {
                while let Some(target) = queue.lock().unwrap().pop() {
                    for run in 0..20 {
                        let out = std::process::Command::new("timeout")
                            .args([
                                "30",
                                "gst-play-1.0",
                                "--videosink=fakesink sync=false",
                                "--audiosink=fakesink",
                            ])
                            .arg(&target)
                            .env("GST_PLUGIN_PATH", plugin_dir())
                            .output()
                            .expect("gst-play-1.0 (scripts/setup.sh installs it)");
                        let text = format!(
                            "{}{}",
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        );
                        if !text.contains("Reached end of play list") || text.contains("ERROR") {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{target} run {run}: {text}"));
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} stalled or failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
