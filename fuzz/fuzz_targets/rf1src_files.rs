// SPDX-License-Identifier: MIT
//! rf1src's parse path: the input (framed as `[u32 index length][index]
//! [packets]`) becomes one segment on disk, played to fakesinks, bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (index, packets) = cctv_fuzz::split_rf1(data);
    cctv_fuzz::rf1src_bytes(index, packets);
});
