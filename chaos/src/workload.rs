//! The seeded workload: what to send (behaviours, batches, delays, schedules, the expiring queue), the
//! senders, the completion waiters, the orchestrator's own cancels, and the sweeper that records each
//! message's outcome as soon as it exists.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use pgmq_chaos::{mono_us, Rng};
use pgmq_core::{Completion, Error, OutgoingMessage, Queue, SendOptions, Uuid};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::model::{hash, Counters, Event, Fin, Kind, Res, Sent, Store, Waited, Q};

/// How much to send and how fast.
#[derive(Clone, Debug)]
pub struct Load {
    /// Stop after this many messages...
    pub messages: u64,
    /// ...or after this long (soak), whichever comes first.
    pub duration: Option<Duration>,
    /// Messages per second.
    pub rate: f64,
    /// Most messages sent but not finished at once.
    pub in_flight: u64,
}

struct Planned {
    n: u64,
    behaviour: &'static str,
    body: Vec<u8>,
}

struct Plan {
    queue: Q,
    msgs: Vec<Planned>,
    single: bool,
    delay: Option<Duration>,
    schedule_in: Option<Duration>,
    wait: bool,
    late_wait: bool,
    orch_cancel: bool,
}

/// The message generator: every choice comes from one seeded stream, so a seed gives the same sequence
/// of sends (behaviours, sizes, batches, delays).
pub struct Generator {
    rng: Rng,
    next_n: u64,
    /// Recently sent main-queue messages: (id, behaviour, delayed), cancel targets.
    recent: VecDeque<(Uuid, &'static str, bool)>,
}

const PAD: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator { rng: Rng::new(seed, 1), next_n: 0, recent: VecDeque::new() }
    }

    fn behaviour(&mut self) -> (&'static str, serde_json::Value) {
        let r = self.rng.f64();
        let mut extra = json!({});
        let b = if r < 0.08 {
            extra["k"] = json!(if self.rng.chance(0.3) { 2 } else { 1 });
            "raise"
        } else if r < 0.14 {
            "nack_once"
        } else if r < 0.17 {
            "fail"
        } else if r < 0.185 {
            extra["ms"] = json!(self.rng.range(2200, 3200));
            "slow"
        } else if r < 0.22 && !self.recent.is_empty() {
            // Prefer targets likely to be held (slow) or still scheduled (delayed): the two cancel paths.
            let want = self.rng.f64();
            let pick = (0..8)
                .map(|_| *self.rng.pick(self.recent.make_contiguous()))
                .find(|(_, b, delayed)| {
                    if want < 0.4 {
                        *b == "slow"
                    } else if want < 0.7 {
                        *delayed
                    } else {
                        true
                    }
                })
                .unwrap_or_else(|| *self.rng.pick(self.recent.make_contiguous()));
            extra["target"] = json!(pick.0.to_string());
            "cancel"
        } else {
            "ok"
        };
        (b, extra)
    }

    fn message(&mut self, behaviour: Option<&'static str>) -> Planned {
        let n = self.next_n;
        self.next_n += 1;
        let (b, mut v) = match behaviour {
            Some(b) => (b, json!({})),
            None => self.behaviour(),
        };
        let pad_len = if self.rng.chance(0.05) { self.rng.range(1000, 3000) } else { self.rng.range(0, 300) };
        let pad: String = (0..pad_len).map(|_| PAD[self.rng.range(0, PAD.len() as u64 - 1) as usize] as char).collect();
        v["n"] = json!(n);
        v["b"] = json!(b);
        v["pad"] = json!(pad);
        Planned { n, behaviour: b, body: v.to_string().into_bytes() }
    }

    fn plan(&mut self, left: u64) -> Plan {
        let r = self.rng.f64();
        if r < 0.01 {
            // The expiring queue: nobody consumes it.
            let count = self.rng.range(1, 3).min(left);
            let msgs = (0..count).map(|_| self.message(Some("expire"))).collect();
            let delay = self.rng.chance(0.5).then(|| Duration::from_millis(self.rng.range(300, 1500)));
            let wait = self.rng.chance(0.2);
            return Plan {
                queue: Q::Exp,
                msgs,
                single: count == 1,
                delay,
                schedule_in: None,
                wait,
                late_wait: false,
                orch_cancel: false,
            };
        }
        let single = self.rng.chance(0.35);
        let count = if single { 1 } else { self.rng.range(2, 40) }.min(left);
        let msgs = (0..count).map(|_| self.message(None)).collect();
        let t = self.rng.f64();
        let (delay, schedule_in) = if t < 0.08 {
            (Some(Duration::from_millis(self.rng.range(100, 3000))), None)
        } else if t < 0.11 {
            (None, Some(Duration::from_millis(self.rng.range(200, 2000))))
        } else {
            (None, None)
        };
        let wait = self.rng.chance(0.05);
        let late_wait = self.rng.chance(0.005);
        let orch_cancel = (delay.is_some() || schedule_in.is_some()) && self.rng.chance(0.15);
        Plan { queue: Q::Main, msgs, single: count == 1, delay, schedule_in, wait, late_wait, orch_cancel }
    }

    fn remember(&mut self, sent: &[(Uuid, &'static str)], delayed: bool) {
        for (id, b) in sent {
            self.recent.push_back((*id, b, delayed));
        }
        while self.recent.len() > 400 {
            self.recent.pop_front();
        }
    }
}

/// What the senders share.
pub struct Senders {
    pub store: Arc<Store>,
    pub main: Queue,
    pub exp: Queue,
    pub load: Load,
    pub generator: Mutex<Generator>,
    pub started: Instant,
    pub waiter_slots: Arc<Semaphore>,
    pub stop: AtomicBool,
}

/// Most completion waiters running at once (each is a task of the orchestrator's client).
pub const MAX_WAITERS: usize = 400;

impl Senders {
    /// One sending task: paced to `rate`, held back while `in_flight` messages are unfinished.
    pub async fn run(self: Arc<Self>) {
        loop {
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            // Hold back while too much is in flight (the sweeper counts what finished).
            while self.store.sent_count().saturating_sub(self.store.finished_count()) > self.load.in_flight {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let plan = {
                let mut g = self.generator.lock().unwrap();
                let out_of_time = self.load.duration.is_some_and(|d| self.started.elapsed() >= d);
                if g.next_n >= self.load.messages || out_of_time {
                    self.stop.store(true, Ordering::Release);
                    return;
                }
                let left = self.load.messages - g.next_n;
                g.plan(left)
            };
            let due = self.started + Duration::from_secs_f64(plan.msgs[0].n as f64 / self.load.rate);
            tokio::time::sleep_until(due.into()).await;
            self.send(plan).await;
        }
    }

    async fn send(&self, plan: Plan) {
        let queue = if plan.queue == Q::Main { &self.main } else { &self.exp };
        let completion: Completion = loop {
            let mut options = SendOptions::default();
            if let Some(d) = plan.delay {
                options = options.delay(d);
            }
            if let Some(d) = plan.schedule_in {
                options = options.schedule_at(SystemTime::now() + d);
            }
            let messages: Vec<OutgoingMessage> =
                plan.msgs.iter().map(|m| OutgoingMessage::new(m.body.clone()).attribute("b", m.behaviour)).collect();
            Counters::add(&self.store.counters.send_calls, 1);
            let result = if plan.single {
                queue.send(messages.into_iter().next().unwrap(), &options).await.map(|s| s.into_completion())
            } else {
                queue.send_batch(messages, &options).await
            };
            match result {
                Ok(c) => break c,
                Err(Error::Connection(_) | Error::Database(_)) => {
                    // It may have committed all the same: note the message numbers, send them again.
                    Counters::add(&self.store.counters.send_errors, 1);
                    self.store.ambiguous.lock().unwrap().extend(plan.msgs.iter().map(|m| m.n));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("chaos: send failed for good: {e}"),
            }
        };
        let ids = completion.ids().to_vec();
        let t = mono_us();
        for (m, id) in plan.msgs.iter().zip(&ids) {
            let q = if plan.queue == Q::Main { "main" } else { "exp" };
            let line = json!({"e": "send", "id": id.to_string(), "n": m.n, "b": m.behaviour, "q": q, "t": t});
            self.store.log_line("orchestrator", &line.to_string());
        }
        {
            let mut sent = self.store.sent.lock().unwrap();
            let mut pending = self.store.pending.lock().unwrap();
            for (m, id) in plan.msgs.iter().zip(&ids) {
                sent.push(Sent {
                    id: *id,
                    n: m.n,
                    queue: plan.queue,
                    behaviour: m.behaviour,
                    body_hash: hash(&m.body),
                });
                pending.insert(*id);
            }
        }
        if plan.queue == Q::Main {
            let pairs: Vec<(Uuid, &'static str)> =
                plan.msgs.iter().zip(&ids).map(|(m, id)| (*id, m.behaviour)).collect();
            let delayed = plan.delay.is_some() || plan.schedule_in.is_some();
            self.generator.lock().unwrap().remember(&pairs, delayed);
        }
        if plan.wait {
            self.spawn_waiter(completion.clone());
        }
        if plan.late_wait {
            // A waiter started later, by id, from anyone: Queue::completion.
            let id = ids[0];
            if let Ok(c) = queue.completion(&[id]).await {
                self.spawn_waiter(c);
            }
        }
        if plan.orch_cancel {
            let target = ids[ids.len() / 2];
            self.cancel(queue, target).await;
        }
    }

    fn spawn_waiter(&self, completion: Completion) {
        let Ok(permit) = self.waiter_slots.clone().try_acquire_owned() else {
            Counters::add(&self.store.counters.waiters_skipped, 1);
            return;
        };
        let store = self.store.clone();
        tokio::spawn(async move {
            let completion = completion.with_poll_interval(Duration::from_secs(5));
            let mut retries = 0;
            let result = loop {
                match completion.wait().await {
                    Ok(map) => break Ok(map.into_iter().map(|(id, o)| (id, Fin::from_outcome(o))).collect()),
                    Err(Error::Connection(_) | Error::Database(_)) => {
                        retries += 1;
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    Err(e) => break Err(format!("{}: {e}", e.code())),
                }
            };
            store.waited.lock().unwrap().push(Waited { ids: completion.ids().to_vec(), result, retries });
            drop(permit);
        });
    }

    /// The orchestrator's own cancel of a message it just scheduled: the guaranteed path.
    async fn cancel(&self, queue: &Queue, target: Uuid) {
        Counters::add(&self.store.counters.orch_cancels, 1);
        let start = mono_us();
        let event = |kind, res, t, start| Event {
            kind,
            worker: u16::MAX,
            inc: 0,
            id: target,
            a: 0,
            t,
            start,
            t0: 0,
            tok: None,
            res,
            target: Some(target),
        };
        self.store.events.lock().unwrap().push(event(Kind::Cancel, Res::None, start, 0));
        let res = match queue.cancel(&[target]).await {
            Ok(found) if found.contains(&target) => Res::Found,
            Ok(_) => Res::NotFound,
            Err(Error::Connection(_) | Error::Database(_) | Error::Closed) => Res::Ambiguous,
            Err(_) => Res::Other,
        };
        self.store.events.lock().unwrap().push(event(Kind::CancelR, res, mono_us(), start));
    }

    /// Waits (up to `limit`) for every waiter to finish; returns how many are still running.
    pub async fn wait_for_waiters(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let running = MAX_WAITERS - self.waiter_slots.available_permits();
            if running == 0 || Instant::now() >= deadline {
                return running;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Connects a plain SQL session (for the sweeper, the fault injector and the final reads).
pub async fn sql(dsn: &str, app: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let dsn = pgmq_chaos::dsn_with_app_name(dsn, app);
    let (client, connection) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Records outcomes as soon as they exist (they are pruned after the queue's retention period, which
/// is short in soak mode), every `every`, until `stop`.
pub async fn sweeper(store: Arc<Store>, dsn: String, every: Duration, stop: Arc<AtomicBool>) {
    let mut client: Option<tokio_postgres::Client> = None;
    loop {
        let last = stop.load(Ordering::Acquire);
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            client = sql(&dsn, "chaos-verify").await.ok();
        }
        if let Some(c) = &client {
            let _ = sweep(&store, c).await;
        }
        if last {
            return;
        }
        tokio::time::sleep(every).await;
    }
}

/// One pass: reads the outcome records of (up to 50,000) pending ids.
pub async fn sweep(store: &Store, client: &tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
    let ids: Vec<Uuid> = store.pending.lock().unwrap().iter().take(50_000).copied().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let rows = client.query("SELECT id, outcome FROM pgmq.outcomes WHERE id = ANY($1)", &[&ids]).await?;
    let mut outcomes = store.outcomes.lock().unwrap();
    let mut pending = store.pending.lock().unwrap();
    for row in rows {
        let id: Uuid = row.get(0);
        if let Some(fin) = Fin::parse(row.get(1)) {
            outcomes.entry(id).or_insert((fin, std::time::Instant::now()));
            pending.remove(&id);
        }
    }
    Ok(())
}
