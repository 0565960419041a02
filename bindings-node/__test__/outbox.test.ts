// The transactional send (outbox) with node-postgres: `sql.send(...)` is a query run in the application's
// own transaction, so the message commits or rolls back with the application's writes; receivers (in Node
// and in Python) get it once the transaction commits, and its completion is read by the id it returned.
// Every wait is on an event: a message, a notification, a completion, a child's output line.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import {
  connect,
  sql,
  DEFAULTS,
  CONTENT_TYPE_ATTRIBUTE,
  JSON_CONTENT_TYPE,
  InvalidOptionError,
  PgmqError,
  QueueNotFoundError,
  type Client,
  type Message,
  type MessageStream,
  type OutboxQuery,
} from 'pgmq'
import { client, dsn, freshQueue, uniqueName } from './helpers.ts'

const T = { timeout: 30_000 }
const ROOT = path.join(__dirname, '..', '..')
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python')
// The channel a queue's senders NOTIFY, named from its id: the core's prefix, through the hidden hook.
const hooks = createRequire(path.join(__dirname, 'outbox.test.ts'))('pgmq') as { _truthsJson(): string }
const READY_CHANNEL_PREFIX: string = JSON.parse(hooks._truthsJson()).protocol.ready_channel_prefix

// ---------------------------------------------------------------------------------------------------
// Local helpers

/** A connected node-postgres client, ended after `fn`. */
async function withPg<R>(fn: (db: pg.Client) => Promise<R>): Promise<R> {
  const db = new pg.Client({ connectionString: dsn() })
  await db.connect()
  try {
    return await fn(db)
  } finally {
    await db.end()
  }
}

/** Runs `fn` between BEGIN and COMMIT (ROLLBACK when it throws, or when `rollback` is set). */
async function transaction<R>(db: pg.Client, fn: () => Promise<R>, rollback = false): Promise<R> {
  await db.query('BEGIN')
  try {
    const result = await fn()
    await db.query(rollback ? 'ROLLBACK' : 'COMMIT')
    return result
  } catch (err) {
    await db.query('ROLLBACK')
    throw err
  }
}

/** The rows of queue `name` in pgmq.messages, read by SQL rather than through pgmq. */
async function rowsOf(db: pg.Client, name: string): Promise<number> {
  const { rows } = await db.query(
    'SELECT count(*)::int AS n FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = $1',
    [name],
  )
  return rows[0].n
}

async function readyChannel(db: pg.Client, name: string): Promise<string> {
  const { rows } = await db.query('SELECT id FROM pgmq.queues WHERE name = $1', [name])
  return `${READY_CHANNEL_PREFIX}${rows[0].id}`
}

/** Notifications of `channel` on a raw LISTEN connection, in arrival order. */
interface Listener {
  payloads: string[]
  /** Resolves once a notification with `payload` has arrived (sent after the ones being counted). */
  waitFor(payload: string): Promise<void>
  close(): Promise<void>
}

async function listen(channel: string): Promise<Listener> {
  const db = new pg.Client({ connectionString: dsn() })
  await db.connect()
  const payloads: string[] = []
  const waiters: Array<[string, () => void]> = []
  db.on('notification', (n) => {
    if (n.channel !== channel) return
    payloads.push(n.payload ?? '')
    for (const [payload, resolve] of waiters) if (payload === n.payload) resolve()
  })
  await db.query(`LISTEN "${channel}"`)
  return {
    payloads,
    waitFor: (payload) =>
      payloads.includes(payload) ? Promise.resolve() : new Promise((resolve) => waiters.push([payload, resolve])),
    close: () => db.end(),
  }
}

/** The next message of `stream`, failing if the stream ends. */
async function next(stream: MessageStream): Promise<Message> {
  const r = await stream.next()
  assert.equal(r.done, false, 'the stream ended')
  return r.value as Message
}

