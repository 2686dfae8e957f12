// SPDX-License-Identifier: MIT
//! The one GStreamer playback adapter (`pavsdemux`, `saysdemux`, `rf1src`):
//! it drives any [`Source`] of the GStreamer-free
//! [`engine`](crate::engine). For a demuxer it schedules the sink pad (pull
//! mode: a task reading with `get_range`; push mode: the chain function);
//! for a source element it runs a task of its own. It turns source events
//! into pads, buffers and messages, runs the seek protocol, and answers
//! queries. Elements keep only their settings (and, for sources, their
//! location).
//!
//! Locking: the engine lives in `running`, the pads in `streams`; neither
//! lock is held while pads are added, buffers or events are pushed, or
//! messages are posted. Queries read stored values only.

use super::present::{self, BufferMaker, GstChunk, clock_time};
use super::streams::{OutputStreams, StreamSpec, lock};
use crate::engine::{
    ByteDemux, ByteSource, EngineError, Format, Source, SourceError, SourceEvent, StreamId,
    StreamInfo, StreamKind,
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

/// What the adapter drives.
pub type DynSource = Box<dyn Source<Chunk = GstChunk> + Send>;

/// Implemented by the element's `imp` struct.
pub trait DemuxElement: ObjectSubclass + ElementImpl
where
    <Self as ObjectSubclass>::Type: IsA<gst::Element>,
{
    fn adapter(&self) -> &DemuxAdapter;
    /// A demuxer's source over its sink pad's bytes, with the current
    /// property values (see [`PadInput::demux`]). Elements without a sink
    /// pad are never asked.
    fn open_input(&self, _input: PadInput) -> Option<DynSource> {
        None
    }
    /// The last part of a stream's stream-id (decodebin orders streams of
    /// one type by it).
    fn stream_id(&self, info: &StreamInfo) -> String {
        present::stream_id_name(info)
    }
    /// The pad template a stream's pad is made from.
    fn template_name(&self, info: &StreamInfo) -> &'static str {
        present::template_name(info.id.kind)
    }
    /// A source element's source with the current settings, and the name
    /// messages give its input by ("<path>: "), opened on READY -> PAUSED.
    /// Demuxers (with a sink pad) are never asked.
    fn open_source(&self) -> Result<(DynSource, String), gst::ErrorMessage> {
        Err(gst::error_msg!(
            gst::CoreError::NotImplemented,
            ("No source")
        ))
    }
}

/// The element glue every element of the adapter shares; their
/// `ObjectImpl::constructed`, `ElementImpl::send_event` and
/// `ElementImpl::change_state` call these.
pub mod element {
    use super::*;

    /// Adds a demuxer's sink pad.
    pub fn constructed<T>(imp: &T)
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        if let Some(pad) = &imp.adapter().sinkpad {
            imp.obj().add_pad(pad).expect("add sink pad");
        }
    }

    /// Seeks before the start (and, for a source element, while it runs)
    /// go to the adapter; other events are handled as usual.
    pub fn send_event<T>(imp: &T, event: gst::Event) -> bool
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        match imp.adapter().send_event(imp, &event) {
            Some(handled) => handled,
            None => imp.parent_send_event(event),
        }
    }

    /// A source element answers the URI query with its URI handler's URI:
    /// that is what `gst_pad_create_stream_id` asks a source without a
    /// sink pad. Answered, every pad's stream id starts with the hash of
    /// the recording's URI; unanswered, each pad got a random prefix, and
    /// decodebin, which orders streams by their ids, put the tracks in a
    /// random order (playbin showed either). Other queries as usual.
    pub fn query<T>(imp: &T, query: &mut gst::QueryRef) -> bool
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element> + IsA<gst::URIHandler>,
    {
        if let gst::QueryViewMut::Uri(q) = query.view_mut()
            && let Some(uri) = imp.obj().upcast_ref::<gst::URIHandler>().uri()
        {
            q.set_uri(Some(uri.as_str()));
            return true;
        }
        imp.parent_query(query)
    }

    /// A source element opens its source on READY -> PAUSED (a demuxer
    /// does when its sink pad is activated); PAUSED -> READY (or a failed
    /// start) drops pads and state.
    pub fn change_state<T>(
        imp: &T,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError>
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        gst::trace!(CAT, imp = imp, "Changing state {:?}", transition);
        let adapter = imp.adapter();
        let element = imp.obj().clone().upcast::<gst::Element>();
        if transition == gst::StateChange::ReadyToPaused
            && adapter.sinkpad.is_none()
            && let Err(err) = imp
                .open_source()
                .and_then(|(source, name)| adapter.start(imp, source, name))
        {
            element.post_error_message(err);
            adapter.reset(&element);
            return Err(gst::StateChangeError);
        }
        let ret = imp.parent_change_state(transition);
        if transition == gst::StateChange::PausedToReady
            || (transition == gst::StateChange::ReadyToPaused && ret.is_err())
        {
            adapter.reset(&element);
        }
        ret
    }
}

