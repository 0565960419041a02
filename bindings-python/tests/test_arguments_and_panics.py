"""Hostile and out-of-range arguments raise Python's own errors (TypeError, or ValueError subclasses with
the core's code) and write nothing; hostile text is stored verbatim; a panic in the Rust core surfaces as
pgmq.InternalError, never as a crash, a BaseException or an awaitable that never resolves."""

from __future__ import annotations

import math
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

import anyio
import pytest

import pgmq
from pgmq import _pgmq
from support import FIVE_S, python_env, receive_within, unique

pytestmark = pytest.mark.anyio

HOSTILE = ["x'); DROP TABLE pgmq.messages; --", "'", '"', ";", "$$", "$1", "--", "/*", "\\\\", "é 中文 🎉", ""]


# ---- numbers out of range ----


@pytest.mark.parametrize(
    "options",
    [
        {"ack_deadline": math.nan},
        {"ack_deadline": math.inf},
        {"ack_deadline": -math.inf},
        {"ack_deadline": 10**400},
        {"ack_deadline": timedelta(days=999_999_999)},
        {"retention_period": math.nan},
        {"retention_period": -0.5},
        {"retention_period": 1e300},
        {"max_delivery_attempts": -1},
        {"max_delivery_attempts": 2**31},
        {"max_delivery_attempts": 10**30},
        {"dlq_options": pgmq.QueueOptions(max_delivery_attempts=0)},
        {"dlq_options": pgmq.QueueOptions(retention_period=math.inf)},
    ],
    ids=lambda o: repr(o)[:40],
)
async def test_out_of_range_queue_options_raise_invalid_option_and_create_nothing(
    client: pgmq.Client, options: dict[str, Any]
) -> None:
    name = unique("range")

    with pytest.raises(ValueError) as failed:
        await pgmq.create_queue(name, client, **options)

    assert isinstance(failed.value, pgmq.InvalidOption)
    assert failed.value.code == "invalid_option"
    assert await pgmq.delete_queue(name, client) is False


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 100_001},
        {"batch_size": 10**30},
        {"batch_size": -(10**30)},
        {"poll_interval": 0},
        {"poll_interval": math.nan},
        {"poll_interval": -1},
        {"poll_interval": math.inf},
    ],
    ids=lambda o: repr(o)[:40],
)
async def test_out_of_range_receive_options_raise_invalid_option(client: pgmq.Client, options: dict[str, Any]) -> None:
    name = unique("recv-range")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(pgmq.InvalidOption):
            async with queue.receive(**options):
                pass


@pytest.mark.parametrize(
    "send",
    [
        {"delay": math.nan},
        {"delay": math.inf},
        {"delay": 1e12},  # beyond 100 years
        {"delay": timedelta(days=-1)},
    ],
    ids=lambda o: repr(o)[:40],
)
async def test_out_of_range_send_options_raise_invalid_option_and_write_nothing(
    client: pgmq.Client, send: dict[str, Any]
) -> None:
    name = unique("send-range")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(pgmq.InvalidOption):
            await queue.send(b"x", **send)
        assert (await queue.get_statistics()).messages == 0


@pytest.mark.parametrize(
    "attributes",
    [
        {"f": math.inf},
        {"f": -math.inf},
        {"i": 2**63},
        {"i": -(2**63) - 1},
        {"nul\0key": 1},
        {"k": "nul\0value"},
    ],
    ids=["inf", "-inf", "2**63", "below-i64", "nul-key", "nul-value"],
)
async def test_unstorable_attributes_raise_invalid_option_and_write_nothing(
    client: pgmq.Client, attributes: dict[str, Any]
) -> None:
    name = unique("attr-range")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(pgmq.InvalidOption):
            await queue.send(b"ok", pgmq.OutgoingMessage(b"bad", attributes=attributes))
        assert (await queue.get_statistics()).messages == 0, "a rejected batch was partly written"


