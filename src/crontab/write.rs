//! Writing a task file as a crontab. Each job line is read back with the
//! reader (`super::read`) before it is kept, so that a task crontab cannot
//! express exactly becomes a comment rather than a different job.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::{MACROS, assignment, is_space, parse};
use crate::schedule::Zone;
use crate::taskfile::{
    CatchUp, Leftovers, Mail, Overlap, Settings, Source, Task, TaskCommand, TaskFile,
};
use crate::units::{format_duration, format_size};

/// A task file written as a crontab.
pub struct Exported {
    pub text: String,
    /// Tasks written only as comments because crontab cannot express them
    /// (paused tasks are not listed): name and reason.
    pub commented: Vec<(String, String)>,
}

/// Shells whose `sh -c` quoting and `cd DIR || exit;` kron relies on for
/// argv commands and working directories.
const POSIX_SHELLS: [&str; 8] = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash"];

fn posix(shell: &str) -> bool {
    POSIX_SHELLS.contains(&shell.rsplit('/').next().unwrap_or(shell))
}

/// What cron's variables are at a point of the crontab being written.
struct CronState {
    zone: Option<String>,
    shell: String,
    env: BTreeMap<String, String>,
}

/// Writes the tasks of `file` as a crontab. `system_zone` is the zone
/// cron reads schedules in without `CRON_TZ`; `home` is where cron runs
/// jobs without a `HOME` assignment (the user's home directory).
pub fn export(file: &TaskFile, system_zone: &Zone, home: &Path) -> Exported {
    let mut state = CronState {
        zone: None,
        shell: crate::taskfile::DEFAULT_SHELL.into(),
        env: BTreeMap::new(),
    };
    let mut body = String::new();
    let mut commented = Vec::new();
    let mut uses_cron_tz = false;
    for task in &file.tasks {
        let block = export_task(task, file, &mut state, system_zone, home);
        uses_cron_tz |= block.lines().any(|l| l.starts_with("CRON_TZ="));
        body.push('\n');
        body.push_str(&block.text);
        if let Some(reason) = block.disabled {
            commented.push((task.name.clone(), reason));
        }
    }
    let mut text = format!(
        "# crontab written by kron {} from {}\n\
         # Lines starting `# kron:` name what crontab cannot express. Unlike kron,\n\
         # cron starts a job again while it is still running, does not catch up on\n\
         # runs missed while the machine was off, and mails a job's output instead\n\
         # of keeping run logs.\n",
        env!("CARGO_PKG_VERSION"),
        file.path.display()
    );
    if uses_cron_tz {
        text.push_str("# CRON_TZ needs cronie; Vixie and Debian cron ignore it.\n");
    }
    if file.tasks.is_empty() {
        text.push_str("#\n# (no tasks)\n");
    }
    text.push_str(&body);
    Exported { text, commented }
}

struct Block {
    text: String,
    /// Why the task is only a comment (not for paused tasks).
    disabled: Option<String>,
}

impl Block {
    fn lines(&self) -> std::str::Lines<'_> {
        self.text.lines()
    }
}

