// Waiting for completion: by the sender, or later by anyone who knows the ids. A tracked send (the
// default) records each message's outcome durably, so a waiter that starts late, or in another process,
// still learns it. `track: false` skips the record (fire and forget); waiting on such a send rejects with
// a HandleError, code 'not_tracked'.
//
//   node --import tsx examples/node/completion.mts      (DATABASE_URL: the database)
//
// Output:
//   sent 2 messages
//   processed invoice 1
//   processed invoice 2
//   outcomes, read by id: completed, completed
//   fire and forget: not_tracked
import { connect, HandleError } from 'pgmq'

const dsn = process.env.DATABASE_URL ?? 'postgres://postgres@localhost/postgres'
await using client = await connect(dsn)
await client.migrate()
await client.createQueue('examples-node-completion')
const queue = client.queue('examples-node-completion')

const sent = await queue.sendBatch(['invoice 1', 'invoice 2'])
const ids = sent.ids // store them, pass them on, wait for them anywhere
console.log('sent', ids.length, 'messages')

let processed = 0
for await (const msg of queue.receive()) {
  console.log('processed', msg.body.toString())
  await msg.ack()
  if (++processed === ids.length) break
}

// Another client (say, another process) waits for the same ids, after the fact.
await using other = await connect(dsn)
const outcomes = await other.queue('examples-node-completion').waitForCompletion(ids)
console.log('outcomes, read by id:', ids.map((id) => outcomes[id]).join(', '))

const untracked = await queue.send('metrics sample', { track: false })
try {
  await untracked.completed()
} catch (e) {
  if (e instanceof HandleError) console.log('fire and forget:', e.code)
}
await client.deleteQueue('examples-node-completion')
