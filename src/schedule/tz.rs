//! Time zones, and what a wall-clock schedule means across their
//! transitions (`shared/spec/schedules.md`, "Daylight-saving transitions").
//!
//! A zone's history is a sequence of periods of constant UTC offset. Inside
//! one period wall time and instants map one to one, so the engine searches
//! wall time period by period and applies the spec's rules at the edges:
//!
//! - gap (offset grows at the period's start): a fixed-time schedule's wall
//!   times that do not exist fire once, at the transition; a wildcard
//!   schedule skips them;
//! - overlap (offset shrinks at the period's start): wall times that already
//!   occurred in the previous period fire again only for wildcard schedules.
//!
//! Zone data comes from the system's tzdata, read by jiff, which falls back
//! to a bundled copy where the system has none (minimal containers).

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A time zone and the name it was asked for by.
///
/// Every task holds one (the daemon keeps a thousand), so the name costs
/// nothing when it is the zone's own IANA name, which the `TimeZone` (a
/// shared pointer into the zone cache below) already holds: only a name
/// jiff does not know is kept here.
#[derive(Clone, Debug)]
pub struct Zone {
    tz: TimeZone,
    name: Option<Box<str>>,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown time zone `{name}` (expected an IANA name such as Europe/Berlin or UTC)")]
pub struct UnknownZone {
    pub name: String,
}

/// `name`'s zone read straight from its file in the system's zoneinfo
/// directory (`TZDIR`, else `/usr/share/zoneinfo`). jiff's database would
/// first list that whole directory to index the names, 0.8 ms at each start
/// of a supervisor or a verb; it remains the fallback for what this does
/// not find (a name in another case, the bundled copy where the system has
/// no tzdata).
fn read_zone(name: &str) -> Option<TimeZone> {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    // A task file names a few zones many times over.
    static READ: LazyLock<Mutex<HashMap<String, Option<TimeZone>>>> = LazyLock::new(Mutex::default);

    if name.eq_ignore_ascii_case("utc") {
        return Some(TimeZone::UTC);
    }
    let mut read = READ.lock().unwrap_or_else(|e| e.into_inner());
    read.entry(name.to_string())
        .or_insert_with(|| read_zone_file(name))
        .clone()
}

fn read_zone_file(name: &str) -> Option<TimeZone> {
    let plain = name.split('/').all(|part| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
    });
    if !plain {
        return None;
    }
    let dir = std::env::var_os("TZDIR").unwrap_or_else(|| "/usr/share/zoneinfo".into());
    let bytes = std::fs::read(std::path::Path::new(&dir).join(name)).ok()?;
    TimeZone::tzif(name, &bytes).ok()
}

/// The system zone by its name, as jiff finds it (`TZ=NAME` or
/// `TZ=:NAME`, else the target of the `/etc/localtime` link), read with
/// [`read_zone`]; `None` leaves the other cases to jiff (a POSIX `TZ`
/// rule, a copied `/etc/localtime`).
fn system_zone_file() -> Option<TimeZone> {
    let name = match std::env::var("TZ") {
        Ok(tz) => tz.strip_prefix(':').unwrap_or(&tz).to_string(),
        Err(std::env::VarError::NotPresent) => {
            let target = std::fs::read_link("/etc/localtime").ok()?;
            target.to_str()?.rsplit_once("zoneinfo/")?.1.to_string()
        }
        Err(_) => return None,
    };
    read_zone(&name)
}

/// A span of time with one UTC offset: instants `start..end` (in seconds),
/// `None` meaning unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub offset: i64,
    /// The offset in force just before `start`.
    pub before: i64,
}

impl Zone {
    pub fn utc() -> Zone {
        Zone::new(TimeZone::UTC, "UTC")
    }

    fn new(tz: TimeZone, name: &str) -> Zone {
        let name = (tz.iana_name() != Some(name)).then(|| name.into());
        Zone { tz, name }
    }

    /// The zone of an IANA name such as `America/New_York`, in any case;
    /// [`Zone::name`] is then the name's IANA spelling (`europe/berlin` is
    /// `Europe/Berlin`, `utc` is `UTC`), which `TZ=`, systemd and
    /// Kubernetes need.
    pub fn get(name: &str) -> Result<Zone, UnknownZone> {
        match read_zone(name).map_or_else(|| TimeZone::get(name), Ok) {
            Ok(tz) => {
                let name = tz.iana_name().unwrap_or(name).to_string();
                Ok(Zone::new(tz, &name))
            }
            Err(_) => Err(UnknownZone { name: name.into() }),
        }
    }

