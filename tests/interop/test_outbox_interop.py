"""The transactional send across languages: Python sends with `pgmq.sql` on its own asyncpg connection, in
its own transaction; a Node worker (node_worker.mjs, the npm package `pgmq`) receives and acks; Python's
completion, on the ids `pgmq.sql` returned, sees the ack. A rolled-back send never reaches Node.

    PGMQ_PG_FAST=1 tests/with-postgres.sh .venv/bin/python -m pytest tests/interop -q -k outbox
"""

from __future__ import annotations

from typing import Any, Dict, List

import anyio
import asyncpg  # type: ignore[import-untyped]
import pytest

import pgmq
from node_children import NodeRunner

pytestmark = pytest.mark.anyio

# How long one cross-process step may take (a child's start and connect included).
STEP = 15.0


async def test_a_committed_python_outbox_send_is_acked_by_a_node_worker_and_completes(
    client: pgmq.Client, migrated: str, queue_name: str, run_node: NodeRunner
) -> None:
    async with run_node("node_worker.mjs", queue_name, "2") as worker:
        await worker.expect("ready", timeout=30)  # node started, connected, waiting on the queue

        # Act: two messages and the caller's own row, in one transaction of the caller's connection.
        conn = await asyncpg.connect(migrated)
        try:
            async with conn.transaction():
                await conn.execute("CREATE TEMP TABLE orders (id int) ON COMMIT DROP")
                await conn.execute("INSERT INTO orders VALUES (42)")
                raw = await pgmq.sql.execute(conn, pgmq.sql.send(queue_name, b"\x00\xff", attributes={"n": 1}))
                as_json = await pgmq.sql.execute(conn, pgmq.sql.send_json(queue_name, {"order": 42}))
        finally:
            await conn.close()

        received: List[Dict[str, Any]] = [await worker.expect("received", timeout=STEP) for _ in range(2)]
        await worker.expect("done", timeout=STEP)
        await worker.assert_exits_cleanly()

    async with pgmq.connect_to_queue(queue_name, client) as queue:
        async with queue.wait_for_completion(raw, as_json) as completion:
            with anyio.fail_after(STEP):
                outcomes = await completion()

    # Assert: Node got exactly what was sent, in order, and the ack is the outcome Python reads.
    assert [(r["id"], bytes.fromhex(r["bodyHex"]), r["attributes"]) for r in received] == [
        (str(raw), b"\x00\xff", {"n": 1}),
        (str(as_json), b'{"order": 42}', {pgmq.CONTENT_TYPE_ATTRIBUTE: pgmq.JSON_CONTENT_TYPE}),
    ]
    assert received[1]["json"] == {"order": 42}  # Node's msg.json() reads the label the SQL function set
    assert outcomes == {raw: pgmq.Outcome.COMPLETED, as_json: pgmq.Outcome.COMPLETED}


async def test_a_rolled_back_python_outbox_send_never_reaches_a_node_worker(
    client: pgmq.Client, migrated: str, queue_name: str, run_node: NodeRunner
) -> None:
    async with run_node("node_worker.mjs", queue_name, "1") as worker:
        await worker.expect("ready", timeout=30)

        # Act: a send rolled back, then a marker sent by pgmq itself.
        conn = await asyncpg.connect(migrated)
        try:
            transaction = conn.transaction()
            await transaction.start()
            await pgmq.sql.execute(conn, pgmq.sql.send(queue_name, b"never"))
            await transaction.rollback()
        finally:
            await conn.close()
        async with pgmq.connect_to_queue(queue_name, client) as queue:
            marker = (await queue.send(b"marker")).ids[0]

            # Assert: the marker is the first, and only, message Node receives.
            received = await worker.expect("received", timeout=STEP)
            await worker.assert_exits_cleanly()
            assert (received["id"], bytes.fromhex(received["bodyHex"])) == (str(marker), b"marker")
            assert (await queue.get_statistics()).messages == 0
