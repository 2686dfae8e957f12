// SPDX-License-Identifier: MIT
//! The demuxer core shared by `pavsdemux` and `saysdemux`: files that are a
//! sequence of self-describing units (blocks, chunks) with no index.
//!
//! The core owns everything that is not format specific: sink pad scheduling
//! (pull mode with a task, push mode with an adapter), reading with
//! zero-copy sub-buffers, resynchronisation over damage with one summary
//! WARNING, stream discovery before `no-more-pads`, seeking (an index of what
//! was read, bisection on unit times for unread regions, a forward scan when
//! times are not monotonic), queries and EOS. A [`Driver`] supplies the
//! format: parsing units, the timeline, and turning units into buffers.

use super::streams::{OutputStreams, StreamKey, StreamSpec};
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};

pub static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "cctvdemux",
        gst::DebugColorFlags::empty(),
        Some("CCTV demuxer core"),
    )
});

/// What a driver found at the start of some bytes.
#[derive(Debug)]
pub enum Parsed<U> {
    /// A valid unit of `len` bytes.
    Unit(U, usize),
    /// Known filler (e.g. zero padding) of this many bytes: skip silently.
    Skip(usize),
    /// This many bytes from here are needed to decide (bounded by the
    /// driver's maximum unit length).
    NeedMore(usize),
    /// Not a unit: resynchronise.
    Invalid,
}

/// The bytes of one unit: a range of a buffer that was read (pull mode: the
/// read window; push mode: what the adapter gave). Payloads are cut out as
/// sub-buffers sharing its memory.
pub struct UnitBytes {
    buffer: gst::Buffer,
    start: usize,
    len: usize,
}

impl UnitBytes {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A zero-copy sub-buffer of `range` (relative to the unit start).
    pub fn sub(&self, range: std::ops::Range<usize>) -> Option<gst::Buffer> {
        if range.start > range.end || range.end > self.len {
            return None;
        }
        self.buffer
            .copy_region(
                gst::BufferCopyFlags::MEMORY,
                self.start + range.start..self.start + range.end,
            )
            .ok()
    }
}

/// A buffer for one stream, produced by a driver.
pub struct Output {
    pub stream: StreamKey,
    pub buffer: gst::Buffer,
}

/// The format-specific part of a demuxer.
pub trait Driver: Send + 'static {
    type Unit: Send + 'static;
    /// Timeline state, saved in the seek index so that playback can resume
    /// from any key unit with the timestamps sequential playback gives.
    type Timeline: Clone + Send + 'static;

    /// Human-readable format name for messages, e.g. "PAVS (VMax .psf)".
    fn format_name(&self) -> &'static str;
    /// Length of a fixed file header at offset 0 (0 if none).
    fn file_header_len(&self) -> usize {
        0
    }
    fn parse_file_header(&mut self, _data: &[u8]) -> Result<(), String> {
        Ok(())
    }
    /// Upper bound of any unit's length: no read is ever larger.
    fn max_unit_len(&self) -> usize;
    fn parse_unit(&self, data: &[u8], at_eof: bool) -> Parsed<Self::Unit>;
    /// Offset (>= 1) of the next place in `data` where a unit may start;
    /// `data` starts at the rejected position.
    fn find_resync(&self, data: &[u8]) -> Option<usize>;
    /// Whether playback may start at this unit (a key frame).
    fn is_seek_point(&self, unit: &Self::Unit) -> bool;
    /// The stream a unit belongs to, if it produces output. Drivers note
    /// what they need for [`Driver::stream_spec`] here.
    fn stream_of(&mut self, unit: &Self::Unit) -> Option<StreamKey>;
    /// Every stream a unit produces output on (e.g. video plus its
    /// telemetry), each getting a pad. Defaults to [`Driver::stream_of`].
    fn streams_of(&mut self, unit: &Self::Unit) -> Vec<StreamKey> {
        self.stream_of(unit).into_iter().collect()
    }
    /// Whether a unit carries no time of its own (it takes the time of the
    /// units before it, e.g. a snapshot). Bisection and duration prediction
    /// step over such units instead of predicting their time.
    fn is_untimed(&self, _unit: &Self::Unit) -> bool {
        false
    }
    fn stream_spec(&self, key: StreamKey) -> Option<StreamSpec>;
    /// Called once the first units are known (discovery is over), before
    /// any of them gets a time.
    fn start_timeline(&mut self, first_units: &[&Self::Unit]);
    fn timeline(&self) -> Self::Timeline;
    fn set_timeline(&mut self, timeline: Self::Timeline);
    /// Gives `unit` its running time and advances the timeline.
    fn assign_time(&mut self, unit: &Self::Unit) -> Option<gst::ClockTime>;
    /// The running time `unit` would get if it directly followed the
    /// timeline `after`, and the timeline to restore right before it. `None`
    /// when that cannot be predicted (time went backwards): the core then
    /// scans forward instead of bisecting.
    fn predict(
        &self,
        after: &Self::Timeline,
        unit: &Self::Unit,
    ) -> Option<(gst::ClockTime, Self::Timeline)>;
    /// Turns a unit (its bytes are `data`, a sub-buffer of what was read)
    /// into output buffers. `pts` is what [`Driver::assign_time`] gave it.
    fn output(
        &mut self,
        unit: Self::Unit,
        pts: Option<gst::ClockTime>,
        data: &UnitBytes,
        discont: bool,
        out: &mut Vec<Output>,
    );
    /// Tags for the whole stream set, posted once pads exist.
    fn global_tags(&self) -> Option<gst::TagList> {
        None
    }
    /// Called at EOS: a last chance to post messages. `None` if nothing.
    fn summary(&self) -> Option<String> {
        None
    }
}

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

/// A "sometimes" source pad template for H.264 byte-stream access units.
pub fn h264_src_pad_template(name_template: &str) -> gst::PadTemplate {
    gst::PadTemplate::new(
        name_template,
        gst::PadDirection::Src,
        gst::PadPresence::Sometimes,
        &gst::Caps::builder("video/x-h264")
            .field("stream-format", "byte-stream")
            .field("alignment", "au")
            .build(),
    )
    .expect("valid source template")
}

