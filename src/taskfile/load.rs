//! Reading a task file: TOML text to the typed model, with every problem
//! reported at once as a [`Diagnostic`] that names file, line, column and
//! key path. Nothing here prints or touches the file system except `load`.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use toml_edit::{Item, TableLike};

use super::{
    Backend, CLUSTER_KEYS, CLUSTER_MODE_KEY, CatchUp, Cluster, ClusterMode, DEFAULT_LEASE,
    DEFAULT_MAX_SKEW, DEFAULTS_ONLY_KEYS, HISTORY_KEYS, IoClass, LIMIT_KEYS, LOG_KEYS, Layer,
    Leftovers, MIN_LEASE, Mail, Overlap, RETRY_KEYS, SHARED_KEYS, Settings, TASK_ONLY_KEYS, Task,
    TaskCommand, TaskFile, valid_name,
};
use crate::diag::{Diagnostic, LineIndex, suggest};
use crate::schedule::{Schedule, Zone};
use crate::units;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Insecure(#[from] crate::dirs::Insecure),
    #[error("{} has {} error(s)", path.display(), diagnostics.len())]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

/// Reads, checks the permissions of, and parses the task file at `path`.
pub fn load(path: &Path) -> Result<TaskFile, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.into(),
        source,
    })?;
    crate::dirs::check_task_file(path)?;
    parse(decode(&bytes, path)?, path)
}

/// Task-file bytes as text: a [`LoadError::Invalid`] naming the line and
/// column of the first byte that is not UTF-8, as a syntax error is named
/// (a task file is UTF-8 text, as TOML requires). `path` is only used in
/// the diagnostic.
pub fn decode<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a str, LoadError> {
    let error = match std::str::from_utf8(bytes) {
        Ok(text) => return Ok(text),
        Err(error) => error,
    };
    let at = error.valid_up_to();
    let before = std::str::from_utf8(&bytes[..at]).expect("valid up to here");
    let (line, column) = LineIndex::new(before).line_column(at);
    let later = bytes[at..]
        .split(|&b| b == b'\n')
        .skip(1)
        .filter(|l| std::str::from_utf8(l).is_err())
        .count();
    let mut help = "task files are UTF-8 text (convert one saved as Latin-1 with \
                    `iconv -f LATIN1 -t UTF-8`)"
        .to_string();
    if later > 0 {
        help.push_str(&format!("; {later} more line(s) are not UTF-8 either"));
    }
    Err(LoadError::Invalid {
        path: path.into(),
        diagnostics: vec![Diagnostic {
            file: path.into(),
            line,
            column,
            key_path: String::new(),
            message: format!("invalid UTF-8 (byte {:#04x})", bytes[at]),
            help: Some(help),
        }],
    })
}

impl LoadError {
    /// What is wrong in an invalid file, line by line; nothing for a file
    /// that could not be read or is insecure.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        match self {
            LoadError::Invalid { diagnostics, .. } => diagnostics,
            LoadError::Read { .. } | LoadError::Insecure(_) => Vec::new(),
        }
    }
}

/// Parses task-file text: a [`LoadError::Invalid`] with every diagnostic
/// when it is not a valid task file. `path` is only used in diagnostics.
pub fn parse(text: &str, path: &Path) -> Result<TaskFile, LoadError> {
    let mut tasks = Vec::new();
    let mut file = parse_each(text, path, &mut |task| tasks.push(task))?;
    file.tasks = tasks;
    Ok(file)
}

/// [`parse`], handing each task to `each` as it is read rather than
/// keeping them (the returned file has no `tasks`). The daemon keeps a few
/// fields of each task, and a whole `Task` of a thousand is a megabyte it
/// would hold only to drop it. The file is parsed a task at a time where
/// its layout allows (`sections`), so that one task's TOML document is
/// held at a time, not the whole file's. On an error some tasks may have
/// been handed over already: the caller drops what it made of them.
pub fn parse_each(
    text: &str,
    path: &Path,
    each: &mut dyn FnMut(Task),
) -> Result<TaskFile, LoadError> {
    let parsed = match super::sections::cut(text) {
        Some(sections) => by_sections(text, path, &sections, each).map_err(|diagnostics| {
            // Named as the whole file names them: a part that is not TOML
            // alone may be an error that begins in an earlier one.
            whole(text, path, &mut |_| {}).err().unwrap_or(diagnostics)
        }),
        None => whole(text, path, each),
    };
    parsed.map_err(|diagnostics| LoadError::Invalid {
        path: path.into(),
        diagnostics,
    })
}

/// The file parsed as one TOML document.
fn whole(text: &str, path: &Path, each: &mut dyn FnMut(Task)) -> Result<TaskFile, Vec<Diagnostic>> {
    let mut r = Reader::new(path);
    r.part(text, 0);
    let doc = r.document(text)?;
    let root = doc.as_table();
    let head = r.head(root);
    if let Some(item) = root.get("tasks") {
        r.tasks(item, root, &head, each);
    }
    r.finish(path, head)
}

