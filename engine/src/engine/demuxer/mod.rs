// SPDX-License-Identifier: MIT
//! The demuxer engine: one parse loop for pull and push input, resync with
//! one damage account, stream discovery, the running timeline, the seek
//! index and seeking. It knows nothing of any front end: it yields
//! [`Event`]s whose packets refer to the chunks that were read.

use super::bytes::{ByteSource, Chunk, Input, View};
use super::damage::Damage;
use super::error::{EngineError, Mismatch};
use super::format::{
    Format, Origin, Packet, PacketSink, Parsed, Part, Stamp, StreamId, StreamInfo, Tags, UnitData,
};
use super::index::{KeyEntry, SeekIndex};
use std::collections::VecDeque;

mod probe;
mod seek;
#[cfg(test)]
mod tests;

/// Window scanned per step while resynchronising.
const RESYNC_WINDOW: usize = 64 * 1024;
/// Bytes of units looked at before streams are announced.
const DISCOVERY_BYTES: u64 = 4 << 20;
/// Units looked at before streams are announced, whichever comes first.
const DISCOVERY_UNITS: usize = 2048;
/// Running times beyond this (about 146 years) are impossible: such a unit
/// is damage. Keeps every time convertible and sums from overflowing.
pub const MAX_RUNNING_TIME: u64 = 1 << 62;

/// What the engine has for its front end.
// Packets are the common case and move once: boxing them would cost an
// allocation per packet to save a few bytes on the rare other events.
#[allow(clippy::large_enum_variant)]
pub enum Event<C> {
    /// Discovery is over: these streams exist (GStreamer: add the pads,
    /// then no-more-pads). Comes once, before any packet.
    StreamsFound(Vec<StreamInfo>),
    /// A stream first seen after discovery.
    NewStream(StreamInfo),
    Packet(Packet<C>),
    /// Push input: more bytes (or the end of input) are needed.
    NeedData,
    /// No more packets: the end of input, or the stop position.
    Eos,
}

/// Where a seek restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeekOutcome {
    /// Running time of the earliest key unit that a stream restarts at
    /// (the position a KEY_UNIT seek snaps to); `None` from the start.
    pub key_pts: Option<u64>,
    /// Byte offset reading restarts at.
    pub offset: u64,
    /// The target is at or past the end: nothing follows.
    pub past_end: bool,
}

/// Counts for the closing report.
#[derive(Debug, Clone)]
pub struct Report {
    pub format: &'static str,
    pub units: u64,
    pub damage: Damage,
    pub summary: Option<String>,
}

struct Queued<U, C> {
    unit: U,
    data: UnitData<C>,
    offset: u64,
    /// The unit follows a hole.
    discont: bool,
}

/// A unit found by [`Demuxer::walk`].
struct Walked<U> {
    offset: u64,
    unit: U,
    len: usize,
    content_end: u64,
}

/// A parse result with the bytes it was made from.
type ParsedAt<U, C> = (Parsed<U>, View<C>);

/// A timed unit found while probing, with its predicted running time and
/// the timeline to restore right before it; or `Unpredictable` (time went
/// backwards there).
enum Probe<U, T> {
    Timed(Walked<U>, u64, T),
    Unpredictable,
    /// No unit before the limit.
    End,
}

/// Where the parse loop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The file header is not read yet.
    Header,
    /// Parsing the unit at `offset`.
    Units,
    /// Skipping damage: the resync scan continues at `from`.
    Resync { from: u64 },
    /// No more units: the end of data, the stop position, or a seek past
    /// the end (a seek or a push flush starts parsing again).
    Ended,
}

/// Where a resync scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resync {
    /// A unit may start at this offset.
    Found(u64),
    /// No start before the end of input (at this offset) or the limit.
    End(u64),
    /// Push input: more bytes are needed to scan on from this offset.
    NeedData(u64),
}

/// What timing and indexing a unit read in file order gave.
struct Timed {
    stamp: Option<Stamp>,
    key: bool,
    stream: Option<StreamId>,
}

/// The end of the input predicted from its tail (pull input, once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Prediction {
    NotYet,
    /// The tail could not be predicted (e.g. across a gap the timeline may
    /// compact): the end is not known.
    Unknown,
    End(u64),
}

