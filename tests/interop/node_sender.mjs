// Node side of tests/interop: sends one tracked message to QUEUE with the npm package `pgmq` and waits
// for its outcome, reporting each step as one JSON line on stdout (read by test_interop.py):
//   {"event":"sent","id","tracked"}            the send resolved (the message is durable)
//   {"event":"completed","id","outcome"}       sent.completed() resolved
// With --exit-after-send it closes the client and exits right after the send, without waiting. With --json
// the body argument is JSON text, whose value is sent (serialized by the package, labelled content-type);
// with --text it is sent as a JS string (its UTF-8 text, unlabelled). Any failure goes to stderr and exits
// non-zero.
//
//   DATABASE_URL=postgres://... node tests/interop/node_sender.mjs QUEUE [BODY_HEX [ATTRIBUTES_JSON]] [--exit-after-send]
//   DATABASE_URL=postgres://... node tests/interop/node_sender.mjs QUEUE JSON_TEXT --json
//   DATABASE_URL=postgres://... node tests/interop/node_sender.mjs QUEUE TEXT --text
// The body defaults to the UTF-8 text "hello from node"; attributes to none.
import { connect } from 'pgmq'

const args = process.argv.slice(2)
const exitAfterSend = args.includes('--exit-after-send')
const asJson = args.includes('--json')
const asText = args.includes('--text')
const [queueName, bodyHex, attributesJson] = args.filter((a) => !['--exit-after-send', '--json', '--text'].includes(a))
if (!queueName) {
  console.error('usage: node node_sender.mjs QUEUE [BODY_HEX [ATTRIBUTES_JSON]] [--exit-after-send]')
  process.exit(2)
}
const dsn = process.env.DATABASE_URL
if (!dsn) {
  console.error('node_sender: DATABASE_URL is not set')
  process.exit(2)
}

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n')
}

// A safety net only (the test bounds every wait itself). Unref'd: it never keeps the process alive.
setTimeout(() => {
  console.error(`node_sender: gave up after 60 s (queue ${queueName})`)
  process.exit(3)
}, 60_000).unref()

const body =
  bodyHex === undefined ? 'hello from node' : asJson ? JSON.parse(bodyHex) : asText ? bodyHex : Buffer.from(bodyHex, 'hex')
const options = attributesJson === undefined ? {} : { attributes: JSON.parse(attributesJson) }

const client = await connect(dsn)
try {
  const sent = await client.queue(queueName).send(body, options)
  emit({ event: 'sent', id: sent.id, tracked: sent.tracked })
  if (!exitAfterSend) {
    const outcome = await sent.completed()
    emit({ event: 'completed', id: sent.id, outcome })
  }
} finally {
  await client.close()
}