/** Runs the Python receiver on `queue` for `count` messages: one parsed JSON line per message. */
async function pythonReceives(queue: string, count: number): Promise<Array<Record<string, any>>> {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run \`make python\` (the cross-language test runs a Python receiver)`)
  const { stdout } = await promisify(execFile)(
    PYTHON,
    [path.join(__dirname, 'fixtures', 'python_receiver.py'), queue, String(count)],
    { env: { ...process.env, DATABASE_URL: dsn() }, timeout: 30_000 },
  )
  return stdout.trim().split('\n').map((line) => JSON.parse(line))
}

// ---------------------------------------------------------------------------------------------------
// The queries

test('sql.send is a node-postgres query: the core\'s statement and the values queue.send would send', () => {
  const at = new Date('2030-01-02T03:04:05.678Z')

  const bytes = sql.send('jobs', Buffer.from([0, 255]), { attributes: { n: 1 }, delayMs: 1500, track: false })
  const text = sql.send('jobs', 'héllo', { scheduleAt: at })
  const value = sql.send('jobs', { resize: 42 })

  assert.match(bytes.text, /^SELECT pgmq\.send\(/)
  assert.deepEqual(bytes.values, ['jobs', Buffer.from([0, 255]), '{"n":1}', 1.5, null, false])
  assert.deepEqual(text.values, ['jobs', Buffer.from('héllo', 'utf8'), null, null, at.toISOString(), DEFAULTS.send.track])
  assert.deepEqual(value.values.slice(1, 3), [
    Buffer.from('{"resize":42}'),
    JSON.stringify({ [CONTENT_TYPE_ATTRIBUTE]: JSON_CONTENT_TYPE }),
  ])
  assert.equal(sql.send('a', 'x').text, bytes.text, 'one statement per kind, whatever the values')
  // Attributes are written by the core's writer, as queue.send stores them: an integral number past
  // 2^53 is a float (its exact decimal and `.0`), keys in the core's order.
  const numbers = sql.send('jobs', 'x', { attributes: { n: 2, f: 0.5, big: 1e20 } })
  assert.equal(numbers.values[2], '{"big":100000000000000000000.0,"f":0.5,"n":2}')
})

test('each kind calls its own SQL function, and a schema option names that schema', () => {
  const texts = [
    sql.send('q', 'x').text,
    sql.sendJson('q', 1).text,
    sql.sendBatch('q', ['x']).text,
    sql.sendJsonBatch('q', [1]).text,
  ]

  assert.deepEqual(
    texts.map((t) => /^SELECT (\w+)\.(\w+)\(/.exec(t)?.slice(1)),
    [['pgmq', 'send'], ['pgmq', 'send_json'], ['pgmq', 'send_batch'], ['pgmq', 'send_json_batch']],
  )
  for (const t of texts) assert.deepEqual(t.match(/\$\d/g), ['$1', '$2', '$3', '$4', '$5', '$6'], t)
  assert.match(sql.send('q', 'x', { schema: 'app_queues' }).text, /^SELECT "?app_queues"?\.send\(/)
})

test('batch queries: bodies and attributes by entry, JSON values as their text', () => {
  const batch = sql.sendBatch('q', [Buffer.from('a'), 'b', { body: 'c', attributes: { k: 'v' } }, [1]])
  const json = sql.sendJsonBatch('q', [{ a: 1 }, 'two'], { attributes: [{ k: 1 }, null] })

  assert.deepEqual(batch.values[1], [Buffer.from('a'), Buffer.from('b'), Buffer.from('c'), Buffer.from('[1]')])
  assert.deepEqual(batch.values[2], ['{}', '{}', '{"k":"v"}', `{"${CONTENT_TYPE_ATTRIBUTE}":"${JSON_CONTENT_TYPE}"}`])
  assert.equal(sql.sendBatch('q', ['a', 'b']).values[2], null, 'no attributes at all: NULL')
  assert.deepEqual(json.values.slice(1, 3), [['{"a":1}', '"two"'], ['{"k":1}', '{}']])
  assert.deepEqual(sql.sendJson('q', 'text').values[1], '"text"')
})

test('wrong argument types are TypeErrors and out-of-range numbers RangeErrors, before any query', async () => {
  const bad = (v: unknown): any => v

  assert.throws(() => sql.send(bad(1), 'x'), TypeError)
  assert.throws(() => sql.send('q', 'x', { attributes: bad({ nested: {} }) }), TypeError)
  assert.throws(() => sql.send('q', 'x', { delayMs: -1 }), RangeError)
  assert.throws(() => sql.send('q', 'x', { scheduleAt: bad('tomorrow') }), TypeError)
  assert.throws(() => sql.sendJson('q', undefined), TypeError)
  assert.throws(() => sql.sendBatch('q', bad('x')), TypeError)
  assert.throws(() => sql.sendJsonBatch('q', [1], { attributes: bad({ k: 1 }) }), TypeError)
  assert.throws(() => sql.send('q', 'x', { attributes: { n: NaN } }), InvalidOptionError)
  await assert.rejects(sql.execute(bad({}), sql.send('q', 'x')), TypeError)
})

// ---------------------------------------------------------------------------------------------------
// Commit and rollback

test('committed: a node-postgres transaction\'s send is received, and its completion read by the returned id', T, async () => {
  await using c = await client()
  const name = await freshQueue(c, {}, 'node-outbox')
  const stream = c.queue(name).receive()
  const waiting = next(stream)

  const id = await withPg((db) =>
    transaction(db, async () => {
      await db.query('CREATE TEMP TABLE orders (id int) ON COMMIT DROP')
      await db.query('INSERT INTO orders VALUES (1)')
      return sql.execute(db, sql.send(name, 'order 1', { attributes: { order: 1 } }))
    }),
  )
  const msg = await waiting
  await msg.ack()
  stream.close()

  assert.equal(typeof id, 'string')
  assert.deepEqual([msg.id, msg.body.toString(), msg.attributes], [id, 'order 1', { order: 1 }])
  assert.deepEqual(await c.queue(name).waitForCompletion([id]), { [id]: 'completed' })
  await c.deleteQueue(name)
})

test('cross-language: a node-postgres send is received by a Python worker, JSON and all; Node sees it completed', T, async () => {
  await using c = await client()
  const name = await freshQueue(c, {}, 'node-outbox-py')

  const [plain, json] = await withPg((db) =>
    transaction(db, async () => [
      await sql.execute(db, sql.send(name, 'from node-postgres', { attributes: { n: 1 } })),
      await sql.execute(db, sql.sendJson(name, { total: 9.5, items: ['a'] })),
    ]),
  )
  const received = await pythonReceives(name, 2)

  assert.deepEqual(received[0], { id: plain, text: 'from node-postgres', attributes: { n: 1 }, json: null })
  assert.deepEqual(
    [received[1].id, received[1].attributes, received[1].json],
    [json, { [CONTENT_TYPE_ATTRIBUTE]: JSON_CONTENT_TYPE }, { total: 9.5, items: ['a'] }],
  )
  assert.deepEqual(await c.queue(name).waitForCompletion([plain, json]), { [plain]: 'completed', [json]: 'completed' })
  await c.deleteQueue(name)
})

test('rolled back: nothing is delivered, no row is left and no receiver is woken', T, async () => {
  await using c = await client()
  const name = await freshQueue(c, {}, 'node-outbox')
  await withPg(async (db) => {
    const listener = await listen(await readyChannel(db, name))
    try {
      const rolledBack = await transaction(db, () => sql.execute(db, sql.send(name, 'never')), true)
      // A committed send after it: its notification arrives after any of the rolled-back one would have.
      const committed = await sql.execute(db, sql.send(name, 'kept'))
      await listener.waitFor('')
      const stream = c.queue(name).receive()
      const msg = await next(stream)
      await msg.ack()
      stream.close()

      assert.notEqual(rolledBack, committed)
      assert.deepEqual([msg.id, msg.body.toString()], [committed, 'kept'])
      assert.deepEqual(listener.payloads, [''], 'one notification: the committed send\'s')
      assert.equal(await rowsOf(db, name), 0)
    } finally {
      await listener.close()
    }
  })
  await c.deleteQueue(name)
})

test('1,000 sends in one transaction: one notification at commit, and 1,000 messages', T, async () => {
  await using c = await client()
  const name = await freshQueue(c, {}, 'node-outbox')
  await withPg(async (db) => {
    const channel = await readyChannel(db, name)
    const listener = await listen(channel)
    try {
      const ids = await transaction(db, async () => {
        const sent: string[] = []
        for (let i = 0; i < 1000; i++) sent.push(await sql.execute(db, sql.send(name, `message ${i}`)))
        return sent
      })
      // Sent after the commit, so it arrives after every notification of that transaction.
      await db.query('SELECT pg_notify($1, $2)', [channel, 'marker'])
      await listener.waitFor('marker')

      assert.deepEqual(listener.payloads, ['', 'marker'])
      assert.equal(new Set(ids).size, 1000)
      assert.equal(await rowsOf(db, name), 1000)
      assert.equal((await c.queue(name).stats()).ready, 1000)
    } finally {
      await listener.close()
    }
  })
  await c.deleteQueue(name)
})

test('batches: ids in order, delivered with their bodies; scheduled sends wait for their time', T, async () => {
  await using c = await client()
  const name = await freshQueue(c, {}, 'node-outbox')
  const q = c.queue(name)

  const [ids, jsonIds, later] = await withPg((db) =>
    transaction(db, async () => [
      await sql.execute(db, sql.sendBatch(name, ['a', { body: 'b', attributes: { k: 'v' } }])),
      await sql.execute(db, sql.sendJsonBatch(name, [{ n: 1 }, [2]], { attributes: [{ k: 'w' }, null] })),
      await sql.execute(db, sql.send(name, 'later', { delayMs: 3_600_000 })),
    ]),
  )
  const stream = q.receive({ batchSize: 4 })
  const got: Message[] = []
  while (got.length < 4) {
    const m = await next(stream) // (the stream releases a message left unfinished when it moves on)
    await m.ack()
    got.push(m)
  }
  stream.close()

  assert.equal(ids.length, 2)
  assert.deepEqual([...ids].sort(), ids, 'ids increase in list order')
  assert.deepEqual(
    got.map((m) => [m.id, m.body.toString(), m.attributes]),
    [
      [ids[0], 'a', {}],
      [ids[1], 'b', { k: 'v' }],
      [jsonIds[0], '{"n": 1}', { k: 'w', [CONTENT_TYPE_ATTRIBUTE]: JSON_CONTENT_TYPE }],
      [jsonIds[1], '[2]', { [CONTENT_TYPE_ATTRIBUTE]: JSON_CONTENT_TYPE }],
    ],
  )
  assert.deepEqual(got.slice(2).map((m) => m.json()), [{ n: 1 }, [2]])
  assert.deepEqual((await q.peek()).map((m) => [m.id, m.state]), [[later, 'scheduled']])
  await c.deleteQueue(name)
})

// ---------------------------------------------------------------------------------------------------
// Errors

async function refusal(db: pg.Client, query: OutboxQuery): Promise<unknown> {
  await db.query('BEGIN')
  try {
    await sql.execute(db, query)
  } catch (err) {
    return err
  } finally {
    await db.query('ROLLBACK')
  }
  assert.fail('the send was not refused')
}

test('an unknown queue is QueueNotFoundError, with the driver\'s error as its cause', T, async () => {
  const missing = uniqueName('node-outbox-missing')

  const err = await withPg((db) => refusal(db, sql.send(missing, 'x')))

  assert.ok(err instanceof QueueNotFoundError, String(err))
  assert.equal(err.code, 'queue_not_found')
  assert.ok(err.message.includes(missing), err.message)
  assert.ok(err.cause instanceof pg.DatabaseError)
  assert.equal(Object.entries(sql.SQLSTATES).find(([, code]) => code === 'queue_not_found')?.[0], (err.cause as pg.DatabaseError).code)
})

test('what the database refuses as an option is InvalidOptionError, and nothing is written', T, async () => {
  await using c = await client()
  const name = await freshQueue(c, {}, 'node-outbox')
  const nested = sql.send(name, 'x')
  nested.values[2] = '{"nested": {"a": 1}}' // what another driver could pass, past this package's checks
  const refused = [
    sql.send(name, 'x', { delayMs: 1000, scheduleAt: new Date() }),
    sql.sendJson(name, 1, { attributes: { [CONTENT_TYPE_ATTRIBUTE]: 'text/plain' } }),
    sql.sendJsonBatch(name, [1, 2], { attributes: [{ k: 1 }] }),
    nested,
  ]

  const errors = await withPg(async (db) => {
    const out = []
    for (const q of refused) out.push(await refusal(db, q))
    return out
  })

  for (const err of errors) assert.ok(err instanceof InvalidOptionError && err.code === 'invalid_option', String(err))
  assert.equal(await withPg((db) => rowsOf(db, name)), 0)
  await c.deleteQueue(name)
})

test('sql.error types the errors of other drivers, by code, Prisma\'s meta.code or a cause', () => {
  const [[notFound], [invalid]] = ['queue_not_found', 'invalid_option'].map((code) =>
    Object.entries(sql.SQLSTATES).filter(([, c]) => c === code).map(([state]) => state),
  )
  const prisma = { code: 'P2010', message: 'Raw query failed', meta: { code: notFound, message: 'pgmq: queue "x" does not exist' } }
  const wrapped = new Error('Failed query', { cause: Object.assign(new Error('pgmq: bad'), { code: invalid }) })
  const other = Object.assign(new Error('syntax'), { code: '42601' })

  assert.ok(sql.error(prisma) instanceof QueueNotFoundError)
  assert.ok(sql.error(wrapped) instanceof InvalidOptionError)
  assert.equal((sql.error(wrapped) as PgmqError).message, 'bad')
  assert.equal(sql.error(other), other)
})

test('a producer role may send in its own transaction; a role without the grant is refused', T, async () => {
  await using c = await client()
  const name = await freshQueue(c, {}, 'node-outbox')
  const producer = uniqueName('node_producer').replace(/-/g, '_')
  const stranger = uniqueName('node_stranger').replace(/-/g, '_')
  await withPg(async (db) => {
    await db.query(`CREATE ROLE ${producer}; CREATE ROLE ${stranger}`)
    await db.query('SELECT pgmq.grant_producer($1)', [producer])
    try {
      const id = await transaction(db, async () => {
        await db.query(`SET LOCAL ROLE ${producer}`)
        return sql.execute(db, sql.send(name, 'as a producer'))
      })
      await db.query('BEGIN')
      await db.query(`SET LOCAL ROLE ${stranger}`)
      const denied = await sql.execute(db, sql.send(name, 'x')).catch((e: unknown) => e)
      await db.query('ROLLBACK')

      assert.equal(typeof id, 'string')
      assert.ok(denied instanceof pg.DatabaseError && denied.code === '42501', String(denied))
      assert.equal(await rowsOf(db, name), 1)
    } finally {
      await db.query(`DROP OWNED BY ${producer}; DROP ROLE ${producer}; DROP ROLE ${stranger}`)
    }
  })
  await c.deleteQueue(name)
})

test('a custom schema: the statement names it, and the send lands there', T, async () => {
  const schema = uniqueName('node_outbox_schema').replace(/-/g, '_')
  const name = uniqueName('node-outbox')
  let c: Client | null = null
  try {
    c = await connect(dsn(), { schema })
    await c.migrate()
    await c.createQueue(name)
    const id = await withPg((db) => transaction(db, () => sql.execute(db, sql.send(name, 'elsewhere', { schema }))))

    const [peeked] = await c.queue(name).peek()

    assert.deepEqual([peeked.id, peeked.body.toString()], [id, 'elsewhere'])
  } finally {
    await c?.close()
    await withPg((db) => db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
  }
})
