// The core's behaviours as seen from Node: racing consumers, process(), dead letters, scheduling,
// cancellation, completion latency, a large batch, abort/break semantics and a crashed worker.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { once } from 'node:events'
import { setTimeout as delay, setImmediate as tick } from 'node:timers/promises'
import { getDlqName, HandleError, PgmqError, type Client, type Message, type MessageStream, type Queue } from 'pgmq'
import { client, freshQueue, until } from './helpers.ts'

const FIXTURES = join(__dirname, 'fixtures')

// ---------------------------------------------------------------------------------------------------
// Local helpers

interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/**
 * `p`, or a rejection naming `what` after `ms`. The timer is cleared once `p` settles; while it runs it
 * keeps the event loop alive, since some waits (an AbortSignal's 'abort' from `msg.cancelled`) are
 * deliberately weak and would otherwise let the test process exit mid-test.
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

/** The next message of `stream`, failing after `ms` or if the stream ends. */
async function nextMessage(stream: MessageStream, ms = 5000, what = 'a message'): Promise<Message> {
  const r = await within(stream.next(), ms, what)
  assert.equal(r.done, false, `the stream ended while waiting for ${what}`)
  return r.value as Message
}

/** Receives every message until `count` ids were seen (acking each), then ends the loop. */
async function drain(q: Queue, count: number, ms = 10_000): Promise<Message[]> {
  const got: Message[] = []
  for await (const msg of q.receive({ batchSize: 10, signal: AbortSignal.timeout(ms) })) {
    got.push(msg)
    await msg.ack()
    if (got.length === count) break
  }
  return got
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

// ---------------------------------------------------------------------------------------------------
// Competing consumers

test('two consumers on two clients racing on one queue get every message exactly once', { timeout: 60_000 }, async () => {
  await using a = await client()
  await using b = await client()
  const name = await freshQueue(a)
  const N = 300
  const sent = await a.queue(name).sendBatch(Array.from({ length: N }, (_, i) => `m${i}`))
  const seen: string[] = []
  const perConsumer = [0, 0]
  const ac = new AbortController()
  const enough = deferred()

  const consume = async (c: Client, k: number) => {
    for await (const msg of c.queue(name).receive({ batchSize: 5, signal: ac.signal })) {
      seen.push(msg.id)
      perConsumer[k]++
      await msg.ack()
      if (seen.length >= N) enough.resolve()
    }
  }
  const loops = Promise.all([consume(a, 0), consume(b, 1)])
  await within(Promise.race([enough.promise, loops]), 30_000, `${N} deliveries (got ${seen.length})`)
  ac.abort()
  await within(loops, 5000, 'both loops to end after the abort')

  assert.equal(new Set(seen).size, seen.length, 'a message was delivered twice')
  assert.deepEqual(new Set(seen), new Set(sent.ids))
  assert.ok(perConsumer[0] > 0 && perConsumer[1] > 0, `both consumers got work: ${perConsumer}`)
  const s = await a.queue(name).stats()
  assert.equal(s.messages, 0)
  assert.equal(s.leased, 0)
})

// ---------------------------------------------------------------------------------------------------
// process()

test('process(): resolving acks (completed); throwing nacks, redelivered with deliveryAttempt 2 and the error as lastError', { timeout: 30_000 }, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const ok = await q.send('ok')
  const bad = await q.send('bad')
  const calls: { body: string; attempt: number; lastError: string | null }[] = []
  const ac = new AbortController()

  const processing = q.process(
    async (msg) => {
      const body = msg.body.toString()
      calls.push({ body, attempt: msg.deliveryAttempt, lastError: msg.lastError })
      if (body === 'bad' && msg.deliveryAttempt === 1) throw new Error('handler exploded: xyz-42')
    },
    { concurrency: 2, signal: ac.signal },
  )
  const outcomes = await within(Promise.all([ok.completed(), bad.completed()]), 10_000, 'both outcomes')
  ac.abort()
  await within(processing, 5000, 'process() to resolve after the abort')

  assert.deepEqual(outcomes, ['completed', 'completed'])
  assert.deepEqual(calls.filter((x) => x.body === 'ok').map((x) => x.attempt), [1])
  const badCalls = calls.filter((x) => x.body === 'bad')
  assert.equal(badCalls.length, 2, JSON.stringify(calls))
  assert.equal(badCalls[0].attempt, 1)
  assert.equal(badCalls[0].lastError, null)
  assert.equal(badCalls[1].attempt, 2)
  assert.match(badCalls[1].lastError ?? '', /handler exploded: xyz-42/)
  const s = await q.stats()
  assert.equal(s.messages, 0)
  assert.equal(s.leased, 0)
})

