// SPDX-License-Identifier: MIT
//! Machinery shared by the elements of this plugin.

pub mod h264;
