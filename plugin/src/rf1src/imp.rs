// SPDX-License-Identifier: MIT
//! Element glue for `rf1src`: a source with one sometimes pad per track,
//! driving the GStreamer-free [`Rf1Engine`] (which merges the tracks'
//! access units by time across the segments of an archive and seeks by
//! index) from a streaming task.
//!
//! Locking: the engine lives in `state`, the pads in `streams`; neither lock
//! is held while pads are added, buffers or events are pushed, or messages
//! are posted. Queries read stored values only.

use crate::common::present::{self, BufferMaker, GstChunk, clock_time};
use crate::common::seek::{self, SeekOnce, SeekTarget};
use crate::common::streams::{OutputStreams, StreamSpec, lock};
use crate::engine::formats::rf1::Rf1Engine;
use crate::engine::{StreamId, StreamInfo, StreamKind};
use crate::formats::rf1::Rf1Error;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "rf1src",
        gst::DebugColorFlags::empty(),
        Some("Cyclops rf1 source"),
    )
});

const PAD_TEMPLATE: &str = "%s";
/// The capture-time subtitle pad.
const SUBTITLE_PAD_TEMPLATE: &str = "subtitle";

/// Packets turned into buffers per pass of the streaming loop (the engine
/// lock is released between passes).
const BATCH: usize = 16;

#[derive(Debug, Clone, Default)]
struct Settings {
    location: Option<PathBuf>,
    /// Track names to play; empty = every track.
    tracks: Vec<String>,
    /// A `subtitle` pad with the capture time. Off by default: with it,
    /// playbin's subtitle overlay still stalls at the end now and then
    /// (README, known issue); conversions turn it on.
    subtitles: bool,
    /// The zone the cues show capture times in (default UTC).
    timezone: Option<crate::engine::zone::Zone>,
    /// Recorder clock minus true time (ns): the cues show true time.
    clock_offset_ns: i64,
}

struct Running {
    engine: Rf1Engine<GstChunk>,
    maker: BufferMaker,
    /// Tracks negotiated to length-prefixed output (`stream-format=avc`).
    avc: Vec<StreamId>,
    /// EOS (or SEGMENT_DONE) was sent for the current segment.
    finished: bool,
}

pub struct Rf1Src {
    settings: Mutex<Settings>,
    state: Mutex<Option<Running>>,
    streams: Mutex<OutputStreams<StreamId>>,
    /// The pad whose task runs the streaming loop (a pad of its own, not
    /// one of the element's).
    task_pad: Mutex<Option<gst::Pad>>,
    /// The streams whose pads the streaming task has still to add, with
    /// their stream ids.
    unexposed: Mutex<Option<Vec<(StreamInfo, String)>>>,
    /// A seek received before playback started.
    pending_seek: Mutex<Option<gst::Event>>,
    /// Kept apart from `state` so queries never wait for the streaming
    /// thread's file I/O.
    duration: Mutex<Option<gst::ClockTime>>,
    /// A seek arrives once per linked pad: handled once.
    last_seek: SeekOnce,
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
            unexposed: Mutex::new(None),
            pending_seek: Mutex::new(None),
            duration: Mutex::new(None),
            last_seek: SeekOnce::default(),
            gaps_due: Mutex::new(false),
        }
    }
}

/// What the streaming thread does once the engine lock is released.
enum Work {
    Push(StreamId, gst::Buffer),
    /// The track has nothing left after what was pushed before.
    End(StreamId),
    Done,
    Failed(String),
}

