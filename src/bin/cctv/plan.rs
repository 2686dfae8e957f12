// SPDX-License-Identifier: MIT
//! Batch engines (Kubernetes Indexed Jobs, AWS Batch array jobs, Argo):
//! `cctv plan` lists the work items of a case, `cctv convert --shard K/N`
//! converts one share of them, reruns skip what is complete, exit codes
//! say whether a retry can help, and `--log-json` writes one JSON object
//! per event for log collectors.
//!
//! Exit codes of `cctv convert` ([`exit_code`]):
//! - 0: everything of this share converted (or complete already);
//! - 1: some input failed permanently (bad input: do not retry);
//! - 2: usage (bad arguments, a shard that does not fit);
//! - 75 (`EX_TEMPFAIL`): a temporary failure (a full disk, an output that
//!   cannot be written, an I/O error, interrupted): retry; the rerun skips
//!   the outputs already complete. It wins over 1 when both happened.

use crate::files::{self, FileId};
use crate::inputs;
use crate::naming::Namer;
use crate::out::{self, errln};
use crate::times::{parse_wall_in, rfc3339_utc};
use crate::{ConvertArgs, OutFormat, case, evidence};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

pub const EXIT_OK: u8 = 0;
pub const EXIT_BAD_INPUT: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_TEMPFAIL: u8 = 75;

/// Environment variables batch engines set to a task's index.
pub const INDEX_VARS: [&str; 3] = [
    "JOB_COMPLETION_INDEX",      // Kubernetes Indexed Job
    "AWS_BATCH_JOB_ARRAY_INDEX", // AWS Batch array job
    "CCTV_SHARD_INDEX",          // anything else (Argo: `{{item}}`)
];
/// The number of shards when `--shard-count` is not given.
pub const COUNT_VAR: &str = "CCTV_SHARD_COUNT";

/// One share of a plan: item `i` belongs to shard `i mod count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn owns(&self, i: usize) -> bool {
        i % self.count == self.index
    }
}

/// `--shard K/N`, else an index from the batch engine's environment
/// ([`INDEX_VARS`]) with `--shard-count N` or [`COUNT_VAR`]. An index
/// without a count is an error rather than the whole case in every task.
pub fn shard_of(
    arg: Option<&str>,
    count: Option<usize>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Shard>, String> {
    let number = |what: &str, text: &str| -> Result<usize, String> {
        text.trim()
            .parse::<usize>()
            .map_err(|_| format!("{what}: {text:?} is not a number"))
    };
    let (index, count) = if let Some(a) = arg {
        let (k, n) = a
            .split_once('/')
            .ok_or_else(|| format!("--shard {a:?}: expected K/N (e.g. 0/4)"))?;
        (number("--shard", k)?, number("--shard", n)?)
    } else {
        let count = match count {
            Some(n) => Some(n),
            None => env(COUNT_VAR).map(|t| number(COUNT_VAR, &t)).transpose()?,
        };
        let index = INDEX_VARS
            .iter()
            .find_map(|v| env(v).map(|t| (v, t)))
            .map(|(v, t)| number(v, &t))
            .transpose()?;
        match (index, count) {
            (None, None) => return Ok(None),
            (Some(k), Some(n)) => (k, n),
            (None, Some(_)) => {
                return Err(format!(
                    "a shard count but no shard index: set one of {} or give --shard K/N",
                    INDEX_VARS.join(", ")
                ));
            }
            (Some(_), None) => {
                return Err(format!(
                    "a shard index is set in the environment ({}) but no count: give --shard-count N or {COUNT_VAR}",
                    INDEX_VARS.join(", ")
                ));
            }
        }
    };
    if count == 0 || index >= count {
        return Err(format!(
            "shard {index} of {count} does not exist (0 ≤ K < N)"
        ));
    }
    Ok(Some(Shard { index, count }))
}

/// This shard's share of `items` (in their order), or all of them. Convert
/// shards the list `cctv plan` prints ([`build`]: the same function makes
/// both), so a plan's `shard` is what that shard converts.
pub fn in_shard<T>(items: Vec<T>, shard: Option<Shard>) -> Vec<T> {
    match shard {
        None => items,
        Some(s) => items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| s.owns(*i))
            .map(|(_, t)| t)
            .collect(),
    }
}

