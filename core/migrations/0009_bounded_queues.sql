-- pgmq schema, version 9: bounded queues. A queue may hold at most `max_messages` messages (ready,
-- scheduled and leased together); a send that does not fit, whole, raises queue_full (SQLSTATE PQ003)
-- and writes nothing. Queues without a bound (max_messages NULL, every queue before this version) pay
-- one CASE in the send statement, nothing else: acks, claims and heartbeats are unchanged.
--
-- How the bound holds under concurrent senders without serialising them: the room of a bounded queue
-- is split into stripes (pgmq.queue_room, at most 8 rows per queue) whose caps add up to max_messages.
-- A send reserves its whole batch in one stripe that has room for it, taking that stripe's row lock
-- with SKIP LOCKED (concurrent senders take different stripes) until it commits. Stripes count sends
-- only: acks, nacks to the DLQ, cancels and expiry never touch them, so `used` only overestimates.
-- When no stripe has room the sender reconciles: it locks every stripe of the queue in stripe order
-- (waiting for the senders that hold one, so that their messages are committed and counted), counts the
-- queue's rows, and either raises queue_full or spreads count + batch over the stripes again. Every row
-- in the queue was admitted through a stripe or counted by the last reconcile, so the queue never holds
-- more than max_messages. Reconciles happen about once per (max_messages - depth) messages sent, and at
-- every send while the queue is full.
--
-- Rows enter a queue through the native send (core/src/queue.rs, SEND), the SQL send (below) and
-- redrive (below): all three admit. Dead-letter queues are never bounded.

ALTER TABLE pgmq.queues ADD COLUMN max_messages bigint CHECK (max_messages >= 1);

CREATE TABLE pgmq.queue_room (
    queue_id bigint NOT NULL REFERENCES pgmq.queues (id) ON DELETE CASCADE,
    stripe   integer NOT NULL,
    cap      bigint NOT NULL CHECK (cap >= 1),
    used     bigint NOT NULL,
    PRIMARY KEY (queue_id, stripe)
);

