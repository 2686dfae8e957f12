// SPDX-License-Identifier: MIT
//! The engine on SAYS input: pull, push in pieces, seeks (see
//! `cctv_fuzz::engine_roundtrip` for what is checked).
#![no_main]

use gstcctv::engine::formats::says::Says;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cctv_fuzz::engine_roundtrip(Says::new, data);
});
