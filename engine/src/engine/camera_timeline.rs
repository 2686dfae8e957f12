// SPDX-License-Identifier: MIT
//! A camera of a case as one [`Source`]: its files in capture order, read
//! one after the other as one stream (issue 18: "a timeline source per
//! camera").
//!
//! - Packets are each file's, with their running times moved by the
//!   file's base: file `i + 1` starts where file `i` ends (the end of its
//!   last frame) plus the pause in capture time between them, the same
//!   gaps policy as inside a file: a pause up to `max-gap` keeps its real
//!   length, a longer one is compacted (the next file starts right after
//!   the last frame). The first packet of every stream of a later file is
//!   DISCONT (a decoder restarts there; the files are separate recordings).
//! - Only the camera's streams are kept (a VMax file may hold sixteen
//!   cameras): the others are discarded in each file's source. A camera
//!   without audio of its own keeps its file's only audio stream (a
//!   dashcam's one microphone), as `cctv convert` exports it.
//! - Streams: every stream the camera's files bring, announced once, up
//!   front: the first file's, then those only later files have (the
//!   catalog's, [`streams_of_files`]: a dashcam whose sound starts in its
//!   third file, same id and caps as that file announces). Until its first
//!   packet such a stream has none: the front end keeps its pad going (the
//!   GStreamer adapter's GAPs for a pad that lags, as for a silent camera).
//!   A stream no file was catalogued with still comes as `NewStream`.
//! - Seeks by running time go to the file that holds the target; its base
//!   is the sum of the durations before it (each file's duration is its
//!   source's, which reads a bounded part of the file), computed once and
//!   kept. Files before the target are not read further. A stop ends the
//!   timeline at the camera's first packet at or past it; the files after
//!   the one sought into are read from their start (a seek to 0 would
//!   start at the first key frame and lose what comes before it).
//! - Damage is reported per file, named by the file.
//!
//! Only one file is open at a time.

use super::bytes::Chunk;
use super::demuxer::SeekOutcome;
use super::error::{EngineError, SourceError};
use super::format::{StreamId, StreamInfo, StreamKind, Tags};
use super::source::{DamageReport, Source, SourceEvent, is_past_end};
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};

/// One file of the camera, in capture order.
#[derive(Debug, Clone)]
pub struct TimelineFile {
    pub path: PathBuf,
    /// Capture time (Unix ns) of its first and last frame (the catalog's).
    pub first_wall_ns: u64,
    pub last_wall_ns: u64,
}

/// Opens one file of the camera as a source (its format's reader).
pub type Opener<C> =
    Box<dyn FnMut(&Path) -> Result<Box<dyn Source<Chunk = C> + Send>, EngineError> + Send>;

/// Which streams of a file are the camera's.
pub type Keep = Box<dyn Fn(&StreamInfo) -> bool + Send>;

struct Open<C: Chunk> {
    index: usize,
    source: Box<dyn Source<Chunk = C> + Send>,
    /// Running time (of the timeline) the file starts at.
    base: u64,
    /// Streams that had a packet in this file (the first is DISCONT).
    started: HashSet<StreamId>,
    /// The end of the last frame read, in the file's running time.
    end: u64,
    /// The file's streams that are not the camera's.
    discarded: Vec<StreamId>,
}

pub struct CameraTimeline<C: Chunk> {
    files: Vec<TimelineFile>,
    open_file: Opener<C>,
    keep: Keep,
    /// Per file: its duration (ns), once known.
    durations: Vec<Option<u64>>,
    current: Option<Open<C>>,
    /// Streams announced to the front end.
    announced: Vec<StreamId>,
    /// Streams later files bring, announced with the first file's.
    expected: Vec<StreamInfo>,
    streams_found: bool,
    /// The first file's tags (the camera's), handed out once.
    tags: Option<Tags>,
    tags_sent: bool,
    /// Streams the front end does not want, in every file.
    front_discarded: Vec<StreamId>,
    pending: VecDeque<SourceEvent<C>>,
    stop_ns: Option<u64>,
    report: DamageReport,
    ended: bool,
    /// Pauses between files longer than this are compacted (`None`: real
    /// time).
    max_gap: Option<u64>,
    /// Files that could not be read (they last nothing, no pause after).
    skipped: Vec<bool>,
}

