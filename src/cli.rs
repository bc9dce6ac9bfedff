//! The command line, as clap types only. Doc comments here are the `--help`
//! text and, later, the man pages.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// `kron [--file F] daemon run`, the daemon's own command line (as
/// `daemon::control::start` and `service::daemon_argv` write it), read
/// without clap: the `Cli` clap would make of it, or `None` for any other
/// command line, which clap parses. Building clap's model of every verb
/// maps a megabyte and more of code and data that the daemon then never
/// runs again; its memory peak must not start there (docs/performance.md,
/// the daemon's memory).
pub fn daemon_run(args: &[std::ffi::OsString]) -> Option<Cli> {
    let words: Vec<&std::ffi::OsStr> = args.iter().skip(1).map(|a| a.as_os_str()).collect();
    let file = match words.as_slice() {
        [daemon, run] if *daemon == "daemon" && *run == "run" => None,
        [flag, file, daemon, run]
            if *flag == "--file"
                && *daemon == "daemon"
                && *run == "run"
                && !file.is_empty()
                && !file.as_encoded_bytes().starts_with(b"-") =>
        {
            Some(PathBuf::from(file))
        }
        _ => return None,
    };
    Some(Cli {
        file,
        color: ColorWhen::Auto,
        utc: false,
        command: Command::Daemon(DaemonCommand::Run),
    })
}

