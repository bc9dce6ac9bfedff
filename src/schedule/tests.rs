//! Worked examples for every rule of `shared/spec/schedules.md`.

use jiff::Timestamp;

use super::{Schedule, Zone};

/// The next `n` instants of `expr` in `tz` strictly after `after`, written
/// as RFC 3339 with the zone's offset.
fn next(expr: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
    let zone = Zone::get(tz).unwrap();
    let schedule = Schedule::parse(expr, zone.clone()).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let after: Timestamp = after.parse().unwrap();
    schedule
        .upcoming(after)
        .take(n)
        .map(|t| {
            t.to_zoned(zone.time_zone().clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .collect()
}

#[track_caller]
fn check(expr: &str, tz: &str, after: &str, expected: &[&str]) {
    assert_eq!(
        next(expr, tz, after, expected.len() + 1)[..expected.len()],
        *expected,
        "{expr} in {tz} after {after}"
    );
}

#[test]
fn spec_example_gap_fires_at_the_transition() {
    check(
        "30 2 * * *",
        "America/New_York",
        "2026-03-08T01:59:00-05:00",
        &["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"],
    );
}

#[test]
fn crontab_or_rule() {
    // Every 13th and every Friday.
    check(
        "0 0 13 * 5",
        "UTC",
        "2026-11-01T00:00:00Z",
        &[
            "2026-11-06T00:00:00+00:00",
            "2026-11-13T00:00:00+00:00",
            "2026-11-20T00:00:00+00:00",
        ],
    );
    // */2 begins with a star: odd days that are Fridays.
    check(
        "0 0 */2 * 5",
        "UTC",
        "2026-11-01T00:00:00Z",
        &[
            "2026-11-13T00:00:00+00:00",
            "2026-11-27T00:00:00+00:00",
            "2026-12-11T00:00:00+00:00",
        ],
    );
    // `?` counts as a star: only Fridays.
    check(
        "0 0 ? * 5",
        "UTC",
        "2026-11-01T00:00:00Z",
        &["2026-11-06T00:00:00+00:00"],
    );
}

#[test]
fn february_29_and_month_ends() {
    check(
        "0 0 29 2 *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"],
    );
    // 2100 is not a leap year.
    check(
        "0 0 29 2 *",
        "UTC",
        "2097-01-01T00:00:00Z",
        &["2104-02-29T00:00:00+00:00"],
    );
    check(
        "0 0 31 * *",
        "UTC",
        "2026-01-31T00:00:00Z",
        &["2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00"],
    );
    check(
        "0 0 L * *",
        "UTC",
        "2028-01-31T00:00:00Z",
        &[
            "2028-02-29T00:00:00+00:00",
            "2028-03-31T00:00:00+00:00",
            "2028-04-30T00:00:00+00:00",
        ],
    );
}

#[test]
fn quartz_extensions() {
    // L-2: two days before the last.
    check(
        "0 0 L-2 2 *",
        "UTC",
        "2027-01-01T00:00:00Z",
        &["2027-02-26T00:00:00+00:00", "2028-02-27T00:00:00+00:00"],
    );
    // 15W: 2026-08-15 is a Saturday -> Friday 14th; 2026-11-15 a Sunday -> Monday 16th.
    check(
        "0 0 15W 8,11 *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-08-14T00:00:00+00:00", "2026-11-16T00:00:00+00:00"],
    );
    // 1W never leaves the month: 2026-08-01 is a Saturday -> Monday 3rd.
    check(
        "0 0 1W 8 *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-08-03T00:00:00+00:00"],
    );
    // 31W gives nothing in 30-day months.
    check(
        "0 0 31W * *",
        "UTC",
        "2026-04-01T00:00:00Z",
        &["2026-05-29T00:00:00+00:00", "2026-07-31T00:00:00+00:00"],
    );
    // LW: 2026-05-31 is a Sunday -> Friday 29th.
    check(
        "0 0 LW 5 *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-05-29T00:00:00+00:00"],
    );
    // 5L: the last Friday.
    check(
        "0 0 * * 5L",
        "UTC",
        "2026-11-01T00:00:00Z",
        &["2026-11-27T00:00:00+00:00", "2026-12-25T00:00:00+00:00"],
    );
    // 1#2 and fri#2: second Monday, second Friday.
    check(
        "0 0 * * 1#2",
        "UTC",
        "2026-11-01T00:00:00Z",
        &["2026-11-09T00:00:00+00:00", "2026-12-14T00:00:00+00:00"],
    );
    check(
        "0 0 * * fri#2",
        "UTC",
        "2026-11-01T00:00:00Z",
        &["2026-11-13T00:00:00+00:00"],
    );
    // Extensions in lists add: the 1st and the last day.
    check(
        "0 0 1,L * *",
        "UTC",
        "2026-11-01T00:00:00Z",
        &["2026-11-30T00:00:00+00:00", "2026-12-01T00:00:00+00:00"],
    );
    // 5#5: months with a fifth Friday only (January 2027 has one, Dec 2026 not).
    check(
        "0 0 ? * 5#5",
        "UTC",
        "2026-11-01T00:00:00Z",
        &["2027-01-29T00:00:00+00:00"],
    );
}

