"""How pgmq connects, looked at from the server's side: the application_name operators see, the connect
options (a statement cache off through the real PgBouncer, retrying a server that is not up yet, the
timeouts), TLS against a server set up like a managed one, the libpq environment and password file, and
DSN passwords kept out of every error and repr.

The TLS tests need the TLS-only cluster that `PGMQ_PG_TLS=1 tests/with-postgres.sh` starts (`make test`
does): `ssl=on` with its own CA, `hostssl ... scram-sha-256`, `hostssl ... cert` for the role pgmq_cert,
`hostnossl ... reject`. Without it they are skipped, with the reason, unless PGMQ_REQUIRE_TLS_TESTS=1
(`make test`), where they fail. What the server sees is read with psycopg, never through pgmq.
"""

from __future__ import annotations

import os
import stat
import sys
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from anyio.abc import ByteStream, Process, SocketAttribute, SocketStream, TaskGroup
from anyio.streams.buffered import BufferedByteReceiveStream
from psycopg.conninfo import conninfo_to_dict, make_conninfo

import pgmq
from support import FIVE_S, receive_within, unique

pytestmark = pytest.mark.anyio

# A failing connect must fail well within this (DSN `connect_timeout`, seconds).
CONNECT_TIMEOUT = 3


@dataclass(frozen=True)
class TlsServer:
    """The TLS-only cluster of tests/with-postgres.sh (PGMQ_TLS_*)."""

    host: str
    port: str
    password: str
    dir: Path
    socket_dir: str
    url: str

    def file(self, name: str) -> str:
        return str(self.dir / name)

    def dsn(self, host: str = "localhost", extra: str = "") -> str:
        """A key=value DSN as pgmq_tls (scram over TLS) to `host`, plus the `extra` pairs."""
        return (
            f"host={host} port={self.port} user=pgmq_tls password={self.password} dbname=postgres "
            f"connect_timeout={CONNECT_TIMEOUT} {extra}"
        )

    def verify_full(self, host: str = "localhost", extra: str = "") -> str:
        return self.dsn(host, f"sslmode=verify-full sslrootcert={self.file('ca.crt')} {extra}")

    @asynccontextmanager
    async def admin(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A superuser connection over the unix socket (no TLS, no password), for pg_stat_ssl."""
        async with await psycopg.AsyncConnection.connect(
            host=self.socket_dir, port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            yield conn

    async def backends(self, application_name: str) -> list[tuple[str, bool]]:
        """(user, TLS used) of every backend whose application_name is `application_name`."""
        async with self.admin() as conn:
            cursor = await conn.execute(
                "SELECT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
                " WHERE a.application_name = %s ORDER BY a.pid",
                (application_name,),
            )
            return [(str(user), bool(ssl)) for user, ssl in await cursor.fetchall()]


@pytest.fixture
def tls_server() -> TlsServer:
    env = os.environ
    keys = ("PGMQ_TLS_HOST", "PGMQ_TLS_PORT", "PGMQ_TLS_PASSWORD", "PGMQ_TLS_DIR", "PGMQ_TLS_SOCKET_DIR")
    if not all(env.get(k) for k in keys + ("PGMQ_TLS_URL",)):
        if env.get("PGMQ_REQUIRE_TLS_TESTS") == "1":
            pytest.fail("PGMQ_TLS_* not set: start the tests with PGMQ_PG_TLS=1 tests/with-postgres.sh")
        pytest.skip("no TLS server (PGMQ_TLS_* not set; PGMQ_PG_TLS=1 tests/with-postgres.sh starts one)")
    return TlsServer(
        host=env["PGMQ_TLS_HOST"],
        port=env["PGMQ_TLS_PORT"],
        password=env["PGMQ_TLS_PASSWORD"],
        dir=Path(env["PGMQ_TLS_DIR"]),
        socket_dir=env["PGMQ_TLS_SOCKET_DIR"],
        url=env["PGMQ_TLS_URL"],
    )


async def connection_error(dsn: str) -> tuple[pgmq.ConnectionError, float]:
    """The ConnectionError that connecting with `dsn` raises, and how long it took to say so."""
    started = time.monotonic()
    with anyio.fail_after(10), pytest.raises(pgmq.ConnectionError) as failed:
        client = await pgmq.connect(dsn)
        await client.close()
    assert failed.value.code == "connection"
    return failed.value, time.monotonic() - started


async def round_trip(client: pgmq.Client, body: bytes) -> None:
    """Creates a queue, sends `body`, receives and acks it, waits for its outcome, deletes the queue."""
    name = unique("conn")
    await pgmq.create_queue(name, client)
    async with pgmq.connect_to_queue(name, client) as queue:
        async with queue.send(body) as completion:
            async with queue.receive() as stream:
                async with (await receive_within(stream)).acquire() as message:
                    assert message.body == body
            with anyio.fail_after(FIVE_S):
                assert await completion() == {completion.ids[0]: pgmq.Outcome.COMPLETED}
    await pgmq.delete_queue(name, client)


# ---- application_name ----


@pytest.fixture
def own_role(migrated: str) -> Iterator[str]:
    """A login role of its own on the DATABASE_URL cluster, so the backends of one client are told apart
    from every other connection by their user; dropped (its sessions ended) afterwards."""
    role = f"pgmq_app_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(migrated, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN SUPERUSER')
    yield role
    with psycopg.connect(migrated, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
        admin.execute(f'DROP ROLE "{role}"')


async def application_names(migrated: str, role: str, **options: Any) -> list[str]:
    """The application_name of every backend of a client connected as `role` with `options`."""
    async with pgmq.connect(make_conninfo(migrated, user=role), **options):
        async with await psycopg.AsyncConnection.connect(migrated, autocommit=True) as admin:
            cursor = await admin.execute("SELECT application_name FROM pg_stat_activity WHERE usename = %s", (role,))
            return [name for (name,) in await cursor.fetchall()]


async def test_every_backend_of_a_client_shows_application_name_pgmq_python(migrated: str, own_role: str) -> None:
    names = await application_names(migrated, own_role, pool_size=1)

    # One pool connection (pool_size=1, opened by connect) and the LISTEN connection.
    assert names == ["pgmq-python", "pgmq-python"]


async def test_application_name_given_to_connect_is_what_every_backend_shows(migrated: str, own_role: str) -> None:
    names = await application_names(migrated, own_role, pool_size=1, application_name="py-billing")

    assert names == ["py-billing", "py-billing"]


# ---- connect options ----


@pytest.fixture
def pgbouncer_url() -> str:
    """The real PgBouncer in transaction pooling mode in front of the DATABASE_URL cluster (PGMQ_PGBOUNCER_URL).
    Skipped, with the reason, when it was not started, unless PGMQ_REQUIRE_PGBOUNCER_TESTS=1 (`make test`)."""
    url = os.environ.get("PGMQ_PGBOUNCER_URL")
    if not url:
        if os.environ.get("PGMQ_REQUIRE_PGBOUNCER_TESTS") == "1":
            pytest.fail("PGMQ_PGBOUNCER_URL not set: start the tests with PGMQ_PG_PGBOUNCER=1 tests/with-postgres.sh")
        pytest.skip("no PgBouncer (PGMQ_PGBOUNCER_URL not set; PGMQ_PG_PGBOUNCER=1 tests/with-postgres.sh starts one)")
    return url


async def test_a_client_without_statement_cache_works_through_transaction_pooling_pgbouncer(
    pgbouncer_url: str, migrated: str
) -> None:
    # Work through the pooler, LISTEN direct: named statements would leak between the pooler's clients.
    async with pgmq.connect(pgbouncer_url, listen_dsn=migrated, statement_cache=False, pool_size=2) as client:
        await round_trip(client, b"through pgbouncer")


@dataclass
class Front:
    """A TCP front on 127.0.0.1 for the DATABASE_URL server that hangs up on its first `hang_ups`
    connections, as a server that is still starting does, and forwards the ones after them."""

    port: int
    accepted: int = 0


async def forward(source: ByteStream, sink: ByteStream, connection: TaskGroup) -> None:
    """Copies `source` to `sink` until either side closes, then ends the whole connection."""
    try:
        async for chunk in source:
            await sink.send(chunk)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass
    connection.cancel_scope.cancel()


@asynccontextmanager
async def hanging_up_front(dsn: str, hang_ups: int) -> AsyncIterator[Front]:
    server = conninfo_to_dict(dsn)
    upstream = (str(server.get("host") or "localhost"), int(server.get("port") or 5432))
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    front = Front(port=listener.extra(SocketAttribute.local_port))

    async def serve(client: SocketStream) -> None:
        front.accepted += 1
        async with client:
            if front.accepted <= hang_ups:
                return
            async with await anyio.connect_tcp(*upstream) as server_side, anyio.create_task_group() as connection:
                connection.start_soon(forward, client, server_side, connection)
                connection.start_soon(forward, server_side, client, connection)

    async with listener, anyio.create_task_group() as fronts:
        fronts.start_soon(listener.serve, serve)
        try:
            yield front
        finally:
            fronts.cancel_scope.cancel()


async def test_connect_retry_waits_for_a_server_that_hangs_up_while_it_starts(migrated: str) -> None:
    async with hanging_up_front(migrated, hang_ups=2) as front:
        dsn = make_conninfo(migrated, host="127.0.0.1", port=str(front.port))

        with anyio.fail_after(FIVE_S), pytest.raises(pgmq.ConnectionError) as without_retry:
            await pgmq.connect(dsn, pool_size=1)
        with anyio.fail_after(FIVE_S):
            async with pgmq.connect(dsn, pool_size=1, connect_retry=timedelta(seconds=10)) as client:
                await round_trip(client, b"after the retry")

    assert without_retry.value.code == "connection"
    # The first two were hung up on (one each); the retry got through on the third.
    assert front.accepted >= 3, front.accepted


@pytest.mark.parametrize("statement_timeout", [0, timedelta(0), -1.5])
async def test_a_statement_timeout_that_is_not_positive_raises_invalid_option(
    migrated: str, statement_timeout: pgmq.Duration
) -> None:
    with pytest.raises(pgmq.InvalidOption) as failed:
        await pgmq.connect(migrated, statement_timeout=statement_timeout)

    assert "statement_timeout" in str(failed.value), failed.value


async def test_connect_timeout_bounds_the_wait_for_a_server_that_never_answers() -> None:
    # A listener that accepts and never says a word (a hung server, or a proxy with nothing behind it).
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(SocketAttribute.local_port)
    held: list[SocketStream] = []

    async def hold(client: SocketStream) -> None:
        held.append(client)

    async with listener, anyio.create_task_group() as serving:
        serving.start_soon(listener.serve, hold)
        started = time.monotonic()
        with anyio.fail_after(FIVE_S), pytest.raises(pgmq.ConnectionError):
            await pgmq.connect(f"host=127.0.0.1 port={port} user=postgres", connect_timeout=0.5)
        took = time.monotonic() - started
        serving.cancel_scope.cancel()
    for client in held:
        await client.aclose()

    assert 0.4 < took < 4, took
    with pytest.raises(pgmq.InvalidOption):
        await pgmq.connect(f"host=127.0.0.1 port={port} user=postgres", connect_timeout=0)


# ---- TLS ----


@pytest.mark.parametrize("form", ["url", "key-value"])
async def test_verify_full_encrypts_the_pool_and_the_listen_connection(tls_server: TlsServer, form: str) -> None:
    app = unique("tls-app")
    if form == "url":
        dsn = f"{tls_server.url}&application_name={app}"
    else:
        dsn = tls_server.verify_full(extra=f"application_name={app}")

    async with pgmq.connect(dsn, pool_size=1) as client:
        await pgmq.migrate_to_latest_version(client)
        await round_trip(client, b"over tls")
        backends = await tls_server.backends(app)

    # One pool connection and the LISTEN connection, both over TLS.
    assert backends == [("pgmq_tls", True), ("pgmq_tls", True)]


async def test_an_unrelated_ca_fails_with_connection_error_saying_the_certificate_is_not_trusted(
    tls_server: TlsServer,
) -> None:
    dsn = tls_server.dsn(extra=f"sslmode=verify-full sslrootcert={tls_server.file('other-ca.crt')}")

    error, took = await connection_error(dsn)

    assert "not trusted" in str(error), error
    assert took < CONNECT_TIMEOUT, took


async def test_a_wrong_host_name_fails_verify_full_with_connection_error_saying_so(tls_server: TlsServer) -> None:
    dsn = tls_server.verify_full("pgmq-wrong-name.invalid", "hostaddr=127.0.0.1")

    error, took = await connection_error(dsn)

    assert "does not match the host name" in str(error), error
    assert took < CONNECT_TIMEOUT, took


async def test_sslmode_require_against_a_server_without_tls_fails_with_connection_error(
    tls_server: TlsServer, migrated: str
) -> None:
    # The DATABASE_URL cluster has ssl=off.
    dsn = make_conninfo(migrated, sslmode="require", connect_timeout=str(CONNECT_TIMEOUT))

    error, took = await connection_error(dsn)

    assert "does not support TLS" in str(error), error
    assert took < CONNECT_TIMEOUT, took


async def test_a_client_certificate_logs_in_where_the_server_asks_for_one(tls_server: TlsServer) -> None:
    app = unique("tls-cert")
    base = (
        f"host=localhost port={tls_server.port} user=pgmq_cert dbname=postgres application_name={app} "
        f"sslmode=verify-full sslrootcert={tls_server.file('ca.crt')} connect_timeout={CONNECT_TIMEOUT}"
    )
    with_cert = f"{base} sslcert={tls_server.file('client.crt')} sslkey={tls_server.file('client.key')}"

    async with pgmq.connect(with_cert, pool_size=1) as client:
        await pgmq.migrate_to_latest_version(client)
        backends = await tls_server.backends(app)
    # pg_hba's `cert` line: no certificate, no login.
    error, _ = await connection_error(base)

    assert backends == [("pgmq_cert", True), ("pgmq_cert", True)]
    assert "client certificate" in str(error), error


# ---- the libpq environment and password file, in a child process ----

CHILD = """
import sys
import anyio, pgmq

async def main() -> None:
    # Everything from the PG* environment and the password file.
    try:
        client = await pgmq.connect("", pool_size=1)
    except pgmq.PgmqError as e:
        print("FAILED", type(e).__name__, e.code, e, flush=True)
        return
    async with client:
        await pgmq.migrate_to_latest_version(client)
        name = sys.argv[1]
        await pgmq.create_queue(name, client)
        async with pgmq.connect_to_queue(name, client) as queue:
            async with queue.send(b"from the environment") as completion:
                async with queue.receive() as stream:
                    async with (await stream.receive()).acquire() as message:
                        print("RECEIVED", message.body.decode(), flush=True)
                print("OUTCOME", (await completion())[completion.ids[0]].value, flush=True)
        # Connected until the parent has looked at pg_stat_activity.
        await anyio.to_thread.run_sync(sys.stdin.readline)
        await pgmq.delete_queue(name, client)

anyio.run(main)
"""


def libpq_env(server: TlsServer, passfile: Path, home: Path, application_name: str) -> dict[str, str]:
    """This process's environment without any PG* or PGMQ* variable (so no DATABASE_URL, no password),
    plus the libpq variables that point at the TLS cluster; the password is only in `passfile`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    env.update(
        HOME=str(home),  # no ~/.pgpass or ~/.postgresql of the machine's
        PYTHONUNBUFFERED="1",
        PGHOST=server.host,
        PGPORT=server.port,
        PGUSER="pgmq_tls",
        PGDATABASE="postgres",
        PGSSLMODE="verify-full",
        PGSSLROOTCERT=server.file("ca.crt"),
        PGPASSFILE=str(passfile),
        PGAPPNAME=application_name,
        PGCONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
    )
    return env


def password_file(server: TlsServer, directory: Path, mode: int) -> Path:
    path = directory / "pgpass"
    path.write_text(f"{server.host}:{server.port}:postgres:pgmq_tls:{server.password}\n")
    path.chmod(mode)
    return path


async def read_line_starting(process: Process, stdout: BufferedByteReceiveStream, prefix: str) -> str:
    """The next line of the child's stdout that starts with `prefix` (the lines before it are skipped)."""
    skipped: list[str] = []
    while True:
        try:
            line = (await stdout.receive_until(b"\n", 65536)).decode()
        except (anyio.EndOfStream, anyio.IncompleteRead):
            assert process.stderr is not None
            stderr = b"".join([chunk async for chunk in process.stderr]).decode(errors="replace")
            raise AssertionError(f"the child ended without {prefix!r} after {skipped}; stderr:\n{stderr}") from None
        if line.startswith(prefix):
            return line
        skipped.append(line)


async def test_a_child_with_only_the_pg_environment_and_a_password_file_connects_with_an_empty_dsn(
    tls_server: TlsServer, tmp_path: Path
) -> None:
    app = unique("env-app")
    passfile = password_file(tls_server, tmp_path, 0o600)
    env = libpq_env(tls_server, passfile, tmp_path, app)

    async with await anyio.open_process([sys.executable, "-c", CHILD, unique("env")], env=env) as child:
        try:
            assert child.stdout is not None and child.stdin is not None
            stdout = BufferedByteReceiveStream(child.stdout)
            with anyio.fail_after(30):
                received = await read_line_starting(child, stdout, "RECEIVED ")
                outcome = await read_line_starting(child, stdout, "OUTCOME ")
            # PGAPPNAME names the child's backends; PGSSLMODE=verify-full made them TLS.
            backends = await tls_server.backends(app)
            await child.stdin.send(b"\n")
            with anyio.fail_after(FIVE_S):
                returncode = await child.wait()
        finally:
            if child.returncode is None:
                child.kill()

    assert received == "RECEIVED from the environment"
    assert outcome == "OUTCOME completed"
    assert backends == [("pgmq_tls", True), ("pgmq_tls", True)]
    assert returncode == 0


async def test_a_world_readable_password_file_is_ignored_and_connecting_fails(
    tls_server: TlsServer, tmp_path: Path
) -> None:
    # libpq ignores a password file that group or others can read; so does pgmq.
    passfile = password_file(tls_server, tmp_path, 0o644)
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o644
    env = libpq_env(tls_server, passfile, tmp_path, unique("env-app"))

    with anyio.fail_after(30):
        result = await anyio.run_process([sys.executable, "-c", CHILD, unique("env")], env=env, check=False)

    stdout = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert stdout.startswith("FAILED ConnectionError connection "), stdout
    assert "password" in stdout, stdout
    assert tls_server.password not in stdout


# ---- passwords never shown ----


def everything_shown(error: BaseException) -> str:
    """Every way a person could see an exception: str, repr, args, the formatted traceback."""
    formatted = traceback.format_exception(type(error), error, error.__traceback__)
    return "\n".join([str(error), repr(error), repr(error.args), *formatted])


@pytest.mark.parametrize("form", ["url", "key-value"])
async def test_a_wrong_password_appears_in_no_error_message_or_repr(tls_server: TlsServer, form: str) -> None:
    secret = f"Wr0ngSecret{uuid.uuid4().hex[:8]}"
    url = f"postgres://pgmq_tls:{secret}@localhost:{tls_server.port}/postgres?sslmode=verify-full"
    url += f"&sslrootcert={tls_server.file('ca.crt')}&connect_timeout={CONNECT_TIMEOUT}"
    dsn = url if form == "url" else tls_server.verify_full().replace(tls_server.password, secret)
    connecting = pgmq.connect(dsn)

    with anyio.fail_after(10), pytest.raises(pgmq.ConnectionError) as failed:
        await connecting

    assert "password authentication failed" in str(failed.value), failed.value
    assert secret not in everything_shown(failed.value)
    assert secret not in repr(connecting)


@pytest.mark.parametrize(
    "dsn",
    [
        "host=localhost user=u password=S3cretInKeyValue port=not-a-port",
        "host=localhost user=u password='S3cretInKeyValue",
        "postgres://u:S3cretInKeyValue@localhost:not-a-port/db",
        "postgres://u@localhost/db?password=S3cretInKeyValue&bogus=1",
    ],
    ids=["bad-port", "unterminated-quote", "url-bad-port", "url-unknown-option"],
)
async def test_a_malformed_dsn_with_a_password_raises_invalid_option_without_it(dsn: str) -> None:
    connecting = pgmq.connect(dsn)

    with pytest.raises(pgmq.InvalidOption) as failed:
        await connecting

    assert "S3cretInKeyValue" not in everything_shown(failed.value)
    assert "S3cretInKeyValue" not in repr(connecting)


async def test_a_connected_client_and_its_connect_call_show_no_password(tls_server: TlsServer) -> None:
    connecting = pgmq.connect(tls_server.url)

    async with connecting as client:
        shown = [repr(connecting), repr(client), str(client), repr(client._native)]

    assert not [s for s in shown if tls_server.password in s], shown


def test_redact_dsn_masks_the_password_of_either_form_as_the_core_does() -> None:
    shown = [
        pgmq.redact_dsn("postgres://app:S3cret@db.internal:5432/jobs?sslmode=require"),
        pgmq.redact_dsn("postgres://app@db.internal/jobs?password=S3cret&application_name=w"),
        pgmq.redact_dsn("host=db.internal user=app password='S3 cret' dbname=jobs"),
        pgmq.redact_dsn("host=db.internal password=S3cret port=not a port"),
        pgmq.redact_dsn("postgres://app@db.internal/jobs"),
    ]

    assert shown == [
        "postgres://app:***@db.internal:5432/jobs?sslmode=require",
        "postgres://app@db.internal/jobs?password=***&application_name=w",
        "host=db.internal user=app password=*** dbname=jobs",
        "<unparsable DSN>",  # where the password ends cannot be told: nothing of it is shown
        "postgres://app@db.internal/jobs",
    ]
    with pytest.raises(TypeError):
        pgmq.redact_dsn(b"postgres://app:S3cret@db/jobs")  # type: ignore[arg-type]