/// Implemented by the element's `imp` struct so that pad functions can find
/// the core.
pub trait DemuxElement: ObjectSubclass + ElementImpl
where
    <Self as ObjectSubclass>::Type: IsA<gst::Element>,
{
    type Driver: Driver;
    fn core(&self) -> &DemuxCore<Self::Driver>;
    /// A fresh driver with the current property values.
    fn new_driver(&self) -> Self::Driver;
}

/// Bytes read per pull: large enough to amortise the call, small enough to
/// keep memory flat.
const READ_CHUNK: usize = 256 * 1024;
/// Read buffers kept for reuse once downstream has released their memory.
const RETIRED_WINDOWS: usize = 4;
/// Window scanned per step while resynchronising.
const RESYNC_WINDOW: usize = 64 * 1024;
/// Bytes of units looked at before pads are announced with no-more-pads.
const DISCOVERY_BYTES: u64 = 4 << 20;
/// Units looked at before pads are announced, whichever comes first.
const DISCOVERY_UNITS: usize = 2048;
/// Below this many bytes a bisection stops and scans forward.
const BISECT_MIN_SPAN: u64 = 512 * 1024;
/// How far a bisection probe looks for a valid unit.
const PROBE_SCAN_LIMIT: u64 = 4 << 20;

#[derive(Clone)]
struct IndexEntry<T> {
    offset: u64,
    pts: gst::ClockTime,
    timeline: T,
}

/// The end of the latest unit seen: its PTS plus the last step between
/// units (the best guess of its duration).
#[derive(Default, Debug, Clone, Copy)]
struct EndTracker {
    last: Option<gst::ClockTime>,
    step: Option<gst::ClockTime>,
}

impl EndTracker {
    fn note(&mut self, pts: gst::ClockTime) {
        if let Some(last) = self.last
            && pts > last
        {
            self.step = Some(pts - last);
        }
        self.last = Some(self.last.map_or(pts, |l| l.max(pts)));
    }

    fn end(&self) -> Option<gst::ClockTime> {
        Some(self.last? + self.step.unwrap_or_default())
    }
}

#[derive(Default, Debug, Clone, Copy)]
struct Damage {
    regions: u64,
    bytes: u64,
    first_offset: Option<u64>,
    /// Start of the region being skipped right now.
    open_since: Option<u64>,
    truncated_tail: bool,
}

impl Damage {
    fn open(&mut self, offset: u64) {
        if self.open_since.is_none() {
            self.open_since = Some(offset);
            self.first_offset.get_or_insert(offset);
        }
    }

    /// Closes the open region at `offset`; returns its start if there was one.
    fn close(&mut self, offset: u64) -> Option<u64> {
        let start = self.open_since.take()?;
        if offset > start {
            self.regions += 1;
            self.bytes += offset - start;
        }
        Some(start)
    }
}

/// A read-only window of the file (pull mode) kept mapped.
struct Window {
    offset: u64,
    map: gst::MappedBuffer<gst::buffer::Readable>,
}

impl Window {
    fn covers(&self, offset: u64, len: usize) -> bool {
        offset >= self.offset && offset + len as u64 <= self.offset + self.map.len() as u64
    }

    fn slice(&self, offset: u64) -> &[u8] {
        &self.map[(offset - self.offset) as usize..]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pull,
    Push,
}

struct Queued<U> {
    unit: U,
    data: UnitBytes,
    offset: u64,
    discont: bool,
}

struct State<D: Driver> {
    driver: D,
    mode: Mode,
    header_done: bool,
    /// Offset of the next unit (pull), or of the adapter's first byte (push).
    offset: u64,
    file_size: Option<u64>,
    window: Option<Window>,
    /// Earlier read buffers, reused when no sub-buffer holds them any more.
    retired: std::collections::VecDeque<gst::Buffer>,
    /// Whether upstream fills buffers we provide (filesrc does).
    fill_supported: bool,
    adapter: gst_base::UniqueAdapter,
    discovering: bool,
    discovered_bytes: u64,
    queued: Vec<Queued<D::Unit>>,
    damage: Damage,
    units: u64,
    /// Key units read in file order from the start, contiguously.
    index: Vec<IndexEntry<D::Timeline>>,
    /// The index covers everything before this offset.
    index_frontier: u64,
    index_complete: bool,
    /// End of the indexed region (exact duration once the index is complete).
    index_end: EndTracker,
    /// Whether sequential reading is at the index frontier (extends it).
    at_frontier: bool,
    discont: bool,
    duration: Option<gst::ClockTime>,
    segment_stop: Option<gst::ClockTime>,
    segment_flags: gst::SegmentFlags,
    eos_sent: bool,
}

impl<D: Driver> State<D> {
    fn new(driver: D, mode: Mode) -> Self {
        Self {
            driver,
            mode,
            header_done: false,
            offset: 0,
            file_size: None,
            window: None,
            retired: std::collections::VecDeque::new(),
            fill_supported: true,
            adapter: gst_base::UniqueAdapter::new(),
            discovering: true,
            discovered_bytes: 0,
            queued: Vec::new(),
            damage: Damage::default(),
            units: 0,
            index: Vec::new(),
            index_frontier: 0,
            index_complete: false,
            index_end: EndTracker::default(),
            at_frontier: true,
            discont: true,
            duration: None,
            segment_stop: None,
            segment_flags: gst::SegmentFlags::empty(),
            eos_sent: false,
        }
    }
}

/// Result of one step of the streaming loop.
enum Step {
    Continue,
    Eos,
}

/// The shared demuxer machinery; one per element instance.
pub struct DemuxCore<D: Driver> {
    pub sinkpad: gst::Pad,
    state: Mutex<Option<State<D>>>,
    pub streams: Mutex<OutputStreams>,
    /// Scheduling mode, readable without the state lock.
    pull_mode: std::sync::atomic::AtomicBool,
    hooks: Hooks,
}

impl<D: Driver> DemuxCore<D> {
    /// Builds the sink pad from the element's "sink" template and wires it.
    pub fn new<T>(sink_template: &gst::PadTemplate) -> Self
    where
        T: DemuxElement<Driver = D>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let sinkpad = gst::Pad::builder_from_template(sink_template)
            .activate_function(|pad, parent| {
                T::catch_panic_pad_function(
                    parent,
                    || Err(gst::loggable_error!(*CAT, "Panic activating sink pad")),
                    |imp| imp.core().sink_activate(pad),
                )
            })
            .activatemode_function(|pad, parent, mode, active| {
                T::catch_panic_pad_function(
                    parent,
                    || Err(gst::loggable_error!(*CAT, "Panic activating sink pad")),
                    |imp| imp.core().sink_activate_mode(imp, pad, mode, active),
                )
            })
            .chain_function(|_pad, parent, buffer| {
                T::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.core().sink_chain(imp, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                T::catch_panic_pad_function(
                    parent,
                    || false,
                    |imp| imp.core().sink_event(imp, pad, event),
                )
            })
            .build();
        Self {
            sinkpad,
            state: Mutex::new(None),
            streams: Mutex::new(OutputStreams::default()),
            pull_mode: std::sync::atomic::AtomicBool::new(false),
            hooks: Hooks::of::<T>(),
        }
    }

