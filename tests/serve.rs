// SPDX-License-Identifier: MIT
//! `cctv serve`: the server over plain HTTP (case, playback as fragmented
//! MP4, refusals, aborted requests, the token), and the page in a real
//! browser: Debian's chromium through chromedriver (W3C WebDriver, a small
//! client below). The browser tests are `#[ignore]`d so that they are
//! reported as skipped where chromium is not installed; `scripts/test.sh`
//! runs them (scripts/setup.sh installs chromium and chromium-driver).

use gstcctv::formats::pavs::writer::Recording;
use gstcctv::formats::says::MetaEntry;
use gstcctv::formats::says::writer::{
    AudioCodec, Gps, HeaderSpec, PictureChunks, SaysWriter, Telemetry,
};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// 2021-09-01 07:00:00 UTC, in ms.
const T0_MS: u64 = 1_630_479_600_000;
const S_NS: u64 = 1_000_000_000;
/// The dashcam starts 10 s later (ms).
const DASH_MS: u64 = T0_MS + 10_000;

fn psf(dir: &Path, name: &str, channel: u8, camera: &str, start_ms: u64, frames: u64) -> PathBuf {
    let path = dir.join(name);
    Recording {
        step_ns: S_NS / 10,
        gop: 20,
        ..Recording::backup_camera(channel, camera, start_ms * 1_000_000, frames)
    }
    .write_file(&path)
    .unwrap();
    path
}

/// A VMax backup: ALLEY (channel 9) in three consecutive 20 s files (one
/// copied twice), DOOR (channel 3) in two files with a pause; 10 fps, a
/// key frame every 2 s.
fn vmax_case(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    psf(dir, "b.psf", 9, "ALLEY", T0_MS, 200);
    let a2 = psf(dir, "a.psf", 9, "ALLEY", T0_MS + 20_000, 200);
    psf(dir, "c.psf", 9, "ALLEY", T0_MS + 40_000, 200);
    std::fs::copy(&a2, dir.join("copy.psf")).unwrap();
    psf(dir, "door1.psf", 3, "DOOR", T0_MS + 5_000, 150);
    psf(dir, "door2.psf", 3, "DOOR", T0_MS + 45_000, 100);
}

fn telemetry(frame: u32, ts_us: u64, t_s: f64) -> Vec<MetaEntry> {
    Telemetry {
        ts_us,
        speed: 30.0 + 10.0 * (t_s / 5.0).sin(),
        voltage: None,
        gps: Some(Gps {
            lat: 51.5 + t_s * 2e-4,
            lon: -0.12 + (t_s / 8.0).sin() * 1e-3,
            alt: Some(20.0),
        }),
        gsensor: Some([0.1 * (t_s / 3.0).sin(), 0.05, 1.0]),
        frame: Some(frame as i32),
    }
    .entries()
}

/// One dashcam file: two cameras (video_0 road, video_1 cabin), mu-law
/// audio, telemetry on every frame; 10 fps, a key frame every second.
fn nvr(path: &Path, start_ms: u64, frames: u32) {
    let header = HeaderSpec::recorder("dash.nvr", "v1.6.5", []);
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = SaysWriter::new(file, &header).unwrap();
    let mut pictures = PictureChunks::new(160, 96).unwrap();
    for f in 0..frames {
        let t_us = start_ms * 1000 + u64::from(f) * 100_000;
        let t_s = (t_us / 1000 - DASH_MS) as f64 / 1000.0;
        if f % 5 == 0 {
            let audio: Vec<u8> = (0..4000u32).map(|k| (k * 13 + f) as u8).collect();
            w.write_audio(
                0,
                AudioCodec::Mulaw,
                t_us.saturating_sub(20_000),
                &audio,
                false,
            )
            .unwrap();
        }
        for cam in 0..2u8 {
            let key = f % 10 == 0;
            let ts = t_us + u64::from(cam) * 3_000;
            let meta = telemetry(f, ts, t_s);
            pictures
                .write(&mut w, cam, key, ts, &meta, f + u32::from(cam) * 1000)
                .unwrap();
        }
    }
    w.flush().unwrap();
}

/// A dashcam folder: two consecutive 15 s files.
fn dash_case(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    nvr(&dir.join("20210901_070010.nvr"), DASH_MS, 150);
    nvr(&dir.join("20210901_070025.nvr"), DASH_MS + 15_000, 150);
}

// ---- the server -------------------------------------------------------------

