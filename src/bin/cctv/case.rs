// SPDX-License-Identifier: MIT
//! Cases, not files: `cctv convert` of several `.psf`/`.nvr` recordings
//! writes one output per camera of the case (the engine's catalog), its
//! files joined in capture order; `--per-file` (and `--gaps split`) keep
//! one output per input.
//!
//! A camera's consecutive spans that do not overlap form a chain. A chain
//! of two or more files is joined: one pipeline, one `filesrc ! demuxer`
//! branch per file, each stream (video, audio, cues) through a `concat`
//! into the muxer (concat continues the running time from one file to the
//! next, so the files follow each other without a gap; gaps inside a file
//! follow `--gaps` as before). Only a few branches are open at a time
//! (the ones the concats are on and [`LOOKAHEAD`] after them), so a
//! 200-file camera does not mean 200 open demuxers. Only the first and the
//! last file of a `--from/--to` window get window seeks; files outside it
//! are not read beyond the catalog. A camera found in one file only (or
//! whose files overlap in time: distinct recordings of the same time) is
//! converted as before, under the same names.

use crate::convert::{self, Branch, Camera, Outcome, Shared, Span};
use crate::evidence::{self, ExportFacts};
use crate::files::{self, FileId, Part};
use crate::inputs::{Kind, Recording};
use crate::naming::Ticket;
use crate::out;
use crate::progress::{Job, Progress};
use crate::scan::{self, Depth};
use crate::times::parse_wall_in;
use crate::{ConvertArgs, Gaps, OutFormat, mp4time};
use anyhow::{Context, Result, anyhow, bail};
use gst::prelude::*;
use gstcctv::engine::catalog::{Catalog, FormatKind};
use gstcctv::engine::{Codec, StreamKind};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Files opened ahead of the one the slowest stream is on: enough that a
/// stream running a few seconds ahead of the others (the muxer's queues)
/// always finds its next file open.
const LOOKAHEAD: usize = 2;

/// One unit of a convert run.
pub enum Work {
    /// One recording, as `--per-file` converts it (`wanted`: `--camera`).
    File { rec: Recording, wanted: Vec<String> },
    /// One camera, its files joined in capture order.
    Joined(Joined),
}

pub struct Joined {
    /// The stream number (`video_9`: 9).
    pub number: u32,
    /// As the recording names it (`ALLEY [09]`).
    pub name: String,
    /// In capture order, each once.
    pub files: Vec<Recording>,
    /// Whether a `--from/--to` window applies (first and last files).
    pub windowed: bool,
}

impl Work {
    pub fn label(&self) -> String {
        match self {
            Work::File { rec, .. } => out::path(&rec.path),
            Work::Joined(j) => format!(
                "camera {} ({} file(s) from {})",
                out::escape(&j.name),
                j.files.len(),
                out::path(&j.files[0].path)
            ),
        }
    }

    /// The (first) input it reads: what messages and logs name.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Work::File { rec, .. } => &rec.path,
            Work::Joined(j) => &j.files[0].path,
        }
    }

    pub fn per_file(&self) -> bool {
        matches!(self, Work::File { .. })
    }
}

/// What a work item reads and writes, as `cctv plan` lists it: the plan
/// is this list, in this order, so that `cctv plan --shard-count N` and
/// `cctv convert --shard K/N` agree item by item.
#[derive(Clone, Debug, Default)]
pub struct About {
    /// The cameras it converts: (stable id, name as recorded).
    pub cameras: Vec<(String, String)>,
    /// The window asked for, in true time (Unix ns, `[from, to)`).
    pub from: Option<u64>,
    pub to: Option<u64>,
    /// Capture time (recorded) of its first and last frame, clipped to the
    /// window, from the catalog; `None` where the catalog could not read it.
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
    /// What it reads, in capture order.
    pub files: Vec<PathBuf>,
    /// Copies of those files, used once (not read).
    pub duplicates: Vec<PathBuf>,
    /// Its output names before the run makes them unique (`NAME-2`),
    /// without extension, in the order convert writes them; empty where
    /// only reading the recording can tell (rf1 tracks, `--per-file`).
    pub bases: Vec<std::ffi::OsString>,
    /// Why the catalog could not read it (its conversion says so too).
    pub unreadable: Option<String>,
}

/// A recording's output name for one camera, as [`convert::convert_one`]
/// and joined exports give it: the input's stem, `_camN` when the file
/// holds several cameras (joined exports always: their files may differ).
pub fn output_base(stem: &std::ffi::OsStr, camera: Option<u32>) -> std::ffi::OsString {
    let mut name = stem.to_os_string();
    if let Some(n) = camera {
        name.push(format!("_cam{n}"));
    }
    name
}

fn format_of(kind: Kind) -> Option<FormatKind> {
    match kind {
        Kind::Pavs => Some(FormatKind::Pavs),
        Kind::Says => Some(FormatKind::Says),
        Kind::Rf1 => None,
    }
}

/// The stream number of a pad name (`video_9` → 9).
fn number_of(stream: &str) -> Option<u32> {
    stream.rsplit('_').next()?.parse().ok()
}

/// What a convert run writes, and what the user should know about the
/// case (duplicates used once).
pub fn works(recordings: &[Recording], args: &ConvertArgs) -> Result<(Vec<Work>, Vec<String>)> {
    let (works, notes) = described_works(recordings, args, false)?;
    Ok((works.into_iter().map(|(w, _)| w).collect(), notes))
}

