//! Hostile roles: whoever may create objects in a schema on the connecting role's search_path (`public`
//! where CREATE on it is still granted, or the role's own "$user" schema) can plant an operator or function
//! whose exact signature beats pg_catalog's polymorphic or coercing candidate, and then its code runs as
//! every pgmq client. pgmq must never resolve to such a plant: its functions pin their search_path
//! (migration 0004), and `migrate` pins it for its transaction.

use crate::common::*;

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