/// The sink pad's bytes: random access (pull mode) or pushed.
pub struct PadInput(Option<PadSource>);

impl PadInput {
    /// `format` over these bytes.
    pub fn demux<F: Format + Send + 'static>(self, format: F) -> DynSource
    where
        F::Unit: Send,
        F::Timeline: Send,
    {
        match self.0 {
            Some(src) => Box::new(ByteDemux::pull(format, src)),
            None => Box::new(ByteDemux::<F, PadSource>::push(format)),
        }
    }
}

/// Random access through the sink pad, reusing read buffers that nobody
/// references any more (so steady-state reading does not ask the allocator
/// for fresh, zeroed pages every time).
pub struct PadSource {
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

struct Running {
    source: DynSource,
    maker: BufferMaker,
    /// Streams negotiated to length-prefixed output (`stream-format=avc`).
    avc: Vec<StreamId>,
}

/// What the streaming thread does once the engine lock is released.
enum Work {
    Push(StreamId, gst::Buffer),
    Announce(Vec<StreamInfo>, bool),
    Tags(Box<crate::engine::Tags>),
    /// The stream has nothing left after what was pushed before.
    End(StreamId),
    Eos,
}

/// Whether the streaming thread goes on after dispatching.
#[derive(Debug, PartialEq, Eq)]
enum Dispatched {
    Continue,
    /// EOS (or SEGMENT_DONE) was sent.
    Ended,
}

/// The playback adapter; one per element instance.
pub struct DemuxAdapter {
    /// A demuxer's sink pad (`None` for a source element).
    pub sinkpad: Option<gst::Pad>,
    /// The pad whose task streams: the sink pad, or for a source element a
    /// pad of its own (never added to the element: the stream pads do not
    /// exist yet when the task starts).
    task_pad: Mutex<Option<gst::Pad>>,
    running: Mutex<Option<Running>>,
    streams: Mutex<OutputStreams<StreamId>>,
    pull_mode: AtomicBool,
    /// Duration as computed by the streaming thread (queries read it).
    duration: Mutex<Option<gst::ClockTime>>,
    /// The last seek handled: it reaches the element once per linked pad.
    last_seek: super::seek::SeekOnce,
    /// A seek sent to the element before it runs (READY): applied when the
    /// task starts, before anything is output (so a muxer downstream
    /// never sees a flush). Used by `cctv convert --from/--to`.
    pending_seek: Mutex<Option<gst::Event>>,
    /// GAP events are due on pads whose stream starts later, before the
    /// next push (after the start and after each seek).
    gaps_due: AtomicBool,
    /// What messages name the input by, for a source element ("<path>: ").
    input_name: Mutex<String>,
}

impl DemuxAdapter {
    /// A demuxer's adapter: builds the sink pad from the element's "sink"
    /// template and wires it.
    pub fn new<T>(sink_template: &gst::PadTemplate) -> Self
    where
        T: DemuxElement,
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
        let mut adapter = Self::new_source();
        adapter.task_pad = Mutex::new(Some(sinkpad.clone()));
        adapter.sinkpad = Some(sinkpad);
        adapter
    }

