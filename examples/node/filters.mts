// Attributes, filters and scheduled messages. Attributes are flat JSON scalars sent with a message; a
// receiver with a filter is only given the messages whose attributes match. A message sent with
// `delayMs` (or `scheduleAt`) waits in the table and is never delivered early.
//
//   node --import tsx examples/node/filters.mts      (DATABASE_URL: the database)
//
// Output:
//   urgent: page the on-call engineer { kind: 'alert', priority: 9 }
//   left: 3 messages, 2 ready, 1 scheduled
//   cancelled 3
import { connect, Attribute } from 'pgmq'

await using client = await connect(process.env.DATABASE_URL ?? 'postgres://postgres@localhost/postgres')
await client.migrate()
await client.createQueue('examples-node-filters')
const queue = client.queue('examples-node-filters')

const sent = await queue.sendBatch([
  { body: 'disk at 81%', attributes: { kind: 'alert', priority: 3 } },
  { body: 'page the on-call engineer', attributes: { kind: 'alert', priority: 9 } },
  { body: 'weekly report', attributes: { kind: 'report' } },
])
const later = await queue.send('monthly report', { delayMs: 60 * 60_000 })

// Only alerts of priority 5 or more; combine conditions with .and() and .or().
const urgent = Attribute('kind').eq('alert').and(Attribute('priority').ge(5))
for await (const msg of queue.receive({ filter: urgent })) {
  console.log('urgent:', msg.body.toString(), msg.attributes)
  await msg.ack()
  break
}

const stats = await queue.stats()
console.log(`left: ${stats.messages} messages, ${stats.ready} ready, ${stats.scheduled} scheduled`)
const cancelled = await queue.cancel([...sent.ids, later.id]) // the acked one is no longer there
console.log('cancelled', cancelled.length)
await client.deleteQueue('examples-node-filters')
