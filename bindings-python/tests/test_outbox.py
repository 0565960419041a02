"""The transactional send (`pgmq.sql`): pgmq's SQL send functions run on the application's own driver, in
its own transaction, with each real driver (asyncpg, psycopg 3 sync and async, SQLAlchemy sync and async
over both). A commit delivers to a pgmq receiver and the returned id's completion sees the ack; a rollback
leaves nothing; 1,000 sends in one transaction wake listeners once; an unknown queue and an invalid option
are pgmq's typed errors, from the SQLSTATEs of the core's map, and write nothing; the statements are the
core's text, the parameters converted as `queue.send()` converts them.

Every wait is on an event (a delivery, a completion, a notification); "nothing was delivered" is proved by
a marker sent afterwards arriving first.
"""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import asyncpg  # type: ignore[import-untyped]
import psycopg
from psycopg.rows import dict_row
import pytest
import sqlalchemy
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

import pgmq
from pgmq import _pgmq
from pgmq.sql import Statement
from support import FIVE_S, fresh_database, receive_within, unique

pytestmark = pytest.mark.anyio

JSON_LABEL = {pgmq.CONTENT_TYPE_ATTRIBUTE: pgmq.JSON_CONTENT_TYPE}
READY_CHANNEL_PREFIX: str = json.loads(_pgmq._truths_json())["protocol"]["ready_channel_prefix"]
Ids = Any  # what execute() returned: a UUID, or a list of them for a batch


def sqlalchemy_url(dsn: str, driver: str) -> sqlalchemy.URL:
    return sqlalchemy.make_url(dsn).set(drivername=f"postgresql+{driver}")


# ---- the drivers: each runs statements in one transaction of its own, then commits or rolls back ----

Run = Callable[[str, Sequence[Statement[Any]], bool], Awaitable[list[Ids]]]


async def with_asyncpg(dsn: str, statements: Sequence[Statement[Any]], commit: bool) -> list[Ids]:
    conn = await asyncpg.connect(dsn)
    try:
        transaction = conn.transaction()
        await transaction.start()
        try:
            ids = [await pgmq.sql.execute(conn, s) for s in statements]
        except BaseException:
            await transaction.rollback()
            raise
        await (transaction.commit() if commit else transaction.rollback())
        return ids
    finally:
        await conn.close()


async def with_psycopg_async(dsn: str, statements: Sequence[Statement[Any]], commit: bool) -> list[Ids]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:  # leaving it on an exception rolls back
        ids = [await pgmq.sql.execute(conn, s) for s in statements]
        await (conn.commit() if commit else conn.rollback())
        return ids


async def with_psycopg_async_cursor(dsn: str, statements: Sequence[Statement[Any]], commit: bool) -> list[Ids]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn, conn.cursor() as cursor:
        ids = [await pgmq.sql.execute(cursor, s) for s in statements]
        await (conn.commit() if commit else conn.rollback())
        return ids


def psycopg_sync(dsn: str, statements: Sequence[Statement[Any]], commit: bool) -> list[Ids]:
    with psycopg.connect(dsn) as conn:
        ids = [pgmq.sql.execute_sync(conn, s) for s in statements]
        conn.commit() if commit else conn.rollback()
        return ids


def psycopg_sync_cursor(dsn: str, statements: Sequence[Statement[Any]], commit: bool) -> list[Ids]:
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        ids = [pgmq.sql.execute_sync(cursor, s) for s in statements]
        conn.commit() if commit else conn.rollback()
        return ids


def sqlalchemy_connection(dsn: str, statements: Sequence[Statement[Any]], commit: bool) -> list[Ids]:
    engine = sqlalchemy.create_engine(sqlalchemy_url(dsn, "psycopg"))
    try:
        with engine.connect() as conn:
            ids = [pgmq.sql.execute_sync(conn, s) for s in statements]
            conn.commit() if commit else conn.rollback()
            return ids
    finally:
        engine.dispose()


def sqlalchemy_session(dsn: str, statements: Sequence[Statement[Any]], commit: bool) -> list[Ids]:
    engine = sqlalchemy.create_engine(sqlalchemy_url(dsn, "psycopg"))
    try:
        with Session(engine) as session:
            ids = [pgmq.sql.execute_sync(session, s) for s in statements]
            session.commit() if commit else session.rollback()
            return ids
    finally:
        engine.dispose()


