//! The schedule engine: what a schedule means and when it next fires.
//!
//! `shared/spec/schedules.md` is the contract. A schedule is parsed once into
//! bit sets per field (`fields`), searched in wall-clock time by skipping
//! whole years, months, days, hours and minutes that cannot match (`next`),
//! and mapped to instants through the zone's periods of constant offset with
//! cron(8)'s daylight-saving rules (`tz`). This module depends on nothing
//! else in kron. Why the engine is written here rather than taken from the
//! `cron` or `croner` crates: `docs/schedule-engine.md`.

mod calendar;
mod describe;
mod dst;
mod fields;
mod next;
mod parse;
mod tz;

use jiff::Timestamp;

pub use dst::{Change, Fate, Rule, Transition};
pub use fields::{YEAR_MAX, YEAR_MIN};
pub use parse::{Expr, Field, ParseError};
pub use tz::{UnknownZone, Zone};

use fields::Cron;

/// Every zone's wall clock is within this many seconds of UTC.
const MAX_OFFSET: i64 = 26 * 3600;

/// A parsed expression in a time zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    expr: Expr,
    zone: Zone,
}

/// Equal schedules fire at the same instants: the same parsed expression
/// in the zone of the same name (`*/30` and `0,30` are equal).
impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.expr == other.expr && self.zone.name() == other.zone.name()
    }
}

impl Schedule {
    pub fn parse(text: &str, zone: Zone) -> Result<Schedule, ParseError> {
        Ok(Schedule {
            expr: parse::parse(text)?,
            zone,
        })
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The first instant strictly after `after`. `None` when the schedule
    /// has no more instants (its year field ran out, or `@reboot`).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let mut whole = after.as_second();
        if after.subsec_nanosecond() < 0 {
            whole -= 1;
        }
        let next = self.first_from(whole.checked_add(1)?)?;
        Timestamp::from_second(next).ok()
    }

    /// The last instant of a schedule that has none after `now` (its year
    /// field ran out); `None` when one is still to come, or for `@reboot`.
    /// A binary search on [`Schedule::next_after`] from 1969 (the year
    /// field starts in 1970): about 40 steps.
    pub fn ended(&self, now: Timestamp) -> Option<Timestamp> {
        if matches!(self.expr, Expr::Reboot) || self.next_after(now).is_some() {
            return None;
        }
        let mut before = Timestamp::from_second(-86_400 * 365).ok()?;
        self.next_after(before)?;
        // next_after(before) is Some, next_after(after) is None.
        let mut after = Timestamp::from_second(now.as_second()).ok()?;
        while after.as_second() - before.as_second() > 1 {
            let mid = Timestamp::from_second(
                before.as_second() + (after.as_second() - before.as_second()) / 2,
            )
            .ok()?;
            if self.next_after(mid).is_some() {
                before = mid;
            } else {
                after = mid;
            }
        }
        self.next_after(before)
    }

    /// The instants strictly after `after`, in order.
    pub fn upcoming(&self, after: Timestamp) -> impl Iterator<Item = Timestamp> + '_ {
        std::iter::successors(self.next_after(after), |&t| self.next_after(t))
    }

    /// The instants in `from..until`, in order: what [`Schedule::upcoming`]
    /// yields from just before `from`, found with one zone lookup per
    /// period of constant offset rather than one per instant (`kron plan`
    /// lists a week of every task).
    pub fn between(&self, from: Timestamp, until: Timestamp) -> Vec<Timestamp> {
        let mut start = from.as_second();
        if from.subsec_nanosecond() > 0 {
            start += 1;
        }
        let end = until.as_second() + i64::from(until.subsec_nanosecond() > 0);
        let Expr::Cron(cron) = &self.expr else {
            let Ok(before) = Timestamp::from_second(start - 1) else {
                return Vec::new();
            };
            return self.upcoming(before).take_while(|t| *t < until).collect();
        };
        let mut out = Vec::new();
        let mut t = start;
        let mut p = self.zone.period(t);
        while t < end {
            if p.end.is_some_and(|e| t >= e) {
                p = self.zone.period(t);
            }
            if let Some(found) = first_in_period(cron, &p, t) {
                if found >= end {
                    break;
                }
                match Timestamp::from_second(found) {
                    Ok(ts) => out.push(ts),
                    Err(_) => break,
                }
                t = found + 1;
                continue;
            }
            // As in `first_cron_from`: on to the next period that can match.
            let Some(next) = p.end else { break };
            let Some(wall) = cron.next_civil(next.saturating_sub(MAX_OFFSET), i64::MAX) else {
                break;
            };
            t = next.max(wall.saturating_sub(MAX_OFFSET));
            p = self.zone.period(t);
        }
        out
    }

    /// The first firing instant at or after `from` (Unix seconds).
    fn first_from(&self, from: i64) -> Option<i64> {
        match &self.expr {
            Expr::Reboot => None,
            Expr::Every(period) => {
                let period = *period as i64;
                from.div_euclid(period)
                    .checked_add(i64::from(from.rem_euclid(period) != 0))?
                    .checked_mul(period)
            }
            Expr::Cron(cron) => self.first_cron_from(cron, from),
        }
    }

    fn first_cron_from(&self, cron: &Cron, mut from: i64) -> Option<i64> {
        loop {
            let p = self.zone.period(from);
            if let Some(found) = first_in_period(cron, &p, from) {
                return Some(found);
            }
            from = p.end?;
            // Skip the periods in which nothing can match: the next matching
            // wall time is never more than MAX_OFFSET from its instant.
            let wall = cron.next_civil(from.saturating_sub(MAX_OFFSET), i64::MAX)?;
            from = from.max(wall.saturating_sub(MAX_OFFSET));
        }
    }
}

/// The first firing at or after `from` that falls in period `p` (which
/// contains `from`), by the daylight-saving rules of the `tz` module.
fn first_in_period(cron: &Cron, p: &tz::Period, from: i64) -> Option<i64> {
    let fixed_time = !cron.wildcard;
    if fixed_time && p.start == Some(from) && p.offset > p.before {
        // Wall times in the gap fire once, at the transition.
        if cron.next_civil(from + p.before, from + p.offset).is_some() {
            return Some(from);
        }
    }
    let mut low = from + p.offset;
    if let Some(start) = p.start
        && fixed_time
        && p.offset < p.before
    {
        // These wall times first occurred before the transition and fired then.
        low = low.max(start + p.before);
    }
    let high = p.end.map_or(i64::MAX, |end| end + p.offset);
    cron.next_civil(low, high).map(|wall| wall - p.offset)
}

#[cfg(test)]
mod tests;
