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

/// What driving the engine can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The input is not this format at all (bad file header, or no valid
    /// unit anywhere).
    NotThisFormat {
        format: &'static str,
        why: String,
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

impl From<SourceError> for EngineError {
    fn from(e: SourceError) -> Self {
        EngineError::Source(e)
    }
}
