//! Reading a crontab: its lines into jobs with the variables in force at
//! each, and each job as the task that does what cron does with it
//! (`taskfile::edit` writes them). Turning a job into a task stays here,
//! with the parsing, because both are cron's rules (what `%`, `CRON_TZ`,
//! `SHELL`, `HOME` and `MAILTO` mean); the task's name, for which cron has
//! no rule, is chosen in `name`.

use std::path::Path;

use super::{MACROS, is_space};
use crate::schedule::{Schedule, Zone};
use crate::taskfile::edit::NewTask;
use crate::taskfile::{Layer, TaskCommand, valid_name};

/// A line that is not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

/// One job line of a crontab, with the variables in force at its line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Job {
    pub line: usize,
    /// The comments directly above the line, joined.
    pub description: Option<String>,
    /// The name a `# kron: task NAME` comment above the line asks for (as
    /// `kron export` writes them).
    pub name_hint: Option<String>,
    /// The five fields joined by single spaces, or the macro.
    pub schedule: String,
    /// `CRON_TZ`; `None` is the system's zone.
    pub timezone: Option<String>,
    /// `SHELL`, when the crontab sets it.
    pub shell: Option<String>,
    /// Every other variable, in the order the crontab first sets them.
    pub env: Vec<(String, String)>,
    /// The command, with `\%` turned into `%`.
    pub command: String,
    /// What followed the first unescaped `%`, with `%` turned into newlines.
    pub stdin: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub jobs: Vec<Job>,
    /// Lines that cannot be converted.
    pub problems: Vec<Problem>,
    /// `--system` lines for another user: reported, not imported.
    pub skipped: Vec<Problem>,
    /// Jobs imported as cron runs them that probably do not do what their
    /// author meant (a `%` in `date +%Y`): reported, imported.
    pub warnings: Vec<Problem>,
}

enum ZoneState {
    System,
    Named(String),
    Unknown { name: String, line: usize },
}

/// Reads crontab text. `system_user`: read the `/etc/crontab` format (a
/// user column after the schedule) and keep only this user's lines.
pub fn parse(text: &str, system_user: Option<&str>) -> Parsed {
    let mut parsed = Parsed::default();
    let mut zone = ZoneState::System;
    let mut shell: Option<String> = None;
    let mut env: Vec<(String, String)> = Vec::new();
    // The comment lines directly above the current line.
    let mut comments: Vec<&str> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_start_matches(BLANK);
        if line.is_empty() {
            comments.clear();
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            comments.push(comment);
            continue;
        }
        let above = std::mem::take(&mut comments);
        if let Some((name, value)) = assignment(line) {
            let problem = |message: String| Problem {
                line: number,
                message,
            };
            match name.as_str() {
                "" => parsed
                    .problems
                    .push(problem("a variable assignment needs a name".into())),
                "CRON_TZ" if value.is_empty() => zone = ZoneState::System,
                "CRON_TZ" => match Zone::get(&value) {
                    // Its IANA spelling, whatever the case it was typed in.
                    Ok(found) => zone = ZoneState::Named(found.name().into()),
                    Err(e) => {
                        parsed.problems.push(problem(format!("CRON_TZ: {e}")));
                        zone = ZoneState::Unknown {
                            name: value,
                            line: number,
                        };
                    }
                },
                "SHELL" if value.trim().is_empty() => {
                    parsed
                        .problems
                        .push(problem("SHELL is empty; cron could not run a job".into()));
                    shell = None;
                }
                "SHELL" => shell = Some(value),
                _ => match env.iter_mut().find(|(k, _)| *k == name) {
                    Some(slot) => slot.1 = value,
                    None => env.push((name, value)),
                },
            }
            continue;
        }
        let problem = |message: String| Problem {
            line: number,
            message,
        };
        let fields = match job_fields(line, system_user.is_some()) {
            Ok(fields) => fields,
            Err(message) => {
                let looks_assigned = word(line).is_some_and(|(w, _)| w.contains('='));
                parsed.problems.push(problem(if looks_assigned {
                    format!(
                        "`{}` is neither a job nor a variable assignment \
                         (after a quoted value only blanks may follow)",
                        line.trim_end_matches(is_space)
                    )
                } else {
                    message
                }));
                continue;
            }
        };
        if let (Some(me), Some(user)) = (system_user, &fields.user)
            && user != me
        {
            parsed
                .skipped
                .push(problem(format!("for user `{user}`, not imported")));
            continue;
        }
        let timezone = match &zone {
            ZoneState::System => None,
            ZoneState::Named(name) => Some(name.clone()),
            ZoneState::Unknown { name, line } => {
                parsed.problems.push(problem(format!(
                    "its time zone `{name}` (CRON_TZ on line {line}) is unknown"
                )));
                continue;
            }
        };
        if let Some(fixed) = &fields.percent_fix {
            let raw = line.trim_end_matches(is_space);
            let fixed = format!("{}{fixed}", &raw[..raw.len() - fields.raw.len()]);
            let input = fields.stdin.as_deref().unwrap_or_default();
            parsed.warnings.push(problem(format!(
                "the unescaped `%` ends the command, as in cron: it runs `{}` with {input:?} \
                 on its standard input\n  | {raw}\n  help: imported as cron runs it; if the \
                 `%` belongs to the command, write `\\%`: {fixed}",
                fields.command
            )));
        }
        let (description, name_hint) = describe(&above);
        parsed.jobs.push(Job {
            line: number,
            description,
            name_hint,
            schedule: fields.schedule,
            timezone,
            shell: shell.clone(),
            env: env.clone(),
            command: fields.command,
            stdin: fields.stdin,
        });
    }
    parsed
}