test('process(): never more than `concurrency` handlers at once, and that many are reached', { timeout: 30_000 }, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const N = 3
  const total = 12
  const batch = await q.sendBatch(Array.from({ length: total }, (_, i) => `job ${i}`))
  let running = 0
  let maxRunning = 0
  let done = 0
  const reachedN = deferred()
  const allDone = deferred()
  const ac = new AbortController()

  const processing = q.process(
    async () => {
      running++
      maxRunning = Math.max(maxRunning, running)
      if (running === N) reachedN.resolve()
      try {
        // The first handlers wait until N run side by side (3 s fallback: the assertion then fails).
        await Promise.race([reachedN.promise, delay(3000, undefined, { ref: false })])
        await delay(20) // a slow handler
      } finally {
        running--
      }
      if (++done === total) allDone.resolve()
    },
    { concurrency: N, signal: ac.signal },
  )
  await within(allDone.promise, 20_000, `${total} handlers (done ${done})`)
  ac.abort()
  await within(processing, 5000, 'process() to resolve after the abort')

  assert.equal(maxRunning, N, `at most and at least ${N} handlers at once, saw ${maxRunning}`)
  const outcomes = await within(batch.completed(), 5000, 'outcomes')
  assert.deepEqual(Object.values(outcomes), Array(total).fill('completed'))
  assert.equal((await q.stats()).leased, 0)
})

test('process(): resolves after its signal aborts, once the running handlers finished, and leaves nothing leased', { timeout: 30_000 }, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const batch = await q.sendBatch(Array.from({ length: 10 }, (_, i) => `job ${i}`))
  let started = 0
  let finished = 0
  const handled: string[] = []
  const twoStarted = deferred()
  const gate = deferred()
  const ac = new AbortController()

  const processing = q.process(
    async (msg) => {
      if (++started === 2) twoStarted.resolve()
      await gate.promise
      handled.push(msg.id)
      finished++
    },
    { concurrency: 2, signal: ac.signal },
  )
  let finishedWhenResolved = -1
  const resolvedAfter = processing.then(() => {
    finishedWhenResolved = finished
  })
  await within(twoStarted.promise, 5000, 'two handlers to start')
  ac.abort()
  // Two database round trips: time for process() to see the abort (and, if broken, to resolve early).
  assert.equal((await q.stats()).leased, 2, 'the two running handlers hold their messages')
  await q.stats()
  assert.equal(finishedWhenResolved, -1, 'process() resolved while its handlers were still running')
  gate.resolve()
  await within(resolvedAfter, 5000, 'process() to resolve once its handlers finished')

  assert.equal(finishedWhenResolved, 2)
  assert.equal(started, 2, 'a handler started after the abort')
  await until(async () => (await q.stats()).leased === 0, 5000, 'leased === 0 after process() resolved')
  const s = await q.stats()
  assert.equal(s.messages, 8)
  assert.equal(s.ready, 8)
  for (const id of handled) {
    assert.ok(batch.ids.includes(id))
  }
})

// ---------------------------------------------------------------------------------------------------
// Dead letters

