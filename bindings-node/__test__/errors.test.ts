// Errors of the `pgmq` npm package: every refusal of the queue is a PgmqError subclass with its stable
// `code`; wrong argument types are TypeErrors and out-of-range numbers RangeErrors. None of them breaks
// the client or the queue: after each, sending and receiving still work and nothing was written.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import net from 'node:net'
import { once } from 'node:events'
import {
  connect,
  Attribute,
  Filter,
  PgmqError,
  InvalidQueueNameError,
  InvalidOptionError,
  QueueNotFoundError,
  MessageNotFoundError,
  RequestFailedError,
  LeaseLostError,
  HandleError,
  SchemaMissingError,
  SchemaConflictError,
  ConnectionError,
  PgmqTimeoutError,
  DatabaseError,
  ClientClosedError,
  InternalError,
  type ConnectOptions,
  type Message,
  type MessageStream,
  type Queue,
} from 'pgmq'
import { client, dsn, freshQueue, uniqueName, until } from './helpers.ts'

const T = { timeout: 30_000 }

/** Any value, for calls the types forbid on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const bad = (v: unknown): any => v

async function take(stream: MessageStream): Promise<Message> {
  const r = await stream.next()
  assert.equal(r.done, false, 'the stream ended instead of yielding a message')
  return r.value as Message
}

async function receiveOne(q: Queue): Promise<Message> {
  return take(q.receive())
}

/**
 * Ends `m`'s lease with extend(0) until a receiver of `other` (another client) has taken the message.
 * The holder's heartbeat may extend the lease again just after an extend(0) (its first beat runs as soon
 * as it holds a message), so the extend is repeated until the other receiver has the message; that
 * receiver re-reads the table every 20 ms, as extend(0) sends no notification.
 */
async function steal(m: Message, other: Queue): Promise<Message> {
  let stolen: Message | null = null
  const next = take(other.receive({ pollIntervalMs: 20 })).then((x) => (stolen = x))
  next.catch(() => {})
  await until(
    async () => {
      if (stolen !== null) return true
      await m.extend(0).catch((err: unknown) => {
        if (!(err instanceof LeaseLostError)) throw err // lost: the other receiver just took it
      })
      return false
    },
    10_000,
    'another worker to take the message',
  )
  return next
}

type ErrorClass = abstract new (...args: never[]) => PgmqError

