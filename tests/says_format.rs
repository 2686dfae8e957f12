// SPDX-License-Identifier: MIT
//! SAYS (.nvr) parser and writer: ground truth from the shared samples,
//! round trips through the writer, and hostile input.

use std::path::PathBuf;

use gstcctv::formats::says::writer::{AudioCodec, HeaderSpec, SaysWriter, encode_metadata};
use gstcctv::formats::says::{
    AppVersion, AudioCopies, Chunk, ChunkContext, ChunkKind, ChunkParse, ChunkWalker,
    FILE_HEADER_LEN, MAX_CHUNK_LEN, MetaEntry, MetaIssueKind, MetaValue, RESYNC_KEEP, Telemetry,
    WalkItem, find_resync, looks_like_chunk_start, metadata_to_json, parse_chunk,
    parse_file_header, parse_metadata, probe,
};
use serde_json::{Value, json};

const SAMPLES: [&str; 7] = [
    "basic",
    "garbage",
    "old_firmware",
    "opus",
    "truncated",
    "two_cameras",
    "with_jpeg",
];

/// The SAYS samples: tests using them are `#[ignore]`d (skipped where the
/// samples are missing) and fail, not pass, when run without them.
fn samples_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/samples/says");
    assert!(dir.is_dir(), "needs {}", dir.display());
    dir
}

fn load_sample(dir: &std::path::Path, name: &str) -> (Vec<u8>, Value) {
    let data = std::fs::read(dir.join(format!("{name}.nvr"))).unwrap();
    let index = std::fs::read_to_string(dir.join(format!("{name}.index.json"))).unwrap();
    (data, serde_json::from_str(&index).unwrap())
}

/// A chunk and its file offset.
type Located = (usize, Chunk);
/// Skipped bytes: (offset, length).
type Gap = (usize, usize);

/// Whole-file walk: chunks with offsets, and merged skipped ranges.
fn walk(data: &[u8], ctx: ChunkContext) -> (Vec<Located>, Vec<Gap>) {
    let (mut chunks, mut skipped) = (Vec::new(), Vec::new());
    for item in ChunkWalker::new(data, ctx) {
        match item {
            WalkItem::Chunk { offset, chunk } => chunks.push((offset, chunk)),
            // Merge adjacent skips: a demuxer reports one gap per damaged region.
            WalkItem::Skipped { offset, len } => match skipped.last_mut() {
                Some((start, total)) if *start + *total == offset => *total += len,
                _ => skipped.push((offset, len)),
            },
        }
    }
    (chunks, skipped)
}

/// Walk like a pull-mode demuxer that only ever holds a small window of the
/// file: start with `first_read` bytes, grow on NeedMore, resync block-wise.
fn walk_streaming(data: &[u8], ctx: ChunkContext, first_read: usize) -> Vec<Located> {
    const RESYNC_BLOCK: usize = 1000;
    let mut chunks = Vec::new();
    let mut pos = FILE_HEADER_LEN;
    let mut want = first_read;
    while pos < data.len() {
        let end = data.len().min(pos + want);
        let window = &data[pos..end];
        match parse_chunk(window, &ctx, end == data.len()) {
            ChunkParse::Chunk(chunk) => {
                assert!(chunk.len > 0 && chunk.len <= window.len());
                pos += chunk.len;
                chunks.push((pos - chunk.len, chunk));
                want = first_read;
            }
            ChunkParse::NeedMore(needed) => {
                assert!(needed > window.len() && needed <= MAX_CHUNK_LEN);
                want = needed;
            }
            ChunkParse::Invalid => {
                let mut from = pos + 1;
                pos = loop {
                    let block_end = data.len().min(from + RESYNC_BLOCK);
                    match find_resync(&data[from..block_end]) {
                        Some(offset) => break from + offset,
                        None if block_end == data.len() => break data.len(),
                        None => from = block_end - RESYNC_KEEP,
                    }
                };
                want = first_read;
            }
        }
    }
    chunks
}

fn sha1_hex(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
}

