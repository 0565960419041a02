// How the client connects, looked at from the server's side: the application_name operators see, the
// connect options (a statement cache off through the real PgBouncer, retrying a server that is not up yet,
// the statement timeout), TLS against a server set up like a managed one, the libpq environment and
// password file, and DSN passwords kept out of every error and inspect().
//
// The TLS tests need the TLS-only cluster that `PGMQ_PG_TLS=1 tests/with-postgres.sh` starts (`make test`
// does): ssl=on with its own CA, `hostssl ... scram-sha-256`, `hostssl ... cert` for the role pgmq_cert,
// `hostnossl ... reject`. Without it they are skipped, with the reason, unless PGMQ_REQUIRE_TLS_TESTS=1
// (`make test`), where they fail. What the server sees is read with node-postgres (`pg`), never through pgmq.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, connect as connectTcp, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { inspect, promisify } from 'node:util'
import pg from 'pg'
import { connect, ConnectionError, InvalidOptionError, type Client, type ConnectOptions } from 'pgmq'
import { client, dsn, uniqueName } from './helpers.ts'

const T = { timeout: 30_000 }
/** A failing connect must fail well within this. */
const CONNECT_TIMEOUT_MS = 3_000
const ENV_FIXTURE = join(__dirname, 'fixtures', 'env-roundtrip.cjs')
const run = promisify(execFile)

interface TlsServer {
  host: string
  port: string
  password: string
  dir: string
  socketDir: string
  url: string
}

function readTlsServer(): TlsServer | undefined {
  const e = process.env
  const [host, port, password, dir, socketDir, url] = [
    e.PGMQ_TLS_HOST, e.PGMQ_TLS_PORT, e.PGMQ_TLS_PASSWORD, e.PGMQ_TLS_DIR, e.PGMQ_TLS_SOCKET_DIR, e.PGMQ_TLS_URL,
  ]
  if (!host || !port || !password || !dir || !socketDir || !url) return undefined
  return { host, port, password, dir, socketDir, url }
}

const TLS = readTlsServer()
// `make test` sets PGMQ_REQUIRE_TLS_TESTS=1: there a missing TLS server fails the tests instead of skipping them.
const SKIP_TLS =
  TLS === undefined && process.env.PGMQ_REQUIRE_TLS_TESTS !== '1'
    ? 'no TLS server (PGMQ_TLS_* not set; PGMQ_PG_TLS=1 tests/with-postgres.sh starts one)'
    : false
const TLS_TEST = { ...T, skip: SKIP_TLS }

function tls(): TlsServer {
  if (TLS === undefined) throw new Error('PGMQ_TLS_* not set: start the tests with PGMQ_PG_TLS=1 tests/with-postgres.sh')
  return TLS
}

const file = (name: string): string => join(tls().dir, name)

/** A key=value DSN as pgmq_tls (scram over TLS) to `host`, plus the `extra` pairs. */
function tlsDsn(host = 'localhost', extra = ''): string {
  return `host=${host} port=${tls().port} user=pgmq_tls password=${tls().password} dbname=postgres ${extra}`
}

function verifyFull(host = 'localhost', extra = ''): string {
  return tlsDsn(host, `sslmode=verify-full sslrootcert=${file('ca.crt')} ${extra}`)
}

/** Runs `fn` on a node-postgres connection (as the superuser `postgres`) and closes it. */
async function withAdmin<R>(config: pg.ClientConfig, fn: (admin: pg.Client) => Promise<R>): Promise<R> {
  const admin = new pg.Client(config)
  await admin.connect()
  try {
    return await fn(admin)
  } finally {
    await admin.end()
  }
}

/** [user, TLS used] of every backend of the TLS cluster whose application_name is `app`, read over its
 * unix socket (no TLS, no password there). */
async function tlsBackends(app: string): Promise<Array<[string, boolean]>> {
  const socket = { host: tls().socketDir, port: Number(tls().port), user: 'postgres', database: 'postgres' }
  return withAdmin(socket, async (admin) => {
    const { rows } = await admin.query(
      `SELECT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
       WHERE a.application_name = $1 ORDER BY a.pid`,
      [app],
    )
    return rows.map((r): [string, boolean] => [r.usename, r.ssl])
  })
}