/// A per-user crontab replacement with retries, locks, logs and exact time
/// semantics.
///
/// Your tasks live in one TOML file, ~/.config/kron/tasks.toml (see
/// kron-tasks(5)): `kron edit` opens it as `crontab -e` does, `kron add` and
/// `kron remove` change it from the command line, and `kron import` converts
/// a crontab. A daemon, started by those verbs or at login (`kron daemon
/// install`), runs each task when it is due: a failed run is retried with
/// backoff, a task never overlaps itself, output goes to a rotating run log
/// (`kron logs`) and each outcome to the history (`kron history`), and runs
/// missed while the machine was off are caught up. `kron doctor` checks the
/// setup.
#[derive(Debug, Parser)]
#[command(name = "kron", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// The task file to use [default: $KRON_FILE, else
    /// $XDG_CONFIG_HOME/kron/tasks.toml, i.e. ~/.config/kron/tasks.toml].
    #[arg(long, global = true, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// When to colour the output: auto (on a terminal, unless NO_COLOR is
    /// set), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,

    /// Show times in UTC instead of the local zone (or the task's zone, for
    /// its schedule). JSON output is the same either way.
    #[arg(long, global = true)]
    pub utc: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Colour on a terminal, unless NO_COLOR is set (and not empty) or TERM is dumb.
    Auto,
    /// Always colour, even through a pipe or with NO_COLOR.
    Always,
    /// Never colour.
    Never,
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
    /// keeps your version at a path it names; the next `kron edit` opens that
    /// version, for you to merge with the file as it is now. kron keeps the
    /// last 10 edits it did not install, in $XDG_STATE_HOME/kron/edits. A new
    /// file starts from a commented template.
    Edit,

    /// Add a task to the task file.
    ///
    /// The command comes after `--`. One argument is run by the shell
    /// (`-- 'pg_dump db | gzip > db.gz'`); several are run as they are,
    /// without a shell (`-- restic backup /home`). Quote the schedule: its
    /// fields are one argument. A command without `--`, an unquoted
    /// schedule or a value starting with `-` is refused (exit 2) with a tip
    /// that shows what to write. A schedule that can only fire in the past
    /// (`0 0 9 1 1 ? 2020`) is refused, naming the last instant it had. A
    /// workdir that does not exist or a program not found on the task's
    /// PATH is warned about, not refused: it may be there by the first run.
    /// Comments and formatting elsewhere in the file are kept byte for byte.
    ///
    /// Example:
    ///
    ///   kron add backup --schedule '30 2 * * *' --timeout 1h --retry 3 -- restic backup /home
    Add(AddArgs),

    /// Change a task's settings: KEY=VALUE for any key of its table.
    ///
    /// KEY is a task-file key (see kron-tasks(5)), dotted for one inside a
    /// table: retry.attempts, log.keep, env.LANG. VALUE is read as TOML when
    /// it is a TOML value (3, true, ["restic", "backup"], { attempts = 3 },
    /// "quoted"), else as text (30s, @daily, pg_dump db); the keys that take
    /// only text (env.*, description, command, schedule, timezone, shell,
    /// workdir, stdin, lock, mailto, on_failure, on_success, on_missed) always read it
    /// as text (or an array for command), so env.PORT=8080 is "8080". The
    /// result is checked as `kron add` checks a task: an invalid value
    /// changes nothing (exit 2) and is reported against its key. A key that
    /// is there keeps its place and its comments; a new one goes after the
    /// task's last key; the rest of the file is kept byte for byte.
    ///
    /// Examples:
    ///
    ///   kron set backup timeout=2h retry.attempts=3
    ///
    ///   kron set backup 'command=["restic", "backup", "/home"]' env.RESTIC_REPOSITORY=/mnt/backup
    Set(SetArgs),

    /// Remove keys from a task's table, so that it takes the value of
    /// [defaults] or the built-in one (see `kron show`).
    ///
    /// KEY is dotted as for `kron set` (retry.attempts, env.LANG); a table
    /// left empty goes too, as do the comment lines directly above a key.
    /// A key the task does not set is reported and changes nothing; schedule
    /// and command cannot be unset.
    ///
    /// Example:
    ///
    ///   kron unset backup timeout env.LANG
    Unset(UnsetArgs),

    /// Remove tasks from the task file.
    ///
    /// Every NAME must exist, or nothing is removed. A task goes with the
    /// comment lines touching it (directly above its header or below its
    /// last line); everything else in the file is kept byte for byte.
    /// `--all` removes every task, after asking on a terminal (pass --yes
    /// elsewhere), and keeps the old file as tasks.toml.bak beside it.
    #[command(visible_alias = "rm")]
    Remove(RemoveArgs),

    /// List the tasks: next run, last outcome, command, schedule and what it
    /// means.
    ///
    /// On a terminal the table fits its width (COLUMNS when the terminal
    /// does not say): the name, the next run (relative), the last outcome
    /// and as much of the command as fits are always shown, and wider
    /// terminals add the schedule, what it means and the next run's date
    /// and time, in that order, while the command keeps 40 characters.
    /// Through a pipe or into a file every column is printed and nothing
    /// is cut. A failed or timed-out last outcome is red where colour is on.
    #[command(visible_alias = "ls")]
    List(ListArgs),

    /// Show a task's effective settings, where each came from, its next
    /// runs, and how its last run went.
    ///
    /// As `systemctl status` does for a unit: the run in progress if any,
    /// then the last run recorded (outcome, when it started, how long it
    /// took, attempts, exit status or signal, its id) and the last 10 lines
    /// of its output (`kron logs NAME` shows them all).
    Show(ShowArgs),

    /// Check a task file without installing it (for editors, pre-commit hooks and CI).
    ///
    /// Reports every error at once, each with file, line, column and key.
    /// A schedule that can only fire in the past (a year field that ran
    /// out) is an error here, naming its last instant, as in add and import.
    /// Exits 0 when the file is valid, 2 when it is not. Warnings go to
    /// stderr without failing: a zone not in its IANA spelling, and what
    /// would make every run of a task fail (exit 127): a workdir that does
    /// not exist, a program not found on the task's PATH (`kron add` and
    /// `kron doctor` warn too).
    Check(CheckArgs),

    /// Convert a crontab into tasks and add them to the task file.
    ///
    /// Reads the output of `crontab -l` (a file, or - for standard input,
    /// the default; on a terminal it first says on stderr that it reads
    /// standard input until Ctrl-D).
    /// Comments right above a line become its description and name the
    /// task (`# Nightly backup.` is nightly-backup; without one, the
    /// program the line runs names it); variable assignments apply to the
    /// lines after them (CRON_TZ sets the time zone, SHELL the shell, every
    /// other one the environment); `%` becomes standard input, and a `%`
    /// that looks like a date(1) format (`date +%Y-%m-%d`) is warned about,
    /// with the line written with `\%`. Every line that cannot be converted
    /// is reported with its number; nothing is dropped silently.
    ///
    /// Each imported task is marked with a `# kron: imported from FILE`
    /// comment above its header. A line whose schedule and command equal
    /// an existing task's is refused, naming that task, so that importing
    /// twice does not run every job twice (--allow-duplicates imports it
    /// anyway); `--replace` replaces the tasks marked as imported instead,
    /// as `crontab FILE` replaces a crontab. cron mails whatever a job
    /// prints; kron mails a run's output only when it fails: import (and
    /// --dry-run) says so, and how to keep cron's behaviour (`mail =
    /// "always"`).
    ///
    /// Examples:
    ///
    ///   crontab -l | kron import -
    ///
    ///   kron import --replace ~/crontab.txt    # again, after editing it
    Import(ImportArgs),

    /// Write the tasks in another format: a crontab, systemd timers or
    /// Kubernetes CronJobs.
    ///
    /// A task the format cannot express exactly is refused with the reason
    /// on stderr (systemd, kubernetes: the others are still written, and
    /// kron exits 1) or commented out (crontab: exit 0); settings it has no
    /// place for become comments in the output.
    ///
    /// Examples:
    ///
    ///   kron export --format crontab > crontab.txt
    ///
    ///   kron export --format systemd ~/.config/systemd/user
    ///
    ///   kron export --format kubernetes --image debian:stable-slim > cronjobs.yaml
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

    /// Say what daylight-saving changes will do to the tasks.
    ///
    /// For each task (or each NAME) and each change of its zone's clocks in
    /// the next 12 months (or in the year --year), says in words what
    /// happens to the runs it touches: a time the clocks jump over runs
    /// once when the jump ends (fixed-time schedules, such as `30 2 * * *`)
    /// or is skipped (wildcard schedules, such as `*/15 * * * *`); a time
    /// the clocks repeat runs once, at the first (fixed-time) or each time
    /// (wildcard). The numbers are the daemon's own: the instants kron's
    /// schedule engine fires for that night. Tasks whose times never fall
    /// in a change are listed as unaffected, and a zone that does not
    /// change its clocks says so.
    ///
    /// Examples:
    ///
    ///   kron dst
    ///
    ///   kron dst backup --year 2027
    ///
    ///   kron dst --json
    Dst(DstArgs),

    /// Show the week ahead: every task's planned runs on a timeline, and
    /// the conflicts their measured durations predict.
    ///
    /// One row per task, one column per hour (finer when the window is
    /// short, coarser when the terminal is narrow): a full block where a
    /// run starts, a shaded one while it is expected to run (its p95
    /// duration, from its history), a cross where a run will be skipped,
    /// a light shade while a run waits for its lock or for a
    /// `max_parallel` slot; a row per zone marks where its clocks change.
    /// Below the timeline, one line per predicted conflict: runs that
    /// `overlap = "skip"` drops because a run holding the same lock (its
    /// own previous run, or another task's) is expected to be still
    /// running, runs that wait for the lock (`queue`) or stop its holder
    /// (`replace`), and the hours where `max_parallel` makes runs wait. A
    /// task without a history has no duration to predict from: its runs
    /// are taken to end as they start, so they may be kept waiting but
    /// keep no other run waiting. Times are in the local zone (UTC with
    /// --utc).
    ///
    /// Examples:
    ///
    ///   kron plan
    ///
    ///   kron plan --from 2027-03-22 --days 2 backup prune
    ///
    ///   kron plan --json
    Plan(PlanArgs),

    /// Run a task now, in the foreground, as the daemon would.
    ///
    /// The task runs with its own settings: its lock and overlap policy,
    /// timeout, retries, environment and working directory. Its output goes
    /// to the terminal and to its run log, and the run is recorded in the
    /// history. kron exits with the task's status: its exit code, 128 +
    /// the signal that killed it, 124 after a timeout, 127 when it could not
    /// start, or 1 when it was skipped because the task (or its lock) is
    /// busy, or not run because it is paused (`kron pause`): a paused task
    /// runs only with --force. Ctrl-C stops the command's whole process
    /// group and records the run as interrupted.
    ///
    /// Examples:
    ///
    ///   kron run backup
    ///
    ///   kron run backup --dry-run     # print exactly what would run
    Run(RunArgs),

    /// Show a task's run log (the last run's output by default), or every
    /// task's.
    ///
    /// Each attempt is framed by a `==> kron run ID attempt N/M ...` header
    /// and a `<== kron run ID attempt N/M exit 0 after 2s` footer. The log
    /// lives in $XDG_STATE_HOME/kron/logs/NAME.log (older output in
    /// NAME.log.1, .2, ...). The log of a task removed from the task file
    /// is still shown, with a note on stderr; a name no task has and no log
    /// is an error (exit 2) that names the closest task. Without NAME, every task's logs are shown as
    /// one stream, each line prefixed with its task: attempts in the order
    /// they started (output lines carry no time of their own, so attempts
    /// that overlapped come one after the other), then, with -f, lines as
    /// they are written. -f follows the logs across runs and rotations
    /// until Ctrl-C; kron sleeps until a log changes (inotify), it does not
    /// poll.
    ///
    /// Examples:
    ///
    ///   kron logs backup -f          # the last run, then every run after it
    ///
    ///   kron logs --since today      # every task's output since midnight
    ///
    ///   kron logs -f -n 0            # every task's output from now on
    Logs(LogsArgs),

    /// Show past runs, newest first.
    ///
    /// The history of a task removed from the task file is still shown,
    /// with a note on stderr; a name no task has and no history is an
    /// error (exit 2) that names the closest task: "no task named `goo`;
    /// did you mean `good`?", as from every verb that takes a task name.
    ///
    /// Examples:
    ///
    ///   kron history backup -n 5
    ///
    ///   kron history --outcome failure --since 1d
    ///
    ///   kron history backup --chart    # a bar per run: duration, coloured by outcome
    History(HistoryArgs),

    /// Explain what happened to a task's last scheduled instants, and why.
    ///
    /// One line per instant, newest first: when it ran (and how late), or
    /// why it was skipped (the run that held the lock) or did not run at all
    /// (the daemon was not running from when to when, catch_up, a clock
    /// jump, the task was paused from when to when, max_lateness and what
    /// the run waited for), from the history, the daemon's memory (a pause
    /// or a downtime still going on) and the schedule. An instant a
    /// daylight-saving change moved or repeated says so first, as `kron
    /// dst` does: "02:30 does not exist (DST gap in Europe/Berlin): runs at
    /// 03:00 as the schedule rule says".
    ///
    /// Examples:
    ///
    ///   kron why backup
    ///
    ///   kron why backup --at 2026-03-08T02:30:00+01:00
    Why(WhyArgs),

    /// The hosts sharing this task file through its [cluster] backend.
    ///
    /// `kron cluster status` lists every node the backend has seen (when it
    /// last claimed, its kron and tzdata versions, a digest of its task
    /// file) and every task whose definition differs between nodes. See
    /// "Running on several hosts" in the README.
    ///
    /// Example:
    ///
    ///   kron cluster status --json
    #[command(subcommand)]
    Cluster(ClusterCommand),

    /// Show how tasks do: runs, success rate, durations, retries, last failure.
    ///
    /// Computed from the history (each task's last 1,000 runs). The success
    /// rate counts the runs that ended on their own (success, failure,
    /// timeout), not skipped or interrupted ones; durations are those of the
    /// same runs (p50 and p95 are nearest-rank). A retry saved a run when
    /// it succeeded after more than one attempt. With NAME, also draws the
    /// last 20 runs as in `kron history NAME --chart`; NAME may be a removed
    /// task that has a history (see `kron history`).
    ///
    /// Examples:
    ///
    ///   kron stats
    ///
    ///   kron stats backup
    ///
    ///   kron stats --json
    Stats(StatsArgs),

    /// Stop a running run of a task: its whole process group.
    ///
    /// By default the command's process group gets SIGTERM, then SIGKILL
    /// after the task's kill_grace. Retries of that run stop, and the run
    /// is recorded as interrupted. A task that is not running is a failure
    /// (exit 1); a name no task has is an error (exit 2) that names the
    /// closest task, unless a run of that name (a removed task's) still
    /// runs.
    Kill(KillArgs),

    /// Run, start, stop or ask about the daemon that runs the tasks.
    ///
    /// The daemon sleeps until a task is due, the task file changes, a
    /// signal or a request arrives, and starts each run in a supervisor of
    /// its own, so runs outlive it. The verbs that change tasks (edit, add,
    /// set, unset, remove, import, pause, resume) start it when it is not
    /// running;
    /// set KRON_NO_AUTOSTART=1 when a service manager such as systemd runs
    /// `kron daemon run` instead.
    #[command(subcommand)]
    Daemon(DaemonCommand),

    /// Show the daemon, the task file as the daemon loaded it (and why a
    /// change was not loaded), and the runs in progress: each with its
    /// command's pid (`-` between attempts), or `waiting` while it waits
    /// for its lock. With a `[cluster]`, says so while this host's claims
    /// fail (backend unreachable, clock too far off): cluster tasks do not
    /// run here until a claim gets an answer.
    Status(StatusArgs),

    /// Keep tasks from running until `kron resume` (sets `paused = true`).
    ///
    /// The change is written to the task file, so it lasts across restarts;
    /// comments and formatting are kept. A paused task does not fire and
    /// `kron list` shows it as paused; its runs in progress go on.
    Pause(PauseArgs),

    /// Let paused tasks run again, from now on: runs missed while paused
    /// are not caught up; the daemon records them as one `missed` record
    /// per pause ("the task was paused (from ... to ...)"), which `kron
    /// why` shows, with no on_missed hook or mail.
    Resume(PauseArgs),

    /// Check the setup and say how to fix what is wrong.
    ///
    /// Checks that the task file exists, is yours, is not writable by
    /// others, and is valid; that each task's workdir and programs are
    /// there (a warning, as from `kron check`); that every time zone it names is known and
    /// the system's zone can be found; that the daemon runs and answers;
    /// that it starts at login (`kron daemon install`: the systemd unit,
    /// or where no systemd runs the autostart entry or a login-profile
    /// line) with this kron binary and, under systemd, keeps running after
    /// you log out (linger); that `sendmail` is there when a task mails its output;
    /// that the clock is synchronised (when `timedatectl` can tell); and,
    /// with a `[cluster]`, that its backend answers, is a primary, keeps
    /// what it acknowledged (durability settings), has a schema this kron
    /// knows, keeps a clock within `max_skew` of this host's, and that
    /// every host defines each task alike. Each problem comes with
    /// the command that fixes it. Exits 0 when every check passes (warnings
    /// allowed), 1 when one fails.
    ///
    /// Where no systemd user manager runs (containers, WSL, other inits),
    /// autostart says so rather than passing, and linger is `?` with the
    /// reason it cannot be told. The autostart fix stops a daemon that kron
    /// started first, as `kron daemon install`'s line does, since the unit's
    /// daemon could not start beside it. An empty setup is not a failure:
    /// with no tasks yet (no task file, or none in it), a daemon that is not
    /// running is ok and a missing autostart a warning.
    Doctor(DoctorArgs),

    /// Print the shell completion script for SHELL.
    ///
    /// The script completes verbs, options and task names; on each TAB it
    /// asks this kron binary, so it stays right when the task file
    /// changes. Load it when the shell starts, so that it always matches
    /// the kron you run:
    ///
    ///   bash:       echo 'source <(kron completions bash)' >> ~/.bashrc
    ///
    ///   zsh:        echo 'source <(kron completions zsh)' >> ~/.zshrc
    ///
    ///   fish:       echo 'kron completions fish | source' >> ~/.config/fish/config.fish
    ///
    ///   elvish:     echo 'eval (kron completions elvish | slurp)' >> ~/.config/elvish/rc.elv
    ///
    ///   PowerShell: Add-Content $PROFILE 'kron completions powershell | Out-String | Invoke-Expression'
    Completions(CompletionsArgs),

    /// Write the generated man pages or completion scripts into DIR (for
    /// packagers and tests/docs.rs).
    #[command(name = "__generate", hide = true)]
    Generate(GenerateArgs),

    /// Supervise one run (started by the daemon; not for direct use).
    #[command(name = "__supervise", hide = true)]
    Supervise(SuperviseArgs),

    /// Stop and record the runs whose supervisor died (started by whoever
    /// notices them; not for direct use).
    #[command(name = "__recover", hide = true)]
    Recover,

    /// Run the on_missed hooks and mail of missed records (started by the
    /// daemon, which runs no command itself; not for direct use).
    #[command(name = "__missed", hide = true)]
    Missed(MissedArgs),

    /// Log what the cluster backend's settings risk (started by the
    /// daemon, which never connects to a backend itself; not for direct
    /// use).
    #[command(name = "__cluster-check", hide = true)]
    ClusterCheck,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["task", "expr"])))]
