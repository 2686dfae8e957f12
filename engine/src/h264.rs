// SPDX-License-Identifier: MIT
//! H.264 / H.265 helpers shared by all elements: Annex-B scanning, NAL unit
//! types, and a parameter-set builder for streams that carry none (PAVS).
//!
//! Also a tiny synthetic encoder (I_PCM key frames, all-skip P frames) whose
//! output decodes exactly to the samples it was given. Tests and benchmarks use
//! it to produce real, decodable H.264 without an external encoder.
//!
//! Pure Rust: no GStreamer types.

/// The 4-byte Annex-B start code this crate writes in front of NAL units.
pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// H.264 NAL unit types this crate cares about.
pub mod nal {
    pub const SLICE: u8 = 1;
    pub const IDR: u8 = 5;
    pub const SEI: u8 = 6;
    pub const SPS: u8 = 7;
    pub const PPS: u8 = 8;
    pub const AUD: u8 = 9;
}

/// H.265 NAL unit types this crate cares about.
pub mod hevc_nal {
    pub const BLA_W_LP: u8 = 16;
    pub const RSV_IRAP_23: u8 = 23;
    pub const VPS: u8 = 32;
    pub const SPS: u8 = 33;
    pub const PPS: u8 = 34;
    pub const AUD: u8 = 35;
}

/// Which video codec a byte stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    /// The NAL unit type of a NAL unit (first byte(s) after the start code).
    pub fn nal_type(self, nal: &[u8]) -> Option<u8> {
        let first = *nal.first()?;
        Some(match self {
            Codec::H264 => first & 0x1f,
            Codec::H265 => (first >> 1) & 0x3f,
        })
    }

    /// Whether a NAL unit type starts a random-access point (IDR / IRAP).
    pub fn is_key_nal_type(self, nal_type: u8) -> bool {
        match self {
            Codec::H264 => nal_type == nal::IDR,
            Codec::H265 => (hevc_nal::BLA_W_LP..=hevc_nal::RSV_IRAP_23).contains(&nal_type),
        }
    }

    /// Whether a NAL unit type is a parameter set (SPS/PPS, plus VPS for H.265).
    pub fn is_parameter_set(self, nal_type: u8) -> bool {
        match self {
            Codec::H264 => nal_type == nal::SPS || nal_type == nal::PPS,
            Codec::H265 => (hevc_nal::VPS..=hevc_nal::PPS).contains(&nal_type),
        }
    }

    /// Whether an Annex-B access unit contains a key-frame slice.
    pub fn is_key_access_unit(self, annexb: &[u8]) -> bool {
        annexb_nal_units(annexb)
            .filter_map(|nal| self.nal_type(nal))
            .any(|t| self.is_key_nal_type(t))
    }
}

/// Offset of the first `00 00 01` at or after `from`, returning the offset of
/// the start code (including a leading zero byte for 4-byte codes) and the
/// offset of the NAL unit that follows it.
fn next_start_code(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 3 <= data.len() {
        // Skip quickly: a start code needs data[i + 2] == 1 and two zeros before.
        match data[i + 2] {
            1 if data[i] == 0 && data[i + 1] == 0 => {
                let start = if i > from && data[i - 1] == 0 {
                    i - 1
                } else {
                    i
                };
                return Some((start, i + 3));
            }
            0 => i += 1,
            _ => i += 3,
        }
    }
    None
}

/// The ranges of the NAL units (without start codes and trailing zeros)
/// of Annex-B data; bytes before the first start code are not a NAL unit.
pub fn annexb_nal_ranges(data: &[u8]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut next = next_start_code(data, 0);
    std::iter::from_fn(move || {
        let (_, nal_start) = next?;
        next = next_start_code(data, nal_start);
        let mut end = next.map_or(data.len(), |(sc, _)| sc);
        while end > nal_start && data[end - 1] == 0 {
            end -= 1;
        }
        Some(nal_start..end)
    })
}

