// SPDX-License-Identifier: MIT
//! pavsdemux: real samples against expected.json, generated files for every
//! header field, damage, odd time, two cameras, push mode and seeking.

mod support;

use gst::prelude::*;
use gstcctv::formats::pavs::writer::{CameraFrame as Frame, camera_frames};
use gstcctv::h264::{BaselineParams, SyntheticEncoder, test_picture};
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::*;

const SPS_704X240_PREFIX: [u8; 12] = [0, 0, 0, 1, 0x67, 0x42, 0x00, 0x1e, 0x9a, 0x74, 0x05, 0x83];
const PPS: [u8; 8] = [0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80];

fn expected() -> (PathBuf, Value) {
    let dir = shared_samples("pavs");
    let json = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    (dir, serde_json::from_str(&json).unwrap())
}

/// Strips the SPS+PPS the demuxer puts in front of key frames.
fn strip_parameter_sets(data: &[u8]) -> &[u8] {
    if data.starts_with(&[0, 0, 0, 1, 0x67]) {
        let pps_at = data
            .windows(5)
            .position(|w| w == [0, 0, 0, 1, 0x68])
            .unwrap();
        assert_eq!(&data[pps_at..pps_at + 8], &PPS);
        &data[pps_at + 8..]
    } else {
        data
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn real_samples_are_bit_exact_with_wall_clock_and_flags() {
    let (dir, expected) = expected();
    for name in ["video1", "video2", "video3"] {
        let file = dir.join(format!("{name}.psf"));
        let bytes = std::fs::read(&file).unwrap();
        let blocks = expected[name]["blocks"].as_array().unwrap();
        for run in [
            demux_file("pavsdemux", &file, ""),
            demux_bytes_push("pavsdemux", &bytes, ""),
        ] {
            assert!(
                run.errors.is_empty() && run.warnings.is_empty(),
                "{name}: {:?} {:?}",
                run.errors,
                run.warnings
            );
            assert_eq!(run.pads.keys().collect::<Vec<_>>(), vec!["video_9"]);
            let out = run.only();
            assert_eq!(out.len(), blocks.len(), "{name}");
            let mut last_pts = gst::ClockTime::ZERO;
            for (i, (o, b)) in out.iter().zip(blocks).enumerate() {
                let at = b["payload_offset"].as_u64().unwrap() as usize;
                let len = b["payload_len"].as_u64().unwrap() as usize;
                let key = b["key"].as_bool().unwrap();
                assert_eq!(
                    strip_parameter_sets(&o.data),
                    &bytes[at..at + len],
                    "{name} block {i}"
                );
                assert_eq!(
                    o.data.starts_with(&SPS_704X240_PREFIX),
                    key,
                    "{name} block {i}: SPS iff key"
                );
                assert_eq!(!o.is_delta(), key, "{name} block {i}");
                assert_eq!(o.unix_ns, b["pts_unix_ns"].as_u64(), "{name} block {i}");
                let pts = o.pts.unwrap();
                assert_eq!(o.dts, o.pts);
                assert!(pts >= last_pts, "{name} block {i}: PTS went back");
                assert!(o.duration.is_some(), "{name} block {i}: duration");
                last_pts = pts;
            }
            assert_eq!(out[0].pts, Some(gst::ClockTime::ZERO));
            let caps = run.caps["video_9"].structure(0).unwrap().to_owned();
            assert_eq!(caps.get::<i32>("width").unwrap(), 704);
            assert_eq!(caps.get::<i32>("height").unwrap(), 240);
            assert_eq!(
                caps.get::<gst::Fraction>("pixel-aspect-ratio").unwrap(),
                gst::Fraction::new(5, 11)
            );
            assert_eq!(caps.get::<&str>("stream-format").unwrap(), "byte-stream");
        }
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn real_samples_decode_to_the_expected_frames() {
    let (dir, expected) = expected();
    for name in ["video1", "video2", "video3"] {
        let run = demux_file(
            "pavsdemux",
            &dir.join(format!("{name}.psf")),
            "h264parse ! avdec_h264 ! video/x-raw,format=I420",
        );
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        let md5s: Vec<String> = run.only().iter().map(|o| md5_hex(&o.data)).collect();
        let want: Vec<String> = expected[name]["decoded_i420_frame_md5"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(md5s, want, "{name}");
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn real_sample_timeline_policy() {
    let (dir, _) = expected();
    let ms = gst::ClockTime::from_mseconds;
    // video2 runs backwards in pairs: every frame gets one frame duration.
    let run = demux_file("pavsdemux", &dir.join("video2.psf"), "");
    let pts: Vec<_> = run
        .only()
        .iter()
        .map(|o| o.pts.unwrap().mseconds())
        .collect();
    assert_eq!(pts[..4], [0, 500, 1000, 1500]);
    assert!(run.only()[2].flags.contains(gst::BufferFlags::DISCONT));
    // video1 jumps forward by hours: real time kept and flagged with
    // max-gap=0...
    let run = run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! pavsdemux name=demux max-gap=0",
            dir.join("video1.psf").display()
        ),
        "",
        None,
        None,
    );
    let out = run.only();
    assert!(out[6].pts.unwrap() > gst::ClockTime::from_seconds(5 * 3600));
    assert!(out[6].flags.contains(gst::BufferFlags::DISCONT));
    // ...or compacted to one frame duration (by default: 10 s; here 60 s).
    let run = run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! pavsdemux name=demux max-gap=60000000000",
            dir.join("video1.psf").display()
        ),
        "",
        None,
        None,
    );
    let out = run.only();
    assert_eq!(
        out[6].pts.unwrap() - out[5].pts.unwrap(),
        out[5].pts.unwrap() - out[4].pts.unwrap()
    );
    assert!(out.last().unwrap().pts.unwrap() < ms(10_000));
    assert_eq!(out[6].unix_ns, Some(1_630_500_648_700_883_000));
}

// ---- generated files --------------------------------------------------------

const T0: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;

/// A decodable .psf (see [`camera_frames`]): the file and each block's
/// payload.
fn write_psf(frames: &[Frame], width: u16, height: u16) -> (Vec<u8>, Vec<Vec<u8>>) {
    let blocks = camera_frames(frames, width, height).unwrap();
    (blocks.bytes, blocks.payloads)
}

/// A temporary file holding `bytes`, removed when the returned path drops.
fn temp_file(name: &str, bytes: &[u8]) -> tempfile::TempPath {
    let mut file = tempfile::Builder::new()
        .prefix("gstcctv-test-")
        .suffix(&format!("-{name}"))
        .tempfile()
        .unwrap();
    std::io::Write::write_all(&mut file, bytes).unwrap();
    file.into_temp_path()
}

#[test]
fn generated_file_header_fields_reach_caps_tags_and_buffers() {
    let (file, payloads) = write_psf(&Frame::one_camera(6, 3), 352, 240);
    let path = temp_file("fields.psf", &file);
    let run = demux_file("pavsdemux", &path, "");
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(run.pads.keys().collect::<Vec<_>>(), vec!["video_1"]);
    let out = run.only();
    assert_eq!(out.len(), 6);
    for (i, (o, p)) in out.iter().zip(&payloads).enumerate() {
        assert_eq!(strip_parameter_sets(&o.data), &p[..]);
        assert_eq!(o.is_delta(), i % 3 != 0);
        assert_eq!(o.unix_ns, Some(T0 + i as u64 * 500 * MS));
        assert_eq!(o.pts, Some(gst::ClockTime::from_mseconds(i as u64 * 500)));
        assert_eq!(o.duration, Some(gst::ClockTime::from_mseconds(500)));
        // One memory per buffer (filesink 1.22 corrupts buffers whose
        // memories cross its 1024-iovec boundary): delta frames are the
        // read bytes themselves, key frames one copy with the parameter sets.
        assert_eq!(o.memories, 1);
    }
    let s = run.caps["video_1"].structure(0).unwrap().to_owned();
    assert_eq!(
        (
            s.get::<i32>("width").unwrap(),
            s.get::<i32>("height").unwrap()
        ),
        (352, 240)
    );
    assert_eq!(
        s.get::<gst::Fraction>("pixel-aspect-ratio").unwrap(),
        gst::Fraction::new(10, 11)
    );
    assert_eq!(
        s.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(2, 1)
    );
    let tags = &run.tags["video_1"];
    let title = tags
        .iter()
        .find_map(|t| t.get::<gst::tags::Title>())
        .unwrap();
    assert_eq!(title.get(), "CAM1 [01]");
    let date = tags
        .iter()
        .find_map(|t| t.get::<gst::tags::DateTime>())
        .unwrap();
    assert_eq!(date.get().year(), 2023);
    let container = tags
        .iter()
        .find_map(|t| t.get::<gst::tags::ContainerFormat>())
        .unwrap();
    assert_eq!(container.get(), "VMax PAVS");
}

#[test]
fn generated_file_decodes_to_the_written_pictures() {
    let (file, _) = write_psf(&Frame::one_camera(4, 2), 64, 48);
    let path = temp_file("decode.psf", &file);
    let run = demux_file(
        "pavsdemux",
        &path,
        "h264parse ! avdec_h264 ! video/x-raw,format=I420",
    );
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let out = run.only();
    assert_eq!(out.len(), 4);
    for (i, o) in out.iter().enumerate() {
        let key_index = i / 2 * 2;
        let (y, u, v) = test_picture(64, 48, key_index as u32);
        assert_eq!(o.data, [y, u, v].concat(), "frame {i}");
    }
}

#[test]
fn two_cameras_interleaved_get_two_synchronised_pads() {
    let frames: Vec<Frame> = (0..12)
        .map(|i| Frame {
            channel: if i % 2 == 0 { 3 } else { 7 },
            key: i % 4 < 2,
            // camera 7 lags camera 3 by 20 ms
            capture_time_ns: T0 + (i / 2) as u64 * 1000 * MS + if i % 2 == 1 { 20 * MS } else { 0 },
        })
        .collect();
    let (file, payloads) = write_psf(&frames, 64, 48);
    let run = demux_file("pavsdemux", &temp_file("two.psf", &file), "");
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(
        run.pads.keys().collect::<Vec<_>>(),
        vec!["video_3", "video_7"]
    );
    for (pad, channel_offset, lag) in [("video_3", 0, 0), ("video_7", 1, 20)] {
        let out = &run.pads[pad];
        assert_eq!(out.len(), 6);
        for (k, o) in out.iter().enumerate() {
            assert_eq!(
                strip_parameter_sets(&o.data),
                &payloads[k * 2 + channel_offset][..]
            );
            assert_eq!(
                o.pts,
                Some(gst::ClockTime::from_mseconds(k as u64 * 1000 + lag))
            );
        }
    }
}

#[test]
fn odd_time_never_decreases_and_keeps_wall_clock() {
    let ms = |v: u64| T0 + v * MS;
    let captures = [
        ms(5000),
        ms(5500),
        ms(5500),
        ms(1000),
        ms(1500),
        ms(9_000_000),
        ms(9_000_500),
    ];
    let frames: Vec<Frame> = captures
        .iter()
        .enumerate()
        .map(|(i, &c)| Frame {
            channel: 2,
            key: i % 2 == 0,
            capture_time_ns: c,
        })
        .collect();
    let (file, _) = write_psf(&frames, 64, 48);
    // Real time (max-gap=0: the default compacts the 2.5-hour jump).
    let path = temp_file("odd.psf", &file);
    let run = run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! pavsdemux name=demux max-gap=0",
            path.display()
        ),
        "",
        None,
        None,
    );
    let out = run.only();
    let pts: Vec<u64> = out.iter().map(|o| o.pts.unwrap().mseconds()).collect();
    // repeat: +1 frame; backwards: +1 frame, then the earlier scene keeps its
    // spacing; a jump forward of 2.5 hours is kept as real time.
    assert_eq!(pts[..5], [0, 500, 1000, 1500, 2000]);
    assert_eq!(pts[6] - pts[5], 500);
    assert!(pts[5] > 2 * 3600 * 1000);
    assert!(out[3].flags.contains(gst::BufferFlags::DISCONT));
    assert!(out[5].flags.contains(gst::BufferFlags::DISCONT));
    assert!(!out[4].flags.contains(gst::BufferFlags::DISCONT));
    let unix: Vec<u64> = out.iter().map(|o| o.unix_ns.unwrap()).collect();
    assert_eq!(unix, captures);
}

// ---- damage -----------------------------------------------------------------

fn block_offsets(file: &[u8]) -> Vec<usize> {
    let mut at = 0;
    let mut offsets = Vec::new();
    while at < file.len() {
        offsets.push(at);
        at += u32::from_le_bytes(file[at + 0x3C..at + 0x40].try_into().unwrap()) as usize;
    }
    offsets
}

#[test]
fn damage_is_skipped_and_every_intact_block_recovered() {
    let (file, payloads) = write_psf(&Frame::one_camera(12, 3), 64, 48);
    let offsets = block_offsets(&file);
    let mut damaged = Vec::new();
    let mut intact = Vec::new();
    for (i, &at) in offsets.iter().enumerate() {
        let end = offsets.get(i + 1).copied().unwrap_or(file.len());
        let mut block = file[at..end].to_vec();
        match i {
            // garbage with a fake marker before block 2
            2 => damaged.extend_from_slice(b"\x01\x02PAVS\x02\x09garbage-PAVSPAVS\xff\xff"),
            // a flipped payload bit in block 4
            4 => block[0x246] ^= 0x10,
            // a fake header copy (valid header, wrong checksum) before block 7
            7 => {
                let mut fake = block[..0x240 + 8].to_vec();
                fake[0x244 + 2] ^= 0xff;
                damaged.extend_from_slice(&fake);
            }
            _ => {}
        }
        if i != 4 {
            intact.push(i);
        }
        if i == 11 {
            // the last block cut in half
            block.truncate(block.len() / 2);
            intact.pop();
        }
        damaged.extend_from_slice(&block);
    }
    let path = temp_file("damaged.psf", &damaged);
    for run in [
        demux_file("pavsdemux", &path, ""),
        demux_bytes_push("pavsdemux", &damaged, ""),
    ] {
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        let out = run.only();
        let got: Vec<&[u8]> = out.iter().map(|o| strip_parameter_sets(&o.data)).collect();
        let want: Vec<&[u8]> = intact.iter().map(|&i| &payloads[i][..]).collect();
        let index_of = |p: &[u8]| payloads.iter().position(|q| q == p);
        assert_eq!(
            got.iter().map(|p| index_of(p)).collect::<Vec<_>>(),
            want.iter().map(|p| index_of(p)).collect::<Vec<_>>()
        );
        assert_eq!(got, want);
        assert_eq!(run.warnings.len(), 1, "{:?}", run.warnings);
        assert!(
            run.warnings[0].contains("damaged region"),
            "{}",
            run.warnings[0]
        );
        // the block after each hole is flagged
        let after_hole = intact.iter().position(|&i| i == 5).unwrap();
        assert!(out[after_hole].flags.contains(gst::BufferFlags::DISCONT));
    }
}

#[test]
fn not_pavs_is_a_clear_error() {
    let junk: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = temp_file("junk.psf", &junk);
    for run in [
        demux_file("pavsdemux", &path, ""),
        demux_bytes_push("pavsdemux", &junk, ""),
    ] {
        assert!(run.pads.is_empty());
        assert_eq!(run.errors.len(), 1, "{:?}", run.errors);
        assert!(run.errors[0].contains("Not a PAVS"), "{}", run.errors[0]);
    }
    let run = demux_file("pavsdemux", Path::new("/nonexistent/x.psf"), "");
    assert!(!run.errors.is_empty());
}

#[test]
fn hostile_lengths_do_not_allocate_or_hang() {
    let (mut file, _) = write_psf(&Frame::one_camera(3, 3), 64, 48);
    // Claim a 4 GiB payload in the first block, consistently in all copies.
    for at in [0x48, 0x228] {
        file[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    }
    file[0x3C..0x40].copy_from_slice(&0xffff_fe00u32.to_le_bytes());
    let run = demux_file("pavsdemux", &temp_file("hostile.psf", &file), "");
    assert_eq!(run.only().len(), 2);
    assert_eq!(run.warnings.len(), 1);
}

// ---- typefinding, discovery --------------------------------------------------

#[test]
fn typefinder_claims_pavs_by_content() {
    init();
    let (file, _) = write_psf(&Frame::one_camera(2, 2), 64, 48);
    let (caps, prob) =
        gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, &file).unwrap();
    assert_eq!(caps.structure(0).unwrap().name(), "video/x-pavs");
    assert_eq!(prob, gst::TypeFindProbability::Maximum);
    let mut shifted = vec![0x55u8; 3000];
    shifted.extend_from_slice(&file);
    let (caps, prob) =
        gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, &shifted).unwrap();
    assert_eq!(caps.structure(0).unwrap().name(), "video/x-pavs");
    use gst::TypeFindProbability as P;
    assert!(
        matches!(prob, P::Likely | P::NearlyCertain | P::Maximum),
        "{prob:?}"
    );
    // decodebin picks pavsdemux by content, whatever the file name.
    let path = temp_file("no-extension", &file);
    let run = run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! decodebin name=demux",
            path.display()
        ),
        "",
        None,
        None,
    );
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    // decodebin exposes the decoded video and the capture-time subtitles.
    let mut kinds: Vec<_> = run
        .caps
        .values()
        .map(|c| c.structure(0).unwrap().name().to_string())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["text/x-raw", "video/x-raw"]);
    let video = run
        .caps
        .iter()
        .find(|(_, c)| c.structure(0).unwrap().name() == "video/x-raw")
        .unwrap()
        .0;
    assert_eq!(run.pads[video].len(), 2);
}

