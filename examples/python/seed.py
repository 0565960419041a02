"""The seed example: the original pgmq README's program, with the pool replaced by pgmq.connect.

Two idle workers and one message: one worker receives it, processes it for a second and acks it; the
sender's completion then resolves. Prints sent, received, done processing, acked, completed.

    python examples/python/seed.py [DSN]     (default: $DATABASE_URL)
"""

import anyio, pgmq

async def main(dsn: str) -> None:
    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue("myq", client)
        async with pgmq.connect_to_queue("myq", client) as queue:
            async with anyio.create_task_group() as tg:
                async def worker() -> None:
                    async with queue.receive() as msg_handle_rcv_stream:
                        async with (await msg_handle_rcv_stream.receive()).acquire():
                            print("received")
                            await anyio.sleep(1)
                            print("done processing")
                            print("acked")
                tg.start_soon(worker)
                tg.start_soon(worker)
                async with queue.send(b'{"foo":"bar"}') as completion_handle:
                    print("sent")
                    await completion_handle()
                    print("completed")
                    tg.cancel_scope.cancel()


if __name__ == "__main__":
    import os
    import sys

    dsn = sys.argv[1] if len(sys.argv) > 1 else os.environ["DATABASE_URL"]
    anyio.run(main, dsn)
