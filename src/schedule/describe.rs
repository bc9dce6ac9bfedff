//! English descriptions of schedules, for people reading `kron next` and
//! task listings.
//!
//! The description is built from the parsed bit sets, not from the source
//! text, so it says what the engine will actually run: `1-31` in
//! day-of-month reads the same as `*`, and the crontab(5) OR rule for
//! day-of-month and day-of-week is spelled out rather than hidden.

use super::fields::{Cron, Days, bits};
use super::{Expr, Schedule};

#[rustfmt::skip]
const MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December"];
#[rustfmt::skip]
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const NTH: [&str; 6] = ["", "first", "second", "third", "fourth", "fifth"];
/// Days 1..=31 of `Days::dom`.
const ALL_DOM: u32 = !1;

impl Schedule {
    /// A short plain-English description, e.g. "every 15 minutes,
    /// 09:00-17:59, Monday to Friday".
    pub fn describe(&self) -> String {
        match self.expr() {
            Expr::Reboot => "once after each boot".into(),
            Expr::Every(seconds) => format!("every {}", duration(*seconds)),
            Expr::Cron(cron) => describe_cron(cron),
        }
    }
}

/// Seconds in the `@every` notation: `5400` -> `1h30m`.
fn duration(mut seconds: u64) -> String {
    let mut out = String::new();
    for (unit, length) in [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
        if seconds >= length {
            out += &format!("{}{unit}", seconds / length);
            seconds %= length;
        }
    }
    out
}

fn describe_cron(cron: &Cron) -> String {
    let mut out = time_of_day(cron);
    let day = day_phrase(&cron.days);
    if let Some((text, _)) = &day {
        out += text;
    }
    let months = values(cron.months, 1, 12);
    let mut months_tail = None;
    if months.len() < 12 {
        let names = list(&months, |m| MONTHS[m as usize - 1].into(), "and");
        match &day {
            // "on day 1 of the month" in January reads "on day 1 of January".
            Some((_, true)) if out.ends_with("the month") => {
                out.truncate(out.len() - "the month".len());
                out += &names;
            }
            _ => months_tail = Some(names),
        }
    }
    let years = cron.years.as_ref().map(|years| {
        let years: Vec<u32> = years.iter().map(|y| y as u32).collect();
        list(&years, |y| y.to_string(), "and")
    });
    let tail = match (months_tail, years) {
        (Some(m), Some(y)) => format!("in {m} of {y}"),
        (Some(m), None) => format!("in {m}"),
        (None, Some(y)) => format!("in {y}"),
        (None, None) => return out,
    };
    // Without the comma, "on Friday in January" could bind the month to the
    // weekday alone.
    out += if day.is_some() || out.contains(',') {
        ", "
    } else {
        " "
    };
    out + &tail
}

/// The seconds, minutes and hours fields.
fn time_of_day(cron: &Cron) -> String {
    let seconds = values(cron.seconds, 0, 59);
    let minutes = values(cron.minutes, 0, 59);
    let hours = values(cron.hours, 0, 23);
    if seconds.len() * minutes.len() * hours.len() <= 4 {
        let show_seconds = seconds != [0];
        let mut times = Vec::new();
        for h in &hours {
            for m in &minutes {
                for s in &seconds {
                    times.push(match show_seconds {
                        true => format!("{h:02}:{m:02}:{s:02}"),
                        false => format!("{h:02}:{m:02}"),
                    });
                }
            }
        }
        return format!("at {}", join(&times, "and"));
    }
    if seconds != [0] {
        let (lead, at) = lead(&seconds, 60, "second");
        if minutes.len() == 60 {
            let prefix = if at { "every minute, " } else { "" };
            let windows = hour_windows(&hours)
                .map(|w| format!(", {w}"))
                .unwrap_or_default();
            return format!("{prefix}{lead}{windows}");
        }
        let within = if at { "of" } else { "during" };
        let hours = match hours.len() {
            24 => "every hour".into(),
            _ => numbered(&hours, "hour"),
        };
        return format!(
            "{lead} {within} {} of {hours}",
            numbered(&minutes, "minute")
        );
    }
    let (lead, at) = lead(&minutes, 60, "minute");
    if !at {
        return match hour_windows(&hours) {
            Some(windows) => format!("{lead}, {windows}"),
            None => lead,
        };
    }
    match step(&hours, 24) {
        Some(1) => format!("every hour, {lead}"),
        Some(n) => format!("every {n} hours, {lead}"),
        None => format!("{lead} of {}", numbered(&hours, "hour")),
    }
}

