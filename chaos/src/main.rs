//! `pgmq-chaos`: runs a seeded, randomized workload against PostgreSQL with worker processes in Rust,
//! Python and Node, injects faults while it runs (SIGKILL and SIGSTOP of workers holding leases,
//! `pg_terminate_backend` of LISTEN and work connections, server restarts: `pg_ctl restart -m fast`, and
//! crashes with recovery: `pg_ctl stop -m immediate` and SIGKILL of every server process), then checks
//! from the database and from every process's log that nothing was lost, completed twice, or processed
//! under two live leases. `--soak` runs a steady load for a fixed time and also samples the table sizes.
//!
//! ```text
//! pgmq-chaos [--messages N] [--seed S] [--rate R] [--workers RUST,PYTHON,NODE] [--concurrency C]
//!            [--no-faults] [--drain-timeout SECS] [--out DIR] [--keep-logs] [--soak [--duration SECS]]
//! ```
//! Needs `DATABASE_URL`; server restarts need the variables of tests/with-postgres.sh (`PGMQ_PG_BIN`,
//! `PGMQ_PG_DATADIR`, `PGMQ_PG_LOG`, `PGMQ_PG_RUNAS`) and are skipped, with a notice, without them.
//! Ends with `chaos: N messages, L lost, D duplicated, seed S`; exits 1 on any violation.

mod faults;
mod graph;
mod model;
mod soak;
mod verify;
mod workers;
mod workload;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgmq_chaos::{dsn_with_app_name, Rng};
use pgmq_core::{dlq_name, Client, ClientOptions, DeadLetterOptions, QueueOptions, Uuid};
use tokio::sync::Semaphore;

use crate::faults::{Injector, PgCtl, Rates, Restarts};
use crate::model::{hash, Counters, Fin, Store, Q};
use crate::verify::{DbFinal, DlqRow, CHECKS};
use crate::workers::{Supervisor, SupervisorConfig};
use crate::workload::{sql, sweep, Generator, Load, Senders, MAX_WAITERS};

const ACK_DEADLINE: Duration = Duration::from_secs(2);
const MAX_ATTEMPTS: u32 = 4;

struct Args {
    messages: u64,
    seed: u64,
    rate: Option<f64>,
    workers: [usize; 3],
    concurrency: usize,
    faults: bool,
    keep_logs: bool,
    drain_timeout: Duration,
    out: Option<PathBuf>,
    soak: Option<Duration>,
    graph: Option<usize>,
}

fn usage(msg: &str) -> ! {
    eprintln!("pgmq-chaos: {msg}");
    eprintln!(
        "usage: pgmq-chaos [--messages N] [--seed S] [--rate MSGS_PER_S] [--workers RUST,PYTHON,NODE] [--concurrency C]\n\
         \x20                 [--no-faults] [--drain-timeout SECS] [--out DIR] [--keep-logs] [--soak [--duration SECS]]\n\
         \x20      pgmq-chaos --graph N [--seed S] [--no-faults]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        messages: 100_000,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_000),
        rate: None,
        workers: [3, 3, 3],
        concurrency: 8,
        faults: true,
        keep_logs: false,
        drain_timeout: Duration::from_secs(90),
        out: None,
        soak: None,
        graph: None,
    };
    let mut it = std::env::args().skip(1);
    let mut duration = Duration::from_secs(600);
    let mut soak = false;
    let mut messages_given = false;
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().unwrap_or_else(|| usage(&format!("{name} needs a value")));
        let num = |v: String, name: &str| v.parse::<u64>().unwrap_or_else(|_| usage(&format!("bad {name}: {v}")));
        match a.as_str() {
            "--messages" => {
                args.messages = num(value("--messages"), "--messages");
                messages_given = true;
            }
            "--seed" => args.seed = num(value("--seed"), "--seed"),
            "--rate" => args.rate = Some(num(value("--rate"), "--rate") as f64),
            "--concurrency" => args.concurrency = num(value("--concurrency"), "--concurrency") as usize,
            "--drain-timeout" => {
                args.drain_timeout = Duration::from_secs(num(value("--drain-timeout"), "--drain-timeout"))
            }
            "--duration" => duration = Duration::from_secs(num(value("--duration"), "--duration")),
            "--out" => args.out = Some(value("--out").into()),
            "--no-faults" => args.faults = false,
            "--keep-logs" => args.keep_logs = true,
            "--soak" => soak = true,
            "--graph" => args.graph = Some(num(value("--graph"), "--graph") as usize),
            "--workers" => {
                let v = value("--workers");
                let parts: Vec<usize> = v.split(',').map(|p| num(p.to_owned(), "--workers") as usize).collect();
                if parts.len() != 3 || parts.iter().sum::<usize>() == 0 {
                    usage("--workers takes RUST,PYTHON,NODE counts, e.g. 3,3,3");
                }
                args.workers = [parts[0], parts[1], parts[2]];
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if soak {
        args.soak = Some(duration);
        if !messages_given {
            args.messages = u64::MAX;
        }
    }
    args
}

fn root_dir() -> PathBuf {
    // chaos/ is a member of the workspace: the repository root (where .venv and package.json are) is its
    // parent. Override with CHAOS_ROOT when the binary runs elsewhere.
    std::env::var("CHAOS_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let outcome = match args.graph {
        Some(n) => match std::env::var("DATABASE_URL") {
            Ok(dsn) => graph::run(&dsn, n.max(2), args.seed, args.faults).await.map(|ok| if ok { 0 } else { 1 }),
            Err(_) => Err("DATABASE_URL is not set (run it under tests/with-postgres.sh)".to_owned()),
        },
        None => run(args).await,
    };
    let code = match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pgmq-chaos: {e}");
            println!("chaos: 0 passed, 1 failed");
            2
        }
    };
    std::process::exit(code);
}