impl Prediction {
    pub(super) fn end(self) -> Option<u64> {
        match self {
            Prediction::End(end) => Some(end),
            Prediction::NotYet | Prediction::Unknown => None,
        }
    }
}

/// Units held back while streams are discovered.
struct Discovery<U, C> {
    bytes: u64,
    queued: Vec<Queued<U, C>>,
}

/// Where to resume after a seek.
struct Plan<T> {
    offset: u64,
    timeline: T,
    key_pts: Option<u64>,
    /// The index covers everything before `offset` (reading extends it).
    known: bool,
}

pub struct Demuxer<F: Format, C: Chunk> {
    format: F,
    input: Input<C>,
    phase: Phase,
    /// Offset of the next unit.
    offset: u64,
    /// Content end of the last valid unit while the next one is unchecked.
    last_content_end: Option<u64>,
    /// `Some` until the streams are announced.
    discovery: Option<Discovery<F::Unit, C>>,
    outbox: VecDeque<Event<C>>,
    damage: Damage,
    units: u64,
    index: SeekIndex<F::Timeline>,
    /// Timeline right after discovery: resuming from the very start.
    initial_timeline: Option<F::Timeline>,
    /// Sequential reading is at the index frontier (extends it).
    at_frontier: bool,
    /// Running time at which output stops (exclusive).
    stop: Option<u64>,
    announced: Vec<StreamId>,
    /// Streams that have key units (decoding starts only at one).
    keyed: Vec<StreamId>,
    /// After a seek: streams whose units are dropped until their key unit.
    awaiting_key: Vec<StreamId>,
    /// Streams whose next packet is flagged discontinuous.
    pending_discont: Vec<StreamId>,
    /// The next unit follows a hole (before streams are announced).
    discont: bool,
    predicted_duration: Prediction,
    /// Streams the front end does not want (see [`Demuxer::set_discarded`]).
    discarded: Vec<StreamId>,
    /// Reused for each unit's packets.
    scratch: Vec<Packet<C>>,
    /// Discovery ends after this many bytes or units (see
    /// [`Demuxer::limit_discovery`]).
    discovery_limit: (u64, usize),
}

impl<F: Format, C: Chunk> Demuxer<F, C> {
    /// An engine reading with random access (`size` of the input if known).
    pub fn new_pull(format: F, size: Option<u64>) -> Self {
        Self::new(format, Input::pull(size))
    }

    /// An engine fed with [`Demuxer::push_data`].
    pub fn new_push(format: F) -> Self {
        Self::new(format, Input::push())
    }

    /// Ends stream discovery sooner than the default ([`DISCOVERY_BYTES`],
    /// [`DISCOVERY_UNITS`]): for a reader that needs the first packets of
    /// a recording's cameras, not every stream a long window could show
    /// (the case catalog, over hundreds of files). Call before the first
    /// [`Demuxer::next`]; limits are never raised above the defaults.
    pub fn limit_discovery(&mut self, bytes: u64, units: usize) {
        self.discovery_limit = (
            bytes.clamp(1, DISCOVERY_BYTES),
            units.clamp(1, DISCOVERY_UNITS),
        );
    }

    fn new(format: F, input: Input<C>) -> Self {
        Self {
            format,
            input,
            phase: Phase::Header,
            offset: 0,
            last_content_end: None,
            discovery: Some(Discovery {
                bytes: 0,
                queued: Vec::new(),
            }),
            outbox: VecDeque::new(),
            damage: Damage::default(),
            units: 0,
            index: SeekIndex::new(0),
            initial_timeline: None,
            at_frontier: true,
            stop: None,
            announced: Vec::new(),
            keyed: Vec::new(),
            awaiting_key: Vec::new(),
            pending_discont: Vec::new(),
            discont: true,
            predicted_duration: Prediction::NotYet,
            discarded: Vec::new(),
            scratch: Vec::new(),
            discovery_limit: (DISCOVERY_BYTES, DISCOVERY_UNITS),
        }
    }

    pub fn format(&self) -> &F {
        &self.format
    }

    pub fn is_pull(&self) -> bool {
        self.input.is_pull()
    }

    /// Whether streams have been announced.
    pub fn discovered(&self) -> bool {
        self.discovery.is_none()
    }

    pub fn global_tags(&self) -> Option<Tags> {
        self.format.global_tags()
    }