/// cron separates fields with blanks: spaces and tabs.
const BLANK: [char; 2] = [' ', '\t'];

/// `NAME=value` as cron's `load_env` reads it: blanks around `=` are
/// skipped; the name or the value may be quoted with `'` or `"` (the quotes
/// keep blanks); after a quoted value only blanks may follow; an unquoted
/// value runs to the end of the line, trailing blanks removed. An empty
/// value (`NAME=`) is accepted, as cronie does. `None`: not an assignment.
pub fn assignment(line: &str) -> Option<(String, String)> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum S {
        NameStart,
        Name,
        Equals,
        AfterEquals,
        ValueStart,
        Value,
        Done,
    }
    let chars: Vec<char> = line.chars().collect();
    let (mut name, mut value) = (String::new(), String::new());
    let mut state = S::NameStart;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match state {
            S::NameStart | S::ValueStart => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    i += 1;
                }
                state = if state == S::NameStart {
                    S::Name
                } else {
                    S::Value
                };
            }
            S::Name | S::Value => {
                if let Some(q) = quote {
                    if c == q {
                        state = if state == S::Name { S::Equals } else { S::Done };
                        i += 1;
                        continue;
                    }
                    if state == S::Name && c == '=' {
                        return None;
                    }
                } else if state == S::Name {
                    if is_space(c) {
                        state = S::Equals;
                        i += 1;
                        continue;
                    }
                    if c == '=' {
                        state = S::Equals;
                        continue;
                    }
                }
                if state == S::Name {
                    name.push(c);
                } else {
                    value.push(c);
                }
                i += 1;
            }
            S::Equals => {
                if c == '=' {
                    state = S::AfterEquals;
                    quote = None;
                } else if !is_space(c) {
                    return None;
                }
                i += 1;
            }
            S::AfterEquals | S::Done => {
                if is_space(c) {
                    i += 1;
                } else if state == S::AfterEquals {
                    state = S::ValueStart;
                } else {
                    return None;
                }
            }
        }
    }
    match state {
        S::Done | S::AfterEquals => Some((name, value)),
        S::Value if quote.is_none() => {
            let trimmed = value.trim_end_matches(is_space).len();
            value.truncate(trimmed);
            Some((name, value))
        }
        _ => None,
    }
}

struct Fields {
    schedule: String,
    user: Option<String>,
    command: String,
    stdin: Option<String>,
    /// The text after the schedule (and user), as written.
    raw: String,
    /// That text with every unescaped `%` written `\%`, when one of them
    /// looks like a format directive (`date +%Y`) rather than the start of
    /// standard input.
    percent_fix: Option<String>,
}

/// Splits off the first blank-separated word.
fn word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start_matches(BLANK);
    if text.is_empty() {
        return None;
    }
    let end = text.find(BLANK).unwrap_or(text.len());
    Some((&text[..end], &text[end..]))
}