async fn run(args: Args) -> Result<i32, String> {
    let dsn = std::env::var("DATABASE_URL")
        .map_err(|_| "DATABASE_URL is not set (run it under tests/with-postgres.sh)".to_owned())?;
    let seed = args.seed;
    let mode = if args.soak.is_some() { "soak" } else { "chaos" };
    let root = root_dir().canonicalize().map_err(|e| format!("repository root: {e}"))?;
    let out = args.out.clone().unwrap_or_else(|| root.join(format!("target/chaos/{mode}-{seed}")));
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let log = std::fs::File::create(out.join("events.log")).map_err(|e| format!("events.log: {e}"))?;
    let store = Arc::new(Store::new(log));
    let pg = PgCtl::from_env();

    // Pace: a short run takes ~50 s of sending; the default 100k sends at 700 msg/s.
    let rate = args.rate.unwrap_or(if args.soak.is_some() {
        300.0
    } else {
        (args.messages as f64 / 50.0).clamp(100.0, 700.0)
    });
    println!(
        "{mode}: seed {seed} (reproduce the workload and fault schedule with --seed {seed}); {} messages at {rate:.0}/s; \
         workers: {} Rust, {} Python, {} Node x {} concurrent handlers; log and worker stderr in {} (kept if the run fails, or with --keep-logs)",
        args.soak.map_or(args.messages.to_string(), |d| format!("{} s of", d.as_secs())),
        args.workers[0], args.workers[1], args.workers[2], args.concurrency, out.display()
    );
    if args.faults && pg.is_none() {
        println!("{mode}: notice: PGMQ_PG_BIN / PGMQ_PG_DATADIR / PGMQ_PG_LOG not set (not the throwaway cluster): server restarts are skipped");
    }

    // Queues: recreated for this seed.
    let main_name = format!("{mode}-{seed}");
    let exp_name = format!("{mode}-{seed}-exp");
    let client = Client::connect_with(&dsn_with_app_name(&dsn, "chaos-orch"), ClientOptions::default().pool_size(8))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    client.migrate().await.map_err(|e| format!("migrate: {e}"))?;
    for name in [&main_name, &exp_name] {
        client.delete_queue(name).await.map_err(|e| format!("delete_queue: {e}"))?;
    }
    // Soak: outcome records are kept 2 minutes, so that table reaches its steady size within the run
    let retention = if args.soak.is_some() { Duration::from_secs(120) } else { Duration::from_secs(86_400) };
    // (and so are the dead letters: the tables then hold a bounded window, whatever the run's length).
    let dlq = DeadLetterOptions { retention_period: retention, ..DeadLetterOptions::default() };
    let main_options = QueueOptions::default()
        .ack_deadline(ACK_DEADLINE)
        .max_delivery_attempts(MAX_ATTEMPTS)
        .retention_period(retention)
        .dead_letter_queue(Some(dlq.clone()));
    let exp_options = QueueOptions::default()
        .ack_deadline(ACK_DEADLINE)
        .retention_period(Duration::from_secs(3))
        .dead_letter_queue(Some(dlq));
    client.create_queue(&main_name, &main_options).await.map_err(|e| format!("create_queue: {e}"))?;
    client.create_queue(&exp_name, &exp_options).await.map_err(|e| format!("create_queue: {e}"))?;
    let main_queue = client.queue(&main_name).map_err(|e| e.to_string())?;
    let exp_queue = client.queue(&exp_name).map_err(|e| e.to_string())?;

    // Workers.
    let sup = Supervisor::new(
        SupervisorConfig {
            dsn: dsn.clone(),
            queue: main_name.clone(),
            concurrency: args.concurrency,
            root: root.clone(),
            out: out.clone(),
            counts: args.workers,
        },
        store.clone(),
    );
    for slot in 0..sup.slots.len() {
        if let Err(e) = sup.spawn(slot) {
            sup.shutdown();
            return Err(format!("cannot start worker {}: {e}", sup.label(slot)));
        }
    }
    let labels: Vec<String> = (0..sup.slots.len()).map(|s| sup.label(s)).collect();

    let started = Instant::now();
    let stop_sweeper = Arc::new(AtomicBool::new(false));
    let sweeper =
        tokio::spawn(workload::sweeper(store.clone(), dsn.clone(), Duration::from_millis(500), stop_sweeper.clone()));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = args.soak.map(|_| {
        tokio::spawn(soak::sampler(
            dsn.clone(),
            Duration::from_secs(10),
            started,
            stop_sweeper.clone(),
            samples.clone(),
        ))
    });

    // Faults.
    let stop_faults = Arc::new(AtomicBool::new(false));
    let mut rng = Rng::new(seed, 2);
    let restarts = match args.soak {
        Some(_) => Restarts::Every { min: Duration::from_secs(100), max: Duration::from_secs(160) },
        None => {
            // One per 20k messages, at least three (so that each kind of restart comes at least once: see
            // RestartKinds), at seeded points between 15% and 85% of the sends.
            let count = (args.messages / 20_000).max(3);
            let span = 0.7 / count as f64;
            Restarts::AtMessages(
                (0..count)
                    .map(|i| ((0.15 + span * (i as f64 + 0.2 + 0.6 * rng.f64())) * args.messages as f64) as u64)
                    .collect(),
            )
        }
    };
    let injector = Arc::new(Injector {
        sup: sup.clone(),
        store: store.clone(),
        dsn: dsn.clone(),
        seed,
        rates: Rates { kill: 4.0, stall: 12.0, listen: 6.0, work: 3.0 },
        restarts,
        pg: pg.clone(),
        ack_deadline: ACK_DEADLINE,
        stop: stop_faults.clone(),
        started,
        mode,
    });
    let fault_tasks = if args.faults { injector.clone().start() } else { Vec::new() };

    // Load.
    let senders = Arc::new(Senders {
        store: store.clone(),
        main: main_queue.clone(),
        exp: exp_queue.clone(),
        load: Load { messages: args.messages, duration: args.soak, rate, in_flight: 1_500 },
        generator: Mutex::new(Generator::new(seed)),
        started,
        waiter_slots: Arc::new(Semaphore::new(MAX_WAITERS)),
        stop: AtomicBool::new(false),
    });
    let send_tasks: Vec<_> = (0..4).map(|_| tokio::spawn(senders.clone().run())).collect();
    let progress = tokio::spawn(progress(store.clone(), started, args.messages, mode));
    let on_ctrl_c = sup.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.shutdown();
            println!("{mode}: interrupted");
            std::process::exit(130);
        }
    });
    for t in send_tasks {
        let _ = t.await;
    }
    let send_secs = started.elapsed().as_secs_f64();
    println!("{mode}: {:6.1}s all {} messages sent; faults stop, draining", send_secs, store.sent_count());

    // Drain: faults stop (a stall in progress ends with its SIGCONT, a restart with the server up), then
    // wait until every message has an outcome.
    stop_faults.store(true, Ordering::Release);
    for t in fault_tasks {
        let _ = t.await;
    }
    let drain_started = Instant::now();
    while !store.pending.lock().unwrap().is_empty() && drain_started.elapsed() < args.drain_timeout {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained = store.pending.lock().unwrap().is_empty();
    let drain_secs = drain_started.elapsed().as_secs_f64();
    let hung_waiters = senders.wait_for_waiters(Duration::from_secs(if drained { 20 } else { 1 })).await;
    progress.abort();

    // Stop everything, then read the final state.
    sup.shutdown();
    let exit_wait = Instant::now();
    while !sup.all_exited() && exit_wait.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_sweeper.store(true, Ordering::Release);
    let _ = sweeper.await;
    if let Some(s) = sampler {
        let _ = s.await;
    }
    let verify_client = sql(&dsn, "chaos-verify").await.map_err(|e| format!("verification connection: {e}"))?;
    sweep(&store, &verify_client).await.map_err(|e| format!("final sweep: {e}"))?;
    let db =
        final_state(&store, &verify_client, &main_name, &exp_name).await.map_err(|e| format!("final read: {e}"))?;
    let end_sample = soak::read(&verify_client, started.elapsed()).await.ok();
    client.close().await;

    let report = verify::verify(&store, &db, MAX_ATTEMPTS, hung_waiters, &labels, args.soak.map(|_| retention));
    let c = &store.counters;
    let g = Counters::get;

    let (to_main, to_exp) = {
        let sent = store.sent.lock().unwrap();
        let main = sent.iter().filter(|m| m.queue == Q::Main).count();
        (main, sent.len() - main)
    };
    println!("{mode}: ---- summary (seed {seed}) ----");
    println!(
        "{mode}: {} messages sent in {} calls ({} to the consumed queue, {} to the expiring one) over {:.1} s, drained in {:.1} s{}",
        report.messages,
        g(&c.send_calls),
        to_main,
        to_exp,
        send_secs,
        drain_secs,
        if drained { String::new() } else { format!(" (NOT drained after {} s)", args.drain_timeout.as_secs()) }
    );
    for line in &report.lines {
        println!("{mode}: {line}");
    }
    let restarts = g(&c.restarts);
    println!(
        "{mode}: faults: {} worker SIGKILLs ({} holding leases), {} SIGSTOP stalls past the lease deadline, {} LISTEN connections and {} work connections terminated ({} backends), {} server restarts ({} clean, {} immediate stop, {} SIGKILL of every server process){}; {} skipped (nothing to hit)",
        g(&c.kills), g(&c.kills_holding), g(&c.stalls), g(&c.listen_kills), g(&c.work_kills), g(&c.work_backends), restarts,
        g(&c.restarts_clean), g(&c.restarts_immediate), g(&c.restarts_sigkill),
        if restarts > 0 { format!(", down {:.2} s on average", g(&c.restart_ms) as f64 / restarts as f64 / 1000.0) } else { String::new() },
        g(&c.fault_skips)
    );
    println!(
        "{mode}: send errors retried: {}; orchestrator cancels: {}; worker errors logged (receive/connect): {}; unexpected worker exits: {}; waiters not started (cap {MAX_WAITERS}): {}",
        g(&c.send_errors), g(&c.orch_cancels), g(&c.worker_errors), g(&c.crashes), g(&c.waiters_skipped)
    );
    if let Some(s) = &end_sample {
        println!("{mode}: table sizes at the end: {}", soak::describe(s));
    }
    for (kind, what) in CHECKS {
        let (n, examples) = report.violations.get(kind).cloned().unwrap_or((0, Vec::new()));
        println!("{mode}: check {kind:<24} {n:>6}  ({what})");
        for e in examples {
            println!("{mode}:     {e}");
        }
    }
    let mut ok = report.passed();
    if args.soak.is_some() {
        let samples = samples.lock().unwrap().clone();
        let (bounded, lines) = soak::verdict(&samples, 2.0);
        for l in lines {
            println!("soak: {l}");
        }
        println!(
            "soak: verdict: {}",
            if bounded { "table sizes bounded under steady load" } else { "TABLES GROW (or too few samples)" }
        );
        ok &= bounded;
    }
    // The logs (events.log: every worker line; <worker>.err: their stderr) stay for a post-mortem when
    // the run failed, or with --keep-logs.
    if !ok || args.keep_logs {
        let sent: Vec<Uuid> = store.sent.lock().unwrap().iter().map(|m| m.id).collect();
        for id in sent {
            let outcome = db.outcomes.get(&id).map_or("none", |f| f.as_str());
            let state = db.remaining.get(&id).map_or("", String::as_str);
            store.log_line(
                "database",
                &serde_json::json!({"e": "final", "id": id.to_string(), "outcome": outcome, "queued": state})
                    .to_string(),
            );
        }
    }
    let _ = store.log.lock().unwrap().flush();
    if ok && !args.keep_logs {
        let _ = std::fs::remove_dir_all(&out);
    } else {
        println!(
            "{mode}: the run's log (sends, every worker line, final outcomes) is {}; worker stderr beside it",
            out.join("events.log").display()
        );
    }
    println!("{mode}: {} passed, {} failed", ok as u8, (!ok) as u8);
    println!(
        "chaos: {} messages, {} lost, {} duplicated, seed {seed}",
        report.messages, report.lost, report.duplicated
    );
    Ok(if ok { 0 } else { 1 })
}

