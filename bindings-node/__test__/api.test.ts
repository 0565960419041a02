// The public API of the `pgmq` npm package, verb by verb, against a real PostgreSQL (see helpers.ts).
// Errors and argument checks: errors.test.ts. `require` / `import` of the package: module.test.ts.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import pg from 'pg'
import {
  connect,
  getDlqName,
  Attribute,
  Filter,
  Outcome,
  PgmqError,
  QueueNotFoundError,
  HandleError,
  InvalidOptionError,
  ClientClosedError,
  ConnectionError,
  CONTENT_TYPE_ATTRIBUTE,
  DEFAULTS,
  JSON_CONTENT_TYPE,
  jsonSerializer,
  type Client,
  type Message,
  type MessageStream,
  type Queue,
  type Attributes,
  type Serializer,
} from 'pgmq'
import { client, dsn, freshQueue, uniqueName, until } from './helpers.ts'

const T = { timeout: 30_000 }
/** A UUID, version 7 (time-ordered), lower case. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** The next message of a stream (fails if the stream ended). */
async function take<T>(stream: MessageStream<T>): Promise<Message<T>> {
  const r = await stream.next()
  assert.equal(r.done, false, 'the stream ended instead of yielding a message')
  return r.value as Message<T>
}

/** Receives one message. The stream is left open: closing it would release the message. */
async function receiveOne<T>(q: Queue<T>): Promise<Message<T>> {
  return take(q.receive())
}

/** Receives `n` messages of one claim (acking each), in send order. */
async function receiveAll<T>(q: Queue<T>, n: number): Promise<Message<T>[]> {
  const stream = q.receive({ batchSize: n })
  const got: Message<T>[] = []
  for (let i = 0; i < n; i++) {
    const m = await take(stream)
    got.push(m)
    await m.ack() // before moving on, which would release it
  }
  stream.close()
  return got
}