/// "every minute", "every 15 minutes" (the bool is false), or "at minutes
/// 5, 10 and 42" (true).
fn lead(set: &[u32], size: u32, unit: &str) -> (String, bool) {
    match step(set, size) {
        Some(1) => (format!("every {unit}"), false),
        Some(n) => (format!("every {n} {unit}s"), false),
        None => (format!("at {}", numbered(set, unit)), true),
    }
}

/// `n` when `set` is every n-th value of a field of `size` values from 0,
/// and n divides `size`: only then is "every n" uniform across the wrap
/// (`*/7` minutes has a 4-minute gap from :56 to :00).
fn step(set: &[u32], size: u32) -> Option<u32> {
    if set.first() != Some(&0) {
        return None;
    }
    let n = set.get(1).map_or(size, |second| second - set[0]);
    let uniform = set.windows(2).all(|w| w[1] - w[0] == n);
    (uniform && size.is_multiple_of(n) && set.len() as u32 == size / n && n < size).then_some(n)
}

/// The hours as clock windows ("09:00-17:59"), or as a list when there are
/// too many windows to read; `None` for every hour.
fn hour_windows(hours: &[u32]) -> Option<String> {
    if hours.len() == 24 {
        return None;
    }
    let runs = runs(hours);
    if runs.len() > 3 {
        return Some(format!("during {}", numbered(hours, "hour")));
    }
    let windows: Vec<String> = runs
        .iter()
        .map(|(a, b)| format!("{a:02}:00-{b:02}:59"))
        .collect();
    Some(join(&windows, "and"))
}

/// The day fields with the separator to attach them (", Monday to
/// Friday", " on day 1 of the month"), and whether the whole phrase is
/// governed by a final "of the month", which a month list may replace.
fn day_phrase(days: &Days) -> Option<(String, bool)> {
    let dom_all = days.dom & ALL_DOM == ALL_DOM;
    let dow_all = days.dow & 0x7f == 0x7f;
    if !(days.dom_star || days.dow_star) {
        // crontab(5): both restricted, a day matches when either does.
        if dom_all || dow_all {
            return None;
        }
        let (dow, ..) = weekdays(days, "or");
        return Some((
            format!(" on {} of the month or on {dow}", month_days(days)),
            false,
        ));
    }
    match (dom_all, dow_all) {
        (true, true) => None,
        (false, true) => Some((format!(" on {} of the month", month_days(days)), true)),
        (true, false) => match weekdays(days, "and") {
            (dow, true, _) => Some((format!(", {dow}"), false)),
            (dow, false, only_ordinal) => Some((format!(" on {dow}"), only_ordinal)),
        },
        (false, false) => {
            let (dow, ..) = weekdays(days, "or");
            let text = format!(" on {} of the month if it falls on {dow}", month_days(days));
            Some((text, false))
        }
    }
}

/// The day-of-month field without "of the month": "days 1 and 15", "the
/// last day", "the weekday nearest day 15".
fn month_days(days: &Days) -> String {
    let mut items = Vec::new();
    let plain = values(u64::from(days.dom), 1, 31);
    if !plain.is_empty() {
        items.push(numbered(&plain, "day"));
    }
    for k in bits(days.dom_last) {
        items.push(match k {
            0 => "the last day".into(),
            // `L-k` is the (k+1)-th day counting back from the end.
            k => format!("the {}-last day", ordinal(k + 1)),
        });
    }
    if days.dom_last_weekday {
        items.push("the last weekday".into());
    }
    for n in bits(days.dom_nearest_weekday) {
        items.push(format!("the weekday nearest day {n}"));
    }
    join(&items, "and")
}

/// The day-of-week field, Monday first: the text, whether it is one run of
/// plain weekdays ("Monday to Friday"), and whether it is only `#` and `L`
/// items (so it ends in a governing "of the month").
fn weekdays(days: &Days, conj: &str) -> (String, bool, bool) {
    // Positions 0..=6 are Monday..Sunday, so Saturday and Sunday are adjacent.
    let weekday = |position: u32| (position + 1) % 7;
    let plain: Vec<u32> = (0..7)
        .filter(|&p| days.dow & (1 << weekday(p)) != 0)
        .collect();
    let mut ordinal = Vec::new();
    for w in (0..7).map(weekday) {
        let name = WEEKDAYS[w as usize];
        let nth: Vec<String> = bits(u32::from(days.dow_nth[w as usize]))
            .map(|k| NTH.get(k as usize).copied().unwrap_or("?").to_string())
            .collect();
        if !nth.is_empty() {
            ordinal.push(format!("the {} {name}", join(&nth, conj)));
        }
        if days.dow_last & (1 << w) != 0 {
            ordinal.push(format!("the last {name}"));
        }
    }
    let mut items = Vec::new();
    if !plain.is_empty() {
        items.push(list(&plain, |p| WEEKDAYS[weekday(p) as usize].into(), conj));
    }
    let only_ordinal = items.is_empty() && !ordinal.is_empty();
    let single_run = ordinal.is_empty() && plain.len() >= 3 && runs(&plain).len() == 1;
    if !ordinal.is_empty() {
        items.push(format!("{} of the month", join(&ordinal, conj)));
    }
    (join(&items, conj), single_run, only_ordinal)
}

