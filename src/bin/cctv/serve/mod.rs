// SPDX-License-Identifier: MIT
//! `cctv serve`: a case in the browser. The inputs are catalogued once
//! (cameras with their spans across files); a local web application shows
//! them on one wall-clock timeline, plays any camera from any time
//! (remuxed to fragmented MP4, never re-encoded: [`stream`]), draws a
//! dashcam's GPS track and speed, and runs `cctv convert`'s evidence export
//! for a window and cameras chosen on the page.
//!
//! Safety: requests name catalogued items by id and bundled assets by a
//! fixed table; no part of a request path is joined onto the file system.
//! Loopback by default (and then only requests addressed to a loopback
//! host, against DNS rebinding); any other `--listen` address needs the
//! random token printed in the URL on every request.

mod stream;

use crate::evidence::{corrected_of, parse_clock_offset, recorded_of};
use crate::inputs::{self, Kind};
use crate::scan;
use crate::telemetry::sample_of;
use crate::times::rfc3339_utc;
use crate::{ConvertArgs, Gaps, OutFormat};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gstcctv::engine::catalog::{Camera, Catalog, FormatKind};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Recordings: files, rf1 segments or camera directories, or directories searched recursively.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// TCP port (0: any free port).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on. Anything but loopback requires the access
    /// token printed in the URL.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub listen: IpAddr,
    /// Where exports are written (default: a new temporary directory).
    #[arg(long, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,
    /// How far the recorder's clock was ahead of true time (negative:
    /// behind), as for `cctv convert`: the page shows and takes corrected
    /// times, exports carry the offset.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub clock_offset: Option<String>,
    /// Playbacks served at once; more are answered 503 (try again).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_playbacks: usize,
}

const INDEX_HTML: &str = include_str!("assets/index.html");
/// The page's own files, by the name in its URL: nothing else is served.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
];

struct Server {
    catalog: Catalog,
    /// Camera id → index in `catalog.cameras`.
    ids: HashMap<String, usize>,
    token: Option<String>,
    export_dir: PathBuf,
    /// `--clock-offset` (ns) and as given.
    offset_ns: i64,
    offset_text: Option<String>,
    /// Export id → its files (name, path): what `/exports/` may serve.
    exports: Mutex<Vec<Vec<(String, PathBuf)>>>,
    /// One export at a time (they use every core).
    export_lock: tokio::sync::Mutex<()>,
    tracks: Mutex<HashMap<String, Arc<Value>>>,
}

type Shared = Arc<Server>;

fn kind_of(f: FormatKind) -> Kind {
    match f {
        FormatKind::Pavs => Kind::Pavs,
        FormatKind::Says => Kind::Says,
        FormatKind::Rf1 => Kind::Rf1,
    }
}

fn format_of(k: Kind) -> FormatKind {
    match k {
        Kind::Pavs => FormatKind::Pavs,
        Kind::Says => FormatKind::Says,
        Kind::Rf1 => FormatKind::Rf1,
    }
}

const MS: u64 = 1_000_000;

impl Server {
    /// A recorded capture time (ns) as the page shows it: corrected, ms.
    fn ms(&self, recorded_ns: u64) -> u64 {
        corrected_of(recorded_ns, self.offset_ns) / MS
    }
    /// A time from the page (corrected, ms) as recorded, ns.
    fn recorded(&self, corrected_ms: u64) -> u64 {
        recorded_of(corrected_ms.saturating_mul(MS), self.offset_ns)
    }
}

