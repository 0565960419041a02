//! The fault injector. Each kind of fault has its own seeded random stream, so a seed reproduces the
//! schedule (when, and which kind); whom it hits depends on who holds leases at that moment.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgmq_chaos::{mono_us, Rng};
use rustix::fd::OwnedFd;
use rustix::process::Pid;
use tokio::process::Command;

use crate::model::{Counters, Store};
use crate::workers::Supervisor;
use crate::workload::sql;

/// Mean seconds between two faults of each kind (exponential inter-arrival times).
#[derive(Clone, Debug)]
pub struct Rates {
    pub kill: f64,
    pub stall: f64,
    pub listen: f64,
    pub work: f64,
}

/// When to restart the server: at these message counts (chaos), or every so often (soak).
#[derive(Clone, Debug)]
pub enum Restarts {
    AtMessages(Vec<u64>),
    Every { min: Duration, max: Duration },
}

/// How a server restart takes the server down; each is followed by a start. A seed picks one per restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartKind {
    /// `pg_ctl restart -m fast`: backends end, a shutdown checkpoint is written, nothing to recover.
    Clean,
    /// `pg_ctl stop -m immediate`, then `pg_ctl start`: the postmaster SIGQUITs its backends and exits
    /// without a checkpoint, so the start runs crash recovery from the WAL.
    Immediate,
    /// SIGKILL of the postmaster and of every process it started (as the OOM killer or `kill -9` would
    /// leave it: nobody gets to clean up), then `pg_ctl start`: crash recovery.
    Sigkill,
}

impl RestartKind {
    const ALL: [RestartKind; 3] = [RestartKind::Clean, RestartKind::Immediate, RestartKind::Sigkill];

    pub fn describe(self) -> &'static str {
        match self {
            RestartKind::Clean => "pg_ctl restart -m fast",
            RestartKind::Immediate => "pg_ctl stop -m immediate, then pg_ctl start (crash recovery)",
            RestartKind::Sigkill => "SIGKILL of the postmaster and every server process, then pg_ctl start (crash recovery)",
        }
    }
}

/// The kind of each restart, from its own seeded stream: the first three are the three kinds in a seeded
/// order (so a run with three restarts or more has each kind at least once), then each is drawn at random.
pub struct RestartKinds {
    rng: Rng,
    first: Vec<RestartKind>,
}

impl RestartKinds {
    pub fn new(seed: u64) -> RestartKinds {
        let mut rng = Rng::new(seed, 15);
        let mut first = RestartKind::ALL.to_vec();
        // Fisher-Yates, popped from the back.
        for i in (1..first.len()).rev() {
            first.swap(i, rng.range(0, i as u64) as usize);
        }
        RestartKinds { rng, first }
    }

    pub fn next_kind(&mut self) -> RestartKind {
        self.first.pop().unwrap_or_else(|| *self.rng.pick(&RestartKind::ALL))
    }
}

/// How to restart the throwaway server (from the variables tests/with-postgres.sh exports).
#[derive(Clone, Debug)]
pub struct PgCtl {
    pub bin: PathBuf,
    pub datadir: PathBuf,
    pub log: PathBuf,
    pub runas: Option<String>,
}

impl PgCtl {
    pub fn from_env() -> Option<PgCtl> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        let runas = var("PGMQ_PG_RUNAS");
        Some(PgCtl {
            bin: var("PGMQ_PG_BIN")?.into(),
            datadir: var("PGMQ_PG_DATADIR")?.into(),
            log: var("PGMQ_PG_LOG")?.into(),
            // PostgreSQL refuses to run as root: as root, run pg_ctl as the cluster's owner.
            runas: runas.filter(|_| rustix::process::geteuid().is_root()),
        })
    }

    /// Takes the server down in this way and starts it again. For a crash, returns when (CLOCK_MONOTONIC
    /// µs) every process of the old server had exited: nothing ran on it after that, and the new one
    /// starts later (`pg_ctl restart` does both at once).
    pub async fn restart(&self, kind: RestartKind) -> Result<Option<i64>, String> {
        // `pg_ctl start` does not read postmaster.opts (only `restart` does): pass the port again.
        let (pid, port) = self.postmaster()?;
        let dead = match kind {
            RestartKind::Clean => {
                self.pg_ctl(&["restart", "-m", "fast", "-w", "-t", "60"]).await?;
                return Ok(None);
            }
            RestartKind::Immediate => {
                // Returns once the postmaster has exited, which it does after its last backend.
                self.pg_ctl(&["stop", "-m", "immediate", "-w", "-t", "60"]).await?;
                mono_us()
            }
            RestartKind::Sigkill => kill_server(pid).await?,
        };
        self.start(&port).await?;
        Ok(Some(dead))
    }

    /// `pg_ctl start -w` on the port the server had. Crash recovery replays the WAL since the last
    /// checkpoint before the server accepts connections, hence the long timeout.
    async fn start(&self, port: &str) -> Result<(), String> {
        self.pg_ctl(&["start", "-w", "-t", "120", "-o", &format!("-p {port}")]).await
    }

    /// The postmaster's pid and port, from the first and fourth lines of postmaster.pid.
    fn postmaster(&self) -> Result<(i32, String), String> {
        let path = self.datadir.join("postmaster.pid");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let lines: Vec<&str> = text.lines().collect();
        let pid = lines.first().and_then(|l| l.trim().parse().ok());
        let port = lines.get(3).map(|l| l.trim().to_owned()).filter(|p| !p.is_empty());
        pid.zip(port).ok_or_else(|| format!("{}: no pid and port in {text:?}", path.display()))
    }

    async fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = match &self.runas {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&pg_ctl);
                c
            }
            None => Command::new(&pg_ctl),
        };
        // -l: without it the server would inherit our stdout, and reading pg_ctl's output to its end
        // would wait for the server to exit.
        cmd.arg(args[0]).arg("-D").arg(&self.datadir).arg("-l").arg(&self.log).args(&args[1..]);
        // The cluster's owner may not be able to read our working directory.
        if let Some(dir) = self.datadir.parent() {
            cmd.current_dir(dir);
        }
        let out = cmd.output().await.map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_ctl {} failed ({}): {}{}",
                args[0],
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }
}

