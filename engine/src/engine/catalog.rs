// SPDX-License-Identifier: MIT
//! Cases, not files: recordings become **cameras**, each an ordered set of
//! spans across files by capture time, with the gaps between them, the
//! overlaps, exact duplicates (same content: used once, reported) and what
//! could not be read.
//!
//! A camera's identity is the format's own: VMax channel + camera name,
//! Rosco device (serial, else vehicle, else model) + camera digit, rf1
//! camera directory + track. Building the catalog reads only what it needs
//! from each file: the discovery window at the start (at most
//! [`DISCOVERY`] bytes), a fingerprint (the first and last [`PRINT`] bytes),
//! and the last key frame's group at the end, found by the engine's seek
//! (bisection), never the whole file. Its I/O per file is bounded whatever
//! the file's size.

use super::bytes::{ByteSource, FileSource};
use super::demuxer::{Demuxer, Event};
use super::format::{Format, StreamInfo, StreamKind, Tags};
use super::formats::pavs::{Pavs, PavsOptions};
use super::formats::rf1::Rf1Engine;
use super::formats::says::{Says, SaysOptions};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Discovery in the catalog ends after this many bytes or units.
pub const DISCOVERY_LIMIT_BYTES: u64 = 1 << 20;
pub const DISCOVERY_LIMIT_UNITS: usize = 256;
/// Bytes hashed at each end of a file for its fingerprint.
pub const PRINT: u64 = 64 * 1024;
/// The most a catalog reads from the start of a file to find its streams
/// (the engine's discovery window).
pub const DISCOVERY: u64 = 4 << 20;

/// The container format of a recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FormatKind {
    Pavs,
    Says,
    Rf1,
}

impl FormatKind {
    pub fn name(self) -> &'static str {
        match self {
            FormatKind::Pavs => "pavs",
            FormatKind::Says => "says",
            FormatKind::Rf1 => "rf1",
        }
    }
}

/// Who recorded a stream: the same camera across files has the same key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CameraKey {
    pub format: FormatKind,
    /// VMax: the camera name; Rosco: serial/vehicle/model; rf1: the camera
    /// directory.
    pub device: String,
    /// The stream's pad name (`video_9`, `video_0`, rf1: the track name).
    pub stream: String,
}

impl CameraKey {
    /// A stable, URL- and file-name-safe id (`pavs-alley-09-video_9`).
    pub fn id(&self) -> String {
        let mut id = format!("{}-", self.format.name());
        let device: String = self
            .device
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        // `ALLEY [09]` → `alley-09`: one dash between words.
        let device = device
            .split('-')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        if !device.is_empty() {
            id.push_str(&device);
            id.push('-');
        }
        id.push_str(&self.stream);
        id
    }
}

/// One recording as the catalog sees it.
#[derive(Clone, Debug)]
pub struct FileEntry {
    /// The recording: a file, or an rf1 segment/camera directory.
    pub path: PathBuf,
    pub format: FormatKind,
    pub size: u64,
    /// SHA-256 over the size and the first and last [`PRINT`] bytes.
    pub fingerprint: [u8; 32],
    pub streams: Vec<FileStream>,
    /// Its other streams (audio, cues) as its discovery found them: what a
    /// camera's timeline announces up front for a stream that only a later
    /// file brings (no I/O of its own: the discovery read them anyway).
    pub other_streams: Vec<StreamInfo>,
    pub tags: Option<Tags>,
    /// Bytes this entry read to be catalogued.
    pub bytes_read: u64,
}

impl FileEntry {
    /// The recorder's UTC offset (minutes) where the recording says it:
    /// its tags, else a stream's. The zone `--from/--to` are read in.
    pub fn utc_offset_min(&self) -> Option<i32> {
        utc_offset_of(self.tags.as_ref(), self.streams.iter().map(|s| &s.info))
    }
}

