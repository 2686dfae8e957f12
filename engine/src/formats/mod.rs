// SPDX-License-Identifier: MIT
//! Pure-Rust parsers and writers for the container formats. Nothing in here
//! depends on GStreamer, so it can be unit-tested and fuzzed on its own.

pub mod pavs;
pub mod rf1;
pub mod says;
