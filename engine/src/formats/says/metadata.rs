// SPDX-License-Identifier: MIT
//! SAYS metadata lists: typed `name = value` entries, used by the file header
//! and by every video chunk (per-frame telemetry).
//!
//! Entry layout: u8 type, NUL-terminated name, value. Type 0 is a single
//! padding byte (no name). Parsing never trusts a length beyond the input.
//! An entry of a type this parser does not know is stepped over: of the
//! plausible value sizes (1, 2, 4, 8 bytes, a u32-length-prefixed value, a
//! nested list, nothing) the one after which the following entries parse
//! best is taken, and the entry is reported in [`MetaList::unknown`]. A list
//! stops only at what cannot be stepped over (truncation, bad lengths).

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
    /// The public description's number for the 32-bit integer type (10);
    /// parsed like [`I32_ALT`] (0x10), into [`super::MetaValue::I32Alt`].
    pub const I32_DECIMAL: u8 = 10;
}

/// Nesting deeper than this is treated as corrupt (real files use 2 levels).
pub const MAX_META_DEPTH: usize = 8;
/// Entries per parse (all levels together); real files have a few dozen.
pub const MAX_META_ENTRIES: usize = 4096;
/// Entries of unknown type stepped over per parse; more is corruption.
pub const MAX_UNKNOWN_ENTRIES: usize = 16;
/// How many following entries decide the size of an unknown entry's value
/// (reaching the end of the list cleanly decides too).
const LOOKAHEAD_ENTRIES: usize = 16;
/// Unknown entries a trial parse (sizing an unknown entry) may step over
/// itself, and how deep such trials nest: bounds the work per entry.
const TRIAL_UNKNOWN_ENTRIES: usize = 2;
const MAX_TRIAL_DEPTH: usize = 2;

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
    /// Type 10 (the public description's number) parses into this too.
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

impl std::fmt::Display for MetaIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            MetaIssueKind::UnknownType(t) => write!(f, "unknown entry type 0x{t:02x}")?,
            MetaIssueKind::Truncated => f.write_str("an entry runs past the end of its list")?,
            MetaIssueKind::BadNestedLength(n) => write!(f, "a nested list claims {n} bytes")?,
            MetaIssueKind::TooDeep => f.write_str("lists nested too deeply")?,
            MetaIssueKind::TooManyEntries => f.write_str("too many entries")?,
        }
        write!(f, " at byte {}", self.offset)
    }
}

/// A parsed list: everything understood up to `issue` (if any).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetaList {
    pub entries: Vec<MetaEntry>,
    /// First problem met, in this list or any nested one. A nested problem
    /// only truncates that nested list: its length lets the parent go on.
    pub issue: Option<MetaIssue>,
    /// Entries of unknown type that were stepped over (any level), in order.
    pub unknown: Vec<UnknownEntry>,
}

/// An entry of unknown type, stepped over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEntry {
    /// Byte offset of the entry (its type byte) within the parsed slice.
    pub offset: usize,
    pub type_code: u8,
    pub name: String,
    /// The value size chosen.
    pub value_len: usize,
}

/// Parse a whole slice of metadata entries (no leading length field).
pub fn parse_metadata(data: &[u8]) -> MetaList {
    let mut parser = MetaParser::new(data, MAX_UNKNOWN_ENTRIES, 0);
    let entries = parser.list(0, data.len(), 0, usize::MAX);
    MetaList {
        entries,
        issue: parser.issue,
        unknown: parser.unknown,
    }
}

struct MetaParser<'a> {
    data: &'a [u8],
    entries_left: usize,
    issue: Option<MetaIssue>,
    /// Unknown entries this parse may still step over.
    unknown_left: usize,
    /// 0 for the real parse, n for a trial parse sizing an unknown entry
    /// of a depth n - 1 parse.
    trial_depth: usize,
    unknown: Vec<UnknownEntry>,
}

impl<'a> MetaParser<'a> {
    fn new(data: &'a [u8], unknown_left: usize, trial_depth: usize) -> Self {
        Self {
            data,
            entries_left: MAX_META_ENTRIES,
            issue: None,
            unknown_left,
            trial_depth,
            unknown: Vec::new(),
        }
    }

