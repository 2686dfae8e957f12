// SPDX-License-Identifier: MIT
//! Recognising the formats by content, for every front end (GStreamer
//! typefinders, a VLC probe): how sure the first bytes make us.

use crate::formats::{pavs, says};

/// How sure a probe is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Certainty {
    /// Valid structure, but only one piece of it.
    Likely,
    /// Structure that random data does not produce.
    Certain,
}

/// Bytes a PAVS probe wants to see: enough for a few blocks.
pub const PAVS_PROBE_WINDOW: usize = 64 * 1024;

/// A file that starts with a validating block header is certainly PAVS; one
/// whose first valid block comes after some damage is as certainly PAVS
/// when the next block follows it, else likely. `data` is the start of the
/// input (up to [`PAVS_PROBE_WINDOW`] bytes).
pub fn pavs(data: &[u8]) -> Option<Certainty> {
    if data.get(..pavs::PROBE_LEN).is_some_and(pavs::probe) {
        return Some(Certainty::Certain);
    }
    let mut at = 0;
    while let Some(m) = pavs::find_magic(data, at) {
        if let Some(Ok(header)) = data.get(m..).map(pavs::parse_header) {
            let next = m
                .checked_add(header.block_len)
                .and_then(|n| data.get(n..))
                .is_some_and(pavs::probe);
            return Some(if next {
                Certainty::Certain
            } else {
                Certainty::Likely
            });
        }
        at = m + 1;
    }
    None
}

/// `SAYS` magic, a printable file name and a header metadata length that
/// fits the 64 KiB header: certain; the magic alone is not enough.
pub fn says(data: &[u8]) -> Option<Certainty> {
    data.get(..says::PROBE_LEN)
        .is_some_and(says::probe)
        .then_some(Certainty::Certain)
}

/// Bytes an rf1 index probe wants: the magic and the codec.
pub const RF1_INDEX_PROBE_LEN: usize = 8;

/// An rf1 index file (`.rf1i`): magic `rf1v` and codec `h264`/`h265`
/// (the packet file has no header: it is an elementary stream).
pub fn rf1_index(data: &[u8]) -> Option<Certainty> {
    let head = data.get(..RF1_INDEX_PROBE_LEN)?;
    (&head[..4] == b"rf1v" && matches!(&head[4..], b"h264" | b"h265")).then_some(Certainty::Certain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_are_nothing() {
        let junk: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(pavs(&junk), None);
        assert_eq!(says(&junk), None);
        assert_eq!(pavs(b"PAVS"), None);
        assert_eq!(says(b"SAYS"), None);
        assert_eq!(rf1_index(&junk), None);
        assert_eq!(rf1_index(b"rf1vh264\0\0"), Some(Certainty::Certain));
        assert_eq!(rf1_index(b"rf1vvp80"), None);
    }
}
