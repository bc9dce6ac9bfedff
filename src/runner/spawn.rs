//! What one attempt runs, and starting it: `shell -c COMMAND` or the argv,
//! in its own session and process group, in `workdir`, with standard input
//! from the task's `stdin` text or `/dev/null`, and an environment built
//! from nothing: a fixed base, then the task's `env` (already merged over
//! `[defaults].env`), then the `KRON_*` variables, and the task's lock on
//! descriptor 3 ([`LOCK_FD`]); then its `nice`, `ioclass` and `limits`,
//! given to its process by pid as soon as it started (see
//! [`super::priority`] for why then, and what that leaves). `kron run
//! --dry-run` prints the same [`Plan`].

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{PipeWriter, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use jiff::Timestamp;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::priority::{self, Resources};
use crate::taskfile::{Task, TaskCommand};

/// The `PATH` every command starts with (a task's `env` may change it).
pub const BASE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The descriptor on which a command inherits its task's lock: it holds
/// the lock, as a command under flock(1) does, for as long as it (or a
/// process it starts) keeps the descriptor open. Closing it is the
/// command's choice, such as `daemon 3>&- &` for a process that should not
/// keep later runs out.
pub const LOCK_FD: RawFd = 3;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Plan {
    pub program: String,
    pub args: Vec<String>,
    pub workdir: PathBuf,
    /// The whole environment: nothing else is inherited.
    pub env: BTreeMap<String, String>,
    pub stdin: Option<String>,
    /// Its nice value, I/O class and resource limits.
    pub resources: Resources,
}

/// What identifies an attempt to the command.
pub struct AttemptInfo<'a> {
    pub run_id: &'a str,
    pub attempt: u32,
    pub scheduled: Option<Timestamp>,
    /// A cluster run's claim: `KRON_NODE`, `KRON_OCCURRENCE`,
    /// `KRON_FENCING_TOKEN`.
    pub cluster: Option<&'a ClusterInfo>,
}

/// What a command of a cluster run learns of its claim, so that a job
/// that writes somewhere can refuse a stale holder (a smaller token).
#[derive(Clone, Debug)]
pub struct ClusterInfo {
    pub node: String,
    /// `task@instant`.
    pub occurrence: String,
    pub token: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("workdir {} is not a directory", path.display())]
    Workdir { path: PathBuf },
    #[error("the command is empty")]
    Empty,
    #[error("cannot start `{program}`: {source}")]
    Start {
        program: String,
        source: std::io::Error,
    },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Its `nice`, `ioclass` or `limits` cannot be given; it did not run
    /// (or was killed at once).
    #[error("{0}")]
    Resources(String),
}

impl SpawnError {
    /// The shell's convention: 127 when the program is missing, else 126.
    pub fn exit_code(&self) -> u8 {
        match self {
            SpawnError::Start { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                127
            }
            SpawnError::Workdir { .. } | SpawnError::Empty => 127,
            _ => 126,
        }
    }
}

/// HOME, USER, LOGNAME, SHELL and PATH, as cron sets them.
pub fn base_env(shell: &str) -> BTreeMap<String, String> {
    let home = crate::dirs::home();
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    BTreeMap::from([
        ("HOME".into(), home.to_string_lossy().into_owned()),
        ("USER".into(), user.clone()),
        ("LOGNAME".into(), user),
        ("SHELL".into(), shell.into()),
        ("PATH".into(), BASE_PATH.into()),
    ])
}

