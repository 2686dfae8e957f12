// SPDX-License-Identifier: MIT
//! The GStreamer-free demux engine that every front end drives (the
//! GStreamer elements, the fuzzers, tools).
//!
//! - [`bytes`]: what is read ([`Chunk`]), random access ([`ByteSource`]) and
//!   the one reader that serves pull and push input alike;
//! - [`format`]: what a container format supplies ([`Format`]) and what the
//!   engine yields (stream descriptions, [`Packet`]s of payload ranges);
//! - [`source`]: the one contract every front end drives ([`Source`]);
//! - [`demuxer`]: the parse loop, resync, discovery and seeking;
//! - [`index`]: the compact seek index; [`damage`]: the damage account;
//! - [`timeline`]: the running-time policy for capture times;
//! - [`evidence`]: per-frame slice digests and in-video time stamps;
//! - [`subtitle`]: on-screen cues (capture time, speed, position);
//! - [`telemetry`]: what a recorder logged with a frame (speed, GPS…);
//! - [`zone`]: the time zone a user asks capture times to be shown in;
//! - [`formats`]: the format implementations;
//! - [`rf1`]: Cyclops rf1 archives (indexed files, read by the engine).

pub mod bytes;
pub mod camera_timeline;
pub mod catalog;
pub mod damage;
pub mod demuxer;
pub mod error;
pub mod evidence;
pub mod format;
pub mod formats;
pub mod index;
pub mod probe;
pub mod source;
pub mod subtitle;
pub mod telemetry;
pub mod timeline;
pub mod zone;

pub use bytes::{ByteSource, Chunk, FileSource, MemorySource, NoSource, SharedBytes};
pub use damage::Damage;
pub use demuxer::{Demuxer, Event, Report, SeekOutcome};
pub use error::{EngineError, HeaderError, Mismatch, SourceError};
pub use format::{
    Codec, Format, Origin, Packet, PacketSink, Parsed, Part, Stamp, StreamId, StreamInfo,
    StreamKind, Tags,
};
pub use source::{ByteDemux, DamageReport, Source, SourceEvent};