pub struct NextArgs {
    /// A task in the task file.
    #[arg(value_name = "TASK", add = crate::complete::task_candidates())]
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

    /// List instants strictly after this instant: RFC 3339, e.g.
    /// 2026-03-08T01:59:00-05:00 or 2026-03-08T06:59:00Z, or a date
    /// (2026-03-08, its start) or a date and time (2026-03-08 09:00) in the
    /// local zone (UTC with --utc) [default: now].
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
pub struct DstArgs {
    /// Only these tasks [default: every task].
    #[arg(value_name = "NAME", add = crate::complete::task_candidates())]
    pub names: Vec<String>,

    /// Look at the changes of this calendar year (in each task's zone)
    /// instead of the next 12 months.
    #[arg(long, value_name = "YEAR", value_parser = clap::value_parser!(i16).range(1971..=9998))]
    pub year: Option<i16>,

    /// Print one JSON object: the zones' changes and each task's fates,
    /// with every wall time and instant involved.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Only these tasks [default: every task].
    #[arg(value_name = "NAME", add = crate::complete::task_candidates())]
    pub names: Vec<String>,

    /// Start of the window: an RFC 3339 instant (2027-03-22T00:00:00Z),
    /// or a local date or time (2027-03-22, 2027-03-22T06:00) [default:
    /// now].
    #[arg(long, value_name = "WHEN")]
    pub from: Option<String>,

