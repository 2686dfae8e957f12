// SPDX-License-Identifier: MIT
//! Helpers for the hostile-input tests (mutation, stress, data loss): a
//! seeded PRNG, generated files that know where every unit's bytes live,
//! bounded pipeline runs, and counters for panics, GLib CRITICALs and
//! "data before segment" warnings. Declared with `#[path]` by each test.
#![allow(dead_code)]

use gst::glib;
use gst::prelude::*;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, mpsc};
use std::time::{Duration, Instant};

use gstcctv::formats::pavs::writer::{BlockSpec, write_block};
use gstcctv::formats::rf1::writer::{Pts, TrackWriter};
use gstcctv::formats::rf1::{Codec, INDEX_ENTRY_SIZE, INDEX_HEADER_SIZE, Index, Track, flags};
use gstcctv::formats::says::writer::{
    AudioCodec, HeaderSpec, SaysWriter, Telemetry, jpeg_with_scan,
};
use gstcctv::formats::says::{FILE_HEADER_LEN, MetaEntry, MetaValue};

// ---- PRNG --------------------------------------------------------------

/// xorshift64*: tiny, deterministic, good enough to place damage.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn range(&mut self, r: Range<usize>) -> usize {
        r.start + self.below(r.end - r.start)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
    /// Bytes that are never zero (so random payloads hold no start codes).
    pub fn nonzero_bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u64() >> 24) as u8 | 1).collect()
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u64() >> 24) as u8).collect()
    }
}

/// Scale factor from `CCTV_<NAME>` (default 1).
pub fn env_scale(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---- init and global counters --------------------------------------------

static CRITICALS: AtomicUsize = AtomicUsize::new(0);
static SEGMENT_WARNINGS: AtomicUsize = AtomicUsize::new(0);
static ELEMENT_PANICS: AtomicUsize = AtomicUsize::new(0);
static SELF_CHECKS: AtomicUsize = AtomicUsize::new(0);
const SELF_CHECK: &str = "cctv-selfcheck";
static NOTES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn note(text: String) {
    let mut notes = NOTES.lock().unwrap();
    if notes.len() < 20 {
        notes.push(text);
    }
}

fn is_segment_warning(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("before segment") || t.contains("data-before-segment")
}

/// GStreamer init, plugin registration, and the counters: a GLib default
/// log handler (CRITICAL/ERROR counted, "before segment" WARNINGs counted),
/// a GStreamer log function at WARNING level (the default printer removed),
/// and a panic hook counting panics off the test threads (GStreamer's
/// streaming threads are unnamed; bounded runs use `cctv-run` threads).
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstcctv::plugin_register_static().expect("register plugin");
        glib::log_set_default_handler(|domain, level, message| {
            if domain == Some(SELF_CHECK) {
                SELF_CHECKS.fetch_add(1, Ordering::SeqCst);
                return;
            }
            match level {
                glib::LogLevel::Critical | glib::LogLevel::Error => {
                    CRITICALS.fetch_add(1, Ordering::SeqCst);
                    note(format!("GLib {level:?} {domain:?}: {message}"));
                }
                _ if is_segment_warning(message) => {
                    SEGMENT_WARNINGS.fetch_add(1, Ordering::SeqCst);
                    note(format!("GLib {level:?} {domain:?}: {message}"));
                }
                _ => {}
            }
        });
        gst::log::remove_default_log_function();
        gst::log::set_default_threshold(gst::DebugLevel::Warning);
        gst::log::add_log_function(|cat, level, _file, _func, _line, _obj, message| {
            if cat.name() == SELF_CHECK {
                SELF_CHECKS.fetch_add(1, Ordering::SeqCst);
            } else if level <= gst::DebugLevel::Warning
                && let Some(text) = message.get()
                && is_segment_warning(&text)
            {
                SEGMENT_WARNINGS.fetch_add(1, Ordering::SeqCst);
                note(format!("gst {level:?}: {text}"));
            }
        });
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current().name().map(str::to_owned);
            if name.as_deref().is_none_or(|n| n.starts_with("cctv-run")) {
                ELEMENT_PANICS.fetch_add(1, Ordering::SeqCst);
                note(format!("panic in {name:?}: {info}"));
            }
            default_hook(info);
        }));
    });
}