test('after maxDeliveryAttempts nacks the message is in dlq@name with deadLetterAttempts and lastError; completed() is dead_lettered', { timeout: 30_000 }, async () => {
  await using c = await client()
  const name = await freshQueue(c, { maxDeliveryAttempts: 3 })
  const q = c.queue(name)
  const sent = await q.send('doomed', { attributes: { kind: 'invoice' } })

  let n = 0
  for await (const msg of q.receive({ signal: AbortSignal.timeout(10_000) })) {
    n++
    assert.equal(msg.id, sent.id)
    assert.equal(msg.deliveryAttempt, n)
    await msg.nack({ error: `failure ${n}` })
    if (n === 3) break
  }
  assert.equal(n, 3, 'three deliveries within 10 s')

  assert.equal(await within(sent.completed(), 5000, 'completed()'), 'dead_lettered')
  const s = await q.stats()
  assert.equal(s.messages, 0)
  assert.equal(s.deadLettered, 1)
  const dlq = c.queue(getDlqName(name))
  assert.equal(dlq.name, `dlq@${name}`)
  const stream = dlq.receive({ signal: AbortSignal.timeout(10_000) })
  const dead = await nextMessage(stream, 5000, 'the message in the DLQ')
  assert.equal(dead.id, sent.id)
  assert.equal(dead.body.toString(), 'doomed')
  assert.deepEqual(dead.attributes, { kind: 'invoice' })
  assert.equal(dead.deadLetterAttempts, 3)
  assert.equal(dead.lastError, 'failure 3')
  assert.equal(dead.deliveryAttempt, 1)
  await dead.ack()
  stream.close()
  assert.equal((await dlq.stats()).messages, 0)
})

// ---------------------------------------------------------------------------------------------------
// Scheduling

async function assertNotEarly(t: TestContext, send: (q: Queue) => Promise<{ id: string; dueAt: number; sentAt: number }>) {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const { id, dueAt, sentAt } = await send(q)
  const s = await q.stats()
  assert.equal(s.scheduled, 1)
  assert.equal(s.ready, 0)
  const stream = q.receive({ signal: AbortSignal.timeout(10_000) })
  const msg = await nextMessage(stream, 6000, 'the delayed message')
  const at = Date.now()
  assert.equal(msg.id, id)
  t.diagnostic(`delivered ${at - dueAt} ms after it was due`)
  assert.ok(at >= dueAt, `delivered ${dueAt - at} ms early`)
  assert.ok(at - sentAt < 5000, `delivered ${at - sentAt} ms after the send`)
  await msg.ack()
  stream.close()
}

test('delayed delivery (delayMs 1500) is never early', { timeout: 30_000 }, async (t) => {
  await assertNotEarly(t, async (q) => {
    const sentAt = Date.now()
    const sent = await q.send('later', { delayMs: 1500 })
    return { id: sent.id, dueAt: sentAt + 1500, sentAt }
  })
})

test('scheduled delivery (scheduleAt now + 1500 ms) is never early', { timeout: 30_000 }, async (t) => {
  await assertNotEarly(t, async (q) => {
    const sentAt = Date.now()
    const scheduleAt = new Date(sentAt + 1500)
    const sent = await q.send('later', { scheduleAt })
    return { id: sent.id, dueAt: scheduleAt.getTime(), sentAt }
  })
})

// ---------------------------------------------------------------------------------------------------
// Cancellation

test('cancel of a queued message: returns its id, it is never delivered, completed() is cancelled', { timeout: 30_000 }, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const first = await q.send('cancel me')
  const second = await q.send('keep me')

  assert.deepEqual(await q.cancel([first.id]), [first.id])
  const stream = q.receive({ signal: AbortSignal.timeout(10_000) })
  const msg = await nextMessage(stream)
  // The cancelled one was first in line: the first delivery is the second message.
  assert.equal(msg.id, second.id)
  await msg.ack()
  stream.close()

  assert.equal(await within(first.completed(), 5000, 'completed() of the cancelled message'), 'cancelled')
  assert.equal(await within(second.completed(), 5000, 'completed() of the other one'), 'completed')
  assert.equal((await q.stats()).messages, 0)
})