    pub fn report(&self) -> Report {
        Report {
            format: self.format.name(),
            units: self.units,
            damage: self.damage,
            summary: self.format.summary(),
        }
    }

    /// Streams whose packets the front end does not want (e.g. a subtitle
    /// pad linked to nothing): they are not made at all. Their pending
    /// discontinuity stays for the first packet made once wanted again.
    pub fn set_discarded(&mut self, streams: &[StreamId]) {
        if self.discarded != streams {
            self.discarded = streams.to_vec();
        }
    }

    /// Approximate heap bytes held by the seek index.
    pub fn index_heap_bytes(&self) -> usize {
        self.index.heap_bytes()
    }

    // ---- push input --------------------------------------------------------

    pub fn push_data(&mut self, chunk: C) {
        self.input.push_chunk(chunk);
    }

    pub fn push_eos(&mut self) {
        self.input.set_eos();
    }

    /// Push input after a flush: the bytes that follow start a new stretch
    /// of the stream at an unknown offset.
    pub fn push_flush(&mut self) {
        self.input.reset_push(self.offset);
        if self.phase != Phase::Header {
            self.phase = Phase::Units;
        }
        self.last_content_end = None;
        self.outbox.retain(|e| !matches!(e, Event::Packet(_)));
        self.mark_discont();
    }

    // ---- the parse loop ----------------------------------------------------

    /// The next event. Errors: the input is not this format, or reading
    /// failed. After [`Event::Eos`], further calls return `Eos` again.
    pub fn next<S: ByteSource<Chunk = C>>(&mut self, src: &mut S) -> Result<Event<C>, EngineError> {
        loop {
            if let Some(event) = self.outbox.pop_front() {
                return Ok(event);
            }
            if self.phase == Phase::Ended {
                if self.units == 0 {
                    return Err(EngineError::NotThisFormat {
                        format: self.format.name(),
                        why: Mismatch::NoValidUnit {
                            after_header: self.format.file_header_len() > 0,
                        },
                    });
                }
                return Ok(Event::Eos);
            }
            if !self.step(src)? {
                return Ok(Event::NeedData);
            }
        }
    }

