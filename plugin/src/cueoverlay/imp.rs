// SPDX-License-Identifier: MIT
//! Element glue for `cctvcueoverlay`: textoverlay behind the cue pacer,
//! with probes that tell the pacer which pictures textoverlay passed on and
//! when they ended.

use super::pacer::{CuePacer, Shared};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::{Arc, LazyLock, OnceLock};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "cctvcueoverlay",
        gst::DebugColorFlags::empty(),
        Some("Capture-time cue overlay"),
    )
});

#[derive(Default)]
pub struct CueOverlay {
    /// textoverlay (None where GStreamer's pango plugin is missing: the
    /// element then fails to start with a clear error).
    overlay: OnceLock<Option<gst::Element>>,
    shared: OnceLock<Arc<Shared>>,
}

impl CueOverlay {
    fn overlay(&self) -> Option<&gst::Element> {
        self.overlay.get().and_then(Option::as_ref)
    }

    /// The pictures have ended: no cue held in textoverlay will be taken
    /// off, so a cue the pacer is handing it waits for ever (and the text's
    /// EOS behind it, which streamsynchronizer waits for before it lets the
    /// video's EOS through). Flush textoverlay's text input to release it;
    /// the pacer drops what follows.
    fn pictures_ended(&self) {
        let Some(shared) = self.shared.get() else {
            return;
        };
        if !shared.pictures_ended() {
            return;
        }
        let Some(text) = self.overlay().and_then(|o| o.static_pad("text_sink")) else {
            return;
        };
        gst::debug!(
            CAT,
            imp = self,
            "Pictures ended with a cue waiting: releasing it"
        );
        text.send_event(gst::event::FlushStart::new());
        text.send_event(gst::event::FlushStop::new(false));
        shared.text_input_flushed();
    }
}

#[glib::object_subclass]
impl ObjectSubclass for CueOverlay {
    const NAME: &'static str = "GstCctvCueOverlay";
    type Type = super::CueOverlay;
    type ParentType = gst::Bin;
}

impl ObjectImpl for CueOverlay {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                // What subtitleoverlay sets on a renderer: `silent` (the
                // player's subtitle switch) and `font-desc`.
                glib::ParamSpecBoolean::builder("silent")
                    .nick("Silent")
                    .blurb("Show no cues (the pictures pass unchanged)")
                    .default_value(false)
                    .build(),
                glib::ParamSpecString::builder("font-desc")
                    .nick("Font description")
                    .blurb("Pango font description of the cue text")
                    .write_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "silent" => {
                let silent = value.get::<bool>().unwrap_or(false);
                if let Some(shared) = self.shared.get() {
                    shared.set_silent(silent);
                }
                if let Some(overlay) = self.overlay() {
                    overlay.set_property("silent", silent);
                }
            }
            "font-desc" => {
                // subtitleoverlay sets its own (unset: NULL); textoverlay
                // takes only a description (NULL is a Pango critical).
                let desc: Option<String> = value.get().unwrap_or(None);
                if let (Some(overlay), Some(desc)) = (self.overlay(), desc) {
                    overlay.set_property("font-desc", desc);
                }
            }
            _ => unreachable!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "silent" => self.shared.get().is_some_and(|s| s.silent()).to_value(),
            _ => unreachable!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        let pacer = CuePacer::new("pacer");
        let shared = pacer.shared();
        let _ = self.shared.set(shared.clone());
        let overlay = gst::ElementFactory::make("textoverlay")
            .name("textoverlay")
            .build()
            .ok();
        let _ = self.overlay.set(overlay.clone());
        obj.add(&pacer).unwrap();
        let text_target = pacer.static_pad("sink").unwrap();
        let ghost = |name: &str, target: Option<gst::Pad>| {
            let templ = obj.pad_template(name).unwrap();
            let pad = match target {
                Some(target) => gst::GhostPad::builder_from_template_with_target(&templ, &target)
                    .unwrap()
                    .name(name)
                    .build(),
                None => gst::GhostPad::builder_from_template(&templ)
                    .name(name)
                    .build(),
            };
            obj.add_pad(&pad).unwrap();
        };
        let Some(overlay) = overlay else {
            ghost("video_sink", None);
            ghost("text_sink", Some(text_target));
            ghost("src", None);
            return;
        };
        // As subtitleoverlay sets up a textoverlay it renders with.
        overlay.set_property_from_str("halignment", "center");
        overlay.set_property_from_str("valignment", "bottom");
        overlay.set_property("wait-text", false);
        obj.add(&overlay).unwrap();
        pacer
            .static_pad("src")
            .unwrap()
            .link(&overlay.static_pad("text_sink").unwrap())
            .unwrap();
        let video = overlay.static_pad("video_sink").unwrap();
        let src = overlay.static_pad("src").unwrap();

