// SPDX-License-Identifier: MIT
//! Element glue for `rf1src`: a source with one sometimes pad per track, a
//! streaming task that merges the tracks' access units by time across the
//! segments of an archive, and index-based seeking.

use crate::common::h264::Codec;
use crate::common::streams::{OutputStreams, StreamKey, StreamSpec, unix_time_caps};
use crate::formats::rf1::{self, Archive, ArchivePosition, Rf1Error};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, MutexGuard};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "rf1src",
        gst::DebugColorFlags::empty(),
        Some("Cyclops rf1 source"),
    )
});

const PAD_TEMPLATE: &str = "%s";

/// Locks `mutex` even if a panic poisoned it: the data it guards is
/// replaced or reset on every state change, so a stuck element is worse.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running time from file values, total: clamped to the largest valid
/// `GstClockTime` instead of panicking on `GST_CLOCK_TIME_NONE`.
fn clock_time(ns: u64) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(ns.min(gst::ClockTime::MAX.nseconds()))
}

#[derive(Debug, Clone, Default)]
struct Settings {
    location: Option<PathBuf>,
    /// Track names to play; empty = every track.
    tracks: Vec<String>,
}

/// Where one track's playback is.
struct Cursor {
    key: StreamKey,
    name: String,
    next: Option<ArchivePosition>,
    /// The packet file of the segment being read.
    file: Option<(usize, File)>,
    discont: bool,
    last_time: Option<u64>,
}

struct Reader {
    archive: Archive,
    cursors: Vec<Cursor>,
    /// Running time (ns) at which playback stops (exclusive).
    stop: Option<u64>,
    segment_flags: gst::SegmentFlags,
    duration: gst::ClockTime,
    /// Problems found on the way (damaged or cut tracks), reported once at
    /// the end in a single WARNING.
    problems: Vec<String>,
    reported: Vec<(usize, String)>,
    skipped_backwards: u64,
    unix_caps: gst::Caps,
    finished: bool,
}

/// One access unit ready to push.
struct Unit {
    key: StreamKey,
    buffer: gst::Buffer,
}

enum Step {
    Push(Unit),
    /// Skipped something: call again.
    Continue,
    Done,
}

impl Reader {
    fn open(location: &Path, tracks: &[String]) -> Result<Self, Rf1Error> {
        let names = (!tracks.is_empty()).then_some(tracks);
        let archive = Archive::open_tracks(location, names)?;
        let problems = archive.skipped.clone();
        let cursors = archive
            .track_names()
            .into_iter()
            .enumerate()
            .map(|(i, name)| Cursor {
                key: i as StreamKey,
                name: name.to_owned(),
                next: first_position(&archive, name),
                file: None,
                discont: true,
                last_time: None,
            })
            .collect::<Vec<_>>();
        let duration = cursors
            .iter()
            .filter_map(|c| {
                last_position(&archive, &c.name).and_then(|p| archive.time_ns(&c.name, p))
            })
            .max()
            .unwrap_or(0);
        Ok(Reader {
            archive,
            cursors,
            stop: None,
            segment_flags: gst::SegmentFlags::empty(),
            duration: clock_time(duration),
            problems,
            reported: Vec::new(),
            skipped_backwards: 0,
            unix_caps: unix_time_caps().clone(),
            finished: false,
        })
    }

    fn stream_spec(&self, cursor: &Cursor) -> Option<StreamSpec> {
        let (segment, track) = self
            .archive
            .segments
            .iter()
            .find_map(|s| s.track(&cursor.name).map(|t| (s, t)))?;
        let _ = segment;
        let header = &track.header;
        let caps_name = match header.codec {
            Codec::H264 => "video/x-h264",
            Codec::H265 => "video/x-h265",
        };
        let mut caps = gst::Caps::builder(caps_name)
            .field("stream-format", "byte-stream")
            .field("alignment", "au");
        if header.width > 0 && header.height > 0 {
            caps = caps
                .field("width", i32::from(header.width))
                .field("height", i32::from(header.height));
        }
        let mut tags = gst::TagList::new();
        {
            let tags = tags.make_mut();
            tags.add::<gst::tags::Title>(&cursor.name.as_str(), gst::TagMergeMode::Replace);
            tags.add::<gst::tags::ContainerFormat>(&"Cyclops rf1", gst::TagMergeMode::Replace);
            let codec = match header.codec {
                Codec::H264 => "H.264",
                Codec::H265 => "H.265",
            };
            tags.add::<gst::tags::VideoCodec>(&codec, gst::TagMergeMode::Replace);
            // An absurd time base loses the wall clock, not the frames.
            if rf1::wall_clock_ns(header.timebase_us, 0).is_some()
                && let Ok(us) = i64::try_from(header.timebase_us)
                && let Ok(dt) = gst::DateTime::from_unix_epoch_utc_usecs(us)
            {
                tags.add::<gst::tags::DateTime>(&dt, gst::TagMergeMode::Replace);
            }
        }
        Some(StreamSpec {
            key: cursor.key,
            template: PAD_TEMPLATE,
            pad_name: cursor.name.clone(),
            caps: caps.build(),
            tags,
            flags: gst::StreamFlags::empty(),
        })
    }

