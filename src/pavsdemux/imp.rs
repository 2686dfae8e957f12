// SPDX-License-Identifier: MIT
//! Element glue for `pavsdemux`: the PAVS driver for the shared demux core.

use crate::common::demux::{DemuxCore, DemuxElement, Driver, Output, Parsed, UnitBytes};
use crate::common::h264::{BaselineParams, VuiHints, analog_pixel_aspect_ratio};
use crate::common::streams::{StreamKey, StreamSpec, unix_time_caps};
use crate::engine::timeline::Timeline;
use crate::formats::pavs::{self, BlockHeader, BlockParse};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "pavsdemux",
        gst::DebugColorFlags::empty(),
        Some("VMax PAVS demuxer"),
    )
});

#[derive(Debug, Clone, Copy)]
struct Settings {
    max_gap: Option<gst::ClockTime>,
    display_hints: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_gap: None,
            display_hints: true,
        }
    }
}

/// What is known about one camera channel.
struct Channel {
    camera_name: String,
    width: u16,
    height: u16,
    first_capture_ns: u64,
    /// Typical spacing of frames (median of the first forward steps). Only a
    /// nominal rate for caps: timestamps come from the blocks themselves.
    frame_interval_ns: Option<u64>,
    /// SPS + PPS for the current picture size, shared by every key frame.
    parameter_sets: Option<gst::Memory>,
    parameter_sets_size: (u16, u16),
}

/// Per-channel timelines sharing one origin, so that cameras stay in sync.
#[derive(Clone)]
pub struct Timelines {
    origin: u64,
    max_gap: Option<u64>,
    lines: BTreeMap<u8, Timeline>,
}

pub struct PavsDriver {
    settings: Settings,
    channels: BTreeMap<u8, Channel>,
    timelines: Timelines,
    /// Discontinuity decided by the timeline for the unit being output.
    timeline_discont: bool,
    blocks: u64,
}

impl PavsDriver {
    fn new(settings: Settings) -> Self {
        let max_gap = settings.max_gap.map(|g| g.nseconds());
        Self {
            settings,
            channels: BTreeMap::new(),
            timelines: Timelines {
                origin: 0,
                max_gap,
                lines: BTreeMap::new(),
            },
            timeline_discont: false,
            blocks: 0,
        }
    }

    /// The line of `channel`, started at the common origin.
    fn line(timelines: &mut Timelines, channel: u8) -> &mut Timeline {
        let (origin, max_gap) = (timelines.origin, timelines.max_gap);
        timelines
            .lines
            .entry(channel)
            .or_insert_with(|| Timeline::starting_at(origin, max_gap))
    }

    fn parameter_sets(&mut self, header: &BlockHeader) -> Option<gst::Memory> {
        let display_hints = self.settings.display_hints;
        let channel = self.channels.get_mut(&header.channel)?;
        let size = (header.width, header.height);
        if channel.parameter_sets.is_none() || channel.parameter_sets_size != size {
            let params = BaselineParams::for_size(header.width.into(), header.height.into())?;
            let (par_n, par_d) =
                analog_pixel_aspect_ratio(header.width.into(), header.height.into());
            let vui = display_hints.then_some(VuiHints {
                sample_aspect: (par_n as u16, par_d as u16),
                full_range: true,
            });
            let mut bytes = params.sps(vui);
            bytes.extend_from_slice(&params.pps());
            channel.parameter_sets = Some(gst::Memory::from_slice(bytes));
            channel.parameter_sets_size = size;
        }
        channel.parameter_sets.clone()
    }
}

impl Driver for PavsDriver {
    type Unit = BlockHeader;
    type Timeline = Timelines;

