// SPDX-License-Identifier: MIT
//! SAYS: file header, header metadata, telemetry, and chunks (whole-file
//! walk with resync, and single parses at every offset, streaming or EOF).
#![no_main]

use gstcctv::formats::says::{
    AudioCopies, ChunkContext, ChunkParse, ChunkWalker, FILE_HEADER_LEN, MAX_CHUNK_LEN, Telemetry,
    WalkItem, find_resync, metadata_to_json, parse_chunk, parse_file_header, parse_metadata, probe,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = probe(data);
    let ctx = match parse_file_header(data) {
        Ok(header) => {
            let _ = metadata_to_json(&header.metadata.entries);
            ChunkContext::from_header(&header)
        }
        Err(_) => ChunkContext {
            audio_copies: AudioCopies::Detect,
        },
    };
    // The bytes as metadata and as per-frame telemetry.
    let list = parse_metadata(data);
    let _ = metadata_to_json(&list.entries);
    let _ = Telemetry::from_metadata(&list.entries);
    // Chunks: the demuxer's walk over a whole file; input that is not a
    // SAYS file gets a blank 64 KiB header, so every input is a chunk area.
    let file: std::borrow::Cow<[u8]> = if probe(data) {
        data.into()
    } else {
        [&[0u8; FILE_HEADER_LEN][..], data].concat().into()
    };
    let body = file.get(FILE_HEADER_LEN..).unwrap_or_default();
    let mut covered = FILE_HEADER_LEN;
    for item in ChunkWalker::new(&file, ctx) {
        match item {
            WalkItem::Chunk { offset, chunk } => {
                assert_eq!(offset, covered, "walk left a hole");
                assert!(chunk.len > 0 && offset + chunk.len <= file.len());
                assert!(chunk.payload.end <= chunk.len);
                if let Some(m) = &chunk.metadata {
                    assert!(m.end <= chunk.len);
                    let _ = parse_metadata(&file[offset..][m.clone()]);
                }
                covered = offset + chunk.len;
            }
            WalkItem::Skipped { offset, len } => {
                assert_eq!(offset, covered, "walk left a hole");
                assert!(len > 0);
                covered = offset + len;
            }
        }
    }
    assert!(covered <= file.len().max(FILE_HEADER_LEN));
    for at in 0..body.len().min(512) {
        for at_eof in [false, true] {
            match parse_chunk(&body[at..], &ctx, at_eof) {
                ChunkParse::Chunk(c) => assert!(c.len <= body.len() - at),
                ChunkParse::NeedMore(n) => {
                    assert!(!at_eof, "NeedMore at EOF");
                    assert!(n > body.len() - at && n <= MAX_CHUNK_LEN);
                }
                ChunkParse::Invalid => {}
            }
        }
        if let Some(r) = find_resync(&body[at..]) {
            assert!(at + r < body.len());
        }
    }
});
