//! Fuzz target: `Schedule::parse` and `Schedule::next_after` must never
//! panic or loop, and the instants they give must be consistent.
//!
//! From the input: a zone (one of `ZONES`), a start instant (1900..2300 plus
//! nanoseconds) and an expression, either the remaining bytes as lossy UTF-8
//! or, more often, cron-looking text built token by token (numbers in and
//! out of range, `*`, `/`, `-`, `,`, `L`, `W`, `#`, `?`, names in any case,
//! macros, `@every` durations). If the expression parses, up to 5 instants
//! are taken and checked:
//! - each is strictly after the previous one (the first after the start);
//! - each is a whole second;
//! - `next_after(instant - 1 s)` is that same instant;
//! - `upcoming(start)` yields the same instants.

#![no_main]

use std::fmt;
use std::sync::OnceLock;

use jiff::{SignedDuration, Timestamp};
use kron::schedule::{Schedule, Zone};
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

const ZONES: [&str; 7] = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Apia",
    "Antarctica/Troll",
];

/// 1900-01-01T00:00:00Z and 2300-01-01T00:00:00Z.
const START_MIN: i64 = -2_208_988_800;
const START_MAX: i64 = 10_413_792_000;

/// How many instants are taken from a schedule that parses.
const TAKE: usize = 5;

fn zones() -> &'static [Zone] {
    static ZONE_LIST: OnceLock<Vec<Zone>> = OnceLock::new();
    ZONE_LIST.get_or_init(|| {
        ZONES
            .iter()
            .map(|name| {
                if *name == "UTC" {
                    Zone::utc()
                } else {
                    Zone::get(name).unwrap_or_else(|e| panic!("zone {name}: {e}"))
                }
            })
            .collect()
    })
}

struct Input {
    zone: usize,
    seconds: i64,
    nanos: i32,
    expr: String,
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = Timestamp::new(self.seconds, self.nanos).map(|t| t.to_string());
        f.debug_struct("Input")
            .field("zone", &ZONES[self.zone])
            .field("start", &start.unwrap_or_default())
            .field("seconds", &self.seconds)
            .field("nanos", &self.nanos)
            .field("expr", &self.expr)
            .finish()
    }
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let zone = u.choose_index(ZONES.len())?;
        let seconds = u.int_in_range(START_MIN..=START_MAX)?;
        let nanos = match u.int_in_range(0..=3u8)? {
            // Whole seconds are where off-by-one errors live.
            0 | 1 => 0,
            _ => u.int_in_range(0..=999_999_999)?,
        };
        let expr = if u.ratio(1, 5)? {
            String::from_utf8_lossy(u.bytes(u.len())?).into_owned()
        } else {
            expression(u)?
        };
        Ok(Input { zone, seconds, nanos, expr })
    }
}

