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
    columns().unwrap_or(100)
}

/// The width a table for people must fit in when standard output is a
/// terminal: the terminal's, else `COLUMNS`, else 80. `None` when it is
/// not a terminal (a pipe, a file): there nothing is cut or left out.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size_of(stdout) {
        return Some(usize::from(w));
    }
    Some(columns().unwrap_or(80))
}

fn columns() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&w| w > 0)
}

/// How much of the flexible column [`fitted_table`] keeps before it drops
/// an optional column: a command cut shorter says too little.
pub const FLEXIBLE_KEEP: usize = 40;

/// A table for `width` (see [`terminal_width`]): every column when `None`,
/// nothing cut. Otherwise the columns not in `optional` are always shown;
/// each of `optional`, in that order of priority, is shown only if the
/// table with it still leaves the `flexible` column its whole width or at
/// least [`FLEXIBLE_KEEP`] characters; then the flexible column is cut to
/// fit. Columns keep their order.
pub fn fitted_table(
    headers: &[&str],
    rows: &[Vec<String>],
    width: Option<usize>,
    optional: &[usize],
    flexible: usize,
) -> String {
    let Some(width) = width else {
        return table(headers, rows, usize::MAX, &[]);
    };
    let natural = natural_widths(headers, rows);
    let mut shown: Vec<bool> = (0..headers.len()).map(|c| !optional.contains(&c)).collect();
    let total = |shown: &[bool]| {
        let columns: Vec<usize> = (0..headers.len()).filter(|&c| shown[c]).collect();
        let fixed: usize = columns
            .iter()
            .filter(|&&c| c != flexible)
            .map(|&c| natural[c])
            .sum();
        fixed + 2 * columns.len().saturating_sub(1)
    };
    let keep = natural[flexible].min(FLEXIBLE_KEEP);
    for &column in optional {
        shown[column] = true;
        if total(&shown) + keep > width {
            shown[column] = false;
        }
    }
    let picked: Vec<usize> = (0..headers.len()).filter(|&c| shown[c]).collect();
    let headers: Vec<&str> = picked.iter().map(|&c| headers[c]).collect();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| picked.iter().map(|&c| row[c].clone()).collect())
        .collect();
    let cut = picked
        .iter()
        .position(|&c| c == flexible)
        .into_iter()
        .chain(0..picked.len())
        .collect::<Vec<_>>();
    table(&headers, &rows, width, &cut)
}

fn natural_widths(headers: &[&str], rows: &[Vec<String>]) -> Vec<usize> {
    let mut widths: Vec<usize> = headers.iter().map(|h| visible_width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(visible_width(cell));
        }
    }
    widths
}

/// Lays out rows under headers, two spaces apart. When the table is wider
/// than `width`, the columns in `shrink` are cut in that order (ending in
/// `…`), none below the width of its header. Cells may be [`painted`]:
/// colour codes take no room.
pub fn table(headers: &[&str], rows: &[Vec<String>], width: usize, shrink: &[usize]) -> String {
    let columns = headers.len();
    let mut widths = natural_widths(headers, rows);
    let total = |widths: &[usize]| widths.iter().sum::<usize>() + 2 * (columns - 1);
    for &column in shrink {
        let excess = total(&widths).saturating_sub(width);
        let floor = visible_width(headers[column]).max(4);
        widths[column] = widths[column].saturating_sub(excess).max(floor);
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let cell = truncate(cell, widths[i]);
            line.push_str(&cell);
            if i + 1 < columns {
                let pad = widths[i] - visible_width(&cell) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The characters of `text` a terminal shows: without the colour codes
/// [`painted`] adds.
fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-byte.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            width += 1;
        }
    }
    width
}

/// `text` in at most `width` visible characters, ending in `…` when cut;
/// colour codes are kept, and a cut coloured text ends with a reset.
fn truncate(text: &str, width: usize) -> String {
    if visible_width(text) <= width {
        return text.to_string();
    }
    let mut cut = String::new();
    let mut shown = 0;
    let mut coloured = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            coloured = true;
            cut.push(c);
            for c in chars.by_ref() {
                cut.push(c);
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        if shown + 1 >= width {
            break;
        }
        cut.push(c);
        shown += 1;
    }
    cut.push('…');
    if coloured {
        cut.push_str("\x1b[0m");
    }
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

    fn rows() -> Vec<Vec<String>> {
        vec![vec![
            "backup".into(),
            "30 2 * * *".into(),
            "at 02:30".into(),
            "restic backup /home --exclude-caches --one-file-system".into(),
        ]]
    }

    #[test]
    fn a_narrow_table_drops_optional_columns_before_cutting_the_flexible_one() {
        let headers = ["NAME", "SCHEDULE", "MEANS", "COMMAND"];
        let narrow = fitted_table(&headers, &rows(), Some(50), &[1, 2], 3);
        assert_eq!(
            narrow,
            "NAME    COMMAND\nbackup  restic backup /home --exclude-caches --on…\n"
        );
        let middle = fitted_table(&headers, &rows(), Some(65), &[1, 2], 3);
        assert!(
            middle.starts_with("NAME    SCHEDULE    COMMAND\n"),
            "{middle}"
        );
        assert!(middle.lines().all(|l| l.chars().count() <= 65), "{middle}");
        let wide = fitted_table(&headers, &rows(), Some(200), &[1, 2], 3);
        assert!(
            wide.starts_with("NAME    SCHEDULE    MEANS     COMMAND\n"),
            "{wide}"
        );
        // Not a terminal: everything, whole.
        let piped = fitted_table(&headers, &rows(), None, &[1, 2], 3);
        assert_eq!(piped, wide);
    }

    #[test]
    fn colour_codes_take_no_room() {
        let red = painted("failure", Colour::Red, true);
        let rows = vec![vec![red.clone(), "x".into()], vec!["ok".into(), "y".into()]];
        let text = table(&["LAST", "C"], &rows, 80, &[]);
        assert_eq!(text, format!("LAST     C\n{red}  x\nok       y\n"));
        assert_eq!(truncate(&red, 5), "\x1b[31mfail…\x1b[0m");
    }
}