/// A recording's UTC offset (minutes) where it says it: the recording's
/// tags, else a stream's (the catalog's files, the CLI's scans).
pub fn utc_offset_of<'a>(
    tags: Option<&Tags>,
    streams: impl IntoIterator<Item = &'a StreamInfo>,
) -> Option<i32> {
    tags.and_then(|t| t.start_utc_offset_min).or_else(|| {
        streams
            .into_iter()
            .find_map(|i| i.tags.start_utc_offset_min)
    })
}

/// One video stream of a file and the capture times it spans.
#[derive(Clone, Debug)]
pub struct FileStream {
    pub key: CameraKey,
    pub info: StreamInfo,
    /// Capture time (Unix ns) of its first and last frame (in file order).
    pub first_wall_ns: u64,
    pub last_wall_ns: u64,
    /// The earliest and latest capture time seen at either end of the
    /// file: what a time window meets. The same as first and last unless
    /// the recorder's clock ran backwards.
    pub earliest_wall_ns: u64,
    pub latest_wall_ns: u64,
}

/// A camera across files.
#[derive(Clone, Debug)]
pub struct Camera {
    pub key: CameraKey,
    /// As the recording names it (`ALLEY [09]`), else the stream name.
    pub name: String,
    /// Files in capture order (each once: duplicates are in `duplicates`).
    pub spans: Vec<Span>,
    /// Pauses longer than the gap threshold between consecutive spans
    /// (Unix ns, from the end of one to the start of the next).
    pub gaps: Vec<(u64, u64)>,
    /// Consecutive spans that overlap in capture time (indexes into
    /// `spans`): distinct recordings of the same time, both kept.
    pub overlaps: Vec<(usize, usize)>,
    /// Files with the same content as a span's file: (duplicate, original),
    /// indexes into the catalog's files.
    pub duplicates: Vec<(usize, usize)>,
}

#[derive(Clone, Debug)]
pub struct Span {
    /// Index into [`Catalog::files`].
    pub file: usize,
    /// Its file's first and last frame (in file order).
    pub first_wall_ns: u64,
    pub last_wall_ns: u64,
    /// Every capture time seen at either end ([`FileStream`]).
    pub earliest_wall_ns: u64,
    pub latest_wall_ns: u64,
}

impl Camera {
    pub fn first_wall_ns(&self) -> Option<u64> {
        self.spans.iter().map(|s| s.earliest_wall_ns).min()
    }
    pub fn last_wall_ns(&self) -> Option<u64> {
        self.spans.iter().map(|s| s.latest_wall_ns).max()
    }
    /// The spans that hold capture times in `[from, to)`.
    pub fn spans_in(&self, from: Option<u64>, to: Option<u64>) -> Vec<&Span> {
        self.spans.iter().filter(|s| s.meets(from, to)).collect()
    }
}

impl Span {
    /// Whether it holds capture times in `[from, to)` (`None`: open).
    pub fn meets(&self, from: Option<u64>, to: Option<u64>) -> bool {
        from.is_none_or(|f| self.latest_wall_ns >= f)
            && to.is_none_or(|t| self.earliest_wall_ns < t)
    }
}

/// A recording that could not be catalogued, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// The cameras of a set of recordings.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub files: Vec<FileEntry>,
    pub cameras: Vec<Camera>,
    pub skipped: Vec<Skipped>,
}

/// Pauses between files longer than this are gaps (the engine's gap
/// default: shorter ones are the normal step between a recorder's files).
pub const GAP_NS: u64 = 10_000_000_000;

impl Catalog {
    /// Catalogues recordings (already found: files, rf1 segments or camera
    /// directories, with their format). Unreadable ones are in `skipped`.
    pub fn build(recordings: &[(PathBuf, FormatKind)]) -> Catalog {
        let mut cat = Catalog::default();
        for (path, format) in recordings {
            match describe(path, *format) {
                Ok(entry) => cat.files.push(entry),
                Err(reason) => cat.skipped.push(Skipped {
                    path: path.clone(),
                    reason,
                }),
            }
        }
        cat.group();
        cat
    }