fn export_task(
    task: &Task,
    file: &TaskFile,
    state: &mut CronState,
    system_zone: &Zone,
    home: &Path,
) -> Block {
    let s = &task.settings;
    let mut notes: Vec<String> = Vec::new();
    let mut fatal: Option<String> = None;

    let schedule = match crontab_schedule(&task.schedule_text) {
        Ok(schedule) => schedule,
        Err(reason) => {
            fatal.get_or_insert(reason);
            task.schedule_text.clone()
        }
    };

    // The variables this task needs.
    // A task that follows the system's zone has none to write: it runs
    // under `CRON_TZ=` (unset), which import reads back as the system's
    // zone, not as the zone this machine happens to have.
    let follows_system = task.layer.timezone.is_none() && file.defaults.timezone.is_none();
    let zone = (!follows_system
        && (s.timezone.name() != system_zone.name() || state.zone.is_some()))
    .then(|| s.timezone.name().to_string());
    let shell = match &task.command {
        TaskCommand::Shell(_) => s.shell.clone(),
        TaskCommand::Argv(_) if posix(&state.shell) => state.shell.clone(),
        TaskCommand::Argv(_) => crate::taskfile::DEFAULT_SHELL.into(),
    };
    let mut env = s.env.clone();
    for special in ["CRON_TZ", "SHELL"] {
        if let Some(value) = env.remove(special) {
            notes.push(format!(
                "env {special} = {value:?} is not written: in a crontab {special} is cron's own"
            ));
        }
    }
    mail_variable(s, &mut env, &mut notes);

    // The command line.
    let mut command = match &task.command {
        TaskCommand::Shell(text) => text.clone(),
        TaskCommand::Argv(argv) => argv
            .iter()
            .enumerate()
            .map(|(i, w)| shell_quote(w, i == 0))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let cron_home = env
        .get("HOME")
        .or_else(|| state.env.get("HOME"))
        .map_or_else(|| home.to_path_buf(), Into::into);
    let run_in = s.workdir.clone().unwrap_or_else(|| home.to_path_buf());
    if run_in != cron_home {
        if posix(&shell) {
            command = format!(
                "cd {} || exit; {command}",
                shell_quote(&run_in.to_string_lossy(), false)
            );
        } else {
            fatal.get_or_insert(format!(
                "it runs in {} and its shell {shell} is not a POSIX shell kron can `cd` with",
                run_in.display()
            ));
        }
    }
    if command.contains('\n') {
        fatal.get_or_insert("its command has several lines; a crontab line has one".into());
    }
    let stdin = s.stdin.clone().filter(|t| !t.is_empty());
    let mut line = format!("{schedule} {}", command.replace('%', "\\%"));
    if let Some(stdin) = &stdin {
        line.push('%');
        line.push_str(&stdin.replace('%', "\\%").replace('\n', "%"));
    }
    if fatal.is_none() && !reads_back(&line, &schedule, &command, stdin.as_deref()) {
        fatal = Some(
            "its command or standard input has a backslash before `%` or a newline, \
             which crontab's `%` rules cannot write"
                .into(),
        );
    }

    // Variable assignments that bring cron's state to this task's (only
    // for a task written as a job: a comment changes no variable).
    let active = fatal.is_none() && !s.paused;
    let mut assignments = Vec::new();
    let mut variable_notes = Vec::new();
    if zone != state.zone {
        let name = zone.clone().unwrap_or_default();
        assignments.push(("CRON_TZ".to_string(), name));
    }
    if shell != state.shell {
        assignments.push(("SHELL".into(), shell.clone()));
    }
    for (key, value) in &env {
        if state.env.get(key) != Some(value) {
            assignments.push((key.clone(), value.clone()));
        }
    }
    for (key, value) in &state.env {
        if !env.contains_key(key) {
            variable_notes.push(format!(
                "it does not set {key}, but crontab keeps {key}={value} from above \
                 (a crontab variable cannot be unset)"
            ));
        }
    }
    let mut assignment_lines = Vec::new();
    for (key, value) in &assignments {
        if key == "CRON_TZ" && value.is_empty() {
            // The system's zone, as cronie and kron's import read it.
            assignment_lines.push("CRON_TZ=".into());
            continue;
        }
        match assignment_line(key, value) {
            Some(text) => assignment_lines.push(text),
            None if active => {
                fatal.get_or_insert(format!(
                    "its variable {key} = {value:?} cannot be written as a crontab assignment"
                ));
            }
            None => {}
        }
    }
    let active = fatal.is_none() && !s.paused;
    if active {
        notes.append(&mut variable_notes);
    }

    // Settings crontab has no place for (only those the file sets).
    let set = |key: &str| task.source(&file.defaults, key) != Source::Builtin;
    if let Some(timeout) = s.timeout {
        notes.push(format!(
            "timeout = \"{}\" (cron never stops a job)",
            format_duration(timeout)
        ));
    }
    if set("kill_grace") {
        notes.push(format!(
            "kill_grace = \"{}\" (cron never stops a job)",
            format_duration(s.kill_grace)
        ));
    }
    if set("leftovers") && s.leftovers == Leftovers::Kill {
        notes.push("leftovers = \"kill\" (cron leaves what a job starts running)".into());
    }
    if s.retry.attempts > 0 {
        notes.push(format!(
            "retry = {{ attempts = {}, backoff = \"{}\" }} (cron does not retry)",
            s.retry.attempts,
            format_duration(s.retry.backoff)
        ));
    }
    if set("overlap") && s.overlap != Overlap::Allow {
        let name = serde_json::to_value(s.overlap).expect("serializes");
        notes.push(format!(
            "overlap = {name} (cron starts a job even while it runs)"
        ));
    }
    if set("lock") {
        notes.push(format!(
            "lock = \"{}\" (cron has no locks; flock(1) in the command can do it)",
            s.lock
        ));
    }
    if !s.jitter.is_zero() {
        notes.push(format!(
            "jitter = \"{}\" (cron starts on time)",
            format_duration(s.jitter)
        ));
    }
    if set("catch_up") && s.catch_up != CatchUp::Skip {
        let name = serde_json::to_value(s.catch_up).expect("serializes");
        notes.push(format!("catch_up = {name} (cron does not catch up)"));
    }
    if set("log.max_size") || set("log.keep") {
        notes.push(format!(
            "log = {{ max_size = \"{}\", keep = {} }} (cron mails output)",
            format_size(s.log.max_size),
            s.log.keep
        ));
    }
    for (key, hook) in [
        ("on_failure", &s.on_failure),
        ("on_success", &s.on_success),
        ("on_missed", &s.on_missed),
    ] {
        if let Some(hook) = hook {
            notes.push(format!("{key} = {hook:?} (cron has no hooks)"));
        }
    }
    if let Some(nice) = s.nice {
        notes.push(format!(
            "nice = {nice} (cron runs jobs at its own priority; `nice -n {nice}` in the command can)"
        ));
    }
    if s.ioclass.is_some() {
        notes.push("ioclass (cron sets none; `ionice` in the command can)".into());
    }
    if !s.limits.is_empty() {
        notes.push("limits (cron sets none; `ulimit` in the command can)".into());
    }

    let mut text = String::new();
    let disabled = fatal.clone();
    if active {
        for assignment in &assignment_lines {
            text.push_str(assignment);
            text.push('\n');
        }
        if let Some(zone) = assignments.iter().find(|(k, _)| k == "CRON_TZ") {
            state.zone = (!zone.1.is_empty()).then(|| zone.1.clone());
        }
        state.shell = shell;
        for (key, value) in env {
            state.env.insert(key, value);
        }
    }
    let _ = writeln!(text, "# kron: task {}", task.name);
    for note in &notes {
        let _ = writeln!(text, "# kron: {note}");
    }
    if let Some(reason) = &fatal {
        let _ = writeln!(text, "# kron: not written as a job: {reason}");
    } else if s.paused {
        let _ = writeln!(text, "# kron: paused");
    }
    if let Some(description) = &task.description {
        for part in description.lines() {
            let _ = writeln!(text, "# {}", part.trim_end());
        }
    }
    if !active {
        let _ = writeln!(text, "# {}", line.replace('\n', " "));
    } else {
        let _ = writeln!(text, "{line}");
    }
    Block { text, disabled }
}

/// `mailto` becomes cron's `MAILTO` (which cron also passes to the job,
/// as kron's import keeps it in `env`); what cron mails differs from
/// `mail`, except for `"always"`.
fn mail_variable(s: &Settings, env: &mut BTreeMap<String, String>, notes: &mut Vec<String>) {
    let Some(to) = s.mailto.as_deref() else {
        return;
    };
    let to = if s.mail == Mail::Never { "" } else { to };
    if let Some(old) = env.insert("MAILTO".into(), to.into())
        && old != to
    {
        notes.push(format!(
            "env MAILTO = {old:?} is not written: in a crontab MAILTO is where cron mails, \
             here {to:?} from mailto"
        ));
    }
    if !to.is_empty() && s.mail == Mail::Failure {
        notes.push(
            "mail = \"failure\" (cron mails the output of every run that prints something)".into(),
        );
    }
}

/// The schedule as crontab(5) writes it, or why it cannot be.
fn crontab_schedule(text: &str) -> Result<String, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(first) = words.first() else {
        return Err("its schedule is empty".into());
    };
    if first.starts_with('@') {
        return if MACROS.contains(first) {
            Ok(first.to_string())
        } else {
            Err(format!("crontab has no `{}` schedule", words.join(" ")))
        };
    }
    let zero = |w: &str| w.bytes().all(|b| b == b'0');
    let fields: Vec<&str> = match words.len() {
        5 => words.clone(),
        6 if zero(words[0]) => words[1..].to_vec(),
        7 if zero(words[0]) && words[6] == "*" => words[1..6].to_vec(),
        6 => return Err(format!("its schedule `{text}` has a seconds field")),
        _ => return Err(format!("its schedule `{text}` has a year field")),
    };
    const MAX: [u32; 5] = [59, 23, 31, 12, 7];
    let mut out = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let lower = field.to_ascii_lowercase();
        if (i == 2 && lower.contains(['l', 'w'])) || (i == 4 && lower.contains('#')) {
            return Err(format!("its schedule `{text}` uses a L, W or # day"));
        }
        let mut items = Vec::new();
        for item in field.split(',') {
            if i == 4 && item.to_ascii_lowercase().ends_with('l') {
                return Err(format!("its schedule `{text}` uses a L, W or # day"));
            }
            if (i == 2 || i == 4) && item == "?" {
                items.push("*".to_string());
                continue;
            }
            // `a/n` is cronie's; Vixie cron wants `a-MAX/n`.
            match item.split_once('/') {
                Some((start, step)) if !start.contains('-') && start != "*" => {
                    items.push(format!("{start}-{}/{step}", MAX[i]));
                }
                _ => items.push(item.to_string()),
            }
        }
        out.push(items.join(","));
    }
    Ok(out.join(" "))
}

