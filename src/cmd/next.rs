//! `kron next`: the upcoming instants of a schedule.

use std::io::Write;

use jiff::Timestamp;

use super::Ctx;
use crate::cli::NextArgs;
use crate::error::Error;
use crate::output;
use crate::schedule::{Schedule, Zone};

pub fn run(ctx: &Ctx, args: &NextArgs) -> Result<(), Error> {
    let schedule = match (&args.task, &args.expr) {
        (_, Some(expr)) => {
            let zone = match &args.tz {
                Some(name) => Zone::get(name)?,
                None => Zone::system(),
            };
            Schedule::parse(expr, zone).map_err(|source| Error::Schedule {
                expr: expr.clone(),
                source,
            })?
        }
        (Some(name), None) => {
            if args.tz.is_some() {
                return Err(Error::Invalid(
                    "--tz applies to --expr; a task uses its own timezone".into(),
                ));
            }
            let file = ctx.load_tasks()?;
            let task = file.task(name).ok_or_else(|| super::unknown(&file, name))?;
            task.schedule.clone()
        }
        (None, None) => unreachable!("clap requires TASK or --expr"),
    };
    let reference = match &args.after {
        Some(text) => crate::units::parse_instant(text, output::local_zone().time_zone())
            .ok_or_else(|| Error::Instant { text: text.clone() })?,
        None => Timestamp::now(),
    };
    let instants: Vec<Timestamp> = schedule.upcoming(reference).take(args.count).collect();

    let mut out = std::io::stdout().lock();
    if args.json {
        let texts: Vec<String> = instants
            .iter()
            .map(|&t| output::rfc3339(t, schedule.zone()))
            .collect();
        let json = serde_json::to_string(&texts).expect("strings serialize");
        writeln!(out, "{json}").map_err(Error::Output)?;
        return Ok(());
    }
    writeln!(out, "{} ({})", schedule.describe(), schedule.zone().name()).map_err(Error::Output)?;
    for &t in &instants {
        writeln!(
            out,
            "{}  {}",
            output::wall_time(t, schedule.zone()),
            output::relative(reference, t)
        )
        .map_err(Error::Output)?;
    }
    if instants.is_empty() {
        writeln!(out, "(no upcoming instants)").map_err(Error::Output)?;
    }
    Ok(())
}
