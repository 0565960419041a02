"""Results and request/reply: a worker acks with a result (`message.ack(result)`, `message.set_result()`),
the sender reads it (`completion.replies()`, `completion.reply()`), and `queue.request()` does both in one
call: answered, dead-lettered (`RequestFailed`), unanswered in time (`Timeout`, the request cancelled)."""

from __future__ import annotations

import json
import pickle
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

import pgmq
from support import FIVE_S, QUIET, assert_nothing_within, receive_within, unique

pytestmark = pytest.mark.anyio

Answer = Callable[[pgmq.Message], Awaitable[None]]


async def answering(queue: pgmq.Queue, answer: Answer, *, task_status: TaskStatus[None]) -> None:
    """A worker that runs `answer(message)` inside the `acquire()` block of every message it receives."""
    async with queue.receive() as stream:
        task_status.started()
        async for handle in stream:
            try:
                async with handle.acquire() as message:
                    await answer(message)
            except Exception:
                pass  # nacked by the block's exit; the worker goes on


async def reply_of_one(queue: pgmq.Queue, body: object, answer: Answer) -> pgmq.Reply:
    """Sends `body`, lets a worker `answer` it, and returns its reply through `completion.reply()`."""
    async with anyio.create_task_group() as tg:
        await tg.start(answering, queue, answer)
        completion = await queue.send(body)
        with anyio.fail_after(FIVE_S):
            reply = await completion.reply()
        tg.cancel_scope.cancel()
    return reply


class Upper:
    """A serializer of text, upper-cased on the way out: proves which serializer encoded what."""

    content_type = "text/x-upper"

    def dumps(self, value: Any) -> bytes:
        return str(value).upper().encode()

    def loads(self, data: bytes) -> Any:
        return data.decode().lower()


# ---- acking with a result ----


async def test_a_bytes_result_reaches_the_sender_with_the_content_type_it_was_given(client: pgmq.Client) -> None:
    name = unique("result-bytes")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:

        async def answer(message: pgmq.Message) -> None:
            await message.ack(b"\x89PNG thumbnail", content_type="image/png")

        reply = await reply_of_one(queue, b"resize", answer)

    assert reply.outcome is pgmq.Outcome.COMPLETED
    assert (reply.result, reply.content_type) == (b"\x89PNG thumbnail", "image/png")


async def test_a_json_result_round_trips_labelled_application_json(client: pgmq.Client) -> None:
    name = unique("result-json")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:

        async def answer(message: pgmq.Message) -> None:
            numbers = message.json()
            await message.ack({"sum": sum(numbers), "note": "é"})

        reply = await reply_of_one(queue, [2, 3], answer)

    assert reply.json() == reply.decode() == {"sum": 5, "note": "é"}
    assert reply.content_type == pgmq.JSON_CONTENT_TYPE
    assert reply.result == '{"sum":5,"note":"é"}'.encode()  # compact UTF-8, as a JSON body


async def test_a_str_result_is_its_utf8_text_unlabelled(client: pgmq.Client) -> None:
    name = unique("result-text")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:

        async def answer(message: pgmq.Message) -> None:
            await message.ack("résumé ready")

        reply = await reply_of_one(queue, b"render", answer)

    assert (reply.result, reply.content_type) == ("résumé ready".encode(), None)


async def test_a_plain_ack_gives_a_reply_without_a_result(client: pgmq.Client) -> None:
    name = unique("result-none")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:

        async def answer(message: pgmq.Message) -> None:
            pass  # the clean exit acks, without a result

        reply = await reply_of_one(queue, b"job", answer)

    assert (reply.outcome, reply.result, reply.content_type) == (pgmq.Outcome.COMPLETED, None, None)
    with pytest.raises(pgmq.InvalidOption, match="without a result"):
        reply.json()
    with pytest.raises(pgmq.InvalidOption, match="without a result"):
        reply.decode()


async def test_set_result_is_what_the_clean_exit_of_acquire_acks_each_message_with(client: pgmq.Client) -> None:
    # Arrange: three messages acked together at the end of one turn of the loop, two with results.
    name = unique("result-set")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        completion = await queue.send({"n": 1}, {"n": 2}, {"n": 3})
        async with queue.receive(batch_size=3) as stream:
            handles = [await receive_within(stream) for _ in range(3)]

            # Act
            async def process(handle: pgmq.MessageHandle) -> None:
                async with handle.acquire() as message:
                    n = message.json()["n"]
                    if n != 2:
                        message.set_result({"doubled": 2 * n})

            async with anyio.create_task_group() as tg:
                for handle in handles:
                    tg.start_soon(process, handle)
            with anyio.fail_after(FIVE_S):
                replies = await completion.replies()

    # Assert
    first, second, third = (replies[i] for i in completion.ids)
    assert (first.json(), third.json()) == ({"doubled": 2}, {"doubled": 6})
    assert (second.outcome, second.result) == (pgmq.Outcome.COMPLETED, None)


