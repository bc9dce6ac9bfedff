//! What kron adds to clap's account of a command line it refused: the
//! mistakes `kron add` invites, which clap cannot recognise for what they
//! are. A command given without `--` (`kron add t --schedule @daily echo
//! hi`: "unexpected argument 'echo'"), a schedule given unquoted (`--schedule
//! 0 9 * * *`: "unexpected argument '9'") and a value that starts with `-`
//! (`--retry -1`, for which clap's own tip, `-- -1`, would make `-1` the
//! command) each get a tip that says what to write instead. The error stays
//! clap's (its message, usage and exit status 2); only its tips change.
//! Depends on `schedule` (to tell a schedule's fields from a command).

use std::ffi::OsString;

use clap::builder::StyledStr;
use clap::error::{ContextKind, ContextValue, ErrorKind};

/// `kron add`'s options that take a value.
const VALUE_OPTIONS: [&str; 7] = [
    "--schedule",
    "--tz",
    "--description",
    "--timeout",
    "--retry",
    "--workdir",
    "--env",
];

/// kron's global options that take a value, which may come before the verb.
const GLOBAL_VALUE_OPTIONS: [&str; 2] = ["--file", "--color"];

/// Replaces the tips of `error` (clap's, for the command line `args`, the
/// program's name first) with kron's when the verb is `add` and the mistake
/// is one of those above; leaves every other error as it is.
pub fn explain(error: &mut clap::Error, args: &[OsString]) {
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let Some(verb) = verb_at(&words) else {
        return;
    };
    if words[verb] != "add" {
        return;
    }
    let words = &words[verb + 1..];
    let tip = match error.kind() {
        ErrorKind::UnknownArgument => match error.get(ContextKind::InvalidArg) {
            // clap names the option meant (`--retries`: `--retry`); its
            // other tip, to pass it after `--`, would make it the command.
            Some(ContextValue::String(_)) if error.get(ContextKind::SuggestedArg).is_some() => {
                error.remove(ContextKind::Suggested);
                None
            }
            Some(ContextValue::String(arg)) => unexpected(words, &arg.clone()),
            _ => None,
        },
        ErrorKind::MissingRequiredArgument => match error.get(ContextKind::InvalidArg) {
            Some(ContextValue::Strings(missing))
                if missing.iter().any(|m| m.contains("COMMAND")) =>
            {
                Some("put the command after `--`: kron add NAME --schedule EXPR -- COMMAND".into())
            }
            _ => None,
        },
        _ => None,
    };
    if let Some(tip) = tip {
        error.insert(
            ContextKind::Suggested,
            ContextValue::StyledStrs(vec![StyledStr::from(tip)]),
        );
    }
}

/// The index of the verb among `words` (the arguments after the program's
/// name): the first word that is not a global option or its value.
fn verb_at(words: &[String]) -> Option<usize> {
    let mut i = 0;
    while let Some(word) = words.get(i) {
        if GLOBAL_VALUE_OPTIONS.contains(&word.as_str()) {
            i += 2;
        } else if word.starts_with('-') {
            i += 1;
        } else {
            return Some(i);
        }
    }
    None
}

/// The tip for the unexpected argument `arg` among `kron add`'s `words`.
fn unexpected(words: &[String], arg: &str) -> Option<String> {
    let at = words.iter().position(|w| w == arg)?;
    let before = at.checked_sub(1).map(|i| words[i].as_str());
    if arg.starts_with('-') {
        let Some(option) = before.filter(|b| VALUE_OPTIONS.contains(b)) else {
            return Some(format!(
                "kron add has no option `{arg}` (`kron add --help` lists them); \
                 the command and its options go after `--`"
            ));
        };
        return Some(if option == "--retry" {
            format!("--retry takes how many times to retry a failed run: 0 or more, not `{arg}`")
        } else {
            format!(
                "for a value that starts with `-`, write {option}={}",
                quote(arg)
            )
        });
    }
    if let Some(schedule) = unquoted_schedule(words, at) {
        return Some(format!(
            "quote the schedule, whose fields are one argument: --schedule {}",
            quote(&schedule)
        ));
    }
    Some(format!(
        "put the command after `--`: {}",
        with_double_dash(words, at)
    ))
}

/// The schedule the user meant when `words[at]` is the second field of a
/// schedule given without quotes (`--schedule 0 9 * * *`): the fields
/// from the option's value on, or an example when they are not a schedule
/// (the shell may have expanded an unquoted `*`).
fn unquoted_schedule(words: &[String], at: usize) -> Option<String> {
    let option = words[..at]
        .iter()
        .rposition(|w| w == "--schedule" || w.starts_with("--schedule="))?;
    let first = if words[option] == "--schedule" {
        option + 1
    } else {
        option
    };
    if at != first + 1 || !is_field(&words[at]) {
        return None;
    }
    let value = |i: usize| -> &str {
        if i == option {
            words[i].trim_start_matches("--schedule=")
        } else {
            &words[i]
        }
    };
    let mut fields = vec![value(first)];
    fields.extend(
        (at..words.len())
            .map_while(|i| is_field(&words[i]).then(|| words[i].as_str()))
            .take(6),
    );
    let schedule = fields.join(" ");
    let parses = (5..=7).contains(&fields.len())
        && crate::schedule::Schedule::parse(&schedule, crate::schedule::Zone::utc()).is_ok();
    Some(if parses { schedule } else { "0 9 * * *".into() })
}