/// Works with what each reads and writes, and notes for the user.
pub type Described = (Vec<(Work, About)>, Vec<String>);

/// [`works`], each with what it reads and writes (for `cctv plan`;
/// `describe`: also where convert needs no catalog, one recording, rf1).
pub fn described_works(
    recordings: &[Recording],
    args: &ConvertArgs,
    describe: bool,
) -> Result<Described> {
    let zone = crate::zone_arg(args.tz.as_deref()).map_err(anyhow::Error::msg)?;
    let clock = convert::clock_offset_ns(args);
    let per_file = || -> Vec<(Work, About)> {
        recordings
            .iter()
            .map(|r| {
                let about = About {
                    files: vec![r.path.clone()],
                    ..About::default()
                };
                (
                    Work::File {
                        rec: r.clone(),
                        wanted: args.cameras.clone(),
                    },
                    about,
                )
            })
            .collect()
    };
    let joinable: Vec<(PathBuf, FormatKind)> = recordings
        .iter()
        .filter_map(|r| Some((r.path.clone(), format_of(r.kind)?)))
        .collect();
    if args.per_file || args.gaps == Gaps::Split || joinable.len() < 2 {
        if describe && !args.per_file && args.gaps != Gaps::Split {
            // One recording (and rf1): no case to join, but the plan still
            // describes it.
            return Ok((
                describe_singles(recordings, args, zone.as_ref(), clock)?,
                Vec::new(),
            ));
        }
        return Ok((per_file(), Vec::new()));
    }
    let windowed = args.from.is_some() || args.to.is_some();
    // A window: the files it needs are found from the ends of the files
    // (a few hundred KB each), and only they are catalogued in full.
    let joinable = if windowed {
        window_files(&joinable, args, zone.as_ref(), clock)?
    } else {
        joinable
    };
    let cat = Catalog::build(&joinable);
    let mut out = case_works(recordings, args, &cat, zone.as_ref(), clock)?;
    if describe {
        describe_rf1(recordings, args, &mut out);
    }
    let mut notes = Vec::new();
    let mut copies: BTreeMap<usize, usize> = BTreeMap::new();
    for c in &cat.cameras {
        for &(dup, orig) in &c.duplicates {
            copies.insert(dup, orig);
        }
    }
    for (dup, orig) in &copies {
        notes.push(format!(
            "{} holds the same recording as {}: used once",
            cat.files[*dup].path.display(),
            cat.files[*orig].path.display()
        ));
    }
    let considered: HashSet<&Path> = joinable.iter().map(|(p, _)| p.as_path()).collect();
    let catalogued: HashSet<&Path> = cat.files.iter().map(|f| f.path.as_path()).collect();
    // Recordings the catalog could not read, and rf1: converted (or
    // reported) one by one.
    for (i, r) in recordings.iter().enumerate() {
        // Left out by the window's first pass: not read further.
        let outside = format_of(r.kind).is_some() && !considered.contains(r.path.as_path());
        let listed = out.iter().any(|(k, _, _)| *k == i);
        if !catalogued.contains(r.path.as_path()) && !outside && !listed {
            let (work, about) = whole(r, args, &cat);
            out.push((i, work, about));
        }
    }
    if out.is_empty() {
        nothing_to_do(&cat, args, windowed)?;
    }
    out.sort_by_key(|(i, _, _)| *i);
    Ok((out.into_iter().map(|(_, w, a)| (w, a)).collect(), notes))
}

/// One recording that is not joined with others: its cameras described
/// from the catalog (bounded reads), as one work.
fn describe_singles(
    recordings: &[Recording],
    args: &ConvertArgs,
    zone: Option<&gstcctv::engine::zone::Zone>,
    clock: i64,
) -> Result<Vec<(Work, About)>> {
    let joinable: Vec<(PathBuf, FormatKind)> = recordings
        .iter()
        .filter_map(|r| Some((r.path.clone(), format_of(r.kind)?)))
        .collect();
    let cat = Catalog::build(&joinable);
    let mut described = case_works(recordings, args, &cat, zone, clock)?;
    describe_rf1(recordings, args, &mut described);
    let mut out = Vec::new();
    for (i, r) in recordings.iter().enumerate() {
        // Converted as a whole, whatever the catalog says (as before).
        let (work, mut about) = whole(r, args, &cat);
        if let Some((_, _, a)) = described.iter().find(|(k, _, _)| *k == i) {
            about = a.clone();
        }
        out.push((work, about));
    }
    Ok(out)
}

/// A recording converted as a whole (all the cameras asked for), and what
/// the catalog says of it.
fn whole(r: &Recording, args: &ConvertArgs, cat: &Catalog) -> (Work, About) {
    let about = About {
        files: vec![r.path.clone()],
        unreadable: cat
            .skipped
            .iter()
            .find(|s| s.path == r.path)
            .map(|s| s.reason.clone()),
        ..About::default()
    };
    let work = Work::File {
        rec: r.clone(),
        wanted: args.cameras.clone(),
    };
    (work, about)
}

