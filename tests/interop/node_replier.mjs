// Node side of tests/interop's request/reply tests: answers COUNT requests on QUEUE with the npm package
// `pgmq`, each with a JSON result, and reports every step as one JSON line on stdout (read by
// test_replies_interop.py):
//   {"event":"ready"}                          connected; the receive stream is waiting
//   {"event":"replied","id"}                   a request {"n": <int>} acked with the JSON result
//                                              {"n": n, "doubled": 2 * n, "lang": "node"}
//   {"event":"done"}                           COUNT requests answered, the client closed
// Any failure goes to stderr and exits non-zero.
//
//   DATABASE_URL=postgres://... node tests/interop/node_replier.mjs QUEUE COUNT
import { connect } from 'pgmq'

const [queueName, countArg] = process.argv.slice(2)
const count = Number(countArg)
if (!queueName || !Number.isInteger(count) || count < 1) {
  console.error('usage: node node_replier.mjs QUEUE COUNT')
  process.exit(2)
}
const dsn = process.env.DATABASE_URL
if (!dsn) {
  console.error('node_replier: DATABASE_URL is not set')
  process.exit(2)
}

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n')
}

// A safety net only (the test bounds every wait itself): never hang a test run. Unref'd, so it does
// not keep the process alive once the work is done.
setTimeout(() => {
  console.error(`node_replier: gave up after 60 s (queue ${queueName})`)
  process.exit(3)
}, 60_000).unref()

const client = await connect(dsn)
try {
  const stream = client.queue(queueName).receive()
  // Start waiting before announcing readiness: the request the test sends next wakes this claim.
  let next = stream.next()
  emit({ event: 'ready' })
  for (let replied = 0; ; ) {
    const { done, value: msg } = await next
    if (done) throw new Error('the stream ended before every request arrived')
    const { n } = msg.json()
    if (!Number.isInteger(n)) throw new Error(`request ${msg.id}: expected {"n": <int>}, got ${msg.body.toString()}`)
    await msg.ackJson({ n, doubled: 2 * n, lang: 'node' })
    emit({ event: 'replied', id: msg.id })
    if (++replied >= count) break
    next = stream.next()
  }
  stream.close()
} finally {
  await client.close()
}
emit({ event: 'done' })