    /// [`Catalog::build`] from the ends of each file only: its streams and
    /// the capture times of its first units and of its last key frame's
    /// group (the same bisection as the full catalog), the fingerprint;
    /// not the full discovery window. Spans hold every capture time seen
    /// at both ends (a clock that runs backwards, overlapping recordings),
    /// so a window finds every file that meets it. For picking the few
    /// files a time window needs out of many, which are then catalogued in
    /// full.
    pub fn build_ends(recordings: &[(PathBuf, FormatKind)]) -> Catalog {
        let mut cat = Catalog::default();
        for (path, format) in recordings {
            match describe_with(path, *format, true) {
                Ok(entry) => cat.files.push(entry),
                Err(reason) => cat.skipped.push(Skipped {
                    path: path.clone(),
                    reason,
                }),
            }
        }
        cat.group();
        cat
    }

    /// The camera with this id ([`CameraKey::id`]), or whose name or stream
    /// number is `what` (`--camera 9`, `--camera ALLEY`).
    pub fn find(&self, what: &str) -> Vec<&Camera> {
        let w = what.trim();
        self.cameras
            .iter()
            .filter(|c| {
                c.key.id() == w
                    || c.name.eq_ignore_ascii_case(w)
                    || c.name
                        .split(" [")
                        .next()
                        .is_some_and(|n| n.eq_ignore_ascii_case(w))
                    || c.key.stream == w
                    || c.key
                        .stream
                        .rsplit('_')
                        .next()
                        .and_then(|n| n.parse::<u32>().ok())
                        .zip(w.parse::<u32>().ok())
                        .is_some_and(|(a, b)| a == b)
            })
            .collect()
    }

    fn group(&mut self) {
        // Exact duplicates: same fingerprint and size, then the same bytes.
        let mut original: Vec<Option<usize>> = vec![None; self.files.len()];
        for i in 0..self.files.len() {
            for j in 0..i {
                if original[j].is_none()
                    && self.files[j].size == self.files[i].size
                    && self.files[j].fingerprint == self.files[i].fingerprint
                    && self.files[i].format != FormatKind::Rf1
                    && same_bytes(&self.files[i].path, &self.files[j].path)
                {
                    original[i] = Some(j);
                    break;
                }
            }
        }
        let mut by_key: BTreeMap<CameraKey, Camera> = BTreeMap::new();
        for (fi, f) in self.files.iter().enumerate() {
            for s in &f.streams {
                let cam = by_key.entry(s.key.clone()).or_insert_with(|| Camera {
                    key: s.key.clone(),
                    name: s
                        .info
                        .tags
                        .title
                        .clone()
                        .unwrap_or_else(|| s.key.stream.clone()),
                    spans: Vec::new(),
                    gaps: Vec::new(),
                    overlaps: Vec::new(),
                    duplicates: Vec::new(),
                });
                match original[fi] {
                    Some(o) => cam.duplicates.push((fi, o)),
                    None => cam.spans.push(Span {
                        file: fi,
                        first_wall_ns: s.first_wall_ns,
                        last_wall_ns: s.last_wall_ns,
                        earliest_wall_ns: s.earliest_wall_ns,
                        latest_wall_ns: s.latest_wall_ns,
                    }),
                }
            }
        }
        for cam in by_key.values_mut() {
            let files = &self.files;
            cam.spans.sort_by(|a, b| {
                (a.first_wall_ns, a.last_wall_ns, &files[a.file].path).cmp(&(
                    b.first_wall_ns,
                    b.last_wall_ns,
                    &files[b.file].path,
                ))
            });
            for k in 1..cam.spans.len() {
                let (prev, next) = (&cam.spans[k - 1], &cam.spans[k]);
                if next.first_wall_ns <= prev.last_wall_ns {
                    cam.overlaps.push((k - 1, k));
                } else if next.first_wall_ns - prev.last_wall_ns > GAP_NS {
                    cam.gaps.push((prev.last_wall_ns, next.first_wall_ns));
                }
            }
        }
        self.cameras = by_key
            .into_values()
            .filter(|c| !c.spans.is_empty())
            .collect();
        // Cameras in the order people read them: by start, then name.
        self.cameras
            .sort_by(|a, b| (a.first_wall_ns(), &a.name).cmp(&(b.first_wall_ns(), &b.name)));
    }
}

