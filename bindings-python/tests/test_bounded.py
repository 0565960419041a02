"""Bounded queues (backpressure): a queue created with `max_messages=` never holds more, under 8 racing
senders too (read from the table); a send that does not fit raises `pgmq.QueueFull` at once
(`wait_for_room=0`) or after waiting for room, woken by the ack that makes it, writing nothing either way,
and a batch fits whole or not at all; cancelling a waiting send sends nothing; `Queue.set_max_messages`
lowers and lifts the bound, which `list_queues` shows; the SQL send and redrive respect it too.

"Still waiting" is proved by a send that has not finished after QUIET; "sent nothing" by a receiver that
gets nothing once room is made, and by the table's count.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio
import psycopg
import pytest
from anyio.abc import TaskStatus

import pgmq
from pgmq import _pgmq
from support import FIVE_S, QUIET, assert_nothing_within, eventually, receive_within, unique

pytestmark = pytest.mark.anyio

ROOM_POLL_INTERVAL: timedelta = _pgmq.DEFAULTS["send"]["room_poll_interval"]


async def bounded(client: pgmq.Client, prefix: str, max_messages: int) -> str:
    name = unique(prefix)
    assert await pgmq.create_queue(name, client, max_messages=max_messages)
    return name


@asynccontextmanager
async def table(dsn: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A plain connection of the test's own, to read the queue tables with SQL."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        yield conn


async def rows(conn: psycopg.AsyncConnection[Any], name: str) -> int:
    """The messages of queue `name` as its table holds them: ready, scheduled and leased."""
    cursor = await conn.execute(
        "SELECT count(*) FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = %s", (name,)
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


# ---- full: at once, or after waiting ----


async def test_a_send_to_a_full_queue_raises_queue_full_at_once_and_writes_nothing(
    client: pgmq.Client, migrated: str
) -> None:
    # Arrange: room for 3, taken by one scheduled, one leased and one ready message.
    name = await bounded(client, "full", 3)
    async with pgmq.connect_to_queue(name, client) as queue, table(migrated) as conn:
        await queue.send(b"later", delay=timedelta(hours=1), wait_for_room=0)
        await queue.send(b"held", wait_for_room=0)
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire():
                await queue.send(b"ready", wait_for_room=0)

                # Act
                with pytest.raises(pgmq.QueueFull) as full:
                    await queue.send(b"one too many", wait_for_room=0)

                # Assert
                assert await rows(conn, name) == 3

    error = full.value
    assert isinstance(error, pgmq.PgmqError)
    assert (error.code, error.transient) == ("queue_full", True)
    assert name in str(error)


async def test_a_batch_fits_whole_or_not_at_all(client: pgmq.Client, migrated: str) -> None:
    name = await bounded(client, "batch", 3)
    async with pgmq.connect_to_queue(name, client) as queue, table(migrated) as conn:
        await queue.send(b"1", b"2", wait_for_room=0)

        with pytest.raises(pgmq.QueueFull):
            await queue.send(b"3", b"4", wait_for_room=0)
        after_refusal = await rows(conn, name)
        await queue.send(b"3", wait_for_room=0)

        assert (after_refusal, await rows(conn, name)) == (2, 3)


async def test_a_waiting_send_is_woken_by_the_ack_of_another_client_and_completes(
    client: pgmq.Client, migrated: str
) -> None:
    # Arrange: a full queue of 1, its message held by a worker of another client.
    name = await bounded(client, "woken", 1)
    sent_at: list[float] = []
    async with (
        pgmq.connect(migrated) as other,
        pgmq.connect_to_queue(name, other) as worker_queue,
        pgmq.connect_to_queue(name, client) as queue,
        worker_queue.receive() as stream,
    ):
        await queue.send(b"first", wait_for_room=0)
        async with (await receive_within(stream)).acquire() as first:
            with anyio.fail_after(FIVE_S):
                async with anyio.create_task_group() as tg:

                    async def send_second() -> None:
                        await queue.send(b"second", wait_for_room=20)
                        sent_at.append(time.monotonic())

                    tg.start_soon(send_second)
                    await anyio.sleep(QUIET)
                    assert not sent_at, "the send did not wait for room"

                    # Act
                    await first.ack()
                    acked_at = time.monotonic()

            # Assert: woken by the ack's notification, not by the safety-net re-try.
            assert sent_at[0] - acked_at < ROOM_POLL_INTERVAL.total_seconds() / 2
        async with (await receive_within(stream)).acquire() as second:
            assert second.body == b"second"


async def test_a_send_that_finds_no_room_within_wait_for_room_raises_queue_full(
    client: pgmq.Client, migrated: str
) -> None:
    name = await bounded(client, "gave-up", 1)
    async with pgmq.connect_to_queue(name, client) as queue, table(migrated) as conn:
        await queue.send(b"first", wait_for_room=0)
        started = time.monotonic()

        with pytest.raises(pgmq.QueueFull, match="waited") as full:
            await queue.send(b"second", wait_for_room=timedelta(milliseconds=300))

        assert time.monotonic() - started >= 0.3
        assert await rows(conn, name) == 1
    assert full.value.code == "queue_full"


async def test_cancelling_a_send_that_waits_for_room_sends_nothing(client: pgmq.Client, migrated: str) -> None:
    # Arrange: a full queue of 1, its message held; a send waiting for room (30 s, the default).
    name = await bounded(client, "cancelled", 1)
    async with (
        pgmq.connect_to_queue(name, client) as queue,
        queue.receive() as stream,
        table(migrated) as conn,
    ):
        await queue.send(b"held", wait_for_room=0)
        held = await receive_within(stream)
        async with held.acquire() as message:

            # Act
            with anyio.move_on_after(QUIET) as waiting:
                await queue.send(b"cancelled")
            assert waiting.cancelled_caught, "the send did not wait for room"

            await message.ack()  # room, announced to a sender still waiting, if any

        # Assert: a send still alive would now fit and be delivered.
        await assert_nothing_within(stream, QUIET, "the cancelled send")
        assert await rows(conn, name) == 0


# ---- the bound: set, changed, listed, refused ----


async def test_set_max_messages_lowers_and_lifts_the_bound_and_list_queues_shows_it(client: pgmq.Client) -> None:
    name = await bounded(client, "changed", 5)
    async with pgmq.connect_to_queue(name, client) as queue:
        for _ in range(4):
            await queue.send(b"x", wait_for_room=0)
        listed = {q.name: q for q in await client.list_queues()}
        overview = {o.info.name: o for o in await client.list_queues_with_stats()}

        # Lowered below the depth: nothing fits, nothing is removed.
        await queue.set_max_messages(2)
        with pytest.raises(pgmq.QueueFull):
            await queue.send(b"x", wait_for_room=0)
        depth = (await queue.get_statistics()).messages
        # Lifted: anything fits.
        await queue.set_max_messages(None)
        await queue.send(*[b"x"] * 10, wait_for_room=0)
        lifted = {q.name: q for q in await client.list_queues()}
        # Raised over a queue of 14: the first send counts them.
        await queue.set_max_messages(15)
        await queue.send(b"x", wait_for_room=0)
        with pytest.raises(pgmq.QueueFull):
            await queue.send(b"x", wait_for_room=0)

    assert (listed[name].max_messages, overview[name].info.max_messages) == (5, 5)
    assert "max_messages=5" in repr(listed[name])
    assert listed[pgmq.get_dlq_name(name)].max_messages is None, "a dead-letter queue is never bounded"
    assert depth == 4
    assert lifted[name].max_messages is None


@pytest.mark.parametrize("bound", [0, -1, 2**63, 2**64])
async def test_a_bound_out_of_range_is_invalid_option_and_creates_nothing(client: pgmq.Client, bound: int) -> None:
    name = unique("bad-bound")

    with pytest.raises(pgmq.InvalidOption, match="max_messages must be between 1 and 9223372036854775807"):
        await pgmq.create_queue(name, client, max_messages=bound)
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(pgmq.InvalidOption, match="max_messages must be between 1 and"):
            await queue.set_max_messages(bound)

    assert {q.name: q.max_messages for q in await client.list_queues()}[name] is None


async def test_a_dead_letter_queue_or_an_unknown_queue_cannot_be_bounded(client: pgmq.Client) -> None:
    name = unique("dlq-bound")
    await pgmq.create_queue(name, client)

    async with pgmq.connect_to_queue(pgmq.get_dlq_name(name), client) as dlq:
        with pytest.raises(pgmq.InvalidOption, match="dead-letter"):
            await dlq.set_max_messages(3)
    async with pgmq.connect_to_queue(unique("no-such"), client) as missing:
        with pytest.raises(pgmq.QueueNotFound):
            await missing.set_max_messages(3)


async def test_a_bound_or_a_wait_of_the_wrong_type_or_range_is_refused_before_anything_is_sent(
    client: pgmq.Client, migrated: str
) -> None:
    name = await bounded(client, "types", 2)
    async with pgmq.connect_to_queue(name, client) as queue, table(migrated) as conn:
        with pytest.raises(TypeError):
            await pgmq.create_queue(unique("t"), client, max_messages="5")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await pgmq.create_queue(unique("t"), client, max_messages=True)
        with pytest.raises(TypeError):
            await queue.set_max_messages(2.0)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="wait_for_room"):
            await queue.send(b"x", wait_for_room=None)  # type: ignore[arg-type]
        with pytest.raises(pgmq.InvalidOption, match="wait_for_room"):
            await queue.send(b"x", wait_for_room=-1)
        with pytest.raises(pgmq.InvalidOption, match="wait_for_room"):
            await queue.send(b"x", wait_for_room=timedelta(days=365 * 200))

        assert await rows(conn, name) == 0


async def test_an_unbounded_queue_ignores_wait_for_room(client: pgmq.Client, migrated: str) -> None:
    name = unique("unbounded")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue, table(migrated) as conn:
        await queue.send(*[b"x"] * 100, wait_for_room=0)

        assert await rows(conn, name) == 100


# ---- the bound holds under racing senders ----

BOUND = 20
SENDERS = 8
SENDS_EACH = 25


async def test_eight_racing_senders_never_make_the_queue_hold_more_than_its_bound(
    client: pgmq.Client, migrated: str
) -> None:
    # Arrange: a checker reading the table's count all along; a worker acking as messages come.
    name = await bounded(client, "race", BOUND)
    highest = 0
    acked = 0

    async def check(*, task_status: TaskStatus[None]) -> None:
        nonlocal highest
        async with table(migrated) as conn:
            task_status.started()
            while True:
                highest = max(highest, await rows(conn, name))
                await anyio.sleep(0)

    async def work(queue: pgmq.Queue, *, task_status: TaskStatus[None]) -> None:
        nonlocal acked
        async with queue.receive(batch_size=5) as stream:
            task_status.started()
            async for handle in stream:
                async with handle.acquire():
                    pass
                acked += 1

    async def send(queue: pgmq.Queue, sender: int, sent: list[int], refused: list[int]) -> None:
        # Half the senders shed load (fail at once), half wait for room; batches of 1 to 3.
        for i in range(SENDS_EACH):
            n = 1 + (sender + i) % 3
            try:
                await queue.send(*[b"x"] * n, wait_for_room=0 if sender % 2 == 0 else 30)
                sent.append(n)
            except pgmq.QueueFull:
                refused.append(n)

    sent: list[int] = []
    refused: list[int] = []
    async with pgmq.connect_to_queue(name, client) as queue, table(migrated) as conn:
        with anyio.fail_after(90):
            async with anyio.create_task_group() as background:
                await background.start(check)
                await background.start(work, queue)

                # Act
                async with anyio.create_task_group() as senders:
                    for sender in range(SENDERS):
                        senders.start_soon(send, queue, sender, sent, refused)

                async def all_acked() -> bool:
                    return acked == sum(sent)

                await eventually(all_acked, "the worker acks every message sent")
                background.cancel_scope.cancel()
        left = await rows(conn, name)

    # Assert: the bound held at every reading, and every message sent was acked once.
    assert highest <= BOUND, f"the table held {highest} > {BOUND}"
    assert left == 0
    assert sum(sent) > BOUND, f"only {sum(sent)} sent ({sum(refused)} refused): the senders barely raced"


# ---- every way in: the SQL send, redrive ----


async def test_the_sql_send_to_a_full_queue_raises_queue_full_and_its_transaction_writes_nothing(
    client: pgmq.Client, migrated: str
) -> None:
    name = await bounded(client, "sql", 2)
    async with pgmq.connect_to_queue(name, client) as queue, table(migrated) as conn:
        await queue.send(b"x", wait_for_room=0)

        with pytest.raises(pgmq.QueueFull) as full:
            async with await psycopg.AsyncConnection.connect(migrated) as tx:
                await pgmq.sql.execute(tx, pgmq.sql.send_batch(name, [b"a", b"b"]))
        async with await psycopg.AsyncConnection.connect(migrated) as tx:
            await pgmq.sql.execute(tx, pgmq.sql.send(name, b"c"))  # commits on leaving the block

        assert await rows(conn, name) == 2
    assert isinstance(full.value.__cause__, psycopg.Error)


async def test_a_redrive_into_a_full_queue_raises_queue_full_and_moves_nothing(
    client: pgmq.Client, migrated: str
) -> None:
    # Room for 1 of the 2 that would move (a redrive larger than the bound itself never fits: invalid).
    name, source = await bounded(client, "redrive", 2), unique("source")
    await pgmq.create_queue(source, client)
    async with pgmq.connect_to_queue(source, client) as source_queue, pgmq.connect_to_queue(
        name, client
    ) as target, table(migrated) as conn:
        await target.send(b"0")
        await source_queue.send(b"1", b"2")

        with pytest.raises(pgmq.QueueFull):
            await client.redrive(source, name)

        assert (await rows(conn, name), await rows(conn, source)) == (1, 2)
