"""send / receive / acquire / completion: the API of a queue, message by message."""

from __future__ import annotations

import gc
import time
import uuid
import warnings
from datetime import datetime, timedelta, timezone
from typing import Union

import anyio
import pytest
from anyio import wait_all_tasks_blocked

import pgmq
from support import FIVE_S, QUIET, assert_nothing_within, eventually, nothing_leased, receive_within, send_ids, unique

pytestmark = pytest.mark.anyio


async def new_queue(client: pgmq.Client, prefix: str, ack_deadline: float = 10) -> str:
    name = unique(prefix)
    assert await pgmq.create_queue(name, client, ack_deadline=ack_deadline)
    return name


# ---- send ----


async def test_send_of_one_body_gives_a_tuple_of_one_uuid_and_completes_when_acked(client: pgmq.Client) -> None:
    name = await new_queue(client, "send-one")

    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(b'{"foo":"bar"}') as completion:
            ids = completion.ids
            async with queue.receive() as stream:
                async with (await receive_within(stream)).acquire() as message:
                    got = (message.id, message.body, message.attributes, message.delivery_attempt)
            with anyio.fail_after(FIVE_S):
                outcomes = await completion()

    assert isinstance(ids, tuple) and len(ids) == 1
    assert isinstance(ids[0], uuid.UUID)
    assert got == (ids[0], b'{"foo":"bar"}', {}, 1)
    assert outcomes == {ids[0]: pgmq.Outcome.COMPLETED}
    assert isinstance(outcomes[ids[0]], pgmq.Outcome)


async def test_send_of_many_is_one_batch_received_in_order_with_their_attributes(client: pgmq.Client) -> None:
    name = await new_queue(client, "send-many")
    attributes: dict[str, Union[str, int, float, bool, None]] = {"kind": "invoice", "n": 7}

    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(b"first", pgmq.OutgoingMessage(b"second", attributes=attributes), b"") as completion:
            stats = await queue.get_statistics()
            received = []
            async with queue.receive(batch_size=3) as stream:
                for _ in range(3):
                    async with (await receive_within(stream)).acquire() as message:
                        received.append((message.id, message.body, message.attributes))
            with anyio.fail_after(FIVE_S):
                via_call = await completion()
            with anyio.fail_after(FIVE_S):
                via_wait = await completion.wait()

    ids = completion.ids
    assert len(ids) == 3 and len(set(ids)) == 3 and all(isinstance(i, uuid.UUID) for i in ids)
    assert stats.messages == 3
    assert received == [(ids[0], b"first", {}), (ids[1], b"second", attributes), (ids[2], b"", {})]
    expected = {i: pgmq.Outcome.COMPLETED for i in ids}
    assert via_call == expected
    assert via_wait == expected


async def test_attributes_of_every_value_type_round_trip_with_their_python_types(client: pgmq.Client) -> None:
    name = await new_queue(client, "attrs")
    attributes: dict[str, Union[str, int, float, bool, None]] = {
        "string": "text ✓",
        "int": -(2**53),
        "float": 2.5,
        "true": True,
        "false": False,
        "none": None,
        "empty": "",
    }

    async with pgmq.connect_to_queue(name, client) as queue:
        await send_ids(queue, pgmq.OutgoingMessage(b"with attributes", attributes=attributes))
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire() as message:
                got = dict(message.attributes)

    assert got == attributes
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in attributes.items()}


async def test_outgoing_message_without_attributes_arrives_with_an_empty_dict(client: pgmq.Client) -> None:
    name = await new_queue(client, "no-attrs")

    async with pgmq.connect_to_queue(name, client) as queue:
        await send_ids(queue, pgmq.OutgoingMessage(b"bare"), b"plain bytes")
        async with queue.receive(batch_size=2) as stream:
            attributes = []
            for _ in range(2):
                async with (await receive_within(stream)).acquire() as message:
                    attributes.append(message.attributes)

    assert attributes == [{}, {}]
    assert all(isinstance(a, dict) for a in attributes)


