// SPDX-License-Identifier: MIT
//! Source pads of an element that emits several streams: creation with the
//! sticky events in the right order, one segment for all, flow combining,
//! durations filled in from the next buffer, and EOS.
//!
//! Callers keep this in its own mutex, separate from their parsing state, and
//! never hold either lock while pushing: [`OutputStreams::push`] takes the
//! lock only around bookkeeping.

use gst::prelude::*;
use std::sync::Mutex;

/// Identifies a stream within one element (e.g. a track number).
pub type StreamKey = u32;

/// What identifies a stream of an element: any small copyable key.
pub trait Key: Copy + Eq + Send + std::fmt::Debug + 'static {}
impl<K: Copy + Eq + Send + std::fmt::Debug + 'static> Key for K {}

/// How far any pad may lag behind the buffer being pushed on another one
/// (the policy and why: [`crate::engine::timeline::MAX_PAD_LAG_NS`]). A pad
/// further behind (a gap in capture time, a camera or the audio silent for
/// a while, subtitles or snapshots between cues) is advanced at once: its
/// held buffer goes out lasting up to the new time, or it gets a GAP event
/// up to it.
const MAX_LAG: gst::ClockTime =
    gst::ClockTime::from_nseconds(crate::engine::timeline::MAX_PAD_LAG_NS);
/// The most a slow stream may lag (see [`OutputStreams::advance_lagging`]).
const MAX_LAG_LIMIT: gst::ClockTime =
    gst::ClockTime::from_nseconds(crate::engine::timeline::MAX_PAD_LAG_LIMIT_NS);

/// Everything needed to create a source pad.
#[derive(Debug, Clone)]
pub struct StreamSpec<K = StreamKey> {
    pub key: K,
    /// Pad template name, e.g. `video_%u`.
    pub template: &'static str,
    /// Pad name, e.g. `video_9`.
    pub pad_name: String,
    /// Last part of the stream-id (see `present::stream_id_name`).
    pub stream_id: String,
    pub caps: gst::Caps,
    pub tags: gst::TagList,
    /// Stream flags for the stream-start event (e.g. SPARSE for snapshots).
    pub flags: gst::StreamFlags,
}

struct Stream<K> {
    key: K,
    pad: gst::Pad,
    /// Snapshots and the like: pushed at once, never held, and kept moving
    /// with GAP events.
    sparse: bool,
    /// Subtitle text: at the end, its held cue goes out before the held
    /// picture of the same time, so a player's overlay has the text before
    /// the last picture (else the cue waits for a picture that never comes).
    text: bool,
    needs_segment: bool,
    pending_tags: Option<gst::TagList>,
    /// Held back until the next buffer of this stream tells its duration.
    held: Option<gst::Buffer>,
    last_duration: Option<gst::ClockTime>,
    position: Option<gst::ClockTime>,
    /// Running time up to which downstream knows this pad's data: the end
    /// of the last buffer pushed, or of the last GAP. `None`: nothing yet
    /// in this segment (it starts at the segment start).
    covered: Option<gst::ClockTime>,
    /// The last buffer pushed on this pad was refused (not linked, not
    /// negotiated, EOS): it is not advanced with GAPs.
    refused: bool,
    eos: bool,
}

/// What advancing one lagging pad pushes: its pending sticky events, its
/// held buffer (if any), then events after it (a GAP).
type Advance = (
    gst::Pad,
    Vec<gst::Event>,
    Option<gst::Buffer>,
    Vec<gst::Event>,
);

impl<K> Stream<K> {
    /// Bookkeeping for a buffer about to be pushed on this pad.
    fn note_pushed(&mut self, b: &gst::Buffer) {
        if let Some(pts) = b.pts() {
            self.position = Some(self.position.map_or(pts, |p| p.max(pts)));
            let end = pts + b.duration().unwrap_or_default();
            self.covered = Some(self.covered.map_or(end, |c| c.max(end)));
        }
    }
}

/// Caps of the `ReferenceTimestampMeta` carrying Unix wall-clock time.
pub fn unix_time_caps() -> &'static gst::Caps {
    // Built once: it goes on every buffer.
    static CAPS: std::sync::LazyLock<gst::Caps> =
        std::sync::LazyLock::new(|| gst::Caps::builder("timestamp/x-unix").build());
    &CAPS
}