/// SIGKILLs the postmaster `pid` and every process it started, and returns once they have all exited
/// and the postmaster's pid is free: PostgreSQL refuses to start while its lock file names a live
/// process, or while an old backend is still attached to the shared memory. Returns when (CLOCK_MONOTONIC
/// µs) the last one had exited.
async fn kill_server(pid: i32) -> Result<i64, String> {
    use rustix::process::{pidfd_open, pidfd_send_signal, PidfdFlags, Signal};
    let open = |pid: i32| {
        let p = Pid::from_raw(pid).ok_or_else(|| format!("bad pid {pid}"))?;
        pidfd_open(p, PidfdFlags::NONBLOCK).map_err(|e| format!("pidfd_open({pid}): {e}"))
    };
    // Signals go through pidfds, so that a pid reused by then can never be hit.
    let postmaster = open(pid)?;
    // Stopped, the postmaster cannot fork: the list of its children below is then complete (a backend
    // for a client reconnecting right now, an autovacuum worker).
    pidfd_send_signal(&postmaster, Signal::STOP).map_err(|e| format!("SIGSTOP postmaster {pid}: {e}"))?;
    wait_for(Duration::from_secs(10), || proc_stat(pid).is_none_or(|(state, _)| state == 'T'))
        .await
        .map_err(|_| format!("postmaster {pid} did not stop"))?;
    let mut fds = vec![postmaster];
    for child in children(pid) {
        // A child gone since the scan has nothing left to kill.
        if let Ok(fd) = open(child) {
            fds.push(fd);
        }
    }
    for fd in &fds {
        let _ = pidfd_send_signal(fd, Signal::KILL);
    }
    // A pidfd becomes readable when its process exits.
    tokio::task::spawn_blocking(move || await_exits(&fds, Duration::from_secs(30)))
        .await
        .map_err(|e| format!("waiting for the server processes: {e}"))??;
    let dead = mono_us();
    // The backends' exit detaches them from the shared memory; the postmaster must also be reaped (by
    // init, its parent) before its pid stops answering kill(pid, 0), the lock file's test. Nothing
    // signals a reaping to a process that is not the parent: poll.
    let p = Pid::from_raw(pid).ok_or_else(|| format!("bad pid {pid}"))?;
    wait_for(Duration::from_secs(30), || rustix::process::test_kill_process(p).is_err())
        .await
        .map_err(|_| format!("the killed postmaster {pid} was not reaped within 30 s"))?;
    Ok(dead)
}

/// Blocks until every pidfd is readable (its process has exited), for at most `limit` in all.
fn await_exits(fds: &[OwnedFd], limit: Duration) -> Result<(), String> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let deadline = Instant::now() + limit;
    for fd in fds {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = Timespec { tv_sec: left.as_secs() as i64, tv_nsec: left.subsec_nanos().into() };
            match poll(&mut [PollFd::new(fd, PollFlags::IN)], Some(&timeout)) {
                Ok(0) => return Err(format!("a server process outlived SIGKILL for {} s", limit.as_secs())),
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(format!("poll on a pidfd: {e}")),
            }
        }
    }
    Ok(())
}

/// The pids whose parent is `parent`, from /proc/*/stat.
fn children(parent: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| proc_stat(pid).is_some_and(|(_, ppid)| ppid == parent))
        .collect()
}