/// A job line: five fields or a macro, the user column when `system`, and
/// the command (split at `%`).
fn job_fields(line: &str, system: bool) -> Result<Fields, String> {
    let (first, mut rest) = word(line).ok_or("empty line")?;
    let schedule = if first.starts_with('@') {
        if !MACROS.contains(&first) {
            return Err(format!(
                "unknown macro `{first}` (crontab(5) knows {})",
                MACROS.join(", ")
            ));
        }
        first.to_string()
    } else {
        let mut fields = vec![first];
        while fields.len() < 5 {
            match word(rest) {
                Some((field, after)) => {
                    fields.push(field);
                    rest = after;
                }
                None => {
                    return Err(format!(
                        "expected five time fields and a command, found `{}`",
                        line.trim_end_matches(is_space)
                    ));
                }
            }
        }
        let schedule = fields.join(" ");
        if let Err(e) = Schedule::parse(&schedule, Zone::utc()) {
            return Err(format!("`{schedule}`: {e}"));
        }
        schedule
    };
    let user = if system {
        let (user, after) = word(rest).ok_or(
            "missing the user column (the /etc/crontab format is: schedule, user, command)",
        )?;
        rest = after;
        Some(user.to_string())
    } else {
        None
    };
    let raw = rest.trim_start_matches(BLANK);
    if raw.trim_end_matches(is_space).is_empty() {
        return Err(format!("`{schedule}` has no command"));
    }
    let (command, stdin) = split_percent(raw);
    if command.trim().is_empty() {
        return Err("the command before `%` is empty".into());
    }
    let raw = raw.trim_end_matches(is_space);
    Ok(Fields {
        schedule,
        user,
        command,
        stdin,
        raw: raw.to_string(),
        percent_fix: formats_percent(raw).then(|| escape_percent(raw)),
    })
}

/// Whether an unescaped `%` in a job's text looks like a format directive
/// of date(1) or printf(1) (`%Y-`, `%d`, `%s\n`: one letter not followed by
/// another), which cron would take for the start of standard input or a
/// newline in it, rather than text for the command's input (`%Dear boss`).
fn formats_percent(raw: &str) -> bool {
    let chars: Vec<char> = raw.chars().collect();
    let mut escaped = false;
    for (i, &c) in chars.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '%'
            && chars.get(i + 1).is_some_and(char::is_ascii_alphabetic)
            && !chars.get(i + 2).is_some_and(char::is_ascii_alphabetic)
        {
            return true;
        }
    }
    false
}

/// `raw` with every `%` that cron would act on written `\%`, which cron
/// reads as a literal `%` (the fix for [`formats_percent`]).
fn escape_percent(raw: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '%' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// crontab(5)'s `%`, exactly as cron's `do_command` does it: in the command
/// `\%` is `%` (other backslashes stay) and the first unescaped `%` ends it;
/// in the rest `%` is a newline, `\%` is `%`, and other backslashes stay.
/// The command loses trailing blanks (unless a backslash would then end it).
pub fn split_percent(raw: &str) -> (String, Option<String>) {
    let mut command = String::new();
    let mut escaped = false;
    let mut chars = raw.chars();
    let mut stdin = None;
    for c in chars.by_ref() {
        if escaped {
            if c == '%' {
                command.pop();
            }
            command.push(c);
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
            command.push(c);
            continue;
        }
        if c == '%' {
            stdin = Some(String::new());
            break;
        }
        command.push(c);
    }
    if let Some(input) = stdin.as_mut() {
        let mut escaped = false;
        for c in chars {
            let mut c = c;
            if escaped {
                if c != '%' {
                    input.push('\\');
                }
            } else if c == '%' {
                c = '\n';
            }
            escaped = c == '\\';
            if !escaped {
                input.push(c);
            }
        }
        if escaped {
            input.push('\\');
        }
    }
    let trimmed = command.trim_end_matches(is_space);
    if !trimmed.ends_with('\\') {
        command.truncate(trimmed.len());
    }
    (command, stdin.filter(|s| !s.is_empty()))
}

/// The description and name hint in the comment block directly above a job:
/// the comment lines nearest the job, up to an empty comment, a commented-out
/// job or assignment, or a field legend (`# m h dom mon dow command`).
/// `# kron: task NAME` lines above the description give the name.
fn describe(block: &[&str]) -> (Option<String>, Option<String>) {
    let mut lines = Vec::new();
    let mut hint = None;
    let mut in_kron = false;
    for raw in block.iter().rev() {
        let text = raw.trim_matches(is_space);
        if let Some(note) = text.strip_prefix("kron:") {
            in_kron = true;
            if let Some(name) = note.trim().strip_prefix("task ") {
                let name = name.trim();
                if hint.is_none() && valid_name(name) {
                    hint = Some(name.to_string());
                }
            }
            continue;
        }
        if in_kron || text.is_empty() || not_prose(text) {
            break;
        }
        lines.push(text);
    }
    lines.reverse();
    let description = (!lines.is_empty()).then(|| lines.join(" "));
    (description, hint)
}

/// A comment that is a disabled job or assignment, a field legend, or
/// drawing (`# |  .---- hour`) rather than words about the job below.
fn not_prose(text: &str) -> bool {
    if text.starts_with(['|', '.', '-', '*', '+', '=']) {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let has = |w: &str| words.contains(&w);
    if (has("dom") && has("dow")) || (has("m") && has("h") && has("command")) {
        return true;
    }
    if let Some((name, _)) = assignment(text) {
        let mut chars = name.chars();
        if chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return true;
        }
    }
    job_fields(text, false).is_ok()
}

// ---------------------------------------------------------------------------
// Jobs as task-file TOML

/// A job converted to a task: its name, its crontab line, and the task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    pub name: String,
    pub line: usize,
    pub task: NewTask,
}

