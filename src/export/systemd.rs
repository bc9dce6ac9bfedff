//! `kron export --format systemd`: a `kron-NAME.service` and
//! `kron-NAME.timer` pair of systemd user units per task.
//!
//! The schedule becomes `OnCalendar=` values (systemd.time(7)) that fire at
//! exactly kron's instants, or the task is refused with the reason:
//!
//! - fields become systemd's lists (`,`), ranges (`..`) and repetitions
//!   (`/`); weekdays a `Mon..Fri` prefix; `L-k` counts back from the end of
//!   the month (`~(k+1)`: `*-*~01` is the last day), `w#k` is weekday `w`
//!   on days `7k-6..7k`, `wL` weekday `w` in the last seven days
//!   (`~01..07`);
//! - crontab(5)'s rule that a day matches when either day field does (both
//!   restricted) becomes two `OnCalendar=` lines: a timer fires at the union
//!   of its values;
//! - `@every` counts from the Unix epoch, which `OnCalendar=` can say (in
//!   UTC) only for a period that divides a day; `@reboot` is `OnBootSec=0`.
//!
//! Refused: `nW`, `LW`, `L-28` and beyond (`~` counts at most 28 days),
//! days counted from both ends of the month that must both match, and
//! `@every` periods that do not divide a day. Settings map to `Restart=`,
//! `TimeoutStartSec=`, `flock(1)` on kron's own lock files, and so on;
//! where systemd behaves differently (daylight-saving nights, overlap,
//! catch-up) the unit says so in a `# kron:` comment.

use std::fmt::Write as _;
use std::time::Duration;

use super::{
    ALL_DAYS, ALL_WEEKDAYS, Export, File, Items, Parts, Refused, argv, changes_offset, items,
    min_gap, one_line, portable_env_name, values,
};
use crate::schedule::{Expr, YEAR_MAX, YEAR_MIN};
use crate::taskfile::{CatchUp, Overlap, Source, Task, TaskFile};
use crate::units::format_duration;

/// When a timer elapses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// `OnCalendar=` values; the timer elapses at the union of their instants.
    Calendar(Vec<String>),
    /// `@reboot`: `OnBootSec=0`.
    Boot,
}

/// The exit status `flock -n` gives when the lock is busy: a run skipped
/// because another holds the lock counts as a success, as kron does not
/// count a skipped run as a failure (and does not retry it).
pub const LOCK_BUSY: u8 = 75;

/// What a timer needs to fire at a schedule's instants. `zone`: the zone
/// written after each calendar event; `None` is the machine's local zone.
/// The error says why systemd cannot express the schedule.
pub fn trigger(expr: &Expr, zone: Option<&str>) -> Result<Trigger, String> {
    match expr {
        Expr::Reboot => Ok(Trigger::Boot),
        Expr::Every(period) => every(*period).map(Trigger::Calendar),
        Expr::Cron(_) => {
            let parts = Parts::of(expr).expect("a cron expression");
            calendar(&parts, zone).map(Trigger::Calendar)
        }
    }
}

/// The days of one calendar event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Days {
    Any,
    /// Days of the month, bits 1..=31.
    Forward(u32),
    /// Days from the end, bit k for `~k` (1 is the last day), k in 1..=28.
    Backward(u32),
}

/// One calendar event's weekdays (bits 0..=6, 0 = Sunday) and days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Term {
    weekdays: u8,
    days: Days,
}

/// Days 7k-6..=7k of the month for each bit k of `nth` (`w#k`).
fn nth_days(nth: u8) -> u32 {
    (1..=5)
        .filter(|k| nth & (1 << k) != 0)
        .fold(0, |acc, k| acc | (0x7f << (7 * (k - 1) + 1)))
        & ALL_DAYS
}

/// The last seven days of any month, as `~` bits 1..=7.
const LAST_WEEK: u32 = 0x7f << 1;

fn intersect(a: Days, b: Days) -> Result<Option<Days>, String> {
    let days = match (a, b) {
        (Days::Any, d) | (d, Days::Any) => d,
        (Days::Forward(x), Days::Forward(y)) => Days::Forward(x & y),
        (Days::Backward(x), Days::Backward(y)) => Days::Backward(x & y),
        _ => {
            return Err(
                "needs days counted from the start of the month and days counted \
                        from its end to match together, and an OnCalendar= value counts \
                        from one end only"
                    .into(),
            );
        }
    };
    Ok(match days {
        Days::Forward(0) | Days::Backward(0) => None,
        d => Some(d),
    })
}