/// Describes the rf1 recordings of a run (the catalog reads their index:
/// cameras and span) in `described`, adding a work for each one not there.
fn describe_rf1(
    recordings: &[Recording],
    args: &ConvertArgs,
    described: &mut Vec<(usize, Work, About)>,
) {
    let rf1: Vec<(PathBuf, FormatKind)> = recordings
        .iter()
        .filter(|r| r.kind == Kind::Rf1)
        .map(|r| (r.path.clone(), FormatKind::Rf1))
        .collect();
    if rf1.is_empty() {
        return;
    }
    let cat = Catalog::build(&rf1);
    for cam in &cat.cameras {
        for span in &cam.spans {
            let path = &cat.files[span.file].path;
            let Some(i) = recordings.iter().position(|r| &r.path == path) else {
                continue;
            };
            let k = match described.iter().position(|(k, _, _)| *k == i) {
                Some(k) => k,
                None => {
                    described.push((
                        i,
                        Work::File {
                            rec: recordings[i].clone(),
                            wanted: args.cameras.clone(),
                        },
                        About {
                            files: vec![path.clone()],
                            ..About::default()
                        },
                    ));
                    described.len() - 1
                }
            };
            let about = &mut described[k].2;
            about.cameras.push((cam.key.id(), cam.name.clone()));
            about.first_ns = Some(
                about
                    .first_ns
                    .map_or(span.first_wall_ns, |f| f.min(span.first_wall_ns)),
            );
            about.last_ns = about.last_ns.max(Some(span.last_wall_ns));
        }
    }
    for s in &cat.skipped {
        if let Some(k) = described.iter().position(|(_, w, _)| w.path() == s.path) {
            described[k].2.unreadable = Some(s.reason.clone());
        }
    }
}

/// Why a run has nothing to do: an error naming what there is.
fn nothing_to_do(cat: &Catalog, args: &ConvertArgs, windowed: bool) -> Result<()> {
    let selected = args.cameras.iter().any(|w| !cat.find(w).is_empty());
    if !args.cameras.is_empty() && !selected {
        // Both forms --camera takes: the name and the stable id.
        let all: Vec<String> = cat
            .cameras
            .iter()
            .map(|c| format!("{} = {}", c.name, c.key.id()))
            .collect();
        bail!(
            "no camera {} in these recordings (cameras: {})",
            args.cameras.join(", "),
            all.join(", ")
        );
    }
    if windowed {
        let first = cat.cameras.iter().filter_map(|c| c.first_wall_ns()).min();
        let last = cat.cameras.iter().filter_map(|c| c.last_wall_ns()).max();
        let span = match (first, last) {
            (Some(a), Some(b)) => format!(
                " (the recordings hold {} .. {})",
                crate::times::rfc3339_utc(a),
                crate::times::rfc3339_utc(b)
            ),
            _ => String::new(),
        };
        bail!("no camera has frames between --from and --to{span}");
    }
    Ok(())
}

