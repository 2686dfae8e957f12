// SPDX-License-Identifier: MIT
//! Playback for the page: one camera of one recording from a capture time,
//! remuxed (never re-encoded) into fragmented MP4 and handed to the HTTP
//! body as it is made.
//!
//! `filesrc ! pavsdemux|saysdemux` (or `rf1src`) with a KEY_UNIT seek to the
//! time, the camera's video pad → `mp4mux fragment-duration streamable` →
//! `appsink`, whose samples go through a bounded channel: a slow client
//! slows the pipeline down instead of filling memory. When the body is
//! dropped (finished, seeking, tab closed) the channel closes, the
//! streaming thread stops pushing and the pipeline is set to NULL.

use crate::inputs::{Kind, Recording};
use crate::scan::{self, Depth};
use anyhow::{Context, Result, anyhow};
use axum::body::Bytes;
use gst::prelude::*;
use gstcctv::engine::{Codec, StreamKind};
use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// A camera in one file: what a pipeline reads.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub kind: Kind,
    /// The demuxer's pad (`video_9`) or the rf1 track name.
    pub pad: String,
    pub h265: bool,
    /// Capture time (Unix ns) of the file's first frame of this camera:
    /// the demuxers' running time counts from it.
    pub first_wall_ns: u64,
}

/// Fragments queued per client before the pipeline waits for it.
const QUEUED_FRAGMENTS: usize = 8;
/// How long a fragment lasts (ms): short, so playback starts at once.
const FRAGMENT_MS: u32 = 500;

/// Pipelines alive now (shown by `/api/status`; the tests check that
/// aborted requests bring it back to zero).
pub static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// At most this many playbacks at once (`--max-playbacks`); beyond, a
/// request is answered 503 instead of starting more threads.
pub static LIMIT: AtomicUsize = AtomicUsize::new(64);

/// The server is at its playback limit.
#[derive(Debug)]
pub struct Busy;

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "too many playbacks at once; try again")
    }
}

impl std::error::Error for Busy {}

fn admit() -> Result<()> {
    if ACTIVE.load(Ordering::SeqCst) >= LIMIT.load(Ordering::SeqCst) {
        return Err(Busy.into());
    }
    Ok(())
}

fn make(factory: &str) -> Result<gst::Element> {
    gst::ElementFactory::make(factory)
        .build()
        .with_context(|| format!("GStreamer element {factory} is missing"))
}

/// The camera's audio in a file, as `cctv convert` pairs them: the audio
/// stream of the same number, else the recording's only one (a dashcam's
/// microphone). Found by the engine's discovery pass, once per file and
/// camera.
/// (file, camera pad) → (audio pad, codec).
type AudioMap = HashMap<(PathBuf, String), Option<(String, Codec)>>;

fn audio_of(src: &Source) -> Option<(String, Codec)> {
    static FOUND: Mutex<Option<AudioMap>> = Mutex::new(None);
    let key = (src.path.clone(), src.pad.clone());
    if let Some(found) = FOUND
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|m| m.get(&key))
    {
        return found.clone();
    }
    let found = if src.kind == Kind::Rf1 {
        None
    } else {
        let rec = Recording {
            path: src.path.clone(),
            kind: src.kind,
            stem: Default::default(),
            track: None,
        };
        scan::scan(&rec, Depth::StreamsOnly, |_, _| {})
            .ok()
            .and_then(|scan| {
                let audios: Vec<_> = scan
                    .streams
                    .iter()
                    .map(|s| &s.info)
                    .filter(|i| i.id.kind == StreamKind::Audio)
                    .collect();
                let number = src
                    .pad
                    .strip_prefix("video_")
                    .and_then(|n| n.parse::<u32>().ok());
                audios
                    .iter()
                    .find(|i| Some(i.id.number) == number)
                    .or_else(|| (audios.len() == 1).then(|| &audios[0]))
                    .map(|i| (i.name.clone(), i.codec.clone()))
            })
    };
    FOUND
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(key, found.clone());
    found
}

