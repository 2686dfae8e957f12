// SPDX-License-Identifier: MIT
//! `cctv`: CCTV and dashcam recordings (VMax `.psf`, Rosco `.nvr`, Cyclops
//! rf1 archives) to ordinary media files, with the plugin's elements
//! registered in-process (no GST_PLUGIN_PATH needed).

mod case;
mod convert;
mod evidence;
mod files;
mod info;
mod inputs;
mod mp4time;
mod naming;
mod out;
mod plan;
mod progress;
mod readback;
mod scan;
mod serve;
mod telemetry;
mod times;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cctv",
    version,
    about = "Convert and inspect CCTV / dashcam recordings (VMax .psf, Rosco .nvr, Cyclops rf1)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Format, streams (codec, size, frames, wall-clock span) and damage of each input.
    Info {
        /// Print one JSON array of objects (file, format, streams, damage).
        #[arg(long)]
        json: bool,
        /// Show times in this zone: an IANA name (America/Los_Angeles) or ±HH:MM (default UTC).
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// With --json: {"cameras": [...], "files": [...]}: the cameras of the case (name, id, span, frames, files, gaps, duplicates, damage) beside the files.
        #[arg(long)]
        case: bool,
        /// Only the files: no case section after them.
        #[arg(long, conflicts_with = "case")]
        per_file: bool,
        /// Recordings: files, rf1 segments or camera directories, or directories to search.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Convert recordings to MP4/MKV: one file per camera, video stream-copied.
    Convert(ConvertArgs),
    /// The work items of a case (camera × window), for batch engines: one
    /// `cctv convert --shard K/N` per share.
    Plan {
        /// Print the plan as JSON (the same inputs give the same bytes).
        #[arg(long)]
        json: bool,
        /// Only frames from this wall-clock time (RFC 3339, "YYYY-MM-DD HH:MM:SS" or "HH:MM:SS", read as convert reads it).
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Only frames before this wall-clock time.
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        /// Only this camera: number, name or id (repeatable).
        #[arg(long = "camera", value_name = "N|NAME")]
        cameras: Vec<String>,
        /// Show which of N shards takes each item (item i: shard i mod N).
        #[arg(long, value_name = "N")]
        shard_count: Option<usize>,
        #[arg(long, value_enum, default_value_t = OutFormat::Mp4)]
        format: OutFormat,
        /// As `cctv convert --tz`.
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// As `cctv convert --clock-offset`: --from/--to are true times.
        #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
        clock_offset: Option<String>,
        /// Recordings, or directories searched recursively.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Check exports against their manifests: hashes, every frame of each output, the sources.
    Verify {
        /// Print {"ok": bool, "problems": [...]}.
        #[arg(long)]
        json: bool,
        /// `NAME.manifest.json` files written beside exports.
        #[arg(required = true)]
        manifests: Vec<PathBuf>,
    },
    /// Review a case in the browser: cameras on one timeline, playback, the dashcam's map, export.
    Serve(serve::ServeArgs),
    /// Export the dashcam track (time, position, speed, heading, voltage, g-sensor).
    Telemetry {
        /// A Rosco `.nvr` recording.
        input: PathBuf,
        /// GPX 1.1 track (positions with a valid fix).
        #[arg(long, value_name = "FILE")]
        gpx: Option<PathBuf>,
        /// CSV, one row per sample.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// GeoJSON FeatureCollection (one LineString, one Point per sample).
        #[arg(long, value_name = "FILE")]
        geojson: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    Mp4,
    Mkv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Gaps {
    /// Gaps longer than 10 s shrink to one frame in the output timeline.
    Compact,
    /// Real time, gaps included.
    Keep,
    /// A new file per continuous run.
    Split,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ConvertArgs {
    /// Recordings: files, rf1 segments or camera directories, or directories searched recursively.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output directory (created if missing).
    #[arg(short = 'o', long = "output", value_name = "OUTDIR")]
    pub outdir: PathBuf,
    #[arg(long, value_enum, default_value_t = OutFormat::Mp4)]
    pub format: OutFormat,
    /// Start at this wall-clock time (RFC 3339, or "YYYY-MM-DD HH:MM:SS" in the --tz zone, else the recording's, else this machine's; or "HH:MM:SS" alone, on the day of the recordings).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End at this wall-clock time (same forms as --from).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Only this camera: its number or its name (repeatable).
    #[arg(long = "camera", value_name = "N")]
    pub cameras: Vec<String>,
    #[arg(long, value_enum, default_value_t = Gaps::Compact)]
    pub gaps: Gaps,
    /// One output per input file (per camera of it), not per camera of the case.
    #[arg(long)]
    pub per_file: bool,
    /// Inputs converted in parallel (default: number of cores).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Overwrite existing outputs.
    #[arg(long)]
    pub force: bool,
    /// No progress and no summary (errors and damage are still reported).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// No subtitle track with the capture time.
    #[arg(long)]
    pub no_subtitles: bool,
    /// How far the recorder's clock was ahead of true time (negative:
    /// behind): seconds (+120, -90.5) or +HH:MM:SS. --from/--to are then
    /// true times; cues, creation time and the manifest's `time` are
    /// corrected; the recorded time stays in the frame table.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub clock_offset: Option<String>,
    /// Put each frame's (corrected) capture time inside the video: a MISB
    /// ST 0604 precision time stamp SEI before its first slice (NIST IR
    /// 8161); slices stay untouched.
    #[arg(long)]
    pub embed_time: bool,
    /// Convert only share K of N (0-based) of the work (item i belongs to
    /// shard i mod N). Default: JOB_COMPLETION_INDEX (Kubernetes Indexed
    /// Job), AWS_BATCH_JOB_ARRAY_INDEX or CCTV_SHARD_INDEX with
    /// --shard-count / CCTV_SHARD_COUNT.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// The number of shards when the index comes from the environment.
    #[arg(long, value_name = "N")]
    pub shard_count: Option<usize>,
    /// JSON lines on stdout, one per event (start, progress, output,
    /// skipped, error with its class, done), instead of progress bars.
    #[arg(long)]
    pub log_json: bool,
    /// Time zone of the subtitle cues and of --from/--to without an offset: an IANA name (America/Los_Angeles) or ±HH:MM. Default: the recording's (.nvr), else UTC for cues and this machine's zone for --from/--to.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
}

/// `--tz`, read (an unknown zone is an error before anything runs).
pub fn zone_arg(tz: Option<&str>) -> Result<Option<gstcctv::engine::zone::Zone>, String> {
    tz.map(|t| gstcctv::engine::zone::Zone::parse(t).map_err(|e| format!("--tz: {e}")))
        .transpose()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Convert(_)) {
        bound_malloc_arenas();
    }
    let ok = match cli.command {
        Command::Info {
            json,
            tz,
            case,
            per_file,
            inputs,
        } => match zone_arg(tz.as_deref()) {
            Ok(zone) => info::run(&inputs, json, zone.as_ref(), case, per_file),
            Err(e) => {
                eprintln!("cctv: {e}");
                false
            }
        },
        Command::Convert(mut args) => {
            // batch (plan.rs): exit codes that tell a batch engine whether
            // to retry; with --log-json the events replace the progress
            // and the summary (errors still go to stderr).
            args.quiet |= args.log_json;
            plan::set_logging(args.log_json, args.quiet);
            let ok = match init_gst() {
                Ok(()) => convert::run(&args),
                Err(e) => {
                    out::errln!("cctv: {e:#}");
                    plan::failed_text(std::path::Path::new(""), &format!("{e:#}"));
                    false
                }
            };
            return ExitCode::from(plan::exit_code(ok));
        }
        Command::Plan {
            json,
            from,
            to,
            cameras,
            shard_count,
            format,
            tz,
            clock_offset,
            inputs,
        } => {
            // The plan is convert's own work list: the same selection.
            let args = ConvertArgs {
                inputs,
                outdir: PathBuf::from("."),
                format,
                from,
                to,
                cameras,
                gaps: Gaps::Compact,
                per_file: false,
                jobs: None,
                force: false,
                quiet: true,
                no_subtitles: false,
                clock_offset,
                embed_time: false,
                shard: None,
                shard_count: None,
                log_json: false,
                tz,
            };
            return ExitCode::from(plan::run(&args, shard_count, json));
        }
        Command::Verify { json, manifests } => match init_gst() {
            Ok(()) => evidence::run_verify(&manifests, json),
            Err(e) => {
                eprintln!("cctv: {e:#}");
                false
            }
        },
        Command::Serve(args) => match init_gst() {
            Ok(()) => serve::run(&args),
            Err(e) => {
                eprintln!("cctv: {e:#}");
                false
            }
        },
        Command::Telemetry {
            input,
            gpx,
            csv,
            geojson,
        } => match telemetry::run(&input, gpx.as_deref(), csv.as_deref(), geojson.as_deref()) {
            Ok(()) => true,
            Err(e) => {
                out::errln!("cctv: {}: {e:#}", out::path(&input));
                false
            }
        },
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs this program again with glibc's malloc limited to 2 arenas, unless
/// the user chose the allocator's settings. glibc gives threads that
/// allocate at once arenas of their own (up to 8 per core); a conversion
/// runs about eight streaming threads, and over many inputs the freed
/// memory stayed scattered over all the arenas: the resident size of one
/// run grew with the number of inputs (80 to 180 MB over 1,200 small
/// conversions with --jobs 2, 453 MB reported), against a flat 70 MB with
/// 2 arenas. The limit must be set before the first allocation, and
/// `mallopt` would need `unsafe`: hence the environment and `exec` (same
/// process id, arguments, descriptors). When `exec` fails, the run goes on
/// as it is.
fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        const VAR: &str = "MALLOC_ARENA_MAX";
        let tuned = std::env::var_os("GLIBC_TUNABLES")
            .is_some_and(|t| t.to_string_lossy().contains("glibc.malloc.arena"));
        if std::env::var_os(VAR).is_some() || tuned {
            return;
        }
        let mut args = std::env::args_os();
        let argv0 = args.next().unwrap_or_else(|| "cctv".into());
        let _failed = std::process::Command::new("/proc/self/exe")
            .arg0(argv0)
            .args(args)
            .env(VAR, "2")
            .exec();
    }
}

/// GStreamer with this crate's elements registered in-process.
fn init_gst() -> anyhow::Result<()> {
    gst::init()?;
    gstcctv::plugin_register_static()?;
    Ok(())
}
