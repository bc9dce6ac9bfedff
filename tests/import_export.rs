//! `kron import` and `kron export --format crontab` on real crontab files
//! (`tests/fixtures/crontabs/`): every imported task fires at the same 50
//! instants as its crontab line, bad lines are reported with their numbers,
//! and an exported crontab imports back to the same tasks.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kron::schedule::{Schedule, Zone};
use serde_json::Value;

use crate::util::{Env, Outcome};

/// Before the daylight-saving changes of March 2026 (US on the 8th, Europe
/// on the 29th), so that frequent schedules cross one.
const AFTER: &str = "2026-03-06T12:00:00Z";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/crontabs")
        .join(name)
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// A job line as this test reads it, without kron's crontab reader.
#[derive(Debug)]
struct Line {
    number: usize,
    schedule: String,
    /// `CRON_TZ` in force, else `None`.
    zone: Option<String>,
}

/// The job lines of a crontab, read the simple way: comments and blank
/// lines skipped, `NAME=value` lines (only `CRON_TZ` matters here) noted,
/// and the first five fields (or the macro) of every other line.
fn job_lines(text: &str) -> Vec<Line> {
    let mut zone = None;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((name, value)) = line.split_once('=') {
            let name = name.trim();
            let first = name.chars().next().unwrap_or(' ');
            if !name.contains(char::is_whitespace) && (first.is_ascii_alphabetic() || first == '_')
            {
                if name == "CRON_TZ" {
                    let value = value.trim().trim_matches(['"', '\'']);
                    zone = (!value.is_empty()).then(|| value.to_string());
                }
                continue;
            }
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let schedule = if words[0].starts_with('@') {
            words[0].to_string()
        } else {
            words[..5].join(" ")
        };
        lines.push(Line {
            number: i + 1,
            schedule,
            zone: zone.clone(),
        });
    }
    lines
}

/// The `line N: NAME` report of `kron import`.
fn imported(out: &Outcome) -> BTreeMap<usize, String> {
    let mut map = BTreeMap::new();
    for line in out.stdout().lines().filter(|l| l.starts_with("  line ")) {
        let rest = line.trim_start().strip_prefix("line ").unwrap();
        let (number, rest) = rest.split_once(':').unwrap();
        let name = rest.split_whitespace().next().unwrap();
        map.insert(number.parse().unwrap(), name.to_string());
    }
    map
}

