// Every public operation of the core's Client, Queue, Message, Receiver, Completion, SentMessage and Reply has
// its Node counterpart, or a stated reason why not. The core's list is read from its source (every
// `pub fn` / `pub async fn` of those types, but #[doc(hidden)] ones), so a new core operation fails this
// test until it is bound here or its absence is explained in CORE_TO_NODE. docs/parity.md's Node column
// says the same: every name in it exists, and it names each counterpart CORE_TO_NODE gives.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import * as pgmq from 'pgmq'
import { client, freshQueue } from './helpers.ts'

const CORE_SRC = path.join(__dirname, '..', '..', 'core', 'src')
const TYPES = ['Client', 'Queue', 'Message', 'Receiver', 'Completion', 'SentMessage', 'Reply']
const T = { timeout: 30_000 }

/** `Type::fn` of every public method of TYPES in core/src (rustfmt layout: `impl T {` at column 0, methods at 4). */
function coreOperations(): string[] {
  const found: string[] = []
  for (const file of readdirSync(CORE_SRC).filter((f) => f.endsWith('.rs'))) {
    let current: string | null = null
    let hidden = false
    for (const line of readFileSync(path.join(CORE_SRC, file), 'utf8').split('\n')) {
      if (/^\S/.test(line)) {
        // Column 0: an `impl Type {` of one of TYPES starts, anything else (its closing brace) ends one.
        const impl = /^impl(?:<[^>]*>)? (\w+) \{/.exec(line)
        current = impl !== null && TYPES.includes(impl[1]) ? impl[1] : null
        hidden = false
      }
      if (current === null) continue
      if (/^ {4}#\[doc\(hidden\)\]/.test(line)) hidden = true
      const method = /^ {4}pub (?:async )?fn (\w+)/.exec(line)
      if (method !== null) {
        if (!hidden) found.push(`${current}::${method[1]}`)
        hidden = false
      } else if (!/^ {4}(#|\/\/\/)/.test(line)) {
        hidden = false
      }
    }
  }
  return found.sort()
}

/** Where a member lives in Node: a module export, or a member of a class (an instance of it for fields). */
type Node = { export: string } | { member: [NodeClass, string] }
type NodeClass = 'Client' | 'Queue' | 'Message' | 'PeekedMessage' | 'MessageStream' | 'SentMessage' | 'SentBatch' | 'Reply'
type Entry = Node | { notBound: string }

const CORE_TO_NODE: Record<string, Entry> = {
  'Client::connect': { export: 'connect' },
  'Client::connect_with': { export: 'connect' },
  'Client::migrate': { member: ['Client', 'migrate'] },
  'Client::schema_version': { member: ['Client', 'schemaVersion'] },
  'Client::create_queue': { member: ['Client', 'createQueue'] },
  'Client::delete_queue': { member: ['Client', 'deleteQueue'] },
  'Client::queue': { member: ['Client', 'queue'] },
  'Client::list_queues': { member: ['Client', 'listQueues'] },
  'Client::list_queues_with_stats': { member: ['Client', 'listQueuesWithStats'] },
  'Client::redrive': { member: ['Client', 'redrive'] },
  'Client::cancel_group': { member: ['Client', 'cancelGroup'] },
  'Client::wait_for_group': { member: ['Client', 'waitForGroup'] },
  'Client::group_stats': { member: ['Client', 'groupStats'] },
  'Client::close': { member: ['Client', 'close'] },
  'Client::is_closed': { member: ['Client', 'closed'] },
  'Queue::name': { member: ['Queue', 'name'] },
  'Queue::client': { notBound: 'JS code holds the Client it made the queue with' },
  'Queue::send': { member: ['Queue', 'send'] },
  'Queue::send_batch': { member: ['Queue', 'sendBatch'] },
  'Queue::receiver': { member: ['Queue', 'receive'] },
  'Queue::cancel': { member: ['Queue', 'cancel'] },
  'Queue::peek': { member: ['Queue', 'peek'] },
  'Queue::purge': { member: ['Queue', 'purge'] },
  'Queue::stats': { member: ['Queue', 'stats'] },
  'Queue::set_max_messages': { member: ['Queue', 'setMaxMessages'] },
  'Queue::completion': { member: ['Queue', 'waitForCompletion'] },
  'Queue::wait_for_completion': { member: ['Queue', 'waitForCompletion'] },
  'Queue::request': { member: ['Queue', 'request'] }, // also requestJson
  'Queue::cancel_group': { member: ['Queue', 'cancelGroup'] },
  'Queue::wait_for_group': { member: ['Queue', 'waitForGroup'] },
  'Queue::group_stats': { member: ['Queue', 'groupStats'] },
  'Message::id': { member: ['Message', 'id'] },
  'Message::queue': { member: ['Message', 'queue'] },
  'Message::body': { member: ['Message', 'body'] },
  'Message::json': { member: ['Message', 'json'] },
  'Message::take_body': { notBound: 'body is a Buffer handed over without a copy' },
  'Message::attributes': { member: ['Message', 'attributes'] },
  'Message::delivery_attempt': { member: ['Message', 'deliveryAttempt'] },
  'Message::sent_at': { member: ['Message', 'sentAt'] },
  'Message::last_error': { member: ['Message', 'lastError'] },
  'Message::dead_letter_attempts': { member: ['Message', 'deadLetterAttempts'] },
  'Message::lease_token': { member: ['Message', 'leaseToken'] },
  'Message::is_cancelled': { member: ['Message', 'cancelled'] },
  'Message::cancelled': { member: ['Message', 'cancelled'] },
  'Message::is_lease_lost': { member: ['Message', 'leaseLost'] },
  'Message::is_finished': { member: ['Message', 'finished'] },
  'Message::ack': { member: ['Message', 'ack'] },
  'Message::ack_with_result': { member: ['Message', 'ack'] }, // ack(result, { contentType })
  'Message::ack_with_json': { member: ['Message', 'ackJson'] },
  'Message::nack': { member: ['Message', 'nack'] },
  'Message::extend': { member: ['Message', 'extend'] },
  'Receiver::queue': { notBound: 'a MessageStream is made by its Queue' },
  'Receiver::next': { member: ['MessageStream', 'next'] },
  'Receiver::next_batch': { member: ['MessageStream', 'next'] }, // batchSize: one claim, yielded one by one
  'Receiver::close': { member: ['MessageStream', 'close'] },
  'Receiver::is_closed': { member: ['MessageStream', 'closed'] },
  'Completion::ids': { member: ['SentBatch', 'ids'] },
  'Completion::is_tracked': { member: ['SentBatch', 'tracked'] },
  'Completion::with_poll_interval': { notBound: 'Node waits with the core\'s default safety-net interval' },
  'Completion::wait': { member: ['SentBatch', 'completed'] },
  'Completion::wait_replies': { member: ['SentBatch', 'replies'] },
  'SentMessage::id': { member: ['SentMessage', 'id'] },
  'SentMessage::wait': { member: ['SentMessage', 'completed'] },
  'SentMessage::wait_reply': { member: ['SentMessage', 'reply'] },
  'SentMessage::completion': { notBound: 'a Rust borrow: SentMessage has tracked and completed() itself' },
  'SentMessage::into_completion': { notBound: 'a Rust move: SentMessage has tracked and completed() itself' },
  'Reply::outcome': { member: ['Reply', 'outcome'] },
  'Reply::result': { member: ['Reply', 'result'] },
  'Reply::into_result': { notBound: 'result is a Buffer handed over without a copy' },
  'Reply::content_type': { member: ['Reply', 'contentType'] },
  'Reply::reason': { member: ['Reply', 'reason'] },
  'Reply::json': { member: ['Reply', 'json'] },
}

/**
 * Calls `check` with an instance of every Node class, for the members set per instance (Message fields,
 * SentMessage.id, Reply fields), then finishes what it leased.
 */
async function withInstances(check: (instances: Record<NodeClass, object>) => void): Promise<void> {
  await using c = await client()
  const q = c.queue(await freshQueue(c))
  const sent = await q.send('x')
  const batch = await q.sendBatch(['y'])
  const [peeked] = await q.peek({ limit: 1 })
  const stream = q.receive()
  const message = (await stream.next()).value as pgmq.Message
  try {
    await message.ackJson('done') // the message stays a Message for the check
    const reply = await sent.reply()
    check({ Client: c, Queue: q, Message: message, PeekedMessage: peeked, MessageStream: stream, SentMessage: sent, SentBatch: batch, Reply: reply })
  } finally {
    stream.close()
  }
}

/** Whether `name` (an export, `Class.member`, or a member of an exported object such as `sql.send`) exists in Node. */
function exists(name: string, instances: Record<NodeClass, object>): boolean {
  const [owner, member] = name.split('.')
  if (member === undefined) return name in pgmq
  if (!(owner in instances)) {
    const exported = (pgmq as Record<string, unknown>)[owner]
    return typeof exported === 'object' && exported !== null && member in exported
  }
  return member in instances[owner as NodeClass] || member in (pgmq as Record<string, any>)[owner]
}

test('every public core operation has a Node counterpart or a stated reason', T, async () => {
  const operations = coreOperations()
  assert.ok(operations.length > 40, `read only ${operations.length} operations from ${CORE_SRC}`)
  const unmapped = operations.filter((op) => !(op in CORE_TO_NODE))
  assert.deepEqual(unmapped, [], 'core operations without a Node counterpart: bind them, or say why in CORE_TO_NODE')
  const gone = Object.keys(CORE_TO_NODE).filter((op) => !operations.includes(op))
  assert.deepEqual(gone, [], 'CORE_TO_NODE names operations the core no longer has')

  await withInstances((instances) => {
    for (const [op, entry] of Object.entries(CORE_TO_NODE)) {
      if ('export' in entry) assert.ok(entry.export in pgmq, `${op}: pgmq.${entry.export} is missing`)
      if ('member' in entry) assert.ok(exists(entry.member.join('.'), instances), `${op}: ${entry.member.join('.')} is missing`)
    }
  })
})

// ---- docs/parity.md

/** Node's cell of each row of docs/parity.md's operations table: Rust operation -> the Node names (none for `—`). */
function parityColumn(): Map<string, string[]> {
  const text = readFileSync(path.join(__dirname, '..', '..', 'docs', 'parity.md'), 'utf8')
  const table = text.slice(text.indexOf('## Operations'), text.indexOf('## Not part of the API'))
  const rows = table.split('\n').filter((l) => l.startsWith('| `'))
  const cells = (line: string) => line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim())
  const header = cells(table.split('\n').find((l) => l.startsWith('| Rust'))!)
  const node = header.indexOf('Node')
  assert.ok(node > 0, 'docs/parity.md has no Node column')
  return new Map(
    rows.map((row) => {
      const c = cells(row)
      const names = c[node] === '—' ? [] : c[node].split(', ').map((n) => /^`([\w.]+)`$/.exec(n)?.[1] ?? `unparsable: ${n}`)
      return [c[0].replace(/`/g, ''), names]
    }),
  )
}

test('docs/parity.md: every name in the Node column exists, and each row names the counterpart CORE_TO_NODE gives', T, async () => {
  const column = parityColumn()
  assert.ok(column.size > 50, `read only ${column.size} rows of docs/parity.md`)

  await withInstances((instances) => {
    const missing = [...column].flatMap(([op, names]) => names.filter((n) => !exists(n, instances)).map((n) => `${op}: ${n}`))
    assert.deepEqual(missing, [], 'docs/parity.md names Node members that do not exist')
  })
  for (const [op, entry] of Object.entries(CORE_TO_NODE)) {
    const names = column.get(op)
    assert.ok(names !== undefined, `docs/parity.md has no row ${op}`)
    if ('notBound' in entry) assert.deepEqual(names, [], `${op}: Node has none (${entry.notBound}); the docs say ${names}`)
    const name = 'export' in entry ? entry.export : 'member' in entry ? entry.member.join('.') : null
    if (name !== null) assert.ok(names.includes(name), `${op}: docs/parity.md's Node cell should name ${name}, it says ${names}`)
  }
})
