//! `kron export --format systemd` and `--format kubernetes`: the units and
//! manifests written for a task file, the refusals, schedules checked
//! against `systemd-analyze calendar` (when the machine has it) and against
//! kron's own engine, and the YAML parsed back.

use std::path::Path;
use std::process::Command;

use jiff::Timestamp;
use kron::export::kubernetes;
use kron::export::systemd::{self, Trigger};
use kron::schedule::{Schedule, Zone};
use yaml_rust2::{Yaml, YamlLoader};

use crate::util::Env;

const TASKS: &str = r#"
[defaults]
retry = { attempts = 3, backoff = "10s" }

[tasks.backup]
description = "nightly backup"
schedule = "30 2 * * *"
timezone = "Europe/Berlin"
command = ["restic", "backup", "/home/my files"]
timeout = "2h"
env = { RESTIC_REPOSITORY = "/mnt/backup", NOTE = "100% \"sure\" $HOME" }

[tasks.ping]
schedule = "*/15 9-17 * * mon-fri"
command = "ping -c1 example.org > /dev/null"
overlap = "allow"
jitter = "30s"
catch_up = "skip"
retry = { attempts = 0 }

[tasks.db_dump]
schedule = "0 0 13 * fri"
command = "pg_dump db | gzip > /srv/db.gz"
workdir = "/srv"
lock = "db"
overlap = "queue"
paused = true

[tasks.near]
schedule = "0 9 15W * *"
command = "true"
"#;

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn systemd_writes_a_service_and_a_timer_per_task() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let dir = env.path().join("units");
    let out = env
        .kron(&["export", "--format", "systemd", dir.to_str().unwrap()])
        .output();
    out.code(1);
    assert_eq!(
        out.stderr(),
        "kron: task near is not exported to systemd: its schedule `0 9 15W * *` uses `15W` \
         (the weekday nearest a day of the month), which OnCalendar= cannot express\n\
         kron: 1 task(s) not exported; the others were\n"
    );
    let stdout = out.stdout();
    for name in ["backup", "ping", "db_dump"] {
        for suffix in ["service", "timer"] {
            let line = format!("wrote {}/kron-{name}.{suffix}\n", dir.display());
            assert!(stdout.contains(&line), "{stdout}");
        }
    }
    // The paused task's timer is not in the line that enables them.
    assert!(
        stdout.contains("  systemctl --user enable --now kron-backup.timer kron-ping.timer\n"),
        "{stdout}"
    );
    assert!(!dir.join("kron-near.service").exists());

    let header = |what: &str| {
        format!(
            "# Written by kron {} (kron export --format systemd) from {}:\n# task backup, {what}\n",
            env!("CARGO_PKG_VERSION"),
            env.task_file().display()
        )
    };
    let service = read(&dir, "kron-backup.service");
    let expected = header("run by kron-backup.timer")
        + "\
# kron: exit status 75 means the lock was busy and the run skipped: it counts as success and is not retried (so does the command's own status 75)
[Unit]
Description=kron task backup: nightly backup
StartLimitIntervalSec=8h1m50s
StartLimitBurst=4

[Service]
Type=oneshot
ExecStartPre=/bin/mkdir -p -m 0700 %t/kron %t/kron/locks
SuccessExitStatus=75
ExecStart=/usr/bin/flock -n -E 75 %t/kron/locks/backup.lock restic backup \"/home/my files\"
WorkingDirectory=~
Environment=\"NOTE=100%% \\\"sure\\\" $HOME\"
Environment=\"PATH=/usr/local/bin:/usr/bin:/bin\"
Environment=\"RESTIC_REPOSITORY=/mnt/backup\"
TimeoutStartSec=2h
TimeoutStopSec=10s
Restart=on-failure
RestartSec=10s
# systemd 254 and later grow the wait; older ones wait RestartSec= each time
RestartSteps=2
RestartMaxDelaySec=40s
";
    assert_eq!(service, expected);
    let timer = read(&dir, "kron-backup.timer");
    let expected = header("starts kron-backup.service")
        + "\
# kron: daylight saving in Europe/Berlin: when the clocks go forward, systemd skips a time they jump over; kron runs it when the gap ends
[Unit]
Description=kron task backup: nightly backup (timer)