/// The works of the catalogued recordings, keyed by the index of their
/// first recording: a camera whose files follow each other is joined, a
/// camera in one file (or in files that overlap in time) is converted
/// with its file.
fn case_works(
    recordings: &[Recording],
    args: &ConvertArgs,
    cat: &Catalog,
    zone: Option<&gstcctv::engine::zone::Zone>,
    clock: i64,
) -> Result<Vec<(usize, Work, About)>> {
    let windowed = args.from.is_some() || args.to.is_some();
    let index: HashMap<&Path, usize> = recordings
        .iter()
        .enumerate()
        .map(|(i, r)| (r.path.as_path(), i))
        .collect();
    let rec_of = |file: usize| index[cat.files[file].path.as_path()];
    // Cameras asked for (all without --camera).
    let mut selected: Vec<usize> = Vec::new();
    for w in &args.cameras {
        let found: Vec<usize> = cat
            .cameras
            .iter()
            .enumerate()
            .filter(|(_, c)| cat.find(w).iter().any(|f| f.key == c.key))
            .map(|(i, _)| i)
            .collect();
        // A camera number or name only some (uncatalogued) inputs have is
        // left to them: their conversion says so.
        selected.extend(found);
    }
    if args.cameras.is_empty() {
        selected = (0..cat.cameras.len()).collect();
    }
    selected.sort_unstable();
    selected.dedup();
    // (first recording index, work, about): sorted into input order later.
    let mut out: Vec<(usize, Work, About)> = Vec::new();
    // Per recording: (camera number, its about) converted per file.
    let mut singles: BTreeMap<usize, Vec<(u32, About)>> = BTreeMap::new();
    for &ci in &selected {
        let cam = &cat.cameras[ci];
        let first = &cat.files[cam.spans[0].file];
        if first.format == FormatKind::Rf1 {
            // rf1 camera directories are one recording each.
            continue;
        }
        let offset = first
            .tags
            .as_ref()
            .and_then(|t| t.start_utc_offset_min)
            .or_else(|| {
                first
                    .streams
                    .iter()
                    .find_map(|s| s.info.tags.start_utc_offset_min)
            });
        // The window in true time, and in the recorder's clock.
        let asked = |t: &Option<String>| -> Result<Option<u64>> {
            t.as_deref()
                .map(|t| parse_wall_in(t, zone, offset))
                .transpose()
        };
        let (true_from, true_to) = (asked(&args.from)?, asked(&args.to)?);
        let from = true_from.map(|ns| evidence::recorded_of(ns, clock));
        let to = true_to.map(|ns| evidence::recorded_of(ns, clock));
        let Some(number) = number_of(&cam.key.stream) else {
            continue;
        };
        // Chains: consecutive spans that do not overlap.
        let mut chains: Vec<Vec<usize>> = Vec::new();
        for (k, s) in cam.spans.iter().enumerate() {
            let overlaps = k > 0 && s.first_wall_ns <= cam.spans[k - 1].last_wall_ns;
            match chains.last_mut() {
                Some(c) if !overlaps => c.push(s.file),
                _ => chains.push(vec![s.file]),
            }
        }
        for chain in chains {
            let inside: Vec<&gstcctv::engine::catalog::Span> = chain
                .iter()
                .map(|&f| cam.spans.iter().find(|s| s.file == f).expect("span"))
                .filter(|s| s.meets(from, to))
                .collect();
            let Some(head) = inside.first().map(|s| s.file) else {
                continue;
            };
            let first_ns = inside.iter().map(|s| s.earliest_wall_ns).min();
            let last_ns = inside.iter().map(|s| s.latest_wall_ns).max();
            let mut duplicates: Vec<PathBuf> = cam
                .duplicates
                .iter()
                .filter(|(_, o)| inside.iter().any(|s| s.file == *o))
                .map(|(d, _)| cat.files[*d].path.clone())
                .collect();
            duplicates.sort();
            let mut about = About {
                cameras: vec![(cam.key.id(), cam.name.clone())],
                from: true_from,
                to: true_to,
                first_ns: first_ns.map(|f| from.map_or(f, |t| f.max(t))),
                last_ns: last_ns.map(|l| to.map_or(l, |t| l.min(t.saturating_sub(1)))),
                files: inside
                    .iter()
                    .map(|s| cat.files[s.file].path.clone())
                    .collect(),
                duplicates,
                ..About::default()
            };
            if chain.len() >= 2 {
                let files: Vec<Recording> = inside
                    .iter()
                    .map(|s| recordings[rec_of(s.file)].clone())
                    .collect();
                about.bases = vec![output_base(&files[0].stem, Some(number))];
                out.push((
                    rec_of(head),
                    Work::Joined(Joined {
                        number,
                        name: cam.name.clone(),
                        files,
                        windowed,
                    }),
                    about,
                ));
            } else {
                singles
                    .entry(rec_of(head))
                    .or_default()
                    .push((number, about));
            }
        }
    }
    for (i, cams) in singles {
        let fi = cat.files.iter().position(|f| f.path == recordings[i].path);
        let videos: Vec<u32> = fi
            .map(|fi| {
                cat.files[fi]
                    .streams
                    .iter()
                    .filter(|s| s.info.id.kind == StreamKind::Video)
                    .map(|s| s.info.id.number)
                    .collect()
            })
            .unwrap_or_default();
        let all = fi.is_some_and(|fi| cat.files[fi].streams.len() == cams.len());
        let numbers: Vec<u32> = cams.iter().map(|(n, _)| *n).collect();
        // convert_one's names: `_camN` only when the file has several.
        let several = videos.len() > 1;
        let mut about = About {
            files: vec![recordings[i].path.clone()],
            ..About::default()
        };
        for number in videos.iter().filter(|n| numbers.contains(n)) {
            let (_, a) = cams.iter().find(|(n, _)| n == number).expect("camera");
            about.cameras.extend(a.cameras.iter().cloned());
            about.from = a.from;
            about.to = a.to;
            about.first_ns = about.first_ns.min(a.first_ns).or(a.first_ns);
            about.last_ns = about.last_ns.max(a.last_ns);
            about.duplicates.extend(a.duplicates.iter().cloned());
            about
                .bases
                .push(output_base(&recordings[i].stem, several.then_some(*number)));
        }
        out.push((
            i,
            Work::File {
                rec: recordings[i].clone(),
                // Every camera of the file: exactly what --per-file does.
                wanted: if all {
                    args.cameras.clone()
                } else {
                    numbers.iter().map(u32::to_string).collect()
                },
            },
            about,
        ));
    }
    Ok(out)
}

/// The recordings a `--from/--to` window needs: per camera the files
/// whose span (every capture time seen at both ends of the file, whichever
/// way its clock ran: [`Catalog::build_ends`]) meets the window, with the
/// copies of those, and the recordings that could not be read (they are
/// then reported as before).
fn window_files(
    joinable: &[(PathBuf, FormatKind)],
    args: &ConvertArgs,
    zone: Option<&gstcctv::engine::zone::Zone>,
    clock: i64,
) -> Result<Vec<(PathBuf, FormatKind)>> {
    let cat = Catalog::build_ends(joinable);
    let mut keep: HashSet<PathBuf> = cat.skipped.iter().map(|s| s.path.clone()).collect();
    for cam in &cat.cameras {
        let first = &cat.files[cam.spans[0].file];
        let offset = first
            .tags
            .as_ref()
            .and_then(|t| t.start_utc_offset_min)
            .or_else(|| {
                first
                    .streams
                    .iter()
                    .find_map(|s| s.info.tags.start_utc_offset_min)
            });
        let bound = |t: &Option<String>| -> Result<Option<u64>> {
            t.as_deref()
                .map(|t| parse_wall_in(t, zone, offset).map(|ns| evidence::recorded_of(ns, clock)))
                .transpose()
        };
        let (from, to) = (bound(&args.from)?, bound(&args.to)?);
        let wanted: Vec<usize> = cam.spans_in(from, to).iter().map(|s| s.file).collect();
        for &f in &wanted {
            keep.insert(cat.files[f].path.clone());
        }
        for &(dup, orig) in &cam.duplicates {
            if wanted.contains(&orig) {
                keep.insert(cat.files[dup].path.clone());
            }
        }
    }
    Ok(joinable
        .iter()
        .filter(|(p, _)| keep.contains(p))
        .cloned()
        .collect())
}

