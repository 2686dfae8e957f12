// SPDX-License-Identifier: MIT
//! Cyclops rf1 recordings for the engine: an archive (one segment, or every
//! segment of a camera directory) played as one timeline, one stream per
//! track.
//!
//! Unlike the byte-stream formats ([`Format`](super::Format)), rf1 is a set
//! of files with an index: the [`Rf1Engine`] opens them itself (plain file
//! I/O, no GStreamer) and yields [`Packet`]s in time order across tracks and
//! segments. Payloads are [`Part::Read`] ranges of what was read from the
//! packet file; start codes and the parameter sets put in front of key
//! frames are [`Part::Shared`], one allocation reused for many packets.
//!
//! Times are exact: ns since the earliest time base of the played tracks,
//! computed from the integers of each access unit (no drift across
//! segments), then compacted across pauses in recording longer than
//! `max-gap` ([`Rf1Engine::set_max_gap`]). The engine is a
//! [`Source`](crate::engine::Source), driven like the byte-stream formats. Every read is checked against the packet data's size before
//! anything is allocated (see [`Track::checked_piece`]).

use crate::engine::bytes::{Chunk, SharedBytes};
use crate::engine::demuxer::SeekOutcome;
use crate::engine::error::{EngineError, SourceError};
use crate::engine::format::{Codec, Origin, Packet, Part, StreamId, StreamInfo, StreamKind, Tags};
use crate::engine::source::{DamageReport, Source, SourceEvent, is_past_end};
use crate::engine::subtitle;
use crate::engine::timeline::DEFAULT_MAX_GAP_NS;
use crate::formats::rf1::{
    self, Archive, ArchivePosition, PayloadPiece, Rf1Error, START_CODE, Track,
};
use crate::h264;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Name of the container in tags and messages.
pub const CONTAINER: &str = "Cyclops rf1";

/// Reading a packet failed (I/O, or a file that changed under us).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

impl From<&str> for ReadError {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// What was wrong with the recording: segments left out, tracks with
/// damaged indexes (as they were played), access units skipped because
/// overlapping segments went back in time. Handed out as a
/// [`DamageReport`], once.
#[derive(Debug, Clone, Default)]
struct Account {
    /// One short line per damaged segment or track (a summary: counts and
    /// the first few bad index entries).
    problems: Vec<String>,
    /// Every problem on its own line, each bad index entry included
    /// (`cctv info --json`, the debug text of the element's WARNING).
    details: Vec<String>,
    skipped_backwards: u64,
}

impl Account {
    /// A problem that is its own summary.
    fn push(&mut self, problem: String) {
        self.details.push(problem.clone());
        self.problems.push(problem);
    }

    fn report(self, units: u64) -> DamageReport {
        let Account {
            mut problems,
            mut details,
            skipped_backwards,
        } = self;
        if skipped_backwards > 0 {
            let text = format!(
                "{skipped_backwards} access unit(s) skipped: earlier than what was already played (overlapping segments)"
            );
            problems.push(text.clone());
            details.push(text);
        }
        DamageReport {
            format: CONTAINER,
            units,
            regions: problems.len() as u64,
            bytes: 0,
            problems,
            details,
            summary: None,
        }
    }
}

/// Gap compaction (the format-independent `max-gap`): a forward jump in
/// the archive's time longer than the limit takes one frame step of
/// running time. The same map serves every track, so they stay in step,
/// and seeks map running time back to the archive's time.
#[derive(Debug, Clone, Default)]
struct GapMap {
    /// (first raw time after a compacted gap, ns removed before it in
    /// total), in time order.
    runs: Vec<(u64, u64)>,
}

impl GapMap {
    /// `times`: every access unit's time (ns since the origin), sorted.
    /// A gap that a skipped (unreadable) segment starts in is lost data,
    /// not a pause in recording: it keeps its length, so what follows keeps
    /// the times of the intact recording.
    fn new(times: &[u64], max_gap: Option<u64>, lost: &[u64]) -> Self {
        let Some(max_gap) = max_gap.filter(|&g| g > 0) else {
            return Self::default();
        };
        let mut runs = Vec::new();
        let mut removed = 0u64;
        // The last ordinary step (40 ms until one is seen, as the PAVS and
        // SAYS timelines).
        let mut frame = 40_000_000u64;
        for w in times.windows(2) {
            let step = w[1] - w[0];
            if step == 0 {
                continue;
            }
            if step <= max_gap {
                frame = step;
                continue;
            }
            if lost.iter().any(|&t| t > w[0] && t < w[1]) {
                continue;
            }
            removed += step - frame.min(step);
            runs.push((w[1], removed));
        }
        Self { runs }
    }

    /// Running time of an archive time.
    fn running(&self, raw: u64) -> u64 {
        match self.runs.partition_point(|&(start, _)| start <= raw) {
            0 => raw,
            i => raw - self.runs[i - 1].1,
        }
    }

