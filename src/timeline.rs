//! The timeline of `kron plan`: one row per task, one column per step of
//! time, drawn with block characters (`█` a run starts, `▒` it is expected
//! to be running, `░` it waits, `╳` it will be skipped), a row per zone
//! whose clocks change (`▲` forward, `▼` back), and a header of days and
//! hours. The characters tell the cells apart without colour; colour
//! (green, yellow, red) is added only when on. Rendering is pure: the
//! caller passes the window, the zone to read it in, the width and the
//! colour.

use jiff::Timestamp;

use crate::forecast::{Fate, Run};
use crate::output::{Colour, painted};
use crate::schedule::{Change, Transition, Zone};

/// Widths of a column, in seconds: each divides a day.
const STEPS: [i64; 11] = [
    60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
];
/// At most this many columns: a week in hours, from a time within an hour.
const MAX_COLUMNS: usize = 7 * 24 + 1;
/// Widest a task's name gets in the first column.
const MAX_LABEL: usize = 24;

/// The columns: `columns` steps of `step` seconds from `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    pub start: Timestamp,
    pub step: i64,
    pub columns: usize,
}

impl Grid {
    /// The finest step that shows `from..until` in at most `room` columns
    /// (and a week in hours), starting at `from` rounded down to the step
    /// in `zone`'s wall time.
    pub fn fit(from: Timestamp, until: Timestamp, zone: &Zone, room: usize) -> Grid {
        let room = room.clamp(1, MAX_COLUMNS) as i64;
        let span = (until.as_second() - from.as_second()).max(1);
        let wall = from.as_second() + zone.offset(from.as_second());
        for &step in &STEPS {
            let start = from.as_second() - wall.rem_euclid(step);
            let columns = (until.as_second() - start + step - 1) / step;
            if columns <= room || step == STEPS[STEPS.len() - 1] {
                return Grid {
                    start: Timestamp::from_second(start).unwrap_or(from),
                    step,
                    columns: columns.max(1) as usize,
                };
            }
        }
        unreachable!("the last step always fits ({span} s)")
    }

    /// The column of an instant, if it is on the grid.
    fn column(&self, t: Timestamp) -> Option<usize> {
        let offset = t.as_second() - self.start.as_second();
        let column = offset.div_euclid(self.step);
        (offset >= 0 && (column as usize) < self.columns).then_some(column as usize)
    }

    /// The column of an instant, clamped to the grid.
    fn clamped(&self, t: Timestamp) -> usize {
        let offset = t.as_second() - self.start.as_second();
        offset
            .div_euclid(self.step)
            .clamp(0, self.columns as i64 - 1) as usize
    }

    fn column_start(&self, column: usize) -> i64 {
        self.start.as_second() + column as i64 * self.step
    }

    /// `1 column = 2h`.
    pub fn step_words(&self) -> String {
        let s = self.step;
        if s >= 3600 {
            format!("{}h", s / 3600)
        } else {
            format!("{}m", s / 60)
        }
    }
}

/// What a cell shows, in increasing priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cell {
    Empty,
    Running,
    Waiting,
    Start,
    Skipped,
}

impl Cell {
    fn glyph(self) -> (char, Option<Colour>) {
        match self {
            Cell::Empty => ('·', Some(Colour::Grey)),
            Cell::Running => ('▒', Some(Colour::Green)),
            Cell::Waiting => ('░', Some(Colour::Yellow)),
            Cell::Start => ('█', Some(Colour::Green)),
            Cell::Skipped => ('╳', Some(Colour::Red)),
        }
    }
}

/// A row: a label and either cells or a word in their place (`paused`).
pub struct Row {
    pub label: String,
    pub body: Body,
}

pub enum Body {
    Cells(Vec<Cell>),
    Clocks(Vec<Option<Change>>),
    Text(String),
}

/// A task's cells from its runs.
pub fn task_cells(grid: &Grid, runs: &[Run]) -> Vec<Cell> {
    let mut cells = vec![Cell::Empty; grid.columns];
    let mut mark = |column: usize, cell: Cell| {
        if cells[column] < cell {
            cells[column] = cell;
        }
    };
    for run in runs {
        if run.fate == Fate::Skipped {
            if let Some(c) = grid.column(run.scheduled) {
                mark(c, Cell::Skipped);
            }
            continue;
        }
        if run.start > run.scheduled && grid.column(run.scheduled).is_some() {
            for c in grid.clamped(run.scheduled)..=grid.clamped(run.start) {
                mark(c, Cell::Waiting);
            }
        }
        if let Some(end) = run.end
            && end > run.start
            && grid.column(run.start).is_some()
        {
            // The last second it runs is in the last column it covers.
            let last = Timestamp::from_second(end.as_second() - 1).unwrap_or(end);
            for c in grid.clamped(run.start)..=grid.clamped(last) {
                mark(c, Cell::Running);
            }
        }
        if let Some(c) = grid.column(run.start) {
            mark(c, Cell::Start);
        }
    }
    cells
}

