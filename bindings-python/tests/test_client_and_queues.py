"""Connecting, migrating, creating, listing and deleting queues, nack backoff, dead-letter queue names and the
error classes."""

from __future__ import annotations

import socket
import uuid
from datetime import datetime, timedelta, timezone

import anyio
import psycopg
import pytest

import pgmq
from support import FIVE_S, fresh_database, receive_within, send_ids, unique

pytestmark = pytest.mark.anyio


# ---- connect / close / migrate ----


async def test_connect_as_context_manager_gives_a_working_client(migrated: str) -> None:
    name = unique("conn-cm")

    async with pgmq.connect(migrated) as client:
        created = await pgmq.create_queue(name, client)
        deleted = await pgmq.delete_queue(name, client)

    assert (created, deleted) == (True, True)


async def test_connect_awaited_gives_a_client_that_close_shuts_down(migrated: str) -> None:
    name = unique("conn-await")
    client = await pgmq.connect(migrated)
    assert await pgmq.create_queue(name, client) is True

    await client.close()

    with pytest.raises(pgmq.PgmqError) as closed:
        await pgmq.create_queue(unique("after-close"), client)
    assert closed.value.code == "closed"
    async with pgmq.connect(migrated) as other:
        assert await pgmq.delete_queue(name, other) is True


async def test_connect_takes_listen_dsn_and_pool_size_as_keywords_only(migrated: str) -> None:
    name = unique("conn-kw")

    async with pgmq.connect(migrated, listen_dsn=migrated, pool_size=2) as client:
        await pgmq.create_queue(name, client)
        async with pgmq.connect_to_queue(name, client) as queue:
            async with queue.send(b"via a pool of 2") as completion:
                async with queue.receive() as stream:
                    async with (await receive_within(stream)).acquire() as message:
                        assert message.body == b"via a pool of 2"
                with anyio.fail_after(FIVE_S):
                    assert await completion() == {completion.ids[0]: pgmq.Outcome.COMPLETED}
        await pgmq.delete_queue(name, client)

    with pytest.raises(TypeError):
        pgmq.connect(migrated, migrated)  # type: ignore[call-arg]


async def test_pool_size_zero_is_rejected_as_invalid_option(migrated: str) -> None:
    with pytest.raises(pgmq.InvalidOption):
        async with pgmq.connect(migrated, pool_size=0):
            pass


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_unreachable_server_raises_pgmq_connection_error() -> None:
    dsn = f"postgres://postgres@127.0.0.1:{unused_port()}/postgres"

    with anyio.fail_after(30), pytest.raises(pgmq.ConnectionError) as failed:
        async with pgmq.connect(dsn) as client:
            await pgmq.migrate_to_latest_version(client)

    assert isinstance(failed.value, pgmq.PgmqError)
    assert failed.value.code == "connection"


async def test_unreachable_listen_dsn_raises_pgmq_connection_error(migrated: str) -> None:
    listen_dsn = f"postgres://postgres@127.0.0.1:{unused_port()}/postgres"

    with anyio.fail_after(30), pytest.raises(pgmq.ConnectionError):
        async with pgmq.connect(migrated, listen_dsn=listen_dsn) as client:
            name = unique("listen")
            await pgmq.create_queue(name, client)
            async with pgmq.connect_to_queue(name, client) as queue, queue.receive() as stream:
                await stream.receive()


async def test_migrating_twice_is_a_no_op(client: pgmq.Client) -> None:
    await pgmq.migrate_to_latest_version(client)
    await pgmq.migrate_to_latest_version(client)

    name = unique("migrated")
    assert await pgmq.create_queue(name, client) is True


# ---- create_queue / delete_queue / get_dlq_name / connect_to_queue ----


async def test_create_queue_returns_true_then_false_for_the_same_name(client: pgmq.Client) -> None:
    name = unique("dup")

    first = await pgmq.create_queue(name, client)
    second = await pgmq.create_queue(name, client)

    assert (first, second) == (True, False)


