-- pgmq schema, version 6: a send locks its queue row itself again, without pgmq._queue_for_send.
--
-- Version 5 took the send's FOR KEY SHARE lock inside a SECURITY DEFINER function, because a lock clause
-- needs the UPDATE privilege and a producer must not rewrite queue settings. Calling that function cost
-- every send 14 % of its throughput (send_one, 8 concurrent senders: the function call, its SET
-- search_path and the owner switch, per statement). PostgreSQL accepts a lock clause from a role with
-- UPDATE on any one column of the table, so producers get UPDATE on one column that exists for this
-- purpose only, and a trigger refuses every UPDATE that names it: a producer can lock queue rows (as it
-- could through the function) and can change nothing.
--
-- _queue_for_send stays for clients of version 5 still running during a rolling upgrade.

ALTER TABLE pgmq.queues ADD COLUMN send_lock boolean;
COMMENT ON COLUMN pgmq.queues.send_lock IS
    'Never written: UPDATE on this column lets a producer lock queue rows FOR KEY SHARE (see migration 6).';

CREATE FUNCTION pgmq._refuse_send_lock_update() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'pgmq.queues.send_lock cannot be written'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'It exists so that producers may lock queue rows; see pgmq migration 6.';
END
$$;
CREATE TRIGGER send_lock_is_never_written BEFORE UPDATE OF send_lock ON pgmq.queues
    FOR EACH STATEMENT EXECUTE FUNCTION pgmq._refuse_send_lock_update();

CREATE OR REPLACE FUNCTION pgmq.grant_producer(p_role regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA pgmq TO %s', p_role);
    EXECUTE format('GRANT SELECT ON pgmq.queues, pgmq.outcomes, pgmq.schema_migrations TO %s', p_role);
    EXECUTE format('GRANT UPDATE (send_lock) ON pgmq.queues TO %s', p_role);
    EXECUTE format('GRANT SELECT, INSERT ON pgmq.messages TO %s', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq._queue_for_send(text), pgmq.maintain(integer) TO %s', p_role);
END
$$;

-- Roles made producers under version 5 keep sending with clients of this version.
DO $$
DECLARE
    v_role regrole;
BEGIN
    FOR v_role IN
        SELECT a.grantee::regrole
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
        WHERE p.oid = 'pgmq._queue_for_send(text)'::regprocedure
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
    LOOP
        EXECUTE format('GRANT UPDATE (send_lock) ON pgmq.queues TO %s', v_role);
    END LOOP;
END
$$;
