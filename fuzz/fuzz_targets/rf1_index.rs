// SPDX-License-Identifier: MIT
//! rf1: index parsing (closed and crash-recovered), track building against
//! the packet bytes, and access-unit assembly, all in memory
//! (`Index::parse`, `Track::from_index`, `probe_nal_types` on a cursor).
#![no_main]

use std::io::Cursor;

use cctv_fuzz::split_rf1;
use gstcctv::formats::rf1::{Index, Track};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (index_bytes, packets) = split_rf1(data);
    let Ok(index) = Index::parse(index_bytes) else {
        return;
    };
    let _ = index.entry_bytes();
    let mut track = Track::from_index("video", index, packets.len() as u64);
    let mut cursor = Cursor::new(packets);
    track
        .probe_nal_types(&mut cursor)
        .expect("in-memory reads never fail");
    let aus = track.access_units.len();
    let mut nalus = 0;
    for au in 0..aus {
        let unit = &track.access_units[au];
        // In order and never overlapping; a run of NAL units without a
        // picture (parameter sets of a frame never written) is no access
        // unit, so units may leave such runs between them.
        assert!(
            unit.first_nalu >= nalus,
            "access units must not overlap or go back"
        );
        nalus = unit.first_nalu + unit.nalu_count;
        assert!(nalus <= track.nalus.len());
        assert!(unit.byte_range.end <= track.packets_len);
        let bytes = track
            .read_access_unit(&mut cursor, au)
            .expect("AU in range");
        assert!(bytes.len() as u64 >= unit.byte_range.end - unit.byte_range.start);
        for n in track.parameter_sets_for(au) {
            assert!(n < track.nalus.len());
        }
        let _ = track.au_pieces(au);
        let _ = track.au_pts_ns(au);
        let _ = track.au_time_since(au, 0);
        let ticks = u64::from(unit.pts_ticks);
        if let Some(k) = track.key_unit_at_or_before(ticks) {
            assert!(k <= au && track.access_units[k].key);
        }
        assert!(track.first_au_at_or_after(ticks).is_some_and(|f| f <= au));
    }
    assert_eq!(nalus, track.nalus.len());
    let _ = track.duration_ns();
});