impl<C: Chunk> CameraTimeline<C> {
    /// `files` in capture order (the catalog's spans of one camera, each
    /// file once).
    pub fn new(files: Vec<TimelineFile>, keep: Keep, open_file: Opener<C>) -> Self {
        let count = files.len();
        Self {
            files,
            open_file,
            keep,
            durations: vec![None; count],
            current: None,
            announced: Vec::new(),
            expected: Vec::new(),
            streams_found: false,
            tags: None,
            tags_sent: false,
            front_discarded: Vec::new(),
            pending: VecDeque::new(),
            stop_ns: None,
            report: DamageReport {
                format: "camera timeline",
                ..DamageReport::default()
            },
            ended: count == 0,
            max_gap: Some(super::timeline::DEFAULT_MAX_GAP_NS),
            skipped: vec![false; count],
        }
    }

    /// Pauses between files longer than `max_gap` (ns) are compacted, as
    /// inside a file; `None` keeps real time. Default: the engine's 10 s.
    pub fn set_max_gap(&mut self, max_gap: Option<u64>) {
        self.max_gap = max_gap;
    }

    /// The running time between the end of file `index` (of running
    /// duration `duration`) and the start of the next: the pause in capture
    /// time after its last frame when it is kept, else 0. From the
    /// catalog's capture times and the duration only, so that reading and
    /// seeking give the same bases.
    fn pause_after(&self, index: usize, duration: u64) -> u64 {
        let (Some(this), Some(next)) = (self.files.get(index), self.files.get(index + 1)) else {
            return 0;
        };
        if self.skipped[index] {
            return 0;
        }
        // From the start of its last frame to the next file's first.
        let between = next.first_wall_ns.saturating_sub(this.last_wall_ns);
        if self.max_gap.is_some_and(|gap| between > gap) {
            return 0;
        }
        // The last frame lasts what the duration has beyond the span of
        // frame starts (0 where the file compacted a gap of its own).
        let span = this.last_wall_ns.saturating_sub(this.first_wall_ns);
        between.saturating_sub(duration.saturating_sub(span))
    }

    /// The streams the camera's files bring (e.g. [`streams_of_files`]):
    /// announced with the streams of the first file read, those it has not
    /// after its own.
    pub fn expect_streams(&mut self, streams: Vec<StreamInfo>) {
        self.expected = streams;
    }

    pub fn files(&self) -> &[TimelineFile] {
        &self.files
    }

    /// Opens file `index`, to start at `base`.
    /// Opens file `index`, to start at `base`. A file that cannot be
    /// opened (gone or unreadable since the catalog) is reported and
    /// skipped: the next one is opened instead, as the end of a damaged
    /// file is. `false`: no file from `index` on could be opened.
    fn open(&mut self, mut index: usize, mut base: u64) -> Result<bool, EngineError> {
        while index < self.files.len() {
            match (self.open_file)(&self.files[index].path) {
                Ok(source) => {
                    self.current = Some(Open {
                        index,
                        source,
                        base,
                        started: HashSet::new(),
                        end: 0,
                        discarded: Vec::new(),
                    });
                    return Ok(true);
                }
                Err(EngineError::Source(SourceError::Flushing)) => {
                    return Err(EngineError::Source(SourceError::Flushing));
                }
                Err(e) => {
                    self.skip(index, &e);
                    base += self.pause_after(index, 0);
                    index += 1;
                }
            }
        }
        Ok(false)
    }

    /// File `index` could not be read: reported; it lasts nothing.
    fn skip(&mut self, index: usize, why: &EngineError) {
        self.durations[index] = Some(0);
        self.skipped[index] = true;
        self.report.regions += 1;
        self.report.problems.push(format!(
            "{}: skipped: {why}",
            self.files[index].path.display()
        ));
    }