async def test_delete_queue_returns_true_then_false_and_the_name_can_be_created_again(
    client: pgmq.Client,
) -> None:
    name = unique("del")
    await pgmq.create_queue(name, client)

    deleted = await pgmq.delete_queue(name, client)
    deleted_again = await pgmq.delete_queue(name, client)
    recreated = await pgmq.create_queue(name, client)

    assert (deleted, deleted_again, recreated) == (True, False, True)


async def test_delete_of_an_unknown_queue_returns_false(client: pgmq.Client) -> None:
    assert await pgmq.delete_queue(unique("never"), client) is False


async def test_deleted_queue_is_gone_with_its_messages_and_dlq(client: pgmq.Client) -> None:
    name = unique("del-all")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        await send_ids(queue, b"left behind")

        await pgmq.delete_queue(name, client)

        with pytest.raises(pgmq.QueueNotFound):
            await queue.get_statistics()
    async with pgmq.connect_to_queue(pgmq.get_dlq_name(name), client) as dlq:
        with pytest.raises(pgmq.QueueNotFound):
            await dlq.get_statistics()


def test_get_dlq_name_prefixes_dlq_at() -> None:
    assert pgmq.get_dlq_name("myq") == "dlq@myq"


async def test_create_queue_options_take_timedeltas_or_seconds(client: pgmq.Client) -> None:
    by_timedelta, by_seconds = unique("opt-td"), unique("opt-num")

    assert await pgmq.create_queue(
        by_timedelta,
        client,
        ack_deadline=timedelta(seconds=2),
        max_delivery_attempts=3,
        retention_period=timedelta(hours=1),
        dlq_options=pgmq.QueueOptions(
            ack_deadline=timedelta(seconds=5), max_delivery_attempts=2, retention_period=timedelta(days=1)
        ),
    )
    assert await pgmq.create_queue(
        by_seconds,
        client,
        ack_deadline=2,
        max_delivery_attempts=3,
        retention_period=3600.0,
        dlq_options=pgmq.QueueOptions(ack_deadline=5.5, max_delivery_attempts=2, retention_period=86400),
    )
    assert isinstance(pgmq.QueueOptions(), pgmq.QueueOptions)


async def test_max_delivery_attempts_of_the_queue_and_of_its_dlq_are_applied(client: pgmq.Client) -> None:
    # Arrange: the queue allows 2 deliveries, its DLQ 1.
    name = unique("attempts")
    await pgmq.create_queue(
        name, client, max_delivery_attempts=2, dlq_options=pgmq.QueueOptions(max_delivery_attempts=1)
    )

    # Act: fail twice in the queue, then once in the DLQ.
    async with pgmq.connect_to_queue(name, client) as queue, queue.send(b"doomed") as completion:
        attempts = []
        async with queue.receive() as stream:
            for _ in range(2):
                with pytest.raises(ZeroDivisionError):
                    async with (await receive_within(stream)).acquire() as message:
                        attempts.append(message.delivery_attempt)
                        raise ZeroDivisionError
        with anyio.fail_after(FIVE_S):
            outcomes = await completion()
        async with pgmq.connect_to_queue(pgmq.get_dlq_name(name), client) as dlq:
            async with dlq.receive() as dlq_stream:
                with pytest.raises(ZeroDivisionError):
                    async with (await receive_within(dlq_stream)).acquire() as dead:
                        raise ZeroDivisionError
            dlq_stats = await dlq.get_statistics()

    # Assert: dead-lettered after exactly 2 deliveries; dropped from the DLQ after its single one.
    assert attempts == [1, 2]
    assert outcomes == {completion.ids[0]: pgmq.Outcome.DEAD_LETTERED}
    assert dead.id == completion.ids[0]
    assert dlq_stats.messages == 0