    /// The archive time of a running time: the one on the run it falls in
    /// (a time inside a compacted gap stays before the gap's end).
    fn raw(&self, running: u64) -> u64 {
        match self
            .runs
            .partition_point(|&(start, removed)| start - removed <= running)
        {
            0 => running,
            i => running.saturating_add(self.runs[i - 1].1),
        }
    }
}

/// Parameter sets last put in front of a key frame: which NALUs, and
/// their Annex-B bytes.
struct ParameterSets {
    segment: usize,
    nalus: Vec<usize>,
    bytes: Arc<[u8]>,
}

/// Where one stream's playback is. A stream is a track, or one lane of
/// it: the segments of a track that follow each other in time with one
/// codec and picture size ([`lanes`]).
struct Cursor {
    id: StreamId,
    /// Pad (stream) name: the track's, `<track>-2`… for further lanes.
    name: String,
    /// The track played.
    track: String,
    /// The segments of this stream, in time order.
    segments: Vec<usize>,
    next: Option<ArchivePosition>,
    /// The open packet file: segment, file, path (the packets' origin).
    file: Option<(usize, File, Arc<Path>)>,
    discont: bool,
    last_time: Option<u64>,
    parameter_sets: Option<ParameterSets>,
}

/// Plays the tracks of an rf1 archive as packets, in time order.
pub struct Rf1Engine<C = SharedBytes> {
    archive: Archive,
    cursors: Vec<Cursor>,
    /// Running time (ns) at which playback stops (exclusive).
    stop: Option<u64>,
    /// The end of the last access unit, in archive time.
    raw_duration_ns: u64,
    damage: Account,
    /// Access units played (for the report).
    units: u64,
    /// Compact forward jumps longer than this (`None`: real time).
    max_gap: Option<u64>,
    gaps: GapMap,
    /// `StreamsFound` (and the tags) went out.
    announced: bool,
    /// Events due before the next access unit.
    outbox: VecDeque<SourceEvent<C>>,
    /// Per cursor: its end went out as `StreamEnd`.
    ended: Vec<bool>,
    /// (segment, track) whose problems are in `damage` already.
    reported: Vec<(usize, String)>,
    start_code: Arc<[u8]>,
    /// Emit a capture-time cue after each access unit of the first track.
    subtitles: bool,
    /// The zone cue times are shown in (default UTC).
    timezone: Option<crate::engine::zone::Zone>,
    /// How far the recorder's clock was ahead of true time (ns).
    clock_offset_ns: i64,
    /// The access unit whose cue was returned last, returned next.
    pending_cue: Option<Packet<C>>,
    /// Which access units of the first track get a capture-time cue.
    cue_gate: subtitle::CueGate,
    _chunk: PhantomData<fn() -> C>,
}

/// The name Cyclops gives a camera's main (full-resolution) track.
pub const MAIN_TRACK: &str = "video";

/// The archive's track names, the camera's main track first: `video`, or
/// failing that the track with the largest picture; then the others by
/// name. Players (playbin3, VLC) show the first video stream, and by name
/// alone two_tracks' 320x180 `lowres` copy came before its 640x360 `video`.
/// The capture-time subtitles follow the first track too.
fn main_track_first(archive: &Archive) -> Vec<&str> {
    let mut names = archive.track_names();
    let pixels = |name: &str| {
        archive
            .segments
            .iter()
            .filter_map(|s| s.track(name))
            .map(|t| u32::from(t.header.width) * u32::from(t.header.height))
            .max()
            .unwrap_or(0)
    };
    let main = if names.contains(&MAIN_TRACK) {
        Some(MAIN_TRACK)
    } else {
        // The first of the largest, by name.
        names.iter().copied().rev().max_by_key(|n| pixels(n))
    };
    if let Some(i) = main.and_then(|m| names.iter().position(|n| *n == m)) {
        let main = names.remove(i);
        names.insert(0, main);
    }
    names
}

/// The subtitle stream (capture time of the first track).
const SUBTITLE: StreamId = StreamId::new(StreamKind::Subtitle, 0);

impl<C: Chunk> Rf1Engine<C> {
    /// Opens `location` (a segment base, a track file or a camera
    /// directory), keeping the tracks named in `tracks` (all when empty).
    pub fn open(location: &Path, tracks: &[String]) -> Result<Self, Rf1Error> {
        let names = (!tracks.is_empty()).then_some(tracks);
        Ok(Self::from_archive(Archive::open_tracks(location, names)?))
    }

    /// Plays an archive opened already.
    pub fn from_archive(archive: Archive) -> Self {
        let mut damage = Account {
            problems: archive.skipped.clone(),
            details: archive.skipped.clone(),
            skipped_backwards: 0,
        };
        let lanes = lanes(&archive);
        for lane in &lanes {
            if let Some(note) = &lane.overlap {
                damage.push(note.clone());
            }
        }
        let cursors: Vec<Cursor> = lanes
            .into_iter()
            .enumerate()
            .map(|(i, lane)| {
                let next = first_position(&archive, &lane.track, &lane.segments);
                Cursor {
                    id: StreamId::new(StreamKind::Video, u32::try_from(i).unwrap_or(u32::MAX)),
                    name: lane.name,
                    track: lane.track,
                    segments: lane.segments,
                    next,
                    file: None,
                    discont: true,
                    last_time: None,
                    parameter_sets: None,
                }
            })
            .collect();
        let raw_duration_ns = cursors
            .iter()
            .filter_map(|c| end_of_track(&archive, &c.track, &c.segments))
            .max()
            .unwrap_or(0);
        let ended = vec![false; cursors.len()];
        let mut engine = Self {
            archive,
            cursors,
            stop: None,
            raw_duration_ns,
            damage,
            units: 0,
            max_gap: None,
            gaps: GapMap::default(),
            announced: false,
            outbox: VecDeque::new(),
            ended,
            reported: Vec::new(),
            start_code: Arc::from(&START_CODE[..]),
            subtitles: false,
            timezone: None,
            clock_offset_ns: 0,
            pending_cue: None,
            cue_gate: subtitle::CueGate::default(),
            _chunk: PhantomData,
        };
        engine.set_max_gap(Some(DEFAULT_MAX_GAP_NS));
        engine
    }

    /// Compacts forward jumps in time longer than `max_gap` ns to one
    /// frame step of running time (`None` or 0: real time), as the PAVS
    /// and SAYS timelines do; wall clocks and cues keep the real time.
    /// Default: [`DEFAULT_MAX_GAP_NS`]. Call before playing.
    pub fn set_max_gap(&mut self, max_gap: Option<u64>) {
        self.max_gap = max_gap.filter(|&g| g > 0);
        let mut times = Vec::new();
        if self.max_gap.is_some() {
            for c in &self.cursors {
                for &segment in &c.segments {
                    let Some(track) = self
                        .archive
                        .segments
                        .get(segment)
                        .and_then(|s| s.track(&c.track))
                    else {
                        continue;
                    };
                    times.extend(
                        (0..track.access_units.len())
                            .filter_map(|au| track.au_time_since(au, self.archive.origin_ns)),
                    );
                }
            }
            times.sort_unstable();
            times.dedup();
        }
        let lost: Vec<u64> = self
            .archive
            .skipped_starts_ns
            .iter()
            .filter_map(|t| t.checked_sub(self.archive.origin_ns))
            .collect();
        self.gaps = GapMap::new(&times, self.max_gap, &lost);
    }

    pub fn archive(&self) -> &Archive {
        &self.archive
    }

    /// The end of the last access unit of any track (ns): its time plus
    /// its duration (the step from the access unit before it), so that a
    /// player's position never passes the duration.
    pub fn duration_ns(&self) -> u64 {
        self.gaps.running(self.raw_duration_ns)
    }

    /// Adds a subtitle stream (`subtitle`) with the capture time (UTC) of
    /// each access unit of the first track, one cue per access unit. Call
    /// before [`Rf1Engine::streams`].
    pub fn set_subtitles(&mut self, on: bool) {
        self.subtitles = on;
    }

    /// Cues show capture times corrected for a recorder clock
    /// `clock_offset_ns` ahead of true time.
    pub fn set_clock_offset(&mut self, clock_offset_ns: i64) {
        self.clock_offset_ns = clock_offset_ns;
    }

    /// Shows the cues' capture times in `zone` (default UTC).
    pub fn set_timezone(&mut self, zone: Option<crate::engine::zone::Zone>) {
        self.timezone = zone;
    }

    /// The tracks' names, the camera's main track first (`video`, else the
    /// largest picture), then the others by name: the order of
    /// [`Rf1Engine::streams`] (so of VLC's streams and rf1src's pads).
    pub fn tracks_main_first(&self) -> Vec<String> {
        let played: Vec<&str> = self.cursors.iter().map(|c| c.name.as_str()).collect();
        main_track_first(&self.archive)
            .into_iter()
            .filter(|n| played.contains(n))
            .map(str::to_owned)
            .collect()
    }