#[test]
fn seconds_and_years() {
    check(
        "*/20 * * * * *",
        "UTC",
        "2026-01-01T00:00:05Z",
        &["2026-01-01T00:00:20+00:00", "2026-01-01T00:00:40+00:00"],
    );
    // The year field runs out: fewer instants than asked.
    assert_eq!(
        next("0 0 0 1 1 ? 2027", "UTC", "2026-01-01T00:00:00Z", 3),
        ["2027-01-01T00:00:00+00:00"]
    );
    assert!(next("0 0 0 1 1 ? 2020", "UTC", "2026-01-01T00:00:00Z", 3).is_empty());
    // A year field of `*` still means 1970-2199; five fields have no limit.
    assert_eq!(
        next("0 0 0 1 1 ? *", "UTC", "2198-06-01T00:00:00Z", 3),
        ["2199-01-01T00:00:00+00:00"]
    );
    assert_eq!(
        next("0 0 0 1 1 ? *", "UTC", "1950-01-01T00:00:00Z", 1),
        ["1970-01-01T00:00:00+00:00"]
    );
    assert_eq!(
        next("0 0 1 1 *", "UTC", "2199-06-01T00:00:00Z", 1),
        ["2200-01-01T00:00:00+00:00"]
    );
}

#[test]
fn macros_every_and_reboot() {
    check(
        "@every 90s",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-01T00:01:30+00:00", "2026-01-01T00:03:00+00:00"],
    );
    // Counted from the epoch in UTC, whatever the zone.
    check(
        "@every 1h30m",
        "Asia/Kathmandu",
        "2026-01-01T00:00:00Z",
        &["2026-01-01T07:15:00+05:45"],
    );
    check(
        "@every 7s",
        "UTC",
        "1969-12-31T23:59:50Z",
        &["1969-12-31T23:59:53+00:00", "1970-01-01T00:00:00+00:00"],
    );
    assert!(next("@reboot", "UTC", "2026-01-01T00:00:00Z", 3).is_empty());
}

#[test]
fn strictly_after_whole_and_fractional_instants() {
    check(
        "* * * * * *",
        "UTC",
        "2026-01-01T00:00:00Z",
        &["2026-01-01T00:00:01+00:00"],
    );
    check(
        "* * * * * *",
        "UTC",
        "2026-01-01T00:00:00.5Z",
        &["2026-01-01T00:00:01+00:00"],
    );
    check(
        "* * * * * *",
        "UTC",
        "1969-12-31T23:59:59.5Z",
        &["1970-01-01T00:00:00+00:00"],
    );
}

// New York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.

#[test]
fn new_york_gap() {
    // Several fixed wall times in the gap, and a real firing at the transition: one firing.
    check(
        "0,30 2,3 * * *",
        "America/New_York",
        "2026-03-07T12:00:00-05:00",
        &[
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T03:30:00-04:00",
            "2026-03-09T02:00:00-04:00",
        ],
    );
    // Wildcard schedules skip what does not exist.
    check(
        "*/30 * * * *",
        "America/New_York",
        "2026-03-08T01:00:00-05:00",
        &[
            "2026-03-08T01:30:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T03:30:00-04:00",
        ],
    );
    check(
        "30 * * * *",
        "America/New_York",
        "2026-03-08T01:30:00-05:00",
        &["2026-03-08T03:30:00-04:00"],
    );
    // An instant just before the transition, and the transition itself.
    check(
        "30 2 * * *",
        "America/New_York",
        "2026-03-08T06:59:59Z",
        &["2026-03-08T03:00:00-04:00"],
    );
    check(
        "30 2 * * *",
        "America/New_York",
        "2026-03-08T07:00:00Z",
        &["2026-03-09T02:30:00-04:00"],
    );
}

#[test]
fn new_york_overlap() {
    // A fixed-time schedule fires once per wall time, at the first occurrence.
    check(
        "0,30 1 * * *",
        "America/New_York",
        "2026-10-31T12:00:00-04:00",
        &[
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:30:00-04:00",
            "2026-11-02T01:00:00-05:00",
        ],
    );
    // ... and not again when asked from inside the second pass.
    check(
        "30 1 * * *",
        "America/New_York",
        "2026-11-01T01:10:00-05:00",
        &["2026-11-02T01:30:00-05:00"],
    );
    // A wildcard schedule fires at every real instant that matches.
    check(
        "*/30 * * * *",
        "America/New_York",
        "2026-11-01T00:45:00-04:00",
        &[
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:30:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T01:30:00-05:00",
            "2026-11-01T02:00:00-05:00",
        ],
    );
    check(
        "30 * * * *",
        "America/New_York",
        "2026-11-01T01:10:00-05:00",
        &["2026-11-01T01:30:00-05:00"],
    );
}

// London: 2026-03-29 01:00 GMT -> 02:00 BST; 2026-10-25 02:00 BST -> 01:00 GMT.

