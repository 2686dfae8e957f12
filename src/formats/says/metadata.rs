// SPDX-License-Identifier: MIT
//! SAYS metadata lists: typed `name = value` entries, used by the file header
//! and by every video chunk (per-frame telemetry).
//!
//! Entry layout: u8 type, NUL-terminated name, value. Type 0 is a single
//! padding byte (no name). Parsing never trusts a length beyond the input and
//! stops the list at the first thing it does not understand, reporting it.

use std::fmt::Write as _;

/// Type codes of metadata entries.
pub mod type_code {
    pub const PADDING: u8 = 0;
    pub const F64: u8 = 1;
    pub const STRING: u8 = 2;
    pub const I32: u8 = 3;
    pub const NESTED: u8 = 4;
    pub const I8: u8 = 8;
    pub const I64: u8 = 9;
    pub const I32_ALT: u8 = 0x10;
}

/// Nesting deeper than this is treated as corrupt (real files use 2 levels).
pub const MAX_META_DEPTH: usize = 8;
/// Entries per parse (all levels together); real files have a few dozen.
pub const MAX_META_ENTRIES: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct MetaEntry {
    pub name: String,
    pub value: MetaValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    F64(f64),
    /// Lossy UTF-8; trailing NULs (counted in the stored length) removed.
    Str(String),
    I32(i32),
    Nested(Vec<MetaEntry>),
    I8(i8),
    I64(i64),
    /// Type 0x10: also a little-endian i32 (seen for `timeZone`, `frame`).
    I32Alt(i32),
}

impl MetaEntry {
    pub fn new(name: impl Into<String>, value: MetaValue) -> Self {
        Self {
            name: name.into(),
            value,
        }
    }
}

impl MetaValue {
    pub fn type_code(&self) -> u8 {
        match self {
            MetaValue::F64(_) => type_code::F64,
            MetaValue::Str(_) => type_code::STRING,
            MetaValue::I32(_) => type_code::I32,
            MetaValue::Nested(_) => type_code::NESTED,
            MetaValue::I8(_) => type_code::I8,
            MetaValue::I64(_) => type_code::I64,
            MetaValue::I32Alt(_) => type_code::I32_ALT,
        }
    }

    /// Any numeric value as f64.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F64(v) => Some(v),
            MetaValue::I32(v) | MetaValue::I32Alt(v) => Some(v.into()),
            MetaValue::I8(v) => Some(v.into()),
            MetaValue::I64(v) => Some(v as f64),
            MetaValue::Str(_) | MetaValue::Nested(_) => None,
        }
    }

    /// Integer values; floats only when they hold an exact integer.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            MetaValue::I32(v) | MetaValue::I32Alt(v) => Some(v.into()),
            MetaValue::I8(v) => Some(v.into()),
            MetaValue::I64(v) => Some(v),
            MetaValue::F64(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Some(v as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_nested(&self) -> Option<&[MetaEntry]> {
        match self {
            MetaValue::Nested(entries) => Some(entries),
            _ => None,
        }
    }
}

/// First entry called `name` in `entries` (not searching nested lists).
pub fn find<'a>(entries: &'a [MetaEntry], name: &str) -> Option<&'a MetaValue> {
    entries.iter().find(|e| e.name == name).map(|e| &e.value)
}

/// Why a metadata list stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaIssueKind {
    UnknownType(u8),
    /// A name, value or nested list runs past the end of its list.
    Truncated,
    /// A nested list length smaller than its own length field.
    BadNestedLength(u32),
    TooDeep,
    TooManyEntries,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaIssue {
    /// Byte offset of the offending entry within the parsed slice.
    pub offset: usize,
    pub kind: MetaIssueKind,
}

/// A parsed list: everything understood up to `issue` (if any).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetaList {
    pub entries: Vec<MetaEntry>,
    /// First problem met, in this list or any nested one. A nested problem
    /// only truncates that nested list: its length lets the parent go on.
    pub issue: Option<MetaIssue>,
}

/// Parse a whole slice of metadata entries (no leading length field).
pub fn parse_metadata(data: &[u8]) -> MetaList {
    let mut parser = MetaParser {
        data,
        entries_left: MAX_META_ENTRIES,
        issue: None,
    };
    let entries = parser.list(0, data.len(), 0);
    MetaList {
        entries,
        issue: parser.issue,
    }
}

struct MetaParser<'a> {
    data: &'a [u8],
    entries_left: usize,
    issue: Option<MetaIssue>,
}