    /// One stream per track, the main track first (see
    /// [`Rf1Engine::tracks_main_first`]), then the others by name. H.264 tracks
    /// carry the parameter sets of their first access unit (read here), so
    /// front ends can offer length-prefixed output.
    pub fn streams(&mut self) -> Vec<StreamInfo> {
        let mut infos = Vec::new();
        for ci in 0..self.cursors.len() {
            let Some(mut info) = self.stream_info(&self.cursors[ci]) else {
                continue;
            };
            if matches!(info.codec, Codec::H264 { .. })
                && let Some(first) = self.cursors[ci].next
            {
                info.codec_config = self.parameter_sets(ci, first).ok().flatten();
            }
            infos.push(info);
        }
        if self.subtitles
            && let Some(first) = infos.first()
        {
            let title = format!("{}: capture time (UTC)", first.name);
            let tags = Tags {
                container_format: Some(CONTAINER),
                start_unix_us: first.tags.start_unix_us,
                ..Tags::default()
            };
            infos.push(subtitle::stream_info(
                SUBTITLE,
                "subtitle".into(),
                title,
                tags,
            ));
        }
        infos
    }

    /// The running time of the subtitle stream: that of the first track.
    fn with_subtitle(
        &self,
        mut times: Vec<(StreamId, Option<u64>)>,
    ) -> Vec<(StreamId, Option<u64>)> {
        if self.subtitles
            && let Some(&(_, t)) = times.first()
        {
            times.push((SUBTITLE, t));
        }
        times
    }

    fn stream_info(&self, cursor: &Cursor) -> Option<StreamInfo> {
        let track = cursor
            .segments
            .iter()
            .find_map(|&s| self.archive.segments.get(s)?.track(&cursor.track))?;
        let header = &track.header;
        let (codec, codec_name) = match header.codec {
            h264::Codec::H264 => (
                Codec::H264 {
                    profile: None,
                    level: None,
                },
                "H.264",
            ),
            h264::Codec::H265 => (Codec::H265, "H.265"),
        };
        let size = (header.width > 0 && header.height > 0)
            .then_some((u32::from(header.width), u32::from(header.height)));
        Some(StreamInfo {
            id: cursor.id,
            name: cursor.name.clone(),
            codec,
            width: size.map(|s| s.0),
            height: size.map(|s| s.1),
            pixel_aspect: None,
            framerate: None,
            sparse: false,
            codec_config: None,
            tags: Tags {
                title: Some(cursor.track.clone()),
                container_format: Some(CONTAINER),
                video_codec: Some(codec_name),
                start_unix_us: start_unix_us(header.timebase_us),
                ..Tags::default()
            },
        })
    }

    /// Metadata of the whole recording: its start (time zero).
    pub fn tags(&self) -> Tags {
        let start = self
            .archive
            .segments
            .iter()
            .flat_map(|s| &s.tracks)
            .map(|t| t.header.timebase_us)
            .min();
        Tags {
            container_format: Some(CONTAINER),
            start_unix_us: start.and_then(start_unix_us),
            ..Tags::default()
        }
    }

    /// Where every stream will continue: the running time of its next
    /// access unit (`None` when it has nothing left).
    pub fn next_times(&self) -> Vec<(StreamId, Option<u64>)> {
        self.with_subtitle(
            self.cursors
                .iter()
                .map(|c| (c.id, self.next_time(c)))
                .collect(),
        )
    }

    /// The running time of the last packet of every stream since the
    /// start or the last seek.
    pub fn last_times(&self) -> Vec<(StreamId, Option<u64>)> {
        self.with_subtitle(self.cursors.iter().map(|c| (c.id, c.last_time)).collect())
    }

    /// The damage found so far; it is handed out once (a seek and a replay
    /// report only what was not reported yet).
    pub fn take_damage(&mut self) -> DamageReport {
        std::mem::take(&mut self.damage).report(self.units)
    }

    /// Running time of a cursor's next access unit.
    fn next_time(&self, cursor: &Cursor) -> Option<u64> {
        let pos = cursor.next?;
        // Never before the origin (the earliest time base); 0 if it were.
        Some(
            self.gaps
                .running(self.archive.time_ns(&cursor.track, pos).unwrap_or(0)),
        )
    }

    /// The next access unit in time order over all tracks: always the one
    /// with the smallest timestamp, so no stream runs ahead of another.
    /// `None` at the end (or at the stop).
    pub fn next_packet(&mut self) -> Result<Option<Packet<C>>, ReadError> {
        if let Some(cue) = self.pending_cue.take() {
            return Ok(Some(cue));
        }
        loop {
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
                return Ok(None);
            };
            let Some(pos) = self.cursors.get(ci).and_then(|c| c.next) else {
                return Ok(None);
            };
            if self.stop.is_some_and(|stop| time >= stop) {
                if let Some(cursor) = self.cursors.get_mut(ci) {
                    cursor.next = None;
                }
                continue;
            }
            let name = self.cursors[ci].track.clone();
            let next = next_au(&self.archive, &name, &self.cursors[ci].segments, pos);
            if next.is_none_or(|n| n.segment != pos.segment) {
                self.note_problems(pos.segment, &name);
            }
            let cursor = &mut self.cursors[ci];
            cursor.next = next;
            if cursor.last_time.is_some_and(|last| time < last) {
                // Overlapping segments: never let time go backwards.
                self.damage.skipped_backwards += 1;
                cursor.discont = true;
                continue;
            }
            let packet = self.read_packet(ci, pos, time)?;
            if packet.size() == 0 {
                // Entries whose NAL units are all empty: nothing to decode.
                self.damage.push(format!(
                    "{name}: access unit {} of segment {} has no bytes: skipped",
                    pos.au, pos.segment
                ));
                self.cursors[ci].discont = true;
                continue;
            }
            self.cursors[ci].last_time = Some(time);
            self.units += 1;
            if self.subtitles
                && ci == 0
                && self
                    .cue_gate
                    .due(packet.wallclock_ns, packet.pts, packet.discont)
            {
                // The cue first, then its access unit.
                let text = packet
                    .wallclock_ns
                    .map(|ns| {
                        let ns = subtitle::corrected_ns(ns, self.clock_offset_ns);
                        let offset = subtitle::shown_offset(ns, self.timezone.as_ref(), None);
                        subtitle::capture_time(ns, offset)
                    })
                    .unwrap_or_default();
                let mut cue = subtitle::cue(SUBTITLE, packet.pts, packet.wallclock_ns, text);
                cue.discont = packet.discont;
                self.pending_cue = Some(packet);
                return Ok(Some(cue));
            }
            return Ok(Some(packet));
        }
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
        let what = format!("{}_{}", seg.files.base.display(), name);
        let counts = format!(
            "kept {} of {} index entries, {} access units",
            track.nalus.len(),
            track.index_entry_count,
            track.access_units.len()
        );
        let (summary, truncated) = rf1::summarize_problems(&track.problems);
        let rest = if truncated {
            "; every entry: `cctv info --json`"
        } else {
            ""
        };
        self.damage
            .problems
            .push(format!("{what}: {summary} ({counts}{rest})"));
        self.damage
            .details
            .extend(track.problems.iter().map(|p| format!("{what}: {p}")));
        self.damage.details.push(format!("{what}: {counts}"));
        self.reported.push((segment, name.to_owned()));
    }