    /// A source element's adapter (no sink pad): see [`DemuxAdapter::start`].
    pub fn new_source() -> Self {
        Self {
            sinkpad: None,
            task_pad: Mutex::new(None),
            running: Mutex::new(None),
            streams: Mutex::new(OutputStreams::default()),
            pull_mode: AtomicBool::new(false),
            duration: Mutex::new(None),
            last_seek: super::seek::SeekOnce::default(),
            pending_seek: Mutex::new(None),
            gaps_due: AtomicBool::new(false),
            input_name: Mutex::new(String::new()),
        }
    }

    /// Whether the element plays (between start and reset).
    pub fn is_running(&self) -> bool {
        lock(&self.running).is_some()
    }

    /// What a source element reads (its location) changes only while it
    /// is stopped.
    pub fn ensure_stopped(&self) -> Result<(), gst::glib::Error> {
        if self.is_running() {
            return Err(gst::glib::Error::new(
                gst::URIError::BadState,
                "Changing the location is not supported while playing",
            ));
        }
        Ok(())
    }

    /// The prefix that names the input in messages.
    fn input_prefix(&self) -> String {
        match &self.sinkpad {
            Some(pad) => present::file_prefix(pad),
            None => lock(&self.input_name).clone(),
        }
    }

    /// For the element's `send_event`. A TIME seek before the element runs
    /// is kept and applied when the task starts (as basesrc does); a seek
    /// sent to a running source element is handled as one from a pad.
    /// `None`: handle the event as usual.
    pub fn send_event<T>(&self, imp: &T, event: &gst::Event) -> Option<bool>
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let gst::EventView::Seek(seek) = event.view() else {
            return None;
        };
        if self.is_running() {
            return self
                .sinkpad
                .is_none()
                .then(|| self.seek_once(imp, event, seek));
        }
        let (rate, _, _, start, _, _) = seek.get();
        if rate <= 0.0 || start.format() != gst::Format::Time {
            return Some(false);
        }
        *lock(&self.pending_seek) = Some(event.clone());
        Some(true)
    }

    /// Applies a seek received before the start (task not running yet:
    /// nothing to flush).
    fn apply_pending_seek(&self, element: &gst::Element) {
        let Some(event) = lock(&self.pending_seek).take() else {
            return;
        };
        let gst::EventView::Seek(seek) = event.view() else {
            return;
        };
        let current = lock(&self.streams).segment().clone();
        let duration = *lock(&self.duration);
        let result = super::seek::validate(seek, &current, duration).and_then(|mut segment| {
            let outcome = self.reposition(element, seek, &mut segment);
            super::seek::commit(element, &self.streams, seek, segment, outcome.is_ok());
            outcome
        });
        if let Err(msg) = result {
            gst::warning!(CAT, obj = element, "Seek before start failed: {}", msg);
        }
    }

    /// Starts playing `source` (a source element, on READY -> PAUSED):
    /// `input_name` names it in messages. The pads are added by the
    /// streaming task, not here: pad-added and no-more-pads handlers
    /// (parsebin posting its stream collection, which decodebin3 handles
    /// under its input lock) must not run while this element's and its
    /// parents' state locks are held (playbin3 on a two-track `.rf1i`
    /// deadlocked before preroll now and then).
    pub fn start<T>(
        &self,
        imp: &T,
        source: DynSource,
        input_name: String,
    ) -> Result<(), gst::ErrorMessage>
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        *lock(&self.input_name) = input_name;
        self.begin(imp, source);
        let task_pad = gst::Pad::builder(gst::PadDirection::Src)
            .name("streaming-task")
            .build();
        *lock(&self.task_pad) = Some(task_pad);
        self.start_task(imp)
            .map_err(|e| gst::error_msg!(gst::CoreError::Thread, ("Failed to start task: {}", e)))
    }

    /// Installs `source` with a fresh segment, and applies a seek received
    /// before the start.
    fn begin<T>(&self, imp: &T, source: DynSource)
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let seekable = source.can_seek();
        // Known up front (indexed inputs): in place before any pad is added,
        // for pad-added handlers that ask.
        let known = source.exact_duration().map(clock_time);
        self.pull_mode.store(seekable, Ordering::Relaxed);
        *lock(&self.duration) = known;
        *lock(&self.running) = Some(Running {
            source,
            maker: BufferMaker::default(),
            avc: Vec::new(),
        });
        self.last_seek.reset();
        self.gaps_due.store(true, Ordering::Relaxed);
        {
            let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
            segment.set_start(gst::ClockTime::ZERO);
            if let Some(d) = known {
                segment.set_duration(d);
            }
            lock(&self.streams).set_segment(segment, gst::Seqnum::next());
        }
        if seekable {
            self.apply_pending_seek(imp.obj().upcast_ref());
        }
    }

    /// To be called from the element's `change_state` after chaining up on
    /// PAUSED -> READY (or a failed start): drops pads and state.
    pub fn reset(&self, element: &gst::Element) {
        if self.sinkpad.is_none() {
            // Not under the lock: the task takes it to pause itself.
            let pad = lock(&self.task_pad).take();
            if let Some(pad) = pad {
                let _ = pad.stop_task();
            }
        }
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
        T: DemuxElement,
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
        let input = PadInput(pull.then(|| {
            let size = pad.peer_query_duration::<gst::format::Bytes>().map(|b| *b);
            PadSource {
                pad: pad.clone(),
                size,
                spare: VecDeque::new(),
                fill_supported: true,
            }
        }));
        let source = imp
            .open_input(input)
            .ok_or_else(|| gst::loggable_error!(*CAT, "No source for the sink pad"))?;
        self.begin(imp, source);
        if pull {
            self.start_task(imp)
                .map_err(|e| gst::loggable_error!(*CAT, "Failed to start task: {}", e))?;
        }
        Ok(())
    }

    fn task_pad(&self) -> Option<gst::Pad> {
        lock(&self.task_pad).clone()
    }

    fn pause_task(&self) {
        if let Some(pad) = self.task_pad() {
            let _ = pad.pause_task();
        }
    }

    fn start_task<T>(&self, imp: &T) -> Result<(), gst::glib::BoolError>
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let Some(pad) = self.task_pad() else {
            return Ok(());
        };
        // The element type itself is not known to be Send: go through
        // gst::Element and downcast in the task.
        let weak = imp.obj().upcast_ref::<gst::Element>().downgrade();
        pad.start_task(move || {
            let Some(element) = weak.upgrade() else {
                return;
            };
            let Some(obj) = element.downcast_ref::<<T as ObjectSubclass>::Type>() else {
                return;
            };
            let imp = T::from_obj(obj);
            let adapter = imp.adapter();
            // A panic must not unwind into GStreamer's task thread (abort)
            // nor leave the element stuck: reported, streaming stops.
            imp.catch_panic(|| adapter.pause_task(), |imp| adapter.pull_loop(imp));
        })
    }

    // ---- the streaming thread ---------------------------------------------

    /// Runs the source under its lock until it has a batch of buffers or
    /// something that must be done outside the lock.
    fn collect(&self, until_need_data: bool) -> (Vec<Work>, Result<(), EngineError>) {
        let mut work = Vec::new();
        // Subtitle cues and telemetry JSON for a pad nobody linked are not
        // made at all (their text was a measurable share of the time); a
        // pad linked later gets the next one. Read before the engine lock
        // (never both at once).
        let (unlinked_subtitles, looping): (Vec<StreamId>, bool) = {
            let streams = lock(&self.streams);
            let unlinked = streams
                .unlinked()
                .into_iter()
                .filter(|id| matches!(id.kind, StreamKind::Subtitle | StreamKind::Data))
                .collect();
            let looping = streams
                .segment()
                .flags()
                .contains(gst::SegmentFlags::SEGMENT);
            (unlinked, looping)
        };
        let mut guard = lock(&self.running);
        let Some(running) = guard.as_mut() else {
            return (work, Err(EngineError::Source(SourceError::Flushing)));
        };
        running.source.set_discarded(&unlinked_subtitles);
        loop {
            if !until_need_data && work.len() >= BATCH {
                return (work, Ok(()));
            }
            match running.source.next() {
                Ok(SourceEvent::Packet(packet)) => {
                    let stream = packet.stream;
                    let avc = running.avc.contains(&stream);
                    if let Some(buffer) = running.maker.buffer(packet, avc) {
                        work.push(Work::Push(stream, buffer));
                    }
                }
                Ok(SourceEvent::StreamsFound(infos)) => {
                    work.push(Work::Announce(infos, true));
                    return (work, Ok(()));
                }
                Ok(SourceEvent::NewStream(info)) => {
                    work.push(Work::Announce(vec![info], false));
                    return (work, Ok(()));
                }
                Ok(SourceEvent::Tags(tags)) => work.push(Work::Tags(Box::new(tags))),
                // Ended streams end now, not with the last one: playbin3
                // (decodebin3, 1.22) showing two_tracks' `video`, which
                // ends 0.5 s before `lowres`, never reported the end of
                // playback otherwise. Not in a segment seek, whose playback
                // loops: there every stream waits for SEGMENT_DONE.
                Ok(SourceEvent::StreamEnd(id)) => {
                    if !looping {
                        work.push(Work::End(id));
                    }
                }
                Ok(SourceEvent::NeedData) => return (work, Ok(())),
                Ok(SourceEvent::End) => {
                    work.push(Work::Eos);
                    return (work, Ok(()));
                }
                Err(e) => return (work, Err(e)),
            }
        }
    }

    /// After a start or a seek: a pad whose stream continues later than
    /// the earliest one gets a GAP up to it, so its sink prerolls while the
    /// other pads fill their queues (and a pad with nothing left gets an
    /// open GAP). Without this, small queues on the early pad block the
    /// only streaming thread before the late pad ever prerolls. Only for
    /// sources that know where each stream continues.
    fn send_gaps(&self) {
        if !self.gaps_due.load(Ordering::Relaxed) {
            return;
        }
        let times = match lock(&self.running).as_ref() {
            Some(running) => running.source.next_times(),
            None => return,
        };
        // Due once the pads exist (the first pass of the task adds them).
        if times
            .first()
            .is_some_and(|(id, _)| !lock(&self.streams).has(*id))
        {
            return;
        }
        self.gaps_due.store(false, Ordering::Relaxed);
        if times.len() < 2 {
            return;
        }
        let Some(earliest) = times.iter().filter_map(|(_, t)| *t).min() else {
            return;
        };
        let start = lock(&self.streams).segment().start().unwrap_or_default();
        let from = clock_time(earliest).max(start);
        for (id, time) in times {
            if time == Some(earliest) {
                continue;
            }
            let duration = time.map(|t| clock_time(t).saturating_sub(from));
            if duration.is_some_and(|d| d.is_zero()) {
                continue;
            }
            OutputStreams::push_gap(&self.streams, id, from, duration);
        }
    }

    fn pull_loop<T>(&self, imp: &T)
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        self.send_gaps();
        let (work, result) = self.collect(false);
        let flow = self.dispatch(imp, work);
        let element = imp.obj().clone().upcast::<gst::Element>();
        match (flow, result) {
            (Ok(Dispatched::Continue), Ok(())) => {}
            (Ok(Dispatched::Ended), _) => self.pause_task(),
            (Err(gst::FlowError::Eos), _) => {
                // Every downstream pad is at EOS (e.g. a stop position).
                self.finish(&element);
                self.pause_task();
            }
            (Err(gst::FlowError::Flushing), _)
            | (_, Err(EngineError::Source(SourceError::Flushing))) => {
                gst::debug!(CAT, obj = &element, "Pausing task: flushing");
                self.pause_task();
            }
            (Err(err), _) => {
                gst::debug!(CAT, obj = &element, "Pausing task: {:?}", err);
                gst::element_error!(
                    element,
                    gst::StreamError::Failed,
                    (
                        "{}Playback stopped: {}",
                        self.input_prefix(),
                        present::flow_error_text(err)
                    ),
                    ["streaming stopped, reason {}", err]
                );
                self.send_eos();
                self.pause_task();
            }
            (Ok(Dispatched::Continue), Err(err)) => {
                self.fail(&element, &err);
                self.pause_task();
            }
        }
    }

    fn fail(&self, element: &gst::Element, err: &EngineError) {
        let file = self.input_prefix();
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

    /// Does what the source asked for, outside its lock.
    fn dispatch<T>(&self, imp: &T, work: Vec<Work>) -> Result<Dispatched, gst::FlowError>
    where
        T: DemuxElement,
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
                        self.update_duration(&element);
                    }
                }
                Work::Tags(tags) => {
                    let list = present::tag_list(&tags);
                    let _ = element
                        .post_message(gst::message::Tag::builder(list).src(&element).build());
                }
                Work::End(stream) => OutputStreams::finish_stream(&self.streams, stream),
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
        imp: &T,
        element: &gst::Element,
        info: &StreamInfo,
    ) -> Result<(), gst::FlowError>
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let spec = StreamSpec {
            key: info.id,
            template: imp.template_name(info),
            pad_name: info.name.clone(),
            stream_id: imp.stream_id(info),
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

    /// Computes the duration in the streaming thread (reading the end of
    /// the input once) and tells the application.
    fn update_duration(&self, element: &gst::Element) {
        let duration = {
            let mut guard = lock(&self.running);
            let Some(running) = guard.as_mut() else {
                return;
            };
            if !running.source.can_seek() {
                return;
            }
            running.source.duration()
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
            let mut guard = lock(&self.running);
            let Some(running) = guard.as_mut() else {
                return;
            };
            (
                running.source.take_report(),
                running.source.exact_duration(),
            )
        };
        if self.pull_mode.load(Ordering::Relaxed) {
            self.store_duration(element, exact.map(clock_time));
        }
        if report.any() {
            gst::element_warning!(
                element,
                gst::StreamError::Demux,
                (
                    "{}Damaged {} recording: {}; kept {} intact units",
                    self.input_prefix(),
                    report.format,
                    report.describe(),
                    report.units
                ),
                ["{}", report.describe_all()]
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
            // Last: a prerolling sink blocks on the GAP until PLAYING.
            self.preroll_idle_pads();
        } else {
            OutputStreams::finish(&self.streams);
        }
    }

    /// After SEGMENT_DONE (which does not preroll a sink): every pad of a
    /// source that tracks its streams' last times gets a GAP after what it
    /// played, so a pipeline waiting for preroll (e.g. after a seek to or
    /// past the end, where every buffer is clipped) completes its state
    /// change.
    fn preroll_idle_pads(&self) {
        let last = match lock(&self.running).as_ref() {
            Some(running) => running.source.last_times(),
            None => return,
        };
        let start = lock(&self.streams).segment().start().unwrap_or_default();
        for (id, last_time) in last {
            let at = last_time.map_or(start, |t| clock_time(t).max(start));
            OutputStreams::push_gap(&self.streams, id, at, None);
        }
    }

    // ---- push mode --------------------------------------------------------

    fn sink_chain<T>(
        &self,
        imp: &T,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError>
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let chunk = GstChunk::new(buffer).ok_or(gst::FlowError::Error)?;
        {
            let mut guard = lock(&self.running);
            let running = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
            running.source.push_data(chunk);
        }
        self.drain_push(imp)
    }

    /// Push mode: handles everything the source can do with the bytes it has.
    fn drain_push<T>(&self, imp: &T) -> Result<gst::FlowSuccess, gst::FlowError>
    where
        T: DemuxElement,
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
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let element = imp.obj().clone().upcast::<gst::Element>();
        match event.view() {
            gst::EventView::Eos(_) => {
                if let Some(running) = lock(&self.running).as_mut() {
                    running.source.push_eos();
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
                    running.source.push_flush();
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
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        match event.view() {
            gst::EventView::Seek(seek) => {
                if !self.pull_mode.load(Ordering::Relaxed) {
                    return match &self.sinkpad {
                        Some(sinkpad) => sinkpad.push_event(event.clone()),
                        None => false,
                    };
                }
                self.seek_once(imp, &event, seek)
            }
            _ => gst::Pad::event_default(pad, Some(&*imp.obj()), event),
        }
    }

    /// The same seek through another pad is done once.
    fn seek_once<T>(&self, imp: &T, event: &gst::Event, seek: &gst::event::Seek) -> bool
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        self.last_seek.handle(event.seqnum(), || {
            let result = self.handle_seek(imp, seek);
            if let Err(msg) = &result {
                gst::warning!(CAT, imp = imp, "Seek refused: {}", msg);
            }
            result.is_ok()
        })
    }

    fn src_query<T>(&self, imp: &T, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let pull = self.pull_mode.load(Ordering::Relaxed);
        let duration = *lock(&self.duration);
        if let Some(answered) =
            OutputStreams::answer_time_query(&self.streams, query, pull, || duration)
        {
            return answered;
        }
        if self.sinkpad.is_none() {
            // A source element: nothing upstream to ask.
            match query.view_mut() {
                gst::QueryViewMut::Latency(q) => {
                    q.set(false, gst::ClockTime::ZERO, gst::ClockTime::NONE);
                    return true;
                }
                gst::QueryViewMut::Scheduling(q) => {
                    q.set(gst::SchedulingFlags::SEQUENTIAL, 1, -1, 0);
                    q.add_scheduling_modes([gst::PadMode::Push]);
                    return true;
                }
                _ => {}
            }
        }
        gst::Pad::query_default(pad, Some(&*imp.obj()), query)
    }

    // ---- seeking ---------------------------------------------------------------

    fn handle_seek<T>(&self, imp: &T, seek: &gst::event::Seek) -> Result<(), String>
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let element = imp.obj().clone().upcast::<gst::Element>();
        let task_pad = self.task_pad().ok_or("not playing")?;
        let target = super::seek::SeekTarget {
            element: &element,
            streams: &self.streams,
            task_pad: &task_pad,
            upstream: self.sinkpad.as_ref(),
            duration: *lock(&self.duration),
        };
        super::seek::perform(
            &target,
            seek,
            |segment| self.reposition(&element, seek, segment),
            || {
                let _ = self.start_task(imp);
            },
        )
    }

    /// Positions the source for `segment` (the task is not running): every
    /// stream at its key unit at or before the start; with KEY_UNIT the
    /// segment snaps to the earliest of those key units.
    fn reposition(
        &self,
        element: &gst::Element,
        seek: &gst::event::Seek,
        segment: &mut gst::FormattedSegment<gst::ClockTime>,
    ) -> Result<(), String> {
        let key_unit = seek.flags().contains(gst::SeekFlags::KEY_UNIT);
        let target = segment.start().unwrap_or_default().nseconds();
        let stop = segment.stop().map(|s| s.nseconds());
        let outcome = match lock(&self.running).as_mut() {
            Some(running) => running
                .source
                .seek(target, stop)
                .map_err(|e| e.to_string())?,
            None => return Err("not running".to_string()),
        };
        gst::debug!(
            CAT,
            obj = element,
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
        self.gaps_due.store(true, Ordering::Relaxed);
        Ok(())
    }
}
