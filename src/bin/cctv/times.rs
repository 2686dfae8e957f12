// SPDX-License-Identifier: MIT
//! Wall-clock times: RFC 3339 output, and the `--from/--to` forms.

use anyhow::{Result, anyhow};
use chrono::{
    DateTime, Datelike, FixedOffset, Local, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat,
    TimeZone, Timelike, Utc,
};
use gstcctv::engine::zone::Zone;

/// RFC 3339 UTC with microseconds.
pub fn rfc3339_utc(unix_ns: u64) -> String {
    utc(unix_ns).to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn utc(unix_ns: u64) -> DateTime<Utc> {
    let secs = i64::try_from(unix_ns / 1_000_000_000).unwrap_or(i64::MAX);
    let nanos = u32::try_from(unix_ns % 1_000_000_000).unwrap_or(0);
    DateTime::from_timestamp(secs, nanos).unwrap_or_default()
}

/// RFC 3339 with microseconds in `zone` (its offset at that instant), UTC
/// (`Z`) without one.
pub fn rfc3339_in(unix_ns: u64, zone: Option<&Zone>) -> String {
    let Some(zone) = zone else {
        return rfc3339_utc(unix_ns);
    };
    match FixedOffset::east_opt(zone.offset_min_at(unix_ns) * 60) {
        Some(offset) => utc(unix_ns)
            .with_timezone(&offset)
            .to_rfc3339_opts(SecondsFormat::Micros, true),
        None => rfc3339_utc(unix_ns),
    }
}

/// `--from/--to`: RFC 3339, or "YYYY-MM-DD HH:MM:SS" (also with a `T`,
/// optional fractional seconds) in `zone` (`--tz`), else the recording's
/// zone when known, else the zone of this machine. Unix ns.
pub fn parse_wall_in(text: &str, zone: Option<&Zone>, utc_offset_min: Option<i32>) -> Result<u64> {
    let fixed;
    let zone = match (zone, utc_offset_min) {
        (Some(z), _) => Some(z),
        (None, Some(m)) => {
            fixed = Zone::fixed_minutes(m);
            fixed.as_ref()
        }
        (None, None) => None,
    };
    let Some(zone) = zone else {
        return parse_wall(text, None);
    };
    if DateTime::parse_from_rfc3339(text).is_ok() {
        return parse_wall(text, None);
    }
    let naive = naive_wall(text)?;
    zone.instant(
        naive.year(),
        naive.month(),
        naive.day(),
        naive.hour(),
        naive.minute(),
        naive.second(),
        naive.nanosecond(),
    )
    .ok_or_else(|| anyhow!("time {text:?} is out of range in {}", zone.name()))
}

/// A time of day alone (`07:09:50`, `07:09`, `07:09:50.5`): `--from/--to`
/// on the day of the recordings.
pub fn time_of_day(text: &str) -> Option<NaiveTime> {
    let t = text.trim();
    NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
        .ok()
}

/// The civil date of `unix_ns` where `--from/--to` are read
/// ([`parse_wall_in`]): in `zone`, else at the recording's offset, else in
/// this machine's zone.
pub fn date_in(unix_ns: u64, zone: Option<&Zone>, utc_offset_min: Option<i32>) -> NaiveDate {
    let t = utc(unix_ns);
    let offset_s = match (zone, utc_offset_min) {
        (Some(z), _) => z.offset_min_at(unix_ns) * 60,
        (None, Some(m)) => m * 60,
        (None, None) => Local
            .offset_from_utc_datetime(&t.naive_utc())
            .local_minus_utc(),
    };
    (t.naive_utc() + chrono::Duration::seconds(i64::from(offset_s))).date()
}

fn naive_wall(text: &str) -> Result<NaiveDateTime> {
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .ok_or_else(|| anyhow!("cannot read time {text:?} (use RFC 3339 or \"YYYY-MM-DD HH:MM:SS\")"))
}

/// [`parse_wall_in`] with a fixed offset or this machine's zone.
pub fn parse_wall(text: &str, utc_offset_min: Option<i32>) -> Result<u64> {
    let ns = |t: DateTime<Utc>| {
        t.timestamp_nanos_opt()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| anyhow!("time out of range: {text}"))
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return ns(t.with_timezone(&Utc));
    }
    let naive = naive_wall(text)?;
    let t = match utc_offset_min.and_then(|m| FixedOffset::east_opt(m * 60)) {
        Some(zone) => zone
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.with_timezone(&Utc)),
        None => Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
    }
    .ok_or_else(|| anyhow!("time {text:?} does not exist in the local zone"))?;
    ns(t)
}

/// "1h02m03s" style.
pub fn human_duration(s: f64) -> String {
    let total = s.max(0.0).round() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h{m:02}m{sec:02}s")
    } else if m > 0 {
        format!("{m}m{sec:02}s")
    } else {
        format!("{:.1}s", s.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let a = parse_wall("2021-09-01T06:20:01Z", None).unwrap();
        assert_eq!(rfc3339_utc(a), "2021-09-01T06:20:01.000000Z");
        let b = parse_wall("2021-09-01 08:20:01", Some(120)).unwrap();
        assert_eq!(a, b);
        assert!(parse_wall("yesterday", None).is_err());
        // An IANA zone follows daylight saving time.
        let la = Zone::parse("America/Los_Angeles").unwrap();
        let c = parse_wall_in("2021-09-01 00:00:01", Some(&la), Some(120)).unwrap();
        assert_eq!(rfc3339_utc(c), "2021-09-01T07:00:01.000000Z");
        assert_eq!(rfc3339_in(c, Some(&la)), "2021-09-01T00:00:01.000000-07:00");
        let w = parse_wall_in("2021-12-01 00:00:01", Some(&la), None).unwrap();
        assert_eq!(rfc3339_utc(w), "2021-12-01T08:00:01.000000Z");
        // Without --tz: the recording's offset.
        assert_eq!(
            parse_wall_in("2021-09-01 08:20:01", None, Some(120)).unwrap(),
            a
        );
    }
}