/// The streams of an element and their pads.
pub struct OutputStreams<K = StreamKey> {
    streams: Vec<Stream<K>>,
    combiner: gst_base::UniqueFlowCombiner,
    group_id: gst::GroupId,
    segment: gst::FormattedSegment<gst::ClockTime>,
    seqnum: gst::Seqnum,
    /// A flushing seek is between FLUSH_START and FLUSH_STOP: pads created
    /// now are flushed at once, like the others.
    flushing: bool,
}

impl<K: Key> Default for OutputStreams<K> {
    fn default() -> Self {
        Self {
            streams: Vec::new(),
            combiner: gst_base::UniqueFlowCombiner::new(),
            group_id: gst::GroupId::next(),
            segment: gst::FormattedSegment::new(),
            seqnum: gst::Seqnum::next(),
            flushing: false,
        }
    }
}

/// Locks `mutex` even if a panic poisoned it: the data of these locks stays
/// consistent across a panic (plain bookkeeping), and one bad file must not
/// leave an element that can no longer be stopped.
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<K: Key> OutputStreams<K> {
    pub fn has(&self, key: K) -> bool {
        self.streams.iter().any(|s| s.key == key)
    }

    /// The streams whose pad is linked to nothing.
    pub fn unlinked(&self) -> Vec<K> {
        self.streams
            .iter()
            .filter(|s| !s.pad.is_linked())
            .map(|s| s.key)
            .collect()
    }

    pub fn pads(&self) -> Vec<gst::Pad> {
        self.streams.iter().map(|s| s.pad.clone()).collect()
    }

    pub fn segment(&self) -> &gst::FormattedSegment<gst::ClockTime> {
        &self.segment
    }

    pub fn seqnum(&self) -> gst::Seqnum {
        self.seqnum
    }

    /// The furthest running position pushed on any pad.
    pub fn position(&self) -> Option<gst::ClockTime> {
        self.streams.iter().filter_map(|s| s.position).max()
    }

    /// Sets the segment every pad sends before its next buffer.
    pub fn set_segment(
        &mut self,
        segment: gst::FormattedSegment<gst::ClockTime>,
        seqnum: gst::Seqnum,
    ) {
        self.segment = segment;
        self.seqnum = seqnum;
        for s in &mut self.streams {
            s.needs_segment = true;
            s.eos = false;
            s.covered = None;
        }
    }

    /// Drops held buffers and flow state (after a flush).
    pub fn reset_flow(&mut self) {
        self.combiner.reset();
        for s in &mut self.streams {
            s.held = None;
            s.eos = false;
            s.covered = None;
            s.refused = false;
        }
    }

    /// Removes every pad from `element` (on READY).
    pub fn remove_all(&mut self, element: &gst::Element) {
        for s in self.streams.drain(..) {
            let _ = s.pad.set_active(false);
            let _ = element.remove_pad(&s.pad);
        }
        self.combiner.clear();
        self.group_id = gst::GroupId::next();
    }

    /// Creates the pad for `spec`, sends stream-start, adds it to `element`
    /// holding no lock while `pad-added` handlers run, then sends caps: the
    /// caps are decided once the pad is added (and linked by the handlers):
    /// `choose` may replace `spec.caps` with what the peer takes. A pad
    /// created during a flushing seek is flushed too. The segment and tags
    /// follow with the first buffer. `setup` installs the pad's event and
    /// query functions.
    pub fn add_stream_negotiated(
        this: &Mutex<Self>,
        element: &gst::Element,
        spec: StreamSpec<K>,
        setup: impl FnOnce(gst::PadBuilder<gst::Pad>) -> gst::PadBuilder<gst::Pad>,
        choose: impl FnOnce(&gst::Pad) -> Option<gst::Caps>,
    ) -> Result<(), gst::ErrorMessage> {
        let templ = element.pad_template(spec.template).ok_or_else(|| {
            gst::error_msg!(gst::CoreError::Pad, ("No pad template {}", spec.template))
        })?;
        let pad =
            setup(gst::Pad::builder_from_template(&templ).name(spec.pad_name.as_str())).build();
        pad.set_active(true)
            .map_err(|_| gst::error_msg!(gst::CoreError::Pad, ("Failed to activate pad")))?;
        let stream_id = pad.create_stream_id(element, Some(spec.stream_id.as_str()));
        let group_id = lock(this).group_id;
        pad.push_event(
            gst::event::StreamStart::builder(&stream_id)
                .group_id(group_id)
                .flags(spec.flags)
                .build(),
        );
        let flushing = {
            let mut me = lock(this);
            if me.has(spec.key) {
                return Ok(());
            }
            me.combiner.add_pad(&pad);
            me.streams.push(Stream {
                key: spec.key,
                pad: pad.clone(),
                sparse: spec.flags.contains(gst::StreamFlags::SPARSE),
                text: spec
                    .caps
                    .structure(0)
                    .is_some_and(|st| st.name() == "text/x-raw"),
                needs_segment: true,
                pending_tags: Some(spec.tags),
                held: None,
                last_duration: None,
                position: None,
                covered: None,
                refused: false,
                eos: false,
            });
            me.flushing
        };
        element.add_pad(&pad).map_err(|_| {
            gst::error_msg!(gst::CoreError::Pad, ("Failed to add pad {}", spec.pad_name))
        })?;
        // Caps after add_pad: until then the pad offers its template, so
        // pad-added handlers can link it to anything it may produce.
        let caps = choose(&pad).unwrap_or(spec.caps);
        pad.push_event(gst::event::Caps::new(&caps));
        if flushing {
            pad.push_event(gst::event::FlushStart::new());
        }
        Ok(())
    }

    /// Starts a flushing seek: FLUSH_START on every pad, and on any pad
    /// created before [`OutputStreams::end_flush`].
    pub fn begin_flush(this: &Mutex<Self>, seqnum: gst::Seqnum) {
        let pads = {
            let mut me = lock(this);
            me.flushing = true;
            me.pads()
        };
        let event = gst::event::FlushStart::builder().seqnum(seqnum).build();
        for pad in pads {
            pad.push_event(event.clone());
        }
    }

    /// Ends a flushing seek: FLUSH_STOP on every pad (the streaming thread
    /// is stopped, so the list is complete) and fresh flow state.
    pub fn end_flush(this: &Mutex<Self>, seqnum: gst::Seqnum) {
        let pads = {
            let mut me = lock(this);
            me.flushing = false;
            me.reset_flow();
            me.pads()
        };
        let event = gst::event::FlushStop::builder(true).seqnum(seqnum).build();
        for pad in pads {
            pad.push_event(event.clone());
        }
    }

    /// Pushes `buffer` on the stream `key`. A buffer without a duration is
    /// held until the next one of its stream arrives, so that the duration
    /// can be set to the PTS difference; buffers with a duration and those
    /// of sparse streams are pushed at once. Before that, every other pad
    /// lagging more than [`MAX_LAG`] behind this buffer is advanced (its
    /// held buffer released, or a GAP event), so that no pad waits across
    /// a gap for one that gets nothing. Returns the combined flow.
    pub fn push(
        this: &Mutex<Self>,
        key: K,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (pad, events, outgoing, lagging) = {
            let mut guard = lock(this);
            let me = &mut *guard;
            let now = buffer.pts();
            let lagging = me.advance_lagging(key, now);
            let (segment, seqnum) = (&me.segment, me.seqnum);
            let Some(s) = me.streams.iter_mut().find(|s| s.key == key) else {
                return Ok(gst::FlowSuccess::Ok);
            };
            let events = Self::pending_events(s, segment, seqnum);
            // A buffer that knows its duration (audio) has nothing to wait
            // for: holding it would keep a pad without data while the
            // others fill their queues (preroll stalls).
            let complete = buffer.duration().is_some();
            let mut outgoing = Vec::with_capacity(2);
            if s.sparse {
                outgoing.push(buffer);
            } else {
                let next_pts = buffer.pts();
                let (held, current) = if complete {
                    (s.held.take(), Some(buffer))
                } else {
                    (s.held.replace(buffer), None)
                };
                if let Some(mut prev) = held {
                    if prev.duration().is_none()
                        && let (Some(a), Some(b)) = (prev.pts(), next_pts)
                    {
                        let d = b.saturating_sub(a);
                        prev.make_mut().set_duration(d);
                        s.last_duration = Some(d).filter(|d| !d.is_zero()).or(s.last_duration);
                    }
                    outgoing.push(prev);
                }
                outgoing.extend(current);
            }
            for b in &outgoing {
                s.note_pushed(b);
            }
            (s.pad.clone(), events, outgoing, lagging)
        };
        // The lagging pads first: this buffer's own queue may be full
        // until the muxer behind it has their data.
        for (lag_pad, events, held, after) in lagging {
            for e in events {
                lag_pad.push_event(e);
            }
            let mut ok = true;
            if let Some(b) = held {
                let res = lag_pad.push(b);
                ok = res.is_ok();
                let _ = Self::note_flow(this, &lag_pad, res);
            }
            // No GAP after a refused buffer: it would go past the element
            // that refused it (caps, a capsfilter) to a sink that prerolls
            // on it and blocks this thread until PLAYING.
            if ok {
                for e in after {
                    lag_pad.push_event(e);
                }
            }
        }
        for e in events {
            pad.push_event(e);
        }
        let mut flow = Ok(gst::FlowSuccess::Ok);
        for buffer in outgoing {
            let res = pad.push(buffer);
            flow = Self::note_flow(this, &pad, res);
            if flow.is_err() {
                break;
            }
        }
        flow
    }

    /// Combines the flow of a push on `pad`, and remembers whether that pad
    /// refuses data (it gets no GAPs then, see `advance_lagging`).
    fn note_flow(
        this: &Mutex<Self>,
        pad: &gst::Pad,
        res: Result<gst::FlowSuccess, gst::FlowError>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut me = lock(this);
        if let Some(s) = me.streams.iter_mut().find(|s| &s.pad == pad) {
            s.refused = res.is_err();
        }
        me.combiner.update_pad_flow(pad, res)
    }

    /// Advances every pad other than `key`'s that lags more than
    /// [`MAX_LAG`] behind running time `now`: a held buffer goes out at
    /// once (lasting its stream's usual spacing, at most [`MAX_LAG`]) with
    /// a GAP after it up to `now`; a pad whose data ends more than
    /// [`MAX_LAG`] before `now` gets a GAP up to `now` (after its pending
    /// sticky events). The GAP matters
    /// even right after a buffer: a muxer takes a buffer by its start and
    /// then waits for the pad's next data, whatever its duration. Returns
    /// what to push, per pad.
    fn advance_lagging(&mut self, key: K, now: Option<gst::ClockTime>) -> Vec<Advance> {
        let Some(now) = now else { return Vec::new() };
        let (segment, seqnum) = (self.segment.clone(), self.seqnum);
        let start = segment.start().unwrap_or_default();
        let mut out = Vec::new();
        for s in self
            .streams
            .iter_mut()
            .filter(|s| s.key != key && !s.eos && !s.refused)
        {
            // A stream with a slow rhythm (a 1 or 2 fps camera, a cue per
            // frame) lags by its own spacing all the time: only twice that
            // is a gap (bounded by MAX_LAG_LIMIT).
            // Subtitle cues come up to a second or so apart (one per
            // second of capture time) and each lasts until the next: they
            // may lag the most, or the first cue would be cut short before
            // its successor is known and leave the text blank.
            let max_lag = if s.text {
                MAX_LAG_LIMIT
            } else {
                s.last_duration
                    .map_or(MAX_LAG, |d| MAX_LAG.max(d * 2))
                    .min(MAX_LAG_LIMIT)
            };
            let mut released = None;
            if let Some(held_pts) = s.held.as_ref().map(|b| b.pts()) {
                let Some(pts) = held_pts.filter(|&p| now > p + max_lag) else {
                    continue;
                };
                let Some(mut b) = s.held.take() else { continue };
                if b.duration().is_none() {
                    // A picture: its usual spacing (a long one may be a
                    // gap's), then a GAP up to `now`. A cue: up to `now`
                    // (it holds until the next one).
                    let d = if s.text {
                        now - pts
                    } else {
                        s.last_duration.unwrap_or(MAX_LAG).min(now - pts)
                    };
                    b.make_mut().set_duration(d);
                }
                s.note_pushed(&b);
                released = Some(b);
            }
            let from = s.covered.unwrap_or(start);
            let lag = if released.is_some() {
                gst::ClockTime::ZERO
            } else {
                max_lag
            };
            let gap = (now > from + lag).then(|| {
                s.covered = Some(now);
                s.position = Some(s.position.map_or(now, |p| p.max(now)));
                gst::event::Gap::builder(from)
                    .duration(now - from)
                    .seqnum(seqnum)
                    .build()
            });
            if released.is_none() && gap.is_none() {
                continue;
            }
            // Sticky events, then the held buffer, then the GAP after it.
            let events = Self::pending_events(s, &segment, seqnum);
            out.push((s.pad.clone(), events, released, gap.into_iter().collect()));
        }
        out
    }

    fn pending_events(
        s: &mut Stream<K>,
        segment: &gst::FormattedSegment<gst::ClockTime>,
        seqnum: gst::Seqnum,
    ) -> Vec<gst::Event> {
        let mut events = Vec::new();
        if s.needs_segment {
            s.needs_segment = false;
            events.push(gst::event::Segment::builder(segment).seqnum(seqnum).build());
        }
        if let Some(tags) = s.pending_tags.take() {
            events.push(gst::event::Tag::new(tags));
        }
        events
    }

    /// Takes the buffer every stream still holds (with the stream's last
    /// known duration) and the pending events of every stream; `eos` marks
    /// them ended. Buffers come in time order across streams.
    #[allow(clippy::type_complexity)]
    fn take_held(
        &mut self,
        eos: bool,
    ) -> (
        Vec<(gst::Pad, Vec<gst::Event>)>,
        Vec<(gst::Pad, gst::Buffer)>,
    ) {
        let (segment, seqnum) = (self.segment.clone(), self.seqnum);
        // A held cue lasts to the end of the last picture, not a whole cue
        // period past it: a player's overlay lets the cue go only once a
        // picture reaches its end (else the end of playback stalls).
        let pictures_end = self
            .streams
            .iter()
            .filter(|s| !s.eos && !s.text)
            .filter_map(|s| {
                let b = s.held.as_ref()?;
                Some(b.pts()? + b.duration().or(s.last_duration)?)
            })
            .max();
        let mut events = Vec::new();
        let mut held = Vec::new();
        for s in self.streams.iter_mut().filter(|s| !s.eos) {
            s.eos = eos;
            if let Some(mut b) = s.held.take() {
                let to_pictures_end = pictures_end
                    .filter(|_| s.text)
                    .zip(b.pts())
                    .and_then(|(end, pts)| end.checked_sub(pts))
                    .filter(|d| !d.is_zero());
                if b.duration().is_none()
                    && let Some(d) = to_pictures_end.or(s.last_duration)
                {
                    b.make_mut().set_duration(d);
                }
                if let Some(end) = b.pts() {
                    s.position = Some(s.position.map_or(end, |p| p.max(end)));
                }
                held.push((s.pad.clone(), b, s.text));
            }
            events.push((s.pad.clone(), Self::pending_events(s, &segment, seqnum)));
        }
        // Stable: buffers without a time keep their place before the rest;
        // at one time, text first.
        held.sort_by_key(|(_, b, text)| (b.pts(), !*text));
        let held = held.into_iter().map(|(p, b, _)| (p, b)).collect();
        (events, held)
    }

    /// Pushes what [`OutputStreams::take_held`] took; flow errors are
    /// ignored (this is the end of the stream or segment).
    fn push_held(events: Vec<(gst::Pad, Vec<gst::Event>)>, held: Vec<(gst::Pad, gst::Buffer)>) {
        for (pad, events) in events {
            for e in events {
                pad.push_event(e);
            }
        }
        for (pad, buffer) in held {
            let _ = pad.push(buffer);
        }
    }

    /// Pushes every held buffer (with the stream's last known duration), in
    /// time order across pads, and then EOS on every pad. Flow errors are
    /// ignored: this is the end.
    pub fn finish(this: &Mutex<Self>) {
        let (events, held, seqnum) = {
            let mut me = lock(this);
            let (events, held) = me.take_held(true);
            (events, held, me.seqnum)
        };
        let pads: Vec<gst::Pad> = events.iter().map(|(p, _)| p.clone()).collect();
        Self::push_held(events, held);
        for pad in pads {
            pad.push_event(gst::event::Eos::builder().seqnum(seqnum).build());
        }
    }

    /// Ends one stream before the others: pushes the buffer it holds (with
    /// its last known duration) and EOS on its pad, as demuxers do when a
    /// stream runs out before the rest. Flow errors are ignored.
    pub fn finish_stream(this: &Mutex<Self>, key: K) {
        let (pad, events, held, seqnum) = {
            let mut guard = lock(this);
            let me = &mut *guard;
            let (segment, seqnum) = (me.segment.clone(), me.seqnum);
            let Some(s) = me.streams.iter_mut().find(|s| s.key == key && !s.eos) else {
                return;
            };
            s.eos = true;
            let events = Self::pending_events(s, &segment, seqnum);
            let mut held = s.held.take();
            if let Some(b) = held.as_mut()
                && b.duration().is_none()
                && let Some(d) = s.last_duration
            {
                b.make_mut().set_duration(d);
            }
            (s.pad.clone(), events, held, seqnum)
        };
        for e in events {
            pad.push_event(e);
        }
        if let Some(b) = held {
            let _ = pad.push(b);
        }
        pad.push_event(gst::event::Eos::builder().seqnum(seqnum).build());
    }

    /// Sends a GAP from `start` (for `duration`, open when `None`) on the
    /// stream `key`, preceded by its pending sticky events (the segment,
    /// tags), which are then not sent again before its next buffer.
    pub fn push_gap(
        this: &Mutex<Self>,
        key: K,
        start: gst::ClockTime,
        duration: Option<gst::ClockTime>,
    ) -> bool {
        let (pad, events) = {
            let mut guard = lock(this);
            let me = &mut *guard;
            let (segment, seqnum) = (&me.segment, me.seqnum);
            let Some(s) = me.streams.iter_mut().find(|s| s.key == key) else {
                return false;
            };
            let mut events = Self::pending_events(s, segment, seqnum);
            if let Some(end) = duration.map(|d| start + d) {
                s.covered = Some(s.covered.map_or(end, |c| c.max(end)));
            }
            events.push(
                gst::event::Gap::builder(start)
                    .duration(duration)
                    .seqnum(seqnum)
                    .build(),
            );
            (s.pad.clone(), events)
        };
        let mut ok = true;
        for e in events {
            ok &= pad.push_event(e);
        }
        ok
    }

    /// Answers the TIME queries every source pad of these elements handles
    /// alike: DURATION (from `duration`, asked at most once), POSITION (the
    /// furthest position pushed, else the segment start) and SEEKING. `None`
    /// for any other query, which the caller handles.
    pub fn answer_time_query(
        this: &Mutex<Self>,
        query: &mut gst::QueryRef,
        seekable: bool,
        duration: impl FnOnce() -> Option<gst::ClockTime>,
    ) -> Option<bool> {
        match query.view_mut() {
            gst::QueryViewMut::Duration(q) if q.format() == gst::Format::Time => {
                let d = duration();
                if let Some(d) = d {
                    q.set(d);
                }
                Some(d.is_some())
            }
            gst::QueryViewMut::Position(q) if q.format() == gst::Format::Time => {
                let me = lock(this);
                q.set(me.position().or(me.segment.start()));
                Some(true)
            }
            gst::QueryViewMut::Seeking(q) if q.format() == gst::Format::Time => {
                let d = if seekable { duration() } else { None };
                q.set(seekable, gst::ClockTime::ZERO, d.or(gst::ClockTime::NONE));
                Some(true)
            }
            _ => None,
        }
    }

    /// Ends a SEGMENT seek's playback: posts SEGMENT_DONE from `element` and
    /// sends the segment-done event on every pad (instead of EOS).
    /// The frames the pads hold back are pushed first (in time order), so
    /// the last frame of the segment is not lost.
    pub fn finish_segment(this: &Mutex<Self>, element: &gst::Element) {
        let (events, held) = lock(this).take_held(false);
        Self::push_held(events, held);
        let (position, seqnum) = {
            let me = lock(this);
            (me.position().unwrap_or_default(), me.seqnum)
        };
        let _ = element.post_message(
            gst::message::SegmentDone::builder(position)
                .src(element)
                .seqnum(seqnum)
                .build(),
        );
        Self::push_event_all(
            this,
            &gst::event::SegmentDone::builder(position)
                .seqnum(seqnum)
                .build(),
        );
    }

    /// Sends `event` on every source pad (flushes, EOS on errors).
    pub fn push_event_all(this: &Mutex<Self>, event: &gst::Event) -> bool {
        let pads = lock(this).pads();
        // Every pad gets the event, even after one refused it.
        let mut all_ok = true;
        for pad in &pads {
            all_ok &= pad.push_event(event.clone());
        }
        all_ok
    }
}
