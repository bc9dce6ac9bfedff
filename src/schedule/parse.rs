//! Parsing schedule text (crontab(5) fields, Quartz extensions, macros) into
//! the compact form of `fields`.
//!
//! Every error names the field and the offending text, and an expression
//! that can never fire is refused here, on the calendar alone.

use std::fmt;

use super::fields::{Cron, Days, YEAR_MAX, YEAR_MIN, Years};

/// A schedule expression, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Cron(Box<Cron>),
    /// `@every DURATION`, in seconds, counted from the Unix epoch.
    Every(u64),
    /// `@reboot`: has no instants; the daemon runs it once per boot.
    Reboot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl Field {
    fn range(self) -> (u32, u32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
            Field::Year => (YEAR_MIN as u32, YEAR_MAX as u32),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &[
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ],
            Field::DayOfWeek => &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
            _ => &[],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
            Field::Year => "year",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the schedule is empty")]
    Empty,
    #[error("expected 5, 6 or 7 fields or a macro such as @daily, found {0} fields")]
    FieldCount(usize),
    #[error(
        "unknown macro `{0}` (macros are lower case: @yearly, @annually, @monthly, @weekly, \
         @daily, @midnight, @hourly, @reboot, @every DURATION)"
    )]
    UnknownMacro(String),
    #[error("@every: {0}")]
    Every(String),
    #[error("{field}: {message}")]
    Field { field: Field, message: String },
    #[error("never fires: no date matches the day-of-month, month, day-of-week and year fields")]
    NeverFires,
}

fn field_error(field: Field, message: impl Into<String>) -> ParseError {
    ParseError::Field {
        field,
        message: message.into(),
    }
}

pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(first) = words.first() else {
        return Err(ParseError::Empty);
    };
    if first.starts_with('@') {
        return parse_macro(&words);
    }
    let (second, rest) = match words.len() {
        5 => ("0", &words[..]),
        6 | 7 => (words[0], &words[1..]),
        n => return Err(ParseError::FieldCount(n)),
    };
    parse_fields(
        second,
        rest[0],
        rest[1],
        rest[2],
        rest[3],
        rest[4],
        rest.get(5).copied(),
    )
}

fn parse_macro(words: &[&str]) -> Result<Expr, ParseError> {
    let fields = match words[0] {
        "@every" => {
            return match words {
                [_, duration] => parse_every(duration).map(Expr::Every),
                [_] => Err(ParseError::Every(
                    "missing duration, e.g. @every 90s".into(),
                )),
                _ => Err(ParseError::Every(format!(
                    "expected one duration such as 1h30m, found `{}`",
                    words[1..].join(" ")
                ))),
            };
        }
        "@reboot" => None,
        "@yearly" | "@annually" => Some(["0", "0", "1", "1", "*"]),
        "@monthly" => Some(["0", "0", "1", "*", "*"]),
        "@weekly" => Some(["0", "0", "*", "*", "0"]),
        "@daily" | "@midnight" => Some(["0", "0", "*", "*", "*"]),
        "@hourly" => Some(["0", "*", "*", "*", "*"]),
        other => return Err(ParseError::UnknownMacro(other.into())),
    };
    if words.len() > 1 {
        return Err(ParseError::UnknownMacro(words.join(" ")));
    }
    match fields {
        None => Ok(Expr::Reboot),
        Some([m, h, dom, mon, dow]) => parse_fields("0", m, h, dom, mon, dow, None),
    }
}

/// `@every` durations: whole numbers of d, h, m, s in that order, each at
/// most once, adding up to more than zero.
fn parse_every(text: &str) -> Result<u64, ParseError> {
    let bad = |why: &str| ParseError::Every(format!("`{text}` {why}"));
    let mut total: u64 = 0;
    let mut rest = text;
    let mut allowed = "dhms";
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("is not a duration such as 90s, 1h30m or 2d"));
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad("is too long"))?;
        let Some(unit) = rest[digits..].chars().next() else {
            return Err(bad("needs a unit (d, h, m or s) after each number"));
        };
        let Some(pos) = allowed.find(unit) else {
            return Err(bad("must use d, h, m, s in that order, each at most once"));
        };
        allowed = &allowed[pos + 1..];
        let seconds = match unit {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            _ => 1,
        };
        total = number
            .checked_mul(seconds)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| bad("is too long"))?;
        rest = &rest[digits + 1..];
    }
    if total == 0 {
        return Err(bad("must be above zero"));
    }
    // Instants are signed seconds: a longer period could not be added to one.
    if i64::try_from(total).is_err() {
        return Err(bad("is too long"));
    }
    Ok(total)
}