impl Rf1Src {
    /// The location played, for messages.
    fn location_text(&self) -> String {
        lock(&self.settings)
            .location
            .as_ref()
            .map_or_else(|| "(no location)".into(), |l| l.display().to_string())
    }

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let Some(location) = settings.location else {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("No location set")
            ));
        };
        let mut engine = Rf1Engine::<GstChunk>::open(&location, &settings.tracks).map_err(|e| {
            let kind = match e {
                Rf1Error::Io { .. } => gst::ResourceError::Read,
                Rf1Error::NotFound(_)
                | Rf1Error::MissingCompanion(_)
                | Rf1Error::NoTracks { .. } => gst::ResourceError::NotFound,
                _ => gst::ResourceError::Failed,
            };
            gst::error_msg!(
                kind,
                ("Cannot play rf1 recording {}: {}", location.display(), e)
            )
        })?;
        engine.set_subtitles(settings.subtitles);
        engine.set_timezone(settings.timezone.clone());
        engine.set_clock_offset(settings.clock_offset_ns);
        if engine.damage().any() {
            gst::debug!(CAT, imp = self, "{}", engine.damage().describe());
        }
        let infos = engine.streams();
        let main_first = engine.tracks_main_first();
        let duration = clock_time(engine.duration_ns());
        gst::info!(
            CAT,
            imp = self,
            "Playing {} track(s) from {} segment(s), duration {}",
            infos.len(),
            engine.archive().segments.len(),
            duration
        );
        // Everything a pad-added handler may ask for is in place before the
        // first pad is added (by the task), and no lock is held while adding
        // pads.
        *lock(&self.duration) = Some(duration);
        *lock(&self.state) = Some(Running {
            engine,
            maker: BufferMaker::default(),
            avc: Vec::new(),
            finished: false,
        });
        self.last_seek.reset();
        *lock(&self.gaps_due) = true;
        {
            let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
            segment.set_start(gst::ClockTime::ZERO);
            segment.set_duration(duration);
            let mut streams = OutputStreams::default();
            streams.set_segment(segment, gst::Seqnum::next());
            *lock(&self.streams) = streams;
        }
        // The pads are added by the streaming task, not here: pad-added and
        // no-more-pads handlers (parsebin posting its stream collection,
        // which decodebin3 handles under its input lock) must not run while
        // this element's and its parents' state locks are held. decodebin3
        // takes that input lock and then sets parsebin's state, which waits
        // for our state lock: playbin3 on a two-track .rf1i deadlocked
        // before preroll now and then (as pull-mode demuxers do, pads come
        // from the streaming thread).
        let ranked = engine_order_ids(&infos, &main_first);
        *lock(&self.unexposed) = Some(ranked);
        let pending = lock(&self.pending_seek).take();
        if let Some(event) = pending
            && let gst::EventView::Seek(seek) = event.view()
        {
            self.apply_pending_seek(seek);
        }
        // The task runs on a pad of its own, never added to the element: the
        // stream pads do not exist yet when it starts.
        let task_pad = gst::Pad::builder(gst::PadDirection::Src)
            .name("streaming-task")
            .build();
        *lock(&self.task_pad) = Some(task_pad);
        self.start_task()
            .map_err(|e| gst::error_msg!(gst::CoreError::Thread, ("Failed to start task: {}", e)))
    }

    /// Adds the pads of the streams found by [`Rf1Src::start`] (once, from
    /// the streaming thread), then signals no-more-pads.
    fn expose_pads(&self) -> Result<(), gst::ErrorMessage> {
        let Some(infos) = lock(&self.unexposed).take() else {
            return Ok(());
        };
        let element: gst::Element = self.obj().clone().upcast();
        for (info, stream_id) in &infos {
            let spec = StreamSpec {
                key: info.id,
                template: if info.id.kind == StreamKind::Subtitle {
                    SUBTITLE_PAD_TEMPLATE
                } else {
                    PAD_TEMPLATE
                },
                pad_name: info.name.clone(),
                stream_id: stream_id.clone(),
                caps: present::caps(info),
                tags: present::tag_list(&info.tags),
                flags: present::stream_flags(info),
            };
            // Pads added so far stay in `streams` on failure: stop() removes them.
            let mut avc = false;
            OutputStreams::add_stream_negotiated(
                &self.streams,
                &element,
                spec,
                |builder| {
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
                },
                |pad| {
                    let caps = present::negotiate_avc(pad, info)?;
                    avc = true;
                    Some(caps)
                },
            )?;
            if avc && let Some(running) = lock(&self.state).as_mut() {
                running.avc.push(info.id);
            }
        }
        element.no_more_pads();
        Ok(())
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
                imp.send_eos();
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
        *lock(&self.unexposed) = None;
        *lock(&self.duration) = None;
        self.last_seek.reset();
        let mut streams = std::mem::take(&mut *lock(&self.streams));
        streams.remove_all(self.obj().upcast_ref());
    }

    fn send_eos(&self) {
        let seqnum = lock(&self.streams).seqnum();
        OutputStreams::push_event_all(
            &self.streams,
            &gst::event::Eos::builder().seqnum(seqnum).build(),
        );
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
        let times = match lock(&self.state).as_ref() {
            Some(running) => running.engine.next_times(),
            None => return,
        };
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

    /// Runs the engine under its lock for a batch of buffers.
    fn collect(&self) -> Vec<Work> {
        // Read before the engine lock (never both at once).
        let looping = lock(&self.streams)
            .segment()
            .flags()
            .contains(gst::SegmentFlags::SEGMENT);
        let mut work = Vec::new();
        let mut guard = lock(&self.state);
        let Some(running) = guard.as_mut() else {
            return work;
        };
        if running.finished {
            work.push(Work::Done);
            return work;
        }
        while work.len() < BATCH {
            match running.engine.next_packet() {
                Ok(Some(packet)) => {
                    let stream = packet.stream;
                    let avc = running.avc.contains(&stream);
                    if let Some(buffer) = running.maker.buffer(packet, avc) {
                        work.push(Work::Push(stream, buffer));
                    }
                }
                Ok(None) => {
                    work.push(Work::Done);
                    break;
                }
                Err(e) => {
                    work.push(Work::Failed(e.to_string()));
                    break;
                }
            }
        }
        // Tracks with nothing left end after their last buffer, not with
        // the last track: playbin3 (decodebin3, 1.22) showing two_tracks'
        // `video`, which ends 0.5 s before `lowres`, never reported the end
        // of playback otherwise. Not in a segment seek, whose playback
        // loops: there every track waits for SEGMENT_DONE.
        let times: Vec<_> = running
            .engine
            .next_times()
            .into_iter()
            .filter(|(id, _)| id.kind == StreamKind::Video)
            .collect();
        // Only a track that ends before another: the last one ends with
        // finish() (after the damage warning).
        let more_later = times.iter().any(|(_, next)| next.is_some());
        if !looping {
            for &(id, next) in &times {
                if next.is_some() {
                    continue;
                }
                let after = work
                    .iter()
                    .rposition(|w| matches!(w, Work::Push(s, _) if *s == id))
                    .map_or(0, |i| i + 1);
                let others_after = work[after..]
                    .iter()
                    .any(|w| matches!(w, Work::Push(s, _) if *s != id));
                if more_later || others_after {
                    work.insert(after, Work::End(id));
                }
            }
        }
        work
    }

    fn stream_loop(&self) {
        if let Err(err) = self.expose_pads() {
            self.post_error_message(err);
            self.pause_task();
            return;
        }
        self.send_gaps();
        let work = self.collect();
        if work.is_empty() {
            // Stopped under us.
            self.pause_task();
            return;
        }
        for item in work {
            match item {
                Work::Push(stream, buffer) => {
                    match OutputStreams::push(&self.streams, stream, buffer) {
                        Ok(_) => {}
                        Err(gst::FlowError::Eos) => {
                            // Every downstream pad is done (e.g. a stop position).
                            self.finish();
                            self.pause_task();
                            return;
                        }
                        Err(gst::FlowError::Flushing) => {
                            gst::debug!(CAT, imp = self, "Pausing task: flushing");
                            self.pause_task();
                            return;
                        }
                        Err(err) => {
                            gst::debug!(CAT, imp = self, "Pausing task: {:?}", err);
                            gst::element_imp_error!(
                                self,
                                gst::StreamError::Failed,
                                (
                                    "{}: playback stopped: {}",
                                    self.location_text(),
                                    present::flow_error_text(err)
                                ),
                                ["streaming stopped, reason {}", err]
                            );
                            self.send_eos();
                            self.pause_task();
                            return;
                        }
                    }
                }
                Work::End(stream) => OutputStreams::finish_stream(&self.streams, stream),
                Work::Done => {
                    self.finish();
                    self.pause_task();
                    return;
                }
                Work::Failed(msg) => {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Read,
                        (
                            "Cannot read rf1 recording {}: {}",
                            self.location_text(),
                            msg
                        )
                    );
                    self.send_eos();
                    self.pause_task();
                    return;
                }
            }
        }
    }

    /// Posts the damage WARNING (if anything was damaged), then EOS or
    /// SEGMENT_DONE.
    fn finish(&self) {
        let damage = {
            let mut guard = lock(&self.state);
            let Some(running) = guard.as_mut() else {
                return;
            };
            if running.finished {
                return;
            }
            running.finished = true;
            running.engine.take_damage()
        };
        if damage.any() {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Demux,
                (
                    "Damaged rf1 recording {}: {}; played every access unit that could be read",
                    self.location_text(),
                    damage.describe()
                ),
                ["{}", damage.describe_all()]
            );
        }
        let segment_seek = lock(&self.streams)
            .segment()
            .flags()
            .contains(gst::SegmentFlags::SEGMENT);
        if segment_seek {
            OutputStreams::finish_segment(&self.streams, self.obj().upcast_ref());
            // Last: a prerolling sink blocks on the GAP until PLAYING.
            self.preroll_idle_pads();
            return;
        }
        OutputStreams::finish(&self.streams);
    }

    /// After SEGMENT_DONE (which does not preroll a sink): every pad gets
    /// a GAP after what it played, so a pipeline waiting for preroll (e.g.
    /// after a seek to or past the end, where every buffer is clipped)
    /// completes its state change.
    fn preroll_idle_pads(&self) {
        let last = match lock(&self.state).as_ref() {
            Some(running) => running.engine.last_times(),
            None => return,
        };
        let start = lock(&self.streams).segment().start().unwrap_or_default();
        for (id, last_time) in last {
            let at = last_time.map_or(start, |t| clock_time(t).max(start));
            OutputStreams::push_gap(&self.streams, id, at, None);
        }
    }

    fn src_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Seek(seek) => {
                self.last_seek
                    .handle(event.seqnum(), || match self.handle_seek(seek) {
                        Ok(()) => true,
                        Err(msg) => {
                            gst::warning!(CAT, imp = self, "Seek refused: {}", msg);
                            false
                        }
                    })
            }
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

    /// The shared seek protocol around [`Rf1Src::reposition`].
    fn handle_seek(&self, seek: &gst::event::Seek) -> Result<(), String> {
        let Some(task_pad) = lock(&self.task_pad).clone() else {
            return Err("not playing".into());
        };
        let element: gst::Element = self.obj().clone().upcast();
        let target = SeekTarget {
            element: &element,
            streams: &self.streams,
            task_pad: &task_pad,
            upstream: None,
            duration: self.duration(),
        };
        seek::perform(
            &target,
            seek,
            |segment| self.reposition(seek, segment),
            || {
                let _ = self.start_task();
            },
        )
    }

    /// A seek received in READY, applied when playback starts (nothing to
    /// flush, no task yet).
    fn apply_pending_seek(&self, seek: &gst::event::Seek) {
        let current = lock(&self.streams).segment().clone();
        let result = seek::validate(seek, &current, self.duration()).and_then(|mut segment| {
            let ok = self.reposition(seek, &mut segment);
            seek::commit(
                self.obj().upcast_ref(),
                &self.streams,
                seek,
                segment,
                ok.is_ok(),
            );
            ok
        });
        if let Err(msg) = result {
            gst::warning!(CAT, imp = self, "Seek before start failed: {}", msg);
        }
    }

    /// Positions the engine for `segment` (the task is not running): every
    /// track at its key unit at or before the start; with KEY_UNIT the
    /// segment snaps to the earliest of those key units.
    fn reposition(
        &self,
        seek: &gst::event::Seek,
        segment: &mut gst::FormattedSegment<gst::ClockTime>,
    ) -> Result<(), String> {
        let key_unit = seek.flags().contains(gst::SeekFlags::KEY_UNIT);
        let target = segment.start().unwrap_or_default();
        {
            let mut guard = lock(&self.state);
            let running = guard.as_mut().ok_or("not running")?;
            let key_time = running.engine.seek(
                target.nseconds(),
                segment.stop().map(|s| s.nseconds()),
                key_unit,
            );
            running.finished = false;
            gst::debug!(
                CAT,
                imp = self,
                "Seek to {} starts at key frame {:?} ns",
                target,
                key_time
            );
            if let (true, Some(t)) = (key_unit, key_time) {
                let t = clock_time(t);
                segment.set_start(t);
                segment.set_time(t);
                segment.set_position(t);
            }
        }
        *lock(&self.gaps_due) = true;
        Ok(())
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
                glib::ParamSpecBoolean::builder("subtitles")
                    .nick("Subtitles")
                    .blurb(
                        "Add a pad 'subtitle' (text/x-raw) with the capture time (UTC) of each \
                         access unit of the first track: mp4mux and matroskamux keep it as a \
                         text track. Off by default (players would stall at the end: the \
                         decoded rf1 pictures have no duration).",
                    )
                    .default_value(false)
                    .mutable_ready()
                    .build(),
                crate::common::timezone::pspec(),
                crate::common::timezone::clock_offset_pspec(),
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
            "subtitles" => {
                lock(&self.settings).subtitles = value.get().expect("type checked upstream");
            }
            "timezone" => {
                if let Ok(zone) = crate::common::timezone::parse("rf1src", value) {
                    lock(&self.settings).timezone = zone;
                }
            }
            "clock-offset" => {
                lock(&self.settings).clock_offset_ns = value.get().expect("type checked upstream");
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
            "subtitles" => settings.subtitles.to_value(),
            "timezone" => crate::common::timezone::value(settings.timezone.as_ref()),
            "clock-offset" => settings.clock_offset_ns.to_value(),
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
                // H.264 also as length-prefixed (`avc`) for muxers with no
                // parser in front; H.265 as byte-stream only.
                caps.append(
                    gst::Caps::builder("video/x-h264")
                        .field("stream-format", gst::List::new(["byte-stream", "avc"]))
                        .field("alignment", "au")
                        .build(),
                );
                caps.append(
                    gst::Caps::builder("video/x-h265")
                        .field("stream-format", "byte-stream")
                        .field("alignment", "au")
                        .build(),
                );
            }
            vec![
                gst::PadTemplate::new(
                    PAD_TEMPLATE,
                    gst::PadDirection::Src,
                    gst::PadPresence::Sometimes,
                    &caps,
                )
                .unwrap(),
                gst::PadTemplate::new(
                    SUBTITLE_PAD_TEMPLATE,
                    gst::PadDirection::Src,
                    gst::PadPresence::Sometimes,
                    &crate::common::present::text_caps(),
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

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        // The URI query on the element is what `gst_pad_create_stream_id`
        // asks a source without a sink pad: answered, every pad's stream id
        // starts with the hash of the recording's URI; unanswered, each pad
        // got a random prefix, and decodebin, which orders streams by their
        // ids, put the tracks in a random order (playbin showed either).
        if let gst::QueryViewMut::Uri(q) = query.view_mut()
            && let Some(uri) = self.obj().upcast_ref::<gst::URIHandler>().uri()
        {
            q.set_uri(Some(uri.as_str()));
            return true;
        }
        self.parent_query(query)
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
        let uri = uri.replacen("file://", "rf1://", 1);
        let tracks = lock(&self.settings).tracks.join(",");
        Some(if tracks.is_empty() {
            uri
        } else {
            format!("{uri}?tracks={tracks}")
        })
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        // `rf1:///path?tracks=video,lowres`: the query selects tracks.
        let (path_part, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        let file_uri = if let Some(rest) = path_part.strip_prefix("rf1://") {
            format!("file://{rest}")
        } else if path_part.starts_with("file://") {
            path_part.to_owned()
        } else {
            return Err(glib::Error::new(
                gst::URIError::UnsupportedProtocol,
                &format!("Unsupported URI {uri}: use rf1:///path or file:///path"),
            ));
        };
        let (path, _) = glib::filename_from_uri(&file_uri).map_err(|e| {
            glib::Error::new(gst::URIError::BadUri, &format!("Invalid URI {uri}: {e}"))
        })?;
        let mut tracks = None;
        for param in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let value = percent_decode(value);
            match key {
                "tracks" => tracks = Some(value),
                _ => {
                    return Err(glib::Error::new(
                        gst::URIError::BadUri,
                        &format!(
                            "Invalid URI {uri}: unknown parameter \"{key}\" (rf1 URIs take ?tracks=name,name)"
                        ),
                    ));
                }
            }
        }
        self.set_location(Some(path))?;
        if let Some(tracks) = tracks {
            self.obj().set_property("tracks", tracks);
        }
        Ok(())
    }
}

/// `%XX` escapes of a URI query value decoded (invalid ones kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Each stream with the last part of its stream-id: a track's rank in
/// `main_first` (the camera's main track first, see
/// `Rf1Engine::tracks_main_first`), then its name (`000_video`,
/// `001_lowres`). decodebin (so playbin and the discoverer) orders the
/// decoded streams of one media type by stream-id as strings, whatever the
/// pad order: by name alone, two_tracks' `lowres` came before the camera's
/// `video`. The subtitle stream keeps its name.
fn engine_order_ids(infos: &[StreamInfo], main_first: &[String]) -> Vec<(StreamInfo, String)> {
    infos
        .iter()
        .map(|info| {
            let id = match main_first.iter().position(|n| *n == info.name) {
                Some(rank) if info.id.kind == StreamKind::Video => {
                    format!("{rank:03}_{}", info.name)
                }
                _ => info.name.clone(),
            };
            (info.clone(), id)
        })
        .collect()
}