    fn format_name(&self) -> &'static str {
        "PAVS (VMax .psf)"
    }

    fn max_unit_len(&self) -> usize {
        pavs::MAX_BLOCK_LEN
    }

    fn parse_unit(&self, data: &[u8], _at_eof: bool) -> Parsed<BlockHeader> {
        match pavs::parse_block(data) {
            BlockParse::Block(header) => {
                let len = header.block_len;
                Parsed::Unit(header, len)
            }
            BlockParse::NeedMore(n) => Parsed::NeedMore(n),
            BlockParse::Invalid(reject) => {
                gst::trace!(CAT, "no block here: {}", reject);
                Parsed::Invalid
            }
        }
    }

    fn find_resync(&self, data: &[u8]) -> Option<usize> {
        pavs::find_magic(data, 1)
    }

    fn is_seek_point(&self, unit: &BlockHeader) -> bool {
        unit.key
    }

    fn stream_of(&mut self, unit: &BlockHeader) -> Option<StreamKey> {
        self.channels
            .entry(unit.channel)
            .or_insert_with(|| Channel {
                camera_name: unit.camera_name.clone(),
                width: unit.width,
                height: unit.height,
                first_capture_ns: unit.capture_time_ns(),
                frame_interval_ns: None,
                parameter_sets: None,
                parameter_sets_size: (0, 0),
            });
        Some(unit.channel.into())
    }

    fn stream_spec(&self, key: StreamKey) -> Option<StreamSpec> {
        let channel_id = u8::try_from(key).ok()?;
        let channel = self.channels.get(&channel_id)?;
        let (par_n, par_d) = analog_pixel_aspect_ratio(channel.width.into(), channel.height.into());
        let caps = gst::Caps::builder("video/x-h264")
            .field("stream-format", "byte-stream")
            .field("alignment", "au")
            .field("width", i32::from(channel.width))
            .field("height", i32::from(channel.height))
            .field(
                "pixel-aspect-ratio",
                gst::Fraction::new(par_n as i32, par_d as i32),
            )
            .field("framerate", nominal_framerate(channel.frame_interval_ns))
            .field("profile", "baseline")
            .field("level", "3")
            .build();
        let mut tags = gst::TagList::new();
        {
            let tags = tags.get_mut().unwrap();
            let title = format!("{} [{:02}]", channel.camera_name, channel_id);
            tags.add::<gst::tags::Title>(&title.as_str(), gst::TagMergeMode::Replace);
            tags.add::<gst::tags::Comment>(
                &format!(
                    "VMax DVR camera \"{}\", channel {}",
                    channel.camera_name, channel_id
                )
                .as_str(),
                gst::TagMergeMode::Replace,
            );
            tags.add::<gst::tags::ContainerFormat>(&"VMax PAVS", gst::TagMergeMode::Replace);
            tags.add::<gst::tags::VideoCodec>(&"H.264", gst::TagMergeMode::Replace);
            if let Ok(dt) =
                gst::DateTime::from_unix_epoch_utc_usecs((channel.first_capture_ns / 1000) as i64)
            {
                tags.add::<gst::tags::DateTime>(&dt, gst::TagMergeMode::Replace);
            }
        }
        Some(StreamSpec {
            key,
            template: "video_%u",
            pad_name: format!("video_{channel_id}"),
            caps,
            tags,
            flags: gst::StreamFlags::empty(),
        })
    }

    fn start_timeline(&mut self, first_units: &[&BlockHeader]) {
        // The earliest first frame of any channel is running time zero.
        let mut firsts = BTreeMap::new();
        let mut steps: BTreeMap<u8, (u64, Vec<u64>)> = BTreeMap::new();
        for unit in first_units {
            let capture = unit.capture_time_ns();
            firsts.entry(unit.channel).or_insert(capture);
            let (prev, list) = steps.entry(unit.channel).or_insert((capture, Vec::new()));
            if capture > *prev && capture - *prev <= crate::engine::timeline::GAP_NS {
                list.push(capture - *prev);
            }
            *prev = capture;
        }
        for (channel_id, (_, mut list)) in steps {
            list.sort_unstable();
            if let Some(channel) = self.channels.get_mut(&channel_id) {
                channel.frame_interval_ns = list.get(list.len() / 2).copied();
            }
        }
        self.timelines.origin = firsts.values().copied().min().unwrap_or(0);
        self.timelines.lines.clear();
    }

    fn timeline(&self) -> Timelines {
        self.timelines.clone()
    }

    fn set_timeline(&mut self, timeline: Timelines) {
        self.timelines = timeline;
    }

    fn assign_time(&mut self, unit: &BlockHeader) -> Option<gst::ClockTime> {
        let stamp = Self::line(&mut self.timelines, unit.channel).next(unit.capture_time_ns());
        self.timeline_discont = stamp.discont;
        Some(gst::ClockTime::from_nseconds(stamp.pts))
    }

    fn predict(
        &self,
        after: &Timelines,
        unit: &BlockHeader,
    ) -> Option<(gst::ClockTime, Timelines)> {
        let mut after = after.clone();
        let pts = Self::line(&mut after, unit.channel).predict(unit.capture_time_ns())?;
        Some((gst::ClockTime::from_nseconds(pts), after))
    }

    fn output(
        &mut self,
        unit: BlockHeader,
        pts: Option<gst::ClockTime>,
        data: &UnitBytes,
        discont: bool,
        out: &mut Vec<Output>,
    ) {
        self.blocks += 1;
        let Some(mut buffer) = data.sub(unit.payload_range()) else {
            return;
        };
        let parameter_sets = if unit.key {
            self.parameter_sets(&unit)
        } else {
            None
        };
        {
            let buffer = buffer.make_mut();
            if let Some(mem) = parameter_sets {
                buffer.prepend_memory(mem);
            }
            buffer.set_pts(pts);
            buffer.set_dts(pts);
            let mut flags = gst::BufferFlags::empty();
            if !unit.key {
                flags |= gst::BufferFlags::DELTA_UNIT;
            }
            if discont || self.timeline_discont {
                flags |= gst::BufferFlags::DISCONT;
            }
            buffer.set_flags(flags);
            gst::ReferenceTimestampMeta::add(
                buffer,
                unix_time_caps(),
                gst::ClockTime::from_nseconds(unit.capture_time_ns()),
                gst::ClockTime::NONE,
            );
        }
        out.push(Output {
            stream: unit.channel.into(),
            buffer,
        });
    }

    fn summary(&self) -> Option<String> {
        Some(format!(
            "{} blocks in {} channel(s)",
            self.blocks,
            self.channels.len()
        ))
    }
}

