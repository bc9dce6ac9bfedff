//! Seeing how tasks do: `kron stats` on a crafted history, the run chart
//! (plain without colour, coloured on a terminal unless NO_COLOR), `--utc`,
//! and the Prometheus textfile checked against the exposition format by a
//! strict parser (and `promtool check metrics` when it is installed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::util::{Env, history, task};

/// Nine runs an hour apart from 2023-11-14T22:13:20Z: outcome, attempts,
/// duration.
const RUNS: [(&str, u32, u64); 9] = [
    ("success", 1, 1000),
    ("failure", 3, 400),
    ("success", 2, 3000),
    ("skipped", 0, 0),
    ("timeout", 1, 60_000),
    ("success", 1, 1200),
    ("interrupted", 1, 50),
    ("success", 3, 2000),
    ("success", 1, 900),
];

fn craft_history(env: &Env, task: &str) {
    let dir = env.path().join("state/kron/history");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    for (i, (outcome, attempts, ms)) in RUNS.iter().enumerate() {
        let started = jiff::Timestamp::from_second(1_700_000_000 + i as i64 * 3600).unwrap();
        let finished = started + Duration::from_millis(*ms);
        let record = serde_json::json!({
            "run_id": format!("r{i}"), "task": task, "trigger": "schedule",
            "scheduled": started.to_string(), "started": started.to_string(),
            "finished": finished.to_string(), "attempts": attempts,
            "exit_code": match *outcome { "success" => Some(0), "failure" => Some(3), _ => None },
            "signal": if *outcome == "timeout" { Some("SIGTERM") } else { None },
            "outcome": outcome, "duration_ms": ms,
        });
        text.push_str(&record.to_string());
        text.push('\n');
    }
    std::fs::write(dir.join(format!("{task}.jsonl")), text).unwrap();
}