async def test_track_false_completion_raises_not_tracked_a_handle_error(client: pgmq.Client) -> None:
    name = await new_queue(client, "untracked")

    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(b"fire and forget", track=False) as completion:
            ids = completion.ids
            with anyio.fail_after(FIVE_S), pytest.raises(pgmq.HandleError) as by_call:
                await completion()
            with anyio.fail_after(FIVE_S), pytest.raises(pgmq.HandleError):
                await completion.wait()
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire() as message:
                assert message.id == ids[0], "an untracked message is delivered like any other"

    assert isinstance(by_call.value, pgmq.NotTracked) and isinstance(by_call.value, RuntimeError)
    assert by_call.value.code == "not_tracked"
    assert completion.tracked is False


async def test_a_tracked_send_says_so(client: pgmq.Client) -> None:
    name = await new_queue(client, "tracked")

    async with pgmq.connect_to_queue(name, client) as queue:
        completion = await queue.send(b"tracked")

    assert completion.tracked is True


async def test_a_send_never_awaited_warns_as_a_coroutine_does_and_sends_nothing(client: pgmq.Client) -> None:
    name = await new_queue(client, "unawaited")

    async with pgmq.connect_to_queue(name, client) as queue:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Act: the trap, `await` forgotten.
            queue.send(b"lost")
            gc.collect()
        stats = await queue.get_statistics()

    never_awaited = [w for w in caught if issubclass(w.category, RuntimeWarning) and "never awaited" in str(w.message)]
    assert len(never_awaited) == 1, [str(w.message) for w in caught]
    assert name in str(never_awaited[0].message)
    assert stats.messages == 0


async def test_awaited_and_entered_sends_do_not_warn(client: pgmq.Client) -> None:
    name = await new_queue(client, "awaited")

    async with pgmq.connect_to_queue(name, client) as queue:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await queue.send(b"awaited")
            async with queue.send(b"entered"):
                pass
            with pytest.raises(pgmq.QueueNotFound):
                async with pgmq.connect_to_queue(unique("absent"), client) as absent:
                    await absent.send(b"failed, but it was awaited")
            gc.collect()
        stats = await queue.get_statistics()

    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
    assert stats.messages == 2


async def test_send_to_an_unknown_queue_raises_queue_not_found_and_creates_nothing(client: pgmq.Client) -> None:
    name = unique("send-missing")

    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(LookupError):
            async with queue.send(b"lost"):
                pass

    assert await pgmq.create_queue(name, client) is True


async def test_completion_handle_ignored_message_is_still_received(client: pgmq.Client) -> None:
    # Original test 7: nobody awaits the completion handle.
    name = await new_queue(client, "ignored")

    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(b"1"):
            pass
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire() as message:
                assert message.body == b"1"


# ---- delay / schedule_at ----


async def send_to_waiting_receiver(
    queue: pgmq.Queue,
    *,
    delay: timedelta | float | None = None,
    schedule_at: datetime | None = None,
) -> tuple[float, float, float]:
    """With a receiver already waiting on the empty queue, sends one message with `delay`/`schedule_at`.

    Returns (monotonic time just before the send, monotonic time of receipt, wall-clock time of receipt) and
    checks that the message was held back (scheduled, not ready) right after the send.
    """
    received_at: list[tuple[float, float]] = []
    received = anyio.Event()
    async with queue.receive(poll_interval=60) as stream:

        async def receiver() -> None:
            handle = await stream.receive()
            received_at.append((time.monotonic(), time.time()))
            received.set()
            async with handle.acquire():
                pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(receiver)
            await wait_all_tasks_blocked()  # the receiver is waiting before anything is sent
            with anyio.fail_after(FIVE_S):
                sent_at = time.monotonic()
                async with queue.send(b"later", delay=delay, schedule_at=schedule_at):
                    stats = await queue.get_statistics()
                    assert (stats.scheduled, stats.ready, stats.leased) == (1, 0, 0), f"not held back: {stats}"
                await received.wait()
    return sent_at, received_at[0][0], received_at[0][1]


