import { test } from 'node:test'
import assert from 'node:assert/strict'
import { client, freshQueue } from './helpers.ts'

test('send, receive, ack, completed', async () => {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const sent = await q.send('{"foo":"bar"}')
  for await (const msg of q.receive()) {
    assert.equal(msg.body.toString(), '{"foo":"bar"}')
    await msg.ack()
    break
  }
  assert.equal(await sent.completed(), 'completed')
})