/// Two recordings whose outputs would share a name: in one run the second
/// gets `NAME-2`, but a shard names only its own share, so both would
/// claim `NAME` and one would take the other's complete output for its
/// own. Sharding such inputs is refused. (Joined outputs are named after
/// their first file, so distinct stems keep every name distinct.)
pub fn name_clash(recordings: &[inputs::Recording]) -> Option<(PathBuf, PathBuf)> {
    let mut seen: std::collections::HashMap<&std::ffi::OsStr, &Path> =
        std::collections::HashMap::new();
    for r in recordings {
        if let Some(first) = seen.insert(r.stem.as_os_str(), &r.path) {
            return Some((first.to_path_buf(), r.path.clone()));
        }
    }
    None
}

// ---------------------------------------------------------------- plan

/// One work item: what one unit of `cctv convert` converts (a camera of
/// the case over the window, its files joined; or a recording converted
/// as a whole), in convert's order: item `i` is the `i`th unit convert
/// shards over.
#[derive(Clone, Debug)]
pub struct Item {
    pub id: String,
    pub about: case::About,
    /// Output file names, as an unsharded convert run into an empty
    /// directory names them.
    pub outputs: Vec<String>,
    /// Its files are joined (one output per camera).
    pub joined: bool,
}

/// The plan of a case: convert's work items, and the inputs that cannot
/// be read.
pub struct Plan {
    pub items: Vec<Item>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// A stable id of a work item: the same cameras (or recording) and window
/// give the same id on any machine, whatever else is in the case.
fn item_id(what: &str, from: Option<u64>, to: Option<u64>) -> String {
    let mut h = Sha256::new();
    h.update(what.as_bytes());
    for b in [from, to] {
        h.update(
            b.map_or_else(|| "-".to_string(), |t| t.to_string())
                .as_bytes(),
        );
        h.update(b"/");
    }
    gstcctv::engine::evidence::hex(&h.finalize())[..12].to_string()
}

/// Builds the plan of a convert run: [`case::described_works`], the list
/// `cctv convert` itself shards over, so the two cannot disagree.
pub fn build(
    args: &ConvertArgs,
    recordings: &[inputs::Recording],
    failures: Vec<inputs::Failure>,
) -> Result<Plan, String> {
    let mut skipped: Vec<(PathBuf, String)> =
        failures.into_iter().map(|f| (f.name, f.reason)).collect();
    if recordings.is_empty() {
        return Ok(Plan {
            items: Vec::new(),
            skipped,
        });
    }
    let (works, _notes) =
        case::described_works(recordings, args, true).map_err(|e| format!("{e:#}"))?;
    let ext = match args.format {
        OutFormat::Mp4 => "mp4",
        OutFormat::Mkv => "mkv",
    };
    let mut namer = Namer::default();
    let mut items = Vec::new();
    for (work, about) in works {
        let outputs = about
            .bases
            .iter()
            .map(|b| namer.claim(b, ext).to_string_lossy().into_owned())
            .collect();
        if let Some(why) = &about.unreadable {
            skipped.push((work.path().to_path_buf(), why.clone()));
        }
        let joined = !work.per_file();
        // Not where the case is mounted: its cameras and, for a recording
        // converted whole, when it starts (two copies of a case, two
        // machines: the same ids); only an unreadable input by its path.
        let cams: Vec<&str> = about.cameras.iter().map(|c| c.0.as_str()).collect();
        let what = match (joined, about.first_ns) {
            (true, _) => cams.join(","),
            (false, Some(first)) => format!("{}@{first}", cams.join(",")),
            (false, None) => format!("{}", work.path().display()),
        };
        items.push(Item {
            id: item_id(&what, about.from, about.to),
            about,
            outputs,
            joined,
        });
    }
    skipped.sort();
    Ok(Plan { items, skipped })
}

impl Plan {
    /// The plan as JSON: the same inputs give the same bytes (no run time,
    /// paths as given).
    pub fn to_json(&self, shard_count: Option<usize>) -> Value {
        let t = |ns: Option<u64>| ns.map(rfc3339_utc);
        json!({
            "version": 2,
            "items": self.items.iter().enumerate().map(|(i, it)| {
                let a = &it.about;
                let mut v = json!({
                    "index": i,
                    "id": it.id,
                    "kind": if it.joined { "camera" } else { "recording" },
                    "camera_id": a.cameras.first().map(|c| &c.0),
                    "camera": a.cameras.first().map(|c| &c.1),
                    "cameras": a.cameras.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
                    "window": {"from": t(a.from), "to": t(a.to)},
                    "first_frame": t(a.first_ns),
                    "last_frame": t(a.last_ns),
                    "files": a.files.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
                    "duplicates": a.duplicates.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
                    "output": it.outputs.first(),
                    "outputs": it.outputs,
                });
                if let Some(n) = shard_count {
                    v["shard"] = json!(i % n);
                }
                v
            }).collect::<Vec<_>>(),
            "skipped": self.skipped.iter().map(|(p, r)| json!({"path": p.to_string_lossy(), "reason": r})).collect::<Vec<_>>(),
        })
    }
}

/// `cctv plan`: `args` as `cctv convert` would take them (its selection:
/// inputs, window, cameras, zone, clock offset, format).
pub fn run(args: &ConvertArgs, shard_count: Option<usize>, as_json: bool) -> u8 {
    // `--from 07:09:50`: on the day of the recordings, as convert reads it.
    let (recordings, failures) = inputs::expand(&args.inputs);
    let args = match case::with_times_of_day(&recordings, args) {
        Ok(a) => a,
        Err(e) => {
            errln!("cctv: {}", out::escape(&format!("{e:#}")));
            return EXIT_USAGE;
        }
    };
    let args: &ConvertArgs = &args;
    let zone = match crate::zone_arg(args.tz.as_deref()) {
        Ok(z) => z,
        Err(e) => {
            errln!("cctv: {e}");
            return EXIT_USAGE;
        }
    };
    if let Some(t) = &args.clock_offset
        && let Err(e) = evidence::parse_clock_offset(t)
    {
        errln!("cctv: --clock-offset: {e}");
        return EXIT_USAGE;
    }
    let mut bounds = [None, None];
    for ((name, text), b) in [("--from", &args.from), ("--to", &args.to)]
        .into_iter()
        .zip(&mut bounds)
    {
        if let Some(t) = text {
            match parse_wall_in(t, zone.as_ref(), Some(0)) {
                Ok(ns) => *b = Some(ns),
                Err(e) => {
                    errln!("cctv: {name}: {e}");
                    return EXIT_USAGE;
                }
            }
        }
    }
    if let [Some(f), Some(t)] = bounds
        && f >= t
    {
        errln!("cctv: --from is not before --to: the window is empty");
        return EXIT_USAGE;
    }
    if shard_count == Some(0) {
        errln!("cctv: --shard-count must be at least 1");
        return EXIT_USAGE;
    }
    let plan = match build(args, &recordings, failures) {
        Ok(p) => p,
        Err(e) => {
            errln!("cctv: {}", out::escape(&e));
            return EXIT_BAD_INPUT;
        }
    };
    for (p, r) in &plan.skipped {
        errln!("cctv: {}: {}", out::path(p), out::escape(r));
    }
    if as_json {
        let text = serde_json::to_string_pretty(&plan.to_json(shard_count)).unwrap_or_default();
        out::out_text(&format!("{text}\n"));
    } else {
        let t = |ns: Option<u64>| ns.map_or_else(|| "?".to_string(), rfc3339_utc);
        for (i, it) in plan.items.iter().enumerate() {
            let shard = shard_count
                .map(|n| format!("shard {:<3} ", i % n))
                .unwrap_or_default();
            let a = &it.about;
            let cameras: Vec<String> = a
                .cameras
                .iter()
                .map(|(id, name)| format!("{id}  {}", out::escape(name)))
                .collect();
            let what = if cameras.is_empty() {
                out::path(&a.files[0])
            } else {
                cameras.join(", ")
            };
            let outputs = if it.outputs.is_empty() {
                "(named from its tracks)".to_string()
            } else {
                it.outputs.join(", ")
            };
            out::out_text(&format!(
                "{i:>4} {}  {shard}{what}  {} .. {}  {} file(s)  -> {outputs}\n",
                it.id,
                t(a.first_ns),
                t(a.last_ns),
                a.files.len(),
            ));
        }
    }
    if plan.items.is_empty() {
        errln!("cctv: no camera has frames in the window asked for");
        return EXIT_BAD_INPUT;
    }
    if plan.skipped.is_empty() {
        EXIT_OK
    } else {
        EXIT_BAD_INPUT
    }
}

// ---------------------------------------------------- reruns: what exists

/// What is at an output's name before a run writes it.
#[derive(Debug, PartialEq, Eq)]
pub enum Existing {
    Absent,
    /// Ours and complete: its manifest lists its size and SHA-256, and its
    /// inputs (files of this run) are unchanged.
    Complete,
    /// Ours (its manifest names it) but partial or changed: redone.
    Stale(String),
    /// Not ours (no manifest naming it), or an export of other recordings:
    /// replaced only with `--force`.
    Foreign,
}

fn manifest_of(output: &Path) -> Option<Value> {
    let text = std::fs::read(evidence::manifest_path(output)).ok()?;
    let m: Value = serde_json::from_slice(&text).ok()?;
    let name = output.file_name()?;
    let listed = m["outputs"]
        .as_array()?
        .iter()
        .any(|o| evidence::entry_path(o).is_some_and(|p| p.as_os_str() == name));
    listed.then_some(m)
}

/// SHA-256 of a file, once per run per file version (device, inode, size,
/// modification time): an input that several outputs list (the cameras of
/// one recording) is read once.
fn sha256_cached(path: &Path, meta: &std::fs::Metadata) -> Result<String, String> {
    use std::os::unix::fs::MetadataExt;
    type Key = (u64, u64, u64, i64, i64);
    static SEEN: std::sync::Mutex<Vec<(Key, String)>> = std::sync::Mutex::new(Vec::new());
    let key = (
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
    );
    let seen = |k: &Key| {
        SEEN.lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(s, _)| s == k)
            .map(|(_, h)| h.clone())
    };
    if let Some(h) = seen(&key) {
        return Ok(h);
    }
    let (_, sha) = evidence::sha256_file(path).map_err(|e| format!("{e:#}"))?;
    SEEN.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((key, sha.clone()));
    Ok(sha)
}

