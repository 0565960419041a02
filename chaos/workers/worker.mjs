// The Node worker of the chaos checker (run by pgmq-chaos with `node`). Imports the `pgmq` package by
// its own name: this file lives inside the package (the repository root), so Node resolves the name
// to the package itself.
//
// Receives from one queue, acts out the behaviour written in each message body, and logs every step as
// a JSON line on stdout (synchronous writes to a pipe on Linux). Timestamps are CLOCK_MONOTONIC
// microseconds (process.hrtime), the clock of every worker.
//
// Environment: CHAOS_DSN, CHAOS_QUEUE, CHAOS_CONCURRENCY (default 8), CHAOS_MODE:
//   loop     CHAOS_CONCURRENCY `for await` loops over queue.receive(), explicit ack / nack
//   process  queue.process(handler, { concurrency }): the handler acks explicitly on success and
//            throws to fail (process() then nacks; a failed nack reaches onError)
import { connect } from 'pgmq'

const now = () => Number(process.hrtime.bigint() / 1000n)
const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const code = (err) => err?.code ?? err?.name ?? String(err)
const retryable = (err) => err?.code === 'connection' || err?.code === 'database'
// A connection error the receiver recovered from (it retries by itself).
const receiveError = (err) => emit({ e: 'err', where: 'recv', r: code(err), t: now() })

// Exit once the checker is gone (the parent changes), so that workers are never left behind.
const parent = process.ppid
setInterval(() => { if (process.ppid !== parent) process.exit(0) }, 500).unref()
process.stdout.on('error', () => process.exit(0))

const dsn = process.env.CHAOS_DSN
const queueName = process.env.CHAOS_QUEUE
const concurrency = Number(process.env.CHAOS_CONCURRENCY ?? 8)
const mode = process.env.CHAOS_MODE ?? 'loop'

async function ack(msg) {
  for (let i = 0; i < 5; i++) {
    emit({ e: 'ack', id: msg.id, a: msg.deliveryAttempt, t: now() })
    try {
      await msg.ack()
      emit({ e: 'ack_r', id: msg.id, a: msg.deliveryAttempt, t: now(), r: 'ok' })
      return
    } catch (err) {
      emit({ e: 'ack_r', id: msg.id, a: msg.deliveryAttempt, t: now(), r: code(err) })
      if (!retryable(err)) return
      await sleep(200)
    }
  }
}

async function nack(msg, options) {
  for (let i = 0; i < 5; i++) {
    emit({ e: 'nack', id: msg.id, a: msg.deliveryAttempt, t: now() })
    try {
      await msg.nack(options)
      emit({ e: 'nack_r', id: msg.id, a: msg.deliveryAttempt, t: now(), r: 'ok' })
      return
    } catch (err) {
      emit({ e: 'nack_r', id: msg.id, a: msg.deliveryAttempt, t: now(), r: code(err) })
      if (!retryable(err)) return
      await sleep(200)
    }
  }
}

/** Acts out one message. Returns normally when it finished the message itself; throws to fail it. */
async function work(queue, msg, throwing) {
  const body = JSON.parse(msg.body.toString())
  const attempt = msg.deliveryAttempt
  emit({ e: 'recv', id: msg.id, a: attempt, t: now(), n: body.n, b: body.b })
  const fail = (body.b === 'raise' && attempt <= (body.k ?? 1)) || body.b === 'fail'
  if (fail) {
    try {
      throw new Error(body.b === 'fail' ? 'always fails' : 'chaos: the handler failed on purpose')
    } catch (err) {
      if (throwing) {
        emit({ e: 'nack', id: msg.id, a: attempt, t: now() }) // process() nacks once the handler throws
        throw err
      }
      return nack(msg, { error: err.message })
    }
  }
  if (body.b === 'nack_once' && attempt === 1) return nack(msg, { delayMs: 200, error: 'once' })
  if (body.b === 'slow') {
    const signal = msg.cancelled
    const cancelled = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), body.ms ?? 2500)
      signal.addEventListener('abort', () => { clearTimeout(timer); resolve(true) }, { once: true })
      if (signal.aborted) { clearTimeout(timer); resolve(true) }
    })
    if (cancelled) {
      emit({ e: 'intr', id: msg.id, a: attempt, t: now() })
      msg.release() // cancelled while held: dropped for good, never redelivered
      return
    }
  }
  if (body.b === 'cancel' && body.target) {
    emit({ e: 'cancel', id: msg.id, a: attempt, target: body.target, t: now() })
    let r
    try {
      const found = await queue.cancel([body.target])
      r = found.includes(body.target) ? 'found' : 'not_found'
    } catch (err) {
      r = code(err)
    }
    emit({ e: 'cancel_r', id: msg.id, target: body.target, r, t: now() })
  }
  return ack(msg)
}

async function loop(queue) {
  for (;;) {
    try {
      for await (const msg of queue.receive({ batchSize: 1, pollIntervalMs: 2000, onError: receiveError })) {
        await work(queue, msg, false)
      }
      return // the client closed
    } catch (err) {
      emit({ e: 'err', where: 'recv', r: code(err), t: now() })
      await sleep(100)
    }
  }
}

async function processing(queue) {
  for (;;) {
    try {
      await queue.process((msg) => work(queue, msg, true), {
        concurrency,
        pollIntervalMs: 2000,
        onError: (err, msg) =>
          msg === undefined
            ? receiveError(err)
            : emit({ e: 'nack_r', id: msg.id, a: msg.deliveryAttempt, t: now(), r: code(err) }),
      })
      return
    } catch (err) {
      emit({ e: 'err', where: 'recv', r: code(err), t: now() })
      await sleep(100)
    }
  }
}

let client
for (;;) {
  try {
    client = await connect(dsn, { poolSize: 4 })
    break
  } catch (err) {
    emit({ e: 'err', where: 'connect', r: code(err), t: now() })
    await sleep(200)
  }
}
const queue = client.queue(queueName)
emit({ e: 'ready', t: now() })
if (mode === 'process') await processing(queue)
else await Promise.all(Array.from({ length: concurrency }, () => loop(queue)))