#[test]
fn stats_of_a_crafted_history() {
    let env = Env::new();
    craft_history(&env, "backup");
    let out = env.kron(&["stats", "backup", "--json"]).output();
    out.success();
    let s: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(s["runs"], 9);
    assert_eq!(
        s["outcomes"],
        serde_json::json!({"success": 5, "failure": 1, "timeout": 1, "skipped": 1, "interrupted": 1, "missed": 0, "abandoned": 0})
    );
    assert!((s["success_rate"].as_f64().unwrap() - 5.0 / 7.0).abs() < 1e-9);
    assert_eq!(
        s["duration_ms"],
        serde_json::json!({"p50": 1200, "p95": 60000, "max": 60000})
    );
    assert_eq!(
        (s["retried"].as_u64(), s["saved_by_retry"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(s["last_failure"]["run_id"], "r4");
    assert_eq!(s["last_failure"]["outcome"], "timeout");
    assert_eq!(s["last_success"]["run_id"], "r8");

    let out = env.kron(&["stats"]).output();
    out.success();
    let table: Vec<String> = out.stdout().lines().map(str::to_string).collect();
    assert!(
        table[0].starts_with(
            "TASK    RUNS  SUCCESS  FAILED  P50   P95  MAX  SAVED BY RETRY  LAST FAILURE"
        ),
        "{table:?}"
    );
    assert!(
        table[1].starts_with("backup  9     71.4%    2       1.2s  1m   1m   2               "),
        "{table:?}"
    );
    let all: serde_json::Value =
        serde_json::from_str(&env.kron(&["stats", "--json"]).output().stdout()).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["task"], "backup");

    let out = env.kron(&["stats", "backup"]).output();
    out.success();
    let text = out.stdout();
    for line in [
        "backup: 9 run(s) since Tue 2023-11-14 22:13:20 +00:00\n",
        "  outcomes      5 success, 1 failure, 1 timeout, 1 skipped, 1 interrupted\n",
        "  success rate  71.4% (5 of 7 that ended on their own)\n",
        "  duration      p50 1.2s, p95 1m, max 1m\n",
        "  retries       3 run(s) needed a retry; 2 succeeded thanks to it\n",
        "  last failure  Wed 2023-11-15 02:13:20 +00:00 (",
        "): timeout, SIGTERM, run r4\n",
        "\nthe last 9 run(s), oldest first:\n2023-11-14 22:13:20  success",
    ] {
        assert!(text.contains(line), "no {line:?} in:\n{text}");
    }
    // A task that has not run yet has no runs; a name no task has is an error.
    env.write_task_file("[tasks.nothing]\nschedule = \"@daily\"\ncommand = \"true\"\n");
    let out = env.kron(&["stats", "nothing"]).output();
    out.success();
    assert_eq!(out.stdout(), "nothing: no runs recorded\n");
    env.kron(&["stats", "nothin"]).output().code(2);
}

#[test]
fn the_chart_is_plain_without_colour_and_times_follow_utc() {
    let env = Env::new();
    craft_history(&env, "backup");
    let out = env
        .kron(&["history", "backup", "--chart", "-n", "4"])
        .env("COLUMNS", "62")
        .env("TZ", "Europe/Berlin")
        .output();
    out.success();
    assert_eq!(
        out.stdout(),
        "\
2023-11-15 04:13:20  success        1.2s  ############
2023-11-15 05:13:20  interrupted    50ms  ~
2023-11-15 06:13:20  success          2s  ####################
2023-11-15 07:13:20  success       900ms  #########
bar = duration; # success  x failure, timeout  - skipped  ~ interrupted
"
    );
    let utc = env
        .kron(&["history", "backup", "--chart", "-n", "1", "--utc"])
        .env("TZ", "Europe/Berlin")
        .output();
    assert!(
        utc.stdout().starts_with("2023-11-15 06:13:20  success"),
        "{}",
        utc.stdout()
    );
    let table = env
        .kron(&["history", "backup", "-n", "1", "--utc"])
        .env("TZ", "Europe/Berlin")
        .output();
    assert!(
        table.stdout().contains("\n2023-11-15 06:13:20  backup"),
        "{}",
        table.stdout()
    );
    let colour = env
        .kron(&["history", "backup", "--chart", "--color", "always"])
        .output();
    assert!(colour.stdout().contains("\x1b[32m█"), "{}", colour.stdout());
    assert!(colour.stdout().contains("\x1b[31m█"), "{}", colour.stdout());
    env.kron(&["history", "--chart"]).output().code(2);
}

/// `kron ARGS` on a pseudo-terminal (util-linux `script`): its output.
fn on_a_terminal(env: &Env, args: &str, no_color: Option<&str>) -> Option<String> {
    let mut run = env.on_a_terminal(args)?.env("TERM", "xterm");
    if let Some(value) = no_color {
        run = run.env("NO_COLOR", value);
    }
    let out = run.output_on_a_terminal("");
    out.success();
    Some(out.stdout())
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    let env = Env::new();
    craft_history(&env, "backup");
    let Some(coloured) = on_a_terminal(&env, "history backup --chart", None) else {
        return;
    };
    assert!(coloured.contains("\x1b[32m"), "{coloured:?}");
    let plain = on_a_terminal(&env, "history backup --chart", Some("1")).unwrap();
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(plain.contains("# success"), "{plain:?}");
    let never = on_a_terminal(&env, "stats backup --color never", None).unwrap();
    assert!(!never.contains('\x1b'), "{never:?}");
}

/// One sample of the exposition format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A metric family: its HELP, TYPE and samples.
#[derive(Debug, Default)]
struct Family {
    help: Option<String>,
    kind: Option<String>,
    samples: Vec<Sample>,
}

fn metric_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn label_name(text: &str) -> bool {
    metric_name(text) && !text.contains(':') && !text.starts_with("__")
}

/// Parses the Prometheus text exposition format (0.0.4) strictly: HELP and
/// TYPE at most once per family and before its samples, a family's samples
/// in one group, valid names, label values with only `\\`, `\"` and `\n`
/// escapes, no duplicate series, numeric values, a final newline.
fn parse_exposition(text: &str) -> BTreeMap<String, Family> {
    assert!(text.ends_with('\n'), "the last line must end");
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut series = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut finished = BTreeSet::new();
    let mut switch = |name: &str, current: &mut Option<String>| {
        if current.as_deref() != Some(name) {
            if let Some(previous) = current.take() {
                finished.insert(previous);
            }
            assert!(
                !finished.contains(name),
                "family {name} appears in two groups"
            );
            *current = Some(name.to_string());
        }
    };
    for (number, line) in text.lines().enumerate() {
        let at = format!("line {}: {line:?}", number + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(metric_name(name), "{at}");
            switch(name, &mut current);
            let mut escaped = help.chars();
            while let Some(c) = escaped.next() {
                if c == '\\' {
                    assert!(matches!(escaped.next(), Some('\\' | 'n')), "{at}");
                }
            }
            let family = families.entry(name.into()).or_default();
            assert!(family.help.is_none() && family.samples.is_empty(), "{at}");
            family.help = Some(help.into());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect(&at);
            assert!(metric_name(name), "{at}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{at}"
            );
            switch(name, &mut current);
            let family = families.entry(name.into()).or_default();
            assert!(family.kind.is_none() && family.samples.is_empty(), "{at}");
            family.kind = Some(kind.into());
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else {
            let sample = parse_sample(line, &at);
            switch(&sample.name, &mut current);
            let key = (sample.name.clone(), format!("{:?}", sample.labels));
            assert!(series.insert(key), "duplicate series: {at}");
            families
                .entry(sample.name.clone())
                .or_default()
                .samples
                .push(sample);
        }
    }
    for (name, family) in &families {
        assert!(
            family.help.is_some() && family.kind.is_some(),
            "{name} lacks HELP or TYPE"
        );
    }
    families
}

fn parse_sample(line: &str, at: &str) -> Sample {
    let name_end = line.find(['{', ' ']).expect(at);
    let name = &line[..name_end];
    assert!(metric_name(name), "{at}");
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        loop {
            let start = chars.peek().expect(at).0;
            if inner[start..].starts_with('}') {
                rest = &inner[start + 1..];
                break;
            }
            let eq = start + inner[start..].find('=').expect(at);
            let label = &inner[start..eq];
            assert!(label_name(label), "{at}");
            while chars.peek().is_some_and(|&(i, _)| i <= eq) {
                chars.next();
            }
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{at}");
            let mut value = String::new();
            loop {
                match chars.next().expect(at).1 {
                    '"' => break,
                    '\\' => match chars.next().expect(at).1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        other => panic!("bad escape \\{other}: {at}"),
                    },
                    '\n' => panic!("raw newline: {at}"),
                    c => value.push(c),
                }
            }
            assert!(labels.insert(label.to_string(), value).is_none(), "{at}");
            if chars.peek().is_some_and(|&(_, c)| c == ',') {
                chars.next();
            }
        }
    }
    let mut fields = rest.strip_prefix(' ').expect(at).split(' ');
    let value = fields.next().expect(at);
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().expect(at),
    };
    if let Some(timestamp) = fields.next() {
        timestamp.parse::<i64>().expect(at);
    }
    assert!(fields.next().is_none(), "{at}");
    Sample {
        name: name.into(),
        labels,
        value,
    }
}

