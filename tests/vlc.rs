// SPDX-License-Identifier: MIT
//! The VLC demux module (`vlc/cctv.c` on the C ABI of `src/capi.rs`) in real
//! VLC 3, headless: the module is built with `scripts/build-vlc.sh`, found
//! through `VLC_PLUGIN_PATH`, and `cvlc` remuxes recordings to files that
//! ffmpeg/ffprobe then read. VLC refuses to run as root: as root the tests
//! run it as `nobody` (inputs copied into a temporary directory that user
//! can read and write). Every VLC run is bounded by `timeout`.
//!
//! VLC's TS muxer keeps the last ~200 ms of the PCR stream back and drops
//! them when it closes (a VLC limitation: the raw and PS muxers get every
//! frame), so the tests that count every frame use `mux=ps`, and the TS
//! checks allow for that tail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Seconds any one VLC run may take.
const VLC_TIMEOUT: u32 = 90;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shared_samples(dir: &str) -> PathBuf {
    let path = manifest().join("../shared/samples").join(dir);
    assert!(path.is_dir(), "needs {}", path.display());
    path
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Builds the module once: the path of `libcctv_plugin.so`.
fn module() -> &'static Path {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE.get_or_init(|| {
        let out = manifest().join("target/vlc/test-module");
        let status = Command::new("timeout")
            .args(["600", "scripts/build-vlc.sh"])
            .arg(&out)
            .current_dir(manifest())
            .status()
            .expect("run scripts/build-vlc.sh");
        assert!(status.success(), "scripts/build-vlc.sh failed");
        let so = out.join("libcctv_plugin.so");
        assert!(so.is_file());
        so
    })
}

/// A directory VLC (as `nobody`) reads the module and inputs from and
/// writes its output to.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cctv-vlc-")
            .tempdir()
            .unwrap();
        chmod(dir.path(), 0o777);
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        chmod(&plugins, 0o755);
        let so = plugins.join("libcctv_plugin.so");
        std::fs::copy(module(), &so).unwrap();
        chmod(&so, 0o755);
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Copies a file (or a directory, one level) in, readable by all.
    fn input(&self, from: &Path) -> PathBuf {
        let to = self.path(&from.file_name().unwrap().to_string_lossy());
        if from.is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            chmod(&to, 0o755);
            for e in std::fs::read_dir(from).unwrap() {
                let e = e.unwrap();
                if e.path().is_file() {
                    let t = to.join(e.file_name());
                    std::fs::copy(e.path(), &t).unwrap();
                    chmod(&t, 0o644);
                }
            }
        } else {
            std::fs::copy(from, &to).unwrap();
            chmod(&to, 0o644);
        }
        to
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        chmod(&p, 0o644);
        p
    }

    /// Runs `cvlc` on `inputs` with `sout` (and `args`): VLC's log (-vv)
    /// and whether it exited normally.
    fn vlc(&self, inputs: &[PathBuf], args: &[&str], sout: &str) -> VlcRun {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", &VLC_TIMEOUT.to_string()]);
        if is_root() {
            cmd.args(["runuser", "-u", "nobody", "--"]);
        }
        cmd.arg("env")
            .arg(format!(
                "VLC_PLUGIN_PATH={}",
                self.path("plugins").display()
            ))
            .arg(format!("HOME={}", self.dir.path().display()))
            .args([
                "cvlc",
                "-I",
                "dummy",
                "-vv",
                "--no-audio",
                "--play-and-exit",
            ])
            .args(args)
            .args(inputs)
            .args(["--sout", sout, "vlc://quit"])
            .current_dir(self.dir.path());
        let out = cmd
            .output()
            .expect("run cvlc (scripts/setup.sh installs vlc-bin)");
        let log = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert_ne!(
            out.status.code(),
            Some(124),
            "VLC timed out:\n{}",
            tail(&log)
        );
        VlcRun {
            ok: out.status.success(),
            status: format!("{:?}", out.status),
            log,
        }
    }

    /// Remuxes `input` into `name` with `mux`.
    fn remux(&self, input: &Path, name: &str, mux: &str, args: &[&str]) -> (PathBuf, VlcRun) {
        let dst = self.path(name);
        let run = self.vlc(
            &[input.to_path_buf()],
            args,
            &format!("#std{{access=file,mux={mux},dst={}}}", dst.display()),
        );
        assert!(run.ok, "VLC failed ({}):\n{}", run.status, tail(&run.log));
        assert!(run.claimed(), "not claimed by cctv:\n{}", tail(&run.log));
        (dst, run)
    }
}

