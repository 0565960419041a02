-- Plants, in every schema listed in the setting `pgmq_test.plant_in` (comma-separated), an overload of each
-- operator and function pgmq's SQL might call that would beat pg_catalog's candidate when the caller's
-- search_path reaches that schema: an exact signature over the common types pgmq uses wherever
-- pg_catalog's match is inexact (polymorphic, "any", or through a coercion). Every plant inserts a row
-- naming itself into public.pgmq_trap, then returns what pg_catalog's candidate returns, so a hijacked
-- statement keeps working and only the trap tells. Run by hostile_roles.rs as an unprivileged role, with
-- search_path = pg_catalog (which each plant's body sets too), so that the names below resolve to
-- pg_catalog's objects only, never to the plants. What was planted is listed in public.pgmq_planted.
--
-- An `unknown` argument (a quoted literal, an untyped parameter) cannot be planted on directly (PL/pgSQL
-- and SQL functions refuse it), but the concrete plants catch it: `'pgmq_q_' || $1::bigint` resolves to
-- a planted ||(text, bigint) or ||(bigint, bigint) ahead of pg_catalog's ||(text, anynonarray).

CREATE TABLE IF NOT EXISTS public.pgmq_planted (schema text, kind text, signature text);

DO $plant$
DECLARE
    schemas text[] := string_to_array(current_setting('pgmq_test.plant_in'), ',');
    types regtype[] := ARRAY['text', 'bigint', 'integer', 'uuid', 'uuid[]', 'text[]', 'bigint[]', 'bytea',
                             'bytea[]', 'jsonb', 'jsonb[]', 'boolean', 'timestamptz', 'interval',
                             'double precision', 'numeric']::regtype[];
    ops text[] := ARRAY['||', '=', '<>', '<', '<=', '>', '>=', '+', '-', '*', '/', '@>', '->>', '->', '?',
                        '&&', '~~'];
    -- Every function name in pgmq's SQL (client statements, migrations, function bodies), and some
    -- likely to appear there.
    funcs text[] := ARRAY['now', 'pg_notify', 'unnest', 'set_config', 'gen_random_uuid', 'ceil',
                          'jsonb_typeof', 'to_regclass', 'pg_advisory_xact_lock', 'pg_try_advisory_xact_lock',
                          'array_to_string', 'cardinality', 'power', 'random', 'jsonb_populate_record',
                          'jsonb_build_object', 'pg_backend_pid', 'pg_listening_channels', 'format',
                          'string_to_array', 'current_setting', 'array_length', 'array_position', 'length',
                          'position', 'lower', 'upper', 'extract', 'date_part', 'floor', 'round', 'abs',
                          'pg_describe_object', 'quote_ident'];
    n integer := 0;
    s text;
    op text;
    f text;
    fname text;
    named boolean;
    decoy boolean;
    args text;
    l regtype;
    r regtype;
    argtypes regtype[];
    ret regtype;
    setof boolean;
    -- The type pg_catalog resolves an expression to, found without running it.
    probe text := 'SELECT pg_typeof(s.x) FROM (VALUES (1)) v LEFT JOIN (SELECT %s AS x WHERE false) s ON true';
    plant text;
BEGIN
    -- Operators: (left, right) pairs with no exact pg_catalog operator that pg_catalog still resolves.
    FOREACH op IN ARRAY ops LOOP
        FOREACH l IN ARRAY types LOOP
            FOREACH r IN ARRAY types LOOP
                CONTINUE WHEN EXISTS (SELECT 1 FROM pg_operator o
                                      WHERE o.oprnamespace = 'pg_catalog'::regnamespace AND o.oprname = op
                                        AND o.oprleft = l AND o.oprright = r);
                BEGIN
                    EXECUTE format(probe, format('NULL::%s %s NULL::%s', l, op, r)) INTO ret;
                EXCEPTION WHEN OTHERS THEN
                    CONTINUE;
                END;
                FOREACH s IN ARRAY schemas LOOP
                    n := n + 1;
                    plant := format('%I.pgmq_trap_%s', s, n);
                    EXECUTE format(
                        $f$CREATE FUNCTION %s(a %s, b %s) RETURNS %s LANGUAGE plpgsql VOLATILE
                           SET search_path = pg_catalog AS $body$
                           BEGIN
                               INSERT INTO public.pgmq_trap (what) VALUES (%L);
                               RETURN a %s b;
                           END $body$$f$,
                        plant, l, r, ret, format('operator %s.%s(%s, %s)', s, op, l, r), op);
                    EXECUTE format('CREATE OPERATOR %I.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = %s)',
                                              s, op, l, r, plant);
                    INSERT INTO public.pgmq_planted VALUES (s, 'operator', format('%s(%s, %s)', op, l, r));
                END LOOP;
            END LOOP;
        END LOOP;
    END LOOP;

    -- Functions: every signature of up to 2 common types (3 for set_config) that pg_catalog resolves.
    -- Those pg_catalog has exactly (now(), pg_notify(text, text)...) are decoys: pg_catalog, searched
    -- first, must win them. The others win over pg_catalog's candidate unless the call is qualified.
    -- make_interval is also planted for its named-notation call (secs => ...).
    FOREACH f IN ARRAY funcs || ARRAY['make_interval(secs =>'] LOOP
        named := f LIKE '%(%';
        fname := split_part(f, '(', 1);
        SELECT bool_or(p.proretset) INTO setof
        FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = fname;
        FOR argtypes IN
            SELECT ARRAY[]::regtype[] WHERE NOT named
            UNION ALL SELECT ARRAY[a] FROM unnest(types) a
            UNION ALL SELECT ARRAY[a, b] FROM unnest(types) a, unnest(types) b WHERE NOT named
            UNION ALL SELECT ARRAY[a, b, c] FROM unnest(types) a, unnest(types) b, unnest(types) c
                      WHERE f = 'set_config'
        LOOP
            args := (SELECT string_agg(format('NULL::%s', t), ', ') FROM unnest(argtypes) t);
            BEGIN
                EXECUTE format(probe, CASE WHEN named THEN format('%s %s)', f, args)
                                           ELSE format('%I(%s)', f, args) END) INTO ret;
            EXCEPTION WHEN OTHERS THEN
                CONTINUE;
            END;
            decoy := EXISTS (
                SELECT 1 FROM pg_proc p
                WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = fname
                  AND CASE WHEN named THEN p.proargtypes[array_position(p.proargnames, 'secs') - 1] = argtypes[1]
                           ELSE oidvectortypes(p.proargtypes) = array_to_string(argtypes, ', ') END);
            FOREACH s IN ARRAY schemas LOOP
                EXECUTE format(
                    $f$CREATE FUNCTION %I.%I(%s) RETURNS %s %s LANGUAGE plpgsql VOLATILE
                       SET search_path = pg_catalog AS $body$
                       BEGIN
                           INSERT INTO public.pgmq_trap (what) VALUES (%L);
                           %s %s;
                       END $body$$f$,
                    s, fname,
                    (SELECT string_agg(format('%s%s %s', CASE WHEN named THEN 'secs' ELSE 'a' END,
                                              CASE WHEN named THEN '' ELSE i::text END, t), ', ' ORDER BY i)
                     FROM unnest(argtypes) WITH ORDINALITY AS u(t, i)),
                    CASE WHEN setof THEN 'SETOF' ELSE '' END, ret,
                    format('function %s.%s(%s)', s, fname, array_to_string(argtypes, ', ')),
                    CASE WHEN setof THEN 'RETURN QUERY SELECT' WHEN ret = 'void'::regtype THEN 'PERFORM'
                         ELSE 'RETURN' END,
                    CASE WHEN named THEN format('%s secs)', f)
                         ELSE format('%I(%s)', f, (SELECT string_agg(format('a%s', i), ', ' ORDER BY i)
                                                   FROM generate_subscripts(argtypes, 1) i)) END);
                INSERT INTO public.pgmq_planted VALUES (
                    s, CASE WHEN decoy THEN 'function (decoy)' ELSE 'function' END,
                    format('%s(%s)', fname, array_to_string(argtypes, ', ')));
            END LOOP;
        END LOOP;
    END LOOP;

    -- Aggregates: count(T) and array_agg(T) beat pg_catalog's count("any") and array_agg(anynonarray).
    FOREACH l IN ARRAY types LOOP
        FOREACH s IN ARRAY schemas LOOP
            n := n + 1;
            plant := format('%I.pgmq_trap_%s', s, n);
            EXECUTE format(
                $f$CREATE FUNCTION %s(state bigint, v %s) RETURNS bigint LANGUAGE plpgsql VOLATILE
                   SET search_path = pg_catalog AS $body$
                   BEGIN
                       INSERT INTO public.pgmq_trap (what) VALUES (%L);
                       RETURN state + CASE WHEN v IS NULL THEN 0 ELSE 1 END;
                   END $body$$f$,
                plant, l, format('aggregate %s.count(%s)', s, l));
            EXECUTE format('CREATE AGGREGATE %I.count(%s) (SFUNC = %s, STYPE = bigint, INITCOND = 0)',
                                      s, l, plant);
            INSERT INTO public.pgmq_planted VALUES (s, 'aggregate', format('count(%s)', l));
            CONTINUE WHEN l::text LIKE '%[]';
            n := n + 1;
            plant := format('%I.pgmq_trap_%s', s, n);
            EXECUTE format(
                $f$CREATE FUNCTION %s(state %s[], v %s) RETURNS %s[] LANGUAGE plpgsql VOLATILE
                   SET search_path = pg_catalog AS $body$
                   BEGIN
                       INSERT INTO public.pgmq_trap (what) VALUES (%L);
                       RETURN array_append(state, v);
                   END $body$$f$,
                plant, l, l, l, format('aggregate %s.array_agg(%s)', s, l));
            EXECUTE format('CREATE AGGREGATE %I.array_agg(%s) (SFUNC = %s, STYPE = %s[])',
                                      s, l, plant, l);
            INSERT INTO public.pgmq_planted VALUES (s, 'aggregate', format('array_agg(%s)', l));
        END LOOP;
    END LOOP;
END
$plant$;
