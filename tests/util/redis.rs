//! A real Redis in a test: `redis-server` in a temporary directory, on a
//! Unix socket there (or a loopback port, or TLS on one), its data in that
//! directory, so that [`Server::crash`] (SIGKILL) and
//! [`Server::start_again`] (on the same files) are a crash of the server
//! with nothing else lost. The durable setup (`appendonly yes`, `appendfsync always`) unless
//! a test asks for another; `DEBUG` allowed from local connections. Stops
//! what it started when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::DEADLINE;
use super::cluster::Server;

pub struct Redis {
    dir: PathBuf,
    listen: Listen,
    settings: Vec<(String, String)>,
    server: Option<Child>,
    /// Addresses it listens on besides loopback ([`Server::listen_on`]),
    /// and the TCP port it listens on there.
    also: Vec<String>,
    port: Option<u16>,
}

/// Where the server listens.
enum Listen {
    Socket,
    Port(u16),
    /// TLS on this port, with the test CA's certificate at `ca.pem`.
    Tls(u16),
}

impl Redis {
    /// The durable setup on a Unix socket, or `None` (the test is skipped,
    /// saying so) when `redis-server` is not installed; `.ci/run` installs
    /// it.
    pub fn start() -> Option<Redis> {
        Redis::start_with(&[])
    }

    /// The durable setup with some settings changed (`("appendfsync",
    /// "everysec")`).
    pub fn start_with(settings: &[(&str, &str)]) -> Option<Redis> {
        Redis::launch(Listen::Socket, settings)
    }

    /// On a loopback port rather than a socket.
    pub fn on_port(settings: &[(&str, &str)]) -> Option<Redis> {
        Redis::launch(Listen::Port(free_port()), settings)
    }

    /// TLS on a loopback port, with a certificate for `localhost` and
    /// 127.0.0.1 from a CA of the test's ([`Redis::ca`]); `None` also when
    /// `openssl` is missing to make them.
    pub fn with_tls() -> Option<Redis> {
        if Command::new("openssl").arg("version").output().is_err() {
            eprintln!("skipped: openssl is not installed to make the test's certificates");
            return None;
        }
        Redis::launch(Listen::Tls(free_port()), &[])
    }

