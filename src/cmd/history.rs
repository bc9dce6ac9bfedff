//! `kron history [NAME] [-n N] [--outcome O] [--since WHEN] [--archive]
//! [--json]`: past runs, newest first, from the history files (read
//! backwards through their indexes, `history::query`) and, with
//! `--archive` or a `--since` before the live files, their archives.

use std::io::Write;

use jiff::Timestamp;

use super::{Ctx, out};
use crate::cli::HistoryArgs;
use crate::error::Error;
use crate::history::Record;
use crate::output;
use crate::schedule::Zone;
use crate::units::{INSTANT_FORMS, format_duration, parse_duration, parse_instant};

pub fn run(ctx: &Ctx, args: &HistoryArgs) -> Result<(), Error> {
    if args.cluster {
        return super::cluster::history(ctx, args.name.as_deref(), args.count, args.json);
    }
    let dir = ctx.paths.history_dir();
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let names = super::history_names(ctx, args.name.as_deref())?;
    let filter = crate::history::query::Filter {
        outcome: args.outcome,
        since,
        archive: args.archive,
    };
    let (mut records, warnings) = crate::history::query::newest(&dir, &names, &filter, args.count)
        .map_err(super::history_error)?;
    for warning in warnings {
        eprintln!("kron: warning: {warning}");
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string_pretty(&records).expect("records serialize");
        return out!(stdout, "{json}");
    }
    if records.is_empty() {
        return out!(stdout, "no runs recorded");
    }
    if args.chart {
        records.reverse();
        return super::stats::chart(&mut stdout, &records);
    }
    let zone = output::local_zone();
    let rows: Vec<Vec<String>> = records.iter().map(|r| cells(r, &zone)).collect();
    let table = output::table(
        &[
            "STARTED", "TASK", "TRIGGER", "OUTCOME", "ATTEMPTS", "STATUS", "DURATION", "RUN",
        ],
        &rows,
        output::width(),
        &[],
    );
    write!(stdout, "{table}").map_err(Error::Output)
}

fn cells(r: &Record, zone: &Zone) -> Vec<String> {
    let mut status = match (r.exit_code, &r.signal) {
        (Some(code), _) => format!("exit {code}"),
        (_, Some(signal)) => signal.clone(),
        _ => "-".into(),
    };
    // What the command left in its group: running, or stopped.
    for (pids, what) in [(&r.leftovers, "left"), (&r.leftovers_stopped, "stopped")] {
        if !pids.is_empty() {
            status.push_str(&format!(" ({} {what})", pids.len()));
        }
    }
    vec![
        r.started
            .to_zoned(zone.time_zone().clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        r.task.clone(),
        r.trigger.as_str().into(),
        super::list::outcome_painted(r.outcome.as_str(), r.outcome),
        r.attempts.to_string(),
        status,
        format_duration(std::time::Duration::from_millis(r.duration_ms)),
        r.run_id.clone(),
    ]
}

/// An instant ([`parse_instant`]: RFC 3339, or a date or date and time in
/// the local zone), or a duration ago (`2h`, `1d`).
pub(super) fn parse_since(text: &str) -> Result<Timestamp, Error> {
    if let Some(t) = parse_instant(text, crate::output::local_zone().time_zone()) {
        return Ok(t);
    }
    let ago = parse_duration(text).map_err(|_| {
        Error::Invalid(format!(
            "--since `{text}`: expected {INSTANT_FORMS} in the local zone, or a duration \
             such as 2h or 1d"
        ))
    })?;
    let span = jiff::SignedDuration::try_from(ago)
        .map_err(|_| Error::Invalid(format!("--since `{text}` is too long ago")))?;
    Timestamp::now()
        .checked_sub(span)
        .map_err(|_| Error::Invalid(format!("--since `{text}` is too long ago")))
}
