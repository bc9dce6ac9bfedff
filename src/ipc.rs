//! The daemon's control protocol: one request and one response per
//! connection on the Unix socket `$RUNTIME/kron.sock`.
//!
//! Each frame is one line of JSON, `{"version":1,"request":{...}}` and
//! `{"version":1,"response":{...}}`, at most [`MAX_FRAME`] bytes. A daemon
//! that speaks another version answers with an error that says so, and the
//! client reports it. The socket lives in the 0700 runtime directory, so
//! only the user (and root) can connect; the daemon also asks the kernel
//! who connected ([`admit`], `SO_PEERCRED`) and takes requests from its own
//! user only. Clients give up after [`TIMEOUT`]. Nothing here prints.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The protocol version; bumped when a request or response changes shape.
pub const VERSION: u32 = 1;
/// The largest frame either side accepts, newline included.
pub const MAX_FRAME: usize = 1 << 20;
/// How long a client waits to connect, send, and receive the answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Is the daemon there? Answered with [`Response::Pong`].
    Ping,
    /// What the daemon is doing: [`Response::Status`].
    Status,
    /// Read the task file again (as SIGHUP does).
    Reload,
    /// Stop scheduling and exit; running commands go on.
    Stop,
    /// Start a run of `task` now (trigger `manual`), subject to
    /// `max_parallel`, with the run id the client chose (`kron run --detach`
    /// prints it).
    RunNow {
        task: String,
        #[serde(default)]
        run_id: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    Pong {
        pid: u32,
        task_file: PathBuf,
    },
    Status(DaemonStatus),
    /// The request was carried out.
    Done,
    /// The request was refused or failed; the message says why.
    Error {
        message: String,
    },
}

/// The daemon's own view of itself, for `kron status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    /// kron's version.
    pub version: String,
    /// When the daemon started (RFC 3339, UTC, on the wire).
    pub started: Timestamp,
    pub task_file: PathBuf,
    /// Tasks loaded (the last valid file), of which `paused` are paused.
    pub tasks: usize,
    pub paused: usize,
    /// When the task file was last read successfully, if ever.
    pub loaded: Option<Timestamp>,
    /// Why the last change of the task file was not loaded, if it was not:
    /// the daemon keeps running the tasks it had.
    pub load_error: Option<String>,
    /// The earliest instant the daemon will next start something.
    pub next: Option<NextRun>,
    /// Supervisors this daemon started that are still running.
    pub running: usize,
    /// Runs waiting for a slot under `max_parallel`.
    pub waiting: usize,
    pub max_parallel: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextRun {
    pub task: String,
    pub at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// Nothing listens on the socket.
    #[error("the daemon is not running (no answer on {})", path.display())]
    NotRunning { path: PathBuf },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the daemon on {} sent a bad answer: {reason}", path.display())]
    Protocol { path: PathBuf, reason: String },
    /// The daemon answered with an error.
    #[error("the daemon says: {0}")]
    Refused(String),
}

#[derive(Serialize, Deserialize)]
struct RequestFrame {
    version: u32,
    request: Request,
}

#[derive(Serialize, Deserialize)]
struct ResponseFrame {
    version: u32,
    response: Response,
}

