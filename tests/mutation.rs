// SPDX-License-Identifier: MIT
//! Mutation testing: files from the crate's writers, mutated with a seeded
//! PRNG (bit flips, overwritten and zeroed runs, length fields set to
//! 0/1/0x7fffffff/0xffffffff, cuts, duplicated spans, inserted garbage,
//! hostile timestamps), through every element in pull and push mode with a
//! hard per-run deadline. No run may panic, hang, trigger a GLib CRITICAL
//! or fail a state change silently: each ends with EOS or an ERROR.
//! `CCTV_MUTATION_RUNS` sets the runs per format (default 100).

#[path = "support/hostile.rs"]
mod hostile;

use hostile::*;

fn runs() -> usize {
    env_scale("CCTV_MUTATION_RUNS", 100)
}

/// Applies 1-3 mutations; field mutations use the pristine offsets, so
/// they go first.
fn mutate(rng: &mut XorShift, g: &Generated, file: usize) -> (Vec<u8>, Vec<String>) {
    let mut data = g.files[file].clone();
    let mut what = Vec::new();
    let fields =
        |list: &[Field]| -> Vec<Field> { list.iter().filter(|f| f.0 == file).copied().collect() };
    let (lengths, times) = (fields(&g.length_fields), fields(&g.time_fields));
    let count = 1 + rng.below(3);
    let mut kinds: Vec<usize> = (0..count).map(|_| rng.below(9)).collect();
    kinds.sort_by_key(|&k| k > 1);
    for kind in kinds {
        let len = data.len().max(1);
        match kind {
            0 if !lengths.is_empty() => {
                let (_, at, width) = lengths[rng.below(lengths.len())];
                let value = [0u64, 1, 0x7fff_ffff, 0xffff_ffff][rng.below(4)];
                data[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
                what.push(format!("length@{at}={value:#x}"));
            }
            1 if !times.is_empty() => {
                let (_, at, width) = times[rng.below(times.len())];
                let old = {
                    let mut b = [0u8; 8];
                    b[..width].copy_from_slice(&data[at..at + width]);
                    u64::from_le_bytes(b)
                };
                let value = match rng.below(4) {
                    0 => rng.below(3) as u64,
                    1 => u64::MAX - rng.below(3) as u64,
                    2 => i64::MAX as u64 - rng.below(3) as u64,
                    _ => old.saturating_sub(1 + rng.next_u64() % 5_000_000),
                };
                data[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
                what.push(format!("time@{at}={value:#x}"));
            }
            0..=2 => {
                let flips = 1 + rng.below(16);
                for _ in 0..flips {
                    let at = rng.below(len);
                    if let Some(b) = data.get_mut(at) {
                        *b ^= 1 << rng.below(8);
                    }
                }
                what.push(format!("{flips} bit flips"));
            }
            3 => {
                let at = rng.below(len);
                let n = rng.range(1..256).min(data.len().saturating_sub(at));
                let garbage = rng.bytes(n);
                data[at..at + n].copy_from_slice(&garbage);
                what.push(format!("overwrite {at}+{n}"));
            }
            4 => {
                let at = rng.below(len);
                let n = rng.range(1..512).min(data.len().saturating_sub(at));
                data[at..at + n].fill(0);
                what.push(format!("zero {at}+{n}"));
            }
            5 => {
                if rng.chance(50) {
                    let at = rng.below(len);
                    data.truncate(at);
                    what.push(format!("cut at {at}"));
                } else {
                    let at = rng.below(len);
                    let n = rng.range(1..2048).min(data.len().saturating_sub(at));
                    data.drain(at..at + n);
                    what.push(format!("delete {at}+{n}"));
                }
            }
            6 => {
                let at = rng.below(len);
                let n = rng.range(1..4096).min(data.len().saturating_sub(at));
                let span = data[at..at + n].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, span);
                what.push(format!("duplicate {at}+{n} to {to}"));
            }
            _ => {
                let at = rng.below(data.len() + 1);
                let n = rng.range(1..300);
                let garbage = rng.bytes(n);
                data.splice(at..at, garbage);
                what.push(format!("insert {n} at {at}"));
            }
        }
    }
    (data, what)
}

#[derive(Default)]
struct Stats {
    runs: usize,
    panics: usize,
    hangs: usize,
    criticals: usize,
    silent_failures: usize,
    errors: usize,
    eos: usize,
    frames: usize,
    max_lost: usize,
    bad: Vec<String>,
}

impl Stats {
    fn add(&mut self, what: String, pristine_frames: usize, o: &Outcome) {
        self.runs += 1;
        self.panics += usize::from(o.panicked);
        self.hangs += usize::from(o.hang);
        self.criticals += o.criticals;
        self.silent_failures += usize::from(o.silent_state_failure);
        self.errors += usize::from(!o.errors.is_empty());
        self.eos += usize::from(o.eos);
        self.frames += o.frames();
        self.max_lost = self
            .max_lost
            .max(pristine_frames.saturating_sub(o.frames()));
        if !o.clean() {
            self.bad.push(format!("{what}: {o}"));
        }
    }

    fn finish(self, name: &str) {
        println!(
            "mutation {name}: runs {}, panics {}, hangs {}, criticals {}, silent state failures {}, errors {}, eos {}, frames {}, max frames lost {}",
            self.runs,
            self.panics,
            self.hangs,
            self.criticals,
            self.silent_failures,
            self.errors,
            self.eos,
            self.frames,
            self.max_lost
        );
        for n in notes() {
            println!("  note: {n}");
        }
        assert!(self.runs > 0 && self.frames > 0, "{name}: vacuous");
        assert!(
            self.bad.is_empty(),
            "{name}: {} bad runs:\n{}",
            self.bad.len(),
            self.bad.join("\n")
        );
    }
}

fn pristine_frames(element: &'static str, bytes: &[u8]) -> usize {
    let _serial = serial();
    let o = run_demux(element, bytes, Mode::Pull);
    assert!(
        o.clean() && o.eos && o.frames() > 0,
        "{element} pristine: {o}"
    );
    o.frames()
}

fn demux_mutations(name: &str, element: &'static str, bases: Vec<Generated>, seed: u64) {
    let frames: Vec<usize> = bases
        .iter()
        .map(|g| pristine_frames(element, &g.files[0]))
        .collect();
    let mut rng = XorShift::new(seed);
    let mut stats = Stats::default();
    for run in 0..runs() {
        let which = run % bases.len();
        let (bytes, what) = mutate(&mut rng, &bases[which], 0);
        for mode in [Mode::Pull, Mode::Push] {
            let _serial = serial();
            let o = run_demux(element, &bytes, mode);
            stats.add(
                format!("run {run} base {which} {mode:?} {what:?}"),
                frames[which],
                &o,
            );
        }
    }
    stats.finish(name);
}

#[test]
fn pavsdemux_survives_mutations() {
    let bases = vec![
        psf(1, 2, 10, PavsTime::Regular),
        psf(2, 1, 12, PavsTime::NearZero),
        psf(3, 1, 12, PavsTime::NearMax),
        psf(4, 2, 8, PavsTime::Backwards),
    ];
    demux_mutations("pavsdemux", "pavsdemux", bases, 0x0a75);
}

#[test]
fn saysdemux_survives_mutations() {
    let bases = vec![nvr(5, 3, 12, false), nvr(6, 1, 12, true)];
    demux_mutations("saysdemux", "saysdemux", bases, 0x5a45);
}

#[test]
fn rf1src_survives_mutations() {
    // A single segment (closed and crashed) and a camera directory of 3.
    let bases = [
        rf1(7, 1, 10, true),
        rf1(8, 1, 10, false),
        rf1(9, 3, 6, true),
    ];
    let mut frames = Vec::new();
    for (g, segs) in &bases {
        let dir = tempfile::tempdir().unwrap();
        let locations = write_rf1(dir.path(), g, segs);
        let location = if segs.len() > 1 {
            dir.path().to_owned()
        } else {
            locations[0].clone()
        };
        let o = {
            let _serial = serial();
            run_rf1src(&location)
        };
        assert!(o.clean() && o.eos && o.frames() > 0, "rf1 pristine: {o}");
        frames.push(o.frames());
    }
    let mut rng = XorShift::new(0x0f1);
    let mut stats = Stats::default();
    for run in 0..runs() {
        let which = run % bases.len();
        let (g, segs) = &bases[which];
        let file = rng.below(g.files.len());
        let (bytes, what) = mutate(&mut rng, g, file);
        let dir = tempfile::tempdir().unwrap();
        let locations = write_rf1(dir.path(), g, segs);
        let seg = &segs[file / 2];
        let ext = if file.is_multiple_of(2) {
            "rf1i"
        } else {
            "rf1p"
        };
        std::fs::write(
            dir.path().join(format!("{}_video.{ext}", seg.start_ms)),
            &bytes,
        )
        .unwrap();
        let location = if segs.len() > 1 {
            dir.path().to_owned()
        } else {
            locations[0].clone()
        };
        let o = {
            let _serial = serial();
            run_rf1src(&location)
        };
        stats.add(
            format!("run {run} base {which} file {file} {what:?}"),
            frames[which],
            &o,
        );
    }
    stats.finish("rf1src");
}