/// The file parsed a part at a time: the head, then each task's tables.
fn by_sections(
    text: &str,
    path: &Path,
    sections: &super::sections::Sections,
    each: &mut dyn FnMut(Task),
) -> Result<TaskFile, Vec<Diagnostic>> {
    let mut r = Reader::new(path);
    let head_text = &text[sections.head.clone()];
    r.part(head_text, 0);
    let head_doc = r.document(head_text)?;
    let head_root = head_doc.as_table();
    let head = r.head(head_root);
    // Lines before each part, counted as the parts go by.
    let mut lines_before = 0;
    let mut counted = 0;
    for range in &sections.tasks {
        lines_before += count_lines(&text[counted..range.start]);
        counted = range.start;
        let part = &text[range.clone()];
        r.part(part, lines_before);
        let doc = r.document(part)?;
        if let Some(item) = doc.as_table().get("tasks") {
            r.tasks(item, head_root, &head, each);
        }
    }
    r.finish(path, head)
}

fn count_lines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

/// What the head of a file says: the cluster, `[defaults]` and its
/// `max_parallel`.
struct Head {
    cluster: Option<Cluster>,
    max_parallel: Option<std::num::NonZeroU32>,
    defaults: Layer,
}

struct Reader<'a> {
    /// The lines of the part being read (the whole file, or one of its
    /// sections), and how many lines of the file come before it.
    lines: LineIndex<'a>,
    lines_before: usize,
    path: &'a Path,
    diagnostics: Vec<Diagnostic>,
    /// See [`TaskFile::warnings`].
    warnings: Vec<Diagnostic>,
    /// See [`TaskFile::ended`].
    ended: Vec<Diagnostic>,
    system_zone: Option<Zone>,
}

