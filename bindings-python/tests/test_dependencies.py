"""Dependencies between messages: `queue.send(..., depends_on=ids)` and `OutgoingMessage(..., after=[i])`
make messages wait, never delivered, until every message they depend on has completed; a dependency that
finishes any other way cancels its dependents, down the graph, each with a `reply.reason`. Waiting
messages peek as `MessageState.WAITING`; what cannot be a dependency is refused with nothing written.
The Python side of core/tests/integration/dependencies.rs (docs/dependencies.md).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

import anyio
import psycopg
import pytest

import pgmq
from support import FIVE_S, QUIET, assert_nothing_within, receive_within, send_ids, unique

pytestmark = pytest.mark.anyio

MAX_DEPENDENCIES: int = pgmq._pgmq.DEFAULTS["limits"]["max_dependencies"]
# What a waiting message's `available_at` reads: it has no time yet.
NO_TIME_YET = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


@asynccontextmanager
async def open_queue(client: pgmq.Client, prefix: str, **options: Any) -> AsyncIterator[pgmq.Queue]:
    name = unique(prefix)
    assert await pgmq.create_queue(name, client, **options)
    async with pgmq.connect_to_queue(name, client) as queue:
        yield queue


async def ack_next(queue: pgmq.Queue) -> bytes:
    """Receives the next message of `queue`, acks it and returns its body."""
    async with queue.receive() as stream:
        async with (await receive_within(stream)).acquire() as message:
            body = message.body
            await message.ack()
    return body


async def messages_in(queue: pgmq.Queue) -> int:
    return (await queue.get_statistics()).messages


async def rows_about(dsn: str, ids: list[uuid.UUID]) -> int:
    """The rows pgmq keeps for dependencies of these messages: edges, as dependency or dependent, and
    waiting counters."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cursor = await conn.execute(
            "SELECT (SELECT count(*) FROM pgmq.dependencies"
            "        WHERE dependency = ANY(%(ids)s) OR dependent = ANY(%(ids)s))"
            "     + (SELECT count(*) FROM pgmq.waiting WHERE id = ANY(%(ids)s))",
            {"ids": ids},
        )
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def test_a_diamond_across_two_queues_runs_its_last_message_once_after_both_middles(
    client: pgmq.Client, migrated: str
) -> None:
    # Arrange: A in `first`; B and C in `second` depend on A; D in `first` depends on B and C.
    async with open_queue(client, "dep-dia-a") as first, open_queue(client, "dep-dia-b") as second:
        (a,) = await send_ids(first, b"A")
        async with second.send(b"B", b"C", depends_on=[a]) as middle_sent:
            middle = middle_sent.ids
        async with first.send(b"D", depends_on=middle) as bottom:
            (d,) = bottom.ids

        # Assert: only A is claimable; B, C and D wait.
        stats = await second.get_statistics()
        assert (stats.ready, stats.scheduled, stats.messages) == (0, 2, 2)
        assert [m.id for m in await first.peek(state=pgmq.MessageState.WAITING)] == [d]
        assert await ack_next(first) == b"A"

        # Act: B and C become ready; D only after both.
        bodies = []
        async with second.receive(batch_size=2) as stream:
            one, other = await receive_within(stream), await receive_within(stream)
            async with one.acquire() as message:
                bodies.append(message.body)
                await message.ack()
            assert (await first.get_statistics()).ready == 0, "D still waits for the other middle message"
            async with other.acquire() as message:
                bodies.append(message.body)
                await message.ack()
        assert sorted(bodies) == [b"B", b"C"]
        assert await ack_next(first) == b"D"

        # Assert: every outcome completed, D ran once, nothing left behind.
        with anyio.fail_after(FIVE_S):
            assert await bottom() == {d: pgmq.Outcome.COMPLETED}
            assert set((await middle_sent()).values()) == {pgmq.Outcome.COMPLETED}
        assert await messages_in(first) + await messages_in(second) == 0
        assert await rows_about(migrated, [a, d, *middle]) == 0


