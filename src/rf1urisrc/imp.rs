// SPDX-License-Identifier: MIT
//! Element glue for `rf1urisrc`: rf1src plus a queue per pad, as a bin.

use crate::rf1src::Rf1Src;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::LazyLock;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "rf1urisrc",
        gst::DebugColorFlags::empty(),
        Some("Cyclops rf1 URI source"),
    )
});

pub struct Rf1UriSrc {
    src: Rf1Src,
}

impl Rf1UriSrc {
    /// Puts a queue behind `pad` and exposes the queue's output under the
    /// pad's name.
    fn expose(&self, pad: &gst::Pad) {
        let obj = self.obj();
        let Ok(queue) = gst::ElementFactory::make("queue").build() else {
            gst::warning!(CAT, imp = self, "No queue element");
            return;
        };
        if obj.add(&queue).is_err() {
            return;
        }
        let _ = queue.sync_state_with_parent();
        let (Some(sink), Some(out), Some(templ)) = (
            queue.static_pad("sink"),
            queue.static_pad("src"),
            obj.pad_template("%s"),
        ) else {
            return;
        };
        if pad.link(&sink).is_err() {
            gst::warning!(CAT, imp = self, "Cannot link pad {}", pad.name());
            return;
        }
        let Ok(ghost) = gst::GhostPad::builder_from_template_with_target(&templ, &out)
            .map(|b| b.name(pad.name()).build())
        else {
            return;
        };
        let _ = ghost.set_active(true);
        if obj.add_pad(&ghost).is_err() {
            gst::warning!(CAT, imp = self, "Cannot add pad {}", pad.name());
        }
    }

    fn unexpose(&self, pad: &gst::Pad) {
        let obj = self.obj();
        if let Some(ghost) = obj.static_pad(pad.name().as_str()) {
            let _ = ghost.set_active(false);
            let _ = obj.remove_pad(&ghost);
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Rf1UriSrc {
    const NAME: &'static str = "GstRf1UriSrc";
    type Type = super::Rf1UriSrc;
    type ParentType = gst::Bin;
    type Interfaces = (gst::URIHandler,);

    fn new() -> Self {
        let src = glib::Object::builder::<Rf1Src>()
            .property("name", "rf1src")
            .build();
        Self { src }
    }
}

impl ObjectImpl for Rf1UriSrc {
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add(&self.src).expect("add rf1src");
        crate::common::inner::follow_pads(
            &*obj,
            self.src.upcast_ref(),
            |obj, pad| obj.imp().expose(pad),
            |obj, pad| obj.imp().unexpose(pad),
        );
    }
}

impl GstObjectImpl for Rf1UriSrc {}

impl ElementImpl for Rf1UriSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Cyclops rf1 URI source",
                "Source/File",
                "Plays rf1:// URIs (a camera directory, a segment or a track file; ?tracks= \
                 selects tracks) with rf1src, a queue behind each pad",
                "gst-cctv developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            vec![
                gst::PadTemplate::new(
                    "%s",
                    gst::PadDirection::Src,
                    gst::PadPresence::Sometimes,
                    &gst::Caps::new_any(),
                )
                .unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl BinImpl for Rf1UriSrc {}

impl URIHandlerImpl for Rf1UriSrc {
    const URI_TYPE: gst::URIType = gst::URIType::Src;

    fn protocols() -> &'static [&'static str] {
        &["rf1"]
    }

    fn uri(&self) -> Option<String> {
        self.src
            .upcast_ref::<gst::URIHandler>()
            .uri()
            .map(|u| u.to_string())
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        self.src.upcast_ref::<gst::URIHandler>().set_uri(uri)
    }
}
