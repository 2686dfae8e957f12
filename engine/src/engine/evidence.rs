// SPDX-License-Identifier: MIT
//! Facts an evidence export states about each frame, computed the same way
//! from the source (engine packets) and from an output (what a stock
//! demuxer and parser give back), so that the two can be compared by
//! anyone:
//!
//! - [`SliceDigest`]: the SHA-256 of a frame's coded slice NAL units
//!   (H.264 types 1–5, H.265 types 0–31), without start codes or length
//!   prefixes, concatenated in order. Parameter sets, SEI and access unit
//!   delimiters are left out on purpose: an export may add parameter sets
//!   (PAVS has none) or time stamps (MISB ST 0604), never change a slice.
//! - [`precision_time_sei`]: the MISB ST 0604 precision time stamp that
//!   NIST IR 8161 asks for inside the video (an SEI
//!   `user_data_unregistered` message with the UUID `MISPmicrosectime`).

use crate::h264::{self, Codec};
use sha2::{Digest, Sha256};

/// Whether a NAL unit type is a coded slice (the picture itself).
pub fn is_slice_nal_type(codec: Codec, nal_type: u8) -> bool {
    match codec {
        Codec::H264 => (1..=5).contains(&nal_type),
        Codec::H265 => nal_type <= 31,
    }
}

/// Running SHA-256 over the slice NAL units of one frame.
#[derive(Clone, Default)]
pub struct SliceDigest {
    hasher: Sha256,
    slices: usize,
}

impl SliceDigest {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one NAL unit (no start code, no length prefix); other types
    /// than slices are ignored.
    pub fn nal(&mut self, codec: Codec, nal: &[u8]) {
        if codec
            .nal_type(nal)
            .is_some_and(|t| is_slice_nal_type(codec, t))
        {
            self.hasher.update(nal);
            self.slices += 1;
        }
    }

    /// Adds every NAL unit of Annex-B data.
    pub fn annexb(&mut self, codec: Codec, data: &[u8]) {
        for nal in h264::annexb_nal_units(data) {
            self.nal(codec, nal);
        }
    }

    /// Adds every NAL unit of length-prefixed data (`avc`/`hvc1`), with
    /// `prefix` bytes of big-endian length. `false` when a length runs past
    /// the end (the data is not what it claims to be).
    pub fn length_prefixed(&mut self, codec: Codec, mut data: &[u8], prefix: usize) -> bool {
        while !data.is_empty() {
            if data.len() < prefix || prefix == 0 || prefix > 4 {
                return false;
            }
            let len = data[..prefix]
                .iter()
                .fold(0usize, |n, &b| (n << 8) | usize::from(b));
            let Some(nal) = data.get(prefix..prefix + len) else {
                return false;
            };
            self.nal(codec, nal);
            data = &data[prefix + len..];
        }
        true
    }

    /// How many slice NAL units went in.
    pub fn slices(&self) -> usize {
        self.slices
    }