/// Metadata in the index.json form: [{type, name, value}].
fn meta_as_index_json(entries: &[MetaEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|entry| {
                let value = match &entry.value {
                    MetaValue::F64(v) => json!(v),
                    MetaValue::Str(s) => json!(s),
                    MetaValue::I32(v) | MetaValue::I32Alt(v) => json!(v),
                    MetaValue::I8(v) => json!(v),
                    MetaValue::I64(v) => json!(v),
                    MetaValue::Nested(nested) => meta_as_index_json(nested),
                };
                json!({"type": entry.value.type_code(), "name": entry.name, "value": value})
            })
            .collect(),
    )
}

fn expected_kind(entry: &Value) -> ChunkKind {
    match (entry["kind"].as_str().unwrap(), entry["id"].as_str()) {
        ("image", _) => ChunkKind::Jpeg,
        ("video", _) if entry["key"] == json!(true) => ChunkKind::VideoKey,
        ("video", _) => ChunkKind::VideoDelta,
        ("audio", _) if entry["codec"] == "opus" => ChunkKind::AudioOpus,
        ("audio", _) => ChunkKind::AudioMulaw,
        other => panic!("unexpected index entry {other:?}"),
    }
}

fn check_chunk(data: &[u8], offset: usize, chunk: &Chunk, expected: &Value) {
    let at = format!("chunk {} at {offset}", expected["index"]);
    assert_eq!(offset as u64, expected["offset"].as_u64().unwrap(), "{at}");
    assert_eq!(chunk.len as u64, expected["size"].as_u64().unwrap(), "{at}");
    assert_eq!(chunk.kind, expected_kind(expected), "{at}");
    let bytes = &data[offset..offset + chunk.len];
    let payload = &bytes[chunk.payload.clone()];
    if chunk.kind == ChunkKind::Jpeg {
        assert_eq!(chunk.stream, None, "{at}");
        assert_eq!(
            payload.len() as u64,
            expected["jpeg_length"].as_u64().unwrap()
        );
        assert!(payload.starts_with(&[0xFF, 0xD8]) && payload.ends_with(&[0xFF, 0xD9]));
        return;
    }
    let id = expected["id"].as_str().unwrap().as_bytes();
    assert_eq!(chunk.stream, Some(id[0] - b'0'), "{at}");
    assert_eq!(chunk.kind.substream_digit(), Some(id[1]), "{at}");
    assert_eq!(chunk.timestamp_us, expected["timestamp"].as_u64(), "{at}");
    assert_eq!(
        sha1_hex(payload),
        expected["media_sha1"].as_str().unwrap(),
        "{at}"
    );
    if chunk.kind.is_audio() {
        assert_eq!(
            u64::from(chunk.audio_copies),
            expected["copies"].as_u64().unwrap()
        );
        assert_eq!(chunk.metadata, None);
    } else {
        let meta = parse_metadata(&bytes[chunk.metadata.clone().unwrap()]);
        assert_eq!(meta.issue, None, "{at}");
        assert_eq!(
            meta_as_index_json(&meta.entries),
            expected["metadata"],
            "{at}"
        );
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn samples_match_ground_truth() {
    let dir = samples_dir();
    for name in SAMPLES {
        let (data, index) = load_sample(&dir, name);
        assert!(probe(&data[..4096]), "{name}: probe");
        let header = parse_file_header(&data).unwrap();
        assert_eq!(header.file_name, index["filename"].as_str().unwrap());
        assert_eq!(
            header.app_version_text.as_deref(),
            index["app_version"].as_str()
        );
        assert!(header.app_version.is_some());
        let unknown_hex: String = header.unknown.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(unknown_hex, index["header_unknown_hex"].as_str().unwrap());
        assert_eq!(header.metadata.issue, None);
        assert_eq!(
            meta_as_index_json(&header.metadata.entries),
            index["header_metadata"]
        );

        // Every intact chunk (the truncated sample lists its cut chunk too).
        let expected: Vec<&Value> = index["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] != "garbage")
            .filter(|c| {
                c["offset"].as_u64().unwrap() + c["size"].as_u64().unwrap() <= data.len() as u64
            })
            .collect();
        let damage: Vec<(usize, usize)> = index["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "garbage")
            .map(|c| {
                (
                    c["offset"].as_u64().unwrap() as usize,
                    c["size"].as_u64().unwrap() as usize,
                )
            })
            .collect();

        let from_header = ChunkContext::from_header(&header);
        let detecting = ChunkContext {
            audio_copies: AudioCopies::Detect,
        };
        for ctx in [from_header, detecting] {
            let (chunks, skipped) = walk(&data, ctx);
            assert_eq!(chunks.len(), expected.len(), "{name} {ctx:?}: chunk count");
            for ((offset, chunk), truth) in chunks.iter().zip(&expected) {
                check_chunk(&data, *offset, chunk, truth);
            }
            if let Some(cut) = index["damage"]["chunk_offset"].as_u64() {
                // The cut chunk's remains are skipped up to the end.
                assert_eq!(
                    skipped,
                    vec![(cut as usize, data.len() - cut as usize)],
                    "{name}"
                );
            } else {
                assert_eq!(skipped, damage, "{name}: skipped bytes");
            }
            for first_read in [16, 4096] {
                assert_eq!(
                    walk_streaming(&data, ctx, first_read),
                    chunks,
                    "{name} streaming"
                );
            }
        }
        println!("{name}: {} chunks ok", expected.len());
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn sample_header_context_and_telemetry() {
    let dir = samples_dir();
    let (data, _) = load_sample(&dir, "old_firmware");
    let header = parse_file_header(&data).unwrap();
    assert_eq!(header.app_version, AppVersion::parse("1.0.0"));
    assert_eq!(
        ChunkContext::from_header(&header).audio_copies,
        AudioCopies::Two
    );

    let (data, _) = load_sample(&dir, "basic");
    let header = parse_file_header(&data).unwrap();
    assert_eq!(
        ChunkContext::from_header(&header).audio_copies,
        AudioCopies::One
    );
    assert_eq!(
        header.get("startTime"),
        Some(&MetaValue::I64(1618581807000))
    );
    let (chunks, _) = walk(&data, ChunkContext::from_header(&header));
    let (offset, video) = chunks.iter().find(|(_, c)| c.kind.is_video()).unwrap();
    let meta = parse_metadata(&data[offset + video.metadata.clone().unwrap().start..][..200 - 4]);
    let telemetry = Telemetry::from_metadata(&meta.entries);
    assert_eq!(telemetry.unix_ms, Some(1618581806999));
    assert_eq!(telemetry.speed, Some(32.0));
    assert_eq!(telemetry.latitude, Some(40.702468));
    assert_eq!(telemetry.longitude, Some(-73.801331));
    let parsed: Value = serde_json::from_str(&metadata_to_json(&meta.entries)).unwrap();
    assert_eq!(parsed["gps"]["sats"], json!(7));
    assert_eq!(parsed["frame"], json!(0));
}

// ---------------------------------------------------------------- writer

fn all_types_metadata() -> Vec<MetaEntry> {
    vec![
        MetaEntry::new("ts", MetaValue::I64(1_700_000_000_123)),
        MetaEntry::new("speed", MetaValue::F64(57.25)),
        MetaEntry::new(
            "note",
            MetaValue::Str("quote \" back\\ nl\n ctl\u{1} é".into()),
        ),
        MetaEntry::new("event", MetaValue::I32(-5)),
        MetaEntry::new("valid", MetaValue::I8(-1)),
        MetaEntry::new("frame", MetaValue::I32Alt(42)),
        MetaEntry::new(
            "gps",
            MetaValue::Nested(vec![
                MetaEntry::new("lat", MetaValue::F64(40.5)),
                MetaEntry::new("lon", MetaValue::F64(-73.25)),
                MetaEntry::new(
                    "deep",
                    MetaValue::Nested(vec![MetaEntry::new("x", MetaValue::F64(f64::NAN))]),
                ),
            ]),
        ),
    ]
}

/// A small baseline-style JPEG whose APP1 segment hides an `FF D9` (like an
/// EXIF thumbnail) and whose scan data has stuffing and a restart marker.
fn fake_jpeg(scan_len: usize) -> Vec<u8> {
    let mut jpeg = vec![
        0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x08, 0xFF, 0xD8, 0x01, 0x02, 0xFF, 0xD9,
    ];
    jpeg.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x04, 0x01, 0x00]);
    jpeg.extend(
        (0..scan_len)
            .map(|i| (i * 7 % 251) as u8)
            .flat_map(|b| if b == 0xFF { vec![0xFF, 0x00] } else { vec![b] }),
    );
    jpeg.extend_from_slice(&[0xFF, 0xD3, 0x12, 0x34, 0xFF, 0xD9]);
    jpeg
}

fn annexb(len: usize, seed: u8) -> Vec<u8> {
    let mut media = vec![0, 0, 0, 1, 0x65];
    media.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    media
}

/// What the writer was asked to write, to compare with what the parser finds.
struct Written {
    kind: ChunkKind,
    stream: Option<u8>,
    timestamp_us: Option<u64>,
    payload: Vec<u8>,
    metadata: Vec<MetaEntry>,
}

/// Writes one of everything; returns the file and the chunks written.
fn write_test_file(app_version: Option<&str>, doubled: bool) -> (Vec<u8>, Vec<Written>) {
    let mut header_meta = all_types_metadata();
    if let Some(version) = app_version {
        header_meta.insert(
            0,
            MetaEntry::new("appVersion", MetaValue::Str(version.into())),
        );
    }
    let spec = HeaderSpec {
        unknown: [7; 32],
        file_name: "20240101_000000_000100.nvr".into(),
        metadata: header_meta,
    };
    let mut writer = SaysWriter::new(Vec::new(), &spec).unwrap();
    let mut expected = Vec::new();
    for i in 0..12u8 {
        let ts = 1_700_000_000_000_000 + u64::from(i) * 33_333;
        let media = annexb(37 * usize::from(i) + 1, i);
        let meta = all_types_metadata();
        let key = i % 4 == 0;
        let stream = i % 2;
        writer.write_video(stream, key, ts, &meta, &media).unwrap();
        let kind = if key {
            ChunkKind::VideoKey
        } else {
            ChunkKind::VideoDelta
        };
        expected.push(Written {
            kind,
            stream: Some(stream),
            timestamp_us: Some(ts),
            payload: media,
            metadata: meta,
        });

        let samples: Vec<u8> = (0..usize::from(i) * 11 + 3)
            .map(|n| (n as u8) ^ i)
            .collect();
        let (codec, kind) = if i % 3 == 0 {
            (AudioCodec::Opus, ChunkKind::AudioOpus)
        } else {
            (AudioCodec::Mulaw, ChunkKind::AudioMulaw)
        };
        writer
            .write_audio(7, codec, ts + 5, &samples, doubled)
            .unwrap();
        expected.push(Written {
            kind,
            stream: Some(7),
            timestamp_us: Some(ts + 5),
            payload: samples,
            metadata: Vec::new(),
        });
        if i % 5 == 2 {
            let jpeg = fake_jpeg(100 + usize::from(i));
            writer.write_jpeg(&jpeg).unwrap();
            expected.push(Written {
                kind: ChunkKind::Jpeg,
                stream: None,
                timestamp_us: None,
                payload: jpeg,
                metadata: Vec::new(),
            });
        }
    }
    (writer.into_inner(), expected)
}

fn assert_round_trip(data: &[u8], ctx: ChunkContext, expected: &[Written]) {
    let (chunks, skipped) = walk(data, ctx);
    assert_eq!(skipped, vec![]);
    assert_eq!(chunks.len(), expected.len());
    for ((offset, chunk), written) in chunks.iter().zip(expected) {
        let bytes = &data[*offset..offset + chunk.len];
        assert_eq!(
            (chunk.kind, chunk.stream, chunk.timestamp_us),
            (written.kind, written.stream, written.timestamp_us)
        );
        assert_eq!(&bytes[chunk.payload.clone()], written.payload.as_slice());
        if let Some(range) = chunk.metadata.clone() {
            let parsed = parse_metadata(&bytes[range]);
            assert_eq!(parsed.issue, None);
            // NaN != NaN: compare through the JSON form (NaN -> null).
            assert_eq!(
                metadata_to_json(&parsed.entries),
                metadata_to_json(&written.metadata)
            );
        }
    }
    assert_eq!(walk_streaming(data, ctx, 16), chunks);
}

#[test]
fn writer_round_trip() {
    for (version, doubled, copies) in [
        (Some("v1.8.0"), false, AudioCopies::One),
        (Some("V1.5.9"), true, AudioCopies::Two),
        (None, true, AudioCopies::Detect),
        (None, false, AudioCopies::Detect),
        (Some("garbled"), true, AudioCopies::Detect),
    ] {
        let (data, expected) = write_test_file(version, doubled);
        assert!(probe(&data));
        let header = parse_file_header(&data).unwrap();
        assert_eq!(header.file_name, "20240101_000000_000100.nvr");
        assert_eq!(header.unknown, [7; 32]);
        assert_eq!(header.metadata.issue, None);
        let ctx = ChunkContext::from_header(&header);
        assert_eq!(ctx.audio_copies, copies);
        assert_round_trip(&data, ctx, &expected);
        // Chunks report how many copies they hold, whatever decided it.
        let (chunks, _) = walk(&data, ctx);
        assert!(
            chunks
                .iter()
                .filter(|(_, c)| c.kind.is_audio())
                .all(|(_, c)| c.audio_copies == 1 + u8::from(doubled))
        );
    }
}

#[test]
fn metadata_encoding_round_trip_and_json() {
    let entries = all_types_metadata();
    let parsed = parse_metadata(&encode_metadata(&entries));
    assert_eq!(parsed.issue, None);
    assert_eq!(
        metadata_to_json(&parsed.entries),
        metadata_to_json(&entries)
    );
    let json: Value = serde_json::from_str(&metadata_to_json(&entries)).unwrap();
    assert_eq!(
        json,
        json!({"ts": 1_700_000_000_123_i64, "speed": 57.25, "note": "quote \" back\\ nl\n ctl\u{1} é",
               "event": -5, "valid": -1, "frame": 42,
               "gps": {"lat": 40.5, "lon": -73.25, "deep": {"x": null}}})
    );
    let floats = [
        MetaEntry::new("big", MetaValue::F64(1e300)),
        MetaEntry::new("tiny", MetaValue::F64(-1e-300)),
        MetaEntry::new("inf", MetaValue::F64(f64::INFINITY)),
    ];
    let json: Value = serde_json::from_str(&metadata_to_json(&floats)).unwrap();
    assert_eq!(json, json!({"big": 1e300, "tiny": -1e-300, "inf": null}));
    assert_eq!(metadata_to_json(&[]), "{}");
}

#[test]
fn app_version_parsing() {
    let v = |major, minor, patch| {
        Some(AppVersion {
            major,
            minor,
            patch,
        })
    };
    assert_eq!(AppVersion::parse("v1.6.5"), v(1, 6, 5));
    assert_eq!(AppVersion::parse("V1.06.05-beta"), v(1, 6, 5));
    assert_eq!(AppVersion::parse("2.1"), v(2, 1, 0));
    assert_eq!(AppVersion::parse("v"), None);
    assert_eq!(AppVersion::parse("DVXC4"), None);
    assert!(AppVersion::parse("v1.5.99").unwrap().writes_audio_twice());
    assert!(!AppVersion::parse("v1.6").unwrap().writes_audio_twice());
}

// ---------------------------------------------------------------- hostile input

/// xorshift64*: deterministic noise without a dependency.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut noise = Noise(0x5EED);
    let ctx = ChunkContext::default();
    for round in 0..3000 {
        let len = (noise.next() % 600) as usize;
        let mut bytes = noise.bytes(len);
        // Plant plausible starts so the deeper paths run too.
        if len >= 8 && round % 2 == 0 {
            let starts: [&[u8]; 5] = [
                b"00dcH264",
                b"11dcH264",
                b"07wb",
                b"19wb",
                &[0xFF, 0xD8, 0xFF],
            ];
            let start = starts[round % 5];
            bytes[..start.len()].copy_from_slice(start);
        }
        for at_eof in [false, true] {
            match parse_chunk(&bytes, &ctx, at_eof) {
                ChunkParse::Chunk(chunk) => {
                    assert!(chunk.len <= bytes.len() && chunk.payload.end <= chunk.len);
                }
                ChunkParse::NeedMore(needed) => {
                    assert!(!at_eof && needed > bytes.len() && needed <= MAX_CHUNK_LEN)
                }
                ChunkParse::Invalid => {}
            }
        }
        let _ = parse_metadata(&bytes);
        let _ = probe(&bytes);
        let _ = parse_file_header(&bytes);
        if let Some(at) = find_resync(&bytes) {
            assert!(looks_like_chunk_start(&bytes[at..]));
        }
        let mut file = vec![0u8; FILE_HEADER_LEN];
        file.extend_from_slice(&bytes);
        let total: usize = ChunkWalker::new(&file, ctx)
            .map(|item| match item {
                WalkItem::Chunk { chunk, .. } => chunk.len,
                WalkItem::Skipped { len, .. } => len,
            })
            .sum();
        assert_eq!(
            total,
            bytes.len(),
            "the walk covers every byte exactly once"
        );
    }
}

#[test]
fn huge_lengths_are_bounded() {
    let ctx = ChunkContext::default();
    let mut video = b"00dcH264".to_vec();
    video.extend_from_slice(&u32::MAX.to_le_bytes()); // media length
    video.extend_from_slice(&[200, 0, 0, 0]);
    video.extend_from_slice(&0u64.to_le_bytes());
    video.extend_from_slice(&200u32.to_le_bytes());
    assert_eq!(parse_chunk(&video, &ctx, false), ChunkParse::Invalid);
    video[8..12].copy_from_slice(&((MAX_CHUNK_LEN - 224) as u32).to_le_bytes());
    assert_eq!(
        parse_chunk(&video, &ctx, false),
        ChunkParse::NeedMore(MAX_CHUNK_LEN)
    );
    video[8..12].copy_from_slice(&100u32.to_le_bytes());
    video[24..28].copy_from_slice(&u32::MAX.to_le_bytes()); // metadata length
    assert_eq!(parse_chunk(&video, &ctx, false), ChunkParse::Invalid);
    video[24..28].copy_from_slice(&3u32.to_le_bytes()); // shorter than its own field
    assert_eq!(parse_chunk(&video, &ctx, false), ChunkParse::Invalid);

    let mut audio = b"07wb".to_vec();
    audio.extend_from_slice(&u16::MAX.to_le_bytes());
    audio.extend_from_slice(&u16::MAX.wrapping_add(8).to_le_bytes());
    audio.extend_from_slice(&0u64.to_le_bytes());
    let two = ChunkContext {
        audio_copies: AudioCopies::Two,
    };
    assert_eq!(
        parse_chunk(&audio, &two, false),
        ChunkParse::NeedMore(16 + 2 * 65535)
    );
    assert_eq!(parse_chunk(&audio, &two, true), ChunkParse::Invalid);
    audio[6] ^= 1; // second length no longer channel length + 8
    assert_eq!(parse_chunk(&audio, &two, false), ChunkParse::Invalid);

    // A JPEG that never ends: asks in bounded steps, gives up at the bound.
    let mut endless = vec![0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02];
    endless.resize(MAX_CHUNK_LEN + 10, 0x11);
    let mut have = 6;
    let mut requests = 0;
    while let ChunkParse::NeedMore(needed) = parse_chunk(&endless[..have], &ctx, false) {
        assert!(needed > have && needed <= MAX_CHUNK_LEN);
        have = needed.max(have + 1);
        requests += 1;
        if have >= MAX_CHUNK_LEN {
            have = MAX_CHUNK_LEN + 10;
        }
    }
    assert!(requests < 300);
    assert_eq!(
        parse_chunk(&endless[..have], &ctx, false),
        ChunkParse::Invalid
    );

    // Metadata: hostile lengths and nesting stop the list, never allocate.
    let mut hostile = vec![2, b's', 0];
    hostile.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        parse_metadata(&hostile).issue.unwrap().kind,
        MetaIssueKind::Truncated
    );
    let mut nested = vec![4, b'n', 0, 3, 0, 0, 0];
    assert_eq!(
        parse_metadata(&nested).issue.unwrap().kind,
        MetaIssueKind::BadNestedLength(3)
    );
    nested = Vec::new();
    for _ in 0..10_000 {
        nested.splice(0..0, [4, b'n', 0, 0, 0, 0, 0]);
    }
    let deep = parse_metadata(&nested); // lengths are wrong, but depth trips first
    assert!(deep.issue.is_some());
    let mut unknown = encode_metadata(&all_types_metadata()[..2]);
    let unknown_at = unknown.len();
    unknown.extend_from_slice(&[0x55, b'x', 0, 1, 2, 3]);
    let list = parse_metadata(&unknown);
    assert_eq!(list.entries.len(), 2);
    assert_eq!(list.issue.unwrap().offset, unknown_at);
    assert_eq!(list.issue.unwrap().kind, MetaIssueKind::UnknownType(0x55));
}

#[test]
fn deep_nesting_is_cut() {
    // Properly sized nesting, 50 levels deep.
    let mut entries = vec![MetaEntry::new("leaf", MetaValue::I8(1))];
    for _ in 0..50 {
        entries = vec![MetaEntry::new("n", MetaValue::Nested(entries))];
    }
    let list = parse_metadata(&encode_metadata(&entries));
    assert_eq!(list.issue.unwrap().kind, MetaIssueKind::TooDeep);
}

#[test]
fn truncation_at_every_byte() {
    let (data, expected) = write_test_file(Some("v1.0.0"), true);
    let header = parse_file_header(&data).unwrap();
    let ctx = ChunkContext::from_header(&header);
    let (full, _) = walk(&data, ctx);
    assert_eq!(full.len(), expected.len());
    for cut in (0..data.len()).rev() {
        let data = &data[..cut];
        if cut < FILE_HEADER_LEN {
            let _ = parse_file_header(data);
            let _ = probe(data);
            continue;
        }
        let (chunks, _) = walk(data, ctx);
        // Every chunk that ends inside the cut file is recovered, in order.
        let intact = full
            .iter()
            .filter(|(offset, c)| offset + c.len <= cut)
            .count();
        assert!(chunks.len() >= intact, "cut at {cut}");
        assert_eq!(&chunks[..intact], &full[..intact], "cut at {cut}");
        // ... and anything after it is a padding-less tail of the cut chunk.
        for (offset, chunk) in &chunks[intact..] {
            let (full_offset, full_chunk) = &full[intact];
            assert_eq!(
                (offset, chunk.payload.clone()),
                (full_offset, full_chunk.payload.clone())
            );
        }
    }
}

#[test]
fn chunk_times_beyond_clock_time_are_invalid() {
    use gstcctv::formats::says::MAX_TIMESTAMP_US;
    let ctx = ChunkContext::default();
    for (ts, valid) in [
        (MAX_TIMESTAMP_US, true),
        (MAX_TIMESTAMP_US + 1, false),
        (u64::MAX, false),
    ] {
        let header = HeaderSpec {
            file_name: "t.nvr".into(),
            ..Default::default()
        };
        let mut w = SaysWriter::new(Vec::new(), &header).unwrap();
        w.write_audio(0, AudioCodec::Mulaw, ts, &[0x55; 40], false)
            .unwrap();
        w.write_video(1, true, ts, &[], &annexb(100, 3)).unwrap();
        let data = w.into_inner();
        let audio = &data[FILE_HEADER_LEN..];
        let video = &audio[16 + 40..];
        for chunk in [audio, video] {
            let parsed = parse_chunk(chunk, &ctx, true);
            assert_eq!(
                matches!(parsed, ChunkParse::Chunk(_)),
                valid,
                "ts {ts}: {parsed:?}"
            );
        }
    }
}

/// Three chunks (audio, video, audio) after the header, and their offsets.
fn three_chunks() -> (Vec<u8>, [usize; 3]) {
    let header = HeaderSpec {
        file_name: "t.nvr".into(),
        ..Default::default()
    };
    let mut w = SaysWriter::new(Vec::new(), &header).unwrap();
    let ts = 1_618_581_807_000_000;
    let a = w.position() as usize;
    w.write_audio(0, AudioCodec::Mulaw, ts, &[0x55; 400], false)
        .unwrap();
    let v = w.position() as usize;
    w.write_video(0, true, ts + 1000, &[], &annexb(301, 7))
        .unwrap();
    let a2 = w.position() as usize;
    w.write_audio(0, AudioCodec::Mulaw, ts + 50_000, &[0x56; 400], false)
        .unwrap();
    (w.into_inner(), [a, v, a2])
}

#[test]
fn checked_parse_rejects_extents_that_swallow_the_next_chunk() {
    use gstcctv::formats::says::{FULL_HEADER_LEN, parse_chunk_checked};
    let ctx = ChunkContext {
        audio_copies: AudioCopies::One,
    };
    let (data, [a, v, a2]) = three_chunks();
    // Intact: each chunk parses; the checked parse asks to see what follows.
    let len = v - a;
    assert_eq!(
        parse_chunk_checked(&data[a..v], &ctx, false),
        ChunkParse::NeedMore(len + FULL_HEADER_LEN)
    );
    assert!(matches!(
        parse_chunk_checked(&data[a..], &ctx, false),
        ChunkParse::Chunk(c) if c.len == len
    ));
    assert!(matches!(
        parse_chunk_checked(&data[a2..], &ctx, true),
        ChunkParse::Chunk(_)
    ));
    // Audio claiming 65535 bytes (file long enough): the video chunk sits
    // inside its extent.
    let mut long = data.clone();
    long.extend(std::iter::repeat_n(0x33, 70_000));
    long[a + 4..a + 6].copy_from_slice(&65535u16.to_le_bytes());
    long[a + 6..a + 8].copy_from_slice(&7u16.to_le_bytes());
    assert!(matches!(
        parse_chunk(&long[a..], &ctx, false),
        ChunkParse::Chunk(_)
    ));
    assert_eq!(
        parse_chunk_checked(&long[a..], &ctx, false),
        ChunkParse::Invalid
    );
    // One media byte less in the video chunk: its extent overlaps the next
    // audio header by one byte.
    let mut short = data.clone();
    short.remove(v + 24 + 4 + 100);
    assert_eq!(
        parse_chunk_checked(&short[v..], &ctx, false),
        ChunkParse::Invalid
    );
    // Walking keeps everything else and skips exactly the damaged chunk.
    let (chunks, gaps) = walk(&short, ctx);
    assert_eq!(
        chunks.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        [a, a2 - 1]
    );
    assert_eq!(gaps, [(v, a2 - 1 - v)]);
    // An intact chunk followed by garbage is kept.
    let mut garbage = data[..v].to_vec();
    garbage.extend((0..300u32).map(|k| (k * 89 + 3) as u8));
    garbage.extend_from_slice(&data[v..]);
    let (chunks, gaps) = walk(&garbage, ctx);
    assert_eq!(chunks.len(), 3);
    assert_eq!(gaps, [(v, 300)]);
    // A video chunk whose media does not start with a start code is damage.
    let mut no_start = data.clone();
    no_start[v + 24 + 4 + 3] = 0x02;
    assert_eq!(
        parse_chunk_checked(&no_start[v..], &ctx, false),
        ChunkParse::Invalid
    );
}

#[test]
fn resync_finds_the_earliest_plausible_chunk_not_a_look_alike() {
    use gstcctv::formats::says::{HeaderCheck, check_chunk_header};
    let (data, [_, v, _]) = three_chunks();
    let chunk = &data[v..];
    assert_eq!(
        check_chunk_header(chunk),
        HeaderCheck::Valid {
            timestamp_us: Some(1_618_581_807_001_000)
        }
    );
    assert_eq!(check_chunk_header(&chunk[..10]), HeaderCheck::Incomplete);
    // An audio id with a sane length pair but an impossible time, then a
    // video id with an absurd metadata length, then the real chunk.
    let mut junk = vec![0xAA; 5];
    junk.extend_from_slice(b"07wb\x10\x00\x18\x00");
    junk.extend_from_slice(&u64::MAX.to_le_bytes());
    junk.extend_from_slice(b"11dcH264");
    junk.extend_from_slice(&[0; 16]);
    junk.extend_from_slice(&u32::MAX.to_le_bytes());
    let real = junk.len();
    junk.extend_from_slice(chunk);
    assert_eq!(check_chunk_header(&junk[5..]), HeaderCheck::Invalid);
    assert_eq!(check_chunk_header(&junk[21..]), HeaderCheck::Invalid);
    assert_eq!(find_resync(&junk), Some(real));
    // A look-alike too close to the end to check is still a candidate.
    assert_eq!(find_resync(&junk[..21 + 6]), Some(21));
}

#[test]
fn audio_said_to_be_doubled_but_written_once_is_kept() {
    use gstcctv::formats::says::parse_chunk_checked;
    let two = ChunkContext {
        audio_copies: AudioCopies::Two,
    };
    let (data, [a, v, a2]) = three_chunks();
    assert!(matches!(
        parse_chunk_checked(&data[a..], &two, false),
        ChunkParse::Chunk(c) if c.len == v - a && c.audio_copies == 1
    ));
    let (chunks, gaps) = walk(&data, two);
    assert_eq!(
        chunks.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        [a, v, a2]
    );
    assert!(gaps.is_empty(), "{gaps:?}");
}