    /// The streams of a file that are the camera's: announced (first
    /// file) or new; the rest discarded in that file. `whole`: `infos` is
    /// the file's stream list (not one stream it brings later).
    fn streams_of_file(&mut self, infos: Vec<StreamInfo>, whole: bool) {
        let Some(open) = self.current.as_mut() else {
            return;
        };
        // One new stream alone is the camera's by `keep` only (the shared
        // audio rule needs the file's whole list).
        let part = if whole {
            camera_part(&infos, &*self.keep)
        } else {
            (0..infos.len())
                .filter(|&i| (self.keep)(&infos[i]))
                .collect()
        };
        let mut kept = Vec::new();
        for (k, info) in infos.into_iter().enumerate() {
            if part.contains(&k) {
                kept.push(info);
            } else {
                open.discarded.push(info.id);
            }
        }
        let mut dropped = open.discarded.clone();
        dropped.extend_from_slice(&self.front_discarded);
        open.source.set_discarded(&dropped);
        if !self.streams_found {
            self.streams_found = true;
            // Then those only later files bring: their pads exist from the
            // start (a muxer or player links them once, before playing).
            for info in &self.expected {
                if !kept.iter().any(|k| k.id == info.id) {
                    kept.push(info.clone());
                }
            }
            self.announced = kept.iter().map(|i| i.id).collect();
            self.pending.push_back(SourceEvent::StreamsFound(kept));
        } else {
            for info in kept {
                if !self.announced.contains(&info.id) {
                    self.announced.push(info.id);
                    self.pending.push_back(SourceEvent::NewStream(info));
                }
            }
        }
    }

    /// The current file is done: note its duration and damage, open the
    /// next (or end).
    fn finish_file(&mut self) -> Result<(), EngineError> {
        let Some(mut open) = self.current.take() else {
            return Ok(());
        };
        // The file's own duration (every stream, as a seek computes the
        // bases), never less than what was read.
        let duration = match self.durations[open.index] {
            Some(d) => d,
            None => open.source.duration().unwrap_or(open.end),
        }
        .max(open.end);
        self.durations[open.index] = Some(duration);
        self.absorb_report(open.index, open.source.take_report());
        let next = open.index + 1;
        let base = open.base + duration + self.pause_after(open.index, duration);
        if next >= self.files.len() || self.stop_ns.is_some_and(|stop| base >= stop) {
            self.ended = true;
            return Ok(());
        }
        // Read from its start, not sought to 0 for the stop: a seek goes to
        // the first key frame and loses what the file has before it in file
        // order (a dashcam's first audio packet, written before the
        // picture of the same time). The stop is applied in `next`.
        if !self.open(next, base)? {
            self.ended = true;
        }
        Ok(())
    }

    fn absorb_report(&mut self, index: usize, report: DamageReport) {
        self.report.units += report.units;
        self.report.regions += report.regions;
        self.report.bytes += report.bytes;
        let name = self.files[index].path.display().to_string();
        for p in report.problems {
            self.report.problems.push(format!("{name}: {p}"));
        }
        for d in report.details {
            self.report.details.push(format!("{name}: {d}"));
        }
    }

    /// The duration of file `index` (reads a bounded part of it once).
    fn duration_of(&mut self, index: usize) -> Result<Option<u64>, EngineError> {
        if let Some(d) = self.durations[index] {
            return Ok(Some(d));
        }
        let current = match self.current.as_mut() {
            Some(open) if open.index == index => open.source.duration(),
            _ => None,
        };
        let d = match current {
            Some(d) => Some(d),
            // A source knows its duration once its streams are found: a
            // probe of its own (the open file's events are the front end's).
            None => match (self.open_file)(&self.files[index].path) {
                Ok(mut probe) => {
                    discover(probe.as_mut())?;
                    probe.duration()
                }
                Err(e) => {
                    self.skip(index, &e);
                    Some(0)
                }
            },
        };
        self.durations[index] = d;
        Ok(d)
    }

    /// The file that holds running time `target` and its base; `None`: past
    /// the end (or a duration is unknown before it).
    fn locate(&mut self, target: u64) -> Result<Option<(usize, u64)>, EngineError> {
        let mut base = 0u64;
        for index in 0..self.files.len() {
            let Some(d) = self.duration_of(index)? else {
                return Ok(Some((index, base)));
            };
            if target < base + d {
                return Ok(Some((index, base)));
            }
            base += d + self.pause_after(index, d);
            // A target in a kept pause plays from the next file's start.
        }
        Ok(None)
    }
}

