//! Throughput of next-instant computations: kron's schedule engine against
//! croner 4.0.3, per expression and zone (`docs/performance.md`).
//!
//! Every iteration computes the next instant strictly after the previous
//! result, so a measurement walks a schedule's instants in order, the way
//! `kron next` and the daemon do. When there is no next instant the chain
//! restarts at `START`.
//!
//! croner is driven through its public `CronDateTime` trait with jiff types
//! (the same zone data kron reads), because kron's dev-dependencies have
//! neither chrono nor chrono-tz. The glue is a copy of croner's own `jiff`
//! backend (`croner/src/time/jiff_impl.rs`, not enabled in kron's build),
//! plus a UTC type that, like `chrono::DateTime<Utc>`, does no zone lookup.
//! The parser settings are those of the croner evaluation
//! (`eval-croner/REPORT.md`): seconds and year optional, sloppy ranges,
//! and the crontab rule that ORs a restricted day of month and day of week.
//!
//! croner gives up searching at year 5000 and kron at 9998. So that both
//! engines compute the same sequence of instants, both chains also restart
//! at `HORIZON` (only `0 0 29 2 *` gets that far: about 700 instants per
//! lap). Before measuring, the chains are compared instant by instant.

use std::cmp::Ordering;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use croner::parser::{CronParser, Seconds, Year};
use croner::{CivilDate, CivilDateTime, CivilTime, Cron, CronDateTime, Resolution, Weekday};
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, Zoned};
use kron::schedule::{Schedule, Zone};

const EXPRESSIONS: [&str; 6] = [
    "* * * * *",
    "*/7 3-20 * * 1-5",
    "0 0 29 2 *",
    "0 0 13 * 5",
    "0 0 15W * *",
    "0 0 * * 5L",
];

const ZONES: [&str; 2] = ["UTC", "America/New_York"];

/// 2026-01-01T00:00:00Z.
const START: Timestamp = Timestamp::constant(1_767_225_600, 0);

/// 4900-01-01T00:00:00Z: both chains restart at `START` rather than go past
/// it.
const HORIZON: Timestamp = Timestamp::constant(92_461_910_400, 0);

/// `HORIZON` as a UTC wall time.
const HORIZON_UTC: DateTime = jiff::civil::date(4900, 1, 1).at(0, 0, 0, 0);

/// Before measuring, the engines' chains are compared over a whole lap (up
/// to `HORIZON` and back to `START`), or over this many instants when a lap
/// is longer: for `* * * * *` that is 2026 to late 2028, three years of
/// daylight-saving transitions.
const CHECK_INSTANTS: usize = 1_500_000;

fn croner_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Optional)
        .sloppy_ranges(true)
        .dom_and_dow(false)
        .build()
}

fn kron_zone(name: &str) -> Zone {
    if name == "UTC" {
        Zone::utc()
    } else {
        Zone::get(name).expect("known zone")
    }
}

/// The next instant in kron's chain: after `prev`, or `START` again.
#[inline]
fn kron_step(schedule: &Schedule, prev: Timestamp) -> Timestamp {
    match schedule.next_after(prev) {
        Some(next) if next < HORIZON => next,
        _ => START,
    }
}

/// The next instant in croner's chain: after `prev`, or `start` again.
#[inline]
fn croner_step<T: Instant>(cron: &Cron, prev: &T, start: &T) -> T {
    match cron.find_next_occurrence(prev, false) {
        Ok(next) if next.before_horizon() => next,
        _ => start.clone(),
    }
}

/// A croner date-time type that the benchmark can build from and read back
/// as an instant.
trait Instant: CronDateTime {
    fn from_timestamp(t: Timestamp, zone: &str) -> Self;
    fn timestamp(&self) -> Timestamp;
    fn before_horizon(&self) -> bool;
}

/// UTC without zone lookups, as `chrono::DateTime<Utc>` is: every wall time
/// exists exactly once.
#[derive(Clone, Copy)]
struct Utc(DateTime);

/// Any zone, as croner's own `jiff::Zoned` backend does it.
#[derive(Clone)]
struct InZone(Zoned);

fn to_civil(dt: DateTime) -> CivilDateTime {
    CivilDateTime::new(
        CivilDate::from_parts_unchecked(i32::from(dt.year()), dt.month() as u32, dt.day() as u32),
        CivilTime::from_parts_unchecked(dt.hour() as u32, dt.minute() as u32, dt.second() as u32),
    )
}

fn to_jiff(civil: CivilDateTime) -> Result<DateTime, croner::errors::CronError> {
    let year = i16::try_from(civil.year()).map_err(|_| croner::errors::CronError::InvalidDate)?;
    DateTime::new(
        year,
        civil.month() as i8,
        civil.day() as i8,
        civil.hour() as i8,
        civil.minute() as i8,
        civil.second() as i8,
        0,
    )
    .map_err(|_| croner::errors::CronError::InvalidDate)
}

fn to_weekday(weekday: jiff::civil::Weekday) -> Weekday {
    Weekday::from_days_from_sunday(weekday.to_sunday_zero_offset() as u32)
}

impl CronDateTime for Utc {
    #[inline]
    fn to_civil(&self) -> CivilDateTime {
        to_civil(self.0)
    }