function check(err: unknown, cls: ErrorClass, code: string): true {
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`)
  assert.ok(err instanceof PgmqError)
  assert.ok(err instanceof Error)
  assert.equal(err.code, code)
  assert.equal(err.name, cls.name)
  assert.equal(typeof err.message, 'string')
  assert.ok(!err.message.startsWith('[pgmq:'), `the code prefix leaked into the message: ${err.message}`)
  return true
}

async function rejectsWith(p: Promise<unknown>, cls: ErrorClass, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => check(err, cls, code))
}

function throwsWith(fn: () => unknown, cls: ErrorClass, code: string): void {
  assert.throws(fn, (err: unknown) => check(err, cls, code))
}

/** The queue still works: nothing is in it, and a send is received intact. */
async function stillWorks(q: Queue, expectedMessages = 0): Promise<void> {
  assert.equal((await q.stats()).messages, expectedMessages, 'something was written by a failed call')
  const sent = await q.send('still works', { attributes: { probe: true } })
  const stream = q.receive({ filter: Attribute('probe').eq(true) })
  const m = await take(stream)
  assert.equal(m.id, sent.id)
  assert.equal(m.body.toString(), 'still works')
  await m.ack()
  stream.close()
  assert.equal(await sent.completed(), 'completed')
}

// ---------------------------------------------------------------------------------------------------
describe('error classes', () => {
  test('constructors, codes and the class hierarchy', () => {
    const classes: [ErrorClass, string][] = [
      [InvalidQueueNameError, 'invalid_queue_name'],
      [InvalidOptionError, 'invalid_option'],
      [QueueNotFoundError, 'queue_not_found'],
      [MessageNotFoundError, 'message_not_found'],
      [RequestFailedError, 'request_failed'],
      [LeaseLostError, 'lease_lost'],
      [HandleError, 'already_finished'],
      [SchemaMissingError, 'schema_missing'],
      [SchemaConflictError, 'schema_conflict'],
      [ConnectionError, 'connection'],
      [PgmqTimeoutError, 'timeout'],
      [DatabaseError, 'database'],
      [ClientClosedError, 'closed'],
      [InternalError, 'internal'],
    ]
    for (const [cls, code] of classes) {
      const Cls = cls as unknown as new (message: string, code?: string) => PgmqError
      const e = new Cls('boom')
      check(e, cls, code)
      assert.equal(e.message, 'boom')
      assert.equal(new Cls('boom', 'other').code, 'other')
    }
    const base = new PgmqError('x', 'custom', { cause: 1 })
    assert.equal(base.code, 'custom')
    assert.equal(base.cause, 1)
    assert.equal(base.name, 'PgmqError')
  })
})

// ---------------------------------------------------------------------------------------------------
describe('errors of the queue', () => {
  test('InvalidQueueNameError', T, async () => {
    await using c = await client()
    const long = 'a'.repeat(49)
    for (const name of ['bad name', '', long, 'semi;colon', 'dlq@', 'dlq@bad name', 'é']) {
      throwsWith(() => c.queue(name), InvalidQueueNameError, 'invalid_queue_name')
    }
    for (const name of ['bad name', '', long, 'dlq@x', `dlq@${uniqueName()}`]) {
      await rejectsWith(c.createQueue(name), InvalidQueueNameError, 'invalid_queue_name')
    }
    await rejectsWith(c.deleteQueue('bad name'), InvalidQueueNameError, 'invalid_queue_name')
    // A DLQ name is fine to read from, just not to create.
    assert.equal(c.queue('dlq@x').name, 'dlq@x')
    await stillWorks(c.queue(await freshQueue(c)))
  })

  test('InvalidOptionError from the core; a refused createQueue creates nothing', T, async () => {
    await using c = await client()
    const name = uniqueName()
    const refused: [string, object][] = [
      ['ackDeadlineMs 500', { ackDeadlineMs: 500 }],
      ['maxDeliveryAttempts 0', { maxDeliveryAttempts: 0 }],
      ['maxDeliveryAttempts -1', { maxDeliveryAttempts: -1 }],
      ['maxDeliveryAttempts 1.5', { maxDeliveryAttempts: 1.5 }],
      ['retentionPeriodMs 0', { retentionPeriodMs: 0 }],
      ['deadLetterQueue.ackDeadlineMs 10', { deadLetterQueue: { ackDeadlineMs: 10 } }],
      ['deadLetterQueue.maxDeliveryAttempts 0', { deadLetterQueue: { maxDeliveryAttempts: 0 } }],
      ['backoff.factor 0.5', { backoff: { baseMs: 100, factor: 0.5 } }],
      ['backoff.maxMs < baseMs', { backoff: { baseMs: 1_000, maxMs: 10 } }],
      ['backoff.baseMs -1', { backoff: { baseMs: -1 } }],
    ]
    for (const [label, options] of refused) {
      await assert.rejects(c.createQueue(name, options), (err: unknown) => check(err, InvalidOptionError, 'invalid_option'), label)
      await rejectsWith(c.queue(name).stats(), QueueNotFoundError, 'queue_not_found')
    }
    assert.equal(await c.createQueue(name, { ackDeadlineMs: 1_000, maxDeliveryAttempts: 1 }), true)
    const q = c.queue(name)
    // Per-call options the core refuses.
    await rejectsWith(q.send('x', { delayMs: 10, scheduleAt: new Date() }), InvalidOptionError, 'invalid_option')
    await rejectsWith(q.cancel(['not-a-uuid']), InvalidOptionError, 'invalid_option')
    await rejectsWith(q.waitForCompletion(['not-a-uuid']), InvalidOptionError, 'invalid_option')
    throwsWith(() => q.receive({ batchSize: 1_000_000 }), InvalidOptionError, 'invalid_option')
    await stillWorks(q)
    assert.equal(await c.deleteQueue(name), true)
  })

  test('a NaN or infinite attribute is InvalidOptionError (invalid_option, as docs/errors.md says), and nothing is sent', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const refused: [string, () => Promise<unknown>][] = [
      ['NaN attribute', () => q.send('x', { attributes: { a: NaN } })],
      ['Infinity attribute', () => q.send('x', { attributes: { a: Infinity } })],
      ['-Infinity attribute of a JSON body', () => q.send({ v: 1 }, { attributes: { a: -Infinity } })],
      ['NaN attribute in a batch', () => q.sendBatch(['ok', { body: 'x', attributes: { a: NaN } }])],
    ]

    for (const [label, call] of refused) {
      await assert.rejects(call(), (e: unknown) => e instanceof InvalidOptionError && e.code === 'invalid_option', label)
    }

    assert.equal((await q.stats()).messages, 0, 'a refused send wrote something')
    await stillWorks(q)
  })

  test('connect options out of range are InvalidOptionErrors, like every option the core refuses', T, async () => {
    const refused: [string, ConnectOptions][] = [
      ['connectTimeoutMs -1', { connectTimeoutMs: -1 }],
      ['connectTimeoutMs 0', { connectTimeoutMs: 0 }],
      ['connectTimeoutMs NaN', { connectTimeoutMs: NaN }],
      ['connectTimeoutMs Infinity', { connectTimeoutMs: Infinity }],
      ['poolSize 0', { poolSize: 0 }],
      ['poolSize -1', { poolSize: -1 }],
      ['poolSize 1.5', { poolSize: 1.5 }],
      ['statementTimeoutMs -1', { statementTimeoutMs: -1 }],
      ['connectRetryMs -1', { connectRetryMs: -1 }],
      ['maintenanceIntervalMs 0', { maintenanceIntervalMs: 0 }],
      ['maintenanceIntervalMs -1', { maintenanceIntervalMs: -1 }],
    ]
    for (const [label, options] of refused) {
      await assert.rejects(connect(dsn(), options), (err: unknown) => check(err, InvalidOptionError, 'invalid_option'), label)
    }
    await using accepted = await connect(dsn(), { maintenanceIntervalMs: 250 })
    assert.ok((await accepted.schemaVersion()) >= 1, "a client with its own maintenance interval works")
  })

  test('batchSize 0 / fractional is a RangeError from the JS layer, thrown by receive() itself', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    assert.throws(() => q.receive({ batchSize: 0 }), RangeError)
    assert.throws(() => q.receive({ batchSize: -1 }), RangeError)
    assert.throws(() => q.receive({ batchSize: 1.5 }), RangeError)
    assert.throws(() => q.receive({ batchSize: NaN }), RangeError)
    assert.throws(() => q.receive({ batchSize: bad('5') }), TypeError)
    assert.throws(() => q.receive({ pollIntervalMs: -1 }), RangeError)
    await assert.rejects(q.process(async () => {}, { concurrency: 0 }), RangeError)
    await stillWorks(q)
  })

  test('QueueNotFoundError: send, sendBatch, stats, cancel, waitForCompletion on a missing queue', T, async () => {
    await using c = await client()
    const q = c.queue(uniqueName('missing'))
    await rejectsWith(q.send('x'), QueueNotFoundError, 'queue_not_found')
    await rejectsWith(q.sendBatch(['x', 'y']), QueueNotFoundError, 'queue_not_found')
    await rejectsWith(q.stats(), QueueNotFoundError, 'queue_not_found')
    await rejectsWith(q.cancel([randomUUID()]), QueueNotFoundError, 'queue_not_found')
    await rejectsWith(q.waitForCompletion([randomUUID()]), QueueNotFoundError, 'queue_not_found')
    assert.equal(await c.deleteQueue(q.name), false)
    await stillWorks(c.queue(await freshQueue(c)))
  })

  test('MessageNotFoundError: waiting for an id that was never sent', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    await rejectsWith(q.waitForCompletion([randomUUID()]), MessageNotFoundError, 'message_not_found')
    await stillWorks(q)
  })

  test('HandleError already_finished: ack twice, nack or extend after ack, ack after nack', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const sent = await q.send('x')
    const stream = q.receive()
    const m = await take(stream)
    await m.ack()
    await rejectsWith(m.ack(), HandleError, 'already_finished')
    await rejectsWith(m.nack(), HandleError, 'already_finished')
    await rejectsWith(m.extend(1_000), HandleError, 'already_finished')
    assert.equal(await sent.completed(), 'completed')
    const sent2 = await q.send('y')
    const n = await take(stream)
    await n.nack({ delayMs: 60_000 })
    await rejectsWith(n.ack(), HandleError, 'already_finished')
    await rejectsWith(n.nack(), HandleError, 'already_finished')
    stream.close()
    // Two concurrent acks: exactly one wins.
    await q.cancel([sent2.id])
    const sent3 = await q.send('z')
    const o = await receiveOne(q)
    const results = await Promise.allSettled([o.ack(), o.ack()])
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
    check(failed.reason, HandleError, 'already_finished')
    assert.equal(await sent3.completed(), 'completed')
    await stillWorks(q)
  })

  test('LeaseLostError: extend, ack and nack after the lease ended and another worker took it', T, async () => {
    // From JS the heartbeat cannot be stopped while a message is held, so the lease is ended with
    // extend(0) (see steal()); another client's receiver then takes the message under a new lease.
    await using a = await client()
    await using b = await client()
    const name = await freshQueue(a, { ackDeadlineMs: 30_000 })
    const qa = a.queue(name)
    const qb = b.queue(name)
    const sent = await qa.send('x')
    const m = await receiveOne(qa)
    assert.equal(m.leaseLost, false)
    const stolen = await steal(m, qb)
    assert.equal(stolen.id, m.id)
    assert.equal(stolen.deliveryAttempt, 2)
    await rejectsWith(m.extend(5_000), LeaseLostError, 'lease_lost')
    assert.equal(m.leaseLost, true, 'the failed extend told the core the lease is lost')
    await rejectsWith(m.ack(), LeaseLostError, 'lease_lost')
    assert.equal(m.finished, true)
    // The late ack changed nothing: the new holder still owns it.
    assert.equal((await qa.stats()).leased, 1)
    await stolen.ack()
    assert.equal(await sent.completed(), 'completed')

    const sent2 = await qa.send('y')
    const m2 = await receiveOne(qa)
    const stolen2 = await steal(m2, qb)
    assert.equal(stolen2.id, sent2.id)
    await rejectsWith(m2.nack({ error: 'late' }), LeaseLostError, 'lease_lost')
    assert.equal(stolen2.lastError, null)
    await stolen2.ack()
    assert.equal(await sent2.completed(), 'completed')
    await stillWorks(qa)
  })

  test('ConnectionError: a closed port, a malformed DSN is InvalidOptionError', T, async () => {
    const t0 = Date.now()
    await rejectsWith(
      connect('postgres://postgres@127.0.0.1:1/x', { connectTimeoutMs: 2_000 }),
      ConnectionError,
      'connection',
    )
    assert.ok(Date.now() - t0 < 10_000)
    await rejectsWith(connect('not a dsn ::::'), InvalidOptionError, 'invalid_option')
    await rejectsWith(connect(dsn(), { connectTimeoutMs: 0 }), InvalidOptionError, 'invalid_option')
    // The process and other clients are unaffected.
    await using c = await client()
    await stillWorks(c.queue(await freshQueue(c)))
  })

  test('ConnectionError after connectTimeoutMs when the server never answers', T, async () => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((s) => {
      sockets.add(s)
      s.on('error', () => {})
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as net.AddressInfo
    try {
      const t0 = Date.now()
      await rejectsWith(
        connect(`postgres://postgres@127.0.0.1:${port}/x`, { connectTimeoutMs: 1_000 }),
        ConnectionError,
        'connection',
      )
      const elapsed = Date.now() - t0
      assert.ok(elapsed >= 900, `gave up after ${elapsed} ms, before the timeout`)
      assert.ok(elapsed < 8_000, `gave up after ${elapsed} ms (default timeout is 10 s)`)
    } finally {
      for (const s of sockets) s.destroy()
      server.close()
    }
  })
})

