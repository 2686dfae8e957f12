// SPDX-License-Identifier: MIT
//! Element glue for `rf1src`: a source with one sometimes pad per track,
//! playing the GStreamer-free [`Rf1Engine`] (which merges the tracks'
//! access units by time across the segments of an archive and seeks by
//! index) through the shared playback adapter
//! ([`DemuxAdapter`](crate::common::demux::DemuxAdapter)). This element
//! keeps only its settings and the location / URI handling.

use crate::common::demux::{DemuxAdapter, DemuxElement, DynSource};
use crate::common::present::GstChunk;
use crate::common::streams::lock;
use crate::common::timezone::{Presentation, presentation_pspecs};
use crate::engine::formats::rf1::Rf1Engine;
use crate::engine::{StreamInfo, StreamKind};
use crate::formats::rf1::Rf1Error;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "rf1src",
        gst::DebugColorFlags::empty(),
        Some("Cyclops rf1 source"),
    )
});

const PAD_TEMPLATE: &str = "%s";
/// The capture-time subtitle pad.
const SUBTITLE_PAD_TEMPLATE: &str = "subtitle";

#[derive(Debug, Clone)]
struct Settings {
    location: Option<PathBuf>,
    /// Track names to play; empty = every track.
    tracks: Vec<String>,
    /// Cues, zone, clock offset, gap compaction. Cues are off by default
    /// here: with them, playbin3 on a two-track recording still stops
    /// before the end in about 1 run of 3, with the stock renderer as with
    /// `cctvcueoverlay` (README); conversions turn them on.
    shown: Presentation,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            location: None,
            tracks: Vec::new(),
            shown: Presentation {
                subtitles: false,
                ..Presentation::default()
            },
        }
    }
}

pub struct Rf1Src {
    settings: Mutex<Settings>,
    adapter: DemuxAdapter,
    /// The played tracks, the camera's main track first (stream ids).
    main_first: Mutex<Vec<String>>,
}

#[glib::object_subclass]
impl ObjectSubclass for Rf1Src {
    const NAME: &'static str = "GstRf1Src";
    type Type = super::Rf1Src;
    type ParentType = gst::Element;
    type Interfaces = (gst::URIHandler,);

    fn new() -> Self {
        Self {
            settings: Mutex::new(Settings::default()),
            adapter: DemuxAdapter::new_source(),
            main_first: Mutex::new(Vec::new()),
        }
    }
}

impl DemuxElement for Rf1Src {
    fn adapter(&self) -> &DemuxAdapter {
        &self.adapter
    }

    /// A track's rank in the main-first order (the camera's main track
    /// first, see `Rf1Engine::tracks_main_first`), then its name
    /// (`000_video`, `001_lowres`). decodebin (so playbin and the
    /// discoverer) orders the decoded streams of one media type by
    /// stream-id as strings, whatever the pad order: by name alone,
    /// two_tracks' `lowres` came before the camera's `video`. Other streams
    /// keep their names.
    fn stream_id(&self, info: &StreamInfo) -> String {
        let rank = lock(&self.main_first).iter().position(|n| *n == info.name);
        match rank {
            Some(rank) if info.id.kind == StreamKind::Video => format!("{rank:03}_{}", info.name),
            _ => info.name.clone(),
        }
    }

    fn template_name(&self, info: &StreamInfo) -> &'static str {
        if info.id.kind == StreamKind::Subtitle {
            SUBTITLE_PAD_TEMPLATE
        } else {
            PAD_TEMPLATE
        }
    }

    fn open_source(&self) -> Result<(DynSource, String), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let source = self.open(&settings)?;
        let name = settings
            .location
            .map(|l| format!("{}: ", l.display()))
            .unwrap_or_default();
        Ok((source, name))
    }
}

impl Rf1Src {
    /// Opens the archive with the current settings.
    fn open(&self, settings: &Settings) -> Result<DynSource, gst::ErrorMessage> {
        let Some(location) = &settings.location else {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("No location set")
            ));
        };
        let mut engine = Rf1Engine::<GstChunk>::open(location, &settings.tracks).map_err(|e| {
            let kind = match e {
                Rf1Error::Io { .. } => gst::ResourceError::Read,
                Rf1Error::NotFound(_)
                | Rf1Error::MissingCompanion(_)
                | Rf1Error::NoTracks { .. } => gst::ResourceError::NotFound,
                _ => gst::ResourceError::Failed,
            };
            gst::error_msg!(
                kind,
                ("Cannot play rf1 recording {}: {}", location.display(), e)
            )
        })?;
        engine.set_subtitles(settings.shown.subtitles);
        engine.set_timezone(settings.shown.timezone.clone());
        engine.set_clock_offset(settings.shown.clock_offset_ns);
        engine.set_max_gap(settings.shown.max_gap);
        *lock(&self.main_first) = engine.tracks_main_first();
        gst::info!(
            CAT,
            imp = self,
            "Playing {} track(s) from {} segment(s), duration {} ns",
            engine.tracks_main_first().len(),
            engine.archive().segments.len(),
            engine.duration_ns()
        );
        Ok(Box::new(engine))
    }

    fn set_location(&self, location: Option<PathBuf>) -> Result<(), glib::Error> {
        self.adapter.ensure_stopped()?;
        lock(&self.settings).location = location;
        Ok(())
    }
}

