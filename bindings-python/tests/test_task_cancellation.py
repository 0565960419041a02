"""Cancelling a Python task at each await point of the API leaks nothing: no lease stays held, the message
comes back at once (not when the lease runs out), no background task or pooled connection is left behind.

Every queue here has a 10 s ack deadline, so a redelivery within 1 s can only come from a release.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import anyio
import pytest
from anyio import wait_all_tasks_blocked

import pgmq
from support import FIVE_S, QUIET, eventually, nothing_leased, other_tasks, receive_within, send_ids, unique

pytestmark = pytest.mark.anyio

DEADLINE = 10


async def new_queue(client: pgmq.Client, prefix: str) -> str:
    name = unique(prefix)
    await pgmq.create_queue(name, client, ack_deadline=DEADLINE)
    return name


async def assert_released_and_redelivered_at_once(
    queue: pgmq.Queue, message_id: uuid.UUID, attempts: set[int], what: str
) -> None:
    """Nothing is leased any more, and a new receiver gets `message_id` (a delivery attempt in `attempts`)
    within 1 s."""
    await eventually(lambda: nothing_leased(queue), f"{what}: a lease is still held", limit=1)
    async with queue.receive() as stream:
        try:
            handle = await receive_within(stream, 1)
        except TimeoutError:
            raise AssertionError(f"{what}: the message did not come back within 1 s") from None
        async with handle.acquire() as message:
            assert message.id == message_id, what
            assert message.delivery_attempt in attempts, (what, message.delivery_attempt)


# ---- while awaiting stream.receive() ----


async def test_cancelled_receive_on_an_empty_queue_leaves_nothing_leased_and_misses_nothing(
    client: pgmq.Client,
) -> None:
    name = await new_queue(client, "cx-rx-idle")
    async with pgmq.connect_to_queue(name, client) as queue, queue.receive() as stream:
        tasks_before = other_tasks()

        async def receive() -> None:
            await stream.receive()
            raise AssertionError("received from an empty queue")

        async with anyio.create_task_group() as tg:
            tg.start_soon(receive)
            await wait_all_tasks_blocked()  # the receive is waiting for a message

            tg.cancel_scope.cancel()

        ids = await send_ids(queue, b"for someone else")
        stats = await queue.get_statistics()
        await assert_released_and_redelivered_at_once(queue, ids[0], {1}, "after a cancelled idle receive")
        assert other_tasks() <= tasks_before, "a background task was left running"

    assert (stats.leased, stats.ready) == (0, 1)


async def test_receive_cancelled_at_any_point_of_its_claim_never_strands_the_message(client: pgmq.Client) -> None:
    # Cut the wait after 0, 0.5, 1, ... ms while the stream stays open: wherever the claim was, the message
    # is released at once (a cut claim counts as a delivery attempt, so the next one is 1 or 2).
    name = await new_queue(client, "cx-rx-claim")
    interrupted = 0
    async with pgmq.connect_to_queue(name, client) as queue, queue.receive() as stream:
        for i in range(24):
            (sent,) = await send_ids(queue, str(i).encode())
            handle = None
            with anyio.move_on_after(i * 0.0005):
                handle = await stream.receive()
            if handle is not None:
                async with handle.acquire() as message:
                    assert message.id == sent
                continue
            interrupted += 1
            await assert_released_and_redelivered_at_once(queue, sent, {1, 2}, f"receive cut after {i * 0.5} ms")
    assert interrupted > 0, "no receive was interrupted"


# ---- inside acquire() ----


async def test_task_cancelled_inside_acquire_reraises_and_its_message_comes_back_at_once(
    client: pgmq.Client,
) -> None:
    name = await new_queue(client, "cx-acquire")
    async with pgmq.connect_to_queue(name, client) as queue:
        (sent,) = await send_ids(queue, b"x")
        entered = asyncio.Event()
        after_block = False
        async with queue.receive() as stream:
            handle = await receive_within(stream)

            async def work() -> None:
                nonlocal after_block
                async with handle.acquire():
                    entered.set()
                    await asyncio.Event().wait()
                after_block = True

            task = asyncio.ensure_future(work())
            with anyio.fail_after(FIVE_S):
                await entered.wait()

            # Act
            task.cancel()
            with anyio.fail_after(FIVE_S), pytest.raises(asyncio.CancelledError):
                await task

            # Assert: the cancellation was re-raised, the message released for another worker at once.
            assert not after_block
            await assert_released_and_redelivered_at_once(queue, sent, {2}, "after a task cancelled in acquire()")


async def test_cancel_scope_around_acquire_releases_the_message_at_once(client: pgmq.Client) -> None:
    name = await new_queue(client, "cx-scope")
    async with pgmq.connect_to_queue(name, client) as queue:
        (sent,) = await send_ids(queue, b"x")
        after_block = False
        async with queue.receive() as stream:
            handle = await receive_within(stream)
            with anyio.move_on_after(0.2) as scope:
                async with handle.acquire():
                    await anyio.sleep_forever()
                after_block = True

            assert scope.cancelled_caught
            assert not after_block
            await assert_released_and_redelivered_at_once(queue, sent, {2}, "after a cancel scope in acquire()")


async def test_acquire_cancelled_at_any_point_leaves_the_message_acked_or_released(client: pgmq.Client) -> None:
    # Cut an acquire with an empty body after 0, 0.25, 0.5, ... ms (before entry, during the ack, after),
    # with its stream still open: the message is then either completed or back at once, never left leased.
    name = await new_queue(client, "cx-ack")
    released = 0
    async with pgmq.connect_to_queue(name, client) as queue, queue.receive() as stream:
        for i in range(16):
            async with queue.send(str(i).encode()) as completion:
                handle = await receive_within(stream)
                with anyio.move_on_after(i * 0.00025):
                    async with handle.acquire():
                        pass
                what = f"acquire cut after {i * 0.25} ms"
                await eventually(lambda: nothing_leased(queue), f"{what}: still leased", limit=1)
                if (await queue.get_statistics()).messages == 0:
                    with anyio.fail_after(1):
                        assert await completion() == {completion.ids[0]: pgmq.Outcome.COMPLETED}, what
                else:
                    released += 1
                    await assert_released_and_redelivered_at_once(queue, completion.ids[0], {2}, what)
    assert released > 0, "no acquire was interrupted before its ack"


# ---- while awaiting completion() / wait_for_completion ----


async def test_cancelled_completion_wait_leaves_no_task_and_a_later_wait_still_works(client: pgmq.Client) -> None:
    name = await new_queue(client, "cx-compl")
    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(b"x") as completion:
            tasks_before = other_tasks()
            async def wait() -> None:
                await completion()
                raise AssertionError("completion() returned although nobody finished the message")

            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                await wait_all_tasks_blocked()  # the completion is waiting for an outcome

                tg.cancel_scope.cancel()

            assert other_tasks() <= tasks_before, "a background task was left running"
            stats = await queue.get_statistics()
            async with queue.receive() as stream:
                async with (await receive_within(stream, 1)).acquire() as message:
                    pass
            with anyio.fail_after(FIVE_S):
                outcomes = await completion()

    assert (stats.messages, stats.ready, stats.leased) == (1, 1, 0)
    assert message.delivery_attempt == 1
    assert outcomes == {completion.ids[0]: pgmq.Outcome.COMPLETED}


async def test_cancelled_wait_for_completion_leaves_no_task(client: pgmq.Client) -> None:
    name = await new_queue(client, "cx-wfc")
    async with pgmq.connect_to_queue(name, client) as queue:
        (sent,) = await send_ids(queue, b"x")
        tasks_before = other_tasks()
        with anyio.move_on_after(QUIET) as scope:
            async with queue.wait_for_completion(sent) as handle:
                await handle()
        assert scope.cancelled_caught, "the wait returned although nobody finished the message"
        assert other_tasks() <= tasks_before, "a background task was left running"
        async with queue.receive() as stream:
            async with (await receive_within(stream, 1)).acquire():
                pass
        async with queue.wait_for_completion(sent, poll_interval=1) as handle:
            with anyio.fail_after(FIVE_S):
                assert await handle() == {sent: pgmq.Outcome.COMPLETED}


# ---- while awaiting send ----


async def test_send_cancelled_at_any_point_writes_all_or_nothing_and_leaks_no_connection(migrated: str) -> None:
    # A pool of 2: a connection leaked by a cancelled send would soon block every later call.
    async with pgmq.connect(migrated, pool_size=2) as client:
        name = await new_queue(client, "cx-send")
        async with pgmq.connect_to_queue(name, client) as queue:
            # Act: send batches of 100, each cut after 0, 0.5, 1, ... ms.
            interrupted = 0
            for i in range(16):
                with anyio.move_on_after(i * 0.0005) as scope:
                    async with queue.send(*[b"%d:%d" % (i, j) for j in range(100)]):
                        pass
                interrupted += scope.cancelled_caught
                with anyio.fail_after(FIVE_S):
                    assert (await queue.get_statistics()).leased == 0

            # The client still works: a marker sent last completes once everything before it is drained.
            per_batch: Counter[bytes] = Counter()
            with anyio.fail_after(FIVE_S * 3):
                async with queue.send(b"last") as completion:
                    async with queue.receive(batch_size=100) as stream:
                        async for handle in stream:
                            async with handle.acquire() as message:
                                if message.body == b"last":
                                    break
                                per_batch[message.body.split(b":")[0]] += 1
                    assert await completion() == {completion.ids[0]: pgmq.Outcome.COMPLETED}
            final = await queue.get_statistics()

    # Assert: each batch was written whole or not at all, and nothing was written after the marker.
    assert all(n == 100 for n in per_batch.values()), f"partial batches: {per_batch}"
    assert interrupted > 0, "no send was interrupted"
    assert final.messages == 0, f"a cancelled send wrote after it was cancelled: {final}"