/// A file of a stock format that holds one PAVS block in its head (an H.264
/// elementary stream, then the block, as a carved or concatenated file
/// would): the stock typefinder's guess stands. The PAVS probe only finds
/// the block "likely" here, as sure as the stock H.264 finder, and the cctv
/// typefinders rank below the stock ones, so an equal guess of theirs does
/// not outvote a stock finder.
#[test]
fn typefinder_does_not_outvote_stock_finders() {
    init();
    let params = BaselineParams::for_size(64, 48).unwrap();
    let mut enc = SyntheticEncoder::new(params);
    let (y, u, v) = test_picture(64, 48, 1);
    let mut file = params.sps(None);
    file.extend_from_slice(&params.pps());
    file.extend_from_slice(&enc.key_frame(&y, &u, &v));
    for _ in 0..12 {
        file.extend_from_slice(&enc.skip_frame());
    }
    // The stock finder is as sure of the stream alone as the probe is below.
    let (_, es_prob) =
        gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, &file).unwrap();
    assert_eq!(es_prob, gst::TypeFindProbability::Likely);
    let (psf, _) = write_psf(&Frame::one_camera(1, 1), 64, 48);
    file.extend_from_slice(&psf);
    assert_eq!(
        gstcctv::engine::probe::pavs(&file),
        Some(gstcctv::engine::probe::Certainty::Likely)
    );
    let (caps, prob) =
        gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, &file).unwrap();
    assert_eq!(
        caps.structure(0).unwrap().name(),
        "video/x-h264",
        "{caps} ({prob:?})"
    );
}