pub fn run(args: &ServeArgs) -> bool {
    stream::LIMIT.store(
        args.max_playbacks.max(1),
        std::sync::atomic::Ordering::SeqCst,
    );
    let offset_ns = match args.clock_offset.as_deref().map(parse_clock_offset) {
        None => 0,
        Some(Ok(ns)) => ns,
        Some(Err(e)) => {
            eprintln!("cctv: --clock-offset: {e}");
            return false;
        }
    };
    let (recordings, failures) = inputs::expand(&args.inputs);
    for f in &failures {
        eprintln!("cctv: {}: {}", f.name.display(), f.reason);
    }
    let list: Vec<(PathBuf, FormatKind)> = recordings
        .iter()
        .map(|r| (r.path.clone(), format_of(r.kind)))
        .collect();
    let catalog = Catalog::build(&list);
    for s in &catalog.skipped {
        eprintln!("cctv: {}: {}", s.path.display(), s.reason);
    }
    if catalog.cameras.is_empty() {
        eprintln!("cctv: no camera to serve");
        return false;
    }
    let export_dir = match &args.export_dir {
        Some(d) => d.clone(),
        // Kept after the server stops: exports are what the user came for
        // (its path is printed at start).
        None => match tempfile::Builder::new().prefix("cctv-exports-").tempdir() {
            Ok(t) => t.keep(),
            Err(e) => {
                eprintln!("cctv: cannot create an export directory: {e}");
                return false;
            }
        },
    };
    if let Err(e) = std::fs::create_dir_all(&export_dir) {
        eprintln!("cctv: {}: {e}", export_dir.display());
        return false;
    }
    let token = if args.listen.is_loopback() {
        None
    } else {
        match random_token() {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("cctv: no random token: {e}");
                return false;
            }
        }
    };
    let ids = catalog
        .cameras
        .iter()
        .enumerate()
        .map(|(i, c)| (c.key.id(), i))
        .collect();
    let server = Arc::new(Server {
        catalog,
        ids,
        token,
        export_dir,
        offset_ns,
        offset_text: args.clock_offset.clone(),
        exports: Mutex::new(Vec::new()),
        export_lock: tokio::sync::Mutex::new(()),
        tracks: Mutex::new(HashMap::new()),
    });
    // Ctrl-C ends the server (and the exports' own handler, installed
    // later by `cctv convert`'s code, is then a no-op).
    let _ = ctrlc::set_handler(|| std::process::exit(0));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cctv: {e}");
            return false;
        }
    };
    let addr = SocketAddr::new(args.listen, args.port);
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("cctv: cannot listen on {addr}: {e}");
                return false;
            }
        };
        let local = listener.local_addr().unwrap_or(addr);
        let host = match local.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) if ip == Ipv4Addr::UNSPECIFIED => "127.0.0.1".into(),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let query = server
            .token
            .as_ref()
            .map(|t| format!("?token={t}"))
            .unwrap_or_default();
        println!(
            "cctv serve: {} cameras from {} files; exports in {}",
            server.catalog.cameras.len(),
            server.catalog.files.len(),
            server.export_dir.display()
        );
        println!("http://{host}:{}/{query}", local.port());
        let app = router(server);
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("cctv: {e}");
            return false;
        }
        true
    })
}

fn random_token() -> std::io::Result<String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn router(server: Shared) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
        .route("/api/case", get(case))
        .route("/api/status", get(status))
        .route("/api/locate/{id}", get(locate))
        .route("/api/video/{id}", get(video))
        .route("/api/track/{id}", get(track))
        .route("/api/export", post(export))
        .route("/exports/{job}/{name}", get(exported))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(server.clone(), guard))
        .with_state(server)
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The access rules, before any handler.
async fn guard(State(s): State<Shared>, req: Request, next: Next) -> Response {
    match &s.token {
        None => {
            // Loopback: only requests addressed to a loopback name, so
            // that a web page elsewhere cannot rebind its name to us.
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            if !loopback_host(host) {
                return (StatusCode::FORBIDDEN, "forbidden host\n").into_response();
            }
            next.run(req).await
        }
        Some(token) => {
            let in_query = req.uri().query().is_some_and(|q| {
                q.split('&')
                    .any(|kv| kv.strip_prefix("token=") == Some(token.as_str()))
            });
            let in_cookie = req
                .headers()
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .any(|c| c.trim().strip_prefix("cctv_token=") == Some(token.as_str()));
            if !in_query && !in_cookie {
                return (StatusCode::FORBIDDEN, "access token required\n").into_response();
            }
            let mut resp = next.run(req).await;
            if in_query
                && let Ok(v) = HeaderValue::from_str(&format!(
                    "cctv_token={token}; HttpOnly; SameSite=Strict; Path=/"
                ))
            {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
    }
}

fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn index() -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response();
    // Bundled assets only: no script or media from anywhere else.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; media-src 'self' blob:",
        ),
    );
    r
}

