// What operators look at and clean up, against a real PostgreSQL: `queue.peek()` reads messages (of a queue or
// its dead-letter queue) without leasing them, `queue.purge()` deletes what no worker holds and ends it
// `cancelled`, `client.listQueuesWithStats()` shows every queue with its counts, and `QueueInfo.backoff` the
// policy a queue was created with. Every wait is on an event (a send, a receive, an outcome), never a timer.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  Attribute,
  CONTENT_TYPE_ATTRIBUTE,
  DEFAULTS,
  getDlqName,
  InvalidOptionError,
  JSON_CONTENT_TYPE,
  MessageState,
  PeekedMessage,
  QueueNotFoundError,
  type Message,
  type MessageStream,
  type Serializer,
} from 'pgmq'
import { client, freshQueue, uniqueName } from './helpers.ts'

const T = { timeout: 30_000 }
const AN_HOUR = 3_600_000

/** Any value, for calls the types forbid on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const bad = (v: unknown): any => v

/** The next message of a stream (fails if the stream ended). The stream stays open: the message stays leased. */
async function take<T>(stream: MessageStream<T>): Promise<Message<T>> {
  const r = await stream.next()
  assert.equal(r.done, false, 'the stream ended instead of yielding a message')
  return r.value as Message<T>
}

describe('peek', () => {
  test('reads every field of each message without leasing it, in the order receivers take them', T, async () => {
    await using c = await client()
    const name = await freshQueue(c)
    const q = c.queue(name)
    const before = Date.now()
    const json = await q.send({ resize: 42 }, { attributes: { kind: 'resize' } })
    const bytes = await q.send(Buffer.from([0, 1, 2]))
    const later = await q.send('later', { delayMs: AN_HOUR })

    const peeked = await q.peek()

    assert.deepEqual(peeked.map((m) => m.id), [json.id, bytes.id, later.id])
    const [first, second, third] = peeked
    assert.ok(first instanceof PeekedMessage)
    assert.equal(first.queue, name)
    assert.deepEqual(first.attributes, { kind: 'resize', [CONTENT_TYPE_ATTRIBUTE]: JSON_CONTENT_TYPE })
    assert.deepEqual(first.json(), { resize: 42 })
    assert.deepEqual(
      [first.state, first.deliveryAttempts, first.lastError, first.deadLetterAttempts],
      [MessageState.Ready, 0, null, null],
    )
    assert.ok(first.sentAt instanceof Date && first.availableAt instanceof Date)
    assert.ok(Math.abs(first.sentAt.getTime() - before) < 60_000, `sentAt ${first.sentAt.toISOString()}`)
    assert.ok(first.availableAt.getTime() >= first.sentAt.getTime())
    assert.ok(Buffer.isBuffer(second.body))
    assert.deepEqual([...second.body], [0, 1, 2])
    assert.deepEqual(second.attributes, {})
    assert.equal(third.state, 'scheduled')
    assert.equal(third.body.toString(), 'later')
    assert.ok(third.availableAt.getTime() - third.sentAt.getTime() >= AN_HOUR - 1_000)
    // Nothing was leased or changed: a receiver gets the first message at its first delivery.
    assert.deepEqual(await q.stats(), { messages: 3, ready: 2, scheduled: 1, leased: 0, deadLettered: 0 })
    const stream = q.receive()
    const m = await take(stream)
    assert.deepEqual([m.id, m.deliveryAttempt], [json.id, 1])
    await m.ack()
    stream.close()
  })

  test('state: only the ready, the scheduled or the leased messages', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const held = await q.send('held')
    const stream = q.receive()
    const holding = await take(stream)
    const ready = await q.send('ready')
    const scheduled = await q.send('scheduled', { delayMs: AN_HOUR })

    const ids = async (state: MessageState) => (await q.peek({ state })).map((m) => m.id)

    assert.deepEqual(await ids(MessageState.Ready), [ready.id])
    assert.deepEqual(await ids('scheduled'), [scheduled.id])
    assert.deepEqual(await ids('leased'), [held.id])
    assert.deepEqual(await ids('lapsed'), [])
    const [leased] = await q.peek({ state: 'leased' })
    assert.equal(leased.deliveryAttempts, 1)
    assert.ok(leased.availableAt.getTime() > Date.now() - 1_000, 'a leased message is available again when its lease ends')
    assert.equal((await q.peek()).length, 3)
    await holding.ack()
    stream.close()
  })

  test('filter and limit: the first matching messages', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    for (let n = 1; n <= 5; n++) await q.send(`n${n}`, { attributes: { n } })

    const matching = await q.peek({ filter: Attribute('n').gt(2), limit: 2 })

    assert.deepEqual(matching.map((m) => m.body.toString()), ['n3', 'n4'])
    assert.deepEqual((await q.peek({ filter: Attribute('n').eq(9) })).length, 0)
  })

  test('without a limit, the core\'s default; up to the core\'s maximum with one', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    await q.sendBatch(Array.from({ length: DEFAULTS.peek.limit + 1 }, (_, i) => `m${i}`))

    assert.equal((await q.peek()).length, DEFAULTS.peek.limit)
    assert.equal((await q.peek({ limit: DEFAULTS.peek.maxLimit })).length, DEFAULTS.peek.limit + 1)
    assert.equal((await q.peek({ limit: 1 })).length, 1)
  })

  test('of a dead-letter queue: why each message is there', T, async () => {
    await using c = await client()
    const name = await freshQueue(c, { maxDeliveryAttempts: 1 })
    const q = c.queue(name)
    const sent = await q.send({ job: 1 })
    const stream = q.receive()
    await (await take(stream)).nack({ error: 'boom' }) // the last attempt: to the DLQ
    stream.close()

    const [dead, ...rest] = await c.queue(getDlqName(name)).peek()

    assert.deepEqual(rest, [])
    assert.deepEqual(
      [dead.id, dead.queue, dead.state, dead.lastError, dead.deadLetterAttempts],
      [sent.id, getDlqName(name), 'ready', 'boom', 1],
    )
    assert.deepEqual(dead.json(), { job: 1 })
    assert.deepEqual(await q.peek(), [])
  })

  test('json() reads JSON by the core\'s rule, and with the serializer of the queue handle peeked through', T, async () => {
    await using c = await client()
    const name = await freshQueue(c)
    const q = c.queue(name)
    await q.send(Buffer.from('{"id":"e"}'), { attributes: { [CONTENT_TYPE_ATTRIBUTE]: 'application/cloudevents+json' } })
    await q.send(Buffer.from('<a/>'), { attributes: { [CONTENT_TYPE_ATTRIBUTE]: 'application/xml' } })
    const upper: Serializer<string> = {
      contentType: 'text/upper',
      serialize: (v) => v.toUpperCase(),
      deserialize: (b) => b.toString().toLowerCase(),
    }
    await c.queue(name, { serializer: upper }).send('shout')

    const [event, xml, shout] = await q.peek()
    const [, , typed] = await c.queue(name, { serializer: upper }).peek()

    assert.deepEqual(event.json(), { id: 'e' })
    assert.throws(() => xml.json(), (e: unknown) => e instanceof TypeError && /application\/xml/.test(e.message))
    assert.throws(() => shout.json(), TypeError) // text/upper is not JSON
    assert.equal(typed.json(), 'shout')
  })

  test('a limit out of range or an unknown state is InvalidOptionError; wrong types TypeError; no queue QueueNotFoundError', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const invalid: [string, () => Promise<unknown>][] = [
      ['limit 0', () => q.peek({ limit: 0 })],
      ['limit -1', () => q.peek({ limit: -1 })],
      ['limit 1.5', () => q.peek({ limit: 1.5 })],
      ['limit NaN', () => q.peek({ limit: NaN })],
      ['limit Infinity', () => q.peek({ limit: Infinity })],
      ['limit past the maximum', () => q.peek({ limit: DEFAULTS.peek.maxLimit + 1 })],
      ['state held', () => q.peek({ state: bad('held') })],
      ['state READY', () => q.peek({ state: bad('READY') })],
    ]
    for (const [label, call] of invalid) {
      await assert.rejects(call(), (e: unknown) => e instanceof InvalidOptionError && e.code === 'invalid_option', label)
    }
    await assert.rejects(q.peek(bad('all')), TypeError)
    await assert.rejects(q.peek({ limit: bad('5') }), TypeError)
    await assert.rejects(q.peek({ state: bad(1) }), TypeError)
    await assert.rejects(q.peek({ filter: bad({ key: 'n' }) }), TypeError)
    await assert.rejects(c.queue(uniqueName('missing')).peek(), QueueNotFoundError)
  })
})

