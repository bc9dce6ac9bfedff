//! Human durations (`90s`, `15m`, `1h30m`, `2d`, `250ms`) and sizes
//! (`512KiB`, `10MB`): parsing and display; instants as people type them
//! (`2026-03-08`, `2026-03-08 09:00`, RFC 3339): parsing.

use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// What [`parse_instant`] accepts, for error messages.
pub const INSTANT_FORMS: &str = "an RFC 3339 instant (2026-03-08T09:00:00Z, \
    2026-03-08T01:59:00-05:00), a date (2026-03-08) or a date and time (2026-03-08 09:00)";

/// An instant: RFC 3339 with its offset, else a wall time in `zone` (the
/// local one): a date alone is the start of that day, a date and time
/// (`2026-03-08 09:00`, seconds optional, `T` for the space too) that time.
/// A wall time that a daylight-saving change skips moves forward by the
/// gap (02:30 becomes 03:30), as `date -d` does; one it repeats is the
/// first of the two.
pub fn parse_instant(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    if let Ok(date) = Date::strptime("%Y-%m-%d", text) {
        return Some(
            date.to_zoned(zone.clone())
                .ok()?
                .start_of_day()
                .ok()?
                .timestamp(),
        );
    }
    let civil = [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|format| DateTime::strptime(format, text).ok())?;
    Some(
        zone.to_ambiguous_zoned(civil)
            .compatible()
            .ok()?
            .timestamp(),
    )
}

/// Parses one or more `<number><unit>` parts, units largest first, each at
/// most once: `d`, `h`, `m`, `s`, `ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u64); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1_000),
    ];
    const ORDER: [&str; 5] = ["d", "h", "m", "s", "ms"];
    let bad = || format!("`{text}` is not a duration such as 90s, 15m, 1h30m or 2d");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut millis: u64 = 0;
    let mut last = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, size) = UNITS
            .iter()
            .find(|(u, _)| rest.starts_with(u))
            .ok_or_else(bad)?;
        rest = &rest[unit.len()..];
        let rank = ORDER.iter().position(|u| u == unit);
        if last.is_some_and(|l| rank <= l) {
            return Err(format!(
                "`{text}`: write units largest first, each once (1h30m)"
            ));
        }
        last = Some(rank);
        millis = number
            .checked_mul(*size)
            .and_then(|m| millis.checked_add(m))
            .ok_or_else(|| format!("`{text}` is too long"))?;
    }
    Ok(Duration::from_millis(millis))
}

/// `1h30m`, `90ms`, `0s`: the shortest exact form.
pub fn format_duration(d: Duration) -> String {
    let mut millis = d.as_millis() as u64;
    if millis == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if millis >= size {
            out.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    out
}

/// `512KiB`, `10MB`, `1GiB`, `4096` (bytes): decimal and binary prefixes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let bad = || format!("`{text}` is not a size such as 512KiB, 10MB or 1GiB");
    let number: u64 = t[..digits].parse().map_err(|_| bad())?;
    let factor: u64 = match t[digits..].trim_start() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// The shortest exact form: `1MiB`, `10MB`, `1500B`.
pub fn format_size(bytes: u64) -> String {
    for (unit, size) in [
        ("GiB", 1u64 << 30),
        ("GB", 1_000_000_000),
        ("MiB", 1 << 20),
        ("MB", 1_000_000),
        ("KiB", 1 << 10),
        ("KB", 1_000),
    ] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "90", "1x", "m", "30m1h", "1h1h", "-1s", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn instants_as_people_type_them() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let at = |text| parse_instant(text, &berlin).map(|t| t.to_string());
        let is = |text: &str| Some(text.to_string());
        assert_eq!(at("2026-03-08T09:00:00Z"), is("2026-03-08T09:00:00Z"));
        assert_eq!(at("2026-03-08T01:59:00-05:00"), is("2026-03-08T06:59:00Z"));
        // Wall times in the zone: +01:00 in winter, +02:00 in summer.
        assert_eq!(at("2026-03-08"), is("2026-03-07T23:00:00Z"));
        assert_eq!(at("2026-07-01 09:00"), is("2026-07-01T07:00:00Z"));
        assert_eq!(at("2026-07-01 09:00:30"), is("2026-07-01T07:00:30Z"));
        assert_eq!(at("2026-07-01T09:00"), is("2026-07-01T07:00:00Z"));
        // Skipped (02:30 on 2026-03-29): just after the gap; repeated
        // (02:30 on 2026-10-25): the first.
        assert_eq!(at("2026-03-29 02:30"), is("2026-03-29T01:30:00Z"));
        assert_eq!(at("2026-10-25 02:30"), is("2026-10-25T00:30:00Z"));
        // A day that starts at 01:00 (no midnight in Santiago then).
        let santiago = TimeZone::get("America/Santiago").unwrap();
        assert_eq!(
            parse_instant("2026-09-06", &santiago).map(|t| t.to_string()),
            is("2026-09-06T04:00:00Z")
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-03-08 25:00",
            "08.03.2026",
            "2026-03-08 9",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in ["", "MB", "1.5MB", "10 mb", "1TB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(format_size(1 << 20), "1MiB");
        assert_eq!(format_size(10_000_000), "10MB");
        assert_eq!(format_size(1500), "1500B");
    }
}
