// SPDX-License-Identifier: MIT
//! Shared code of the fuzz targets: seed generators built on the crate's own
//! writers, the rf1 input framing, and bounded element runs.

use gst::prelude::*;
use std::sync::Once;
use std::time::Duration;

use gstcctv::formats::pavs::writer::{BlockSpec, PictureBlocks};
use gstcctv::formats::rf1::Codec;
use gstcctv::formats::rf1::writer::{PictureUnits, Pts, TrackWriter};
use gstcctv::formats::says::writer::{
    AudioCodec, HeaderSpec, PictureChunks, SaysWriter, Telemetry, test_jpeg,
};
use gstcctv::formats::says::{MetaEntry, MetaValue};

/// Wall-clock bound for one element run; longer is reported as a hang.
pub const RUN_BOUND: Duration = Duration::from_secs(10);

/// rf1 fuzz inputs are `[u32 LE index length][index bytes][packet bytes]`.
pub fn split_rf1(data: &[u8]) -> (&[u8], &[u8]) {
    if data.len() < 4 {
        return (data, &[]);
    }
    let len = u32::from_le_bytes(data[..4].try_into().unwrap()) as usize;
    let rest = &data[4..];
    rest.split_at(len.min(rest.len()))
}

pub fn join_rf1(index: &[u8], packets: &[u8]) -> Vec<u8> {
    let mut out = (index.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(index);
    out.extend_from_slice(packets);
    out
}

// ---- seeds -----------------------------------------------------------------

/// A small decodable `.psf`: `cameras` interleaved cameras, `frames` each.
pub fn psf_seed(cameras: u8, frames: u32, gop: u32) -> Vec<u8> {
    let mut pictures = PictureBlocks::new(32, 32).unwrap();
    let mut out = Vec::new();
    for f in 0..frames {
        for cam in 0..cameras {
            let key = f % gop == 0;
            let spec = BlockSpec {
                channel: cam + 1,
                camera_name: format!("CAM{cam}"),
                width: 32,
                height: 32,
                key,
                capture_time_ns: 1_630_479_601_000_000_000
                    + u64::from(f) * 40_000_000
                    + u64::from(cam) * 1_000_000,
                sequence: f * u32::from(cameras) + u32::from(cam),
            };
            pictures.write(&mut out, &spec, f).unwrap();
        }
    }
    out
}

fn telemetry(frame: u32, ts_us: u64) -> Vec<MetaEntry> {
    Telemetry {
        frame: Some(frame as i32),
        ..Telemetry::at(ts_us, 30.0 + f64::from(frame), 40.5, -73.25)
    }
    .entries()
}

/// A small `.nvr`: cameras, audio (mu-law or Opus, single or doubled),
/// telemetry and one JPEG. `header_padding` keeps the 64 KiB header (it
/// must stay: the chunks start there) – seeds use it as is.
pub fn nvr_seed(cameras: u8, frames: u32, audio: AudioCodec, doubled: bool) -> Vec<u8> {
    let version = if doubled { "v1.5.0" } else { "v1.6.5" };
    let header = HeaderSpec::recorder(
        "20231114_221320_221330.nvr",
        version,
        [MetaEntry::new(
            "camera0",
            MetaValue::Str("1280x720@15".into()),
        )],
    );
    let mut w = SaysWriter::new(Vec::new(), &header).unwrap();
    let mut pictures = PictureChunks::new(32, 32).unwrap();
    for f in 0..frames {
        let t = 1_700_000_000_000_000 + u64::from(f) * 66_000;
        if f % 4 == 0 {
            let payload: Vec<u8> = match audio {
                AudioCodec::Mulaw => (0..64u32).map(|k| (k * 13 + f) as u8).collect(),
                AudioCodec::Opus => {
                    let mut p = vec![31 << 3];
                    p.extend((0..20u32).map(|k| (k * 7 + f) as u8));
                    p
                }
            };
            w.write_audio(0, audio, t.saturating_sub(5_000), &payload, doubled)
                .unwrap();
        }
        for cam in 0..cameras {
            let key = f % 8 == 0;
            let ts = t + u64::from(cam) * 1_000;
            pictures
                .write(&mut w, cam, key, ts, &telemetry(f, ts), f)
                .unwrap();
        }
        if f == frames / 2 {
            w.write_jpeg(&test_jpeg(29, f as u8)).unwrap();
        }
    }
    w.into_inner()
}

/// One rf1 track (index bytes, packet bytes) written by the crate's
/// writer into a scratch directory; `close` false leaves it as a crash does.
pub fn rf1_seed(frames: u32, gop: u32, annexb: bool, close: bool) -> (Vec<u8>, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("cctv-fuzz-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join("1700000000000");
    let mut pictures = PictureUnits::new(32, 32, annexb).unwrap();
    let mut w = TrackWriter::create(
        &base,
        "video",
        Codec::H264,
        1_700_000_000_000_000,
        (32, 32),
        Default::default(),
    )
    .unwrap();
    for f in 0..frames {
        let pts = Pts::Ns(u64::from(f) * 100_000_000);
        pictures.write(&mut w, pts, f % gop == 0, f).unwrap();
    }
    let (ip, pp) = (w.index_path().to_owned(), w.packets_path().to_owned());
    if close {
        w.close().unwrap();
    } else {
        w.abandon();
    }
    let out = (std::fs::read(&ip).unwrap(), std::fs::read(&pp).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    out
}

// ---- bounded element runs --------------------------------------------------

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstcctv::plugin_register_static().unwrap();
    });
}

