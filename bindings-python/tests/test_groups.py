"""Job groups: `queue.send(..., group=)` puts messages of one queue or several in a group, which
`get_group_statistics`, `cancel_group` and `wait_for_group` act on together, per queue (a `pgmq.Queue`'s
methods) or across queues (a `pgmq.Client`'s). A held member's `acquire()` block is interrupted by the
group's cancel; a waiter started before is woken by the last member's outcome; a cancelled wait leaves
nothing behind; invalid group ids and untracked grouped sends are refused; an unknown group is empty.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import anyio
import pytest
from anyio import wait_all_tasks_blocked

import pgmq
from pgmq import _pgmq
from support import FIVE_S, QUIET, assert_nothing_within, other_tasks, receive_within, unique

pytestmark = pytest.mark.anyio

MAX_GROUP_LEN: int = _pgmq.DEFAULTS["limits"]["max_group_len"]
COMPLETION_POLL_INTERVAL: timedelta = _pgmq.DEFAULTS["completion"]["poll_interval"]


def counts(stats: pgmq.GroupStatistics) -> tuple[int, ...]:
    """(messages, ready, scheduled, leased, completed, dead_lettered, cancelled, expired)."""
    return (
        stats.messages,
        stats.ready,
        stats.scheduled,
        stats.leased,
        stats.completed,
        stats.dead_lettered,
        stats.cancelled,
        stats.expired,
    )


@asynccontextmanager
async def two_queues(client: pgmq.Client, prefix: str) -> AsyncIterator[tuple[pgmq.Queue, pgmq.Queue]]:
    """Two new queues of `client` (a 10 s ack deadline, one delivery attempt), open."""
    first, second = unique(f"{prefix}-a"), unique(f"{prefix}-b")
    for name in (first, second):
        assert await pgmq.create_queue(name, client, max_delivery_attempts=1)
    async with pgmq.connect_to_queue(first, client) as a, pgmq.connect_to_queue(second, client) as b:
        yield a, b


async def finish_all(queue: pgmq.Queue, n: int) -> None:
    """Receives `n` messages of `queue` and acks each."""
    async with queue.receive(batch_size=n) as stream:
        for _ in range(n):
            async with (await receive_within(stream)).acquire():
                pass


# ---- counting ----


async def test_group_statistics_count_the_members_by_state_per_queue_and_across_queues(client: pgmq.Client) -> None:
    # Arrange: in A, two ready members (one batch), a scheduled one and a message of no group; in B, one
    # member, held by a worker.
    group = unique("import")
    async with two_queues(client, "count") as (a, b):
        await a.send(b"a1", b"a2", group=group)
        await a.send(b"later", delay=timedelta(hours=1), group=group)
        await a.send(b"not grouped")
        await b.send(b"b1", group=group)
        async with b.receive() as stream:
            async with (await receive_within(stream)).acquire():
                # Act
                in_a = await a.get_group_statistics(group)
                in_b = await b.get_group_statistics(group)
                everywhere = await client.get_group_statistics(group)

    # Assert
    assert counts(in_a) == (3, 2, 1, 0, 0, 0, 0, 0)
    assert counts(in_b) == (1, 0, 0, 1, 0, 0, 0, 0)
    assert counts(everywhere) == (4, 2, 1, 1, 0, 0, 0, 0)
    assert isinstance(everywhere, pgmq.GroupStatistics)
    assert repr(everywhere) == (
        "GroupStatistics(messages=4, ready=2, scheduled=1, leased=1, completed=0, dead_lettered=0, "
        "cancelled=0, expired=0)"
    )


async def test_finished_members_are_counted_by_outcome(client: pgmq.Client) -> None:
    # Arrange: one member acked, one nacked on its last attempt, one cancelled, one still ready.
    group = unique("finished")
    async with two_queues(client, "outcomes") as (a, b):
        completion = await a.send(b"done", b"failed", group=group)
        (member,) = (await b.send(b"cancelled", group=group)).ids
        await b.send(b"still ready", group=group)
        async with a.receive(batch_size=2) as stream:
            async with (await receive_within(stream)).acquire() as message:
                assert message.body == b"done"
            async with (await receive_within(stream)).acquire() as message:
                await message.nack("broken")
        await b.cancel(member)
        with anyio.fail_after(FIVE_S):
            await completion()

        # Act
        stats = await client.get_group_statistics(group)

    # Assert
    assert counts(stats) == (1, 1, 0, 0, 1, 1, 1, 0)


# ---- cancelling ----


async def test_cancel_group_of_a_queue_cancels_its_members_only_and_the_clients_cancels_the_rest(
    client: pgmq.Client,
) -> None:
    # Arrange: two members in A, one in B; in A, a message of another group and one of none.
    group, other_group = unique("user-7"), unique("user-8")
    async with two_queues(client, "cancel") as (a, b):
        in_a = (await a.send(b"a1", b"a2", group=group)).ids
        (in_b,) = (await b.send(b"b1", group=group)).ids
        await a.send(b"other group", group=other_group)
        await a.send(b"no group")

        # Act: in A only, then everywhere.
        cancelled_in_a = await a.cancel_group(group)
        left_in_b = await b.get_group_statistics(group)
        cancelled_everywhere = await client.cancel_group(group)

        # Assert: every member cancelled, nothing else.
        with anyio.fail_after(FIVE_S):
            outcomes = await client.wait_for_group(group)
        a_stats, b_stats = await a.get_statistics(), await b.get_statistics()
        others = await client.get_group_statistics(other_group)

    assert sorted(cancelled_in_a) == sorted(in_a)
    assert (left_in_b.messages, left_in_b.ready, left_in_b.cancelled) == (1, 1, 0)
    assert cancelled_everywhere == [in_b]
    assert outcomes == {id_: pgmq.Outcome.CANCELLED for id_ in (*in_a, in_b)}
    assert (a_stats.messages, b_stats.messages) == (2, 0)
    assert (others.ready, others.cancelled) == (1, 0)


async def test_cancel_group_interrupts_the_acquire_block_of_a_held_member_and_it_never_returns(
    client: pgmq.Client, migrated: str
) -> None:
    # Arrange: 1 s deadline; a worker holds the member, a worker of another client waits for it.
    group = unique("held")
    name = unique("held")
    await pgmq.create_queue(name, client, ack_deadline=1)
    entered = anyio.Event()
    body_ran_on = False
    exited_at: list[float] = []
    async with pgmq.connect(migrated) as other, pgmq.connect_to_queue(name, client) as queue:
        async with pgmq.connect_to_queue(name, other) as other_queue:
            completion = await queue.send(b"x", group=group)
            async with queue.receive() as stream, other_queue.receive() as other_stream:
                handle = await receive_within(stream)

                async def hold() -> None:
                    nonlocal body_ran_on
                    async with handle.acquire():
                        entered.set()
                        with anyio.fail_after(FIVE_S):
                            await anyio.sleep_forever()
                        body_ran_on = True
                    exited_at.append(time.monotonic())

                # Act: cancel the group while the block waits; the task group re-raises if the block raised.
                async with anyio.create_task_group() as tg:
                    tg.start_soon(hold)
                    await entered.wait()
                    found = await client.cancel_group(group)
                    cancelled_at = time.monotonic()

                # Assert: interrupted at once, never handed to anyone (not even after the lease ran out).
                await assert_nothing_within(other_stream, 1.5, "a cancelled member was redelivered")
            with anyio.fail_after(FIVE_S):
                outcomes = await client.wait_for_group(group)

    assert found == list(completion.ids)
    assert not body_ran_on, "the block went on after the cancel"
    assert exited_at, "the block did not exit"
    assert exited_at[0] - cancelled_at < 0.1, f"interrupted {exited_at[0] - cancelled_at:.3f} s after cancel_group()"
    assert outcomes == {completion.ids[0]: pgmq.Outcome.CANCELLED}


# ---- waiting ----


async def test_wait_for_group_started_before_is_woken_when_the_last_member_finishes(client: pgmq.Client) -> None:
    # Arrange: two members in A, one in B; a waiter on the client and one on A, both blocked.
    group = unique("wait")
    everywhere: dict[uuid.UUID, pgmq.Outcome] = {}
    in_a: dict[uuid.UUID, pgmq.Outcome] = {}
    a_finished = anyio.Event()
    woken_at: list[float] = []
    async with two_queues(client, "wait") as (a, b):
        a_ids = (await a.send(b"a1", b"a2", group=group)).ids
        (b_id,) = (await b.send(b"b1", group=group)).ids
        with anyio.fail_after(FIVE_S):
            async with anyio.create_task_group() as tg:

                async def wait_everywhere() -> None:
                    everywhere.update(await client.wait_for_group(group))
                    woken_at.append(time.monotonic())

                async def wait_in_a() -> None:
                    in_a.update(await a.wait_for_group(group))
                    a_finished.set()

                tg.start_soon(wait_everywhere)
                tg.start_soon(wait_in_a)
                await wait_all_tasks_blocked()

                # Act: A's members finish (A's waiter returns, the client's waits on), then B's.
                await finish_all(a, 2)
                await a_finished.wait()
                await anyio.sleep(QUIET)
                assert not woken_at, "the client's wait returned before every member had finished"
                await finish_all(b, 1)
                finished_at = time.monotonic()

    # Assert: woken by the last outcome's notification, not by the safety-net re-read.
    assert in_a == {id_: pgmq.Outcome.COMPLETED for id_ in a_ids}
    assert everywhere == {**in_a, b_id: pgmq.Outcome.COMPLETED}
    assert woken_at[0] - finished_at < COMPLETION_POLL_INTERVAL.total_seconds() / 2


async def test_a_cancelled_wait_for_group_leaves_no_task_and_a_later_wait_still_works(client: pgmq.Client) -> None:
    group = unique("cx-wait")
    async with two_queues(client, "cx-group") as (a, _):
        (sent,) = (await a.send(b"x", group=group)).ids
        tasks_before = other_tasks()

        with anyio.move_on_after(QUIET) as client_scope:
            await client.wait_for_group(group)
        with anyio.move_on_after(QUIET) as queue_scope:
            await a.wait_for_group(group)

        assert client_scope.cancelled_caught and queue_scope.cancelled_caught, "a wait returned early"
        assert other_tasks() <= tasks_before, "a background task was left running"
        await finish_all(a, 1)
        with anyio.fail_after(FIVE_S):
            assert await client.wait_for_group(group) == {sent: pgmq.Outcome.COMPLETED}
            assert await a.wait_for_group(group) == {sent: pgmq.Outcome.COMPLETED}


# ---- refused, and empty ----


async def test_a_grouped_send_with_track_false_is_refused_and_sends_nothing(client: pgmq.Client) -> None:
    group = unique("untracked")
    async with two_queues(client, "untracked") as (a, _):
        with pytest.raises(pgmq.InvalidOption, match="tracked"):
            await a.send(b"x", group=group, track=False)

        assert (await a.get_statistics()).messages == 0
        assert counts(await client.get_group_statistics(group)) == (0,) * 8


@pytest.mark.parametrize(
    "group",
    ["", "x" * (MAX_GROUP_LEN + 1), "é" * (MAX_GROUP_LEN // 2 + 1), "a\0b"],
    ids=["empty", "one byte too long", "too long in UTF-8", "NUL"],
)
async def test_an_invalid_group_id_is_refused_by_every_operation(client: pgmq.Client, group: str) -> None:
    async with two_queues(client, "bad-group") as (a, _):
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "send": lambda: a.send(b"x", group=group),
            "Queue.cancel_group": lambda: a.cancel_group(group),
            "Queue.wait_for_group": lambda: a.wait_for_group(group),
            "Queue.get_group_statistics": lambda: a.get_group_statistics(group),
            "Client.cancel_group": lambda: client.cancel_group(group),
            "Client.wait_for_group": lambda: client.wait_for_group(group),
            "Client.get_group_statistics": lambda: client.get_group_statistics(group),
        }
        accepted = []
        for what, call in calls.items():
            try:
                with anyio.fail_after(FIVE_S):
                    await call()
                accepted.append(what)
            except pgmq.InvalidOption as refused:
                assert refused.code == "invalid_option"

        assert not accepted, f"accepted {group!r}: {accepted}"
        assert (await a.get_statistics()).messages == 0


async def test_a_group_id_of_the_longest_length_is_accepted(client: pgmq.Client) -> None:
    group = "g" * (MAX_GROUP_LEN - 32) + uuid.uuid4().hex
    async with two_queues(client, "long-group") as (a, _):
        await a.send(b"x", group=group)

        assert (await client.get_group_statistics(group)).ready == 1


async def test_a_group_id_that_is_not_a_str_is_a_type_error(client: pgmq.Client) -> None:
    async with two_queues(client, "type-group") as (a, _):
        with pytest.raises(TypeError, match="group must be a str"):
            a.send(b"x", group=42)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="group must be a str"):
            await client.cancel_group(b"bytes")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="group must be a str"):
            await a.wait_for_group(None)  # type: ignore[arg-type]


async def test_an_unknown_group_is_empty_and_its_wait_returns_at_once(client: pgmq.Client) -> None:
    group = unique("nobody")
    async with two_queues(client, "unknown") as (a, _):
        with anyio.fail_after(1):
            outcomes = await client.wait_for_group(group)
            in_a = await a.wait_for_group(group)
        cancelled = await client.cancel_group(group), await a.cancel_group(group)
        stats = await client.get_group_statistics(group), await a.get_group_statistics(group)

    assert (outcomes, in_a) == ({}, {})
    assert cancelled == ([], [])
    assert [counts(s) for s in stats] == [(0,) * 8, (0,) * 8]


async def test_the_group_operations_of_an_unknown_queue_raise_queue_not_found(client: pgmq.Client) -> None:
    async with pgmq.connect_to_queue(unique("missing"), client) as queue:
        calls: list[Callable[[str], Awaitable[object]]] = [
            queue.cancel_group,
            queue.wait_for_group,
            queue.get_group_statistics,
        ]
        for call in calls:
            with pytest.raises(pgmq.QueueNotFound):
                await call("some-group")
        with pytest.raises(pgmq.QueueNotFound):
            await queue.send(b"x", group="some-group")