/// What attempt `info` of `task` runs.
pub fn plan(task: &Task, info: &AttemptInfo) -> Plan {
    let s = &task.settings;
    let (program, args) = match &task.command {
        TaskCommand::Shell(text) => (s.shell.clone(), vec!["-c".into(), text.clone()]),
        TaskCommand::Argv(argv) => (
            argv.first().cloned().unwrap_or_default(),
            argv.iter().skip(1).cloned().collect(),
        ),
    };
    let mut env = base_env(&s.shell);
    env.extend(s.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.insert("KRON_TASK".into(), task.name.clone());
    env.insert("KRON_RUN_ID".into(), info.run_id.into());
    env.insert("KRON_ATTEMPT".into(), info.attempt.to_string());
    env.insert(
        "KRON_SCHEDULED_AT".into(),
        info.scheduled.map(|t| t.to_string()).unwrap_or_default(),
    );
    if let Some(cluster) = info.cluster {
        env.insert("KRON_NODE".into(), cluster.node.clone());
        env.insert("KRON_OCCURRENCE".into(), cluster.occurrence.clone());
        env.insert("KRON_FENCING_TOKEN".into(), cluster.token.to_string());
    }
    Plan {
        program,
        args,
        workdir: s.workdir.clone().unwrap_or_else(crate::dirs::home),
        env,
        stdin: s.stdin.clone(),
        resources: Resources {
            nice: s.nice,
            ioclass: s.ioclass,
            limits: s.limits.clone(),
        },
    }
}

/// Starts `plan` with stdout and stderr both on `output` (one pipe keeps
/// their order) and `lock`, if any, on [`LOCK_FD`], as the leader of a new
/// session and process group, and gives it its [`Resources`] (a command
/// that cannot have them is killed at once). `scratch` is a private
/// directory for the standard-input file.
pub fn spawn(
    plan: &Plan,
    output: PipeWriter,
    lock: Option<BorrowedFd>,
    scratch: &Path,
) -> Result<Child, SpawnError> {
    if plan.program.is_empty() {
        return Err(SpawnError::Empty);
    }
    if !plan.workdir.is_dir() {
        return Err(SpawnError::Workdir {
            path: plan.workdir.clone(),
        });
    }
    let stdin = match &plan.stdin {
        Some(text) => stdin_file(scratch, text)?,
        None => File::open("/dev/null").map_err(|source| SpawnError::Io {
            action: "opening",
            path: "/dev/null".into(),
            source,
        })?,
    };
    let start_error = |source| SpawnError::Start {
        program: plan.program.clone(),
        source,
    };
    let path = plan.env.get("PATH").map_or("", String::as_str);
    let program = resolve(&plan.program, path, &plan.workdir).map_err(start_error)?;
    priority::check(&plan.resources).map_err(SpawnError::Resources)?;
    let child = start(
        &program,
        &plan.program,
        &plan.args,
        &plan.env,
        Some(&plan.workdir),
        [stdin.as_fd(), output.as_fd(), output.as_fd()],
        lock,
    )
    .map_err(start_error)?;
    if plan.resources.is_empty() {
        return Ok(child);
    }
    if let Err(reason) = priority::apply(child.pid.as_raw(), &plan.resources) {
        // It must not run on without them: stop what it may have started.
        let _ = nix::sys::signal::killpg(child.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(child.pid, None);
        return Err(SpawnError::Resources(format!(
            "{reason}; the command was stopped"
        )));
    }
    Ok(child)
}

/// Where `program` is, searched on `path` (the command's own `PATH`, as
/// execvp(3) would, relative entries in `workdir`) unless it has a `/`.
pub(crate) fn resolve(program: &str, path: &str, workdir: &Path) -> std::io::Result<PathBuf> {
    use nix::unistd::{AccessFlags, access};
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let mut denied = false;
    for dir in path.split(':') {
        let candidate = workdir.join(dir).join(program);
        match access(&candidate, AccessFlags::X_OK) {
            Ok(()) if candidate.is_file() => return Ok(candidate),
            Ok(()) => {}
            Err(nix::errno::Errno::EACCES) => denied = true,
            Err(_) => {}
        }
    }
    Err(if denied {
        std::io::ErrorKind::PermissionDenied.into()
    } else {
        std::io::ErrorKind::NotFound.into()
    })
}

/// A started command: its pid (also its session and process group id) and,
/// on Linux 5.3 and later, a pidfd that becomes readable when it exits, so
/// that a supervisor waits for its own child without SIGCHLD (which a
/// process supervising several runs could not route).
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    exit: Option<OwnedFd>,
    status: Option<ExitStatus>,
}

impl Child {
    pub fn id(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// Readable once the child exited; `None` where the kernel has no
    /// pidfds, and the caller checks [`Child::try_wait`] now and then.
    pub fn exit_fd(&self) -> Option<BorrowedFd<'_>> {
        self.exit.as_ref().map(AsFd::as_fd)
    }

    /// Reaps the child if it exited.
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        if self.status.is_some() {
            return Ok(self.status);
        }
        let status = loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => break ExitStatus::from_raw((code & 0xff) << 8),
                Ok(WaitStatus::Signaled(_, signal, core)) => {
                    break ExitStatus::from_raw(signal as i32 | if core { 0x80 } else { 0 });
                }
                Ok(_) => return Ok(None),
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        };
        self.status = Some(status);
        Ok(self.status)
    }
}

