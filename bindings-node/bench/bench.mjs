// `make bench`, Node rows: the cost of the binding beside the Rust core's figures of the same run.
//
// Figures (the Rust bench's, through the Node API; the same as bindings-python/bench/bench.py):
//   send_batch    `await queue.sendBatch(1000 bodies)`, 100 times (messages/s)
//   receive_ack   8 workers, each a `for await (const msg of queue.receive({ batchSize: 100 }))` loop that
//                 acks every message without waiting for that ack before taking the next one (the stream
//                 holds at most 100 unfinished messages, so at most 100 acks per worker are in flight:
//                 the Node counterpart of the Python bench's 100 tasks per stream) (messages/s)
//   latency_p50/p99  send -> start of the `for await` body with an idle worker, 1,000 samples (ms)
//   completion_p50/p99  `await (await queue.send(body)).completed()` with an idle worker that acks each
//                 message without a result, as many samples as latency (ms)
//   request_p50/p99  `await queue.request(body)` with an idle worker that acks each one with a small
//                 JSON result (`msg.ackJson`), as many samples as latency: beside completion, the cost of
//                 the result and of request's own work (ms)
//
// Each Node figure is printed beside the Rust figure of the same run (the last `"lang": "rust"` line of
// target/bench/summary.jsonl, written by the Rust bench just before) and appended there as
// {"figure", "lang": "node", "value", "unit", "ceiling"}, the ceiling being that Rust figure.
// Sizes scale with PGMQ_BENCH_SCALE (default 1.0); PGMQ_BENCH_ONLY=receive_ack,latency runs a subset
// (`request`, `completion`: those rows).
// A stream that fails (a claim the database aborted) is reopened and reported on stderr, not fatal.
//
//     DATABASE_URL=postgres://... node bindings-node/bench/bench.mjs
import { execFileSync } from 'node:child_process'
import { accessSync, appendFileSync, constants, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, PgmqError } from 'pgmq'

const PAYLOAD = Buffer.from('{"job":"resize","id":123456,"size":"large"}')
const SUMMARY = 'target/bench/summary.jsonl'

function scale(n) {
  return Math.max(1, Math.trunc(n * Number(process.env.PGMQ_BENCH_SCALE || '1')))
}

function wanted(name) {
  const only = process.env.PGMQ_BENCH_ONLY || ''
  return !only || only.split(',').some((o) => name.startsWith(o))
}

function log(line) {
  process.stderr.write(`bench (node): ${line}\n`)
}

async function freshQueue(client, name) {
  await client.deleteQueue(name)
  await client.createQueue(name, { deadLetterQueue: null })
}

async function sendBatch(client, batches) {
  const name = 'bench-node-send-batch'
  await freshQueue(client, name)
  const queue = client.queue(name)
  const start = performance.now()
  for (let i = 0; i < batches; i++) {
    await queue.sendBatch(new Array(1000).fill(PAYLOAD))
  }
  const elapsed = (performance.now() - start) / 1000
  await client.deleteQueue(name)
  return (batches * 1000) / elapsed
}

