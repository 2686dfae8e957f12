// SPDX-License-Identifier: MIT
//! One contract for everything that yields packets: a byte-stream format
//! read by pull or push ([`ByteDemux`] over a [`Demuxer`]) and an rf1
//! archive ([`Rf1Engine`](super::formats::rf1::Rf1Engine)). Every front end
//! (the GStreamer adapter, the VLC ABI, the CLI) drives a `dyn Source`
//! through one code path, with no arm per format.

use super::bytes::{ByteSource, Chunk, NoSource};
use super::damage::Damage;
use super::demuxer::{Demuxer, Event, SeekOutcome};
use super::error::EngineError;
use super::format::{Format, Packet, StreamId, StreamInfo, Tags};

/// What a source has for its front end.
// Packets are the common case and move once (see `demuxer::Event`).
#[allow(clippy::large_enum_variant)]
pub enum SourceEvent<C> {
    /// Discovery is over: these streams exist. Comes once, before any
    /// packet.
    StreamsFound(Vec<StreamInfo>),
    /// A stream first seen after discovery.
    NewStream(StreamInfo),
    /// Tags of the whole input: once, right after `StreamsFound`.
    Tags(Tags),
    Packet(Packet<C>),
    /// The stream has nothing left while others go on (its last packet
    /// came before): players end it now rather than with the last stream.
    StreamEnd(StreamId),
    /// Push input: more bytes (or the end of input) are needed.
    NeedData,
    /// No more packets: the end of input, or the stop position. Repeated
    /// on later calls.
    End,
}

/// The one past-end rule of every source: a seek to `target_ns` at or
/// after the duration (the end of the last frame) has nothing to play;
/// output ends at once. An unknown duration is never passed.
pub fn is_past_end(target_ns: u64, duration_ns: Option<u64>) -> bool {
    duration_ns.is_some_and(|d| target_ns >= d)
}

/// The damage found while reading, in one form for every source. Reported
/// once (see [`Source::take_report`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DamageReport {
    /// The container, for messages ("PAVS", "Cyclops rf1").
    pub format: &'static str,
    /// Intact units (blocks, chunks, access units) read so far.
    pub units: u64,
    /// Places where reading had to skip something.
    pub regions: u64,
    /// Bytes skipped over (byte streams; 0 for indexed archives).
    pub bytes: u64,
    /// One short line per problem (summaries).
    pub problems: Vec<String>,
    /// Every problem on its own line where `problems` summarise (rf1: each
    /// bad index entry); empty when `problems` say it all.
    pub details: Vec<String>,
    /// The format's closing debug line.
    pub summary: Option<String>,
}

impl DamageReport {
    pub fn any(&self) -> bool {
        !self.problems.is_empty()
    }

    /// One line: the problems, joined.
    pub fn describe(&self) -> String {
        self.problems.join("; ")
    }

    /// Every problem, one per line.
    pub fn describe_all(&self) -> String {
        if self.details.is_empty() {
            self.problems.join("\n")
        } else {
            self.details.join("\n")
        }
    }
}

/// Everything that yields packets.
pub trait Source {
    type Chunk: Chunk;

    /// The next event. Errors: the input is not this format, or reading
    /// failed.
    fn next(&mut self) -> Result<SourceEvent<Self::Chunk>, EngineError>;

    /// Whether [`Source::seek`] and [`Source::duration`] work (random
    /// access).
    fn can_seek(&self) -> bool;

    /// Restarts at `target_ns` of running time, each stream at its own key
    /// unit at or before it, playing up to `stop_ns` (exclusive). At or
    /// past the end ([`is_past_end`]) nothing follows.
    fn seek(&mut self, target_ns: u64, stop_ns: Option<u64>) -> Result<SeekOutcome, EngineError>;

    /// The duration (ns): exact, or predicted; may read (pull input).
    fn duration(&mut self) -> Option<u64>;

    /// The duration once it is exact (known up front for indexed inputs).
    fn exact_duration(&self) -> Option<u64>;

    fn global_tags(&self) -> Option<Tags>;

    /// The damage not reported yet (a seek and a replay report only what
    /// is new).
    fn take_report(&mut self) -> DamageReport;

    /// Streams the front end does not want (e.g. an unlinked subtitle pad).
    fn set_discarded(&mut self, _streams: &[StreamId]) {}

