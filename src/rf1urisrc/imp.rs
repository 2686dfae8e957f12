// SPDX-License-Identifier: MIT
//! Element glue for `rf1urisrc`: rf1src plus a multiqueue behind its pads, as a bin.

use crate::common::inner;
use crate::rf1src::Rf1Src;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "rf1urisrc",
        gst::DebugColorFlags::empty(),
        Some("Cyclops rf1 URI source"),
    )
});

pub struct Rf1UriSrc {
    src: Rf1Src,
    /// One multiqueue behind every pad: a queue per pad (a thread each, so
    /// that one pad's full sink does not block the only streaming thread
    /// before the others preroll), but with flow combining: a plain
    /// `queue` fails the whole pipeline when its pad's stream is not shown
    /// (NOT_LINKED from playbin's input-selector or decodebin3), while
    /// multiqueue reports NOT_LINKED upstream only when every pad is.
    queues: gst::Element,
    /// The multiqueue sink pad behind each of rf1src's pads, by name.
    behind: Mutex<HashMap<String, gst::Pad>>,
}

impl Rf1UriSrc {
    /// Links `pad` to a new pad of the multiqueue and exposes that pad's
    /// output under `pad`'s name.
    fn expose(&self, pad: &gst::Pad) {
        let obj = self.obj();
        let name = pad.name();
        let Some(sink) = self.queues.request_pad_simple("sink_%u") else {
            gst::warning!(CAT, imp = self, "No multiqueue pad for {}", name);
            return;
        };
        // multiqueue pairs sink_N with src_N.
        let out = sink
            .name()
            .strip_prefix("sink_")
            .and_then(|n| self.queues.static_pad(&format!("src_{n}")));
        let Some(out) = out else {
            self.queues.release_request_pad(&sink);
            return;
        };
        self.behind
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), sink.clone());
        if pad.link(&sink).is_err() {
            gst::warning!(CAT, imp = self, "Cannot link pad {}", name);
            return;
        }
        if let Err(why) = inner::add_ghost(obj.upcast_ref(), "%s", &out, &name) {
            gst::warning!(CAT, imp = self, "{}", why);
        }
    }

    /// Releases the multiqueue pads that were behind rf1src's pad `name`.
    fn forget(&self, name: &str) {
        let sink = self
            .behind
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        if let Some(sink) = sink {
            self.queues.release_request_pad(&sink);
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
        let queues = gst::ElementFactory::make("multiqueue")
            .name("queues")
            // Bounded by time (both tracks come in time order from one
            // thread), not by a buffer count that a high frame rate fills.
            .property("max-size-buffers", 0u32)
            .property("max-size-time", gst::ClockTime::from_seconds(2).nseconds())
            .build()
            .expect("multiqueue (coreelements)");
        Self {
            src,
            queues,
            behind: Mutex::new(HashMap::new()),
        }
    }
}

impl ObjectImpl for Rf1UriSrc {
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add(&self.src).expect("add rf1src");
        obj.add(&self.queues).expect("add multiqueue");
        inner::follow_pads(
            &*obj,
            self.src.upcast_ref(),
            |obj, pad| obj.imp().expose(pad),
            |obj, name| obj.imp().forget(name),
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
                 selects tracks) with rf1src, a multiqueue behind its pads",
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
