// pgmq (this repository's npm package) as a contender of the peer benchmark harness
// (../shared/bench-peers: procrastinate, graphile-worker, pg-boss and Tembo's PGMQ on one workload).
//
// It follows the harness's contract (bench-peers/README.md): sub-commands `info`, `setup`,
// `enqueue --n N --batch B`, `process --n N --concurrency C` and `latency --k K --concurrency C --gap-ms G`,
// the database in $BENCH_DSN, one JSON line on stdout. `import 'pgmq'` resolves to the repository root
// package (self-reference through package.json "exports"), so build the addon first (`make node`). Runs
// on Node 18.18+ (the addon is N-API, so the harness's Node 22 loads it too).
//
// The library is used as its README shows, with its defaults (`connect(dsn)`: a pool of 10 connections
// plus one LISTEN connection; queue `bench` with the default options; sends tracked, so every send also
// writes the outcome record a sender can wait on):
// - enqueue: `await queue.send(body)` per job, sequentially; bulk: `await queue.sendBatch(bodies)`, one
//   statement per call.
// - process: `queue.process(handler, { concurrency: C })`: at most C handlers run at once; a claim leases up
//   to the free capacity in one statement; a message frees its slot when its ack is handed to the library,
//   which commits the acks of one event-loop turn together in the background (the library's own batching).
//   Every handler runs (it decodes the JSON payload) and every message is acked.
// - latency: the same worker, idle; t0 before `await queue.send(body)`, t1 at the start of the handler.
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { createRequire } from 'node:module'
import { connect } from 'pgmq'

const DSN = process.env.BENCH_DSN
const Q = 'bench'
const [cmd, ...rest] = process.argv.slice(2)
const { values: o } = parseArgs({
  args: rest,
  options: {
    n: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '10' },
    k: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '5' },
    'gap-ms': { type: 'string', default: '20' },
  },
})
const n = +o.n, batch = +o.batch, conc = +o.concurrency, k = +o.k, warmup = +o.warmup, gap = +o['gap-ms']
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const body = (i) => Buffer.from(JSON.stringify({ i }))

async function withQueue(fn) {
  if (!DSN) throw new Error('BENCH_DSN is not set (the harness sets it)')
  const client = await connect(DSN)
  try {
    return await fn(client.queue(Q), client)
  } finally {
    await client.close()
  }
}

async function setup() {
  return withQueue(async (_queue, client) => {
    await client.migrate()
    await client.createQueue(Q)
    return { ok: true }
  })
}

async function enqueue() {
  return withQueue(async (queue) => {
    const t0 = performance.now()
    if (batch <= 1) {
      for (let i = 0; i < n; i++) await queue.send(body(i))
    } else {
      for (let s = 0; s < n; s += batch) {
        const bodies = []
        for (let j = s; j < Math.min(n, s + batch); j++) bodies.push(body(j))
        await queue.sendBatch(bodies)
      }
    }
    return { n, seconds: (performance.now() - t0) / 1000, api: batch <= 1 ? 'send' : 'sendBatch' }
  })
}

async function processJobs() {
  return withQueue(async (queue) => {
    let count = 0, resolveDone
    const done = new Promise((r) => (resolveDone = r))
    const stop = new AbortController()
    const t0 = performance.now()
    const worker = queue.process(async (msg) => {
      JSON.parse(msg.body) // the job's payload, as the peers' handlers get it
      if (++count === n) resolveDone()
    }, { concurrency: conc, signal: stop.signal })
    await done
    const seconds = (performance.now() - t0) / 1000
    stop.abort()
    await worker
    return { n, seconds, concurrency: conc }
  })
}

async function latency() {
  return withQueue(async (queue) => {
    const waiting = new Map()
    const stop = new AbortController()
    const worker = queue.process(async (msg) => {
      const t = performance.now()
      const i = JSON.parse(msg.body).i
      const resolve = waiting.get(i)
      if (resolve) { waiting.delete(i); resolve(t) }
    }, { concurrency: conc, signal: stop.signal })
    await sleep(500)
    const samples = []
    for (let i = 0; i < k + warmup; i++) {
      const started = new Promise((r) => waiting.set(i, r))
      const t0 = performance.now()
      await queue.send(body(i))
      let timer
      const t1 = await Promise.race([started, new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`sample ${i}: no handler start within 30 s`)), 30000)
      })])
      clearTimeout(timer)
      if (i >= warmup) samples.push(t1 - t0)
      await sleep(gap)
    }
    stop.abort()
    await worker
    return { samples_ms: samples }
  })
}

function info() {
  const require = createRequire(import.meta.url)
  const version = require('pgmq/package.json').version
  return {
    name: 'pgmq (this repo, Node)', version, driver: `Rust core (tokio-postgres) via napi-rs, node ${process.version}`,
    notes: 'connect(dsn) defaults (pool of 10 + 1 LISTEN connection); send() per job / sendBatch(1000 bodies) ' +
      'per call, tracked (default); process: queue.process(handler, { concurrency: ' + conc + ' }) (at most ' +
      'C handlers at once; a claim takes up to the free capacity in one statement; a message frees its slot ' +
      'when its ack is handed over, and the acks of one event-loop turn commit together in the background); ' +
      'latency: same worker idle on LISTEN/NOTIFY',
  }
}

const cmds = { info, setup, enqueue, process: processJobs, latency }
try {
  if (!cmds[cmd]) throw new Error(`unknown sub-command ${cmd}: info, setup, enqueue, process, latency`)
  const out = await cmds[cmd]()
  console.log(JSON.stringify(out))
  process.exit(0)
} catch (e) {
  console.error(e)
  process.exit(1)
}
