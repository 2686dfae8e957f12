// SPDX-License-Identifier: MIT
//! The pacer on `cctvcueoverlay`'s text input (see the module docs): it
//! gives textoverlay a cue only when no cue is held there, drops the cues
//! no picture can show any more, and drops every cue once the pictures
//! have ended. The bin reports the pictures (`Shared`).

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

glib::wrapper! {
    pub struct CuePacer(ObjectSubclass<imp::CuePacer>) @extends gst::Element, gst::Object;
}

impl CuePacer {
    pub fn new(name: &str) -> Self {
        glib::Object::builder().property("name", name).build()
    }

    /// What the pacer and the bin's picture probes share.
    pub fn shared(&self) -> Arc<Shared> {
        self.imp().shared.clone()
    }
}

/// The cue textoverlay holds, as far as the pacer knows.
#[derive(Debug, Clone, Copy)]
struct Held {
    /// Its end in running time; `None`: untimed, the next picture takes it.
    end: Option<gst::ClockTime>,
    /// Pictures passed when textoverlay had it: a later one takes it off.
    after: u64,
}

#[derive(Debug)]
pub struct Progress {
    text_segment: gst::FormattedSegment<gst::ClockTime>,
    video_segment: gst::FormattedSegment<gst::ClockTime>,
    /// Pictures textoverlay passed on, and the running time the last one
    /// starts and ends at.
    pictures: u64,
    picture_start: Option<gst::ClockTime>,
    picture_end: Option<gst::ClockTime>,
    held: Option<Held>,
    /// No picture comes before a flush: textoverlay will take no cue off.
    pictures_ended: bool,
    /// The pacer's thread is inside textoverlay's text input.
    in_push: bool,
    /// textoverlay's text input was flushed from inside (to release a cue
    /// after the pictures ended): send it the segment again.
    resend_segment: bool,
    flushing: bool,
    silent: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            text_segment: gst::FormattedSegment::new(),
            video_segment: gst::FormattedSegment::new(),
            pictures: 0,
            picture_start: None,
            picture_end: None,
            held: None,
            pictures_ended: false,
            in_push: false,
            resend_segment: false,
            flushing: false,
            silent: false,
        }
    }
}

#[derive(Debug, Default)]
pub struct Shared {
    state: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        // A panic elsewhere cannot leave Progress half-updated in a way
        // that matters more than stopping the player: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// textoverlay passed a picture on (its output): `buffer` in `caps`.
    pub fn picture(&self, buffer: &gst::BufferRef, caps: Option<&gst::Caps>) {
        let Some(pts) = buffer.pts() else { return };
        let mut st = self.lock();
        // The same end as textoverlay gives a picture: its duration, else
        // one frame at the caps' frame rate, else 1 ns.
        let frame = buffer.duration().or_else(|| {
            let s = caps?.structure(0)?;
            let rate = s.get::<gst::Fraction>("framerate").ok()?;
            (rate.numer() > 0 && rate.denom() > 0).then(|| {
                gst::ClockTime::SECOND
                    .mul_div_floor(rate.denom() as u64, rate.numer() as u64)
                    .unwrap_or(gst::ClockTime::ZERO)
            })
        });
        let end = pts.saturating_add(frame.unwrap_or(gst::ClockTime::from_nseconds(1)));
        st.pictures += 1;
        st.picture_start = st.video_segment.to_running_time(pts);
        st.picture_end = st.video_segment.to_running_time(end);
        st.pictures_ended = false;
        self.changed.notify_all();
    }

    /// textoverlay's output segment (the pictures' running times).
    pub fn video_segment(&self, segment: &gst::FormattedSegment<gst::ClockTime>) {
        self.lock().video_segment = segment.clone();
    }

    /// The pictures were flushed (seek): new ones follow.
    pub fn video_flushed(&self) {
        let mut st = self.lock();
        st.picture_start = None;
        st.picture_end = None;
        st.pictures_ended = false;
        self.changed.notify_all();
    }

    /// No picture comes before a flush. Returns whether the pacer's thread
    /// is inside textoverlay's text input, where only a flush of that input
    /// releases it now.
    pub fn pictures_ended(&self) -> bool {
        let mut st = self.lock();
        st.pictures_ended = true;
        self.changed.notify_all();
        st.in_push
    }

    /// After the bin flushed textoverlay's text input itself.
    pub fn text_input_flushed(&self) {
        let mut st = self.lock();
        st.held = None;
        st.resend_segment = true;
        self.changed.notify_all();
    }

    pub fn set_silent(&self, silent: bool) {
        let mut st = self.lock();
        st.silent = silent;
        self.changed.notify_all();
    }

    pub fn silent(&self) -> bool {
        self.lock().silent
    }

    fn set_flushing(&self, flushing: bool) {
        let mut st = self.lock();
        st.flushing = flushing;
        if !flushing {
            // textoverlay's flush takes its held cue off.
            st.held = None;
        }
        self.changed.notify_all();
    }

    fn reset(&self) {
        let mut st = self.lock();
        let silent = st.silent;
        *st = Progress {
            silent,
            ..Progress::default()
        };
        self.changed.notify_all();
    }
}

impl Progress {
    fn slot_free(&self) -> bool {
        match self.held {
            None => true,
            Some(held) => {
                self.pictures > held.after
                    && match (held.end, self.picture_end) {
                        (None, _) => true,
                        (Some(end), Some(picture_end)) => picture_end >= end,
                        (Some(_), None) => false,
                    }
            }
        }
    }
}