pub fn run_work(
    work: &Work,
    args: &ConvertArgs,
    progress: &Progress,
    ticket: &Ticket<'_>,
    sources: &HashSet<FileId>,
) -> Result<Outcome> {
    match work {
        Work::File { rec, wanted } => {
            convert::convert_one(rec, args, wanted, progress, ticket, sources)
        }
        Work::Joined(j) => convert_joined(j, args, progress, ticket, sources),
    }
}

/// One file of a joined camera: the camera's streams in it, and its part
/// of the window (None: all of it).
struct Piece {
    rec: Recording,
    cam: Camera,
    span: Option<Span>,
}

fn convert_joined(
    j: &Joined,
    args: &ConvertArgs,
    progress: &Progress,
    ticket: &Ticket<'_>,
    sources: &HashSet<FileId>,
) -> Result<Outcome> {
    let mut pieces: Vec<Piece> = Vec::new();
    let last = j.files.len() - 1;
    let mut notes = Vec::new();
    for (k, rec) in j.files.iter().enumerate() {
        let disc =
            scan::scan(rec, Depth::StreamsOnly, |_, _| {}).with_context(|| out::path(&rec.path))?;
        let cam = convert::cameras_of(rec, &disc, &[j.number.to_string()])
            .with_context(|| out::path(&rec.path))?
            .remove(0);
        let span = if j.windowed && (k == 0 || k == last) {
            // Where the window starts (first file) and ends (last file)
            // in this file's running time: a scan of this file only.
            match convert::plan(rec, args, std::slice::from_ref(&cam), disc.utc_offset_min()) {
                Ok(w) => match w.first().and_then(|w| w.span_of(cam.number)) {
                    Some(s) => Some(s),
                    None => continue,
                },
                Err(e) => {
                    notes.push(format!("{}: {e:#}", out::path(&rec.path)));
                    continue;
                }
            }
        } else {
            None
        };
        pieces.push(Piece {
            rec: rec.clone(),
            cam,
            span,
        });
    }
    if pieces.is_empty() {
        bail!(
            "no video frames{}: nothing written",
            convert::window_note(args)
        );
    }
    let ext = match args.format {
        OutFormat::Mp4 => "mp4",
        OutFormat::Mkv => "mkv",
    };
    let output = ticket.with_namer(|namer| -> Result<Option<PathBuf>> {
        let mut name = pieces[0].rec.stem.clone();
        name.push(format!("_cam{}", j.number));
        let file = namer.claim(&name, ext);
        let path = args.outdir.join(&file);
        if file.len() > convert::NAME_MAX {
            bail!("{}: output name too long", out::path(&path));
        }
        if files::id_of(&path).is_some_and(|id| sources.contains(&id)) {
            bail!(
                "{} is an input of this run: refusing to replace it (choose another output directory)",
                out::path(&path)
            );
        }
        // batch (plan.rs): complete outputs are skipped, our own partial
        // ones redone, anyone else's kept unless --force.
        let own: std::collections::HashSet<files::FileId> = pieces
            .iter()
            .flat_map(|p| crate::inputs::file_ids(&p.rec))
            .collect();
        match crate::plan::settle(&path, args.force, &own) {
            crate::plan::Settle::Write => Ok(Some(path)),
            crate::plan::Settle::Skip => Ok(None),
            crate::plan::Settle::Refuse => {
                bail!("{} exists (use --force to overwrite)", out::path(&path))
            }
        }
    })?;
    let Some(output) = output else {
        return Ok(Outcome {
            notes,
            ..Outcome::default()
        });
    };
    let total: u64 = pieces
        .iter()
        .map(|p| p.rec.path.metadata().map_or(0, |m| m.len()))
        .sum();
    let label = output.file_name().map(out::os).unwrap_or_default();
    let mut job = progress.job(&label, total);
    let r = write_joined(&pieces, args, &output, &mut job);
    job.finish();
    let mut o = r?;
    o.notes.extend(notes);
    Ok(o)
}

