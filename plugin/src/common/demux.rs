// SPDX-License-Identifier: MIT
//! The GStreamer side of the demuxers (`pavsdemux`, `saysdemux`): an
//! adapter that drives the GStreamer-free [`engine`](crate::engine). It
//! schedules the sink pad (pull mode: a task reading with `get_range`; push
//! mode: the chain function), turns engine events into pads, buffers and
//! messages, runs the seek protocol, and answers queries.
//!
//! Locking: the engine lives in `running`, the pads in `streams`; neither
//! lock is held while pads are added, buffers or events are pushed, or
//! messages are posted. Queries read stored values only.

use super::present::{self, BufferMaker, GstChunk, clock_time};
use super::streams::{OutputStreams, StreamSpec, lock};
use crate::engine::{
    ByteSource, Demuxer, EngineError, Event, Format, NoSource, SourceError, StreamId, StreamInfo,
};
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

/// The ERROR an engine error posts: the engine's text after the file
/// prefix, in the domain that says what failed (applications and
/// `gst-launch` tell a file of another type from damage or a read error).
pub fn error_message(err: &EngineError, file_prefix: &str) -> gst::ErrorMessage {
    use crate::engine::Mismatch;
    match err {
        // The header was this format's, every unit after it damage.
        EngineError::NotThisFormat {
            why: Mismatch::NoValidUnit { after_header: true },
            ..
        } => gst::error_msg!(gst::StreamError::Demux, ("{}{}", file_prefix, err)),
        EngineError::NotThisFormat { .. } => {
            gst::error_msg!(gst::StreamError::WrongType, ("{}{}", file_prefix, err))
        }
        EngineError::Source(_) => {
            gst::error_msg!(gst::ResourceError::Read, ("{}{}", file_prefix, err))
        }
        EngineError::NotSeekable => {
            gst::error_msg!(gst::StreamError::Failed, ("{}{}", file_prefix, err))
        }
    }
}

pub static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "cctvdemux",
        gst::DebugColorFlags::empty(),
        Some("CCTV demuxer adapter"),
    )
});

/// Packets turned into buffers per pass of the streaming loop (the engine
/// lock is released between passes).
const BATCH: usize = 64;
/// Read buffers kept for reuse once downstream has released their memory.
const SPARE_READS: usize = 4;

/// The always-present sink pad template of a demuxer taking `caps_name`.
pub fn sink_pad_template(caps_name: &str) -> gst::PadTemplate {
    gst::PadTemplate::new(
        "sink",
        gst::PadDirection::Sink,
        gst::PadPresence::Always,
        &gst::Caps::new_empty_simple(caps_name),
    )
    .expect("valid sink template")
}

/// A "sometimes" source pad template for H.264 access units: byte-stream,
/// or length-prefixed where the parameter sets are known and downstream
/// takes only that.
pub fn h264_src_pad_template(name_template: &str) -> gst::PadTemplate {
    gst::PadTemplate::new(
        name_template,
        gst::PadDirection::Src,
        gst::PadPresence::Sometimes,
        &gst::Caps::builder("video/x-h264")
            .field("stream-format", gst::List::new(["byte-stream", "avc"]))
            .field("alignment", "au")
            .build(),
    )
    .expect("valid source template")
}

/// Implemented by the element's `imp` struct.
pub trait DemuxElement: ObjectSubclass + ElementImpl
where
    <Self as ObjectSubclass>::Type: IsA<gst::Element>,
{
    type Format: Format;
    fn adapter(&self) -> &DemuxAdapter<Self::Format>;
    /// A fresh format with the current property values.
    fn new_format(&self) -> Self::Format;
}

/// Random access through the sink pad, reusing read buffers that nobody
/// references any more (so steady-state reading does not ask the allocator
/// for fresh, zeroed pages every time).
struct PadSource {
    pad: gst::Pad,
    size: Option<u64>,
    spare: VecDeque<GstChunk>,
    /// Whether upstream fills buffers we provide (filesrc does).
    fill_supported: bool,
}

