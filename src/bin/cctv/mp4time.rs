// SPDX-License-Identifier: MIT
//! Sets the creation and modification times of a finished MP4 (`mvhd`,
//! `tkhd`, `mdhd`) to the recording's start: mp4mux writes the time of the
//! conversion there.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

/// Seconds from 1904-01-01 (the MP4 epoch) to 1970-01-01.
const MP4_EPOCH_OFFSET: u64 = 2_082_844_800;

fn box_header(file: &mut File, at: u64, end: u64) -> std::io::Result<Option<(u64, [u8; 4], u64)>> {
    if at + 8 > end {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(at))?;
    let mut h = [0u8; 16];
    file.read_exact(&mut h[..8])?;
    let kind = [h[4], h[5], h[6], h[7]];
    let size = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
    let size = match size {
        0 => end - at,
        1 => {
            file.read_exact(&mut h[8..16])?;
            u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]])
        }
        n => n,
    };
    Ok((size >= 8).then_some((size, kind, at)))
}

/// Patches every time field inside `data` (the moov box's children).
fn patch(data: &mut [u8], qt_secs: u64) {
    let mut at = 0;
    while at + 8 <= data.len() {
        let size =
            u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        if size < 8 || at + size > data.len() {
            return;
        }
        let kind = &data[at + 4..at + 8];
        let body = at + 8;
        match kind {
            b"trak" | b"mdia" => patch(&mut data[body..at + size], qt_secs),
            b"mvhd" | b"tkhd" | b"mdhd" if size >= 8 + 4 + 16 => {
                let version = data[body];
                if version == 1 && size >= 8 + 4 + 16 {
                    let v = qt_secs.to_be_bytes();
                    data[body + 4..body + 12].copy_from_slice(&v);
                    data[body + 12..body + 20].copy_from_slice(&v);
                } else {
                    let v = u32::try_from(qt_secs).unwrap_or(u32::MAX).to_be_bytes();
                    data[body + 4..body + 8].copy_from_slice(&v);
                    data[body + 8..body + 12].copy_from_slice(&v);
                }
            }
            _ => {}
        }
        at += size;
    }
}

/// Sets the times in `file` (the open temporary output: never reopened
/// by name) to `unix_secs`.
pub fn set_creation_time(mut file: File, unix_secs: u64) -> std::io::Result<()> {
    let end = file.metadata()?.len();
    let mut at = 0;
    while let Some((size, kind, start)) = box_header(&mut file, at, end)? {
        if &kind == b"moov" {
            let len = usize::try_from(size).unwrap_or(0);
            let mut data = vec![0u8; len];
            file.seek(SeekFrom::Start(start))?;
            file.read_exact(&mut data)?;
            patch(&mut data[8..], unix_secs + MP4_EPOCH_OFFSET);
            file.seek(SeekFrom::Start(start))?;
            file.write_all(&data)?;
            return Ok(());
        }
        at = start + size;
    }
    Ok(())
}
