//! `kron cluster status`, `kron history --cluster` and `kron stats
//! --cluster`: what the [cluster] backend says of every host, read from it
//! directly (the daemon never connects to it); and `kron __cluster-check`,
//! which the daemon starts to log what the backend's settings risk
//! (`runner::check`).

use std::collections::BTreeMap;
use std::io::Write;

use super::{Ctx, out};
use crate::cli::ClusterCommand;
use crate::cluster::{self, Backend, LedgerRow};
use crate::error::Error;
use crate::logging::{self, info, warning};
use crate::output;

pub fn run(ctx: &Ctx, command: &ClusterCommand) -> Result<(), Error> {
    match command {
        ClusterCommand::Status(args) => status(ctx, args.json),
    }
}

/// The backend of the task file's `[cluster]`, connected.
fn connect(ctx: &Ctx) -> Result<Box<dyn Backend>, Error> {
    let file = ctx.load_tasks()?;
    let Some(config) = &file.cluster else {
        return Err(Error::Invalid(format!(
            "{} has no [cluster] table: its tasks run on this host only \
             (README: \"Running on several hosts\")",
            file.path.display()
        )));
    };
    cluster::connect(config).map_err(|e| Error::Failed(e.to_string()))
}

fn failed(e: cluster::ClusterError) -> Error {
    Error::Failed(e.to_string())
}

fn status(ctx: &Ctx, json: bool) -> Result<(), Error> {
    let mut backend = connect(ctx)?;
    let nodes = backend.nodes().map_err(failed)?;
    let divergences = backend.divergences().map_err(failed)?;
    let now = backend.now().map_err(failed)?;
    let mut stdout = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({ "nodes": nodes, "divergences": divergences });
        let text = serde_json::to_string_pretty(&value).expect("serializes");
        return out!(stdout, "{text}");
    }
    if nodes.is_empty() {
        out!(stdout, "no node has claimed anything yet")?;
    } else {
        let rows: Vec<Vec<String>> = nodes
            .iter()
            .map(|n| {
                vec![
                    n.node.clone(),
                    output::relative(n.last_seen, now),
                    n.version.clone(),
                    n.tzdata.clone(),
                    n.file_digest.clone(),
                ]
            })
            .collect();
        let table = output::table(
            &["NODE", "LAST SEEN", "KRON", "TZDATA", "TASK FILE"],
            &rows,
            output::width(),
            &[],
        );
        write!(stdout, "{table}").map_err(Error::Output)?;
    }
    if divergences.is_empty() {
        return out!(stdout, "no task is defined differently between nodes");
    }
    for d in &divergences {
        let each: Vec<String> = d
            .digests
            .iter()
            .map(|(node, digest)| format!("{node} {digest}"))
            .collect();
        out!(
            stdout,
            "divergent: {} is defined differently: {}",
            d.task,
            each.join(", ")
        )?;
    }
    Ok(())
}

pub fn history(ctx: &Ctx, name: Option<&str>, count: usize, json: bool) -> Result<(), Error> {
    let mut backend = connect(ctx)?;
    let rows = backend.ledger(name, count).map_err(failed)?;
    let mut stdout = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&rows).expect("serializes");
        return out!(stdout, "{text}");
    }
    if rows.is_empty() {
        return out!(stdout, "no occurrences in the cluster's ledger");
    }
    let zone = output::local_zone();
    let time = |t: jiff::Timestamp| {
        t.to_zoned(zone.time_zone().clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let cells = |r: &LedgerRow| {
        let outcome = r.state.clone();
        let note = match (&r.previous, r.state.as_str()) {
            (Some(noticed), "abandoned") => format!("holder {} died; noticed by {noticed}", r.node),
            (Some(previous), _) => format!("took over from {previous}"),
            _ => r.reason.clone().unwrap_or_default(),
        };
        vec![
            time(r.instant),
            r.task.clone(),
            r.node.clone(),
            r.token.to_string(),
            outcome,
            r.attempts.map_or("-".into(), |a| a.to_string()),
            r.finished.map_or("-".into(), time),
            note,
        ]
    };
    let rows: Vec<Vec<String>> = rows.iter().map(cells).collect();
    let table = output::table(
        &[
            "SCHEDULED",
            "TASK",
            "NODE",
            "TOKEN",
            "OUTCOME",
            "ATTEMPTS",
            "FINISHED",
            "NOTE",
        ],
        &rows,
        output::width(),
        &[7],
    );
    write!(stdout, "{table}").map_err(Error::Output)
}

/// The most occurrences `kron stats --cluster` counts over.
const STATS_WINDOW: usize = 100_000;

pub fn stats(ctx: &Ctx, name: Option<&str>, json: bool) -> Result<(), Error> {
    let mut backend = connect(ctx)?;
    let rows = backend.ledger(name, STATS_WINDOW).map_err(failed)?;
    #[derive(Default, serde::Serialize)]
    struct Counts {
        occurrences: usize,
        by_outcome: BTreeMap<String, usize>,
        by_node: BTreeMap<String, usize>,
    }
    let mut tasks: BTreeMap<String, Counts> = BTreeMap::new();
    for r in &rows {
        let c = tasks.entry(r.task.clone()).or_default();
        c.occurrences += 1;
        *c.by_outcome.entry(r.state.clone()).or_default() += 1;
        *c.by_node.entry(r.node.clone()).or_default() += 1;
    }
    let mut stdout = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&tasks).expect("serializes");
        return out!(stdout, "{text}");
    }
    if tasks.is_empty() {
        return out!(stdout, "no occurrences in the cluster's ledger");
    }
    let join = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (task, c) in &tasks {
        out!(
            stdout,
            "{task}: {} occurrences: {}; by node: {}",
            c.occurrences,
            join(&c.by_outcome),
            join(&c.by_node)
        )?;
    }
    Ok(())
}

/// `kron __cluster-check`: one line in the daemon's log per setting of the
/// backend that can lose an acknowledged claim, or one that says none
/// does. Never an error: the daemon reads nothing back.
pub fn check(ctx: &Ctx) -> Result<(), Error> {
    logging::init_from_env();
    let pid = std::process::id();
    let config = match ctx.load_tasks() {
        Ok(file) => file.cluster,
        Err(e) => {
            warning!("cluster check {pid}: {e}");
            return Ok(());
        }
    };
    let Some(config) = config else {
        return Ok(());
    };
    let health = cluster::connect(&config).and_then(|mut backend| backend.health());
    match health {
        Ok(health) => {
            let warnings = cluster::warnings(&health);
            for text in &warnings {
                warning!("cluster check {pid}: {text}");
            }
            if warnings.is_empty() {
                info!(
                    "cluster check {pid}: the cluster backend ({}) keeps every acknowledged claim \
                     through a crash",
                    health.server
                );
            }
        }
        Err(e) => warning!(
            "cluster check {pid}: {e}: this host claims no cluster task until the backend \
             answers"
        ),
    }
    Ok(())
}