[Timer]
OnCalendar=*-*-* 02:30:00 Europe/Berlin
AccuracySec=1s
Persistent=true

[Install]
WantedBy=timers.target
";
    assert_eq!(timer, expected);

    let ping = read(&dir, "kron-ping.service");
    assert!(
        ping.contains("\nExecStart=/bin/sh -c \"ping -c1 example.org > /dev/null\"\n"),
        "{ping}"
    );
    assert!(!ping.contains("flock"), "{ping}");
    assert!(!ping.contains("Restart="), "{ping}");
    let ping_timer = read(&dir, "kron-ping.timer");
    for line in [
        "OnCalendar=Mon..Fri *-*-* 09..17:00/15:00\n",
        "Persistent=false\n",
        "RandomizedDelaySec=30s\n",
    ] {
        assert!(ping_timer.contains(line), "{ping_timer}");
    }

    let dump = read(&dir, "kron-db_dump.service");
    for line in [
        "ExecStart=/usr/bin/flock %t/kron/locks/db.lock /bin/sh -c \"pg_dump db | gzip > /srv/db.gz\"\n",
        "WorkingDirectory=/srv\n",
        "# kron: overlap = \"queue\": ",
    ] {
        assert!(dump.contains(line), "{dump}");
    }
    let dump_timer = read(&dir, "kron-db_dump.timer");
    for line in [
        "OnCalendar=*-*-13 00:00:00\nOnCalendar=Fri *-*-* 00:00:00\n",
        "# kron: paused in kron",
    ] {
        assert!(dump_timer.contains(line), "{dump_timer}");
    }
    // Units may hold secrets from `env`.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("kron-backup.service"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let cases: [(&[&str], &str); 4] = [
        (
            &["export", "--format", "systemd"],
            "kron: --format systemd needs a DIR to write the units into, such as ~/.config/systemd/user\n",
        ),
        (
            &["export", "--format", "kubernetes"],
            "kron: --format kubernetes needs --image IMAGE: the container image the CronJobs \
             run, one that has the programs your tasks call\n",
        ),
        (
            &["export", "--format", "systemd", "--image", "x", "dir"],
            "kron: --image is for --format kubernetes, not systemd\n",
        ),
        (
            &["export", "dir"],
            "kron: --format crontab writes to stdout and takes no DIR (got dir); redirect it \
             instead: kron export > crontab.txt\n",
        ),
    ];
    for (args, message) in cases {
        let out = env.kron(args).output();
        out.code(2);
        assert_eq!(out.stderr(), message, "{args:?}");
        assert_eq!(out.stdout(), "", "{args:?}");
    }
}

#[test]
fn nothing_to_refuse_exits_0() {
    let env = Env::new();
    env.write_task_file("[tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\n");
    let dir = env.path().join("units");
    let out = env
        .kron(&["export", "--format", "systemd", dir.to_str().unwrap()])
        .output();
    out.success();
    assert_eq!(out.stderr(), "");
    let out = env
        .kron(&["export", "--format", "kubernetes", "--image", "alpine"])
        .output();
    out.success();
    assert_eq!(out.stderr(), "");
}

// ---------------------------------------------------------------------------
// Schedules against systemd-analyze.

fn systemd_analyze() -> Option<&'static str> {
    let path = "/usr/bin/systemd-analyze";
    Path::new(path).exists().then_some(path)
}

/// The first `n` instants after `base` of each calendar event, as
/// `systemd-analyze calendar` computes them, joined and sorted.
fn systemd_instants(events: &[String], base: &str, n: usize) -> Vec<String> {
    let tool = systemd_analyze().expect("checked by the caller");
    let mut all = Vec::new();
    for event in events {
        let out = Command::new(tool)
            .args([
                "calendar",
                &format!("--iterations={n}"),
                &format!("--base-time={base}"),
                event,
            ])
            .env("TZ", "UTC")
            .env("LANG", "C")
            .env("SYSTEMD_COLORS", "0")
            .output()
            .expect("systemd-analyze runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{event}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in stdout.lines() {
            let line = line.trim();
            let Some((label, when)) = line.split_once(": ") else {
                continue;
            };
            if label == "Next elapse" || label.starts_with("Iter. #") {
                // "Sat 2027-03-13 12:30:00 UTC"
                let words: Vec<&str> = when.split_whitespace().collect();
                assert_eq!(words.get(3), Some(&"UTC"), "{line}");
                all.push(format!("{}T{}Z", words[1], words[2]));
            }
        }
    }
    all.sort();
    all.dedup();
    all.truncate(n);
    all
}

