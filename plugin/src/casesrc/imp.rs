// SPDX-License-Identifier: MIT
//! Element glue for `cctvsrc`: settings, the URI, and opening the camera's
//! timeline; playback is the shared adapter's.

use crate::common::demux::{DemuxAdapter, DemuxElement, DynSource};
use crate::common::present::GstChunk;
use crate::common::streams::lock;
use crate::common::timezone::{Presentation, presentation_pspecs};
use crate::engine::camera_timeline::{
    CaseError, CaseOptions, OpenedCase, open_camera, open_case, recording_kind,
};
use crate::engine::{ByteSource, FileSource, SourceError};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "cctvsrc",
        gst::DebugColorFlags::empty(),
        Some("Case camera source"),
    )
});

#[derive(Debug, Clone, Default)]
struct Settings {
    /// The case: a folder (searched recursively) or one recording.
    location: Option<PathBuf>,
    /// Or the recordings themselves (`files`: e.g. only those a window
    /// needs); when set, `location` is not read.
    files: Vec<PathBuf>,
    /// A camera number or name; `None`: the case's first camera.
    camera: Option<String>,
    /// Cues, zone, clock offset, gap compaction.
    shown: Presentation,
}

/// A file read by pull, in GStreamer buffers (the payloads go out as
/// sub-buffers of what was read).
struct GstFileSource(FileSource);

impl ByteSource for GstFileSource {
    type Chunk = GstChunk;
    fn size(&self) -> Option<u64> {
        self.0.size()
    }
    fn read_at(&mut self, offset: u64, len: usize) -> Result<GstChunk, SourceError> {
        let bytes = self.0.read_at(offset, len)?;
        // The read vector becomes the buffer's memory: no copy.
        let vec = std::sync::Arc::try_unwrap(bytes.0).unwrap_or_else(|shared| (*shared).clone());
        Ok(<GstChunk as crate::engine::Chunk>::from_vec(vec))
    }
}

pub struct CaseSrc {
    settings: Mutex<Settings>,
    adapter: DemuxAdapter,
}

#[glib::object_subclass]
impl ObjectSubclass for CaseSrc {
    const NAME: &'static str = "GstCctvCaseSrc";
    type Type = super::CaseSrc;
    type ParentType = gst::Element;
    type Interfaces = (gst::URIHandler,);

    fn new() -> Self {
        Self {
            settings: Mutex::new(Settings::default()),
            adapter: DemuxAdapter::new_source(),
        }
    }
}

impl DemuxElement for CaseSrc {
    fn adapter(&self) -> &DemuxAdapter {
        &self.adapter
    }

    fn open_source(&self) -> Result<(DynSource, String), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        if !settings.files.is_empty() {
            // Each file's own errors name it: no prefix.
            return Ok((self.open_files(&settings)?, String::new()));
        }
        let Some(location) = settings.location.clone() else {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("No location set")
            ));
        };
        let source = self.open(&location, &settings)?;
        Ok((source, format!("{}: ", location.display())))
    }
}

impl CaseSrc {
    /// The camera's timeline: the case catalogued, the camera found (the
    /// engine's, as the VLC module opens it).
    fn open(&self, location: &Path, settings: &Settings) -> Result<DynSource, gst::ErrorMessage> {
        let opened = open_case(location, &options_of(settings), GstFileSource);
        self.started(opened)
    }

    /// The camera's timeline over the recordings of `files` only (each
    /// recognised by its first bytes).
    fn open_files(&self, settings: &Settings) -> Result<DynSource, gst::ErrorMessage> {
        let mut recordings = Vec::new();
        for path in &settings.files {
            match recording_kind(path) {
                Ok(Some(kind)) => recordings.push((path.clone(), kind)),
                Ok(None) => {
                    return Err(gst::error_msg!(
                        gst::StreamError::WrongType,
                        ("{} is not a .psf or .nvr recording", path.display())
                    ));
                }
                Err(e) => {
                    return Err(gst::error_msg!(
                        gst::ResourceError::OpenRead,
                        ("Cannot read {}: {e}", path.display())
                    ));
                }
            }
        }
        let opened = open_camera(
            &settings.files[0],
            &recordings,
            &options_of(settings),
            GstFileSource,
        );
        self.started(opened)
    }

    /// The opened camera, or why it cannot play.
    fn started(
        &self,
        opened: Result<OpenedCase<GstChunk>, CaseError>,
    ) -> Result<DynSource, gst::ErrorMessage> {
        let opened = opened.map_err(|e| {
            let kind = match e {
                CaseError::Read { .. } => gst::ResourceError::OpenRead,
                CaseError::NoRecordings(_) | CaseError::NoCamera { .. } => {
                    gst::ResourceError::NotFound
                }
                CaseError::NoPictures(_) => gst::ResourceError::Failed,
            };
            gst::error_msg!(kind, ("{}", e))
        })?;
        for (path, why) in &opened.skipped {
            gst::warning!(CAT, imp = self, "Skipped {}: {}", path.display(), why);
        }
        gst::info!(
            CAT,
            imp = self,
            "Playing camera {} ({}) from {} file(s)",
            opened.camera_name,
            opened.camera_id,
            opened.timeline.files().len()
        );
        Ok(Box::new(opened.timeline))
    }