impl Job {
    /// The task that does what cron does with this job, in a task file
    /// whose `[defaults]` are `defaults`: only the keys needed, plus those
    /// where `[defaults]` would otherwise change what cron does (time zone,
    /// shell, directory, standard input). `system_zone` is the zone of the
    /// jobs without `CRON_TZ`.
    pub fn to_task(
        &self,
        name: String,
        defaults: &Layer,
        system_zone: &Zone,
    ) -> Result<Imported, String> {
        let timezone = match (&self.timezone, &defaults.timezone) {
            (Some(zone), _) => Some(zone.clone()),
            (None, None) => None,
            (None, Some(default)) => {
                if system_zone.time_zone().iana_name().is_none() {
                    return Err(format!(
                        "the task file's [defaults] sets timezone = \"{default}\", and the \
                         system's time zone, which cron uses here, has no name to write instead"
                    ));
                }
                (default != system_zone.name()).then(|| system_zone.name().to_string())
            }
        };
        let cron_shell = self
            .shell
            .as_deref()
            .unwrap_or(crate::taskfile::DEFAULT_SHELL);
        let kron_shell = defaults
            .shell
            .as_deref()
            .unwrap_or(crate::taskfile::DEFAULT_SHELL);
        let shell = (cron_shell != kron_shell).then(|| cron_shell.to_string());
        // cron runs a job in $HOME: the crontab's, else the user's.
        let home = self.variable("HOME").filter(|h| h.starts_with('/'));
        let workdir = match (home, &defaults.workdir) {
            (Some(home), Some(default)) if Path::new(home) == default => None,
            (Some(home), _) => Some(home.to_string()),
            (None, Some(_)) => Some("~".to_string()),
            (None, None) => None,
        };
        // cron mails a job's output to MAILTO; `MAILTO=""` sends none, which
        // needs saying only when [defaults] would mail.
        let mailto = match (self.variable("MAILTO"), defaults.mailto.as_deref()) {
            (Some(to), _) if !to.is_empty() => Some(to.to_string()),
            (Some(_), Some(default)) if !default.is_empty() => Some(String::new()),
            _ => None,
        };
        let stdin = match (&self.stdin, &defaults.stdin) {
            (Some(text), _) => Some(text.clone()),
            (None, Some(_)) => Some(String::new()),
            (None, None) => None,
        };
        // `MAILTO` also stays in `env`: cron passes it on to the job.
        let task = NewTask {
            description: self.description.clone(),
            schedule: self.schedule.clone(),
            timezone,
            command: Some(TaskCommand::Shell(self.command.clone())),
            shell,
            workdir,
            env: self.env.clone(),
            stdin,
            mailto,
            ..NewTask::default()
        };
        Ok(Imported {
            name,
            line: self.line,
            task,
        })
    }

