//! `kron export --format kubernetes`: a batch/v1 `CronJob` per task.
//!
//! The schedule becomes a five-field expression as Kubernetes reads it (the
//! robfig/cron parser: crontab(5)'s fields, where a day field counts as
//! "every day" only when it is exactly `*`), in the task's `timeZone`, or
//! the task is refused with the reason: seconds other than 0, a year field,
//! `L`/`W`/`#` days, day fields that must both match while neither is
//! `*`, `@reboot`, and `@every` periods other than whole minutes dividing
//! an hour or whole hours dividing a day. Also refused: standard input (a
//! CronJob's container gets none), names that are no DNS label even after
//! `_` becomes `-`, and environment names Kubernetes rejects.
//!
//! Settings map to `concurrencyPolicy` (overlap), `backoffLimit` (retry
//! attempts, each a new pod), the pod's `activeDeadlineSeconds` (timeout,
//! per attempt as in kron) and `terminationGracePeriodSeconds`
//! (kill_grace), `startingDeadlineSeconds` (catch-up and max_lateness: a
//! run the controller cannot start within it is not started, as kron
//! records such a run missed), `suspend` (paused).
//! What has no place becomes a `# kron:` comment. The YAML is written by
//! hand, every string double-quoted JSON-style, which is valid YAML.

use std::fmt::Write as _;

use super::{
    ALL_DAYS, ALL_WEEKDAYS, Export, File, Items, Parts, Refused, argv, changes_offset, items,
    values,
};
use crate::schedule::Expr;
use crate::taskfile::{CatchUp, Leftovers, Overlap, Source, Task, TaskFile};
use crate::units::format_duration;

/// The longest CronJob name: the controller appends 11 characters to name
/// each Job, which must stay a 63-character label.
pub const MAX_NAME: usize = 52;

/// How late a run may start and still count as on time with
/// `catch_up = "skip"` (kron's daemon allows the same).
pub const STARTING_DEADLINE: u64 = 60;

/// A schedule as Kubernetes reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronSchedule {
    /// Five fields.
    pub text: String,
    /// `@every` counts from the epoch in UTC: the CronJob's zone must be UTC.
    pub utc: bool,
}

/// The five-field form of a schedule, or why Kubernetes cannot express it.
pub fn schedule(expr: &Expr) -> Result<CronSchedule, String> {
    match expr {
        Expr::Reboot => Err("runs at boot, and a CronJob runs only on a schedule".into()),
        Expr::Every(period) => every(*period).map(|text| CronSchedule { text, utc: true }),
        Expr::Cron(_) => {
            let p = Parts::of(expr).expect("a cron expression");
            five_fields(&p).map(|text| CronSchedule { text, utc: false })
        }
    }
}

fn every(period: u64) -> Result<String, String> {
    match period {
        60 => Ok("* * * * *".into()),
        p if p.is_multiple_of(60) && 3600u64.is_multiple_of(p) && p < 3600 => {
            Ok(format!("*/{} * * * *", p / 60))
        }
        3600 => Ok("0 * * * *".into()),
        86_400 => Ok("0 0 * * *".into()),
        p if p.is_multiple_of(3600) && 86_400u64.is_multiple_of(p) => {
            Ok(format!("0 */{} * * *", p / 3600))
        }
        p => Err(format!(
            "counts every {} from the Unix epoch, which a five-field schedule can say \
             only for whole minutes that divide an hour or whole hours that divide a day",
            format_duration(std::time::Duration::from_secs(p))
        )),
    }
}

/// How a field may be written for robfig/cron.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Minute, hour, month: `*/n` is fine.
    Plain,
    /// Day of month: never `*/n`, which some readers take for `*`.
    Day,
    /// Day of week, 0-6: no steps (crontab's 7 is Sunday, robfig's is not).
    Weekday,
}

