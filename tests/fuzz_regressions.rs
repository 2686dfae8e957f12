// SPDX-License-Identifier: MIT
//! Inputs the fuzzers once broke the code with (`fuzz/regressions/<target>/`,
//! the target's input framing), replayed on every test run.

use gstcctv::engine::SharedBytes;
use gstcctv::engine::formats::rf1::Rf1Engine;
use std::path::PathBuf;

fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no regression inputs in {}", dir.display());
    out
}

/// `[u32 LE index length][index][packets]`, as the rf1 fuzz targets take.
fn split_rf1(data: &[u8]) -> (&[u8], &[u8]) {
    let len = u32::from_le_bytes(data[..4].try_into().unwrap()) as usize;
    data[4..].split_at(len.min(data.len() - 4))
}

#[test]
fn rf1_engine_never_emits_an_empty_packet() {
    for (name, data) in regressions("rf1_engine") {
        let (index, packets) = split_rf1(&data);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1700000000000_video.rf1i"), index).unwrap();
        std::fs::write(dir.path().join("1700000000000_video.rf1p"), packets).unwrap();
        let Ok(mut engine) = Rf1Engine::<SharedBytes>::open(&dir.path().join("1700000000000"), &[])
        else {
            continue;
        };
        let _ = engine.streams();
        let mut n = 0;
        while let Ok(Some(p)) = engine.next_packet() {
            assert!(p.size() > 0, "{name}: empty packet");
            n += 1;
            assert!(n < 1_000_000, "{name}: does not stop");
        }
        assert!(
            engine.take_damage().any(),
            "{name}: the skipped unit is reported"
        );
    }
}

/// Video chunks whose media length is 0 came out as empty packets
/// (says_engine, 10-minute run): such a chunk is damage now.
#[test]
fn says_engine_never_emits_an_empty_packet() {
    use gstcctv::engine::formats::says::Says;
    use gstcctv::engine::{Demuxer, Event, MemorySource};
    for (name, data) in regressions("says_engine") {
        let players = || Says::with_options(Default::default());
        for make in [&Says::new as &dyn Fn() -> Says, &players] {
            let mut demux: Demuxer<Says, SharedBytes> =
                Demuxer::new_pull(make(), Some(data.len() as u64));
            let mut src = MemorySource::new(data.clone());
            let mut end = 0;
            // To the end, then (as the fuzz target) from a few seeks.
            for target in [None, Some(0), Some(u64::MAX / 4)] {
                if let Some(t) = target
                    && demux.seek(&mut src, t.min(end), None).is_err()
                {
                    break;
                }
                let mut n = 0;
                loop {
                    match demux.next(&mut src) {
                        Ok(Event::Packet(p)) => {
                            assert!(p.size() > 0, "{name}: empty packet on {:?}", p.stream);
                            end = end.max(p.pts.unwrap_or(0) / 2);
                        }
                        Ok(Event::Eos) | Err(_) => break,
                        Ok(_) => {}
                    }
                    n += 1;
                    assert!(n < 1_000_000, "{name}: does not stop");
                }
            }
        }
    }
}
