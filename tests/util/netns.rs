//! A network a test creates for itself: a network namespace joined to the
//! machine's by a veth pair on addresses from 198.18.0.0/15 (reserved for
//! benchmarks, so that no real network uses them). A host run in it
//! reaches a server listening on [`Link::outside`]; [`Link::cut`] takes
//! the link down, as a partition would. Dropped, the namespace and the
//! pair are deleted.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(1);

pub struct Link {
    /// The namespace's name, for `ip netns exec`.
    pub ns: String,
    veth: String,
    /// The machine's side of the pair.
    pub outside: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Link {
    /// A new namespace and link, or `None` (the test is skipped, saying
    /// so) where namespaces cannot be made (not root, no `ip`).
    pub fn new() -> Option<Link> {
        let probe = Command::new("ip").args(["netns", "list"]).output();
        if !nix::unistd::geteuid().is_root() || !probe.is_ok_and(|o| o.status.success()) {
            eprintln!("skipped: network namespaces need root and ip(8)");
            return None;
        }
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{n}", std::process::id() % 100_000);
        // A /24 per test process (by its pid), a /30 per link in it:
        // test processes running side by side do not share addresses.
        let net = std::process::id() % 250;
        let host = (n % 63) * 4;
        let link = Link {
            ns: format!("kron-test-{id}"),
            veth: format!("kv{id}"),
            outside: format!("198.18.{net}.{}", host + 1),
        };
        let inside = format!("198.18.{net}.{}", host + 2);
        let peer = format!("{}p", link.veth);
        ip(&["netns", "add", &link.ns]);
        ip(&[
            "link", "add", &link.veth, "type", "veth", "peer", "name", &peer,
        ]);
        ip(&["link", "set", &peer, "netns", &link.ns]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", link.outside),
            "dev",
            &link.veth,
        ]);
        ip(&["link", "set", &link.veth, "up"]);
        let exec = ["netns", "exec", &link.ns, "ip"];
        let inside_ip = |args: &[&str]| {
            let all: Vec<&str> = exec.iter().chain(args).copied().collect();
            ip(&all);
        };
        inside_ip(&["addr", "add", &format!("{inside}/30"), "dev", &peer]);
        inside_ip(&["link", "set", &peer, "up"]);
        inside_ip(&["link", "set", "lo", "up"]);
        Some(link)
    }

    /// The partition: the machine's end of the link goes down.
    pub fn cut(&self) {
        ip(&["link", "set", &self.veth, "down"]);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .output();
    }
}