impl PadSource {
    fn reuse(&mut self, offset: u64, len: u32) -> Option<Result<gst::Buffer, gst::FlowError>> {
        if !self.fill_supported {
            return None;
        }
        let i = self
            .spare
            .iter()
            .position(|c| Arc::strong_count(&c.0) == 1)?;
        let chunk = self.spare.remove(i)?;
        let mapped = Arc::try_unwrap(chunk.0).ok()?;
        let mut buffer = mapped.into_buffer();
        if !(buffer.is_writable()
            && buffer.is_all_memory_writable()
            && buffer.maxsize() >= len as usize)
        {
            return None;
        }
        let target = buffer.get_mut()?;
        target.set_size(len as usize);
        match self.pad.pull_range_fill(offset, target, len) {
            Ok(()) => Some(Ok(buffer)),
            Err(gst::FlowError::Error) => {
                // Upstream handed back a buffer of its own: stop offering ours.
                self.fill_supported = false;
                None
            }
            Err(e) => Some(Err(e)),
        }
    }
}

impl ByteSource for PadSource {
    type Chunk = GstChunk;

    fn size(&self) -> Option<u64> {
        self.size
    }

    fn read_at(&mut self, offset: u64, len: usize) -> Result<GstChunk, SourceError> {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        let read = match self.reuse(offset, len) {
            Some(result) => result,
            None => self.pad.pull_range(offset, len),
        };
        let buffer = read.map_err(|e| match e {
            gst::FlowError::Flushing => SourceError::Flushing,
            gst::FlowError::Eos => SourceError::Eos,
            other => SourceError::Io(format!("upstream returned {other:?}")),
        })?;
        let chunk = GstChunk::new(buffer)
            .ok_or_else(|| SourceError::Io("cannot map a read buffer".into()))?;
        self.spare.push_back(chunk.clone());
        if self.spare.len() > SPARE_READS {
            self.spare.pop_front();
        }
        Ok(chunk)
    }
}

struct Running<F: Format> {
    engine: Demuxer<F, GstChunk>,
    source: Option<PadSource>,
    maker: BufferMaker,
    /// Streams negotiated to length-prefixed output (`stream-format=avc`).
    avc: Vec<StreamId>,
}

impl<F: Format> Running<F> {
    /// The next engine event with the right source for the mode.
    fn next(&mut self) -> Result<Event<GstChunk>, EngineError> {
        match self.source.as_mut() {
            Some(src) => self.engine.next(src),
            None => self.engine.next(&mut NoSource::<GstChunk>::default()),
        }
    }
}

/// What the streaming thread does once the engine lock is released.
enum Work {
    Push(StreamId, gst::Buffer),
    Announce(Vec<StreamInfo>, bool),
    Eos,
}

/// Whether the streaming thread goes on after dispatching.
#[derive(Debug, PartialEq, Eq)]
enum Dispatched {
    Continue,
    /// EOS (or SEGMENT_DONE) was sent.
    Ended,
}

/// The demuxer adapter; one per element instance.
pub struct DemuxAdapter<F: Format> {
    pub sinkpad: gst::Pad,
    running: Mutex<Option<Running<F>>>,
    streams: Mutex<OutputStreams<StreamId>>,
    pull_mode: AtomicBool,
    /// Duration as computed by the streaming thread (queries read it).
    duration: Mutex<Option<gst::ClockTime>>,
    /// The last seek handled: it reaches the element once per linked pad.
    last_seek: super::seek::SeekOnce,
    /// A seek sent to the element before it runs (READY): applied when the
    /// pull task starts, before anything is output (so a muxer downstream
    /// never sees a flush). Used by `cctv convert --from/--to`.
    pending_seek: Mutex<Option<gst::Event>>,
}

