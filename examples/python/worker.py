"""A worker with retries and a dead-letter queue.

Three jobs, one of which always fails. An exception in an ``acquire()`` block nacks the message with the
exception's text, and it comes back; after ``max_delivery_attempts`` (3 here) it moves, whole, to the
dead-letter queue ``dlq@examples-py-worker``, which is read like any other queue.

    python examples/python/worker.py [DSN]     (default: $DATABASE_URL)

Output:
    done resize 1
    done resize 2
    attempt 1 of fail: failing
    attempt 2 of fail: failing
    attempt 3 of fail: failing
    outcomes: completed, completed, dead_lettered
    dead letter: fail, after 3 attempts, last error: RuntimeError: cannot do this one
"""

import anyio
import pgmq

QUEUE = "examples-py-worker"


async def work(stream: pgmq.MessageHandleStream) -> None:
    async for handle in stream:
        try:
            async with handle.acquire() as message:  # clean exit: ack; an exception: nack
                body = message.body.decode()
                if body == "fail":
                    print(f"attempt {message.delivery_attempt} of {body}: failing")
                    raise RuntimeError("cannot do this one")
                print("done", body)
        except RuntimeError:
            pass  # the message is nacked already; a real worker would log it


async def main(dsn: str) -> None:
    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue(QUEUE, client, max_delivery_attempts=3)
        async with pgmq.connect_to_queue(QUEUE, client) as queue:
            async with queue.send(b"resize 1", b"resize 2", b"fail") as completion:
                async with queue.receive() as stream, anyio.create_task_group() as tg:
                    tg.start_soon(work, stream)
                    outcomes = await completion()  # resolves once every message has an outcome
                    tg.cancel_scope.cancel()
            print("outcomes:", ", ".join(sorted(o.value for o in outcomes.values())))

        async with pgmq.connect_to_queue(pgmq.get_dlq_name(QUEUE), client) as dlq:
            async with dlq.receive() as stream:
                async with (await stream.receive()).acquire() as dead:
                    last_error = (dead.last_error or "").splitlines()[-1]
                    print(f"dead letter: {dead.body.decode()}, after {dead.dead_letter_attempts} attempts,",
                          f"last error: {last_error}")
        await pgmq.delete_queue(QUEUE, client)


if __name__ == "__main__":
    import os
    import sys

    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else os.environ["DATABASE_URL"])