struct Server {
    child: Child,
    base: String,
    port: u16,
    export_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Self::start_case(extra, false)
    }

    /// With `long`, a third folder holds GATE: one 10-minute file, so that
    /// playbacks outlast what a browser buffers and stay open on the
    /// server until the page seeks away.
    fn start_case(extra: &[&str], long: bool) -> Server {
        let dir = tempfile::tempdir().unwrap();
        vmax_case(&dir.path().join("vmax"));
        dash_case(&dir.path().join("dash"));
        let export_dir = dir.path().join("exports");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cctv"));
        cmd.arg("serve")
            .arg(dir.path().join("vmax"))
            .arg(dir.path().join("dash"));
        if long {
            let d = dir.path().join("long");
            std::fs::create_dir_all(&d).unwrap();
            // About 17 MB: more than the socket buffers hold.
            psf(&d, "gate.psf", 5, "GATE", T0_MS, 6000);
            cmd.arg(d);
        }
        cmd.args(["--port", "0", "--export-dir"])
            .arg(&export_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let base = loop {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "serve exited");
            if line.starts_with("http://") {
                break line.trim().to_string();
            }
        };
        // Keep reading its output so that it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let port = base
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Server {
            child,
            base,
            port,
            export_dir,
            _dir: dir,
        }
    }

    /// Every input file with its content (the server must not change one).
    fn inputs(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        for d in ["vmax", "dash", "long"] {
            let Ok(rd) = std::fs::read_dir(self._dir.path().join(d)) else {
                continue;
            };
            for e in rd {
                let p = e.unwrap().path();
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
        out.sort();
        out
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn get(&self, path: &str) -> Reply {
        http(self.port, "GET", path, &[], None)
    }

    fn json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        serde_json::from_slice(&r.body).unwrap()
    }

    fn fds(&self) -> usize {
        self.fd_list().len()
    }

    /// The descriptor count once it holds still (a connection that just
    /// answered is closed a moment later).
    fn quiet_fds(&self) -> usize {
        let mut last = self.fds();
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let n = self.fds();
            if n == last {
                return n;
            }
            last = n;
        }
    }

    /// The server's open descriptors (what each points to).
    fn fd_list(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| {
                let target = std::fs::read_link(e.path()).unwrap_or_default();
                format!("{}={}", e.file_name().to_string_lossy(), target.display())
            })
            .collect();
        v.sort();
        v
    }

    fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Waits until no pipeline is left running.
    fn settle(&self) -> usize {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let n = self.json("/api/status")["pipelines"].as_u64().unwrap() as usize;
            if n == 0 || Instant::now() > until {
                return n;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A `cctv serve` a test started by hand: killed when the test ends, also
/// when it fails (a server left running would hold the test harness's
/// output open, and the run would never end).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// One HTTP/1.1 request, the path sent as given (no normalisation).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    http_to(&format!("127.0.0.1:{port}"), method, path, headers, body)
}

fn http_to(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    if let Some(b) = body {
        s.write_all(b).unwrap();
    }
    // Read the head, then the body by its length, chunks or the close
    // (chromedriver keeps connections open).
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "no HTTP head");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let lower = head.to_ascii_lowercase();
    let length: Option<usize> = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    let mut body = raw[split + 4..].to_vec();
    if let Some(len) = length {
        while body.len() < len {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "short body");
            body.extend_from_slice(&buf[..n]);
        }
    } else if lower.contains("transfer-encoding: chunked") {
        while !body.ends_with(b"0\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        body = unchunk(&body);
    } else {
        s.read_to_end(&mut body).unwrap();
    }
    Reply { status, head, body }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

/// The top-level box types of an MP4.
fn boxes(mut b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let size = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&b[4..8]).to_string());
        if size < 8 || size > b.len() {
            break;
        }
        b = &b[size..];
    }
    out
}

/// Frames a stock decoder gets out of an MP4 (ffprobe -count_frames).
fn decoded_frames(mp4: &[u8]) -> u64 {
    let f = tempfile::Builder::new().suffix(".mp4").tempfile().unwrap();
    std::fs::write(f.path(), mp4).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(f.path())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// The codecs of an MP4's streams, in order (ffprobe).
fn codecs(mp4: &[u8]) -> Vec<String> {
    let f = tempfile::Builder::new().suffix(".mp4").tempfile().unwrap();
    std::fs::write(f.path(), mp4).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(f.path())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn camera<'a>(case: &'a Value, name: &str) -> &'a Value {
    case["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no camera {name} in {case:#}"))
}