fn parse_fields(
    second: &str,
    minute: &str,
    hour: &str,
    dom: &str,
    month: &str,
    dow: &str,
    year: Option<&str>,
) -> Result<Expr, ParseError> {
    let seconds = parse_plain(Field::Second, second)?;
    let minutes = parse_plain(Field::Minute, minute)?;
    let hours = parse_plain(Field::Hour, hour)?;
    let mut days = Days::default();
    parse_dom(dom, &mut days)?;
    let months = parse_plain(Field::Month, month)?;
    parse_dow(dow, &mut days)?;
    // A year field, even `*`, bounds the schedule to 1970-2199.
    let years = year.map(parse_years).transpose()?;
    let wildcard = [second, minute, hour].iter().any(|f| f.starts_with('*'));
    let cron = Cron::new(seconds, minutes, hours, days, months, years, wildcard);
    if !cron.ever_fires() {
        return Err(ParseError::NeverFires);
    }
    Ok(Expr::Cron(Box::new(cron)))
}

/// A field made only of numbers, names, ranges and steps.
fn parse_plain(field: Field, text: &str) -> Result<u64, ParseError> {
    if text.contains('?') {
        return Err(field_error(
            field,
            format!("`{text}`: ? is allowed only as the whole day-of-month or day-of-week field"),
        ));
    }
    let mut set = 0u64;
    for item in text.split(',') {
        let (low, high, step) = parse_item(field, item)?;
        for v in (low..=high).step_by(step as usize) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

fn parse_years(text: &str) -> Result<Years, ParseError> {
    let mut years = Years::empty();
    for item in text.split(',') {
        let (low, high, step) = parse_item(Field::Year, item)?;
        for y in (low..=high).step_by(step as usize) {
            years.insert(y as i32);
        }
    }
    Ok(years)
}

/// One list item: `*`, `N`, `A-B`, each optionally followed by `/STEP`.
/// Returns the inclusive range and the step.
fn parse_item(field: Field, item: &str) -> Result<(u32, u32, u32), ParseError> {
    let (min, max) = field.range();
    if item.is_empty() {
        return Err(field_error(field, "empty item in the list"));
    }
    let (range, step) = match item.split_once('/') {
        None => (item, None),
        Some((range, step)) => (range, Some(step)),
    };
    let step = match step {
        None => 1,
        Some(text) => match text.parse::<u32>() {
            Ok(0) => {
                return Err(field_error(
                    field,
                    format!("`{item}`: step 0 is not allowed"),
                ));
            }
            Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) => n,
            _ if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => u32::MAX,
            _ => {
                return Err(field_error(
                    field,
                    format!("`{item}`: step `{text}` is not a number"),
                ));
            }
        },
    };
    let (low, high) = if range == "*" {
        (min, max)
    } else if let Some((a, b)) = range.split_once('-') {
        let (a_text, b_text) = (a, b);
        let a = parse_value(field, a_text)?;
        let b = parse_value(field, b_text)?;
        if a > b {
            return Err(field_error(
                field,
                reversed_range_message(field, range, a, b),
            ));
        }
        (a, b)
    } else {
        let a = parse_value(field, range)?;
        (
            a,
            if step > 1 || item.contains('/') {
                max
            } else {
                a
            },
        )
    };
    Ok((low, high, step))
}

fn reversed_range_message(field: Field, range: &str, a: u32, b: u32) -> String {
    if field == Field::DayOfWeek && b == 0 {
        if a == 7 {
            return format!("`{range}` is a reversed range; Sunday alone is 0 or 7");
        }
        let name = field.names()[a as usize];
        return format!("`{range}` is a reversed range (Sunday is 0); use {a}-7 or {name},sun");
    }
    format!("`{range}` is a reversed range; write the smaller value first")
}

/// A number or (for month and day-of-week) an English three-letter name.
fn parse_value(field: Field, text: &str) -> Result<u32, ParseError> {
    let (min, max) = field.range();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(field_error(
                field,
                format!("{text} is out of range {min}-{max}"),
            )),
        };
    }
    let lower = text.to_ascii_lowercase();
    if let Some(i) = field.names().iter().position(|n| *n == lower) {
        return Ok(i as u32 + min);
    }
    if text.is_empty() {
        return Err(field_error(field, "a value is missing"));
    }
    let expected = match field {
        Field::Month => format!("a number {min}-{max} or a name such as jan"),
        Field::DayOfWeek => format!("a number {min}-{max} or a name such as mon"),
        _ => format!("a number {min}-{max}"),
    };
    Err(field_error(field, format!("`{text}` is not {expected}")))
}

