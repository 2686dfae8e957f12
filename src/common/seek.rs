// SPDX-License-Identifier: MIT
//! The seek protocol shared by the demuxers and `rf1src`: a seek is checked
//! in full on a copy of the segment before anything is flushed, so an
//! invalid seek is refused without touching the pipeline.

/// The segment a seek leads to, or why the seek is refused. `duration` is
/// needed for positions relative to the end.
pub fn validate(
    seek: &gst::event::Seek,
    current: &gst::FormattedSegment<gst::ClockTime>,
    duration: Option<gst::ClockTime>,
) -> Result<gst::FormattedSegment<gst::ClockTime>, String> {
    let (rate, flags, start_type, start, stop_type, stop) = seek.get();
    // NaN fails both checks.
    if !(rate.is_finite() && rate > 0.0) {
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