async def sqlalchemy_async_connection(dsn: str, statements: Sequence[Statement[Any]], commit: bool) -> list[Ids]:
    engine = create_async_engine(sqlalchemy_url(dsn, "asyncpg"))
    try:
        async with engine.connect() as conn:
            ids = [await pgmq.sql.execute(conn, s) for s in statements]
            await (conn.commit() if commit else conn.rollback())
            return ids
    finally:
        await engine.dispose()


async def sqlalchemy_async_session(dsn: str, statements: Sequence[Statement[Any]], commit: bool) -> list[Ids]:
    engine = create_async_engine(sqlalchemy_url(dsn, "psycopg"))
    try:
        async with AsyncSession(engine) as session:
            ids = [await pgmq.sql.execute(session, s) for s in statements]
            await (session.commit() if commit else session.rollback())
            return ids
    finally:
        await engine.dispose()


def in_thread(run: Callable[[str, Sequence[Statement[Any]], bool], list[Ids]]) -> Run:
    """A synchronous driver off the event loop, which the pgmq receiver of the test needs meanwhile."""

    async def run_in_thread(dsn: str, statements: Sequence[Statement[Any]], commit: bool) -> list[Ids]:
        return await anyio.to_thread.run_sync(run, dsn, statements, commit)

    return run_in_thread


DRIVERS: dict[str, Run] = {
    "asyncpg": with_asyncpg,
    "psycopg-async": with_psycopg_async,
    "psycopg-async-cursor": with_psycopg_async_cursor,
    "psycopg": in_thread(psycopg_sync),
    "psycopg-cursor": in_thread(psycopg_sync_cursor),
    "sqlalchemy-connection": in_thread(sqlalchemy_connection),
    "sqlalchemy-session": in_thread(sqlalchemy_session),
    "sqlalchemy-async-connection-asyncpg": sqlalchemy_async_connection,
    "sqlalchemy-async-session-psycopg": sqlalchemy_async_session,
}


@pytest.fixture(params=sorted(DRIVERS))
def run(request: pytest.FixtureRequest) -> Run:
    return DRIVERS[request.param]


@dataclass
class Fresh:
    name: str
    queue: pgmq.Queue


@pytest.fixture
async def fresh(client: pgmq.Client) -> AsyncIterator[Fresh]:
    """A queue of this test, opened for receiving; deleted afterwards."""
    name = unique("outbox")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        yield Fresh(name, queue)
    await pgmq.delete_queue(name, client)


async def ids_in_queue(queue: pgmq.Queue) -> list[uuid.UUID]:
    """Every message the queue holds (up to 10,000), in any state."""
    return [m.id for m in await queue.peek(limit=10_000)]


# ---- the statements ----


def test_each_statement_is_the_cores_text_in_three_placeholder_styles() -> None:
    for function in ("send", "send_json", "send_batch", "send_json_batch"):
        one: object = 1 if "json" in function else b"x"
        body = [one] if function.endswith("batch") else one
        statement: Statement[Any] = getattr(pgmq.sql, function)("jobs", body)

        assert statement.function == function
        assert statement.dollar == _pgmq.outbox_statement(function, None, "dollar")
        assert statement.format == _pgmq.outbox_statement(function, None, "format")
        assert statement.named == _pgmq.outbox_statement(function, None, "named")
        assert statement.dollar.startswith(f"SELECT pgmq.{function}(CAST($1 AS text), ")
        assert statement.format.count("%s") == len(statement.parameters) == 6
        assert list(statement.named_parameters) == [
            "queue", "bodies" if statement.batch else "body", "attributes", "delay_seconds", "schedule_at", "track",
        ]  # fmt: skip


def test_a_custom_schema_is_the_cores_rewrite_and_a_bad_schema_name_is_invalid_option() -> None:
    statement = pgmq.sql.send("jobs", b"x", schema="app_queues")

    assert statement.dollar == _pgmq.outbox_statement("send", "app_queues", "dollar")
    assert statement.dollar.startswith('SELECT "app_queues".send(')
    with pytest.raises(pgmq.InvalidOption):
        pgmq.sql.send("jobs", b"x", schema='x"; DROP TABLE t; --')