-- Sets (or, with NULL, removes) a queue's bound and rebuilds its stripes. A stripe starts full when the
-- queue may hold messages already, so that the first send reconciles with the real count.
CREATE FUNCTION pgmq._set_max_messages(p_queue_id bigint, p_max bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
DECLARE
    v_stripes integer := least(coalesce(p_max, 0), 8);
    v_empty boolean;
BEGIN
    UPDATE pgmq.queues SET max_messages = p_max WHERE id = p_queue_id;
    DELETE FROM pgmq.queue_room WHERE queue_id = p_queue_id;
    IF p_max IS NULL THEN
        RETURN;
    END IF;
    v_empty := NOT EXISTS (SELECT 1 FROM pgmq.messages WHERE queue_id = p_queue_id);
    INSERT INTO pgmq.queue_room (queue_id, stripe, cap, used)
    SELECT p_queue_id, s, p_max / v_stripes + CASE WHEN s < p_max % v_stripes THEN 1 ELSE 0 END,
           CASE WHEN v_empty THEN 0 ELSE p_max / v_stripes + CASE WHEN s < p_max % v_stripes THEN 1 ELSE 0 END END
    FROM generate_series(0, v_stripes - 1) AS s;
END
$$;

-- Reserves room for p_n more messages in bounded queue p_queue_id, or raises queue_full (PQ003). The
-- reservation lasts as long as the caller's transaction, and with it the row lock of one stripe.
-- SECURITY DEFINER: a producer needs no right on queue_room, nor to read every message it counts.
CREATE FUNCTION pgmq._admit(p_queue_id bigint, p_n bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pgmq, pg_temp AS $$
DECLARE
    v_q pgmq.queues;
    v_count bigint;
    v_total bigint;
    v_left bigint;
    v_stripe integer;
BEGIN
    IF p_n <= 0 THEN
        RETURN true;
    END IF;
    -- In a block of its own: a stripe that another sender updated since this statement's snapshot is
    -- locked, re-read and, if it no longer has room, skipped but still locked (PostgreSQL keeps the lock of
    -- a row that fails its re-check). Entering the count below holding such a stray lock would lock the
    -- stripes out of order and could deadlock with another sender counting. Leaving the block by an
    -- exception rolls it back, and with it those locks; leaving it with a stripe keeps them, harmlessly
    -- (this send then waits for nothing more).
    BEGIN
        UPDATE pgmq.queue_room r SET used = r.used + p_n
        WHERE (r.queue_id, r.stripe) = (SELECT x.queue_id, x.stripe FROM pgmq.queue_room x
                                        WHERE x.queue_id = p_queue_id AND x.cap - x.used >= p_n
                                        ORDER BY x.stripe
                                        LIMIT 1 FOR UPDATE SKIP LOCKED);
        IF FOUND THEN
            RETURN true;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'PQ900';
    EXCEPTION WHEN SQLSTATE 'PQ900' THEN
        NULL;
    END;

    -- No stripe has room: count, holding every stripe.
    SELECT * INTO v_q FROM pgmq.queues WHERE id = p_queue_id;
    IF v_q.max_messages IS NULL THEN
        RETURN true;
    ELSIF p_n > v_q.max_messages THEN
        -- Never fits: refused as invalid, so that no sender waits for room that cannot come.
        RAISE EXCEPTION 'pgmq: a send of % messages never fits in queue "%", bounded to %',
            p_n, v_q.name, v_q.max_messages USING ERRCODE = 'PQ002';
    END IF;
    PERFORM 1 FROM pgmq.queue_room WHERE queue_id = p_queue_id ORDER BY stripe FOR UPDATE;
    SELECT count(*) INTO v_count FROM pgmq.messages WHERE queue_id = p_queue_id;
    IF v_count + p_n > v_q.max_messages THEN
        RAISE EXCEPTION 'pgmq: queue "%" is full: it holds % of at most % messages, and % more do not fit',
            v_q.name, v_count, v_q.max_messages, p_n USING ERRCODE = 'PQ003';
    END IF;
    -- Spread the count and this batch over the stripes in proportion to their caps (the shares never
    -- exceed a cap since count + batch <= max_messages); the remainder, fewer than the stripes, one each
    -- to stripes with room.
    v_total := v_count + p_n;
    UPDATE pgmq.queue_room SET used = v_total * cap / v_q.max_messages WHERE queue_id = p_queue_id;
    SELECT v_total - sum(used) INTO v_left FROM pgmq.queue_room WHERE queue_id = p_queue_id;
    FOR v_stripe IN SELECT stripe FROM pgmq.queue_room WHERE queue_id = p_queue_id AND used < cap ORDER BY stripe LOOP
        EXIT WHEN v_left <= 0;
        UPDATE pgmq.queue_room SET used = used + 1 WHERE queue_id = p_queue_id AND stripe = v_stripe;
        v_left := v_left - 1;
    END LOOP;
    RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION pgmq._admit(bigint, bigint), pgmq._set_max_messages(bigint, bigint) FROM PUBLIC;

-- The SQL send (migration 0007) admits its batch into a bounded queue.
CREATE OR REPLACE FUNCTION pgmq.send_batch(queue text, bodies bytea[], attributes jsonb[] DEFAULT NULL,
                                delay interval DEFAULT NULL, schedule_at timestamptz DEFAULT NULL,
                                track boolean DEFAULT true) RETURNS uuid[]
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, pgmq, pg_temp AS $$
DECLARE
    v_queue_id bigint;
    v_max bigint;
    v_n integer := pg_catalog.cardinality(bodies);
    v_nulls bigint;
    v_bytes numeric;
    v_bad text;
    v_at timestamptz;
    v_us bigint;
    v_prefix text;
    v_ids uuid[];
BEGIN
    IF queue IS NULL THEN
        RAISE EXCEPTION 'pgmq: queue must not be NULL' USING ERRCODE = 'PQ002';
    ELSIF bodies IS NULL THEN
        RAISE EXCEPTION 'pgmq: bodies must not be NULL' USING ERRCODE = 'PQ002';
    ELSIF track IS NULL THEN
        RAISE EXCEPTION 'pgmq: track must not be NULL' USING ERRCODE = 'PQ002';
    ELSIF delay IS NOT NULL AND schedule_at IS NOT NULL THEN
        RAISE EXCEPTION 'pgmq: give either delay or schedule_at, not both' USING ERRCODE = 'PQ002';
    ELSIF delay < interval '0' THEN
        RAISE EXCEPTION 'pgmq: delay must not be negative (%)', delay USING ERRCODE = 'PQ002';
    ELSIF delay > interval '36600 days' THEN
        RAISE EXCEPTION 'pgmq: delay is too long (max 100 years)' USING ERRCODE = 'PQ002';
    ELSIF send_batch.attributes IS NOT NULL
          AND pg_catalog.cardinality(send_batch.attributes) <> v_n THEN
        RAISE EXCEPTION 'pgmq: % attributes for % bodies: give one per body, or none',
            pg_catalog.cardinality(send_batch.attributes), v_n USING ERRCODE = 'PQ002';
    END IF;
    SELECT pg_catalog.count(*) FILTER (WHERE b IS NULL), coalesce(pg_catalog.sum(pg_catalog.octet_length(b)), 0)
    INTO v_nulls, v_bytes
    FROM pg_catalog.unnest(bodies) AS b;
    IF v_nulls > 0 THEN
        RAISE EXCEPTION 'pgmq: a body must not be NULL (% of % are)', v_nulls, v_n USING ERRCODE = 'PQ002';
    END IF;
    -- Attributes: a flat JSON object of scalars that every language reads back (numbers as i64 or f64).
    IF send_batch.attributes IS NOT NULL THEN
        SELECT x.m, v_bytes + x.size INTO v_bad, v_bytes
        FROM (SELECT pg_catalog.sum(pg_catalog.pg_column_size(a.doc)) OVER () AS size,
                     CASE WHEN a.doc IS NULL THEN NULL
                          WHEN pg_catalog.jsonb_typeof(a.doc) <> 'object'
                          THEN pg_catalog.format('attributes must be a JSON object, not %s', a.doc)
                          ELSE (SELECT pg_catalog.format('attribute %s %s', pg_catalog.to_jsonb(e.key),
                                   CASE WHEN pg_catalog.jsonb_typeof(e.value) = 'number'
                                        THEN 'is a number beyond what a 64-bit float holds'
                                        ELSE pg_catalog.format('is %s: a value must be a string, a number, a '
                                                               'boolean or null',
                                                               pg_catalog.left(CAST(e.value AS text), 100)) END)
                                FROM pg_catalog.jsonb_each(a.doc) AS e
                                WHERE pg_catalog.jsonb_typeof(e.value) NOT IN ('string', 'number', 'boolean', 'null')
                                   OR (pg_catalog.jsonb_typeof(e.value) = 'number'
                                       AND pg_catalog.abs(CAST(e.value AS numeric))
                                           -- the least number a 64-bit float reads as infinity: the largest
                                           -- float (exactly) plus half its last place, 2^970
                                           >= 179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792)
                                LIMIT 1) END AS m
              FROM pg_catalog.unnest(send_batch.attributes) AS a(doc)) AS x
        ORDER BY x.m IS NULL
        LIMIT 1;
        IF v_bad IS NOT NULL THEN
            RAISE EXCEPTION 'pgmq: %', v_bad USING ERRCODE = 'PQ002';
        END IF;
    END IF;
    -- MAX_SEND_BYTES in core/src/options.rs.
    IF v_bytes > 1000000000 THEN
        RAISE EXCEPTION 'pgmq: one send carries at most 1000000000 bytes of bodies and attributes'
            USING ERRCODE = 'PQ002';
    END IF;

    SELECT q.id, q.max_messages INTO v_queue_id, v_max
    FROM pgmq.queues q, pg_catalog.set_config('synchronous_commit', 'on', true)
    WHERE q.name = queue
    FOR KEY SHARE OF q;
    IF v_queue_id IS NULL THEN
        RAISE EXCEPTION 'pgmq: queue "%" does not exist', queue USING ERRCODE = 'PQ001';
    END IF;
    IF v_n = 0 THEN
        RETURN '{}';
    END IF;
    IF v_max IS NOT NULL THEN
        PERFORM pgmq._admit(v_queue_id, v_n);
    END IF;

    v_at := coalesce(schedule_at, pg_catalog.now() + coalesce(delay, interval '0'));
    v_us := CAST(EXTRACT(epoch FROM pg_catalog.clock_timestamp()) * 1000000 AS bigint);
    v_prefix := pg_catalog.lpad(pg_catalog.to_hex(v_us / 1000), 12, '0')
                || pg_catalog.to_hex(28672 + (v_us % 1000) * 4096 / 1000);  -- 0x7000: version 7
    WITH u AS (
        SELECT CAST(v_prefix || pg_catalog.to_hex(32768 + (r.bits >> 48))      -- 0x8000: the variant
                    || pg_catalog.lpad(pg_catalog.to_hex(r.bits & 281474976710655), 12, '0') AS uuid) AS id,
               r.i, r.body, r.doc
        FROM (SELECT (CAST(b.i - 1 AS bigint) << 30)
                     | CAST(pg_catalog.floor(pg_catalog.random() * CAST(1073741824 AS float8)) AS bigint) AS bits,
                     b.i, b.body, b.doc
              FROM ROWS FROM (pg_catalog.unnest(bodies), pg_catalog.unnest(send_batch.attributes))
                   WITH ORDINALITY AS b(body, doc, i)) AS r
    ),
    ins AS (
        INSERT INTO pgmq.messages (queue_id, id, available_at, tracked, attributes, body)
        SELECT v_queue_id, u.id, v_at, track, coalesce(u.doc, '{}'), u.body FROM u
    )
    SELECT pg_catalog.array_agg(u.id ORDER BY u.i) INTO v_ids FROM u;
    PERFORM pg_catalog.pg_notify('pgmq_q_' || v_queue_id, '');
    RETURN v_ids;
END
$$;

-- redrive (migration 0003) admits what it may move into a bounded queue: every candidate row, counted
-- before the move (the move skips rows locked meanwhile, so it may move fewer than it reserved).
CREATE OR REPLACE FUNCTION pgmq.redrive(p_from text, p_to text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
DECLARE
    v_from pgmq.queues;
    v_to pgmq.queues;
    v_n bigint;
BEGIN
    SELECT * INTO v_from FROM pgmq.queues WHERE name = p_from;
    SELECT * INTO v_to FROM pgmq.queues WHERE name = p_to FOR KEY SHARE;
    IF v_from.id IS NULL OR v_to.id IS NULL THEN
        RETURN NULL;
    END IF;
    IF v_to.max_messages IS NOT NULL THEN
        SELECT count(*) INTO v_n
        FROM pgmq.messages m
        WHERE m.queue_id = v_from.id AND NOT m.cancel_requested
          AND (m.lease_token IS NULL OR m.available_at <= now())
          AND NOT EXISTS (SELECT 1 FROM pgmq.messages t WHERE t.queue_id = v_to.id AND t.id = m.id);
        PERFORM pgmq._admit(v_to.id, v_n);
    END IF;
    WITH moved AS (
        INSERT INTO pgmq.messages (queue_id, id, available_at, tracked, sent_at, last_error,
                                   attributes, body)
        SELECT v_to.id, m.id, now(), false, m.sent_at, m.last_error,
               m.attributes, m.body
        FROM pgmq.messages m
        WHERE m.queue_id = v_from.id AND NOT m.cancel_requested
          AND (m.lease_token IS NULL OR m.available_at <= now())
          AND NOT EXISTS (SELECT 1 FROM pgmq.messages t WHERE t.queue_id = v_to.id AND t.id = m.id)
        ORDER BY m.available_at, m.id
        FOR UPDATE OF m SKIP LOCKED
        RETURNING id
    )
    DELETE FROM pgmq.messages m USING moved WHERE m.queue_id = v_from.id AND m.id = moved.id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n > 0 THEN
        PERFORM pg_notify('pgmq_q_' || v_to.id, '');
    END IF;
    RETURN v_n;
END
$$;

-- Producers may call _admit (the send statement does, for bounded queues).
CREATE OR REPLACE FUNCTION pgmq.grant_producer(p_role regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA pgmq TO %s', p_role);
    EXECUTE format('GRANT SELECT ON pgmq.queues, pgmq.outcomes, pgmq.schema_migrations TO %s', p_role);
    EXECUTE format('GRANT UPDATE (send_lock) ON pgmq.queues TO %s', p_role);
    EXECUTE format('GRANT SELECT, INSERT ON pgmq.messages TO %s', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq._queue_for_send(text), pgmq.maintain(integer), '
                   'pgmq._admit(bigint, bigint) TO %s', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq.send(text, bytea, jsonb, interval, timestamptz, boolean), '
                   'pgmq.send_json(text, jsonb, jsonb, interval, timestamptz, boolean), '
                   'pgmq.send_batch(text, bytea[], jsonb[], interval, timestamptz, boolean), '
                   'pgmq.send_json_batch(text, jsonb[], jsonb[], interval, timestamptz, boolean) TO %s', p_role);
END
$$;

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
        EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq._admit(bigint, bigint) TO %s', v_role);
    END LOOP;
END
$$;
