//! Starting the daemon at login where no service manager does (containers,
//! WSL, OpenRC, runit, minimal servers): an XDG autostart entry,
//! `$XDG_CONFIG_HOME/autostart/kron.desktop`, which desktop sessions run
//! when you log in, and a line for the login profile (`~/.profile`,
//! `~/.bash_profile`, `~/.zprofile`, ...), which kron prints and never
//! writes: a user's shell files are theirs.
//!
//! Both run `kron daemon start`, not `daemon run`: it starts the daemon in
//! a session of its own, so the daemon outlives the desktop session's
//! processes and the login shell, and it returns at once when one runs
//! already (the daemon lock decides, as for every start). Neither carries
//! environment variables, as the systemd unit does: they run in the login's
//! own environment, which is the one the `kron` you type sees.

use std::path::{Path, PathBuf};

use super::{Spec, config_home, shell_word};
use crate::dirs;

/// The autostart entry's file name.
pub const DESKTOP_ENTRY: &str = "kron.desktop";

/// `$XDG_CONFIG_HOME/autostart/kron.desktop`.
pub fn desktop_entry_path() -> PathBuf {
    config_home().join("autostart").join(DESKTOP_ENTRY)
}

/// What both run: `EXE [--file FILE] daemon start`.
fn argv(spec: &Spec) -> Vec<String> {
    super::daemon_argv(spec, "start")
}

/// The XDG autostart entry (Desktop Entry Specification 1.5, "Autostart
/// of applications"): a hidden application started at login.
pub fn desktop_entry(spec: &Spec) -> String {
    let exec: Vec<String> = argv(spec).iter().map(|w| exec_word(w)).collect();
    format!(
        "\
# Written by `kron daemon install`; `kron daemon uninstall` removes it.
# Starts the daemon that runs your tasks when your desktop session starts
# (`kron daemon start` does nothing when one runs already).
[Desktop Entry]
Type=Application
Name=kron
Comment=Start the kron daemon, which runs your scheduled tasks
Exec={}
Terminal=false
NoDisplay=true
X-GNOME-Autostart-enabled=true
",
        exec.join(" ")
    )
}

/// An argument of `Exec=`: quoted when it holds a reserved character (with
/// `"`, `` ` ``, `$` and `\` escaped inside the quotes), `%` doubled (field
/// codes), then the value's own string escapes (`\\`, `\n`), which readers
/// undo first.
fn exec_word(word: &str) -> String {
    let reserved = |c: char| " \t\n\"'\\><~|&;$*?#()`".contains(c);
    let quoted = if word.is_empty() || word.chars().any(reserved) {
        let mut q = String::from("\"");
        for c in word.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        word.to_string()
    };
    quoted
        .replace('%', "%%")
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
}

/// The program an autostart entry runs: the first word of its `Exec=`.
pub fn exec_program(text: &str) -> Option<String> {
    let value = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Exec="))?
        .trim();
    // The string escapes first.
    let mut unescaped = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => unescaped.push('\n'),
                Some('t') => unescaped.push('\t'),
                Some('s') => unescaped.push(' '),
                Some('r') => unescaped.push('\r'),
                Some(other) => unescaped.push(other),
                None => {}
            },
            (c, false) => unescaped.push(c),
        }
    }
    let word = super::first_word(&unescaped)?;
    Some(word.replace("%%", "%"))
}

/// The line for a login profile: `EXE daemon start >/dev/null 2>&1`.
pub fn profile_line(spec: &Spec) -> String {
    let words: Vec<String> = argv(spec).iter().map(|w| shell_word(w)).collect();
    format!("{} >/dev/null 2>&1", words.join(" "))
}

