//! Task names for imported jobs. cron has no names, so kron makes one up:
//! the `# kron: task NAME` hint above a job (as `kron export` writes them)
//! if it is free, else the comment right above the job (`# Nightly
//! backup.` is `nightly-backup`), else the name of the program the job's
//! command runs (`/usr/local/bin/backup.sh --all` is `backup`), made unique
//! with `-2`, `-3`... `read` finds the hint and the comment; the choice is
//! made here.
//!
//! This is apart from `read` because it is not about crontab's syntax or
//! what cron does: it is a rough guess about shell command lines, and it
//! decides only what a task is called, never what it does.

use std::collections::HashSet;

use super::Job;

/// A name for `job` not in `taken` (which it joins): its `# kron: task`
/// hint if free, else the name its comment gives ([`comment_name`]), else
/// its program's name, else that name with `-2`, `-3`...
pub fn unique_name(job: &Job, taken: &mut HashSet<String>) -> String {
    if let Some(hint) = &job.name_hint
        && taken.insert(hint.clone())
    {
        return hint.clone();
    }
    let base = job
        .description
        .as_deref()
        .and_then(comment_name)
        .unwrap_or_else(|| program_name(&job.command));
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

/// Longest name [`comment_name`] makes: a name is typed (`kron run NAME`).
const COMMENT_NAME_MAX: usize = 32;

/// Words left out at either end of a name made from a comment.
const FILLER: [&str; 15] = [
    "a", "an", "the", "and", "or", "of", "to", "for", "in", "on", "at", "by", "with", "after",
    "before",
];

/// A task name from the comment above a job: its first phrase (up to `.`,
/// `,`, `;`, `:`, `!` or `?` before a blank, ` -- ` or `(`), lowercased,
/// accents taken off, every run of other characters a `-`, without filler
/// words (`a`, `the`, `of`, ...) at either end, and cut at a word to at most
/// 32 characters: `# Nightly backup of /home.` is `nightly-backup-of-home`.
/// `None` when no word is left.
pub fn comment_name(comment: &str) -> Option<String> {
    let mut phrase = comment;
    let chars: Vec<(usize, char)> = comment.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        let next = chars.get(i + 1).map(|&(_, c)| c);
        let ends = match c {
            '.' | ',' | ';' | ':' | '!' | '?' => next.is_none_or(char::is_whitespace),
            '(' => true,
            '-' => comment[at..].starts_with("-- "),
            _ => false,
        };
        if ends {
            phrase = &comment[..at];
            break;
        }
    }
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in phrase.chars() {
        let plain = unaccented(c.to_lowercase().next().unwrap_or(c));
        if plain
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && !plain.is_empty()
        {
            word.push_str(&plain);
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let filler = |w: &String| FILLER.contains(&w.as_str());
    while words.first().is_some_and(filler) {
        words.remove(0);
    }
    let mut name = String::new();
    for word in &words {
        let longer = name.len() + usize::from(!name.is_empty()) + word.len();
        if longer > COMMENT_NAME_MAX {
            if name.is_empty() {
                name = word.chars().take(COMMENT_NAME_MAX).collect();
            }
            break;
        }
        if !name.is_empty() {
            name.push('-');
        }
        name.push_str(word);
    }
    let mut kept: Vec<&str> = name.split('-').filter(|w| !w.is_empty()).collect();
    while kept.last().is_some_and(|w| FILLER.contains(w)) {
        kept.pop();
    }
    let name = kept.join("-");
    (!name.is_empty()).then_some(name)
}

/// `c` without its accent, for the letters of Western European languages
/// (`é` is `e`, `ß` is `ss`); any other character as it is.
fn unaccented(c: char) -> String {
    let plain = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
        'æ' => "ae",
        'ç' => "c",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'œ' => "oe",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        c => return c.to_string(),
    };
    plain.to_string()
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
    fn names_come_from_the_comment_above() {
        let cases = [
            ("Nightly backup.", Some("nightly-backup")),
            (
                "Back up the database. Nightly.",
                Some("back-up-the-database"),
            ),
            ("A dated backup: every % escaped", Some("dated-backup")),
            (
                "run at 10 pm on weekdays, annoy Joe",
                Some("run-at-10-pm-on-weekdays"),
            ),
            (
                "run at 2:15pm on the first of every month -- output mailed to paul",
                Some("run-at-2-15pm-on-the-first"),
            ),
            (
                "Execute early the next morning following the first Thursday",
                Some("execute-early-the-next-morning"),
            ),
            (
                "Renew certificates (twice a day)",
                Some("renew-certificates"),
            ),
            ("An empty input after the %.", Some("empty-input")),
            (
                "Sauvegarde de la base — café",
                Some("sauvegarde-de-la-base-cafe"),
            ),
            ("Rotate /var/log/app.log", Some("rotate-var-log-app-log")),
            ("TODO", Some("todo")),
            (&"x".repeat(40), Some(&*"x".repeat(32))),
            ("---", None),
            ("the", None),
            ("日本語", None),
        ];
        for (comment, name) in cases {
            assert_eq!(comment_name(comment).as_deref(), name, "{comment}");
            if let Some(name) = name {
                assert!(crate::taskfile::valid_name(name), "{name}");
            }
        }
        let mut taken: HashSet<String> = ["nightly-backup".to_string()].into();
        let j = Job {
            description: Some("Nightly backup.".into()),
            command: "tar czf x".into(),
            ..Job::default()
        };
        assert_eq!(unique_name(&j, &mut taken), "nightly-backup-2");
        let j = Job {
            description: Some("...".into()),
            command: "tar czf x".into(),
            ..Job::default()
        };
        assert_eq!(unique_name(&j, &mut taken), "tar");
    }

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
