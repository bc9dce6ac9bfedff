//! The command line, as clap types only. Doc comments here are the `--help`
//! text and, later, the man pages.

use clap::{Args, Parser, Subcommand};

/// kron: a per-user crontab replacement with retries, locks, logs and exact
/// time semantics.
#[derive(Debug, Parser)]
#[command(name = "kron", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show when a schedule fires next.
    ///
    /// Prints the next COUNT instants strictly after --after (default: now),
    /// in the schedule's time zone, with how far away each one is. With
    /// --json, prints one JSON array of RFC 3339 strings and nothing else.
    ///
    /// Examples:
    ///
    ///   kron next --expr '*/15 9-17 * * mon-fri'
    ///
    ///   kron next --expr '30 2 * * *' --tz America/New_York --after 2026-03-07T12:00:00Z -n 3
    ///
    ///   kron next --expr '@every 90m' --json
    Next(NextArgs),
}

#[derive(Debug, Args)]
pub struct NextArgs {
    /// The schedule: 5 fields (minute hour day-of-month month day-of-week),
    /// 6 (a leading second), 7 (a trailing year), or a macro such as @daily
    /// or `@every 1h30m`.
    #[arg(long, value_name = "EXPR")]
    pub expr: String,

    /// Time zone the schedule's fields are read in: an IANA name such as
    /// Europe/Berlin [default: the system's zone, else UTC].
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// List instants strictly after this RFC 3339 instant, e.g.
    /// 2026-03-08T01:59:00-05:00 or 2026-03-08T06:59:00Z [default: now].
    #[arg(long, value_name = "INSTANT")]
    pub after: Option<String>,

    /// How many instants to list.
    #[arg(short = 'n', long = "count", value_name = "COUNT", default_value_t = 5)]
    pub count: usize,

    /// Print one JSON array of RFC 3339 strings (with the zone's UTC offset).
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
