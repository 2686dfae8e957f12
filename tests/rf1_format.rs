// SPDX-License-Identifier: MIT
//! rf1 reader/writer against the reference corpus (`shared/samples/rf1`),
//! plus hostile inputs.

use std::fs;
use std::path::{Path, PathBuf};

use gstcctv::formats::rf1::writer::{NaluData, Pts, TrackWriter, WriterOptions};
use gstcctv::formats::rf1::{
    Archive, ArchivePosition, Codec, Index, MAX_OFFSET, Problem, Rf1Error, Track, flags,
    ns_to_ticks, resolve_location, ticks_to_ns,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

const CASES: [&str; 7] = [
    "h264_basic",
    "h264_dirty",
    "h265_basic",
    "two_tracks",
    "long_gop_limits",
    "archive_dir",
    "empty_track",
];

/// The rf1 samples (see `support::shared_samples`: tests using them are
/// `#[ignore]`d and fail, not pass, where they are missing).
fn samples() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples/rf1");
    assert!(dir.is_dir(), "needs {}", dir.display());
    dir
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn int(value: &Value) -> i64 {
    value
        .as_i64()
        .unwrap_or_else(|| panic!("not an integer: {value}"))
}

/// Directory holding the segment bases of a case.
fn case_dir(samples: &Path, case: &str) -> PathBuf {
    let dir = samples.join(case);
    if case == "archive_dir" {
        dir.join("camera-0001")
    } else {
        dir
    }
}

/// Every (expected track json, opened track) of a case.
fn case_tracks(samples: &Path, case: &str) -> Vec<(Value, Track, PathBuf)> {
    let json: Value =
        serde_json::from_slice(&fs::read(samples.join(case).join("case.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for file in json["files"].as_array().unwrap() {
        let base = case_dir(samples, case).join(file["base"].as_str().unwrap());
        let segments = resolve_location(&base, None).unwrap();
        assert_eq!(segments.len(), 1);
        let expected_tracks = file["tracks"].as_array().unwrap();
        let names: Vec<&str> = segments[0].tracks.iter().map(|t| t.name.as_str()).collect();
        let expected_names: Vec<&str> = expected_tracks
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected_names, "{case}: track order");
        for (files, expected) in segments[0].tracks.iter().zip(expected_tracks) {
            let track = Track::open(&files.name, &files.index_path, &files.packets_path).unwrap();
            out.push((expected.clone(), track, files.packets_path.clone()));
        }
    }
    out
}

/// Annex-B bytes of access units `aus`.
fn payload(track: &Track, packets: &Path, aus: std::ops::Range<usize>) -> Vec<u8> {
    let mut file = fs::File::open(packets).unwrap();
    let mut out = Vec::new();
    for au in aus {
        out.extend(track.read_access_unit(&mut file, au).unwrap());
    }
    out
}

fn check_track(case: &str, expected: &Value, track: &Track, packets: &Path) {
    let what = format!("{case}/{}", track.name);
    assert!(track.is_sound(), "{what}: {:?}", track.problems);
    let codec = match expected["codec"].as_str().unwrap() {
        "h264" => Codec::H264,
        _ => Codec::H265,
    };
    let header = &track.header;
    assert_eq!(header.codec, codec, "{what}");
    assert_eq!(
        (int(&expected["width"]), int(&expected["height"])),
        (i64::from(header.width), i64::from(header.height))
    );
    assert_eq!(
        int(&expected["timebase_us"]),
        header.timebase_us as i64,
        "{what}"
    );
    assert_eq!(
        int(&expected["header_index_count_field"]),
        i64::from(header.count),
        "{what}"
    );
    assert_eq!(
        expected["index_header_hex"].as_str().unwrap(),
        sha_free_hex(&header.to_bytes()),
        "{what}"
    );
    assert_eq!(
        int(&expected["count"]),
        track.index_entry_count as i64,
        "{what}"
    );
    assert_eq!(int(&expected["count"]), track.nalus.len() as i64, "{what}");
    assert_eq!(
        int(&expected["frame_count"]),
        track.access_units.len() as i64,
        "{what}"
    );
    assert_eq!(
        int(&expected["keyframe_count"]),
        track.keyframe_count() as i64,
        "{what}"
    );
    assert_eq!(
        int(&expected["duration_ns"]),
        track.duration_ns() as i64,
        "{what}"
    );
    assert_eq!(
        int(&expected["packets_file_size_logical"]),
        track.packets_len as i64,
        "{what}"
    );

    let frames = expected["frames"].as_array().unwrap();
    for (i, (row, au)) in frames.iter().zip(&track.access_units).enumerate() {
        let ours = [
            track.au_pts_ns(i) as i64,
            au.key.into(),
            (au.byte_range.end - au.byte_range.start) as i64,
            au.nalu_count as i64,
            au.pts_ticks.into(),
            au.first_nalu as i64,
        ];
        let reference: Vec<i64> = row.as_array().unwrap().iter().map(int).collect();
        assert_eq!(reference, ours, "{what}: frame {i}");
    }
    if let Some(rows) = expected["nalus"].as_array() {
        assert_eq!(rows.len(), track.nalus.len());
        for (i, (row, nalu)) in rows.iter().zip(&track.nalus).enumerate() {
            let ours = [
                nalu.pts_ticks.into(),
                nalu.offset as i64,
                nalu.len as i64,
                nalu.flags.into(),
            ];
            let reference: Vec<i64> = row.as_array().unwrap().iter().map(int).collect();
            assert_eq!(reference, ours, "{what}: nalu {i}");
        }
    }
    let all = payload(track, packets, 0..track.access_units.len());
    assert_eq!(
        expected["payload_sha256"].as_str().unwrap(),
        sha256_hex(&all),
        "{what}"
    );
    check_seeks(&what, expected, track, packets);
}

fn sha_free_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reference `ReadAtTime(start, start + 2 s)`: plain starts must match ours
/// exactly; seek-back starts match except for the reference's quirk (a start
/// exactly on a key frame returns the previous GOP), where ours returns the
/// key frame itself.
fn check_seeks(what: &str, expected: &Value, track: &Track, packets: &Path) {
    let frames = expected["frames"].as_array().unwrap();
    let mut quirks = 0;
    for seek in expected["seeks"].as_array().unwrap() {
        let start_ticks = ns_to_ticks(int(&seek["start_ns"]) as u64);
        let end_ticks = ns_to_ticks(int(&seek["end_ns"]) as u64);
        let reference_first = usize::try_from(int(&seek["first_frame_index"])).ok();
        let ours = match seek["flags"].as_str().unwrap() {
            "none" => track.first_au_at_or_after(start_ticks),
            _ => {
                // Independent oracle from the frame rows: last key frame with PTS ≤ start.
                let oracle = frames
                    .iter()
                    .rposition(|f| int(&f[1]) == 1 && int(&f[4]) as u64 <= start_ticks);
                let ours = track.key_unit_at_or_before(start_ticks);
                assert_eq!(ours, oracle, "{what}: seek back from {start_ticks}");
                if ours != reference_first {
                    let ours = ours.unwrap();
                    assert_eq!(
                        u64::from(track.access_units[ours].pts_ticks),
                        start_ticks,
                        "{what}: not the quirk"
                    );
                    let previous_key = track.key_unit_at_or_before(start_ticks - 1);
                    assert_eq!(
                        previous_key, reference_first,
                        "{what}: quirk returns the previous GOP"
                    );
                    quirks += 1;
                    continue;
                }
                ours
            }
        };
        assert_eq!(ours, reference_first, "{what}: seek {seek}");
        let Some(first) = ours else { continue };
        assert_eq!(
            track.access_units[first].first_nalu as i64,
            int(&seek["first_nalu_index"])
        );
        let end = track
            .access_units
            .partition_point(|au| u64::from(au.pts_ticks) <= end_ticks);
        let bytes = payload(track, packets, first..end);
        assert_eq!(
            int(&seek["n_aus"]),
            (end - first) as i64,
            "{what}: seek {seek}"
        );
        assert_eq!(
            int(&seek["bytes"]),
            bytes.len() as i64,
            "{what}: seek {seek}"
        );
        assert_eq!(
            seek["payload_sha256"].as_str().unwrap(),
            sha256_hex(&bytes),
            "{what}"
        );
    }
    println!("{what}: {quirks} reference seek-back quirk(s) where we return the exact key frame");
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn every_case_matches_reference_reader() {
    let samples = samples();
    for case in CASES {
        let tracks = case_tracks(&samples, case);
        assert!(!tracks.is_empty(), "{case}");
        for (expected, track, packets) in &tracks {
            check_track(case, expected, track, packets);
            let index = Index::open(&packets.with_extension("rf1i")).unwrap();
            let entries_sha = sha256_hex(&index.entry_bytes());
            assert_eq!(
                expected["index_entries_sha256"].as_str().unwrap(),
                entries_sha,
                "{case}"
            );
            assert_eq!(
                expected["sentinel_u64_hex"].as_str().unwrap(),
                format!("{:#018x}", index.sentinel.encode())
            );
        }
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn reference_quirk_cases_return_the_exact_key_frame() {
    let samples = samples();
    let (_, track, _) = case_tracks(&samples, "h264_basic").remove(0);
    // Reference ReadAtTime(12 s, SeekBack) starts at 9 s; the key frame at 12 s is what we return.
    let au = track
        .key_unit_at_or_before(ns_to_ticks(12_000_000_000))
        .unwrap();
    assert_eq!((au, track.au_pts_ns(au)), (120, 12_000_000_000));
    // A decoded key-frame time (floored) still finds that key frame via the covering conversion.
    let ticks_409 = gstcctv::formats::rf1::last_ticks_at_or_before_ns(ticks_to_ns(12288));
    assert_eq!(track.key_unit_at_or_before(ticks_409), Some(30));
    let (_, long, _) = case_tracks(&samples, "long_gop_limits").remove(0);
    let au = long
        .key_unit_at_or_before(ns_to_ticks(1_020_000_000_000))
        .unwrap();
    assert_eq!(long.au_pts_ns(au), 1_020_000_000_000);
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn parameter_sets_in_effect_for_key_units() {
    let samples = samples();
    let (_, h265, _) = case_tracks(&samples, "h265_basic").remove(0);
    assert_eq!(h265.parameter_sets_for(30), vec![65, 66, 67]);
    let types: Vec<_> = h265
        .parameter_sets_for(31)
        .iter()
        .map(|&n| h265.nalus[n].nal_type)
        .collect();
    assert_eq!(types, [Some(32), Some(33), Some(34)]);
    let (_, h264, _) = case_tracks(&samples, "h264_basic").remove(0);
    assert_eq!(h264.parameter_sets_for(0), vec![0, 1]);
    assert_eq!(h264.parameter_sets_for(45), vec![33, 34]);
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn locations_resolve_bases_track_files_and_directories() {
    let samples = samples();
    let basic = samples.join("h264_basic");
    // A directory name containing '_' must not be split.
    for location in [
        "1712815946731",
        "1712815946731_video.rf1i",
        "1712815946731_video.rf1p",
    ] {
        let segments = resolve_location(&basic.join(location), None).unwrap();
        assert_eq!(segments.len(), 1, "{location}");
        assert_eq!(segments[0].base, basic.join("1712815946731"));
        assert_eq!(segments[0].start_ms, Some(1712815946731));
        assert_eq!(
            segments[0].tracks[0].packets_path,
            basic.join("1712815946731_video.rf1p")
        );
    }
    let two = samples.join("two_tracks/1712815946731");
    let names: Vec<_> = resolve_location(&two, None).unwrap()[0]
        .tracks
        .iter()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(names, ["lowres", "video"]);
    let lowres = resolve_location(&two, Some("lowres")).unwrap();
    assert_eq!(lowres[0].tracks.len(), 1);
    let missing = resolve_location(&two, Some("audio")).unwrap_err();
    assert!(matches!(missing, Rf1Error::NoTracks { .. }), "{missing}");
    assert!(missing.to_string().contains("\"audio\""));

    let camera = samples.join("archive_dir/camera-0001");
    let starts: Vec<_> = resolve_location(&camera, None)
        .unwrap()
        .iter()
        .map(|s| s.start_ms.unwrap())
        .collect();
    assert_eq!(starts, [1712815946731, 1712815966731, 1712815986731]);

    let nowhere = samples.join("no_such_case/1712815946731");
    assert!(matches!(
        resolve_location(&nowhere, None),
        Err(Rf1Error::NotFound(_))
    ));
    let no_file = basic.join("1712815946731_nope.rf1i");
    assert!(matches!(
        resolve_location(&no_file, None),
        Err(Rf1Error::NotFound(_))
    ));
    let empty = TempDir::new("empty-dir");
    assert!(matches!(
        resolve_location(empty.path(), None),
        Err(Rf1Error::NoTracks { .. })
    ));
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn archive_is_one_timeline() {
    let samples = samples();
    let archive = Archive::open(&samples.join("archive_dir/camera-0001"), None).unwrap();
    assert_eq!(archive.track_names(), ["video"]);
    assert_eq!(archive.origin_ns, 1_712_815_946_731_000_000);
    let mut position = archive.first_au_at_or_after("video", 0).unwrap();
    let mut times = vec![archive.time_ns("video", position).unwrap()];
    while let Some(next) = archive.next_au("video", position) {
        position = next;
        times.push(archive.time_ns("video", position).unwrap());
    }
    assert_eq!(times.len(), 600);
    // Exact per-AU times: frame k of the 10 fps stream is segment k/200 at 20 s steps + its own ticks.
    for (k, &time) in times.iter().enumerate() {
        let in_segment = (k % 200) as u64;
        assert_eq!(
            time,
            (k / 200) as u64 * 20_000_000_000 + ticks_to_ns(in_segment * 4096 / 10),
            "frame {k}"
        );
    }
    let key_at = |s: f64| archive.key_unit_at_or_before("video", (s * 1e9) as u64);
    assert_eq!(key_at(25.0), Some(ArchivePosition { segment: 1, au: 40 }));
    assert_eq!(key_at(40.0), Some(ArchivePosition { segment: 2, au: 0 }));
    assert_eq!(
        key_at(39.99),
        Some(ArchivePosition {
            segment: 1,
            au: 180
        })
    );
    assert_eq!(
        key_at(1e6),
        Some(ArchivePosition {
            segment: 2,
            au: 180
        })
    );
    let after = |s: f64| archive.first_au_at_or_after("video", (s * 1e9) as u64);
    assert_eq!(after(19.95), Some(ArchivePosition { segment: 1, au: 0 }));
    assert_eq!(after(59.95), None);
    // Key frame times reported by the archive seek back to themselves.
    let key = ArchivePosition {
        segment: 1,
        au: 100,
    };
    assert_eq!(
        archive.key_unit_at_or_before("video", archive.time_ns("video", key).unwrap()),
        Some(key)
    );
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn two_tracks_have_their_own_time_bases() {
    let samples = samples();
    let archive = Archive::open(&samples.join("two_tracks/1712815946731"), None).unwrap();
    let first = ArchivePosition { segment: 0, au: 0 };
    assert_eq!(archive.time_ns("lowres", first), Some(500_000_000));
    assert_eq!(archive.time_ns("video", first), Some(0));
    assert_eq!(archive.key_unit_at_or_before("lowres", 499_999_999), None);
    assert_eq!(
        archive.key_unit_at_or_before("lowres", 500_000_000),
        Some(first)
    );
}

// ---------------------------------------------------------------- writer

/// A fresh temporary directory, removed when dropped (even if the test fails).
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new(name: &str) -> Self {
        TempDir(
            tempfile::Builder::new()
                .prefix(&format!("rf1-test-{name}-"))
                .tempdir()
                .unwrap(),
        )
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

/// Writes the NALUs of `track` again, one access unit per call like the corpus writer.
fn rewrite(track: &Track, packets: &Path, base: &Path, options: WriterOptions) -> TrackWriter {
    let data = fs::read(packets).unwrap();
    let h = &track.header;
    let mut writer = TrackWriter::create(
        base,
        &track.name,
        h.codec,
        h.timebase_us,
        (h.width, h.height),
        options,
    )
    .unwrap();
    for au in &track.access_units {
        let nalus: Vec<NaluData> = track.nalus[au.nalu_range()]
            .iter()
            .map(|n| {
                (
                    &data[n.offset as usize..(n.offset + n.len) as usize],
                    n.flags,
                )
            })
            .collect();
        writer
            .write_access_unit(Pts::Ticks(au.pts_ticks), &nalus)
            .unwrap();
    }
    writer
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn writer_reproduces_every_clean_track_byte_for_byte() {
    let samples = samples();
    let out = TempDir::new("rewrite");
    for case in CASES.into_iter().filter(|c| *c != "h264_dirty") {
        for (_, track, packets) in case_tracks(&samples, case) {
            let base = out.path().join(
                packets
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .split_once('_')
                    .unwrap()
                    .0,
            );
            let writer = rewrite(&track, &packets, &base, WriterOptions::default());
            let (index_path, packets_path) = (
                writer.index_path().to_owned(),
                writer.packets_path().to_owned(),
            );
            writer.close().unwrap();
            assert!(
                fs::read(&index_path).unwrap() == fs::read(packets.with_extension("rf1i")).unwrap(),
                "{case}"
            );
            assert!(
                fs::read(&packets_path).unwrap() == fs::read(&packets).unwrap(),
                "{case}"
            );
        }
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn abandoned_preallocating_writer_reproduces_h264_dirty() {
    let samples = samples();
    let (_, track, packets) = case_tracks(&samples, "h264_basic").remove(0);
    let out = TempDir::new("dirty");
    let writer = rewrite(
        &track,
        &packets,
        &out.path().join("1712815946731"),
        WriterOptions { preallocate: true },
    );
    let (index_path, packets_path) = (
        writer.index_path().to_owned(),
        writer.packets_path().to_owned(),
    );
    writer.abandon();
    let dirty = samples.join("h264_dirty/1712815946731_video");
    assert!(fs::read(&index_path).unwrap() == fs::read(dirty.with_extension("rf1i")).unwrap());
    assert!(fs::read(&packets_path).unwrap() == fs::read(dirty.with_extension("rf1p")).unwrap());
}

#[test]
fn writer_takes_nanoseconds_and_enforces_limits() {
    let out = TempDir::new("limits");
    let base = out.path().join("1000");
    let mut writer = TrackWriter::create(
        &base,
        "video",
        Codec::H264,
        1_000_000,
        (64, 64),
        Default::default(),
    )
    .unwrap();
    writer
        .write_nalu(
            Pts::Ns(100_000_000),
            &[0, 0, 1, 0x65, 0x88],
            flags::ANNEXB | flags::KEY,
        )
        .unwrap();
    assert!(!writer.can_write(Pts::Ticks(1 << 22), &[(&[0x41], 0)]));
    assert!(
        writer
            .write_nalu(Pts::Ns(1024 * 1_000_000_000), &[0x41], 0)
            .is_err()
    );
    assert!(writer.write_nalu(Pts::Ticks(0), &[0x41], 0x1000).is_err());
    writer.close().unwrap();
    let track = Track::open(
        "video",
        &base.with_file_name("1000_video.rf1i"),
        &base.with_file_name("1000_video.rf1p"),
    );
    let track = track.unwrap();
    assert_eq!(
        (track.nalus.len(), track.access_units[0].pts_ticks),
        (1, 409)
    );
}

// ---------------------------------------------------------------- hostile inputs

/// Writes a track from (pts ticks, payload, flags) access units.
fn write_track(dir: &Path, aus: &[TestAu], close: bool) -> (PathBuf, PathBuf) {
    let base = dir.join("1");
    let mut writer =
        TrackWriter::create(&base, "video", Codec::H264, 0, (16, 16), Default::default()).unwrap();
    for &(pts, nalus) in aus {
        writer.write_access_unit(Pts::Ticks(pts), nalus).unwrap();
    }
    let paths = (
        writer.index_path().to_owned(),
        writer.packets_path().to_owned(),
    );
    if close {
        writer.close().unwrap()
    } else {
        writer.abandon()
    }
    paths
}

const SPS: &[u8] = &[0, 0, 1, 0x67, 1];
const PPS: &[u8] = &[0, 0, 1, 0x68, 2];
const IDR: &[u8] = &[0, 0, 1, 0x65, 3, 3];
const P: &[u8] = &[0, 0, 1, 0x41, 4, 4, 4];

/// PTS ticks and NALUs of one access unit.
type TestAu<'a> = (u32, &'a [NaluData<'a>]);

fn gop_aus() -> Vec<TestAu<'static>> {
    let key: &[NaluData] = &[(SPS, 6), (PPS, 6), (IDR, 5)];
    let delta: &[NaluData] = &[(P, 4), (P, 4)];
    vec![
        (0, key),
        (409, delta),
        (819, delta),
        (1228, key),
        (1638, delta),
    ]
}

fn open(paths: &(PathBuf, PathBuf)) -> Result<Track, Rf1Error> {
    Track::open("video", &paths.0, &paths.1)
}

#[test]
fn hostile_index_headers_give_clear_errors() {
    let dir = TempDir::new("headers");
    let paths = write_track(dir.path(), &gop_aus(), true);
    let clean = fs::read(&paths.0).unwrap();
    let cases: [(&str, Vec<u8>); 3] = [
        ("header cut", clean[..20].to_vec()),
        ("bad magic", [b"RIFF".as_slice(), &clean[4..]].concat()),
        (
            "unknown codec",
            [&clean[..4], b"vp9 ".as_slice(), &clean[8..]].concat(),
        ),
    ];
    for (what, bytes) in cases {
        fs::write(&paths.0, bytes).unwrap();
        let error = open(&paths).unwrap_err();
        println!("{what}: {error}");
        let expected = match what {
            "bad magic" => matches!(error, Rf1Error::BadMagic(m) if &m == b"RIFF"),
            "unknown codec" => matches!(error, Rf1Error::UnknownCodec(c) if &c == b"vp9 "),
            _ => matches!(error, Rf1Error::ShortIndex { .. }),
        };
        assert!(expected, "{what}: {error:?}");
    }
    // Fewer entries than counted: the complete ones are kept, the packet
    // file's size (and its start codes) end the last one.
    for (what, bytes, aus) in [
        ("sentinel missing", clean[..clean.len() - 8].to_vec(), 5),
        ("entries cut", clean[..clean.len() - 12].to_vec(), 5),
        (
            "huge count, tiny file",
            // (the entries of the first access unit: SPS, PPS, IDR; the
            // SPS alone is no frame)
            [&clean[..24], &[0xff, 0xff], &clean[26..56]].concat(),
            1,
        ),
    ] {
        fs::write(&paths.0, bytes).unwrap();
        let track = open(&paths).unwrap();
        assert!(
            matches!(track.problems[0], Problem::IndexCut { .. }),
            "{what}: {:?}",
            track.problems
        );
        assert_eq!(track.access_units.len(), aus, "{what}");
        assert!(track.nalus.iter().all(|n| n.byte_range().end <= 74));
    }
}

#[test]
fn huge_sparse_recovering_index_is_read_only_as_needed() {
    let dir = TempDir::new("sparse");
    let paths = write_track(dir.path(), &gop_aus(), false);
    let header = fs::read(&paths.0).unwrap()[..32].to_vec();
    let index = fs::OpenOptions::new().write(true).open(&paths.0).unwrap();
    index.set_len(4 << 30).unwrap(); // 4 GiB of (sparse) zeros after the entries
    let track = open(&paths).unwrap();
    assert_eq!((track.nalus.len(), track.access_units.len()), (12, 5));
    // Non-zero garbage all the way: bounded by the format maximum.
    fs::write(&paths.0, [header, vec![0x11; 8 << 20]].concat()).unwrap();
    let index = Index::open(&paths.0).unwrap();
    assert_eq!(index.entries.len(), 65536);
    let track = open(&paths).unwrap();
    assert!(!track.is_sound());
}

#[test]
fn packet_file_cut_inside_an_access_unit_keeps_complete_units() {
    let dir = TempDir::new("cut");
    let paths = write_track(dir.path(), &gop_aus(), true);
    let full = open(&paths).unwrap();
    let fourth = full.access_units[3].byte_range.clone();
    let whole = fs::read(&paths.1).unwrap();
    for (cut, usable_aus) in [
        (fourth.start + 7, 3),
        (fourth.start, 3),
        (fourth.end, 4),
        (0, 0),
    ] {
        // From the whole file each time: growing a file cut before would
        // zero-fill what was cut (an unwritten access unit, not played).
        fs::write(&paths.1, &whole).unwrap();
        let packets = fs::OpenOptions::new().write(true).open(&paths.1).unwrap();
        packets.set_len(cut).unwrap();
        let track = open(&paths).unwrap();
        assert_eq!(track.access_units.len(), usable_aus, "cut at {cut}");
        assert!(
            track.problems.iter().all(|p| matches!(
                p,
                Problem::DataBeyondPacketFile { .. }
                    | Problem::StartsBeyondPacketFile { .. }
                    | Problem::UnknownEnd { .. }
            )) && !track.problems.is_empty(),
            "{:?}",
            track.problems
        );
        let mut file = fs::File::open(&paths.1).unwrap();
        for au in 0..usable_aus {
            let expected = &full.access_units[au].byte_range;
            assert_eq!(
                track.read_access_unit(&mut file, au).unwrap().len() as u64,
                expected.end - expected.start
            );
        }
        println!("cut at {cut}: {}", track.problems[0]);
    }
}

type EntryEdit = fn(u64) -> u64;

/// Rewrites entry `entry` of a closed index with `edit`.
fn edit_entry(index_path: &Path, entry: usize, edit: impl Fn(u64) -> u64) {
    let mut bytes = fs::read(index_path).unwrap();
    let at = 32 + 8 * entry;
    let value = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    bytes[at..at + 8].copy_from_slice(&edit(value).to_le_bytes());
    fs::write(index_path, bytes).unwrap();
}

#[test]
fn corrupt_entries_are_reported_and_earlier_units_kept() {
    let dir = TempDir::new("corrupt");
    let paths = write_track(dir.path(), &gop_aus(), true);
    let pristine = fs::read(&paths.0).unwrap();
    // Entries: AU0 0-2, AU1 3-4, AU2 5-6, AU3 7-9 (from byte 44), AU4 10-11, sentinel 12 (74 bytes).
    let full = open(&paths).unwrap();
    let read_all = |track: &Track| -> Vec<Vec<u8>> {
        let mut file = fs::File::open(&paths.1).unwrap();
        (0..track.access_units.len())
            .map(|au| track.read_access_unit(&mut file, au).unwrap())
            .collect()
    };
    let pristine_aus = read_all(&full);
    // Each case: the damaged entry is skipped, every other access unit stays
    // (byte for byte, listed by pristine AU index; AU4 of case 3 loses the P
    // slice of the skipped entry).
    let cases: [(usize, EntryEdit, &[usize], Problem); 4] = [
        (
            8,
            |e| e | (0x3fff_0000 << 12),
            &[0, 1, 2, 3, 4],
            Problem::StartsBeyondPacketFile {
                entry: 8,
                offset: 0x3fff_0031,
                packets_len: 74,
            },
        ),
        (
            8,
            |e| e & !(MAX_OFFSET << 12),
            &[0, 1, 2, 3, 4],
            Problem::DecreasingOffset {
                entry: 8,
                offset: 0,
                previous: 44,
            },
        ),
        (
            10,
            |e| (e & ((1 << 42) - 1)) | (100 << 42),
            &[0, 1, 2, 3],
            Problem::DecreasingPts {
                entry: 10,
                pts_ticks: 100,
                previous: 1228,
            },
        ),
        (
            12,
            |e| e + (1000 << 12),
            &[0, 1, 2, 3],
            Problem::DataBeyondPacketFile {
                entry: 11,
                end: 1074,
                packets_len: 74,
            },
        ),
    ];
    for (entry, edit, kept, expected) in cases {
        fs::write(&paths.0, &pristine).unwrap();
        edit_entry(&paths.0, entry, edit);
        let track = open(&paths).unwrap();
        println!("{}", track.problems[0]);
        assert_eq!(track.problems, [expected]);
        let aus = read_all(&track);
        for (got, &au) in aus.iter().zip(kept) {
            assert_eq!(got, &pristine_aus[au], "entry {entry}: AU {au}");
        }
        if entry == 10 {
            assert_eq!(aus.len(), 5);
            assert_eq!(aus[4], P, "AU4 keeps its second P slice");
        } else {
            assert_eq!(aus.len(), kept.len());
        }
    }
}

#[test]
fn key_frames_and_parameter_sets_found_by_nal_type_despite_wrong_flags() {
    let dir = TempDir::new("flags");
    // All flags just ANNEXB; the second key frame carries only a new PPS; bare NALs need start codes.
    let key: &[NaluData] = &[(SPS, 4), (PPS, 4), (IDR, 4)];
    let pps_key: &[NaluData] = &[(&PPS[3..], 0), (&IDR[3..], 0)];
    let delta: &[NaluData] = &[(P, 4)];
    let paths = write_track(
        dir.path(),
        &[(0, key), (10, delta), (20, pps_key), (30, delta)],
        true,
    );
    let track = open(&paths).unwrap();
    let keys: Vec<bool> = track.access_units.iter().map(|au| au.key).collect();
    assert_eq!(keys, [true, false, true, false]);
    assert_eq!(track.key_unit_at_or_before(29), Some(2));
    assert_eq!(track.key_unit_at_or_before(20), Some(2));
    assert_eq!(track.key_unit_at_or_before(19), Some(0));
    assert_eq!(track.first_au_at_or_after(11), Some(2));
    assert_eq!(track.first_au_at_or_after(31), None);
    assert_eq!(track.parameter_sets_for(2), vec![0, 4]);
    assert_eq!(track.parameter_sets_for(1), vec![0, 1]);
    let pieces = track.au_pieces(2);
    assert!(pieces.iter().all(|p| p.prepend_start_code));
    let bytes = track
        .read_access_unit(&mut fs::File::open(&paths.1).unwrap(), 2)
        .unwrap();
    assert_eq!(
        bytes,
        [&[0, 0, 0, 1, 0x68, 2][..], &[0, 0, 0, 1, 0x65, 3, 3]].concat()
    );
    // Flags alone (not probed) would miss the key frames.
    let flags_only = Track::from_index("video", Index::open(&paths.0).unwrap(), 1 << 20);
    assert_eq!(flags_only.keyframe_count(), 0);
}
