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

/// Everything one read of `data` gives, as the fuzz targets compare it:
/// per packet (stream, pts, dts, key, payload), then the damage account
/// and the count of intact units.
type Read = (
    Vec<(
        gstcctv::engine::StreamId,
        Option<u64>,
        Option<u64>,
        bool,
        Vec<u8>,
    )>,
    gstcctv::engine::Damage,
    u64,
);

/// `data` read in pull mode over the whole input, and in push mode in the
/// pieces `cctv_fuzz::engine_roundtrip` feeds (`1 + (data[at] * 16 + at) %
/// 4096` bytes).
fn pull_and_push<F: gstcctv::engine::Format>(make: impl Fn() -> F, data: &[u8]) -> (Read, Read) {
    use gstcctv::engine::{Chunk, Demuxer, Event, MemorySource, NoSource};
    fn read<F: gstcctv::engine::Format, S: gstcctv::engine::ByteSource<Chunk = SharedBytes>>(
        demux: &mut Demuxer<F, SharedBytes>,
        src: &mut S,
        out: &mut Read,
    ) -> bool {
        for _ in 0..1_000_000 {
            match demux.next(src) {
                Ok(Event::Packet(p)) => out.0.push((p.stream, p.pts, p.dts, p.key, p.to_vec())),
                Ok(Event::NeedData) => return false,
                Ok(Event::Eos) | Err(_) => return true,
                Ok(_) => {}
            }
        }
        panic!("the engine does not stop");
    }
    let mut pulled: Read = Default::default();
    let mut demux: Demuxer<F, SharedBytes> = Demuxer::new_pull(make(), Some(data.len() as u64));
    assert!(read(
        &mut demux,
        &mut MemorySource::new(data.to_vec()),
        &mut pulled
    ));
    let report = demux.report();
    (pulled.1, pulled.2) = (report.damage, report.units);

    let mut pushed: Read = Default::default();
    let mut demux: Demuxer<F, SharedBytes> = Demuxer::new_push(make());
    let (mut at, mut ended) = (0, false);
    while at < data.len() && !ended {
        let end = (at + 1 + (usize::from(data[at]) * 16 + at) % 4096).min(data.len());
        demux.push_data(SharedBytes::from_vec(data[at..end].to_vec()));
        at = end;
        ended = read(&mut demux, &mut NoSource::default(), &mut pushed);
    }
    if !ended {
        demux.push_eos();
        read(&mut demux, &mut NoSource::default(), &mut pushed);
    }
    let report = demux.report();
    (pushed.1, pushed.2) = (report.damage, report.units);
    (pulled, pushed)
}

/// Push and pull resynced differently over damage (says_engine, CI pass):
/// push, whose views end where the pieces fed so far end, gave up on a
/// chunk pull kept, and the two reported different damage. Every input the
/// fuzzers kept must read the same both ways: packets, times, damage.
#[test]
fn says_engine_push_and_pull_agree() {
    use gstcctv::engine::formats::says::Says;
    for (name, data) in regressions("says_engine") {
        let (pulled, pushed) = pull_and_push(Says::new, &data);
        assert_eq!(pushed.0.len(), pulled.0.len(), "{name}: packet counts");
        for (k, (a, b)) in pushed.0.iter().zip(&pulled.0).enumerate() {
            assert_eq!(a, b, "{name}: packet {k} (push, pull)");
        }
        assert_eq!(pushed.1, pulled.1, "{name}: damage (push, pull)");
        assert_eq!(pushed.2, pulled.2, "{name}: intact units (push, pull)");
    }
}
