// SPDX-License-Identifier: MIT
//! The rf1 engine on one segment (input framed as `[u32 index length]
//! [index][packets]`, like `rf1src_files`): every packet, then seeks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (index, packets) = cctv_fuzz::split_rf1(data);
    cctv_fuzz::rf1_engine_bytes(index, packets);
});
