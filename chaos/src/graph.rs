//! `pgmq-chaos --graph N`: a seeded graph of N messages with dependencies (fan-out from a root, fan-in
//! hubs, chains, diamonds) spread over two queues, sent while workers process it, with a crash of the
//! server (SIGKILL of every server process, then crash recovery) once half of it has run. Some messages
//! are poison (their handler always fails, so they are dead-lettered). Then checks, from the database and
//! from what the handlers saw:
//! - no message ran before every message it depends on had completed (each handler reads its
//!   dependencies' outcomes before doing anything);
//! - every message without a poisoned ancestor completed, and ran (more than once only if a crash lost
//!   its ack);
//! - every poison message without a poisoned ancestor was dead-lettered;
//! - every message with a poisoned ancestor never ran and was cancelled, its reason naming one of its
//!   dependencies and how that one finished — or, if its send came after a dependency had already
//!   failed, was refused;
//! - nothing is left behind: no message in the queues, no dependency edge or waiting row.
//!
//! Ends with `graph: N passed, N failed` and the line `chaos: ...` like the main run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgmq_chaos::{dsn_with_app_name, Rng};
use pgmq_core::{Client, ClientOptions, Error, Message, NackOptions, OutgoingMessage, QueueOptions, ReceiveOptions, SendOptions, Uuid};
use tokio::sync::watch;

use crate::faults::{PgCtl, RestartKind};

const WORKERS_PER_QUEUE: usize = 4;
const SENDERS: usize = 8;
const ACK_DEADLINE: Duration = Duration::from_secs(3);
const MAX_ATTEMPTS: u32 = 10;

/// The graph: each node's dependencies (earlier nodes only), and which nodes are poison.
struct Graph {
    parents: Vec<Vec<usize>>,
    poison: Vec<bool>,
}

impl Graph {
    /// Node 0 is a root that the first 200 nodes depend on (fan-out); every 1000th node depends on the 200
    /// before it (fan-in); the others on 1 to 3 of the 300 before them (chains and diamonds), or on
    /// nothing (3 %). Poison: nodes whose descendants are few, until about 5 % of the graph descends from
    /// one.
    fn new(n: usize, seed: u64) -> Graph {
        let mut rng = Rng::new(seed, 40);
        let mut parents = vec![Vec::new(); n];
        for (i, p) in parents.iter_mut().enumerate().skip(1) {
            if i <= 200 {
                p.push(0);
            } else if i % 1000 == 0 {
                p.extend(i - 200..i);
            } else if !rng.chance(0.03) {
                let k = rng.range(1, 3) as usize;
                while p.len() < k {
                    let j = rng.range(i.saturating_sub(300) as u64, i as u64 - 1) as usize;
                    if !p.contains(&j) {
                        p.push(j);
                    }
                }
            }
        }
        let mut graph = Graph { parents, poison: vec![false; n] };
        let mut children = vec![Vec::new(); n];
        for (i, ps) in graph.parents.iter().enumerate() {
            for &p in ps {
                children[p].push(i);
            }
        }
        let budget = n / 20;
        let mut tries = 0;
        while graph.doomed().iter().filter(|d| **d).count() < budget && tries < 10 * n {
            tries += 1;
            let candidate = rng.range(1, n as u64 - 1) as usize;
            if descendants(&children, candidate) <= 60 {
                graph.poison[candidate] = true;
            }
        }
        graph
    }

    /// Whether each node descends from a poison node (and so never runs).
    fn has_poisoned_ancestor(&self) -> Vec<bool> {
        let doomed = self.doomed();
        self.parents.iter().map(|ps| ps.iter().any(|&p| doomed[p])).collect()
    }

    /// Whether each node is poison or descends from one.
    fn doomed(&self) -> Vec<bool> {
        let mut doomed = self.poison.clone();
        for i in 0..self.parents.len() {
            if self.parents[i].iter().any(|&p| doomed[p]) {
                doomed[i] = true;
            }
        }
        doomed
    }
}

fn descendants(children: &[Vec<usize>], from: usize) -> usize {
    let mut seen = vec![false; children.len()];
    let mut stack = vec![from];
    let mut count = 0;
    while let Some(i) = stack.pop() {
        for &c in &children[i] {
            if !seen[c] {
                seen[c] = true;
                count += 1;
                stack.push(c);
            }
        }
    }
    count
}

