//! Table-size sampling (every 10 s in soak mode) and the bloat verdict.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::workload::sql;

/// One reading of one table.
#[derive(Clone, Debug, Default)]
pub struct TableSample {
    pub heap: i64,
    pub indexes: i64,
    pub total: i64,
    pub live: i64,
    pub dead: i64,
    pub autovacuums: i64,
}

#[derive(Clone, Debug)]
pub struct Sample {
    pub at: Duration,
    pub messages: TableSample,
    pub outcomes: TableSample,
}

const QUERY: &str = "
SELECT c.relname::text, pg_relation_size(c.oid), pg_indexes_size(c.oid), pg_total_relation_size(c.oid),
       s.n_live_tup, s.n_dead_tup, s.autovacuum_count
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = 'pgmq' AND c.relname IN ('messages', 'outcomes')";

pub async fn read(client: &tokio_postgres::Client, at: Duration) -> Result<Sample, tokio_postgres::Error> {
    let mut sample = Sample { at, messages: TableSample::default(), outcomes: TableSample::default() };
    for row in client.query(QUERY, &[]).await? {
        let t = TableSample {
            heap: row.get(1),
            indexes: row.get(2),
            total: row.get(3),
            live: row.get(4),
            dead: row.get(5),
            autovacuums: row.get(6),
        };
        if row.get::<_, String>(0) == "messages" {
            sample.messages = t;
        } else {
            sample.outcomes = t;
        }
    }
    Ok(sample)
}

fn mb(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub fn describe(s: &Sample) -> String {
    let t = |name: &str, x: &TableSample| {
        format!(
            "{name} {:6.2} MB (heap {:5.2}, indexes {:5.2}) live {:7} dead {:6} autovacuums {:3}",
            mb(x.total),
            mb(x.heap),
            mb(x.indexes),
            x.live,
            x.dead,
            x.autovacuums
        )
    };
    format!("t={:4.0}s {} | {}", s.at.as_secs_f64(), t("messages", &s.messages), t("outcomes", &s.outcomes))
}

/// Samples every `every` until `stop`, printing each sample.
pub async fn sampler(
    dsn: String,
    every: Duration,
    started: Instant,
    stop: Arc<AtomicBool>,
    out: Arc<Mutex<Vec<Sample>>>,
) {
    let mut client: Option<tokio_postgres::Client> = None;
    loop {
        let deadline = Instant::now() + every;
        while Instant::now() < deadline {
            if stop.load(Ordering::Acquire) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            client = sql(&dsn, "chaos-verify").await.ok();
        }
        let Some(c) = &client else { continue };
        if let Ok(s) = read(c, started.elapsed()).await {
            println!("soak: {}", describe(&s));
            out.lock().unwrap().push(s);
        }
    }
}

/// The bloat verdict: for each table, the largest total size (heap + indexes + TOAST) in the last third
/// of the samples must not exceed `factor` x the largest in the first third (plus 1 MB of slack for
/// tables that are tiny anyway). A table that grows without bound grows ~3x between the two thirds.
pub fn verdict(samples: &[Sample], factor: f64) -> (bool, Vec<String>) {
    if samples.len() < 6 {
        return (false, vec![format!("only {} samples: run the soak longer", samples.len())]);
    }
    let third = samples.len() / 3;
    let mut ok = true;
    let mut lines = Vec::new();
    for (name, get) in [
        ("pgmq.messages", (|s: &Sample| s.messages.total) as fn(&Sample) -> i64),
        ("pgmq.outcomes", |s: &Sample| s.outcomes.total),
    ] {
        let first = samples[..third].iter().map(get).max().unwrap_or(0);
        let last = samples[samples.len() - third..].iter().map(get).max().unwrap_or(0);
        let limit = first as f64 * factor + 1024.0 * 1024.0;
        let pass = (last as f64) <= limit;
        ok &= pass;
        lines.push(format!(
            "{name}: largest {:.2} MB in the last third vs {:.2} MB in the first third (limit {factor}x + 1 MB = {:.2} MB): {}",
            mb(last),
            mb(first),
            limit / (1024.0 * 1024.0),
            if pass { "bounded" } else { "GROWING" }
        ));
    }
    (ok, lines)
}
