// A worker with retries and a dead-letter queue. `queue.process()` runs a handler per message with
// bounded concurrency: resolving acks the message, throwing nacks it with the error's text. A nacked
// message comes back; after `maxDeliveryAttempts` (2 here) it moves, whole, to the dead-letter queue
// `dlq@<name>`, which is read like any other queue.
//
//   node --import tsx examples/node/worker.mts      (DATABASE_URL: the database)
//
// Output:
//   outcomes: completed, completed, dead_lettered
//   dead letter: fail, after 2 attempts, last error: Error: cannot do this one
import { connect, getDlqName, type Message } from 'pgmq'

await using client = await connect(process.env.DATABASE_URL ?? 'postgres://postgres@localhost/postgres')
await client.migrate()
await client.createQueue('examples-node-worker', { maxDeliveryAttempts: 2 })
const queue = client.queue('examples-node-worker')

// One statement for the whole batch; each message a body, or a body with attributes.
const batch = await queue.sendBatch(['resize 1', { body: 'resize 2', attributes: { priority: 5 } }, 'fail'])

const stop = new AbortController()
const worker = queue.process(
  async (msg: Message) => {
    if (msg.body.toString() === 'fail') throw new Error('cannot do this one') // nack: retried, then dead-lettered
  },
  { concurrency: 8, signal: stop.signal },
)
const outcomes = await batch.completed() // { <id>: 'completed', <id>: 'completed', <id>: 'dead_lettered' }
console.log('outcomes:', Object.values(outcomes).sort().join(', '))
stop.abort()
await worker // resolves once the running handlers have finished

for await (const dead of client.queue(getDlqName('examples-node-worker')).receive()) {
  const lastError = dead.lastError?.split('\n')[0]
  console.log(`dead letter: ${dead.body}, after ${dead.deadLetterAttempts} attempts, last error: ${lastError}`)
  await dead.ack()
  break
}
await client.deleteQueue('examples-node-worker')
