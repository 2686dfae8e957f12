// SPDX-License-Identifier: MIT
//! The engine with a format made for the test: what the engine does
//! whatever the format.

use super::{Demuxer, Event};
use crate::engine::bytes::{Chunk, MemorySource, SharedBytes};
use crate::engine::format::{
    Format, Packet, PacketSink, Parsed, Stamp, StreamId, StreamInfo, StreamKind, Tags, UnitData,
};
use crate::engine::subtitle;

/// Every unit starts with this 20-byte marker: longer than the margin the
/// engine once used for every format (15 bytes).
const MARKER: &[u8; 20] = b"<unit-marker-twenty>";
const UNIT_LEN: usize = 32;
const MS: u64 = 1_000_000;

/// Units of 32 bytes: the marker, a sequence number, padding. One stream
/// (of text: the sequence numbers), every unit a key unit 40 ms after the
/// one before.
struct Marked;

impl Format for Marked {
    type Unit = u32;
    type Timeline = ();

    fn name(&self) -> &'static str {
        "marked"
    }
    fn max_unit_len(&self) -> usize {
        UNIT_LEN
    }
    fn parse_unit(&self, data: &[u8], _at_eof: bool) -> Parsed<u32> {
        if data.len() < UNIT_LEN {
            return Parsed::NeedMore(UNIT_LEN);
        }
        if !data.starts_with(MARKER) {
            return Parsed::Invalid;
        }
        let seq = u32::from_le_bytes(data[20..24].try_into().unwrap());
        Parsed::Unit(seq, UNIT_LEN)
    }
    fn find_resync(&self, data: &[u8]) -> Option<usize> {
        (1..data.len()).find(|&i| data[i..].starts_with(MARKER))
    }
    fn resync_margin(&self) -> usize {
        MARKER.len()
    }
    fn is_seek_point(&self, _: &u32) -> bool {
        true
    }
    fn stream_of(&self, _: &u32) -> Option<StreamId> {
        Some(StreamId::new(StreamKind::Subtitle, 0))
    }
    fn stream_info(&self, id: StreamId) -> Option<StreamInfo> {
        Some(subtitle::stream_info(
            id,
            "subtitle_0".into(),
            "sequence numbers".into(),
            Tags::default(),
        ))
    }
    fn start_timeline(&mut self, _: &[&u32]) {}
    fn timeline(&self) {}
    fn set_timeline(&mut self, _: ()) {}
    fn assign_time(&mut self, seq: &u32) -> Option<Stamp> {
        Some(Stamp::at(u64::from(*seq) * 40 * MS))
    }
    fn predict(&self, _: &(), seq: &u32) -> Option<(u64, ())> {
        Some((u64::from(*seq) * 40 * MS, ()))
    }
    fn packets<C: Chunk>(
        &mut self,
        _seq: u32,
        pts: Option<u64>,
        data: &UnitData<C>,
        discont: bool,
        out: &mut PacketSink<'_, C>,
    ) {
        out.push(Packet {
            stream: StreamId::new(StreamKind::Subtitle, 0),
            pts,
            dts: pts,
            duration: None,
            key: true,
            discont,
            wallclock_ns: None,
            parts: data.part(20..24).into_iter().collect(),
            origin: None,
            telemetry: None,
        });
    }
}

fn unit(out: &mut Vec<u8>, seq: u32) {
    out.extend_from_slice(MARKER);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&[0; UNIT_LEN - 24]);
}

/// The sequence numbers of every packet, and the damage report.
fn read_all(bytes: Vec<u8>) -> (Vec<u32>, crate::engine::Damage) {
    let size = bytes.len() as u64;
    let mut demux: Demuxer<Marked, SharedBytes> = Demuxer::new_pull(Marked, Some(size));
    let mut src = MemorySource::new(bytes);
    let mut seqs = Vec::new();
    loop {
        match demux.next(&mut src).unwrap() {
            Event::Packet(p) => {
                seqs.push(u32::from_le_bytes(p.to_vec().try_into().unwrap()));
            }
            Event::Eos => return (seqs, demux.report().damage),
            _ => {}
        }
    }
}

#[test]
fn the_resync_margin_comes_from_the_format() {
    // Pull input reads 256 KiB at a time: the resync scan's first window
    // ends there. A unit starting 17 bytes before that end has only part
    // of its marker in the window; a scan whose next window overlapped by
    // 15 bytes (the engine's old fixed margin) started after it and lost
    // the unit. The format's margin (its marker's 20 bytes) keeps it.
    let window_end = crate::engine::bytes::READ_CHUNK;
    let mut bytes = Vec::new();
    for seq in 0..100 {
        unit(&mut bytes, seq);
    }
    let damage_at = bytes.len();
    bytes.resize(window_end - 17, 0xA5);
    for seq in 100..200 {
        unit(&mut bytes, seq);
    }
    let (seqs, damage) = read_all(bytes);
    assert_eq!(seqs, (0..200).collect::<Vec<_>>());
    assert_eq!(damage.regions, 1);
    assert_eq!(damage.bytes, (window_end - 17 - damage_at) as u64);
}