/// Sets the pipeline to NULL when dropped, off the async threads.
struct Guard(Option<gst::Pipeline>);

impl Guard {
    fn new(p: gst::Pipeline) -> Self {
        ACTIVE.fetch_add(1, Ordering::SeqCst);
        Guard(Some(p))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some(p) = self.0.take() else { return };
        let stop = move || {
            let _ = p.set_state(gst::State::Null);
            ACTIVE.fetch_sub(1, Ordering::SeqCst);
        };
        // NULL joins the streaming threads: not on a runtime worker.
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(stop);
            }
            Err(_) => stop(),
        }
    }
}

/// The source element(s) and the element whose pads carry the streams.
fn source(pipeline: &gst::Pipeline, src: &Source) -> Result<gst::Element> {
    match src.kind {
        Kind::Rf1 => {
            let e = gst::ElementFactory::make("rf1src")
                .property("location", src.path.to_string_lossy().to_string())
                .property("tracks", src.pad.clone())
                .build()?;
            pipeline.add(&e)?;
            Ok(e)
        }
        Kind::Pavs | Kind::Says => {
            let file = gst::ElementFactory::make("filesrc")
                .property("location", src.path.to_string_lossy().to_string())
                .build()?;
            let demux = make(if src.kind == Kind::Pavs {
                "pavsdemux"
            } else {
                "saysdemux"
            })?;
            pipeline.add_many([&file, &demux])?;
            file.link(&demux)?;
            Ok(demux)
        }
    }
}

/// The capture time carried by a buffer (the elements' `timestamp/x-unix`
/// reference timestamp).
fn wall_of(buffer: &gst::BufferRef) -> Option<u64> {
    buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|m| {
            m.reference()
                .structure(0)
                .is_some_and(|s| s.name() == "timestamp/x-unix")
        })
        .map(|m| m.timestamp().nseconds())
}

/// Links every pad but the camera's to a fakesink, the camera's to
/// `target` (or a fakesink when `None`), calling `first` with the capture
/// time of the camera's first buffer.
fn route(
    pipeline: &gst::Pipeline,
    demux: &gst::Element,
    wanted: &str,
    target: Option<gst::Pad>,
    audio: Option<(String, gst::Pad)>,
    first: impl Fn(Option<u64>) + Send + Sync + 'static,
) {
    let weak = pipeline.downgrade();
    let wanted = wanted.to_string();
    let first = Arc::new(first);
    let target = Mutex::new(target);
    let audio = Arc::new(Mutex::new(audio));
    let unused = audio.clone();
    // An audio stream found by discovery but never announced must not hold
    // the muxer back: it ends at once.
    demux.connect_no_more_pads(move |_| {
        let left = unused.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((_, sink)) = left {
            let _ = sink.send_event(gst::event::Eos::new());
        }
    });
    demux.connect_pad_added(move |demux, pad| {
        let name = pad.name();
        let sound = {
            let mut a = audio.lock().unwrap_or_else(|e| e.into_inner());
            if a.as_ref().is_some_and(|(n, _)| n.as_str() == name.as_str()) {
                a.take().map(|(_, p)| p)
            } else {
                None
            }
        };
        if let Some(sink) = sound {
            let _ = pad.link(&sink);
            return;
        }
        let is_camera =
            name == wanted.as_str() || demux.factory().is_some_and(|f| f.name() == "rf1src");
        let sink = if is_camera {
            let first = first.clone();
            let seen = std::sync::atomic::AtomicBool::new(false);
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                // The first buffer that carries a capture time (a codec
                // header may come before it).
                if let Some(gst::PadProbeData::Buffer(b)) = &info.data
                    && let Some(w) = wall_of(b)
                    && !seen.swap(true, Ordering::SeqCst)
                {
                    first(Some(w));
                }
                gst::PadProbeReturn::Ok
            });
            target.lock().unwrap_or_else(|e| e.into_inner()).take()
        } else {
            None
        };
        let sink = match sink {
            Some(s) => s,
            None => {
                let Some(p) = weak.upgrade() else { return };
                let Ok(fake) = gst::ElementFactory::make("fakesink")
                    .property("sync", false)
                    .property("async", false)
                    .build()
                else {
                    return;
                };
                if p.add(&fake).is_err() {
                    return;
                }
                let _ = fake.sync_state_with_parent();
                let Some(s) = fake.static_pad("sink") else {
                    return;
                };
                s
            }
        };
        let _ = pad.link(&sink);
    });
}