/// A zone's clock changes as cells.
pub fn clock_cells(grid: &Grid, transitions: &[Transition]) -> Vec<Option<Change>> {
    let mut cells = vec![None; grid.columns];
    for tr in transitions {
        if let Some(c) = grid.column(tr.at) {
            cells[c] = Some(tr.change());
        }
    }
    cells
}

/// The header, the rows and the legend, each line within `width` when the
/// grid was fitted to it.
pub fn render(grid: &Grid, zone: &Zone, rows: &[Row], color: bool) -> String {
    let label_width = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_LABEL);
    let pad = " ".repeat(label_width + 2);
    let mut out = String::new();
    let (days, hours) = axis(grid, zone);
    for line in [days, hours] {
        out.push_str(format!("{pad}{line}").trim_end());
        out.push('\n');
    }
    for row in rows {
        let label = cut(&row.label, label_width);
        out.push_str(&format!("{label:<label_width$}  "));
        match &row.body {
            Body::Cells(cells) => out.push_str(&paint_runs(cells.iter().map(|c| c.glyph()), color)),
            Body::Clocks(cells) => out.push_str(&paint_runs(
                cells.iter().map(|c| match c {
                    Some(Change::Gap) => ('▲', Some(Colour::Yellow)),
                    Some(Change::Overlap) => ('▼', Some(Colour::Yellow)),
                    None => (' ', None),
                }),
                color,
            )),
            Body::Text(text) => out.push_str(&painted(text, Colour::Grey, color)),
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
    out
}

/// The legend line.
pub fn legend(color: bool) -> String {
    let item = |cell: Cell, words: &str| {
        let (glyph, colour) = cell.glyph();
        let glyph = glyph.to_string();
        match colour {
            Some(colour) => format!("{} {words}", painted(&glyph, colour, color)),
            None => format!("{glyph} {words}"),
        }
    };
    format!(
        "{}  {}  {}  {}  {} clocks change",
        item(Cell::Start, "starts"),
        item(Cell::Running, "runs (p95)"),
        item(Cell::Waiting, "waits"),
        item(Cell::Skipped, "skipped"),
        painted("▲▼", Colour::Yellow, color)
    )
}

/// Glyphs, one colour code per stretch of the same colour.
fn paint_runs(glyphs: impl Iterator<Item = (char, Option<Colour>)>, color: bool) -> String {
    let mut out = String::new();
    let mut stretch = String::new();
    let mut current: Option<Colour> = None;
    let flush = |out: &mut String, stretch: &mut String, colour: Option<Colour>| {
        match colour {
            Some(c) => out.push_str(&painted(stretch, c, color)),
            None => out.push_str(stretch),
        }
        stretch.clear();
    };
    for (glyph, colour) in glyphs {
        if colour != current && !stretch.is_empty() {
            flush(&mut out, &mut stretch, current);
        }
        current = colour;
        stretch.push(glyph);
    }
    flush(&mut out, &mut stretch, current);
    out
}

/// The two header lines: the days (`Mon 22`) where each begins, and the
/// hours at ticks far enough apart to be read.
fn axis(grid: &Grid, zone: &Zone) -> (String, String) {
    let wall = |column: usize| {
        let t = grid.column_start(column);
        t + zone.offset(t)
    };
    // Each day's name where it begins; the first, partial, day's only if
    // it ends before the next begins.
    let mut starts: Vec<(usize, String)> = Vec::new();
    let mut previous = None;
    for column in 0..grid.columns {
        let day = wall(column).div_euclid(86_400);
        if previous != Some(day) {
            let text = Timestamp::from_second(grid.column_start(column))
                .map(|t| {
                    t.to_zoned(zone.time_zone().clone())
                        .strftime("%a %-d")
                        .to_string()
                })
                .unwrap_or_default();
            starts.push((column, text));
        }
        previous = Some(day);
    }
    let mut days = Labels::new(grid.columns);
    for (i, (column, text)) in starts.iter().enumerate() {
        let crowded = *column == 0
            && starts
                .get(i + 1)
                .is_some_and(|(next, _)| text.chars().count() + 1 > *next);
        if !crowded {
            days.place(*column, text);
        }
    }
    let mut hours = Labels::new(grid.columns);
    let label = |tick: i64| if tick % 3600 == 0 { 2 } else { 5 };
    let tick = [300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200]
        .into_iter()
        .find(|&t| t % grid.step == 0 && t / grid.step >= label(t) + 2);
    if let Some(tick) = tick {
        for column in 0..grid.columns {
            let w = wall(column).rem_euclid(86_400);
            if w % tick == 0 {
                let text = if label(tick) == 2 {
                    format!("{:02}", w / 3600)
                } else {
                    format!("{:02}:{:02}", w / 3600, w / 60 % 60)
                };
                hours.place(column, &text);
            }
        }
    }
    (days.text(), hours.text())
}

/// A line of labels, each at its column unless it would overlap the one
/// before.
struct Labels {
    chars: Vec<char>,
    free: usize,
}

impl Labels {
    fn new(columns: usize) -> Labels {
        Labels {
            chars: vec![' '; columns],
            free: 0,
        }
    }

    fn place(&mut self, column: usize, text: &str) {
        let len = text.chars().count();
        if column < self.free || column + len > self.chars.len() {
            return;
        }
        for (i, c) in text.chars().enumerate() {
            self.chars[column + i] = c;
        }
        self.free = column + len + 1;
    }

    fn text(&self) -> String {
        self.chars.iter().collect()
    }
}

/// `text` cut to `width` characters, ending in `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::Wait;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_step_fits_the_room() {
        let utc = Zone::utc();
        let from = at("2027-03-22T10:20:00Z");
        let week = at("2027-03-29T10:20:00Z");
        let g = Grid::fit(from, week, &utc, 200);
        assert_eq!(
            (g.step, g.columns, g.start),
            (3600, 169, at("2027-03-22T10:00:00Z"))
        );
        assert_eq!(Grid::fit(from, week, &utc, 90).step, 7200);
        let g = Grid::fit(from, at("2027-03-23T10:20:00Z"), &utc, 90);
        assert_eq!((g.step, g.columns), (1800, 49));
        // Aligned to the zone's wall time: 10:20 in Kathmandu (+05:45).
        let kathmandu = Zone::get("Asia/Kathmandu").unwrap();
        let g = Grid::fit(at("2027-03-22T04:35:00Z"), week, &kathmandu, 200);
        assert_eq!(g.start, at("2027-03-22T04:15:00Z"));
    }

    #[test]
    fn cells_of_runs() {
        let grid = Grid {
            start: at("2027-03-22T00:00:00Z"),
            step: 3600,
            columns: 6,
        };
        let run = |scheduled: &str, start: &str, end: Option<&str>, fate, waits| Run {
            task: 0,
            scheduled: at(scheduled),
            start: at(start),
            end: end.map(at),
            fate,
            waits,
        };
        let runs = [
            run(
                "2027-03-22T00:30:00Z",
                "2027-03-22T00:30:00Z",
                Some("2027-03-22T02:00:00Z"),
                Fate::Runs,
                None,
            ),
            run(
                "2027-03-22T03:00:00Z",
                "2027-03-22T03:00:00Z",
                None,
                Fate::Skipped,
                None,
            ),
            run(
                "2027-03-22T04:00:00Z",
                "2027-03-22T05:10:00Z",
                Some("2027-03-22T05:20:00Z"),
                Fate::Runs,
                Some(Wait::Slot),
            ),
        ];
        assert_eq!(
            task_cells(&grid, &runs),
            [
                Cell::Start,
                Cell::Running,
                Cell::Empty,
                Cell::Skipped,
                Cell::Waiting,
                Cell::Start
            ]
        );
    }

    #[test]
    fn rendered_plain_and_in_colour() {
        let grid = Grid {
            start: at("2027-03-21T18:00:00Z"),
            step: 3600,
            columns: 12,
        };
        let rows = [Row {
            label: "backup".into(),
            body: Body::Cells(vec![Cell::Empty; 12]),
        }];
        let text = render(&grid, &Zone::utc(), &rows, false);
        assert_eq!(
            text,
            "              Mon 22\n        18    00\nbackup  ············\n"
        );
        let coloured = render(&grid, &Zone::utc(), &rows, true);
        assert!(
            coloured.contains("\x1b[90m············\x1b[0m"),
            "{coloured:?}"
        );
    }
}