    /// The digest as 64 lower-case hex digits.
    pub fn hex(self) -> String {
        hex(&self.hasher.finalize())
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The UUID of the MISB ST 0604 precision time stamp SEI.
pub const MISP_MICROSECTIME: &[u8; 16] = b"MISPmicrosectime";

/// SEI payload type `user_data_unregistered`.
const USER_DATA_UNREGISTERED: u8 = 5;

/// The status byte written with each time stamp: a recorder's clock is not
/// locked to a time reference, so bit 7 (lock) is set to say so; bits 4–0
/// are reserved and written as ones.
pub const TIME_STATUS_UNLOCKED: u8 = 0x9f;

/// An Annex-B SEI NAL unit (start code included) carrying one MISB ST 0604
/// precision time stamp of `unix_us` microseconds since 1970 UTC:
/// H.264 SEI (type 6) or H.265 prefix SEI (type 39). Emulation prevention
/// is applied; the message ends with the RBSP trailing bits.
pub fn precision_time_sei(codec: Codec, unix_us: u64, status: u8) -> Vec<u8> {
    let t = unix_us.to_be_bytes();
    // status, then the time in pairs of bytes with 0xFF after the first
    // three pairs (keeps start-code emulation out of the payload).
    let stamp = [
        status, t[0], t[1], 0xff, t[2], t[3], 0xff, t[4], t[5], 0xff, t[6], t[7],
    ];
    let mut rbsp = Vec::with_capacity(2 + 16 + stamp.len() + 1);
    rbsp.push(USER_DATA_UNREGISTERED);
    rbsp.push((MISP_MICROSECTIME.len() + stamp.len()) as u8);
    rbsp.extend_from_slice(MISP_MICROSECTIME);
    rbsp.extend_from_slice(&stamp);
    rbsp.push(0x80);
    match codec {
        Codec::H264 => h264::annexb_nal(h264::nal::SEI, &rbsp),
        Codec::H265 => {
            // Two-byte header: type 39 (prefix SEI), layer 0, temporal id 1;
            // annexb_nal writes one header byte, the second goes first in
            // the body (it is never 0, so no emulation arises from it).
            let mut body = Vec::with_capacity(rbsp.len() + 1);
            body.push(0x01);
            body.extend_from_slice(&rbsp);
            h264::annexb_nal(39 << 1, &body)
        }
    }
}

/// Reads a MISB ST 0604 time stamp back from an SEI NAL unit (no start
/// code): `(status, unix_us)`. For tests and `verify`.
pub fn parse_precision_time_sei(codec: Codec, nal: &[u8]) -> Option<(u8, u64)> {
    let header = match codec {
        Codec::H264 if codec.nal_type(nal)? == h264::nal::SEI => 1,
        Codec::H265 if codec.nal_type(nal)? == 39 => 2,
        _ => return None,
    };
    // Remove emulation prevention bytes.
    let mut rbsp = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in &nal[header..] {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        rbsp.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    let (&kind, rest) = rbsp.split_first()?;
    let (&size, rest) = rest.split_first()?;
    if kind != USER_DATA_UNREGISTERED || usize::from(size) < 28 {
        return None;
    }
    let payload = rest.get(..usize::from(size))?;
    if &payload[..16] != MISP_MICROSECTIME {
        return None;
    }
    let s = &payload[16..28];
    if s[3] != 0xff || s[6] != 0xff || s[9] != 0xff {
        return None;
    }
    let t = [s[1], s[2], s[4], s[5], s[7], s[8], s[10], s[11]];
    Some((s[0], u64::from_be_bytes(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_digest_ignores_parameter_sets_and_framing() {
        let sps = [0x67, 0x42, 0x00, 0x1e];
        let pps = [0x68, 0xce, 0x3c, 0x80];
        let idr = [0x65, 0x88, 0x84, 0x00, 0x33];
        let mut annexb = Vec::new();
        for n in [&sps[..], &pps, &idr] {
            annexb.extend_from_slice(&[0, 0, 0, 1]);
            annexb.extend_from_slice(n);
        }
        let mut a = SliceDigest::new();
        a.annexb(Codec::H264, &annexb);
        assert_eq!(a.slices(), 1);
        let mut avc = Vec::new();
        avc.extend_from_slice(&(idr.len() as u32).to_be_bytes());
        avc.extend_from_slice(&idr);
        let mut b = SliceDigest::new();
        assert!(b.length_prefixed(Codec::H264, &avc, 4));
        let mut c = SliceDigest::new();
        c.nal(Codec::H264, &idr);
        let expected = hex(&Sha256::digest(idr));
        assert_eq!(a.hex(), expected);
        assert_eq!(b.hex(), expected);
        assert_eq!(c.hex(), expected);
        // A length past the end is reported.
        let mut d = SliceDigest::new();
        assert!(!d.length_prefixed(Codec::H264, &[0, 0, 0, 9, 0x65], 4));
    }

    #[test]
    fn precision_time_stamp_round_trips_with_emulation_prevention() {
        // A time with zero bytes that need emulation prevention in pairs.
        for us in [0u64, 1_630_479_601_454_448, 0x0000_0001_0000_0003, u64::MAX] {
            for codec in [Codec::H264, Codec::H265] {
                let sei = precision_time_sei(codec, us, TIME_STATUS_UNLOCKED);
                assert!(sei.starts_with(&h264::START_CODE));
                // No start code emulation inside the NAL.
                let body = &sei[4..];
                assert!(!body.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2));
                assert_eq!(
                    parse_precision_time_sei(codec, body),
                    Some((TIME_STATUS_UNLOCKED, us)),
                    "{codec:?} {us}"
                );
            }
        }
    }

    #[test]
    fn h264_sei_layout_is_the_misb_one() {
        let sei = precision_time_sei(Codec::H264, 0x0102_0304_0506_0708, 0x9f);
        let mut expected = vec![0, 0, 0, 1, 6, 5, 28];
        expected.extend_from_slice(b"MISPmicrosectime");
        expected.extend_from_slice(&[0x9f, 1, 2, 0xff, 3, 4, 0xff, 5, 6, 0xff, 7, 8, 0x80]);
        assert_eq!(sei, expected);
    }
}
