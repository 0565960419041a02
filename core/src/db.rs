//! Every statement pgmq runs on a pool connection goes through here, which decides two things once for
//! all of them:
//!
//! - **How it is sent.** Directly to PostgreSQL, as a named prepared statement cached per connection
//!   (parsed and planned once). Through a transaction-pooling PgBouncer (before 1.21) named statements
//!   break: `s0` prepared on one server connection is missing, or is another client's statement, on the
//!   next; so with the statement cache off every statement goes unnamed, with its parameter types, in one
//!   round trip (`query_typed`). Each [`Sql`] carries its parameter types for that reason, and a test
//!   checks them against what PostgreSQL infers.
//! - **How long it may take.** A connection silently dropped by the network (a NAT that forgot it, a
//!   proxy that stopped forwarding) would hang the statement until the kernel gives up, which can be
//!   never while a proxy still acknowledges. Past the client's statement timeout the statement fails with
//!   [`Error::Connection`] and the connection is discarded instead of going back to the pool.

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use crate::error::{Error, Result};

/// One statement and the types of its parameters (`$1`, `$2`, ... in order).
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub(crate) text: Cow<'static, str>,
    pub(crate) types: Cow<'static, [Type]>,
}

impl Sql {
    /// A statement known at compile time.
    pub(crate) const fn new(text: &'static str, types: &'static [Type]) -> Sql {
        Sql { text: Cow::Borrowed(text), types: Cow::Borrowed(types) }
    }

    /// A statement built at run time (a claim with a filter).
    pub(crate) fn owned(text: String, types: Vec<Type>) -> Sql {
        Sql { text: Cow::Owned(text), types: Cow::Owned(types) }
    }
}

/// How statements run on the pool: cached or unnamed, for how long at most, and in which schema.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) statement_cache: bool,
    pub(crate) statement_timeout: Duration,
    /// pgmq's schema when it is not `pgmq` (`ClientOptions::schema`), already quoted: `"jobs"`.
    pub(crate) schema: Option<std::sync::Arc<str>>,
}

impl Policy {
    /// `text` for this client's schema. The statements, functions and migrations name pgmq's objects as
    /// `pgmq.<name>`, the schema itself only in `search_path = pg_catalog, pgmq, pg_temp` and `SCHEMA pgmq `
    /// (a test keeps it so), and nothing else contains `pgmq.` (channel names are `pgmq_...`): plain
    /// replacements are exact.
    pub(crate) fn in_schema<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.schema {
            None => Cow::Borrowed(text),
            Some(quoted) => Cow::Owned(
                text.replace("pgmq.", &format!("{quoted}."))
                    .replace("pg_catalog, pgmq, pg_temp", &format!("pg_catalog, {quoted}, pg_temp"))
                    .replace("SCHEMA pgmq ", &format!("SCHEMA {quoted} ")),
            ),
        }
    }
}

/// The client's pool with its [`Policy`].
#[derive(Clone)]
pub(crate) struct Db {
    pub(crate) pool: Pool,
    pub(crate) policy: Policy,
}

impl Db {
    /// A pool connection. Waiting for one is bounded by the statement timeout too: a pool whose
    /// connections all hang on a dead network frees them within that time, so a longer wait means
    /// the pool is exhausted ([`Error::Timeout`]).
    pub(crate) async fn get(&self) -> Result<Conn> {
        let obj = match tokio::time::timeout(self.policy.statement_timeout, self.pool.get()).await {
            Ok(obj) => obj?,
            Err(_) => {
                return Err(Error::Timeout(format!(
                    "no pool connection became free within {:?} (statement timeout)",
                    self.policy.statement_timeout
                )))
            }
        };
        Ok(Conn { obj: Some(obj), broken: AtomicBool::new(false), policy: self.policy.clone() })
    }
}

/// A pool connection. Dropped after a statement timed out, it is closed rather than returned.
pub(crate) struct Conn {
    obj: Option<Object>,
    broken: AtomicBool,
    policy: Policy,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.broken.load(Ordering::Relaxed) {
            if let Some(obj) = self.obj.take() {
                // Detached from the pool: dropping it aborts its connection task and closes the socket.
                drop(Object::take(obj));
            }
        }
    }
}

impl Conn {
    fn obj(&self) -> &Object {
        self.obj.as_ref().expect("a Conn holds its object until dropped")
    }

    /// Runs `sql`, returning its rows.
    pub(crate) async fn query(&self, sql: &Sql, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let client: &tokio_postgres::Client = self.obj();
        let run = async {
            if self.policy.statement_cache {
                let stmt = self.obj().prepare_typed_cached(&self.policy.in_schema(&sql.text), &sql.types).await?;
                client.query(&stmt, params).await
            } else {
                client.query_typed(&self.policy.in_schema(&sql.text), &typed(sql, params)).await
            }
        };
        bounded(&self.broken, self.policy.statement_timeout, run).await
    }

    /// Runs `sql`, expecting at most one row.
    pub(crate) async fn query_opt(&self, sql: &Sql, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let mut rows = self.query(sql, params).await?;
        match rows.len() {
            0 | 1 => Ok(rows.pop()),
            n => Err(Error::Internal(format!("a statement expected to return at most one row returned {n}"))),
        }
    }

    /// Runs `sql`, expecting exactly one row.
    pub(crate) async fn query_one(&self, sql: &Sql, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        self.query_opt(sql, params)
            .await?
            .ok_or_else(|| Error::Internal("a statement expected to return one row returned none".into()))
    }