/** psql from PGMQ_PG_BIN (then PATH), or null. */
function findPsql() {
  const dirs = [process.env.PGMQ_PG_BIN, ...(process.env.PATH || '').split(delimiter)].filter(Boolean)
  for (const dir of dirs) {
    const candidate = join(dir, 'psql')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return null
}

/** As the Rust bench does before its receive_ack: freshly inserted rows, vacuumed and analyzed. pgmq runs
 * no SQL of the caller's, so this goes through psql (skipped if there is none). */
function vacuumAnalyzeMessages() {
  const psql = findPsql()
  if (psql === null) {
    log('no psql: the queue is not vacuumed before receive_ack')
    return
  }
  execFileSync(psql, ['-q', process.env.DATABASE_URL, '-c', 'VACUUM ANALYZE pgmq.messages'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  })
}

// Errors of the streams themselves (a failed claim), counted per figure and reported on stderr.
let streamErrors = []

/** Runs `handle` on every message of `open(signal)` until `signal` aborts. A stream that fails with a
 * PgmqError is counted and opened again, as a long-running consumer would, so one failed claim does not
 * end the whole run; anything else is a bug of this script and propagates. */
async function consume(signal, open, handle) {
  while (!signal.aborted) {
    try {
      for await (const msg of open(signal)) {
        const pending = handle(msg)
        if (pending !== undefined) await pending
      }
      return // ended quietly: aborted, or the client closed
    } catch (err) {
      if (!(err instanceof PgmqError) || err.code === 'closed') throw err
      streamErrors.push(err)
    }
  }
}

function reportStreamErrors(figure) {
  if (streamErrors.length) {
    log(`${figure}: ${streamErrors.length} stream errors, the streams were reopened (first: ${streamErrors[0].message})`)
  }
  streamErrors = []
}

async function receiveAck(client, total) {
  const name = 'bench-node-receive-ack'
  await freshQueue(client, name)
  const target = Math.trunc(total / 1000) * 1000
  const queue = client.queue(name)
  for (let i = 0; i < Math.trunc(total / 1000); i++) {
    await queue.sendBatch(new Array(1000).fill(PAYLOAD), { track: false })
  }
  vacuumAnalyzeMessages()

  let done = 0
  let errors = 0
  let unexpected = null
  let inFlight = 0
  let finish
  let drained = null
  const finished = new Promise((resolve) => (finish = resolve))
  const settled = () => {
    if (--inFlight === 0 && drained !== null) drained()
  }
  const acked = () => {
    settled()
    if (++done >= target) finish()
  }
  const failed = (err) => {
    settled()
    if (err instanceof PgmqError) errors++ // e.g. a lost lease: the message comes back, and is counted then
    else unexpected ??= err
  }
  const stop = new AbortController()

  async function worker() {
    await consume(stop.signal, (signal) => queue.receive({ batchSize: 100, signal }), (msg) => {
      void msg.body // the work would start here
      inFlight++
      msg.ack().then(acked, failed) // not awaited: the loop moves on to the next message at once
    })
  }

  const start = performance.now()
  const workers = Array.from({ length: 8 }, worker)
  const limitMs = (60 + target / 1000) * 1000
  const timer = setTimeout(() => {
    log(`receive_ack timed out after ${done} of ${target} messages`)
    finish()
  }, limitMs)
  await finished
  const elapsed = (performance.now() - start) / 1000
  const rate = done / elapsed
  clearTimeout(timer)
  stop.abort()
  await Promise.all(workers)
  if (inFlight > 0) await new Promise((resolve) => (drained = resolve))
  if (unexpected !== null) throw unexpected
  if (errors) log(`receive_ack: ${errors} acks failed`)
  reportStreamErrors('receive_ack')
  await client.deleteQueue(name)
  return rate
}

/** An unbounded queue of values with an awaitable `get()`. */
class Channel {
  #values = []
  #waiters = []
  put(value) {
    const waiter = this.#waiters.shift()
    if (waiter) waiter(value)
    else this.#values.push(value)
  }
  get() {
    if (this.#values.length) return Promise.resolve(this.#values.shift())
    return new Promise((resolve) => this.#waiters.push(resolve))
  }
}

async function latency(client, samples) {
  const name = 'bench-node-latency'
  await freshQueue(client, name)
  const queue = client.queue(name)
  const started = new Channel()
  const stop = new AbortController()
  const worker = consume(stop.signal, (signal) => queue.receive({ signal }), async (msg) => {
    started.put(performance.now()) // handler start
    await msg.ack()
  })
  const lat = []
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now()
    await queue.send(PAYLOAD, { track: false })
    lat.push((await started.get()) - t0)
    await sleep(2)
  }
  stop.abort()
  await worker
  await client.deleteQueue(name)
  reportStreamErrors('latency')
  lat.sort((a, b) => a - b)
  return [percentile(lat, 0.5), percentile(lat, 0.99)]
}

/** Round trips of `roundTrip(queue)` (awaited; one at a time) with a worker running `answer(msg)`. */
async function roundTrips(client, name, samples, answer, roundTrip) {
  await freshQueue(client, name)
  const queue = client.queue(name)
  const stop = new AbortController()
  const worker = consume(stop.signal, (signal) => queue.receive({ signal }), answer)
  const lat = []
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now()
    await roundTrip(queue)
    lat.push(performance.now() - t0)
    await sleep(2)
  }
  stop.abort()
  await worker
  await client.deleteQueue(name)
  lat.sort((a, b) => a - b)
  return [percentile(lat, 0.5), percentile(lat, 0.99)]
}

/** send (tracked) -> its completion resolves, the worker acking without a result. */
async function completion(client, samples) {
  const figures = await roundTrips(
    client,
    'bench-node-completion',
    samples,
    (msg) => msg.ack(),
    async (queue) => (await queue.send(PAYLOAD)).completed(),
  )
  reportStreamErrors('completion')
  return figures
}

const RESULT = { ok: true, id: 123456 }

/** request -> its reply, the worker acking with a small JSON result. */
async function request(client, samples) {
  const figures = await roundTrips(
    client,
    'bench-node-request',
    samples,
    (msg) => msg.ackJson(RESULT),
    (queue) => queue.request(PAYLOAD, { timeoutMs: 30_000 }),
  )
  reportStreamErrors('request')
  return figures
}

function percentile(ordered, p) {
  return ordered[Math.round((ordered.length - 1) * p)]
}

/** The Rust figures of this run: the last rust line per figure. */
function rustFigures() {
  const figures = {}
  if (!existsSync(SUMMARY)) return figures
  for (const line of readFileSync(SUMMARY, 'utf8').split('\n')) {
    let row
    try {
      row = JSON.parse(line)
    } catch {
      continue
    }
    if (row && row.lang === 'rust') figures[row.figure] = Number(row.value)
  }
  return figures
}

async function run(dsn) {
  const figures = []
  const client = await connect(dsn, { poolSize: 16 })
  try {
    await client.migrate()
    if (wanted('send_batch')) {
      const n = scale(100)
      log(`send_batch (${n} x 1000)...`)
      figures.push({ name: 'send_batch', value: await sendBatch(client, n), unit: 'msg/s' })
    }
    if (wanted('receive_ack')) {
      const n = scale(200_000)
      log(`receive_ack (${n} msgs)...`)
      figures.push({ name: 'receive_ack', value: await receiveAck(client, n), unit: 'msg/s' })
    }
    if (wanted('latency')) {
      const n = scale(1_000)
      log(`latency (${n} samples)...`)
      const [p50, p99] = await latency(client, n)
      figures.push({ name: 'latency_p50', value: p50, unit: 'ms' }, { name: 'latency_p99', value: p99, unit: 'ms' })
    }
    for (const [figure, measure] of [['completion', completion], ['request', request]]) {
      if (!wanted(figure)) continue
      const n = scale(1_000)
      log(`${figure} (${n} samples)...`)
      const [p50, p99] = await measure(client, n)
      figures.push({ name: `${figure}_p50`, value: p50, unit: 'ms' }, { name: `${figure}_p99`, value: p99, unit: 'ms' })
    }
  } finally {
    await client.close()
  }
  return figures
}

async function main() {
  const dsn = process.env.DATABASE_URL
  if (!dsn) {
    console.error('set DATABASE_URL (make bench does)')
    process.exit(1)
  }
  const figures = await run(dsn)
  const rust = rustFigures()
  console.log()
  console.log('| figure | pgmq (node) | pgmq (rust), same run | node / rust |')
  console.log('|---|---:|---:|---:|')
  for (const f of figures) {
    const ceiling = rust[f.name]
    let ratio = 'n/a'
    let shown = 'n/a'
    if (ceiling !== undefined) {
      ratio = `${((f.unit === 'ms' ? ceiling / f.value : f.value / ceiling) * 100).toFixed(0)}%`
      shown = `${ceiling.toFixed(2)} ${f.unit}`
    }
    console.log(`| ${f.name} | ${f.value.toFixed(2)} ${f.unit} | ${shown} | ${ratio} |`)
  }
  mkdirSync(dirname(SUMMARY), { recursive: true })
  const rows = figures.map((f) =>
    JSON.stringify({ figure: f.name, lang: 'node', value: f.value, unit: f.unit, ceiling: rust[f.name] ?? null }),
  )
  if (rows.length) appendFileSync(SUMMARY, rows.join('\n') + '\n')
}

await main()
