// SPDX-License-Identifier: MIT
//! Cases, not files: `cctv convert` of several `.psf`/`.nvr` recordings
//! writes one output per camera of the case (the engine's catalog), its
//! files joined in capture order; `--per-file` (and `--gaps split`) keep
//! one output per input.
//!
//! A camera's consecutive spans that do not overlap form a chain. A chain
//! of two or more files is joined: converted as one recording is, with
//! the engine's camera timeline over the chain's files (`cctvsrc` with
//! `files`) as the source: one engine, one gaps policy (a pause between
//! files up to `--gaps compact`'s 10 s keeps its length, a longer one is
//! compacted, `--gaps keep` keeps them all), one segment (the audio
//! encoder sees one continuous stream), one file open at a time. A
//! `--from/--to` window is planned on the same timeline (a scan of it) and
//! sought to; files outside it are not given to it, so not read beyond
//! the catalog. A camera found in one file only (or whose files overlap in
//! time: distinct recordings of the same time) is converted as before,
//! under the same names.

use crate::convert::{self, Outcome, Reading};
use crate::evidence;
use crate::files::{self, FileId};
use crate::inputs::{Kind, Recording};
use crate::naming::Ticket;
use crate::out;
use crate::progress::Progress;
use crate::scan::{self, Depth};
use crate::times::parse_wall_in;
use crate::{ConvertArgs, Gaps, OutFormat};
use anyhow::{Context, Result, bail};
use gstcctv::engine::StreamKind;
use gstcctv::engine::catalog::{Catalog, FormatKind};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

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
    /// In capture order, each once (with a window: only those it needs).
    pub files: Vec<Recording>,
    /// Its sound, as the first of these files that has any brings it (the
    /// catalog's: a dashcam's sound may start in a later file).
    pub audio: Option<Box<gstcctv::engine::StreamInfo>>,
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

