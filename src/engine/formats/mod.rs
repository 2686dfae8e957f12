// SPDX-License-Identifier: MIT
//! The engine's [`Format`](super::Format) implementations, one per
//! container, on top of the pure parsers in `crate::formats`.

pub mod pavs;
pub mod says;
