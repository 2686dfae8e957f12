// SPDX-License-Identifier: MIT
//! Batch engines (#18 item 6): `cctv plan` lists the work items of a case
//! deterministically, `cctv convert --shard K/N` (or a batch engine's
//! index in the environment) converts one share, shards run in parallel
//! produce the whole case exactly once, reruns skip complete outputs and
//! redo corrupted ones, exit codes separate bad input (1) from temporary
//! failures (75) and usage (2), and `--log-json` writes JSON lines.

mod support;

use gstcctv::formats::pavs::writer::Recording;
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CCTV: &str = env!("CARGO_BIN_EXE_cctv");
const LIMIT: Duration = Duration::from_secs(180);
/// 2021-09-01 07:00:00 UTC.
const T0: u64 = 1_630_479_600_000_000_000;
const S: u64 = 1_000_000_000;

/// The batch engines' variables, cleared so that the test's own
/// environment cannot choose a shard.
const SHARD_VARS: [&str; 4] = [
    "JOB_COMPLETION_INDEX",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "CCTV_SHARD_INDEX",
    "CCTV_SHARD_COUNT",
];

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(CCTV);
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for v in SHARD_VARS {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Waits for a child with a deadline, draining its pipes.
fn finish(mut child: std::process::Child, what: &str) -> Output {
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).ok();
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).ok();
        v
    });
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t1.join().expect("stdout thread"),
        stderr: t2.join().expect("stderr thread"),
    }
}

fn cctv_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let child = command(args, env).spawn().expect("cannot run cctv");
    finish(child, &format!("cctv {args:?}"))
}

fn cctv(args: &[&str]) -> Output {
    cctv_env(args, &[])
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn psf(dir: &Path, name: &str, channel: u8, camera: &str, start: u64, frames: u64) -> PathBuf {
    let path = dir.join(name);
    Recording::backup_camera(channel, camera, start, frames)
        .write_file(&path)
        .unwrap();
    path
}

/// A case: camera 9 in three consecutive 20 s files named out of time
/// order and a copy of one, camera 3 in two files of its own, and
/// camera 5 in one.
fn case(dir: &Path) -> PathBuf {
    let case = dir.join("case");
    std::fs::create_dir_all(case.join("sub")).unwrap();
    psf(&case, "c.psf", 9, "ALLEY", T0, 40);
    let b = psf(&case, "a.psf", 9, "ALLEY", T0 + 20 * S, 40);
    psf(&case, "b.psf", 9, "ALLEY", T0 + 40 * S, 40);
    std::fs::copy(&b, case.join("sub/copy-of-a.psf")).unwrap();
    psf(&case, "door1.psf", 3, "DOOR", T0 + 5 * S, 30);
    psf(&case, "door2.psf", 3, "DOOR", T0 + 25 * S, 30);
    psf(&case, "yard.psf", 5, "YARD", T0 + 10 * S, 24);
    case
}

/// Media outputs of a directory (its evidence beside each) with their
/// SHA-256.
fn media(dir: &Path) -> BTreeMap<String, String> {
    support::outputs_in(dir)
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                support::sha256_file_hex(&p),
            )
        })
        .collect()
}

fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}\n{}", text(o)))
        })
        .collect()
}