    fn read_packet(
        &mut self,
        ci: usize,
        pos: ArchivePosition,
        time: u64,
    ) -> Result<Packet<C>, ReadError> {
        let cursor = self.cursors.get_mut(ci).ok_or("no such track")?;
        let discont = std::mem::take(&mut cursor.discont);
        let (id, name) = (cursor.id, cursor.track.clone());
        let track = track_of(&self.archive, pos.segment, &name)?;
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
        let mut parts = Vec::new();
        if (key || discont)
            && !has_ps
            && let Some(sets) = self.parameter_sets(ci, pos)?
        {
            parts.push(Part::Shared(sets));
        }
        let Self {
            archive,
            cursors,
            start_code,
            ..
        } = self;
        let track = track_of(archive, pos.segment, &name)?;
        let cursor = cursors.get_mut(ci).ok_or("no such track")?;
        let (file, path) = open_packets(cursor, archive, pos.segment)?;
        let pieces = checked_pieces(track, nalus)
            .map_err(|e| ReadError(format!("{name} access unit {}: {e}", pos.au)))?;
        let origin = pieces
            .iter()
            .map(|p| p.range.start)
            .min()
            .zip(pieces.iter().map(|p| p.range.end).max())
            .map(|(start, end)| Origin {
                file: Some(path.clone()),
                offset: start,
                len: end - start,
            });
        let bytes = read_pieces(file, &pieces)
            .map_err(|e| ReadError(format!("reading {name} access unit {}: {e}", pos.au)))?;
        let chunk = C::from_vec(bytes);
        let mut at = 0;
        let mut run_start = 0;
        for piece in &pieces {
            if piece.prepend_start_code {
                if at > run_start {
                    parts.push(read_part(&chunk, run_start..at));
                }
                parts.push(Part::Shared(start_code.clone()));
                run_start = at;
            }
            at += piece_len(piece);
        }
        if at > run_start {
            parts.push(read_part(&chunk, run_start..at));
        }
        Ok(Packet {
            stream: id,
            pts: Some(time),
            dts: Some(time),
            duration: None,
            key,
            discont,
            // An absurd time base loses the wall clock, not the frame.
            wallclock_ns: rf1::wall_clock_ns(timebase_us, ticks.into()),
            parts,
            origin,
            telemetry: None,
        })
    }

    /// The parameter sets in effect at `pos` (looking back into earlier
    /// segments when this one has none yet), as one shared allocation that
    /// is reused as long as they stay the same.
    fn parameter_sets(
        &mut self,
        ci: usize,
        pos: ArchivePosition,
    ) -> Result<Option<Arc<[u8]>>, ReadError> {
        let Self {
            archive, cursors, ..
        } = self;
        let cursor = cursors.get_mut(ci).ok_or("no such track")?;
        let name = cursor.track.clone();
        let lane: Vec<usize> = cursor.segments.clone();
        for &segment in lane.iter().rev().filter(|&&s| s <= pos.segment) {
            let Some(track) = archive.segments.get(segment).and_then(|s| s.track(&name)) else {
                continue;
            };
            let Some(last) = track.access_units.len().checked_sub(1) else {
                continue;
            };
            let au = if segment == pos.segment { pos.au } else { last };
            let nalus = track.parameter_sets_for(au);
            if nalus.is_empty() {
                continue;
            }
            if let Some(cached) = &cursor.parameter_sets
                && cached.segment == segment
                && cached.nalus == nalus
            {
                return Ok(Some(cached.bytes.clone()));
            }
            let mut pieces = Vec::with_capacity(nalus.len());
            for &n in &nalus {
                pieces.push(
                    track
                        .checked_piece(n)
                        .map_err(|e| ReadError(format!("{name} parameter sets: {e}")))?,
                );
            }
            let (file, _) = open_packets(cursor, archive, segment)?;
            let read = read_pieces(file, &pieces)
                .map_err(|e| ReadError(format!("reading {name} parameter sets: {e}")))?;
            let mut bytes = Vec::with_capacity(read.len() + 4 * pieces.len());
            let mut at = 0;
            for piece in &pieces {
                if piece.prepend_start_code {
                    bytes.extend_from_slice(&START_CODE);
                }
                let len = piece_len(piece);
                bytes.extend_from_slice(read.get(at..at + len).unwrap_or_default());
                at += len;
            }
            let bytes: Arc<[u8]> = Arc::from(bytes);
            cursor.parameter_sets = Some(ParameterSets {
                segment,
                nalus,
                bytes: bytes.clone(),
            });
            return Ok(Some(bytes));
        }
        Ok(None)
    }

    /// Positions every track for a seek to `target_ns` (running time),
    /// playing up to `stop_ns` (exclusive): each starts at its last key
    /// access unit at or before the target (exact tick arithmetic: a key
    /// frame at exactly the target is taken itself), or at its first one.
    /// `key_pts`: the earliest key-frame time used (for KEY_UNIT
    /// snapping). At or past the end ([`is_past_end`], the rule of every
    /// source) nothing is left to play.
    pub fn seek(&mut self, target_ns: u64, stop_ns: Option<u64>) -> SeekOutcome {
        let past_end = is_past_end(target_ns, Some(self.duration_ns()));
        let raw_target = self.gaps.raw(target_ns);
        let mut earliest: Option<u64> = None;
        self.pending_cue = None;
        self.cue_gate.reset();
        self.outbox
            .retain(|e| matches!(e, SourceEvent::StreamsFound(_) | SourceEvent::Tags(_)));
        for c in &mut self.cursors {
            let pos = if past_end {
                None
            } else {
                key_unit_at_or_before(&self.archive, &c.track, &c.segments, raw_target)
                    .or_else(|| first_position(&self.archive, &c.track, &c.segments))
            };
            if let Some(t) = pos.and_then(|p| self.archive.time_ns(&c.track, p)) {
                let t = self.gaps.running(t);
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
            c.next = pos;
            c.discont = true;
            c.last_time = None;
        }
        self.ended.iter_mut().for_each(|e| *e = false);
        self.stop = stop_ns;
        SeekOutcome {
            key_pts: earliest,
            // Not a byte stream: no single offset.
            offset: 0,
            past_end,
        }
    }

    /// A track that has nothing left while another goes on, not said yet.
    fn newly_ended(&mut self) -> Option<StreamId> {
        let any_left = |skip: usize| {
            self.cursors
                .iter()
                .enumerate()
                .any(|(j, c)| j != skip && c.next.is_some())
        };
        let i = (0..self.cursors.len())
            .find(|&i| !self.ended[i] && self.cursors[i].next.is_none() && any_left(i))?;
        self.ended[i] = true;
        Some(self.cursors[i].id)
    }
}

impl<C: Chunk> Source for Rf1Engine<C> {
    type Chunk = C;

