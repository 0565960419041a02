// Receiving goes on across connection loss: a claim cut off mid-flight, every backend of the client
// terminated. The error is reported (`onError`; without it, the core's log warning, by default a process
// warning of type PgmqWarning), never the end of the loop: the same iteration yields the message.
//
// The server side is driven with node-postgres (`pg`), never through pgmq: a lock on pgmq.messages for a
// claim to block on, and pg_terminate_backend of the client's backends, told apart by an application_name
// of their own. A cut-off claim is reported once as a rule, but may be twice (a retry that comes before the
// client has seen the end of the terminated backend's socket takes that pooled connection again), so the
// tests ask for at least one report, every one of them a connection error.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { connect, ConnectionError, type Client, type Message, type ReceiveOptions } from 'pgmq'
import { dsn, freshQueue, uniqueName, until } from './helpers.ts'

const T = { timeout: 30_000 }
const TEN_S = 10_000

/**
 * `p`, or a rejection naming `what` after `ms`. The timer also keeps the event loop alive while it runs:
 * an `onError` report arrives through a weak handle, which alone would let the test process exit.
 */
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

/** Errors passed to an `onError`, and the first of them as a promise. */
function recorder(): { seen: unknown[]; first: Promise<unknown>; onError: (error: unknown) => void } {
  const seen: unknown[] = []
  let reported!: (error: unknown) => void
  const first = new Promise<unknown>((resolve) => (reported = resolve))
  return {
    seen,
    first,
    onError: (error) => {
      seen.push(error)
      reported(error)
    },
  }
}