/// Cron-looking text: a macro, or 4 to 8 fields of tokens (5, 6 and 7 the
/// most likely), with an occasional stray character.
fn expression(u: &mut Unstructured) -> arbitrary::Result<String> {
    let mut out = String::new();
    if u.ratio(1, 6)? {
        macro_expr(u, &mut out)?;
        return Ok(out);
    }
    let count = match u.int_in_range(0..=15u8)? {
        0 => 4,
        1 => 8,
        2..=6 => 5,
        7..=11 => 6,
        _ => 7,
    };
    // Fields by position: with 5 fields there is no second.
    let kinds: &[Kind] = match count {
        5 => &[Kind::Minute, Kind::Hour, Kind::Dom, Kind::Month, Kind::Dow],
        _ => &[
            Kind::Second,
            Kind::Minute,
            Kind::Hour,
            Kind::Dom,
            Kind::Month,
            Kind::Dow,
            Kind::Year,
            Kind::Year,
        ],
    };
    for i in 0..count {
        if i > 0 {
            out.push_str(*u.choose(&[" ", " ", " ", "  ", "\t"])?);
        }
        let kind = kinds.get(i).copied().unwrap_or(Kind::Year);
        field(u, kind, &mut out)?;
    }
    if u.ratio(1, 30)? {
        // A stray character somewhere.
        let c = *u.choose(&['?', 'L', 'W', '#', '-', '/', ',', '*', '@', 'é', '+', ' ', '0'])?;
        let mut at = u.int_in_range(0..=out.len())?;
        while !out.is_char_boundary(at) {
            at -= 1;
        }
        out.insert(at, c);
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Second,
    Minute,
    Hour,
    Dom,
    Month,
    Dow,
    Year,
}

impl Kind {
    fn range(self) -> (u64, u64) {
        match self {
            Kind::Second | Kind::Minute => (0, 59),
            Kind::Hour => (0, 23),
            Kind::Dom => (1, 31),
            Kind::Month => (1, 12),
            Kind::Dow => (0, 7),
            Kind::Year => (1970, 2199),
        }
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn field(u: &mut Unstructured, kind: Kind, out: &mut String) -> arbitrary::Result<()> {
    if matches!(kind, Kind::Dom | Kind::Dow) && u.ratio(1, 8)? {
        out.push('?');
        return Ok(());
    }
    if u.ratio(1, 4)? {
        out.push('*');
        if u.ratio(1, 2)? {
            out.push('/');
            number(u, kind, out)?;
        }
        return Ok(());
    }
    let items = match u.int_in_range(0..=7u8)? {
        0..=4 => 1,
        5 | 6 => 2,
        _ => u.int_in_range(3..=6)?,
    };
    for i in 0..items {
        if i > 0 {
            out.push(',');
        }
        item(u, kind, out)?;
    }
    Ok(())
}

fn item(u: &mut Unstructured, kind: Kind, out: &mut String) -> arbitrary::Result<()> {
    match u.int_in_range(0..=9u8)? {
        // An extension (L, W, #), if the field has any.
        0 | 1 if kind == Kind::Dom => match u.int_in_range(0..=4u8)? {
            0 => out.push_str(*u.choose(&["L", "l", "LW", "lw", "W", "L-"])?),
            1 => {
                out.push_str(*u.choose(&["L-", "l-"])?);
                number(u, kind, out)?;
            }
            2 => {
                number(u, kind, out)?;
                out.push(*u.choose(&['W', 'w'])?);
            }
            3 => {
                // Extensions where they are not allowed.
                value(u, kind, out)?;
                out.push_str(*u.choose(&["W-", "W/", "L", "#"])?);
                value(u, kind, out)?;
            }
            _ => out.push_str(*u.choose(&["L/2", "1W-5W", "LW/3", "L-30", "L-31", "31W", "L--1"])?),
        },
        0 | 1 if kind == Kind::Dow => match u.int_in_range(0..=3u8)? {
            0 => {
                value(u, kind, out)?;
                out.push(*u.choose(&['L', 'l'])?);
            }
            1 => {
                value(u, kind, out)?;
                out.push('#');
                match u.int_in_range(0..=5u8)? {
                    0 => number(u, kind, out)?,
                    k => out.push_str(&k.to_string()),
                }
            }
            2 => out.push_str(*u.choose(&["L", "#", "#1", "5#", "L#2", "1#2-3", "5L/2", "mon-friL"])?),
            _ => {
                value(u, kind, out)?;
                out.push_str(*u.choose(&["L", "#1", "#5", "#6"])?);
                out.push(*u.choose(&['-', '/', ','])?);
                value(u, kind, out)?;
            }
        },
        // A range.
        2..=4 => {
            value(u, kind, out)?;
            out.push('-');
            value(u, kind, out)?;
            if u.ratio(1, 2)? {
                out.push('/');
                number(u, kind, out)?;
            }
        }
        // A start with a step.
        5 => {
            value(u, kind, out)?;
            out.push('/');
            number(u, kind, out)?;
        }
        6 => {
            out.push('*');
            out.push('/');
            number(u, kind, out)?;
        }
        // Oddities: empty items, doubled separators, signs.
        7 if u.ratio(1, 3)? => {
            out.push_str(*u.choose(&["", "-", "/", "--", "//", "*-*", "*/", "/5", "+5", "-1", "1-", "0x1"])?)
        }
        _ => value(u, kind, out)?,
    }
    Ok(())
}

/// A number or, in month and day-of-week, sometimes a name in any case.
fn value(u: &mut Unstructured, kind: Kind, out: &mut String) -> arbitrary::Result<()> {
    let names: &[&str] = match kind {
        Kind::Month => &MONTHS,
        Kind::Dow => &DAYS,
        _ => &[],
    };
    if !names.is_empty() && u.ratio(1, 3)? {
        let name = *u.choose(names)?;
        for c in name.chars() {
            out.push(if u.ratio(1, 3)? { c.to_ascii_uppercase() } else { c });
        }
        return Ok(());
    }
    number(u, kind, out)
}

/// Mostly in the field's range, sometimes just outside it or huge.
fn number(u: &mut Unstructured, kind: Kind, out: &mut String) -> arbitrary::Result<()> {
    let (min, max) = kind.range();
    let n: u128 = match u.int_in_range(0..=19u8)? {
        0 => u64::from(u.int_in_range(0..=3u8)?).into(),
        1 => (max + 1).into(),
        2 => min.saturating_sub(1).into(),
        3 => u.int_in_range(0..=100_000u128)?,
        4 => *u.choose(&[
            u128::from(u32::MAX),
            u128::from(u32::MAX) + 1,
            u128::from(u64::MAX),
            u128::from(u64::MAX) + 1,
            u128::MAX,
        ])?,
        _ => u.int_in_range(min..=max)?.into(),
    };
    if u.ratio(1, 25)? {
        out.push('0'); // a leading zero
    }
    out.push_str(&n.to_string());
    Ok(())
}

fn macro_expr(u: &mut Unstructured, out: &mut String) -> arbitrary::Result<()> {
    let name = *u.choose(&[
        "@every", "@every", "@every", "@every", "@yearly", "@annually", "@monthly", "@weekly",
        "@daily", "@midnight", "@hourly", "@reboot", "@Daily", "@", "@every1h",
    ])?;
    out.push_str(name);
    if name != "@every" {
        if u.ratio(1, 8)? {
            out.push_str(" 1h");
        }
        return Ok(());
    }
    if u.ratio(1, 12)? {
        return Ok(()); // missing duration
    }
    out.push(' ');
    let mut units = ['d', 'h', 'm', 's'];
    if u.ratio(1, 6)? {
        // Out of order, repeated or unknown units.
        for unit in &mut units {
            *unit = *u.choose(&['d', 'h', 'm', 's', 'x', 'D'])?;
        }
    }
    let mut any = false;
    for (i, unit) in units.into_iter().enumerate() {
        // Each unit with a chance of one half; at least one.
        if !u.ratio(1, 2)? && (any || i < 3) {
            continue;
        }
        any = true;
        let n: u128 = match u.int_in_range(0..=9u8)? {
            0 => 0,
            1 => *u.choose(&[
                u128::from(u64::MAX) / 86_400,
                i64::MAX as u128,
                i64::MAX as u128 + 1,
                u64::MAX as u128 - 1,
                u64::MAX as u128,
                u64::MAX as u128 + 1,
            ])?,
            2 => u.int_in_range(0..=u128::from(u64::MAX))?,
            3 => u.int_in_range(0..=10_000_000_000u128)?,
            _ => u.int_in_range(1..=100u128)?,
        };
        out.push_str(&n.to_string());
        if !u.ratio(1, 30)? {
            out.push(unit);
        }
    }
    if u.ratio(1, 20)? {
        out.push_str(*u.choose(&[" 5m", "1", ".5h", "é"])?);
    }
    Ok(())
}

fuzz_target!(|input: Input| {
    let zone = zones()[input.zone].clone();
    let Ok(schedule) = Schedule::parse(&input.expr, zone) else {
        return;
    };
    let start = Timestamp::new(input.seconds, input.nanos).expect("start in jiff's range");
    let mut found = Vec::with_capacity(TAKE);
    let mut prev = start;
    for _ in 0..TAKE {
        let Some(t) = schedule.next_after(prev) else {
            break;
        };
        assert!(t > prev, "{input:?}: next_after({prev}) = {t}, not strictly after");
        assert!(t > start);
        assert_eq!(t.subsec_nanosecond(), 0, "{input:?}: {t} is not a whole second");
        let back = t - SignedDuration::from_secs(1);
        assert_eq!(
            schedule.next_after(back),
            Some(t),
            "{input:?}: next_after({back}) is not {t}, found after {prev}"
        );
        found.push(t);
        prev = t;
    }
    let upcoming: Vec<Timestamp> = schedule.upcoming(start).take(TAKE).collect();
    assert_eq!(upcoming, found, "{input:?}: upcoming() differs from next_after()");
});