// ---- seeking ------------------------------------------------------------------

fn seek_run(path: &Path, flags: gst::SeekFlags, start_ms: u64, stop_ms: Option<u64>) -> Run {
    let seek = move |p: &gst::Pipeline| {
        let stop = stop_ms.map(gst::ClockTime::from_mseconds);
        p.seek(
            1.0,
            gst::SeekFlags::FLUSH | flags,
            gst::SeekType::Set,
            gst::ClockTime::from_mseconds(start_ms),
            if stop.is_some() {
                gst::SeekType::Set
            } else {
                gst::SeekType::None
            },
            stop,
        )
        .unwrap();
        p.state(gst::ClockTime::from_seconds(10)).0.unwrap();
    };
    run_pipeline(
        &format!(
            "filesrc location=\"{}\" ! pavsdemux name=demux",
            path.display()
        ),
        "",
        None,
        Some(&seek),
    )
}

#[test]
fn seeking_key_unit_accurate_stop_and_edges() {
    // 40 frames, 500 ms apart, key every 4 (every 2 s).
    let (file, _) = write_psf(&Frame::one_camera(40, 4), 64, 48);
    let path = temp_file("seek.psf", &file);
    let first_pts = |run: &Run| run.only().first().map(|o| o.pts.unwrap().mseconds());

    // key-unit: snap to the key frame at or before the target.
    let run = seek_run(
        &path,
        gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
        5300,
        None,
    );
    assert_eq!(first_pts(&run), Some(4000));
    assert!(!run.only()[0].is_delta());
    assert!(run.only()[0].flags.contains(gst::BufferFlags::DISCONT));
    assert_eq!(run.only().len(), 32);
    let seg = run
        .segments
        .values()
        .next()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let seg = seg.downcast::<gst::ClockTime>().unwrap();
    assert_eq!(seg.start(), Some(gst::ClockTime::from_mseconds(4000)));

    // a target exactly on a key frame starts there, not a GOP earlier.
    let run = seek_run(
        &path,
        gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
        8000,
        None,
    );
    assert_eq!(first_pts(&run), Some(8000));

    // accurate: decoding starts at the key frame (4 s), the segment at the
    // target, so the sink drops what ends before 5.3 s.
    let run = seek_run(&path, gst::SeekFlags::ACCURATE, 5300, Some(9000));
    assert_eq!(first_pts(&run), Some(5000));
    let seg = run
        .segments
        .values()
        .next()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let seg = seg.downcast::<gst::ClockTime>().unwrap();
    assert_eq!(seg.start(), Some(gst::ClockTime::from_mseconds(5300)));
    assert_eq!(seg.stop(), Some(gst::ClockTime::from_mseconds(9000)));
    // stop position: nothing at or after 9 s.
    assert_eq!(run.only().last().unwrap().pts.unwrap().mseconds(), 8500);

    // near the start and near the end
    let run = seek_run(
        &path,
        gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
        0,
        None,
    );
    assert_eq!(run.only().len(), 40);
    let run = seek_run(
        &path,
        gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
        19_400,
        None,
    );
    assert_eq!(first_pts(&run), Some(18_000));
    assert_eq!(run.only().len(), 4);

    // past the end: the last GOP or nothing, but a clean EOS.
    let run = seek_run(&path, gst::SeekFlags::ACCURATE, 60_000, None);
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert!(run.only().len() <= 4);
}