def test_bodies_and_attributes_are_converted_as_queue_send_converts_them() -> None:
    batch = pgmq.sql.send_batch(
        "jobs",
        [b"\x00\xff", "tête", {"n": 1}, pgmq.OutgoingMessage(bytearray(b"raw"), attributes={"size": 2.0, "ok": True})],
    )

    assert batch.parameters[1] == [b"\x00\xff", "tête".encode(), b'{"n":1}', b"raw"]
    assert batch.parameters[2] == [None, None, '{"content-type":"application/json"}', '{"ok":true,"size":2.0}']
    assert pgmq.sql.send_batch("jobs", [b"a", b"b"]).parameters[2] is None  # no attributes: NULL
    assert pgmq.sql.send_batch("jobs", []).parameters[1] == []


def test_json_values_are_the_packages_compact_json_and_a_str_is_a_json_string() -> None:
    single = pgmq.sql.send_json("jobs", {"name": "日本", "sizes": [1, 2.5]}, attributes={"k": "v"})
    batch = pgmq.sql.send_json_batch("jobs", ["text", pgmq.OutgoingMessage([1], attributes={"k": 1})])

    assert single.parameters[1:3] == ('{"name":"日本","sizes":[1,2.5]}', '{"k":"v"}')
    assert batch.parameters[1:3] == (['"text"', "[1]"], [None, '{"k":1}'])
    with pytest.raises(ValueError):
        pgmq.sql.send_json("jobs", math.nan)


def test_delay_and_schedule_at_are_seconds_and_an_aware_datetime() -> None:
    naive = datetime(2030, 1, 2, 3, 4, 5)
    aware = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))

    assert pgmq.sql.send("q", b"", delay=timedelta(milliseconds=1500)).named_parameters["delay_seconds"] == 1.5
    assert pgmq.sql.send("q", b"", delay=3).named_parameters["delay_seconds"] == 3.0
    assert pgmq.sql.send("q", b"", schedule_at=naive).named_parameters["schedule_at"] == naive.replace(
        tzinfo=timezone.utc
    )
    assert pgmq.sql.send("q", b"", schedule_at=aware).named_parameters["schedule_at"] is aware
    assert pgmq.sql.send("q", b"", track=False).named_parameters["track"] is False


def test_what_cannot_be_sent_is_refused_before_any_statement_runs() -> None:
    with pytest.raises(pgmq.InvalidOption):
        pgmq.sql.send("q", b"", attributes={"x": math.inf})
    with pytest.raises(pgmq.InvalidOption):
        pgmq.sql.send("q", b"", delay=math.nan)
    with pytest.raises(pgmq.InvalidOption):
        pgmq.sql.send("q", {"a": 1}, attributes={pgmq.CONTENT_TYPE_ATTRIBUTE: "text/plain"})
    with pytest.raises(pgmq.InvalidOption):
        pgmq.sql.send("q", b"", attributes={"x": 2**63})
    with pytest.raises(pgmq.InvalidOption):
        pgmq.sql.send("q", b"", attributes={"x": "nul \0"})
    with pytest.raises(TypeError):
        pgmq.sql.send("q", b"", attributes={"x": [1]})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        pgmq.sql.send("q", b"", schedule_at="tomorrow")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of messages"):
        pgmq.sql.send_batch("q", b"one body, not a list of 16")
    with pytest.raises(TypeError, match="list of messages"):
        pgmq.sql.send_json_batch("q", "[1, 2]")


def test_translate_error_reads_the_sqlstate_of_any_driver_along_the_exception_chain() -> None:
    class Psycopg2Error(Exception):  # psycopg 2 names it pgcode
        pgcode = "PQ001"

    class Adapter(Exception):  # SQLAlchemy's DBAPIError keeps the driver's exception in .orig
        def __init__(self, orig: BaseException) -> None:
            super().__init__("(wrapped)")
            self.orig = orig

    class Unique(Exception):
        sqlstate = "23505"

    not_found = pgmq.sql.translate_error(Adapter(Psycopg2Error('pgmq: queue "x" does not exist')))

    assert isinstance(not_found, pgmq.QueueNotFound)
    assert str(not_found) == 'pgmq: queue "x" does not exist'
    assert pgmq.sql.translate_error(Unique("duplicate key")) is None
    assert pgmq.sql.translate_error(ValueError("no state")) is None