/// Whether `line` reads back as one job with this schedule, command and
/// standard input.
fn reads_back(line: &str, schedule: &str, command: &str, stdin: Option<&str>) -> bool {
    let parsed = parse(line, None);
    match parsed.jobs.as_slice() {
        [job] => {
            parsed.problems.is_empty()
                && job.schedule == schedule
                && job.command.trim() == command.trim()
                && job.stdin.as_deref() == stdin
        }
        _ => false,
    }
}

/// `NAME=value`, quoted where cron's reading needs it, or `None` when cron
/// could not read it back.
fn assignment_line(name: &str, value: &str) -> Option<String> {
    if value.contains(['\n', '\r']) || name.contains(['\n', '\r']) {
        return None;
    }
    let quote = |text: &str| {
        if !text.contains('"') {
            Some(format!("\"{text}\""))
        } else if !text.contains('\'') {
            Some(format!("'{text}'"))
        } else {
            None
        }
    };
    let bare_name = !name.is_empty()
        && !name.starts_with('#')
        && !name.contains(|c: char| is_space(c) || c == '=' || c == '"' || c == '\'');
    let name = if bare_name {
        name.to_string()
    } else {
        quote(name)?
    };
    let bare_value = !value.is_empty()
        && !value.starts_with(['"', '\''])
        && value.trim_matches(is_space).len() == value.len();
    let value = if bare_value {
        value.to_string()
    } else {
        quote(value)?
    };
    let line = format!("{name}={value}");
    (assignment(&line) == Some((unquote(&name), unquote(&value)))).then_some(line)
}