fn field(set: u64, min: u32, max: u32, kind: Kind) -> String {
    let vals = values(set, min, max);
    match items(&vals, min, max, kind != Kind::Weekday) {
        Items::All => "*".into(),
        Items::Step { start, step } if start == min && kind == Kind::Plain => format!("*/{step}"),
        Items::Step { start, step } => format!("{start}-{max}/{step}"),
        Items::List(list) => list
            .iter()
            .map(|&(low, high)| {
                if low == high {
                    low.to_string()
                } else {
                    format!("{low}-{high}")
                }
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn five_fields(p: &Parts) -> Result<String, String> {
    if p.seconds != 1 {
        return Err(
            "has a seconds field other than 0, and Kubernetes schedules count minutes".into(),
        );
    }
    if p.years.is_some() {
        return Err("has a year field, which Kubernetes schedules do not have".into());
    }
    let quartz: Vec<&str> = [
        (p.dom_last != 0, "`L` (last day)"),
        (p.dom_nearest_weekday != 0, "`W` (nearest weekday)"),
        (p.dom_last_weekday, "`LW` (last weekday)"),
        (p.dow_last != 0, "`nL` (last weekday n)"),
        (p.dow_nth.iter().any(|&k| k != 0), "`#` (k-th weekday)"),
    ]
    .iter()
    .filter(|(used, _)| *used)
    .map(|(_, what)| *what)
    .collect();
    if !quartz.is_empty() {
        return Err(format!(
            "uses {}, which Kubernetes' cron format does not have",
            quartz.join(" and ")
        ));
    }
    let dom_all = p.dom & ALL_DAYS == ALL_DAYS;
    let dow_all = p.dow & ALL_WEEKDAYS == ALL_WEEKDAYS;
    let dom = || field(p.dom.into(), 1, 31, Kind::Day);
    let dow = || field(p.dow.into(), 0, 6, Kind::Weekday);
    let (dom, dow) = match (p.both_must_match, dom_all, dow_all) {
        (_, true, true) | (false, true, _) | (false, _, true) => ("*".into(), "*".into()),
        (true, true, false) => ("*".into(), dow()),
        (true, false, true) => (dom(), "*".into()),
        (true, false, false) => {
            return Err("needs both day fields to match (one starts with `*`), and \
                        Kubernetes reads two restricted day fields as either"
                .into());
        }
        (false, false, false) => (dom(), dow()),
    };
    Ok(format!(
        "{} {} {dom} {} {dow}",
        field(p.minutes, 0, 59, Kind::Plain),
        field(p.hours, 0, 23, Kind::Plain),
        field(p.months, 1, 12, Kind::Plain)
    ))
}

/// The CronJob name of a task: `_` becomes `-`; the result must be a DNS
/// label of at most [`MAX_NAME`] characters.
pub fn name(task: &str) -> Result<String, String> {
    let name = task.replace('_', "-");
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return Err(format!(
            "its name becomes `{name}`, and a Kubernetes name must start and end with a \
             letter or digit"
        ));
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "its name is longer than the {MAX_NAME} characters a CronJob name may have"
        ));
    }
    Ok(name)
}

/// The manifests of every task Kubernetes can run (one file per task,
/// `NAME.yaml`), and the tasks it cannot.
pub fn export(file: &TaskFile, image: &str) -> Export {
    let mut export = Export::default();
    let mut taken: Vec<(String, String)> = Vec::new();
    for task in &file.tasks {
        let result =
            name(&task.name).and_then(|name| match taken.iter().find(|(n, _)| *n == name) {
                Some((_, other)) => Err(format!(
                    "its CronJob name `{name}` is already the name of task {other}"
                )),
                None => manifest(task, file, &name, image).map(|text| (name, text)),
            });
        match result {
            Ok((name, text)) => {
                taken.push((name.clone(), task.name.clone()));
                export.files.push(File {
                    name: format!("{name}.yaml"),
                    text,
                });
            }
            Err(reason) => export.refused.push(Refused {
                task: task.name.clone(),
                reason,
            }),
        }
    }
    export
}

/// All manifests as one stream of YAML documents.
pub fn stream(file: &TaskFile, exported: &Export) -> String {
    let mut text = format!(
        "# Kubernetes CronJobs written by kron {} (kron export --format kubernetes)\n\
         # from {}. Apply them with: kubectl apply -f FILE\n",
        env!("CARGO_PKG_VERSION"),
        super::one_line(&file.path.to_string_lossy())
    );
    for f in &exported.files {
        text.push_str(&f.text);
    }
    text
}

/// Whole seconds, rounded up (Kubernetes takes no fractions).
fn seconds(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn manifest(task: &Task, file: &TaskFile, name: &str, image: &str) -> Result<String, String> {
    let s = &task.settings;
    let schedule = schedule(task.schedule.expr())
        .map_err(|reason| format!("its schedule `{}` {reason}", task.schedule_text))?;
    let zone = if schedule.utc {
        "Etc/UTC".to_string()
    } else {
        match s.timezone.time_zone().iana_name() {
            Some(_) if s.timezone.name() != "local" => s.timezone.name().to_string(),
            _ => {
                return Err(
                    "its time zone is the system's, which has no IANA name to give \
                            as timeZone; set `timezone` in the task file"
                        .into(),
                );
            }
        }
    };
    if let Some(stdin) = s.stdin.as_deref().filter(|t| !t.is_empty()) {
        return Err(format!(
            "it reads standard input (stdin = {stdin:?}), which a CronJob's container \
             cannot be given"
        ));
    }
    for key in s.env.keys() {
        let mut chars = key.chars();
        let ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '-' | '.'))
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            return Err(format!(
                "its env key `{key}` is not a variable name Kubernetes accepts"
            ));
        }
    }
    let command = argv(task);
    if command.is_empty() {
        return Err("its command is empty".into());
    }

    let mut notes = Vec::new();
    let policy = match s.overlap {
        Overlap::Skip => "Forbid",
        Overlap::Allow => "Allow",
        Overlap::Replace => "Replace",
        Overlap::Queue => {
            notes.push(
                "overlap = \"queue\": Kubernetes has no queue; Forbid skips a run that is due \
                 while one runs"
                    .to_string(),
            );
            "Forbid"
        }
    };
    let set = |key: &str| task.source(&file.defaults, key) != Source::Builtin;
    if set("lock") {
        notes.push(format!(
            "lock = {:?}: CronJobs share no locks; only the task's own runs are kept \
             apart (concurrencyPolicy)",
            s.lock
        ));
    }
    if set("leftovers") && s.leftovers == Leftovers::Keep {
        notes
            .push("leftovers = \"keep\": a container's processes end with its main process".into());
    }
    // How late a run may start: kron's own tolerance for an on-time run
    // with `skip`, `max_lateness` (the shorter of the two with `skip`), and
    // no limit otherwise, as in kron.
    let lateness = s.max_lateness.map(|m| seconds(m).max(1));
    let deadline = match (s.catch_up, lateness) {
        (CatchUp::Skip, lateness) => {
            Some(lateness.map_or(STARTING_DEADLINE, |l| l.min(STARTING_DEADLINE)))
        }
        (CatchUp::Once, Some(lateness)) => Some(lateness),
        (CatchUp::All, Some(lateness)) => {
            notes.push(
                "catch_up = \"all\": Kubernetes starts only the latest missed run within \
                 startingDeadlineSeconds"
                    .into(),
            );
            Some(lateness)
        }
        (CatchUp::Once, None) => {
            notes.push(
                "catch_up = \"once\": the controller starts the latest missed run, but none \
                 if it missed more than 100"
                    .into(),
            );
            None
        }
        (CatchUp::All, None) => {
            notes.push(
                "catch_up = \"all\": Kubernetes starts only the latest missed run (and none \
                 if it missed more than 100)"
                    .into(),
            );
            None
        }
    };
    if let Some(max) = s.max_lateness
        && deadline.is_some_and(|d| d < 10)
    {
        notes.push(format!(
            "max_lateness = \"{}\": the CronJob controller looks every 10s, so a \
             startingDeadlineSeconds under 10 may miss runs",
            format_duration(max)
        ));
    }
    if s.retry.attempts > 0 {
        notes.push(format!(
            "retry: Kubernetes waits 10s, 20s, 40s, ... (at most 6m) before each new pod, \
             not kron's backoff = \"{}\"",
            format_duration(s.retry.backoff)
        ));
    }
    if !s.jitter.is_zero() {
        notes.push(format!(
            "jitter = \"{}\": Kubernetes starts on time",
            format_duration(s.jitter)
        ));
    }
    if s.workdir.is_none() {
        notes.push(
            "kron runs it in your home directory; here the image's working directory applies"
                .into(),
        );
    }
    if set("log.max_size") || set("log.keep") {
        notes.push("log = { ... }: the output goes to the pod's log (kubectl logs)".into());
    }
    if let Some(nice) = s.nice {
        notes.push(format!(
            "nice = {nice}: a container runs at the node's priority"
        ));
    }
    if s.ioclass.is_some() {
        notes.push("ioclass: a container has the node's I/O scheduling".into());
    }
    if !s.limits.is_empty() {
        notes.push(
            "limits = { ... } are not set: a container's resources.limits bound its cgroup \
             (memory, CPU rate), not rlimits"
                .into(),
        );
    }
    for (key, hook) in [
        ("on_failure", &s.on_failure),
        ("on_success", &s.on_success),
        ("on_missed", &s.on_missed),
    ] {
        if let Some(hook) = hook {
            notes.push(format!("{key} = {hook:?} is not run"));
        }
    }
    if let Some(to) = s.mailto.as_deref().filter(|m| !m.is_empty()) {
        notes.push(format!("mailto = {to:?}: no mail is sent"));
    }
    if changes_offset(&s.timezone) && !schedule.utc {
        notes.push(format!(
            "daylight saving in {zone}: Kubernetes' cron library skips a time the clocks jump \
             over (kron runs it when the gap ends)"
        ));
    }

    let mut y = String::from("---\n");
    let _ = writeln!(y, "# kron task {}", task.name);
    for note in &notes {
        let _ = writeln!(y, "# kron: {note}");
    }
    y.push_str("apiVersion: batch/v1\nkind: CronJob\nmetadata:\n");
    let _ = writeln!(y, "  name: {}", quote(name));
    y.push_str("  annotations:\n");
    let _ = writeln!(y, "    \"kron/task\": {}", quote(&task.name));
    if let Some(description) = &task.description {
        let _ = writeln!(y, "    \"kron/description\": {}", quote(description));
    }
    y.push_str("spec:\n");
    let _ = writeln!(y, "  schedule: {}", quote(&schedule.text));
    let _ = writeln!(y, "  timeZone: {}", quote(&zone));
    let _ = writeln!(y, "  concurrencyPolicy: {}", quote(policy));
    if let Some(deadline) = deadline {
        let _ = writeln!(y, "  startingDeadlineSeconds: {deadline}");
    }
    let _ = writeln!(y, "  suspend: {}", s.paused);
    y.push_str("  jobTemplate:\n    spec:\n");
    let _ = writeln!(y, "      backoffLimit: {}", s.retry.attempts);
    y.push_str("      template:\n        spec:\n");
    y.push_str("          restartPolicy: \"Never\"\n");
    if let Some(timeout) = s.timeout {
        let _ = writeln!(
            y,
            "          activeDeadlineSeconds: {}",
            seconds(timeout).max(1)
        );
    }
    let _ = writeln!(
        y,
        "          terminationGracePeriodSeconds: {}",
        seconds(s.kill_grace)
    );
    y.push_str("          containers:\n");
    let _ = writeln!(y, "            - name: {}", quote(name));
    let _ = writeln!(y, "              image: {}", quote(image));
    y.push_str("              command:\n");
    for word in &command {
        let _ = writeln!(y, "                - {}", quote(word));
    }
    if let Some(dir) = &s.workdir {
        let _ = writeln!(
            y,
            "              workingDir: {}",
            quote(&dir.to_string_lossy())
        );
    }
    if !s.env.is_empty() {
        y.push_str("              env:\n");
        for (key, value) in &s.env {
            let _ = writeln!(y, "                - name: {}", quote(key));
            let _ = writeln!(y, "                  value: {}", quote(value));
        }
    }
    Ok(y)
}