    fn next(&mut self) -> Result<SourceEvent<C>, EngineError> {
        if !self.announced {
            self.announced = true;
            let infos = self.streams();
            self.outbox.push_back(SourceEvent::Tags(self.tags()));
            return Ok(SourceEvent::StreamsFound(infos));
        }
        if let Some(event) = self.outbox.pop_front() {
            return Ok(event);
        }
        // The access unit behind a cue comes before any stream's end.
        if let Some(packet) = self.pending_cue.take() {
            return Ok(SourceEvent::Packet(packet));
        }
        if let Some(id) = self.newly_ended() {
            return Ok(SourceEvent::StreamEnd(id));
        }
        match self.next_packet() {
            Ok(Some(packet)) => Ok(SourceEvent::Packet(packet)),
            Ok(None) => Ok(SourceEvent::End),
            Err(e) => Err(EngineError::Source(SourceError::Io(e.0))),
        }
    }

    fn can_seek(&self) -> bool {
        true
    }

    fn seek(&mut self, target_ns: u64, stop_ns: Option<u64>) -> Result<SeekOutcome, EngineError> {
        Ok(Rf1Engine::seek(self, target_ns, stop_ns))
    }

    fn duration(&mut self) -> Option<u64> {
        Some(self.duration_ns())
    }

    /// Known from the indexes.
    fn exact_duration(&self) -> Option<u64> {
        Some(self.duration_ns())
    }

    fn global_tags(&self) -> Option<Tags> {
        Some(self.tags())
    }

    fn take_report(&mut self) -> DamageReport {
        self.take_damage()
    }

    fn next_times(&self) -> Vec<(StreamId, Option<u64>)> {
        Rf1Engine::next_times(self)
    }

    fn last_times(&self) -> Vec<(StreamId, Option<u64>)> {
        Rf1Engine::last_times(self)
    }
}

fn start_unix_us(timebase_us: u64) -> Option<i64> {
    // An absurd time base loses the wall clock, not the frames.
    rf1::wall_clock_ns(timebase_us, 0)?;
    i64::try_from(timebase_us).ok()
}

fn read_part<C: Chunk>(chunk: &C, range: std::ops::Range<usize>) -> Part<C> {
    Part::Read {
        chunk: chunk.clone(),
        range,
    }
}

fn track_of<'a>(archive: &'a Archive, segment: usize, name: &str) -> Result<&'a Track, ReadError> {
    archive
        .segments
        .get(segment)
        .and_then(|s| s.track(name))
        .ok_or_else(|| "track vanished".into())
}

fn piece_len(piece: &PayloadPiece) -> usize {
    usize::try_from(piece.range.end - piece.range.start).unwrap_or(usize::MAX)
}

/// The pieces of `nalus`, each checked to lie inside the packet data.
fn checked_pieces(track: &Track, nalus: std::ops::Range<usize>) -> io::Result<Vec<PayloadPiece>> {
    nalus.map(|n| track.checked_piece(n)).collect()
}

/// The bytes of `pieces`, concatenated (no start codes): one read when
/// they are contiguous. The pieces were checked against the file's size.
fn read_pieces(file: &File, pieces: &[PayloadPiece]) -> io::Result<Vec<u8>> {
    let total = pieces
        .iter()
        .try_fold(0usize, |sum, p| sum.checked_add(piece_len(p)))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "access unit too large"))?;
    let mut out = vec![0; total];
    let contiguous = pieces
        .windows(2)
        .all(|w| w[0].range.end == w[1].range.start);
    if let (true, Some(first)) = (contiguous, pieces.first()) {
        read_exact_at(file, &mut out, first.range.start)?;
        return Ok(out);
    }
    let mut at = 0;
    for piece in pieces {
        let len = piece_len(piece);
        read_exact_at(file, &mut out[at..at + len], piece.range.start)?;
        at += len;
    }
    Ok(out)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(mut file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// The packet file of `segment` for the cursor's track, kept open while the
/// cursor stays in that segment, with its path.
fn open_packets<'a>(
    cursor: &'a mut Cursor,
    archive: &Archive,
    segment: usize,
) -> Result<(&'a File, &'a Arc<Path>), ReadError> {
    if cursor.file.as_ref().is_none_or(|(s, _, _)| *s != segment) {
        let path = packets_path(archive, segment, &cursor.track)?;
        let file = File::open(&path).map_err(|e| ReadError(format!("{}: {e}", path.display())))?;
        cursor.file = Some((segment, file, path.into()));
    }
    match &cursor.file {
        Some((_, file, path)) => Ok((file, path)),
        None => Err("packet file not open".into()),
    }
}

fn first_position(archive: &Archive, name: &str, lane: &[usize]) -> Option<ArchivePosition> {
    lane.iter().find_map(|&segment| {
        let t = archive.segments.get(segment)?.track(name)?;
        (!t.access_units.is_empty()).then_some(ArchivePosition { segment, au: 0 })
    })
}

/// The access unit of track `name` after `position`, within the segments
/// of one stream (`lane`).
fn next_au(
    archive: &Archive,
    name: &str,
    lane: &[usize],
    position: ArchivePosition,
) -> Option<ArchivePosition> {
    let in_same = archive.segments.get(position.segment)?.track(name)?;
    if position.au + 1 < in_same.access_units.len() {
        return Some(ArchivePosition {
            au: position.au + 1,
            ..position
        });
    }
    let later = lane.partition_point(|&s| s <= position.segment);
    first_position(archive, name, &lane[later..])
}

/// The last key access unit of track `name` at or before `time_ns`
/// (relative to the archive's origin) within one stream's segments; a key
/// frame exactly at `time_ns` is returned itself.
fn key_unit_at_or_before(
    archive: &Archive,
    name: &str,
    lane: &[usize],
    time_ns: u64,
) -> Option<ArchivePosition> {
    let absolute_ns = archive.origin_ns.saturating_add(time_ns);
    lane.iter().rev().find_map(|&segment| {
        let track = archive.segments.get(segment)?.track(name)?;
        let relative_ns = absolute_ns.checked_sub(track.timebase_ns())?;
        let au = track.key_unit_at_or_before(rf1::last_ticks_at_or_before_ns(relative_ns))?;
        Some(ArchivePosition { segment, au })
    })
}