async fn asset(UrlPath(name): UrlPath<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => ([(header::CONTENT_TYPE, *mime)], *body).into_response(),
        None => not_found().await,
    }
}

async fn status() -> Response {
    no_store(
        axum::Json(json!({
            "pipelines": stream::ACTIVE.load(std::sync::atomic::Ordering::SeqCst),
        }))
        .into_response(),
    )
}

fn camera_json(s: &Server, c: &Camera) -> Value {
    let file_name = |i: usize| {
        s.catalog.files[i]
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    };
    json!({
        "id": c.key.id(),
        "name": c.name,
        "format": c.key.format.name(),
        // Who recorded it (serial, model, camera directory), to tell
        // cameras of the same name apart.
        "device": std::path::Path::new(&c.key.device)
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        "stream": c.key.stream,
        "spans": c.spans.iter().map(|sp| json!({
            "file": file_name(sp.file),
            "from": s.ms(sp.first_wall_ns),
            "to": s.ms(sp.last_wall_ns),
        })).collect::<Vec<_>>(),
        "gaps": c.gaps.iter().map(|(a, b)| json!([s.ms(*a), s.ms(*b)])).collect::<Vec<_>>(),
        "overlaps": c.overlaps.iter().map(|(a, b)| json!({
            "from": s.ms(c.spans[*b].first_wall_ns),
            "to": s.ms(c.spans[*a].last_wall_ns.min(c.spans[*b].last_wall_ns)),
        })).collect::<Vec<_>>(),
        "duplicates": c.duplicates.iter().map(|(d, o)| json!({
            "file": file_name(*d), "of": file_name(*o),
        })).collect::<Vec<_>>(),
        "telemetry": c.key.format == FormatKind::Says,
    })
}