async def test_execute_refuses_what_is_not_a_connection_of_a_driver_it_knows(migrated: str) -> None:
    with pytest.raises(TypeError, match="execute_sync"):
        with psycopg.connect(migrated) as conn:
            await pgmq.sql.execute(conn, pgmq.sql.send("q", b""))
    with pytest.raises(TypeError, match="asyncpg Connection"):
        await pgmq.sql.execute(object(), pgmq.sql.send("q", b""))
    with pytest.raises(TypeError, match="psycopg Connection"):
        pgmq.sql.execute_sync(object(), pgmq.sql.send("q", b""))


# ---- with each driver ----


async def test_a_committed_send_is_delivered_and_its_completion_sees_the_ack(
    run: Run, migrated: str, fresh: Fresh
) -> None:
    # Arrange: one message of each kind, and a JSON batch, in one transaction.
    statements: list[Statement[Any]] = [
        pgmq.sql.send(fresh.name, b"\x00bytes", attributes={"n": 1, "x": 2.5}),
        pgmq.sql.send_json(fresh.name, {"order": 42}),
        pgmq.sql.send_batch(fresh.name, ["text", pgmq.OutgoingMessage(b"b", attributes={"k": None})]),
        pgmq.sql.send_json_batch(fresh.name, [[1, 2]]),
    ]

    # Act
    single, as_json, batch, json_batch = await run(migrated, statements, True)

    # Assert: the ids are UUIDs, in the order sent, and the receiver gets exactly what was sent.
    ids = [single, as_json, *batch, *json_batch]
    assert all(type(i) is uuid.UUID for i in ids), ids
    got = []
    async with fresh.queue.receive(batch_size=len(ids)) as stream:
        for _ in ids:
            async with (await receive_within(stream)).acquire() as message:
                got.append((message.id, message.body, message.attributes))
    assert got == [
        (single, b"\x00bytes", {"n": 1, "x": 2.5}),
        (as_json, b'{"order": 42}', JSON_LABEL),
        (batch[0], b"text", {}),
        (batch[1], b"b", {"k": None}),
        (json_batch[0], b"[1, 2]", JSON_LABEL),
    ]
    with anyio.fail_after(FIVE_S):
        async with fresh.queue.wait_for_completion(*ids) as completion:
            outcomes = await completion()
    assert outcomes == {i: pgmq.Outcome.COMPLETED for i in ids}


# Attribute values at the edges of what JSON and PostgreSQL's numeric keep: written as the core writes them.
EDGE_ATTRIBUTES: dict[str, pgmq.AttributeValue] = {
    "integral float": 4.611686018427388e18,
    "two": 2.0,
    "tenth": 0.1,
    "tiny": 1e-7,
    "huge": 1e300,
    "i64 max": 2**63 - 1,
    "i64 min": -(2**63),
    'quote " and ünïcödé': "日本 \\ \n",
    "true": True,
    "none": None,
}


async def test_attributes_arrive_as_those_queue_send_sends(migrated: str, fresh: Fresh) -> None:
    # Act: the same attributes by pgmq.sql and by queue.send.
    [outboxed] = await with_asyncpg(migrated, [pgmq.sql.send(fresh.name, b"sql", attributes=EDGE_ATTRIBUTES)], True)
    await fresh.queue.send(pgmq.OutgoingMessage(b"pgmq", attributes=EDGE_ATTRIBUTES))

    # Assert: values and types alike.
    got = []
    async with fresh.queue.receive(batch_size=2) as stream:
        for _ in range(2):
            async with (await receive_within(stream)).acquire() as message:
                got.append({k: (v, type(v)) for k, v in message.attributes.items()})
    assert got[0] == got[1] == {k: (v, type(v)) for k, v in EDGE_ATTRIBUTES.items()}