/// Proves the capture works: a GLib CRITICAL and a GStreamer WARNING with
/// the segment text, from a self-check domain/category, must both arrive.
pub fn self_check() {
    init();
    let before = SELF_CHECKS.load(Ordering::SeqCst);
    glib::g_critical!(SELF_CHECK, "self-check critical");
    let cat = gst::DebugCategory::new(SELF_CHECK, gst::DebugColorFlags::empty(), None);
    gst::warning!(cat, "Got data flow before segment event (self-check)");
    assert_eq!(
        SELF_CHECKS.load(Ordering::SeqCst) - before,
        2,
        "the GLib/GStreamer log capture is not working"
    );
}

pub fn criticals() -> usize {
    CRITICALS.load(Ordering::SeqCst)
}
pub fn segment_warnings() -> usize {
    SEGMENT_WARNINGS.load(Ordering::SeqCst)
}
pub fn element_panics() -> usize {
    ELEMENT_PANICS.load(Ordering::SeqCst)
}
pub fn notes() -> Vec<String> {
    NOTES.lock().unwrap().clone()
}

// ---- generated files with unit locations ---------------------------------

/// One unit (frame, audio chunk, snapshot, access unit) of a generated file.
#[derive(Clone, Debug)]
pub struct Unit {
    pub pad: String,
    /// What the element must output for it (after [`normalize`]).
    pub data: Vec<u8>,
    /// The bytes it depends on: (file number, range). File 0 is the file
    /// (or rf1 index), file 1 the rf1 packets; a directory numbers its
    /// segments' files 2s, 2s+1.
    pub deps: Vec<(usize, Range<usize>)>,
}

/// A hostile-length target: (file, offset, width in bytes).
pub type Field = (usize, usize, usize);

#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// File contents by file number.
    pub files: Vec<Vec<u8>>,
    pub units: Vec<Unit>,
    pub length_fields: Vec<Field>,
    pub time_fields: Vec<Field>,
    /// Bytes of file 0 that damage may hit in the data-loss study (SAYS:
    /// the chunk area; a broken 64 KiB file header is "not SAYS").
    pub damageable: Range<usize>,
}

/// Output normalisation: pavsdemux puts SPS/PPS in front of key frames;
/// generated payloads hold exactly one start code, so keep from the last.
pub fn normalize(element: &str, data: &[u8]) -> Vec<u8> {
    if element == "pavsdemux"
        && let Some(at) = data.windows(4).rposition(|w| w == [0, 0, 0, 1])
    {
        return data[at..].to_vec();
    }
    if element == "rf1src" {
        // rf1src puts the parameter sets in effect in front of the first
        // access unit it plays (and of key frames without them): the unit
        // is its bytes after them.
        let mut rest = data;
        while let Some(nal) = rest.strip_prefix(&[0, 0, 0, 1])
            && nal.first().is_some_and(|h| matches!(h & 0x1f, 7 | 8))
        {
            let next = nal.windows(4).position(|w| w == [0, 0, 0, 1]);
            rest = &nal[next.unwrap_or(nal.len())..];
        }
        return rest.to_vec();
    }
    data.to_vec()
}

/// How the capture time of PAVS blocks evolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PavsTime {
    Regular,
    NearZero,
    /// The last representable second (u32 seconds).
    NearMax,
    Backwards,
    /// All cameras at the same time, which jumps by `ns` from frame `at`
    /// on (a DVR that stopped recording for a while).
    JumpAt {
        at: usize,
        ns: u64,
    },
}