impl ObjectImpl for Rf1Src {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut properties = vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb(
                        "A segment base (dir/<start-ms>), a track file (dir/<base>_<track>.rf1i \
                         or .rf1p; plays its whole segment) or a camera directory (every segment \
                         in time order as one stream)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("tracks")
                    .nick("Tracks")
                    .blurb("Comma-separated track names to play (default: every track)")
                    .mutable_ready()
                    .build(),
            ];
            properties.extend(presentation_pspecs(
                "Add a pad 'subtitle' (text/x-raw) with the capture time (UTC) of each \
                 access unit of the first track: players show it, mp4mux and \
                 matroskamux keep it as a text track.",
                false,
            ));
            properties
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if lock(&self.settings)
            .shown
            .set("rf1src", pspec.name(), value)
        {
            return;
        }
        match pspec.name() {
            "location" => {
                let location: Option<String> = value.get().expect("type checked upstream");
                if let Err(e) = self.set_location(location.map(PathBuf::from)) {
                    gst::warning!(CAT, imp = self, "{}", e);
                }
            }
            "tracks" => {
                let tracks: Option<String> = value.get().expect("type checked upstream");
                lock(&self.settings).tracks = tracks
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(Into::into)
                    .collect();
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = lock(&self.settings);
        if let Some(value) = settings.shown.get(pspec.name()) {
            return value;
        }
        match pspec.name() {
            "location" => settings
                .location
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .to_value(),
            "tracks" => (!settings.tracks.is_empty())
                .then(|| settings.tracks.join(","))
                .to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for Rf1Src {}

impl ElementImpl for Rf1Src {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Cyclops rf1 source",
                "Source/Video",
                "Plays Cyclops NVR rf1 recordings (segments or whole camera directories) as \
                 H.264/H.265 byte-stream, one pad per track, with wall-clock time per frame and \
                 index-based seeking",
                "gst-cctv developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let mut caps = gst::Caps::new_empty();
            {
                let caps = caps.get_mut().unwrap();
                // H.264 also as length-prefixed (`avc`) for muxers with no
                // parser in front; H.265 as byte-stream only.
                caps.append(
                    gst::Caps::builder("video/x-h264")
                        .field("stream-format", gst::List::new(["byte-stream", "avc"]))
                        .field("alignment", "au")
                        .build(),
                );
                caps.append(
                    gst::Caps::builder("video/x-h265")
                        .field("stream-format", "byte-stream")
                        .field("alignment", "au")
                        .build(),
                );
            }
            vec![
                gst::PadTemplate::new(
                    PAD_TEMPLATE,
                    gst::PadDirection::Src,
                    gst::PadPresence::Sometimes,
                    &caps,
                )
                .unwrap(),
                gst::PadTemplate::new(
                    SUBTITLE_PAD_TEMPLATE,
                    gst::PadDirection::Src,
                    gst::PadPresence::Sometimes,
                    &crate::common::present::text_caps(),
                )
                .unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        crate::common::demux::element::change_state(self, transition)
    }

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        crate::common::demux::element::query(self, query)
    }

    fn send_event(&self, event: gst::Event) -> bool {
        crate::common::demux::element::send_event(self, event)
    }
}

impl URIHandlerImpl for Rf1Src {
    const URI_TYPE: gst::URIType = gst::URIType::Src;

    fn protocols() -> &'static [&'static str] {
        &["rf1", "file"]
    }

    fn uri(&self) -> Option<String> {
        let settings = lock(&self.settings);
        let uri = crate::common::uri::path_uri(settings.location.as_deref()?, "rf1")?;
        Some(if settings.tracks.is_empty() {
            uri
        } else {
            format!("{uri}?tracks={}", settings.tracks.join(","))
        })
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        // `rf1:///path?tracks=video,lowres`: the query selects tracks.
        let (path, tracks) = crate::common::uri::parse_source_uri(
            uri,
            "rf1",
            true,
            "rf1:///path or file:///path",
            "tracks",
            "rf1 URIs take ?tracks=name,name",
        )?;
        self.set_location(Some(path))?;
        if let Some(tracks) = tracks {
            self.obj().set_property("tracks", tracks);
        }
        Ok(())
    }
}