/// How a node's send went.
#[derive(Clone, Debug, PartialEq)]
enum Sent {
    Id(Uuid),
    /// Refused because a dependency had already failed (or was itself refused).
    Refused(String),
}

struct State {
    graph: Graph,
    sent: Vec<watch::Sender<Option<Sent>>>,
    ids: Mutex<HashMap<Uuid, usize>>,
    runs: Vec<AtomicU64>,
    early: Mutex<Vec<String>>,
    completed_runs: AtomicU64,
    worker_errors: AtomicU64,
}

pub async fn run(dsn: &str, n: usize, seed: u64, crash: bool) -> Result<bool, String> {
    let started = Instant::now();
    let graph = Graph::new(n, seed);
    let doomed = graph.doomed();
    let cancelled_by_ancestor = graph.has_poisoned_ancestor();
    let edges: usize = graph.parents.iter().map(Vec::len).sum();
    println!(
        "graph: seed {seed}; {n} messages, {edges} dependencies, {} poison, {} descending from poison; {} workers in 2 queues",
        graph.poison.iter().filter(|p| **p).count(),
        doomed.iter().filter(|d| **d).count(),
        2 * WORKERS_PER_QUEUE
    );
    let pg = PgCtl::from_env();
    if crash && pg.is_none() {
        println!("graph: notice: PGMQ_PG_BIN / PGMQ_PG_DATADIR / PGMQ_PG_LOG not set: the server crash is skipped");
    }
    let client = Client::connect_with(&dsn_with_app_name(dsn, "chaos-graph"), ClientOptions::default().pool_size(12))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    client.migrate().await.map_err(|e| format!("migrate: {e}"))?;
    let names = [format!("graph-{seed}-a"), format!("graph-{seed}-b")];
    let options = QueueOptions::default().ack_deadline(ACK_DEADLINE).max_delivery_attempts(MAX_ATTEMPTS);
    for name in &names {
        client.delete_queue(name).await.map_err(|e| format!("delete_queue: {e}"))?;
        client.create_queue(name, &options).await.map_err(|e| format!("create_queue: {e}"))?;
    }
    let state = Arc::new(State {
        sent: (0..n).map(|_| watch::channel(None).0).collect(),
        ids: Mutex::new(HashMap::with_capacity(n)),
        runs: (0..n).map(|_| AtomicU64::new(0)).collect(),
        early: Mutex::new(Vec::new()),
        completed_runs: AtomicU64::new(0),
        worker_errors: AtomicU64::new(0),
        graph,
    });

    // Workers first: the graph runs while it is being sent.
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..2 * WORKERS_PER_QUEUE {
        let queue = client.queue(&names[w % 2]).map_err(|e| e.to_string())?;
        workers.push(tokio::spawn(work(queue, state.clone(), dsn.to_owned(), stop.clone())));
    }

    // Senders: node i is sent once its dependencies' sends have returned, 8 at a time.
    let next = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (state, next, queues) =
            (state.clone(), next.clone(), [client.queue(&names[0]).unwrap(), client.queue(&names[1]).unwrap()]);
        senders.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= state.graph.parents.len() {
                    return Ok::<(), String>(());
                }
                let outcome = send(&state, &queues[i % 2], i).await?;
                if let Sent::Id(id) = &outcome {
                    state.ids.lock().unwrap().insert(*id, i);
                }
                state.sent[i].send_replace(Some(outcome));
            }
        }));
    }
    for s in senders {
        s.await.map_err(|e| e.to_string())??;
    }
    let refused = (0..n).filter(|&i| matches!(*state.sent[i].borrow(), Some(Sent::Refused(_)))).count();
    println!("graph: {:6.1}s all sent ({refused} refused: a dependency had already failed)", started.elapsed().as_secs_f64());

    // The crash, once half the graph has run.
    let mut crashed = false;
    if let (true, Some(pg)) = (crash, &pg) {
        while (state.completed_runs.load(Ordering::Relaxed) as usize) < n / 2 && started.elapsed() < Duration::from_secs(300) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let at = state.completed_runs.load(Ordering::Relaxed);
        pg.restart(RestartKind::Sigkill).await.map_err(|e| format!("crash: {e}"))?;
        crashed = true;
        println!("graph: {:6.1}s server crashed (SIGKILL of every server process) after {at} completions, recovered", started.elapsed().as_secs_f64());
    }

    // Drain: until both queues are empty.
    let check = crate::workload::sql(dsn, "chaos-graph-check").await.map_err(|e| format!("check connection: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let left: i64 = check
            .query_one(
                "SELECT count(*) FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = ANY($1)",
                &[&names.to_vec()],
            )
            .await
            .map_err(|e| e.to_string())?
            .get(0);
        if left == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Release);
    for w in workers {
        let _ = w.await;
    }
    let secs = started.elapsed().as_secs_f64();

    // Verify.
    let ids: Vec<Uuid> = state.ids.lock().unwrap().keys().copied().collect();
    let mut outcomes: HashMap<Uuid, (String, Option<String>)> = HashMap::new();
    for chunk in ids.chunks(5_000) {
        for r in check
            .query("SELECT id, outcome, reason FROM pgmq.outcomes WHERE id = ANY($1)", &[&chunk.to_vec()])
            .await
            .map_err(|e| e.to_string())?
        {
            outcomes.insert(r.get(0), (r.get(1), r.get(2)));
        }
    }
    let leftovers: i64 = check
        .query_one(
            "SELECT (SELECT count(*) FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = ANY($1))
                  + (SELECT count(*) FROM pgmq.waiting WHERE id = ANY($2))
                  + (SELECT count(*) FROM pgmq.dependencies WHERE dependency = ANY($2) OR dependent = ANY($2))",
            &[&names.to_vec(), &ids],
        )
        .await
        .map_err(|e| e.to_string())?
        .get(0);
    let id_of = |i: usize| match &*state.sent[i].borrow() {
        Some(Sent::Id(id)) => Some(*id),
        _ => None,
    };
    let mut violations: Vec<String> = state.early.lock().unwrap().clone();
    let (mut completed, mut cancelled, mut dead, mut reran) = (0, 0, 0, 0);
    for i in 0..n {
        let runs = state.runs[i].load(Ordering::Relaxed);
        let Some(id) = id_of(i) else {
            if !doomed[i] {
                violations.push(format!("node {i} (no poisoned ancestor) was refused: {:?}", state.sent[i].borrow()));
            }
            continue;
        };
        let (outcome, reason) = outcomes.get(&id).cloned().unwrap_or_else(|| ("none".into(), None));
        if state.graph.poison[i] && !cancelled_by_ancestor[i] {
            dead += (outcome == "dead_lettered") as usize;
            if outcome != "dead_lettered" {
                violations.push(format!("poison node {i} ({id}) finished {outcome}, not dead_lettered"));
            }
        } else if doomed[i] {
            cancelled += (outcome == "cancelled") as usize;
            if runs > 0 {
                violations.push(format!("node {i} ({id}) ran {runs} times though a dependency never completed"));
            }
            let named = state.graph.parents[i].iter().filter_map(|&p| id_of(p).map(|pid| (pid, outcomes.get(&pid)))).any(
                |(pid, o)| matches!((o, &reason), (Some((po, _)), Some(r)) if *r == format!("dependency {pid} was {po}") && po != "completed"),
            );
            if outcome != "cancelled" || !named {
                violations.push(format!("node {i} ({id}) finished {outcome} (reason {reason:?}), not cancelled naming a failed dependency"));
            }
        } else {
            completed += (outcome == "completed") as usize;
            reran += (runs > 1) as usize;
            if outcome != "completed" || runs == 0 {
                violations.push(format!("node {i} ({id}) finished {outcome} after {runs} runs, not completed"));
            }
        }
    }
    if leftovers != 0 {
        violations.push(format!("{leftovers} messages, waiting rows or dependency edges left behind"));
    }
    println!(
        "graph: {secs:.1}s: {completed} completed, {dead} poison dead-lettered, {cancelled} cancelled by a failed dependency, {refused} refused; \
         {reran} ran twice (an ack lost in the crash){}; worker errors retried: {}",
        if crashed { "" } else { " (no crash)" },
        state.worker_errors.load(Ordering::Relaxed)
    );
    println!("graph: check ran-early / wrong outcome / left behind: {} violations", violations.len());
    for v in violations.iter().take(20) {
        println!("graph:     {v}");
    }
    client.close().await;
    let ok = violations.is_empty();
    println!("graph: {} passed, {} failed", ok as u8, (!ok) as u8);
    println!("chaos: {n} messages, {} lost, {reran} duplicated, seed {seed}", n - completed - dead - cancelled - refused);
    Ok(ok)
}