    /// Notes the problems of the track `name` in `segment` (once).
    fn note_problems(&mut self, segment: usize, name: &str) {
        if self
            .reported
            .iter()
            .any(|(s, n)| *s == segment && n == name)
        {
            return;
        }
        let Some(seg) = self.archive.segments.get(segment) else {
            return;
        };
        let Some(track) = seg.track(name) else { return };
        if track.problems.is_empty() {
            return;
        }
        let text = track
            .problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        self.problems.push(format!(
            "{}_{}: {} (kept {} of {} index entries, {} access units)",
            seg.files.base.display(),
            name,
            text,
            track.nalus.len(),
            track.index_entry_count,
            track.access_units.len()
        ));
        self.reported.push((segment, name.to_owned()));
    }

    /// Running time of a cursor's next access unit (`None` when it is done).
    fn next_time(&self, cursor: &Cursor) -> Option<u64> {
        let pos = cursor.next?;
        // Never before the origin (the earliest time base); 0 if it were.
        Some(self.archive.time_ns(&cursor.name, pos).unwrap_or(0))
    }

    /// The next access unit in time order over all tracks: always the one
    /// with the smallest timestamp, so no pad runs ahead of another.
    fn step(&mut self) -> Result<Step, String> {
        let mut best: Option<(usize, u64)> = None;
        for (i, c) in self.cursors.iter().enumerate() {
            let Some(time) = self.next_time(c) else {
                continue;
            };
            if best.is_none_or(|(_, t)| time < t) {
                best = Some((i, time));
            }
        }
        let Some((ci, time)) = best else {
            return Ok(Step::Done);
        };
        let Some(cursor) = self.cursors.get_mut(ci) else {
            return Ok(Step::Done);
        };
        let Some(pos) = cursor.next else {
            return Ok(Step::Continue);
        };
        if self.stop.is_some_and(|stop| time >= stop) {
            cursor.next = None;
            return Ok(Step::Continue);
        }
        let name = cursor.name.clone();
        let next = self.archive.next_au(&name, pos);
        if next.is_none_or(|n| n.segment != pos.segment) {
            self.note_problems(pos.segment, &name);
        }
        let Some(cursor) = self.cursors.get_mut(ci) else {
            return Ok(Step::Done);
        };
        cursor.next = next;
        if cursor.last_time.is_some_and(|last| time < last) {
            // Overlapping segments: never let time go backwards on a pad.
            self.skipped_backwards += 1;
            cursor.discont = true;
            return Ok(Step::Continue);
        }
        let key = cursor.key;
        let buffer = self.read_buffer(ci, pos, time)?;
        if let Some(cursor) = self.cursors.get_mut(ci) {
            cursor.last_time = Some(time);
        }
        Ok(Step::Push(Unit { key, buffer }))
    }

