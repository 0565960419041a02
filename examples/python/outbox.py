"""The transactional outbox: an order row and its message, committed together on your own connection.

``pgmq.sql.send_json(...)`` is the call of pgmq's SQL function ``pgmq.send_json``; ``pgmq.sql.execute``
runs it on the caller's asyncpg connection, inside the caller's transaction. The message exists exactly
when that transaction commits: workers are woken at commit, and a rollback leaves neither the order nor
its message. (psycopg 3 and SQLAlchemy work the same way: see examples/python/outbox_sqlalchemy.py.)

    python examples/python/outbox.py [DSN]     (default: $DATABASE_URL)

Output:
    committed order 1 and its message
    rolled back order 2: no row, and 1 message queued (order 1's)
    worker got {'order': 1, 'total': 9.5}
    order 1's message: completed
    unknown queue: QueueNotFound queue_not_found
"""

import anyio
import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

import pgmq

QUEUE = "examples-py-outbox"
TABLE = "examples_py_outbox_orders"


class PaymentDeclined(Exception):
    pass


async def main(dsn: str) -> None:
    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue(QUEUE, client)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
            await conn.execute(f"CREATE TABLE {TABLE} (id int PRIMARY KEY, total numeric NOT NULL)")

            # The order and its message: both, or neither.
            async with conn.transaction():
                await conn.execute(f"INSERT INTO {TABLE} VALUES (1, 9.5)")
                sent = await pgmq.sql.execute(conn, pgmq.sql.send_json(QUEUE, {"order": 1, "total": 9.5}))
            print("committed order 1 and its message")

            try:
                async with conn.transaction():
                    await conn.execute(f"INSERT INTO {TABLE} VALUES (2, 20)")
                    await pgmq.sql.execute(conn, pgmq.sql.send_json(QUEUE, {"order": 2, "total": 20}))
                    raise PaymentDeclined()
            except PaymentDeclined:
                orders = await conn.fetchval(f"SELECT count(*) FROM {TABLE} WHERE id = 2")
                async with pgmq.connect_to_queue(QUEUE, client) as queue:
                    queued = (await queue.get_statistics()).messages
                row = "its row kept" if orders else "no row"
                print(f"rolled back order 2: {row}, and {queued} message queued (order 1's)")

            # A worker (any language) gets the committed message; its outcome is tracked by the id.
            async with pgmq.connect_to_queue(QUEUE, client) as queue:
                async with queue.receive() as stream:
                    async with (await stream.receive()).acquire() as message:
                        print("worker got", message.json())
                async with queue.wait_for_completion(sent) as completion:
                    outcomes = await completion()
                print("order 1's message:", outcomes[sent].value)

            # pgmq's SQLSTATEs become pgmq's exceptions.
            try:
                async with conn.transaction():
                    await pgmq.sql.execute(conn, pgmq.sql.send("examples-py-no-such-queue", b"x"))
            except pgmq.QueueNotFound as e:
                print("unknown queue:", type(e).__name__, e.code)
        finally:
            await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
            await conn.close()
        await pgmq.delete_queue(QUEUE, client)


if __name__ == "__main__":
    import os
    import sys

    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else os.environ["DATABASE_URL"])
