// SPDX-License-Identifier: MIT
//! Bins that wrap an inner element (rf1demux, rf1urisrc): the inner
//! element's pads come and go on the bin, and its no-more-pads is the bin's.

use gst::prelude::*;

/// Follows `inner`'s pads on `owner`: `expose` and `unexpose` are called
/// with the owner for every pad added or removed; no-more-pads is passed on.
/// Only weak references to the owner are kept.
pub fn follow_pads<O: IsA<gst::Element> + Send + Sync>(
    owner: &O,
    inner: &gst::Element,
    expose: impl Fn(&O, &gst::Pad) + Send + Sync + 'static,
    unexpose: impl Fn(&O, &gst::Pad) + Send + Sync + 'static,
) {
    let weak = owner.downgrade();
    inner.connect_pad_added(move |_, pad| {
        if let Some(owner) = weak.upgrade() {
            expose(&owner, pad);
        }
    });
    let weak = owner.downgrade();
    inner.connect_pad_removed(move |_, pad| {
        if let Some(owner) = weak.upgrade() {
            unexpose(&owner, pad);
        }
    });
    let weak = owner.downgrade();
    inner.connect_no_more_pads(move |_| {
        if let Some(owner) = weak.upgrade() {
            owner.no_more_pads();
        }
    });
}
