// Results and request/reply: a worker acks with a result (bytes, a value, JSON), whoever waits for the
// message's completion gets it with the outcome (SentMessage.reply, SentBatch.replies), and queue.request
// sends and waits in one call: answered, dead-lettered (RequestFailedError), timed out (PgmqTimeoutError,
// the request cancelled), or abandoned by its signal (the request left queued). Every wait is on an event:
// a message, an outcome, an abort; the timeouts are the behaviour under test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { inspect } from 'node:util'
import {
  DEFAULTS,
  HandleError,
  InvalidOptionError,
  JSON_CONTENT_TYPE,
  PgmqTimeoutError,
  Reply,
  getDlqName,
  RequestFailedError,
  jsonSerializer,
  type Message,
  type Queue,
} from 'pgmq'
import { client, freshQueue, until } from './helpers.ts'

const T = { timeout: 30_000 }

/**
 * The next message of `queue`. Its stream stays open (closing it, or moving it on, would release the
 * message); the client's close ends it.
 */
async function receiveOne<T>(queue: Queue<T>): Promise<Message<T>> {
  const { value } = await queue.receive().next()
  assert.ok(value !== undefined, 'the stream ended without a message')
  return value
}

/** Answers every request on `queue` with `answer(message)` until `stop()`. */
function serve<T>(queue: Queue<T>, answer: (message: Message<T>) => Promise<void>): { stop: () => Promise<void> } {
  const controller = new AbortController()
  const running = queue.process(answer, { signal: controller.signal })
  return {
    stop: async () => {
      controller.abort()
      await running
    },
  }
}

/**
 * The next `n` messages of `queue`, all held at once (by the handlers of a `process()`, which wait until
 * `stop()`), to be finished by the test.
 */
async function holdAll<T>(queue: Queue<T>, n: number): Promise<{ messages: Message<T>[]; stop: () => Promise<void> }> {
  const messages: Message<T>[] = []
  let gathered!: () => void
  const all = new Promise<void>((resolve) => (gathered = resolve))
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  const worker = serve(queue, async (m) => {
    if (messages.push(m) === n) gathered()
    await released
  })
  await all
  return {
    messages,
    stop: async () => {
      release()
      await worker.stop()
    },
  }
}

test('a result acked as bytes reaches the sender with its content type, also when it waits after the ack', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  const sent = await queue.send('resize cat.png')
  const message = await receiveOne(queue)

  await message.ack(Buffer.from([0, 1, 2, 255]), { contentType: 'application/octet-stream' })
  const reply = await sent.reply()

  assert.ok(reply instanceof Reply)
  assert.equal(reply.outcome, 'completed')
  assert.deepEqual(reply.result, Buffer.from([0, 1, 2, 255]))
  assert.equal(reply.contentType, 'application/octet-stream')
})

test('ackJson keeps a JSON result labelled application/json, which reply.json() reads', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  const sent = await queue.send({ image: 'cat.png' })
  const replied = sent.reply()
  const message = await receiveOne(queue)

  await message.ackJson({ width: 640, tags: ['cat'] })
  const reply = await replied

  assert.equal(reply.contentType, JSON_CONTENT_TYPE)
  assert.deepEqual(reply.json(), { width: 640, tags: ['cat'] })
  assert.equal(reply.result?.toString(), '{"width":640,"tags":["cat"]}')
})

test('ack(result) follows the send rule: bytes and strings as they are, other values as labelled JSON', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  const batch = await queue.sendBatch(['a', 'b', 'c'])
  const { messages, stop } = await holdAll(queue, 3)
  messages.sort((x, y) => batch.ids.indexOf(x.id) - batch.ids.indexOf(y.id))

  await messages[0].ack({ n: 1 })
  await messages[1].ack('done', { contentType: 'text/plain' })
  await messages[2].ack('done')
  await stop()
  const replies = [...(await batch.replies()).values()]

  assert.deepEqual(replies.map((r) => [r.contentType, r.result?.toString()]), [
    [JSON_CONTENT_TYPE, '{"n":1}'],
    ['text/plain', 'done'],
    [null, 'done'],
  ])
  assert.deepEqual(replies[0].json(), { n: 1 })
  assert.throws(() => replies[1].json(), TypeError, 'a text/plain result is not read as JSON')
})