/// The next 50 instants of `schedule` in `zone`, computed by kron's engine
/// as the original crontab line means them.
fn expected_instants(schedule: &str, zone: &str) -> Vec<String> {
    let zone = Zone::get(zone).unwrap();
    let schedule = Schedule::parse(schedule, zone.clone()).unwrap();
    schedule
        .upcoming(AFTER.parse().unwrap())
        .take(50)
        .map(|t| {
            t.to_zoned(zone.time_zone().clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .collect()
}

/// `kron next TASK -n 50 --json`, the system zone being `tz`.
fn task_instants(env: &Env, name: &str, tz: &str) -> Vec<String> {
    let out = env
        .kron(&["next", name, "-n", "50", "--json", "--after", AFTER])
        .env("TZ", tz)
        .output();
    out.success();
    serde_json::from_str(&out.stdout()).unwrap()
}

fn show(env: &Env, name: &str, tz: &str) -> Value {
    let out = env.kron(&["show", name, "--json"]).env("TZ", tz).output();
    out.success();
    serde_json::from_str(&out.stdout()).unwrap()
}

/// Imports `text` (the system zone being `tz`) and checks that each job line
/// became one task that fires at the same next 50 instants as the line.
#[track_caller]
fn import_and_compare(env: &Env, text: &str, args: &[&str], tz: &str) -> BTreeMap<usize, String> {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    all.push("-");
    let out = env.kron(&all).env("TZ", tz).output_with_stdin(text);
    out.success();
    let names = imported(&out);
    let lines = job_lines(text);
    assert_eq!(
        names.keys().copied().collect::<Vec<_>>(),
        lines.iter().map(|l| l.number).collect::<Vec<_>>(),
        "{}",
        out.stdout()
    );
    for line in &lines {
        let name = &names[&line.number];
        let zone = line.zone.as_deref().unwrap_or(tz);
        assert_eq!(
            task_instants(env, name, tz),
            expected_instants(&line.schedule, zone),
            "line {} ({}) as task {name}",
            line.number,
            line.schedule
        );
    }
    env.kron(&["check"]).env("TZ", tz).output().success();
    names
}

#[test]
fn every_fixture_imports_with_the_same_next_50_instants() {
    for (name, tz) in [
        ("crontab5-vixie", "America/New_York"),
        ("crontab5-cronie", "Europe/Berlin"),
        ("debian-user", "UTC"),
        ("percent", "Australia/Lord_Howe"),
        ("cron-tz", "America/New_York"),
        ("mailto-reboot-spacing", "Europe/London"),
    ] {
        let env = Env::new();
        let names = import_and_compare(&env, &read_fixture(name), &[], tz);
        assert!(!names.is_empty(), "{name}");
    }
}

#[test]
fn import_reads_a_file_argument_too() {
    let env = Env::new();
    let path = fixture("debian-user");
    let out = env.kron(&["import", path.to_str().unwrap()]).output();
    out.success();
    let names: Vec<String> = imported(&out).into_values().collect();
    // A comment right above a job names it.
    assert_eq!(
        names,
        [
            "tar",
            "renew-certificates-twice-a-day",
            "fetch-mail",
            "tar-2"
        ]
    );
}

#[test]
fn percent_becomes_stdin() {
    let env = Env::new();
    let names = import_and_compare(&env, &read_fixture("percent"), &[], "UTC");
    let by_name: BTreeMap<&str, usize> = names.iter().map(|(l, n)| (n.as_str(), *l)).collect();
    assert_eq!(
        by_name.keys().copied().collect::<Vec<_>>(),
        [
            "dated-backup",
            "empty-input",
            "input-ending-in-a-backslash",
            "letter-on-standard-input"
        ]
    );

    let tar = show(&env, "dated-backup", "UTC");
    assert_eq!(
        tar["command"],
        "tar czf /backups/home-$(date +%Y-%m-%d).tgz /home"
    );
    assert_eq!(tar["settings"]["stdin"], Value::Null);

    let mail = show(&env, "letter-on-standard-input", "UTC");
    assert_eq!(
        mail["command"],
        "mail -s \"Monthly report\" boss@example.org"
    );
    assert_eq!(
        mail["settings"]["stdin"],
        "Dear boss,\n\nall is well (100% uptime).\n\n-- cron"
    );
    assert_eq!(mail["description"], "A letter on standard input.");

    let cat = show(&env, "input-ending-in-a-backslash", "UTC");
    assert_eq!(cat["command"], "cat >> /tmp/log.txt\\\\");
    assert_eq!(cat["settings"]["stdin"], "line one%\nline two\\");

    let wc = show(&env, "empty-input", "UTC");
    assert_eq!(wc["command"], "wc -l");
    assert_eq!(wc["settings"]["stdin"], Value::Null);
}

#[test]
fn variables_apply_to_the_lines_after_them() {
    let env = Env::new();
    import_and_compare(&env, &read_fixture("cron-tz"), &[], "America/Chicago");
    let zone = |name: &str| show(&env, name, "America/Chicago")["settings"]["timezone"].clone();
    assert_eq!(zone("several-zones"), "America/Chicago");
    assert_eq!(zone("fixed-time"), "America/New_York");
    assert_eq!(zone("berlin"), "Europe/Berlin");
    assert_eq!(zone("lord-howe"), "Australia/Lord_Howe");
    assert_eq!(zone("back-to-system"), "America/Chicago");
    // TZ is the command's environment, not the schedule's zone (as in cron).
    let six = show(&env, "six-hourly", "America/Chicago");
    assert_eq!(six["settings"]["timezone"], "Europe/Berlin");
    assert_eq!(
        six["settings"]["env"],
        serde_json::json!({"TZ": "Asia/Kolkata"})
    );
    assert_eq!(
        show(&env, "wildcard", "UTC")["settings"]["env"],
        serde_json::json!({})
    );
    let file = env.read_task_file().unwrap();
    assert!(!file.contains("CRON_TZ ="), "{file}");

    let env = Env::new();
    import_and_compare(&env, &read_fixture("mailto-reboot-spacing"), &[], "UTC");
    let start = show(&env, "start-tunnel", "UTC");
    assert_eq!(start["schedule"], "@reboot");
    assert_eq!(
        start["settings"]["env"],
        serde_json::json!({
            "MAILTO": "ops@example.org",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": "/srv/app",
            "GREETING": " hello world ",
            "LANG": "C.UTF-8",
        })
    );
    // cron runs a job in $HOME.
    assert_eq!(start["settings"]["workdir"], "/srv/app");
    let check = show(&env, "check", "UTC");
    assert_eq!(check["schedule"], "*/7 * * * *");
    assert_eq!(check["command"], "/usr/local/bin/check");
    assert_eq!(start["settings"]["mailto"], "ops@example.org");
    assert_eq!(show(&env, "quiet", "UTC")["settings"]["env"]["MAILTO"], "");
    // MAILTO="" sends no mail: so does kron without mailto.
    assert_eq!(
        show(&env, "quiet", "UTC")["settings"]["mailto"],
        serde_json::Value::Null
    );
    assert_eq!(
        show(&env, "quarterly", "UTC")["schedule"],
        "0 9-17/2 * JAN-MAR,oct Mon-Fri"
    );

    // SHELL: only written when it is not kron's /bin/sh.
    let env = Env::new();
    import_and_compare(&env, &read_fixture("crontab5-vixie"), &[], "UTC");
    let file = env.read_task_file().unwrap();
    assert!(!file.contains("shell"), "{file}");
    let mail = show(&env, "run-at-10-pm-on-weekdays", "UTC");
    assert_eq!(
        mail["settings"]["env"],
        serde_json::json!({"MAILTO": "paul"})
    );
    assert_eq!(mail["settings"]["mailto"], "paul");
    assert_eq!(mail["settings"]["stdin"], "Joe,\n\nWhere are your kids?\n");
}

#[test]
fn descriptions_come_from_the_comments_directly_above() {
    let env = Env::new();
    import_and_compare(&env, &read_fixture("crontab5-vixie"), &[], "UTC");
    let description = |name: &str| show(&env, name, "UTC")["description"].clone();
    assert_eq!(
        description("run-five-minutes-after-midnight"),
        "run five minutes after midnight, every day"
    );
    assert_eq!(
        description("run-at-10-pm-on-weekdays"),
        "run at 10 pm on weekdays, annoy Joe"
    );
    assert_eq!(description("echo"), Value::Null);

    // Debian's template ends in a field legend, which describes nothing.
    let env = Env::new();
    import_and_compare(&env, &read_fixture("debian-user"), &[], "UTC");
    let description = |name: &str| show(&env, name, "UTC")["description"].clone();
    assert_eq!(description("tar"), Value::Null);
    assert_eq!(
        description("renew-certificates-twice-a-day"),
        "Renew certificates twice a day."
    );

    let env = Env::new();
    import_and_compare(&env, &read_fixture("crontab5-cronie"), &[], "UTC");
    assert_eq!(
        show(&env, "execute-early-the-next-morning", "UTC")["description"],
        "Execute early the next morning following the first Thursday of each month"
    );
}

#[test]
fn an_unescaped_percent_is_warned_about_and_a_comment_names_its_job() {
    let line = "30 2 * * * tar czf /b/home-$(date +%Y-%m-%d).tgz /home";
    let fixed = "30 2 * * * tar czf /b/home-$(date +\\%Y-\\%m-\\%d).tgz /home";
    let crontab = format!("# Nightly backup of /home.\n{line}\n5 * * * * mail me%Dear me%\n");
    for dry_run in [true, false] {
        let env = Env::new();
        let args: &[&str] = if dry_run {
            &["import", "--dry-run", "-"]
        } else {
            &["import", "-"]
        };
        let out = env.kron(args).output_with_stdin(&crontab);
        out.success();
        let stderr = out.stderr();
        assert!(
            stderr.contains(
                "stdin:2: warning: the unescaped `%` ends the command, as in cron: it runs \
                 `tar czf /b/home-$(date +` with \"Y-\\nm-\\nd).tgz /home\" on its standard input"
            ) && stderr.contains(&format!("\n  | {line}\n"))
                && stderr.contains(&format!("write `\\%`: {fixed}\n")),
            "{stderr}"
        );
        // Standard input that reads as words is what `%` is for: no warning.
        assert!(!stderr.contains("stdin:3:"), "{stderr}");
        if dry_run {
            assert!(
                out.stdout()
                    .starts_with("# kron: imported from stdin\n[tasks.nightly-backup-of-home]\n"),
                "{}",
                out.stdout()
            );
            continue;
        }
        assert_eq!(
            imported(&out),
            BTreeMap::from([
                (2, "nightly-backup-of-home".to_string()),
                (3, "mail".to_string())
            ])
        );
        // Imported as cron runs it.
        let task = show(&env, "nightly-backup-of-home", "UTC");
        assert_eq!(task["command"], "tar czf /b/home-$(date +");
        assert_eq!(task["description"], "Nightly backup of /home.");
    }
    // The fix reads back as meant, without a warning.
    let env = Env::new();
    let out = env
        .kron(&["import", "-"])
        .output_with_stdin(&format!("# Nightly backup of /home.\n{fixed}\n"));
    out.success();
    assert_eq!(out.stderr(), "");
    assert_eq!(
        show(&env, "nightly-backup-of-home", "UTC")["command"],
        "tar czf /b/home-$(date +%Y-%m-%d).tgz /home"
    );
}

const EXISTING: &str = "# my tasks, by hand
[defaults]
timezone = \"Asia/Tokyo\"   # most of my tasks
shell = \"/bin/bash\"

[tasks.tar]
schedule = \"@daily\"
command = [\"tar\", \"czf\", \"/tmp/x.tgz\", \"/etc\"]
# the end, without a newline";

#[test]
fn import_appends_to_the_file_keeping_it_byte_for_byte_and_never_clashing() {
    let env = Env::new();
    env.write_task_file(EXISTING);
    let out = env
        .kron(&["import", "-"])
        .output_with_stdin(&read_fixture("debian-user"));
    out.success();
    let names: Vec<String> = imported(&out).into_values().collect();
    assert_eq!(
        names,
        [
            "tar-2",
            "renew-certificates-twice-a-day",
            "fetch-mail",
            "tar-3"
        ]
    );
    let file = env.read_task_file().unwrap();
    assert!(file.starts_with(EXISTING), "{file}");
    assert!(
        file[EXISTING.len()..]
            .starts_with("\n\n# kron: imported from stdin\n[tasks.tar-2]\nschedule = "),
        "{file}"
    );
    // [defaults] would change the zone and the shell cron uses: the
    // imported tasks say what cron did.
    let tar = show(&env, "tar-2", "UTC");
    assert_eq!(tar["settings"]["timezone"], "UTC");
    assert_eq!(tar["settings"]["shell"], "/bin/sh");
    assert_eq!(
        task_instants(&env, "tar-2", "UTC"),
        expected_instants("0 5 * * 1", "UTC")
    );
    assert_eq!(
        show(&env, "tar", "UTC")["settings"]["timezone"],
        "Asia/Tokyo"
    );

    // Again, insisting: new names again.
    let out = env
        .kron(&["import", "--allow-duplicates", "-"])
        .output_with_stdin(&read_fixture("debian-user"));
    out.success();
    let names: Vec<String> = imported(&out).into_values().collect();
    assert_eq!(
        names,
        [
            "tar-4",
            "renew-certificates-twice-a-day-2",
            "fetch-mail-2",
            "tar-5"
        ]
    );
}

#[test]
fn dry_run_prints_what_import_would_add_and_changes_nothing() {
    let env = Env::new();
    let text = read_fixture("crontab5-vixie");
    let out = env
        .kron(&["import", "--dry-run", "-"])
        .output_with_stdin(&text);
    out.success();
    assert_eq!(env.read_task_file(), None);
    assert!(
        out.stdout().starts_with(
            "# kron: imported from stdin\n\
             [tasks.run-five-minutes-after-midnight]\n\
             description = \"run five minutes after midnight, every day\"\n\
             schedule = \"5 0 * * *\"\n\
             command = \"$HOME/bin/daily.job >> $HOME/tmp/out 2>&1\"\n\
             env = { MAILTO = \"paul\" }\n\
             mailto = \"paul\"\n\n# kron: imported from stdin\n[tasks.run-at-2-15pm-on-the-first]\n"
        ),
        "{}",
        out.stdout()
    );
    env.kron(&["import", "-"])
        .output_with_stdin(&text)
        .success();
    assert_eq!(env.read_task_file().unwrap(), out.stdout());
}

#[test]
fn add_and_import_write_the_same_job_the_same_way() {
    let crontab = "CRON_TZ=Europe/Berlin\nPATH=/usr/bin:/bin\nHOME=/srv\n\
                   # nightly backup\n30 2 * * 1 tar czf /tmp/b.tgz \"$HOME/data\"\n";
    // Named from the comment above the job.
    let imported = Env::new();
    imported
        .kron(&["import", "-"])
        .output_with_stdin(crontab)
        .success();
    let added = Env::new();
    added
        .kron(&[
            "add",
            "nightly-backup",
            "--description",
            "nightly backup",
            "--schedule",
            "30 2 * * 1",
            "--tz",
            "Europe/Berlin",
            "--workdir",
            "/srv",
            "--env",
            "PATH=/usr/bin:/bin",
            "--env",
            "HOME=/srv",
            "--",
            "tar czf /tmp/b.tgz \"$HOME/data\"",
        ])
        .output()
        .success();
    let text = imported.read_task_file().expect("import wrote the file");
    // Only the mark of an imported task differs.
    let text = text
        .strip_prefix("# kron: imported from stdin\n")
        .unwrap_or_else(|| panic!("no import mark: {text}"))
        .to_string();
    assert_eq!(Some(text.clone()), added.read_task_file());
    assert!(
        text.starts_with(
            "[tasks.nightly-backup]\ndescription = \"nightly backup\"\nschedule = \"30 2 * * 1\"\n"
        ),
        "{text}"
    );
}

#[test]
fn bad_lines_are_reported_by_number_and_nothing_is_imported() {
    let env = Env::new();
    env.write_task_file(EXISTING);
    let path = fixture("bad-lines");
    let path = path.to_str().unwrap();
    let out = env.kron(&["import", path]).output();
    out.code(2);
    assert_eq!(out.stdout(), "");
    let stderr = out.stderr();
    for (line, text) in [
        (3, "minute: 60 is out of range 0-59"),
        (4, "never fires"),
        (5, "unknown macro `@every`"),
        (6, "expected five time fields and a command"),
        (7, "has no command"),
        (8, "unknown time zone `Mars/Olympus_Mons`"),
        (9, "CRON_TZ on line 8"),
        (11, "neither a job nor a variable assignment"),
    ] {
        let expected = format!("{path}:{line}: ");
        let found = stderr
            .lines()
            .find(|l| l.starts_with(&expected))
            .unwrap_or_else(|| panic!("no line {line} in:\n{stderr}"));
        assert!(found.contains(text), "{found}");
    }
    for good in [2, 12] {
        assert!(!stderr.contains(&format!("{path}:{good}:")), "{stderr}");
    }
    assert!(
        stderr.contains("kron: 8 line(s) of") && stderr.contains("nothing was imported"),
        "{stderr}"
    );
    assert_eq!(env.read_task_file().unwrap(), EXISTING);

    // --dry-run shows what would convert, and fails the same way.
    let out = env.kron(&["import", "--dry-run", path]).output();
    out.code(2);
    let stdout = out.stdout();
    assert!(
        // The first job is named from the file's header comment, right above it.
        stdout.contains("[tasks.lines-cron-itself-would-refuse]")
            && stdout.contains("[tasks.also-good]"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("[tasks.").count(), 2, "{stdout}");
    let errors = out
        .stderr()
        .lines()
        .filter(|l| !l.starts_with("kron: note: "))
        .count();
    assert_eq!(errors, 9, "{}", out.stderr());
}

#[test]
fn an_empty_crontab_imports_nothing() {
    let env = Env::new();
    let out = env
        .kron(&["import", "-"])
        .output_with_stdin("# nothing here\n\nMAILTO=me\n");
    out.success();
    assert!(
        out.stdout().contains("nothing to import"),
        "{}",
        out.stdout()
    );
    assert_eq!(env.read_task_file(), None);
}

fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .expect("the test knows who runs it")
}

#[test]
fn system_crontab_imports_only_your_lines() {
    let me = current_user();
    let other = if me == "root" { "daemon" } else { "root" };
    let text = read_fixture("system-two-users")
        .replace("@ME@", &me)
        .replace("@OTHER@", other);
    let env = Env::new();
    let out = env
        .kron(&["import", "--system", "-"])
        .env("USER", &me)
        .output_with_stdin(&text);
    out.success();
    let names = imported(&out);
    assert_eq!(
        names,
        BTreeMap::from([
            (7, "mirror-the-repository".to_string()),
            (9, "tidy".to_string())
        ])
    );
    let stderr = out.stderr();
    for line in [5, 8] {
        assert!(
            stderr.contains(&format!("stdin:{line}: for user `{other}`, not imported")),
            "{stderr}"
        );
    }
    assert_eq!(
        task_instants(&env, "mirror-the-repository", "UTC"),
        expected_instants("0 */6 * * *", "UTC")
    );
    let tidy = show(&env, "tidy", "UTC");
    assert_eq!(tidy["settings"]["stdin"], "yes");
    assert_eq!(tidy["settings"]["shell"], "/bin/bash");
    assert_eq!(
        show(&env, "mirror-the-repository", "UTC")["description"],
        "Mirror the repository."
    );

    // Debian's /etc/crontab: root's lines.
    let env = Env::new();
    let text = read_fixture("debian-etc-crontab");
    if me == "root" {
        let names = import_and_compare(&env, &text, &["--system"], "Europe/Paris");
        let names: Vec<&String> = names.values().collect();
        assert_eq!(
            names,
            ["run-parts", "run-parts-2", "run-parts-3", "run-parts-4"]
        );
        assert_eq!(show(&env, "run-parts", "UTC")["description"], Value::Null);
    } else {
        let out = env
            .kron(&["import", "--system", "-"])
            .env("USER", &me)
            .output_with_stdin(&text);
        out.success();
        assert!(out.stdout().contains("no jobs for you"), "{}", out.stdout());
        assert_eq!(out.stderr().lines().count(), 4, "{}", out.stderr());
        assert_eq!(env.read_task_file(), None);
    }
}

/// Issue 11, bug 2: a system crontab imported without `--system` turned
/// the user column into the command (`command = "root\tcd / && ..."`).
#[test]
fn issue_11_a_system_crontab_without_system_is_refused() {
    let me = current_user();
    let other = if me == "root" { "daemon" } else { "root" };
    let two_users = read_fixture("system-two-users")
        .replace("@ME@", &me)
        .replace("@OTHER@", other);
    for text in [two_users, read_fixture("debian-etc-crontab")] {
        let env = Env::new();
        let out = env.kron(&["import", "-"]).output_with_stdin(&text);
        out.code(2);
        let stderr = out.stderr();
        assert!(stderr.contains("looks like a system crontab"), "{stderr}");
        assert!(stderr.contains("kron import --system -"), "{stderr}");
        assert_eq!(env.read_task_file(), None);
        // --dry-run too: it would show the user column as the command.
        env.kron(&["import", "--dry-run", "-"])
            .output_with_stdin(&text)
            .code(2);
    }
    // By its path, whatever it holds (cron reads these with a user column).
    for path in ["/etc/crontab", "/etc/cron.d/anacron"] {
        let env = Env::new();
        let out = env.kron(&["import", path]).output();
        out.code(2);
        assert!(
            out.stderr()
                .contains(&format!("kron import --system {path}")),
            "{}",
            out.stderr()
        );
    }
    // A user crontab whose commands begin with a word that is not a user,
    // or is also a program, imports as before.
    let env = Env::new();
    let text = format!("0 * * * * {me}-is-not-a-user run\n@daily sh -c true\n");
    env.kron(&["import", "-"])
        .output_with_stdin(&text)
        .success();
    let sync_is_a_user = matches!(nix::unistd::User::from_name("sync"), Ok(Some(_)));
    if sync_is_a_user {
        let env = Env::new();
        env.kron(&["import", "-"])
            .output_with_stdin("0 * * * * sync -f /home\n")
            .success();
    }
}

const TASKS: &str = r#"[defaults]
env = { PATH = "/usr/bin:/bin" }

[tasks.backup]
description = "nightly backup"
schedule = "30 2 * * *"
command = ["restic", "backup", "/home/my files"]
timeout = "2h"
retry = { attempts = 3 }

[tasks.report]
schedule = "0 9 * * mon-fri"
timezone = "Europe/Berlin"
command = "mail -s 'report' me"
stdin = "100% done\nbye\n"
shell = "/bin/bash"
env = { LANG = "C" }

[tasks.tick]
schedule = "*/10 * * * * *"
command = "date"

[tasks.every]
schedule = "@every 90m"
command = "date"

[tasks.last]
schedule = "0 0 L * *"
command = "date"

[tasks.held]
schedule = "@hourly"
command = "date +%H"
paused = true

[tasks.plain]
schedule = "0 30 4 * * *"
command = "date +%s > /tmp/now"
overlap = "queue"
lock = "db"
jitter = "5m"
catch_up = "all"
log = { keep = 3 }
on_failure = "notify-send failed"
workdir = "/tmp"
"#;

#[test]
fn export_writes_a_crontab_and_comments_what_it_cannot_express() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let out = env.kron(&["export", "--format", "crontab"]).output();
    out.success();
    let text = out.stdout();
    let body = text.split_once("\n\n").unwrap().1;
    let expected = "\
PATH=/usr/bin:/bin
# kron: task backup
# kron: timeout = \"2h\" (cron never stops a job)
# kron: retry = { attempts = 3, backoff = \"10s\" } (cron does not retry)
# nightly backup
30 2 * * * restic backup '/home/my files'

CRON_TZ=Europe/Berlin
SHELL=/bin/bash
LANG=C
# kron: task report
0 9 * * mon-fri mail -s 'report' me%100\\% done%bye%

# kron: task tick
# kron: not written as a job: its schedule `*/10 * * * * *` has a seconds field
# */10 * * * * * date

# kron: task every
# kron: not written as a job: crontab has no `@every 90m` schedule
# @every 90m date

# kron: task last
# kron: not written as a job: its schedule `0 0 L * *` uses a L, W or # day
# 0 0 L * * date

# kron: task held
# kron: paused
# @hourly date +\\%H

CRON_TZ=
SHELL=/bin/sh
# kron: task plain
# kron: it does not set LANG, but crontab keeps LANG=C from above (a crontab variable cannot be unset)
# kron: overlap = \"queue\" (cron starts a job even while it runs)
# kron: lock = \"db\" (cron has no locks; flock(1) in the command can do it)
# kron: jitter = \"5m\" (cron starts on time)
# kron: catch_up = \"all\" (cron does not catch up)
# kron: log = { max_size = \"1MiB\", keep = 3 } (cron mails output)
# kron: on_failure = \"notify-send failed\" (cron has no hooks)
30 4 * * * cd /tmp || exit; date +\\%s > /tmp/now
";
    assert_eq!(body, expected, "{text}");
    assert!(text.starts_with("# crontab written by kron "), "{text}");
    assert!(text.contains("# CRON_TZ needs cronie"), "{text}");
    let stderr = out.stderr();
    assert_eq!(stderr.lines().count(), 3, "{stderr}");
    for name in ["tick", "every", "last"] {
        assert!(
            stderr.contains(&format!("kron: task {name} is only a comment")),
            "{stderr}"
        );
    }
}

#[test]
fn exported_tasks_import_back_with_the_same_schedules() {
    let tz = "America/New_York";
    let env = Env::new();
    env.write_task_file(TASKS);
    let out = env.kron(&["export"]).env("TZ", tz).output();
    out.success();
    let crontab = out.stdout();

    let back = Env::new();
    let out = back
        .kron(&["import", "-"])
        .env("TZ", tz)
        .output_with_stdin(&crontab);
    out.success();
    let names: Vec<String> = imported(&out).into_values().collect();
    assert_eq!(names, ["backup", "report", "plain"]);
    for name in &names {
        assert_eq!(
            task_instants(&back, name, tz),
            task_instants(&env, name, tz),
            "{name}"
        );
    }
    let report = show(&back, "report", tz);
    assert_eq!(report["settings"]["stdin"], "100% done\nbye\n");
    assert_eq!(report["settings"]["timezone"], "Europe/Berlin");
    assert_eq!(report["settings"]["shell"], "/bin/bash");
    assert_eq!(
        report["settings"]["env"],
        serde_json::json!({"PATH": "/usr/bin:/bin", "LANG": "C"})
    );
    let backup = show(&back, "backup", tz);
    assert_eq!(backup["description"], "nightly backup");
    assert_eq!(backup["command"], "restic backup '/home/my files'");
    assert_eq!(show(&back, "plain", tz)["settings"]["timezone"], tz);
}

/// Issue 11, bug 4: a task that follows the system's zone, exported after
/// one with a zone of its own, went out under `CRON_TZ=<this machine's
/// zone>` and came back pinned to it. It goes out under `CRON_TZ=` and
/// follows the system's zone wherever it is imported.
#[test]
fn issue_11_a_task_in_the_system_zone_round_trips_unpinned() {
    let env = Env::new();
    env.write_task_file(
        "[tasks.berlin]\nschedule = \"0 9 * * *\"\ntimezone = \"Europe/Berlin\"\n\
         command = \"true\"\n\n[tasks.local]\nschedule = \"0 10 * * *\"\ncommand = \"true\"\n",
    );
    let out = env.kron(&["export"]).env("TZ", "America/New_York").output();
    out.success();
    let crontab = out.stdout();
    let zones: Vec<&str> = crontab
        .lines()
        .filter(|l| l.starts_with("CRON_TZ"))
        .collect();
    assert_eq!(zones, ["CRON_TZ=Europe/Berlin", "CRON_TZ="], "{crontab}");

    let back = Env::new();
    back.kron(&["import", "-"])
        .env("TZ", "Asia/Tokyo")
        .output_with_stdin(&crontab)
        .success();
    let text = back.read_task_file().unwrap();
    assert_eq!(text.matches("timezone").count(), 1, "{text}");
    assert_eq!(
        show(&back, "local", "Asia/Tokyo")["settings"]["timezone"],
        "Asia/Tokyo"
    );
    assert_eq!(
        show(&back, "berlin", "Asia/Tokyo")["settings"]["timezone"],
        "Europe/Berlin"
    );
}

/// Every fixture, imported, exported and imported again, gives the same
/// tasks: names, schedules and instants, zones, shells, environments,
/// directories, standard input, descriptions and commands.
#[test]
fn fixtures_survive_import_export_import() {
    let tz = "Europe/Berlin";
    for fixture_name in [
        "crontab5-vixie",
        "crontab5-cronie",
        "debian-user",
        "percent",
        "cron-tz",
        "mailto-reboot-spacing",
    ] {
        let first = Env::new();
        let names = import_and_compare(&first, &read_fixture(fixture_name), &[], tz);
        let out = first.kron(&["export"]).env("TZ", tz).output();
        out.success();
        assert_eq!(out.stderr(), "", "{fixture_name}");
        let crontab = out.stdout();

        let second = Env::new();
        let out = second
            .kron(&["import", "-"])
            .env("TZ", tz)
            .output_with_stdin(&crontab);
        out.success();
        let again: Vec<String> = imported(&out).into_values().collect();
        let names: Vec<String> = names.into_values().collect();
        assert_eq!(again, names, "{fixture_name}:\n{crontab}");
        for name in &names {
            let (a, b) = (show(&first, name, tz), show(&second, name, tz));
            for key in ["schedule", "description", "command"] {
                assert_eq!(a[key], b[key], "{fixture_name} {name} {key}:\n{crontab}");
            }
            for key in ["timezone", "shell", "env", "workdir", "stdin"] {
                assert_eq!(
                    a["settings"][key], b["settings"][key],
                    "{fixture_name} {name} {key}:\n{crontab}"
                );
            }
            assert_eq!(
                task_instants(&first, name, tz),
                task_instants(&second, name, tz)
            );
        }
    }
}

#[test]
fn import_on_a_terminal_says_what_it_waits_for() {
    let env = Env::new();
    let Some(run) = env.on_a_terminal("import --dry-run") else {
        return;
    };
    // The line, then Ctrl-D (end of input on a terminal).
    let out = run.output_on_a_terminal("0 3 * * * true\n\x04");
    out.success();
    let shown = out.stdout();
    assert!(
        shown.contains("kron: reading a crontab from standard input")
            && shown.contains("end it with Ctrl-D, or give a file: kron import FILE"),
        "{shown}"
    );
    assert!(shown.contains("command = \"true\""), "{shown}");
    // Not when standard input is a pipe.
    let out = env
        .kron(&["import", "--dry-run"])
        .output_with_stdin("0 3 * * * true\n");
    out.success();
    assert!(
        !out.stderr().contains("reading a crontab"),
        "{}",
        out.stderr()
    );
}

/// A crontab whose first job is also in the task file already, added by hand.
const TWICE: &str = "\
MAILTO=me@example.org
# Nightly backup.
30 2 * * * /usr/local/bin/backup.sh --all
*/5 * * * * poll.sh
";

#[test]
fn import_says_that_mail_goes_out_only_on_failure_now() {
    let env = Env::new();
    let note = "cron mails whatever a job prints; kron mails a run's output only when it fails \
                or times out (mail = \"failure\"). To keep cron's behaviour, add mail = \
                \"always\" under [defaults] in";
    // --dry-run says it on stderr, the TOML alone on stdout.
    let dry = env
        .kron(&["import", "--dry-run", "-"])
        .output_with_stdin(TWICE);
    dry.success();
    assert!(
        dry.stderr().contains(&format!("kron: note: {note}")),
        "{}",
        dry.stderr()
    );
    assert!(!dry.stdout().contains("note"), "{}", dry.stdout());
    let out = env.kron(&["import", "-"]).output_with_stdin(TWICE);
    out.success();
    assert!(
        out.stdout()
            .contains(&format!("note: {note} {}\n", env.task_file().display())),
        "{}",
        out.stdout()
    );
    // Without MAILTO cron mailed the crontab's owner; kron mails no one.
    let quiet = Env::new();
    let out = quiet
        .kron(&["import", "-"])
        .output_with_stdin("@daily backup.sh\n");
    out.success();
    assert!(
        out.stdout()
            .contains("note: cron mails whatever a job prints to you when MAILTO is not set"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stdout().contains("mail = \"always\""),
        "{}",
        out.stdout()
    );
    // Nothing to say when [defaults] keeps cron's behaviour already.
    let always = Env::new();
    always.write_task_file("[defaults]\nmail = \"always\"\n");
    let out = always.kron(&["import", "-"]).output_with_stdin(TWICE);
    out.success();
    assert!(!out.stdout().contains("note:"), "{}", out.stdout());
}

#[test]
fn importing_twice_refuses_the_jobs_the_file_has_already() {
    let env = Env::new();
    env.kron(&["import", "-"])
        .output_with_stdin(TWICE)
        .success();
    let before = env.read_task_file().unwrap();
    let again = env.kron(&["import", "-"]).output_with_stdin(TWICE);
    again.code(2);
    let stderr = again.stderr();
    for (line, task) in [(3, "nightly-backup"), (4, "poll")] {
        assert!(
            stderr.contains(&format!(
                "stdin:{line}: same schedule and command as task `{task}`"
            )),
            "{stderr}"
        );
    }
    assert!(
        stderr.contains("--replace") && stderr.contains("--allow-duplicates"),
        "{stderr}"
    );
    assert_eq!(env.read_task_file().unwrap(), before);
    // A new line among them: still nothing is imported (all or nothing).
    let more = format!("{TWICE}@hourly new.sh\n");
    env.kron(&["import", "-"]).output_with_stdin(&more).code(2);
    assert_eq!(env.read_task_file().unwrap(), before);
    // Insisting imports them again.
    let out = env
        .kron(&["import", "--allow-duplicates", "-"])
        .output_with_stdin(TWICE);
    out.success();
    let names: Vec<String> = imported(&out).into_values().collect();
    assert_eq!(names, ["nightly-backup-2", "poll-2"]);
}

#[test]
fn import_replace_replaces_the_imported_tasks_and_keeps_yours() {
    let env = Env::new();
    env.kron(&["add", "mine", "--schedule", "@daily", "--", "true"])
        .output()
        .success();
    env.kron(&["import", "-"])
        .output_with_stdin(TWICE)
        .success();
    let before = env.read_task_file().unwrap();
    assert!(
        before.contains("# kron: imported from stdin\n[tasks.nightly-backup]"),
        "{before}"
    );
    let edited = env.path().join("crontab.txt");
    std::fs::write(
        &edited,
        "30 2 * * * /usr/local/bin/backup.sh --all\n@hourly new.sh\n",
    )
    .unwrap();
    let file = edited.to_str().unwrap();
    // Not on a terminal: only with --yes.
    let out = env.kron(&["import", "--replace", file]).output();
    out.code(2);
    assert!(out.stderr().contains("pass --yes"), "{}", out.stderr());
    assert_eq!(env.read_task_file().unwrap(), before);
    // --dry-run says what would go.
    let dry = env
        .kron(&["import", "--replace", "--dry-run", file])
        .output();
    dry.success();
    assert!(
        dry.stderr()
            .contains("--replace would remove 2 imported task(s): nightly-backup, poll"),
        "{}",
        dry.stderr()
    );
    let out = env.kron(&["import", "--replace", "--yes", file]).output();
    out.success();
    let backup = env.path().join("config/kron/tasks.toml.bak");
    assert!(
        out.stdout().starts_with(&format!(
            "replaced 2 imported task(s): nightly-backup, poll; the old file is kept as {}\n",
            backup.display()
        )),
        "{}",
        out.stdout()
    );
    // The same job keeps its name (and so its history); yours stays.
    let names: Vec<String> = imported(&out).into_values().collect();
    assert_eq!(names, ["nightly-backup", "new"]);
    let after = env.read_task_file().unwrap();
    assert!(after.starts_with("[tasks.mine]\n"), "{after}");
    assert!(!after.contains("poll"), "{after}");
    let marked = format!(
        "# kron: imported from {}\n[tasks.new]",
        std::fs::canonicalize(&edited).unwrap().display()
    );
    assert!(after.contains(&marked), "{after}");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), before);
    // On a terminal it asks; no keeps everything.
    let Some(run) = env.on_a_terminal(&format!("import --replace '{file}'")) else {
        return;
    };
    let out = run.output_on_a_terminal("n\n");
    out.code(1);
    assert!(
        out.stdout().contains(
            "replace the 2 task(s) imported before (nightly-backup, new) with the 2 job(s)"
        ),
        "{}",
        out.stdout()
    );
    assert_eq!(env.read_task_file().unwrap(), after);
    let yes = env
        .on_a_terminal(&format!("import --replace '{file}'"))
        .unwrap()
        .output_on_a_terminal("y\n");
    yes.success();
    assert!(
        yes.stdout()
            .contains("replaced 2 imported task(s): nightly-backup, new;"),
        "{}",
        yes.stdout()
    );
    assert_eq!(env.read_task_file().unwrap(), after);
}
