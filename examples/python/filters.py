"""Attributes, filters and scheduled messages.

Attributes are flat JSON scalars sent with a message; a receiver with a filter is only given the messages
whose attributes match, and the others wait for another receiver. A message sent with a ``delay`` (or a
``schedule_at``) waits in the table and is never delivered early.

    python examples/python/filters.py [DSN]     (default: $DATABASE_URL)

Output:
    urgent: page the on-call engineer {'kind': 'alert', 'priority': 9}
    left: 3 messages, 2 ready, 1 scheduled
    cancelled 3
"""

from datetime import timedelta

import anyio
import pgmq
from pgmq import Attribute, OutgoingMessage

QUEUE = "examples-py-filters"


async def main(dsn: str) -> None:
    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue(QUEUE, client)
        async with pgmq.connect_to_queue(QUEUE, client) as queue:
            sent = await queue.send(
                OutgoingMessage(b"disk at 81%", attributes={"kind": "alert", "priority": 3}),
                OutgoingMessage(b"page the on-call engineer", attributes={"kind": "alert", "priority": 9}),
                OutgoingMessage(b"weekly report", attributes={"kind": "report"}),
            )
            later = await queue.send(b"monthly report", delay=timedelta(hours=1))

            # Only alerts of priority 5 or more; combine conditions with & and |.
            urgent = Attribute("kind").eq("alert") & Attribute("priority").ge(5)
            async with queue.receive(filter=urgent) as stream:
                async with (await stream.receive()).acquire() as message:
                    print("urgent:", message.body.decode(), message.attributes)

            stats = await queue.get_statistics()
            print(f"left: {stats.messages} messages, {stats.ready} ready, {stats.scheduled} scheduled")
            cancelled = await queue.cancel(*sent.ids, *later.ids)  # the acked one is no longer there
            print("cancelled", len(cancelled))
        await pgmq.delete_queue(QUEUE, client)


if __name__ == "__main__":
    import os
    import sys

    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else os.environ["DATABASE_URL"])