fn write_joined(
    pieces: &[Piece],
    args: &ConvertArgs,
    output: &Path,
    job: &mut Job,
) -> Result<Outcome> {
    let dir = output.parent().unwrap_or(Path::new("."));
    let part = Part::new_in(dir)
        .with_context(|| format!("cannot write a temporary file in {}", out::path(dir)))?;
    let temp = files::gst_location(part.file(), part.path())?;
    // GStreamer opens the inputs already open here (by /proc/self/fd).
    let mut opened = Vec::new();
    let mut fed = Vec::new();
    for p in pieces {
        let f = files::open_regular(&p.rec.path)
            .with_context(|| format!("cannot read {}", out::path(&p.rec.path)))?;
        fed.push(files::gst_location(&f, &p.rec.path)?);
        opened.push(f);
    }
    let unfd = |text: String| -> String {
        let mut text = text;
        for (f, p) in fed.iter().zip(pieces) {
            let fd = f.to_string_lossy();
            if let Some(rest) = text.strip_prefix(&format!("{fd}: ")) {
                text = format!("{}: {rest}", out::path(&p.rec.path));
            }
            text = text.replace(&*fd, &out::path(&p.rec.path));
        }
        text.replace(&*temp.to_string_lossy(), &out::path(output))
    };
    let run = run_joined(pieces, &fed, args, &temp, job)
        .map_err(|e| anyhow!("{}", unfd(format!("{e:#}"))))?;
    let damage: Vec<String> = run.damage.into_iter().map(unfd).collect();
    let s = convert::sh_lock(&run.shared);
    let frames = s.frames;
    let (first_rt, end_rt) = *run.running.lock().unwrap_or_else(|e| e.into_inner());
    let duration_ns = end_rt.saturating_sub(first_rt.unwrap_or(0));
    let first_wall = s.first_wall.values().next().copied().flatten();
    drop(s);
    if frames == 0 {
        bail!(
            "no video frames{}: nothing written",
            convert::window_note(args)
        );
    }
    let clock = convert::clock_offset_ns(args);
    if args.format == OutFormat::Mp4
        && let Some(s) = first_wall
    {
        let s = evidence::corrected_of(s, clock);
        mp4time::set_creation_time(part.file().try_clone()?, s / 1_000_000_000)
            .with_context(|| format!("cannot finish {}", out::path(output)))?;
    }
    let recs: Vec<Recording> = pieces.iter().map(|p| p.rec.clone()).collect();
    let cam = &pieces[0].cam;
    let audio = pieces.iter().find_map(|p| p.cam.audio.as_ref());
    let facts = ExportFacts {
        recs: &recs,
        video: &cam.video,
        audio,
        mp4: args.format == OutFormat::Mp4,
        subtitles: !args.no_subtitles,
        compacted_gaps: args.gaps == Gaps::Compact,
        embedded_time: args.embed_time,
        max_gap: crate::convert::source_max_gap(args),
        damage: &damage,
        clock_offset_ns: clock,
    };
    // Read back before calling it written.
    let proof = evidence::prove(&temp, &facts)
        .map_err(|e| anyhow!("{}", unfd(format!("{e:#}"))))
        .with_context(|| format!("{} not written", out::path(output)))?;
    part.persist(output, crate::plan::may_replace(output, args.force))
        .with_context(|| format!("cannot write {}", out::path(output)))?;
    evidence::write(output, &facts, &proof)?;
    Ok(Outcome {
        files: vec![output.to_path_buf()],
        frames,
        duration_ns,
        damage,
        notes: Vec::new(),
    })
}

struct Joint {
    shared: Arc<Mutex<Shared>>,
    damage: Vec<String>,
    /// The video's first start and last end in running time (the output's
    /// timeline: buffer times restart in every file).
    running: Arc<Mutex<(Option<u64>, u64)>>,
}

/// One stream of the output: its concat, and per file its concat pad.
struct Chain {
    kind: StreamKind,
    pads: Vec<gst::Pad>,
    /// The file the concat is on (`pads.len()` once it is done).
    at: Arc<Mutex<usize>>,
}

/// A file's open elements.
struct Loaded {
    src: gst::Element,
    demux: gst::Element,
}

fn queue() -> Result<gst::Element> {
    let q = convert::make("queue")?;
    q.set_property("max-size-buffers", 0u32);
    q.set_property("max-size-bytes", 0u32);
    q.set_property("max-size-time", 5_000_000_000u64);
    Ok(q)
}