function assertConnectionErrors(seen: unknown[]): void {
  assert.ok(seen.length >= 1, 'nothing was reported')
  for (const e of seen) {
    assert.ok(e instanceof ConnectionError, `expected a ConnectionError, got ${String(e)}`)
    assert.equal(e.code, 'connection')
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

async function withAdmin<R>(fn: (admin: pg.Client) => Promise<R>): Promise<R> {
  const admin = new pg.Client({ connectionString: dsn() })
  await admin.connect()
  try {
    return await fn(admin)
  } finally {
    await admin.end()
  }
}

/** Terminates backend `pid` and waits until it is gone. */
async function terminate(admin: pg.Client, pid: number): Promise<void> {
  const { rows } = await admin.query('SELECT pg_terminate_backend($1) AS killed', [pid])
  assert.equal(rows[0].killed, true, `pg_terminate_backend(${pid}) found no such backend`)
  await until(
    async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0,
    TEN_S,
    `backend ${pid} gone`,
  )
}

/**
 * Locks pgmq.messages (ACCESS EXCLUSIVE, from a session of its own) while `start()` begins receiving,
 * waits until the claim of a backend of `app` is blocked on the lock, terminates that backend, and lets
 * the lock go (however this ends).
 */
async function cutOffTheClaim(app: string, start: () => void): Promise<void> {
  await withAdmin(async (admin) => {
    const locker = new pg.Client({ connectionString: dsn() })
    await locker.connect()
    try {
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE pgmq.messages IN ACCESS EXCLUSIVE MODE')
      const lockerPid = (await locker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number
      start()
      let blocked: number[] = []
      await until(
        async () => {
          const { rows } = await admin.query(
            'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND $2 = ANY(pg_blocking_pids(pid))',
            [app, lockerPid],
          )
          blocked = rows.map((r) => r.pid as number)
          return blocked.length === 1
        },
        TEN_S,
        "the receiver's claim blocked on the lock",
      )
      await terminate(admin, blocked[0])
    } finally {
      await locker.query('ROLLBACK')
      await locker.end()
    }
  })
}

/** Sends a message and receives it with `queue.receive(options)` across a cut-off claim; acks it. */
async function receiveAcrossACutOffClaim(
  options: ReceiveOptions,
  name = uniqueName('cut-claim'),
): Promise<{ sent: string; received: string }> {
  const app = uniqueName('cut-claim')
  await using c = await clientNamed(app)
  await c.createQueue(name)
  const queue = c.queue(name)
  const sent = await queue.send('survives')
  const stream = queue.receive(options)
  try {
    let next!: Promise<IteratorResult<Message, undefined>>
    await cutOffTheClaim(app, () => {
      next = stream.next()
      next.catch(() => {}) // awaited below; a rejection while the lock is held is not unhandled
    })
    const r = await within(next, TEN_S, 'the message, after the cut-off claim')
    assert.equal(r.done, false, 'the stream ended instead of recovering')
    const message = r.value as Message
    await message.ack()
    return { sent: sent.id, received: message.id }
  } finally {
    stream.close()
    await c.deleteQueue(name)
  }
}

test('a claim cut off mid-flight is reported to onError and the same iteration yields the message', T, async () => {
  const { seen, first, onError } = recorder()

  const { sent, received } = await receiveAcrossACutOffClaim({ onError })

  assert.equal(received, sent)
  await within(first, TEN_S, 'the onError report')
  assertConnectionErrors(seen)
})

test('without onError, a recovered error is the core\'s warning: a PgmqWarning with code PGMQ_WARN', T, async () => {
  const name = uniqueName('cut-warn')
  let warned!: (w: Error) => void
  const warning = new Promise<Error>((resolve) => (warned = resolve))
  const listener = (w: Error): void => {
    if (w.name === 'PgmqWarning' && w.message.includes(name)) warned(w)
  }
  process.on('warning', listener)
  try {
    const { sent, received } = await receiveAcrossACutOffClaim({}, name)

    assert.equal(received, sent)
    const w = await within(warning, TEN_S, 'the PgmqWarning')
    assert.equal((w as Error & { code?: string }).code, 'PGMQ_WARN')
    assert.match(w.message, new RegExp(`^pgmq receiver on "${name}": .*; retrying`))
  } finally {
    process.off('warning', listener)
  }
})

test('an onError that throws is logged as an error (PGMQ_ERROR) and the stream goes on', T, async () => {
  let warned!: (w: Error) => void
  const warning = new Promise<Error>((resolve) => (warned = resolve))
  const listener = (w: Error): void => {
    if (w.name === 'PgmqWarning' && (w as Error & { code?: string }).code === 'PGMQ_ERROR') warned(w)
  }
  process.on('warning', listener)
  try {
    const { sent, received } = await receiveAcrossACutOffClaim({
      onError: () => {
        throw new Error('onError itself failed')
      },
    })

    assert.equal(received, sent)
    const w = await within(warning, TEN_S, 'the PgmqWarning')
    assert.match(w.message, /onError itself failed/)
  } finally {
    process.off('warning', listener)
  }
})

test('process() goes on across a cut-off claim, calling onError(error, undefined)', T, async () => {
  const app = uniqueName('cut-process')
  await using c = await clientNamed(app)
  const name = await freshQueue(c, {}, 'cut-process')
  const queue = c.queue(name)
  const sent = await queue.send('survives')
  const calls: Array<[unknown, Message | undefined]> = []
  const { seen, first, onError } = recorder()
  const stop = new AbortController()
  let handled!: (id: string) => void
  const handledId = new Promise<string>((resolve) => (handled = resolve))

  let processing!: Promise<void>
  await cutOffTheClaim(app, () => {
    processing = queue.process(
      async (m) => {
        handled(m.id)
        stop.abort()
      },
      {
        signal: stop.signal,
        onError: (e, m) => {
          calls.push([e, m])
          onError(e)
        },
      },
    )
    processing.catch(() => {}) // awaited below
  })

  assert.equal(await within(handledId, TEN_S, 'the handler, after the cut-off claim'), sent.id)
  await within(processing, TEN_S, 'process() to resolve after the abort')
  assert.equal(await within(sent.completed(), TEN_S, 'the outcome'), 'completed')
  await within(first, TEN_S, 'the onError report')
  assertConnectionErrors(seen)
  assert.deepEqual(calls.map(([, m]) => m), calls.map(() => undefined))
  await c.deleteQueue(name)
})

test('a waiting stream survives the termination of every backend of its client', T, async () => {
  const app = uniqueName('kill-all')
  await using c = await clientNamed(app)
  const name = await freshQueue(c, {}, 'kill-all')
  const { seen, onError } = recorder()
  const stream = c.queue(name).receive({ onError })
  try {
    const next = stream.next()
    next.catch(() => {}) // awaited below
    await withAdmin(async (admin) => {
      // Asleep on the empty queue: its first claim came back with nothing.
      await until(
        async () =>
          (
            await admin.query(
              "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle' AND query LIKE $2",
              [app, '%SKIP LOCKED%'],
            )
          ).rowCount !== 0,
        TEN_S,
        "the receiver's first claim found nothing",
      )

      const { rows } = await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [app])
      const pids = rows.map((r) => r.pid as number)
      assert.ok(pids.length >= 2, `a pool and a LISTEN backend: ${pids}`)
      for (const pid of pids) await terminate(admin, pid)
    })
    let sent: string
    {
      await using other = await connect(dsn())
      sent = (await other.queue(name).send('after')).id
    }

    const r = await within(next, TEN_S, 'the message sent after every backend was terminated')
    assert.equal(r.done, false, 'the stream ended instead of recovering')
    assert.equal((r.value as Message).id, sent)
    await (r.value as Message).ack()
    for (const e of seen) assert.ok(e instanceof ConnectionError, String(e))
  } finally {
    stream.close()
    await c.deleteQueue(name)
  }
})
