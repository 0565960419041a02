-- pgmq schema, version 1.
--
-- The table is the truth; NOTIFY is only a hint. Channels are derived from queue ids, never from names,
-- so every valid name (48 characters, plus the `dlq@` prefix) stays far below the 63-byte identifier limit:
--   pgmq_q_<id>  something became ready (send, nack, release, redrive)
--   pgmq_c_<id>  tracked messages finished; payload: comma-separated ids, or '*' when they do not fit
--   pgmq_x_<id>  leased messages were cancelled; payload as above
--   pgmq_queues  a queue was created or deleted (receivers waiting on an unknown queue re-resolve it)

CREATE TABLE pgmq.queues (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  text NOT NULL UNIQUE,
    ack_deadline          interval NOT NULL CHECK (ack_deadline >= interval '1 second'),
    max_delivery_attempts integer NOT NULL CHECK (max_delivery_attempts >= 1),
    retention_period      interval NOT NULL CHECK (retention_period > interval '0'),
    dlq_id                bigint REFERENCES pgmq.queues (id) ON DELETE SET NULL,
    owns_dlq              boolean NOT NULL DEFAULT false,
    -- nack backoff: delay = least(base * factor ^ (attempt - 1), max), jittered down by up to half
    backoff_base          interval,
    backoff_factor        double precision,
    backoff_max           interval,
    backoff_jitter        boolean NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now()
);

-- One row per queued, scheduled or leased message. Retention counts from `available_at`: a message that
-- stays available (not leased) for the queue's retention period expires; a nack or a lapsed lease starts
-- the count again, since the message was being worked on.
--   scheduled: lease_token IS NULL     AND available_at >  now()
--   ready:     available_at <= now()   AND NOT last_lease AND NOT cancel_requested
--   leased:    lease_token IS NOT NULL AND available_at >  now()   (available_at is then the lease expiry)
-- No foreign key to pgmq.queues: its per-row RI check cost half the throughput of a batch insert.
-- Instead, writers take FOR KEY SHARE on the queue row once per statement, and delete_queue deletes the
-- queue's rows itself after deleting (and so waiting for) the queue row.
CREATE TABLE pgmq.messages (
    queue_id          bigint NOT NULL,
    id                uuid NOT NULL,
    seq               bigint GENERATED ALWAYS AS IDENTITY,
    available_at      timestamptz NOT NULL,
    delivery_attempts integer NOT NULL DEFAULT 0,
    lease_token       uuid,
    last_lease        boolean NOT NULL DEFAULT false,
    cancel_requested  boolean NOT NULL DEFAULT false,
    tracked           boolean NOT NULL,
    sent_at           timestamptz NOT NULL DEFAULT now(),
    last_error        text,
    dead_letter_attempts integer,
    attributes        jsonb NOT NULL DEFAULT '{}',
    body              bytea NOT NULL,
    PRIMARY KEY (queue_id, id)
) WITH (
    -- Queue tables churn: every lease is an update, every ack a delete. Vacuum early and often so the
    -- table and its indexes stay near the size of the live backlog.
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.05
);

-- receive: the oldest available rows of one queue; next wake-up: the first row with available_at > now()
CREATE INDEX messages_ready ON pgmq.messages (queue_id, available_at, seq);
-- maintenance: last-attempt leases that lapsed, and cancelled leases that lapsed (both small sets)
CREATE INDEX messages_lapsing ON pgmq.messages (available_at) WHERE last_lease OR cancel_requested;

-- Durable outcome of every tracked message, kept for the queue's retention period.
CREATE TABLE pgmq.outcomes (
    id          uuid PRIMARY KEY,
    queue_id    bigint NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('completed', 'dead_lettered', 'cancelled', 'expired')),
    finished_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0.02);
CREATE INDEX outcomes_expiry ON pgmq.outcomes (expires_at);
CREATE INDEX outcomes_queue ON pgmq.outcomes (queue_id);