fn run_joined(
    pieces: &[Piece],
    fed: &[PathBuf],
    args: &ConvertArgs,
    temp: &Path,
    job: &mut Job,
) -> Result<Joint> {
    let pipeline = gst::Pipeline::new();
    let cam = &pieces[0].cam;
    let mux = convert::add_output(&pipeline, args, &cam.video, temp)?;
    let shared = Arc::new(Mutex::new(Shared::default()));
    let audio_decoded = args.format == OutFormat::Mp4;
    let branch = Branch {
        shared: shared.clone(),
        camera: cam.number,
        span: None,
        mux: mux.downgrade(),
        audio_decoded,
        clock_offset_ns: convert::clock_offset_ns(args),
        embed_time: match cam.video.codec {
            Codec::H264 { .. } if args.embed_time => Some(gstcctv::h264::Codec::H264),
            Codec::H265 if args.embed_time => Some(gstcctv::h264::Codec::H265),
            _ => None,
        },
    };
    let audio = pieces.iter().find_map(|p| p.cam.audio.as_ref());
    let mut kinds = vec![StreamKind::Video];
    if audio.is_some() {
        kinds.push(StreamKind::Audio);
    }
    if !args.no_subtitles {
        kinds.push(StreamKind::Subtitle);
    }
    let running: Arc<Mutex<(Option<u64>, u64)>> = Arc::default();
    let mut chains = Vec::new();
    for kind in kinds {
        let concat = convert::make("concat")?;
        let q = queue()?;
        pipeline.add_many([&concat, &q])?;
        concat.link(&q)?;
        let mut elems = vec![q.clone()];
        match kind {
            StreamKind::Video if matches!(cam.video.codec, Codec::H265) => {
                elems.push(convert::make("h265parse")?);
            }
            StreamKind::Audio if audio_decoded => {
                let dec = match audio.map(|a| &a.codec) {
                    Some(Codec::Opus { .. }) => "opusdec",
                    _ => "mulawdec",
                };
                for f in [dec, "audioconvert", "audioresample", "avenc_aac"] {
                    elems.push(convert::make(f)?);
                }
                if let Some(pad) = elems.last().and_then(|e| e.static_pad("sink")) {
                    one_segment(&pad);
                }
            }
            _ => {}
        }
        for e in &elems[1..] {
            pipeline.add(e)?;
        }
        gst::Element::link_many(elems.iter())?;
        let template = match kind {
            StreamKind::Video => "video_%u",
            StreamKind::Audio => "audio_%u",
            _ => "subtitle_%u",
        };
        elems
            .last()
            .ok_or_else(|| anyhow!("empty chain"))?
            .link_pads(None, &mux, Some(template))?;
        branch.watch(&q, kind);
        if kind == StreamKind::Video
            && let Some(src) = concat.static_pad("src")
        {
            let running = running.clone();
            src.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                if let Some(gst::PadProbeData::Buffer(b)) = &info.data
                    && let Some(pts) = b.pts()
                    && let Some(seg) = pad.sticky_event::<gst::event::Segment>(0)
                    && let Some(seg) = seg.segment().downcast_ref::<gst::ClockTime>()
                    && let Some(rt) = seg.to_running_time(pts)
                {
                    let rt = rt.nseconds();
                    let dur = b.duration().map_or(0, |d| d.nseconds().min(1_000_000_000));
                    let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
                    r.0 = Some(r.0.map_or(rt, |f| f.min(rt)));
                    r.1 = r.1.max(rt + dur);
                }
                gst::PadProbeReturn::Ok
            });
        }
        let mut pads = Vec::new();
        for _ in pieces {
            pads.push(
                concat
                    .request_pad_simple("sink_%u")
                    .ok_or_else(|| anyhow!("concat without sink pads"))?,
            );
        }
        let at = Arc::new(Mutex::new(0usize));
        let (a, names): (_, Vec<String>) = (
            at.clone(),
            pads.iter().map(|p| p.name().to_string()).collect(),
        );
        let n = pieces.len();
        concat.connect_notify(Some("active-pad"), move |c, _| {
            let active: Option<gst::Pad> = c.property("active-pad");
            let k = active
                .and_then(|p| names.iter().position(|x| *x == p.name().as_str()))
                .unwrap_or(n);
            *a.lock().unwrap_or_else(|e| e.into_inner()) = k;
        });
        chains.push(Chain { kind, pads, at });
    }
    let bus = pipeline.bus().ok_or_else(|| anyhow!("no bus"))?;
    let mut loaded: BTreeMap<usize, Loaded> = BTreeMap::new();
    let result = (|| -> Result<Vec<String>> {
        let load = |k: usize, loaded: &mut BTreeMap<usize, Loaded>, playing: bool| -> Result<()> {
            let l = load_piece(
                &pipeline,
                &pieces[k],
                &fed[k],
                k,
                &chains,
                args,
                audio_decoded,
            )?;
            if playing {
                l.src.sync_state_with_parent()?;
                l.demux.sync_state_with_parent()?;
            }
            loaded.insert(k, l);
            Ok(())
        };
        for k in 0..pieces.len().min(1 + LOOKAHEAD) {
            load(k, &mut loaded, false)?;
        }
        convert::start_playing(&pipeline, &bus)?;
        convert::run_bus(
            &bus,
            100,
            || {
                // Files every stream has left are closed; the next are opened.
                let done = chains
                    .iter()
                    .map(|c| *c.at.lock().unwrap_or_else(|e| e.into_inner()))
                    .min()
                    .unwrap_or(pieces.len());
                let finished: Vec<usize> = loaded.range(..done).map(|(k, _)| *k).collect();
                for k in finished {
                    if let Some(l) = loaded.remove(&k) {
                        let _ = l.src.set_state(gst::State::Null);
                        let _ = l.demux.set_state(gst::State::Null);
                        let _ = pipeline.remove_many([&l.src, &l.demux]);
                    }
                }
                for k in done..pieces.len().min(done + 1 + LOOKAHEAD) {
                    if !loaded.contains_key(&k) {
                        load(k, &mut loaded, true)?;
                    }
                }
                {
                    let s = convert::sh_lock(&shared);
                    job.update(s.bytes, s.frames);
                }
                Ok(())
            },
            |src| {
                src.downcast_ref::<gst::Element>()
                    .and_then(|e| e.factory())
                    .is_some_and(|f| matches!(f.name().as_str(), "pavsdemux" | "saysdemux"))
            },
        )
    })();
    let _ = pipeline.set_state(gst::State::Null);
    let damage = result?;
    Ok(Joint {
        shared,
        damage,
        running,
    })
}

