//! The fault injector. Each kind of fault has its own seeded random stream, so a seed reproduces the
//! schedule (when, and which kind); whom it hits depends on who holds leases at that moment.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgmq_chaos::Rng;
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

    /// `pg_ctl restart -m fast -w`. Returns how long it took.
    pub async fn restart(&self) -> Result<Duration, String> {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = match &self.runas {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&pg_ctl);
                c
            }
            None => Command::new(&pg_ctl),
        };
        cmd.arg("restart").arg("-D").arg(&self.datadir).arg("-l").arg(&self.log);
        cmd.args(["-m", "fast", "-w", "-t", "60"]);
        // The cluster's owner may not be able to read our working directory.
        if let Some(dir) = self.datadir.parent() {
            cmd.current_dir(dir);
        }
        let started = Instant::now();
        let out = cmd.output().await.map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_ctl restart failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(started.elapsed())
    }
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
            self.note("pg_ctl restart -m fast");
            match pg.restart().await {
                Ok(took) => {
                    Counters::add(&self.store.counters.restarts, 1);
                    Counters::add(&self.store.counters.restart_ms, took.as_millis() as u64);
                    self.note(&format!("server back after {:.2}s", took.as_secs_f64()));
                }
                Err(e) => {
                    eprintln!("chaos: {e}");
                    Counters::add(&self.store.counters.fault_skips, 1);
                }
            }
        }
    }
}