#[test]
fn the_strict_parser_refuses_what_the_format_does_not_allow() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{task=\"x\\\\y\\\"z\\n\"} 1\n";
    let families = parse_exposition(ok);
    assert_eq!(families["a_total"].samples[0].labels["task"], "x\\y\"z\n");
    for bad in [
        "# TYPE a gauge\na 1\n# TYPE a gauge\n",
        "# HELP a A.\n# TYPE a gauge\na 1\nb 2\na 3\n",
        "a 1\n# HELP a A.\n# TYPE a gauge\n",
        "# HELP a A.\n# TYPE a gauge\na{t=\"x\"} 1\na{t=\"x\"} 2\n",
        "# HELP a A.\n# TYPE a gauge\na{t=\"\\x\"} 1\n",
        "# HELP a A.\n# TYPE a gauge\na one\n",
        "# HELP a A.\n# TYPE a gauge\na 1",
    ] {
        let refused = std::panic::catch_unwind(|| parse_exposition(bad)).is_err();
        assert!(refused, "accepted {bad:?}");
    }
}

fn value(families: &BTreeMap<String, Family>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    families
        .get(name)?
        .samples
        .iter()
        .find(|s| s.labels == want)
        .map(|s| s.value)
}

fn metrics_env() -> (Env, PathBuf) {
    let env = Env::new();
    let dir = env.path().join("work");
    let textfiles = env.path().join("textfiles");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&textfiles).unwrap();
    let file = textfiles.join("kron.prom");
    let mut text = format!(
        "[defaults]\nmetrics_file = {:?}\n\n",
        file.display().to_string()
    );
    text.push_str(&task("good", "sleep 0.1", &dir, ""));
    text.push_str(&task("bad", "exit 1", &dir, ""));
    for n in 0..8 {
        text.push_str(&task(&format!("p{n}"), "true", &dir, ""));
    }
    env.write_task_file(&text);
    (env, file)
}