/// Sends `request` to the daemon listening on `socket` and returns its
/// answer. [`Response::Error`] becomes [`IpcError::Refused`].
pub fn request(socket: &Path, request: &Request) -> Result<Response, IpcError> {
    let io = |action: &'static str| {
        let path = socket.to_path_buf();
        move |source| IpcError::Io {
            action,
            path,
            source,
        }
    };
    let stream = match UnixStream::connect(socket) {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(IpcError::NotRunning {
                path: socket.into(),
            });
        }
        Err(e) => return Err(io("connecting to")(e)),
    };
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(io("configuring"))?;
    let mut frame = serde_json::to_vec(&RequestFrame {
        version: VERSION,
        request: request.clone(),
    })
    .expect("requests serialise");
    frame.push(b'\n');
    // A daemon that refuses the connection answers before reading and
    // closes it, so the write may fail with EPIPE: its answer is read anyway.
    let written = match (&stream).write_all(&frame) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(io("writing to")(e)),
        written => written,
    };
    let mut line = Vec::new();
    BufReader::new((&stream).take(MAX_FRAME as u64 + 1))
        .read_until(b'\n', &mut line)
        .map_err(io("reading from"))?;
    let protocol = |reason: String| IpcError::Protocol {
        path: socket.into(),
        reason,
    };
    if line.is_empty() {
        written.map_err(io("writing to"))?;
        return Err(protocol(
            "it closed the connection without answering".into(),
        ));
    }
    if line.len() > MAX_FRAME {
        return Err(protocol(format!("the answer is over {MAX_FRAME} bytes")));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&line).map_err(|e| protocol(e.to_string()))?;
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(VERSION)) {
        return Err(protocol(format!(
            "it speaks protocol version {}, this kron speaks {VERSION}; \
             restart it with `kron daemon restart`",
            version.map_or_else(|| "?".into(), |v| v.to_string())
        )));
    }
    let frame: ResponseFrame =
        serde_json::from_value(value).map_err(|e| protocol(e.to_string()))?;
    match frame.response {
        Response::Error { message } => Err(IpcError::Refused(message)),
        response => Ok(response),
    }
}

/// The daemon's side: the request in one received line (without its
/// newline), or why it is refused (to send back as [`Response::Error`]).
pub fn decode_request(line: &[u8]) -> Result<Request, String> {
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("not a request: {e}"))?;
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(VERSION)) {
        return Err(format!(
            "this daemon speaks protocol version {VERSION}, the client {}; \
             restart the daemon with `kron daemon restart` after an upgrade",
            version.map_or_else(|| "?".into(), |v| v.to_string())
        ));
    }
    serde_json::from_value::<RequestFrame>(value)
        .map(|frame| frame.request)
        .map_err(|e| format!("unknown request: {e}"))
}

/// The daemon's side: `response` as one line, newline included.
pub fn encode_response(response: &Response) -> Vec<u8> {
    let mut frame = serde_json::to_vec(&ResponseFrame {
        version: VERSION,
        response: response.clone(),
    })
    .expect("responses serialise");
    frame.push(b'\n');
    frame
}

/// Why the daemon did not take a connection.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error(
        "refused a connection from uid {peer} on the control socket: only uid {own} may use it"
    )]
    OtherUser { own: u32, peer: u32 },
    #[error("refused a connection on the control socket: reading its peer's credentials: {0}")]
    Credentials(std::io::Error),
}

/// The daemon's side, on each connection it accepts: takes it only from a
/// process of the daemon's own user, as the kernel recorded it when the
/// client connected (`SO_PEERCRED`). A refused client is told why (best
/// effort) before the daemon drops the connection.
pub fn admit(stream: &UnixStream) -> Result<(), PeerError> {
    let own = nix::unistd::geteuid().as_raw();
    let result = peer_uid(stream)
        .map_err(PeerError::Credentials)
        .and_then(|peer| admits(own, peer));
    if result.is_err() {
        let message = format!("this daemon takes requests from uid {own} only");
        let _ = stream.set_nonblocking(true);
        let _ = (&*stream).write_all(&encode_response(&Response::Error { message }));
    }
    result
}

/// Whether a daemon running as uid `own` takes requests from uid `peer`:
/// only when they are the same. Root is refused too: it can do anything to
/// the daemon anyway (signal it, change its files), so letting it in would
/// add nothing, and kron run as root refuses the user's directories as
/// another user's.
pub fn admits(own: u32, peer: u32) -> Result<(), PeerError> {
    if peer == own {
        Ok(())
    } else {
        Err(PeerError::OtherUser { own, peer })
    }
}