impl<'a> Reader<'a> {
    fn new(path: &'a Path) -> Reader<'a> {
        Reader {
            lines: LineIndex::new(""),
            lines_before: 0,
            path,
            diagnostics: Vec::new(),
            warnings: Vec::new(),
            ended: Vec::new(),
            system_zone: None,
        }
    }

    /// Reads `text`, which begins after `lines_before` lines of the file,
    /// from now on: the spans of what follows are in it.
    fn part(&mut self, text: &'a str, lines_before: usize) {
        self.lines = LineIndex::new(text);
        self.lines_before = lines_before;
    }

    fn line_column(&self, span: Option<Range<usize>>) -> (usize, usize) {
        let (line, column) = self.lines.line_column(span.map_or(0, |s| s.start));
        (line + self.lines_before, column)
    }

    fn document<'t>(
        &mut self,
        text: &'t str,
    ) -> Result<toml_edit::Document<&'t str>, Vec<Diagnostic>> {
        toml_edit::Document::parse(text).map_err(|e| {
            let message = e.message().trim().to_string();
            self.error(e.span(), "", format!("invalid TOML: {message}"), None);
            std::mem::take(&mut self.diagnostics)
        })
    }

    /// The root's keys, `[cluster]` and `[defaults]`.
    fn head(&mut self, root: &toml_edit::Table) -> Head {
        for (key, _) in root.iter() {
            if !["defaults", "tasks", "cluster"].contains(&key) {
                self.unknown_key(root, key, "", &["defaults", "tasks", "cluster"]);
            }
        }
        let cluster = root.get("cluster").and_then(|item| self.cluster(item));
        let mut max_parallel = None;
        let defaults = match root.get("defaults") {
            None => Layer::default(),
            Some(item) => match item.as_table_like() {
                Some(table) => {
                    if let Some(item) = table.get("max_parallel") {
                        max_parallel = self.max_parallel(item);
                    }
                    self.layer(table, "defaults", false)
                }
                None => {
                    self.error(
                        item.span(),
                        "defaults",
                        "expected a table: [defaults]",
                        None,
                    );
                    Layer::default()
                }
            },
        };
        Head {
            cluster,
            max_parallel,
            defaults,
        }
    }

    /// The tasks of `item` (the `tasks` table), each handed to `each` while
    /// the file has no error. `head_root` is the root of the document that
    /// holds `[defaults]` and `[cluster]` (the whole file's, or the head's).
    fn tasks(
        &mut self,
        item: &Item,
        head_root: &toml_edit::Table,
        head: &Head,
        each: &mut dyn FnMut(Task),
    ) {
        let Some(table) = item.as_table_like() else {
            self.error(
                item.span(),
                "tasks",
                "expected tables such as [tasks.backup]",
                None,
            );
            return;
        };
        for (name, item) in table.iter() {
            let span = table.key(name).and_then(|k| k.span());
            if let Some(mut task) = self.task(name, item, span, &head.defaults) {
                task.settings.cluster = self.cluster_mode(&task, item, &head.defaults, head_root);
                if self.diagnostics.is_empty() {
                    each(task);
                }
            }
        }
    }

    fn finish(mut self, path: &Path, head: Head) -> Result<TaskFile, Vec<Diagnostic>> {
        if !self.diagnostics.is_empty() {
            self.diagnostics.sort_by_key(|d| (d.line, d.column));
            return Err(self.diagnostics);
        }
        Ok(TaskFile {
            path: path.into(),
            defaults: head.defaults,
            tasks: Vec::new(),
            max_parallel: head.max_parallel,
            cluster: head.cluster,
            warnings: self.warnings,
            ended: self.ended,
        })
    }

    fn error(
        &mut self,
        span: Option<Range<usize>>,
        key_path: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let diagnostic = self.diagnostic(span, key_path, message, help);
        self.diagnostics.push(diagnostic);
    }

    fn diagnostic(
        &self,
        span: Option<Range<usize>>,
        key_path: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        let (line, column) = self.line_column(span);
        Diagnostic {
            file: self.path.into(),
            line,
            column,
            key_path: key_path.into(),
            message: message.into(),
            help,
        }
    }

    fn unknown_key(&mut self, table: &dyn TableLike, key: &str, prefix: &str, known: &[&str]) {
        let span = table.key(key).and_then(|k| k.span());
        let path = join(prefix, key);
        let help = match suggest(key, known) {
            Some(s) => Some(format!("did you mean `{s}`?")),
            None => Some(format!("known keys here: {}", known.join(", "))),
        };
        self.error(span, &path, format!("unknown key `{key}`"), help);
    }

    fn task(
        &mut self,
        name: &str,
        item: &Item,
        span: Option<Range<usize>>,
        defaults: &Layer,
    ) -> Option<Task> {
        let prefix = format!("tasks.{name}");
        if !valid_name(name) {
            self.error(
                span.clone(),
                &prefix,
                format!("invalid task name `{name}`"),
                Some("names are 1-64 of a-z, 0-9, _ and -".into()),
            );
        }
        let Some(table) = item.as_table_like() else {
            self.error(
                item.span(),
                &prefix,
                "expected a table such as [tasks.backup]",
                None,
            );
            return None;
        };
        let layer = self.layer(table, &prefix, true);
        let description = table
            .get("description")
            .and_then(|item| self.string(item, &join(&prefix, "description")));
        let command = match table.get("command") {
            Some(item) => self.command(item, &join(&prefix, "command")),
            None => {
                self.error(
                    span.clone(),
                    &prefix,
                    "missing required key `command`",
                    Some(
                        "command = \"echo hello\" (a shell command) or [\"prog\", \"arg\"]".into(),
                    ),
                );
                None
            }
        };
        let zone = self.zone_of(&layer, defaults);
        let schedule = match table.get("schedule") {
            Some(item) => {
                let key_path = join(&prefix, "schedule");
                self.string(item, &key_path).and_then(|text| {
                    match Schedule::parse(&text, zone.clone()?) {
                        Ok(schedule) => {
                            if let Some(last) = schedule.ended(Timestamp::now()) {
                                let ended = self.diagnostic(
                                    item.span(),
                                    &key_path,
                                    format!(
                                        "`{text}` can only fire in the past: its last instant \
                                         was {} ({})",
                                        last.to_zoned(schedule.zone().time_zone().clone())
                                            .strftime("%Y-%m-%dT%H:%M:%S%:z"),
                                        schedule.zone().name()
                                    ),
                                    Some("check the year field".into()),
                                );
                                self.ended.push(ended);
                            }
                            Some((text, schedule))
                        }
                        Err(e) => {
                            self.error(item.span(), &key_path, format!("`{text}`: {e}"), None);
                            None
                        }
                    }
                })
            }
            None => {
                self.error(
                    span.clone(),
                    &prefix,
                    "missing required key `schedule`",
                    Some("schedule = \"*/15 * * * *\"".into()),
                );
                None
            }
        };
        let (schedule_text, schedule) = schedule?;
        let settings = Settings::merge(name, defaults, &layer, zone?);
        let line = self.line_column(span).0;
        Some(Task {
            name: name.into(),
            description,
            schedule_text,
            schedule,
            command: command?,
            layer,
            settings,
            line,
        })
    }

    /// The task's zone: its own, else the defaults', else the system's.
    /// `None` when the zone named is unknown (already reported).
    fn zone_of(&mut self, task: &Layer, defaults: &Layer) -> Option<Zone> {
        match task.timezone.as_ref().or(defaults.timezone.as_ref()) {
            Some(name) => Zone::get(name).ok(),
            None => Some(self.system_zone.get_or_insert_with(Zone::system).clone()),
        }
    }

    fn layer(&mut self, table: &dyn TableLike, prefix: &str, is_task: bool) -> Layer {
        let mut layer = Layer::default();
        for (key, item) in table.iter() {
            let path = join(prefix, key);
            let path = path.as_str();
            match key {
                "schedule" | "command" | "description" if is_task => {}
                "max_parallel" if !is_task => {}
                "metrics_file" if !is_task => layer.metrics_file = self.absolute_path(item, path),
                "timezone" => {
                    layer.timezone = self
                        .string(item, path)
                        .filter(|name| match Zone::get(name) {
                            Ok(zone) => {
                                if zone.name() != name {
                                    let warning = self.diagnostic(
                                        item.span(),
                                        path,
                                        format!("`{name}` is spelled `{}`", zone.name()),
                                        Some(format!(
                                            "write timezone = \"{}\": TZ=, systemd and Kubernetes \
                                         know only the IANA spelling",
                                            zone.name()
                                        )),
                                    );
                                    self.warnings.push(warning);
                                }
                                true
                            }
                            Err(_) => {
                                self.error(
                                    item.span(),
                                    path,
                                    format!("unknown time zone `{name}`"),
                                    Some("use an IANA name such as Europe/Berlin or UTC".into()),
                                );
                                false
                            }
                        });
                }
                "shell" => layer.shell = self.nonempty_string(item, path),
                "workdir" => layer.workdir = self.absolute_path(item, path),
                "env" => self.env(item, path, &mut layer),
                "stdin" => layer.stdin = self.string(item, path),
                "timeout" => layer.timeout = self.duration(item, path, true),
                "kill_grace" => layer.kill_grace = self.duration(item, path, false),
                "leftovers" => {
                    layer.leftovers = self.choice(
                        item,
                        path,
                        &[("keep", Leftovers::Keep), ("kill", Leftovers::Kill)],
                    );
                }
                "retry" => self.retry(item, path, &mut layer),
                "overlap" => {
                    layer.overlap = self.choice(
                        item,
                        path,
                        &[
                            ("skip", Overlap::Skip),
                            ("queue", Overlap::Queue),
                            ("replace", Overlap::Replace),
                            ("allow", Overlap::Allow),
                        ],
                    );
                }
                "lock" => {
                    layer.lock = self.string(item, path).filter(|name| {
                        let ok = valid_name(name);
                        if !ok {
                            self.error(
                                item.span(),
                                path,
                                format!("invalid lock name `{name}`"),
                                Some("lock names are 1-64 of a-z, 0-9, _ and -".into()),
                            );
                        }
                        ok
                    });
                }
                "jitter" => layer.jitter = self.duration(item, path, false),
                "catch_up" => {
                    layer.catch_up = self.choice(
                        item,
                        path,
                        &[
                            ("skip", CatchUp::Skip),
                            ("once", CatchUp::Once),
                            ("all", CatchUp::All),
                        ],
                    );
                }
                "max_lateness" => layer.max_lateness = self.duration(item, path, true),
                "paused" => layer.paused = self.bool(item, path),
                "log" => self.log(item, path, &mut layer),
                "nice" => layer.nice = self.nice(item, path),
                "ioclass" => {
                    layer.ioclass = self.choice(
                        item,
                        path,
                        &[
                            ("idle", IoClass::Idle),
                            ("best-effort", IoClass::BestEffort),
                        ],
                    );
                }
                "limits" => self.limits(item, path, &mut layer),
                CLUSTER_MODE_KEY => {
                    layer.cluster = self.choice(
                        item,
                        path,
                        &[
                            ("once", ClusterMode::Once),
                            ("retry", ClusterMode::Retry),
                            ("local", ClusterMode::Local),
                        ],
                    );
                }
                "history" => self.history(item, path, &mut layer),
                "on_failure" => layer.on_failure = self.nonempty_string(item, path),
                "on_success" => layer.on_success = self.nonempty_string(item, path),
                "on_missed" => layer.on_missed = self.nonempty_string(item, path),
                "mailto" => layer.mailto = self.mailto(item, path),
                "mail" => {
                    layer.mail = self.choice(
                        item,
                        path,
                        &[
                            ("failure", Mail::Failure),
                            ("always", Mail::Always),
                            ("never", Mail::Never),
                        ],
                    );
                }
                _ => {
                    let known: Vec<&str> = if is_task {
                        TASK_ONLY_KEYS
                            .iter()
                            .chain(SHARED_KEYS.iter())
                            .chain(&[CLUSTER_MODE_KEY])
                            .copied()
                            .collect()
                    } else {
                        SHARED_KEYS
                            .iter()
                            .chain(&DEFAULTS_ONLY_KEYS)
                            .chain(&[CLUSTER_MODE_KEY])
                            .copied()
                            .collect()
                    };
                    if is_task && DEFAULTS_ONLY_KEYS.contains(&key) {
                        let span = table.key(key).and_then(|k| k.span());
                        self.error(
                            span,
                            path,
                            format!("`{key}` belongs in [defaults]: it applies to all tasks"),
                            None,
                        );
                    } else if !is_task && TASK_ONLY_KEYS.contains(&key) {
                        let span = table.key(key).and_then(|k| k.span());
                        self.error(
                            span,
                            path,
                            format!("`{key}` belongs in a task, not in [defaults]"),
                            None,
                        );
                    } else {
                        self.unknown_key(table, key, prefix, &known);
                    }
                }
            }
        }
        layer
    }

    /// The `[cluster]` table; `None` (reported) when it is not valid.
    fn cluster(&mut self, item: &Item) -> Option<Cluster> {
        let table = self.table(item, "cluster", "[cluster]")?;
        let (mut address, mut file, mut node) = (None, None, None);
        let (mut lease, mut max_skew) = (DEFAULT_LEASE, DEFAULT_MAX_SKEW);
        for (key, value) in table.iter() {
            let path = join("cluster", key);
            let path = path.as_str();
            match key {
                "backend" => {
                    address = self.nonempty_string(value, path).filter(|text| {
                        let secret = super::address_has_password(text);
                        if secret {
                            self.error(
                                value.span(),
                                path,
                                "the backend address has a password in it",
                                Some(
                                    "put the address in a file only you can read and name it \
                                     with backend_file = \"~/.config/kron/cluster.dsn\""
                                        .into(),
                                ),
                            );
                        }
                        !secret
                    });
                    if let Some(text) = &address
                        && let Err(e) = super::check_address(text)
                    {
                        self.error(value.span(), path, e, None);
                        address = None;
                    }
                }
                "backend_file" => file = self.absolute_path(value, path),
                "node" => {
                    node = self.nonempty_string(value, path).filter(|name| {
                        let ok = valid_node(name);
                        if !ok {
                            self.error(
                                value.span(),
                                path,
                                format!("invalid node name `{name}`"),
                                Some("node names are 1-64 of a-z, A-Z, 0-9, ., _ and -".into()),
                            );
                        }
                        ok
                    });
                }
                "lease" => {
                    if let Some(d) = self.duration(value, path, true) {
                        if d < MIN_LEASE {
                            self.error(
                                value.span(),
                                path,
                                format!(
                                    "a lease must be at least {}",
                                    units::format_duration(MIN_LEASE)
                                ),
                                Some("a holder renews it three times per lease".into()),
                            );
                        }
                        lease = d;
                    }
                }
                "max_skew" => {
                    if let Some(d) = self.duration(value, path, false) {
                        max_skew = d;
                    }
                }
                _ => self.unknown_key(table, key, "cluster", &CLUSTER_KEYS),
            }
        }
        let backend = match (address, file) {
            (Some(address), None) => Backend::Address(address),
            (None, Some(file)) => Backend::File(file),
            (Some(_), Some(_)) => {
                let span = table.key("backend_file").and_then(|k| k.span());
                self.error(
                    span,
                    "cluster.backend_file",
                    "give either backend or backend_file, not both",
                    None,
                );
                return None;
            }
            (None, None) if table.contains_key("backend") || table.contains_key("backend_file") => {
                return None;
            }
            (None, None) => {
                {
                    self.error(
                        item.span(),
                        "cluster",
                        "missing required key `backend`",
                        Some(
                            "backend = \"postgres://kron@db.internal/kron\" (or \
                             \"redis://cache.internal:6379/0\"), or backend_file = \
                             \"~/.config/kron/cluster.dsn\" for an address with a password"
                                .into(),
                        ),
                    );
                }
                return None;
            }
        };
        let node = node.unwrap_or_else(|| {
            nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .filter(|h| valid_node(h))
                .unwrap_or_else(|| "localhost".into())
        });
        Some(Cluster {
            backend,
            node,
            lease,
            max_skew,
        })
    }

    /// `cluster` as the task runs it: the task's, else the defaults', else
    /// `once` with a `[cluster]` table. Without one, only `local` is valid.
    /// `item` is the task's table; `root` holds `[defaults]` and `[cluster]`.
    fn cluster_mode(
        &mut self,
        task: &Task,
        item: &Item,
        defaults: &Layer,
        root: &toml_edit::Table,
    ) -> ClusterMode {
        let mode = task.layer.cluster.or(defaults.cluster);
        if let Some(item) = root.get("cluster") {
            let mode = mode.unwrap_or(ClusterMode::Once);
            let lease = item
                .get("lease")
                .and_then(Item::as_str)
                .and_then(|t| units::parse_duration(t).ok())
                .unwrap_or(DEFAULT_LEASE);
            let grace = task.settings.kill_grace;
            if mode != ClusterMode::Local && grace + lease / 3 + Duration::from_secs(1) > lease {
                let path = format!("tasks.{}.kill_grace", task.name);
                let span = item
                    .get("kill_grace")
                    .or_else(|| root.get("defaults").and_then(|t| t.get("kill_grace")))
                    .and_then(Item::span);
                self.error(
                    span,
                    &path,
                    format!(
                        "kill_grace {} is too long for the cluster's lease of {}",
                        units::format_duration(grace),
                        units::format_duration(lease)
                    ),
                    Some(
                        "a holder that cannot renew its lease stops its command before the \
                         lease ends: keep kill_grace under two thirds of the lease, less 1s"
                            .into(),
                    ),
                );
            }
            return mode;
        }
        if mode.is_some_and(|m| m != ClusterMode::Local) {
            let (path, span) = if task.layer.cluster.is_some() {
                let item = item.get(CLUSTER_MODE_KEY);
                (
                    format!("tasks.{}.cluster", task.name),
                    item.and_then(Item::span),
                )
            } else {
                let item = root.get("defaults").and_then(|t| t.get(CLUSTER_MODE_KEY));
                ("defaults.cluster".into(), item.and_then(Item::span))
            };
            if !self.diagnostics.iter().any(|d| d.key_path == path) {
                self.error(
                    span,
                    &path,
                    "`cluster` needs a [cluster] table naming the backend",
                    Some("[cluster]\nbackend = \"postgres://kron@db.internal/kron\"".into()),
                );
            }
        }
        ClusterMode::Local
    }

    /// `[defaults].max_parallel`: a whole number from 1 up.
    fn max_parallel(&mut self, item: &Item) -> Option<std::num::NonZeroU32> {
        let path = "defaults.max_parallel";
        let n = self.expected(item, path, item.as_integer(), "a whole number")?;
        let positive = u32::try_from(n).ok().and_then(std::num::NonZeroU32::new);
        if positive.is_none() {
            self.error(
                item.span(),
                path,
                format!("{n} is not a positive whole number"),
                Some("leave max_parallel out for no limit".into()),
            );
        }
        positive
    }

    /// `value` (the item read as the type wanted), or an error saying what
    /// was expected instead of what the item is.
    fn expected<T>(&mut self, item: &Item, path: &str, value: Option<T>, what: &str) -> Option<T> {
        if value.is_none() {
            let message = format!("expected {what}, found {}", kind(item));
            self.error(item.span(), path, message, None);
        }
        value
    }

    fn string(&mut self, item: &Item, path: &str) -> Option<String> {
        self.expected(item, path, item.as_str().map(String::from), "a string")
    }

    fn nonempty_string(&mut self, item: &Item, path: &str) -> Option<String> {
        let s = self.string(item, path)?;
        if s.trim().is_empty() {
            self.error(item.span(), path, "must not be empty", None);
            return None;
        }
        Some(s)
    }

    fn bool(&mut self, item: &Item, path: &str) -> Option<bool> {
        self.expected(item, path, item.as_bool(), "true or false")
    }

    fn integer(&mut self, item: &Item, path: &str, max: i64) -> Option<u32> {
        let n = self.expected(item, path, item.as_integer(), "a whole number")?;
        if !(0..=max).contains(&n) {
            let message = format!("{n} is out of range 0-{max}");
            self.error(item.span(), path, message, None);
            return None;
        }
        Some(n as u32)
    }

    fn duration(&mut self, item: &Item, path: &str, positive: bool) -> Option<Duration> {
        let Some(text) = item.as_str() else {
            let help = item
                .as_integer()
                .map(|n| format!("write durations with a unit: \"{n}s\""));
            self.error(
                item.span(),
                path,
                format!("expected a duration such as \"90s\", found {}", kind(item)),
                help,
            );
            return None;
        };
        match units::parse_duration(text) {
            Ok(d) if positive && d.is_zero() => {
                self.error(item.span(), path, "must be above zero", None);
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(item.span(), path, e, None);
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, item: &Item, path: &str, choices: &[(&str, T)]) -> Option<T> {
        let text = self.string(item, path)?;
        let found = choices
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, v)| *v);
        if found.is_none() {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            let help = suggest(&text, &names).map(|s| format!("did you mean `{s}`?"));
            self.error(
                item.span(),
                path,
                format!("`{text}` is not one of {}", names.join(", ")),
                help,
            );
        }
        found
    }

    fn command(&mut self, item: &Item, path: &str) -> Option<TaskCommand> {
        if let Some(array) = item.as_array() {
            let mut argv = Vec::new();
            for value in array.iter() {
                match value.as_str() {
                    Some(s) => argv.push(s.to_string()),
                    None => {
                        self.error(
                            value.span(),
                            path,
                            "every element of a command array must be a string",
                            None,
                        );
                        return None;
                    }
                }
            }
            if argv.is_empty() || argv[0].is_empty() {
                self.error(
                    item.span(),
                    path,
                    "the command array must start with a program",
                    None,
                );
                return None;
            }
            return Some(TaskCommand::Argv(argv));
        }
        if item.as_str().is_none() {
            self.error(
                item.span(),
                path,
                format!(
                    "expected a string or an array of strings, found {}",
                    kind(item)
                ),
                None,
            );
            return None;
        }
        self.nonempty_string(item, path).map(TaskCommand::Shell)
    }

    /// Addresses for a mail header: separated by commas or blanks, no
    /// control characters (a newline would end the header). Empty: no mail.
    fn mailto(&mut self, item: &Item, path: &str) -> Option<String> {
        let text = self.string(item, path)?;
        if text.chars().any(char::is_control) {
            self.error(
                item.span(),
                path,
                "must not contain control characters such as newlines",
                None,
            );
            return None;
        }
        if text.split(',').count() > 1 && text.split(',').any(|a| a.trim().is_empty()) {
            self.error(
                item.span(),
                path,
                format!("`{text}` has an empty address"),
                Some("separate addresses with commas: \"me@example.org, ops@example.org\"".into()),
            );
            return None;
        }
        Some(text.trim().to_string())
    }

    /// An absolute path, or one starting with `~/`.
    fn absolute_path(&mut self, item: &Item, path: &str) -> Option<PathBuf> {
        let text = self.nonempty_string(item, path)?;
        let expanded = crate::dirs::expand_home(&text);
        if !expanded.is_absolute() {
            self.error(
                item.span(),
                path,
                format!("`{text}` must be an absolute path or start with ~/"),
                None,
            );
            return None;
        }
        Some(expanded)
    }

    /// `item` as a table, or a diagnostic showing `example`.
    fn table<'i>(
        &mut self,
        item: &'i Item,
        path: &str,
        example: &str,
    ) -> Option<&'i dyn TableLike> {
        let table = item.as_table_like();
        if table.is_none() {
            self.error(
                item.span(),
                path,
                format!("expected a table such as {example}"),
                None,
            );
        }
        table
    }

    fn env(&mut self, item: &Item, path: &str, layer: &mut Layer) {
        let Some(table) = self.table(item, path, "env = { LANG = \"C\" }") else {
            return;
        };
        for (key, value) in table.iter() {
            let key_path = join(path, key);
            if key.is_empty() || key.contains(['=', '\0']) {
                let span = table.key(key).and_then(|k| k.span());
                self.error(
                    span,
                    &key_path,
                    "not a valid environment variable name",
                    None,
                );
            } else if let Some(v) = self.string(value, &key_path) {
                layer.env.insert(key.into(), v);
            }
        }
    }

    fn retry(&mut self, item: &Item, path: &str, layer: &mut Layer) {
        let Some(table) = self.table(item, path, "retry = { attempts = 3, backoff = \"30s\" }")
        else {
            return;
        };
        for (key, item) in table.iter() {
            let key_path = join(path, key);
            let key_path = key_path.as_str();
            match key {
                "attempts" => layer.retry_attempts = self.integer(item, key_path, 100),
                "backoff" => layer.retry_backoff = self.duration(item, key_path, false),
                "max_backoff" => layer.retry_max_backoff = self.duration(item, key_path, false),
                "jitter" => layer.retry_jitter = self.bool(item, key_path),
                "factor" => {
                    let factor = item
                        .as_float()
                        .or_else(|| item.as_integer().map(|n| n as f64));
                    match factor {
                        Some(f) if (1.0..=100.0).contains(&f) => layer.retry_factor = Some(f),
                        _ => self.error(
                            item.span(),
                            key_path,
                            "expected a number from 1 to 100",
                            None,
                        ),
                    }
                }
                _ => self.unknown_key(table, key, path, &RETRY_KEYS),
            }
        }
    }

    /// A nice value a user may give: 0 (normal) to 19 (lowest priority).
    fn nice(&mut self, item: &Item, path: &str) -> Option<i32> {
        match item.as_integer() {
            Some(n) if (0..=19).contains(&n) => Some(n as i32),
            Some(n) => {
                let help = (n < 0).then(|| {
                    "a priority above normal (a negative nice) is for root; \
                     0 is normal, 19 the lowest"
                        .to_string()
                });
                self.error(item.span(), path, format!("{n} is out of range 0-19"), help);
                None
            }
            None => {
                self.error(
                    item.span(),
                    path,
                    format!("expected a whole number from 0 to 19, found {}", kind(item)),
                    None,
                );
                None
            }
        }
    }

    fn limits(&mut self, item: &Item, path: &str, layer: &mut Layer) {
        let example = "limits = { cpu = \"10m\", memory = \"2GiB\", files = 1024 }";
        let Some(table) = self.table(item, path, example) else {
            return;
        };
        for (key, item) in table.iter() {
            let key_path = join(path, key);
            match key {
                "cpu" => layer.limit_cpu = self.duration(item, &key_path, true),
                "memory" => {
                    let size = match (item.as_str(), item.as_integer()) {
                        (Some(text), _) => units::parse_size(text),
                        (None, Some(n)) if n >= 0 => Ok(n as u64),
                        _ => Err(format!(
                            "expected a size such as \"2GiB\", found {}",
                            kind(item)
                        )),
                    };
                    match size {
                        Ok(0) => self.error(item.span(), &key_path, "must be above zero", None),
                        Ok(n) => layer.limit_memory = Some(n),
                        Err(e) => self.error(item.span(), &key_path, e, None),
                    }
                }
                "files" => match item.as_integer() {
                    Some(n) if n >= 1 => layer.limit_files = Some(n as u64),
                    _ => self.error(
                        item.span(),
                        &key_path,
                        format!("expected a whole number from 1 up, found {}", shown(item)),
                        None,
                    ),
                },
                _ => self.unknown_key(table, key, path, &LIMIT_KEYS),
            }
        }
    }

    fn history(&mut self, item: &Item, path: &str, layer: &mut Layer) {
        let example = "history = { keep = 10000, max_age = \"90d\", archive_max_age = \"730d\" }";
        let Some(table) = self.table(item, path, example) else {
            return;
        };
        for (key, item) in table.iter() {
            let key_path = join(path, key);
            match key {
                "keep" => match item.as_integer() {
                    Some(n) if (1..=10_000_000).contains(&n) => layer.history_keep = Some(n as u32),
                    _ => self.error(
                        item.span(),
                        &key_path,
                        format!(
                            "expected a whole number from 1 to 10000000, found {}",
                            shown(item)
                        ),
                        None,
                    ),
                },
                "max_age" => layer.history_max_age = self.duration(item, &key_path, true),
                "archive_max_age" => {
                    layer.history_archive_max_age = self.duration(item, &key_path, true);
                }
                _ => self.unknown_key(table, key, path, &HISTORY_KEYS),
            }
        }
    }

    fn log(&mut self, item: &Item, path: &str, layer: &mut Layer) {
        let Some(table) = self.table(item, path, "log = { max_size = \"1MiB\", keep = 5 }") else {
            return;
        };
        for (key, item) in table.iter() {
            let key_path = join(path, key);
            match key {
                "keep" => layer.log_keep = self.integer(item, &key_path, 1000),
                "max_size" => {
                    let size = match (item.as_str(), item.as_integer()) {
                        (Some(text), _) => units::parse_size(text),
                        (None, Some(n)) if n >= 0 => Ok(n as u64),
                        _ => Err(format!(
                            "expected a size such as \"1MiB\", found {}",
                            kind(item)
                        )),
                    };
                    match size {
                        Ok(0) => self.error(item.span(), &key_path, "must be above zero", None),
                        Ok(n) => layer.log_max_size = Some(n),
                        Err(e) => self.error(item.span(), &key_path, e, None),
                    }
                }
                _ => self.unknown_key(table, key, path, &LOG_KEYS),
            }
        }
    }
}