/// A `.psf` with `cameras` interleaved cameras: unique random payloads (no
/// zero bytes after the start code), block sizes from 1 to 4 sectors.
pub fn psf(seed: u64, cameras: u8, frames: usize, time: PavsTime) -> Generated {
    let mut rng = XorShift::new(seed);
    let mut g = Generated::default();
    let mut out = Vec::new();
    for f in 0..frames {
        for cam in 0..cameras {
            let key = f % 5 == 0;
            let mut payload = vec![0, 0, 0, 1, if key { 0x65 } else { 0x41 }];
            let len = rng.range(40..1500);
            payload.extend(rng.nonzero_bytes(len));
            let step = f as u64 * 40_000_000 + u64::from(cam) * 1_000_000;
            let capture_time_ns = match time {
                PavsTime::Regular => 1_630_479_601_000_000_000 + step,
                PavsTime::NearZero => 1_000 + step,
                PavsTime::NearMax => u64::from(u32::MAX) * 1_000_000_000 - 2_000_000_000 + step,
                PavsTime::Backwards => 1_630_479_601_000_000_000 + 10_000_000_000 - step * 3,
                PavsTime::JumpAt { at, ns } => {
                    1_630_479_601_000_000_000 + f as u64 * 40_000_000 + if f >= at { ns } else { 0 }
                }
            };
            let spec = BlockSpec {
                channel: cam + 1,
                camera_name: format!("CAM {cam}"),
                width: 352,
                height: 240,
                key,
                capture_time_ns,
                sequence: (f * usize::from(cameras) + usize::from(cam)) as u32,
            };
            let start = out.len();
            write_block(&mut out, &spec, &payload).unwrap();
            g.length_fields.extend([
                (0, start + 0x3C, 4),
                (0, start + 0x48, 4),
                (0, start + 0x228, 4),
            ]);
            g.length_fields.push((0, start + 0x200, 2));
            g.units.push(Unit {
                pad: format!("video_{}", cam + 1),
                deps: vec![(0, start..start + 0x240 + payload.len())],
                data: payload,
            });
        }
    }
    g.damageable = 0..out.len();
    g.files = vec![out];
    g
}

fn telemetry(frame: usize, ts_us: u64) -> Vec<MetaEntry> {
    Telemetry {
        voltage: Some(12.5),
        frame: Some(frame as i32),
        ..Telemetry::at(
            ts_us,
            20.0 + frame as f64,
            40.5 + frame as f64 * 1e-4,
            -73.25,
        )
    }
    .entries()
}

fn jpeg(rng: &mut XorShift) -> Vec<u8> {
    jpeg_with_scan(rng.nonzero_bytes(60))
}

/// A `.nvr` with `cameras` cameras (telemetry on each), mu-law audio on
/// stream 0 (`doubled`: firmware < 1.6) and a JPEG every 7 frames.
/// With 2 cameras: 6 pads (video_0/1, meta_0/1, audio_0, image_0).
pub fn nvr(seed: u64, cameras: u8, frames: usize, doubled: bool) -> Generated {
    let mut rng = XorShift::new(seed);
    let version = if doubled { "v1.5.2" } else { "v1.6.5" };
    let header = HeaderSpec::recorder(
        "20231114_221320_221330.nvr",
        version,
        [MetaEntry::new(
            "deviceModel",
            MetaValue::Str("DV-XC4".into()),
        )],
    );
    let mut w = SaysWriter::new(Vec::new(), &header).unwrap();
    let mut g = Generated::default();
    let base = 1_700_000_000_000_000u64;
    for f in 0..frames {
        let t = base + f as u64 * 66_000;
        if f % 3 == 0 {
            let len = rng.range(40..400);
            let payload = rng.bytes(len);
            let start = w.position() as usize;
            let ts = t.saturating_sub(4_000);
            w.write_audio(0, AudioCodec::Mulaw, ts, &payload, doubled)
                .unwrap();
            let end = w.position() as usize;
            g.length_fields
                .extend([(0, start + 4, 2), (0, start + 6, 2)]);
            g.time_fields.push((0, start + 8, 8));
            g.units.push(Unit {
                pad: "audio_0".into(),
                data: payload,
                deps: vec![(0, start..end)],
            });
        }
        for cam in 0..cameras {
            let key = f % 6 == 0;
            let mut media = vec![0, 0, 0, 1, if key { 0x65 } else { 0x41 }];
            let len = rng.range(30..1200);
            media.extend(rng.nonzero_bytes(len));
            let ts = t + u64::from(cam) * 1_000;
            let start = w.position() as usize;
            w.write_video(cam, key, ts, &telemetry(f, ts), &media)
                .unwrap();
            let end = w.position() as usize;
            g.length_fields
                .extend([(0, start + 8, 4), (0, start + 24, 4), (0, start + 12, 2)]);
            // The chunk timestamp, and the telemetry `ts` (ms): metadata
            // length u32, type byte, "ts\0", then the i64.
            g.time_fields
                .extend([(0, start + 16, 8), (0, start + 32, 8)]);
            g.units.push(Unit {
                pad: format!("video_{cam}"),
                data: media,
                deps: vec![(0, start..end)],
            });
        }
        if f % 7 == 3 {
            let j = jpeg(&mut rng);
            let start = w.position() as usize;
            w.write_jpeg(&j).unwrap();
            let end = w.position() as usize;
            g.units.push(Unit {
                pad: "image_0".into(),
                data: j,
                deps: vec![(0, start..end)],
            });
        }
    }
    let bytes = w.into_inner();
    g.damageable = FILE_HEADER_LEN..bytes.len();
    g.files = vec![bytes];
    g
}