fn cameras(case: &Value) -> Vec<(String, String)> {
    case["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_case_is_served_as_cameras_and_plays_as_fragmented_mp4_from_a_key_frame() {
    let srv = Server::start(&[]);
    let case = srv.json("/api/case");
    let mut names: Vec<String> = cameras(&case).into_iter().map(|(_, n)| n).collect();
    names.sort();
    assert_eq!(names.len(), 4, "{case:#}");
    assert!(names.contains(&"ALLEY [09]".to_string()), "{names:?}");
    assert!(names.contains(&"DOOR [03]".to_string()), "{names:?}");
    let alley = camera(&case, "ALLEY [09]");
    assert_eq!(alley["spans"].as_array().unwrap().len(), 3);
    assert_eq!(alley["duplicates"].as_array().unwrap().len(), 1);
    let door = camera(&case, "DOOR [03]");
    assert_eq!(door["gaps"].as_array().unwrap().len(), 1);
    // From 27.3 s into the case: the second ALLEY file, key frame at 26 s.
    let id = alley["id"].as_str().unwrap();
    let at = srv.json(&format!("/api/locate/{id}?t={}", T0_MS + 27_300));
    assert_eq!(
        at["start"].as_f64().unwrap(),
        (T0_MS + 26_000) as f64,
        "{at}"
    );
    assert_eq!(at["end"].as_u64().unwrap(), T0_MS + 39_900);
    assert_eq!(at["next"].as_u64().unwrap(), T0_MS + 40_000);
    let v = srv.get(at["src"].as_str().unwrap());
    assert_eq!(v.status, 200);
    assert!(v.head.contains("video/mp4"), "{}", v.head);
    // Made as it is sent: no resuming by byte offset.
    assert!(
        v.head.to_ascii_lowercase().contains("accept-ranges: none"),
        "{}",
        v.head
    );
    let src = at["src"].as_str().unwrap();
    let r = http(srv.port, "GET", src, &[("Range", "bytes=1000-")], None);
    assert_eq!(r.status, 416);
    let r = http(srv.port, "GET", src, &[("Range", "bytes=0-")], None);
    assert_eq!(r.status, 200);
    let b = boxes(&v.body);
    assert_eq!(&b[..2], ["ftyp", "moov"], "{b:?}");
    assert!(b.iter().filter(|x| *x == "moof").count() >= 2, "{b:?}");
    // 26 s .. the end of the file: 140 frames, stream-copied and decodable.
    assert_eq!(decoded_frames(&v.body), 140);
    assert_eq!(codecs(&v.body), ["h264"]);
    // In DOOR's gap: from the start of its next file.
    let id = door["id"].as_str().unwrap();
    let at = srv.json(&format!("/api/locate/{id}?t={}", T0_MS + 24_496));
    assert_eq!(
        at["start"].as_f64().unwrap(),
        (T0_MS + 45_000) as f64,
        "{at}"
    );
    assert_eq!(
        decoded_frames(&srv.get(at["src"].as_str().unwrap()).body),
        100
    );
    // A dashcam camera too.
    let road = case["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["format"] == "says")
        .unwrap();
    let at = srv.json(&format!(
        "/api/locate/{}?t={}",
        road["id"].as_str().unwrap(),
        DASH_MS + 16_500
    ));
    let start = at["start"].as_f64().unwrap();
    assert!(
        (DASH_MS as f64 + 16_000.0..DASH_MS as f64 + 16_010.0).contains(&start),
        "{at}"
    );
    let v = srv.get(at["src"].as_str().unwrap());
    assert_eq!(decoded_frames(&v.body), 140);
    // With the dashcam's microphone, mu-law transcoded to AAC.
    assert_eq!(codecs(&v.body), ["h264", "aac"]);
    // The telemetry of the camera across both files.
    let track = srv.json(&format!("/api/track/{}", road["id"].as_str().unwrap()));
    assert_eq!(track.as_array().unwrap().len(), 300);
    assert_eq!(track[0][0].as_u64().unwrap(), DASH_MS);
    assert_eq!(track[0][4], json!([0.0, 0.05, 1.0]));
    assert_eq!(srv.settle(), 0);
}

#[test]
fn requests_reach_only_catalogued_items_and_the_server_listens_on_loopback() {
    let srv = Server::start(&[]);
    for path in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/assets/../../etc/passwd",
        "/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/assets/..%2fCargo.toml",
        "/assets/%2Fetc%2Fpasswd",
        "/etc/passwd",
        "//etc/passwd",
        "/api/video/..%2f..%2f..%2fetc%2fpasswd?t=0",
        "/api/video/%2Fetc%2Fpasswd?t=0",
        "/api/track/..",
        "/exports/1/..%2f..%2fetc%2fpasswd",
        "/exports/../../etc/passwd",
        "/index.html",
        "/assets/index.html",
    ] {
        let r = srv.get(path);
        assert_eq!(
            r.status,
            404,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(
            !String::from_utf8_lossy(&r.body).contains("root:"),
            "{path}"
        );
    }
    assert_eq!(srv.get("/assets/app.js").status, 200);
    // A request addressed to another name (DNS rebinding) is refused.
    let r = http(
        srv.port,
        "GET",
        "/api/case",
        &[("Host", "attacker.example")],
        None,
    );
    assert_eq!(r.status, 403);
    // Listening on 127.0.0.1 only: the kernel's table, and a connection to
    // this machine's other address is refused.
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap()
        + &std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    let listening: Vec<&str> = tcp
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[3] == "0A" && f[1].ends_with(&format!(":{:04X}", srv.port))
        })
        .collect();
    assert_eq!(listening.len(), 1, "{listening:?}");
    assert!(
        listening[0]
            .split_whitespace()
            .nth(1)
            .unwrap()
            .starts_with("0100007F:")
    );
    if let Some(ip) = own_address() {
        assert!(
            TcpStream::connect((ip, srv.port)).is_err(),
            "reachable on {ip}"
        );
    }
}

/// This machine's address on its default route (no packet is sent).
fn own_address() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn another_address_needs_the_token_on_every_request() {
    let srv = Server::start(&["--listen", "0.0.0.0"]);
    let token = srv
        .base
        .split("token=")
        .nth(1)
        .expect("token in URL")
        .to_string();
    assert_eq!(token.len(), 32);
    let addr = format!("127.0.0.1:{}", srv.port);
    assert_eq!(http_to(&addr, "GET", "/", &[], None).status, 403);
    assert_eq!(http_to(&addr, "GET", "/api/case", &[], None).status, 403);
    assert_eq!(
        http_to(&addr, "GET", "/api/case?token=0000", &[], None).status,
        403
    );
    let r = http_to(&addr, "GET", &format!("/?token={token}"), &[], None);
    assert_eq!(r.status, 200);
    assert!(
        r.head.contains(&format!("cctv_token={token}")),
        "{}",
        r.head
    );
    let cookie = format!("cctv_token={token}");
    let r = http_to(&addr, "GET", "/api/case", &[("Cookie", &cookie)], None);
    assert_eq!(r.status, 200);
}