/// Makes the joined audio one segment for the encoder: concat starts a
/// segment per file, and an audio encoder finishes (pads) its last frame
/// at every new segment, so each join would put a frame of silence over
/// the next file's first sound. Buffers are retimed to their running time
/// in a single segment from 0 (the same running time: nothing moves).
fn one_segment(pad: &gst::Pad) {
    let current: Mutex<(Option<gst::FormattedSegment<gst::ClockTime>>, bool)> =
        Mutex::new((None, false));
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            let mut cur = current.lock().unwrap_or_else(|e| e.into_inner());
            match &mut info.data {
                Some(gst::PadProbeData::Event(event)) => {
                    if let gst::EventView::Segment(seg) = event.view()
                        && let Some(seg) = seg.segment().downcast_ref::<gst::ClockTime>()
                    {
                        cur.0 = Some(seg.clone());
                        if cur.1 {
                            // Not dropped: GStreamer 1.22 unrefs a NULL
                            // event when a probe drops a sticky one being
                            // pushed. An event nobody acts on takes its
                            // place.
                            *event = gst::event::CustomDownstream::new(gst::Structure::new_empty(
                                "cctv-joined-segment",
                            ));
                            return gst::PadProbeReturn::Ok;
                        }
                        cur.1 = true;
                        let flat = gst::FormattedSegment::<gst::ClockTime>::new();
                        let seqnum = event.seqnum();
                        *event = gst::event::Segment::builder(&flat).seqnum(seqnum).build();
                    }
                }
                Some(gst::PadProbeData::Buffer(buffer)) => {
                    if let Some(seg) = &cur.0
                        && let Some(pts) = buffer.pts()
                    {
                        let Some(rt) = seg.to_running_time(pts) else {
                            return gst::PadProbeReturn::Drop;
                        };
                        let b = buffer.make_mut();
                        b.set_pts(rt);
                        b.set_dts(rt);
                    }
                }
                _ => {}
            }
            gst::PadProbeReturn::Ok
        },
    );
}

/// Opens file `k`: `filesrc ! demuxer`, its camera's pads to the concats
/// (clipped to the window's part of this file), the others to fakesinks;
/// a stream the file does not have ends at once on its concat.
fn load_piece(
    pipeline: &gst::Pipeline,
    piece: &Piece,
    location: &Path,
    k: usize,
    chains: &[Chain],
    args: &ConvertArgs,
    audio_decoded: bool,
) -> Result<Loaded> {
    let src = gst::ElementFactory::make("filesrc")
        .property("location", location.to_string_lossy().to_string())
        .build()?;
    let demux = convert::make(if piece.rec.kind == Kind::Pavs {
        "pavsdemux"
    } else {
        "saysdemux"
    })?;
    convert::configure_source(&demux, args);
    pipeline.add_many([&src, &demux])?;
    src.link(&demux)?;
    let mut targets: HashMap<String, (StreamKind, gst::Pad)> = HashMap::new();
    for c in chains {
        let name = match c.kind {
            StreamKind::Video => Some(piece.cam.video.name.clone()),
            StreamKind::Audio => piece.cam.audio.as_ref().map(|a| a.name.clone()),
            _ => Some(format!("subtitle_{}", piece.cam.number)),
        };
        if let Some(name) = name {
            targets.insert(name, (c.kind, c.pads[k].clone()));
        }
    }
    let every: Vec<gst::Pad> = chains.iter().map(|c| c.pads[k].clone()).collect();
    let linked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let span = piece.span;
    let pipe_weak = pipeline.downgrade();
    let l = linked.clone();
    demux.connect_pad_added(move |_, pad| {
        let name = pad.name().to_string();
        let Some((kind, sink)) = targets.get(&name) else {
            if let Some(p) = pipe_weak.upgrade()
                && let Ok(fake) = gst::ElementFactory::make("fakesink")
                    .property("sync", false)
                    .property("async", false)
                    .build()
            {
                let _ = p.add(&fake);
                let _ = fake.sync_state_with_parent();
                if let Some(s) = fake.static_pad("sink") {
                    let _ = pad.link(&s);
                }
            }
            return;
        };
        if let Some(span) = span {
            clip(pad, *kind, span, audio_decoded);
        }
        match pad.link(sink) {
            Ok(_) => {
                l.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(sink.name().to_string());
            }
            Err(e) => out::errln!("cctv: cannot link {name}: {e:?}"),
        }
    });
    demux.connect_no_more_pads(move |_| {
        let l = linked.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for pad in every.iter().filter(|p| !l.contains(p.name().as_str())) {
            // Waits (in concat) until it is this file's turn: not on the
            // demuxer's thread.
            let pad = pad.clone();
            std::thread::spawn(move || {
                pad.send_event(gst::event::Eos::new());
            });
        }
    });
    src.set_state(gst::State::Ready)?;
    demux.set_state(gst::State::Ready)?;
    if let Some(span) = span {
        let ct = gst::ClockTime::from_nseconds;
        let seek = gst::event::Seek::new(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
            gst::SeekType::Set,
            ct(span.start),
            gst::SeekType::Set,
            ct(span.stop),
        );
        if !demux.send_event(seek) {
            bail!(
                "{}: cannot seek to the requested window",
                out::path(&piece.rec.path)
            );
        }
    }
    Ok(Loaded { src, demux })
}

/// Keeps a file's part of the window, as convert's branches do for one
/// file ([`Span::clip`]), with an open-ended segment: concat starts the
/// next file where this one's last buffer ends, not at the window's stop
/// (one nanosecond after the last frame's start: the next file's first
/// frame would take the same time). Buffers past the stop are dropped.
fn clip(pad: &gst::Pad, kind: StreamKind, span: Span, audio_decoded: bool) {
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| span.clip(kind, audio_decoded, true, info),
    );
}