async def test_a_worker_idle_on_a_queue_of_waiting_messages_gets_one_when_its_dependency_completes(
    client: pgmq.Client,
) -> None:
    # Arrange: B waits for A, and a worker already waits on B's queue, which holds nothing else.
    async with open_queue(client, "dep-idle-a") as first, open_queue(client, "dep-idle-b") as second:
        (a,) = await send_ids(first, b"A")
        async with second.send(b"B", depends_on=[a]) as sent:
            (b,) = sent.ids
        async with second.receive() as stream:
            await assert_nothing_within(stream, QUIET, "B before A completed")

            # Act
            assert await ack_next(first) == b"A"

            # Assert: released by the ack, and woken by its notification.
            async with (await receive_within(stream)).acquire() as message:
                assert message.id == b


async def test_a_failed_dependency_cancels_its_dependents_down_the_chain_with_reasons(
    client: pgmq.Client, migrated: str
) -> None:
    # Arrange: a chain in one send, A <- B <- C, and D in another queue depending on B; one attempt each.
    async with open_queue(client, "dep-fail", max_delivery_attempts=1) as queue, open_queue(
        client, "dep-fail-o"
    ) as other:
        chain = [b"A", pgmq.OutgoingMessage(b"B", after=[0]), pgmq.OutgoingMessage(b"C", after=[1])]
        async with queue.send(*chain) as sent:
            a, b, c = sent.ids
            async with other.send(b"D", depends_on=[b]) as dependent:
                (d,) = dependent.ids

                # Act: A fails on its only attempt.
                async with queue.receive() as stream:
                    async with (await receive_within(stream)).acquire() as message:
                        assert message.id == a
                        await message.nack(error="boom")

                # Assert
                with anyio.fail_after(FIVE_S):
                    replies = await sent.replies()
                    d_reply = await dependent.reply()
    assert (replies[a].outcome, replies[a].reason) == (pgmq.Outcome.DEAD_LETTERED, None)
    assert (replies[b].outcome, replies[b].reason) == (pgmq.Outcome.CANCELLED, f"dependency {a} was dead_lettered")
    assert (replies[c].outcome, replies[c].reason) == (pgmq.Outcome.CANCELLED, f"dependency {b} was cancelled")
    assert (d_reply.outcome, d_reply.reason) == (pgmq.Outcome.CANCELLED, f"dependency {b} was cancelled")
    assert f"reason=\"dependency {b} was cancelled\"" in repr(d_reply)
    assert await messages_in(queue) + await messages_in(other) == 0
    assert await rows_about(migrated, [a, b, c, d]) == 0


async def test_cancelling_a_waiting_message_cancels_what_depends_on_it_and_releases_nothing(
    client: pgmq.Client,
) -> None:
    async with open_queue(client, "dep-cancel") as queue:
        batch = [b"A", pgmq.OutgoingMessage(b"B", after=[0]), pgmq.OutgoingMessage(b"C", after=[0, 1])]
        async with queue.send(*batch) as sent:
            a, b, c = sent.ids

            # Act: cancel B while it waits, then complete A.
            assert await queue.cancel(b) == [b]
            assert await ack_next(queue) == b"A"

            # Assert: C was cancelled with B; A's completion released nothing.
            with anyio.fail_after(FIVE_S):
                replies = await sent.replies()
        assert (replies[a].outcome, replies[a].reason) == (pgmq.Outcome.COMPLETED, None)
        assert (replies[b].outcome, replies[b].reason) == (pgmq.Outcome.CANCELLED, None)
        assert (replies[c].outcome, replies[c].reason) == (pgmq.Outcome.CANCELLED, f"dependency {b} was cancelled")
        assert await messages_in(queue) == 0


async def test_a_waiting_message_peeks_as_waiting_with_no_time_yet_and_counts_as_scheduled(
    client: pgmq.Client,
) -> None:
    async with open_queue(client, "dep-peek") as queue:
        first, waiting = await send_ids(queue, b"first", pgmq.OutgoingMessage(b"second", after=[0]))

        peeked = await queue.peek()
        only_waiting = await queue.peek(state="waiting")
        stats = await queue.get_statistics()

    assert [(m.id, m.state) for m in peeked] == [
        (first, pgmq.MessageState.READY),
        (waiting, pgmq.MessageState.WAITING),
    ]
    assert peeked[1].available_at == NO_TIME_YET
    assert [m.id for m in only_waiting] == [waiting]
    assert (stats.messages, stats.ready, stats.scheduled) == (2, 1, 1)


