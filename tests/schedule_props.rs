//! Property tests: the engine agrees with a brute-force matcher that walks
//! time one second (or, for 5-field expressions, one minute) at a time.
//!
//! The oracle below does not share code with kron: it evaluates the
//! generated field items directly on jiff's calendar, and applies the
//! spec's daylight-saving rules by asking jiff about each wall time.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};
use kron::schedule::{ParseError, Schedule, Zone};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Item {
    Star(u32),
    Value(u32),
    Range(u32, u32, u32),
    From(u32, u32),
    // day-of-month extensions
    Last(u32),
    NearestWeekday(u32),
    LastWeekday,
    // day-of-week extensions
    LastOf(u32),
    Nth(u32, u32),
}

#[derive(Clone, Debug)]
struct FieldGen {
    question: bool,
    items: Vec<Item>,
}

impl FieldGen {
    fn text(&self) -> String {
        if self.question {
            return "?".into();
        }
        let items: Vec<String> = self
            .items
            .iter()
            .map(|item| match item {
                Item::Star(1) => "*".into(),
                Item::Star(s) => format!("*/{s}"),
                Item::Value(v) => v.to_string(),
                Item::Range(a, b, 1) => format!("{a}-{b}"),
                Item::Range(a, b, s) => format!("{a}-{b}/{s}"),
                Item::From(a, s) => format!("{a}/{s}"),
                Item::Last(0) => "L".into(),
                Item::Last(n) => format!("L-{n}"),
                Item::NearestWeekday(n) => format!("{n}W"),
                Item::LastWeekday => "LW".into(),
                Item::LastOf(w) => format!("{w}L"),
                Item::Nth(w, k) => format!("{w}#{k}"),
            })
            .collect();
        items.join(",")
    }

    fn star(&self) -> bool {
        self.question || matches!(self.items[0], Item::Star(_))
    }

    /// Whether plain value `x` (min..=max) is selected, ignoring extensions.
    fn matches(&self, x: u32, min: u32, max: u32) -> bool {
        self.question
            || self.items.iter().any(|item| match *item {
                Item::Star(s) => (x - min).is_multiple_of(s),
                Item::Value(v) => v == x,
                Item::Range(a, b, s) => a <= x && x <= b && (x - a).is_multiple_of(s),
                Item::From(a, s) => a <= x && x <= max && (x - a).is_multiple_of(s),
                _ => false,
            })
    }
}

fn plain_field(min: u32, max: u32) -> impl Strategy<Value = FieldGen> {
    let item = prop_oneof![
        3 => (1..=max - min + 1).prop_map(Item::Star),
        2 => (min..=max).prop_map(Item::Value),
        1 => (min..=max, min..=max, 1..6u32).prop_map(|(a, b, s)| Item::Range(a.min(b), a.max(b), s)),
        1 => (min..=max, 1..20u32).prop_map(|(a, s)| Item::From(a, s)),
    ];
    prop::collection::vec(item, 1..4).prop_map(|items| FieldGen {
        question: false,
        items,
    })
}

/// Mostly `*`, so that brute force finds firings within its window.
fn busy_field(min: u32, max: u32) -> impl Strategy<Value = FieldGen> {
    prop_oneof![
        4 => Just(FieldGen { question: false, items: vec![Item::Star(1)] }),
        1 => plain_field(min, max),
    ]
}

fn dom_field() -> impl Strategy<Value = FieldGen> {
    let ext = prop_oneof![
        (0..5u32).prop_map(Item::Last),
        (1..=31u32).prop_map(Item::NearestWeekday),
        Just(Item::LastWeekday),
        (1..=31u32).prop_map(Item::Value),
    ];
    prop_oneof![
        6 => busy_field(1, 31),
        1 => Just(FieldGen { question: true, items: vec![] }),
        2 => prop::collection::vec(ext, 1..3).prop_map(|items| FieldGen { question: false, items }),
    ]
}

fn dow_field() -> impl Strategy<Value = FieldGen> {
    let ext = prop_oneof![
        (0..=7u32).prop_map(Item::LastOf),
        (0..=7u32, 1..=5u32).prop_map(|(w, k)| Item::Nth(w, k)),
        (0..=7u32).prop_map(Item::Value),
    ];
    prop_oneof![
        6 => busy_field(0, 7),
        1 => Just(FieldGen { question: true, items: vec![] }),
        2 => prop::collection::vec(ext, 1..3).prop_map(|items| FieldGen { question: false, items }),
    ]
}

#[derive(Clone, Debug)]
struct ExprGen {
    second: Option<FieldGen>,
    minute: FieldGen,
    hour: FieldGen,
    dom: FieldGen,
    month: FieldGen,
    dow: FieldGen,
}

fn expr() -> impl Strategy<Value = ExprGen> {
    (
        prop::option::of(plain_field(0, 59)),
        plain_field(0, 59),
        busy_field(0, 23),
        dom_field(),
        busy_field(1, 12),
        dow_field(),
    )
        .prop_map(|(second, minute, hour, dom, month, dow)| ExprGen {
            second,
            minute,
            hour,
            dom,
            month,
            dow,
        })
}

impl ExprGen {
    fn text(&self) -> String {
        let five = [&self.minute, &self.hour, &self.dom, &self.month, &self.dow]
            .map(FieldGen::text)
            .join(" ");
        match &self.second {
            Some(s) => format!("{} {five}", s.text()),
            None => five,
        }
    }