/// Sends node `i` once its dependencies' sends have returned. Refused (not an error) when a dependency
/// was refused or has already failed; a send that fails otherwise is an error of the run (sends all
/// happen before the crash).
async fn send(state: &State, queue: &pgmq_core::Queue, i: usize) -> Result<Sent, String> {
    let mut deps = Vec::new();
    for &p in &state.graph.parents[i] {
        let mut rx = state.sent[p].subscribe();
        let sent = rx.wait_for(Option::is_some).await.map_err(|e| e.to_string())?.clone();
        match sent {
            Some(Sent::Id(id)) => deps.push(id),
            _ => return Ok(Sent::Refused(format!("dependency node {p} was refused"))),
        }
    }
    let body = OutgoingMessage::new((i as u32).to_le_bytes().to_vec());
    match queue.send(body, &SendOptions::default().depends_on(deps)).await {
        Ok(sent) => Ok(Sent::Id(sent.id())),
        Err(Error::InvalidOption(m)) if m.contains("has already finished as") => Ok(Sent::Refused(m)),
        Err(e) => Err(format!("send of node {i}: {e}")),
    }
}

/// A worker: for each message, reads its dependencies' outcomes (every one must be completed: else it
/// ran early), counts the run, then fails a poison node or acks.
async fn work(queue: pgmq_core::Queue, state: Arc<State>, dsn: String, stop: Arc<AtomicBool>) {
    let errors = state.clone();
    let options = ReceiveOptions::default().on_error(move |_| {
        errors.worker_errors.fetch_add(1, Ordering::Relaxed);
    });
    let mut rx = queue.receiver(options).expect("receiver");
    let mut check: Option<tokio_postgres::Client> = None;
    while !stop.load(Ordering::Acquire) {
        let m = match tokio::time::timeout(Duration::from_millis(200), rx.next()).await {
            Err(_) => continue,
            Ok(Err(e)) => {
                eprintln!("graph: worker stops: {e}");
                break;
            }
            Ok(Ok(m)) => m,
        };
        if let Err(e) = handle(&m, &state, &dsn, &mut check).await {
            // The crash: drop the message (its lease lapses and it comes back) and the check connection.
            state.worker_errors.fetch_add(1, Ordering::Relaxed);
            check = None;
            eprintln!("graph: handler: {e}");
        }
    }
    rx.close();
}

