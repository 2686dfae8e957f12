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

/// A calendar date and time of day (proleptic Gregorian), to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
}

impl Civil {
    /// The wall clock `offset_min` minutes east of UTC at `unix_s` seconds
    /// since the epoch.
    pub fn at(unix_s: i64, offset_min: i32) -> Civil {
        let secs = unix_s.saturating_add(i64::from(offset_min) * 60);
        let (days, tod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: tod / 3600,
            minute: tod / 60 % 60,
            second: tod % 60,
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm): the crate's one civil-date conversion (PAVS packed times,
/// cues, VLC's date).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
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
    fn civil_dates_both_ways() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for days in [-800_000, -1, 0, 59, 60, 11_016, 18_871, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        let c = Civil::at(1_630_479_601, -240);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.second),
            (2021, 9, 1, 3, 0, 1)
        );
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
