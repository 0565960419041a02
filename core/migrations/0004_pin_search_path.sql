-- pgmq schema, version 4: every function runs with search_path = pg_catalog, pgmq, pg_temp.
--
-- A function without its own search_path resolves the names in its body through the caller's. PostgreSQL
-- searches pg_catalog first, but an object in a later schema wins when its signature is exact and
-- pg_catalog's candidate is polymorphic or needs a coercion: `'pgmq_c_' || p_queue_id` (text || bigint)
-- picks a planted ||(text, bigint) over pg_catalog's ||(text, anynonarray), `unnest(p_ids)` a planted
-- unnest(uuid[]) over unnest(anyarray), `cardinality(p_ids)` a planted cardinality(uuid[]). So whoever could
-- create objects in a schema on a pgmq client's path (`public` where CREATE on it is still granted, as
-- before PostgreSQL 15, or the client role's own "$user" schema) ran code as that client on every ack,
-- nack, cancel and housekeeping run. core/tests/integration/hostile_roles.rs plants such overloads: 13
-- distinct ones were called from these functions before this migration, none after.
--
-- pg_temp comes last so that a temporary object can never shadow anything here. A later migration that
-- replaces one of these functions must repeat the SET clause: CREATE OR REPLACE FUNCTION drops settings
-- it does not state (the test `every_pgmq_function_pins_its_search_path` catches a function without it).
--
-- Cost: measured with pgbench -M prepared, one client, four alternating 8 s runs each on the 2-core
-- development VM (medians): an ack of one unknown id 0.044 -> 0.060 ms, an idle housekeeping run
-- 0.056 -> 0.052 ms. About 16 us per ack statement, which acks a whole batch.

ALTER FUNCTION pgmq._id_payload(uuid[]) SET search_path = pg_catalog, pgmq, pg_temp;
ALTER FUNCTION pgmq._finish(bigint, uuid[], text, boolean) SET search_path = pg_catalog, pgmq, pg_temp;
ALTER FUNCTION pgmq._dead_letter(bigint, pgmq.messages[], text, text) SET search_path = pg_catalog, pgmq, pg_temp;
ALTER FUNCTION pgmq.nack(bigint, uuid[], uuid[], bigint[], text[]) SET search_path = pg_catalog, pgmq, pg_temp;
ALTER FUNCTION pgmq.cancel(bigint, uuid[]) SET search_path = pg_catalog, pgmq, pg_temp;
ALTER FUNCTION pgmq.maintain(integer) SET search_path = pg_catalog, pgmq, pg_temp;
ALTER FUNCTION pgmq.ack(bigint, uuid[], uuid[]) SET search_path = pg_catalog, pgmq, pg_temp;
ALTER FUNCTION pgmq.redrive(text, text) SET search_path = pg_catalog, pgmq, pg_temp;
