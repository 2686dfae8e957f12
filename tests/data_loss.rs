// SPDX-License-Identifier: MIT
//! The data-loss study: a generated file damaged ONCE at a random place
//! (overwrite, bit flip, hostile length field, insertion, deletion) must
//! still give every unit whose bytes were not touched, bit-exact, in pull
//! and push mode. Which units are untouched comes from the writers'
//! knowledge of where each unit's bytes live (see `support/hostile.rs`).
//! `CCTV_DATA_LOSS_TRIALS` sets the trials per case (default 25).

#[path = "support/hostile.rs"]
mod hostile;

use hostile::*;
use std::path::Path;

fn trials() -> usize {
    env_scale("CCTV_DATA_LOSS_TRIALS", 25)
}

#[derive(Default)]
struct Tally {
    runs: usize,
    expected: usize,
    found: usize,
    unclean: Vec<String>,
    losses: Vec<String>,
    /// Damage kind → (runs, lossy runs).
    kinds: std::collections::BTreeMap<&'static str, (usize, usize)>,
}

impl Tally {
    fn add(&mut self, what: String, g: &Generated, element: &str, d: Option<&Damage>, o: &Outcome) {
        self.runs += 1;
        let (expected, found, missing) = untouched_found(element, g, d, o);
        self.expected += expected;
        self.found += found;
        if !o.clean() {
            self.unclean.push(format!("{what}: {o}"));
        }
        let kind = self.kinds.entry(d.map_or("none", |d| d.kind)).or_default();
        kind.0 += 1;
        kind.1 += usize::from(found < expected);
        if found < expected {
            self.losses.push(format!(
                "{what}: {found}/{expected} untouched units out, first missing: {:?} (errors {:?})",
                missing.first(),
                o.errors
            ));
        }
    }

    fn finish(self, name: &str) {
        println!(
            "data-loss {name}: runs {}, untouched units expected {}, out {}, lossy runs {}, unclean runs {}",
            self.runs,
            self.expected,
            self.found,
            self.losses.len(),
            self.unclean.len()
        );
        let kinds: Vec<String> = self
            .kinds
            .iter()
            .map(|(k, (runs, lossy))| format!("{k} {lossy}/{runs}"))
            .collect();
        println!("  lossy/runs by damage: {}", kinds.join(", "));
        for l in self.losses.iter().take(8) {
            println!("  LOSS {l}");
        }
        assert!(self.runs > 0 && self.expected > 0, "{name}: ran nothing");
        assert!(self.unclean.is_empty(), "{name}: {:#?}", self.unclean);
        assert!(
            self.losses.is_empty(),
            "{name}: {} of {} runs lost untouched units ({} of {} out):\n{}",
            self.losses.len(),
            self.runs,
            self.found,
            self.expected,
            self.losses.join("\n")
        );
    }
}

/// Pristine files come out whole: the expectations are right and non-vacuous.
fn pristine(element: &'static str, g: &Generated) {
    for mode in [Mode::Pull, Mode::Push] {
        let o = {
            let _serial = serial();
            run_demux(element, &g.files[0], mode)
        };
        let (expected, found, missing) = untouched_found(element, g, None, &o);
        assert!(o.clean() && o.eos, "{element} {mode:?} pristine: {o}");
        assert!(expected > 0);
        assert_eq!(found, expected, "{element} {mode:?} pristine: {missing:?}");
    }
}

fn demux_study(name: &str, element: &'static str, make: impl Fn(u64) -> Generated, seed: u64) {
    pristine(element, &make(seed));
    let mut rng = XorShift::new(seed);
    let mut tally = Tally::default();
    for trial in 0..trials() {
        let g = make(seed + trial as u64);
        let within = g.damageable.clone();
        let (bytes, d) = damage_once(&mut rng, &g, 0, within, false);
        for mode in [Mode::Pull, Mode::Push] {
            let o = {
                let _serial = serial();
                run_demux(element, &bytes, mode)
            };
            tally.add(
                format!("trial {trial} {mode:?} {d:?}"),
                &g,
                element,
                Some(&d),
                &o,
            );
        }
    }
    tally.finish(name);
}

#[test]
fn pavs_one_damage_keeps_every_untouched_block() {
    demux_study(
        "pavs",
        "pavsdemux",
        |seed| psf(seed, 2, 12, PavsTime::Regular),
        0x9a5,
    );
}

#[test]
fn says_one_damage_keeps_every_untouched_chunk() {
    demux_study("says", "saysdemux", |seed| nvr(seed, 2, 14, false), 0x5a75);
}

