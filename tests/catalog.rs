// SPDX-License-Identifier: MIT
//! The case catalog: recordings become cameras with spans across files by
//! capture time, duplicates used once, gaps and overlaps found, reading a
//! bounded amount of each file.

use gstcctv::engine::catalog::{Catalog, FormatKind};
use gstcctv::formats::pavs::writer::Recording;
use std::path::PathBuf;

/// 2021-09-01 07:00:00 UTC.
const T0: u64 = 1_630_479_600_000_000_000;
const S: u64 = 1_000_000_000;

fn psf(
    dir: &std::path::Path,
    name: &str,
    channel: u8,
    camera: &str,
    start: u64,
    frames: u64,
) -> PathBuf {
    let path = dir.join(name);
    Recording::backup_camera(channel, camera, start, frames)
        .write_file(&path)
        .unwrap();
    path
}

#[test]
fn a_vmax_backup_becomes_cameras_with_spans_in_capture_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Camera 9: three consecutive 60 s files, named out of time order;
    // a copy of the second; camera 3 in a file of its own; then a file of
    // camera 9 after a 10-minute pause.
    let a = psf(d, "c.psf", 9, "ALLEY", T0, 120);
    let b = psf(d, "a.psf", 9, "ALLEY", T0 + 60 * S, 120);
    let c = psf(d, "b.psf", 9, "ALLEY", T0 + 120 * S, 120);
    let copy = d.join("copy-of-a.psf");
    std::fs::copy(&b, &copy).unwrap();
    let other = psf(d, "door.psf", 3, "DOOR", T0 + 30 * S, 60);
    let late = psf(d, "z.psf", 9, "ALLEY", T0 + 780 * S, 20);
    let inputs: Vec<(PathBuf, FormatKind)> = [&b, &copy, &c, &other, &a, &late]
        .iter()
        .map(|p| ((*p).clone(), FormatKind::Pavs))
        .collect();
    let cat = Catalog::build(&inputs);
    assert!(cat.skipped.is_empty(), "{:?}", cat.skipped);
    assert_eq!(cat.cameras.len(), 2, "{:#?}", cat.cameras);
    let alley = &cat.find("9")[0];
    assert_eq!(alley.name, "ALLEY [09]");
    assert_eq!(cat.find("alley").len(), 1);
    assert_eq!(cat.find(&alley.key.id()).len(), 1);
    let order: Vec<&PathBuf> = alley
        .spans
        .iter()
        .map(|s| &cat.files[s.file].path)
        .collect();
    assert_eq!(order, [&a, &b, &c, &late]);
    assert_eq!(alley.spans[0].first_wall_ns, T0);
    assert_eq!(alley.spans[0].last_wall_ns, T0 + 119 * S / 2);
    assert_eq!(alley.spans[3].last_wall_ns, T0 + 780 * S + 19 * S / 2);
    // The copy is used once and reported.
    assert_eq!(alley.duplicates.len(), 1);
    let (dup, orig) = alley.duplicates[0];
    assert_eq!((&cat.files[dup].path, &cat.files[orig].path), (&copy, &b));
    // Consecutive files join; the pause is a gap.
    assert_eq!(alley.gaps, vec![(T0 + 120 * S + 119 * S / 2, T0 + 780 * S)]);
    assert!(alley.overlaps.is_empty());
    let door = &cat.find("DOOR")[0];
    assert_eq!(door.key.stream, "video_3");
    assert_eq!(door.spans.len(), 1);
    // A window selects the spans that hold it.
    let w: Vec<usize> = alley
        .spans_in(Some(T0 + 110 * S), Some(T0 + 130 * S))
        .iter()
        .map(|s| s.file)
        .collect();
    assert_eq!(w.len(), 2);
}

