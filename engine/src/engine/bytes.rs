// SPDX-License-Identifier: MIT
//! Byte access for the engine: what a front end reads ([`Chunk`]), how the
//! engine asks for it in pull mode ([`ByteSource`]), and one reader that
//! serves the parse loop the same way whether bytes are pulled at offsets or
//! pushed in as a stream.

use super::error::{EngineError, SourceError};
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

/// Contiguous bytes that a front end read, shared cheaply. Packets refer to
/// ranges of chunks, so a front end can hand payloads on without copying
/// (GStreamer: sub-buffers of the buffer that was read).
pub trait Chunk: Clone + Send + 'static {
    fn bytes(&self) -> &[u8];
    /// A chunk owning `bytes` (used where push input must be joined).
    fn from_vec(bytes: Vec<u8>) -> Self;
}

/// A plain shared byte vector: the chunk of front ends without a buffer
/// type of their own (the fuzzers, tests, the C ABI).
#[derive(Clone, Debug, Default)]
pub struct SharedBytes(pub Arc<Vec<u8>>);

impl Chunk for SharedBytes {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
    fn from_vec(bytes: Vec<u8>) -> Self {
        Self(Arc::new(bytes))
    }
}

/// Random access to the input, for pull mode.
pub trait ByteSource {
    type Chunk: Chunk;
    /// Total size, when known.
    fn size(&self) -> Option<u64>;
    /// Up to `len` bytes at `offset`: fewer only at the end of the input
    /// (none past it).
    fn read_at(&mut self, offset: u64, len: usize) -> Result<Self::Chunk, SourceError>;
}

/// A [`ByteSource`] over bytes held in memory.
pub struct MemorySource {
    data: SharedBytes,
}

impl MemorySource {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            data: SharedBytes::from_vec(bytes),
        }
    }
}

impl ByteSource for MemorySource {
    type Chunk = SharedBytes;
    fn size(&self) -> Option<u64> {
        Some(self.data.0.len() as u64)
    }
    fn read_at(&mut self, offset: u64, len: usize) -> Result<SharedBytes, SourceError> {
        // Whole-input chunk: slicing is the caller's business (zero-copy).
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.data.0.len());
        let end = start.saturating_add(len).min(self.data.0.len());
        if start == 0 && end == self.data.0.len() {
            return Ok(self.data.clone());
        }
        Ok(SharedBytes::from_vec(self.data.0[start..end].to_vec()))
    }
}

/// Random access to a file (pull mode), for front ends without a reader of
/// their own (the CLI, the catalog). Opened read-only.
pub struct FileSource {
    file: std::fs::File,
    size: u64,
}

impl FileSource {
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        Ok(Self { file, size })
    }
}

impl ByteSource for FileSource {
    type Chunk = SharedBytes;
    fn size(&self) -> Option<u64> {
        Some(self.size)
    }
    fn read_at(&mut self, offset: u64, len: usize) -> Result<SharedBytes, SourceError> {
        use std::os::unix::fs::FileExt;
        if offset >= self.size {
            return Err(SourceError::Eos);
        }
        let len = len.min(usize::try_from(self.size - offset).unwrap_or(usize::MAX));
        let mut buf = vec![0; len];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| SourceError::Io(e.to_string()))?;
        Ok(SharedBytes::from_vec(buf))
    }
}

/// The source used with push input, where nothing can be read at will.
pub struct NoSource<C>(std::marker::PhantomData<C>);

impl<C> Default for NoSource<C> {
    fn default() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<C: Chunk> ByteSource for NoSource<C> {
    type Chunk = C;
    fn size(&self) -> Option<u64> {
        None
    }
    fn read_at(&mut self, _: u64, _: usize) -> Result<C, SourceError> {
        Err(SourceError::Io("no random access in push mode".into()))
    }
}

/// Bytes at some offset: `chunk.bytes()[range]`. Shorter than asked only
/// when `eof` (the input ends there).
pub struct View<C> {
    pub chunk: C,
    pub range: Range<usize>,
    pub eof: bool,
}

impl<C: Chunk> View<C> {
    pub fn data(&self) -> &[u8] {
        &self.chunk.bytes()[self.range.clone()]
    }
}

/// Bytes read per pull: large enough to amortise the call, small enough to
/// keep memory flat.
pub const READ_CHUNK: usize = 256 * 1024;

/// Where the parse loop's bytes come from.
pub(crate) enum Input<C> {
    Pull {
        size: Option<u64>,
        /// The last chunk read and its offset.
        window: Option<(u64, C)>,
    },
    Push {
        /// Chunks in stream order; the first starts at `front`.
        queue: VecDeque<C>,
        front: u64,
        queued: usize,
        eos: bool,
    },
}

impl<C: Chunk> Input<C> {
    pub fn pull(size: Option<u64>) -> Self {
        Input::Pull { size, window: None }
    }