/// An `AVCDecoderConfigurationRecord` (`avcC`, the `codec_data` of
/// `stream-format=avc`) for the SPS and PPS found in Annex-B data, with
/// 4-byte NAL lengths. `None` without an SPS and a PPS.
pub fn avc_decoder_config(annexb: &[u8]) -> Option<Vec<u8>> {
    let nals: Vec<&[u8]> = annexb_nal_units(annexb).filter(|n| !n.is_empty()).collect();
    let sps: Vec<&[u8]> = nals.iter().copied().filter(|n| n[0] & 0x1f == 7).collect();
    let pps: Vec<&[u8]> = nals.iter().copied().filter(|n| n[0] & 0x1f == 8).collect();
    let first = sps.first().filter(|s| s.len() >= 4)?;
    if pps.is_empty() || sps.len() > 31 || pps.len() > 255 {
        return None;
    }
    let mut out = vec![
        1,
        first[1],
        first[2],
        first[3],
        0xff,
        0xe0 | sps.len() as u8,
    ];
    for s in &sps {
        out.extend_from_slice(&u16::try_from(s.len()).ok()?.to_be_bytes());
        out.extend_from_slice(s);
    }
    out.push(pps.len() as u8);
    for p in &pps {
        out.extend_from_slice(&u16::try_from(p.len()).ok()?.to_be_bytes());
        out.extend_from_slice(p);
    }
    Some(out)
}

/// Iterates over the NAL units (without start codes) of an Annex-B byte
/// stream. Bytes before the first start code are ignored; trailing zero bytes
/// of a NAL unit belong to the next start code and are not returned.
pub fn annexb_nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    annexb_nal_ranges(data).map(move |r| &data[r])
}

/// Whether `data` begins with an Annex-B start code (3 or 4 bytes).
pub fn starts_with_start_code(data: &[u8]) -> bool {
    data.starts_with(&[0, 0, 1]) || data.starts_with(&[0, 0, 0, 1])
}

/// MSB-first bit writer with Exp-Golomb codes, producing an RBSP.
#[derive(Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    current: u8,
    used: u8,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn bit(&mut self, bit: bool) {
        self.current = (self.current << 1) | bit as u8;
        self.used += 1;
        if self.used == 8 {
            self.bytes.push(self.current);
            self.current = 0;
            self.used = 0;
        }
    }

    /// Writes the `count` low bits of `value`, most significant first.
    pub fn bits(&mut self, value: u32, count: u8) {
        for i in (0..count).rev() {
            self.bit((value >> i) & 1 == 1);
        }
    }

    /// Unsigned Exp-Golomb.
    pub fn ue(&mut self, value: u32) {
        let coded = u64::from(value) + 1;
        let len = 64 - coded.leading_zeros() as u8;
        self.bits(0, len - 1);
        for i in (0..len).rev() {
            self.bit((coded >> i) & 1 == 1);
        }
    }

    /// Signed Exp-Golomb.
    pub fn se(&mut self, value: i32) {
        let mapped = if value > 0 {
            2 * value.unsigned_abs() - 1
        } else {
            2 * value.unsigned_abs()
        };
        self.ue(mapped);
    }

    pub fn is_byte_aligned(&self) -> bool {
        self.used == 0
    }

    /// Appends whole bytes; the writer must be byte aligned.
    pub fn bytes(&mut self, data: &[u8]) {
        debug_assert!(self.is_byte_aligned());
        self.bytes.extend_from_slice(data);
    }

    pub fn align_with_zeros(&mut self) {
        while !self.is_byte_aligned() {
            self.bit(false);
        }
    }

    /// rbsp_trailing_bits(): a one bit, then zeros to the byte boundary.
    pub fn finish_rbsp(mut self) -> Vec<u8> {
        self.bit(true);
        self.align_with_zeros();
        self.bytes
    }
}

