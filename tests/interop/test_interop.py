"""One queue shared by the Python and the Node binding on one PostgreSQL: what one language sends, the
other receives and acks, and the sender's completion learns it; bodies and attributes cross intact.

The Node side runs as child processes (node_worker.mjs, node_sender.mjs) that report each step as a JSON
line on stdout; the test moves on when those lines arrive (never after a fixed sleep), and every wait is
bounded.

    PGMQ_PG_FAST=1 tests/with-postgres.sh .venv/bin/python -m pytest tests/interop -q
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Union

import anyio
import pytest
from anyio import wait_all_tasks_blocked

import pgmq
from node_children import NodeRunner

pytestmark = pytest.mark.anyio

# How long one cross-process step may take (a child's start and connect included).
STEP = 15.0

# Every byte value, and attributes of every type the two languages share.
BINARY = bytes(range(256))
ATTRIBUTES: Dict[str, Union[str, int, float, bool, None]] = {
    "string": "text ✓ ünïcödé 日本",
    "empty": "",
    "int": 42,
    "min_safe": -(2**53 - 1),
    "float": 2.5,
    "true": True,
    "false": False,
    "none": None,
}
# What those attributes are in JavaScript.
NODE_TYPES = {
    "string": "string",
    "empty": "string",
    "int": "number",
    "min_safe": "number",
    "float": "number",
    "true": "boolean",
    "false": "boolean",
    "none": "null",
}


def python_types(attributes: Dict[str, Any]) -> Dict[str, type]:
    return {k: type(v) for k, v in attributes.items()}


async def test_python_sends_a_node_worker_acks_and_the_python_completion_resolves_completed(
    client: pgmq.Client, queue_name: str, run_node: NodeRunner
) -> None:
    outcomes: Dict[Any, pgmq.Outcome] = {}

    async with pgmq.connect_to_queue(queue_name, client) as queue:
        async with run_node("node_worker.mjs", queue_name, "1", "--hold") as worker:
            await worker.expect("ready", timeout=30)  # node started, connected, waiting on the queue
            async with queue.send(b'{"resize": 42}') as completion:
                (sent_id,) = completion.ids
                async with anyio.create_task_group() as tg:

                    async def wait_for_outcome() -> None:
                        with anyio.fail_after(STEP):
                            outcomes.update(await completion())

                    tg.start_soon(wait_for_outcome)
                    received = await worker.expect("received")
                    # Node holds the message: it is leased, and the completion is still waiting.
                    stats = await queue.get_statistics()
                    await wait_all_tasks_blocked()
                    assert not outcomes, f"completed before the Node worker acked: {outcomes}"
                    await worker.send_line("ack")
                    acked = await worker.expect("acked")
            done = await worker.expect("done")
            # Only now does Node close its client (acking and exiting at once: tested below).
            await worker.send_line("close")
            await worker.assert_exits_cleanly()
        after = await queue.get_statistics()

    assert received["id"] == str(sent_id)
    assert bytes.fromhex(received["bodyHex"]) == b'{"resize": 42}'
    assert received["bodyIsBuffer"] is True
    assert received["attributes"] == {}
    assert received["deliveryAttempt"] == 1
    assert (stats.messages, stats.leased) == (1, 1), f"while Node held it: {stats}"
    assert acked["id"] == str(sent_id) and done["count"] == 1
    assert outcomes == {sent_id: pgmq.Outcome.COMPLETED}
    assert (after.messages, after.leased, after.dead_lettered) == (0, 0, 0), after


async def test_node_sends_a_python_worker_acks_and_the_node_completion_resolves_completed(
    client: pgmq.Client, queue_name: str, run_node: NodeRunner
) -> None:
    async with pgmq.connect_to_queue(queue_name, client) as queue:
        async with queue.receive() as stream:
            async with run_node("node_sender.mjs", queue_name) as sender:
                sent = await sender.expect("sent", timeout=30)
                with anyio.fail_after(STEP):
                    handle = await stream.receive()
                async with handle.acquire() as message:
                    got = (str(message.id), message.body, dict(message.attributes), message.delivery_attempt)
                completed = await sender.expect("completed")
                await sender.assert_exits_cleanly()
        # The durable record agrees with what Node was told.
        async with queue.wait_for_completion(message.id) as handle_of_record:
            with anyio.fail_after(STEP):
                recorded = await handle_of_record()
        after = await queue.get_statistics()

    assert sent["tracked"] is True
    assert got == (sent["id"], b"hello from node", {}, 1)
    assert completed == {"event": "completed", "id": sent["id"], "outcome": "completed"}
    assert recorded == {message.id: pgmq.Outcome.COMPLETED}
    assert (after.messages, after.leased, after.dead_lettered) == (0, 0, 0), after


@pytest.mark.parametrize("direction", ["python-to-node", "node-to-python"])
async def test_attributes_and_a_binary_body_cross_intact(
    client: pgmq.Client, queue_name: str, run_node: NodeRunner, direction: str
) -> None:
    async with pgmq.connect_to_queue(queue_name, client) as queue:
        if direction == "python-to-node":
            async with run_node("node_worker.mjs", queue_name) as worker:
                await worker.expect("ready", timeout=30)
                async with queue.send(pgmq.OutgoingMessage(BINARY, attributes=ATTRIBUTES)) as completion:
                    received = await worker.expect("received")
                    await worker.expect("acked")
                    with anyio.fail_after(STEP):
                        outcomes = await completion()
                await worker.assert_exits_cleanly()

            assert bytes.fromhex(received["bodyHex"]) == BINARY
            assert received["bodyIsBuffer"] is True
            assert received["attributeTypes"] == NODE_TYPES
            # JSON carries the values back exactly (integers stay integers, 2.5 a float).
            assert received["attributes"] == ATTRIBUTES
            assert python_types(received["attributes"]) == python_types(ATTRIBUTES)
            assert outcomes == {completion.ids[0]: pgmq.Outcome.COMPLETED}
        else:
            async with queue.receive() as stream:
                async with run_node("node_sender.mjs", queue_name, BINARY.hex(), json.dumps(ATTRIBUTES)) as sender:
                    sent = await sender.expect("sent", timeout=30)
                    with anyio.fail_after(STEP):
                        handle = await stream.receive()
                    async with handle.acquire() as message:
                        got_id, body, attributes = str(message.id), message.body, dict(message.attributes)
                    completed = await sender.expect("completed")
                    await sender.assert_exits_cleanly()

            assert got_id == sent["id"]
            assert isinstance(body, bytes) and body == BINARY
            assert attributes == ATTRIBUTES
            # A JS number with no fraction arrives as a Python int, 2.5 as a float.
            assert python_types(attributes) == python_types(ATTRIBUTES)
            assert completed["outcome"] == "completed"


# A JSON value in one language is the same value in the other: UTF-8 JSON text labelled with the core's
# content-type attribute, which each side's message.json() reads.
JSON_VALUE: Dict[str, Any] = {
    "resize": 42,
    "name": "ünïcödé ✓ 日本",
    "tags": ["a", None, True],
    "ratio": 2.5,
    "nested": {"empty": {}, "list": []},
}


@pytest.mark.parametrize("direction", ["python-to-node", "node-to-python"])
async def test_a_json_value_crosses_labelled_and_parses_on_the_other_side(
    client: pgmq.Client, queue_name: str, run_node: NodeRunner, direction: str
) -> None:
    label = {pgmq.CONTENT_TYPE_ATTRIBUTE: pgmq.JSON_CONTENT_TYPE}
    async with pgmq.connect_to_queue(queue_name, client) as queue:
        if direction == "python-to-node":
            async with run_node("node_worker.mjs", queue_name) as worker:
                await worker.expect("ready", timeout=30)
                async with queue.send(JSON_VALUE):
                    received = await worker.expect("received")
                    await worker.expect("acked")
                await worker.assert_exits_cleanly()

            assert received["attributes"] == label
            assert received["json"] == JSON_VALUE
            assert json.loads(bytes.fromhex(received["bodyHex"]).decode("utf-8")) == JSON_VALUE
        else:
            async with queue.receive() as stream:
                async with run_node("node_sender.mjs", queue_name, json.dumps(JSON_VALUE), "--json") as sender:
                    await sender.expect("sent", timeout=30)
                    with anyio.fail_after(STEP):
                        handle = await stream.receive()
                    async with handle.acquire() as message:
                        attributes, value = dict(message.attributes), message.json()
                    await sender.expect("completed")
                    await sender.assert_exits_cleanly()

            assert attributes == label
            assert value == JSON_VALUE


# A string is its UTF-8 text in every language, sent unlabelled (no serializer was given to either queue
# handle): what one side sends as a str the other reads back as the same text, not as a JSON string.
TEXT = 'grüße ✓ 日本 "quoted" {not json}'


@pytest.mark.parametrize("direction", ["python-to-node", "node-to-python"])
async def test_a_str_crosses_as_its_utf8_text_unlabelled_and_reads_as_the_same_text(
    client: pgmq.Client, queue_name: str, run_node: NodeRunner, direction: str
) -> None:
    async with pgmq.connect_to_queue(queue_name, client) as queue:
        if direction == "python-to-node":
            async with run_node("node_worker.mjs", queue_name) as worker:
                await worker.expect("ready", timeout=30)
                async with queue.send(TEXT):
                    received = await worker.expect("received")
                    await worker.expect("acked")
                await worker.assert_exits_cleanly()

            assert received["text"] == TEXT
            assert bytes.fromhex(received["bodyHex"]) == TEXT.encode("utf-8")
            assert received["attributes"] == {}
            assert "json" not in received  # unlabelled: nothing says it is JSON
        else:
            async with queue.receive() as stream:
                async with run_node("node_sender.mjs", queue_name, TEXT, "--text") as sender:
                    await sender.expect("sent", timeout=30)
                    with anyio.fail_after(STEP):
                        handle = await stream.receive()
                    async with handle.acquire() as message:
                        body, attributes = message.body, dict(message.attributes)
                    await sender.expect("completed")
                    await sender.assert_exits_cleanly()

            assert body.decode("utf-8") == TEXT
            assert attributes == {}


# ---- short-lived processes: the NOTIFY of an ack or a send must not be lost when the client closes ----
# Client::close() sends the notifications of the client's last acks and sends before it closes; before it
# did, a process that acked or sent and exited at once left waiters in other processes asleep until their
# 30 s safety-net re-read (about 1 round in 5 here). Several rounds, as it was a race.

# Waiters sleep on NOTIFY and re-read the tables only every 30 s unless woken; a wake-up within this bound
# can only have come from the notification.
WOKEN_WITHIN = 5.0
ROUNDS = 10


async def test_a_node_process_that_acks_and_exits_at_once_wakes_the_python_completion(
    client: pgmq.Client, queue_name: str, run_node: NodeRunner
) -> None:
    async with pgmq.connect_to_queue(queue_name, client) as queue:
        for round_ in range(ROUNDS):
            outcomes: Dict[Any, pgmq.Outcome] = {}
            woken = anyio.Event()
            async with queue.send(f"job {round_}".encode()) as completion:
                async with anyio.create_task_group() as tg:

                    async def wait_for_outcome() -> None:
                        outcomes.update(await completion())
                        woken.set()

                    tg.start_soon(wait_for_outcome)
                    await wait_all_tasks_blocked()  # waiting before the Node worker even starts
                    async with run_node("node_worker.mjs", queue_name) as worker:
                        await worker.expect("acked", timeout=30)
                        await worker.assert_exits_cleanly()  # it closed its client right after the ack
                    with anyio.move_on_after(WOKEN_WITHIN):
                        await woken.wait()
                    tg.cancel_scope.cancel()
            assert woken.is_set(), (
                f"round {round_ + 1}/{ROUNDS}: the Node worker acked and exited, and the completion was "
                f"still not woken {WOKEN_WITHIN} s later (the ack's NOTIFY was lost)"
            )
            assert outcomes == {completion.ids[0]: pgmq.Outcome.COMPLETED}


async def test_a_node_process_that_sends_and_exits_at_once_wakes_the_python_receiver(
    client: pgmq.Client, queue_name: str, run_node: NodeRunner
) -> None:
    async with pgmq.connect_to_queue(queue_name, client) as queue:
        async with queue.receive() as stream:
            for round_ in range(ROUNDS):
                async with anyio.create_task_group() as tg:
                    received: List[pgmq.MessageHandle] = []
                    woken = anyio.Event()

                    async def receive() -> None:
                        received.append(await stream.receive())
                        woken.set()

                    tg.start_soon(receive)
                    await wait_all_tasks_blocked()  # waiting before the Node sender even starts
                    async with run_node("node_sender.mjs", queue_name, "--exit-after-send") as sender:
                        sent = await sender.expect("sent", timeout=30)
                        await sender.assert_exits_cleanly()  # it closed its client right after the send
                    with anyio.move_on_after(WOKEN_WITHIN):
                        await woken.wait()
                    tg.cancel_scope.cancel()
                assert received, (
                    f"round {round_ + 1}/{ROUNDS}: the Node sender sent and exited, and the waiting receiver "
                    f"was still not woken {WOKEN_WITHIN} s later (the send's NOTIFY was lost)"
                )
                async with received[0].acquire() as message:
                    assert str(message.id) == sent["id"]


async def test_a_python_request_is_answered_by_a_node_worker(
    client: pgmq.Client, queue_name: str, run_node: NodeRunner
) -> None:
    # Arrange: a Node worker that answers each request {"n": n} with {"n": n, "doubled": 2n, "lang": "node"}.
    async with pgmq.connect_to_queue(queue_name, client) as queue:
        async with run_node("node_replier.mjs", queue_name, "3") as replier:
            await replier.expect("ready")

            # Act: three requests, one after the other, each awaited in one call.
            replies = []
            for n in (0, 21, -7):
                with anyio.fail_after(15):
                    replies.append(await queue.request({"n": n}, timeout=15))
            await replier.expect("done")
            await replier.assert_exits_cleanly()
        after = await queue.get_statistics()

    # Assert
    assert [r.outcome for r in replies] == [pgmq.Outcome.COMPLETED] * 3
    assert [r.content_type for r in replies] == ["application/json"] * 3
    assert [r.json() for r in replies] == [
        {"n": 0, "doubled": 0, "lang": "node"},
        {"n": 21, "doubled": 42, "lang": "node"},
        {"n": -7, "doubled": -14, "lang": "node"},
    ]
    assert (after.messages, after.leased, after.dead_lettered) == (0, 0, 0), after
