"""The transactional outbox with SQLAlchemy: an ORM object and its message in one ``Session`` commit.

``pgmq.sql.execute_sync(session, statement)`` runs pgmq's SQL send function on the session's connection,
in its transaction (``execute`` does the same on an ``AsyncSession`` or ``AsyncConnection``). The worker
is pgmq's asyncio receiver, as anywhere else: it is woken when the session commits.

    python examples/python/outbox_sqlalchemy.py [DSN]     (default: $DATABASE_URL)

Output:
    saved invoice 7 and queued its email
    emailing invoice 7 to ada@example.com
    the email's outcome: completed
"""

import uuid

import anyio
import sqlalchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import pgmq

QUEUE = "examples-py-outbox-sqlalchemy"


class Base(DeclarativeBase):
    pass


class Invoice(Base):
    __tablename__ = "examples_py_outbox_invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]


def save_invoice(engine: sqlalchemy.Engine) -> uuid.UUID:
    """The application's own transaction: the invoice row and the message commit together, or neither."""
    with Session(engine) as session, session.begin():
        invoice = Invoice(id=7, email="ada@example.com")
        session.add(invoice)
        session.flush()
        return pgmq.sql.execute_sync(
            session, pgmq.sql.send_json(QUEUE, {"invoice": invoice.id, "to": invoice.email})
        )


async def email_worker(dsn: str, sent: uuid.UUID) -> None:
    async with pgmq.connect(dsn) as client, pgmq.connect_to_queue(QUEUE, client) as queue:
        async with queue.receive() as stream:
            async with (await stream.receive()).acquire() as message:
                job = message.json()
                print(f"emailing invoice {job['invoice']} to {job['to']}")
        async with queue.wait_for_completion(sent) as completion:
            print("the email's outcome:", (await completion())[sent].value)


async def setup(dsn: str) -> None:
    async with pgmq.connect(dsn) as client:
        await pgmq.migrate_to_latest_version(client)
        await pgmq.create_queue(QUEUE, client)


async def teardown(dsn: str) -> None:
    async with pgmq.connect(dsn) as client:
        await pgmq.delete_queue(QUEUE, client)


def main(dsn: str) -> None:
    anyio.run(setup, dsn)
    engine = sqlalchemy.create_engine(sqlalchemy.make_url(dsn).set(drivername="postgresql+psycopg"))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    try:
        sent = save_invoice(engine)
        print("saved invoice 7 and queued its email")
        anyio.run(email_worker, dsn, sent)
    finally:
        Base.metadata.drop_all(engine)
        engine.dispose()
        anyio.run(teardown, dsn)


if __name__ == "__main__":
    import os
    import sys

    main(sys.argv[1] if len(sys.argv) > 1 else os.environ["DATABASE_URL"])