struct VlcRun {
    ok: bool,
    status: String,
    log: String,
}

impl VlcRun {
    fn claimed(&self) -> bool {
        self.log.contains("using demux module \"cctv\"")
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.contains("lua") && !l.contains("nonexistent"))
        .collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `timeout`-bounded command output (stdout), asserting success.
fn run_tool(args: &[&str]) -> Vec<u8> {
    let out = Command::new("timeout")
        .arg("120")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// MD5s of the decoded pictures (decoder output as is: I420 layout).
fn decoded_md5s(file: &Path, width: usize, height: usize) -> Vec<String> {
    use md5::Digest;
    let raw = run_tool(&[
        "ffmpeg",
        "-v",
        "error",
        "-i",
        &file.to_string_lossy(),
        "-map",
        "0:v:0",
        "-f",
        "rawvideo",
        "-",
    ]);
    let frame = width * height * 3 / 2;
    assert_eq!(raw.len() % frame, 0);
    raw.chunks(frame)
        .map(|f| format!("{:x}", md5::Md5::digest(f)))
        .collect()
}

/// (codec_type, codec_name, frames) of every stream ffprobe finds.
fn probe_streams(file: &Path) -> Vec<(String, String, u64)> {
    let json = run_tool(&[
        "ffprobe",
        "-v",
        "error",
        "-count_frames",
        "-show_entries",
        "stream=codec_type,codec_name,nb_read_frames",
        "-of",
        "json",
        &file.to_string_lossy(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["codec_type"].as_str().unwrap_or("").to_string(),
                s["codec_name"].as_str().unwrap_or("").to_string(),
                s["nb_read_frames"]
                    .as_str()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
            )
        })
        .collect()
}

fn expected_video1() -> Vec<String> {
    expected_pictures("video1")
}

fn expected_pictures(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(shared_samples("pavs").join("expected.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[name]["decoded_i420_frame_md5"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn psf_remuxed_by_vlc_decodes_to_the_expected_pictures() {
    let work = Work::new();
    let input = work.input(&shared_samples("pavs").join("video1.psf"));
    let want = expected_video1();
    assert_eq!(want.len(), 18);
    // Every picture through the PS muxer.
    let (ps, run) = work.remux(&input, "video1.ps", "ps", &[]);
    assert_eq!(decoded_md5s(&ps, 704, 240), want);
    // The input meta reaches VLC: the title names the playlist item.
    assert!(run.log.contains("ALLEY [09]"), "{}", tail(&run.log));
    // Through TS, the command of the issue: the same pictures, but VLC's TS
    // muxer drops what it holds back of the stream's end (the last one).
    let (ts, _) = work.remux(&input, "video1.ts", "ts", &[]);
    let got = decoded_md5s(&ts, 704, 240);
    assert!(got.len() >= 17, "{} pictures", got.len());
    assert_eq!(got[..], want[..got.len()]);
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn two_camera_nvr_gives_two_video_streams_and_the_audio() {
    let work = Work::new();
    let input = work.input(&shared_samples("says").join("two_cameras.nvr"));
    // TS cannot carry mu-law: VLC decodes it (our ES) and re-encodes it.
    // The README's options: every camera and the audio, not the telemetry
    // subtitle ES, which TS kept as two undecodable private streams.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains("cvlc -I dummy --play-and-exit --sout-all --no-sout-spu x.nvr"),
        "README's TS example"
    );
    let dst = work.path("nvr.ts");
    let run = work.vlc(
        &[input],
        &["--sout-all", "--no-sout-spu"],
        &format!(
            "#transcode{{acodec=mp4a,ab=64,samplerate=48000}}:std{{access=file,mux=ts,dst={}}}",
            dst.display()
        ),
    );
    assert!(run.ok && run.claimed(), "{}", tail(&run.log));
    let streams = probe_streams(&dst);
    let video: Vec<_> = streams.iter().filter(|s| s.0 == "video").collect();
    let audio: Vec<_> = streams.iter().filter(|s| s.0 == "audio").collect();
    assert_eq!(video.len(), 2, "{streams:?}");
    assert!(
        video.iter().all(|v| v.1 == "h264" && v.2 >= 100),
        "{streams:?}"
    );
    assert_eq!(audio.len(), 1, "{streams:?}");
    assert!(audio[0].2 > 100, "{streams:?}");
    assert_eq!(streams.len(), 3, "only video and audio: {streams:?}");
    // Camera names as ES descriptions, mu-law as VLC's mlaw.
    assert!(run.log.contains("mlaw"), "{}", tail(&run.log));
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn rf1_track_path_gives_all_its_frames_and_start_time_seeks() {
    let work = Work::new();
    let dir = work.input(&shared_samples("rf1").join("h264_basic"));
    // 300 frames, 10 fps, IDR every 30 frames.
    for track in ["1712815946731_video.rf1i", "1712815946731_video.rf1p"] {
        let (ps, _) = work.remux(&dir.join(track), "rf1.ps", "ps", &[]);
        let all = decoded_md5s(&ps, 320, 240);
        assert_eq!(all.len(), 300, "{track}");
        // --start-time=20: every stream restarts at its key frame at or
        // before 20 s: frame 180 (18 s), and plays to the end.
        let (ps, _) = work.remux(&dir.join(track), "rf1-seek.ps", "ps", &["--start-time=20"]);
        let seeked = decoded_md5s(&ps, 320, 240);
        assert_eq!(seeked[..], all[180..], "{track}");
    }
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn rf1_camera_directory_plays_its_segments_as_one_stream() {
    let work = Work::new();
    let dir = work.input(&shared_samples("rf1").join("archive_dir/camera-0001"));
    // Three segments of 200 frames each, VLC's filesystem access lists the
    // directory and the module claims it.
    let (ps, _) = work.remux(&dir, "dir.ps", "ps", &[]);
    assert_eq!(decoded_md5s(&ps, 320, 240).len(), 600);
    // A directory without rf1 segments is left to VLC's directory demuxer.
    let other = work.path("not-rf1");
    std::fs::create_dir(&other).unwrap();
    chmod(&other, 0o755);
    work.write("not-rf1/a.txt", b"hello");
    let run = work.vlc(
        &[other],
        &[],
        &format!(
            "#std{{access=file,mux=ps,dst={}}}",
            work.path("o.ps").display()
        ),
    );
    assert!(!run.claimed(), "{}", tail(&run.log));
}

#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn start_time_seeks_a_psf_to_the_key_frame_before_it() {
    let work = Work::new();
    let input = work.input(&shared_samples("pavs").join("video1.psf"));
    let want = expected_video1();
    // video1: key, delta pairs, 0.5 s apart; the 5 h jump after picture 5
    // is compacted to one frame (VLC module), so picture 6 is at 3.0 s.
    let (ps, _) = work.remux(&input, "seek.ps", "ps", &["--start-time=3.2"]);
    assert_eq!(decoded_md5s(&ps, 704, 240)[..], want[6..]);
    let (ps, _) = work.remux(&input, "seek2.ps", "ps", &["--start-time=1.1"]);
    assert_eq!(decoded_md5s(&ps, 704, 240)[..], want[2..]);
}

/// Damaged and odd recordings play every intact frame: garbage between
/// chunks, a truncated last chunk, timestamps that run backwards or repeat.
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn damaged_files_play_every_intact_frame() {
    let work = Work::new();
    for name in ["video2", "video3"] {
        let input = work.input(&shared_samples("pavs").join(format!("{name}.psf")));
        let (ps, _) = work.remux(&input, &format!("{name}.ps"), "ps", &[]);
        assert_eq!(
            decoded_md5s(&ps, 704, 240),
            expected_pictures(name),
            "{name}"
        );
    }
    // garbage.nvr: 120 video chunks around a garbage region; truncated.nvr:
    // 61 complete video chunks before the cut one (the samples' index.json).
    for (name, frames) in [("garbage", 120), ("truncated", 61)] {
        let input = work.input(&shared_samples("says").join(format!("{name}.nvr")));
        let (ps, _) = work.remux(&input, &format!("{name}.ps"), "ps", &[]);
        let streams = probe_streams(&ps);
        let video: Vec<_> = streams.iter().filter(|s| s.0 == "video").collect();
        assert_eq!(video.len(), 1, "{name}: {streams:?}");
        assert_eq!(video[0].2, frames, "{name}: {streams:?}");
    }
}

/// The C ABI from C without VLC (tests/capi.c): streams, meta, packets,
/// duration and seeks as the shim uses them.
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn c_abi_from_c() {
    module();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest().join("target"));
    let lib = target.join("vlc/release/libgstcctv.a");
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("capi_test");
    let m = manifest();
    run_tool(&[
        "cc",
        "-O1",
        "-Wall",
        "-Werror",
        &format!("-I{}", m.join("vlc").display()),
        &m.join("tests/capi.c").to_string_lossy(),
        &lib.to_string_lossy(),
        "-lgcc_s",
        "-lutil",
        "-lrt",
        "-lpthread",
        "-lm",
        "-ldl",
        "-o",
        &exe.to_string_lossy(),
    ]);
    let samples = shared_samples("");
    let out = run_tool(&[&exe.to_string_lossy(), &samples.to_string_lossy()]);
    assert!(String::from_utf8_lossy(&out).contains("all checks passed"));
}

#[test]
fn mp4_mkv_ts_jpeg_and_random_files_are_not_claimed() {
    let work = Work::new();
    let mut inputs = Vec::new();
    for (name, codec) in [
        ("clip.mp4", "mpeg4"),
        ("clip.mkv", "mpeg4"),
        ("clip.ts", "mpeg2video"),
        ("still.jpg", "mjpeg"),
    ] {
        let path = work.path(name);
        let frames = if name.ends_with(".jpg") { "1" } else { "10" };
        run_tool(&[
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=1:size=64x48:rate=10",
            "-frames:v",
            frames,
            "-c:v",
            codec,
            "-pix_fmt",
            "yuvj420p",
            &path.to_string_lossy(),
        ]);
        chmod(&path, 0o644);
        inputs.push(path);
    }
    let mut x: u32 = 0x1234_5678;
    let random: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    inputs.push(work.write("random.psf", &random));
    for input in inputs {
        let dst = work.path("out.ts");
        let run = work.vlc(
            std::slice::from_ref(&input),
            &[],
            &format!("#std{{access=file,mux=ts,dst={}}}", dst.display()),
        );
        assert!(
            run.log.contains("looking for demux module"),
            "{}",
            tail(&run.log)
        );
        assert!(
            !run.claimed(),
            "{} claimed:\n{}",
            input.display(),
            tail(&run.log)
        );
        if !input.ends_with("random.psf") {
            // ...but by VLC's own demuxer for it.
            assert!(run.log.contains("using demux module"), "{}", tail(&run.log));
        }
    }
}

/// Damaged inputs through the module: truncations, flipped bytes, zeroed
/// and duplicated ranges of every sample format. VLC must not crash or hang;
/// most stay claimed (every intact frame is played).
#[ignore = "needs ../shared/samples (scripts/test.sh runs it where they exist)"]
#[test]
fn mutated_recordings_do_not_crash_vlc() {
    let work = Work::new();
    let mut inputs = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    for (dir, file) in [
        ("pavs", "video1.psf"),
        ("pavs", "video3.psf"),
        ("says", "two_cameras.nvr"),
        ("says", "opus.nvr"),
        ("says", "with_jpeg.nvr"),
    ] {
        let bytes = std::fs::read(shared_samples(dir).join(file)).unwrap();
        let ext = file.rsplit('.').next().unwrap();
        for i in 0..8 {
            let mut m = bytes.clone();
            match i % 4 {
                0 => m.truncate(rnd(bytes.len())),
                1 => {
                    for _ in 0..64 {
                        let at = rnd(m.len());
                        m[at] ^= 1 << rnd(8);
                    }
                }
                2 => {
                    let at = rnd(m.len());
                    let len = rnd(8192).min(m.len() - at);
                    m[at..at + len].fill(0);
                }
                _ => {
                    let at = rnd(m.len());
                    let len = rnd(4096).min(m.len() - at);
                    let piece = m[at..at + len].to_vec();
                    let to = rnd(m.len());
                    m.splice(to..to, piece);
                }
            }
            // Keep the magic so the module (not another demuxer) gets it.
            m.get_mut(..4)
                .map(|h| h.copy_from_slice(&bytes[..4]))
                .unwrap_or(());
            inputs.push(work.write(&format!("m{}-{i}.{ext}", inputs.len()), &m));
        }
    }
    // One VLC run per input (a playlist with --sout does not exit).
    let mut claimed = 0;
    for input in &inputs {
        let run = work.vlc(
            std::slice::from_ref(input),
            &[],
            &format!(
                "#std{{access=file,mux=ps,dst={}}}",
                work.path("mut.ps").display()
            ),
        );
        assert!(
            run.ok,
            "VLC {} on {}:\n{}",
            run.status,
            input.display(),
            tail(&run.log)
        );
        claimed += usize::from(run.claimed());
    }
    assert!(claimed >= inputs.len() / 2, "{claimed} of {}", inputs.len());
}
