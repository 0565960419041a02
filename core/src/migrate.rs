//! Schema migrations: numbered SQL files embedded in the binary, applied in order in one transaction
//! under an advisory lock, so two processes migrating at once are safe and a second run does nothing.

use std::time::Duration;

use crate::db::{Db, Sql, Tx};
use tokio_postgres::types::Type;
use crate::error::{Error, Result};
use crate::options::DEFAULT_SCHEMA;

/// The embedded migrations, in the order they apply. `migrations_match_the_directory` (a test) keeps this
/// list in step with `core/migrations/`.
pub(crate) const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "0001_init.sql", include_str!("../migrations/0001_init.sql")),
    (2, "0002_lock_rows_before_finishing.sql", include_str!("../migrations/0002_lock_rows_before_finishing.sql")),
    (3, "0003_tie_break_by_id.sql", include_str!("../migrations/0003_tie_break_by_id.sql")),
    (4, "0004_pin_search_path.sql", include_str!("../migrations/0004_pin_search_path.sql")),
    (5, "0005_least_privilege.sql", include_str!("../migrations/0005_least_privilege.sql")),
    (6, "0006_send_locks_directly.sql", include_str!("../migrations/0006_send_locks_directly.sql")),
    (7, "0007_outbox.sql", include_str!("../migrations/0007_outbox.sql")),
    (8, "0008_results.sql", include_str!("../migrations/0008_results.sql")),
    (9, "0009_bounded_queues.sql", include_str!("../migrations/0009_bounded_queues.sql")),
    (10, "0010_groups.sql", include_str!("../migrations/0010_groups.sql")),
    (11, "0011_dependencies.sql", include_str!("../migrations/0011_dependencies.sql")),
];

/// The schema version this library needs.
pub const LATEST_VERSION: i32 = 11;

/// The schema's name, unquoted.
fn schema_name(policy: &crate::db::Policy) -> String {
    policy.schema.as_deref().map_or(DEFAULT_SCHEMA.to_owned(), |q| q.trim_matches('"').to_owned())
}

/// The advisory lock of migrations into this policy's schema: installations in different schemas of one
/// database migrate independently.
fn migration_lock(policy: &crate::db::Policy) -> i64 {
    match &policy.schema {
        None => MIGRATION_LOCK,
        // FNV-1a of the name, folded into the key.
        Some(name) => MIGRATION_LOCK ^ name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3)) as i64,
    }
}

/// Key of the transaction-scoped advisory lock taken while migrating ("pgmq" + "mig").
const MIGRATION_LOCK: i64 = 0x0070_676d_716d_6967;

/// How long `migrate` waits for any one table lock (PostgreSQL's `lock_timeout`, for its transaction
/// only) before it gives up with [`Error::Timeout`], changing nothing. A migration that alters a table
/// waits until every transaction using the table has ended, and while it waits every new statement on
/// that table queues behind it: without a bound, one long-running transaction (a report, an idle session
/// that read a message) would stall every send and claim for as long as it runs. With it, they stall for
/// at most this long, and `migrate` can be run again later.
pub(crate) const MIGRATION_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Whatever the role's search_path, names in the migrations resolve in pg_catalog (and the `pgmq.` they
/// qualify), never in a schema someone else can create objects in (see 0004_pin_search_path.sql); pg_temp
/// last, so that no temporary object shadows anything. Also makes the migrations create nothing outside
/// `pgmq`: an unqualified CREATE fails.
const PIN_SEARCH_PATH: &str = "SET LOCAL search_path = pg_catalog, pg_temp";

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS pgmq.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);";

