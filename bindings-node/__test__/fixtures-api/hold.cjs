'use strict'
// Receives one message from queue argv[2], prints its id and holds it (heartbeats running) until killed.
const { connect } = require('pgmq')

async function main() {
  const client = await connect(process.env.DATABASE_URL)
  const stream = client.queue(process.argv[2]).receive()
  const { value } = await stream.next()
  process.stdout.write(`${value.id}\n`)
  globalThis.held = value
  setInterval(() => {}, 60_000)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