/// Wraps an RBSP into an Annex-B NAL unit: start code, header byte, and
/// emulation prevention bytes.
pub fn annexb_nal(header: u8, rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 64 + 5);
    out.extend_from_slice(&START_CODE);
    out.push(header);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// Display hints carried in the SPS VUI. They change how a player shows the
/// picture, never the decoded samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VuiHints {
    /// Sample (pixel) aspect ratio, numerator/denominator.
    pub sample_aspect: (u16, u16),
    pub full_range: bool,
}

/// Colour description of a standard-definition (analog CCTV) picture:
/// ITU-R BT.601 matrix and transfer; SMPTE 170M primaries for 525-line
/// sizes, BT.470BG for 625-line ones (heights 288 and 576).
fn sd_colour_primaries(height: u32) -> u8 {
    if matches!(height, 288 | 576) { 5 } else { 6 }
}

/// What the generated VUI declares. Its `bitstream_restriction` tells
/// decoders that no picture is reordered, so each one is output as soon as
/// it is decoded (without it decoders assume the worst and hold up to 16
/// frames before the first picture).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vui {
    /// Pixel aspect and colour description (`None`: neither is written).
    pub hints: Option<VuiHints>,
    /// Write `bitstream_restriction` (no reordering, the DPB holds only the
    /// reference frames).
    pub no_reordering: bool,
}

/// The fixed Baseline parameters VMax DVRs use: the stream carries no SPS/PPS
/// and the vendor player hard-codes these (see docs/pavs.md). Only the picture
/// size varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaselineParams {
    pub width_mbs: u32,
    pub height_mbs: u32,
}

impl BaselineParams {
    pub const PROFILE_IDC: u8 = 66;
    pub const LEVEL_IDC: u8 = 30;
    /// frame_num is 9 bits wide.
    pub const LOG2_MAX_FRAME_NUM: u8 = 9;
    /// pic_order_cnt_lsb is 10 bits wide.
    pub const LOG2_MAX_POC_LSB: u8 = 10;

    /// Parameters for a picture of `width` x `height` luma samples, if both are
    /// whole, non-zero numbers of macroblocks within the level's limits.
    pub fn for_size(width: u32, height: u32) -> Option<Self> {
        let (width_mbs, height_mbs) = (width / 16, height / 16);
        let ok = width.is_multiple_of(16)
            && height.is_multiple_of(16)
            && width_mbs > 0
            && height_mbs > 0
            // Level 3.0 limits: at most 1620 macroblocks per frame; the bound
            // also keeps sqrt(8 * MaxFS) per dimension.
            && width_mbs * height_mbs <= 1620
            && width_mbs <= 113
            && height_mbs <= 113;
        ok.then_some(Self {
            width_mbs,
            height_mbs,
        })
    }

    /// Reference frames the SPS declares (`max_num_ref_frames`).
    pub const REF_FRAMES: u32 = 1;

