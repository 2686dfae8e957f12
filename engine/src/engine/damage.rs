// SPDX-License-Identifier: MIT
//! One account of the damage found while reading, reported once at the end.

/// Regions of the input that were not valid units and were skipped.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Damage {
    /// Places where reading had to resynchronise.
    pub regions: u64,
    /// Bytes skipped over in total.
    pub bytes: u64,
    pub first_offset: Option<u64>,
    /// The input ends inside a unit.
    pub truncated_tail: bool,
    /// Units with a valid frame but an impossible time, dropped.
    pub bad_times: u64,
    /// Start of the region being skipped right now.
    open_since: Option<u64>,
    /// A unit that claimed more than the input had left: the last one cut
    /// short, unless a valid unit follows.
    cut_short_at: Option<u64>,
}

impl Damage {
    pub fn is_open(&self) -> bool {
        self.open_since.is_some()
    }

    pub fn any(&self) -> bool {
        self.regions > 0 || self.truncated_tail || self.bad_times > 0
    }

    pub(crate) fn maybe_cut_short(&mut self, offset: u64) {
        self.cut_short_at = Some(offset);
    }

    /// A valid unit: whatever failed before it was not the last unit.
    pub(crate) fn not_cut_short(&mut self) {
        self.cut_short_at = None;
    }

    /// The input ended: a unit that claimed more is the last one, cut short.
    pub(crate) fn end_of_data(&mut self) {
        if self.cut_short_at.take().is_some() {
            self.truncated_tail = true;
        }
    }

    pub(crate) fn open(&mut self, offset: u64) {
        if self.open_since.is_none() {
            self.open_since = Some(offset);
            self.first_offset.get_or_insert(offset);
        }
    }

    /// Closes the open region where valid data starts again (which may be
    /// before the place that failed, when a unit was shorter than it
    /// claimed). Returns whether a region was open.
    pub(crate) fn close(&mut self, offset: u64) -> bool {
        let Some(start) = self.open_since.take() else {
            return false;
        };
        self.regions += 1;
        self.bytes += offset.saturating_sub(start);
        true
    }

    /// A one-line description for a warning message.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.regions > 0 {
            parts.push(format!(
                "skipped {} damaged region(s), {} bytes in total{}",
                self.regions,
                self.bytes,
                self.first_offset
                    .map(|o| format!(" (first at byte {o})"))
                    .unwrap_or_default()
            ));
        }
        if self.bad_times > 0 {
            parts.push(format!(
                "dropped {} unit(s) with an impossible time",
                self.bad_times
            ));
        }
        if self.truncated_tail {
            parts.push("the last unit is cut short".into());
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_bytes_add_up() {
        let mut d = Damage::default();
        assert!(!d.close(5));
        d.open(10);
        d.open(12);
        assert!(d.close(30));
        d.open(100);
        // Valid data found before the failure point: a region, no bytes.
        assert!(d.close(99));
        assert_eq!((d.regions, d.bytes, d.first_offset), (2, 20, Some(10)));
        assert!(d.describe().contains("2 damaged region(s), 20 bytes"));
    }
}