    fn read_buffer(
        &mut self,
        ci: usize,
        pos: ArchivePosition,
        time: u64,
    ) -> Result<gst::Buffer, String> {
        let cursor = self.cursors.get_mut(ci).ok_or("no such track")?;
        let name = cursor.name.clone();
        let discont = std::mem::take(&mut cursor.discont);
        let track = self
            .archive
            .segments
            .get(pos.segment)
            .and_then(|s| s.track(&name))
            .ok_or("track vanished")?;
        let au = track
            .access_units
            .get(pos.au)
            .ok_or("access unit vanished")?;
        let (key, has_ps, nalus, ticks, timebase_us) = (
            au.key,
            au.has_parameter_sets,
            au.nalu_range(),
            au.pts_ticks,
            track.header.timebase_us,
        );
        let mut data = Vec::new();
        if (key || discont) && !has_ps {
            self.parameter_sets(ci, pos, &mut data)?;
        }
        let Reader {
            archive, cursors, ..
        } = self;
        let track = archive
            .segments
            .get(pos.segment)
            .and_then(|s| s.track(&name))
            .ok_or("track vanished")?;
        let cursor = cursors.get_mut(ci).ok_or("no such track")?;
        let file = open_packets(cursor, archive, pos.segment)?;
        track
            .read_nalus_at(file, nalus, &mut data)
            .map_err(|e| format!("reading {name} access unit {}: {e}", pos.au))?;
        let mut buffer = gst::Buffer::from_mut_slice(data);
        {
            let b = buffer.make_mut();
            let pts = clock_time(time);
            b.set_pts(pts);
            b.set_dts(pts);
            let mut flags = gst::BufferFlags::empty();
            if !key {
                flags |= gst::BufferFlags::DELTA_UNIT;
            }
            if discont {
                flags |= gst::BufferFlags::DISCONT;
            }
            b.set_flags(flags);
            // An absurd time base loses the wall clock, not the frame.
            if let Some(wall_clock) = rf1::wall_clock_ns(timebase_us, ticks.into()) {
                gst::ReferenceTimestampMeta::add(
                    b,
                    &self.unix_caps,
                    gst::ClockTime::from_nseconds(wall_clock),
                    gst::ClockTime::NONE,
                );
            }
        }
        Ok(buffer)
    }

    /// Appends the parameter sets in effect at `pos` (looking back into
    /// earlier segments when this one has none yet).
    fn parameter_sets(
        &mut self,
        ci: usize,
        pos: ArchivePosition,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let Reader {
            archive, cursors, ..
        } = self;
        let cursor = cursors.get_mut(ci).ok_or("no such track")?;
        let name = cursor.name.clone();
        for segment in (0..=pos.segment).rev() {
            let Some(track) = archive.segments.get(segment).and_then(|s| s.track(&name)) else {
                continue;
            };
            let Some(last) = track.access_units.len().checked_sub(1) else {
                continue;
            };
            let au = if segment == pos.segment { pos.au } else { last };
            let sets = track.parameter_sets_for(au);
            if sets.is_empty() {
                continue;
            }
            let file = open_packets(cursor, archive, segment)?;
            for n in sets {
                track
                    .read_nalus_at(file, n..n + 1, out)
                    .map_err(|e| format!("reading {name} parameter sets: {e}"))?;
            }
            return Ok(());
        }
        Ok(())
    }

    /// Positions every track for a seek to `target`; returns the earliest
    /// key-frame time used (for KEY_UNIT snapping). Past the end (and not
    /// snapping to a key frame), nothing is left to play.
    fn seek(&mut self, target: u64, snap: bool) -> Option<u64> {
        let mut earliest: Option<u64> = None;
        let past_end = !snap && target > self.duration.nseconds();
        for c in &mut self.cursors {
            let pos = if past_end {
                None
            } else {
                self.archive
                    .key_unit_at_or_before(&c.name, target)
                    .or_else(|| first_position(&self.archive, &c.name))
            };
            if let Some(t) = pos.and_then(|p| self.archive.time_ns(&c.name, p)) {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
            c.next = pos;
            c.discont = true;
            c.last_time = None;
        }
        self.finished = false;
        earliest
    }
}

/// The packet file of `segment` for the cursor's track, kept open while the
/// cursor stays in that segment.
fn open_packets<'a>(
    cursor: &'a mut Cursor,
    archive: &Archive,
    segment: usize,
) -> Result<&'a File, String> {
    if cursor.file.as_ref().is_none_or(|(s, _)| *s != segment) {
        let path = packets_path(archive, segment, &cursor.name)?;
        let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        cursor.file = Some((segment, file));
    }
    match &cursor.file {
        Some((_, file)) => Ok(file),
        None => Err("packet file not open".into()),
    }
}

fn first_position(archive: &Archive, name: &str) -> Option<ArchivePosition> {
    archive
        .segments
        .iter()
        .enumerate()
        .find_map(|(segment, s)| {
            let t = s.track(name)?;
            (!t.access_units.is_empty()).then_some(ArchivePosition { segment, au: 0 })
        })
}

fn last_position(archive: &Archive, name: &str) -> Option<ArchivePosition> {
    archive
        .segments
        .iter()
        .enumerate()
        .rev()
        .find_map(|(segment, s)| {
            let t = s.track(name)?;
            let au = t.access_units.len().checked_sub(1)?;
            Some(ArchivePosition { segment, au })
        })
}

