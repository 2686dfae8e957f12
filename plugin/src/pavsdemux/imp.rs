// SPDX-License-Identifier: MIT
//! Element glue for `pavsdemux`: the engine's PAVS format behind the shared
//! demuxer adapter, plus the element's properties.

use crate::common::demux::{DemuxAdapter, DemuxElement, DynSource, PadInput};
use crate::common::timezone::{Presentation, presentation_pspecs};
use crate::engine::formats::pavs::{Pavs, PavsOptions};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};

pub struct PavsDemux {
    adapter: DemuxAdapter,
    settings: Mutex<Settings>,
}

#[derive(Debug, Clone)]
struct Settings {
    shown: Presentation,
    display_hints: bool,
}

impl DemuxElement for PavsDemux {
    fn adapter(&self) -> &DemuxAdapter {
        &self.adapter
    }

    fn open_input(&self, input: PadInput) -> Option<DynSource> {
        let settings = crate::common::streams::lock(&self.settings).clone();
        Some(input.demux(Pavs::new(PavsOptions {
            max_gap: settings.shown.max_gap,
            display_hints: settings.display_hints,
            subtitles: settings.shown.subtitles,
            clock_offset_ns: settings.shown.clock_offset_ns,
            timezone: settings.shown.timezone,
        })))
    }
}

#[glib::object_subclass]
impl ObjectSubclass for PavsDemux {
    const NAME: &'static str = "GstPavsDemux";
    type Type = super::PavsDemux;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        Self {
            adapter: DemuxAdapter::new::<Self>(&templ),
            settings: Mutex::new(Settings {
                shown: Presentation::default(),
                display_hints: PavsOptions::default().display_hints,
            }),
        }
    }
}

impl ObjectImpl for PavsDemux {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut properties = presentation_pspecs(
                "Add a subtitle pad per camera (subtitle_<channel>, text/x-raw) with the \
                 capture time (UTC), a cue per second: players show it over the picture, \
                 mp4mux and matroskamux keep it as a text track.",
                true,
            );
            properties.push(
                glib::ParamSpecBoolean::builder("display-hints")
                    .nick("Display hints")
                    .blurb(
                        "Tell players in the generated SPS that the picture is full range \
                         BT.601 with the DVR's pixel aspect ratio (e.g. 5:11 for 704x240). The SPS \
                         always declares that no picture is reordered. Decoded samples are the \
                         same either way.",
                    )
                    .default_value(true)
                    .mutable_ready()
                    .build(),
            );
            properties
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = crate::common::streams::lock(&self.settings);
        if settings.shown.set("pavsdemux", pspec.name(), value) {
            return;
        }
        match pspec.name() {
            "display-hints" => settings.display_hints = value.get().expect("type checked upstream"),
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = crate::common::streams::lock(&self.settings);
        if let Some(value) = settings.shown.get(pspec.name()) {
            return value;
        }
        match pspec.name() {
            "display-hints" => settings.display_hints.to_value(),
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        crate::common::demux::element::constructed(self);
    }
}

impl GstObjectImpl for PavsDemux {}

impl ElementImpl for PavsDemux {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "VMax PAVS demuxer",
                "Codec/Demuxer",
                "Demuxes VMax DVR backups (.psf, PAVS blocks) into H.264 with the missing SPS/PPS, \
                 wall-clock time per frame, and resynchronisation over damage",
                "gst-cctv developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink = crate::common::demux::sink_pad_template(super::SINK_CAPS_NAME);
            let src = crate::common::demux::h264_src_pad_template("video_%u");
            vec![sink, src, crate::common::present::subtitle_pad_template()]
        });
        TEMPLATES.as_ref()
    }

    fn send_event(&self, event: gst::Event) -> bool {
        crate::common::demux::element::send_event(self, event)
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        crate::common::demux::element::change_state(self, transition)
    }
}