test('on a queue handle with a serializer, ack(string) is serialized and reply.json() reads it back', T, async () => {
  await using c = await client()
  const queue = c.queue<string>(await freshQueue(c), { serializer: jsonSerializer })
  const sent = await queue.send('job')

  await (await receiveOne(queue)).ack('done')
  const reply = await sent.reply()

  assert.deepEqual([reply.contentType, reply.result?.toString(), reply.json()], [JSON_CONTENT_TYPE, '"done"', 'done'])
})

test('a plain ack gives a reply without a result, whose json() is an InvalidOptionError', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  const sent = await queue.send('x')

  await (await receiveOne(queue)).ack()
  const reply = await sent.reply()

  assert.deepEqual([reply.outcome, reply.result, reply.contentType], ['completed', null, null])
  assert.throws(() => reply.json(), InvalidOptionError)
})

test('waiting for the reply of an untracked message rejects with HandleError (not_tracked)', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  const sent = await queue.send('x', { track: false })

  await assert.rejects(sent.reply(), (err: unknown) => err instanceof HandleError && err.code === 'not_tracked')
})

test('acks with and without results in one turn of the event loop commit together, each keeping its own', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  const batch = await queue.sendBatch(['plain', 'bytes', 'json', 'plain again'])
  const { messages, stop } = await holdAll(queue, 4)
  messages.sort((x, y) => batch.ids.indexOf(x.id) - batch.ids.indexOf(y.id))

  // No await between them: one group, with holes where the acks carry no result.
  await Promise.all([
    messages[0].ack(),
    messages[1].ack(Buffer.from('raw')),
    messages[2].ackJson([1, 2]),
    messages[3].ack(),
  ])
  await stop()
  const replies = await batch.replies()

  assert.deepEqual([...replies.keys()], batch.ids, 'in send order')
  assert.deepEqual(
    [...replies.values()].map((r) => [r.outcome, r.result?.toString() ?? null, r.contentType]),
    [
      ['completed', null, null],
      ['completed', 'raw', null],
      ['completed', '[1,2]', JSON_CONTENT_TYPE],
      ['completed', null, null],
    ],
  )
})

test('a refused content type is an InvalidOptionError and the message stays held, ackable again', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  const sent = await queue.send('x')
  const message = await receiveOne(queue)

  await assert.rejects(message.ack('r', { contentType: '' }), InvalidOptionError)
  await assert.rejects(message.ack('r', { contentType: 'text/\0plain' }), InvalidOptionError)
  assert.equal(message.finished, false)
  await assert.rejects(message.ack({ a: 1 }, { contentType: 'text/plain' }), InvalidOptionError, 'a serialized value is labelled by its serializer')
  await message.ack('r', { contentType: 'text/plain' })

  assert.equal(message.finished, true)
  assert.deepEqual(await sent.reply().then((r) => [r.result?.toString(), r.contentType]), ['r', 'text/plain'])
})

test('a result over the send limit is an InvalidOptionError, and the message stays held', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  await queue.send('x')
  const message = await receiveOne(queue)

  await assert.rejects(message.ack(Buffer.alloc(DEFAULTS.limits.maxSendBytes + 1)), InvalidOptionError)

  assert.equal(message.finished, false)
  await message.ack()
})

test('request: a worker answering with ackJson resolves it with the reply', T, async () => {
  await using c = await client()
  const queue = c.queue<{ numbers: number[] }>(await freshQueue(c))
  const worker = serve(queue, async (m) => m.ackJson(m.json().numbers.reduce((a, b) => a + b, 0)))

  try {
    const reply = await queue.request({ numbers: [2, 3] }, { timeoutMs: 10_000 })
    const again = await queue.requestJson({ numbers: [4, 5] })

    assert.deepEqual([reply.outcome, reply.json<number>(), reply.contentType], ['completed', 5, JSON_CONTENT_TYPE])
    assert.equal(again.json<number>(), 9)
  } finally {
    await worker.stop()
  }
})