async fn case(State(s): State<Shared>) -> Response {
    let cams: Vec<Value> = s
        .catalog
        .cameras
        .iter()
        .map(|c| camera_json(&s, c))
        .collect();
    no_store(
        axum::Json(json!({
            "cameras": cams,
            "files": s.catalog.files.len(),
            "clock_offset_s": s.offset_ns as f64 / 1e9,
            "skipped": s.catalog.skipped.iter().map(|k| json!({
                "file": k.path.file_name().map(|n| n.to_string_lossy().to_string()),
                "reason": k.reason,
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
    )
}

#[derive(serde::Deserialize)]
struct At {
    /// Capture time, Unix ms.
    t: u64,
}

/// The span of `cam` that plays from `t` (ns): the one holding it, else the
/// next one; and the start of the span after it.
fn span_at(s: &Server, cam: &Camera, t: u64) -> Option<(stream::Source, u64, u64, Option<u64>)> {
    let i = cam
        .spans
        .iter()
        .position(|sp| sp.first_wall_ns <= t && t <= sp.last_wall_ns)
        .or_else(|| cam.spans.iter().position(|sp| sp.first_wall_ns > t))?;
    let sp = &cam.spans[i];
    let file = &s.catalog.files[sp.file];
    let fs = file.streams.iter().find(|f| f.key == cam.key)?;
    let src = stream::Source {
        path: file.path.clone(),
        kind: kind_of(file.format),
        pad: cam.key.stream.clone(),
        h265: matches!(fs.info.codec, gstcctv::engine::Codec::H265),
        first_wall_ns: fs.first_wall_ns,
    };
    let next = cam
        .spans
        .iter()
        .map(|n| n.first_wall_ns)
        .filter(|&f| f > sp.last_wall_ns)
        .min();
    Some((src, t.max(sp.first_wall_ns), sp.last_wall_ns, next))
}

fn camera<'a>(s: &'a Server, id: &str) -> Option<&'a Camera> {
    s.ids.get(id).map(|&i| &s.catalog.cameras[i])
}

/// Where playback from `t` starts: the key frame's capture time, the end of
/// its span and the next span, and the URL that plays it.
async fn locate(
    State(s): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(at): Query<At>,
) -> Response {
    let Some(cam) = camera(&s, &id) else {
        return not_found().await;
    };
    let Some((src, t, end, next)) = span_at(&s, cam, s.recorded(at.t)) else {
        return (StatusCode::NOT_FOUND, "nothing recorded from then\n").into_response();
    };
    let found = tokio::task::spawn_blocking(move || stream::locate(&src, t)).await;
    match found {
        Ok(Ok(start)) => no_store(
            axum::Json(json!({
                "start": corrected_of(start, s.offset_ns) as f64 / MS as f64,
                "end": s.ms(end),
                "next": next.map(|n| s.ms(n)),
                "src": format!("/api/video/{id}?t={}", s.ms(t)),
            }))
            .into_response(),
        ),
        Ok(Err(e)) => failed(&e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// A playback that could not start: busy (503, retry) or the recording.
fn failed(e: &anyhow::Error) -> Response {
    if e.is::<stream::Busy>() {
        let mut r = (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    (StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}\n")).into_response()
}

async fn video(
    State(s): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(at): Query<At>,
    headers: HeaderMap,
) -> Response {
    let Some(cam) = camera(&s, &id) else {
        return not_found().await;
    };
    // A playback is made as it is sent: it has no byte offsets to resume
    // from. A browser asking for the rest of an earlier response is told
    // so (it then errors and the page starts again from its time) rather
    // than given bytes from the start as if they were the rest.
    let resumes = headers
        .get(header::RANGE)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.trim().strip_prefix("bytes="))
        .is_some_and(|r| !r.starts_with("0-"));
    if resumes {
        return (
            StatusCode::RANGE_NOT_SATISFIABLE,
            "a playback cannot be resumed by offset\n",
        )
            .into_response();
    }
    let Some((src, t, _, _)) = span_at(&s, cam, s.recorded(at.t)) else {
        return not_found().await;
    };
    match tokio::task::spawn_blocking(move || stream::play(&src, t)).await {
        Ok(Ok(p)) => {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
            (h, Body::from_stream(p)).into_response()
        }
        Ok(Err(e)) => failed(&e),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// The dashcam's telemetry over the camera's spans: `[[t_ms, lat, lon,
/// speed_kmh, [gx, gy, gz]], …]` (null where the recorder gave none, and
/// lat/lon without a fix).
async fn track(State(s): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    let Some(cam) = camera(&s, &id) else {
        return not_found().await;
    };
    if let Some(v) = s.tracks.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return axum::Json(v.as_ref().clone()).into_response();
    }
    let files: Vec<(PathBuf, Kind)> = cam
        .spans
        .iter()
        .map(|sp| {
            let f = &s.catalog.files[sp.file];
            (f.path.clone(), kind_of(f.format))
        })
        .collect();
    let number: Option<u32> = cam
        .key
        .stream
        .strip_prefix("video_")
        .and_then(|n| n.parse().ok());
    let offset = s.offset_ns;
    let samples = tokio::task::spawn_blocking(move || {
        let mut out: Vec<Value> = Vec::new();
        for (path, kind) in files.into_iter().filter(|(_, k)| *k == Kind::Says) {
            let rec = inputs::Recording {
                stem: Default::default(),
                path,
                kind,
                track: None,
            };
            // The camera's own telemetry, else the recording's first.
            let mut chosen: Option<u32> = None;
            let mut rows: Vec<(u32, Value)> = Vec::new();
            let _ = scan::scan_frames(&rec, |info, p| {
                if let Some(x) = sample_of(p)
                    && let Some(t) = x.time_ns
                {
                    let (lat, lon) = x.t.fix.map_or((None, None), |(a, b)| (Some(a), Some(b)));
                    let t = corrected_of(t, offset) / MS;
                    let g = x.t.acceleration_g.map(|(a, b, c)| json!([a, b, c]));
                    rows.push((info.id.number, json!([t, lat, lon, x.t.speed_kmh, g])));
                }
            });
            for (n, _) in &rows {
                if Some(*n) == number {
                    chosen = Some(*n);
                }
            }
            let chosen = chosen.or_else(|| rows.first().map(|(n, _)| *n));
            out.extend(
                rows.into_iter()
                    .filter(|(n, _)| Some(*n) == chosen)
                    .map(|(_, v)| v),
            );
        }
        out
    })
    .await
    .unwrap_or_default();
    let v = Arc::new(Value::Array(samples));
    s.tracks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, v.clone());
    axum::Json(v.as_ref().clone()).into_response()
}

#[derive(serde::Deserialize)]
struct ExportRequest {
    /// Capture times, Unix ms.
    from: u64,
    to: u64,
    cameras: Vec<String>,
}

/// Runs `cctv convert`'s export (evidence files included) for the window
/// and cameras into a new folder of the export directory.
async fn export(State(s): State<Shared>, axum::Json(req): axum::Json<ExportRequest>) -> Response {
    if req.to <= req.from || req.cameras.is_empty() {
        return (StatusCode::BAD_REQUEST, "choose a window and cameras\n").into_response();
    }
    // Recorded times select the files; convert takes the corrected ones
    // with the offset, as on its command line.
    let (from, to) = (s.recorded(req.from), s.recorded(req.to));
    let mut files: Vec<PathBuf> = Vec::new();
    let mut numbers: Vec<u32> = Vec::new();
    for id in &req.cameras {
        let Some(cam) = camera(&s, id) else {
            return (StatusCode::NOT_FOUND, "no such camera\n").into_response();
        };
        for sp in cam.spans_in(Some(from), Some(to)) {
            let p = &s.catalog.files[sp.file].path;
            if !files.contains(p) {
                files.push(p.clone());
            }
        }
        if let Some(n) = cam
            .key
            .stream
            .strip_prefix("video_")
            .and_then(|n| n.parse().ok())
            && !numbers.contains(&n)
        {
            numbers.push(n);
        }
    }
    if files.is_empty() {
        return (StatusCode::BAD_REQUEST, "no recording in that window\n").into_response();
    }
    let _one = s.export_lock.lock().await;
    let job = s.exports.lock().unwrap_or_else(|e| e.into_inner()).len();
    let outdir = s.export_dir.join(format!("export-{}", job + 1));
    let args = ConvertArgs {
        inputs: files,
        outdir: outdir.clone(),
        format: OutFormat::Mp4,
        from: Some(rfc3339_utc(req.from.saturating_mul(MS))),
        to: Some(rfc3339_utc(req.to.saturating_mul(MS))),
        cameras: numbers.iter().map(u32::to_string).collect(),
        per_file: false,
        gaps: Gaps::Compact,
        jobs: None,
        force: false,
        quiet: true,
        no_subtitles: false,
        clock_offset: s.offset_text.clone(),
        embed_time: false,
        shard: None,
        shard_count: None,
        log_json: false,
        tz: None,
    };
    let ok = tokio::task::spawn_blocking(move || crate::convert::run(&args))
        .await
        .unwrap_or(false);
    let mut listed: Vec<(String, PathBuf)> = std::fs::read_dir(&outdir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| (e.file_name().to_string_lossy().to_string(), e.path()))
                .collect()
        })
        .unwrap_or_default();
    listed.sort();
    let job = {
        let mut ex = s.exports.lock().unwrap_or_else(|e| e.into_inner());
        ex.push(listed.clone());
        ex.len()
    };
    let outputs: Vec<Value> = listed
        .iter()
        .map(|(n, _)| json!({"name": n, "url": format!("/exports/{job}/{n}")}))
        .collect();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (
        status,
        axum::Json(json!({
            "ok": ok,
            "dir": outdir.to_string_lossy(),
            "outputs": outputs,
        })),
    )
        .into_response()
}

async fn exported(
    State(s): State<Shared>,
    UrlPath((job, name)): UrlPath<(usize, String)>,
) -> Response {
    let path = {
        let ex = s.exports.lock().unwrap_or_else(|e| e.into_inner());
        job.checked_sub(1)
            .and_then(|j| ex.get(j))
            .and_then(|files| files.iter().find(|(n, _)| *n == name))
            .map(|(_, p)| p.clone())
    };
    let Some(path) = path else {
        return not_found().await;
    };
    let mime = match path.extension().and_then(|e| e.to_str()) {
        Some("mp4") => "video/mp4",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("tsv") => "text/tab-separated-values; charset=utf-8",
        _ => "application/octet-stream",
    };
    match stream::file_body(&path) {
        Ok((len, body)) => (
            [
                (header::CONTENT_TYPE, mime.to_string()),
                (header::CONTENT_LENGTH, len.to_string()),
            ],
            Body::from_stream(body),
        )
            .into_response(),
        Err(_) => not_found().await,
    }
}