/// The calendar events, each a set of weekdays and days, whose union is
/// the days the expression selects.
fn day_terms(p: &Parts) -> Result<Vec<Term>, String> {
    if p.dom_nearest_weekday != 0 {
        let n = p.dom_nearest_weekday.trailing_zeros();
        return Err(format!(
            "uses `{n}W` (the weekday nearest a day of the month), which OnCalendar= cannot express"
        ));
    }
    if p.dom_last_weekday {
        return Err(
            "uses `LW` (the last weekday of the month), which OnCalendar= cannot express".into(),
        );
    }
    if let Some(k) = (28..=30).find(|k| p.dom_last & (1 << k) != 0) {
        return Err(format!(
            "uses `L-{k}`, and OnCalendar= counts at most 28 days from the end of a month \
             (`~28` is `L-27`)"
        ));
    }
    let dom_always = p.dom & ALL_DAYS == ALL_DAYS;
    let dow_always = p.dow & ALL_WEEKDAYS == ALL_WEEKDAYS;
    let mut dom = Vec::new();
    if p.dom & ALL_DAYS != 0 {
        dom.push(Days::Forward(p.dom & ALL_DAYS));
    }
    if p.dom_last != 0 {
        dom.push(Days::Backward(p.dom_last << 1));
    }
    let mut dow = Vec::new();
    if p.dow != 0 {
        dow.push(Term {
            weekdays: p.dow,
            days: Days::Any,
        });
    }
    for (w, &nth) in p.dow_nth.iter().enumerate() {
        if nth != 0 {
            dow.push(Term {
                weekdays: 1 << w,
                days: Days::Forward(nth_days(nth)),
            });
        }
    }
    if p.dow_last != 0 {
        dow.push(Term {
            weekdays: p.dow_last,
            days: Days::Backward(LAST_WEEK),
        });
    }
    let every_day = Term {
        weekdays: ALL_WEEKDAYS,
        days: Days::Any,
    };
    let dom_terms = |dom: Vec<Days>| {
        dom.into_iter()
            .map(|days| Term {
                weekdays: ALL_WEEKDAYS,
                days,
            })
            .collect::<Vec<_>>()
    };
    let terms = if p.both_must_match {
        match (dom_always, dow_always) {
            (true, true) => vec![every_day],
            (true, false) => dow,
            (false, true) => dom_terms(dom),
            (false, false) => {
                let mut terms = Vec::new();
                for d in &dom {
                    for w in &dow {
                        if let Some(days) = intersect(*d, w.days)? {
                            terms.push(Term {
                                weekdays: w.weekdays,
                                days,
                            });
                        }
                    }
                }
                terms
            }
        }
    } else if dom_always || dow_always {
        vec![every_day]
    } else {
        let mut terms = dom_terms(dom);
        terms.extend(dow);
        terms
    };
    Ok(merge(terms))
}

/// Fewer events for the same days: one per set of days (weekdays joined),
/// then one per set of weekdays (days of the month joined).
fn merge(terms: Vec<Term>) -> Vec<Term> {
    let mut by_days: Vec<Term> = Vec::new();
    for t in terms {
        match by_days.iter_mut().find(|m| m.days == t.days) {
            Some(m) => m.weekdays |= t.weekdays,
            None => by_days.push(t),
        }
    }
    let mut out: Vec<Term> = Vec::new();
    for t in by_days {
        let same = out.iter_mut().find(|m| {
            m.weekdays == t.weekdays
                && matches!((m.days, t.days), (Days::Forward(_), Days::Forward(_)))
        });
        match (same, t.days) {
            (Some(m), Days::Forward(new)) => {
                if let Days::Forward(days) = &mut m.days {
                    *days |= new;
                }
            }
            _ => out.push(t),
        }
    }
    out
}

/// A field in systemd's syntax: `*`, `a/n`, or a list of `a..b` and `a`,
/// two digits each.
fn field(set: u64, min: u32, max: u32) -> String {
    render(&items(&values(set, min, max), min, max, true), 2)
}