/** The ConnectionError that connecting with `dsn` rejects with, and how long it took to say so. */
async function connectionError(dsn: string): Promise<{ error: ConnectionError; ms: number }> {
  const started = Date.now()
  try {
    const c = await connect(dsn, { connectTimeoutMs: CONNECT_TIMEOUT_MS })
    await c.close()
  } catch (error) {
    assert.ok(error instanceof ConnectionError, `expected a ConnectionError, got ${String(error)}`)
    assert.equal(error.code, 'connection')
    return { error, ms: Date.now() - started }
  }
  assert.fail(`connecting with ${dsn} succeeded`)
}

/** Creates a queue, sends `body`, receives and acks it, waits for its outcome, deletes the queue. */
async function roundTrip(c: Client, body: string): Promise<void> {
  const name = uniqueName('conn')
  await c.createQueue(name)
  const queue = c.queue(name)
  const sent = await queue.send(body)
  for await (const m of queue.receive()) {
    assert.equal(m.body.toString(), body)
    await m.ack()
    break
  }
  assert.equal(await sent.completed(), 'completed')
  await c.deleteQueue(name)
}

// ---------------------------------------------------------------------------------------------------
// application_name

/** The application_name of every backend of a client connected with `options`, as pg_stat_activity shows it. A role
 * of its own tells this client's backends apart from every other connection (suites run in parallel). */