async def test_a_rolled_back_send_leaves_nothing_and_delivers_nothing(run: Run, migrated: str, fresh: Fresh) -> None:
    # Act
    [rolled_back] = await run(migrated, [pgmq.sql.send(fresh.name, b"never")], False)

    # Assert: no row; a marker sent afterwards is the first (and only) delivery.
    assert await ids_in_queue(fresh.queue) == []
    marker = (await fresh.queue.send(b"marker")).ids[0]
    async with fresh.queue.receive() as stream:
        async with (await receive_within(stream)).acquire() as message:
            assert (message.id, message.body) == (marker, b"marker")
    assert rolled_back != marker


async def test_an_unknown_queue_is_queue_not_found_and_the_transaction_writes_nothing(
    run: Run, migrated: str, fresh: Fresh
) -> None:
    missing = unique("missing")
    statements = [pgmq.sql.send(fresh.name, b"first"), pgmq.sql.send(missing, b"x")]

    with pytest.raises(pgmq.QueueNotFound) as raised:
        await run(migrated, statements, True)

    assert (raised.value.code, str(raised.value)) == ("queue_not_found", f'pgmq: queue "{missing}" does not exist')
    assert raised.value.__cause__ is not None  # the driver's own exception
    assert await ids_in_queue(fresh.queue) == []


async def test_an_invalid_option_is_invalid_option_and_the_transaction_writes_nothing(
    run: Run, migrated: str, fresh: Fresh
) -> None:
    both = pgmq.sql.send(fresh.name, b"x", delay=1, schedule_at=datetime.now(timezone.utc))
    statements = [pgmq.sql.send(fresh.name, b"first"), both]

    with pytest.raises(pgmq.InvalidOption) as raised:
        await run(migrated, statements, True)

    assert raised.value.code == "invalid_option"
    assert str(raised.value).startswith("pgmq: "), raised.value
    assert await ids_in_queue(fresh.queue) == []


@pytest.mark.parametrize(
    "statement",
    [
        pgmq.sql.send("q", b"x", delay=-1),
        pgmq.sql.send_json("q", {"a": 1}, attributes={pgmq.CONTENT_TYPE_ATTRIBUTE: "text/plain"}),
        pgmq.sql.send_json_batch("q", [pgmq.OutgoingMessage(1, attributes={"n": 2**63 - 1}), 2], delay=1e12),
    ],
    ids=["negative delay", "json labelled as text", "delay over 100 years"],
)
async def test_what_the_sql_functions_refuse_is_invalid_option(
    statement: Statement[Any], migrated: str, fresh: Fresh
) -> None:
    mine = dataclasses.replace(statement, parameters=(fresh.name, *statement.parameters[1:]))

    with pytest.raises(pgmq.InvalidOption, match="^pgmq: "):
        await with_asyncpg(migrated, [mine], True)

    assert await ids_in_queue(fresh.queue) == []


async def test_an_empty_batch_sends_nothing_and_returns_no_ids(migrated: str, fresh: Fresh) -> None:
    empty = [pgmq.sql.send_batch(fresh.name, []), pgmq.sql.send_json_batch(fresh.name, [])]

    ids = await with_asyncpg(migrated, empty, True)

    assert ids == [[], []]
    assert await ids_in_queue(fresh.queue) == []


async def test_pgmq_in_a_schema_of_its_own_is_reached_with_schema(migrated: str) -> None:
    schema, name = "outbox_app", unique("outbox")
    with fresh_database(migrated) as dsn:
        async with pgmq.connect(dsn, schema=schema) as client:
            await pgmq.migrate_to_latest_version(client)
            await pgmq.create_queue(name, client)

            # Act
            [sent] = await with_psycopg_async(dsn, [pgmq.sql.send(name, b"x", schema=schema)], True)
            with pytest.raises(psycopg.errors.InvalidSchemaName):  # this database has no schema pgmq
                await with_psycopg_async(dsn, [pgmq.sql.send(name, b"x")], True)

            # Assert
            async with pgmq.connect_to_queue(name, client) as queue:
                assert await ids_in_queue(queue) == [sent]


