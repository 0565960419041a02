"""What operators do to a queue from Python: read its messages without leasing them (`queue.peek()`), of a
queue or of its dead-letter queue, narrowed by state, filter and limit; delete what no worker holds
(`queue.purge()`, whose waiters learn `CANCELLED`); survey every queue with its counts
(`client.list_queues_with_stats()`)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import pytest

import pgmq
from pgmq import _defaults
from support import FIVE_S, receive_within, send_ids, unique

pytestmark = pytest.mark.anyio


async def fresh_queue(client: pgmq.Client, prefix: str, **options: Any) -> str:
    name = unique(prefix)
    await pgmq.create_queue(name, client, **options)
    return name


class Upper:
    """A serializer of its own: text, upper-cased on the way in."""

    content_type = "text/x-upper"

    def dumps(self, value: Any) -> bytes:
        return str(value).upper().encode()

    def loads(self, data: bytes) -> str:
        return data.decode()


# ---- peek ----


async def test_peek_reads_messages_in_claim_order_without_leasing_or_counting_an_attempt(client: pgmq.Client) -> None:
    name = await fresh_queue(client, "peek")
    async with pgmq.connect_to_queue(name, client) as queue:
        ids = await send_ids(queue, b"one", pgmq.OutgoingMessage(b"two", attributes={"color": "red", "n": 2}))
        before = datetime.now(timezone.utc)

        peeked = await queue.peek()
        stats = await queue.get_statistics()
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire() as first:
                attempt = first.delivery_attempt

    assert [(m.id, m.queue, m.body, m.attributes) for m in peeked] == [
        (ids[0], name, b"one", {}),
        (ids[1], name, b"two", {"color": "red", "n": 2}),
    ]
    assert all(m.state is pgmq.MessageState.READY for m in peeked)
    assert [(m.delivery_attempts, m.last_error, m.dead_letter_attempts) for m in peeked] == [(0, None, None)] * 2
    for m in peeked:
        assert m.sent_at.tzinfo is not None and m.sent_at.utcoffset() == timedelta(0)
        assert m.sent_at <= m.available_at <= before + timedelta(seconds=1)
    assert "PeekedMessage" in repr(peeked[0]) and "ready" in repr(peeked[0])
    assert (stats.ready, stats.leased) == (2, 0)
    assert (first.id, attempt) == (ids[0], 1)


async def test_peek_narrows_by_state_filter_and_limit(client: pgmq.Client) -> None:
    # Arrange: one message held by a worker, two ready ones, one scheduled an hour ahead.
    name = await fresh_queue(client, "peek-narrow")
    red, blue = {"color": "red"}, {"color": "blue"}
    async with pgmq.connect_to_queue(name, client) as queue:
        (held_id,) = await send_ids(queue, pgmq.OutgoingMessage(b"held", attributes=red))
        async with queue.receive() as stream:
            async with (await receive_within(stream)).acquire():
                ready_red, ready_blue = await send_ids(
                    queue,
                    pgmq.OutgoingMessage(b"ready red", attributes=red),
                    pgmq.OutgoingMessage(b"ready blue", attributes=blue),
                )
                later_message = pgmq.OutgoingMessage(b"later", attributes=red)
                async with queue.send(later_message, delay=timedelta(hours=1)) as later:
                    pass

                # Act
                everything = await queue.peek()
                leased = await queue.peek(state="leased")
                scheduled = await queue.peek(state=pgmq.MessageState.SCHEDULED)
                ready_and_red = await queue.peek(state="ready", filter=pgmq.Attribute("color").eq("red"))
                red_anywhere = await queue.peek(filter=pgmq.Attribute("color").eq("red"))
                first_two = await queue.peek(limit=2)
                lapsed = await queue.peek(state=pgmq.MessageState.LAPSED)

    # Assert: ready ones first, then the others by when they fall due (the lease's expiry before the hour).
    assert [m.id for m in everything] == [ready_red, ready_blue, held_id, later.ids[0]]
    assert [m.state for m in everything] == [
        pgmq.MessageState.READY,
        pgmq.MessageState.READY,
        pgmq.MessageState.LEASED,
        pgmq.MessageState.SCHEDULED,
    ]
    assert [(m.id, m.delivery_attempts) for m in leased] == [(held_id, 1)]
    assert leased[0].available_at > datetime.now(timezone.utc)
    assert [m.id for m in scheduled] == [later.ids[0]]
    assert [m.id for m in ready_and_red] == [ready_red]
    assert [m.id for m in red_anywhere] == [ready_red, held_id, later.ids[0]]
    assert [m.id for m in first_two] == [ready_red, ready_blue]
    assert lapsed == []


async def test_peek_of_a_dead_letter_queue_shows_why_each_message_is_there(client: pgmq.Client) -> None:
    name = await fresh_queue(client, "peek-dlq", max_delivery_attempts=1)
    async with pgmq.connect_to_queue(name, client) as queue, queue.send(b"poison") as completion:
        async with queue.receive() as stream:
            with pytest.raises(ValueError):
                async with (await receive_within(stream)).acquire():
                    raise ValueError("cannot parse")
        with anyio.fail_after(FIVE_S):
            outcomes = await completion()

    async with pgmq.connect_to_queue(pgmq.get_dlq_name(name), client) as dlq:
        dead = await dlq.peek()

    assert outcomes == {completion.ids[0]: pgmq.Outcome.DEAD_LETTERED}
    assert [(m.id, m.queue, m.body, m.state) for m in dead] == [
        (completion.ids[0], f"dlq@{name}", b"poison", pgmq.MessageState.READY)
    ]
    assert dead[0].last_error == "ValueError: cannot parse"
    assert dead[0].dead_letter_attempts == 1


async def test_peeked_json_and_decode_read_the_body_as_a_received_message_does(client: pgmq.Client) -> None:
    name = await fresh_queue(client, "peek-json")
    async with pgmq.connect_to_queue(name, client) as queue:
        text = pgmq.OutgoingMessage(b"x", attributes={pgmq.CONTENT_TYPE_ATTRIBUTE: "text/plain"})
        await queue.send({"resize": 42}, b'["raw", "json"]', text)
        as_json, raw, labelled = await queue.peek()
    async with pgmq.connect_to_queue(name, client, serializer=Upper()) as upper:
        await upper.send("shout")
        (*_, shouted) = await upper.peek()

    assert as_json.json() == as_json.decode() == {"resize": 42}
    assert raw.json() == ["raw", "json"]
    with pytest.raises(pgmq.ContentTypeError):
        labelled.json()
    assert (shouted.body, shouted.decode(), shouted.attributes) == (b"SHOUT", "SHOUT", {"content-type": "text/x-upper"})
    with pytest.raises(pgmq.ContentTypeError):
        shouted.json()


@pytest.mark.parametrize(
    "options",
    [
        {"limit": 0},
        {"limit": -1},
        {"limit": _defaults.PEEK_MAX_LIMIT + 1},
        {"limit": 10**30},
        {"state": "held"},
        {"state": "READY"},
    ],
    ids=repr,
)
async def test_peek_refuses_a_limit_out_of_range_or_an_unknown_state_with_invalid_option(
    client: pgmq.Client, options: dict[str, Any]
) -> None:
    name = await fresh_queue(client, "peek-bad")
    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(pgmq.InvalidOption) as refused:
            await queue.peek(**options)

    assert refused.value.code == "invalid_option"


async def test_peek_takes_the_largest_limit_and_refuses_wrong_types_and_unknown_queues(client: pgmq.Client) -> None:
    name = await fresh_queue(client, "peek-types")
    async with pgmq.connect_to_queue(name, client) as queue:
        assert await queue.peek(limit=_defaults.PEEK_MAX_LIMIT) == []
        wrong_types: list[dict[str, Any]] = [{"limit": 1.5}, {"limit": True}, {"state": 1}, {"filter": "color = red"}]
        for bad in wrong_types:
            with pytest.raises(TypeError):
                await queue.peek(**bad)
    async with pgmq.connect_to_queue(unique("peek-missing"), client) as missing:
        with pytest.raises(pgmq.QueueNotFound):
            await missing.peek()


# ---- purge ----


async def test_purge_deletes_what_no_worker_holds_and_its_waiters_learn_cancelled(client: pgmq.Client) -> None:
    # Arrange: one message held by a worker, one ready, one scheduled.
    name = await fresh_queue(client, "purge")
    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(b"held") as held:
            async with queue.receive() as stream:
                async with (await receive_within(stream)).acquire():
                    async with queue.send(b"ready") as ready, queue.send(b"later", delay=timedelta(hours=1)) as later:
                        pass

                    # Act
                    purged = await queue.purge()
                    during = await queue.get_statistics()
                    with anyio.fail_after(FIVE_S):
                        cancelled = {**await ready(), **await later()}
            with anyio.fail_after(FIVE_S):
                completed = await held()
        empty_again = await queue.purge()

    # Assert: the held one was left to its worker, who acked it as usual.
    assert purged == 2
    assert (during.messages, during.leased) == (1, 1)
    assert cancelled == {ready.ids[0]: pgmq.Outcome.CANCELLED, later.ids[0]: pgmq.Outcome.CANCELLED}
    assert completed == {held.ids[0]: pgmq.Outcome.COMPLETED}
    assert empty_again == 0


async def test_purge_of_an_unknown_queue_raises_queue_not_found(client: pgmq.Client) -> None:
    async with pgmq.connect_to_queue(unique("purge-missing"), client) as missing:
        with pytest.raises(pgmq.QueueNotFound):
            await missing.purge()


# ---- list_queues_with_stats ----


async def test_list_queues_with_stats_gives_each_queue_its_settings_counts_and_oldest_ready_age(
    client: pgmq.Client,
) -> None:
    # Arrange: two ready messages and a scheduled one in a queue with a backoff; an empty queue beside it.
    backoff = pgmq.Backoff(base=timedelta(seconds=2), factor=3, max=timedelta(minutes=5), jitter=False)
    name = await fresh_queue(client, "overview", ack_deadline=timedelta(seconds=7), backoff=backoff)
    empty = await fresh_queue(client, "overview-empty", dlq_options=None)
    started = time.monotonic()
    async with pgmq.connect_to_queue(name, client) as queue:
        await queue.send(b"a", b"b")
        await queue.send(b"c", delay=timedelta(hours=1))

        # Act
        overviews = {o.info.name: o for o in await client.list_queues_with_stats()}
        elapsed = timedelta(seconds=time.monotonic() - started)
        stats = await queue.get_statistics()

    # Assert
    overview, dlq, idle = overviews[name], overviews[f"dlq@{name}"], overviews[empty]
    assert (overview.info.ack_deadline, overview.info.dead_letter_queue) == (timedelta(seconds=7), f"dlq@{name}")
    assert overview.info.backoff == pgmq.Backoff(
        base=timedelta(seconds=2), factor=3.0, max=timedelta(minutes=5), jitter=False
    )
    counts = (overview.stats.messages, overview.stats.ready, overview.stats.scheduled, overview.stats.leased)
    assert counts == (3, 2, 1, 0) == (stats.messages, stats.ready, stats.scheduled, stats.leased)
    assert overview.oldest_ready_age is not None and timedelta(0) <= overview.oldest_ready_age <= elapsed
    assert (dlq.stats.messages, dlq.oldest_ready_age, dlq.info.dead_letter_queue) == (0, None, None)
    assert (idle.stats.messages, idle.oldest_ready_age, idle.info.backoff) == (0, None, None)
    assert "QueueOverview(" in repr(overview) and "backoff=Backoff(" in repr(overview)
