"""One queue shared by the Python and the Kotlin binding (uniffi, on the JVM) on one PostgreSQL: what one
language sends, the other receives and acks (or nacks), and the sender's completion learns it; bodies
and attributes cross intact.

The Kotlin side is tests/interop/kotlin/InteropPeer.kt, compiled once per session against
target/uniffi/pgmq.jar (`make kotlin`) and run with `java` as a child process that reports each step as
a JSON line on stdout, like the Node children of test_interop.py. Skipped only when that jar is missing.

    PGMQ_PG_FAST=1 tests/with-postgres.sh .venv/bin/python -m pytest tests/interop -q
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Union

import anyio
import pytest
from anyio import wait_all_tasks_blocked

import pgmq
from node_children import INTEROP_DIR, REPO_DIR, NodeRunner, RunningChild

pytestmark = pytest.mark.anyio

# How long one cross-process step may take (the JVM's start and the connect included where it starts).
STEP = 15.0
START = 30.0

PGMQ_JAR = REPO_DIR / "target" / "uniffi" / "pgmq.jar"
KOTLIN_HOME = REPO_DIR / "node_modules" / "kotlin-compiler"
JNA_JAR = Path(os.environ.get("JNA_JAR", "/usr/share/java/jna.jar"))
PEER_SOURCE = INTEROP_DIR / "kotlin" / "InteropPeer.kt"

# Every byte value, and attributes of every type the two languages share (integers are 64-bit in both).
BINARY = bytes(range(256))
ATTRIBUTES: Dict[str, Union[str, int, float, bool, None]] = {
    "string": 'text ✓ ünïcödé 日本 "quoted" \\ and\nnewline',
    "empty": "",
    "int": 42,
    "big": 2**63 - 1,
    "negative": -(2**60),
    "float": 2.5,
    "true": True,
    "false": False,
    "none": None,
}
# What InteropPeer.kt's sender attaches (its ATTRIBUTES).
KOTLIN_ATTRIBUTES: Dict[str, Union[str, int, float, bool, None]] = {
    "lang": 'kotlin ✓ ünïcödé 日本 "quoted" \\ back\nslash',
    "empty": "",
    "int": 42,
    "big": 2**63 - 1,
    "negative": -(2**60),
    "float": -2.5,
    "true": True,
    "false": False,
    "none": None,
}


def python_types(attributes: Dict[str, Any]) -> Dict[str, type]:
    return {k: type(v) for k, v in attributes.items()}


@pytest.fixture(scope="session")
def kotlin_classpath(tmp_path_factory: pytest.TempPathFactory) -> str:
    """InteropPeer.kt compiled (once per session); the classpath that runs it."""
    if not PGMQ_JAR.exists():
        pytest.skip(f"{PGMQ_JAR.relative_to(REPO_DIR)} is missing: run `make kotlin` first")
    kotlinc = KOTLIN_HOME / "bin" / "kotlinc"
    for path, what in [(kotlinc, "kotlinc (npm ci)"), (JNA_JAR, "JNA (Debian's libjna-java)")]:
        if not path.exists():
            pytest.fail(f"{what} is missing: {path}")
    libs = [PGMQ_JAR, JNA_JAR, KOTLIN_HOME / "lib" / "kotlinx-coroutines-core-jvm.jar"]
    peer_jar = tmp_path_factory.mktemp("kotlin") / "interop-peer.jar"
    compiled = subprocess.run(
        [str(kotlinc), "-nowarn", "-classpath", os.pathsep.join(map(str, libs)), "-d", str(peer_jar), str(PEER_SOURCE)],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if compiled.returncode != 0:
        pytest.fail(f"compiling {PEER_SOURCE.name} failed ({compiled.returncode}):\n{compiled.stdout}{compiled.stderr}")
    return os.pathsep.join(map(str, [peer_jar, *libs, KOTLIN_HOME / "lib" / "kotlin-stdlib.jar"]))


class KotlinRunner:
    """Starts InteropPeer (``worker`` or ``sender``) with DATABASE_URL set: ``async with run(*args) as p``."""

    def __init__(self, classpath: str, dsn: str, tmp_path: Path) -> None:
        java_home = os.environ.get("JAVA_HOME")
        java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
        if java is None:
            pytest.fail("java is not on PATH (nor in $JAVA_HOME): the Kotlin peer runs on the JVM")
        self._java = java
        self._classpath = classpath
        self._dsn = dsn
        self._tmp = tmp_path
        self._started = 0

    def __call__(self, *args: str) -> RunningChild:
        self._started += 1
        command = [
            self._java,
            f"-Djna.library.path={REPO_DIR / 'target' / 'debug'}",
            "-cp",
            self._classpath,
            "InteropPeerKt",
            *args,
        ]
        return RunningChild(
            command, self._dsn, self._tmp / f"kotlin-{args[0]}-{self._started}.stderr", f"kotlin {args[0]}"
        )


@pytest.fixture
def run_kotlin(kotlin_classpath: str, migrated: str, tmp_path: Path) -> KotlinRunner:
    return KotlinRunner(kotlin_classpath, migrated, tmp_path)


async def test_python_sends_a_kotlin_worker_acks_and_the_python_completion_resolves_completed(
    client: pgmq.Client, queue_name: str, run_kotlin: KotlinRunner
) -> None:
    outcomes: Dict[Any, pgmq.Outcome] = {}

    async with pgmq.connect_to_queue(queue_name, client) as queue:
        async with run_kotlin("worker", queue_name, "--hold") as worker:
            await worker.expect("ready", timeout=START)  # the JVM started, connected, made its receiver
            async with queue.send(pgmq.OutgoingMessage(BINARY, attributes=ATTRIBUTES)) as completion:
                (sent_id,) = completion.ids
                async with anyio.create_task_group() as tg:

                    async def wait_for_outcome() -> None:
                        with anyio.fail_after(STEP):
                            outcomes.update(await completion())

                    tg.start_soon(wait_for_outcome)
                    received = await worker.expect("received")
                    # Kotlin holds the message: it is leased, and the completion is still waiting.
                    stats = await queue.get_statistics()
                    await wait_all_tasks_blocked()
                    assert not outcomes, f"completed before the Kotlin worker acked: {outcomes}"
                    await worker.send_line("ack")
                    acked = await worker.expect("acked")
            await worker.send_line("close")
            await worker.expect("done")
            await worker.assert_exits_cleanly()
        after = await queue.get_statistics()

    assert received["id"] == str(sent_id)
    assert bytes.fromhex(received["bodyHex"]) == BINARY
    assert received["attributes"] == ATTRIBUTES
    assert python_types(received["attributes"]) == python_types(ATTRIBUTES)
    assert received["deliveryAttempt"] == 1
    assert received["lastError"] is None
    assert (stats.messages, stats.leased) == (1, 1), f"while Kotlin held it: {stats}"
    assert acked["id"] == str(sent_id)
    assert outcomes == {sent_id: pgmq.Outcome.COMPLETED}
    assert (after.messages, after.leased, after.dead_lettered) == (0, 0, 0), after


async def test_kotlin_sends_and_awaits_completed_a_python_worker_acks(
    client: pgmq.Client, queue_name: str, run_kotlin: KotlinRunner
) -> None:
    async with pgmq.connect_to_queue(queue_name, client) as queue:
        async with queue.receive() as stream:
            async with run_kotlin("sender", queue_name, BINARY.hex()) as sender:
                sent = await sender.expect("sent", timeout=START)
                with anyio.fail_after(STEP):
                    handle = await stream.receive()
                async with handle.acquire() as message:  # a clean exit acks
                    got_id, body, attributes = str(message.id), message.body, dict(message.attributes)
                    attempt = message.delivery_attempt
                completed = await sender.expect("completed")
                await sender.assert_exits_cleanly()
        # The durable record agrees with what Kotlin was told.
        async with queue.wait_for_completion(message.id) as handle_of_record:
            with anyio.fail_after(STEP):
                recorded = await handle_of_record()
        after = await queue.get_statistics()

    assert got_id == sent["id"]
    assert isinstance(body, bytes) and body == BINARY
    assert attributes == KOTLIN_ATTRIBUTES
    assert python_types(attributes) == python_types(KOTLIN_ATTRIBUTES)
    assert attempt == 1
    assert completed == {"event": "completed", "id": sent["id"], "outcome": "completed"}
    assert recorded == {message.id: pgmq.Outcome.COMPLETED}
    assert (after.messages, after.leased, after.dead_lettered) == (0, 0, 0), after


async def test_a_kotlin_nack_redelivers_to_python_with_its_error(
    client: pgmq.Client, queue_name: str, run_kotlin: KotlinRunner
) -> None:
    async with pgmq.connect_to_queue(queue_name, client) as queue:
        async with queue.send(b"try me") as completion:
            async with run_kotlin("worker", queue_name, "--nack", "kotlin says: not now") as worker:
                received = await worker.expect("received", timeout=START)
                nacked = await worker.expect("nacked")
                await worker.expect("done")
                await worker.assert_exits_cleanly()
            async with queue.receive() as stream:
                with anyio.fail_after(STEP):
                    handle = await stream.receive()
                async with handle.acquire() as message:
                    redelivered = (str(message.id), message.body, message.delivery_attempt, message.last_error)
            with anyio.fail_after(STEP):
                outcomes = await completion()

    (sent_id,) = completion.ids
    assert received["id"] == nacked["id"] == str(sent_id)
    assert received["deliveryAttempt"] == 1
    assert redelivered == (str(sent_id), b"try me", 2, "kotlin says: not now")
    assert outcomes == {sent_id: pgmq.Outcome.COMPLETED}


# A JSON value in one language is the same value in the other: UTF-8 JSON text labelled with the core's
# content-type attribute, which Python's message.json() and Kotlin's msg.json() read.
JSON_VALUE: Dict[str, Any] = {
    "resize": 42,
    "name": "ünïcödé ✓ 日本",
    "tags": ["a", None, True],
    "ratio": 2.5,
    "nested": {"empty": {}, "list": []},
}


@pytest.mark.parametrize("direction", ["python-to-kotlin", "kotlin-to-python"])
async def test_a_json_value_crosses_labelled_and_parses_on_the_other_side(
    client: pgmq.Client, queue_name: str, run_kotlin: KotlinRunner, direction: str
) -> None:
    label = {pgmq.CONTENT_TYPE_ATTRIBUTE: pgmq.JSON_CONTENT_TYPE}
    async with pgmq.connect_to_queue(queue_name, client) as queue:
        if direction == "python-to-kotlin":
            async with run_kotlin("worker", queue_name) as worker:
                await worker.expect("ready", timeout=START)
                async with queue.send(JSON_VALUE):
                    received = await worker.expect("received")
                    await worker.expect("acked")
                await worker.expect("done")
                await worker.assert_exits_cleanly()

            assert received["attributes"] == label
            assert json.loads(received["json"]) == JSON_VALUE
        else:
            text = json.dumps(JSON_VALUE, ensure_ascii=False)
            async with queue.receive() as stream:
                async with run_kotlin("sender", queue_name, "--json", text.encode("utf-8").hex()) as sender:
                    await sender.expect("sent", timeout=START)
                    with anyio.fail_after(STEP):
                        handle = await stream.receive()
                    async with handle.acquire() as message:
                        attributes, value, body = dict(message.attributes), message.json(), message.body
                    await sender.expect("completed")
                    await sender.assert_exits_cleanly()

            assert attributes == label
            assert value == JSON_VALUE
            assert body.decode("utf-8") == text


async def test_a_node_request_is_answered_by_a_kotlin_worker(
    queue_name: str, run_kotlin: KotlinRunner, run_node: NodeRunner
) -> None:
    # Arrange: a Kotlin worker that answers each request {"n": n} with {"n": n, "doubled": 2n, "lang": "kotlin"}.
    async with run_kotlin("reply", queue_name, "3") as replier:
        await replier.expect("ready", timeout=START)

        # Act: a Node process sends three requests and awaits each reply.
        async with run_node("node_requester.mjs", queue_name, "3") as requester:
            replies = [await requester.expect("reply", timeout=START) for _ in range(3)]
            await requester.expect("done")
            await requester.assert_exits_cleanly()
        await replier.expect("done")
        await replier.assert_exits_cleanly()

    # Assert
    assert replies == [
        {
            "event": "reply",
            "n": n,
            "outcome": "completed",
            "contentType": "application/json",
            "result": {"n": n, "doubled": 2 * n, "lang": "kotlin"},
        }
        for n in range(3)
    ]