async def test_a_completed_dependency_counts_as_met_and_ids_may_be_given_as_text(client: pgmq.Client) -> None:
    async with open_queue(client, "dep-done") as queue:
        (done,) = await send_ids(queue, b"done")
        assert await ack_next(queue) == b"done"

        # Act: the id as its text, hyphenated or not.
        async with queue.send(b"now", b"also now", depends_on=[str(done), done.hex]) as sent:
            pass

        # Assert: both available at once.
        assert await ack_next(queue) == b"now"
        assert await ack_next(queue) == b"also now"
        with anyio.fail_after(FIVE_S):
            assert set((await sent()).values()) == {pgmq.Outcome.COMPLETED}


async def test_dependencies_that_cannot_be_are_refused_as_invalid_option_and_nothing_is_written(
    client: pgmq.Client,
) -> None:
    async with open_queue(client, "dep-refuse") as queue:
        async with queue.send(b"untracked", track=False) as fire_and_forget:
            (untracked,) = fire_and_forget.ids
        (cancelled,) = await send_ids(queue, b"cancelled")
        await queue.cancel(cancelled)
        before = await messages_in(queue)
        refusals: list[tuple[pgmq.Sending, str]] = [
            (queue.send(b"x", depends_on=[uuid.uuid4()]), "is unknown"),
            (queue.send(b"x", depends_on=[untracked]), "is not tracked"),
            (queue.send(b"x", depends_on=[cancelled]), "already finished as cancelled"),
            (queue.send(pgmq.OutgoingMessage(b"0", after=[1]), b"1"), "only on an earlier entry"),
            (queue.send(pgmq.OutgoingMessage(b"0", after=[0])), "only on an earlier entry"),
            (queue.send(b"x", pgmq.OutgoingMessage(b"y", after=[-1])), "entry 1 cannot depend on entry -1"),
            (queue.send(b"x", depends_on=[cancelled], track=False), "is tracked"),
            (queue.send(b"x", depends_on=[uuid.uuid4() for _ in range(MAX_DEPENDENCIES + 1)]), "at most 10000"),
            (queue.send(b"x", depends_on=["not-a-uuid"]), "depends_on[0] is not a message id"),
        ]

        for sending, needle in refusals:
            with pytest.raises(pgmq.InvalidOption, match=re.escape(needle)):
                await sending

        assert await messages_in(queue) == before, "nothing was written"


async def test_wrong_types_for_dependencies_raise_type_error_before_anything_is_sent(client: pgmq.Client) -> None:
    bad: Any
    async with open_queue(client, "dep-types") as queue:
        (sent,) = await send_ids(queue, b"sent")
        for bad in [str(sent), sent, b"bytes", 7, [7], [sent.bytes], [None]]:
            with pytest.raises(TypeError):
                await queue.send(b"x", depends_on=bad)
        for bad in [0, "0", [True], [0.0], ["0"], None]:
            with pytest.raises(TypeError):
                pgmq.OutgoingMessage(b"x", after=bad)
        assert await messages_in(queue) == 1


async def test_an_outgoing_message_keeps_its_entry_positions_as_a_tuple() -> None:
    assert pgmq.OutgoingMessage(b"x", after=[0, 2]).after == (0, 2)
    assert pgmq.OutgoingMessage(b"x", after=range(2)).after == (0, 1)
    assert pgmq.OutgoingMessage(b"x").after == ()


async def test_a_request_and_the_sql_sends_refuse_an_entry_with_after(client: pgmq.Client) -> None:
    async with open_queue(client, "dep-request") as queue:
        with pytest.raises(pgmq.InvalidOption, match="entry 0 cannot depend on entry 0"):
            await queue.request(pgmq.OutgoingMessage(b"x", after=[0]), timeout=FIVE_S)
        assert await messages_in(queue) == 0
    with pytest.raises(pgmq.InvalidOption, match="take no dependencies"):
        pgmq.sql.send_batch("jobs", [b"a", pgmq.OutgoingMessage(b"b", after=[0])])
    with pytest.raises(pgmq.InvalidOption, match="take no dependencies"):
        pgmq.sql.send_json_batch("jobs", [1, pgmq.OutgoingMessage(2, after=[0])])