describe('purge', () => {
  test('deletes the ready and scheduled messages, leaves the leased ones; the deleted end cancelled, their waiters woken', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const heldSent = await q.send('held')
    const stream = q.receive()
    const held = await take(stream)
    const ready = await q.send('ready')
    const scheduled = await q.send('scheduled', { delayMs: AN_HOUR })
    await q.send('untracked', { track: false })
    const readyOutcome = ready.completed() // waiting before the purge

    assert.equal(await q.purge(), 3)

    assert.equal(await readyOutcome, 'cancelled')
    assert.equal(await scheduled.completed(), 'cancelled')
    assert.deepEqual(await q.stats(), { messages: 1, ready: 0, scheduled: 0, leased: 1, deadLettered: 0 })
    await held.ack()
    assert.equal(await heldSent.completed(), 'completed')
    stream.close()
    assert.equal(await q.purge(), 0)
  })

  test('works on a dead-letter queue; an unknown queue is QueueNotFoundError', T, async () => {
    await using c = await client()
    const name = await freshQueue(c, { maxDeliveryAttempts: 1 })
    const q = c.queue(name)
    await q.sendBatch(['a', 'b'])
    const stream = q.receive({ batchSize: 2 })
    for (let i = 0; i < 2; i++) await (await take(stream)).nack()
    stream.close()
    assert.equal((await q.stats()).deadLettered, 2)

    assert.equal(await c.queue(getDlqName(name)).purge(), 2)

    assert.equal((await q.stats()).deadLettered, 0)
    await assert.rejects(c.queue(uniqueName('missing')).purge(), QueueNotFoundError)
  })
})

