//! The worker processes: spawning (Rust, Python, Node), reading their JSON lines, killing, stopping
//! and respawning them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgmq_chaos::dsn_with_app_name;
use pgmq_core::Uuid;
use rustix::process::{kill_process, Pid, Signal};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::model::{Counters, Event, Kind, Res, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Node,
}

impl Lang {
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Node => "node",
        }
    }
}

pub struct SlotState {
    pub label: String,
    pub lang: Lang,
    /// Node only: "loop" or "process".
    pub mode: &'static str,
    pub pid: Option<u32>,
    pub inc: u16,
    /// SIGSTOPped right now (by a stall fault).
    pub stopped: bool,
    /// Set before a deliberate kill, so its exit is not counted as a crash.
    pub killing: bool,
}

/// Leases a worker holds, by its own log (deliveries minus finished): used to pick kill victims.
pub struct Slot {
    pub state: Mutex<SlotState>,
    pub held: AtomicI64,
}

pub struct Supervisor {
    pub slots: Vec<Slot>,
    store: Arc<Store>,
    dsn: String,
    queue: String,
    concurrency: usize,
    root: PathBuf,
    out: PathBuf,
    worker_bin: PathBuf,
    shutting_down: AtomicBool,
    /// Respawn delay per slot for the next exit (chosen by the fault injector when it kills).
    respawn_after: Mutex<HashMap<usize, Duration>>,
}

pub struct SupervisorConfig {
    pub dsn: String,
    pub queue: String,
    pub concurrency: usize,
    pub root: PathBuf,
    pub out: PathBuf,
    pub counts: [usize; 3],
}

impl Supervisor {
    pub fn new(config: SupervisorConfig, store: Arc<Store>) -> Arc<Supervisor> {
        let mut slots = Vec::new();
        for (lang, count) in [Lang::Rust, Lang::Python, Lang::Node].into_iter().zip(config.counts) {
            for i in 0..count {
                let mode = if lang == Lang::Node && i % 2 == 1 { "process" } else { "loop" };
                let label = format!("{}{}", &lang.name()[..2], i + 1);
                slots.push(Slot {
                    state: Mutex::new(SlotState {
                        label,
                        lang,
                        mode,
                        pid: None,
                        inc: 0,
                        stopped: false,
                        killing: false,
                    }),
                    held: AtomicI64::new(0),
                });
            }
        }
        let worker_bin = std::env::current_exe().expect("current exe").with_file_name("chaos-worker");
        Arc::new(Supervisor {
            slots,
            store,
            dsn: config.dsn,
            queue: config.queue,
            concurrency: config.concurrency,
            root: config.root,
            out: config.out,
            worker_bin,
            shutting_down: AtomicBool::new(false),
            respawn_after: Mutex::new(HashMap::new()),
        })
    }

    pub fn label(&self, slot: usize) -> String {
        self.slots[slot].state.lock().unwrap().label.clone()
    }

    /// Starts the worker of `slot` (a new incarnation) and the task that reads its lines.
    pub fn spawn(self: &Arc<Self>, slot: usize) -> std::io::Result<()> {
        let (label, lang, mode, inc) = {
            let mut s = self.slots[slot].state.lock().unwrap();
            s.inc += 1;
            s.killing = false;
            s.stopped = false;
            (s.label.clone(), s.lang, s.mode, s.inc)
        };
        let mut cmd = match lang {
            Lang::Rust => Command::new(&self.worker_bin),
            Lang::Python => {
                let mut c = Command::new(self.root.join(".venv/bin/python"));
                c.arg(self.root.join("chaos/workers/worker.py"));
                c
            }
            Lang::Node => {
                let mut c = Command::new("node");
                c.arg(self.root.join("chaos/workers/worker.mjs"));
                c
            }
        };
        let stderr =
            std::fs::OpenOptions::new().create(true).append(true).open(self.out.join(format!("{label}.err")))?;
        cmd.current_dir(&self.root)
            .env("CHAOS_DSN", dsn_with_app_name(&self.dsn, &format!("chaos-{label}")))
            .env("CHAOS_QUEUE", &self.queue)
            .env("CHAOS_CONCURRENCY", self.concurrency.to_string())
            .env("CHAOS_MODE", mode)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        self.slots[slot].state.lock().unwrap().pid = child.id();
        self.slots[slot].held.store(0, Ordering::Relaxed);
        let me = self.clone();
        tokio::spawn(async move {
            let tag = format!("{label}.{inc}");
            let mut lines = BufReader::new(stdout).lines();
            let mut starts: HashMap<(Uuid, u32, Kind), i64> = HashMap::new();
            while let Ok(Some(line)) = lines.next_line().await {
                me.store.log_line(&tag, &line);
                me.record(slot, inc, &line, &mut starts);
            }
            let status = child.wait().await;
            me.exited(slot, inc, status.ok());
        });
        Ok(())
    }

