//! Integration tests of pgmq-core against a real PostgreSQL (`DATABASE_URL`, set by
//! `tests/with-postgres.sh`, which `make test` uses). Every test uses its own queue names, so they run in
//! parallel on one database.

mod common;

mod bounded;
mod cancel;
mod cancel_races;
mod completion;
mod connection;
mod dead_letter;
mod dependencies;
mod filters;
mod groups;
mod hostile_roles;
mod json;
mod leases;
mod listener;
mod load;
mod many_queues;
mod network;
mod migrations;
mod operators;
mod outbox;
mod pgbouncer;
mod protocol;
mod queues;
mod receive;
mod replies;
mod resilience;
mod roles;
mod schema;
mod send;
mod smoke;
mod statements;
mod tls;