#[test]
fn plan_json_is_deterministic_and_lists_every_camera_window_once() {
    let dir = tempfile::tempdir().unwrap();
    let case = case(dir.path());
    let a = cctv(&["plan", s(&case), "--json"]);
    assert!(a.status.success(), "{}", text(&a));
    let b = cctv(&["plan", s(&case), "--json"]);
    assert_eq!(a.stdout, b.stdout, "same inputs, same bytes");
    let plan: Value = serde_json::from_slice(&a.stdout).unwrap();
    let items = plan["items"].as_array().unwrap();
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i["camera_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "pavs-alley-09-video_9",
            "pavs-door-03-video_3",
            "pavs-yard-05-video_5"
        ],
        "one item per camera, sorted by camera id"
    );
    // Every file in exactly one item, in capture order; the copy once,
    // as a duplicate.
    let files = |i: &Value| -> Vec<String> {
        i["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                Path::new(f.as_str().unwrap())
                    .strip_prefix(&case)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    };
    assert_eq!(files(&items[0]), ["c.psf", "a.psf", "b.psf"]);
    assert_eq!(files(&items[1]), ["door1.psf", "door2.psf"]);
    assert_eq!(files(&items[2]), ["yard.psf"]);
    let dups: Vec<&str> = items[0]["duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(dups, [s(&case.join("sub/copy-of-a.psf"))]);
    for (k, it) in items.iter().enumerate() {
        assert_eq!(it["index"], k);
        assert_eq!(it["id"].as_str().unwrap().len(), 12);
        assert!(it["output"].as_str().unwrap().ends_with(".mp4"));
    }
    assert_eq!(items[0]["first_frame"], "2021-09-01T07:00:00.000000Z");
    assert_eq!(items[0]["last_frame"], "2021-09-01T07:00:59.500000Z");
    assert_eq!(items[0]["window"]["from"], Value::Null);
    let unique: std::collections::HashSet<&str> =
        items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), items.len(), "ids are unique");
    // The same case elsewhere (another mount, another machine): the same
    // ids.
    let moved = dir.path().join("elsewhere");
    std::fs::rename(&case, &moved).unwrap();
    let m = cctv(&["plan", s(&moved), "--json"]);
    std::fs::rename(&moved, &case).unwrap();
    let mp: Value = serde_json::from_slice(&m.stdout).unwrap();
    let ids_there: Vec<&Value> = mp["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["id"])
        .collect();
    let ids_here: Vec<&Value> = items.iter().map(|i| &i["id"]).collect();
    assert_eq!(ids_there, ids_here);

    // A window across a file boundary: only the files that hold it; ids
    // depend on camera and window only (not on the other cameras).
    let w = cctv(&[
        "plan",
        s(&case),
        "--json",
        "--from",
        "2021-09-01T07:00:18Z",
        "--to",
        "2021-09-01T07:00:22Z",
        "--shard-count",
        "2",
    ]);
    assert!(w.status.success(), "{}", text(&w));
    let wp: Value = serde_json::from_slice(&w.stdout).unwrap();
    let witems = wp["items"].as_array().unwrap();
    assert_eq!(witems.len(), 3, "{wp:#}");
    assert_eq!(files(&witems[0]), ["c.psf", "a.psf"]);
    assert_eq!(witems[0]["window"]["from"], "2021-09-01T07:00:18.000000Z");
    assert_eq!(witems[0]["first_frame"], "2021-09-01T07:00:18.000000Z");
    assert_eq!(witems[1]["shard"], 1);
    assert_ne!(
        witems[0]["id"], items[0]["id"],
        "another window, another id"
    );
    let one = cctv(&[
        "plan",
        s(&case),
        "--json",
        "--camera",
        "DOOR",
        "--from",
        "2021-09-01T07:00:18Z",
        "--to",
        "2021-09-01T07:00:22Z",
    ]);
    let op: Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(op["items"].as_array().unwrap().len(), 1);
    assert_eq!(op["items"][0]["id"], witems[1]["id"]);
    // An unknown camera is an error naming the cameras there are.
    let none = cctv(&["plan", s(&case), "--camera", "GARAGE"]);
    assert_eq!(none.status.code(), Some(1), "{}", text(&none));
    assert!(String::from_utf8_lossy(&none.stderr).contains("pavs-door-03-video_3"));
}

