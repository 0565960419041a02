-- pgmq schema, version 10: job groups. A send may carry a group id (any text); the group's messages can
-- be cancelled together (pgmq.cancel_group), awaited together, and counted by state and outcome, within
-- one queue or across every queue.
--
-- Membership lives in its own table, written only by grouped sends: queues and sends without groups do
-- not pay for it. A grouped message is always tracked (the client refuses `track = false` with a group):
-- its outcome is how the group learns it finished, and the outcome's expiry is when the membership is
-- forgotten (a trigger on pgmq.outcomes), so the table never outgrows the outcomes it points at.

CREATE TABLE pgmq.group_members (
    group_id   text NOT NULL,
    queue_id   bigint NOT NULL,
    message_id uuid NOT NULL,
    PRIMARY KEY (group_id, queue_id, message_id)
);
-- forgetting members whose outcome expired
CREATE INDEX group_members_message ON pgmq.group_members (message_id);

CREATE FUNCTION pgmq._forget_group_members() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
BEGIN
    DELETE FROM pgmq.group_members g USING gone WHERE g.message_id = gone.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER outcomes_forget_group_members AFTER DELETE ON pgmq.outcomes
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION pgmq._forget_group_members();

-- Cancels every queued and held message of group p_group (in queue p_queue_id only, or in every queue
-- when NULL), as pgmq.cancel does, one call per queue in queue order. Returns what pgmq.cancel found.
CREATE FUNCTION pgmq.cancel_group(p_group text, p_queue_id bigint DEFAULT NULL)
RETURNS TABLE (queue_id bigint, id uuid)
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
#variable_conflict use_column
DECLARE
    v_queue bigint;
    v_ids uuid[];
BEGIN
    FOR v_queue, v_ids IN
        SELECT g.queue_id, array_agg(g.message_id ORDER BY g.message_id)
        FROM pgmq.group_members g
        WHERE g.group_id = p_group AND (p_queue_id IS NULL OR g.queue_id = p_queue_id)
          AND EXISTS (SELECT 1 FROM pgmq.messages m WHERE m.queue_id = g.queue_id AND m.id = g.message_id)
        GROUP BY g.queue_id
        ORDER BY g.queue_id
    LOOP
        RETURN QUERY SELECT v_queue, c.id FROM pgmq.cancel(v_queue, v_ids) AS c;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION pgmq.grant_producer(p_role regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA pgmq TO %s', p_role);
    EXECUTE format('GRANT SELECT ON pgmq.queues, pgmq.outcomes, pgmq.schema_migrations TO %s', p_role);
    EXECUTE format('GRANT UPDATE (send_lock) ON pgmq.queues TO %s', p_role);
    EXECUTE format('GRANT SELECT, INSERT ON pgmq.messages TO %s', p_role);
    EXECUTE format('GRANT SELECT, INSERT ON pgmq.group_members TO %s', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq._queue_for_send(text), pgmq.maintain(integer), '
                   'pgmq._admit(bigint, bigint) TO %s', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq.send(text, bytea, jsonb, interval, timestamptz, boolean), '
                   'pgmq.send_json(text, jsonb, jsonb, interval, timestamptz, boolean), '
                   'pgmq.send_batch(text, bytea[], jsonb[], interval, timestamptz, boolean), '
                   'pgmq.send_json_batch(text, jsonb[], jsonb[], interval, timestamptz, boolean) TO %s', p_role);
END
$$;

CREATE OR REPLACE FUNCTION pgmq.grant_consumer(p_role regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA pgmq TO %s', p_role);
    EXECUTE format('GRANT SELECT ON pgmq.queues, pgmq.schema_migrations TO %s', p_role);
    EXECUTE format('GRANT SELECT, UPDATE, DELETE ON pgmq.messages TO %s', p_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON pgmq.outcomes TO %s', p_role);
    EXECUTE format('GRANT SELECT ON pgmq.group_members TO %s', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq._dead_letter(bigint, pgmq.messages[], text, text), '
                   'pgmq.maintain(integer) TO %s', p_role);
END
$$;

-- Roles granted before this version: producers (EXECUTE on _queue_for_send) and consumers (EXECUTE on
-- _dead_letter) get the group table too.
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
        EXECUTE format('GRANT SELECT, INSERT ON pgmq.group_members TO %s', v_role);
    END LOOP;
    FOR v_role IN
        SELECT a.grantee::regrole
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
        WHERE p.oid = 'pgmq._dead_letter(bigint, pgmq.messages[], text, text)'::regprocedure
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
    LOOP
        EXECUTE format('GRANT SELECT ON pgmq.group_members TO %s', v_role);
    END LOOP;
END
$$;
