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
    let mut all = Vec::new();
    for name in &names {
        let records = read(ctx, name)?;
        all.push((stats::compute(name, &records), records));
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let json = match &all[..] {
            [(one, _)] if args.name.is_some() => serde_json::to_string_pretty(one),
            _ => serde_json::to_string_pretty(&all.iter().map(|(s, _)| s).collect::<Vec<_>>()),
        }
        .expect("stats serialize");
        return out!(stdout, "{json}");
    }
    if let [(one, records)] = &all[..]
        && args.name.is_some()
    {
        return detail(&mut stdout, one, records);
    }
    if all.is_empty() {
        return out!(stdout, "no runs recorded");
    }
    let now = Timestamp::now();
    let rows: Vec<Vec<String>> = all.iter().map(|(s, _)| cells(s, now)).collect();
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

/// The task's history, oldest first; skipped lines are warned about.
fn read(ctx: &Ctx, name: &str) -> Result<Vec<Record>, Error> {
    super::read_history(&ctx.paths.history_dir(), name)
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

fn detail(o: &mut impl Write, s: &TaskStats, records: &[Record]) -> Result<(), Error> {
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
    let recent = &records[records.len().saturating_sub(CHART_RUNS)..];
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