/// What an existing `pgmq` schema holds: its owner, the extension it belongs to (Tembo's pgmq extension,
/// which Supabase Queues enables, creates a schema of this name as its member), whether it has this
/// library's version table, and the objects in it (the first few, extensions first, and how many).
/// No row when there is no such schema. Runs under [`PIN_SEARCH_PATH`], so its names are pg_catalog's.
pub(crate) const INSPECT_SCHEMA: Sql = Sql::new(
    "
SELECT pg_get_userbyid(n.nspowner),
       (SELECT e.extname FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
        WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
          AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'),
       to_regclass('pgmq.schema_migrations') IS NOT NULL,
       ARRAY(SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_depend d
             WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid AND d.deptype = 'n'
             ORDER BY d.classid <> 'pg_extension'::regclass, 1 LIMIT 5),
       (SELECT count(*) FROM pg_depend d
        WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid AND d.deptype = 'n')
FROM pg_namespace n WHERE n.nspname = $1::text::name",
    &[Type::TEXT],
);

pub(crate) const CURRENT_VERSION: Sql = Sql::new("SELECT coalesce(pg_catalog.max(version), 0) FROM pgmq.schema_migrations", &[]);
pub(crate) const RECORD_VERSION: Sql =
    Sql::new("INSERT INTO pgmq.schema_migrations (version, name) VALUES ($1, $2)", &[Type::INT4, Type::TEXT]);
pub(crate) const VERSION_TABLE_EXISTS: Sql =
    Sql::new("SELECT pg_catalog.to_regclass('pgmq.schema_migrations') IS NOT NULL", &[]);

/// Migrations are not bounded by the client's statement timeout: creating an index on a large table
/// takes as long as it takes (lock waits are bounded by [`MIGRATION_LOCK_TIMEOUT`] instead).
pub(crate) async fn migrate(db: &Db) -> Result<i32> {
    let mut conn = db.get().await?;
    let tx = conn.transaction().await?;
    tx.batch_execute(PIN_SEARCH_PATH, None).await?;
    // The advisory lock first, and with no timeout: a second migrator waits here for the first to finish,
    // however long it takes. Only then the bound on every other lock.
    tx.batch_execute(&format!("SELECT pg_catalog.pg_advisory_xact_lock({})", migration_lock(tx.policy())), None).await?;
    tx.batch_execute(&format!("SET LOCAL lock_timeout = {}", MIGRATION_LOCK_TIMEOUT.as_millis()), None).await?;
    let current = apply(&tx).await.map_err(|e| match e {
        Error::Timeout(m) => Error::Timeout(format!(
            "migrate waited {}s for a lock that another transaction holds on pgmq's tables, and changed \
             nothing; run it again once that transaction has ended ({m})",
            MIGRATION_LOCK_TIMEOUT.as_secs()
        )),
        other => other,
    })?;
    tx.commit().await?;
    Ok(current.max(LATEST_VERSION))
}

/// Applies the migrations the database lacks, in the caller's transaction; returns the version it had.
async fn apply(tx: &Tx<'_>) -> Result<i32> {
    // Not CREATE SCHEMA IF NOT EXISTS: that checks for CREATE on the database before it looks, and so
    // fails for a role that may not create schemas even when a DBA created this one for it.
    if !our_schema_exists(tx).await? {
        let name = tx.policy().schema.as_deref().unwrap_or(DEFAULT_SCHEMA);
        tx.batch_execute(&format!("CREATE SCHEMA {name}"), None).await?;
    }
    tx.batch_execute(CREATE_VERSION_TABLE, None).await?;
    let current: i32 = tx.query_one(&CURRENT_VERSION, &[]).await?.get(0);
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > current) {
        tx.batch_execute(sql, None).await?;
        tx.execute(&RECORD_VERSION, &[version, name]).await?;
        tracing::info!("pgmq: applied migration {version} ({name})");
    }
    Ok(current)
}

/// Whether the `pgmq` schema exists; [`Error::SchemaConflict`] when it does but is not this library's:
/// it belongs to an extension, or it holds objects but no `pgmq.schema_migrations`. Migrating would mix
/// our tables and functions into someone else's (or fail halfway on a name both use). An empty schema,
/// such as one a DBA created ahead of time for a role that may not create schemas, is adopted.
async fn our_schema_exists(tx: &Tx<'_>) -> Result<bool> {
    let schema = schema_name(tx.policy());
    let Some(row) = tx.query_opt(&INSPECT_SCHEMA, &[&schema]).await? else {
        return Ok(false);
    };
    let owner: String = row.get(0);
    let extension: Option<String> = row.get(1);
    let versioned: bool = row.get(2);
    let objects: Vec<String> = row.get(3);
    let count: i64 = row.get(4);
    if let Some(extension) = extension {
        return Err(Error::SchemaConflict(format!(
            "the schema {schema:?} (owner {owner:?}) belongs to the extension {extension:?}, not to this \
             library, which keeps its own tables under that name: give pgmq a schema of its own (the `schema` \
             option), or drop the extension, with its data, if nothing uses it"
        )));
    }
    if !versioned && count > 0 {
        let more = match count - objects.len() as i64 {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        return Err(Error::SchemaConflict(format!(
            "the schema {schema:?} (owner {owner:?}) holds objects this library did not create ({}{more}) and \
             no pgmq.schema_migrations table: give pgmq a schema of its own (the `schema` option), or move those objects out \
             of the schema (an empty pgmq schema is adopted)",
            objects.join(", ")
        )));
    }
    Ok(true)
}

pub(crate) async fn schema_version(db: &Db) -> Result<i32> {
    let conn = db.get().await?;
    // Two statements: PostgreSQL resolves every table a statement names when parsing it, so a single
    // CASE over a missing pgmq.schema_migrations fails instead of yielding 0.
    let exists: bool = conn.query_one(&VERSION_TABLE_EXISTS, &[]).await?.get(0);
    if !exists {
        return Ok(0);
    }
    let row = conn.query_one(&CURRENT_VERSION, &[]).await?;
    Ok(row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_match_the_directory() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS.iter().map(|(_, n, _)| n.to_string()).collect();
        assert_eq!(files, listed);
        for (i, (v, name, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v as usize, i + 1);
            assert!(name.starts_with(&format!("{v:04}_")));
        }
        assert_eq!(MIGRATIONS.last().unwrap().0, LATEST_VERSION);
    }
}