describe('listQueuesWithStats and QueueInfo.backoff', () => {
  test('every queue with its settings, its counts and how long its oldest ready message has waited', T, async () => {
    await using c = await client()
    const name = await freshQueue(c, { backoff: { baseMs: 500 } })
    const idle = await freshQueue(c, { deadLetterQueue: null })
    const q = c.queue(name)
    await q.send('a')
    await q.send('b')
    await q.send('c', { delayMs: AN_HOUR })

    const overviews = await c.listQueuesWithStats()

    const byName = new Map(overviews.map((o) => [o.info.name, o]))
    const busy = byName.get(name)
    assert.ok(busy, `${name} is listed`)
    assert.deepEqual(busy.info, (await c.listQueues()).find((i) => i.name === name))
    assert.deepEqual(busy.stats, await q.stats())
    assert.deepEqual(busy.stats, { messages: 3, ready: 2, scheduled: 1, leased: 0, deadLettered: 0 })
    assert.ok(typeof busy.oldestReadyAgeMs === 'number' && busy.oldestReadyAgeMs >= 0 && busy.oldestReadyAgeMs < 60_000)
    assert.equal(byName.get(getDlqName(name))?.oldestReadyAgeMs, null)
    assert.deepEqual(byName.get(idle)?.stats, { messages: 0, ready: 0, scheduled: 0, leased: 0, deadLettered: 0 })
    assert.equal(byName.get(idle)?.oldestReadyAgeMs, null)
    assert.equal(byName.has(getDlqName(idle)), false)
  })

  test('QueueInfo.backoff: the policy given, what was left out filled in from the core\'s defaults; null without one', T, async () => {
    await using c = await client()
    const given = await freshQueue(c, { backoff: { baseMs: 250, factor: 3, maxMs: 4_000, jitter: false } })
    const partly = await freshQueue(c, { backoff: { baseMs: 500 } })
    const empty = await freshQueue(c, { backoff: {} })
    const none = await freshQueue(c)

    const byName = new Map((await c.listQueues()).map((q) => [q.name, q]))

    const { baseMs, factor, maxMs, jitter } = DEFAULTS.backoff
    assert.deepEqual(byName.get(given)?.backoff, { baseMs: 250, factor: 3, maxMs: 4_000, jitter: false })
    assert.deepEqual(byName.get(partly)?.backoff, { baseMs: 500, factor, maxMs, jitter })
    assert.deepEqual(byName.get(empty)?.backoff, { baseMs, factor, maxMs, jitter })
    assert.equal(byName.get(none)?.backoff, null)
    assert.equal(byName.get(getDlqName(given))?.backoff, null)
  })
})
