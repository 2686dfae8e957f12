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

/// Identifies a stream within one element (e.g. a camera channel).
pub type StreamKey = u32;

/// Everything needed to create a source pad.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    pub key: StreamKey,
    /// Pad template name, e.g. `video_%u`.
    pub template: &'static str,
    /// Pad name, e.g. `video_9`.
    pub pad_name: String,
    pub caps: gst::Caps,
    pub tags: gst::TagList,
    /// Stream flags for the stream-start event (e.g. SPARSE for snapshots).
    pub flags: gst::StreamFlags,
}

struct Stream {
    key: StreamKey,
    pad: gst::Pad,
    needs_segment: bool,
    pending_tags: Option<gst::TagList>,
    /// Held back until the next buffer of this stream tells its duration.
    held: Option<gst::Buffer>,
    last_duration: Option<gst::ClockTime>,
    position: Option<gst::ClockTime>,
    eos: bool,
}

/// Caps of the `ReferenceTimestampMeta` carrying Unix wall-clock time.
pub fn unix_time_caps() -> &'static gst::Caps {
    // Built once: it goes on every buffer.
    static CAPS: std::sync::LazyLock<gst::Caps> =
        std::sync::LazyLock::new(|| gst::Caps::builder("timestamp/x-unix").build());
    &CAPS
}

/// The streams of an element and their pads.
pub struct OutputStreams {
    streams: Vec<Stream>,
    combiner: gst_base::UniqueFlowCombiner,
    group_id: gst::GroupId,
    segment: gst::FormattedSegment<gst::ClockTime>,
    seqnum: gst::Seqnum,
}

impl Default for OutputStreams {
    fn default() -> Self {
        Self {
            streams: Vec::new(),
            combiner: gst_base::UniqueFlowCombiner::new(),
            group_id: gst::GroupId::next(),
            segment: gst::FormattedSegment::new(),
            seqnum: gst::Seqnum::next(),
        }
    }
}

impl OutputStreams {
    pub fn has(&self, key: StreamKey) -> bool {
        self.streams.iter().any(|s| s.key == key)
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
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
        }
    }

    /// Drops held buffers and flow state (after a flush).
    pub fn reset_flow(&mut self) {
        self.combiner.reset();
        for s in &mut self.streams {
            s.held = None;
            s.eos = false;
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

    /// Creates the pad for `spec`, sends stream-start, caps and tags, and
    /// adds it to `element`. The segment follows with the first buffer.
    /// `setup` installs the pad's event/query functions.
    pub fn add_stream(
        &mut self,
        element: &gst::Element,
        spec: StreamSpec,
        setup: impl FnOnce(gst::PadBuilder<gst::Pad>) -> gst::PadBuilder<gst::Pad>,
    ) -> Result<(), gst::ErrorMessage> {
        let templ = element.pad_template(spec.template).ok_or_else(|| {
            gst::error_msg!(gst::CoreError::Pad, ["No pad template {}", spec.template])
        })?;
        let pad =
            setup(gst::Pad::builder_from_template(&templ).name(spec.pad_name.as_str())).build();
        pad.set_active(true)
            .map_err(|_| gst::error_msg!(gst::CoreError::Pad, ["Failed to activate pad"]))?;
        let stream_id = pad.create_stream_id(element, Some(spec.pad_name.as_str()));
        pad.push_event(
            gst::event::StreamStart::builder(&stream_id)
                .group_id(self.group_id)
                .flags(spec.flags)
                .build(),
        );
        pad.push_event(gst::event::Caps::new(&spec.caps));
        self.combiner.add_pad(&pad);
        element.add_pad(&pad).map_err(|_| {
            gst::error_msg!(gst::CoreError::Pad, ["Failed to add pad {}", spec.pad_name])
        })?;
        self.streams.push(Stream {
            key: spec.key,
            pad,
            needs_segment: true,
            pending_tags: Some(spec.tags),
            held: None,
            last_duration: None,
            position: None,
            eos: false,
        });
        Ok(())
    }

    /// Queues a tag update for a stream, sent before its next buffer.
    pub fn merge_tags(&mut self, key: StreamKey, tags: &gst::TagList) {
        if let Some(s) = self.streams.iter_mut().find(|s| s.key == key) {
            let merged = match s.pending_tags.take() {
                Some(t) => t.merge(tags, gst::TagMergeMode::Replace),
                None => tags.clone(),
            };
            s.pending_tags = Some(merged);
        }
    }

    /// Pushes `buffer` on the stream `key`. The buffer is held until the
    /// next one of its stream arrives, so that a missing duration can be set
    /// to the PTS difference. Returns the combined flow.
    pub fn push(
        this: &Mutex<Self>,
        key: StreamKey,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (pad, events, previous) = {
            let mut guard = this.lock().unwrap();
            let me = &mut *guard;
            let Some(s) = me.streams.iter_mut().find(|s| s.key == key) else {
                return Ok(gst::FlowSuccess::Ok);
            };
            let events = Self::pending_events(s, &me.segment, me.seqnum);
            let previous = s.held.replace(buffer).map(|mut prev| {
                if prev.duration().is_none() {
                    let next_pts = s.held.as_ref().and_then(|b| b.pts());
                    if let (Some(a), Some(b)) = (prev.pts(), next_pts) {
                        let d = b.saturating_sub(a);
                        prev.make_mut().set_duration(d);
                        s.last_duration = Some(d).filter(|d| !d.is_zero()).or(s.last_duration);
                    }
                }
                prev
            });
            if let Some(end) = previous.as_ref().and_then(|b| b.pts()) {
                s.position = Some(s.position.map_or(end, |p| p.max(end)));
            }
            (s.pad.clone(), events, previous)
        };
        for e in events {
            pad.push_event(e);
        }
        let Some(previous) = previous else {
            return Ok(gst::FlowSuccess::Ok);
        };
        let res = pad.push(previous);
        this.lock().unwrap().combiner.update_pad_flow(&pad, res)
    }

    fn pending_events(
        s: &mut Stream,
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

    /// Pushes every held buffer (with the stream's last known duration) and
    /// then EOS on every pad. Flow errors are ignored: this is the end.
    pub fn finish(this: &Mutex<Self>) {
        let work: Vec<_> = {
            let mut guard = this.lock().unwrap();
            let me = &mut *guard;
            let (segment, seqnum) = (me.segment.clone(), me.seqnum);
            me.streams
                .iter_mut()
                .filter(|s| !s.eos)
                .map(|s| {
                    s.eos = true;
                    let held = s.held.take().map(|mut b| {
                        if b.duration().is_none()
                            && let Some(d) = s.last_duration
                        {
                            b.make_mut().set_duration(d);
                        }
                        b
                    });
                    (
                        s.pad.clone(),
                        Self::pending_events(s, &segment, seqnum),
                        held,
                    )
                })
                .collect()
        };
        let seqnum = this.lock().unwrap().seqnum;
        for (pad, events, held) in work {
            for e in events {
                pad.push_event(e);
            }
            if let Some(b) = held {
                let _ = pad.push(b);
            }
            pad.push_event(gst::event::Eos::builder().seqnum(seqnum).build());
        }
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
                let me = this.lock().unwrap();
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
    pub fn finish_segment(this: &Mutex<Self>, element: &gst::Element) {
        let (position, seqnum) = {
            let me = this.lock().unwrap();
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
        let pads = this.lock().unwrap().pads();
        // Every pad gets the event, even after one refused it.
        let mut all_ok = true;
        for pad in &pads {
            all_ok &= pad.push_event(event.clone());
        }
        all_ok
    }
}
