//! `kron why NAME [--at WHEN] [-n N] [--json]`: for a task's last
//! scheduled instants (or those nearest WHEN), what the schedule said and
//! what happened to each, and why, one line each. It reads the history
//! (runs with their lateness, skips with the lock's holder, `missed`
//! stretches with their cause) and the schedule; an instant with no trace
//! says what kron can tell of it. Nothing here decides anything again: the
//! planner and the supervisors recorded their decisions as they made them.

use std::io::Write;

use jiff::Timestamp;
use serde::Serialize;

use super::{Ctx, out};
use crate::cli::WhyArgs;
use crate::daemon::plan::due_instants;
use crate::daemon::state::State;
use crate::error::Error;
use crate::history::{self, Outcome, Record};
use crate::ipc;
use crate::output;
use crate::taskfile::Task;
use crate::units::format_duration;

/// One instant and what became of it.
#[derive(Serialize)]
struct Answer {
    instant: Timestamp,
    /// `ran`, `skipped`, `missed`, `paused` (a pause still going on), or
    /// `unknown`.
    what: &'static str,
    text: String,
    /// What a clock change did to the instant, when one moved or repeated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    dst: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<Record>,
}

pub fn run(ctx: &Ctx, args: &WhyArgs) -> Result<(), Error> {
    let file = ctx.load_tasks()?;
    let task = file
        .task(&args.name)
        .ok_or_else(|| super::unknown(&file, &args.name))?;
    let now = Timestamp::now();
    let around = match &args.at {
        Some(text) => super::history::parse_since(text)?,
        None => now,
    };
    let (records, _) = history::read(&ctx.paths.history_dir(), &task.name).unwrap_or_default();
    let (instants, _) = due_instants(&task.schedule, Timestamp::MIN, around, args.count.max(1));
    let zone = &task.settings.timezone;
    // The daemon's memory: since when it has seen the task paused, and when
    // the last daemon stopped cleanly (`None` while one runs), for the
    // instants of a pause or a downtime still going on, which get their
    // record when it ends.
    let state = State::load(&ctx.paths.state_file()).unwrap_or_default();
    let now_since = Since {
        paused: task
            .settings
            .paused
            .then(|| state.paused.get(&task.name).copied())
            .flatten(),
        stopped: state.stopped,
        now,
    };
    let answers: Vec<Answer> = instants
        .iter()
        .rev()
        .map(|&t| {
            let mut a = answer(t, &records, zone, &now_since);
            // What a clock change did to the instant, from the engine's
            // own count (`schedule::dst`), before what became of it.
            if let Some(note) = task.schedule.dst_note(t) {
                a.text = format!("{note}; {}", a.text);
                a.dst = Some(note);
            }
            a
        })
        .collect();
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let text = serde_json::to_string_pretty(&answers).expect("answers serialise");
        return out!(stdout, "{text}");
    }
    out!(stdout, "{}", heading(ctx, task, now))?;
    for a in &answers {
        out!(
            stdout,
            "  {}  {}",
            output::short_wall_time(a.instant, zone),
            a.text
        )?;
    }
    Ok(())
}

/// The task's schedule, what comes next, and whether anything will run it.
fn heading(ctx: &Ctx, task: &Task, now: Timestamp) -> String {
    let zone = &task.settings.timezone;
    let mut line = format!(
        "{}: `{}` ({}) in {}",
        task.name,
        task.schedule_text,
        task.schedule.describe(),
        zone.name()
    );
    if task.settings.paused {
        line.push_str("; paused: no instant runs until `kron resume`");
    } else if let Some(next) = task.schedule.next_after(now) {
        line.push_str(&format!(
            "; next {} ({})",
            output::short_wall_time(next, zone),
            output::relative(now, next)
        ));
    }
    let served = matches!(
        ipc::request(&ctx.paths.socket_path(), &ipc::Request::Ping),
        Ok(ipc::Response::Pong { task_file, .. }) if task_file == ctx.paths.task_file
    );
    if !served {
        line.push_str(
            "\n  no daemon runs this task file now, so nothing runs on time (kron daemon start)",
        );
    }
    line
}

