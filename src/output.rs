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

/// Wall time without seconds, for tables: `Sun 2026-03-08 03:00 -04:00`.
pub fn short_wall_time(t: Timestamp, zone: &Zone) -> String {
    let format = if t.as_second() % 60 == 0 {
        "%a %Y-%m-%d %H:%M %:z"
    } else {
        "%a %Y-%m-%d %H:%M:%S %:z"
    };
    t.to_zoned(zone.time_zone().clone())
        .strftime(format)
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

/// The width to fit tables in: the terminal's, else `COLUMNS`, else 100.
pub fn width() -> usize {
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
        return usize::from(w);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&w| w > 0)
        .unwrap_or(100)
}

/// Lays out rows under headers, two spaces apart. When the table is wider
/// than `width`, the columns in `shrink` are cut in that order (ending in
/// `…`), none below the width of its header.
pub fn table(headers: &[&str], rows: &[Vec<String>], width: usize, shrink: &[usize]) -> String {
    let columns = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let total = |widths: &[usize]| widths.iter().sum::<usize>() + 2 * (columns - 1);
    for &column in shrink {
        let excess = total(&widths).saturating_sub(width);
        let floor = headers[column].chars().count().max(4);
        widths[column] = widths[column].saturating_sub(excess).max(floor);
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let cell = truncate(cell, widths[i]);
            if i + 1 == columns {
                line.push_str(&cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn fits_the_width_by_cutting_the_shrink_column() {
        let rows = vec![vec![
            "backup".into(),
            "every 15 minutes, 09:00-17:59, Monday to Friday".into(),
            "in 3h".into(),
        ]];
        let wide = table(&["NAME", "WHEN", "NEXT"], &rows, 200, &[1]);
        assert_eq!(
            wide,
            "NAME    WHEN                                             NEXT\nbackup  every 15 minutes, 09:00-17:59, Monday to Friday  in 3h\n"
        );
        let narrow = table(&["NAME", "WHEN", "NEXT"], &rows, 40, &[1]);
        assert!(narrow.lines().all(|l| l.chars().count() <= 40), "{narrow}");
        assert!(
            narrow.contains("every 15 minutes, 09:00-…  in 3h"),
            "{narrow}"
        );
    }
}
