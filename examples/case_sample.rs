// SPDX-License-Identifier: MIT
//! Writes a small VMax backup folder with the crate's own writer, as DVR
//! owners hold them: camera 9 ("ALLEY") in two consecutive files, named out
//! of time order, an exact copy of one of them, and camera 3 ("DOOR") in a
//! file of its own; decodable pictures, 2 fps, a key frame every 2 s.
//!
//! Usage: case_sample DIR

use gstcctv::formats::pavs::writer::Recording;

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "backup".into()));
    std::fs::create_dir_all(&dir)?;
    // 2021-09-01 07:00:00 UTC.
    let t0: u64 = 1_630_479_600_000_000_000;
    let s: u64 = 1_000_000_000;
    let files = [
        ("ch09-0710.psf", 9, "ALLEY", t0 + 20 * s, 40),
        ("ch09-0700.psf", 9, "ALLEY", t0, 40),
        ("ch03.psf", 3, "DOOR", t0 + 5 * s, 50),
    ];
    for (name, channel, camera, start, frames) in files {
        Recording {
            width: 352,
            height: 240,
            gop: 4,
            ..Recording::backup_camera(channel, camera, start, frames)
        }
        .write_file(&dir.join(name))?;
    }
    std::fs::copy(dir.join("ch09-0700.psf"), dir.join("copy-of-ch09-0700.psf"))?;
    println!(
        "{}: 4 files, cameras 9 (two files and a copy) and 3",
        dir.display()
    );
    Ok(())
}
