// Hostile and out-of-range arguments, and panics: numbers the core cannot hold are InvalidOptionErrors
// (or RangeErrors from the JS layer) and write nothing; hostile text is stored verbatim; a filter nested
// deeper than the core allows is an InvalidOptionError, never a stack overflow; a panic in the addon is an
// InternalError, never a crash.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { promisify } from 'node:util'
import {
  Attribute,
  InternalError,
  InvalidOptionError,
  InvalidQueueNameError,
  MAX_FILTER_DEPTH,
  PgmqError,
  type Filter,
} from 'pgmq'
import { client, dsn, freshQueue, uniqueName } from './helpers.ts'

const T = { timeout: 30_000 }
const require = createRequire(path.join(__dirname, 'robustness.test.ts'))
const hook = require('pgmq')._panicForTests as (inRuntime: boolean) => unknown

/** Any value, for calls the types forbid on purpose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const bad = (v: unknown): any => v

const HOSTILE = ["x'); DROP TABLE pgmq.messages; --", "'", '"', ';', '$$', '$1', '--', '/*', '\\\\', 'é 中文 🎉', '']

describe('numbers out of range', () => {
  test('queue options the core cannot hold are InvalidOptionErrors and create nothing', T, async () => {
    await using c = await client()
    const cases = [
      { ackDeadlineMs: 1e300 },
      { ackDeadlineMs: 999 },
      { retentionPeriodMs: 0 },
      { retentionPeriodMs: 4e12 }, // beyond 100 years
      { maxDeliveryAttempts: 2 ** 31 },
      { maxDeliveryAttempts: 1e300 },
      { maxDeliveryAttempts: 0 },
      { deadLetterQueue: { maxDeliveryAttempts: 2 ** 32 } },
      { backoff: { baseMs: 1000, factor: 0.5 } },
      { backoff: { baseMs: 1000, factor: NaN } },
      { backoff: { baseMs: 2000, maxMs: 1000 } },
    ]
    for (const opts of cases) {
      const name = uniqueName('range')
      const refused = (e: unknown) => e instanceof RangeError || e instanceof InvalidOptionError
      await assert.rejects(c.createQueue(name, bad(opts)), refused, JSON.stringify(opts))
      assert.equal(await c.deleteQueue(name), false, `${JSON.stringify(opts)} created a queue`)
    }
  })

  test('batch sizes, delays and pool sizes beyond what the core takes; nothing is written', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    for (const batchSize of [100_001, 2 ** 64, Number.MAX_SAFE_INTEGER]) {
      assert.throws(() => q.receive({ batchSize }), InvalidOptionError, String(batchSize))
    }
    for (const batchSize of [0, -1, 1.5, NaN, Infinity]) {
      assert.throws(() => q.receive({ batchSize }), RangeError, String(batchSize))
    }
    await assert.rejects(q.send('x', { delayMs: 1e15 }), InvalidOptionError) // beyond 100 years
    await assert.rejects(q.sendBatch(['x', 'y'], { delayMs: 1e300 }), InvalidOptionError)
    await assert.rejects(q.send('x', { scheduleAt: new Date(8.64e15), delayMs: 1 }), InvalidOptionError)
    await assert.rejects(c.queue(uniqueName()).send('x', { delayMs: 1e15 }), InvalidOptionError)
    assert.equal((await q.stats()).messages, 0, 'a refused send wrote something')
  })
})

describe('hostile text', () => {
  test('NUL and a LIKE pattern ending in a lone escape are InvalidOptionErrors, written nowhere', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    await assert.rejects(q.send('x', { attributes: { 'nul\0key': 1 } }), InvalidOptionError)
    await assert.rejects(q.send('x', { attributes: { k: 'nul\0value' } }), InvalidOptionError)
    await assert.rejects(q.sendBatch(['ok', { body: 'bad', attributes: { k: '\0' } }]), InvalidOptionError)
    assert.throws(() => q.receive({ filter: Attribute('nul\0').exists() }), InvalidOptionError)
    assert.throws(() => q.receive({ filter: Attribute('k').eq('nul\0') }), InvalidOptionError)
    assert.throws(() => q.receive({ filter: Attribute('k').isLike('lone escape \\') }), InvalidOptionError)
    assert.throws(() => q.receive({ filter: Attribute('k').gt(NaN) }), InvalidOptionError)
    assert.throws(() => q.receive({ filter: Attribute('k').exists().or(Attribute('k').eq(-Infinity)) }), InvalidOptionError)
    await assert.rejects(c.createQueue('nul\0'), InvalidQueueNameError)
    await assert.rejects(c.createQueue('x'.repeat(49)), InvalidQueueNameError)
    await assert.rejects(c.createQueue("q'; DROP TABLE pgmq.queues; --"), InvalidQueueNameError)
    assert.throws(() => c.queue('$$'), InvalidQueueNameError)
    assert.equal((await q.stats()).messages, 0)
  })

  test('keys, values and filters with quotes, $$, unicode round-trip verbatim', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    for (const text of HOSTILE) {
      const attributes = { [text]: text, k: text, n: 2 ** 62, big: 2 ** 64, f: 1.5, neg: -(2 ** 53) }
      await q.sendBatch(['plain', { body: text, attributes }])
      const filter = Attribute(text).eq(text).and(Attribute('k').isLike(text.replaceAll('\\', '\\\\')))
      const stream = q.receive({ filter })
      const r = await stream.next()
      assert.equal(r.done, false)
      const m = r.value!
      await m.ack()
      stream.close()
      assert.equal(m.body.toString(), text)
      assert.deepEqual(m.attributes, attributes)
      for await (const plain of q.receive()) {
        assert.equal(plain.body.toString(), 'plain')
        await plain.ack()
        break
      }
    }
    assert.equal((await q.stats()).messages, 0)
  })

  test('filters nest up to MAX_FILTER_DEPTH (100); deeper is an InvalidOptionError from the core, not a stack overflow', T, async () => {
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    await q.send('deep', { attributes: { a: 1 } })
    assert.equal(MAX_FILTER_DEPTH, 100)
    let chain: Filter = Attribute('a').eq(1)
    for (let i = 1; i < MAX_FILTER_DEPTH; i++) chain = chain.and(Attribute('a').exists())
    for await (const m of q.receive({ filter: chain })) {
      assert.equal(m.body.toString(), 'deep')
      await m.ack()
      break
    }
    const tooDeep = (e: unknown) =>
      e instanceof InvalidOptionError && e.code === 'invalid_option' && /nest at most 100 levels/.test(e.message)
    assert.throws(() => chain.and(Attribute('a').exists()), tooDeep)
    assert.throws(() => Attribute('a').exists().or(chain), tooDeep)
    let deep: Filter = Attribute('a').exists()
    assert.throws(() => {
      for (let i = 0; i < 200_000; i++) deep = deep.and(Attribute('a').exists())
    }, tooDeep)
    // The chain that was refused is unchanged and still usable.
    await q.send('again', { attributes: { a: 1 } })
    for await (const m of q.receive({ filter: chain })) {
      assert.equal(m.body.toString(), 'again')
      await m.ack()
      break
    }
  })
})

describe('panics', () => {
  test('a panic in a synchronous native call is an InternalError, and the addon keeps working', T, async () => {
    for (let i = 0; i < 3; i++) {
      assert.throws(
        () => hook(false),
        (e: unknown) => e instanceof InternalError && e instanceof PgmqError && e.code === 'internal' && /test hook/.test(e.message),
      )
    }
    await using c = await client()
    const q = c.queue(await freshQueue(c))
    const sent = await q.send('after a panic')
    for await (const m of q.receive()) {
      await m.ack()
      break
    }
    assert.equal(await sent.completed(), 'completed')
  })

  test('a panic in a task on the runtime rejects its promise with an InternalError', T, async () => {
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        hook(true) as Promise<unknown>,
        (e: unknown) => e instanceof InternalError && e.code === 'internal' && /test hook/.test((e as Error).message),
      )
    }
    await using c = await client()
    assert.equal((await c.queue(await freshQueue(c)).stats()).messages, 0)
  })

  test('the process survives both and exits 0', T, async () => {
    const script = `
      const pgmq = require('pgmq')
      try { pgmq._panicForTests(false) } catch (e) { console.log('caught', e.name, e.code) }
      pgmq._panicForTests(true).catch((e) => { console.log('caught', e.name, e.code); console.log('alive') })
    `
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
      env: { ...process.env, DATABASE_URL: dsn() },
      cwd: path.join(__dirname, '..', '..'),
    })
    assert.deepEqual(stdout.trim().split('\n'), ['caught InternalError internal', 'caught InternalError internal', 'alive'])
  })
})
