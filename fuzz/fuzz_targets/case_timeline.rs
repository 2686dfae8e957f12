// SPDX-License-Identifier: MIT
//! The case catalog and a camera's timeline: two recordings (framed as
//! `[u32 length][first][second]`) in a folder, catalogued, the first camera
//! read across both files and sought, bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cctv_fuzz::case_bytes(data);
});