async def test_a_psycopg_connection_with_a_row_factory_of_its_own_gets_a_uuid_and_keeps_it(
    migrated: str, fresh: Fresh
) -> None:
    async with await psycopg.AsyncConnection.connect(migrated, row_factory=dict_row) as conn:
        sent = await pgmq.sql.execute(conn, pgmq.sql.send(fresh.name, b"x"))
        async with conn.cursor() as cursor:
            batch = await pgmq.sql.execute(cursor, pgmq.sql.send_batch(fresh.name, [b"y"]))
            assert cursor.row_factory is dict_row
            await cursor.execute("SELECT 1 AS one")
            assert await cursor.fetchone() == {"one": 1}
        await conn.commit()

    assert await ids_in_queue(fresh.queue) == [sent, *batch]


# ---- one wake-up per transaction ----


@asynccontextmanager
async def listening(dsn: str, queue: str) -> AsyncIterator[tuple[psycopg.AsyncConnection[Any], str]]:
    """A raw LISTEN connection on the queue's ready channel (named as the core's protocol names it)."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        row = await (await conn.execute("SELECT id FROM pgmq.queues WHERE name = %s", (queue,))).fetchone()
        assert row is not None
        channel = f"{READY_CHANNEL_PREFIX}{row[0]}"
        await conn.execute(f'LISTEN "{channel}"')
        yield conn, channel


async def notifications_until_sentinel(conn: psycopg.AsyncConnection[Any], sentinel: str) -> list[str]:
    """The payloads received before `sentinel`: notifications are delivered in commit order, so every
    one a transaction committed before the sentinel's has arrived by then."""
    payloads: list[str] = []
    with anyio.fail_after(FIVE_S):
        async for notify in conn.notifies():
            if notify.payload == sentinel:
                return payloads
            payloads.append(notify.payload)
    raise AssertionError("the notification stream ended")


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg", "sqlalchemy-async-session-psycopg"])
async def test_a_thousand_sends_in_one_transaction_wake_listeners_once(
    driver: str, migrated: str, fresh: Fresh
) -> None:
    async with listening(migrated, fresh.name) as (listener, channel):
        # Act
        ids = await DRIVERS[driver](migrated, [pgmq.sql.send(fresh.name, f"m{i}") for i in range(1000)], True)
        async with await psycopg.AsyncConnection.connect(migrated, autocommit=True) as other:
            await other.execute("SELECT pg_notify(%s, 'sentinel')", (channel,))

        # Assert
        assert await notifications_until_sentinel(listener, "sentinel") == [""]
    assert len(set(ids)) == 1000
    assert sorted(await ids_in_queue(fresh.queue)) == sorted(ids)
    assert (await fresh.queue.get_statistics()).ready == 1000


async def test_a_rolled_back_transaction_wakes_nobody(migrated: str, fresh: Fresh) -> None:
    async with listening(migrated, fresh.name) as (listener, channel):
        await with_asyncpg(migrated, [pgmq.sql.send(fresh.name, b"x")] * 10, False)
        async with await psycopg.AsyncConnection.connect(migrated, autocommit=True) as other:
            await other.execute("SELECT pg_notify(%s, 'sentinel')", (channel,))

        assert await notifications_until_sentinel(listener, "sentinel") == []


# ---- privileges ----


async def test_a_producer_role_may_send_and_a_role_without_the_grant_is_denied(migrated: str, fresh: Fresh) -> None:
    producer, stranger = unique("outbox_p").replace("-", "_"), unique("outbox_s").replace("-", "_")
    with psycopg.connect(migrated, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {producer} NOLOGIN")
        admin.execute(f"CREATE ROLE {stranger} NOLOGIN")
        admin.execute("SELECT pgmq.grant_producer(%s)", (producer,))
    try:
        async with await psycopg.AsyncConnection.connect(migrated) as conn:
            await conn.execute(f"SET LOCAL ROLE {producer}")
            sent = await pgmq.sql.execute(conn, pgmq.sql.send(fresh.name, b"as a producer"))
            await conn.commit()

            await conn.execute(f"SET LOCAL ROLE {stranger}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await pgmq.sql.execute(conn, pgmq.sql.send(fresh.name, b"as a stranger"))
            await conn.rollback()

        assert await ids_in_queue(fresh.queue) == [sent]
    finally:
        with psycopg.connect(migrated, autocommit=True) as admin:
            for role in (producer, stranger):
                admin.execute(f"DROP OWNED BY {role}")
                admin.execute(f"DROP ROLE {role}")