    fn element<T: DemuxElement<Driver = D>>(imp: &T) -> gst::Element
    where
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        imp.obj().clone().upcast()
    }

    /// To be called from the element's `change_state` after chaining up on
    /// PAUSED -> READY: drops pads and state.
    pub fn reset(&self, element: &gst::Element) {
        *self.state.lock().unwrap() = None;
        let mut streams = self.streams.lock().unwrap();
        streams.remove_all(element);
        *streams = OutputStreams::default();
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
        T: DemuxElement<Driver = D>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        if !active {
            if mode == gst::PadMode::Pull {
                pad.stop_task()?;
            }
            *self.state.lock().unwrap() = None;
            return Ok(());
        }
        let mode = match mode {
            gst::PadMode::Pull => Mode::Pull,
            gst::PadMode::Push => Mode::Push,
            _ => return Err(gst::loggable_error!(*CAT, "Unsupported pad mode")),
        };
        self.pull_mode
            .store(mode == Mode::Pull, std::sync::atomic::Ordering::Relaxed);
        let mut state = State::new(imp.new_driver(), mode);
        if mode == Mode::Pull {
            state.file_size = upstream_size(pad);
        }
        *self.state.lock().unwrap() = Some(state);
        {
            let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
            segment.set_start(gst::ClockTime::ZERO);
            let seqnum = gst::Seqnum::next();
            self.streams.lock().unwrap().set_segment(segment, seqnum);
        }
        if mode == Mode::Pull {
            self.start_task(&Self::element(imp))
                .map_err(|e| gst::loggable_error!(*CAT, "Failed to start task: {}", e))?;
        }
        Ok(())
    }

    fn start_task(&self, element: &gst::Element) -> Result<(), gst::glib::BoolError> {
        let weak = element.downgrade();
        let pull_loop = self.hooks.pull_loop;
        self.sinkpad.start_task(move || {
            if let Some(e) = weak.upgrade() {
                pull_loop(&e);
            }
        })
    }

    // ---- pull mode ---------------------------------------------------------

