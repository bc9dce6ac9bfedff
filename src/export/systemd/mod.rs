//! `kron export --format systemd`: a `kron-NAME.service` and
//! `kron-NAME.timer` pair of systemd user units per task.
//!
//! The schedule's translation into `OnCalendar=` (or its refusal) is
//! `oncalendar`; this file writes the units around it. Settings map to
//! `Restart=`, `TimeoutStartSec=`, `flock(1)` on kron's own lock files, and
//! so on; where systemd behaves differently (daylight-saving nights,
//! overlap, catch-up) the unit says so in a `# kron:` comment.

mod oncalendar;

use std::fmt::Write as _;
use std::time::Duration;

pub use oncalendar::{Trigger, trigger};

use super::{
    Export, File, Parts, Refused, Transition, argv, changes_offset, meets_transition, min_gap,
    one_line, portable_env_name,
};
use crate::taskfile::{CatchUp, IoClass, Leftovers, Overlap, Source, Task, TaskFile};
use crate::units::format_duration;

/// The exit status `flock -n` gives when the lock is busy: a run skipped
/// because another holds the lock counts as a success, as kron does not
/// count a skipped run as a failure (and does not retry it).
pub const LOCK_BUSY: u8 = 75;

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
    // The command's share of the machine, which systemd sets in the
    // service's process before it starts (no window, unlike kron).
    if let Some(nice) = s.nice {
        body.push(format!("Nice={nice}"));
    }
    match s.ioclass {
        Some(IoClass::Idle) => body.push("IOSchedulingClass=idle".into()),
        Some(IoClass::BestEffort) => body.push("IOSchedulingClass=best-effort".into()),
        None => {}
    }
    if let Some(cpu) = s.limits.cpu {
        // Soft and hard, as kron sets them: SIGXCPU, then SIGKILL a second later.
        let seconds = cpu.as_secs_f64().ceil().max(1.0) as u64;
        body.push(format!("LimitCPU={seconds}:{}", seconds + 1));
    }
    if let Some(memory) = s.limits.memory {
        body.push(format!("LimitAS={memory}"));
    }
    if let Some(files) = s.limits.files {
        body.push(format!("LimitNOFILE={files}"));
    }
    if s.retry.attempts > 0 {
        retries(task, &mut unit, &mut body, &mut notes);
    }

    // What systemd has no place for.
    let set = |key: &str| task.source(&file.defaults, key) != Source::Builtin;
    if set("leftovers") && s.leftovers == Leftovers::Keep {
        notes.push(
            "leftovers = \"keep\": systemd stops what the command leaves running when it \
             exits (KillMode=control-group)"
                .into(),
        );
    }
    if set("log.max_size") || set("log.keep") {
        notes.push(format!(
            "the output goes to the journal (journalctl --user -u {}), which rotates \
             it itself; log = {{ ... }} does not apply",
            unit_name(&task.name)
        ));
    }
    for (key, hook) in [
        ("on_failure", &s.on_failure),
        ("on_success", &s.on_success),
        ("on_missed", &s.on_missed),
    ] {
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
///
/// So the note is there only when a time of the schedule falls in the kind
/// of transition where they differ (`meets_transition`): a daily 09:00, or
/// 02:30 in June, never does.
fn daylight_saving(task: &Task) -> Option<String> {
    let zone = &task.settings.timezone;
    let parts = Parts::of(task.schedule.expr())?;
    let differs = if parts.wildcard {
        Transition::Repeat
    } else {
        Transition::Gap
    };
    if !changes_offset(zone) || !meets_transition(task.schedule.expr(), zone, differs) {
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
