//! A cluster in a test: a backend server ([`Server`]), such as a real
//! PostgreSQL ([`Postgres`]: `initdb` into a temporary directory,
//! `postgres` on a Unix socket there, run as the unprivileged `postgres`
//! user when the tests run as root, which PostgreSQL requires), and hosts ([`Host`]: a daemon with its own XDG
//! directories and node name, in a PID namespace of its own, so that "the
//! host dies" is one SIGKILL that takes every process on it). Both stop
//! what they started when dropped.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{DEADLINE, Env};

/// A backend server a test started: what the cluster tests need of it, so
/// that one test body runs against each backend.
pub trait Server {
    /// The backend address for a task file's `[cluster]`.
    fn address(&self) -> String;
    /// Kills the server with no clean shutdown; it stays down.
    fn crash(&mut self);
    /// Starts the server again on the same data, at the same address.
    fn start_again(&mut self);
    fn restart_immediate(&mut self) {
        self.crash();
        self.start_again();
    }
    /// Listens on these addresses too (the machine's ends of test links),
    /// from now on: restarts the server.
    fn listen_on(&mut self, ips: &[&str]);
    /// The address of the server at `ip`, one of those it listens on.
    fn address_at(&self, ip: &str) -> String;
}

pub struct Postgres {
    dir: PathBuf,
    server: Option<Child>,
    settings: Vec<String>,
}

