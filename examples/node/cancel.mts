// Cancellation: guaranteed while a message is queued, best effort once a worker holds it. A queued or
// scheduled message that is cancelled is removed and never delivered. A message being processed is
// signalled instead: `msg.cancelled` (an AbortSignal) aborts, its ack does nothing, and it is never
// redelivered. Either way the outcome is 'cancelled'.
//
//   node --import tsx examples/node/cancel.mts      (DATABASE_URL: the database)
//
// Output:
//   scheduled message: cancelled
//   working on a long job
//   the worker saw the cancel: cancelled
//   long job: cancelled
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, PgmqError } from 'pgmq'

await using client = await connect(process.env.DATABASE_URL ?? 'postgres://postgres@localhost/postgres')
await client.migrate()
await client.createQueue('examples-node-cancel')
const queue = client.queue('examples-node-cancel')

// 1. Queued (here: scheduled for tomorrow): removed, never delivered.
const tomorrow = await queue.send('reminder', { delayMs: 24 * 60 * 60_000 })
await queue.cancel([tomorrow.id])
console.log('scheduled message:', await tomorrow.completed())

// 2. Being processed: the worker is signalled through msg.cancelled.
const job = await queue.send('a long job')
for await (const msg of queue.receive()) {
  console.log('working on', msg.body.toString())
  const work = sleep(60_000, undefined, { signal: msg.cancelled }) // pass the signal to what you call
  // Here the cancel comes from the same process; usually from another one. Not awaited before `work`
  // is: the signal may abort `work` while the cancel is still returning.
  const cancelling = queue.cancel([msg.id])
  try {
    await work
  } catch {
    const reason = msg.cancelled.reason as PgmqError
    console.log('the worker saw the cancel:', reason.code)
  }
  await cancelling
  await msg.ack() // does nothing: the message is cancelled
  break
}
console.log('long job:', await job.completed())
await client.deleteQueue('examples-node-cancel')