async def test_queue_created_with_dlq_options_none_has_no_dlq(client: pgmq.Client) -> None:
    name = unique("no-dlq")
    await pgmq.create_queue(name, client, max_delivery_attempts=1, dlq_options=None)

    async with pgmq.connect_to_queue(name, client) as queue, queue.send(b"x") as completion:
        async with queue.receive() as stream:
            with pytest.raises(KeyError):
                async with (await receive_within(stream)).acquire():
                    raise KeyError("boom")
        with anyio.fail_after(FIVE_S):
            outcomes = await completion()
        stats = await queue.get_statistics()

    assert outcomes == {completion.ids[0]: pgmq.Outcome.DEAD_LETTERED}
    assert (stats.messages, stats.dead_lettered) == (0, 0)
    async with pgmq.connect_to_queue(pgmq.get_dlq_name(name), client) as dlq:
        with pytest.raises(pgmq.QueueNotFound):
            await dlq.get_statistics()


async def test_connect_to_queue_opens_a_dlq_by_its_dlq_at_name(client: pgmq.Client) -> None:
    name = unique("dlq-open")
    await pgmq.create_queue(name, client)

    async with pgmq.connect_to_queue(f"dlq@{name}", client) as dlq:
        ids = await send_ids(dlq, b"put straight into the DLQ")
        async with dlq.receive() as stream:
            async with (await receive_within(stream)).acquire() as message:
                received = (message.id, message.body)

    assert received == (ids[0], b"put straight into the DLQ")


# ---- backoff, listing, schema version ----