/// Which of a file's streams `infos` are the camera's (their indices):
/// those `keep` takes and, for a camera with pictures but no sound of its
/// own, its file's only audio stream (a dashcam with one microphone): what
/// `cctv convert` exports with it, so played and exported alike.
fn camera_part(infos: &[StreamInfo], keep: &dyn Fn(&StreamInfo) -> bool) -> Vec<usize> {
    let mut part: Vec<usize> = (0..infos.len()).filter(|&i| keep(&infos[i])).collect();
    let has = |kind| part.iter().any(|&i| infos[i].id.kind == kind);
    let audios: Vec<usize> = (0..infos.len())
        .filter(|i| !part.contains(i) && infos[*i].id.kind == StreamKind::Audio)
        .collect();
    if has(StreamKind::Video) && !has(StreamKind::Audio) && audios.len() == 1 {
        part.push(audios[0]);
    }
    part
}

/// The streams of a camera over its catalogued files (in capture order):
/// per file its part ([`camera_part`]), each stream id once, as the first
/// file that has it describes it. What [`CameraTimeline::expect_streams`]
/// takes: a stream only a later file brings (sound that starts in the
/// third file) is known up front without opening that file.
pub fn streams_of_files<'a>(
    entries: impl IntoIterator<Item = &'a super::catalog::FileEntry>,
    keep: &dyn Fn(&StreamInfo) -> bool,
) -> Vec<StreamInfo> {
    let mut all: Vec<StreamInfo> = Vec::new();
    for entry in entries {
        let infos: Vec<StreamInfo> = entry
            .streams
            .iter()
            .map(|s| s.info.clone())
            .chain(entry.other_streams.iter().cloned())
            .collect();
        for k in camera_part(&infos, keep) {
            if !all.iter().any(|a| a.id == infos[k].id) {
                all.push(infos[k].clone());
            }
        }
    }
    all
}

/// Reads `source` until its streams are found (or its end).
fn discover<C: Chunk>(source: &mut (dyn Source<Chunk = C> + Send)) -> Result<(), EngineError> {
    loop {
        match source.next()? {
            SourceEvent::StreamsFound(_) | SourceEvent::End | SourceEvent::NeedData => {
                return Ok(());
            }
            _ => {}
        }
    }
}

impl<C: Chunk> Source for CameraTimeline<C> {
    type Chunk = C;

