// SPDX-License-Identifier: MIT
//! The engine's [`Format`](super::Format) implementations, one per
//! container (rf1's is a reader of its own: an archive of index and
//! packet files rather than one byte stream), on top of the pure parsers in `crate::formats`.

pub mod pavs;
pub mod rf1;
pub mod says;
