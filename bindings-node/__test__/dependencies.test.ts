// Dependencies between messages: a message sent with `{ dependsOn }`, or a batch entry with `after`, waits
// (state 'waiting', never claimed) until every message it depends on has completed; when one finishes any
// other way its dependents are cancelled, each reply's `reason` naming the dependency it came from. Bad
// dependencies are refused before anything is written. Every wait is on an event: a message, an outcome.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { InvalidOptionError, MessageState, sql, type Message, type Queue } from 'pgmq'
import { client, dsn, freshQueue } from './helpers.ts'

const T = { timeout: 60_000 }
// Where a waiting message's availableAt stands: it has none yet.
const NEVER = new Date('9999-12-31T23:59:59Z')

/** Receives the next message of `queue` (woken by its notification), acks it and resolves to it. */
async function ackNext(queue: Queue): Promise<Message> {
  const stream = queue.receive()
  try {
    const { value } = await stream.next()
    assert.ok(value !== undefined, 'the stream ended without a message')
    await value.ack()
    return value
  } finally {
    stream.close()
  }
}

/** The rows pgmq keeps for dependencies of these messages: edges naming them, and their waiting rows. */
async function rowsAbout(ids: string[]): Promise<number> {
  const db = new pg.Client({ connectionString: dsn() })
  await db.connect()
  try {
    const { rows } = await db.query(
      `SELECT (SELECT count(*) FROM pgmq.dependencies WHERE dependency = ANY($1::uuid[]) OR dependent = ANY($1::uuid[]))
            + (SELECT count(*) FROM pgmq.waiting WHERE id = ANY($1::uuid[])) AS n`,
      [ids],
    )
    return Number(rows[0].n)
  } finally {
    await db.end()
  }
}

test('a diamond across two queues runs its last message once, after both middle ones', T, async () => {
  // Arrange: A in `a`; B and C in `b` depend on A; D in `a` depends on B and C.
  await using c = await client()
  const a = c.queue(await freshQueue(c, {}, 'node-dep-diamond-a'))
  const b = c.queue(await freshQueue(c, {}, 'node-dep-diamond-b'))
  const top = await a.send('A')
  const middle = await b.sendBatch(['B', 'C'], { dependsOn: [top.id] })
  const bottom = await a.send('D', { dependsOn: middle.ids })

  // Assert: only A is claimable; the others wait, and peek shows them waiting.
  assert.deepEqual(await b.stats(), { messages: 2, ready: 0, scheduled: 2, leased: 0, deadLettered: 0 })
  const waiting = await a.peek({ state: MessageState.Waiting })
  assert.deepEqual(waiting.map((m) => [m.id, m.state, m.availableAt.toISOString()]), [[bottom.id, 'waiting', NEVER.toISOString()]])
  assert.equal((await ackNext(a)).id, top.id)

  // Act: B and C become ready; D only after both.
  const first = await ackNext(b)
  assert.equal((await a.stats()).ready, 0, 'D still waits for the other middle message')
  const second = await ackNext(b)
  const last = await ackNext(a)

  // Assert: every outcome completed, D delivered once, nothing left behind.
  assert.deepEqual(new Set([first.id, second.id]), new Set(middle.ids))
  assert.deepEqual([last.id, last.deliveryAttempt], [bottom.id, 1])
  assert.equal(await bottom.completed(), 'completed')
  assert.deepEqual(Object.values(await middle.completed()), ['completed', 'completed'])
  assert.equal((await a.stats()).messages + (await b.stats()).messages, 0)
  assert.equal(await rowsAbout([top.id, bottom.id, ...middle.ids]), 0)
})

test('a failed dependency cancels its dependents down the graph, each reply saying why', T, async () => {
  // Arrange: a chain in one batch, A <- B <- C, and D in another queue depending on B; one attempt each.
  await using c = await client()
  const q = c.queue(await freshQueue(c, { maxDeliveryAttempts: 1 }, 'node-dep-fail'))
  const other = c.queue(await freshQueue(c, {}, 'node-dep-fail-other'))
  const chain = await q.sendBatch(['A', { body: 'B', after: [0] }, { body: 'C', after: [1] }])
  const [a, b, cc] = chain.ids
  const d = await other.send('D', { dependsOn: [b] })

  // Act: A fails on its only attempt.
  const stream = q.receive()
  const { value: m } = await stream.next()
  assert.ok(m !== undefined && m.id === a, 'A is delivered first')
  await m.nack({ error: 'boom' })
  stream.close()

  // Assert
  const replies = await chain.replies()
  const fate = (id: string) => [replies.get(id)!.outcome, replies.get(id)!.reason]
  assert.deepEqual(fate(a), ['dead_lettered', null])
  assert.deepEqual(fate(b), ['cancelled', `dependency ${a} was dead_lettered`])
  assert.deepEqual(fate(cc), ['cancelled', `dependency ${b} was cancelled`])
  const dReply = await d.reply()
  assert.deepEqual([dReply.outcome, dReply.reason], ['cancelled', `dependency ${b} was cancelled`])
  assert.equal(String(dReply), `Reply(cancelled: dependency ${b} was cancelled, no result)`)
  assert.equal((await q.stats()).messages, 0)
  assert.equal((await other.stats()).messages, 0)
  assert.equal(await rowsAbout([a, b, cc, d.id]), 0)
})