fn render(items: &Items, width: usize) -> String {
    match items {
        Items::All => "*".into(),
        Items::Step { start, step } => format!("{start:0width$}/{step}"),
        Items::List(list) => list
            .iter()
            .map(|&(low, high)| {
                if low == high {
                    format!("{low:0width$}")
                } else {
                    format!("{low:0width$}..{high:0width$}")
                }
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// `Mon..Fri `, `Sat,Sun `, or nothing for every weekday.
fn weekday_prefix(weekdays: u8) -> String {
    const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    // systemd's week starts on Monday: index 0 is Monday, 6 Sunday.
    let monday_first: Vec<u32> = (0..7u32)
        .filter(|&i| weekdays & (1 << ((i + 1) % 7)) != 0)
        .collect();
    match items(&monday_first, 0, 6, false) {
        Items::All => String::new(),
        Items::List(list) => {
            let parts: Vec<String> = list
                .iter()
                .map(|&(low, high)| {
                    if low == high {
                        NAMES[low as usize].to_string()
                    } else {
                        format!("{}..{}", NAMES[low as usize], NAMES[high as usize])
                    }
                })
                .collect();
            format!("{} ", parts.join(","))
        }
        Items::Step { .. } => unreachable!("no steps asked for"),
    }
}

fn calendar(p: &Parts, zone: Option<&str>) -> Result<Vec<String>, String> {
    let time = format!(
        "{}:{}:{}",
        field(p.hours, 0, 23),
        field(p.minutes, 0, 59),
        field(p.seconds, 0, 59)
    );
    let years = match &p.years {
        None => "*".to_string(),
        Some(years) => {
            let years: Vec<u32> = years.iter().map(|&y| y as u32).collect();
            render(&items(&years, YEAR_MIN as u32, YEAR_MAX as u32, false), 4)
        }
    };
    let months = field(p.months, 1, 12);
    let zone = zone.map(|z| format!(" {z}")).unwrap_or_default();
    let terms = day_terms(p)?;
    if terms.is_empty() {
        return Err("never fires".into());
    }
    Ok(terms
        .iter()
        .map(|t| {
            let date = match t.days {
                Days::Any => format!("{years}-{months}-*"),
                Days::Forward(days) => format!("{years}-{months}-{}", field(days.into(), 1, 31)),
                Days::Backward(days) => {
                    let back = values(days.into(), 1, 28);
                    format!(
                        "{years}-{months}~{}",
                        render(&items(&back, 1, 28, false), 2)
                    )
                }
            };
            format!("{}{date} {time}{zone}", weekday_prefix(t.weekdays))
        })
        .collect())
}

/// `@every PERIOD`: the times of day at multiples of the period since the
/// epoch, in UTC, as few `*-*-* H:M:S UTC` events as they take.
fn every(period: u64) -> Result<Vec<String>, String> {
    const DAY: u64 = 86_400;
    if period == 0 || !DAY.is_multiple_of(period) {
        return Err(format!(
            "counts every {} from the Unix epoch; OnCalendar= can repeat that only for \
             a period that divides a day evenly, and OnUnitActiveSec= counts from the \
             last run instead",
            format_duration(Duration::from_secs(period))
        ));
    }
    // Hour -> the (minute, second) pairs in it, as minute * 60 + second.
    let mut hours: Vec<(u64, Vec<u64>)> = Vec::new();
    for t in (0..DAY).step_by(period as usize) {
        let (hour, rest) = (t / 3600, t % 3600);
        match hours.last_mut() {
            Some((h, pairs)) if *h == hour => pairs.push(rest),
            _ => hours.push((hour, vec![rest])),
        }
    }
    // Hours with the same pairs share events.
    let mut groups: Vec<(u64, Vec<u64>)> = Vec::new();
    for (hour, pairs) in hours {
        match groups.iter_mut().find(|(_, p)| *p == pairs) {
            Some((set, _)) => *set |= 1 << hour,
            None => groups.push((1 << hour, pairs)),
        }
    }
    let mut lines = Vec::new();
    for (hour_set, pairs) in groups {
        // Minute -> its seconds; minutes with the same seconds share a line.
        let mut minutes: Vec<(u64, u64)> = Vec::new();
        for pair in pairs {
            let (minute, second) = (pair / 60, pair % 60);
            match minutes.iter_mut().find(|(m, _)| *m == minute) {
                Some((_, seconds)) => *seconds |= 1 << second,
                None => minutes.push((minute, 1 << second)),
            }
        }
        let mut by_seconds: Vec<(u64, u64)> = Vec::new();
        for (minute, seconds) in minutes {
            match by_seconds.iter_mut().find(|(_, s)| *s == seconds) {
                Some((set, _)) => *set |= 1 << minute,
                None => by_seconds.push((1 << minute, seconds)),
            }
        }
        for (minute_set, second_set) in by_seconds {
            lines.push(format!(
                "*-*-* {}:{}:{} UTC",
                field(hour_set, 0, 23),
                field(minute_set, 0, 59),
                field(second_set, 0, 59)
            ));
        }
    }
    Ok(lines)
}

/// The units of every task that systemd can run, and the tasks it cannot.
pub fn export(file: &TaskFile) -> Export {
    let mut export = Export::default();
    for task in &file.tasks {
        match units(task, file) {
            Ok((service, timer)) => {
                export.files.push(service);
                export.files.push(timer);
            }
            Err(reason) => export.refused.push(Refused {
                task: task.name.clone(),
                reason,
            }),
        }
    }
    export
}

/// The unit name of a task, without suffix.
pub fn unit_name(task: &str) -> String {
    format!("kron-{task}")
}

fn units(task: &Task, file: &TaskFile) -> Result<(File, File), String> {
    let s = &task.settings;
    let zone_set = task.source(&file.defaults, "timezone") != Source::Builtin;
    let zone = zone_set.then(|| s.timezone.name());
    let trigger = trigger(task.schedule.expr(), zone)
        .map_err(|reason| format!("its schedule `{}` {reason}", task.schedule_text))?;
    let service = service(task, file)?;
    let timer = timer(task, file, &trigger);
    let name = unit_name(&task.name);
    Ok((
        File {
            name: format!("{name}.service"),
            text: service,
        },
        File {
            name: format!("{name}.timer"),
            text: timer,
        },
    ))
}

fn header(task: &Task, file: &TaskFile, what: &str) -> String {
    format!(
        "# Written by kron {} (kron export --format systemd) from {}:\n\
         # task {}, {what}\n",
        env!("CARGO_PKG_VERSION"),
        one_line(&file.path.to_string_lossy()),
        task.name
    )
}

fn description(task: &Task) -> String {
    let text = match &task.description {
        Some(d) if !d.trim().is_empty() => format!("kron task {}: {}", task.name, one_line(d)),
        _ => format!("kron task {}", task.name),
    };
    text.trim_end_matches('\\').replace('%', "%%")
}

fn service(task: &Task, file: &TaskFile) -> Result<String, String> {
    let s = &task.settings;
    let mut notes: Vec<String> = Vec::new();
    let mut unit: Vec<String> = vec![format!("Description={}", description(task))];
    let mut body: Vec<String> = vec!["Type=oneshot".into()];

    // The command, behind the lock its overlap asks for.
    let words = argv(task);
    if words.is_empty() {
        return Err("its command is empty".into());
    }
    if words.iter().any(|w| w.contains('\0')) {
        return Err("its command contains a NUL character".into());
    }
    let lock = format!("%t/kron/locks/{}.lock", s.lock);
    let mut exec = String::new();
    match s.overlap {
        Overlap::Allow => {
            notes.push(
                "overlap = \"allow\": systemd never starts a service that is still running, \
                 so a firing during a run is skipped"
                    .into(),
            );
            let program = &words[0];
            if !program.starts_with('/') {
                if program.starts_with('-') || program.contains('=') {
                    return Err(format!(
                        "its program name `{program}` cannot be started by /usr/bin/env"
                    ));
                }
                exec.push_str("/usr/bin/env ");
            }
        }
        Overlap::Skip | Overlap::Replace | Overlap::Queue => {
            body.push("ExecStartPre=/bin/mkdir -p -m 0700 %t/kron %t/kron/locks".into());
            if s.overlap == Overlap::Queue {
                let _ = write!(exec, "/usr/bin/flock {lock} ");
                notes.push(
                    "overlap = \"queue\": systemd never starts a service that is still \
                     running, so a firing during a run is skipped, not queued; flock waits \
                     for other holders of the lock (kron, or tasks sharing it)"
                        .into(),
                );
            } else {
                let _ = write!(exec, "/usr/bin/flock -n -E {LOCK_BUSY} {lock} ");
                body.push(format!("SuccessExitStatus={LOCK_BUSY}"));
                if s.overlap == Overlap::Replace {
                    notes.push(
                        "overlap = \"replace\": systemd cannot stop a running copy to start \
                         a new one; a firing during a run is skipped"
                            .into(),
                    );
                }
                notes.push(format!(
                    "exit status {LOCK_BUSY} means the lock was busy and the run skipped: \
                     it counts as success and is not retried (so does the command's own \
                     status {LOCK_BUSY})"
                ));
            }
        }
    }
    let quoted: Vec<String> = words.iter().map(|w| exec_word(w)).collect();
    exec.push_str(&quoted.join(" "));
    body.push(format!("ExecStart={exec}"));

    // Where and with what it runs.
    match &s.workdir {
        None => body.push("WorkingDirectory=~".into()),
        Some(dir) => {
            let dir = dir.to_string_lossy();
            if dir.chars().any(char::is_control)
                || dir.trim() != dir
                || dir.ends_with('\\')
                || !dir.starts_with('/')
            {
                return Err(format!(
                    "its workdir {dir:?} cannot be written as WorkingDirectory="
                ));
            }
            body.push(format!("WorkingDirectory={}", dir.replace('%', "%%")));
        }
    }
    let mut env = s.env.clone();
    env.entry("PATH".into())
        .or_insert_with(|| crate::runner::spawn::BASE_PATH.into());
    for (key, value) in &env {
        if !portable_env_name(key) {
            return Err(format!(
                "its env key `{key}` is not a variable name systemd accepts \
                 (letters, digits and _, not starting with a digit)"
            ));
        }
        if value.contains('\0') {
            return Err(format!("its env {key} contains a NUL character"));
        }
        body.push(format!(
            "Environment={}",
            quoted_value(&format!("{key}={value}"), false)
        ));
    }
    if let Some(stdin) = s.stdin.as_deref().filter(|t| !t.is_empty()) {
        body.push("StandardInput=data".into());
        body.extend(standard_input(stdin));
    }

    // Timeout, retries.
    match s.timeout {
        Some(t) => body.push(format!("TimeoutStartSec={}", span(t))),
        None => body.push("TimeoutStartSec=infinity".into()),
    }
    body.push(format!("TimeoutStopSec={}", span(s.kill_grace)));
    if s.retry.attempts > 0 {
        retries(task, &mut unit, &mut body, &mut notes);
    }

    // What systemd has no place for.
    let set = |key: &str| task.source(&file.defaults, key) != Source::Builtin;
    if set("log.max_size") || set("log.keep") {
        notes.push(format!(
            "the output goes to the journal (journalctl --user -u {}), which rotates \
             it itself; log = {{ ... }} does not apply",
            unit_name(&task.name)
        ));
    }
    for (key, hook) in [("on_failure", &s.on_failure), ("on_success", &s.on_success)] {
        if let Some(hook) = hook {
            notes.push(format!(
                "{key} = {hook:?} is not run: systemd starts units, not commands, on \
                 failure or success (OnFailure=, OnSuccess=)"
            ));
        }
    }
    if let Some(to) = s.mailto.as_deref().filter(|m| !m.is_empty()) {
        notes.push(format!(
            "mailto = {to:?}: no mail is sent; the output is in the journal"
        ));
    }

    let mut text = header(
        task,
        file,
        &format!("run by {}.timer", unit_name(&task.name)),
    );
    for note in &notes {
        let _ = writeln!(text, "# kron: {note}");
    }
    let _ = writeln!(text, "[Unit]");
    for line in &unit {
        let _ = writeln!(text, "{line}");
    }
    let _ = writeln!(text, "\n[Service]");
    for line in &body {
        let _ = writeln!(text, "{line}");
    }
    Ok(text)
}

/// `Restart=` and the settings that bound and space the attempts.
fn retries(task: &Task, unit: &mut Vec<String>, body: &mut Vec<String>, notes: &mut Vec<String>) {
    let s = &task.settings;
    let attempts = s.retry.attempts;
    let delays: Vec<Duration> = (1..=attempts)
        .map(|n| crate::runner::retry::delay(&s.retry, n, 1.0))
        .collect();
    body.push("Restart=on-failure".into());
    body.push(format!("RestartSec={}", span(delays[0])));
    if delays.windows(2).any(|w| w[0] != w[1]) {
        // systemd >= 254: the n-th restart waits
        // RestartSec x (RestartMaxDelaySec / RestartSec)^((n-1) / RestartSteps),
        // and RestartMaxDelaySec after RestartSteps restarts.
        let fits = |steps: u32, max: Duration| {
            delays.iter().enumerate().all(|(i, d)| {
                let n = i as u32 + 1;
                let want = if n > steps {
                    max.as_secs_f64()
                } else {
                    delays[0].as_secs_f64()
                        * (max.as_secs_f64() / delays[0].as_secs_f64())
                            .powf(f64::from(n - 1) / f64::from(steps))
                };
                (want - d.as_secs_f64()).abs() < 0.001
            })
        };
        let growing = delays.windows(2).take_while(|w| w[1] > w[0]).count() as u32;
        let (steps, max) = (growing, delays[growing as usize]);
        if growing > 0 {
            body.push(
                "# systemd 254 and later grow the wait; older ones wait RestartSec= each time"
                    .into(),
            );
            body.push(format!("RestartSteps={steps}"));
            body.push(format!("RestartMaxDelaySec={}", span(max)));
        }
        if growing == 0 || !fits(steps, max) {
            let list: Vec<String> = delays.iter().map(|d| format_duration(*d)).collect();
            notes.push(format!(
                "systemd's waits between retries grow from RestartSec= to \
                 RestartMaxDelaySec= along its own curve, not exactly as kron's ({})",
                list.join(", ")
            ));
        }
    }
    if s.retry.jitter {
        notes.push("retry.jitter: systemd waits exactly RestartSec= (no jitter)".into());
    }
    // systemd bounds restarts by counting starts: the first attempt and the
    // retries must fall in one StartLimitIntervalSec=, short enough that
    // scheduled runs alone never reach StartLimitBurst=.
    let total: Duration = delays.iter().sum();
    let burst = attempts + 1;
    let needed = s.timeout.map(|t| total + (t + s.kill_grace) * burst);
    let cap = min_gap(&task.schedule)
        .map(|gap| Duration::from_secs(gap.saturating_mul(u64::from(burst)).saturating_sub(1)));
    let interval = match (needed, cap) {
        (Some(n), Some(c)) => Some(n.min(c)),
        (n, c) => n.or(c),
    };
    unit.push(format!(
        "StartLimitIntervalSec={}",
        interval.map_or("infinity".into(), span)
    ));
    unit.push(format!("StartLimitBurst={burst}"));
    if needed.is_none_or(|n| interval.is_some_and(|i| i < n)) {
        notes.push(format!(
            "retry = {{ attempts = {attempts} }}: systemd counts starts, not attempts of one \
             run: StartLimitBurst={burst} within StartLimitIntervalSec= bounds the retries \
             of a run only while they start within that interval{}",
            if s.timeout.is_none() {
                " (a timeout would bound how long they take)"
            } else {
                ""
            }
        ));
    }
}

fn timer(task: &Task, file: &TaskFile, trigger: &Trigger) -> String {
    let s = &task.settings;
    let mut notes: Vec<String> = Vec::new();
    let mut body: Vec<String> = Vec::new();
    match trigger {
        Trigger::Boot => {
            body.push("OnBootSec=0".into());
            notes.push(
                "@reboot: the timer elapses once when it starts after boot, which for a user \
                 unit is when your service manager starts (at boot with `loginctl \
                 enable-linger`, else at your first login); kron runs it once per boot"
                    .into(),
            );
        }
        Trigger::Calendar(events) => {
            for event in events {
                body.push(format!("OnCalendar={event}"));
            }
            if events.len() > 1 {
                notes.push("the timer elapses at every OnCalendar= instant (their union)".into());
            }
            body.push("AccuracySec=1s".into());
            match s.catch_up {
                CatchUp::Skip => {
                    body.push("Persistent=false".into());
                    notes.push(
                        "catch_up = \"skip\": a firing missed while the machine was suspended \
                         still runs once when it resumes"
                            .into(),
                    );
                }
                CatchUp::Once => body.push("Persistent=true".into()),
                CatchUp::All => {
                    body.push("Persistent=true".into());
                    notes.push(
                        "catch_up = \"all\": systemd catches up one missed run, not each".into(),
                    );
                }
            }
            if let Some(note) = daylight_saving(task) {
                notes.push(note);
            }
        }
    }
    if !s.jitter.is_zero() {
        body.push(format!("RandomizedDelaySec={}", span(s.jitter)));
    }
    if s.paused {
        notes.push("paused in kron: enable this timer when the task should run".into());
    }
    let mut text = header(
        task,
        file,
        &format!("starts {}.service", unit_name(&task.name)),
    );
    for note in &notes {
        let _ = writeln!(text, "# kron: {note}");
    }
    let _ = writeln!(text, "[Unit]\nDescription={} (timer)\n", description(task));
    let _ = writeln!(text, "[Timer]");
    for line in &body {
        let _ = writeln!(text, "{line}");
    }
    let _ = writeln!(text, "\n[Install]\nWantedBy=timers.target");
    text
}

/// How systemd's daylight-saving nights differ from kron's for this task
/// (seen with `systemd-analyze calendar`, systemd 252; checked by the
/// tests): a fixed time in the spring-forward gap is skipped (kron runs it
/// when the gap ends); a wildcard schedule runs the repeated hour once
/// (kron runs it twice). The other two cases agree.
fn daylight_saving(task: &Task) -> Option<String> {
    let zone = &task.settings.timezone;
    let parts = Parts::of(task.schedule.expr())?;
    if !changes_offset(zone) {
        return None;
    }
    Some(if parts.wildcard {
        format!(
            "daylight saving in {}: when the clocks go back, systemd runs the times of the \
             repeated hour once; kron runs them in both hours",
            zone.name()
        )
    } else {
        format!(
            "daylight saving in {}: when the clocks go forward, systemd skips a time they \
             jump over; kron runs it when the gap ends",
            zone.name()
        )
    })
}

/// A time span as systemd reads it (`90s`, `1h30m`, `500ms`).
fn span(d: Duration) -> String {
    format_duration(d)
}

/// One word of a command line (`ExecStart=`): `%` and `$` doubled, and in
/// double quotes with C escapes when it has blanks, quotes, backslashes or
/// control characters (systemd.service(5), "Command lines").
pub fn exec_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word != ";"
        && !word
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\'));
    if plain {
        word.replace('%', "%%").replace('$', "$$")
    } else {
        quoted_value(word, true)
    }
}

/// `text` in double quotes with C escapes and `%` doubled (systemd.syntax(7),
/// "Quoting"); `$` doubled too when `dollar` (command lines expand `$`).
pub fn quoted_value(text: &str, dollar: bool) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' if dollar => out.push_str("$$"),
            c => escape_char(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// C escapes for backslashes and control characters.
fn escape_char(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if c.is_control() && c.is_ascii() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => out.push(c),
    }
}

/// `StandardInputText=` lines (each adds a newline) when the text ends with
/// a newline and has no empty line (an empty value resets the list), else
/// the exact bytes as `StandardInputData=` (base64).
fn standard_input(text: &str) -> Vec<String> {
    let Some(body) = text.strip_suffix('\n') else {
        return vec![format!("StandardInputData={}", base64(text.as_bytes()))];
    };
    if body.split('\n').any(str::is_empty) || text.contains('\0') {
        return vec![format!("StandardInputData={}", base64(text.as_bytes()))];
    }
    body.split('\n')
        .map(|line| {
            let mut out = String::new();
            let last = line.chars().count() - 1;
            for (i, c) in line.chars().enumerate() {
                match c {
                    '%' => out.push_str("%%"),
                    // Leading and trailing blanks would be stripped.
                    ' ' if i == 0 || i == last => out.push_str("\\x20"),
                    c => escape_char(&mut out, c),
                }
            }
            format!("StandardInputText={out}")
        })
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Schedule, Zone};

    fn parse_expr(text: &str) -> Result<Expr, String> {
        Schedule::parse(text, Zone::utc())
            .map(|s| s.expr().clone())
            .map_err(|e| e.to_string())
    }

    fn events(text: &str) -> Result<Vec<String>, String> {
        match trigger(&parse_expr(text).unwrap(), None)? {
            Trigger::Calendar(events) => Ok(events),
            Trigger::Boot => Ok(vec!["boot".into()]),
        }
    }

    #[test]
    fn translations() {
        let cases: &[(&str, &[&str])] = &[
            ("30 2 * * *", &["*-*-* 02:30:00"]),
            ("*/15 9-17 * * mon-fri", &["Mon..Fri *-*-* 09..17:00/15:00"]),
            ("0 0 13 * 5", &["*-*-13 00:00:00", "Fri *-*-* 00:00:00"]),
            ("0 0 */2 * 5", &["Fri *-*-01/2 00:00:00"]),
            ("0 0 L * *", &["*-*~01 00:00:00"]),
            ("0 0 L-2 * *", &["*-*~03 00:00:00"]),
            ("0 0 1,L * *", &["*-*-01 00:00:00", "*-*~01 00:00:00"]),
            ("0 18 * * 5L", &["Fri *-*~01..07 18:00:00"]),
            ("0 10 * * mon#2", &["Mon *-*-08..14 10:00:00"]),
            ("0 10 * * 1#2,3#2", &["Mon,Wed *-*-08..14 10:00:00"]),
            ("0 10 * * 1#1,1#5", &["Mon *-*-01..07,29..31 10:00:00"]),
            ("*/10 * * * * *", &["*-*-* *:*:00/10"]),
            ("0 0 9 1 1 ? 2027", &["2027-01-01 09:00:00"]),
            (
                "0 0 9 * * ? 2027-2030,2035",
                &["2027..2030,2035-*-* 09:00:00"],
            ),
            ("0 0 1 */3 *", &["*-01/3-01 00:00:00"]),
            ("0 12 * * sat,sun", &["Sat,Sun *-*-* 12:00:00"]),
            ("0 12 * * 0-6", &["*-*-* 12:00:00"]),
            ("0 12 1-31 * 1", &["*-*-* 12:00:00"]),
            ("5,6 4 * * *", &["*-*-* 04:05,06:00"]),
            ("@hourly", &["*-*-* *:00:00"]),
            ("@weekly", &["Sun *-*-* 00:00:00"]),
            ("@yearly", &["*-01-01 00:00:00"]),
            ("@every 15m", &["*-*-* *:00/15:00 UTC"]),
            ("@every 2h", &["*-*-* 00/2:00:00 UTC"]),
            ("@every 1d", &["*-*-* 00:00:00 UTC"]),
            (
                "@every 90m",
                &["*-*-* 00/3:00:00 UTC", "*-*-* 01/3:30:00 UTC"],
            ),
            ("@reboot", &["boot"]),
        ];
        for (expr, want) in cases {
            let want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
            assert_eq!(events(expr), Ok(want), "{expr}");
        }
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                "0 9 15W * *",
                "uses `15W` (the weekday nearest a day of the month), which OnCalendar= \
                 cannot express",
            ),
            (
                "0 9 LW * *",
                "uses `LW` (the last weekday of the month), which OnCalendar= cannot express",
            ),
            (
                "0 9 L-28 * *",
                "uses `L-28`, and OnCalendar= counts at most 28 days from the end of a month \
                 (`~28` is `L-27`)",
            ),
            (
                "0 9 */2 * 5L",
                "needs days counted from the start of the month and days counted from its \
                 end to match together, and an OnCalendar= value counts from one end only",
            ),
            (
                "@every 7m",
                "counts every 7m from the Unix epoch; OnCalendar= can repeat that only for a \
                 period that divides a day evenly, and OnUnitActiveSec= counts from the last \
                 run instead",
            ),
            (
                "@every 2d",
                "counts every 2d from the Unix epoch; OnCalendar= can repeat that only for a \
                 period that divides a day evenly, and OnUnitActiveSec= counts from the last \
                 run instead",
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(events(expr), Err(want.to_string()), "{expr}");
        }
    }

    #[test]
    fn the_zone_follows_each_event() {
        let expr = parse_expr("0 0 13 * 5").unwrap();
        assert!(parse_expr("@bogus").is_err());
        assert_eq!(
            trigger(&expr, Some("Europe/Berlin")),
            Ok(Trigger::Calendar(vec![
                "*-*-13 00:00:00 Europe/Berlin".into(),
                "Fri *-*-* 00:00:00 Europe/Berlin".into()
            ]))
        );
    }

    /// The values a systemd field of a time of day selects.
    fn expand(field: &str, max: u32) -> Vec<u32> {
        if field == "*" {
            return (0..=max).collect();
        }
        let mut out = Vec::new();
        for item in field.split(',') {
            if let Some((start, step)) = item.split_once('/') {
                let (start, step): (u32, u32) = (start.parse().unwrap(), step.parse().unwrap());
                out.extend((start..=max).step_by(step as usize));
            } else if let Some((low, high)) = item.split_once("..") {
                out.extend(low.parse::<u32>().unwrap()..=high.parse().unwrap());
            } else {
                out.push(item.parse().unwrap());
            }
        }
        out
    }

    #[test]
    fn every_divisor_of_a_day_gives_exactly_its_times() {
        for period in (1..=86_400u32).filter(|p| 86_400 % p == 0) {
            let mut times = Vec::new();
            for event in every(u64::from(period)).unwrap() {
                let time = event
                    .strip_prefix("*-*-* ")
                    .and_then(|e| e.strip_suffix(" UTC"))
                    .unwrap();
                let fields: Vec<&str> = time.split(':').collect();
                for h in expand(fields[0], 23) {
                    for m in expand(fields[1], 59) {
                        for s in expand(fields[2], 59) {
                            times.push(h * 3600 + m * 60 + s);
                        }
                    }
                }
            }
            times.sort_unstable();
            let want: Vec<u32> = (0..86_400).step_by(period as usize).collect();
            assert_eq!(times, want, "@every {period}s");
        }
    }

    #[test]
    fn command_words() {
        assert_eq!(exec_word("restic"), "restic");
        assert_eq!(exec_word("100%"), "100%%");
        assert_eq!(exec_word("$HOME"), "$$HOME");
        assert_eq!(exec_word("a b"), "\"a b\"");
        assert_eq!(exec_word(""), "\"\"");
        assert_eq!(exec_word(";"), "\";\"");
        assert_eq!(
            exec_word("echo \"$X\" 'y' \\ 50%\n\x01"),
            "\"echo \\\"$$X\\\" 'y' \\\\ 50%%\\n\\x01\""
        );
        assert_eq!(quoted_value("A=b $c", false), "\"A=b $c\"");
    }

    #[test]
    fn standard_input_text_and_data() {
        assert_eq!(
            standard_input("All done.\n 100% \n"),
            [
                "StandardInputText=All done.",
                "StandardInputText=\\x20100%%\\x20"
            ]
        );
        assert_eq!(
            standard_input("no newline"),
            ["StandardInputData=bm8gbmV3bGluZQ=="]
        );
        assert_eq!(standard_input("a\n\nb\n"), ["StandardInputData=YQoKYgo="]);
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