/// Links every pad `element` adds to its own fakesink.
fn sink_every_pad(pipeline: &gst::Pipeline, element: &gst::Element) {
    let weak = pipeline.downgrade();
    element.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .property("async", false)
            .build()
            .unwrap();
        pipeline.add(&sink).unwrap();
        sink.sync_state_with_parent().unwrap();
        let _ = pad.link(&sink.static_pad("sink").unwrap());
    });
}

/// Runs the pipeline to EOS or ERROR. A run longer than [`RUN_BOUND`] is a
/// hang (panics, which libFuzzer reports as a crash). ERROR messages are a
/// clean outcome; a panic in an element aborts through libFuzzer's hook
/// before GStreamer can turn it into an ERROR.
fn run_bounded(pipeline: &gst::Pipeline) {
    let bus = pipeline.bus().unwrap();
    let _ = pipeline.set_state(gst::State::Playing);
    let deadline = std::time::Instant::now() + RUN_BOUND;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            panic!("hang: no EOS or ERROR within {RUN_BOUND:?}");
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                let text = format!("{} {:?}", e.error(), e.debug());
                assert!(!text.contains("Panicked"), "element panicked: {text}");
                break;
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
}

/// `appsrc ! <element>` in push mode with the bytes in uneven buffers.
pub fn demux_push(element: &str, data: &[u8]) {
    init();
    let pipeline = gst::Pipeline::new();
    let src = gst_app::AppSrc::builder()
        .format(gst::Format::Bytes)
        .max_bytes(0)
        .build();
    let demux = gst::ElementFactory::make(element).build().unwrap();
    pipeline.add_many([src.upcast_ref(), &demux]).unwrap();
    src.link(&demux).unwrap();
    sink_every_pad(&pipeline, &demux);
    let (mut at, mut size) = (0, 701);
    while at < data.len() {
        let end = (at + size).min(data.len());
        src.push_buffer(gst::Buffer::from_slice(data[at..end].to_vec()))
            .unwrap();
        at = end;
        size = size * 7 % 8191 + 1;
    }
    src.end_of_stream().unwrap();
    run_bounded(&pipeline);
}

