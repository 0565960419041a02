"""The Python worker of the chaos checker (run by pgmq-chaos with .venv/bin/python).

Receives from one queue through the public `pgmq` package, acts out the behaviour written in each
message body, and logs every step as a JSON line on stdout (one write per line, flushed). Timestamps are
CLOCK_MONOTONIC microseconds, the clock of every worker.

Environment: CHAOS_DSN, CHAOS_QUEUE, CHAOS_CONCURRENCY (tasks sharing one stream, default 8).

The idiomatic paths are used on purpose: a clean exit of `acquire()` acks, an exception in it nacks (the
package swallows a failed nack, so its result is logged as "unknown"), and `queue.cancel()` of a message
being processed interrupts its block. `nack_once` uses the explicit `message.nack()` instead, whose
result is known.
"""

import asyncio
import json
import os
import sys
import time
import uuid

import pgmq


def now() -> int:
    return time.monotonic_ns() // 1000


def emit(**event: object) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def code(e: BaseException) -> str:
    return getattr(e, "code", None) or type(e).__name__


class Raised(Exception):
    """What a failing handler raises."""


class Nacked(Exception):
    """Leaves an acquire() block after an explicit nack (the block's own nack then finds it finished)."""


async def handle(queue: pgmq.Queue, stream: pgmq.MessageHandleStream) -> None:
    h = await stream.receive()
    state = {"acking": False, "id": None, "a": 0}
    try:
        async with h.acquire() as message:
            body = json.loads(message.body)
            mid, attempt = str(message.id), message.delivery_attempt
            state.update(id=mid, a=attempt)
            emit(e="recv", id=mid, a=attempt, t=now(), n=body.get("n"), b=body.get("b"))
            b = body.get("b")
            if b == "raise" and attempt <= body.get("k", 1):
                emit(e="nack", id=mid, a=attempt, t=now())
                raise Raised("chaos: the handler failed on purpose")
            if b == "fail":
                emit(e="nack", id=mid, a=attempt, t=now())
                raise Raised("always fails")
            if b == "nack_once" and attempt == 1:
                emit(e="nack", id=mid, a=attempt, t=now())
                try:
                    await message.nack(error="once", delay=0.2)
                    emit(e="nack_r", id=mid, a=attempt, t=now(), r="ok")
                except pgmq.PgmqError as e:
                    emit(e="nack_r", id=mid, a=attempt, t=now(), r=code(e))
                raise Nacked()
            if b == "slow":
                # Interrupted (CancelledError, swallowed by acquire()) if the message is cancelled meanwhile.
                await asyncio.sleep(body.get("ms", 2500) / 1000)
            if b == "cancel" and body.get("target"):
                target = uuid.UUID(body["target"])
                emit(e="cancel", id=mid, a=attempt, target=str(target), t=now())
                try:
                    found = await queue.cancel(target)
                    r = "found" if target in found else "not_found"
                except pgmq.PgmqError as e:
                    r = code(e)
                emit(e="cancel_r", id=mid, target=str(target), r=r, t=now())
            state["acking"] = True
            emit(e="ack", id=mid, a=attempt, t=now())
        if state["acking"]:
            emit(e="ack_r", id=mid, a=attempt, t=now(), r="ok")  # the clean exit acked it
        else:
            # queue.cancel() interrupted the block: acquire() released the message (dropped for good).
            emit(e="intr", id=mid, a=attempt, t=now())
    except Raised:
        emit(e="nack_r", id=state["id"], a=state["a"], t=now(), r="unknown")
    except Nacked:
        pass
    except pgmq.PgmqError as e:
        if not state["acking"]:
            raise
        emit(e="ack_r", id=state["id"], a=state["a"], t=now(), r=code(e))


async def task(queue: pgmq.Queue, stream: pgmq.MessageHandleStream) -> None:
    while True:
        try:
            await handle(queue, stream)
        except (pgmq.ConnectionError, pgmq.DatabaseError) as e:
            emit(e="err", where="recv", r=code(e), t=now())
            await asyncio.sleep(0.1)


async def exit_when_orphaned() -> None:
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    os._exit(0)  # the checker is gone


async def main() -> None:
    orphan_watch = asyncio.ensure_future(exit_when_orphaned())  # noqa: F841 (kept alive)
    dsn, name = os.environ["CHAOS_DSN"], os.environ["CHAOS_QUEUE"]
    concurrency = int(os.environ.get("CHAOS_CONCURRENCY", "8"))
    while True:  # the server may be restarting right now
        try:
            client = await pgmq.connect(dsn, pool_size=4)
            break
        except pgmq.PgmqError as e:
            emit(e="err", where="connect", r=code(e), t=now())
            await asyncio.sleep(0.2)
    async with client:
        async with pgmq.connect_to_queue(name, client) as queue:
            emit(e="ready", t=now())

            def recovered(e: pgmq.PgmqError) -> None:  # a connection error: the stream retries by itself
                emit(e="err", where="recv", r=code(e), t=now())

            async with queue.receive(batch_size=concurrency, poll_interval=2, on_error=recovered) as stream:
                await asyncio.gather(*(task(queue, stream) for _ in range(concurrency)))


if __name__ == "__main__":
    asyncio.run(main())