    /// Length of the window, in days (1-31).
    #[arg(long, value_name = "N", default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..=31))]
    pub days: u16,

    /// Print one JSON object: every planned instant of every task, with
    /// its predicted start and end, and the conflicts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task to run.
    #[arg(add = crate::complete::task_candidates())]
    pub name: String,

    /// Start the run in the background and print its id; follow it with
    /// `kron logs NAME -f`. A running daemon (for the same task file) starts
    /// it, so that `max_parallel` counts it; else kron starts it directly.
    #[arg(long, conflicts_with = "dry_run")]
    pub detach: bool,

    /// Run nothing; print exactly what would run: the command and its
    /// shell, working directory, the whole environment, standard input, the
    /// lock, timeout and retry policy.
    #[arg(long)]
    pub dry_run: bool,

    /// Run the task even though it is paused (it stays paused).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The task whose log to show [default: every task's, interleaved by
    /// time, each line prefixed with its task].
    #[arg(add = crate::complete::task_candidates())]
    pub name: Option<String>,

    /// Show only the last LINES lines.
    #[arg(short = 'n', long = "lines", value_name = "LINES")]
    pub lines: Option<usize>,

    /// Show the run with this id (see `kron history`) instead of the last one.
    #[arg(
        long = "run",
        value_name = "ID",
        requires = "name",
        conflicts_with = "since"
    )]
    pub run: Option<String>,

    /// Show every run (attempt) started since WHEN instead of the last run:
    /// today, yesterday, a date such as 2026-03-08 (from midnight in the
    /// local zone), an RFC 3339 instant, or a duration ago such as 30m, 2h
    /// or 1d.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,

    /// Keep printing output as it is written, run after run, until Ctrl-C,
    /// as `tail -f` does (for a task that has not run yet, from its first
    /// run). With --run, until that run ends.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this task's runs [default: every task's].
    #[arg(add = crate::complete::task_candidates())]
    pub name: Option<String>,

    /// Show at most N runs.
    #[arg(short = 'n', long = "count", value_name = "N", default_value_t = 20)]
    pub count: usize,

    /// Only runs with this outcome.
    #[arg(long, value_enum, value_name = "OUTCOME")]
    pub outcome: Option<crate::history::Outcome>,

    /// Only runs started since WHEN: an RFC 3339 instant, a date
    /// (2026-03-08, from its start) or a date and time (2026-03-08 09:00) in
    /// the local zone (UTC with --utc), or a duration ago such as 30m, 2h or
    /// 1d.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,

    /// Read the monthly archives too (history/archive/NAME/*.jsonl.gz:
    /// the runs retention took out of the live history; see `history` in
    /// kron-tasks(5)). A --since before a task's oldest live run reads its
    /// archives without this flag.
    #[arg(long)]
    pub archive: bool,

    /// Print a JSON array of history records instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Draw the runs as a bar chart, oldest first: a bar per run as long as
    /// its duration, coloured by outcome (plain characters without colour).
    #[arg(long, requires = "name", conflicts_with = "json")]
    pub chart: bool,

    /// Every node's occurrences, from the [cluster] backend's ledger: who
    /// ran each one (its node and fencing token), or how it ended
    /// (`abandoned` names the dead holder), newest instant first.
    #[arg(long, conflicts_with_all = ["chart", "since", "outcome"])]
    pub cluster: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The nodes seen and the tasks defined differently between them.
    Status(ClusterStatusArgs),
}

