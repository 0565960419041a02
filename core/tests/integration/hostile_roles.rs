//! Hostile roles: whoever may create objects in a schema on the connecting role's search_path (`public`
//! where CREATE on it is still granted, or the role's own "$user" schema) can plant an operator or function
//! whose exact signature beats pg_catalog's polymorphic or coercing candidate, and then its code runs as
//! every pgmq client. pgmq must never resolve to such a plant: its functions pin their search_path
//! (migration 0004), `migrate` pins it for its transaction, and client SQL qualifies what a plant could
//! match more exactly.

use std::time::{Duration, SystemTime};

use pgmq_core::{
    Attribute, AttributeValue, Backoff, Client, ClientOptions, MessageState, NackOptions, Outcome, OutgoingMessage,
    PeekOptions, QueueOptions, ReceiveOptions, Receiver, SendOptions, LATEST_VERSION,
};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(10);

/// The overloads an attacker plants (see the file for what and why).
const PLANT: &str = include_str!("plant_overloads.sql");

/// A fresh database owned by a new unprivileged login role, the victim, whose search_path is the default
/// ("$user", public); a second unprivileged role, the attacker, has planted overloads in `public` and in
/// the victim's own schema, each of which writes a row naming itself into `public.pgmq_trap` when called.
struct Hostile {
    db: String,
    victim: String,
    attacker: String,
    /// A superuser connection to the database that resolves names in pg_catalog only (never a plant).
    admin: tokio_postgres::Client,
}

impl Hostile {
    async fn new() -> Hostile {
        let db = fresh_database("pgmq_hostile").await;
        let victim = unique("pgmq_victim").replace('-', "_");
        let attacker = unique("pgmq_attacker").replace('-', "_");
        raw()
            .await
            .batch_execute(&format!(
                "CREATE ROLE {victim} LOGIN; CREATE ROLE {attacker}; ALTER DATABASE {db} OWNER TO {victim};"
            ))
            .await
            .unwrap();
        let admin = connect(&kv_dsn(&db, "options=-csearch_path=pg_catalog")).await;
        admin
            .batch_execute(&format!(
                "GRANT CREATE ON SCHEMA public TO PUBLIC; -- revoked by PostgreSQL 15, still granted in many databases
                 CREATE SCHEMA {victim} AUTHORIZATION {victim};
                 GRANT USAGE, CREATE ON SCHEMA {victim} TO {attacker};
                 CREATE TABLE public.pgmq_trap (what text NOT NULL, at timestamptz NOT NULL DEFAULT now());
                 GRANT SELECT, INSERT ON public.pgmq_trap TO PUBLIC;
                 SET ROLE {attacker};
                 SET pgmq_test.plant_in = 'public,{victim}';"
            ))
            .await
            .unwrap();
        admin.batch_execute(PLANT).await.expect("plant overloads");
        admin.batch_execute("RESET ROLE; RESET pgmq_test.plant_in;").await.unwrap();
        Hostile { db, victim, attacker, admin }
    }

    /// How many overloads of each kind were planted in each schema: (schema, kind, count).
    async fn planted(&self) -> Vec<(String, String, i64)> {
        let rows = self
            .admin
            .query("SELECT schema, kind, count(*) FROM public.pgmq_planted GROUP BY 1, 2 ORDER BY 1, 2", &[])
            .await
            .unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()
    }

    /// The plants that were called, with how many times.
    async fn trapped(&self) -> Vec<(String, i64)> {
        let rows =
            self.admin.query("SELECT what, count(*) FROM public.pgmq_trap GROUP BY 1 ORDER BY 1", &[]).await.unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    }

    fn victim_dsn(&self) -> String {
        kv_dsn(&self.db, &format!("user={}", self.victim))
    }

    /// A client of the victim, with housekeeping every 100 ms so that expiry and lapsed leases are
    /// handled within the test.
    async fn victim_client(&self) -> Client {
        let options = ClientOptions::default().maintenance_interval(Duration::from_millis(100));
        Client::connect_with(&self.victim_dsn(), options).await.expect("victim connects")
    }

    async fn remove(self) {
        drop(self.admin);
        drop_database(&self.db).await;
        raw().await.batch_execute(&format!("DROP ROLE {}; DROP ROLE {};", self.victim, self.attacker)).await.unwrap();
    }
}

