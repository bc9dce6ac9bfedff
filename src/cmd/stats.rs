//! `kron stats [NAME] [--json]`: how tasks do, from their history (see
//! `stats` for the definitions); with NAME, the numbers in detail and a
//! chart of the last runs. Also the chart of `kron history NAME --chart`.

use std::io::Write;

use jiff::Timestamp;

use super::{Ctx, out};
use crate::cli::StatsArgs;
use crate::error::Error;
use crate::history::Record;
use crate::output;
use crate::stats::{self, RunRef, TaskStats};

/// Runs drawn by `kron stats NAME`.
const CHART_RUNS: usize = 20;

pub fn run(ctx: &Ctx, args: &StatsArgs) -> Result<(), Error> {
    if args.cluster {
        return super::cluster::stats(ctx, args.name.as_deref(), args.json);
    }
    let names = super::history_names(ctx, args.name.as_deref())?;
    let dir = ctx.paths.history_dir();
    let mut all = Vec::new();
    for name in &names {
        let scan = crate::history::query::scan(&dir, name).map_err(super::history_error)?;
        for warning in &scan.warnings {
            eprintln!("kron: warning: {warning}");
        }
        let lasts = [&scan.last_run, &scan.last_failure, &scan.last_success].map(Option::as_ref);
        all.push(stats::tally(name, &scan.runs, lasts));
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let json = match &all[..] {
            [one] if args.name.is_some() => serde_json::to_string_pretty(one),
            _ => serde_json::to_string_pretty(&all),
        }
        .expect("stats serialize");
        return out!(stdout, "{json}");
    }
    if let [one] = &all[..]
        && let Some(name) = &args.name
    {
        let (mut recent, _) = crate::history::query::newest(
            &dir,
            std::slice::from_ref(name),
            &Default::default(),
            CHART_RUNS,
        )
        .map_err(super::history_error)?;
        recent.reverse();
        return detail(&mut stdout, one, &recent);
    }
    if all.is_empty() {
        return out!(stdout, "no runs recorded");
    }
    let now = Timestamp::now();
    let rows: Vec<Vec<String>> = all.iter().map(|s| cells(s, now)).collect();
    let table = output::table(
        &[
            "TASK",
            "RUNS",
            "SUCCESS",
            "FAILED",
            "P50",
            "P95",
            "MAX",
            "SAVED BY RETRY",
            "LAST FAILURE",
        ],
        &rows,
        output::width(),
        &[],
    );
    write!(stdout, "{table}").map_err(Error::Output)
}

fn rate(s: &TaskStats) -> String {
    s.success_rate
        .map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0))
}

fn cells(s: &TaskStats, now: Timestamp) -> Vec<String> {
    let duration = |f: fn(&stats::Durations) -> u64| {
        s.duration_ms
            .as_ref()
            .map_or_else(|| "-".into(), |d| output::short_duration(f(d)))
    };
    vec![
        s.task.clone(),
        s.runs.to_string(),
        rate(s),
        s.outcomes.failed().to_string(),
        duration(|d| d.p50),
        duration(|d| d.p95),
        duration(|d| d.max),
        s.saved_by_retry.to_string(),
        s.last_failure
            .as_ref()
            .map_or_else(|| "-".into(), |r| output::relative(now, r.started)),
    ]
}

/// The numbers of one task, and a chart of its `recent` runs (oldest first).
fn detail(o: &mut impl Write, s: &TaskStats, recent: &[Record]) -> Result<(), Error> {
    let Some(since) = s.since else {
        return out!(o, "{}: no runs recorded", s.task);
    };
    let zone = output::local_zone();
    let now = Timestamp::now();
    let when = |t: Timestamp| {
        format!(
            "{} ({})",
            output::short_wall_time(t, &zone),
            output::relative(now, t)
        )
    };
    out!(
        o,
        "{}: {} run(s) since {}",
        s.task,
        s.runs,
        output::short_wall_time(since, &zone)
    )?;
    let c = &s.outcomes;
    let counts: Vec<String> = [
        (c.success, "success"),
        (c.failure, "failure"),
        (c.timeout, "timeout"),
        (c.skipped, "skipped"),
        (c.interrupted, "interrupted"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, name)| format!("{n} {name}"))
    .collect();
    out!(o, "  outcomes      {}", counts.join(", "))?;
    out!(
        o,
        "  success rate  {} ({} of {} that ended on their own)",
        rate(s),
        c.success,
        c.finished()
    )?;
    if let Some(d) = &s.duration_ms {
        out!(
            o,
            "  duration      p50 {}, p95 {}, max {}",
            output::short_duration(d.p50),
            output::short_duration(d.p95),
            output::short_duration(d.max)
        )?;
    }
    out!(
        o,
        "  retries       {} run(s) needed a retry; {} succeeded thanks to it",
        s.retried,
        s.saved_by_retry
    )?;
    let describe = |r: &RunRef| {
        let status = match (r.exit_code, &r.signal) {
            (Some(code), _) => format!(", exit {code}"),
            (_, Some(signal)) => format!(", {signal}"),
            _ => String::new(),
        };
        format!(
            "{}: {}{status}, run {}",
            when(r.started),
            r.outcome.as_str(),
            r.run_id
        )
    };
    for (label, run) in [
        ("last failure", &s.last_failure),
        ("last success", &s.last_success),
    ] {
        let text = run.as_ref().map_or_else(|| "never".into(), describe);
        out!(o, "  {label:<12}  {text}")?;
    }
    out!(o, "\nthe last {} run(s), oldest first:", recent.len())?;
    chart(o, recent)
}

/// Draws `runs` (oldest first) for the terminal.
pub fn chart(o: &mut impl Write, runs: &[Record]) -> Result<(), Error> {
    let text = crate::chart::render(
        runs,
        &output::local_zone(),
        output::width(),
        output::style().color,
    );
    write!(o, "{text}").map_err(Error::Output)
}