/// Starts `program` (a path) with `argv0` and `args`, exactly the
/// environment `env`, in `workdir`, with `stdio` as its descriptors 0, 1
/// and 2 and `lock` as [`LOCK_FD`], in a new session, with default signal
/// dispositions and an empty mask. Every other descriptor is the
/// supervisor's and close-on-exec, so none leaks into the command.
///
/// The descriptors are given to the child by the spawn's file actions
/// (`dup2`), never by clearing close-on-exec in the supervisor: its other
/// threads start other commands meanwhile, which must not inherit them.
/// `lock` is first copied above 3 (close-on-exec, closed when this
/// returns), so the copies onto 0 to 2 cannot overwrite it and its own
/// `dup2` is never onto the same number (which would leave close-on-exec
/// set with an older libc).
///
/// posix_spawn(3), not fork(2): glibc starts the child with `CLONE_VFORK`
/// on the caller's memory, so the cost does not grow with the supervisor's
/// size or its threads, and it is safe in a process with threads. It is
/// called through `libc` because nix has no `addchdir_np` (glibc 2.29).
pub fn start(
    program: &Path,
    argv0: &str,
    args: &[String],
    env: &BTreeMap<String, String>,
    workdir: Option<&Path>,
    stdio: [BorrowedFd; 3],
    lock: Option<BorrowedFd>,
) -> std::io::Result<Child> {
    use nix::libc;
    use std::ffi::{CString, c_char};
    use std::os::unix::ffi::OsStrExt;

    let invalid = |_| std::io::Error::from(std::io::ErrorKind::InvalidInput);
    let c = |bytes: &[u8]| CString::new(bytes).map_err(invalid);
    let path = c(program.as_os_str().as_bytes())?;
    let argv: Vec<CString> = std::iter::once(argv0)
        .chain(args.iter().map(String::as_str))
        .map(|a| c(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let envp: Vec<CString> = env
        .iter()
        .map(|(k, v)| c(format!("{k}={v}").as_bytes()))
        .collect::<Result<_, _>>()?;
    let pointers = |strings: &[CString]| {
        strings
            .iter()
            .map(|s| s.as_ptr().cast_mut())
            .chain([std::ptr::null_mut()])
            .collect::<Vec<*mut c_char>>()
    };
    let (argv_p, envp_p) = (pointers(&argv), pointers(&envp));
    let dir = workdir.map(|d| c(d.as_os_str().as_bytes())).transpose()?;
    let check = |rc: libc::c_int| match rc {
        0 => Ok(()),
        e => Err(std::io::Error::from_raw_os_error(e)),
    };
    // `try_clone_to_owned` is F_DUPFD_CLOEXEC from 3 up; a copy on 3 is
    // held while copied again, so the second is above it.
    let lock = match lock.map(|fd| fd.try_clone_to_owned()).transpose()? {
        Some(copy) if copy.as_raw_fd() == LOCK_FD => Some(copy.try_clone()?),
        copy => copy,
    };

    // SAFETY: each object is initialised before use and destroyed once
    // (by the guards); every pointer passed lives until posix_spawn returns.
    unsafe {
        let mut actions = std::mem::MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
        check(libc::posix_spawn_file_actions_init(actions.as_mut_ptr()))?;
        let actions = Guard(actions.assume_init_mut(), |a| {
            libc::posix_spawn_file_actions_destroy(a);
        });
        for (target, fd) in stdio.iter().enumerate() {
            check(libc::posix_spawn_file_actions_adddup2(
                actions.0,
                fd.as_raw_fd(),
                target as libc::c_int,
            ))?;
        }
        if let Some(lock) = &lock {
            check(libc::posix_spawn_file_actions_adddup2(
                actions.0,
                lock.as_raw_fd(),
                LOCK_FD,
            ))?;
        }
        if let Some(dir) = &dir {
            check(libc::posix_spawn_file_actions_addchdir_np(
                actions.0,
                dir.as_ptr(),
            ))?;
        }
        let mut attr = std::mem::MaybeUninit::<libc::posix_spawnattr_t>::uninit();
        check(libc::posix_spawnattr_init(attr.as_mut_ptr()))?;
        let attr = Guard(attr.assume_init_mut(), |a| {
            libc::posix_spawnattr_destroy(a);
        });
        let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigfillset(all.as_mut_ptr());
        let mut none = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(none.as_mut_ptr());
        check(libc::posix_spawnattr_setsigdefault(attr.0, all.as_ptr()))?;
        check(libc::posix_spawnattr_setsigmask(attr.0, none.as_ptr()))?;
        check(libc::posix_spawnattr_setflags(
            attr.0,
            (libc::c_int::from(libc::POSIX_SPAWN_SETSID)
                | libc::POSIX_SPAWN_SETSIGDEF
                | libc::POSIX_SPAWN_SETSIGMASK) as libc::c_short,
        ))?;
        let mut pid: libc::pid_t = 0;
        check(libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            actions.0,
            attr.0,
            argv_p.as_ptr(),
            envp_p.as_ptr(),
        ))?;
        Ok(Child {
            pid: Pid::from_raw(pid),
            exit: pidfd(pid).ok(),
            status: None,
        })
    }
}

/// Marks every descriptor from 3 up close-on-exec. kron opens its own
/// that way; this catches those it inherited without the flag (from the
/// shell that started `kron run`, or the daemon's starter), so that a
/// command gets 0 to 2 and its lock and nothing else. A supervisor calls
/// it as it starts; the flag is only ever set, so other threads are safe.
pub fn close_inherited_on_exec() {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD sets the descriptor's flags and touches no
        // memory; a number no longer open (the listing's own) fails with
        // EBADF, which is harmless.
        unsafe {
            nix::libc::fcntl(fd, nix::libc::F_SETFD, nix::libc::FD_CLOEXEC);
        }
    }
}

