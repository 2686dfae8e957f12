// SPDX-License-Identifier: MIT
//! Element glue for `saysdemux`: the engine's SAYS format
//! ([`Says`](crate::engine::formats::says::Says)) behind the shared demuxer
//! adapter. Streams, time and tags are described there.

use crate::common::demux::{DemuxAdapter, DemuxElement, DynSource, PadInput};
use crate::common::present::template_name;
use crate::common::timezone::{Presentation, presentation_pspecs};
use crate::engine::StreamKind;
use crate::engine::formats::says::{Says, SaysOptions, TELEMETRY_SCHEMA};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};

pub struct SaysDemux {
    adapter: DemuxAdapter,
    settings: Mutex<Settings>,
}

#[derive(Debug, Clone, Default)]
struct Settings {
    shown: Presentation,
    telemetry: bool,
}

impl DemuxElement for SaysDemux {
    fn adapter(&self) -> &DemuxAdapter {
        &self.adapter
    }

    fn open_input(&self, input: PadInput) -> Option<DynSource> {
        let settings = crate::common::streams::lock(&self.settings).clone();
        Some(input.demux(Says::with_options(SaysOptions {
            subtitles: settings.shown.subtitles,
            telemetry: settings.telemetry,
            timezone: settings.shown.timezone,
            clock_offset_ns: settings.shown.clock_offset_ns,
            max_gap: settings.shown.max_gap,
        })))
    }
}

#[glib::object_subclass]
impl ObjectSubclass for SaysDemux {
    const NAME: &'static str = "GstSaysDemux";
    type Type = super::SaysDemux;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        Self {
            adapter: DemuxAdapter::new::<Self>(&templ),
            settings: Mutex::new(Settings::default()),
        }
    }
}

impl ObjectImpl for SaysDemux {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let mut properties = presentation_pspecs(
                "Add a subtitle pad per camera (subtitle_N, text/x-raw) with the capture \
                 time in the recorder's time zone, the speed and the GPS position, one \
                 cue per video frame: players show it over the picture, mp4mux and \
                 matroskamux keep it as a text track.",
                true,
            );
            properties.push(
                glib::ParamSpecBoolean::builder("telemetry")
                    .nick("Telemetry")
                    .blurb(
                        "Add a pad per camera (meta_N, application/x-json, \
                         format=says-telemetry) with each video frame's metadata as one JSON \
                         object (speed, GPS, voltage, g-sensor, ...), for applications; made \
                         only while the pad is linked. Off by default: no player decodes it.",
                    )
                    .default_value(false)
                    .mutable_ready()
                    .build(),
            );
            properties
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = crate::common::streams::lock(&self.settings);
        if settings.shown.set("saysdemux", pspec.name(), value) {
            return;
        }
        match pspec.name() {
            "telemetry" => settings.telemetry = value.get().expect("type checked upstream"),
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = crate::common::streams::lock(&self.settings);
        if let Some(value) = settings.shown.get(pspec.name()) {
            return value;
        }
        match pspec.name() {
            "telemetry" => settings.telemetry.to_value(),
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        crate::common::demux::element::constructed(self);
    }
}

impl GstObjectImpl for SaysDemux {}

impl ElementImpl for SaysDemux {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Rosco SAYS demuxer",
                "Codec/Demuxer",
                "Demuxes Rosco dashcam recordings (.nvr, SAYS) into H.264 per camera, mu-law or \
                 Opus audio, JPEG snapshots, capture time/speed/GPS subtitles and (on request) \
                 per-frame telemetry JSON, on one clock, with resynchronisation over damage",
                "gst-cctv developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink = crate::common::demux::sink_pad_template(super::SINK_CAPS_NAME);
            let video =
                crate::common::demux::h264_src_pad_template(template_name(StreamKind::Video));
            let mut audio_caps = gst::Caps::builder("audio/x-mulaw")
                .field("rate", 8000i32)
                .field("channels", 1i32)
                .build();
            audio_caps.merge(
                gst::Caps::builder("audio/x-opus")
                    .field("rate", 48000i32)
                    .field("channels", gst::IntRange::new(1i32, 2))
                    .field("channel-mapping-family", 0i32)
                    .build(),
            );
            let audio = gst::PadTemplate::new(
                template_name(StreamKind::Audio),
                gst::PadDirection::Src,
                gst::PadPresence::Sometimes,
                &audio_caps,
            )
            .unwrap();
            let meta = gst::PadTemplate::new(
                template_name(StreamKind::Data),
                gst::PadDirection::Src,
                gst::PadPresence::Sometimes,
                &gst::Caps::builder("application/x-json")
                    .field("format", TELEMETRY_SCHEMA)
                    .build(),
            )
            .unwrap();
            let image = gst::PadTemplate::new(
                template_name(StreamKind::Image),
                gst::PadDirection::Src,
                gst::PadPresence::Sometimes,
                &gst::Caps::new_empty_simple("image/jpeg"),
            )
            .unwrap();
            let subtitle = crate::common::present::subtitle_pad_template();
            vec![sink, video, audio, meta, image, subtitle]
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