/// Where an rf1 segment lives in a [`Generated`]'s file list.
#[derive(Clone, Debug)]
pub struct Rf1Segment {
    pub start_ms: u64,
    pub index_file: usize,
}

/// rf1 segments (one `video` track each, annex-B NALUs, SPS/PPS in every
/// key AU, unique random slice payloads), written by the crate's writer.
/// Returns the files (index, packets per segment) and every AU as a unit.
pub fn rf1(seed: u64, segments: usize, frames: usize, close: bool) -> (Generated, Vec<Rf1Segment>) {
    let mut rng = XorShift::new(seed);
    let tmp = tempfile::tempdir().unwrap();
    let mut g = Generated::default();
    let mut segs = Vec::new();
    let sps: Vec<u8> = [0, 0, 0, 1, 0x67, 0x42, 0x00, 0x1e, 0x95, 0xa8, 0x28, 0xf4].to_vec();
    let pps: Vec<u8> = [0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80].to_vec();
    for s in 0..segments {
        let start_ms = 1_700_000_000_000 + (s * frames) as u64 * 100;
        let base = tmp.path().join(start_ms.to_string());
        let mut w = TrackWriter::create(
            &base,
            "video",
            Codec::H264,
            start_ms * 1000,
            (32, 32),
            Default::default(),
        )
        .unwrap();
        for f in 0..frames {
            let key = f % 4 == 0;
            let mut slice = vec![0, 0, 0, 1, if key { 0x65 } else { 0x41 }];
            let len = rng.range(20..600);
            slice.extend(rng.nonzero_bytes(len));
            let pts = Pts::Ns(f as u64 * 100_000_000);
            if key {
                let a = flags::ESSENTIAL_META | flags::ANNEXB;
                w.write_access_unit(
                    pts,
                    &[(&sps, a), (&pps, a), (&slice, flags::KEY | flags::ANNEXB)],
                )
                .unwrap();
            } else {
                w.write_access_unit(pts, &[(&slice, flags::ANNEXB)])
                    .unwrap();
            }
        }
        let (ip, pp) = (w.index_path().to_owned(), w.packets_path().to_owned());
        if close {
            w.close().unwrap();
        } else {
            w.abandon();
        }
        let (index, packets) = (std::fs::read(&ip).unwrap(), std::fs::read(&pp).unwrap());
        let file = g.files.len();
        let parsed = Index::parse(&index).unwrap();
        let entries = parsed.entries.len();
        let track = Track::from_index("video", parsed, packets.len() as u64);
        assert_eq!(track.access_units.len(), frames);
        for au in &track.access_units {
            let bytes = au.byte_range.start as usize..au.byte_range.end as usize;
            // An AU depends on the header, its entries, the entry before
            // (PTS grouping) and the one after (its end offset).
            let first = au.first_nalu.saturating_sub(1);
            let last = (au.first_nalu + au.nalu_count).min(entries);
            let entry = |e: usize| INDEX_HEADER_SIZE + e * INDEX_ENTRY_SIZE;
            g.units.push(Unit {
                pad: "video".into(),
                data: packets[bytes.clone()].to_vec(),
                deps: vec![
                    (file, 0..INDEX_HEADER_SIZE),
                    (file, entry(first)..entry(last + 1)),
                    (file + 1, bytes),
                ],
            });
        }
        for e in 0..=entries {
            let at = INDEX_HEADER_SIZE + e * INDEX_ENTRY_SIZE;
            // Entry (LE u64): flags bits 0-11, offset 12-41, PTS 42-63.
            // Bytes 1..5 are mostly offset: the index's "length" field.
            g.length_fields.push((file, at + 1, 4));
            g.time_fields.push((file, at + 5, 3));
        }
        // The header time base (µs) at 16, weighted: one field among many
        // entries; the entry count at 24.
        g.time_fields.extend([(file, 16, 8); 4]);
        g.length_fields.push((file, 24, 2));
        g.files.push(index);
        g.files.push(packets);
        segs.push(Rf1Segment {
            start_ms,
            index_file: file,
        });
    }
    (g, segs)
}