@pytest.mark.parametrize("delay", [timedelta(milliseconds=700), 0.7], ids=["timedelta", "float-seconds"])
async def test_delayed_message_is_never_delivered_early_and_arrives_promptly(
    client: pgmq.Client, delay: timedelta | float
) -> None:
    name = await new_queue(client, "delay")

    async with pgmq.connect_to_queue(name, client) as queue:
        sent_at, received_at, _ = await send_to_waiting_receiver(queue, delay=delay)

    elapsed = received_at - sent_at
    assert elapsed >= 0.7, f"delivered {elapsed:.3f} s after the send, before its 0.7 s delay"
    assert elapsed < 1.7, f"delivered only {elapsed:.3f} s after the send"


@pytest.mark.parametrize(
    "zone",
    [timezone(timedelta(hours=9)), timezone(timedelta(hours=-7)), timezone.utc],
    ids=["utc+9", "utc-7", "utc"],
)
async def test_aware_schedule_at_is_honoured_in_any_time_zone(client: pgmq.Client, zone: timezone) -> None:
    name = await new_queue(client, "sched-aware")
    at = datetime.now(timezone.utc) + timedelta(milliseconds=700)

    async with pgmq.connect_to_queue(name, client) as queue:
        _, _, received_wall = await send_to_waiting_receiver(queue, schedule_at=at.astimezone(zone))

    late = received_wall - at.timestamp()
    assert late >= 0, f"delivered {-late:.3f} s before schedule_at"
    assert late < 1.0, f"delivered {late:.3f} s after schedule_at"


