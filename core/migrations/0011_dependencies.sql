-- pgmq schema, version 11: dependencies between messages (DAG-like workflows). A send may name messages
-- its messages depend on: tracked messages already sent (in any queue), or earlier entries of the same
-- batch, so no cycle can ever be made. A message with unfinished dependencies waits in its queue at
-- available_at = 'infinity' (after every claimable row of the claim index, never expired by retention);
-- it becomes available when the last of them completes, at its own delay or schedule if that is later.
-- When a dependency finishes any other way (dead-lettered, cancelled, expired), its waiting dependents
-- are cancelled, with a reason naming it, and theirs in turn.
--
-- Queues and messages that use none of this do not pay for it: the edges live in tables of their own,
-- written only by sends with dependencies, and a finishing message looks for dependents only when its
-- queue is `linked` (a flag set once, by the first send that links one of its messages).

ALTER TABLE pgmq.queues ADD COLUMN linked boolean NOT NULL DEFAULT false;
-- Why a message finished the way it did, when pgmq knows: the dependency a cancellation came from.
ALTER TABLE pgmq.outcomes ADD COLUMN reason text;

-- A message that still waits for dependencies: how many, and when it may run at the earliest.
CREATE TABLE pgmq.waiting (
    id         uuid PRIMARY KEY,
    queue_id   bigint NOT NULL,
    pending    integer NOT NULL,
    not_before timestamptz NOT NULL
);

-- One row per unfinished dependency of a waiting message.
CREATE TABLE pgmq.dependencies (
    dependency uuid NOT NULL,
    dependent  uuid NOT NULL,
    PRIMARY KEY (dependency, dependent)
);
CREATE INDEX dependencies_dependent ON pgmq.dependencies (dependent);

-- Called by a send with dependencies (core/src/queue.rs, SEND_DEPENDENT) before it inserts its messages
-- p_ids, in batch order: every message depends on each of p_deps (sent messages), and entry
-- p_after_entry[k] on entry p_after_dep[k] (1-based, an earlier entry). Records what is still unfinished
-- and returns, per entry, whether it must wait (the send then inserts it at 'infinity').
--
-- A dependency still in a queue is locked FOR KEY SHARE (claims, heartbeats and nacks go on; only its
-- deletion, i.e. its finishing, waits for this transaction), so that it cannot finish unseen between this
-- look and the commit of its edges: its finishing reads them afterwards. One that has finished counts
-- when it completed; otherwise the send is refused (PQ002), as for an unknown or untracked id (its outcome
-- would never be known) — a message that could never run is not created.
CREATE FUNCTION pgmq._depend(p_queue_id bigint, p_ids uuid[], p_deps uuid[], p_after_entry integer[],
                             p_after_dep integer[], p_not_before timestamptz)
