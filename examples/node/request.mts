// Request/reply over a queue: the caller sends a request and awaits the worker's reply in one call; the
// worker answers by acking with a result, which travels back with the message's outcome (in any
// language: a Python or Kotlin worker answers the same way). A request whose worker gives up
// (dead-lettered, here on its only attempt) fails with RequestFailedError, which carries the outcome; one
// nobody answers in time is cancelled, so no worker takes it late, and fails with PgmqTimeoutError.
//
//   node --import tsx examples/node/request.mts      (DATABASE_URL: the database)
//
// Output:
//   quote for 3 x widget: 29.97 (application/json)
//   unknown item: request_failed dead_lettered
//   nobody answered: timeout; requests left queued: 0
import { connect, PgmqTimeoutError, RequestFailedError } from 'pgmq'

interface QuoteRequest {
  item: string
  quantity: number
}
const PRICES: Record<string, number> = { widget: 9.99, gadget: 24.5 }

const dsn = process.env.DATABASE_URL ?? 'postgres://postgres@localhost/postgres'
await using client = await connect(dsn)
await client.migrate()
await client.createQueue('examples-node-request', { maxDeliveryAttempts: 1 })
await client.createQueue('examples-node-request-idle')
const quotes = client.queue<QuoteRequest>('examples-node-request')

// The worker: prices each request and acks it with the quote as its JSON result.
const stop = new AbortController()
const worker = quotes.process(
  async (msg) => {
    const { item, quantity } = msg.json()
    const price = PRICES[item]
    if (price === undefined) throw new Error(`no price for ${item}`) // a nack: its last attempt, dead-lettered
    await msg.ackJson({ total: Math.round(price * quantity * 100) / 100 })
  },
  { signal: stop.signal },
)

// The caller: one call, one reply.
const reply = await quotes.request({ item: 'widget', quantity: 3 }, { timeoutMs: 5_000 })
console.log(`quote for 3 x widget: ${reply.json<{ total: number }>().total} (${reply.contentType})`)

try {
  await quotes.request({ item: 'sprocket', quantity: 1 }, { timeoutMs: 5_000 })
} catch (err) {
  if (!(err instanceof RequestFailedError)) throw err
  console.log('unknown item:', err.code, err.outcome)
}

// No worker reads this queue: after its timeout the request is cancelled (removed, never delivered).
const idle = client.queue('examples-node-request-idle')
try {
  await idle.request('anyone there?', { timeoutMs: 500 })
} catch (err) {
  if (!(err instanceof PgmqTimeoutError)) throw err
  console.log(`nobody answered: ${err.code}; requests left queued: ${(await idle.stats()).messages}`)
}

stop.abort()
await worker
await client.deleteQueue('examples-node-request')
await client.deleteQueue('examples-node-request-idle')
