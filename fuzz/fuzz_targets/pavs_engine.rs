// SPDX-License-Identifier: MIT
//! The engine on PAVS input: pull, push in pieces, seeks (see
//! `cctv_fuzz::engine_roundtrip` for what is checked).
#![no_main]

use gstcctv::engine::formats::pavs::{Pavs, PavsOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cctv_fuzz::engine_roundtrip(|| Pavs::new(PavsOptions::default()), data);
});
