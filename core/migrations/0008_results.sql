-- pgmq schema, version 8: results (reply-to). A worker may finish a message with a result, which is kept
-- with the message's outcome, for the queue's retention period like the outcome itself, and read by
-- whoever awaits the completion (the request/reply pattern: Queue::request in the core).
--
-- A result is bytes and an optional content type (the JSON path labels it 'application/json', as sends
-- label JSON bodies). Only a tracked message that is acked, still held and not cancelled keeps one: the
-- result of an untracked message has nowhere to go, and a cancelled message's outcome is `cancelled`.
-- Plain acks keep calling the three-argument pgmq.ack: the claim and ack path of messages without
-- results is unchanged.

ALTER TABLE pgmq.outcomes ADD COLUMN result bytea, ADD COLUMN result_content_type text;

CREATE FUNCTION pgmq.ack(p_queue_id bigint, p_ids uuid[], p_tokens uuid[], p_results bytea[],
                         p_content_types text[])
RETURNS TABLE (id uuid, recorded boolean)
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
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
    IF coalesce(cardinality(v_tracked), 0) > 0 THEN
        INSERT INTO pgmq.outcomes (id, queue_id, outcome, expires_at, result, result_content_type)
        SELECT a.id, p_queue_id, 'completed', now() + q.retention_period, a.result, a.content_type
        FROM unnest(p_ids, p_results, p_content_types) AS a(id, result, content_type)
        JOIN unnest(v_tracked) AS t(id) ON t.id = a.id
        CROSS JOIN pgmq.queues q
        WHERE q.id = p_queue_id
        ON CONFLICT ON CONSTRAINT outcomes_pkey DO UPDATE SET outcome = excluded.outcome, finished_at = excluded.finished_at,
                                       expires_at = excluded.expires_at, queue_id = excluded.queue_id,
                                       result = excluded.result,
                                       result_content_type = excluded.result_content_type;
    END IF;
    RETURN QUERY SELECT d, d = ANY (coalesce(v_tracked, '{}')) FROM unnest(v_done) AS d;
END
$$;