    /// The value of a crontab variable in force at this job.
    fn variable(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(text: &str) -> Job {
        let parsed = parse(text, None);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(parsed.jobs.len(), 1, "{parsed:?}");
        parsed.jobs[0].clone()
    }

    #[test]
    fn assignments_follow_cron_quoting() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("A=b", Some(("A", "b"))),
            ("A = b ", Some(("A", "b"))),
            ("A\t=\tb c  ", Some(("A", "b c"))),
            ("A=\" b \"", Some(("A", " b "))),
            ("A=' b'  ", Some(("A", " b"))),
            ("\"A B\"=c", Some(("A B", "c"))),
            ("A=\"b\" c", None),
            ("A=\"b", None),
            ("A=", Some(("A", ""))),
            ("A=\"\"", Some(("A", ""))),
            (
                "MAILTO=a # not a comment",
                Some(("MAILTO", "a # not a comment")),
            ),
            ("A==b", Some(("A", "=b"))),
            ("A B=c", None),
            ("* * * * * A=b", None),
            ("@daily FOO=bar", None),
            ("A", None),
            ("PATH = $HOME/bin:$PATH", Some(("PATH", "$HOME/bin:$PATH"))),
        ];
        for (line, expected) in cases {
            let got = assignment(line);
            let expected = expected.map(|(n, v)| (n.to_string(), v.to_string()));
            assert_eq!(got, expected, "{line:?}");
        }
    }

    #[test]
    fn percent_ends_the_command_and_feeds_stdin() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("date", "date", None),
            ("date +\\%Y", "date +%Y", None),
            (
                "mail -s hi me%Hello%World%",
                "mail -s hi me",
                Some("Hello\nWorld\n"),
            ),
            ("cat %50\\% done", "cat", Some("50% done")),
            ("a\\\\%b", "a\\\\", Some("b")),
            ("cat%x\\y", "cat", Some("x\\y")),
            ("cat%x\\\\%y", "cat", Some("x\\%y")),
            ("cat%ends\\", "cat", Some("ends\\")),
            ("cat%", "cat", None),
            ("echo a  \t", "echo a", None),
            ("echo a\\ ", "echo a\\ ", None),
            ("cat  %in", "cat", Some("in")),
        ];
        for (raw, command, stdin) in cases {
            let (c, s) = split_percent(raw);
            assert_eq!((c.as_str(), s.as_deref()), (*command, *stdin), "{raw:?}");
        }
    }

    #[test]
    fn a_percent_that_looks_like_a_format_is_warned_about() {
        let parsed = parse(
            "0 0 * * * date +%Y-%m-%d > /tmp/today\n\
             @daily printf '%s\\n' x\n\
             @daily mail -s hi me%Dear boss,%%100\\% done\n\
             @daily date +\\%Y\n\
             @daily wc -l%\n",
            None,
        );
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(parsed.jobs.len(), 5);
        let lines: Vec<usize> = parsed.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [1, 2], "{:#?}", parsed.warnings);
        assert_eq!(
            parsed.warnings[0].message,
            "the unescaped `%` ends the command, as in cron: it runs `date +` with \
             \"Y-\\nm-\\nd > /tmp/today\" on its standard input\n  \
             | 0 0 * * * date +%Y-%m-%d > /tmp/today\n  \
             help: imported as cron runs it; if the `%` belongs to the command, write `\\%`: \
             0 0 * * * date +\\%Y-\\%m-\\%d > /tmp/today"
        );
        assert!(
            parsed.warnings[1]
                .message
                .ends_with("write `\\%`: @daily printf '\\%s\\n' x"),
            "{}",
            parsed.warnings[1].message
        );
        // The fix reads back as the command meant.
        let fixed = parse("0 0 * * * date +\\%Y-\\%m-\\%d > /tmp/today\n", None);
        assert_eq!(fixed.jobs[0].command, "date +%Y-%m-%d > /tmp/today");
        assert!(fixed.warnings.is_empty());
    }

    #[test]
    fn jobs_take_the_variables_and_comments_above_them() {
        let text = "\
# header, separated by a blank line

SHELL=/bin/bash
MAILTO=me@example.org
# Back up the database.
# Nightly.
30 2 * * *\t/usr/local/bin/backup.sh --all
CRON_TZ=Europe/Berlin
MAILTO=\"\"
@reboot    backup
";
        let parsed = parse(text, None);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let [first, second] = parsed.jobs.as_slice() else {
            panic!("{parsed:?}")
        };
        assert_eq!(first.line, 7);
        assert_eq!(
            first.description.as_deref(),
            Some("Back up the database. Nightly.")
        );
        assert_eq!(first.schedule, "30 2 * * *");
        assert_eq!(first.command, "/usr/local/bin/backup.sh --all");
        assert_eq!(first.shell.as_deref(), Some("/bin/bash"));
        assert_eq!(first.timezone, None);
        assert_eq!(first.env, vec![("MAILTO".into(), "me@example.org".into())]);
        assert_eq!(second.schedule, "@reboot");
        assert_eq!(second.description, None);
        assert_eq!(second.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(second.env, vec![("MAILTO".into(), String::new())]);
    }

    #[test]
    fn legends_and_disabled_jobs_are_not_descriptions() {
        for above in [
            "# m h  dom mon dow   command",
            "# *  *  *  *  *  user-name command to be executed",
            "#0 3 * * * old-job",
            "#PATH=/usr/bin",
            "#",
            "# kron: task other",
        ] {
            let j = job(&format!("{above}\n0 4 * * * new-job\n"));
            assert_eq!(j.description, None, "{above}");
        }
        let j = job("# kron: task nightly\n# kron: retry\n# Does things.\n0 4 * * * x\n");
        assert_eq!(j.description.as_deref(), Some("Does things."));
        assert_eq!(j.name_hint.as_deref(), Some("nightly"));
    }

    #[test]
    fn bad_lines_are_reported_with_their_numbers() {
        let text = "\
CRON_TZ=Mars/Olympus
0 0 * * * a
CRON_TZ=UTC
60 0 * * * b
0 0 30 2 * c
@every 5m d
0 0 * *
* * * * *
FOO=\"x\" y
0 0 * * * %stdin only
";
        let parsed = parse(text, None);
        let lines: Vec<usize> = parsed.problems.iter().map(|p| p.line).collect();
        assert_eq!(
            lines,
            [1, 2, 4, 5, 6, 7, 8, 9, 10],
            "{:#?}",
            parsed.problems
        );
        assert!(
            parsed.problems[2].message.contains("minute: 60"),
            "{:#?}",
            parsed.problems
        );
        assert!(parsed.problems[3].message.contains("never fires"));
        assert!(parsed.jobs.is_empty());
    }

    #[test]
    fn system_format_keeps_only_the_users_lines() {
        let text = "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n\
                    0 5 * * * alice backup\n@daily alice\n";
        let parsed = parse(text, Some("alice"));
        assert_eq!(parsed.jobs.len(), 1);
        assert_eq!(parsed.jobs[0].command, "backup");
        assert_eq!(parsed.skipped.len(), 1);
        assert_eq!(parsed.skipped[0].line, 1);
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].line, 3);
    }

    #[test]
    fn defaults_that_would_change_cron_behaviour_are_overridden() {
        let j = job("0 0 * * * x\n");
        let defaults = Layer {
            timezone: Some("Asia/Tokyo".into()),
            shell: Some("/bin/bash".into()),
            workdir: Some("/srv".into()),
            stdin: Some("y".into()),
            ..Layer::default()
        };
        let t = j
            .to_task("x".into(), &defaults, &Zone::get("UTC").unwrap())
            .unwrap()
            .task;
        assert_eq!(t.timezone.as_deref(), Some("UTC"));
        assert_eq!(t.shell.as_deref(), Some("/bin/sh"));
        assert_eq!(t.workdir.as_deref(), Some("~"));
        assert_eq!(t.stdin.as_deref(), Some(""));
        let t = j
            .to_task("x".into(), &Layer::default(), &Zone::get("UTC").unwrap())
            .unwrap()
            .task;
        assert_eq!(
            (t.timezone, t.shell, t.workdir, t.stdin),
            (None, None, None, None)
        );
    }

    #[test]
    fn mailto_is_imported_as_mailto_and_kept_in_env() {
        let utc = Zone::get("UTC").unwrap();
        let parsed = parse(
            "MAILTO=me@example.org\n@daily a\nMAILTO=\"\"\n@daily b\n",
            None,
        );
        let [a, b] = parsed.jobs.as_slice() else {
            panic!("{parsed:?}")
        };
        let none = Layer::default();
        let t = a.to_task("a".into(), &none, &utc).unwrap().task;
        assert_eq!(t.mailto.as_deref(), Some("me@example.org"));
        assert_eq!(t.env, [("MAILTO".into(), "me@example.org".into())]);
        // MAILTO="" (no mail) needs writing only when [defaults] would mail.
        assert_eq!(
            b.to_task("b".into(), &none, &utc).unwrap().task.mailto,
            None
        );
        let mailing = Layer {
            mailto: Some("ops@example.org".into()),
            ..Layer::default()
        };
        let t = b.to_task("b".into(), &mailing, &utc).unwrap().task;
        assert_eq!(t.mailto.as_deref(), Some(""));
    }
}