#[test]
fn shards_in_parallel_produce_the_whole_case_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let case = case(dir.path());
    let whole = dir.path().join("whole");
    let o = cctv(&["convert", s(&case), "-o", s(&whole), "-q", "-j", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    let expected = media(&whole);
    // One output per camera of the case (its files joined).
    assert_eq!(expected.len(), 3, "{expected:?}");

    // Three shards at once into one directory, each told its share as a
    // batch engine would.
    let sharded = dir.path().join("sharded");
    let out = s(&sharded);
    let c = s(&case);
    type Run<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let runs: Vec<Run> = vec![
        (
            vec!["convert", c, "-o", out, "-q", "-j", "1", "--shard", "0/3"],
            vec![],
        ),
        (
            vec![
                "convert",
                c,
                "-o",
                out,
                "-q",
                "-j",
                "1",
                "--shard-count",
                "3",
            ],
            vec![("JOB_COMPLETION_INDEX", "1")],
        ),
        (
            vec!["convert", c, "-o", out, "-q", "-j", "1"],
            vec![
                ("AWS_BATCH_JOB_ARRAY_INDEX", "2"),
                ("CCTV_SHARD_COUNT", "3"),
            ],
        ),
    ];
    let children: Vec<_> = runs
        .iter()
        .map(|(args, env)| command(args, env).spawn().expect("cannot run cctv"))
        .collect();
    let mut shares = Vec::new();
    for (k, child) in children.into_iter().enumerate() {
        let o = finish(child, &format!("shard {k}"));
        assert!(o.status.success(), "shard {k}: {}", text(&o));
        shares.push(o);
    }
    let got = media(&sharded);
    assert_eq!(
        got, expected,
        "the union of the shards is the whole run, same bytes"
    );

    // Each output made by exactly one shard: their shares are disjoint.
    let mut made: BTreeMap<String, usize> = BTreeMap::new();
    for k in 0..3 {
        let d = dir.path().join(format!("alone{k}"));
        let o = cctv(&[
            "convert",
            c,
            "-o",
            s(&d),
            "-q",
            "-j",
            "1",
            "--shard",
            &format!("{k}/3"),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        for name in media(&d).keys() {
            *made.entry(name.clone()).or_default() += 1;
        }
    }
    assert_eq!(
        made.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert!(made.values().all(|n| *n == 1), "{made:?}");
    // More shards than work: the empty ones succeed with nothing to do.
    let empty = dir.path().join("empty");
    let o = cctv(&["convert", c, "-o", s(&empty), "-q", "--shard", "99/100"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(media(&empty).is_empty());
}

/// The plan's items with the shard that takes each and the outputs it
/// names.
fn planned(args: &[&str], shards: usize) -> Vec<(usize, Vec<String>, Value)> {
    let mut all = vec!["plan", "--json", "--shard-count"];
    let n = shards.to_string();
    all.push(&n);
    all.extend_from_slice(args);
    let o = cctv(&all);
    let plan: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            let outs = it["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o.as_str().unwrap().to_string())
                .collect();
            (it["shard"].as_u64().unwrap() as usize, outs, it.clone())
        })
        .collect()
}

/// `cctv plan` is convert's own work list: item i of the plan is the i-th
/// unit `cctv convert` shards over, so each shard writes exactly the
/// outputs the plan gives it, under the names it gives. Items whose
/// outputs only reading can name (rf1 tracks) list none; their shard
/// writes them, and nobody else.
fn plan_matches_convert(dir: &Path, inputs: &[&str], extra: &[&str], shards: usize) {
    let mut args: Vec<&str> = inputs.to_vec();
    args.extend_from_slice(extra);
    let items = planned(&args, shards);
    assert!(!items.is_empty());
    let mut seen = std::collections::BTreeSet::new();
    for k in 0..shards {
        let d = dir.join(format!("shard{k}"));
        let shard = format!("{k}/{shards}");
        let mut conv = vec!["convert", "-o", s(&d), "-q", "-j", "1", "--shard", &shard];
        conv.extend_from_slice(&args);
        let o = cctv(&conv);
        let written: std::collections::BTreeSet<String> = media(&d).into_keys().collect();
        let mine: Vec<&(usize, Vec<String>, Value)> =
            items.iter().filter(|(s, _, _)| *s == k).collect();
        let listed: std::collections::BTreeSet<String> = mine
            .iter()
            .flat_map(|(_, o, _)| o.iter().cloned())
            .collect();
        let unnamed = mine.iter().any(|(_, o, _)| o.is_empty());
        assert!(
            listed.is_subset(&written),
            "shard {k}: planned {listed:?}, written {written:?}\n{}",
            text(&o)
        );
        if !unnamed {
            assert_eq!(written, listed, "shard {k}\n{}", text(&o));
        }
        for w in written {
            assert!(seen.insert(w.clone()), "{w} written by two shards");
        }
    }
}

#[test]
fn each_shard_writes_exactly_the_outputs_the_plan_gives_it() {
    let dir = tempfile::tempdir().unwrap();
    let case = case(dir.path());
    // A camera alone in a file of its own among the others' files (the
    // plan's old order, by camera id, put it elsewhere than convert did).
    psf(&case, "0-gate.psf", 1, "GATE", T0 + 3 * S, 20);
    plan_matches_convert(&dir.path().join("all"), &[s(&case)], &[], 3);
    // A window across file boundaries, and one camera.
    plan_matches_convert(
        &dir.path().join("window"),
        &[s(&case)],
        &[
            "--from",
            "2021-09-01T07:00:18Z",
            "--to",
            "2021-09-01T07:00:22Z",
        ],
        2,
    );
    plan_matches_convert(
        &dir.path().join("one"),
        &[s(&case)],
        &["--camera", "DOOR"],
        2,
    );
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn each_shard_writes_exactly_the_outputs_the_plan_gives_it_on_the_real_samples() {
    let dir = tempfile::tempdir().unwrap();
    let samples = support::shared_samples("");
    let dirs = [
        samples.join("pavs"),
        samples.join("says"),
        samples.join("rf1"),
    ];
    let inputs: Vec<&str> = dirs.iter().map(|d| s(d)).collect();
    plan_matches_convert(dir.path(), &inputs, &[], 2);
}

fn stamp(p: &Path) -> (u64, i64, i64) {
    let m = std::fs::metadata(p).unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec())
}

#[test]
fn rerun_skips_complete_outputs_and_redoes_a_corrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let case = case(dir.path());
    let out = dir.path().join("out");
    let o = cctv(&["convert", s(&case), "-o", s(&out), "-q"]);
    assert!(o.status.success(), "{}", text(&o));
    let first = media(&out);
    let names: Vec<String> = first.keys().cloned().collect();
    let before: BTreeMap<String, (u64, i64, i64)> = names
        .iter()
        .map(|n| (n.clone(), stamp(&out.join(n))))
        .collect();
    let manifests: BTreeMap<String, (u64, i64, i64)> = names
        .iter()
        .map(|n| {
            let m = out.join(n).with_extension("manifest.json");
            (n.clone(), stamp(&m))
        })
        .collect();

    // A complete case: nothing is written again.
    let again = cctv(&["convert", s(&case), "-o", s(&out), "--log-json"]);
    assert!(again.status.success(), "{}", text(&again));
    for n in &names {
        assert_eq!(stamp(&out.join(n)), before[n], "{n} was rewritten");
    }
    let events = json_lines(&again);
    let skipped = events.iter().filter(|e| e["event"] == "skipped").count();
    assert_eq!(skipped, names.len(), "{}", text(&again));
    assert!(!events.iter().any(|e| e["event"] == "output"));

    // One output cut short (a disk that filled, a copy that stopped), one
    // with a flipped byte: both redone, the rest untouched.
    let cut = out.join(&names[0]);
    let len = std::fs::metadata(&cut).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let flipped = out.join(&names[1]);
    let mut bytes = std::fs::read(&flipped).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0xff;
    std::fs::write(&flipped, &bytes).unwrap();
    let redo = cctv(&["convert", s(&case), "-o", s(&out)]);
    assert!(redo.status.success(), "{}", text(&redo));
    let err = String::from_utf8_lossy(&redo.stderr);
    assert!(err.contains("converted again"), "{err}");
    let skipped = names.len() - 2;
    assert!(
        err.contains(&format!("; {skipped} complete output(s) skipped")),
        "{err}"
    );
    assert_eq!(media(&out), first, "redone outputs are the same bytes");
    for n in &names[2..] {
        assert_eq!(stamp(&out.join(n)), before[n], "{n} was rewritten");
        let m = out.join(n).with_extension("manifest.json");
        assert_eq!(stamp(&m), manifests[n]);
    }
    for n in &names[..2] {
        assert_ne!(stamp(&out.join(n)), before[n], "{n} was not redone");
        let m = out.join(n).with_extension("manifest.json");
        let v = cctv(&["verify", s(&m)]);
        assert!(v.status.success(), "{}", text(&v));
    }

    // A file that is not ours (no manifest names it) is never replaced
    // without --force.
    let foreign = out.join(&names[0]);
    std::fs::remove_file(out.join(&names[0]).with_extension("manifest.json")).unwrap();
    std::fs::write(&foreign, b"someone else's").unwrap();
    let refused = cctv(&["convert", s(&case), "-o", s(&out), "-q"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("use --force"));
    assert_eq!(std::fs::read(&foreign).unwrap(), b"someone else's");
}

#[test]
fn exit_codes_separate_bad_input_from_temporary_failure() {
    let dir = tempfile::tempdir().unwrap();
    let case = case(dir.path());
    let bad = dir.path().join("bad.psf");
    std::fs::write(&bad, vec![0x5a; 4096]).unwrap();
    let out = dir.path().join("out");

    // Bad input: 1 (do not retry), even though the good input converted.
    let good = case.join("yard.psf");
    let o = cctv(&[
        "convert",
        s(&bad),
        s(&good),
        "-o",
        s(&out),
        "--log-json",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let events = json_lines(&o);
    let error = events
        .iter()
        .find(|e| e["event"] == "error")
        .expect("an error event");
    assert_eq!(error["class"], "input");
    assert_eq!(error["retry"], false);
    assert_eq!(error["input"], s(&bad));
    let done = events.last().unwrap();
    assert_eq!(
        (done["event"].as_str(), done["exit"].as_u64()),
        (Some("done"), Some(1))
    );

    // An output directory that cannot be written: 75 (EX_TEMPFAIL, retry).
    // /sys is a directory even root cannot create files in.
    let unwritable = Path::new("/sys");
    assert!(std::fs::File::create(unwritable.join("cctv-probe")).is_err());
    let o = cctv(&["convert", s(&good), "-o", s(unwritable), "--log-json", "-q"]);
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    let events = json_lines(&o);
    let error = events
        .iter()
        .find(|e| e["event"] == "error")
        .expect("an error event");
    assert_eq!(error["class"], "temporary");
    assert_eq!(error["retry"], true);
    // Both at once: a retry is worth it (75 wins).
    let o = cctv(&["convert", s(&bad), s(&good), "-o", s(unwritable), "-q"]);
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    // An output directory that is a file: it can never be made here either
    // way, but it is the disk's side: temporary.
    // Usage: 2.
    let o = cctv(&["convert", s(&good), "-o", s(&out), "--shard", "3/2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = cctv_env(
        &["convert", s(&good), "-o", s(&out)],
        &[("JOB_COMPLETION_INDEX", "0")],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "an index without a count: {}",
        text(&o)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("--shard-count"));
}

#[test]
fn log_json_lines_parse_and_tell_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let case = case(dir.path());
    let out = dir.path().join("out");
    let o = cctv_env(
        &[
            "convert",
            s(&case),
            "-o",
            s(&out),
            "--log-json",
            "--shard-count",
            "2",
        ],
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    assert!(o.status.success(), "{}", text(&o));
    let events = json_lines(&o);
    assert!(!events.is_empty());
    for e in &events {
        assert!(e["event"].is_string() && e["time"].is_string(), "{e}");
    }
    assert_eq!(events[0]["event"], "start");
    assert_eq!(events[0]["shard"]["index"], 1);
    assert_eq!(events[0]["shard"]["count"], 2);
    let outputs: Vec<&Value> = events.iter().filter(|e| e["event"] == "output").collect();
    assert_eq!(outputs.len(), media(&out).len());
    for e in &outputs {
        assert!(Path::new(e["output"].as_str().unwrap()).is_file());
        assert!(Path::new(e["manifest"].as_str().unwrap()).is_file());
    }
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["exit"], 0);
    assert_eq!(done["written"], outputs.len());
    // No progress bars or summary on stderr in this mode (errors only).
    assert!(o.stderr.is_empty(), "{}", text(&o));
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn plan_of_the_real_samples_lists_every_recording_once() {
    let samples = support::shared_samples("");
    let dirs = [samples.join("pavs"), samples.join("says")];
    let args: Vec<&str> = ["plan", "--json"]
        .into_iter()
        .chain(dirs.iter().map(|d| s(d)))
        .collect();
    let a = cctv(&args);
    let b = cctv(&args);
    assert_eq!(a.stdout, b.stdout, "same inputs, same bytes");
    let plan: Value =
        serde_json::from_slice(&a.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&a)));
    let items = plan["items"].as_array().unwrap();
    // The three .psf files are one camera, but they record the same time
    // (overlaps: distinct recordings): convert writes one output each, so
    // they are three items, in convert's order (the inputs').
    let alley: Vec<&Value> = items
        .iter()
        .filter(|i| i["camera_id"] == "pavs-alley-09-video_9")
        .collect();
    let files: Vec<&str> = alley
        .iter()
        .flat_map(|i| i["files"].as_array().unwrap())
        .map(|f| f.as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(files, ["video1.psf", "video2.psf", "video3.psf"]);
    assert_eq!(alley[0]["first_frame"], "2021-09-01T07:00:01.454448Z");
    assert_eq!(alley[0]["outputs"], serde_json::json!(["video1.mp4"]));
    // A Rosco file with two cameras: one item, an output per camera.
    let two = items
        .iter()
        .find(|i| i["files"][0].as_str().unwrap().ends_with("two_cameras.nvr"))
        .expect("two_cameras.nvr");
    assert_eq!(two["cameras"].as_array().unwrap().len(), 2, "{two}");
    assert_eq!(
        two["outputs"],
        serde_json::json!(["two_cameras_cam0.mp4", "two_cameras_cam1.mp4"])
    );
    // Every recording the plan could read is in an item or skipped with a
    // reason; nothing twice within a camera.
    for it in items {
        let f: Vec<&Value> = it["files"].as_array().unwrap().iter().collect();
        let unique: std::collections::HashSet<&str> =
            f.iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(unique.len(), f.len(), "{it}");
    }
}

/// The deploy example and the container recipe agree with the program:
/// the Job's completions are the shard count it passes, it is Indexed,
/// non-root, retries 75 only; the image is Debian 12, non-root, with the
/// GStreamer packages whose elements `cctv convert` uses.
#[test]
fn deploy_recipes_match_the_program() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let job = std::fs::read_to_string(root.join("k8s-indexed-job.yaml")).unwrap();
    let field = |name: &str| -> String {
        job.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name}"))
            .to_string()
    };
    assert_eq!(field("completionMode"), "Indexed");
    let n = field("completions");
    let args: Vec<&str> = job
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .collect();
    let at = args
        .iter()
        .position(|a| *a == "--shard-count")
        .expect("--shard-count");
    assert_eq!(
        args[at + 1].trim_matches('"'),
        n,
        "--shard-count = completions"
    );
    assert!(args.contains(&"convert") && args.contains(&"/case") && args.contains(&"/out"));
    assert!(job.contains("runAsNonRoot: true"));
    assert!(
        job.contains("values: [1, 2]"),
        "bad input and usage are not retried"
    );
    let recipe = std::fs::read_to_string(root.join("Containerfile")).unwrap();
    assert!(recipe.contains("bookworm") && recipe.contains("debian:12"));
    assert!(recipe.contains("cargo build --release --locked --bin cctv"));
    let user = recipe
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    assert!(
        !user.starts_with("0") && !user.starts_with("root"),
        "{user}"
    );
    for pkg in [
        "gstreamer1.0-plugins-base",
        "gstreamer1.0-plugins-good",
        "gstreamer1.0-plugins-bad",
        "gstreamer1.0-libav",
    ] {
        assert!(recipe.contains(pkg), "{pkg}");
    }
    let rust = recipe
        .lines()
        .find_map(|l| l.strip_prefix("FROM docker.io/library/rust:"))
        .and_then(|t| t.split('-').next())
        .expect("the builder's Rust");
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!("rust-version = \"{rust}\"")),
        "builder Rust {rust} = rust-version"
    );
}

/// An output whose evidence could not be written (here: a directory in the
/// way of its manifest, which no retry fixes: exit 1; in the field: the
/// disk filled up after the video) is not left under its final name: the
/// next run converts it, rather than taking it for someone else's file
/// and refusing it for good.
#[test]
fn an_output_without_its_evidence_is_not_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let case = case(dir.path());
    let good = case.join("yard.psf");
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("yard.manifest.json")).unwrap();
    let o = cctv(&["convert", s(&good), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        !out.join("yard.mp4").exists(),
        "an output without its manifest is left"
    );
    std::fs::remove_dir(out.join("yard.manifest.json")).unwrap();
    let retry = cctv(&["convert", s(&good), "-o", s(&out), "-q"]);
    assert!(retry.status.success(), "{}", text(&retry));
    let v = cctv(&["verify", s(&out.join("yard.manifest.json"))]);
    assert!(v.status.success(), "{}", text(&v));
}

/// A write that fails (here: the file-size limit, `EFBIG`, with SIGXFSZ
/// ignored as a shell's `trap` leaves it across `exec`; in the field: a full disk) is
/// temporary: exit 75, nothing under a final name, the system's reason in
/// the message; the retry without the limit completes the case.
#[test]
fn a_write_that_fails_is_temporary_and_the_retry_completes() {
    let dir = tempfile::tempdir().unwrap();
    let case = case(dir.path());
    let out = dir.path().join("out");
    // 120 KB: the smaller outputs fit (yard, the doors), the larger fail.
    let script = r#"trap '' XFSZ; exec prlimit --fsize=122880 "$0" "$@""#;
    let child = Command::new("sh")
        .args([
            "-c",
            script,
            CCTV,
            "convert",
            s(&case),
            "-o",
            s(&out),
            "--log-json",
            "-j",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = finish(child, "cctv under prlimit --fsize");
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    let events = json_lines(&o);
    let errors: Vec<&Value> = events.iter().filter(|e| e["event"] == "error").collect();
    assert!(!errors.is_empty(), "{}", text(&o));
    for e in &errors {
        assert_eq!(e["class"], "temporary", "{e}");
        assert!(
            e["message"].as_str().unwrap().contains("File too large"),
            "{e}"
        );
    }
    // Whatever is there is complete (evidence beside it) and verifies.
    for m in support::outputs_in(&out) {
        let v = cctv(&["verify", s(&m.with_extension("manifest.json"))]);
        assert!(v.status.success(), "{}", text(&v));
    }
    let done_before = support::outputs_in(&out).len();
    assert!(done_before > 0, "{}", text(&o));
    let retry = cctv(&["convert", s(&case), "-o", s(&out), "--log-json"]);
    assert!(retry.status.success(), "{}", text(&retry));
    let events = json_lines(&retry);
    let skipped = events.iter().filter(|e| e["event"] == "skipped").count();
    assert_eq!(skipped, done_before);
    let whole = dir.path().join("whole");
    let o = cctv(&["convert", s(&case), "-o", s(&whole), "-q"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(media(&out), media(&whole));
}

/// SIGTERM (a pod evicted, a job cancelled) ends the run with 75: the
/// batch engine retries it. Progress comes as JSON (every 2 s; here every
/// 100 ms) before that; nothing is left under a final name.
#[test]
fn sigterm_is_temporary_and_progress_is_logged_as_json() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let big = psf(dir.path(), "big.psf", 9, "ALLEY", T0, 6_000);
    let out = dir.path().join("out");
    // Progress every 100 ms: the kill lands while the run goes on however
    // fast the machine.
    let mut child = command(
        &["convert", s(&big), "-o", s(&out), "--log-json"],
        &[("CCTV_LOG_INTERVAL_MS", "100")],
    )
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut events = Vec::new();
    let deadline = Instant::now() + LIMIT;
    // Until the first progress event.
    for line in lines.by_ref() {
        let e: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let progress = e["event"] == "progress";
        events.push(e);
        if progress {
            break;
        }
        assert!(Instant::now() < deadline);
    }
    let p = events.last().unwrap();
    assert_eq!(p["event"], "progress", "{events:?}");
    assert!(p["bytes"].as_u64().unwrap() > 0 && p["total_bytes"].as_u64().unwrap() > 0);
    assert!(p["elapsed_s"].as_f64().unwrap() >= 0.1, "{p}");
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    for line in lines {
        events.push(serde_json::from_str(&line.unwrap()).unwrap());
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(75), "{events:?}");
    let done = events.last().unwrap();
    assert_eq!(
        (done["event"].as_str(), done["exit"].as_u64()),
        (Some("done"), Some(75))
    );
    assert!(!out.join("big.mp4").exists());
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Two recordings with one name (`cam1/video.psf`, `cam2/video.psf`) get
/// `video.mp4` and `video-2.mp4` in one run; shards name only their own
/// share, so both would claim `video.mp4` and one would take the other's
/// complete output for its own and skip it. Sharding such a case is
/// refused (until outputs are named by camera and time) rather than
/// losing a camera.
#[test]
fn shards_refuse_inputs_whose_output_names_would_clash() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    for (sub, ch, name) in [("cam1", 1u8, "ONE"), ("cam2", 2, "TWO")] {
        std::fs::create_dir_all(case.join(sub)).unwrap();
        psf(&case.join(sub), "video.psf", ch, name, T0, 20);
    }
    let out = dir.path().join("out");
    let c = s(&case);
    let o = s(&out);
    let shards: Vec<Output> = (0..2)
        .map(|k| cctv(&["convert", c, "-o", o, "-q", "--shard", &format!("{k}/2")]))
        .collect();
    for sh in &shards {
        assert_eq!(sh.status.code(), Some(1), "{}", text(sh));
        let err = String::from_utf8_lossy(&sh.stderr);
        assert!(
            err.contains("cam1/video.psf") && err.contains("cam2/video.psf"),
            "{err}"
        );
    }
    // Unsharded, both cameras are there.
    let whole = cctv(&["convert", c, "-o", o, "-q"]);
    assert!(whole.status.success(), "{}", text(&whole));
    assert_eq!(media(&out).len(), 2);
}

/// A complete output is one made from this very input: when the input
/// changed (a recording replaced by a longer copy) it is converted again;
/// an export of another recording of the same name is not replaced.
#[test]
fn a_changed_input_makes_its_output_stale() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    std::fs::create_dir_all(case.join("other")).unwrap();
    let yard = psf(&case, "yard.psf", 5, "YARD", T0, 20);
    let out = dir.path().join("out");
    let o = cctv(&["convert", s(&yard), "-o", s(&out), "-q"]);
    assert!(o.status.success(), "{}", text(&o));
    let before = stamp(&out.join("yard.mp4"));
    psf(&case, "yard.psf", 5, "YARD", T0, 30);
    let o = cctv(&["convert", s(&yard), "-o", s(&out)]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("converted again") && err.contains("size changed"),
        "{err}"
    );
    assert_ne!(stamp(&out.join("yard.mp4")), before);
    let v = cctv(&["verify", s(&out.join("yard.manifest.json"))]);
    assert!(v.status.success(), "{}", text(&v));
    // Another recording called yard.psf: the first's export is not its
    // own to redo, and is kept (without --force).
    let kept = support::sha256_file_hex(&out.join("yard.mp4"));
    let other = psf(&case.join("other"), "yard.psf", 6, "YARD2", T0, 10);
    let o = cctv(&["convert", s(&other), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("use --force"),
        "{}",
        text(&o)
    );
    assert_eq!(support::sha256_file_hex(&out.join("yard.mp4")), kept);
}