/// Whether `word` can be one field of a schedule: numbers, names of
/// months and days, `*`, `?`, `L`, `W` and `#`, joined by `,`, `-` and `/`.
fn is_field(word: &str) -> bool {
    const NAMES: [&str; 19] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "mon",
        "tue", "wed", "thu", "fri", "sat", "sun",
    ];
    !word.is_empty()
        && word.split([',', '-', '/', '#']).all(|part| {
            let lower = part.to_ascii_lowercase();
            let digits = lower.trim_end_matches(['l', 'w']);
            matches!(lower.as_str(), "*" | "?" | "l" | "lw")
                || NAMES.contains(&lower.as_str())
                || (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
        })
}

/// `kron add` with the words from `at` on moved after `--`, except the
/// options of kron's among them (and their values), which stay before it.
fn with_double_dash(words: &[String], at: usize) -> String {
    let mut options: Vec<&str> = words[..at].iter().map(String::as_str).collect();
    let mut command = Vec::new();
    let mut i = at;
    while let Some(word) = words.get(i) {
        let name = word.split('=').next().unwrap_or_default();
        if word == "--" {
            command.extend(words[i + 1..].iter().map(String::as_str));
            break;
        }
        if name == "--replace" || (word.contains('=') && VALUE_OPTIONS.contains(&name)) {
            options.push(word);
        } else if VALUE_OPTIONS.contains(&word.as_str()) {
            options.extend(
                words[i..(i + 2).min(words.len())]
                    .iter()
                    .map(String::as_str),
            );
            i += 1;
        } else {
            command.push(word);
        }
        i += 1;
    }
    let quoted = |w: &[&str]| w.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
    format!("kron add {} -- {}", quoted(&options), quoted(&command))
}

fn quote(word: &str) -> String {
    crate::shell::word(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tip(line: &str) -> Option<String> {
        let args: Vec<OsString> = std::iter::once("kron")
            .chain(line.split(' '))
            .map(OsString::from)
            .collect();
        let mut error = <crate::cli::Cli as clap::Parser>::try_parse_from(&args)
            .expect_err("the line is refused");
        explain(&mut error, &args);
        match error.get(ContextKind::Suggested) {
            Some(ContextValue::StyledStrs(tips)) => Some(tips[0].to_string()),
            _ => None,
        }
    }

    #[test]
    fn add_mistakes_get_their_own_tips() {
        let cases = [
            (
                "add t --schedule @daily echo hi",
                "put the command after `--`: kron add t --schedule @daily -- echo hi",
            ),
            (
                "add t echo hi --schedule 30s --replace",
                "put the command after `--`: kron add t --schedule 30s --replace -- echo hi",
            ),
            (
                "--file x.toml add t --schedule=@daily ls -la /tmp",
                "put the command after `--`: kron add t --schedule=@daily -- ls -la /tmp",
            ),
            (
                "add t --schedule 0 9 * * mon-fri -- backup",
                "quote the schedule, whose fields are one argument: --schedule '0 9 * * mon-fri'",
            ),
            (
                "add t --schedule 0 9 file.txt -- backup",
                "quote the schedule, whose fields are one argument: --schedule '0 9 * * *'",
            ),
            (
                "add t --schedule @daily --retry -1 -- backup",
                "--retry takes how many times to retry a failed run: 0 or more, not `-1`",
            ),
            (
                "add t --schedule @daily --description -x -- backup",
                "for a value that starts with `-`, write --description=-x",
            ),
            (
                "add t --schedule @daily",
                "put the command after `--`: kron add NAME --schedule EXPR -- COMMAND",
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(tip(line).as_deref(), Some(expected), "{line}");
        }
        assert_eq!(
            tip("add t -x --schedule @daily -- x").as_deref(),
            Some(
                "kron add has no option `-x` (`kron add --help` lists them); \
                 the command and its options go after `--`"
            )
        );
        // clap's "a similar argument exists" stays, without its `-- --retries`.
        assert_eq!(tip("add t --retries 3 --schedule @daily -- x"), None);
        // Other verbs keep clap's tips.
        assert_eq!(tip("run t u"), None);
    }

    #[test]
    fn schedule_fields() {
        for field in [
            "0", "*/15", "9-17", "mon-fri", "JAN,jul", "?", "L", "15W", "5#3", "LW",
        ] {
            assert!(is_field(field), "{field}");
        }
        for word in ["echo", "-la", "/tmp", "", "monday"] {
            assert!(!is_field(word), "{word}");
        }
    }
}