RETURNS boolean[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgmq, pg_temp AS $$
DECLARE
    v_n integer := coalesce(cardinality(p_ids), 0);
    v_deps uuid[] := ARRAY(SELECT DISTINCT d FROM unnest(coalesce(p_deps, '{}')) AS d WHERE d IS NOT NULL);
    v_open uuid[];
    v_open_queues bigint[];
    v_bad text;
    v_waits boolean[];
BEGIN
    IF coalesce(cardinality(p_after_entry), 0) <> coalesce(cardinality(p_after_dep), 0) THEN
        RAISE EXCEPTION 'pgmq: % dependent entries for % dependencies', cardinality(p_after_entry),
            cardinality(p_after_dep) USING ERRCODE = 'PQ002';
    END IF;
    SELECT format('entry %s cannot depend on entry %s: only on an earlier entry of the same send',
                  a.entry - 1, a.dep - 1)
    INTO v_bad
    FROM unnest(p_after_entry, p_after_dep) AS a(entry, dep)
    WHERE a.entry IS NULL OR a.dep IS NULL OR a.entry > v_n OR a.dep < 1 OR a.dep >= a.entry
    LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'pgmq: %', v_bad USING ERRCODE = 'PQ002';
    END IF;

    IF cardinality(v_deps) > 0 THEN
        SELECT array_agg(l.id), array_agg(DISTINCT l.queue_id) INTO v_open, v_open_queues
        FROM (SELECT m.id, m.queue_id FROM pgmq.messages m
              WHERE m.queue_id = ANY (ARRAY(SELECT q.id FROM pgmq.queues q)) AND m.id = ANY (v_deps)
                AND m.tracked
              ORDER BY m.queue_id, m.id
              FOR KEY SHARE OF m) AS l;
        -- Read after the locks were granted (a new snapshot): what finished meanwhile has its outcome.
        SELECT CASE WHEN o.id IS NULL AND EXISTS (SELECT 1 FROM pgmq.messages m
                                                  WHERE m.queue_id = ANY (ARRAY(SELECT q.id FROM pgmq.queues q))
                                                    AND m.id = d.id)
                    THEN format('dependency %s is not tracked (sent with track = false): its outcome is never known', d.id)
                    WHEN o.id IS NULL
                    THEN format('dependency %s is unknown: never sent, or finished longer ago than its queue keeps outcomes', d.id)
                    ELSE format('dependency %s has already finished as %s: a message depending on it would never run',
                                d.id, o.outcome) END
        INTO v_bad
        FROM unnest(v_deps) AS d(id)
        LEFT JOIN pgmq.outcomes o ON o.id = d.id
        WHERE (o.id IS NULL AND NOT d.id = ANY (coalesce(v_open, '{}'))) OR o.outcome <> 'completed'
        ORDER BY d.id
        LIMIT 1;
        IF v_bad IS NOT NULL THEN
            RAISE EXCEPTION 'pgmq: %', v_bad USING ERRCODE = 'PQ002';
        END IF;
        -- Still unfinished: neither completed nor anything else (a row can outlive its outcome only
        -- while a cancelled lease runs out, and those were refused above).
        v_open := ARRAY(SELECT o FROM unnest(coalesce(v_open, '{}')) AS o
                        WHERE NOT EXISTS (SELECT 1 FROM pgmq.outcomes x WHERE x.id = o));
    END IF;

    WITH e AS (
        INSERT INTO pgmq.dependencies (dependency, dependent)
        SELECT d, p_ids[i] FROM generate_series(1, v_n) AS i, unnest(coalesce(v_open, '{}')) AS d
        UNION
        SELECT p_ids[a.dep], p_ids[a.entry] FROM unnest(p_after_entry, p_after_dep) AS a(entry, dep)
        RETURNING dependent
    ),
    w AS (
        INSERT INTO pgmq.waiting (id, queue_id, pending, not_before)
        SELECT e.dependent, p_queue_id, count(*), p_not_before FROM e GROUP BY e.dependent
        RETURNING id
    )
    SELECT array_agg(EXISTS (SELECT 1 FROM w WHERE w.id = p_ids[i]) ORDER BY i) INTO v_waits
    FROM generate_series(1, v_n) AS i;

    -- Mark every queue whose finishing messages now have dependents to look for, or that holds waiting
    -- ones (whose cancellation must clean up after them), in id order (first uses may race).
    IF true = ANY (v_waits) THEN
        PERFORM 1 FROM pgmq.queues q
        WHERE (q.id = p_queue_id OR q.id = ANY (coalesce(v_open_queues, '{}'))) AND NOT q.linked
        ORDER BY q.id FOR NO KEY UPDATE;
        UPDATE pgmq.queues q SET linked = true
        WHERE (q.id = p_queue_id OR q.id = ANY (coalesce(v_open_queues, '{}'))) AND NOT q.linked;
    END IF;
    RETURN coalesce(v_waits, '{}');
END
$$;

-- Called when messages p_ids of a `linked` queue finish with p_outcome (by pgmq._finish and pgmq.ack).
-- Completed: their dependents have that many fewer dependencies to wait for, and those left with none
-- become available (their queues are woken). Anything else: their waiting dependents are cancelled, with
-- the reason "dependency <id> was <outcome>", and so on down the graph, one level per round (no
-- recursion, however deep the graph). Waiting rows are locked in id order, so that two finishing
-- messages with dependents in common cannot deadlock.
CREATE FUNCTION pgmq._settle(p_ids uuid[], p_outcome text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgmq, pg_temp AS $$
DECLARE
    v_dependents uuid[];
    v_causes text[];
    v_gone uuid[];
    v_gone_queues bigint[];
    v_frontier uuid[] := p_ids;
    v_outcome text := p_outcome;
    v_queue bigint;
    v_ids uuid[];
BEGIN
    -- A waiting message that finished before its dependencies (cancelled, purged) waits no more.
    PERFORM 1 FROM pgmq.waiting w WHERE w.id = ANY (p_ids) ORDER BY w.id FOR UPDATE;
    DELETE FROM pgmq.waiting w WHERE w.id = ANY (p_ids);
    DELETE FROM pgmq.dependencies d WHERE d.dependent = ANY (p_ids);

    IF p_outcome = 'completed' THEN
        WITH e AS (DELETE FROM pgmq.dependencies d WHERE d.dependency = ANY (p_ids) RETURNING d.dependent)
        SELECT array_agg(e.dependent) INTO v_dependents FROM e;
        IF v_dependents IS NULL THEN
            RETURN;
        END IF;
        PERFORM 1 FROM pgmq.waiting w WHERE w.id = ANY (v_dependents) ORDER BY w.id FOR UPDATE;
        UPDATE pgmq.waiting w SET pending = w.pending - n.c
        FROM (SELECT d AS id, count(*) AS c FROM unnest(v_dependents) AS d GROUP BY d) AS n
        WHERE w.id = n.id;
        FOR v_queue IN
            WITH r AS (DELETE FROM pgmq.waiting w WHERE w.id = ANY (v_dependents) AND w.pending <= 0
                       RETURNING w.id, w.queue_id, w.not_before),
            m AS (UPDATE pgmq.messages m SET available_at = greatest(now(), r.not_before)
                  FROM r WHERE m.queue_id = r.queue_id AND m.id = r.id
                  RETURNING m.queue_id)
            SELECT DISTINCT m.queue_id FROM m ORDER BY 1
        LOOP
            PERFORM pg_notify('pgmq_q_' || v_queue, '');
        END LOOP;
        RETURN;
    END IF;

    LOOP
        WITH e AS (DELETE FROM pgmq.dependencies d WHERE d.dependency = ANY (v_frontier)
                   RETURNING d.dependency, d.dependent),
        x AS (SELECT e.dependent AS id, min(e.dependency::text) AS cause FROM e GROUP BY e.dependent)
        SELECT array_agg(x.id ORDER BY x.id), array_agg(x.cause ORDER BY x.id) INTO v_dependents, v_causes FROM x;
        EXIT WHEN v_dependents IS NULL;
        -- A waiting message is never leased: it goes at once.
        PERFORM 1 FROM pgmq.waiting w WHERE w.id = ANY (v_dependents) ORDER BY w.id FOR UPDATE;
        WITH w AS (DELETE FROM pgmq.waiting w WHERE w.id = ANY (v_dependents) RETURNING w.id, w.queue_id),
        m AS (DELETE FROM pgmq.messages m USING w WHERE m.queue_id = w.queue_id AND m.id = w.id
              RETURNING m.queue_id, m.id)
        SELECT array_agg(m.id ORDER BY m.id), array_agg(m.queue_id ORDER BY m.id) INTO v_gone, v_gone_queues FROM m;
        EXIT WHEN v_gone IS NULL;
        -- Their other dependencies, still unfinished, no longer have them as dependents.
        DELETE FROM pgmq.dependencies d WHERE d.dependent = ANY (v_gone);
        INSERT INTO pgmq.outcomes (id, queue_id, outcome, expires_at, reason)
        SELECT g.id, g.queue_id, 'cancelled', now() + q.retention_period,
               format('dependency %s was %s', c.cause, v_outcome)
        FROM unnest(v_gone, v_gone_queues) AS g(id, queue_id)
        JOIN unnest(v_dependents, v_causes) AS c(id, cause) ON c.id = g.id
        JOIN pgmq.queues q ON q.id = g.queue_id
        ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome, finished_at = excluded.finished_at,
                                       expires_at = excluded.expires_at, queue_id = excluded.queue_id,
                                       reason = excluded.reason;
        FOR v_queue, v_ids IN
            SELECT g.queue_id, array_agg(g.id ORDER BY g.id) FROM unnest(v_gone, v_gone_queues) AS g(id, queue_id)
            GROUP BY g.queue_id ORDER BY g.queue_id
        LOOP
            PERFORM pg_notify('pgmq_c_' || v_queue, pgmq._id_payload(v_ids));
        END LOOP;
        v_frontier := v_gone;
        v_outcome := 'cancelled';
    END LOOP;
END
$$;

REVOKE EXECUTE ON FUNCTION pgmq._depend(bigint, uuid[], uuid[], integer[], integer[], timestamptz),
                           pgmq._settle(uuid[], text) FROM PUBLIC;

-- Every way a tracked message finishes goes through here or through pgmq.ack below; both now look for
-- dependents when the queue is linked. The queue row is read once, as before.
CREATE OR REPLACE FUNCTION pgmq._finish(p_queue_id bigint, p_ids uuid[], p_outcome text, p_notify boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
DECLARE
    v_linked boolean;
BEGIN
    IF coalesce(cardinality(p_ids), 0) = 0 THEN
        RETURN;
    END IF;
    WITH q AS (SELECT q.retention_period, q.linked FROM pgmq.queues q WHERE q.id = p_queue_id),
    ins AS (
        INSERT INTO pgmq.outcomes (id, queue_id, outcome, expires_at)
        SELECT i, p_queue_id, p_outcome, now() + q.retention_period
        FROM unnest(p_ids) AS i, q
        ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome, finished_at = excluded.finished_at,
                                       expires_at = excluded.expires_at, queue_id = excluded.queue_id,
                                       reason = excluded.reason
    )
    SELECT q.linked INTO v_linked FROM q;
    IF p_notify THEN
        PERFORM pg_notify('pgmq_c_' || p_queue_id, pgmq._id_payload(p_ids));
    END IF;
    IF v_linked THEN
        PERFORM pgmq._settle(p_ids, p_outcome);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgmq.ack(p_queue_id bigint, p_ids uuid[], p_tokens uuid[], p_results bytea[],
                                    p_content_types text[])
RETURNS TABLE (id uuid, recorded boolean)
LANGUAGE plpgsql SET search_path = pg_catalog, pgmq, pg_temp AS $$
DECLARE
    v_done uuid[];
    v_tracked uuid[];
    v_linked boolean;
BEGIN
    WITH d AS (
        DELETE FROM pgmq.messages m
        USING unnest(p_ids, p_tokens) AS a(id, token)
        WHERE m.queue_id = p_queue_id AND m.id = a.id AND m.lease_token = a.token
        RETURNING m.id, m.tracked AND NOT m.cancel_requested AS record
    )
    SELECT array_agg(d.id), array_agg(d.id) FILTER (WHERE d.record) INTO v_done, v_tracked FROM d;
    IF coalesce(cardinality(v_tracked), 0) > 0 THEN
        WITH q AS (SELECT q.retention_period, q.linked FROM pgmq.queues q WHERE q.id = p_queue_id),
        ins AS (
            INSERT INTO pgmq.outcomes (id, queue_id, outcome, expires_at, result, result_content_type)
            SELECT a.id, p_queue_id, 'completed', now() + q.retention_period, a.result, a.content_type
            FROM unnest(p_ids, p_results, p_content_types) AS a(id, result, content_type)
            JOIN unnest(v_tracked) AS t(id) ON t.id = a.id
            CROSS JOIN q
            ON CONFLICT ON CONSTRAINT outcomes_pkey DO UPDATE SET outcome = excluded.outcome, finished_at = excluded.finished_at,
                                           expires_at = excluded.expires_at, queue_id = excluded.queue_id,
                                           result = excluded.result,
                                           result_content_type = excluded.result_content_type,
                                           reason = excluded.reason
        )
        SELECT q.linked INTO v_linked FROM q;
        IF v_linked THEN
            PERFORM pgmq._settle(v_tracked, 'completed');
        END IF;
    END IF;
    RETURN QUERY SELECT d, d = ANY (coalesce(v_tracked, '{}')) FROM unnest(v_done) AS d;
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
                   'pgmq._admit(bigint, bigint), '
                   'pgmq._depend(bigint, uuid[], uuid[], integer[], integer[], timestamptz) TO %s', p_role);
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
                   'pgmq.maintain(integer), pgmq._settle(uuid[], text) TO %s', p_role);
END
$$;

-- Roles granted before this version get what is new.
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
        EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq._depend(bigint, uuid[], uuid[], integer[], integer[], '
                       'timestamptz) TO %s', v_role);
    END LOOP;
    FOR v_role IN
        SELECT a.grantee::regrole
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
        WHERE p.oid = 'pgmq._dead_letter(bigint, pgmq.messages[], text, text)'::regprocedure
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION pgmq._settle(uuid[], text) TO %s', v_role);
    END LOOP;
END
$$;
