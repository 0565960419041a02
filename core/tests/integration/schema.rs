//! core/schema.sql, the schema as the migrations leave it, is what a fresh migration makes: a migration
//! that changes the schema changes the snapshot in the same commit (`make schema` writes it).

use std::path::{Path, PathBuf};

use pgmq_core::Client;

use crate::common::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("core/ has a parent").to_owned()
}

/// `tests/schema-dump.sh` on database `db`: the one normalisation `make schema` uses too.
fn dump(db: &str) -> String {
    let out = std::process::Command::new(repo().join("tests/schema-dump.sh"))
        .arg(kv_dsn(db, ""))
        .output()
        .expect("tests/schema-dump.sh runs");
    assert!(out.status.success(), "tests/schema-dump.sh failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("the dump is UTF-8")
}

fn major_version(snapshot: &str) -> Option<&str> {
    snapshot.lines().find_map(|l| l.strip_prefix("-- PostgreSQL major version: "))
}

#[tokio::test]
async fn the_schema_snapshot_is_what_the_migrations_make() {
    // Arrange: a database migrated from nothing by this library.
    let db = fresh_database("pgmq_schema").await;
    let client = Client::connect(&kv_dsn(&db, "")).await.unwrap();
    client.migrate().await.unwrap();
    client.close().await;

    // Act
    let fresh = dump(&db);
    drop_database(&db).await;

    // Assert (or, under `make schema`, record)
    let path = repo().join("core/schema.sql");
    if std::env::var_os("PGMQ_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let snapshot = std::fs::read_to_string(&path).unwrap_or_default();
    if major_version(&snapshot).is_some() && major_version(&snapshot) != major_version(&fresh) {
        // pg_dump's text differs between major versions; the snapshot is made with the harness's.
        eprintln!(
            "skipped: core/schema.sql was dumped from PostgreSQL {:?}, this server is {:?}",
            major_version(&snapshot),
            major_version(&fresh)
        );
        return;
    }
    if fresh != snapshot {
        let new = repo().join("target/schema.sql.new");
        std::fs::create_dir_all(new.parent().unwrap()).unwrap();
        std::fs::write(&new, &fresh).unwrap();
        let (old_lines, new_lines): (Vec<&str>, Vec<&str>) = (snapshot.lines().collect(), fresh.lines().collect());
        let first = old_lines.iter().zip(&new_lines).position(|(a, b)| a != b).unwrap_or(old_lines.len().min(new_lines.len()));
        panic!(
            "core/schema.sql is not what the migrations make: run `make schema` and commit the result.\n\
             First difference at line {}:\n  core/schema.sql: {:?}\n  migrations make: {:?}\n\
             Whole diff: diff -u core/schema.sql {}",
            first + 1,
            old_lines.get(first).copied().unwrap_or("<end of file>"),
            new_lines.get(first).copied().unwrap_or("<end of file>"),
            new.display()
        );
    }
}