async def test_naive_schedule_at_is_taken_as_utc_whatever_the_local_time_zone(
    client: pgmq.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A local zone far from UTC: a naive datetime read as local time would be 5.5 h off.
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        name = await new_queue(client, "sched-naive")
        at = datetime.now(timezone.utc) + timedelta(milliseconds=700)

        async with pgmq.connect_to_queue(name, client) as queue:
            _, _, received_wall = await send_to_waiting_receiver(queue, schedule_at=at.replace(tzinfo=None))
    finally:
        monkeypatch.undo()
        time.tzset()

    late = received_wall - at.timestamp()
    assert late >= 0, f"delivered {-late:.3f} s before schedule_at"
    assert late < 1.0, f"delivered {late:.3f} s after schedule_at"


async def test_schedule_at_in_the_past_is_delivered_at_once(client: pgmq.Client) -> None:
    name = await new_queue(client, "sched-past")

    async with pgmq.connect_to_queue(name, client) as queue:
        ids = await send_ids_scheduled(queue, datetime.now(timezone.utc) - timedelta(hours=1))
        stats = await queue.get_statistics()
        async with queue.receive() as stream:
            async with (await receive_within(stream, 1)).acquire() as message:
                assert message.id == ids[0]

    assert stats.ready == 1


async def send_ids_scheduled(queue: pgmq.Queue, at: datetime) -> tuple[uuid.UUID, ...]:
    async with queue.send(b"scheduled", schedule_at=at) as completion:
        return completion.ids


# ---- receive / acquire ----


async def test_async_for_over_a_stream_yields_every_message_in_send_order(client: pgmq.Client) -> None:
    # Original tests 20-21 (batched receive): batch 2, 5 messages.
    name = await new_queue(client, "async-for")

    async with pgmq.connect_to_queue(name, client) as queue:
        ids = await send_ids(queue, *[f"m{i}".encode() for i in range(5)])
        seen: list[tuple[uuid.UUID, bytes]] = []
        with anyio.fail_after(FIVE_S):
            async with queue.receive(batch_size=2) as stream:
                async for handle in stream:
                    async with handle.acquire() as message:
                        seen.append((message.id, message.body))
                    if len(seen) == 5:
                        break
        stats = await queue.get_statistics()

    assert seen == [(ids[i], f"m{i}".encode()) for i in range(5)]
    assert stats.messages == 0


async def test_clean_exit_of_acquire_acks_the_message(client: pgmq.Client) -> None:
    name = await new_queue(client, "ack")

    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(b"x") as completion:
            async with queue.receive() as stream:
                async with (await receive_within(stream)).acquire():
                    pass
                stats = await queue.get_statistics()
                await assert_nothing_within(stream, QUIET, "an acked message came back")
            with anyio.fail_after(FIVE_S):
                outcomes = await completion()

    assert stats.messages == 0
    assert outcomes == {completion.ids[0]: pgmq.Outcome.COMPLETED}


class JobFailed(Exception):
    pass


async def test_exception_in_acquire_nacks_reraises_and_the_message_comes_back_at_once(
    client: pgmq.Client,
) -> None:
    # Original test 9, with a 10 s deadline so that only the nack can explain a prompt redelivery.
    name = await new_queue(client, "nack", ack_deadline=10)

    async with pgmq.connect_to_queue(name, client) as queue:
        ids = await send_ids(queue, b"x")
        failure = JobFailed("boom")
        async with queue.receive() as stream:
            with pytest.raises(JobFailed) as raised:
                async with (await receive_within(stream)).acquire() as first:
                    raise failure
            failed_at = time.monotonic()
            async with (await receive_within(stream, 1)).acquire() as second:
                redelivered_after = time.monotonic() - failed_at

    assert raised.value is failure
    assert (first.id, first.delivery_attempt) == (ids[0], 1)
    assert (second.id, second.delivery_attempt) == (ids[0], 2)
    assert redelivered_after < 1.0


async def test_a_nack_with_delay_inside_acquire_makes_the_clean_exit_a_no_op(client: pgmq.Client) -> None:
    name = await new_queue(client, "nack-inside")

    async with pgmq.connect_to_queue(name, client) as queue:
        [sent] = await send_ids(queue, b"x")
        async with queue.receive() as stream:
            # Act: the block decides itself (retry in a minute) and then ends normally.
            async with (await receive_within(stream)).acquire() as message:
                await message.nack(error="not yet", delay=timedelta(minutes=1))
            stats = await queue.get_statistics()
            await assert_nothing_within(stream, QUIET, "a message nacked with a delay came back at once")

    assert (message.id, message.finished) == (sent, True)
    assert (stats.messages, stats.scheduled, stats.leased, stats.ready) == (1, 1, 0, 0), stats


@pytest.mark.parametrize("finish", ["ack", "release"])
async def test_an_explicit_ack_or_release_inside_acquire_makes_the_clean_exit_a_no_op(
    client: pgmq.Client, finish: str
) -> None:
    name = await new_queue(client, f"{finish}-inside")

    async with pgmq.connect_to_queue(name, client) as queue:
        await send_ids(queue, b"x")
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire() as message:
                if finish == "ack":
                    await message.ack()
                else:
                    message.release()
            # A release is handed back in the background (an ack has committed when it returns).
            await eventually(lambda: nothing_leased(queue), "the message is still leased", FIVE_S)
            stats = await queue.get_statistics()

    assert message.finished
    assert stats.messages == (0 if finish == "ack" else 1), stats


async def test_a_second_ack_or_nack_of_a_message_raises_already_finished_and_changes_nothing(
    client: pgmq.Client,
) -> None:
    name = await new_queue(client, "ack-twice")

    async with pgmq.connect_to_queue(name, client) as queue:
        await send_ids(queue, b"x")
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire() as message:
                await message.ack()
                with pytest.raises(pgmq.AlreadyFinished) as again:
                    await message.ack()
                with pytest.raises(pgmq.HandleError) as nacked:
                    await message.nack(error="too late")
        stats = await queue.get_statistics()

    assert (again.value.code, type(nacked.value)) == ("already_finished", pgmq.AlreadyFinished)
    assert stats.messages == 0


async def test_an_exception_after_an_explicit_ack_inside_acquire_propagates_without_a_nack(
    client: pgmq.Client,
) -> None:
    name = await new_queue(client, "ack-then-raise")

    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(b"x") as completion:
            async with queue.receive() as stream:
                with pytest.raises(JobFailed):
                    async with (await receive_within(stream)).acquire() as message:
                        await message.ack()
                        raise JobFailed("after the ack")
                await assert_nothing_within(stream, QUIET, "an acked message came back")
            with anyio.fail_after(FIVE_S):
                outcomes = await completion()
        stats = await queue.get_statistics()

    assert outcomes == {message.id: pgmq.Outcome.COMPLETED}
    assert stats.messages == 0


async def test_exception_in_async_for_before_acquire_releases_the_message_at_once(client: pgmq.Client) -> None:
    # Original test 10: the exception comes from the loop body, the handle was never acquired.
    name = await new_queue(client, "raise-before")

    async with pgmq.connect_to_queue(name, client) as queue:
        ids = await send_ids(queue, b"x")
        with pytest.raises(JobFailed):
            async with queue.receive() as stream:
                async for _handle in stream:
                    raise JobFailed
        left_at = time.monotonic()
        async with queue.receive() as stream:
            async with (await receive_within(stream, 1)).acquire() as message:
                after = time.monotonic() - left_at

    assert (message.id, message.delivery_attempt) == (ids[0], 2)
    assert after < 1.0


async def test_exception_after_stream_receive_releases_the_message_at_once(client: pgmq.Client) -> None:
    # Original test 11: the exception comes after `await stream.receive()`, before acquire.
    name = await new_queue(client, "raise-pending")

    async with pgmq.connect_to_queue(name, client) as queue:
        ids = await send_ids(queue, b"x")
        with pytest.raises(JobFailed):
            async with queue.receive() as stream:
                pending = await receive_within(stream)
                raise JobFailed
        left_at = time.monotonic()
        async with queue.receive() as stream:
            async with (await receive_within(stream, 1)).acquire() as message:
                after = time.monotonic() - left_at

    assert (message.id, message.delivery_attempt) == (ids[0], 2)
    assert after < 1.0
    with pytest.raises(pgmq.HandleError):  # and the handle kept from the closed stream is void
        async with pending.acquire():
            pass


async def test_delivery_attempt_starts_at_one_and_counts_every_delivery(client: pgmq.Client) -> None:
    name = await new_queue(client, "attempts")

    async with pgmq.connect_to_queue(name, client) as queue:
        await send_ids(queue, b"x")
        attempts = []
        async with queue.receive() as stream:
            for _ in range(3):
                with pytest.raises(JobFailed):
                    async with (await receive_within(stream)).acquire() as message:
                        attempts.append(message.delivery_attempt)
                        raise JobFailed
            async with (await receive_within(stream)).acquire() as message:
                attempts.append(message.delivery_attempt)

    assert attempts == [1, 2, 3, 4]


async def test_each_delivery_has_a_lease_token_of_its_own_and_no_lost_lease_while_held(client: pgmq.Client) -> None:
    name = await new_queue(client, "tokens")

    async with pgmq.connect_to_queue(name, client) as queue:
        await send_ids(queue, b"x")
        seen = []
        async with queue.receive() as stream:
            with pytest.raises(JobFailed):
                async with (await receive_within(stream)).acquire() as message:
                    seen.append((message.lease_token, message.lease_lost))
                    raise JobFailed
            async with (await receive_within(stream)).acquire() as message:
                seen.append((message.lease_token, message.lease_lost))
                await message.extend(timedelta(seconds=30))
                await message.extend(20)

    (first, first_lost), (second, second_lost) = seen
    assert isinstance(first, uuid.UUID) and isinstance(second, uuid.UUID) and first != second
    assert (first_lost, second_lost) == (False, False)


async def test_batch_of_fifteen_is_processed_concurrently_on_a_pool_of_two(migrated: str) -> None:
    # Original test 15: more messages than connections, all held at once, no deadlock.
    async with pgmq.connect(migrated, pool_size=2) as client:
        name = await new_queue(client, "concurrent")
        async with pgmq.connect_to_queue(name, client) as queue:
            async with queue.send(*[str(i).encode() for i in range(15)]) as completion:
                inside = 0
                all_inside = anyio.Event()
                async with queue.receive(batch_size=15) as stream:

                    async def work(handle: pgmq.MessageHandle) -> None:
                        nonlocal inside
                        async with handle.acquire():
                            inside += 1
                            if inside == 15:
                                all_inside.set()
                            await all_inside.wait()  # every message is held at the same time

                    with anyio.fail_after(FIVE_S * 2):
                        async with anyio.create_task_group() as tg:
                            for _ in range(15):
                                tg.start_soon(work, await stream.receive())
                with anyio.fail_after(FIVE_S):
                    outcomes = await completion()

    assert outcomes == {i: pgmq.Outcome.COMPLETED for i in completion.ids}


async def test_batched_send_completes_after_both_messages_are_processed(client: pgmq.Client) -> None:
    # Original test 22: exactly [processed, processed, completed].
    name = await new_queue(client, "batched-send")
    events: list[str] = []

    async with pgmq.connect_to_queue(name, client) as queue:
        async with anyio.create_task_group() as tg:

            async def worker() -> None:
                async with queue.receive() as stream:
                    async for handle in stream:
                        async with handle.acquire():
                            events.append("processed")  # the ack follows, when the block exits

            tg.start_soon(worker)
            async with queue.send(b"1", b"2") as completion:
                with anyio.fail_after(FIVE_S):
                    await completion()
                events.append("completed")
            tg.cancel_scope.cancel()

    assert events == ["processed", "processed", "completed"]


async def test_receive_on_an_unknown_queue_raises_nothing_and_delivers_once_it_exists(
    client: pgmq.Client,
) -> None:
    # Original test 25 (no error, no message), then the core's promise that the receiver keeps waiting.
    name = unique("rx-missing")

    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.receive() as stream:
            await assert_nothing_within(stream, QUIET, "a queue that does not exist")
            await pgmq.create_queue(name, client)
            ids = await send_ids(queue, b"now it exists")
            async with (await receive_within(stream)).acquire() as message:
                assert message.id == ids[0]


# ---- handle misuse ----


async def test_handle_misuse_raises_a_handle_error_of_its_own_class_and_code_for_each_case(
    client: pgmq.Client,
) -> None:
    name = await new_queue(client, "misuse")
    async with pgmq.connect_to_queue(name, client) as queue:
        await send_ids(queue, b"closed", b"twice", b"finished")

        # Arrange + act 1: acquiring a handle after its stream was closed (original test 12).
        async with queue.receive() as stream:
            stale = await receive_within(stream)
        with pytest.raises(pgmq.HandleError) as after_close:
            async with stale.acquire():
                pass

        async with queue.receive() as stream:
            # Act 2: acquiring a handle that is already acquired (original test 13).
            handle = await receive_within(stream)
            async with handle.acquire() as twice:
                with pytest.raises(pgmq.HandleError) as acquired_twice:
                    async with handle.acquire():
                        pass

            # Act 3: acquiring a handle whose message was already acked (original test 14).
            finished = await receive_within(stream)
            async with finished.acquire():
                pass
            with pytest.raises(pgmq.HandleError) as acquired_finished:
                async with finished.acquire():
                    pass

        stats = await queue.get_statistics()

    # Assert: three classes, three codes; the first acquire of `handle` still acked it.
    errors = [after_close.value, acquired_twice.value, acquired_finished.value]
    assert all(isinstance(e, RuntimeError) and isinstance(e, pgmq.PgmqError) for e in errors)
    assert [(type(e), e.code) for e in errors] == [
        (pgmq.StreamClosed, "stream_closed"),
        (pgmq.AlreadyAcquired, "already_acquired"),
        (pgmq.AlreadyFinished, "already_finished"),
    ]
    assert twice.body == b"twice"
    assert stats.messages == 1, "only the message of the closed stream is left"
    assert stats.leased == 0


async def test_message_of_a_closed_stream_is_released_for_prompt_redelivery(client: pgmq.Client) -> None:
    name = await new_queue(client, "closed-release", ack_deadline=10)

    async with pgmq.connect_to_queue(name, client) as queue:
        ids = await send_ids(queue, b"x", b"y")
        async with queue.receive(batch_size=2) as stream:
            handed_out = await receive_within(stream)  # both leased, one handed out, neither acquired
        await eventually(lambda: nothing_leased(queue), "the closed stream's messages are still leased", 1)
        async with queue.receive(batch_size=2) as stream:
            got = []
            for _ in range(2):
                async with (await receive_within(stream, 1)).acquire() as message:
                    got.append((message.id, message.delivery_attempt))

    assert sorted(got) == sorted([(ids[0], 2), (ids[1], 2)])
    with pytest.raises(pgmq.HandleError):
        async with handed_out.acquire():
            pass