#[test]
fn the_metrics_file_has_the_counts_and_times_after_runs() {
    use std::os::unix::fs::PermissionsExt;
    let (env, file) = metrics_env();
    env.kron(&["run", "good"]).output().success();
    env.kron(&["run", "good"]).output().success();
    env.kron(&["run", "bad"]).output().code(1);
    let text = std::fs::read_to_string(&file).unwrap();
    let m = parse_exposition(&text);
    let kinds: Vec<(&str, &str)> = m
        .iter()
        .map(|(name, f)| (name.as_str(), f.kind.as_deref().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("kron_missed_runs_total", "counter"),
            ("kron_task_failures_total", "counter"),
            ("kron_task_last_duration_seconds", "gauge"),
            ("kron_task_last_outcome", "gauge"),
            ("kron_task_last_run_timestamp_seconds", "gauge"),
            ("kron_task_last_success_timestamp_seconds", "gauge"),
            ("kron_task_runs_total", "counter"),
        ]
    );
    let runs = |task: &str, outcome: &str| {
        value(
            &m,
            "kron_task_runs_total",
            &[("task", task), ("outcome", outcome)],
        )
    };
    assert_eq!(runs("good", "success"), Some(2.0));
    assert_eq!(runs("good", "failure"), Some(0.0));
    assert_eq!(runs("bad", "failure"), Some(1.0));
    assert_eq!(runs("bad", "skipped"), Some(0.0));
    assert_eq!(
        value(&m, "kron_task_failures_total", &[("task", "bad")]),
        Some(1.0)
    );
    assert_eq!(
        value(&m, "kron_task_failures_total", &[("task", "good")]),
        Some(0.0)
    );
    let last = |task: &str, outcome: &str| {
        value(
            &m,
            "kron_task_last_outcome",
            &[("task", task), ("outcome", outcome)],
        )
    };
    assert_eq!(
        (last("good", "success"), last("good", "failure")),
        (Some(1.0), Some(0.0))
    );
    assert_eq!(
        (last("bad", "success"), last("bad", "failure")),
        (Some(0.0), Some(1.0))
    );
    // Times and durations are the history's, in seconds.
    let good = history(&env, "good");
    let finished: jiff::Timestamp = good[1]["finished"].as_str().unwrap().parse().unwrap();
    let success = value(
        &m,
        "kron_task_last_success_timestamp_seconds",
        &[("task", "good")],
    );
    assert_eq!(
        (success.unwrap() * 1000.0).round() as i64,
        finished.as_millisecond()
    );
    assert_eq!(
        value(
            &m,
            "kron_task_last_success_timestamp_seconds",
            &[("task", "bad")]
        ),
        None,
        "bad never succeeded"
    );
    let duration = value(&m, "kron_task_last_duration_seconds", &[("task", "good")]).unwrap();
    assert_eq!(
        (duration * 1000.0).round() as u64,
        good[1]["duration_ms"].as_u64().unwrap()
    );
    assert!(duration >= 0.1, "{duration}");
    // Readable by node_exporter, and nothing left behind.
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    let names: Vec<String> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["kron.prom"]);
    promtool(&file);
}

#[test]
fn concurrent_runs_keep_the_metrics_file_whole() {
    let (env, file) = metrics_env();
    let children: Vec<_> = (0..8)
        .flat_map(|n| [n, n])
        .map(|n| {
            env.kron(&["run", &format!("p{n}")])
                .into_command()
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        child.wait().unwrap();
    }
    let m = parse_exposition(&std::fs::read_to_string(&file).unwrap());
    let mut total = 0.0;
    for n in 0..8 {
        let task = format!("p{n}");
        let recorded = history(&env, &task).len() as f64;
        let counted: f64 = ["success", "skipped"]
            .iter()
            .map(|o| {
                value(
                    &m,
                    "kron_task_runs_total",
                    &[("task", &task), ("outcome", o)],
                )
                .unwrap()
            })
            .sum();
        assert_eq!(counted, recorded, "{task}");
        total += counted;
    }
    assert_eq!(total, 16.0);
    promtool(&file);
}

/// `promtool check metrics` on `file`, when promtool is installed.
fn promtool(file: &Path) {
    let Ok(text) = std::fs::read(file) else {
        panic!("no {}", file.display());
    };
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("skipped: promtool is not installed");
        return;
    };
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