    /// Where each stream continues: the running time of its next packet
    /// (`None`: nothing left). Empty where the source cannot tell cheaply.
    fn next_times(&self) -> Vec<(StreamId, Option<u64>)> {
        Vec::new()
    }

    /// The running time of each stream's last packet since the start or
    /// the last seek. Empty where the source does not track it.
    fn last_times(&self) -> Vec<(StreamId, Option<u64>)> {
        Vec::new()
    }

    // ---- push input (no-ops for sources that read by themselves) --------

    /// Whether the source is fed with [`Source::push_data`].
    fn is_push(&self) -> bool {
        false
    }
    fn push_data(&mut self, _chunk: Self::Chunk) {}
    fn push_eos(&mut self) {}
    /// After a discontinuity in the pushed input.
    fn push_flush(&mut self) {}
}

/// A byte-stream [`Format`] as a [`Source`]: pull input when it has a
/// [`ByteSource`], else push input.
pub struct ByteDemux<F: Format, S: ByteSource> {
    demux: Demuxer<F, S::Chunk>,
    src: Option<S>,
    /// `Tags` follow `StreamsFound`.
    tags_due: bool,
    /// The damage handed out last.
    reported: Option<Damage>,
}

impl<F: Format, S: ByteSource> ByteDemux<F, S> {
    /// Reads `src` with random access.
    pub fn pull(format: F, src: S) -> Self {
        let size = src.size();
        Self::with(Demuxer::new_pull(format, size), Some(src))
    }

    /// Fed with [`Source::push_data`].
    pub fn push(format: F) -> Self {
        Self::with(Demuxer::new_push(format), None)
    }

    fn with(demux: Demuxer<F, S::Chunk>, src: Option<S>) -> Self {
        Self {
            demux,
            src,
            tags_due: false,
            reported: None,
        }
    }

    pub fn demuxer(&mut self) -> &mut Demuxer<F, S::Chunk> {
        &mut self.demux
    }
}

impl<F: Format, S: ByteSource> Source for ByteDemux<F, S> {
    type Chunk = S::Chunk;

    fn next(&mut self) -> Result<SourceEvent<S::Chunk>, EngineError> {
        if std::mem::take(&mut self.tags_due)
            && let Some(tags) = self.demux.global_tags()
        {
            return Ok(SourceEvent::Tags(tags));
        }
        let event = match self.src.as_mut() {
            Some(src) => self.demux.next(src)?,
            None => self.demux.next(&mut NoSource::<S::Chunk>::default())?,
        };
        Ok(match event {
            Event::StreamsFound(infos) => {
                self.tags_due = true;
                SourceEvent::StreamsFound(infos)
            }
            Event::NewStream(info) => SourceEvent::NewStream(info),
            Event::Packet(p) => SourceEvent::Packet(p),
            Event::NeedData => SourceEvent::NeedData,
            Event::Eos => SourceEvent::End,
        })
    }

    fn can_seek(&self) -> bool {
        self.src.is_some()
    }

    fn seek(&mut self, target_ns: u64, stop_ns: Option<u64>) -> Result<SeekOutcome, EngineError> {
        let src = self.src.as_mut().ok_or(EngineError::NotSeekable)?;
        self.demux.seek(src, target_ns, stop_ns)
    }

    fn duration(&mut self) -> Option<u64> {
        self.demux.duration(self.src.as_mut()?)
    }

    fn exact_duration(&self) -> Option<u64> {
        self.demux.exact_duration()
    }

    fn global_tags(&self) -> Option<Tags> {
        self.demux.global_tags()
    }

    fn take_report(&mut self) -> DamageReport {
        let report = self.demux.report();
        let new = report.damage.any() && self.reported != Some(report.damage);
        if new {
            self.reported = Some(report.damage);
        }
        DamageReport {
            format: report.format,
            units: report.units,
            regions: report.damage.regions,
            bytes: report.damage.bytes,
            problems: if new {
                vec![report.damage.describe()]
            } else {
                Vec::new()
            },
            details: Vec::new(),
            summary: report.summary,
        }
    }

    fn set_discarded(&mut self, streams: &[StreamId]) {
        self.demux.set_discarded(streams);
    }

    fn is_push(&self) -> bool {
        self.src.is_none()
    }

    fn push_data(&mut self, chunk: S::Chunk) {
        self.demux.push_data(chunk);
    }

    fn push_eos(&mut self) {
        self.demux.push_eos();
    }

    fn push_flush(&mut self) {
        self.demux.push_flush();
    }
}