    fn launch(listen: Listen, settings: &[(&str, &str)]) -> Option<Redis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: redis-server is not installed");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("kron-redis-")
            .tempdir()
            .unwrap()
            .keep();
        let mut all: Vec<(String, String)> = [
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            ("save", ""),
            ("enable-debug-command", "local"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (key, value) in settings {
            all.retain(|(k, _)| k != key);
            all.push((key.to_string(), value.to_string()));
        }
        let port = match listen {
            Listen::Socket => None,
            Listen::Port(port) | Listen::Tls(port) => Some(port),
        };
        let mut redis = Redis {
            dir,
            listen,
            settings: all,
            server: None,
            also: Vec::new(),
            port,
        };
        if let Listen::Tls(_) = redis.listen {
            make_certificates(&redis.dir);
        }
        redis.run_server();
        Some(redis)
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// The test CA's certificate, for `SSL_CERT_FILE`.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn run_server(&mut self) {
        let mut command = Command::new("redis-server");
        let bind = std::iter::once("127.0.0.1".to_string())
            .chain(self.also.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        command
            .args(["--dir", self.dir.to_str().unwrap()])
            .args(["--logfile", self.dir.join("server.log").to_str().unwrap()])
            .args(["--daemonize", "no", "--bind", &bind]);
        if !self.also.is_empty() {
            // Clients come from the test's own links, without a password.
            command.args(["--protected-mode", "no"]);
        }
        match self.listen {
            Listen::Socket => {
                let port = self.port.unwrap_or(0).to_string();
                command
                    .args(["--port", &port, "--unixsocket"])
                    .arg(self.socket())
                    .args(["--unixsocketperm", "700"]);
            }
            Listen::Port(port) => {
                command.args(["--port", &port.to_string()]);
            }
            Listen::Tls(port) => {
                let file = |name: &str| self.dir.join(name).to_str().unwrap().to_string();
                command
                    .args(["--port", "0", "--tls-port", &port.to_string()])
                    .args(["--tls-cert-file", &file("server.pem")])
                    .args(["--tls-key-file", &file("server.key")])
                    .args(["--tls-ca-cert-file", &file("ca.pem")])
                    .args(["--tls-auth-clients", "no"]);
            }
        }
        for (key, value) in &self.settings {
            command.arg(format!("--{key}")).arg(value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.server = Some(child);
        let started = Instant::now();
        // Answering (not LOADING while it replays the append-only file;
        // one that wants a password answers NOAUTH).
        let up = |reply: Result<String, String>| match reply {
            Ok(pong) => pong == "PONG",
            Err(e) => e.contains("NOAUTH"),
        };
        while !up(self.query(&["PING"])) {
            assert!(
                started.elapsed() < DEADLINE,
                "redis-server did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// A client connection, through the crate kron uses.
    pub fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let client = match self.listen {
            Listen::Tls(port) => {
                let ca = std::fs::read(self.ca()).unwrap();
                redis::Client::build_with_tls(
                    format!("rediss://localhost:{port}/0"),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(ca),
                    },
                )?
            }
            _ => redis::Client::open(self.address())?,
        };
        let connection = client.get_connection_with_timeout(Duration::from_secs(5))?;
        connection.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(connection)
    }

    /// One command's reply as text (`PONG`, a value), or the error.
    pub fn query(&self, args: &[&str]) -> Result<String, String> {
        let mut connection = self.connect().map_err(|e| e.to_string())?;
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        let value: redis::Value = command.query(&mut connection).map_err(|e| e.to_string())?;
        Ok(text(&value))
    }

    /// Sends one command without waiting for its reply (`DEBUG SLEEP`),
    /// on a connection of its own that lives as long as the thread.
    pub fn send(&self, args: &[&str]) -> std::thread::JoinHandle<()> {
        let mut connection = self.connect().expect("a connection");
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        std::thread::spawn(move || {
            let mut command = redis::cmd(&args[0]);
            for arg in &args[1..] {
                command.arg(arg);
            }
            let _: redis::RedisResult<redis::Value> = command.query(&mut connection);
        })
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A reply as text: a string as itself, a list one item per line.
fn text(value: &redis::Value) -> String {
    match value {
        redis::Value::Nil => String::new(),
        redis::Value::Int(n) => n.to_string(),
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Okay => "OK".into(),
        redis::Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join("\n"),
        other => format!("{other:?}"),
    }
}

impl Server for Redis {
    fn address(&self) -> String {
        match self.listen {
            Listen::Socket => format!("redis+unix://{}", self.socket().display()),
            Listen::Port(port) => format!("redis://127.0.0.1:{port}/0"),
            Listen::Tls(port) => format!("rediss://localhost:{port}/0"),
        }
    }

    /// `kill -9` of the server; it stays down.
    fn crash(&mut self) {
        self.stop();
    }

    /// A start on the same data directory, at the same address.
    fn start_again(&mut self) {
        self.run_server();
    }

    /// Listens on a TCP port at `ips` too (a socket server gets one), from
    /// a restart on.
    fn listen_on(&mut self, ips: &[&str]) {
        self.also = ips.iter().map(|ip| ip.to_string()).collect();
        self.port.get_or_insert_with(free_port);
        self.restart_immediate();
    }

    fn address_at(&self, ip: &str) -> String {
        let port = self.port.expect("listen_on gave it a port");
        match self.listen {
            Listen::Tls(_) => format!("rediss://{ip}:{port}/0"),
            _ => format!("redis://{ip}:{port}/0"),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A CA, and a certificate it signed for `localhost` and 127.0.0.1.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    let words =
        |text: String| -> Vec<String> { text.split_whitespace().map(str::to_string).collect() };
    let run_words = |text: String| {
        let words = words(text);
        run(&words.iter().map(String::as_str).collect::<Vec<_>>());
    };
    run_words(format!(
        "req -x509 {key} -keyout ca.key -out ca.pem -days 2 -subj /CN=kron-test-ca"
    ));
    run_words(format!(
        "req {key} -keyout server.key -out server.csr -subj /CN=localhost"
    ));
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run_words(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
         -days 2 -extfile san.ext"
            .to_string(),
    );
}