/// The effective uid of the process at the other end of `stream` when it
/// connected.
fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    use nix::libc;
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the descriptor is open for the call (`stream` is borrowed),
    // and `cred` and `len` are live locals, `len` holding `cred`'s size, so
    // the kernel writes at most that many bytes into `cred`.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &raw mut len,
        )
    };
    if rc == 0 {
        Ok(cred.uid)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_versions_are_checked() {
        for request in [
            Request::Ping,
            Request::Status,
            Request::Reload,
            Request::Stop,
            Request::RunNow {
                task: "a".into(),
                run_id: Some("20261121-103300-87afea86".into()),
            },
        ] {
            let line = serde_json::to_vec(&RequestFrame {
                version: VERSION,
                request: request.clone(),
            })
            .unwrap();
            assert_eq!(decode_request(&line), Ok(request));
        }
        let old = br#"{"version":0,"request":{"type":"ping"}}"#;
        assert!(
            matches!(decode_request(old), Err(message) if message.contains("version 1, the client 0"))
        );
        let unknown = br#"{"version":1,"request":{"type":"dance"}}"#;
        assert!(decode_request(unknown).is_err());
        assert!(decode_request(b"{").is_err());
    }

    #[test]
    fn status_instants_are_rfc3339_strings_on_the_wire() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let status = DaemonStatus {
            pid: 7,
            version: "0.1.0".into(),
            started: at("2026-03-08T10:00:00.25Z"),
            task_file: "/t".into(),
            tasks: 1,
            paused: 0,
            loaded: Some(at("2026-03-08T10:00:01Z")),
            load_error: None,
            next: Some(NextRun {
                task: "a".into(),
                at: at("2026-03-08T11:00:00Z"),
            }),
            running: 0,
            waiting: 0,
            max_parallel: None,
        };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["started"], "2026-03-08T10:00:00.25Z");
        assert_eq!(json["loaded"], "2026-03-08T10:00:01Z");
        assert_eq!(json["next"]["at"], "2026-03-08T11:00:00Z");
        assert_eq!(
            serde_json::from_value::<DaemonStatus>(json).unwrap(),
            status
        );
    }

    #[test]
    fn a_client_talks_to_a_server_over_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("kron.sock");
        assert!(matches!(
            request(&socket, &Request::Ping),
            Err(IpcError::NotRunning { .. })
        ));
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            for answer in [
                Response::Pong {
                    pid: 7,
                    task_file: "/t".into(),
                },
                Response::Error {
                    message: "no".into(),
                },
            ] {
                let (stream, _) = listener.accept().unwrap();
                let mut line = Vec::new();
                BufReader::new(&stream)
                    .read_until(b'\n', &mut line)
                    .unwrap();
                assert_eq!(decode_request(&line[..line.len() - 1]), Ok(Request::Ping));
                (&stream).write_all(&encode_response(&answer)).unwrap();
            }
        });
        assert_eq!(
            request(&socket, &Request::Ping).unwrap(),
            Response::Pong {
                pid: 7,
                task_file: "/t".into()
            }
        );
        assert!(matches!(request(&socket, &Request::Ping), Err(IpcError::Refused(m)) if m == "no"));
        server.join().unwrap();
    }

    #[test]
    fn only_the_daemons_own_user_is_admitted() {
        assert!(admits(1000, 1000).is_ok());
        assert!(admits(0, 0).is_ok());
        for (own, peer) in [(1000, 1001), (1000, 0), (0, 65534)] {
            let e = admits(own, peer).unwrap_err().to_string();
            assert!(
                e.contains(&format!("from uid {peer}")) && e.contains(&format!("only uid {own}")),
                "{e}"
            );
        }
        // A connection of this process's own user, through the kernel.
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(admit(&a).is_ok());
        assert_eq!(peer_uid(&a).unwrap(), nix::unistd::geteuid().as_raw());
    }
}