/// Whether this looks like a desktop session, whose session manager runs
/// the XDG autostart entries.
pub fn desktop_session() -> bool {
    [
        "XDG_CURRENT_DESKTOP",
        "DESKTOP_SESSION",
        "WAYLAND_DISPLAY",
        "DISPLAY",
    ]
    .iter()
    .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

/// The login files a shell reads, in the user's home.
fn profiles(home: &Path) -> Vec<PathBuf> {
    [
        ".profile",
        ".bash_profile",
        ".bash_login",
        ".zprofile",
        ".zlogin",
        ".login",
        ".config/fish/config.fish",
    ]
    .iter()
    .map(|f| home.join(f))
    .collect()
}

/// The login file to add the line to, for the user's `$SHELL`: bash reads
/// `~/.bash_profile` (or `~/.bash_login`) instead of `~/.profile` when it
/// exists.
pub fn suggested_profile() -> PathBuf {
    let home = dirs::home();
    let shell = std::env::var("SHELL").unwrap_or_default();
    if shell.ends_with("/zsh") {
        return home.join(".zprofile");
    }
    if shell.ends_with("/fish") {
        return home.join(".config/fish/config.fish");
    }
    [".bash_profile", ".bash_login"]
        .iter()
        .map(|f| home.join(f))
        .find(|p| shell.ends_with("/bash") && p.exists())
        .unwrap_or_else(|| home.join(".profile"))
}

/// The first login file with a line that starts kron's daemon (not a
/// comment), and that line.
pub fn profile_with_line() -> Option<(PathBuf, String)> {
    profiles(&dirs::home()).into_iter().find_map(|path| {
        let text = std::fs::read_to_string(&path).ok()?;
        let line = text.lines().map(str::trim).find(|l| starts_kron(l))?;
        Some((path.clone(), line.to_string()))
    })
}

fn starts_kron(line: &str) -> bool {
    !line.starts_with('#')
        && line.contains(" daemon start")
        && line_program(line).is_some_and(|p| p == "kron" || p.ends_with("/kron"))
}

/// The program a profile line runs: its first word, as sh reads a plain,
/// single-quoted or double-quoted word.
pub fn line_program(line: &str) -> Option<String> {
    let line = line.trim_start();
    let word = match line.chars().next()? {
        quote @ ('\'' | '"') => line[1..].split(quote).next()?,
        _ => line.split_whitespace().next()?,
    };
    Some(word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(exe: &str, file: Option<&str>) -> Spec {
        Spec {
            exe: exe.into(),
            task_file: file.map(PathBuf::from),
            env: vec![("XDG_STATE_HOME".into(), "/srv/state".into())],
            log: "/x".into(),
        }
    }

    #[test]
    fn the_entry_starts_the_daemon_with_its_file() {
        let entry = desktop_entry(&spec("/usr/bin/kron", None));
        assert!(
            entry.contains("\nExec=/usr/bin/kron daemon start\n"),
            "{entry}"
        );
        assert!(entry.contains("\n[Desktop Entry]\nType=Application\n"));
        assert_eq!(exec_program(&entry).as_deref(), Some("/usr/bin/kron"));
        // No environment: the session's own applies.
        assert!(!entry.contains("XDG_STATE_HOME"));
        let odd = desktop_entry(&spec("/opt/my $tools/kron", Some("/home/me/100%/t.toml")));
        assert!(
            odd.contains(
                "\nExec=\"/opt/my \\\\$tools/kron\" --file /home/me/100%%/t.toml daemon start\n"
            ),
            "{odd}"
        );
        assert_eq!(exec_program(&odd).as_deref(), Some("/opt/my $tools/kron"));
    }

    #[test]
    fn the_profile_line_is_quoted_for_sh() {
        assert_eq!(
            profile_line(&spec("/opt/my tools/kron", Some("/t.toml"))),
            "'/opt/my tools/kron' --file /t.toml daemon start >/dev/null 2>&1"
        );
        assert!(starts_kron(
            "'/opt/my tools/kron' daemon start >/dev/null 2>&1"
        ));
        assert!(starts_kron("kron daemon start"));
        assert!(!starts_kron("# kron daemon start"));
        assert!(!starts_kron("echo kron daemon start"));
        assert_eq!(
            line_program("'/opt/my tools/kron' daemon start").as_deref(),
            Some("/opt/my tools/kron")
        );
    }
}