mod imp {
    use super::*;
    use std::sync::LazyLock;

    static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
        gst::DebugCategory::new(
            "cctvcueoverlay",
            gst::DebugColorFlags::empty(),
            Some("Capture-time cue overlay"),
        )
    });

    pub struct CuePacer {
        sinkpad: gst::Pad,
        srcpad: gst::Pad,
        pub(super) shared: Arc<Shared>,
    }

    impl CuePacer {
        fn chain(&self, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
            let Some(pts) = buffer.pts() else {
                // Untimed: textoverlay shows it on the next picture.
                return self.srcpad.push(buffer);
            };
            let mut st = self.shared.lock();
            let Some(start) = st.text_segment.to_running_time(pts) else {
                // Outside the segment: textoverlay would clip it away.
                return Ok(gst::FlowSuccess::Ok);
            };
            let end = buffer
                .duration()
                .and_then(|d| pts.checked_add(d))
                .and_then(|end| st.text_segment.to_running_time(end));
            loop {
                if st.flushing {
                    return Err(gst::FlowError::Flushing);
                }
                if st.pictures_ended || st.silent {
                    gst::log!(
                        CAT,
                        imp = self,
                        "No picture will show the cue at {start}: dropped"
                    );
                    return Ok(gst::FlowSuccess::Ok);
                }
                // The next picture starts no earlier than the last one: a
                // cue that ends before that is never shown.
                if let (Some(end), Some(picture_start)) = (end, st.picture_start)
                    && end <= picture_start
                {
                    gst::log!(CAT, imp = self, "Cue {start}..{end} is late: dropped");
                    return Ok(gst::FlowSuccess::Ok);
                }
                if st.slot_free() {
                    break;
                }
                st = self
                    .shared
                    .changed
                    .wait(st)
                    .unwrap_or_else(|e| e.into_inner());
            }
            st.held = None;
            st.in_push = true;
            let resend = std::mem::take(&mut st.resend_segment).then(|| st.text_segment.clone());
            drop(st);
            if let Some(segment) = resend {
                self.srcpad.push_event(gst::event::Segment::new(&segment));
            }
            let result = self.srcpad.push(buffer);
            let mut st = self.shared.lock();
            st.in_push = false;
            match result {
                Ok(ok) => {
                    st.held = Some(Held {
                        end,
                        after: st.pictures,
                    });
                    Ok(ok)
                }
                // Released by the bin's flush of textoverlay's input once
                // the pictures had ended; upstream is not flushing.
                Err(gst::FlowError::Flushing) if !st.flushing => Ok(gst::FlowSuccess::Ok),
                Err(e) => Err(e),
            }
        }

        fn sink_event(&self, event: gst::Event) -> bool {
            match event.view() {
                gst::EventView::FlushStart(_) => self.shared.set_flushing(true),
                gst::EventView::FlushStop(_) => self.shared.set_flushing(false),
                gst::EventView::Segment(e) => {
                    if let Some(segment) = e.segment().downcast_ref::<gst::ClockTime>() {
                        self.shared.lock().text_segment = segment.clone();
                    }
                }
                _ => {}
            }
            self.srcpad.push_event(event)
        }
    }

    #[glib::object_subclass]
    impl ObjectSubclass for CuePacer {
        const NAME: &'static str = "GstCctvCuePacer";
        type Type = super::CuePacer;
        type ParentType = gst::Element;

        fn with_class(klass: &Self::Class) -> Self {
            let sinkpad = gst::Pad::builder_from_template(&klass.pad_template("sink").unwrap())
                .chain_function(|_pad, parent, buffer| {
                    CuePacer::catch_panic_pad_function(
                        parent,
                        || Err(gst::FlowError::Error),
                        |pacer| pacer.chain(buffer),
                    )
                })
                .event_function(|_pad, parent, event| {
                    CuePacer::catch_panic_pad_function(
                        parent,
                        || false,
                        |pacer| pacer.sink_event(event),
                    )
                })
                .flags(gst::PadFlags::PROXY_CAPS)
                .build();
            let srcpad = gst::Pad::builder_from_template(&klass.pad_template("src").unwrap())
                .flags(gst::PadFlags::PROXY_CAPS)
                .build();
            Self {
                sinkpad,
                srcpad,
                shared: Arc::new(Shared::default()),
            }
        }
    }

    impl ObjectImpl for CuePacer {
        fn constructed(&self) {
            self.parent_constructed();
            let obj = self.obj();
            obj.add_pad(&self.sinkpad).unwrap();
            obj.add_pad(&self.srcpad).unwrap();
        }
    }

    impl GstObjectImpl for CuePacer {}

    impl ElementImpl for CuePacer {
        fn pad_templates() -> &'static [gst::PadTemplate] {
            static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
                let caps = gst::Caps::new_empty_simple("text/x-raw");
                vec![
                    gst::PadTemplate::new(
                        "sink",
                        gst::PadDirection::Sink,
                        gst::PadPresence::Always,
                        &caps,
                    )
                    .unwrap(),
                    gst::PadTemplate::new(
                        "src",
                        gst::PadDirection::Src,
                        gst::PadPresence::Always,
                        &caps,
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
            match transition {
                // Out of any wait before the pads deactivate (they take
                // the stream lock the waiting chain holds).
                gst::StateChange::PausedToReady => self.shared.set_flushing(true),
                gst::StateChange::ReadyToPaused => self.shared.reset(),
                _ => {}
            }
            self.parent_change_state(transition)
        }
    }
}
