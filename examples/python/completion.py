"""Waiting for completion: by the sender, or later by anyone who knows the ids.

A tracked send (the default) records each message's outcome durably, so a waiter that starts late, or in
another process, still learns it. ``track=False`` skips the record (fire and forget); waiting on such a
send raises ``pgmq.NotTracked`` (code ``not_tracked``), one of the ``pgmq.HandleError`` misuses.

    python examples/python/completion.py [DSN]     (default: $DATABASE_URL)

Output:
    sent 2 messages
    processed invoice 1
    processed invoice 2
    outcomes, read by id: completed, completed
    fire and forget: not_tracked
"""

import anyio
import pgmq

QUEUE = "examples-py-completion"


async def main(dsn: str) -> None:
    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue(QUEUE, client)
        async with pgmq.connect_to_queue(QUEUE, client) as queue:
            sent = await queue.send(b"invoice 1", b"invoice 2")
            ids = sent.ids  # UUIDs: store them, pass them on, wait for them anywhere
            print("sent", len(ids), "messages")

            async with queue.receive() as stream:
                for _ in ids:
                    async with (await stream.receive()).acquire() as message:
                        print("processed", message.body.decode())

        # Another client (say, another process) waits for the same ids, after the fact.
        async with pgmq.connect(dsn) as other, pgmq.connect_to_queue(QUEUE, other) as queue:
            async with queue.wait_for_completion(*ids) as waiting:
                outcomes = await waiting()
            print("outcomes, read by id:", ", ".join(outcomes[i].value for i in ids))

            untracked = await queue.send(b"metrics sample", track=False)
            try:
                await untracked()
            except pgmq.NotTracked as e:
                print("fire and forget:", e.code)
        await pgmq.delete_queue(QUEUE, client)


if __name__ == "__main__":
    import os
    import sys

    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else os.environ["DATABASE_URL"])