        // The pictures textoverlay passed on (its output: it has taken a
        // cue off, if any, before it pushes a picture).
        let picture_shared = shared.clone();
        src.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |pad, info| {
                match &info.data {
                    Some(gst::PadProbeData::Buffer(buffer)) => {
                        picture_shared.picture(buffer, pad.current_caps().as_ref())
                    }
                    Some(gst::PadProbeData::Event(event)) => {
                        if let gst::EventView::Segment(e) = event.view()
                            && let Some(segment) = e.segment().downcast_ref::<gst::ClockTime>()
                        {
                            picture_shared.video_segment(segment);
                        }
                    }
                    _ => {}
                }
                gst::PadProbeReturn::Ok
            },
        );
        // The end of the pictures: EOS, or the open-ended GAP
        // streamsynchronizer sends instead while it holds the video's EOS
        // until every other stream's.
        let weak = obj.downgrade();
        video.add_probe(
            gst::PadProbeType::EVENT_DOWNSTREAM | gst::PadProbeType::EVENT_FLUSH,
            move |_pad, info| {
                let Some(gst::PadProbeData::Event(event)) = &info.data else {
                    return gst::PadProbeReturn::Ok;
                };
                let Some(obj) = weak.upgrade() else {
                    return gst::PadProbeReturn::Ok;
                };
                match event.view() {
                    gst::EventView::Eos(_) => obj.imp().pictures_ended(),
                    gst::EventView::Gap(gap) if gap.get().1.is_none() => obj.imp().pictures_ended(),
                    gst::EventView::FlushStop(_) => {
                        if let Some(shared) = obj.imp().shared.get() {
                            shared.video_flushed();
                        }
                    }
                    _ => {}
                }
                gst::PadProbeReturn::Ok
            },
        );
        ghost("video_sink", Some(video));
        ghost("text_sink", Some(text_target));
        ghost("src", Some(src));
    }
}

impl GstObjectImpl for CueOverlay {}

impl ElementImpl for CueOverlay {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Capture-time cue overlay",
                "Mixer/Video/Overlay/Subtitle",
                "Renders the capture-time cues of pavsdemux, saysdemux and rf1src on the \
                 pictures (textoverlay), and lets playback end when pictures run ahead of \
                 the cues",
                "gst-cctv developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            // Raw video as textoverlay takes it (the instance's pads answer
            // caps queries with textoverlay's exact caps).
            let video: gst::Caps = "video/x-raw; video/x-raw(ANY)".parse().unwrap();
            vec![
                gst::PadTemplate::new(
                    "video_sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &video,
                )
                .unwrap(),
                gst::PadTemplate::new(
                    "text_sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &crate::common::present::text_caps(),
                )
                .unwrap(),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &video,
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
        if transition == gst::StateChange::NullToReady && self.overlay().is_none() {
            gst::element_imp_error!(
                self,
                gst::CoreError::MissingPlugin,
                ("cctvcueoverlay needs textoverlay (GStreamer's pango plugin, Debian package \
                  gstreamer1.0-plugins-base)")
            );
            return Err(gst::StateChangeError);
        }
        self.parent_change_state(transition)
    }
}

impl BinImpl for CueOverlay {}