/// Writes the rf1 files of `g` into `dir` (names from `segs`).
pub fn write_rf1(dir: &Path, g: &Generated, segs: &[Rf1Segment]) -> Vec<PathBuf> {
    segs.iter()
        .map(|s| {
            let base = dir.join(s.start_ms.to_string());
            std::fs::write(
                dir.join(format!("{}_video.rf1i", s.start_ms)),
                &g.files[s.index_file],
            )
            .unwrap();
            std::fs::write(
                dir.join(format!("{}_video.rf1p", s.start_ms)),
                &g.files[s.index_file + 1],
            )
            .unwrap();
            base
        })
        .collect()
}

// ---- bounded runs ------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pull,
    Push,
}

/// What one bounded run did.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Buffers per pad, in order.
    pub pads: BTreeMap<String, Vec<Vec<u8>>>,
    pub eos: bool,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// An ERROR saying an element panicked, or a panic counted meanwhile.
    pub panicked: bool,
    /// No EOS/ERROR within the deadline (or teardown blocked).
    pub hang: bool,
    /// A state change failed and no ERROR message explained it.
    pub silent_state_failure: bool,
    pub criticals: usize,
}

/// Serialises runs within a test binary, so that panics and CRITICALs
/// (counted process-wide) are attributed to the run that caused them.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pads: Vec<String> = self
            .pads
            .iter()
            .map(|(pad, bufs)| format!("{pad}:{}", bufs.len()))
            .collect();
        write!(
            f,
            "eos {} panicked {} hang {} silent-state-failure {} criticals {} pads [{}] errors {:?} warnings {:?}",
            self.eos,
            self.panicked,
            self.hang,
            self.silent_state_failure,
            self.criticals,
            pads.join(" "),
            self.errors,
            self.warnings
        )
    }
}

impl Outcome {
    pub fn frames(&self) -> usize {
        self.pads.values().map(Vec::len).sum()
    }
    /// Ended with EOS or an ERROR message, nothing worse.
    pub fn clean(&self) -> bool {
        !self.panicked
            && !self.hang
            && !self.silent_state_failure
            && self.criticals == 0
            && (self.eos || !self.errors.is_empty())
    }
}

pub const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs a pipeline built by `build` (which returns the pipeline and the
/// element whose pads are sunk) in a `cctv-run` thread, and gives up after
/// `timeout` (a hang). Every pad gets `queue ! appsink`.
pub fn run_bounded<F>(build: F, timeout: Duration) -> Outcome
where
    F: FnOnce() -> (gst::Pipeline, gst::Element) + Send + 'static,
{
    init();
    let panics_before = element_panics();
    let criticals_before = criticals();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("cctv-run".into())
        .spawn(move || {
            let (pipeline, element) = build();
            let _ = tx.send(drive(pipeline, element, timeout));
        })
        .unwrap();
    let mut outcome = match rx.recv_timeout(timeout + Duration::from_secs(10)) {
        Ok(outcome) => outcome,
        Err(_) => Outcome {
            hang: true,
            ..Default::default()
        },
    };
    if element_panics() > panics_before {
        outcome.panicked = true;
    }
    outcome.criticals += criticals() - criticals_before;
    outcome
}

fn drive(pipeline: gst::Pipeline, element: gst::Element, timeout: Duration) -> Outcome {
    let pads: Arc<Mutex<BTreeMap<String, Vec<Vec<u8>>>>> = Arc::default();
    {
        let pads = pads.clone();
        let weak = pipeline.downgrade();
        element.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else {
                return;
            };
            let name = pad.name().to_string();
            // Subtitle cues (capture time) are made, not read: they are
            // played like the rest but not counted as units of the file.
            let subtitle = name == "subtitle" || name.starts_with("subtitle_");
            if !subtitle {
                pads.lock().unwrap().entry(name.clone()).or_default();
            }
            let queue = gst::ElementFactory::make("queue")
                .property("max-size-buffers", 0u32)
                .property("max-size-bytes", 0u32)
                .property("max-size-time", 0u64)
                .build()
                .unwrap();
            let sink = gst_app::AppSink::builder().sync(false).build();
            let pads = pads.clone();
            sink.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        let data = sample.buffer().unwrap().map_readable().unwrap().to_vec();
                        if !subtitle {
                            pads.lock().unwrap().get_mut(&name).unwrap().push(data);
                        }
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
            pipeline.add_many([&queue, sink.upcast_ref()]).unwrap();
            queue.link(&sink).unwrap();
            queue.sync_state_with_parent().unwrap();
            sink.sync_state_with_parent().unwrap();
            let _ = pad.link(&queue.static_pad("sink").unwrap());
        });
    }
    let mut out = Outcome::default();
    let bus = pipeline.bus().unwrap();
    let state_failed = pipeline.set_state(gst::State::Playing).is_err();
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            out.hang = true;
            break;
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => {
                out.eos = true;
                break;
            }
            gst::MessageView::Error(e) => {
                let text = format!("{} ({:?})", e.error(), e.debug());
                if text.contains("Panicked") || text.contains("panicked") {
                    out.panicked = true;
                }
                out.errors.push(text);
                break;
            }
            gst::MessageView::Warning(w) => out.warnings.push(w.error().to_string()),
            _ => {}
        }
    }
    if state_failed && out.errors.is_empty() {
        out.silent_state_failure = true;
    }
    let _ = pipeline.set_state(gst::State::Null);
    out.pads = std::mem::take(&mut *pads.lock().unwrap());
    out
}