async def test_set_result_then_ack_without_one_acks_with_it_and_none_clears_it(client: pgmq.Client) -> None:
    name = unique("result-set-ack")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        completion = await queue.send(b"a", b"b")
        async with queue.receive(batch_size=2) as stream:
            async with (await receive_within(stream)).acquire() as kept:
                kept.set_result(b"first")
                await kept.ack()
            async with (await receive_within(stream)).acquire() as cleared:
                cleared.set_result(b"second")
                cleared.set_result(None)
        with anyio.fail_after(FIVE_S):
            replies = await completion.replies()

    assert [replies[i].result for i in completion.ids] == [b"first", None]


async def test_a_block_that_raises_after_set_result_nacks_and_keeps_no_result(client: pgmq.Client) -> None:
    name = unique("result-raise")
    await pgmq.create_queue(name, client, max_delivery_attempts=1, dlq_options=None)
    async with pgmq.connect_to_queue(name, client) as queue:

        async def answer(message: pgmq.Message) -> None:
            message.set_result(b"half done")
            raise RuntimeError("failed after all")

        reply = await reply_of_one(queue, b"job", answer)

    assert (reply.outcome, reply.result) == (pgmq.Outcome.DEAD_LETTERED, None)


async def test_the_queue_handles_serializer_encodes_the_result_and_decodes_the_reply(client: pgmq.Client) -> None:
    name = unique("result-serializer")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client, serializer=Upper()) as queue:

        async def answer(message: pgmq.Message) -> None:
            await message.ack(f"done {message.decode()}")

        reply = await reply_of_one(queue, "job", answer)

    assert (reply.result, reply.content_type) == (b"DONE JOB", "text/x-upper")
    assert reply.decode() == "done job"
    with pytest.raises(pgmq.ContentTypeError, match=r"reply\.json\(\)"):
        reply.json()


async def test_a_bad_content_type_is_invalid_and_the_message_stays_ackable(client: pgmq.Client) -> None:
    # Arrange
    name = unique("result-invalid")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        completion = await queue.send(b"job")
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire() as message:
                # Act: every refused result leaves the message held.
                with pytest.raises(pgmq.InvalidOption, match="empty"):
                    await message.ack(b"x", content_type="")
                with pytest.raises(pgmq.InvalidOption, match="NUL"):
                    await message.ack(b"x", content_type="text/\0plain")
                with pytest.raises(pgmq.InvalidOption, match="empty"):
                    message.set_result(b"x", content_type="")
                with pytest.raises(pgmq.InvalidOption, match="encoded by"):
                    await message.ack({"a": 1}, content_type="text/plain")
                with pytest.raises(pgmq.InvalidOption, match="without a result"):
                    await message.ack(content_type="text/plain")
                with pytest.raises(TypeError):
                    await message.ack({"not JSON": {1, 2}})
                finished_after_refusals = message.finished
                await message.ack(b"fine", content_type="text/plain")
            with pytest.raises(pgmq.AlreadyFinished):
                message.set_result(b"too late")
        with anyio.fail_after(FIVE_S):
            reply = await completion.reply()

    # Assert
    assert finished_after_refusals is False
    assert (reply.result, reply.content_type) == (b"fine", "text/plain")


async def test_waiting_for_the_replies_of_an_untracked_send_raises_not_tracked(client: pgmq.Client) -> None:
    name = unique("result-untracked")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        completion = await queue.send(b"fire and forget", track=False)

        with pytest.raises(pgmq.NotTracked) as raised:
            await completion.replies()

    assert raised.value.code == "not_tracked"


async def test_reply_is_for_a_send_of_one_message(client: pgmq.Client) -> None:
    name = unique("result-one")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        completion = await queue.send(b"a", b"b")

        with pytest.raises(ValueError, match="replies"):
            await completion.reply()


async def test_replies_are_read_later_by_id_from_another_client(client: pgmq.Client, migrated: str) -> None:
    name = unique("result-later")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        ids = (await queue.send(b"job")).ids
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire() as message:
                message.set_result({"ok": True})

    async with pgmq.connect(migrated) as other, pgmq.connect_to_queue(name, other) as other_queue:
        async with other_queue.wait_for_completion(*ids) as handle:
            with anyio.fail_after(FIVE_S):
                replies = await handle.replies()

    assert replies[ids[0]].json() == {"ok": True}


async def test_a_replys_repr_shows_the_result_length_never_its_bytes(client: pgmq.Client) -> None:
    name = unique("result-repr")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:

        async def answer(message: pgmq.Message) -> None:
            await message.ack(b"secret token", content_type="text/plain")

        reply = await reply_of_one(queue, b"job", answer)

    assert repr(reply) == '<pgmq.Reply outcome=completed result=12 bytes content_type="text/plain" reason=None>'
    assert "secret" not in repr(reply)