test('cancel of a held message fires msg.cancelled within 1 s; its ack then resolves and does nothing; completed() is cancelled', { timeout: 30_000 }, async (t) => {
  await using c = await client()
  await using other = await client()
  const name = await freshQueue(c, { ackDeadlineMs: 3000 })
  const q = c.queue(name)
  const sent = await q.send('in flight')
  const stream = q.receive({ signal: AbortSignal.timeout(20_000) })
  const msg = await nextMessage(stream)
  assert.equal(msg.id, sent.id)

  const signal = msg.cancelled
  assert.equal(signal.aborted, false)
  const abortedAt = new Promise<number>((resolve) => signal.addEventListener('abort', () => resolve(Date.now()), { once: true }))
  assert.deepEqual(await q.cancel([sent.id]), [sent.id])
  const cancelReturned = Date.now()
  const firedAt = await within(abortedAt, 5000, "msg.cancelled's abort event")

  t.diagnostic(`msg.cancelled aborted ${firedAt - cancelReturned} ms after cancel() resolved`)
  assert.ok(firedAt - cancelReturned < 1000, `signalled ${firedAt - cancelReturned} ms after cancel()`)
  assert.equal(signal.aborted, true)
  assert.ok(signal.reason instanceof PgmqError, `reason: ${signal.reason}`)
  assert.equal((signal.reason as PgmqError).code, 'cancelled')
  assert.equal(msg.cancelled, signal, 'the same signal on every access')
  await msg.ack() // resolves, changes nothing
  assert.equal(await within(sent.completed(), 5000, 'completed()'), 'cancelled')
  stream.close()

  // Never redelivered: the row is gone (no lease lapse can bring it back).
  await until(async () => (await q.stats()).messages === 0, 5000, 'the cancelled message to be gone')
  const s = await other.queue(name).stats()
  assert.equal(s.messages, 0)
  assert.equal(s.deadLettered, 0)
})

test('msg.cancelled first read after the cancel reached the holder is already aborted', { timeout: 30_000 }, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c, { ackDeadlineMs: 3000 }))
  const a = await q.send('a')
  const b = await q.send('b')
  // Two streams of one client hold one message each.
  const s1 = q.receive({ signal: AbortSignal.timeout(20_000) })
  const s2 = q.receive({ signal: AbortSignal.timeout(20_000) })
  const m1 = await nextMessage(s1)
  const m2 = await nextMessage(s2)
  assert.deepEqual(new Set([m1.id, m2.id]), new Set([a.id, b.id]))

  const fired = new Promise<void>((resolve) => m1.cancelled.addEventListener('abort', () => resolve(), { once: true }))
  assert.deepEqual(new Set(await q.cancel([a.id, b.id])), new Set([a.id, b.id]))
  await within(fired, 5000, 'm1.cancelled to abort')
  // The same cancellation reached m2; its signal, made only now, starts out aborted.
  const late = m2.cancelled
  assert.equal(late.aborted, true, 'msg.cancelled read after the cancel is not aborted')
  assert.ok(late.reason instanceof PgmqError)
  assert.equal((late.reason as PgmqError).code, 'cancelled')

  await m1.ack()
  await m2.ack()
  s1.close()
  s2.close()
  assert.equal(await within(a.completed(), 5000, 'a'), 'cancelled')
  assert.equal(await within(b.completed(), 5000, 'b'), 'cancelled')
})

// ---------------------------------------------------------------------------------------------------
// Completion

test('completed() resolves within 100 ms (median of 10) of the worker ack resolving', { timeout: 60_000 }, async (t) => {
  await using sender = await client()
  await using worker = await client()
  const name = await freshQueue(sender)
  const q = sender.queue(name)
  const stream = worker.queue(name).receive({ signal: AbortSignal.timeout(50_000) })
  const samples: number[] = []
  for (let i = 0; i < 10; i++) {
    const sent = await q.send(`round ${i}`)
    const done = sent.completed().then((outcome) => ({ outcome, at: performance.now() }))
    const msg = await nextMessage(stream)
    assert.equal(msg.id, sent.id)
    await msg.ack()
    const ackedAt = performance.now()
    const { outcome, at } = await within(done, 5000, `completed() of round ${i}`)
    assert.equal(outcome, 'completed')
    samples.push(at - ackedAt)
  }
  stream.close()
  const m = median(samples)
  t.diagnostic(`ack -> completed(): median ${m.toFixed(1)} ms, max ${Math.max(...samples).toFixed(1)} ms`)
  assert.ok(m < 100, `median ack -> completed() ${m.toFixed(1)} ms; samples ${samples.map((x) => x.toFixed(1))}`)
})

// ---------------------------------------------------------------------------------------------------
// Volume

