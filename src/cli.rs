//! The command line, as clap types only. Doc comments here are the `--help`
//! text and, later, the man pages.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// kron: a per-user crontab replacement with retries, locks, logs and exact
/// time semantics.
#[derive(Debug, Parser)]
#[command(name = "kron", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// The task file to use [default: $KRON_FILE, else
    /// $XDG_CONFIG_HOME/kron/tasks.toml, i.e. ~/.config/kron/tasks.toml].
    #[arg(long, global = true, value_name = "PATH")]
    pub file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Edit the task file in $VISUAL, else $EDITOR, else vi.
    ///
    /// kron copies the file to a private temporary file and opens it in the
    /// editor. When the editor exits, kron validates the result: an unchanged
    /// file is left alone; a valid one is installed atomically; an invalid
    /// one is never installed: kron prints every error and, on a terminal,
    /// offers to edit again with your text kept. If the task file changed
    /// while you edited (say, a `kron add`), kron refuses to overwrite it and
    /// keeps your version at a path it names. A new file starts from a
    /// commented template.
    Edit,

    /// Add a task to the task file.
    ///
    /// The command comes after `--`. One argument is run by the shell
    /// (`-- 'pg_dump db | gzip > db.gz'`); several are run as they are,
    /// without a shell (`-- restic backup /home`). Comments and formatting
    /// elsewhere in the file are kept byte for byte.
    ///
    /// Example:
    ///
    ///   kron add backup --schedule '30 2 * * *' --timeout 1h --retry 3 -- restic backup /home
    Add(AddArgs),

    /// Remove tasks from the task file.
    ///
    /// Every NAME must exist, or nothing is removed. A task goes with the
    /// comment lines touching it (directly above its header or below its
    /// last line); everything else in the file is kept byte for byte.
    #[command(visible_alias = "rm")]
    Remove(RemoveArgs),

    /// List the tasks: schedule, what it means, next run.
    #[command(visible_alias = "ls")]
    List(ListArgs),

    /// Show a task's effective settings, where each came from, and its next runs.
    Show(ShowArgs),

    /// Check a task file without installing it (for editors, pre-commit hooks and CI).
    ///
    /// Reports every error at once, each with file, line, column and key.
    /// Exits 0 when the file is valid, 2 when it is not.
    Check(CheckArgs),

    /// Convert a crontab into tasks and add them to the task file.
    ///
    /// Reads the output of `crontab -l` (a file, or - for standard input).
    /// Comments right above a line become its description; variable
    /// assignments apply to the lines after them (CRON_TZ sets the time
    /// zone, SHELL the shell, every other one the environment); `%` becomes
    /// standard input. Every line that cannot be converted is reported with
    /// its number; nothing is dropped silently.
    ///
    /// Example:
    ///
    ///   crontab -l | kron import -
    Import(ImportArgs),

    /// Write the tasks in another format.
    Export(ExportArgs),

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
#[command(group(ArgGroup::new("what").required(true).args(["task", "expr"])))]
pub struct NextArgs {
    /// A task in the task file.
    #[arg(value_name = "TASK")]
    pub task: Option<String>,

    /// A schedule instead of a task: 5 fields (minute hour day-of-month
    /// month day-of-week), 6 (a leading second), 7 (a trailing year), or a
    /// macro such as @daily or `@every 1h30m`.
    #[arg(long, value_name = "EXPR")]
    pub expr: Option<String>,

    /// Time zone the --expr schedule's fields are read in: an IANA name such
    /// as Europe/Berlin [default: the system's zone, else UTC].
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

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The task's name: 1-64 of a-z, 0-9, _ and -.
    pub name: String,

    /// When it runs (see `kron next --help` for the syntax).
    #[arg(long, value_name = "EXPR")]
    pub schedule: String,

    /// Time zone of the schedule (an IANA name) [default: the file's, else the system's].
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// What the task is for.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// Stop the command after this long (90s, 15m, 1h30m).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Retry a failed run up to N more times.
    #[arg(long, value_name = "N")]
    pub retry: Option<u32>,

    /// Directory to run in: absolute, ~/... (your home), or relative to the
    /// current directory.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<String>,

    /// Set an environment variable for the command (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Overwrite a task of the same name instead of refusing.
    #[arg(long)]
    pub replace: bool,

    /// The command, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The tasks to remove.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array of tasks instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The task to show.
    pub name: String,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The file to check [default: the task file].
    #[arg(value_name = "FILE")]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The crontab to read, or - for standard input.
    #[arg(value_name = "FILE", default_value = "-")]
    pub input: String,

    /// Read the /etc/crontab format, with its user column; lines for other
    /// users are reported, not imported.
    #[arg(long)]
    pub system: bool,

    /// Print the TOML that would be added instead of adding it.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The format to write.
    #[arg(long, value_enum, default_value_t = ExportFormat::Crontab)]
    pub format: ExportFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// A crontab(5) file, with a comment on each setting crontab cannot express.
    Crontab,
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
