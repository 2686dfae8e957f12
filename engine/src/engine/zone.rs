// SPDX-License-Identifier: MIT
//! The time zone capture times are shown in, when the user names one (the
//! elements' `timezone` property, `cctv --tz`): most recordings do not say
//! theirs (a `.psf` stores UTC; its DVR showed local time). An IANA name
//! follows daylight saving time; a fixed offset does not.

use jiff::tz::{Offset, TimeZone};

/// A fixed offset (`+05:30`, `-04:00`, `UTC`) or an IANA zone
/// (`America/New_York`).
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// As the user wrote it, normalised (`America/New_York`, `-04:00`).
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// Reads `UTC`/`Z`, `±HH:MM`/`±HHMM`/`±HH`, or an IANA zone name.
    pub fn parse(text: &str) -> Result<Zone, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("utc") || text == "Z" {
            return Ok(Self::fixed_minutes(0).expect("zero offset"));
        }
        if let Some(sign) = text.chars().next().filter(|c| *c == '+' || *c == '-') {
            let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
            let valid = text[1..].chars().all(|c| c.is_ascii_digit() || c == ':')
                && matches!(digits.len(), 2 | 4);
            let (h, m) = (
                digits.get(..2).and_then(|h| h.parse::<i32>().ok()),
                digits.get(2..).map_or(Some(0), |m| {
                    if m.is_empty() {
                        Some(0)
                    } else {
                        m.parse::<i32>().ok()
                    }
                }),
            );
            return match (valid, h, m) {
                (true, Some(h), Some(m)) if h <= 18 && m < 60 => {
                    let minutes = (h * 60 + m) * if sign == '-' { -1 } else { 1 };
                    Self::fixed_minutes(minutes)
                        .ok_or_else(|| format!("time zone offset {text:?} is out of range"))
                }
                _ => Err(format!(
                    "cannot read time zone offset {text:?} (use +HH:MM or -HH:MM, e.g. -04:00)"
                )),
            };
        }
        let tz = TimeZone::get(text).map_err(|_| {
            format!(
                "unknown time zone {text:?} (use an IANA name such as America/New_York, or an offset such as \
                 -04:00)"
            )
        })?;
        let name = tz.iana_name().unwrap_or(text).to_string();
        Ok(Zone { name, tz })
    }

    /// A fixed offset, minutes east of UTC (`None`: beyond ±18 h).
    pub fn fixed_minutes(minutes: i32) -> Option<Zone> {
        let offset = Offset::from_seconds(minutes.checked_mul(60)?).ok()?;
        let name = if minutes == 0 {
            "UTC".to_string()
        } else {
            offset_text(minutes)
        };
        Some(Zone {
            name,
            tz: TimeZone::fixed(offset),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offset from UTC in minutes at the instant `unix_ns`.
    pub fn offset_min_at(&self, unix_ns: u64) -> i32 {
        jiff::Timestamp::from_nanosecond(i128::from(unix_ns))
            .map_or(0, |t| self.tz.to_offset(t).seconds() / 60)
    }

    /// The instant (Unix ns) of a wall-clock time in this zone; a time
    /// that occurs twice (clocks set back) is the earlier, one skipped
    /// (clocks set forward) is read with the offset before the change.
    #[allow(clippy::too_many_arguments)]
    pub fn instant(
        &self,
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        nanos: u32,
    ) -> Option<u64> {
        let small = |v: u32| i8::try_from(v).ok();
        let dt = jiff::civil::DateTime::new(
            i16::try_from(year).ok()?,
            small(month)?,
            small(day)?,
            small(hour)?,
            small(minute)?,
            small(second)?,
            i32::try_from(nanos).ok()?,
        )
        .ok()?;
        let ts = self.tz.to_timestamp(dt).ok()?;
        u64::try_from(ts.as_nanosecond()).ok()
    }
}

/// `+05:30`, `-04:00`.
pub fn offset_text(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn offsets_and_names() {
        assert_eq!(Zone::parse("-04:00").unwrap().offset_min_at(0), -240);
        assert_eq!(Zone::parse("+0530").unwrap().offset_min_at(0), 330);
        assert_eq!(Zone::parse("+02").unwrap().name(), "+02:00");
        assert_eq!(Zone::parse("utc").unwrap().name(), "UTC");
        assert!(Zone::parse("+25:00").is_err());
        assert!(Zone::parse("-4").is_err());
        assert!(Zone::parse("Mars/Olympus_Mons").is_err());
        let ny = Zone::parse("America/New_York").unwrap();
        assert_eq!(ny.name(), "America/New_York");
        // 2021-09-01 (daylight saving time) and 2021-12-01.
        assert_eq!(ny.offset_min_at(1_630_479_601 * S), -240);
        assert_eq!(ny.offset_min_at(1_638_316_800 * S), -300);
    }

    #[test]
    fn wall_clock_to_instant() {
        let la = Zone::parse("America/Los_Angeles").unwrap();
        // 2021-09-01 09:58:38 PDT is 16:58:38 UTC.
        assert_eq!(
            la.instant(2021, 9, 1, 9, 58, 38, 0),
            Some(1_630_515_518 * S)
        );
        assert_eq!(
            Zone::parse("+02:00")
                .unwrap()
                .instant(2024, 4, 11, 8, 12, 40, 0),
            Some(1_712_815_960 * S)
        );
        assert_eq!(la.instant(2021, 2, 30, 0, 0, 0, 0), None);
    }
}
