// Bounded queues: a queue created with `maxMessages` never holds more, under any number of racing senders
// (counted from the table with node-postgres, not through pgmq); a send that does not fit, whole, waits
// for room (woken by a worker's ack) or rejects with QueueFullError having written nothing; the bound can
// be lowered, raised and lifted, and listQueues shows it. Every wait is on an event: a message, an ack, the
// waiting sender's LISTEN seen in pg_stat_activity, an abort; the one timeout is the behaviour under test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import path from 'node:path'
import pg from 'pg'
import {
  DEFAULTS,
  InvalidOptionError,
  QueueFullError,
  QueueNotFoundError,
  getDlqName,
  sql,
  type Client,
  type Message,
  type Queue,
} from 'pgmq'
import { client, dsn, freshQueue, until } from './helpers.ts'

const T = { timeout: 60_000 }
// The channel a sender waiting for room LISTENs on, named from the queue's id: the core's prefix.
const hooks = createRequire(path.join(__dirname, 'bounded.test.ts'))('pgmq') as { _truthsJson(): string }
const ROOM_CHANNEL_PREFIX: string = JSON.parse(hooks._truthsJson()).protocol.room_channel_prefix

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

/** How many rows queue `name` holds, counted by plain SQL. */
async function rows(db: pg.Client, name: string): Promise<number> {
  const { rows } = await db.query(
    'SELECT count(*)::int AS n FROM pgmq.messages m JOIN pgmq.queues q ON q.id = m.queue_id WHERE q.name = $1',
    [name],
  )
  return rows[0].n
}

/**
 * Resolves once some client's LISTEN connection listens on queue `name`'s room channel: a send is waiting for room.
 * Seen as that connection's last statement, so the waiting client must have sent nothing just before (its
 * notification of a send would follow the LISTEN on the same connection): the tests fill queues with another.
 */