-- The payload of a pgmq_c_/pgmq_x_ notification: the ids when they fit, '*' (re-check everything) when not.
CREATE FUNCTION pgmq._id_payload(ids uuid[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN coalesce(cardinality(ids), 0) <= 200 THEN array_to_string(ids, ',') ELSE '*' END
$$;

-- Records outcomes of tracked messages and (unless the caller will) wakes their waiters with one
-- notification.
CREATE FUNCTION pgmq._finish(p_queue_id bigint, p_ids uuid[], p_outcome text, p_notify boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(cardinality(p_ids), 0) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO pgmq.outcomes (id, queue_id, outcome, expires_at)
    SELECT i, p_queue_id, p_outcome, now() + q.retention_period
    FROM unnest(p_ids) AS i, pgmq.queues q
    WHERE q.id = p_queue_id
    ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome, finished_at = excluded.finished_at,
                                   expires_at = excluded.expires_at, queue_id = excluded.queue_id;
    IF p_notify THEN
        PERFORM pg_notify('pgmq_c_' || p_queue_id, pgmq._id_payload(p_ids));
    END IF;
END
$$;

-- Moves messages (already deleted by the caller, passed as rows) to the queue's DLQ, or drops them when it
-- has none, and records `p_outcome` for the tracked ones. One transaction with the caller's delete.
CREATE FUNCTION pgmq._dead_letter(p_queue_id bigint, p_rows pgmq.messages[], p_outcome text, p_error text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_dlq pgmq.queues;
    v_tracked uuid[];
BEGIN
    IF coalesce(cardinality(p_rows), 0) = 0 THEN
        RETURN;
    END IF;
    SELECT d.* INTO v_dlq FROM pgmq.queues q JOIN pgmq.queues d ON d.id = q.dlq_id WHERE q.id = p_queue_id
    FOR KEY SHARE OF d;
    IF v_dlq.id IS NOT NULL THEN
        INSERT INTO pgmq.messages (queue_id, id, available_at, tracked, sent_at, last_error,
                                   dead_letter_attempts, attributes, body)
        SELECT v_dlq.id, r.id, now(), false, r.sent_at,
               coalesce(p_error, r.last_error), r.delivery_attempts, r.attributes, r.body
        FROM unnest(p_rows) AS r
        ORDER BY r.seq
        ON CONFLICT (queue_id, id) DO NOTHING;
        PERFORM pg_notify('pgmq_q_' || v_dlq.id, '');
    END IF;
    SELECT array_agg(r.id) INTO v_tracked FROM unnest(p_rows) AS r WHERE r.tracked;
    PERFORM pgmq._finish(p_queue_id, v_tracked, p_outcome);
END
$$;

-- nack: per message, either back to the queue after a delay (explicit, else the queue's backoff policy,
-- else at once) or, when its attempts are used up, to the DLQ. Fenced by the lease token.
-- Returns one row per message that was still held by the caller: 'retried', 'dead_lettered' or 'cancelled'.
CREATE FUNCTION pgmq.nack(p_queue_id bigint, p_ids uuid[], p_tokens uuid[], p_delays_us bigint[],
                          p_errors text[])
RETURNS TABLE (id uuid, result text)
LANGUAGE plpgsql AS $$
DECLARE
    v_q pgmq.queues;
    v_dead pgmq.messages[];
    v_cancelled uuid[];
BEGIN
    SELECT * INTO v_q FROM pgmq.queues q WHERE q.id = p_queue_id;
    IF v_q.id IS NULL THEN
        RETURN;
    END IF;

    -- Cancelled while held: the outcome is already recorded; the nack just drops the row.
    WITH d AS (
        DELETE FROM pgmq.messages m
        USING unnest(p_ids, p_tokens) AS a(id, token)
        WHERE m.queue_id = p_queue_id AND m.id = a.id AND m.lease_token = a.token AND m.cancel_requested
        RETURNING m.id
    )
    SELECT array_agg(d.id) INTO v_cancelled FROM d;

    -- Used up: move whole to the DLQ.
    WITH d AS (
        DELETE FROM pgmq.messages m
        USING unnest(p_ids, p_tokens, p_errors) AS a(id, token, err)
        WHERE m.queue_id = p_queue_id AND m.id = a.id AND m.lease_token = a.token
          AND m.delivery_attempts >= v_q.max_delivery_attempts
        RETURNING m.*, a.err
    )
    SELECT array_agg(ROW(d.queue_id, d.id, d.seq, d.available_at, d.delivery_attempts,
                         d.lease_token, d.last_lease, d.cancel_requested, d.tracked, d.sent_at,
                         coalesce(d.err, d.last_error), d.dead_letter_attempts, d.attributes,
                         d.body)::pgmq.messages)
    INTO v_dead FROM d;
    PERFORM pgmq._dead_letter(p_queue_id, v_dead, 'dead_lettered', NULL);

    -- Otherwise: available again after the delay.
    RETURN QUERY
    WITH u AS (
        UPDATE pgmq.messages m
        SET lease_token = NULL,
            last_error = coalesce(a.err, m.last_error),
            available_at = now() + make_interval(secs => coalesce(a.delay_us,
                CASE WHEN v_q.backoff_base IS NULL THEN 0
                     ELSE least(extract(epoch FROM v_q.backoff_base)
                                    * power(v_q.backoff_factor, greatest(m.delivery_attempts - 1, 0)),
                                extract(epoch FROM v_q.backoff_max))
                          * (CASE WHEN v_q.backoff_jitter THEN 0.5 + random() / 2 ELSE 1 END)
                          * 1e6
                END) / 1e6)
        FROM unnest(p_ids, p_tokens, p_delays_us, p_errors) AS a(id, token, delay_us, err)
        WHERE m.queue_id = p_queue_id AND m.id = a.id AND m.lease_token = a.token
        RETURNING m.id
    )
    SELECT u.id, 'retried'::text FROM u
    UNION ALL SELECT r.id, 'dead_lettered' FROM unnest(v_dead) AS r
    UNION ALL SELECT c, 'cancelled' FROM unnest(v_cancelled) AS c;

    PERFORM pg_notify('pgmq_q_' || p_queue_id, '');
END
$$;

-- cancel: queued, scheduled or lapsed messages are removed for good; live leases are marked and their
-- holders signalled on pgmq_x_<id>. Returns the ids found (cancelled now or already being cancelled).
CREATE FUNCTION pgmq.cancel(p_queue_id bigint, p_ids uuid[])
RETURNS TABLE (id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    v_removed uuid[];
    v_removed_tracked uuid[];
    v_marked uuid[];
    v_marked_tracked uuid[];
    v_already uuid[];
BEGIN
    WITH d AS (
        DELETE FROM pgmq.messages m
        WHERE m.queue_id = p_queue_id AND m.id = ANY (p_ids)
          AND NOT m.cancel_requested AND (m.lease_token IS NULL OR m.available_at <= now())
        RETURNING m.id, m.tracked
    )
    SELECT array_agg(d.id), array_agg(d.id) FILTER (WHERE d.tracked) INTO v_removed, v_removed_tracked FROM d;

    WITH u AS (
        UPDATE pgmq.messages m SET cancel_requested = true
        WHERE m.queue_id = p_queue_id AND m.id = ANY (p_ids)
          AND NOT m.cancel_requested AND m.lease_token IS NOT NULL AND m.available_at > now()
        RETURNING m.id, m.tracked
    )
    SELECT array_agg(u.id), array_agg(u.id) FILTER (WHERE u.tracked) INTO v_marked, v_marked_tracked FROM u;

    SELECT array_agg(m.id) INTO v_already FROM pgmq.messages m
    WHERE m.queue_id = p_queue_id AND m.id = ANY (p_ids) AND m.cancel_requested
      AND NOT (m.id = ANY (coalesce(v_marked, '{}')));

    PERFORM pgmq._finish(p_queue_id, v_removed_tracked || v_marked_tracked, 'cancelled');
    IF v_marked IS NOT NULL THEN
        PERFORM pg_notify('pgmq_x_' || p_queue_id, pgmq._id_payload(v_marked));
    END IF;
    RETURN QUERY SELECT unnest(coalesce(v_removed, '{}') || coalesce(v_marked, '{}') || coalesce(v_already, '{}'));
END
$$;

-- Housekeeping for every queue, run by one client at a time (the one that wins the advisory lock):
-- lapsed last-attempt leases go to the DLQ, lapsed cancelled leases are dropped, messages past their
-- retention (and not leased) go to the DLQ as 'expired', and outcome records past retention are pruned.
-- Returns the number of rows it handled, or -1 when another client holds the lock.
CREATE FUNCTION pgmq.maintain(p_limit integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_queue bigint;
    v_q record;
    v_rows pgmq.messages[];
    v_total bigint := 0;
    v_n bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7305142290463195700) THEN
        RETURN -1;
    END IF;

    -- lapsed last attempts and lapsed cancelled leases
    FOR v_queue, v_rows IN
        WITH d AS (
            DELETE FROM pgmq.messages m
            WHERE (m.queue_id, m.id) IN (
                SELECT x.queue_id, x.id FROM pgmq.messages x
                WHERE (x.last_lease OR x.cancel_requested) AND x.available_at <= now()
                LIMIT p_limit FOR UPDATE SKIP LOCKED)
            RETURNING m.*
        )
        SELECT d.queue_id, array_agg(d::pgmq.messages) FILTER (WHERE NOT d.cancel_requested)
        FROM d GROUP BY d.queue_id
    LOOP
        PERFORM pgmq._dead_letter(v_queue, v_rows, 'dead_lettered', 'lease expired on the last delivery attempt');
        v_total := v_total + coalesce(cardinality(v_rows), 0);
    END LOOP;

    -- retention: messages available (not leased) for longer than their queue's retention period. One
    -- range scan of `messages_ready` per queue: the expired rows are exactly the oldest ones.
    FOR v_q IN SELECT q.id, q.retention_period FROM pgmq.queues q LOOP
        WITH d AS (
            DELETE FROM pgmq.messages m
            WHERE (m.queue_id, m.id) IN (
                SELECT x.queue_id, x.id FROM pgmq.messages x
                WHERE x.queue_id = v_q.id AND x.available_at <= now() - v_q.retention_period
                  AND NOT x.cancel_requested AND NOT x.last_lease
                ORDER BY x.available_at, x.seq
                LIMIT p_limit FOR UPDATE SKIP LOCKED)
            RETURNING m.*
        )
        SELECT array_agg(d::pgmq.messages ORDER BY d.seq) INTO v_rows FROM d;
        IF v_rows IS NOT NULL THEN
            PERFORM pgmq._dead_letter(v_q.id, v_rows, 'expired', 'retention period ran out');
            v_total := v_total + cardinality(v_rows);
        END IF;
    END LOOP;

    DELETE FROM pgmq.outcomes o
    WHERE o.id IN (SELECT x.id FROM pgmq.outcomes x WHERE x.expires_at <= now() LIMIT p_limit);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_total + v_n;
END
$$;

-- ack: deletes the messages still held under these lease tokens and records `completed` for the tracked
-- ones (a message cancelled while held is dropped without a new outcome: `cancelled` stands).
-- Returns the ids that were held, and whether a `completed` outcome was recorded for each. It sends no
-- NOTIFY: the client announces completions right after the commit (see core/src/notifier.rs).
CREATE FUNCTION pgmq.ack(p_queue_id bigint, p_ids uuid[], p_tokens uuid[])
RETURNS TABLE (id uuid, recorded boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_done uuid[];
    v_tracked uuid[];
BEGIN
    WITH d AS (
        DELETE FROM pgmq.messages m
        USING unnest(p_ids, p_tokens) AS a(id, token)
        WHERE m.queue_id = p_queue_id AND m.id = a.id AND m.lease_token = a.token
        RETURNING m.id, m.tracked AND NOT m.cancel_requested AS record
    )
    SELECT array_agg(d.id), array_agg(d.id) FILTER (WHERE d.record) INTO v_done, v_tracked FROM d;
    PERFORM pgmq._finish(p_queue_id, v_tracked, 'completed', false);
    RETURN QUERY SELECT d, d = ANY (coalesce(v_tracked, '{}')) FROM unnest(v_done) AS d;
END
$$;

-- redrive: moves every message of `p_from` that is not leased to `p_to`, as new messages (attempts reset,
-- available now), keeping ids, bodies and attributes. Returns the number moved; NULL when either queue
-- does not exist.
CREATE FUNCTION pgmq.redrive(p_from text, p_to text) RETURNS bigint
LANGUAGE plpgsql AS $$
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
    WITH moved AS (
        INSERT INTO pgmq.messages (queue_id, id, available_at, tracked, sent_at, last_error,
                                   attributes, body)
        SELECT v_to.id, m.id, now(), false, m.sent_at, m.last_error,
               m.attributes, m.body
        FROM pgmq.messages m
        WHERE m.queue_id = v_from.id AND NOT m.cancel_requested
          AND (m.lease_token IS NULL OR m.available_at <= now())
          AND NOT EXISTS (SELECT 1 FROM pgmq.messages t WHERE t.queue_id = v_to.id AND t.id = m.id)
        ORDER BY m.available_at, m.seq
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