// ---------------------------------------------------------------------------------------------------
describe('argument errors of the JS layer', () => {
  test('send: body, options, delayMs, scheduleAt, track, attributes', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const typeErrors: [string, () => Promise<unknown>][] = [
      // Values JSON.stringify cannot encode (numbers, objects, arrays, null are JSON bodies: api.test.ts).
      ['undefined body', () => q.send(bad(undefined))],
      ['function body', () => q.send(bad(() => 1))],
      ['symbol body', () => q.send(bad(Symbol('s')))],
      ['bigint body', () => q.send(bad(1n))],
      ['undefined in sendBatch', () => q.sendBatch(['x', bad(undefined)])],
      ['undefined envelope body', () => q.sendBatch([{ body: bad(undefined) }])],
      ['string options', () => q.send('x', bad('opts'))],
      ['number options', () => q.send('x', bad(5))],
      ['array options', () => q.send('x', bad([]))],
      ['string delayMs', () => q.send('x', { delayMs: bad('5') })],
      ['scheduleAt string', () => q.send('x', { scheduleAt: bad('2030-01-01') })],
      ['scheduleAt number', () => q.send('x', { scheduleAt: bad(Date.now()) })],
      ['track string', () => q.send('x', { track: bad('yes') })],
      ['attributes string', () => q.send('x', { attributes: bad('a=1') })],
      ['attributes array', () => q.send('x', { attributes: bad([1]) })],
      ['attributes Map', () => q.send('x', { attributes: bad(new Map([['a', 1]])) })],
      ['attribute object value', () => q.send('x', { attributes: bad({ a: {} }) })],
      ['attribute array value', () => q.send('x', { attributes: bad({ a: [1] }) })],
      ['attribute undefined value', () => q.send('x', { attributes: bad({ a: undefined }) })],
      ['attribute bigint value', () => q.send('x', { attributes: bad({ a: 1n }) })],
      ['attribute Date value', () => q.send('x', { attributes: bad({ a: new Date() }) })],
      ['sendBatch options', () => q.sendBatch(['x'], bad('opts'))],
    ]
    for (const [label, call] of typeErrors) await assert.rejects(call(), TypeError, label)
    const rangeErrors: [string, () => Promise<unknown>][] = [
      ['negative delayMs', () => q.send('x', { delayMs: -1 })],
      ['NaN delayMs', () => q.send('x', { delayMs: NaN })],
      ['Infinity delayMs', () => q.send('x', { delayMs: Infinity })],
      ['-Infinity delayMs', () => q.send('x', { delayMs: -Infinity })],
      ['invalid Date', () => q.send('x', { scheduleAt: new Date(NaN) })],
      ['batch negative delayMs', () => q.sendBatch(['x'], { delayMs: -5 })],
    ]
    for (const [label, call] of rangeErrors) await assert.rejects(call(), RangeError, label)
    await stillWorks(q)
  })

  test('Message: nack, extend arguments; the message stays held and can still be acked', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const sent = await q.send('x')
    const m = await receiveOne(q)
    await assert.rejects(m.nack(bad('later')), TypeError)
    await assert.rejects(m.nack({ delayMs: bad('5') }), TypeError)
    await assert.rejects(m.nack({ error: bad(5) }), TypeError)
    await assert.rejects(m.nack({ delayMs: -1 }), RangeError)
    await assert.rejects(m.nack({ delayMs: NaN }), RangeError)
    await assert.rejects(m.nack({ delayMs: Infinity }), RangeError)
    await assert.rejects(bad(m).extend(), TypeError)
    await assert.rejects(m.extend(bad('5')), TypeError)
    await assert.rejects(m.extend(-1), RangeError)
    await assert.rejects(m.extend(NaN), RangeError)
    await assert.rejects(m.extend(Infinity), RangeError)
    assert.equal(m.finished, false)
    assert.equal((await q.stats()).leased, 1)
    await m.ack()
    assert.equal(await sent.completed(), 'completed')
    await stillWorks(q)
  })

  test('client, queue, receive, filters, cancel and completion arguments', T, async () => {
    await using c = await client()
    const name = await freshQueue(c)
    const q = c.queue(name)
    await assert.rejects(connect(bad(5)), TypeError)
    await assert.rejects(connect(dsn(), bad('opts')), TypeError)
    await assert.rejects(connect(dsn(), { poolSize: bad('10') }), TypeError)
    await assert.rejects(connect(dsn(), { connectTimeoutMs: bad('1s') }), TypeError)
    await assert.rejects(connect(dsn(), { listenDsn: bad(5) }), TypeError)
    await assert.rejects(connect(dsn(), { statementTimeoutMs: bad('60s') }), TypeError)
    await assert.rejects(connect(dsn(), { connectRetryMs: bad('10s') }), TypeError)
    await assert.rejects(connect(dsn(), { statementCache: bad('no') }), TypeError)
    await assert.rejects(connect(dsn(), { applicationName: bad(5) }), TypeError)
    assert.throws(() => c.queue(bad(5)), TypeError)
    await assert.rejects(c.createQueue(bad(5)), TypeError)
    await assert.rejects(c.createQueue(uniqueName(), bad('opts')), TypeError)
    await assert.rejects(c.createQueue(uniqueName(), { ackDeadlineMs: bad('1000') }), TypeError)
    await assert.rejects(c.createQueue(uniqueName(), { ackDeadlineMs: Infinity }), RangeError)
    await assert.rejects(c.createQueue(uniqueName(), { backoff: bad('fast') }), TypeError)
    await assert.rejects(c.createQueue(uniqueName(), { backoff: { baseMs: bad('1s') } }), TypeError)
    await assert.rejects(c.createQueue(uniqueName(), { deadLetterQueue: bad('none') }), TypeError)
    await assert.rejects(c.deleteQueue(bad(null)), TypeError)
    assert.throws(() => q.receive(bad('opts')), TypeError)
    assert.throws(() => q.receive({ filter: bad({ op: 'eq', key: 'a', value: 1 }) }), TypeError)
    assert.throws(() => q.receive({ signal: bad({}) }), TypeError)
    assert.throws(() => Attribute(bad(5)), TypeError)
    assert.throws(() => Attribute('a').eq(bad({})), TypeError)
    assert.throws(() => Attribute('a').eq(bad(undefined)), TypeError)
    assert.throws(() => Attribute('a').isLike(bad(5)), TypeError)
    assert.throws(() => Attribute('a').exists().and(bad('x')), TypeError)
    assert.throws(() => Attribute('a').exists().or(bad(null)), TypeError)
    assert.throws(() => new (Filter as unknown as new () => Filter)(), TypeError)
    await assert.rejects(q.cancel(bad('id')), TypeError)
    await assert.rejects(q.cancel(bad([1])), TypeError)
    await assert.rejects(q.waitForCompletion(bad('id')), TypeError)
    await assert.rejects(q.process(bad(5)), TypeError)
    await assert.rejects(q.process(async () => {}, { onError: bad(5) }), TypeError)
    // Nothing was created by the refused createQueue calls, and this queue still works.
    await stillWorks(q)
  })
})
