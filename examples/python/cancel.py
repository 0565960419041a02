"""Cancellation: guaranteed while a message is queued, best effort once a worker holds it.

A queued or scheduled message that is cancelled is removed and never delivered. A message being
processed is signalled instead: its ``acquire()`` block is interrupted (within 100 ms), the ``async with``
exits without raising, its ack does nothing, and it is never redelivered. Either way the outcome is
``cancelled``.

    python examples/python/cancel.py [DSN]     (default: $DATABASE_URL)

Output:
    scheduled message: cancelled
    working on a long job
    the block was interrupted
    long job: cancelled
"""

import asyncio
from datetime import timedelta

import anyio
import pgmq

QUEUE = "examples-py-cancel"


async def main(dsn: str) -> None:
    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue(QUEUE, client)
        async with pgmq.connect_to_queue(QUEUE, client) as queue:
            # 1. Queued (here: scheduled for tomorrow): removed, never delivered.
            tomorrow = await queue.send(b"reminder", delay=timedelta(days=1))
            await queue.cancel(*tomorrow.ids)
            print("scheduled message:", (await tomorrow())[tomorrow.ids[0]].value)

            # 2. Being processed: the worker's block is interrupted.
            job = await queue.send(b"a long job")
            started = asyncio.Event()

            async def worker() -> None:
                async with queue.receive() as stream:
                    async with (await stream.receive()).acquire() as message:
                        print("working on", message.body.decode())
                        started.set()
                        await anyio.sleep(60)  # interrupted by the cancel below
                        print("never printed")
                    print("the block was interrupted")

            task = asyncio.create_task(worker())
            await started.wait()
            await queue.cancel(*job.ids)
            await task
            print("long job:", (await job())[job.ids[0]].value)
        await pgmq.delete_queue(QUEUE, client)


if __name__ == "__main__":
    import os
    import sys

    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else os.environ["DATABASE_URL"])
