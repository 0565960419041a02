// Process lifetime: Node scripts using the client exit on their own (code 0, within 10 s) — closed or
// not, with a logger, after a break, an abort, a close during a wait, the cancellation watch, and
// `await using`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { client, freshQueue, until } from './helpers.ts'

const FIXTURES = join(__dirname, 'fixtures')
const LIMIT_MS = 10_000

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

/** Runs `node [nodeArgs] <fixture> [args]`; rejects if it has not exited after LIMIT_MS (it is then killed). */
function runNode(nodeArgs: string[], fixture: string, args: string[]): Promise<Exit> {
  const started = Date.now()
  const child = spawn(process.execPath, [...nodeArgs, join(FIXTURES, fixture), ...args], {
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  return new Promise<Exit>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${fixture} ${args.join(' ')} did not exit within ${LIMIT_MS} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, LIMIT_MS)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started })
    })
  })
}

/** Runs a scenario of fixtures/lifecycle.mjs and checks it exited by itself with code 0; returns its stdout lines. */
async function scenario(name: string, queue: string, ...extra: string[]): Promise<string[]> {
  const r = await runNode([], 'lifecycle.mjs', [name, queue, ...extra])
  assert.equal(r.signal, null)
  assert.equal(r.code, 0, `exit code ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  assert.ok(r.ms < LIMIT_MS, `took ${r.ms} ms`)
  return r.stdout.trim().split('\n')
}

test('a script that sends, receives, acks and closes the client exits promptly', { timeout: 30_000 }, async () => {
  await using c = await client()
  const name = await freshQueue(c)
  const lines = await scenario('close-after-ack', name)
  assert.deepEqual(lines, ['acked', 'outcome completed', 'closed true'])
  assert.equal((await c.queue(name).stats()).messages, 0)
})

test('a script that sends and never closes the client exits on its own with code 0', { timeout: 30_000 }, async () => {
  await using c = await client()
  const name = await freshQueue(c)
  const lines = await scenario('never-close', name)
  assert.match(lines[0], /^sent [0-9a-f-]{36}$/)
  assert.equal(lines.length, 1)
  const s = await c.queue(name).stats()
  assert.equal(s.messages, 1, 'the message was sent (durable) before the script ended')
  assert.equal(s.ready, 1)
})

test('a script that sets a logger of every level and never closes its client exits on its own', { timeout: 30_000 }, async () => {
  await using c = await client()
  const name = await freshQueue(c)
  const lines = await scenario('logger-never-close', name)
  assert.match(lines[0], /^sent [0-9a-f-]{36}$/)
  assert.equal(lines.length, 1)
})

test('a script whose for-await loop breaks, then closes the client, exits; its leases are released', { timeout: 30_000 }, async () => {
  await using c = await client()
  const name = await freshQueue(c)
  const lines = await scenario('break-then-close', name)
  assert.deepEqual(lines, ['broke after 1', 'closed'])
  const q = c.queue(name)
  await until(async () => (await q.stats()).leased === 0, 3000, 'leased === 0 after the script ended')
  assert.equal((await q.stats()).ready, 5)
})

test('a script whose waiting loop is ended by its AbortSignal exits (client never closed)', { timeout: 30_000 }, async () => {
  await using c = await client()
  const name = await freshQueue(c)
  const lines = await scenario('abort-while-waiting', name)
  assert.deepEqual(lines, ['loop ended after 1'])
  assert.equal((await c.queue(name).stats()).messages, 0)
})

test('client.close() while a for-await loop waits ends the loop quietly and the script exits', { timeout: 30_000 }, async () => {
  await using c = await client()
  const name = await freshQueue(c)
  const lines = await scenario('close-while-waiting', name)
  assert.deepEqual(lines, ['loop ended after 1', 'closed true'])
})

test('a script whose process() is ended by its AbortSignal exits (client never closed)', { timeout: 30_000 }, async () => {
  await using c = await client()
  const name = await freshQueue(c)
  const lines = await scenario('process-aborted', name)
  assert.deepEqual(lines, ['processed 3'])
  const q = c.queue(name)
  await until(async () => (await q.stats()).messages === 0, 3000, 'the three messages acked')
})

test('a script that read msg.cancelled (the watch) and acked exits promptly, client closed or not', { timeout: 30_000 }, async () => {
  await using c = await client()
  const name = await freshQueue(c)
  assert.deepEqual(await scenario('watch-then-ack', name), ['acked true aborted false'])
  assert.deepEqual(await scenario('watch-then-ack', name, 'close'), ['acked true aborted false', 'closed'])
  assert.equal((await c.queue(name).stats()).messages, 0)
})

test('`await using client = await connect(...)` closes the client at the end of the scope', { timeout: 30_000 }, async () => {
  await using c = await client()
  const name = await freshQueue(c)
  const r = await runNode(['--import', 'tsx'], 'await-using.ts', [name])
  assert.equal(r.code, 0, `exit code ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  assert.ok(r.ms < LIMIT_MS, `took ${r.ms} ms`)
  assert.deepEqual(r.stdout.trim().split('\n'), ['outcome completed', 'closed inside false', 'closed after true'])
})