#[test]
fn london() {
    check(
        "30 1 * * *",
        "Europe/London",
        "2026-03-28T12:00:00Z",
        &["2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"],
    );
    check(
        "30 1 * * *",
        "Europe/London",
        "2026-10-24T12:00:00Z",
        &["2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"],
    );
    check(
        "15 * * * *",
        "Europe/London",
        "2026-10-25T00:00:00+01:00",
        &[
            "2026-10-25T00:15:00+01:00",
            "2026-10-25T01:15:00+01:00",
            "2026-10-25T01:15:00+00:00",
            "2026-10-25T02:15:00+00:00",
        ],
    );
}

// Lord Howe shifts by 30 minutes: 2026-10-04 02:00 +10:30 -> 02:30 +11:00;
// 2026-04-05 02:00 +11:00 -> 01:30 +10:30.

#[test]
fn lord_howe_half_hour_shift() {
    check(
        "15 2 * * *",
        "Australia/Lord_Howe",
        "2026-10-03T12:00:00+10:30",
        &["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"],
    );
    check(
        "*/15 * * * *",
        "Australia/Lord_Howe",
        "2026-10-04T01:50:00+10:30",
        &["2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00"],
    );
    check(
        "45 1 * * *",
        "Australia/Lord_Howe",
        "2026-04-04T12:00:00+11:00",
        &["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"],
    );
    check(
        "*/15 * * * *",
        "Australia/Lord_Howe",
        "2026-04-05T01:20:00+11:00",
        &[
            "2026-04-05T01:30:00+11:00",
            "2026-04-05T01:45:00+11:00",
            "2026-04-05T01:30:00+10:30",
            "2026-04-05T01:45:00+10:30",
            "2026-04-05T02:00:00+10:30",
        ],
    );
}

#[test]
fn kathmandu_quarter_hour_offset() {
    check(
        "0 9 * * *",
        "Asia/Kathmandu",
        "2026-06-01T00:00:00Z",
        &["2026-06-01T09:00:00+05:45", "2026-06-02T09:00:00+05:45"],
    );
    // 1986-01-01 00:00 +05:30 -> 00:15 +05:45: a fifteen-minute gap.
    check(
        "10 0 * * *",
        "Asia/Kathmandu",
        "1985-12-31T12:00:00+05:30",
        &["1986-01-01T00:15:00+05:45", "1986-01-02T00:10:00+05:45"],
    );
}

#[test]
fn a_skipped_day() {
    // Samoa skipped 2011-12-30: its noon fires at the transition.
    check(
        "0 12 * * *",
        "Pacific/Apia",
        "2011-12-29T13:00:00-10:00",
        &["2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"],
    );
}

#[test]
fn rare_schedules_in_dst_zones_stay_fast() {
    // The search skips the periods that cannot match instead of walking them.
    let expr = "0 0 0 1 1 ? 2030";
    let start = std::time::Instant::now();
    assert!(next(expr, "America/New_York", "2031-01-01T00:00:00Z", 1).is_empty());
    assert_eq!(
        next(expr, "America/New_York", "2026-01-01T00:00:00Z", 1),
        ["2030-01-01T00:00:00-05:00"]
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn a_schedule_that_ran_out_names_its_last_instant() {
    let ended = |expr: &str, tz: &str, now: &str| {
        Schedule::parse(expr, Zone::get(tz).unwrap())
            .unwrap()
            .ended(now.parse().unwrap())
            .map(|t| t.to_string())
    };
    let now = "2026-03-08T12:00:00Z";
    assert_eq!(
        ended("0 0 9 1 1 ? 2020", "UTC", now).as_deref(),
        Some("2020-01-01T09:00:00Z")
    );
    assert_eq!(
        ended("* * * * * * 2019-2021", "Europe/Berlin", now).as_deref(),
        Some("2021-12-31T22:59:59Z")
    );
    // Still to come, or no timed instants at all.
    assert_eq!(ended("0 0 9 1 1 ? 2020-2030", "UTC", now), None);
    assert_eq!(ended("0 9 * * *", "UTC", now), None);
    assert_eq!(ended("@reboot", "UTC", now), None);
    // The instant itself is past: next_after is strictly after.
    assert_eq!(
        ended("0 0 12 8 3 ? 2026", "UTC", now).as_deref(),
        Some("2026-03-08T12:00:00Z")
    );
}

#[test]
fn between_is_upcoming_in_a_window() {
    let from: Timestamp = "2026-01-01T00:00:00.5Z".parse().unwrap();
    let until: Timestamp = "2027-06-01T00:00:00Z".parse().unwrap();
    for tz in [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Tokyo",
        "America/Santiago",
    ] {
        for expr in [
            "30 2 * * *",
            "*/15 * * * *",
            "0,30 1-3 * * *",
            "0 0 * * 0",
            "15 2 * * 1-5",
            "0 0 29 2 *",
            "@every 7h",
            "0 30 2 * * * 2026",
            "@reboot",
        ] {
            let schedule = Schedule::parse(expr, Zone::get(tz).unwrap()).unwrap();
            let expected: Vec<Timestamp> =
                schedule.upcoming(from).take_while(|t| *t < until).collect();
            assert_eq!(schedule.between(from, until), expected, "{expr} in {tz}");
        }
    }
}
