//! How kron writes instants and durations for people and for scripts, and
//! how its output looks: colour (only on a terminal, never with `NO_COLOR`,
//! unless `--color always`), times for people in UTC with `--utc`.
//!
//! The style is decided once per process from the global flags
//! ([`set_style`]) and read by the helpers here, so verbs need not pass it
//! around. JSON output never depends on it: instants there are RFC 3339
//! with their offset, and there is no colour.

use std::ffi::OsStr;
use std::sync::OnceLock;

use jiff::Timestamp;

use crate::schedule::Zone;
use crate::units::format_duration;

/// How output looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours on stdout.
    pub color: bool,
    /// Times for people in UTC rather than their zone (`--utc`).
    pub utc: bool,
}

static STYLE: OnceLock<Style> = OnceLock::new();

/// Sets the process's style; the first call wins.
pub fn set_style(style: Style) {
    let _ = STYLE.set(style);
}

/// The process's style: no colour, local times, until [`set_style`].
pub fn style() -> Style {
    STYLE.get().copied().unwrap_or_default()
}

/// Whether to colour: `forced` is `--color always` (`Some(true)`) or
/// `never` (`Some(false)`), which win; `auto` (`None`) colours a terminal
/// unless `NO_COLOR` is set to anything but the empty string
/// (no-color.org) or `TERM` is `dumb`.
pub fn use_color(
    forced: Option<bool>,
    no_color: Option<&OsStr>,
    term: Option<&OsStr>,
    terminal: bool,
) -> bool {
    forced.unwrap_or_else(|| {
        terminal && no_color.is_none_or(OsStr::is_empty) && term.is_none_or(|t| t != "dumb")
    })
}

/// Colours [`painted`] knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Green,
    Red,
    Yellow,
    Grey,
}

/// `text` in `colour` if `on`, else as it is.
pub fn painted(text: &str, colour: Colour, on: bool) -> String {
    if !on {
        return text.to_string();
    }
    let code = match colour {
        Colour::Green => "32",
        Colour::Red => "31",
        Colour::Yellow => "33",
        Colour::Grey => "90",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The zone to show a time of `zone` in: UTC with `--utc`, else `zone`.
pub fn shown_zone(zone: &Zone) -> Zone {
    if style().utc {
        Zone::utc()
    } else {
        zone.clone()
    }
}

/// The zone for times that belong to no task (history, status): UTC with
/// `--utc`, else the system's (`TZ`, then `/etc/localtime`).
pub fn local_zone() -> Zone {
    if style().utc {
        Zone::utc()
    } else {
        Zone::system()
    }
}

/// RFC 3339 with the zone's offset at that instant: `2026-03-08T03:00:00-04:00`.
/// For scripts: `--utc` does not change it.
pub fn rfc3339(t: Timestamp, zone: &Zone) -> String {
    t.to_zoned(zone.time_zone().clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Wall time for people: `Sun 2026-03-08 03:00:00 -04:00` (in UTC with `--utc`).
pub fn wall_time(t: Timestamp, zone: &Zone) -> String {
    t.to_zoned(shown_zone(zone).time_zone().clone())
        .strftime("%a %Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// Wall time without seconds, for tables: `Sun 2026-03-08 03:00 -04:00`
/// (in UTC with `--utc`).
pub fn short_wall_time(t: Timestamp, zone: &Zone) -> String {
    let format = if t.as_second() % 60 == 0 {
        "%a %Y-%m-%d %H:%M %:z"
    } else {
        "%a %Y-%m-%d %H:%M:%S %:z"
    };
    t.to_zoned(shown_zone(zone).time_zone().clone())
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

/// A run's duration, short: `0s`, `850ms`, `1.2s`, `59.9s`, then as
/// [`compact_duration`] (`3m 4s`). Under a second it is written as
/// [`format_duration`] writes it (a duration under a millisecond is `0s`
/// in both), so the run log, `kron history` and `kron stats` agree.
pub fn short_duration(ms: u64) -> String {
    match ms {
        0..1000 => format_duration(std::time::Duration::from_millis(ms)),
        1000..59_950 => {
            let tenths = (ms + 50) / 100;
            if tenths.is_multiple_of(10) {
                format!("{}s", tenths / 10)
            } else {
                format!("{}.{}s", tenths / 10, tenths % 10)
            }
        }
        _ => compact_duration((ms + 500) / 1000),
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

    #[test]
    fn short_durations() {
        assert_eq!(short_duration(0), "0s");
        assert_eq!(short_duration(850), "850ms");
        assert_eq!(short_duration(1000), "1s");
        assert_eq!(short_duration(1204), "1.2s");
        assert_eq!(short_duration(59_940), "59.9s");
        assert_eq!(short_duration(59_950), "1m");
        assert_eq!(short_duration(184_000), "3m 4s");
    }

    #[test]
    fn a_duration_under_a_millisecond_has_one_form() {
        // The run log's footer (a measured Duration), history (whole ms)
        // and stats (short) write a run that took 400µs the same way.
        let footer = format_duration(std::time::Duration::from_micros(400));
        let history = format_duration(std::time::Duration::from_millis(0));
        assert_eq!(footer, "0s");
        assert_eq!(history, "0s");
        assert_eq!(short_duration(0), "0s");
    }

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        let some = |s: &'static str| Some(OsStr::new(s));
        assert!(use_color(None, None, some("xterm"), true));
        assert!(!use_color(None, None, some("xterm"), false));
        assert!(!use_color(None, some("1"), some("xterm"), true));
        // no-color.org: an empty NO_COLOR does not count.
        assert!(use_color(None, some(""), None, true));
        assert!(!use_color(None, None, some("dumb"), true));
        // An explicit --color wins either way.
        assert!(use_color(Some(true), some("1"), some("dumb"), false));
        assert!(!use_color(Some(false), None, some("xterm"), true));
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
