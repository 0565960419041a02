"""Whole processes: a worker killed with SIGKILL loses its message to another worker once its lease runs
out; an interpreter that exits with a receive still pending exits cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import anyio
import pytest
from anyio.abc import Process

import pgmq
from support import FIVE_S, python_env, receive_within, send_ids, unique

HOLDER = """
import os, sys
import anyio, pgmq

async def main() -> None:
    async with pgmq.connect(os.environ["DATABASE_URL"]) as client:
        async with pgmq.connect_to_queue(sys.argv[1], client) as queue:
            async with queue.receive() as stream:
                handle = await stream.receive()
                async with handle.acquire() as message:
                    print("HOLDING", message.id, flush=True)
                    await anyio.sleep_forever()

anyio.run(main)
"""


async def read_line_starting(process: Process, prefix: str) -> str:
    assert process.stdout is not None
    buffer = b""
    async for chunk in process.stdout:
        buffer += chunk
        *complete, _partial = buffer.decode(errors="replace").split("\n")
        for line in complete:
            if line.startswith(prefix):
                return line
    raise AssertionError(f"the child exited without printing {prefix!r}; stdout: {buffer!r}")


@pytest.mark.anyio
async def test_message_of_a_worker_process_killed_with_sigkill_goes_to_another_worker(
    client: pgmq.Client, migrated: str
) -> None:
    # Arrange: a 2 s deadline; a child process leases the message and holds it.
    deadline = 2.0
    name = unique("sigkill")
    await pgmq.create_queue(name, client, ack_deadline=deadline)
    async with pgmq.connect_to_queue(name, client) as queue:
        (sent,) = await send_ids(queue, b"x")
        process = await anyio.open_process(
            [sys.executable, "-c", HOLDER, name],
            env=python_env(migrated),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            with anyio.fail_after(60):
                line = await read_line_starting(process, "HOLDING ")
            assert line.split()[1] == str(sent)
            async with queue.receive() as stream:
                # Act: SIGKILL the holder; it cannot release anything.
                process.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                with anyio.fail_after(FIVE_S):
                    returncode = await process.wait()
                handle = await receive_within(stream, deadline + 1.0 - (time.monotonic() - killed_at))
                after_kill = time.monotonic() - killed_at
                async with handle.acquire() as message:
                    pass
        finally:
            if process.returncode is None:
                process.kill()
            await process.aclose()

    # Assert: another worker got it once the lease ran out (not before: the heartbeat had extended it).
    assert returncode == -signal.SIGKILL
    assert (message.id, message.delivery_attempt) == (sent, 2)
    assert after_kill >= deadline / 3, f"redelivered {after_kill:.3f} s after the kill, before the lease ran out"
    assert after_kill <= deadline + 1.0


EXIT_WITH_PENDING_RECEIVE = """
import asyncio, os, sys
import pgmq

NAME, MODE = sys.argv[1], sys.argv[2]
KEEP = []

async def main() -> None:
    client = await pgmq.connect(os.environ["DATABASE_URL"])
    queue_cm = pgmq.connect_to_queue(NAME, client)
    queue = await queue_cm.__aenter__()
    stream_cm = queue.receive()
    stream = await stream_cm.__aenter__()
    pending = asyncio.ensure_future(stream.receive())
    KEEP.extend([client, queue_cm, queue, stream_cm, stream, pending])
    await asyncio.sleep(0)
    if MODE == "resolving":
        # The receive is resolved by this send while the interpreter is shutting down.
        send_cm = queue.send(b"x", track=False)
        await send_cm.__aenter__()
        KEEP.append(send_cm)
    print("exiting", flush=True)

if MODE == "loop-left-open":
    loop = asyncio.new_event_loop()
    loop.run_until_complete(main())  # the loop is never closed; the receive stays pending
else:
    asyncio.run(main())
"""


def test_interpreter_exits_cleanly_with_a_receive_pending(migrated: str) -> None:
    # Several runs of each way to leave, in parallel: a crash at exit may be a race.
    name = unique("exit")

    async def create() -> None:
        async with pgmq.connect(migrated) as client:
            await pgmq.create_queue(name, client)

    anyio.run(create)
    runs = [mode for mode in ("asyncio-run", "loop-left-open", "resolving") for _ in range(3)]
    started = time.monotonic()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", EXIT_WITH_PENDING_RECEIVE, name, mode],
            env=python_env(migrated),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in runs
    ]
    failures = []
    for mode, child in zip(runs, children):
        try:
            out, err = child.communicate(timeout=max(1.0, 10.0 - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
            failures.append(f"{mode}: still running 10 s after it was started (hangs at exit); stderr: {err}")
            continue
        if child.returncode != 0 or "exiting" not in out:
            failures.append(f"{mode}: exit code {child.returncode}, stdout {out!r}, stderr: {err}")
        elif any(bad in err for bad in ("Traceback", "Fatal Python error", "panicked", "Exception ignored")):
            failures.append(f"{mode}: noise on stderr at exit: {err}")

    assert not failures, "\n".join(failures)
