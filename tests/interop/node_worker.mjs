// Node side of tests/interop: receives COUNT messages from QUEUE with the npm package `pgmq`, acks each
// one, and reports every step as one JSON line on stdout (read by test_interop.py):
//   {"event":"ready"}                          connected; the receive stream is waiting
//   {"event":"received","id",...}              a message: its body as hex and as UTF-8 text, attributes,
//                                              JS types, and `json`: msg.json() when it carries a content-type
//   {"event":"acked","id"}                     its ack resolved
// With --hold, each message is acked only once a line "ack" arrives on stdin (so the test can look at the
// queue, and its pending completion, while the message is held), and the client is closed only once a
// line "close" arrives. Without it the client is closed, and the process exits, right after the last ack.
//   {"event":"done","count"}                   COUNT messages acked, the client closed
// Any failure goes to stderr and exits non-zero.
//
//   DATABASE_URL=postgres://... node tests/interop/node_worker.mjs QUEUE [COUNT] [--hold]
import { createInterface } from 'node:readline'
import { connect, CONTENT_TYPE_ATTRIBUTE } from 'pgmq'

const args = process.argv.slice(2)
const hold = args.includes('--hold')
const [queueName, countArg = '1'] = args.filter((a) => a !== '--hold')
const count = Number(countArg)
if (!queueName || !Number.isInteger(count) || count < 1) {
  console.error('usage: node node_worker.mjs QUEUE [COUNT] [--hold]')
  process.exit(2)
}
const dsn = process.env.DATABASE_URL
if (!dsn) {
  console.error('node_worker: DATABASE_URL is not set')
  process.exit(2)
}

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n')
}

/** typeof, with null told apart from objects. */
function kind(v) {
  return v === null ? 'null' : typeof v
}

// A safety net only (the test bounds every wait itself): never hang a test run. Unref'd, so it does
// not keep the process alive once the work is done.
setTimeout(() => {
  console.error(`node_worker: gave up after 60 s (queue ${queueName})`)
  process.exit(3)
}, 60_000).unref()

// With --hold: the lines of stdin, one per ack allowed.
const stdin = hold ? createInterface({ input: process.stdin }) : null
const commands = stdin === null ? null : stdin[Symbol.asyncIterator]()

/** With --hold: waits for the line `expected` on stdin. */
async function command(expected) {
  if (commands === null) return
  const { done: eof, value: line } = await commands.next()
  if (eof || line.trim() !== expected) {
    throw new Error(`expected "${expected}" on stdin, got ${eof ? 'EOF' : JSON.stringify(line)}`)
  }
}

const client = await connect(dsn)
try {
  const stream = client.queue(queueName).receive()
  // Start waiting before announcing readiness: the message the test sends next wakes this claim.
  let next = stream.next()
  emit({ event: 'ready' })
  let acked = 0
  for (;;) {
    const { done, value: msg } = await next
    if (done) throw new Error('the stream ended before every message arrived')
    emit({
      event: 'received',
      id: msg.id,
      bodyHex: msg.body.toString('hex'),
      text: msg.body.toString('utf8'),
      bodyIsBuffer: Buffer.isBuffer(msg.body),
      attributes: msg.attributes,
      attributeTypes: Object.fromEntries(Object.entries(msg.attributes).map(([k, v]) => [k, kind(v)])),
      deliveryAttempt: msg.deliveryAttempt,
      json: CONTENT_TYPE_ATTRIBUTE in msg.attributes ? msg.json() : undefined,
    })
    await command('ack')
    await msg.ack()
    emit({ event: 'acked', id: msg.id })
    if (++acked >= count) break
    next = stream.next()
  }
  stream.close()
  emit({ event: 'done', count: acked })
  await command('close')
} finally {
  stdin?.close()
  await client.close()
}