/// Whether a file matches a manifest entry (`{"size", "sha256"}`).
fn matches(path: &Path, entry: &Value) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", out::path(path)))?;
    // The size first: a truncated file is not hashed.
    if Some(meta.len()) != entry["size"].as_u64() {
        return Err(format!("{}: size changed", out::path(path)));
    }
    let sha = sha256_cached(path, &meta)?;
    if entry["sha256"].as_str() != Some(sha.as_str()) {
        return Err(format!("{}: SHA-256 differs", out::path(path)));
    }
    Ok(())
}

/// What is at `output`: see [`Existing`]. `sources` are the files this run
/// reads for it: a manifest made from other inputs is not complete.
pub fn existing(output: &Path, sources: &HashSet<FileId>) -> Existing {
    if std::fs::symlink_metadata(output).is_err() {
        return Existing::Absent;
    }
    let Some(m) = manifest_of(output) else {
        return Existing::Foreign;
    };
    // Made from other recordings: someone's complete export of something
    // else (a file of the same name elsewhere), not ours to redo.
    let inputs: Vec<PathBuf> = m["inputs"]
        .as_array()
        .map(|a| a.iter().filter_map(evidence::entry_path).collect())
        .unwrap_or_default();
    if !inputs.is_empty()
        && !inputs
            .iter()
            .all(|p| files::id_of(p).is_some_and(|id| sources.contains(&id)))
    {
        return Existing::Foreign;
    }
    let check = || -> Result<(), String> {
        let name = output.file_name();
        let entry = m["outputs"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|o| evidence::entry_path(o).as_deref().map(Path::as_os_str) == name)
            })
            .ok_or("not listed")?;
        if !std::fs::symlink_metadata(output).is_ok_and(|m| m.is_file()) {
            return Err("not a regular file".into());
        }
        matches(output, entry)?;
        let dir = output.parent().unwrap_or(Path::new("."));
        if let Some(frames) = evidence::entry_path(&m["frames"]) {
            matches(&dir.join(frames), &m["frames"])?;
        }
        let inputs = m["inputs"].as_array().ok_or("no inputs")?;
        if inputs.is_empty() {
            return Err("no inputs".into());
        }
        for i in inputs {
            let p = evidence::entry_path(i).ok_or("input without path")?;
            matches(&p, i)?;
        }
        Ok(())
    };
    match check() {
        Ok(()) => Existing::Complete,
        Err(e) => Existing::Stale(e),
    }
}

