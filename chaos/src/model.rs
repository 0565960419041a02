//! What the checker records while the run goes on: every message sent, every worker event, the outcomes
//! seen, the waiters' results, the faults injected.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use pgmq_core::Uuid;

/// A final outcome, as in `pgmq.outcomes.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fin {
    Completed,
    DeadLettered,
    Cancelled,
    Expired,
}

impl Fin {
    pub fn parse(s: &str) -> Option<Fin> {
        Some(match s {
            "completed" => Fin::Completed,
            "dead_lettered" => Fin::DeadLettered,
            "cancelled" => Fin::Cancelled,
            "expired" => Fin::Expired,
            _ => return None,
        })
    }

    pub fn from_outcome(o: pgmq_core::Outcome) -> Fin {
        Fin::parse(o.as_str()).expect("known outcome")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Fin::Completed => "completed",
            Fin::DeadLettered => "dead_lettered",
            Fin::Cancelled => "cancelled",
            Fin::Expired => "expired",
        }
    }
}

/// Which of the two queues a message went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Q {
    /// Consumed by the workers.
    Main,
    /// Nobody consumes it: its messages expire (retention of a few seconds) into its DLQ.
    Exp,
}

/// One message the checker sent (and the server confirmed).
#[derive(Debug, Clone)]
pub struct Sent {
    pub id: Uuid,
    pub n: u64,
    pub queue: Q,
    pub behaviour: &'static str,
    pub body_hash: u64,
}

/// A worker event, parsed from its JSON line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Recv,
    Ack,
    AckR,
    Nack,
    NackR,
    Cancel,
    CancelR,
    Intr,
}

/// The result of an ack, nack or cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Res {
    None,
    Ok,
    Found,
    NotFound,
    LeaseLost,
    /// connection / database / closed, or "unknown": it may or may not have taken effect.
    Ambiguous,
    /// Any other error code (already_finished, ...): it did not take effect.
    Other,
}

impl Res {
    pub fn parse(s: &str) -> Res {
        match s {
            "ok" => Res::Ok,
            "found" => Res::Found,
            "not_found" => Res::NotFound,
            "lease_lost" => Res::LeaseLost,
            "connection" | "database" | "closed" | "unknown" => Res::Ambiguous,
            _ => Res::Other,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub kind: Kind,
    /// Worker slot (index into the supervisor's slots; `u16::MAX` for the orchestrator itself).
    pub worker: u16,
    /// Incarnation of that slot (it is respawned after a kill).
    pub inc: u16,
    pub id: Uuid,
    /// Delivery attempt: the lease's identity for workers whose binding does not expose the token.
    pub a: u32,
    /// When it happened (CLOCK_MONOTONIC µs): for results, when the call returned; for starts, before
    /// the call began; for deliveries, after the receive call returned.
    pub t: i64,
    /// For results: when the matching call started (from the start line of the same process), else 0.
    pub start: i64,
    /// For Rust deliveries: when the receive call started (the claim happened after), else 0.
    pub t0: i64,
    /// The lease token, when the binding exposes it (Rust).
    pub tok: Option<Uuid>,
    pub res: Res,
    /// The message a cancel was aimed at.
    pub target: Option<Uuid>,
}

/// A completion waiter's result.
#[derive(Debug, Clone)]
pub struct Waited {
    pub ids: Vec<Uuid>,
    pub result: Result<HashMap<Uuid, Fin>, String>,
    pub retries: u32,
}

/// Counters of faults and other happenings, printed in the summary.
#[derive(Default)]
pub struct Counters {
    pub kills: AtomicU64,
    pub kills_holding: AtomicU64,
    pub stalls: AtomicU64,
    pub listen_kills: AtomicU64,
    pub work_kills: AtomicU64,
    pub work_backends: AtomicU64,
    pub restarts: AtomicU64,
    pub restarts_clean: AtomicU64,
    pub restarts_immediate: AtomicU64,
    pub restarts_sigkill: AtomicU64,
    pub restart_ms: AtomicU64,
    pub fault_skips: AtomicU64,
    pub crashes: AtomicU64,
    pub worker_errors: AtomicU64,
    pub send_errors: AtomicU64,
    pub send_calls: AtomicU64,
    pub waiters_skipped: AtomicU64,
    pub orch_cancels: AtomicU64,
}

impl Counters {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Everything shared between the tasks of the checker.
pub struct Store {
    pub events: Mutex<Vec<Event>>,
    pub sent: Mutex<Vec<Sent>>,
    /// Ids sent that have no outcome seen yet.
    pub pending: Mutex<HashSet<Uuid>>,
    /// The first outcome seen for each id (by the sweeper), and when.
    pub outcomes: Mutex<HashMap<Uuid, (Fin, std::time::Instant)>>,
    pub waited: Mutex<Vec<Waited>>,
    /// Message numbers of sends that failed in a way that may have committed anyway.
    pub ambiguous: Mutex<Vec<u64>>,
    /// Server crashes (immediate stop, SIGKILL): when the first signal went and when every process of
    /// the crashed server had exited (CLOCK_MONOTONIC µs). A commit made asynchronously shortly before
    /// may be lost with it (claims and heartbeats commit so: see the verdict).
    pub server_crashes: Mutex<Vec<(i64, i64)>>,
    pub counters: Counters,
    /// Raw worker lines, prefixed with the worker's label, for post-mortems.
    pub log: Mutex<std::io::BufWriter<std::fs::File>>,
}

impl Store {
    pub fn new(log: std::fs::File) -> Store {
        Store {
            events: Mutex::new(Vec::new()),
            sent: Mutex::new(Vec::new()),
            pending: Mutex::new(HashSet::new()),
            outcomes: Mutex::new(HashMap::new()),
            waited: Mutex::new(Vec::new()),
            ambiguous: Mutex::new(Vec::new()),
            server_crashes: Mutex::new(Vec::new()),
            counters: Counters::default(),
            log: Mutex::new(std::io::BufWriter::new(log)),
        }
    }

    pub fn log_line(&self, label: &str, line: &str) {
        let mut log = self.log.lock().unwrap();
        let _ = writeln!(log, "{label}\t{line}");
    }

    pub fn sent_count(&self) -> u64 {
        self.sent.lock().unwrap().len() as u64
    }

    pub fn finished_count(&self) -> u64 {
        self.outcomes.lock().unwrap().len() as u64
    }
}

/// FNV-1a: a body's fingerprint, to check that dead-lettered bodies are intact.
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