impl MetaParser<'_> {
    fn report(&mut self, offset: usize, kind: MetaIssueKind) {
        self.issue.get_or_insert(MetaIssue { offset, kind });
    }

    /// Entries in `data[start..end]`; stops at the first problem.
    fn list(&mut self, start: usize, end: usize, depth: usize) -> Vec<MetaEntry> {
        let mut entries = Vec::new();
        let mut pos = start;
        while pos < end {
            let entry_start = pos;
            match self.entry(&mut pos, end, depth) {
                Ok(Some(entry)) => entries.push(entry),
                Ok(None) => {} // padding byte
                Err(kind) => {
                    self.report(entry_start, kind);
                    break;
                }
            }
        }
        entries
    }

    fn entry(
        &mut self,
        pos: &mut usize,
        end: usize,
        depth: usize,
    ) -> Result<Option<MetaEntry>, MetaIssueKind> {
        let type_code = self.data[*pos];
        *pos += 1;
        if type_code == type_code::PADDING {
            return Ok(None);
        }
        if !matches!(
            type_code,
            type_code::F64
                | type_code::STRING
                | type_code::I32
                | type_code::NESTED
                | type_code::I8
                | type_code::I64
                | type_code::I32_ALT
        ) {
            return Err(MetaIssueKind::UnknownType(type_code));
        }
        if self.entries_left == 0 {
            return Err(MetaIssueKind::TooManyEntries);
        }
        self.entries_left -= 1;

        let name_len = self.data[*pos..end]
            .iter()
            .position(|&b| b == 0)
            .ok_or(MetaIssueKind::Truncated)?;
        let name = String::from_utf8_lossy(&self.data[*pos..*pos + name_len]).into_owned();
        *pos += name_len + 1;

        let data = self.data;
        let mut take = |len: usize| take_bytes(data, pos, end, len);
        let value = match type_code {
            type_code::F64 => MetaValue::F64(f64::from_le_bytes(array(take(8)?))),
            type_code::I32 => MetaValue::I32(i32::from_le_bytes(array(take(4)?))),
            type_code::I32_ALT => MetaValue::I32Alt(i32::from_le_bytes(array(take(4)?))),
            type_code::I8 => MetaValue::I8(i8::from_le_bytes(array(take(1)?))),
            type_code::I64 => MetaValue::I64(i64::from_le_bytes(array(take(8)?))),
            type_code::STRING => {
                let len = u32::from_le_bytes(array(take(4)?));
                let bytes = take(usize::try_from(len).map_err(|_| MetaIssueKind::Truncated)?)?;
                let text_len = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                MetaValue::Str(String::from_utf8_lossy(&bytes[..text_len]).into_owned())
            }
            _ => {
                // type_code::NESTED; its length counts the length field itself.
                let len = u32::from_le_bytes(array(take(4)?));
                let body_len = usize::try_from(len)
                    .ok()
                    .and_then(|len| len.checked_sub(4))
                    .ok_or(MetaIssueKind::BadNestedLength(len))?;
                if depth + 1 >= MAX_META_DEPTH {
                    return Err(MetaIssueKind::TooDeep);
                }
                take(body_len)?;
                let body_end = *pos;
                MetaValue::Nested(self.list(body_end - body_len, body_end, depth + 1))
            }
        };
        Ok(Some(MetaEntry { name, value }))
    }
}

/// `len` bytes at `*pos`, which must end by `end`; advances `*pos`.
fn take_bytes<'d>(
    data: &'d [u8],
    pos: &mut usize,
    end: usize,
    len: usize,
) -> Result<&'d [u8], MetaIssueKind> {
    let bytes = data
        .get(*pos..end)
        .and_then(|rest| rest.get(..len))
        .ok_or(MetaIssueKind::Truncated)?;
    *pos += len;
    Ok(bytes)
}

/// Fixed-size copy of a slice whose length the caller already checked.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// One compact JSON object for a metadata list: nested lists become nested
/// objects, non-finite floats become `null`. Duplicate names are kept as-is.
pub fn metadata_to_json(entries: &[MetaEntry]) -> String {
    let mut out = String::with_capacity(64 * entries.len().min(64));
    write_json_object(&mut out, entries);
    out
}

fn write_json_object(out: &mut String, entries: &[MetaEntry]) {
    out.push('{');
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, &entry.name);
        out.push(':');
        match &entry.value {
            MetaValue::F64(v) if v.is_finite() => {
                // Debug keeps a ".0" or an exponent: always a valid JSON number.
                let _ = write!(out, "{v:?}");
            }
            MetaValue::F64(_) => out.push_str("null"),
            MetaValue::Str(s) => write_json_string(out, s),
            MetaValue::I32(v) | MetaValue::I32Alt(v) => {
                let _ = write!(out, "{v}");
            }
            MetaValue::I8(v) => {
                let _ = write!(out, "{v}");
            }
            MetaValue::I64(v) => {
                let _ = write!(out, "{v}");
            }
            MetaValue::Nested(nested) => write_json_object(out, nested),
        }
    }
    out.push('}');
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The per-frame values a player or telemetry sink usually wants.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Telemetry {
    /// `ts`: wall-clock Unix time in milliseconds.
    pub unix_ms: Option<i64>,
    /// `speed`, in the device's unit (km/h on the samples' scale).
    pub speed: Option<f64>,
    /// `gps.lat` / `gps.lon` (or top-level `lat`/`lon`), omitted when the
    /// fix is flagged invalid (`gps.valid == 0`) or not finite.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl Telemetry {
    pub fn from_metadata(entries: &[MetaEntry]) -> Self {
        let gps = find(entries, "gps").and_then(MetaValue::as_nested);
        let position_source = gps.unwrap_or(entries);
        let fix_valid = gps
            .and_then(|gps| find(gps, "valid"))
            .and_then(MetaValue::as_i64)
            .is_none_or(|valid| valid != 0);
        let coordinate = |short: &str, long: &str| {
            (find(position_source, short).or_else(|| find(position_source, long)))
                .and_then(MetaValue::as_f64)
                .filter(|v| fix_valid && v.is_finite())
        };
        Self {
            unix_ms: find(entries, "ts").and_then(MetaValue::as_i64),
            speed: find(entries, "speed")
                .and_then(MetaValue::as_f64)
                .filter(|v| v.is_finite()),
            latitude: coordinate("lat", "latitude"),
            longitude: coordinate("lon", "longitude"),
        }
    }
}