test('10,000 messages sent with one sendBatch, consumed by 4 concurrent loops: each exactly once', { timeout: 60_000 }, async (t) => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const N = 10_000
  const sent = await q.sendBatch(Array.from({ length: N }, (_, i) => `msg-${i}`))
  assert.equal(sent.ids.length, N)
  assert.equal(new Set(sent.ids).size, N)
  assert.equal((await q.stats()).messages, N)

  const counts = new Map<string, number>()
  let deliveries = 0
  const ac = new AbortController()
  const all = deferred()
  const loop = async () => {
    for await (const msg of q.receive({ batchSize: 50, signal: ac.signal })) {
      deliveries++
      counts.set(msg.id, (counts.get(msg.id) ?? 0) + 1)
      await msg.ack()
      if (counts.size === N) all.resolve()
    }
  }
  const started = Date.now()
  const loops = Promise.all([loop(), loop(), loop(), loop()])
  await within(Promise.race([all.promise, loops]), 40_000, `all ${N} ids (seen ${counts.size})`)
  ac.abort()
  await within(loops, 5000, 'the loops to end after the abort')
  const took = Date.now() - started
  t.diagnostic(`consumed ${N} messages in ${took} ms`)

  const twice = [...counts].filter(([, n]) => n > 1)
  assert.deepEqual(twice, [], 'delivered more than once')
  assert.equal(deliveries, N)
  for (const id of sent.ids) assert.equal(counts.get(id), 1)
  const s = await q.stats()
  assert.equal(s.messages, 0)
  assert.equal(s.leased, 0)
  assert.ok(took < 30_000, `consumed in ${took} ms`)
})

// ---------------------------------------------------------------------------------------------------
// Abort and break

test('break after the first of 10 leased messages releases all of them promptly; a new loop gets all 10', { timeout: 30_000 }, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const sent = await q.sendBatch(Array.from({ length: 10 }, (_, i) => `m${i}`))
  let first: Message | undefined
  for await (const msg of q.receive({ batchSize: 10, signal: AbortSignal.timeout(10_000) })) {
    first = msg
    assert.equal((await q.stats()).leased, 10, 'the claim leased all 10')
    break
  }
  assert.ok(first !== undefined, 'a message')
  const brokeAt = Date.now()
  await until(async () => (await q.stats()).leased === 0, 3000, 'leased === 0 after break')
  assert.ok(Date.now() - brokeAt < 3000)
  assert.equal(first.finished, true, 'the current message was released')

  const again = await drain(q, 10)
  assert.deepEqual(new Set(again.map((m) => m.id)), new Set(sent.ids))
  assert.ok(again.some((m) => m.id === first!.id), 'the unacked current message came back')
  for (const m of again) assert.equal(m.deliveryAttempt, 2, `attempt of ${m.id}`)
  assert.equal((await q.stats()).messages, 0)
})

test('aborting the signal while the loop waits on an empty queue ends it quietly and promptly', { timeout: 30_000 }, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  await q.send('one')
  const ac = new AbortController()
  const firstAcked = deferred()
  let n = 0
  const loop = (async () => {
    for await (const msg of q.receive({ signal: ac.signal })) {
      n++
      await msg.ack()
      firstAcked.resolve()
    }
  })()
  await within(firstAcked.promise, 5000, 'the first message')
  await tick() // the loop has called next() again and waits on the empty queue
  const abortedAt = Date.now()
  ac.abort()
  await within(loop, 2000, 'the loop to end after the abort') // rejects if the loop threw
  const took = Date.now() - abortedAt
  assert.ok(took < 1000, `the loop ended ${took} ms after the abort`)
  assert.equal(n, 1)
  assert.equal((await q.stats()).messages, 0)
})

test('aborting while messages are held releases them (leased 0), including the one in hand', { timeout: 30_000 }, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const sent = await q.sendBatch(['a', 'b', 'c', 'd', 'e'])
  const ac = new AbortController()
  const holding = deferred<Message>()
  const aborted = new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }))
  let iterations = 0
  const loop = (async () => {
    for await (const msg of q.receive({ batchSize: 5, signal: ac.signal })) {
      iterations++
      holding.resolve(msg)
      await aborted // hold it until the abort
    }
  })()
  const inHand = await within(holding.promise, 5000, 'a message')
  assert.equal((await q.stats()).leased, 5)
  ac.abort()
  await until(async () => (await q.stats()).leased === 0, 3000, 'leased === 0 after the abort')
  await within(loop, 2000, 'the loop to end')
  assert.equal(iterations, 1)
  assert.equal(inHand.finished, true)
  await assert.rejects(inHand.ack(), HandleError, 'ack of a released message')

  const again = await drain(q, 5)
  assert.deepEqual(new Set(again.map((m) => m.id)), new Set(sent.ids))
  assert.equal((await q.stats()).messages, 0)
})