fn seek_and_play(pipeline: &gst::Pipeline, demux: &gst::Element, running_ns: u64) -> Result<()> {
    pipeline
        .set_state(gst::State::Ready)
        .map_err(|_| anyhow!("cannot start the pipeline"))?;
    if running_ns > 0 {
        let seek = gst::event::Seek::new(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
            gst::SeekType::Set,
            gst::ClockTime::from_nseconds(running_ns),
            gst::SeekType::None,
            gst::ClockTime::NONE,
        );
        if !demux.send_event(seek) {
            return Err(anyhow!("cannot seek"));
        }
    }
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| anyhow!("cannot start the pipeline"))?;
    Ok(())
}

/// The capture time of the key frame playback from `wall_ns` starts at
/// (the same seek as [`play`] makes, so the page knows what it shows).
pub fn locate(src: &Source, wall_ns: u64) -> Result<u64> {
    admit()?;
    let pipeline = gst::Pipeline::new();
    let demux = source(&pipeline, src)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Option<u64>>(1);
    route(&pipeline, &demux, &src.pad, None, None, move |w| {
        let _ = tx.try_send(w);
    });
    let guard = Guard::new(pipeline.clone());
    seek_and_play(&pipeline, &demux, wall_ns.saturating_sub(src.first_wall_ns))?;
    let bus = pipeline.bus().ok_or_else(|| anyhow!("no bus"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let found = loop {
        if let Ok(w) = rx.recv_timeout(Duration::from_millis(20)) {
            break w;
        }
        if let Some(m) = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Eos]) {
            break match m.view() {
                gst::MessageView::Error(e) => return Err(anyhow!("{}", e.error())),
                // A fast pipeline may reach the end between the two polls:
                // the first frame was sent before it.
                _ => rx.try_recv().ok().flatten(),
            };
        }
        if std::time::Instant::now() > deadline {
            return Err(anyhow!("no frame within 10 s"));
        }
    };
    drop(guard);
    found.ok_or_else(|| anyhow!("no frame with a capture time from there"))
}

/// The HTTP body of a playback: fragments as the pipeline makes them.
pub struct Playback {
    // Dropped first: closing the channel releases a streaming thread
    // waiting to send before the guard sets the pipeline to NULL.
    rx: mpsc::Receiver<Bytes>,
    _guard: Guard,
}

impl futures_core::Stream for Playback {
    type Item = Result<Bytes, std::convert::Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|o| o.map(Ok))
    }
}

