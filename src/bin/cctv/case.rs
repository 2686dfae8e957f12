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
    let per_file = || -> Vec<Work> {
        recordings
            .iter()
            .map(|r| Work::File {
                rec: r.clone(),
                wanted: args.cameras.clone(),
            })
            .collect()
    };
    let joinable: Vec<(PathBuf, FormatKind)> = recordings
        .iter()
        .filter_map(|r| Some((r.path.clone(), format_of(r.kind)?)))
        .collect();
    if args.per_file || args.gaps == Gaps::Split || joinable.len() < 2 {
        return Ok((per_file(), Vec::new()));
    }
    let zone = crate::zone_arg(args.tz.as_deref()).map_err(anyhow::Error::msg)?;
    let clock = convert::clock_offset_ns(args);
    let windowed = args.from.is_some() || args.to.is_some();
    // A window: the files it needs are found from the files' starts
    // (a few hundred KB each), and only they are catalogued in full.
    let joinable = if windowed {
        window_files(&joinable, args, zone.as_ref(), clock)?
    } else {
        joinable
    };
    let cat = Catalog::build(&joinable);
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
    // (first recording index, work): sorted into input order below.
    let mut out: Vec<(usize, Work)> = Vec::new();
    // Per recording: camera numbers converted per file.
    let mut singles: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for &ci in &selected {
        let cam = &cat.cameras[ci];
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
                .map(|t| {
                    parse_wall_in(t, zone.as_ref(), offset)
                        .map(|ns| evidence::recorded_of(ns, clock))
                })
                .transpose()
        };
        let (from, to) = (bound(&args.from)?, bound(&args.to)?);
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
            let inside: Vec<usize> = chain
                .iter()
                .copied()
                .filter(|&f| {
                    let s = cam.spans.iter().find(|s| s.file == f).expect("span");
                    from.is_none_or(|t| s.last_wall_ns >= t)
                        && to.is_none_or(|t| s.first_wall_ns < t)
                })
                .collect();
            let Some(&head) = inside.first() else {
                continue;
            };
            if chain.len() >= 2 {
                out.push((
                    rec_of(head),
                    Work::Joined(Joined {
                        number,
                        name: cam.name.clone(),
                        files: inside
                            .iter()
                            .map(|&f| recordings[rec_of(f)].clone())
                            .collect(),
                    }),
                ));
            } else {
                singles.entry(rec_of(head)).or_default().push(number);
            }
        }
    }
    let considered: HashSet<&Path> = joinable.iter().map(|(p, _)| p.as_path()).collect();
    let catalogued: HashSet<usize> = cat.files.iter().map(|f| index[f.path.as_path()]).collect();
    for (i, numbers) in singles {
        let fi = cat.files.iter().position(|f| f.path == recordings[i].path);
        let all = fi.is_some_and(|fi| cat.files[fi].streams.len() == numbers.len());
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
        ));
    }
    // Recordings the catalog could not read, and rf1: converted (or
    // reported) one by one.
    for (i, r) in recordings.iter().enumerate() {
        // Left out by the window's first pass: not read further.
        let outside = format_of(r.kind).is_some() && !considered.contains(r.path.as_path());
        if !catalogued.contains(&i) && !outside {
            out.push((
                i,
                Work::File {
                    rec: r.clone(),
                    wanted: args.cameras.clone(),
                },
            ));
        }
    }
    if out.is_empty() {
        if !args.cameras.is_empty() && selected.is_empty() {
            let all: Vec<String> = cat.cameras.iter().map(|c| c.name.clone()).collect();
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
    }
    out.sort_by_key(|(i, _)| *i);
    Ok((out.into_iter().map(|(_, w)| w).collect(), notes))
}

/// The recordings a `--from/--to` window needs: per camera (from the
/// files' starts) those that start inside the window and the last one that
/// starts before it; with the copies of those, and the recordings whose
/// start could not be read (they are then reported as before).
fn window_files(
    joinable: &[(PathBuf, FormatKind)],
    args: &ConvertArgs,
    zone: Option<&gstcctv::engine::zone::Zone>,
    clock: i64,
) -> Result<Vec<(PathBuf, FormatKind)>> {
    let starts = Catalog::build_starts(joinable);
    let mut keep: HashSet<PathBuf> = starts.skipped.iter().map(|s| s.path.clone()).collect();
    for cam in &starts.cameras {
        let first = &starts.files[cam.spans[0].file];
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
        let mut wanted: Vec<usize> = Vec::new();
        // The last file starting at or before --from may hold it.
        let before = cam
            .spans
            .iter()
            .rposition(|s| from.is_some_and(|f| s.first_wall_ns <= f));
        for (k, s) in cam.spans.iter().enumerate() {
            let after_from = from.is_none_or(|f| s.first_wall_ns > f);
            let before_to = to.is_none_or(|t| s.first_wall_ns < t);
            if (after_from && before_to) || Some(k) == before {
                wanted.push(s.file);
            }
        }
        for &f in &wanted {
            keep.insert(starts.files[f].path.clone());
        }
        for &(dup, orig) in &cam.duplicates {
            if wanted.contains(&orig) {
                keep.insert(starts.files[dup].path.clone());
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
    // The camera's streams, as its first file has them (the timeline
    // announces them from it).
    let first = &j.files[0];
    let disc =
        scan::scan(first, Depth::StreamsOnly, |_, _| {}).with_context(|| out::path(&first.path))?;
    let cam = convert::cameras_of(first, &disc, &[j.number.to_string()])
        .with_context(|| out::path(&first.path))?
        .remove(0);
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
        let mut name = first.stem.clone();
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
