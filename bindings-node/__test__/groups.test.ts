// Job groups: messages sent with `{ group }`, in one queue or several, are counted, cancelled and awaited
// together, per queue (queue.*Group) or across queues (client.*Group); a held member's worker is signalled;
// a wait is woken by the group's last outcome and can be abandoned by its signal, leaving nothing behind.
// Bad group ids and untracked grouped sends are refused before anything is written. Every wait is on an
// event: a message, an outcome, a waiter's LISTEN or UNLISTEN seen in pg_stat_activity, an abort.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import path from 'node:path'
import pg from 'pg'
import {
  ClientClosedError,
  DEFAULTS,
  InvalidOptionError,
  QueueNotFoundError,
  sql,
  type GroupStats,
  type Message,
  type Queue,
} from 'pgmq'
import { client, dsn, freshQueue, uniqueName, until } from './helpers.ts'

const T = { timeout: 60_000 }
// The channel a waiter for outcomes LISTENs on, named from the queue's id: the core's prefix.
const hooks = createRequire(path.join(__dirname, 'groups.test.ts'))('pgmq') as { _truthsJson(): string }
const COMPLETED_CHANNEL_PREFIX: string = JSON.parse(hooks._truthsJson()).protocol.completed_channel_prefix

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

/**
 * Resolves once a LISTEN connection's last statement is `verb` (LISTEN or UNLISTEN) on the completion channel of one
 * of `queues`: a waiter subscribed, or let its subscription go. The waiting client must run nothing else meanwhile
 * (a later statement on its LISTEN connection would hide this one): the tests give waiters a client of their own.
 */