/// `--from/--to` given as a time of day alone (`--from 07:09:50`): on the
/// day of the recordings, as each recording's zone shows it (`--tz`, else
/// its own, else this machine's, as [`parse_wall_in`] reads them). The
/// days come from the ends of the recordings (bounded reads); recordings
/// over several days make a time alone ambiguous: an error naming them. A
/// `--to` at or before `--from` is on the next day (a window over
/// midnight). Unchanged when both are full times already (or absent).
pub fn with_times_of_day<'a>(
    recordings: &[Recording],
    args: &'a ConvertArgs,
) -> Result<std::borrow::Cow<'a, ConvertArgs>> {
    use crate::times::{date_in, time_of_day};
    use std::borrow::Cow;
    let (from_t, to_t) = (
        args.from.as_deref().and_then(time_of_day),
        args.to.as_deref().and_then(time_of_day),
    );
    if from_t.is_none() && to_t.is_none() {
        return Ok(Cow::Borrowed(args));
    }
    let zone = crate::zone_arg(args.tz.as_deref()).map_err(anyhow::Error::msg)?;
    let clock = convert::clock_offset_ns(args);
    let all: Vec<(PathBuf, FormatKind)> = recordings
        .iter()
        .map(|r| (r.path.clone(), format_of(r.kind).unwrap_or(FormatKind::Rf1)))
        .collect();
    let cat = Catalog::build_ends(&all);
    let mut days = std::collections::BTreeSet::new();
    for file in &cat.files {
        let offset = file.utc_offset_min();
        for s in &file.streams {
            for ns in [s.earliest_wall_ns, s.latest_wall_ns] {
                // The day in true time (--from/--to are true times).
                days.insert(date_in(
                    evidence::corrected_of(ns, clock),
                    zone.as_ref(),
                    offset,
                ));
            }
        }
    }
    // Over several days (a recording across midnight, a week of files):
    // the one day on which the time falls inside a recording.
    let first_offset = cat.files.first().and_then(|f| f.utc_offset_min());
    let anchor = from_t.or(to_t).expect("a time of day");
    let holds = |day: &chrono::NaiveDate| -> bool {
        let text = format!("{day} {}", anchor.format("%H:%M:%S%.f"));
        parse_wall_in(&text, zone.as_ref(), first_offset).is_ok_and(|t| {
            let t = evidence::recorded_of(t, clock);
            cat.files
                .iter()
                .flat_map(|f| &f.streams)
                .any(|s| (s.earliest_wall_ns..=s.latest_wall_ns).contains(&t))
        })
    };
    let inside: Vec<chrono::NaiveDate> = days.iter().copied().filter(holds).collect();
    let day = match (days.len(), inside.as_slice()) {
        (0, _) => bail!("no recording with a capture time: give --from/--to with their date"),
        (1, _) => *days.first().expect("one day"),
        (_, [one]) => *one,
        _ => bail!(
            "the recordings span several days ({}): give --from/--to with the date, e.g. \"{} {}\"",
            days.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            days.first().expect("a day"),
            args.from
                .as_deref()
                .or(args.to.as_deref())
                .unwrap_or("07:00:00")
        ),
    };
    let mut completed = args.clone();
    let full =
        |day: chrono::NaiveDate, t: chrono::NaiveTime| format!("{day} {}", t.format("%H:%M:%S%.f"));
    if let Some(t) = from_t {
        completed.from = Some(full(day, t));
    }
    if let Some(t) = to_t {
        let next = from_t.is_some_and(|f| t <= f);
        let to_day = if next {
            day.succ_opt().unwrap_or(day)
        } else {
            day
        };
        completed.to = Some(full(to_day, t));
    }
    Ok(Cow::Owned(completed))
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
        let offset = first.utc_offset_min();
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
                // The camera's streams in each file carry its number; the
                // timeline's rule for a camera without sound of its own.
                let audio = gstcctv::engine::camera_timeline::streams_of_files(
                    inside.iter().map(|s| &cat.files[s.file]),
                    &|i| i.id.number == number,
                )
                .into_iter()
                .find(|i| i.id.kind == StreamKind::Audio)
                .map(Box::new);
                out.push((
                    rec_of(head),
                    Work::Joined(Joined {
                        number,
                        name: cam.name.clone(),
                        files,
                        audio,
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
        let offset = first.utc_offset_min();
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

fn convert_joined(
    j: &Joined,
    args: &ConvertArgs,
    progress: &Progress,
    ticket: &Ticket<'_>,
    sources: &HashSet<FileId>,
) -> Result<Outcome> {
    // The camera's streams, as its first file has them, and its sound as
    // the first file that has any brings it: the timeline announces every
    // stream of its files up front (a dashcam's sound may start in its
    // third file; the audio branch waits for it, kept going by GAPs).
    let first = &j.files[0];
    let disc =
        scan::scan(first, Depth::StreamsOnly, |_, _| {}).with_context(|| out::path(&first.path))?;
    let mut cam = convert::cameras_of(first, &disc, &[j.number.to_string()])
        .with_context(|| out::path(&first.path))?
        .remove(0);
    if cam.audio.is_none() {
        cam.audio = j.audio.as_deref().cloned();
    }
    let reading = Reading::Joined {
        recs: &j.files,
        camera: j.number,
    };
    // The window in the running time of the camera's timeline over these
    // files (a scan of the same timeline): the same span as one file's.
    let window = convert::plan(
        reading,
        args,
        std::slice::from_ref(&cam),
        disc.utc_offset_min(),
    )?
    .into_iter()
    .next()
    .unwrap_or_default();
    let ext = match args.format {
        OutFormat::Mp4 => "mp4",
        OutFormat::Mkv => "mkv",
    };
    let output = ticket.with_namer(|namer| -> Result<Option<PathBuf>> {
        let file = namer.claim(&output_base(&first.stem, Some(j.number)), ext);
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
        let own: std::collections::HashSet<files::FileId> =
            j.files.iter().flat_map(crate::inputs::file_ids).collect();
        match crate::plan::settle(&path, args.force, &own) {
            crate::plan::Settle::Write => Ok(Some(path)),
            crate::plan::Settle::Skip => Ok(None),
            crate::plan::Settle::Refuse => {
                bail!("{} exists (use --force to overwrite)", out::path(&path))
            }
        }
    })?;
    let Some(output) = output else {
        return Ok(Outcome::default());
    };
    let total: u64 = j
        .files
        .iter()
        .map(|r| r.path.metadata().map_or(0, |m| m.len()))
        .sum();
    let label = output.file_name().map(out::os).unwrap_or_default();
    let mut job = progress.job(&label, total);
    let r = convert::run_pipeline(
        reading,
        args,
        std::slice::from_ref(&cam),
        &window,
        std::slice::from_ref(&output),
        &mut job,
    );
    job.finish();
    let r = r?;
    Ok(Outcome {
        files: r.written,
        frames: r.frames,
        duration_ns: r.duration_ns,
        damage: r.damage,
        notes: r.notes,
    })
}
