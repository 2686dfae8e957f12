// SPDX-License-Identifier: MIT
//! The ERROR a demuxer posts says what failed in its domain, not only in
//! its text: an input of another type (`WrongType`) is told apart from one
//! of the right type with nothing intact in it (`Demux`).

mod support;

use gst::prelude::*;
use gstcctv::formats::says::writer::{HeaderSpec, SaysWriter};
use support::*;

/// Runs `filesrc ! <element> ! fakesink` over `bytes` to its end and
/// returns the one ERROR posted.
fn error_of(element: &str, bytes: &[u8]) -> gst::glib::Error {
    init();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! {element} ! fakesink",
        file.path().display()
    ))
    .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let mut error = None;
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::Error(e) => {
                error = Some(e.error());
                break;
            }
            gst::MessageView::Eos(_) => break,
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    error.expect("an ERROR")
}

fn junk() -> Vec<u8> {
    (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

#[test]
fn another_type_is_wrong_type() {
    for (element, text) in [
        (
            "pavsdemux",
            "Not a PAVS (VMax .psf) file: no valid unit found",
        ),
        (
            "saysdemux",
            "Not a Rosco SAYS (.nvr) file: no SAYS magic or implausible header",
        ),
    ] {
        let err = error_of(element, &junk());
        assert!(err.matches(gst::StreamError::WrongType), "{element}: {err}");
        assert!(err.message().ends_with(text), "{element}: {err}");
    }
}

#[test]
fn a_says_header_with_nothing_intact_after_it_is_a_demux_error() {
    let header = HeaderSpec {
        file_name: "front.nvr".into(),
        ..HeaderSpec::default()
    };
    let mut bytes = SaysWriter::new(Vec::new(), &header).unwrap().into_inner();
    bytes.extend_from_slice(&vec![0x42; 100_000]);
    let err = error_of("saysdemux", &bytes);
    assert!(err.matches(gst::StreamError::Demux), "{err}");
    assert!(
        err.message()
            .ends_with("Not a Rosco SAYS (.nvr) file: no valid unit found"),
        "{err}"
    );
}