async def test_wrong_types_raise_type_error_and_write_nothing(client: pgmq.Client) -> None:
    name = unique("types2")
    await pgmq.create_queue(name, client)
    bad: Any
    async with pgmq.connect_to_queue(name, client) as queue:
        # Neither bytes nor encodable by the default serializer (JSON).
        for bad in [[b"x"], {"body": b"x"}, uuid.uuid4(), {1, 2}, object()]:
            with pytest.raises(TypeError):
                await queue.send(bad)
            with pytest.raises(TypeError):
                await queue.send(b"ok", pgmq.OutgoingMessage(bad))
        for bad in [b"bytes value", [1], {"nested": 1}, object()]:
            with pytest.raises(TypeError):
                await queue.send(pgmq.OutgoingMessage(b"x", attributes={"k": bad}))
        with pytest.raises(TypeError):
            await queue.send(pgmq.OutgoingMessage(b"x", attributes={1: "non-str key"}))  # type: ignore[dict-item]
        with pytest.raises(TypeError):
            await queue.send(b"x", track="yes")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            async with queue.receive(batch_size=True):
                pass
        with pytest.raises(TypeError):
            async with queue.receive(poll_interval="1s"):  # type: ignore[arg-type]
                pass
        with pytest.raises(TypeError):
            async with queue.receive(on_error="log it"):  # type: ignore[arg-type]
                pass
        with pytest.raises(TypeError):
            await queue.cancel("not-a-uuid")  # type: ignore[arg-type]
        assert (await queue.get_statistics()).messages == 0
    with pytest.raises(TypeError):
        await pgmq.create_queue(None, client)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await pgmq.create_queue(name, client, ack_deadline=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pgmq.connect(b"postgres://localhost")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pgmq.connect("postgres://localhost", pool_size=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pgmq.connect("postgres://localhost", statement_timeout="60s")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pgmq.connect("postgres://localhost", connect_retry=True)
    with pytest.raises(TypeError):
        pgmq.connect("postgres://localhost", statement_cache=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pgmq.connect("postgres://localhost", application_name=b"billing")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pgmq.Attribute("a").eq(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pgmq.Attribute("a").is_like(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pgmq.Attribute("a").exists() | "b"  # type: ignore[operator]


@pytest.mark.parametrize("bad", ["x" * 49, "", "nul\0", "a b", "dlq@x", "q;DROP", "é"])
async def test_invalid_names_are_rejected_by_every_call(client: pgmq.Client, bad: str) -> None:
    with pytest.raises(pgmq.InvalidQueueName):
        await pgmq.create_queue(bad, client)
    if not bad.startswith("dlq@"):
        with pytest.raises(pgmq.InvalidQueueName):
            await pgmq.delete_queue(bad, client)
        with pytest.raises(pgmq.InvalidQueueName):
            async with pgmq.connect_to_queue(bad, client):
                pass


async def test_connect_with_a_malformed_dsn_or_pool_size_raises_invalid_option() -> None:
    with pytest.raises(pgmq.InvalidOption):
        await pgmq.connect("host=localhost port=not-a-port")
    with pytest.raises(pgmq.InvalidOption):
        await pgmq.connect("postgres://localhost", pool_size=0)


# ---- filters ----


@pytest.mark.parametrize(
    "filter",
    [
        pgmq.Attribute("f").eq(math.nan),
        pgmq.Attribute("f").gt(math.inf),
        pgmq.Attribute("nul\0").exists(),
        pgmq.Attribute("k").is_like("ends with a lone escape \\"),
        pgmq.Attribute("k").eq("nul\0") | pgmq.Attribute("k").exists(),
    ],
    ids=["nan", "inf", "nul-key", "like-escape", "nul-value"],
)
async def test_unusable_filters_raise_invalid_option_when_receiving_starts(
    client: pgmq.Client, filter: pgmq.Filter
) -> None:
    name = unique("bad-filter")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        with pytest.raises(pgmq.InvalidOption):
            async with queue.receive(filter=filter):
                pass


async def test_a_filter_nested_deeper_than_the_limit_raises_invalid_option(client: pgmq.Client) -> None:
    name = unique("deep-filter")
    await pgmq.create_queue(name, client)
    leaf = pgmq.Attribute("a").exists()
    deep = leaf
    for _ in range(99):  # 100 levels: the most a filter may nest
        deep = deep & leaf
    with pytest.raises(pgmq.InvalidOption, match="at most 100 levels"):
        _ = deep & leaf
    with pytest.raises(pgmq.InvalidOption, match="at most 100 levels"):
        _ = leaf | deep
    async with pgmq.connect_to_queue(name, client) as queue:
        await queue.send(pgmq.OutgoingMessage(b"x", attributes={"a": 1}))
        async with queue.receive(filter=deep) as stream:
            with anyio.fail_after(FIVE_S):
                async with (await stream.__anext__()).acquire() as message:
                    assert message.body == b"x"


# ---- hostile text is stored verbatim ----


async def test_hostile_attribute_keys_values_and_filters_round_trip_verbatim(client: pgmq.Client) -> None:
    name = unique("hostile")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        for text in HOSTILE:
            attributes: dict[str, pgmq.AttributeValue] = {text: text, "n": 2**62 * 1.0, "k": text}
            await queue.send(b"x", pgmq.OutgoingMessage(text.encode(), attributes=attributes))
            chosen = pgmq.Attribute(text).eq(text) & pgmq.Attribute("k").is_like(text.replace("\\", "\\\\"))
            with anyio.fail_after(FIVE_S):
                async with queue.receive(filter=chosen) as stream:
                    async with (await receive_within(stream)).acquire() as message:
                        assert message.body == text.encode()
                        assert message.attributes == attributes
                        assert isinstance(message.attributes["n"], float)
            async with queue.receive() as stream:  # the plain b"x" sent with it
                async with (await receive_within(stream)).acquire():
                    pass
        assert (await queue.get_statistics()).messages == 0


# ---- panics ----


def test_a_panic_in_a_synchronous_call_raises_internal_error_and_the_interpreter_goes_on() -> None:
    for _ in range(3):
        with pytest.raises(pgmq.InternalError) as failed:
            _pgmq._panic_for_tests(False)
        assert isinstance(failed.value, pgmq.PgmqError) and isinstance(failed.value, Exception)
        assert failed.value.code == "internal"
        assert "test hook" in str(failed.value)


async def test_a_panic_in_the_runtime_rejects_the_awaitable_and_pgmq_keeps_working(client: pgmq.Client) -> None:
    for _ in range(3):
        with anyio.fail_after(FIVE_S):  # before the fix, this awaitable never resolved
            with pytest.raises(pgmq.InternalError) as failed:
                await _pgmq._panic_for_tests(True)
        assert failed.value.code == "internal"

    name = unique("after-panic")
    assert await pgmq.create_queue(name, client) is True
    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(b"still works") as completion:
            async with queue.receive() as stream:
                async with (await receive_within(stream)).acquire() as message:
                    assert message.body == b"still works"
            assert list((await completion()).values()) == [pgmq.Outcome.COMPLETED]


def test_a_panic_does_not_end_the_process(migrated: str) -> None:
    script = """
import asyncio, pgmq
from pgmq import _pgmq
try:
    _pgmq._panic_for_tests(False)
except Exception as e:
    print("caught", type(e).__name__, e.code)
async def main():
    try:
        await _pgmq._panic_for_tests(True)
    except Exception as e:
        print("caught", type(e).__name__, e.code)
asyncio.run(main())
print("alive")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=python_env(migrated)
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["caught InternalError internal", "caught InternalError internal", "alive"]