    fn next(&mut self) -> Result<SourceEvent<C>, EngineError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            if self.ended {
                return Ok(SourceEvent::End);
            }
            if self.current.is_none() && !self.open(0, 0)? {
                self.ended = true;
                if !self.streams_found {
                    // Not one file could be opened: nothing to play.
                    return Err(EngineError::Source(SourceError::Io(self.report.describe())));
                }
                continue;
            }
            let open = self.current.as_mut().expect("a file is open");
            let event = match open.source.next() {
                Ok(event) => event,
                Err(EngineError::Source(SourceError::Flushing)) => {
                    return Err(EngineError::Source(SourceError::Flushing));
                }
                // A file that fails part-way (read error, replaced) ends
                // there, reported; the next one follows.
                Err(e) => {
                    let index = open.index;
                    self.report.regions += 1;
                    self.report.problems.push(format!(
                        "{}: reading stopped: {e}",
                        self.files[index].path.display()
                    ));
                    self.finish_file()?;
                    continue;
                }
            };
            match event {
                SourceEvent::StreamsFound(infos) => self.streams_of_file(infos, true),
                SourceEvent::NewStream(info) => self.streams_of_file(vec![info], false),
                SourceEvent::Tags(tags) => {
                    // The first file's, once (they follow its streams).
                    if !self.tags_sent {
                        self.tags_sent = true;
                        self.tags = Some(tags.clone());
                        return Ok(SourceEvent::Tags(tags));
                    }
                }
                SourceEvent::Packet(mut packet) => {
                    if open.discarded.contains(&packet.stream) {
                        continue;
                    }
                    // The stop, as a demuxer applies it: its first packet at
                    // or past it ends the file, and the timeline (later
                    // files start later still).
                    if let Some(stop) = self.stop_ns
                        && packet
                            .pts
                            .is_some_and(|p| p.saturating_add(open.base) >= stop)
                    {
                        self.finish_file()?;
                        continue;
                    }
                    if let Some(end) = packet
                        .pts
                        .map(|pts| pts.saturating_add(packet.duration.unwrap_or(0)))
                    {
                        open.end = open.end.max(end);
                    }
                    if open.started.insert(packet.stream) && open.index > 0 {
                        packet.discont = true;
                    }
                    packet.pts = packet.pts.map(|t| t + open.base);
                    packet.dts = packet.dts.map(|t| t + open.base);
                    return Ok(SourceEvent::Packet(packet));
                }
                // A stream may end in one file and go on in the next: only
                // the last file ends streams.
                SourceEvent::StreamEnd(id) => {
                    if open.index + 1 == self.files.len() && !open.discarded.contains(&id) {
                        return Ok(SourceEvent::StreamEnd(id));
                    }
                }
                SourceEvent::NeedData => return Ok(SourceEvent::NeedData),
                SourceEvent::End => self.finish_file()?,
            }
        }
    }

    fn can_seek(&self) -> bool {
        true
    }

    fn seek(&mut self, target_ns: u64, stop_ns: Option<u64>) -> Result<SeekOutcome, EngineError> {
        self.pending.clear();
        self.stop_ns = stop_ns;
        let located = self.locate(target_ns)?;
        let past_end = match located {
            None => true,
            Some(_) => is_past_end(target_ns, self.exact_duration()),
        };
        let Some((index, base)) = located.filter(|_| !past_end) else {
            if let Some(open) = self.current.take() {
                self.absorb_report(open.index, {
                    let mut source = open.source;
                    source.take_report()
                });
            }
            self.ended = true;
            return Ok(SeekOutcome {
                key_pts: None,
                offset: 0,
                past_end: true,
            });
        };
        self.ended = false;
        let reuse = self.current.as_ref().is_some_and(|o| o.index == index);
        if !reuse {
            if let Some(open) = self.current.take() {
                let mut source = open.source;
                let report = source.take_report();
                self.absorb_report(open.index, report);
            }
            if !self.open(index, base)? {
                self.ended = true;
                return Ok(SeekOutcome {
                    key_pts: None,
                    offset: 0,
                    past_end: true,
                });
            }
        }
        let open = self.current.as_mut().expect("opened");
        // The streams were announced: the file only needs to know which to
        // drop (it announces its streams again, and they are filtered).
        open.started.clear();
        open.end = 0;
        // The file opened may be a later one (an unreadable one skipped).
        let (base, index) = (open.base, open.index);
        let outcome = open.source.seek(
            target_ns.saturating_sub(base),
            stop_ns.map(|s| s.saturating_sub(base)),
        )?;
        Ok(SeekOutcome {
            key_pts: outcome.key_pts.map(|k| k + base),
            offset: outcome.offset,
            past_end: outcome.past_end && index + 1 == self.files.len(),
        })
    }

    fn duration(&mut self) -> Option<u64> {
        let mut total = 0u64;
        for index in 0..self.files.len() {
            let d = self.duration_of(index).ok().flatten()?;
            total += d + self.pause_after(index, d);
        }
        Some(total)
    }

    fn exact_duration(&self) -> Option<u64> {
        let mut total = 0u64;
        for (index, d) in self.durations.iter().enumerate() {
            let d = (*d)?;
            total += d + self.pause_after(index, d);
        }
        Some(total)
    }

    fn global_tags(&self) -> Option<Tags> {
        self.tags.clone()
    }

    fn take_report(&mut self) -> DamageReport {
        if let Some(open) = self.current.as_mut() {
            let report = open.source.take_report();
            let index = open.index;
            self.absorb_report(index, report);
        }
        let format = self.report.format;
        std::mem::replace(
            &mut self.report,
            DamageReport {
                format,
                ..DamageReport::default()
            },
        )
    }

    fn set_discarded(&mut self, streams: &[StreamId]) {
        self.front_discarded = streams.to_vec();
        if let Some(open) = self.current.as_mut() {
            let mut all = open.discarded.clone();
            all.extend_from_slice(streams);
            open.source.set_discarded(&all);
        }
    }
}

/// How a case camera is played (the `cctvsrc` element's and the VLC
/// module's settings).
#[derive(Debug, Clone)]
pub struct CaseOptions {
    /// A camera number, name or id ([`Catalog::find`]); `None`: the case's
    /// first camera.
    pub camera: Option<String>,
    /// Capture-time cues (and speed, GPS for `.nvr`).
    pub subtitles: bool,
    pub timezone: Option<super::zone::Zone>,
    pub clock_offset_ns: i64,
    pub max_gap: Option<u64>,
}