/// `element` with every stream of the file as output (saysdemux: the
/// telemetry JSON too, which is off by default), so that every unit counts.
fn make_demux(element: &str) -> gst::Element {
    let demux = gst::ElementFactory::make(element).build().unwrap();
    if demux.find_property("telemetry").is_some() {
        demux.set_property("telemetry", true);
    }
    demux
}

/// `element` over `bytes`: pull mode from a temporary file (filesrc), or
/// push mode from an appsrc in uneven buffers.
pub fn run_demux(element: &'static str, bytes: &[u8], mode: Mode) -> Outcome {
    match mode {
        Mode::Pull => {
            let mut file = tempfile::NamedTempFile::new().unwrap();
            std::io::Write::write_all(&mut file, bytes).unwrap();
            let path = file.path().to_owned();
            let outcome = run_bounded(
                move || {
                    let pipeline = gst::Pipeline::new();
                    let src = gst::ElementFactory::make("filesrc")
                        .property("location", path.to_str().unwrap())
                        .build()
                        .unwrap();
                    let demux = make_demux(element);
                    pipeline.add_many([&src, &demux]).unwrap();
                    src.link(&demux).unwrap();
                    (pipeline, demux)
                },
                RUN_TIMEOUT,
            );
            if !outcome.hang {
                drop(file);
            } else {
                // A hung pipeline may still read it.
                let _ = file.keep();
            }
            outcome
        }
        Mode::Push => {
            let bytes = bytes.to_vec();
            run_bounded(
                move || {
                    let pipeline = gst::Pipeline::new();
                    let src = gst_app::AppSrc::builder()
                        .format(gst::Format::Bytes)
                        .max_bytes(0)
                        .build();
                    let demux = make_demux(element);
                    pipeline.add_many([src.upcast_ref(), &demux]).unwrap();
                    src.link(&demux).unwrap();
                    let (mut at, mut size) = (0, 1000);
                    while at < bytes.len() {
                        let end = (at + size).min(bytes.len());
                        let _ = src.push_buffer(gst::Buffer::from_slice(bytes[at..end].to_vec()));
                        at = end;
                        size = size * 7 % 9973 + 1;
                    }
                    let _ = src.end_of_stream();
                    (pipeline, demux)
                },
                RUN_TIMEOUT,
            )
        }
    }
}

/// `rf1src location=<location>`.
pub fn run_rf1src(location: &Path) -> Outcome {
    let location = location.to_owned();
    run_bounded(
        move || {
            let pipeline = gst::Pipeline::new();
            let src = gst::ElementFactory::make("rf1src")
                .property("location", location.to_str().unwrap())
                .build()
                .unwrap();
            pipeline.add(&src).unwrap();
            (pipeline, src.clone())
        },
        RUN_TIMEOUT,
    )
}

// ---- damage ------------------------------------------------------------------

/// One damage, in the coordinates of the pristine file `file`. Insertions
/// are `at..at` with `inserted` bytes.
#[derive(Clone, Debug)]
pub struct Damage {
    pub kind: &'static str,
    pub file: usize,
    pub range: Range<usize>,
    pub inserted: usize,
    /// Every byte from `range.start` on is displaced or gone for readers
    /// that address by offset (rf1): the damage extends to the end.
    pub to_end: bool,
}