    fn set_location(&self, location: Option<PathBuf>) -> Result<(), glib::Error> {
        self.adapter.ensure_stopped()?;
        lock(&self.settings).location = location;
        Ok(())
    }
}

/// The engine's playing options from the element's settings.
fn options_of(settings: &Settings) -> CaseOptions {
    CaseOptions {
        camera: settings.camera.clone(),
        subtitles: settings.shown.subtitles,
        timezone: settings.shown.timezone.clone(),
        clock_offset_ns: settings.shown.clock_offset_ns,
        max_gap: settings.shown.max_gap,
    }
}

impl ObjectImpl for CaseSrc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut properties = vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb(
                        "The case: a folder of .psf/.nvr recordings (searched recursively) or \
                         one recording",
                    )
                    .mutable_ready()
                    .build(),
                gst::ParamSpecArray::builder("files")
                    .nick("Files")
                    .blurb(
                        "The camera's recordings, instead of a location: only these are \
                         catalogued and played (e.g. <\"a.psf\", \"b.psf\">)",
                    )
                    .element_spec(
                        &glib::ParamSpecString::builder("file")
                            .nick("File")
                            .blurb("A .psf or .nvr recording")
                            .build(),
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("camera")
                    .nick("Camera")
                    .blurb(
                        "The camera to play: its number (9), name (ALLEY) or id \
                         (pavs-alley-09-video_9); default: the case's first camera",
                    )
                    .mutable_ready()
                    .build(),
            ];
            properties.extend(presentation_pspecs(
                "A subtitle pad with the capture time of each picture (and speed, GPS for .nvr)",
                true,
            ));
            properties
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if lock(&self.settings)
            .shown
            .set("cctvsrc", pspec.name(), value)
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
            "files" => {
                let files: gst::Array = value.get().expect("type checked upstream");
                let files: Vec<PathBuf> = files
                    .iter()
                    .filter_map(|v| v.get::<Option<String>>().ok().flatten())
                    .map(PathBuf::from)
                    .collect();
                if let Err(e) = self.adapter.ensure_stopped() {
                    gst::warning!(CAT, imp = self, "{}", e);
                } else {
                    lock(&self.settings).files = files;
                }
            }
            "camera" => {
                let camera: Option<String> = value.get().expect("type checked upstream");
                lock(&self.settings).camera = camera.filter(|c| !c.trim().is_empty());
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
            "files" => gst::Array::new(
                settings
                    .files
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned()),
            )
            .to_value(),
            "camera" => settings.camera.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for CaseSrc {}

impl ElementImpl for CaseSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "CCTV case camera source",
                "Source/Video",
                "Plays one camera of a folder of VMax .psf / Rosco .nvr recordings as one \
                 seekable stream: its files in capture order, with capture-time cues",
                "gst-cctv developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            use crate::common::present::{subtitle_pad_template, template_name};
            use crate::engine::StreamKind;
            let any = |kind| {
                gst::PadTemplate::new(
                    template_name(kind),
                    gst::PadDirection::Src,
                    gst::PadPresence::Sometimes,
                    &gst::Caps::new_any(),
                )
                .unwrap()
            };
            vec![
                crate::common::demux::h264_src_pad_template(template_name(StreamKind::Video)),
                any(StreamKind::Audio),
                any(StreamKind::Image),
                any(StreamKind::Data),
                subtitle_pad_template(),
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

impl URIHandlerImpl for CaseSrc {
    const URI_TYPE: gst::URIType = gst::URIType::Src;

    fn protocols() -> &'static [&'static str] {
        &["cctv"]
    }

    fn uri(&self) -> Option<String> {
        let settings = lock(&self.settings);
        let uri = crate::common::uri::path_uri(settings.location.as_deref()?, "cctv")?;
        Some(match &settings.camera {
            Some(camera) => format!(
                "{uri}?camera={}",
                crate::common::uri::percent_encode(camera)
            ),
            None => uri,
        })
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        let (path, camera) = crate::common::uri::parse_source_uri(
            uri,
            "cctv",
            false,
            "cctv:///path/to/case?camera=N",
            "camera",
            "cctv URIs take ?camera=N",
        )?;
        self.set_location(Some(path))?;
        lock(&self.settings).camera = camera;
        Ok(())
    }
}
