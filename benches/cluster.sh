#!/usr/bin/env bash
# What the cluster costs and whether it keeps its word (issue 14's targets):
#
# 1. latency: firing latency of a task due each second, from the instant
#    to the command's `date`, on one host without [cluster] and on 3 hosts
#    claiming each occurrence (target: median at most 5 ms above the
#    single host);
# 2. burst: 1,000 tasks due at the same second, on one host without
#    [cluster] and on 3 hosts (target: every occurrence run exactly once,
#    the last start within 2x the single host's);
# 3. soak: 3 hosts running a mix of `once` and `retry` tasks for
#    SOAK_SECONDS while a random host is killed (and restarted), stopped
#    for twice the lease (SIGSTOP, then SIGCONT) or, as root, cut off from
#    the database (its network namespace's link down, then up); reports
#    occurrences, duplicates under `once` (target 0), token order under
#    `retry`, abandoned and missed ones.
#
# The backend runs on this machine: PostgreSQL on a Unix socket (and, for
# partitions, on addresses of test links in 198.19.0.0/16), as the
# `postgres` user when run as root; redis-server on a Unix socket with
# appendonly yes and appendfsync always. Hosts are daemons with their own XDG
# directories, each in a PID namespace when run as root (so that a kill is
# the whole host's), like the integration tests' hosts.
#
# Usage: benches/cluster.sh [path/to/kron]
# Environment: ONLY=latency, burst or soak; FIRINGS (default 60);
# SOAK_SECONDS (default 1800); LEASE (default 6s); BACKEND=postgres,redis
# (the default: both, one after the other) or one of them.
set -euo pipefail
cd "$(dirname "$0")/.."
kron=${1:-target/release/kron}
[ -x "$kron" ] || cargo build --release --quiet
export KRON_BIN=$(realpath "$kron")
command -v initdb > /dev/null || export PATH=$PATH:$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)
exec python3 - <<'PY'
import json, os, random, shutil, signal, statistics, subprocess, sys, tempfile, time

KRON = os.environ["KRON_BIN"]
ONLY = os.environ.get("ONLY", "")
FIRINGS = int(os.environ.get("FIRINGS", "60"))
SOAK = int(os.environ.get("SOAK_SECONDS", "1800"))
LEASE = os.environ.get("LEASE", "6s")
BACKENDS = os.environ.get("BACKEND", "postgres,redis")
ROOT = os.geteuid() == 0
top = tempfile.mkdtemp(prefix="kron-cluster-bench-")
os.chmod(top, 0o755)
cleanups = []


def want(what):
    return not ONLY or ONLY == what


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def as_postgres(*args):
    return ("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups") + args if ROOT else args


