// SPDX-License-Identifier: MIT
//! Machinery shared by the elements of this plugin.

pub mod demux;
pub mod inner;
pub mod present;
pub mod seek;
pub mod streams;
pub mod timezone;
pub mod uri;
