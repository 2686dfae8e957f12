// SPDX-License-Identifier: MIT
//! Writes a small but realistic VMax `.psf` with the crate's own writer: one
//! camera at 2 fps, a key frame every 2 frames (like the real DVR), decodable
//! I_PCM pictures, and a recording gap of one hour in the middle.
//!
//! Usage: psf_sample OUTPUT.psf

use gstcctv::formats::pavs::writer::{BlockSpec, write_block};
use gstcctv::h264::{BaselineParams, SyntheticEncoder, test_picture};
use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sample.psf".into());
    let (width, height) = (352u16, 240u16);
    let params = BaselineParams::for_size(width.into(), height.into()).expect("valid size");
    let mut encoder = SyntheticEncoder::new(params);
    let mut out = BufWriter::new(std::fs::File::create(&path)?);
    // 2021-09-01 07:00:01.454448 UTC, as in the real samples.
    let start_ns: u64 = 1_630_479_601_454_448_000;
    let mut bytes = 0;
    for i in 0..40u64 {
        let gap = if i >= 20 { 3600 * 1_000_000_000 } else { 0 };
        let key = i % 2 == 0;
        let payload = if key {
            let (y, u, v) = test_picture(width.into(), height.into(), i as u32);
            encoder.key_frame(&y, &u, &v)
        } else {
            encoder.skip_frame()
        };
        let spec = BlockSpec {
            channel: 9,
            camera_name: "ALLEY".into(),
            width,
            height,
            key,
            capture_time_ns: start_ns + i * 500_000_000 + gap,
            sequence: 3_236_634_410 + i as u32 * 24,
        };
        bytes += write_block(&mut out, &spec, &payload)?;
    }
    out.flush()?;
    println!(
        "wrote {path}: 40 blocks, {bytes} bytes, camera 9 \"ALLEY\", {width}x{height}, a 1 h gap after 10 s"
    );
    Ok(())
}