/// Whether two files hold the same bytes (read in step; stops at the first
/// difference).
fn same_bytes(a: &Path, b: &Path) -> bool {
    let (Ok(mut fa), Ok(mut fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        match (na, nb) {
            (Ok(0), Ok(0)) => return true,
            (Ok(x), Ok(y)) if x == y && ba[..x] == bb[..y] => {}
            _ => return false,
        }
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// SHA-256 of the size and the first and last [`PRINT`] bytes.
fn fingerprint(path: &Path, size: u64) -> Result<([u8; 32], u64), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut h = Sha256::new();
    h.update(size.to_le_bytes());
    let mut read = 0;
    let head = PRINT.min(size);
    let tail_at = size.saturating_sub(PRINT).max(head);
    for (at, len) in [(0, head), (tail_at, size - tail_at)] {
        let mut buf = vec![0; len as usize];
        file.read_exact_at(&mut buf, at)
            .map_err(|e| e.to_string())?;
        h.update(&buf);
        read += len;
    }
    Ok((h.finalize().into(), read))
}

/// A [`ByteSource`] that counts what it read.
struct Counting<S>(S, u64);

impl<S: ByteSource> ByteSource for Counting<S> {
    type Chunk = S::Chunk;
    fn size(&self) -> Option<u64> {
        self.0.size()
    }
    fn read_at(
        &mut self,
        offset: u64,
        len: usize,
    ) -> Result<Self::Chunk, super::error::SourceError> {
        let c = self.0.read_at(offset, len)?;
        self.1 += super::bytes::Chunk::bytes(&c).len() as u64;
        Ok(c)
    }
}

/// Catalogues one recording.
pub fn describe(path: &Path, format: FormatKind) -> Result<FileEntry, String> {
    describe_with(path, format, false)
}

/// Ends only: the discovery of the first units (then the end, as always).
const ENDS_DISCOVERY_BYTES: u64 = 256 * 1024;
const ENDS_DISCOVERY_UNITS: usize = 32;

fn describe_with(path: &Path, format: FormatKind, ends_only: bool) -> Result<FileEntry, String> {
    match format {
        FormatKind::Pavs => describe_stream(
            path,
            format,
            // Real time: the end is found by predicting it from the
            // tail, which compaction of unread gaps would hide.
            Pavs::new(PavsOptions {
                subtitles: false,
                max_gap: None,
                ..PavsOptions::default()
            }),
            |_tags, info| info.tags.title.clone().unwrap_or_default(),
            ends_only,
        ),
        FormatKind::Says => describe_stream(
            path,
            format,
            Says::with_options(SaysOptions {
                telemetry: false,
                subtitles: false,
                max_gap: None,
                ..SaysOptions::default()
            }),
            |tags, _| {
                tags.and_then(|t| t.device_serial.clone().or_else(|| t.device_model.clone()))
                    .unwrap_or_default()
            },
            ends_only,
        ),
        FormatKind::Rf1 => describe_rf1(path),
    }
}

fn describe_stream<F: Format>(
    path: &Path,
    format: FormatKind,
    engine_format: F,
    device: impl Fn(Option<&Tags>, &StreamInfo) -> String,
    ends_only: bool,
) -> Result<FileEntry, String> {
    let src = FileSource::open(path).map_err(|e| e.to_string())?;
    let size = src.size().unwrap_or(0);
    let (print, print_read) = fingerprint(path, size)?;
    let mut src = Counting(src, 0);
    let mut demux = Demuxer::new_pull(engine_format, Some(size));
    // The first packets of each camera are all the catalog needs from the
    // start: recorders interleave their cameras frame by frame.
    if ends_only {
        demux.limit_discovery(ENDS_DISCOVERY_BYTES, ENDS_DISCOVERY_UNITS);
    } else {
        demux.limit_discovery(DISCOVERY_LIMIT_BYTES, DISCOVERY_LIMIT_UNITS);
    }
    let mut infos: Vec<StreamInfo> = Vec::new();
    // Per stream: its first capture time, and the earliest and latest seen
    // at the start.
    let mut first: BTreeMap<String, u64> = BTreeMap::new();
    let mut head: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    // Discovery, then the packets it queued: the first capture time of
    // every stream found in the discovery window.
    loop {
        match demux.next(&mut src).map_err(|e| e.to_string())? {
            Event::StreamsFound(i) => infos.extend(i),
            Event::NewStream(i) => infos.push(i),
            Event::Packet(p) => {
                if let (Some(info), Some(w)) =
                    (infos.iter().find(|i| i.id == p.stream), p.wallclock_ns)
                {
                    first.entry(info.name.clone()).or_insert(w);
                    let e = head.entry(info.name.clone()).or_insert((w, w));
                    *e = (e.0.min(w), e.1.max(w));
                }
            }
            Event::NeedData | Event::Eos => break,
        }
        let videos = infos.iter().filter(|i| i.id.kind == StreamKind::Video);
        if !infos.is_empty() && videos.clone().all(|i| first.contains_key(&i.name)) {
            break;
        }
        if src.1 > DISCOVERY * 2 {
            break;
        }
    }
    let tags = demux.global_tags();
    // The end: the engine's seek to the predicted end restarts every
    // stream at its last key frame (bisection, a few probes), then the
    // last group is read.
    // (earliest, latest) capture time of the last group: a clock that runs
    // backwards ends before it starts.
    let mut last: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    if ends_only {
        // The capture times the units of the last 64 KiB carry: no seek.
        if let Ok(tail) = demux.tail_capture_times(&mut src) {
            for (id, times) in tail {
                if let Some(info) = infos.iter().find(|i| i.id == id) {
                    last.insert(info.name.clone(), times);
                }
            }
        }
    } else if let Some(end) = demux.duration(&mut src) {
        let target = end.saturating_sub(1);
        if demux.seek(&mut src, target, None).is_ok() {
            loop {
                match demux.next(&mut src) {
                    Ok(Event::Packet(p)) => {
                        if let (Some(info), Some(w)) =
                            (infos.iter().find(|i| i.id == p.stream), p.wallclock_ns)
                        {
                            let e = last.entry(info.name.clone()).or_insert((w, w));
                            *e = (e.0.min(w), e.1.max(w));
                        }
                    }
                    Ok(Event::NewStream(i)) => infos.push(i),
                    Ok(Event::StreamsFound(i)) => infos.extend(i),
                    Ok(Event::NeedData | Event::Eos) | Err(_) => break,
                }
            }
        }
    }
    let mut streams = Vec::new();
    for info in infos.iter().filter(|i| i.id.kind == StreamKind::Video) {
        let (Some(&f), Some(&(head_min, head_max))) = (first.get(&info.name), head.get(&info.name))
        else {
            continue;
        };
        // The span holds every capture time seen at both ends, whichever
        // way the recorder's clock ran (data: the VMax sample video2.psf
        // runs backwards, 16:58 down to 07:00; read in file order its
        // frames at 07:00 must still be found by a 07:00 window).
        let (tail_min, tail_max) = last
            .get(&info.name)
            .copied()
            .unwrap_or((head_min, head_max));
        streams.push(FileStream {
            key: CameraKey {
                format,
                device: device(tags.as_ref(), info),
                stream: info.name.clone(),
            },
            info: info.clone(),
            first_wall_ns: f,
            last_wall_ns: tail_max.max(f),
            earliest_wall_ns: head_min.min(tail_min),
            latest_wall_ns: head_max.max(tail_max),
        });
    }
    if streams.is_empty() {
        return Err("no video frame with a capture time".into());
    }
    // Bounded by the format's stream numbers (each id once).
    let mut other_streams: Vec<StreamInfo> = Vec::new();
    for info in infos.into_iter().filter(|i| i.id.kind != StreamKind::Video) {
        if !other_streams.iter().any(|o| o.id == info.id) {
            other_streams.push(info);
        }
    }
    Ok(FileEntry {
        path: path.to_path_buf(),
        format,
        size,
        fingerprint: print,
        streams,
        other_streams,
        tags,
        bytes_read: src.1 + print_read,
    })
}

fn describe_rf1(path: &Path) -> Result<FileEntry, String> {
    let mut engine: Rf1Engine = Rf1Engine::open(path, &[]).map_err(|e| e.to_string())?;
    let infos = engine.streams();
    let archive = engine.archive();
    // The camera directory: the directory of the segments.
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    // Its name, not where it is: ids (`rf1-camera-0001-video`) must be the
    // same on any machine the case is mounted on (plans, shards). The same
    // camera directory exported twice is the same camera.
    let named = dir.canonicalize().unwrap_or(dir);
    let device = named
        .file_name()
        .map_or_else(|| named.to_string_lossy(), |n| n.to_string_lossy())
        .into_owned();
    let mut h = Sha256::new();
    h.update(path.to_string_lossy().as_bytes());
    let mut streams = Vec::new();
    for info in infos.iter().filter(|i| i.id.kind == StreamKind::Video) {
        let Some((f, l)) = archive.wall_span_ns(&info.name) else {
            continue;
        };
        streams.push(FileStream {
            key: CameraKey {
                format: FormatKind::Rf1,
                device: device.clone(),
                stream: info.name.clone(),
            },
            info: info.clone(),
            first_wall_ns: f,
            last_wall_ns: l,
            earliest_wall_ns: f,
            latest_wall_ns: l,
        });
    }
    if streams.is_empty() {
        return Err("no video frame with a capture time".into());
    }
    Ok(FileEntry {
        path: path.to_path_buf(),
        format: FormatKind::Rf1,
        size: 0,
        fingerprint: h.finalize().into(),
        streams,
        // rf1 plays as one recording already (its own tracks up front).
        other_streams: Vec::new(),
        tags: Some(engine.tags()),
        bytes_read: 0,
    })
}

/// The `.psf`/`.nvr` recordings in `dir` and below, recognised by content,
/// each real file once (links followed, device and inode), in name order;
/// what is not a regular file (FIFOs, sockets, devices) is never opened.
/// What a front end without a walker of its own (the `cctvsrc` element)
/// catalogues. rf1 camera directories are not listed: they play as one
/// recording already (rf1src).
/// Whether `dir` is an rf1 camera directory (or a segment's directory): it
/// holds `.rf1i` index files.
pub fn is_rf1_directory(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "rf1i"))
    })
}

pub fn recordings_in(dir: &Path) -> std::io::Result<Vec<(PathBuf, FormatKind)>> {
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;
    fn sorted(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        Ok(entries)
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let root = std::fs::metadata(dir)?;
    seen.insert((root.dev(), root.ino()));
    let mut stack = vec![sorted(dir)?.into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(path) = top.next() else {
            stack.pop();
            continue;
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        if meta.is_dir() {
            if is_rf1_directory(&path) {
                // An NVR's camera directory: one recording (its segments
                // joined by the rf1 reader).
                out.push((path, FormatKind::Rf1));
            } else if let Ok(entries) = sorted(&path) {
                stack.push(entries.into_iter());
            }
        } else if meta.is_file() {
            let mut head = Vec::with_capacity(super::probe::PAVS_PROBE_WINDOW);
            let read = std::fs::File::open(&path).and_then(|f| {
                f.take(super::probe::PAVS_PROBE_WINDOW as u64)
                    .read_to_end(&mut head)
            });
            if read.is_err() {
                continue;
            }
            if super::probe::says(&head).is_some() {
                out.push((path, FormatKind::Says));
            } else if super::probe::pavs(&head).is_some() {
                out.push((path, FormatKind::Pavs));
            }
        }
    }
    Ok(out)
}
