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
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "rf1src",
        gst::DebugColorFlags::empty(),
        Some("Cyclops rf1 source"),
    )
});

const PAD_TEMPLATE: &str = "%s";

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
            duration: gst::ClockTime::from_nseconds(duration),
            problems: Vec::new(),
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
            let tags = tags.get_mut().unwrap();
            tags.add::<gst::tags::Title>(&cursor.name.as_str(), gst::TagMergeMode::Replace);
            tags.add::<gst::tags::ContainerFormat>(&"Cyclops rf1", gst::TagMergeMode::Replace);
            let codec = match header.codec {
                Codec::H264 => "H.264",
                Codec::H265 => "H.265",
            };
            tags.add::<gst::tags::VideoCodec>(&codec, gst::TagMergeMode::Replace);
            if let Ok(us) = i64::try_from(header.timebase_us)
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

    /// The next access unit in time order over all tracks.
    fn step(&mut self) -> Result<Step, String> {
        let mut best: Option<(usize, u64)> = None;
        for (i, c) in self.cursors.iter().enumerate() {
            let Some(pos) = c.next else { continue };
            let time = self.archive.time_ns(&c.name, pos).unwrap_or(0);
            if best.is_none_or(|(_, t)| time < t) {
                best = Some((i, time));
            }
        }
        let Some((ci, time)) = best else {
            return Ok(Step::Done);
        };
        if self.stop.is_some_and(|stop| time >= stop) {
            self.cursors[ci].next = None;
            return Ok(Step::Continue);
        }
        let pos = self.cursors[ci].next.expect("chosen cursor has a position");
        let name = self.cursors[ci].name.clone();
        let next = self.archive.next_au(&name, pos);
        if next.is_none_or(|n| n.segment != pos.segment) {
            self.note_problems(pos.segment, &name);
        }
        self.cursors[ci].next = next;
        if self.cursors[ci].last_time.is_some_and(|last| time < last) {
            // Overlapping segments: never let time go backwards on a pad.
            self.skipped_backwards += 1;
            self.cursors[ci].discont = true;
            return Ok(Step::Continue);
        }
        let buffer = self.read_buffer(ci, pos, time)?;
        self.cursors[ci].last_time = Some(time);
        Ok(Step::Push(Unit {
            key: self.cursors[ci].key,
            buffer,
        }))
    }

    fn read_buffer(
        &mut self,
        ci: usize,
        pos: ArchivePosition,
        time: u64,
    ) -> Result<gst::Buffer, String> {
        let name = self.cursors[ci].name.clone();
        let discont = std::mem::take(&mut self.cursors[ci].discont);
        let archive_segment = &self.archive.segments[pos.segment];
        let track = archive_segment.track(&name).ok_or("track vanished")?;
        let au = &track.access_units[pos.au];
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
        let track = archive.segments[pos.segment]
            .track(&name)
            .ok_or("track vanished")?;
        let file = open_packets(&mut cursors[ci], archive, pos.segment)?;
        track
            .read_nalus_at(file, nalus, &mut data)
            .map_err(|e| format!("reading {name} access unit {}: {e}", pos.au))?;
        let mut buffer = gst::Buffer::from_mut_slice(data);
        {
            let b = buffer.get_mut().expect("new buffer is writable");
            let pts = gst::ClockTime::from_nseconds(time);
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
            gst::ReferenceTimestampMeta::add(
                b,
                &self.unix_caps,
                gst::ClockTime::from_nseconds(rf1::absolute_ns(timebase_us, ticks.into())),
                gst::ClockTime::NONE,
            );
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
        let name = self.cursors[ci].name.clone();
        let Reader {
            archive, cursors, ..
        } = self;
        for segment in (0..=pos.segment).rev() {
            let Some(track) = archive.segments[segment].track(&name) else {
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
            let file = open_packets(&mut cursors[ci], archive, segment)?;
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
    /// key-frame time used (for KEY_UNIT snapping).
    fn seek(&mut self, target: u64) -> Option<u64> {
        let mut earliest: Option<u64> = None;
        for c in &mut self.cursors {
            let pos = self
                .archive
                .key_unit_at_or_before(&c.name, target)
                .or_else(|| first_position(&self.archive, &c.name));
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
    Ok(&cursor.file.as_ref().expect("just opened").1)
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
    archive.segments[segment]
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
        }
    }
}

impl Rf1Src {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
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
        let element: gst::Element = self.obj().clone().upcast();
        {
            let mut streams = self.streams.lock().unwrap();
            let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
            segment.set_start(gst::ClockTime::ZERO);
            segment.set_duration(reader.duration);
            streams.set_segment(segment, gst::Seqnum::next());
            for cursor in &reader.cursors {
                let Some(spec) = reader.stream_spec(cursor) else {
                    continue;
                };
                streams.add_stream(&element, spec, |builder| {
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
                })?;
            }
            *self.task_pad.lock().unwrap() = streams.pads().first().cloned();
        }
        gst::info!(
            CAT,
            imp = self,
            "Playing {} track(s) from {} segment(s), duration {}",
            reader.cursors.len(),
            reader.archive.segments.len(),
            reader.duration
        );
        *self.state.lock().unwrap() = Some(reader);
        element.no_more_pads();
        if let Some(event) = self.pending_seek.lock().unwrap().take()
            && let gst::EventView::Seek(seek) = event.view()
            && let Err(msg) = self.apply_seek(seek)
        {
            gst::warning!(CAT, imp = self, "Seek before start failed: {}", msg);
        }
        self.start_task()
            .map_err(|e| gst::error_msg!(gst::CoreError::Thread, ["Failed to start task: {}", e]))
    }

    fn start_task(&self) -> Result<(), glib::BoolError> {
        let Some(pad) = self.task_pad.lock().unwrap().clone() else {
            return Ok(());
        };
        let weak = self.obj().downgrade();
        pad.start_task(move || {
            if let Some(obj) = weak.upgrade() {
                obj.imp().stream_loop();
            }
        })
    }

    fn pause_task(&self) {
        if let Some(pad) = self.task_pad.lock().unwrap().clone() {
            let _ = pad.pause_task();
        }
    }

    fn stop(&self) {
        if let Some(pad) = self.task_pad.lock().unwrap().take() {
            let _ = pad.stop_task();
        }
        *self.state.lock().unwrap() = None;
        let mut streams = self.streams.lock().unwrap();
        streams.remove_all(self.obj().upcast_ref());
        *streams = OutputStreams::default();
    }

    fn stream_loop(&self) {
        let step = {
            let mut guard = self.state.lock().unwrap();
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
            let mut guard = self.state.lock().unwrap();
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
                ("Damaged rf1 recording: played every complete access unit before the damage"),
                ["{}", text]
            );
        }
        if segment_done {
            OutputStreams::finish_segment(&self.streams, self.obj().upcast_ref());
            return;
        }
        OutputStreams::finish(&self.streams);
    }

    fn src_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Seek(seek) => match self.handle_seek(seek) {
                Ok(()) => true,
                Err(msg) => {
                    gst::warning!(CAT, imp = self, "Seek failed: {}", msg);
                    false
                }
            },
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    fn duration(&self) -> Option<gst::ClockTime> {
        self.state.lock().unwrap().as_ref().map(|r| r.duration)
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

    fn handle_seek(&self, seek: &gst::event::Seek) -> Result<(), String> {
        let (rate, flags, _, start, _, _) = seek.get();
        if rate <= 0.0 {
            return Err("only forward playback is supported".into());
        }
        if start.format() != gst::Format::Time {
            return Err(format!("cannot seek in {:?}", start.format()));
        }
        let Some(task_pad) = self.task_pad.lock().unwrap().clone() else {
            return Err("not playing".into());
        };
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

        let outcome = self.apply_seek(seek);
        drop(stream_lock);
        let _ = self.start_task();
        outcome
    }

    /// Positions the reader and the output segment for `seek` (the task is
    /// not running). Also used for a seek received before starting.
    fn apply_seek(&self, seek: &gst::event::Seek) -> Result<(), String> {
        let (rate, flags, start_type, start, stop_type, stop) = seek.get();
        let seqnum = seek.seqnum();
        let mut segment = self.streams.lock().unwrap().segment().clone();
        let start: Option<gst::ClockTime> = start.try_into().ok().flatten();
        let stop: Option<gst::ClockTime> = stop.try_into().ok().flatten();
        let outcome = segment
            .do_seek(rate, flags, start_type, start, stop_type, stop)
            .ok_or_else(|| "invalid seek".to_string())
            .and_then(|_| {
                let mut guard = self.state.lock().unwrap();
                let reader = guard.as_mut().ok_or("not running")?;
                let target = segment.start().unwrap_or_default();
                let key_time = reader.seek(target.nseconds());
                gst::debug!(
                    CAT,
                    imp = self,
                    "Seek to {} starts at key frame {:?} ns",
                    target,
                    key_time
                );
                if let (true, Some(t)) = (flags.contains(gst::SeekFlags::KEY_UNIT), key_time) {
                    let t = gst::ClockTime::from_nseconds(t);
                    segment.set_start(t);
                    segment.set_time(t);
                    segment.set_position(t);
                }
                reader.stop = segment.stop().map(|s| s.nseconds());
                reader.segment_flags = segment.flags();
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
            let obj = self.obj();
            let _ = obj.post_message(
                gst::message::SegmentStart::builder(segment.start().unwrap_or_default())
                    .src(&*obj)
                    .seqnum(seqnum)
                    .build(),
            );
        }
        outcome
    }

    fn set_location(&self, location: Option<PathBuf>) -> Result<(), glib::Error> {
        if self.state.lock().unwrap().is_some() {
            return Err(glib::Error::new(
                gst::URIError::BadState,
                "Changing the location is not supported while playing",
            ));
        }
        self.settings.lock().unwrap().location = location;
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
                self.settings.lock().unwrap().tracks = tracks
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
        let settings = self.settings.lock().unwrap();
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
                let pad = self.task_pad.lock().unwrap().clone();
                match pad {
                    Some(pad) => self.src_event(&pad, event),
                    None => {
                        // Not started (READY): applied when playback starts,
                        // like basesrc does; no flush needed.
                        let (rate, _, _, start, _, _) = seek.get();
                        if rate <= 0.0 || start.format() != gst::Format::Time {
                            return false;
                        }
                        *self.pending_seek.lock().unwrap() = Some(event);
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
        let location = self.settings.lock().unwrap().location.clone()?;
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
