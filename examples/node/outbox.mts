// The transactional send (the outbox): a message sent in the application's own node-postgres transaction
// is written with the application's rows and sent when they commit, or not at all. `sql.send(...)` is the
// query; `sql.execute(db, query)` runs it on the transaction's connection and returns the message id,
// whose outcome any pgmq client can then wait for. Receivers are woken at commit, once per transaction.
//
//   node --import tsx examples/node/outbox.mts      (DATABASE_URL: the database)
//
// Output:
//   rolled back: 0 orders, 0 messages
//   committed order 7 with its message
//   received {"order": 7, "total": 12.5} application/json
//   outcome, read by id: completed
import pg from 'pg'
import { connect, sql } from 'pgmq'

const dsn = process.env.DATABASE_URL ?? 'postgres://postgres@localhost/postgres'
await using client = await connect(dsn)
await client.migrate()
await client.createQueue('examples-node-outbox')
const queue = client.queue('examples-node-outbox')

const db = new pg.Client({ connectionString: dsn })
await db.connect()
await db.query('CREATE TEMP TABLE orders (id int PRIMARY KEY, total numeric)')

/** Stores an order and the message announcing it, in one transaction. */
async function placeOrder(id: number, total: number, fail: boolean): Promise<string> {
  await db.query('BEGIN')
  try {
    await db.query('INSERT INTO orders VALUES ($1, $2)', [id, total])
    const messageId = await sql.execute(db, sql.sendJson('examples-node-outbox', { order: id, total }))
    if (fail) throw new Error('payment declined')
    await db.query('COMMIT')
    return messageId
  } catch (err) {
    await db.query('ROLLBACK') // the order and its message go together
    throw err
  }
}

await placeOrder(6, 99, true).catch(() => {})
const orders = await db.query('SELECT count(*)::int AS n FROM orders')
console.log(`rolled back: ${orders.rows[0].n} orders, ${(await queue.stats()).messages} messages`)

const id = await placeOrder(7, 12.5, false)
console.log('committed order 7 with its message')

for await (const msg of queue.receive()) {
  console.log('received', msg.body.toString(), msg.attributes['content-type'])
  await msg.ack()
  break
}
const outcomes = await queue.waitForCompletion([id])
console.log('outcome, read by id:', outcomes[id])

await db.end()
await client.deleteQueue('examples-node-outbox')
