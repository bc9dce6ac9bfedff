//! How kron writes instants and durations for people and for scripts.

use jiff::Timestamp;

use crate::schedule::Zone;

/// RFC 3339 with the zone's offset at that instant: `2026-03-08T03:00:00-04:00`.
pub fn rfc3339(t: Timestamp, zone: &Zone) -> String {
    t.to_zoned(zone.time_zone().clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Wall time for people: `Sun 2026-03-08 03:00:00 -04:00`.
pub fn wall_time(t: Timestamp, zone: &Zone) -> String {
    t.to_zoned(zone.time_zone().clone())
        .strftime("%a %Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// How far `to` is from `from`: `in 3h 12m`, `in 45s`, `2d 3h ago`; the two
/// largest units, so the line stays short.
pub fn relative(from: Timestamp, to: Timestamp) -> String {
    let seconds = to.as_second() - from.as_second();
    let span = compact_duration(seconds.unsigned_abs());
    match seconds {
        0 => "now".into(),
        s if s > 0 => format!("in {span}"),
        _ => format!("{span} ago"),
    }
}

/// `1d 2h`, `3h 12m`, `45s`: at most two units, largest first.
pub fn compact_duration(seconds: u64) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (size, name) in units {
        if rest >= size || (parts.is_empty() && size == 1) {
            parts.push(format!("{}{name}", rest / size));
            rest %= size;
        } else if !parts.is_empty() {
            // Keep the two units adjacent: "1d 0h" would be noise, "1d 3m" misleading.
            break;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_durations() {
        assert_eq!(compact_duration(0), "0s");
        assert_eq!(compact_duration(45), "45s");
        assert_eq!(compact_duration(3 * 3600 + 12 * 60 + 5), "3h 12m");
        assert_eq!(compact_duration(86_400), "1d");
        assert_eq!(compact_duration(86_400 + 180), "1d");
        assert_eq!(compact_duration(2 * 86_400 + 3 * 3600), "2d 3h");
        assert_eq!(compact_duration(60), "1m");
    }
}
