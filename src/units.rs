//! Human durations (`90s`, `15m`, `1h30m`, `2d`, `250ms`) and sizes
//! (`512KiB`, `10MB`): parsing and display.

use std::time::Duration;

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
