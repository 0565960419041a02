-- pgmq schema, version 2: pgmq.nack and pgmq.cancel lock the rows they finish before reading them.
--
-- Each runs several statements, each with its own snapshot, so a concurrent change committing between
-- two of them was seen by one and missed by the other. Found by the chaos checker (chaos/, `make soak`)
-- and by reading the functions after it; regression tests in core/tests/integration/cancel_races.rs:
-- - a cancel of a held message committing during the holder's nack of its last attempt was overwritten:
--   the message moved to the dead-letter queue as `dead_lettered`, though the cancel had reported it found;
-- - a cancel running while the holder's nack (a retry) committed reported the message not found, and the
--   message was delivered again.
-- Both now lock the rows first (in id order), so they wait for each other and each sees one state.

CREATE OR REPLACE FUNCTION pgmq.nack(p_queue_id bigint, p_ids uuid[], p_tokens uuid[], p_delays_us bigint[],
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

    -- Lock the rows still held under these tokens before looking at them. Each statement below takes
    -- its own snapshot: without the lock, a cancel committing between two of them was missed by the
    -- first (which drops cancelled rows) and then dead-lettered by the second, overwriting the
    -- `cancelled` outcome the cancel had already reported. A cancel now waits for this nack, or this
    -- nack for the cancel, and the statements below see one state.
    PERFORM 1 FROM pgmq.messages m, unnest(p_ids, p_tokens) AS a(id, token)
    WHERE m.queue_id = p_queue_id AND m.id = a.id AND m.lease_token = a.token
    ORDER BY m.id
    FOR UPDATE OF m;

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

CREATE OR REPLACE FUNCTION pgmq.cancel(p_queue_id bigint, p_ids uuid[])
RETURNS TABLE (id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    v_removed uuid[];
    v_removed_tracked uuid[];
    v_marked uuid[];
    v_marked_tracked uuid[];
    v_already uuid[];
BEGIN
    -- Lock the messages first (see pgmq.nack above): without it, a nack committing between the two
    -- statements below made the message invisible to both (held for the first, ready for the second),
    -- and it was reported not found, and delivered again.
    PERFORM 1 FROM pgmq.messages m
    WHERE m.queue_id = p_queue_id AND m.id = ANY (p_ids)
    ORDER BY m.id
    FOR UPDATE;

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
