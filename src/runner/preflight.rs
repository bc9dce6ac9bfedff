//! What can be told about a task before it runs: whether its working
//! directory is there and whether the programs it starts can be found on
//! its own `PATH`, as [`super::spawn`] and the shell will look for them.
//! Either missing makes every run fail hours later with exit status 127,
//! so `kron add`, `kron set`, `kron check` and `kron doctor` say so at once.
//! They warn and never refuse: a directory may be mounted, a program
//! installed, before the first run.
//!
//! For a shell command the programs are the first word of each simple
//! command that is plain text (no `$`, quotes around parts, globs or
//! backquotes): builtins and keywords are skipped, and nothing is judged
//! in a command that changes its `PATH` or defines functions, after a `cd`
//! (for relative paths), or in a `for` or `case` clause. The shell itself
//! is checked too. A rough reading of shell, but it only ever warns.

use std::path::{Path, PathBuf};

use super::spawn;
use crate::taskfile::{Task, TaskCommand};

/// Shell words that are not programs on `PATH`.
const BUILTINS: [&str; 44] = [
    "!", "[", "[[", ".", ":", "alias", "bg", "break", "builtin", "case", "cd", "command",
    "continue", "do", "done", "echo", "elif", "else", "esac", "eval", "exec", "exit", "export",
    "false", "fg", "fi", "for", "getopts", "if", "jobs", "kill", "local", "printf", "pwd", "read",
    "return", "set", "shift", "source", "test", "then", "trap", "true", "wait",
];
const MORE_BUILTINS: [&str; 11] = [
    "time", "type", "ulimit", "umask", "unalias", "unset", "until", "while", "{", "}", "hash",
];

/// Each problem found, as a sentence that names the task.
pub fn warnings(task: &Task) -> Vec<String> {
    let mut found = Vec::new();
    let plan = spawn::plan(
        task,
        &spawn::AttemptInfo {
            run_id: "",
            attempt: 1,
            scheduled: None,
            cluster: None,
        },
    );
    let workdir = plan.workdir.is_dir().then_some(plan.workdir.as_path());
    if workdir.is_none() {
        let what = if plan.workdir.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        found.push(format!(
            "{}: workdir {} {what}: its runs fail (exit 127) until it does",
            task.name,
            plan.workdir.display()
        ));
    }
    let path = plan.env.get("PATH").map_or("", String::as_str);
    let mut programs = vec![(plan.program.clone(), false)];
    if let TaskCommand::Shell(text) = &task.command {
        programs.extend(shell_programs(text));
    }
    for (program, after_cd) in programs {
        let relative = program.contains('/') && !program.starts_with('/');
        if relative && (after_cd || workdir.is_none()) {
            continue;
        }
        let home = crate::dirs::home();
        let dir = workdir.unwrap_or(&home);
        if let Some(problem) = missing(&program, path, dir) {
            found.push(format!("{}: {problem}", task.name));
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|f| seen.insert(f.clone()));
    found
}

/// Why `program` cannot be started from `workdir` with `PATH` `path`, if it
/// cannot.
fn missing(program: &str, path: &str, workdir: &Path) -> Option<String> {
    let fails = "its runs fail (exit 127) until it is there";
    if program.contains('/') {
        let file = workdir.join(crate::dirs::expand_home(program));
        return if !file.exists() {
            Some(format!("`{program}` does not exist: {fails}"))
        } else if !executable(&file) {
            Some(format!(
                "`{program}` is not an executable file: its runs fail (exit 126)"
            ))
        } else {
            None
        };
    }
    match spawn::resolve(program, path, workdir) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Some(format!(
            "`{program}` is on the task's PATH but not executable: its runs fail (exit 126)"
        )),
        Err(_) => Some(format!(
            "`{program}` is not found on the task's PATH ({path}): {fails} \
             (give its full path, or set env.PATH)"
        )),
    }
}

fn executable(file: &PathBuf) -> bool {
    use nix::unistd::{AccessFlags, access};
    file.is_file() && access(file, AccessFlags::X_OK).is_ok()
}