/// A frame rate for caps from a typical frame interval: the nearest common
/// rate when within 2%, else the rate in thousandths. Downstream parsers need
/// some rate to give the last frame a duration; 0/1 (variable) when unknown.
fn nominal_framerate(interval_ns: Option<u64>) -> gst::Fraction {
    const COMMON: [(i32, i32); 18] = [
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 1),
        (6, 1),
        (15, 2),
        (8, 1),
        (10, 1),
        (12, 1),
        (25, 2),
        (15, 1),
        (20, 1),
        (24, 1),
        (25, 1),
        (30, 1),
        (50, 1),
        (60, 1),
    ];
    let Some(interval) = interval_ns.filter(|&i| i > 0) else {
        return gst::Fraction::new(0, 1);
    };
    let fps = 1e9 / interval as f64;
    for (n, d) in COMMON {
        let rate = f64::from(n) / f64::from(d);
        if (fps - rate).abs() <= rate * 0.02 {
            return gst::Fraction::new(n, d);
        }
    }
    gst::Fraction::new(((fps * 1000.0).round() as i32).max(1), 1000)
}

pub struct PavsDemux {
    core: DemuxCore<PavsDriver>,
    settings: Mutex<Settings>,
}

impl DemuxElement for PavsDemux {
    type Driver = PavsDriver;

    fn core(&self) -> &DemuxCore<PavsDriver> {
        &self.core
    }

    fn new_driver(&self) -> PavsDriver {
        PavsDriver::new(*self.settings.lock().unwrap())
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
            core: DemuxCore::new::<Self>(&templ),
            settings: Mutex::new(Settings::default()),
        }
    }
}

impl ObjectImpl for PavsDemux {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt64::builder("max-gap")
                    .nick("Maximum gap")
                    .blurb(
                        "Gaps in capture time longer than this many nanoseconds are compacted to \
                         one frame duration in the output timeline (0 = keep real time, gaps \
                         included). Wall-clock metadata always keeps the real capture time.",
                    )
                    .default_value(0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("display-hints")
                    .nick("Display hints")
                    .blurb(
                        "Put a VUI in the generated SPS that tells players the picture is full \
                         range with the DVR's pixel aspect ratio (e.g. 5:11 for 704x240). Decoded \
                         samples are the same either way.",
                    )
                    .default_value(true)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap();
        match pspec.name() {
            "max-gap" => {
                let ns: u64 = value.get().expect("type checked upstream");
                settings.max_gap = (ns > 0).then(|| gst::ClockTime::from_nseconds(ns));
            }
            "display-hints" => settings.display_hints = value.get().expect("type checked upstream"),
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings.lock().unwrap();
        match pspec.name() {
            "max-gap" => settings.max_gap.map_or(0, |g| g.nseconds()).to_value(),
            "display-hints" => settings.display_hints.to_value(),
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        self.obj()
            .add_pad(&self.core.sinkpad)
            .expect("add sink pad");
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
            vec![sink, src]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        gst::trace!(CAT, imp = self, "Changing state {:?}", transition);
        let ret = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            self.core.reset(self.obj().upcast_ref());
        }
        Ok(ret)
    }
}
