"""Request/reply: a worker answers each request with a result; the caller waits for it in one call.

``queue.request(body, timeout=...)`` sends a tracked message and waits for its reply: the result the worker
acked it with (``await message.ack(result)``, or ``message.set_result(result)`` before the clean exit of its
``acquire()`` block), JSON here. Any language can answer, or ask. A request that is dead-lettered instead
raises ``pgmq.RequestFailed`` (code ``request_failed``, with the outcome); one that gets no reply in time
raises ``pgmq.Timeout`` and is cancelled, so nobody works on it for nothing.

    python examples/python/request.py [DSN]     (default: $DATABASE_URL)

Output:
    2 + 3 = 5
    10 + 20 + 30 = 60
    [] failed: request_failed dead_lettered
    no worker: timeout; requests left in the queue: 0
"""

import anyio
import pgmq

QUEUE = "examples-py-request"
IDLE = "examples-py-request-idle"


async def add(queue: pgmq.Queue) -> None:
    """The worker: answers each list of numbers with their sum; an empty list is an error."""
    async with queue.receive() as stream:
        async for handle in stream:
            try:
                async with handle.acquire() as message:
                    numbers: list[int] = message.json()
                    if not numbers:
                        raise ValueError("nothing to add")  # nacked; on its last attempt, dead-lettered
                    message.set_result({"sum": sum(numbers)})  # the clean exit acks with it
            except ValueError:
                pass


async def main(dsn: str) -> None:
    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue(QUEUE, client, max_delivery_attempts=1)
        async with pgmq.connect_to_queue(QUEUE, client) as queue:
            async with anyio.create_task_group() as tg:
                tg.start_soon(add, queue)
                for numbers in ([2, 3], [10, 20, 30]):
                    reply = await queue.request(numbers, timeout=5)
                    print(" + ".join(map(str, numbers)), "=", reply.json()["sum"])
                try:
                    await queue.request([], timeout=5)
                except pgmq.RequestFailed as e:
                    assert e.outcome is not None
                    print("[] failed:", e.code, e.outcome.value)
                tg.cancel_scope.cancel()

        # A queue nobody serves: after the timeout, the request is cancelled rather than left waiting.
        await pgmq.create_queue(IDLE, client)
        async with pgmq.connect_to_queue(IDLE, client) as idle:
            try:
                await idle.request([1, 1], timeout=0.5)
            except pgmq.Timeout as e:
                left = (await idle.get_statistics()).messages
                print(f"no worker: {e.code}; requests left in the queue: {left}")
        await pgmq.delete_queue(QUEUE, client)
        await pgmq.delete_queue(IDLE, client)


if __name__ == "__main__":
    import os
    import sys

    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else os.environ["DATABASE_URL"])