/// A per-process scratch directory for one input, removed when the input
/// is done (fork mode runs many processes: they left one directory each).
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `rf1src` on one segment made of the given index and packet bytes,
/// written to a per-process scratch directory (rf1src only reads files).
pub fn rf1src_bytes(index: &[u8], packets: &[u8]) {
    init();
    let scratch = ScratchDir::new("cctv-fuzz-rf1");
    let dir = &scratch.0;
    let base = dir.join("1700000000000");
    std::fs::write(dir.join("1700000000000_video.rf1i"), index).unwrap();
    std::fs::write(dir.join("1700000000000_video.rf1p"), packets).unwrap();
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("rf1src")
        .property("location", base.to_str().unwrap())
        .build()
        .unwrap();
    pipeline.add(&src).unwrap();
    sink_every_pad(&pipeline, &src);
    run_bounded(&pipeline);
}

/// Drives the engine on `data` the way every front end does, checking the
/// engine's promises: pull mode to the end, push mode in pieces whose sizes
/// come from the input, then a few seeks. Packets must be non-empty, per
/// stream running times never decrease (pull), push must give the same
/// packets as pull, and nothing may panic or loop.
pub fn engine_roundtrip<F: gstcctv::engine::Format>(make: impl Fn() -> F, data: &[u8]) {
    use gstcctv::engine::{Chunk, Demuxer, Event, MemorySource, NoSource, SharedBytes};
    let summary =
        |p: &gstcctv::engine::Packet<SharedBytes>| (p.stream, p.pts, p.dts, p.key, p.to_vec());
    let mut pulled = Vec::new();
    let mut demux: Demuxer<F, SharedBytes> = Demuxer::new_pull(make(), Some(data.len() as u64));
    let mut src = MemorySource::new(data.to_vec());
    let mut last: Vec<(gstcctv::engine::StreamId, u64)> = Vec::new();
    for _ in 0..1_000_000 {
        match demux.next(&mut src) {
            Ok(Event::Packet(p)) => {
                assert!(p.size() > 0, "empty packet");
                if let Some(pts) = p.pts {
                    match last.iter_mut().find(|(s, _)| *s == p.stream) {
                        Some((_, l)) => {
                            assert!(pts >= *l, "time went back on {:?}", p.stream);
                            *l = pts;
                        }
                        None => last.push((p.stream, pts)),
                    }
                }
                pulled.push(summary(&p));
            }
            Ok(Event::NeedData) => panic!("pull input asked for data"),
            Ok(Event::Eos) | Err(_) => break,
            Ok(_) => {}
        }
    }
    // Push, in pieces of 1..=4096 bytes chosen by the data itself.
    let mut push: Demuxer<F, SharedBytes> = Demuxer::new_push(make());
    let mut none = NoSource::default();
    let mut pushed = Vec::new();
    let mut at = 0;
    let mut ended = false;
    let mut drain = |demux: &mut Demuxer<F, SharedBytes>, out: &mut Vec<_>| -> bool {
        for _ in 0..1_000_000 {
            match demux.next(&mut none) {
                Ok(Event::Packet(p)) => out.push(summary(&p)),
                Ok(Event::NeedData) => return false,
                Ok(Event::Eos) | Err(_) => return true,
                Ok(_) => {}
            }
        }
        panic!("push mode does not stop");
    };
    while at < data.len() && !ended {
        let piece = 1 + (usize::from(data[at]) * 16 + at) % 4096;
        let end = (at + piece).min(data.len());
        push.push_data(SharedBytes::from_vec(data[at..end].to_vec()));
        at = end;
        ended = drain(&mut push, &mut pushed);
    }
    if !ended {
        push.push_eos();
        drain(&mut push, &mut pushed);
    }
    assert_eq!(pushed.len(), pulled.len(), "push and pull disagree");
    for (a, b) in pushed.iter().zip(&pulled) {
        assert_eq!((a.0, a.1, a.2, a.3), (b.0, b.1, b.2, b.3));
        assert_eq!(a.4, b.4);
    }
    // The same damage found, whatever the pieces.
    let (p, q) = (push.report().damage, demux.report().damage);
    assert_eq!(
        (p.regions, p.bytes),
        (q.regions, q.bytes),
        "push and pull report different damage"
    );
    // Seeks: to the start, the middle and past the end of what was read.
    let end = last.iter().map(|(_, t)| *t).max().unwrap_or(0);
    for target in [0, end / 2, end.saturating_add(1_000_000_000)] {
        if demux.seek(&mut src, target, None).is_err() {
            break;
        }
        for _ in 0..1_000_000 {
            match demux.next(&mut src) {
                Ok(Event::Packet(p)) => assert!(p.size() > 0),
                Ok(Event::Eos) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

/// The rf1 engine on one segment made of `index` and `packets`: every
/// packet, then seeks; nothing may panic, loop or allocate by a file value.
pub fn rf1_engine_bytes(index: &[u8], packets: &[u8]) {
    use gstcctv::engine::SharedBytes;
    use gstcctv::engine::formats::rf1::Rf1Engine;
    let scratch = ScratchDir::new("cctv-fuzz-rf1e");
    let dir = &scratch.0;
    std::fs::write(dir.join("1700000000000_video.rf1i"), index).unwrap();
    std::fs::write(dir.join("1700000000000_video.rf1p"), packets).unwrap();
    let Ok(mut engine) = Rf1Engine::<SharedBytes>::open(&dir.join("1700000000000"), &[]) else {
        return;
    };
    let _ = engine.streams();
    let play = |engine: &mut Rf1Engine<SharedBytes>| {
        for _ in 0..1_000_000 {
            match engine.next_packet() {
                Ok(Some(p)) => assert!(p.size() > 0, "empty packet"),
                Ok(None) | Err(_) => return,
            }
        }
        panic!("rf1 engine does not stop");
    };
    play(&mut engine);
    let end = engine.duration_ns();
    for target in [0, end / 2, end.saturating_add(1)] {
        engine.seek(target, None);
        play(&mut engine);
    }
}

/// A case of two recordings (framed as `[u32 length][first][second]`, the
/// rf1 framing) written to a scratch folder: catalogued, its first camera
/// opened as one timeline and read to the end, then sought to the start,
/// the middle and past the end. Per stream, running times never decrease
/// across the files, and nothing panics or loops.
pub fn case_bytes(data: &[u8]) {
    use gstcctv::engine::camera_timeline::{CaseOptions, open_case};
    use gstcctv::engine::{Source, SourceEvent};
    let (first, second) = split_rf1(data);
    let scratch = ScratchDir::new("cctv-fuzz-case");
    std::fs::write(scratch.0.join("a.psf"), first).unwrap();
    std::fs::write(scratch.0.join("b.psf"), second).unwrap();
    let Ok(mut opened) = open_case(&scratch.0, &CaseOptions::default(), |file| file) else {
        return;
    };
    let timeline = &mut opened.timeline;
    let read = |timeline: &mut dyn Source<Chunk = gstcctv::engine::SharedBytes>| {
        let mut last: Vec<(gstcctv::engine::StreamId, u64)> = Vec::new();
        // Each unit of the inputs gives a few events at the most.
        for _ in 0..(4 * data.len() + 64) {
            match timeline.next() {
                Ok(SourceEvent::Packet(p)) => {
                    if let Some(pts) = p.pts {
                        match last.iter_mut().find(|(s, _)| *s == p.stream) {
                            Some((_, t)) => {
                                assert!(pts >= *t, "{:?} went back: {pts} < {t}", p.stream);
                                *t = pts;
                            }
                            None => last.push((p.stream, pts)),
                        }
                    }
                }
                Ok(SourceEvent::End) | Err(_) => return,
                Ok(_) => {}
            }
        }
        panic!("the timeline did not end");
    };
    read(timeline);
    let duration = timeline.duration().unwrap_or(0);
    for target in [0, duration / 2, duration] {
        if timeline.seek(target, None).is_ok() {
            read(timeline);
        }
    }
    let _ = timeline.take_report();
}