/// The end of a stream: its last access unit's time plus the step from the
/// one before it (0 for a single access unit).
fn end_of_track(archive: &Archive, name: &str, lane: &[usize]) -> Option<u64> {
    let last = last_position(archive, name, lane)?;
    let end = archive.time_ns(name, last)?;
    let before = if last.au > 0 {
        Some(ArchivePosition {
            segment: last.segment,
            au: last.au - 1,
        })
    } else {
        let earlier = lane.partition_point(|&s| s < last.segment);
        last_position(archive, name, &lane[..earlier])
    };
    let step = before
        .and_then(|p| archive.time_ns(name, p))
        .map_or(0, |t| end.saturating_sub(t));
    Some(end.saturating_add(step))
}

fn last_position(archive: &Archive, name: &str, lane: &[usize]) -> Option<ArchivePosition> {
    lane.iter().rev().find_map(|&segment| {
        let t = archive.segments.get(segment)?.track(name)?;
        let au = t.access_units.len().checked_sub(1)?;
        Some(ArchivePosition { segment, au })
    })
}

/// One stream of a track: segments that follow each other in time with
/// one codec and picture size.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lane {
    /// Stream (pad) name.
    name: String,
    track: String,
    segments: Vec<usize>,
    /// Why this lane exists, when it is because its first segment overlaps
    /// an earlier one (reported).
    overlap: Option<String>,
}

/// The streams of an archive: per track (in name order), its segments in
/// time order, each going to the first stream of the same codec and
/// picture size (unknown size fits any) that it does not overlap (it
/// starts after that stream's last access unit). A segment that overlaps
/// (two recordings of one camera at the same time) or changes codec or
/// picture size (which a container track cannot follow) starts a stream
/// of its own, so that no frame is dropped and none is muxed as what it is
/// not. The first stream of each track comes first (ids 0..tracks, as
/// without lanes), further ones after, named `<track>-2`, `<track>-3`…
fn lanes(archive: &Archive) -> Vec<Lane> {
    struct State {
        lane: Lane,
        codec: h264::Codec,
        size: (u16, u16),
        end_ns: u64,
        end_base: String,
    }
    // The camera's main track first: the first stream (playbin's default).
    let names = main_track_first(archive);
    let mut taken: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut firsts = Vec::new();
    let mut extra = Vec::new();
    for name in &names {
        let mut states: Vec<State> = Vec::new();
        for (si, segment) in archive.segments.iter().enumerate() {
            let Some(track) = segment.track(name) else {
                continue;
            };
            let Some(last_au) = track.access_units.len().checked_sub(1) else {
                continue;
            };
            let (Some(first), Some(last)) =
                (track.au_time_since(0, 0), track.au_time_since(last_au, 0))
            else {
                continue;
            };
            let size = (track.header.width, track.header.height);
            let fits = |s: &State| {
                s.codec == track.codec() && (s.size == size || s.size == (0, 0) || size == (0, 0))
            };
            let base = segment.files.base.display().to_string();
            if let Some(state) = states.iter_mut().find(|s| fits(s) && s.end_ns < first) {
                state.lane.segments.push(si);
                state.end_ns = last;
                state.end_base = base;
                if state.size == (0, 0) {
                    state.size = size;
                }
                continue;
            }
            let overlapped = states
                .iter()
                .filter(|s| fits(s) && s.end_ns >= first)
                .map(|s| (s.end_base.clone(), s.end_ns - first))
                .next();
            let lane_name = if states.is_empty() {
                (*name).to_owned()
            } else {
                let mut k = states.len() + 1;
                while taken.contains(&format!("{name}-{k}")) {
                    k += 1;
                }
                format!("{name}-{k}")
            };
            taken.push(lane_name.clone());
            let overlap = overlapped.map(|(other, ns)| {
                format!(
                    "{base}_{name}: overlaps {other}_{name} by {:.3} s (two recordings of the same time): \
                     nothing skipped, played as stream {lane_name}",
                    (ns as f64 / 1e9)
                )
            });
            states.push(State {
                lane: Lane {
                    name: lane_name,
                    track: (*name).to_owned(),
                    segments: vec![si],
                    overlap,
                },
                codec: track.codec(),
                size,
                end_ns: last,
                end_base: base,
            });
        }
        let mut lanes = states.into_iter().map(|s| s.lane);
        // A track without any access unit still gets its stream.
        let first = lanes.next().unwrap_or_else(|| Lane {
            name: (*name).to_owned(),
            track: (*name).to_owned(),
            segments: archive
                .segments
                .iter()
                .enumerate()
                .filter(|(_, s)| s.track(name).is_some())
                .map(|(i, _)| i)
                .take(1)
                .collect(),
            overlap: None,
        });
        firsts.push(first);
        extra.extend(lanes);
    }
    firsts.extend(extra);
    firsts
}