    /// The SPS as an Annex-B NAL unit. Without a VUI this is exactly the SPS
    /// documented for 704x240 (`67 42 00 1e 9a 74 05 83 f2`).
    pub fn sps(&self, vui: Option<Vui>) -> Vec<u8> {
        let mut w = BitWriter::new();
        w.bits(Self::PROFILE_IDC.into(), 8);
        w.bits(0, 8); // constraint flags + reserved
        w.bits(Self::LEVEL_IDC.into(), 8);
        w.ue(0); // seq_parameter_set_id
        w.ue((Self::LOG2_MAX_FRAME_NUM - 4).into());
        w.ue(0); // pic_order_cnt_type
        w.ue((Self::LOG2_MAX_POC_LSB - 4).into());
        w.ue(Self::REF_FRAMES); // max_num_ref_frames
        w.bit(false); // gaps_in_frame_num_value_allowed_flag
        w.ue(self.width_mbs - 1);
        w.ue(self.height_mbs - 1);
        w.bit(true); // frame_mbs_only_flag
        w.bit(true); // direct_8x8_inference_flag
        w.bit(false); // frame_cropping_flag
        w.bit(vui.is_some());
        if let Some(vui) = vui {
            let (sar_w, sar_h) = vui.hints.map_or((0, 0), |h| h.sample_aspect);
            let has_sar = sar_w > 0 && sar_h > 0;
            w.bit(has_sar); // aspect_ratio_info_present_flag
            if has_sar {
                w.bits(255, 8); // Extended_SAR
                w.bits(sar_w.into(), 16);
                w.bits(sar_h.into(), 16);
            }
            w.bit(false); // overscan_info_present_flag
            w.bit(vui.hints.is_some()); // video_signal_type_present_flag
            if let Some(hints) = vui.hints {
                w.bits(5, 3); // video_format: unspecified
                w.bit(hints.full_range);
                w.bit(true); // colour_description_present_flag
                w.bits(sd_colour_primaries(self.height_mbs * 16).into(), 8);
                w.bits(6, 8); // transfer_characteristics: BT.601
                w.bits(6, 8); // matrix_coefficients: BT.601
            }
            w.bit(false); // chroma_loc_info_present_flag
            w.bit(false); // timing_info_present_flag
            w.bit(false); // nal_hrd_parameters_present_flag
            w.bit(false); // vcl_hrd_parameters_present_flag
            w.bit(false); // pic_struct_present_flag
            w.bit(vui.no_reordering); // bitstream_restriction_flag
            if vui.no_reordering {
                w.bit(true); // motion_vectors_over_pic_boundaries_flag
                w.ue(2); // max_bytes_per_pic_denom (the inferred default)
                w.ue(1); // max_bits_per_mb_denom (the inferred default)
                w.ue(15); // log2_max_mv_length_horizontal (no limit)
                w.ue(15); // log2_max_mv_length_vertical (no limit)
                w.ue(0); // max_num_reorder_frames
                w.ue(Self::REF_FRAMES); // max_dec_frame_buffering
            }
        }
        annexb_nal(0x67, &w.finish_rbsp())
    }

    /// The PPS as an Annex-B NAL unit (`68 ce 38 80`).
    pub fn pps(&self) -> Vec<u8> {
        let mut w = BitWriter::new();
        w.ue(0); // pic_parameter_set_id
        w.ue(0); // seq_parameter_set_id
        w.bit(false); // entropy_coding_mode_flag: CAVLC
        w.bit(false); // bottom_field_pic_order_in_frame_present_flag
        w.ue(0); // num_slice_groups_minus1
        w.ue(0); // num_ref_idx_l0_default_active_minus1
        w.ue(0); // num_ref_idx_l1_default_active_minus1
        w.bit(false); // weighted_pred_flag
        w.bits(0, 2); // weighted_bipred_idc
        w.se(0); // pic_init_qp_minus26
        w.se(0); // pic_init_qs_minus26
        w.se(0); // chroma_qp_index_offset
        w.bit(false); // deblocking_filter_control_present_flag
        w.bit(false); // constrained_intra_pred_flag
        w.bit(false); // redundant_pic_cnt_present_flag
        annexb_nal(0x68, &w.finish_rbsp())
    }
}

/// Pixel aspect ratio of a DVR picture. Analog CCTV resolutions (D1, 2CIF,
/// CIF, and field-sized pictures like 704x240) fill a 4:3 display, so their
/// pixels are not square; anything else is taken as square pixels.
pub fn analog_pixel_aspect_ratio(width: u32, height: u32) -> (u32, u32) {
    let analog_width = matches!(width, 352 | 704 | 720);
    let analog_height = matches!(height, 240 | 288 | 480 | 576);
    if !analog_width || !analog_height {
        return (1, 1);
    }
    // display 4:3 => par = (4 * height) / (3 * width)
    let (num, den) = (4 * height, 3 * width);
    let g = gcd(num, den);
    (num / g, den / g)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(any(test, feature = "writers"))]