test('a message neither acked nor nacked when the loop moves on is released and redelivered with deliveryAttempt 2', { timeout: 30_000 }, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const skipped = await q.send('skipped')
  const other = await q.send('other')
  const deliveries: { id: string; attempt: number }[] = []
  let redelivered: Message | undefined
  for await (const msg of q.receive({ signal: AbortSignal.timeout(10_000) })) {
    deliveries.push({ id: msg.id, attempt: msg.deliveryAttempt })
    if (msg.id === skipped.id && msg.deliveryAttempt === 1) continue // left unfinished
    await msg.ack()
    if (msg.id === skipped.id) {
      redelivered = msg
      break
    }
  }
  assert.ok(redelivered !== undefined, `the skipped message came back within 10 s: ${JSON.stringify(deliveries)}`)
  assert.equal(redelivered.deliveryAttempt, 2)
  assert.equal(await within(skipped.completed(), 5000, 'skipped'), 'completed')
  // The other message is either already acked or still queued (never lost or doubled).
  const seenOther = deliveries.filter((d) => d.id === other.id)
  assert.ok(seenOther.length <= 1)
  if (seenOther.length === 0) await drain(q, 1)
  assert.equal((await q.stats()).messages, 0)
})

test('a signal aborted before receive() ends the loop at once, leasing nothing', { timeout: 30_000 }, async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  await q.send('waiting')
  const ac = new AbortController()
  ac.abort()
  const started = Date.now()
  let n = 0
  const stream = q.receive({ signal: ac.signal })
  assert.equal(stream.closed, true)
  for await (const _msg of stream) n++
  assert.equal(n, 0)
  assert.ok(Date.now() - started < 500, `took ${Date.now() - started} ms`)
  const s = await q.stats()
  assert.equal(s.leased, 0)
  assert.equal(s.ready, 1)
})

// ---------------------------------------------------------------------------------------------------
// A crashed worker process

test('a message held by a SIGKILLed process is redelivered (deliveryAttempt 2) after its ack deadline', { timeout: 30_000 }, async (t) => {
  await using c = await client()
  const name = await freshQueue(c, { ackDeadlineMs: 1000 })
  const q = c.queue(name)
  const sent = await q.send('survive the crash')

  const child = spawn(process.execPath, [join(FIXTURES, 'hold-message.mjs'), name], {
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  try {
    const holding = new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d
        const m = /^HOLDING (\S+) (\d+)$/m.exec(out)
        if (m) resolve(`${m[1]} ${m[2]}`)
      })
      child.on('exit', (code) => reject(new Error(`the child exited (${code}) before holding: ${stderr}`)))
    })
    assert.equal(await within(holding, 10_000, 'the child to hold the message'), `${sent.id} 1`)

    const stream = q.receive({ signal: AbortSignal.timeout(20_000) })
    let gotAt = 0
    const next = stream.next().then((r) => {
      gotAt = Date.now()
      return r
    })
    // While the child lives its lease is live and nobody else gets the message.
    await until(async () => (await q.stats()).leased === 1, 2000, 'the lease to be live')
    assert.equal(gotAt, 0, 'delivered while the child still held it')
    child.kill('SIGKILL')
    const killedAt = Date.now()
    const [, signal] = await within(exited, 5000, 'the child to die')
    assert.equal(signal, 'SIGKILL')

    const r = await within(next, 10_000, 'the redelivery')
    assert.equal(r.done, false)
    const msg = r.value as Message
    assert.equal(msg.id, sent.id)
    assert.equal(msg.deliveryAttempt, 2)
    t.diagnostic(`redelivered ${gotAt - killedAt} ms after the kill (ack deadline 1000 ms)`)
    assert.ok(gotAt - killedAt < 11_000, `redelivered ${gotAt - killedAt} ms after the kill`)
    await msg.ack()
    stream.close()
    assert.equal(await within(sent.completed(), 5000, 'completed()'), 'completed')
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
})