#[derive(Debug, Args)]
pub struct ClusterStatusArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The task.
    #[arg(add = crate::complete::task_candidates())]
    pub name: String,

    /// The instants nearest WHEN (at or before it): an RFC 3339 instant, or
    /// a duration ago such as 2h or 1d [default: now].
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,

    /// How many instants.
    #[arg(short = 'n', long = "count", value_name = "N", default_value_t = 5)]
    pub count: usize,

    /// Print a JSON array: each instant, what became of it (ran, skipped,
    /// missed, unknown), the line, and the record that says so.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only this task [default: every task with a history].
    #[arg(add = crate::complete::task_candidates())]
    pub name: Option<String>,

    /// Print JSON instead of text: an object for NAME, else an array.
    #[arg(long)]
    pub json: bool,

    /// Counts over the [cluster] backend's ledger: each task's occurrences
    /// by outcome, and by the node that ran them.
    #[arg(long)]
    pub cluster: bool,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// The task whose running run to stop.
    #[arg(add = crate::complete::task_candidates())]
    pub name: String,

    /// Send this signal to the process group instead (TERM, INT, KILL,
    /// HUP, ... or a number); retries stop either way.
    #[arg(long, value_name = "SIG")]
    pub signal: Option<String>,
}

/// The supervisor's command line, read by `runner::launch` (the contract).
#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// A run to supervise, a thread each: NAME,TRIGGER,SCHEDULED,RUN_ID
    /// (`-` for no instant or a new id).
    #[arg(long, value_name = "SPEC", required = true)]
    pub run: Vec<String>,

    /// Read each task from its snapshot (what the daemon loaded) rather
    /// than from the task file.
    #[arg(long)]
    pub snapshots: bool,

    /// Watch the holder of the run's cluster occurrence (a host that lost
    /// its claim).
    #[arg(long)]
    pub watch: bool,
}

