// SPDX-License-Identifier: MIT
//! The element's push-mode parse path: appsrc ! saysdemux, every pad to a
//! fakesink, bounded in time (a hang fails).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cctv_fuzz::demux_push("saysdemux", data);
});
