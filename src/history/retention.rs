//! How much history a task keeps in its live file (`history = { keep,
//! max_age, archive_max_age }`), and when a writer trims: pure functions
//! over index entries, without I/O.
//!
//! A trim is a rewrite of the file, so it is amortised: due only once the
//! file holds a tenth more than `keep` records (at least one more), or
//! once its oldest record is a tenth of `max_age` past it. A trim then
//! cuts down to exactly `keep` records, none older than `max_age`.

use std::time::Duration;

use serde::Serialize;

use super::index::Entry;

/// Records kept per task when the task file says nothing.
pub const DEFAULT_KEEP: u32 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Retention {
    /// Records kept in the live file, at least 1.
    pub keep: u32,
    /// Records older than this leave the live file; `None`: by count only.
    #[serde(serialize_with = "ser_opt_duration")]
    pub max_age: Option<Duration>,
    /// Monthly archives whose month ended longer ago than this are
    /// removed; `None`: archives are kept.
    #[serde(serialize_with = "ser_opt_duration")]
    pub archive_max_age: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            keep: DEFAULT_KEEP,
            max_age: None,
            archive_max_age: None,
        }
    }
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&crate::units::format_duration(*d)),
        None => s.serialize_none(),
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Retention {
    /// Records allowed beyond `keep` before a trim.
    pub fn slack(&self) -> u64 {
        u64::from(self.keep / 10).max(1)
    }

    /// Whether a file of `count` records whose first started at `oldest`
    /// (nanoseconds, as `now`) is due for a trim.
    pub fn due(&self, count: u64, oldest: i64, now: i64) -> bool {
        if count > u64::from(self.keep) + self.slack() {
            return true;
        }
        self.max_age.is_some_and(|age| {
            let slack = (age / 10).max(Duration::from_secs(1));
            oldest < now.saturating_sub(nanos(age)).saturating_sub(nanos(slack))
        })
    }

    /// How many leading entries leave the live file: beyond `keep`, and
    /// then those that started before `max_age` ago (up to the first that
    /// did not: records are in the order they finished, so a late one
    /// waits for the next trim rather than leaving a gap).
    pub fn cut(&self, entries: &[Entry], now: i64) -> usize {
        let by_count = entries.len().saturating_sub(self.keep.max(1) as usize);
        let Some(age) = self.max_age else {
            return by_count;
        };
        let before = now.saturating_sub(nanos(age));
        let by_age = entries.iter().take_while(|e| e.started < before).count();
        by_count.max(by_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    fn entry(started: i64) -> Entry {
        Entry {
            start: 0,
            len: 1,
            outcome: Outcome::Success,
            attempts: 1,
            started,
            max_started: started,
            duration_ms: 1,
        }
    }

    const S: i64 = 1_000_000_000;

    #[test]
    fn a_trim_is_due_past_the_slack_and_cuts_to_keep() {
        let r = Retention {
            keep: 100,
            ..Retention::default()
        };
        assert_eq!(r.slack(), 10);
        assert!(!r.due(110, 0, 0));
        assert!(r.due(111, 0, 0));
        let entries: Vec<Entry> = (0..111).map(|i| entry(i * S)).collect();
        assert_eq!(r.cut(&entries, 0), 11);
        let one = Retention {
            keep: 1,
            ..Retention::default()
        };
        assert_eq!(
            (one.slack(), one.due(2, 0, 0), one.due(3, 0, 0)),
            (1, false, true)
        );
    }

    #[test]
    fn by_age_records_older_than_max_age_leave_up_to_the_first_young_one() {
        let r = Retention {
            keep: 1000,
            max_age: Some(Duration::from_secs(100)),
            archive_max_age: None,
        };
        let now = 1000 * S;
        // Oldest 105 s ago: within the slack of 10 s.
        assert!(!r.due(5, now - 105 * S, now));
        assert!(r.due(5, now - 111 * S, now));
        let entries: Vec<Entry> = [800, 850, 950, 880, 990]
            .iter()
            .map(|&s| entry(s * S))
            .collect();
        // 800 and 850 are older than 900; 880 waits behind 950.
        assert_eq!(r.cut(&entries, now), 2);
    }
}