/// Starts playback of `src` from the key frame at or before `wall_ns`.
pub fn play(src: &Source, wall_ns: u64) -> Result<Playback> {
    admit()?;
    let pipeline = gst::Pipeline::new();
    let demux = source(&pipeline, src)?;
    let queue = make("queue")?;
    let mux = make("mp4mux")?;
    mux.set_property("fragment-duration", FRAGMENT_MS);
    mux.set_property("streamable", true);
    let sink = gst_app::AppSink::builder()
        .sync(false)
        .max_buffers(2)
        .build();
    pipeline.add_many([&queue, &mux, sink.upcast_ref()])?;
    let mut chain = vec![queue.clone()];
    // The parser repackages (byte-stream to length-prefixed, the
    // parameter sets into the sample description) for mp4mux; the
    // slices pass untouched.
    let parser = make(if src.h265 { "h265parse" } else { "h264parse" })?;
    pipeline.add(&parser)?;
    chain.push(parser);
    gst::Element::link_many(chain.iter())?;
    chain
        .last()
        .ok_or_else(|| anyhow!("empty chain"))?
        .link_pads(None, &mux, Some("video_%u"))?;
    mux.link(&sink)?;
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUED_FRAGMENTS);
    // The sender lives here; a copy is taken per send so that no lock is
    // held while the streaming thread waits for the client.
    let sender = Arc::new(Mutex::new(Some(tx)));
    let take = |s: &Arc<Mutex<Option<mpsc::Sender<Bytes>>>>| {
        s.lock().unwrap_or_else(|e| e.into_inner()).clone()
    };
    let (s_sample, s_eos) = (sender.clone(), sender.clone());
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer_owned().ok_or(gst::FlowError::Error)?;
                let mapped = buffer
                    .into_mapped_buffer_readable()
                    .map_err(|_| gst::FlowError::Error)?;
                // Zero-copy: the body holds the GStreamer buffer.
                let bytes = Bytes::from_owner(mapped);
                let Some(tx) = take(&s_sample) else {
                    return Err(gst::FlowError::Flushing);
                };
                tx.blocking_send(bytes)
                    .map_err(|_| gst::FlowError::Flushing)?;
                Ok(gst::FlowSuccess::Ok)
            })
            .eos(move |_| {
                s_eos.lock().unwrap_or_else(|e| e.into_inner()).take();
            })
            .build(),
    );
    let s_err = sender.clone();
    let bus = pipeline.bus().ok_or_else(|| anyhow!("no bus"))?;
    bus.set_sync_handler(move |_, msg| {
        if let gst::MessageView::Error(e) = msg.view() {
            eprintln!("cctv serve: playback stopped: {}", e.error());
            // Ends the body: the client sees the end of what was intact.
            s_err.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
        gst::BusSyncReply::Drop
    });
    // Audio for the browser: AAC (the recorders' mu-law is not a browser
    // codec); the one part of a playback that is transcoded.
    let mut audio_target = None;
    if let Some((pad, codec)) = audio_of(src) {
        let dec = match codec {
            Codec::Opus { .. } => "opusdec",
            _ => "mulawdec",
        };
        let chain: Vec<gst::Element> = ["queue", dec, "audioconvert", "audioresample", "avenc_aac"]
            .iter()
            .map(|f| make(f))
            .collect::<Result<_>>()?;
        pipeline.add_many(chain.iter())?;
        gst::Element::link_many(chain.iter())?;
        chain[chain.len() - 1].link_pads(None, &mux, Some("audio_%u"))?;
        audio_target = chain[0].static_pad("sink").map(|p| (pad, p));
    }
    let target = queue.static_pad("sink");
    route(&pipeline, &demux, &src.pad, target, audio_target, |_| {});
    let guard = Guard::new(pipeline.clone());
    seek_and_play(&pipeline, &demux, wall_ns.saturating_sub(src.first_wall_ns))?;
    Ok(Playback { rx, _guard: guard })
}

/// A file as an HTTP body, read in chunks by a blocking task as the client
/// takes them (exports can be large: never whole in memory).
pub struct FileBody {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
}

impl futures_core::Stream for FileBody {
    type Item = std::io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Opens `path` (its length, and the body that reads it).
pub fn file_body(path: &std::path::Path) -> std::io::Result<(u64, FileBody)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut chunk = vec![0u8; 256 * 1024];
            let item = match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    chunk.truncate(n);
                    Ok(Bytes::from(chunk))
                }
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            // A closed body (client gone) ends the reading.
            if tx.blocking_send(item).is_err() || failed {
                break;
            }
        }
    });
    Ok((len, FileBody { rx }))
}
