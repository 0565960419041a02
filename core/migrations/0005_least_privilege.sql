-- pgmq schema, version 5: roles that may only produce, or only consume.
--
-- A send locks its queue row FOR KEY SHARE (so a concurrent delete_queue waits for it, then deletes its
-- rows too: messages have no foreign key, see 0001), and a lock clause needs UPDATE on the table, which
-- would let a producer rewrite queue settings. So the lock is taken by pgmq._queue_for_send, owned by the
-- schema's owner (SECURITY DEFINER): a producer needs EXECUTE on it, INSERT on messages, and nothing that
-- changes queues. The same for the two other places where a non-owner needs a lock or a row it may not
-- otherwise touch: moving exhausted messages into a DLQ (_dead_letter, from a consumer's nack) and
-- housekeeping (maintain, which every client offers to run). EXECUTE on these three is revoked from
-- PUBLIC; pgmq.grant_producer / pgmq.grant_consumer hand out exactly what each kind of role needs.

-- PL/pgSQL rather than SQL: it runs on every send, and a SQL function that cannot be inlined (a
-- SECURITY DEFINER one cannot) is parsed and planned again on every call, which cost sends 20-25 % of
-- their throughput (send_one, 8 concurrent senders); PL/pgSQL keeps the plan for the session.
CREATE FUNCTION pgmq._queue_for_send(p_name text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pgmq, pg_temp AS $$
DECLARE
    v_id bigint;
BEGIN
    SELECT q.id INTO v_id FROM pgmq.queues q WHERE q.name = p_name FOR KEY SHARE;
    RETURN v_id;
END
$$;

ALTER FUNCTION pgmq._dead_letter(bigint, pgmq.messages[], text, text) SECURITY DEFINER;
ALTER FUNCTION pgmq.maintain(integer) SECURITY DEFINER;
REVOKE EXECUTE ON FUNCTION pgmq._queue_for_send(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgmq._dead_letter(bigint, pgmq.messages[], text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pgmq.maintain(integer) FROM PUBLIC;

-- What a role that only sends (and waits for outcomes) needs. It cannot claim, ack, nack, cancel, create
-- or delete queues.
CREATE FUNCTION pgmq.grant_producer(p_role regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA pgmq TO %s', p_role);
    EXECUTE format('GRANT SELECT ON pgmq.queues, pgmq.outcomes, pgmq.schema_migrations TO %s', p_role);
    EXECUTE format('GRANT SELECT, INSERT ON pgmq.messages TO %s', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq._queue_for_send(text), pgmq.maintain(integer) TO %s', p_role);
END
$$;

-- What a role that only receives (claims, heartbeats, acks, nacks, dead-letters) needs. It cannot send,
-- create or delete queues (it can cancel: that needs nothing more than updating and deleting messages).
CREATE FUNCTION pgmq.grant_consumer(p_role regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA pgmq TO %s', p_role);
    EXECUTE format('GRANT SELECT ON pgmq.queues, pgmq.schema_migrations TO %s', p_role);
    EXECUTE format('GRANT SELECT, UPDATE, DELETE ON pgmq.messages TO %s', p_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON pgmq.outcomes TO %s', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq._dead_letter(bigint, pgmq.messages[], text, text), '
                   'pgmq.maintain(integer) TO %s', p_role);
END
$$;
REVOKE EXECUTE ON FUNCTION pgmq.grant_producer(regrole), pgmq.grant_consumer(regrole) FROM PUBLIC;
