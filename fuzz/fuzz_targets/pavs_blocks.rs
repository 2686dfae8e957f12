// SPDX-License-Identifier: MIT
//! PAVS blocks: parse at every offset, and walk the buffer the way the
//! demuxer does (parse, skip a block, resync on the magic).
#![no_main]

use gstcctv::formats::pavs::{
    BlockParse, HEADER_LEN, MAX_BLOCK_LEN, PROBE_LEN, find_magic, parse_block, probe,
};
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8], parse: &BlockParse) {
    match parse {
        BlockParse::Block(h) => {
            assert!(h.block_len <= MAX_BLOCK_LEN && h.block_len <= data.len());
            assert!(HEADER_LEN + h.payload_len <= h.block_len);
            assert_eq!(h.block_len % 512, 0);
            let _ = &data[h.payload_range()];
            let _ = h.capture_time_ns();
        }
        BlockParse::NeedMore(n) => {
            assert!(*n > data.len(), "NeedMore({n}) with {} bytes", data.len());
            assert!(*n <= MAX_BLOCK_LEN && *n >= PROBE_LEN.min(*n));
        }
        BlockParse::Invalid(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = probe(data);
    // Every offset (bounded, so big inputs stay fast).
    for at in 0..data.len().min(4096) {
        check(&data[at..], &parse_block(&data[at..]));
    }
    // The demuxer's walk.
    let mut at = 0;
    let mut steps = 0;
    while at < data.len() {
        steps += 1;
        assert!(steps <= data.len() + 1, "walk does not advance");
        let parse = parse_block(&data[at..]);
        check(&data[at..], &parse);
        let next = match parse {
            BlockParse::Block(h) => at + h.block_len,
            BlockParse::NeedMore(_) => break,
            BlockParse::Invalid(_) => match find_magic(data, at + 1) {
                Some(m) => {
                    assert!(m > at && &data[m..m + 4] == b"PAVS");
                    m
                }
                None => break,
            },
        };
        assert!(next > at);
        at = next;
    }
});