fn packets_path(archive: &Archive, segment: usize, name: &str) -> Result<PathBuf, String> {
    archive
        .segments
        .get(segment)
        .ok_or("segment vanished")?
        .files
        .tracks
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.packets_path.clone())
        .ok_or_else(|| format!("no packet file for track {name}"))
}

pub struct Rf1Src {
    settings: Mutex<Settings>,
    state: Mutex<Option<Reader>>,
    streams: Mutex<OutputStreams>,
    /// The pad whose task runs the streaming loop (the first one).
    task_pad: Mutex<Option<gst::Pad>>,
    /// A seek received before playback started.
    pending_seek: Mutex<Option<gst::Event>>,
    /// Kept apart from `state` so queries never wait for the streaming
    /// thread's file I/O.
    duration: Mutex<Option<gst::ClockTime>>,
    /// The last seek handled (it arrives once per linked pad) and its
    /// result (`None` while it is being handled).
    last_seek: Mutex<Option<(gst::Seqnum, Option<bool>)>>,
    /// GAP events are due on lagging pads before the next push (after
    /// start and after each seek).
    gaps_due: Mutex<bool>,
}

#[glib::object_subclass]
impl ObjectSubclass for Rf1Src {
    const NAME: &'static str = "GstRf1Src";
    type Type = super::Rf1Src;
    type ParentType = gst::Element;
    type Interfaces = (gst::URIHandler,);

    fn new() -> Self {
        Self {
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(None),
            streams: Mutex::new(OutputStreams::default()),
            task_pad: Mutex::new(None),
            pending_seek: Mutex::new(None),
            duration: Mutex::new(None),
            last_seek: Mutex::new(None),
            gaps_due: Mutex::new(false),
        }
    }
}

