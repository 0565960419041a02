// The core's log events reach Node: a logger set with setLogger() gets every level it has a method for;
// without one, warnings and errors are process warnings of type PgmqWarning (code PGMQ_WARN /
// PGMQ_ERROR). The events here are real ones: migrations applied to a fresh schema (info), the LISTEN
// connection terminated by the server (warn). The logger is process-wide: tests of this file run one
// after the other and each restores the default.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { connect, setLogger, type Client, type Logger } from 'pgmq'
import { dsn, uniqueName, until } from './helpers.ts'

const T = { timeout: 30_000 }
const TEN_S = 10_000

/** `p`, or a rejection naming `what` after `ms`; the timer also keeps the process alive while waiting. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** A promise of the first value `accept` takes, and the function to offer values to. */
function first<V>(accept: (v: V) => boolean): { value: Promise<V>; offer: (v: V) => void } {
  let resolve!: (v: V) => void
  const value = new Promise<V>((r) => (resolve = r))
  return { value, offer: (v) => accept(v) && resolve(v) }
}

/** Process warnings of type PgmqWarning while `fn` runs. */
async function withWarnings<R>(fn: (seen: Array<Error & { code?: string }>) => Promise<R>): Promise<R> {
  const seen: Array<Error & { code?: string }> = []
  const listener = (w: Error): void => {
    if (w.name === 'PgmqWarning') seen.push(w)
  }
  process.on('warning', listener)
  try {
    return await fn(seen)
  } finally {
    process.off('warning', listener)
  }
}

/** A migrated client whose backends show application_name `app`. */
async function clientNamed(app: string): Promise<Client> {
  const url = new URL(dsn())
  url.searchParams.set('application_name', app)
  const c = await connect(url.toString())
  await c.migrate()
  return c
}

/** Terminates every backend of `app` (the pool's and the LISTEN connection) and waits until those are gone. */
async function terminateBackends(app: string): Promise<void> {
  const admin = new pg.Client({ connectionString: dsn() })
  await admin.connect()
  try {
    const { rows } = await admin.query(
      'SELECT pid, pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1',
      [app],
    )
    assert.ok(rows.length >= 2, `a pool and a LISTEN backend of ${app}: ${rows.length}`)
    const pids = rows.map((r) => r.pid as number)
    // (The client reconnects at once, under the same application_name: wait for these pids.)
    await until(
      async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)', [pids])).rowCount === 0,
      TEN_S,
      `the backends of ${app} gone`,
    )
  } finally {
    await admin.end()
  }
}

const LISTENER_LOST = /^pgmq listener: connection lost/

test('a migration applied to a fresh schema reaches the logger at info, one line per migration', T, async () => {
  const schema = `logs_${randomUUID().slice(0, 8)}`
  const infos: string[] = []
  const applied = first<string>((m) => /^pgmq: applied migration 1 /.test(m))
  setLogger({
    info: (m) => {
      infos.push(m)
      applied.offer(m)
    },
  })
  try {
    await using c = await connect(dsn(), { schema })
    const version = await c.migrate()

    await within(applied.value, TEN_S, 'the info event of migration 1')
    await until(() => infos.filter((m) => m.startsWith('pgmq: applied migration')).length === version, TEN_S, 'every migration logged')
    assert.match(infos.find((m) => m.includes(`applied migration ${version} `)) ?? '', /\(.+\)$/)
  } finally {
    setLogger(null)
    const admin = new pg.Client({ connectionString: dsn() })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.end()
  }
})

test('without a logger, a lost LISTEN connection is a process warning of type PgmqWarning, code PGMQ_WARN', T, async () => {
  const app = uniqueName('logs-warn')
  await using c = await clientNamed(app)
  await withWarnings(async (seen) => {
    await terminateBackends(app)

    await until(() => seen.some((w) => LISTENER_LOST.test(w.message)), TEN_S, 'the listener warning')
    const w = seen.find((x) => LISTENER_LOST.test(x.message))!
    assert.equal(w.code, 'PGMQ_WARN')
  })
  assert.equal(c.closed, false)
})

test('with a logger, the same warning goes to logger.warn and not to process warnings', T, async () => {
  const app = uniqueName('logs-logger')
  await using c = await clientNamed(app)
  const warned = first<string>((m) => LISTENER_LOST.test(m))
  const logger: Logger = { warn: warned.offer, error: () => {} }
  setLogger(logger)
  try {
    await withWarnings(async (seen) => {
      await terminateBackends(app)

      const message = await within(warned.value, TEN_S, 'logger.warn with the listener warning')
      assert.match(message, LISTENER_LOST)
      await new Promise((resolve) => setImmediate(resolve)) // a process warning would be emitted by now
      assert.deepEqual(seen.filter((w) => LISTENER_LOST.test(w.message)), [])
    })
  } finally {
    setLogger(null)
  }
  assert.equal(c.closed, false)
})

test('a logger method that throws is reported as a PGMQ_ERROR warning; the process goes on', T, async () => {
  const app = uniqueName('logs-throw')
  await using c = await clientNamed(app)
  setLogger({
    warn: () => {
      throw new Error('the logger broke')
    },
  })
  try {
    await withWarnings(async (seen) => {
      await terminateBackends(app)

      await until(() => seen.some((w) => /the logger broke/.test(w.message)), TEN_S, 'the warning about the logger')
      const w = seen.find((x) => /the logger broke/.test(x.message))!
      assert.equal(w.code, 'PGMQ_ERROR')
      assert.match(w.message, /pgmq listener: connection lost/)
    })
  } finally {
    setLogger(null)
  }
  assert.equal(c.closed, false)
})

test('setLogger takes an object of functions or null; anything else is a TypeError', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const bad = (v: unknown): any => v
  assert.throws(() => setLogger(bad('console')), TypeError)
  assert.throws(() => setLogger(bad({ warn: 'no' })), TypeError)
  setLogger(console)
  setLogger({})
  setLogger(null)
})
