// SPDX-License-Identifier: MIT
//! Bins that wrap an inner element (rf1demux): the inner
//! element's pads come and go on the bin as ghost pads of the same name,
//! and its no-more-pads is the bin's.

use gst::prelude::*;

/// Exposes `target` on `owner` as an active ghost pad named `name`, from
/// the owner's pad template `template`.
pub fn add_ghost(
    owner: &gst::Element,
    template: &str,
    target: &gst::Pad,
    name: &str,
) -> Result<(), String> {
    let templ = owner
        .pad_template(template)
        .ok_or_else(|| format!("no pad template {template}"))?;
    let ghost = gst::GhostPad::builder_from_template_with_target(&templ, target)
        .map_err(|e| format!("cannot expose pad {name}: {e}"))?
        .name(name)
        .build();
    let _ = ghost.set_active(true);
    owner
        .add_pad(&ghost)
        .map_err(|_| format!("cannot add pad {name}"))
}

/// Removes the ghost pad of the inner pad `name`, if any.
fn remove_ghost(owner: &gst::Bin, name: &str) {
    if let Some(ghost) = owner.static_pad(name) {
        let _ = ghost.set_active(false);
        let _ = owner.remove_pad(&ghost);
    }
}

/// Follows `inner`'s pads on `owner`: `expose` is called with the owner
/// for every pad added; a removed pad's ghost goes; no-more-pads is passed
/// on. Only weak references to the owner are kept.
pub fn follow_pads<O: IsA<gst::Bin> + IsA<gst::Element> + Send + Sync>(
    owner: &O,
    inner: &gst::Element,
    expose: impl Fn(&O, &gst::Pad) + Send + Sync + 'static,
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
            remove_ghost(owner.upcast_ref(), pad.name().as_str());
        }
    });
    let weak = owner.downgrade();
    inner.connect_no_more_pads(move |_| {
        if let Some(owner) = weak.upgrade() {
            owner.upcast_ref::<gst::Element>().no_more_pads();
        }
    });
}