/// `kron __missed`'s command line, written by `runner::missed::args`.
#[derive(Debug, Args)]
pub struct MissedArgs {
    /// A `missed` record to follow, as its history line (JSON).
    #[arg(long = "record", value_name = "JSON", required = true)]
    pub records: Vec<String>,

    /// Read each task from its snapshot (what the daemon loaded) rather
    /// than from the task file.
    #[arg(long)]
    pub snapshots: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The task's name: 1-64 of a-z, 0-9, _ and -.
    pub name: String,

    /// When it runs (see `kron next --help` for the syntax).
    #[arg(long, value_name = "EXPR")]
    pub schedule: String,

    /// Time zone of the schedule: an IANA name in any case, stored in its
    /// IANA spelling (europe/berlin is Europe/Berlin) [default: the file's,
    /// else the system's].
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
    /// current directory (stored absolute, without `.` components: `--workdir
    /// .` is the current directory).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<String>,

    /// Set an environment variable for the command (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Change a task of the same name instead of refusing: the keys these
    /// flags give are set (as by `kron set`), every other key it has is
    /// kept, and kron names them (`kron unset` removes one).
    #[arg(long)]
    pub replace: bool,

    /// The command, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The task to change.
    #[arg(add = crate::complete::task_candidates())]
    pub name: String,

