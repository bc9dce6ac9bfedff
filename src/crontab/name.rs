//! Task names for imported jobs. cron has no names, so kron makes one up:
//! the `# kron: task NAME` hint above a job (as `kron export` writes them)
//! if it is free, else the name of the program the job's command runs
//! (`/usr/local/bin/backup.sh --all` is `backup`), made unique with `-2`,
//! `-3`... `read` finds the hint; the choice is made here.
//!
//! This is apart from `read` because it is not about crontab's syntax or
//! what cron does: it is a rough guess about shell command lines, and it
//! decides only what a task is called, never what it does.

use std::collections::HashSet;

use super::Job;

/// A name for `job` not in `taken` (which it joins): its `# kron: task`
/// hint if free, else its program's name, else that name with `-2`, `-3`...
pub fn unique_name(job: &Job, taken: &mut HashSet<String>) -> String {
    if let Some(hint) = &job.name_hint
        && taken.insert(hint.clone())
    {
        return hint.clone();
    }
    let base = program_name(&job.command);
    if taken.insert(base.clone()) {
        return base;
    }
    for n in 2.. {
        let suffix = format!("-{n}");
        let stem: String = base.chars().take(64 - suffix.len()).collect();
        let name = format!("{}{suffix}", stem.trim_end_matches('-'));
        if taken.insert(name.clone()) {
            return name;
        }
    }
    unreachable!("some suffix is free")
}

/// The program a shell command runs, as a task name: the basename of the
/// first command word that is not a wrapper (`nice`, `env`, ...), a
/// condition (`test`, `[`, `cd`) or an interpreter of a script (`bash
/// backup.sh` gives `backup`), sanitised to 1-64 of `a-z 0-9 _ -`.
pub fn program_name(command: &str) -> String {
    let segments = shell_segments(command);
    let mut fallback = None;
    for words in &segments {
        let Some(program) = program_of(words) else {
            continue;
        };
        let base = basename(&program);
        if NOISE.contains(&base.as_str()) {
            fallback.get_or_insert(base);
            continue;
        }
        return sanitise(&base);
    }
    sanitise(&fallback.unwrap_or_default())
}

const NOISE: [&str; 17] = [
    "cd", "test", "[", "[[", "true", "false", ":", "sleep", "export", "set", "umask", ".",
    "source", "for", "case", "echo", "printf",
];
const RESERVED: [&str; 9] = [
    "if", "then", "else", "elif", "do", "while", "until", "!", "time",
];
const WRAPPERS: [&str; 13] = [
    "exec",
    "nice",
    "ionice",
    "nohup",
    "env",
    "sudo",
    "chronic",
    "command",
    "setsid",
    "timeout",
    "flock",
    "doas",
    "systemd-cat",
];
const INTERPRETERS: [&str; 12] = [
    "sh", "bash", "dash", "zsh", "ksh", "python", "python3", "perl", "php", "ruby", "node",
    "busybox",
];