/// `2026-04-10 00:00:00 UTC` as an instant.
fn instant(base: &str) -> Timestamp {
    let text = base.strip_suffix(" UTC").unwrap().replacen(' ', "T", 1) + "Z";
    text.parse().unwrap()
}

fn kron_instants(schedule: &Schedule, base: &str, n: usize) -> Vec<String> {
    schedule
        .upcoming(instant(base))
        .take(n)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .collect()
}

/// Schedules and the zone they are read in; the base instants are chosen
/// away from daylight-saving nights, where systemd differs (see
/// `systemd_daylight_saving_nights_differ_as_documented`).
const SCHEDULES: &[(&str, Option<&str>)] = &[
    ("30 2 * * *", None),
    ("*/15 9-17 * * mon-fri", None),
    ("0 0 13 * 5", None),
    ("0 0 */2 * 5", None),
    ("0 0 L * *", None),
    ("0 0 L-2 * *", None),
    ("0 12 L-27 2 *", None),
    ("0 0 1,L * *", None),
    ("0 18 * * 5L", None),
    ("0 10 * * mon#2", None),
    ("0 10 * * 1#1,3#5", None),
    ("0 10 1,15 * 1#2", None),
    ("0 10 L * 5L", None),
    ("0 10 * * 0,6", None),
    ("0 10 * * 7", None),
    ("*/10 * * * * *", None),
    ("5 4 3 * * ? 2026-2028,2031", None),
    ("0 0 29 2 *", None),
    ("0 0 1 */3 *", None),
    ("@weekly", None),
    ("@every 90m", None),
    ("@every 40s", None),
    ("@every 7200s", None),
    ("30 2 * * *", Some("Europe/Berlin")),
    ("0 9-17/2 * * mon-fri", Some("America/New_York")),
    ("0 0 L * *", Some("Asia/Kolkata")),
    ("45 23 * * 1#1", Some("Australia/Lord_Howe")),
];