/// A pidfd for process `pid` (Linux 5.3): readable once it has exited,
/// whether or not it is a child of the caller.
pub fn pidfd(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // or -1; nothing else is touched.
    let raw = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just created and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw as RawFd) })
}

/// Runs its function on the pointer when dropped.
struct Guard<T>(*mut T, unsafe fn(*mut T));

impl<T> Drop for Guard<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer was initialised by the matching init call.
        unsafe { (self.1)(self.0) }
    }
}

/// The `stdin` text in an unlinked private file: no pipe to keep fed, so a
/// command that prints before it reads cannot deadlock with kron.
fn stdin_file(dir: &Path, text: &str) -> Result<File, SpawnError> {
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| SpawnError::Io {
            action,
            path,
            source,
        }
    };
    crate::dirs::create_private_dir(dir).map_err(io("creating", dir))?;
    let path = dir.join(format!(
        ".stdin-{}-{:x}",
        std::process::id(),
        (super::retry::random_unit() * 1e15) as u64
    ));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io("creating", &path))?;
    let _ = std::fs::remove_file(&path);
    file.write_all(text.as_bytes())
        .and_then(|()| file.rewind())
        .map_err(io("writing", &path))?;
    Ok(file)
}

/// In a child between fork and exec: a new session, and the signal mask
/// cleared (the daemon blocks the signals its signalfd reads), so that the program sees its
/// signals. Both calls are async-signal-safe and allocate nothing.
pub fn detach() -> std::io::Result<()> {
    nix::sys::signal::SigSet::empty()
        .thread_set_mask()
        .map_err(std::io::Error::from)?;
    nix::unistd::setsid()
        .map(drop)
        .map_err(std::io::Error::from)
}
