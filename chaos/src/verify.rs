//! The verdict: every message's final state from the database, checked against everything the workers,
//! the waiters and the orchestrator logged.

use std::collections::{BTreeMap, HashMap, HashSet};

use pgmq_core::Uuid;

use crate::model::{Event, Fin, Kind, Res, Store, Q};

/// A row of a dead-letter queue.
#[derive(Debug, Clone)]
pub struct DlqRow {
    pub body_hash: u64,
    pub attempts: Option<i32>,
    pub last_error: Option<String>,
}

/// What the database says at the end.
#[derive(Debug, Default)]
pub struct DbFinal {
    /// Outcome records of the ids sent (read at the end).
    pub outcomes: HashMap<Uuid, Fin>,
    /// Rows still in the two queues (not finished): id -> description.
    pub remaining: HashMap<Uuid, String>,
    pub dlq_main: HashMap<Uuid, DlqRow>,
    pub dlq_exp: HashMap<Uuid, DlqRow>,
    /// Outcome records of the two queues for ids the checker never saw sent (sends that failed but
    /// committed anyway).
    pub orphans: Vec<(Uuid, Fin)>,
}

pub struct Report {
    pub lines: Vec<String>,
    /// kind -> (count, first examples)
    pub violations: BTreeMap<&'static str, (u64, Vec<String>)>,
    pub messages: u64,
    pub lost: u64,
    pub duplicated: u64,
}