    /// Runs `sql`, returning the number of rows it changed.
    pub(crate) async fn execute(&self, sql: &Sql, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let client: &tokio_postgres::Client = self.obj();
        let run = async {
            if self.policy.statement_cache {
                let stmt = self.obj().prepare_typed_cached(&self.policy.in_schema(&sql.text), &sql.types).await?;
                client.execute(&stmt, params).await
            } else {
                client.execute_typed(&self.policy.in_schema(&sql.text), &typed(sql, params)).await
            }
        };
        bounded(&self.broken, self.policy.statement_timeout, run).await
    }

    /// Runs SQL text without parameters as a simple query (several statements allowed), bounded by
    /// `timeout` rather than the statement timeout (migrations may build indexes for minutes).
    pub(crate) async fn batch_execute(&self, text: &str, timeout: Option<Duration>) -> Result<()> {
        let client: &tokio_postgres::Client = self.obj();
        let text = self.policy.in_schema(text);
        match timeout {
            Some(t) => bounded(&self.broken, t, client.batch_execute(&text)).await,
            None => Ok(client.batch_execute(&text).await?),
        }
    }

    /// Starts a transaction (`BEGIN`); dropped without [`Tx::commit`], it rolls back.
    pub(crate) async fn transaction(&mut self) -> Result<Tx<'_>> {
        let policy = self.policy.clone();
        let broken = &self.broken;
        let obj = self.obj.as_mut().expect("a Conn holds its object until dropped");
        let tx = bounded(broken, policy.statement_timeout, obj.transaction()).await?;
        Ok(Tx { tx, broken, policy })
    }
}

/// A transaction on a [`Conn`]; its statements obey the same policy.
pub(crate) struct Tx<'a> {
    tx: deadpool_postgres::Transaction<'a>,
    broken: &'a AtomicBool,
    policy: Policy,
}

impl Tx<'_> {
    /// Runs `sql`, returning its rows.
    pub(crate) async fn query(&self, sql: &Sql, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let run = async {
            if self.policy.statement_cache {
                let stmt = self.tx.prepare_typed_cached(&self.policy.in_schema(&sql.text), &sql.types).await?;
                self.tx.query(&stmt, params).await
            } else {
                self.tx.query_typed(&self.policy.in_schema(&sql.text), &typed(sql, params)).await
            }
        };
        bounded(self.broken, self.policy.statement_timeout, run).await
    }

    /// Runs `sql`, expecting at most one row.
    pub(crate) async fn query_opt(&self, sql: &Sql, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let mut rows = self.query(sql, params).await?;
        match rows.len() {
            0 | 1 => Ok(rows.pop()),
            n => Err(Error::Internal(format!("a statement expected to return at most one row returned {n}"))),
        }
    }

    /// Runs `sql`, expecting exactly one row.
    pub(crate) async fn query_one(&self, sql: &Sql, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        self.query_opt(sql, params)
            .await?
            .ok_or_else(|| Error::Internal("a statement expected to return one row returned none".into()))
    }

    /// Runs `sql`, returning the number of rows it changed.
    pub(crate) async fn execute(&self, sql: &Sql, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let run = async {
            if self.policy.statement_cache {
                let stmt = self.tx.prepare_typed_cached(&self.policy.in_schema(&sql.text), &sql.types).await?;
                self.tx.execute(&stmt, params).await
            } else {
                self.tx.execute_typed(&self.policy.in_schema(&sql.text), &typed(sql, params)).await
            }
        };
        bounded(self.broken, self.policy.statement_timeout, run).await
    }

    /// Runs SQL text as a simple query, bounded by `timeout` (or not at all).
    pub(crate) async fn batch_execute(&self, text: &str, timeout: Option<Duration>) -> Result<()> {
        let text = self.policy.in_schema(text);
        match timeout {
            Some(t) => bounded(self.broken, t, self.tx.batch_execute(&text)).await,
            None => Ok(self.tx.batch_execute(&text).await?),
        }
    }

    /// The policy its statements run under.
    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Commits.
    pub(crate) async fn commit(self) -> Result<()> {
        let (broken, limit) = (self.broken, self.policy.statement_timeout);
        bounded(broken, limit, self.tx.commit()).await
    }
}

fn typed<'a>(sql: &Sql, params: &'a [&'a (dyn ToSql + Sync)]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    debug_assert_eq!(params.len(), sql.types.len(), "parameters of {:?}", sql.text);
    params.iter().zip(sql.types.iter()).map(|(p, t)| (*p, t.clone())).collect()
}

/// Runs `fut` for at most `limit`; past it, marks the connection broken (it is closed when dropped).
async fn bounded<T>(
    broken: &AtomicBool,
    limit: Duration,
    fut: impl Future<Output = std::result::Result<T, tokio_postgres::Error>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            let e = Error::from(e);
            // A terminated backend (57P01) or a broken socket: the pool would notice only once the
            // connection task has read the end of the stream, and could hand it out again before that.
            if matches!(e, Error::Connection(_)) {
                broken.store(true, Ordering::Relaxed);
            }
            Err(e)
        }
        Err(_) => {
            broken.store(true, Ordering::Relaxed);
            Err(Error::Connection(format!(
                "no answer from the server within {limit:?} (statement timeout); the connection is dropped"
            )))
        }
    }
}
