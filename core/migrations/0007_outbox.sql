-- pgmq schema, version 7: the transactional send (outbox). SQL functions that send in the caller's own
-- transaction, on the caller's own connection and driver: the messages commit with the caller's rows or
-- vanish with them, and receivers are woken at commit (NOTIFY is transactional).
--
-- They write the rows the core's send writes (core/src/queue.rs, SEND): the queue row locked FOR KEY
-- SHARE (a producer may, through its UPDATE right on queues.send_lock, migration 0006), one
-- available_at for the call, ids UUIDv7 in list order, `synchronous_commit` on for the transaction that
-- carries them. SECURITY INVOKER: the caller needs a producer's rights (pgmq.grant_producer), nothing more.
--
-- Errors carry pgmq's own SQLSTATE class PQ, which every binding maps to its typed errors through the
-- core's table (truths_json, "sqlstates"): PQ001 queue_not_found, PQ002 invalid_option. Nothing is
-- written when one is raised.

-- The one implementation; the three others convert their arguments and call it.
-- Ids: UUIDv7 made here (PostgreSQL 15 has no uuidv7()): 48 bits of unix milliseconds and 12 bits of
-- sub-millisecond fraction from clock_timestamp(), taken once for the call, then the entry's index in the
-- 32 high bits of the 62 that follow the variant and 30 random bits below: ids increase in list order
-- within a call and with time across calls, the order the claim takes (available_at, id; migration 0003).
CREATE FUNCTION pgmq.send_batch(queue text, bodies bytea[], attributes jsonb[] DEFAULT NULL,
                                delay interval DEFAULT NULL, schedule_at timestamptz DEFAULT NULL,
                                track boolean DEFAULT true) RETURNS uuid[]
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, pgmq, pg_temp AS $$
DECLARE
    v_queue_id bigint;
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

    SELECT q.id INTO v_queue_id
    FROM pgmq.queues q, pg_catalog.set_config('synchronous_commit', 'on', true)
    WHERE q.name = queue
    FOR KEY SHARE OF q;
    IF v_queue_id IS NULL THEN
        RAISE EXCEPTION 'pgmq: queue "%" does not exist', queue USING ERRCODE = 'PQ001';
    END IF;
    IF v_n = 0 THEN
        RETURN '{}';
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

CREATE FUNCTION pgmq.send(queue text, body bytea, attributes jsonb DEFAULT '{}', delay interval DEFAULT NULL,
                          schedule_at timestamptz DEFAULT NULL, track boolean DEFAULT true) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, pgmq, pg_temp AS $$
BEGIN
    -- No attributes travel as NULL: send_batch then skips their validation (a quarter of this call).
    RETURN (pgmq.send_batch(queue, ARRAY[body],
                            CASE WHEN send.attributes IS NULL OR send.attributes = '{}' THEN NULL
                                 ELSE ARRAY[send.attributes] END,
                            delay, schedule_at, track))[1];
END
$$;

-- The body stored is the jsonb's text as UTF-8, labelled content-type = application/json (the core's
-- CONTENT_TYPE_ATTRIBUTE / JSON_CONTENT_TYPE) so that message.json() reads it in every language. A
-- caller's own content-type must be one that reads as JSON (the core's is_json_content_type).
CREATE FUNCTION pgmq.send_json_batch(queue text, bodies jsonb[], attributes jsonb[] DEFAULT NULL,
                                     delay interval DEFAULT NULL, schedule_at timestamptz DEFAULT NULL,
                                     track boolean DEFAULT true) RETURNS uuid[]
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, pgmq, pg_temp AS $$
DECLARE
    v_label CONSTANT jsonb := '{"content-type": "application/json"}';
    v_bodies bytea[];
    v_attributes jsonb[];
    v_bad jsonb;