impl Default for CaseOptions {
    fn default() -> Self {
        Self {
            camera: None,
            subtitles: true,
            timezone: None,
            clock_offset_ns: 0,
            max_gap: Some(super::timeline::DEFAULT_MAX_GAP_NS),
        }
    }
}

/// Why a case camera cannot be played.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseError {
    /// The location cannot be read.
    Read { path: PathBuf, why: String },
    /// No `.psf`/`.nvr` recording or rf1 camera directory in it.
    NoRecordings(PathBuf),
    /// No camera answers to the name; the case's cameras.
    NoCamera { what: String, cameras: Vec<String> },
    /// Recordings, but no camera with pictures.
    NoPictures(PathBuf),
}

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseError::Read { path, why } => write!(f, "Cannot read {}: {why}", path.display()),
            CaseError::NoRecordings(path) => {
                write!(f, "No .psf, .nvr or rf1 recordings in {}", path.display())
            }
            CaseError::NoCamera { what, cameras } => write!(
                f,
                "No camera \"{what}\" in the case (cameras: {})",
                cameras.join(", ")
            ),
            CaseError::NoPictures(path) => {
                write!(f, "No camera with pictures in {}", path.display())
            }
        }
    }
}

impl std::error::Error for CaseError {}

/// A case camera ready to play.
pub struct OpenedCase<C: Chunk> {
    pub timeline: CameraTimeline<C>,
    /// As the recordings name it (`ALLEY [09]`), and its stable id.
    pub camera_name: String,
    pub camera_id: String,
    /// Recordings that could not be catalogued, and why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// The format of a recording, from its first bytes only; `None`: not a
/// `.psf`/`.nvr` recording.
pub fn recording_kind(path: &Path) -> std::io::Result<Option<super::catalog::FormatKind>> {
    use super::catalog::FormatKind;
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(super::probe::PAVS_PROBE_WINDOW as u64)
        .read_to_end(&mut head)?;
    Ok(if super::probe::says(&head).is_some() {
        Some(FormatKind::Says)
    } else if super::probe::pavs(&head).is_some() {
        Some(FormatKind::Pavs)
    } else {
        None
    })
}

/// Catalogues `location` (a folder searched recursively, or one recording)
/// and opens `options.camera` as one timeline; each file is read through
/// `wrap` (the front end's reader: GStreamer buffers, plain bytes).
pub fn open_case<C, S>(
    location: &Path,
    options: &CaseOptions,
    wrap: fn(super::bytes::FileSource) -> S,
) -> Result<OpenedCase<C>, CaseError>
where
    C: Chunk,
    S: super::bytes::ByteSource<Chunk = C> + Send + 'static,
{
    let read_error = |e: std::io::Error| CaseError::Read {
        path: location.to_path_buf(),
        why: e.to_string(),
    };
    let recordings = if super::catalog::is_rf1_directory(location) {
        // An rf1 camera directory itself.
        vec![(location.to_path_buf(), super::catalog::FormatKind::Rf1)]
    } else if location.is_dir() {
        super::catalog::recordings_in(location).map_err(read_error)?
    } else {
        recording_kind(location)
            .map_err(read_error)?
            .map(|kind| (location.to_path_buf(), kind))
            .into_iter()
            .collect()
    };
    open_camera(location, &recordings, options, wrap)
}

/// Opens `options.camera` of the recordings `files` (and only those: e.g.
/// the files a `cctv convert` window needs) as one timeline; `place` names
/// them in errors (the folder they were found in, or the first file).
pub fn open_camera<C, S>(
    place: &Path,
    recordings: &[(PathBuf, super::catalog::FormatKind)],
    options: &CaseOptions,
    wrap: fn(super::bytes::FileSource) -> S,
) -> Result<OpenedCase<C>, CaseError>
where
    C: Chunk,
    S: super::bytes::ByteSource<Chunk = C> + Send + 'static,
{
    use super::catalog::{Catalog, FormatKind};
    use super::formats::pavs::{Pavs, PavsOptions};
    use super::formats::says::{Says, SaysOptions};
    use super::source::ByteDemux;
    if recordings.is_empty() {
        return Err(CaseError::NoRecordings(place.to_path_buf()));
    }
    let catalog = Catalog::build(recordings);
    let camera = match options.camera.as_deref() {
        Some(what) => catalog
            .find(what)
            .into_iter()
            .next()
            .ok_or_else(|| CaseError::NoCamera {
                what: what.to_string(),
                cameras: catalog.cameras.iter().map(|c| c.name.clone()).collect(),
            })?,
        None => catalog
            .cameras
            .first()
            .ok_or_else(|| CaseError::NoPictures(place.to_path_buf()))?,
    };
    // The camera's streams in each file carry its number (a VMax file may
    // hold sixteen cameras); an rf1 recording is opened with the camera's
    // track only, so all its streams are the camera's.
    let rf1_track = (camera.key.format == FormatKind::Rf1).then(|| camera.key.stream.clone());
    let number = camera
        .key
        .stream
        .rsplit('_')
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|_| rf1_track.is_none());
    let spans: Vec<(TimelineFile, FormatKind)> = camera
        .spans
        .iter()
        .map(|s| {
            let entry = &catalog.files[s.file];
            (
                TimelineFile {
                    path: entry.path.clone(),
                    first_wall_ns: s.first_wall_ns,
                    last_wall_ns: s.last_wall_ns,
                },
                entry.format,
            )
        })
        .collect();
    let formats: Vec<(PathBuf, FormatKind)> =
        spans.iter().map(|(f, k)| (f.path.clone(), *k)).collect();
    let files = spans.into_iter().map(|(f, _)| f).collect();
    let options = options.clone();
    let open_file = move |path: &Path| -> Result<Box<dyn Source<Chunk = C> + Send>, EngineError> {
        let kind = formats
            .iter()
            .find(|(p, _)| p == path)
            .map_or(FormatKind::Pavs, |(_, k)| *k);
        if kind == FormatKind::Rf1 {
            // Its segments, joined exactly by the rf1 reader (one time base
            // across them, parameter sets carried over, tracks that start
            // later: docs/engine.md); camera directories are joined here.
            let tracks: Vec<String> = rf1_track.iter().cloned().collect();
            let mut engine =
                super::formats::rf1::Rf1Engine::<C>::open(path, &tracks).map_err(|e| {
                    EngineError::Source(super::error::SourceError::Io(format!(
                        "{}: {e}",
                        path.display()
                    )))
                })?;
            engine.set_subtitles(options.subtitles);
            engine.set_timezone(options.timezone.clone());
            engine.set_clock_offset(options.clock_offset_ns);
            engine.set_max_gap(options.max_gap);
            return Ok(Box::new(engine));
        }
        let file = super::bytes::FileSource::open(path).map_err(|e| {
            EngineError::Source(super::error::SourceError::Io(format!(
                "{}: {e}",
                path.display()
            )))
        })?;
        Ok(match kind {
            FormatKind::Says => Box::new(ByteDemux::pull(
                Says::with_options(SaysOptions {
                    subtitles: options.subtitles,
                    telemetry: false,
                    timezone: options.timezone.clone(),
                    clock_offset_ns: options.clock_offset_ns,
                    max_gap: options.max_gap,
                }),
                wrap(file),
            )),
            _ => Box::new(ByteDemux::pull(
                Pavs::new(PavsOptions {
                    subtitles: options.subtitles,
                    timezone: options.timezone.clone(),
                    clock_offset_ns: options.clock_offset_ns,
                    max_gap: options.max_gap,
                    ..PavsOptions::default()
                }),
                wrap(file),
            )),
        })
    };
    let keep = move |info: &StreamInfo| number.is_none_or(|n| info.id.number == n);
    let expected = streams_of_files(camera.spans.iter().map(|s| &catalog.files[s.file]), &keep);
    let max_gap = options.max_gap;
    let mut timeline = CameraTimeline::new(files, Box::new(keep), Box::new(open_file));
    timeline.set_max_gap(max_gap);
    timeline.expect_streams(expected);
    Ok(OpenedCase {
        timeline,
        camera_name: camera.name.clone(),
        camera_id: camera.key.id(),
        skipped: catalog
            .skipped
            .iter()
            .map(|s| (s.path.clone(), s.reason.clone()))
            .collect(),
    })
}