/// A minimal encoder for [`BaselineParams`] streams, for tests and
/// benchmarks: key frames are I_PCM (the decoder reproduces the given samples
/// exactly), delta frames skip every macroblock (decode to the previous
/// picture).
pub struct SyntheticEncoder {
    params: BaselineParams,
    frame_num: u32,
    idr_pic_id: u32,
}

#[cfg(any(test, feature = "writers"))]
impl SyntheticEncoder {
    pub fn new(params: BaselineParams) -> Self {
        Self {
            params,
            frame_num: 0,
            idr_pic_id: 0,
        }
    }

    /// An encoder for `width` x `height` pictures (whole macroblocks within
    /// level 3.0, see [`BaselineParams::for_size`]).
    pub fn for_size(width: u32, height: u32) -> Option<Self> {
        BaselineParams::for_size(width, height).map(Self::new)
    }

    pub fn params(&self) -> BaselineParams {
        self.params
    }

    /// The frame generated samples are made of: a key frame showing
    /// [`test_picture`]`(seed)` at the encoder's size, or a skip frame that
    /// repeats the previous picture (`seed` unused).
    pub fn test_frame(&mut self, key: bool, seed: u32) -> Vec<u8> {
        if key {
            let (width, height) = (self.params.width_mbs * 16, self.params.height_mbs * 16);
            let (y, u, v) = test_picture(width as usize, height as usize, seed);
            self.key_frame(&y, &u, &v)
        } else {
            self.skip_frame()
        }
    }

    /// [`Self::test_frame`] as SAYS recorders store an access unit: a key
    /// frame behind the SPS (no VUI) and PPS, a skip frame alone.
    pub fn test_access_unit(&mut self, key: bool, seed: u32) -> Vec<u8> {
        let frame = self.test_frame(key, seed);
        if !key {
            return frame;
        }
        let mut unit = self.params.sps(None);
        unit.extend_from_slice(&self.params.pps());
        unit.extend_from_slice(&frame);
        unit
    }

    fn slice_header(&self, w: &mut BitWriter, idr: bool) {
        w.ue(0); // first_mb_in_slice
        w.ue(if idr { 7 } else { 5 }); // slice_type: I / P (all slices alike)
        w.ue(0); // pic_parameter_set_id
        w.bits(self.frame_num, BaselineParams::LOG2_MAX_FRAME_NUM);
        if idr {
            w.ue(self.idr_pic_id);
        }
        let poc_lsb = (self.frame_num * 2) % (1 << BaselineParams::LOG2_MAX_POC_LSB);
        w.bits(poc_lsb, BaselineParams::LOG2_MAX_POC_LSB);
        if !idr {
            w.bit(false); // num_ref_idx_active_override_flag
            w.bit(false); // ref_pic_list_modification_flag_l0
        }
        if idr {
            w.bit(false); // no_output_of_prior_pics_flag
            w.bit(false); // long_term_reference_flag
        } else {
            w.bit(false); // adaptive_ref_pic_marking_mode_flag
        }
        w.se(0); // slice_qp_delta
    }