impl<F: Format> DemuxAdapter<F> {
    /// Builds the sink pad from the element's "sink" template and wires it.
    pub fn new<T>(sink_template: &gst::PadTemplate) -> Self
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let sinkpad = gst::Pad::builder_from_template(sink_template)
            .activate_function(|pad, parent| {
                T::catch_panic_pad_function(
                    parent,
                    || Err(gst::loggable_error!(*CAT, "Panic activating sink pad")),
                    |imp| imp.adapter().sink_activate(pad),
                )
            })
            .activatemode_function(|pad, parent, mode, active| {
                T::catch_panic_pad_function(
                    parent,
                    || {
                        // After a panic the element can still be shut down.
                        let _ = pad.stop_task();
                        Ok(())
                    },
                    |imp| imp.adapter().sink_activate_mode(imp, pad, mode, active),
                )
            })
            .chain_function(|_pad, parent, buffer| {
                T::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.adapter().sink_chain(imp, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                T::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.adapter().sink_event(imp, pad, event),
                )
            })
            .build();
        Self {
            sinkpad,
            running: Mutex::new(None),
            streams: Mutex::new(OutputStreams::default()),
            pull_mode: AtomicBool::new(false),
            duration: Mutex::new(None),
            last_seek: super::seek::SeekOnce::default(),
            pending_seek: Mutex::new(None),
        }
    }

    /// For the element's `send_event`: a TIME seek before the element runs
    /// is kept and applied when the pull task starts (as basesrc does).
    /// `None`: not such a seek, handle it as usual.
    pub fn send_event_before_start(&self, event: &gst::Event) -> Option<bool> {
        let gst::EventView::Seek(seek) = event.view() else {
            return None;
        };
        if lock(&self.running).is_some() {
            return None;
        }
        let (rate, _, _, start, _, _) = seek.get();
        if rate <= 0.0 || start.format() != gst::Format::Time {
            return Some(false);
        }
        *lock(&self.pending_seek) = Some(event.clone());
        Some(true)
    }

    /// Applies a seek received before the start (pull mode, task not
    /// running yet: nothing to flush).
    fn apply_pending_seek(&self, element: &gst::Element) {
        let Some(event) = lock(&self.pending_seek).take() else {
            return;
        };
        let gst::EventView::Seek(seek) = event.view() else {
            return;
        };
        let key_unit = seek.flags().contains(gst::SeekFlags::KEY_UNIT);
        let current = lock(&self.streams).segment().clone();
        let result = super::seek::validate(seek, &current, None).and_then(|mut segment| {
            let target = segment.start().unwrap_or_default().nseconds();
            let stop = segment.stop().map(|s| s.nseconds());
            let outcome = match lock(&self.running).as_mut() {
                Some(Running {
                    engine,
                    source: Some(src),
                    ..
                }) => engine.seek(src, target, stop).map_err(|e| e.to_string()),
                _ => Err("not running".to_string()),
            };
            if let Ok(outcome) = &outcome
                && key_unit
                && !outcome.past_end
                && let Some(key) = outcome.key_pts.map(clock_time)
                && key < segment.start().unwrap_or_default()
            {
                segment.set_start(key);
                segment.set_time(key);
                segment.set_position(key);
            }
            super::seek::commit(element, &self.streams, seek, segment, outcome.is_ok());
            outcome.map(|_| ())
        });
        if let Err(msg) = result {
            gst::warning!(CAT, obj = element, "Seek before start failed: {}", msg);
        }
    }

    /// To be called from the element's `change_state` after chaining up on
    /// PAUSED -> READY: drops pads and state.
    pub fn reset(&self, element: &gst::Element) {
        *lock(&self.running) = None;
        *lock(&self.duration) = None;
        *lock(&self.pending_seek) = None;
        self.last_seek.reset();
        let old = std::mem::take(&mut *lock(&self.streams));
        let mut old = old;
        old.remove_all(element);
    }

    // ---- scheduling -------------------------------------------------------

    fn sink_activate(&self, pad: &gst::Pad) -> Result<(), gst::LoggableError> {
        let mut query = gst::query::Scheduling::new();
        let pull = pad.peer_query(&mut query)
            && query
                .has_scheduling_mode_with_flags(gst::PadMode::Pull, gst::SchedulingFlags::SEEKABLE);
        let mode = if pull {
            gst::PadMode::Pull
        } else {
            gst::PadMode::Push
        };
        pad.activate_mode(mode, true)?;
        Ok(())
    }

    fn sink_activate_mode<T>(
        &self,
        imp: &T,
        pad: &gst::Pad,
        mode: gst::PadMode,
        active: bool,
    ) -> Result<(), gst::LoggableError>
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        if !active {
            if mode == gst::PadMode::Pull {
                pad.stop_task()?;
            }
            *lock(&self.running) = None;
            return Ok(());
        }
        let pull = match mode {
            gst::PadMode::Pull => true,
            gst::PadMode::Push => false,
            _ => return Err(gst::loggable_error!(*CAT, "Unsupported pad mode")),
        };
        self.pull_mode.store(pull, Ordering::Relaxed);
        let format = imp.new_format();
        let running = if pull {
            let size = pad.peer_query_duration::<gst::format::Bytes>().map(|b| *b);
            Running {
                engine: Demuxer::new_pull(format, size),
                source: Some(PadSource {
                    pad: pad.clone(),
                    size,
                    spare: VecDeque::new(),
                    fill_supported: true,
                }),
                maker: BufferMaker::default(),
                avc: Vec::new(),
            }
        } else {
            Running {
                engine: Demuxer::new_push(format),
                source: None,
                maker: BufferMaker::default(),
                avc: Vec::new(),
            }
        };
        *lock(&self.running) = Some(running);
        {
            let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
            segment.set_start(gst::ClockTime::ZERO);
            lock(&self.streams).set_segment(segment, gst::Seqnum::next());
        }
        if pull {
            self.apply_pending_seek(imp.obj().upcast_ref());
            self.start_task(imp)
                .map_err(|e| gst::loggable_error!(*CAT, "Failed to start task: {}", e))?;
        }
        Ok(())
    }

    fn start_task<T>(&self, imp: &T) -> Result<(), gst::glib::BoolError>
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        // The element type itself is not known to be Send: go through
        // gst::Element and downcast in the task.
        let weak = imp.obj().upcast_ref::<gst::Element>().downgrade();
        self.sinkpad.start_task(move || {
            let Some(element) = weak.upgrade() else {
                return;
            };
            let Some(obj) = element.downcast_ref::<<T as ObjectSubclass>::Type>() else {
                return;
            };
            let imp = T::from_obj(obj);
            let adapter = imp.adapter();
            imp.catch_panic(
                || {
                    let _ = adapter.sinkpad.pause_task();
                },
                |imp| adapter.pull_loop(imp),
            );
        })
    }

    // ---- the streaming thread ---------------------------------------------

    /// Runs the engine under its lock until it has a batch of buffers or
    /// something that must be done outside the lock.
    fn collect(&self, until_need_data: bool) -> (Vec<Work>, Result<(), EngineError>) {
        let mut work = Vec::new();
        // Subtitle cues and telemetry JSON for a pad nobody linked are not
        // made at all (their text was a measurable share of the time); a
        // pad linked later gets the next one.
        let unlinked_subtitles: Vec<StreamId> = lock(&self.streams)
            .unlinked()
            .into_iter()
            .filter(|id| {
                use crate::engine::StreamKind::{Data, Subtitle};
                matches!(id.kind, Subtitle | Data)
            })
            .collect();
        let mut guard = lock(&self.running);
        let Some(running) = guard.as_mut() else {
            return (work, Err(EngineError::Source(SourceError::Flushing)));
        };
        running.engine.set_discarded(&unlinked_subtitles);
        loop {
            if !until_need_data && work.len() >= BATCH {
                return (work, Ok(()));
            }
            match running.next() {
                Ok(Event::Packet(packet)) => {
                    let stream = packet.stream;
                    let avc = running.avc.contains(&stream);
                    if let Some(buffer) = running.maker.buffer(packet, avc) {
                        work.push(Work::Push(stream, buffer));
                    }
                }
                Ok(Event::StreamsFound(infos)) => {
                    work.push(Work::Announce(infos, true));
                    return (work, Ok(()));
                }
                Ok(Event::NewStream(info)) => {
                    work.push(Work::Announce(vec![info], false));
                    return (work, Ok(()));
                }
                Ok(Event::NeedData) => return (work, Ok(())),
                Ok(Event::Eos) => {
                    work.push(Work::Eos);
                    return (work, Ok(()));
                }
                Err(e) => return (work, Err(e)),
            }
        }
    }

    fn pull_loop<T>(&self, imp: &T)
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let (work, result) = self.collect(false);
        let flow = self.dispatch(imp, work);
        let element = imp.obj().clone().upcast::<gst::Element>();
        match (flow, result) {
            (Ok(Dispatched::Continue), Ok(())) => {}
            (Ok(Dispatched::Ended), _) => {
                let _ = self.sinkpad.pause_task();
            }
            (Err(gst::FlowError::Eos), _) => {
                // Every downstream pad is at EOS (e.g. a stop position).
                self.finish(&element);
                let _ = self.sinkpad.pause_task();
            }
            (Err(gst::FlowError::Flushing), _)
            | (_, Err(EngineError::Source(SourceError::Flushing))) => {
                gst::debug!(CAT, obj = &element, "Pausing task: flushing");
                let _ = self.sinkpad.pause_task();
            }
            (Err(err), _) => {
                gst::debug!(CAT, obj = &element, "Pausing task: {:?}", err);
                if err != gst::FlowError::Flushing {
                    gst::element_error!(
                        element,
                        gst::StreamError::Failed,
                        (
                            "{}Playback stopped: {}",
                            present::file_prefix(&self.sinkpad),
                            present::flow_error_text(err)
                        ),
                        ["streaming stopped, reason {}", err]
                    );
                    self.send_eos();
                }
                let _ = self.sinkpad.pause_task();
            }
            (Ok(Dispatched::Continue), Err(err)) => {
                self.fail(&element, &err);
                let _ = self.sinkpad.pause_task();
            }
        }
    }

    fn fail(&self, element: &gst::Element, err: &EngineError) {
        let file = present::file_prefix(&self.sinkpad);
        element.post_error_message(error_message(err, &file));
        self.send_eos();
    }

    fn send_eos(&self) {
        let seqnum = lock(&self.streams).seqnum();
        OutputStreams::push_event_all(
            &self.streams,
            &gst::event::Eos::builder().seqnum(seqnum).build(),
        );
    }

    /// Does what the engine asked for, outside its lock.
    fn dispatch<T>(&self, imp: &T, work: Vec<Work>) -> Result<Dispatched, gst::FlowError>
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let element = imp.obj().clone().upcast::<gst::Element>();
        for item in work {
            match item {
                Work::Push(stream, buffer) => {
                    OutputStreams::push(&self.streams, stream, buffer)?;
                }
                Work::Announce(infos, discovery) => {
                    for info in infos {
                        self.add_stream(imp, &element, &info)?;
                    }
                    if discovery {
                        element.no_more_pads();
                        self.post_global_tags(&element);
                        self.update_duration(&element);
                    }
                }
                Work::Eos => {
                    self.finish(&element);
                    return Ok(Dispatched::Ended);
                }
            }
        }
        Ok(Dispatched::Continue)
    }

    fn add_stream<T>(
        &self,
        _imp: &T,
        element: &gst::Element,
        info: &StreamInfo,
    ) -> Result<(), gst::FlowError>
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let spec = StreamSpec {
            key: info.id,
            template: present::template_name(info.id.kind),
            pad_name: info.name.clone(),
            stream_id: present::stream_id_name(info),
            caps: present::caps(info),
            tags: present::tag_list(&info.tags),
            flags: present::stream_flags(info),
        };
        let mut avc = false;
        OutputStreams::add_stream_negotiated(
            &self.streams,
            element,
            spec,
            |builder| {
                builder
                    .event_function(|pad, parent, event| {
                        T::catch_panic_pad_function(
                            parent,
                            || false,
                            |imp| imp.adapter().src_event(imp, pad, event),
                        )
                    })
                    .query_function(|pad, parent, query| {
                        T::catch_panic_pad_function(
                            parent,
                            || false,
                            |imp| imp.adapter().src_query(imp, pad, query),
                        )
                    })
            },
            |pad| {
                let caps = present::negotiate_avc(pad, info)?;
                gst::debug!(CAT, obj = pad, "Downstream takes avc: {}", caps);
                avc = true;
                Some(caps)
            },
        )
        .map_err(|err| {
            element.post_error_message(err);
            gst::FlowError::Error
        })?;
        if avc && let Some(running) = lock(&self.running).as_mut() {
            running.avc.push(info.id);
        }
        Ok(())
    }

    fn post_global_tags(&self, element: &gst::Element) {
        let tags = lock(&self.running)
            .as_ref()
            .and_then(|r| r.engine.global_tags());
        if let Some(tags) = tags {
            let list = present::tag_list(&tags);
            let _ = element.post_message(gst::message::Tag::builder(list).src(element).build());
        }
    }

    /// Computes the duration in the streaming thread (reading the end of
    /// the input once) and tells the application.
    fn update_duration(&self, element: &gst::Element) {
        let duration = {
            let mut guard = lock(&self.running);
            let Some(running) = guard.as_mut() else {
                return;
            };
            match running.source.as_mut() {
                Some(src) => running.engine.duration(src),
                None => None,
            }
        };
        self.store_duration(element, duration.map(clock_time));
    }

    fn store_duration(&self, element: &gst::Element, duration: Option<gst::ClockTime>) {
        if duration.is_none() {
            return;
        }
        let changed = {
            let mut stored = lock(&self.duration);
            let changed = *stored != duration;
            *stored = duration;
            changed
        };
        if changed {
            let _ = element.post_message(
                gst::message::DurationChanged::builder()
                    .src(element)
                    .build(),
            );
        }
    }

    /// Posts the damage summary and sends EOS (or SEGMENT_DONE) on every pad.
    fn finish(&self, element: &gst::Element) {
        let (report, exact) = {
            let guard = lock(&self.running);
            let Some(running) = guard.as_ref() else {
                return;
            };
            (running.engine.report(), running.engine.exact_duration())
        };
        if self.pull_mode.load(Ordering::Relaxed) {
            self.store_duration(element, exact.map(clock_time));
        }
        if report.damage.any() {
            gst::element_warning!(
                element,
                gst::StreamError::Demux,
                (
                    "{}Damaged {} file: {}; kept {} intact units",
                    present::file_prefix(&self.sinkpad),
                    report.format,
                    report.damage.describe(),
                    report.units
                )
            );
        }
        if let Some(summary) = report.summary {
            gst::info!(CAT, obj = element, "{}", summary);
        }
        let segment_seek = lock(&self.streams)
            .segment()
            .flags()
            .contains(gst::SegmentFlags::SEGMENT);
        if segment_seek {
            OutputStreams::finish_segment(&self.streams, element);
        } else {
            OutputStreams::finish(&self.streams);
        }
    }

    // ---- push mode --------------------------------------------------------

    fn sink_chain<T>(
        &self,
        imp: &T,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError>
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let chunk = GstChunk::new(buffer).ok_or(gst::FlowError::Error)?;
        {
            let mut guard = lock(&self.running);
            let running = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
            running.engine.push_data(chunk);
        }
        self.drain_push(imp)
    }

    /// Push mode: handles everything the engine can do with the bytes it has.
    fn drain_push<T>(&self, imp: &T) -> Result<gst::FlowSuccess, gst::FlowError>
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let element = imp.obj().clone().upcast::<gst::Element>();
        loop {
            let (work, result) = self.collect(true);
            let done = work.is_empty() || !matches!(work.last(), Some(Work::Announce(..)));
            let flow = self.dispatch(imp, work);
            if let Err(err) = result {
                if err != EngineError::Source(SourceError::Flushing) {
                    self.fail(&element, &err);
                }
                return Err(gst::FlowError::Error);
            }
            match flow {
                Err(e) => return Err(e),
                // Downstream is done: so is upstream.
                Ok(Dispatched::Ended) => return Err(gst::FlowError::Eos),
                Ok(Dispatched::Continue) if done => return Ok(gst::FlowSuccess::Ok),
                Ok(Dispatched::Continue) => {}
            }
        }
    }

    fn sink_event<T>(&self, imp: &T, pad: &gst::Pad, event: gst::Event) -> bool
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let element = imp.obj().clone().upcast::<gst::Element>();
        match event.view() {
            gst::EventView::Eos(_) => {
                if let Some(running) = lock(&self.running).as_mut() {
                    running.engine.push_eos();
                }
                let _ = self.drain_push(imp);
                true
            }
            // The upstream BYTES segment means nothing downstream: our own
            // TIME segment goes out with the first buffer.
            gst::EventView::Segment(_) | gst::EventView::Caps(_) => true,
            gst::EventView::FlushStart(_) => {
                OutputStreams::begin_flush(&self.streams, event.seqnum());
                true
            }
            gst::EventView::FlushStop(_) => {
                if let Some(running) = lock(&self.running).as_mut() {
                    running.engine.push_flush();
                }
                OutputStreams::end_flush(&self.streams, event.seqnum());
                let mut streams = lock(&self.streams);
                let (segment, seqnum) = (streams.segment().clone(), streams.seqnum());
                streams.set_segment(segment, seqnum);
                true
            }
            // e.g. stream-start / tags from upstream: ours are sent per pad.
            _ if event.is_serialized() && event.is_sticky() => true,
            _ => gst::Pad::event_default(pad, Some(&element), event),
        }
    }

    // ---- source pads: events and queries -------------------------------

    fn src_event<T>(&self, imp: &T, pad: &gst::Pad, event: gst::Event) -> bool
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        match event.view() {
            gst::EventView::Seek(seek) => {
                if !self.pull_mode.load(Ordering::Relaxed) {
                    return self.sinkpad.push_event(event.clone());
                }
                // The same seek through another pad is done once.
                self.last_seek.handle(event.seqnum(), || {
                    let result = self.handle_seek(imp, seek);
                    if let Err(msg) = &result {
                        gst::warning!(CAT, imp = imp, "Seek refused: {}", msg);
                    }
                    result.is_ok()
                })
            }
            _ => gst::Pad::event_default(pad, Some(&*imp.obj()), event),
        }
    }

    fn src_query<T>(&self, imp: &T, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let pull = self.pull_mode.load(Ordering::Relaxed);
        let duration = *lock(&self.duration);
        OutputStreams::answer_time_query(&self.streams, query, pull, || duration)
            .unwrap_or_else(|| gst::Pad::query_default(pad, Some(&*imp.obj()), query))
    }

    // ---- seeking ---------------------------------------------------------------

    fn handle_seek<T>(&self, imp: &T, seek: &gst::event::Seek) -> Result<(), String>
    where
        T: DemuxElement<Format = F>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let element = imp.obj().clone().upcast::<gst::Element>();
        let key_unit = seek.flags().contains(gst::SeekFlags::KEY_UNIT);
        let target = super::seek::SeekTarget {
            element: &element,
            streams: &self.streams,
            task_pad: &self.sinkpad,
            upstream: Some(&self.sinkpad),
            duration: *lock(&self.duration),
        };
        let reposition = |segment: &mut gst::FormattedSegment<gst::ClockTime>| {
            let target = segment.start().unwrap_or_default().nseconds();
            let stop = segment.stop().map(|s| s.nseconds());
            let outcome = {
                let mut guard = lock(&self.running);
                match guard.as_mut() {
                    Some(Running {
                        engine,
                        source: Some(src),
                        ..
                    }) => engine.seek(src, target, stop).map_err(|e| e.to_string())?,
                    _ => return Err("not running".to_string()),
                }
            };
            gst::debug!(
                CAT,
                obj = &element,
                "Seek to {} restarts at byte {} (key units from {:?})",
                target,
                outcome.offset,
                outcome.key_pts
            );
            if key_unit
                && !outcome.past_end
                && let Some(key) = outcome.key_pts.map(clock_time)
                && key < segment.start().unwrap_or_default()
            {
                segment.set_start(key);
                segment.set_time(key);
                segment.set_position(key);
            }
            Ok(())
        };
        super::seek::perform(&target, seek, reposition, || {
            let _ = self.start_task(imp);
        })
    }
}
