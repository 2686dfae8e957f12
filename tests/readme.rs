// SPDX-License-Identifier: MIT
//! The README's `gst-launch-1.0` and `gst-discoverer-1.0` commands, run as
//! written on the real samples (the file names they use are the samples'
//! own; `/nvr/camera-0001` is the rf1 archive sample), so the README stays
//! true: each exits 0 without an error or warning, every file it writes is
//! a readable media file with frames in it, and the discoverer reports no
//! missing plugin.

mod support;

use std::path::Path;
use std::process::Command;

/// The shell commands of the README's `sh` blocks, continuation lines
/// joined, comments dropped.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let mut commands = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let line = line.split(" # ").next().unwrap_or("").trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// Frames of every stream of a media file, by ffprobe.
fn frames_per_stream(file: &Path) -> Vec<(String, u64)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .args(["stream=codec_type,nb_read_frames", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("ffprobe (scripts/setup.sh installs ffmpeg)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (kind, n) = l.split_once(',')?;
            Some((kind.to_string(), n.trim().parse().ok()?))
        })
        .collect()
}

#[test]
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
fn readme_pipelines_work_on_the_real_samples() {
    let samples = support::shared_samples("");
    let work = tempfile::tempdir().unwrap();
    // The README's input names are the samples' names.
    for dir in ["pavs", "says"] {
        for entry in std::fs::read_dir(samples.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            std::os::unix::fs::symlink(&path, work.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let archive = samples.join("rf1/archive_dir/camera-0001");
    let two_tracks = samples.join("rf1/two_tracks");
    // `/cases/backup`: a generated case, two files of ALLEY (9), one of DOOR (3).
    let case = work.path().join("cases/backup");
    std::fs::create_dir_all(&case).unwrap();
    const T0: u64 = 1_630_479_600_000_000_000;
    for (name, channel, camera, start_s) in [
        ("a.psf", 9, "ALLEY", 0),
        ("b.psf", 9, "ALLEY", 20),
        ("door.psf", 3, "DOOR", 0),
    ] {
        gstcctv::formats::pavs::writer::Recording::backup_camera(
            channel,
            camera,
            T0 + start_s * 1_000_000_000,
            40,
        )
        .write_file(&case.join(name))
        .unwrap();
    }
    let mut ran = 0;
    for command in readme_commands() {
        let is_launch = command.starts_with("gst-launch-1.0");
        let is_discoverer = command.starts_with("gst-discoverer-1.0");
        if !is_launch && !is_discoverer {
            continue;
        }
        // The lowres track is in the two-track sample, not the archive.
        let command = command
            .replace(
                "/nvr/camera-0001/1712815946731?tracks=lowres",
                &format!("{}/1712815946731?tracks=lowres", two_tracks.display()),
            )
            .replace("/nvr/camera-0001", &archive.display().to_string())
            .replace("/cases/backup", &case.display().to_string());
        eprintln!("README: {command}");
        let out = Command::new("timeout")
            .args(["120", "sh", "-c", &command])
            .current_dir(work.path())
            .env("GST_PLUGIN_PATH", support::plugin_dir())
            .env("GST_REGISTRY", work.path().join("registry.bin"))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{command}\n{text}");
        assert!(!text.contains("ERROR"), "{command}\n{text}");
        assert!(!text.contains("WARNING"), "{command}\n{text}");
        if is_discoverer {
            assert!(!text.contains("Missing plugins"), "{command}\n{text}");
            assert!(
                text.contains("video") || text.contains("Stream ID"),
                "{command}\n{text}"
            );
        }
        if command.contains("fdsink") {
            // The telemetry JSON, one object per frame.
            let json = String::from_utf8_lossy(&out.stdout);
            assert!(json.matches("\"ts\"").count() > 10, "{command}\n{json}");
        }
        for output in command
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("location="))
            .filter(|f| f.ends_with(".mp4") || f.ends_with(".mkv"))
        {
            let file = work.path().join(output);
            let streams = frames_per_stream(&file);
            assert!(
                streams.iter().any(|(k, n)| k == "video" && *n > 0),
                "{command}: {} has {streams:?}",
                file.display()
            );
            if command.contains("m.subtitle_%u") {
                assert!(
                    streams.iter().any(|(k, n)| k == "subtitle" && *n > 0),
                    "{command}: {} has {streams:?}",
                    file.display()
                );
            }
            if command.contains("m.audio_%u") {
                assert!(
                    streams.iter().any(|(k, n)| k == "audio" && *n > 0),
                    "{command}: {} has {streams:?}",
                    file.display()
                );
            }
            std::fs::remove_file(&file).unwrap();
        }
        ran += 1;
    }
    // pavsdemux 3, saysdemux 4, rf1src 2, discoverer 4 when this was written.
    assert!(ran >= 12, "only {ran} README commands found");
}

/// `vlc recording.psf` (README) shows a picture on a desktop: setup.sh
/// installs VLC's video outputs (vlc-plugin-video-output); with only
/// vlc-bin and vlc-plugin-base, VLC had no X11/Wayland/OpenGL output at all.
#[test]
fn vlc_has_a_desktop_video_output() {
    let mut cmd = std::process::Command::new("timeout");
    cmd.arg("60");
    // VLC refuses to run as root.
    if std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    {
        cmd.args(["runuser", "-u", "nobody", "--"]);
    }
    let out = cmd
        .args(["cvlc", "--list"])
        .output()
        .expect("cvlc (scripts/setup.sh installs vlc-bin)");
    let list = String::from_utf8_lossy(&out.stdout);
    let outputs = ["xcb_x11", "xcb_xv", "gl", "wl_shm"];
    assert!(
        list.lines()
            .any(|l| outputs.contains(&l.split_whitespace().next().unwrap_or(""))),
        "no desktop video output among VLC's modules:\n{list}"
    );
}