/** Asserts that `p` rejects with an instance of `cls` (a PgmqError) carrying `code`. */
async function rejectsWith(
  p: Promise<unknown>,
  cls: abstract new (...args: never[]) => PgmqError,
  code: string,
): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`)
    assert.ok(err instanceof PgmqError)
    assert.ok(err instanceof Error)
    assert.equal(err.code, code)
    assert.equal(err.name, cls.name)
    return true
  })
}

// ---------------------------------------------------------------------------------------------------
describe('connect and Client', () => {
  test('connect with listenDsn, poolSize and connectTimeoutMs works end to end', T, async () => {
    await using c = await connect(dsn(), { listenDsn: dsn(), poolSize: 1, connectTimeoutMs: 5_000 })
    await c.migrate()
    const q = c.queue(await freshQueue(c))
    // Five statements at once through a pool of one connection: they queue up, none fails.
    const sent = await Promise.all([1, 2, 3, 4, 5].map((i) => q.send(`m${i}`)))
    assert.equal((await q.stats()).messages, 5)
    const stream = q.receive({ batchSize: 5 })
    const bodies: string[] = []
    for (let i = 0; i < 5; i++) {
      const m = await take(stream)
      bodies.push(m.body.toString())
      await m.ack()
    }
    stream.close()
    assert.deepEqual(bodies.sort(), ['m1', 'm2', 'm3', 'm4', 'm5'])
    // completed() is woken over the LISTEN connection of listenDsn.
    for (const s of sent) assert.equal(await s.completed(), 'completed')
  })

  test('listenDsn is used: an unreachable one fails connect with ConnectionError', T, async () => {
    await rejectsWith(
      connect(dsn(), { listenDsn: 'postgres://postgres@127.0.0.1:1/x', connectTimeoutMs: 2_000 }),
      ConnectionError,
      'connection',
    )
  })

  test('`await using` closes the client at the end of the scope', T, async () => {
    let outer: Client
    {
      await using c = await connect(dsn())
      outer = c
      assert.equal(c.closed, false)
      assert.equal(typeof (await c.migrate()), 'number')
    }
    assert.equal(outer.closed, true)
    await rejectsWith(outer.migrate(), ClientClosedError, 'closed')
  })

  test('migrate returns the schema version and is idempotent', T, async () => {
    await using c = await connect(dsn())
    const v1 = await c.migrate()
    const v2 = await c.migrate()
    assert.equal(typeof v1, 'number')
    assert.ok(Number.isInteger(v1) && v1 >= 1, `version ${v1}`)
    assert.equal(v2, v1)
    // Several migrations at once (an advisory lock serialises them) agree too.
    const all = await Promise.all([c.migrate(), c.migrate(), c.migrate()])
    assert.deepEqual(all, [v1, v1, v1])
  })

  test('schemaVersion is 0 where pgmq was never migrated, and the migrated version after migrate()', T, async () => {
    const schema = `sv_${randomUUID().slice(0, 8)}`
    await using c = await connect(dsn(), { schema })
    try {
      assert.equal(await c.schemaVersion(), 0)
      const version = await c.migrate()
      assert.ok(version >= 1)
      assert.equal(await c.schemaVersion(), version)
    } finally {
      const admin = new pg.Client({ connectionString: dsn() })
      await admin.connect()
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await admin.end()
    }
  })

  test('close twice is fine; every operation afterwards rejects with ClientClosedError', T, async () => {
    const c = await client()
    const name = await freshQueue(c)
    const q = c.queue(name)
    const sent = await q.send('x')
    await c.close()
    assert.equal(c.closed, true)
    await c.close()
    assert.equal(c.closed, true)
    await rejectsWith(q.send('y'), ClientClosedError, 'closed')
    await rejectsWith(q.sendBatch(['y']), ClientClosedError, 'closed')
    await rejectsWith(q.stats(), ClientClosedError, 'closed')
    await rejectsWith(q.cancel([sent.id]), ClientClosedError, 'closed')
    await rejectsWith(q.waitForCompletion([sent.id]), ClientClosedError, 'closed')
    await rejectsWith(sent.completed(), ClientClosedError, 'closed')
    await rejectsWith(c.createQueue(uniqueName()), ClientClosedError, 'closed')
    await rejectsWith(c.deleteQueue(name), ClientClosedError, 'closed')
    await rejectsWith(c.migrate(), ClientClosedError, 'closed')
    // A stream of a closed client ends quietly.
    const stream = q.receive()
    assert.deepEqual(await stream.next(), { done: true, value: undefined })
    assert.equal(stream.closed, true)
    // The message was not touched by any of that.
    await using c2 = await client()
    assert.equal((await c2.queue(name).stats()).messages, 1)
  })

  test('close() ends a waiting stream and rejects a pending completed()', T, async () => {
    const c = await client()
    const q = c.queue(await freshQueue(c))
    const sent = await q.send('never acked', { delayMs: 60_000 })
    const stream = q.receive()
    const next = stream.next()
    const completed = rejectsWith(sent.completed(), ClientClosedError, 'closed')
    await c.close()
    assert.deepEqual(await next, { done: true, value: undefined })
    await completed
  })
})

// ---------------------------------------------------------------------------------------------------
describe('createQueue, deleteQueue, getDlqName', () => {
  test('getDlqName', () => {
    assert.equal(getDlqName('x'), 'dlq@x')
    assert.equal(getDlqName('jobs-1_a'), 'dlq@jobs-1_a')
  })

  test('createQueue is true then false; deleteQueue true then false; the DLQ goes with it', T, async () => {
    await using c = await client()
    const name = uniqueName()
    assert.equal(await c.createQueue(name), true)
    assert.equal(await c.createQueue(name), false)
    assert.equal(await c.createQueue(name, { maxDeliveryAttempts: 3 }), false)
    // The default DLQ exists and is a queue of its own.
    const dlq = await c.queue(getDlqName(name)).stats()
    assert.deepEqual(dlq, { messages: 0, ready: 0, scheduled: 0, leased: 0, deadLettered: 0 })
    await c.queue(name).send('gone with the queue')
    assert.equal(await c.deleteQueue(name), true)
    assert.equal(await c.deleteQueue(name), false)
    await rejectsWith(c.queue(name).stats(), QueueNotFoundError, 'queue_not_found')
    await rejectsWith(c.queue(getDlqName(name)).stats(), QueueNotFoundError, 'queue_not_found')
    // The name can be used again, empty.
    assert.equal(await c.createQueue(name), true)
    assert.equal((await c.queue(name).stats()).messages, 0)
    assert.equal(await c.deleteQueue(name), true)
  })

  test('listQueues lists each queue with its settings and its DLQ (itself a queue)', T, async () => {
    await using c = await client()
    const name = await freshQueue(c, { ackDeadlineMs: 2_500, maxDeliveryAttempts: 4, retentionPeriodMs: 3_600_000 })
    const bare = await freshQueue(c, { deadLetterQueue: null })
    const queues = await c.listQueues()
    const byName = new Map(queues.map((q) => [q.name, q]))
    assert.deepEqual(byName.get(name), {
      name,
      ackDeadlineMs: 2_500,
      maxDeliveryAttempts: 4,
      retentionPeriodMs: 3_600_000,
      deadLetterQueue: getDlqName(name),
      backoff: null,
      maxMessages: null,
    })
    assert.equal(byName.get(getDlqName(name))?.deadLetterQueue, null)
    assert.equal(byName.get(bare)?.deadLetterQueue, null)
    assert.equal(byName.has(getDlqName(bare)), false)
    await c.deleteQueue(name)
    assert.equal((await c.listQueues()).some((q) => q.name === name), false)
  })

  test('redrive moves dead-lettered messages back as fresh ones; an unknown queue is QueueNotFoundError', T, async () => {
    await using c = await client()
    const name = await freshQueue(c, { maxDeliveryAttempts: 1 })
    const q = c.queue(name)
    const sent = await q.sendBatch([{ body: 'a', attributes: { k: 1 } }, 'b'])
    const stream = q.receive({ batchSize: 2 })
    for (let i = 0; i < 2; i++) await (await take(stream)).nack({ error: 'failed' }) // the last attempt: to the DLQ
    stream.close()
    assert.equal((await q.stats()).deadLettered, 2)

    assert.equal(await c.redrive(getDlqName(name), name), 2)

    assert.equal((await q.stats()).deadLettered, 0)
    const back = await receiveAll(q, 2)
    assert.deepEqual(back.map((m) => m.id).sort(), [...sent.ids].sort())
    assert.deepEqual(back.map((m) => [m.body.toString(), m.deliveryAttempt, m.attributes]).sort(), [
      ['a', 1, { k: 1 }],
      ['b', 1, {}],
    ])
    assert.equal(await c.redrive(getDlqName(name), name), 0)
    await rejectsWith(c.redrive(uniqueName('missing'), name), QueueNotFoundError, 'queue_not_found')
    await rejectsWith(c.redrive(name, uniqueName('missing')), QueueNotFoundError, 'queue_not_found')
  })

  test('a 48-character name is accepted', T, async () => {
    await using c = await client()
    const name = ('n' + randomUUID().replaceAll('-', '')).padEnd(48, 'x')
    assert.equal(name.length, 48)
    assert.equal(await c.createQueue(name), true)
    assert.equal(c.queue(name).name, name)
    assert.equal(await c.deleteQueue(name), true)
  })

  test('deadLetterQueue: null creates no DLQ; exhausted messages are dropped', T, async () => {
    await using c = await client()
    const name = await freshQueue(c, { deadLetterQueue: null, maxDeliveryAttempts: 1 })
    await rejectsWith(c.queue(getDlqName(name)).stats(), QueueNotFoundError, 'queue_not_found')
    const q = c.queue(name)
    const sent = await q.send('x')
    const m = await receiveOne(q)
    await m.nack({ error: 'no more' })
    assert.equal(await sent.completed(), Outcome.DeadLettered)
    assert.deepEqual(await q.stats(), { messages: 0, ready: 0, scheduled: 0, leased: 0, deadLettered: 0 })
  })

  test('maxDeliveryAttempts and deadLetterQueue options', T, async () => {
    await using c = await client()
    const name = await freshQueue(c, {
      maxDeliveryAttempts: 2,
      deadLetterQueue: { maxDeliveryAttempts: 1, ackDeadlineMs: 2_000, retentionPeriodMs: 3_600_000 },
    })
    const q = c.queue(name)
    const sent = await q.send('poison', { attributes: { kind: 'p' } })
    const stream = q.receive()
    const first = await take(stream)
    assert.equal(first.deliveryAttempt, 1)
    await first.nack({ error: 'first failure' })
    const second = await take(stream)
    assert.equal(second.id, first.id)
    assert.equal(second.deliveryAttempt, 2)
    assert.equal(second.lastError, 'first failure')
    await second.nack({ error: 'second failure' })
    stream.close()
    // Two attempts used: it moved to the DLQ.
    assert.equal(await sent.completed(), 'dead_lettered')
    assert.deepEqual(await q.stats(), { messages: 0, ready: 0, scheduled: 0, leased: 0, deadLettered: 1 })
    const dlq = c.queue(getDlqName(name))
    const dead = await receiveOne(dlq)
    assert.equal(dead.body.toString(), 'poison')
    assert.deepEqual(dead.attributes, { kind: 'p' })
    assert.equal(dead.deadLetterAttempts, 2)
    assert.equal(dead.lastError, 'second failure')
    assert.equal(dead.deliveryAttempt, 1)
    // The DLQ allows one delivery (its own maxDeliveryAttempts): a nack there drops it for good.
    await dead.nack()
    assert.equal((await dlq.stats()).messages, 0)
    assert.equal((await q.stats()).deadLettered, 0)
  })

  test('retentionPeriodMs: an unconsumed message expires into the DLQ', T, async () => {
    await using c = await client()
    const name = await freshQueue(c, { retentionPeriodMs: 1_000 })
    const q = c.queue(name)
    const t0 = Date.now()
    const sent = await q.send('stale')
    assert.equal(await sent.completed(), Outcome.Expired)
    assert.ok(Date.now() - t0 >= 990, `expired after ${Date.now() - t0} ms, before its retention period`)
    assert.equal((await q.stats()).messages, 0)
    assert.equal((await q.stats()).deadLettered, 1)
    const dead = await receiveOne(c.queue(getDlqName(name)))
    assert.equal(dead.body.toString(), 'stale')
    await dead.ack()
  })

  test('ackDeadlineMs: a crashed holder\'s message comes back after the short deadline', T, async () => {
    await using c = await client()
    const name = await freshQueue(c, { ackDeadlineMs: 1_000 })
    const q = c.queue(name)
    const sent = await q.send('crash me')
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures-api', 'hold.cjs'), name], {
      env: { ...process.env, DATABASE_URL: dsn() },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = once(child, 'exit')
    let out = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (d: string) => (out += d))
    await until(() => out.includes('\n') || child.exitCode !== null, 15_000, 'the child to hold the message')
    assert.equal(out.trim(), sent.id)
    assert.equal((await q.stats()).leased, 1)
    child.kill('SIGKILL')
    await exited
    const t0 = Date.now()
    const m = await receiveOne(q)
    const elapsed = Date.now() - t0
    assert.equal(m.id, sent.id)
    assert.equal(m.deliveryAttempt, 2)
    // The default deadline (10 s) would take far longer.
    assert.ok(elapsed < 6_000, `redelivered ${elapsed} ms after the crash`)
    await m.ack()
    assert.equal(await sent.completed(), 'completed')
  })

  test('backoff: nacks without a delay wait baseMs * factor^(attempt-1), capped at maxMs', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c, { backoff: { baseMs: 1_000, factor: 3, maxMs: 1_000, jitter: false } }))
    await q.send('x')
    const stream = q.receive()
    const m1 = await take(stream)
    let t0 = Date.now()
    await m1.nack()
    const m2 = await take(stream)
    const e1 = Date.now() - t0
    assert.equal(m2.deliveryAttempt, 2)
    assert.ok(e1 >= 990, `first redelivery after ${e1} ms, expected >= 1000`)
    t0 = Date.now()
    await m2.nack()
    const m3 = await take(stream)
    const e2 = Date.now() - t0
    assert.equal(m3.deliveryAttempt, 3)
    // Uncapped it would be 3000 ms.
    assert.ok(e2 >= 990 && e2 < 2_500, `second redelivery after ${e2} ms, expected about 1000 (maxMs)`)
    await m3.ack()
    stream.close()
  })

  test('a queue without backoff redelivers a nacked message at once', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    await q.send('x')
    const stream = q.receive()
    const m1 = await take(stream)
    await m1.nack()
    assert.equal((await q.stats()).ready, 1)
    const m2 = await take(stream)
    assert.equal(m2.deliveryAttempt, 2)
    await m2.ack()
    stream.close()
  })
})

// ---------------------------------------------------------------------------------------------------
describe('send', () => {
  test('bodies: Buffer, Uint8Array, a subarray view, UTF-8 strings, empty', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const binary = Buffer.from([0, 1, 2, 0xfe, 0xff, 0, 10, 13])
    const backing = new Uint8Array([9, 9, 9, 1, 2, 3, 9, 9])
    const view = backing.subarray(3, 6)
    assert.equal(view.byteOffset, 3)
    const text = 'héllo wörld ✓ 🚀 日本'
    const big = Buffer.alloc(1 << 20, 'abc')
    const bodies: [string, Buffer | Uint8Array | string, Buffer][] = [
      ['buffer', binary, binary],
      ['uint8array', new Uint8Array([7, 8, 9]), Buffer.from([7, 8, 9])],
      ['view', view, Buffer.from([1, 2, 3])],
      ['buffer view', Buffer.from('0123456789').subarray(4, 7), Buffer.from('456')],
      ['1 MiB', big, big],
      ['string', text, Buffer.from(text, 'utf8')],
      ['empty string', '', Buffer.alloc(0)],
      ['empty buffer', Buffer.alloc(0), Buffer.alloc(0)],
    ]
    const ids: string[] = []
    for (const [label, b] of bodies) {
      const s = await q.send(b, { attributes: { label } })
      assert.match(s.id, UUID)
      assert.equal(s.tracked, true)
      ids.push(s.id)
    }
    assert.equal(new Set(ids).size, ids.length)
    const stream = q.receive()
    for (const [label, , expected] of bodies) {
      const m = await take(stream)
      assert.equal(m.attributes.label, label)
      assert.ok(Buffer.isBuffer(m.body), `${label}: body is a Buffer`)
      assert.deepEqual(m.body, expected, label)
      await m.ack()
    }
    stream.close()
  })

  test('attributes round-trip; none gives {}', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const attrs: Attributes = {
      s: 'text',
      empty: '',
      unicode: 'ünï ✓',
      i: 42,
      neg: -7,
      zero: 0,
      big: 2 ** 40,
      f: 1.5,
      tiny: -0.001,
      tenth: 0.1,
      maxSafe: Number.MAX_SAFE_INTEGER,
      minSafe: Number.MIN_SAFE_INTEGER,
      huge: 1.5e300,
      'with space': 'x',
      'dot.key': 'y',
      ключ: 'значение',
      t: true,
      fa: false,
      n: null,
    }
    await q.send('with', { attributes: attrs })
    await q.send('without')
    await q.send('empty object', { attributes: {} })
    const stream = q.receive()
    const a = await take(stream)
    assert.equal(a.body.toString(), 'with')
    assert.deepEqual(a.attributes, attrs)
    assert.equal(typeof a.attributes.i, 'number')
    assert.equal(a.attributes.f, 1.5)
    await a.ack()
    const b = await take(stream)
    assert.equal(b.body.toString(), 'without')
    assert.deepEqual(b.attributes, {})
    await b.ack()
    const e = await take(stream)
    assert.deepEqual(e.attributes, {})
    await e.ack()
    stream.close()
  })

  test('delayMs: scheduled, not delivered before the delay', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const t0 = Date.now()
    const sent = await q.send('later', { delayMs: 1_200 })
    const stats = await q.stats()
    assert.equal(stats.scheduled, 1)
    assert.equal(stats.ready, 0)
    const m = await receiveOne(q)
    const elapsed = Date.now() - t0
    assert.equal(m.id, sent.id)
    assert.ok(elapsed >= 1_190, `delivered after ${elapsed} ms`)
    assert.ok(elapsed < 10_000, `delivered after ${elapsed} ms`)
    await m.ack()
  })

  test('scheduleAt: not delivered before that instant; a past date is ready at once', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const at = new Date(Date.now() + 1_200)
    const sent = await q.send('at', { scheduleAt: at })
    await q.send('past', { scheduleAt: new Date(Date.now() - 60_000) })
    const stats = await q.stats()
    assert.equal(stats.scheduled, 1)
    assert.equal(stats.ready, 1)
    const stream = q.receive()
    const past = await take(stream)
    assert.equal(past.body.toString(), 'past')
    await past.ack()
    const m = await take(stream)
    const now = Date.now()
    assert.equal(m.id, sent.id)
    assert.ok(now >= at.getTime() - 10, `delivered ${at.getTime() - now} ms early`)
    assert.ok(now - at.getTime() < 10_000)
    await m.ack()
    stream.close()
  })

  test('track: false — tracked is false and completed() rejects with not_tracked', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const sent = await q.send('untracked', { track: false })
    assert.equal(sent.tracked, false)
    assert.match(sent.id, UUID)
    await rejectsWith(sent.completed(), HandleError, 'not_tracked')
    const m = await receiveOne(q)
    assert.equal(m.id, sent.id)
    await m.ack()
    await rejectsWith(sent.completed(), HandleError, 'not_tracked')
    // Tracked explicitly.
    const tracked = await q.send('tracked', { track: true })
    assert.equal(tracked.tracked, true)
    const m2 = await receiveOne(q)
    await m2.ack()
    assert.equal(await tracked.completed(), 'completed')
  })
})

// ---------------------------------------------------------------------------------------------------
describe('sendBatch', () => {
  test('bodies and {body, attributes} mixed; ids in order; completed() maps every id', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const batch = await q.sendBatch([
      'a',
      Buffer.from('b'),
      { body: 'c', attributes: { k: 1, s: 'x' } },
      new Uint8Array([100]),
      { body: Buffer.from('e') },
    ])
    assert.equal(batch.ids.length, 5)
    assert.equal(batch.tracked, true)
    for (const id of batch.ids) assert.match(id, UUID)
    assert.equal(new Set(batch.ids).size, 5)
    assert.equal((await q.stats()).messages, 5)
    // Waiting starts before any outcome exists; handled at once so that a failure below is reported as such.
    const pending = batch.completed()
    pending.catch(() => {})
    const stream = q.receive({ batchSize: 5 })
    const first = await take(stream)
    assert.equal((await q.stats()).leased, 5)
    const got: Message[] = [first]
    await first.ack() // (moving on would release it)
    for (let i = 1; i < 5; i++) {
      const m = await take(stream)
      got.push(m)
      await m.ack()
    }
    stream.close()
    assert.deepEqual(got.map((m) => m.id), batch.ids)
    assert.deepEqual(got.map((m) => m.body.toString()), ['a', 'b', 'c', 'd', 'e'])
    assert.deepEqual(got.map((m) => m.attributes), [{}, {}, { k: 1, s: 'x' }, {}, {}])
    const outcomes = await pending
    assert.deepEqual(Object.keys(outcomes).sort(), [...batch.ids].sort())
    for (const id of batch.ids) assert.equal(outcomes[id], Outcome.Completed)
  })

  test('options apply to the whole batch (delayMs, track: false)', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const delayed = await q.sendBatch(['x', 'y'], { delayMs: 60_000 })
    assert.equal((await q.stats()).scheduled, 2)
    const untracked = await q.sendBatch(['z'], { track: false })
    assert.equal(untracked.tracked, false)
    await rejectsWith(untracked.completed(), HandleError, 'not_tracked')
    assert.deepEqual([...(await q.cancel(delayed.ids))].sort(), [...delayed.ids].sort())
    assert.equal((await q.stats()).messages, 1)
  })

  test('an empty batch resolves to no ids and an empty outcome map', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const batch = await q.sendBatch([])
    assert.deepEqual(batch.ids, [])
    assert.deepEqual(await batch.completed(), {})
    assert.equal((await q.stats()).messages, 0)
    // The queue still works.
    const s = await q.send('after')
    const m = await receiveOne(q)
    assert.equal(m.id, s.id)
    await m.ack()
  })

  test('one invalid element rejects with TypeError and sends nothing', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    await assert.rejects(q.sendBatch(['ok', undefined, 'ok too']), TypeError)
    await assert.rejects(q.sendBatch(['ok', { body: () => 5 }]), TypeError)
    await assert.rejects(q.sendBatch(['ok', { body: 'x', attributes: { a: {} } } as never]), TypeError)
    await assert.rejects(q.sendBatch(['ok', Symbol('s')]), TypeError)
    await assert.rejects(q.sendBatch('not an array' as never), TypeError)
    assert.equal((await q.stats()).messages, 0)
    const batch = await q.sendBatch(['fine'])
    const m = await receiveOne(q)
    assert.equal(m.id, batch.ids[0])
    assert.equal(m.body.toString(), 'fine')
    await m.ack()
  })
})

// ---------------------------------------------------------------------------------------------------
describe('JSON bodies and serializers', () => {
  test('the content-type attribute and the JSON type are the core\'s constants', () => {
    assert.equal(CONTENT_TYPE_ATTRIBUTE, DEFAULTS.conventions.contentTypeAttribute)
    assert.equal(JSON_CONTENT_TYPE, DEFAULTS.conventions.jsonContentType)
    // What a Python or Kotlin JSON sender writes: the contract between languages.
    assert.equal(CONTENT_TYPE_ATTRIBUTE, 'content-type')
    assert.equal(JSON_CONTENT_TYPE, 'application/json')
  })

  test('objects, arrays, numbers, booleans and null are sent as UTF-8 JSON labelled application/json; json() parses', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const values = [{ resize: 42, name: 'ünï ✓', nested: { list: [1, 'two', null] } }, [1, 2, 3], 7.5, false, null]
    for (const v of values) await q.send(v, { attributes: { tag: 'v' } })
    const got = await receiveAll(q, values.length)
    assert.deepEqual(got.map((m) => m.json()), values)
    for (const [i, m] of got.entries()) {
      assert.deepEqual(m.attributes, { tag: 'v', [CONTENT_TYPE_ATTRIBUTE]: JSON_CONTENT_TYPE })
      assert.equal(m.body.toString('utf8'), JSON.stringify(values[i]))
    }
  })

  test('bytes and strings are sent as they are, without content-type; json() still parses JSON text', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    await q.send('{"a":1}')
    await q.send(Buffer.from('[true]'))
    await q.send('plain text')
    const [text, buffer, plain] = await receiveAll(q, 3)
    for (const m of [text, buffer, plain]) assert.deepEqual(m.attributes, {})
    assert.deepEqual(text.json(), { a: 1 })
    assert.deepEqual(buffer.json(), [true])
    assert.equal(plain.body.toString(), 'plain text')
    assert.throws(() => plain.json(), SyntaxError)
  })

  test('a content-type given for a serialized body must be the serializer\'s; bytes keep any; json() reads JSON types only', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    await assert.rejects(
      q.send({ a: 1 }, { attributes: { [CONTENT_TYPE_ATTRIBUTE]: 'text/plain' } }),
      (e: unknown) => e instanceof InvalidOptionError && e.code === 'invalid_option' && /content-type/.test(e.message),
    )
    await assert.rejects(
      q.sendBatch(['ok', { body: [1], attributes: { [CONTENT_TYPE_ATTRIBUTE]: 'application/xml' } }]),
      InvalidOptionError,
    )
    assert.equal((await q.stats()).messages, 0, 'a refused send wrote something')
    await q.send({ a: 1 }, { attributes: { [CONTENT_TYPE_ATTRIBUTE]: JSON_CONTENT_TYPE } })
    await q.send(Buffer.from('<a/>'), { attributes: { [CONTENT_TYPE_ATTRIBUTE]: 'application/xml' } })
    await q.send(Buffer.from('[1]'), { attributes: { [CONTENT_TYPE_ATTRIBUTE]: 'application/json; charset=utf-8' } })
    await q.send(Buffer.from('{"id":"e"}'), { attributes: { [CONTENT_TYPE_ATTRIBUTE]: 'application/cloudevents+json' } })
    const [json, xml, charset, cloudEvent] = await receiveAll(q, 4)
    assert.deepEqual(json.json(), { a: 1 })
    assert.deepEqual(xml.attributes, { [CONTENT_TYPE_ATTRIBUTE]: 'application/xml' })
    // json() reads JSON under any of its names, and refuses (unparsed) a body labelled as another encoding.
    assert.deepEqual(charset.json(), [1])
    assert.deepEqual(cloudEvent.json(), { id: 'e' })
    assert.throws(() => xml.json(), (e: unknown) => e instanceof TypeError && /application\/xml/.test(e.message))
  })

  test('sendBatch: values, envelopes of values and bytes, in one statement; a value shaped like an envelope is wrapped', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const email = { to: 'a@example.com', body: 'hi' } // a value: it has a key besides body and attributes
    const batch = await q.sendBatch([
      { n: 1 },
      'text',
      { body: { n: 2 }, attributes: { k: 'x' } },
      email,
      { body: { body: 'wrapped' } },
      Buffer.from('raw'),
    ])
    const got = await receiveAll(q, 6)
    assert.deepEqual(got.map((m) => m.id), batch.ids)
    const json = { [CONTENT_TYPE_ATTRIBUTE]: JSON_CONTENT_TYPE }
    assert.deepEqual(got.map((m) => m.attributes), [json, {}, { k: 'x', ...json }, json, json, {}])
    assert.deepEqual(got[0].json(), { n: 1 })
    assert.equal(got[1].body.toString(), 'text')
    assert.deepEqual(got[2].json(), { n: 2 })
    assert.deepEqual(got[3].json(), email)
    assert.deepEqual(got[4].json(), { body: 'wrapped' })
    assert.equal(got[5].body.toString(), 'raw')
  })

  test('a typed queue: its serializer encodes every value, strings too, and decodes json(); process() hands typed messages', T, async () => {
    interface Job {
      id: number
      when: Date
    }
    // A serializer of its own content type that keeps Dates (JSON would make them strings).
    const jobs: Serializer<Job> = {
      contentType: 'application/x-job+json',
      serialize: (job) => JSON.stringify({ id: job.id, when: job.when.toISOString() }),
      deserialize: (body) => {
        const o = JSON.parse(body.toString('utf8')) as { id: number; when: string }
        return { id: o.id, when: new Date(o.when) }
      },
    }
    await using c = await client()
    const name = await freshQueue(c)
    const q = c.queue<Job>(name, { serializer: jobs })
    assert.equal(q.serializer, jobs)
    const job: Job = { id: 1, when: new Date('2030-01-02T03:04:05.000Z') }
    await q.send(job)
    await q.sendBatch([{ id: 2, when: job.when }, { body: { id: 3, when: job.when }, attributes: { k: 1 } }])
    const seen: [Job, Message<Job>][] = []
    const stop = new AbortController()
    await q.process(
      async (m) => {
        const j: Job = m.json() // typed by the queue
        seen.push([j, m])
        if (seen.length === 3) stop.abort()
      },
      { signal: stop.signal },
    )
    assert.deepEqual(seen.map(([j]) => j.id).sort(), [1, 2, 3])
    for (const [j, m] of seen) {
      assert.equal(j.when.getTime(), job.when.getTime())
      assert.equal(m.attributes[CONTENT_TYPE_ATTRIBUTE], 'application/x-job+json')
      assert.equal(m.queue, name)
    }

    // With jsonSerializer, strings are JSON strings: a Queue<string> round-trips through json().
    const strings = c.queue<string>(name, { serializer: jsonSerializer })
    await strings.send('a "quoted" string')
    const [m] = await receiveAll(strings, 1)
    assert.equal(m.body.toString(), '"a \\"quoted\\" string"')
    assert.equal(m.json(), 'a "quoted" string')
  })

  test('serializer and value errors: a bad serializer is a TypeError at queue(); its throw rejects the send', async () => {
    await using c = await client()
    const name = await freshQueue(c)
    assert.throws(() => c.queue(name, { serializer: {} as never }), TypeError)
    assert.throws(() => c.queue(name, { serializer: { ...jsonSerializer, contentType: '' } }), TypeError)
    const failing = c.queue<number>(name, {
      serializer: { contentType: 'x/y', serialize: () => { throw new RangeError('too big') }, deserialize: () => 0 },
    })
    await assert.rejects(failing.send(1), RangeError)
    const wrongOutput = c.queue<number>(name, {
      serializer: { contentType: 'x/y', serialize: () => 5 as never, deserialize: () => 0 },
    })
    await assert.rejects(wrongOutput.send(1), TypeError)
    assert.equal((await c.queue(name).stats()).messages, 0)
  })
})

// ---------------------------------------------------------------------------------------------------
describe('receive', () => {
  test('batchSize leases that many in one claim', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    await q.sendBatch(['1', '2', '3', '4', '5', '6'])
    const stream = q.receive({ batchSize: 5 })
    const first = await take(stream)
    assert.equal(first.body.toString(), '1')
    const s = await q.stats()
    assert.equal(s.leased, 5)
    assert.equal(s.ready, 1)
    assert.equal(s.messages, 6)
    const bodies = [first.body.toString()]
    await first.ack()
    for (let i = 0; i < 5; i++) {
      const m = await take(stream)
      bodies.push(m.body.toString())
      await m.ack()
    }
    stream.close()
    assert.deepEqual(bodies, ['1', '2', '3', '4', '5', '6'])
    assert.equal((await q.stats()).messages, 0)
  })

  test('batchSize 1 (default) leases one at a time', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    await q.sendBatch(['1', '2', '3'])
    const stream = q.receive()
    const m = await take(stream)
    assert.equal((await q.stats()).leased, 1)
    await m.ack()
    stream.close()
  })

  test('breaking out of for await releases the held message for redelivery', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const sent = await q.send('x')
    for await (const m of q.receive()) {
      assert.equal(m.id, sent.id)
      break
    }
    await until(async () => (await q.stats()).ready === 1, 10_000, 'the release')
    const again = await receiveOne(q)
    assert.equal(again.id, sent.id)
    assert.equal(again.deliveryAttempt, 2)
    await again.ack()
  })

  // One dataset, one fresh queue per filter: the claim must take exactly the matching messages.
  const dataset: [string, Attributes | undefined][] = [
    ['a', { n: 10, s: 'red', flag: true }],
    ['b', { n: 9, s: 'green' }],
    ['c', { n: 2.5, s: 'rest' }],
    ['d', { n: null, s: null }],
    ['e', { n: '10', s: 'reddish' }],
    ['f', undefined],
    ['g', { n: -1, s: 'blue', flag: false }],
  ]
  const n = Attribute('n')
  const s = Attribute('s')
  const flag = Attribute('flag')
  const cases: [string, Filter, string[]][] = [
    ['eq (same type only)', n.eq(10), ['a']],
    ['eq string', s.eq('green'), ['b']],
    ['eq boolean', flag.eq(false), ['g']],
    ['ne (present, not equal)', n.ne(10), ['b', 'c', 'd', 'e', 'g']],
    ['gt numeric (10 > 9)', n.gt(9), ['a']],
    ['lt', n.lt(9), ['c', 'g']],
    ['ge', n.ge(9), ['a', 'b']],
    ['le', n.le(2.5), ['c', 'g']],
    ['gt string (textual)', s.gt('red'), ['c', 'e']],
    ['lt string (textual)', s.lt('green'), ['g']],
    ['isNull', n.isNull(), ['d']],
    ['isNotNull', n.isNotNull(), ['a', 'b', 'c', 'e', 'g']],
    ['isLike', s.isLike('re%'), ['a', 'c', 'e']],
    ['isLike _', s.isLike('re_'), ['a']],
    ['isNotLike (strings only)', s.isNotLike('re%'), ['b', 'g']],
    ['exists', flag.exists(), ['a', 'g']],
    ['doesNotExist', flag.doesNotExist(), ['b', 'c', 'd', 'e', 'f']],
    ['and', n.ge(9).and(s.eq('green')), ['b']],
    ['or', s.eq('blue').or(n.isNull()), ['d', 'g']],
    ['nested', n.gt(0).and(n.lt(10)).or(flag.eq(true)), ['a', 'b', 'c']],
    ['Attribute with new', new (Attribute as unknown as new (k: string) => typeof n)('n').eq(9), ['b']],
  ]
  for (const [label, filter, expected] of cases) {
    test(`filter: ${label}`, T, async () => {
      await using c = await client()
      const q = c.queue(await freshQueue(c))
      await q.sendBatch(dataset.map(([body, attributes]) => ({ body, attributes })))
      const stream = q.receive({ filter, batchSize: 50 })
      const first = await take(stream)
      // Everything that matches is ready now, so the first claim took all of it and nothing else.
      const leased = (await q.stats()).leased
      const got = [first]
      await first.ack() // before moving on, which would release it
      for (let i = 1; i < leased; i++) {
        const m = await take(stream)
        got.push(m)
        await m.ack()
      }
      stream.close()
      for (const m of got) assert.equal(m.deliveryAttempt, 1)
      assert.deepEqual(got.map((m) => m.body.toString()).sort(), expected)
      // The others were not touched: still ready, first delivery.
      const rest = dataset.map(([b]) => b).filter((b) => !expected.includes(b))
      const stats = await q.stats()
      assert.equal(stats.messages, rest.length)
      assert.equal(stats.ready, rest.length)
      if (rest.length > 0) {
        const all = q.receive({ batchSize: 50 })
        const others = [await take(all)]
        const count = (await q.stats()).leased
        await others[0].ack()
        for (let i = 1; i < count; i++) {
          const m = await take(all)
          others.push(m)
          await m.ack()
        }
        all.close()
        assert.deepEqual(others.map((m) => m.body.toString()).sort(), rest)
        for (const m of others) assert.equal(m.deliveryAttempt, 1)
      }
    })
  }

  test('a Filter is the core\'s: made by Attribute, printed by the core, not constructed directly', () => {
    const f = Attribute('a').eq(1).and(Attribute('b').isLike('x%'))
    assert.ok(f instanceof Filter)
    assert.equal(
      String(f),
      'Filter(And(Compare { key: "a", op: Eq, value: Int(1) }, Like { key: "b", pattern: "x%", negated: false }))',
    )
    // A JS number is an integer when it is one: 3 and 3.0 are the same filter.
    assert.equal(String(Attribute('n').eq(3.0)), String(Attribute('n').eq(3)))
    assert.match(String(Attribute('n').eq(2.5)), /Float\(2\.5\)/)
    assert.equal(Attribute('k').key, 'k')
    assert.ok(Attribute('k') instanceof Attribute)
    assert.throws(() => new (Filter as unknown as new () => Filter)(), TypeError)
  })

  test('a filtered receiver waits for a matching message and ignores the rest', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const stream = q.receive({ filter: Attribute('color').eq('red') })
    const next = stream.next()
    await q.send('blue', { attributes: { color: 'blue' } })
    const red = await q.send('red', { attributes: { color: 'red' } })
    const r = await next
    assert.equal(r.done, false)
    const m = r.value as Message
    assert.equal(m.id, red.id)
    await m.ack()
    stream.close()
    const stats = await q.stats()
    assert.equal(stats.messages, 1)
    assert.equal(stats.ready, 1)
  })

  test('AbortSignal ends the stream and releases its message', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const sent = await q.send('x')
    const ac = new AbortController()
    const stream = q.receive({ signal: ac.signal })
    const m = await take(stream)
    assert.equal(m.id, sent.id)
    ac.abort()
    assert.equal(stream.closed, true)
    assert.equal(m.finished, true)
    assert.deepEqual(await stream.next(), { done: true, value: undefined })
    await until(async () => (await q.stats()).ready === 1, 10_000, 'the release')
  })
})

// ---------------------------------------------------------------------------------------------------
describe('Message', () => {
  test('fields: id, body, attributes, deliveryAttempt, sentAt, lastError, finished', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const before = Date.now()
    const sent = await q.send('payload', { attributes: { a: 1 } })
    const after = Date.now()
    const stream = q.receive()
    const m = await take(stream)
    assert.equal(m.id, sent.id)
    assert.match(m.id, UUID)
    assert.ok(Buffer.isBuffer(m.body))
    assert.equal(m.body.toString(), 'payload')
    assert.deepEqual(m.attributes, { a: 1 })
    assert.equal(m.deliveryAttempt, 1)
    assert.equal(m.lastError, null)
    assert.equal(m.deadLetterAttempts, null)
    assert.ok(m.sentAt instanceof Date)
    const sentAt = m.sentAt.getTime()
    assert.ok(sentAt >= before - 2_000 && sentAt <= after + 2_000, `sentAt ${m.sentAt.toISOString()} not near now`)
    assert.equal(m.finished, false)
    assert.equal(m.cancelled.aborted, false)
    await m.nack({ error: 'it broke' })
    assert.equal(m.finished, true)
    const again = await take(stream)
    assert.equal(again.id, sent.id)
    assert.equal(again.deliveryAttempt, 2)
    assert.equal(again.lastError, 'it broke')
    assert.equal(again.sentAt.getTime(), sentAt)
    assert.deepEqual(again.attributes, { a: 1 })
    assert.equal(again.finished, false)
    await again.ack()
    assert.equal(again.finished, true)
    stream.close()
    assert.equal(await sent.completed(), 'completed')
  })

  test('release() hands the message back at once (counting an attempt)', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const sent = await q.send('x')
    const m = await receiveOne(q)
    m.release()
    assert.equal(m.finished, true)
    m.release() // again: nothing happens
    await rejectsWith(m.ack(), HandleError, 'already_finished')
    const again = await receiveOne(q)
    assert.equal(again.id, sent.id)
    assert.equal(again.deliveryAttempt, 2)
    await again.ack()
    again.release() // after ack: nothing happens
    assert.equal(await sent.completed(), 'completed')
  })

  test('nack({ delayMs }) delays the redelivery', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    await q.send('x')
    const stream = q.receive()
    const m = await take(stream)
    const t0 = Date.now()
    await m.nack({ delayMs: 1_500 })
    const s = await q.stats()
    assert.equal(s.scheduled, 1)
    assert.equal(s.ready, 0)
    const again = await take(stream)
    const elapsed = Date.now() - t0
    assert.equal(again.deliveryAttempt, 2)
    assert.ok(elapsed >= 1_490, `redelivered after ${elapsed} ms`)
    assert.ok(elapsed < 10_000, `redelivered after ${elapsed} ms`)
    await again.ack()
    stream.close()
  })

  test('extend(ms) moves the lease end: 0 makes it ready, a long one leased again', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c, { ackDeadlineMs: 30_000 }))
    await q.send('x')
    const m = await receiveOne(q)
    assert.equal((await q.stats()).leased, 1)
    // The heartbeat's first beat (as soon as the message is held) may lengthen the lease again right
    // after extend(0): repeat until the table shows it ready.
    await until(
      async () => {
        await m.extend(0)
        const s = await q.stats()
        return s.leased === 0 && s.ready === 1
      },
      10_000,
      'extend(0) to make the message ready',
    )
    await m.extend(60_000)
    const s = await q.stats()
    assert.equal(s.leased, 1)
    assert.equal(s.ready, 0)
    await m.ack()
    assert.equal((await q.stats()).messages, 0)
    await rejectsWith(m.extend(1_000), HandleError, 'already_finished')
  })

  test('the heartbeat keeps a held message leased past its ack deadline', T, async () => {
    await using c = await client()
    await using other = await client()
    const name = await freshQueue(c, { ackDeadlineMs: 1_500 })
    const q = c.queue(name)
    const sent = await q.send('slow work')
    const m = await receiveOne(q)
    const competitor = other.queue(name).receive()
    let stolen = false
    const next = competitor.next().then((r) => {
      stolen = !r.done
      return r
    })
    const t0 = Date.now()
    // Over two deadlines: read the table meanwhile; the lease must stay live and nobody else gets it.
    await until(
      async () => {
        const s = await q.stats()
        assert.equal(s.leased, 1, 'lease lapsed while held')
        assert.equal(stolen, false, 'the message was delivered twice')
        return Date.now() - t0 > 3_500
      },
      10_000,
      'two ack deadlines',
    )
    await m.ack()
    assert.equal(await sent.completed(), 'completed')
    competitor.close()
    assert.deepEqual(await next, { done: true, value: undefined })
  })

  test('the core decides: a nack, a second ack or a release right after an ack (not awaited) cannot undo it', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const sent = await q.send('x')
    const m = await receiveOne(q)
    assert.equal(m.finished, false)
    const acked = m.ack() // not awaited
    assert.equal(m.finished, true)
    m.release() // does nothing
    await rejectsWith(m.nack(), HandleError, 'already_finished')
    await rejectsWith(m.ack(), HandleError, 'already_finished')
    await acked
    assert.equal(await sent.completed(), Outcome.Completed)
    assert.equal((await q.stats()).messages, 0)
  })

  test('a nack is the core\'s at once: finished before it resolves, a release or second nack right after it changes nothing', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const sent = await q.send('x')
    const m = await receiveOne(q)
    const nacked = m.nack({ delayMs: 60_000, error: 'later' })
    assert.equal(m.finished, true)
    m.release()
    await rejectsWith(m.nack(), HandleError, 'already_finished')
    await nacked
    const s = await q.stats()
    assert.equal(s.scheduled, 1, 'redelivered after the delay, not at once (the release was moot)')
    assert.deepEqual(await q.cancel([sent.id]), [sent.id])
  })

  test('queue, leaseToken and leaseLost of a held message', T, async () => {
    await using c = await client()
    const name = await freshQueue(c)
    const q = c.queue(name)
    await q.send('x')
    const m = await receiveOne(q)
    assert.equal(m.queue, name)
    assert.match(m.leaseToken, /^[0-9a-f-]{36}$/)
    assert.equal(m.leaseLost, false)
    await m.ack()
    assert.equal(m.leaseLost, false)
  })

  test('ack of a message cancelled while held resolves; the holder is signalled', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const sent = await q.send('x')
    const m = await receiveOne(q)
    const signal = m.cancelled
    const aborted = once(signal, 'abort')
    // The cancellation watch never keeps the process alive (by design): this interval does, while waiting.
    const keepAlive = setInterval(() => {}, 1_000)
    try {
      assert.deepEqual(await q.cancel([sent.id]), [sent.id])
      await aborted
    } finally {
      clearInterval(keepAlive)
    }
    assert.equal(signal.aborted, true)
    assert.ok(signal.reason instanceof PgmqError)
    assert.equal(signal.reason.code, 'cancelled')
    await m.ack()
    assert.equal(await sent.completed(), Outcome.Cancelled)
    assert.equal((await q.stats()).messages, 0)
  })
})

// ---------------------------------------------------------------------------------------------------
describe('cancel, stats, waitForCompletion, Outcome', () => {
  test('Outcome constants', () => {
    assert.equal(Outcome.Completed, 'completed')
    assert.equal(Outcome.DeadLettered, 'dead_lettered')
    assert.equal(Outcome.Cancelled, 'cancelled')
    assert.equal(Outcome.Expired, 'expired')
    assert.ok(Object.isFrozen(Outcome))
    assert.deepEqual(Object.keys(Outcome).sort(), ['Cancelled', 'Completed', 'DeadLettered', 'Expired'])
  })

  test('cancel returns the ids found; cancelled messages are never delivered', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const a = await q.send('a')
    const b = await q.send('b', { delayMs: 60_000 })
    const keep = await q.send('keep')
    const unknown = randomUUID()
    const found = await q.cancel([a.id, unknown, b.id])
    assert.deepEqual([...found].sort(), [a.id, b.id].sort())
    assert.equal(await a.completed(), 'cancelled')
    assert.equal(await b.completed(), 'cancelled')
    assert.deepEqual(await q.cancel([unknown]), [])
    assert.deepEqual(await q.cancel([]), [])
    const s = await q.stats()
    assert.equal(s.messages, 1)
    const m = await receiveOne(q)
    assert.equal(m.id, keep.id)
    await m.ack()
  })

  test('stats shape and counts of every state', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c, { maxDeliveryAttempts: 1 }))
    const empty = await q.stats()
    assert.deepEqual(Object.keys(empty).sort(), ['deadLettered', 'leased', 'messages', 'ready', 'scheduled'])
    for (const v of Object.values(empty)) assert.equal(typeof v, 'number')
    assert.deepEqual(empty, { messages: 0, ready: 0, scheduled: 0, leased: 0, deadLettered: 0 })
    // One dead-lettered.
    await q.send('dead')
    const d = await receiveOne(q)
    await d.nack()
    // One leased.
    await q.send('held')
    const held = await receiveOne(q)
    // One ready, one scheduled.
    await q.send('ready')
    await q.send('scheduled', { delayMs: 60_000 })
    assert.deepEqual(await q.stats(), { messages: 3, ready: 1, scheduled: 1, leased: 1, deadLettered: 1 })
    await held.ack()
    assert.deepEqual(await q.stats(), { messages: 2, ready: 1, scheduled: 1, leased: 0, deadLettered: 1 })
  })

  test('waitForCompletion, also for messages sent by another client', T, async () => {
    await using sender = await client()
    await using waiter = await client()
    const name = await freshQueue(sender)
    const q = sender.queue(name)
    const batch = await q.sendBatch(['1', '2'])
    const cancelled = await q.send('3')
    const waiting = waiter.queue(name).waitForCompletion([...batch.ids, cancelled.id])
    waiting.catch(() => {})
    const stream = q.receive()
    const m1 = await take(stream)
    await m1.ack()
    await q.cancel([cancelled.id])
    const m2 = await take(stream)
    await m2.ack()
    stream.close() // (closing first would release m2)
    const outcomes = await waiting
    assert.deepEqual(outcomes, {
      [batch.ids[0]]: 'completed',
      [batch.ids[1]]: 'completed',
      [cancelled.id]: 'cancelled',
    })
    // Already finished: resolves at once, also from the sender's side.
    assert.deepEqual(await q.waitForCompletion([batch.ids[1]]), { [batch.ids[1]]: 'completed' })
    assert.deepEqual(await q.waitForCompletion([]), {})
  })
})