#[test]
fn seeking_in_a_large_unread_file_bisects() {
    // ~2000 blocks, big enough that the seek lands in the unread region.
    let n = 2000;
    let frames: Vec<Frame> = (0..n)
        .map(|i| Frame {
            channel: 1,
            key: i % 10 == 0,
            capture_time_ns: T0 + i as u64 * 100 * MS,
        })
        .collect();
    let (file, _) = write_psf(&frames, 160, 128);
    let path = temp_file("big.psf", &file);
    let run = seek_run(
        &path,
        gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
        150_050,
        None,
    );
    let out = run.only();
    assert_eq!(out[0].pts.unwrap().mseconds(), 150_000);
    assert_eq!(out[0].unix_ns, Some(T0 + 150_000 * MS));
    assert_eq!(out.len(), n - 1500);
}

#[test]
fn queries_duration_position_seeking() {
    init();
    let (file, _) = write_psf(&Frame::one_camera(40, 4), 64, 48);
    let path = temp_file("query.psf", &file);
    let pipeline = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! pavsdemux ! fakesink",
        path.display()
    ))
    .unwrap();
    pipeline.set_state(gst::State::Paused).unwrap();
    pipeline.state(gst::ClockTime::from_seconds(10)).0.unwrap();
    assert_eq!(
        pipeline.query_duration::<gst::ClockTime>(),
        Some(gst::ClockTime::from_mseconds(20_000))
    );
    let mut q = gst::query::Seeking::new(gst::Format::Time);
    assert!(pipeline.query(&mut q));
    assert!(q.result().0);
    assert!(pipeline.query_position::<gst::ClockTime>().is_some());
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn muxers_take_the_output_without_a_parser() {
    init();
    let frames = Frame::one_camera(12, 3);
    let (file, payloads) = write_psf(&frames, 176, 144);
    let psf = temp_file("avc.psf", &file);
    let mp4 = mux_mp4_without_parser(&format!("filesrc location={} ! pavsdemux", psf.display()));
    // qtdemux gives back every frame: length-prefixed, bit-exact NAL units.
    let run = demux_file("qtdemux", &mp4, "");
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let out = run.only();
    assert_eq!(out.len(), frames.len());
    for (o, payload) in out.iter().zip(&payloads) {
        assert_eq!(&avc_to_annexb(&o.data), payload);
    }
    // and they decode.
    let decoded = demux_file("qtdemux", &mp4, "h264parse ! avdec_h264");
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    assert_eq!(decoded.only().len(), frames.len());
}
