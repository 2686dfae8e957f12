// SPDX-License-Identifier: MIT
//! Element glue for `rf1demux`: a bin around `rf1src` that finds the
//! recording through the upstream URI query.

use crate::casesrc::CaseSrc;
use crate::common::inner;
use crate::rf1src::Rf1Src;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::LazyLock;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "rf1demux",
        gst::DebugColorFlags::empty(),
        Some("Cyclops rf1 index demuxer"),
    )
});

pub struct Rf1Demux {
    sinkpad: gst::Pad,
    /// Plays `rf1://` and `file://` (an rf1 recording).
    src: Rf1Src,
    /// Plays `cctv://` (a case camera). The one not playing stays locked
    /// in NULL.
    case: CaseSrc,
}

impl Rf1Demux {
    /// The URI upstream reads, from the URI query: a `file://` index file
    /// (filesrc, giosrc) or an `rf1://` recording (rf1urisrc).
    fn upstream_uri(&self) -> Result<String, gst::ErrorMessage> {
        let mut query = gst::query::Uri::new();
        self.sinkpad
            .peer_query(&mut query)
            .then(|| query.uri().map(|u| u.to_string()))
            .flatten()
            .ok_or_else(|| {
                gst::error_msg!(
                    gst::ResourceError::NotFound,
                    ("Cannot play this rf1 index: upstream does not say which file it is \
                         reading, and an rf1 recording needs the files beside it (open it by \
                         file name, or use rf1src location=…)")
                )
            })
    }

    /// Points the inner source at what upstream reads: rf1src for an rf1
    /// recording, cctvsrc for a case camera (`cctv://`).
    fn open_upstream(&self) -> Result<(), gst::ErrorMessage> {
        let uri = self.upstream_uri()?;
        let case = uri.starts_with("cctv://");
        let local = case || uri.starts_with("file://") || uri.starts_with("rf1://");
        let (active, idle): (&gst::Element, &gst::Element) = if case {
            (self.case.upcast_ref(), self.src.upcast_ref())
        } else {
            (self.src.upcast_ref(), self.case.upcast_ref())
        };
        // The idle one out of the bin's state changes, in NULL (a locked
        // element is left in whatever state it had).
        idle.set_locked_state(true);
        let _ = idle.set_state(gst::State::Null);
        active.set_locked_state(false);
        let result = if local {
            active
                .dynamic_cast_ref::<gst::URIHandler>()
                .expect("both inner sources handle URIs")
                .set_uri(&uri)
        } else {
            Err(glib::Error::new(gst::URIError::UnsupportedProtocol, ""))
        };
        result.map_err(|e| {
            if local {
                gst::error_msg!(
                    gst::ResourceError::NotFound,
                    ("Cannot play the rf1 recording {}: {}", uri, e)
                )
            } else {
                gst::error_msg!(
                    gst::ResourceError::NotFound,
                    (
                        "Cannot play the rf1 index {}: it is not a local file, and an rf1 \
                         recording needs the files beside it",
                        uri
                    )
                )
            }
        })?;
        gst::debug!(CAT, imp = self, "Playing {}", uri);
        Ok(())
    }

    fn expose(&self, pad: &gst::Pad) {
        let name = pad.name();
        let owner = self.obj();
        if let Err(why) = inner::add_ghost(owner.upcast_ref(), "src_%s", pad, &name) {
            gst::warning!(CAT, imp = self, "{}", why);
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Rf1Demux {
    const NAME: &'static str = "GstRf1Demux";
    type Type = super::Rf1Demux;
    type ParentType = gst::Bin;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        // Nothing is read from upstream: the index is opened by name with
        // its companions. Pull mode when upstream offers it (no reading at
        // all), else whatever is pushed ends at once.
        let sinkpad = gst::Pad::builder_from_template(&templ)
            .activate_function(|pad, _parent| {
                // Pull only where upstream offers it: asking a push-only
                // source (rf1urisrc) for pull mode made it stop its task
                // from that very task.
                let mut query = gst::query::Scheduling::new();
                let pull = pad.peer_query(&mut query)
                    && query.has_scheduling_mode_with_flags(
                        gst::PadMode::Pull,
                        gst::SchedulingFlags::SEEKABLE,
                    );
                if pull && pad.activate_mode(gst::PadMode::Pull, true).is_ok() {
                    return Ok(());
                }
                pad.activate_mode(gst::PadMode::Push, true)
                    .map_err(|_| gst::loggable_error!(CAT, "Cannot activate the sink pad"))
            })
            .activatemode_function(|_, _, _, _| Ok(()))
            .chain_function(|_, _, _| Err(gst::FlowError::Eos))
            .event_function(|_, _, _| true)
            .build();
        let src = glib::Object::builder::<Rf1Src>()
            .property("name", "rf1src")
            .build();
        let case = glib::Object::builder::<CaseSrc>()
            .property("name", "cctvsrc")
            .build();
        // Until a URI says which plays.
        case.set_locked_state(true);
        Self { sinkpad, src, case }
    }
}

impl ObjectImpl for Rf1Demux {
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("add sink pad");
        obj.add(&self.src).expect("add rf1src");
        obj.add(&self.case).expect("add cctvsrc");
        for inner in [
            self.src.upcast_ref::<gst::Element>(),
            self.case.upcast_ref(),
        ] {
            inner::follow_pads(&*obj, inner, |obj, pad| obj.imp().expose(pad));
        }
    }
}

impl GstObjectImpl for Rf1Demux {}

impl ElementImpl for Rf1Demux {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Cyclops rf1 index demuxer",
                "Codec/Demuxer",
                "Plays the Cyclops NVR recording an rf1 index file (.rf1i) belongs to: finds \
                 the file through the upstream URI query and plays its whole segment (every \
                 track, H.264/H.265 and capture-time subtitles) with rf1src",
                "gst-cctv developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &gst::Caps::new_empty_simple(super::SINK_CAPS_NAME),
                )
                .unwrap(),
                gst::PadTemplate::new(
                    "src_%s",
                    gst::PadDirection::Src,
                    gst::PadPresence::Sometimes,
                    &gst::Caps::new_any(),
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
        if transition == gst::StateChange::ReadyToPaused
            && let Err(msg) = self.open_upstream()
        {
            self.post_error_message(msg);
            return Err(gst::StateChangeError);
        }
        self.parent_change_state(transition)
    }
}

impl BinImpl for Rf1Demux {}