async function waitingForRoom(db: pg.Client, name: string): Promise<void> {
  const { rows: ids } = await db.query('SELECT id FROM pgmq.queues WHERE name = $1', [name])
  const channel = `${ROOM_CHANNEL_PREFIX}${ids[0].id}`
  await until(async () => {
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query ~ ('^LISTEN "?' || $1 || '"?$')`,
      [channel],
    )
    return rows[0].n > 0
  }, 20_000, `a sender listening on ${channel}`)
}

/** The next message of `queue`, from a stream left open (the client's close ends it). */
async function receiveOne(queue: Queue): Promise<Message> {
  const { value } = await queue.receive().next()
  assert.ok(value !== undefined, 'the stream ended without a message')
  return value
}

function queueFull(err: unknown): boolean {
  assert.ok(err instanceof QueueFullError, String(err))
  assert.deepEqual([err.code, err.transient], ['queue_full', true])
  return true
}

/** A bounded queue holding `fill` messages (`'m0'`, `'m1'`, ...). */
async function boundedQueue(c: Client, maxMessages: number, fill = maxMessages): Promise<string> {
  const name = await freshQueue(c, { maxMessages })
  if (fill > 0) await c.queue(name).sendBatch(Array.from({ length: fill }, (_, i) => `m${i}`))
  return name
}

// ---------------------------------------------------------------------------------------------------

test('a full queue: waitForRoomMs 0 rejects at once with QueueFullError, and nothing is written', T, async () => {
  await using c = await client()
  const name = await boundedQueue(c, 2)

  await assert.rejects(c.queue(name).send('one too many', { waitForRoomMs: 0 }), queueFull)

  assert.equal(await withPg((db) => rows(db, name)), 2)
})

test('a batch fits whole or not at all', T, async () => {
  await using c = await client()
  const name = await boundedQueue(c, 3, 1)
  const q = c.queue(name)

  await assert.rejects(q.sendBatch(['a', 'b', 'c'], { waitForRoomMs: 0 }), queueFull)
  const afterRefusal = await withPg((db) => rows(db, name))
  const fitting = await q.sendBatch(['a', 'b'], { waitForRoomMs: 0 })

  assert.equal(afterRefusal, 1)
  assert.equal(fitting.ids.length, 2)
  assert.equal(await withPg((db) => rows(db, name)), 3)
})

test('a waiting send is woken by an ack from another client\'s worker, and completes', T, async () => {
  await using producer = await client()
  await using worker = await client()
  const name = await boundedQueue(worker, 1)

  await withPg(async (db) => {
    const waiting = producer.queue(name).send('next', { waitForRoomMs: 30_000 })
    await waitingForRoom(db, name)
    const held = await receiveOne(worker.queue(name))
    await held.ack()
    const sent = await waiting

    const [peeked] = await producer.queue(name).peek()
    assert.deepEqual([peeked.id, peeked.body.toString()], [sent.id, 'next'])
    assert.equal(await rows(db, name), 1)
  })
})

test('a send that finds no room within waitForRoomMs rejects with QueueFullError, having written nothing', T, async () => {
  await using c = await client()
  const name = await boundedQueue(c, 1)
  const started = Date.now()

  const waited = c.queue(name).send('x', { waitForRoomMs: 300 })

  await assert.rejects(waited, (err) => queueFull(err) && /waited/.test((err as Error).message))

  assert.ok(Date.now() - started >= 300, `gave up after ${Date.now() - started} ms`)
  assert.equal(await withPg((db) => rows(db, name)), 1)
})

test('aborting a send that waits for room rejects with the signal\'s reason and sends nothing', T, async () => {
  await using c = await client()
  await using filler = await client()
  const name = await boundedQueue(filler, 1)
  const q = c.queue(name)
  const controller = new AbortController()

  await withPg(async (db) => {
    const waiting = q.send('abandoned', { signal: controller.signal })
    await waitingForRoom(db, name)
    controller.abort()
    await assert.rejects(waiting, (err) => err === controller.signal.reason)
    // Room again: the abandoned send, were it still going, would take it.
    await (await receiveOne(q)).ack()
    const fresh = await q.send('fresh', { waitForRoomMs: 0 })

    assert.deepEqual((await q.peek()).map((m) => [m.id, m.body.toString()]), [[fresh.id, 'fresh']])
    assert.equal(await rows(db, name), 1)
  })
  await assert.rejects(q.sendBatch(['late'], { signal: AbortSignal.abort('no') }), (err) => err === 'no')
})

test('8 racing senders never make the queue hold more than its bound (counted from the table)', T, async () => {
  await using c = await client()
  const bound = 5
  const name = await boundedQueue(c, bound, 0)
  const q = c.queue(name)
  const perSender = 12
  const stop = new AbortController()
  const worker = q.process((m) => m.ack(), { concurrency: 2, signal: stop.signal })

  await withPg(async (db) => {
    let sending = true
    let most = 0
    let samples = 0
    const sampler = (async () => {
      while (sending) {
        most = Math.max(most, await rows(db, name))
        samples++
      }
    })()
    const senders = Array.from({ length: 8 }, async (_, s) => {
      const ids: string[] = []
      for (let i = 0; i < perSender; i += 2) {
        if (i % 4 === 0) ids.push(...(await q.sendBatch([`${s}-${i}`, `${s}-${i + 1}`])).ids)
        else ids.push((await q.send(`${s}-${i}`)).id, (await q.send(`${s}-${i + 1}`)).id)
      }
      return ids
    })
    const sent = (await Promise.all(senders)).flat()
    sending = false
    await sampler
    const outcomes = await q.waitForCompletion(sent)

    assert.equal(sent.length, 8 * perSender)
    assert.ok(Object.values(outcomes).every((o) => o === 'completed'), 'every message went through')
    assert.ok(samples > 0)
    assert.ok(most <= bound, `the queue held ${most} messages, over its bound of ${bound}`)
  })
  stop.abort()
  await worker
})

test('setMaxMessages lowers, raises and lifts the bound; listQueues shows it', T, async () => {
  await using c = await client()
  const name = await boundedQueue(c, 3, 2)
  const q = c.queue(name)
  const bound = async () => (await c.listQueues()).find((i) => i.name === name)?.maxMessages

  await q.setMaxMessages(1)
  assert.equal(await bound(), 1)
  await (await receiveOne(q)).ack() // 1 left: still at the lowered bound
  await assert.rejects(q.send('x', { waitForRoomMs: 0 }), queueFull)

  await q.setMaxMessages(2)
  await q.send('fits', { waitForRoomMs: 0 })
  await assert.rejects(q.send('x', { waitForRoomMs: 0 }), queueFull)

  await q.setMaxMessages(null)
  assert.equal(await bound(), null)
  await q.sendBatch(['a', 'b', 'c'], { waitForRoomMs: 0 })
  assert.equal((await q.stats()).messages, 5)
})

test('listQueues and listQueuesWithStats show the bound; unbounded queues and DLQs show null', T, async () => {
  await using c = await client()
  const name = await freshQueue(c, { maxMessages: 10 })
  const plain = await freshQueue(c)

  const byName = new Map((await c.listQueues()).map((q) => [q.name, q]))
  const overview = (await c.listQueuesWithStats()).find((o) => o.info.name === name)

  assert.equal(byName.get(name)?.maxMessages, 10)
  assert.equal(byName.get(getDlqName(name))?.maxMessages, null)
  assert.equal(byName.get(plain)?.maxMessages, null)
  assert.equal(overview?.info.maxMessages, 10)
  assert.equal(DEFAULTS.queue.maxMessages, null)
})

test('an unbounded queue ignores waitForRoomMs', T, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))

  const batch = await q.sendBatch(Array.from({ length: 50 }, (_, i) => i), { waitForRoomMs: 0 })

  assert.equal(batch.ids.length, 50)
})

test('a bad bound is InvalidOptionError (a non-number a TypeError); the limit itself is accepted', T, async () => {
  await using c = await client()
  const name = await freshQueue(c)
  const q = c.queue(name)

  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 64]) {
    await assert.rejects(c.createQueue(`${name}-b`, { maxMessages: bad }), InvalidOptionError, `maxMessages ${bad}`)
    await assert.rejects(q.setMaxMessages(bad), InvalidOptionError, `setMaxMessages(${bad})`)
  }
  await assert.rejects(c.createQueue(`${name}-b`, { maxMessages: '5' as unknown as number }), TypeError)
  await assert.rejects(q.setMaxMessages(undefined as unknown as null), TypeError)
  await assert.rejects(c.queue(getDlqName(name)).setMaxMessages(5), InvalidOptionError)
  await assert.rejects(c.queue(`${name}-none`).setMaxMessages(5), QueueNotFoundError)
  await assert.rejects(q.send('x', { waitForRoomMs: -1 }), RangeError)
  await assert.rejects(q.send('x', { waitForRoomMs: '1' as unknown as number }), TypeError)
  assert.equal((await c.listQueues()).some((i) => i.name === `${name}-b`), false)

  await q.setMaxMessages(DEFAULTS.limits.maxMessages)
  assert.equal((await c.listQueues()).find((i) => i.name === name)?.maxMessages, DEFAULTS.limits.maxMessages)
})

test('the outbox send to a full queue is QueueFullError at once (SQLSTATE PQ003), with the driver\'s error as cause', T, async () => {
  await using c = await client()
  const name = await boundedQueue(c, 1)

  await withPg(async (db) => {
    const err = await sql.execute(db, sql.send(name, 'no room')).then(() => null, (e: unknown) => e)

    assert.ok(queueFull(err))
    assert.equal(((err as Error).cause as { code?: string }).code, 'PQ003')
    assert.equal(sql.SQLSTATES.PQ003, 'queue_full')
    assert.equal(await rows(db, name), 1)
  })
})