/// What convert does with an output name: write it (replacing what is
/// there or not), skip it (complete), or refuse (someone else's file).
#[derive(Debug, PartialEq, Eq)]
pub enum Settle {
    Write,
    Skip,
    Refuse,
}

/// Decides for one output of this run and reports a skip or a redo.
pub fn settle(output: &Path, force: bool, sources: &HashSet<FileId>) -> Settle {
    match existing(output, sources) {
        Existing::Absent => Settle::Write,
        Existing::Complete if !force => {
            SKIPPED.fetch_add(1, Ordering::Relaxed);
            if log_enabled() {
                log(
                    json!({"event": "skipped", "output": output.to_string_lossy(), "reason": "complete"}),
                );
            }
            if !QUIET.load(Ordering::Relaxed) {
                errln!(
                    "cctv: {}: complete (manifest matches), skipped",
                    out::path(output)
                );
            }
            Settle::Skip
        }
        Existing::Complete => Settle::Write,
        Existing::Stale(why) => {
            if log_enabled() {
                log(json!({"event": "redo", "output": output.to_string_lossy(), "reason": why}));
            }
            if !QUIET.load(Ordering::Relaxed) {
                errln!(
                    "cctv: {}: incomplete ({}), converted again",
                    out::path(output),
                    out::escape(&why)
                );
            }
            Settle::Write
        }
        Existing::Foreign if force => Settle::Write,
        Existing::Foreign => Settle::Refuse,
    }
}

