// SPDX-License-Identifier: MIT
//! Writes a small but realistic VMax `.psf` with the crate's own writer: one
//! camera at 2 fps, a key frame every 2 frames (like the real DVR), decodable
//! I_PCM pictures, and a recording gap of one hour in the middle.
//!
//! Usage: psf_sample OUTPUT.psf

use gstcctv::formats::pavs::writer::{Gap, Recording};

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sample.psf".into());
    let (width, height) = (352u16, 240u16);
    // 2021-09-01 07:00:01.454448 UTC, as in the real samples (the default).
    let bytes = Recording {
        width,
        height,
        frames: 40,
        first_sequence: 3_236_634_410,
        sequence_step: 24,
        gap: Some(Gap {
            before_frame: 20,
            ns: 3600 * 1_000_000_000,
        }),
        ..Recording::default()
    }
    .write_file(path.as_ref())?;
    println!(
        "wrote {path}: 40 blocks, {bytes} bytes, camera 9 \"ALLEY\", {width}x{height}, a 1 h gap after 10 s"
    );
    Ok(())
}
