//! The control socket's server: the listening socket, bound 0600 in the
//! 0700 runtime directory, and the client connections, each sending one
//! line of request (`ipc`) and getting one line of answer. A client that
//! sends nothing for [`CONNECTION_TIMEOUT`], or does not read its answer
//! within a second, is dropped, so no client can stall the daemon's loop.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Daemon, DaemonError, handle, io_error};
use crate::ipc;
use crate::logging::{debug, warning};

/// How long a client connection may take to send its request.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Server {
    listener: UnixListener,
    connections: Vec<Connection>,
}

/// A client connection, reading its one-line request.
struct Connection {
    stream: UnixStream,
    buf: Vec<u8>,
    deadline: Instant,
}

impl Server {
    /// Binds the control socket at `socket`.
    pub fn bind(socket: &Path) -> Result<Server, DaemonError> {
        Ok(Server {
            listener: listen(socket)?,
            connections: Vec::new(),
        })
    }

    /// What to poll: the listening socket, then each connection, in the
    /// order [`Server::serve`] expects its readiness.
    pub fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        std::iter::once(self.listener.as_fd())
            .chain(self.connections.iter().map(|c| c.stream.as_fd()))
    }

    /// How many descriptors [`Server::fds`] gives.
    pub fn fd_count(&self) -> usize {
        1 + self.connections.len()
    }

    /// How long until the earliest connection's deadline, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.connections
            .iter()
            .map(|c| c.deadline.saturating_duration_since(Instant::now()))
            .min()
    }

    /// Accepts new connections, answers the requests that are complete and
    /// drops the connections that are done or too slow. `ready` is the
    /// readiness of [`Server::fds`].
    pub fn serve(&mut self, ready: &[bool], daemon: &mut Daemon) {
        let accepted = ready.first().copied().unwrap_or(false);
        let now = Instant::now();
        let mut open = Vec::with_capacity(self.connections.len());
        for (i, mut connection) in std::mem::take(&mut self.connections)
            .into_iter()
            .enumerate()
        {
            let readable = ready.get(1 + i).copied().unwrap_or(false);
            match connection.receive(readable) {
                Receive::Pending if connection.deadline > now => open.push(connection),
                Receive::Pending => debug!("dropping a client that sent no request in time"),
                Receive::Closed => {}
                Receive::Frame(line) => {
                    let response = match ipc::decode_request(&line) {
                        Ok(request) => handle::handle(daemon, request),
                        Err(message) => ipc::Response::Error { message },
                    };
                    connection.respond(&response);
                    daemon.trim_pending = true;
                }
            }
        }
        self.connections = open;
        if accepted {
            self.accept();
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Err(e) = ipc::admit(&stream) {
                        warning!("{e}");
                    } else if stream.set_nonblocking(true).is_ok() {
                        self.connections.push(Connection {
                            stream,
                            buf: Vec::new(),
                            deadline: Instant::now() + CONNECTION_TIMEOUT,
                        });
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    warning!("accepting a connection: {e}");
                    return;
                }
            }
        }
    }
}

/// Binds the control socket (0600, in the 0700 runtime directory). A file
/// left by a daemon that died is removed: this process holds the lock.
fn listen(socket: &Path) -> Result<UnixListener, DaemonError> {
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("removing the stale socket", socket)(e)),
    }
    let listener = UnixListener::bind(socket).map_err(io_error("listening on", socket))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .map_err(io_error("setting the mode of", socket))?;
    listener
        .set_nonblocking(true)
        .map_err(io_error("configuring", socket))?;
    Ok(listener)
}

enum Receive {
    Pending,
    Closed,
    Frame(Vec<u8>),
}

impl Connection {
    fn receive(&mut self, readable: bool) -> Receive {
        if !readable {
            return Receive::Pending;
        }
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Receive::Closed,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                        self.buf.truncate(end);
                        return Receive::Frame(std::mem::take(&mut self.buf));
                    }
                    if self.buf.len() > ipc::MAX_FRAME {
                        self.respond(&ipc::Response::Error {
                            message: format!("request over {} bytes", ipc::MAX_FRAME),
                        });
                        return Receive::Closed;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Receive::Pending,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Receive::Closed,
            }
        }
    }

    /// Sends the answer; a client that does not read it within a second is
    /// dropped.
    fn respond(&self, response: &ipc::Response) {
        use std::io::Write;
        let frame = ipc::encode_response(response);
        let _ = self.stream.set_nonblocking(false);
        let _ = self.stream.set_write_timeout(Some(Duration::from_secs(1)));
        if let Err(e) = (&self.stream).write_all(&frame) {
            debug!("answering a client: {e}");
        }
    }
}
