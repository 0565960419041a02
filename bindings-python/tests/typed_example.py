"""Every public name of `pgmq` used once with the types the spec promises, spelled out.

`mypy --strict` checks this module (test_examples.py), so a stub that drifts from the spec fails the
suite; the same test runs it against the database, so what is type-checked is also what works.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Mapping, Optional, Tuple, Type, Union

import anyio

import pgmq

AttributeValue = Union[str, int, float, bool, None]


async def exercise(dsn: str, name: str) -> List[str]:
    """Runs the whole API once on queue `name` (created and deleted here); returns what happened."""
    log: List[str] = []
    client = await pgmq.connect(dsn, listen_dsn=None, pool_size=4)
    await client.close()
    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        created: bool = await pgmq.create_queue(
            name,
            client,
            ack_deadline=timedelta(seconds=10),
            max_delivery_attempts=10,
            retention_period=timedelta(days=7),
            dlq_options=pgmq.QueueOptions(
                ack_deadline=timedelta(seconds=10), max_delivery_attempts=10, retention_period=timedelta(days=7)
            ),
        )
        again: bool = await pgmq.create_queue(
            name, client, ack_deadline=10, retention_period=60.0, dlq_options=None
        )
        dlq_name: str = pgmq.get_dlq_name(name)
        log.append(f"created={created} again={again} dlq={dlq_name}")

        async with pgmq.connect_to_queue(name, client) as queue:
            attributes: Dict[str, AttributeValue] = {"color": "red", "size": 3, "ratio": 0.5, "ok": True, "no": None}
            outgoing = pgmq.OutgoingMessage(b"with attributes", attributes=attributes)
            later: datetime = datetime.now(timezone.utc) - timedelta(seconds=1)
            async with queue.send(
                b'{"foo":"bar"}', outgoing, schedule_at=later, delay=None, track=True
            ) as completion:
                ids: Tuple[uuid.UUID, ...] = completion.ids
                color: pgmq.Filter = pgmq.Attribute("color").eq("red") | pgmq.Attribute("size").gt(2)
                combined: pgmq.Filter = (
                    pgmq.Attribute("a").ne(1)
                    & pgmq.Attribute("b").lt(1.5)
                    & pgmq.Attribute("c").le(2)
                    & pgmq.Attribute("d").ge("x")
                    & pgmq.Attribute("e").is_null()
                    & pgmq.Attribute("f").is_not_null()
                    & pgmq.Attribute("g").is_like("x%")
                    & pgmq.Attribute("h").is_not_like("y%")
                    & pgmq.Attribute("i").exists()
                    & pgmq.Attribute("j").does_not_exist()
                )
                log.append(f"filters built: {combined is not None}")
                async with queue.receive(batch_size=2, poll_interval=timedelta(seconds=30), filter=None) as stream:
                    handle: pgmq.MessageHandle = await stream.receive()
                    async with handle.acquire() as message:
                        message_id: uuid.UUID = message.id
                        body: bytes = message.body
                        attrs: Mapping[str, AttributeValue] = message.attributes
                        attempt: int = message.delivery_attempt
                        log.append(f"received {body!r} attempt {attempt} attributes {dict(attrs)}")
                    async for next_handle in stream:
                        async with next_handle.acquire() as second:
                            log.append(f"received {second.body!r} attributes {sorted(second.attributes.items())}")
                        break
                with anyio.fail_after(5):
                    outcomes: Dict[uuid.UUID, pgmq.Outcome] = await completion()
                    same: Dict[uuid.UUID, pgmq.Outcome] = await completion.wait()
                log.append(f"outcomes {sorted(o.name for o in outcomes.values())} same={outcomes == same}")
                assert message_id == ids[0]

            async with queue.receive(batch_size=1, poll_interval=0.5, filter=color):
                pass
            async with queue.send(b"cancel me", delay=timedelta(minutes=1)) as to_cancel:
                found: List[uuid.UUID] = await queue.cancel(to_cancel.ids[0], uuid.uuid4())
                log.append(f"cancelled {len(found)}")
            async with queue.send(b"untracked", delay=60.0, track=False):
                pass
            stats = await queue.get_statistics()
            counts: Tuple[int, int, int, int, int] = (
                stats.messages,
                stats.ready,
                stats.scheduled,
                stats.leased,
                stats.dead_lettered,
            )
            log.append(f"stats {counts}")
            async with queue.wait_for_completion(*ids, poll_interval=timedelta(seconds=10)) as waiter:
                with anyio.fail_after(5):
                    waited: Dict[uuid.UUID, pgmq.Outcome] = await waiter()
            log.append(f"waited {len(waited)}")

        errors: Tuple[Type[pgmq.PgmqError], ...] = (
            pgmq.QueueNotFound,
            pgmq.InvalidQueueName,
            pgmq.InvalidOption,
            pgmq.LeaseLost,
            pgmq.HandleError,
            pgmq.ConnectionError,
        )
        async with pgmq.connect_to_queue(f"missing-{name}"[:48], client) as missing:
            try:
                await missing.get_statistics()
            except errors as e:
                code: str = e.code
                log.append(f"error {type(e).__name__} {code}")
        outcome: Optional[pgmq.Outcome] = pgmq.Outcome.COMPLETED
        every = (pgmq.Outcome.COMPLETED, pgmq.Outcome.DEAD_LETTERED, pgmq.Outcome.CANCELLED, pgmq.Outcome.EXPIRED)
        log.append(f"outcome enum {outcome in every}")
        deleted: bool = await pgmq.delete_queue(name, client)
        log.append(f"deleted={deleted}")
    return log