#[test]
fn cataloguing_reads_a_bounded_part_of_a_large_file() {
    let dir = tempfile::tempdir().unwrap();
    let small = psf(dir.path(), "small.psf", 1, "CAM", T0, 200);
    // 100 000 frames, mostly skip frames (cheap to write): about 100 MB,
    // a key frame every 100 s.
    let large = dir.path().join("large.psf");
    Recording {
        channel: 1,
        camera_name: "CAM",
        width: 176,
        height: 144,
        start_ns: T0 + 200 * S,
        step_ns: S / 2,
        frames: 100_000,
        gop: 200,
        seed: 7,
        ..Recording::default()
    }
    .write_file(&large)
    .unwrap();
    let size = std::fs::metadata(&large).unwrap().len();
    let cat = Catalog::build(&[(small, FormatKind::Pavs), (large.clone(), FormatKind::Pavs)]);
    let entry = cat.files.iter().find(|f| f.path == large).unwrap();
    assert_eq!(entry.streams[0].last_wall_ns, T0 + 200 * S + 99_999 * S / 2);
    assert!(
        entry.bytes_read < 12 << 20,
        "read {} of {size} bytes",
        entry.bytes_read
    );
    assert!(size > 80 << 20, "{size}");
    assert_eq!(cat.cameras.len(), 1);
    assert_eq!(cat.cameras[0].spans.len(), 2);
    // The ends only (for picking a window's files): the same span, from
    // the first units and the last 64 KiB, far less read.
    let ends = Catalog::build_ends(&[(large.clone(), FormatKind::Pavs)]);
    let entry = &ends.files[0];
    assert_eq!(entry.streams[0].first_wall_ns, T0 + 200 * S);
    assert_eq!(entry.streams[0].last_wall_ns, T0 + 200 * S + 99_999 * S / 2);
    assert!(
        entry.bytes_read <= 512 << 10,
        "read {} of {size} bytes",
        entry.bytes_read
    );
}

#[test]
fn unreadable_inputs_are_skipped_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.psf");
    std::fs::write(&junk, vec![0x5a; 100_000]).unwrap();
    let missing = dir.path().join("missing.psf");
    let cat = Catalog::build(&[
        (junk.clone(), FormatKind::Pavs),
        (missing, FormatKind::Pavs),
    ]);
    assert!(cat.cameras.is_empty());
    assert_eq!(cat.skipped.len(), 2);
    assert!(cat.skipped.iter().all(|s| !s.reason.is_empty()));
}

#[test]
fn a_recorder_of_sixteen_cameras_gives_every_camera_with_the_catalogs_short_discovery() {
    use gstcctv::formats::pavs::writer::{BlockSpec, PictureBlocks};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dvr.psf");
    let mut pictures = PictureBlocks::new(176, 144).unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    // 16 channels, frame by frame, 40 frames each (a key frame every 10):
    // 640 blocks, more than the catalog's discovery takes.
    for i in 0..40u64 {
        for ch in 0..16u8 {
            let spec = BlockSpec {
                channel: ch + 1,
                camera_name: format!("CAM{}", ch + 1),
                width: 176,
                height: 144,
                key: i % 10 == 0,
                capture_time_ns: T0 + i * S / 2 + u64::from(ch) * 1_000_000,
                sequence: (i * 16 + u64::from(ch)) as u32,
            };
            pictures
                .write(&mut out, &spec, i as u32 + u32::from(ch))
                .unwrap();
        }
    }
    std::io::Write::flush(&mut out).unwrap();
    drop(out);
    let cat = Catalog::build(&[(path, FormatKind::Pavs)]);
    assert!(cat.skipped.is_empty(), "{:?}", cat.skipped);
    assert_eq!(cat.cameras.len(), 16, "{:#?}", cat.cameras);
    for (k, cam) in cat.cameras.iter().enumerate() {
        let ch = cam
            .key
            .stream
            .trim_start_matches("video_")
            .parse::<u64>()
            .unwrap();
        assert_eq!(cam.spans[0].first_wall_ns, T0 + (ch - 1) * 1_000_000, "{k}");
        assert_eq!(
            cam.spans[0].last_wall_ns,
            T0 + 39 * S / 2 + (ch - 1) * 1_000_000,
            "{k}"
        );
    }
}
