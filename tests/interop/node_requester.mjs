// Node side of tests/interop's request/reply tests: sends COUNT requests to QUEUE with the npm package
// `pgmq`, one at a time, each the JSON value {"n": i} (i from 0), and waits for each reply (15 s at most),
// reporting each as one JSON line on stdout (read by test_replies_interop.py):
//   {"event":"reply","n","outcome","contentType","result"}   the reply: `result` is its JSON, parsed
//   {"event":"done"}                                         COUNT replies received, the client closed
// Any failure (a request that failed or timed out included) goes to stderr and exits non-zero.
//
//   DATABASE_URL=postgres://... node tests/interop/node_requester.mjs QUEUE COUNT
import { connect } from 'pgmq'

const [queueName, countArg] = process.argv.slice(2)
const count = Number(countArg)
if (!queueName || !Number.isInteger(count) || count < 1) {
  console.error('usage: node node_requester.mjs QUEUE COUNT')
  process.exit(2)
}
const dsn = process.env.DATABASE_URL
if (!dsn) {
  console.error('node_requester: DATABASE_URL is not set')
  process.exit(2)
}

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n')
}

// A safety net only (each request has its own timeout). Unref'd: it never keeps the process alive.
setTimeout(() => {
  console.error(`node_requester: gave up after 60 s (queue ${queueName})`)
  process.exit(3)
}, 60_000).unref()

const client = await connect(dsn)
try {
  const queue = client.queue(queueName)
  for (let n = 0; n < count; n++) {
    const reply = await queue.requestJson({ n }, { timeoutMs: 15_000 })
    emit({ event: 'reply', n, outcome: reply.outcome, contentType: reply.contentType, result: reply.json() })
  }
} finally {
  await client.close()
}
emit({ event: 'done' })
