// SPDX-License-Identifier: MIT
//! The seek protocol shared by the demuxers and `rf1src`: a seek is checked
//! in full on a copy of the segment before anything is flushed, so an
//! invalid seek is refused without touching the pipeline; then flush, stream
//! lock, reposition, end of flush, new segment, task restart ([`perform`]).

use super::streams::{Key, OutputStreams, lock};
use gst::prelude::*;
use std::sync::Mutex;

/// The segment a seek leads to, or why the seek is refused. `duration` is
/// needed for positions relative to the end.
pub fn validate(
    seek: &gst::event::Seek,
    current: &gst::FormattedSegment<gst::ClockTime>,
    duration: Option<gst::ClockTime>,
) -> Result<gst::FormattedSegment<gst::ClockTime>, String> {
    let (rate, flags, start_type, start, stop_type, stop) = seek.get();
    let forward = rate.is_finite() && rate > 0.0;
    if !forward {
        return Err(format!(
            "rate {rate} is not supported (forward playback only)"
        ));
    }
    if start.format() != gst::Format::Time || stop.format() != gst::Format::Time {
        return Err(format!("cannot seek in {:?}", start.format()));
    }
    let start: Option<gst::ClockTime> = start.try_into().ok().flatten();
    let stop: Option<gst::ClockTime> = stop.try_into().ok().flatten();
    let resolve = |kind: gst::SeekType,
                   value: Option<gst::ClockTime>,
                   unchanged: Option<gst::ClockTime>|
     -> Result<Option<gst::ClockTime>, String> {
        match kind {
            gst::SeekType::None => Ok(unchanged),
            gst::SeekType::Set => Ok(value),
            gst::SeekType::End => match (duration, value) {
                (Some(d), Some(v)) => Ok(Some(d.saturating_sub(v))),
                (Some(d), None) => Ok(Some(d)),
                (None, _) => Err("seek relative to the end with unknown duration".into()),
            },
        }
    };
    let new_start = resolve(start_type, start, current.start())?;
    let new_stop = resolve(stop_type, stop, current.stop())?;
    if let (Some(a), Some(b)) = (new_start, new_stop)
        && a > b
    {
        return Err(format!("start {a} is after stop {b}"));
    }
    let mut segment = current.clone();
    segment
        .do_seek(rate, flags, start_type, start, stop_type, stop)
        .ok_or_else(|| "invalid seek".to_string())?;
    Ok(segment)
}

/// Answers each seek once: a pipeline seek reaches an element through every
/// linked source pad with the same seqnum; the repeats get the first one's
/// answer (TRUE while it is still being handled).
#[derive(Default)]
pub struct SeekOnce(Mutex<Option<(gst::Seqnum, Option<bool>)>>);

impl SeekOnce {
    /// Runs `handle` unless the seek `seqnum` was handled already.
    pub fn handle(&self, seqnum: gst::Seqnum, handle: impl FnOnce() -> bool) -> bool {
        {
            let mut last = lock(&self.0);
            if let Some((handled, result)) = *last
                && handled == seqnum
            {
                return result.unwrap_or(true);
            }
            *last = Some((seqnum, None));
        }
        let result = handle();
        if let Some((handled, outcome)) = lock(&self.0).as_mut()
            && *handled == seqnum
        {
            *outcome = Some(result);
        }
        result
    }

    /// Forgets the last seek (on a state change to READY).
    pub fn reset(&self) {
        *lock(&self.0) = None;
    }
}

/// What the seek protocol works on.
pub struct SeekTarget<'a, K: Key> {
    pub element: &'a gst::Element,
    pub streams: &'a Mutex<OutputStreams<K>>,
    /// The pad whose task streams: paused (non-flushing seek) and its stream
    /// lock held while the element repositions.
    pub task_pad: &'a gst::Pad,
    /// A pad whose peer is flushed too (a demuxer's sink pad in pull mode).
    pub upstream: Option<&'a gst::Pad>,
    /// For seeks relative to the end.
    pub duration: Option<gst::ClockTime>,
}

/// Runs a seek: [`validate`] it on a copy of the segment (an invalid seek
/// changes nothing and flushes nothing); flush (or pause the task); take the
/// stream lock; let `reposition` move the element's reading position and
/// adjust the new segment (e.g. snap to a key unit); end the flush; set the
/// segment; post SEGMENT_START for a segment seek; release the stream lock
/// and `restart` the task. The segment is set even when `reposition` fails
/// (the flush happened), and its error is returned.
pub fn perform<K: Key>(
    target: &SeekTarget<'_, K>,
    seek: &gst::event::Seek,
    reposition: impl FnOnce(&mut gst::FormattedSegment<gst::ClockTime>) -> Result<(), String>,
    restart: impl FnOnce(),
) -> Result<(), String> {
    let current = lock(target.streams).segment().clone();
    let mut segment = validate(seek, &current, target.duration)?;
    let seqnum = seek.seqnum();
    let flush = seek.flags().contains(gst::SeekFlags::FLUSH);
    if flush {
        if let Some(pad) = target.upstream {
            pad.push_event(gst::event::FlushStart::builder().seqnum(seqnum).build());
        }
        OutputStreams::begin_flush(target.streams, seqnum);
    } else {
        let _ = target.task_pad.pause_task();
    }
    let stream_lock = target.task_pad.stream_lock();
    if flush && let Some(pad) = target.upstream {
        pad.push_event(gst::event::FlushStop::builder(true).seqnum(seqnum).build());
    }
    let outcome = reposition(&mut segment);
    if flush {
        OutputStreams::end_flush(target.streams, seqnum);
    } else {
        lock(target.streams).reset_flow();
    }
    commit(
        target.element,
        target.streams,
        seek,
        segment,
        outcome.is_ok(),
    );
    drop(stream_lock);
    restart();
    outcome
}

/// Makes `segment` the output segment of a seek and, for a successful
/// segment seek, posts SEGMENT_START. (Used directly for a seek applied
/// before streaming starts, where nothing needs flushing.)
pub fn commit<K: Key>(
    element: &gst::Element,
    streams: &Mutex<OutputStreams<K>>,
    seek: &gst::event::Seek,
    segment: gst::FormattedSegment<gst::ClockTime>,
    ok: bool,
) {
    let seqnum = seek.seqnum();
    let start = segment.start().unwrap_or_default();
    lock(streams).set_segment(segment, seqnum);
    if ok && seek.flags().contains(gst::SeekFlags::SEGMENT) {
        let _ = element.post_message(
            gst::message::SegmentStart::builder(start)
                .src(element)
                .seqnum(seqnum)
                .build(),
        );
    }
}