test('bad dependencies are refused with InvalidOptionError, and nothing is written', T, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c, {}, 'node-dep-refuse'))
  const untracked = (await q.send('u', { track: false })).id
  const cancelled = (await q.send('c')).id
  await q.cancel([cancelled])
  const before = (await q.stats()).messages

  await assert.rejects(q.send('x', { dependsOn: [randomUUID()] }), (e) => e instanceof InvalidOptionError && /is unknown/.test(e.message))
  await assert.rejects(q.send('x', { dependsOn: [untracked] }), (e) => e instanceof InvalidOptionError && /is not tracked/.test(e.message))
  await assert.rejects(q.send('x', { dependsOn: [cancelled] }), (e) => e instanceof InvalidOptionError && /already finished as cancelled/.test(e.message))
  await assert.rejects(q.sendBatch([{ body: '0', after: [1] }, '1']), (e) => e instanceof InvalidOptionError && /only on an earlier entry/.test(e.message))
  await assert.rejects(q.sendBatch([{ body: '0', after: [0] }]), (e) => e instanceof InvalidOptionError && /only on an earlier entry/.test(e.message))
  // Past 2^32, where a 32-bit conversion would wrap round to a valid entry.
  await assert.rejects(q.sendBatch(['0', { body: '1', after: [2 ** 32] }]), (e) => e instanceof InvalidOptionError && /cannot depend on entry 4294967296/.test(e.message))
  await assert.rejects(q.send('x', { dependsOn: [untracked], track: false }), (e) => e instanceof InvalidOptionError && /is tracked/.test(e.message))
  await assert.rejects(q.sendBatch(['0', { body: '1', after: [0] }], { track: false }), InvalidOptionError)
  const tooMany = Array.from({ length: 10_001 }, () => randomUUID())
  await assert.rejects(q.send('x', { dependsOn: tooMany }), (e) => e instanceof InvalidOptionError && /at most 10000/.test(e.message))

  assert.equal((await q.stats()).messages, before, 'nothing was written')
})

test('dependsOn and after of the wrong type or shape are TypeErrors, RangeErrors or InvalidOptionErrors before anything is sent', T, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c, {}, 'node-dep-types'))
  const dep = (await q.send('dep')).id
  const bad = <V>(v: unknown) => v as V

  await assert.rejects(q.send('x', { dependsOn: bad(dep) }), TypeError, 'one id, not an array')
  await assert.rejects(q.sendBatch(['x'], { dependsOn: bad(new Set([dep])) }), TypeError)
  await assert.rejects(q.send('x', { dependsOn: bad([dep, 42]) }), TypeError)
  await assert.rejects(q.send('x', { dependsOn: ['not-a-uuid'] }), (e) => e instanceof InvalidOptionError && /not a message id/.test(e.message))
  await assert.rejects(q.sendBatch(['0', { body: '1', after: bad(0) }]), TypeError)
  await assert.rejects(q.sendBatch(['0', { body: '1', after: bad(['0']) }]), TypeError)
  await assert.rejects(q.sendBatch(['0', { body: '1', after: [-1] }]), RangeError)
  await assert.rejects(q.sendBatch(['0', { body: '1', after: [0.5] }]), RangeError)
  // The transactional send takes no dependencies yet: refused rather than dropped.
  assert.throws(() => sql.send(q.name, 'x', bad({ dependsOn: [dep] })), InvalidOptionError)
  assert.throws(() => sql.sendBatch(q.name, ['0', { body: '1', after: [0] }]), InvalidOptionError)
  assert.equal((await q.stats()).messages, 1, 'nothing was written')

  // An empty list is no dependency (untracked sends take it); a value shaped { body, after } is an entry.
  await q.send('none', { dependsOn: [], track: false })
  const batch = await q.sendBatch([{ body: { n: 1 }, attributes: { k: 'v' }, after: [] }])
  assert.deepEqual((await q.stats()).ready, 3)
  const peeked = (await q.peek()).find((m) => m.id === batch.ids[0])
  assert.deepEqual([peeked?.json(), peeked?.attributes.k], [{ n: 1 }, 'v'])
})

test('a dependency that has already completed counts as met; a delay still holds once the last one completes', T, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c, {}, 'node-dep-done'))
  const done = await q.send('done')
  await ackNext(q)

  // A completed dependency: available at once.
  const now = await q.send('now', { dependsOn: [done.id] })
  assert.equal((await ackNext(q)).id, now.id)

  // An open dependency and an hour's delay: released as scheduled, not ready.
  const open = await q.send('open')
  const later = await q.send('later', { dependsOn: [open.id], delayMs: 3_600_000 })
  assert.deepEqual((await q.peek()).map((m) => [m.id, m.state]), [[open.id, 'ready'], [later.id, 'waiting']])
  await ackNext(q)
  assert.deepEqual((await q.peek()).map((m) => [m.id, m.state]), [[later.id, 'scheduled']])
  const s = await q.stats()
  assert.deepEqual([s.messages, s.ready, s.scheduled], [1, 0, 1])
})

test('a worker started while its queue holds only waiting messages gets each one once it is released', T, async () => {
  // Arrange: the worker's queue holds one message, waiting for one in another queue.
  await using c = await client()
  const q = c.queue(await freshQueue(c, {}, 'node-dep-idle'))
  const upstream = c.queue(await freshQueue(c, {}, 'node-dep-idle-up'))
  const dep = await upstream.send('first')
  const sent = await q.send('then', { dependsOn: [dep.id] })
  const stream = q.receive()
  const next = stream.next()

  // Act: the dependency completes while the worker waits.
  await ackNext(upstream)

  // Assert: woken by the release, not failing on the message that had no time yet.
  const { value } = await next
  assert.ok(value !== undefined && value.id === sent.id, 'the released message is delivered')
  await value.ack()
  stream.close()
  assert.equal(await sent.completed(), 'completed')
})
