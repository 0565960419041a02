// ESM: import from 'pgmq', send one message to queue argv[2], receive it (filtered), ack, wait for it;
// and the classes are the very ones `require('pgmq')` gives.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { connect, Attribute, PgmqError, InvalidQueueNameError } from 'pgmq'
import pgmqDefault from 'pgmq'

const require = createRequire(import.meta.url)
const cjs = require('pgmq')
assert.equal(cjs.PgmqError, PgmqError)
assert.equal(cjs.PgmqError, (await import('pgmq')).PgmqError)
assert.equal(cjs.connect, connect)
assert.equal(cjs.Attribute, Attribute)
assert.equal(pgmqDefault, cjs)

const client = await connect(process.env.DATABASE_URL)
try {
  await client.migrate()
  assert.throws(
    () => client.queue('bad name'),
    (e) => e instanceof InvalidQueueNameError && e instanceof cjs.InvalidQueueNameError && e instanceof PgmqError,
  )
  const q = client.queue(process.argv[2])
  const sent = await q.send('from esm', { attributes: { via: 'esm' } })
  for await (const m of q.receive({ filter: Attribute('via').eq('esm') })) {
    assert.equal(m.id, sent.id)
    assert.equal(m.body.toString(), 'from esm')
    await m.ack()
    break
  }
  assert.equal(await sent.completed(), 'completed')
} finally {
  await client.close()
}
process.stdout.write('ok esm\n')
