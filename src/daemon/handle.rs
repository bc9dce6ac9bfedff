//! One small function per control request, mirroring the verbs that send
//! them (`kron daemon status` and `kron status` send `Status`, `kron daemon
//! stop` sends `Stop`...).

use jiff::Timestamp;

use super::Daemon;
use crate::ipc::{DaemonStatus, NextRun, Request, Response};
use crate::logging::info;

pub fn handle(daemon: &mut Daemon, request: Request) -> Response {
    match request {
        Request::Ping => ping(daemon),
        Request::Status => status(daemon),
        Request::Reload => reload(daemon),
        Request::Stop => stop(daemon),
        Request::RunNow { task, run_id } => run_now(daemon, &task, run_id),
    }
}

fn ping(daemon: &Daemon) -> Response {
    Response::Pong {
        pid: std::process::id(),
        task_file: daemon.paths.task_file.clone(),
    }
}

fn status(daemon: &Daemon) -> Response {
    let (tasks, paused) = daemon.planner.counts();
    Response::Status(DaemonStatus {
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").into(),
        started: daemon.started,
        task_file: daemon.paths.task_file.clone(),
        tasks,
        paused,
        loaded: daemon.loaded,
        load_error: daemon.load_error.clone(),
        next: daemon
            .planner
            .next_run()
            .map(|(task, at)| NextRun { task, at }),
        running: daemon.running(),
        waiting: daemon.planner.waiting(),
        max_parallel: daemon.planner.max_parallel().map(|n| n.get()),
    })
}

fn reload(daemon: &mut Daemon) -> Response {
    daemon.reload("request");
    match &daemon.load_error {
        None => Response::Done,
        Some(e) => Response::Error { message: e.clone() },
    }
}

fn stop(daemon: &mut Daemon) -> Response {
    info!("stopping on request");
    daemon.stopping = true;
    Response::Done
}

fn run_now(daemon: &mut Daemon, task: &str, run_id: Option<String>) -> Response {
    if daemon.planner.run_now(task, run_id, Timestamp::now()) {
        Response::Done
    } else {
        Response::Error {
            message: format!("no task named `{task}` is loaded"),
        }
    }
}
