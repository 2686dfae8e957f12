// SPDX-License-Identifier: MIT
//! Element glue for `rf1urisrc`: rf1src plus a queue per pad, as a bin.

use crate::common::inner;
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
        let name = pad.name();
        let Ok(queue) = gst::ElementFactory::make("queue")
            .name(inner::helper_name(&name))
            .build()
        else {
            gst::warning!(CAT, imp = self, "No queue element");
            return;
        };
        if obj.add(&queue).is_err() {
            return;
        }
        let _ = queue.sync_state_with_parent();
        let (Some(sink), Some(out)) = (queue.static_pad("sink"), queue.static_pad("src")) else {
            return;
        };
        if pad.link(&sink).is_err() {
            gst::warning!(CAT, imp = self, "Cannot link pad {}", name);
            return;
        }
        if let Err(why) = inner::add_ghost(obj.upcast_ref(), "%s", &out, &name) {
            gst::warning!(CAT, imp = self, "{}", why);
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
        inner::follow_pads(&*obj, self.src.upcast_ref(), |obj, pad| {
            obj.imp().expose(pad)
        });
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