impl Rf1Src {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let Some(location) = settings.location else {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ["No location set"]
            ));
        };
        let reader = Reader::open(&location, &settings.tracks).map_err(|e| {
            let kind = match e {
                Rf1Error::Io { .. } => gst::ResourceError::Read,
                Rf1Error::NotFound(_)
                | Rf1Error::MissingCompanion(_)
                | Rf1Error::NoTracks { .. } => gst::ResourceError::NotFound,
                _ => gst::ResourceError::Failed,
            };
            gst::error_msg!(
                kind,
                ["Cannot play rf1 recording {}: {}", location.display(), e]
            )
        })?;
        if !reader.problems.is_empty() {
            gst::debug!(CAT, imp = self, "{:?}", reader.problems);
        }
        gst::info!(
            CAT,
            imp = self,
            "Playing {} track(s) from {} segment(s), duration {}",
            reader.cursors.len(),
            reader.archive.segments.len(),
            reader.duration
        );
        let specs: Vec<StreamSpec> = reader
            .cursors
            .iter()
            .filter_map(|c| reader.stream_spec(c))
            .collect();
        let duration = reader.duration;
        // Everything a pad-added handler may ask for is in place before the
        // first pad is added, and no lock is held while adding pads.
        *lock(&self.duration) = Some(duration);
        *lock(&self.state) = Some(reader);
        *lock(&self.last_seek) = None;
        *lock(&self.gaps_due) = true;
        let element: gst::Element = self.obj().clone().upcast();
        let mut streams = OutputStreams::default();
        let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
        segment.set_start(gst::ClockTime::ZERO);
        segment.set_duration(duration);
        streams.set_segment(segment, gst::Seqnum::next());
        let mut added = Ok(());
        for spec in specs {
            added = streams.add_stream(&element, spec, |builder| {
                builder
                    .event_function(|pad, parent, event| {
                        Rf1Src::catch_panic_pad_function(
                            parent,
                            || false,
                            |imp| imp.src_event(pad, event),
                        )
                    })
                    .query_function(|pad, parent, query| {
                        Rf1Src::catch_panic_pad_function(
                            parent,
                            || false,
                            |imp| imp.src_query(pad, query),
                        )
                    })
            });
            if added.is_err() {
                break;
            }
        }
        // Pads added so far are handed over even on failure, so stop() removes them.
        let task_pad = streams.pads().first().cloned();
        *lock(&self.streams) = streams;
        added?;
        *lock(&self.task_pad) = task_pad;
        element.no_more_pads();
        let pending = lock(&self.pending_seek).take();
        if let Some(event) = pending
            && let gst::EventView::Seek(seek) = event.view()
        {
            let planned = self.plan_seek(seek);
            match planned {
                Ok(segment) => self.apply_seek(seek, segment),
                Err(msg) => gst::warning!(CAT, imp = self, "Seek before start failed: {}", msg),
            }
        }
        self.start_task()
            .map_err(|e| gst::error_msg!(gst::CoreError::Thread, ["Failed to start task: {}", e]))
    }

    fn start_task(&self) -> Result<(), glib::BoolError> {
        let Some(pad) = lock(&self.task_pad).clone() else {
            return Ok(());
        };
        let weak = self.obj().downgrade();
        pad.start_task(move || {
            let Some(obj) = weak.upgrade() else { return };
            let imp = obj.imp();
            // A panic must not unwind into GStreamer's task thread (abort) nor
            // leave the element stuck: report it and stop streaming.
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| imp.stream_loop()));
            if outcome.is_err() {
                gst::element_imp_error!(
                    imp,
                    gst::StreamError::Failed,
                    ["Internal error in the rf1src streaming thread"]
                );
                OutputStreams::push_event_all(&imp.streams, &gst::event::Eos::new());
                imp.pause_task();
            }
        })
    }

    fn pause_task(&self) {
        let pad = lock(&self.task_pad).clone();
        if let Some(pad) = pad {
            let _ = pad.pause_task();
        }
    }

    fn stop(&self) {
        let pad = lock(&self.task_pad).take();
        if let Some(pad) = pad {
            let _ = pad.stop_task();
        }
        *lock(&self.state) = None;
        *lock(&self.duration) = None;
        *lock(&self.last_seek) = None;
        let mut streams = std::mem::take(&mut *lock(&self.streams));
        streams.remove_all(self.obj().upcast_ref());
    }

    /// After a start or a seek: a pad whose first access unit comes later
    /// than the earliest one gets a GAP up to it, so its sink prerolls while
    /// the other pads fill their queues (and a pad with nothing left gets an
    /// open GAP). Without this, small queues on the early pad block the
    /// only streaming thread before the late pad ever prerolls.
    fn send_gaps(&self) {
        if !std::mem::take(&mut *lock(&self.gaps_due)) {
            return;
        }
        let times: Vec<(String, Option<u64>)> = {
            let guard = lock(&self.state);
            let Some(reader) = guard.as_ref() else { return };
            reader
                .cursors
                .iter()
                .map(|c| (c.name.clone(), reader.next_time(c)))
                .collect()
        };
        if times.len() < 2 {
            return;
        }
        let Some(earliest) = times.iter().filter_map(|(_, t)| *t).min() else {
            return;
        };
        let (segment, seqnum) = {
            let streams = lock(&self.streams);
            (streams.segment().clone(), streams.seqnum())
        };
        let from = clock_time(earliest).max(segment.start().unwrap_or_default());
        for (name, time) in times {
            if time == Some(earliest) {
                continue;
            }
            let Some(pad) = self.obj().static_pad(&name) else {
                continue;
            };
            let duration = time.map(|t| clock_time(t).saturating_sub(from));
            if duration.is_some_and(|d| d.is_zero()) {
                continue;
            }
            // The segment must precede the GAP; the same one follows with the first buffer.
            pad.push_event(
                gst::event::Segment::builder(&segment)
                    .seqnum(seqnum)
                    .build(),
            );
            pad.push_event(
                gst::event::Gap::builder(from)
                    .duration(duration)
                    .seqnum(seqnum)
                    .build(),
            );
        }
    }

    fn stream_loop(&self) {
        self.send_gaps();
        let step = {
            let mut guard = lock(&self.state);
            let Some(reader) = guard.as_mut() else {
                drop(guard);
                self.pause_task();
                return;
            };
            if reader.finished {
                Ok(Step::Done)
            } else {
                reader.step()
            }
        };
        match step {
            Ok(Step::Continue) => {}
            Ok(Step::Push(unit)) => match OutputStreams::push(&self.streams, unit.key, unit.buffer)
            {
                Ok(_) => {}
                Err(gst::FlowError::Eos) => {
                    self.finish();
                    self.pause_task();
                }
                Err(gst::FlowError::Flushing) => {
                    gst::debug!(CAT, imp = self, "Pausing task: flushing");
                    self.pause_task();
                }
                Err(err) => {
                    gst::debug!(CAT, imp = self, "Pausing task: {:?}", err);
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Failed,
                        ("Internal data stream error"),
                        ["streaming stopped, reason {:?}", err]
                    );
                    OutputStreams::push_event_all(&self.streams, &gst::event::Eos::new());
                    self.pause_task();
                }
            },
            Ok(Step::Done) => {
                self.finish();
                self.pause_task();
            }
            Err(msg) => {
                gst::element_imp_error!(self, gst::ResourceError::Read, ["{}", msg]);
                OutputStreams::push_event_all(&self.streams, &gst::event::Eos::new());
                self.pause_task();
            }
        }
    }

    /// Posts the summary WARNING (if anything was damaged), then EOS or
    /// SEGMENT_DONE.
    fn finish(&self) {
        let (problems, skipped, segment_done) = {
            let mut guard = lock(&self.state);
            let Some(reader) = guard.as_mut() else { return };
            if reader.finished {
                return;
            }
            reader.finished = true;
            (
                std::mem::take(&mut reader.problems),
                std::mem::take(&mut reader.skipped_backwards),
                reader.segment_flags.contains(gst::SegmentFlags::SEGMENT),
            )
        };
        if !problems.is_empty() || skipped > 0 {
            let mut text = problems.join("\n");
            if skipped > 0 {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&format!(
                    "{skipped} access unit(s) skipped: earlier than what was already played (overlapping segments)"
                ));
            }
            gst::element_imp_warning!(
                self,
                gst::StreamError::Demux,
                ("Damaged rf1 recording: played every access unit that could be read"),
                ["{}", text]
            );
        }
        if segment_done {
            OutputStreams::finish_segment(&self.streams, self.obj().upcast_ref());
            // Last: a prerolling sink blocks on the GAP until PLAYING.
            self.preroll_idle_pads();
            return;
        }
        OutputStreams::finish(&self.streams);
    }

    /// After SEGMENT_DONE (which does not preroll a sink): every pad gets
    /// its segment and a GAP after what it played, so a pipeline waiting
    /// for preroll (e.g. after a seek to or past the end, where every
    /// buffer is clipped) completes its state change.
    fn preroll_idle_pads(&self) {
        let (segment, seqnum) = {
            let streams = lock(&self.streams);
            (streams.segment().clone(), streams.seqnum())
        };
        let pads: Vec<(String, Option<u64>)> = {
            let guard = lock(&self.state);
            let Some(reader) = guard.as_ref() else { return };
            reader
                .cursors
                .iter()
                .map(|c| (c.name.clone(), c.last_time))
                .collect()
        };
        let start = segment.start().unwrap_or_default();
        for (name, last_time) in pads {
            if let Some(pad) = self.obj().static_pad(&name) {
                let at = last_time.map_or(start, |t| clock_time(t).max(start));
                pad.push_event(
                    gst::event::Segment::builder(&segment)
                        .seqnum(seqnum)
                        .build(),
                );
                pad.push_event(gst::event::Gap::builder(at).seqnum(seqnum).build());
            }
        }
    }

    fn src_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Seek(seek) => self.handle_seek(seek),
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    fn duration(&self) -> Option<gst::ClockTime> {
        *lock(&self.duration)
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let Some(answered) =
            OutputStreams::answer_time_query(&self.streams, query, true, || self.duration())
        {
            return answered;
        }
        match query.view_mut() {
            gst::QueryViewMut::Latency(q) => {
                q.set(false, gst::ClockTime::ZERO, gst::ClockTime::NONE);
                true
            }
            gst::QueryViewMut::Scheduling(q) => {
                q.set(gst::SchedulingFlags::SEQUENTIAL, 1, -1, 0);
                q.add_scheduling_modes([gst::PadMode::Push]);
                true
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    /// Handles a seek once per seqnum: a pipeline seek arrives through every
    /// linked pad; the repeats get the first one's answer.
    fn handle_seek(&self, seek: &gst::event::Seek) -> bool {
        let seqnum = seek.seqnum();
        {
            let mut last = lock(&self.last_seek);
            if let Some((handled, result)) = *last
                && handled == seqnum
            {
                gst::debug!(CAT, imp = self, "Seek {:?} already handled", seqnum);
                return result.unwrap_or(true);
            }
            *last = Some((seqnum, None));
        }
        let result = match self.do_handle_seek(seek) {
            Ok(()) => true,
            Err(msg) => {
                gst::warning!(CAT, imp = self, "Seek failed: {}", msg);
                false
            }
        };
        if let Some((handled, outcome)) = lock(&self.last_seek).as_mut()
            && *handled == seqnum
        {
            *outcome = Some(result);
        }
        result
    }

    fn do_handle_seek(&self, seek: &gst::event::Seek) -> Result<(), String> {
        let Some(task_pad) = lock(&self.task_pad).clone() else {
            return Err("not playing".into());
        };
        // Everything is checked on a copy of the segment before anything
        // reaches the pipeline: an invalid seek changes nothing.
        let segment = self.plan_seek(seek)?;
        let flags = seek.flags();
        let seqnum = seek.seqnum();
        let flush = flags.contains(gst::SeekFlags::FLUSH);
        if flush {
            let ev = gst::event::FlushStart::builder().seqnum(seqnum).build();
            OutputStreams::push_event_all(&self.streams, &ev);
        } else {
            let _ = task_pad.pause_task();
        }
        let stream_lock = task_pad.stream_lock();
        if flush {
            let ev = gst::event::FlushStop::builder(true).seqnum(seqnum).build();
            OutputStreams::push_event_all(&self.streams, &ev);
        }
        self.apply_seek(seek, segment);
        drop(stream_lock);
        let _ = self.start_task();
        Ok(())
    }

    /// The output segment `seek` gives, computed on a copy of the current
    /// one; an error for a seek that cannot be done (nothing is changed).
    fn plan_seek(
        &self,
        seek: &gst::event::Seek,
    ) -> Result<gst::FormattedSegment<gst::ClockTime>, String> {
        let (rate, flags, start_type, start, stop_type, stop) = seek.get();
        if rate <= 0.0 {
            return Err("only forward playback is supported".into());
        }
        if start.format() != gst::Format::Time || stop.format() != gst::Format::Time {
            return Err(format!("cannot seek in {:?}", start.format()));
        }
        let mut segment = lock(&self.streams).segment().clone();
        let start: Option<gst::ClockTime> = start.try_into().ok().flatten();
        let stop: Option<gst::ClockTime> = stop.try_into().ok().flatten();
        // gst_segment_do_seek asserts start <= stop (a CRITICAL): check first.
        let resolve = |kind: gst::SeekType,
                       value: Option<gst::ClockTime>,
                       current: Option<gst::ClockTime>|
         -> Option<gst::ClockTime> {
            match kind {
                gst::SeekType::Set => value,
                gst::SeekType::End => segment
                    .duration()
                    .zip(value)
                    .map(|(d, v)| d.saturating_sub(v)),
                _ => current,
            }
        };
        let new_start = resolve(start_type, start, segment.start());
        let new_stop = resolve(stop_type, stop, segment.stop());
        if let (Some(a), Some(b)) = (new_start, new_stop)
            && a > b
        {
            return Err(format!("invalid seek: start {a} after stop {b}"));
        }
        segment
            .do_seek(rate, flags, start_type, start, stop_type, stop)
            .ok_or_else(|| "invalid seek".to_string())?;
        Ok(segment)
    }

    /// Positions the reader and the output segment (the task is not
    /// running). Also used for a seek received before starting.
    fn apply_seek(
        &self,
        seek: &gst::event::Seek,
        mut segment: gst::FormattedSegment<gst::ClockTime>,
    ) {
        let flags = seek.flags();
        let seqnum = seek.seqnum();
        {
            let mut guard = lock(&self.state);
            if let Some(reader) = guard.as_mut() {
                let target = segment.start().unwrap_or_default();
                let snap = flags.contains(gst::SeekFlags::KEY_UNIT);
                let key_time = reader.seek(target.nseconds(), snap);
                gst::debug!(
                    CAT,
                    imp = self,
                    "Seek to {} starts at key frame {:?} ns",
                    target,
                    key_time
                );
                if let (true, Some(t)) = (snap, key_time) {
                    let t = clock_time(t);
                    segment.set_start(t);
                    segment.set_time(t);
                    segment.set_position(t);
                }
                reader.stop = segment.stop().map(|s| s.nseconds());
                reader.segment_flags = segment.flags();
            }
        }
        {
            let mut streams = lock(&self.streams);
            streams.reset_flow();
            streams.set_segment(segment.clone(), seqnum);
        }
        *lock(&self.gaps_due) = true;
        if flags.contains(gst::SeekFlags::SEGMENT) {
            let obj = self.obj();
            let _ = obj.post_message(
                gst::message::SegmentStart::builder(segment.start().unwrap_or_default())
                    .src(&*obj)
                    .seqnum(seqnum)
                    .build(),
            );
        }
    }

    fn set_location(&self, location: Option<PathBuf>) -> Result<(), glib::Error> {
        if lock(&self.state).is_some() {
            return Err(glib::Error::new(
                gst::URIError::BadState,
                "Changing the location is not supported while playing",
            ));
        }
        lock(&self.settings).location = location;
        Ok(())
    }
}

impl ObjectImpl for Rf1Src {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb(
                        "A segment base (dir/<start-ms>), a track file (dir/<base>_<track>.rf1i \
                         or .rf1p; plays its whole segment) or a camera directory (every segment \
                         in time order as one stream)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("tracks")
                    .nick("Tracks")
                    .blurb("Comma-separated track names to play (default: every track)")
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "location" => {
                let location: Option<String> = value.get().expect("type checked upstream");
                if let Err(e) = self.set_location(location.map(PathBuf::from)) {
                    gst::warning!(CAT, imp = self, "{}", e);
                }
            }
            "tracks" => {
                let tracks: Option<String> = value.get().expect("type checked upstream");
                lock(&self.settings).tracks = tracks
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(Into::into)
                    .collect();
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = lock(&self.settings);
        match pspec.name() {
            "location" => settings
                .location
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .to_value(),
            "tracks" => (!settings.tracks.is_empty())
                .then(|| settings.tracks.join(","))
                .to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for Rf1Src {}

impl ElementImpl for Rf1Src {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Cyclops rf1 source",
                "Source/Video",
                "Plays Cyclops NVR rf1 recordings (segments or whole camera directories) as \
                 H.264/H.265 byte-stream, one pad per track, with wall-clock time per frame and \
                 index-based seeking",
                "gst-cctv developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let mut caps = gst::Caps::new_empty();
            {
                let caps = caps.get_mut().unwrap();
                for name in ["video/x-h264", "video/x-h265"] {
                    caps.append(
                        gst::Caps::builder(name)
                            .field("stream-format", "byte-stream")
                            .field("alignment", "au")
                            .build(),
                    );
                }
            }
            vec![
                gst::PadTemplate::new(
                    PAD_TEMPLATE,
                    gst::PadDirection::Src,
                    gst::PadPresence::Sometimes,
                    &caps,
                )
                .unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        gst::trace!(CAT, imp = self, "Changing state {:?}", transition);
        if transition == gst::StateChange::ReadyToPaused
            && let Err(err) = self.start()
        {
            self.post_error_message(err);
            self.stop();
            return Err(gst::StateChangeError);
        }
        let ret = self.parent_change_state(transition);
        if transition == gst::StateChange::PausedToReady
            || (transition == gst::StateChange::ReadyToPaused && ret.is_err())
        {
            self.stop();
        }
        ret
    }

    fn send_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Seek(seek) => {
                let pad = lock(&self.task_pad).clone();
                match pad {
                    Some(pad) => self.src_event(&pad, event),
                    None => {
                        // Not started (READY): applied when playback starts,
                        // like basesrc does; no flush needed.
                        let (rate, _, _, start, _, _) = seek.get();
                        if rate <= 0.0 || start.format() != gst::Format::Time {
                            return false;
                        }
                        *lock(&self.pending_seek) = Some(event);
                        true
                    }
                }
            }
            _ => self.parent_send_event(event),
        }
    }
}

impl URIHandlerImpl for Rf1Src {
    const URI_TYPE: gst::URIType = gst::URIType::Src;

    fn protocols() -> &'static [&'static str] {
        &["rf1", "file"]
    }

    fn uri(&self) -> Option<String> {
        let location = lock(&self.settings).location.clone()?;
        let absolute = if location.is_absolute() {
            location
        } else {
            std::env::current_dir().ok()?.join(location)
        };
        let uri = glib::filename_to_uri(&absolute, None).ok()?;
        Some(uri.replacen("file://", "rf1://", 1))
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        let file_uri = if let Some(rest) = uri.strip_prefix("rf1://") {
            format!("file://{rest}")
        } else if uri.starts_with("file://") {
            uri.to_owned()
        } else {
            return Err(glib::Error::new(
                gst::URIError::UnsupportedProtocol,
                &format!("Unsupported URI {uri}: use rf1:///path or file:///path"),
            ));
        };
        let (path, _) = glib::filename_from_uri(&file_uri).map_err(|e| {
            glib::Error::new(gst::URIError::BadUri, &format!("Invalid URI {uri}: {e}"))
        })?;
        self.set_location(Some(path))
    }
}