    fn wildcard(&self) -> bool {
        let starts = |f: &FieldGen| f.text().starts_with('*');
        self.second.as_ref().is_some_and(starts) || starts(&self.minute) || starts(&self.hour)
    }

    fn matches(&self, t: DateTime) -> bool {
        let second_ok = match &self.second {
            Some(f) => f.matches(t.second() as u32, 0, 59),
            None => t.second() == 0,
        };
        second_ok
            && self.minute.matches(t.minute() as u32, 0, 59)
            && self.hour.matches(t.hour() as u32, 0, 23)
            && self.month.matches(t.month() as u32, 1, 12)
            && self.day_matches(t.date())
    }

    fn day_matches(&self, date: jiff::civil::Date) -> bool {
        let day = date.day() as u32;
        let len = date.days_in_month() as u32;
        let weekday = date.weekday().to_sunday_zero_offset() as u32;
        let is_weekday = |d: u32| {
            let w = date
                .with()
                .day(d as i8)
                .build()
                .unwrap()
                .weekday()
                .to_sunday_zero_offset();
            (1..=5).contains(&w)
        };
        let dom = self.dom.matches(day, 1, 31)
            || self.dom.items.iter().any(|item| match *item {
                Item::Last(n) => n < len && day == len - n,
                Item::LastWeekday => (1..=len).rev().find(|&d| is_weekday(d)) == Some(day),
                Item::NearestWeekday(n) if n <= len => {
                    // The weekday closest to n within the month; ties cannot occur.
                    let candidates = (1..=len).filter(|&d| is_weekday(d));
                    candidates.min_by_key(|&d| d.abs_diff(n)) == Some(day)
                }
                _ => false,
            });
        let dow = self.dow.matches(weekday, 0, 7)
            || (weekday == 0 && self.dow.matches(7, 0, 7))
            || self.dow.items.iter().any(|item| match *item {
                Item::LastOf(w) => w % 7 == weekday && day + 7 > len,
                Item::Nth(w, k) => w % 7 == weekday && (day - 1) / 7 + 1 == k,
                _ => false,
            });
        if self.dom.star() || self.dow.star() {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Whether the schedule fires at instant `s`, by the spec's rules.
    fn fires_at(&self, tz: &TimeZone, s: i64) -> bool {
        let t = Timestamp::from_second(s).unwrap();
        let wall = tz.to_datetime(t);
        let earlier = tz.to_datetime(t - 1.second());
        let jumped = wall.duration_since(earlier).as_secs() > 1;
        if self.wildcard() {
            return self.matches(wall);
        }
        // Fixed time: a wall time fires at its first occurrence only...
        if self.matches(wall) {
            let first = match tz.to_ambiguous_timestamp(wall).offset() {
                AmbiguousOffset::Fold { before, .. } => before.to_timestamp(wall).unwrap(),
                _ => t,
            };
            if first == t {
                return true;
            }
        }
        // ... and the wall times skipped by a gap fire at its end.
        if jumped {
            let mut w = earlier + 1.second();
            while w < wall {
                if self.matches(w) {
                    return true;
                }
                w += 1.second();
            }
        }
        false
    }
}

fn check_against_brute_force(e: &ExprGen, tz_name: &str, after: i64) -> Result<(), TestCaseError> {
    let text = e.text();
    let schedule = match Schedule::parse(&text, Zone::get(tz_name).unwrap()) {
        Ok(s) => s,
        Err(ParseError::NeverFires) => return Ok(()),
        Err(err) => return Err(TestCaseError::fail(format!("{text}: {err}"))),
    };
    let tz = TimeZone::get(tz_name).unwrap();
    let step = if e.second.is_some() { 1 } else { 60 };
    let window = if e.second.is_some() {
        3 * 3600
    } else {
        9 * 86_400
    };
    let mut from = after;
    for _ in 0..3 {
        let engine = schedule
            .next_after(Timestamp::from_second(from).unwrap())
            .map(|t| t.as_second());
        // The first whole second (or minute) strictly after `from`.
        let first_candidate = (from + step).div_euclid(step) * step;
        let brute = (first_candidate..from + window)
            .step_by(step as usize)
            .find(|&s| e.fires_at(&tz, s));
        match brute {
            Some(s) => prop_assert_eq!(engine, Some(s), "{} in {} after {}", text, tz_name, from),
            None => prop_assert!(
                engine.is_none_or(|s| s >= from + window),
                "{} after {}: engine {:?}",
                text,
                from,
                engine
            ),
        }
        let Some(s) = brute else { break };
        from = s;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_brute_force_in_utc(e in expr(), after in 0i64..4_102_444_800) {
        check_against_brute_force(&e, "UTC", after)?;
    }

    /// Instants within a few hours of a daylight-saving transition.
    #[test]
    fn agrees_with_brute_force_across_transitions(
        e in expr(),
        (zone, transition) in prop_oneof![
            Just(("America/New_York", 1_772_953_200i64)),   // 2026-03-08T07:00:00Z, spring forward
            Just(("America/New_York", 1_793_512_800i64)),   // 2026-11-01T06:00:00Z, fall back
            Just(("Australia/Lord_Howe", 1_775_314_800i64)), // 2026-04-04T15:00:00Z, back 30 minutes
            Just(("Australia/Lord_Howe", 1_791_041_400i64)), // 2026-10-03T15:30:00Z, forward 30 minutes
        ],
        offset in -4 * 3600i64..3600,
    ) {
        check_against_brute_force(&e, zone, transition + offset)?;
    }
}
