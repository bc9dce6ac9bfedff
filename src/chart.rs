//! A bar chart of runs for the terminal (`kron history NAME --chart`,
//! `kron stats NAME`): one line per run, oldest first, with a bar as long as
//! the run's duration (relative to the longest run shown) and coloured by
//! outcome: green success, red failure or timeout, yellow skipped, grey
//! interrupted. Without colour the bars are plain ASCII, one character per
//! outcome (`#`, `x`, `-`, `~`), so the chart still reads in a pipe, a log
//! or with `NO_COLOR`. Rendering is pure: the caller passes the zone, the
//! width and whether to colour.

use jiff::Timestamp;

use crate::history::{Outcome, Record};
use crate::output::{Colour, painted, short_duration};
use crate::schedule::Zone;

/// Widest a bar gets, so that a wide terminal does not exaggerate.
const MAX_BAR: usize = 60;
/// Narrowest: below this the chart says nothing.
const MIN_BAR: usize = 10;
/// Eighths of a cell, for bars finer than a character when in colour.
const EIGHTHS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

fn colour(outcome: Outcome) -> Colour {
    match outcome {
        Outcome::Success => Colour::Green,
        Outcome::Failure | Outcome::Timeout | Outcome::Abandoned => Colour::Red,
        Outcome::Skipped => Colour::Yellow,
        Outcome::Interrupted | Outcome::Missed => Colour::Grey,
    }
}

/// The ASCII character of a bar without colour.
fn plain(outcome: Outcome) -> char {
    match outcome {
        Outcome::Success => '#',
        Outcome::Failure | Outcome::Timeout => 'x',
        Outcome::Skipped => '-',
        Outcome::Interrupted => '~',
        Outcome::Missed => '.',
        Outcome::Abandoned => '!',
    }
}

/// The chart of `runs` (oldest first): a line per run, then the legend.
/// Start times are shown in `zone`; lines fit in `width` columns.
pub fn render(runs: &[Record], zone: &Zone, width: usize, color: bool) -> String {
    let longest = runs.iter().map(|r| r.duration_ms).max().unwrap_or(0);
    let rows: Vec<(String, &Record)> = runs
        .iter()
        .map(|r| {
            let label = format!(
                "{}  {:<11}  {:>6}  ",
                time(r.started, zone),
                r.outcome.as_str(),
                if r.outcome == Outcome::Skipped {
                    "-".to_string()
                } else {
                    short_duration(r.duration_ms)
                }
            );
            (label, r)
        })
        .collect();
    let label_width = rows.first().map_or(0, |(l, _)| l.chars().count());
    let bar_width = width.saturating_sub(label_width).clamp(MIN_BAR, MAX_BAR);
    let mut out = String::new();
    for (label, r) in &rows {
        out.push_str(label);
        out.push_str(&bar(r, longest, bar_width, color));
        out.push('\n');
    }
    out.push_str(&legend(color));
    out.push('\n');
    out
}

/// `2026-03-08 03:00:00`, in `zone`.
fn time(t: Timestamp, zone: &Zone) -> String {
    t.to_zoned(zone.time_zone().clone())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A run's bar: at least a sliver, so every run shows.
fn bar(r: &Record, longest: u64, width: usize, color: bool) -> String {
    let eighths = if longest == 0 {
        0
    } else {
        ((r.duration_ms as u128 * width as u128 * 8 + u128::from(longest) / 2)
            / u128::from(longest)) as usize
    };
    if !color {
        let cells = eighths.div_ceil(8).max(1);
        return plain(r.outcome).to_string().repeat(cells);
    }
    let eighths = eighths.max(1);
    let text = format!("{}{}", "█".repeat(eighths / 8), EIGHTHS[eighths % 8]);
    painted(&text, colour(r.outcome), true)
}

fn legend(color: bool) -> String {
    let entries = [
        (Outcome::Success, "success"),
        (Outcome::Failure, "failure, timeout"),
        (Outcome::Skipped, "skipped"),
        (Outcome::Interrupted, "interrupted"),
    ];
    let parts: Vec<String> = entries
        .iter()
        .map(|&(outcome, name)| {
            let mark = if color {
                painted("█", colour(outcome), true)
            } else {
                plain(outcome).to_string()
            };
            format!("{mark} {name}")
        })
        .collect();
    format!("bar = duration; {}", parts.join("  "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(minute: i64, outcome: Outcome, duration_ms: u64) -> Record {
        let started = Timestamp::from_second(1_772_935_200 + minute * 60).unwrap();
        Record::sample("t", format!("r{minute}"), started, outcome, duration_ms)
    }

    #[test]
    fn plain_bars_scale_with_duration_and_show_the_outcome() {
        let runs = [
            run(0, Outcome::Success, 1000),
            run(1, Outcome::Failure, 250),
            run(2, Outcome::Skipped, 0),
            run(3, Outcome::Timeout, 2000),
            run(4, Outcome::Interrupted, 20),
        ];
        // Labels take 42 columns: bars get 20.
        let chart = render(&runs, &Zone::utc(), 62, false);
        assert_eq!(
            chart,
            "\
2026-03-08 02:00:00  success          1s  ##########
2026-03-08 02:01:00  failure       250ms  xxx
2026-03-08 02:02:00  skipped           -  -
2026-03-08 02:03:00  timeout          2s  xxxxxxxxxxxxxxxxxxxx
2026-03-08 02:04:00  interrupted    20ms  ~
bar = duration; # success  x failure, timeout  - skipped  ~ interrupted
"
        );
        assert!(!chart.contains('\x1b'));
    }

    #[test]
    fn colour_bars_use_blocks_and_eighths() {
        let runs = [run(0, Outcome::Success, 1000), run(1, Outcome::Failure, 55)];
        let chart = render(&runs, &Zone::utc(), 62, true);
        let lines: Vec<&str> = chart.lines().collect();
        assert!(
            lines[0].ends_with(&format!("\x1b[32m{}\x1b[0m", "█".repeat(20))),
            "{chart}"
        );
        // 55/1000 of 20 cells is 8.8 eighths: one cell and a sliver.
        assert!(lines[1].ends_with("\x1b[31m█▏\x1b[0m"), "{chart}");
        assert!(lines[2].contains("\x1b[33m█\x1b[0m skipped"), "{chart}");
    }
}