# ---- request ----


async def test_request_returns_the_workers_reply(client: pgmq.Client) -> None:
    # Arrange: a worker answering with the sum, and the attributes it was sent with.
    name = unique("request")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:

        async def answer(message: pgmq.Message) -> None:
            await message.ack({"sum": sum(message.json()), "attributes": message.attributes})

        async with anyio.create_task_group() as tg:
            await tg.start(answering, queue, answer)

            # Act
            with anyio.fail_after(FIVE_S):
                reply = await queue.request(pgmq.OutgoingMessage([2, 3], attributes={"caller": "test"}), timeout=5)
            tg.cancel_scope.cancel()

    # Assert
    assert reply.outcome is pgmq.Outcome.COMPLETED
    assert reply.json() == {"sum": 5, "attributes": {"caller": "test", "content-type": "application/json"}}


async def test_a_dead_lettered_request_raises_request_failed_with_its_outcome(client: pgmq.Client) -> None:
    # Arrange: one attempt, and a worker that fails it.
    name = unique("request-dlq")
    await pgmq.create_queue(name, client, max_delivery_attempts=1)
    async with pgmq.connect_to_queue(name, client) as queue:

        async def answer(message: pgmq.Message) -> None:
            raise RuntimeError("cannot do that")

        async with anyio.create_task_group() as tg:
            await tg.start(answering, queue, answer)

            # Act
            with anyio.fail_after(FIVE_S), pytest.raises(pgmq.RequestFailed) as raised:
                await queue.request(b"impossible", timeout=5)
            tg.cancel_scope.cancel()
        async with pgmq.connect_to_queue(pgmq.get_dlq_name(name), client) as dlq:
            dead = await dlq.peek()

    # Assert: the error names the outcome and the request, and survives pickling (to another process).
    error = raised.value
    assert (error.code, error.outcome, error.transient) == ("request_failed", pgmq.Outcome.DEAD_LETTERED, False)
    assert [m.id for m in dead] == [error.message_id]
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.outcome, again.message_id, str(again)) == (
        pgmq.RequestFailed,
        error.outcome,
        error.message_id,
        str(error),
    )


async def test_a_request_without_a_reply_in_time_raises_timeout_and_is_cancelled(client: pgmq.Client) -> None:
    # Arrange: nobody answers.
    name = unique("request-timeout")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        # Act
        with anyio.fail_after(FIVE_S), pytest.raises(pgmq.Timeout) as raised:
            await queue.request({"n": 1}, timeout=0.2)
        stats = await queue.get_statistics()

        # Assert: the request is gone, and a worker that comes later never gets it.
        async with queue.receive() as stream:
            await assert_nothing_within(stream, QUIET, "a timed-out request was delivered")

    assert (raised.value.code, raised.value.transient) == ("timeout", True)
    assert isinstance(raised.value, TimeoutError)
    assert "cancelled" in str(raised.value)
    assert stats.messages == 0


async def test_a_request_timeout_of_zero_is_invalid_and_sends_nothing(client: pgmq.Client) -> None:
    name = unique("request-zero")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(pgmq.InvalidOption):
            await queue.request(b"job", timeout=0)
        with pytest.raises(pgmq.InvalidOption):
            await queue.request(b"job", timeout=-1)
        with pytest.raises(TypeError):
            await queue.request(b"job", timeout="5")  # type: ignore[arg-type]
        stats = await queue.get_statistics()

    assert stats.messages == 0


async def test_cancelling_the_task_of_a_request_stops_the_wait_and_leaves_the_request_queued(
    client: pgmq.Client,
) -> None:
    # Arrange
    name = unique("request-cancel")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        # Act: the caller gives up (a cancel scope) before anyone answers.
        with anyio.move_on_after(0.2) as scope:
            await queue.request(b"still wanted", timeout=30)
        stats = await queue.get_statistics()

        # Assert: still queued, and a worker can take and answer it as any other message.
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire() as message:
                await message.ack({"late": True})

    assert scope.cancelled_caught
    assert stats.messages == 1
    assert message.body == b"still wanted"


async def test_a_request_is_answered_through_the_serializer_of_its_queue_handle(client: pgmq.Client) -> None:
    name = unique("request-serializer")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client, serializer=Upper()) as queue:

        async def answer(message: pgmq.Message) -> None:
            await message.ack(json.dumps({"got": message.body.decode()}).encode(), content_type="application/json")

        async with anyio.create_task_group() as tg:
            await tg.start(answering, queue, answer)
            with anyio.fail_after(FIVE_S):
                reply = await queue.request("hello", timeout=5)
            tg.cancel_scope.cancel()

    assert reply.json() == {"got": "HELLO"}  # sent through Upper; the JSON result read as JSON