async function applicationNamesOfOwnClient(options: ConnectOptions): Promise<string[]> {
  const role = `pgmq_app_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const admin = { connectionString: dsn() }
  // The schema is made as postgres, so the role owns nothing and can be dropped afterwards.
  await (await client()).close()
  await withAdmin(admin, (a) => a.query(`CREATE ROLE "${role}" LOGIN SUPERUSER`))
  try {
    const url = new URL(dsn())
    url.username = role
    await using c = await connect(url.toString(), options)
    return await withAdmin(admin, async (a) => {
      const { rows } = await a.query('SELECT application_name FROM pg_stat_activity WHERE usename = $1', [role])
      return rows.map((r) => r.application_name)
    })
  } finally {
    await withAdmin(admin, async (a) => {
      await a.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role])
      await a.query(`DROP ROLE "${role}"`)
    })
  }
}

test('every backend of a client shows application_name pgmq-node in pg_stat_activity', T, async () => {
  const names = await applicationNamesOfOwnClient({ poolSize: 1 })

  // One pool connection (poolSize 1, opened by connect) and the LISTEN connection.
  assert.deepEqual(names, ['pgmq-node', 'pgmq-node'])
})

test('applicationName given to connect is what every backend shows in pg_stat_activity', T, async () => {
  const names = await applicationNamesOfOwnClient({ poolSize: 1, applicationName: 'node-billing' })

  assert.deepEqual(names, ['node-billing', 'node-billing'])
})

// ---------------------------------------------------------------------------------------------------
// Connect options

// The real PgBouncer in transaction pooling mode in front of the DATABASE_URL cluster; `make test` sets
// PGMQ_REQUIRE_PGBOUNCER_TESTS=1, where a missing one fails the test instead of skipping it.
const PGBOUNCER_URL = process.env.PGMQ_PGBOUNCER_URL
const SKIP_PGBOUNCER =
  !PGBOUNCER_URL && process.env.PGMQ_REQUIRE_PGBOUNCER_TESTS !== '1'
    ? 'no PgBouncer (PGMQ_PGBOUNCER_URL not set; PGMQ_PG_PGBOUNCER=1 tests/with-postgres.sh starts one)'
    : false

test('a client without statement cache works through transaction-pooling PgBouncer', { ...T, skip: SKIP_PGBOUNCER }, async () => {
  if (!PGBOUNCER_URL) throw new Error('PGMQ_PGBOUNCER_URL not set: start the tests with PGMQ_PG_PGBOUNCER=1 tests/with-postgres.sh')
  // Work through the pooler, LISTEN direct: named statements would leak between the pooler's clients.
  await using c = await connect(PGBOUNCER_URL, { listenDsn: dsn(), statementCache: false, poolSize: 2 })

  await roundTrip(c, 'through pgbouncer')
})

/** A TCP front on 127.0.0.1 for the DATABASE_URL server that hangs up on its first `hangUps` connections, as a
 * server that is still starting does, and forwards the ones after them. */
async function hangingUpFront(hangUps: number): Promise<{ port: number; accepted: () => number } & AsyncDisposable> {
  const upstream = new URL(dsn())
  const sockets = new Set<Socket>()
  let accepted = 0
  const server = createServer((client) => {
    accepted += 1
    client.on('error', () => {})
    if (accepted <= hangUps) {
      client.destroy()
      return
    }
    const postgres = connectTcp(Number(upstream.port || 5432), upstream.hostname || 'localhost')
    postgres.on('error', () => client.destroy())
    client.on('close', () => postgres.destroy())
    postgres.on('close', () => client.destroy())
    for (const s of [client, postgres]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
    }
    client.pipe(postgres).pipe(client)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as { port: number }).port,
    accepted: () => accepted,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}

test('connectRetryMs waits for a server that hangs up while it starts', T, async () => {
  await using front = await hangingUpFront(2)
  const url = new URL(dsn())
  url.hostname = '127.0.0.1'
  url.port = String(front.port)

  const withoutRetry = await connect(url.toString(), { poolSize: 1 }).then(
    (c) => c.close().then(() => assert.fail('connected without a retry')),
    (e: unknown) => e,
  )
  {
    await using c = await connect(url.toString(), { poolSize: 1, connectRetryMs: 10_000 })
    await roundTrip(c, 'after the retry')
  }

  assert.ok(withoutRetry instanceof ConnectionError, String(withoutRetry))
  assert.equal(withoutRetry.code, 'connection')
  // The first two were hung up on (one each); the retry got through on the third.
  assert.ok(front.accepted() >= 3, `${front.accepted()} connections`)
})

test('a statementTimeoutMs that is not positive rejects with InvalidOptionError', T, async () => {
  for (const statementTimeoutMs of [0, -1, Number.NaN]) {
    const error = await connect(dsn(), { statementTimeoutMs }).then(
      (c) => c.close().then(() => assert.fail(`connected with statementTimeoutMs ${statementTimeoutMs}`)),
      (e: unknown) => e,
    )

    assert.ok(error instanceof InvalidOptionError, `${statementTimeoutMs}: ${String(error)}`)
    assert.match(error.message, /statement_?timeout/i)
  }
})

// ---------------------------------------------------------------------------------------------------
// TLS

for (const form of ['URL', 'key=value'] as const) {
  test(`verify-full (${form} DSN) encrypts the pool and the LISTEN connection`, TLS_TEST, async () => {
    const app = uniqueName('tls-app')
    const dsn =
      form === 'URL' ? `${tls().url}&application_name=${app}` : verifyFull('localhost', `application_name=${app}`)

    let backends: Array<[string, boolean]>
    {
      await using c = await connect(dsn, { poolSize: 1 })
      await c.migrate()
      await roundTrip(c, 'over tls')
      backends = await tlsBackends(app)
    }

    // One pool connection and the LISTEN connection, both over TLS.
    assert.deepEqual(backends, [['pgmq_tls', true], ['pgmq_tls', true]])
  })
}

test('an unrelated CA fails with ConnectionError saying the certificate is not trusted', TLS_TEST, async () => {
  const { error, ms } = await connectionError(tlsDsn('localhost', `sslmode=verify-full sslrootcert=${file('other-ca.crt')}`))

  assert.match(error.message, /not trusted/)
  assert.ok(ms < CONNECT_TIMEOUT_MS, `took ${ms} ms`)
})

test('a wrong host name fails verify-full with ConnectionError saying so', TLS_TEST, async () => {
  const { error, ms } = await connectionError(verifyFull('pgmq-wrong-name.invalid', 'hostaddr=127.0.0.1'))

  assert.match(error.message, /does not match the host name/)
  assert.ok(ms < CONNECT_TIMEOUT_MS, `took ${ms} ms`)
})

test('sslmode=require against a server without TLS fails with ConnectionError', TLS_TEST, async () => {
  // The DATABASE_URL cluster has ssl=off.
  const url = new URL(dsn())
  url.searchParams.set('sslmode', 'require')

  const { error, ms } = await connectionError(url.toString())

  assert.match(error.message, /does not support TLS/)
  assert.ok(ms < CONNECT_TIMEOUT_MS, `took ${ms} ms`)
})

test('a client certificate logs in where the server asks for one', TLS_TEST, async () => {
  const app = uniqueName('tls-cert')
  const base =
    `host=localhost port=${tls().port} user=pgmq_cert dbname=postgres application_name=${app} ` +
    `sslmode=verify-full sslrootcert=${file('ca.crt')}`

  let backends: Array<[string, boolean]>
  {
    await using c = await connect(`${base} sslcert=${file('client.crt')} sslkey=${file('client.key')}`, { poolSize: 1 })
    await c.migrate()
    backends = await tlsBackends(app)
  }
  // pg_hba's `cert` line: no certificate, no login.
  const { error } = await connectionError(base)

  assert.deepEqual(backends, [['pgmq_cert', true], ['pgmq_cert', true]])
  assert.match(error.message, /client certificate/)
})

// ---------------------------------------------------------------------------------------------------
// The libpq environment and password file, in a child process

/** A directory of its own (the child's HOME) holding a password file for pgmq_tls with `mode`. */
function homeWithPasswordFile(mode: number): { home: string; passfile: string } {
  const home = mkdtempSync(join(tmpdir(), 'pgmq-node-env-'))
  const passfile = join(home, 'pgpass')
  writeFileSync(passfile, `${tls().host}:${tls().port}:postgres:pgmq_tls:${tls().password}\n`)
  chmodSync(passfile, mode)
  return { home, passfile }
}

/** This process's environment without any PG* or PGMQ* variable (so no DATABASE_URL, no password), plus
 * the libpq variables that point at the TLS cluster; the password is only in `passfile`. */
function libpqEnv(home: string, passfile: string, app: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG') && k !== 'DATABASE_URL'))
  return {
    ...env,
    HOME: home, // no ~/.pgpass or ~/.postgresql of the machine's
    PGHOST: tls().host,
    PGPORT: tls().port,
    PGUSER: 'pgmq_tls',
    PGDATABASE: 'postgres',
    PGSSLMODE: 'verify-full',
    PGSSLROOTCERT: file('ca.crt'),
    PGPASSFILE: passfile,
    PGAPPNAME: app,
    PGCONNECT_TIMEOUT: String(CONNECT_TIMEOUT_MS / 1000),
  }
}

test('a child with only the PG* environment and a password file connects with an empty DSN', TLS_TEST, async () => {
  const app = uniqueName('env-app')
  const { home, passfile } = homeWithPasswordFile(0o600)
  const child = spawn(process.execPath, [ENV_FIXTURE, uniqueName('env')], {
    env: libpqEnv(home, passfile, app),
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const closed = once(child, 'close')
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const lineStarting = async (prefix: string): Promise<string> => {
    for (;;) {
      const { done, value } = await lines.next()
      if (done) throw new Error(`the child ended without printing ${prefix}; stderr:\n${stderr}`)
      if (value.startsWith(prefix)) return value
    }
  }
  try {
    const received = await lineStarting('RECEIVED ')
    const outcome = await lineStarting('OUTCOME ')
    // PGAPPNAME names the child's backends; PGSSLMODE=verify-full made them TLS.
    const backends = await tlsBackends(app)
    child.stdin.end()
    const [code] = await closed

    assert.equal(received, 'RECEIVED from the environment')
    assert.equal(outcome, 'OUTCOME completed')
    assert.deepEqual(backends, [['pgmq_tls', true], ['pgmq_tls', true]])
    assert.equal(code, 0, stderr)
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    rmSync(home, { recursive: true, force: true })
  }
})

test('a world-readable password file is ignored, and connecting fails with ConnectionError', TLS_TEST, async () => {
  // libpq ignores a password file that group or others can read; so does pgmq.
  const { home, passfile } = homeWithPasswordFile(0o644)
  try {
    assert.equal(statSync(passfile).mode & 0o777, 0o644)

    const { stdout } = await run(process.execPath, [ENV_FIXTURE, uniqueName('env')], {
      env: libpqEnv(home, passfile, uniqueName('env-app')),
      timeout: 20_000,
    })

    assert.match(stdout, /^FAILED ConnectionError connection .*password/)
    assert.ok(!stdout.includes(tls().password))
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
})

// ---------------------------------------------------------------------------------------------------
// Passwords never shown

/** Every way a person could see an error: its message, String(), inspect() (with hidden fields and
 * causes), the stack. */
function everythingShown(error: unknown): string {
  const e = error as Error
  return [e.message, String(e), inspect(e, { showHidden: true, depth: Infinity }), e.stack ?? ''].join('\n')
}

for (const form of ['URL', 'key=value'] as const) {
  test(`a wrong password (${form} DSN) appears in no error message or inspect()`, TLS_TEST, async () => {
    const secret = `Wr0ngSecret${randomUUID().slice(0, 8)}`
    const dsn =
      form === 'URL'
        ? `postgres://pgmq_tls:${secret}@localhost:${tls().port}/postgres?sslmode=verify-full&sslrootcert=${file('ca.crt')}`
        : verifyFull().replace(tls().password, secret)

    const { error } = await connectionError(dsn)

    assert.match(error.message, /password authentication failed/)
    const shown = everythingShown(error)
    assert.ok(!shown.includes(secret), shown)
  })
}