    #[inline]
    fn civil_weekday(&self) -> Weekday {
        to_weekday(self.0.weekday())
    }

    #[inline]
    fn resolve_civil(
        &self,
        civil: CivilDateTime,
    ) -> Result<Resolution<Self>, croner::errors::CronError> {
        Ok(Resolution::Single(Utc(to_jiff(civil)?)))
    }

    #[inline]
    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0
            .checked_add(SignedDuration::from_secs(seconds))
            .ok()
            .map(Utc)
    }

    #[inline]
    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl Instant for Utc {
    fn from_timestamp(t: Timestamp, _zone: &str) -> Self {
        Utc(t.to_zoned(TimeZone::UTC).datetime())
    }

    fn timestamp(&self) -> Timestamp {
        self.0
            .to_zoned(TimeZone::UTC)
            .expect("in range")
            .timestamp()
    }

    #[inline]
    fn before_horizon(&self) -> bool {
        self.0 < HORIZON_UTC
    }
}

impl CronDateTime for InZone {
    #[inline]
    fn to_civil(&self) -> CivilDateTime {
        to_civil(self.0.datetime())
    }

    #[inline]
    fn civil_weekday(&self) -> Weekday {
        to_weekday(self.0.weekday())
    }

    #[inline]
    fn resolve_civil(
        &self,
        civil: CivilDateTime,
    ) -> Result<Resolution<Self>, croner::errors::CronError> {
        use croner::errors::CronError::InvalidTime;
        let ambiguous = self.0.time_zone().to_ambiguous_zoned(to_jiff(civil)?);
        Ok(match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { .. } => {
                Resolution::Single(InZone(ambiguous.unambiguous().map_err(|_| InvalidTime)?))
            }
            AmbiguousOffset::Fold { .. } => {
                let earlier = ambiguous.clone().earlier().map_err(|_| InvalidTime)?;
                let later = ambiguous.later().map_err(|_| InvalidTime)?;
                Resolution::Ambiguous(InZone(earlier), InZone(later))
            }
            AmbiguousOffset::Gap { .. } => Resolution::Gap,
        })
    }

    #[inline]
    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0
            .checked_add(SignedDuration::from_secs(seconds))
            .ok()
            .map(InZone)
    }

    #[inline]
    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.timestamp().cmp(&other.0.timestamp())
    }
}

impl Instant for InZone {
    fn from_timestamp(t: Timestamp, zone: &str) -> Self {
        InZone(t.to_zoned(TimeZone::get(zone).expect("known zone")))
    }

    fn timestamp(&self) -> Timestamp {
        self.0.timestamp()
    }

    #[inline]
    fn before_horizon(&self) -> bool {
        self.0.timestamp() < HORIZON
    }
}

/// Warns when the two engines do not produce the same chain of instants, so
/// that a speed difference is never a difference in the work done.
fn check_agreement<T: Instant>(expr: &str, zone: &str, schedule: &Schedule, cron: &Cron) {
    let start = T::from_timestamp(START, zone);
    let (mut k, mut c) = (START, start.clone());
    for i in 0..CHECK_INSTANTS {
        k = kron_step(schedule, k);
        c = croner_step(cron, &c, &start);
        if k != c.timestamp() {
            eprintln!(
                "warning: `{expr}` in {zone}: instant {i} differs: kron {k}, croner {}",
                c.timestamp()
            );
            return;
        }
        if k == START {
            return; // a whole lap agreed
        }
    }
}

fn bench_croner<T: Instant>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    zone: &str,
    cron: &Cron,
) {
    let start = T::from_timestamp(START, zone);
    group.bench_function(BenchmarkId::new("croner", zone), |b| {
        let mut cur = start.clone();
        b.iter(|| {
            cur = croner_step(cron, black_box(&cur), &start);
        });
    });
}

fn next(c: &mut Criterion) {
    let utc = |s: &str| s.parse::<Timestamp>().expect("a timestamp");
    assert_eq!(START, utc("2026-01-01T00:00:00Z"));
    assert_eq!(HORIZON, utc("4900-01-01T00:00:00Z"));
    assert_eq!(Utc(HORIZON_UTC).timestamp(), HORIZON);
    let parser = croner_parser();
    for expr in EXPRESSIONS {
        let cron = parser.parse(expr).expect("croner parses");
        let mut group = c.benchmark_group(format!("next `{expr}`"));
        group.throughput(Throughput::Elements(1));
        for zone in ZONES {
            let schedule = Schedule::parse(expr, kron_zone(zone)).expect("kron parses");
            if zone == "UTC" {
                check_agreement::<Utc>(expr, zone, &schedule, &cron);
            } else {
                check_agreement::<InZone>(expr, zone, &schedule, &cron);
            }

            group.bench_function(BenchmarkId::new("kron", zone), |b| {
                let mut cur = START;
                b.iter(|| {
                    cur = kron_step(&schedule, black_box(cur));
                });
            });
            if zone == "UTC" {
                bench_croner::<Utc>(&mut group, zone, &cron);
            } else {
                bench_croner::<InZone>(&mut group, zone, &cron);
            }
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = next
}
criterion_main!(benches);