fn parse_dom(text: &str, days: &mut Days) -> Result<(), ParseError> {
    let field = Field::DayOfMonth;
    if text == "?" {
        days.dom = !0;
        days.dom_star = true;
        return Ok(());
    }
    days.dom_star = text.starts_with('*');
    if text.contains('?') {
        return parse_plain(field, text).map(|_| ());
    }
    for item in text.split(',') {
        let upper = item.to_ascii_uppercase();
        if !upper.contains(['L', 'W']) {
            let (low, high, step) = parse_item(field, item)?;
            for d in (low..=high).step_by(step as usize) {
                days.dom |= 1 << d;
            }
            continue;
        }
        if upper.contains('/') {
            return Err(field_error(
                field,
                format!("`{item}`: L and W take no step"),
            ));
        }
        if upper == "L" {
            days.dom_last |= 1;
        } else if upper == "LW" {
            days.dom_last_weekday = true;
        } else if let Some(n) = upper.strip_prefix("L-") {
            match n.parse::<u32>() {
                Ok(v) if v <= 30 && n.bytes().all(|b| b.is_ascii_digit()) => {
                    days.dom_last |= 1 << v
                }
                _ => {
                    return Err(field_error(field, format!("`{item}`: L-n takes n in 0-30")));
                }
            }
        } else if let Some(n) = upper.strip_suffix('W')
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
        {
            days.dom_nearest_weekday |= 1 << parse_value(field, n)?;
        } else if upper.contains('-') {
            return Err(field_error(
                field,
                format!("`{item}`: L and W days cannot end a range"),
            ));
        } else {
            return Err(field_error(
                field,
                format!("`{item}` is not a day 1-31, L, L-n, nW or LW"),
            ));
        }
    }
    Ok(())
}

