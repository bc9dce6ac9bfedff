//! `kron next --expr`: JSON and human output, and bad input.

use crate::util::Env;

fn json(env: &Env, args: &[&str]) -> Vec<String> {
    let mut all = vec!["next"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = env.kron(&all).output();
    out.success();
    serde_json::from_str(&out.stdout()).expect("one JSON array")
}

#[test]
fn json_lists_instants_with_the_zone_offset() {
    let env = Env::new();
    let got = json(
        &env,
        &[
            "--expr",
            "30 2 * * *",
            "--tz",
            "America/New_York",
            "--after",
            "2026-03-08T01:59:00-05:00",
            "-n",
            "2",
        ],
    );
    assert_eq!(
        got,
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]
    );
}

#[test]
fn json_output_is_exactly_one_array() {
    let env = Env::new();
    let out = env
        .kron(&[
            "next",
            "--expr",
            "0 0 1 1 *",
            "--tz",
            "UTC",
            "--after",
            "2026-01-01T00:00:00Z",
            "-n",
            "2",
            "--json",
        ])
        .output();
    out.success();
    assert_eq!(
        out.stdout(),
        "[\"2027-01-01T00:00:00+00:00\",\"2028-01-01T00:00:00+00:00\"]\n"
    );
    assert_eq!(out.stderr(), "");
}

#[test]
fn the_system_zone_is_the_default() {
    let env = Env::new();
    let out = env
        .kron(&[
            "next",
            "--expr",
            "0 12 * * *",
            "--after",
            "2026-01-01T00:00:00Z",
            "-n",
            "1",
            "--json",
        ])
        .env("TZ", "Europe/Berlin")
        .output();
    out.success();
    assert_eq!(out.stdout().trim(), "[\"2026-01-01T12:00:00+01:00\"]");
}

#[test]
fn empty_results() {
    let env = Env::new();
    let after = "2026-01-01T00:00:00Z";
    assert!(json(&env, &["--expr", "@reboot", "--after", after]).is_empty());
    assert!(json(&env, &["--expr", "* * * * *", "--after", after, "-n", "0"]).is_empty());
    assert!(json(&env, &["--expr", "0 0 0 1 1 ? 2020", "--after", after]).is_empty());
    // Fewer left than asked for.
    assert_eq!(
        json(
            &env,
            &[
                "--expr",
                "0 0 0 1 1 ? 2027-2028",
                "--after",
                after,
                "-n",
                "5"
            ]
        )
        .len(),
        2
    );
}

#[test]
fn human_output_shows_wall_time_offset_and_distance() {
    let env = Env::new();
    let out = env
        .kron(&[
            "next",
            "--expr",
            "30 2 * * *",
            "--tz",
            "America/New_York",
            "--after",
            "2026-03-08T01:59:00-05:00",
            "-n",
            "2",
        ])
        .output();
    out.success();
    let stdout = out.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].contains("02:30") && lines[0].contains("America/New_York"),
        "{stdout}"
    );
    assert_eq!(lines[1], "Sun 2026-03-08 03:00:00 -04:00  in 1m");
    assert_eq!(lines[2], "Mon 2026-03-09 02:30:00 -04:00  in 23h 31m");
}

#[test]
fn bad_input_exits_2_with_nothing_on_stdout() {
    let env = Env::new();
    let cases: &[(&[&str], &str)] = &[
        (&["--expr", "60 * * * *"], "minute: 60 is out of range 0-59"),
        (&["--expr", "0 0 30 2 *"], "never fires"),
        (&["--expr", "0 0 * * sat-sun"], "sat,sun"),
        (&["--expr", "* * * *"], "found 4 fields"),
        (&["--expr", "@every 0s"], "above zero"),
        (
            &["--expr", "* * * * *", "--tz", "Mars/Base"],
            "unknown time zone `Mars/Base`",
        ),
        (
            &["--expr", "* * * * *", "--after", "yesterday"],
            "invalid instant `yesterday`",
        ),
        (
            &["--expr", "* * * * *", "-n", "many"],
            "invalid value 'many'",
        ),
        (&[], "--expr"),
    ];
    for (args, message) in cases {
        let mut all = vec!["next"];
        all.extend_from_slice(args);
        for json in [false, true] {
            let mut all = all.clone();
            if json {
                all.push("--json");
            }
            let out = env.kron(&all).output();
            out.code(2);
            assert_eq!(out.stdout(), "", "{all:?}");
            assert!(out.stderr().contains(message), "{all:?}: {}", out.stderr());
        }
    }
}

#[test]
fn help_describes_the_verb() {
    let env = Env::new();
    let out = env.kron(&["next", "--help"]).output();
    out.success();
    for word in ["--expr", "--tz", "--after", "--count", "--json", "RFC 3339"] {
        assert!(
            out.stdout().contains(word),
            "{word} missing from:\n{}",
            out.stdout()
        );
    }
}

#[test]
fn after_takes_a_date_or_a_date_and_time_in_the_local_zone() {
    let env = Env::new();
    let next = |tz: &str, after: &str| {
        let out = env
            .kron(&[
                "next",
                "--expr",
                "*/30 * * * *",
                "--after",
                after,
                "-n",
                "1",
                "--json",
            ])
            .env("TZ", tz)
            .output();
        out.success();
        serde_json::from_str::<Vec<String>>(&out.stdout()).unwrap()
    };
    assert_eq!(next("UTC", "2026-03-08"), ["2026-03-08T00:30:00+00:00"]);
    assert_eq!(
        next("Europe/Berlin", "2026-07-01 09:00"),
        ["2026-07-01T09:30:00+02:00"]
    );
    assert_eq!(
        next("Europe/Berlin", "2026-07-01 09:10:00"),
        ["2026-07-01T09:30:00+02:00"]
    );
    // RFC 3339 as before.
    assert_eq!(
        next("Europe/Berlin", "2026-07-01T07:00:00Z"),
        ["2026-07-01T09:30:00+02:00"]
    );
}
