"""``python -m pgmq demo [DSN]``: runs the seed example and prints sent, received, done processing, acked,
completed.

The database is DSN, else ``$DATABASE_URL``, else a throwaway cluster started from the local PostgreSQL
server binaries (and deleted afterwards). The program is the seed example (``examples/python/seed.py``
in the repository, the quick start of the package's README, written with anyio) in plain asyncio, so that
pgmq itself needs no dependency: two idle workers, one message; one worker receives it, works for a
second and acks it by leaving its ``acquire()`` block, and the sender's completion resolves.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import List, Optional

import pgmq

USAGE = "usage: python -m pgmq demo [DSN]   (default: $DATABASE_URL, else a throwaway local PostgreSQL)"


async def seed(dsn: str) -> None:
    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue("myq", client)
        async with pgmq.connect_to_queue("myq", client) as queue:

            async def worker() -> None:
                async with queue.receive() as msg_handle_rcv_stream:
                    async with (await msg_handle_rcv_stream.receive()).acquire():
                        print("received", flush=True)
                        await asyncio.sleep(1)
                        print("done processing", flush=True)
                        print("acked", flush=True)

            workers = [asyncio.ensure_future(worker()) for _ in range(2)]
            try:
                async with queue.send(b'{"foo":"bar"}') as completion_handle:
                    print("sent", flush=True)
                    await completion_handle()
                    print("completed", flush=True)
            finally:
                # One worker got the message; the other is still waiting: stop it.
                for w in workers:
                    w.cancel()
                await asyncio.gather(*workers, return_exceptions=True)


def demo(dsn: Optional[str]) -> int:
    if dsn is None:
        dsn = os.environ.get("DATABASE_URL") or None
    if dsn is not None:
        asyncio.run(seed(dsn))
        return 0
    from ._embedded import ClusterError, throwaway_cluster

    # SIGTERM unwinds like Ctrl-C, so the cluster is always stopped and deleted.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        with throwaway_cluster() as url:
            print(f"pgmq demo: throwaway PostgreSQL at {url}", file=sys.stderr)
            asyncio.run(seed(url))
    except ClusterError as e:
        print(f"pgmq demo: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv: List[str]) -> int:
    if not argv or argv[0] != "demo" or len(argv) > 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        return demo(argv[1] if len(argv) == 2 else None)
    except pgmq.PgmqError as e:
        print(f"pgmq demo: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