    /// One step; `false` when push input needs more bytes.
    pub(super) fn step<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
    ) -> Result<bool, EngineError> {
        if self.phase == Phase::Header && !self.read_header(src)? {
            return Ok(false);
        }
        if let Phase::Resync { from } = self.phase {
            return self.resync_step(src, from);
        }
        if self.input.size().is_some_and(|size| self.offset >= size) {
            self.end_of_data();
            return Ok(true);
        }
        let keep = self
            .last_content_end
            .map_or(self.offset, |c| c.saturating_sub(1).min(self.offset));
        self.input.release_before(keep);
        let offset = self.offset;
        let Some((parsed, view)) = self.parse_at(src, offset)? else {
            return Ok(false);
        };
        match parsed {
            Parsed::Unit(unit, len) => {
                self.damage.not_cut_short();
                if self.damage.close(offset) {
                    self.mark_discont();
                }
                let content = self.format.content_len(&unit, len).clamp(1, len);
                self.last_content_end = Some(offset + content as u64);
                self.offset = offset + len as u64;
                let data = UnitData {
                    chunk: view.chunk,
                    range: view.range.start..view.range.start + len,
                };
                self.handle_unit(unit, data, offset, len);
            }
            Parsed::Skip(len) => {
                let len = len.clamp(1, view.range.len().max(1));
                self.offset = offset + len as u64;
            }
            Parsed::Invalid => {
                if view.range.is_empty() && view.eof {
                    self.damage.close(offset);
                    self.end_of_data();
                    return Ok(true);
                }
                // A unit that claims more bytes than the input has left is
                // the last one cut short only if no valid unit follows
                // (damage in the middle of a small file also reaches the
                // end of what was read).
                if view.eof && self.claims_past_end(view.data()) {
                    self.damage.maybe_cut_short(offset);
                }
                self.damage.open(offset);
                // Search from the end of the last valid content: a unit
                // shorter than it claimed hides its successor there.
                let from = match self.last_content_end.take() {
                    Some(end) if end <= offset => end - 1,
                    _ => offset,
                };
                self.phase = Phase::Resync { from };
            }
            Parsed::NeedMore(_) => unreachable!("parse_at resolves NeedMore"),
        }
        Ok(true)
    }

    pub(super) fn read_header<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
    ) -> Result<bool, EngineError> {
        let len = self.format.file_header_len();
        if len > 0 {
            let Some(view) = self.input.view(src, 0, len)? else {
                return Ok(false);
            };
            let data = view.data();
            let result = if data.len() < len {
                Err(Mismatch::ShortHeader { len })
            } else {
                self.format
                    .parse_file_header(&data[..len])
                    .map_err(Mismatch::Header)
            };
            if let Err(why) = result {
                return Err(EngineError::NotThisFormat {
                    format: self.format.name(),
                    why,
                });
            }
        }
        self.phase = Phase::Units;
        self.offset = len as u64;
        self.index.clear(len as u64);
        Ok(true)
    }

    /// Parses the unit at `offset`, reading as needed. `None`: push input
    /// needs more bytes.
    pub(super) fn parse_at<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        offset: u64,
    ) -> Result<Option<ParsedAt<F::Unit, C>>, EngineError> {
        let max = self.format.max_unit_len();
        let mut need = 16.min(max);
        loop {
            let Some(view) = self.input.view(src, offset, need)? else {
                return Ok(None);
            };
            let data = view.data();
            let parsed = match self.format.parse_unit(data, view.eof) {
                Parsed::NeedMore(n) if !view.eof && n > data.len() && n <= max => {
                    need = n;
                    continue;
                }
                Parsed::NeedMore(_) => Parsed::Invalid,
                Parsed::Unit(_, len) if len == 0 || len > data.len() => Parsed::Invalid,
                parsed => parsed,
            };
            #[cfg(debug_assertions)]
            self.assert_verdict_on_asked_bytes(offset, data, view.eof, &parsed);
            return Ok(Some((parsed, view)));
        }
    }

    /// Debug builds: the format's verdict on a view must be the one it
    /// gives when handed exactly the bytes it asks for (fewer only at the
    /// end of the input). A view holds however many bytes the last read
    /// (pull) or the pieces (push) left after the offset; a verdict that
    /// depends on bytes the format did not ask for makes pull and push
    /// read the same input differently (fuzz: says_engine
    /// push-pull-disagree-df436355). Skips may differ in length: skipping
    /// goes on at the next offset either way.
    #[cfg(debug_assertions)]
    fn assert_verdict_on_asked_bytes(
        &self,
        offset: u64,
        data: &[u8],
        eof: bool,
        verdict: &Parsed<F::Unit>,
    ) {
        let max = self.format.max_unit_len();
        let mut need = 16.min(max);
        let exact = loop {
            let n = need.min(data.len());
            let at_eof = eof && n == data.len();
            match self.format.parse_unit(&data[..n], at_eof) {
                // At the view's length the call is the one just made: the
                // loop ends there.
                Parsed::NeedMore(more) if n < data.len() && more > n && more <= max => {
                    need = more;
                }
                Parsed::NeedMore(_) => break Parsed::Invalid,
                Parsed::Unit(_, len) if len == 0 || len > n => break Parsed::Invalid,
                parsed => break parsed,
            }
        };
        let same = match (verdict, &exact) {
            (Parsed::Unit(_, a), Parsed::Unit(_, b)) => a == b,
            (Parsed::Skip(_), Parsed::Skip(_)) | (Parsed::Invalid, Parsed::Invalid) => true,
            _ => false,
        };
        assert!(
            same,
            "{}: the verdict at offset {offset} on {} bytes ({}) is not the one on the bytes \
             asked for ({})",
            self.format.name(),
            data.len(),
            verdict_name(verdict),
            verdict_name(&exact),
        );
    }

    /// Scans for the next place a unit may start. `false`: push input needs
    /// more bytes (progress is kept).
    fn resync_step<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        from: u64,
    ) -> Result<bool, EngineError> {
        match self.scan_resync(src, from, None)? {
            Resync::Found(next) => {
                self.phase = Phase::Units;
                self.offset = next;
            }
            Resync::NeedData(at) => {
                self.phase = Phase::Resync { from: at };
                return Ok(false);
            }
            Resync::End(end) => {
                self.damage.close(end);
                self.phase = Phase::Units;
                self.offset = end;
                self.end_of_data();
            }
        }
        Ok(true)
    }

    /// The one resync scan (reading and probes): the next place at or
    /// after `from + 1` where a unit may start, before `limit`. Windows of
    /// [`RESYNC_WINDOW`] overlap by the format's
    /// [`Format::resync_margin`], so a start across a window's end is
    /// found in the next one. Push input drops what was scanned.
    pub(super) fn scan_resync<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        from: u64,
        limit: Option<u64>,
    ) -> Result<Resync, EngineError> {
        let margin = self.format.resync_margin().max(1);
        let mut at = from;
        loop {
            if limit.is_some_and(|l| at >= l) {
                return Ok(Resync::End(at));
            }
            self.input.release_before(at);
            let Some(view) = self.input.view(src, at, RESYNC_WINDOW)? else {
                return Ok(Resync::NeedData(at));
            };
            let data = view.data();
            if let Some(k) = self.format.find_resync(data) {
                return Ok(Resync::Found(at + k.max(1) as u64));
            }
            if view.eof || data.len() <= margin {
                return Ok(Resync::End(at + data.len() as u64));
            }
            at += (data.len() - margin) as u64;
        }
    }

    pub(super) fn mark_discont(&mut self) {
        self.discont = true;
        self.pending_discont = self.announced.clone();
    }

    fn handle_unit(&mut self, unit: F::Unit, data: UnitData<C>, offset: u64, len: usize) {
        self.units += 1;
        self.format.note(&unit);
        if let Some(discovery) = &mut self.discovery {
            discovery.bytes += len as u64;
            let discont = std::mem::take(&mut self.discont);
            discovery.queued.push(Queued {
                unit,
                data,
                offset,
                discont,
            });
            if discovery.bytes >= self.discovery_limit.0
                || discovery.queued.len() >= self.discovery_limit.1
            {
                self.end_discovery();
            }
            return;
        }
        for id in self.format.streams_of(&unit) {
            if !self.announced.contains(&id)
                && let Some(info) = self.format.stream_info(id)
            {
                self.announced.push(id);
                self.outbox.push_back(Event::NewStream(info));
            }
        }
        let hole = std::mem::take(&mut self.discont);
        self.emit(unit, data, offset, len, hole);
    }

    /// Announces the streams found so far and releases the queued units.
    fn end_discovery(&mut self) {
        let Some(Discovery { queued, .. }) = self.discovery.take() else {
            return;
        };
        let mut ids: Vec<StreamId> = Vec::new();
        for q in &queued {
            for id in self.format.streams_of(&q.unit) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        // By number (camera, then its streams in their kind's order), not in
        // file order: front ends add pads in this order and playbin3
        // (decodebin3) shows the first video of the collection, so camera 9
        // comes before camera 10 whichever the file starts with.
        ids.sort_unstable_by_key(|id| (id.number, id.kind));
        let units: Vec<&F::Unit> = queued.iter().map(|q| &q.unit).collect();
        self.format.start_timeline(&units);
        let timeline = self.format.timeline();
        self.index
            .add_snapshot(self.index.frontier, timeline.clone());
        self.initial_timeline = Some(timeline);
        let infos: Vec<StreamInfo> = ids
            .iter()
            .filter_map(|&id| self.format.stream_info(id))
            .collect();
        self.announced = infos.iter().map(|i| i.id).collect();
        if !queued.is_empty() {
            self.outbox.push_back(Event::StreamsFound(infos));
        }
        self.pending_discont = self.announced.clone();
        for q in queued {
            let len = q.data.len();
            self.emit(q.unit, q.data, q.offset, len, q.discont);
        }
    }

    /// The one index bookkeeping (reading, and the index scan of a seek):
    /// gives a unit read in file order its time and, when `indexing` (at
    /// the frontier), takes a timeline snapshot when due (at key units),
    /// moves the frontier past it, and notes its stream's end and key
    /// entry. `None`: its time is beyond [`MAX_RUNNING_TIME`] (damage, not
    /// indexed).
    fn time_and_index(
        &mut self,
        unit: &F::Unit,
        offset: u64,
        len: usize,
        indexing: bool,
    ) -> Option<Timed> {
        let key = self.format.is_seek_point(unit);
        let stream = self.format.stream_of(unit);
        if indexing && key && self.index.wants_snapshot(offset) {
            self.index.add_snapshot(offset, self.format.timeline());
        }
        let stamp = self.format.assign_time(unit);
        if indexing {
            self.index.frontier = offset + len as u64;
        }
        if stamp.is_some_and(|s| s.pts > MAX_RUNNING_TIME) {
            return None;
        }
        if indexing && let Some(s) = stamp {
            let timing = self.format.timing_stream(unit);
            let duration = self.format.unit_duration(unit);
            self.index.end.note_unit(timing, s.pts, duration);
            if key && let Some(stream) = stream {
                self.index.push(KeyEntry {
                    offset,
                    pts: s.pts,
                    stream,
                });
            }
        }
        if key
            && let Some(s) = stream
            && !self.keyed.contains(&s)
        {
            self.keyed.push(s);
        }
        Some(Timed { stamp, key, stream })
    }

    /// Times a unit, indexes it, and makes its packets. `hole`: it follows
    /// skipped damage.
    fn emit(&mut self, unit: F::Unit, data: UnitData<C>, offset: u64, len: usize, hole: bool) {
        let indexing = self.at_frontier && offset >= self.index.frontier;
        let Some(Timed { stamp, key, stream }) = self.time_and_index(&unit, offset, len, indexing)
        else {
            self.damage.bad_times += 1;
            return;
        };
        let pts = stamp.map(|s| s.pts);
        if let (Some(stop), Some(p)) = (self.stop, pts)
            && p >= stop
        {
            self.phase = Phase::Ended;
            return;
        }
        if let Some(s) = stream
            && let Some(i) = self.awaiting_key.iter().position(|&w| w == s)
        {
            if !key {
                return;
            }
            self.awaiting_key.swap_remove(i);
        }
        let discont = hole
            || stamp.is_some_and(|s| s.discont)
            || stream.is_some_and(|s| self.pending_discont.contains(&s));
        let mut packets = std::mem::take(&mut self.scratch);
        self.format.packets(
            unit,
            pts,
            &data,
            discont,
            &mut PacketSink::new(&mut packets, &self.discarded),
        );
        for mut p in packets.drain(..) {
            if p.origin.is_none() {
                p.origin = origin_in_unit(&p, &data, offset);
            }
            if let Some(i) = self.pending_discont.iter().position(|&s| s == p.stream) {
                self.pending_discont.swap_remove(i);
                p.discont = true;
            }
            self.outbox.push_back(Event::Packet(p));
        }
        self.scratch = packets;
    }

    /// Whether `data` (the rest of the input) starts like a unit longer
    /// than it, within the format's bound (a larger claim is garbage).
    fn claims_past_end(&self, data: &[u8]) -> bool {
        let max = self.format.max_unit_len();
        match self.format.parse_unit(data, false) {
            Parsed::NeedMore(n) => n > data.len() && n <= max,
            Parsed::Unit(_, len) => len > data.len() && len <= max,
            _ => false,
        }
    }

    fn end_of_data(&mut self) {
        self.damage.end_of_data();
        self.end_discovery();
        if self.at_frontier {
            self.index.complete = true;
        }
        self.phase = Phase::Ended;
    }
}

#[cfg(debug_assertions)]
fn verdict_name<U>(parsed: &Parsed<U>) -> String {
    match parsed {
        Parsed::Unit(_, len) => format!("a unit of {len} bytes"),
        Parsed::Skip(len) => format!("skip {len}"),
        Parsed::NeedMore(len) => format!("need {len}"),
        Parsed::Invalid => "invalid".into(),
    }
}

/// Where a packet's read bytes lie in the input: formats cut payloads out
/// of the unit's data (`UnitData::part`), so a read part's place in the
/// input follows from the unit's offset.
fn origin_in_unit<C: Chunk>(p: &Packet<C>, data: &UnitData<C>, unit_offset: u64) -> Option<Origin> {
    let (mut start, mut end) = (usize::MAX, 0);
    for part in &p.parts {
        if let Part::Read { range, .. } = part
            && range.start >= data.range.start
            && range.end <= data.range.end
        {
            start = start.min(range.start);
            end = end.max(range.end);
        }
    }
    (start < end).then(|| Origin {
        file: None,
        offset: unit_offset + (start - data.range.start) as u64,
        len: (end - start) as u64,
    })
}