fn packets_path(archive: &Archive, segment: usize, name: &str) -> Result<PathBuf, ReadError> {
    archive
        .segments
        .get(segment)
        .ok_or("segment vanished")?
        .files
        .tracks
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.packets_path.clone())
        .ok_or_else(|| ReadError(format!("no packet file for track {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::rf1::flags;
    use crate::formats::rf1::writer::{NaluData, Pts, TrackWriter};

    /// A directory removed when dropped.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir()
                .join(format!("gst-cctv-rf1-engine-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const START_MS: u64 = 1_700_000_000_000;
    const SPS: &[u8] = &[0x67, 1, 2, 3];
    const PPS: &[u8] = &[0x68, 4];

    fn idr(frame: usize) -> Vec<u8> {
        vec![0x65, frame as u8, 0xaa]
    }

    fn slice(frame: usize) -> Vec<u8> {
        vec![0x41, frame as u8]
    }

    /// `segments` segments of `frames` frames at 10 fps, a key frame every
    /// `gop`; bare NALUs (no start codes) when `bare`; SPS/PPS only in the
    /// very first access unit. Track `name`, time base shifted by `shift_ms`.
    fn write(dir: &Path, name: &str, shift_ms: u64, segments: usize, frames: usize, gop: usize) {
        let bare = name != "annexb";
        let with_code = |nal: &[u8]| -> Vec<u8> {
            if bare {
                nal.to_vec()
            } else {
                [&START_CODE[..], nal].concat()
            }
        };
        let annexb = if bare { 0 } else { flags::ANNEXB };
        let mut frame = 0;
        for s in 0..segments {
            let start_ms = START_MS + (s * frames) as u64 * 100;
            let base = dir.join(start_ms.to_string());
            let mut w = TrackWriter::create(
                &base,
                name,
                h264::Codec::H264,
                (start_ms + shift_ms) * 1000,
                (32, 16),
                Default::default(),
            )
            .unwrap();
            for k in 0..frames {
                let pts = Pts::Ns(k as u64 * 100_000_000);
                let (sps, pps) = (with_code(SPS), with_code(PPS));
                if frame % gop == 0 {
                    let idr = with_code(&idr(frame));
                    let mut nalus: Vec<NaluData> = Vec::new();
                    if frame == 0 {
                        nalus.push((&sps, flags::ESSENTIAL_META | annexb));
                        nalus.push((&pps, flags::ESSENTIAL_META | annexb));
                    }
                    nalus.push((&idr, flags::KEY | annexb));
                    w.write_access_unit(pts, &nalus).unwrap();
                } else {
                    w.write_access_unit(pts, &[(&with_code(&slice(frame)), annexb)])
                        .unwrap();
                }
                frame += 1;
            }
            w.close().unwrap();
        }
    }

    fn all(engine: &mut Rf1Engine) -> Vec<Packet<SharedBytes>> {
        std::iter::from_fn(|| engine.next_packet().unwrap()).collect()
    }

    fn annexb(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter()
            .flat_map(|n| [&START_CODE[..], n].concat())
            .collect()
    }

    #[test]
    fn plays_segments_as_one_timeline_with_start_codes_and_parameter_sets() {
        let dir = Dir::new("timeline");
        write(&dir.0, "video", 0, 2, 10, 5);
        let mut engine = Rf1Engine::open(&dir.0, &[]).unwrap();
        // The last access unit (1 s + 0.9 s) plus its step from the one
        // before it (0.8 s): the end of the last frame.
        let last = 1_000_000_000 + rf1::ticks_to_ns(rf1::ns_to_ticks(900_000_000));
        let before = 1_000_000_000 + rf1::ticks_to_ns(rf1::ns_to_ticks(800_000_000));
        assert_eq!(engine.duration_ns(), last + (last - before));
        let packets = all(&mut engine);
        assert_eq!(packets.len(), 20);
        for (i, p) in packets.iter().enumerate() {
            let seg_start = (i / 10) as u64 * 1_000_000_000;
            let ticks = rf1::ns_to_ticks((i % 10) as u64 * 100_000_000);
            assert_eq!(p.pts, Some(seg_start + rf1::ticks_to_ns(ticks)), "#{i}");
            assert_eq!(p.dts, p.pts);
            assert_eq!(p.key, i % 5 == 0, "#{i}");
            assert_eq!(p.discont, i == 0, "#{i}");
            let wall =
                (START_MS * 1000 + (i / 10) as u64 * 1_000_000) * 1000 + rf1::ticks_to_ns(ticks);
            assert_eq!(p.wallclock_ns, Some(wall));
            let want = match (i, i % 5) {
                (0, _) => annexb(&[SPS, PPS, &idr(0)]),
                (_, 0) => annexb(&[SPS, PPS, &idr(i)]),
                _ => annexb(&[&slice(i)]),
            };
            assert_eq!(p.to_vec(), want, "#{i}");
        }
        // Read bytes are shared ranges; start codes and parameter sets are shared
        // allocations, the same for every packet.
        let shared = |p: &Packet<SharedBytes>| -> Vec<Arc<[u8]>> {
            p.parts
                .iter()
                .filter_map(|part| match part {
                    Part::Shared(b) => Some(b.clone()),
                    _ => None,
                })
                .collect()
        };
        assert!(
            packets[1]
                .parts
                .iter()
                .any(|p| matches!(p, Part::Read { .. }))
        );
        let (k5, k10, k15) = (
            shared(&packets[5]),
            shared(&packets[10]),
            shared(&packets[15]),
        );
        assert_eq!(&*k5[0], &annexb(&[SPS, PPS])[..]);
        assert!(Arc::ptr_eq(&k5[0], &k10[0]) && Arc::ptr_eq(&k10[0], &k15[0]));
        assert!(Arc::ptr_eq(&k5[1], &shared(&packets[1])[0]));
        assert!(!engine.take_damage().any());
    }

    /// A track of one key frame, `size` pixels, in segment `base`.
    fn write_sized(base: &Path, name: &str, size: (u16, u16)) {
        let mut w = TrackWriter::create(
            base,
            name,
            h264::Codec::H264,
            START_MS * 1000,
            size,
            Default::default(),
        )
        .unwrap();
        let (sps, pps, idr) = (SPS.to_vec(), PPS.to_vec(), idr(0));
        let nalus: Vec<NaluData> = vec![
            (&sps, flags::ESSENTIAL_META),
            (&pps, flags::ESSENTIAL_META),
            (&idr, flags::KEY),
        ];
        w.write_access_unit(Pts::Ns(0), &nalus).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn the_main_track_comes_first() {
        // Players show the first video stream: the camera's main track
        // (`video`, else the largest picture), not a low-resolution copy
        // whose name sorts first (two_tracks: `lowres` before `video`).
        let names = |dir: &Dir| -> Vec<String> {
            let base = dir.0.join(START_MS.to_string());
            Rf1Engine::<SharedBytes>::open(&base, &[])
                .unwrap()
                .tracks_main_first()
        };
        let dir = Dir::new("main-named");
        let base = dir.0.join(START_MS.to_string());
        write_sized(&base, "lowres", (320, 180));
        write_sized(&base, "video", (64, 32));
        write_sized(&base, "aux", (1280, 720));
        assert_eq!(names(&dir), ["video", "aux", "lowres"]);
        let dir = Dir::new("main-largest");
        let base = dir.0.join(START_MS.to_string());
        write_sized(&base, "a_small", (320, 180));
        write_sized(&base, "b_large", (1280, 720));
        write_sized(&base, "c_small", (320, 180));
        assert_eq!(names(&dir), ["b_large", "a_small", "c_small"]);
    }

    #[test]
    fn tracks_interleave_by_time_and_describe_themselves() {
        let dir = Dir::new("tracks");
        write(&dir.0, "annexb", 0, 1, 10, 5);
        write(&dir.0, "late", 50, 1, 10, 5);
        let mut engine = Rf1Engine::open(&dir.0, &[]).unwrap();
        let infos = engine.streams();
        let names: Vec<_> = infos.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["annexb", "late"]);
        assert_eq!(
            infos[0].codec,
            Codec::H264 {
                profile: None,
                level: None
            }
        );
        assert_eq!((infos[1].width, infos[1].height), (Some(32), Some(16)));
        assert_eq!(infos[1].tags.title.as_deref(), Some("late"));
        assert_eq!(
            infos[1].tags.start_unix_us,
            Some((START_MS + 50) as i64 * 1000)
        );
        assert_eq!(engine.tags().start_unix_us, Some(START_MS as i64 * 1000));
        let packets = all(&mut engine);
        assert_eq!(packets.len(), 20);
        let times: Vec<u64> = packets.iter().map(|p| p.pts.unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        assert_eq!(packets[1].stream, infos[1].id);
        assert_eq!(packets[1].pts, Some(50_000_000));
        // Already Annex-B: the access unit is one read range.
        assert_eq!(packets[2].parts.len(), 1);
        assert_eq!(
            engine.last_times(),
            vec![
                (infos[0].id, packets[18].pts),
                (infos[1].id, packets[19].pts)
            ]
        );
        let mut filtered = Rf1Engine::<SharedBytes>::open(&dir.0, &["late".into()]).unwrap();
        assert_eq!(filtered.streams().len(), 1);
        // Time zero is the kept track's time base.
        assert_eq!(filtered.next_times()[0].1, Some(0));
    }

    #[test]
    fn seeks_start_at_the_key_unit_at_or_before_the_target() {
        let dir = Dir::new("seek");
        write(&dir.0, "video", 0, 2, 10, 5);
        let mut engine = Rf1Engine::open(&dir.0, &[]).unwrap();
        let key = |i: u64| {
            (i / 10) * 1_000_000_000 + rf1::ticks_to_ns(rf1::ns_to_ticks((i % 10) * 100_000_000))
        };
        // Exactly on a key frame: that key frame (not the GOP before).
        assert_eq!(engine.seek(key(10), None).key_pts, Some(key(10)));
        // Just before it: the previous one.
        assert_eq!(engine.seek(key(10) - 1, None).key_pts, Some(key(5)));
        let packets = all(&mut engine);
        assert_eq!(packets.len(), 15);
        assert!(packets[0].discont && packets[0].key);
        // After a seek, the parameter sets come first again.
        assert_eq!(packets[0].to_vec(), annexb(&[SPS, PPS, &idr(5)]));
        // Stop is exclusive.
        engine.seek(key(12), Some(key(17)));
        let pts: Vec<_> = all(&mut engine).iter().map(|p| p.pts.unwrap()).collect();
        assert_eq!(pts, (10..17).map(key).collect::<Vec<_>>());
        // At or past the end (the rule of every source): nothing.
        let end = engine.duration_ns();
        for target in [end, end + 1] {
            let outcome = engine.seek(target, None);
            assert!(outcome.past_end && outcome.key_pts.is_none());
            assert!(all(&mut engine).is_empty());
        }
        // Just before it: the last GOP.
        assert_eq!(engine.seek(end - 1, None).key_pts, Some(key(15)));
        assert_eq!(all(&mut engine).len(), 5);
        // Before the first key frame of a track: its first access unit.
        assert_eq!(engine.seek(0, None).key_pts, Some(0));
    }

    #[test]
    fn damage_is_reported_once_with_every_intact_access_unit_played() {
        let dir = Dir::new("damage");
        write(&dir.0, "video", 0, 1, 10, 5);
        let packets = dir.0.join(format!("{START_MS}_video.rf1p"));
        let len = std::fs::metadata(&packets).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&packets)
            .unwrap()
            .set_len(len - 1)
            .unwrap();
        let mut engine = Rf1Engine::open(&dir.0, &[]).unwrap();
        assert!(!engine.take_damage().any(), "reported as played");
        assert_eq!(all(&mut engine).len(), 9);
        let damage = engine.take_damage();
        assert!(damage.any());
        assert!(damage.describe().contains("kept"), "{}", damage.describe());
        assert_eq!(damage.units, 9);
        engine.seek(0, None);
        assert_eq!(all(&mut engine).len(), 9);
        assert!(!engine.take_damage().any(), "reported once");
    }

    /// One segment `dir/<name_ms>` of `frames` key frames at 10 fps with
    /// time base `timebase_ms`.
    fn segment(dir: &Path, name_ms: u64, timebase_ms: u64, codec: h264::Codec, frames: usize) {
        let mut w = TrackWriter::create(
            &dir.join(name_ms.to_string()),
            "video",
            codec,
            timebase_ms * 1000,
            (32, 16),
            Default::default(),
        )
        .unwrap();
        let nal: &[u8] = match codec {
            h264::Codec::H264 => &[0, 0, 1, 0x65, 1, 2],
            h264::Codec::H265 => &[0, 0, 1, 0x26, 1, 2],
        };
        for k in 0..frames {
            let pts = Pts::Ns(k as u64 * 100_000_000);
            w.write_nalu(pts, nal, flags::KEY | flags::ANNEXB).unwrap();
        }
        w.close().unwrap();
    }

    #[test]
    fn overlapping_segments_and_codec_changes_are_streams_of_their_own() {
        let dir = Dir::new("lanes");
        segment(&dir.0, START_MS, START_MS, h264::Codec::H264, 10);
        // The same time, another name: a second recording.
        segment(&dir.0, START_MS + 1, START_MS, h264::Codec::H264, 10);
        // After both, but H.265.
        segment(
            &dir.0,
            START_MS + 5_000,
            START_MS + 5_000,
            h264::Codec::H265,
            10,
        );
        // H.264 again: back to the first stream.
        segment(
            &dir.0,
            START_MS + 8_000,
            START_MS + 8_000,
            h264::Codec::H264,
            10,
        );
        let mut engine = Rf1Engine::open(&dir.0, &[]).unwrap();
        let infos = engine.streams();
        let names: Vec<(&str, &Codec)> =
            infos.iter().map(|i| (i.name.as_str(), &i.codec)).collect();
        let h264 = Codec::H264 {
            profile: None,
            level: None,
        };
        assert_eq!(
            names,
            [
                ("video", &h264),
                ("video-2", &h264),
                ("video-3", &Codec::H265)
            ]
        );
        assert!(
            infos
                .iter()
                .all(|i| i.tags.title.as_deref() == Some("video"))
        );
        let packets = all(&mut engine);
        let count = |n: usize| packets.iter().filter(|p| p.stream == infos[n].id).count();
        assert_eq!((count(0), count(1), count(2)), (20, 10, 10));
        // Each stream's times go forward; the first has the 8 s segment.
        for info in &infos {
            let times: Vec<u64> = packets
                .iter()
                .filter(|p| p.stream == info.id)
                .map(|p| p.pts.unwrap())
                .collect();
            assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        }
        let damage = engine.take_damage();
        assert!(!damage.describe().contains("earlier than"));
        assert!(
            damage.describe().contains("overlaps"),
            "{}",
            damage.describe()
        );
        // Seeking into the H.265 stream's span: each stream at its own key
        // frame at or before the target (the second stream's last: 0.9 s).
        let last_of_second = rf1::ticks_to_ns(rf1::ns_to_ticks(900_000_000));
        assert_eq!(
            engine.seek(5_500_000_000, None).key_pts,
            Some(last_of_second)
        );
        let after = all(&mut engine);
        assert_eq!(after.iter().filter(|p| p.stream == infos[2].id).count(), 5);
    }

    #[test]
    fn missing_location_is_an_error() {
        let dir = Dir::new("missing");
        assert!(matches!(
            Rf1Engine::<SharedBytes>::open(&dir.0.join("nothing"), &[]),
            Err(Rf1Error::NotFound(_) | Rf1Error::NoTracks { .. })
        ));
    }
}