    fn record(&self, slot: usize, inc: u16, line: &str, starts: &mut HashMap<(Uuid, u32, Kind), i64>) {
        let Ok(v) = serde_json::from_str::<Value>(line) else { return };
        let uuid = |k: &str| v[k].as_str().and_then(|s| Uuid::parse_str(s).ok());
        let kind = match v["e"].as_str().unwrap_or("") {
            "recv" => Kind::Recv,
            "ack" => Kind::Ack,
            "ack_r" => Kind::AckR,
            "nack" => Kind::Nack,
            "nack_r" => Kind::NackR,
            "cancel" => Kind::Cancel,
            "cancel_r" => Kind::CancelR,
            "intr" => Kind::Intr,
            "err" => {
                Counters::add(&self.store.counters.worker_errors, 1);
                return;
            }
            _ => return,
        };
        let Some(id) = uuid("id") else { return };
        let a = v["a"].as_u64().unwrap_or(0) as u32;
        let t = v["t"].as_i64().unwrap_or(0);
        let held = &self.slots[slot].held;
        let start = match kind {
            Kind::Ack | Kind::Nack => {
                // The first start of finishing this lease: it is not held any more (for the victim choice).
                if starts.insert((id, a, kind), t).is_none() {
                    held.fetch_sub(1, Ordering::Relaxed);
                }
                0
            }
            Kind::AckR => starts.get(&(id, a, Kind::Ack)).copied().unwrap_or(0),
            Kind::NackR => starts.get(&(id, a, Kind::Nack)).copied().unwrap_or(0),
            Kind::CancelR => starts.remove(&(id, 0, Kind::Cancel)).unwrap_or(0),
            Kind::Cancel => {
                starts.insert((id, 0, Kind::Cancel), t);
                0
            }
            _ => 0,
        };
        match kind {
            Kind::Recv => {
                held.fetch_add(1, Ordering::Relaxed);
            }
            Kind::Intr => {
                held.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
        let event = Event {
            kind,
            worker: slot as u16,
            inc,
            id,
            a,
            t,
            start,
            t0: v["t0"].as_i64().unwrap_or(0),
            tok: uuid("tok"),
            res: v["r"].as_str().map_or(Res::None, Res::parse),
            target: uuid("target"),
        };
        self.store.events.lock().unwrap().push(event);
    }

    fn exited(self: &Arc<Self>, slot: usize, inc: u16, status: Option<std::process::ExitStatus>) {
        let (label, deliberate) = {
            let mut s = self.slots[slot].state.lock().unwrap();
            if s.inc != inc {
                return;
            }
            s.pid = None;
            (s.label.clone(), s.killing)
        };
        if self.shutting_down.load(Ordering::Acquire) {
            return;
        }
        let delay = if deliberate {
            self.respawn_after.lock().unwrap().remove(&slot).unwrap_or(Duration::from_millis(500))
        } else {
            Counters::add(&self.store.counters.crashes, 1);
            eprintln!("chaos: worker {label}.{inc} exited by itself ({status:?}); see its .err file; respawning");
            Duration::from_millis(500)
        };
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if !me.shutting_down.load(Ordering::Acquire) {
                if let Err(e) = me.spawn(slot) {
                    eprintln!("chaos: cannot respawn worker {label}: {e}");
                }
            }
        });
    }

    /// SIGKILLs the worker of `slot`; it is respawned `respawn` later. Returns whether it held leases.
    pub fn kill(&self, slot: usize, respawn: Duration) -> Option<bool> {
        let mut s = self.slots[slot].state.lock().unwrap();
        let pid = s.pid?;
        if s.killing {
            return None;
        }
        s.killing = true;
        self.respawn_after.lock().unwrap().insert(slot, respawn);
        let held = self.slots[slot].held.load(Ordering::Relaxed) > 0;
        let _ = kill_process(Pid::from_raw(pid as i32)?, Signal::KILL);
        Some(held)
    }

    /// SIGSTOPs the worker of `slot` for `pause` (its heartbeats stop: its leases run out), then
    /// SIGCONTs it. Returns false if there was no live worker to stop.
    pub async fn stall(&self, slot: usize, pause: Duration) -> bool {
        let (pid, inc) = {
            let mut s = self.slots[slot].state.lock().unwrap();
            let Some(pid) = s.pid else { return false };
            if s.killing || s.stopped {
                return false;
            }
            s.stopped = true;
            (pid, s.inc)
        };
        let Some(p) = Pid::from_raw(pid as i32) else { return false };
        let _ = kill_process(p, Signal::STOP);
        tokio::time::sleep(pause).await;
        let mut s = self.slots[slot].state.lock().unwrap();
        if s.inc == inc && s.pid == Some(pid) {
            let _ = kill_process(p, Signal::CONT);
        }
        s.stopped = false;
        true
    }

    /// Kills every worker for good (the end of the run).
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        for slot in &self.slots {
            let mut s = slot.state.lock().unwrap();
            if let Some(pid) = s.pid.and_then(|p| Pid::from_raw(p as i32)) {
                s.killing = true;
                let _ = kill_process(pid, Signal::KILL);
                let _ = kill_process(pid, Signal::CONT);
            }
        }
    }

    /// Whether every worker has exited and its last lines were read (after `shutdown`).
    pub fn all_exited(&self) -> bool {
        self.slots.iter().all(|s| s.state.lock().unwrap().pid.is_none())
    }
}