fn program_of(words: &[String]) -> Option<String> {
    let is_assignment = |w: &str| {
        w.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    let mut i = 0;
    while i < words.len() && (RESERVED.contains(&words[i].as_str()) || is_assignment(&words[i])) {
        i += 1;
    }
    loop {
        let program = words.get(i)?;
        let base = basename(program);
        let interpreter = INTERPRETERS.contains(&base.as_str());
        if !interpreter && !WRAPPERS.contains(&base.as_str()) {
            return Some(program.clone());
        }
        // Skip the options, and the values of the usual ones that take one.
        let mut j = i + 1;
        while let Some(w) = words.get(j) {
            if base == "env" && is_assignment(w) {
                j += 1;
            } else if interpreter && w == "-c" {
                return Some(program.clone());
            } else if interpreter && w == "-m" {
                return Some(words.get(j + 1).unwrap_or(program).clone());
            } else if w.starts_with('-') && w.len() > 1 {
                j += if option_takes_value(&base, w) { 2 } else { 1 };
            } else {
                break;
            }
        }
        if base == "timeout" || base == "flock" {
            j += 1; // the duration, the lock file
        }
        match words.get(j) {
            None => return Some(program.clone()),
            Some(script) if interpreter => return Some(script.clone()),
            Some(_) => i = j,
        }
    }
}

fn option_takes_value(program: &str, option: &str) -> bool {
    matches!(
        (program, option),
        ("nice", "-n")
            | ("ionice", "-c" | "-n")
            | ("sudo" | "doas", "-u" | "-g")
            | ("timeout", "-s" | "-k")
            | ("flock", "-w" | "-E")
    )
}

/// The last path component, without a script extension.
fn basename(word: &str) -> String {
    let base = word.rsplit('/').next().unwrap_or(word);
    for ext in [".sh", ".bash", ".zsh", ".py", ".pl", ".rb", ".php", ".js"] {
        if let Some(stem) = base.strip_suffix(ext)
            && !stem.is_empty()
        {
            return stem.to_string();
        }
    }
    base.to_string()
}

fn sanitise(word: &str) -> String {
    let mut name = String::new();
    for c in word.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-');
    let name: String = name.chars().take(64).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        "task".into()
    } else {
        name.into()
    }
}

/// Simple commands of a shell command line, as words with quotes removed.
/// Rough, but only used to pick a name.
fn shell_segments(command: &str) -> Vec<Vec<String>> {
    let mut segments = vec![Vec::new()];
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = command.chars().peekable();
    let end_word = |segments: &mut Vec<Vec<String>>, current: &mut String, in_word: &mut bool| {
        if *in_word {
            let word = std::mem::take(current);
            if word == "{" || word == "}" {
                segments.push(Vec::new());
            } else {
                segments.last_mut().expect("never empty").push(word);
            }
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    current.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => current.extend(chars.next()),
                        c => current.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                current.extend(chars.next());
            }
            ';' | '&' | '|' | '(' | ')' | '\n' => {
                end_word(&mut segments, &mut current, &mut in_word);
                segments.push(Vec::new());
            }
            c if c.is_whitespace() => end_word(&mut segments, &mut current, &mut in_word),
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    end_word(&mut segments, &mut current, &mut in_word);
    segments.retain(|s| !s.is_empty());
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_program() {
        let cases = [
            ("/usr/local/bin/backup.sh --all", "backup"),
            ("cd / && run-parts --report /etc/cron.hourly", "run-parts"),
            (
                "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
                "run-parts",
            ),
            (
                "[ -x /usr/lib/php/sessionclean ] && /usr/lib/php/sessionclean",
                "sessionclean",
            ),
            ("FOO=1 nice -n 10 ionice -c3 pg_dump db > x", "pg_dump"),
            ("env LANG=C /opt/My.App/Run.Me", "run-me"),
            ("bash -c 'echo hi'", "bash"),
            ("python3 /srv/jobs/cleanup.py", "cleanup"),
            ("python3 -m http.server", "http-server"),
            ("\"$HOME/bin/sync mail\" now", "sync-mail"),
            ("timeout 1h rsync -a src dst", "rsync"),
            ("flock -n /tmp/lock /usr/bin/certbot renew", "certbot"),
            ("sleep 10; echo hi", "sleep"),
            ("if [ -f x ]; then make; fi", "make"),
            ("...", "task"),
        ];
        for (command, name) in cases {
            assert_eq!(program_name(command), name, "{command}");
        }
        let long = "x".repeat(100);
        assert_eq!(program_name(&long).len(), 64);
        let mut taken: HashSet<String> = ["backup".to_string()].into();
        let j = Job {
            command: "backup".into(),
            ..Job::default()
        };
        assert_eq!(unique_name(&j, &mut taken), "backup-2");
        assert_eq!(unique_name(&j, &mut taken), "backup-3");
        let j = Job {
            command: long,
            ..Job::default()
        };
        assert_eq!(unique_name(&j, &mut taken).len(), 64);
        let second = unique_name(&j, &mut taken);
        assert!(second.ends_with("-2") && second.len() == 64, "{second}");
    }
}
