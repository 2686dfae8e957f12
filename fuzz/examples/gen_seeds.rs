// SPDX-License-Identifier: MIT
//! Writes seed corpora for every fuzz target with the crate's own writers:
//! `cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds [corpus dir]`.

use cctv_fuzz::{join_rf1, nvr_seed, psf_seed, rf1_seed};
use gstcctv::formats::says::writer::AudioCodec;
use std::path::PathBuf;

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let write = |targets: &[&str], name: &str, bytes: &[u8]| {
        for t in targets {
            let dir = root.join(t);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    };
    let pavs = ["pavs_blocks", "pavsdemux_push", "pavs_engine"];
    write(&pavs, "one_camera", &psf_seed(1, 6, 3));
    write(&pavs, "two_cameras", &psf_seed(2, 4, 2));
    let one = psf_seed(1, 2, 1);
    write(&pavs, "single_block", &one[..one.len() / 2]);
    let says = ["says_chunks", "saysdemux_push", "says_engine"];
    write(&says, "mulaw", &nvr_seed(2, 8, AudioCodec::Mulaw, false));
    write(
        &says,
        "mulaw_doubled",
        &nvr_seed(1, 6, AudioCodec::Mulaw, true),
    );
    write(&says, "opus", &nvr_seed(1, 6, AudioCodec::Opus, false));
    // The chunk area alone: mutations there are not wasted on the header.
    let body = nvr_seed(2, 10, AudioCodec::Mulaw, false);
    write(&["says_chunks"], "chunks_only", &body[65536..]);
    let rf1 = ["rf1_index", "rf1src_files", "rf1_engine"];
    for (name, annexb, close) in [
        ("closed", true, true),
        ("crashed", true, false),
        ("bare_nalus", false, true),
    ] {
        let (index, packets) = rf1_seed(7, 3, annexb, close);
        write(&rf1, name, &join_rf1(&index, &packets));
    }
    // Cases: two files of one camera (the second later), and two cameras.
    let (a, b) = (psf_seed(1, 6, 3), psf_seed(1, 9, 3));
    write(&["case_timeline"], "one_camera_twice", &join_rf1(&a, &b));
    write(
        &["case_timeline"],
        "two_cameras",
        &join_rf1(&a, &psf_seed(2, 4, 2)),
    );
    println!("seeds in {}", root.display());
}
