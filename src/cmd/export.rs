//! `kron export`: the tasks as a crontab on stdout, as systemd user units
//! in a directory, or as Kubernetes CronJobs on stdout or in a directory.
//!
//! crontab: tasks crontab cannot express are written as comments with the
//! reason, and each is named on stderr; the exit status is still 0, since
//! the output says everything it leaves out. systemd and kubernetes: a task
//! the format cannot express is left out and named on stderr with the
//! reason; the others are written, and kron exits 1, since the output does
//! not show what it left out.

use std::io::Write;
use std::path::Path;

use super::Ctx;
use crate::cli::{ExportArgs, ExportFormat};
use crate::crontab;
use crate::error::Error;
use crate::export::{self, Export};
use crate::schedule::Zone;
use crate::taskfile::install::write_atomically;

pub fn run(ctx: &Ctx, args: &ExportArgs) -> Result<(), Error> {
    let name = match args.format {
        ExportFormat::Crontab => "crontab",
        ExportFormat::Systemd => "systemd",
        ExportFormat::Kubernetes => "kubernetes",
    };
    if args.image.is_some() && args.format != ExportFormat::Kubernetes {
        return Err(Error::Invalid(format!(
            "--image is for --format kubernetes, not {name}"
        )));
    }
    match args.format {
        ExportFormat::Crontab => {
            if let Some(dir) = &args.dir {
                return Err(Error::Invalid(format!(
                    "--format crontab writes to stdout and takes no DIR (got {}); \
                     redirect it instead: kron export > crontab.txt",
                    dir.display()
                )));
            }
            crontab_export(ctx)
        }
        ExportFormat::Systemd => {
            let Some(dir) = &args.dir else {
                return Err(Error::Invalid(
                    "--format systemd needs a DIR to write the units into, such as \
                     ~/.config/systemd/user"
                        .into(),
                ));
            };
            let file = ctx.load_tasks()?;
            let exported = export::systemd::export(&file);
            write_files(dir, &exported)?;
            let mut out = std::io::stdout().lock();
            summary(&mut out, dir, &exported, &file).map_err(Error::Output)?;
            refusals(&exported, "systemd")
        }
        ExportFormat::Kubernetes => {
            let Some(image) = args.image.as_deref().filter(|i| !i.trim().is_empty()) else {
                return Err(Error::Invalid(
                    "--format kubernetes needs --image IMAGE: the container image the \
                     CronJobs run, one that has the programs your tasks call"
                        .into(),
                ));
            };
            let file = ctx.load_tasks()?;
            let exported = export::kubernetes::export(&file, image);
            match &args.dir {
                Some(dir) => {
                    write_files(dir, &exported)?;
                    let mut out = std::io::stdout().lock();
                    for f in &exported.files {
                        writeln!(out, "wrote {}", dir.join(&f.name).display())
                            .map_err(Error::Output)?;
                    }
                }
                None => {
                    let text = export::kubernetes::stream(&file, &exported);
                    std::io::stdout()
                        .lock()
                        .write_all(text.as_bytes())
                        .map_err(Error::Output)?;
                }
            }
            refusals(&exported, "Kubernetes")
        }
    }
}

fn crontab_export(ctx: &Ctx) -> Result<(), Error> {
    let file = ctx.load_tasks()?;
    let exported = crontab::export(&file, &Zone::system(), &crate::dirs::home());
    std::io::stdout()
        .lock()
        .write_all(exported.text.as_bytes())
        .map_err(Error::Output)?;
    let mut stderr = std::io::stderr().lock();
    for (name, reason) in &exported.commented {
        let _ = writeln!(
            stderr,
            "kron: task {name} is only a comment in the crontab: {reason}"
        );
    }
    Ok(())
}

/// Writes each file atomically, 0600 (units and manifests may hold
/// secrets from `env`), creating the directory 0700 if missing.
fn write_files(dir: &Path, exported: &Export) -> Result<(), Error> {
    for f in &exported.files {
        write_atomically(&dir.join(&f.name), f.text.as_bytes())?;
    }
    Ok(())
}

/// What was written, and the commands that start the timers.
fn summary(
    out: &mut impl Write,
    dir: &Path,
    exported: &Export,
    file: &crate::taskfile::TaskFile,
) -> std::io::Result<()> {
    if exported.files.is_empty() {
        return writeln!(out, "no units written");
    }
    for f in &exported.files {
        writeln!(out, "wrote {}", dir.join(&f.name).display())?;
    }
    let timers: Vec<String> = file
        .tasks
        .iter()
        .filter(|t| !t.settings.paused && !exported.refused.iter().any(|r| r.task == t.name))
        .map(|t| format!("{}.timer", export::systemd::unit_name(&t.name)))
        .collect();
    let user_dir = crate::dirs::home().join(".config/systemd/user");
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    writeln!(out, "start the timers with:")?;
    if !same(dir, &user_dir) {
        writeln!(
            out,
            "  cp {}/kron-*.service {}/kron-*.timer ~/.config/systemd/user/",
            dir.display(),
            dir.display()
        )?;
    }
    writeln!(out, "  systemctl --user daemon-reload")?;
    if timers.is_empty() {
        writeln!(
            out,
            "  (every task is paused: enable their timers when they should run)"
        )
    } else {
        writeln!(out, "  systemctl --user enable --now {}", timers.join(" "))
    }
}

/// Names each refused task on stderr; exit 1 when there was one.
fn refusals(exported: &Export, format: &str) -> Result<(), Error> {
    if exported.refused.is_empty() {
        return Ok(());
    }
    let mut stderr = std::io::stderr().lock();
    for r in &exported.refused {
        let _ = writeln!(
            stderr,
            "kron: task {} is not exported to {format}: {}",
            r.task, r.reason
        );
    }
    let _ = writeln!(
        stderr,
        "kron: {} task(s) not exported; the others were",
        exported.refused.len()
    );
    Err(Error::Exit(1))
}
