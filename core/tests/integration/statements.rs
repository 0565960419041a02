//! Every statement declares the parameter types PostgreSQL infers: through a transaction pooler they
//! go unnamed with exactly these types (see core/src/db.rs), so a wrong one would be a runtime error
//! found only behind PgBouncer.

use pgmq_core::{Attribute, Filter};

use crate::common::*;

#[tokio::test]
async fn every_statement_declares_the_parameter_types_postgresql_infers() {
    let _client = client().await; // migrated
    let raw = raw().await;
    let filter: Filter = Attribute::new("kind").eq("a").and(Attribute::new("n").gt(2)).or(Attribute::new("s").is_like("x%"));
    let statements = pgmq_core::fuzzing::statements(Some(filter)).unwrap();
    assert!(statements.len() > 20);
    for (name, text, declared) in statements {
        let prepared = raw.prepare(&text).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(prepared.params(), &declared[..], "statement {name}");
    }
}