/// The programs a shell command line starts, each with whether a `cd`
/// came before it; see the module's heading for what is left out.
fn shell_programs(command: &str) -> Vec<(String, bool)> {
    if command.contains("()") || command.contains("PATH") {
        return Vec::new();
    }
    let mut programs = Vec::new();
    let mut after_cd = false;
    for words in simple_commands(command) {
        let Some(words) = words else {
            continue;
        };
        let mut rest = words.iter().skip_while(|w| is_assignment(w));
        let Some(first) = rest.next() else {
            continue;
        };
        let first = first.as_str();
        if first == "for" || first == "case" {
            // Their words are not commands up to `do` or `)`.
            break;
        }
        if first == "cd" {
            after_cd = true;
        }
        let keyword = BUILTINS.contains(&first) || MORE_BUILTINS.contains(&first);
        if keyword {
            // `then cmd`, `do cmd`, `! cmd`: the next word is the program.
            if let Some(next) = rest.next().filter(|_| {
                matches!(
                    first,
                    "then" | "do" | "else" | "!" | "if" | "while" | "until" | "time"
                )
            }) && !BUILTINS.contains(&next.as_str())
                && !MORE_BUILTINS.contains(&next.as_str())
            {
                programs.push((next.clone(), after_cd));
            }
            continue;
        }
        programs.push((first.to_string(), after_cd));
    }
    programs
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The simple commands of a shell command line, split at `;`, `&`, `|`,
/// `(`, `)` and newlines outside quotes: their words, or `None` for one
/// whose first word is not plain text (so its program cannot be told).
fn simple_commands(command: &str) -> Vec<Option<Vec<String>>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut plain = true;
    let mut quote: Option<char> = None;
    let end_word = |words: &mut Vec<String>, word: &mut String, plain: &mut bool| {
        if !word.is_empty() || !*plain {
            if words.is_empty() && !*plain {
                words.push(String::new());
            } else {
                words.push(std::mem::take(word));
            }
            word.clear();
            *plain = true;
        }
    };
    let mut chars = command.chars().peekable();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        let before = std::mem::replace(&mut previous, c);
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            plain = false;
            continue;
        }
        match c {
            '#' if word.is_empty() && plain => {
                // A comment, to the end of the line.
                while chars.next_if(|&c| c != '\n').is_some() {}
            }
            // `2>&1`, `<&3`, `&>file`: redirections, not `&`.
            '&' if matches!(before, '>' | '<') || chars.peek() == Some(&'>') => {
                plain = false;
                word.push(c);
            }
            '\'' | '"' => {
                quote = Some(c);
                plain = false;
            }
            '\\' => {
                chars.next();
                plain = false;
            }
            '$' | '`' | '*' | '?' | '[' | '<' | '>' => {
                plain = false;
                word.push(c);
            }
            ';' | '&' | '|' | '(' | ')' | '\n' => {
                end_word(&mut words, &mut word, &mut plain);
                let taken = std::mem::take(&mut words);
                if !taken.is_empty() {
                    let judged = !taken[0].is_empty();
                    commands.push(judged.then_some(taken));
                }
            }
            c if c.is_whitespace() => end_word(&mut words, &mut word, &mut plain),
            c => word.push(c),
        }
    }
    end_word(&mut words, &mut word, &mut plain);
    if !words.is_empty() {
        let judged = !words[0].is_empty();
        commands.push(judged.then_some(words));
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_programs_of_a_shell_command() {
        let names = |command: &str| -> Vec<String> {
            shell_programs(command)
                .into_iter()
                .map(|(p, cd)| if cd { format!("{p} (after cd)") } else { p })
                .collect()
        };
        assert_eq!(names("pg_dump db | gzip > db.gz"), ["pg_dump", "gzip"]);
        assert_eq!(
            names("LANG=C sort -u x && ./run.sh; cd /srv && ./go"),
            ["sort", "./run.sh", "./go (after cd)"]
        );
        assert_eq!(names("if [ -f x ]; then make all; fi"), ["make"]);
        assert_eq!(
            names("\"$HOME/bin/x\" a; $CMD; `which y`"),
            Vec::<String>::new()
        );
        assert_eq!(names("echo hi; true"), Vec::<String>::new());
        assert_eq!(
            names("tar czf x 'a b' 2>&1 | mail -s \"x y\" me"),
            ["tar", "mail"]
        );
        assert_eq!(names("(backup --all) & wait"), ["backup"]);
        assert_eq!(names("export PATH=~/bin:$PATH; mine"), Vec::<String>::new());
        assert_eq!(names("f() { g; }; f"), Vec::<String>::new());
        assert_eq!(
            names("run >log 2>&1 &>x; # then\nnext # not this"),
            ["run", "next"]
        );
        assert_eq!(names("for f in *; do gzip $f; done"), Vec::<String>::new());
    }
}