#[test]
fn aborted_playbacks_leave_no_pipeline_and_no_descriptor() {
    let srv = Server::start(&[]);
    let case = srv.json("/api/case");
    let ids: Vec<String> = cameras(&case).into_iter().map(|(i, _)| i).collect();
    // Warm up (the first use of each element opens plugin files).
    for id in &ids {
        let at = srv.json(&format!("/api/locate/{id}?t={}", DASH_MS + 1000));
        srv.get(at["src"].as_str().unwrap());
    }
    assert_eq!(srv.settle(), 0);
    let before = srv.quiet_fds();
    // 40 requests closed after the first bytes, as a seeking page does.
    let mut open = Vec::new();
    for i in 0..40 {
        let id = &ids[i % ids.len()];
        let mut s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
        let req = format!(
            "GET /api/video/{id}?t={} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            DASH_MS + (i as u64 % 10) * 1000
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = [0u8; 2048];
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        if i % 2 == 0 {
            drop(s);
        } else {
            open.push(s);
        }
    }
    drop(open);
    assert_eq!(srv.settle(), 0, "pipelines left running");
    let until = Instant::now() + Duration::from_secs(10);
    while srv.fds() != before && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(srv.fds(), before, "descriptors leaked");
}

// ---- the page in chromium (WebDriver) ---------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Headless chromium driven through chromedriver.
struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
            "needs chromium and chromium-driver (scripts/setup.sh installs them)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < until, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--autoplay-policy=no-user-gesture-required",
                    "--disable-background-networking",
                    "--disable-background-media-suspend",
                    "--disable-renderer-backgrounding",
                    "--disable-backgrounding-occluded-windows",
                    "--disable-background-timer-throttling",
                    "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let mut b = Browser {
            driver,
            addr,
            session: String::new(),
            _profile: profile,
        };
        let v = b.raw("POST", "/session", Some(caps));
        b.session = v["sessionId"].as_str().expect("session").to_string();
        b
    }

    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let r = http_to(
            &self.addr,
            method,
            path,
            &[],
            body.as_deref().map(str::as_bytes),
        );
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        assert_eq!(r.status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let p = format!("/session/{}{path}", self.session);
        self.raw(method, &p, (method == "POST").then_some(body))
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({"url": url}));
    }

    fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
    }

    /// Polls `script` until it returns something truthy.
    fn wait(&self, what: &str, script: &str, args: Value, secs: u64) -> Value {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.exec(script, args.clone());
            if !(v.is_null() || v == false || v == 0 || v == "") {
                return v;
            }
            if Instant::now() > until {
                let state = self.exec(
                    "return {tiles: S.tiles.map(t => [t.cam.id, t.start, t.caption.textContent,
                        t.video.currentTime, t.video.readyState, t.video.networkState,
                        t.video.getAttribute('src'), t.video.error && t.video.error.message]),
                        errors: S.errors, last: S.lastError}",
                    json!([]),
                );
                panic!("timed out waiting for {what}; page: {state}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn find(&self, css: &str) -> Value {
        let v = self.cmd(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        let mut m = serde_json::Map::new();
        m.insert(ELEMENT.to_string(), v[ELEMENT].clone());
        Value::Object(m)
    }

    fn click(&self, element: &Value) {
        let id = element[ELEMENT].as_str().unwrap();
        self.cmd("POST", &format!("/element/{id}/click"), json!({}));
    }

    /// Real pointer input: press at `from` px and release at `to` px from
    /// the element's centre (the same point: a click).
    fn drag(&self, element: &Value, from: i64, to: i64) {
        let actions = json!({"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "origin": element, "x": from, "y": 0},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerMove", "origin": element, "x": to, "y": 0, "duration": 100},
                {"type": "pointerUp", "button": 0},
            ],
        }]});
        self.cmd("POST", "/actions", actions);
        self.cmd("DELETE", "/actions", json!({}));
    }

    fn screenshot(&self) -> Vec<u8> {
        let v = self.cmd("GET", "/screenshot", json!({}));
        base64(v.as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http_to(
                &self.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                &[],
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64(text: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !b"=\r\n".contains(c)).collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= u32::from(val(c)) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// The x offset (px from the centre of `[data-camera=ID] .track`) of a
/// capture time on the page's timeline.
const OFFSET_OF: &str = "const tr = document.querySelector(`[data-camera=\"${arguments[0]}\"] .track`);
    const r = tr.getBoundingClientRect();
    return Math.round((arguments[1] - S.view[0]) / (S.view[1] - S.view[0]) * r.width - r.width / 2);";

/// Clicks camera `id`'s row at capture time `t_ms`.
fn click_row_at(b: &Browser, id: &str, t_ms: u64) {
    let dx = b.exec(OFFSET_OF, json!([id, t_ms])).as_i64().unwrap();
    let track = b.find(&format!("[data-camera=\"{id}\"] .track"));
    b.drag(&track, dx, dx);
}

/// Waits until camera `id`'s video has decoded frames and its time has
/// advanced; returns (frames, currentTime, shown capture time ms, text).
fn wait_playing(b: &Browser, id: &str) -> (u64, f64, f64, String) {
    // Frames, the video's time, the tile's start, error, and (for the
    // first tile, whose clock the page shows) the shown capture time,
    // refreshed first.
    let probe = "const tile = S.tiles.find(t => t.cam.id === arguments[0]);
        if (!tile || tile.start == null) return null;
        const v = tile.video;
        tick();
        const c = document.getElementById('capture-time');
        const master = S.tiles[0] === tile;
        return [v.getVideoPlaybackQuality().totalVideoFrames, v.currentTime,
                master ? Number(c.dataset.ms || 0) : tileTime(tile), c.textContent,
                tile.start, v.error && v.error.message, master, tile.starts];";
    let first = b.wait(
        "frames decoded",
        &format!(
            "const x = (() => {{ {probe} }})(); return x && x[0] > 0 && x[1] > 0.3 ? x : null;"
        ),
        json!([id]),
        60,
    );
    let t1 = first[1].as_f64().unwrap();
    let now = b.wait(
        "time advancing",
        &format!("const x = (() => {{ {probe} }})(); return x && x[1] > {t1} + 0.5 ? x : null;"),
        json!([id]),
        60,
    );
    assert!(now[5].is_null(), "video error {now}");
    // The shown time is the key frame's capture time plus the video's time.
    let shown = now[2].as_f64().unwrap();
    let expect = now[4].as_f64().unwrap() + now[1].as_f64().unwrap() * 1000.0;
    assert!((shown - expect).abs() < 300.0, "{first} -> {now}");
    (
        now[0].as_u64().unwrap(),
        now[1].as_f64().unwrap(),
        shown,
        now[3].as_str().unwrap().to_string(),
    )
}

/// Waits until the grid's two tiles show the same capture time (within
/// 400 ms).
fn wait_in_sync(b: &Browser) {
    b.wait(
        "the grid in sync",
        "const t = S.tiles.map(t => tileTime(t));
         return t.length === 2 && t.every(x => x != null) && Math.abs(t[0] - t[1]) < 400 ? t : null;",
        json!([]),
        30,
    );
}

/// One browser at a time: the machine is small.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn open_page(srv: &Server) -> Browser {
    let b = Browser::start();
    b.goto(&srv.base);
    b.wait(
        "the page",
        "return document.body.dataset.ready === 'true'",
        json!([]),
        30,
    );
    b
}

fn utc_text(ms: u64) -> String {
    // 2021-09-01 07:MM:SS for the times used here.
    let s = (ms - T0_MS) / 1000;
    format!("2021-09-01 07:{:02}:{:02}", s / 60, s % 60)
}

#[test]
#[ignore = "needs chromium and chromium-driver (scripts/setup.sh); run by scripts/test.sh"]
fn page_lists_every_camera_and_plays_the_clicked_one_at_its_capture_time() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let srv = Server::start(&[]);
    let case = srv.json("/api/case");
    let b = open_page(&srv);
    for (id, name) in cameras(&case) {
        let text = b.exec(
            "const r = document.querySelector(`[data-camera=\"${arguments[0]}\"]`);
             return r && r.classList.contains('row') ? r.querySelector('.label').textContent : null;",
            json!([id]),
        );
        assert!(
            text.as_str().is_some_and(|t| t.contains(&name)),
            "row of {id}: {text}"
        );
    }
    // Zoom: the buttons halve and double the visible span, Fit shows the
    // whole case again.
    let span = |b: &Browser| {
        b.exec("return S.view[1] - S.view[0]", json!([]))
            .as_f64()
            .unwrap()
    };
    let whole = span(&b);
    b.click(&b.find("#zoom-in"));
    assert!((span(&b) - whole / 2.0).abs() < 1.0);
    b.click(&b.find("#zoom-fit"));
    assert_eq!(span(&b), whole);
    // ALLEY at 07:00:27: the key frame at 07:00:26 of the second file.
    let alley = camera(&case, "ALLEY [09]")["id"]
        .as_str()
        .unwrap()
        .to_string();
    click_row_at(&b, &alley, T0_MS + 27_000);
    let (frames, ct, shown, text) = wait_playing(&b, &alley);
    let start = b
        .exec("return S.tiles[0].start", json!([]))
        .as_f64()
        .unwrap();
    assert_eq!(start, (T0_MS + 26_000) as f64);
    println!("ALLEY: {frames} frames decoded, currentTime {ct:.2} s, shown {text}");
    assert!(
        shown >= (T0_MS + 26_000) as f64 && shown < (T0_MS + 40_000) as f64,
        "{shown}"
    );
    assert_eq!(text, utc_text(shown as u64));
    let playing = b.exec(
        "return document.getElementById('playing').textContent",
        json!([]),
    );
    assert_eq!(playing, "ALLEY [09]");
    // DOOR at 07:00:48, in its second file after the gap: the key frame at
    // 07:00:47 (that file starts at 45 s, a key frame every 2 s).
    let door = camera(&case, "DOOR [03]")["id"]
        .as_str()
        .unwrap()
        .to_string();
    click_row_at(&b, &door, T0_MS + 48_000);
    let (_, _, shown, _) = wait_playing(&b, &door);
    let start = b
        .exec("return S.tiles[0].start", json!([]))
        .as_f64()
        .unwrap();
    assert_eq!(start, (T0_MS + 47_000) as f64);
    assert!(
        shown >= (T0_MS + 47_000) as f64 && shown < (T0_MS + 55_000) as f64,
        "{shown}"
    );
    // Only the clicked camera plays.
    let tiles = b.exec(
        "return document.querySelectorAll('.tile').length",
        json!([]),
    );
    assert_eq!(tiles, 1);
    // A second camera in the grid, following the same clock.
    let add = b.find(&format!(
        "[data-camera=\"{alley}\"] [data-role=add-to-grid]"
    ));
    b.click(&add);
    let (_, _, _, _) = wait_playing(&b, &alley);
    // ALLEY starts at its own key frame, up to 2 s off DOOR's clock, and
    // catches up.
    wait_in_sync(&b);
    let png = b.screenshot();
    assert_eq!(&png[1..4], b"PNG");
    // At the end of a file playback goes on with the camera's next one:
    // ALLEY from 07:00:38.5 reaches its third file (07:00:40).
    click_row_at(&b, &alley, T0_MS + 38_500);
    let next = b.wait(
        "the next file",
        "const t = S.tiles[0]; return t && t.cam.id === arguments[0] && t.start === arguments[1]
            && t.video.currentTime > 0.5 ? t.video.getVideoPlaybackQuality().totalVideoFrames : null;",
        json!([alley, T0_MS + 40_000]),
        60,
    );
    assert!(next.as_u64().unwrap() > 0);
}

#[test]
#[ignore = "needs chromium and chromium-driver (scripts/setup.sh); run by scripts/test.sh"]
fn page_dashcam_map_draws_the_track_offline_and_follows_playback() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let srv = Server::start(&[]);
    let case = srv.json("/api/case");
    let b = open_page(&srv);
    let road = case["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["format"] == "says" && c["stream"] == "video_0")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    click_row_at(&b, &road, DASH_MS + 13_000);
    let (_, _, shown, _) = wait_playing(&b, &road);
    assert!(shown >= (DASH_MS + 12_000) as f64, "{shown}");
    let map = b.wait(
        "the map",
        "const m = document.querySelector('[data-role=map]');
         const l = m && m.querySelector('polyline');
         return l && !m.closest('[hidden]') ? [m.dataset.points, l.getAttribute('points').split(' ').length] : null;",
        json!([]),
        30,
    );
    // Every fix of both files (150 + 150).
    assert_eq!(map, json!(["300", 300]));
    let pos = |b: &Browser| {
        b.exec(
            "const p = document.querySelector('[data-role=map] [data-role=position]');
             return [p.getAttribute('cx'), p.getAttribute('cy'), document.getElementById('speed').textContent];",
            json!([]),
        )
    };
    let p1 = pos(&b);
    let speed = p1[2].as_str().unwrap();
    assert!(
        speed.starts_with("Speed: ") && speed.ends_with(" km/h"),
        "{speed}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let p2 = pos(&b);
    assert_ne!(p1[1], p2[1], "the position does not move: {p1} {p2}");
    let chart = b.exec(
        "const c = document.querySelector('[data-role=speed-chart]');
         const n = (sel) => c.querySelector(sel).getAttribute('points').split(' ').length;
         return [n('polyline.speed'), n('polyline.g')];",
        json!([]),
    );
    // Speed and the g-sensor's magnitude, every sample of both files.
    assert_eq!(chart, json!([300, 300]));
    // The cabin camera beside it, on the same clock.
    let cabin = case["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["format"] == "says" && c["stream"] == "video_1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    b.click(&b.find(&format!(
        "[data-camera=\"{cabin}\"] [data-role=add-to-grid]"
    )));
    wait_playing(&b, &cabin);
    wait_in_sync(&b);
    if let Ok(path) = std::env::var("CCTV_SERVE_SCREENSHOT") {
        std::fs::write(path, b.screenshot()).unwrap();
    }
}

#[test]
#[ignore = "needs chromium and chromium-driver (scripts/setup.sh); run by scripts/test.sh"]
fn page_export_passes_cctv_verify() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let srv = Server::start(&[]);
    let case = srv.json("/api/case");
    let b = open_page(&srv);
    let alley = camera(&case, "ALLEY [09]")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let door = camera(&case, "DOOR [03]")["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Select 07:00:15 .. 07:00:25 by dragging on the time axis.
    let axis = b.find("#axis");
    let off = |t: u64| {
        b.exec(
            "const r = document.getElementById('axis').getBoundingClientRect();
             return Math.round((arguments[0] - S.view[0]) / (S.view[1] - S.view[0]) * r.width - r.width / 2);",
            json!([t]),
        )
        .as_i64()
        .unwrap()
    };
    b.drag(&axis, off(T0_MS + 15_000), off(T0_MS + 25_000));
    let from = b.exec(
        "return document.getElementById('export-from').value",
        json!([]),
    );
    assert!(
        from.as_str().unwrap().starts_with("2021-09-01 07:00:1"),
        "{from}"
    );
    // Exact window typed in, both VMax cameras ticked.
    b.exec(
        "document.getElementById('export-from').value = '2021-09-01 07:00:15';
         document.getElementById('export-to').value = '2021-09-01 07:00:25';",
        json!([]),
    );
    for id in [&alley, &door] {
        let boxed = b.find(&format!("#export-cameras input[data-camera=\"{id}\"]"));
        b.click(&boxed);
    }
    b.click(&b.find("[data-role=export-run]"));
    let ok = b.wait(
        "the export",
        "return document.querySelector('[data-role=export-result]').dataset.ok",
        json!([]),
        180,
    );
    assert_eq!(ok, "true");
    let links: Vec<String> = b
        .exec(
            "return [...document.querySelectorAll('[data-role=export-result] a')].map(a => a.dataset.name)",
            json!([]),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let manifests: Vec<&String> = links
        .iter()
        .filter(|n| n.ends_with(".manifest.json"))
        .collect();
    // ALLEY is in two files in that window, DOOR in one.
    assert!(manifests.len() >= 2, "{links:?}");
    assert!(
        links.iter().any(|n| n.ends_with(".report.html")),
        "{links:?}"
    );
    assert!(links.iter().any(|n| n.ends_with(".mp4")), "{links:?}");
    // The page's links serve those files.
    let dir = srv.export_dir.join("export-1");
    let report = links.iter().find(|n| n.ends_with(".report.html")).unwrap();
    assert_eq!(srv.get(&format!("/exports/1/{report}")).status, 200);
    let mp4 = links.iter().find(|n| n.ends_with(".mp4")).unwrap();
    let got = srv.get(&format!("/exports/1/{mp4}"));
    assert_eq!(got.status, 200);
    assert_eq!(got.body, std::fs::read(dir.join(mp4)).unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_cctv"))
        .arg("verify")
        .args(manifests.iter().map(|m| dir.join(m)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 8 pages playing and seeking at once (`CCTV_SERVE_LOAD_SECONDS`, 6 s by
/// default, 30 s for the full run): no playback error on any page, every
/// page still plays at the end, no pipeline left, as many descriptors as
/// before, memory bounded.
#[test]
#[ignore = "needs chromium and chromium-driver (scripts/setup.sh); run by scripts/test.sh"]
fn page_load_eight_pages_playing_and_seeking_leave_no_pipeline_descriptor_or_growth() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let secs: u64 = std::env::var("CCTV_SERVE_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let srv = Server::start_case(&[], true);
    let case = srv.json("/api/case");
    // Warm up: the first use of each element opens plugin files.
    for (id, _) in cameras(&case) {
        let at = srv.json(&format!("/api/locate/{id}?t={}", DASH_MS + 1000));
        if id.contains("gate") {
            continue;
        }
        srv.get(at["src"].as_str().unwrap());
    }
    assert_eq!(srv.settle(), 0);
    let fds_before = srv.quiet_fds();
    let list_before = srv.fd_list();
    let rss_before = srv.rss_kib();
    let b = Browser::start();
    let mut windows = vec![
        b.cmd("GET", "/window", json!({}))
            .as_str()
            .unwrap()
            .to_string(),
    ];
    for _ in 1..8 {
        let w = b.cmd("POST", "/window/new", json!({"type": "window"}));
        windows.push(w["handle"].as_str().unwrap().to_string());
    }
    for w in &windows {
        b.cmd("POST", "/window", json!({"handle": w}));
        b.goto(&srv.base);
        b.wait(
            "the page",
            "return document.body.dataset.ready === 'true'",
            json!([]),
            30,
        );
    }
    // Each round, every page seeks: another camera or time (the request
    // it was reading is aborted), every third round with a second camera
    // in its grid.
    let seek = "const [i, round] = arguments;
        const cam = S.cams[(i + round) % S.cams.length];
        const sp = cam.spans[(i * 7 + round) % cam.spans.length];
        const t = sp.from + ((i * 7919 + round * 104729) % Math.max(1, sp.to - sp.from - 1500));
        playOnly(cam, t);
        if (round % 3 === 2) addTile(S.cams[(i + round + 1) % S.cams.length], t);
        return S.errors ? S.lastError : 0;";
    let start = Instant::now();
    let (mut rounds, mut seeks, mut rss_max, mut busiest) = (0u64, 0u64, rss_before, 0u64);
    while start.elapsed() < Duration::from_secs(secs) {
        for (i, w) in windows.iter().enumerate() {
            b.cmd("POST", "/window", json!({"handle": w}));
            let errors = b.exec(seek, json!([i, rounds]));
            assert_eq!(errors, 0, "page {i}: playback errors");
            seeks += 1;
        }
        rss_max = rss_max.max(srv.rss_kib());
        busiest = busiest.max(srv.json("/api/status")["pipelines"].as_u64().unwrap());
        rounds += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    // Every page still plays what it last asked for, without error.
    let mut frames = 0;
    for (i, w) in windows.iter().enumerate() {
        b.cmd("POST", "/window", json!({"handle": w}));
        let v = b.wait(
            "playback after the load",
            "const t = S.tiles[0]; if (!t || S.errors) return S.errors ? [-1, S.errors] : null;
             const q = t.video.getVideoPlaybackQuality().totalVideoFrames;
             return q > 0 && t.video.currentTime > 0.2 ? [q, 0] : null;",
            json!([]),
            90,
        );
        assert_eq!(v[1], 0, "page {i}: playback errors");
        frames += v[0].as_u64().unwrap();
        rss_max = rss_max.max(srv.rss_kib());
    }
    let during = srv.json("/api/status")["pipelines"].as_u64().unwrap();
    drop(b);
    let left = srv.settle();
    let until = Instant::now() + Duration::from_secs(10);
    while srv.fds() != fds_before && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    let fds_after = srv.fds();
    let rss_after = srv.rss_kib();
    println!(
        "load: 8 pages, {secs} s, {rounds} rounds, {seeks} seeks, up to {busiest} pipelines at once, {during} at the end \
         ({frames} frames decoded by the last requests); server fds {fds_before} -> {fds_after}; \
         RSS {rss_before} KiB before, {rss_max} KiB max, {rss_after} KiB after"
    );
    assert_eq!(left, 0, "pipelines left running");
    assert_eq!(
        fds_after,
        fds_before,
        "descriptors: {list_before:?} -> {:?}",
        srv.fd_list()
    );
    assert!(
        rss_max < rss_before + 400 * 1024,
        "memory grew from {rss_before} to {rss_max} KiB"
    );
}

#[test]
fn concurrent_clients_all_get_their_start_and_their_video() {
    let srv = Server::start(&[]);
    let case = srv.json("/api/case");
    let ids: Vec<String> = cameras(&case).into_iter().map(|(i, _)| i).collect();
    let port = srv.port;
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..24u64)
            .map(|i| {
                let id = ids[i as usize % ids.len()].clone();
                s.spawn(move || {
                    let t = T0_MS + (i * 2_300) % 50_000;
                    let r = http(port, "GET", &format!("/api/locate/{id}?t={t}"), &[], None);
                    if r.status == 404 {
                        return None; // nothing recorded from then
                    }
                    if r.status != 200 {
                        return Some(format!(
                            "{id} {t}: {} {}",
                            r.status,
                            String::from_utf8_lossy(&r.body)
                        ));
                    }
                    let at: Value = serde_json::from_slice(&r.body).unwrap();
                    let v = http(port, "GET", at["src"].as_str().unwrap(), &[], None);
                    (v.status != 200 || !boxes(&v.body).contains(&"moof".to_string()))
                        .then(|| format!("{id} {t}: video {}", v.status))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(srv.settle(), 0);
}

#[test]
fn a_clock_offset_corrects_the_pages_times_and_goes_into_the_export() {
    // The recorders were 2 minutes fast.
    let srv = Server::start(&["--clock-offset", "+120"]);
    let inputs = srv.inputs();
    let case = srv.json("/api/case");
    assert_eq!(case["clock_offset_s"], 120.0);
    let alley = camera(&case, "ALLEY [09]");
    let c = |ms: u64| ms - 120_000;
    assert_eq!(alley["spans"][0]["from"].as_u64().unwrap(), c(T0_MS));
    let id = alley["id"].as_str().unwrap();
    let at = srv.json(&format!("/api/locate/{id}?t={}", c(T0_MS + 27_300)));
    assert_eq!(
        at["start"].as_f64().unwrap(),
        c(T0_MS + 26_000) as f64,
        "{at}"
    );
    assert_eq!(
        decoded_frames(&srv.get(at["src"].as_str().unwrap()).body),
        140
    );
    let road = case["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["format"] == "says")
        .unwrap();
    let track = srv.json(&format!("/api/track/{}", road["id"].as_str().unwrap()));
    assert_eq!(track[0][0].as_u64().unwrap(), c(DASH_MS));
    // The page's window is in corrected time: 06:58:15..25 is recorded
    // 07:00:15..25, in two ALLEY files; the manifests carry the offset.
    let body = json!({"from": c(T0_MS + 15_000), "to": c(T0_MS + 25_000), "cameras": [id]});
    let r = http(
        srv.port,
        "POST",
        "/api/export",
        &[],
        Some(body.to_string().as_bytes()),
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(r.status, 200, "{v}");
    let manifests: Vec<PathBuf> = v["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .filter(|n| n.ends_with(".manifest.json"))
        .map(|n| srv.export_dir.join("export-1").join(n))
        .collect();
    // One output per camera: the window's files joined.
    assert_eq!(manifests.len(), 1, "{v}");
    for m in &manifests {
        let j: Value = serde_json::from_slice(&std::fs::read(m).unwrap()).unwrap();
        assert_eq!(j["clock_offset_s"], 120.0, "{m:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cctv"))
        .arg("verify")
        .args(&manifests)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Playback, track and export only read the inputs.
    assert!(srv.inputs() == inputs, "an input changed");
}

/// `../shared/samples` (the repo's convention: `#[ignore]`d, run by
/// scripts/test.sh where the samples exist).
fn samples() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/samples");
    assert!(p.is_dir(), "needs {}", p.display());
    p
}

#[test]
#[ignore = "needs ../shared/samples"]
fn sample_recordings_of_every_format_play_from_a_time() {
    let s = samples();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cctv"));
    cmd.arg("serve")
        .arg(s.join("pavs"))
        .arg(s.join("says"))
        .arg(s.join("rf1/h264_basic"))
        .arg(s.join("rf1/two_tracks"));
    let export = tempfile::tempdir().unwrap();
    cmd.args(["--port", "0", "--export-dir"])
        .arg(export.path())
        .stdout(Stdio::piped());
    let mut child = Running(cmd.spawn().unwrap());
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let port: u16 = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "serve exited");
        if let Some(rest) = line.trim().strip_prefix("http://127.0.0.1:") {
            break rest.trim_end_matches('/').parse().unwrap();
        }
    };
    let get = |path: &str| http(port, "GET", path, &[], None);
    let case: Value = serde_json::from_slice(&get("/api/case").body).unwrap();
    let mut names: Vec<&str> = case["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["ALLEY [09]", "Cabin", "Road", "lowres", "video", "video"]
    );
    for cam in case["cameras"].as_array().unwrap() {
        let id = cam["id"].as_str().unwrap();
        let t = cam["spans"][0]["from"].as_u64().unwrap() + 3000;
        let r = get(&format!("/api/locate/{id}?t={t}"));
        assert_eq!(r.status, 200, "{id}: {}", String::from_utf8_lossy(&r.body));
        let at: Value = serde_json::from_slice(&r.body).unwrap();
        let start = at["start"].as_f64().unwrap();
        assert!(
            start <= t as f64 && start > t as f64 - 10_000.0,
            "{id}: {at}"
        );
        let v = get(at["src"].as_str().unwrap());
        assert!(decoded_frames(&v.body) > 0, "{id}: no frame");
        let audio = codecs(&v.body).contains(&"aac".to_string());
        assert_eq!(audio, cam["format"] == "says", "{id}");
    }
    drop(child);
}

#[test]
fn a_damaged_recording_plays_what_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = psf(dir.path(), "hurt.psf", 2, "YARD", T0_MS, 200);
    // 4 KiB of garbage in the middle of the file.
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    for (i, b) in bytes[mid..mid + 4096].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_cctv"))
            .arg("serve")
            .arg(dir.path())
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let port: u16 = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "serve exited");
        if let Some(rest) = line.trim().strip_prefix("http://127.0.0.1:") {
            break rest.trim_end_matches('/').parse().unwrap();
        }
    };
    let case: Value =
        serde_json::from_slice(&http(port, "GET", "/api/case", &[], None).body).unwrap();
    let id = case["cameras"][0]["id"].as_str().unwrap().to_string();
    let at: Value = serde_json::from_slice(
        &http(
            port,
            "GET",
            &format!("/api/locate/{id}?t={T0_MS}"),
            &[],
            None,
        )
        .body,
    )
    .unwrap();
    let v = http(port, "GET", at["src"].as_str().unwrap(), &[], None);
    assert_eq!(v.status, 200);
    // The frames before and after the damage: most of the 200.
    let n = decoded_frames(&v.body);
    assert!((150..200).contains(&n), "{n} frames");
    drop(child);
}

#[test]
fn beyond_max_playbacks_requests_are_told_to_retry() {
    let srv = Server::start_case(&["--max-playbacks", "2"], true);
    let case = srv.json("/api/case");
    let gate = camera(&case, "GATE [05]")["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Two playbacks of the 10-minute file, not read: their pipelines wait
    // for the clients.
    let held: Vec<TcpStream> = (0..2)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
            let req = format!(
                "GET /api/video/{gate}?t={} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                T0_MS + i * 60_000
            );
            s.write_all(req.as_bytes()).unwrap();
            let mut buf = [0u8; 1024];
            assert!(s.read(&mut buf).unwrap() > 0);
            s
        })
        .collect();
    assert_eq!(srv.json("/api/status")["pipelines"], 2);
    let r = srv.get(&format!("/api/video/{gate}?t={T0_MS}"));
    assert_eq!(r.status, 503);
    assert!(
        r.head.to_ascii_lowercase().contains("retry-after: 1"),
        "{}",
        r.head
    );
    assert_eq!(
        srv.get(&format!("/api/locate/{gate}?t={T0_MS}")).status,
        503
    );
    drop(held);
    assert_eq!(srv.settle(), 0);
    assert_eq!(
        srv.get(&format!("/api/locate/{gate}?t={T0_MS}")).status,
        200
    );
}