impl Damage {
    /// Whether a unit depending on `deps` may be affected.
    pub fn touches(&self, deps: &[(usize, Range<usize>)]) -> bool {
        deps.iter().any(|(file, r)| {
            *file == self.file
                && if self.to_end {
                    r.end > self.range.start
                } else if self.range.is_empty() {
                    // Insertion: only a unit it splits.
                    r.start < self.range.start && self.range.start < r.end
                } else {
                    r.start < self.range.end && self.range.start < r.end
                }
        })
    }
}

/// Damages `files[file]` once at a random place inside `within`, with one
/// of: overwrite, bit flip, hostile length field, insertion, deletion.
pub fn damage_once(
    rng: &mut XorShift,
    g: &Generated,
    file: usize,
    within: Range<usize>,
    offset_addressed: bool,
) -> (Vec<u8>, Damage) {
    let mut data = g.files[file].clone();
    let kinds = ["overwrite", "flip", "length", "insert", "delete"];
    let kind = kinds[rng.below(kinds.len())];
    let fields: Vec<&Field> = g
        .length_fields
        .iter()
        .filter(|(f, at, _)| *f == file && within.contains(at))
        .collect();
    let at = rng.range(within.clone());
    let mut d = Damage {
        kind,
        file,
        range: at..at,
        inserted: 0,
        to_end: false,
    };
    match kind {
        "overwrite" => {
            let len = rng.range(1..64).min(within.end - at);
            let garbage = rng.bytes(len);
            data[at..at + len].copy_from_slice(&garbage);
            // Bytes that did not change are not damage.
            let first = (at..at + len).find(|&i| data[i] != g.files[file][i]);
            let last = (at..at + len).rev().find(|&i| data[i] != g.files[file][i]);
            d.range = match (first, last) {
                (Some(a), Some(b)) => a..b + 1,
                _ => at..at,
            };
            if d.range.is_empty() {
                // Nothing changed: make it a real one-byte change.
                data[at] ^= 0x80;
                d.range = at..at + 1;
            }
        }
        "flip" => {
            data[at] ^= 1 << rng.below(8);
            d.range = at..at + 1;
        }
        "length" if !fields.is_empty() => {
            let &(_, field_at, width) = fields[rng.below(fields.len())];
            let values: [u64; 4] = [0, 1, 0x7fff_ffff, 0xffff_ffff];
            let value = values[rng.below(4)].to_le_bytes();
            let before = data[field_at..field_at + width].to_vec();
            data[field_at..field_at + width].copy_from_slice(&value[..width]);
            d.range = field_at..field_at + width;
            if before == data[d.range.clone()] {
                data[field_at] ^= 0x40;
            }
        }
        "length" | "insert" => {
            d.kind = "insert";
            let len = rng.range(1..80);
            let garbage = rng.bytes(len);
            data.splice(at..at, garbage);
            d.inserted = len;
            d.to_end = offset_addressed;
        }
        _ => {
            let len = rng.range(1..80).min(within.end - at).max(1);
            data.drain(at..at + len);
            d.range = at..at + len;
            d.to_end = offset_addressed;
        }
    }
    (data, d)
}

/// Counts the untouched units of `g` that came out (bit-exact, on their
/// pad, each output used once). Returns (expected, found, missing
/// descriptions).
pub fn untouched_found(
    element: &str,
    g: &Generated,
    damage: Option<&Damage>,
    outcome: &Outcome,
) -> (usize, usize, Vec<String>) {
    let mut available: BTreeMap<(&str, Vec<u8>), usize> = BTreeMap::new();
    for (pad, bufs) in &outcome.pads {
        for b in bufs {
            *available
                .entry((pad.as_str(), normalize(element, b)))
                .or_default() += 1;
        }
    }
    let (mut expected, mut found, mut missing) = (0, 0, Vec::new());
    for (i, u) in g.units.iter().enumerate() {
        if damage.is_some_and(|d| d.touches(&u.deps)) {
            continue;
        }
        expected += 1;
        match available.get_mut(&(u.pad.as_str(), normalize(element, &u.data))) {
            Some(n) if *n > 0 => {
                *n -= 1;
                found += 1;
            }
            _ => missing.push(format!("unit {i} ({}, deps {:?})", u.pad, u.deps)),
        }
    }
    (expected, found, missing)
}