    fn pull_loop<T>(&self, imp: &T)
    where
        T: DemuxElement<Driver = D>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let element = Self::element(imp);
        let mut out = Vec::new();
        let step = {
            let mut guard = self.state.lock().unwrap();
            let Some(state) = guard.as_mut() else {
                let _ = self.sinkpad.pause_task();
                return;
            };
            self.pull_step(state, &element, &mut out)
        };
        let flow = self.push_outputs(&element, out);
        match (step, flow) {
            (Ok(Step::Continue), Ok(_)) => {}
            (Ok(Step::Eos), Ok(_))
            | (Err(gst::FlowError::Eos), _)
            | (_, Err(gst::FlowError::Eos)) => {
                self.finish(&element);
                let _ = self.sinkpad.pause_task();
            }
            (Err(err), _) | (_, Err(err)) => {
                gst::debug!(CAT, obj = &element, "Pausing task: {:?}", err);
                if err != gst::FlowError::Flushing {
                    gst::element_error!(
                        element,
                        gst::StreamError::Failed,
                        ("Internal data stream error"),
                        ["streaming stopped, reason {:?}", err]
                    );
                    OutputStreams::push_event_all(&self.streams, &gst::event::Eos::new());
                }
                let _ = self.sinkpad.pause_task();
            }
        }
    }

    /// Makes `[offset, offset + len)` available in the window, reading more
    /// if needed. Returns whether the file ends before `offset + len`.
    fn fill(&self, state: &mut State<D>, offset: u64, len: usize) -> Result<bool, gst::FlowError> {
        if state.window.as_ref().is_some_and(|w| w.covers(offset, len)) {
            return Ok(false);
        }
        let mut want = len.max(READ_CHUNK);
        if let Some(size) = state.file_size {
            if offset >= size {
                state.window = None;
                return Ok(true);
            }
            want = want.min((size - offset) as usize);
        }
        if let Some(old) = state.window.take() {
            state.retired.push_back(old.map.into_buffer());
            if state.retired.len() > RETIRED_WINDOWS {
                state.retired.pop_front();
            }
        }
        let buffer = match self.read_into_spare(state, offset, want) {
            Some(result) => result,
            None => self.sinkpad.pull_range(offset, want as u32),
        };
        let buffer = match buffer {
            Ok(b) => b,
            Err(gst::FlowError::Eos) => return Ok(true),
            Err(e) => return Err(e),
        };
        let map = buffer
            .into_mapped_buffer_readable()
            .map_err(|_| gst::FlowError::Error)?;
        let short = map.len() < len;
        state.window = Some(Window { offset, map });
        Ok(short)
    }

    /// Reads into a retired window whose memory nobody references any more,
    /// so that steady-state reading reuses a few buffers instead of asking
    /// the allocator for fresh (zeroed) pages every time. `None` when no
    /// spare fits or upstream cannot fill a given buffer.
    fn read_into_spare(
        &self,
        state: &mut State<D>,
        offset: u64,
        want: usize,
    ) -> Option<Result<gst::Buffer, gst::FlowError>> {
        if !state.fill_supported {
            return None;
        }
        let i = state
            .retired
            .iter()
            .position(|b| b.is_writable() && b.is_all_memory_writable() && b.maxsize() >= want)?;
        let mut buffer = state.retired.remove(i)?;
        let target = buffer.get_mut()?;
        target.set_size(want);
        match self.sinkpad.pull_range_fill(offset, target, want as u32) {
            Ok(()) => Some(Ok(buffer)),
            Err(gst::FlowError::Error) => {
                // Upstream handed back a buffer of its own: stop offering ours.
                state.fill_supported = false;
                None
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// Parses the unit at `offset`, reading as needed.
    fn parse_at(
        &self,
        state: &mut State<D>,
        offset: u64,
    ) -> Result<(Parsed<D::Unit>, bool), gst::FlowError> {
        let mut need = 16.min(state.driver.max_unit_len());
        loop {
            let eof = self.fill(state, offset, need)?;
            let data = state.window.as_ref().map_or(&[][..], |w| w.slice(offset));
            match state.driver.parse_unit(data, eof) {
                Parsed::NeedMore(n)
                    if !eof && n > data.len() && n <= state.driver.max_unit_len() =>
                {
                    need = n
                }
                Parsed::NeedMore(_) => return Ok((Parsed::Invalid, eof)),
                parsed => return Ok((parsed, eof)),
            }
        }
    }

    /// Finds the next offset after `from` where a unit may start, or `None`
    /// at the end of the file.
    fn resync_from(
        &self,
        state: &mut State<D>,
        from: u64,
        limit: Option<u64>,
    ) -> Result<Option<u64>, gst::FlowError> {
        let mut at = from;
        loop {
            if limit.is_some_and(|l| at >= l) {
                return Ok(None);
            }
            let eof = self.fill(state, at, RESYNC_WINDOW)?;
            let Some(window) = state.window.as_ref().filter(|w| w.covers(at, 1)) else {
                return Ok(None);
            };
            let data = window.slice(at);
            if let Some(k) = state.driver.find_resync(data) {
                return Ok(Some(at + k as u64));
            }
            if eof || data.len() < 16 {
                return Ok(None);
            }
            // Keep a margin so that a marker across the window end is found.
            at += (data.len() - 15) as u64;
        }
    }

    fn pull_step(
        &self,
        state: &mut State<D>,
        element: &gst::Element,
        out: &mut Vec<Output>,
    ) -> Result<Step, gst::FlowError> {
        if !state.header_done {
            self.read_file_header(state, element)?;
        }
        if state.eos_sent {
            return Ok(Step::Eos);
        }
        if state.file_size.is_some_and(|size| state.offset >= size) {
            return self.end_of_data(state, element, out);
        }
        let offset = state.offset;
        let (parsed, eof) = self.parse_at(state, offset)?;
        match parsed {
            Parsed::Unit(unit, len) => {
                if let Some(start) = state.damage.close(offset) {
                    gst::warning!(
                        CAT,
                        obj = element,
                        "Resynchronised: skipped {} bytes at {}",
                        offset - start,
                        start
                    );
                    state.discont = true;
                }
                let window = state.window.as_ref().expect("window holds the unit");
                let data = UnitBytes {
                    buffer: window.map.buffer_owned(),
                    start: (offset - window.offset) as usize,
                    len,
                };
                state.offset += len as u64;
                self.handle_unit(state, element, unit, data, offset, out)?;
            }
            Parsed::Skip(len) => state.offset += len.max(1) as u64,
            Parsed::Invalid => {
                if eof
                    && state.damage.open_since.is_none()
                    && offset < state.file_size.unwrap_or(u64::MAX)
                {
                    state.damage.truncated_tail = true;
                }
                state.damage.open(offset);
                match self.resync_from(state, offset, None)? {
                    Some(next) => state.offset = next,
                    None => {
                        let end = state.file_size.unwrap_or(offset);
                        state.damage.close(end.max(offset));
                        state.offset = end.max(offset);
                        return self.end_of_data(state, element, out);
                    }
                }
            }
            Parsed::NeedMore(_) => unreachable!("parse_at resolves NeedMore"),
        }
        if eof && state.file_size.is_some_and(|s| state.offset >= s) {
            return self.end_of_data(state, element, out);
        }
        Ok(Step::Continue)
    }

    fn read_file_header(
        &self,
        state: &mut State<D>,
        element: &gst::Element,
    ) -> Result<(), gst::FlowError> {
        let len = state.driver.file_header_len();
        if len > 0 {
            let short = self.fill(state, 0, len)?;
            let data = state.window.as_ref().map_or(&[][..], |w| w.slice(0));
            let result = if short {
                Err(format!("file is shorter than the {len}-byte header"))
            } else {
                state.driver.parse_file_header(&data[..len])
            };
            if let Err(msg) = result {
                gst::element_error!(
                    element,
                    gst::StreamError::WrongType,
                    ("Not a {} file: {}", state.driver.format_name(), msg)
                );
                return Err(gst::FlowError::Error);
            }
        }
        state.header_done = true;
        state.offset = len as u64;
        state.index_frontier = len as u64;
        Ok(())
    }

    /// Handles a parsed unit: queues it during discovery, else makes output.
    fn handle_unit(
        &self,
        state: &mut State<D>,
        element: &gst::Element,
        unit: D::Unit,
        data: UnitBytes,
        offset: u64,
        out: &mut Vec<Output>,
    ) -> Result<(), gst::FlowError> {
        state.units += 1;
        if state.discovering {
            state.discovered_bytes += data.len() as u64;
            let discont = std::mem::take(&mut state.discont);
            state.queued.push(Queued {
                unit,
                data,
                offset,
                discont,
            });
            if state.discovered_bytes >= DISCOVERY_BYTES || state.queued.len() >= DISCOVERY_UNITS {
                self.end_discovery(state, element, out)?;
            }
            return Ok(());
        }
        // A stream that first shows up after discovery still gets a pad.
        for key in state.driver.streams_of(&unit) {
            self.ensure_stream(state, element, key)?;
        }
        self.emit(state, unit, data, offset, out);
        Ok(())
    }

    fn emit(
        &self,
        state: &mut State<D>,
        unit: D::Unit,
        data: UnitBytes,
        offset: u64,
        out: &mut Vec<Output>,
    ) {
        let seek_point = state.driver.is_seek_point(&unit);
        let before = seek_point.then(|| state.driver.timeline());
        let pts = state.driver.assign_time(&unit);
        if state.at_frontier && offset >= state.index_frontier {
            if let Some(pts) = pts {
                state.index_end.note(pts);
            }
            if let (Some(timeline), Some(pts)) = (before, pts) {
                state.index.push(IndexEntry {
                    offset,
                    pts,
                    timeline,
                });
            }
            state.index_frontier = offset + data.len() as u64;
        }
        if let (Some(stop), Some(pts)) = (state.segment_stop, pts)
            && pts >= stop
        {
            state.eos_sent = true;
            return;
        }
        let discont = std::mem::take(&mut state.discont);
        state.driver.output(unit, pts, &data, discont, out);
    }

    /// Announces the streams found so far and releases the queued units.
    fn end_discovery(
        &self,
        state: &mut State<D>,
        element: &gst::Element,
        out: &mut Vec<Output>,
    ) -> Result<(), gst::FlowError> {
        state.discovering = false;
        let queued = std::mem::take(&mut state.queued);
        if queued.is_empty() {
            return Ok(());
        }
        {
            let units: Vec<&D::Unit> = queued.iter().map(|q| &q.unit).collect();
            let mut keys = Vec::new();
            for unit in &units {
                for key in state.driver.streams_of(unit) {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
            }
            state.driver.start_timeline(&units);
            for key in keys {
                self.ensure_stream(state, element, key)?;
            }
        }
        element.no_more_pads();
        if let Some(tags) = state.driver.global_tags() {
            let _ = element.post_message(gst::message::Tag::builder(tags).src(element).build());
        }
        for q in queued {
            state.discont |= q.discont;
            self.emit(state, q.unit, q.data, q.offset, out);
        }
        Ok(())
    }

    fn ensure_stream(
        &self,
        state: &State<D>,
        element: &gst::Element,
        key: StreamKey,
    ) -> Result<(), gst::FlowError> {
        let mut streams = self.streams.lock().unwrap();
        if streams.has(key) {
            return Ok(());
        }
        let Some(spec) = state.driver.stream_spec(key) else {
            return Ok(());
        };
        let Hooks {
            src_event,
            src_query,
            ..
        } = self.hooks;
        let result = streams.add_stream(element, spec, |builder| {
            builder.event_function(src_event).query_function(src_query)
        });
        result.map_err(|err| {
            element.post_error_message(err);
            gst::FlowError::Error
        })
    }

    fn end_of_data(
        &self,
        state: &mut State<D>,
        element: &gst::Element,
        out: &mut Vec<Output>,
    ) -> Result<Step, gst::FlowError> {
        if state.discovering {
            self.end_discovery(state, element, out)?;
        }
        if state.at_frontier {
            state.index_complete = true;
        }
        Ok(Step::Eos)
    }

    /// Posts the damage summary (or an error if nothing was found) and sends
    /// EOS on every pad.
    fn finish(&self, element: &gst::Element) {
        let (units, damage, name, summary, segment_done) = {
            let guard = self.state.lock().unwrap();
            let Some(state) = guard.as_ref() else { return };
            (
                state.units,
                state.damage,
                state.driver.format_name(),
                state.driver.summary(),
                state.segment_flags.contains(gst::SegmentFlags::SEGMENT),
            )
        };
        if units == 0 {
            gst::element_error!(
                element,
                gst::StreamError::WrongType,
                ("Not a {} file: no valid unit found", name),
                ["{} damaged bytes skipped", damage.bytes]
            );
            OutputStreams::push_event_all(&self.streams, &gst::event::Eos::new());
            return;
        }
        if damage.regions > 0 || damage.truncated_tail {
            gst::element_warning!(
                element,
                gst::StreamError::Demux,
                (
                    "Damaged {} file: skipped {} damaged region(s), {} bytes in total{}; kept {} intact units",
                    name,
                    damage.regions,
                    damage.bytes,
                    damage
                        .first_offset
                        .map(|o| format!(" (first at byte {o})"))
                        .unwrap_or_default(),
                    units
                ),
                ["truncated last unit: {}", damage.truncated_tail]
            );
        }
        if let Some(summary) = summary {
            gst::info!(CAT, obj = element, "{}", summary);
        }
        if segment_done {
            OutputStreams::finish_segment(&self.streams, element);
            return;
        }
        OutputStreams::finish(&self.streams);
    }

    fn push_outputs(
        &self,
        element: &gst::Element,
        out: Vec<Output>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut flow = Ok(gst::FlowSuccess::Ok);
        for o in out {
            flow = OutputStreams::push(&self.streams, o.stream, o.buffer);
            if let Err(err) = flow {
                gst::debug!(CAT, obj = element, "Push returned {:?}", err);
                return flow;
            }
        }
        flow
    }

    // ---- push mode --------------------------------------------------------

    fn sink_chain<T>(
        &self,
        imp: &T,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError>
    where
        T: DemuxElement<Driver = D>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let element = Self::element(imp);
        let mut out = Vec::new();
        let result = {
            let mut guard = self.state.lock().unwrap();
            let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
            state.adapter.push(buffer);
            self.drain_adapter(state, &element, false, &mut out)
        };
        let flow = self.push_outputs(&element, out);
        result?;
        flow
    }

    /// Parses whatever complete units the adapter holds.
    fn drain_adapter(
        &self,
        state: &mut State<D>,
        element: &gst::Element,
        eof: bool,
        out: &mut Vec<Output>,
    ) -> Result<(), gst::FlowError> {
        if !state.header_done {
            let len = state.driver.file_header_len();
            if state.adapter.available() < len && !eof {
                return Ok(());
            }
            let result = if len == 0 {
                Ok(())
            } else if state.adapter.available() < len {
                Err(format!("stream is shorter than the {len}-byte header"))
            } else {
                let map = state.adapter.map(len).map_err(|_| gst::FlowError::Error)?;
                let r = state.driver.parse_file_header(&map);
                drop(map);
                r
            };
            if let Err(msg) = result {
                gst::element_error!(
                    element,
                    gst::StreamError::WrongType,
                    ("Not a {} file: {}", state.driver.format_name(), msg)
                );
                return Err(gst::FlowError::Error);
            }
            state.adapter.flush(len);
            state.offset = len as u64;
            state.header_done = true;
        }
        while !state.eos_sent {
            let avail = state.adapter.available();
            if avail == 0 {
                break;
            }
            let offset = state.offset;
            let parsed = {
                let mut need = 16.min(avail);
                loop {
                    let map = state.adapter.map(need).map_err(|_| gst::FlowError::Error)?;
                    let at_end = eof && need == avail;
                    match state.driver.parse_unit(&map, at_end) {
                        Parsed::NeedMore(n) if n > need && n <= state.driver.max_unit_len() => {
                            if n > avail {
                                if eof && need < avail {
                                    // The stream ends first: let the driver
                                    // decide on everything that is left.
                                    need = avail;
                                    continue;
                                }
                                break None;
                            }
                            need = n;
                        }
                        Parsed::NeedMore(_) => break Some(Parsed::Invalid),
                        parsed => break Some(parsed),
                    }
                }
            };
            let parsed = match parsed {
                Some(p) => p,
                None if eof => {
                    if state.damage.open_since.is_none() {
                        state.damage.truncated_tail = true;
                    }
                    Parsed::Invalid
                }
                None => break,
            };
            match parsed {
                Parsed::Unit(unit, len) => {
                    if state.damage.close(offset).is_some() {
                        state.discont = true;
                    }
                    let buffer = state
                        .adapter
                        .take_buffer(len)
                        .map_err(|_| gst::FlowError::Error)?;
                    let data = UnitBytes {
                        buffer,
                        start: 0,
                        len,
                    };
                    state.offset += len as u64;
                    self.handle_unit(state, element, unit, data, offset, out)?;
                }
                Parsed::Skip(len) => {
                    let len = len.clamp(1, avail);
                    state.adapter.flush(len);
                    state.offset += len as u64;
                }
                Parsed::Invalid => {
                    state.damage.open(offset);
                    let scan = avail.min(RESYNC_WINDOW);
                    let skip = {
                        let map = state.adapter.map(scan).map_err(|_| gst::FlowError::Error)?;
                        match state.driver.find_resync(&map) {
                            Some(k) => k,
                            None if eof && scan == avail => avail,
                            // Keep a tail: a marker may straddle the edge.
                            None => scan.saturating_sub(15).max(1),
                        }
                    };
                    if skip >= avail && !eof {
                        break;
                    }
                    state.adapter.flush(skip);
                    state.offset += skip as u64;
                }
                Parsed::NeedMore(_) => unreachable!(),
            }
        }
        if eof {
            let end = state.offset;
            state.damage.close(end);
            if state.discovering {
                self.end_discovery(state, element, out)?;
            }
        }
        Ok(())
    }

    fn sink_event<T>(&self, imp: &T, pad: &gst::Pad, event: gst::Event) -> bool
    where
        T: DemuxElement<Driver = D>,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        let element = Self::element(imp);
        match event.view() {
            gst::EventView::Eos(_) => {
                let mut out = Vec::new();
                let result = {
                    let mut guard = self.state.lock().unwrap();
                    match guard.as_mut() {
                        Some(state) => self.drain_adapter(state, &element, true, &mut out),
                        None => Ok(()),
                    }
                };
                let _ = self.push_outputs(&element, out);
                if result.is_ok() {
                    self.finish(&element);
                }
                true
            }
            // The upstream BYTES segment means nothing downstream: our own
            // TIME segment goes out with the first buffer.
            gst::EventView::Segment(_) => true,
            gst::EventView::Caps(_) => true,
            gst::EventView::FlushStop(_) => {
                if let Some(state) = self.state.lock().unwrap().as_mut() {
                    state.adapter.clear();
                    state.discont = true;
                    state.eos_sent = false;
                }
                self.streams.lock().unwrap().reset_flow();
                OutputStreams::push_event_all(&self.streams, &event)
            }
            _ if event.is_serialized() && event.is_sticky() => {
                // e.g. stream-start / tags from upstream: ours are sent per pad.
                true
            }
            _ => gst::Pad::event_default(pad, Some(&element), event),
        }
    }

    // ---- source pads: events and queries -------------------------------

    fn src_event(&self, element: &gst::Element, pad: &gst::Pad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Seek(seek) => {
                if self.pull_mode.load(std::sync::atomic::Ordering::Relaxed) {
                    match self.handle_seek(element, seek) {
                        Ok(()) => true,
                        Err(msg) => {
                            gst::warning!(CAT, obj = element, "Seek failed: {}", msg);
                            false
                        }
                    }
                } else {
                    self.sinkpad.push_event(event)
                }
            }
            _ => gst::Pad::event_default(pad, Some(element), event),
        }
    }

    fn src_query(&self, element: &gst::Element, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        let pull = self.pull_mode.load(std::sync::atomic::Ordering::Relaxed);
        OutputStreams::answer_time_query(&self.streams, query, pull, || self.duration())
            .unwrap_or_else(|| gst::Pad::query_default(pad, Some(element), query))
    }

    /// Duration: exact once the index covers the whole file, else predicted
    /// from the last unit of the file.
    fn duration(&self) -> Option<gst::ClockTime> {
        // Queries can come from the streaming thread itself while it holds
        // the state (e.g. from a pad-added handler while pads are added):
        // wait a little, never forever.
        let mut guard = None;
        for _ in 0..50 {
            match self.state.try_lock() {
                Ok(g) => {
                    guard = Some(g);
                    break;
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(std::sync::TryLockError::Poisoned(_)) => return None,
            }
        }
        let mut guard = guard?;
        let state = guard.as_mut()?;
        if state.mode != Mode::Pull || state.discovering {
            return None;
        }
        if let Some(d) = state.duration {
            return Some(d);
        }
        let duration = if state.index_complete {
            state.index_end.end()
        } else {
            self.predict_end(state)
                .ok()
                .flatten()
                .or(state.index_end.end())
        };
        state.duration = duration;
        duration
    }

    /// Predicted end of the last unit in the file.
    fn predict_end(&self, state: &mut State<D>) -> Result<Option<gst::ClockTime>, gst::FlowError> {
        let Some(size) = state.file_size else {
            return Ok(None);
        };
        let Some(entry) = state.index.last().cloned() else {
            return Ok(None);
        };
        let mut back = (state.driver.max_unit_len() as u64)
            .min(1 << 20)
            .max(RESYNC_WINDOW as u64);
        while back <= size {
            let from = size - back;
            let mut at = from.max(entry.offset);
            let mut end = EndTracker::default();
            while let Some((offset, unit, len)) = self.probe_unit(state, at, Some(size))? {
                if let Some((pts, _)) = state.driver.predict(&entry.timeline, &unit) {
                    end.note(pts);
                }
                at = offset + len as u64;
            }
            if end.last.is_some() || from <= entry.offset {
                return Ok(end.end());
            }
            back *= 4;
        }
        Ok(None)
    }

    /// The first valid unit at or after `from` (before `limit`).
    fn probe_unit(
        &self,
        state: &mut State<D>,
        from: u64,
        limit: Option<u64>,
    ) -> Result<Option<(u64, D::Unit, usize)>, gst::FlowError> {
        let mut at = from;
        loop {
            if limit.is_some_and(|l| at >= l) {
                return Ok(None);
            }
            let (parsed, _) = self.parse_at(state, at)?;
            match parsed {
                Parsed::Unit(unit, len) => return Ok(Some((at, unit, len))),
                Parsed::Skip(len) => at += len.max(1) as u64,
                _ => match self.resync_from(state, at, limit)? {
                    Some(next) => at = next,
                    None => return Ok(None),
                },
            }
        }
    }

    // ---- seeking ---------------------------------------------------------------

    fn handle_seek(&self, element: &gst::Element, seek: &gst::event::Seek) -> Result<(), String> {
        let (rate, flags, start_type, start, stop_type, stop) = seek.get();
        if rate <= 0.0 {
            return Err("only forward playback is supported".into());
        }
        if start.format() != gst::Format::Time {
            return Err(format!("cannot seek in {:?}", start.format()));
        }
        let seqnum = seek.seqnum();
        let flush = flags.contains(gst::SeekFlags::FLUSH);
        if flush {
            let ev = gst::event::FlushStart::builder().seqnum(seqnum).build();
            self.sinkpad.push_event(ev.clone());
            OutputStreams::push_event_all(&self.streams, &ev);
        } else {
            let _ = self.sinkpad.pause_task();
        }
        let stream_lock = self.sinkpad.stream_lock();
        if flush {
            let ev = gst::event::FlushStop::builder(true).seqnum(seqnum).build();
            self.sinkpad.push_event(ev.clone());
            OutputStreams::push_event_all(&self.streams, &ev);
        }

        let mut segment = self.streams.lock().unwrap().segment().clone();
        let start: Option<gst::ClockTime> = start.try_into().ok().flatten();
        let stop: Option<gst::ClockTime> = stop.try_into().ok().flatten();
        let result = segment.do_seek(rate, flags, start_type, start, stop_type, stop);
        let outcome = result
            .ok_or_else(|| "invalid seek".to_string())
            .and_then(|_| {
                let mut guard = self.state.lock().unwrap();
                let state = guard.as_mut().ok_or("not running")?;
                let target = segment.start().unwrap_or_default();
                let point = self
                    .seek_point(state, element, target)
                    .map_err(|e| format!("{e:?}"))?;
                gst::debug!(
                    CAT,
                    obj = element,
                    "Seek to {} starts at byte {} ({:?})",
                    target,
                    point.offset,
                    point.pts
                );
                let key_unit = flags.contains(gst::SeekFlags::KEY_UNIT);
                if let (true, Some(pts)) = (key_unit, point.pts) {
                    segment.set_start(pts);
                    segment.set_time(pts);
                    segment.set_position(pts);
                }
                state.offset = point.offset;
                state.driver.set_timeline(point.timeline);
                state.at_frontier = point.offset <= state.index_frontier && point.known;
                state.discont = true;
                state.eos_sent = false;
                state.segment_stop = segment.stop();
                state.segment_flags = segment.flags();
                if state.discovering {
                    state.discovering = false;
                    state.queued.clear();
                }
                Ok(())
            });
        {
            let mut streams = self.streams.lock().unwrap();
            streams.reset_flow();
            if outcome.is_ok() {
                streams.set_segment(segment.clone(), seqnum);
            }
        }
        if outcome.is_ok() && flags.contains(gst::SeekFlags::SEGMENT) {
            let _ = element.post_message(
                gst::message::SegmentStart::builder(segment.start().unwrap_or_default())
                    .src(element)
                    .seqnum(seqnum)
                    .build(),
            );
        }
        drop(stream_lock);
        let _ = self.start_task(element);
        outcome
    }

    /// Where to start reading for running time `target`: the last seek point
    /// at or before it.
    fn seek_point(
        &self,
        state: &mut State<D>,
        element: &gst::Element,
        target: gst::ClockTime,
    ) -> Result<SeekPoint<D::Timeline>, gst::FlowError> {
        if !state.header_done {
            self.read_file_header(state, element)?;
        }
        if state.discovering {
            // Seek before preroll finished: discover first so the timeline
            // exists.
            let mut out = Vec::new();
            while state.discovering {
                if let Step::Eos = self.pull_step(state, element, &mut out)? {
                    break;
                }
            }
            state.index.clear();
            state.index_frontier = state.driver.file_header_len() as u64;
            state.index_complete = false;
            state.at_frontier = true;
            let first = state.driver.file_header_len() as u64;
            state.offset = first;
            state.window = None;
        }
        let beyond_index = state.index.last().is_none_or(|e| e.pts < target);
        if beyond_index && !state.index_complete {
            if let Some(point) = self.bisect(state, target)? {
                return Ok(point);
            }
            self.scan_index_to(state, target)?;
        }
        let idx = state
            .index
            .partition_point(|e| e.pts <= target)
            .saturating_sub(1);
        Ok(match state.index.get(idx) {
            Some(e) => SeekPoint {
                offset: e.offset,
                pts: Some(e.pts),
                timeline: e.timeline.clone(),
                known: true,
            },
            None => SeekPoint {
                offset: state.driver.file_header_len() as u64,
                pts: None,
                timeline: state.driver.timeline(),
                known: true,
            },
        })
    }

    /// Extends the index by reading forward from its frontier until a seek
    /// point after `target` (or the end) is known.
    fn scan_index_to(
        &self,
        state: &mut State<D>,
        target: gst::ClockTime,
    ) -> Result<(), gst::FlowError> {
        let saved_timeline = state.driver.timeline();
        let timeline = state
            .index
            .last()
            .map_or_else(|| saved_timeline.clone(), |e| e.timeline.clone());
        let mut at = state
            .index
            .last()
            .map_or(state.index_frontier, |e| e.offset);
        state.driver.set_timeline(timeline);
        let mut first = true;
        while let Some((offset, unit, len)) = self.probe_unit(state, at, state.file_size)? {
            let seek_point = state.driver.is_seek_point(&unit);
            let before = state.driver.timeline();
            let pts = state.driver.assign_time(&unit);
            at = offset + len as u64;
            if let (false, Some(pts)) = (first, pts) {
                state.index_end.note(pts);
            }
            if !first
                && seek_point
                && let Some(pts) = pts
            {
                state.index.push(IndexEntry {
                    offset,
                    pts,
                    timeline: before,
                });
                state.index_frontier = at;
                if pts > target {
                    break;
                }
            }
            first = false;
        }
        if state.index.last().is_none_or(|e| e.pts <= target) && state.probe_eof(at) {
            state.index_complete = true;
        }
        state.driver.set_timeline(saved_timeline);
        Ok(())
    }

    /// Bisects the unread part of the file on predicted running time. `None`
    /// when times there are not monotonic (or nothing can be predicted).
    fn bisect(
        &self,
        state: &mut State<D>,
        target: gst::ClockTime,
    ) -> Result<Option<SeekPoint<D::Timeline>>, gst::FlowError> {
        let Some(size) = state.file_size else {
            return Ok(None);
        };
        let Some(base) = state.index.last().cloned() else {
            return Ok(None);
        };
        let (mut lo, mut hi) = (base.offset, size);
        // Probes in offset order must give non-decreasing predicted times.
        let mut probes: Vec<(u64, gst::ClockTime)> = vec![(lo, base.pts)];
        while hi - lo > BISECT_MIN_SPAN {
            let mid = lo + (hi - lo) / 2;
            let limit = Some(hi.min(mid + PROBE_SCAN_LIMIT));
            let mut probe_at = mid;
            let probed = loop {
                match self.probe_unit(state, probe_at, limit)? {
                    Some((offset, unit, len)) if state.driver.is_untimed(&unit) => {
                        probe_at = offset + len as u64;
                    }
                    other => break other,
                }
            };
            let Some((offset, unit, _)) = probed else {
                hi = mid;
                continue;
            };
            let Some((pts, _)) = state.driver.predict(&base.timeline, &unit) else {
                return Ok(None);
            };
            let pos = probes.partition_point(|&(o, _)| o < offset);
            let ordered = (pos == 0 || probes[pos - 1].1 <= pts)
                && probes.get(pos).is_none_or(|p| pts <= p.1);
            if !ordered {
                return Ok(None);
            }
            probes.insert(pos, (offset, pts));
            if pts <= target {
                lo = offset;
            } else {
                hi = mid;
            }
        }
        // Scan [lo, ...) for the last seek point at or before the target.
        let mut at = lo;
        let mut best: Option<SeekPoint<D::Timeline>> = None;
        let mut last_pts = None;
        while let Some((offset, unit, len)) = self.probe_unit(state, at, Some(size))? {
            if state.driver.is_untimed(&unit) {
                at = offset + len as u64;
                continue;
            }
            let Some((pts, before)) = state.driver.predict(&base.timeline, &unit) else {
                return Ok(None);
            };
            if last_pts.is_some_and(|l| pts < l) {
                return Ok(None);
            }
            last_pts = Some(pts);
            if pts > target && best.is_some() {
                break;
            }
            if state.driver.is_seek_point(&unit) && (pts <= target || best.is_none()) {
                best = Some(SeekPoint {
                    offset,
                    pts: Some(pts),
                    timeline: before,
                    known: offset <= state.index_frontier,
                });
            }
            at = offset + len as u64;
        }
        Ok(best)
    }
}

struct SeekPoint<T> {
    offset: u64,
    pts: Option<gst::ClockTime>,
    timeline: T,
    /// Whether the index covers everything before this point.
    known: bool,
}

impl<D: Driver> State<D> {
    fn probe_eof(&self, at: u64) -> bool {
        self.file_size.is_some_and(|s| at >= s) || self.file_size.is_none()
    }
}

fn upstream_size(pad: &gst::Pad) -> Option<u64> {
    pad.peer_query_duration::<gst::format::Bytes>().map(|b| *b)
}

/// Entry points into the element, captured as plain function pointers when
/// the core is built, so that non-generic code can install pad functions and
/// restart the task.
#[derive(Clone, Copy)]
struct Hooks {
    src_event: fn(&gst::Pad, Option<&gst::Object>, gst::Event) -> bool,
    src_query: fn(&gst::Pad, Option<&gst::Object>, &mut gst::QueryRef) -> bool,
    pull_loop: fn(&gst::Element),
}

impl Hooks {
    fn of<T>() -> Self
    where
        T: DemuxElement,
        <T as ObjectSubclass>::Type: IsA<gst::Element>,
    {
        fn src_event<T>(pad: &gst::Pad, parent: Option<&gst::Object>, event: gst::Event) -> bool
        where
            T: DemuxElement,
            <T as ObjectSubclass>::Type: IsA<gst::Element>,
        {
            T::catch_panic_pad_function(
                parent,
                || false,
                |imp| {
                    imp.core()
                        .src_event(&imp.obj().clone().upcast(), pad, event)
                },
            )
        }
        fn src_query<T>(
            pad: &gst::Pad,
            parent: Option<&gst::Object>,
            query: &mut gst::QueryRef,
        ) -> bool
        where
            T: DemuxElement,
            <T as ObjectSubclass>::Type: IsA<gst::Element>,
        {
            T::catch_panic_pad_function(
                parent,
                || false,
                |imp| {
                    imp.core()
                        .src_query(&imp.obj().clone().upcast(), pad, query)
                },
            )
        }
        fn pull_loop<T>(element: &gst::Element)
        where
            T: DemuxElement,
            <T as ObjectSubclass>::Type: IsA<gst::Element>,
        {
            if let Some(obj) = element.downcast_ref::<<T as ObjectSubclass>::Type>() {
                let imp = T::from_obj(obj);
                imp.core().pull_loop(imp);
            }
        }
        Self {
            src_event: src_event::<T>,
            src_query: src_query::<T>,
            pull_loop: pull_loop::<T>,
        }
    }
}