    /// The system's zone (`TZ`, then `/etc/localtime`), else UTC.
    pub fn system() -> Zone {
        let tz = system_zone_file()
            .or_else(|| TimeZone::try_system().ok())
            .unwrap_or(TimeZone::UTC);
        let name = tz.iana_name().unwrap_or("local").to_string();
        Zone::new(tz, &name)
    }

    pub fn name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.tz.iana_name())
            .unwrap_or("local")
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The UTC offset at an instant, in seconds.
    pub fn offset(&self, t: i64) -> i64 {
        i64::from(self.tz.to_offset(timestamp(t)).seconds())
    }

    /// The period of constant offset that contains instant `t`.
    pub fn period(&self, t: i64) -> Period {
        if let Ok(offset) = self.tz.to_fixed_offset() {
            let offset = i64::from(offset.seconds());
            return Period {
                start: None,
                end: None,
                offset,
                before: offset,
            };
        }
        let ts = timestamp(t);
        let offset = i64::from(self.tz.to_offset(ts).seconds());
        // `preceding` yields transitions strictly before its argument.
        let start = ts
            .checked_add(jiff::SignedDuration::from_secs(1))
            .ok()
            .and_then(|next| self.tz.preceding(next).next())
            .map(|tr| tr.timestamp().as_second());
        let end = self
            .tz
            .following(ts)
            .next()
            .map(|tr| tr.timestamp().as_second());
        let before = start.map_or(offset, |s| self.offset(s - 1));
        Period {
            start,
            end,
            offset,
            before,
        }
    }
}

/// A whole-second instant, clamped to the range jiff represents.
pub fn timestamp(t: i64) -> Timestamp {
    let t = t.clamp(Timestamp::MIN.as_second() + 1, Timestamp::MAX.as_second());
    Timestamp::from_second(t).expect("clamped to the supported range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn new_york_spring_forward_period() {
        let ny = Zone::get("America/New_York").unwrap();
        let p = ny.period(instant("2026-03-08T07:00:00Z"));
        assert_eq!(p.start, Some(instant("2026-03-08T07:00:00Z")));
        assert_eq!(p.end, Some(instant("2026-11-01T06:00:00Z")));
        assert_eq!((p.before, p.offset), (-5 * 3600, -4 * 3600));
        let p = ny.period(instant("2026-03-08T06:59:59Z"));
        assert_eq!(p.end, Some(instant("2026-03-08T07:00:00Z")));
        assert_eq!(p.offset, -5 * 3600);
    }

    #[test]
    fn fixed_zones_have_one_period() {
        let p = Zone::utc().period(0);
        assert_eq!((p.start, p.end, p.offset), (None, None, 0));
        let kathmandu = Zone::get("Asia/Kathmandu").unwrap();
        assert_eq!(
            kathmandu.offset(instant("2026-06-01T00:00:00Z")),
            5 * 3600 + 45 * 60
        );
    }

    #[test]
    fn a_zone_read_from_its_file_is_jiffs_zone() {
        for name in ["America/New_York", "Australia/Lord_Howe", "Europe/London"] {
            let ours = read_zone(name).expect("the system has tzdata");
            let jiffs = TimeZone::get(name).unwrap();
            assert_eq!(ours.iana_name(), Some(name));
            for year in [1970, 2007, 2026, 2040] {
                for month in 1..=12 {
                    let t: Timestamp = format!("{year}-{month:02}-15T12:00:00Z").parse().unwrap();
                    assert_eq!(ours.to_offset(t), jiffs.to_offset(t), "{name} at {t}");
                }
            }
        }
        assert!(read_zone("utc").is_some_and(|tz| tz == TimeZone::UTC));
    }

    #[test]
    fn names_that_are_not_plain_paths_are_left_to_jiff() {
        for name in [
            "../../etc/passwd",
            "/etc/localtime",
            "Europe//London",
            "",
            "EST5EDT,M3.2.0,M11.1.0",
        ] {
            assert!(read_zone(name).is_none(), "{name}");
        }
        assert!(Zone::get("../../etc/passwd").is_err());
        // Another case is not a file name, but jiff's database knows it,
        // and its IANA spelling.
        let ny = Zone::get("america/new_york").unwrap();
        assert_eq!(ny.offset(instant("2026-07-01T00:00:00Z")), -4 * 3600);
        assert_eq!(ny.name(), "America/New_York");
        assert_eq!(Zone::get("utc").unwrap().name(), "UTC");
        assert_eq!(Zone::get("Etc/UTC").unwrap().name(), "Etc/UTC");
    }

    #[test]
    fn unknown_zone_is_an_error() {
        let e = Zone::get("Mars/Olympus_Mons").unwrap_err();
        assert!(e.to_string().contains("Mars/Olympus_Mons"));
    }
}