fn unquote(text: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(q).and_then(|t| t.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    text.to_string()
}

/// A word as POSIX sh reads it back (`shell`); the program word is also
/// quoted when sh would read it as an assignment or a reserved word.
fn shell_quote(word: &str, program: bool) -> String {
    if program {
        crate::shell::program(word)
    } else {
        crate::shell::word(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskfile::Layer;

    #[test]
    fn schedules_crontab_can_and_cannot_write() {
        let ok = [
            ("30 2 * * *", "30 2 * * *"),
            ("0 30 2 * * *", "30 2 * * *"),
            ("0 30 2 * * ? *", "30 2 * * *"),
            ("5/10 * ? jul wed", "5-59/10 * * jul wed"),
            ("@daily", "@daily"),
            ("@reboot", "@reboot"),
        ];
        for (kron, cron) in ok {
            assert_eq!(crontab_schedule(kron).as_deref(), Ok(cron), "{kron}");
        }
        for bad in [
            "*/10 * * * * *",
            "0 0 0 1 1 * 2027",
            "@every 1h",
            "0 0 L * *",
            "0 0 15W * *",
            "0 18 * * 5L",
            "0 10 * * mon#2",
        ] {
            assert!(crontab_schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn assignment_lines_quote_what_cron_needs() {
        assert_eq!(assignment_line("A", "b c").as_deref(), Some("A=b c"));
        assert_eq!(assignment_line("A", "").as_deref(), Some("A=\"\""));
        assert_eq!(assignment_line("A", " x ").as_deref(), Some("A=\" x \""));
        assert_eq!(
            assignment_line("A", "\"q\" ").as_deref(),
            Some("A='\"q\" '")
        );
        assert_eq!(assignment_line("A", "'\" ").as_deref(), None);
        assert_eq!(assignment_line("A", "a\nb").as_deref(), None);
    }

    #[test]
    fn export_comments_out_what_crontab_cannot_write_exactly() {
        let text = r#"
[tasks.multi]
schedule = "@daily"
command = """
echo one
echo two"""

[tasks.escaped]
schedule = "@daily"
command = 'printf "\%"'

[tasks.fish]
schedule = "@daily"
command = "echo hi"
shell = "/usr/bin/fish"
workdir = "/srv"

[tasks.argv]
schedule = "@daily"
command = ["printf", '%s\n', "it's"]

[tasks.fine]
schedule = "@daily"
command = "date +%F"
stdin = "a\\%b"
"#;
        let file = crate::taskfile::parse(text, Path::new("t.toml")).unwrap();
        let out = export(&file, &Zone::system(), Path::new("/home/u"));
        let names: Vec<&str> = out.commented.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["multi", "escaped", "fish"], "{}", out.text);
        assert!(
            out.text
                .contains("\n# kron: task argv\n@daily printf '\\%s\\n' 'it'\\''s'\n"),
            "{}",
            out.text
        );
        assert!(
            out.text.contains("\n@daily date +\\%F%a\\\\%b\n"),
            "{}",
            out.text
        );
        let back = parse(&out.text, None);
        assert_eq!(back.jobs.len(), 2);
        assert_eq!(back.jobs[0].command, "printf '%s\\n' 'it'\\''s'");
        assert_eq!(back.jobs[1].stdin.as_deref(), Some("a\\%b"));
    }

    #[test]
    fn mailto_is_exported_as_mailto() {
        let text = r#"
[tasks.a]
schedule = "@daily"
command = "a"
mailto = "me@example.org"
mail = "always"

[tasks.b]
schedule = "@daily"
command = "b"
mailto = "me@example.org"
env = { MAILTO = "other@example.org" }

[tasks.c]
schedule = "@daily"
command = "c"
mailto = "me@example.org"
mail = "never"
"#;
        let file = crate::taskfile::parse(text, Path::new("t.toml")).unwrap();
        let out = export(&file, &Zone::get("UTC").unwrap(), Path::new("/home/u"));
        assert!(
            out.text
                .contains("\nMAILTO=me@example.org\n# kron: task a\n@daily a\n"),
            "{}",
            out.text
        );
        assert!(
            out.text.contains(
                "# kron: task b\n\
                 # kron: env MAILTO = \"other@example.org\" is not written: in a crontab MAILTO is \
                 where cron mails, here \"me@example.org\" from mailto\n\
                 # kron: mail = \"failure\" (cron mails the output of every run that prints something)\n\
                 @daily b\n"
            ),
            "{}",
            out.text
        );
        assert!(
            out.text
                .contains("\nMAILTO=\"\"\n# kron: task c\n@daily c\n"),
            "{}",
            out.text
        );
        let back = parse(&out.text, None);
        let utc = Zone::get("UTC").unwrap();
        let mailto: Vec<Option<String>> = back
            .jobs
            .iter()
            .map(|j| {
                j.to_task("x".into(), &Layer::default(), &utc)
                    .unwrap()
                    .task
                    .mailto
            })
            .collect();
        assert_eq!(
            mailto,
            [
                Some("me@example.org".into()),
                Some("me@example.org".into()),
                None
            ]
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/home", false), "/home");
        assert_eq!(shell_quote("it's", false), "'it'\\''s'");
        assert_eq!(shell_quote("", false), "''");
        assert_eq!(shell_quote("A=b", true), "'A=b'");
        assert_eq!(shell_quote("if", true), "'if'");
    }
}