/// Whether finishing `output` may replace what is there: with `--force`,
/// or when it is our own (its manifest names it).
pub fn may_replace(output: &Path, force: bool) -> bool {
    force || manifest_of(output).is_some()
}

// ------------------------------------------------------------ exit codes

/// A failure that a retry cannot fix, or one that it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Bad input: do not retry.
    Input,
    /// Full disk, unwritable output, I/O error, interrupted: retry.
    Temporary,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Input => "input",
            Class::Temporary => "temporary",
        }
    }
}

/// I/O errors a retry (elsewhere, later, with space freed) may fix: not a
/// missing or malformed input, nor a path that cannot be what it must (an
/// output directory under a file, a directory in an output's way, a name
/// too long).
fn temporary_kind(k: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind as K;
    !matches!(
        k,
        K::NotFound
            | K::InvalidData
            | K::InvalidInput
            | K::UnexpectedEof
            | K::Unsupported
            | K::NotADirectory
            | K::IsADirectory
            | K::InvalidFilename
    )
}

/// The same for messages that only carry the system's text (GStreamer's
/// filesink errors, the reasons of inputs that could not be read).
fn temporary_text(text: &str) -> bool {
    const SIGNS: [&str; 12] = [
        "no space left",
        "disk quota",
        "read-only file system",
        "permission denied",
        "operation not permitted",
        "input/output error",
        "file too large",
        "interrupted",
        "cannot write",
        "timed out",
        "stale file handle",
        "resource temporarily unavailable",
    ];
    // The system's words for what no retry fixes (as temporary_kind).
    const NEVER: [&str; 4] = [
        "is a directory",
        "not a directory",
        "file name too long",
        "no such file",
    ];
    let t = text.to_ascii_lowercase();
    !NEVER.iter().any(|s| t.contains(s)) && SIGNS.iter().any(|s| t.contains(s))
}

/// Bad input or temporary: by the `io::ErrorKind` in the chain where there
/// is one, else by the message.
pub fn classify(e: &anyhow::Error) -> Class {
    if let Some(io) = e.chain().find_map(|c| c.downcast_ref::<std::io::Error>()) {
        return if temporary_kind(io.kind()) {
            Class::Temporary
        } else {
            Class::Input
        };
    }
    classify_text(&format!("{e:#}"))
}

pub fn classify_text(text: &str) -> Class {
    if temporary_text(text) {
        Class::Temporary
    } else {
        Class::Input
    }
}