async fn handle(m: &Message, state: &State, dsn: &str, check: &mut Option<tokio_postgres::Client>) -> Result<(), String> {
    let i = u32::from_le_bytes(m.body().try_into().map_err(|_| "bad body".to_owned())?) as usize;
    if check.is_none() {
        *check = Some(crate::workload::sql(dsn, "chaos-graph-worker").await.map_err(|e| e.to_string())?);
    }
    let deps: Vec<Uuid> = state.graph.parents[i]
        .iter()
        .map(|&p| match &*state.sent[p].borrow() {
            Some(Sent::Id(id)) => *id,
            other => panic!("node {i} was sent though its dependency {p} was not: {other:?}"),
        })
        .collect();
    let done: i64 = check
        .as_ref()
        .unwrap()
        .query_one("SELECT count(*) FROM pgmq.outcomes WHERE id = ANY($1) AND outcome = 'completed'", &[&deps])
        .await
        .map_err(|e| e.to_string())?
        .get(0);
    if done as usize != deps.len() {
        state.early.lock().unwrap().push(format!(
            "node {i} ({}) ran with {done} of its {} dependencies completed",
            m.id(),
            deps.len()
        ));
    }
    state.runs[i].fetch_add(1, Ordering::Relaxed);
    if state.graph.poison[i] {
        m.nack(NackOptions { delay: Some(Duration::ZERO), error: Some("poison".into()) }).await.map_err(|e| e.to_string())
    } else {
        m.ack().await.map_err(|e| e.to_string())?;
        state.completed_runs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_has_fan_out_fan_in_and_a_bounded_share_of_doomed_nodes() {
        let g = Graph::new(10_000, 7);
        assert!(g.parents.iter().enumerate().all(|(i, ps)| ps.iter().all(|&p| p < i)), "only earlier nodes");
        assert_eq!(g.parents[1000].len(), 200);
        assert_eq!(g.parents.iter().filter(|ps| ps.contains(&0)).count(), 200);
        let doomed = g.doomed().iter().filter(|d| **d).count();
        assert!((500..=700).contains(&doomed), "{doomed}");
    }
}