    /// The settings: KEY=VALUE, such as timeout=2h or retry.attempts=3.
    #[arg(required = true, value_name = "KEY=VALUE")]
    pub assignments: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UnsetArgs {
    /// The task to change.
    #[arg(add = crate::complete::task_candidates())]
    pub name: String,

    /// The keys to remove, such as timeout or env.LANG.
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["names", "all"])))]
pub struct RemoveArgs {
    /// The tasks to remove.
    #[arg(value_name = "NAME", add = crate::complete::task_candidates())]
    pub names: Vec<String>,

    /// Remove every task (the file's [defaults] and comments stay). Asks
    /// first on a terminal (--yes otherwise) and keeps the old task file
    /// as tasks.toml.bak.
    #[arg(long)]
    pub all: bool,

    /// With --all: remove without asking.
    #[arg(long, short = 'y', requires = "all")]
    pub yes: bool,
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
    #[arg(add = crate::complete::task_candidates())]
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

    /// Print one JSON object on stdout (for editors): `valid`, `tasks` and
    /// every error in `diagnostics`, with file, line, column, key, message
    /// and help. The exit status is the same.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The crontab to read, or - for standard input.
    #[arg(value_name = "FILE", default_value = "-", value_hint = clap::ValueHint::FilePath)]
    pub input: String,

    /// Read the /etc/crontab format, with its user column; lines for other
    /// users are reported, not imported. Without it, /etc/crontab, files
    /// under /etc/cron.d and a crontab whose every job has a user name in
    /// its sixth field are refused (exit 2).
    #[arg(long)]
    pub system: bool,

    /// Print the TOML that would be added instead of adding it.
    #[arg(long)]
    pub dry_run: bool,

    /// Replace the tasks an earlier `kron import` added (those marked `#
    /// kron: imported from ...`) with this crontab's, as `crontab FILE`
    /// replaces a crontab; tasks you added yourself stay. Asks first on a
    /// terminal (--yes otherwise) and keeps the old task file as
    /// tasks.toml.bak.
    #[arg(long)]
    pub replace: bool,

    /// Import a line even when a task with the same schedule and command
    /// exists already.
    #[arg(long)]
    pub allow_duplicates: bool,

    /// With --replace: replace without asking.
    #[arg(long, short = 'y', requires = "replace")]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The format to write.
    #[arg(long, value_enum, default_value_t = ExportFormat::Crontab)]
    pub format: ExportFormat,