/// Node names: what host names are made of, 1-64 characters.
fn valid_node(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// A whole number as written, else what kind of value `item` is.
fn shown(item: &Item) -> String {
    match item.as_integer() {
        Some(n) => n.to_string(),
        None => kind(item).to_string(),
    }
}

fn kind(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) | Item::Value(toml_edit::Value::InlineTable(_)) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => v.type_name(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every task of `text` and what the file says around them, read a
    /// part at a time and whole.
    fn both(text: &str) -> (String, String) {
        let path = Path::new("tasks.toml");
        let sections = super::super::sections::cut(text).expect("a layout cut in parts");
        let read = |parsed: Result<TaskFile, Vec<Diagnostic>>, tasks: Vec<Task>| match parsed {
            Ok(file) => format!("{file:#?}\n{tasks:#?}"),
            Err(diagnostics) => format!("{diagnostics:#?}"),
        };
        let mut tasks = Vec::new();
        let parts = by_sections(text, path, &sections, &mut |t| tasks.push(t));
        let parts = read(parts, tasks);
        let mut tasks = Vec::new();
        let whole = whole(text, path, &mut |t| tasks.push(t));
        (parts, read(whole, tasks))
    }

    const FILE: &str = r#"# tasks
[defaults]
timezone = "europe/berlin"
retry = { attempts = 2 }

[cluster]
backend = "host=/nonexistent dbname=x"
node = "web-1"

[tasks.backup]
schedule = "30 2 * * *"
command = ["restic", "backup"]
[tasks.backup.env]
REPO = "/mnt"

  [ tasks . "old-year" ]
schedule = "0 0 0 1 1 * 2001"
command = """
echo [tasks.not-a-table]
"""
cluster = "local"

[tasks.'quoted-name']
schedule = "@hourly"
command = "true"
timezone = "asia/tokyo"
"#;

    #[test]
    fn a_file_read_a_task_at_a_time_reads_as_it_does_whole() {
        let (parts, whole) = both(FILE);
        assert_eq!(parts, whole);
        // What is compared: the tasks with their lines, the warnings about
        // spelling and the schedule that ended, each with its line.
        for expected in ["line: 16", "line: 23", "spelled", "only fire in the past"] {
            assert!(whole.contains(expected), "{expected}: {whole}");
        }
    }

    #[test]
    fn errors_are_named_as_the_whole_file_names_them() {
        let invalid = [
            // Not TOML in the second task's part.
            FILE.replace("\"@hourly\"", "\"@hourly"),
            // Defined twice within a task's part.
            FILE.replace("REPO = \"/mnt\"", "REPO = \"/mnt\"\n[tasks.backup.env]"),
            // Wrong in the task and in the head.
            FILE.replace("\"30 2 * * *\"", "\"61 2 * * *\"")
                .replace("node = \"web-1\"", "node = \"web 1\""),
        ];
        for text in &invalid {
            let Err(LoadError::Invalid { diagnostics, .. }) = parse(text, Path::new("tasks.toml"))
            else {
                panic!("{text} loaded");
            };
            let Err(whole) = whole(text, Path::new("tasks.toml"), &mut |_| {}) else {
                panic!("{text} loaded whole");
            };
            assert_eq!(diagnostics, whole, "{text}");
        }
    }
}