test('a malformed DSN with a password rejects with InvalidOptionError without it', T, async () => {
  const secret = 'S3cretInKeyValue'
  for (const bad of [
    `host=localhost user=u password=${secret} port=not-a-port`,
    `host=localhost user=u password='${secret}`,
    `postgres://u:${secret}@localhost:not-a-port/db`,
    `postgres://u@localhost/db?password=${secret}&bogus=1`,
  ]) {
    const error = await connect(bad).then(
      () => assert.fail(`connecting with ${bad} succeeded`),
      (e: unknown) => e,
    )

    assert.ok(error instanceof InvalidOptionError, `${bad}: ${String(error)}`)
    const shown = everythingShown(error)
    assert.ok(!shown.includes(secret), shown)
  }
})

test('a connected client shows no password in inspect() or String()', TLS_TEST, async () => {
  await using c = await connect(tls().url)

  const shown = [inspect(c, { showHidden: true, depth: Infinity }), String(c), JSON.stringify(c)]

  assert.ok(!shown.some((s) => s.includes(tls().password)), shown.join('\n'))
})

// ---------------------------------------------------------------------------------------------------
// schema: beside Tembo's pgmq

test('with schema, pgmq lives beside a Tembo pgmq schema in one database', T, async () => {
  const database = uniqueName('pgmq_beside').replaceAll('-', '_')
  await withAdmin({ connectionString: dsn() }, (admin) => admin.query(`CREATE DATABASE ${database}`))
  const url = new URL(dsn())
  url.pathname = `/${database}`
  try {
    await withAdmin({ connectionString: url.toString() }, (tembo) =>
      tembo.query(`CREATE SCHEMA pgmq;
        CREATE TABLE pgmq.meta (queue_name varchar UNIQUE NOT NULL, is_partitioned boolean NOT NULL,
                                is_unlogged boolean NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
        INSERT INTO pgmq.meta VALUES ('jobs', false, false, now());`),
    )
    const refused = await connect(url.toString())
    try {
      await assert.rejects(refused.migrate(), (e: Error & { code?: string }) => e.code === 'schema_conflict')
    } finally {
      await refused.close()
    }
    const c = await connect(url.toString(), { schema: 'pgmq_node' })
    try {
      await c.migrate()
      await roundTrip(c, 'beside tembo')
    } finally {
      await c.close()
    }
    const rows = await withAdmin({ connectionString: url.toString() }, async (admin) =>
      (await admin.query(`SELECT (SELECT count(*)::int FROM pgmq.meta) AS tembo, to_regclass('pgmq_node.messages') IS NOT NULL AS ours`)).rows,
    )
    assert.deepEqual(rows, [{ tembo: 1, ours: true }])
  } finally {
    await withAdmin({ connectionString: dsn() }, (admin) => admin.query(`DROP DATABASE ${database} WITH (FORCE)`))
  }
})

test('a schema that is not a plain lower-case identifier rejects with InvalidOptionError', T, async () => {
  await assert.rejects(connect(dsn(), { schema: 'Not Valid' }), InvalidOptionError)
})