    /// The directory to write the files into (created if missing): required
    /// for systemd; for kubernetes, one NAME.yaml per task instead of one
    /// stream on stdout. Files of the same names are replaced.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// The container image the CronJobs run (required for kubernetes): one
    /// that has the programs the tasks call.
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// A crontab(5) file, with a comment on each setting crontab cannot express.
    Crontab,
    /// A kron-NAME.service and kron-NAME.timer systemd user unit per task, in DIR.
    Systemd,
    /// A batch/v1 CronJob manifest per task, on stdout (or in DIR).
    Kubernetes,
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Run the daemon in the foreground (for systemd, other supervisors and
    /// containers), logging one line per event to stderr. Exits 1 if a
    /// daemon already runs, naming its pid; SIGTERM or SIGINT stop it (exit
    /// 0), SIGHUP reloads the task file.
    Run,
    /// Start the daemon in the background and print its pid once it
    /// answers. Its log goes to $XDG_STATE_HOME/kron/daemon.log.
    Start,
    /// Stop the daemon and wait until it is gone. Runs in progress go on
    /// and are recorded.
    Stop,
    /// Stop the daemon (if it runs), then start it.
    Restart,
    /// Say whether the daemon runs: exit 0 if it does, 3 if it does not.
    Status,
    /// Have the service manager start the daemon at login: write a systemd
    /// user unit, or on macOS a launchd agent, and print the command that
    /// enables it (without systemd: an XDG autostart entry and a line for
    /// the login profile).
    ///
    /// The unit is $XDG_CONFIG_HOME/systemd/user/kron.service
    /// (~/.config/systemd/user/kron.service); it runs this kron binary (its
    /// absolute path, symlinks resolved) with `daemon run`, with --file
    /// only when you gave --file or KRON_FILE, and restarts it 5 s after a
    /// failure. On macOS the agent is ~/Library/LaunchAgents/kron.plist,
    /// logging to $XDG_STATE_HOME/kron/daemon.log. The daemon it starts is
    /// the one `kron daemon start` starts: same lock, same files, so only
    /// one of them ever runs; stopping the unit leaves runs in progress
    /// running. A different file already at that path is left alone unless
    /// you pass --force. Run `kron daemon install` again after moving the
    /// binary.
    ///
    /// Where no systemd user manager runs (a container, WSL, OpenRC, runit:
    /// no /run/systemd/system; KRON_SERVICE_MANAGER=systemd|launchd|none
    /// overrides the guess), no systemctl line could work. Instead kron
    /// writes an XDG autostart entry, $XDG_CONFIG_HOME/autostart/kron.desktop,
    /// which desktop sessions run at login, when it sees a desktop session
    /// (or with --desktop), and prints a line to add to your login profile
    /// (~/.profile, ~/.bash_profile, ~/.zprofile, by $SHELL), which kron
    /// never edits itself. Both run `kron daemon start`, which starts the
    /// daemon in a session of its own and does nothing when one runs.
    /// `kron doctor` counts either as autostart.
    ///
    /// Examples:
    ///
    ///   kron daemon install && systemctl --user enable --now kron
    ///
    ///   echo "$(command -v kron) daemon start >/dev/null 2>&1" >> ~/.profile   # without systemd
    Install(InstallArgs),
    /// Remove what `kron daemon install` wrote, and the links `systemctl
    /// --user enable` made to it, then print the command that stops the
    /// daemon the service manager runs. Without systemd: remove the
    /// autostart entry, and name the login-profile line to remove (kron
    /// does not edit your profile).
    Uninstall,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print a JSON array of the checks (what, status, detail, fix).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: crate::complete::Shell,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to write.
    #[arg(value_enum)]
    pub what: Generate,

    /// The directory to write into (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// man/kron.1 and one page per verb.
    Man,
    /// completions/: one script per shell.
    Completions,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Replace a different unit (or agent, or autostart entry) of the same name.
    #[arg(long)]
    pub force: bool,

    /// Where no service manager runs: write the XDG autostart entry
    /// (~/.config/autostart/kron.desktop) even though no desktop session
    /// is seen (none of XDG_CURRENT_DESKTOP, DESKTOP_SESSION,
    /// WAYLAND_DISPLAY, DISPLAY is set).
    #[arg(long)]
    pub desktop: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["names", "all"])))]
pub struct PauseArgs {
    /// The tasks.
    #[arg(value_name = "NAME", add = crate::complete::task_candidates())]
    pub names: Vec<String>,

    /// Every task in the task file.
    #[arg(long)]
    pub all: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    #[test]
    fn the_daemon_command_line_read_before_clap_is_what_clap_reads() {
        let words =
            |line: &str| -> Vec<std::ffi::OsString> { line.split(' ').map(Into::into).collect() };
        for line in [
            "kron daemon run",
            "kron --file /srv/kron/tasks.toml daemon run",
            "kron --file relative.toml daemon run",
        ] {
            let args = words(line);
            let early = daemon_run(&args).expect(line);
            let cli = Cli::try_parse_from(&args).expect(line);
            assert!(
                matches!(cli.command, Command::Daemon(DaemonCommand::Run)),
                "{line}"
            );
            assert_eq!(format!("{early:?}"), format!("{cli:?}"), "{line}");
        }
        // Everything else is clap's, help and errors included.
        for line in [
            "kron daemon run --help",
            "kron daemon start",
            "kron --utc daemon run",
            "kron --file=x daemon run",
            "kron daemon run extra",
            "kron --file --help daemon run",
            "kron run daemon",
        ] {
            assert!(daemon_run(&words(line)).is_none(), "{line}");
        }
    }
}
