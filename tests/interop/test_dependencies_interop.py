"""Dependencies across two languages and two queues: a diamond A -> (B, C) -> D where Python sends A and
runs A and D in one queue, and Node sends B, C (in another queue, after A) and D (after B and C) and runs
B and C. D runs once, only after B and C have completed; a failure of B cancels D, with a reason that
names B. The Node side is node_diamond.mjs; every step is synchronised on its JSON lines.

    PGMQ_PG_FAST=1 tests/with-postgres.sh .venv/bin/python -m pytest tests/interop -q
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, List

import anyio
import asyncpg  # type: ignore[import-untyped]
import pytest

import pgmq
from node_children import NodeRunner

pytestmark = pytest.mark.anyio

STEP = 15.0


@pytest.fixture
async def two_queues(client: pgmq.Client) -> AsyncIterator[List[str]]:
    """Two fresh queues; the second gives each message one attempt (a nack dead-letters it)."""
    names = [f"interop-deps-{uuid.uuid4().hex[:12]}-{i}" for i in (1, 2)]
    assert await pgmq.create_queue(names[0], client)
    assert await pgmq.create_queue(names[1], client, max_delivery_attempts=1)
    yield names
    for name in names:
        await pgmq.delete_queue(name, client)


async def completed_among(dsn: str, ids: List[str]) -> int:
    """How many of `ids` have the outcome completed, read from the table at this instant."""
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pgmq.outcomes WHERE id = ANY($1::uuid[]) AND outcome = 'completed'", ids
            )
        )
    finally:
        await conn.close()


async def states(queue: pgmq.Queue) -> List[str]:
    return sorted(m.state.value for m in await queue.peek())


async def test_a_diamond_across_python_and_node_runs_d_once_after_b_and_c(
    client: pgmq.Client, migrated: str, two_queues: List[str], run_node: NodeRunner
) -> None:
    first, second = two_queues
    async with pgmq.connect_to_queue(first, client) as q1, pgmq.connect_to_queue(second, client) as q2:
        a = (await q1.send(b"A")).ids[0]
        async with run_node("node_diamond.mjs", first, second, str(a), "ok") as node:
            sent: Any = await node.expect("sent", timeout=30)
            await node.expect("ready")
            # B and C wait for A; D for B and C.
            assert await states(q2) == ["waiting", "waiting"]
            assert await states(q1) == ["ready", "waiting"]
            async with q1.receive() as stream:
                with anyio.fail_after(STEP):
                    handle = await stream.receive()
                async with handle.acquire() as message:
                    assert message.body == b"A"
                finished = [await node.expect("finished"), await node.expect("finished")]
                assert sorted(f["id"] for f in finished) == sorted([sent["b"], sent["c"]])
                with anyio.fail_after(STEP):
                    handle = await stream.receive()
                async with handle.acquire() as message:
                    # D, and at this instant both of its dependencies have completed.
                    assert (str(message.id), message.body) == (sent["d"], b"D")
                    assert message.delivery_attempt == 1
                    assert await completed_among(migrated, [sent["b"], sent["c"]]) == 2
            await node.expect("done")
            await node.assert_exits_cleanly()
        async with q1.wait_for_completion(uuid.UUID(sent["d"])) as d:
            with anyio.fail_after(STEP):
                reply = await d.reply()
        assert (reply.outcome, reply.reason) == (pgmq.Outcome.COMPLETED, None)
        assert (await q1.get_statistics()).messages == 0, "D ran once: nothing is left to run again"
        assert (await q2.get_statistics()).messages == 0


async def test_a_failure_of_b_in_node_cancels_d_with_a_reason_naming_b(
    client: pgmq.Client, two_queues: List[str], run_node: NodeRunner
) -> None:
    first, second = two_queues
    async with pgmq.connect_to_queue(first, client) as q1:
        a = (await q1.send(b"A")).ids[0]
        async with run_node("node_diamond.mjs", first, second, str(a), "fail-b") as node:
            sent: Any = await node.expect("sent", timeout=30)
            async with q1.receive() as stream:
                with anyio.fail_after(STEP):
                    handle = await stream.receive()
                async with handle.acquire() as message:
                    assert message.body == b"A"
            finished = {f["id"]: f["how"] for f in [await node.expect("finished"), await node.expect("finished")]}
            assert finished == {sent["b"]: "nack", sent["c"]: "ack"}
            await node.expect("done")
            await node.assert_exits_cleanly()
        async with q1.wait_for_completion(uuid.UUID(sent["d"])) as d:
            with anyio.fail_after(STEP):
                reply = await d.reply()
        assert reply.outcome is pgmq.Outcome.CANCELLED
        assert reply.reason == f"dependency {sent['b']} was dead_lettered"
        assert (await q1.get_statistics()).messages == 0, "D never runs"