/// Runs `command` as the `postgres` user when we are root.
fn as_postgres(program: &str) -> Command {
    if nix::unistd::geteuid().is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            program,
        ]);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// A fresh server, or `None` (the test is skipped, saying so) when
    /// PostgreSQL is not installed; `.ci/run` installs it.
    pub fn start() -> Option<Postgres> {
        Postgres::start_with(&[], false)
    }

    /// A fresh server with these `-c` settings; a standby (in recovery,
    /// read-only) when `standby`.
    pub fn start_with(settings: &[&str], standby: bool) -> Option<Postgres> {
        if Command::new("initdb").arg("--version").output().is_err() {
            eprintln!("skipped: PostgreSQL's initdb is not installed");
            return None;
        }
        // Not under the test's private directory: the server's user must
        // reach it.
        let dir = tempfile::Builder::new()
            .prefix("kron-pg-")
            .tempdir()
            .unwrap()
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        if nix::unistd::geteuid().is_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres", dir.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        let out = as_postgres("initdb")
            .args(["-D", dir.join("data").to_str().unwrap()])
            .args(["-A", "trust", "-U", "kron", "--no-sync", "-E", "UTF8"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if standby {
            std::fs::write(dir.join("data/standby.signal"), "").unwrap();
        }
        let settings = settings.iter().map(|s| s.to_string()).collect();
        let mut pg = Postgres {
            dir,
            server: None,
            settings,
        };
        pg.run_server();
        Some(pg)
    }

    /// Serves TLS on `ip` (port 5432, on the loopback) with `cert` and
    /// `key` (PEM files), and only TLS over the loopback, whose clients
    /// come from 127.0.0.1: restarts the server.
    pub fn serve_tls(&mut self, ip: &str, cert: &Path, key: &Path) {
        let hba = self.dir.join("data/pg_hba.conf");
        let text = std::fs::read_to_string(&hba).unwrap();
        // The first line that matches counts.
        let text = format!(
            "hostnossl all all 127.0.0.0/8 reject\nhostssl all all 127.0.0.0/8 trust\n{text}"
        );
        std::fs::write(&hba, text).unwrap();
        self.settings.extend([
            "ssl=on".to_string(),
            format!("ssl_cert_file={}", cert.display()),
            format!("ssl_key_file={}", key.display()),
            format!("listen_addresses={ip}"),
        ]);
        self.restart_immediate();
    }

    fn run_server(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .unwrap();
        let child = as_postgres("postgres")
            .args(["-D", self.dir.join("data").to_str().unwrap()])
            .args(["-k", self.dir.to_str().unwrap()])
            .args(["-c", "listen_addresses=", "-c", "max_connections=200"])
            .args(self.settings.iter().flat_map(|s| ["-c", s]))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        self.server = Some(child);
        let started = Instant::now();
        loop {
            let ok = Command::new("psql")
                .args([
                    "-h",
                    self.dir.to_str().unwrap(),
                    "-U",
                    "kron",
                    "-d",
                    "postgres",
                ])
                .args(["-Atc", "SELECT 1"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "postgres did not start:\n{}",
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT);
            let _ = child.wait();
        }
    }
}

impl Server for Postgres {
    fn address(&self) -> String {
        format!("host={} user=kron dbname=postgres", self.dir.display())
    }

    /// Stops the server as `pg_ctl -m immediate` does (SIGQUIT: no
    /// checkpoint, crash recovery at the next start).
    fn crash(&mut self) {
        self.stop();
    }

    fn start_again(&mut self) {
        self.run_server();
    }

    fn listen_on(&mut self, ips: &[&str]) {
        let hba = self.dir.join("data/pg_hba.conf");
        let mut text = std::fs::read_to_string(&hba).unwrap();
        text.push_str("host all all 198.18.0.0/15 trust\n");
        std::fs::write(&hba, text).unwrap();
        // The last -c of a setting is the one that counts.
        self.settings
            .push(format!("listen_addresses={}", ips.join(",")));
        self.restart_immediate();
    }

    fn address_at(&self, ip: &str) -> String {
        format!("host={ip} user=kron dbname=postgres")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One host: its environment, and its daemon in a PID namespace.
pub struct Host {
    pub env: Env,
    pub node: String,
    daemon: Option<Child>,
    log: PathBuf,
    /// The network namespace the host runs in, and the backend's address
    /// from there.
    net: Option<(String, String)>,
}

impl Host {
    pub fn new(node: &str) -> Host {
        let env = Env::new();
        let log = env.path().join("daemon.log");
        Host {
            env,
            node: node.into(),
            daemon: None,
            log,
            net: None,
        }
    }

    /// A host in `link`'s network namespace, which reaches `server` on
    /// the link only.
    pub fn behind(node: &str, link: &super::netns::Link, server: &dyn Server) -> Host {
        let mut host = Host::new(node);
        host.net = Some((link.ns.clone(), server.address_at(&link.outside)));
        host
    }

    /// The task file: a `[cluster]` table naming this node, then `tasks`.
    pub fn write_tasks(&self, server: &dyn Server, lease: &str, tasks: &str) {
        self.env.write_task_file(&format!(
            "[cluster]\nbackend = \"{}\"\nnode = \"{}\"\nlease = \"{lease}\"\n\n{tasks}",
            self.net
                .as_ref()
                .map_or_else(|| server.address(), |(_, a)| a.clone()),
            self.node
        ));
    }

    /// Starts the daemon as PID 1 of a new PID namespace (`unshare`
    /// kills it, and so the whole namespace, when it dies itself).
    pub fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Starts the daemon (see [`Host::start`]) with these variables set
    /// too, which its supervisors inherit.
    pub fn start_with(&mut self, vars: &[(&str, &str)]) {
        let file = std::fs::File::create(&self.log).unwrap();
        let template = self.env.kron(&[]).into_command();
        let mut command = match &self.net {
            Some((ns, _)) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "unshare"]);
                c
            }
            None => Command::new("unshare"),
        };
        command
            .args(["--pid", "--fork", "--mount-proc", "--kill-child", "--"])
            .arg(env!("CARGO_BIN_EXE_kron"))
            .args(["daemon", "run"])
            .env_clear();
        for (key, value) in template.get_envs() {
            if let Some(value) = value {
                command.env(key, value);
            }
        }
        command.envs(vars.iter().copied());
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        self.daemon = Some(command.spawn().expect("unshare starts"));
        let started = Instant::now();
        loop {
            let out = self.env.kron(&["daemon", "status"]).output();
            if out.output.status.code() == Some(0) && !out.stdout().contains("not answering") {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{}'s daemon did not answer: {}\n{}",
                self.node,
                out.stdout(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The host dies: SIGKILL to `unshare`, whose death kills the
    /// namespace's PID 1 and so every process in it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the daemon as a shutdown would (SIGTERM), which ends the
    /// namespace and whatever still runs in it. The signal goes to the
    /// daemon itself: `unshare` ignores SIGTERM while it waits for it.
    pub fn stop(&mut self) {
        if let Some(init) = self.init() {
            let _ = nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGTERM);
        }
        if let Some(mut child) = self.daemon.take() {
            let started = Instant::now();
            while child.try_wait().unwrap().is_none() && started.elapsed() < DEADLINE {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The daemon: the namespace's PID 1, `unshare`'s child.
    fn init(&self) -> Option<nix::unistd::Pid> {
        let unshare = self.daemon.as_ref()?.id();
        let children =
            std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).ok()?;
        let pid = children.split_whitespace().next()?.parse().ok()?;
        Some(nix::unistd::Pid::from_raw(pid))
    }

    /// Every process on the host: those in the PID namespace of the
    /// daemon, which is `unshare`'s child.
    fn processes(&self) -> Vec<nix::unistd::Pid> {
        let Some(init) = self.init() else {
            return Vec::new();
        };
        let Ok(ns) = std::fs::read_link(format!("/proc/{init}/ns/pid")) else {
            return Vec::new();
        };
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|l| l == ns))
            .map(nix::unistd::Pid::from_raw)
            .collect()
    }

    /// The host stops, as a paused VM does: SIGSTOP to every process on
    /// it (twice, for one that forked meanwhile).
    pub fn freeze(&self) {
        for _ in 0..2 {
            for pid in self.processes() {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP);
            }
        }
    }

    /// The host goes on: SIGCONT to every process on it, and to `unshare`,
    /// which stops itself when its child stops (as a shell would).
    pub fn thaw(&self) {
        let unshare = self
            .daemon
            .as_ref()
            .map(|c| nix::unistd::Pid::from_raw(c.id() as i32));
        for pid in self.processes().into_iter().chain(unshare) {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT);
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The host's local history of `task`.
    pub fn history(&self, task: &str) -> Vec<serde_json::Value> {
        super::history(&self.env, task)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The witness lines the tasks' commands appended: `NODE OCCURRENCE TOKEN`.
pub fn witnesses(path: &Path) -> Vec<(String, String, i64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((
                words.next()?.to_string(),
                words.next()?.to_string(),
                words.next()?.parse().ok()?,
            ))
        })
        .collect()
}

/// A command that appends its witness line to `file`, then runs `rest`.
pub fn witness(file: &Path, rest: &str) -> String {
    format!(
        "echo \"$KRON_NODE $KRON_OCCURRENCE $KRON_FENCING_TOKEN\" >> {}; {rest}",
        file.display()
    )
}