    pub fn push() -> Self {
        Input::Push {
            queue: VecDeque::new(),
            front: 0,
            queued: 0,
            eos: false,
        }
    }

    pub fn is_pull(&self) -> bool {
        matches!(self, Input::Pull { .. })
    }

    pub fn size(&self) -> Option<u64> {
        match self {
            Input::Pull { size, .. } => *size,
            Input::Push { .. } => None,
        }
    }

    /// Push input: appends bytes.
    pub fn push_chunk(&mut self, chunk: C) {
        if let Input::Push { queue, queued, .. } = self
            && !chunk.bytes().is_empty()
        {
            *queued += chunk.bytes().len();
            queue.push_back(chunk);
        }
    }

    pub fn set_eos(&mut self) {
        if let Input::Push { eos, .. } = self {
            *eos = true;
        }
    }

    /// Push input: forgets everything (after a flush) and restarts the
    /// stream at `offset`.
    pub fn reset_push(&mut self, offset: u64) {
        if let Input::Push {
            queue,
            front,
            queued,
            eos,
        } = self
        {
            queue.clear();
            *front = offset;
            *queued = 0;
            *eos = false;
        }
    }

    /// Push input: the bytes before `offset` are no longer needed.
    pub fn release_before(&mut self, offset: u64) {
        if let Input::Push {
            queue,
            front,
            queued,
            ..
        } = self
        {
            while let Some(first) = queue.front() {
                let len = first.bytes().len();
                if *front + len as u64 > offset {
                    break;
                }
                *front += len as u64;
                *queued -= len;
                queue.pop_front();
            }
        }
    }

    /// At least `len` bytes at `offset` (fewer only at the end of input).
    /// `Ok(None)`: push input that has not received enough yet.
    pub fn view<S: ByteSource<Chunk = C>>(
        &mut self,
        src: &mut S,
        offset: u64,
        len: usize,
    ) -> Result<Option<View<C>>, EngineError> {
        match self {
            Input::Pull { size, window } => {
                Self::pull_view(src, *size, window, offset, len).map(Some)
            }
            Input::Push {
                queue,
                front,
                queued,
                eos,
            } => Ok(Self::push_view(queue, *front, *queued, *eos, offset, len)),
        }
    }

    fn pull_view<S: ByteSource<Chunk = C>>(
        src: &mut S,
        size: Option<u64>,
        window: &mut Option<(u64, C)>,
        offset: u64,
        len: usize,
    ) -> Result<View<C>, EngineError> {
        if let Some((at, chunk)) = window.as_ref()
            && offset >= *at
        {
            let start = usize::try_from(offset - at).unwrap_or(usize::MAX);
            let have = chunk.bytes().len();
            let at_end = size.is_some_and(|s| at + have as u64 >= s);
            if start <= have && (have - start >= len || at_end) {
                return Ok(View {
                    chunk: chunk.clone(),
                    range: start..have,
                    eof: at_end,
                });
            }
        }
        let mut want = len.max(READ_CHUNK);
        if let Some(size) = size {
            if offset >= size {
                *window = None;
                return Ok(View {
                    chunk: C::from_vec(Vec::new()),
                    range: 0..0,
                    eof: true,
                });
            }
            want = want.min(usize::try_from(size - offset).unwrap_or(usize::MAX));
        }
        // Drop the old window first: its memory may be reused by the source.
        *window = None;
        let chunk = match src.read_at(offset, want) {
            Ok(c) => c,
            Err(SourceError::Eos) => C::from_vec(Vec::new()),
            Err(e) => return Err(EngineError::Source(e)),
        };
        let have = chunk.bytes().len();
        let eof = have < want || size.is_some_and(|s| offset + have as u64 >= s);
        *window = Some((offset, chunk.clone()));
        Ok(View {
            chunk,
            range: 0..have,
            eof,
        })
    }

    fn push_view(
        queue: &mut VecDeque<C>,
        front: u64,
        queued: usize,
        eos: bool,
        offset: u64,
        len: usize,
    ) -> Option<View<C>> {
        if queue.is_empty() {
            return eos.then(|| View {
                chunk: C::from_vec(Vec::new()),
                range: 0..0,
                eof: true,
            });
        }
        let skip = usize::try_from(offset.checked_sub(front)?).ok()?;
        let avail = queued.saturating_sub(skip);
        if avail < len && !eos {
            return None;
        }
        let want = len.min(avail);
        let end = skip + want;
        // Join the leading chunks until one covers the range.
        let first_len = queue.front().map_or(0, |c| c.bytes().len());
        if end > first_len {
            let mut joined = Vec::with_capacity(end);
            while joined.len() < end {
                let Some(c) = queue.pop_front() else { break };
                joined.extend_from_slice(c.bytes());
            }
            queue.push_front(C::from_vec(joined));
        }
        let first = queue.front()?.clone();
        let have = first.bytes().len();
        Some(View {
            chunk: first,
            range: skip.min(have)..have,
            eof: eos && queue.len() == 1,
        })
    }
}