impl Report {
    fn flag(&mut self, kind: &'static str, example: String) {
        let entry = self.violations.entry(kind).or_insert((0, Vec::new()));
        entry.0 += 1;
        if entry.1.len() < 5 {
            entry.1.push(example);
        }
    }

    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Every kind of violation, in the order they are printed (all are printed, with their counts).
pub const CHECKS: &[(&str, &str)] = &[
    ("lost", "sent, but neither completed, dead-lettered, cancelled nor expired, and not queued"),
    ("unfinished", "still queued when the run ended (stuck)"),
    ("duplicated", "completed twice: two successful acks of different leases, or an outcome that changed"),
    ("lease overlap", "an ack/nack that started after a newer lease's delivery had returned, and succeeded"),
    ("delivery order", "an attempt number delivered twice (but for a claim lost in a server crash), beyond max attempts, or out of order"),
    ("delivered after finish", "a delivery that began after a successful ack or a found cancel had returned"),
    ("ack without completion", "an ack reported ok, but the outcome is neither completed nor cancelled"),
    ("completion without ack", "completed, but every ack of it reported lease_lost / already_finished"),
    ("cancel", "a cancel found it (or its holder saw the signal) but it did not end cancelled; cancelled without a cancel; or delivered after a cancel said not found"),
    ("behaviour", "an always-failing message completed, or an unconsumed (expiring) message was delivered"),
    ("waiter", "a completion waiter saw another outcome than the database, failed, or never returned"),
    ("dlq", "the dead-letter queues do not hold exactly the dead-lettered / expired messages, bodies intact"),
    ("phantom", "outcome records for messages nobody sent"),
];

fn short(id: &Uuid) -> String {
    id.to_string()
}

/// `dlq_retention`: when the DLQs drop their rows after a retention period (soak mode), rows of messages
/// that finished longer ago than that may be gone, and are not required.
pub fn verify(
    store: &Store,
    db: &DbFinal,
    max_attempts: u32,
    hung_waiters: usize,
    labels: &[String],
    dlq_retention: Option<std::time::Duration>,
) -> Report {
    let sent = store.sent.lock().unwrap();
    let events = store.events.lock().unwrap();
    let first_seen = store.outcomes.lock().unwrap();
    let waited = store.waited.lock().unwrap();
    let ambiguous = store.ambiguous.lock().unwrap();
    let crashes = store.server_crashes.lock().unwrap();
    let mut report =
        Report { lines: Vec::new(), violations: BTreeMap::new(), messages: sent.len() as u64, lost: 0, duplicated: 0 };
    let who = |e: &Event| {
        if e.worker == u16::MAX {
            "orchestrator".to_owned()
        } else {
            format!("{}.{}", labels.get(e.worker as usize).map_or("?", |l| l.as_str()), e.inc)
        }
    };

    let mut by_id: HashMap<Uuid, Vec<&Event>> = HashMap::new();
    let mut cancels: HashMap<Uuid, Vec<&Event>> = HashMap::new();
    for e in events.iter() {
        match e.kind {
            Kind::Cancel | Kind::CancelR => cancels.entry(e.target.unwrap_or(e.id)).or_default().push(e),
            _ => by_id.entry(e.id).or_default().push(e),
        }
    }

    // The final state of every message: the first outcome seen, else the final read, else (for records
    // pruned after a short retention before anyone read them) the dead-letter queue row.
    let mut fins: HashMap<Uuid, Fin> = HashMap::new();
    let mut inferred = 0u64;
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    for m in sent.iter() {
        let seen = first_seen.get(&m.id).map(|s| s.0);
        let last = db.outcomes.get(&m.id).copied();
        if let (Some(a), Some(b)) = (seen, last) {
            if a != b {
                report.flag(
                    "duplicated",
                    format!("{} (n={}): outcome {} then {}", short(&m.id), m.n, a.as_str(), b.as_str()),
                );
            }
        }
        let fin = seen.or(last).or_else(|| {
            let row = if m.queue == Q::Main { db.dlq_main.get(&m.id) } else { db.dlq_exp.get(&m.id) };
            row.map(|_| {
                inferred += 1;
                if m.queue == Q::Main {
                    Fin::DeadLettered
                } else {
                    Fin::Expired
                }
            })
        });
        match fin {
            Some(f) => {
                fins.insert(m.id, f);
                *counts.entry(f.as_str()).or_default() += 1;
            }
            None if db.remaining.contains_key(&m.id) => report
                .flag("unfinished", format!("{} (n={}, {}): {}", short(&m.id), m.n, m.behaviour, db.remaining[&m.id])),
            None => {
                let deliveries = by_id.get(&m.id).map_or(0, |v| v.iter().filter(|e| e.kind == Kind::Recv).count());
                report.flag("lost", format!("{} (n={}, {}, {deliveries} deliveries)", short(&m.id), m.n, m.behaviour));
            }
        }
    }
    report.lost = report.violations.get("lost").map_or(0, |v| v.0);

    let mut stats = Stats::default();
    let mut duplicated: HashSet<Uuid> = report.violations.get("duplicated").map_or_else(HashSet::new, |_| {
        sent.iter()
            .filter(|m| first_seen.get(&m.id).zip(db.outcomes.get(&m.id)).is_some_and(|(a, b)| a.0 != *b))
            .map(|m| m.id)
            .collect()
    });

    for m in sent.iter() {
        let evs = by_id.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
        let fin = fins.get(&m.id).copied();
        let recvs: Vec<&Event> = evs.iter().copied().filter(|e| e.kind == Kind::Recv).collect();
        stats.deliveries += recvs.len() as u64;
        stats.redeliveries += recvs.iter().filter(|e| e.a > 1).count() as u64;
        for r in &recvs {
            let lang = labels.get(r.worker as usize).map_or("?", |l| &l[..2]);
            *stats.by_lang.entry(lang.to_owned()).or_default() += 1;
        }

        // A claim commits asynchronously (core/src/receiver.rs): one made shortly before a server crash,
        // or while its processes were being stopped, may be lost with it, and the message is then claimed
        // again by the restarted server under the same attempt number. That is allowed for a lease
        // delivered at most 1 s before the crash began (the WAL writer writes an asynchronous commit out
        // within 3 x wal_writer_delay, 600 ms by default, and once in the kernel it survives the server's
        // processes) and claimed before every process of the crashed server had exited, that never acked
        // or nacked successfully (those commit durably, and the claim with them), when the next delivery
        // returned after they had all exited: it was claimed from the new server. The claim of a Rust
        // delivery began after t0 (the receive call's start); for the others, the delivery's return is
        // the nearest bound.
        // The same worker may be given the message again under the same attempt number: the acks and
        // nacks of the first lease are the ones that returned before the second delivery.
        let settled = |first: &Event, again: &Event| {
            evs.iter().any(|x| {
                matches!(x.kind, Kind::AckR | Kind::NackR)
                    && x.res == Res::Ok
                    && (x.worker, x.inc, x.a) == (first.worker, first.inc, first.a)
                    && x.t < again.t
            })
        };
        let claim_lost = |first: &Event, again: &Event| {
            let claimed = if first.t0 > 0 { first.t0 } else { first.t };
            !settled(first, again)
                && crashes.iter().any(|&(down, dead)| first.t > down - 1_000_000 && claimed < dead && again.t > dead)
        };

        // Deliveries: each lease a new attempt number, never more than max attempts.
        let mut attempts: HashMap<u32, &Event> = HashMap::new();
        for r in &recvs {
            if let Some(prev) = attempts.insert(r.a, r) {
                let (first, again) = if prev.t <= r.t { (prev, *r) } else { (*r, prev) };
                if claim_lost(first, again) {
                    stats.claims_lost += 1;
                } else {
                    report.flag(
                        "delivery order",
                        format!("{} attempt {} delivered twice ({} and {})", short(&m.id), r.a, who(prev), who(r)),
                    );
                }
            }
            if r.a > max_attempts {
                report.flag("delivery order", format!("{} delivered {} times (max {max_attempts})", short(&m.id), r.a));
            }
        }
        let mut tokens = HashSet::new();
        for r in recvs.iter().filter(|r| r.tok.is_some()) {
            if !tokens.insert(r.tok) {
                report.flag("delivery order", format!("{} lease token {:?} delivered twice", short(&m.id), r.tok));
            }
        }
        if m.queue == Q::Exp && !recvs.is_empty() {
            report.flag("behaviour", format!("{} (n={}) of the unconsumed queue was delivered", short(&m.id), m.n));
        }

        // Successful acks: at most one lease may complete a message.
        let acks_ok: Vec<&Event> = evs.iter().copied().filter(|e| e.kind == Kind::AckR && e.res == Res::Ok).collect();
        stats.acks_ok += acks_ok.len() as u64;
        stats.acks_lost += evs.iter().filter(|e| e.kind == Kind::AckR && e.res == Res::LeaseLost).count() as u64;
        stats.nacks_ok += evs.iter().filter(|e| e.kind == Kind::NackR && e.res == Res::Ok).count() as u64;
        stats.nacks_lost += evs.iter().filter(|e| e.kind == Kind::NackR && e.res == Res::LeaseLost).count() as u64;
        stats.interrupted += evs.iter().filter(|e| e.kind == Kind::Intr).count() as u64;
        let leases: HashSet<(u16, u16, u32)> = acks_ok.iter().map(|e| (e.worker, e.inc, e.a)).collect();
        if leases.len() > 1 && duplicated.insert(m.id) {
            let who_all: Vec<String> = acks_ok.iter().map(|e| format!("attempt {} by {}", e.a, who(e))).collect();
            report.flag(
                "duplicated",
                format!("{} (n={}) acked ok {} times: {}", short(&m.id), m.n, leases.len(), who_all.join(", ")),
            );
        }
        if !acks_ok.is_empty() && !matches!(fin, Some(Fin::Completed | Fin::Cancelled) | None) {
            report.flag(
                "ack without completion",
                format!("{} acked ok, outcome {}", short(&m.id), fin.map_or("none", Fin::as_str)),
            );
        }
        if m.behaviour == "slow" {
            stats.slow_acks_ok += acks_ok.len() as u64;
            stats.slow_acks_lost +=
                evs.iter().filter(|e| e.kind == Kind::AckR && e.res == Res::LeaseLost).count() as u64;
        }

        // Completed: some ack of it must have succeeded, or have an unknown result.
        if fin == Some(Fin::Completed) {
            let mut starts: HashMap<(u16, u16, u32), (usize, usize, bool)> = HashMap::new();
            for e in evs {
                let key = (e.worker, e.inc, e.a);
                match e.kind {
                    Kind::Ack => starts.entry(key).or_default().0 += 1,
                    Kind::AckR => {
                        let s = starts.entry(key).or_default();
                        s.1 += 1;
                        s.2 |= matches!(e.res, Res::Ok | Res::Ambiguous);
                    }
                    _ => {}
                }
            }
            let possible = starts.values().any(|&(n_start, n_res, ok)| ok || n_start > n_res);
            if !possible {
                report.flag(
                    "completion without ack",
                    format!("{} (n={}): {} ack(s), all refused", short(&m.id), m.n, starts.len()),
                );
            }
        }

        // Fencing: an ack or nack that started after a newer lease's delivery had returned must fail.
        for e in evs.iter().filter(|e| matches!(e.kind, Kind::AckR | Kind::NackR) && e.res == Res::Ok && e.start > 0) {
            stats.fenced_checked += 1;
            if let Some(newer) = recvs.iter().find(|r| r.a > e.a && r.t < e.start) {
                report.flag(
                    "lease overlap",
                    format!(
                        "{}: {:?} of attempt {} by {} started {} µs after attempt {} had been delivered to {}, and succeeded",
                        short(&m.id), e.kind, e.a, who(e), e.start - newer.t, newer.a, who(newer)
                    ),
                );
            }
        }

        // Rust deliveries know when their claim began (t0): nothing earlier may be newer, and nothing
        // may be delivered once an ack succeeded or a cancel found it.
        let cancel_evs = cancels.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
        for r in recvs.iter().filter(|r| r.t0 > 0) {
            if let Some(x) =
                recvs.iter().find(|x| x.t < r.t0 && x.a >= r.a && !std::ptr::eq(**x, *r) && !claim_lost(x, r))
            {
                report.flag(
                    "delivery order",
                    format!(
                        "{}: attempt {} (by {}) returned before attempt {} (by {}) was claimed",
                        short(&m.id),
                        x.a,
                        who(x),
                        r.a,
                        who(r)
                    ),
                );
            }
            if let Some(a) = acks_ok.iter().find(|a| a.t < r.t0) {
                report.flag(
                    "delivered after finish",
                    format!(
                        "{}: delivered to {} (attempt {}) after {} had acked it",
                        short(&m.id),
                        who(r),
                        r.a,
                        who(a)
                    ),
                );
            }
            if let Some(c) = cancel_evs.iter().find(|c| c.kind == Kind::CancelR && c.res == Res::Found && c.t < r.t0) {
                report.flag(
                    "delivered after finish",
                    format!("{}: delivered to {} after {} had cancelled it", short(&m.id), who(r), who(c)),
                );
            }
            // Delivered after a cancel said "not found": the message was there all along (sent before the
            // cancel, claimed after it), so the cancel missed it.
            if let Some(c) = cancel_evs.iter().find(|c| c.kind == Kind::CancelR && c.res == Res::NotFound && c.t < r.t0)
            {
                report.flag(
                    "cancel",
                    format!("{}: {} was told \"not found\", then it was delivered to {}", short(&m.id), who(c), who(r)),
                );
            }
        }

        // Cancels.
        let found = cancel_evs.iter().filter(|c| c.kind == Kind::CancelR && c.res == Res::Found).count();
        stats.cancels += cancel_evs.iter().filter(|c| c.kind == Kind::Cancel).count() as u64;
        stats.cancels_found += found as u64;
        if found > 0 && fin.is_some() && fin != Some(Fin::Cancelled) {
            report.flag(
                "cancel",
                format!("{}: a cancel found it, but its outcome is {}", short(&m.id), fin.map_or("none", Fin::as_str)),
            );
        }
        if evs.iter().any(|e| e.kind == Kind::Intr) && fin.is_some() && fin != Some(Fin::Cancelled) {
            report.flag(
                "cancel",
                format!(
                    "{}: its holder saw the cancel signal, but its outcome is {}",
                    short(&m.id),
                    fin.map_or("none", Fin::as_str)
                ),
            );
        }
        if fin == Some(Fin::Cancelled) {
            let possible =
                cancel_evs.iter().any(|c| c.kind == Kind::CancelR && matches!(c.res, Res::Found | Res::Ambiguous))
                    || cancel_evs.iter().filter(|c| c.kind == Kind::Cancel).count()
                        > cancel_evs.iter().filter(|c| c.kind == Kind::CancelR).count();
            if !possible {
                report.flag("cancel", format!("{} (n={}) cancelled, but no cancel of it found it", short(&m.id), m.n));
            }
        }

        // Behaviours.
        if m.behaviour == "fail" && fin == Some(Fin::Completed) {
            report.flag("behaviour", format!("{} (n={}) always fails, yet completed", short(&m.id), m.n));
        }
        if m.queue == Q::Exp && fin.is_some_and(|f| f != Fin::Expired && f != Fin::Cancelled) {
            report.flag(
                "behaviour",
                format!("{} of the unconsumed queue ended {}", short(&m.id), fin.map_or("none", Fin::as_str)),
            );
        }
    }
    report.duplicated = duplicated.len() as u64;

    // Dead-letter queues: exactly the dead-lettered (main) and expired (exp) messages, bodies intact.
    let sent_by_id: HashMap<Uuid, &crate::model::Sent> = sent.iter().map(|m| (m.id, m)).collect();
    for (queue, dlq, want) in [(Q::Main, &db.dlq_main, Fin::DeadLettered), (Q::Exp, &db.dlq_exp, Fin::Expired)] {
        for m in sent.iter().filter(|m| m.queue == queue) {
            let may_be_gone = dlq_retention.is_some_and(|keep| {
                first_seen.get(&m.id).is_none_or(|s| s.1.elapsed() + std::time::Duration::from_secs(15) > keep)
            });
            if fins.get(&m.id) == Some(&want) && !dlq.contains_key(&m.id) && !may_be_gone {
                report.flag("dlq", format!("{} is {} but not in its DLQ", short(&m.id), want.as_str()));
            }
        }
        for (id, row) in dlq {
            let Some(m) = sent_by_id.get(id) else {
                if !ambiguous.is_empty() {
                    continue; // a send that failed but committed
                }
                report.flag("dlq", format!("{id} is in a DLQ but was never sent"));
                continue;
            };
            if fins.get(id) != Some(&want) {
                report.flag(
                    "dlq",
                    format!("{id} is in the DLQ, outcome {}", fins.get(id).map_or("none", |f| f.as_str())),
                );
            }
            if row.body_hash != m.body_hash {
                report.flag("dlq", format!("{id}: the DLQ body differs from the body sent"));
            }
            if want == Fin::DeadLettered && row.attempts != Some(max_attempts as i32) {
                report
                    .flag("dlq", format!("{id}: dead-lettered after {:?} attempts (max {max_attempts})", row.attempts));
            }
            if want == Fin::Expired && !row.last_error.as_deref().unwrap_or("").contains("retention") {
                report.flag("dlq", format!("{id}: expired, last error {:?}", row.last_error));
            }
        }
    }

    // Waiters.
    let mut waited_ids = 0usize;
    let mut waiter_retries = 0u32;
    for w in waited.iter() {
        waited_ids += w.ids.len();
        waiter_retries += w.retries;
        match &w.result {
            Ok(map) => {
                for id in &w.ids {
                    let want = fins.get(id).copied();
                    let got = map.get(id).copied();
                    if got != want {
                        report.flag("waiter", format!("{id}: waiter saw {:?}, the database says {:?}", got, want));
                    }
                }
            }
            Err(e) => {
                // An expired message's record is pruned a few seconds after it expired (the expiring
                // queue's short retention): a waiter that only looked after that finds nothing.
                let pruned = e.starts_with("message_not_found")
                    && w.ids
                        .iter()
                        .all(|id| sent_by_id.get(id).is_some_and(|m| m.queue == Q::Exp) && db.dlq_exp.contains_key(id));
                if pruned {
                    stats.waiters_pruned += 1;
                } else {
                    report.flag("waiter", format!("waiter of {} message(s) failed: {e}", w.ids.len()));
                }
            }
        }
    }
    if hung_waiters > 0 {
        report.flag("waiter", format!("{hung_waiters} waiter(s) never returned"));
    }

    // Outcome records nobody sent: sends that failed but committed anyway are expected to leave some.
    if !db.orphans.is_empty() && ambiguous.is_empty() {
        for (id, fin) in db.orphans.iter().take(5) {
            report.flag("phantom", format!("{id}: outcome {} but never sent", fin.as_str()));
        }
    }

    let outcome_line: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    report.lines.push(format!(
        "outcomes: {}{}",
        outcome_line.join(", "),
        if inferred > 0 {
            format!(" ({inferred} read from the DLQ: their records were pruned after the retention period)")
        } else {
            String::new()
        }
    ));
    let langs: Vec<String> = stats.by_lang.iter().map(|(k, v)| format!("{k} {v}")).collect();
    report.lines.push(format!(
        "deliveries: {} ({} redeliveries; by worker language: {}); acks ok {}, lease_lost {}; nacks ok {}, lease_lost {}",
        stats.deliveries, stats.redeliveries, langs.join(", "), stats.acks_ok, stats.acks_lost, stats.nacks_ok, stats.nacks_lost
    ));
    report.lines.push(format!(
        "slow handlers (sleep past the 2 s lease, heartbeat on): {} acks ok, {} lease_lost; cancels: {} calls, {} found, {} holders interrupted",
        stats.slow_acks_ok, stats.slow_acks_lost, stats.cancels, stats.cancels_found, stats.interrupted
    ));
    if !crashes.is_empty() {
        report.lines.push(format!(
            "server crashes: {}; claims lost with them (the message delivered again under the same attempt number, as claims commit asynchronously): {}",
            crashes.len(),
            stats.claims_lost
        ));
    }
    report.lines.push(format!(
        "waiters: {} ({} messages, {} retries after connection errors{}); fencing: {} successful acks/nacks checked against later deliveries",
        waited.len(), waited_ids, waiter_retries,
        if stats.waiters_pruned > 0 { format!(", {} found an expired record already pruned", stats.waiters_pruned) } else { String::new() },
        stats.fenced_checked
    ));
    let dlq_line = format!("dead-letter queues: {} dead-lettered, {} expired", db.dlq_main.len(), db.dlq_exp.len());
    report.lines.push(if db.orphans.is_empty() {
        dlq_line
    } else {
        format!("{dlq_line}; {} message(s) from {} failed sends committed anyway", db.orphans.len(), ambiguous.len())
    });
    report
}

#[derive(Default)]
struct Stats {
    deliveries: u64,
    redeliveries: u64,
    by_lang: BTreeMap<String, u64>,
    acks_ok: u64,
    acks_lost: u64,
    nacks_ok: u64,
    nacks_lost: u64,
    interrupted: u64,
    slow_acks_ok: u64,
    slow_acks_lost: u64,
    cancels: u64,
    cancels_found: u64,
    fenced_checked: u64,
    waiters_pruned: u64,
    claims_lost: u64,
}
