// Node side of tests/interop/test_dependencies_interop.py: the middle of a diamond. Sends B and C to
// QUEUE2, both depending on A (a message Python sent to QUEUE1), and D to QUEUE1 depending on B and C;
// then works QUEUE2: acks B and C, or with MODE `fail-b` nacks B (the queue allows one attempt, so it is
// dead-lettered) and acks C. Reports each step as one JSON line on stdout:
//   {"event":"sent","b","c","d"}         the three sends returned
//   {"event":"ready"}                    the receive stream is waiting on QUEUE2
//   {"event":"finished","id","how"}      a message of QUEUE2 acked ("ack") or nacked ("nack")
//   {"event":"done"}                     both finished, the client closed
// Any failure goes to stderr and exits non-zero.
//
//   DATABASE_URL=postgres://... node tests/interop/node_diamond.mjs QUEUE1 QUEUE2 A_ID ok|fail-b
import { connect } from 'pgmq'

const [queue1, queue2, a, mode] = process.argv.slice(2)
if (!queue1 || !queue2 || !a || !['ok', 'fail-b'].includes(mode)) {
  console.error('usage: node node_diamond.mjs QUEUE1 QUEUE2 A_ID ok|fail-b')
  process.exit(2)
}
const dsn = process.env.DATABASE_URL
if (!dsn) {
  console.error('node_diamond: DATABASE_URL is not set')
  process.exit(2)
}

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n')
}

// A safety net only (the test bounds every wait itself). Unref'd: it does not keep the process alive.
setTimeout(() => {
  console.error(`node_diamond: gave up after 60 s (queues ${queue1}, ${queue2})`)
  process.exit(3)
}, 60_000).unref()

const client = await connect(dsn)
try {
  const middle = await client.queue(queue2).sendBatch(['B', 'C'], { dependsOn: [a] })
  const [b, c] = middle.ids
  const d = await client.queue(queue1).send('D', { dependsOn: [b, c] })
  emit({ event: 'sent', b, c, d: d.id })
  const stream = client.queue(queue2).receive()
  let next = stream.next()
  emit({ event: 'ready' })
  for (let finished = 0; finished < 2; finished++) {
    const { done, value: msg } = await next
    if (done) throw new Error('the stream ended before B and C arrived')
    if (mode === 'fail-b' && msg.id === b) {
      await msg.nack({ error: 'B failed' })
      emit({ event: 'finished', id: msg.id, how: 'nack' })
    } else {
      await msg.ack()
      emit({ event: 'finished', id: msg.id, how: 'ack' })
    }
    if (finished < 1) next = stream.next()
  }
  stream.close()
} finally {
  await client.close()
}
emit({ event: 'done' })