class Postgres:
    def __init__(self):
        self.dir = os.path.join(top, "pg")
        os.mkdir(self.dir)
        if ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
        sh(*as_postgres("initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "kron", "--no-sync", "-E", "UTF8"))
        self.listen = []
        self.proc = None
        self.start()

    def start(self):
        if self.listen:
            with open(f"{self.dir}/data/pg_hba.conf", "a") as f:
                f.write("host all all 198.18.0.0/15 trust\n")
        log = open(f"{self.dir}/server.log", "a")
        self.proc = subprocess.Popen(
            as_postgres("postgres", "-D", f"{self.dir}/data", "-k", self.dir,
                        "-c", f"listen_addresses={','.join(self.listen)}", "-c", "max_connections=500"),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        for _ in range(600):
            if subprocess.run(["psql", "-h", self.dir, "-U", "kron", "-d", "postgres", "-Atc", "SELECT 1"],
                              capture_output=True).returncode == 0:
                return
            time.sleep(0.05)
        sys.exit("postgres did not start")

    def restart(self):
        self.stop()
        self.start()

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGQUIT)
            self.proc.wait()
            self.proc = None

    def address(self, ip=None):
        return f"host={ip or self.dir} user=kron dbname=postgres"


class Redis:
    """redis-server on a Unix socket, appendonly yes and appendfsync always
    (the setup whose claims survive a crash)."""

    def __init__(self):
        self.dir = os.path.join(top, "redis")
        os.mkdir(self.dir)
        self.listen = []
        # On the links only (partitions), away from a system Redis's 6379.
        self.port = 20000 + os.getpid() % 10000
        self.proc = None
        self.start()

    def start(self):
        bind = " ".join(["127.0.0.1"] + self.listen)
        log = open(f"{self.dir}/server.log", "a")
        self.proc = subprocess.Popen(
            ["redis-server", "--dir", self.dir, "--port", "0", "--unixsocket", f"{self.dir}/redis.sock",
             "--unixsocketperm", "700", "--bind", bind, "--appendonly", "yes", "--appendfsync", "always",
             "--save", ""] + (["--port", str(self.port), "--protected-mode", "no"] if self.listen else []),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        for _ in range(600):
            if subprocess.run(["redis-cli", "-s", f"{self.dir}/redis.sock", "ping"],
                              capture_output=True, text=True).stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        sys.exit("redis-server did not start")

    def restart(self):
        self.stop()
        self.start()

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def address(self, ip=None):
        return f"redis://{ip}:{self.port}/0" if ip else f"redis+unix://{self.dir}/redis.sock"


class Link:
    """A network namespace joined to this one by a veth pair."""
    count = 0

    def __init__(self):
        Link.count += 1
        n = Link.count
        self.ns, self.veth = f"kron-bench-{os.getpid()}-{n}", f"kb{os.getpid() % 10000}{n}"
        # A /24 per bench process, a /30 per link: two benches side by side
        # do not share addresses.
        net, host = os.getpid() % 250, (n % 63) * 4
        self.outside, inside = f"198.19.{net}.{host + 1}", f"198.19.{net}.{host + 2}"
        peer = self.veth + "p"
        sh("ip", "netns", "add", self.ns)
        cleanups.append(lambda: sh("ip", "netns", "del", self.ns, check=False))
        sh("ip", "link", "add", self.veth, "type", "veth", "peer", "name", peer)
        cleanups.append(lambda: sh("ip", "link", "del", self.veth, check=False))
        sh("ip", "link", "set", peer, "netns", self.ns)
        sh("ip", "addr", "add", f"{self.outside}/30", "dev", self.veth)
        sh("ip", "link", "set", self.veth, "up")
        for args in (("addr", "add", f"{inside}/30", "dev", peer), ("link", "set", peer, "up"), ("link", "set", "lo", "up")):
            sh("ip", "netns", "exec", self.ns, "ip", *args)

    def set(self, up):
        sh("ip", "link", "set", self.veth, "up" if up else "down")


class Host:
    def __init__(self, name, link=None):
        self.name, self.link = name, link
        self.dir = os.path.join(top, name)
        self.env = dict(os.environ, HOME=f"{self.dir}/home", XDG_CONFIG_HOME=f"{self.dir}/config",
                        XDG_STATE_HOME=f"{self.dir}/state", XDG_RUNTIME_DIR=f"{self.dir}/runtime",
                        KRON_NO_AUTOSTART="1", TZ="UTC")
        for d in ("home", "config/kron", "state", "runtime"):
            os.makedirs(f"{self.dir}/{d}", mode=0o700, exist_ok=True)
        self.proc = None
        cleanups.append(self.kill)

    def write(self, text):
        path = f"{self.dir}/config/kron/tasks.toml"
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.chmod(path + ".tmp", 0o600)
        os.rename(path + ".tmp", path)

    def kron(self, *args):
        return subprocess.run((KRON,) + args, env=self.env, capture_output=True, text=True)

    def start(self):
        log = open(f"{self.dir}/daemon.log", "a")
        cmd = [KRON, "daemon", "run"]
        if ROOT:
            cmd = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "--"] + cmd
            if self.link:
                cmd = ["ip", "netns", "exec", self.link.ns] + cmd
        self.proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        for _ in range(600):
            out = self.kron("daemon", "status")
            if out.returncode == 0 and "not answering" not in out.stdout:
                return
            time.sleep(0.05)
        sys.exit(f"{self.name}: the daemon did not start")

    def init(self):
        if not self.proc:
            return None
        if not ROOT:
            return self.proc.pid
        try:
            return int(open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    def processes(self):
        init = self.init()
        if not ROOT or init is None:
            return [init] if init else []
        ns = os.readlink(f"/proc/{init}/ns/pid")
        found = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    if os.readlink(f"/proc/{p}/ns/pid") == ns:
                        found.append(int(p))
                except OSError:
                    pass
        return found

    def stop(self):
        init = self.init()
        if init:
            os.kill(init, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def kill(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def freeze(self):
        for _ in range(2):
            for p in self.processes():
                try:
                    os.kill(p, signal.SIGSTOP)
                except ProcessLookupError:
                    pass  # it ended meanwhile

    def thaw(self):
        for p in self.processes() + ([self.proc.pid] if self.proc else []):
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass


def cluster_table(host, address):
    return f'[cluster]\nbackend = "{address}"\nnode = "{host.name}"\nlease = "{LEASE}"\n\n'


def task(name, schedule, command, extra=""):
    return f'[tasks.{name}]\nschedule = "{schedule}"\ncommand = {json.dumps(command)}\ntimezone = "UTC"\nkill_grace = "1s"\n{extra}\n'


def wait_for(what, ok, limit=120):
    end = time.time() + limit
    while not ok():
        if time.time() > end:
            sys.exit(f"timed out: {what}")
        time.sleep(0.2)


def lines(path):
    try:
        return [l.split() for l in open(path) if l.strip()]
    except FileNotFoundError:
        return []


def latency_of(times):
    ms = sorted((float(t) % 1) * 1000 for t in times)
    return f"median {statistics.median(ms):.2f} ms, p90 {ms[int(len(ms) * 0.9) - 1]:.2f} ms, max {ms[-1]:.2f} ms"


def main():
    print(f"kron: {sh(KRON, '--version').stdout.strip()}, {os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}")
    backends = [b for b in BACKENDS.split(",") if b]
    for name in backends:
        if name == "postgres":
            db = Postgres()
            version = sh("postgres", "--version").stdout.strip()
        elif name == "redis":
            db = Redis()
            version = sh("redis-server", "--version").stdout.split()[2]
        else:
            sys.exit(f"unknown backend {name}")
        cleanups.append(db.stop)
        print(f"\n== backend: {version}, Unix socket; lease {LEASE}")
        measure(db, name)
        db.stop()


def measure(pg, name):

    if want("latency"):
        out = os.path.join(top, f"{name}-lat-single")
        solo = Host(f"{name}-solo")
        solo.write(task("probe", "* * * * * *", f"date +%s.%N >> {out}"))
        solo.start()
        wait_for("single-host firings", lambda: len(lines(out)) > FIRINGS, FIRINGS * 3)
        solo.stop()
        single = [l[0] for l in lines(out)[1:FIRINGS + 1]]
        out = os.path.join(top, f"{name}-lat-cluster")
        hosts = [Host(f"{name}-lat-{i}") for i in range(3)]
        for h in hosts:
            h.write(cluster_table(h, pg.address()) + task("probe", "* * * * * *", f"echo $KRON_OCCURRENCE $(date +%s.%N) >> {out}"))
            h.start()
        wait_for("cluster firings", lambda: len(lines(out)) > FIRINGS + 2, FIRINGS * 3)
        for h in hosts:
            h.stop()
        rows = lines(out)[2:FIRINGS + 2]
        occ = [r[0] for r in lines(out)]
        print(f"latency, {FIRINGS} firings (instant to the command's `date`):")
        print(f"  one host, no [cluster]:   {latency_of(single)}")
        print(f"  3 hosts, each claimed:    {latency_of([r[1] for r in rows])}; "
              f"{len(occ) - len(set(occ))} occurrence(s) run twice")

    if want("burst"):
        def burst(hosts, cluster):
            out = os.path.join(top, f"{name}-burst-times-{len(hosts)}")
            due = int(time.time()) + 10
            for h in hosts:
                text = cluster_table(h, pg.address()) if cluster else ""
                text += "".join(task(f"b{i}", f"{due % 60} {due // 60 % 60} {due // 3600 % 24} * * *",
                                     f"echo b{i} $(date +%s.%N) $KRON_NODE >> {out}")
                                for i in range(1000))
                h.write(text)
                h.start()
            end = time.time() + 60
            while len(lines(out)) < 1000 and time.time() < end:
                time.sleep(0.2)
            time.sleep(2)
            for h in hosts:
                h.stop()
            rows = lines(out)
            starts = sorted(float(r[1]) for r in rows)
            occ = [r[0] for r in rows]
            return len(set(occ)), len(occ) - len(set(occ)), starts[-1] - due, starts[len(starts) // 2] - due
        print("burst of 1,000 tasks due at the same second:")
        n, dup, last, half = burst([Host(f"{name}-burst-solo")], False)
        print(f"  one host, no [cluster]: {n} run, the last started {last * 1000:.0f} ms after the instant (half within {half * 1000:.0f} ms)")
        single = last
        hosts = [Host(f"{name}-burst-{i}") for i in range(3)]
        n, dup, last, half = burst(hosts, True)
        outcomes = {}
        for h in hosts:
            for f in os.listdir(f"{h.dir}/state/kron/history"):
                if f.endswith(".jsonl"):
                    for l in open(f"{h.dir}/state/kron/history/{f}"):
                        o = json.loads(l)["outcome"]
                        outcomes[o] = outcomes.get(o, 0) + 1
        print(f"  3 hosts, each claimed:  {n} of 1000 run within 60 s, {dup} twice; the last started {last * 1000:.0f} ms "
              f"after the instant (half within {half * 1000:.0f} ms): {last / single:.2f}x the single host; "
              f"local records: {', '.join(f'{c} {o}' for o, c in sorted(outcomes.items()))}")

    if want("soak"):
        links = []
        if ROOT and shutil.which("ip"):
            links = [Link() for _ in range(3)]
            pg.listen = [l.outside for l in links]
            pg.restart()
        hosts = [Host(f"{name}-soak-{i}", links[i] if links else None) for i in range(3)]
        witness = os.path.join(top, f"{name}-soak-witness")
        text = ""
        for i in range(12):
            mode = "once" if i % 2 == 0 else "retry"
            every = 2 + i % 4
            text += task(f"s{i}", f"*/{every} * * * * *",
                         f"echo $KRON_NODE $KRON_OCCURRENCE $KRON_FENCING_TOKEN >> {witness}; sleep {i % 3}",
                         f'cluster = "{mode}"\noverlap = "allow"\n')
        for h in hosts:
            h.write(cluster_table(h, pg.address(h.link.outside) if h.link else pg.address()) + text)
            h.start()
        random.seed(14)
        lease = float(LEASE.rstrip("s"))
        faults = {"kill": 0, "pause": 0, "partition": 0}
        start = time.time()
        while time.time() - start < SOAK:
            time.sleep(random.uniform(5, 15))
            h = random.choice(hosts)
            kinds = ["kill", "pause"] + (["partition"] if links else [])
            kind = random.choice(kinds)
            faults[kind] += 1
            if kind == "kill":
                h.kill()
                time.sleep(random.uniform(1, lease))
                h.start()
            elif kind == "pause":
                h.freeze()
                time.sleep(2 * lease)
                h.thaw()
            else:
                h.link.set(False)
                time.sleep(random.uniform(lease, 2 * lease))
                h.link.set(True)
        end = time.time()
        time.sleep(3 * lease)
        for h in hosts:
            h.stop()
        ledger = json.loads(hosts[0].kron("history", "--cluster", "--json", "-n", "1000000").stdout)
        seen = lines(witness)
        starts = {}
        for node, occ, token in seen:
            starts.setdefault(occ, []).append(int(token))
        states = {}
        for row in ledger:
            states[row["state"]] = states.get(row["state"], 0) + 1
        once = {f"s{i}" for i in range(0, 12, 2)}
        dup_once = [o for o, t in starts.items() if o.split("@")[0] in once and len(t) > 1]
        disorder = [o for o, t in starts.items() if any(b <= a for a, b in zip(t, t[1:]))]
        reruns = sum(len(t) - 1 for o, t in starts.items() if o.split("@")[0] not in once)
        print(f"soak, {end - start:.0f} s on 3 hosts, 12 tasks (6 once, 6 retry), faults: "
              + ", ".join(f"{n} {k}" for k, n in faults.items()))
        print(f"  occurrences in the ledger: {len(ledger)} ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))})")
        print(f"  started: {len(starts)} occurrences, {len(seen)} starts; under once run twice: {len(dup_once)}; "
              f"retry re-runs: {reruns}; token order broken: {len(disorder)}")


try:
    main()
finally:
    for c in reversed(cleanups):
        try:
            c()
        except Exception:
            pass
    if os.environ.get("KEEP"):
        print(f"kept {top}")
    else:
        shutil.rmtree(top, ignore_errors=True)
PY