    fn report(&mut self, offset: usize, kind: MetaIssueKind) {
        self.issue.get_or_insert(MetaIssue { offset, kind });
    }

    /// Entries in `data[start..end]` (at most `max_entries`); stops at the
    /// first problem.
    fn list(
        &mut self,
        start: usize,
        end: usize,
        depth: usize,
        max_entries: usize,
    ) -> Vec<MetaEntry> {
        let mut entries = Vec::new();
        let mut pos = start;
        while pos < end && entries.len() < max_entries {
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
        let entry_start = *pos;
        let type_code = *self.data.get(*pos).ok_or(MetaIssueKind::Truncated)?;
        *pos += 1;
        if type_code == type_code::PADDING {
            return Ok(None);
        }
        let known = matches!(
            type_code,
            type_code::F64
                | type_code::STRING
                | type_code::I32
                | type_code::NESTED
                | type_code::I8
                | type_code::I64
                | type_code::I32_ALT
                | type_code::I32_DECIMAL
        );
        if !known {
            if self.unknown_left == 0 {
                return Err(MetaIssueKind::UnknownType(type_code));
            }
            self.unknown_left -= 1;
        }
        if self.entries_left == 0 {
            return Err(MetaIssueKind::TooManyEntries);
        }
        self.entries_left -= 1;

        let name_bytes = self.data.get(*pos..end).unwrap_or_default();
        let name_len = name_bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or(MetaIssueKind::Truncated)?;
        let name = String::from_utf8_lossy(&name_bytes[..name_len]).into_owned();
        *pos += name_len + 1;

        if !known {
            let value_len = self
                .size_unknown_value(*pos, end, depth)
                .ok_or(MetaIssueKind::UnknownType(type_code))?;
            self.unknown.push(UnknownEntry {
                offset: entry_start,
                type_code,
                name,
                value_len,
            });
            *pos += value_len;
            return Ok(None);
        }

        let data = self.data;
        let mut take = |len: usize| take_bytes(data, pos, end, len);
        let value = match type_code {
            type_code::F64 => MetaValue::F64(f64::from_le_bytes(array(take(8)?))),
            type_code::I32 => MetaValue::I32(i32::from_le_bytes(array(take(4)?))),
            type_code::I32_ALT | type_code::I32_DECIMAL => {
                MetaValue::I32Alt(i32::from_le_bytes(array(take(4)?)))
            }
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
                MetaValue::Nested(self.list(body_end - body_len, body_end, depth + 1, usize::MAX))
            }
        };
        Ok(Some(MetaEntry { name, value }))
    }
}

impl MetaParser<'_> {
    /// The size of an unknown entry's value starting at `value_start`: the
    /// candidate after which the following entries parse best (to the end
    /// of the list, or [`LOOKAHEAD_ENTRIES`] known entries, without a
    /// problem; else the most known entries before one), the earlier
    /// candidate on a tie. Trial parses may step over a few unknown
    /// entries themselves, so two unknown entries in a row are sized right.
    /// `None` when every candidate runs into damage: the list stops there.
    fn size_unknown_value(&self, value_start: usize, end: usize, depth: usize) -> Option<usize> {
        let prefix = self
            .data
            .get(value_start..end)
            .and_then(|rest| rest.get(..4))
            .map(|b| u32::from_le_bytes(array(b)))
            .and_then(|len| usize::try_from(len).ok());
        // A nested list whose length counts itself, a u32 length then that
        // many bytes (like a string), fixed sizes, nothing.
        let mut candidates = Vec::with_capacity(7);
        if let Some(len) = prefix {
            candidates.extend([
                Candidate::Nested(len),
                Candidate::Bytes(len.saturating_add(4)),
            ]);
        }
        candidates.extend([4, 8, 1, 2, 0].map(Candidate::Bytes));
        let room = end.saturating_sub(value_start);
        let mut best: Option<((u8, usize), usize)> = None;
        let trial_depth = self.trial_depth + 1;
        let trial_unknown = if trial_depth < MAX_TRIAL_DEPTH {
            TRIAL_UNKNOWN_ENTRIES
        } else {
            0
        };
        let trial_parse = |start: usize, end: usize, max_entries: usize| {
            let mut trial = MetaParser::new(self.data, trial_unknown, trial_depth);
            let entries = trial.list(start, end, depth, max_entries);
            // Clean, stopped only because it may not step over more unknown
            // entries, or stopped by damage.
            let status = match trial.issue.map(|i| i.kind) {
                None => 2,
                Some(MetaIssueKind::UnknownType(_)) => 1,
                Some(_) => 0,
            };
            (status, count_entries(&entries))
        };
        for candidate in candidates {
            let (len, inner) = match candidate {
                Candidate::Bytes(len) => (len, 0),
                Candidate::Nested(len) => {
                    if !(4..=room).contains(&len) || depth + 1 >= MAX_META_DEPTH {
                        continue;
                    }
                    // A nested list only if its body parses cleanly; its
                    // entries count like the ones after it.
                    match trial_parse(value_start + 4, value_start + len, usize::MAX) {
                        (2, inner) => (len, inner),
                        _ => continue,
                    }
                }
            };
            if len > room {
                continue;
            }
            let (status, entries) = trial_parse(value_start + len, end, LOOKAHEAD_ENTRIES);
            let score = (status, entries + inner);
            if best.is_none_or(|(best_score, _)| score > best_score) {
                best = Some((score, len));
            }
        }
        best.filter(|((status, _), _)| *status > 0)
            .map(|(_, len)| len)
    }
}

