// SPDX-License-Identifier: MIT
//! Element glue for `rf1urisrc`: a source whose one pad stands for the
//! recording, as a file source's does for a file.

use crate::casesrc::CaseSrc;
use crate::rf1demux::SINK_CAPS_NAME;
use crate::rf1src::Rf1Src;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "rf1urisrc",
        gst::DebugColorFlags::empty(),
        Some("Cyclops rf1 URI source"),
    )
});

#[derive(Default)]
pub struct Rf1UriSrc {
    /// The `rf1://` URI, as set (checked by rf1src's URI handler).
    uri: Mutex<Option<String>>,
}

#[glib::object_subclass]
impl ObjectSubclass for Rf1UriSrc {
    const NAME: &'static str = "GstRf1UriSrc";
    type Type = super::Rf1UriSrc;
    type ParentType = gst_base::BaseSrc;
    type Interfaces = (gst::URIHandler,);
}

impl ObjectImpl for Rf1UriSrc {}

impl GstObjectImpl for Rf1UriSrc {}

impl ElementImpl for Rf1UriSrc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "CCTV recording URI source",
                "Source/File",
                "Opens rf1:// URIs (a camera directory, a segment or a track file; ?tracks= \
                 selects tracks) and cctv:// URIs (a camera of a folder of .psf/.nvr \
                 recordings; ?camera= selects it) for decodebin, which plays them with \
                 rf1demux",
                "gst-cctv developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            vec![
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &gst::Caps::new_empty_simple(SINK_CAPS_NAME),
                )
                .unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl BaseSrcImpl for Rf1UriSrc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        if lock(&self.uri).is_none() {
            return Err(gst::error_msg!(
                gst::ResourceError::NotFound,
                ("No rf1:// URI set")
            ));
        }
        Ok(())
    }

    fn caps(&self, filter: Option<&gst::Caps>) -> Option<gst::Caps> {
        let caps = gst::Caps::new_empty_simple(SINK_CAPS_NAME);
        Some(match filter {
            Some(f) => f.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
            None => caps,
        })
    }

    // Seekable with a size, like a file: urisourcebin then hands the pad to
    // decodebin3 as it does a file's (a source it cannot seek in gets a
    // parsebin and a multiqueue of its own in urisourcebin, and playbin3
    // then never reported the end of a two-track recording).
    fn is_seekable(&self) -> bool {
        true
    }

    fn size(&self) -> Option<u64> {
        Some(MARKER.len() as u64)
    }

    fn create(
        &self,
        offset: u64,
        _buffer: Option<&mut gst::BufferRef>,
        length: u32,
    ) -> Result<gst_base::subclass::base_src::CreateSuccess, gst::FlowError> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let Some(rest) = MARKER.get(start..).filter(|r| !r.is_empty()) else {
            return Err(gst::FlowError::Eos);
        };
        let n = rest
            .len()
            .min(usize::try_from(length).unwrap_or(usize::MAX));
        let mut buffer = gst::Buffer::from_slice(&rest[..n]);
        buffer.get_mut().expect("new buffer").set_offset(offset);
        Ok(gst_base::subclass::base_src::CreateSuccess::NewBuffer(
            buffer,
        ))
    }
}

/// The only bytes the source gives: an rf1 index's magic, which the rf1
/// index typefinder recognises (as decodebin's typefind needs bytes in pull
/// mode); rf1demux reads none of them and opens the recording by its URI.
const MARKER: &[u8] = b"rf1vh264";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl URIHandlerImpl for Rf1UriSrc {
    const URI_TYPE: gst::URIType = gst::URIType::Src;

    fn protocols() -> &'static [&'static str] {
        &["rf1", "cctv"]
    }

    fn uri(&self) -> Option<String> {
        lock(&self.uri).clone()
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        // The player's handler checks the path and the query now, so a bad
        // URI fails here rather than once playing.
        if uri.starts_with("rf1://") {
            glib::Object::new::<Rf1Src>()
                .upcast_ref::<gst::URIHandler>()
                .set_uri(uri)?;
        } else if uri.starts_with("cctv://") {
            glib::Object::new::<CaseSrc>()
                .upcast_ref::<gst::URIHandler>()
                .set_uri(uri)?;
        } else {
            return Err(glib::Error::new(
                gst::URIError::UnsupportedProtocol,
                &format!("Unsupported URI {uri}: use rf1:///path or cctv:///path?camera=N"),
            ));
        }
        gst::debug!(CAT, imp = self, "URI {}", uri);
        *lock(&self.uri) = Some(uri.to_owned());
        Ok(())
    }
}