    /// An IDR picture whose decoded I420 planes are exactly `y`, `u`, `v`
    /// (full-size planes, `width*height` and a quarter of that each). PCM
    /// samples of 0 are avoided by old decoders, so callers should use 1..=255.
    pub fn key_frame(&mut self, y: &[u8], u: &[u8], v: &[u8]) -> Vec<u8> {
        let BaselineParams {
            width_mbs,
            height_mbs,
        } = self.params;
        let (width, cwidth) = (width_mbs as usize * 16, width_mbs as usize * 8);
        assert_eq!(y.len(), width * height_mbs as usize * 16, "luma plane size");
        assert_eq!(
            u.len(),
            cwidth * height_mbs as usize * 8,
            "chroma plane size"
        );
        assert_eq!(v.len(), u.len(), "chroma plane size");
        self.frame_num = 0;
        let mut w = BitWriter::new();
        self.slice_header(&mut w, true);
        for mby in 0..height_mbs as usize {
            for mbx in 0..width_mbs as usize {
                w.ue(25); // mb_type I_PCM
                w.align_with_zeros();
                for row in 0..16 {
                    let at = (mby * 16 + row) * width + mbx * 16;
                    w.bytes(&y[at..at + 16]);
                }
                for plane in [u, v] {
                    for row in 0..8 {
                        let at = (mby * 8 + row) * cwidth + mbx * 8;
                        w.bytes(&plane[at..at + 8]);
                    }
                }
            }
        }
        self.idr_pic_id = (self.idr_pic_id + 1) % 65536;
        self.frame_num = 1;
        annexb_nal(0x65, &w.finish_rbsp())
    }

    /// A P picture that repeats the previous picture.
    pub fn skip_frame(&mut self) -> Vec<u8> {
        let mut w = BitWriter::new();
        self.slice_header(&mut w, false);
        w.ue(self.params.width_mbs * self.params.height_mbs); // mb_skip_run
        self.frame_num = (self.frame_num + 1) % (1 << BaselineParams::LOG2_MAX_FRAME_NUM);
        annexb_nal(0x41, &w.finish_rbsp())
    }
}

#[cfg(any(test, feature = "writers"))]
/// A [`SyntheticEncoder`] per camera, all of one picture size: generated
/// files interleave cameras, and each camera's stream must decode on its
/// own (frame numbers and IDR ids of its own).
pub struct SyntheticCameras {
    params: BaselineParams,
    encoders: std::collections::BTreeMap<u8, SyntheticEncoder>,
}

#[cfg(any(test, feature = "writers"))]
impl SyntheticCameras {
    /// For pictures of `width` x `height`; an error (for writers' callers)
    /// when that is not a whole number of macroblocks within level 3.0.
    pub fn for_size(width: u16, height: u16) -> std::io::Result<Self> {
        let params = BaselineParams::for_size(width.into(), height.into())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "picture size"))?;
        Ok(Self {
            params,
            encoders: Default::default(),
        })
    }

    /// The encoder of `camera`, new at its first use.
    pub fn camera(&mut self, camera: u8) -> &mut SyntheticEncoder {
        let params = self.params;
        self.encoders
            .entry(camera)
            .or_insert_with(|| SyntheticEncoder::new(params))
    }
}