/// A possible size of an unknown entry's value.
#[derive(Clone, Copy)]
enum Candidate {
    Bytes(usize),
    Nested(usize),
}

/// Known entries, nested ones included.
fn count_entries(entries: &[MetaEntry]) -> usize {
    entries
        .iter()
        .map(|e| 1 + e.value.as_nested().map_or(0, count_entries))
        .sum()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Entry bytes: type, name, NUL, value.
    fn raw(type_code: u8, name: &str, value: &[u8]) -> Vec<u8> {
        let mut out = vec![type_code];
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        out
    }

    fn string(name: &str, text: &str) -> Vec<u8> {
        let mut value = ((text.len() + 1) as u32).to_le_bytes().to_vec();
        value.extend_from_slice(text.as_bytes());
        value.push(0);
        raw(type_code::STRING, name, &value)
    }

    fn nested(name: &str, body: &[u8]) -> Vec<u8> {
        let mut value = ((body.len() + 4) as u32).to_le_bytes().to_vec();
        value.extend_from_slice(body);
        raw(type_code::NESTED, name, &value)
    }

    /// What a SAYS header carries after the entry under test.
    fn header_tail() -> Vec<u8> {
        let mut out = raw(type_code::I32_ALT, "timeZone", &(-240i32).to_le_bytes());
        let mut camera = string("name", "Road");
        camera.extend(raw(type_code::I32, "width", &640i32.to_le_bytes()));
        camera.extend(raw(type_code::I32, "height", &360i32.to_le_bytes()));
        out.extend(nested("camera0", &camera));
        out.extend(raw(type_code::I8, "gpsEnabled", &[1]));
        out
    }

    fn names(entries: &[MetaEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.name.as_str()).collect()
    }

    fn check_tail(list: &MetaList, first: usize) {
        assert_eq!(list.issue, None, "{list:?}");
        let entries = &list.entries[first..];
        assert_eq!(names(entries), ["timeZone", "camera0", "gpsEnabled"]);
        assert_eq!(entries[0].value, MetaValue::I32Alt(-240));
        let camera = entries[1].value.as_nested().unwrap();
        assert_eq!(find(camera, "name"), Some(&MetaValue::Str("Road".into())));
        assert_eq!(find(camera, "width"), Some(&MetaValue::I32(640)));
        assert_eq!(find(camera, "height"), Some(&MetaValue::I32(360)));
    }

    #[test]
    fn type_10_is_a_32_bit_integer() {
        let mut data = raw(type_code::I32_DECIMAL, "timeZone", &(-300i32).to_le_bytes());
        data.extend(raw(type_code::I8, "recordType", &[2]));
        let list = parse_metadata(&data);
        assert_eq!(list.issue, None);
        assert!(list.unknown.is_empty());
        assert_eq!(
            list.entries,
            [
                MetaEntry::new("timeZone", MetaValue::I32Alt(-300)),
                MetaEntry::new("recordType", MetaValue::I8(2)),
            ]
        );
    }

    #[test]
    fn unknown_types_are_stepped_over_keeping_what_follows() {
        let values: [(&str, Vec<u8>); 7] = [
            ("one byte", vec![0x7f]),
            ("two bytes", vec![0x34, 0x12]),
            ("four bytes", 0x1234_5678u32.to_le_bytes().to_vec()),
            ("eight bytes", 1.0e300f64.to_le_bytes().to_vec()),
            ("small i64", 5u64.to_le_bytes().to_vec()),
            ("length-prefixed", {
                let mut v = 9u32.to_le_bytes().to_vec();
                v.extend_from_slice(b"ABCDEFGHI");
                v
            }),
            ("nested", {
                let body = raw(type_code::F64, "x", &2.5f64.to_le_bytes());
                let mut v = ((body.len() + 4) as u32).to_le_bytes().to_vec();
                v.extend(body);
                v
            }),
        ];
        for type_code in [0x05, 0x06, 0x0b, 0x11, 0x42, 0xff] {
            for (what, value) in &values {
                let mut data = string("appVersion", "v1.6.5");
                data.extend(raw(type_code, "mystery", value));
                data.extend(header_tail());
                let list = parse_metadata(&data);
                let what = format!("type {type_code:#x} {what}");
                assert_eq!(list.entries[0].name, "appVersion", "{what}");
                check_tail(&list, 1);
                assert_eq!(list.unknown.len(), 1, "{what}: {:?}", list.unknown);
                let unknown = &list.unknown[0];
                assert_eq!(unknown.type_code, type_code, "{what}");
                assert_eq!(unknown.name, "mystery", "{what}");
                assert_eq!(unknown.offset, 23, "{what}");
                // Zero bytes at the end of a value are indistinguishable from
                // padding: a shorter size may be chosen, the rest is padding.
                let trailing_zeros = value.iter().rev().take_while(|&&b| b == 0).count();
                assert!(
                    (value.len() - trailing_zeros..=value.len()).contains(&unknown.value_len),
                    "{what}: {unknown:?}"
                );
            }
        }
    }

    #[test]
    fn unknown_entries_inside_nested_lists_and_several_in_a_row() {
        let mut camera = raw(0x0c, "lens", &[1, 2, 3, 4, 5, 6, 7, 8]);
        camera.extend(raw(type_code::I32, "width", &640i32.to_le_bytes()));
        let mut data = nested("camera0", &camera);
        data.extend(raw(0x20, "a", &[9, 9, 9, 9]));
        data.extend(raw(0x21, "b", &[7]));
        data.extend(header_tail());
        let list = parse_metadata(&data);
        assert_eq!(
            list.unknown
                .iter()
                .map(|u| u.name.as_str())
                .collect::<Vec<_>>(),
            ["lens", "a", "b"]
        );
        let camera = list.entries[0].value.as_nested().unwrap();
        assert_eq!(names(camera), ["width"]);
        check_tail(&list, 1);
    }

    #[test]
    fn unknown_entries_are_bounded() {
        let mut data = Vec::new();
        for i in 0..MAX_UNKNOWN_ENTRIES + 5 {
            data.extend(raw(0x30, &format!("u{i}"), &[0xee; 4]));
        }
        data.extend(header_tail());
        let list = parse_metadata(&data);
        assert_eq!(list.unknown.len(), MAX_UNKNOWN_ENTRIES);
        assert!(matches!(
            list.issue,
            Some(MetaIssue {
                kind: MetaIssueKind::UnknownType(0x30),
                ..
            })
        ));
        // An unknown entry whose name runs off the end is truncation.
        let list = parse_metadata(&[0x30, b'a', b'b']);
        assert_eq!(list.issue.map(|i| i.kind), Some(MetaIssueKind::Truncated));
        // One after which every size runs into damage stops the list.
        let mut data = raw(type_code::I8, "k", &[1]);
        data.extend([0x30, b'x', 0, 1, 2, 3]);
        let list = parse_metadata(&data);
        assert_eq!(names(&list.entries), ["k"]);
        assert!(list.unknown.is_empty());
        assert_eq!(
            list.issue,
            Some(MetaIssue {
                offset: 4,
                kind: MetaIssueKind::UnknownType(0x30)
            })
        );
    }
}