fn parse_dow(text: &str, days: &mut Days) -> Result<(), ParseError> {
    let field = Field::DayOfWeek;
    if text == "?" {
        days.dow = 0x7f;
        days.dow_star = true;
        return Ok(());
    }
    days.dow_star = text.starts_with('*');
    if text.contains('?') {
        return parse_plain(field, text).map(|_| ());
    }
    for item in text.split(',') {
        let upper = item.to_ascii_uppercase();
        let is_last = upper.ends_with('L');
        if !upper.contains('#') && !is_last {
            let (low, high, step) = parse_item(field, item)?;
            for d in (low..=high).step_by(step as usize) {
                days.dow |= 1 << (d % 7);
            }
            continue;
        }
        if upper.contains('/') {
            return Err(field_error(
                field,
                format!("`{item}`: L and # take no step"),
            ));
        }
        if upper.contains('-') {
            return Err(field_error(
                field,
                format!("`{item}`: L and # cannot end a range"),
            ));
        }
        if let Some((day, nth)) = item.split_once('#') {
            let day = parse_value(field, day)? % 7;
            match nth.parse::<u32>() {
                Ok(k @ 1..=5) if nth.len() == 1 => days.dow_nth[day as usize] |= 1 << k,
                _ => {
                    return Err(field_error(field, format!("`{item}`: # takes a week 1-5")));
                }
            }
        } else {
            let day = &item[..item.len() - 1];
            if day.is_empty() {
                return Err(field_error(
                    field,
                    "a bare L is not allowed here; write nL (5L: the last Friday) or use L in day-of-month",
                ));
            }
            days.dow_last |= 1 << (parse_value(field, day)? % 7);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        parse(text).expect_err(text).to_string()
    }

    fn cron(text: &str) -> Cron {
        match parse(text).unwrap() {
            Expr::Cron(c) => *c,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn bits(set: u64) -> Vec<u32> {
        (0..64).filter(|i| set & (1 << i) != 0).collect()
    }

    #[test]
    fn lists_ranges_steps() {
        assert_eq!(
            bits(cron("1,2,5-7,30-40/5 * * * *").minutes),
            [1, 2, 5, 6, 7, 30, 35, 40]
        );
        assert_eq!(
            bits(cron("*/7 * * * *").minutes),
            [0, 7, 14, 21, 28, 35, 42, 49, 56]
        );
        assert_eq!(bits(cron("0 0 5/10 * *").days.dom as u64), [5, 15, 25]);
        assert_eq!(bits(cron("*/90 * * * *").minutes), [0]);
        assert_eq!(bits(cron("0 0 1 2/3 *").months), [2, 5, 8, 11]);
    }

    #[test]
    fn names_any_case() {
        assert_eq!(bits(cron("0 0 * JAN-Mar *").months), [1, 2, 3]);
        assert_eq!(cron("0 0 * * mon-FRI").days.dow, 0b0111110);
        assert_eq!(cron("0 0 * * sat,sun").days.dow, 0b1000001);
    }

    #[test]
    fn sunday_is_zero_and_seven() {
        assert_eq!(cron("0 0 * * 7").days.dow, 1);
        assert_eq!(cron("0 0 * * 5-7").days.dow, 0b1100001);
        // 1/2 = 1-7/2 = Mon, Wed, Fri, Sun
        assert_eq!(cron("0 0 * * 1/2").days.dow, 0b0101011);
    }

    #[test]
    fn question_mark() {
        let c = cron("0 0 ? * ?");
        assert!(c.days.dom_star && c.days.dow_star);
        assert!(error("0 0 1,? * *").contains("day-of-month"));
        assert!(error("? 0 * * *").starts_with("minute"));
    }

    #[test]
    fn errors_name_field_and_text() {
        assert_eq!(error("60 * * * *"), "minute: 60 is out of range 0-59");
        assert_eq!(error("0 24 * * *"), "hour: 24 is out of range 0-23");
        assert_eq!(error("0 0 0 * *"), "day-of-month: 0 is out of range 1-31");
        assert_eq!(error("0 0 * 13 *"), "month: 13 is out of range 1-12");
        assert_eq!(error("0 0 * * 8"), "day-of-week: 8 is out of range 0-7");
        assert_eq!(
            error("0 0 * foo *"),
            "month: `foo` is not a number 1-12 or a name such as jan"
        );
        assert!(error("5-1 * * * *").contains("`5-1` is a reversed range"));
        let sat_sun = error("0 0 * * sat-sun");
        assert!(
            sat_sun.contains("6-7") && sat_sun.contains("sat,sun"),
            "{sat_sun}"
        );
        assert!(error("*/0 * * * *").contains("step 0"));
        assert!(error("0 0 * * * * 1969").contains("1969 is out of range 1970-2199"));
        assert!(error("0 0 * *").contains("found 4 fields"));
        assert!(error("1 2 3 4 5 6 7 8").contains("found 8 fields"));
        assert!(error("").contains("empty"));
        assert!(error("1,,2 * * * *").contains("empty item"));
    }

    #[test]
    fn extensions() {
        let c = cron("0 0 L,1,L-3,15W,LW * *");
        assert_eq!(c.days.dom_last, 1 | 1 << 3);
        assert_eq!(c.days.dom_nearest_weekday, 1 << 15);
        assert!(c.days.dom_last_weekday);
        let c = cron("0 0 * * 5L,fri#2,1#1,SUNl");
        assert_eq!(c.days.dow_last, 1 << 5 | 1);
        assert_eq!(c.days.dow_nth[5], 1 << 2);
        assert_eq!(c.days.dow_nth[1], 1 << 1);
        assert!(error("0 0 L/2 * *").contains("no step"));
        assert!(error("0 0 1W-5W * *").contains("range"));
        assert!(error("0 0 * * L").contains("bare L"));
        assert!(error("0 0 L-31 * *").contains("0-30"));
        assert!(error("0 0 L-+5 * *").contains("0-30"));
        // Found by fuzzing: a reversed range ending in Sunday that starts at 7.
        assert!(error("0 0 * * 7-0").contains("reversed range"));
        assert!(error("0 0 * * 7-sun").contains("reversed range"));
        assert!(error("0 0 * * 1#6").contains("1-5"));
        assert!(error("0 0 * * 1#0").contains("1-5"));
        assert!(error("0 0 32W * *").contains("32 is out of range"));
    }

    #[test]
    fn macros() {
        assert_eq!(parse("@daily").unwrap(), parse("0 0 * * *").unwrap());
        assert_eq!(parse("@midnight").unwrap(), parse("0 0 * * *").unwrap());
        assert_eq!(parse("@annually").unwrap(), parse("0 0 1 1 *").unwrap());
        assert_eq!(parse("@weekly").unwrap(), parse("0 0 * * 0").unwrap());
        assert_eq!(parse("@hourly").unwrap(), parse("0 * * * *").unwrap());
        assert_eq!(parse("@reboot").unwrap(), Expr::Reboot);
        assert!(error("@Daily").contains("unknown macro"));
        assert_eq!(parse("@every 90s").unwrap(), Expr::Every(90));
        assert_eq!(parse("@every 1h30m").unwrap(), Expr::Every(5400));
        assert_eq!(parse("@every 2d").unwrap(), Expr::Every(172_800));
        assert!(error("@every 30m1h").contains("order"));
        assert!(error("@every 1h1h").contains("order"));
        assert!(error("@every 0s").contains("above zero"));
        assert!(error("@every 5").contains("unit"));
        assert!(error("@every").contains("missing"));
        assert!(error("@every 1.5h").starts_with("@every"));
        // Found by fuzzing: periods beyond signed 64-bit seconds wrapped negative.
        assert!(error("@every 18446744073709551614s").contains("too long"));
        assert!(error("@every 9223372036854775808s").contains("too long"));
        assert_eq!(
            parse("@every 9223372036854775807s").unwrap(),
            Expr::Every(i64::MAX as u64)
        );
    }

    #[test]
    fn wildcard_classification() {
        assert!(cron("*/15 * * * *").wildcard);
        assert!(cron("0 * * * *").wildcard);
        assert!(cron("@hourly").wildcard == cron("0 * * * *").wildcard);
        assert!(cron("* 30 2 * * *").wildcard);
        assert!(!cron("30 2 * * *").wildcard);
        assert!(!cron("0,30 1 * * *").wildcard);
        assert!(!cron("0 1-3 * * *").wildcard);
    }

    #[test]
    fn never_fires_is_refused() {
        let never = [
            "0 0 30 2 *",
            "0 0 31 4,6,9,11 *",
            "0 0 31W 4 *",
            "0 0 0 * 2 5#5 2027",
            "0 0 0 29 2 ? 2027",
        ];
        for text in never {
            assert_eq!(parse(text), Err(ParseError::NeverFires), "{text}");
        }
        // February 29 exists in leap years only, but exists.
        assert!(parse("0 0 29 2 *").is_ok());
        assert!(parse("0 0 0 29 2 ? 2028").is_ok());
        // L-30 never fits February, but fits 31-day months.
        assert!(parse("0 0 L-30 * *").is_ok());
        assert_eq!(parse("0 0 L-30 2 *"), Err(ParseError::NeverFires));
    }
}