/// What is going on now that has no record yet.
struct Since {
    /// The task is paused, since then.
    paused: Option<Timestamp>,
    /// No daemon runs, since it stopped then.
    stopped: Option<Timestamp>,
    now: Timestamp,
}

/// What the history says of instant `t`, or failing it what `now` says.
fn answer(t: Timestamp, records: &[Record], zone: &crate::schedule::Zone, now: &Since) -> Answer {
    let of_t = |r: &&Record| r.scheduled == Some(t);
    if let Some(r) = records
        .iter()
        .rev()
        .filter(of_t)
        .find(|r| r.outcome != Outcome::Skipped)
        && r.outcome != Outcome::Missed
    {
        let late = r.started.duration_since(t);
        let how = if r.trigger == history::Trigger::CatchUp {
            "caught up"
        } else {
            "ran"
        };
        let mut text = format!(
            "{how} at {}, {} in {}",
            started(r.started, zone),
            r.outcome.as_str(),
            format_duration(std::time::Duration::from_millis(r.duration_ms))
        );
        if late > jiff::SignedDuration::from_secs(1) {
            let late = std::time::Duration::try_from(late).unwrap_or_default();
            text.push_str(&format!(" ({} late)", format_duration(late)));
        }
        if let Some(reason) = &r.reason {
            text.push_str(&format!(": {reason}"));
        }
        return Answer {
            instant: t,
            what: "ran",
            text,
            dst: None,
            record: Some(r.clone()),
        };
    }
    if let Some(r) = records
        .iter()
        .rev()
        .filter(of_t)
        .find(|r| r.outcome == Outcome::Skipped)
    {
        let reason = r
            .reason
            .as_deref()
            .unwrap_or("another run of it was going on");
        return Answer {
            instant: t,
            what: "skipped",
            text: format!("skipped: {reason}"),
            dst: None,
            record: Some(r.clone()),
        };
    }
    if let Some(r) = records.iter().rev().find(|r| {
        r.outcome == Outcome::Missed && r.missed.is_some_and(|m| m.first <= t && t <= m.last)
    }) {
        let reason = r.reason.as_deref().unwrap_or("missed");
        return Answer {
            instant: t,
            what: "missed",
            text: format!("did not run: {reason}"),
            dst: None,
            record: Some(r.clone()),
        };
    }
    if t > now.now {
        return Answer {
            instant: t,
            what: "unknown",
            text: format!("not due yet ({})", output::relative(now.now, t)),
            dst: None,
            record: None,
        };
    }
    if let Some(since) = now.paused.filter(|&since| since < t) {
        return Answer {
            instant: t,
            what: "paused",
            text: format!(
                "not run: paused since {} (kron resume lets it run again, from then on; this \
                 instant is recorded missed then)",
                output::short_wall_time(since, zone)
            ),
            dst: None,
            record: None,
        };
    }
    if let Some(since) = now.stopped.filter(|&since| since < t) {
        return Answer {
            instant: t,
            what: "missed",
            text: format!(
                "not run: the daemon is not running since {} (it stopped then); the next \
                 daemon records this instant missed, or catches it up",
                output::short_wall_time(since, zone)
            ),
            dst: None,
            record: None,
        };
    }
    let oldest = records.first().map(|r| r.started);
    let text = match oldest {
        Some(oldest) if t < oldest => {
            "no record: older than the history kron keeps for this task".to_string()
        }
        _ => "no record: no daemon had this task loaded then (it was added later, paused, \
              or no daemon ran)"
            .to_string(),
    };
    Answer {
        instant: t,
        what: "unknown",
        text,
        dst: None,
        record: None,
    }
}

/// `02:30:00.004`: when a run started, to the millisecond, in `zone`.
fn started(t: Timestamp, zone: &crate::schedule::Zone) -> String {
    t.to_zoned(zone.time_zone().clone())
        .strftime("%H:%M:%S%.3f")
        .to_string()
}
