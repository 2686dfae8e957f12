// SPDX-License-Identifier: MIT
//! Every packet read from a recording says where its payload lies
//! (`Packet::origin`): the evidence trail of a frame. Checked against the
//! samples' own ground truth and against the bytes on disk.

mod support;

use gstcctv::engine::formats::pavs::{Pavs, PavsOptions};
use gstcctv::engine::formats::rf1::Rf1Engine;
use gstcctv::engine::formats::says::Says;
use gstcctv::engine::{
    Demuxer, Event, Format, MemorySource, Packet, Part, SharedBytes, StreamKind,
};
use std::os::unix::fs::FileExt;
use support::shared_samples;

fn packets<F: Format>(format: F, bytes: Vec<u8>) -> Vec<Packet<SharedBytes>> {
    let size = bytes.len() as u64;
    let mut src = MemorySource::new(bytes);
    let mut demux = Demuxer::new_pull(format, Some(size));
    let mut out = Vec::new();
    loop {
        match demux.next(&mut src).expect("demux") {
            Event::Packet(p) => out.push(p),
            Event::Eos => return out,
            _ => {}
        }
    }
}

/// The bytes a packet read from its input, in order.
fn read_bytes(p: &Packet<SharedBytes>) -> Vec<u8> {
    p.parts
        .iter()
        .filter(|part| matches!(part, Part::Read { .. }))
        .flat_map(|part| part.bytes().to_vec())
        .collect()
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn pavs_origins_are_the_payloads_of_expected_json() {
    let dir = shared_samples("pavs");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    for name in ["video1", "video2", "video3"] {
        let bytes = std::fs::read(dir.join(format!("{name}.psf"))).unwrap();
        let got: Vec<(u64, u64)> = packets(
            Pavs::new(PavsOptions {
                subtitles: false,
                ..PavsOptions::default()
            }),
            bytes.clone(),
        )
        .iter()
        .filter(|p| p.stream.kind == StreamKind::Video)
        .map(|p| {
            let o = p.origin.as_ref().expect("video packets have an origin");
            assert!(o.file.is_none());
            let at = o.offset as usize..(o.offset + o.len) as usize;
            assert_eq!(bytes[at], read_bytes(p)[..], "{name}: origin bytes");
            (o.offset, o.len)
        })
        .collect();
        let want: Vec<(u64, u64)> = expected[name]["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["payload_offset"].as_u64().unwrap(),
                    b["payload_len"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn says_origins_hold_the_chunk_media() {
    let dir = shared_samples("says");
    for name in ["basic", "two_cameras", "with_jpeg", "garbage"] {
        let bytes = std::fs::read(dir.join(format!("{name}.nvr"))).unwrap();
        let all = packets(Says::new(), bytes.clone());
        let media: Vec<_> = all
            .iter()
            .filter(|p| {
                matches!(
                    p.stream.kind,
                    StreamKind::Video | StreamKind::Audio | StreamKind::Image
                )
            })
            .collect();
        assert!(!media.is_empty());
        for p in media {
            let o = p
                .origin
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: {:?} has no origin", p.stream));
            let at = o.offset as usize..(o.offset + o.len) as usize;
            assert_eq!(bytes[at], read_bytes(p)[..], "{name}");
        }
        // Cues and telemetry JSON are made up: no origin.
        for p in all
            .iter()
            .filter(|p| matches!(p.stream.kind, StreamKind::Subtitle | StreamKind::Data))
        {
            assert!(p.origin.is_none());
        }
    }
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn rf1_origins_name_the_packet_file() {
    let dir = shared_samples("rf1/h264_basic");
    let mut engine: Rf1Engine<SharedBytes> = Rf1Engine::open(&dir, &[]).unwrap();
    let _ = engine.streams();
    let mut n = 0;
    while let Some(p) = engine.next_packet().unwrap() {
        let o = p.origin.clone().expect("an origin");
        let file = o.file.expect("a packet file");
        assert!(file.to_string_lossy().ends_with("1712815946731_video.rf1p"));
        let mut at = vec![0; o.len as usize];
        std::fs::File::open(&*file)
            .unwrap()
            .read_exact_at(&mut at, o.offset)
            .unwrap();
        // Stored NAL units are contiguous here: the read bytes are the
        // origin's bytes.
        assert_eq!(at, read_bytes(&p));
        n += 1;
    }
    assert_eq!(n, 300);
}