async fn connect(dsn: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(dsn, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

async fn next(rx: &mut Receiver) -> pgmq_core::Message {
    tokio::time::timeout(WAIT, rx.next()).await.expect("a message within 10 s").expect("receive")
}

fn receiver(client: &Client, queue: &str, filter: pgmq_core::Filter) -> Receiver {
    client.queue(queue).unwrap().receiver(ReceiveOptions::default().filter(filter)).unwrap()
}

#[tokio::test]
async fn no_operation_calls_an_overload_planted_on_the_callers_search_path() {
    // Arrange: the plants, and the victim's search_path that reaches them.
    let hostile = Hostile::new().await;
    let planted = hostile.planted().await;
    let victim = connect(&hostile.victim_dsn()).await;
    let path: String = victim.query_one("SHOW search_path", &[]).await.unwrap().get(0);
    assert_eq!(path, "\"$user\", public");
    // The plants work: unqualified SQL of the kind pgmq used to run calls them.
    victim.query("SELECT 'pgmq_q_' || 1::bigint, count(u) FROM unnest(ARRAY[gen_random_uuid()]) u", &[]).await.unwrap();
    assert_eq!(hostile.trapped().await.len(), 3, "the plants are not on the victim's path");
    hostile.admin.execute("DELETE FROM public.pgmq_trap", &[]).await.unwrap();
    let client = hostile.victim_client().await;

    // Act: every operation, as the victim.
    assert_eq!(client.migrate().await.unwrap(), LATEST_VERSION, "fresh");
    assert_eq!(client.migrate().await.unwrap(), LATEST_VERSION, "already migrated");
    assert_eq!(client.schema_version().await.unwrap(), LATEST_VERSION);
    exercise_every_operation(&hostile, &client).await;
    client.close().await;

    // Assert
    let trapped = hostile.trapped().await;
    for schema in ["public", hostile.victim.as_str()] {
        let count = |kind: &str| planted.iter().find(|(s, k, _)| s == schema && k == kind).map_or(0, |p| p.2);
        assert!(count("operator") > 150 && count("function") > 300 && count("aggregate") > 20, "{planted:?}");
    }
    hostile.remove().await;
    assert!(trapped.is_empty(), "pgmq called planted overloads: {trapped:#?}");
}

/// Every operation of the core, each on rows that make its SQL evaluate the operators it uses (a filter
/// on an empty queue, for one, would call nothing). Checks that each did its job: a plant returns what
/// pg_catalog would, so only the trap tells it was called.
async fn exercise_every_operation(hostile: &Hostile, client: &Client) {
    let admin = &hostile.admin;
    // create_queue, with a backoff and a DLQ; again (exists: no-op); list_queues
    let backoff = Backoff { base: Duration::from_millis(10), factor: 2.0, max: Duration::from_millis(50), jitter: true };
    let options = QueueOptions::default().ack_deadline(Duration::from_secs(1)).max_delivery_attempts(2);
    assert!(client.create_queue("jobs", &options.clone().backoff(Some(backoff))).await.unwrap());
    assert!(!client.create_queue("jobs", &options).await.unwrap());
    let names: Vec<String> = client.list_queues().await.unwrap().into_iter().map(|q| q.name).collect();
    assert_eq!(names, ["dlq@jobs", "jobs"]);
    let jobs = client.queue("jobs").unwrap();

    // send; send_batch with attributes of every type; a delayed and a scheduled send
    let plain = jobs.send(b"plain".to_vec(), &SendOptions::default()).await.unwrap();
    let batch = jobs
        .send_batch(
            vec![
                OutgoingMessage::new("red").attribute("color", "red").attribute("size", 3).attribute("ok", true),
                OutgoingMessage::new("blue").attribute("color", "blue").attribute("size", 7.5).attribute("note", AttributeValue::Null),
                OutgoingMessage::new("green").attribute("color", "green").attribute("size", 10).attribute("tag", "x_1%"),
            ],
            &SendOptions::default(),
        )
        .await
        .unwrap();
    let (red, blue, green) = (batch.ids()[0], batch.ids()[1], batch.ids()[2]);
    let delayed = jobs.send(b"delayed".to_vec(), &SendOptions::default().delay(Duration::from_secs(3600))).await.unwrap();
    let scheduled = jobs
        .send(
            OutgoingMessage::new("scheduled").attribute("color", "red"),
            &SendOptions::default().schedule_at(SystemTime::now() + Duration::from_millis(200)),
        )
        .await
        .unwrap();
    let stats = jobs.stats().await.unwrap();
    assert_eq!((stats.messages, stats.leased, stats.dead_lettered), (6, 0, 0));

    // receive with filters of every kind, each picking one message out of the queue
    let a = Attribute::new;
    let mut rx = receiver(client, "jobs", a("color").eq("red") & a("size").lt(5) & a("ok").is_not_null());
    let red_msg = next(&mut rx).await;
    assert_eq!(red_msg.id(), red);
    let mut rx = receiver(client, "jobs", (a("size").ge(7) & a("size").le(8)) | a("note").is_null() & a("nope").exists());
    let blue_msg = next(&mut rx).await;
    assert_eq!(blue_msg.id(), blue);
    let filter = a("tag").is_like("x\\_1%") & a("color").ne("red") & a("size").gt(9) & a("tag").is_not_like("y%");
    let mut rx = receiver(client, "jobs", filter);
    let green_msg = next(&mut rx).await;
    assert_eq!(green_msg.id(), green);

    // ack
    red_msg.ack().await.unwrap();

    // heartbeat: the held message's lease is extended in the background; then extend() by hand
    let expiry = |id| async move {
        admin.query_one("SELECT available_at FROM pgmq.messages WHERE id = $1", &[&id]).await.unwrap().get::<_, SystemTime>(0)
    };
    let first = expiry(blue).await;
    assert!(eventually(WAIT, || async { expiry(blue).await > first }).await, "the heartbeat never extended the lease");
    blue_msg.extend(Duration::from_secs(30)).await.unwrap();
    blue_msg.ack().await.unwrap();

    // cancel: a held message (its holder is signalled) and a scheduled one (removed)
    assert_eq!(jobs.cancel(&[green, delayed.id()]).await.unwrap().len(), 2);
    tokio::time::timeout(WAIT, green_msg.cancelled()).await.expect("the holder learns of the cancel");
    green_msg.ack().await.unwrap();

    // nack: with a delay and an error; then the last attempt, to the DLQ
    let mut rx = receiver(client, "jobs", a("color").does_not_exist());
    let msg = next(&mut rx).await;
    assert_eq!(msg.id(), plain.id());
    msg.nack(NackOptions { delay: Some(Duration::from_millis(20)), error: Some("first".into()) }).await.unwrap();
    let msg = next(&mut rx).await;
    assert_eq!((msg.id(), msg.delivery_attempt(), msg.last_error()), (plain.id(), 2, Some("first")));
    msg.nack(NackOptions { delay: None, error: Some("last".into()) }).await.unwrap();

    // nack without a delay: the queue's backoff
    let mut rx = receiver(client, "jobs", a("color").eq("red") & a("size").does_not_exist());
    let msg = next(&mut rx).await;
    assert_eq!(msg.id(), scheduled.id());
    msg.nack(NackOptions::default()).await.unwrap();
    next(&mut rx).await.ack().await.unwrap();

    // completion: every outcome, through wait_for_completion and completion().wait()
    let outcomes = jobs.wait_for_completion(&[red, blue, green, delayed.id(), scheduled.id()]).await.unwrap();
    assert_eq!(outcomes[&red], Outcome::Completed);
    assert_eq!(outcomes[&blue], Outcome::Completed);
    assert_eq!(outcomes[&green], Outcome::Cancelled);
    assert_eq!(outcomes[&delayed.id()], Outcome::Cancelled);
    assert_eq!(outcomes[&scheduled.id()], Outcome::Completed);
    let dead = tokio::time::timeout(WAIT, jobs.completion(&[plain.id()]).await.unwrap().wait()).await.unwrap().unwrap();
    assert_eq!(dead[&plain.id()], Outcome::DeadLettered);

    // redrive the DLQ back, and receive the message there again
    assert_eq!(client.redrive("dlq@jobs", "jobs").await.unwrap(), 1);
    let mut rx = jobs.receiver(ReceiveOptions::default()).unwrap();
    let msg = next(&mut rx).await;
    assert_eq!((msg.id(), msg.last_error()), (plain.id(), Some("last")));
    msg.ack().await.unwrap();
    drop(rx);

    // housekeeping: a message past its retention expires; a lapsed last lease is dead-lettered
    let short = QueueOptions::default().retention_period(Duration::from_secs(1));
    assert!(client.create_queue("stale", &short).await.unwrap());
    let stale = client.queue("stale").unwrap().send(b"stale".to_vec(), &SendOptions::default()).await.unwrap();
    let last = QueueOptions::default().max_delivery_attempts(1).ack_deadline(Duration::from_secs(1));
    assert!(client.create_queue("lapse", &last).await.unwrap());
    let lapse = client.queue("lapse").unwrap().send(b"lapse".to_vec(), &SendOptions::default()).await.unwrap();
    let worker = Client::connect(&hostile.victim_dsn()).await.unwrap();
    let held = next(&mut worker.queue("lapse").unwrap().receiver(ReceiveOptions::default()).unwrap()).await;
    worker.close().await; // its heartbeat stops: the lease lapses
    let (stale, lapse) = tokio::time::timeout(WAIT, async { tokio::join!(stale.wait(), lapse.wait()) }).await.unwrap();
    assert_eq!((stale.unwrap(), lapse.unwrap()), (Outcome::Expired, Outcome::DeadLettered));
    drop(held);

    // peek in every state with a filter of every kind; list with stats; purge
    let peeked = jobs
        .send_batch(
            vec![
                OutgoingMessage::new("p1").attribute("color", "red").attribute("size", 3).attribute("tag", "x_1"),
                OutgoingMessage::new("p2").attribute("color", "blue").attribute("note", AttributeValue::Null),
            ],
            &SendOptions::default(),
        )
        .await
        .unwrap();
    jobs.send(OutgoingMessage::new("p3").attribute("color", "red"), &SendOptions::default().delay(Duration::from_secs(3600)))
        .await
        .unwrap();
    let filter = (a("color").eq("red") & a("size").ge(2) & a("tag").is_like("x\\_%") & a("tag").is_not_like("y%"))
        | (a("color").ne("red") & a("note").is_null() & a("size").does_not_exist() & a("tag").does_not_exist());
    let mut seen = Vec::new();
    for state in MessageState::ALL {
        let options = PeekOptions::default().state(state).filter(filter.clone());
        seen.extend(jobs.peek(&options).await.unwrap().into_iter().map(|m| (m.id, m.state)));
    }
    assert_eq!(seen, [(peeked.ids()[0], MessageState::Ready), (peeked.ids()[1], MessageState::Ready)]);
    assert_eq!(jobs.peek(&PeekOptions::default()).await.unwrap().len(), 3);
    let overview = client.list_queues_with_stats().await.unwrap();
    let listed = overview.iter().find(|o| o.info.name == "jobs").unwrap();
    assert_eq!((listed.stats.ready, listed.stats.scheduled), (2, 1));
    assert!(listed.oldest_ready_age.is_some());
    assert_eq!(jobs.purge().await.unwrap(), 3);
    let purged = jobs.wait_for_completion(peeked.ids()).await.unwrap();
    assert!(purged.values().all(|o| *o == Outcome::Cancelled));

    // delete_queue (with its DLQ)
    for name in ["jobs", "stale", "lapse"] {
        assert!(client.delete_queue(name).await.unwrap(), "{name}");
    }
    assert!(client.list_queues().await.unwrap().is_empty());
}

#[tokio::test]
async fn every_pgmq_function_pins_its_search_path() {
    let client = client().await;

    let rows = raw()
        .await
        .query(
            "SELECT p.oid::regprocedure::text, p.proconfig FROM pg_proc p
             WHERE p.pronamespace = 'pgmq'::regnamespace ORDER BY 1",
            &[],
        )
        .await
        .unwrap();

    assert!(rows.len() >= 8, "pgmq's functions: {rows:?}");
    let pinned = "search_path=pg_catalog, pgmq, pg_temp".to_owned();
    let unpinned: Vec<String> = rows
        .iter()
        .filter(|r| !r.get::<_, Option<Vec<String>>>(1).is_some_and(|config| config.contains(&pinned)))
        .map(|r| r.get(0))
        .collect();
    assert!(unpinned.is_empty(), "functions that resolve names through their caller's search_path: {unpinned:?}");
    client.close().await;
}

#[tokio::test]
async fn the_outbox_statements_and_functions_call_no_overload_planted_on_the_callers_search_path() {
    use pgmq_core::outbox::{self, statement, OutboxKind, ParamStyle};
    // Arrange: the plants; the victim's schema and queue.
    let hostile = Hostile::new().await;
    let client = hostile.victim_client().await;
    client.migrate().await.unwrap();
    client.create_queue("jobs", &QueueOptions::default()).await.unwrap();
    let mut victim = connect(&hostile.victim_dsn()).await;
    // The plants reach this kind of statement: with make_interval unqualified and given an integer
    // (pg_catalog's takes float8), the victim calls one.
    let unqualified = statement(OutboxKind::Send, None, ParamStyle::Dollar)
        .unwrap()
        .replace("pg_catalog.make_interval(secs => CAST($4 AS float8))", "make_interval(secs => CAST($4 AS integer))");
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&"jobs", &b"z".to_vec(), &None::<String>, &Some(1i32), &None::<SystemTime>, &true];
    victim.query_one(unqualified.as_str(), &params).await.unwrap();
    assert!(!hostile.trapped().await.is_empty(), "the plants do not reach the victim's statements: nothing tested");
    hostile.admin.batch_execute("DELETE FROM public.pgmq_trap; DELETE FROM pgmq.messages").await.unwrap();

    // Act: every statement in the victim's transaction, with every optional argument given, and the
    // Rust API with attributes, a delay and a schedule.
    let tx = victim.transaction().await.unwrap();
    let sql = |kind| statement(kind, None, ParamStyle::Dollar).unwrap();
    let attrs = Some("{\"k\": 1, \"s\": \"v\", \"b\": true, \"n\": null, \"f\": 1.5}".to_owned());
    let at = Some(SystemTime::now() + Duration::from_millis(1));
    let no_delay = None::<f64>;
    let no_time = None::<SystemTime>;
    tx.query_one(sql(OutboxKind::Send).as_str(), &[&"jobs", &b"a".to_vec(), &attrs, &Some(0.001f64), &no_time, &true])
        .await
        .unwrap();
    tx.query_one(sql(OutboxKind::SendJson).as_str(), &[&"jobs", &"{\"a\": [1]}", &attrs, &no_delay, &at, &false])
        .await
        .unwrap();
    tx.query_one(sql(OutboxKind::SendBatch).as_str(), &[&"jobs", &vec![b"b".to_vec(), b"c".to_vec()], &Some(vec![attrs.clone(), None]), &no_delay, &no_time, &true])
        .await
        .unwrap();
    let labelled = Some("{\"content-type\": \"application/cloudevents+json\"}".to_owned());
    tx.query_one(sql(OutboxKind::SendJsonBatch).as_str(), &[&"jobs", &vec!["1", "2"], &Some(vec![labelled, None]), &no_delay, &no_time, &true])
        .await
        .unwrap();
    let message = OutgoingMessage::new("d").attribute("color", "red").attribute("size", 3);
    outbox::send(&tx, "jobs", message, &SendOptions::default().delay(Duration::from_millis(1))).await.unwrap();
    outbox::send_json_batch(&tx, "jobs", &[1, 2], &SendOptions::default()).await.unwrap();
    let refused = tx.query_one(sql(OutboxKind::Send).as_str(), &[&"jobs", &b"e".to_vec(), &Some("[1]"), &no_delay, &no_time, &true]).await;
    assert_eq!(refused.unwrap_err().code().map(|c| c.code()), Some("PQ002"));
    drop(tx);
    let tx = victim.transaction().await.unwrap();
    outbox::send_batch(&tx, "jobs", vec!["f".into(), "g".into()], &SendOptions::default()).await.unwrap();
    tx.commit().await.unwrap();

    // Assert
    let trapped = hostile.trapped().await;
    assert_eq!(client.queue("jobs").unwrap().stats().await.unwrap().messages, 2);
    client.close().await;
    drop(victim);
    hostile.remove().await;
    assert!(trapped.is_empty(), "the outbox called planted overloads: {trapped:#?}");
}