BEGIN
    IF bodies IS NULL THEN
        RAISE EXCEPTION 'pgmq: bodies must not be NULL' USING ERRCODE = 'PQ002';
    ELSIF send_json_batch.attributes IS NOT NULL
          AND pg_catalog.cardinality(send_json_batch.attributes) <> pg_catalog.cardinality(bodies) THEN
        RAISE EXCEPTION 'pgmq: % attributes for % bodies: give one per body, or none',
            pg_catalog.cardinality(send_json_batch.attributes), pg_catalog.cardinality(bodies)
            USING ERRCODE = 'PQ002';
    END IF;
    SELECT coalesce(pg_catalog.array_agg(pg_catalog.convert_to(CAST(b.body AS text), 'UTF8') ORDER BY b.i), '{}'),
           coalesce(pg_catalog.array_agg(
               CASE WHEN b.doc IS NULL THEN v_label
                    WHEN pg_catalog.jsonb_typeof(b.doc) <> 'object' OR b.doc ? 'content-type' THEN b.doc
                    ELSE b.doc || v_label END ORDER BY b.i), '{}'),
           (pg_catalog.array_agg(b.doc -> 'content-type') FILTER (
               WHERE pg_catalog.jsonb_typeof(b.doc) = 'object' AND b.doc ? 'content-type'
                 AND NOT pgmq._is_json_content_type(b.doc -> 'content-type')))[1]
    INTO v_bodies, v_attributes, v_bad
    FROM ROWS FROM (pg_catalog.unnest(bodies), pg_catalog.unnest(send_json_batch.attributes))
         WITH ORDINALITY AS b(body, doc, i);
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'pgmq: a JSON body cannot carry content-type %: give application/json, an '
                        'application/...+json type, or none', v_bad USING ERRCODE = 'PQ002';
    END IF;
    RETURN pgmq.send_batch(queue, v_bodies, v_attributes, delay, schedule_at, track);
END
$$;

CREATE FUNCTION pgmq.send_json(queue text, body jsonb, attributes jsonb DEFAULT '{}', delay interval DEFAULT NULL,
                               schedule_at timestamptz DEFAULT NULL, track boolean DEFAULT true) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, pgmq, pg_temp AS $$
BEGIN
    IF body IS NULL THEN
        RAISE EXCEPTION 'pgmq: body must not be NULL' USING ERRCODE = 'PQ002';
    END IF;
    RETURN (pgmq.send_json_batch(queue, ARRAY[body], ARRAY[send_json.attributes], delay, schedule_at, track))[1];
END
$$;

-- The core's is_json_content_type (core/src/options.rs) for a label that is present: a string whose
-- media type is application/json or application/...+json, case-insensitive, parameters ignored.
CREATE FUNCTION pgmq._is_json_content_type(label jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pgmq, pg_temp AS $$
    SELECT pg_catalog.jsonb_typeof(label) = 'string'
           AND (m.media = 'application/json' OR (m.media LIKE 'application/%' AND m.media LIKE '%+json'))
    FROM (SELECT pg_catalog.lower(pg_catalog.btrim(pg_catalog.split_part(label #>> '{}', ';', 1), E' \t\r\n'))
                 AS media) AS m
$$;

REVOKE EXECUTE ON FUNCTION
    pgmq.send(text, bytea, jsonb, interval, timestamptz, boolean),
    pgmq.send_json(text, jsonb, jsonb, interval, timestamptz, boolean),
    pgmq.send_batch(text, bytea[], jsonb[], interval, timestamptz, boolean),
    pgmq.send_json_batch(text, jsonb[], jsonb[], interval, timestamptz, boolean)
FROM PUBLIC;

CREATE OR REPLACE FUNCTION pgmq.grant_producer(p_role regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA pgmq TO %s', p_role);
    EXECUTE format('GRANT SELECT ON pgmq.queues, pgmq.outcomes, pgmq.schema_migrations TO %s', p_role);
    EXECUTE format('GRANT UPDATE (send_lock) ON pgmq.queues TO %s', p_role);
    EXECUTE format('GRANT SELECT, INSERT ON pgmq.messages TO %s', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq._queue_for_send(text), pgmq.maintain(integer) TO %s', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq.send(text, bytea, jsonb, interval, timestamptz, boolean), '
                   'pgmq.send_json(text, jsonb, jsonb, interval, timestamptz, boolean), '
                   'pgmq.send_batch(text, bytea[], jsonb[], interval, timestamptz, boolean), '
                   'pgmq.send_json_batch(text, jsonb[], jsonb[], interval, timestamptz, boolean) TO %s', p_role);
END
$$;

-- Roles that are producers already (every version of grant_producer granted _queue_for_send) may call
-- the new functions too.
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
        EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq.send(text, bytea, jsonb, interval, timestamptz, boolean), '
                       'pgmq.send_json(text, jsonb, jsonb, interval, timestamptz, boolean), '
                       'pgmq.send_batch(text, bytea[], jsonb[], interval, timestamptz, boolean), '
                       'pgmq.send_json_batch(text, jsonb[], jsonb[], interval, timestamptz, boolean) TO %s',
                       v_role);
    END LOOP;
END
$$;
