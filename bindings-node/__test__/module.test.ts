// The package loads both ways: `require('pgmq')` (CommonJS) and `import ... from 'pgmq'` (ESM), each in
// a fresh `node` process that connects, sends, receives and acks; and both give the same classes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { promisify } from 'node:util'
import * as pgmq from 'pgmq'
import { client, dsn, freshQueue } from './helpers.ts'

const run = promisify(execFile)
const T = { timeout: 30_000 }

async function roundtrip(fixture: string, expected: string): Promise<void> {
  await using c = await client()
  const name = await freshQueue(c)
  const { stdout } = await run(process.execPath, [path.join(__dirname, 'fixtures-api', fixture), name], {
    env: { ...process.env, DATABASE_URL: dsn() },
    timeout: 20_000,
  })
  assert.equal(stdout.trim(), expected)
  // The child really went through this queue: one tracked message, acked.
  assert.deepEqual(await c.queue(name).stats(), { messages: 0, ready: 0, scheduled: 0, leased: 0, deadLettered: 0 })
}

test('CommonJS: require("pgmq") connects, sends, receives, exits 0', T, async () => {
  await roundtrip('roundtrip.cjs', 'ok cjs')
})

test('ESM: import { connect, Attribute, PgmqError } from "pgmq" connects, sends, receives, exits 0', T, async () => {
  await roundtrip('roundtrip.mjs', 'ok esm')
})

test('require and import give the same objects', async () => {
  const require = createRequire(path.join(__dirname, 'module.test.ts'))
  const cjs = require('pgmq') as typeof pgmq
  const esm = (await import('pgmq')) as typeof pgmq
  assert.equal(cjs.PgmqError, esm.PgmqError)
  assert.equal(cjs.connect, esm.connect)
  assert.equal(cjs.ClientClosedError, esm.ClientClosedError)
  assert.equal(pgmq.PgmqError, cjs.PgmqError)
  // Every export of one is the same value in the other.
  for (const key of Object.keys(cjs) as (keyof typeof pgmq)[]) assert.equal(esm[key], cjs[key], key)
})

test('the package exports the documented names', () => {
  const names = [
    'connect',
    'setLogger',
    'sql',
    'getDlqName',
    'DEFAULTS',
    'ERROR_CODES',
    'Outcome',
    'MessageState',
    'Attribute',
    'Filter',
    'MAX_FILTER_DEPTH',
    'jsonSerializer',
    'CONTENT_TYPE_ATTRIBUTE',
    'JSON_CONTENT_TYPE',
    'Client',
    'Queue',
    'Message',
    'PeekedMessage',
    'MessageStream',
    'SentMessage',
    'SentBatch',
    'Reply',
    'PgmqError',
    'InvalidQueueNameError',
    'InvalidOptionError',
    'QueueNotFoundError',
    'MessageNotFoundError',
    'RequestFailedError',
    'QueueFullError',
    'LeaseLostError',
    'HandleError',
    'SchemaMissingError',
    'SchemaConflictError',
    'ConnectionError',
    'PgmqTimeoutError',
    'DatabaseError',
    'ClientClosedError',
    'InternalError',
  ]
  for (const name of names) assert.ok((pgmq as Record<string, unknown>)[name] !== undefined, name)
  for (const name of names.filter((n) => n.endsWith('Error') && n !== 'PgmqError')) {
    const cls = (pgmq as unknown as Record<string, typeof pgmq.PgmqError>)[name]
    assert.ok(cls.prototype instanceof pgmq.PgmqError, `${name} extends PgmqError`)
  }
  assert.ok(pgmq.PgmqError.prototype instanceof Error)
})
