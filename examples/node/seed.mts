// The seed example: two idle workers, one message. One worker receives it, works on it for a second and
// acks it; the sender's completion then resolves.
//
//   node --import tsx examples/node/seed.mts      (DATABASE_URL: the database)
//
// Output:
//   sent
//   received
//   done processing
//   acked
//   completed
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from 'pgmq'

await using client = await connect(process.env.DATABASE_URL ?? 'postgres://postgres@localhost/postgres')
await client.migrate()
await client.createQueue('examples-node-seed')
const queue = client.queue('examples-node-seed')

const stop = new AbortController()
async function worker(): Promise<void> {
  for await (const msg of queue.receive({ signal: stop.signal })) {
    console.log('received')
    await sleep(1000)
    console.log('done processing')
    await msg.ack()
    console.log('acked')
  }
}
const workers = [worker(), worker()]

const sent = await queue.send('{"foo":"bar"}')
console.log('sent')
await sent.completed()
console.log('completed')
stop.abort() // ends both loops; the idle one held nothing
await Promise.all(workers)
await client.deleteQueue('examples-node-seed')