/// The values min..=max whose bit is set.
fn values(set: u64, min: u32, max: u32) -> Vec<u32> {
    (min..=max).filter(|&v| set & (1 << v) != 0).collect()
}

/// "minute 5", "minutes 5, 10 and 42".
fn numbered(set: &[u32], unit: &str) -> String {
    let plural = if set.len() == 1 { "" } else { "s" };
    format!("{unit}{plural} {}", list(set, |v| v.to_string(), "and"))
}

/// Sorted values as text: runs of three or more as "a to b"; a long
/// arithmetic progression as "1, 3, 5, ..., 31" (three terms and the last
/// pin it down exactly).
fn list(set: &[u32], name: impl Fn(u32) -> String, conj: &str) -> String {
    if set.len() >= 7
        && set[1] - set[0] >= 2
        && set.windows(2).all(|w| w[1] - w[0] == set[1] - set[0])
    {
        let [a, b, c, last] = [0, 1, 2, set.len() - 1].map(|i| name(set[i]));
        return format!("{a}, {b}, {c}, ..., {last}");
    }
    let mut items = Vec::new();
    for (a, b) in runs(set) {
        if b - a >= 2 {
            items.push(format!("{} to {}", name(a), name(b)));
        } else {
            items.extend((a..=b).map(&name));
        }
    }
    join(&items, conj)
}

/// Maximal runs of consecutive values, as inclusive bounds.
fn runs(set: &[u32]) -> Vec<(u32, u32)> {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &v in set {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == v => *end = v,
            _ => runs.push((v, v)),
        }
    }
    runs
}