#[test]
fn systemd_calendar_events_fire_at_kron_instants() {
    if systemd_analyze().is_none() {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    // Far from daylight-saving nights in every zone above for the first
    // instants (200 of a frequent schedule are a day or two).
    for base in ["2026-04-10 00:00:00 UTC", "2026-12-01 12:34:56 UTC"] {
        for (expr, zone_name) in SCHEDULES {
            let zone = zone_name.map_or_else(Zone::utc, |z| Zone::get(z).unwrap());
            let schedule = Schedule::parse(expr, zone).unwrap();
            let Trigger::Calendar(events) = systemd::trigger(schedule.expr(), *zone_name).unwrap()
            else {
                panic!("{expr}: not a calendar trigger");
            };
            let n = 60;
            let mut want = kron_instants(&schedule, base, n);
            let mut got = systemd_instants(&events, base, n);
            // Stop before the zone's next transition (months away for the
            // zones above, but a yearly schedule reaches it).
            let zone = schedule.zone();
            if let Some(end) = zone.period(instant(base).as_second()).end {
                let end = Timestamp::from_second(end - 2 * 86_400)
                    .unwrap()
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string();
                want.retain(|t| *t < end);
                got.retain(|t| *t < end);
            }
            // systemd computes no instant after 2199.
            want.retain(|t| t.as_str() < "2200");
            assert!(!want.is_empty(), "{expr}");
            assert_eq!(
                got, want,
                "{expr} in {zone_name:?} after {base}: {events:?}"
            );
        }
    }
}

#[test]
fn systemd_daylight_saving_nights_differ_as_documented() {
    if systemd_analyze().is_none() {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    let zone = "America/New_York";
    let check = |expr: &str, base: &str, n: usize| {
        let schedule = Schedule::parse(expr, Zone::get(zone).unwrap()).unwrap();
        let Ok(Trigger::Calendar(events)) = systemd::trigger(schedule.expr(), Some(zone)) else {
            panic!("{expr}");
        };
        (
            kron_instants(&schedule, base, n),
            systemd_instants(&events, base, n),
        )
    };
    // Fixed time in the spring-forward gap (2027-03-14, 02:00 -> 03:00):
    // kron runs at 03:00 EDT, systemd skips the day.
    let (kron, systemd) = check("30 2 * * *", "2027-03-13 12:00:00 UTC", 2);
    assert_eq!(kron, ["2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z"]);
    assert_eq!(systemd, ["2027-03-15T06:30:00Z", "2027-03-16T06:30:00Z"]);
    // Wildcard in the fall-back overlap (2027-11-07, 02:00 -> 01:00): kron
    // runs the repeated 01:00 and 01:30, systemd does not.
    let (kron, systemd) = check("*/30 * * * *", "2027-11-07 04:10:00 UTC", 6);
    assert_eq!(
        kron,
        [
            "2027-11-07T04:30:00Z",
            "2027-11-07T05:00:00Z",
            "2027-11-07T05:30:00Z",
            "2027-11-07T06:00:00Z",
            "2027-11-07T06:30:00Z",
            "2027-11-07T07:00:00Z"
        ]
    );
    assert_eq!(
        systemd,
        [
            "2027-11-07T04:30:00Z",
            "2027-11-07T05:00:00Z",
            "2027-11-07T05:30:00Z",
            "2027-11-07T07:00:00Z",
            "2027-11-07T07:30:00Z",
            "2027-11-07T08:00:00Z"
        ]
    );
    // The other two cases agree: a fixed time that repeats runs once, at
    // its first occurrence; a wildcard schedule skips the gap.
    let (kron, systemd) = check("30 1 * * *", "2027-11-06 12:00:00 UTC", 3);
    assert_eq!(kron, systemd);
    let (kron, systemd) = check("*/30 * * * *", "2027-03-14 06:10:00 UTC", 6);
    assert_eq!(kron, systemd);
}

#[test]
fn systemd_analyze_verify_accepts_the_units() {
    let Some(tool) = systemd_analyze() else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
    if !Path::new("/usr/bin/flock").exists() {
        eprintln!("skipped: /usr/bin/flock is not installed");
        return;
    }
    let env = Env::new();
    // Programs that exist, since verify checks them.
    env.write_task_file(
        r#"
[tasks.shell]
schedule = "0 0 13 * 5"
command = "echo \"$HOME\" 100% 'quoted' \\ done; exit 0"
env = { A = "x y", B = "tab\there" }
stdin = "line one\n  indented 50%\n"
timeout = "90s"
retry = { attempts = 2, backoff = "1s", factor = 3 }
jitter = "1m"

[tasks.argv]
schedule = "@every 90m"
command = ["/bin/echo", "a b", "c\"d", "e$f", "%g"]
overlap = "allow"

[tasks.boot]
schedule = "@reboot"
command = ["/bin/true"]
overlap = "queue"
stdin = "no newline"
"#,
    );
    let dir = env.path().join("units");
    env.kron(&["export", "--format", "systemd", dir.to_str().unwrap()])
        .output()
        .success();
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 6);
    let runtime = env.path().join("runtime");
    let out = Command::new(tool)
        .arg("verify")
        .arg("--user")
        .args(&files)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("HOME", env.path().join("home"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // systemd before 254 does not know the growing restart delay.
    for line in stderr.lines() {
        assert!(
            line.contains("Unknown key 'RestartSteps'")
                || line.contains("Unknown key 'RestartMaxDelaySec'"),
            "{stderr}"
        );
    }
}

// ---------------------------------------------------------------------------
// Kubernetes.

fn docs(text: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn strings(yaml: &Yaml) -> Vec<String> {
    yaml.as_vec()
        .unwrap_or_else(|| panic!("not a list: {yaml:?}"))
        .iter()
        .map(|y| y.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn kubernetes_writes_cronjobs_that_parse_back() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let out = env
        .kron(&[
            "export",
            "--format",
            "kubernetes",
            "--image",
            "registry.example/tools:1",
        ])
        .output();
    out.code(1);
    assert_eq!(
        out.stderr(),
        "kron: task near is not exported to Kubernetes: its schedule `0 9 15W * *` uses `W` \
         (nearest weekday), which Kubernetes' cron format does not have\n\
         kron: 1 task(s) not exported; the others were\n"
    );
    let docs = docs(&out.stdout());
    assert_eq!(docs.len(), 3);
    for doc in &docs {
        assert_eq!(doc["apiVersion"].as_str(), Some("batch/v1"));
        assert_eq!(doc["kind"].as_str(), Some("CronJob"));
        let pod = &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
        assert_eq!(pod["terminationGracePeriodSeconds"].as_i64(), Some(10));
        let container = &pod["containers"][0];
        assert_eq!(
            container["image"].as_str(),
            Some("registry.example/tools:1")
        );
        assert_eq!(container["name"], doc["metadata"]["name"]);
    }

    let backup = &docs[0];
    assert_eq!(backup["metadata"]["name"].as_str(), Some("backup"));
    assert_eq!(
        backup["metadata"]["annotations"]["kron/description"].as_str(),
        Some("nightly backup")
    );
    let spec = &backup["spec"];
    assert_eq!(spec["schedule"].as_str(), Some("30 2 * * *"));
    assert_eq!(spec["timeZone"].as_str(), Some("Europe/Berlin"));
    assert_eq!(spec["concurrencyPolicy"].as_str(), Some("Forbid"));
    assert!(spec["startingDeadlineSeconds"].is_badvalue());
    assert_eq!(spec["suspend"].as_bool(), Some(false));
    assert_eq!(
        spec["jobTemplate"]["spec"]["backoffLimit"].as_i64(),
        Some(3)
    );
    let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["activeDeadlineSeconds"].as_i64(), Some(7200));
    let container = &pod["containers"][0];
    assert_eq!(
        strings(&container["command"]),
        ["restic", "backup", "/home/my files"]
    );
    assert!(container["workingDir"].is_badvalue());
    let env_list = container["env"].as_vec().unwrap();
    let pairs: Vec<(&str, &str)> = env_list
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("NOTE", "100% \"sure\" $HOME"),
            ("RESTIC_REPOSITORY", "/mnt/backup")
        ]
    );

    let ping = &docs[1]["spec"];
    assert_eq!(ping["schedule"].as_str(), Some("*/15 9-17 * * 1-5"));
    assert_eq!(ping["timeZone"].as_str(), Some("UTC"));
    assert_eq!(ping["concurrencyPolicy"].as_str(), Some("Allow"));
    assert_eq!(ping["startingDeadlineSeconds"].as_i64(), Some(60));
    assert_eq!(
        ping["jobTemplate"]["spec"]["backoffLimit"].as_i64(),
        Some(0)
    );
    let pod = &ping["jobTemplate"]["spec"]["template"]["spec"];
    assert!(pod["activeDeadlineSeconds"].is_badvalue());
    assert_eq!(
        strings(&pod["containers"][0]["command"]),
        ["/bin/sh", "-c", "ping -c1 example.org > /dev/null"]
    );

    // `_` becomes `-`; the task's own name stays in an annotation.
    let dump = &docs[2];
    assert_eq!(dump["metadata"]["name"].as_str(), Some("db-dump"));
    assert_eq!(
        dump["metadata"]["annotations"]["kron/task"].as_str(),
        Some("db_dump")
    );
    assert_eq!(dump["spec"]["suspend"].as_bool(), Some(true));
    assert_eq!(dump["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
    assert_eq!(dump["spec"]["schedule"].as_str(), Some("0 0 13 * 5"));
    let container = &dump["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["workingDir"].as_str(), Some("/srv"));
    let text = out.stdout();
    assert!(text.contains("# kron: overlap = \"queue\": "), "{text}");
    assert!(text.contains("# kron: lock = \"db\": "), "{text}");
}

#[test]
fn kubernetes_strings_survive_any_text() {
    let env = Env::new();
    let nasty = "quote \" backslash \\ newline \n tab \t unicode é ✓ control \u{1} del \u{7f} \
                 c1 \u{85} colon: # hash - dash [x] {y} & * ! | > ' % @ `";
    let toml_text = nasty
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
        .replace('\u{1}', "\\u0001")
        .replace('\u{7f}', "\\u007F");
    env.write_task_file(&format!(
        "[tasks.odd]\ndescription = \"{toml_text}\"\nschedule = \"@hourly\"\n\
         command = [\"/bin/echo\", \"{toml_text}\", \"\"]\nenv = {{ X = \"{toml_text}\" }}\n\
         workdir = \"/tmp/{toml_text}\"\n"
    ));
    let dir = env.path().join("manifests");
    let out = env
        .kron(&[
            "export",
            "--format",
            "kubernetes",
            "--image",
            "img \"x\"",
            dir.to_str().unwrap(),
        ])
        .output();
    out.success();
    assert_eq!(out.stdout(), format!("wrote {}/odd.yaml\n", dir.display()));
    let docs = docs(&read(&dir, "odd.yaml"));
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(
        doc["metadata"]["annotations"]["kron/description"].as_str(),
        Some(nasty)
    );
    let container = &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"].as_str(), Some("img \"x\""));
    assert_eq!(strings(&container["command"]), ["/bin/echo", nasty, ""]);
    assert_eq!(container["env"][0]["value"].as_str(), Some(nasty));
    assert_eq!(
        container["workingDir"].as_str(),
        Some(format!("/tmp/{nasty}").as_str())
    );
}

#[test]
fn kubernetes_refusals_name_the_task_and_the_reason() {
    let env = Env::new();
    env.write_task_file(
        r#"
[tasks.fine]
schedule = "@daily"
command = "true"

[tasks.fine_2]
schedule = "@daily"
command = "true"

[tasks.fine-2]
schedule = "@daily"
command = "true"

[tasks._hidden]
schedule = "@daily"
command = "true"

[tasks.boot]
schedule = "@reboot"
command = "true"

[tasks.fed]
schedule = "@daily"
command = "cat"
stdin = "input"

[tasks.seconds]
schedule = "*/30 * * * * *"
command = "true"

[tasks.both]
schedule = "0 0 */2 * 5"
command = "true"

[tasks.dashed]
schedule = "@daily"
command = "true"
env = { "A:B" = "x" }
"#,
    );
    let out = env
        .kron(&["export", "--format", "kubernetes", "--image", "alpine"])
        .output();
    out.code(1);
    let expected = "\
kron: task fine-2 is not exported to Kubernetes: its CronJob name `fine-2` is already the name of task fine_2
kron: task _hidden is not exported to Kubernetes: its name becomes `-hidden`, and a Kubernetes name must start and end with a letter or digit
kron: task boot is not exported to Kubernetes: its schedule `@reboot` runs at boot, and a CronJob runs only on a schedule
kron: task fed is not exported to Kubernetes: it reads standard input (stdin = \"input\"), which a CronJob's container cannot be given
kron: task seconds is not exported to Kubernetes: its schedule `*/30 * * * * *` has a seconds field other than 0, and Kubernetes schedules count minutes
kron: task both is not exported to Kubernetes: its schedule `0 0 */2 * 5` needs both day fields to match (one starts with `*`), and Kubernetes reads two restricted day fields as either
kron: task dashed is not exported to Kubernetes: its env key `A:B` is not a variable name Kubernetes accepts
kron: 7 task(s) not exported; the others were
";
    assert_eq!(out.stderr(), expected);
    let names: Vec<String> = docs(&out.stdout())
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["fine", "fine-2"]);
}

/// Every schedule Kubernetes accepts from kron fires, read back by kron's
/// engine (which reads five fields as crontab(5) does, like the robfig/cron
/// parser Kubernetes uses for the fields kron writes), at the instants of
/// the original.
#[test]
fn kubernetes_schedules_fire_at_kron_instants() {
    let base: Timestamp = "2026-02-20T10:00:00Z".parse().unwrap();
    let mut translated = 0;
    for (expr, zone_name) in SCHEDULES.iter().chain(&[
        ("0 0 * * 1-5", Some("Europe/Berlin")),
        ("0 0 1-31 * 5", None),
        ("0 12 * * 1/2", None),
        ("@every 20m", None),
        ("@every 6h", Some("Asia/Kolkata")),
        ("0 0 0 * * ? *", None),
    ]) {
        let zone = zone_name.map_or_else(Zone::utc, |z| Zone::get(z).unwrap());
        let schedule = Schedule::parse(expr, zone.clone()).unwrap();
        let Ok(cron) = kubernetes::schedule(schedule.expr()) else {
            continue;
        };
        translated += 1;
        let zone = if cron.utc { Zone::utc() } else { zone };
        let back = Schedule::parse(&cron.text, zone).unwrap();
        let want: Vec<Timestamp> = schedule.upcoming(base).take(300).collect();
        let got: Vec<Timestamp> = back.upcoming(base).take(300).collect();
        assert_eq!(got, want, "{expr} -> {}", cron.text);
        // No `*` with a step in a day field, and no 7 for Sunday.
        let fields: Vec<&str> = cron.text.split(' ').collect();
        assert_eq!(fields.len(), 5, "{}", cron.text);
        assert!(!fields[2].starts_with("*/"), "{}", cron.text);
        assert!(
            !fields[4].contains('7') && !fields[4].contains('/'),
            "{}",
            cron.text
        );
    }
    assert!(translated >= 15, "{translated}");
}

#[test]
fn systemd_refusals_name_the_task_and_the_reason() {
    let env = Env::new();
    env.write_task_file(
        r#"
[tasks.fine]
schedule = "@daily"
command = ["tool", "-v"]
overlap = "allow"

[tasks.dash]
schedule = "@daily"
command = ["-x"]
overlap = "allow"

[tasks.late]
schedule = "0 0 L-28 * *"
command = "true"

[tasks.mixed]
schedule = "0 9 */2 * 5L"
command = "true"

[tasks.seven]
schedule = "@every 7m"
command = "true"

[tasks.colon]
schedule = "@daily"
command = "true"
env = { "A:B" = "x" }
"#,
    );
    let dir = env.path().join("units");
    let out = env
        .kron(&["export", "--format", "systemd", dir.to_str().unwrap()])
        .output();
    out.code(1);
    let expected = "\
kron: task dash is not exported to systemd: its program name `-x` cannot be started by /usr/bin/env
kron: task late is not exported to systemd: its schedule `0 0 L-28 * *` uses `L-28`, and OnCalendar= counts at most 28 days from the end of a month (`~28` is `L-27`)
kron: task mixed is not exported to systemd: its schedule `0 9 */2 * 5L` needs days counted from the start of the month and days counted from its end to match together, and an OnCalendar= value counts from one end only
kron: task seven is not exported to systemd: its schedule `@every 7m` counts every 7m from the Unix epoch; OnCalendar= can repeat that only for a period that divides a day evenly, and OnUnitActiveSec= counts from the last run instead
kron: task colon is not exported to systemd: its env key `A:B` is not a variable name systemd accepts (letters, digits and _, not starting with a digit)
kron: 5 task(s) not exported; the others were
";
    assert_eq!(out.stderr(), expected);
    // A program without a path runs through env(1), which searches PATH.
    let fine = read(&dir, "kron-fine.service");
    assert!(
        fine.contains("\nExecStart=/usr/bin/env tool -v\n"),
        "{fine}"
    );
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

/// `leftovers` where the target behaves otherwise: systemd and Kubernetes
/// stop what a command leaves running, cron keeps it.
#[test]
fn leftovers_are_noted_where_the_target_differs() {
    let env = Env::new();
    env.write_task_file(
        "[tasks.keeps]\nschedule = \"@daily\"\ncommand = \"true\"\nleftovers = \"keep\"\n\n\
         [tasks.kills]\nschedule = \"@daily\"\ncommand = \"true\"\nleftovers = \"kill\"\n\n\
         [tasks.plain]\nschedule = \"@daily\"\ncommand = \"true\"\n",
    );
    let dir = env.path().join("units");
    env.kron(&["export", "--format", "systemd", dir.to_str().unwrap()])
        .output()
        .success();
    let note = "# kron: leftovers = \"keep\": systemd stops what the command leaves running";
    assert!(read(&dir, "kron-keeps.service").contains(note));
    assert!(!read(&dir, "kron-kills.service").contains("leftovers"));
    assert!(!read(&dir, "kron-plain.service").contains("leftovers"));
    let out = env
        .kron(&["export", "--format", "kubernetes", "--image", "alpine"])
        .output();
    out.success();
    let text = out.stdout();
    assert_eq!(
        text.matches(
            "# kron: leftovers = \"keep\": a container's processes end with its main process"
        )
        .count(),
        1,
        "{text}"
    );
    let out = env.kron(&["export", "--format", "crontab"]).output();
    let text = out.stdout();
    assert_eq!(
        text.matches("leftovers = \"kill\" (cron leaves what a job starts running)")
            .count(),
        1,
        "{text}"
    );
}

#[test]
fn systemd_notes_daylight_saving_only_where_the_schedule_meets_it() {
    let env = Env::new();
    env.write_task_file(
        r#"
[defaults]
timezone = "Europe/Berlin"

[tasks.gap]
schedule = "30 2 * * *"
command = "true"

[tasks.morning]
schedule = "0 9 * * *"
command = "true"

[tasks.summer]
schedule = "30 2 * 6 *"
command = "true"

[tasks.often]
schedule = "*/30 * * * *"
command = "true"

[tasks.daytime]
schedule = "*/30 8-18 * * *"
command = "true"
"#,
    );
    let dir = env.path().join("units");
    env.kron(&["export", "--format", "systemd", dir.to_str().unwrap()])
        .output()
        .success();
    let noted = |name: &str| read(&dir, &format!("kron-{name}.timer")).contains("daylight saving");
    assert!(noted("gap"), "02:30 is skipped in March");
    assert!(noted("often"), "the repeated hour of October");
    for name in ["morning", "summer", "daytime"] {
        assert!(
            !noted(name),
            "{name}: {}",
            read(&dir, &format!("kron-{name}.timer"))
        );
    }
}

#[test]
fn kubernetes_starting_deadline_is_max_lateness() {
    let env = Env::new();
    env.write_task_file(
        "[defaults]\nworkdir = \"/srv\"\n\n\
         [tasks.once]\nschedule = \"0 3 * * *\"\ncommand = \"true\"\nmax_lateness = \"2h\"\n\n\
         [tasks.soon]\nschedule = \"0 3 * * *\"\ncommand = \"true\"\ncatch_up = \"skip\"\n\
         max_lateness = \"30s\"\n\n\
         [tasks.skip]\nschedule = \"0 3 * * *\"\ncommand = \"true\"\ncatch_up = \"skip\"\n\
         max_lateness = \"2h\"\n\n\
         [tasks.tight]\nschedule = \"0 3 * * *\"\ncommand = \"true\"\ncatch_up = \"all\"\n\
         max_lateness = \"5s\"\n",
    );
    let out = env
        .kron(&["export", "--format", "kubernetes", "--image", "busybox"])
        .output();
    out.success();
    let docs = docs(&out.stdout());
    let deadlines: Vec<Option<i64>> = docs
        .iter()
        .map(|d| d["spec"]["startingDeadlineSeconds"].as_i64())
        .collect();
    // max_lateness; with catch_up = "skip" at most kron's 60s for an
    // on-time start.
    assert_eq!(deadlines, [Some(7200), Some(30), Some(60), Some(5)]);
    assert!(
        out.stdout().contains(
            "# kron: max_lateness = \"5s\": the CronJob controller looks every 10s, so a \
             startingDeadlineSeconds under 10 may miss runs\n"
        ),
        "{}",
        out.stdout()
    );
    assert!(
        !out.stdout().contains("none if it missed more than 100"),
        "{}",
        out.stdout()
    );
}