/// (state, ppid) of a process, from /proc/PID/stat: "PID (COMM) STATE PPID ...", where COMM may hold
/// spaces and parentheses, hence the last ')'.
fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    Some((state, rest.next()?.parse().ok()?))
}

/// Checks `done` every 10 ms until it holds, for at most `limit`. Only for states no event announces.
async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> Result<(), ()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return Err(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

pub struct Injector {
    pub sup: Arc<Supervisor>,
    pub store: Arc<Store>,
    pub dsn: String,
    pub seed: u64,
    pub rates: Rates,
    pub restarts: Restarts,
    pub pg: Option<PgCtl>,
    pub ack_deadline: Duration,
    pub stop: Arc<AtomicBool>,
    pub started: Instant,
    /// "chaos" or "soak": the prefix of its lines.
    pub mode: &'static str,
}

impl Injector {
    /// Starts one task per fault kind; they end once `stop` is set (a stall in progress still ends with
    /// its SIGCONT, a restart in progress with the server up).
    pub fn start(self: Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            tokio::spawn(self.clone().kills()),
            tokio::spawn(self.clone().stalls()),
            tokio::spawn(self.clone().terminations(true)),
            tokio::spawn(self.clone().terminations(false)),
            tokio::spawn(self.clone().restarts()),
        ]
    }

    fn note(&self, what: &str) {
        println!("{}: {:6.1}s fault: {what}", self.mode, self.started.elapsed().as_secs_f64());
    }

    /// Sleeps an exponential time of this mean; false once stopped.
    async fn pause(&self, rng: &mut Rng, mean: f64) -> bool {
        let until = Instant::now() + Duration::from_secs_f64(rng.exp(mean).min(mean * 5.0));
        while Instant::now() < until {
            if self.stop.load(Ordering::Acquire) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50).min(until - Instant::now())).await;
        }
        !self.stop.load(Ordering::Acquire)
    }

    /// A worker slot, preferring (with probability `prefer`) one that holds leases by its own log.
    fn victim(&self, rng: &mut Rng, prefer: f64) -> usize {
        let slots = &self.sup.slots;
        let holding: Vec<usize> = (0..slots.len()).filter(|&i| slots[i].held.load(Ordering::Relaxed) > 0).collect();
        if !holding.is_empty() && rng.chance(prefer) {
            *rng.pick(&holding)
        } else {
            rng.range(0, slots.len() as u64 - 1) as usize
        }
    }

    async fn kills(self: Arc<Self>) {
        let mut rng = Rng::new(self.seed, 10);
        while self.pause(&mut rng, self.rates.kill).await {
            let slot = self.victim(&mut rng, 0.8);
            let respawn = Duration::from_millis(rng.range(200, 1500));
            if let Some(held) = self.sup.kill(slot, respawn) {
                Counters::add(&self.store.counters.kills, 1);
                if held {
                    Counters::add(&self.store.counters.kills_holding, 1);
                }
                let label = self.sup.label(slot);
                self.note(&format!("SIGKILL worker {label}{}", if held { " (holding leases)" } else { "" }));
            } else {
                Counters::add(&self.store.counters.fault_skips, 1);
            }
        }
    }

    async fn stalls(self: Arc<Self>) {
        let mut rng = Rng::new(self.seed, 11);
        while self.pause(&mut rng, self.rates.stall).await {
            let slot = self.victim(&mut rng, 1.0);
            let pause = self.ack_deadline + Duration::from_millis(rng.range(1000, 4000));
            let label = self.sup.label(slot);
            self.note(&format!("SIGSTOP worker {label} for {:.1}s (past its lease deadline)", pause.as_secs_f64()));
            if self.sup.stall(slot, pause).await {
                Counters::add(&self.store.counters.stalls, 1);
            } else {
                Counters::add(&self.store.counters.fault_skips, 1);
            }
        }
    }

    /// pg_terminate_backend of a LISTEN connection (`listen`) or of 1-3 work connections.
    async fn terminations(self: Arc<Self>, listen: bool) {
        let mut rng = Rng::new(self.seed, if listen { 12 } else { 13 });
        let mean = if listen { self.rates.listen } else { self.rates.work };
        while self.pause(&mut rng, mean).await {
            let choice = rng.next_u64();
            let count = rng.range(1, 3) as usize;
            match self.terminate(listen, choice, count).await {
                Ok(Some(what)) => {
                    if listen {
                        Counters::add(&self.store.counters.listen_kills, 1);
                    } else {
                        Counters::add(&self.store.counters.work_kills, 1);
                    }
                    self.note(&what);
                }
                Ok(None) | Err(_) => Counters::add(&self.store.counters.fault_skips, 1),
            }
        }
    }

    async fn terminate(
        &self,
        listen: bool,
        choice: u64,
        count: usize,
    ) -> Result<Option<String>, tokio_postgres::Error> {
        let client = sql(&self.dsn, "chaos-injector").await?;
        // The LISTEN connection of a pgmq client runs nothing but LISTEN / UNLISTEN and an empty ping;
        // work connections run the queue statements.
        let rows = client
            .query(
                "SELECT pid, application_name FROM pg_stat_activity
                 WHERE backend_type = 'client backend' AND application_name LIKE 'chaos-%'
                   AND application_name NOT IN ('chaos-injector', 'chaos-verify') AND pid <> pg_backend_pid()
                   AND (query ~ '^(UN)?LISTEN ' OR query IN ('', 'SELECT pg_backend_pid()')) = $1
                 ORDER BY application_name, pid",
                &[&listen],
            )
            .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut apps: Vec<String> = rows.iter().map(|r| r.get::<_, String>(1)).collect();
        apps.dedup();
        let app = &apps[choice as usize % apps.len()];
        let pids: Vec<i32> = rows.iter().filter(|r| r.get::<_, String>(1) == *app).map(|r| r.get(0)).collect();
        let chosen: Vec<i32> = if listen {
            vec![pids[(choice >> 16) as usize % pids.len()]]
        } else {
            pids.iter()
                .copied()
                .cycle()
                .skip((choice >> 16) as usize % pids.len())
                .take(count.min(pids.len()))
                .collect()
        };
        for pid in &chosen {
            client.execute("SELECT pg_terminate_backend($1)", &[pid]).await?;
        }
        if !listen {
            Counters::add(&self.store.counters.work_backends, chosen.len() as u64);
        }
        let kind = if listen { "LISTEN connection" } else { "work connection(s)" };
        Ok(Some(format!("pg_terminate_backend: {} {kind} of {app}", chosen.len())))
    }

    async fn restarts(self: Arc<Self>) {
        let Some(pg) = self.pg.clone() else { return };
        let mut rng = Rng::new(self.seed, 14);
        let mut kinds = RestartKinds::new(self.seed);
        let mut at = match &self.restarts {
            Restarts::AtMessages(list) => list.clone(),
            Restarts::Every { .. } => Vec::new(),
        };
        at.reverse();
        loop {
            match &self.restarts {
                Restarts::AtMessages(_) => {
                    let Some(threshold) = at.pop() else { return };
                    while self.store.sent_count() < threshold {
                        if self.stop.load(Ordering::Acquire) {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                Restarts::Every { min, max } => {
                    let wait = rng.range(min.as_millis() as u64, max.as_millis() as u64);
                    let until = Instant::now() + Duration::from_millis(wait);
                    while Instant::now() < until {
                        if self.stop.load(Ordering::Acquire) {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            let kind = kinds.next_kind();
            self.note(kind.describe());
            let down = mono_us();
            let result = pg.restart(kind).await;
            let up = mono_us();
            let dead = result.as_ref().ok().copied().flatten();
            let line = serde_json::json!({
                "e": "restart", "kind": format!("{kind:?}"), "t": down, "dead": dead, "up": up, "ok": result.is_ok()
            });
            self.store.log_line("injector", &line.to_string());
            match result {
                Ok(_) => {
                    if let Some(dead) = dead {
                        self.store.server_crashes.lock().unwrap().push((down, dead));
                    }
                    let counter = match kind {
                        RestartKind::Clean => &self.store.counters.restarts_clean,
                        RestartKind::Immediate => &self.store.counters.restarts_immediate,
                        RestartKind::Sigkill => &self.store.counters.restarts_sigkill,
                    };
                    Counters::add(counter, 1);
                    Counters::add(&self.store.counters.restarts, 1);
                    let took = (up - down) as f64 / 1e6;
                    Counters::add(&self.store.counters.restart_ms, (took * 1000.0) as u64);
                    self.note(&format!("server back after {took:.2}s"));
                }
                Err(e) => {
                    eprintln!("{}: {e}", self.mode);
                    Counters::add(&self.store.counters.fault_skips, 1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_three_restarts_are_one_of_each_kind_in_a_seeded_order() {
        for seed in 0..50 {
            let mut kinds = RestartKinds::new(seed);
            let mut first: Vec<RestartKind> = (0..3).map(|_| kinds.next_kind()).collect();
            let again: Vec<RestartKind> = {
                let mut k = RestartKinds::new(seed);
                (0..3).map(|_| k.next_kind()).collect()
            };
            assert_eq!(first, again, "seed {seed} reproduces the order");
            first.sort_by_key(|k| *k as u8);
            assert_eq!(first, RestartKind::ALL, "seed {seed}");
        }
    }
}
