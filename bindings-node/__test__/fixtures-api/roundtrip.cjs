'use strict'
// CommonJS: require('pgmq'), send one message to queue argv[2], receive it (filtered), ack, wait for it.
const assert = require('node:assert/strict')
const pgmq = require('pgmq')
const { connect, Attribute, PgmqError, InvalidQueueNameError } = pgmq

async function main() {
  assert.equal(typeof connect, 'function')
  assert.equal(typeof PgmqError, 'function')
  const client = await connect(process.env.DATABASE_URL)
  try {
    await client.migrate()
    assert.throws(() => client.queue('bad name'), (e) => e instanceof InvalidQueueNameError && e instanceof PgmqError)
    const q = client.queue(process.argv[2])
    const sent = await q.send('from cjs', { attributes: { via: 'cjs' } })
    for await (const m of q.receive({ filter: Attribute('via').eq('cjs') })) {
      assert.equal(m.id, sent.id)
      assert.equal(m.body.toString(), 'from cjs')
      await m.ack()
      break
    }
    assert.equal(await sent.completed(), 'completed')
  } finally {
    await client.close()
  }
  process.stdout.write('ok cjs\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