#[cfg(any(test, feature = "writers"))]
/// A deterministic test picture (I420 planes) that differs per `seed`, with
/// no zero samples.
pub fn test_picture(width: usize, height: usize, seed: u32) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let sample = |x: usize, y: usize, plane: u32| -> u8 {
        let h = (x as u32)
            .wrapping_mul(7)
            .wrapping_add((y as u32).wrapping_mul(13))
            .wrapping_add(seed.wrapping_mul(29))
            .wrapping_add(plane * 85);
        (h % 254 + 1) as u8
    };
    let plane = |w: usize, h: usize, p: u32| -> Vec<u8> {
        (0..h)
            .flat_map(|y| (0..w).map(move |x| sample(x, y, p)))
            .collect()
    };
    (
        plane(width, height, 0),
        plane(width / 2, height / 2, 1),
        plane(width / 2, height / 2, 2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avc_config_from_parameter_sets() {
        let params = BaselineParams::for_size(352, 240).unwrap();
        let mut ps = params.sps(None);
        ps.extend_from_slice(&params.pps());
        let config = avc_decoder_config(&ps).unwrap();
        let sps = annexb_nal_units(&params.sps(None)).next().unwrap().to_vec();
        assert_eq!(&config[..6], &[1, sps[1], sps[2], sps[3], 0xff, 0xe1]);
        assert_eq!(&config[8..8 + sps.len()], &sps[..]);
        assert_eq!(config[8 + sps.len()], 1, "one PPS");
        assert!(avc_decoder_config(&params.pps()).is_none());
        let ranges: Vec<_> = annexb_nal_ranges(&ps).collect();
        assert_eq!(ranges.len(), 2);
        assert_eq!(&ps[ranges[0].clone()], &sps[..]);
    }

    #[test]
    fn documented_pavs_parameter_sets() {
        let p = BaselineParams::for_size(704, 240).unwrap();
        assert_eq!(
            p.sps(None),
            [
                0, 0, 0, 1, 0x67, 0x42, 0x00, 0x1e, 0x9a, 0x74, 0x05, 0x83, 0xf2
            ]
        );
        assert_eq!(p.pps(), [0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80]);
        // The VUI variant differs only after the vui_parameters_present_flag.
        let vui = p.sps(Some(Vui {
            hints: Some(VuiHints {
                sample_aspect: (5, 11),
                full_range: true,
            }),
            no_reordering: true,
        }));
        assert_eq!(
            &vui[..12],
            &[0, 0, 0, 1, 0x67, 0x42, 0x00, 0x1e, 0x9a, 0x74, 0x05, 0x83]
        );
        assert_ne!(vui, p.sps(None));
    }

    #[test]
    fn rejects_sizes_that_are_not_macroblock_multiples() {
        assert!(BaselineParams::for_size(700, 240).is_none());
        assert!(BaselineParams::for_size(0, 240).is_none());
        assert!(BaselineParams::for_size(1920, 1088).is_none());
    }

    #[test]
    fn pixel_aspect_of_dvr_sizes() {
        assert_eq!(analog_pixel_aspect_ratio(704, 240), (5, 11));
        assert_eq!(analog_pixel_aspect_ratio(704, 480), (10, 11));
        assert_eq!(analog_pixel_aspect_ratio(352, 240), (10, 11));
        assert_eq!(analog_pixel_aspect_ratio(704, 576), (12, 11));
        assert_eq!(analog_pixel_aspect_ratio(1280, 720), (1, 1));
    }

    #[test]
    fn exp_golomb() {
        let mut w = BitWriter::new();
        w.ue(0);
        w.ue(1);
        w.ue(2);
        w.se(-1);
        w.se(1);
        // 1 010 011 011 010, stop bit, zero padding
        assert_eq!(w.finish_rbsp(), [0b1010_0110, 0b1101_0100]);
    }

    #[test]
    fn emulation_prevention() {
        assert_eq!(
            annexb_nal(0x65, &[0, 0, 1, 0, 0, 0, 0, 0, 3]),
            [0, 0, 0, 1, 0x65, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3, 0, 3]
        );
    }

    #[test]
    fn nal_iteration() {
        let data = [
            9, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 0,
        ];
        let nals: Vec<&[u8]> = annexb_nal_units(&data).collect();
        assert_eq!(nals, vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65][..]]);
        assert!(Codec::H264.is_key_access_unit(&data));
        assert!(!Codec::H264.is_key_access_unit(&data[..15]));
        assert_eq!(Codec::H265.nal_type(&[0x40, 1]), Some(32));
        assert!(Codec::H265.is_key_nal_type(19));
        assert!(!Codec::H265.is_key_nal_type(1));
    }

    #[test]
    fn synthetic_frames_are_single_nal_units() {
        let p = BaselineParams::for_size(32, 32).unwrap();
        let mut enc = SyntheticEncoder::new(p);
        let (y, u, v) = test_picture(32, 32, 1);
        let key = enc.key_frame(&y, &u, &v);
        let delta = enc.skip_frame();
        assert_eq!(annexb_nal_units(&key).count(), 1);
        assert_eq!(key[4], 0x65);
        assert_eq!(delta[4], 0x41);
        assert!(Codec::H264.is_key_access_unit(&key));
        assert!(!Codec::H264.is_key_access_unit(&delta));
    }
}