test('requestJson sends a string as JSON, labelled, whatever the queue', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  const worker = serve(queue, async (m) => m.ack(Buffer.from(`${m.attributes['content-type']} ${m.body}`)))

  try {
    const reply = await queue.requestJson('hi', { attributes: { kind: 'greeting' } })

    assert.equal(reply.result?.toString(), 'application/json "hi"')
  } finally {
    await worker.stop()
  }
})

test('a dead-lettered request rejects with RequestFailedError carrying its outcome and id', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c, { maxDeliveryAttempts: 1 }))
  const worker = serve(queue, async () => {
    throw new Error('cannot compute')
  })

  try {
    const err: unknown = await queue.request('compute', { timeoutMs: 10_000 }).then(
      () => assert.fail('the request resolved'),
      (e: unknown) => e,
    )

    assert.ok(err instanceof RequestFailedError, String(err))
    assert.equal(err.code, 'request_failed')
    assert.equal(err.outcome, 'dead_lettered')
    assert.match(err.messageId, /^[0-9a-f-]{36}$/)
    assert.equal(err.transient, false)
    assert.match(err.message, /^request [0-9a-f-]{36} got no reply: it was dead_lettered$/, 'the fields do not leak into the text')
    const [dead] = await c.queue(getDlqName(queue.name)).peek()
    assert.equal(dead.id, err.messageId)
  } finally {
    await worker.stop()
  }
})

test('a request without a reply in time rejects with PgmqTimeoutError and is cancelled, its worker signalled', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  const next = receiveOne(queue) // waiting before the request is sent, so that it takes it at once
  const requested = queue.request('slow', { timeoutMs: 1_500 })
  const held = await next
  const signalled = once(held.cancelled, 'abort')
  // The cancellation watch never keeps the process alive (by design): this interval does, while waiting.
  const keepAlive = setInterval(() => {}, 1_000)
  try {
    await assert.rejects(requested, (err: unknown) => err instanceof PgmqTimeoutError && err.code === 'timeout')
    await signalled
  } finally {
    clearInterval(keepAlive)
  }
  await held.ack('too late') // resolves, changes nothing

  assert.deepEqual(await queue.waitForCompletion([held.id]), { [held.id]: 'cancelled' })
  assert.deepEqual(await queue.peek(), [])
})

test('a request is refused before anything is sent: timeoutMs 0 (InvalidOptionError), negative (RangeError)', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))

  await assert.rejects(queue.request('x', { timeoutMs: 0 }), InvalidOptionError)
  await assert.rejects(queue.request('x', { timeoutMs: -1 }), RangeError)
  await assert.rejects(queue.requestJson(undefined), TypeError)

  assert.equal((await queue.stats()).messages, 0)
})

test('an aborted signal rejects the request with its reason and leaves the request queued for a worker', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  const controller = new AbortController()
  const requested = queue.request('work', { signal: controller.signal })
  await until(async () => (await queue.stats()).ready === 1, 10_000, 'the request to be sent')

  controller.abort(new Error('the caller went away'))

  await assert.rejects(requested, /the caller went away/)
  const message = await receiveOne(queue)
  await message.ackJson('answered anyway')
  assert.deepEqual(await queue.waitForCompletion([message.id]), { [message.id]: 'completed' })
  await assert.rejects(queue.request('x', { signal: AbortSignal.abort() }), { name: 'AbortError' })
})

test('a reply shows its result\'s length, never its bytes', T, async () => {
  await using c = await client()
  const queue = c.queue(await freshQueue(c))
  const sent = await queue.send('x')
  await (await receiveOne(queue)).ackJson({ password: 'hunter2' })

  const reply = await sent.reply()

  assert.equal(String(reply), 'Reply(completed, 22 bytes, application/json)')
  assert.equal(inspect(reply), "Reply { outcome: 'completed', result: <22 bytes>, contentType: 'application/json', reason: null }")
  assert.doesNotMatch(inspect({ reply }), /hunter2/)
})