def seconds_until_available(dsn: str, queue: str) -> float:
    """How long until the one message of `queue` is available (read beside pgmq, with psycopg)."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        row = admin.execute(
            "SELECT extract(epoch FROM m.available_at - now()) FROM pgmq.messages m"
            " JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = %s",
            (queue,),
        ).fetchone()
    assert row is not None, f"no message in {queue}"
    return float(row[0])


async def test_a_nack_without_delay_waits_the_queues_backoff_growing_by_factor_up_to_max(
    client: pgmq.Client, migrated: str
) -> None:
    # Arrange: 0.2 s after the first failure, then 0.2 * 100 = 20 s capped at 10 s after the second.
    name = unique("backoff")
    backoff = pgmq.Backoff(base=timedelta(milliseconds=200), factor=100, max=timedelta(seconds=10), jitter=False)
    await pgmq.create_queue(name, client, backoff=backoff)

    async with pgmq.connect_to_queue(name, client) as queue:
        await send_ids(queue, b"fails twice")
        async with queue.receive() as stream:
            # Act: two failed attempts.
            for attempt in (1, 2):
                with pytest.raises(ZeroDivisionError):
                    async with (await receive_within(stream)).acquire() as message:
                        assert message.delivery_attempt == attempt
                        raise ZeroDivisionError
            after_second = seconds_until_available(migrated, name)
            stats = await queue.get_statistics()

    # Assert: the second failure waits the capped delay (a first one of 20 s would have failed the loop).
    assert 9.0 < after_second <= 10.0
    assert (stats.scheduled, stats.ready, stats.leased) == (1, 0, 0)


async def test_list_queues_shows_each_queues_backoff_as_a_backoff_of_timedeltas(client: pgmq.Client) -> None:
    with_backoff, default, without = unique("listed-backoff"), unique("listed-backoff"), unique("listed-no-backoff")
    await pgmq.create_queue(with_backoff, client, backoff=pgmq.Backoff(base=0.25, factor=3, max=60, jitter=False))
    await pgmq.create_queue(default, client, backoff=pgmq.Backoff())
    await pgmq.create_queue(without, client)

    listed = {q.name: q for q in await client.list_queues()}

    assert listed[with_backoff].backoff == pgmq.Backoff(
        base=timedelta(milliseconds=250), factor=3.0, max=timedelta(minutes=1), jitter=False
    )
    assert listed[default].backoff == pgmq.Backoff()
    assert listed[without].backoff is None
    assert "backoff=Backoff(base=0.25s, factor=3, max=60s, jitter=False)" in repr(listed[with_backoff])


@pytest.mark.parametrize(
    "backoff",
    [
        pgmq.Backoff(factor=0.5),
        pgmq.Backoff(factor=float("nan")),
        pgmq.Backoff(factor=10**400),
        pgmq.Backoff(base=10, max=5),
        pgmq.Backoff(max=timedelta(days=101 * 366)),
        pgmq.Backoff(base=-1),
    ],
)
async def test_an_out_of_range_backoff_raises_invalid_option_and_creates_nothing(
    client: pgmq.Client, backoff: pgmq.Backoff
) -> None:
    name = unique("bad-backoff")

    with pytest.raises(pgmq.InvalidOption) as refused:
        await pgmq.create_queue(name, client, backoff=backoff)

    assert refused.value.code == "invalid_option"
    assert name not in {q.name for q in await client.list_queues()}


async def test_a_backoff_of_the_wrong_type_raises_type_error(client: pgmq.Client) -> None:
    for bad in [
        {"base": 1},
        pgmq.Backoff(factor="2"),  # type: ignore[arg-type]
        pgmq.Backoff(jitter=1),  # type: ignore[arg-type]
        pgmq.Backoff(base="1s"),  # type: ignore[arg-type]
    ]:
        with pytest.raises(TypeError):
            await pgmq.create_queue(unique("bad-backoff"), client, backoff=bad)  # type: ignore[arg-type]


async def test_list_queues_lists_each_queue_and_its_dlq_with_their_settings(client: pgmq.Client) -> None:
    name, plain = unique("listed"), unique("listed-plain")
    await pgmq.create_queue(
        name,
        client,
        ack_deadline=timedelta(seconds=3),
        max_delivery_attempts=4,
        retention_period=timedelta(hours=2),
        dlq_options=pgmq.QueueOptions(ack_deadline=5, max_delivery_attempts=2, retention_period=timedelta(days=1)),
    )
    await pgmq.create_queue(plain, client, dlq_options=None)

    listed = {q.name: q for q in await client.list_queues()}
    await pgmq.delete_queue(name, client)
    after_delete = {q.name for q in await client.list_queues()}

    def settings(q: pgmq.QueueInfo) -> tuple[object, ...]:
        return (q.ack_deadline, q.max_delivery_attempts, q.retention_period, q.dead_letter_queue)

    assert settings(listed[name]) == (timedelta(seconds=3), 4, timedelta(hours=2), f"dlq@{name}")
    assert settings(listed[f"dlq@{name}"]) == (timedelta(seconds=5), 2, timedelta(days=1), None)
    assert settings(listed[plain]) == (timedelta(seconds=10), 10, timedelta(days=7), None)
    assert name in repr(listed[name])
    assert name not in after_delete and f"dlq@{name}" not in after_delete and plain in after_delete


async def test_schema_version_is_zero_before_migrating_and_the_latest_after(migrated: str) -> None:
    with fresh_database(migrated) as dsn:
        async with pgmq.connect(dsn) as client:
            before = await client.schema_version()
            await pgmq.migrate_to_latest_version(client)
            after = await client.schema_version()

    assert (before, after) == (0, pgmq.LATEST_SCHEMA_VERSION)


async def test_maintenance_interval_must_be_a_positive_duration(migrated: str) -> None:
    async with pgmq.connect(migrated, maintenance_interval=timedelta(milliseconds=250)) as client:
        assert not client.closed
    with pytest.raises(pgmq.InvalidOption):
        await pgmq.connect(migrated, maintenance_interval=0)
    with pytest.raises(TypeError):
        pgmq.connect(migrated, maintenance_interval="1s")  # type: ignore[arg-type]


# ---- errors ----


def test_exception_classes_form_the_documented_hierarchy() -> None:
    for cls in (
        pgmq.QueueNotFound,
        pgmq.InvalidQueueName,
        pgmq.InvalidOption,
        pgmq.LeaseLost,
        pgmq.HandleError,
        pgmq.SchemaMissing,
        pgmq.SchemaConflict,
        pgmq.ConnectionError,
        pgmq.Timeout,
    ):
        assert issubclass(cls, pgmq.PgmqError), cls
    assert issubclass(pgmq.PgmqError, Exception)
    assert issubclass(pgmq.QueueNotFound, LookupError)
    assert issubclass(pgmq.InvalidQueueName, ValueError)
    assert issubclass(pgmq.InvalidOption, ValueError)
    assert issubclass(pgmq.HandleError, RuntimeError)
    assert issubclass(pgmq.Timeout, TimeoutError)
    handle_errors = (pgmq.AlreadyFinished, pgmq.NotTracked, pgmq.StreamClosed, pgmq.AlreadyAcquired)
    assert all(issubclass(cls, pgmq.HandleError) for cls in handle_errors)
    codes = [cls("x").code for cls in handle_errors]
    assert codes == ["already_finished", "not_tracked", "stream_closed", "already_acquired"]
    assert "code" not in vars(pgmq.HandleError)  # a base for `except`, with no code of its own
    timeout = pgmq.Timeout("migrate waited 5s", "timeout")
    assert (str(timeout), timeout.code, timeout.args) == ("migrate waited 5s", "timeout", ("migrate waited 5s",))
    assert pgmq.SchemaConflict("x").code == "schema_conflict"


async def test_unknown_queue_raises_queue_not_found_a_lookup_error_with_its_code(client: pgmq.Client) -> None:
    name = unique("missing")

    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(LookupError) as stats_error:
            await queue.get_statistics()
        with pytest.raises(pgmq.QueueNotFound) as send_error:
            async with queue.send(b"to nowhere"):
                pass
        with pytest.raises(pgmq.QueueNotFound):
            await queue.cancel(uuid.uuid4())

    for error in (stats_error.value, send_error.value):
        assert isinstance(error, pgmq.QueueNotFound)
        assert error.code == "queue_not_found"
        assert name in str(error)
        assert "QueueNotFound(" not in str(error), "a Rust Debug string leaked into the message"


@pytest.mark.parametrize(
    "bad_name",
    ["not! valid", "", "x" * 49, "white space", "dlq@reserved", "semi;colon", "ünïcode"],
    ids=["bang", "empty", "49-chars", "space", "dlq-prefix", "semicolon", "non-ascii"],
)
async def test_invalid_queue_name_raises_invalid_queue_name_a_value_error(
    client: pgmq.Client, bad_name: str
) -> None:
    with pytest.raises(ValueError) as failed:
        await pgmq.create_queue(bad_name, client)

    assert isinstance(failed.value, pgmq.InvalidQueueName)
    assert failed.value.code == "invalid_queue_name"


async def test_invalid_name_is_rejected_by_connect_to_queue_and_delete_queue(client: pgmq.Client) -> None:
    with pytest.raises(pgmq.InvalidQueueName):
        async with pgmq.connect_to_queue("not! valid", client) as queue:
            await queue.get_statistics()
    with pytest.raises(pgmq.InvalidQueueName):
        await pgmq.delete_queue("not! valid", client)


@pytest.mark.parametrize(
    "options",
    [
        {"ack_deadline": 0.1},
        {"ack_deadline": timedelta(milliseconds=999)},
        {"ack_deadline": -1},
        {"max_delivery_attempts": 0},
        {"retention_period": 0},
        {"retention_period": timedelta(0)},
    ],
    ids=["ack-0.1s", "ack-999ms", "ack-negative", "attempts-0", "retention-0", "retention-timedelta-0"],
)
async def test_out_of_range_queue_option_raises_invalid_option_and_creates_nothing(
    client: pgmq.Client, options: dict[str, float | timedelta]
) -> None:
    name = unique("bad-opt")

    with pytest.raises(ValueError) as failed:
        await pgmq.create_queue(name, client, **options)  # type: ignore[arg-type]

    assert isinstance(failed.value, pgmq.InvalidOption)
    assert failed.value.code == "invalid_option"
    assert await pgmq.delete_queue(name, client) is False


async def test_out_of_range_dlq_option_raises_invalid_option(client: pgmq.Client) -> None:
    with pytest.raises(pgmq.InvalidOption):
        await pgmq.create_queue(unique("bad-dlq"), client, dlq_options=pgmq.QueueOptions(ack_deadline=0.5))


async def test_wrong_argument_types_raise_type_error(client: pgmq.Client) -> None:
    name = unique("types")
    await pgmq.create_queue(name, client)
    with pytest.raises(TypeError):
        await pgmq.create_queue(123, client)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await pgmq.create_queue(unique("t"), client, ack_deadline="10s")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await pgmq.create_queue(unique("t"), client, max_delivery_attempts="3")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await pgmq.create_queue(unique("t"), client, dlq_options={"ack_deadline": 5})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await pgmq.create_queue(unique("t"), client, timedelta(seconds=5))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        await pgmq.create_queue(unique("t"), "not a client")  # type: ignore[arg-type]

    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(TypeError):
            async with queue.send({"not JSON": b"bytes"}):
                pass
        with pytest.raises(TypeError):
            async with queue.send(b"ok", {1, 2}):
                pass
        with pytest.raises(TypeError):
            async with queue.send(b"x", schedule_at="2030-01-01T00:00:00"):  # type: ignore[arg-type]
                pass
        with pytest.raises(TypeError):
            async with queue.send(b"x", delay="1s"):  # type: ignore[arg-type]
                pass
        with pytest.raises(TypeError):
            async with queue.receive(batch_size="2"):  # type: ignore[arg-type]
                pass
        with pytest.raises(TypeError):
            async with queue.receive(filter="color = 'red'"):  # type: ignore[arg-type]
                pass
        with pytest.raises(TypeError):
            async with queue.receive(2):  # type: ignore[call-arg]
                pass
        with pytest.raises(TypeError):
            await queue.cancel(42)  # type: ignore[arg-type]
        assert (await queue.get_statistics()).messages == 0, "a rejected send wrote something"
    with pytest.raises(TypeError):
        pgmq.OutgoingMessage(b"x", attributes=[("k", 1)])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pgmq.OutgoingMessage(b"x", attributes={"k": [1, 2]})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        pgmq.Attribute(7)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pgmq.Attribute("a").eq(1) & 5  # type: ignore[operator]


@pytest.mark.parametrize("batch_size", [0, -1])
async def test_batch_size_below_one_raises_invalid_option(client: pgmq.Client, batch_size: int) -> None:
    name = unique("batch0")
    await pgmq.create_queue(name, client)

    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(pgmq.InvalidOption) as failed:
            async with queue.receive(batch_size=batch_size) as stream:
                await receive_within(stream, 1)

    assert failed.value.code == "invalid_option"


async def test_bad_send_options_raise_invalid_option_and_write_nothing(client: pgmq.Client) -> None:
    name = unique("bad-send")
    await pgmq.create_queue(name, client)

    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(pgmq.InvalidOption):
            async with queue.send(b"x", delay=1, schedule_at=datetime.now(timezone.utc)):
                pass
        with pytest.raises(pgmq.InvalidOption):
            async with queue.send(b"x", delay=-1.0):
                pass
        with pytest.raises(pgmq.InvalidOption):
            async with queue.send(b"ok", pgmq.OutgoingMessage(b"nan", attributes={"f": float("nan")})):
                pass
        stats = await queue.get_statistics()

    assert stats.messages == 0, "a rejected batch was partly written"