/// A YAML double-quoted scalar: JSON's escapes, and `\u` for every
/// character YAML does not allow unescaped.
pub fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{fffe}' | '\u{ffff}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Schedule, Zone};

    fn cron(text: &str) -> Result<String, String> {
        let schedule = Schedule::parse(text, Zone::utc()).unwrap();
        super::schedule(schedule.expr()).map(|s| s.text)
    }

    #[test]
    fn translations() {
        let cases = [
            ("30 2 * * *", "30 2 * * *"),
            ("*/15 9-17 * * mon-fri", "*/15 9-17 * * 1-5"),
            ("0 0 13 * 5", "0 0 13 * 5"),
            ("0 0 1-31 * 5", "0 0 * * *"),
            ("0 0 * * 5", "0 0 * * 5"),
            ("0 0 */2 * *", "0 0 1-31/2 * *"),
            ("0 12 * * 0,7", "0 12 * * 0"),
            ("0 12 * * 1/2", "0 12 * * 0,1,3,5"),
            ("0 0 1 */3 *", "0 0 1 */3 *"),
            ("0 0 1 2/3 *", "0 0 1 2-12/3 *"),
            ("5,6 4 * jan,jul *", "5,6 4 * 1,7 *"),
            ("0 0 9 * * *", "0 9 * * *"),
            ("0 0 9 * * ? *", "0 9 * * *"),
            ("@daily", "0 0 * * *"),
            ("@weekly", "0 0 * * 0"),
            ("@every 1m", "* * * * *"),
            ("@every 15m", "*/15 * * * *"),
            ("@every 1h", "0 * * * *"),
            ("@every 6h", "0 */6 * * *"),
            ("@every 1d", "0 0 * * *"),
        ];
        for (expr, want) in cases {
            assert_eq!(cron(expr).as_deref(), Ok(want), "{expr}");
        }
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                "*/10 * * * * *",
                "has a seconds field other than 0, and Kubernetes schedules count minutes",
            ),
            (
                "0 0 9 1 1 ? 2027",
                "has a year field, which Kubernetes schedules do not have",
            ),
            (
                "0 0 L * *",
                "uses `L` (last day), which Kubernetes' cron format does not have",
            ),
            (
                "0 10 * * mon#2",
                "uses `#` (k-th weekday), which Kubernetes' cron format does not have",
            ),
            (
                "0 9 15W * 5L",
                "uses `W` (nearest weekday) and `nL` (last weekday n), which Kubernetes' \
                 cron format does not have",
            ),
            (
                "0 0 */2 * 5",
                "needs both day fields to match (one starts with `*`), and Kubernetes reads \
                 two restricted day fields as either",
            ),
            (
                "@reboot",
                "runs at boot, and a CronJob runs only on a schedule",
            ),
            (
                "@every 90m",
                "counts every 1h30m from the Unix epoch, which a five-field schedule can say \
                 only for whole minutes that divide an hour or whole hours that divide a day",
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(cron(expr), Err(want.to_string()), "{expr}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(name("backup").as_deref(), Ok("backup"));
        assert_eq!(name("db_dump-2").as_deref(), Ok("db-dump-2"));
        assert!(name("_x").unwrap_err().contains("must start and end"));
        assert!(name("x-").unwrap_err().contains("must start and end"));
        assert_eq!(name(&"a".repeat(52)).map(|n| n.len()), Ok(52));
        assert!(name(&"a".repeat(53)).unwrap_err().contains("52 characters"));
    }

    #[test]
    fn yaml_quoting() {
        assert_eq!(quote("plain"), "\"plain\"");
        assert_eq!(quote("a \"b\" \\ c\n"), "\"a \\\"b\\\" \\\\ c\\n\"");
        assert_eq!(quote("\u{7f}\u{85}\u{1}é"), "\"\\u007f\\u0085\\u0001é\"");
    }
}
