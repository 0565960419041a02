"""The core's delivery guarantees, seen from Python: one worker at a time, heartbeats, redelivery, dead
letters, retention, cancellation, completion, latency, load and statistics."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import timedelta

import anyio
import pytest
from anyio import wait_all_tasks_blocked

import pgmq
from support import (
    FIVE_S,
    QUIET,
    assert_nothing_within,
    eventually,
    median,
    receive_within,
    send_ids,
    unique,
)

pytestmark = pytest.mark.anyio


class JobFailed(Exception):
    pass


async def test_two_workers_racing_for_one_message_exactly_one_gets_it(client: pgmq.Client, migrated: str) -> None:
    # Original test 16, on two clients, three rounds.
    name = unique("race")
    await pgmq.create_queue(name, client, ack_deadline=1)
    async with pgmq.connect(migrated) as other, pgmq.connect_to_queue(name, client) as queue:
        async with pgmq.connect_to_queue(name, other) as other_queue:
            for round_ in range(3):
                winners: list[tuple[str, uuid.UUID]] = []
                first = anyio.Event()
                hold = 1.25 if round_ == 0 else 0.0  # in round 0, work past the deadline while the loser waits
                async with anyio.create_task_group() as tg:
                    tg.start_soon(take_one, queue, "a", winners, first, hold)
                    tg.start_soon(take_one, other_queue, "b", winners, first, hold)
                    await wait_all_tasks_blocked()
                    ids = await send_ids(queue, f"round {round_}".encode())
                    with anyio.fail_after(FIVE_S):
                        await first.wait()
                    with anyio.fail_after(FIVE_S):
                        await eventually(lambda: _all_acked(queue), "the winner did not ack")
                    tg.cancel_scope.cancel()

                assert len(winners) == 1, f"round {round_}: {winners}"
                assert winners[0][1] == ids[0]


async def take_one(
    queue: pgmq.Queue, label: str, winners: list[tuple[str, uuid.UUID]], first: anyio.Event, hold: float
) -> None:
    """A worker that processes one message for `hold` seconds and records that it got it."""
    async with queue.receive() as stream:
        handle = await stream.receive()
        async with handle.acquire() as message:
            winners.append((label, message.id))
            first.set()
            await anyio.sleep(hold)


async def _all_acked(queue: pgmq.Queue) -> bool:
    return (await queue.get_statistics()).messages == 0


async def test_message_held_for_three_deadlines_is_never_delivered_to_another_worker(
    client: pgmq.Client, migrated: str
) -> None:
    # Arrange: a 1 s deadline; a worker of another client waits for the message the whole time.
    name = unique("heartbeat")
    await pgmq.create_queue(name, client, ack_deadline=timedelta(seconds=1))
    async with pgmq.connect(migrated) as other, pgmq.connect_to_queue(name, client) as queue:
        async with pgmq.connect_to_queue(name, other) as other_queue, queue.send(b"slow") as completion:
            async with queue.receive() as stream, other_queue.receive() as other_stream:
                # Act: hold it 3.2 s (the heartbeat must extend the lease three times).
                async with (await receive_within(stream)).acquire() as message:
                    await assert_nothing_within(other_stream, 3.2, "a held message went to a second worker")
                    stats = await queue.get_statistics()
                with anyio.fail_after(FIVE_S):
                    outcomes = await completion()
                await assert_nothing_within(other_stream, QUIET, "the acked message came back")

    # Assert
    assert message.delivery_attempt == 1
    assert (stats.leased, stats.ready) == (1, 0)
    assert outcomes == {completion.ids[0]: pgmq.Outcome.COMPLETED}


async def test_interrupted_batch_redelivers_the_unprocessed_rest_at_once(client: pgmq.Client) -> None:
    # Original test 23: batch of 2, process 1, leave the stream; 10 s deadline, so only a release explains it.
    name = unique("batch-break")
    await pgmq.create_queue(name, client, ack_deadline=10)
    async with pgmq.connect_to_queue(name, client) as queue:
        ids = await send_ids(queue, b"1", b"2")
        async with queue.receive(batch_size=2) as stream:
            async for handle in stream:
                async with handle.acquire() as processed:
                    pass
                break
        left_at = time.monotonic()
        async with queue.receive() as stream:
            async with (await receive_within(stream, 1)).acquire() as rest:
                after = time.monotonic() - left_at
        stats = await queue.get_statistics()

    assert processed.id == ids[0]
    assert (rest.id, rest.body, rest.delivery_attempt) == (ids[1], b"2", 2)
    assert after < 1.0
    assert stats.messages == 0


async def test_message_failing_every_attempt_moves_to_the_dlq_with_its_body_and_attributes(
    client: pgmq.Client,
) -> None:
    # Original test 30 with 3 attempts, and the attributes the original dropped.
    name = unique("dlq")
    await pgmq.create_queue(name, client, max_delivery_attempts=3)
    outgoing = pgmq.OutgoingMessage(b"payload \x00\xff", attributes={"kind": "invoice", "n": 7})
    async with pgmq.connect_to_queue(name, client) as queue, queue.send(outgoing) as completion:
        attempts = []
        async with queue.receive() as stream:
            for _ in range(3):
                with pytest.raises(JobFailed):
                    async with (await receive_within(stream)).acquire() as message:
                        attempts.append(message.delivery_attempt)
                        raise JobFailed
            await assert_nothing_within(stream, QUIET, "a message past its attempts came back")
        with anyio.fail_after(FIVE_S):
            outcomes = await completion()
        stats = await queue.get_statistics()
        async with pgmq.connect_to_queue(pgmq.get_dlq_name(name), client) as dlq:
            async with dlq.receive() as dlq_stream:
                async with (await receive_within(dlq_stream)).acquire() as dead:
                    pass

    assert attempts == [1, 2, 3]
    assert outcomes == {completion.ids[0]: pgmq.Outcome.DEAD_LETTERED}
    assert (stats.messages, stats.dead_lettered) == (0, 1)
    assert (dead.id, dead.body) == (completion.ids[0], b"payload \x00\xff")
    assert dead.attributes == {"kind": "invoice", "n": 7}
    assert dead.delivery_attempt == 1


async def test_unconsumed_message_past_its_retention_moves_to_the_dlq_as_expired(client: pgmq.Client) -> None:
    # Original test 31: retention 1 s.
    name = unique("expire")
    await pgmq.create_queue(name, client, retention_period=1)
    async with pgmq.connect_to_queue(name, client) as queue:
        sent_at = time.monotonic()
        async with queue.send(pgmq.OutgoingMessage(b"stale", attributes={"k": "v"})) as completion:
            with anyio.fail_after(FIVE_S):
                outcomes = await completion()
            expired_after = time.monotonic() - sent_at
        stats = await queue.get_statistics()
        async with pgmq.connect_to_queue(pgmq.get_dlq_name(name), client) as dlq:
            async with dlq.receive() as dlq_stream:
                async with (await receive_within(dlq_stream)).acquire() as dead:
                    pass

    assert expired_after >= 1.0, f"expired {expired_after:.3f} s after the send, before its 1 s retention"
    assert outcomes == {completion.ids[0]: pgmq.Outcome.EXPIRED}
    assert (stats.messages, stats.dead_lettered) == (0, 1)
    assert (dead.id, dead.body, dead.attributes) == (completion.ids[0], b"stale", {"k": "v"})


async def test_cancelled_queued_message_is_never_delivered(client: pgmq.Client) -> None:
    name = unique("cancel-queued")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(b"x", b"y") as completion:
            cancelled, kept = completion.ids

            found = await queue.cancel(cancelled)
            stats = await queue.get_statistics()
            async with queue.receive() as stream:
                async with (await receive_within(stream)).acquire() as message:
                    pass
                await assert_nothing_within(stream, QUIET, "a cancelled message was delivered")
            with anyio.fail_after(FIVE_S):
                outcomes = await completion()

    assert found == [cancelled]
    assert (stats.messages, stats.ready) == (1, 1)
    assert message.id == kept
    assert outcomes == {cancelled: pgmq.Outcome.CANCELLED, kept: pgmq.Outcome.COMPLETED}


async def test_cancelled_scheduled_message_is_never_delivered(client: pgmq.Client) -> None:
    name = unique("cancel-sched")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.receive() as stream, queue.send(b"x", delay=0.3) as completion:
            found = await queue.cancel(*completion.ids)
            await assert_nothing_within(stream, 0.8, "a cancelled scheduled message was delivered")
            with anyio.fail_after(FIVE_S):
                outcomes = await completion()

    assert found == list(completion.ids)
    assert outcomes == {completion.ids[0]: pgmq.Outcome.CANCELLED}


async def test_cancel_returns_only_the_ids_that_exist(client: pgmq.Client) -> None:
    name = unique("cancel-unknown")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        (known,) = await send_ids(queue, b"x")
        unknown1, unknown2 = uuid.uuid4(), uuid.uuid4()

        none = await queue.cancel(unknown1)
        mixed = await queue.cancel(unknown1, known, unknown2)
        again = await queue.cancel(known)

    assert none == []
    assert mixed == [known]
    assert again == []


async def test_cancelling_a_held_message_interrupts_its_acquire_block_within_100ms_and_it_never_returns(
    client: pgmq.Client, migrated: str
) -> None:
    # Arrange: 1 s deadline; a worker holds the message, a worker of another client waits for it.
    name = unique("cancel-held")
    await pgmq.create_queue(name, client, ack_deadline=1)
    async with pgmq.connect(migrated) as other, pgmq.connect_to_queue(name, client) as queue:
        async with pgmq.connect_to_queue(name, other) as other_queue, queue.send(b"x") as completion:
            entered = anyio.Event()
            body_ran_on = False
            exited_at: list[float] = []
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

                # Act: cancel it while the block waits; the task group re-raises if the block raised.
                async with anyio.create_task_group() as tg:
                    tg.start_soon(hold)
                    await entered.wait()
                    found = await queue.cancel(*completion.ids)
                    cancelled_at = time.monotonic()

                # Assert: interrupted at once, never handed to anyone (not even after the lease ran out).
                await assert_nothing_within(other_stream, 1.5, "a cancelled message was redelivered")
            with anyio.fail_after(FIVE_S):
                outcomes = await completion()
            stats = await queue.get_statistics()

    assert found == list(completion.ids)
    assert not body_ran_on, "the block went on after the cancel"
    assert exited_at, "the block did not exit"
    assert exited_at[0] - cancelled_at < 0.1, f"interrupted {exited_at[0] - cancelled_at:.3f} s after cancel()"
    assert outcomes == {completion.ids[0]: pgmq.Outcome.CANCELLED}
    assert (stats.messages, stats.leased, stats.dead_lettered) == (0, 0, 0)


async def test_completion_wakes_within_100ms_of_the_ack(client: pgmq.Client, migrated: str) -> None:
    # The sender (and waiter) is its own client; a worker on another client acks. Median of 10.
    name = unique("latency")
    await pgmq.create_queue(name, client)
    latencies: list[float] = []
    async with pgmq.connect(migrated) as worker, pgmq.connect_to_queue(name, client) as queue:
        async with pgmq.connect_to_queue(name, worker) as worker_queue, worker_queue.receive() as stream:
            for _ in range(10):
                async with queue.send(b"x") as completion:
                    handle = await receive_within(stream)
                    woke: list[float] = []
                    with anyio.fail_after(FIVE_S):
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(wait_for_completion, completion, woke)
                            await wait_all_tasks_blocked()
                            async with handle.acquire():
                                pass
                            acked = time.monotonic()
                    latencies.append(max(0.0, woke[0] - acked))

    assert median(latencies) < 0.1, f"median ack -> wake-up {median(latencies):.3f} s; all: {latencies}"


async def wait_for_completion(completion: pgmq.CompletionHandle, woke: list[float]) -> None:
    """Waits for the one message of `completion` to complete; records when."""
    outcomes = await completion()
    woke.append(time.monotonic())
    assert outcomes == {completion.ids[0]: pgmq.Outcome.COMPLETED}


async def receive_one(stream: pgmq.MessageHandleStream, received: list[float]) -> None:
    """Receives one message, records when, and acks it."""
    handle = await stream.receive()
    received.append(time.monotonic())
    async with handle.acquire():
        pass


async def test_waiting_receiver_gets_a_new_message_within_100ms(client: pgmq.Client) -> None:
    # Original test 19, with the receiver asleep first and a 60 s safety net: only NOTIFY can be fast.
    name = unique("wake")
    await pgmq.create_queue(name, client)
    latencies: list[float] = []
    async with pgmq.connect_to_queue(name, client) as queue, queue.receive(poll_interval=60) as stream:
        for _ in range(10):
            received: list[float] = []
            with anyio.fail_after(FIVE_S):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(receive_one, stream, received)
                    await wait_all_tasks_blocked()
                    sent = time.monotonic()
                    await send_ids(queue, b"wake up")
            latencies.append(received[0] - sent)

    assert median(latencies) < 0.1, f"median send -> receipt {median(latencies):.3f} s; all: {latencies}"


async def test_ten_thousand_messages_sent_at_once_are_consumed_by_four_workers_exactly_once(
    client: pgmq.Client,
) -> None:
    # Arrange: 10,000 messages in one send.
    total = 10_000
    name = unique("load")
    await pgmq.create_queue(name, client)
    deliveries: Counter[uuid.UUID] = Counter()
    acked = 0
    all_acked = anyio.Event()
    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(*[b"m%d" % i for i in range(total)]) as completion:
            sent = set(completion.ids)

            # Act: four workers with batches of 50.
            async def worker() -> None:
                nonlocal acked
                async with queue.receive(batch_size=50) as stream:
                    async for handle in stream:
                        async with handle.acquire() as message:
                            deliveries[message.id] += 1
                        acked += 1
                        if acked == total:
                            all_acked.set()

            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(worker)
                with anyio.fail_after(90):
                    await all_acked.wait()
                tg.cancel_scope.cancel()
            stats = await queue.get_statistics()
            with anyio.fail_after(30):
                outcomes = await completion()

    # Assert: every message exactly once, nothing left, every outcome completed.
    assert len(sent) == total
    assert set(deliveries) == sent, "lost or foreign messages"
    duplicates = {i: n for i, n in deliveries.items() if n > 1}
    assert not duplicates, f"{len(duplicates)} messages delivered more than once"
    assert (stats.messages, stats.leased, stats.dead_lettered) == (0, 0, 0)
    assert len(outcomes) == total and set(outcomes.values()) == {pgmq.Outcome.COMPLETED}


async def test_statistics_count_messages_by_state(client: pgmq.Client) -> None:
    # Arrange: one message in each state, the dead-lettered one after a single attempt.
    name = unique("stats")
    await pgmq.create_queue(name, client, max_delivery_attempts=1)
    async with pgmq.connect_to_queue(name, client) as queue:
        empty = await queue.get_statistics()
        await send_ids(queue, b"dead", b"held", b"ready")
        async with queue.receive() as stream:
            with pytest.raises(JobFailed):
                async with (await receive_within(stream)).acquire():
                    raise JobFailed
            async with (await receive_within(stream)).acquire():
                await send_ids_delayed(queue)

                # Act
                stats = await queue.get_statistics()
            after_ack = await queue.get_statistics()

    # Assert
    assert (empty.messages, empty.ready, empty.scheduled, empty.leased, empty.dead_lettered) == (0, 0, 0, 0, 0)
    assert (stats.messages, stats.ready, stats.scheduled, stats.leased, stats.dead_lettered) == (3, 1, 1, 1, 1)
    assert (after_ack.messages, after_ack.ready, after_ack.leased) == (2, 1, 0)
    for value in (stats.messages, stats.ready, stats.scheduled, stats.leased, stats.dead_lettered):
        assert type(value) is int


async def send_ids_delayed(queue: pgmq.Queue) -> None:
    async with queue.send(b"scheduled", delay=timedelta(minutes=5)):
        pass


async def test_statistics_go_zero_two_one_zero_as_messages_are_sent_and_acked(client: pgmq.Client) -> None:
    # Original test 26.
    name = unique("stats-seq")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        counts = [(await queue.get_statistics()).messages]
        await send_ids(queue, b"1", b"2")
        counts.append((await queue.get_statistics()).messages)
        async with queue.receive() as stream:
            for _ in range(2):
                async with (await receive_within(stream)).acquire():
                    pass
                counts.append((await queue.get_statistics()).messages)

    assert counts == [0, 2, 1, 0]


@pytest.mark.parametrize("poll_interval", [timedelta(seconds=1), 1.0], ids=["timedelta", "seconds"])
async def test_wait_for_completion_reports_earlier_and_later_outcomes(
    client: pgmq.Client, poll_interval: timedelta | float
) -> None:
    # Original test 27: one message acked before anyone waits, one processed while waiting.
    name = unique("wait-compl")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        first, second = await send_ids(queue, b"early", b"late")
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire():
                pass
            async with queue.wait_for_completion(first, second, poll_interval=poll_interval) as handle:
                with anyio.fail_after(FIVE_S):
                    async with anyio.create_task_group() as tg:
                        outcomes: dict[uuid.UUID, pgmq.Outcome] = {}

                        async def wait() -> None:
                            outcomes.update(await handle())

                        tg.start_soon(wait)
                        await wait_all_tasks_blocked()
                        assert not outcomes, "returned before the second message finished"
                        async with (await receive_within(stream)).acquire():
                            pass

    assert outcomes == {first: pgmq.Outcome.COMPLETED, second: pgmq.Outcome.COMPLETED}


async def test_wait_for_completion_of_messages_finished_earlier_returns_at_once(client: pgmq.Client) -> None:
    # Original test 28, and outcomes other than completed.
    name = unique("wait-done")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        done, cancelled = await send_ids(queue, b"done", b"cancelled")
        await queue.cancel(cancelled)
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire():
                pass

        async with queue.wait_for_completion(done, cancelled) as handle:
            with anyio.fail_after(1):
                outcomes = await handle()

    assert outcomes == {done: pgmq.Outcome.COMPLETED, cancelled: pgmq.Outcome.CANCELLED}


async def test_wait_for_completion_of_an_unknown_id_raises_a_pgmq_error_with_its_code(client: pgmq.Client) -> None:
    name = unique("wait-unknown")
    await pgmq.create_queue(name, client)
    unknown = uuid.uuid4()

    async with pgmq.connect_to_queue(name, client) as queue:
        with anyio.fail_after(FIVE_S), pytest.raises(pgmq.PgmqError) as failed:
            async with queue.wait_for_completion(unknown) as handle:
                await handle()

    assert failed.value.code == "message_not_found"
    assert str(unknown) in str(failed.value)


def test_outcome_is_an_enum_of_the_four_outcomes() -> None:
    import enum

    assert issubclass(pgmq.Outcome, enum.Enum)
    assert {o.name for o in pgmq.Outcome} == {"COMPLETED", "DEAD_LETTERED", "CANCELLED", "EXPIRED"}