async fn progress(store: Arc<Store>, started: Instant, total: u64, mode: &str) {
    let mode = mode.to_owned();
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let sent = store.sent_count();
        let finished = store.finished_count();
        let c = &store.counters;
        let deliveries = store.events.lock().unwrap().iter().filter(|e| e.kind == model::Kind::Recv).count();
        println!(
            "{mode}: {:6.1}s sent {sent}{}, finished {finished}, in flight {}, deliveries {deliveries}; faults so far: {} kills, {} stalls, {} LISTEN, {} work, {} restarts",
            started.elapsed().as_secs_f64(),
            if total == u64::MAX { String::new() } else { format!("/{total}") },
            sent.saturating_sub(finished),
            Counters::get(&c.kills), Counters::get(&c.stalls), Counters::get(&c.listen_kills), Counters::get(&c.work_kills), Counters::get(&c.restarts)
        );
    }
}

/// Reads the final state: outcome records of every id sent, what is still queued, the DLQs, and
/// outcome records of ids nobody recorded sending.
async fn final_state(
    store: &Store,
    client: &tokio_postgres::Client,
    main: &str,
    exp: &str,
) -> Result<DbFinal, tokio_postgres::Error> {
    let sent: Vec<(Uuid, Q)> = store.sent.lock().unwrap().iter().map(|m| (m.id, m.queue)).collect();
    let mut db = DbFinal::default();
    for chunk in sent.chunks(20_000) {
        let ids: Vec<Uuid> = chunk.iter().map(|(id, _)| *id).collect();
        for row in client.query("SELECT id, outcome FROM pgmq.outcomes WHERE id = ANY($1)", &[&ids]).await? {
            if let Some(f) = Fin::parse(row.get(1)) {
                db.outcomes.insert(row.get(0), f);
            }
        }
    }
    let names = vec![main.to_owned(), exp.to_owned()];
    let rows = client
        .query(
            "SELECT m.id, q.name, m.delivery_attempts, m.lease_token IS NOT NULL, m.cancel_requested, m.last_lease,
                    round(extract(epoch FROM m.available_at - now())::numeric, 1)::text
             FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = ANY($1)",
            &[&names],
        )
        .await?;
    for r in rows {
        let desc = format!(
            "in {}, {} attempts, {}{}{}, available in {} s",
            r.get::<_, String>(1),
            r.get::<_, i32>(2),
            if r.get::<_, bool>(3) { "leased" } else { "not leased" },
            if r.get::<_, bool>(4) { ", cancel requested" } else { "" },
            if r.get::<_, bool>(5) { ", last lease" } else { "" },
            r.get::<_, String>(6)
        );
        db.remaining.insert(r.get(0), desc);
    }
    for (name, target) in [(dlq_name(main), &mut db.dlq_main), (dlq_name(exp), &mut db.dlq_exp)] {
        let rows = client
            .query(
                "SELECT m.id, m.body, m.dead_letter_attempts, m.last_error
                 FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = $1",
                &[&name],
            )
            .await?;
        for r in rows {
            target.insert(
                r.get(0),
                DlqRow { body_hash: hash(r.get::<_, &[u8]>(1)), attempts: r.get(2), last_error: r.get(3) },
            );
        }
    }
    let known: std::collections::HashSet<Uuid> = sent.iter().map(|(id, _)| *id).collect();
    let rows = client
        .query(
            "SELECT o.id, o.outcome FROM pgmq.outcomes o JOIN pgmq.queues q ON q.id = o.queue_id WHERE q.name = ANY($1)",
            &[&names],
        )
        .await?;
    for r in rows {
        let id: Uuid = r.get(0);
        if !known.contains(&id) {
            if let Some(f) = Fin::parse(r.get(1)) {
                db.orphans.push((id, f));
            }
        }
    }
    Ok(db)
}