/// "a", "a and b", "a, b and c".
fn join(items: &[String], conj: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {conj} {last}", rest.join(", ")),
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::super::Zone;
    use super::*;

    fn describe(text: &str) -> String {
        Schedule::parse(text, Zone::utc())
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .describe()
    }

    fn check(cases: &[(&str, &str)]) {
        for (text, expected) in cases {
            assert_eq!(describe(text), *expected, "{text}");
        }
    }

    #[test]
    fn repeating_times() {
        check(&[
            ("* * * * *", "every minute"),
            ("*/10 * * * * *", "every 10 seconds"),
            ("* * * * * *", "every second"),
            ("0 * * * *", "every hour, at minute 0"),
            ("@hourly", "every hour, at minute 0"),
            ("0 */2 * * *", "every 2 hours, at minute 0"),
            ("0,15,30,45 * * * *", "every 15 minutes"),
            (
                "*/15 9-17 * * mon-fri",
                "every 15 minutes, 09:00-17:59, Monday to Friday",
            ),
            ("* 9,17 * * *", "every minute, 09:00-09:59 and 17:00-17:59"),
            (
                "*/15 */2 * * *",
                "every 15 minutes, during hours 0, 2, 4, ..., 22",
            ),
            ("30 * * * * *", "every minute, at second 30"),
            (
                "*/10 0 * * * *",
                "every 10 seconds during minute 0 of every hour",
            ),
            (
                "*/10 0-4 9 * * *",
                "every 10 seconds during minutes 0 to 4 of hour 9",
            ),
        ]);
    }

    #[test]
    fn lists_that_are_not_steps() {
        check(&[
            ("5,10,42 * * * *", "every hour, at minutes 5, 10 and 42"),
            ("0,30 9-17 * * *", "every 30 minutes, 09:00-17:59"),
            ("0,20 9-17 * * *", "at minutes 0 and 20 of hours 9 to 17"),
            // 60 is not a multiple of 7: :56 to :00 is 4 minutes, so no "every 7".
            ("*/7 * * * *", "every hour, at minutes 0, 7, 14, ..., 56"),
            ("5/15 * * * *", "every hour, at minutes 5, 20, 35 and 50"),
        ]);
    }

    #[test]
    fn few_times_are_listed() {
        check(&[
            ("30 2 * * *", "at 02:30"),
            ("0,30 1 * * *", "at 01:00 and 01:30"),
            ("0 9,17 * * 1-5", "at 09:00 and 17:00, Monday to Friday"),
            ("15 30 2 * * *", "at 02:30:15"),
            ("0 9-12 * * *", "at 09:00, 10:00, 11:00 and 12:00"),
        ]);
    }

    #[test]
    fn days_of_month_and_months() {
        check(&[
            ("0 0 1 1 *", "at 00:00 on day 1 of January"),
            ("@monthly", "at 00:00 on day 1 of the month"),
            ("0 0 1,15 * *", "at 00:00 on days 1 and 15 of the month"),
            (
                "0 0 */2 * *",
                "at 00:00 on days 1, 3, 5, ..., 31 of the month",
            ),
            ("0 0 1-31 * *", "at 00:00"),
            ("0 0 L * *", "at 00:00 on the last day of the month"),
            (
                "0 0 L-1,L-3 * *",
                "at 00:00 on the 2nd-last day and the 4th-last day of the month",
            ),
            (
                "0 0 15W * *",
                "at 00:00 on the weekday nearest day 15 of the month",
            ),
            ("0 0 LW * *", "at 00:00 on the last weekday of the month"),
            (
                "0 0 L 1-3 *",
                "at 00:00 on the last day of January to March",
            ),
            (
                "0 0 * 1,4,7,10 *",
                "at 00:00 in January, April, July and October",
            ),
        ]);
    }

    #[test]
    fn days_of_week() {
        check(&[
            ("@weekly", "at 00:00 on Sunday"),
            ("0 0 * * sat,sun", "at 00:00 on Saturday and Sunday"),
            ("0 0 * * 1,3,5", "at 00:00 on Monday, Wednesday and Friday"),
            ("0 0 * * 0-5", "at 00:00 on Monday to Friday and Sunday"),
            ("0 0 * * 5L", "at 00:00 on the last Friday of the month"),
            ("0 0 * * 1#2", "at 00:00 on the second Monday of the month"),
            (
                "0 0 * * 1#1,1#3",
                "at 00:00 on the first and third Monday of the month",
            ),
            ("0 0 * 6 5L", "at 00:00 on the last Friday of June"),
            ("0 0 * * 1-5", "at 00:00, Monday to Friday"),
            ("0 0 * 1 mon-fri", "at 00:00, Monday to Friday, in January"),
        ]);
    }

    #[test]
    fn both_day_fields() {
        check(&[
            // crontab(5): both restricted, either matches.
            ("0 0 13 * 5", "at 00:00 on day 13 of the month or on Friday"),
            (
                "0 0 L * 1,5",
                "at 00:00 on the last day of the month or on Monday or Friday",
            ),
            (
                "0 0 13 6 5",
                "at 00:00 on day 13 of the month or on Friday, in June",
            ),
            // A field starting with `*` makes it AND.
            (
                "0 0 */2 * 5",
                "at 00:00 on days 1, 3, 5, ..., 31 of the month if it falls on Friday",
            ),
            // Either side matching every day makes the OR match every day.
            ("0 0 1-31 * 5", "at 00:00"),
            ("0 0 13 * 0-6", "at 00:00"),
            ("0 0 ? * ?", "at 00:00"),
        ]);
    }

    #[test]
    fn years_and_macros() {
        check(&[
            ("0 0 0 * * ? 2027", "at 00:00 in 2027"),
            (
                "0 0 0 1 1 ? 2027-2030",
                "at 00:00 on day 1 of January, in 2027 to 2030",
            ),
            ("0 0 0 * 1 ? 2027", "at 00:00 in January of 2027"),
            ("@every 1h30m", "every 1h30m"),
            ("@every 90s", "every 1m30s"),
            ("@every 2d", "every 2d"),
            ("@reboot", "once after each boot"),
        ]);
    }

    #[test]
    fn never_panics() {
        let texts = [
            "0-59 0-23 1-31 1-12 0-7",
            "* * * * * * 1970-2199",
            "*/90 */90 * * *",
            "0 0 1,L,L-30,1W,31W,LW * 0#1,1#2,2#3,3#4,4#5,5L,6L,0L",
            "59 59 23 31 12 ? 2199",
            "0 0 0 ? * 0#5,1#5,2#5,3#5,4#5,5#5,6#5",
        ];
        for text in texts {
            assert!(!describe(text).is_empty(), "{text}");
        }
    }
}