async function lastStatementOnCompletions(db: pg.Client, queues: Queue[], verb: 'LISTEN' | 'UNLISTEN'): Promise<void> {
  const { rows } = await db.query('SELECT id FROM pgmq.queues WHERE name = ANY($1)', [queues.map((q) => q.name)])
  const channels = rows.map((r) => `${COMPLETED_CHANNEL_PREFIX}${r.id}`).join('|')
  await until(async () => {
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query ~ ('^' || $1 || ' "?(' || $2 || ')"?$')`,
      [verb, channels],
    )
    return rows[0].n > 0
  }, 20_000, `${verb} on ${channels}`)
}

/** The next message of `queue`, from a stream left open (the client's close ends it). */
async function receiveOne(queue: Queue): Promise<Message> {
  const { value } = await queue.receive().next()
  assert.ok(value !== undefined, 'the stream ended without a message')
  return value
}

/** A promise's fate so far, without waiting for it. */
function watch<T>(promise: Promise<T>): { readonly settled: boolean } {
  const state = { settled: false }
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  )
  return state
}

const counts = (s: GroupStats) => [s.messages, s.ready, s.scheduled, s.leased]
const sorted = (ids: string[]) => [...ids].sort()

// ---------------------------------------------------------------------------------------------------

test('a group across two queues is counted and cancelled per queue, then everywhere; the holder is signalled', T, async () => {
  // Arrange: group g has, in `a`, one message held by a worker and one queued (and `a` one outside the
  // group), and in `b` one scheduled for later.
  await using c = await client()
  const group = uniqueName('g')
  const a = c.queue(await freshQueue(c, {}, 'node-group-a'))
  const b = c.queue(await freshQueue(c, {}, 'node-group-b'))
  const heldSent = await a.send('held', { group })
  const held = await receiveOne(a)
  const queued = await a.sendBatch(['queued'], { group })
  await a.send('not in the group')
  const later = await b.send('later', { group, delayMs: 3_600_000 })
  assert.equal(held.id, heldSent.id)

  // Assert: [messages, ready, scheduled, leased] per queue and across queues.
  assert.deepEqual(counts(await a.groupStats(group)), [2, 1, 0, 1])
  assert.deepEqual(counts(await b.groupStats(group)), [1, 0, 1, 0])
  assert.deepEqual(counts(await c.groupStats(group)), [3, 1, 1, 1])

  // Act: cancel in `a` only.
  const signalled = once(held.cancelled, 'abort')
  // The cancellation watch never keeps the process alive (by design): this interval does, while waiting.
  const keepAlive = setInterval(() => {}, 1_000)
  let inA: string[]
  try {
    inA = await a.cancelGroup(group)
    await signalled
  } finally {
    clearInterval(keepAlive)
  }

  // Assert: `a`'s two are found, the holder knows; `b` and the ungrouped message are untouched.
  assert.deepEqual(sorted(inA), sorted([held.id, queued.ids[0]]))
  assert.deepEqual(counts(await b.groupStats(group)), [1, 0, 1, 0])
  assert.equal((await a.stats()).ready, 1)

  // Act: cancel everywhere (the held message, still being cancelled, is found again, as by cancel()).
  const everywhere = await c.cancelGroup(group)
  await held.ack() // resolves, changes nothing

  // Assert
  assert.deepEqual(sorted(everywhere), sorted([held.id, later.id]))
  const after = await c.groupStats(group)
  assert.deepEqual([after.messages, after.cancelled, after.completed, after.deadLettered, after.expired], [0, 3, 0, 0, 0])
  assert.deepEqual(await c.cancelGroup(group), [], 'nothing left to cancel')
  assert.deepEqual(await c.waitForGroup(group), { [held.id]: 'cancelled', [queued.ids[0]]: 'cancelled', [later.id]: 'cancelled' })
})

test('waitForGroup, started before, is woken by the group\'s last outcome; members sent meanwhile count', T, async () => {
  // Arrange: three messages of one group in two queues; the waiter has a client of its own.
  await using c = await client()
  await using waiterClient = await client()
  const group = uniqueName('wait')
  const a = c.queue(await freshQueue(c, {}, 'node-group-wait-a'))
  const b = c.queue(await freshQueue(c, { maxDeliveryAttempts: 1 }, 'node-group-wait-b'))
  const sentA = await a.sendBatch(['1', '2'], { group })
  const sentB = await b.send('3', { group })

  await withPg(async (db) => {
    const waiting = waiterClient.waitForGroup(group)
    const state = watch(waiting)
    const last = await receiveOne(b)
    for (let i = 0; i < sentA.ids.length; i++) await (await receiveOne(a)).ack()
    await lastStatementOnCompletions(db, [a, b], 'LISTEN')
    const late = await a.send('4', { group }) // joins while the waiter waits
    await (await receiveOne(a)).ack()
    assert.equal(state.settled, false, 'the waiter returned with a member still held')

    // Act: the last one fails for good.
    await last.nack({ error: 'no' })
    const finished = Date.now()
    const outcomes = await waiting
    const after = Date.now() - finished

    // Assert: every member, and woken by the outcome's notification, well before the safety-net re-read.
    assert.deepEqual(outcomes, {
      [sentA.ids[0]]: 'completed',
      [sentA.ids[1]]: 'completed',
      [late.id]: 'completed',
      [sentB.id]: 'dead_lettered',
    })
    assert.ok(after < DEFAULTS.completion.pollIntervalMs / 2, `woken ${after} ms after the last outcome`)
  })
  // Per queue, and for a group that has no message: at once.
  assert.equal(Object.keys(await a.waitForGroup(group)).length, 3)
  assert.deepEqual(await c.waitForGroup(uniqueName('nobody')), {})
  assert.deepEqual(await b.waitForGroup(uniqueName('nobody')), {})
  assert.deepEqual(await c.groupStats(uniqueName('nobody')), {
    messages: 0, ready: 0, scheduled: 0, leased: 0, completed: 0, deadLettered: 0, cancelled: 0, expired: 0,
  })
  assert.deepEqual(await c.cancelGroup(uniqueName('nobody')), [])
})

test('an aborted waitForGroup rejects with the signal\'s reason, lets its subscription go and leaves the group as it is', T, async () => {
  await using c = await client()
  await using waiterClient = await client()
  const group = uniqueName('abort')
  const q = c.queue(await freshQueue(c, {}, 'node-group-abort'))
  const sent = await q.send('work', { group })
  const controller = new AbortController()

  await withPg(async (db) => {
    const waiting = waiterClient.queue(q.name).waitForGroup(group, { signal: controller.signal })
    await lastStatementOnCompletions(db, [q], 'LISTEN')

    controller.abort(new Error('the caller went away'))

    await assert.rejects(waiting, (err) => err === controller.signal.reason)
    await lastStatementOnCompletions(db, [q], 'UNLISTEN')
  })
  assert.deepEqual(counts(await q.groupStats(group)), [1, 1, 0, 0], 'nothing was cancelled')
  // The same client waits again, and is answered.
  const again = waiterClient.waitForGroup(group)
  await (await receiveOne(q)).ack()
  assert.deepEqual(await again, { [sent.id]: 'completed' })
  const reason = new Error('already gone')
  await assert.rejects(waiterClient.waitForGroup(group, { signal: AbortSignal.abort(reason) }), (err) => err === reason)
})

test('a pending waitForGroup rejects with ClientClosedError when its client closes', T, async () => {
  await using c = await client()
  await using waiterClient = await client() // closed by the test, and again (a no-op) at the end
  const group = uniqueName('closed')
  const q = c.queue(await freshQueue(c, {}, 'node-group-closed'))
  await q.send('work', { group })

  await withPg(async (db) => {
    const waiting = waiterClient.waitForGroup(group)
    await lastStatementOnCompletions(db, [q], 'LISTEN')

    const rejected = assert.rejects(waiting, ClientClosedError) // handled before the close rejects it
    await waiterClient.close()

    await rejected
  })
})

test('bad group ids, untracked grouped sends and the outbox with a group are refused, and nothing is written', T, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c, {}, 'node-group-bad'))
  const max = DEFAULTS.limits.maxGroupLen
  // Too long counts bytes of UTF-8: 'é' is two.
  const bad = ['', 'x'.repeat(max + 1), 'é'.repeat(Math.ceil((max + 1) / 2)), 'a\0b']

  for (const group of bad) {
    const what = `group ${JSON.stringify(group.slice(0, 8))} (${Buffer.byteLength(group)} bytes)`
    await assert.rejects(q.send('x', { group }), InvalidOptionError, what)
    await assert.rejects(q.sendBatch(['x', 'y'], { group }), InvalidOptionError, what)
    await assert.rejects(q.groupStats(group), InvalidOptionError, what)
    await assert.rejects(q.cancelGroup(group), InvalidOptionError, what)
    await assert.rejects(q.waitForGroup(group), InvalidOptionError, what)
    await assert.rejects(c.groupStats(group), InvalidOptionError, what)
    await assert.rejects(c.cancelGroup(group), InvalidOptionError, what)
    await assert.rejects(c.waitForGroup(group), InvalidOptionError, what)
  }
  await assert.rejects(q.send('x', { group: 'g', track: false }), /a grouped message is tracked/)
  await assert.rejects(q.sendBatch(['x'], { group: 'g', track: false }), InvalidOptionError)
  assert.throws(() => sql.send(q.name, 'x', { group: 'g' } as object), InvalidOptionError)
  assert.equal((await q.stats()).messages, 0)

  // Wrong types are TypeErrors; an unknown queue is QueueNotFoundError.
  await assert.rejects(q.send('x', { group: 42 as unknown as string }), TypeError)
  await assert.rejects(c.cancelGroup(42 as unknown as string), TypeError)
  await assert.rejects(q.waitForGroup('g', { signal: 'stop' as unknown as AbortSignal }), TypeError)
  const missing = c.queue(uniqueName('node-group-missing'))
  await assert.rejects(missing.cancelGroup('g'), QueueNotFoundError)
  await assert.rejects(missing.waitForGroup('g'), QueueNotFoundError)
  await assert.rejects(missing.groupStats('g'), QueueNotFoundError)

  // The longest ids are taken, however many characters they are.
  await q.send('x', { group: 'x'.repeat(max) })
  await q.send('x', { group: 'é'.repeat(Math.floor(max / 2)) })
  assert.equal((await q.groupStats('x'.repeat(max))).messages, 1)
})