#[test]
fn says_doubled_audio_one_damage_keeps_every_untouched_chunk() {
    demux_study(
        "says-doubled",
        "saysdemux",
        |seed| nvr(seed, 1, 14, true),
        0xd0b1e,
    );
}

// ---- rf1 ---------------------------------------------------------------------

fn rf1_pristine(
    g: &Generated,
    segs: &[Rf1Segment],
    location: impl Fn(&Path, &[std::path::PathBuf]) -> std::path::PathBuf,
) {
    let dir = tempfile::tempdir().unwrap();
    let bases = write_rf1(dir.path(), g, segs);
    let o = {
        let _serial = serial();
        run_rf1src(&location(dir.path(), &bases))
    };
    let (expected, found, missing) = untouched_found("rf1src", g, None, &o);
    assert!(o.clean() && o.eos, "rf1 pristine: {o}");
    assert!(expected > 0);
    assert_eq!(found, expected, "rf1 pristine: {missing:?}");
}

/// Damages one file of one segment (`pick` chooses file and range) and
/// plays the segment (or the directory).
fn rf1_study(
    name: &str,
    segments: usize,
    close: bool,
    seed: u64,
    pick: impl Fn(&mut XorShift, &Generated, &[Rf1Segment]) -> (usize, std::ops::Range<usize>),
) {
    let play_dir = segments > 1;
    let location = |dir: &Path, bases: &[std::path::PathBuf]| {
        if play_dir {
            dir.to_owned()
        } else {
            bases[0].clone()
        }
    };
    let (g, segs) = rf1(seed, segments, 12, close);
    rf1_pristine(&g, &segs, location);
    let mut rng = XorShift::new(seed);
    let mut tally = Tally::default();
    for trial in 0..trials() {
        let (g, segs) = rf1(seed + trial as u64, segments, 12, close);
        let (file, within) = pick(&mut rng, &g, &segs);
        let (bytes, d) = damage_once(&mut rng, &g, file, within, true);
        let dir = tempfile::tempdir().unwrap();
        let bases = write_rf1(dir.path(), &g, &segs);
        let target = if file.is_multiple_of(2) {
            format!("{}_video.rf1i", segs[file / 2].start_ms)
        } else {
            format!("{}_video.rf1p", segs[file / 2].start_ms)
        };
        std::fs::write(dir.path().join(target), &bytes).unwrap();
        let o = {
            let _serial = serial();
            run_rf1src(&location(dir.path(), &bases))
        };
        tally.add(format!("trial {trial} {d:?}"), &g, "rf1src", Some(&d), &o);
    }
    tally.finish(name);
}

fn index_entries(g: &Generated, file: usize) -> std::ops::Range<usize> {
    gstcctv::formats::rf1::INDEX_HEADER_SIZE..g.files[file].len()
}

#[test]
fn rf1_index_damage_keeps_every_untouched_access_unit() {
    rf1_study("rf1-index", 1, true, 0x1d3, |_, g, _| {
        (0, index_entries(g, 0))
    });
}

#[test]
fn rf1_crashed_index_damage_keeps_every_untouched_access_unit() {
    rf1_study("rf1-index-crashed", 1, false, 0xc4a5, |_, g, _| {
        (0, index_entries(g, 0))
    });
}

#[test]
fn rf1_packet_damage_keeps_every_untouched_access_unit() {
    rf1_study("rf1-packets", 1, true, 0xbac, |_, g, _| {
        (1, 0..g.files[1].len())
    });
}

#[test]
fn rf1_directory_with_one_broken_segment_keeps_the_others() {
    rf1_study("rf1-directory", 3, true, 0xd1, |rng, g, segs| {
        // Any file of the middle segment, its index header included.
        let file = segs[1].index_file + rng.below(2);
        (file, 0..g.files[file].len())
    });
}

#[test]
fn rf1_index_without_its_sentinel_keeps_all_but_the_last_unit() {
    let (g, segs) = rf1(0x5e, 1, 12, true);
    let dir = tempfile::tempdir().unwrap();
    let bases = write_rf1(dir.path(), &g, &segs);
    let len = g.files[0].len();
    let cut = len - gstcctv::formats::rf1::INDEX_ENTRY_SIZE;
    std::fs::write(
        dir.path().join(format!("{}_video.rf1i", segs[0].start_ms)),
        &g.files[0][..cut],
    )
    .unwrap();
    let d = Damage {
        kind: "cut sentinel",
        file: 0,
        range: cut..len,
        inserted: 0,
        to_end: false,
    };
    let o = {
        let _serial = serial();
        run_rf1src(&bases[0])
    };
    let mut tally = Tally::default();
    tally.add("sentinel cut".into(), &g, "rf1src", Some(&d), &o);
    tally.finish("rf1-no-sentinel");
}