/// Why filesink could not write, in the system's words. Its debug text
/// ends with the reason for most errors ("…: Error while writing to file
/// descriptor 5: File too large"), but a full disk is posted as
/// `RESOURCE_ERROR_NO_SPACE_LEFT` with only the element's path there
/// ("… gst_writev_iovecs (): /GstPipeline:pipeline0/GstFileSink:filesink0"),
/// which was shown as the reason.
pub fn sink_error_reason(error: &gst::glib::Error, debug: Option<&str>) -> String {
    if error.matches(gst::ResourceError::NoSpaceLeft) {
        return "No space left on device".into();
    }
    debug
        .and_then(|d| d.rsplit_once(": ").map(|(_, r)| r.trim().to_string()))
        .filter(|r| !r.is_empty() && !r.starts_with('/'))
        .unwrap_or_else(|| error.to_string())
}

static WORST: AtomicU8 = AtomicU8::new(EXIT_OK);
static FAILED: AtomicUsize = AtomicUsize::new(0);
static WRITTEN: AtomicUsize = AtomicUsize::new(0);
static SKIPPED: AtomicUsize = AtomicUsize::new(0);
static LOG_JSON: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

fn raise(code: u8) {
    // 75 over 2 over 1: a retry is worth it when anything was temporary.
    let rank = |c: u8| match c {
        EXIT_TEMPFAIL => 3,
        EXIT_USAGE => 2,
        EXIT_BAD_INPUT => 1,
        _ => 0,
    };
    let _ = WORST.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| {
        (rank(code) > rank(w)).then_some(code)
    });
}

/// A usage error (exit 2).
pub fn usage() {
    raise(EXIT_USAGE);
}

/// One failed input or output: counted, classified, logged.
pub fn failed(input: &Path, e: &anyhow::Error) -> Class {
    let class = classify(e);
    failed_class(input, &format!("{e:#}"), class);
    class
}

/// An input that could not be used at all (its reason as text).
pub fn failed_text(input: &Path, reason: &str) -> Class {
    let class = classify_text(reason);
    failed_class(input, reason, class);
    class
}

fn failed_class(input: &Path, message: &str, class: Class) {
    FAILED.fetch_add(1, Ordering::Relaxed);
    raise(match class {
        Class::Input => EXIT_BAD_INPUT,
        Class::Temporary => EXIT_TEMPFAIL,
    });
    if log_enabled() {
        log(json!({
            "event": "error",
            "input": input.to_string_lossy(),
            "class": class.name(),
            "retry": class == Class::Temporary,
            "message": message,
        }));
    }
}

/// "; N complete output(s) skipped" for the summary, when there were any.
pub fn skipped_note() -> String {
    match SKIPPED.load(Ordering::Relaxed) {
        0 => String::new(),
        n => format!("; {n} complete output(s) skipped"),
    }
}

/// An output written (its manifest beside it).
pub fn written(input: &Path, outputs: &[PathBuf]) {
    WRITTEN.fetch_add(outputs.len(), Ordering::Relaxed);
    if log_enabled() {
        for o in outputs {
            log(json!({
                "event": "output",
                "input": input.to_string_lossy(),
                "output": o.to_string_lossy(),
                "manifest": evidence::manifest_path(o).to_string_lossy(),
            }));
        }
    }
}

/// The process's exit code: `ok` is what convert returned; a failure it
/// did not classify is bad input.
pub fn exit_code(ok: bool) -> u8 {
    let mut code = WORST.load(Ordering::SeqCst);
    if !ok && code == EXIT_OK {
        code = EXIT_BAD_INPUT;
    }
    if ok {
        code = EXIT_OK;
    }
    if log_enabled() {
        log(json!({
            "event": "done",
            "exit": code,
            "class": match code {
                EXIT_OK => "ok",
                EXIT_TEMPFAIL => "temporary",
                EXIT_USAGE => "usage",
                _ => "input",
            },
            "written": WRITTEN.load(Ordering::Relaxed),
            "skipped_complete": SKIPPED.load(Ordering::Relaxed),
            "failed": FAILED.load(Ordering::Relaxed),
        }));
    }
    code
}

/// Interrupted (Ctrl-C, SIGTERM: a pod evicted): retry.
pub fn interrupted() {
    raise(EXIT_TEMPFAIL);
}

// -------------------------------------------------------------- --log-json

/// Turns on JSON-lines events on stdout (and remembers `--quiet`).
pub fn set_logging(json: bool, quiet: bool) {
    LOG_JSON.store(json, Ordering::Relaxed);
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn log_enabled() -> bool {
    LOG_JSON.load(Ordering::Relaxed)
}

/// One event, one line, with the time and the process's shard.
pub fn log(mut event: Value) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    event["time"] = json!(rfc3339_utc(now));
    if let Ok(line) = serde_json::to_string(&event) {
        out::out_text(&format!("{line}\n"));
    }
}

