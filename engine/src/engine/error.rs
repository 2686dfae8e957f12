// SPDX-License-Identifier: MIT
//! Typed errors of the engine's layers. Front ends map them at their edge
//! (GStreamer: flow returns and error domains; the CLI: exit codes).

use std::fmt;

/// What reading the input can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// Reading was interrupted on purpose (a flush or seek).
    Flushing,
    /// Nothing at that offset: the input ends before it.
    Eos,
    /// The input failed; the text says why.
    Io(String),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Flushing => f.write_str("reading was interrupted"),
            SourceError::Eos => f.write_str("end of input"),
            SourceError::Io(why) => write!(f, "read error: {why}"),
        }
    }
}

/// What is wrong with a file header (what
/// [`crate::engine::Format::parse_file_header`] returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// No magic, or fields no recorder writes; `magic` is the format's.
    Implausible { magic: &'static str },
    /// The header's metadata claims more bytes than the header has.
    MetadataTooLong { magic: &'static str, len: u32 },
    /// The header needs more bytes than the input has.
    Truncated { magic: &'static str, needed: usize },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Implausible { magic } => {
                write!(f, "no {magic} magic or implausible header")
            }
            HeaderError::MetadataTooLong { magic, len } => {
                write!(f, "{magic} header metadata length {len} too large")
            }
            HeaderError::Truncated { magic, needed } => {
                write!(f, "{magic} header truncated ({needed} bytes needed)")
            }
        }
    }
}

/// Why an input is not of a format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The input ends inside the format's fixed file header.
    ShortHeader { len: usize },
    /// The file header is not the format's.
    Header(HeaderError),
    /// No valid unit anywhere. `after_header`: the format's file header
    /// was there (the rest is damage); otherwise nothing was recognised.
    NoValidUnit { after_header: bool },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::ShortHeader { len } => {
                write!(f, "the input is shorter than the {len}-byte header")
            }
            Mismatch::Header(e) => e.fmt(f),
            Mismatch::NoValidUnit { .. } => f.write_str("no valid unit found"),
        }
    }
}

/// What driving the engine can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The input is not this format at all (bad file header, or no valid
    /// unit anywhere).
    NotThisFormat {
        format: &'static str,
        why: Mismatch,
    },
    Source(SourceError),
    /// The operation needs random access (pull mode).
    NotSeekable,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::NotThisFormat { format, why } => write!(f, "Not a {format} file: {why}"),
            EngineError::Source(e) => e.fmt(f),
            EngineError::NotSeekable => f.write_str("the input is not seekable"),
        }
    }
}

impl std::error::Error for EngineError {}
impl std::error::Error for SourceError {}
impl std::error::Error for HeaderError {}
impl std::error::Error for Mismatch {}

impl From<SourceError> for EngineError {
    fn from(e: SourceError) -> Self {
        EngineError::Source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_front_ends_always_said() {
        let not = |why| EngineError::NotThisFormat {
            format: "Rosco SAYS (.nvr)",
            why,
        };
        let cases = [
            (
                not(Mismatch::ShortHeader { len: 65536 }),
                "Not a Rosco SAYS (.nvr) file: the input is shorter than the 65536-byte header",
            ),
            (
                not(Mismatch::Header(HeaderError::Implausible { magic: "SAYS" })),
                "Not a Rosco SAYS (.nvr) file: no SAYS magic or implausible header",
            ),
            (
                not(Mismatch::Header(HeaderError::MetadataTooLong {
                    magic: "SAYS",
                    len: 70000,
                })),
                "Not a Rosco SAYS (.nvr) file: SAYS header metadata length 70000 too large",
            ),
            (
                not(Mismatch::Header(HeaderError::Truncated {
                    magic: "SAYS",
                    needed: 168,
                })),
                "Not a Rosco SAYS (.nvr) file: SAYS header truncated (168 bytes needed)",
            ),
            (
                not(Mismatch::NoValidUnit { after_header: true }),
                "Not a Rosco SAYS (.nvr) file: no valid unit found",
            ),
            (
                EngineError::Source(SourceError::Io("disk gone".into())),
                "read error: disk gone",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }
}