/// The start of a convert run: its share of the work.
pub fn log_start(shard: Option<Shard>, total: usize, mine: usize) {
    if log_enabled() {
        log(json!({
            "event": "start",
            "shard": shard.map(|s| json!({"index": s.index, "count": s.count})),
            "items": total,
            "mine": mine,
            "pid": std::process::id(),
        }));
    }
}

/// How often a running job logs its progress: 2 s, or
/// `CCTV_LOG_INTERVAL_MS` (log collectors that want fewer lines, tests).
pub fn log_interval() -> std::time::Duration {
    static EVERY: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
    *EVERY.get_or_init(|| {
        let ms = std::env::var("CCTV_LOG_INTERVAL_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .unwrap_or(2000);
        std::time::Duration::from_millis(ms)
    })
}

/// A running job's progress (called at most every [`log_interval`] per job).
pub fn log_progress(name: &str, bytes: u64, total: u64, frames: u64, elapsed_s: f64) {
    log(json!({
        "event": "progress",
        "job": name,
        "bytes": bytes,
        "total_bytes": total,
        "frames": frames,
        "elapsed_s": (elapsed_s * 10.0).round() / 10.0,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shards_from_arguments_and_environment() {
        assert_eq!(
            shard_of(Some("1/4"), None, env(&[])),
            Ok(Some(Shard { index: 1, count: 4 }))
        );
        assert_eq!(shard_of(None, None, env(&[])), Ok(None));
        assert_eq!(
            shard_of(None, Some(3), env(&[("JOB_COMPLETION_INDEX", "2")])),
            Ok(Some(Shard { index: 2, count: 3 }))
        );
        assert_eq!(
            shard_of(
                None,
                None,
                env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "0"), (COUNT_VAR, "2")])
            ),
            Ok(Some(Shard { index: 0, count: 2 }))
        );
        assert!(shard_of(Some("4/4"), None, env(&[])).is_err());
        assert!(shard_of(Some("x"), None, env(&[])).is_err());
        assert!(shard_of(None, None, env(&[("JOB_COMPLETION_INDEX", "0")])).is_err());
        assert!(shard_of(None, Some(2), env(&[])).is_err());
        assert_eq!(
            in_shard((0..7).collect(), Some(Shard { index: 1, count: 3 })),
            vec![1, 4]
        );
    }

    #[test]
    fn a_full_disk_is_named_and_temporary() {
        let e = gst::glib::Error::new(
            gst::ResourceError::NoSpaceLeft,
            "No space left on the resource.",
        );
        let debug = "../plugins/elements/gstelements_private.c(338): gst_writev_iovecs (): /GstPipeline:pipeline0/GstFileSink:filesink0";
        let reason = sink_error_reason(&e, Some(debug));
        assert_eq!(reason, "No space left on device");
        let msg = anyhow::anyhow!("cannot write /out/a.mp4: {reason}");
        assert_eq!(classify(&msg), Class::Temporary);
        let big = gst::glib::Error::new(gst::ResourceError::Write, "Error while writing to file.");
        let debug = "gstfilesink.c(1): x (): /GstPipeline:p/GstFileSink:f:\nError while writing to file descriptor 5: File too large";
        assert_eq!(sink_error_reason(&big, Some(debug)), "File too large");
        assert_eq!(
            sink_error_reason(&big, Some("x (): /GstPipeline:p/GstFileSink:f")),
            "Error while writing to file."
        );
    }

    #[test]
    fn failures_are_classified() {
        let full = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::StorageFull))
            .context("cannot write x.mp4");
        assert_eq!(classify(&full), Class::Temporary);
        let bad = anyhow::anyhow!("not a known recording");
        assert_eq!(classify(&bad), Class::Input);
        let gst = anyhow::anyhow!("cannot write /out/x.mp4: No space left on device");
        assert_eq!(classify(&gst), Class::Temporary);
        let eof = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        assert_eq!(classify(&eof), Class::Input);
        let dir = anyhow::anyhow!("cannot write out/a.manifest.json: Is a directory (os error 21)");
        assert_eq!(classify(&dir), Class::Input);
    }
}
